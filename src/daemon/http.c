/*
 * The HTTP API (SPEC §13) on libmicrohttpd: Segment's tracking endpoints
 * (POST /v1/identify, track, group, page, screen, alias and batch), health
 * and readiness, Prometheus metrics, and behind a bearer token the live
 * report, a subject's document and the outbox.
 *
 * Each listen address is a libmicrohttpd daemon with a thread per
 * connection, so that a request waiting for its commit, or a report being
 * computed, holds up no other client; the main loop, ticks and delivery
 * run on their own threads and never wait for the server. A slow or
 * hostile client is bounded: HTTP_MAX_CONNECTIONS in all and
 * HTTP_MAX_PER_IP from one address, HTTP_IDLE_SECONDS without a byte,
 * HTTP_REQUEST_MS for a whole body, a body never decoded past
 * BODY_MAX_REQUEST, and at most HTTP_MEMORY bytes of bodies and their
 * messages in memory at once (past it, 503).
 *
 * Ingest requests are parsed here (body.c) and their messages committed by
 * the ingest writer (writer.c); a request answers 200 only after that
 * commit. The GET endpoints are in httpget.c. The config (keys included)
 * is swapped under a lock on reload; requests read it under that lock.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "daemon/http-int.h"

#define HTTP_MAX_CONNECTIONS	256
#define HTTP_MAX_PER_IP		64
#define HTTP_IDLE_SECONDS	15
#define HTTP_REQUEST_MS		30000	/* headers received to body done */
#define HTTP_QUEUE_MS		5000	/* longest wait for the writer */
#define HTTP_MEMORY		(32 * 1024 * 1024)	/* bodies at once */
#define HTTP_HEADER_MEMORY	(64 * 1024)	/* per connection */
#define HTTP_MESSAGE_COST	128	/* bytes per message beside its text */
#define HTTP_STACK		(512 * 1024)
#define HTTP_RETRY_AFTER	"2"	/* seconds, on a 503 */
#define HTTP_TOO_LARGE		413	/* its MHD name changed in 0.9.74 */

/* A request: what the access handler keeps between its calls. */
struct http_req {
	struct http		*h;
	int			 kind;		/* enum body_kind, or -1 */
	int			 key_ok;	/* the Basic user is a key */
	int			 gzip;
	int			 status;	/* an error to answer, or 0 */
	char			 err[256];
	struct body_decoder	*dec;
	size_t			 reserved;	/* of http->memory */
	int64_t			 started;	/* monotonic, µs */
	int64_t			 received;	/* the run's clock */
};

/* libmicrohttpd's own messages, into the log. */
static void
http_mhd_log(void *arg, const char *fmt, va_list ap)
{
	char	 msg[512];
	size_t	 n;

	(void)arg;
	vsnprintf(msg, sizeof msg, fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_info("http: %s", msg);
}

/* The client's address, as text. */
const char *
http_client(struct MHD_Connection *c, char *out, size_t len)
{
	const union MHD_ConnectionInfo	*ci;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL ||
	    getnameinfo(ci->client_addr, ci->client_addr->sa_family ==
	    AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in), out, len, NULL, 0,
	    NI_NUMERICHOST) != 0)
		snprintf(out, len, "?");
	return out;
}

/* A parser from the pool, or a new one. */
struct body_parser *
http_parser_get(struct http *h)
{
	struct body_parser	*p = NULL;

	pthread_mutex_lock(&h->pool_lock);
	for (int i = 0; i < HTTP_POOL && p == NULL; i++) {
		p = h->parsers[i];
		h->parsers[i] = NULL;
	}
	pthread_mutex_unlock(&h->pool_lock);
	return p != NULL ? p : body_parser_new();
}

/* Give a parser back to the pool, or free it when the pool is full. */
void
http_parser_put(struct http *h, struct body_parser *p)
{
	pthread_mutex_lock(&h->pool_lock);
	for (int i = 0; i < HTTP_POOL && p != NULL; i++)
		if (h->parsers[i] == NULL) {
			h->parsers[i] = p;
			p = NULL;
		}
	pthread_mutex_unlock(&h->pool_lock);
	body_parser_free(p);
}

/* A read connection to the store from the pool, or a new one; NULL when
 * the database cannot be opened (logged). */
sqlite3 *
http_reader_get(struct http *h)
{
	sqlite3	*db = NULL;
	char	 err[512];

	pthread_mutex_lock(&h->pool_lock);
	for (int i = 0; i < HTTP_POOL && db == NULL; i++) {
		db = h->readers[i];
		h->readers[i] = NULL;
	}
	pthread_mutex_unlock(&h->pool_lock);
	if (db == NULL && (db = store_open(h->database, err, sizeof err)) ==
	    NULL)
		log_err("http: %s", err);
	return db;
}

/* Give a read connection back, or close it when the pool is full. */
void
http_reader_put(struct http *h, sqlite3 *db)
{
	pthread_mutex_lock(&h->pool_lock);
	for (int i = 0; i < HTTP_POOL && db != NULL; i++)
		if (h->readers[i] == NULL) {
			h->readers[i] = db;
			db = NULL;
		}
	pthread_mutex_unlock(&h->pool_lock);
	store_close(db);
}

/* Queue an answer: status, its type and text (taken over, freed by
 * libmicrohttpd), and one more header when name is set. */
enum MHD_Result
http_answer(struct MHD_Connection *c, unsigned int status, const char *type,
    char *text, const char *name, const char *value)
{
	struct MHD_Response	*resp;
	enum MHD_Result		 rc;

	resp = MHD_create_response_from_buffer(strlen(text), text,
	    MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store");
	if (name != NULL)
		MHD_add_response_header(resp, name, value);
	rc = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

/* Answer a JSON error, {"success": false, "error": reason}, with one
 * more header when name is set. */
enum MHD_Result
http_error_with(struct http *h, struct MHD_Connection *c, unsigned int status,
    const char *reason, const char *name, const char *value)
{
	struct body_parser	*p = http_parser_get(h);
	char			*text = body_answer_error(p, reason);

	http_parser_put(h, p);
	return http_answer(c, status, "application/json", text, name, value);
}

/* Answer a JSON error, with the header its status calls for. */
enum MHD_Result
http_error(struct http *h, struct MHD_Connection *c, unsigned int status,
    const char *reason)
{
	const char	*name = NULL, *value = NULL;

	if (status == MHD_HTTP_SERVICE_UNAVAILABLE) {
		name = MHD_HTTP_HEADER_RETRY_AFTER;
		value = HTTP_RETRY_AFTER;
	} else if (status == MHD_HTTP_UNAUTHORIZED) {
		name = MHD_HTTP_HEADER_WWW_AUTHENTICATE;
		value = "Basic realm=\"journeyd\"";
	} else if (status == MHD_HTTP_METHOD_NOT_ALLOWED) {
		name = MHD_HTTP_HEADER_ALLOW;
		value = "POST";
	}
	return http_error_with(h, c, status, reason, name, value);
}

/* Answer plain text. */
enum MHD_Result
http_text(struct MHD_Connection *c, unsigned int status, const char *text)
{
	return http_answer(c, status, "text/plain; charset=utf-8",
	    xstrdup(text), NULL, NULL);
}

/* Account for a request's memory, now bytes in all: 0, or -1 when the
 * server holds too much. */
static int
http_reserve(struct http_req *r, size_t now)
{
	size_t	 total;

	if (now <= r->reserved)
		return 0;
	total = __atomic_add_fetch(&r->h->memory, now - r->reserved,
	    __ATOMIC_RELAXED);
	r->reserved = now;
	return total > HTTP_MEMORY ? -1 : 0;
}

/* The first call for an ingest request, once its headers are in: refuse
 * early what can be refused without the body. */
static enum MHD_Result
http_post_begin(struct http *h, struct MHD_Connection *c, struct http_req *r)
{
	const char	*enc, *len;
	char		*user, *pass = NULL;
	int		 gzip = 0, ok;

	enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_ENCODING);
	if (enc != NULL && (strcasecmp(enc, "gzip") == 0 ||
	    strcasecmp(enc, "x-gzip") == 0))
		gzip = 1;
	else if (enc != NULL && strcasecmp(enc, "identity") != 0)
		return http_error(h, c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
		    "unsupported Content-Encoding (use gzip or none)");
	len = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (len != NULL && strtoull(len, NULL, 10) > BODY_MAX_REQUEST +
	    (gzip ? 1024 : 0))
		return http_error(h, c, HTTP_TOO_LARGE,
		    "request body larger than 512000 bytes");
	if ((user = MHD_basic_auth_get_username_password(c, &pass)) != NULL) {
		pthread_rwlock_rdlock(&h->lock);
		ok = keyring_match(&h->cf->http->write_keys, user,
		    strlen(user));
		pthread_rwlock_unlock(&h->lock);
		explicit_bzero(user, strlen(user));
		MHD_free(user);
		if (pass != NULL) {
			explicit_bzero(pass, strlen(pass));
			MHD_free(pass);
		}
		if (!ok)
			return http_error(h, c, MHD_HTTP_UNAUTHORIZED,
			    "unknown write key");
		r->key_ok = 1;
	}
	r->gzip = gzip;
	r->dec = body_decoder_new(gzip);
	return MHD_YES;
}

/* Log the messages of a request that were rejected: how many, and the
 * first one's reason (never the write key, never a message). */
static void
http_log_rejected(struct MHD_Connection *c, const char *url,
    const struct body *b, const int *rc, char *const *reasons)
{
	char	 addr[64];
	int	 n = 0, first = -1;

	for (int i = 0; i < b->nmsgs; i++)
		if (rc[i] == -1 && n++ == 0)
			first = i;
	if (n > 0)
		log_warn("http: %s POST %s: %d of %d message(s) rejected, the "
		    "first (#%d): %s", http_client(c, addr, sizeof addr), url,
		    n, b->nmsgs, first, reasons[first]);
}

/* Hand a parsed body to the writer and answer with what became of it. */
static enum MHD_Result
http_ingest(struct http *h, struct MHD_Connection *c, struct http_req *r,
    const char *url, struct body_parser *p, struct body *b)
{
	struct writer_job	 job = { 0 };
	enum MHD_Result		 ret;
	unsigned int		 status = MHD_HTTP_OK;
	char			*text, addr[64];

	job.body = b;
	job.received = r->received;
	job.rc = xcalloc(b->nmsgs + 1, sizeof *job.rc);
	job.reasons = xcalloc(b->nmsgs + 1, sizeof *job.reasons);
	if (writer_submit(h->writer, &job, HTTP_QUEUE_MS) != 0)
		ret = http_error(h, c, status = MHD_HTTP_SERVICE_UNAVAILABLE,
		    "the store cannot take the write now; try again");
	else {
		http_log_rejected(c, url, b, job.rc, job.reasons);
		if (b->kind != BODY_BATCH && job.rc[0] == -1)
			ret = http_error(h, c, status = MHD_HTTP_BAD_REQUEST,
			    job.reasons[0]);
		else {
			text = body_answer(p, b, job.rc, job.reasons);
			ret = http_answer(c, MHD_HTTP_OK, "application/json",
			    text, NULL, NULL);
		}
	}
	log_debug("http: %s POST %s: %u, %d message(s)%s",
	    http_client(c, addr, sizeof addr), url, status, b->nmsgs,
	    r->gzip ? ", gzip" : "");
	for (int i = 0; i < b->nmsgs; i++)
		free(job.reasons[i]);
	free(job.reasons);
	free(job.rc);
	return ret;
}

/* The body is complete: parse it, check the key, store it, answer. */
static enum MHD_Result
http_post_end(struct http *h, struct MHD_Connection *c, struct http_req *r,
    const char *url)
{
	struct body_parser	*p;
	struct body		 b;
	const char		*text;
	size_t			 len;
	enum MHD_Result		 ret;
	int			 status, ok;

	if (r->status != 0)
		return http_error(h, c, r->status, r->err);
	if ((text = body_decoder_finish(r->dec, &len, r->err,
	    sizeof r->err)) == NULL)
		return http_error(h, c, MHD_HTTP_BAD_REQUEST, r->err);
	p = http_parser_get(h);
	if ((status = body_parse(p, r->kind, text, len, &b, r->err,
	    sizeof r->err)) != 0) {
		http_parser_put(h, p);
		/* Without a key, say nothing of the body. */
		if (!r->key_ok)
			return http_error(h, c, MHD_HTTP_UNAUTHORIZED,
			    "missing write key");
		return http_error(h, c, status, r->err);
	}
	if (!r->key_ok) {
		pthread_rwlock_rdlock(&h->lock);
		ok = b.write_key != NULL && keyring_match(
		    &h->cf->http->write_keys, b.write_key,
		    strlen(b.write_key));
		pthread_rwlock_unlock(&h->lock);
		if (!ok) {
			http_parser_put(h, p);
			ret = http_error(h, c, MHD_HTTP_UNAUTHORIZED,
			    b.write_key != NULL ? "unknown write key" :
			    "missing write key");
			body_free(&b);
			return ret;
		}
	}
	/* A batch of tiny messages costs more than its text: their table,
	 * outcomes and the answer's list (a 500 KB batch of "{}": 170k). */
	if (http_reserve(r, body_decoder_size(r->dec) + b.store.len +
	    (size_t)b.nmsgs * HTTP_MESSAGE_COST) != 0)
		ret = http_error(h, c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "the server is busy; try again");
	else
		ret = http_ingest(h, c, r, url, p, &b);
	http_parser_put(h, p);
	body_free(&b);
	return ret;
}

/* One piece of an ingest request's body. */
static enum MHD_Result
http_post_data(struct http_req *r, const char *data, size_t len)
{
	int	 status;

	if (time_mono_usec() - r->started > (int64_t)HTTP_REQUEST_MS * 1000) {
		log_info("http: a request body took longer than %ds: "
		    "connection closed", HTTP_REQUEST_MS / 1000);
		return MHD_NO;
	}
	if (r->status != 0)
		return MHD_YES;	/* refused already: read and drop */
	if ((status = body_decoder_add(r->dec, data, len, r->err,
	    sizeof r->err)) != 0)
		r->status = status;
	else if (http_reserve(r, body_decoder_size(r->dec)) != 0) {
		r->status = MHD_HTTP_SERVICE_UNAVAILABLE;
		snprintf(r->err, sizeof r->err, "the server is busy; try "
		    "again");
	}
	if (r->status != 0) {
		/* Drop what was received; answer once the body is in. */
		body_decoder_free(r->dec);
		r->dec = NULL;
	}
	return MHD_YES;
}

/* libmicrohttpd's access handler: called once the headers are in, then
 * for each piece of the body, then once more when it is complete. */
static enum MHD_Result
http_handle(void *arg, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *data,
    size_t *len, void **state)
{
	struct http	*h = arg;
	struct http_req	*r = *state;
	int		 post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
	int		 get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
			    strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;

	(void)version;
	if (r == NULL) {
		r = xcalloc(1, sizeof *r);
		r->h = h;
		r->started = time_mono_usec();
		r->received = time_now();
		r->kind = body_kind(url);
		*state = r;
		if (r->kind >= 0 && post)
			return http_post_begin(h, c, r);
		if (r->kind >= 0)
			return http_error(h, c, MHD_HTTP_METHOD_NOT_ALLOWED,
			    "use POST");
		if (get)
			return http_get(h, c, url);
		if (http_get_path(url))
			return http_error_with(h, c,
			    MHD_HTTP_METHOD_NOT_ALLOWED, "use GET",
			    MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
		return http_error(h, c, MHD_HTTP_NOT_FOUND, "no such endpoint");
	}
	if (r->dec == NULL && r->status == 0) {
		*len = 0;	/* answered already */
		return MHD_YES;
	}
	if (*len > 0) {
		enum MHD_Result rc = http_post_data(r, data, *len);

		*len = 0;
		return rc;
	}
	return http_post_end(h, c, r, url);
}

/* A request is over: free what it kept. */
static void
http_completed(void *arg, struct MHD_Connection *c, void **state,
    enum MHD_RequestTerminationCode why)
{
	struct http_req	*r = *state;

	(void)arg;
	(void)c;
	(void)why;
	if (r == NULL)
		return;
	if (r->reserved > 0)
		__atomic_sub_fetch(&r->h->memory, r->reserved,
		    __ATOMIC_RELAXED);
	body_decoder_free(r->dec);
	free(r);
	*state = NULL;
}

/* Split "host:port" or "[v6]:port" and resolve it for listening. */
static struct addrinfo *
http_resolve(const char *listen, char *err, size_t errlen)
{
	struct addrinfo	 hints, *ai = NULL;
	char		*host = xstrdup(listen), *port;
	int		 rc;

	port = strrchr(host, ':');
	*port++ = '\0';
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
		snprintf(err, errlen, "http: listen \"%s\": %s", listen,
		    gai_strerror(rc));
		ai = NULL;
	}
	free(host);
	return ai;
}

/* Say where a daemon listens: the address as configured, with the port
 * it was given when that was 0. */
static void
http_log_listening(struct MHD_Daemon *d, const char *listen, int tls)
{
	const union MHD_DaemonInfo	*di;
	const char			*colon = strrchr(listen, ':');

	di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	log_notice("http: listening on %.*s:%u%s", (int)(colon - listen),
	    listen, di != NULL ? di->port : 0, tls ? " (TLS)" : "");
}

/* Start a daemon listening on one address. */
static struct MHD_Daemon *
http_listen(struct http *h, const char *listen, char *err, size_t errlen)
{
	struct MHD_OptionItem	 o[16];
	struct MHD_Daemon	*d;
	struct addrinfo		*ai;
	unsigned int		 flags = MHD_USE_THREAD_PER_CONNECTION |
				    MHD_USE_INTERNAL_POLLING_THREAD |
				    MHD_USE_POLL | MHD_USE_ERROR_LOG;
	int			 n = 0;

	if ((ai = http_resolve(listen, err, errlen)) == NULL)
		return NULL;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
#define HTTP_OPTION(opt, v, p) \
	o[n++] = (struct MHD_OptionItem){ opt, (intptr_t)(v), p }
	HTTP_OPTION(MHD_OPTION_SOCK_ADDR, 0, ai->ai_addr);
	HTTP_OPTION(MHD_OPTION_CONNECTION_LIMIT, HTTP_MAX_CONNECTIONS, NULL);
	HTTP_OPTION(MHD_OPTION_PER_IP_CONNECTION_LIMIT, HTTP_MAX_PER_IP, NULL);
	HTTP_OPTION(MHD_OPTION_CONNECTION_TIMEOUT, HTTP_IDLE_SECONDS, NULL);
	HTTP_OPTION(MHD_OPTION_CONNECTION_MEMORY_LIMIT, HTTP_HEADER_MEMORY,
	    NULL);
	HTTP_OPTION(MHD_OPTION_THREAD_STACK_SIZE, HTTP_STACK, NULL);
	HTTP_OPTION(MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)http_completed, h);
	if (h->tls_cert != NULL) {
		flags |= MHD_USE_TLS;
		HTTP_OPTION(MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert);
		HTTP_OPTION(MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key);
	}
	HTTP_OPTION(MHD_OPTION_END, 0, NULL);
#undef HTTP_OPTION
	/* The logger first, so that no message goes elsewhere. */
	d = MHD_start_daemon(flags, 0, NULL, NULL, http_handle, h,
	    MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, h,
	    MHD_OPTION_ARRAY, o, MHD_OPTION_END);
	freeaddrinfo(ai);
	if (d != NULL)
		http_log_listening(d, listen, h->tls_cert != NULL);
	else
		snprintf(err, errlen, "http: cannot listen on %s%s (the "
		    "address in use, not this host's, or a bad certificate "
		    "or key; the reason is above)", listen,
		    h->tls_cert != NULL ? " with TLS" : "");
	return d;
}

/* Stop every listener; requests in progress finish first. */
static void
http_unlisten(struct http *h)
{
	for (int i = 0; i < h->ndaemons; i++)
		MHD_quiesce_daemon(h->daemons[i]);
	for (int i = 0; i < h->ndaemons; i++)
		MHD_stop_daemon(h->daemons[i]);
	free(h->daemons);
	h->daemons = NULL;
	h->ndaemons = 0;
	free(h->listening);
	h->listening = NULL;
}

/* What the listeners depend on: the addresses and the TLS files. */
static char *
http_listening(const struct http_conf *hc)
{
	struct buf	 b;

	buf_init(&b);
	for (int i = 0; i < hc->nlisten; i++)
		buf_printf(&b, "%s\n", hc->listen[i]);
	buf_printf(&b, "\n%s\n%s", hc->tls_cert != NULL ? hc->tls_cert : "",
	    hc->tls_key != NULL ? hc->tls_key : "");
	return buf_steal(&b);
}

/* Listen as hc says. 0, or -1 with err (and nothing listening). */
static int
http_relisten(struct http *h, const struct http_conf *hc, char *err,
    size_t errlen)
{
	http_unlisten(h);
	free(h->tls_cert);
	free(h->tls_key);
	h->tls_cert = hc->tls_cert != NULL ? xstrdup(hc->tls_cert) : NULL;
	h->tls_key = hc->tls_key != NULL ? xstrdup(hc->tls_key) : NULL;
	if (h->tls_cert != NULL && MHD_is_feature_supported(MHD_FEATURE_TLS) !=
	    MHD_YES) {
		snprintf(err, errlen, "http: this libmicrohttpd has no TLS");
		return -1;
	}
	h->daemons = xcalloc(hc->nlisten, sizeof *h->daemons);
	for (int i = 0; i < hc->nlisten; i++) {
		h->daemons[i] = http_listen(h, hc->listen[i], err, errlen);
		if (h->daemons[i] == NULL) {
			http_unlisten(h);
			return -1;
		}
		h->ndaemons++;
	}
	h->listening = http_listening(hc);
	return 0;
}

/* Call fn(arg) after each ingest commit that stored a message. */
void
http_on_commit(struct http *h, void (*fn)(void *), void *arg)
{
	if (h != NULL && h->writer != NULL)
		writer_on_commit(h->writer, fn, arg);
}

/* Start the server: its writer and its listeners. */
static struct http *
http_start(const struct config *cf, char *err, size_t errlen)
{
	struct http	*h;

	h = xcalloc(1, sizeof *h);
	h->cf = cf;
	h->database = xstrdup(cf->database);
	pthread_rwlock_init(&h->lock, NULL);
	pthread_mutex_init(&h->pool_lock, NULL);
	if ((h->writer = writer_start(cf->database, err, errlen)) == NULL ||
	    http_relisten(h, cf->http, err, errlen) != 0) {
		http_stop(h);
		return NULL;
	}
	return h;
}

/*
 * Serve as cf says, at start and on every reload: start the server, swap
 * in the new config (its keys), listen anew when the addresses or the TLS
 * files changed, or stop when cf has no http block. cf must stay until the
 * next call. Returns 0, or -1 with err: at start, *hp is then NULL; on a
 * reload, nothing listens until a reload succeeds.
 */
int
http_configure(struct http **hp, const struct config *cf, char *err,
    size_t errlen)
{
	struct http	*h = *hp;
	char		*listening;
	int		 rc = 0;

	if (cf->http == NULL) {
		http_stop(h);
		*hp = NULL;
		return 0;
	}
	if (h == NULL)
		return (*hp = http_start(cf, err, errlen)) != NULL ? 0 : -1;
	pthread_rwlock_wrlock(&h->lock);
	h->cf = cf;
	pthread_rwlock_unlock(&h->lock);
	listening = http_listening(cf->http);
	if (h->listening == NULL || strcmp(listening, h->listening) != 0)
		rc = http_relisten(h, cf->http, err, errlen);
	explicit_bzero(listening, strlen(listening));
	free(listening);
	return rc;
}

/* The main loop's word after each tick: whether it succeeded. */
void
http_tick(struct http *h, int ok)
{
	if (h == NULL)
		return;
	__atomic_store_n(&h->tick_ok, ok, __ATOMIC_RELEASE);
	__atomic_store_n(&h->ticked, 1, __ATOMIC_RELEASE);
}

/* Stop serving: no new connection, requests in progress finish (and are
 * committed), then the writer stops. */
void
http_stop(struct http *h)
{
	if (h == NULL)
		return;
	http_unlisten(h);
	writer_stop(h->writer);
	for (int i = 0; i < HTTP_POOL; i++) {
		body_parser_free(h->parsers[i]);
		store_close(h->readers[i]);
	}
	if (h->tls_key != NULL)
		explicit_bzero(h->tls_key, strlen(h->tls_key));
	free(h->tls_key);
	free(h->tls_cert);
	free(h->database);
	pthread_rwlock_destroy(&h->lock);
	pthread_mutex_destroy(&h->pool_lock);
	free(h);
}
