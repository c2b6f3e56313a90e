/*
 * The daemon's own parts, above every layer: the systemd notify protocol
 * (notify.c), the watchdog's feeder (watchdog.c) and the HTTP API (http.h).
 * journeyd.c is its main file.
 */
#ifndef JD_DAEMON_H
#define JD_DAEMON_H

#include "daemon/http.h"

/* notify.c: the systemd notify protocol. */
int		 notify_send(const char *state);
int64_t		 notify_watchdog_usec(void);

/* watchdog.c: feeding systemd's watchdog while the main loop moves. */
#define WATCHDOG_SQL_STEPS	1000	/* SQLite steps between reports */
int		 watchdog_start(int64_t usec);
void		 watchdog_stop(void);
void		 watchdog_doing(const char *what, int64_t bound_usec);
int		 watchdog_sqlite(void *);

/* reactor.c: evaluating changed subjects soon after their data is
 * committed (react). */
struct reactor;
struct dispatcher;
struct reactor	*reactor_start(const struct config *, struct dispatcher *);
void		 reactor_nudge(struct reactor *);
void		 reactor_stop(struct reactor *);

#endif /* JD_DAEMON_H */
