/*
 * Unit tests for the second part of the rule language (SPEC §14): event
 * selectors with where and prop(), paths, arithmetic, in, string
 * functions, now and time(), since_first, account reads from user
 * journeys, segments and the stage-name check. Every expression is run
 * twice, as the tick runs them: on its own, and over shared reads (a
 * subquery computing each read once, reads of the same events packed in
 * one scan); both must select the same subjects.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "insight/insight.h"

#define NOW	1772355600LL		/* 2026-03-01T09:00:00Z */
#define DAY	86400LL

static sqlite3		*db;
static struct stage	 rider_stages[] = {
	{ "new", 2 * DAY }, { "first_ride", 0 }, { "frequent", 0 }
};
static struct stage	 b2b_stages[] = { { "onboarding", 0 }, { "adoption", 0 } };
static struct journey	 journeys[] = {
	{ .name = "rider", .subject = SUBJECT_USER, .stages = rider_stages,
	  .nstages = 3 },
	{ .name = "b2b", .subject = SUBJECT_ACCOUNT, .stages = b2b_stages,
	  .nstages = 2 },
};
static struct segment	 segments[] = {
	{ "paying", "attr('plan') in ('pro', 'team')", "j.conf", 3 },
	{ "buyer", "segment('paying') and count('Order Completed') >= 2",
	  "j.conf", 4 },
	{ "loop_a", "segment('loop_b')", "j.conf", 5 },
	{ "loop_b", "true and segment('loop_a')", "j.conf", 6 },
	{ "bad", "attr('plan') ==", "j.conf", 7 },
	{ "big", "users() >= 2", "j.conf", 8 },
	{ "eur", "prop('currency') == 'EUR'", "j.conf", 9 },
};
static struct config	 conf = { .journeys = journeys, .njourneys = 2,
	.segments = segments, .nsegments = 7 };
/* The config expressions are compiled with (test_days changes it). */
static struct config	*cur = &conf;

/* Run SQL that must succeed. */
static void
exec_ok(const char *sql)
{
	char	*msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
}

/* The users: traits of every type, nested ones, an escaped string; their
 * events with properties; an account. */
static int
setup_db(void **state)
{
	char	 err[256];
	char	*sql;

	(void)state;
	if ((db = store_open(":memory:", err, sizeof err)) == NULL)
		fail_msg("store_open: %s", err);
	assert_int_equal(expr_register(db), 0);
	exec_ok("INSERT INTO subjects (sid, kind, id, traits, account, created)"
	    " VALUES "
	    "(1, 0, 'u1', '{\"plan\":\"pro\",\"email\":\"ann@acme.io\","
	    "\"address\":{\"city\":\"Berlin\",\"zip\":\"10115\"},"
	    "\"items\":[{\"sku\":\"A1\"},{\"sku\":\"B2\"}],\"score\":\"100\","
	    "\"n\":100,\"flag\":true,\"zero\":0,"
	    "\"trial_ends_at\":\"2026-03-04T09:00:00Z\","
	    "\"name\":\"Zo\\u00eb\",\"quote\":\"a\\\"b\","
	    "\"timezone\":\"Pacific/Kiritimati\"}', 10, 0),"
	    "(2, 0, 'u2', '{\"plan\":\"team\",\"email\":\"bob@other.com\","
	    "\"n\":7.5,\"flag\":false,\"trial_ends_at\":\"2026-03-01\","
	    "\"score\":100,\"address\":\"none\","
	    "\"timezone\":\"Pacific/Pago_Pago\"}', 10, 0),"
	    "(3, 0, 'u3', '{\"timezone\":\"Mars/Base\"}', NULL, 0),"
	    "(10, 1, 'a1', '{\"domain\":\"acme.io\",\"plan\":\"pro\","
	    "\"timezone\":\"Pacific/Pago_Pago\"}', NULL, 0),"
	    "(11, 1, 'a2', '{}', NULL, 0)");
	sql = xprintf("INSERT INTO events (subject, name, ts, props, msg) "
	    "VALUES "
	    "(1, 'Order Completed', %lld, "
	    "'{\"total\":150,\"currency\":\"EUR\"}', 'm1'),"
	    "(1, 'Order Completed', %lld, "
	    "'{\"total\":50,\"currency\":\"EUR\"}', 'm2'),"
	    "(1, 'Order Completed', %lld, "
	    "'{\"total\":\"200\",\"currency\":\"EUR\"}', 'm3'),"
	    "(1, 'Order Completed', %lld, "
	    "'{\"total\":120,\"currency\":\"USD\",\"coupon\":\"STAFF\"}', 'm4'),"
	    "(1, 'Order Completed', %lld, '{\"total\":true}', 'm5'),"
	    "(1, 'page', %lld, '{\"name\":\"Pricing\"}', 'm6'),"
	    "(1, 'cart', %lld, '{\"items\":[{\"sku\":\"A1\",\"price\":3},"
	    "{\"sku\":\"B2\",\"price\":4.5}]}', 'm7'),"
	    "(1, 'Order Completed', %lld, '{\"total\":999}', 'm8'),"
	    "(2, 'Order Completed', %lld, "
	    "'{\"total\":100,\"currency\":\"EUR\",\"coupon\":\"X\"}', 'm9'),"
	    "(2, 'page', %lld, '{\"name\":\"Home\"}', 'm10'),"
	    "(2, 'cart', %lld, NULL, 'm11'),"
	    /* 2026-02-27T09:30Z and 10:30Z: the 27th and the 28th in
	     * Kiritimati (UTC+14), the 26th twice in Pago Pago (UTC-11) */
	    "(1, 'visit', 1772184600, NULL, 'v1'),"
	    "(1, 'visit', 1772188200, NULL, 'v2'),"
	    "(2, 'visit', 1772184600, NULL, 'v3'),"
	    "(2, 'visit', 1772188200, NULL, 'v4'),"
	    /* 10:59Z and 11:00Z: the 27th twice in UTC, the 26th and the
	     * 27th in Pago Pago */
	    "(3, 'visit', 1772189940, NULL, 'v5'),"
	    "(3, 'visit', 1772190000, NULL, 'v6')",
	    NOW - DAY, NOW - 2 * DAY, NOW - 3 * DAY, NOW - 40 * DAY,
	    NOW - DAY, NOW - 5 * DAY, NOW - DAY, NOW + 60,
	    NOW - 10 * DAY, NOW - 3600, NOW - DAY);
	exec_ok(sql);
	free(sql);
	/* u1 was in a2, then joined a1 10 days ago; u2 joined a1 30 days ago,
	 * again 5 days ago, and moves to a2 tomorrow. */
	sql = xprintf("UPDATE subjects SET account_ts = %lld WHERE sid = 1;"
	    "UPDATE subjects SET account = 11, account_ts = %lld WHERE sid = 2;"
	    "INSERT INTO account_versions (subject, ts, account) VALUES "
	    "(1, %lld, 11), (1, %lld, 10), (2, %lld, 10), (2, %lld, 10), "
	    "(2, %lld, 11)", NOW - 10 * DAY, NOW + DAY, NOW - 20 * DAY,
	    NOW - 10 * DAY, NOW - 30 * DAY, NOW - 5 * DAY, NOW + DAY);
	exec_ok(sql);
	free(sql);
	sql = xprintf("INSERT INTO members (journey, subject, stage, status, "
	    "entered, stage_since) VALUES "
	    "('rider', 1, 'new', 0, %lld, %lld),"
	    "('rider', 2, 'first_ride', 0, %lld, %lld),"
	    "('b2b', 10, 'adoption', 0, %lld, %lld)",
	    NOW - 3 * DAY, NOW - 3 * DAY, NOW - 10 * DAY, NOW - DAY,
	    NOW - 20 * DAY, NOW - 5 * DAY);
	exec_ok(sql);
	free(sql);
	return 0;
}

/* Close the database. */
static int
teardown_db(void **state)
{
	(void)state;
	store_close(db);
	db = NULL;
	return 0;
}

/* The scope of an expression in journey name. */
static struct expr_scope
scope_of(const char *name)
{
	struct expr_scope	 scope = { SUBJECT_USER, cur, NULL, NULL };

	for (int i = 0; i < conf.njourneys; i++) {
		if (strcmp(journeys[i].name, name) == 0) {
			scope.subject = journeys[i].subject;
			scope.journey = &journeys[i];
		}
	}
	return scope;
}

/* Compile src in journey's scope, failing the test on an error. */
static struct expr *
compile_ok(const char *src, const char *journey)
{
	struct expr_scope	 scope = scope_of(journey);
	struct expr		*e;
	char			 err[256] = "";

	if ((e = expr_compile(src, &scope, err, sizeof err)) == NULL)
		fail_msg("%s: %s", src, err);
	return e;
}

/* The ids the query q selects, comma-separated. */
static char *
ids_of(struct sql *q, const char *journey, const char *src)
{
	struct buf	 ids;
	sqlite3_stmt	*st;
	int		 rc;

	buf_init(&ids);
	buf_add(&ids, "", 0);
	if (sqlite3_prepare_v2(db, q->text.s, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s: %s", src, sqlite3_errmsg(db), q->text.s);
	assert_int_equal(sql_bind(q, st, NOW, journey), 0);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (ids.len > 0)
			buf_puts(&ids, ",");
		buf_puts(&ids, (const char *)sqlite3_column_text(st, 0));
	}
	if (rc != SQLITE_DONE)
		fail_msg("%s: %s", src, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return buf_steal(&ids);
}

/* The ids of journey's kind for which src holds: on its own, and over
 * shared reads (*shared), as the tick's entry statement reads them. */
static char *
select_ids(const char *src, const char *journey, char **shared)
{
	struct expr		*e = compile_ok(src, journey);
	struct expr_scope	 scope = scope_of(journey);
	struct expr_share	 share = { NULL, 0 };
	struct sql		 q;
	char			*ids;

	sql_init(&q);
	buf_printf(&q.text, "SELECT s.id FROM " EXPR_FROM " WHERE s.kind = "
	    "%d AND ", scope.subject);
	expr_sql(e, &q);
	buf_puts(&q.text, " ORDER BY s.sid");
	ids = ids_of(&q, journey, src);
	sql_free(&q);

	/* As the tick's entry: every read registered first, the expression
	 * written over them, then the columns of the subquery. */
	expr_share_add(&share, e);
	sql_init(&q);
	q.share = &share;
	buf_puts(&q.text, "SELECT jd_id FROM (SELECT jd_id, ");
	expr_sql(e, &q);
	q.share = NULL;
	buf_puts(&q.text, " AS jd_ok FROM (SELECT s.sid AS jd_sid, s.id AS "
	    "jd_id");
	expr_share_columns(&share, &q);
	buf_printf(&q.text, " FROM " EXPR_FROM " WHERE s.kind = %d ORDER BY "
	    "s.sid LIMIT -1 OFFSET 0) LEFT JOIN members m ON m.journey = "
	    ":journey AND m.subject = jd_sid ORDER BY jd_sid) WHERE jd_ok",
	    scope.subject);
	*shared = ids_of(&q, journey, src);
	sql_free(&q);
	expr_share_free(&share);
	expr_free(e);
	return ids;
}

/* Assert which subjects src selects, both ways. */
static void
check_in(const char *src, const char *journey, const char *want)
{
	char	*shared, *got = select_ids(src, journey, &shared);

	if (strcmp(got, want) != 0 || strcmp(shared, want) != 0) {
		print_error("%s: got [%s], shared [%s], want [%s]\n", src, got,
		    shared, want);
		free(got);
		free(shared);
		fail();
	}
	free(got);
	free(shared);
}

/* Assert which users src selects, and which not (src) selects. */
static void
check(const char *src, const char *want, const char *want_not)
{
	char	*neg = xprintf("not (%s)", src);

	check_in(src, "rider", want);
	check_in(neg, "rider", want_not);
	free(neg);
}

/* Assert that src is refused in journey with exactly the message want. */
static void
refused(const char *src, const char *journey, const char *want)
{
	struct expr_scope	 scope = scope_of(journey);
	struct expr		*e;
	char			 err[256] = "(none)";

	e = expr_compile(src, &scope, err, sizeof err);
	if (e != NULL || strcmp(err, want) != 0) {
		print_error("%s\n  got:  %s\n  want: %s\n", src,
		    e != NULL ? "(compiled)" : err, want);
		expr_free(e);
		fail();
	}
}

/* where: the event's properties, each comparison of one type only. */
static void
test_where(void **state)
{
	(void)state;
	check("count('Order Completed' where prop('total') >= 100 and "
	    "prop('currency') == 'EUR', 30d) == 1", "u1,u2", "u3");
	/* "200" is a string and true a boolean: neither is >= 100 */
	check("count('Order Completed' where prop('total') >= 100) == 2",
	    "u1", "u2,u3");
	check("count('Order Completed' where prop('total') == '200') == 1",
	    "u1", "u2,u3");
	check("count('Order Completed' where prop('total') == true) >= 1",
	    "u1", "u2,u3");
	check("count('Order Completed' where prop('total') < 2) >= 1", "",
	    "u1,u2,u3");
	/* the event in the future does not exist */
	check("count('Order Completed' where prop('total') == 999) >= 1", "",
	    "u1,u2,u3");
	/* not of an absent coupon is true, != of it false (SPEC §14.1) */
	check("sum('Order Completed' where not (prop('coupon') == 'STAFF'), "
	    "'total', 90d) == 200", "u1", "u2,u3");
	check("sum('Order Completed' where prop('coupon') != 'STAFF', "
	    "'total', 90d) == 100", "u2", "u1,u3");
	check("since('page' where prop('name') == 'Pricing') == 5d", "u1",
	    "u2,u3");
	check("since('page' where prop('name') == 'Nowhere') >= 0", "",
	    "u1,u2,u3");
	check("count('page' where prop('missing') == 1) == 0", "u1,u2,u3",
	    "");
	/* the condition reads the subject's traits and now too */
	check("count('Order Completed' where prop('currency') == 'EUR' and "
	    "attr('plan') == 'pro' and now > 0) == 3", "u1", "u2,u3");
	check("count('cart' where prop('items[1].sku') == 'B2') == 1", "u1",
	    "u2,u3");
	/* a segment that reads the event */
	check("count('Order Completed' where segment('eur')) == 3", "u1",
	    "u2,u3");
	/* counts of one name with other filters and windows share a scan */
	check("count('Order Completed' where prop('currency') == 'EUR', 30d) "
	    "== 3 and count('Order Completed' where prop('currency') == "
	    "'USD') == 1 and since('Order Completed') == 1d and "
	    "since_first('Order Completed') == 40d and "
	    "sum('Order Completed', 'total', 2d) == 200", "u1", "u2,u3");
	check("count('Order Completed' where prop('currency') == 'EUR') >= 1 "
	    "and count('Order Completed' where prop('currency') == 'EUR', "
	    "30d) >= 1", "u1,u2", "u3");
}

/* Reads of one name's events, whatever their windows and conditions, are
 * one scan in shared queries: one column, each read a slot of it. */
static void
test_packed(void **state)
{
	struct expr		*e;
	struct expr_share	 share = { NULL, 0 };
	struct sql		 q;

	(void)state;
	e = compile_ok("count('Order Completed' where prop('currency') == "
	    "'EUR', 30d) >= 2 and count('Order Completed' where "
	    "prop('total') > 100) >= 3 and since('Order Completed') < 2d and "
	    "count('page') >= 1", "rider");
	expr_share_add(&share, e);
	sql_init(&q);
	q.share = &share;
	expr_sql(e, &q);
	q.share = NULL;
	assert_non_null(strstr(q.text.s, "jd_unpack(jd_x0, 0)"));
	assert_non_null(strstr(q.text.s, "jd_unpack(jd_x0, 1)"));
	assert_non_null(strstr(q.text.s, "jd_unpack(jd_x0, 2)"));
	assert_null(strstr(q.text.s, "jd_unpack(jd_x3"));
	buf_puts(&q.text, " FROM (SELECT s.sid AS jd_sid");
	expr_share_columns(&share, &q);
	/* one scan of all time: each count filtered by its own window */
	assert_non_null(strstr(q.text.s, "(SELECT jd_pack(count(*) FILTER "
	    "(WHERE e.ts >= :now - :p"));
	assert_null(strstr(q.text.s, "AS jd_x1"));
	assert_non_null(strstr(q.text.s, "AS jd_x3"));
	sql_free(&q);
	expr_share_free(&share);
	expr_free(e);
}

/* Values of different types never compare equal and never order. */
static void
test_types(void **state)
{
	(void)state;
	check("attr('score') >= 100", "u2", "u1,u3");
	check("attr('score') == '100'", "u1", "u2,u3");
	check("attr('score') != 100", "u1", "u2,u3");
	check("attr('score') < 'z'", "u1", "u2,u3");
	check("attr('flag') == true", "u1", "u2,u3");
	check("attr('flag') == false", "u2", "u1,u3");
	check("attr('zero') == false", "", "u1,u2,u3");
	check("attr('zero') < 1", "u1", "u2,u3");
	check("attr('flag') < 1 or attr('flag') >= 0", "", "u1,u2,u3");
	check("attr('flag') != 1", "u1,u2", "u3");
	check("attr('address') == 'none'", "u2", "u1,u3");
	check("attr('address') != 'none'", "u1", "u2,u3");
	check("attr('score') == attr('n')", "", "u1,u2,u3");
	check("attr('plan') == account.attr('plan')", "u1", "u2,u3");
	check("attr('plan') != account.attr('plan')", "u2", "u1,u3");
	check("attr('n') > attr('zero')", "u1", "u2,u3");
	check("attr('name') == 'Zo\u00eb'", "u1", "u2,u3");
	check("attr('quote') == 'a\"b'", "u1", "u2,u3");
	check("attr('name') > 'Zo'", "u1", "u2,u3");
}

/* Paths: dots into objects, [n] into arrays. */
static void
test_paths(void **state)
{
	(void)state;
	check("attr('address.city') == 'Berlin'", "u1", "u2,u3");
	check("has('address.zip')", "u1", "u2,u3");
	check("attr('items[1].sku') == 'B2'", "u1", "u2,u3");
	check("attr('items[0].sku') != 'B2'", "u1", "u2,u3");
	check("attr('items[5].sku') == 'B2'", "", "u1,u2,u3");
	check("attr('address.city.x') == 'Berlin'", "", "u1,u2,u3");
	check("sum('cart', 'items[1].price') == 4.5", "u1", "u2,u3");
	check("sum('cart', 'items[0].price', 7d) == 3", "u1", "u2,u3");
	check("sum('cart', 'items[0].price') == 0", "u2,u3", "u1");
	refused("attr('a..b') == 1", "rider", "the trait path 'a..b' has an "
	    "empty name (write 'address.city' or 'items[0].sku') at "
	    "column 6");
	refused("attr('items[x]') == 1", "rider", "the trait path 'items[x]' "
	    "has a bad index (use [0], [1], ...) (write 'address.city' or "
	    "'items[0].sku') at column 6");
	refused("attr('a[0]b') == 1", "rider", "the trait path 'a[0]b' has a "
	    "']' out of place (write 'address.city' or 'items[0].sku') at "
	    "column 6");
	refused("sum('e', '') == 1", "rider", "the property path '' is empty "
	    "(write 'address.city' or 'items[0].sku') at column 10");
}

/* * / %: real division, remainder of truncated integers, by 0 absent. */
static void
test_arithmetic(void **state)
{
	(void)state;
	check("attr('n') * 2 == 200", "u1", "u2,u3");
	check("attr('n') / 4 == 25 and 7 / 2 == 3.5", "u1", "u2,u3");
	check("attr('n') / 8 == 12.5", "u1", "u2,u3");
	check("7 % 3 == 1 and 7.9 % 2 == 1 and -7 % 3 == -1 and 2 + 3 * 4 "
	    "== 14 and (2 + 3) * 4 == 20 and 8 / 2 / 2 == 2 and 2 * -3 == -6",
	    "u1,u2,u3", "");
	check("attr('n') / 0 > 0 or attr('n') / 0 <= 0", "", "u1,u2,u3");
	check("attr('n') % 0 == 0 or 1 % 0.5 == 0", "", "u1,u2,u3");
	check("attr('score') * 1 == 100", "u2", "u1,u3");
	check("count('Order Completed') / count('page') >= 4", "u1",
	    "u2,u3");
	check("count('page') / count('nothing') >= 0", "", "u1,u2,u3");
	refused("'a' * 2 == 1", "rider", "cannot do arithmetic on a string "
	    "at column 1");
	refused("2 % has('x') == 1", "rider", "cannot do arithmetic on a "
	    "boolean at column 5");
}

/* x in (...): equal to one of the literals, of its type. */
static void
test_in(void **state)
{
	(void)state;
	check("attr('plan') in ('pro', 'team')", "u1,u2", "u3");
	check("attr('score') in ('100', 3)", "u1", "u2,u3");
	check("attr('score') in (100, 'x', true)", "u2", "u1,u3");
	check("attr('n') in (7.5, -1)", "u2", "u1,u3");
	check("attr('flag') in (false)", "u2", "u1,u3");
	check("stage('rider') in ('new', 'frequent')", "u1", "u2,u3");
	check("count('page') in (1, 2)", "u1,u2", "u3");
	check("lower(attr('plan')) in ('pro')", "u1", "u2,u3");
	check("account.attr('domain') in ('acme.io')", "u1,u2", "u3");
	refused("count('page') in ('a')", "rider", "cannot compare a number "
	    "with a string at column 19");
	refused("attr('plan') in (attr('x'))", "rider", "the list after 'in' "
	    "holds numbers, strings, true and false at column 18");
	refused("attr('plan') in 'pro'", "rider", "expected '(' after 'in' "
	    "at column 17");
	refused("stage('rider') in ('new', 'payng')", "rider",
	    "journey 'rider' has no stage 'payng' at column 27");
}

/* contains, starts_with, ends_with (no wildcards), lower. */
static void
test_strings(void **state)
{
	(void)state;
	check("contains(attr('email'), '@acme')", "u1", "u2,u3");
	check("contains(attr('email'), 'ANN')", "", "u1,u2,u3");
	check("contains(attr('email'), 'a%n') or contains(attr('email'), "
	    "'a_n') or starts_with(attr('email'), '%') or "
	    "ends_with(attr('email'), '_')", "", "u1,u2,u3");
	check("starts_with(attr('email'), 'ann')", "u1", "u2,u3");
	check("starts_with(attr('email'), '')", "u1,u2", "u3");
	check("ends_with(attr('email'), '.com')", "u2", "u1,u3");
	check("ends_with(attr('email'), account.attr('domain'))", "u1",
	    "u2,u3");
	check("ends_with(attr('email'), 'ann@acme.io.x')", "", "u1,u2,u3");
	check("lower('AbC') == 'abc' and lower(attr('plan')) == 'pro'", "u1",
	    "u2,u3");
	check("contains(lower(stage('rider')), 'first')", "u2", "u1,u3");
	check("contains(attr('score'), '10')", "u1", "u2,u3");
	check("contains(attr('n'), '1')", "", "u1,u2,u3");
	refused("contains(count('x'), 'a')", "rider", "argument 1 of "
	    "contains() must be a string, got a number at column 10");
	refused("lower(1) == 'a'", "rider", "argument 1 of lower() must be a "
	    "string, got a number at column 7");
}

/* now and time(): ISO 8601 into seconds, absent when it does not parse. */
static void
test_time(void **state)
{
	(void)state;
	check("now == 1772355600", "u1,u2,u3", "");
	check("time(attr('trial_ends_at')) - now <= 3d", "u1,u2", "u3");
	check("time(attr('trial_ends_at')) - now < 3d", "u2", "u1,u3");
	check("time(attr('trial_ends_at')) == now - 9h", "u2", "u1,u3");
	check("time('2026-03-01T10:00:00+01:00') == now and "
	    "time('2026-03-01T10:00:00+0100') == now and "
	    "time('2026-03-01T04:00:00-0500') == now and "
	    "time('2026-03-01T09:00:00Z') == now and "
	    "time('2026-03-01T09:00:00.75Z') == now and "
	    "time('2026-03-01 09:00:00') == now and "
	    "time('2026-03-01') == now - 9h", "u1,u2,u3", "");
	check("time('garbage') > 0 or time('2026-02-30') > 0 or "
	    "time('2026-03-01T09:00:00+01') > 0 or time('@1772355600') > 0 or "
	    "time('now') > 0 or time('2026-3-1') > 0", "", "u1,u2,u3");
	check("time(attr('plan')) > 0", "", "u1,u2,u3");
	check("time(attr('n')) > 0", "", "u1,u2,u3");
}

/* The forms time_parse() reads (SPEC §13.1), time() reads the same, and
 * refuses what it refuses. A bare date is time()'s alone (§14.2): an
 * import's timestamp or --now wants a time. */
static void
test_time_agrees(void **state)
{
	static const char *forms[] = {
		"2026-03-01T09:00:00Z", "2026-03-01T10:00:00+01:00",
		"2026-03-01 09:00:00Z", "2026-03-01T09:00:00.5Z",
		"2024-02-29T12:00:00Z", "2026-02-29T12:00:00Z",
		"2026-03-01T09:00Z", "2026-13-01T09:00:00Z", "junk",
		"2026-03-01t09:00:00Z", "2026-03-01T10:00:00+0100",
		"2026-03-01T04:00:00-0500", "2026-03-01T09:00:00.123456Z",
		"2026-03-01T10:00:00.5+01:00", "2026-03-01T09:00:00+01",
	};
	sqlite3_stmt	*st;
	int64_t		 t;

	(void)state;
	st = store_prepare(db, "SELECT unixepoch(jd_iso(?1))");
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		int parsed = time_parse(forms[i], &t) == 0;

		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, forms[i], -1, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		if (parsed != (sqlite3_column_type(st, 0) != SQLITE_NULL) ||
		    (parsed && sqlite3_column_int64(st, 0) != t))
			fail_msg("%s: time_parse %s, time() %s", forms[i],
			    parsed ? "reads it" : "does not",
			    sqlite3_column_type(st, 0) != SQLITE_NULL ?
			    "reads it" : "does not");
	}
	sqlite3_finalize(st);
}

/* since_first; account reads from a user journey. */
static void
test_reads(void **state)
{
	(void)state;
	check("since_first('Order Completed') == 40d", "u1", "u2,u3");
	check("since_first('page') < 1d", "u2", "u1,u3");
	check("since_first('nothing') >= 0", "", "u1,u2,u3");
	check("account.since_first('page') == 5d", "u1,u2", "u3");
	check("account.users() == 2", "u1,u2", "u3");
	check("account.users() == 0", "u3", "u1,u2");
	check("account.active_users(2d) == 2", "u1,u2", "u3");
	check("account.active_users(2h) == 1", "u1,u2", "u3");
	check("account.count('Order Completed' where prop('currency') == "
	    "'EUR') == 4", "u1,u2", "u3");
	check_in("since_first('page') == 5d and users() == 2", "b2b", "a1");
	check_in("not (since_first('page') == 5d)", "b2b", "a2");
	/* the membership of now: u2 moves tomorrow */
	check("since_joined() == 10d", "u1", "u2,u3");
	check("since_joined() == 30d and account.attr('domain') == 'acme.io'",
	    "u2", "u1,u3");
	check("since_joined() >= 0", "u1,u2", "u3");
	refused("since_joined() > 1d", "b2b", "since_joined() is only "
	    "available in a user journey at column 1");
	refused("account.users() == 1", "b2b", "account.users() is not "
	    "available in an account journey at column 1");
	refused("users() == 1", "rider", "users() is only available in an "
	    "account journey at column 1");
}

/* days(): distinct local dates, in the subject's time zone (its timezone
 * trait, else default_timezone, else UTC), across the date line. */
static void
test_days(void **state)
{
	struct config	 with_default = conf;
	char		*shared, *got;

	(void)state;
	/* u1 in Kiritimati, u2 in Pago Pago, u3 in an unknown zone: UTC */
	check("days('visit', 30d) == 2", "u1", "u2,u3");
	check("days('visit', 30d) == 1", "u2,u3", "u1");
	check("days('visit', 1d) >= 1", "", "u1,u2,u3");
	check("days('visit' where now > 0) == 2 and days('nothing') == 0",
	    "u1", "u2,u3");
	/* active_days: any event (the order exactly 3 days ago too) */
	check("active_days(3d) == 3", "u1,u2", "u3");
	check("active_days(3d) == 1", "u3", "u1,u2");
	/* the account's days, in the account's zone (Pago Pago): u1's
	 * visits are on the 26th there */
	check("account.days('visit', 30d) == 1 and account.active_days(1d) "
	    "== 2", "u1,u2", "u3");
	check_in("days('visit', 30d) == 1", "b2b", "a1");
	check_in("days('visit', 30d) == 0", "b2b", "a2");
	/* a default zone for those without a known one */
	with_default.default_timezone = "Pacific/Pago_Pago";
	cur = &with_default;
	check("days('visit', 30d) == 2", "u1,u3", "u2");
	got = select_ids("days('visit', 30d) + count('visit', 30d) == 4 and "
	    "since('visit') > 0", "rider", &shared);
	assert_string_equal(got, "u1,u3");
	assert_string_equal(shared, "u1,u3");
	free(got);
	free(shared);
	cur = &conf;
	refused("days('visit', 30) >= 1", "rider", "the window of days() "
	    "must be a duration like 30d at column 15");
	refused("active_days('visit') >= 1", "rider", "the window of "
	    "active_days() must be a duration like 30d at column 13");
}

/* Named segments, in any expression; one may use another. */
static void
test_segments(void **state)
{
	(void)state;
	check("segment('paying')", "u1,u2", "u3");
	check("segment('buyer')", "u1", "u2,u3");
	check("segment('paying') and not segment('buyer')", "u2", "u1,u3");
	check_in("segment('paying')", "b2b", "a1");
	check_in("segment('big')", "b2b", "a1");
	refused("segment('nope')", "rider", "unknown segment 'nope' at "
	    "column 1");
	refused("true and segment('loop_a')", "rider", "segment 'loop_a' uses "
	    "itself (loop_a -> loop_b -> loop_a) at column 10");
	refused("segment('bad')", "rider", "in segment 'bad' (j.conf:7: "
	    "expected a value at column 16), used at column 1");
	refused("segment('big')", "rider", "in segment 'big' (j.conf:8: "
	    "users() is only available in an account journey at column 1), "
	    "used at column 1");
	refused("segment('eur')", "rider", "in segment 'eur' (j.conf:9: "
	    "prop() reads a property of an event: use it after 'where' in an "
	    "event selector at column 1), used at column 1");
	refused("segment(5)", "rider", "argument 1 of segment() must be a "
	    "quoted string at column 9");
}

/* Errors of event selectors and the stage-name check. */
static void
test_errors(void **state)
{
	(void)state;
	refused("prop('total') > 1", "rider", "prop() reads a property of an "
	    "event: use it after 'where' in an event selector at column 1");
	refused("count('e' where count('f') > 1) > 1", "rider", "count() "
	    "cannot be used after 'where': the condition reads the event's "
	    "prop() and the subject's attr(), not counts at column 17");
	refused("count('e' where since('f') > 1d) > 1", "rider", "since() "
	    "cannot be used after 'where': the condition reads the event's "
	    "prop() and the subject's attr(), not counts at column 17");
	refused("count('e' where prop('x')) > 1", "rider", "the condition "
	    "after 'where' must be a boolean, got a trait at column 17");
	refused("attr('x' where true) == 1", "rider", "'where' only follows "
	    "the event name of count(), sum(), since(), since_first() or "
	    "days() at column 16");
	refused("count(attr('x') where true) > 1", "rider", "'where' follows "
	    "an event name in quotes at column 17");
	refused("count('e' where) > 1", "rider", "unexpected ')' at column 16");
	refused("count('e') > 1 where true", "rider", "unexpected 'where' at "
	    "column 16");
	refused("stage('rider') == 'payng'", "rider", "journey 'rider' has no "
	    "stage 'payng' at column 19");
	refused("'nope' != stage('rider')", "rider", "journey 'rider' has no "
	    "stage 'nope' at column 1");
	refused("account.stage('b2b') == 'onbording'", "rider", "journey "
	    "'b2b' has no stage 'onbording' at column 25");
	refused("now() > 1", "rider", "'now' is not a function at column 1");
	refused("count('a') > 1 in (1)", "rider", "unexpected 'in' at "
	    "column 16");
}

/* Explain: durations, times, booleans, not and segments as written. */
static void
test_explain(void **state)
{
	static const struct {
		const char	*src;
		const char	*id;
		const char	*want;
		int		 holds;
	} cases[] = {
		{ "since('page') >= 2d", "u1",
		  "since('page') = 5d (needs >= 2d): yes\n", 1 },
		{ "since_first('Order Completed') < 385200", "u1",
		  "since_first('Order Completed') = 40d (needs < 385200): no\n",
		  0 },
		{ "time(attr('trial_ends_at')) - now <= 3d", "u2",
		  "time(attr('trial_ends_at')) - now = -9h (needs <= 3d): "
		  "yes\n", 1 },
		{ "time(attr('trial_ends_at')) > now", "u1",
		  "time(attr('trial_ends_at')) = 2026-03-04T09:00:00Z (needs > "
		  "now, which is 2026-03-01T09:00:00Z): yes\n", 1 },
		{ "not (attr('plan') == 'pass') and attr('flag') == true",
		  "u1",
		  "not (attr('plan') == 'pass'): yes\n"
		  "  attr('plan') = 'pro' (needs == 'pass'): no\n"
		  "attr('flag') = true (needs == true): yes\n", 1 },
		{ "attr('plan') in ('pro', 'team') and attr('name') == 'x'",
		  "u1",
		  "attr('plan') = 'pro' (needs in ('pro', 'team')): yes\n"
		  "attr('name') = 'Zo\u00eb' (needs == 'x'): no\n", 0 },
		{ "segment('buyer') or attr('n') / 0 > 1", "u2",
		  "segment('buyer'): no\n"
		  "  segment('paying'): yes\n"
		  "    attr('plan') = 'team' (needs in ('pro', 'team')): yes\n"
		  "  count('Order Completed') = 1 (needs >= 2): no\n"
		  "attr('n') / 0 = absent (needs > 1): no\n", 0 },
		{ "not not contains(attr('email'), 'acme')", "u1",
		  "not not contains(attr('email'), 'acme'): yes\n"
		  "  not contains(attr('email'), 'acme'): no\n"
		  "    contains(attr('email'), 'acme'): yes\n", 1 },
		{ "stage_age == 86400 + 2d", "u1",
		  "stage_age = 3d (needs == 86400 + 2d, which is 3d): yes\n",
		  1 },
		{ "attr('address') == 'x'", "u1",
		  "attr('address') = {\"city\":\"Berlin\",\"zip\":\"10115\"} "
		  "(needs == 'x'): no\n", 0 },
	};
	struct expr	*e;
	struct buf	 out;
	int		 holds, failed = 0;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		e = compile_ok(cases[i].src, "rider");
		buf_init(&out);
		assert_int_equal(expr_explain(e, db, store_subject(db,
		    cases[i].id, NULL), NOW, "rider", 0, &out, &holds), 0);
		if (strcmp(out.s, cases[i].want) != 0 ||
		    holds != cases[i].holds) {
			print_error("%s\ngot (%d):\n%swant (%d):\n%s",
			    cases[i].src, holds, out.s, cases[i].holds,
			    cases[i].want);
			failed = 1;
		}
		buf_free(&out);
		expr_free(e);
	}
	if (failed)
		fail();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_where),
		cmocka_unit_test(test_packed),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_arithmetic),
		cmocka_unit_test(test_in),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_time_agrees),
		cmocka_unit_test(test_reads),
		cmocka_unit_test(test_days),
		cmocka_unit_test(test_segments),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_explain),
	};

	return cmocka_run_group_tests(tests, setup_db, teardown_db);
}
