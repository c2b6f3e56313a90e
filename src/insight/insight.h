/*
 * The insight layer: what operators read of the journeys. The report
 * (report.c), computed once and rendered as text (report-text.c) or as a
 * self-contained HTML page (report-html.c), with the statistics of its
 * experiments (stats.c); the Prometheus metrics (metrics.c), written
 * after every tick or printed on demand; and a subject's document, as
 * show --json prints it (subject.c).
 */
#ifndef JD_INSIGHT_H
#define JD_INSIGHT_H

#include "delivery/delivery.h"

/*
 * metrics.c: Prometheus text-format metrics. metrics_write counts a tick
 * and writes them to metrics_file (when set); metrics_print prints them to
 * any stream (GET /metrics), safe to call from another thread than the
 * one that ticks, with its own connection. Both 0, or -1 (metrics_print
 * with err).
 */
int		 metrics_write(sqlite3 *, const struct config *, int64_t now,
		    const struct tick_stats *);
int		 metrics_print(FILE *, sqlite3 *, const struct config *,
		    int64_t now, char *err, size_t errlen);
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
int64_t		 subject_pruned_until(sqlite3 *, int64_t sid);

/*
 * report.c: the funnel of every journey and its experiments. report_run
 * is journeyctl report: the text to out, and the HTML page to html_path
 * when set ("-": the page to out instead of the text); errors to stderr.
 * report_text and report_html render to any stream (report_html: GET
 * /report), 0 or -1 with err; they never exit.
 */
int		 report_run(const struct config *, sqlite3 *, int64_t now,
		    const char *html_path, FILE *out);
int		 report_text(const struct config *, sqlite3 *, int64_t now,
		    FILE *, char *err, size_t errlen);
int		 report_html(const struct config *, sqlite3 *, int64_t now,
		    FILE *, char *err, size_t errlen);

#endif /* JD_INSIGHT_H */
