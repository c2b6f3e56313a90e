/*
 * The engine's prepared statements. A rule's statements are compiled to SQL
 * and prepared once per config, on first use, and kept by key in an open
 * addressing table: a tick only binds :now and its chunk (:lo, :hi) and
 * runs them. Values from the config are bound when the statement is
 * prepared (struct sql's parameters), and never change.
 *
 * With JOURNEYD_DEBUG_SQL set in the environment, every statement is logged
 * with its query plan when it is prepared, and each run with the rows it
 * changed and its time (wall clock and CPU).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine-int.h"

#define ENG_FIXED	(1ULL << 63)	/* a fixed statement's key */

/* A clock (CLOCK_MONOTONIC, CLOCK_THREAD_CPUTIME_ID) in seconds. */
static double
eng_clock(clockid_t id)
{
	struct timespec	 ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The key of a statement of the tick's journey: what it does (kind), for
 * which rule (-1 none), and its variant (the pass, the scope). */
uint64_t
eng_key(const struct tick *t, int kind, int rule, int variant)
{
	return ((uint64_t)(t->ji + 1) << 40) | ((uint64_t)kind << 32) |
	    ((uint64_t)(rule + 1) << 8) | (uint64_t)variant |
	    (t->scoped ? 0x80 : 0);
}

/* The slot of key in the table (the statements themselves stay where
 * they are when it grows). */
static struct estmt **
eng_slot(struct engine *e, uint64_t key)
{
	uint64_t	 h = (key * 0x9e3779b97f4a7c15ULL) >> 32;

	for (;; h++) {
		struct estmt **es = &e->stmts[h & (e->capstmts - 1)];

		if (*es == NULL || (*es)->key == key)
			return es;
	}
}

/* The statement of key, or NULL when it is not prepared yet. */
struct estmt *
eng_cached(struct engine *e, uint64_t key)
{
	if (e->capstmts == 0)
		return NULL;
	return *eng_slot(e, key);
}

/* Make room for one more statement. */
static void
eng_grow(struct engine *e)
{
	struct estmt	**old = e->stmts;
	int		  cap = e->capstmts;

	if ((e->nstmts + 1) * 2 <= e->capstmts)
		return;
	e->capstmts = cap == 0 ? 64 : cap * 2;
	e->stmts = xcalloc(e->capstmts, sizeof *e->stmts);
	for (int i = 0; i < cap; i++)
		if (old[i] != NULL)
			*eng_slot(e, old[i]->key) = old[i];
	free(old);
}

/* Log a statement and its query plan. */
static void
eng_explain(struct engine *e, const char *text)
{
	sqlite3_stmt	*plan;
	char		*eqp;

	log_info("sql: %s", text);
	eqp = xprintf("EXPLAIN QUERY PLAN %s", text);
	if (sqlite3_prepare_v2(e->db, eqp, -1, &plan, NULL) == SQLITE_OK) {
		while (sqlite3_step(plan) == SQLITE_ROW)
			log_info("sql:   plan %d<-%d %s",
			    sqlite3_column_int(plan, 0),
			    sqlite3_column_int(plan, 1),
			    (const char *)sqlite3_column_text(plan, 3));
		sqlite3_finalize(plan);
	}
	free(eqp);
}

/* Prepare text as the statement of key, with q's parameters (when q is
 * not NULL) bound for good. NULL on an error, logged. */
static struct estmt *
eng_add(struct engine *e, uint64_t key, const char *text, const struct sql *q,
    const char *journey)
{
	sqlite3_stmt	*st;
	struct estmt	*es;

	if (sqlite3_prepare_v3(e->db, text, -1, SQLITE_PREPARE_PERSISTENT, &st,
	    NULL) != SQLITE_OK) {
		log_err("sqlite: %s: %s in: %.300s", sqlite3_db_filename(e->db,
		    "main"), sqlite3_errmsg(e->db), text);
		return NULL;
	}
	if (q != NULL && sql_bind(q, st, 0, journey) != 0) {
		log_err("sqlite: cannot bind: %s", sqlite3_errmsg(e->db));
		sqlite3_finalize(st);
		return NULL;
	}
	if (e->debug)
		eng_explain(e, text);
	eng_grow(e);
	es = xcalloc(1, sizeof *es);
	*eng_slot(e, key) = es;
	es->key = key;
	es->st = st;
	es->i_now = sqlite3_bind_parameter_index(st, ":now");
	es->i_lo = sqlite3_bind_parameter_index(st, ":lo");
	es->i_hi = sqlite3_bind_parameter_index(st, ":hi");
	es->i_journey = sqlite3_bind_parameter_index(st, ":journey");
	es->i_a = sqlite3_bind_parameter_index(st, ":a");
	es->i_b = sqlite3_bind_parameter_index(st, ":b");
	es->i_i = sqlite3_bind_parameter_index(st, ":i");
	e->nstmts++;
	return es;
}

/* Prepare the query q as the statement of key. */
struct estmt *
eng_prepare(struct engine *e, uint64_t key, struct sql *q,
    const char *journey)
{
	return eng_add(e, key, q->text.s, q, journey);
}

/* Bind what a run binds, step the statement to its end and reset it. */
int
eng_run(struct tick *t, struct estmt *es, const char *a, const char *b,
    int64_t i)
{
	sqlite3_stmt	*st = es->st;
	double		 start = 0, cpu = 0;
	int		 rc, n;

	if (es->i_now)
		sqlite3_bind_int64(st, es->i_now, t->now);
	if (es->i_lo)
		sqlite3_bind_int64(st, es->i_lo, t->lo);
	if (es->i_hi)
		sqlite3_bind_int64(st, es->i_hi, t->hi);
	if (es->i_journey)
		sqlite3_bind_text(st, es->i_journey, t->j->name, -1,
		    SQLITE_STATIC);
	if (es->i_a)
		sqlite3_bind_text(st, es->i_a, a, -1, SQLITE_STATIC);
	if (es->i_b)
		sqlite3_bind_text(st, es->i_b, b, -1, SQLITE_STATIC);
	if (es->i_i)
		sqlite3_bind_int64(st, es->i_i, i);
	if (t->e->debug) {
		start = eng_clock(CLOCK_MONOTONIC);
		cpu = eng_clock(CLOCK_THREAD_CPUTIME_ID);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	n = sqlite3_changes(t->e->db);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_err("journey %s: sqlite: %s", t->j->name,
		    sqlite3_errmsg(t->e->db));
		return -1;
	}
	if (t->e->debug)
		log_info("sql:   %d rows in %.3fs (cpu %.3fs)", n,
		    eng_clock(CLOCK_MONOTONIC) - start,
		    eng_clock(CLOCK_THREAD_CPUTIME_ID) - cpu);
	return n;
}

/* The fixed statement text, prepared on its first use. */
struct estmt *
eng_fixed_stmt(struct tick *t, const char *text)
{
	uint64_t	 key = ENG_FIXED | (uint64_t)(uintptr_t)text;
	struct estmt	*es;

	if ((es = eng_cached(t->e, key)) == NULL)
		es = eng_add(t->e, key, text, NULL, NULL);
	return es;
}

/* Run a fixed statement. */
int
eng_fixed(struct tick *t, const char *text, const char *a, const char *b,
    int64_t i)
{
	struct estmt	*es = eng_fixed_stmt(t, text);

	return es != NULL ? eng_run(t, es, a, b, i) : -1;
}

/* The first value of a fixed one-row query (0 when NULL), or -1. */
int64_t
eng_int(struct tick *t, const char *text)
{
	struct estmt	*es = eng_fixed_stmt(t, text);
	sqlite3_stmt	*st;
	int64_t		 v = -1;

	if (es == NULL)
		return -1;
	st = es->st;
	if (es->i_now)
		sqlite3_bind_int64(st, es->i_now, t->now);
	if (es->i_lo)
		sqlite3_bind_int64(st, es->i_lo, t->lo);
	if (es->i_hi)
		sqlite3_bind_int64(st, es->i_hi, t->hi);
	if (es->i_journey)
		sqlite3_bind_text(st, es->i_journey, t->j->name, -1,
		    SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	else
		log_err("journey %s: sqlite: %s", t->j->name,
		    sqlite3_errmsg(t->e->db));
	sqlite3_reset(st);
	return v;
}

/* Finalize every statement. */
void
eng_stmts_free(struct engine *e)
{
	for (int i = 0; i < e->capstmts; i++) {
		if (e->stmts[i] == NULL)
			continue;
		sqlite3_finalize(e->stmts[i]->st);
		free(e->stmts[i]);
	}
	free(e->stmts);
	e->stmts = NULL;
	e->nstmts = e->capstmts = 0;
}
