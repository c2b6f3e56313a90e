/*
 * Unit tests for the rule language: errors with their columns, and what the
 * compiled SQL selects from a small database built by hand.
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

#define NOW	10000000LL
#define DAY	86400LL

static sqlite3		*db;
static struct stage	 rider_stages[] = {
	{ "new", 2 * DAY }, { "first_ride", 0 }, { "frequent", 0 },
	{ "pass_member", 0 }
};
static struct stage	 b2b_stages[] = {
	{ "onboarding", 14 * DAY }, { "adoption", 0 }, { "renewal", 0 }
};
static struct stage	 plain_stages[] = { { "a", 0 }, { "b", 0 } };
static struct journey	 journeys[] = {
	{ .name = "rider", .subject = SUBJECT_USER, .stages = rider_stages,
	  .nstages = 4 },
	{ .name = "b2b", .subject = SUBJECT_ACCOUNT, .stages = b2b_stages,
	  .nstages = 3 },
	{ .name = "plain", .subject = SUBJECT_USER, .stages = plain_stages,
	  .nstages = 2 },
};
static struct config	 conf = { .journeys = journeys, .njourneys = 3 };

/* The scope of a rule in journey name (users or accounts by its subject). */
static struct expr_scope
scope_of(const char *name)
{
	struct expr_scope	 scope = { SUBJECT_USER, &conf, NULL, NULL };

	for (int i = 0; i < conf.njourneys; i++) {
		if (strcmp(journeys[i].name, name) == 0) {
			scope.subject = journeys[i].subject;
			scope.journey = &journeys[i];
		}
	}
	return scope;
}

/* Run SQL that must succeed. */
static void
exec_ok(const char *sql)
{
	char	*msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
}

/* Build the database: users, accounts, events and memberships. */
static int
setup_db(void **state)
{
	char	 err[256];
	char	*sql;

	if ((db = store_open(":memory:", err, sizeof err)) == NULL)
		fail_msg("store_open: %s", err);
	assert_int_equal(expr_register(db), 0);
	exec_ok("INSERT INTO subjects (sid, kind, id, traits, account, created)"
	    " VALUES "
	    "(1, 0, 'u1', '{\"plan\":\"basic\",\"vip\":true,\"seats\":5,"
	    "\"email\":\"a@x\"}', 10, 0),"
	    "(2, 0, 'u2', '{\"plan\":\"pass\",\"vip\":false}', 10, 0),"
	    "(3, 0, 'u3', '{}', NULL, 0),"
	    "(4, 0, 'u4', '{\"plan\":\"pass\",\"seats\":2.5}', 11, 0),"
	    "(10, 1, 'a1', '{\"name\":\"Acme\",\"tier\":\"gold\"}', NULL, 0),"
	    "(11, 1, 'a2', '{}', NULL, 0)");
	sql = xprintf("INSERT INTO events (subject, name, ts, props, msg) "
	    "VALUES "
	    "(1, 'ride', %lld, NULL, 'm1'),"		/* exactly 30d ago */
	    "(1, 'ride', %lld, NULL, 'm2'),"		/* one day ago */
	    "(1, 'ride', %lld, NULL, 'm3'),"		/* 30d and 1s ago */
	    "(1, 'ride', %lld, NULL, 'm4'),"		/* in the future */
	    "(1, 'signup', %lld, NULL, 'm5'),"
	    "(1, 'purchase', %lld, '{\"fare\":12.5}', 'm6'),"
	    "(1, 'purchase', %lld, '{\"fare\":7.5}', 'm7'),"
	    "(1, 'purchase', %lld, '{\"other\":1}', 'm8'),"
	    "(2, 'ride', %lld, NULL, 'm9'),"
	    "(2, 'ride', %lld, NULL, 'm10'),"		/* exactly now */
	    "(2, 'purchase', %lld, '{\"fare\":5}', 'm11'),"
	    "(3, 'signup', %lld, NULL, 'm12'),"	/* in the future */
	    "(4, 'ride', %lld, NULL, 'm13')",
	    NOW - 30 * DAY, NOW - DAY, NOW - 30 * DAY - 1, NOW + 1,
	    NOW - 40 * DAY, NOW - DAY, NOW - 2 * DAY, NOW - DAY,
	    NOW - 2 * DAY, NOW, NOW - 3 * DAY, NOW + 10, NOW - 100 * DAY);
	exec_ok(sql);
	free(sql);
	sql = xprintf("INSERT INTO members (journey, subject, stage, status, "
	    "entered, stage_since) VALUES "
	    "('rider', 1, 'new', 0, %lld, %lld),"
	    "('rider', 2, 'first_ride', 0, %lld, %lld),"
	    "('rider', 3, 'new', 2, %lld, %lld),"
	    "('rider', 4, 'pass_member', 1, %lld, %lld),"
	    "('plain', 1, 'a', 0, %lld, %lld),"
	    "('b2b', 10, 'onboarding', 0, %lld, %lld),"
	    "('b2b', 11, 'onboarding', 0, %lld, %lld)",
	    NOW - 3 * DAY, NOW - 3 * DAY, NOW - 10 * DAY, NOW - DAY,
	    NOW - 50 * DAY, NOW - 50 * DAY, NOW - 90 * DAY, NOW - 5 * DAY,
	    NOW - DAY, NOW - DAY, NOW - 20 * DAY, NOW - 15 * DAY,
	    NOW - 13 * DAY, NOW - 13 * DAY);
	exec_ok(sql);
	free(sql);
	return 0;
}

/* Close the database. */
static int
teardown_db(void **state)
{
	store_close(db);
	db = NULL;
	return 0;
}

/* Compile src in journey's scope, failing the test on an error. */
static struct expr *
compile_ok(const char *src, const struct expr_scope *scope)
{
	struct expr	*e;
	char		 err[256] = "";

	if ((e = expr_compile(src, scope, err, sizeof err)) == NULL)
		fail_msg("%s: %s", src, err);
	assert_int_equal(expr_type(e), EXPR_BOOL);
	return e;
}

/* The ids of the subjects of journey's kind for which src holds, at now. */
static char *
select_ids(const char *src, const char *journey, int64_t now)
{
	struct expr_scope	 scope = scope_of(journey);
	struct expr		*e = compile_ok(src, &scope);
	struct sql		 q;
	struct buf		 ids;
	sqlite3_stmt		*st;
	int			 rc;

	sql_init(&q);
	buf_init(&ids);
	buf_puts(&q.text, "SELECT s.id FROM " EXPR_FROM " WHERE s.kind = ");
	sql_add_int(&q, scope.subject);
	buf_puts(&q.text, " AND ");
	expr_sql(e, &q);
	buf_puts(&q.text, " ORDER BY s.sid");
	if (sqlite3_prepare_v2(db, q.text.s, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sqlite3_errmsg(db), q.text.s);
	assert_int_equal(sql_bind(&q, st, now, journey), 0);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (ids.len > 0)
			buf_puts(&ids, ",");
		buf_puts(&ids, (const char *)sqlite3_column_text(st, 0));
	}
	if (rc != SQLITE_DONE)
		fail_msg("%s: %s", src, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	sql_free(&q);
	expr_free(e);
	return buf_steal(&ids);
}

/* Assert which subjects of journey's kind src selects. */
static void
check_ids(const char *src, const char *journey, const char *want)
{
	char	*got = select_ids(src, journey, NOW);

	if (strcmp(got, want) != 0) {
		print_error("%s: got [%s], want [%s]\n", src, got, want);
		free(got);
		fail();
	}
	free(got);
}

/* Rows of "sid, e0, e1, ..." of the users, as text, from query q. */
static char *
rows_of(struct sql *q)
{
	struct buf	 out;
	sqlite3_stmt	*st;

	buf_init(&out);
	if (sqlite3_prepare_v2(db, q->text.s, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sqlite3_errmsg(db), q->text.s);
	assert_int_equal(sql_bind(q, st, NOW, "rider"), 0);
	while (sqlite3_step(st) == SQLITE_ROW) {
		for (int c = 0; c < sqlite3_column_count(st); c++)
			buf_printf(&out, "%s%s", c > 0 ? "," : "",
			    (const char *)sqlite3_column_text(st, c));
		buf_puts(&out, ";");
	}
	sqlite3_finalize(st);
	return buf_steal(&out);
}

/* Shared reads: each distinct read once, as a column of a subquery over
 * the subjects; the expressions over them hold where they held before. */
static void
test_share(void **state)
{
	static const char *const src[] = {
		"count('ride', 30d) >= 2 and attr('plan') == 'basic'",
		"count('ride', 30d) >= 2 or attr('plan') == 'pass'",
		"since('ride') < 2d and count('ride', 30d) >= 1",
		"has('vip') and attr('vip') == false",
		/* implied where count('ride', 30d) > 0, else looked for:
		 * u4's only ride is 100 days old */
		"count('ride') >= 1",
		"count('ride') == 0",
	};
	struct expr_scope	 scope = scope_of("rider");
	struct expr		*e[6], *x;
	struct expr_share	 share = { NULL, 0 };
	struct sql		 q, plain;
	char			*got, *want;

	sql_init(&q);
	sql_init(&plain);
	buf_puts(&q.text, "SELECT jd_sid");
	buf_puts(&plain.text, "SELECT s.sid");
	for (int i = 0; i < 6; i++) {
		e[i] = compile_ok(src[i], &scope);
		q.share = &share;
		buf_puts(&q.text, ", ");
		expr_sql(e[i], &q);
		q.share = NULL;
		buf_puts(&plain.text, ", ");
		expr_sql(e[i], &plain);
	}
	/* count 30d, plan; since, exists 30d; has vip, vip; exists, not */
	assert_int_equal(share.n, 8);
	/* the existence tests are written over the count, not as columns */
	assert_non_null(strstr(q.text.s, "CASE WHEN jd_x0 > 0 THEN 1 ELSE "
	    "(EXISTS"));
	assert_non_null(strstr(q.text.s, "CASE WHEN jd_x0 > 0 THEN 0 ELSE "
	    "(NOT EXISTS"));
	buf_puts(&q.text, " FROM (SELECT s.sid AS jd_sid");
	expr_share_columns(&share, &q);
	buf_puts(&q.text, " FROM " EXPR_FROM " WHERE s.kind = 0 ORDER BY "
	    "s.sid LIMIT -1 OFFSET 0)");
	buf_puts(&plain.text, " FROM " EXPR_FROM " WHERE s.kind = 0 ORDER BY "
	    "s.sid");
	got = rows_of(&q);
	want = rows_of(&plain);
	assert_string_equal(got, want);
	assert_string_equal(want,
	    "1,1,1,1,0,1,0;2,0,1,1,1,1,0;3,0,0,0,0,0,1;4,0,1,0,0,1,0;");
	assert_null(strstr(q.text.s, "AS jd_x3"));	/* exists 30d */

	x = compile_ok("attr('plan') == 'x' and count('ride', 30d) > 5",
	    &scope);
	assert_true(expr_share_covers(&share, x));
	expr_free(x);
	x = compile_ok("stage_age > 1d or true", &scope);
	assert_true(expr_share_covers(&share, x));
	expr_free(x);
	x = compile_ok("count('signup') > 1", &scope);
	assert_false(expr_share_covers(&share, x));
	expr_free(x);
	x = compile_ok("count('ride', 7d) > 1", &scope);
	assert_false(expr_share_covers(&share, x));
	expr_free(x);

	for (int i = 0; i < 6; i++)
		expr_free(e[i]);
	expr_share_free(&share);
	free(got);
	free(want);
	sql_free(&q);
	sql_free(&plain);
}

struct bad {
	const char	*src;
	const char	*journey;
	const char	*msg;
};

/* Assert that each source is refused with its message. */
static void
check_errors(const struct bad *bad, size_t n)
{
	struct expr_scope	 scope;
	struct expr		*e;
	char			 err[256];
	int			 failed = 0;

	for (size_t i = 0; i < n; i++) {
		scope = scope_of(bad[i].journey);
		strcpy(err, "(none)");
		e = expr_compile(bad[i].src, &scope, err, sizeof err);
		if (e != NULL || strcmp(err, bad[i].msg) != 0) {
			print_error("%s\n  got:  %s\n  want: %s\n", bad[i].src,
			    e != NULL ? "(compiled)" : err, bad[i].msg);
			failed = 1;
		}
		expr_free(e);
	}
	if (failed)
		fail();
}

/* Lexical and syntax errors, with the column of the offending token. */
static void
test_syntax_errors(void **state)
{
	static const struct bad bad[] = {
		{ "", "rider", "empty expression at column 1" },
		{ "   ", "rider", "empty expression at column 4" },
		{ "(count('ride') >= 1", "rider",
		  "expected ')' at column 20" },
		{ "count('ride', 30d >= 1", "rider",
		  "expected ')' at column 23" },
		{ "count('ride'", "rider", "expected ')' at column 13" },
		/* SPEC §6's example: the syntax error, not the comparison
		 * of a string with a number the text would otherwise be;
		 * with the ')' there, that is the error. */
		{ "count('ride' >= 1", "rider", "expected ')' at column 18" },
		{ "count('ride' >= 1)", "rider",
		  "cannot compare a string with a number at column 14" },
		{ "count('ride' where 5", "rider",
		  "expected ')' at column 21" },
		{ "count('ride', 1y) >= 1 and 'a' + 1 >= (2", "rider",
		  "expected ')' at column 41" },
		{ "attr('plan", "rider", "unterminated string at column 6" },
		{ "attr('plan') == 'a", "rider",
		  "unterminated string at column 17" },
		{ "attr('a\\n') == 'x'", "rider",
		  "bad escape in string (only \\' and \\\\) at column 8" },
		{ "count('ride') >= 1 x", "rider", "unexpected 'x' at column 20" },
		{ "count('ride') >= 1)", "rider", "unexpected ')' at column 19" },
		{ "count('ride') >= 1 'x'", "rider",
		  "unexpected string at column 20" },
		{ "1 < 2 < 3", "rider", "unexpected '<' at column 7" },
		{ "cnt('ride') >= 1", "rider",
		  "unknown function 'cnt' at column 1" },
		{ "count('a') > 1 and foo", "rider",
		  "unknown name 'foo' at column 20" },
		{ "AND", "rider", "unknown name 'AND' at column 1" },
		{ "Count('a') > 1", "rider",
		  "unknown function 'Count' at column 1" },
		{ "account.foo('x') == 1", "rider",
		  "unknown function 'account.foo' at column 1" },
		{ "account.in_journey('rider')", "rider",
		  "unknown function 'account.in_journey' at column 1" },
		{ "account == 1", "rider",
		  "expected '.' after 'account' at column 9" },
		{ "account.5", "rider",
		  "expected a function after 'account.' at column 9" },
		{ "count == 1", "rider", "expected '(' after 'count' at column 7" },
		{ "stage_age() > 1", "rider",
		  "'stage_age' is not a function at column 1" },
		{ "count('a') = 1", "rider",
		  "unexpected '=' (use ==) at column 12" },
		{ "!has('a')", "rider",
		  "unexpected '!' (use not or !=) at column 1" },
		{ "count('a') >= 1 && true", "rider",
		  "unexpected character '&' at column 17" },
		{ "count('a') >= 1.5h", "rider", "bad number '1.5h' at column 15" },
		{ "count('a') >= 3x", "rider", "bad number '3x' at column 15" },
		{ "count('a') >= 99999999999999999999", "rider",
		  "number too large at column 15" },
		{ "count('a') >= 999999999999999999w", "rider",
		  "duration too large at column 15" },
		{ "count('a') >= ", "rider", "expected a value at column 15" },
		{ "count('a') >= 1 and", "rider",
		  "expected a value at column 20" },
		{ "true and and", "rider", "unexpected 'and' at column 10" },
		{ "count('a') >= ,", "rider", "unexpected ',' at column 15" },
		{ "()", "rider", "unexpected ')' at column 2" },
	};
	struct expr_scope	 scope = scope_of("rider");
	struct expr		*e;
	char			 err[256], src[1024];

	check_errors(bad, sizeof bad / sizeof bad[0]);

	/* Deep nesting is refused, not a stack overflow; 64 levels are fine. */
	memset(src, 0, sizeof src);
	memset(src, '(', 64);
	strcat(src, "true");
	memset(src + strlen(src), ')', 64);
	expr_free(compile_ok(src, &scope));
	memset(src, 0, sizeof src);
	memset(src, '(', 500);
	assert_null(expr_compile(src, &scope, err, sizeof err));
	assert_string_equal(err, "expression nested too deeply at column 65");
	memset(src, 0, sizeof src);
	for (int i = 0; i < 100; i++)
		strcat(src, "not ");
	strcat(src, "true");
	assert_null(expr_compile(src, &scope, err, sizeof err));
	assert_string_equal(err, "expression nested too deeply at column 257");
	memset(src, '-', 200);
	strcpy(src + 200, "1 == 1");
	assert_null(e = expr_compile(src, &scope, err, sizeof err));
	assert_string_equal(err, "expression nested too deeply at column 65");
}

/* Type and scope errors, with the column of the offending token. */
static void
test_type_errors(void **state)
{
	static const struct bad bad[] = {
		{ "count(5) >= 1", "rider",
		  "argument 1 of count() must be a quoted string at column 7" },
		{ "count(stage('rider')) >= 1", "rider",
		  "argument 1 of count() must be a quoted string at column 7" },
		{ "sum('a', 5) >= 1", "rider",
		  "argument 2 of sum() must be a quoted string at column 10" },
		{ "count('a', 30) >= 1", "rider",
		  "the window of count() must be a duration like 30d "
		  "at column 12" },
		{ "count('a', '30d') >= 1", "rider",
		  "the window of count() must be a duration like 30d "
		  "at column 12" },
		{ "active_users(7) >= 1", "b2b",
		  "the window of active_users() must be a duration like 30d "
		  "at column 14" },
		{ "count('a', 1d, 2d) >= 1", "rider",
		  "count() takes 1 or 2 arguments, got 3 at column 1" },
		{ "count() >= 1", "rider",
		  "count() takes 1 or 2 arguments, got 0 at column 1" },
		{ "since() >= 1", "rider",
		  "since() takes 1 argument, got 0 at column 1" },
		{ "users(7d) >= 1", "b2b",
		  "users() takes 0 arguments, got 1 at column 1" },
		{ "sum('a', 'b', 1d, 'c', 'd') > 1", "rider",
		  "sum() takes 2 or 3 arguments, got 5 at column 1" },
		{ "attr('plan') == 'a' and count('x')", "rider",
		  "'and' needs a boolean, got a number at column 25" },
		{ "count('x') or true", "rider",
		  "'or' needs a boolean, got a number at column 1" },
		{ "not count('x')", "rider",
		  "'not' needs a boolean, got a number at column 5" },
		{ "attr('vip') and true", "rider",
		  "'and' needs a boolean, got a trait at column 1" },
		{ "count('x') == 'a'", "rider",
		  "cannot compare a number with a string at column 12" },
		{ "stage('rider') == 5", "rider",
		  "cannot compare a string with a number at column 16" },
		{ "has('x') == 1", "rider",
		  "cannot compare a boolean with a number at column 10" },
		{ "'a' == true", "rider",
		  "cannot compare a string with a boolean at column 5" },
		{ "has('x') < true", "rider",
		  "booleans compare only with == and !=, not < at column 10" },
		{ "attr('x') >= false", "rider",
		  "booleans compare only with == and !=, not >= at column 11" },
		{ "'a' + 1 == 2", "rider",
		  "cannot do arithmetic on a string at column 1" },
		{ "1 - stage('rider') == 2", "rider",
		  "cannot do arithmetic on a string at column 5" },
		{ "-'a' == 1", "rider",
		  "cannot do arithmetic on a string at column 2" },
		{ "has('x') + 1 == 2", "rider",
		  "cannot do arithmetic on a boolean at column 1" },
		{ "count('x') + 1", "rider",
		  "expected a boolean expression, got a number at column 1" },
		{ "attr('x')", "rider",
		  "expected a boolean expression, got a trait at column 1" },
		{ "'yes'", "rider",
		  "expected a boolean expression, got a string at column 1" },
		{ "account.count('x') >= 1", "b2b",
		  "account.count() is not available in an account journey "
		  "at column 1" },
		{ "account.attr('x') == 1", "b2b",
		  "account.attr() is not available in an account journey "
		  "at column 1" },
		{ "users() >= 1", "rider",
		  "users() is only available in an account journey at column 1" },
		{ "active_users(7d) >= 1", "rider",
		  "active_users() is only available in an account journey "
		  "at column 1" },
		{ "stage('nope') == 'x'", "rider",
		  "unknown journey 'nope' at column 7" },
		{ "completed('nope')", "rider",
		  "unknown journey 'nope' at column 11" },
		{ "in_journey('b2b')", "rider",
		  "journey 'b2b' is an account journey at column 12" },
		{ "stage('rider') == 'new'", "b2b",
		  "journey 'rider' is a user journey at column 7" },
		{ "account.stage('rider') == 'x'", "rider",
		  "journey 'rider' is a user journey at column 15" },
		{ "stalled", "plain",
		  "'stalled' needs a stage with an expect in journey 'plain' "
		  "at column 1" },
		{ "attr('a\"b') == 1", "rider",
		  "a trait name cannot contain '\"' or '\\' at column 6" },
		{ "has('a\\\\b')", "rider",
		  "a trait name cannot contain '\"' or '\\' at column 5" },
		{ "sum('ride', 'a\"b') > 1", "rider",
		  "a property name cannot contain '\"' or '\\' at column 13" },
	};

	check_errors(bad, sizeof bad / sizeof bad[0]);
}

/* Every form of the language compiles where it is allowed. */
static void
test_compile_forms(void **state)
{
	static const char *user_ok[] = {
		"count('e') >= 1",
		"count('e', 30d) >= 8 and attr('plan') != 'pass'",
		"sum('e', 'fare', 30d) > 10.5",
		"sum('e', 'fare') > 0",
		"since('e') >= 2w or since('e') < 45s",
		"attr('plan') == 'pass'",
		"attr('n') > 3 and attr('n') < attr('m') and attr('s') <= 'x'",
		"attr('deleted') == true",
		"has('email')",
		"not has('email') or not not true",
		"account.attr('tier') == 'gold'",
		"account.has('tier')",
		"account.count('e', 7d) > account.count('f')",
		"account.sum('e', 'x') >= 1",
		"account.since('e') < 12h",
		"account.stage('b2b') == 'adoption'",
		"stage_age >= 2d and journey_age < 15m",
		"stalled",
		"stage('rider') == 'new'",
		"in_journey('rider') and not completed('plain')",
		"-1 < count('e') - 2 + 3",
		"(count('a') + count('b')) >= (1)",
		"has('a') == (count('b') > 1)",
		"attr('it\\'s') == 'a\\\\b'",
		"true",
		"false != true",
		"count ( 'e' , 1d ) >= 1\n\tand\ttrue",
	};
	static const char *account_ok[] = {
		"users() >= 3 and active_users(7d) < users()",
		"count('e', 30d) >= 1 and attr('tier') == 'gold'",
		"stalled and stage('b2b') == 'onboarding'",
	};
	struct expr_scope	 scope;

	scope = scope_of("rider");
	for (size_t i = 0; i < sizeof user_ok / sizeof user_ok[0]; i++)
		expr_free(compile_ok(user_ok[i], &scope));
	scope = scope_of("b2b");
	for (size_t i = 0; i < sizeof account_ok / sizeof account_ok[0]; i++)
		expr_free(compile_ok(account_ok[i], &scope));

	/* Without a config or a journey, names are not checked. */
	scope.subject = SUBJECT_USER;
	scope.conf = NULL;
	scope.journey = NULL;
	expr_free(compile_ok("stage('anything') == 'x' and stalled", &scope));
	expr_free(compile_ok("count('a') > 1", NULL));
}

/* Windows: ts exactly now - w is in, ts after now does not exist. */
static void
test_windows(void **state)
{
	check_ids("count('ride') == 3", "rider", "u1");
	check_ids("count('ride', 30d) == 2", "rider", "u1,u2");
	check_ids("count('ride', 2592000s) >= 2", "rider", "u1,u2");
	check_ids("count('ride', 2592001s) == 3", "rider", "u1");
	check_ids("count('ride', 1d) == 1", "rider", "u1,u2");
	check_ids("count('ride', 0s) >= 1", "rider", "u2");
	check_ids("count('ride') == 0", "rider", "u3");
	check_ids("count('signup') >= 1", "rider", "u1");
	check_ids("since('signup') >= 0", "rider", "u1");
	check_ids("since('ride') == 0", "rider", "u2");
	check_ids("since('ride') == 1d", "rider", "u1");
	check_ids("since('ride') > 99d", "rider", "u4");

	/* The clock is a parameter: a second earlier, the window holds the
	 * ride 30d and 1s before now, and the ride at now is in the future. */
	{
		char *ids = select_ids("count('ride', 30d) == 3 or "
		    "(count('ride') == 1 and since('ride') == 2d - 1)", "rider",
		    NOW - 1);
		assert_string_equal(ids, "u1,u2");
		free(ids);
	}
	check_ids("count('ride', 30d) == 3", "rider", "");
}

/* Absent values compare false, and not of that is true. */
static void
test_absent(void **state)
{
	check_ids("attr('plan') != 'pass'", "rider", "u1");
	check_ids("not (attr('plan') == 'pass')", "rider", "u1,u3");
	check_ids("attr('plan') == 'pass'", "rider", "u2,u4");
	check_ids("not attr('plan') != 'pass'", "rider", "u2,u3,u4");
	check_ids("since('signup') >= 0 or since('signup') < 0", "rider", "u1");
	check_ids("not (since('signup') > 1d)", "rider", "u2,u3,u4");
	check_ids("stage('rider') != 'new'", "rider", "u2,u4");
	check_ids("not stage('rider') == 'new'", "rider", "u2,u3,u4");
	check_ids("attr('seats') + 1 > 0", "rider", "u1,u4");
	check_ids("not (attr('seats') + 1 > 0)", "rider", "u2,u3");
	check_ids("has('email')", "rider", "u1");
	check_ids("not has('seats')", "rider", "u2,u3");
	check_ids("attr('missing') == attr('missing')", "rider", "");
}

/* Traits: strings, numbers, booleans (true is 1) and orderings. */
static void
test_traits(void **state)
{
	check_ids("attr('vip') == true", "rider", "u1");
	check_ids("attr('vip') == false", "rider", "u2");
	check_ids("attr('vip') != true", "rider", "u2");
	check_ids("attr('seats') >= 2.5", "rider", "u1,u4");
	check_ids("attr('seats') > 2.5", "rider", "u1");
	check_ids("attr('plan') < 'c'", "rider", "u1");
	check_ids("attr('plan') == 5", "rider", "");
	check_ids("attr('it\\'s') == 1", "rider", "");
}

/* Arithmetic, booleans and precedence. */
static void
test_arithmetic_logic(void **state)
{
	check_ids("count('ride') + count('signup') == 4", "rider", "u1");
	check_ids("count('ride') - count('purchase') == 1", "rider",
	    "u2,u4");
	check_ids("-count('ride') == -3", "rider", "u1");
	check_ids("1 + 2 - 3 == 0", "rider", "u1,u2,u3,u4");
	check_ids("10 - 2 - 3 == 5", "rider", "u1,u2,u3,u4");
	check_ids("0.5 + 0.25 == 0.75", "rider", "u1,u2,u3,u4");
	check_ids("1d == 86400 and 2w == 14d and 15m == 900 and 12h == 720m "
	    "and 45s == 45 and 1y == 365d", "rider", "u1,u2,u3,u4");
	check_ids("true", "rider", "u1,u2,u3,u4");
	check_ids("false", "rider", "");
	check_ids("true == false", "rider", "");
	check_ids("has('email') == true", "rider", "u1");
	check_ids("has('email') == (count('ride') == 3)", "rider",
	    "u1,u2,u3,u4");
	/* or < and < not < comparison */
	check_ids("true or false and false", "rider", "u1,u2,u3,u4");
	check_ids("(true or false) and false", "rider", "");
	check_ids("not false and false", "rider", "");
	check_ids("not count('ride') == 0", "rider", "u1,u2,u4");
	check_ids("has('email') or attr('plan') == 'pass' and "
	    "count('ride') == 1", "rider", "u1,u4");
}

/* sum() over a property, 0 with no events; since() absent when never. */
static void
test_sum_since(void **state)
{
	check_ids("sum('purchase', 'fare') == 20", "rider", "u1");
	check_ids("sum('purchase', 'fare', 1d) == 12.5", "rider", "u1");
	check_ids("sum('purchase', 'fare', 2d) > 15", "rider", "u1");
	check_ids("sum('purchase', 'fare', 2d) == 0", "rider", "u2,u3,u4");
	check_ids("sum('purchase', 'fare') == 0", "rider", "u3,u4");
	check_ids("sum('purchase', 'fare') == 5", "rider", "u2");
	check_ids("since('purchase') == 1d", "rider", "u1");
	check_ids("since('purchase') < 1d", "rider", "");
	check_ids("since('purchase') >= 0", "rider", "u1,u2");
}

/* Windowless counts, since and since_first add what pruning left of the
 * events (events_pruned); reads over a window do not. */
static void
test_pruned(void **state)
{
	char	*sql;

	sql = xprintf("INSERT INTO events_pruned (subject, name, n, first_ts, "
	    "last_ts) VALUES (3, 'ride', 3, %lld, %lld), (4, 'ride', 2, "
	    "%lld, %lld)", NOW - 200 * DAY, NOW - 150 * DAY, NOW - 300 * DAY,
	    NOW - 250 * DAY);
	exec_ok(sql);
	free(sql);
	check_ids("count('ride') == 3", "rider", "u1,u3,u4");
	check_ids("count('ride') >= 1", "rider", "u1,u2,u3,u4");
	check_ids("count('ride') == 0", "rider", "");
	check_ids("count('ride', 300d) == 1", "rider", "u4");
	check_ids("since('ride') == 150d", "rider", "u3");
	check_ids("since('ride') == 100d", "rider", "u4");
	check_ids("since_first('ride') == 200d", "rider", "u3");
	check_ids("since_first('ride') == 300d", "rider", "u4");
	check_ids("account.count('ride') == 3", "rider", "u4");
	check_ids("count('ride') == 3", "b2b", "a2");
	check_ids("since_first('ride') == 300d", "b2b", "a2");
	exec_ok("DELETE FROM events_pruned");
}

/* account.*: a user's account's traits, events, and stage. */
static void
test_account_functions(void **state)
{
	check_ids("account.attr('tier') == 'gold'", "rider", "u1,u2");
	check_ids("account.has('name')", "rider", "u1,u2");
	check_ids("not account.has('name')", "rider", "u3,u4");
	check_ids("account.count('ride') == 5", "rider", "u1,u2");
	check_ids("account.count('ride', 30d) == 4", "rider", "u1,u2");
	check_ids("account.count('ride') == 1", "rider", "u4");
	check_ids("account.count('ride') == 0", "rider", "u3");
	check_ids("account.sum('purchase', 'fare') == 25", "rider", "u1,u2");
	check_ids("account.since('ride') == 0", "rider", "u1,u2");
	check_ids("account.since('ride') == 100d", "rider", "u4");
	check_ids("account.stage('b2b') == 'onboarding'", "rider",
	    "u1,u2,u4");
	check_ids("not account.stage('b2b') == 'onboarding'", "rider", "u3");

	/* An exited account has no stage. */
	exec_ok("UPDATE members SET status = 2 WHERE subject = 11");
	check_ids("account.stage('b2b') == 'onboarding'", "rider", "u1,u2");
	exec_ok("UPDATE members SET status = 0 WHERE subject = 11");
}

/* Account journeys: events of all the account's users, users(). */
static void
test_account_subject(void **state)
{
	check_ids("count('ride') == 5", "b2b", "a1");
	check_ids("count('ride', 30d) == 4", "b2b", "a1");
	check_ids("count('ride') == 0", "b2b", "");
	check_ids("count('ride') == 1", "b2b", "a2");
	check_ids("sum('purchase', 'fare') == 25", "b2b", "a1");
	check_ids("since('ride') == 0", "b2b", "a1");
	check_ids("attr('tier') == 'gold'", "b2b", "a1");
	check_ids("users() == 2", "b2b", "a1");
	check_ids("users() == 1", "b2b", "a2");
	check_ids("active_users(7d) == 2", "b2b", "a1");
	check_ids("active_users(1d) == 2", "b2b", "a1");
	check_ids("active_users(1d) == 0", "b2b", "a2");
	check_ids("active_users(100d) == 1", "b2b", "a2");
	check_ids("active_users(1d) < users()", "b2b", "a2");
	check_ids("stage('b2b') == 'onboarding'", "b2b", "a1,a2");
	check_ids("in_journey('b2b')", "b2b", "a1,a2");
}

/* Membership: stage(), in_journey(), completed(), ages. */
static void
test_membership(void **state)
{
	check_ids("stage('rider') == 'new'", "rider", "u1");
	check_ids("stage('rider') == 'pass_member'", "rider", "u4");
	check_ids("in_journey('rider')", "rider", "u1,u2,u4");
	check_ids("not in_journey('rider')", "rider", "u3");
	check_ids("completed('rider')", "rider", "u4");
	check_ids("in_journey('plain') and not completed('plain')", "rider",
	    "u1");
	check_ids("stage_age == 3d", "rider", "u1");
	check_ids("stage_age >= 1d", "rider", "u1,u2,u4");
	check_ids("journey_age == 10d", "rider", "u2");
	check_ids("not (journey_age >= 0)", "rider", "u3");
	/* The current journey is the one bound to :journey. */
	check_ids("stage_age == 1d", "plain", "u1");
}

/* stalled: longer in the stage than its expect, false otherwise. */
static void
test_stalled(void **state)
{
	check_ids("stalled", "rider", "u1");
	check_ids("not stalled", "rider", "u2,u3,u4");
	check_ids("stalled", "b2b", "a1");
	check_ids("not stalled", "b2b", "a2");
	check_ids("stalled", "rider", "u1");

	/* Exactly at the expect is not longer than it. */
	exec_ok("UPDATE members SET stage_since = stage_since + 86400 "
	    "WHERE journey = 'rider' AND subject = 1");
	check_ids("stalled", "rider", "");
	check_ids("stage_age == 2d", "rider", "u1");
	exec_ok("UPDATE members SET stage_since = stage_since - 86400 "
	    "WHERE journey = 'rider' AND subject = 1");
}

/* Strings that look like SQL are only ever bound values. */
static void
test_injection(void **state)
{
	sqlite3_stmt	*st;

	check_ids("count('x\\'); DROP TABLE events; --') == 0 and "
	    "count('ride\\'); DROP TABLE events; --') == 0 and "
	    "attr('plan\\' OR 1=1 --') != '\\'; DROP TABLE subjects; --' and "
	    "lower(attr('plan')) != '\\') OR 1=1; --'", "rider", "");
	check_ids("sum('x\\'); DELETE FROM events; --', "
	    "'a\\'); DELETE FROM events; --') == 0 and "
	    "attr('plan') != '\\' OR \\'\\'=\\''",
	    "rider", "u1,u2,u4");
	st = store_prepare(db, "SELECT (SELECT count(*) FROM events), "
	    "(SELECT count(*) FROM subjects)");
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 13);
	assert_int_equal(sqlite3_column_int(st, 1), 6);
	sqlite3_finalize(st);
}

/* Assert that src is refused with a message that contains want. */
static void
check_refused(const char *src, const char *want)
{
	struct expr_scope	 scope = scope_of("rider");
	char			 err[256] = "";

	assert_null(expr_compile(src, &scope, err, sizeof err));
	if (strstr(err, want) == NULL)
		fail_msg("%.60s...: got \"%s\", want \"%s\"", src, err, want);
}

/* Long chains and deep nesting compile to SQL that SQLite can parse (the
 * fuzzer found "- - - ... 1" and 600 "+" overflowing its parser stack), or
 * are refused at compile time with a message. */
static void
test_limits(void **state)
{
	struct buf	 b;

	buf_init(&b);
	buf_puts(&b, "count('ride') > ");
	for (int i = 0; i < 20; i++)
		buf_puts(&b, "- ");
	buf_puts(&b, "1");
	check_ids(b.s, "rider", "u1,u2");
	b.len = 0;
	buf_puts(&b, "count('ride') > ");
	for (int i = 0; i < 30; i++)
		buf_puts(&b, "-(");
	buf_puts(&b, "1");
	for (int i = 0; i < 30; i++)
		buf_puts(&b, ")");
	check_refused(b.s, "nested too deeply");
	b.len = 0;
	for (int i = 0; i < 100; i++)
		buf_puts(&b, "count('ride') > 5 or ");
	buf_puts(&b, "count('ride') - 1 - 1 + 0 - 0 > 0");
	check_ids(b.s, "rider", "u1");
	b.len = 0;
	buf_puts(&b, "count('ride') == 0 + 1");
	for (int i = 0; i < 100; i++)
		buf_puts(&b, " + 0 - 0");
	check_ids(b.s, "rider", "u4");
	b.len = 0;
	for (int i = 0; i < 130; i++)
		buf_puts(&b, "count('ride') > 5 or ");
	buf_puts(&b, "true");
	check_refused(b.s, "expression too long");
	b.len = 0;
	for (int i = 0; i < 6; i++)
		buf_puts(&b, "not (true and (count('ride') > -(1 + 0) or ");
	buf_puts(&b, "true");
	for (int i = 0; i < 6; i++)
		buf_puts(&b, "))");
	check_ids(b.s, "rider", "");
	buf_free(&b);
}

/* The plan of a compiled expression, every detail line joined. */
static char *
query_plan(const char *src, const char *journey)
{
	struct expr_scope	 scope = scope_of(journey);
	struct expr		*e = compile_ok(src, &scope);
	struct sql		 q;
	struct buf		 plan;
	sqlite3_stmt		*st;

	sql_init(&q);
	buf_init(&plan);
	buf_puts(&q.text, "EXPLAIN QUERY PLAN SELECT s.sid FROM " EXPR_FROM
	    " WHERE ");
	expr_sql(e, &q);
	st = store_prepare(db, q.text.s);
	assert_int_equal(sql_bind(&q, st, NOW, journey), 0);
	while (sqlite3_step(st) == SQLITE_ROW) {
		buf_puts(&plan, (const char *)sqlite3_column_text(st, 3));
		buf_puts(&plan, "\n");
	}
	sqlite3_finalize(st);
	sql_free(&q);
	expr_free(e);
	return buf_steal(&plan);
}

/* count, sum and since are answered from the (subject, name, ts) index. */
static void
test_query_plan(void **state)
{
	static const struct {
		const char	*src;
		const char	*journey;
		const char	*want;
	} plans[] = {
		{ "count('ride', 30d) >= 8", "rider",
		  "SEARCH e USING COVERING INDEX events_subject_name_ts "
		  "(subject=? AND name=? AND ts>? AND ts<?)" },
		{ "count('ride') >= 8", "rider",
		  "SEARCH e USING COVERING INDEX events_subject_name_ts "
		  "(subject=? AND name=? AND ts<?)" },
		{ "since('ride') >= 1d", "rider",
		  "USING COVERING INDEX events_subject_name_ts" },
		{ "sum('ride', 'fare', 30d) > 1", "rider",
		  "SEARCH e USING INDEX events_subject_name_ts "
		  "(subject=? AND name=? AND ts>? AND ts<?)" },
		{ "account.count('ride', 7d) > 1", "rider",
		  "USING COVERING INDEX events_subject_name_ts" },
		{ "account.count('ride', 7d) > 1", "rider",
		  "SEARCH mu USING COVERING INDEX subjects_account" },
		{ "count('ride', 7d) > 1", "b2b",
		  "USING COVERING INDEX events_subject_name_ts "
		  "(subject=? AND name=? AND ts>? AND ts<?)" },
		{ "stage('rider') == 'new'", "rider",
		  "SEARCH j USING" },
	};
	char	*plan;

	for (size_t i = 0; i < sizeof plans / sizeof plans[0]; i++) {
		plan = query_plan(plans[i].src, plans[i].journey);
		if (strstr(plan, plans[i].want) == NULL) {
			print_error("%s: plan lacks %s:\n%s", plans[i].src,
			    plans[i].want, plan);
			free(plan);
			fail();
		}
		free(plan);
	}
}

/* No value from the expression appears in the SQL text. */
static void
test_no_literals(void **state)
{
	static const char *literals[] = {
		"ride_zz9", "plan_qq", "pass_xx", "fare_ww", "12.5", "2592000",
		"tier_vv", "rider", "b2b", "onboarding", "1209600", "172800",
		"'", "\"", "777",
	};
	struct expr_scope	 scope = scope_of("rider");
	struct expr		*e;
	struct sql		 q;

	e = compile_ok("count('ride_zz9', 30d) >= 777 and "
	    "attr('plan_qq') != 'pass_xx' and sum('e', 'fare_ww') > 12.5 and "
	    "stage('rider') == 'new' and account.attr('tier_vv') == 'x' and "
	    "account.stage('b2b') == 'onboarding' and stalled and "
	    "since('a') < 2d", &scope);
	sql_init(&q);
	expr_sql(e, &q);
	for (size_t i = 0; i < sizeof literals / sizeof literals[0]; i++) {
		if (strstr(q.text.s, literals[i]) != NULL)
			fail_msg("%s in %s", literals[i], q.text.s);
	}
	assert_true(q.nparams >= 15);
	assert_int_equal(q.params[0].type, SQLITE_TEXT);
	assert_string_equal(q.params[0].s, "ride_zz9");
	sql_free(&q);
	expr_free(e);
}

/* Parameters bind by name, wherever :journey and :now are in the text. */
static void
test_sql_bind(void **state)
{
	struct sql	 q;
	sqlite3_stmt	*st;

	sql_init(&q);
	buf_puts(&q.text, "SELECT :journey, :now, ");
	sql_add_text(&q, "a");
	buf_puts(&q.text, ", ");
	sql_add_int(&q, 42);
	buf_puts(&q.text, ", ");
	sql_add_double(&q, 2.5);
	buf_puts(&q.text, ", :now");
	st = store_prepare(db, q.text.s);
	assert_int_equal(sql_bind(&q, st, 1234, "j"), 0);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "j");
	assert_int_equal(sqlite3_column_int64(st, 1), 1234);
	assert_string_equal((const char *)sqlite3_column_text(st, 2), "a");
	assert_int_equal(sqlite3_column_int64(st, 3), 42);
	assert_true(sqlite3_column_double(st, 4) == 2.5);
	assert_int_equal(sqlite3_column_int64(st, 5), 1234);
	sqlite3_finalize(st);

	/* A NULL journey binds NULL. */
	st = store_prepare(db, "SELECT :journey IS NULL");
	assert_int_equal(sql_bind(&q, st, 0, NULL), 0);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 1);
	sqlite3_finalize(st);
	sql_free(&q);
	assert_null(q.params);
	assert_int_equal(q.nparams, 0);
}

/* Explain src for subject id in journey, checking the lines and result. */
static void
check_explain(const char *src, const char *journey, const char *id,
    int indent, const char *want, int want_holds)
{
	struct expr_scope	 scope = scope_of(journey);
	struct expr		*e = compile_ok(src, &scope);
	struct buf		 out;
	int			 holds = -1;
	int64_t			 sid = store_subject(db, id, NULL);

	buf_init(&out);
	assert_int_equal(expr_explain(e, db, sid, NOW, journey, indent, &out,
	    &holds), 0);
	if (strcmp(out.s, want) != 0) {
		print_error("%s\ngot:\n%swant:\n%s", src, out.s, want);
		fail();
	}
	assert_int_equal(holds, want_holds);
	buf_free(&out);
	expr_free(e);
}

/* Explain: one line per comparison or boolean, and the whole result. */
static void
test_explain(void **state)
{
	struct expr_scope	 scope = scope_of("rider");
	struct expr		*e;
	struct buf		 out;
	int			 holds = 1;

	check_explain("count('ride', 30d) >= 8", "rider", "u1", 2,
	    "  count('ride', 30d) = 2 (needs >= 8): no\n", 0);
	check_explain("count('ride', 30d) >= 8 and attr('plan') != 'pass'",
	    "rider", "u1", 0,
	    "count('ride', 30d) = 2 (needs >= 8): no\n"
	    "attr('plan') = 'basic' (needs != 'pass'): yes\n", 0);
	check_explain("since('signup') >= 86400 or not has('email')",
	    "rider", "u2", 4,
	    "    since('signup') = absent (needs >= 86400): no\n"
	    "    not has('email'): yes\n"
	    "      has('email'): no\n", 1);
	check_explain("stage_age >= 2d and 3 < count('ride')", "rider", "u1",
	    0,
	    "stage_age = 3d (needs >= 2d): yes\n"
	    "count('ride') = 3 (needs > 3): no\n", 0);
	check_explain("count('ride') > count('signup') and stalled and "
	    "sum('purchase', 'fare') >= 19.5 and attr('vip') == true",
	    "rider", "u1", 0,
	    "count('ride') = 3 (needs > count('signup'), which is 1): yes\n"
	    "stalled: yes\n"
	    "sum('purchase', 'fare') = 20 (needs >= 19.5): yes\n"
	    "attr('vip') = true (needs == true): yes\n", 1);
	check_explain("has('email') == (count('ride') == 3) and "
	    "stage('rider') == 'new'", "rider", "u3", 0,
	    "has('email') = false (needs == (count('ride') == 3), "
	    "which is false): yes\n"
	    "stage('rider') = absent (needs == 'new'): no\n", 0);
	check_explain("users() >= 2", "b2b", "account:a1", 0,
	    "users() = 2 (needs >= 2): yes\n", 1);

	/* An unknown subject is an error, said in the output. */
	e = compile_ok("true", &scope);
	buf_init(&out);
	assert_int_equal(expr_explain(e, db, 999, NOW, "rider", 0, &out,
	    &holds), -1);
	assert_string_equal(out.s, "no such subject\n");
	assert_int_equal(holds, 0);
	buf_free(&out);
	expr_free(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_type_errors),
		cmocka_unit_test(test_compile_forms),
		cmocka_unit_test(test_windows),
		cmocka_unit_test(test_absent),
		cmocka_unit_test(test_traits),
		cmocka_unit_test(test_arithmetic_logic),
		cmocka_unit_test(test_sum_since),
		cmocka_unit_test(test_pruned),
		cmocka_unit_test(test_account_functions),
		cmocka_unit_test(test_account_subject),
		cmocka_unit_test(test_membership),
		cmocka_unit_test(test_stalled),
		cmocka_unit_test(test_injection),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_query_plan),
		cmocka_unit_test(test_no_literals),
		cmocka_unit_test(test_sql_bind),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_share),
	};

	return cmocka_run_group_tests(tests, setup_db, teardown_db);
}
