/*
 * Helpers shared by the shipped plugins, compiled into each of them (a
 * plugin links no core object). Every symbol here is hidden, so that a
 * plugin never binds to a same-named symbol of the host or of another
 * plugin.
 */
#ifndef JOURNEYD_PUTIL_H
#define JOURNEYD_PUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <jansson.h>

#include "journeyd/plugin.h"

#pragma GCC visibility push(hidden)

/* Allocation that aborts on out-of-memory. */
void		*putil_malloc(size_t);
void		*putil_calloc(size_t, size_t);
char		*putil_strdup(const char *);
char		*putil_strndup(const char *, size_t);
char		*putil_printf(const char *, ...)
		    __attribute__((format(printf, 1, 2)));

/* A growing, always NUL-terminated buffer. */
struct putil_buf {
	char	*s;
	size_t	 len;
	size_t	 cap;
};
void		 putil_buf_add(struct putil_buf *, const void *, size_t);
void		 putil_buf_puts(struct putil_buf *, const char *);
void		 putil_buf_printf(struct putil_buf *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 putil_buf_free(struct putil_buf *);

/* Files, times, text. */
int		 putil_read_file(const char *path, size_t max, char **out,
		    size_t *outlen, char *err, size_t errlen);
int		 putil_read_secret(const char *path, char **out,
		    size_t *outlen, char *err, size_t errlen);
void		 putil_iso8601(int64_t, int ms, char *, size_t);
void		 putil_one_line(char *);
int		 putil_is_ascii(const char *);
char		*putil_base64(const unsigned char *, size_t);
int		 putil_base64_decode(const char *, unsigned char **, size_t *);

/* A pool of idle objects (curl handles). */
struct putil_pool;
struct putil_pool *putil_pool_new(void (*)(void *));
void		*putil_pool_get(struct putil_pool *);
void		 putil_pool_put(struct putil_pool *, void *);
void		 putil_pool_free(struct putil_pool *);

/* A pool of curl handles. */
struct putil_pool *putil_curl_pool(void);
CURL		*putil_curl_get(struct putil_pool *);
void		 putil_curl_put(struct putil_pool *, CURL *);

/* JSON (jansson): a document as compact text, which it releases (caller
 * frees the text; NULL when there is none to write); a member of a JSON
 * object's text as text (strings as they are, numbers and booleans as
 * written; caller frees), or NULL. */
char		*putil_json_text(json_t *);
char		*putil_json_member(const char *json, const char *key);

/* One HTTP request, and how its answer makes an action's outcome. */
struct putil_http {
	const char		*method;
	const char		*url;
	struct curl_slist	*headers;
	const char		*body;
	long			 connect_timeout;
	long			 timeout;
	long			 status;	/* out: the HTTP status, or 0 */
	struct putil_buf	 response;	/* out: up to 64 KiB of body */
};
void		 putil_http_do(CURL *, struct putil_http *,
		    struct jd_outcome *);

#pragma GCC visibility pop

#endif /* JOURNEYD_PUTIL_H */
