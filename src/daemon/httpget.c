/*
 * The HTTP API's GET endpoints: /healthz, /readyz (a probe through the
 * ingest writer, and the main loop's word on the ticks), /metrics (the
 * insight layer's, and the ingest counts), and behind the admin bearer
 * token /report, /v1/subjects/ID and /v1/outbox (streamed row by row). The
 * config they read is held under the server's lock.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/http-int.h"

#define HTTP_PROBE_MS		1000	/* readyz's wait for the writer */
#define HTTP_OUTBOX_CHUNK	(32 * 1024)

/* A streamed /v1/outbox answer. */
struct http_outbox {
	struct http	*h;
	sqlite3		*db;
	sqlite3_stmt	*st;
	struct buf	 pending;
	size_t		 sent;
	int		 rows;
	int		 done;
};

/* Does the request carry the admin token ("Authorization: Bearer T")? */
static int
http_admin_ok(struct http *h, struct MHD_Connection *c)
{
	const char	*auth;

	auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
		return 0;
	auth += 7;
	while (*auth == ' ')
		auth++;
	return keyring_match(&h->cf->http->admin_keys, auth, strlen(auth));
}

/* GET /readyz: the store takes a write, a first tick is done and the last
 * one succeeded. */
static enum MHD_Result
http_readyz(struct http *h, struct MHD_Connection *c)
{
	struct writer_job	 probe = { 0 };

	if (writer_submit(h->writer, &probe, HTTP_PROBE_MS) != 0 ||
	    probe.status != 0)
		return http_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "not ready: the store does not take writes\n");
	if (!__atomic_load_n(&h->ticked, __ATOMIC_ACQUIRE))
		return http_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "not ready: no tick has completed yet\n");
	if (!__atomic_load_n(&h->tick_ok, __ATOMIC_ACQUIRE))
		return http_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "not ready: the last tick failed\n");
	return http_text(c, MHD_HTTP_OK, "ready\n");
}

/* GET /metrics and GET /report: written by the insight layer into memory,
 * under the config's lock. */
static enum MHD_Result
http_insight(struct http *h, struct MHD_Connection *c, int report)
{
	struct ingest_metrics	 m;
	sqlite3			*db;
	FILE			*f;
	char			*text = NULL, err[512];
	size_t			 len;
	int			 rc;

	if ((db = http_reader_get(h)) == NULL)
		return http_error(h, c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "cannot open the store");
	if ((f = open_memstream(&text, &len)) == NULL) {
		http_reader_put(h, db);
		return http_error(h, c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "out of memory");
	}
	if (report)
		rc = report_html(h->cf, db, time_now(), f, err, sizeof err);
	else if ((rc = metrics_print(f, db, h->cf, time_now(), err,
	    sizeof err)) == 0) {
		writer_metrics(h->writer, &m);
		metrics_print_ingest(f, &m);
	}
	fclose(f);
	http_reader_put(h, db);
	if (rc != 0) {
		/* Half a page or half the metrics are not sent. */
		log_err("GET %s: %s", report ? "/report" : "/metrics", err);
		free(text);
		return http_error(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    report ? "cannot make the report" : "cannot read the "
		    "metrics");
	}
	if (report)
		return http_answer(c, MHD_HTTP_OK, "text/html; charset=utf-8",
		    text, "Content-Security-Policy", "default-src 'none'; "
		    "style-src 'unsafe-inline'");
	return http_answer(c, MHD_HTTP_OK,
	    "text/plain; version=0.0.4; charset=utf-8", text, NULL, NULL);
}

/* GET /v1/subjects/ID: a subject's document, or 404. */
static enum MHD_Result
http_subject(struct http *h, struct MHD_Connection *c, const char *ref)
{
	sqlite3	*db;
	char	*doc = NULL, *msg;
	int64_t	 sid;
	int	 kind;

	if ((db = http_reader_get(h)) == NULL)
		return http_error(h, c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "cannot open the store");
	if ((sid = store_subject(db, ref, &kind)) >= 0)
		doc = subject_json(db, sid);
	http_reader_put(h, db);
	if (doc != NULL) {
		msg = xprintf("%s\n", doc);
		free(doc);
		return http_answer(c, MHD_HTTP_OK, "application/json", msg,
		    NULL, NULL);
	}
	if (sid >= 0)
		return http_error(h, c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "the store failed; see the log");
	msg = xprintf("no %s \"%s\"", kind == SUBJECT_ACCOUNT ? "account" :
	    "user", kind == SUBJECT_ACCOUNT ? ref + 8 : ref);
	http_error(h, c, MHD_HTTP_NOT_FOUND, msg);
	free(msg);
	return MHD_YES;
}

/* Fill buf with the next part of a /v1/outbox answer: "[", the rows'
 * objects with commas, "]". */
static ssize_t
http_outbox_read(void *arg, uint64_t pos, char *buf, size_t max)
{
	struct http_outbox	*o = arg;
	size_t			 n;
	int			 rc;

	(void)pos;
	while (o->pending.len - o->sent < max && !o->done) {
		if (o->rows == 0 && o->pending.len == 0)
			buf_puts(&o->pending, "[");
		if ((rc = sqlite3_step(o->st)) == SQLITE_ROW) {
			if (o->rows++ > 0)
				buf_puts(&o->pending, ",");
			buf_add(&o->pending, (const char *)sqlite3_column_text(
			    o->st, 0), sqlite3_column_bytes(o->st, 0));
		} else {
			if (rc != SQLITE_DONE) {
				log_err("http: outbox: %s",
				    sqlite3_errmsg(o->db));
				return MHD_CONTENT_READER_END_WITH_ERROR;
			}
			buf_puts(&o->pending, "]\n");
			o->done = 1;
		}
	}
	if (o->sent == o->pending.len)
		return MHD_CONTENT_READER_END_OF_STREAM;
	n = o->pending.len - o->sent < max ? o->pending.len - o->sent : max;
	memcpy(buf, o->pending.s + o->sent, n);
	o->sent += n;
	if (o->sent == o->pending.len) {
		o->pending.len = o->sent = 0;
	}
	return (ssize_t)n;
}

/* Free a streamed /v1/outbox answer's state. */
static void
http_outbox_free(void *arg)
{
	struct http_outbox	*o = arg;

	sqlite3_finalize(o->st);
	http_reader_put(o->h, o->db);
	buf_free(&o->pending);
	free(o);
}

/* GET /v1/outbox[?dead=1]: the queue or the dead, streamed row by row so
 * that a long outbox never sits in memory whole. */
static enum MHD_Result
http_outbox(struct http *h, struct MHD_Connection *c)
{
	struct MHD_Response	*resp;
	struct http_outbox	*o;
	const char		*dead;
	enum MHD_Result		 rc;

	dead = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "dead");
	o = xcalloc(1, sizeof *o);
	o->h = h;
	buf_init(&o->pending);
	if ((o->db = http_reader_get(h)) == NULL ||
	    (o->st = outbox_list_json(o->db, dead != NULL &&
	    strcmp(dead, "0") != 0 && strcmp(dead, "false") != 0)) == NULL) {
		if (o->db != NULL)
			http_reader_put(h, o->db);
		free(o);
		return http_error(h, c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "cannot read the store");
	}
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN,
	    HTTP_OUTBOX_CHUNK, http_outbox_read, o, http_outbox_free);
	if (resp == NULL) {
		http_outbox_free(o);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store");
	rc = MHD_queue_response(c, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return rc;
}

/* Is url one of the GET endpoints? 1 for the open ones, 2 for the admin
 * ones, else 0. */
int
http_get_path(const char *url)
{
	if (strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0 ||
	    strcmp(url, "/metrics") == 0)
		return 1;
	if (strcmp(url, "/report") == 0 || strcmp(url, "/v1/outbox") == 0 ||
	    strncmp(url, "/v1/subjects/", 13) == 0)
		return 2;
	return 0;
}

/* A GET request (HEAD too). */
enum MHD_Result
http_get(struct http *h, struct MHD_Connection *c, const char *url)
{
	enum MHD_Result	 rc;
	int		 admin;

	if (strcmp(url, "/healthz") == 0)
		return http_text(c, MHD_HTTP_OK, "ok\n");
	if (strcmp(url, "/readyz") == 0)
		return http_readyz(h, c);
	if ((admin = http_get_path(url) == 2) == 0 &&
	    strcmp(url, "/metrics") != 0)
		return http_error(h, c, MHD_HTTP_NOT_FOUND, "no such endpoint");
	pthread_rwlock_rdlock(&h->lock);
	if (admin && h->cf->http->admin_keys.n == 0)
		rc = http_error(h, c, MHD_HTTP_NOT_FOUND, "no such endpoint "
		    "(the admin endpoints need admin_key_file)");
	else if (admin && !http_admin_ok(h, c))
		rc = http_error_with(h, c, MHD_HTTP_UNAUTHORIZED, "missing or "
		    "wrong admin token", MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer realm=\"journeyd\"");
	else if (strcmp(url, "/metrics") == 0 || strcmp(url, "/report") == 0)
		rc = http_insight(h, c, url[1] == 'r');
	else if (strcmp(url, "/v1/outbox") == 0)
		rc = http_outbox(h, c);
	else if (url[13] == '\0')
		rc = http_error(h, c, MHD_HTTP_NOT_FOUND, "no subject id");
	else
		rc = http_subject(h, c, url + 13);
	pthread_rwlock_unlock(&h->lock);
	return rc;
}

