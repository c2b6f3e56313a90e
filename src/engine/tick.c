/*
 * A tick (SPEC §7): for each journey, in one write transaction, subjects
 * leave on exit and enter on entry, transitions settle in the order the rules
 * are written, and action rules fire on the settled stages, their actions
 * written to the outbox in the same transaction as the firing.
 *
 * Every step is set-based: the rule's compiled expression selects all the
 * subjects it holds for into temp.tick_batch with one statement, and the
 * moves, history entries and outbox rows are written from that batch with a
 * few more. No statement runs per subject.
 *
 * Entrants climb before they are written: they enter into temp.tick_new,
 * with a mask of the goto rules (and of the action rules that cost nothing
 * more) that hold for them, all evaluated by the entry's statement over
 * reads each made once (struct expr_share); the goto rules move each
 * distinct mask, counted as it is written (jd_tally), with the same order
 * and semantics as for members, in temp.tick_mask; and they are written to
 * members once, at the stage their mask settles on, with their whole
 * history in one statement in subject order (an entry and the move right
 * after it in one row: history_steps). A first tick over many new subjects
 * so reads each of their events once and writes each row once.
 *
 * bench/tick measures it beside one hand-written statement that only
 * computes the stages.
 *
 * With JOURNEYD_DEBUG_SQL set in the environment, every statement of a
 * tick is logged with its query plan, the rows it changed and its time
 * (wall clock and CPU).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"

/* An entrant's mask has a bit for each goto rule (an SQLite integer). */
#define TICK_MASK_BITS	62

/* The distinct masks of the entrants and how many have each, counted by
 * jd_tally() as the entry statement writes them: an open-addressed table
 * of TALLY_SLOTS; past TALLY_MAX distinct masks it gives up (full), and
 * they are counted by a GROUP BY over temp.tick_new instead. */
#define TALLY_SLOTS	8192
#define TALLY_MAX	4096
struct tally {
	int64_t		 mask[TALLY_SLOTS];
	int64_t		 n[TALLY_SLOTS];	/* 0: a free slot */
	int		 used;
	int		 full;
};

struct tick {
	sqlite3			*db;
	const struct config	*conf;
	const struct journey	*j;
	int64_t			 now;
	struct tick_stats	*stats;
	int			 debug;		/* JOURNEYD_DEBUG_SQL */
	int			 climb;		/* entrants climb by their mask */
	int			 ngoto;		/* goto rules of the journey */
	int			 tagw;		/* digits of a rule index */
	int64_t			 nnew;		/* entrants in tick_new */
	int64_t			 entrants;	/* ... still, once settled */
	int			 members;	/* the journey has members */
	int			 old;		/* ... active, before entry */
	int			*fold;		/* an action rule's mask bit */
	struct tally		*tally;
};

/* A clock (CLOCK_MONOTONIC, CLOCK_THREAD_CPUTIME_ID) in seconds. */
static double
tick_clock(clockid_t id)
{
	struct timespec	 ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Prepare a statement of the tick; in debug mode, log its query plan. */
static sqlite3_stmt *
tick_prepare(struct tick *t, const char *text)
{
	sqlite3_stmt	*st, *plan;
	char		*eqp;

	if (sqlite3_prepare_v2(t->db, text, -1, &st, NULL) != SQLITE_OK) {
		log_err("journey %s: sqlite: %s", t->j->name,
		    sqlite3_errmsg(t->db));
		return NULL;
	}
	if (!t->debug)
		return st;
	log_info("sql: %s", text);
	eqp = xprintf("EXPLAIN QUERY PLAN %s", text);
	if (sqlite3_prepare_v2(t->db, eqp, -1, &plan, NULL) == SQLITE_OK) {
		while (sqlite3_step(plan) == SQLITE_ROW)
			log_info("sql:   plan %d<-%d %s",
			    sqlite3_column_int(plan, 0),
			    sqlite3_column_int(plan, 1),
			    (const char *)sqlite3_column_text(plan, 3));
		sqlite3_finalize(plan);
	}
	free(eqp);
	return st;
}

/* Step a bound statement of the tick to its end and finalize it; in debug
 * mode, log its time. Returns the number of rows changed, or -1. */
static int
tick_step(struct tick *t, sqlite3_stmt *st)
{
	double	 start = 0, cpu = 0;
	int	 rc;

	if (t->debug) {
		start = tick_clock(CLOCK_MONOTONIC);
		cpu = tick_clock(CLOCK_THREAD_CPUTIME_ID);
	}

	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		log_err("journey %s: sqlite: %s", t->j->name,
		    sqlite3_errmsg(t->db));
		return -1;
	}
	if (t->debug)
		log_info("sql:   %d rows in %.3fs (cpu %.3fs)",
		    sqlite3_changes(t->db), tick_clock(CLOCK_MONOTONIC) - start,
		    tick_clock(CLOCK_THREAD_CPUTIME_ID) - cpu);
	return sqlite3_changes(t->db);
}

/* Run a statement built in q (bound with :now and :journey); returns the
 * number of rows changed, or -1. */
static int
tick_exec(struct tick *t, struct sql *q)
{
	sqlite3_stmt	*st;

	if ((st = tick_prepare(t, q->text.s)) == NULL)
		return -1;
	sql_bind(q, st, t->now, t->j->name);
	return tick_step(t, st);
}

/* Bind :now and :journey where a statement names them. */
static void
tick_bind_names(struct tick *t, sqlite3_stmt *st)
{
	int	 i;

	if ((i = sqlite3_bind_parameter_index(st, ":now")) > 0)
		sqlite3_bind_int64(st, i, t->now);
	if ((i = sqlite3_bind_parameter_index(st, ":journey")) > 0)
		sqlite3_bind_text(st, i, t->j->name, -1, SQLITE_STATIC);
}

/* Run a fixed statement with text parameters :a and :b and an integer :i
 * (each bound only where the text uses it), and :now and :journey. Returns
 * the number of rows changed, or -1. */
static int
tick_run_sql(struct tick *t, const char *text, const char *p1,
    const char *p2, int64_t i3)
{
	sqlite3_stmt	*st;
	int		 n;

	if ((st = tick_prepare(t, text)) == NULL)
		return -1;
	n = sqlite3_bind_parameter_count(st);
	for (int i = 1; i <= n; i++) {
		const char *name = sqlite3_bind_parameter_name(st, i);
		if (name == NULL)
			continue;
		if (strcmp(name, ":a") == 0)
			sqlite3_bind_text(st, i, p1, -1, SQLITE_STATIC);
		else if (strcmp(name, ":b") == 0)
			sqlite3_bind_text(st, i, p2, -1, SQLITE_STATIC);
		else if (strcmp(name, ":i") == 0)
			sqlite3_bind_int64(st, i, i3);
	}
	tick_bind_names(t, st);
	return tick_step(t, st);
}

/* Append "AND m.stage IN (...)" for a rule's stages. */
static void
tick_stage_filter(struct sql *q, const struct rule *r)
{
	if (r->nstages == 0)
		return;
	buf_puts(&q->text, " AND m.stage IN (");
	for (int i = 0; i < r->nstages; i++) {
		if (i > 0)
			buf_puts(&q->text, ", ");
		sql_add_text(q, r->stages[i]);
	}
	buf_puts(&q->text, ")");
}

static int	tick_queue(struct tick *, const struct rule *, const char *,
		    int);

/* Mark the batch, just moved to the last stage, as completed. */
static int
tick_complete(struct tick *t)
{
	const char	*last = t->j->stages[t->j->nstages - 1].name;
	int		 n;

	if (tick_run_sql(t, "INSERT INTO history(subject, journey, ts, what, "
	    "stage) SELECT sid, :journey, :now, 'completed', :a FROM "
	    "temp.tick_batch", last, NULL, 0) < 0)
		return -1;
	n = tick_run_sql(t, "UPDATE members SET status = 1 WHERE journey = "
	    ":journey AND subject IN (SELECT sid FROM temp.tick_batch)",
	    NULL, NULL, 0);
	if (n > 0)
		t->stats->completed += n;
	return n < 0 ? -1 : 0;
}

/* Subjects in the journey who match exit leave it. */
static int
tick_exit(struct tick *t)
{
	struct sql	 q;
	int		 n;

	if (t->j->exit == NULL)
		return 0;
	if (tick_run_sql(t, "DELETE FROM temp.tick_batch", NULL, NULL, 0) < 0)
		return -1;
	sql_init(&q);
	buf_puts(&q.text, "INSERT INTO temp.tick_batch(sid, stage) SELECT "
	    "s.sid, m.stage FROM members m JOIN subjects s ON s.sid = "
	    "m.subject WHERE m.journey = :journey AND m.status IN (0, 1) AND "
	    "(");
	expr_sql(t->j->exit, &q);
	buf_puts(&q.text, ")");
	n = tick_exec(t, &q);
	sql_free(&q);
	if (n <= 0)
		return n;
	if (tick_run_sql(t, "INSERT INTO history(subject, journey, ts, what, "
	    "stage, rule) SELECT sid, :journey, :now, 'exited', stage, 'exit' "
	    "FROM temp.tick_batch", NULL, NULL, 0) < 0 ||
	    tick_run_sql(t, "UPDATE members SET status = 2 WHERE journey = "
	    ":journey AND subject IN (SELECT sid FROM temp.tick_batch)", NULL,
	    NULL, 0) < 0)
		return -1;
	t->stats->exited += n;
	return 0;
}

/* SQL jd_tally(mask): count mask in the tick's tally; returns it. */
static void
tick_tally_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct tally	*ty = sqlite3_user_data(ctx);
	int64_t		 mask = sqlite3_value_int64(argv[0]);
	uint64_t	 h;

	(void)argc;
	h = ((uint64_t)mask * 0x9e3779b97f4a7c15ULL) >> 51;	/* 13 bits */
	while (!ty->full) {
		if (ty->n[h] == 0 && ty->used == TALLY_MAX)
			ty->full = 1;
		else if (ty->n[h] == 0) {
			ty->mask[h] = mask;
			ty->n[h] = 1;
			ty->used++;
			break;
		} else if (ty->mask[h] == mask) {
			ty->n[h]++;
			break;
		} else
			h = (h + 1) % TALLY_SLOTS;
	}
	sqlite3_result_int64(ctx, mask);
}

/* Fill temp.tick_mask with the entrants' distinct masks, each at the first
 * stage, with how many have it: from the tally, or when it gave up from
 * temp.tick_new. */
static int
tick_masks(struct tick *t)
{
	const struct journey	*j = t->j;
	sqlite3_stmt		*st;
	int			 status, rc = 0;

	status = j->nstages == 1 ? MEMBER_COMPLETED : MEMBER_ACTIVE;
	if (tick_run_sql(t, "DELETE FROM temp.tick_mask", NULL, NULL, 0) < 0)
		return -1;
	if (t->tally->full)
		return tick_run_sql(t, "INSERT INTO temp.tick_mask(mask, stage, "
		    "status, seq, fired, n) SELECT mask, :a, :i, -1, ',', "
		    "count(*) FROM temp.tick_new GROUP BY mask",
		    j->stages[0].name, NULL, status) < 0 ? -1 : 0;
	if ((st = tick_prepare(t, "INSERT INTO temp.tick_mask(mask, stage, "
	    "status, seq, fired, n) VALUES (?1, ?2, ?3, -1, ',', ?4)")) == NULL)
		return -1;
	for (int i = 0; i < TALLY_SLOTS && rc == 0; i++) {
		if (t->tally->n[i] == 0)
			continue;
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, t->tally->mask[i]);
		sqlite3_bind_text(st, 2, j->stages[0].name, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, status);
		sqlite3_bind_int64(st, 4, t->tally->n[i]);
		if (sqlite3_step(st) != SQLITE_DONE) {
			log_err("journey %s: sqlite: %s", j->name,
			    sqlite3_errmsg(t->db));
			rc = -1;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

/* May action rule r be folded into the entrants' masks at bit? */
static int
tick_foldable(const struct tick *t, const struct rule *r, int bit,
    struct expr_share *share)
{
	return r->go < 0 && r->instance != NULL && bit < TICK_MASK_BITS &&
	    !expr_reads_journey(r->when, t->j->name) &&
	    expr_share_covers(share, r->when);
}

/*
 * Subjects not in the journey (or exited, with reenter) who match entry and
 * not exit enter at the first stage: into temp.tick_new, the tick's
 * entrants, which climb (tick_climb) and are written to members and the
 * history once, at the stage they settle on (tick_settle_new). Whether a
 * subject is in the journey is asked first, so that entry is evaluated only
 * for those who are not: once everyone is in, a tick costs one index probe
 * per subject.
 *
 * The same statement evaluates, for each entrant, the condition of every
 * goto rule, into the bits of its mask (the rule's bit: its place among the
 * goto rules). For an entrant they do not depend on the stage it climbs to:
 * its stage_since and entered are now, so stage_age and journey_age are 0
 * and stalled is false at every stage, and only its own membership of this
 * journey changes during the tick, which no goto condition reads when
 * t->climb is set (expr_reads_journey). So each is computed once, and the
 * climb is worked out once per distinct mask, not per subject.
 *
 * The conditions are written over shared reads (struct expr_share): each
 * distinct count, since, attr... that they make is a column of the subquery
 * over the subjects, computed once per entrant however many conditions use
 * it. An action rule whose condition makes no read the goto rules do not
 * make already costs nothing more here: it is folded in, with the next bit
 * (t->fold), and its entrants are found by their masks (tick_action)
 * instead of by reading their events again at their settled stage.
 */
static int
tick_entry(struct tick *t)
{
	const struct journey	*j = t->j;
	struct expr_share	 share = { NULL, 0 };
	struct sql		 q;
	int			 n, bit = 0;

	t->nnew = t->entrants = 0;
	if (tick_run_sql(t, "DELETE FROM temp.tick_new", NULL, NULL, 0) < 0)
		return -1;
	if (j->entry == NULL)
		return 0;
	sql_init(&q);
	memset(t->tally, 0, sizeof *t->tally);
	buf_puts(&q.text, "INSERT INTO temp.tick_new(subject, mask) SELECT "
	    "jd_sid, jd_tally(0");
	if (t->climb) {
		/* The mask, over the entrants' shared reads (jd_xN) and their
		 * own membership as they climb: the constant row m. */
		for (int i = 0; i < j->nrules; i++)
			if (j->rules[i].go >= 0)
				expr_share_add(&share, j->rules[i].when);
		q.share = &share;
		for (int pass = 0; pass < 2; pass++) {
			for (int i = 0; i < j->nrules; i++) {
				const struct rule *r = &j->rules[i];

				if (pass == 0 ? r->go < 0 :
				    !tick_foldable(t, r, bit, &share))
					continue;
				if (pass == 1)
					t->fold[i] = bit;
				buf_puts(&q.text, " + ((");
				expr_sql(r->when, &q);
				buf_printf(&q.text, ") << %d)", bit++);
			}
		}
		q.share = NULL;
	}
	buf_puts(&q.text, ")");
	/* Users are most subjects: read them in sid order (a "+" keeps the
	 * (kind, id) index out), so that the probes into members and events
	 * go in their order too, and tick_new is written in its order.
	 * Accounts are few: found by that index. */
	/* Whoever may enter is not in the journey (or has left it), where
	 * every value read from m (stage_age, journey_age, stalled) is
	 * absent: m is a row of NULLs, not a second probe of members. */
	buf_puts(&q.text, " FROM (SELECT s.sid AS jd_sid");
	expr_share_columns(&share, &q);
	buf_puts(&q.text, " FROM subjects s LEFT JOIN (SELECT NULL AS stage, "
	    "NULL AS status, NULL AS entered, NULL AS stage_since, NULL AS "
	    "subject) m WHERE ");
	buf_puts(&q.text, j->subject == SUBJECT_USER ? "+s.kind = " :
	    "s.kind = ");
	sql_add_int(&q, j->subject);
	/* Who is in the journey is asked first, unless nobody is. */
	if (t->members) {
		buf_puts(&q.text, " AND NOT EXISTS (SELECT 1 FROM members x "
		    "WHERE x.journey = :journey AND x.subject = s.sid");
		buf_puts(&q.text, j->reenter ? " AND x.status IN (0, 1))" :
		    ")");
	}
	buf_puts(&q.text, " AND (");
	expr_sql(j->entry, &q);
	buf_puts(&q.text, ")");
	if (j->exit != NULL) {
		buf_puts(&q.text, " AND NOT (");
		expr_sql(j->exit, &q);
		buf_puts(&q.text, ")");
	}
	/* OFFSET keeps SQLite from flattening the subquery into the outer
	 * one, which would copy each shared read into every use of it. */
	buf_puts(&q.text, " ORDER BY s.sid LIMIT -1 OFFSET 0) CROSS JOIN "
	    "(SELECT ");
	sql_add_text(&q, j->stages[0].name);
	buf_puts(&q.text, " AS stage, ");
	sql_add_int(&q, j->nstages == 1 ? MEMBER_COMPLETED : MEMBER_ACTIVE);
	buf_puts(&q.text, " AS status, :now AS entered, :now AS stage_since) "
	    "m");
	expr_share_free(&share);
	n = tick_exec(t, &q);
	sql_free(&q);
	if (n <= 0)
		return n;
	/* Only a subject that was in the journey before has firings. */
	if (j->reenter && tick_run_sql(t, "DELETE FROM firings WHERE "
	    "journey = :journey AND subject IN (SELECT subject FROM "
	    "temp.tick_new)", NULL, NULL, 0) < 0)
		return -1;
	t->nnew = t->entrants = n;
	t->stats->entered += n;
	if (j->nstages == 1)
		t->stats->completed += n;
	return tick_masks(t);
}

/*
 * temp.tick_emit: the history rows each step of an entrant writes, by the
 * step's rule (ri, -1 for the entry) and their order (sub): 'entered' or
 * 'moved' (0), the rule's action (1), 'completed' when it reaches the last
 * stage (2). temp.tick_k: the step numbers 0 .. the number of goto rules.
 */
static int
tick_emit_fill(struct tick *t)
{
	const struct journey	*j = t->j;
	sqlite3_stmt		*st;
	int			 rc = 0, k = 0;

	if (tick_run_sql(t, "DELETE FROM temp.tick_emit", NULL, NULL, 0) < 0 ||
	    tick_run_sql(t, "DELETE FROM temp.tick_k", NULL, NULL, 0) < 0)
		return -1;
	if ((st = tick_prepare(t, "INSERT INTO temp.tick_emit(ri, sub, what, "
	    "stage, rule, instance) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")) == NULL)
		return -1;
	for (int i = -1; i < j->nrules && rc == 0; i++) {
		const struct rule *r = i >= 0 ? &j->rules[i] : NULL;
		int go = r != NULL ? r->go : 0;

		if (go < 0)
			continue;
		for (int sub = 0; sub < 3 && rc == 0; sub++) {
			if ((sub == 1 && (r == NULL || r->instance == NULL)) ||
			    (sub == 2 && go != j->nstages - 1))
				continue;
			sqlite3_reset(st);
			sqlite3_bind_int(st, 1, i);
			sqlite3_bind_int(st, 2, sub);
			sqlite3_bind_text(st, 3, sub == 1 ? "action" : sub == 2 ?
			    "completed" : r == NULL ? "entered" : "moved", -1,
			    SQLITE_STATIC);
			sqlite3_bind_text(st, 4, j->stages[go].name, -1,
			    SQLITE_STATIC);
			if (sub < 2)
				sqlite3_bind_text(st, 5, r != NULL ? r->name :
				    "entry", -1, SQLITE_STATIC);
			else
				sqlite3_bind_null(st, 5);
			if (sub == 1)
				sqlite3_bind_text(st, 6, r->instance, -1,
				    SQLITE_STATIC);
			else
				sqlite3_bind_null(st, 6);
			if (sqlite3_step(st) != SQLITE_DONE) {
				log_err("journey %s: sqlite: %s", j->name,
				    sqlite3_errmsg(t->db));
				rc = -1;
			}
		}
		if (rc == 0 && tick_run_sql(t, "INSERT INTO temp.tick_k(k) "
		    "VALUES (:i)", NULL, NULL, k++) < 0)
			rc = -1;
	}
	sqlite3_finalize(st);
	/* An entrant's fired lists the rules that moved it, in order, each
	 * as wide as the widest rule index (",0,2," or ",03,12,"). */
	t->tagw = 1;
	for (int n = j->nrules - 1; n >= 10; n /= 10)
		t->tagw++;
	return rc;
}

/*
 * One pass of goto rule ri (bit bit of the masks) over the entrants' masks
 * in temp.tick_mask: the same order and semantics as tick_transition (each
 * rule moves a subject at most once a tick; a later pass looks only at
 * those that moved at or after this rule's turn in the previous pass), but
 * the rule holds where its bit is set, and a move updates the mask's row:
 * its stage, its status, seq and fired (",0,2,": the rules that moved it,
 * in order, from which its history is written). Returns how many masks
 * moved, or -1.
 */
static int
tick_climb_rule(struct tick *t, int ri, int bit, int pass)
{
	const struct rule	*r = &t->j->rules[ri];
	const char		*to = t->j->stages[r->go].name;
	int64_t			 seq = (int64_t)pass * t->j->nrules + ri;
	int			 last = r->go == t->j->nstages - 1;
	struct sql		 q;
	char			 tag[32];
	int			 n;

	sql_init(&q);
	buf_puts(&q.text, "UPDATE temp.tick_mask AS m SET stage = ");
	sql_add_text(&q, to);
	buf_puts(&q.text, ", status = ");
	sql_add_int(&q, last ? MEMBER_COMPLETED : MEMBER_ACTIVE);
	buf_puts(&q.text, ", seq = ");
	sql_add_int(&q, seq);
	buf_puts(&q.text, ", fired = fired || ");
	snprintf(tag, sizeof tag, "%0*d,", t->tagw, ri);
	sql_add_text(&q, tag);
	buf_printf(&q.text, " WHERE (m.mask >> %d) & 1 AND m.stage != ", bit);
	sql_add_text(&q, to);
	tick_stage_filter(&q, r);
	if (pass > 0) {
		buf_puts(&q.text, " AND m.seq >= ");
		sql_add_int(&q, seq - t->j->nrules);
		buf_puts(&q.text, " AND instr(m.fired, ");
		snprintf(tag, sizeof tag, ",%0*d,", t->tagw, ri);
		sql_add_text(&q, tag);
		buf_puts(&q.text, ") = 0");
	}
	n = tick_exec(t, &q);
	sql_free(&q);
	return n;
}

/* The entrants climb: passes of the goto rules over their masks until
 * nobody moves. */
static int
tick_climb(struct tick *t)
{
	const struct journey	*j = t->j;
	int			 moved;

	for (int pass = 0; pass <= t->ngoto && t->nnew > 0; pass++) {
		moved = 0;
		for (int i = 0, bit = 0; i < j->nrules; i++) {
			int n;
			if (j->rules[i].go < 0)
				continue;
			if ((n = tick_climb_rule(t, i, bit++, pass)) < 0)
				return -1;
			moved += n;
		}
		if (moved == 0)
			break;
	}
	return 0;
}

/* The first value of a one-row query of the tick (0 when NULL), or -1. */
static int64_t
tick_int(struct tick *t, const char *text)
{
	sqlite3_stmt	*st;
	int64_t		 v = -1;

	if ((st = tick_prepare(t, text)) == NULL)
		return -1;
	tick_bind_names(t, st);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	else
		log_err("journey %s: sqlite: %s", t->j->name,
		    sqlite3_errmsg(t->db));
	sqlite3_finalize(st);
	return v;
}

/*
 * The entrants in temp.tick_new join the journey at the stage their mask
 * settled on: the actions of the goto rules that moved them are queued,
 * their rows written to members, and their history (entered, then for each
 * move: moved, the move's action, completed when it reached the last stage)
 * in one statement in subject order, from the rows each mask writes
 * (temp.tick_steps), so that each B-tree of the history is appended to, not
 * torn open once per step.
 */
static int
tick_settle_new(struct tick *t)
{
	const struct journey	*j = t->j;
	sqlite3_stmt		*st;
	int64_t			 before, v;
	char			 tag[32];
	int			 n;

	if (t->nnew == 0)
		return 0;
	if ((before = outbox_last(t->db)) < 0)
		return -1;
	for (int i = 0; i < j->nrules; i++) {
		const struct rule *r = &j->rules[i];
		if (r->go < 0 || r->instance == NULL)
			continue;
		snprintf(tag, sizeof tag, ",%0*d,", t->tagw, i);
		if (tick_run_sql(t, "DELETE FROM temp.tick_batch", NULL, NULL,
		    0) < 0 || (n = tick_run_sql(t, "INSERT INTO "
		    "temp.tick_batch(sid, stage) SELECT subject, :a FROM "
		    "temp.tick_new WHERE mask IN (SELECT mask FROM "
		    "temp.tick_mask WHERE instr(fired, :b) > 0)",
		    j->stages[r->go].name, tag, 0)) < 0)
			return -1;
		if (n > 0 && tick_queue(t, r, j->stages[r->go].name, 0) != 0)
			return -1;
	}
	if (tick_run_sql(t, "INSERT INTO members(journey, subject, stage, "
	    "status, entered, stage_since) SELECT :journey, n.subject, "
	    "k.stage, k.status, :now, :now FROM temp.tick_new n CROSS JOIN "
	    "temp.tick_mask k ON k.mask = n.mask WHERE true ORDER BY "
	    "n.subject ON CONFLICT(journey, subject) DO UPDATE SET stage = "
	    "excluded.stage, status = excluded.status, entered = "
	    "excluded.entered, stage_since = excluded.stage_since", NULL, NULL,
	    0) < 0)
		return -1;
	/* Each mask's steps k: the entry (ri -1), then the rules in fired,
	 * each writing its rows of tick_emit; a move comes from the stage
	 * the step before went to. */
	if (tick_run_sql(t, "DELETE FROM temp.tick_steps", NULL, NULL, 0) < 0)
		return -1;
	if ((st = tick_prepare(t, "INSERT INTO temp.tick_steps(mask, k, sub, "
	    "what, stage, from_stage, rule, instance) SELECT n.mask, x.k, "
	    "e.sub, e.what, e.stage, CASE WHEN e.sub = 0 AND x.k > 0 THEN "
	    "(SELECT p.stage FROM temp.tick_emit p WHERE p.ri = CASE WHEN "
	    "x.k = 1 THEN -1 ELSE CAST(substr(n.fired, 2 + (:w + 1) * "
	    "(x.k - 2), :w) AS INTEGER) END AND p.sub = 0) END, e.rule, "
	    "e.instance FROM temp.tick_mask n CROSS JOIN temp.tick_k x CROSS "
	    "JOIN temp.tick_emit e ON e.ri = CASE WHEN x.k = 0 THEN -1 ELSE "
	    "CAST(substr(n.fired, 2 + (:w + 1) * (x.k - 1), :w) AS INTEGER) "
	    "END WHERE x.k <= (length(n.fired) - 1) / (:w + 1)")) == NULL)
		return -1;
	sqlite3_bind_int(st, sqlite3_bind_parameter_index(st, ":w"), t->tagw);
	if (tick_step(t, st) < 0)
		return -1;
	if (t->climb) {
		/* The moves and completions of the climb, by mask. */
		if ((v = tick_int(t, "SELECT coalesce(sum(k.n), 0) FROM "
		    "temp.tick_steps p JOIN temp.tick_mask k ON k.mask = "
		    "p.mask WHERE p.k > 0 AND p.sub = 0")) < 0)
			return -1;
		t->stats->moved += v;
		if ((v = tick_int(t, "SELECT coalesce(sum(k.n), 0) FROM "
		    "temp.tick_steps p JOIN temp.tick_mask k ON k.mask = "
		    "p.mask WHERE p.k > 0 AND p.sub = 2")) < 0)
			return -1;
		t->stats->completed += v;
	}
	/* An entry and the move right after it make one row of the
	 * history (history_steps reads it as two): nothing comes between
	 * them, the entry having neither an action nor, with a move to
	 * come, a completion. */
	if (tick_run_sql(t, "UPDATE temp.tick_steps AS p SET moved_to = "
	    "q.stage, moved_rule = q.rule FROM temp.tick_steps q WHERE p.k = 0 "
	    "AND p.sub = 0 AND q.mask = p.mask AND q.k = 1 AND q.sub = 0",
	    NULL, NULL, 0) < 0 || tick_run_sql(t, "DELETE FROM "
	    "temp.tick_steps WHERE k = 1 AND sub = 0", NULL, NULL, 0) < 0)
		return -1;
	/* The loops go in the order of the CROSS JOIN: subject, then its
	 * mask's rows by (k, sub), the key of tick_steps. */
	if ((st = tick_prepare(t, "INSERT INTO history(subject, journey, ts, "
	    "what, stage, from_stage, rule, action, moved_to, moved_rule) "
	    "SELECT n.subject, :journey, :now, p.what, p.stage, p.from_stage, "
	    "p.rule, CASE WHEN p.instance IS NOT NULL THEN (SELECT o.aid FROM "
	    "outbox o WHERE o.subject = n.subject AND o.instance = p.instance "
	    "AND o.created = :now AND o.journey = :journey AND o.rule = p.rule "
	    "AND o.aid > :i) END, p.moved_to, p.moved_rule FROM temp.tick_new "
	    "n CROSS JOIN temp.tick_steps p ON p.mask = n.mask ORDER BY "
	    "n.subject, p.k, p.sub")) == NULL)
		return -1;
	sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":i"), before);
	tick_bind_names(t, st);
	if (tick_step(t, st) < 0)
		return -1;
	t->nnew = 0;
	return 0;
}

/* Queue rule r's action for every subject in the batch, at stage (or, when
 * NULL, the stage the batch holds), and record the firing; with history,
 * also its 'action' entry in the history (else the caller writes it). */
static int
tick_queue(struct tick *t, const struct rule *r, const char *stage,
    int history)
{
	struct outbox_batch	 b = { t->j->name, r->name, stage, r->instance,
				    r->params != NULL ? r->params : "{}",
				    r->holdout, t->now };
	int64_t			 before;
	int			 n;

	if ((before = outbox_last(t->db)) < 0 ||
	    (n = outbox_queue_batch(t->db, &b)) < 0)
		return -1;
	if ((history && tick_run_sql(t, "INSERT INTO history(subject, "
	    "journey, ts, what, stage, rule, action) SELECT subject, journey, "
	    ":now, 'action', stage, rule, aid FROM outbox WHERE aid > :i "
	    "ORDER BY aid", NULL, NULL, before) < 0) ||
	    tick_run_sql(t, "INSERT INTO firings(journey, rule, subject, last) "
	    "SELECT :journey, :a, sid, :now FROM temp.tick_batch WHERE true "
	    "ON CONFLICT(journey, rule, subject) DO UPDATE SET last = "
	    "excluded.last", r->name, NULL, 0) < 0)
		return -1;
	t->stats->actions += n;
	return 0;
}

/*
 * One pass of transition rule ri: move the subjects it holds for. Returns
 * how many moved, or -1.
 *
 * Only a subject's own membership (stage, its age, status) changes during a
 * journey's tick, so a rule that did not hold for a subject still does not
 * unless the subject moved since the rule last looked at it. The first pass
 * looks at every member at the rule's stages; a later pass only at those
 * now at the rule's stages that moved at or after this rule's turn in the
 * previous pass, and that this rule did not move yet. temp.tick_moved has
 * a row for each subject moved in this tick: its last move's sequence
 * number pass * nrules + rule, the stage it went to, and the rules that
 * moved it (",0,2,").
 */
static int
tick_transition(struct tick *t, int ri, int pass)
{
	const struct rule	*r = &t->j->rules[ri];
	const char		*to = t->j->stages[r->go].name;
	int64_t			 seq = (int64_t)pass * t->j->nrules + ri;
	struct sql		 q;
	char			 rule_tag[32];
	int			 n;

	snprintf(rule_tag, sizeof rule_tag, ",%d,", ri);

	if (tick_run_sql(t, "DELETE FROM temp.tick_batch", NULL, NULL, 0) < 0)
		return -1;
	sql_init(&q);
	buf_puts(&q.text, "INSERT INTO temp.tick_batch(sid, stage) SELECT "
	    "s.sid, m.stage FROM ");
	if (pass == 0)
		buf_puts(&q.text, "members m JOIN subjects s ON s.sid = "
		    "m.subject WHERE ");
	else {
		buf_puts(&q.text, "temp.tick_moved v CROSS JOIN members m "
		    "CROSS JOIN subjects s ON s.sid = m.subject WHERE v.seq "
		    ">= ");
		sql_add_int(&q, seq - t->j->nrules);
		if (r->nstages > 0) {
			buf_puts(&q.text, " AND v.stage IN (");
			for (int i = 0; i < r->nstages; i++) {
				if (i > 0)
					buf_puts(&q.text, ", ");
				sql_add_text(&q, r->stages[i]);
			}
			buf_puts(&q.text, ")");
		}
		buf_puts(&q.text, " AND m.subject = v.sid AND ");
	}
	buf_puts(&q.text, "m.journey = :journey AND m.status IN (0, 1) AND "
	    "m.stage != ");
	sql_add_text(&q, to);
	tick_stage_filter(&q, r);
	if (pass > 0) {
		buf_puts(&q.text, " AND instr(v.fired, ");
		sql_add_text(&q, rule_tag);
		buf_puts(&q.text, ") = 0");
	}
	buf_puts(&q.text, " AND (");
	expr_sql(r->when, &q);
	buf_puts(&q.text, ")");
	n = tick_exec(t, &q);
	sql_free(&q);
	if (n <= 0)
		return n;
	if (tick_run_sql(t, "INSERT INTO history(subject, journey, ts, what, "
	    "stage, from_stage, rule) SELECT sid, :journey, :now, 'moved', "
	    ":a, stage, :b FROM temp.tick_batch", to, r->name, 0) < 0 ||
	    tick_run_sql(t, "UPDATE members SET stage = :a, stage_since = :now, "
	    "status = 0 WHERE journey = :journey AND subject IN (SELECT sid "
	    "FROM temp.tick_batch)", to, NULL, 0) < 0 ||
	    tick_run_sql(t, "INSERT INTO temp.tick_moved(sid, seq, stage, "
	    "fired) SELECT sid, :i, :a, :b FROM temp.tick_batch WHERE true ON "
	    "CONFLICT(sid) DO UPDATE SET seq = excluded.seq, stage = "
	    "excluded.stage, fired = fired || substr(excluded.fired, 2)", to,
	    rule_tag, seq) < 0)
		return -1;
	t->stats->moved += n;
	if (r->instance != NULL && tick_queue(t, r, to, 1) != 0)
		return -1;
	if (r->go == t->j->nstages - 1 && tick_complete(t) != 0)
		return -1;
	return n;
}

/*
 * Action rule ri fires for the subjects at its stages for whom it holds and
 * whose last firing is older than repeat (or never, for once). The
 * entrants that climbed (who have no firings: new, or deleted at
 * re-entry) are found apart, by their masks' settled stages: by the rule's
 * bit when it was folded into them (t->fold), else by its condition over
 * them alone, their membership that of their mask (entered now). The
 * members that were there before the entry, if any, are evaluated as
 * usual.
 */
static int
tick_action(struct tick *t, int ri)
{
	const struct rule	*r = &t->j->rules[ri];
	int			 bit = t->fold[ri], n = 0, k;
	int			 apart = t->climb && t->entrants > 0;
	struct sql		 q;

	if (tick_run_sql(t, "DELETE FROM temp.tick_batch", NULL, NULL, 0) < 0)
		return -1;
	if (apart) {
		sql_init(&q);
		buf_puts(&q.text, "INSERT INTO temp.tick_batch(sid, stage) "
		    "SELECT n.subject, m.stage FROM temp.tick_new n CROSS JOIN "
		    "(SELECT mask, stage, status, :now AS entered, :now AS "
		    "stage_since FROM temp.tick_mask) m ON m.mask = n.mask");
		if (bit < 0)
			buf_puts(&q.text, " CROSS JOIN subjects s ON s.sid = "
			    "n.subject");
		buf_puts(&q.text, " WHERE m.status IN (0, 1)");
		tick_stage_filter(&q, r);
		if (bit >= 0)
			buf_printf(&q.text, " AND (m.mask >> %d) & 1", bit);
		else {
			buf_puts(&q.text, " AND (");
			expr_sql(r->when, &q);
			buf_puts(&q.text, ")");
		}
		n = tick_exec(t, &q);
		sql_free(&q);
		if (n < 0)
			return -1;
	}
	if (!apart || t->old) {
		sql_init(&q);
		buf_puts(&q.text, "INSERT INTO temp.tick_batch(sid, stage) "
		    "SELECT s.sid, m.stage FROM members m JOIN subjects s ON "
		    "s.sid = m.subject WHERE m.journey = :journey AND m.status "
		    "IN (0, 1)");
		tick_stage_filter(&q, r);
		if (apart)
			buf_puts(&q.text, " AND NOT EXISTS (SELECT 1 FROM "
			    "temp.tick_new n WHERE n.subject = m.subject)");
		buf_puts(&q.text, " AND NOT EXISTS (SELECT 1 FROM firings f "
		    "WHERE f.journey = :journey AND f.subject = s.sid AND "
		    "f.rule = ");
		sql_add_text(&q, r->name);
		if (r->repeat > 0) {
			buf_puts(&q.text, " AND f.last > :now - ");
			sql_add_int(&q, r->repeat);
		}
		buf_puts(&q.text, ") AND (");
		expr_sql(r->when, &q);
		buf_puts(&q.text, ")");
		k = tick_exec(t, &q);
		sql_free(&q);
		if (k < 0)
			return -1;
		n += k;
	}
	return n > 0 ? tick_queue(t, r, NULL, 1) : 0;
}

/* Evaluate one journey; the caller owns the transaction. */
static int
tick_journey(struct tick *t)
{
	const struct journey	*j = t->j;
	int			 moved;

	/* The entrants climb on their own unless a goto rule reads the
	 * subject's own membership of this journey, which they do not have
	 * until they are written to members, or there are more goto rules
	 * than a mask has bits: then they are written at once, at the first
	 * stage, and climb with the members. */
	t->climb = 1;
	t->ngoto = 0;
	for (int i = 0; i < j->nrules; i++)
		t->fold[i] = -1;
	for (int i = 0; i < j->nrules; i++) {
		if (j->rules[i].go < 0)
			continue;
		t->ngoto++;
		if (expr_reads_journey(j->rules[i].when, j->name))
			t->climb = 0;
	}
	if (t->ngoto > TICK_MASK_BITS)
		t->climb = 0;
	if (tick_exit(t) != 0 || tick_emit_fill(t) != 0 ||
	    (t->members = tick_int(t, "SELECT EXISTS (SELECT 1 FROM members "
	    "WHERE journey = :journey)")) < 0 ||
	    (t->old = tick_int(t, "SELECT EXISTS (SELECT 1 FROM members "
	    "WHERE journey = :journey AND status IN (0, 1))")) < 0 ||
	    tick_entry(t) != 0)
		return -1;
	if (t->climb ? tick_climb(t) != 0 : tick_settle_new(t) != 0)
		return -1;
	if (tick_run_sql(t, "DELETE FROM temp.tick_moved", NULL, NULL, 0) < 0)
		return -1;
	/* Transitions settle: passes until nobody moves; each rule moves a
	 * subject at most once a tick, so this ends. */
	for (int pass = 0; pass <= t->ngoto; pass++) {
		moved = 0;
		for (int i = 0; i < j->nrules; i++) {
			int n;
			if (j->rules[i].go < 0)
				continue;
			if ((n = tick_transition(t, i, pass)) < 0)
				return -1;
			moved += n;
		}
		if (moved == 0)
			break;
	}
	if (tick_settle_new(t) != 0)
		return -1;
	for (int i = 0; i < j->nrules; i++) {
		const struct rule *r = &j->rules[i];
		if (r->go < 0 && r->instance != NULL && tick_action(t, i) != 0)
			return -1;
	}
	return 0;
}

/* Print what a dry run found: the history rows after hid. */
static void
tick_print(sqlite3 *db, int64_t hid, FILE *out)
{
	sqlite3_stmt	*st;

	st = store_prepare(db, "SELECT h.journey, s.kind, s.id, h.what, "
	    "h.stage, h.from_stage, h.rule, o.instance, o.status FROM "
	    "history_steps h JOIN subjects s ON s.sid = h.subject LEFT JOIN "
	    "outbox o ON o.aid = h.action WHERE h.hid > :a ORDER BY h.hid, "
	    "h.part");
	sqlite3_bind_int64(st, 1, hid);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *journey = (const char *)sqlite3_column_text(st, 0);
		const char *kind = sqlite3_column_int(st, 1) == SUBJECT_ACCOUNT
		    ? "account:" : "";
		const char *id = (const char *)sqlite3_column_text(st, 2);
		const char *what = (const char *)sqlite3_column_text(st, 3);
		const char *stage = (const char *)sqlite3_column_text(st, 4);
		const char *from = (const char *)sqlite3_column_text(st, 5);
		const char *rule = (const char *)sqlite3_column_text(st, 6);
		const char *inst = (const char *)sqlite3_column_text(st, 7);

		if (strcmp(what, "moved") == 0)
			fprintf(out, "%s %s%s: moved %s -> %s (rule %s)\n",
			    journey, kind, id, from, stage, rule);
		else if (strcmp(what, "action") == 0)
			fprintf(out, "%s %s%s: action %s at %s (rule %s)%s\n",
			    journey, kind, id, inst ? inst : "?", stage, rule,
			    sqlite3_column_int(st, 8) == OUTBOX_HELD ?
			    " held out" : "");
		else if (strcmp(what, "entered") == 0)
			fprintf(out, "%s %s%s: entered at %s\n", journey, kind,
			    id, stage);
		else
			fprintf(out, "%s %s%s: %s at %s\n", journey, kind, id,
			    what, stage);
	}
	sqlite3_finalize(st);
}

/* Run one tick of every journey. */
int
tick_run(sqlite3 *db, const struct config *cf, int64_t now, int dry_run,
    FILE *out, struct tick_stats *stats)
{
	struct tick_stats	 dummy;
	struct tick		 t = { .db = db, .conf = cf, .now = now,
				    .stats = stats ? stats : &dummy };

	sqlite3_stmt		*st;
	int64_t			 hid = 0;
	int			 rc = 0;
	char			 when[32];
	double			 start;

	memset(t.stats, 0, sizeof *t.stats);
	t.debug = getenv("JOURNEYD_DEBUG_SQL") != NULL;
	if (store_exec(db, "CREATE TEMP TABLE IF NOT EXISTS tick_batch "
	    "(sid INTEGER PRIMARY KEY, stage TEXT);"
	    "CREATE TEMP TABLE IF NOT EXISTS tick_moved (sid INTEGER "
	    "PRIMARY KEY, seq INTEGER NOT NULL, stage TEXT NOT NULL, "
	    "fired TEXT NOT NULL);"
	    "CREATE INDEX IF NOT EXISTS temp.tick_moved_stage ON "
	    "tick_moved(stage, seq);"
	    "CREATE TEMP TABLE IF NOT EXISTS tick_new (subject INTEGER "
	    "PRIMARY KEY, mask INTEGER NOT NULL);"
	    "CREATE TEMP TABLE IF NOT EXISTS tick_mask (mask INTEGER PRIMARY "
	    "KEY, stage TEXT NOT NULL, status INTEGER NOT NULL, seq INTEGER "
	    "NOT NULL, fired TEXT NOT NULL, n INTEGER NOT NULL);"
	    "CREATE TEMP TABLE IF NOT EXISTS tick_steps (mask INTEGER NOT "
	    "NULL, k INTEGER NOT NULL, sub INTEGER NOT NULL, what TEXT NOT "
	    "NULL, stage TEXT NOT NULL, from_stage TEXT, rule TEXT, instance "
	    "TEXT, moved_to TEXT, moved_rule TEXT, PRIMARY KEY (mask, k, "
	    "sub)) WITHOUT ROWID;"
	    "CREATE TEMP TABLE IF NOT EXISTS tick_emit (ri INTEGER NOT NULL, "
	    "sub INTEGER NOT NULL, what TEXT NOT NULL, stage TEXT NOT NULL, "
	    "rule TEXT, instance TEXT, PRIMARY KEY (ri, sub)) WITHOUT ROWID;"
	    "CREATE TEMP TABLE IF NOT EXISTS tick_k (k INTEGER PRIMARY KEY)")
	    != 0)
		return -1;
	if (bucket_register(db) != 0 || expr_register(db) != 0)
		return -1;
	t.tally = xcalloc(1, sizeof *t.tally);
	if (sqlite3_create_function(db, "jd_tally", 1, SQLITE_UTF8 |
	    SQLITE_DIRECTONLY, t.tally, tick_tally_fn, NULL, NULL) !=
	    SQLITE_OK) {
		free(t.tally);
		return -1;
	}

	start = tick_clock(CLOCK_MONOTONIC);
	for (int i = 0; i < cf->njourneys; i++) {
		struct tick_stats before = *t.stats;

		t.j = &cf->journeys[i];
		t.fold = xreallocarray(t.fold, t.j->nrules + 1,
		    sizeof *t.fold);
		if (store_begin(db) != 0) {
			log_err("journey %s: cannot start its tick: %s",
			    t.j->name, sqlite3_errmsg(db));
			rc = -1;
			continue;
		}
		if (dry_run) {
			st = store_prepare(db, "SELECT coalesce(max(hid), 0) "
			    "FROM history");
			if (sqlite3_step(st) == SQLITE_ROW)
				hid = sqlite3_column_int64(st, 0);
			sqlite3_finalize(st);
		}
		if (tick_journey(&t) != 0) {
			log_err("journey %s: tick failed, nothing of it was "
			    "applied", t.j->name);
			store_rollback(db);
			*t.stats = before;	/* count only what was applied */
			rc = -1;
			continue;
		}
		if (dry_run) {
			tick_print(db, hid, out);
			store_rollback(db);
		} else if (store_commit(db) != 0) {
			log_err("journey %s: tick not committed, nothing of it "
			    "was applied", t.j->name);
			store_rollback(db);
			*t.stats = before;
			rc = -1;
		}
	}
	/* The last tick is one that applied every journey. */
	if (!dry_run && rc == 0) {
		store_meta_set(db, "last_tick", time_format(now, when,
		    sizeof when));
	}
	t.stats->seconds = tick_clock(CLOCK_MONOTONIC) - start;
	free(t.fold);
	sqlite3_create_function(db, "jd_tally", 1, SQLITE_UTF8, NULL, NULL,
	    NULL, NULL);
	free(t.tally);
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
	st = store_prepare(db, "INSERT INTO members(journey, subject, stage, "
	    "status, entered, stage_since) VALUES (?1, ?2, ?3, ?4, ?5, ?5) "
	    "ON CONFLICT(journey, subject) DO UPDATE SET stage = "
	    "excluded.stage, status = excluded.status, entered = "
	    "excluded.entered, stage_since = excluded.stage_since "
	    "WHERE members.status = 2");
	sqlite3_bind_text(st, 1, journey, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, sid);
	sqlite3_bind_text(st, 3, j->stages[si].name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, si == j->nstages - 1 ? MEMBER_COMPLETED :
	    MEMBER_ACTIVE);
	sqlite3_bind_int64(st, 5, now);
	if (sqlite3_step(st) != SQLITE_DONE) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	if ((n = sqlite3_changes(db)) == 0)
		return 0;
	st = store_prepare(db, "INSERT INTO history(subject, journey, ts, "
	    "what, stage, rule) VALUES (?1, ?2, ?3, 'entered', ?4, ?5)");
	sqlite3_bind_int64(st, 1, sid);
	sqlite3_bind_text(st, 2, journey, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_text(st, 4, j->stages[si].name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, rule, -1, SQLITE_STATIC);
	n = sqlite3_step(st) == SQLITE_DONE ? 1 : -1;
	sqlite3_finalize(st);
	if (n < 0)
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
	return n;
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
