/*
 * Durations ("45s", "15m", "12h", "30d", "2w") and timestamps (ISO 8601, or
 * "@" and Unix seconds). ISO 8601 is parsed by SQLite's date functions, not
 * by hand. The run's clock is the real one unless --now pinned it. Timed
 * waits of threads run on the monotonic clock (time_cond_*), and a time of
 * the run's clock is turned into a monotonic deadline by time_mono_at().
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "core/core.h"

static pthread_mutex_t	 time_lock = PTHREAD_MUTEX_INITIALIZER;
static sqlite3		*time_db;
static sqlite3_stmt	*time_stmt;
static int		 time_pinned;
static int		 time_advancing;
static int64_t		 time_base;
static struct timespec	 time_start;

/* Parse a duration into seconds. Returns 0, or -1 when it is not one. */
int
duration_parse(const char *s, int64_t *out)
{
	const char	*p = s;
	int64_t		 n = 0, mult;

	if (s == NULL || !isdigit((unsigned char)*p))
		return -1;
	while (isdigit((unsigned char)*p)) {
		if (n > (INT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (*p++ - '0');
	}
	switch (*p++) {
	case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	case 'w': mult = 7 * 86400; break;
	default: return -1;
	}
	if (*p != '\0' || n > INT64_MAX / mult / 4)
		return -1;
	*out = n * mult;
	return 0;
}

/* Write seconds as the largest whole unit ("30d", "90m", "45s"). */
char *
duration_format(int64_t secs, char *out, size_t len)
{
	static const struct { int64_t n; char c; } units[] = {
		{ 7 * 86400, 'w' }, { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }
	};

	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (secs != 0 && secs % units[i].n == 0) {
			snprintf(out, len, "%lld%c",
			    (long long)(secs / units[i].n), units[i].c);
			return out;
		}
	}
	snprintf(out, len, "%llds", (long long)secs);
	return out;
}

/* Parse "@N" or an ISO 8601 date and time (with Z or an offset). */
int
time_parse(const char *s, int64_t *out)
{
	sqlite3_stmt	*st;
	char		*end;
	int		 rc = -1;

	if (s == NULL)
		return -1;
	if (s[0] == '@') {
		long long v;
		errno = 0;
		v = strtoll(s + 1, &end, 10);
		if (errno != 0 || end == s + 1 || *end != '\0')
			return -1;
		*out = v;
		return 0;
	}
	/* A date first: YYYY-MM-DD, then a time. */
	for (int i = 0; i < 10; i++) {
		if (i == 4 || i == 7) {
			if (s[i] != '-')
				return -1;
		} else if (!isdigit((unsigned char)s[i]))
			return -1;
	}
	if (s[10] != 'T' && s[10] != ' ' && s[10] != 't')
		return -1;

	pthread_mutex_lock(&time_lock);
	/* One connection and one statement, prepared once: a prepare costs
	 * ten times the evaluation, and the importer parses a time a line.
	 * The '+0 days' makes date() normalize, so that 02-30 is refused. */
	if (time_db == NULL &&
	    sqlite3_open_v2(":memory:", &time_db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_MEMORY, NULL) != SQLITE_OK)
		fatalx("sqlite: cannot open an in-memory database");
	if (time_stmt == NULL &&
	    sqlite3_prepare_v3(time_db, "SELECT unixepoch(?1), "
	    "date(substr(?1, 1, 10), '+0 days') IS substr(?1, 1, 10)", -1,
	    SQLITE_PREPARE_PERSISTENT, &time_stmt, NULL) != SQLITE_OK)
		fatalx("sqlite: %s", sqlite3_errmsg(time_db));
	st = time_stmt;
	sqlite3_bind_text(st, 1, s, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL &&
	    sqlite3_column_int(st, 1)) {
		*out = sqlite3_column_int64(st, 0);
		rc = 0;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	pthread_mutex_unlock(&time_lock);
	return rc;
}

/* Write a Unix time as ISO 8601 in UTC ("2026-03-01T09:00:00Z"). */
char *
time_format(int64_t t, char *out, size_t len)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, len, "@%lld", (long long)t);
	return out;
}

/* Pin the clock at t; with advancing, it moves on with real time. */
void
time_set_now(int64_t t)
{
	time_pinned = 1;
	time_base = t;
	clock_gettime(CLOCK_MONOTONIC, &time_start);
}

/* Let a pinned clock move on with real time (a service run with --now). */
void
time_set_advancing(int on)
{
	time_advancing = on;
	clock_gettime(CLOCK_MONOTONIC, &time_start);
}

/* The monotonic clock in microseconds, for measuring and deadlines. */
int64_t
time_mono_usec(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The run's clock, in Unix seconds. */
int64_t
time_now(void)
{
	struct timespec	 ts;

	if (!time_pinned)
		return (int64_t)time(NULL);
	if (!time_advancing)
		return time_base;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return time_base + (ts.tv_sec - time_start.tv_sec);
}

/* When the run's clock reads t, as a monotonic time in microseconds: a
 * time in the past when it already does (the same one each call, so that a
 * waiter comparing it with its own reading of the clock is not put off
 * again and again), INT64_MAX when it never will. For the real clock the
 * answer holds until the wall clock is stepped: a waiter looks again now
 * and then (the dispatcher's watchdog does). */
int64_t
time_mono_at(int64_t t)
{
	struct timespec	 real;
	int64_t		 now, left;

	if (time_pinned && !time_advancing)
		return t <= time_base ? 0 : INT64_MAX;
	if (time_pinned) {
		/* time_now() reads t once the monotonic clock's seconds are
		 * (t - time_base) past time_start's. */
		if (t - time_base > INT64_MAX / 1000000 - time_start.tv_sec)
			return INT64_MAX;
		left = (time_start.tv_sec + t - time_base) * 1000000;
		return left < 0 ? 0 : left;
	}
	if (t > INT64_MAX / 1000000 - 1)
		return INT64_MAX;
	now = time_mono_usec();
	clock_gettime(CLOCK_REALTIME, &real);
	left = t * 1000000 - ((int64_t)real.tv_sec * 1000000 +
	    real.tv_nsec / 1000);
	if (now + left < 0)
		return 0;
	return left > INT64_MAX - now ? INT64_MAX : now + left;
}

/* Make a condition variable whose timed waits use the monotonic clock. */
void
time_cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t	 attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(cond, &attr);
	pthread_condattr_destroy(&attr);
}

/* Wait on cond (made by time_cond_init()) until woken or until the
 * monotonic time until, in microseconds (INT64_MAX: no limit). */
int
time_cond_wait(pthread_cond_t *cond, pthread_mutex_t *lock, int64_t until)
{
	struct timespec	 ts;

	if (until == INT64_MAX)
		return pthread_cond_wait(cond, lock);
	if (until < 0)
		until = 0;
	ts.tv_sec = (time_t)(until / 1000000);
	ts.tv_nsec = (long)(until % 1000000) * 1000;
	return pthread_cond_timedwait(cond, lock, &ts);
}
