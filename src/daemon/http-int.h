/*
 * The HTTP server's parts shared by its files (http.c: the server and the
 * ingest endpoints; httpget.c: the GET endpoints), nothing more.
 */
#ifndef JD_DAEMON_HTTP_INT_H
#define JD_DAEMON_HTTP_INT_H

#include <microhttpd.h>

#include "daemon/daemon.h"

#define HTTP_POOL		16	/* idle parsers and readers kept */

/* The server: its listeners, its writer, the config it serves (swapped
 * under lock on reload), pools of JSON parsers and store readers, and what
 * the main loop said of the ticks. */
struct http {
	struct MHD_Daemon	**daemons;
	int			  ndaemons;
	char			 *listening;	/* listen and TLS, to compare */
	char			 *tls_cert;	/* copies, for the daemons */
	char			 *tls_key;
	char			 *database;
	struct writer		 *writer;
	pthread_rwlock_t	  lock;		/* cf */
	const struct config	 *cf;
	pthread_mutex_t		  pool_lock;
	struct body_parser	 *parsers[HTTP_POOL];
	sqlite3			 *readers[HTTP_POOL];
	size_t			  memory;	/* bodies held, atomic */
	int			  ticked;	/* atomic: a tick completed */
	int			  tick_ok;	/* atomic: and the last one */
};

/* http.c */
const char	*http_client(struct MHD_Connection *, char *, size_t);
struct body_parser *http_parser_get(struct http *);
void		 http_parser_put(struct http *, struct body_parser *);
sqlite3		*http_reader_get(struct http *);
void		 http_reader_put(struct http *, sqlite3 *);
enum MHD_Result	 http_answer(struct MHD_Connection *, unsigned int status,
		    const char *type, char *text, const char *name,
		    const char *value);
enum MHD_Result	 http_error_with(struct http *, struct MHD_Connection *,
		    unsigned int status, const char *reason, const char *name,
		    const char *value);
enum MHD_Result	 http_error(struct http *, struct MHD_Connection *,
		    unsigned int status, const char *reason);
enum MHD_Result	 http_text(struct MHD_Connection *, unsigned int status,
		    const char *text);

/* httpget.c */
int		 http_get_path(const char *url);
enum MHD_Result	 http_get(struct http *, struct MHD_Connection *,
		    const char *url);

#endif /* JD_DAEMON_HTTP_INT_H */
