/*
 * bench/tz's driver: conversions per second of core/tz.c beside glibc's
 * on the same times, in one process. See bench/tz.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "delivery/delivery.h"

#define N	2000000

static int64_t	 times[N];
static const char *zone = "Europe/Berlin";

static double	 cpu0;

/* Seconds of a clock since some point. */
static double
clock_secs(clockid_t clock)
{
	struct timespec	 ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Start timing: the wall-clock time now (and the CPU time into cpu0). */
static double
now(void)
{
	cpu0 = clock_secs(CLOCK_PROCESS_CPUTIME_ID);
	return clock_secs(CLOCK_MONOTONIC);
}

/* Print a rate by wall-clock and CPU time since now() returned t0 (the
 * machine is shared); the checksum keeps the loop from being optimised
 * away. */
static void
report(const char *what, double t0, long n, int64_t sum)
{
	double	 cpu = clock_secs(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
	double	 secs = clock_secs(CLOCK_MONOTONIC) - t0;

	printf("%-42s %9.0f/s %9.0f/CPU s  (%.2f s, sum %lld)\n", what,
	    n / secs, n / cpu, secs, (long long)(sum & 0xffff));
}

/* A worker of the threaded run: quiet hours for its share of times. */
static void *
quiet_worker(void *arg)
{
	long		 k = (long)arg;
	int64_t		 end, *sum = xmalloc(sizeof *sum);

	*sum = 0;
	for (long i = k; i < N; i += 2)
		*sum += guard_quiet_end(zone, 21 * 60, 8 * 60, times[i], &end);
	return sum;
}

int
main(void)
{
	const struct tz	*z = tz_get(zone);
	struct tz_local	 lt;
	struct tm	 tm;
	pthread_t	 th[2];
	double		 t0;
	int64_t		 sum = 0, end, *part;
	uint64_t	 r = 88172645463325252ULL;

	if (z == NULL) {
		fprintf(stderr, "tz_bench: no %s (tzdata)\n", zone);
		return 1;
	}
	for (long i = 0; i < N; i++) {
		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		times[i] = (int64_t)(r % (4102444800ULL));	/* to 2100 */
	}
	setenv("TZ", zone, 1);
	tzset();
	printf("%d random times from 1970 to 2100 in %s\n", N, zone);

	t0 = now();
	for (long i = 0; i < N; i++) {
		tz_local(z, times[i], &lt);
		sum += lt.hour;
	}
	report("tz_local", t0, N, sum);
	t0 = now();
	for (long i = 0; i < N; i++) {
		time_t	 t = (time_t)times[i];

		localtime_r(&t, &tm);
		sum += tm.tm_hour;
	}
	report("glibc localtime_r (TZ set once)", t0, N, sum);

	t0 = now();
	for (long i = 0; i < N; i++) {
		tz_local(z, times[i], &lt);
		sum += tz_mktime(z, lt.year, lt.mon, lt.mday, lt.hour, 0, 0);
	}
	report("tz_local + tz_mktime", t0, N, sum);
	t0 = now();
	for (long i = 0; i < N; i++) {
		time_t	 t = (time_t)times[i];

		localtime_r(&t, &tm);
		tm.tm_min = tm.tm_sec = 0;
		tm.tm_isdst = -1;
		sum += mktime(&tm);
	}
	report("glibc localtime_r + mktime (TZ set once)", t0, N,
	    sum);

	t0 = now();
	for (long i = 0; i < N; i++)
		sum += guard_quiet_end(zone, 21 * 60, 8 * 60, times[i], &end);
	report("guard_quiet_end, 1 thread", t0, N, sum);
	t0 = now();
	for (long k = 0; k < 2; k++)
		pthread_create(&th[k], NULL, quiet_worker, (void *)k);
	for (long k = 0; k < 2; k++) {
		pthread_join(th[k], (void **)&part);
		sum += *part;
		free(part);
	}
	report("guard_quiet_end, 2 threads", t0, N, sum);
	return 0;
}
