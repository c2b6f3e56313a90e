/*
 * The bodies of the HTTP API's requests, without a socket (so that a fuzzer
 * can drive them): decoded as they arrive, plain or gzip (zlib, streaming,
 * several members allowed), into a buffer that never grows past
 * BODY_MAX_REQUEST bytes however well the input compresses; then checked
 * for the endpoint's shape and split into messages by SQLite's JSON
 * functions, on an in-memory database of the parser's own. A batch's
 * messages are kept as SQLite renders them: minified, every number and
 * string as the client wrote it, so that a message's identity (SPEC §4) is
 * the same over HTTP and in a file.
 *
 * Bodies are JSON whatever their Content-Type. The answers the server
 * sends are built here too, with the same JSON functions.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "daemon/daemon.h"

#define BODY_FIRST_CAP	16384	/* bytes allocated for a body at first */
#define BODY_RAW_SLACK	1024	/* gzip's own bytes beyond the cap */

/* A body being received. */
struct body_decoder {
	int		 gzip;
	z_stream	 z;
	int		 z_open;	/* inflateInit2 was called */
	int		 z_ended;	/* the last member is complete */
	char		*buf;
	size_t		 len;
	size_t		 cap;		/* allocated, less the NUL */
	size_t		 raw;		/* bytes received as sent */
};

/* The JSON functions a parser runs, on its own in-memory database. */
struct body_parser {
	sqlite3		*db;
	sqlite3_stmt	*shape;		/* valid, type, writeKey, sentAt, batch */
	sqlite3_stmt	*each;		/* the batch's elements */
	sqlite3_stmt	*error;		/* {"success": false, "error": ?} */
	sqlite3_stmt	*rejected;	/* {"index": ?, "reason": ?} */
};

static const struct {
	const char	*path;
	const char	*type;
} body_routes[] = {
	[BODY_IDENTIFY] = { "/v1/identify", "identify" },
	[BODY_TRACK] = { "/v1/track", "track" },
	[BODY_GROUP] = { "/v1/group", "group" },
	[BODY_PAGE] = { "/v1/page", "page" },
	[BODY_SCREEN] = { "/v1/screen", "screen" },
	[BODY_ALIAS] = { "/v1/alias", "alias" },
	[BODY_BATCH] = { "/v1/batch", NULL },
};

/* The kind of body an endpoint takes ("/v1/track"), or -1. A trailing
 * slash is allowed, as Segment's API allows it. */
int
body_kind(const char *path)
{
	size_t	 len = strlen(path);

	if (len > 1 && path[len - 1] == '/')
		len--;
	for (size_t i = 0; i < sizeof body_routes / sizeof body_routes[0];
	    i++)
		if (strlen(body_routes[i].path) == len &&
		    strncmp(body_routes[i].path, path, len) == 0)
			return (int)i;
	return -1;
}

/* The message type an endpoint implies, or NULL (the batch). */
const char *
body_type(enum body_kind kind)
{
	return body_routes[kind].type;
}

/* A decoder for a body, gzip-compressed or not. */
struct body_decoder *
body_decoder_new(int gzip)
{
	struct body_decoder	*d;

	d = xcalloc(1, sizeof *d);
	d->gzip = gzip;
	return d;
}

/* Free a decoder and its text. */
void
body_decoder_free(struct body_decoder *d)
{
	if (d == NULL)
		return;
	if (d->z_open)
		inflateEnd(&d->z);
	free(d->buf);
	free(d);
}

/* Bytes the decoder holds allocated (for the server's memory budget). */
size_t
body_decoder_size(const struct body_decoder *d)
{
	return d->buf != NULL ? d->cap + 1 : 0;
}

/* Make room for need bytes in all, up to one past BODY_MAX_REQUEST (so
 * that inflating can show that a body is larger). 0, or -1 when that is
 * not enough. */
static int
body_room(struct body_decoder *d, size_t need)
{
	size_t	 cap = d->cap;

	if (need <= cap)
		return 0;
	if (need > BODY_MAX_REQUEST + 1)
		return -1;
	while (cap < need)
		cap = cap == 0 ? BODY_FIRST_CAP : cap * 2;
	if (cap > BODY_MAX_REQUEST + 1)
		cap = BODY_MAX_REQUEST + 1;
	d->buf = xrealloc(d->buf, cap + 1);
	d->cap = cap;
	return 0;
}

/* Inflate data into the buffer. 0, or an HTTP status with err. */
static int
body_inflate(struct body_decoder *d, const void *data, size_t len, char *err,
    size_t errlen)
{
	int	 rc;

	d->z.next_in = (Bytef *)data;
	d->z.avail_in = len;
	while (d->z.avail_in > 0) {
		if (d->z_ended) {
			/* Another gzip member follows (RFC 1952 2.2). */
			if (inflateReset(&d->z) != Z_OK)
				goto bad;
			d->z_ended = 0;
		}
		if (body_room(d, d->len + 1) != 0)
			goto big;
		d->z.next_out = (Bytef *)d->buf + d->len;
		d->z.avail_out = d->cap - d->len;
		rc = inflate(&d->z, Z_NO_FLUSH);
		d->len = d->cap - d->z.avail_out;
		if (d->len > BODY_MAX_REQUEST)
			goto big;
		if (rc == Z_STREAM_END)
			d->z_ended = 1;
		else if (rc != Z_OK && !(rc == Z_BUF_ERROR &&
		    d->z.avail_out == 0))
			goto bad;
	}
	return 0;
big:
	snprintf(err, errlen, "request body larger than %d bytes",
	    BODY_MAX_REQUEST);
	return 413;
bad:
	snprintf(err, errlen, "bad gzip body: %s", d->z.msg != NULL ?
	    d->z.msg : "not gzip");
	return 400;
}

/* Add len bytes of the body as received. 0, or an HTTP status (413: too
 * large; 400: not gzip) with the reason in err. */
int
body_decoder_add(struct body_decoder *d, const void *data, size_t len,
    char *err, size_t errlen)
{
	d->raw += len;
	if (d->raw > BODY_MAX_REQUEST + (d->gzip ? BODY_RAW_SLACK : 0)) {
		snprintf(err, errlen, "request body larger than %d bytes",
		    BODY_MAX_REQUEST);
		return 413;
	}
	if (!d->gzip) {
		if (d->len + len > BODY_MAX_REQUEST) {
			snprintf(err, errlen, "request body larger than %d "
			    "bytes", BODY_MAX_REQUEST);
			return 413;
		}
		body_room(d, d->len + len);
		memcpy(d->buf + d->len, data, len);
		d->len += len;
		return 0;
	}
	if (!d->z_open) {
		/* 16 + MAX_WBITS: a gzip header and trailer, not zlib's. */
		if (inflateInit2(&d->z, 16 + MAX_WBITS) != Z_OK)
			fatalx("zlib: inflateInit2 failed");
		d->z_open = 1;
	}
	return body_inflate(d, data, len, err, errlen);
}

/* The whole body has arrived: its text (NUL-terminated) and length, or
 * NULL with the reason in err (a gzip stream cut short). */
const char *
body_decoder_finish(struct body_decoder *d, size_t *len, char *err,
    size_t errlen)
{
	if (d->gzip && !d->z_ended) {
		snprintf(err, errlen, "bad gzip body: %s", d->raw == 0 ?
		    "empty" : "cut short");
		return NULL;
	}
	if (d->buf == NULL) {
		d->buf = xmalloc(1);
		d->cap = 0;
	}
	d->buf[d->len] = '\0';
	*len = d->len;
	return d->buf;
}

/* A parser, with its in-memory database and statements. */
struct body_parser *
body_parser_new(void)
{
	struct body_parser	*p;

	p = xcalloc(1, sizeof *p);
	if (sqlite3_open_v2(":memory:", &p->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		fatalx("sqlite: cannot open an in-memory database");
	/* json_type() fails on malformed JSON: only once it is valid. */
	p->shape = store_prepare(p->db, "SELECT v, CASE WHEN v THEN "
	    "json_type(?1) END, CASE WHEN v AND json_type(?1, '$.writeKey') = "
	    "'text' THEN json_extract(?1, '$.writeKey') END, CASE WHEN v AND "
	    "json_type(?1, '$.sentAt') = 'text' THEN json_extract(?1, "
	    "'$.sentAt') END, CASE WHEN v THEN json_type(?1, '$.batch') END "
	    "FROM (SELECT json_valid(?1) AS v)");
	p->each = store_prepare(p->db, "SELECT type, value FROM "
	    "json_each(?1, '$.batch')");
	p->error = store_prepare(p->db, "SELECT json_object('success', "
	    "json('false'), 'error', ?1)");
	p->rejected = store_prepare(p->db, "SELECT json_object('index', ?1, "
	    "'reason', ?2)");
	return p;
}

/* Free a parser. */
void
body_parser_free(struct body_parser *p)
{
	if (p == NULL)
		return;
	sqlite3_finalize(p->shape);
	sqlite3_finalize(p->each);
	sqlite3_finalize(p->error);
	sqlite3_finalize(p->rejected);
	sqlite3_close(p->db);
	free(p);
}

/* A copy of column i's text, or NULL. */
static char *
body_column(sqlite3_stmt *st, int i)
{
	const unsigned char	*s = sqlite3_column_text(st, i);

	return s != NULL ? xstrdup((const char *)s) : NULL;
}

/* Add a message to b: its text is copied into b's store. */
static void
body_add(struct body *b, const char *json, size_t len, const char *reason)
{
	struct body_msg	*m;

	b->msgs = xreallocarray(b->msgs, b->nmsgs + 1, sizeof *b->msgs);
	m = &b->msgs[b->nmsgs++];
	memset(m, 0, sizeof *m);
	m->reason = reason;
	if (reason != NULL)
		return;
	m->off = b->store.len;
	m->len = len;
	buf_add(&b->store, json, len);
	buf_add(&b->store, "", 1);
}

/* Split a batch's elements into b. 0, or -1 when SQLite failed. */
static int
body_split(struct body_parser *p, struct body *b, const char *text,
    size_t len)
{
	sqlite3_stmt	*st = p->each;
	int		 rc;

	sqlite3_bind_text(st, 1, text, (int)len, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char	*type = (const char *)sqlite3_column_text(st, 0);
		const char	*json = (const char *)sqlite3_column_text(st, 1);
		size_t		 n = sqlite3_column_bytes(st, 1);

		if (type == NULL || strcmp(type, "object") != 0)
			body_add(b, NULL, 0, "not a JSON object");
		else if (n > BODY_MAX_MESSAGE)
			body_add(b, NULL, 0, "message larger than 32768 bytes");
		else
			body_add(b, json, n, NULL);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The text of message i of b. */
const char *
body_message(const struct body *b, int i)
{
	return b->store.s + b->msgs[i].off;
}

/*
 * Check text (len bytes, NUL-terminated) as the body of an endpoint of
 * kind, and split it into b's messages: a single-message endpoint's whole
 * body is its one message; a batch's messages are its "batch" array's
 * elements, each one over BODY_MAX_MESSAGE (or not an object) rejected on
 * its own. Returns 0, or an HTTP status (400: not JSON or not the
 * endpoint's shape; 413: a single message too large) with err.
 */
int
body_parse(struct body_parser *p, enum body_kind kind, const char *text,
    size_t len, struct body *b, char *err, size_t errlen)
{
	sqlite3_stmt	*st = p->shape;
	const char	*type, *batch;
	int		 rc = 400;

	memset(b, 0, sizeof *b);
	buf_init(&b->store);
	b->kind = kind;
	if (kind != BODY_BATCH && len > BODY_MAX_MESSAGE) {
		snprintf(err, errlen, "message larger than %d bytes",
		    BODY_MAX_MESSAGE);
		return 413;
	}
	/* SQLite's JSON functions would stop at a NUL. */
	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, errlen, "NUL byte in the body");
		return 400;
	}
	sqlite3_bind_text(st, 1, text, (int)len, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		snprintf(err, errlen, "cannot parse the body: %s",
		    sqlite3_errmsg(p->db));
		goto out;
	}
	type = (const char *)sqlite3_column_text(st, 1);
	batch = (const char *)sqlite3_column_text(st, 4);
	if (!sqlite3_column_int(st, 0))
		snprintf(err, errlen, "not valid JSON");
	else if (strcmp(type, "object") != 0)
		snprintf(err, errlen, "not a JSON object");
	else if (kind == BODY_BATCH && batch == NULL)
		snprintf(err, errlen, "missing \"batch\"");
	else if (kind == BODY_BATCH && strcmp(batch, "array") != 0)
		snprintf(err, errlen, "\"batch\" is not an array");
	else
		rc = 0;
	if (rc != 0)
		goto out;
	b->write_key = body_column(st, 2);
	b->sent_at = body_column(st, 3);
	if (kind != BODY_BATCH)
		body_add(b, text, len, NULL);
	else if (body_split(p, b, text, len) != 0) {
		snprintf(err, errlen, "cannot parse the body: %s",
		    sqlite3_errmsg(p->db));
		rc = 400;
	}
out:
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != 0)
		body_free(b);
	return rc;
}

/* Free what body_parse() made (the struct itself is the caller's). */
void
body_free(struct body *b)
{
	free(b->write_key);
	if (b->store.s != NULL)
		explicit_bzero(b->store.s, b->store.len);
	buf_free(&b->store);
	free(b->sent_at);
	free(b->msgs);
	memset(b, 0, sizeof *b);
}

/* Step a statement that returns one JSON text and append it to out. */
static void
body_json(struct body_parser *p, sqlite3_stmt *st, struct buf *out)
{
	if (sqlite3_step(st) == SQLITE_ROW)
		buf_add(out, (const char *)sqlite3_column_text(st, 0),
		    sqlite3_column_bytes(st, 0));
	else
		buf_puts(out, "null");
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	(void)p;
}

/* The answer to a request that failed: {"success": false, "error": reason},
 * a string the caller frees. */
char *
body_answer_error(struct body_parser *p, const char *reason)
{
	struct buf	 out;

	buf_init(&out);
	sqlite3_bind_text(p->error, 1, reason, -1, SQLITE_STATIC);
	body_json(p, p->error, &out);
	buf_puts(&out, "\n");
	return buf_steal(&out);
}

/* The answer to a stored request: {"success": true}, with "rejected": [{
 * "index": N, "reason": "..."}, ...] listing the messages whose rc is -1,
 * in order. A string the caller frees. */
char *
body_answer(struct body_parser *p, const struct body *b, const int *rc,
    char *const *reasons)
{
	struct buf	 out;
	int		 n = 0;

	buf_init(&out);
	buf_puts(&out, "{\"success\":true");
	for (int i = 0; i < b->nmsgs; i++) {
		if (rc[i] != -1)
			continue;
		buf_puts(&out, n++ == 0 ? ",\"rejected\":[" : ",");
		sqlite3_bind_int(p->rejected, 1, i);
		sqlite3_bind_text(p->rejected, 2, reasons[i] != NULL ?
		    reasons[i] : "rejected", -1, SQLITE_STATIC);
		body_json(p, p->rejected, &out);
	}
	buf_puts(&out, n > 0 ? "]}\n" : "}\n");
	return buf_steal(&out);
}
