/*
 * Tests of the importer and the spool folder, on a real database file in a
 * temporary folder.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ingest/ingest.h"

#define NOW		1767225600	/* 2026-01-01T00:00:00Z */
#define MIB		1048576

struct fixture {
	char	 dir[64];
	sqlite3	*db;
};

/* Make a temporary folder with a fresh database in it. */
static int
setup(void **state)
{
	struct fixture	*fx = xcalloc(1, sizeof *fx);
	char		 err[256], *path;

	strcpy(fx->dir, "/tmp/jd-test-import.XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	path = xprintf("%s/journeyd.db", fx->dir);
	fx->db = store_open(path, err, sizeof err);
	free(path);
	if (fx->db == NULL) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	*state = fx;
	return 0;
}

/* Remove one entry of the temporary folder. */
static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Close the database and remove the folder. */
static int
teardown(void **state)
{
	struct fixture	*fx = *state;

	store_close(fx->db);
	nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* Write text to a file in the fixture's folder; return its path. */
static char *
write_file(struct fixture *fx, const char *name, const char *text,
    size_t len)
{
	char	*path = xprintf("%s/%s", fx->dir, name);
	FILE	*f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

/* Import text as a stream named "t.jsonl"; the rejection report goes to
 * *errs (caller frees). Returns import_stream's result. */
static int
import_text(struct fixture *fx, const char *text, size_t len,
    struct import_stats *stats, char **errs)
{
	FILE	*in, *ef;
	char	*out = NULL;
	size_t	 outlen = 0;
	int	 rc;

	in = fmemopen((void *)text, len, "r");
	assert_non_null(in);
	ef = open_memstream(&out, &outlen);
	assert_non_null(ef);
	rc = import_stream(fx->db, in, "t.jsonl", NOW, ef, stats);
	fclose(in);
	fclose(ef);
	if (errs != NULL)
		*errs = out;
	else
		free(out);
	return rc;
}

/* Import a NUL-terminated text. */
static int
import_str(struct fixture *fx, const char *text, struct import_stats *stats,
    char **errs)
{
	return import_text(fx, text, strlen(text), stats, errs);
}

/* The integer a query returns. */
static int64_t
q_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt	*st = store_prepare(db, sql);
	int64_t		 v = -1;

	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The text a query returns (caller frees), or NULL. */
static char *
q_text(sqlite3 *db, const char *sql)
{
	sqlite3_stmt	*st = store_prepare(db, sql);
	char		*v = NULL;

	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return v;
}

/* Check that a query returns the expected text. */
static void
assert_q_text(sqlite3 *db, const char *sql, const char *want)
{
	char	*v = q_text(db, sql);

	if (want == NULL)
		assert_null(v);
	else
		assert_string_equal(v, want);
	free(v);
}

/* Check the three counts. */
static void
assert_stats(const struct import_stats *s, long imported, long dups,
    long rejected)
{
	assert_int_equal(s->imported, imported);
	assert_int_equal(s->duplicates, dups);
	assert_int_equal(s->rejected, rejected);
}

/* The example lines of the specification land where they should. */
static void
test_good_lines(void **state)
{
	struct fixture		*fx = *state;
	struct import_stats	 s;
	char			*errs, sum[128];

	assert_int_equal(import_str(fx,
	    "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"email\":"
	    "\"ann@example.com\",\"first_name\":\"Ann\",\"plan\":\"basic\"},"
	    "\"timestamp\":\"2026-01-05T10:00:00Z\"}\n"
	    "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"ride\","
	    "\"properties\":{\"fare\":12.5},\"timestamp\":"
	    "\"2026-01-06T08:30:00Z\",\"messageId\":\"m-123\"}\n"
	    "{\"type\":\"group\",\"userId\":\"u1\",\"groupId\":\"acme\","
	    "\"traits\":{\"name\":\"Acme Inc\",\"seats\":25},\"timestamp\":"
	    "\"2026-01-05T10:00:00Z\"}\n", &s, &errs), 0);
	assert_string_equal(errs, "");
	free(errs);
	assert_stats(&s, 3, 0, 0);
	assert_string_equal(import_summary(&s, sum, sizeof sum),
	    "imported 3, duplicates 0, rejected 0");

	assert_q_text(fx->db, "SELECT traits FROM subjects WHERE kind = 0 "
	    "AND id = 'u1'", "{\"email\":\"ann@example.com\",\"first_name\":"
	    "\"Ann\",\"plan\":\"basic\"}");
	assert_int_equal(q_int(fx->db, "SELECT created FROM subjects "
	    "WHERE id = 'u1'"), 1767607200);
	assert_q_text(fx->db, "SELECT name || ' ' || ts || ' ' || props || ' '"
	    " || msg FROM events", "ride 1767688200 {\"fare\":12.5} m:m-123");
	assert_q_text(fx->db, "SELECT traits FROM subjects WHERE kind = 1 "
	    "AND id = 'acme'", "{\"name\":\"Acme Inc\",\"seats\":25}");
	assert_int_equal(q_int(fx->db, "SELECT count(*) FROM subjects u "
	    "JOIN subjects a ON a.sid = u.account WHERE u.id = 'u1' AND "
	    "a.id = 'acme' AND a.kind = 1"), 1);
	assert_int_equal(q_int(fx->db, "SELECT count(*) FROM messages"), 2);

	/* An escaped backslash before "u0000" is no NUL. */
	assert_int_equal(import_str(fx, "{\"type\":\"track\",\"userId\":"
	    "\"u1\",\"event\":\"e\",\"properties\":{\"p\":\"\\\\u0000\"}}\n",
	    &s, NULL), 0);
	assert_stats(&s, 1, 0, 0);
	assert_q_text(fx->db, "SELECT props FROM events WHERE name = 'e'",
	    "{\"p\":\"\\\\u0000\"}");
}

/* Each kind of bad line is rejected with its reason and line number, and
 * the good lines around it are kept. */
static void
test_rejections(void **state)
{
	struct fixture		*fx = *state;
	struct import_stats	 s;
	struct buf		 in;
	char			*errs;
	static const struct {
		const char	*line;
		const char	*reason;
	} bad[] = {
		{ "{\"type\":\"track\",\"userId\":\"u1\"",
		    "not valid JSON" },
		{ "{\"type\":\"track\"} trailing", "not valid JSON" },
		{ "[1,2]", "not a JSON object" },
		{ "[]", "not a JSON object" },
		{ "\"track\"", "not a JSON object" },
		{ "{\"type\":\"track\",\"userId\":\"u\xff\",\"event\":\"e\"}",
		    "invalid UTF-8" },
		{ "{\"type\":\"track\",\"userId\":\"\xed\xa0\x80\","
		    "\"event\":\"e\"}", "invalid UTF-8" },
		{ "{\"type\":\"track\",\"userId\":\"\xc0\xaf\","
		    "\"event\":\"e\"}", "invalid UTF-8" },
		{ "{}", "missing \"type\"" },
		{ "{\"userId\":\"u1\",\"event\":\"e\"}", "missing \"type\"" },
		{ "{\"type\":\"pageview\",\"userId\":\"u1\"}",
		    "unknown type \"pageview\"" },
		{ "{\"type\":7,\"userId\":\"u1\"}", "\"type\" is not a string" },
		{ "{\"type\":{\"a\":1},\"userId\":\"u1\"}",
		    "\"type\" is not a string" },
		{ "{\"type\":\"track\",\"event\":\"e\"}",
		    "missing \"userId\" or \"anonymousId\"" },
		{ "{\"type\":\"track\",\"userId\":null,\"event\":\"e\"}",
		    "missing \"userId\" or \"anonymousId\"" },
		{ "{\"type\":\"track\",\"userId\":\"\",\"event\":\"e\"}",
		    "\"userId\" is empty" },
		{ "{\"type\":\"track\",\"userId\":[1],\"event\":\"e\"}",
		    "\"userId\" is not a string" },
		{ "{\"type\":\"identify\",\"userId\":1.5}",
		    "\"userId\" is not a string" },
		{ "{\"type\":\"identify\",\"userId\":true}",
		    "\"userId\" is not a string" },
		{ "{\"type\":\"identify\",\"userId\":{\"a\":1}}",
		    "\"userId\" is not a string" },
		{ "{\"type\":\"identify\",\"userId\":12345678901234567890123}",
		    "\"userId\" is not a string" },
		{ "{\"type\":\"track\",\"userId\":\"u1\"}",
		    "missing \"event\"" },
		{ "{\"type\":\"track\",\"userId\":\"u1\",\"event\":3}",
		    "\"event\" is not a string" },
		{ "{\"type\":\"track\",\"userId\":\"u1\",\"event\":[\"a\"]}",
		    "\"event\" is not a string" },
		{ "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"\"}",
		    "\"event\" is empty" },
		{ "{\"type\":\"group\",\"userId\":\"u1\"}",
		    "missing \"groupId\"" },
		{ "{\"type\":\"group\",\"userId\":\"u1\",\"groupId\":{}}",
		    "\"groupId\" is not a string" },
		{ "{\"type\":\"group\",\"userId\":\"u1\",\"groupId\":false}",
		    "\"groupId\" is not a string" },
		{ "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"e\","
		    "\"properties\":[1]}", "\"properties\" is not an object" },
		{ "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"e\","
		    "\"properties\":\"{}\"}", "\"properties\" is not an object" },
		{ "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":\"x\"}",
		    "\"traits\" is not an object" },
		{ "{\"type\":\"group\",\"userId\":\"u1\",\"groupId\":\"g\","
		    "\"traits\":1}", "\"traits\" is not an object" },
		{ "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"e\","
		    "\"timestamp\":\"yesterday\"}",
		    "bad timestamp \"yesterday\"" },
		{ "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"e\","
		    "\"timestamp\":\"2026-02-30T10:00:00Z\"}",
		    "bad timestamp \"2026-02-30T10:00:00Z\"" },
		{ "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"e\","
		    "\"timestamp\":\"2026-13-01T10:00:00Z\"}",
		    "bad timestamp \"2026-13-01T10:00:00Z\"" },
		{ "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"e\","
		    "\"timestamp\":1767225600}",
		    "\"timestamp\" is not a string" },
		{ "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"e\","
		    "\"messageId\":[]}", "\"messageId\" is not a string" },
		{ "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"e\","
		    "\"messageId\":true}", "\"messageId\" is not a string" },
		/* anonymousId, previousId, name, category */
		{ "{\"type\":\"track\",\"anonymousId\":null,\"event\":\"e\"}",
		    "missing \"userId\" or \"anonymousId\"" },
		{ "{\"type\":\"track\",\"anonymousId\":\"\",\"event\":\"e\"}",
		    "\"anonymousId\" is empty" },
		{ "{\"type\":\"track\",\"anonymousId\":true,\"event\":\"e\"}",
		    "\"anonymousId\" is not a string" },
		{ "{\"type\":\"page\",\"userId\":\"u\",\"anonymousId\":[1]}",
		    "\"anonymousId\" is not a string" },
		{ "{\"type\":\"alias\",\"anonymousId\":\"a\",\"previousId\":\"p\"}",
		    "missing \"userId\"" },
		{ "{\"type\":\"alias\",\"userId\":\"u\"}",
		    "missing \"previousId\"" },
		{ "{\"type\":\"alias\",\"userId\":\"u\",\"previousId\":\"\"}",
		    "\"previousId\" is empty" },
		{ "{\"type\":\"alias\",\"userId\":\"u\",\"previousId\":{}}",
		    "\"previousId\" is not a string" },
		{ "{\"type\":\"page\",\"userId\":\"u\",\"name\":3}",
		    "\"name\" is not a string" },
		{ "{\"type\":\"screen\",\"userId\":\"u\",\"category\":[\"a\"]}",
		    "\"category\" is not a string" },
		{ "{\"type\":\"page\",\"userId\":\"u\",\"properties\":[]}",
		    "\"properties\" is not an object" },
		{ "{\"type\":\"screen\",\"anonymousId\":\"a\",\"timestamp\":\"x\"}",
		    "bad timestamp \"x\"" },
		/* originalTimestamp and sentAt, when they are used */
		{ "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\","
		    "\"originalTimestamp\":\"soon\"}",
		    "bad originalTimestamp \"soon\"" },
		{ "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\","
		    "\"originalTimestamp\":1767225600}",
		    "\"originalTimestamp\" is not a string" },
		{ "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\","
		    "\"originalTimestamp\":\"2026-01-01T00:00:00Z\","
		    "\"sentAt\":\"later\"}", "bad sentAt \"later\"" },
		{ "{\"type\":\"identify\",\"userId\":\"u\","
		    "\"originalTimestamp\":\"2026-01-01T00:00:00Z\","
		    "\"sentAt\":false}", "\"sentAt\" is not a string" },
		{ "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\","
		    "\"timestamp\":\"2026-01-05T10:00:00+01\"}",
		    "bad timestamp \"2026-01-05T10:00:00+01\"" },
		/* batch envelopes that are no envelope */
		{ "{\"batch\":{}}", "\"batch\" is not an array" },
		{ "{\"batch\":null}", "missing \"type\"" },
		{ "{\"batch\":[],\"sentAt\":5}", "\"sentAt\" is not a string" },
		{ "{\"batch\":[],\"sentAt\":\"then\"}", "bad sentAt \"then\"" },
		{ "{\"type\":\"track\",\"userId\":\"u\\u0000\",\"event\":\"e\"}",
		    "NUL character (\\u0000) in line" },
		{ "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\","
		    "\"properties\":{\"a\":\"\\\\\\u0000\"}}",
		    "NUL character (\\u0000) in line" },
	};
	struct buf	 want;
	size_t		 i, nbad = sizeof bad / sizeof bad[0];
	int		 lineno = 0;

	buf_init(&in);
	buf_init(&want);
	for (i = 0; i < nbad; i++) {
		buf_printf(&in, "{\"type\":\"track\",\"userId\":\"good\","
		    "\"event\":\"ok\",\"messageId\":\"g%zu\"}\n", i);
		lineno++;
		buf_printf(&in, "%s\n", bad[i].line);
		lineno++;
		buf_printf(&want, "t.jsonl:%d: %s\n", lineno, bad[i].reason);
	}
	/* A NUL byte, which the text cannot hold. */
	buf_add(&in, "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"e\"}"
	    "\0\n", 44);
	lineno++;
	buf_printf(&want, "t.jsonl:%d: NUL byte in line\n", lineno);
	buf_puts(&in, "{\"type\":\"track\",\"userId\":\"good\",\"event\":\"last\"}");
	lineno++;

	assert_int_equal(import_text(fx, in.s, in.len, &s, &errs), 1);
	assert_string_equal(errs, want.s);
	assert_stats(&s, (long)nbad + 1, 0, (long)nbad + 1);
	assert_int_equal(q_int(fx->db, "SELECT count(*) FROM events e JOIN "
	    "subjects s ON s.sid = e.subject WHERE s.id = 'good'"),
	    (int64_t)nbad + 1);
	assert_int_equal(q_int(fx->db, "SELECT count(*) FROM subjects"), 1);
	free(errs);
	buf_free(&in);
	buf_free(&want);
}

/* An empty file, and one of blank lines, import nothing and reject
 * nothing. */
static void
test_empty(void **state)
{
	struct fixture		*fx = *state;
	struct import_stats	 s;
	char			*errs;

	assert_int_equal(import_text(fx, "", 0, &s, &errs), 0);
	assert_string_equal(errs, "");
	assert_stats(&s, 0, 0, 0);
	free(errs);
	assert_int_equal(import_str(fx, "\n\n  \r\n\t\n", &s, &errs), 0);
	assert_string_equal(errs, "");
	assert_stats(&s, 0, 0, 0);
	free(errs);
}

/* A messageId seen before is a duplicate, whatever the rest says. */
static void
test_duplicate_message_ids(void **state)
{
	struct fixture		*fx = *state;
	struct import_stats	 s;

	assert_int_equal(import_str(fx,
	    "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"a\","
	    "\"messageId\":\"m1\"}\n"
	    "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"b\","
	    "\"messageId\":\"m1\"}\n"
	    "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"a\":1},"
	    "\"messageId\":\"m2\"}\n"
	    "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"a\":2},"
	    "\"messageId\":\"m2\"}\n"
	    "{\"type\":\"group\",\"userId\":\"u1\",\"groupId\":\"g1\","
	    "\"messageId\":\"m3\"}\n"
	    "{\"type\":\"group\",\"userId\":\"u1\",\"groupId\":\"g2\","
	    "\"messageId\":\"m3\"}\n"
	    "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"c\","
	    "\"messageId\":42}\n"
	    "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"c\","
	    "\"messageId\":\"42\"}\n", &s, NULL), 0);
	assert_stats(&s, 4, 4, 0);
	assert_q_text(fx->db, "SELECT group_concat(name, ',') FROM "
	    "(SELECT name FROM events ORDER BY eid)", "a,c");
	assert_q_text(fx->db, "SELECT traits FROM subjects WHERE id = 'u1' "
	    "AND kind = 0", "{\"a\":1}");
	assert_int_equal(q_int(fx->db, "SELECT count(*) FROM subjects "
	    "WHERE kind = 1"), 1);
}

/* Lines without a messageId are known by their content. */
static void
test_duplicate_content(void **state)
{
	struct fixture		*fx = *state;
	struct import_stats	 s;

	assert_int_equal(import_str(fx,
	    "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"a\","
	    "\"properties\":{\"x\":1},\"timestamp\":\"2026-01-02T00:00:00Z\"}\n"
	    /* the same, written differently */
	    "{ \"timestamp\" : \"2026-01-02T00:00:00Z\", \"event\":\"a\","
	    "\"userId\":\"u1\", \"type\":\"track\",\"properties\":{ \"x\" : 1 }}\r\n"
	    /* different properties, timestamp, user or event */
	    "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"a\","
	    "\"properties\":{\"x\":2},\"timestamp\":\"2026-01-02T00:00:00Z\"}\n"
	    "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"a\","
	    "\"properties\":{\"x\":1},\"timestamp\":\"2026-01-02T00:00:01Z\"}\n"
	    "{\"type\":\"track\",\"userId\":\"u2\",\"event\":\"a\","
	    "\"properties\":{\"x\":1},\"timestamp\":\"2026-01-02T00:00:00Z\"}\n"
	    "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"b\","
	    "\"properties\":{\"x\":1},\"timestamp\":\"2026-01-02T00:00:00Z\"}\n"
	    "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"a\"}\n"
	    "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"a\"}\n"
	    "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"a\":1}}\n"
	    "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"a\":1}}\n"
	    "{\"type\":\"group\",\"userId\":\"u1\",\"groupId\":\"g\"}\n"
	    "{\"type\":\"group\",\"userId\":\"u1\",\"groupId\":\"g\"}\n"
	    /* keys a type does not use do not count, whatever came before */
	    "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"z\","
	    "\"groupId\":\"g\",\"traits\":{}}\n"
	    "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"z\"}\n"
	    "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"z\","
	    "\"groupId\":\"g\",\"traits\":{}}\n"
	    "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"a\":1},"
	    "\"event\":\"x\",\"properties\":{}}\n",
	    &s, NULL), 0);
	assert_stats(&s, 9, 7, 0);
	assert_int_equal(q_int(fx->db, "SELECT count(*) FROM events"), 7);
	assert_int_equal(q_int(fx->db, "SELECT count(*) FROM events "
	    "WHERE msg LIKE 'c:%' AND length(msg) = 66"), 7);
}

/* Importing a file again changes nothing. */
static void
test_reimport(void **state)
{
	struct fixture		*fx = *state;
	struct import_stats	 s;
	const char		*text =
	    "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"a\":1}}\n"
	    "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"a\":2}}\n"
	    "{\"type\":\"group\",\"userId\":\"u1\",\"groupId\":\"g1\"}\n"
	    "{\"type\":\"group\",\"userId\":\"u1\",\"groupId\":\"g2\"}\n"
	    "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"a\"}\n"
	    "{\"type\":\"track\",\"userId\":\"u2\",\"event\":\"a\","
	    "\"messageId\":\"x\"}\n"
	    "not json\n";
	const char		*dump = "SELECT group_concat(x, ';') FROM ("
	    "SELECT kind || id || traits || ifnull(account, '') || created AS x"
	    " FROM subjects UNION ALL SELECT subject || name || ts || "
	    "ifnull(props, '') || msg FROM events UNION ALL "
	    "SELECT msg FROM messages)";
	char			*before;

	assert_int_equal(import_str(fx, text, &s, NULL), 1);
	assert_stats(&s, 6, 0, 1);
	before = q_text(fx->db, dump);
	assert_int_equal(import_str(fx, text, &s, NULL), 1);
	assert_stats(&s, 0, 6, 1);
	assert_q_text(fx->db, dump, before);
	assert_q_text(fx->db, "SELECT a.id FROM subjects u JOIN subjects a ON "
	    "a.sid = u.account WHERE u.id = 'u1'", "g2");
	free(before);
}

/* Traits merge by time, each key on its own: a value set later wins
 * whatever the import order, among equal times the one imported last;
 * null removes; a line without a time has the import's. */
static void
test_trait_merge(void **state)
{
	struct fixture		*fx = *state;
	struct import_stats	 s;

	assert_int_equal(import_str(fx,
	    "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"plan\":"
	    "\"basic\",\"email\":\"a@x\",\"n\":1},"
	    "\"timestamp\":\"2026-01-05T10:00:00Z\"}\n"
	    /* older: plan and n stay as they are */
	    "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"plan\":"
	    "\"pass\",\"n\":null},\"timestamp\":\"2026-01-01T10:00:00Z\"}\n"
	    "{\"type\":\"identify\",\"userId\":\"u1\"}\n"
	    /* at NOW, older still, but city is new */
	    "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"city\":"
	    "\"Berlin\"}}\n"
	    /* the same time: imported last wins; null removes */
	    "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"email\":"
	    "\"b@x\",\"n\":null},\"timestamp\":\"2026-01-05T10:00:00Z\"}\n"
	    "{\"type\":\"identify\",\"userId\":\"u2\",\"traits\":{\"gone\":"
	    "null,\"kept\":true}}\n", &s, NULL), 0);
	assert_stats(&s, 6, 0, 0);
	assert_q_text(fx->db, "SELECT traits FROM subjects WHERE id = 'u1'",
	    "{\"plan\":\"basic\",\"email\":\"b@x\",\"city\":\"Berlin\"}");
	assert_int_equal(q_int(fx->db, "SELECT traits_ts FROM subjects "
	    "WHERE id = 'u1'"), 1767607200);
	assert_q_text(fx->db, "SELECT traits FROM subjects WHERE id = 'u2'",
	    "{\"kept\":true}");
	/* Created at the first line's time, not changed later. */
	assert_int_equal(q_int(fx->db, "SELECT created FROM subjects "
	    "WHERE id = 'u1'"), 1767607200);
}

/* A later group moves the user; account traits merge. */
static void
test_group_moves(void **state)
{
	struct fixture		*fx = *state;
	struct import_stats	 s;

	assert_int_equal(import_str(fx,
	    "{\"type\":\"group\",\"userId\":\"u1\",\"groupId\":\"acme\","
	    "\"traits\":{\"name\":\"Acme\",\"seats\":5}}\n"
	    "{\"type\":\"group\",\"userId\":\"u2\",\"groupId\":\"acme\","
	    "\"traits\":{\"seats\":25}}\n"
	    "{\"type\":\"group\",\"userId\":\"u1\",\"groupId\":\"globex\"}\n"
	    "{\"type\":\"group\",\"userId\":7,\"groupId\":8}\n",
	    &s, NULL), 0);
	assert_stats(&s, 4, 0, 0);
	assert_q_text(fx->db, "SELECT a.id FROM subjects u JOIN subjects a ON "
	    "a.sid = u.account WHERE u.id = 'u1' AND u.kind = 0", "globex");
	assert_q_text(fx->db, "SELECT a.id FROM subjects u JOIN subjects a ON "
	    "a.sid = u.account WHERE u.id = 'u2' AND u.kind = 0", "acme");
	assert_q_text(fx->db, "SELECT a.id FROM subjects u JOIN subjects a ON "
	    "a.sid = u.account WHERE u.id = '7' AND u.kind = 0", "8");
	assert_q_text(fx->db, "SELECT traits FROM subjects WHERE kind = 1 AND "
	    "id = 'acme'", "{\"name\":\"Acme\",\"seats\":25}");
	assert_int_equal(q_int(fx->db, "SELECT count(*) FROM subjects "
	    "WHERE kind = 1"), 3);
}

/* Track and group lines create unknown users; ids may be numbers. */
static void
test_unknown_users(void **state)
{
	struct fixture		*fx = *state;
	struct import_stats	 s;

	assert_int_equal(import_str(fx,
	    "{\"type\":\"track\",\"userId\":\"new1\",\"event\":\"signup\","
	    "\"timestamp\":\"2026-01-06T08:30:00Z\"}\n"
	    "{\"type\":\"group\",\"userId\":\"new2\",\"groupId\":\"g\"}\n"
	    "{\"type\":\"track\",\"userId\":12345,\"event\":\"signup\"}\n"
	    "{\"type\":\"track\",\"userId\":\"12345\",\"event\":\"other\"}\n"
	    "{\"type\":\"track\",\"userId\":\"{odd}\",\"event\":\"[beta] x\","
	    "\"messageId\":\"[1]\",\"timestamp\":\"2026-01-06T08:30:00Z\"}\n",
	    &s, NULL), 0);
	assert_stats(&s, 5, 0, 0);
	assert_q_text(fx->db, "SELECT s.id || ' ' || e.name || ' ' || e.msg "
	    "FROM events e JOIN subjects s ON s.sid = e.subject WHERE "
	    "e.name LIKE '[%'", "{odd} [beta] x m:[1]");
	assert_q_text(fx->db, "SELECT group_concat(id || ':' || traits || ':' "
	    "|| created, ' ') FROM (SELECT * FROM subjects WHERE kind = 0 "
	    "ORDER BY sid)", "new1:{}:1767688200 new2:{}:1767225600 "
	    "12345:{}:1767225600 {odd}:{}:1767688200");
	assert_int_equal(q_int(fx->db, "SELECT count(*) FROM events e JOIN "
	    "subjects s ON s.sid = e.subject WHERE s.id = '12345'"), 2);
}

/* Offsets are converted to UTC; a missing timestamp means now. */
static void
test_timestamps(void **state)
{
	struct fixture		*fx = *state;
	struct import_stats	 s;

	assert_int_equal(import_str(fx,
	    "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"a\","
	    "\"timestamp\":\"2026-01-05T12:00:00+02:00\"}\n"
	    "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"b\","
	    "\"timestamp\":\"2026-01-05T20:30:00-05:30\"}\n"
	    "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"c\","
	    "\"timestamp\":\"2026-01-05T10:00:00.250Z\"}\n"
	    "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"d\"}\n"
	    "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\","
	    "\"timestamp\":null}\n", &s, NULL), 0);
	assert_stats(&s, 5, 0, 0);
	assert_q_text(fx->db, "SELECT group_concat(name || '=' || ts, ' ') "
	    "FROM (SELECT * FROM events ORDER BY eid)",
	    "a=1767607200 b=1767664800 c=1767607200 d=1767225600 "
	    "e=1767225600");
}

/* Append a valid track line of exactly len bytes, and a newline. */
static void
add_line_of(struct buf *b, size_t len)
{
	const char	*head = "{\"type\":\"track\",\"userId\":\"u\","
	    "\"event\":\"big\",\"properties\":{\"pad\":\"";
	size_t		 fill = len - strlen(head) - 3;

	buf_puts(b, head);
	for (size_t i = 0; i < fill; i++)
		buf_add(b, "x", 1);
	buf_puts(b, "\"}}\n");
}

/* A line of 1 MiB is read; one byte more is rejected, read or not, with
 * the lines around it kept, from a string and from a file. */
static void
test_long_lines(void **state)
{
	struct fixture		*fx = *state;
	struct import_stats	 s;
	struct buf		 in;
	char			*errs, *path;
	FILE			*f;

	buf_init(&in);
	buf_puts(&in, "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"a\"}\n");
	add_line_of(&in, MIB);			/* line 2: accepted */
	add_line_of(&in, MIB + 1);		/* line 3: too long */
	in.len--;
	buf_puts(&in, "\r\n");
	add_line_of(&in, MIB);			/* line 4: CRLF, accepted */
	in.s[in.len - 20] = 'y';
	in.len--;
	buf_puts(&in, "\r\n");
	buf_puts(&in, "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"b\"}\n");
	add_line_of(&in, 3 * MIB);		/* line 6: too long */
	buf_puts(&in, "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"c\"}\n");
	add_line_of(&in, 3 * MIB);		/* line 8: too long, no LF */
	in.len--;

	assert_int_equal(import_text(fx, in.s, in.len, &s, &errs), 1);
	assert_string_equal(errs,
	    "t.jsonl:3: line longer than 1048576 bytes\n"
	    "t.jsonl:6: line longer than 1048576 bytes\n"
	    "t.jsonl:8: line longer than 1048576 bytes\n");
	assert_stats(&s, 5, 0, 3);
	free(errs);
	assert_int_equal(q_int(fx->db, "SELECT count(*) FROM events "
	    "WHERE name = 'big' AND length(props) = 1048576 - 57"), 2);

	/* Through read(2), in pieces, with every line a duplicate now. */
	path = write_file(fx, "long.jsonl", in.s, in.len);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(import_stream(fx->db, f, "long.jsonl", NOW, NULL, &s),
	    1);
	fclose(f);
	assert_stats(&s, 0, 5, 3);
	free(path);
	buf_free(&in);
}

/* CRLF endings, a last line without newline and a byte order mark. */
static void
test_line_endings(void **state)
{
	struct fixture		*fx = *state;
	struct import_stats	 s;
	char			*errs;

	assert_int_equal(import_str(fx,
	    "\xef\xbb\xbf{\"type\":\"track\",\"userId\":\"u\",\"event\":\"a\"}\r\n"
	    "\r\n"
	    "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"b\"}\r\n"
	    "{\"type\":\"nope\"}\r\n"
	    "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"c\"}",
	    &s, &errs), 1);
	assert_string_equal(errs, "t.jsonl:4: unknown type \"nope\"\n");
	assert_stats(&s, 3, 0, 1);
	free(errs);
}

/* The line API: counts, and nothing kept without a commit. */
static void
test_importer_api(void **state)
{
	struct fixture		*fx = *state;
	struct importer		*imp;
	struct import_stats	 s;
	const char		*good =
	    "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"a\"}\n";
	char			 err[256];

	imp = importer_new(fx->db, NOW);
	assert_int_equal(importer_line(imp, good, strlen(good), err,
	    sizeof err), 0);
	assert_int_equal(importer_line(imp, good, strlen(good), err,
	    sizeof err), 0);
	assert_int_equal(importer_line(imp, "{", 1, err, sizeof err), -1);
	assert_string_equal(err, "not valid JSON");
	assert_int_equal(importer_line(imp, "", 0, err, sizeof err), 0);
	importer_stats(imp, &s);
	assert_stats(&s, 1, 1, 1);
	importer_free(imp);
	assert_int_equal(q_int(fx->db, "SELECT count(*) FROM events"), 0);
	assert_int_equal(q_int(fx->db, "SELECT count(*) FROM subjects"), 0);

	imp = importer_new(fx->db, NOW);
	assert_int_equal(importer_line(imp, good, strlen(good), err,
	    sizeof err), 0);
	assert_int_equal(importer_commit(imp), 0);
	importer_free(imp);
	assert_int_equal(q_int(fx->db, "SELECT count(*) FROM events"), 1);
}

/* Many lines: batches commit as they go and the cache keeps ids right. */
static void
test_many_lines(void **state)
{
	struct fixture		*fx = *state;
	struct import_stats	 s;
	struct buf		 in;

	buf_init(&in);
	for (int i = 0; i < 45000; i++)
		buf_printf(&in, "{\"type\":\"track\",\"userId\":\"u%d\","
		    "\"event\":\"e\",\"timestamp\":\"@%d\"}\n", (i * 7) % 5003,
		    NOW + i);
	assert_int_equal(import_text(fx, in.s, in.len, &s, NULL), 0);
	assert_stats(&s, 45000, 0, 0);
	assert_int_equal(q_int(fx->db, "SELECT count(*) FROM subjects"), 5003);
	assert_int_equal(q_int(fx->db, "SELECT count(*) FROM events e JOIN "
	    "subjects s ON s.sid = e.subject WHERE s.id = 'u' || "
	    "(((e.ts - 1767225600) * 7) % 5003)"), 45000);
	/* Again: all duplicates, through a fresh cache and a warm one. */
	assert_int_equal(import_text(fx, in.s, in.len, &s, NULL), 0);
	assert_stats(&s, 0, 45000, 0);
	assert_int_equal(q_int(fx->db, "SELECT count(*) FROM events"), 45000);
	buf_free(&in);
}

/* The text of a file of tests/data (caller frees). */
static char *
read_data(const char *name)
{
	const char	*top = getenv("top_srcdir");
	char		*path, *s;
	FILE		*f;
	long		 n;

	path = xprintf("%s/tests/data/%s", top != NULL ? top : ".", name);
	f = fopen(path, "r");
	if (f == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	s = xmalloc(n + 1);
	assert_int_equal(fread(s, 1, n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	free(path);
	return s;
}

/* The fixtures of tests/data: the specification's examples, and one bad
 * line of each kind with the report expected. */
static void
test_fixtures(void **state)
{
	struct fixture		*fx = *state;
	struct import_stats	 s;
	char			*text, *want, *errs;
	FILE			*in, *ef;
	size_t			 len = 0;

	text = read_data("import-good.jsonl");
	assert_int_equal(import_str(fx, text, &s, &errs), 0);
	assert_string_equal(errs, "");
	assert_stats(&s, 6, 1, 0);
	free(errs);
	free(text);
	assert_q_text(fx->db, "SELECT traits FROM subjects WHERE kind = 0 AND "
	    "id = 'u1'", "{\"email\":\"ann@example.com\",\"plan\":\"pass\"}");
	assert_q_text(fx->db, "SELECT traits FROM subjects WHERE kind = 1 AND "
	    "id = 'acme'", "{\"name\":\"Acme Inc\",\"seats\":30}");
	assert_int_equal(q_int(fx->db, "SELECT count(*) FROM subjects u JOIN "
	    "subjects a ON a.sid = u.account WHERE a.id = 'acme'"), 2);
	assert_int_equal(q_int(fx->db, "SELECT ts FROM events WHERE "
	    "name = 'signup'"), 1767772800);

	text = read_data("import-bad.jsonl");
	want = read_data("import-bad.errors");
	in = fmemopen(text, strlen(text), "r");
	ef = open_memstream(&errs, &len);
	assert_int_equal(import_stream(fx->db, in, "import-bad.jsonl", NOW, ef,
	    &s), 1);
	fclose(in);
	fclose(ef);
	assert_string_equal(errs, want);
	assert_stats(&s, 1, 1, 15);	/* the page of line 5 is unknown */
	free(errs);
	free(want);
	free(text);
}

/* Does path exist? */
static int
exists(struct fixture *fx, const char *name)
{
	char	*path = xprintf("%s/%s", fx->dir, name);
	int	 rc = access(path, F_OK) == 0;

	free(path);
	return rc;
}

/* The text of a file in the fixture's folder (caller frees). */
static char *
read_text(struct fixture *fx, const char *name)
{
	char	*path = xprintf("%s/%s", fx->dir, name), *s;
	FILE	*f = fopen(path, "r");
	long	 n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	s = xmalloc(n + 1);
	assert_int_equal(fread(s, 1, n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	free(path);
	return s;
}

/* The spool: good files to done/, bad ones to failed/ with their errors;
 * dot-files, tmp/ and folders left alone; no name reused. */
static void
test_spool(void **state)
{
	struct fixture	*fx = *state;
	char		*spool, *errs, *p;
	const char	*good = "{\"type\":\"track\",\"userId\":\"u\","
	    "\"event\":\"a\",\"messageId\":\"1\"}\n";
	const char	*bad = "{\"type\":\"track\",\"userId\":\"u\","
	    "\"event\":\"b\",\"messageId\":\"2\"}\nnope\n{\"type\":\"x\"}\n";

	/* A folder that cannot be made is an error; a missing one is made. */
	spool = xprintf("%s/no/such/spool", fx->dir);
	assert_int_equal(spool_scan(fx->db, spool, NOW), -1);
	free(spool);
	spool = xprintf("%s/spool", fx->dir);
	assert_int_equal(spool_scan(fx->db, spool, NOW), 0);
	assert_true(exists(fx, "spool"));
	assert_true(exists(fx, "spool/tmp") && exists(fx, "spool/done") &&
	    exists(fx, "spool/failed"));

	free(write_file(fx, "spool/a.jsonl", good, strlen(good)));
	free(write_file(fx, "spool/b.jsonl", bad, strlen(bad)));
	free(write_file(fx, "spool/.c.jsonl", good, strlen(good)));
	free(write_file(fx, "spool/tmp/d.jsonl", good, strlen(good)));
	assert_int_equal(mkdir(p = xprintf("%s/spool/sub", fx->dir), 0700), 0);
	free(p);
	free(write_file(fx, "spool/sub/e.jsonl", good, strlen(good)));

	assert_int_equal(spool_scan(fx->db, spool, NOW), 2);
	assert_true(exists(fx, "spool/done/a.jsonl"));
	assert_false(exists(fx, "spool/a.jsonl"));
	assert_true(exists(fx, "spool/failed/b.jsonl"));
	assert_false(exists(fx, "spool/b.jsonl"));
	assert_false(exists(fx, "spool/done/a.jsonl.errors"));
	errs = read_text(fx, "spool/failed/b.jsonl.errors");
	assert_string_equal(errs, "b.jsonl:2: not valid JSON\n"
	    "b.jsonl:3: unknown type \"x\"\n");
	free(errs);
	assert_true(exists(fx, "spool/.c.jsonl"));
	assert_true(exists(fx, "spool/tmp/d.jsonl"));
	assert_true(exists(fx, "spool/sub/e.jsonl"));
	assert_int_equal(q_int(fx->db, "SELECT count(*) FROM events"), 2);

	/* The same names again: suffixes, nothing overwritten. */
	free(write_file(fx, "spool/a.jsonl", good, strlen(good)));
	free(write_file(fx, "spool/b.jsonl", bad, strlen(bad)));
	assert_int_equal(spool_scan(fx->db, spool, NOW), 2);
	assert_true(exists(fx, "spool/done/a.jsonl.1"));
	assert_true(exists(fx, "spool/failed/b.jsonl.1"));
	assert_true(exists(fx, "spool/failed/b.jsonl.1.errors"));
	assert_int_equal(q_int(fx->db, "SELECT count(*) FROM events"), 2);
	assert_int_equal(spool_scan(fx->db, spool, NOW), 0);
	free(spool);
}

/* The integer a query returns with :now bound to now. */
static int64_t
q_int_at(sqlite3 *db, const char *sql, int64_t now)
{
	sqlite3_stmt	*st = store_prepare(db, sql);
	int64_t		 v = -1;

	sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":now"), now);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -2 :
		    sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Check the text a query returns with :now bound to now. */
static void
assert_q_text_at(sqlite3 *db, const char *sql, int64_t now, const char *want)
{
	sqlite3_stmt	*st = store_prepare(db, sql);
	const char	*v = NULL;

	sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":now"), now);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = (const char *)sqlite3_column_text(st, 0);
	if (want == NULL)
		assert_null(v);
	else {
		if (v == NULL)
			fail_msg("NULL, not %s, at %lld", want, (long long)now);
		assert_string_equal(v, want);
	}
	sqlite3_finalize(st);
}

#define T1	1767607200	/* 2026-01-05T10:00:00Z */
#define T2	1768039200	/* 2026-01-10T10:00:00Z */
#define T3	1768903200	/* 2026-01-20T10:00:00Z */

/* Traits kept by version: a later value wins whatever the order of
 * import, among equal times the last imported; a nested object replaces
 * the key's value; null unsets it; trait_keys knows every key set. */
static void
test_trait_versions(void **state)
{
	struct fixture		*fx = *state;
	struct import_stats	 s;

	assert_int_equal(import_str(fx,
	    "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"plan\":"
	    "\"pro\",\"addr\":{\"city\":\"Berlin\",\"zip\":\"1\"}},"
	    "\"timestamp\":\"2026-01-10T10:00:00Z\"}\n"
	    "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"plan\":"
	    "\"basic\",\"n\":1,\"only_null\":null},"
	    "\"timestamp\":\"2026-01-05T10:00:00Z\"}\n"
	    "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"addr\":"
	    "{\"zip\":\"2\",\"x\":null}},\"timestamp\":\"2026-01-20T10:00:00Z\"}\n"
	    "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"n\":2},"
	    "\"timestamp\":\"2026-01-05T10:00:00Z\"}\n"
	    "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"n\":null},"
	    "\"timestamp\":\"2026-01-20T10:00:00Z\"}\n", &s, NULL), 0);
	assert_stats(&s, 5, 0, 0);
	assert_q_text(fx->db, "SELECT traits FROM subjects WHERE id = 'u1'",
	    "{\"plan\":\"pro\",\"addr\":{\"zip\":\"2\",\"x\":null}}");
	assert_int_equal(q_int(fx->db, "SELECT traits_ts FROM subjects "
	    "WHERE id = 'u1'"), T3);
	assert_int_equal(q_int(fx->db, "SELECT count(*) FROM trait_versions"),
	    8);
	assert_q_text(fx->db, "SELECT group_concat(key, ',') FROM (SELECT key "
	    "FROM trait_keys ORDER BY key)", "addr,n,plan");
	/* As of each time, through the store's macro. */
	assert_q_text_at(fx->db, "SELECT " STORE_TRAITS_ASOF("s") " FROM "
	    "subjects s WHERE id = 'u1'", T1 - 1, "{}");
	assert_q_text_at(fx->db, "SELECT " STORE_TRAITS_ASOF("s") " FROM "
	    "subjects s WHERE id = 'u1'", T1, "{\"n\":2,\"plan\":\"basic\"}");
	assert_q_text_at(fx->db, "SELECT " STORE_TRAITS_ASOF("s") " FROM "
	    "subjects s WHERE id = 'u1'", T2, "{\"addr\":{\"city\":"
	    "\"Berlin\",\"zip\":\"1\"},\"n\":2,\"plan\":\"pro\"}");
	assert_q_text_at(fx->db, "SELECT " STORE_TRAITS_ASOF("s") " FROM "
	    "subjects s WHERE id = 'u1'", T3, "{\"plan\":\"pro\",\"addr\":"
	    "{\"zip\":\"2\",\"x\":null}}");
}

/* A user belongs to the account of its latest group at or before now;
 * an account's users are counted as of now. */
static void
test_account_versions(void **state)
{
	struct fixture		*fx = *state;
	struct import_stats	 s;
	const char		*members = "SELECT count(*) FROM ("
	    STORE_MEMBERS_ASOF("(SELECT sid FROM subjects WHERE kind = 1 AND "
	    "id = 'acme')") ")";
	const char		*account = "SELECT (SELECT id FROM subjects "
	    "WHERE sid = " STORE_ACCOUNT_ASOF("s") ") FROM subjects s "
	    "WHERE kind = 0 AND id = 'u1'";

	assert_int_equal(import_str(fx,
	    "{\"type\":\"group\",\"userId\":\"u1\",\"groupId\":\"globex\","
	    "\"timestamp\":\"2026-01-10T10:00:00Z\"}\n"
	    "{\"type\":\"group\",\"userId\":\"u1\",\"groupId\":\"acme\","
	    "\"timestamp\":\"2026-01-05T10:00:00Z\"}\n"
	    "{\"type\":\"group\",\"userId\":\"u2\",\"groupId\":\"acme\","
	    "\"timestamp\":\"2026-01-05T10:00:00Z\"}\n"
	    "{\"type\":\"group\",\"userId\":\"u2\",\"groupId\":\"globex\","
	    "\"timestamp\":\"2026-01-05T10:00:00Z\"}\n"
	    "{\"type\":\"group\",\"userId\":\"u2\",\"groupId\":\"acme\","
	    "\"timestamp\":\"2026-01-05T10:00:00Z\"}\n", &s, NULL), 0);
	assert_stats(&s, 4, 1, 0);	/* the last: the third again */
	assert_q_text(fx->db, "SELECT a.id || ' ' || u.account_ts FROM "
	    "subjects u JOIN subjects a ON a.sid = u.account WHERE u.id = "
	    "'u1'", "globex 1768039200");
	assert_q_text(fx->db, "SELECT a.id FROM subjects u JOIN subjects a ON "
	    "a.sid = u.account WHERE u.id = 'u2'", "globex");
	assert_q_text_at(fx->db, account, T1 - 1, NULL);
	assert_q_text_at(fx->db, account, T1, "acme");
	assert_q_text_at(fx->db, account, T2, "globex");
	assert_int_equal(q_int_at(fx->db, members, T1 - 1), 0);
	assert_int_equal(q_int_at(fx->db, members, T1), 1);	/* u1 */
	assert_int_equal(q_int_at(fx->db, members, T2), 0);
	assert_int_equal(q_int(fx->db, "SELECT count(*) FROM account_versions"),
	    4);
}

/* page and screen are events with their name and category as
 * properties, beside (and over) the message's properties. */
static void
test_page_screen(void **state)
{
	struct fixture		*fx = *state;
	struct import_stats	 s;

	assert_int_equal(import_str(fx,
	    "{\"type\":\"page\",\"userId\":\"u1\",\"name\":\"Pricing\","
	    "\"category\":\"Docs\",\"properties\":{\"url\":\"/p\",\"name\":"
	    "\"old\"},\"timestamp\":\"2026-01-05T10:00:00Z\"}\n"
	    "{\"type\":\"screen\",\"anonymousId\":\"a1\",\"name\":\"Home\"}\n"
	    "{\"type\":\"page\",\"userId\":\"u1\"}\n"
	    "{\"type\":\"page\",\"userId\":\"u1\",\"category\":\"\","
	    "\"event\":\"ignored\"}\n"
	    "{\"type\":\"page\",\"userId\":\"u1\",\"category\":\"\","
	    "\"event\":\"other\"}\n", &s, NULL), 0);
	assert_stats(&s, 4, 1, 0);
	assert_q_text(fx->db, "SELECT group_concat(s.kind || s.id || ' ' || "
	    "e.name || ' ' || e.ts || ' ' || ifnull(e.props, '-'), '; ') FROM "
	    "(SELECT * FROM events ORDER BY eid) e JOIN subjects s ON s.sid "
	    "= e.subject", "0u1 page 1767607200 {\"url\":\"/p\",\"name\":"
	    "\"Pricing\",\"category\":\"Docs\"}; 2a1 screen 1767225600 "
	    "{\"name\":\"Home\"}; 0u1 page 1767225600 -; 0u1 page 1767225600 "
	    "{\"category\":\"\"}");
}

/* Activity under an anonymousId is the user's once a message carries
 * both ids: events, traits the user never set, the membership; later
 * messages with the anonymousId alone count for the user. */
static void
test_anonymous(void **state)
{
	struct fixture		*fx = *state;
	struct import_stats	 s;
	const char		*user_events = "SELECT count(*) FROM events e "
	    "JOIN subjects s ON s.sid = e.subject WHERE s.kind = 0 AND "
	    "s.id = 'u1'";

	assert_int_equal(import_str(fx,
	    "{\"type\":\"track\",\"anonymousId\":\"a1\",\"event\":\"viewed\","
	    "\"timestamp\":\"2026-01-05T10:00:00Z\"}\n"
	    "{\"type\":\"page\",\"anonymousId\":\"a1\","
	    "\"timestamp\":\"2026-01-05T10:01:00Z\"}\n"
	    "{\"type\":\"identify\",\"anonymousId\":\"a1\",\"traits\":{\"plan\":"
	    "\"free\",\"color\":\"red\"},\"timestamp\":\"2026-01-05T10:00:00Z\"}\n"
	    "{\"type\":\"group\",\"anonymousId\":\"a1\",\"groupId\":\"acme\","
	    "\"timestamp\":\"2026-01-05T10:00:00Z\"}\n", &s, NULL), 0);
	assert_stats(&s, 4, 0, 0);
	assert_q_text(fx->db, "SELECT kind || ' ' || traits || ' ' || "
	    "ifnull(account, '-') FROM subjects WHERE id = 'a1'",
	    "2 {\"plan\":\"free\",\"color\":\"red\"} -");
	assert_int_equal(q_int(fx->db, "SELECT count(*) FROM subjects "
	    "WHERE kind = 0"), 0);
	assert_int_equal(q_int(fx->db, "SELECT count(*) FROM subjects u "
	    "JOIN subjects a ON a.sid = u.account WHERE a.id = 'acme'"), 0);

	/* The first message with both ids: the user's traits win. */
	assert_int_equal(import_str(fx,
	    "{\"type\":\"identify\",\"userId\":\"u1\",\"anonymousId\":\"a1\","
	    "\"traits\":{\"plan\":\"pro\"},\"timestamp\":"
	    "\"2026-01-10T10:00:00Z\"}\n", &s, NULL), 0);
	assert_int_equal(q_int(fx->db, user_events), 2);
	assert_q_text(fx->db, "SELECT traits || ' ' || traits_ts FROM subjects "
	    "WHERE kind = 0 AND id = 'u1'", "{\"color\":\"red\",\"plan\":"
	    "\"pro\"} 1768039200");
	assert_q_text(fx->db, "SELECT group_concat(key || '=' || value || '@' "
	    "|| ts, ' ') FROM (SELECT * FROM trait_versions v JOIN subjects u "
	    "ON u.sid = v.subject WHERE u.id = 'u1' ORDER BY key)",
	    "color=\"red\"@1767607200 plan=\"pro\"@1768039200");
	assert_q_text(fx->db, "SELECT a.id || ' ' || u.account_ts FROM "
	    "subjects u JOIN subjects a ON a.sid = u.account WHERE u.id = "
	    "'u1'", "acme 1767607200");
	assert_q_text(fx->db, "SELECT s.kind || ' ' || u.id FROM subjects s "
	    "JOIN subjects u ON u.sid = s.tied WHERE s.id = 'a1'", "2 u1");
	assert_int_equal(q_int(fx->db, "SELECT created FROM subjects WHERE "
	    "kind = 0 AND id = 'u1'"), T1);

	/* Later: the anonymousId alone counts for the user; paired with
	 * another user, it stays tied to the first. */
	assert_int_equal(import_str(fx,
	    "{\"type\":\"track\",\"anonymousId\":\"a1\",\"event\":\"viewed\","
	    "\"timestamp\":\"2026-01-11T10:00:00Z\"}\n"
	    "{\"type\":\"track\",\"userId\":\"u2\",\"anonymousId\":\"a1\","
	    "\"event\":\"viewed\",\"timestamp\":\"2026-01-11T10:00:00Z\"}\n"
	    "{\"type\":\"track\",\"userId\":\"u3\",\"anonymousId\":\"a3\","
	    "\"event\":\"viewed\",\"timestamp\":\"2026-01-11T10:00:00Z\"}\n"
	    "{\"type\":\"track\",\"anonymousId\":\"a3\",\"event\":\"viewed\","
	    "\"timestamp\":\"2026-01-12T10:00:00Z\"}\n", &s, NULL), 0);
	assert_stats(&s, 4, 0, 0);
	assert_int_equal(q_int(fx->db, user_events), 3);
	assert_int_equal(q_int(fx->db, "SELECT count(*) FROM events e JOIN "
	    "subjects s ON s.sid = e.subject WHERE s.id = 'u2'"), 1);
	assert_int_equal(q_int(fx->db, "SELECT count(*) FROM events e JOIN "
	    "subjects s ON s.sid = e.subject WHERE s.id = 'u3'"), 2);
	assert_int_equal(q_int(fx->db, "SELECT count(*) FROM events e JOIN "
	    "subjects s ON s.sid = e.subject WHERE s.kind = 2"), 0);
	assert_int_equal(store_subject(fx->db, "anon:a1", NULL) > 0, 1);
}

/* alias: an earlier user merges into the new one and leaves its
 * journeys; an id unknown as a user is an anonymous id. */
static void
test_alias(void **state)
{
	struct fixture		*fx = *state;
	struct import_stats	 s;
	char			*errs;

	assert_int_equal(import_str(fx,
	    "{\"type\":\"track\",\"userId\":\"old\",\"event\":\"ride\","
	    "\"timestamp\":\"2026-01-05T10:00:00Z\"}\n"
	    "{\"type\":\"track\",\"userId\":\"old\",\"event\":\"ride\","
	    "\"timestamp\":\"2026-01-06T10:00:00Z\"}\n"
	    "{\"type\":\"track\",\"anonymousId\":\"a-old\",\"event\":\"seen\","
	    "\"timestamp\":\"2026-01-04T10:00:00Z\"}\n"
	    "{\"type\":\"track\",\"userId\":\"old\",\"anonymousId\":\"a-old\","
	    "\"event\":\"ride\",\"timestamp\":\"2026-01-07T10:00:00Z\"}\n"
	    "{\"type\":\"identify\",\"userId\":\"old\",\"traits\":{\"email\":"
	    "\"o@x\",\"plan\":\"basic\"},\"timestamp\":\"2026-01-05T10:00:00Z\"}\n"
	    "{\"type\":\"group\",\"userId\":\"old\",\"groupId\":\"acme\","
	    "\"timestamp\":\"2026-01-05T10:00:00Z\"}\n"
	    "{\"type\":\"identify\",\"userId\":\"new\",\"traits\":{\"plan\":"
	    "\"pro\"},\"timestamp\":\"2026-01-08T10:00:00Z\"}\n", &s, NULL), 0);
	assert_int_equal(store_exec(fx->db, "INSERT INTO members (journey, "
	    "subject, stage, status, entered, stage_since) SELECT 'j', sid, "
	    "'new', 0, 0, 0 FROM subjects WHERE id = 'old'"), 0);

	assert_int_equal(import_str(fx,
	    "{\"type\":\"alias\",\"userId\":\"new\",\"previousId\":\"old\","
	    "\"timestamp\":\"2026-01-09T10:00:00Z\"}\n"
	    "{\"type\":\"alias\",\"userId\":\"new\",\"previousId\":\"old\","
	    "\"timestamp\":\"2026-01-09T10:00:00Z\"}\n"
	    "{\"type\":\"alias\",\"userId\":\"new\",\"previousId\":\"new\"}\n"
	    "{\"type\":\"track\",\"userId\":\"old\",\"event\":\"ride\","
	    "\"timestamp\":\"2026-01-10T10:00:00Z\"}\n"
	    "{\"type\":\"track\",\"anonymousId\":\"a-old\",\"event\":\"seen\","
	    "\"timestamp\":\"2026-01-10T10:00:00Z\"}\n"
	    "{\"type\":\"alias\",\"userId\":\"new\",\"previousId\":\"dev-9\"}\n"
	    "{\"type\":\"screen\",\"anonymousId\":\"dev-9\"}\n"
	    "{\"type\":\"alias\",\"userId\":\"other\",\"previousId\":\"old\"}\n",
	    &s, &errs), 0);
	assert_string_equal(errs, "");
	free(errs);
	assert_stats(&s, 7, 1, 0);
	assert_q_text(fx->db, "SELECT group_concat(kind || id, ',') FROM "
	    "(SELECT * FROM subjects ORDER BY sid)",
	    "3old,2a-old,1acme,0new,2dev-9,0other");
	assert_q_text(fx->db, "SELECT group_concat(e.name, ',') FROM (SELECT * "
	    "FROM events ORDER BY ts) e JOIN subjects s ON s.sid = e.subject "
	    "WHERE s.id = 'new'", "screen,seen,ride,ride,ride,ride,seen");
	assert_q_text(fx->db, "SELECT u.traits || ' ' || a.id FROM subjects u "
	    "JOIN subjects a ON a.sid = u.account WHERE u.id = 'new'",
	    "{\"email\":\"o@x\",\"plan\":\"pro\"} acme");
	/* The earlier user: tied, its traits as they were for actions
	 * queued, no account, out of its journey. */
	assert_q_text(fx->db, "SELECT s.traits || ' ' || ifnull(s.account, '-') "
	    "|| ' ' || u.id FROM subjects s JOIN subjects u ON u.sid = s.tied "
	    "WHERE s.id = 'old'", "{\"email\":\"o@x\",\"plan\":\"basic\"} - new");
	assert_q_text(fx->db, "SELECT m.status || ' ' || h.what || ' ' || "
	    "h.rule || ' ' || h.stage || ' ' || h.ts FROM members m JOIN history "
	    "h ON h.subject = m.subject", "2 exited alias new 1767225600");
	assert_q_text(fx->db, "SELECT group_concat(u.id, ',') FROM subjects s "
	    "JOIN subjects u ON u.sid = s.tied WHERE s.id IN ('a-old', "
	    "'dev-9')", "new,new");
	assert_int_equal(store_subject(fx->db, "old", NULL), -1);
}

/* Offsets, fractions, and originalTimestamp corrected by the message's
 * sentAt, else the envelope's, else taken as it is. */
static void
test_skew(void **state)
{
	struct fixture		*fx = *state;
	struct import_stats	 s;
	char			*errs;

	assert_int_equal(import_str(fx,
	    "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"a\","
	    "\"timestamp\":\"2026-01-05T11:00:00+0100\"}\n"
	    "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"b\","
	    "\"timestamp\":\"2026-01-05T04:30:00.999-0530\"}\n"
	    "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"c\","
	    "\"timestamp\":\"2026-01-05T10:00:00.9994Z\","
	    "\"originalTimestamp\":\"junk\"}\n"
	    "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"d\","
	    "\"originalTimestamp\":\"2026-01-05T10:00:00Z\","
	    "\"sentAt\":\"2026-01-05T10:00:05Z\"}\n"
	    "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\","
	    "\"originalTimestamp\":\"2026-01-05T10:00:00.200Z\","
	    "\"sentAt\":\"2026-01-05T10:00:01.700Z\"}\n"
	    "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"f\","
	    "\"originalTimestamp\":\"2026-01-05T10:00:00+01:00\"}\n"
	    "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"g\","
	    "\"originalTimestamp\":\"2026-01-05T10:00:00Z\","
	    "\"sentAt\":\"2026-01-05T09:59:00Z\"}\n"
	    "{\"sentAt\":\"2026-01-05T10:00:10Z\",\"writeKey\":\"k\","
	    "\"context\":{},\"batch\":["
	    "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"h\","
	    "\"originalTimestamp\":\"2026-01-05T10:00:00Z\"},"
	    "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"i\","
	    "\"originalTimestamp\":\"2026-01-05T10:00:00Z\","
	    "\"sentAt\":\"2026-01-05T10:00:01Z\"},"
	    "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"j\","
	    "\"timestamp\":\"2026-01-05T10:00:00Z\"}]}\n", &s, &errs), 0);
	assert_string_equal(errs, "");
	free(errs);
	assert_stats(&s, 10, 0, 0);
	/* From 10:00 on the 5th; the receive time is NOW, 381600 s before:
	 * d 5 s of skew, e 1.5 s, g -60 s, h the envelope's 10 s, i the
	 * message's 1 s over the envelope's. */
	assert_q_text(fx->db, "SELECT group_concat(name || '=' || (ts - "
	    "1767607200), ' ') FROM (SELECT * FROM events ORDER BY eid)",
	    "a=0 b=0 c=0 d=-381605 e=-381602 f=-3600 g=-381540 h=-381610 "
	    "i=-381601 j=0");
}

/* Envelopes: every message imported, each bad one reported by its line
 * and index, the others kept; all counted one by one. */
static void
test_envelope(void **state)
{
	struct fixture		*fx = *state;
	struct import_stats	 s;
	char			*errs;
	const char		*text =
	    "{\"batch\":[{\"type\":\"track\",\"userId\":\"u\",\"event\":\"a\"},"
	    "{\"type\":\"track\",\"userId\":\"u\"},"
	    "{\"type\":\"identify\",\"userId\":\"u\",\"traits\":{\"k\":1}},"
	    "[1],\"x\",{}]}\n"
	    "{\"batch\":[]}\n"
	    "{\"batch\":[{\"type\":\"page\",\"anonymousId\":\"a\","
	    "\"messageId\":\"p1\"}]}\n";

	assert_int_equal(import_str(fx, text, &s, &errs), 1);
	assert_string_equal(errs, "t.jsonl:1#1: missing \"event\"\n"
	    "t.jsonl:1#3: not a JSON object\n"
	    "t.jsonl:1#4: not a JSON object\n"
	    "t.jsonl:1#5: missing \"type\"\n");
	free(errs);
	assert_stats(&s, 3, 0, 4);
	assert_q_text(fx->db, "SELECT group_concat(name, ',') FROM events",
	    "a,page");
	assert_int_equal(import_str(fx, text, &s, NULL), 1);
	assert_stats(&s, 0, 3, 4);
}

/* The API of the HTTP server: the endpoint's type, the envelope's sentAt,
 * a callback per message, nothing committed. */
struct batch_seen {
	struct buf	 log;
};

/* Log a message's outcome. */
static void
batch_cb(void *arg, int index, int rc, const char *err)
{
	struct batch_seen	*seen = arg;

	buf_printf(&seen->log, "%d:%d:%s;", index, rc, err ? err : "");
}

static void
test_message_api(void **state)
{
	struct fixture		*fx = *state;
	struct importer		*imp;
	struct import_stats	 s;
	struct import_ctx	 ctx = { T2, NULL, "track" };
	struct batch_seen	 seen;
	const char		*m = "{\"userId\":\"u\",\"event\":\"e\","
	    "\"originalTimestamp\":\"2026-01-05T10:00:00Z\"}";
	const char		*b = "{\"batch\":[{\"type\":\"identify\","
	    "\"userId\":\"u\",\"originalTimestamp\":\"2026-01-05T10:00:00Z\","
	    "\"traits\":{\"a\":1}},{\"type\":\"x\"},{\"type\":\"track\","
	    "\"userId\":\"u\",\"event\":\"e\",\"originalTimestamp\":"
	    "\"2026-01-05T10:00:00Z\"}],\"sentAt\":\"2026-01-05T10:01:00Z\"}";
	char			 err[256];

	buf_init(&seen.log);
	imp = importer_new(fx->db, NOW);
	assert_int_equal(importer_message(imp, m, strlen(m), &ctx, err,
	    sizeof err), 0);
	assert_int_equal(importer_message(imp, m, strlen(m), &ctx, err,
	    sizeof err), 1);
	ctx.type = NULL;
	assert_int_equal(importer_message(imp, m, strlen(m), &ctx, err,
	    sizeof err), -1);
	assert_string_equal(err, "missing \"type\"");
	assert_int_equal(importer_message(imp, b, strlen(b), &ctx, err,
	    sizeof err), -1);
	assert_int_equal(importer_batch(imp, m, strlen(m), &ctx, batch_cb,
	    &seen, err, sizeof err), -1);
	assert_string_equal(err, "missing \"batch\"");
	assert_int_equal(importer_batch(imp, b, strlen(b), &ctx, batch_cb,
	    &seen, err, sizeof err), 0);
	assert_string_equal(seen.log.s, "0:0:;1:-1:unknown type \"x\";2:1:;");
	importer_stats(imp, &s);
	assert_stats(&s, 2, 2, 3);
	importer_free(imp);	/* rolls back */
	assert_int_equal(q_int(fx->db, "SELECT count(*) FROM subjects"), 0);

	imp = importer_new(fx->db, NOW);
	ctx.type = "track";
	ctx.sent_at = "2026-01-05T10:00:30Z";
	assert_int_equal(importer_message(imp, m, strlen(m), &ctx, err,
	    sizeof err), 0);
	assert_int_equal(importer_commit(imp), 0);
	importer_free(imp);
	assert_int_equal(q_int(fx->db, "SELECT ts FROM events"), T2 - 30);
	buf_free(&seen.log);
}

/* The identities of lines schema 1 took stay what they were (the first
 * two events, the identify and the group: computed by schema 1's
 * importer); those of the new types are pinned as well. */
static void
test_identity_pinned(void **state)
{
	struct fixture		*fx = *state;
	struct import_stats	 s;

	assert_int_equal(import_str(fx,
	    "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"ride\","
	    "\"properties\":{\"fare\":12.5},\"timestamp\":"
	    "\"2026-01-06T08:30:00Z\"}\n"
	    "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"ride\"}\n"
	    "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"plan\":"
	    "\"basic\"},\"timestamp\":\"2026-01-05T10:00:00Z\"}\n"
	    "{\"type\":\"group\",\"userId\":\"u1\",\"groupId\":\"acme\","
	    "\"traits\":{\"name\":\"Acme\"}}\n"
	    "{\"type\":\"page\",\"anonymousId\":\"a1\",\"name\":\"Home\","
	    "\"originalTimestamp\":\"2026-01-06T08:30:00Z\"}\n"
	    "{\"type\":\"alias\",\"userId\":\"u1\",\"previousId\":\"a1\"}\n",
	    &s, NULL), 0);
	assert_stats(&s, 6, 0, 0);
	assert_q_text(fx->db, "SELECT group_concat(msg, ' ') FROM (SELECT msg "
	    "FROM events ORDER BY eid)",
	    "c:3ad05a92a44e4d0a24193d0793256f8faa74248c540dd304cbeb4fdcecbf5a23 "
	    "c:498edd8417a200f9067ef50dd230f4d0379cfcdf28e3312d255d8788bf1e01a0 "
	    "c:97df2707a810a6fb2f1729a40123f5432776188b0e9dc4316ded0f5c91cb46ed");
	assert_q_text(fx->db, "SELECT group_concat(msg, ' ') FROM (SELECT msg "
	    "FROM messages ORDER BY msg)",
	    "c:91e7777349c91e32f7d8e067559335ec850eddf3f2ca7f8e21912b2283155f43 "
	    "c:af106aed6516ec1a27924338bb4df6fd95b4fa170c945badc66a5aef3163a4ac "
	    "c:f02cd24f9ed0fb22a2a78ad73c83386478168fb8c2164559a7eceec08e2c9c90");
}

/* Run the SQL text of a file of tests/data. */
static void
exec_data(sqlite3 *db, const char *name)
{
	char	*sql = read_data(name), *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", name, msg);
	free(sql);
}

/* A database of schema 1 (made by that version from store-v1.jsonl) is
 * migrated on opening: a version per trait and membership, at created;
 * importing the same file again counts nothing twice, whatever fields it
 * carries; a new line that only adds an anonymousId is new. */
static void
test_upgrade(void **state)
{
	struct fixture		*fx = *state;
	struct import_stats	 s;
	sqlite3			*db;
	char			*path, *text, err[256];

	path = xprintf("%s/v1.db", fx->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	exec_data(db, "store-v1.sql");
	sqlite3_close(db);
	assert_non_null(db = store_open(path, err, sizeof err));
	free(path);
	assert_int_equal(q_int(db, "PRAGMA user_version"), 6);
	assert_q_text(db, "SELECT group_concat(s.id || '.' || v.key || '=' || "
	    "v.value || '@' || (v.ts = s.created), ' ') FROM trait_versions v "
	    "JOIN subjects s ON s.sid = v.subject",
	    "u1.plan=\"pro\"@1 u1.email=\"ann@example.com\"@1 "
	    "acme.name=\"Acme\"@1 acme.seats=5@1 u2.x=1@1");
	assert_q_text(db, "SELECT group_concat(id || ':' || ifnull(traits_ts, "
	    "'-') || ':' || ifnull(account_ts, '-'), ' ') FROM subjects",
	    "u1:1767607200:1767693600 acme:1767693600:- "
	    "u2:1767776400:1767776400");
	assert_int_equal(q_int(db, "SELECT count(*) FROM account_versions"), 2);
	assert_q_text(db, "SELECT group_concat(key, ',') FROM trait_keys",
	    "email,name,plan,seats,x");

	text = read_data("store-v1.jsonl");
	store_close(fx->db);
	fx->db = db;
	assert_int_equal(import_str(fx, text, &s, NULL), 0);
	assert_stats(&s, 0, 9, 0);
	free(text);
	assert_int_equal(q_int(db, "SELECT count(*) FROM events"), 4);

	assert_int_equal(import_str(fx,
	    "{\"type\":\"identify\",\"userId\":\"u3\",\"traits\":{\"x\":1}}\n"
	    "{\"type\":\"identify\",\"userId\":\"u3\",\"traits\":{\"x\":1},"
	    "\"anonymousId\":\"a3\"}\n", &s, NULL), 0);
	assert_stats(&s, 2, 0, 0);
}

/* The subjects whose traits, membership or identity an import changed:
 * once per transaction each; tracked events add none. */
static void
test_changes(void **state)
{
	struct fixture		*fx = *state;
	struct import_stats	 s;
	const char		*log = "SELECT group_concat(s.id, ',') FROM "
	    "(SELECT * FROM subject_changes ORDER BY seq) c JOIN subjects s "
	    "ON s.sid = c.subject";

	assert_int_equal(import_str(fx,
	    "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"a\"}\n"
	    "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"a\":1}}\n"
	    "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"a\":2}}\n"
	    "{\"type\":\"identify\",\"userId\":\"u2\"}\n"
	    "{\"type\":\"group\",\"userId\":\"u1\",\"groupId\":\"g\"}\n"
	    "{\"type\":\"group\",\"userId\":\"u1\",\"groupId\":\"h\","
	    "\"timestamp\":\"2026-01-05T10:00:00Z\"}\n"
	    "{\"type\":\"track\",\"anonymousId\":\"a9\",\"event\":\"a\"}\n",
	    &s, NULL), 0);
	assert_q_text(fx->db, log, "u1,g,h");
	assert_int_equal(import_str(fx,
	    "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"a\":3}}\n"
	    "{\"type\":\"track\",\"userId\":\"u3\",\"anonymousId\":\"a9\","
	    "\"event\":\"b\"}\n", &s, NULL), 0);
	assert_q_text(fx->db, log, "u1,g,h,u1,u3,a9");
}

/* Another connection's tie or merge is seen by an importer that cached
 * the id before it (its next transaction forgets the cache). */
static void
test_two_writers(void **state)
{
	struct fixture		*fx = *state;
	struct importer		*a, *b;
	sqlite3			*db2;
	char			*path, err[256];
	const char		*anon = "{\"type\":\"track\",\"anonymousId\":"
	    "\"a1\",\"event\":\"e\"}";
	const char		*both = "{\"type\":\"identify\",\"userId\":"
	    "\"u1\",\"anonymousId\":\"a1\"}";
	const char		*old = "{\"type\":\"track\",\"userId\":\"old\","
	    "\"event\":\"e\"}";
	const char		*alias = "{\"type\":\"alias\",\"userId\":\"new\","
	    "\"previousId\":\"old\"}";
	const char		*anon2 = "{\"type\":\"track\",\"anonymousId\":"
	    "\"a1\",\"event\":\"f\"}";
	const char		*old2 = "{\"type\":\"track\",\"userId\":"
	    "\"old\",\"event\":\"f\"}";

	path = xprintf("%s/journeyd.db", fx->dir);
	assert_non_null(db2 = store_open(path, err, sizeof err));
	free(path);
	a = importer_new(fx->db, NOW);
	b = importer_new(db2, NOW);
	assert_int_equal(importer_line(a, anon, strlen(anon), err,
	    sizeof err), 0);
	assert_int_equal(importer_line(a, old, strlen(old), err,
	    sizeof err), 0);
	assert_int_equal(importer_commit(a), 0);
	assert_int_equal(importer_line(b, both, strlen(both), err,
	    sizeof err), 0);
	assert_int_equal(importer_line(b, alias, strlen(alias), err,
	    sizeof err), 0);
	assert_int_equal(importer_commit(b), 0);
	assert_int_equal(importer_line(a, anon2, strlen(anon2), err,
	    sizeof err), 0);
	assert_int_equal(importer_line(a, old2, strlen(old2), err,
	    sizeof err), 0);
	assert_int_equal(importer_commit(a), 0);
	importer_free(a);
	importer_free(b);
	store_close(db2);
	assert_q_text(fx->db, "SELECT group_concat(s.id || ':' || n, ' ') FROM "
	    "(SELECT subject, count(*) AS n FROM events GROUP BY subject) e "
	    "JOIN subjects s ON s.sid = e.subject", "u1:2 new:2");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_lines, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rejections, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_message_ids,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_content, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reimport, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_trait_merge, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_group_moves, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unknown_users, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_timestamps, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_long_lines, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_line_endings, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_importer_api, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_many_lines, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fixtures, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_spool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trait_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_account_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_page_screen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_anonymous, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alias, setup, teardown),
		cmocka_unit_test_setup_teardown(test_skew, setup, teardown),
		cmocka_unit_test_setup_teardown(test_envelope, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_api, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identity_pinned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upgrade, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_writers, setup,
		    teardown),
	};

	log_open("test_import", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
