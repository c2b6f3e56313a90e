/*
 * Prometheus metrics in the text exposition format, written after every tick
 * to `metrics_file` for node_exporter's textfile collector: written to a
 * temporary file in the same folder (a name the collector ignores, as it
 * reads only *.prom) and renamed over the old one, so a reader never sees
 * half a file.
 *
 * metrics_print prints the same to any stream (the HTTP server's GET
 * /metrics, from its own thread and connection): what it reads of this
 * process (ticks, the last tick's duration) is kept under a mutex, and an
 * error is returned, never fatal.
 *
 * journeyd_ticks_total counts the ticks of this process; the action counts
 * and gauges are read from the database, so they are right whichever
 * process (daemon, --once run) wrote the file last. actions_total is read
 * from the counters of outbox_tally (store.c), kept in the transaction of
 * each outcome: a few rows, whatever the size of the outbox (bench/metrics:
 * 0.5 s at 1M actions before, when it counted the outbox). A counter, it
 * never goes down: an action retried out of dead that then ends counts
 * again, under its new outcome.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "insight/insight.h"

/* The ticks of this process and how long the last took: written by the
 * main loop, read by the HTTP API's threads too. */
static pthread_mutex_t		 metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long long	 metrics_ticks;
static double			 metrics_tick_seconds;

/* Put SQLite's message in err; -1. */
static int
metrics_sql_error(sqlite3 *db, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", sqlite3_db_filename(db, "main"),
	    sqlite3_errmsg(db));
	return -1;
}

/* The upper bounds of journeyd_ingest_commit_seconds's buckets. */
static const double	 metrics_commit_bounds[INGEST_BUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5
};

/* Write a label value with \, " and newline escaped. */
static void
metrics_label(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* The HELP and TYPE lines of a metric. */
static void
metrics_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A journeyd_subjects sample. */
struct metrics_row {
	char	*journey;
	char	*stage;
	int64_t	 n;
};

static int
metrics_row_cmp(const void *a, const void *b)
{
	const struct metrics_row *x = a, *y = b;
	int c = strcmp(x->journey, y->journey);

	return c != 0 ? c : strcmp(x->stage, y->stage);
}

/* Add a journeyd_subjects sample to rows. */
static void
metrics_row_add(struct metrics_row **rows, size_t *n, const char *journey,
    const char *stage, int64_t count)
{
	*rows = xreallocarray(*rows, *n + 1, sizeof **rows);
	(*rows)[*n].journey = xstrdup(journey);
	(*rows)[*n].stage = xstrdup(stage);
	(*rows)[(*n)++].n = count;
}

/* Add the counts by stage of journey name's subjects (exited excluded),
 * except of the stages of j, to rows. */
static int
metrics_other_stages(sqlite3 *db, const char *name, const struct journey *j,
    struct metrics_row **rows, size_t *n)
{
	sqlite3_stmt	*st;
	const char	*stage;
	int		 rc;

	if ((st = store_try_prepare(db, "SELECT stage, count(*) FROM members "
	    "WHERE journey = ?1 AND status <> ?2 GROUP BY stage")) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, MEMBER_EXITED);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		stage = (const char *)sqlite3_column_text(st, 0);
		if (j == NULL || journey_stage(j, stage) < 0)
			metrics_row_add(rows, n, name, stage,
			    sqlite3_column_int64(st, 1));
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Add the counts of every stage of journey j to rows. They are counted in
 * one pass over its members, a count per stage (a GROUP BY would sort
 * them all: 1.1 s at 1M members, this 0.3 s); its other stages only when
 * there are any.
 */
static int
metrics_journey(sqlite3 *db, const struct journey *j,
    struct metrics_row **rows, size_t *n)
{
	sqlite3_stmt	*st;
	struct buf	 q;
	int64_t		 sum = 0;
	int		 rc;

	buf_init(&q);
	buf_puts(&q, "SELECT count(*)");
	for (int k = 0; k < j->nstages; k++)
		buf_printf(&q, ", count(*) FILTER (WHERE stage = ?%d)", k + 3);
	buf_puts(&q, " FROM members WHERE journey = ?1 AND status <> ?2");
	st = store_try_prepare(db, q.s);
	buf_free(&q);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, j->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, MEMBER_EXITED);
	for (int k = 0; k < j->nstages; k++)
		sqlite3_bind_text(st, k + 3, j->stages[k].name, -1,
		    SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int k = 0; k < j->nstages; k++) {
			metrics_row_add(rows, n, j->name, j->stages[k].name,
			    sqlite3_column_int64(st, k + 1));
			sum += sqlite3_column_int64(st, k + 1);
		}
		if (sqlite3_column_int64(st, 0) > sum &&
		    metrics_other_stages(db, j->name, j, rows, n) != 0)
			rc = SQLITE_ERROR;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/*
 * journeyd_subjects: every stage of the config, and any other stage or
 * journey the database holds (found along members' key), by journey and
 * stage.
 */
static int
metrics_subjects(FILE *f, sqlite3 *db, const struct config *cf)
{
	struct metrics_row	*rows = NULL;
	sqlite3_stmt		*st;
	size_t			 n = 0;
	int			 rc = SQLITE_DONE;

	for (int i = 0; i < cf->njourneys && rc == SQLITE_DONE; i++)
		if (metrics_journey(db, &cf->journeys[i], &rows, &n) != 0)
			rc = SQLITE_ERROR;
	if (rc == SQLITE_DONE && (st = store_try_prepare(db,
	    MEMBER_JOURNEYS_CTE "SELECT j FROM js WHERE j IS NOT NULL")) !=
	    NULL) {
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *name = (const char *)sqlite3_column_text(st,
			    0);

			if (config_journey(cf, name) == NULL &&
			    metrics_other_stages(db, name, NULL, &rows,
			    &n) != 0)
				break;
		}
		sqlite3_finalize(st);
	} else if (rc == SQLITE_DONE)
		rc = SQLITE_ERROR;

	if (n > 0)
		qsort(rows, n, sizeof *rows, metrics_row_cmp);
	metrics_head(f, "journeyd_subjects", "gauge",
	    "Subjects at each stage of each journey (completed included, "
	    "exited not).");
	for (size_t i = 0; i < n; i++) {
		fputs("journeyd_subjects{journey=\"", f);
		metrics_label(f, rows[i].journey);
		fputs("\",stage=\"", f);
		metrics_label(f, rows[i].stage);
		fprintf(f, "\"} %lld\n", (long long)rows[i].n);
		free(rows[i].journey);
		free(rows[i].stage);
	}
	free(rows);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The final outcomes of actions, as journeyd_actions_total names them. */
static const struct { int status; const char *name; } metrics_outcomes[] = {
	{ OUTBOX_DONE, "done" }, { OUTBOX_HELD, "held" },
	{ OUTBOX_DEAD, "dead" }
};
#define METRICS_NOUTCOMES \
	(sizeof metrics_outcomes / sizeof metrics_outcomes[0])

/* journeyd_actions_total: every configured instance and outcome (0 when
 * none), and any other instance the counters hold. */
static int
metrics_actions(FILE *f, sqlite3 *db, const struct config *cf)
{
	sqlite3_stmt	*st;
	struct buf	 b;
	int		 rc;

	buf_init(&b);
	buf_puts(&b, "[");
	for (int i = 0; i < cf->ninstances; i++)
		for (size_t k = 0; k < METRICS_NOUTCOMES; k++)
			buf_printf(&b, "%s[\"%s\",%d]", b.len > 1 ? "," : "",
			    cf->instances[i]->name, metrics_outcomes[k].status);
	buf_puts(&b, "]");
	metrics_head(f, "journeyd_actions_total", "counter",
	    "Actions by plugin instance and outcome: done, held (capped, held "
	    "out or declined by the plugin) and dead.");
	if ((st = store_try_prepare(db, "SELECT instance, status, sum(n) FROM "
	    "(SELECT instance, status, n FROM outbox_tally UNION ALL SELECT "
	    "json_extract(value, '$[0]'), json_extract(value, '$[1]'), 0 FROM "
	    "json_each(?4)) WHERE status IN (?1, ?2, ?3) GROUP BY instance, "
	    "status ORDER BY instance, status")) == NULL) {
		buf_free(&b);
		return -1;
	}
	for (size_t k = 0; k < METRICS_NOUTCOMES; k++)
		sqlite3_bind_int(st, k + 1, metrics_outcomes[k].status);
	sqlite3_bind_text(st, 4, b.s, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int status = sqlite3_column_int(st, 1);
		const char *outcome = "unknown";

		for (size_t k = 0; k < METRICS_NOUTCOMES; k++)
			if (metrics_outcomes[k].status == status)
				outcome = metrics_outcomes[k].name;
		fputs("journeyd_actions_total{instance=\"", f);
		metrics_label(f, (const char *)sqlite3_column_text(st, 0));
		fprintf(f, "\",outcome=\"%s\"} %lld\n", outcome,
		    (long long)sqlite3_column_int64(st, 2));
	}
	sqlite3_finalize(st);
	buf_free(&b);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The queue: pending, in flight, retrying (the rows of outbox_queue). */
static int
metrics_queue(FILE *f, sqlite3 *db, int64_t now)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((st = store_try_prepare(db, "SELECT count(*), coalesce(?1 - "
	    "min(CASE WHEN due <= ?1 THEN due END), 0) FROM outbox WHERE "
	    OUTBOX_QUEUED_SQL)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, now);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		metrics_head(f, "journeyd_outbox_depth", "gauge",
		    "Actions waiting: pending (quiet hours included), in "
		    "flight or to be retried.");
		fprintf(f, "journeyd_outbox_depth %lld\n",
		    (long long)sqlite3_column_int64(st, 0));
		metrics_head(f, "journeyd_oldest_due_age_seconds", "gauge",
		    "How long the longest-waiting action has been due (0: none "
		    "is late).");
		fprintf(f, "journeyd_oldest_due_age_seconds %lld\n",
		    (long long)sqlite3_column_int64(st, 1));
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Print every metric to f, read in one transaction; -1 with err. */
int
metrics_print(FILE *f, sqlite3 *db, const struct config *cf, int64_t now,
    char *err, size_t errlen)
{
	unsigned long long	 ticks;
	double			 seconds;
	int			 rc;

	pthread_mutex_lock(&metrics_lock);
	ticks = metrics_ticks;
	seconds = metrics_tick_seconds;
	pthread_mutex_unlock(&metrics_lock);
	metrics_head(f, "journeyd_ticks_total", "counter",
	    "Ticks run by this journeyd process.");
	fprintf(f, "journeyd_ticks_total %llu\n", ticks);
	metrics_head(f, "journeyd_tick_duration_seconds", "gauge",
	    "How long the last tick took.");
	fprintf(f, "journeyd_tick_duration_seconds %.6f\n", seconds);

	if (sqlite3_exec(db, "SAVEPOINT metrics", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return metrics_sql_error(db, err, errlen);
	rc = metrics_subjects(f, db, cf) == 0 &&
	    metrics_actions(f, db, cf) == 0 && metrics_queue(f, db, now) == 0 ?
	    0 : metrics_sql_error(db, err, errlen);
	sqlite3_exec(db, "RELEASE metrics", NULL, NULL, NULL);
	if (rc == 0 && ferror(f)) {
		snprintf(err, errlen, "%s", strerror(errno));
		rc = -1;
	}
	return rc;
}

/* Count a tick and write the metrics file; a failure is logged. */
int
metrics_write(sqlite3 *db, const struct config *cf, int64_t now,
    const struct tick_stats *ts)
{
	char	*tmp, err[512];
	FILE	*f;
	int	 fd, rc = 0;

	pthread_mutex_lock(&metrics_lock);
	metrics_ticks++;
	metrics_tick_seconds = ts->seconds;
	pthread_mutex_unlock(&metrics_lock);
	if (cf->metrics_file == NULL)
		return 0;
	tmp = xprintf("%s.XXXXXX", cf->metrics_file);
	if ((fd = mkstemp(tmp)) == -1 || fchmod(fd, 0644) != 0 ||
	    (f = fdopen(fd, "w")) == NULL) {
		log_warn("metrics: %s: %s", tmp, strerror(errno));
		if (fd != -1) {
			close(fd);
			unlink(tmp);
		}
		free(tmp);
		return -1;
	}
	if (metrics_print(f, db, cf, now, err, sizeof err) != 0) {
		log_warn("metrics: %s", err);
		fclose(f);
		unlink(tmp);
		rc = -1;
	} else if (ferror(f) | fclose(f) || rename(tmp, cf->metrics_file) !=
	    0) {
		log_warn("metrics: %s: %s", cf->metrics_file, strerror(errno));
		unlink(tmp);
		rc = -1;
	}
	free(tmp);
	return rc;
}

/* Count one ingest transaction that took seconds, from its first message
 * to its commit. */
void
metrics_ingest_commit(struct ingest_metrics *m, double seconds)
{
	int	 i;

	for (i = 0; i < INGEST_BUCKETS; i++)
		if (seconds <= metrics_commit_bounds[i])
			break;
	if (i < INGEST_BUCKETS)
		m->buckets[i]++;
	m->commits++;
	m->commit_seconds += seconds;
}

/* Write the HTTP API's ingest counts to f, in the exposition format. */
void
metrics_print_ingest(FILE *f, const struct ingest_metrics *m)
{
	unsigned long long	 cum = 0;

	metrics_head(f, "journeyd_ingest_messages_total", "counter",
	    "Messages received over HTTP: accepted (stored), rejected "
	    "(invalid, not stored) and duplicate (stored before).");
	fprintf(f, "journeyd_ingest_messages_total{result=\"accepted\"} "
	    "%llu\n", m->accepted);
	fprintf(f, "journeyd_ingest_messages_total{result=\"rejected\"} "
	    "%llu\n", m->rejected);
	fprintf(f, "journeyd_ingest_messages_total{result=\"duplicate\"} "
	    "%llu\n", m->duplicate);
	metrics_head(f, "journeyd_ingest_commit_seconds", "histogram",
	    "Ingest transactions (one or more requests' messages "
	    "committed together), from the first message to the commit.");
	for (int i = 0; i < INGEST_BUCKETS; i++) {
		cum += m->buckets[i];
		fprintf(f, "journeyd_ingest_commit_seconds_bucket{le=\"%g\"} "
		    "%llu\n", metrics_commit_bounds[i], cum);
	}
	fprintf(f, "journeyd_ingest_commit_seconds_bucket{le=\"+Inf\"} "
	    "%llu\n", m->commits);
	fprintf(f, "journeyd_ingest_commit_seconds_sum %.6f\n",
	    m->commit_seconds);
	fprintf(f, "journeyd_ingest_commit_seconds_count %llu\n", m->commits);
}
