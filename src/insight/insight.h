/*
 * The insight layer: what operators read of the journeys. The funnel
 * report (report.c), as text or a self-contained HTML page, and the
 * Prometheus metrics written after every tick (metrics.c).
 */
#ifndef JD_INSIGHT_H
#define JD_INSIGHT_H

#include "delivery/delivery.h"

/* metrics.c: Prometheus text-format metrics, after every tick. */
int		 metrics_write(sqlite3 *, const struct config *, int64_t now,
		    const struct tick_stats *);

/* report.c: the funnel of every journey, as text and as an HTML page. */
int		 report_run(const struct config *, sqlite3 *, int64_t now,
		    const char *html_path, FILE *out);

#endif /* JD_INSIGHT_H */
