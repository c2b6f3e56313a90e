/* The store: created 0600 in WAL mode, the schema migrated by
 * PRAGMA user_version, a newer database refused, reopened with its data;
 * the claim walk's plan. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "ingest/ingest.h"

static char	 dir[] = "/tmp/jd-store-XXXXXX";
static char	 path[256];

/* One integer from a query. */
static int64_t
one(sqlite3 *db, const char *sql)
{
	sqlite3_stmt	*st = store_prepare(db, sql);
	int64_t		 v = -1;

	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void
test_create(void **state)
{
	struct stat	 sb;
	sqlite3		*db;
	sqlite3_stmt	*st;
	char		 err[256];

	unlink(path);
	assert_non_null(db = store_open(path, err, sizeof err));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_true(one(db, "PRAGMA user_version") >= 1);
	st = store_prepare(db, "PRAGMA journal_mode");
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	assert_int_equal(store_exec(db, "INSERT INTO subjects(kind, id, "
	    "created) VALUES (0, 'u1', 0)"), 0);
	store_close(db);

	/* Reopened: the data is there and the schema is not made again. */
	assert_non_null(db = store_open(path, err, sizeof err));
	assert_int_equal(one(db, "SELECT count(*) FROM subjects"), 1);
	assert_int_equal(store_subject(db, "u1", NULL) > 0, 1);
	assert_int_equal(store_subject(db, "account:u1", NULL), -1);
	store_close(db);
}

static void
test_newer_refused(void **state)
{
	sqlite3		*db;
	char		 err[256] = "";

	unlink(path);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 999", NULL,
	    NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_null(store_open(path, err, sizeof err));
	assert_non_null(strstr(err, "newer"));
}

static void
test_not_a_database(void **state)
{
	char	 err[256] = "";
	FILE	*f;

	unlink(path);
	assert_non_null(f = fopen(path, "w"));
	fputs("this is not a database, just text that is long enough to "
	    "fill a header of one hundred bytes, and then some more text\n", f);
	fclose(f);
	assert_null(store_open(path, err, sizeof err));
	assert_non_null(strstr(err, path));
}

static void
test_meta(void **state)
{
	sqlite3	*db;
	char	 err[256], *v;

	unlink(path);
	assert_non_null(db = store_open(path, err, sizeof err));
	assert_null(store_meta_get(db, "last_tick"));
	assert_int_equal(store_meta_set(db, "last_tick", "a"), 0);
	assert_int_equal(store_meta_set(db, "last_tick", "b"), 0);
	assert_non_null(v = store_meta_get(db, "last_tick"));
	assert_string_equal(v, "b");
	free(v);
	store_close(db);
}

/* The next due action: the earliest queued one after now, whatever its
 * status among pending and retrying; none in flight, done, dead or held. */
static void
test_next_due(void **state)
{
	struct outbox_conn	*oc;
	sqlite3			*db;
	char			 err[256];
	int64_t			 due = 0;

	unlink(path);
	assert_non_null(db = store_open(path, err, sizeof err));
	oc = outbox_conn_new(db);
	assert_int_equal(outbox_next_due(oc, 100, &due), 0);
	/* aid, due, status: done, dead, held and in flight never count. */
	assert_int_equal(store_exec(db, "INSERT INTO outbox(aid, id, subject, "
	    "journey, rule, instance, created, due, status) VALUES "
	    "(1, 'a1', 1, 'j', 'r', 'i', 0, 50, 0),"
	    "(2, 'a2', 1, 'j', 'r', 'i', 0, 150, 2),"
	    "(3, 'a3', 1, 'j', 'r', 'i', 0, 160, 4),"
	    "(4, 'a4', 1, 'j', 'r', 'i', 0, 170, 5),"
	    "(5, 'a5', 1, 'j', 'r', 'i', 0, 180, 1),"
	    "(6, 'a6', 1, 'j', 'r', 'i', 0, 300, 0),"
	    "(7, 'a7', 1, 'j', 'r', 'i', 0, 250, 3)"), 0);
	assert_int_equal(outbox_next_due(oc, 100, &due), 1);
	assert_int_equal(due, 250);
	assert_int_equal(outbox_next_due(oc, 250, &due), 1);
	assert_int_equal(due, 300);
	assert_int_equal(outbox_next_due(oc, 300, &due), 0);
	/* Due now is not "next": a claim takes it. */
	assert_int_equal(outbox_next_due(oc, 40, &due), 1);
	assert_int_equal(due, 50);
	outbox_conn_free(oc);
	store_close(db);
}

/* Run the due walk's statement at now to its end; its VM steps. */
static int
due_walk_steps(sqlite3 *db, int64_t now, int *rows)
{
	sqlite3_stmt	*st = store_prepare(db, outbox_due_sql());
	int		 steps;

	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int(st, 2, 1);
	for (*rows = 0; sqlite3_step(st) == SQLITE_ROW; (*rows)++)
		;
	steps = sqlite3_stmt_status(st, SQLITE_STMTSTATUS_VM_STEP, 0);
	assert_int_equal(sqlite3_stmt_status(st, SQLITE_STMTSTATUS_FULLSCAN_STEP,
	    0), 0);
	sqlite3_finalize(st);
	return steps;
}

/* The dispatcher's claim walk never reads actions that wait for later (a
 * delay, a window): its plan searches the queue's index by due time, and
 * its work is the same with or without 5000 of them queued. */
static void
test_due_walk_plan(void **state)
{
	sqlite3_stmt	*st;
	sqlite3		*db;
	char		 err[256], *sql;
	int		 search = 0, scan = 0, rows, with, without;

	unlink(path);
	assert_non_null(db = store_open(path, err, sizeof err));
	sql = xprintf("EXPLAIN QUERY PLAN %s", outbox_due_sql());
	st = store_prepare(db, sql);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *d = (const char *)sqlite3_column_text(st, 3);

		print_message("plan: %s\n", d);
		search += strstr(d, "SEARCH outbox USING INDEX outbox_queue "
		    "(due<?)") != NULL;
		scan += strstr(d, "SCAN") != NULL;
	}
	sqlite3_finalize(st);
	free(sql);
	assert_int_equal(search, 1);
	assert_int_equal(scan, 0);
	/* Ten due now and one due later; then 5000 more due later: the walk
	 * reads the first one due later, to stop, and no further. */
	assert_int_equal(store_exec(db, "WITH RECURSIVE n(i) AS (SELECT 1 "
	    "UNION ALL SELECT i + 1 FROM n WHERE i < 10) INSERT INTO "
	    "outbox(id, subject, journey, rule, instance, created, due, "
	    "status) SELECT 'now' || i, i, 'j', 'r', 'i', 0, 50 + i, 0 FROM "
	    "n UNION ALL SELECT 'later', 1, 'j', 'r', 'i', 0, 7200, 0"), 0);
	without = due_walk_steps(db, 100, &rows);
	assert_int_equal(rows, 10);
	assert_int_equal(store_exec(db, "WITH RECURSIVE n(i) AS (SELECT 1 "
	    "UNION ALL SELECT i + 1 FROM n WHERE i < 5000) INSERT INTO "
	    "outbox(id, subject, journey, rule, instance, created, due, "
	    "status) SELECT 'later' || i, i, 'j', 'r', 'i', 0, 7300 + i, 0 "
	    "FROM n"), 0);
	with = due_walk_steps(db, 100, &rows);
	assert_int_equal(rows, 10);
	assert_int_equal(with, without);
	store_close(db);
	(void)state;
}

static int
setup(void **state)
{
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof path, "%s/j.db", dir);
	return 0;
}

static int
teardown(void **state)
{
	char	 cmd[300];

	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create),
		cmocka_unit_test(test_newer_refused),
		cmocka_unit_test(test_not_a_database),
		cmocka_unit_test(test_meta),
		cmocka_unit_test(test_next_due),
		cmocka_unit_test(test_due_walk_plan),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
