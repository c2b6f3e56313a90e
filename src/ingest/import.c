/*
 * Importing Segment-style JSON lines: identify, track and group.
 *
 * Each line is checked in C for what SQLite cannot see (its length, NUL
 * bytes, UTF-8), then parsed once by SQLite's JSON functions, one statement
 * reading every field (json_each() was tried: it costs twice as much), and
 * written with prepared statements reused for every line (each use binds
 * every parameter, so bindings are never cleared). Lines are grouped in write
 * transactions of up to IMPORT_BATCH lines or IMPORT_BATCH_MS, so that the
 * daemon is never kept waiting long. Subject ids are cached: a subject is
 * never deleted or renumbered, so an id stays right once committed, and the
 * cache is cleared when a transaction is rolled back.
 *
 * Every line has an identity: "m:" and its messageId, or "c:" and the hex
 * SHA-256 of its content (type, userId, groupId, event, the timestamp as
 * written, properties or traits as minified JSON). A track line is stored
 * once by events.msg; identify and group lines once by the messages table.
 *
 * A rejected line is reported by import_stream as "NAME:LINE: reason", the
 * reason one of:
 *   line longer than 1048576 bytes     NUL byte in line
 *   NUL character (\u0000) in line     invalid UTF-8
 *   not valid JSON                     not a JSON object
 *   missing "type"                     "type" is not a string
 *   unknown type "T"                   missing "userId" (absent or null)
 *   "userId" is not a string           "userId" is empty
 *   missing "event"                    "event" is not a string
 *   "event" is empty                   missing "groupId"
 *   "groupId" is not a string          "groupId" is empty
 *   "properties" is not an object      "traits" is not an object
 *   "timestamp" is not a string        bad timestamp "T"
 *   "messageId" is not a string
 * userId, groupId and messageId may be JSON integers (their decimal text).
 * Blank lines are skipped, a CR before the LF and a UTF-8 byte order mark
 * at the start are dropped. The summary (import_summary) reads
 * "imported N, duplicates N, rejected N".
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "ingest/ingest.h"

#define IMPORT_MAX_LINE		1048576	/* bytes, line ending excluded */
#ifndef IMPORT_BATCH
#define IMPORT_BATCH		20000	/* most lines per transaction */
#endif
#define IMPORT_BATCH_MS		1000	/* longest a transaction stays open */
#define IMPORT_READ		65536	/* bytes per read */
#ifndef IMPORT_CACHE
#define IMPORT_CACHE		131072	/* subject ids cached (8 MiB), a power
					   of 2 */
#endif
#define IMPORT_CACHE_ID		48	/* longest id cached, NUL included */

/* What a JSON value is. */
enum import_jtype {
	JT_NULL, JT_TRUE, JT_FALSE, JT_INTEGER, JT_REAL, JT_TEXT, JT_ARRAY,
	JT_OBJECT
};

/* The fields of a line the importer reads; others are ignored. */
enum import_key {
	KEY_TYPE, KEY_USERID, KEY_GROUPID, KEY_EVENT, KEY_TIMESTAMP,
	KEY_PROPERTIES, KEY_TRAITS, KEY_MESSAGEID, KEY_COUNT
};
static const char *import_keys[KEY_COUNT] = {
	"type", "userId", "groupId", "event", "timestamp", "properties",
	"traits", "messageId"
};
static const char *import_paths[KEY_COUNT] = {
	"$.type", "$.userId", "$.groupId", "$.event", "$.timestamp",
	"$.properties", "$.traits", "$.messageId"
};

struct import_field {
	int			 present;	/* and not null */
	enum import_jtype	 type;
	struct buf		 text;		/* the value as text */
};

struct import_cached {
	int64_t	 sid;
	int	 kind;
	char	 id[IMPORT_CACHE_ID];
};

struct importer {
	sqlite3			*db;
	int64_t			 now;
	int			 in_txn;
	int			 batch;		/* lines in the open transaction */
	struct timespec		 started;	/* when it began */

	struct import_stats	 stats;		/* committed */
	char			 fault[256];	/* why the last commit failed */
	struct import_stats	 pending;	/* in the open transaction */

	sqlite3_stmt		*parse;
	sqlite3_stmt		*parse_track;	/* only what a track uses */
	int			 last_track;	/* the last line was one */
	sqlite3_stmt		*type_of;
	sqlite3_stmt		*subject_find;
	sqlite3_stmt		*subject_add;
	sqlite3_stmt		*traits_merge;
	sqlite3_stmt		*member_set;
	sqlite3_stmt		*event_add;
	sqlite3_stmt		*message_add;

	EVP_MD_CTX		*md;
	struct import_field	 fields[KEY_COUNT];
	struct import_cached	 cache[IMPORT_CACHE];
	struct buf		 ident;		/* the line's identity */
};

/* Return codes of the line steps. */
#define IMPORT_OK	0
#define IMPORT_REJECT	-1
#define IMPORT_FAULT	-2
#define IMPORT_DUP	1

static void	importer_cache_clear(struct importer *);

/* Create an importer on db; lines without a timestamp get now. */
struct importer *
importer_new(sqlite3 *db, int64_t now)
{
	struct importer	*imp;

	imp = xcalloc(1, sizeof *imp);
	imp->db = db;
	imp->now = now;
	for (int i = 0; i < KEY_COUNT; i++)
		buf_init(&imp->fields[i].text);
	buf_init(&imp->ident);
	/* The columns in the order of enum import_key. */
	imp->parse = store_prepare(db,
	    "SELECT json_extract(?1, '$.type'), json_extract(?1, '$.userId'), "
	    "json_extract(?1, '$.groupId'), json_extract(?1, '$.event'), "
	    "json_extract(?1, '$.timestamp'), ?1 -> '$.properties', "
	    "?1 -> '$.traits', json_extract(?1, '$.messageId')");
	imp->parse_track = store_prepare(db,
	    "SELECT json_extract(?1, '$.type'), json_extract(?1, '$.userId'), "
	    "NULL, json_extract(?1, '$.event'), "
	    "json_extract(?1, '$.timestamp'), ?1 -> '$.properties', "
	    "NULL, json_extract(?1, '$.messageId')");
	imp->type_of = store_prepare(db, "SELECT json_type(?1, ?2)");
	imp->subject_find = store_prepare(db,
	    "SELECT sid FROM subjects WHERE kind = ?1 AND id = ?2");
	imp->subject_add = store_prepare(db,
	    "INSERT INTO subjects (kind, id, created) VALUES (?1, ?2, ?3)");
	imp->traits_merge = store_prepare(db,
	    "INSERT INTO subjects (kind, id, traits, created) "
	    "VALUES (?1, ?2, json_patch('{}', ?3), ?4) "
	    "ON CONFLICT (kind, id) DO UPDATE "
	    "SET traits = json_patch(traits, ?3) RETURNING sid");
	imp->member_set = store_prepare(db,
	    "INSERT INTO subjects (kind, id, created, account) "
	    "VALUES (0, ?1, ?2, ?3) "
	    "ON CONFLICT (kind, id) DO UPDATE SET account = excluded.account "
	    "RETURNING sid");
	imp->event_add = store_prepare(db,
	    "INSERT INTO events (subject, name, ts, props, msg) "
	    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (msg) DO NOTHING");
	imp->message_add = store_prepare(db,
	    "INSERT INTO messages (msg) VALUES (?1) "
	    "ON CONFLICT (msg) DO NOTHING");
	if ((imp->md = EVP_MD_CTX_new()) == NULL)
		fatalx("out of memory");
	return imp;
}

/* Free an importer; lines not yet committed are rolled back. */
void
importer_free(struct importer *imp)
{
	if (imp == NULL)
		return;
	if (imp->in_txn)
		store_rollback(imp->db);
	sqlite3_finalize(imp->parse);
	sqlite3_finalize(imp->parse_track);
	sqlite3_finalize(imp->type_of);
	sqlite3_finalize(imp->subject_find);
	sqlite3_finalize(imp->subject_add);
	sqlite3_finalize(imp->traits_merge);
	sqlite3_finalize(imp->member_set);
	sqlite3_finalize(imp->event_add);
	sqlite3_finalize(imp->message_add);
	EVP_MD_CTX_free(imp->md);
	for (int i = 0; i < KEY_COUNT; i++)
		buf_free(&imp->fields[i].text);
	buf_free(&imp->ident);
	free(imp);
}

/* Forget the cached subject ids. */
static void
importer_cache_clear(struct importer *imp)
{
	for (int i = 0; i < IMPORT_CACHE; i++)
		imp->cache[i].id[0] = '\0';
}

/* Roll back the open transaction and forget what it counted. */
static void
importer_abort(struct importer *imp)
{
	store_rollback(imp->db);
	memset(&imp->pending, 0, sizeof imp->pending);
	imp->in_txn = 0;
	imp->batch = 0;
	importer_cache_clear(imp);
}

/* Say what the database refused: its file and SQLite's message, taken
 * before a rollback resets it. */
static void
import_db_error(sqlite3 *db, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", sqlite3_db_filename(db, "main"),
	    sqlite3_errmsg(db));
}

/* Commit the lines imported so far; on a failure, roll them back and keep
 * the reason for importer_fault(). */
int
importer_commit(struct importer *imp)
{
	if (!imp->in_txn)
		return 0;
	if (store_commit(imp->db) != 0) {
		import_db_error(imp->db, imp->fault, sizeof imp->fault);
		importer_abort(imp);
		return -1;
	}
	imp->stats.imported += imp->pending.imported;
	imp->stats.duplicates += imp->pending.duplicates;
	memset(&imp->pending, 0, sizeof imp->pending);
	imp->in_txn = 0;
	imp->batch = 0;
	return 0;
}

/* Why the last commit failed. */
const char *
importer_fault(const struct importer *imp)
{
	return imp->fault[0] != '\0' ? imp->fault : "database fault";
}

/* The counts so far: committed lines and those of the open transaction. */
void
importer_stats(const struct importer *imp, struct import_stats *out)
{
	out->imported = imp->stats.imported + imp->pending.imported;
	out->duplicates = imp->stats.duplicates + imp->pending.duplicates;
	out->rejected = imp->stats.rejected + imp->pending.rejected;
}

/* Check that p holds well-formed UTF-8: no overlong forms, no surrogates,
 * nothing above U+10FFFF. */
static int
import_utf8_valid(const unsigned char *p, size_t len)
{
	const unsigned char	*end = p + len;
	uint64_t		 word;

	while (p < end) {
		/* ASCII eight bytes at a time. */
		if (end - p >= 8) {
			memcpy(&word, p, 8);
			if ((word & 0x8080808080808080ULL) == 0) {
				p += 8;
				continue;
			}
		}
		if (*p < 0x80) {
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf) {
			if (end - p < 2 || (p[1] & 0xc0) != 0x80)
				return 0;
			p += 2;
		} else if (*p >= 0xe0 && *p <= 0xef) {
			if (end - p < 3 || (p[1] & 0xc0) != 0x80 ||
			    (p[2] & 0xc0) != 0x80)
				return 0;
			if (*p == 0xe0 && p[1] < 0xa0)
				return 0;	/* overlong */
			if (*p == 0xed && p[1] > 0x9f)
				return 0;	/* surrogate */
			p += 3;
		} else if (*p >= 0xf0 && *p <= 0xf4) {
			if (end - p < 4 || (p[1] & 0xc0) != 0x80 ||
			    (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
				return 0;
			if (*p == 0xf0 && p[1] < 0x90)
				return 0;	/* overlong */
			if (*p == 0xf4 && p[1] > 0x8f)
				return 0;	/* above U+10FFFF */
			p += 4;
		} else
			return 0;
	}
	return 1;
}

/* Does the line hold the escape \u0000? SQLite's JSON functions cut a
 * string there, which would make "u\u0000x" the user "u". An escape is a
 * "u0000" after an odd number of backslashes. */
static int
import_has_nul_escape(const char *line, size_t len)
{
	const char	*p = line, *end = line + len, *q;

	if (memchr(line, '\\', len) == NULL)
		return 0;
	while ((q = memmem(p, end - p, "u0000", 5)) != NULL) {
		size_t	 n = 0;

		while (q - n > line && q[-1 - (ptrdiff_t)n] == '\\')
			n++;
		if (n % 2 == 1)
			return 1;
		p = q + 5;
	}
	return 0;
}

/* Copy at most 40 bytes of a value into out for a message, control
 * characters replaced and cut at a character boundary. */
static const char *
import_quote(const char *s, size_t len, char *out, size_t outlen)
{
	size_t	 n = 0, max = outlen < 48 ? outlen - 4 : 40;

	for (; n < len && n < max; n++)
		out[n] = ((unsigned char)s[n] < 0x20 || s[n] == 0x7f) ? '?' : s[n];
	if (n < len) {
		while (n > 0 && ((unsigned char)out[n] & 0xc0) == 0x80)
			n--;
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
	return out;
}

/* Ask SQLite what the value of key k is, when its SQL value leaves it
 * open: a text that may be an object or an array, a 1 or 0 that may be
 * true or false. */
static enum import_jtype
import_jtype(struct importer *imp, const char *line, size_t len,
    enum import_key k)
{
	sqlite3_stmt		*st = imp->type_of;
	const char		*t = "";
	enum import_jtype	 type = JT_NULL;

	sqlite3_bind_text(st, 1, line, (int)len, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, import_paths[k], -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) == SQLITE_TEXT)
		t = (const char *)sqlite3_column_text(st, 0);
	if (strcmp(t, "true") == 0)
		type = JT_TRUE;
	else if (strcmp(t, "false") == 0)
		type = JT_FALSE;
	else if (strcmp(t, "integer") == 0)
		type = JT_INTEGER;
	else if (strcmp(t, "real") == 0)
		type = JT_REAL;
	else if (strcmp(t, "text") == 0)
		type = JT_TEXT;
	else if (strcmp(t, "array") == 0)
		type = JT_ARRAY;
	else if (strcmp(t, "object") == 0)
		type = JT_OBJECT;
	sqlite3_reset(st);
	return type;
}

/*
 * Parse a line into the importer's fields with one statement: SQLite parses
 * the document once and each json_extract() reads a field from it. A
 * string comes back as its text, a number as a number, null or a missing
 * key as NULL; properties and traits come back as minified JSON (->). The
 * few values whose SQL form is ambiguous are asked about with json_type().
 */
static int
import_parse(struct importer *imp, const char *line, size_t len, char *err,
    size_t errlen)
{
	sqlite3_stmt		*st;
	struct import_field	*f;
	const char		*p, *text;
	int			 rc, k, n, track;

	/* A valid document starting with '{' is an object. */
	for (p = line; p < line + len; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			break;

	/* After a track line, guess another: read only what a track uses. */
	st = imp->last_track ? imp->parse_track : imp->parse;
	sqlite3_bind_text(st, 1, line, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	track = rc == SQLITE_ROW && sqlite3_column_type(st, KEY_TYPE) ==
	    SQLITE_TEXT && sqlite3_column_bytes(st, KEY_TYPE) == 5 &&
	    memcmp(sqlite3_column_text(st, KEY_TYPE), "track", 5) == 0;
	if (rc == SQLITE_ROW && st == imp->parse_track && !track) {
		sqlite3_reset(st);
		st = imp->parse;
		sqlite3_bind_text(st, 1, line, (int)len, SQLITE_STATIC);
		rc = sqlite3_step(st);
	}
	imp->last_track = track;
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		snprintf(err, errlen, "not valid JSON");
		return IMPORT_REJECT;
	}
	if (p == line + len || *p != '{') {
		sqlite3_reset(st);
		snprintf(err, errlen, "not a JSON object");
		return IMPORT_REJECT;
	}
	for (k = 0; k < KEY_COUNT; k++) {
		f = &imp->fields[k];
		f->text.len = 0;
		f->present = 1;
		switch (sqlite3_column_type(st, k)) {
		case SQLITE_NULL:
			f->present = 0;
			f->type = JT_NULL;
			continue;
		case SQLITE_INTEGER:
			f->type = JT_INTEGER;
			break;
		case SQLITE_FLOAT:
			f->type = JT_REAL;
			break;
		default:
			f->type = JT_TEXT;
			break;
		}
		text = (const char *)sqlite3_column_text(st, k);
		n = sqlite3_column_bytes(st, k);
		buf_add(&f->text, text, n);
		if (k == KEY_PROPERTIES || k == KEY_TRAITS) {
			/* JSON text: its first character says what it is. */
			if (strcmp(f->text.s, "null") == 0) {
				f->present = 0;
				f->type = JT_NULL;
			} else if (f->text.s[0] == '{')
				f->type = JT_OBJECT;
			else
				f->type = JT_ARRAY;	/* not an object */
		} else if ((f->type == JT_TEXT && (text[0] == '{' ||
		    text[0] == '[')) || (f->type == JT_INTEGER &&
		    (k == KEY_USERID || k == KEY_GROUPID ||
		    k == KEY_MESSAGEID)))
			f->type = import_jtype(imp, line, len, k);
	}
	sqlite3_reset(st);
	return IMPORT_OK;
}

/* Check that a field is a non-empty string (or, with integer, a whole
 * number, taken as its decimal text). */
static int
import_check_id(struct importer *imp, enum import_key k, int required,
    int integer, char *err, size_t errlen)
{
	struct import_field	*f = &imp->fields[k];
	const char		*name = import_keys[k];

	if (!f->present) {
		if (!required)
			return IMPORT_OK;
		snprintf(err, errlen, "missing \"%s\"", name);
		return IMPORT_REJECT;
	}
	if (f->type != JT_TEXT && !(integer && f->type == JT_INTEGER)) {
		snprintf(err, errlen, "\"%s\" is not a string", name);
		return IMPORT_REJECT;
	}
	if (f->text.len == 0) {
		snprintf(err, errlen, "\"%s\" is empty", name);
		return IMPORT_REJECT;
	}
	return IMPORT_OK;
}

/* Add one field to the content digest: its name, then "-" when absent or
 * its length and bytes, so that no two different lines hash alike. */
static void
import_digest_field(struct importer *imp, enum import_key k)
{
	struct import_field	*f = &imp->fields[k];
	char			 head[64];
	int			 n;

	if (f->present)
		n = snprintf(head, sizeof head, "%s=%zu:", import_keys[k],
		    f->text.len);
	else
		n = snprintf(head, sizeof head, "%s=-", import_keys[k]);
	EVP_DigestUpdate(imp->md, head, (size_t)n);
	if (f->present)
		EVP_DigestUpdate(imp->md, f->text.s, f->text.len);
}

/* Work out the line's identity into imp->ident: "m:" and the messageId, or
 * "c:" and the SHA-256 of the content. */
static void
import_identity(struct importer *imp, enum import_key body)
{
	static const char	 hex[] = "0123456789abcdef";
	struct import_field	*id = &imp->fields[KEY_MESSAGEID];
	unsigned char		 md[EVP_MAX_MD_SIZE];
	char			 text[2 * EVP_MAX_MD_SIZE];
	unsigned int		 mdlen, i;

	imp->ident.len = 0;
	if (id->present && id->text.len != 0) {
		buf_add(&imp->ident, "m:", 2);
		buf_add(&imp->ident, id->text.s, id->text.len);
		return;
	}
	if (EVP_DigestInit_ex(imp->md, EVP_sha256(), NULL) != 1)
		fatalx("SHA-256 is not available");
	import_digest_field(imp, KEY_TYPE);
	import_digest_field(imp, KEY_USERID);
	import_digest_field(imp, KEY_GROUPID);
	import_digest_field(imp, KEY_EVENT);
	import_digest_field(imp, KEY_TIMESTAMP);
	import_digest_field(imp, body);
	if (EVP_DigestFinal_ex(imp->md, md, &mdlen) != 1)
		fatalx("SHA-256 failed");
	for (i = 0; i < mdlen; i++) {
		text[2 * i] = hex[md[i] >> 4];
		text[2 * i + 1] = hex[md[i] & 15];
	}
	buf_add(&imp->ident, "c:", 2);
	buf_add(&imp->ident, text, 2 * mdlen);
}

/* The cache slot for a subject id. */
static struct import_cached *
import_cache_slot(struct importer *imp, int kind, const char *id, size_t len)
{
	uint32_t	 h = 2166136261u ^ (uint32_t)kind;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)id[i]) * 16777619u;
	return &imp->cache[h & (IMPORT_CACHE - 1)];
}

/* Look a subject id up in the cache; -1 when it is not there. */
static int64_t
import_cache_get(struct importer *imp, int kind, const char *id, size_t len)
{
	struct import_cached	*c;

	if (len >= IMPORT_CACHE_ID)
		return -1;
	c = import_cache_slot(imp, kind, id, len);
	if (c->kind == kind && memcmp(c->id, id, len) == 0 && c->id[len] == '\0'
	    && c->id[0] != '\0')
		return c->sid;
	return -1;
}

/* Remember a subject id. */
static void
import_cache_put(struct importer *imp, int kind, const char *id, size_t len,
    int64_t sid)
{
	struct import_cached	*c;

	if (len >= IMPORT_CACHE_ID)
		return;
	c = import_cache_slot(imp, kind, id, len);
	c->kind = kind;
	c->sid = sid;
	memcpy(c->id, id, len);
	c->id[len] = '\0';
}

/* Say what the database refused. */
static int
import_fault(struct importer *imp, sqlite3_stmt *st, char *err, size_t errlen)
{
	import_db_error(imp->db, err, errlen);
	if (st != NULL) {
		sqlite3_reset(st);
	}
	return IMPORT_FAULT;
}

/* Start the batch's write transaction when none is open. */
static int
import_begin(struct importer *imp, char *err, size_t errlen)
{
	if (imp->in_txn)
		return IMPORT_OK;
	if (store_begin(imp->db) != 0)
		return import_fault(imp, NULL, err, errlen);
	imp->in_txn = 1;
	clock_gettime(CLOCK_MONOTONIC, &imp->started);
	return IMPORT_OK;
}

/* Run a statement that returns nothing; -1 when it failed. */
static int
import_exec(sqlite3_stmt *st)
{
	int	 rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Run an upsert ... RETURNING sid; -1 when it failed. */
static int64_t
import_returning(sqlite3_stmt *st)
{
	int64_t	 sid = -1;

	if (sqlite3_step(st) == SQLITE_ROW)
		sid = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return sid;
}

/* Find a subject by kind and id, creating it at ts when it is new. Returns
 * its sid, or -1 on a fault. */
static int64_t
import_subject(struct importer *imp, int kind, const struct buf *id,
    int64_t ts)
{
	sqlite3_stmt	*st;
	int64_t		 sid;
	int		 rc;

	if ((sid = import_cache_get(imp, kind, id->s, id->len)) != -1)
		return sid;
	st = imp->subject_find;
	sqlite3_bind_int(st, 1, kind);
	sqlite3_bind_text(st, 2, id->s, (int)id->len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		sid = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	if (rc == SQLITE_DONE) {
		st = imp->subject_add;
		sqlite3_bind_int(st, 1, kind);
		sqlite3_bind_text(st, 2, id->s, (int)id->len, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, ts);
		if (import_exec(st) != 0)
			return -1;
		sid = sqlite3_last_insert_rowid(imp->db);
	}
	import_cache_put(imp, kind, id->s, id->len, sid);
	return sid;
}

/* Forget the fields a line's type does not use, so that they count in
 * neither its content's identity nor anywhere else. */
static void
import_ignore(struct importer *imp, enum import_key a, enum import_key b,
    enum import_key c)
{
	imp->fields[a].present = imp->fields[b].present = 0;
	imp->fields[c].present = 0;
}

/* Check a field that must be a JSON object when given. */
static int
import_check_object(struct importer *imp, enum import_key k, char *err,
    size_t errlen)
{
	struct import_field	*f = &imp->fields[k];

	if (f->present && f->type != JT_OBJECT) {
		snprintf(err, errlen, "\"%s\" is not an object",
		    import_keys[k]);
		return IMPORT_REJECT;
	}
	return IMPORT_OK;
}

/* Work out the line's time: its timestamp, or now when it has none. */
static int
import_time(struct importer *imp, int64_t *ts, char *err, size_t errlen)
{
	struct import_field	*f = &imp->fields[KEY_TIMESTAMP];
	char			 q[64];

	if (!f->present) {
		*ts = imp->now;
		return IMPORT_OK;
	}
	if (f->type != JT_TEXT) {
		snprintf(err, errlen, "\"timestamp\" is not a string");
		return IMPORT_REJECT;
	}
	if (time_parse(f->text.s, ts) != 0) {
		snprintf(err, errlen, "bad timestamp \"%s\"",
		    import_quote(f->text.s, f->text.len, q, sizeof q));
		return IMPORT_REJECT;
	}
	return IMPORT_OK;
}

/* Check the messageId, when there is one. */
static int
import_check_message(struct importer *imp, char *err, size_t errlen)
{
	struct import_field	*f = &imp->fields[KEY_MESSAGEID];

	if (!f->present)
		return IMPORT_OK;
	if (f->type != JT_TEXT && f->type != JT_INTEGER) {
		snprintf(err, errlen, "\"messageId\" is not a string");
		return IMPORT_REJECT;
	}
	return IMPORT_OK;
}

/* Record a message's identity; IMPORT_DUP when it was seen before. */
static int
import_message(struct importer *imp, char *err, size_t errlen)
{
	sqlite3_stmt	*st = imp->message_add;

	sqlite3_bind_text(st, 1, imp->ident.s, (int)imp->ident.len,
	    SQLITE_STATIC);
	if (import_exec(st) != 0)
		return import_fault(imp, NULL, err, errlen);
	return sqlite3_changes(imp->db) == 0 ? IMPORT_DUP : IMPORT_OK;
}

/* Bind a track line's event name, time, properties and identity to
 * parameters 2 to 5. */
static void
import_bind_event(struct importer *imp, sqlite3_stmt *st, int64_t ts)
{
	struct import_field	*props = &imp->fields[KEY_PROPERTIES];
	struct import_field	*event = &imp->fields[KEY_EVENT];

	sqlite3_bind_text(st, 2, event->text.s, (int)event->text.len,
	    SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, ts);
	if (props->present)
		sqlite3_bind_text(st, 4, props->text.s, (int)props->text.len,
		    SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_text(st, 5, imp->ident.s, (int)imp->ident.len,
	    SQLITE_STATIC);
}

/* A track line: record the event, creating the user when unknown. */
static int
import_track(struct importer *imp, char *err, size_t errlen)
{
	struct import_field	*user = &imp->fields[KEY_USERID];
	sqlite3_stmt		*st;
	int64_t			 ts, sid;
	int			 rc;

	import_ignore(imp, KEY_GROUPID, KEY_TRAITS, KEY_TRAITS);
	if ((rc = import_check_id(imp, KEY_USERID, 1, 1, err, errlen)) != 0 ||
	    (rc = import_check_id(imp, KEY_EVENT, 1, 0, err, errlen)) != 0 ||
	    (rc = import_check_object(imp, KEY_PROPERTIES, err, errlen)) != 0 ||
	    (rc = import_check_message(imp, err, errlen)) != 0 ||
	    (rc = import_time(imp, &ts, err, errlen)) != 0)
		return rc;
	import_identity(imp, KEY_PROPERTIES);
	if ((rc = import_begin(imp, err, errlen)) != 0)
		return rc;

	sid = import_subject(imp, SUBJECT_USER, &user->text, ts);
	if (sid == -1)
		return import_fault(imp, NULL, err, errlen);
	st = imp->event_add;
	sqlite3_bind_int64(st, 1, sid);
	import_bind_event(imp, st, ts);
	if (import_exec(st) != 0)
		return import_fault(imp, NULL, err, errlen);
	return sqlite3_changes(imp->db) == 0 ? IMPORT_DUP : IMPORT_OK;
}

/* Merge traits into a subject, creating it at ts; its sid or -1. */
static int64_t
import_merge(struct importer *imp, int kind, const struct buf *id,
    int64_t ts)
{
	struct import_field	*traits = &imp->fields[KEY_TRAITS];
	sqlite3_stmt		*st = imp->traits_merge;
	int64_t			 sid;

	sqlite3_bind_int(st, 1, kind);
	sqlite3_bind_text(st, 2, id->s, (int)id->len, SQLITE_STATIC);
	if (traits->present)
		sqlite3_bind_text(st, 3, traits->text.s,
		    (int)traits->text.len, SQLITE_STATIC);
	else
		sqlite3_bind_text(st, 3, "{}", 2, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, ts);
	if ((sid = import_returning(st)) != -1)
		import_cache_put(imp, kind, id->s, id->len, sid);
	return sid;
}

/* An identify line: create or update the user, merging its traits. */
static int
import_identify(struct importer *imp, char *err, size_t errlen)
{
	int64_t	 ts;
	int	 rc;

	import_ignore(imp, KEY_GROUPID, KEY_EVENT, KEY_PROPERTIES);
	if ((rc = import_check_id(imp, KEY_USERID, 1, 1, err, errlen)) != 0 ||
	    (rc = import_check_object(imp, KEY_TRAITS, err, errlen)) != 0 ||
	    (rc = import_check_message(imp, err, errlen)) != 0 ||
	    (rc = import_time(imp, &ts, err, errlen)) != 0)
		return rc;
	import_identity(imp, KEY_TRAITS);
	if ((rc = import_begin(imp, err, errlen)) != 0)
		return rc;

	if ((rc = import_message(imp, err, errlen)) != IMPORT_OK)
		return rc;
	if (import_merge(imp, SUBJECT_USER, &imp->fields[KEY_USERID].text,
	    ts) == -1)
		return import_fault(imp, NULL, err, errlen);
	return IMPORT_OK;
}

/* A group line: create or update the account, merging its traits, and
 * make the user (created when unknown) its member, leaving any other. */
static int
import_group(struct importer *imp, char *err, size_t errlen)
{
	struct import_field	*user = &imp->fields[KEY_USERID];
	sqlite3_stmt		*st = imp->member_set;
	int64_t			 ts, account, sid;
	int			 rc;

	import_ignore(imp, KEY_EVENT, KEY_PROPERTIES, KEY_PROPERTIES);
	if ((rc = import_check_id(imp, KEY_USERID, 1, 1, err, errlen)) != 0 ||
	    (rc = import_check_id(imp, KEY_GROUPID, 1, 1, err, errlen)) != 0 ||
	    (rc = import_check_object(imp, KEY_TRAITS, err, errlen)) != 0 ||
	    (rc = import_check_message(imp, err, errlen)) != 0 ||
	    (rc = import_time(imp, &ts, err, errlen)) != 0)
		return rc;
	import_identity(imp, KEY_TRAITS);
	if ((rc = import_begin(imp, err, errlen)) != 0)
		return rc;

	if ((rc = import_message(imp, err, errlen)) != IMPORT_OK)
		return rc;
	account = import_merge(imp, SUBJECT_ACCOUNT,
	    &imp->fields[KEY_GROUPID].text, ts);
	if (account == -1)
		return import_fault(imp, NULL, err, errlen);
	sqlite3_bind_text(st, 1, user->text.s, (int)user->text.len,
	    SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, ts);
	sqlite3_bind_int64(st, 3, account);
	if ((sid = import_returning(st)) == -1)
		return import_fault(imp, NULL, err, errlen);
	import_cache_put(imp, SUBJECT_USER, user->text.s, user->text.len, sid);
	return IMPORT_OK;
}

/* Is it time to commit: enough lines, or open long enough? */
static int
import_batch_full(struct importer *imp)
{
	struct timespec	 now;
	int64_t		 ms;

	if (!imp->in_txn)
		return 0;
	if (++imp->batch >= IMPORT_BATCH)
		return 1;
	if (imp->batch % 256 != 0)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - imp->started.tv_sec) * 1000 +
	    (now.tv_nsec - imp->started.tv_nsec) / 1000000;
	return ms >= IMPORT_BATCH_MS;
}

/* Check a line and import it. */
static int
import_one(struct importer *imp, const char *line, size_t len, char *err,
    size_t errlen)
{
	struct import_field	*type = &imp->fields[KEY_TYPE];
	char			 q[64];
	int			 rc;

	if (len > IMPORT_MAX_LINE) {
		snprintf(err, errlen, "line longer than %d bytes",
		    IMPORT_MAX_LINE);
		return IMPORT_REJECT;
	}
	if (memchr(line, '\0', len) != NULL) {
		snprintf(err, errlen, "NUL byte in line");
		return IMPORT_REJECT;
	}
	if (import_has_nul_escape(line, len)) {
		snprintf(err, errlen, "NUL character (\\u0000) in line");
		return IMPORT_REJECT;
	}
	if (!import_utf8_valid((const unsigned char *)line, len)) {
		snprintf(err, errlen, "invalid UTF-8");
		return IMPORT_REJECT;
	}
	if ((rc = import_parse(imp, line, len, err, errlen)) != IMPORT_OK)
		return rc;

	if (!type->present) {
		snprintf(err, errlen, "missing \"type\"");
		return IMPORT_REJECT;
	}
	if (type->type != JT_TEXT) {
		snprintf(err, errlen, "\"type\" is not a string");
		return IMPORT_REJECT;
	}
	if (strcmp(type->text.s, "track") == 0)
		return import_track(imp, err, errlen);
	if (strcmp(type->text.s, "identify") == 0)
		return import_identify(imp, err, errlen);
	if (strcmp(type->text.s, "group") == 0)
		return import_group(imp, err, errlen);
	snprintf(err, errlen, "unknown type \"%s\"",
	    import_quote(type->text.s, type->text.len, q, sizeof q));
	return IMPORT_REJECT;
}

/*
 * Import one line (its line ending may be included). Returns 0 when it was
 * imported, was a duplicate or was empty; -1 when it was rejected, with the
 * reason in err; -2 on a database fault, with the message in err, after
 * the open transaction (the batch) was rolled back.
 */
int
importer_line(struct importer *imp, const char *line, size_t len, char *err,
    size_t errlen)
{
	size_t	 i;
	int	 rc;

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	for (i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			break;
	if (i == len)
		return 0;

	rc = import_one(imp, line, len, err, errlen);
	switch (rc) {
	case IMPORT_REJECT:
		imp->stats.rejected++;
		return -1;
	case IMPORT_FAULT:
		if (imp->in_txn)
			importer_abort(imp);
		return -2;
	case IMPORT_DUP:
		imp->pending.duplicates++;
		break;
	default:
		imp->pending.imported++;
		break;
	}
	if (import_batch_full(imp)) {
		if (importer_commit(imp) != 0) {
			snprintf(err, errlen, "%s", importer_fault(imp));
			return -2;
		}
		store_yield();	/* the next batch would begin at once */
	}
	return 0;
}

/* Write the summary of an import: "imported N, duplicates N, rejected N". */
char *
import_summary(const struct import_stats *stats, char *out, size_t len)
{
	snprintf(out, len, "imported %ld, duplicates %ld, rejected %ld",
	    stats->imported, stats->duplicates, stats->rejected);
	return out;
}

/* Is there input to read on fd right now? */
static int
import_readable(int fd)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0;
}

/* Read what is there, up to len bytes; 0 at the end, -1 on an error. */
static ssize_t
import_read(FILE *f, int fd, char *p, size_t len)
{
	ssize_t	 n;
	size_t	 got;

	if (fd == -1) {
		got = fread(p, 1, len, f);
		return (got == 0 && ferror(f)) ? -1 : (ssize_t)got;
	}
	do
		n = read(fd, p, len);
	while (n == -1 && errno == EINTR);
	return n;
}

struct import_reader {
	struct importer	*imp;
	const char	*name;
	FILE		*errf;
	long		 lineno;
	long		 settled;	/* every line up to it committed or
					   reported */
};

/* A database fault at the current line: say what failed and from which
 * line on nothing was imported (the batch rolled back, the rest unread). */
static void
import_stream_fault(struct import_reader *r, const char *err)
{
	log_err("%s:%ld: %s", r->name, r->lineno, err);
	log_err("%s: not imported from line %ld on (rolled back, or not "
	    "read); import it again when the database is writable: the lines "
	    "already imported are skipped as duplicates", r->name,
	    r->settled + 1);
}

/* Import one line of a stream and report it when rejected. */
static int
import_stream_line(struct import_reader *r, const char *line, size_t len,
    int too_long)
{
	char	 err[256];
	int	 rc;

	r->lineno++;
	if (r->lineno == 1 && len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
		line += 3;	/* a byte order mark */
		len -= 3;
	}
	if (too_long) {
		r->imp->stats.rejected++;
		snprintf(err, sizeof err, "line longer than %d bytes",
		    IMPORT_MAX_LINE);
		rc = -1;
	} else
		rc = importer_line(r->imp, line, len, err, sizeof err);
	if (rc == -1 && r->errf != NULL)
		fprintf(r->errf, "%s:%ld: %s\n", r->name, r->lineno, err);
	if (rc == -2)
		import_stream_fault(r, err);
	else if (!r->imp->in_txn)
		r->settled = r->lineno;
	return rc;
}

/*
 * Import a stream of JSON lines. Lines are handed to the importer straight
 * from the read buffer; only a line cut by a read is copied, and a line
 * longer than the limit is skipped to its end without being kept, so memory
 * stays bounded. On a pipe the open transaction is committed before
 * waiting for more input, so that a slow writer does not hold the lock.
 */
int
import_stream(sqlite3 *db, FILE *f, const char *name, int64_t now,
    FILE *errf, struct import_stats *stats)
{
	struct import_reader	 r = { .name = name, .errf = errf };
	struct buf		 part;
	struct stat		 sb;
	char			*rbuf, *p, *end, *nl;
	size_t			 n;
	ssize_t			 got;
	int			 fd, pipe_like, too_long = 0, rc = 0;

	fd = fileno(f);
	pipe_like = fd != -1 && fstat(fd, &sb) == 0 && !S_ISREG(sb.st_mode);
	r.imp = importer_new(db, now);
	rbuf = xmalloc(IMPORT_READ);
	buf_init(&part);

	for (;;) {
		if (pipe_like && r.imp->in_txn && !import_readable(fd)) {
			if (importer_commit(r.imp) != 0) {
				import_stream_fault(&r, importer_fault(r.imp));
				goto fault;
			}
			r.settled = r.lineno;
		}
		if ((got = import_read(f, fd, rbuf, IMPORT_READ)) == -1) {
			log_err("%s: after line %ld: %s", name, r.lineno,
			    strerror(errno));
			rc = -1;
			/* Keep the whole lines read so far, as their counts
			 * say. */
			if (importer_commit(r.imp) != 0) {
				import_stream_fault(&r, importer_fault(r.imp));
				goto fault;
			}
			break;
		}
		if (got == 0)
			break;
		for (p = rbuf, end = rbuf + got; p < end; p = nl + 1) {
			nl = memchr(p, '\n', end - p);
			n = (nl != NULL ? nl : end) - p;
			if (nl != NULL && part.len == 0 && !too_long) {
				/* The whole line is in the buffer. */
				if (import_stream_line(&r, p, n, 0) == -2)
					goto fault;
				continue;
			}
			if (!too_long && part.len + n > IMPORT_MAX_LINE + 1) {
				too_long = 1;	/* +1 for a CR */
				part.len = 0;
			}
			if (!too_long)
				buf_add(&part, p, n);
			if (nl == NULL)
				break;
			if (import_stream_line(&r, part.s, part.len,
			    too_long) == -2)
				goto fault;
			part.len = 0;
			too_long = 0;
		}
		/* Give back the memory of a long line. */
		if (part.len == 0 && part.cap > IMPORT_READ)
			buf_free(&part);
	}
	if (rc == 0 && (part.len != 0 || too_long) &&
	    import_stream_line(&r, part.s, part.len, too_long) == -2)
		goto fault;
	if (rc == 0 && importer_commit(r.imp) != 0) {
		import_stream_fault(&r, importer_fault(r.imp));
		goto fault;
	}
	store_yield();		/* another file may follow at once */
	goto out;

fault:
	rc = -2;
out:
	importer_stats(r.imp, stats);
	if (rc == 0 && stats->rejected != 0)
		rc = 1;
	importer_free(r.imp);
	buf_free(&part);
	free(rbuf);
	return rc;
}
