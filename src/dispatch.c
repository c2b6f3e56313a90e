/*
 * The dispatcher (SPEC §9): `workers` threads, each with its own database
 * connection, claim due actions from the outbox (oldest due first), hand them
 * to their plugin instance and record the outcome: done, retry with
 * exponential backoff until retry_for has passed, dead, or held.
 *
 * A claim marks the row in flight and counts it in `crashes`; a finished
 * attempt resets that count. After a crash, outbox_recover() puts in-flight
 * rows back, due at once, and parks as dead a row that was in flight during
 * three crashes in a row.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "journeyd.h"

#define BREAKER_WINDOW	20	/* recent attempts looked at */
#define BREAKER_COOL	30	/* first pause, doubling while failures go on */

/* What the dispatcher keeps per plugin instance: the circuit breaker. */
struct breaker {
	struct instance	*inst;
	unsigned char	 recent[BREAKER_WINDOW];	/* 1 = failed */
	int		 nrecent;
	int		 pos;
	int64_t		 open_until;
	int64_t		 cool;
};

struct dispatcher {
	const struct config	*conf;
	int			 nworkers;
	pthread_t		*threads;
	pthread_mutex_t		 lock;
	pthread_cond_t		 wake;
	int			 stopping;
	int			 once;		/* exit when nothing is due */
	int			 kicked;
	struct breaker		*breakers;
	long			 outcomes[4];	/* by enum jd_result */
};

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

/* The instances a worker may claim for now, as a JSON array, or NULL when
 * every breaker is open. Called with the lock held. */
static char *
dispatch_open_instances(struct dispatcher *d, int64_t now)
{
	struct buf	 b;
	int		 n = 0;

	buf_init(&b);
	buf_puts(&b, "[");
	for (int i = 0; i < d->conf->ninstances; i++) {
		struct breaker *br = &d->breakers[i];
		if (br->open_until > now)
			continue;
		if (br->open_until != 0) {
			log_notice("%s: resuming after its pause",
			    br->inst->name);
			br->open_until = 0;
			br->nrecent = br->pos = 0;
		}
		/* Names are plain (letters, digits, '_', '-', '.'). */
		buf_printf(&b, "%s\"%s\"", n++ ? "," : "", br->inst->name);
	}
	buf_puts(&b, "]");
	if (n == 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

/* Record an attempt's outcome in the instance's breaker; open it when half
 * of the recent attempts failed. Called with the lock held. */
static void
dispatch_breaker(struct dispatcher *d, struct instance *inst, int failed,
    int64_t now)
{
	struct breaker	*br = NULL;
	int		 fails = 0;

	for (int i = 0; i < d->conf->ninstances; i++)
		if (d->breakers[i].inst == inst)
			br = &d->breakers[i];
	if (br == NULL)
		return;
	br->recent[br->pos] = failed;
	br->pos = (br->pos + 1) % BREAKER_WINDOW;
	if (br->nrecent < BREAKER_WINDOW)
		br->nrecent++;
	if (!failed) {
		br->cool = 0;
		return;
	}
	for (int i = 0; i < br->nrecent; i++)
		fails += br->recent[i];
	if (br->nrecent < BREAKER_WINDOW || fails * 2 < BREAKER_WINDOW)
		return;
	br->cool = br->cool ? br->cool * 2 : BREAKER_COOL;
	if (br->cool > d->conf->retry_max)
		br->cool = d->conf->retry_max > BREAKER_COOL ?
		    d->conf->retry_max : BREAKER_COOL;
	br->open_until = now + br->cool;
	log_warn("%s: %d of its last %d attempts failed; pausing it for %llds "
	    "(its actions wait)", inst->name, fails, br->nrecent,
	    (long long)br->cool);
}

/* Claim the oldest due action of an open instance; fill act. 1 when one was
 * claimed, 0 when none is due, -1 on error. */
static int
dispatch_claim(struct dispatcher *d, sqlite3 *db, struct act *act,
    int64_t now)
{
	sqlite3_stmt	*st;
	char		*open;
	int		 rc = 0;

	pthread_mutex_lock(&d->lock);
	open = dispatch_open_instances(d, now);
	pthread_mutex_unlock(&d->lock);
	if (open == NULL)
		return 0;
	/* "status IN (0, 3)" is written out so that SQLite uses the partial
	 * index outbox_queue. */
#if OUTBOX_PENDING != 0 || OUTBOX_RETRYING != 3
#error "outbox statuses changed: update outbox_queue and this query"
#endif
	if (store_begin(db) != 0) {
		free(open);
		return -1;
	}
	st = store_prepare(db, "UPDATE outbox SET status = ?1, attempts = "
	    "attempts + 1, crashes = crashes + 1, first_try = "
	    "coalesce(first_try, ?2), updated = ?2 WHERE aid = (SELECT aid "
	    "FROM outbox WHERE status IN (0, 3) AND due <= ?2 AND instance "
	    "IN (SELECT value FROM json_each(?5)) ORDER BY due, aid LIMIT 1) RETURNING aid, id, subject, journey, rule, "
	    "coalesce(stage, ''), instance, params, created, attempts");
	sqlite3_bind_int(st, 1, OUTBOX_INFLIGHT);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_text(st, 5, open, -1, SQLITE_STATIC);
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
		rc = 1;
	}
	sqlite3_finalize(st);
	free(open);
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

/* The delay before the next try after attempt n (1-based). */
static int64_t
dispatch_backoff(const struct config *cf, int attempt)
{
	int64_t	 d = cf->retry_min;

	for (int i = 1; i < attempt && d < cf->retry_max; i++)
		d *= 2;
	return d > cf->retry_max ? cf->retry_max : d;
}

/* Record the outcome of an attempt. */
static int
dispatch_record(struct dispatcher *d, sqlite3 *db, struct act *act,
    enum jd_result res, const char *reason, int64_t now)
{
	const struct config	*cf = d->conf;
	sqlite3_stmt		*st;
	int64_t			 due = now, first = now;
	int			 status, rc;
	const char		*ra;

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
		if (sqlite3_step(st) == SQLITE_ROW)
			first = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		due = now + dispatch_backoff(cf, act->a.attempt);
		if (reason != NULL &&
		    (ra = strstr(reason, "retry-after=")) != NULL) {
			long long s = strtoll(ra + 12, NULL, 10);
			if (s > 0 && s <= cf->retry_for)
				due = now + s;
		}
		if (due - first > cf->retry_for || now - first >= cf->retry_for)
			status = OUTBOX_DEAD;
		break;
	}
	if (store_begin(db) != 0)
		return -1;
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
		return -1;
	}
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
		log_warn("action %s (%s, %s/%s, %s): dead: %s", act->a.id,
		    act->a.instance, act->a.journey, act->a.rule,
		    act->a.subject_id, reason ? reason : "failed");
		break;
	}
	return 0;
}

/* Perform one claimed action through its instance. */
static void
dispatch_one(struct dispatcher *d, sqlite3 *db, struct act *act)
{
	struct instance	*inst;
	enum jd_result	 res;
	char		 reason[1024] = "";
	int64_t		 now;

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
	if (guard_check(db, d->conf, act) != GUARD_SEND)
		return;		/* quiet hours or capped: recorded, not sent */
	if (inst == NULL || !inst->started) {
		res = JD_RETRY;
		snprintf(reason, sizeof reason, "no plugin instance \"%s\"",
		    act->a.instance);
	} else {
		act->a.settings = inst->settings;
		res = inst->plugin->act(inst->state, &inst->host, &act->a,
		    reason, sizeof reason);
		if (res > JD_HELD) {
			snprintf(reason, sizeof reason, "plugin returned an "
			    "unknown result %d", (int)res);
			res = JD_RETRY;
		}
	}
	now = time_now();
	pthread_mutex_lock(&d->lock);
	d->outcomes[res]++;
	if (inst != NULL)
		dispatch_breaker(d, inst, res == JD_RETRY, now);
	pthread_mutex_unlock(&d->lock);
	dispatch_record(d, db, act, res, reason[0] ? reason : NULL, now);
}

/* A worker: claim and perform until told to stop. */
static void *
dispatch_worker(void *arg)
{
	struct dispatcher	*d = arg;
	sqlite3			*db;
	struct act		 act;
	char			 err[512];
	int			 rc;

	if ((db = store_open(d->conf->database, err, sizeof err)) == NULL) {
		log_err("dispatcher: %s", err);
		return NULL;
	}
	for (;;) {
		pthread_mutex_lock(&d->lock);
		rc = d->stopping;
		pthread_mutex_unlock(&d->lock);
		if (rc)
			break;
		memset(&act, 0, sizeof act);
		rc = dispatch_claim(d, db, &act, time_now());
		if (rc == 1) {
			dispatch_one(d, db, &act);
			dispatch_act_free(&act);
			continue;
		}
		pthread_mutex_lock(&d->lock);
		if (d->once) {
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
	store_close(db);
	return NULL;
}

/* Start the workers. With once, they stop when nothing is due. */
struct dispatcher *
dispatch_start(const struct config *cf, int once)
{
	struct dispatcher	*d;

	d = xcalloc(1, sizeof *d);
	d->conf = cf;
	d->once = once;
	d->nworkers = cf->workers;
	d->breakers = xcalloc(cf->ninstances + 1, sizeof *d->breakers);
	for (int i = 0; i < cf->ninstances; i++)
		d->breakers[i].inst = cf->instances[i];
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->wake, NULL);
	d->threads = xcalloc(d->nworkers, sizeof *d->threads);
	for (int i = 0; i < d->nworkers; i++)
		if ((errno = pthread_create(&d->threads[i], NULL,
		    dispatch_worker, d)) != 0)
			fatalx("dispatcher: cannot start a worker: %s",
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

/* Stop claiming, let in-flight actions finish, and join the workers. In
 * once mode, wait until nothing is due. Returns the outcome counts. */
void
dispatch_stop(struct dispatcher *d, long outcomes[4])
{
	if (d == NULL)
		return;
	pthread_mutex_lock(&d->lock);
	if (!d->once)
		d->stopping = 1;
	pthread_cond_broadcast(&d->wake);
	pthread_mutex_unlock(&d->lock);
	for (int i = 0; i < d->nworkers; i++)
		pthread_join(d->threads[i], NULL);
	if (outcomes != NULL)
		memcpy(outcomes, d->outcomes, sizeof d->outcomes);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->wake);
	free(d->threads);
	free(d->breakers);
	free(d);
}
