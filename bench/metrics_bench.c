/*
 * bench/metrics_bench: the time of the metrics written after every tick
 * (metrics_print) and of the report (report_new), on a given database and
 * config, each run ROUNDS times; bench/metrics drives it.
 *
 *   metrics_bench CONF ROUNDS
 *
 * Prints one line per measure: "NAME wall_s cpu_s" (the median of the
 * rounds), the output going to /dev/null.
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

int
main(int argc, char **argv)
{
	struct problems	 probs = { 0 };
	struct config	*cf;
	struct report	*rp;
	sqlite3		*db;
	FILE		*null;
	double		*wall, *cpu, w0, c0;
	char		 err[512];
	int		 rounds;

	if (argc != 3 || (rounds = atoi(argv[2])) < 1) {
		fprintf(stderr, "usage: metrics_bench CONF ROUNDS\n");
		return 2;
	}
	if ((cf = config_load(argv[1], &probs)) == NULL) {
		fprintf(stderr, "metrics_bench: %s: bad config\n", argv[1]);
		return 1;
	}
	if ((db = store_open(cf->database, err, sizeof err)) == NULL ||
	    (null = fopen("/dev/null", "w")) == NULL) {
		fprintf(stderr, "metrics_bench: %s\n", err);
		return 1;
	}
	wall = xcalloc(rounds, sizeof *wall);
	cpu = xcalloc(rounds, sizeof *cpu);
	for (int i = 0; i < rounds; i++) {
		bench_clock(&w0, &c0);
		if (metrics_print(null, db, cf, 0, err, sizeof err) != 0) {
			fprintf(stderr, "metrics_bench: %s\n", err);
			return 1;
		}
		bench_clock(&wall[i], &cpu[i]);
		wall[i] -= w0;
		cpu[i] -= c0;
	}
	bench_print("metrics", wall, cpu, rounds);
	for (int i = 0; i < rounds; i++) {
		bench_clock(&w0, &c0);
		if ((rp = report_new(cf, db, time_now(), err, sizeof err)) ==
		    NULL) {
			fprintf(stderr, "metrics_bench: %s\n", err);
			return 1;
		}
		report_free(rp);
		bench_clock(&wall[i], &cpu[i]);
		wall[i] -= w0;
		cpu[i] -= c0;
	}
	bench_print("report", wall, cpu, rounds);
	free(wall);
	free(cpu);
	fclose(null);
	store_close(db);
	config_free(cf);
	return 0;
}
