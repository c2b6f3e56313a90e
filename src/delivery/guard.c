/*
 * Guardrails (SPEC §11), decided by the host just before an action is
 * performed, and holdout buckets, decided when an action is queued.
 *
 * Quiet hours: an action due while its quiet hours hold (the rule's, else
 * its plugin instance's) in the subject's time zone (the `timezone` trait,
 * else `default_timezone`, else UTC) goes back to pending, due when they
 * end, with its attempt not counted and no failure for the circuit breaker.
 *
 * Delays and windows (SPEC §15): a rule's `delay` queued the action that
 * much later; when it comes due, it is held (reason `cancelled`) if the
 * subject has meanwhile left the journey or the rule's stages. A rule's
 * `window` lets it out only inside its local hours on its days: outside,
 * it goes back to pending, due at the next opening, as quiet hours do
 * (both may apply: each defers in turn until neither holds).
 *
 * Frequency caps: with `limit = { max = N; per = D; }` on an instance, a
 * subject gets at most N actions of that instance in any window D: those
 * done in the window (by the time they were delivered) and those in flight
 * are counted; one more is held, with the reason. The cap is per instance
 * (mail and sms have their own), across all journeys. Actions of rules with
 * `ignore_limits = true` are never capped and do not count toward the cap.
 * The count and the decision run in one write transaction, so workers
 * deciding at the same time for the same subject see each other's outcome.
 *
 * Time zones are read from the system's tz database by core/tz.c, which
 * touches no process-wide state: no TZ, no tzset(), no lock shared with
 * other threads. No code of journeyd converts with localtime_r() or
 * mktime().
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "delivery/delivery.h"

/*
 * Quiet hours from..to (minutes of the day, local) in zone at now: 1 when
 * now is in them, with *end the time they end; 0 when not. A window may
 * span midnight ("21:00-08:00"); from == to is an empty window. An unknown
 * zone is UTC. The end is the local wall-clock time `to` of that day,
 * whatever offset it has then (across a daylight-saving change too); a `to`
 * skipped by a change moves forward by the gap; a `to` shown twice (the
 * autumn overlap) is its first instant, or its second when now is past the
 * first.
 */
int
guard_quiet_end(const char *zone, int from, int to, int64_t now,
    int64_t *end)
{
	const struct tz	*z = tz_get(zone), *utc = tz_get("UTC");
	struct tz_local	 lt, at;
	int64_t		 e, wall;
	int		 m, quiet, next_day = 0;

	if (from == to)
		return 0;
	if (z == NULL)
		z = utc;
	tz_local(z, now, &lt);
	m = lt.hour * 60 + lt.min;
	if (from < to)
		quiet = m >= from && m < to;
	else {
		quiet = m >= from || m < to;
		next_day = m >= from;
	}
	if (!quiet)
		return 0;
	e = tz_mktime(z, lt.year, lt.mon, lt.mday + next_day, to / 60,
	    to % 60, 0);
	if (e <= now) {
		/* In the overlap, past the first `to`: the second one, read
		 * with the offset of now, if it shows `to`. */
		wall = tz_mktime(utc, lt.year, lt.mon, lt.mday + next_day,
		    to / 60, to % 60, 0);
		e = wall - lt.offset;
		tz_local(z, e, &at);
		if (at.offset != lt.offset)
			e = now;
	}
	*end = e > now ? e : now + 60;
	return 1;
}

/*
 * Window w in zone at now: 0 when now is inside it; else 1 with *open the
 * window's next opening. A day of the window is the day of its start (with
 * "22:00-06:00" on "fri", Saturday 05:00 is inside). An opening skipped by
 * a daylight-saving change moves forward by the gap (tz_mktime()).
 */
int
guard_window_next(const char *zone, const struct window *w, int64_t now,
    int64_t *open)
{
	const struct tz	*z = tz_get(zone);
	struct tz_local	 lt;
	int64_t		 t;
	int		 m, prev;

	if (z == NULL)
		z = tz_get("UTC");
	tz_local(z, now, &lt);
	m = lt.hour * 60 + lt.min;
	prev = (lt.wday + 6) % 7;	/* yesterday */
	if (w->from < w->to ? (w->days >> lt.wday & 1) && m >= w->from &&
	    m < w->to : ((w->days >> lt.wday & 1) && m >= w->from) ||
	    ((w->days >> prev & 1) && m < w->to))
		return 0;
	for (int k = 0; k <= 7; k++) {
		if (!(w->days >> ((lt.wday + k) % 7) & 1))
			continue;
		t = tz_mktime(z, lt.year, lt.mon, lt.mday + k, w->from / 60,
		    w->from % 60, 0);
		if (t > now) {
			*open = t;
			return 1;
		}
	}
	*open = now + 60;	/* not reached: some day of 8 opens later */
	return 1;
}

/* The rule an action came from, or NULL (a hand-off's announcement, or a
 * rule no longer in the config). */
static const struct rule *
guard_rule(const struct config *cf, const char *journey, const char *rule)
{
	const struct journey	*j = config_journey(cf, journey);

	if (j == NULL)
		return NULL;
	for (int i = 0; i < j->nrules; i++)
		if (strcmp(j->rules[i].name, rule) == 0)
			return &j->rules[i];
	return NULL;
}

/* The time zone of the action's subject (caller frees); NULL on a
 * database error. */
static char *
guard_zone(sqlite3 *db, const struct config *cf, const struct act *act)
{
	sqlite3_stmt	*st;
	char		*zone = NULL;

	if ((st = store_try_prepare(db, "SELECT json_extract(?1, "
	    "'$.timezone') WHERE json_valid(?1) AND json_type(?1, "
	    "'$.timezone') = 'text'")) == NULL)
		return NULL;
	sqlite3_bind_text(st, 1, act->a.traits, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		zone = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (zone != NULL && !tz_valid(zone)) {
		log_info("action %s (%s): unknown timezone \"%s\"; using %s",
		    act->a.id, act->a.subject_id, zone, cf->default_timezone ?
		    cf->default_timezone : "UTC");
		free(zone);
		zone = NULL;
	}
	if (zone == NULL)
		zone = xstrdup(cf->default_timezone != NULL ?
		    cf->default_timezone : "UTC");
	return zone;
}

/* How many actions of the instance count toward the subject's cap. */
static int64_t
guard_count(sqlite3 *db, const struct config *cf, const struct act *act,
    int64_t now)
{
	struct buf	 exempt;
	int64_t		 n;

	/* Rules with ignore_limits, as "journey/rule" (names are plain). */
	buf_init(&exempt);
	buf_puts(&exempt, "[");
	for (int i = 0; i < cf->njourneys; i++)
		for (int k = 0; k < cf->journeys[i].nrules; k++)
			if (cf->journeys[i].rules[k].ignore_limits)
				buf_printf(&exempt, "%s\"%s/%s\"",
				    exempt.len > 1 ? "," : "",
				    cf->journeys[i].name,
				    cf->journeys[i].rules[k].name);
	buf_puts(&exempt, "]");
	n = outbox_count_capped(db, act->sid, act->a.instance, act->aid,
	    now - act->inst->limit_per, exempt.s);
	buf_free(&exempt);
	return n;
}

/* The quiet hours that apply to an action (its rule's, else its
 * instance's), or NULL; *r is its rule, or NULL. */
static const char *
guard_quiet_hours(const struct config *cf, const struct act *act,
    const struct rule **r)
{
	*r = guard_rule(cf, act->a.journey, act->a.rule);
	return *r != NULL && (*r)->quiet_hours != NULL ? (*r)->quiet_hours :
	    act->inst->quiet_hours;
}

/* Does any guardrail apply to the action: quiet hours or a frequency cap?
 * When none does, guard_check() would say GUARD_SEND without the database:
 * the caller may skip it, and the lock it takes for it. */
int
guard_applies(const struct config *cf, const struct act *act)
{
	const struct rule	*r;
	const char		*qh;

	if (act->inst == NULL)
		return 0;
	qh = guard_quiet_hours(cf, act, &r);
	return (qh != NULL && quiet_hours_parse(qh, NULL, NULL) == 0) ||
	    (r != NULL && (r->window != NULL || r->delay > 0)) ||
	    (act->inst->limit_max > 0 && (r == NULL || !r->ignore_limits));
}

/*
 * The timing of a claimed action (in the caller's transaction): held when
 * its rule's delay found the subject gone from its stages; deferred
 * outside its window or in its quiet hours. A verdict, with *reason and
 * *end (when deferred); -1 on a database error.
 */
static int
guard_timing(sqlite3 *db, const struct config *cf, struct act *act,
    const struct rule *r, const char *qh, char *reason, size_t len,
    int64_t *end)
{
	int64_t		 now = act->a.now;
	char		*zone = NULL;
	int		 from, to, in, verdict = GUARD_SEND;

	if (r != NULL && r->delay > 0) {
		if ((in = journey_still_at(db, config_journey(cf,
		    act->a.journey), r, act->sid, act->a.stage,
		    act->a.time)) < 0)
			return -1;
		if (!in) {
			snprintf(reason, len, "cancelled");
			return outbox_hold(db, act->aid, reason, now) != 0 ?
			    -1 : GUARD_HELD;
		}
	}
	if ((r == NULL || r->window == NULL) && (qh == NULL ||
	    quiet_hours_parse(qh, NULL, NULL) != 0))
		return GUARD_SEND;
	if ((zone = guard_zone(db, cf, act)) == NULL)
		return -1;
	if (r != NULL && r->window != NULL &&
	    guard_window_next(zone, r->window, now, end)) {
		snprintf(reason, len, "window in %s", zone);
		verdict = GUARD_DEFERRED;
	} else if (qh != NULL && quiet_hours_parse(qh, &from, &to) == 0 &&
	    guard_quiet_end(zone, from, to, now, end)) {
		snprintf(reason, len, "quiet hours %s in %s", qh, zone);
		verdict = GUARD_DEFERRED;
	}
	free(zone);
	if (verdict == GUARD_DEFERRED && outbox_defer(db, act->aid, *end,
	    reason, now) != 0)
		return -1;
	return verdict;
}

/* Hold the action when its subject is at its instance's cap (in the
 * caller's transaction): a verdict with *reason, or -1. */
static int
guard_cap(sqlite3 *db, const struct config *cf, struct act *act,
    char *reason, size_t len)
{
	struct instance	*inst = act->inst;
	char		 per[32];
	int64_t		 n;

	if ((n = guard_count(db, cf, act, act->a.now)) < 0)
		return -1;
	if (n < inst->limit_max)
		return GUARD_SEND;
	if (inst->limit_per % 86400 == 0)
		snprintf(per, sizeof per, "%lldd",
		    (long long)(inst->limit_per / 86400));
	else
		duration_format(inst->limit_per, per, sizeof per);
	snprintf(reason, len, "limit: %d per %s", inst->limit_max, per);
	return outbox_hold(db, act->aid, reason, act->a.now) != 0 ? -1 :
	    GUARD_HELD;
}

/*
 * Apply the guardrails to a claimed action (in flight) before its plugin
 * performs it. GUARD_SEND: go on. GUARD_DEFERRED or GUARD_HELD: the action
 * was put back in the outbox and is not to be performed now. A database
 * fault is logged and the action goes on (a guardrail never loses one).
 */
int
guard_check(sqlite3 *db, const struct config *cf, struct act *act)
{
	const struct rule	*r;
	const char		*qh;
	char			 reason[256] = "", until[32];
	int64_t			 end = 0;
	int			 verdict;

	if (!guard_applies(cf, act))
		return GUARD_SEND;
	qh = guard_quiet_hours(cf, act, &r);
	if (store_begin(db) != 0)
		goto fault;
	verdict = guard_timing(db, cf, act, r, qh, reason, sizeof reason,
	    &end);
	if (verdict == GUARD_SEND && act->inst->limit_max > 0 &&
	    (r == NULL || !r->ignore_limits))
		verdict = guard_cap(db, cf, act, reason, sizeof reason);
	if (verdict < 0 || store_commit(db) != 0)
		goto fault;
	if (verdict == GUARD_DEFERRED)
		log_info("action %s (%s, %s/%s, %s): %s: due at %s",
		    act->a.id, act->a.instance, act->a.journey, act->a.rule,
		    act->a.subject_id, reason, time_format(end, until,
		    sizeof until));
	else if (verdict == GUARD_HELD)
		log_info("action %s (%s, %s/%s, %s): held: %s", act->a.id,
		    act->a.instance, act->a.journey, act->a.rule,
		    act->a.subject_id, reason);
	return verdict;
fault:
	log_err("action %s: guardrails: %s; performing it", act->a.id,
	    sqlite3_errmsg(db));
	store_rollback(db);
	return GUARD_SEND;
}
