/*
 * The reactor (SPEC §13, "Reacting"): a thread of the daemon that
 * evaluates the subjects whose data changed within `react` of the commit,
 * without waiting for the next tick. It imports the spool, asks the engine
 * what changed since it last looked (engine_scope: new events, logged
 * subject changes) and runs a scoped tick over those subjects and the ones
 * whose rules read them, then wakes the dispatcher for what that queued.
 *
 * It has its own connection and engine, so it goes on while the main loop
 * runs a full tick: both evaluate inside short write transactions, each
 * subject's entry, moves and firings decided and written in one, so that
 * neither can act on what the other has changed without seeing it.
 *
 * It looks every `react`; the daemon's own ingest (the HTTP writer) nudges
 * it after each commit, and then it looks at once, but at most every
 * REACTOR_GAP_MS, so that a stream of commits is evaluated in groups.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"

#define REACTOR_GAP_MS	100	/* at least between two evaluations */

struct reactor {
	const struct config	*cf;
	struct dispatcher	*d;
	sqlite3			*db;
	struct engine		*eng;
	struct react_mark	 mark;
	pthread_t		 thread;
	pthread_mutex_t		 lock;
	pthread_cond_t		 wake;
	int			 nudged;
	int			 stopping;
};

/* Import the spool, then evaluate what changed since the last look. */
static void
reactor_look(struct reactor *r)
{
	struct tick_stats	 ts;
	int64_t			 n, now = time_now();

	if (r->cf->spool_dir != NULL)
		spool_scan(r->db, r->cf->spool_dir, now);
	if ((n = engine_scope(r->eng, &r->mark)) <= 0)
		return;
	if (engine_tick(r->eng, now, TICK_SCOPED, NULL, &ts) != 0) {
		log_err("react: the evaluation of %lld changed subject(s) "
		    "failed (the reason is above); the next tick covers them",
		    (long long)n);
		return;
	}
	log_debug("react: %lld subject(s): %ld entered, %ld moved, %ld "
	    "actions queued in %.3fs", (long long)n, ts.entered, ts.moved,
	    ts.actions, ts.seconds);
	if (ts.actions > 0)
		dispatch_kick(r->d);
	/* What is evaluated needs no second look: forget it. */
	engine_forget_changes(r->eng, &r->mark);
}

/* The thread: look when nudged or every `react`, at most every
 * REACTOR_GAP_MS. */
static void *
reactor_main(void *arg)
{
	struct reactor	*r = arg;
	int64_t		 next, gap = REACTOR_GAP_MS * 1000LL;

	pthread_setname_np(pthread_self(), "jd-react");
	pthread_mutex_lock(&r->lock);
	while (!r->stopping) {
		next = time_mono_usec() + r->cf->react * 1000000LL;
		while (!r->stopping && !r->nudged &&
		    time_mono_usec() < next)
			time_cond_wait(&r->wake, &r->lock, next);
		if (r->stopping)
			break;
		r->nudged = 0;
		pthread_mutex_unlock(&r->lock);
		reactor_look(r);
		pthread_mutex_lock(&r->lock);
		/* A stream of commits: gather for a while before looking. */
		next = time_mono_usec() + gap;
		while (!r->stopping && time_mono_usec() < next)
			time_cond_wait(&r->wake, &r->lock, next);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* Start reacting for cf, waking dispatcher d; NULL when cf says react =
 * "off", or on an error (logged: the ticks still evaluate everyone). */
struct reactor *
reactor_start(const struct config *cf, struct dispatcher *d)
{
	struct reactor	*r;
	char		 err[512];

	if (cf->react == REACT_OFF || cf->njourneys == 0)
		return NULL;
	r = xcalloc(1, sizeof *r);
	r->cf = cf;
	r->d = d;
	if ((r->db = store_open(cf->database, err, sizeof err)) == NULL) {
		log_err("react: %s; only the ticks evaluate", err);
		free(r);
		return NULL;
	}
	if ((r->eng = engine_new(r->db, cf)) == NULL ||
	    engine_mark(r->eng, &r->mark) != 0)
		goto fail;
	pthread_mutex_init(&r->lock, NULL);
	time_cond_init(&r->wake);
	if ((errno = pthread_create(&r->thread, NULL, reactor_main, r)) != 0) {
		log_err("react: cannot start its thread: %s", strerror(errno));
		pthread_cond_destroy(&r->wake);
		pthread_mutex_destroy(&r->lock);
		goto fail;
	}
	log_info("reacting to new data within %llds", (long long)cf->react);
	return r;
fail:
	log_err("react: cannot start; only the ticks evaluate");
	engine_free(r->eng);
	store_close(r->db);
	free(r);
	return NULL;
}

/* New data is committed: look soon. */
void
reactor_nudge(struct reactor *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->nudged = 1;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
}

/* Stop reacting: the evaluation under way ends first. */
void
reactor_stop(struct reactor *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->stopping = 1;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	engine_free(r->eng);
	store_close(r->db);
	free(r);
}
