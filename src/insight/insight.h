/*
 * The insight layer: what operators read of the journeys. The funnel
 * report (report.c), as text or a self-contained HTML page, the
 * Prometheus metrics written after every tick (metrics.c), and a
 * subject's document (subject.c).
 */
#ifndef JD_INSIGHT_H
#define JD_INSIGHT_H

#include "delivery/delivery.h"

/* metrics.c: Prometheus text-format metrics, after every tick. */
int		 metrics_write(sqlite3 *, const struct config *, int64_t now,
		    const struct tick_stats *);
void		 metrics_print(FILE *, sqlite3 *, const struct config *,
		    int64_t now);
/* The HTTP API's ingest counts; buckets[i] counts the transactions that
 * took at most the i-th bound and more than the one before. */
#define INGEST_BUCKETS	12
struct ingest_metrics {
	unsigned long long	 accepted;
	unsigned long long	 rejected;
	unsigned long long	 duplicate;
	unsigned long long	 buckets[INGEST_BUCKETS];
	unsigned long long	 commits;
	double			 commit_seconds;
};
void		 metrics_ingest_commit(struct ingest_metrics *, double seconds);
void		 metrics_print_ingest(FILE *, const struct ingest_metrics *);

/* subject.c: a subject's document, as `show --json` prints it. */
char		*subject_json(sqlite3 *, int64_t sid);

/* report.c: the funnel of every journey, as text and as an HTML page. */
int		 report_run(const struct config *, sqlite3 *, int64_t now,
		    const char *html_path, FILE *out);
void		 report_write(const struct config *, sqlite3 *, int64_t now,
		    FILE *text, FILE *html);

#endif /* JD_INSIGHT_H */
