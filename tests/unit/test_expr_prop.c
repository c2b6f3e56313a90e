/*
 * A property test of the rule language: random expressions over random
 * subjects (a fixed seed, so every run is the same), each evaluated three
 * ways that must agree for every subject: its compiled SQL over all the
 * subjects at once, the same over shared reads as the tick's entry runs it
 * (each read once, reads of one name's events packed into one scan), and
 * explain, which works out the result for one subject from its leaves.
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

#define NOW		1772355600LL
#define DAY		86400LL
#define NUSERS		40
#define NACCOUNTS	4
#define NEXPRS		600

static sqlite3		*db;
static uint64_t		 rng = 0x9e3779b97f4a7c15ULL;
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
	{ "paying", "attr('plan') in ('pro', 'team')", "p.conf", 1 },
	{ "active", "count('ride', 7d) >= 1 or segment('paying')", "p.conf",
	  2 },
};
static struct config	 conf = { .journeys = journeys, .njourneys = 2,
	.segments = segments, .nsegments = 2 };

/* The next random number (xorshift64*). */
static uint64_t
rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

/* A random number below n. */
static int
pick(int n)
{
	return (int)(rnd() % (uint64_t)n);
}

/* One of the strings of a list. */
#define ONE_OF(...) ({ static const char *const l[] = { __VA_ARGS__ }; \
	l[pick(sizeof l / sizeof l[0])]; })

/* Run SQL that must succeed. */
static void
exec_ok(const char *sql)
{
	char	*msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
}

/* A random JSON value for a trait or property: of any type. */
static const char *
random_value(void)
{
	return ONE_OF("\"pro\"", "\"team\"", "\"basic\"", "\"100\"", "100",
	    "7.5", "0", "-3", "true", "false", "null", "\"Zo\\u00eb\"",
	    "\"2026-03-02T10:00:00+0100\"", "\"2026-02-20\"", "\"x@acme.io\"",
	    "\"Pacific/Kiritimati\"", "\"Pacific/Pago_Pago\"", "\"Asia/Tokyo\"",
	    "{\"city\":\"Berlin\"}", "[\"a\",\"b\"]", "\"\"");
}

/* Random users, accounts, traits and events with properties. */
static int
setup_db(void **state)
{
	static const char *keys[] = { "plan", "n", "s", "flag", "addr",
	    "tags", "t", "email", "timezone" };
	struct buf	 b;
	char		 err[256];

	(void)state;
	if ((db = store_open(":memory:", err, sizeof err)) == NULL)
		fail_msg("store_open: %s", err);
	assert_int_equal(expr_register(db), 0);
	buf_init(&b);
	for (int i = 1; i <= NUSERS + NACCOUNTS; i++) {
		int account = i > NUSERS;

		buf_printf(&b, "INSERT INTO subjects (sid, kind, id, traits, "
		    "account, created) VALUES (%d, %d, 's%d', json('{", i,
		    account, i);
		for (int k = 0, n = 0; k < 9; k++)
			if (pick(3) > 0)
				buf_printf(&b, "%s\"%s\":%s", n++ ? "," : "",
				    keys[k], random_value());
		buf_puts(&b, "}'), ");
		if (!account && pick(4) > 0)
			buf_printf(&b, "%d", NUSERS + 1 + pick(NACCOUNTS));
		else
			buf_puts(&b, "NULL");
		buf_puts(&b, ", 0);\n");
	}
	/* memberships: in another account first, for some of the users */
	buf_printf(&b, "INSERT INTO account_versions (subject, ts, account) "
	    "SELECT sid, %lld - (sid * 7919 %% 40) * %lld, %d FROM subjects "
	    "WHERE account IS NOT NULL AND sid %% 3 = 0;"
	    "INSERT INTO account_versions (subject, ts, account) SELECT sid, "
	    "%lld - (sid * 104729 %% 20) * %lld, account FROM subjects WHERE "
	    "account IS NOT NULL;", NOW, DAY, NUSERS + 1, NOW, DAY);
	for (int e = 0; e < NUSERS * 6; e++)
		buf_printf(&b, "INSERT INTO events (subject, name, ts, props, "
		    "msg) VALUES (%d, '%s', %lld, '{\"fare\":%s,\"cur\":%s,"
		    "\"items\":[{\"p\":%s}]}', 'm%d');\n", 1 + pick(NUSERS),
		    ONE_OF("ride", "order", "page"), NOW - pick(60) * DAY +
		    pick(3) * 3600 - DAY / 2 + (pick(20) == 0 ? 2 * DAY : 0),
		    random_value(), random_value(), random_value(), e);
	for (int i = 1; i <= NUSERS; i++)
		if (pick(2))
			buf_printf(&b, "INSERT INTO members VALUES ('rider', %d, "
			    "'%s', %d, %lld, %lld);\n", i, ONE_OF("new",
			    "first_ride", "frequent"), pick(3), NOW - 9 * DAY,
			    NOW - pick(5) * DAY);
	for (int i = NUSERS + 1; i <= NUSERS + NACCOUNTS; i++)
		buf_printf(&b, "INSERT INTO members VALUES ('b2b', %d, "
		    "'onboarding', 0, %lld, %lld);\n", i, NOW - DAY, NOW - DAY);
	exec_ok(b.s);
	buf_free(&b);
	return 0;
}

/* Close the database. */
static int
teardown_db(void **state)
{
	(void)state;
	store_close(db);
	return 0;
}

static void	gen_bool(struct buf *, int, int);

/* A trait read: of any type at run time. */
static void
gen_trait(struct buf *b)
{
	buf_printf(b, "%sattr('%s')", pick(5) == 0 ? "account." : "",
	    ONE_OF("plan", "n", "s", "flag", "addr.city", "tags[1]", "t",
	    "email", "nope"));
}

/* A literal of any type. */
static void
gen_literal(struct buf *b)
{
	buf_puts(b, ONE_OF("'pro'", "'100'", "100", "7.5", "0", "-3", "true",
	    "false", "'Zo\u00eb'", "''", "2d", "'Berlin'", "'b'"));
}

/* An event selector: a name, maybe with a condition on its properties. */
static void
gen_selector(struct buf *b, int depth)
{
	const char	*p = ONE_OF("fare", "cur", "items[0].p", "none");

	buf_printf(b, "'%s'", ONE_OF("ride", "order", "page", "none"));
	if (pick(2) == 0)
		return;
	buf_puts(b, " where ");
	switch (pick(5)) {
	case 0:
		buf_printf(b, "prop('%s') %s ", p, ONE_OF("==", "!=", "<",
		    ">="));
		gen_literal(b);
		break;
	case 1:
		buf_printf(b, "not (prop('%s') == ", p);
		gen_literal(b);
		buf_puts(b, ")");
		break;
	case 2:
		buf_printf(b, "prop('%s') in (", p);
		gen_literal(b);
		buf_puts(b, ", ");
		gen_literal(b);
		buf_puts(b, ")");
		break;
	case 3:
		buf_printf(b, "prop('%s') == ", p);
		gen_trait(b);
		break;
	default:
		buf_printf(b, "prop('%s') * 2 > %d and ", p, pick(40));
		gen_bool(b, depth + 2, 1);
		break;
	}
}

/* A number. */
static void
gen_num(struct buf *b, int depth)
{
	switch (depth > 3 ? pick(3) : pick(11)) {
	case 0:
		buf_printf(b, "%d", pick(30) - 5);
		break;
	case 1:
		buf_puts(b, ONE_OF("1d", "12h", "30d", "0.5", "now", "stage_age",
		    "journey_age"));
		break;
	case 2:
		gen_trait(b);
		break;
	case 3:
		buf_printf(b, "%scount(", pick(6) == 0 ? "account." : "");
		gen_selector(b, depth);
		buf_puts(b, ONE_OF(")", ", 7d)", ", 30d)"));
		break;
	case 4:
		buf_puts(b, ONE_OF("since(", "since_first(", "days(",
		    "account.days("));
		gen_selector(b, depth);
		buf_puts(b, ")");
		break;
	case 5:
		buf_puts(b, "sum(");
		gen_selector(b, depth);
		buf_printf(b, ", '%s'%s)", ONE_OF("fare", "items[0].p"),
		    ONE_OF("", ", 14d"));
		break;
	case 6:
		buf_puts(b, "time(");
		gen_trait(b);
		buf_puts(b, ")");
		break;
	case 7:
		buf_puts(b, ONE_OF("account.users()", "account.active_users(7d)",
		    "-1", "since_joined()", "active_days(30d)",
		    "account.active_days(7d)"));
		break;
	default:
		buf_puts(b, "(");
		gen_num(b, depth + 1);
		buf_printf(b, " %s ", ONE_OF("+", "-", "*", "/", "%"));
		gen_num(b, depth + 1);
		buf_puts(b, ")");
		break;
	}
}

/* A string. */
static void
gen_str(struct buf *b)
{
	switch (pick(4)) {
	case 0:
		gen_trait(b);
		break;
	case 1:
		buf_puts(b, "lower(");
		gen_trait(b);
		buf_puts(b, ")");
		break;
	case 2:
		buf_puts(b, "stage('rider')");
		break;
	default:
		buf_puts(b, ONE_OF("'pro'", "'acme'", "'B'", "''", "'100'"));
		break;
	}
}

/* A boolean; with in_where, one that a selector's condition may hold. */
static void
gen_bool(struct buf *b, int depth, int in_where)
{
	int	 c = depth > 4 ? pick(3) : pick(11);

	if (in_where && c >= 2 && c <= 4)
		c = 1;
	switch (c) {
	case 0:
		gen_trait(b);
		buf_printf(b, " %s ", ONE_OF("==", "!=", "<", ">="));
		gen_literal(b);
		break;
	case 1:
		gen_trait(b);
		buf_printf(b, " %s ", ONE_OF("==", "!=", ">"));
		gen_trait(b);
		break;
	case 2:
	case 3:
		gen_num(b, depth + 1);
		buf_printf(b, " %s ", ONE_OF("==", "!=", "<", "<=", ">", ">="));
		gen_num(b, depth + 1);
		break;
	case 4:
		buf_puts(b, ONE_OF("segment('paying')", "segment('active')",
		    "stalled", "has('addr.city')", "count('ride') >= 1",
		    "count('order', 30d) == 0"));
		break;
	case 5:
		gen_trait(b);
		buf_puts(b, " in (");
		gen_literal(b);
		buf_puts(b, ", ");
		gen_literal(b);
		buf_puts(b, ")");
		break;
	case 6:
		buf_puts(b, ONE_OF("contains(", "starts_with(", "ends_with("));
		gen_str(b);
		buf_puts(b, ", ");
		gen_str(b);
		buf_puts(b, ")");
		break;
	case 7:
		buf_puts(b, "not (");
		gen_bool(b, depth + 1, in_where);
		buf_puts(b, ")");
		break;
	default:
		buf_puts(b, "(");
		gen_bool(b, depth + 1, in_where);
		buf_puts(b, pick(2) ? " and " : " or ");
		gen_bool(b, depth + 1, in_where);
		buf_puts(b, ")");
		break;
	}
}

/* The results of query q, one character per row: '0' or '1'. */
static char *
results(struct sql *q, const char *journey, const char *src)
{
	struct buf	 out;
	sqlite3_stmt	*st;
	int		 rc;

	buf_init(&out);
	buf_add(&out, "", 0);
	if (sqlite3_prepare_v2(db, q->text.s, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", src, sqlite3_errmsg(db));
	assert_int_equal(sql_bind(q, st, NOW, journey), 0);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		buf_printf(&out, "%d", sqlite3_column_int(st, 0));
	if (rc != SQLITE_DONE)
		fail_msg("%s: %s", src, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return buf_steal(&out);
}

/* Evaluate e the three ways over the subjects of kind; fail on a
 * disagreement. Returns whether it holds for some and not for others. */
static int
check_agree(const struct expr *e, const char *src, const char *journey,
    int kind)
{
	struct expr_share	 share = { NULL, 0 };
	struct sql		 q;
	struct buf		 why;
	char			*plain, *shared;
	int			 holds, first = kind ? NUSERS + 1 : 1, mixed;

	sql_init(&q);
	buf_puts(&q.text, "SELECT ");
	expr_sql(e, &q);
	buf_printf(&q.text, " FROM " EXPR_FROM " WHERE s.kind = %d ORDER BY "
	    "s.sid", kind);
	plain = results(&q, journey, src);
	sql_free(&q);

	expr_share_add(&share, e);
	q.share = &share;
	buf_puts(&q.text, "SELECT ");
	expr_sql(e, &q);
	q.share = NULL;
	buf_puts(&q.text, " FROM (SELECT s.sid AS jd_sid");
	expr_share_columns(&share, &q);
	buf_printf(&q.text, " FROM " EXPR_FROM " WHERE s.kind = %d ORDER BY "
	    "s.sid LIMIT -1 OFFSET 0) LEFT JOIN members m ON m.journey = "
	    ":journey AND m.subject = jd_sid ORDER BY jd_sid", kind);
	shared = results(&q, journey, src);
	sql_free(&q);
	expr_share_free(&share);
	if (strcmp(plain, shared) != 0)
		fail_msg("%s:\n  on its own   %s\n  shared reads %s", src, plain,
		    shared);

	for (size_t i = 0; plain[i] != '\0'; i++) {
		buf_init(&why);
		assert_int_equal(expr_explain(e, db, first + (int64_t)i, NOW,
		    journey, 2, &why, &holds), 0);
		if (holds != plain[i] - '0')
			fail_msg("%s: subject %zu: SQL %c, explain %d:\n%s",
			    src, first + i, plain[i], holds, why.s);
		buf_free(&why);
	}
	mixed = strchr(plain, '0') != NULL && strchr(plain, '1') != NULL;
	free(plain);
	free(shared);
	return mixed;
}

/* Random expressions in user and account journeys agree all three ways;
 * most of what the generator writes compiles, and many of those tell the
 * subjects apart. */
static void
test_agree(void **state)
{
	struct expr_scope	 user = { SUBJECT_USER, &conf, &journeys[0],
				    NULL };
	struct expr_scope	 account = { SUBJECT_ACCOUNT, &conf,
				    &journeys[1], NULL };
	struct expr		*e;
	struct buf		 src;
	char			 err[256];
	int			 compiled = 0, mixed = 0;

	(void)state;
	for (int i = 0; i < NEXPRS; i++) {
		int is_account = i % 5 == 4;

		buf_init(&src);
		gen_bool(&src, 0, 0);
		e = expr_compile(src.s, is_account ? &account : &user, err,
		    sizeof err);
		if (e == NULL) {
			/* account.* in an account journey, users() ... */
			buf_free(&src);
			continue;
		}
		compiled++;
		mixed += check_agree(e, src.s, is_account ? "b2b" : "rider",
		    is_account ? SUBJECT_ACCOUNT : SUBJECT_USER);
		expr_free(e);
		buf_free(&src);
	}
	print_message("%d of %d random expressions compiled and agree; %d "
	    "hold for some subjects and not others\n", compiled, NEXPRS,
	    mixed);
	assert_true(compiled >= NEXPRS * 3 / 4);
	assert_true(mixed >= compiled / 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agree),
	};

	return cmocka_run_group_tests(tests, setup_db, teardown_db);
}
