/*
 * The import benchmark's driver, built by bench/import from the sources.
 *
 *   import_bench gen N USERS FILE   write N deterministic track lines
 *   import_bench raw DB N USERS     the limit: the same rows by a bare
 *                                   prepared INSERT in one transaction
 *   import_bench import DB FILE     the importer, as journeyctl runs it
 *
 * raw and import print "SECONDS CPU_SECONDS ROWS PEAK_RSS_KIB" on stdout:
 * wall time, and user + system time (steadier on a busy machine).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "ingest/ingest.h"

#define BENCH_BASE	1767225600	/* 2026-01-01T00:00:00Z */

static const char *bench_events[] = {
	"ride", "view", "login", "purchase", "search"
};
static const char *bench_cities[] = {
	"Berlin", "Paris", "Lisbon", "Oslo"
};

/* Line i's user: users interleave as in a real stream, each USERS lines
 * covering every user once. */
static long
bench_user(long i, long users)
{
	return (i % users) * 7919 % users;
}

/* Line i's properties, as the importer stores them (minified). */
static int
bench_props(long i, char *out, size_t len)
{
	return snprintf(out, len, "{\"fare\":%ld.5,\"city\":\"%s\"}",
	    i % 50, bench_cities[i % 4]);
}

/* Seconds since some point, for timing. */
static double
bench_clock(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time (user and system) used so far, in seconds. */
static double
bench_cpu(void)
{
	struct rusage	 ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Peak resident memory of this process, in KiB. */
static long
bench_peak_rss(void)
{
	struct rusage	 ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* Write the lines. */
static int
bench_gen(long n, long users, const char *path)
{
	FILE	*f;
	char	 ts[32], props[128];
	time_t	 t;
	long	 i;

	if ((f = fopen(path, "w")) == NULL) {
		perror(path);
		return 1;
	}
	for (i = 0; i < n; i++) {
		t = BENCH_BASE + i;
		strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
		bench_props(i, props, sizeof props);
		fprintf(f, "{\"type\":\"track\",\"userId\":\"u%ld\",\"event\":"
		    "\"%s\",\"properties\":%s,\"timestamp\":\"%s\","
		    "\"messageId\":\"m-%ld\"}\n", bench_user(i, users),
		    bench_events[i % 5], props, ts, i);
	}
	if (fclose(f) != 0) {
		perror(path);
		return 1;
	}
	return 0;
}

/* Open a fresh database as journeyd does. */
static sqlite3 *
bench_open(const char *path)
{
	sqlite3	*db;
	char	 err[256];

	if ((db = store_open(path, err, sizeof err)) == NULL)
		fatalx("%s", err);
	return db;
}

/* Insert the same rows as the importer would, bare. */
static int
bench_raw(const char *path, long n, long users)
{
	sqlite3		*db = bench_open(path);
	sqlite3_stmt	*st;
	char		 props[128], msg[32];
	double		 start, cpu;
	int		 plen, mlen;
	long		 i;

	start = bench_clock();
	cpu = bench_cpu();
	st = store_prepare(db, "INSERT INTO events (subject, name, ts, props, "
	    "msg) VALUES (?1, ?2, ?3, ?4, ?5)");
	if (store_begin(db) != 0)
		return 1;
	for (i = 0; i < n; i++) {
		plen = bench_props(i, props, sizeof props);
		mlen = snprintf(msg, sizeof msg, "m:m-%ld", i);
		sqlite3_bind_int64(st, 1, bench_user(i, users) + 1);
		sqlite3_bind_text(st, 2, bench_events[i % 5], -1,
		    SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, BENCH_BASE + i);
		sqlite3_bind_text(st, 4, props, plen, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, msg, mlen, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			fatalx("insert: %s", sqlite3_errmsg(db));
		sqlite3_reset(st);
	}
	if (store_commit(db) != 0)
		return 1;
	sqlite3_finalize(st);
	store_close(db);
	printf("%.3f %.3f %ld %ld\n", bench_clock() - start, bench_cpu() - cpu,
	    n, bench_peak_rss());
	return 0;
}

/* Import the file through import_stream, as journeyctl import does. */
static int
bench_import(const char *path, const char *file)
{
	struct import_stats	 stats;
	sqlite3			*db = bench_open(path);
	double			 start, cpu;
	FILE			*f;
	char			 summary[128];
	int			 rc;

	if ((f = fopen(file, "r")) == NULL) {
		perror(file);
		return 1;
	}
	start = bench_clock();
	cpu = bench_cpu();
	rc = import_stream(db, f, file, BENCH_BASE, stderr, &stats);
	fclose(f);
	store_close(db);
	fprintf(stderr, "importer: %s\n",
	    import_summary(&stats, summary, sizeof summary));
	if (rc != 0)
		return 1;
	printf("%.3f %.3f %ld %ld\n", bench_clock() - start, bench_cpu() - cpu,
	    stats.imported, bench_peak_rss());
	return 0;
}

int
main(int argc, char **argv)
{
	log_open("import_bench", 0);
	if (argc == 5 && strcmp(argv[1], "gen") == 0)
		return bench_gen(atol(argv[2]), atol(argv[3]), argv[4]);
	if (argc == 5 && strcmp(argv[1], "raw") == 0)
		return bench_raw(argv[2], atol(argv[3]), atol(argv[4]));
	if (argc == 4 && strcmp(argv[1], "import") == 0)
		return bench_import(argv[2], argv[3]);
	fprintf(stderr, "usage: import_bench gen N USERS FILE | "
	    "raw DB N USERS | import DB FILE\n");
	return 2;
}
