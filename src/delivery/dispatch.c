/*
 * The dispatcher (SPEC §8, §9): `workers` threads claim due actions from the
 * outbox (oldest due first), hand them to their plugin instance and record
 * the outcome: done, retry with exponential backoff until retry_for has
 * passed since the first try, dead, or held. Claims and records go through
 * one connection, serialised by write_lock (they would be serialised by
 * SQLite anyway, whose busy handler sleeps, and its page cache stays warm);
 * a worker records its last outcome in the same transaction as its next
 * claim, so an action costs one commit. What a plugin asks for beside its
 * outcome (a hand-off's enrollment, a suggestion's announcement) is applied
 * in that same transaction, and only when the action is done: a crash
 * applies both or neither, and a retry cannot apply it twice.
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
 * frees what it holds and ends (the watchdog joins it). The trade-off: C
 * cannot cancel a call safely, so the stuck thread (and whatever the plugin
 * holds) lives on until the plugin returns, and the action may be performed
 * twice, with the same id, if the late call did get through. The plugin's
 * code and state must outlive such calls: dispatch_stop() returns how many
 * are still running, and the dispatcher and its config stay until
 * dispatch_free() succeeds, once the last of them has returned.
 *
 * Sleeping. An idle worker sleeps until something may be due: an action
 * ended (its lane may take another), the tick queued more (dispatch_kick),
 * or the watchdog's alarm: the next due action (outbox_next_due(), asked by
 * each claim that found nothing, on the worker's own connection: a read),
 * the end of a breaker's pause, or another process's commit (journeyctl
 * retry), which the watchdog looks for every DISPATCH_RECHECK_MS by PRAGMA
 * data_version. Nothing is polled by the workers: an idle daemon writes
 * nothing and its workers do not wake. Every wait is on the monotonic clock
 * (a wall-clock step neither delays nor hastens it); a time of the run's
 * clock (--now may pin it or let it advance) becomes a monotonic one by
 * time_mono_at().
 *
 * Threads never exit the process: a failure on a worker's path (a statement
 * that cannot be prepared, a thread that cannot be started) is logged and
 * handled (the action is left to retry, the pool is a worker short).
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

#include "delivery/delivery.h"

#define BREAKER_WINDOW	20	/* recent attempts looked at */
#define BREAKER_FAILS	10	/* transient failures among them that open it */

#define GATHER_MAX	8	/* claims served in one transaction, at most */
#define GATHER_US	1000	/* longest wait for more claims */
#define GATHER_BUSY	4	/* fewest workers performing while it waits */

#define DISPATCH_RECHECK_MS 5000	/* the watchdog's look for others' commits */
#define DISPATCH_ERROR_MS 5000	/* a worker's pause after a database error */

#define WORKER_CACHE_KIB 1024	/* page cache of a worker's connection */
#define WRITER_CACHE_KIB 8192	/* of the connection claims and records use */

/* A connection of the dispatcher's: one per worker, one for the watchdog. */
struct conn {
	sqlite3			*db;
	struct outbox_conn	*oc;	/* the queue's statements on it */
};

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

/* One action in a worker's hands: claimed, performed, then recorded. */
struct job {
	struct act	 act;		/* its strings point into item */
	struct outbox_item item;	/* as claimed */
	int		 lane;		/* its instance's, or -1 */
	int		 suspect;	/* in flight during a crash before */
	enum jd_result	 res;		/* once performed */
	char		 reason[1024];
	int64_t		 retry_after;	/* the other side's delay, s; 0 */
	char		 external_id[256];
	struct jd_outcome out;		/* a 1.1 plugin's, in perform() */
	int64_t		 now;		/* when it ended */
};

/* A worker's request to record its last job and claim its next, queued for
 * the transaction that serves it (see dispatch_claim()). */
struct claim {
	struct job	*job;		/* to claim into */
	struct job	*prev;		/* to record, or NULL */
	int64_t		 now;
	int		 rc;		/* as dispatch_claim() returns */
	int		 crashes;	/* the claimed row's */
	int		 status;	/* prev's, as recorded */
	int64_t		 due;
	int		 done;		/* served */
	pthread_cond_t	 wake;		/* served, or to serve */
	struct claim	*next;
};

/* A worker thread. It owns its connection and its jobs, and frees itself
 * when it ends. */
struct worker {
	struct dispatcher	*d;
	pthread_t		 thread;
	int			 slot;		/* in d->slots, -1 once abandoned */
	struct conn		 conn;
	enum worker_state	 state;
	int64_t			 deadline;	/* monotonic ms, while acting */
	struct job		*acting;	/* the job in act(), for the dog */
	struct job		 jobs[2];	/* one performed, one to record */
};

struct dispatcher {
	const struct config	*conf;
	int			 once;		/* exit when nothing is due */
	int			 nworkers;
	int			 cap;		/* in flight per instance */
	pthread_mutex_t		 lock;		/* everything below */
	pthread_mutex_t		 write_lock;	/* the dispatcher's writes */
	pthread_cond_t		 wake;		/* for idle workers */
	unsigned long		 wakes;		/* bumped to wake them */
	int64_t			 next_due;	/* run's clock: wake them then */
	pthread_cond_t		 ended;		/* a worker ended */
	pthread_cond_t		 dog;		/* for the watchdog */
	struct worker		**slots;	/* the pool */
	pthread_t		*joinable;	/* workers not abandoned, to join */
	int			 njoinable;
	struct gone {
		pthread_t	 thread;
		int		 ended;		/* its call returned: join it */
	}			*gone;		/* abandoned workers */
	int			 ngone;
	int			 running;	/* workers not abandoned */
	int			 stuck;		/* abandoned, still in a plugin */
	int			 inflight;	/* actions claimed, all instances */
	int			 suspect;	/* a suspect is in flight */
	int			 stopping;
	int			 dog_stop;
	int64_t			 dog_wake;	/* monotonic ms */
	int64_t			 recheck;	/* monotonic ms: the next look */
	int64_t			 data_version;	/* as last seen, -1 none */
	pthread_t		 watchdog;
	struct conn		 wconn;		/* claims, records; write_lock */
	struct lane		*lanes;
	struct claim		*claims;	/* queued, to serve */
	struct claim		**claims_tail;
	int			 nclaims;	/* queued */
	int			 serving;	/* a worker serves them */
	int			 gathering;	/* it waits for more */
	pthread_cond_t		 arrived;	/* for it: enough to stop */
	int			 acting;	/* workers in a plugin call */
	int			 gather_busy;	/* gather while this many act */
	/* The server's, while it serves a batch (write_lock): */
	unsigned char		*pass;		/* per lane, dispatch_lanes() */
	int			*delta;		/* per lane, in flight */
	unsigned char		*trial;		/* per lane, a trial claimed */
	long			 outcomes[4];	/* by enum jd_result */
};

static void	*dispatch_worker(void *);

/* Open the database for c, with a page cache of cache_kib. -1 when it
 * cannot be, logged. */
static int
conn_open(struct conn *c, const char *path, int cache_kib)
{
	char	 err[512], pragma[64];

	memset(c, 0, sizeof *c);
	if ((c->db = store_open(path, err, sizeof err)) == NULL) {
		log_err("dispatcher: %s", err);
		return -1;
	}
	snprintf(pragma, sizeof pragma, "PRAGMA cache_size = -%d", cache_kib);
	store_exec(c->db, pragma);
	c->oc = outbox_conn_new(c->db);
	return 0;
}

/* Close c and its statements. */
static void
conn_close(struct conn *c)
{
	outbox_conn_free(c->oc);
	store_close(c->db);
	memset(c, 0, sizeof *c);
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

/* Wake the idle workers: something may be claimable. Called with the lock
 * held. */
static void
dispatch_wake(struct dispatcher *d)
{
	d->wakes++;
	pthread_cond_broadcast(&d->wake);
}

/* Wake one idle worker to look: when it claims, its outcome wakes the
 * others. Called with the lock held. */
static void
dispatch_wake_one(struct dispatcher *d)
{
	d->wakes++;
	pthread_cond_signal(&d->wake);
}

/* When the run's clock reads t, on the monotonic clock in ms (rounded up:
 * not before). */
static int64_t
dispatch_mono_ms(int64_t t)
{
	int64_t	 at = time_mono_at(t);

	return at == INT64_MAX ? INT64_MAX : (at + 999) / 1000;
}

/* Have the watchdog wake the idle workers when the run's clock reads due,
 * or earlier. Called with the lock held. */
static void
dispatch_alarm(struct dispatcher *d, int64_t due)
{
	if (due >= d->next_due)
		return;
	d->next_due = due;
	if (dispatch_mono_ms(due) < d->dog_wake)
		pthread_cond_signal(&d->dog);
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
	dispatch_wake(d);
}

/* Which instances a claim may take from, in d->pass (by lane): 1 for
 * those under their cap, 2 for those at it (borrowing), 0 for those paused
 * by their breaker or with their trial claimed. Counts the batch's claims
 * and records so far (d->delta, d->trial). Returns how many have 1, and in
 * *borrow how many have 2. Called with the lock and write_lock held. */
static int
dispatch_lanes(struct dispatcher *d, int64_t now, int *borrow)
{
	int	 n = 0;

	*borrow = 0;
	for (int i = 0; i < d->conf->ninstances; i++) {
		struct lane *ln = &d->lanes[i];

		if (!dispatch_lane_open(ln, now) || (d->trial[i] &&
		    ln->state == BREAKER_TRIAL))
			d->pass[i] = 0;
		else if (ln->inflight + d->delta[i] >= d->cap) {
			d->pass[i] = 2;
			(*borrow)++;
		} else {
			d->pass[i] = 1;
			n++;
		}
	}
	return n;
}

/*
 * Claim into job, inside the caller's transaction, the oldest due action of
 * an instance whose d->pass is 1, or else (when borrow) the oldest of one
 * whose d->pass is 2: as if the due rows were searched first for the one,
 * then for the other, but in one walk. Rows of instances not configured are
 * left alone. 1 when one was claimed, 0 when none is due, -1 on error.
 */
static int
dispatch_claim_from(struct dispatcher *d, struct conn *c, struct job *job,
    int under, int borrow, int suspects, int64_t now, int *crashes)
{
	struct outbox_item	*item = &job->item;
	struct act		*act = &job->act;
	const char		*inst;
	int64_t			 aid = 0, later = 0, row;
	int			 rc, lane;

	if (outbox_due_begin(c->oc, now, suspects) != 0)
		return -1;
	while ((rc = outbox_due_next(c->oc, &row, &inst)) == 1) {
		if (inst == NULL || (lane = dispatch_lane(d, inst)) < 0)
			continue;
		if (d->pass[lane] == 1) {
			aid = row;
			break;
		}
		if (d->pass[lane] == 2 && borrow && later == 0) {
			later = row;
			if (!under)
				break;
		}
	}
	outbox_due_end(c->oc);
	if (rc < 0)
		return -1;
	if (aid == 0 && (aid = later) == 0)
		return 0;
	if (outbox_claim(c->oc, aid, now, item) != 0)
		return -1;
	act->aid = aid;
	act->sid = item->sid;
	act->kind = item->kind;
	act->traits_now = item->traits_now;
	act->variant = item->variant;
	act->a.id = item->id;
	act->a.journey = item->journey;
	act->a.rule = item->rule;
	act->a.stage = item->stage;
	act->a.instance = item->instance;
	act->a.params = item->params;
	act->a.time = item->created;
	act->a.attempt = item->attempt;
	act->a.traits = item->traits;
	act->a.subject_id = item->subject_id;
	act->a.account_traits = item->account_traits;
	act->a.subject_kind = item->kind == SUBJECT_ACCOUNT ? "account" :
	    "user";
	*crashes = item->crashes;
	return 1;
}

/* Free what a job holds, and clear it. */
static void
dispatch_job_free(struct job *job)
{
	act_clear(&job->act);
	outbox_item_free(&job->item);
	memset(job, 0, sizeof *job);
	job->lane = -1;
}

/*
 * Apply what job's plugin asked for with its outcome (enrollments,
 * announcements), inside the caller's transaction, under a savepoint: 0, or
 * -1 with why when one cannot be, and then none is.
 */
static int
dispatch_effects(struct dispatcher *d, struct conn *c, struct job *job,
    char *why, size_t whylen)
{
	struct act	*act = &job->act;
	int		 rc = 0;

	if (act->neffects == 0)
		return 0;
	/* Its subject erased (journeyctl forget) meanwhile: nothing of it
	 * may come back. */
	if ((rc = outbox_alive(c->db, act->aid)) <= 0) {
		snprintf(why, whylen, "%s", sqlite3_errmsg(c->db));
		return rc;
	}
	rc = 0;
	if (store_exec(c->db, "SAVEPOINT effects") != 0) {
		snprintf(why, whylen, "%s", sqlite3_errmsg(c->db));
		return -1;
	}
	for (int i = 0; i < act->neffects && rc == 0; i++) {
		struct act_effect *e = &act->effects[i];

		if (e->journey != NULL)
			rc = journey_enroll(c->db, d->conf, act->sid, e->journey,
			    e->stage, act->a.rule, act->a.now, why, whylen) < 0 ?
			    -1 : 0;
		else if (journey_queue(c->db, act->sid, act->a.journey,
		    act->a.rule, act->a.stage, e->instance, e->params,
		    act->a.now) < 0) {
			snprintf(why, whylen, "%s", sqlite3_errmsg(c->db));
			rc = -1;
		}
	}
	if (rc != 0)
		store_exec(c->db, "ROLLBACK TO effects");
	store_exec(c->db, "RELEASE effects");
	return rc;
}

/* Write the outcome of a job, inside the caller's transaction; its status
 * and next due time go to *status and *due. */
static int
dispatch_record_sql(struct dispatcher *d, struct conn *c, struct job *job,
    int *status, int64_t *due)
{
	const struct config	*cf = d->conf;
	struct outbox_retry	 rp = { cf->retry_min, cf->retry_max,
				    cf->retry_for };
	struct outbox_outcome	 o;
	char			 why[512];

	memset(&o, 0, sizeof o);
	switch (job->res) {
	case JD_DONE:	o.result = OUTCOME_DONE; break;
	case JD_HELD:	o.result = OUTCOME_HELD; break;
	case JD_FAILED:	o.result = OUTCOME_FAILED; break;
	default:	o.result = OUTCOME_RETRY; break;
	}
	if (job->res == JD_DONE && dispatch_effects(d, c, job, why,
	    sizeof why) != 0) {
		/* Not done, then: tried again, effects and all. */
		job->res = JD_RETRY;
		o.result = OUTCOME_RETRY;
		snprintf(job->reason, sizeof job->reason, "cannot apply what "
		    "the plugin asked for: %s", why);
	}
	o.reason = job->reason[0] ? job->reason : NULL;
	o.note = job->act.note;
	o.external_id = job->act.external_id;
	o.retry_after = job->retry_after;
	o.attempt = job->act.a.attempt;
	o.now = job->now;
	return outbox_record(c->oc, job->act.aid, &o, &rp, status, due);
}

/* Log a recorded outcome: one line per outcome, with the action's id. */
static void
dispatch_record_log(struct job *job, int status, int64_t due)
{
	struct act	*act = &job->act;
	const char	*reason = job->reason[0] ? job->reason : NULL;

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
		    act->a.attempt, (long long)(due - job->now),
		    reason ? reason : "");
		break;
	case OUTBOX_DEAD:
		log_warn("action %s (%s, %s/%s, %s): dead after %d attempt(s): "
		    "%s", act->a.id, act->a.instance, act->a.journey,
		    act->a.rule, act->a.subject_id, act->a.attempt,
		    reason ? reason : "failed");
		break;
	}
}

/*
 * Record job's outcome in a transaction of its own, log it, and count the
 * job out. Left in flight when it cannot be recorded: recovered at the next
 * start.
 */
static void
dispatch_settle(struct dispatcher *d, struct conn *c, struct job *job)
{
	int64_t	 due;
	int	 status, rc = -1;

	pthread_mutex_lock(&d->write_lock);
	if (outbox_begin(c->oc) == 0) {
		if ((rc = dispatch_record_sql(d, c, job, &status, &due)) == 0)
			rc = outbox_commit(c->oc);
		if (rc != 0)
			store_rollback(c->db);
	}
	pthread_mutex_unlock(&d->write_lock);
	if (rc == 0)
		dispatch_record_log(job, status, due);
	pthread_mutex_lock(&d->lock);
	dispatch_release(d, job->lane, job->suspect, job->res, job->now);
	pthread_mutex_unlock(&d->lock);
}

/* After the commit of batch (dispatch_serve()): its records end their
 * actions in the lanes and the breaker, and its claims are in flight. */
static void
dispatch_served(struct dispatcher *d, struct claim *batch)
{
	pthread_mutex_lock(&d->lock);
	for (struct claim *cl = batch; cl != NULL; cl = cl->next) {
		struct job *prev = cl->prev, *job = cl->job;

		if (prev != NULL)
			dispatch_release(d, prev->lane, prev->suspect,
			    prev->res, prev->now);
		if (cl->rc != 1)
			continue;
		if (job->lane >= 0) {
			d->lanes[job->lane].inflight++;
			if (d->lanes[job->lane].state == BREAKER_TRIAL)
				d->lanes[job->lane].trial_out = 1;
		}
		d->inflight++;
		if (job->suspect)
			d->suspect = 1;
	}
	pthread_mutex_unlock(&d->lock);
}

/*
 * Serve a batch of claims (see dispatch_claim()) in one transaction: for
 * each in turn, record its prev and claim its next job, as if they had come
 * one after the other: a claim sees the batch's earlier records as ended and
 * its earlier claims as in flight (its own prev still counts in its lane, as
 * it would before its commit). Only the breaker hears of the batch's
 * outcomes after the commit. On any error, nothing is recorded nor claimed:
 * every claim of the batch gets -1.
 */
static void
dispatch_serve(struct dispatcher *d, struct claim *batch)
{
	struct conn	*c = &d->wconn;
	struct claim	*cl;
	int		 rc = 0, under, borrow, suspects, blocked;
	int		 inflight = 0, sus_ended = 0, sus_claimed = 0;

	pthread_mutex_lock(&d->write_lock);
	memset(d->delta, 0, d->conf->ninstances * sizeof *d->delta);
	memset(d->trial, 0, d->conf->ninstances * sizeof *d->trial);
	if (outbox_begin(c->oc) != 0)
		rc = -1;
	for (cl = batch; cl != NULL && rc == 0; cl = cl->next) {
		struct job *prev = cl->prev, *job = cl->job;

		cl->rc = 0;
		if (prev != NULL && dispatch_record_sql(d, c, prev, &cl->status,
		    &cl->due) != 0) {
			rc = -1;
			break;
		}
		pthread_mutex_lock(&d->lock);
		/* prev, recorded in this transaction, counts as ended; so do
		 * the batch's earlier ones, and its earlier claims count as in
		 * flight (inflight, sus_*, d->delta, d->trial). */
		blocked = sus_claimed || (d->suspect && !sus_ended);
		if (blocked && (prev == NULL || !prev->suspect))
			cl->rc = 2;
		suspects = d->inflight + inflight - (prev != NULL) == 0;
		under = dispatch_lanes(d, cl->now, &borrow);
		pthread_mutex_unlock(&d->lock);
		if (cl->rc == 0 && under + borrow > 0 &&
		    (cl->rc = dispatch_claim_from(d, c, job, under,
		    borrow, suspects, cl->now, &cl->crashes)) < 0) {
			rc = -1;
			break;
		}
		if (prev != NULL) {
			inflight--;
			if (prev->suspect)
				sus_ended = 1;
			if (prev->lane >= 0)
				d->delta[prev->lane]--;
		}
		if (cl->rc == 1) {
			job->lane = dispatch_lane(d, job->act.a.instance);
			job->suspect = cl->crashes > 1;
			inflight++;
			if (job->suspect)
				sus_claimed = 1;
			if (job->lane >= 0) {
				d->delta[job->lane]++;
				d->trial[job->lane] = 1;
			}
		}
	}
	if (rc != 0 || outbox_commit(c->oc) != 0) {
		store_rollback(c->db);
		pthread_mutex_unlock(&d->write_lock);
		for (cl = batch; cl != NULL; cl = cl->next) {
			if (cl->rc == 1)
				dispatch_job_free(cl->job);
			cl->rc = -1;
		}
		return;
	}
	dispatch_served(d, batch);
	pthread_mutex_unlock(&d->write_lock);
}

/*
 * Before serving the claims queued, wait a little for more while other
 * workers are performing actions (they claim next when they end), up to
 * GATHER_MAX claims and GATHER_US: the commit, the costliest part of a
 * claim, is then shared. Only while more than a quarter of the workers, and
 * at least GATHER_BUSY, are still performing (d->gather_busy): those keep the
 * endpoints busy meanwhile and while the batch commits, so that waiting
 * costs latency but no throughput. With fewer left, the endpoint ran dry:
 * at 4 workers, waiting while 2 were still performing took bench/dispatch
 * from ~82% of the server's capacity to ~72%. With up to 4 workers nobody
 * waits. Called with the lock held, as the server of claims.
 */
static void
dispatch_gather(struct dispatcher *d)
{
	int64_t	 until;

	if (d->nclaims >= GATHER_MAX || d->acting < d->gather_busy)
		return;
	until = time_mono_usec() + GATHER_US;
	d->gathering = 1;
	while (d->nclaims < GATHER_MAX && d->acting >= d->gather_busy &&
	    !d->stopping && time_cond_wait(&d->arrived, &d->lock, until) == 0)
		;
	d->gathering = 0;
}

/*
 * In one transaction, record the outcome of prev (the worker's last job, or
 * NULL) and claim into job the oldest due action the fairness rules allow:
 * first from instances under their cap, else (borrowing) from those at it.
 * A suspect is claimed only when nothing else is in flight, and then nothing
 * else is until it ends. Returns 1 when one was claimed, 0 when none is due,
 * 2 when a suspect in flight blocks claims, -1 on error (prev is then not
 * recorded: the caller keeps it).
 *
 * Group commit: the transaction may serve other workers' claims too. A
 * worker queues its claim; when no worker is serving, it serves the whole
 * queue in one transaction (dispatch_serve()), else it waits until its claim
 * is served. So while one transaction commits, the claims that arrive
 * meanwhile gather for the next, and the commits, the busiest part of a
 * claim, are shared. Each worker's outcome is still recorded before it
 * performs its next action, and each claim marks one action in flight, the
 * one its worker performs next: batching changes no guarantee.
 */
static int
dispatch_claim(struct dispatcher *d, struct worker *w, struct job *job,
    int64_t now, struct job *prev)
{
	struct claim	 cl, *batch;

	(void)w;
	memset(&cl, 0, sizeof cl);
	cl.job = job;
	cl.prev = prev;
	cl.now = now;
	cl.rc = -1;
	pthread_mutex_lock(&d->lock);
	*d->claims_tail = &cl;
	d->claims_tail = &cl.next;
	if (++d->nclaims >= GATHER_MAX && d->gathering)
		pthread_cond_signal(&d->arrived);
	time_cond_init(&cl.wake);
	while (!cl.done) {
		if (d->serving) {
			pthread_cond_wait(&cl.wake, &d->lock);
			continue;
		}
		d->serving = 1;
		dispatch_gather(d);
		/* Ours is among them: not served, and nobody serves. */
		d->nclaims = 0;
		batch = d->claims;
		d->claims = NULL;
		d->claims_tail = &d->claims;
		pthread_mutex_unlock(&d->lock);
		dispatch_serve(d, batch);
		pthread_mutex_lock(&d->lock);
		for (struct claim *b = batch, *next; b != NULL; b = next) {
			next = b->next;
			b->done = 1;	/* b may be gone from here on */
			if (b != &cl)
				pthread_cond_signal(&b->wake);
		}
		d->serving = 0;
		/* Those queued meanwhile: the first serves them. */
		if (d->claims != NULL)
			pthread_cond_signal(&d->claims->wake);
	}
	pthread_mutex_unlock(&d->lock);
	pthread_cond_destroy(&cl.wake);
	if (cl.rc >= 0 && prev != NULL)
		dispatch_record_log(prev, cl.status, cl.due);
	return cl.rc;
}

/* Perform job's action through plugin rt: perform() for a 1.1 plugin, with
 * the job's outcome, else 1.0's act(). Returns what the plugin said. */
static enum jd_result
dispatch_call(struct plugin_rt *rt, struct job *job)
{
	struct jd_outcome	*o = &job->out;

	if (rt->desc.perform == NULL)
		return rt->desc.act(rt->state, &rt->host, &job->act.a,
		    job->reason, sizeof job->reason);
	memset(o, 0, sizeof *o);
	o->size = sizeof *o;
	o->status = (enum jd_result)-1;		/* to tell unset */
	o->reason = job->reason;
	o->reasonlen = sizeof job->reason;
	o->external_id = job->external_id;
	o->external_idlen = sizeof job->external_id;
	rt->desc.perform(rt->state, &rt->host, &job->act.a, o);
	job->reason[sizeof job->reason - 1] = '\0';
	job->external_id[sizeof job->external_id - 1] = '\0';
	return o->status;
}

/* Check what a plugin said of job (res) and take its outcome's parts: an
 * unknown or unset status counts as a transient failure, an effect the
 * config cannot have (no such journey) as a permanent one. */
static enum jd_result
dispatch_result(struct job *job, enum jd_result res)
{
	struct jd_outcome	*o = &job->out;
	char			 why[512];

	if ((unsigned)res > JD_HELD) {
		if (o->size != 0 && (unsigned)res == (unsigned)-1)
			snprintf(job->reason, sizeof job->reason, "perform() "
			    "set no status");
		else
			snprintf(job->reason, sizeof job->reason, "plugin "
			    "returned an unknown result %u", (unsigned)res);
		return JD_RETRY;
	}
	if (o->size == 0)
		return res;
	if (res == JD_RETRY && o->retry_after > 0)
		job->retry_after = o->retry_after;
	if (act_outcome(&job->act, o, why, sizeof why) != 0) {
		snprintf(job->reason, sizeof job->reason, "the plugin asked "
		    "for what cannot be: %s", why);
		return JD_FAILED;
	}
	return res;
}

/* Call the plugin with the watchdog's deadline on. Returns the result, or
 * -1 when the watchdog gave up on the call meanwhile (the worker is then
 * abandoned and its result must be ignored). */
static int
dispatch_act(struct worker *w, struct instance *inst, struct job *job)
{
	struct dispatcher	*d = w->d;
	struct act		*act = &job->act;
	enum jd_result		 res;
	int			 abandoned;

	pthread_mutex_lock(&d->lock);
	d->acting++;
	w->state = WORKER_ACTING;
	w->acting = job;
	w->deadline = (time_mono_usec() / 1000) + inst->timeout * 1000;
	if (w->deadline < d->dog_wake)
		pthread_cond_signal(&d->dog);
	pthread_mutex_unlock(&d->lock);

	res = dispatch_call(inst->rt, job);

	pthread_mutex_lock(&d->lock);
	abandoned = w->state == WORKER_ABANDONED;
	if (!abandoned) {
		/* (dispatch_abandon() counted it out) */
		if (--d->acting < d->gather_busy && d->gathering)
			pthread_cond_signal(&d->arrived);
		w->state = WORKER_IDLE;
		w->acting = NULL;
	}
	pthread_mutex_unlock(&d->lock);
	if (abandoned) {
		log_notice("action %s (%s): the call abandoned after its "
		    "timeout returned %s at last; ignored", act->a.id,
		    act->a.instance, res == JD_DONE ? "done" : res == JD_HELD ?
		    "held" : res == JD_FAILED ? "failed" : "retry");
		return -1;
	}
	return dispatch_result(job, res);
}

/* Count a claimed job out that the guard settled before any attempt: no
 * outcome, nothing for the breaker (a trial it held is not a trial). */
static void
dispatch_unclaim(struct dispatcher *d, struct job *job)
{
	pthread_mutex_lock(&d->lock);
	d->inflight--;
	if (job->suspect)
		d->suspect = 0;
	if (job->lane >= 0) {
		d->lanes[job->lane].inflight--;
		if (d->lanes[job->lane].state == BREAKER_TRIAL)
			d->lanes[job->lane].trial_out = 0;
	}
	dispatch_wake(d);
	pthread_mutex_unlock(&d->lock);
}

/*
 * Perform one claimed action through its instance: guard, then act. Its
 * outcome stays in job, and is recorded in the same transaction as the
 * worker's next claim (or on its own when there is none). Returns 0, 1 when
 * the guard settled it (nothing to record), or -1 when the worker was
 * abandoned by the watchdog meanwhile.
 */
static int
dispatch_one(struct worker *w, struct job *job)
{
	struct dispatcher	*d = w->d;
	struct act		*act = &job->act;
	struct instance		*inst;
	int			 res;

	act->conf = d->conf;
	inst = config_instance(d->conf, act->a.instance);
	act->inst = inst;
	act->rv.traits = act->traits_now;
	act->rv.account_traits = act->a.account_traits;
	act->rv.journey = act->a.journey;
	act->rv.stage = act->a.stage;
	act->rv.rule = act->a.rule;
	act->rv.subject_id = act->a.subject_id;
	act->rv.id = act->a.id;
	act->rv.variant = act->variant;
	act->a.now = time_now();
	/* Quiet hours and frequency caps: the guard records a deferral or a
	 * hold itself; that is no attempt, and nothing for the breaker. When
	 * none applies, the write lock is not waited for (a batch being
	 * served holds it). */
	res = GUARD_SEND;
	if (guard_applies(d->conf, act)) {
		pthread_mutex_lock(&d->write_lock);
		res = guard_check(d->wconn.db, d->conf, act);
		pthread_mutex_unlock(&d->write_lock);
	}
	if (res != GUARD_SEND) {
		dispatch_unclaim(d, job);
		return 1;
	}
	if (inst == NULL || inst->rt == NULL || !inst->rt->started) {
		res = JD_RETRY;
		snprintf(job->reason, sizeof job->reason, "no plugin instance "
		    "\"%s\"", act->a.instance);
	} else {
		act->a.settings = inst->rt->settings;
		if ((res = dispatch_act(w, inst, job)) < 0)
			return -1;
	}
	job->res = res;
	job->now = time_now();
	return 0;
}

/* Start a worker in slot i. Called with the lock held. -1 when no thread
 * can be started (logged): the slot stays empty. */
static int
dispatch_spawn(struct dispatcher *d, int i)
{
	struct worker	*w;
	int		 rc;

	w = xcalloc(1, sizeof *w);
	w->d = d;
	w->slot = i;
	w->jobs[0].lane = w->jobs[1].lane = -1;
	if ((rc = pthread_create(&w->thread, NULL, dispatch_worker, w)) != 0) {
		log_err("dispatcher: cannot start a worker: %s; %d left",
		    strerror(rc), d->running);
		free(w);
		return -1;
	}
	d->slots[i] = w;
	d->running++;
	d->joinable = xreallocarray(d->joinable, d->njoinable + 1,
	    sizeof *d->joinable);
	d->joinable[d->njoinable++] = w->thread;
	return 0;
}

/* After a claim at now found nothing: ask when the next action falls due
 * (a read, on the worker's own connection) and set the watchdog's alarm.
 * 0, or -1 on a database error. */
static int
dispatch_next_due(struct dispatcher *d, struct conn *c, int64_t now)
{
	int64_t	 due;
	int	 rc;

	if ((rc = outbox_next_due(c->oc, now, &due)) <= 0)
		return rc;
	pthread_mutex_lock(&d->lock);
	dispatch_alarm(d, due);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

/* Sleep until woken (d->wakes moves from wakes), told to stop, or the
 * monotonic time until (usec; INT64_MAX: none). Called with the lock
 * held. */
static void
dispatch_idle(struct dispatcher *d, unsigned long wakes, int64_t until)
{
	while (!d->stopping && d->wakes == wakes)
		if (time_cond_wait(&d->wake, &d->lock, until) != 0)
			break;
}

/* Count a worker out as it ends, and free it. An abandoned one is left for
 * the watchdog (or dispatch_free()) to join: d stays until then. */
static void
dispatch_worker_end(struct dispatcher *d, struct worker *w, int abandoned)
{
	pthread_mutex_lock(&d->lock);
	if (abandoned) {
		d->stuck--;
		for (int i = 0; i < d->ngone; i++)
			if (pthread_equal(d->gone[i].thread, pthread_self()))
				d->gone[i].ended = 1;
		pthread_cond_signal(&d->dog);
	} else {
		d->running--;
		d->slots[w->slot] = NULL;
	}
	pthread_cond_broadcast(&d->ended);
	pthread_mutex_unlock(&d->lock);
	free(w);
}

/* A worker: claim and perform until told to stop, or until abandoned. */
static void *
dispatch_worker(void *arg)
{
	struct worker		*w = arg;
	struct dispatcher	*d = w->d;
	struct job		*job, *prev = NULL;
	unsigned long		 wakes;
	int64_t			 now;
	int			 rc, stop, abandoned = 0;

	pthread_setname_np(pthread_self(), "jd-worker");
	/* For the plugin's host->enroll() and host->queue(), and for the
	 * next due time. */
	if (conn_open(&w->conn, d->conf->database, WORKER_CACHE_KIB) != 0)
		w->conn.db = NULL;
	while (w->conn.db != NULL) {
		/* Read before the claim: whatever it does not see (a record,
		 * the tick's commit) bumps d->wakes after, and the worker
		 * does not sleep through it. */
		pthread_mutex_lock(&d->lock);
		stop = d->stopping;
		wakes = d->wakes;
		pthread_mutex_unlock(&d->lock);
		if (stop)
			break;
		job = prev == &w->jobs[0] ? &w->jobs[1] : &w->jobs[0];
		now = time_now();
		rc = dispatch_claim(d, w, job, now, prev);
		if (rc >= 0 && prev != NULL) {
			dispatch_job_free(prev);
			prev = NULL;
			if (rc != 1)
				continue;	/* it may have unblocked some */
		}
		if (rc == 1) {
			if ((rc = dispatch_one(w, job)) < 0) {
				abandoned = 1;
				dispatch_job_free(job);
				break;
			}
			if (rc == 1)
				dispatch_job_free(job);
			else
				prev = job;
			continue;
		}
		if (d->once && rc != 2)
			break;
		if (rc == 0 && dispatch_next_due(d, &w->conn, now) != 0)
			rc = -1;
		pthread_mutex_lock(&d->lock);
		dispatch_idle(d, wakes, rc < 0 ? time_mono_usec() +
		    DISPATCH_ERROR_MS * 1000LL : INT64_MAX);
		pthread_mutex_unlock(&d->lock);
	}
	if (prev != NULL) {
		dispatch_settle(d, &d->wconn, prev);
		dispatch_job_free(prev);
	}
	conn_close(&w->conn);
	dispatch_worker_end(d, w, abandoned);
	return NULL;
}

/* Give up on worker w, whose call overran: put a new worker in its place,
 * and return a copy of its job to record. Called with the lock held. */
static struct job *
dispatch_abandon(struct dispatcher *d, struct worker *w)
{
	struct job	*copy = xcalloc(1, sizeof *copy), *job = w->acting;
	struct instance	*inst = config_instance(d->conf, job->act.a.instance);
	int		 slot = w->slot;

	copy->act.aid = job->act.aid;
	copy->act.a.attempt = job->act.a.attempt;
	copy->act.a.id = copy->item.id = xstrdup(job->act.a.id);
	copy->act.a.instance = copy->item.instance =
	    xstrdup(job->act.a.instance);
	copy->act.a.journey = copy->item.journey = xstrdup(job->act.a.journey);
	copy->act.a.rule = copy->item.rule = xstrdup(job->act.a.rule);
	copy->act.a.subject_id = copy->item.subject_id =
	    xstrdup(job->act.a.subject_id);
	copy->lane = job->lane;
	copy->suspect = job->suspect;
	copy->res = JD_RETRY;
	copy->now = time_now();
	snprintf(copy->reason, sizeof copy->reason, "timed out after %llds",
	    inst != NULL ? (long long)inst->timeout : 0LL);
	/* Joined once its call returns, by the watchdog or dispatch_free(). */
	for (int i = 0; i < d->njoinable; i++)
		if (pthread_equal(d->joinable[i], w->thread)) {
			d->joinable[i] = d->joinable[--d->njoinable];
			break;
		}
	d->gone = xreallocarray(d->gone, d->ngone + 1, sizeof *d->gone);
	d->gone[d->ngone].thread = w->thread;
	d->gone[d->ngone++].ended = 0;
	w->state = WORKER_ABANDONED;
	w->slot = -1;
	if (--d->acting < d->gather_busy && d->gathering)
		pthread_cond_signal(&d->arrived);
	d->slots[slot] = NULL;
	d->running--;
	d->stuck++;
	if (!d->stopping)
		dispatch_spawn(d, slot);
	pthread_cond_broadcast(&d->ended);
	return copy;
}

/* Give up on the calls past their deadline, into late (at most max), and
 * lower *next to the next deadline. Called with the lock held. */
static int
dispatch_overdue(struct dispatcher *d, int64_t now, struct job **late,
    int max, int64_t *next)
{
	int	 n = 0;

	for (int i = 0; i < d->nworkers && n < max; i++) {
		struct worker *w = d->slots[i];

		if (w == NULL || w->state != WORKER_ACTING)
			continue;
		if (w->deadline <= now)
			late[n++] = dispatch_abandon(d, w);
		else if (w->deadline < *next)
			*next = w->deadline;
	}
	return n;
}

/* Take the abandoned workers whose call has returned, into out (at most
 * max), to be joined. Called with the lock held. */
static int
dispatch_reap(struct dispatcher *d, pthread_t *out, int max)
{
	int	 n = 0;

	for (int i = 0; i < d->ngone && n < max;) {
		if (d->gone[i].ended) {
			out[n++] = d->gone[i].thread;
			d->gone[i] = d->gone[--d->ngone];
		} else
			i++;
	}
	return n;
}

/* Has another connection (the tick's, another process's: journeyctl
 * retry) committed since the last look? Then an action may be due that no
 * worker knows of. Only the watchdog calls it. */
static int
dispatch_changed(struct dispatcher *d)
{
	sqlite3_stmt	*st;
	int64_t		 v = -1;
	int		 changed;

	pthread_mutex_lock(&d->write_lock);
	if ((st = store_try_prepare(d->wconn.db, "PRAGMA data_version")) !=
	    NULL) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&d->write_lock);
	changed = d->data_version != -1 && v != d->data_version;
	d->data_version = v;
	return changed;
}

/* The idle workers' alarm: wake them when the next due action falls due,
 * and when a breaker's pause ends (its lane moves to its trial). Returns
 * the earlier of next and the next such moment (monotonic ms). Called with
 * the lock held. */
static int64_t
dispatch_alarms(struct dispatcher *d, int64_t now, int64_t next)
{
	int64_t	 at;
	int	 wake = 0;

	if (d->next_due != INT64_MAX) {
		if ((at = dispatch_mono_ms(d->next_due)) <= now) {
			d->next_due = INT64_MAX;
			wake = 1;
		} else if (at < next)
			next = at;
	}
	for (int i = 0; i < d->conf->ninstances; i++) {
		struct lane *ln = &d->lanes[i];

		if (ln->state != BREAKER_OPEN)
			continue;
		if ((at = dispatch_mono_ms(ln->open_until)) <= now) {
			dispatch_lane_open(ln, ln->open_until);
			wake = 1;
		} else if (at < next)
			next = at;
	}
	if (wake)
		dispatch_wake(d);
	return next;
}

/*
 * The watchdog: gives up on calls past their instance's timeout and records
 * their actions for retry, joins the abandoned workers whose call returned,
 * looks for other connections' commits every DISPATCH_RECHECK_MS, and wakes
 * the idle workers when an action falls due. It sleeps until the first of
 * these.
 */
static void *
dispatch_watchdog(void *arg)
{
	struct dispatcher	*d = arg;
	struct job		*late[64];
	pthread_t		 ended[64];
	int64_t			 now, next;
	int			 nlate, nended, recheck, changed;

	pthread_setname_np(pthread_self(), "jd-dispatch");
	pthread_mutex_lock(&d->lock);
	while (!d->dog_stop) {
		now = time_mono_usec() / 1000;
		next = d->recheck;
		nlate = dispatch_overdue(d, now, late, 64, &next);
		nended = dispatch_reap(d, ended, 64);
		recheck = now >= d->recheck;
		if (nlate > 0 || nended > 0 || recheck) {
			pthread_mutex_unlock(&d->lock);
			for (int i = 0; i < nlate; i++) {
				dispatch_settle(d, &d->wconn, late[i]);
				dispatch_job_free(late[i]);
				free(late[i]);
			}
			for (int i = 0; i < nended; i++)
				pthread_join(ended[i], NULL);
			changed = recheck && dispatch_changed(d);
			pthread_mutex_lock(&d->lock);
			if (recheck)
				d->recheck = time_mono_usec() / 1000 +
				    DISPATCH_RECHECK_MS;
			if (changed)
				dispatch_wake_one(d);
			continue;
		}
		d->dog_wake = dispatch_alarms(d, now, next);
		time_cond_wait(&d->dog, &d->lock, d->dog_wake * 1000);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* Free a dispatcher's locks and memory; its threads have ended. */
static void
dispatch_destroy(struct dispatcher *d)
{
	pthread_mutex_destroy(&d->lock);
	pthread_mutex_destroy(&d->write_lock);
	pthread_cond_destroy(&d->wake);
	pthread_cond_destroy(&d->ended);
	pthread_cond_destroy(&d->dog);
	pthread_cond_destroy(&d->arrived);
	free(d->slots);
	free(d->joinable);
	free(d->gone);
	free(d->lanes);
	free(d->pass);
	free(d->delta);
	free(d->trial);
	free(d);
}

/* Start the workers and their watchdog. With once, they stop when nothing
 * is due. NULL when they cannot be started (logged). */
struct dispatcher *
dispatch_start(const struct config *cf, int once)
{
	struct dispatcher	*d;
	int			 rc;

	d = xcalloc(1, sizeof *d);
	d->conf = cf;
	d->once = once;
	d->nworkers = cf->workers;
	d->cap = cf->workers / 2 > 1 ? cf->workers / 2 : 1;
	d->gather_busy = cf->workers / 4 + 1 > GATHER_BUSY ?
	    cf->workers / 4 + 1 : GATHER_BUSY;
	d->lanes = xcalloc(cf->ninstances + 1, sizeof *d->lanes);
	d->pass = xcalloc(cf->ninstances + 1, sizeof *d->pass);
	d->delta = xcalloc(cf->ninstances + 1, sizeof *d->delta);
	d->trial = xcalloc(cf->ninstances + 1, sizeof *d->trial);
	d->slots = xcalloc(d->nworkers, sizeof *d->slots);
	d->claims_tail = &d->claims;
	d->next_due = INT64_MAX;
	d->data_version = -1;
	for (int i = 0; i < cf->ninstances; i++)
		d->lanes[i].inst = cf->instances[i];
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->write_lock, NULL);
	time_cond_init(&d->wake);
	time_cond_init(&d->ended);
	time_cond_init(&d->dog);
	time_cond_init(&d->arrived);
	/* One connection for every claim and record: they are serialised
	 * anyway, and its page cache stays warm. */
	if (conn_open(&d->wconn, cf->database, WRITER_CACHE_KIB) != 0) {
		dispatch_destroy(d);
		return NULL;
	}
	if ((rc = pthread_create(&d->watchdog, NULL, dispatch_watchdog,
	    d)) != 0) {
		log_err("dispatcher: cannot start its watchdog: %s",
		    strerror(rc));
		conn_close(&d->wconn);
		dispatch_destroy(d);
		return NULL;
	}
	pthread_mutex_lock(&d->lock);
	for (int i = 0; i < d->nworkers && rc == 0; i++)
		rc = dispatch_spawn(d, i);
	if (rc != 0)
		d->stopping = 1;
	pthread_mutex_unlock(&d->lock);
	if (rc != 0) {
		dispatch_stop(d, NULL);
		dispatch_free(d);
		return NULL;
	}
	return d;
}

/* Wake idle workers: new actions may be due. */
void
dispatch_kick(struct dispatcher *d)
{
	if (d == NULL)
		return;
	pthread_mutex_lock(&d->lock);
	dispatch_wake(d);
	pthread_mutex_unlock(&d->lock);
}

/*
 * Stop claiming, let the actions in flight finish (each within its
 * instance's timeout: the watchdog goes on meanwhile), and wait for the
 * workers. In once mode, wait until nothing is due. Fills the outcome counts.
 * Returns how many abandoned plugin calls are still running: until they
 * have returned, the dispatcher stays (dispatch_free() refuses), and so must
 * the config (the plugins' code and state).
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
	dispatch_wake(d);
	while (d->running > 0)
		pthread_cond_wait(&d->ended, &d->lock);
	d->stopping = 1;
	d->dog_stop = 1;
	pthread_cond_signal(&d->dog);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->watchdog, NULL);
	/* Nothing starts workers any more: wait until they have ended, thread
	 * destructors included (a plugin's, say), before anything is freed. */
	for (int i = 0; i < d->njoinable; i++)
		pthread_join(d->joinable[i], NULL);
	d->njoinable = 0;
	conn_close(&d->wconn);
	pthread_mutex_lock(&d->lock);
	stuck = d->stuck;
	if (outcomes != NULL)
		memcpy(outcomes, d->outcomes, sizeof d->outcomes);
	pthread_mutex_unlock(&d->lock);
	if (stuck > 0)
		log_warn("dispatcher: %d plugin call(s) overran their timeout "
		    "and are still running; their actions will be retried",
		    stuck);
	return stuck;
}

/* Free a dispatcher dispatch_stop() stopped: 0, or -1 (nothing freed) while
 * plugin calls it gave up on still run; try again once they have returned.
 * Their threads are joined first, thread destructors included. */
int
dispatch_free(struct dispatcher *d)
{
	int	 stuck;

	if (d == NULL)
		return 0;
	pthread_mutex_lock(&d->lock);
	stuck = d->stuck;
	pthread_mutex_unlock(&d->lock);
	if (stuck > 0)
		return -1;
	for (int i = 0; i < d->ngone; i++)
		pthread_join(d->gone[i].thread, NULL);
	dispatch_destroy(d);
	return 0;
}
