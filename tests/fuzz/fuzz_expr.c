/*
 * Fuzz the rule language: parse and type-check an expression in a user and
 * an account journey's scope, and when it compiles, prepare and run its SQL
 * on a small database and explain it. The compiled SQL must always be valid
 * and a boolean must always be 0 or 1.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "insight/insight.h"
#include "fuzz.h"

#define NOW	1772355600LL
#define DAY	86400LL

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
static struct config	 conf = { .journeys = journeys, .njourneys = 2 };

/* Open the database the compiled SQL runs on: two users, an account. */
/* Close the database at exit, so that nothing shows as lost. */
static void
fuzz_cleanup(void)
{
	store_close(db);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	 err[256];

	if ((db = store_open(":memory:", err, sizeof err)) == NULL)
		fuzz_fail("store_open: %s", err);
	atexit(fuzz_cleanup);
	if (expr_register(db) != 0)
		fuzz_fail("cannot register the SQL functions");
	if (store_exec(db, "INSERT INTO subjects "
	    "(sid, kind, id, traits, account, created) VALUES "
	    "(1, 0, 'u1', '{\"plan\":\"basic\",\"vip\":true,\"n\":5}', 3, 0),"
	    "(2, 0, 'u2', '{}', 3, 0),"
	    "(3, 1, 'acme', '{\"seats\":10}', NULL, 0);"
	    "INSERT INTO events (subject, name, ts, props, msg) VALUES "
	    "(1, 'ride', 1772000000, '{\"fare\":12.5}', 'm1'),"
	    "(1, 'signup', 1771000000, NULL, 'm2'),"
	    "(2, 'ride', 1772300000, '{\"fare\":\"x\"}', 'm3');"
	    "INSERT INTO members VALUES "
	    "('rider', 1, 'new', 0, 1771000000, 1771000000),"
	    "('rider', 2, 'first_ride', 1, 1771000000, 1772000000),"
	    "('b2b', 3, 'onboarding', 0, 1770000000, 1770000000);") != 0)
		fuzz_fail("cannot fill the database");
	return 0;
}

/* Run a compiled expression over every subject; check it is a boolean. */
static void
fuzz_run(const struct expr *e, const char *journey, const char *src)
{
	sqlite3_stmt	*st;
	struct sql	 q;
	struct buf	 why;
	int		 rc, holds;

	sql_init(&q);
	buf_puts(&q.text, "SELECT ");
	expr_sql(e, &q);
	buf_puts(&q.text, " FROM " EXPR_FROM);
	if (sqlite3_prepare_v2(db, q.text.s, -1, &st, NULL) != SQLITE_OK)
		fuzz_fail("\"%s\" compiles to bad SQL: %s\n%s", src,
		    sqlite3_errmsg(db), q.text.s);
	if (sql_bind(&q, st, NOW, journey) != 0)
		fuzz_fail("\"%s\": cannot bind: %s", src, sqlite3_errmsg(db));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_type(st, 0) != SQLITE_INTEGER ||
		    (sqlite3_column_int64(st, 0) != 0 &&
		    sqlite3_column_int64(st, 0) != 1))
			fuzz_fail("\"%s\" is not 0 or 1 but '%s'", src,
			    sqlite3_column_text(st, 0));
	}
	if (rc != SQLITE_DONE)
		fuzz_fail("\"%s\" fails to run: %s", src, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	sql_free(&q);

	buf_init(&why);
	if (expr_explain(e, db, 1, NOW, journey, 2, &why, &holds) != 0)
		fuzz_fail("\"%s\" cannot be explained: %s", src, why.s);
	buf_free(&why);
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
		    scopes[i].journey->name : "rider", src);
		expr_free(e);
	}
	free(src);
	return 0;
}
