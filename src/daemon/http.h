/*
 * The daemon's HTTP API (SPEC §13): request bodies into messages (body.c,
 * no socket needed), the ingest writer that commits the messages of several
 * requests in one transaction (writer.c), and the server on libmicrohttpd
 * (http.c, httpget.c, http-int.h).
 */
#ifndef JD_DAEMON_HTTP_H
#define JD_DAEMON_HTTP_H

#include "insight/insight.h"

/* body.c: a request's body, decoded and split into messages. */
#define BODY_MAX_MESSAGE	(32 * 1024)	/* bytes, one message */
#define BODY_MAX_REQUEST	(500 * 1024)	/* bytes, decoded */

enum body_kind {
	BODY_IDENTIFY, BODY_TRACK, BODY_GROUP, BODY_PAGE, BODY_SCREEN,
	BODY_ALIAS, BODY_BATCH
};

/* A message of a body: its text in the body's store, or the reason the
 * server rejected it on its own (too large, not an object). */
struct body_msg {
	size_t		 off;
	size_t		 len;
	const char	*reason;	/* static text, or NULL */
};

struct body {
	enum body_kind	 kind;
	char		*write_key;	/* the body's writeKey, or NULL */
	char		*sent_at;	/* the body's sentAt, or NULL */
	struct body_msg	*msgs;
	int		 nmsgs;
	struct buf	 store;		/* the messages' texts, each with a NUL */
};

struct body_decoder;
struct body_parser;
int		 body_kind(const char *path);
const char	*body_type(enum body_kind);
struct body_decoder *body_decoder_new(int gzip);
int		 body_decoder_add(struct body_decoder *, const void *, size_t,
		    char *err, size_t errlen);
const char	*body_decoder_finish(struct body_decoder *, size_t *len,
		    char *err, size_t errlen);
size_t		 body_decoder_size(const struct body_decoder *);
void		 body_decoder_free(struct body_decoder *);
struct body_parser *body_parser_new(void);
void		 body_parser_free(struct body_parser *);
int		 body_parse(struct body_parser *, enum body_kind,
		    const char *text, size_t len, struct body *, char *err,
		    size_t errlen);
const char	*body_message(const struct body *, int);
void		 body_free(struct body *);
char		*body_answer(struct body_parser *, const struct body *,
		    const int *rc, char *const *reasons);
char		*body_answer_error(struct body_parser *, const char *reason);

/* writer.c: the ingest writer thread and its group commits. */
struct writer;
/* A request's messages handed to the writer, and what became of them. */
struct writer_job {
	const struct body	*body;		/* NULL: a probe (readyz) */
	int64_t			 received;	/* the request's time */
	int			*rc;		/* per message, filled: 0
						   imported, 1 duplicate, -1
						   rejected */
	char			**reasons;	/* per rejected message; the
						   caller frees them */
	/* the writer's */
	int			 state;
	int			 status;
	struct writer_job	*next;
};
struct writer	*writer_start(const char *database, char *err, size_t errlen);
int		 writer_submit(struct writer *, struct writer_job *,
		    int wait_ms);
void		 writer_metrics(struct writer *, struct ingest_metrics *);
void		 writer_stop(struct writer *);
/* Call fn(arg) after each commit that stored a message (not under the
 * writer's lock); fn NULL: none. */
void		 writer_on_commit(struct writer *, void (*fn)(void *), void *);

/* http.c: the server. */
struct http;
int		 http_configure(struct http **, const struct config *,
		    char *err, size_t errlen);
void		 http_tick(struct http *, int ok);
/* Call fn(arg) after each ingest commit that stored a message. */
void		 http_on_commit(struct http *, void (*fn)(void *), void *arg);
void		 http_stop(struct http *);

#endif /* JD_DAEMON_HTTP_H */
