/*
 * Retention (SPEC §18): pruning old events, history and ended actions in
 * short write transactions, so that no tick or ingest waits long for the
 * write lock.
 *
 * A pass walks each table by its rowid, a range at a time: finding a
 * table's old rows by their time would need an index on it, which every
 * insert pays. Each range is one transaction, sized in proportion to how
 * long the last one held the write lock so that it holds it about
 * PRUNE_TARGET_MS (the passive checkpoint after a commit holds none, and
 * is left out), and other writers go between two (store_yield()). The newest
 * row of each table stays whatever its age: a rowid is max + 1, and the
 * reactor and the tick find new rows by rowid above a mark.
 *
 * Events older than the events retention in force (the configured one, or
 * the longest window of any rule when that is longer) are deleted and
 * added to events_pruned, per subject and name (count, first and last
 * time), which windowless count(), since() and since_first() add in;
 * the names the rules read otherwise without a window stay
 * (retention_plan()). History rows older than the history retention go,
 * but those of an action still queued. Ended actions (done, held, dead)
 * older than the actions retention go, but never within the longest
 * frequency cap's period (the guard counts them). firings, the record
 * that an action rule fired (once, repeat), are never pruned. Then the
 * free pages go back to the file system by incremental vacuum, a few at
 * a time.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/engine-int.h"

#define PRUNE_TARGET_MS	20	/* a transaction's aim */
#define PRUNE_MAX_MS	50	/* longer: logged (debug) */
#define PRUNE_FIRST_ROWS 256	/* the first range of a pass */
#define PRUNE_MIN_ROWS	64
#define PRUNE_MAX_ROWS	65536
#define PRUNE_VACUUM	512	/* pages a vacuum step frees */

enum prune_phase { P_EVENTS, P_HISTORY, P_ACTIONS, P_VACUUM, P_DONE };

/* A pass under way. */
struct pruner {
	enum prune_phase phase;
	int		 started;	/* the phase's ranges */
	int64_t		 lo;		/* the next range from here */
	int64_t		 hi;		/* the newest row, which stays */
	int64_t		 rows;		/* the next range's size */
	int64_t		 cut;		/* older than this goes */
};

/* Each table's phase: its rowid, and its rows :lo <= rowid < :hi older
 * than :cut pruned, the last statement's changes the rows deleted. */
static const struct {
	const char	*table;
	const char	*key;
	const char	*sql;
} prune_sql[] = {
	[P_EVENTS] = { "events", "eid",
	    "INSERT INTO temp.prune_rows(eid, subject, name, ts) SELECT eid, "
	    "subject, name, ts FROM events WHERE eid >= :lo AND eid < :hi AND "
	    "ts < :cut AND name NOT IN (SELECT name FROM temp.prune_keep);"
	    "INSERT INTO events_pruned(subject, name, n, first_ts, last_ts) "
	    "SELECT subject, name, count(*), min(ts), max(ts) FROM "
	    "temp.prune_rows WHERE true GROUP BY subject, name "
	    "ON CONFLICT (subject, name) DO UPDATE SET n = n + excluded.n, "
	    "first_ts = min(first_ts, excluded.first_ts), "
	    "last_ts = max(last_ts, excluded.last_ts);"
	    "DELETE FROM events WHERE eid IN (SELECT eid FROM temp.prune_rows);"
	    "DELETE FROM temp.prune_rows;" },
	[P_HISTORY] = { "history", "hid",
	    "DELETE FROM history WHERE hid >= :lo AND hid < :hi AND ts < :cut "
	    "AND NOT (action IS NOT NULL AND EXISTS (SELECT 1 FROM outbox o "
	    "WHERE o.aid = history.action AND " OUTBOX_QUEUED_SQL "));" },
	[P_ACTIONS] = { "outbox", "aid", NULL },	/* outbox_prune() */
};

/* A new pruner, its pass not begun. */
struct pruner *
pruner_new(void)
{
	struct pruner	*p = xcalloc(1, sizeof *p);

	p->phase = P_DONE;
	return p;
}

/* Free a pruner. */
void
pruner_free(struct pruner *p)
{
	free(p);
}

/* The longest frequency cap's period of any instance of cf. */
static int64_t
prune_longest_cap(const struct config *cf)
{
	int64_t	 per = 0;

	for (int i = 0; i < cf->ninstances; i++)
		if (cf->instances[i]->limit_per > per)
			per = cf->instances[i]->limit_per;
	return per;
}

/* Bind :lo, :hi and :cut where st names them. */
static void
prune_bind(sqlite3_stmt *st, int64_t lo, int64_t hi, int64_t cut)
{
	int	 idx;

	if ((idx = sqlite3_bind_parameter_index(st, ":lo")) != 0)
		sqlite3_bind_int64(st, idx, lo);
	if ((idx = sqlite3_bind_parameter_index(st, ":hi")) != 0)
		sqlite3_bind_int64(st, idx, hi);
	if ((idx = sqlite3_bind_parameter_index(st, ":cut")) != 0)
		sqlite3_bind_int64(st, idx, cut);
}

/* Run the statements of sql over :lo, :hi and :cut: the last one's
 * changes, or -1. */
static int64_t
prune_exec(sqlite3 *db, const char *sql, int64_t lo, int64_t hi,
    int64_t cut)
{
	sqlite3_stmt	*st;
	const char	*tail = sql;
	int64_t		 n = 0;

	while (*tail != '\0') {
		if (sqlite3_prepare_v2(db, tail, -1, &st, &tail) != SQLITE_OK) {
			log_err("prune: %s", sqlite3_errmsg(db));
			return -1;
		}
		if (st == NULL)
			break;
		prune_bind(st, lo, hi, cut);
		if (sqlite3_step(st) != SQLITE_DONE) {
			log_err("prune: %s: %s", sqlite3_db_filename(db,
			    "main"), sqlite3_errmsg(db));
			sqlite3_finalize(st);
			return -1;
		}
		n = sqlite3_changes64(db);
		sqlite3_finalize(st);
	}
	return n;
}

/* Fill temp.prune_keep with the names whose events stay. */
static int
prune_keep(sqlite3 *db, const struct retention_plan *plan)
{
	sqlite3_stmt	*st;
	int		 rc = 0;

	if (store_exec(db, "CREATE TEMP TABLE IF NOT EXISTS prune_keep("
	    "name TEXT PRIMARY KEY) WITHOUT ROWID;"
	    "CREATE TEMP TABLE IF NOT EXISTS prune_rows(eid INTEGER PRIMARY "
	    "KEY, subject INTEGER, name TEXT, ts INTEGER);"
	    "DELETE FROM temp.prune_keep; DELETE FROM temp.prune_rows") != 0)
		return -1;
	st = store_prepare(db, "INSERT OR IGNORE INTO temp.prune_keep(name) "
	    "VALUES (?1)");
	for (int i = 0; i < plan->nkeep && rc == 0; i++) {
		sqlite3_bind_text(st, 1, plan->keep[i].name, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return rc;
}

/* The cut of phase ph at now (older goes), or 0: nothing is pruned. */
static int64_t
prune_cut(const struct config *cf, enum prune_phase ph, int64_t now)
{
	struct retention_plan	 plan;
	int64_t			 keep = 0, cap;

	switch (ph) {
	case P_EVENTS:
		retention_plan(cf, &plan);
		keep = retention_events(cf, &plan);
		retention_plan_free(&plan);
		break;
	case P_HISTORY:
		keep = cf->retention.history;
		break;
	case P_ACTIONS:
		cap = prune_longest_cap(cf);
		keep = cf->retention.actions == 0 ? 0 :
		    cf->retention.actions > cap ? cf->retention.actions : cap;
		break;
	default:
		break;
	}
	return keep > 0 ? now - keep : 0;
}

/* One integer of a query, or 0. */
static int64_t
prune_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt	*st = store_prepare(db, sql);
	int64_t		 v = 0;

	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Begin phase ph: its cut and its range of rows (the newest one left
 * out). 0, or -1. */
static int
prune_phase_begin(struct pruner *p, sqlite3 *db, const struct config *cf,
    int64_t now)
{
	struct retention_plan	 plan;
	char			*sql;
	int			 rc = 0;

	p->started = 1;
	p->lo = p->hi = 0;
	if (p->rows == 0)
		p->rows = PRUNE_FIRST_ROWS;
	if (p->phase == P_VACUUM ||
	    (p->cut = prune_cut(cf, p->phase, now)) == 0)
		return 0;
	if (p->phase == P_EVENTS) {
		retention_plan(cf, &plan);
		rc = prune_keep(db, &plan);
		retention_plan_free(&plan);
	}
	sql = xprintf("SELECT min(%s) FROM %s", prune_sql[p->phase].key,
	    prune_sql[p->phase].table);
	p->lo = prune_int(db, sql);
	free(sql);
	sql = xprintf("SELECT max(%s) FROM %s", prune_sql[p->phase].key,
	    prune_sql[p->phase].table);
	p->hi = prune_int(db, sql);
	free(sql);
	return rc;
}

/* One step of incremental vacuum, in its own transaction: 1 when no free
 * page is left (or the database has no incremental vacuum), 0, or -1. */
static int
prune_vacuum(sqlite3 *db)
{
	char	 sql[64];

	if (prune_int(db, "PRAGMA auto_vacuum") != 2 ||
	    prune_int(db, "PRAGMA freelist_count") == 0)
		return 1;
	snprintf(sql, sizeof sql, "PRAGMA incremental_vacuum(%d)",
	    PRUNE_VACUUM);
	if (store_begin(db) != 0)
		return -1;
	if (store_exec(db, sql) != 0 || store_commit(db) != 0) {
		store_rollback(db);
		return -1;
	}
	return 0;
}

/* Note a transaction of usec in stats, and size the next range by it. */
static void
prune_timed(struct pruner *p, struct prune_stats *stats, int64_t usec)
{
	int64_t	 rows;

	stats->transactions++;
	if (usec > stats->longest_usec)
		stats->longest_usec = usec;
	if (usec > PRUNE_MAX_MS * 1000)
		log_debug("prune: %s: a transaction of %.1f ms (%lld rows)",
		    p->phase == P_VACUUM ? "vacuum" : prune_sql[p->phase].table,
		    (double)usec / 1e3, (long long)p->rows);
	/* In proportion to the time it took, at most twice as many, at
	 * least a quarter. */
	rows = p->rows * PRUNE_TARGET_MS * 1000 / (usec > 0 ? usec : 1);
	if (rows > p->rows * 2)
		rows = p->rows * 2;
	if (rows < p->rows / 4)
		rows = p->rows / 4;
	p->rows = rows < PRUNE_MIN_ROWS ? PRUNE_MIN_ROWS :
	    rows > PRUNE_MAX_ROWS ? PRUNE_MAX_ROWS : rows;
}

/* Prune one range of the phase, or make one vacuum step, in one
 * transaction: 1 when the phase is over, 0, or -1. */
static int
prune_step(struct pruner *p, sqlite3 *db, struct prune_stats *stats)
{
	int64_t	 t0 = time_mono_usec(), c0 = store_passive_time(), hi, n;
	int	 rc = 0;

	if (p->phase == P_VACUUM) {
		if ((rc = prune_vacuum(db)) == 0)
			prune_timed(p, stats, time_mono_usec() - t0 -
			    (store_passive_time() - c0));
		return rc;
	}
	if (p->cut == 0 || p->lo >= p->hi)
		return 1;
	hi = p->lo + p->rows < p->hi ? p->lo + p->rows : p->hi;
	if (store_begin(db) != 0)
		return -1;
	n = p->phase == P_ACTIONS ? outbox_prune(db, p->lo, hi, p->cut) :
	    prune_exec(db, prune_sql[p->phase].sql, p->lo, hi, p->cut);
	if (n < 0 || store_commit(db) != 0) {
		store_rollback(db);
		return -1;
	}
	prune_timed(p, stats, time_mono_usec() - t0 -
	    (store_passive_time() - c0));
	if (p->phase == P_EVENTS)
		stats->events += n;
	else if (p->phase == P_HISTORY)
		stats->history += n;
	else
		stats->actions += n;
	p->lo = hi;
	return p->lo >= p->hi;
}

/*
 * Prune for about budget_ms (< 0: until the pass is over), from where the
 * last call stopped, or from the start of a new pass. 1 when the pass is
 * over (its counts in stats, which the caller zeroes before the next), 0
 * when there is more, -1 on an error (logged; the next call starts over).
 */
int
pruner_run(struct pruner *p, sqlite3 *db, const struct config *cf,
    int64_t now, int64_t budget_ms, struct prune_stats *stats)
{
	int64_t	 t0 = time_mono_usec();
	int	 rc;

	if (p->phase == P_DONE) {
		p->phase = P_EVENTS;
		p->started = 0;
	}
	for (;;) {
		if (!p->started && prune_phase_begin(p, db, cf, now) != 0)
			break;
		if ((rc = prune_step(p, db, stats)) < 0)
			break;
		if (rc == 1) {
			p->phase++;
			p->started = 0;
		}
		if (p->phase == P_DONE)
			return 1;
		store_yield();
		if (budget_ms >= 0 && time_mono_usec() - t0 >= budget_ms * 1000)
			return 0;
	}
	p->phase = P_DONE;
	return -1;
}
