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
	case 'y': mult = 365 * 86400; break;
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

/*
 * Copy an ISO 8601 time into out (outlen bytes) with an offset written
 * "+0100" rewritten "+01:00", the form SQLite's date functions read.
 * Returns -1 when it does not fit.
 */
static int
time_offset_colon(const char *s, char *out, size_t outlen)
{
	size_t	 len = strlen(s);

	if (len + 2 > outlen)
		return -1;
	memcpy(out, s, len + 1);
	if (len >= 16 && (s[len - 5] == '+' || s[len - 5] == '-') &&
	    isdigit((unsigned char)s[len - 6]) &&
	    isdigit((unsigned char)s[len - 4]) &&
	    isdigit((unsigned char)s[len - 3]) &&
	    isdigit((unsigned char)s[len - 2]) &&
	    isdigit((unsigned char)s[len - 1])) {
		memcpy(out + len - 2, ":", 1);
		memcpy(out + len - 1, s + len - 2, 3);
	}
	return 0;
}

/*
 * Read an ISO 8601 date and time with SQLite's date functions: into
 * seconds, or with ms into milliseconds. One connection, and a statement
 * for each, prepared once: a prepare costs ten times the evaluation, and
 * the importer parses a time a line (the milliseconds cost a strftime(),
 * so seconds are read without). The '+0 days' makes date() normalize,
 * so that 02-30 is refused; '%f' is the seconds with their milliseconds
 * ("05.250").
 */
static int
time_sql(const char *s, int ms, int64_t *out)
{
	static sqlite3_stmt	*stmts[2];
	sqlite3_stmt		*st;
	char			 text[64];
	int			 rc = -1;

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
	if (time_offset_colon(s, text, sizeof text) != 0)
		return -1;

	pthread_mutex_lock(&time_lock);
	if (time_db == NULL &&
	    sqlite3_open_v2(":memory:", &time_db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_MEMORY, NULL) != SQLITE_OK)
		fatalx("sqlite: cannot open an in-memory database");
	if (stmts[ms] == NULL && sqlite3_prepare_v3(time_db, ms ?
	    "SELECT unixepoch(?1), date(substr(?1, 1, 10), '+0 days') IS "
	    "substr(?1, 1, 10), CAST(substr(strftime('%f', ?1), 4) AS "
	    "INTEGER)" :
	    "SELECT unixepoch(?1), date(substr(?1, 1, 10), '+0 days') IS "
	    "substr(?1, 1, 10), 0", -1,
	    SQLITE_PREPARE_PERSISTENT, &stmts[ms], NULL) != SQLITE_OK)
		fatalx("sqlite: %s", sqlite3_errmsg(time_db));
	st = stmts[ms];
	sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL &&
	    sqlite3_column_int(st, 1)) {
		*out = sqlite3_column_int64(st, 0);
		if (ms)
			*out = *out * 1000 + sqlite3_column_int64(st, 2);
		rc = 0;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	pthread_mutex_unlock(&time_lock);
	return rc;
}

/* Parse "@N" (seconds) into *out; -1 when it is not one or out of range
 * for unit (1000: milliseconds). */
static int
time_at(const char *s, int64_t unit, int64_t *out)
{
	long long	 v;
	char		*end;

	errno = 0;
	v = strtoll(s + 1, &end, 10);
	if (errno != 0 || end == s + 1 || *end != '\0' ||
	    v > INT64_MAX / unit || v < INT64_MIN / unit)
		return -1;
	*out = v * unit;
	return 0;
}

/*
 * Parse "@N" or an ISO 8601 date and time into milliseconds: fractional
 * seconds (to the millisecond), and "Z", "+01:00" or "+0100" after the
 * time (none: UTC). Returns 0, or -1 when it is not one.
 */
int
time_parse_ms(const char *s, int64_t *out)
{
	if (s == NULL)
		return -1;
	if (s[0] == '@')
		return time_at(s, 1000, out);
	return time_sql(s, 1, out);
}

/* Parse "@N" or an ISO 8601 date and time into seconds (a fraction cut
 * off): the forms of time_parse_ms(), and "@N" over all of int64_t. */
int
time_parse(const char *s, int64_t *out)
{
	if (s == NULL)
		return -1;
	if (s[0] == '@')
		return time_at(s, 1, out);
	return time_sql(s, 0, out);
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
