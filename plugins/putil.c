/*
 * Helpers shared by the shipped plugins: allocation, buffers, secrets,
 * durations and times, base64 (OpenSSL), a pool of curl handles, JSON
 * through jansson, and one HTTP request with the outcome it makes.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "putil.h"

#define PUTIL_RESPONSE_MAX	(64 * 1024)

struct putil_pool {
	pthread_mutex_t	  lock;
	void		**items;
	size_t		  n;
	size_t		  cap;
	void		(*destroy)(void *);
};

/* Give up: a plugin cannot go on without memory. */
static void
putil_oom(void)
{
	fputs("journeyd plugin: out of memory\n", stderr);
	abort();
}

/* Allocate or abort. */
void *
putil_malloc(size_t size)
{
	void	*p;

	if ((p = malloc(size ? size : 1)) == NULL)
		putil_oom();
	return p;
}

/* Allocate a zeroed array or abort. */
void *
putil_calloc(size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n ? n : 1, size ? size : 1)) == NULL)
		putil_oom();
	return p;
}

/* Duplicate a string or abort. */
char *
putil_strdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		putil_oom();
	return p;
}

/* Duplicate at most n bytes of a string or abort. */
char *
putil_strndup(const char *s, size_t n)
{
	char	*p;

	if ((p = strndup(s, n)) == NULL)
		putil_oom();
	return p;
}

/* Print into a new string or abort. */
char *
putil_printf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		putil_oom();
	return s;
}

/* Append n bytes to a buffer. */
void
putil_buf_add(struct putil_buf *b, const void *p, size_t n)
{
	size_t	 cap;

	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		if ((b->s = realloc(b->s, cap)) == NULL)
			putil_oom();
		b->cap = cap;
	}
	if (n != 0)
		memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* Append a string to a buffer. */
void
putil_buf_puts(struct putil_buf *b, const char *s)
{
	putil_buf_add(b, s, strlen(s));
}

/* Append formatted text to a buffer. */
void
putil_buf_printf(struct putil_buf *b, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		putil_oom();
	putil_buf_add(b, s, (size_t)n);
	free(s);
}

/* Free a buffer's contents and empty it. */
void
putil_buf_free(struct putil_buf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

/* Read a whole file of at most max bytes into a new NUL-terminated string. */
int
putil_read_file(const char *path, size_t max, char **out, size_t *outlen,
    char *err, size_t errlen)
{
	struct putil_buf	 b = { NULL, 0, 0 };
	char			 chunk[8192];
	size_t			 n;
	FILE			*f;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	putil_buf_add(&b, "", 0);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (b.len + n > max) {
			snprintf(err, errlen, "%s: file too large", path);
			goto fail;
		}
		putil_buf_add(&b, chunk, n);
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	fclose(f);
	*out = b.s;
	if (outlen != NULL)
		*outlen = b.len;
	return 0;

fail:
	fclose(f);
	putil_buf_free(&b);
	return -1;
}

/*
 * Read a secret (a password, token or key) from a file, without its trailing
 * newline. An empty secret is refused. The message never holds the secret.
 */
int
putil_read_secret(const char *path, char **out, size_t *outlen, char *err,
    size_t errlen)
{
	char	*s;
	size_t	 len;

	if (putil_read_file(path, 64 * 1024, &s, &len, err, errlen) != 0)
		return -1;
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		s[--len] = '\0';
	if (len == 0) {
		snprintf(err, errlen, "%s: file is empty", path);
		free(s);
		return -1;
	}
	*out = s;
	if (outlen != NULL)
		*outlen = len;
	return 0;
}

/* Write a Unix time as ISO 8601 in UTC, with milliseconds when ms is set. */
void
putil_iso8601(int64_t t, int ms, char *out, size_t len)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, len, ms ? "%Y-%m-%dT%H:%M:%S.000Z" :
	    "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, len, "1970-01-01T00:00:00Z");
}

/* Make text fit on one header line: every control character becomes a space. */
void
putil_one_line(char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
	}
}

/* Is the string plain ASCII? */
int
putil_is_ascii(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s >= 0x80)
			return 0;
	}
	return 1;
}

/* Base64 of len bytes, in a new string (OpenSSL's encoder). */
char *
putil_base64(const unsigned char *p, size_t len)
{
	char	*out;

	if (len > (size_t)INT32_MAX / 2)
		putil_oom();
	out = putil_malloc(4 * ((len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, p, (int)len);
	return out;
}

/* Decode base64 into new bytes (OpenSSL's decoder). Returns 0 or -1. */
int
putil_base64_decode(const char *s, unsigned char **out, size_t *outlen)
{
	size_t		 len = strlen(s), pad = 0;
	unsigned char	*p;
	int		 n;

	if (len == 0 || len % 4 != 0 || len > (size_t)INT32_MAX / 2)
		return -1;
	if (s[len - 1] == '=')
		pad++;
	if (s[len - 2] == '=')
		pad++;
	p = putil_malloc(len / 4 * 3 + 1);
	if ((n = EVP_DecodeBlock(p, (const unsigned char *)s, (int)len)) < 0 ||
	    (size_t)n < pad) {
		free(p);
		return -1;
	}
	*out = p;
	*outlen = (size_t)n - pad;
	return 0;
}

/* Start an empty pool whose items are released with destroy. */
struct putil_pool *
putil_pool_new(void (*destroy)(void *))
{
	struct putil_pool	*pool;

	pool = putil_calloc(1, sizeof *pool);
	pthread_mutex_init(&pool->lock, NULL);
	pool->destroy = destroy;
	return pool;
}

/* Take an idle item, or NULL when there is none. */
void *
putil_pool_get(struct putil_pool *pool)
{
	void	*item = NULL;

	pthread_mutex_lock(&pool->lock);
	if (pool->n > 0)
		item = pool->items[--pool->n];
	pthread_mutex_unlock(&pool->lock);
	return item;
}

/* Give an item back to the pool. */
void
putil_pool_put(struct putil_pool *pool, void *item)
{
	pthread_mutex_lock(&pool->lock);
	if (pool->n == pool->cap) {
		pool->cap = pool->cap ? pool->cap * 2 : 8;
		pool->items = realloc(pool->items,
		    pool->cap * sizeof *pool->items);
		if (pool->items == NULL)
			putil_oom();
	}
	pool->items[pool->n++] = item;
	pthread_mutex_unlock(&pool->lock);
}

/* Release every item and the pool. */
void
putil_pool_free(struct putil_pool *pool)
{
	if (pool == NULL)
		return;
	while (pool->n > 0)
		pool->destroy(pool->items[--pool->n]);
	free(pool->items);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}

/* Release a pooled curl handle. */
static void
putil_curl_destroy(void *item)
{
	curl_easy_cleanup(item);
}

/* A pool of curl easy handles: one in use per thread, reused after. */
struct putil_pool *
putil_curl_pool(void)
{
	return putil_pool_new(putil_curl_destroy);
}

/* Take a curl handle, reset to defaults but keeping its connections. */
CURL *
putil_curl_get(struct putil_pool *pool)
{
	CURL	*curl;

	if ((curl = putil_pool_get(pool)) != NULL) {
		curl_easy_reset(curl);
		return curl;
	}
	return curl_easy_init();
}

/* Give a curl handle back for the next action. */
void
putil_curl_put(struct putil_pool *pool, CURL *curl)
{
	if (curl != NULL)
		putil_pool_put(pool, curl);
}

/* Write a JSON document as compact text and release it; caller frees. */
char *
putil_json_text(json_t *doc)
{
	char	*text;

	if (doc == NULL)
		return NULL;
	text = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(doc);
	return text;
}

/* A member of the JSON object json as text, or NULL; caller frees. */
char *
putil_json_member(const char *json, const char *key)
{
	json_t	*doc, *v;
	char	*text = NULL;

	if (json == NULL || (doc = json_loads(json, 0, NULL)) == NULL)
		return NULL;
	if ((v = json_object_get(doc, key)) != NULL && !json_is_null(v)) {
		if (json_is_string(v))
			text = putil_strdup(json_string_value(v));
		else
			text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	}
	json_decref(doc);
	return text;
}

/* Keep up to PUTIL_RESPONSE_MAX bytes of a response body. */
static size_t
putil_http_write(char *p, size_t size, size_t n, void *arg)
{
	struct putil_buf	*b = arg;
	size_t			 len = size * n, keep = len;

	if (b->len + keep > PUTIL_RESPONSE_MAX)
		keep = PUTIL_RESPONSE_MAX - b->len;
	putil_buf_add(b, p, keep);
	return len;
}

/* Put a short, one-line excerpt of the response body after the status. */
static void
putil_http_excerpt(const struct putil_buf *response, char *reason,
    size_t reasonlen)
{
	size_t	 used = strlen(reason);
	char	 excerpt[161];

	if (response->len == 0 || used + 4 >= reasonlen)
		return;
	snprintf(excerpt, sizeof excerpt, "%s", response->s);
	putil_one_line(excerpt);
	snprintf(reason + used, reasonlen - used, ": %s", excerpt);
}

/*
 * Perform one request with both timeouts, without signals, and say what
 * its answer makes of the action: JD_DONE for 2xx; JD_RETRY for 408, 429,
 * 5xx and connection faults or timeouts, with the server's delay in
 * retry_after when it sent a Retry-After header (seconds or an HTTP date:
 * curl reads both); JD_FAILED for any other status. The reason quotes the
 * start of the body; nothing in it is read.
 */
void
putil_http_do(CURL *curl, struct putil_http *req, struct jd_outcome *o)
{
	char		 errbuf[CURL_ERROR_SIZE] = "";
	curl_off_t	 retry_after = 0;
	CURLcode	 rc;

	req->status = 0;
	curl_easy_setopt(curl, CURLOPT_URL, req->url);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, req->connect_timeout);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, req->timeout);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, req->headers);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)strlen(req->body));
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, putil_http_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &req->response);
#ifdef PACKAGE_VERSION
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "journeyd/" PACKAGE_VERSION);
#else
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "journeyd");
#endif

	rc = curl_easy_perform(curl);
	/* The handle outlives this call: drop the pointers to our stack. */
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);

	if (rc != CURLE_OK) {
		snprintf(o->reason, o->reasonlen, "%s", *errbuf != '\0' ?
		    errbuf : curl_easy_strerror(rc));
		putil_one_line(o->reason);
		o->status = JD_RETRY;
		return;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &req->status);
	if (req->status >= 200 && req->status <= 299) {
		o->status = JD_DONE;
		return;
	}
	snprintf(o->reason, o->reasonlen, "HTTP %ld", req->status);
	putil_http_excerpt(&req->response, o->reason, o->reasonlen);
	if (req->status == 408 || req->status == 429 || req->status >= 500) {
		if (curl_easy_getinfo(curl, CURLINFO_RETRY_AFTER,
		    &retry_after) == CURLE_OK && retry_after > 0)
			o->retry_after = (int64_t)retry_after;
		o->status = JD_RETRY;
		return;
	}
	o->status = JD_FAILED;
}
