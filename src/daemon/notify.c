/*
 * The systemd notify protocol, without libsystemd: one datagram to the unix
 * socket named by $NOTIFY_SOCKET ("@" starts an abstract address).
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/daemon.h"

/* Send state ("READY=1", "STATUS=..."); 0 when sent or no socket is set. */
int
notify_send(const char *state)
{
	struct sockaddr_un	 sa;
	const char		*path = getenv("NOTIFY_SOCKET");
	socklen_t		 len;
	size_t			 plen;
	int			 fd, rc;

	if (path == NULL || *path == '\0')
		return 0;
	plen = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || plen >= sizeof sa.sun_path) {
		log_warn("NOTIFY_SOCKET: unsupported address \"%s\"", path);
		return -1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, plen);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	len = offsetof(struct sockaddr_un, sun_path) + plen;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	rc = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	    (struct sockaddr *)&sa, len) == -1 ? -1 : 0;
	if (rc != 0)
		log_debug("notify: %s", strerror(errno));
	close(fd);
	return rc;
}

/* The watchdog interval systemd asked for, in microseconds (0: none). */
int64_t
notify_watchdog_usec(void)
{
	const char	*v = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	long long	 usec;

	if (v == NULL || (usec = strtoll(v, NULL, 10)) <= 0)
		return 0;
	if (pid != NULL && strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	return usec;
}
