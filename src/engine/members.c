/*
 * Memberships: who is in which journey, at which stage, since when, and
 * the history of every entry, move, completion and exit. Only this file
 * writes the members table and those history rows (an action's history
 * row is written by tick.c beside its outbox row). Writes are set-based,
 * from the tick's temporary tables:
 *   temp.tick_batch(sid, stage)  the subjects a rule holds for, at the
 *                                stage they are at
 *   temp.tick_new(subject, mask) the entrants, by the mask of the goto
 *                                rules that hold for them
 *   temp.tick_mask(mask, ...)    each distinct mask's settled stage and
 *                                the rules that moved it (",0,2,")
 *   temp.tick_emit, temp.tick_k  the history rows each step writes
 * and, for a hand-off, one subject at a time (journey_enroll).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "engine/engine-int.h"

/* The batch leaves the journey. */
int
members_exit(struct tick *t)
{
	if (eng_fixed(t, "INSERT INTO history(subject, journey, ts, what, "
	    "stage, rule) SELECT sid, :journey, :now, 'exited', stage, 'exit' "
	    "FROM temp.tick_batch", NULL, NULL, 0) < 0 ||
	    eng_fixed(t, "UPDATE members SET status = 2 WHERE journey = "
	    ":journey AND subject IN (SELECT sid FROM temp.tick_batch)", NULL,
	    NULL, 0) < 0)
		return -1;
	return 0;
}

/* The batch moves to stage `to` by rule. */
int
members_move(struct tick *t, const char *to, const char *rule, int status)
{
	if (eng_fixed(t, "INSERT INTO history(subject, journey, ts, what, "
	    "stage, from_stage, rule) SELECT sid, :journey, :now, 'moved', "
	    ":a, stage, :b FROM temp.tick_batch", to, rule, 0) < 0 ||
	    eng_fixed(t, "UPDATE members SET stage = :a, stage_since = :now, "
	    "status = :i WHERE journey = :journey AND subject IN (SELECT sid "
	    "FROM temp.tick_batch)", to, NULL, status) < 0)
		return -1;
	return 0;
}

/* The batch, just moved to the last stage, completes the journey. */
int
members_complete(struct tick *t)
{
	const char	*last = t->j->stages[t->j->nstages - 1].name;

	return eng_fixed(t, "INSERT INTO history(subject, journey, ts, what, "
	    "stage) SELECT sid, :journey, :now, 'completed', :a FROM "
	    "temp.tick_batch", last, NULL, 0) < 0 ? -1 : 0;
}

/*
 * Each mask's steps into temp.tick_steps: the entry (rule -1), then the
 * rules in its fired list, each writing its rows of tick_emit; a move comes
 * from the stage the step before went to. An entry and the move right
 * after it make one row of the history (history_steps reads it as two):
 * nothing comes between them, the entry having neither an action nor, with
 * a move to come, a completion.
 */
static int
members_steps(struct tick *t)
{
	if (eng_fixed(t, "DELETE FROM temp.tick_steps", NULL, NULL, 0) < 0 ||
	    eng_fixed(t, "INSERT INTO temp.tick_steps(mask, k, sub, what, "
	    "stage, from_stage, rule, instance) SELECT n.mask, x.k, e.sub, "
	    "e.what, e.stage, CASE WHEN e.sub = 0 AND x.k > 0 THEN (SELECT "
	    "p.stage FROM temp.tick_emit p WHERE p.ri = CASE WHEN x.k = 1 THEN "
	    "-1 ELSE CAST(substr(n.fired, 2 + (:i + 1) * (x.k - 2), :i) AS "
	    "INTEGER) END AND p.sub = 0) END, e.rule, e.instance FROM "
	    "temp.tick_mask n CROSS JOIN temp.tick_k x CROSS JOIN "
	    "temp.tick_emit e ON e.ri = CASE WHEN x.k = 0 THEN -1 ELSE "
	    "CAST(substr(n.fired, 2 + (:i + 1) * (x.k - 1), :i) AS INTEGER) END "
	    "WHERE x.k <= (length(n.fired) - 1) / (:i + 1)", NULL, NULL,
	    t->p->tagw) < 0)
		return -1;
	return 0;
}

/* Merge each entry with the move right after it (see members_steps). */
static int
members_merge(struct tick *t)
{
	if (eng_fixed(t, "UPDATE temp.tick_steps AS p SET moved_to = q.stage, "
	    "moved_rule = q.rule FROM temp.tick_steps q WHERE p.k = 0 AND "
	    "p.sub = 0 AND q.mask = p.mask AND q.k = 1 AND q.sub = 0", NULL,
	    NULL, 0) < 0 || eng_fixed(t, "DELETE FROM temp.tick_steps WHERE "
	    "k = 1 AND sub = 0", NULL, NULL, 0) < 0)
		return -1;
	return 0;
}

/*
 * The entrants in temp.tick_new join the journey at the stage their mask
 * settled on: their rows written to members, and their history (entered,
 * then for each move: moved, the move's action, completed when it reached
 * the last stage) in one statement in subject order, from the rows each
 * mask writes, so that each B-tree of the history is appended to, not torn
 * open once per step. The actions of the moves were queued after outbox
 * row `before`.
 */
int
members_settle(struct tick *t, int64_t before)
{
	int64_t	 v;

	if (eng_fixed(t, "INSERT INTO members(journey, subject, stage, status, "
	    "entered, stage_since) SELECT :journey, n.subject, k.stage, "
	    "k.status, :now, :now FROM temp.tick_new n CROSS JOIN "
	    "temp.tick_mask k ON k.mask = n.mask WHERE true ORDER BY "
	    "n.subject ON CONFLICT(journey, subject) DO UPDATE SET stage = "
	    "excluded.stage, status = excluded.status, entered = "
	    "excluded.entered, stage_since = excluded.stage_since", NULL, NULL,
	    0) < 0)
		return -1;
	if (members_steps(t) != 0)
		return -1;
	if (t->p->climb) {
		/* The moves and completions of the climb, by mask. */
		if ((v = eng_int(t, "SELECT coalesce(sum(k.n), 0) FROM "
		    "temp.tick_steps p JOIN temp.tick_mask k ON k.mask = "
		    "p.mask WHERE p.k > 0 AND p.sub = 0")) < 0)
			return -1;
		t->stats->moved += v;
		if ((v = eng_int(t, "SELECT coalesce(sum(k.n), 0) FROM "
		    "temp.tick_steps p JOIN temp.tick_mask k ON k.mask = "
		    "p.mask WHERE p.k > 0 AND p.sub = 2")) < 0)
			return -1;
		t->stats->completed += v;
	}
	if (members_merge(t) != 0)
		return -1;
	/* The loops go in the order of the CROSS JOIN: subject, then its
	 * mask's rows by (k, sub), the key of tick_steps. */
	return eng_fixed(t, "INSERT INTO history(subject, journey, ts, what, "
	    "stage, from_stage, rule, action, moved_to, moved_rule) SELECT "
	    "n.subject, :journey, :now, p.what, p.stage, p.from_stage, p.rule, "
	    "CASE WHEN p.instance IS NOT NULL THEN (SELECT o.aid FROM outbox o "
	    "WHERE o.subject = n.subject AND o.instance = p.instance AND "
	    "o.created = :now AND o.journey = :journey AND o.rule = p.rule AND "
	    "o.aid > :i) END, p.moved_to, p.moved_rule FROM temp.tick_new n "
	    "CROSS JOIN temp.tick_steps p ON p.mask = n.mask ORDER BY "
	    "n.subject, p.k, p.sub", NULL, NULL, before) < 0 ? -1 : 0;
}

/* Does on = "enter" rule r hold for subject sid now? 1, 0, or -1. */
static int
members_enter_holds(sqlite3 *db, const struct journey *j,
    const struct rule *r, int64_t sid, int64_t now)
{
	sqlite3_stmt	*st;
	struct sql	 q;
	int		 rc = -1;

	sql_init(&q);
	buf_puts(&q.text, "SELECT (");
	expr_sql(r->when, &q);
	buf_puts(&q.text, ") FROM " EXPR_FROM " WHERE s.sid = ");
	sql_add_int(&q, sid);
	if ((st = store_try_prepare(db, q.text.s)) != NULL) {
		if (sql_bind(&q, st, now, j->name) == 0 &&
		    sqlite3_step(st) == SQLITE_ROW)
			rc = sqlite3_column_int(st, 0) != 0;
		sqlite3_finalize(st);
	}
	sql_free(&q);
	return rc;
}

/* Queue on = "enter" rule r's action for subject sid at stage, as a tick
 * queues a batch's (holdout, variants, delay), with its history entry. */
static int
members_enter_queue(sqlite3 *db, const struct journey *j,
    const struct rule *r, int64_t sid, const char *stage, int64_t now)
{
	struct outbox_batch	 b = { j->name, r->name, stage, r->instance,
				    r->params != NULL ? r->params : "{}",
				    r->holdout, now, r->delay,
				    r->variants_json, r->weights_json,
				    r->weight_total, sid };
	sqlite3_stmt		*st;
	int64_t			 before;
	int			 rc;

	if ((before = outbox_last(db)) < 0 || outbox_queue_batch(db, &b) < 0)
		return -1;
	if ((st = store_try_prepare(db, "INSERT INTO history(subject, journey, "
	    "ts, what, stage, rule, action) SELECT subject, journey, ?1, "
	    "'action', stage, rule, aid FROM outbox WHERE aid > ?2")) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, before);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(st);
	return rc;
}

/*
 * A hand-off's entry into stage si of journey j: fire its on = "enter"
 * rules for the subject, as a tick fires them for the entries it writes.
 * One subject: no statement to share, so each condition is compiled here.
 */
static int
members_on_enter(sqlite3 *db, const struct journey *j, int64_t sid, int si,
    int64_t now)
{
	for (int i = 0; i < j->nrules; i++) {
		const struct rule	*r = &j->rules[i];
		int			 holds = 0;

		if (!r->on_enter)
			continue;
		for (int k = 0; k < r->nstages; k++)
			holds |= strcmp(r->stages[k], j->stages[si].name) == 0;
		if (r->nstages > 0 && !holds)
			continue;
		if ((holds = members_enter_holds(db, j, r, sid, now)) < 0)
			return -1;
		if (holds && members_enter_queue(db, j, r, sid,
		    j->stages[si].name, now) != 0)
			return -1;
	}
	return 0;
}

/* Log a change of subject sid for reacting (a hand-off's entry: the
 * subject's rules that read its stage in that journey). */
static int
members_changed(sqlite3 *db, int64_t sid)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((st = store_try_prepare(db, "INSERT INTO subject_changes(subject) "
	    "VALUES (?1)")) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, sid);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(st);
	return rc;
}

/* Enroll a subject in a journey (a hand-off). */
int
journey_enroll(sqlite3 *db, const struct config *cf, int64_t sid,
    const char *journey, const char *stage, const char *rule, int64_t now,
    char *err, size_t errlen)
{
	struct journey	*j = config_journey(cf, journey);
	sqlite3_stmt	*st;
	int		 si, n;

	if (j == NULL) {
		snprintf(err, errlen, "no journey \"%s\"", journey);
		return -1;
	}
	si = stage != NULL ? journey_stage(j, stage) : 0;
	if (si < 0) {
		snprintf(err, errlen, "no stage \"%s\" in journey \"%s\"",
		    stage, journey);
		return -1;
	}
	if ((st = store_try_prepare(db, "INSERT INTO members(journey, subject, "
	    "stage, status, entered, stage_since) VALUES (?1, ?2, ?3, ?4, ?5, "
	    "?5) ON CONFLICT(journey, subject) DO UPDATE SET stage = "
	    "excluded.stage, status = excluded.status, entered = "
	    "excluded.entered, stage_since = excluded.stage_since "
	    "WHERE members.status = 2")) == NULL)
		goto fail;
	sqlite3_bind_text(st, 1, journey, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, sid);
	sqlite3_bind_text(st, 3, j->stages[si].name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, si == j->nstages - 1 ? MEMBER_COMPLETED :
	    MEMBER_ACTIVE);
	sqlite3_bind_int64(st, 5, now);
	n = sqlite3_step(st) == SQLITE_DONE ? sqlite3_changes(db) : -1;
	sqlite3_finalize(st);
	if (n < 0)
		goto fail;
	if (n == 0)
		return 0;
	if ((st = store_try_prepare(db, "INSERT INTO history(subject, journey, "
	    "ts, what, stage, rule) VALUES (?1, ?2, ?3, 'entered', ?4, ?5)")) ==
	    NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, sid);
	sqlite3_bind_text(st, 2, journey, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_text(st, 4, j->stages[si].name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, rule, -1, SQLITE_STATIC);
	n = sqlite3_step(st) == SQLITE_DONE ? 1 : -1;
	sqlite3_finalize(st);
	if (n < 0 || members_on_enter(db, j, sid, si, now) != 0 ||
	    members_changed(db, sid) != 0)
		goto fail;
	return 1;
fail:
	snprintf(err, errlen, "%s", sqlite3_errmsg(db));
	return -1;
}

/* Queue one action for a subject (a hand-off's announcement), with its
 * 'action' entry in the history. */
int64_t
journey_queue(sqlite3 *db, int64_t sid, const char *journey, const char *rule,
    const char *stage, const char *instance, const char *params, int64_t now)
{
	sqlite3_stmt	*st;
	int64_t		 aid;

	if ((aid = outbox_queue_one(db, sid, journey, rule, stage, instance,
	    params, now)) < 0)
		return -1;
	if ((st = store_try_prepare(db, "INSERT INTO history(subject, journey, "
	    "ts, what, stage, rule, action) VALUES (?1, ?2, ?3, 'action', ?4, "
	    "?5, ?6)")) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, sid);
	sqlite3_bind_text(st, 2, journey, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_text(st, 4, stage, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, rule, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, aid);
	if (sqlite3_step(st) != SQLITE_DONE)
		aid = -1;
	sqlite3_finalize(st);
	return aid;
}

/* Is subject sid still in journey j, not exited, at the stage rule r's
 * goto took it to (stage), or for a rule without goto at one of its stages
 * (any stage when r names none)? For an on = "enter" rule, in the journey
 * at any stage since before the action was queued (queued) is enough
 * (SPEC §14.5: its delayed action is cancelled only when the subject leaves
 * the journey; one who left and came back left it). 1, 0, or -1. */
int
journey_still_at(sqlite3 *db, const struct journey *j, const struct rule *r,
    int64_t sid, const char *stage, int64_t queued)
{
	sqlite3_stmt	*st;
	int		 rc = 0;

	if ((st = store_try_prepare(db, "SELECT stage, entered FROM members "
	    "WHERE journey = ?1 AND subject = ?2 AND status IN (0, 1)")) ==
	    NULL)
		return -1;
	sqlite3_bind_text(st, 1, j->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, sid);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		if (r->on_enter) {
			rc = sqlite3_column_int64(st, 1) <= queued;
			break;
		}
		if (r->go >= 0) {
			rc = strcmp(stage, (const char *)sqlite3_column_text(
			    st, 0)) == 0;
			break;
		}
		rc = rule_at_stage(r, (const char *)sqlite3_column_text(st,
		    0));
		break;
	case SQLITE_DONE:
		break;
	default:
		rc = -1;
	}
	sqlite3_finalize(st);
	return rc;
}
