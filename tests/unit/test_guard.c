/* Guardrails: quiet hours and send windows in time zones, across
 * daylight-saving changes,
 * and the holdout hash. */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "insight/insight.h"

/* The quiet-hours end for zone at ISO time now, or "" when not quiet. */
static const char *
quiet(const char *zone, const char *window, const char *now)
{
	static char	 out[32];
	int64_t		 t, end;
	int		 from, to;

	assert_int_equal(quiet_hours_parse(window, &from, &to), 0);
	assert_int_equal(time_parse(now, &t), 0);
	if (!guard_quiet_end(zone, from, to, t, &end))
		return "";
	assert_true(end > t);
	return time_format(end, out, sizeof out);
}

/* The next opening of window hours/days for zone at ISO time now, or ""
 * when now is inside it. */
static const char *
window(const char *zone, const char *hours, const char *days,
    const char *now)
{
	static char	 out[32];
	struct window	 w;
	int64_t		 t, open;

	assert_int_equal(quiet_hours_parse(hours, &w.from, &w.to), 0);
	assert_int_equal(window_days_parse(days, &w.days), 0);
	assert_int_equal(time_parse(now, &t), 0);
	if (!guard_window_next(zone, &w, t, &open))
		return "";
	assert_true(open > t);
	return time_format(open, out, sizeof out);
}

/* Send windows: local hours on local days, across a weekend, midnight and
 * daylight-saving changes. */
static void
test_window(void **state)
{
	int	 m;

	/* 2026-03-27 is a Friday. Berlin is +1 until 2026-03-29 01:00Z. */
	assert_string_equal(window("Europe/Berlin", "09:00-17:00", "mon-fri",
	    "2026-03-27T10:00:00Z"), "");
	assert_string_equal(window("Europe/Berlin", "09:00-17:00", "mon-fri",
	    "2026-03-27T08:00:00Z"), "");
	/* 16:00Z is 17:00 in Berlin: the end is excluded. Over the weekend,
	 * and across the change to summer time: Monday 09:00 is 07:00Z. */
	assert_string_equal(window("Europe/Berlin", "09:00-17:00", "mon-fri",
	    "2026-03-27T16:00:00Z"), "2026-03-30T07:00:00Z");
	assert_string_equal(window("Europe/Berlin", "09:00-17:00", "mon-fri",
	    "2026-03-28T12:00:00Z"), "2026-03-30T07:00:00Z");
	/* Before the start, the same day (start included). */
	assert_string_equal(window("Europe/Berlin", "09:00-17:00", "mon-fri",
	    "2026-03-30T06:59:00Z"), "2026-03-30T07:00:00Z");
	assert_string_equal(window("Europe/Berlin", "09:00-17:00", "mon-fri",
	    "2026-03-30T07:00:00Z"), "");
	/* A weekend window, from a Monday; back to winter time (25 Oct). */
	assert_string_equal(window("Europe/Berlin", "10:00-12:00", "sat,sun",
	    "2026-03-30T07:00:00Z"), "2026-04-04T08:00:00Z");
	assert_string_equal(window("Europe/Berlin", "10:00-12:00", "sat,sun",
	    "2026-10-24T12:00:00Z"), "2026-10-25T09:00:00Z");
	/* The opening skipped by the change (02:30 on 29 March): the gap. */
	assert_string_equal(window("Europe/Berlin", "02:30-04:00", "sun",
	    "2026-03-28T12:00:00Z"), "2026-03-29T01:30:00Z");
	/* Past midnight: a day is the day of the start. Friday 22:00 to
	 * Saturday 06:00 is open; Saturday 22:00 is not (not a Saturday
	 * window); Monday 05:00 is not (Sunday's night is not in it). */
	assert_string_equal(window("UTC", "22:00-06:00", "mon-fri",
	    "2026-03-28T05:00:00Z"), "");
	assert_string_equal(window("UTC", "22:00-06:00", "mon-fri",
	    "2026-03-28T22:00:00Z"), "2026-03-30T22:00:00Z");
	assert_string_equal(window("UTC", "22:00-06:00", "mon-fri",
	    "2026-03-30T05:00:00Z"), "2026-03-30T22:00:00Z");
	/* Elsewhere: the subject's zone, not the machine's. */
	assert_string_equal(window("America/New_York", "09:00-17:00",
	    "mon,wed,fri", "2026-03-27T14:00:00Z"), "");
	assert_string_equal(window("America/New_York", "09:00-17:00",
	    "mon,wed,fri", "2026-03-27T21:00:00Z"), "2026-03-30T13:00:00Z");
	/* Days: ranges wrap, names in any case; unknown ones are refused. */
	assert_int_equal(window_days_parse("fri-mon", &m), 0);
	assert_int_equal(m, 0x63);
	assert_int_equal(window_days_parse("Mon, Wed,fri", &m), 0);
	assert_int_equal(m, 0x2a);
	assert_int_equal(window_days_parse("mon-fry", &m), -1);
	assert_int_equal(window_days_parse("monday", &m), -1);
	assert_int_equal(window_days_parse("mon,", &m), -1);
	assert_int_equal(window_days_parse("", &m), -1);
	(void)state;
}

static void
test_quiet_dst(void **state)
{
	/* Berlin: CET (+1) until 2026-03-29 01:00Z, then CEST (+2). */
	assert_string_equal(quiet("Europe/Berlin", "21:00-08:00",
	    "2026-03-27T22:00:00Z"), "2026-03-28T07:00:00Z");
	assert_string_equal(quiet("Europe/Berlin", "21:00-08:00",
	    "2026-03-28T22:00:00Z"), "2026-03-29T06:00:00Z");
	/* After midnight, the same night. */
	assert_string_equal(quiet("Europe/Berlin", "21:00-08:00",
	    "2026-03-29T03:00:00Z"), "2026-03-29T06:00:00Z");
	/* And back in autumn (2026-10-25 01:00Z). */
	assert_string_equal(quiet("Europe/Berlin", "21:00-08:00",
	    "2026-10-24T20:00:00Z"), "2026-10-25T07:00:00Z");
	/* Not quiet at 08:00 local exactly, nor in the day. */
	assert_string_equal(quiet("Europe/Berlin", "21:00-08:00",
	    "2026-03-29T06:00:00Z"), "");
	assert_string_equal(quiet("Europe/Berlin", "21:00-08:00",
	    "2026-03-29T12:00:00Z"), "");
	/* Quiet from 21:00 local exactly. */
	assert_string_equal(quiet("Europe/Berlin", "21:00-08:00",
	    "2026-03-29T19:00:00Z"), "2026-03-30T06:00:00Z");
}

static void
test_quiet_zones(void **state)
{
	assert_string_equal(quiet("UTC", "21:00-08:00",
	    "2026-01-10T23:59:00Z"), "2026-01-11T08:00:00Z");
	assert_string_equal(quiet("America/New_York", "21:00-08:00",
	    "2026-01-11T03:00:00Z"), "2026-01-11T13:00:00Z");
	assert_string_equal(quiet("Asia/Kolkata", "12:00-13:30",
	    "2026-01-11T07:00:00Z"), "2026-01-11T08:00:00Z");
	/* A window within the day; an empty one. */
	assert_string_equal(quiet("UTC", "12:00-14:00",
	    "2026-01-11T11:59:00Z"), "");
	assert_string_equal(quiet("UTC", "00:00-00:00",
	    "2026-01-11T11:59:00Z"), "");
	/* An end skipped by the spring change (02:30 does not exist in
	 * Berlin on 2026-03-29) still lies after now. */
	assert_string_equal(quiet("Europe/Berlin", "00:00-02:30",
	    "2026-03-28T23:30:00Z"), "2026-03-29T01:30:00Z");
	/* An end shown twice (02:30 on 2026-10-25 in Berlin): the first,
	 * CEST; once past it, in the repeated hour, the second, CET. */
	assert_string_equal(quiet("Europe/Berlin", "00:00-02:30",
	    "2026-10-24T23:00:00Z"), "2026-10-25T00:30:00Z");
	assert_string_equal(quiet("Europe/Berlin", "00:00-02:30",
	    "2026-10-25T01:10:00Z"), "2026-10-25T01:30:00Z");
	/* Dublin's negative DST in the data: summer time still starts at
	 * 01:00 GMT on 2026-03-29, and 08:00 is then 07:00Z. */
	assert_string_equal(quiet("Europe/Dublin", "21:00-08:00",
	    "2026-03-28T22:00:00Z"), "2026-03-29T07:00:00Z");
	/* A zone that does not exist is UTC. */
	assert_string_equal(quiet("Mars/Olympus_Mons", "21:00-08:00",
	    "2026-03-28T22:00:00Z"), "2026-03-29T08:00:00Z");
}

static void
test_zone_valid(void **state)
{
	assert_true(tz_valid("UTC"));
	assert_true(tz_valid("Europe/Berlin"));
	assert_false(tz_valid("Mars/Olympus_Mons"));
	assert_false(tz_valid("../../etc/passwd"));
	assert_false(tz_valid("/etc/localtime"));
	assert_false(tz_valid(""));
}

/* A quiet-hours question for quiet_thread, and its answer. */
struct quiet_case {
	const char	*zone;
	int		 from, to;
	int64_t		 now;
	int		 quiet;		/* the answer */
	int64_t		 end;
};

#define NCASES	 24
#define NTHREADS 4

/* Questions in several zones, across daylight-saving changes. */
static void
quiet_cases(struct quiet_case *c)
{
	static const char *zones[] = { "Europe/Berlin", "America/New_York",
	    "Australia/Lord_Howe", "Asia/Kolkata", "Europe/Dublin", "UTC" };
	int64_t	 t;

	time_parse("2026-03-28T18:00:00Z", &t);
	for (int i = 0; i < NCASES; i++) {
		c[i].zone = zones[i % 6];
		c[i].from = 21 * 60;
		c[i].to = i % 4 == 0 ? 2 * 60 + 30 : 8 * 60;
		c[i].now = t + i * 5400;
		c[i].quiet = -1;
	}
}

/* Ask every question many times; record the answers, assert nothing (a
 * failed assertion off the main thread cannot be reported). */
static void *
quiet_thread(void *arg)
{
	struct quiet_case	*c = arg;

	for (int n = 0; n < 200; n++)
		for (int i = 0; i < NCASES; i++) {
			int64_t	 end = 0;
			int	 q = guard_quiet_end(c[i].zone, c[i].from,
				    c[i].to, c[i].now, &end);

			if (n > 0 && (q != c[i].quiet || end != c[i].end))
				c[i].quiet = -2;	/* changed */
			else if (n == 0) {
				c[i].quiet = q;
				c[i].end = end;
			}
		}
	return NULL;
}

/* Run quiet_thread on NTHREADS threads; each one's answers into c[]. */
static void
quiet_run(struct quiet_case c[NTHREADS][NCASES])
{
	pthread_t	 th[NTHREADS];

	for (int k = 0; k < NTHREADS; k++) {
		quiet_cases(c[k]);
		assert_int_equal(pthread_create(&th[k], NULL, quiet_thread,
		    c[k]), 0);
	}
	for (int k = 0; k < NTHREADS; k++)
		assert_int_equal(pthread_join(th[k], NULL), 0);
}

/* Threads converting in different zones at once get the answers of one
 * thread alone. */
static void
test_quiet_threads(void **state)
{
	struct quiet_case	 ref[NCASES], c[NTHREADS][NCASES];
	int			 quiet = 0;

	quiet_cases(ref);
	for (int i = 0; i < NCASES; i++) {
		ref[i].quiet = guard_quiet_end(ref[i].zone, ref[i].from,
		    ref[i].to, ref[i].now, &ref[i].end);
		quiet += ref[i].quiet;
	}
	assert_true(quiet > 4 && quiet < NCASES);
	quiet_run(c);
	for (int k = 0; k < NTHREADS; k++)
		for (int i = 0; i < NCASES; i++) {
			assert_int_equal(c[k][i].quiet, ref[i].quiet);
			if (ref[i].quiet)
				assert_int_equal(c[k][i].end, ref[i].end);
		}
}

/* Quiet hours never touch the environment (TZ), which other threads read
 * (libcurl's getenv()): neither when TZ is unset nor when it is set. */
static void
test_quiet_environ(void **state)
{
	extern char		**environ;
	struct quiet_case	 c[NTHREADS][NCASES];
	char			**env;
	const char		*tz;

	unsetenv("TZ");
	env = environ;
	quiet_run(c);
	assert_ptr_equal(environ, env);
	assert_null(getenv("TZ"));

	setenv("TZ", "America/Denver", 1);
	env = environ;
	tz = getenv("TZ");
	quiet_run(c);
	assert_ptr_equal(environ, env);
	assert_ptr_equal(getenv("TZ"), tz);
	assert_string_equal(getenv("TZ"), "America/Denver");
	unsetenv("TZ");
}

static void
test_bucket(void **state)
{
	/* FNV-1a 64: "" is the offset basis, "a" is 0xaf63dc4c8601ec8c. */
	assert_int_equal(bucket_of("", 0), (int)(0xcbf29ce484222325ULL %
	    100));
	assert_int_equal(bucket_of("a", 1), (int)(0xaf63dc4c8601ec8cULL %
	    100));
	assert_int_equal(bucket_of("foobar", 6),
	    (int)(0x85944171f73967e8ULL % 100));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_quiet_dst),
		cmocka_unit_test(test_quiet_zones),
		cmocka_unit_test(test_zone_valid),
		cmocka_unit_test(test_quiet_threads),
		cmocka_unit_test(test_quiet_environ),
		cmocka_unit_test(test_bucket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
