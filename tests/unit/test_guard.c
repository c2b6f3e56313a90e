/* Guardrails: quiet hours in time zones, across daylight-saving changes,
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

/* Many threads converting in different zones get their own answers. */
static void *
quiet_thread(void *arg)
{
	int	 berlin = *(int *)arg;
	int64_t	 t, end;

	time_parse("2026-03-28T22:00:00Z", &t);
	for (int i = 0; i < 2000; i++) {
		assert_true(guard_quiet_end(berlin ? "Europe/Berlin" :
		    "America/New_York", 21 * 60, 8 * 60, t + (berlin ? 0 :
		    4 * 3600), &end));
		assert_int_equal(end, berlin ? t + 8 * 3600 : t + 14 * 3600);
	}
	return NULL;
}

static void
test_quiet_threads(void **state)
{
	pthread_t	 th[4];
	int		 which[4] = { 1, 0, 1, 0 };

	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, quiet_thread,
		    &which[i]), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
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
		cmocka_unit_test(test_quiet_dst),
		cmocka_unit_test(test_quiet_zones),
		cmocka_unit_test(test_zone_valid),
		cmocka_unit_test(test_quiet_threads),
		cmocka_unit_test(test_bucket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
