/*
 * The daemon's own parts, above every layer: the systemd notify protocol
 * (notify.c) and the HTTP API (http.h). journeyd.c is its main file.
 */
#ifndef JD_DAEMON_H
#define JD_DAEMON_H

#include "daemon/http.h"

/* notify.c: the systemd notify protocol. */
int		 notify_send(const char *state);
int64_t		 notify_watchdog_usec(void);

#endif /* JD_DAEMON_H */
