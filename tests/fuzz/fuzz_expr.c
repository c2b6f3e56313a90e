/*
 * Fuzz the rule language: parse and type-check an expression in a user and
 * an account journey's scope (with segments), and when it compiles, run
 * its SQL over every subject of a small database three ways: on its own,
 * over shared reads as the tick's entry runs it (reads computed once,
 * reads of the same events packed into one scan), and through explain,
 * which works out the result from the leaves in C. The SQL must always be
 * valid, a boolean always 0 or 1, and the three must agree.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "insight/insight.h"
#include "fuzz.h"

#define NOW	1772355600LL
#define DAY	86400LL
#define NSUBJECTS 6

static sqlite3		*db;
static struct stage	 rider_stages[] = {
	{ "new", 2 * DAY }, { "first_ride", 0 }, { "frequent", 0 }
};
static struct stage	 b2b_stages[] = {
	{ "onboarding", 14 * DAY }, { "adoption", 0 }, { "renewal", 0 }
};
static struct journey	 journeys[] = {
	{ .name = "rider", .subject = SUBJECT_USER, .stages = rider_stages,
	  .nstages = 3 },
	{ .name = "b2b", .subject = SUBJECT_ACCOUNT, .stages = b2b_stages,
	  .nstages = 3 },
};
static struct segment	 segments[] = {
	{ "paying", "attr('plan') in ('basic', 'pro')", "f.conf", 1 },
	{ "rider", "count('ride', 30d) >= 1 and segment('paying')", "f.conf",
	  2 },
	{ "loop", "not segment('loop')", "f.conf", 3 },
	{ "euro", "prop('currency') == 'EUR'", "f.conf", 4 },
};
static struct config	 conf = { .journeys = journeys, .njourneys = 2,
	.segments = segments, .nsegments = 4 };

/* Close the database at exit, so that nothing shows as lost. */
static void
fuzz_cleanup(void)
{
	store_close(db);
}

/* Open the database the compiled SQL runs on: users with traits of every
 * type, events with properties, an account. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	 err[256];

	(void)argc;
	(void)argv;
	if ((db = store_open(":memory:", err, sizeof err)) == NULL)
		fuzz_fail("store_open: %s", err);
	atexit(fuzz_cleanup);
	if (expr_register(db) != 0)
		fuzz_fail("cannot register the SQL functions");
	if (store_exec(db, "INSERT INTO subjects "
	    "(sid, kind, id, traits, account, created) VALUES "
	    "(1, 0, 'u1', '{\"plan\":\"basic\",\"vip\":true,\"n\":5,"
	    "\"a\":{\"b\":[1,\"x\"]},\"t\":\"2026-03-01T10:00:00+0100\","
	    "\"s\":\"10\",\"e\":\"\\u00e9\",\"timezone\":\"Asia/Tokyo\"}', 3,"
	    " 0),"
	    "(2, 0, 'u2', '{\"plan\":\"pro\",\"n\":2.5,\"vip\":false}', 3, 0),"
	    "(4, 0, 'u4', '{\"n\":0,\"s\":10}', NULL, 0),"
	    "(5, 0, 'u5', '{}', NULL, 0),"
	    "(3, 1, 'acme', '{\"seats\":10,\"plan\":\"pro\"}', NULL, 0),"
	    "(6, 1, 'solo', '{}', NULL, 0);"
	    "INSERT INTO events (subject, name, ts, props, msg) VALUES "
	    "(1, 'ride', 1772000000, '{\"fare\":12.5,\"currency\":\"EUR\"}', "
	    "'m1'),"
	    "(1, 'ride', 1770000000, '{\"fare\":\"7\",\"items\":[{\"p\":2}]}', "
	    "'m2'),"
	    "(1, 'signup', 1771000000, NULL, 'm3'),"
	    "(2, 'ride', 1772300000, '{\"fare\":true,\"currency\":\"EUR\"}', "
	    "'m4'),"
	    "(2, 'ride', 1772355600, '{\"fare\":3}', 'm5'),"
	    "(4, 'ride', 1772355601, '{\"fare\":99}', 'm6');"
	    "INSERT INTO members VALUES "
	    "('rider', 1, 'new', 0, 1771000000, 1771000000),"
	    "('rider', 2, 'first_ride', 1, 1771000000, 1772000000),"
	    "('b2b', 3, 'onboarding', 0, 1770000000, 1770000000);") != 0)
		fuzz_fail("cannot fill the database");
	return 0;
}

/* The result of query q for every subject of kind, in sid order, as a
 * string of '0' and '1'. */
static void
fuzz_results(struct sql *q, const char *journey, const char *src,
    char *out)
{
	sqlite3_stmt	*st;
	int		 rc, n = 0;

	if (sqlite3_prepare_v2(db, q->text.s, -1, &st, NULL) != SQLITE_OK)
		fuzz_fail("\"%s\" compiles to bad SQL: %s\n%s", src,
		    sqlite3_errmsg(db), q->text.s);
	if (sql_bind(q, st, NOW, journey) != 0)
		fuzz_fail("\"%s\": cannot bind: %s", src, sqlite3_errmsg(db));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < NSUBJECTS) {
		if (sqlite3_column_type(st, 0) != SQLITE_INTEGER ||
		    (sqlite3_column_int64(st, 0) != 0 &&
		    sqlite3_column_int64(st, 0) != 1))
			fuzz_fail("\"%s\" is not 0 or 1 but '%s'", src,
			    sqlite3_column_text(st, 0));
		out[n++] = '0' + sqlite3_column_int(st, 0);
	}
	if (rc != SQLITE_DONE)
		fuzz_fail("\"%s\" fails to run: %s", src, sqlite3_errmsg(db));
	out[n] = '\0';
	sqlite3_finalize(st);
}

/* Run a compiled expression over every subject of its kind, plainly and
 * over shared reads, and explain it for each; all must agree. */
static void
fuzz_run(const struct expr *e, const char *journey, int kind,
    const char *src)
{
	struct expr_share	 share = { NULL, 0 };
	struct sql		 q;
	struct buf		 why;
	char			 plain[NSUBJECTS + 1], shared[NSUBJECTS + 1];
	int			 holds, n = 0;

	sql_init(&q);
	buf_puts(&q.text, "SELECT ");
	expr_sql(e, &q);
	buf_printf(&q.text, " FROM " EXPR_FROM " WHERE s.kind = %d ORDER BY "
	    "s.sid", kind);
	fuzz_results(&q, journey, src, plain);
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
	fuzz_results(&q, journey, src, shared);
	sql_free(&q);
	expr_share_free(&share);
	if (strcmp(plain, shared) != 0)
		fuzz_fail("\"%s\": %s on its own, %s over shared reads", src,
		    plain, shared);

	for (int64_t sid = 1; sid <= NSUBJECTS; sid++) {
		if ((sid == 3 || sid == 6) != (kind == SUBJECT_ACCOUNT))
			continue;
		buf_init(&why);
		if (expr_explain(e, db, sid, NOW, journey, 2, &why, &holds) != 0)
			fuzz_fail("\"%s\" cannot be explained: %s", src, why.s);
		if (holds != plain[n] - '0')
			fuzz_fail("\"%s\": SQL says %c for %lld, explain %d:\n%s",
			    src, plain[n], (long long)sid, holds, why.s);
		n++;
		buf_free(&why);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct expr_scope	 scopes[] = {
		{ SUBJECT_USER, &conf, &journeys[0], NULL },
		{ SUBJECT_ACCOUNT, &conf, &journeys[1], NULL },
		{ SUBJECT_USER, NULL, NULL, NULL },
	};
	struct expr		*e;
	char			*src, err[256];

	src = xstrndup((const char *)data, len);
	for (size_t i = 0; i < sizeof scopes / sizeof scopes[0]; i++) {
		err[0] = '\0';
		if ((e = expr_compile(src, &scopes[i], err, sizeof err)) ==
		    NULL) {
			if (err[0] == '\0')
				fuzz_fail("\"%s\" refused without a message",
				    src);
			continue;
		}
		if (expr_type(e) != EXPR_BOOL)
			fuzz_fail("\"%s\" compiled but is not a boolean", src);
		fuzz_run(e, scopes[i].journey != NULL ?
		    scopes[i].journey->name : "rider", scopes[i].subject, src);
		expr_free(e);
	}
	free(src);
	return 0;
}
