/*
 * Fuzz the HTTP API's request bodies (src/daemon/body.c), as they come off
 * the socket: the first byte picks the endpoint and how the body arrives
 * in pieces, the rest is the body. It is decoded as sent (plain) and as a
 * gzip stream, then parsed for the endpoint, and the answer built; and it
 * is gzipped here and decoded again, which must give the very same body
 * and outcome as the plain one. Checked besides the sanitizers: a decoded
 * body never exceeds BODY_MAX_REQUEST nor its buffer that much plus two;
 * an outcome is 0, 400 or 413, with a reason; every message of a batch is
 * a JSON object of at most BODY_MAX_MESSAGE bytes or has a reason; every
 * answer is valid JSON.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "daemon/http.h"
#include "fuzz.h"

static struct body_parser	*parser;
static sqlite3			*check_db;
static sqlite3_stmt		*valid;

/* Free what the target keeps, so that nothing shows as lost. */
static void
fuzz_cleanup(void)
{
	sqlite3_finalize(valid);
	sqlite3_close(check_db);
	body_parser_free(parser);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_open("fuzz_http", 0);
	parser = body_parser_new();
	if (sqlite3_open(":memory:", &check_db) != SQLITE_OK)
		fuzz_fail("sqlite3_open");
	valid = store_prepare(check_db, "SELECT json_valid(?1) AND "
	    "json_type(?1) = 'object'");
	atexit(fuzz_cleanup);
	return 0;
}

/* Is text a JSON object? */
static int
is_object(const char *text, size_t len)
{
	int	 ok;

	sqlite3_bind_text(valid, 1, text, (int)len, SQLITE_STATIC);
	ok = sqlite3_step(valid) == SQLITE_ROW && sqlite3_column_int(valid, 0);
	sqlite3_reset(valid);
	return ok;
}

/* A body decoded, parsed and answered: its status and, when 0, a copy of
 * its text; every invariant checked on the way. */
static int
run(enum body_kind kind, int gzip, const uint8_t *data, size_t len,
    size_t step, char **text, size_t *text_len)
{
	struct body_decoder	*d = body_decoder_new(gzip);
	struct body		 b;
	const char		*t = NULL;
	char			 err[256] = "", *answer;
	int			 rc = 0, *rcs;
	char			**reasons;

	for (size_t off = 0; off < len && rc == 0; off += step)
		rc = body_decoder_add(d, data + off, len - off < step ?
		    len - off : step, err, sizeof err);
	if (body_decoder_size(d) > BODY_MAX_REQUEST + 2)
		fuzz_fail("the buffer grew to %zu", body_decoder_size(d));
	if (rc == 0 && (t = body_decoder_finish(d, text_len, err,
	    sizeof err)) == NULL)
		rc = 400;
	if (rc == 0) {
		if (*text_len > BODY_MAX_REQUEST || t[*text_len] != '\0')
			fuzz_fail("a body of %zu bytes", *text_len);
		*text = xmalloc(*text_len + 1);
		memcpy(*text, t, *text_len + 1);
		rc = body_parse(parser, kind, t, *text_len, &b, err,
		    sizeof err);
	}
	if (rc != 0 && rc != 400 && rc != 413)
		fuzz_fail("status %d", rc);
	if (rc != 0 && err[0] == '\0')
		fuzz_fail("status %d without a reason", rc);
	body_decoder_free(d);
	if (rc != 0)
		return rc;
	rcs = xcalloc(b.nmsgs + 1, sizeof *rcs);
	reasons = xcalloc(b.nmsgs + 1, sizeof *reasons);
	for (int i = 0; i < b.nmsgs; i++) {
		const struct body_msg *m = &b.msgs[i];

		if (m->reason != NULL) {
			rcs[i] = -1;
			reasons[i] = (char *)m->reason;
			continue;
		}
		if (kind == BODY_BATCH && (m->len > BODY_MAX_MESSAGE ||
		    !is_object(body_message(&b, i), m->len)))
			fuzz_fail("message %d of a batch is no object", i);
		rcs[i] = i % 3 - 1;
		reasons[i] = rcs[i] == -1 ? "a \"reason\"\n" : NULL;
	}
	answer = body_answer(parser, &b, rcs, reasons);
	if (!is_object(answer, strlen(answer)))
		fuzz_fail("the answer is not JSON: %s", answer);
	free(answer);
	free(rcs);
	free(reasons);
	body_free(&b);
	return 0;
}

/* gzip data here, in one member. */
static uint8_t *
compress_gzip(const uint8_t *data, size_t len, size_t *out_len)
{
	z_stream	 z = { 0 };
	uint8_t		*out;
	size_t		 cap = compressBound(len) + 64;

	out = xmalloc(cap);
	if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		fuzz_fail("deflateInit2");
	z.next_in = (Bytef *)data;
	z.avail_in = len;
	z.next_out = out;
	z.avail_out = cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		fuzz_fail("deflate");
	*out_len = cap - z.avail_out;
	deflateEnd(&z);
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	enum body_kind	 kind;
	size_t		 step, zlen, plain_len = 0, again_len = 0;
	char		*plain = NULL, *again = NULL, *as_gzip = NULL;
	uint8_t		*z;
	int		 a, b;

	if (len == 0)
		return 0;
	kind = data[0] % (BODY_BATCH + 1);
	step = 1 + (data[0] >> 3) * 97;
	data++;
	len--;
	a = run(kind, 0, data, len, step, &plain, &plain_len);
	run(kind, 1, data, len, step, &as_gzip, &zlen);
	z = compress_gzip(data, len, &zlen);
	b = run(kind, 1, z, zlen, step, &again, &again_len);
	if (a != b || (plain == NULL) != (again == NULL) ||
	    (plain != NULL && (plain_len != again_len ||
	    memcmp(plain, again, plain_len) != 0)))
		fuzz_fail("plain: %d, gzipped: %d", a, b);
	free(z);
	free(plain);
	free(again);
	free(as_gzip);
	return 0;
}
