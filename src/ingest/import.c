/*
 * Importing Segment messages: JSON lines from a file or a stream, batch
 * envelopes, and single messages for the HTTP API. message.c checks and
 * imports one message; profile.c keeps the subjects.
 *
 * Lines are grouped in write transactions of up to IMPORT_BATCH messages
 * or IMPORT_BATCH_MS, so that the daemon is never kept waiting long.
 * importer_message() and importer_batch() never commit: their caller does,
 * with importer_commit().
 *
 * A line is one message or a batch envelope {"batch": [...]} (with an
 * optional sentAt, writeKey and context, which are not read), whose
 * messages are imported one by one with the envelope's sentAt. A
 * rejected line is reported by import_stream as "NAME:LINE: reason", a
 * rejected message of an envelope as "NAME:LINE#INDEX: reason" (INDEX
 * from 0), the reason one of message.c's, or of the text, checked here
 * for what SQLite's JSON functions cannot see:
 *   line longer than 1048576 bytes     NUL byte in line
 *   NUL character (\u0000) in line     invalid UTF-8
 * or of the line:
 *   "batch" is not an array
 * or of the envelope, which rejects the whole line:
 *   "sentAt" is not a string           bad sentAt "T"
 * and importer_batch() refuses an object without "batch" as
 *   missing "batch"
 * Blank lines are skipped, a CR before the LF and a UTF-8 byte order mark
 * at the start are dropped. The counts are of messages; the summary
 * (import_summary) reads "imported N, duplicates N, rejected N".
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ingest/ingest-int.h"

#ifndef IMPORT_BATCH
#define IMPORT_BATCH		20000	/* most messages per transaction */
#endif
#define IMPORT_BATCH_MS		1000	/* longest a transaction stays open */
#define IMPORT_READ		65536	/* bytes per read */

/* What a bad message of an envelope is told to. */
typedef void	import_cb(void *arg, int index, int rc, const char *err);

/* Create an importer on db; now is the receive time of lines. */
struct importer *
importer_new(sqlite3 *db, int64_t now)
{
	struct importer	*imp;

	imp = xcalloc(1, sizeof *imp);
	imp->db = db;
	imp->now = now;
	message_init(imp);
	imp->envelope = store_prepare(db, "SELECT json_type(?1, '$.batch'), "
	    "json_type(?1, '$.sentAt'), json_extract(?1, '$.sentAt')");
	imp->elements = store_prepare(db,
	    "SELECT value, type FROM json_each(?1, '$.batch')");
	buf_init(&imp->sent_at);
	imp->profile = profile_new(db);
	return imp;
}

/* Free an importer; what was not committed is rolled back. */
void
importer_free(struct importer *imp)
{
	if (imp == NULL)
		return;
	if (imp->in_txn)
		store_rollback(imp->db);
	message_free(imp);
	sqlite3_finalize(imp->envelope);
	sqlite3_finalize(imp->elements);
	buf_free(&imp->sent_at);
	profile_free(imp->profile);
	free(imp);
}

/* Roll back the open transaction and forget what it counted. */
static void
importer_abort(struct importer *imp)
{
	store_rollback(imp->db);
	memset(&imp->pending, 0, sizeof imp->pending);
	imp->in_txn = 0;
	imp->batch = 0;
	profile_forget(imp->profile);
}

/* Commit the messages imported so far; on a failure, roll them back and
 * keep the reason for importer_fault(). */
int
importer_commit(struct importer *imp)
{
	if (!imp->in_txn)
		return 0;
	if (store_commit(imp->db) != 0) {
		message_fault(imp, imp->fault, sizeof imp->fault);
		importer_abort(imp);
		return -1;
	}
	imp->stats.imported += imp->pending.imported;
	imp->stats.duplicates += imp->pending.duplicates;
	memset(&imp->pending, 0, sizeof imp->pending);
	imp->in_txn = 0;
	imp->batch = 0;
	profile_settled(imp->profile);
	return 0;
}

/* Why the last commit failed. */
const char *
importer_fault(const struct importer *imp)
{
	return imp->fault[0] != '\0' ? imp->fault : "database fault";
}

/* The counts so far: committed messages and those of the open
 * transaction. */
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

/* Does the text hold the escape \u0000? SQLite's JSON functions cut a
 * string there, which would make "u\u0000x" the user "u". An escape is a
 * "u0000" after an odd number of backslashes. */
static int
import_has_nul_escape(const char *text, size_t len)
{
	const char	*p = text, *end = text + len, *q;

	if (memchr(text, '\\', len) == NULL)
		return 0;
	while ((q = memmem(p, end - p, "u0000", 5)) != NULL) {
		size_t	 n = 0;

		while (q - n > text && q[-1 - (ptrdiff_t)n] == '\\')
			n++;
		if (n % 2 == 1)
			return 1;
		p = q + 5;
	}
	return 0;
}

/* Check what SQLite cannot see in a message's text: NUL bytes, the
 * escape \u0000, invalid UTF-8. */
static int
import_check_text(const char *text, size_t len, char *err, size_t errlen)
{
	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, errlen, "NUL byte in line");
		return IMPORT_REJECT;
	}
	if (import_has_nul_escape(text, len)) {
		snprintf(err, errlen, "NUL character (\\u0000) in line");
		return IMPORT_REJECT;
	}
	if (!import_utf8_valid((const unsigned char *)text, len)) {
		snprintf(err, errlen, "invalid UTF-8");
		return IMPORT_REJECT;
	}
	return IMPORT_OK;
}

/* Count a message's outcome; a fault rolls the transaction back. */
static int
import_count(struct importer *imp, int rc)
{
	switch (rc) {
	case IMPORT_REJECT:
		imp->stats.rejected++;
		break;
	case IMPORT_FAULT:
		if (imp->in_txn)
			importer_abort(imp);
		break;
	case IMPORT_DUP:
		imp->pending.duplicates++;
		imp->batch++;
		break;
	default:
		imp->pending.imported++;
		imp->batch++;
		break;
	}
	return rc;
}

/* Check, parse and import one message of len bytes; checked: its text
 * was checked already (an envelope's). Counted; nothing rolled back. */
static int
import_one(struct importer *imp, const char *json, size_t len, int checked,
    const struct import_ctx *ctx, char *err, size_t errlen)
{
	int	 rc;

	if (len > IMPORT_MAX_LINE) {
		snprintf(err, errlen, "line longer than %d bytes",
		    IMPORT_MAX_LINE);
		return IMPORT_REJECT;
	}
	if ((!checked && (rc = import_check_text(json, len, err,
	    errlen)) != 0) ||
	    (rc = message_parse(imp, json, len, err, errlen)) != 0)
		return rc;
	return message_import(imp, ctx, err, errlen);
}

/*
 * Import one message (a JSON object of len bytes) into the open
 * transaction, begun when none is open, never committed here. 0 imported,
 * 1 a duplicate, -1 rejected (the reason in err), -2 a database fault (the
 * message in err; the open transaction rolled back).
 */
int
importer_message(struct importer *imp, const char *json, size_t len,
    const struct import_ctx *ctx, char *err, size_t errlen)
{
	return import_count(imp, import_one(imp, json, len, 0, ctx, err,
	    errlen));
}

/* Is the parsed document a batch envelope (no "type", and a "batch")?
 * Then check it and keep its sentAt in imp->sent_at: 1, or -1 with the
 * reason; 0 when it is no envelope. */
static int
import_envelope(struct importer *imp, const char *json, size_t len,
    char *err, size_t errlen)
{
	sqlite3_stmt	*st = imp->envelope;
	const char	*batch, *sent;
	char		 q[64];
	int64_t		 ms;
	int		 rc = 1;

	sqlite3_bind_text(st, 1, json, (int)len, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		snprintf(err, errlen, "not valid JSON");
		return -1;
	}
	batch = (const char *)sqlite3_column_text(st, 0);
	sent = (const char *)sqlite3_column_text(st, 1);
	imp->sent_at.len = 0;
	if (batch == NULL || strcmp(batch, "null") == 0)
		rc = 0;
	else if (strcmp(batch, "array") != 0) {
		snprintf(err, errlen, "\"batch\" is not an array");
		rc = -1;
	} else if (sent != NULL && strcmp(sent, "null") != 0) {
		sent = (const char *)sqlite3_column_text(st, 2);
		if (strcmp((const char *)sqlite3_column_text(st, 1),
		    "text") != 0) {
			snprintf(err, errlen, "\"sentAt\" is not a string");
			rc = -1;
		} else if (time_parse_ms(sent, &ms) != 0) {
			snprintf(err, errlen, "bad sentAt \"%s\"",
			    message_quote(sent, strlen(sent), q, sizeof q));
			rc = -1;
		} else
			buf_puts(&imp->sent_at, sent);
	}
	sqlite3_reset(st);
	return rc;
}

/*
 * Import the messages of a checked envelope in order, with its sentAt,
 * each through cb (when set). Returns 0 when all were imported or
 * duplicates, -1 when any was rejected (the first reason in err as
 * "#INDEX: reason"), -2 on a fault (the transaction rolled back).
 */
static int
import_elements(struct importer *imp, const char *json, size_t len,
    const struct import_ctx *base, import_cb *cb, void *arg, char *err,
    size_t errlen)
{
	sqlite3_stmt		*st = imp->elements;
	struct import_ctx	 ctx = *base;
	const char		*value, *type;
	char			 why[256];
	int			 index = 0, rc, result = 0;

	if (imp->sent_at.len != 0)
		ctx.sent_at = imp->sent_at.s;
	sqlite3_bind_text(st, 1, json, (int)len, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		value = (const char *)sqlite3_column_text(st, 0);
		type = (const char *)sqlite3_column_text(st, 1);
		if (type == NULL || strcmp(type, "object") != 0) {
			snprintf(why, sizeof why, "not a JSON object");
			rc = import_count(imp, IMPORT_REJECT);
		} else
			rc = import_count(imp, import_one(imp, value,
			    sqlite3_column_bytes(st, 0), 1, &ctx, why,
			    sizeof why));
		if (cb != NULL)
			cb(arg, index, rc, rc < 0 ? why : NULL);
		if (rc == IMPORT_REJECT && result == 0) {
			snprintf(err, errlen, "#%d: %s", index, why);
			result = -1;
		}
		if (rc == IMPORT_FAULT) {
			snprintf(err, errlen, "%s", why);
			result = -2;
			break;
		}
		index++;
	}
	sqlite3_reset(st);
	return result;
}

/*
 * Import a batch envelope {"batch": [...], "sentAt": ...}: each message in
 * order through importer_message (with the envelope's sentAt, else ctx's),
 * cb(arg, index, rc, err) after each. -1 with err when json is not an
 * envelope, -2 on a database fault (rolled back), else 0.
 */
int
importer_batch(struct importer *imp, const char *json, size_t len,
    const struct import_ctx *ctx, void (*cb)(void *arg, int index, int rc,
    const char *err), void *arg, char *err, size_t errlen)
{
	int	 rc;

	if (len > IMPORT_MAX_LINE) {
		snprintf(err, errlen, "line longer than %d bytes",
		    IMPORT_MAX_LINE);
		return -1;
	}
	if ((rc = import_check_text(json, len, err, errlen)) != 0 ||
	    (rc = message_parse(imp, json, len, err, errlen)) != 0)
		return -1;
	if ((rc = import_envelope(imp, json, len, err, errlen)) == 0) {
		snprintf(err, errlen, "missing \"batch\"");
		return -1;
	}
	if (rc == -1)
		return -1;
	rc = import_elements(imp, json, len, ctx, cb, arg, err, errlen);
	return rc == -2 ? -2 : 0;
}

/* Import one line, a message or an envelope. */
static int
import_line(struct importer *imp, const char *line, size_t len,
    import_cb *cb, void *arg, char *err, size_t errlen)
{
	struct import_ctx	 ctx = { imp->now, NULL, NULL };
	int			 rc;

	if (len > IMPORT_MAX_LINE) {
		snprintf(err, errlen, "line longer than %d bytes",
		    IMPORT_MAX_LINE);
		return import_count(imp, IMPORT_REJECT);
	}
	if ((rc = import_check_text(line, len, err, errlen)) != 0 ||
	    (rc = message_parse(imp, line, len, err, errlen)) != 0)
		return import_count(imp, rc);
	if (!imp->fields[KEY_TYPE].present &&
	    (rc = import_envelope(imp, line, len, err, errlen)) != 0) {
		if (rc == -1)
			return import_count(imp, IMPORT_REJECT);
		return import_elements(imp, line, len, &ctx, cb, arg, err,
		    errlen);
	}
	return import_count(imp, message_import(imp, &ctx, err, errlen));
}

/* Is it time to commit: enough messages, or open long enough? */
static int
import_batch_full(struct importer *imp)
{
	struct timespec	 now;
	int64_t		 ms;

	if (!imp->in_txn)
		return 0;
	if (imp->batch >= IMPORT_BATCH)
		return 1;
	if (imp->batch % 256 != 0)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - imp->started.tv_sec) * 1000 +
	    (now.tv_nsec - imp->started.tv_nsec) / 1000000;
	return ms >= IMPORT_BATCH_MS;
}

/* Import a line through cb, and commit when the batch is full. */
static int
import_line_cb(struct importer *imp, const char *line, size_t len,
    import_cb *cb, void *arg, char *err, size_t errlen)
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

	rc = import_line(imp, line, len, cb, arg, err, errlen);
	if (rc == IMPORT_FAULT)
		return -2;
	if (import_batch_full(imp)) {
		if (importer_commit(imp) != 0) {
			snprintf(err, errlen, "%s", importer_fault(imp));
			return -2;
		}
		store_yield();	/* the next batch would begin at once */
	}
	return rc == IMPORT_REJECT ? -1 : 0;
}

/*
 * Import one line (its line ending may be included). Returns 0 when it was
 * imported, was a duplicate or was empty (an envelope: all its messages);
 * -1 when it (or a message of its envelope: "#INDEX: reason") was
 * rejected, with the reason in err; -2 on a database fault, with the
 * message in err, after the open transaction (the batch) was rolled back.
 */
int
importer_line(struct importer *imp, const char *line, size_t len, char *err,
    size_t errlen)
{
	return import_line_cb(imp, line, len, NULL, NULL, err, errlen);
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
	int		 envelope;	/* the line is a batch envelope */
	struct buf	 part;		/* a line cut by a read, so far */
	int		 too_long;	/* that line is over the limit */
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

/* Report a rejected message of an envelope as NAME:LINE#INDEX: reason. */
static void
import_stream_element(void *arg, int index, int rc, const char *err)
{
	struct import_reader	*r = arg;

	r->envelope = 1;
	if (rc == IMPORT_REJECT && r->errf != NULL)
		fprintf(r->errf, "%s:%ld#%d: %s\n", r->name, r->lineno, index,
		    err);
}

/* Import one line of a stream and report it when rejected. */
static int
import_stream_line(struct import_reader *r, const char *line, size_t len,
    int too_long)
{
	char	 err[256];
	int	 rc;

	r->lineno++;
	r->envelope = 0;
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
		rc = import_line_cb(r->imp, line, len, import_stream_element,
		    r, err, sizeof err);
	if (rc == -1 && r->errf != NULL && !r->envelope)
		fprintf(r->errf, "%s:%ld: %s\n", r->name, r->lineno, err);
	if (rc == -2)
		import_stream_fault(r, err);
	else if (!r->imp->in_txn)
		r->settled = r->lineno;
	return rc;
}

/* Import the lines of one read buffer: whole lines straight from it, a
 * line cut by the read into r->part, to be finished by the next. -2 on a
 * database fault. */
static int
import_stream_chunk(struct import_reader *r, const char *p, const char *end)
{
	const char	*nl;
	size_t		 n;

	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', end - p);
		n = (nl != NULL ? nl : end) - p;
		if (nl != NULL && r->part.len == 0 && !r->too_long) {
			/* The whole line is in the buffer. */
			if (import_stream_line(r, p, n, 0) == -2)
				return -2;
			continue;
		}
		if (!r->too_long && r->part.len + n > IMPORT_MAX_LINE + 1) {
			r->too_long = 1;	/* +1 for a CR */
			r->part.len = 0;
		}
		if (!r->too_long)
			buf_add(&r->part, p, n);
		if (nl == NULL)
			break;
		if (import_stream_line(r, r->part.s, r->part.len,
		    r->too_long) == -2)
			return -2;
		r->part.len = 0;
		r->too_long = 0;
	}
	/* Give back the memory of a long line. */
	if (r->part.len == 0 && r->part.cap > IMPORT_READ)
		buf_free(&r->part);
	return 0;
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
	struct stat		 sb;
	char			*rbuf;
	ssize_t			 got;
	int			 fd, pipe_like, rc = 0;

	fd = fileno(f);
	pipe_like = fd != -1 && fstat(fd, &sb) == 0 && !S_ISREG(sb.st_mode);
	r.imp = importer_new(db, now);
	rbuf = xmalloc(IMPORT_READ);
	buf_init(&r.part);

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
		if (import_stream_chunk(&r, rbuf, rbuf + got) == -2)
			goto fault;
	}
	if (rc == 0 && (r.part.len != 0 || r.too_long) &&
	    import_stream_line(&r, r.part.s, r.part.len, r.too_long) == -2)
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
	buf_free(&r.part);
	free(rbuf);
	return rc;
}
