/*
 * bench/metrics_bench: on a given database and config, each ROUNDS times,
 * the time of the metrics written after every tick (metrics_print, output
 * to /dev/null), of counting the outbox's finished actions as the metrics
 * did before their counters (actions_by_scan, for reference), of the
 * report (report_new), and of RECORD actions
 * claimed and recorded done, each in its own two transactions as the
 * dispatcher's claims and outcomes are (outbox_claim, outbox_record), with
 * the outbox's triggers and, alternately, without them (dropped for that
 * round, then made again; the counters are counted afresh at the end).
 * bench/metrics drives it.
 *
 *   metrics_bench CONF ROUNDS RECORD
 *
 * Prints one line per measure: "NAME wall_s cpu_s" (the median of the
 * rounds).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "insight/insight-int.h"

/* Seconds of the monotonic clock, and of CPU (user and system). */
static void
bench_clock(double *wall, double *cpu)
{
	struct timespec	 ts;
	struct rusage	 ru;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	*wall = ts.tv_sec + ts.tv_nsec / 1e9;
	getrusage(RUSAGE_SELF, &ru);
	*cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Order two doubles. */
static int
bench_cmp(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Print the medians of n rounds of wall and cpu times. */
static void
bench_print(const char *name, double *wall, double *cpu, int n)
{
	qsort(wall, n, sizeof *wall, bench_cmp);
	qsort(cpu, n, sizeof *cpu, bench_cmp);
	printf("%s %.4f %.4f\n", name, wall[n / 2], cpu[n / 2]);
}

/* What one round measures. */
struct bench {
	struct config	*cf;
	sqlite3		*db;
	FILE		*null;
	int		 record;	/* actions per round */
	char		*triggers;	/* the outbox's, as SQL */
};

/* One round of metrics_print. */
static int
bench_metrics(struct bench *b)
{
	char	 err[512];

	if (metrics_print(b->null, b->db, b->cf, 0, err, sizeof err) == 0)
		return 0;
	fprintf(stderr, "metrics_bench: %s\n", err);
	return -1;
}

/* One round of what journeyd_actions_total cost before its counters: the
 * outbox's finished actions counted by instance and outcome. */
static int
bench_scan(struct bench *b)
{
	sqlite3_stmt	*st;
	int		 rc;

	st = store_prepare(b->db, "SELECT instance, status, count(*) FROM "
	    "outbox WHERE status IN (2, 4, 5) GROUP BY instance, status");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* One round of report_new. */
static int
bench_report(struct bench *b)
{
	struct report	*rp;
	char		 err[512];

	if ((rp = report_new(b->cf, b->db, time_now(), err, sizeof err)) ==
	    NULL) {
		fprintf(stderr, "metrics_bench: %s\n", err);
		return -1;
	}
	report_free(rp);
	return 0;
}

/* Queue b->record actions (not timed); the first one's row. */
static int64_t
bench_queue(struct bench *b)
{
	sqlite3_stmt	*st;
	int64_t		 first;

	first = outbox_last(b->db) + 1;
	st = store_prepare(b->db, "WITH RECURSIVE k(v) AS (SELECT 0 UNION ALL "
	    "SELECT v + 1 FROM k WHERE v + 1 < ?2) INSERT INTO outbox (id, "
	    "subject, journey, rule, stage, instance, created, due, status) "
	    "SELECT printf('record-%d', ?1 + v), 1 + v, 'rider', "
	    "'bench-record', 'new', 'log', 0, 0, 0 FROM k");
	sqlite3_bind_int64(st, 1, first);
	sqlite3_bind_int(st, 2, b->record);
	if (sqlite3_step(st) != SQLITE_DONE)
		first = -1;
	sqlite3_finalize(st);
	return first;
}

/* Claim and record done every action from first, each in its own two
 * transactions. */
static int
bench_settle(struct bench *b, struct outbox_conn *oc, int64_t first)
{
	struct outbox_outcome	 o = { .result = OUTCOME_DONE, .attempt = 1 };
	struct outbox_retry	 rp = { 60, 3600, 86400 };
	struct outbox_item	 item;
	int64_t			 due;
	int			 status;

	for (int64_t aid = first; aid < first + b->record; aid++) {
		if (outbox_begin(oc) != 0 || outbox_claim(oc, aid, 0,
		    &item) != 0 || outbox_commit(oc) != 0)
			return -1;
		outbox_item_free(&item);
		if (outbox_begin(oc) != 0 || outbox_record(oc, aid, &o, &rp,
		    &status, &due) != 0 || outbox_commit(oc) != 0)
			return -1;
	}
	return 0;
}

/* The outbox's triggers as SQL, to make them again. */
static char *
bench_triggers(sqlite3 *db)
{
	sqlite3_stmt	*st;
	struct buf	 q;

	buf_init(&q);
	st = store_prepare(db, "SELECT sql FROM sqlite_master WHERE type = "
	    "'trigger' AND tbl_name = 'outbox'");
	while (sqlite3_step(st) == SQLITE_ROW)
		buf_printf(&q, "%s;", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return buf_steal(&q);
}

/* One round of recording, timed from the first claim. */
static int
bench_record(struct bench *b, int with, double *wall, double *cpu)
{
	struct outbox_conn	*oc = outbox_conn_new(b->db);
	double			 w0, c0;
	int64_t			 first;
	int			 rc;

	if ((first = bench_queue(b)) < 0)
		return -1;
	if (!with)
		store_exec(b->db, "DROP TRIGGER IF EXISTS outbox_tally_new;"
		    "DROP TRIGGER IF EXISTS outbox_tally_end;");
	bench_clock(&w0, &c0);
	rc = bench_settle(b, oc, first);
	bench_clock(wall, cpu);
	*wall -= w0;
	*cpu -= c0;
	outbox_conn_free(oc);
	if (!with)
		store_exec(b->db, b->triggers);
	return rc;
}

/* Run fn ROUNDS times and print the medians as name. */
static int
bench_run(struct bench *b, const char *name, int (*fn)(struct bench *),
    int rounds)
{
	double	*wall = xcalloc(rounds, sizeof *wall);
	double	*cpu = xcalloc(rounds, sizeof *cpu), w0, c0;
	int	 rc = 0;

	for (int i = 0; i < rounds && rc == 0; i++) {
		bench_clock(&w0, &c0);
		rc = fn(b);
		bench_clock(&wall[i], &cpu[i]);
		wall[i] -= w0;
		cpu[i] -= c0;
	}
	if (rc == 0)
		bench_print(name, wall, cpu, rounds);
	free(wall);
	free(cpu);
	return rc;
}

/* ROUNDS rounds of recording with the triggers and as many without, in
 * turn; then the bench's actions go, and the counters are made afresh. */
static int
bench_records(struct bench *b, int rounds)
{
	double	*wall[2], *cpu[2];
	int	 rc = 0;

	b->triggers = bench_triggers(b->db);
	for (int with = 0; with < 2; with++) {
		wall[with] = xcalloc(rounds, sizeof *wall[with]);
		cpu[with] = xcalloc(rounds, sizeof *cpu[with]);
	}
	for (int i = 0; i < rounds && rc == 0; i++)
		for (int with = 1; with >= 0 && rc == 0; with--)
			rc = bench_record(b, with, &wall[with][i],
			    &cpu[with][i]);
	if (rc == 0) {
		bench_print("record", wall[1], cpu[1], rounds);
		bench_print("record_without_triggers", wall[0], cpu[0],
		    rounds);
	}
	store_exec(b->db, "BEGIN IMMEDIATE; DELETE FROM outbox WHERE rule = "
	    "'bench-record'; DELETE FROM outbox_tally; INSERT INTO "
	    "outbox_tally SELECT instance, status, count(*) FROM outbox WHERE "
	    "status = 2 OR status >= 4 GROUP BY instance, status; COMMIT;");
	for (int with = 0; with < 2; with++) {
		free(wall[with]);
		free(cpu[with]);
	}
	free(b->triggers);
	return rc;
}

int
main(int argc, char **argv)
{
	struct problems	 probs = { 0 };
	struct bench	 b = { 0 };
	char		 err[512];
	int		 rounds, rc;

	if (argc != 4 || (rounds = atoi(argv[2])) < 1 ||
	    (b.record = atoi(argv[3])) < 1) {
		fprintf(stderr, "usage: metrics_bench CONF ROUNDS RECORD\n");
		return 2;
	}
	if ((b.cf = config_load(argv[1], &probs)) == NULL) {
		fprintf(stderr, "metrics_bench: %s: bad config\n", argv[1]);
		return 1;
	}
	if ((b.db = store_open(b.cf->database, err, sizeof err)) == NULL ||
	    (b.null = fopen("/dev/null", "w")) == NULL) {
		fprintf(stderr, "metrics_bench: %s\n", err);
		return 1;
	}
	rc = bench_run(&b, "metrics", bench_metrics, rounds) != 0 ||
	    bench_run(&b, "actions_by_scan", bench_scan, rounds) != 0 ||
	    bench_run(&b, "report", bench_report, rounds) != 0 ||
	    bench_records(&b, rounds) != 0;
	fclose(b.null);
	store_close(b.db);
	config_free(b.cf);
	return rc;
}
