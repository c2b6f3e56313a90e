/*
 * A tick (SPEC §7): for each journey, subjects leave on exit and enter on
 * entry, transitions settle in the order the rules are written, and action
 * rules fire on the settled stages, their actions written to the outbox in
 * the same transaction as the firing.
 *
 * Chunks. A journey is evaluated over one range of subject ids (a chunk) at
 * a time, each chunk in one write transaction: every statement below is
 * restricted to the chunk's subjects (:lo, :hi), so that a tick over a
 * million subjects holds the write lock for tens of milliseconds at a
 * time, and ingest and delivery write between its chunks. This changes no
 * outcome: within a journey, a rule reads only its subject's own data and
 * membership (and its account's, or its users'), never another subject's
 * membership of the same journey, so the chunks are independent. The chunk
 * is sized as the tick goes, for about ENG_CHUNK_MS a transaction. A
 * scoped tick (reacting) runs the same statements over the subjects of
 * temp.tick_scope only.
 *
 * Every step is set-based: the rule's compiled expression selects all the
 * subjects of the chunk it holds for into temp.tick_batch with one
 * statement, and the moves, history entries and outbox rows are written
 * from that batch with a few more. No statement runs per subject. Each
 * rule's statements are compiled and prepared once per config (stmt.c).
 *
 * Entrants climb before they are written: they enter into temp.tick_new,
 * with a mask of the goto rules (and of the action rules that cost nothing
 * more) that hold for them, all evaluated by the entry's statement over
 * reads each made once (struct expr_share); the goto rules move each
 * distinct mask, counted as it is written (jd_tally), with the same order
 * and semantics as for members, in temp.tick_mask; and they are written to
 * members once, at the stage their mask settles on (members_settle). The
 * members who were there before move by tick_transition. These are two
 * implementations of a goto rule, kept for the first tick's speed: with
 * JOURNEYD_TICK_NOCLIMB set, entrants are written at the first stage and
 * climb with the members, and tests/e2e/climb.py checks that both give the
 * same memberships, history and actions.
 *
 * bench/tick measures it beside one hand-written statement that only
 * computes the stages.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine-int.h"

/* An entrant's mask has a bit for each goto rule (an SQLite integer). */
#define TICK_MASK_BITS	62

#define ENG_CHUNK_MS	40	/* aimed at, per write transaction */
#define ENG_CHUNK_MIN	256	/* subjects per chunk, at least */
#define ENG_CHUNK_MAX	(1 << 20)

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

/* The kinds of a journey's keyed statements (eng_key). */
enum {
	K_EXIT, K_ENTRY, K_CLIMB, K_TRANSITION, K_APART, K_ACTION, K_ENTER
};

/* A clock in seconds. */
static double
tick_clock(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Append "AND m.stage IN (...)" for a rule's stages. */
static void
tick_stage_filter(struct sql *q, const struct rule *r, const char *col)
{
	if (r->nstages == 0)
		return;
	buf_printf(&q->text, " AND %s IN (", col);
	for (int i = 0; i < r->nstages; i++) {
		if (i > 0)
			buf_puts(&q->text, ", ");
		sql_add_text(q, r->stages[i]);
	}
	buf_puts(&q->text, ")");
}

/* Append the restriction of a subject column to the chunk: its range of
 * sids, and in a scoped tick the scope's. */
static void
tick_chunk_sql(const struct tick *t, struct sql *q, const char *col)
{
	if (t->scoped)
		buf_printf(&q->text, " AND %s IN (SELECT sid FROM "
		    "temp.tick_scope WHERE sid BETWEEN :lo AND :hi)", col);
	else
		buf_printf(&q->text, " AND %s BETWEEN :lo AND :hi", col);
}

static int	tick_queue(struct tick *, const struct rule *, const char *,
		    int);

/* Subjects in the journey who match exit leave it. */
static int
tick_exit(struct tick *t)
{
	uint64_t	 key = eng_key(t, K_EXIT, -1, 0);
	struct estmt	*es;
	struct sql	 q;
	int		 n;

	if (t->j->exit == NULL)
		return 0;
	if (eng_fixed(t, "DELETE FROM temp.tick_batch", NULL, NULL, 0) < 0)
		return -1;
	if ((es = eng_cached(t->e, key)) == NULL) {
		sql_init(&q);
		buf_puts(&q.text, "INSERT INTO temp.tick_batch(sid, stage) "
		    "SELECT s.sid, m.stage FROM members m JOIN subjects s ON "
		    "s.sid = m.subject WHERE m.journey = :journey AND m.status "
		    "IN (0, 1)");
		tick_chunk_sql(t, &q, "m.subject");
		buf_puts(&q.text, " AND (");
		expr_sql(t->j->exit, &q);
		buf_puts(&q.text, ")");
		es = eng_prepare(t->e, key, &q, t->j->name);
		sql_free(&q);
	}
	if (es == NULL || (n = eng_run(t, es, NULL, NULL, 0)) < 0)
		return -1;
	if (n == 0)
		return 0;
	if (members_exit(t) != 0)
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
	struct tally		*ty = t->e->tally;
	struct estmt		*es;
	int			 status, rc = 0;

	status = j->nstages == 1 ? MEMBER_COMPLETED : MEMBER_ACTIVE;
	if (eng_fixed(t, "DELETE FROM temp.tick_mask", NULL, NULL, 0) < 0)
		return -1;
	if (ty->full)
		return eng_fixed(t, "INSERT INTO temp.tick_mask(mask, stage, "
		    "status, seq, fired, n) SELECT mask, :a, :i, -1, ',', "
		    "count(*) FROM temp.tick_new GROUP BY mask",
		    j->stages[0].name, NULL, status) < 0 ? -1 : 0;
	if ((es = eng_fixed_stmt(t, "INSERT INTO temp.tick_mask(mask, stage, "
	    "status, seq, fired, n) VALUES (?1, ?2, ?3, -1, ',', ?4)")) == NULL)
		return -1;
	for (int i = 0; i < TALLY_SLOTS && rc == 0; i++) {
		if (ty->n[i] == 0)
			continue;
		sqlite3_bind_int64(es->st, 1, ty->mask[i]);
		sqlite3_bind_text(es->st, 2, j->stages[0].name, -1,
		    SQLITE_STATIC);
		sqlite3_bind_int(es->st, 3, status);
		sqlite3_bind_int64(es->st, 4, ty->n[i]);
		if (sqlite3_step(es->st) != SQLITE_DONE) {
			log_err("journey %s: sqlite: %s", j->name,
			    sqlite3_errmsg(t->e->db));
			rc = -1;
		}
		sqlite3_reset(es->st);
	}
	return rc;
}

/* May action rule r be folded into the entrants' masks at bit? */
static int
tick_foldable(const struct tick *t, const struct rule *r, int bit,
    struct expr_share *share)
{
	return r->go < 0 && r->instance != NULL && !r->on_enter &&
	    bit < TICK_MASK_BITS &&
	    !expr_reads_journey(r->when, t->j->name) &&
	    expr_share_covers(share, r->when);
}

/* Append to q the entrants' mask: the bits of the goto rules that hold for
 * them, then of the action rules folded in (which records their bits in
 * the journey's plan, the same for every statement built). */
static void
tick_entry_mask(struct tick *t, struct sql *q, struct expr_share *share)
{
	const struct journey	*j = t->j;
	int			 bit = 0;

	for (int i = 0; i < j->nrules; i++)
		if (j->rules[i].go >= 0)
			expr_share_add(share, j->rules[i].when);
	q->share = share;
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < j->nrules; i++) {
			const struct rule *r = &j->rules[i];

			if (pass == 0 ? r->go < 0 :
			    !tick_foldable(t, r, bit, share))
				continue;
			if (pass == 1)
				t->p->fold[i] = bit;
			buf_puts(&q->text, " + ((");
			expr_sql(r->when, q);
			buf_printf(&q->text, ") << %d)", bit++);
		}
	}
	q->share = NULL;
	t->p->folded = 1;
}

/*
 * The entry statement of the journey, for a chunk with or without members:
 * subjects not in the journey (or exited, with reenter) who match entry and
 * not exit, into temp.tick_new with their masks. Whether a subject is in
 * the journey is asked first, so that entry is evaluated only for those who
 * are not: once everyone is in, it costs one index probe per subject.
 */
static void
tick_entry_sql(struct tick *t, struct sql *q, int members)
{
	const struct journey	*j = t->j;
	struct expr_share	 share = { NULL, 0 };

	buf_puts(&q->text, "INSERT INTO temp.tick_new(subject, mask) SELECT "
	    "jd_sid, jd_tally(0");
	if (t->p->climb)
		tick_entry_mask(t, q, &share);
	buf_puts(&q->text, ")");
	/* Users are most subjects: read them in sid order (a "+" keeps the
	 * (kind, id) index out), so that the probes into members and events
	 * go in their order too, and tick_new is written in its order.
	 * Whoever may enter is not in the journey (or has left it), where
	 * every value read from m (stage_age, journey_age, stalled) is
	 * absent: m is a row of NULLs, not a second probe of members. */
	buf_puts(&q->text, " FROM (SELECT s.sid AS jd_sid");
	expr_share_columns(&share, q);
	buf_puts(&q->text, " FROM subjects s LEFT JOIN (SELECT NULL AS stage, "
	    "NULL AS status, NULL AS entered, NULL AS stage_since, NULL AS "
	    "subject) m WHERE ");
	buf_puts(&q->text, j->subject == SUBJECT_USER ? "+s.kind = " :
	    "s.kind = ");
	sql_add_int(q, j->subject);
	tick_chunk_sql(t, q, "s.sid");
	if (members) {
		buf_puts(&q->text, " AND NOT EXISTS (SELECT 1 FROM members x "
		    "WHERE x.journey = :journey AND x.subject = s.sid");
		buf_puts(&q->text, j->reenter ? " AND x.status IN (0, 1))" :
		    ")");
	}
	buf_puts(&q->text, " AND (");
	expr_sql(j->entry, q);
	buf_puts(&q->text, ")");
	if (j->exit != NULL) {
		buf_puts(&q->text, " AND NOT (");
		expr_sql(j->exit, q);
		buf_puts(&q->text, ")");
	}
	/* OFFSET keeps SQLite from flattening the subquery into the outer
	 * one, which would copy each shared read into every use of it. */
	buf_puts(&q->text, " ORDER BY s.sid LIMIT -1 OFFSET 0) CROSS JOIN "
	    "(SELECT ");
	sql_add_text(q, j->stages[0].name);
	buf_puts(&q->text, " AS stage, ");
	sql_add_int(q, j->nstages == 1 ? MEMBER_COMPLETED : MEMBER_ACTIVE);
	buf_puts(&q->text, " AS status, :now AS entered, :now AS stage_since) "
	    "m");
	expr_share_free(&share);
}

/*
 * The entrants of the chunk enter at the first stage: into temp.tick_new,
 * which climb (tick_climb) and are written to members and the history
 * once, at the stage they settle on (tick_settle_new).
 *
 * The same statement evaluates, for each entrant, the condition of every
 * goto rule, into the bits of its mask (the rule's bit: its place among the
 * goto rules). For an entrant they do not depend on the stage it climbs to:
 * its stage_since and entered are now, so stage_age and journey_age are 0
 * and stalled is false at every stage, and only its own membership of this
 * journey changes during the tick, which no goto condition reads when
 * climbing (expr_reads_journey). So each is computed once, and the climb
 * is worked out once per distinct mask, not per subject. An action rule
 * whose condition makes no read the goto rules do not make already costs
 * nothing more here: it is folded in, with the next bit (the plan's fold),
 * and its entrants are found by their masks (tick_action).
 */
static int
tick_entry(struct tick *t)
{
	const struct journey	*j = t->j;
	uint64_t		 key = eng_key(t, K_ENTRY, -1, t->members);
	struct estmt		*es;
	struct sql		 q;
	int			 n;

	t->nnew = t->entrants = 0;
	if (eng_fixed(t, "DELETE FROM temp.tick_new", NULL, NULL, 0) < 0)
		return -1;
	if (j->entry == NULL)
		return 0;
	if ((es = eng_cached(t->e, key)) == NULL) {
		sql_init(&q);
		tick_entry_sql(t, &q, t->members);
		es = eng_prepare(t->e, key, &q, j->name);
		sql_free(&q);
	}
	memset(t->e->tally, 0, sizeof *t->e->tally);
	if (es == NULL || (n = eng_run(t, es, NULL, NULL, 0)) < 0)
		return -1;
	if (n == 0)
		return 0;
	/* A re-entry keeps the subject's firings: a "once" rule fires at
	 * most once per subject (SPEC §5), whatever its comings and goings,
	 * and a repeat counts from its last firing. */
	t->nnew = t->entrants = n;
	t->stats->entered += n;
	if (j->nstages == 1)
		t->stats->completed += n;
	return tick_masks(t);
}

/* Insert one row of temp.tick_emit. */
static int
tick_emit_row(struct tick *t, struct estmt *es, int ri, int sub,
    const char *what, const char *stage, const char *rule, const char *inst)
{
	int	 rc;

	sqlite3_bind_int(es->st, 1, ri);
	sqlite3_bind_int(es->st, 2, sub);
	sqlite3_bind_text(es->st, 3, what, -1, SQLITE_STATIC);
	sqlite3_bind_text(es->st, 4, stage, -1, SQLITE_STATIC);
	sqlite3_bind_text(es->st, 5, rule, -1, SQLITE_STATIC);
	sqlite3_bind_text(es->st, 6, inst, -1, SQLITE_STATIC);
	rc = sqlite3_step(es->st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(es->st);
	if (rc != 0)
		log_err("journey %s: sqlite: %s", t->j->name,
		    sqlite3_errmsg(t->e->db));
	return rc;
}

/*
 * temp.tick_emit: the history rows each step of an entrant writes, by the
 * step's rule (ri, -1 for the entry) and their order (sub): 'entered' or
 * 'moved' (0), the rule's action (1), 'completed' when it reaches the last
 * stage (2). temp.tick_k: the step numbers 0 .. the number of goto rules.
 * Once per journey and tick.
 */
static int
tick_emit_fill(struct tick *t)
{
	const struct journey	*j = t->j;
	struct estmt		*es;
	int			 rc = 0, k = 0;

	if (eng_fixed(t, "DELETE FROM temp.tick_emit", NULL, NULL, 0) < 0 ||
	    eng_fixed(t, "DELETE FROM temp.tick_k", NULL, NULL, 0) < 0 ||
	    (es = eng_fixed_stmt(t, "INSERT INTO temp.tick_emit(ri, sub, what, "
	    "stage, rule, instance) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")) == NULL)
		return -1;
	for (int i = -1; i < j->nrules && rc == 0; i++) {
		const struct rule *r = i >= 0 ? &j->rules[i] : NULL;
		const char *stage;
		int go = r != NULL ? r->go : 0;

		if (go < 0)
			continue;
		stage = j->stages[go].name;
		rc = tick_emit_row(t, es, i, 0, r == NULL ? "entered" : "moved",
		    stage, r != NULL ? r->name : "entry", NULL);
		if (rc == 0 && r != NULL && r->instance != NULL)
			rc = tick_emit_row(t, es, i, 1, "action", stage,
			    r->name, r->instance);
		if (rc == 0 && go == j->nstages - 1)
			rc = tick_emit_row(t, es, i, 2, "completed", stage,
			    NULL, NULL);
		if (rc == 0 && eng_fixed(t, "INSERT INTO temp.tick_k(k) VALUES "
		    "(:i)", NULL, NULL, k++) < 0)
			rc = -1;
	}
	return rc;
}

/*
 * One pass of goto rule ri (bit bit of the masks) over the entrants' masks
 * in temp.tick_mask: the same order and semantics as tick_transition (each
 * rule moves a subject at most once a tick; a later pass looks only at
 * those that moved at or after this rule's turn in the previous pass, :i),
 * but the rule holds where its bit is set, and a move updates the mask's
 * row: its stage, its status, seq and fired (",0,2,": the rules that moved
 * it, in order, from which its history is written). Returns how many masks
 * moved, or -1.
 */
static int
tick_climb_rule(struct tick *t, int ri, int bit, int pass)
{
	const struct rule	*r = &t->j->rules[ri];
	const char		*to = t->j->stages[r->go].name;
	int64_t			 seq = (int64_t)pass * t->j->nrules + ri;
	uint64_t		 key = eng_key(t, K_CLIMB, ri, pass > 0);
	struct estmt		*es;
	struct sql		 q;
	char			 tag[32];

	if ((es = eng_cached(t->e, key)) == NULL) {
		sql_init(&q);
		buf_puts(&q.text, "UPDATE temp.tick_mask AS m SET stage = ");
		sql_add_text(&q, to);
		buf_puts(&q.text, ", status = ");
		sql_add_int(&q, r->go == t->j->nstages - 1 ? MEMBER_COMPLETED :
		    MEMBER_ACTIVE);
		buf_puts(&q.text, ", seq = :i + ");
		sql_add_int(&q, t->j->nrules);
		buf_puts(&q.text, ", fired = fired || ");
		snprintf(tag, sizeof tag, "%0*d,", t->p->tagw, ri);
		sql_add_text(&q, tag);
		buf_printf(&q.text, " WHERE (m.mask >> %d) & 1 AND m.stage != ",
		    bit);
		sql_add_text(&q, to);
		tick_stage_filter(&q, r, "m.stage");
		if (pass > 0) {
			buf_puts(&q.text, " AND m.seq >= :i AND instr(m.fired, ");
			snprintf(tag, sizeof tag, ",%0*d,", t->p->tagw, ri);
			sql_add_text(&q, tag);
			buf_puts(&q.text, ") = 0");
		}
		es = eng_prepare(t->e, key, &q, t->j->name);
		sql_free(&q);
	}
	return es != NULL ? eng_run(t, es, NULL, NULL, seq - t->j->nrules) :
	    -1;
}

/* The entrants climb: passes of the goto rules over their masks until
 * nobody moves. */
static int
tick_climb(struct tick *t)
{
	const struct journey	*j = t->j;
	int			 moved;

	for (int pass = 0; pass <= t->p->ngoto && t->nnew > 0; pass++) {
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

/*
 * The entrants in temp.tick_new join the journey at the stage their mask
 * settled on: the actions of the goto rules that moved them are queued,
 * then members_settle() writes them and their history.
 */
static int
tick_settle_new(struct tick *t)
{
	const struct journey	*j = t->j;
	int64_t			 before;
	char			 tag[32];
	int			 n;

	if (t->nnew == 0)
		return 0;
	if ((before = outbox_last(t->e->db)) < 0)
		return -1;
	for (int i = 0; i < j->nrules; i++) {
		const struct rule *r = &j->rules[i];
		if (r->go < 0 || r->instance == NULL)
			continue;
		snprintf(tag, sizeof tag, ",%0*d,", t->p->tagw, i);
		if (eng_fixed(t, "DELETE FROM temp.tick_batch", NULL, NULL,
		    0) < 0 || (n = eng_fixed(t, "INSERT INTO "
		    "temp.tick_batch(sid, stage) SELECT subject, :a FROM "
		    "temp.tick_new WHERE mask IN (SELECT mask FROM "
		    "temp.tick_mask WHERE instr(fired, :b) > 0)",
		    j->stages[r->go].name, tag, 0)) < 0)
			return -1;
		if (n > 0 && tick_queue(t, r, j->stages[r->go].name, 0) != 0)
			return -1;
	}
	if (members_settle(t, before) != 0)
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
				    r->holdout, t->now, r->delay,
				    r->variants_json, r->weights_json,
				    r->weight_total, 0 };
	int64_t			 before;
	int			 n;

	if ((before = outbox_last(t->e->db)) < 0 ||
	    (n = outbox_queue_batch(t->e->db, &b)) < 0)
		return -1;
	if ((history && eng_fixed(t, "INSERT INTO history(subject, journey, "
	    "ts, what, stage, rule, action) SELECT subject, journey, :now, "
	    "'action', stage, rule, aid FROM outbox WHERE aid > :i ORDER BY "
	    "aid", NULL, NULL, before) < 0) ||
	    eng_fixed(t, "INSERT INTO firings(journey, rule, subject, last) "
	    "SELECT :journey, :a, sid, :now FROM temp.tick_batch WHERE true "
	    "ON CONFLICT(journey, rule, subject) DO UPDATE SET last = "
	    "excluded.last", r->name, NULL, 0) < 0)
		return -1;
	t->stats->actions += n;
	return 0;
}

/* The statement of tick_transition for rule ri, first pass or later. */
static void
tick_transition_sql(struct tick *t, int ri, int later, struct sql *q)
{
	const struct rule	*r = &t->j->rules[ri];
	char			 tag[32];

	buf_puts(&q->text, "INSERT INTO temp.tick_batch(sid, stage) SELECT "
	    "s.sid, m.stage FROM ");
	if (!later) {
		buf_puts(&q->text, "members m JOIN subjects s ON s.sid = "
		    "m.subject WHERE ");
	} else {
		buf_puts(&q->text, "temp.tick_moved v CROSS JOIN members m "
		    "CROSS JOIN subjects s ON s.sid = m.subject WHERE v.seq >= "
		    ":i");
		tick_stage_filter(q, r, "v.stage");
		buf_puts(&q->text, " AND m.subject = v.sid AND ");
	}
	buf_puts(&q->text, "m.journey = :journey AND m.status IN (0, 1) AND "
	    "m.stage != ");
	sql_add_text(q, t->j->stages[r->go].name);
	tick_stage_filter(q, r, "m.stage");
	if (!later)
		tick_chunk_sql(t, q, "m.subject");
	else {
		snprintf(tag, sizeof tag, ",%d,", ri);
		buf_puts(&q->text, " AND instr(v.fired, ");
		sql_add_text(q, tag);
		buf_puts(&q->text, ") = 0");
	}
	buf_puts(&q->text, " AND (");
	expr_sql(r->when, q);
	buf_puts(&q->text, ")");
}

/*
 * One pass of transition rule ri: move the subjects it holds for. Returns
 * how many moved, or -1.
 *
 * Only a subject's own membership (stage, its age, status) changes during a
 * journey's tick, so a rule that did not hold for a subject still does not
 * unless the subject moved since the rule last looked at it. The first pass
 * looks at every member of the chunk at the rule's stages; a later pass
 * only at those now at the rule's stages that moved at or after this
 * rule's turn in the previous pass, and that this rule did not move yet.
 * temp.tick_moved has a row for each subject moved in this chunk: its last
 * move's sequence number pass * nrules + rule, the stage it went to, and
 * the rules that moved it (",0,2,").
 */
static int
tick_transition(struct tick *t, int ri, int pass)
{
	const struct rule	*r = &t->j->rules[ri];
	const char		*to = t->j->stages[r->go].name;
	int64_t			 seq = (int64_t)pass * t->j->nrules + ri;
	uint64_t		 key = eng_key(t, K_TRANSITION, ri, pass > 0);
	int			 last = r->go == t->j->nstages - 1;
	struct estmt		*es;
	struct sql		 q;
	char			 tag[32];
	int			 n;

	if (eng_fixed(t, "DELETE FROM temp.tick_batch", NULL, NULL, 0) < 0)
		return -1;
	if ((es = eng_cached(t->e, key)) == NULL) {
		sql_init(&q);
		tick_transition_sql(t, ri, pass > 0, &q);
		es = eng_prepare(t->e, key, &q, t->j->name);
		sql_free(&q);
	}
	if (es == NULL || (n = eng_run(t, es, NULL, NULL, seq -
	    t->j->nrules)) < 0)
		return -1;
	if (n == 0)
		return 0;
	snprintf(tag, sizeof tag, ",%d,", ri);
	if (members_move(t, to, r->name, last ? MEMBER_COMPLETED :
	    MEMBER_ACTIVE) != 0 || eng_fixed(t, "INSERT INTO "
	    "temp.tick_moved(sid, seq, stage, fired) SELECT sid, :i, :a, :b "
	    "FROM temp.tick_batch WHERE true ON CONFLICT(sid) DO UPDATE SET "
	    "seq = excluded.seq, stage = excluded.stage, fired = fired || "
	    "substr(excluded.fired, 2)", to, tag, seq) < 0)
		return -1;
	t->stats->moved += n;
	if (r->instance != NULL && tick_queue(t, r, to, 1) != 0)
		return -1;
	if (last) {
		if (members_complete(t) != 0)
			return -1;
		t->stats->completed += n;
	}
	return n;
}

/* Append " AND" the condition that action rule r may fire for subject sid:
 * it never fired for it ("once"), or not within its repeat period. */
static void
tick_unfired_sql(const struct rule *r, const char *sid, struct sql *q)
{
	buf_printf(&q->text, " AND NOT EXISTS (SELECT 1 FROM firings f WHERE "
	    "f.journey = :journey AND f.subject = %s AND f.rule = ", sid);
	sql_add_text(q, r->name);
	if (r->repeat > 0) {
		buf_puts(&q->text, " AND f.last > :now - ");
		sql_add_int(q, r->repeat);
	}
	buf_puts(&q->text, ")");
}

/* The statement of tick_action finding the entrants of action rule r
 * apart, by their masks' settled stages: by the rule's bit when it was
 * folded into them, else by its condition over them alone, their
 * membership that of their mask (entered now). */
static void
tick_apart_sql(struct tick *t, const struct rule *r, int bit, struct sql *q)
{
	buf_puts(&q->text, "INSERT INTO temp.tick_batch(sid, stage) SELECT "
	    "n.subject, m.stage FROM temp.tick_new n CROSS JOIN (SELECT mask, "
	    "stage, status, :now AS entered, :now AS stage_since FROM "
	    "temp.tick_mask) m ON m.mask = n.mask");
	if (bit < 0)
		buf_puts(&q->text, " CROSS JOIN subjects s ON s.sid = "
		    "n.subject");
	buf_puts(&q->text, " WHERE m.status IN (0, 1)");
	tick_stage_filter(q, r, "m.stage");
	/* Only a journey one may enter again has entrants that fired. */
	if (t->j->reenter)
		tick_unfired_sql(r, "n.subject", q);
	if (bit >= 0)
		buf_printf(&q->text, " AND (m.mask >> %d) & 1", bit);
	else {
		buf_puts(&q->text, " AND (");
		expr_sql(r->when, q);
		buf_puts(&q->text, ")");
	}
}

/* The statement of tick_action over the members of the chunk (but the
 * entrants, when they were found apart). */
static void
tick_action_sql(struct tick *t, const struct rule *r, int apart,
    struct sql *q)
{
	buf_puts(&q->text, "INSERT INTO temp.tick_batch(sid, stage) SELECT "
	    "s.sid, m.stage FROM members m JOIN subjects s ON s.sid = "
	    "m.subject WHERE m.journey = :journey AND m.status IN (0, 1)");
	tick_chunk_sql(t, q, "m.subject");
	tick_stage_filter(q, r, "m.stage");
	if (apart)
		buf_puts(&q->text, " AND NOT EXISTS (SELECT 1 FROM "
		    "temp.tick_new n WHERE n.subject = m.subject)");
	tick_unfired_sql(r, "s.sid", q);
	buf_puts(&q->text, " AND (");
	expr_sql(r->when, q);
	buf_puts(&q->text, ")");
}

/* Run the statement of kind (K_APART, K_ACTION) for action rule ri. */
static int
tick_action_run(struct tick *t, int ri, int kind, int apart)
{
	const struct rule	*r = &t->j->rules[ri];
	uint64_t		 key = eng_key(t, kind, ri, apart);
	struct estmt		*es;
	struct sql		 q;

	if ((es = eng_cached(t->e, key)) == NULL) {
		sql_init(&q);
		if (kind == K_APART)
			tick_apart_sql(t, r, t->p->fold[ri], &q);
		else
			tick_action_sql(t, r, apart, &q);
		es = eng_prepare(t->e, key, &q, t->j->name);
		sql_free(&q);
	}
	return es != NULL ? eng_run(t, es, NULL, NULL, 0) : -1;
}

/*
 * Action rule ri fires for the subjects at its stages for whom it holds and
 * whose last firing is older than repeat (or never, for once). The
 * entrants that climbed (who have no firings, unless they entered again)
 * are found apart, by their masks' settled stages. The members that were
 * there before the entry, if any, are evaluated as usual.
 */
static int
tick_action(struct tick *t, int ri)
{
	int	 apart = t->p->climb && t->entrants > 0, n = 0, k;

	if (eng_fixed(t, "DELETE FROM temp.tick_batch", NULL, NULL, 0) < 0)
		return -1;
	if (apart && (n = tick_action_run(t, ri, K_APART, 0)) < 0)
		return -1;
	if (!apart || t->old) {
		if ((k = tick_action_run(t, ri, K_ACTION, apart)) < 0)
			return -1;
		n += k;
	}
	return n > 0 ? tick_queue(t, &t->j->rules[ri], NULL, 1) : 0;
}

/*
 * An on = "enter" rule ri fires for every entry into each of its stages
 * that this chunk wrote (history rows after t->hid0: entries, and moves in
 * the middle of a climb too, so that a fast climber gets every stage's
 * welcome), where its condition holds now; one statement per stage, so
 * that a subject entering two of them gets both.
 */
static int
tick_enter(struct tick *t, int ri)
{
	const struct journey	*j = t->j;
	const struct rule	*r = &j->rules[ri];
	struct estmt		*es;
	struct sql		 q;
	int			 n;

	for (int si = 0; si < j->nstages; si++) {
		uint64_t key = eng_key(t, K_ENTER, ri, si);

		if (!rule_at_stage(r, j->stages[si].name))
			continue;
		if (eng_fixed(t, "DELETE FROM temp.tick_batch", NULL, NULL,
		    0) < 0)
			return -1;
		if ((es = eng_cached(t->e, key)) == NULL) {
			sql_init(&q);
			buf_puts(&q.text, "INSERT OR IGNORE INTO temp.tick_batch("
			    "sid, stage) SELECT h.subject, h.stage FROM "
			    "history_steps h CROSS JOIN members m ON m.journey "
			    "= :journey AND m.subject = h.subject CROSS JOIN "
			    "subjects s ON s.sid = h.subject WHERE h.hid > :i "
			    "AND h.journey = :journey AND h.what IN "
			    "('entered', 'moved') AND h.stage = ");
			sql_add_text(&q, j->stages[si].name);
			buf_puts(&q.text, " AND m.status IN (0, 1) AND (");
			expr_sql(r->when, &q);
			buf_puts(&q.text, ")");
			es = eng_prepare(t->e, key, &q, j->name);
			sql_free(&q);
		}
		if (es == NULL || (n = eng_run(t, es, NULL, NULL, t->hid0)) < 0)
			return -1;
		if (n > 0 && tick_queue(t, r, j->stages[si].name, 1) != 0)
			return -1;
	}
	return 0;
}

/* Work out, once per config, how the journey's entrants climb: on their
 * own unless a goto rule reads the subject's own membership of this
 * journey, which they do not have until they are written to members, or
 * there are more goto rules than a mask has bits: then they are written at
 * once, at the first stage, and climb with the members. */
static void
tick_plan(struct engine *e, const struct journey *j, struct jplan *p)
{
	p->climb = !e->noclimb;
	p->fold = xcalloc(j->nrules + 1, sizeof *p->fold);
	for (int i = 0; i < j->nrules; i++) {
		p->fold[i] = -1;
		if (j->rules[i].go < 0)
			continue;
		p->ngoto++;
		if (expr_reads_journey(j->rules[i].when, j->name))
			p->climb = 0;
	}
	if (p->ngoto > TICK_MASK_BITS)
		p->climb = 0;
	/* An entrant's fired lists the rules that moved it, in order, each
	 * as wide as the widest rule index (",0,2," or ",03,12,"). */
	p->tagw = 1;
	for (int n = j->nrules - 1; n >= 10; n /= 10)
		p->tagw++;
}

/* Evaluate the journey over the tick's chunk; the caller owns the
 * transaction. */
static int
tick_chunk(struct tick *t)
{
	const struct journey	*j = t->j;
	int			 moved;

	if (eng_fixed(t, "DELETE FROM temp.tick_moved", NULL, NULL, 0) < 0 ||
	    (t->hid0 = eng_int(t, "SELECT coalesce(max(hid), 0) FROM "
	    "history")) < 0 || tick_exit(t) != 0 ||
	    (t->members = eng_int(t, "SELECT EXISTS (SELECT 1 FROM members "
	    "WHERE journey = :journey AND subject BETWEEN :lo AND :hi)")) < 0 ||
	    (t->old = eng_int(t, "SELECT EXISTS (SELECT 1 FROM members WHERE "
	    "journey = :journey AND subject BETWEEN :lo AND :hi AND status IN "
	    "(0, 1))")) < 0 || tick_entry(t) != 0)
		return -1;
	if (t->p->climb ? tick_climb(t) != 0 : tick_settle_new(t) != 0)
		return -1;
	/* Transitions settle: passes until nobody moves; each rule moves a
	 * subject at most once a tick, so this ends. */
	for (int pass = 0; pass <= t->p->ngoto; pass++) {
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

		if (r->on_enter ? tick_enter(t, i) != 0 : r->go < 0 &&
		    r->instance != NULL && tick_action(t, i) != 0)
			return -1;
	}
	return 0;
}

/* Print what a dry run found: the history rows after hid. */
static void
tick_print(sqlite3 *db, int64_t hid, FILE *out)
{
	sqlite3_stmt	*st;

	if ((st = store_try_prepare(db, "SELECT h.journey, s.kind, s.id, "
	    "h.what, h.stage, h.from_stage, h.rule, o.instance, o.status FROM "
	    "history_steps h JOIN subjects s ON s.sid = h.subject LEFT JOIN "
	    "outbox o ON o.aid = h.action WHERE h.hid > ?1 ORDER BY h.hid, "
	    "h.part")) == NULL)
		return;
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

/* The end of the chunk from lo: lo + the chunk's size - 1, or in a scoped
 * tick the sid of the scope's chunk-th subject from lo. -1 on an error. */
static int64_t
tick_chunk_end(struct tick *t, int64_t lo)
{
	struct estmt	*es;
	int64_t		 hi;

	if (!t->scoped)
		return lo > INT64_MAX - t->e->chunk ? INT64_MAX :
		    lo + t->e->chunk - 1;
	if ((es = eng_fixed_stmt(t, "SELECT coalesce((SELECT sid FROM "
	    "temp.tick_scope WHERE sid >= ?1 ORDER BY sid LIMIT 1 OFFSET ?2), "
	    "(SELECT max(sid) FROM temp.tick_scope))")) == NULL)
		return -1;
	sqlite3_bind_int64(es->st, 1, lo);
	sqlite3_bind_int64(es->st, 2, t->e->chunk - 1);
	hi = sqlite3_step(es->st) == SQLITE_ROW ?
	    sqlite3_column_int64(es->st, 0) : -1;
	sqlite3_reset(es->st);
	return hi;
}

/* Size the next chunk for about ENG_CHUNK_MS of writing. */
static void
tick_chunk_size(struct engine *e, double took)
{
	if (took > ENG_CHUNK_MS * 1.5e-3 && e->chunk > ENG_CHUNK_MIN)
		e->chunk /= 2;
	else if (took < ENG_CHUNK_MS * 0.5e-3 && e->chunk < ENG_CHUNK_MAX)
		e->chunk *= 2;
}

/*
 * Evaluate chunk [t->lo, t->hi] of the journey in one write transaction:
 * applied whole, or (on any failure, or in a dry run after printing) not
 * at all. The counts of a chunk not applied are taken back. -2 when the
 * transaction could not even begin (the database locked past the busy
 * timeout, or full): the rest of the tick would wait as long again.
 */
static int
tick_transact(struct tick *t, int dry_run, FILE *out)
{
	struct tick_stats	 before = *t->stats;
	sqlite3			*db = t->e->db;
	double			 start = tick_clock(), took;

	if (store_begin(db) != 0) {
		log_err("journey %s: cannot start its tick: %s", t->j->name,
		    sqlite3_errmsg(db));
		return -2;
	}
	if (tick_chunk(t) != 0)
		goto fail;
	if (dry_run) {
		tick_print(db, t->hid0, out);
		store_rollback(db);
	} else if (store_commit(db) != 0)
		goto fail;
	took = tick_clock() - start;
	t->stats->chunks++;
	if (took > t->stats->longest)
		t->stats->longest = took;
	tick_chunk_size(t->e, took);
	return 0;
fail:
	log_err("journey %s: tick failed for subjects %lld to %lld, nothing of "
	    "it was applied for them", t->j->name, (long long)t->lo,
	    (long long)t->hi);
	store_rollback(db);
	*t->stats = before;	/* count only what was applied */
	return -1;
}

/* Evaluate journey ji over every chunk, up to subject last. */
static int
tick_journey(struct engine *e, int ji, int64_t now, int flags, FILE *out,
    struct tick_stats *stats, int64_t last)
{
	struct tick	 t = { .e = e, .j = &e->cf->journeys[ji], .ji = ji,
			    .p = &e->plans[ji], .now = now, .stats = stats,
			    .scoped = (flags & TICK_SCOPED) != 0 };
	int		 rc = 0, rc2;

	if (tick_emit_fill(&t) != 0)
		return -1;
	if (t.scoped && (t.lo = eng_int(&t, "SELECT coalesce(min(sid), 0) "
	    "FROM temp.tick_scope")) < 0)
		return -1;
	for (; t.lo <= last && t.lo >= 0; t.lo = t.hi + 1) {
		if ((t.hi = tick_chunk_end(&t, t.lo)) < 0)
			return -1;
		if (t.hi > last)
			t.hi = last;
		if ((rc2 = tick_transact(&t, flags & TICK_DRY_RUN, out)) == -2)
			return -2;
		if (rc2 != 0)
			rc = -1;
		if (t.hi == INT64_MAX)
			break;
		store_yield();
	}
	return rc;
}

/* Run one tick of every journey. */
int
engine_tick(struct engine *e, int64_t now, int flags, FILE *out,
    struct tick_stats *stats)
{
	struct tick_stats	 dummy;
	struct tick		 t = { .e = e, .now = now };
	int64_t			 last;
	int			 rc = 0;
	char			 when[32];
	double			 start = tick_clock();

	if (stats == NULL)
		stats = &dummy;
	memset(stats, 0, sizeof *stats);
	if (e->cf->njourneys == 0)
		return 0;
	/* Subjects that come later are for the next tick. */
	t.j = &e->cf->journeys[0];
	t.stats = stats;
	if ((last = eng_int(&t, (flags & TICK_SCOPED) ? "SELECT "
	    "coalesce(max(sid), 0) FROM temp.tick_scope" : "SELECT "
	    "coalesce(max(sid), 0) FROM subjects")) < 0)
		return -1;
	for (int i = 0; i < e->cf->njourneys; i++) {
		int r = tick_journey(e, i, now, flags, out, stats, last);

		if (r != 0)
			rc = -1;
		if (r == -2) {
			log_err("tick: stopped: the database takes no write; the "
			    "next tick tries again");
			break;
		}
	}
	/* The last tick is one that applied every journey to everyone. */
	if (rc == 0 && !(flags & (TICK_DRY_RUN | TICK_SCOPED)))
		store_meta_set(e->db, "last_tick", time_format(now, when,
		    sizeof when));
	stats->seconds = tick_clock() - start;
	return rc;
}

/* The temporary tables of a tick, on the engine's connection. */
static const char tick_tables[] =
    "CREATE TEMP TABLE IF NOT EXISTS tick_batch (sid INTEGER PRIMARY KEY, "
    "stage TEXT);"
    "CREATE TEMP TABLE IF NOT EXISTS tick_moved (sid INTEGER PRIMARY KEY, "
    "seq INTEGER NOT NULL, stage TEXT NOT NULL, fired TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS temp.tick_moved_stage ON tick_moved(stage, "
    "seq);"
    "CREATE TEMP TABLE IF NOT EXISTS tick_new (subject INTEGER PRIMARY KEY, "
    "mask INTEGER NOT NULL);"
    "CREATE TEMP TABLE IF NOT EXISTS tick_mask (mask INTEGER PRIMARY KEY, "
    "stage TEXT NOT NULL, status INTEGER NOT NULL, seq INTEGER NOT NULL, "
    "fired TEXT NOT NULL, n INTEGER NOT NULL);"
    "CREATE TEMP TABLE IF NOT EXISTS tick_steps (mask INTEGER NOT NULL, k "
    "INTEGER NOT NULL, sub INTEGER NOT NULL, what TEXT NOT NULL, stage TEXT "
    "NOT NULL, from_stage TEXT, rule TEXT, instance TEXT, moved_to TEXT, "
    "moved_rule TEXT, PRIMARY KEY (mask, k, sub)) WITHOUT ROWID;"
    "CREATE TEMP TABLE IF NOT EXISTS tick_emit (ri INTEGER NOT NULL, sub "
    "INTEGER NOT NULL, what TEXT NOT NULL, stage TEXT NOT NULL, rule TEXT, "
    "instance TEXT, PRIMARY KEY (ri, sub)) WITHOUT ROWID;"
    "CREATE TEMP TABLE IF NOT EXISTS tick_k (k INTEGER PRIMARY KEY);"
    "CREATE TEMP TABLE IF NOT EXISTS tick_scope (sid INTEGER PRIMARY KEY);";

/* An engine for config cf on connection db: its temporary tables and SQL
 * functions, and a plan per journey. NULL on an error, logged. */
struct engine *
engine_new(sqlite3 *db, const struct config *cf)
{
	struct engine	*e = xcalloc(1, sizeof *e);

	e->db = db;
	e->cf = cf;
	e->debug = getenv("JOURNEYD_DEBUG_SQL") != NULL;
	e->noclimb = getenv("JOURNEYD_TICK_NOCLIMB") != NULL;
	e->chunk = 4096;
	e->tally = xcalloc(1, sizeof *e->tally);
	e->plans = xcalloc(cf->njourneys + 1, sizeof *e->plans);
	for (int i = 0; i < cf->njourneys; i++)
		tick_plan(e, &cf->journeys[i], &e->plans[i]);
	if (store_exec(db, tick_tables) != 0 || bucket_register(db) != 0 ||
	    expr_register(db) != 0 ||
	    sqlite3_create_function(db, "jd_tally", 1, SQLITE_UTF8 |
	    SQLITE_DIRECTONLY, e->tally, tick_tally_fn, NULL, NULL) !=
	    SQLITE_OK) {
		log_err("engine: %s", sqlite3_errmsg(db));
		engine_free(e);
		return NULL;
	}
	return e;
}

/* Free an engine: its statements and its plans. */
void
engine_free(struct engine *e)
{
	if (e == NULL)
		return;
	/* jd_tally stays registered: only the engine's statements call it,
	 * and a new engine (a reload) may have registered its own already. */
	eng_stmts_free(e);
	for (int i = 0; i < e->cf->njourneys; i++)
		free(e->plans[i].fold);
	free(e->plans);
	free(e->tally);
	free(e);
}
