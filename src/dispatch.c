/*
 * The dispatcher (SPEC §8, §9): `workers` threads, each with its own database
 * connection, claim due actions from the outbox (oldest due first), hand them
 * to their plugin instance and record the outcome: done, retry with
 * exponential backoff until retry_for has passed since the first try, dead,
 * or held. The dispatcher's own write transactions (claims and records) are
 * serialised by write_lock, so that its threads never meet in SQLite's busy
 * handler, which sleeps.
 *
 * Fairness. While another instance has due work, an instance may have at
 * most max(1, workers / 2) actions in flight: a claim first looks only at
 * instances under that cap, and only when none of them has anything due does
 * it take more from an instance at its cap (borrowing idle workers). So a
 * slow instance holds at most half the workers while others wait, a lone busy
 * instance still gets them all, and borrowed workers come back as their
 * actions end (each within its instance's timeout).
 *
 * Timeouts. act() runs on the worker thread with a deadline, the instance's
 * `timeout`, kept by a watchdog thread. When a call overruns, the watchdog
 * records the action for retry (same id, the usual backoff), counts it as a
 * failure for the breaker, and starts a new worker in the stuck one's place
 * so that the pool keeps its size. The stuck thread is abandoned: when its
 * call returns at last, its result is logged and ignored, and the thread
 * frees what it holds and ends. The trade-off: C cannot cancel a call
 * safely, so the stuck thread (and whatever the plugin holds) lives on until
 * the plugin returns, and the action may be performed twice, with the same
 * id, if the late call did get through. The plugin's code and state must
 * outlive such calls: dispatch_stop() returns how many are still running,
 * and then the caller must not unload the config.
 *
 * Crashes. A claim marks the row in flight and counts it in `crashes`; a
 * recorded outcome resets the count. After a crash, outbox_recover() puts
 * rows left in flight back, due at once, and parks as dead those that were in
 * flight during three crashes in a row. A row that was in flight during a
 * crash is a suspect: it is performed alone, nothing else in flight, so that
 * a poison action does not take innocent ones down with it.
 *
 * Circuit breaker, per instance. When BREAKER_FAILS of its last
 * BREAKER_WINDOW attempts failed transiently (retry, timeout), the instance
 * is paused: none of its actions is claimed (they wait; nothing is dropped),
 * the other instances go on. The pause is retry_min, then doubles, up to
 * retry_max, while failures go on. After a pause one trial action is let
 * through: if it fails, the instance is paused again; otherwise it is
 * resumed. Opening and resuming are logged once each.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "journeyd.h"

#define BREAKER_WINDOW	20	/* recent attempts looked at */
#define BREAKER_FAILS	10	/* transient failures among them that open it */

#define WORKER_CACHE_KIB 2048	/* page cache of each worker's connection */

enum breaker_state { BREAKER_CLOSED, BREAKER_OPEN, BREAKER_TRIAL };

/* What the dispatcher keeps per plugin instance. */
struct lane {
	struct instance		*inst;
	int			 inflight;	/* its actions being performed */
	/* the circuit breaker */
	enum breaker_state	 state;
	unsigned char		 recent[BREAKER_WINDOW];	/* 1 = failed */
	int			 nrecent;
	int			 pos;
	int64_t			 open_until;	/* run's clock, while open */
	int64_t			 cool;		/* current pause, seconds */
	int			 trial_out;	/* a trial is in flight */
};

enum worker_state { WORKER_IDLE, WORKER_ACTING, WORKER_ABANDONED };

/* A worker thread. It owns its connection and its action, and frees itself
 * when it ends. */
struct worker {
	struct dispatcher	*d;
	pthread_t		 thread;
	int			 slot;		/* in d->slots, -1 once abandoned */
	sqlite3			*db;
	enum worker_state	 state;
	int64_t			 deadline;	/* monotonic ms, while acting */
	int			 lane;		/* of the action claimed, or -1 */
	int			 suspect;	/* the action claimed is one */
	struct act		 act;
};

struct dispatcher {
	const struct config	*conf;
	int			 once;		/* exit when nothing is due */
	int			 nworkers;
	int			 cap;		/* in flight per instance */
	pthread_mutex_t		 lock;		/* everything below */
	pthread_mutex_t		 write_lock;	/* the dispatcher's writes */
	pthread_cond_t		 wake;		/* for idle workers */
	pthread_cond_t		 ended;		/* a worker ended */
	pthread_cond_t		 dog;		/* for the watchdog */
	struct worker		**slots;	/* the pool */
	int			 running;	/* workers not abandoned */
	int			 stuck;		/* abandoned, still in a plugin */
	int			 inflight;	/* actions claimed, all instances */
	int			 suspect;	/* a suspect is in flight */
	int			 stopping;
	int			 kicked;
	int			 dog_stop;
	int64_t			 dog_wake;	/* monotonic ms */
	pthread_t		 watchdog;
	sqlite3			*dog_db;
	struct lane		*lanes;
	long			 outcomes[4];	/* by enum jd_result */
};

static void	*dispatch_worker(void *);

/* The monotonic clock in milliseconds. */
static int64_t
dispatch_mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Put actions left in flight by a crash back in the queue. */
int
outbox_recover(sqlite3 *db, int64_t now)
{
	sqlite3_stmt	*st;
	int		 dead = 0, back = 0;

	if (store_begin(db) != 0)
		return -1;
	st = store_prepare(db, "UPDATE outbox SET status = ?1, reason = "
	    "'in flight during 3 crashes in a row', updated = ?2 WHERE "
	    "status = ?3 AND crashes >= 3");
	sqlite3_bind_int(st, 1, OUTBOX_DEAD);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int(st, 3, OUTBOX_INFLIGHT);
	if (sqlite3_step(st) == SQLITE_DONE)
		dead = sqlite3_changes(db);
	sqlite3_finalize(st);
	st = store_prepare(db, "UPDATE outbox SET status = ?1, due = ?2, "
	    "updated = ?2 WHERE status = ?3");
	sqlite3_bind_int(st, 1, OUTBOX_PENDING);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int(st, 3, OUTBOX_INFLIGHT);
	if (sqlite3_step(st) == SQLITE_DONE)
		back = sqlite3_changes(db);
	sqlite3_finalize(st);
	if (store_commit(db) != 0) {
		store_rollback(db);
		return -1;
	}
	if (dead > 0)
		log_warn("outbox: %d action(s) were in flight during 3 crashes "
		    "in a row and are now dead (journeyctl outbox --dead)",
		    dead);
	if (back > 0)
		log_notice("outbox: %d action(s) in flight when journeyd "
		    "stopped are due again", back);
	return 0;
}

/* The lane of an instance by name, or -1. */
static int
dispatch_lane(struct dispatcher *d, const char *name)
{
	for (int i = 0; i < d->conf->ninstances; i++)
		if (strcmp(d->lanes[i].inst->name, name) == 0)
			return i;
	return -1;
}

/* May lane i be claimed from now (its breaker)? Moves an open breaker whose
 * pause is over to its trial. Called with the lock held. */
static int
dispatch_lane_open(struct lane *ln, int64_t now)
{
	switch (ln->state) {
	case BREAKER_CLOSED:
		return 1;
	case BREAKER_OPEN:
		if (ln->open_until > now)
			return 0;
		ln->state = BREAKER_TRIAL;
		ln->trial_out = 0;
		/* FALLTHROUGH */
	case BREAKER_TRIAL:
		return !ln->trial_out;
	}
	return 0;
}

/* Record an attempt's outcome in lane i's breaker. Called with the lock
 * held. */
static void
dispatch_breaker(struct dispatcher *d, int i, int failed, int64_t now)
{
	struct lane	*ln = &d->lanes[i];
	int		 fails = 0;

	switch (ln->state) {
	case BREAKER_OPEN:
		/* Late outcomes of actions claimed before it opened. */
		return;
	case BREAKER_TRIAL:
		ln->trial_out = 0;
		if (failed) {
			ln->cool = ln->cool * 2 > d->conf->retry_max ?
			    d->conf->retry_max : ln->cool * 2;
			ln->open_until = now + ln->cool;
			ln->state = BREAKER_OPEN;
			log_debug("%s: trial failed; pausing it for %llds",
			    ln->inst->name, (long long)ln->cool);
			return;
		}
		ln->state = BREAKER_CLOSED;
		ln->nrecent = ln->pos = 0;
		ln->cool = 0;
		log_notice("%s: circuit closed: delivering again",
		    ln->inst->name);
		return;
	case BREAKER_CLOSED:
		break;
	}
	ln->recent[ln->pos] = failed;
	ln->pos = (ln->pos + 1) % BREAKER_WINDOW;
	if (ln->nrecent < BREAKER_WINDOW)
		ln->nrecent++;
	if (!failed || ln->nrecent < BREAKER_WINDOW)
		return;
	for (int k = 0; k < BREAKER_WINDOW; k++)
		fails += ln->recent[k];
	if (fails < BREAKER_FAILS)
		return;
	ln->cool = d->conf->retry_min;
	ln->open_until = now + ln->cool;
	ln->state = BREAKER_OPEN;
	log_warn("%s: circuit open: %d of its last %d attempts failed; pausing "
	    "it for %llds, then more while failures go on (its actions wait)",
	    ln->inst->name, fails, BREAKER_WINDOW, (long long)ln->cool);
}

/* An action of lane (or -1) ended, recorded: count its outcome, and let
 * capped, borrowing or suspect-blocked workers go on. Only then, so that a
 * suspect runs with nothing else unrecorded. Called with the lock held. */
static void
dispatch_release(struct dispatcher *d, int lane, int suspect,
    enum jd_result res, int64_t now)
{
	d->outcomes[res]++;
	d->inflight--;
	if (suspect)
		d->suspect = 0;
	if (lane >= 0) {
		d->lanes[lane].inflight--;
		dispatch_breaker(d, lane, res == JD_RETRY, now);
	}
	pthread_cond_broadcast(&d->wake);
}

/* The names of the instances a claim may take from, as a JSON array, or
 * NULL when none: with borrow, those at their cap, else those under it;
 * never those paused by their breaker. Called with the lock held. */
static char *
dispatch_lanes_json(struct dispatcher *d, int64_t now, int borrow)
{
	struct buf	 b;
	int		 n = 0;

	buf_init(&b);
	buf_puts(&b, "[");
	for (int i = 0; i < d->conf->ninstances; i++) {
		struct lane *ln = &d->lanes[i];

		if (!dispatch_lane_open(ln, now))
			continue;
		if (borrow != (ln->inflight >= d->cap))
			continue;
		/* Names are plain (letters, digits, '_', '-', '.'). */
		buf_printf(&b, "%s\"%s\"", n++ ? "," : "", ln->inst->name);
	}
	buf_puts(&b, "]");
	if (n == 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

/* Claim the oldest due action of the instances in lanes (a JSON array);
 * fill act. 1 when one was claimed, 0 when none is due, -1 on error. Called
 * with write_lock held. */
static int
dispatch_claim_from(sqlite3 *db, struct act *act, const char *lanes,
    int suspects, int64_t now, int *crashes)
{
	sqlite3_stmt	*st;
	int		 rc = 0;

	/* "status IN (0, 3)" is written out so that SQLite uses the partial
	 * index outbox_queue. */
#if OUTBOX_PENDING != 0 || OUTBOX_RETRYING != 3
#error "outbox statuses changed: update outbox_queue and this query"
#endif
	if (store_begin(db) != 0)
		return -1;
	st = store_prepare(db, "UPDATE outbox SET status = ?1, attempts = "
	    "attempts + 1, crashes = crashes + 1, first_try = "
	    "coalesce(first_try, ?2), updated = ?2 WHERE aid = (SELECT aid "
	    "FROM outbox WHERE status IN (0, 3) AND due <= ?2 AND instance "
	    "IN (SELECT value FROM json_each(?3)) AND (crashes = 0 OR ?4) "
	    "ORDER BY due, aid LIMIT 1) RETURNING aid, id, subject, journey, "
	    "rule, coalesce(stage, ''), instance, params, created, attempts, "
	    "crashes");
	sqlite3_bind_int(st, 1, OUTBOX_INFLIGHT);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_text(st, 3, lanes, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, suspects);
	if (sqlite3_step(st) == SQLITE_ROW) {
		act->aid = sqlite3_column_int64(st, 0);
		act->a.id = xstrdup((const char *)sqlite3_column_text(st, 1));
		act->sid = sqlite3_column_int64(st, 2);
		act->a.journey = xstrdup((const char *)
		    sqlite3_column_text(st, 3));
		act->a.rule = xstrdup((const char *)sqlite3_column_text(st, 4));
		act->a.stage = xstrdup((const char *)
		    sqlite3_column_text(st, 5));
		act->a.instance = xstrdup((const char *)
		    sqlite3_column_text(st, 6));
		act->a.params = xstrdup((const char *)
		    sqlite3_column_text(st, 7));
		act->a.time = sqlite3_column_int64(st, 8);
		act->a.attempt = sqlite3_column_int(st, 9);
		*crashes = sqlite3_column_int(st, 10);
		rc = 1;
	}
	sqlite3_finalize(st);
	if (rc == 1) {
		st = store_prepare(db, "SELECT s.id, s.kind, s.traits, a.traits "
		    "FROM subjects s LEFT JOIN subjects a ON a.sid = s.account "
		    "WHERE s.sid = ?1");
		sqlite3_bind_int64(st, 1, act->sid);
		if (sqlite3_step(st) == SQLITE_ROW) {
			act->kind = sqlite3_column_int(st, 1);
			act->a.subject_id = xstrdup((const char *)
			    sqlite3_column_text(st, 0));
			act->a.traits = xstrdup((const char *)
			    sqlite3_column_text(st, 2));
			if (sqlite3_column_type(st, 3) != SQLITE_NULL)
				act->a.account_traits = xstrdup((const char *)
				    sqlite3_column_text(st, 3));
		} else {
			act->a.subject_id = xstrdup("");
			act->a.traits = xstrdup("{}");
		}
		sqlite3_finalize(st);
		act->a.subject_kind = act->kind == SUBJECT_ACCOUNT ? "account" :
		    "user";
	}
	if (store_commit(db) != 0) {
		store_rollback(db);
		return -1;
	}
	return rc;
}

/*
 * Claim the oldest due action the fairness rules allow for worker w: first
 * from instances under their cap, else (borrowing) from those at it. A
 * suspect is claimed only when nothing else is in flight, and then nothing
 * else is until it ends. 1 when one was claimed, 0 when none is due, 2 when
 * a suspect in flight blocks claims, -1 on error.
 */
static int
dispatch_claim(struct dispatcher *d, struct worker *w, struct act *act,
    int64_t now)
{
	char	*lanes;
	int	 rc = 0, crashes = 0, suspects;

	pthread_mutex_lock(&d->write_lock);
	for (int borrow = 0; borrow <= 1 && rc == 0; borrow++) {
		pthread_mutex_lock(&d->lock);
		if (d->suspect) {
			pthread_mutex_unlock(&d->lock);
			rc = 2;
			break;
		}
		suspects = d->inflight == 0;
		lanes = dispatch_lanes_json(d, now, borrow);
		pthread_mutex_unlock(&d->lock);
		if (lanes == NULL)
			continue;
		rc = dispatch_claim_from(w->db, act, lanes, suspects, now,
		    &crashes);
		free(lanes);
	}
	if (rc == 1) {
		pthread_mutex_lock(&d->lock);
		w->lane = dispatch_lane(d, act->a.instance);
		if (w->lane >= 0) {
			d->lanes[w->lane].inflight++;
			if (d->lanes[w->lane].state == BREAKER_TRIAL)
				d->lanes[w->lane].trial_out = 1;
		}
		d->inflight++;
		w->suspect = crashes > 1;
		if (w->suspect)
			d->suspect = 1;
		pthread_mutex_unlock(&d->lock);
	}
	pthread_mutex_unlock(&d->write_lock);
	return rc;
}

/* Free what a claim allocated. */
static void
dispatch_act_free(struct act *act)
{
	act_clear(act);
	free((char *)act->a.id);
	free((char *)act->a.journey);
	free((char *)act->a.rule);
	free((char *)act->a.stage);
	free((char *)act->a.instance);
	free((char *)act->a.params);
	free((char *)act->a.subject_id);
	free((char *)act->a.traits);
	free((char *)act->a.account_traits);
	memset(act, 0, sizeof *act);
}

/* The delay before the next try after attempt n (1-based): retry_min,
 * doubling, up to retry_max. */
static int64_t
dispatch_backoff(const struct config *cf, int attempt)
{
	int64_t	 d = cf->retry_min;

	for (int i = 1; i < attempt && d < cf->retry_max; i++)
		d *= 2;
	return d > cf->retry_max ? cf->retry_max : d;
}

/*
 * Record the outcome of an attempt, durably, and log it: one line per
 * outcome, with the action's id. A transient failure is tried again after
 * the backoff, or when a "retry-after=N" in the reason says, but never
 * later than retry_for after the first try: that last try's failure makes
 * the action dead.
 */
static int
dispatch_record(struct dispatcher *d, sqlite3 *db, struct act *act,
    enum jd_result res, const char *reason, int64_t now)
{
	const struct config	*cf = d->conf;
	sqlite3_stmt		*st;
	int64_t			 due = now, first = now;
	int			 status, rc;
	const char		*ra;

	pthread_mutex_lock(&d->write_lock);
	if (store_begin(db) != 0) {
		pthread_mutex_unlock(&d->write_lock);
		return -1;
	}
	switch (res) {
	case JD_DONE:
		status = OUTBOX_DONE;
		break;
	case JD_HELD:
		status = OUTBOX_HELD;
		break;
	case JD_FAILED:
		status = OUTBOX_DEAD;
		break;
	case JD_RETRY:
	default:
		status = OUTBOX_RETRYING;
		st = store_prepare(db, "SELECT first_try FROM outbox WHERE "
		    "aid = ?1");
		sqlite3_bind_int64(st, 1, act->aid);
		if (sqlite3_step(st) == SQLITE_ROW &&
		    sqlite3_column_type(st, 0) != SQLITE_NULL)
			first = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		due = now + dispatch_backoff(cf, act->a.attempt);
		if (reason != NULL &&
		    (ra = strstr(reason, "retry-after=")) != NULL) {
			long long s = strtoll(ra + 12, NULL, 10);
			if (s >= 0)
				due = now + s;
		}
		if (now - first >= cf->retry_for)
			status = OUTBOX_DEAD;
		else if (due > first + cf->retry_for)
			due = first + cf->retry_for;
		break;
	}
	st = store_prepare(db, "UPDATE outbox SET status = ?1, due = ?2, "
	    "reason = ?3, note = coalesce(?4, note), crashes = 0, updated = ?5 "
	    "WHERE aid = ?6");
	sqlite3_bind_int(st, 1, status);
	sqlite3_bind_int64(st, 2, due);
	if (status == OUTBOX_DEAD && res == JD_RETRY)
		sqlite3_bind_text(st, 3, xprintf("gave up after %d attempts: "
		    "%s", act->a.attempt, reason ? reason : "failed"), -1, free);
	else if (res != JD_DONE)
		sqlite3_bind_text(st, 3, reason, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, act->note, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_int64(st, 6, act->aid);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(st);
	if (rc != 0 || store_commit(db) != 0) {
		log_err("outbox: cannot record action %s: %s", act->a.id,
		    sqlite3_errmsg(db));
		store_rollback(db);
		pthread_mutex_unlock(&d->write_lock);
		return -1;
	}
	pthread_mutex_unlock(&d->write_lock);
	switch (status) {
	case OUTBOX_DONE:
		log_info("action %s (%s, %s/%s, %s): done%s%s", act->a.id,
		    act->a.instance, act->a.journey, act->a.rule,
		    act->a.subject_id, act->note ? ": " : "",
		    act->note ? act->note : "");
		break;
	case OUTBOX_HELD:
		log_info("action %s (%s, %s/%s, %s): held: %s", act->a.id,
		    act->a.instance, act->a.journey, act->a.rule,
		    act->a.subject_id, reason ? reason : "");
		break;
	case OUTBOX_RETRYING:
		log_notice("action %s (%s, %s/%s, %s): attempt %d failed, "
		    "retrying in %llds: %s", act->a.id, act->a.instance,
		    act->a.journey, act->a.rule, act->a.subject_id,
		    act->a.attempt, (long long)(due - now),
		    reason ? reason : "");
		break;
	case OUTBOX_DEAD:
		log_warn("action %s (%s, %s/%s, %s): dead after %d attempt(s): "
		    "%s", act->a.id, act->a.instance, act->a.journey,
		    act->a.rule, act->a.subject_id, act->a.attempt,
		    reason ? reason : "failed");
		break;
	}
	return 0;
}

/* Call the plugin with the watchdog's deadline on. Returns the result, or
 * -1 when the watchdog gave up on the call meanwhile (the worker is then
 * abandoned and its result must be ignored). */
static int
dispatch_act(struct worker *w, struct instance *inst, struct act *act,
    char *reason, size_t reasonlen)
{
	struct dispatcher	*d = w->d;
	enum jd_result		 res;
	int			 abandoned;

	pthread_mutex_lock(&d->lock);
	w->state = WORKER_ACTING;
	w->deadline = dispatch_mono_ms() + inst->timeout * 1000;
	if (w->deadline < d->dog_wake)
		pthread_cond_signal(&d->dog);
	pthread_mutex_unlock(&d->lock);

	res = inst->plugin->act(inst->state, &inst->host, &act->a, reason,
	    reasonlen);

	pthread_mutex_lock(&d->lock);
	abandoned = w->state == WORKER_ABANDONED;
	if (!abandoned)
		w->state = WORKER_IDLE;
	pthread_mutex_unlock(&d->lock);
	if (abandoned) {
		log_notice("action %s (%s): the call abandoned after its "
		    "timeout returned %s at last; ignored", act->a.id,
		    act->a.instance, res == JD_DONE ? "done" : res == JD_HELD ?
		    "held" : res == JD_FAILED ? "failed" : "retry");
		return -1;
	}
	if (res > JD_HELD) {
		snprintf(reason, reasonlen, "plugin returned an unknown result "
		    "%d", (int)res);
		res = JD_RETRY;
	}
	return res;
}

/* Perform one claimed action through its instance: [guard,] act, record.
 * Returns -1 when the worker was abandoned by the watchdog meanwhile. */
static int
dispatch_one(struct worker *w, struct act *act)
{
	struct dispatcher	*d = w->d;
	sqlite3			*db = w->db;
	struct instance		*inst;
	int			 res;
	char			 reason[1024] = "";
	int64_t			 now;

	act->db = db;
	act->conf = d->conf;
	inst = config_instance(d->conf, act->a.instance);
	act->inst = inst;
	act->rv.traits = act->a.traits;
	act->rv.account_traits = act->a.account_traits;
	act->rv.journey = act->a.journey;
	act->rv.stage = act->a.stage;
	act->rv.rule = act->a.rule;
	act->rv.id = act->a.id;
	act->a.now = time_now();
	if (inst == NULL || !inst->started) {
		res = JD_RETRY;
		snprintf(reason, sizeof reason, "no plugin instance \"%s\"",
		    act->a.instance);
	} else {
		act->a.settings = inst->settings;
		if ((res = dispatch_act(w, inst, act, reason,
		    sizeof reason)) < 0)
			return -1;
	}
	now = time_now();
	dispatch_record(d, db, act, res, reason[0] ? reason : NULL, now);
	pthread_mutex_lock(&d->lock);
	dispatch_release(d, w->lane, w->suspect, res, now);
	w->lane = -1;
	w->suspect = 0;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

/* Start a worker in slot i. Called with the lock held. */
static void
dispatch_spawn(struct dispatcher *d, int i)
{
	struct worker	*w;
	pthread_attr_t	 attr;

	w = xcalloc(1, sizeof *w);
	w->d = d;
	w->slot = i;
	w->lane = -1;
	d->slots[i] = w;
	d->running++;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if ((errno = pthread_create(&w->thread, &attr, dispatch_worker, w)) !=
	    0)
		fatalx("dispatcher: cannot start a worker: %s",
		    strerror(errno));
	pthread_attr_destroy(&attr);
}

/* A worker: claim and perform until told to stop, or until abandoned. */
static void *
dispatch_worker(void *arg)
{
	struct worker		*w = arg;
	struct dispatcher	*d = w->d;
	char			 err[512], pragma[64];
	int			 rc, abandoned = 0;

	if ((w->db = store_open(d->conf->database, err, sizeof err)) == NULL)
		log_err("dispatcher: %s", err);
	else {
		snprintf(pragma, sizeof pragma, "PRAGMA cache_size = -%d",
		    WORKER_CACHE_KIB);
		store_exec(w->db, pragma);
	}
	while (w->db != NULL) {
		pthread_mutex_lock(&d->lock);
		rc = d->stopping;
		pthread_mutex_unlock(&d->lock);
		if (rc)
			break;
		memset(&w->act, 0, sizeof w->act);
		rc = dispatch_claim(d, w, &w->act, time_now());
		if (rc == 1) {
			abandoned = dispatch_one(w, &w->act) < 0;
			dispatch_act_free(&w->act);
			if (abandoned)
				break;
			continue;
		}
		pthread_mutex_lock(&d->lock);
		if (d->once && rc != 2) {
			pthread_mutex_unlock(&d->lock);
			break;
		}
		if (!d->stopping && !d->kicked) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += rc < 0 ? 5 : 1;
			pthread_cond_timedwait(&d->wake, &d->lock, &ts);
		}
		d->kicked = 0;
		pthread_mutex_unlock(&d->lock);
	}
	store_close(w->db);
	pthread_mutex_lock(&d->lock);
	if (abandoned)
		d->stuck--;
	else {
		d->running--;
		d->slots[w->slot] = NULL;
	}
	pthread_cond_broadcast(&d->ended);
	pthread_mutex_unlock(&d->lock);
	/* d may be gone from here on. */
	free(w);
	return NULL;
}

/* An action given up on by the watchdog, to record. */
struct late {
	struct act	*act;
	int		 lane;
	int		 suspect;
};

/* Give up on worker w, whose call overran: put a new worker in its place,
 * and keep in late what is needed to record the action. Called with the lock
 * held. */
static void
dispatch_abandon(struct dispatcher *d, struct worker *w, struct late *late)
{
	struct act	*copy = xcalloc(1, sizeof *copy);
	int		 slot = w->slot;

	copy->aid = w->act.aid;
	copy->a.attempt = w->act.a.attempt;
	copy->a.id = xstrdup(w->act.a.id);
	copy->a.instance = xstrdup(w->act.a.instance);
	copy->a.journey = xstrdup(w->act.a.journey);
	copy->a.rule = xstrdup(w->act.a.rule);
	copy->a.subject_id = xstrdup(w->act.a.subject_id);
	late->act = copy;
	late->lane = w->lane;
	late->suspect = w->suspect;
	w->state = WORKER_ABANDONED;
	w->slot = -1;
	d->slots[slot] = NULL;
	d->running--;
	d->stuck++;
	if (!d->stopping)
		dispatch_spawn(d, slot);
	pthread_cond_broadcast(&d->ended);
}

/* The watchdog: give up on calls past their instance's timeout, record
 * their actions for retry. */
static void *
dispatch_watchdog(void *arg)
{
	struct dispatcher	*d = arg;
	struct late		 late[64];
	char			 err[512], reason[128];
	int			 nlate;

	pthread_mutex_lock(&d->lock);
	while (!d->dog_stop) {
		int64_t now = dispatch_mono_ms(), next = now + 60000;
		struct timespec ts;

		nlate = 0;
		for (int i = 0; i < d->nworkers && nlate < 64; i++) {
			struct worker *w = d->slots[i];

			if (w == NULL || w->state != WORKER_ACTING)
				continue;
			if (w->deadline <= now)
				dispatch_abandon(d, w, &late[nlate++]);
			else if (w->deadline < next)
				next = w->deadline;
		}
		if (nlate > 0) {
			pthread_mutex_unlock(&d->lock);
			if (d->dog_db == NULL && (d->dog_db = store_open(
			    d->conf->database, err, sizeof err)) == NULL)
				log_err("dispatcher: %s", err);
			for (int i = 0; i < nlate; i++) {
				struct act *act = late[i].act;
				struct instance *inst = config_instance(d->conf,
				    act->a.instance);

				snprintf(reason, sizeof reason, "timed out "
				    "after %llds", inst != NULL ?
				    (long long)inst->timeout : 0LL);
				/* Left in flight when it cannot be recorded:
				 * recovered at the next start. */
				if (d->dog_db != NULL)
					dispatch_record(d, d->dog_db, act,
					    JD_RETRY, reason, time_now());
				pthread_mutex_lock(&d->lock);
				dispatch_release(d, late[i].lane,
				    late[i].suspect, JD_RETRY, time_now());
				pthread_mutex_unlock(&d->lock);
				dispatch_act_free(act);
				free(act);
			}
			pthread_mutex_lock(&d->lock);
			continue;
		}
		d->dog_wake = next;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (next - now) / 1000;
		ts.tv_nsec += ((next - now) % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&d->dog, &d->lock, &ts);
	}
	pthread_mutex_unlock(&d->lock);
	store_close(d->dog_db);
	return NULL;
}

/* Start the workers and their watchdog. With once, they stop when nothing
 * is due. */
struct dispatcher *
dispatch_start(const struct config *cf, int once)
{
	struct dispatcher	*d;

	d = xcalloc(1, sizeof *d);
	d->conf = cf;
	d->once = once;
	d->nworkers = cf->workers;
	d->cap = cf->workers / 2 > 1 ? cf->workers / 2 : 1;
	d->lanes = xcalloc(cf->ninstances + 1, sizeof *d->lanes);
	for (int i = 0; i < cf->ninstances; i++)
		d->lanes[i].inst = cf->instances[i];
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->write_lock, NULL);
	pthread_cond_init(&d->wake, NULL);
	pthread_cond_init(&d->ended, NULL);
	pthread_cond_init(&d->dog, NULL);
	d->slots = xcalloc(d->nworkers, sizeof *d->slots);
	pthread_mutex_lock(&d->lock);
	for (int i = 0; i < d->nworkers; i++)
		dispatch_spawn(d, i);
	pthread_mutex_unlock(&d->lock);
	if ((errno = pthread_create(&d->watchdog, NULL, dispatch_watchdog,
	    d)) != 0)
		fatalx("dispatcher: cannot start the watchdog: %s",
		    strerror(errno));
	return d;
}

/* Wake idle workers: new actions may be due. */
void
dispatch_kick(struct dispatcher *d)
{
	pthread_mutex_lock(&d->lock);
	d->kicked = 1;
	pthread_cond_broadcast(&d->wake);
	pthread_mutex_unlock(&d->lock);
}

/*
 * Stop claiming, let the actions in flight finish (each within its
 * instance's timeout: the watchdog goes on meanwhile), and wait for the
 * workers. In once mode, wait until nothing is due. Fills the outcome counts.
 * Returns how many abandoned plugin calls are still running: when any are,
 * the dispatcher stays allocated for them, and the config (the plugins' code
 * and state) must not be freed.
 */
int
dispatch_stop(struct dispatcher *d, long outcomes[4])
{
	int	 stuck;

	if (d == NULL)
		return 0;
	pthread_mutex_lock(&d->lock);
	if (!d->once)
		d->stopping = 1;
	pthread_cond_broadcast(&d->wake);
	while (d->running > 0)
		pthread_cond_wait(&d->ended, &d->lock);
	d->stopping = 1;
	d->dog_stop = 1;
	pthread_cond_signal(&d->dog);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->watchdog, NULL);
	pthread_mutex_lock(&d->lock);
	stuck = d->stuck;
	if (outcomes != NULL)
		memcpy(outcomes, d->outcomes, sizeof d->outcomes);
	pthread_mutex_unlock(&d->lock);
	if (stuck > 0) {
		log_warn("dispatcher: %d plugin call(s) overran their timeout "
		    "and are still running; their actions will be retried",
		    stuck);
		return stuck;
	}
	pthread_mutex_destroy(&d->lock);
	pthread_mutex_destroy(&d->write_lock);
	pthread_cond_destroy(&d->wake);
	pthread_cond_destroy(&d->ended);
	pthread_cond_destroy(&d->dog);
	free(d->slots);
	free(d->lanes);
	free(d);
	return 0;
}
