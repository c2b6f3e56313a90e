/*
 * One Segment message into the store: its checks, its fields, its time,
 * and what each type does (identity.c knows it again, profile.c keeps the
 * subjects).
 *
 * Its text, checked by import.c for what SQLite cannot see (NUL bytes,
 * UTF-8), is parsed once by SQLite's JSON functions, one statement reading every
 * field (json_each() was tried: it costs twice as much; after a track,
 * another is guessed and only what a track uses is read), and written
 * with prepared statements reused for every message (each use binds every
 * parameter, so bindings are never cleared).
 *
 * Types. track records the event "event"; page and screen the events
 * "page" and "screen", with the message's name and category set as
 * properties of those names beside its properties; identify sets the
 * traits of the user; group those of the account groupId, and makes the
 * user its member; alias ties previousId to the user (profile.c). A
 * message counts for its userId, else for its anonymousId; one with both
 * ties them. The type is the message's, else the one its endpoint
 * implies (struct import_ctx).
 *
 * Time. timestamp when given; else originalTimestamp corrected for the
 * sender's clock skew as Segment does: the receive time - (sentAt -
 * originalTimestamp), with the message's sentAt, else its batch
 * envelope's (without either, originalTimestamp as it is); else the
 * receive time. Offsets Z, +01:00 and +0100, and fractions of seconds.
 * originalTimestamp and sentAt are checked only when they are used.
 *
 * Identity: identity.c.
 *
 * A rejected message's reason is one of import.c's (NUL byte in line,
 * NUL character (\u0000) in line, invalid UTF-8, line longer than 1048576
 * bytes) or:
 *   not valid JSON                     not a JSON object
 *   missing "type"
 *   "type" is not a string             unknown type "T"
 *   missing "userId" or "anonymousId"  missing "userId" (alias)
 *   "userId" is not a string           "userId" is empty
 *   "anonymousId" is not a string      "anonymousId" is empty
 *   missing "event"                    "event" is not a string
 *   "event" is empty                   missing "groupId"
 *   "groupId" is not a string          "groupId" is empty
 *   missing "previousId"               "previousId" is not a string
 *   "previousId" is empty              "name" is not a string
 *   "category" is not a string         "properties" is not an object
 *   "traits" is not an object          "timestamp" is not a string
 *   bad timestamp "T"                  "originalTimestamp" is not a string
 *   bad originalTimestamp "T"          "sentAt" is not a string
 *   bad sentAt "T"                     "messageId" is not a string
 * userId, anonymousId, groupId, previousId and messageId may be JSON
 * integers (their decimal text).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ingest/ingest-int.h"

const char *const message_keys[KEY_COUNT] = {
	"type", "userId", "anonymousId", "groupId", "previousId", "event",
	"name", "category", "timestamp", "originalTimestamp", "sentAt",
	"properties", "traits", "messageId"
};
static const char *import_paths[KEY_COUNT] = {
	"$.type", "$.userId", "$.anonymousId", "$.groupId", "$.previousId",
	"$.event", "$.name", "$.category", "$.timestamp",
	"$.originalTimestamp", "$.sentAt", "$.properties", "$.traits",
	"$.messageId"
};

/* The fields a guessed track reads first (type first), each a column of
 * the statement parse_track; every other field is absent then. */
static const enum import_key message_track_keys[] = {
	KEY_TYPE, KEY_USERID, KEY_ANONID, KEY_EVENT, KEY_TIMESTAMP,
	KEY_PROPERTIES, KEY_MESSAGEID
};

/* The fields each type uses (the others are ignored). */
#define F(k)	(1u << (k))
#define F_ALL	(F(KEY_TYPE) | F(KEY_USERID) | F(KEY_ANONID) | \
		 F(KEY_TIMESTAMP) | F(KEY_ORIGTS) | F(KEY_SENTAT) | \
		 F(KEY_MESSAGEID))
static const struct {
	const char	*name;
	unsigned	 fields;
} import_types[TYPE_COUNT] = {
	{ "track", F_ALL | F(KEY_EVENT) | F(KEY_PROPERTIES) },
	{ "page", F_ALL | F(KEY_NAME) | F(KEY_CATEGORY) | F(KEY_PROPERTIES) },
	{ "screen", F_ALL | F(KEY_NAME) | F(KEY_CATEGORY) |
	    F(KEY_PROPERTIES) },
	{ "identify", F_ALL | F(KEY_TRAITS) },
	{ "group", F_ALL | F(KEY_GROUPID) | F(KEY_TRAITS) },
	{ "alias", F_ALL | F(KEY_PREVID) },
};

/* Prepare the statements of messages; an importer's part. */
void
message_init(struct importer *imp)
{
	sqlite3	*db = imp->db;
	char	*v;

	for (int i = 0; i < KEY_COUNT; i++)
		buf_init(&imp->fields[i].text);
	buf_init(&imp->ident);
	buf_init(&imp->props);
	/* The columns in the order of enum import_key. */
	imp->parse = store_prepare(db,
	    "SELECT json_extract(?1, '$.type'), json_extract(?1, '$.userId'), "
	    "json_extract(?1, '$.anonymousId'), json_extract(?1, '$.groupId'), "
	    "json_extract(?1, '$.previousId'), json_extract(?1, '$.event'), "
	    "json_extract(?1, '$.name'), json_extract(?1, '$.category'), "
	    "json_extract(?1, '$.timestamp'), "
	    "json_extract(?1, '$.originalTimestamp'), "
	    "json_extract(?1, '$.sentAt'), ?1 -> '$.properties', "
	    "?1 -> '$.traits', json_extract(?1, '$.messageId')");
	/* The columns in the order of message_track_keys. */
	imp->parse_track = store_prepare(db,
	    "SELECT json_extract(?1, '$.type'), json_extract(?1, '$.userId'), "
	    "json_extract(?1, '$.anonymousId'), json_extract(?1, '$.event'), "
	    "json_extract(?1, '$.timestamp'), ?1 -> '$.properties', "
	    "json_extract(?1, '$.messageId')");
	imp->parse_times = store_prepare(db, "SELECT "
	    "json_extract(?1, '$.originalTimestamp'), "
	    "json_extract(?1, '$.sentAt')");
	imp->type_of = store_prepare(db, "SELECT json_type(?1, ?2)");
	/* An event no newer than what was pruned of its subject's events of
	 * its name is one of them again (a replay): not counted twice. */
	imp->event_add = store_prepare(db,
	    "INSERT INTO events (subject, name, ts, props, msg) "
	    "SELECT ?1, ?2, ?3, ?4, ?5 WHERE NOT EXISTS (SELECT 1 FROM "
	    "events_pruned WHERE subject = ?1 AND name = ?2 AND last_ts >= ?3) "
	    "ON CONFLICT (msg) DO NOTHING");
	imp->forgotten_any = store_prepare(db,
	    "SELECT EXISTS (SELECT 1 FROM forgotten)");
	imp->forgotten_find = store_prepare(db,
	    "SELECT EXISTS (SELECT 1 FROM forgotten WHERE ts >= ?5 AND ("
	    "(kind = 0 AND id IN (?1, ?4)) OR (kind = 2 AND id IN (?2, ?4)) OR "
	    "(kind = 1 AND id = ?3)))");
	imp->message_add = store_prepare(db,
	    "INSERT INTO messages (msg, v1) VALUES (?1, 0) "
	    "ON CONFLICT (msg) DO NOTHING");
	imp->page_props = store_prepare(db,
	    "SELECT CASE WHEN ?2 IS NULL AND ?3 IS NULL THEN ?1 "
	    "WHEN ?3 IS NULL THEN json_set(coalesce(?1, '{}'), '$.name', ?2) "
	    "WHEN ?2 IS NULL THEN json_set(coalesce(?1, '{}'), '$.category', "
	    "?3) ELSE json_set(coalesce(?1, '{}'), '$.name', ?2, "
	    "'$.category', ?3) END");
	imp->legacy_find = store_prepare(db,
	    "SELECT EXISTS (SELECT 1 FROM events WHERE msg = ?1 AND "
	    "eid <= ?2) OR EXISTS (SELECT 1 FROM messages WHERE msg = ?1 AND "
	    "v1 = 1)");
	if ((v = store_meta_get(db, "import_v1_eid")) != NULL)
		imp->legacy_eid = strtoll(v, NULL, 10);
	free(v);
	if ((v = store_meta_get(db, "import_v1_messages")) != NULL)
		imp->legacy_msgs = 1;
	free(v);
	if ((imp->md = EVP_MD_CTX_new()) == NULL)
		fatalx("out of memory");
}

/* Free what message_init() made. */
void
message_free(struct importer *imp)
{
	sqlite3_finalize(imp->parse);
	sqlite3_finalize(imp->parse_track);
	sqlite3_finalize(imp->parse_times);
	sqlite3_finalize(imp->type_of);
	sqlite3_finalize(imp->event_add);
	sqlite3_finalize(imp->message_add);
	sqlite3_finalize(imp->page_props);
	sqlite3_finalize(imp->legacy_find);
	sqlite3_finalize(imp->forgotten_any);
	sqlite3_finalize(imp->forgotten_find);
	EVP_MD_CTX_free(imp->md);
	for (int i = 0; i < KEY_COUNT; i++)
		buf_free(&imp->fields[i].text);
	buf_free(&imp->ident);
	buf_free(&imp->props);
}

/* Say what the database refused: its file and SQLite's message, taken
 * before a rollback resets it. */
int
message_fault(struct importer *imp, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", sqlite3_db_filename(imp->db, "main"),
	    sqlite3_errmsg(imp->db));
	return IMPORT_FAULT;
}

/* Start the write transaction when none is open. */
int
message_begin(struct importer *imp, char *err, size_t errlen)
{
	if (imp->in_txn)
		return IMPORT_OK;
	if (store_begin(imp->db) != 0)
		return message_fault(imp, err, errlen);
	imp->in_txn = 1;
	if (profile_begin(imp->profile) != 0)
		return message_fault(imp, err, errlen);
	clock_gettime(CLOCK_MONOTONIC, &imp->started);
	/* Has any id been forgotten? Seldom: then no message looks. */
	imp->forgotten = sqlite3_step(imp->forgotten_any) == SQLITE_ROW &&
	    sqlite3_column_int(imp->forgotten_any, 0);
	sqlite3_reset(imp->forgotten_any);
	return IMPORT_OK;
}

/* Is the message about an id that journeyctl forget erased at ts or
 * later (a replay of an old message)? 1, 0, or -1 on a fault. */
static int
message_forgotten(struct importer *imp, int64_t ts)
{
	static const enum import_key keys[] = {
		KEY_USERID, KEY_ANONID, KEY_GROUPID, KEY_PREVID
	};
	sqlite3_stmt	*st = imp->forgotten_find;
	int		 rc;

	if (!imp->forgotten)
		return 0;
	for (int i = 0; i < 4; i++) {
		struct import_field *f = &imp->fields[keys[i]];

		if (f->present)
			sqlite3_bind_text(st, i + 1, f->text.s,
			    (int)f->text.len, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, i + 1);
	}
	sqlite3_bind_int64(st, 5, ts);
	rc = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_reset(st);
	return rc;
}


/* Copy at most 40 bytes of a value into out for a message, control
 * characters replaced and cut at a character boundary. */
const char *
message_quote(const char *s, size_t len, char *out, size_t outlen)
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
message_jtype(struct importer *imp, const char *text, size_t len,
    enum import_key k)
{
	sqlite3_stmt		*st = imp->type_of;
	const char		*t = "";
	enum import_jtype	 type = JT_NULL;

	sqlite3_bind_text(st, 1, text, (int)len, SQLITE_STATIC);
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

/* Is k an id, that may be a JSON integer? */
static int
message_is_id(enum import_key k)
{
	return k == KEY_USERID || k == KEY_ANONID || k == KEY_GROUPID ||
	    k == KEY_PREVID || k == KEY_MESSAGEID;
}

/* Read column col of a parse into field k. */
static void
message_field(struct importer *imp, sqlite3_stmt *st, int col,
    enum import_key k)
{
	struct import_field	*f = &imp->fields[k];
	const char		*v;

	f->text.len = 0;
	f->present = 1;
	switch (sqlite3_column_type(st, col)) {
	case SQLITE_NULL:
		f->present = 0;
		f->type = JT_NULL;
		return;
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
	v = (const char *)sqlite3_column_text(st, col);
	buf_add(&f->text, v, sqlite3_column_bytes(st, col));
	if (k == KEY_PROPERTIES || k == KEY_TRAITS) {
		/* JSON text: its first character says what it is. */
		if (strcmp(f->text.s, "null") == 0) {
			f->present = 0;
			f->type = JT_NULL;
		} else if (f->text.s[0] == '{')
			f->type = JT_OBJECT;
		else
			f->type = JT_ARRAY;	/* not an object */
	} else if ((f->type == JT_TEXT && (v[0] == '{' || v[0] == '[')) ||
	    (f->type == JT_INTEGER && message_is_id(k)))
		f->type = message_jtype(imp, imp->text, imp->len, k);
}

/*
 * Parse a message into the importer's fields with one statement: SQLite
 * parses the document once and each json_extract() reads a field from it.
 * A string comes back as its text, a number as a number, null or a
 * missing key as NULL; properties and traits come back as minified JSON
 * (->). The few values whose SQL form is ambiguous are asked about with
 * json_type().
 */
int
message_parse(struct importer *imp, const char *text, size_t len, char *err,
    size_t errlen)
{
	sqlite3_stmt	*st;
	const char	*p;
	int		 rc, track;

	/* A valid document starting with '{' is an object. */
	for (p = text; p < text + len; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			break;

	/* After a track, guess another: read only what a track uses. */
	st = imp->last_track ? imp->parse_track : imp->parse;
	sqlite3_bind_text(st, 1, text, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	track = rc == SQLITE_ROW && sqlite3_column_type(st, KEY_TYPE) ==
	    SQLITE_TEXT && sqlite3_column_bytes(st, KEY_TYPE) == 5 &&
	    memcmp(sqlite3_column_text(st, KEY_TYPE), "track", 5) == 0;
	if (rc == SQLITE_ROW && st == imp->parse_track && !track) {
		sqlite3_reset(st);
		st = imp->parse;
		sqlite3_bind_text(st, 1, text, (int)len, SQLITE_STATIC);
		rc = sqlite3_step(st);
	}
	imp->last_track = track;
	imp->partial = st == imp->parse_track;
	imp->text = text;
	imp->len = len;
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		snprintf(err, errlen, "not valid JSON");
		return IMPORT_REJECT;
	}
	if (p == text + len || *p != '{') {
		sqlite3_reset(st);
		snprintf(err, errlen, "not a JSON object");
		return IMPORT_REJECT;
	}
	if (imp->partial) {
		for (int k = 0; k < KEY_COUNT; k++) {
			imp->fields[k].present = 0;
			imp->fields[k].type = JT_NULL;
		}
		for (size_t i = 0; i < sizeof message_track_keys /
		    sizeof message_track_keys[0]; i++)
			message_field(imp, st, (int)i, message_track_keys[i]);
	} else
		for (int k = 0; k < KEY_COUNT; k++)
			message_field(imp, st, k, k);
	sqlite3_reset(st);
	return IMPORT_OK;
}

/* After a guessed track's parse: read originalTimestamp and sentAt too,
 * when the time or the identity needs them (no timestamp, or no
 * messageId); the other tracks go without, since the JSON functions find
 * every key of a path by walking the document's keys. */
static int
message_parse_times(struct importer *imp, char *err, size_t errlen)
{
	sqlite3_stmt	*st = imp->parse_times;
	int		 rc;

	if (!imp->partial || (imp->fields[KEY_TIMESTAMP].present &&
	    imp->fields[KEY_MESSAGEID].present))
		return IMPORT_OK;
	sqlite3_bind_text(st, 1, imp->text, (int)imp->len, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		message_field(imp, st, 0, KEY_ORIGTS);
		message_field(imp, st, 1, KEY_SENTAT);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? IMPORT_OK : message_fault(imp, err, errlen);
}

/* Check that a field, when present, is a non-empty string (or, for an
 * id, a whole number, taken as its decimal text). */
static int
message_check_id(struct importer *imp, enum import_key k, char *err,
    size_t errlen)
{
	struct import_field	*f = &imp->fields[k];
	const char		*name = message_keys[k];

	if (!f->present)
		return IMPORT_OK;
	if (f->type != JT_TEXT && !(message_is_id(k) &&
	    f->type == JT_INTEGER)) {
		snprintf(err, errlen, "\"%s\" is not a string", name);
		return IMPORT_REJECT;
	}
	if (f->text.len == 0 && k != KEY_NAME && k != KEY_CATEGORY) {
		snprintf(err, errlen, "\"%s\" is empty", name);
		return IMPORT_REJECT;
	}
	return IMPORT_OK;
}

/* Check a field that the type requires. */
static int
message_require(struct importer *imp, enum import_key k, char *err,
    size_t errlen)
{
	if (!imp->fields[k].present) {
		snprintf(err, errlen, "missing \"%s\"", message_keys[k]);
		return IMPORT_REJECT;
	}
	return message_check_id(imp, k, err, errlen);
}

/* Check a field that must be a JSON object when given. */
static int
message_check_object(struct importer *imp, enum import_key k, char *err,
    size_t errlen)
{
	struct import_field	*f = &imp->fields[k];

	if (f->present && f->type != JT_OBJECT) {
		snprintf(err, errlen, "\"%s\" is not an object",
		    message_keys[k]);
		return IMPORT_REJECT;
	}
	return IMPORT_OK;
}

/* Check the fields of a message of type t, whose unused fields are gone. */
static int
message_check(struct importer *imp, enum import_type t, char *err,
    size_t errlen)
{
	struct import_field	*f = imp->fields;
	int			 rc;

	if (t == TYPE_ALIAS && !f[KEY_USERID].present) {
		snprintf(err, errlen, "missing \"userId\"");
		return IMPORT_REJECT;
	}
	if (!f[KEY_USERID].present && !f[KEY_ANONID].present) {
		snprintf(err, errlen, "missing \"userId\" or \"anonymousId\"");
		return IMPORT_REJECT;
	}
	if ((rc = message_check_id(imp, KEY_USERID, err, errlen)) != 0 ||
	    (rc = message_check_id(imp, KEY_ANONID, err, errlen)) != 0 ||
	    (t == TYPE_TRACK &&
	    (rc = message_require(imp, KEY_EVENT, err, errlen)) != 0) ||
	    (t == TYPE_GROUP &&
	    (rc = message_require(imp, KEY_GROUPID, err, errlen)) != 0) ||
	    (t == TYPE_ALIAS &&
	    (rc = message_require(imp, KEY_PREVID, err, errlen)) != 0) ||
	    (rc = message_check_id(imp, KEY_NAME, err, errlen)) != 0 ||
	    (rc = message_check_id(imp, KEY_CATEGORY, err, errlen)) != 0 ||
	    (rc = message_check_object(imp, KEY_PROPERTIES, err,
	    errlen)) != 0 ||
	    (rc = message_check_object(imp, KEY_TRAITS, err, errlen)) != 0)
		return rc;
	if (f[KEY_MESSAGEID].present && f[KEY_MESSAGEID].type != JT_TEXT &&
	    f[KEY_MESSAGEID].type != JT_INTEGER) {
		snprintf(err, errlen, "\"messageId\" is not a string");
		return IMPORT_REJECT;
	}
	return IMPORT_OK;
}

/* Parse a time field k (or, with k at KEY_COUNT, the envelope's sentAt
 * s) into milliseconds. */
static int
message_time_of(struct importer *imp, enum import_key k, const char *s,
    int64_t *ms, char *err, size_t errlen)
{
	struct import_field	*f = &imp->fields[k < KEY_COUNT ? k :
				    KEY_SENTAT];
	char			 q[64];
	const char		*name = k < KEY_COUNT ? message_keys[k] :
				    "sentAt";

	if (k < KEY_COUNT) {
		if (f->type != JT_TEXT) {
			snprintf(err, errlen, "\"%s\" is not a string", name);
			return IMPORT_REJECT;
		}
		s = f->text.s;
	}
	if (time_parse_ms(s, ms) != 0) {
		snprintf(err, errlen, "bad %s \"%s\"", name,
		    message_quote(s, strlen(s), q, sizeof q));
		return IMPORT_REJECT;
	}
	return IMPORT_OK;
}

/* Work out the message's time (see the top of the file). */
static int
message_time(struct importer *imp, const struct import_ctx *ctx,
    int64_t *ts, char *err, size_t errlen)
{
	struct import_field	*f = imp->fields;
	int64_t			 orig, sent, ms;
	int			 rc;

	if (f[KEY_TIMESTAMP].present) {
		/* Seconds: "@N" may be any int64_t. */
		if (f[KEY_TIMESTAMP].type == JT_TEXT &&
		    time_parse(f[KEY_TIMESTAMP].text.s, ts) == 0)
			return IMPORT_OK;
		return message_time_of(imp, KEY_TIMESTAMP, NULL, &ms, err,
		    errlen);
	} else if (f[KEY_ORIGTS].present) {
		if ((rc = message_time_of(imp, KEY_ORIGTS, NULL, &orig, err,
		    errlen)) != 0)
			return rc;
		ms = orig;
		if (f[KEY_SENTAT].present)
			rc = message_time_of(imp, KEY_SENTAT, NULL, &sent, err,
			    errlen);
		else if (ctx->sent_at != NULL)
			rc = message_time_of(imp, KEY_COUNT, ctx->sent_at,
			    &sent, err, errlen);
		else
			rc = 1;		/* no sentAt: no skew known */
		if (rc == IMPORT_REJECT)
			return rc;
		if (rc == 0)
			ms = ctx->received * 1000 - (sent - orig);
	} else
		ms = ctx->received * 1000;
	*ts = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
	return IMPORT_OK;
}


/* The subject the message counts for: its user's, else its anonymous
 * id's; *user says whether that is a user. -1 on a fault. */
static int64_t
message_subject(struct importer *imp, int64_t ts, int *user)
{
	struct import_field	*f = imp->fields;

	*user = 1;
	if (f[KEY_USERID].present)
		return profile_user(imp->profile, f[KEY_USERID].text.s,
		    f[KEY_USERID].text.len, ts);
	return profile_anon(imp->profile, f[KEY_ANONID].text.s,
	    f[KEY_ANONID].text.len, ts, user);
}

/* After a message with both a userId and an anonymousId: tie them. */
static int
message_tie(struct importer *imp, int64_t sid, int64_t ts)
{
	struct import_field	*f = imp->fields;

	if (!f[KEY_USERID].present || !f[KEY_ANONID].present)
		return 0;
	return profile_tie(imp->profile, f[KEY_ANONID].text.s,
	    f[KEY_ANONID].text.len, sid, ts);
}

/* The properties of an event: a page's or screen's with its name and
 * category; into *props, NULL when none. */
static int
message_props(struct importer *imp, enum import_type t,
    const struct buf **props)
{
	struct import_field	*f = imp->fields;
	sqlite3_stmt		*st = imp->page_props;
	int			 rc;

	*props = f[KEY_PROPERTIES].present ? &f[KEY_PROPERTIES].text : NULL;
	if (t == TYPE_TRACK || (!f[KEY_NAME].present &&
	    !f[KEY_CATEGORY].present))
		return 0;
	if (*props != NULL)
		sqlite3_bind_text(st, 1, (*props)->s, (int)(*props)->len,
		    SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 1);
	for (int i = 0; i < 2; i++) {
		struct import_field *g = &f[i == 0 ? KEY_NAME : KEY_CATEGORY];

		if (g->present)
			sqlite3_bind_text(st, 2 + i, g->text.s,
			    (int)g->text.len, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 2 + i);
	}
	imp->props.len = 0;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		buf_add(&imp->props, (const char *)sqlite3_column_text(st, 0),
		    sqlite3_column_bytes(st, 0));
	sqlite3_reset(st);
	*props = &imp->props;
	return rc == SQLITE_ROW ? 0 : -1;
}

/* A track, page or screen: record the event. */
static int
message_event(struct importer *imp, enum import_type t, int64_t ts,
    char *err, size_t errlen)
{
	struct import_field	*f = imp->fields;
	sqlite3_stmt		*st = imp->event_add;
	const struct buf	*props;
	int64_t			 sid;
	int			 user;

	if ((sid = message_subject(imp, ts, &user)) == -1 ||
	    message_props(imp, t, &props) != 0)
		return message_fault(imp, err, errlen);
	sqlite3_bind_int64(st, 1, sid);
	if (t == TYPE_TRACK)
		sqlite3_bind_text(st, 2, f[KEY_EVENT].text.s,
		    (int)f[KEY_EVENT].text.len, SQLITE_STATIC);
	else
		sqlite3_bind_text(st, 2, import_types[t].name, -1,
		    SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, ts);
	if (props != NULL)
		sqlite3_bind_text(st, 4, props->s, (int)props->len,
		    SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_text(st, 5, imp->ident.s, (int)imp->ident.len,
	    SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		sqlite3_reset(st);
		return message_fault(imp, err, errlen);
	}
	sqlite3_reset(st);
	if (sqlite3_changes(imp->db) == 0)
		return IMPORT_DUP;
	if (message_tie(imp, sid, ts) != 0)
		return message_fault(imp, err, errlen);
	return IMPORT_OK;
}

/* An identify, group or alias, whose identity is new: what it sets. */
static int
message_profile(struct importer *imp, enum import_type t, int64_t ts,
    int64_t received, char *err, size_t errlen)
{
	struct import_field	*f = imp->fields;
	struct import_field	*traits = &f[KEY_TRAITS];
	int64_t			 sid, account;
	int			 user;

	if ((sid = message_subject(imp, ts, &user)) == -1)
		return message_fault(imp, err, errlen);
	switch (t) {
	case TYPE_IDENTIFY:
		if (traits->present && profile_traits(imp->profile, sid,
		    traits->text.s, traits->text.len, ts) != 0)
			return message_fault(imp, err, errlen);
		break;
	case TYPE_GROUP:
		account = profile_account(imp->profile, f[KEY_GROUPID].text.s,
		    f[KEY_GROUPID].text.len, ts);
		if (account == -1 || (traits->present &&
		    profile_traits(imp->profile, account, traits->text.s,
		    traits->text.len, ts) != 0) ||
		    profile_join(imp->profile, sid, user, account, ts) != 0)
			return message_fault(imp, err, errlen);
		break;
	default:
		if (profile_alias(imp->profile, f[KEY_PREVID].text.s,
		    f[KEY_PREVID].text.len, sid, received) != 0)
			return message_fault(imp, err, errlen);
		break;
	}
	if (message_tie(imp, sid, ts) != 0)
		return message_fault(imp, err, errlen);
	return IMPORT_OK;
}

/* The type of the message, or the one its endpoint implies; TYPE_COUNT
 * (with the reason) when there is none that will do. */
static enum import_type
message_type(struct importer *imp, const struct import_ctx *ctx, char *err,
    size_t errlen)
{
	struct import_field	*type = &imp->fields[KEY_TYPE];
	const char		*name;
	char			 q[64];
	int			 t;

	if (!type->present && ctx->type != NULL) {
		type->present = 1;
		type->type = JT_TEXT;
		type->text.len = 0;
		buf_puts(&type->text, ctx->type);
	}
	if (!type->present) {
		snprintf(err, errlen, "missing \"type\"");
		return TYPE_COUNT;
	}
	if (type->type != JT_TEXT) {
		snprintf(err, errlen, "\"type\" is not a string");
		return TYPE_COUNT;
	}
	name = type->text.s;
	for (t = 0; t < TYPE_COUNT; t++)
		if (strcmp(name, import_types[t].name) == 0)
			return t;
	snprintf(err, errlen, "unknown type \"%s\"",
	    message_quote(name, type->text.len, q, sizeof q));
	return TYPE_COUNT;
}

/* Import the parsed message: IMPORT_OK, IMPORT_DUP, IMPORT_REJECT or
 * IMPORT_FAULT (with the message in err; rolling back is the caller's). */
int
message_import(struct importer *imp, const struct import_ctx *ctx,
    char *err, size_t errlen)
{
	enum import_type	 t;
	int64_t			 ts;
	int			 rc;

	if ((t = message_type(imp, ctx, err, errlen)) == TYPE_COUNT)
		return IMPORT_REJECT;
	if ((rc = message_parse_times(imp, err, errlen)) != 0)
		return rc;
	for (int k = 0; k < KEY_COUNT; k++)
		if ((import_types[t].fields & F(k)) == 0)
			imp->fields[k].present = 0;
	if ((rc = message_check(imp, t, err, errlen)) != 0 ||
	    (rc = message_time(imp, ctx, &ts, err, errlen)) != 0)
		return rc;
	identity_of(imp, t);
	if ((rc = message_begin(imp, err, errlen)) != 0)
		return rc;
	if ((rc = message_forgotten(imp, ts)) != 0)
		return rc > 0 ? IMPORT_DUP : message_fault(imp, err, errlen);
	if ((rc = identity_legacy(imp, t)) != 0)
		return rc == 1 ? IMPORT_DUP : message_fault(imp, err, errlen);
	if (t == TYPE_TRACK || t == TYPE_PAGE || t == TYPE_SCREEN)
		return message_event(imp, t, ts, err, errlen);
	if ((rc = identity_seen(imp, err, errlen)) != IMPORT_OK)
		return rc;
	return message_profile(imp, t, ts, ctx->received, err, errlen);
}
