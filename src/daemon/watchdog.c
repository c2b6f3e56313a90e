/*
 * The systemd watchdog's feeder (WatchdogSec=). A thread of its own sends
 * WATCHDOG=1 every quarter of the timeout for as long as the main loop makes
 * progress, and stops when the loop is stuck: systemd then kills and
 * restarts a stuck daemon, never a busy one. Progress is the main loop
 * starting a step (watchdog_doing(): importing the spool, ticking,
 * reloading, waiting for the next tick) or SQLite working on the loop's
 * connection (watchdog_sqlite(), its progress handler, every
 * WATCHDOG_SQL_STEPS steps of SQLite's virtual machine): a long import or
 * tick moves all the time.
 *
 * Stuck means: no new step and no SQLite work for longer than the step may
 * go without either. That is half the watchdog's timeout, or STORE_BUSY_MS
 * and a little more when that is longer, plus what the step announced as
 * its bound: a wait in poll() for the next tick, the stop of the dispatcher
 * (each plugin call within its instance's timeout). The floor covers
 * SQLite's busy handler, which waits up to STORE_BUSY_MS for another
 * writer without a step and then fails the statement: a database locked
 * elsewhere makes a tick fail and try again, it does not make the daemon
 * stuck. Stuck is a plugin's init() that never returns on reload, a read
 * that never ends, a deadlock, an endless loop in C. Then the feeder says
 * what the loop was doing in STATUS= and in the log, and stops feeding;
 * systemd kills the daemon a timeout later. Should the loop move again
 * first, feeding resumes.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "daemon/daemon.h"

#define WATCHDOG_STALL_MIN	((STORE_BUSY_MS + 2000) * 1000LL)	/* usec */

static atomic_ulong		 watchdog_steps;	/* progress so far */
static _Atomic(const char *)	 watchdog_what = "starting";
static _Atomic int64_t		 watchdog_bound;	/* the step's, usec */

static pthread_mutex_t		 watchdog_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t		 watchdog_cond;
static pthread_t		 watchdog_thread;
static int			 watchdog_running;
static int			 watchdog_quit;
static int64_t			 watchdog_usec;		/* systemd's timeout */
static int64_t			 watchdog_stall;	/* usec */

/* The main loop starts a step, which may make no progress for up to
 * bound_usec (0: none beyond the usual). what must live on (a literal). */
void
watchdog_doing(const char *what, int64_t bound_usec)
{
	atomic_store(&watchdog_what, what);
	atomic_store(&watchdog_bound, bound_usec);
	atomic_fetch_add(&watchdog_steps, 1);
}

/* SQLite's progress handler on the main loop's connection: work moves on.
 * Never interrupts the statement. */
int
watchdog_sqlite(void *arg)
{
	(void)arg;
	atomic_fetch_add_explicit(&watchdog_steps, 1, memory_order_relaxed);
	return 0;
}

/* Say the loop is stuck (once), or that it moves again. */
static void
watchdog_say(int stuck, int64_t stall)
{
	char	 msg[256];

	if (stuck) {
		snprintf(msg, sizeof msg, "STATUS=stuck: no progress for %llds "
		    "while %s; no longer feeding the watchdog",
		    (long long)(stall / 1000000),
		    atomic_load(&watchdog_what));
		log_err("watchdog: %s", msg + 7);
	} else {
		snprintf(msg, sizeof msg, "STATUS=running again after a stall "
		    "of %llds while %s", (long long)(stall / 1000000),
		    atomic_load(&watchdog_what));
		log_notice("watchdog: %s", msg + 7);
	}
	notify_send(msg);
}

/* The feeder: WATCHDOG=1 every quarter of the timeout while the loop
 * moves. */
static void *
watchdog_feed(void *arg)
{
	unsigned long	 seen = atomic_load(&watchdog_steps), steps;
	int64_t		 moved = time_mono_usec(), now, stall = 0;
	int		 stuck = 0;

	(void)arg;
	pthread_setname_np(pthread_self(), "jd-watchdog");
	pthread_mutex_lock(&watchdog_lock);
	while (!watchdog_quit) {
		now = time_mono_usec();
		if ((steps = atomic_load(&watchdog_steps)) != seen) {
			seen = steps;
			if (stuck)
				watchdog_say(0, now - moved);
			stuck = 0;
			moved = now;
		}
		stall = now - moved;
		if (stall <= watchdog_stall + atomic_load(&watchdog_bound))
			notify_send("WATCHDOG=1");
		else if (!stuck) {
			stuck = 1;
			watchdog_say(1, stall);
		}
		time_cond_wait(&watchdog_cond, &watchdog_lock,
		    now + watchdog_usec / 4);
	}
	pthread_mutex_unlock(&watchdog_lock);
	return NULL;
}

/* Start feeding a watchdog of usec (0: systemd wants none). 0, or -1 when
 * the thread cannot start (logged). */
int
watchdog_start(int64_t usec)
{
	int	 rc;

	if (usec <= 0)
		return 0;
	watchdog_usec = usec;
	watchdog_stall = usec / 2 > WATCHDOG_STALL_MIN ? usec / 2 :
	    WATCHDOG_STALL_MIN;
	watchdog_quit = 0;
	time_cond_init(&watchdog_cond);
	if ((rc = pthread_create(&watchdog_thread, NULL, watchdog_feed,
	    NULL)) != 0) {
		log_err("watchdog: cannot start its thread: %s", strerror(rc));
		pthread_cond_destroy(&watchdog_cond);
		return -1;
	}
	watchdog_running = 1;
	return 0;
}

/* Stop feeding (the daemon stops). */
void
watchdog_stop(void)
{
	if (!watchdog_running)
		return;
	pthread_mutex_lock(&watchdog_lock);
	watchdog_quit = 1;
	pthread_cond_signal(&watchdog_cond);
	pthread_mutex_unlock(&watchdog_lock);
	pthread_join(watchdog_thread, NULL);
	pthread_cond_destroy(&watchdog_cond);
	watchdog_running = 0;
}
