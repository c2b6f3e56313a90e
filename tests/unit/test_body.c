/* The HTTP API's request bodies (src/daemon/body.c), without a socket:
 * decoding at the exact size bounds, gzip in every shape, the endpoints'
 * shapes, a batch split with its messages as sent, and the answers. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zlib.h>

#include "daemon/http.h"

/* gzip of len bytes of data, its length in *out_len (caller frees). */
static unsigned char *
gz(const void *data, size_t len, size_t *out_len)
{
	z_stream	 z = { 0 };
	unsigned char	*out;
	size_t		 cap = compressBound(len) + 64;

	out = xmalloc(cap);
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
	    Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)data;
	z.avail_in = len;
	z.next_out = out;
	z.avail_out = cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	*out_len = cap - z.avail_out;
	deflateEnd(&z);
	return out;
}

/* Decode data whole (in pieces of step bytes): the status of the last add
 * or of finish; the text into *text when 0. */
static int
decode(int gzip, const void *data, size_t len, size_t step, char **text,
    size_t *text_len, size_t *peak)
{
	struct body_decoder	*d = body_decoder_new(gzip);
	const char		*t;
	char			 err[256];
	int			 rc = 0;

	*peak = 0;
	for (size_t off = 0; off < len && rc == 0; off += step) {
		rc = body_decoder_add(d, (const char *)data + off,
		    len - off < step ? len - off : step, err, sizeof err);
		if (body_decoder_size(d) > *peak)
			*peak = body_decoder_size(d);
	}
	if (rc == 0) {
		if ((t = body_decoder_finish(d, text_len, err, sizeof err)) ==
		    NULL)
			rc = 400;
		else
			*text = xstrndup(t, *text_len);
	}
	body_decoder_free(d);
	return rc;
}

/* A body of exactly n bytes ("{" "x..." "}" is enough: decoding does not
 * look at it). */
static char *
filled(size_t n)
{
	char	*s = xmalloc(n);

	memset(s, 'x', n);
	return s;
}

static void
test_kind(void **state)
{
	assert_int_equal(body_kind("/v1/track"), BODY_TRACK);
	assert_int_equal(body_kind("/v1/batch/"), BODY_BATCH);
	assert_int_equal(body_kind("/v1/alias"), BODY_ALIAS);
	assert_int_equal(body_kind("/v1/trackx"), -1);
	assert_int_equal(body_kind("/v1/"), -1);
	assert_int_equal(body_kind(""), -1);
	assert_string_equal(body_type(BODY_PAGE), "page");
	assert_null(body_type(BODY_BATCH));
}

/* 500 KB (512000 bytes) is taken, one more byte is not, plain or gzip,
 * whole or a byte at a time; a bomb never grows the buffer past it. */
static void
test_bounds(void **state)
{
	char	*s, *text = NULL;
	size_t	 n, peak;
	unsigned char *z;

	for (int gzip = 0; gzip <= 1; gzip++) {
		s = filled(BODY_MAX_REQUEST + 1);
		z = gzip ? gz(s, BODY_MAX_REQUEST, &n) : NULL;
		assert_int_equal(decode(gzip, gzip ? (void *)z : s, gzip ? n :
		    BODY_MAX_REQUEST, 4096, &text, &n, &peak), 0);
		assert_int_equal(n, BODY_MAX_REQUEST);
		assert_int_equal(text[n], '\0');
		free(text);
		free(z);
		z = gzip ? gz(s, BODY_MAX_REQUEST + 1, &n) : NULL;
		assert_int_equal(decode(gzip, gzip ? (void *)z : s, gzip ? n :
		    BODY_MAX_REQUEST + 1, 4096, &text, &n, &peak), 413);
		assert_true(peak <= BODY_MAX_REQUEST + 2);
		free(z);
		free(s);
	}
	/* 64 MiB of zeros, 64 KiB compressed. */
	s = xcalloc(1, 64 << 20);
	z = gz(s, 64 << 20, &n);
	free(s);
	assert_int_equal(decode(1, z, n, n, &text, &n, &peak), 413);
	assert_true(peak <= BODY_MAX_REQUEST + 2);
	free(z);
}

/* gzip: a byte at a time, several members, cut short, not gzip, empty,
 * garbage after the stream. */
static void
test_gzip(void **state)
{
	const char	*msg = "{\"batch\":[]}";
	unsigned char	*a, *b, *both;
	size_t		 na, nb, n, peak;
	char		*text = NULL;

	a = gz(msg, 6, &na);
	b = gz(msg + 6, strlen(msg) - 6, &nb);
	both = xmalloc(na + nb);
	memcpy(both, a, na);
	memcpy(both + na, b, nb);
	assert_int_equal(decode(1, both, na + nb, 1, &text, &n, &peak), 0);
	assert_string_equal(text, msg);
	free(text);
	assert_int_equal(decode(1, both, na + nb - 3, 7, &text, &n, &peak),
	    400);
	assert_int_equal(decode(1, a, na - 1, na, &text, &n, &peak), 400);
	assert_int_equal(decode(1, "not gzip", 8, 8, &text, &n, &peak), 400);
	assert_int_equal(decode(1, "", 0, 1, &text, &n, &peak), 400);
	memcpy(both + na, "junkjunk", 8);
	assert_int_equal(decode(1, both, na + 8, 3, &text, &n, &peak), 400);
	assert_int_equal(decode(0, "", 0, 1, &text, &n, &peak), 0);
	assert_int_equal(n, 0);
	free(text);
	free(a);
	free(b);
	free(both);
}

/* Parse text as kind's body: the status, and err. */
static int
parse(struct body_parser *p, enum body_kind kind, const char *text,
    struct body *b, char *err)
{
	return body_parse(p, kind, text, strlen(text), b, err, 256);
}

static void
test_shapes(void **state)
{
	struct body_parser	*p = body_parser_new();
	struct body		 b;
	char			 err[256], *big;
	static const struct {
		enum body_kind	 kind;
		const char	*text;
		int		 status;
		const char	*err;
	} cases[] = {
		{ BODY_BATCH, "", 400, "not valid JSON" },
		{ BODY_BATCH, "{\"batch\":[}", 400, "not valid JSON" },
		{ BODY_BATCH, "[]", 400, "not a JSON object" },
		{ BODY_BATCH, "{}", 400, "missing \"batch\"" },
		{ BODY_BATCH, "{\"batch\":null}", 400, "\"batch\" is not an "
		    "array" },
		{ BODY_TRACK, "\"track\"", 400, "not a JSON object" },
		{ BODY_TRACK, "{} {}", 400, "not valid JSON" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		err[0] = '\0';
		assert_int_equal(parse(p, cases[i].kind, cases[i].text, &b,
		    err), cases[i].status);
		assert_string_equal(err, cases[i].err);
	}
	assert_int_equal(body_parse(p, BODY_TRACK, "{}\0{}", 5, &b, err,
	    sizeof err), 400);
	assert_string_equal(err, "NUL byte in the body");

	/* One message: up to 32 KB, exactly. */
	big = xmalloc(BODY_MAX_MESSAGE + 2);
	memset(big, ' ', BODY_MAX_MESSAGE + 1);
	memcpy(big, "{}", 2);
	big[BODY_MAX_MESSAGE] = '\0';
	assert_int_equal(parse(p, BODY_IDENTIFY, big, &b, err), 0);
	assert_int_equal(b.nmsgs, 1);
	assert_int_equal(b.msgs[0].len, BODY_MAX_MESSAGE);
	body_free(&b);
	big[BODY_MAX_MESSAGE] = ' ';
	big[BODY_MAX_MESSAGE + 1] = '\0';
	assert_int_equal(parse(p, BODY_IDENTIFY, big, &b, err), 413);
	free(big);

	/* A single message keeps its text, its writeKey, its sentAt. */
	assert_int_equal(parse(p, BODY_TRACK, " {\"writeKey\":\"k\", "
	    "\"sentAt\": \"2026-01-01T00:00:00Z\", \"n\": 1.50} ", &b, err), 0);
	assert_string_equal(b.write_key, "k");
	assert_string_equal(b.sent_at, "2026-01-01T00:00:00Z");
	assert_string_equal(body_message(&b, 0), " {\"writeKey\":\"k\", "
	    "\"sentAt\": \"2026-01-01T00:00:00Z\", \"n\": 1.50} ");
	body_free(&b);
	/* A writeKey that is not a string is no key. */
	assert_int_equal(parse(p, BODY_TRACK, "{\"writeKey\":5}", &b, err), 0);
	assert_null(b.write_key);
	body_free(&b);
	body_parser_free(p);
}

/* A batch: each element as sent (numbers and escapes untouched), the
 * ones not objects or over 32 KB rejected on their own, by index. */
static void
test_batch(void **state)
{
	struct body_parser	*p = body_parser_new();
	struct body		 b;
	struct buf		 t;
	char			 err[256];

	buf_init(&t);
	buf_puts(&t, "{\"sentAt\":\"S\", \"batch\": [ {\"a\": 0.1, \"b\": "
	    "12345678901234567890123, \"c\": \"\\u00e9\\n\"}, 3, [1], "
	    "{\"p\":\"");
	for (int i = 0; i < BODY_MAX_MESSAGE; i++)
		buf_add(&t, "x", 1);
	buf_puts(&t, "\"}, {\"e\":1e3} ], \"writeKey\": \"wk\"}");
	assert_int_equal(body_parse(p, BODY_BATCH, t.s, t.len, &b, err,
	    sizeof err), 0);
	assert_int_equal(b.nmsgs, 5);
	assert_string_equal(b.write_key, "wk");
	assert_string_equal(b.sent_at, "S");
	assert_null(b.msgs[0].reason);
	assert_string_equal(body_message(&b, 0), "{\"a\":0.1,\"b\":"
	    "12345678901234567890123,\"c\":\"\\u00e9\\n\"}");
	assert_string_equal(b.msgs[1].reason, "not a JSON object");
	assert_string_equal(b.msgs[2].reason, "not a JSON object");
	assert_string_equal(b.msgs[3].reason, "message larger than 32768 "
	    "bytes");
	assert_string_equal(body_message(&b, 4), "{\"e\":1e3}");
	assert_int_equal(b.msgs[4].len, 9);
	body_free(&b);
	buf_free(&t);
	body_parser_free(p);
}

/* The answers are JSON, reasons escaped. */
static void
test_answers(void **state)
{
	struct body_parser	*p = body_parser_new();
	struct body		 b;
	char			 err[256], *a;
	int			 rc[3] = { 0, -1, -1 };
	char			*reasons[3] = { NULL, "bad \"x\"\n", NULL };

	a = body_answer_error(p, "a \"quoted\" reason");
	assert_string_equal(a, "{\"success\":false,\"error\":\"a \\\"quoted\\\" "
	    "reason\"}\n");
	free(a);
	assert_int_equal(parse(p, BODY_BATCH, "{\"batch\":[{},{},{}]}", &b,
	    err), 0);
	a = body_answer(p, &b, rc, reasons);
	assert_string_equal(a, "{\"success\":true,\"rejected\":[{\"index\":1,"
	    "\"reason\":\"bad \\\"x\\\"\\n\"},{\"index\":2,\"reason\":"
	    "\"rejected\"}]}\n");
	free(a);
	rc[1] = rc[2] = 1;
	a = body_answer(p, &b, rc, reasons);
	assert_string_equal(a, "{\"success\":true}\n");
	free(a);
	body_free(&b);
	body_parser_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kind),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_answers),
	};

	log_open("test_body", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
