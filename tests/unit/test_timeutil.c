/* Durations and timestamps. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "core/core.h"

static void
test_durations(void **state)
{
	int64_t	 d;

	assert_int_equal(duration_parse("45s", &d), 0);
	assert_int_equal(d, 45);
	assert_int_equal(duration_parse("15m", &d), 0);
	assert_int_equal(d, 900);
	assert_int_equal(duration_parse("12h", &d), 0);
	assert_int_equal(d, 43200);
	assert_int_equal(duration_parse("30d", &d), 0);
	assert_int_equal(d, 2592000);
	assert_int_equal(duration_parse("2w", &d), 0);
	assert_int_equal(d, 1209600);
	assert_int_equal(duration_parse("2y", &d), 0);
	assert_int_equal(d, 2 * 365 * 86400);
	assert_int_equal(duration_parse("0s", &d), 0);
	assert_int_equal(d, 0);
}

static void
test_bad_durations(void **state)
{
	static const char *bad[] = { "", "s", "10", "10x", "1.5h", "-1d",
	    "10 d", "1d2h", "99999999999999999999s", "9223372036854775807w",
	    " 1d", "1d ", NULL };
	int64_t	 d;

	for (int i = 0; bad[i] != NULL; i++)
		assert_int_equal(duration_parse(bad[i], &d), -1);
	assert_int_equal(duration_parse(NULL, &d), -1);
}

static void
test_duration_format(void **state)
{
	char	 b[32];

	assert_string_equal(duration_format(2592000, b, sizeof b), "30d");
	assert_string_equal(duration_format(1209600, b, sizeof b), "2w");
	assert_string_equal(duration_format(5400, b, sizeof b), "90m");
	assert_string_equal(duration_format(45, b, sizeof b), "45s");
	assert_string_equal(duration_format(0, b, sizeof b), "0s");
}

static void
test_times(void **state)
{
	int64_t	 t;
	char	 b[32];

	assert_int_equal(time_parse("2026-03-01T09:00:00Z", &t), 0);
	assert_int_equal(t, 1772355600);
	assert_int_equal(time_parse("@1772355600", &t), 0);
	assert_int_equal(t, 1772355600);
	assert_int_equal(time_parse("2026-03-01T10:00:00+01:00", &t), 0);
	assert_int_equal(t, 1772355600);
	assert_int_equal(time_parse("2026-03-01T04:00:00-05:00", &t), 0);
	assert_int_equal(t, 1772355600);
	assert_int_equal(time_parse("2026-03-01T09:00:00.250Z", &t), 0);
	assert_int_equal(t, 1772355600);
	assert_string_equal(time_format(1772355600, b, sizeof b),
	    "2026-03-01T09:00:00Z");
	assert_int_equal(time_parse("1970-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 0);
	/* Offsets without a colon, fractions, milliseconds. */
	assert_int_equal(time_parse("2026-03-01T10:00:00+0100", &t), 0);
	assert_int_equal(t, 1772355600);
	assert_int_equal(time_parse("2026-03-01T03:30:00.75-0530", &t), 0);
	assert_int_equal(t, 1772355600);
	assert_int_equal(time_parse_ms("2026-03-01T09:00:00.250Z", &t), 0);
	assert_int_equal(t, 1772355600250LL);
	assert_int_equal(time_parse_ms("2026-03-01T10:00:00.5+01:00", &t), 0);
	assert_int_equal(t, 1772355600500LL);
	assert_int_equal(time_parse_ms("1969-12-31T23:59:59.500Z", &t), 0);
	assert_int_equal(t, -500);
	assert_int_equal(time_parse("1969-12-31T23:59:59.500Z", &t), 0);
	assert_int_equal(t, -1);
	assert_int_equal(time_parse_ms("@1772355600", &t), 0);
	assert_int_equal(t, 1772355600000LL);
	assert_int_equal(time_parse("@9223372036854775807", &t), 0);
	assert_int_equal(time_parse_ms("@9223372036854775807", &t), -1);
}

static void
test_bad_times(void **state)
{
	static const char *bad[] = { "", "now", "yesterday", "2026-13-01T00:00:00Z",
	    "2026-02-30T00:00:00Z", "2026-03-01", "26-03-01T09:00:00Z",
	    "2026-03-01T25:00:00Z", "@", "@12x", "2026-03-01T09:00:00Zjunk",
	    "12:00", "2026-03-01T09:00:00+01", "2026-03-01T09:00:00+010",
	    "2026-03-01T09:00:00+01000", "2026-03-01T09:00:00.Z", NULL };
	int64_t	 t;

	for (int i = 0; bad[i] != NULL; i++) {
		if (time_parse(bad[i], &t) == 0 ||
		    time_parse_ms(bad[i], &t) == 0)
			fail_msg("accepted \"%s\"", bad[i]);
	}
}

/* The real clock's times as monotonic deadlines: past ones now, future
 * ones as far ahead as they are. time(NULL) drops up to a second and the
 * test may be descheduled between its readings of the two clocks, so the
 * bounds that depend on that are a second wider than the arithmetic. */
static void
test_mono_real(void **state)
{
	int64_t	 now = time(NULL), mono = time_mono_usec(), at;

	/* A time past is when it was, not "now" again at each call: a
	 * waiter comparing it with the clock it read before must see it
	 * passed. */
	at = time_mono_at(now - 10);
	assert_true(at <= mono - 9 * 1000000LL);
	assert_true(at > mono - 12 * 1000000LL);
	at = time_mono_at(now + 100);
	assert_true(at > mono + 97 * 1000000LL);
	assert_true(at <= time_mono_usec() + 100 * 1000000LL);
	assert_int_equal(time_mono_at(INT64_MAX), INT64_MAX);
}

static void
test_clock(void **state)
{
	time_set_now(1772355600);
	assert_int_equal(time_now(), 1772355600);
}

/* A pinned clock never reaches a later time; an advancing one does, on
 * the monotonic clock, when time_now() reads it. */
static void
test_mono_pinned(void **state)
{
	int64_t	 at;

	time_set_now(1000);
	time_set_advancing(0);
	assert_true(time_mono_at(1000) <= time_mono_usec());
	assert_true(time_mono_at(999) <= time_mono_usec());
	assert_int_equal(time_mono_at(1001), INT64_MAX);
	time_set_advancing(1);
	assert_true(time_mono_at(time_now() - 5) <= time_mono_usec() -
	    4 * 1000000LL);
	at = time_mono_at(time_now() + 10);
	assert_true(at > time_mono_usec());
	assert_true(at <= time_mono_usec() + 10 * 1000000LL);
	assert_int_equal(time_mono_at(INT64_MAX - 5), INT64_MAX);
	time_set_advancing(0);
}

/* A monotonic wait whose time has come returns ETIMEDOUT at once. */
static void
test_cond_wait(void **state)
{
	pthread_mutex_t	 lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t	 cond;

	time_cond_init(&cond);
	pthread_mutex_lock(&lock);
	assert_int_equal(time_cond_wait(&cond, &lock, time_mono_usec() -
	    1000), ETIMEDOUT);
	assert_int_equal(time_cond_wait(&cond, &lock, time_mono_usec() +
	    1000), ETIMEDOUT);
	pthread_mutex_unlock(&lock);
	pthread_cond_destroy(&cond);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_bad_durations),
		cmocka_unit_test(test_duration_format),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_bad_times),
		cmocka_unit_test(test_mono_real),
		cmocka_unit_test(test_clock),
		cmocka_unit_test(test_mono_pinned),
		cmocka_unit_test(test_cond_wait),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
