/*
 * The outbox: the durable queue of actions. An action is queued in the
 * same transaction as the firing that queues it (outbox_queue_batch, from
 * the tick's batch of subjects; outbox_queue_one, a hand-off's
 * announcement), claimed oldest due first (outbox_due_*, outbox_claim,
 * outbox_load; outbox_next_due says when the next one falls due), and its
 * outcome recorded (outbox_record): done, held,
 * dead, or retried with exponential backoff from retry_min, doubling up to
 * retry_max, until retry_for after its first try. A claim marks the row in
 * flight and counts it in `crashes`; a recorded outcome resets the count;
 * after a crash, outbox_recover() puts the rows left in flight back, due at
 * once, and parks as dead those that were in flight during three crashes
 * in a row. The guardrails put a claimed action back (outbox_defer,
 * outbox_hold); journeyctl lists (outbox_list) and retries the dead
 * (outbox_retry).
 *
 * The statements of the queue's hot path (claims and records) are
 * prepared once per connection (struct outbox_conn). A claim is three
 * plain statements: OQ_PICK walks the due rows, oldest first, until one of
 * an instance the caller may take from; OQ_MARK marks it in flight;
 * OQ_LOAD reads it with its subject. One UPDATE with "instance IN (SELECT
 * value FROM json_each(?))", a subquery and RETURNING did the same at
 * twice the cost: the IN and the RETURNING each open an ephemeral table
 * per run. OQ_PICK names the partial index outbox_queue, which walks due
 * rows in order so that the first match ends the search (without INDEXED
 * BY the planner would sort every queued row instead); the rows in flight
 * (status 1) are in the index too, at its head (their due time is past):
 * its status column skips them without reading the table.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "store/store.h"

enum {
	OQ_BEGIN, OQ_COMMIT, OQ_PICK, OQ_MARK, OQ_LOAD, OQ_FIRST_TRY,
	OQ_RECORD, OQ_NEXT, OQ_COUNT
};

#if OUTBOX_PENDING != 0 || OUTBOX_INFLIGHT != 1 || OUTBOX_RETRYING != 3
#error "outbox statuses changed: update OQ_PICK"
#endif
static const char *outbox_sql[OQ_COUNT] = {
	"BEGIN IMMEDIATE",
	"COMMIT",
	"SELECT aid, instance FROM outbox INDEXED BY outbox_queue WHERE "
	OUTBOX_QUEUED_SQL " AND status <> 1 AND due <= ?1 AND (crashes = 0 "
	"OR ?2) ORDER BY due, aid",
	"UPDATE outbox SET status = 1, attempts = attempts + 1, crashes = "
	"crashes + 1, first_try = coalesce(first_try, ?1), updated = ?1, "
	"traits = coalesce(traits, (SELECT s.traits FROM subjects s WHERE "
	"s.sid = outbox.subject)) WHERE aid = ?2",
	"SELECT o.id, o.subject, o.journey, o.rule, coalesce(o.stage, ''), "
	"o.instance, o.params, o.created, o.attempts, o.crashes, o.traits, "
	"s.id, s.kind, s.traits, a.traits, o.variant FROM outbox o LEFT JOIN "
	"subjects s "
	"ON s.sid = o.subject LEFT JOIN subjects a ON a.sid = s.account "
	"WHERE o.aid = ?1",
	"SELECT first_try FROM outbox WHERE aid = ?1",
	"UPDATE outbox SET status = ?1, due = ?2, reason = ?3, note = "
	"coalesce(?4, note), crashes = 0, updated = ?5, external_id = "
	"coalesce(?7, external_id) WHERE aid = ?6",
	"SELECT due FROM outbox INDEXED BY outbox_queue WHERE "
	OUTBOX_QUEUED_SQL " AND status <> 1 AND due > ?1 ORDER BY due LIMIT 1",
};

struct outbox_conn {
	sqlite3		*db;
	sqlite3_stmt	*st[OQ_COUNT];
};

/* The name of an outbox status, as show and outbox print it. */
const char *
outbox_status_name(int status)
{
	switch (status) {
	case OUTBOX_PENDING:	return "pending";
	case OUTBOX_INFLIGHT:	return "pending";
	case OUTBOX_DONE:	return "done";
	case OUTBOX_RETRYING:	return "retrying";
	case OUTBOX_DEAD:	return "dead";
	case OUTBOX_HELD:	return "held";
	}
	return "unknown";
}

/* The queue's statements on db, prepared on first use. */
struct outbox_conn *
outbox_conn_new(sqlite3 *db)
{
	struct outbox_conn	*oc = xcalloc(1, sizeof *oc);

	oc->db = db;
	return oc;
}

/* Free the statements (not the connection). */
void
outbox_conn_free(struct outbox_conn *oc)
{
	if (oc == NULL)
		return;
	for (int i = 0; i < OQ_COUNT; i++)
		sqlite3_finalize(oc->st[i]);
	free(oc);
}

/* The connection's database. */
sqlite3 *
outbox_conn_db(const struct outbox_conn *oc)
{
	return oc->db;
}

/* Statement which, reset and ready to bind; NULL when it cannot be
 * prepared (logged). */
static sqlite3_stmt *
outbox_stmt(struct outbox_conn *oc, int which)
{
	if (oc->st[which] != NULL) {
		sqlite3_reset(oc->st[which]);
		sqlite3_clear_bindings(oc->st[which]);
	} else if (sqlite3_prepare_v3(oc->db, outbox_sql[which], -1,
	    SQLITE_PREPARE_PERSISTENT, &oc->st[which], NULL) != SQLITE_OK) {
		log_err("sqlite: %s: %s in: %.200s",
		    sqlite3_db_filename(oc->db, "main"),
		    sqlite3_errmsg(oc->db), outbox_sql[which]);
		oc->st[which] = NULL;
	}
	return oc->st[which];
}

/* Run BEGIN IMMEDIATE or COMMIT. */
static int
outbox_exec(struct outbox_conn *oc, int which)
{
	sqlite3_stmt	*st = outbox_stmt(oc, which);
	int		 rc;

	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_err("sqlite: %s: %s: %s", sqlite3_db_filename(oc->db,
		    "main"), outbox_sql[which], sqlite3_errmsg(oc->db));
		return -1;
	}
	return 0;
}

/* Start a write transaction on the queue's connection. */
int
outbox_begin(struct outbox_conn *oc)
{
	return outbox_exec(oc, OQ_BEGIN);
}

/* Commit it. */
int
outbox_commit(struct outbox_conn *oc)
{
	return outbox_exec(oc, OQ_COMMIT);
}

/* Start a walk of the due actions, oldest due first; with suspects, also
 * those in flight during a crash before. */
int
outbox_due_begin(struct outbox_conn *oc, int64_t now, int suspects)
{
	sqlite3_stmt	*st = outbox_stmt(oc, OQ_PICK);

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int(st, 2, suspects);
	return 0;
}

/* The SQL of the walk of due actions: it searches the queue's index for
 * due <= now, so that actions waiting for later (a delay, a window, quiet
 * hours, a backoff) are never read (tests/unit/test_store.c). */
const char *
outbox_due_sql(void)
{
	return outbox_sql[OQ_PICK];
}

/* The next due action of the walk: 1 with *aid and *instance (valid until
 * the next call), 0 at the end, -1 on an error. */
int
outbox_due_next(struct outbox_conn *oc, int64_t *aid, const char **instance)
{
	sqlite3_stmt	*st = oc->st[OQ_PICK];

	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		*aid = sqlite3_column_int64(st, 0);
		*instance = (const char *)sqlite3_column_text(st, 1);
		return 1;
	case SQLITE_DONE:
		return 0;
	}
	return -1;
}

/* End the walk. */
void
outbox_due_end(struct outbox_conn *oc)
{
	if (oc->st[OQ_PICK] != NULL)
		sqlite3_reset(oc->st[OQ_PICK]);
}

/* When the next queued action falls due after now, read-only (no write
 * lock): 1 with *due, 0 when none will, -1 on an error. Through the index
 * outbox_queue, one probe: idle workers sleep until then. */
int
outbox_next_due(struct outbox_conn *oc, int64_t now, int64_t *due)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((st = outbox_stmt(oc, OQ_NEXT)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, now);
	switch (rc = sqlite3_step(st)) {
	case SQLITE_ROW:
		*due = sqlite3_column_int64(st, 0);
		rc = 1;
		break;
	case SQLITE_DONE:
		rc = 0;
		break;
	default:
		log_err("sqlite: %s: the next due action: %s",
		    sqlite3_db_filename(oc->db, "main"),
		    sqlite3_errmsg(oc->db));
		rc = -1;
	}
	sqlite3_reset(st);
	return rc;
}

/* A column as a new string; NULL for SQL NULL. */
static char *
outbox_column(sqlite3_stmt *st, int i)
{
	const char	*s = (const char *)sqlite3_column_text(st, i);

	return s != NULL ? xstrdup(s) : NULL;
}

/* Claim action aid: in flight, one more attempt and one more crash until
 * its outcome is recorded; then read it into item. 0, or -1. */
int
outbox_claim(struct outbox_conn *oc, int64_t aid, int64_t now,
    struct outbox_item *item)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((st = outbox_stmt(oc, OQ_MARK)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, aid);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE || (st = outbox_stmt(oc, OQ_LOAD)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, aid);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return -1;
	}
	memset(item, 0, sizeof *item);
	item->aid = aid;
	item->id = outbox_column(st, 0);
	item->sid = sqlite3_column_int64(st, 1);
	item->journey = outbox_column(st, 2);
	item->rule = outbox_column(st, 3);
	item->stage = outbox_column(st, 4);
	item->instance = outbox_column(st, 5);
	item->params = outbox_column(st, 6);
	item->created = sqlite3_column_int64(st, 7);
	item->attempt = sqlite3_column_int(st, 8);
	item->crashes = sqlite3_column_int(st, 9);
	/* The traits the plugin is handed are those of the first attempt, the
	 * same on every retry (a webhook's body); the current ones are read
	 * beside them (an unsubscription counts). */
	item->traits = outbox_column(st, 10);
	if (sqlite3_column_type(st, 11) != SQLITE_NULL) {
		item->subject_id = outbox_column(st, 11);
		item->kind = sqlite3_column_int(st, 12);
		item->traits_now = outbox_column(st, 13);
		item->account_traits = outbox_column(st, 14);
	} else
		item->subject_id = xstrdup("");
	if (item->traits_now == NULL)
		item->traits_now = xstrdup("{}");
	if (item->traits == NULL)
		item->traits = xstrdup(item->traits_now);
	item->variant = outbox_column(st, 15);
	sqlite3_reset(st);
	return 0;
}

/* Free what an item holds, and clear it. */
void
outbox_item_free(struct outbox_item *item)
{
	free(item->id);
	free(item->journey);
	free(item->rule);
	free(item->stage);
	free(item->instance);
	free(item->params);
	free(item->subject_id);
	free(item->traits);
	free(item->traits_now);
	free(item->account_traits);
	free(item->variant);
	memset(item, 0, sizeof *item);
}

/* The delay before the next try after attempt n (1-based): retry_min,
 * doubling, up to retry_max. */
static int64_t
outbox_backoff(const struct outbox_retry *rp, int attempt)
{
	int64_t	 d = rp->min;

	for (int i = 1; i < attempt && d < rp->max; i++)
		d *= 2;
	return d > rp->max ? rp->max : d;
}

/* When a transient failure is tried again: after the backoff, or after
 * the server's own delay (clamped to [1 s, retry_max], so that no answer
 * can start a retry storm nor park an action for ever), but never later
 * than retry_for after the first try. *dead when that has passed. */
static int64_t
outbox_next_try(const struct outbox_retry *rp, const struct outbox_outcome *o,
    int64_t first, int *dead)
{
	int64_t	 delay, due;

	delay = outbox_backoff(rp, o->attempt);
	if (o->retry_after > 0)
		delay = o->retry_after > rp->max ? rp->max : o->retry_after;
	if (delay < 1)
		delay = 1;
	*dead = o->now - first >= rp->until;
	due = o->now + delay;
	if (due > first + rp->until)
		due = first + rp->until;
	return due;
}

/*
 * Record the outcome of claimed action aid, inside the caller's
 * transaction; its status and next due time go to *status and *due. A
 * transient failure is tried again (outbox_next_try); its last try's
 * failure makes the action dead.
 */
int
outbox_record(struct outbox_conn *oc, int64_t aid,
    const struct outbox_outcome *o, const struct outbox_retry *rp,
    int *status, int64_t *due)
{
	sqlite3_stmt	*st;
	int64_t		 first = o->now;
	int		 dead, rc;
	char		*gave_up = NULL;

	*due = o->now;
	switch (o->result) {
	case OUTCOME_DONE:
		*status = OUTBOX_DONE;
		break;
	case OUTCOME_HELD:
		*status = OUTBOX_HELD;
		break;
	case OUTCOME_FAILED:
		*status = OUTBOX_DEAD;
		break;
	case OUTCOME_RETRY:
	default:
		if ((st = outbox_stmt(oc, OQ_FIRST_TRY)) == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, aid);
		if (sqlite3_step(st) == SQLITE_ROW &&
		    sqlite3_column_type(st, 0) != SQLITE_NULL)
			first = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		*due = outbox_next_try(rp, o, first, &dead);
		*status = dead ? OUTBOX_DEAD : OUTBOX_RETRYING;
		if (dead)
			gave_up = xprintf("gave up after %d attempts: %s",
			    o->attempt, o->reason ? o->reason : "failed");
		break;
	}
	if ((st = outbox_stmt(oc, OQ_RECORD)) == NULL) {
		free(gave_up);
		return -1;
	}
	sqlite3_bind_int(st, 1, *status);
	sqlite3_bind_int64(st, 2, *due);
	if (gave_up != NULL)
		sqlite3_bind_text(st, 3, gave_up, -1, free);
	else if (o->result != OUTCOME_DONE)
		sqlite3_bind_text(st, 3, o->reason, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, o->note, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, o->now);
	sqlite3_bind_int64(st, 6, aid);
	sqlite3_bind_text(st, 7, o->external_id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != 0)
		log_err("outbox: cannot record action %lld: %s",
		    (long long)aid, sqlite3_errmsg(oc->db));
	return rc;
}

/* Put actions left in flight by a crash back in the queue, due at once;
 * park as dead those in flight during three crashes in a row. */
int
outbox_recover(sqlite3 *db, int64_t now)
{
	sqlite3_stmt	*st;
	int		 dead = 0, back = 0;

	if (store_begin(db) != 0)
		return -1;
	/* Through outbox_queue, not the whole outbox. */
	st = store_prepare(db, "UPDATE outbox SET status = ?1, reason = "
	    "'in flight during 3 crashes in a row', updated = ?2 WHERE "
	    OUTBOX_QUEUED_SQL " AND status = ?3 AND crashes >= 3");
	sqlite3_bind_int(st, 1, OUTBOX_DEAD);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int(st, 3, OUTBOX_INFLIGHT);
	if (sqlite3_step(st) == SQLITE_DONE)
		dead = sqlite3_changes(db);
	sqlite3_finalize(st);
	st = store_prepare(db, "UPDATE outbox SET status = ?1, due = ?2, "
	    "updated = ?2 WHERE " OUTBOX_QUEUED_SQL " AND status = ?3");
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

/* Put a claimed action back without counting its attempt: pending, due
 * at due (quiet hours), or held (a cap), with the reason. Inside the
 * caller's transaction. */
static int
outbox_put_back(sqlite3 *db, int64_t aid, int status, int64_t due,
    const char *reason, int64_t now)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((st = store_try_prepare(db, "UPDATE outbox SET status = ?1, due = "
	    "?2, reason = ?3, crashes = 0, updated = ?4, first_try = CASE WHEN "
	    "attempts <= 1 THEN NULL ELSE first_try END, attempts = "
	    "max(attempts - 1, 0) WHERE aid = ?5")) == NULL)
		return -1;
	sqlite3_bind_int(st, 1, status);
	sqlite3_bind_int64(st, 2, due);
	sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_int64(st, 5, aid);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(st);
	return rc;
}

/* A claimed action waits: pending again, due at due. */
int
outbox_defer(sqlite3 *db, int64_t aid, int64_t due, const char *reason,
    int64_t now)
{
	return outbox_put_back(db, aid, OUTBOX_PENDING, due, reason, now);
}

/* A claimed action is held, never sent. */
int
outbox_hold(sqlite3 *db, int64_t aid, const char *reason, int64_t now)
{
	return outbox_put_back(db, aid, OUTBOX_HELD, now, reason, now);
}

/* How many actions of an instance count toward a subject's cap: done
 * since `since`, and in flight, other than aid, and not of the rules
 * ("journey/rule") in the JSON array exempt. -1 on an error. */
int64_t
outbox_count_capped(sqlite3 *db, int64_t sid, const char *instance,
    int64_t aid, int64_t since, const char *exempt)
{
	sqlite3_stmt	*st;
	int64_t		 n = -1;

	if ((st = store_try_prepare(db, "SELECT count(*) FROM outbox WHERE "
	    "subject = ?1 AND instance = ?2 AND aid <> ?3 AND (status = ?4 OR "
	    "(status = ?5 AND updated > ?6)) AND journey || '/' || rule NOT "
	    "IN (SELECT value FROM json_each(?7))")) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, sid);
	sqlite3_bind_text(st, 2, instance, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, aid);
	sqlite3_bind_int(st, 4, OUTBOX_INFLIGHT);
	sqlite3_bind_int(st, 5, OUTBOX_DONE);
	sqlite3_bind_int64(st, 6, since);
	sqlite3_bind_text(st, 7, exempt, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* The largest action row so far (0 when none): rows queued after it are
 * greater. */
int64_t
outbox_last(sqlite3 *db)
{
	sqlite3_stmt	*st;
	int64_t		 aid = -1;

	if ((st = store_try_prepare(db, "SELECT coalesce(max(aid), 0) FROM "
	    "outbox")) == NULL)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		aid = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return aid;
}

/* Queue one action for subject sid, due now; returns its row or -1. */
int64_t
outbox_queue_one(sqlite3 *db, int64_t sid, const char *journey,
    const char *rule, const char *stage, const char *instance,
    const char *params, int64_t now)
{
	sqlite3_stmt	*st;
	int64_t		 aid = -1;

	if ((st = store_try_prepare(db, "INSERT INTO outbox(id, subject, "
	    "journey, rule, stage, instance, params, created, due, status) "
	    "VALUES (lower(hex(randomblob(16))), ?1, ?2, ?3, ?4, ?5, ?6, ?7, "
	    "?7, 0)")) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, sid);
	sqlite3_bind_text(st, 2, journey, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, rule, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, stage, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, instance, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, params, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, now);
	if (sqlite3_step(st) == SQLITE_DONE)
		aid = sqlite3_last_insert_rowid(db);
	sqlite3_finalize(st);
	return aid;
}

/* The subjects to queue for: the batch table, or the one subject ?10. */
#define OUTBOX_SOURCE(b) ((b)->sid > 0 ? "(SELECT ?10 AS sid, ?3 AS stage)" : \
	"temp.tick_batch")
#define OUTBOX_HELD_OUT "(?7 > 0 AND jd_bucket(?1 || '/' || ?2 || '/' || " \
	"s.id) < ?7)"

/* Bind the parameters every queueing statement of b shares. */
static void
outbox_batch_bind(sqlite3_stmt *st, const struct outbox_batch *b)
{
	sqlite3_bind_text(st, 1, b->journey, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, b->rule, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, b->stage, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, b->instance, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, b->params, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, b->now);
	sqlite3_bind_int(st, 7, b->holdout);
	sqlite3_bind_int64(st, 8, b->delay);
	sqlite3_bind_text(st, 9, b->variants, -1, SQLITE_STATIC);
	if (b->sid > 0)
		sqlite3_bind_int64(st, 10, b->sid);
	sqlite3_bind_text(st, 11, b->weights, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 12, b->weight_total);
}

/* Run one queueing statement of b; its changes, or -1. */
static int
outbox_batch_run(sqlite3 *db, const struct outbox_batch *b, const char *sql)
{
	sqlite3_stmt	*st;
	int		 n = -1;

	if ((st = store_try_prepare(db, sql)) == NULL)
		return -1;
	outbox_batch_bind(st, b);
	if (sqlite3_step(st) == SQLITE_DONE)
		n = sqlite3_changes(db);
	else
		log_err("outbox: cannot queue the actions of rule %s/%s: %s",
		    b->journey, b->rule, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return n;
}

/*
 * Draw the variant of each subject of b that is not held out and has none
 * yet for the rule: the first draw is kept (INSERT OR IGNORE), whatever a
 * reload does to the variants. jd_hash() of (journey, rule, subject id),
 * apart from the holdout's key, picks the first variant whose cumulative
 * weight (b->weights) is above it. 0, or -1.
 */
static int
outbox_assign(sqlite3 *db, const struct outbox_batch *b)
{
	struct buf	 q;
	int		 n;

	buf_init(&q);
	buf_printf(&q, "INSERT OR IGNORE INTO assignments(journey, rule, "
	    "subject, variant) SELECT ?1, ?2, b.sid, (SELECT w.key FROM "
	    "json_each(?11) w WHERE w.value > jd_hash(?1 || '/' || ?2 || '/' "
	    "|| s.id || '/variant', ?12) ORDER BY w.value LIMIT 1) FROM %s b "
	    "JOIN subjects s ON s.sid = b.sid WHERE NOT " OUTBOX_HELD_OUT
	    " AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.journey = "
	    "?1 AND a.rule = ?2 AND a.subject = b.sid) ORDER BY b.sid",
	    OUTBOX_SOURCE(b));
	n = outbox_batch_run(db, b, q.s);
	buf_free(&q);
	return n < 0 ? -1 : 0;
}

/*
 * Queue the action of rule b->rule for every subject of the batch table
 * temp.tick_batch(sid, stage) (or for subject b->sid alone), in subject
 * order, due now plus b->delay, at b->stage (or, when NULL, each row's
 * stage). With a holdout, the subjects a stable hash holds out
 * (jd_bucket(journey/rule/id), the rules layer's SQL function) are written
 * held, reason 'holdout', by the same statement. With variants, each
 * other subject's action is that of its variant (outbox_assign), recorded
 * in the row; a subject whose variant a reload removed is held, reason
 * 'variant removed'. Returns how many were queued, or -1.
 */
int
outbox_queue_batch(sqlite3 *db, const struct outbox_batch *b)
{
	struct buf	 q;
	const char	*held;
	int		 n;

#if OUTBOX_HELD != 5
#error "outbox statuses changed: update outbox_queue_batch"
#endif
	if (b->variants != NULL && outbox_assign(db, b) != 0)
		return -1;
	buf_init(&q);
	buf_puts(&q, "INSERT INTO outbox(id, subject, journey, rule, stage, "
	    "instance, params, created, due, status, reason, updated, variant) "
	    "SELECT lower(hex(randomblob(16))), b.sid, ?1, ?2, coalesce(?3, "
	    "b.stage), ");
	held = b->holdout > 0 ? OUTBOX_HELD_OUT : "0";
	if (b->variants == NULL)
		buf_printf(&q, "?4, ?5, ?6, ?6 + ?8, CASE WHEN %s THEN 5 ELSE "
		    "0 END, CASE WHEN %s THEN 'holdout' END, CASE WHEN %s THEN "
		    "?6 END, NULL", held, held, held);
	else
		buf_printf(&q, "coalesce(json_extract(v.value, '$.instance'), "
		    "?4), coalesce(json_extract(v.value, '$.params'), ?5), ?6, "
		    "?6 + ?8, CASE WHEN %s OR v.key IS NULL THEN 5 ELSE 0 END, "
		    "CASE WHEN %s THEN 'holdout' WHEN v.key IS NULL THEN "
		    "'variant removed' END, CASE WHEN %s OR v.key IS NULL THEN "
		    "?6 END, CASE WHEN NOT %s THEN a.variant END", held, held,
		    held, held);
	buf_printf(&q, " FROM %s b", OUTBOX_SOURCE(b));
	if (b->holdout > 0)
		buf_puts(&q, " JOIN subjects s ON s.sid = b.sid");
	if (b->variants != NULL)
		buf_puts(&q, " LEFT JOIN assignments a ON a.journey = ?1 AND "
		    "a.rule = ?2 AND a.subject = b.sid LEFT JOIN json_each(?9) v "
		    "ON v.key = a.variant");
	buf_puts(&q, " ORDER BY b.sid");
	n = outbox_batch_run(db, b, q.s);
	buf_free(&q);
	return n;
}
#undef OUTBOX_HELD_OUT
#undef OUTBOX_SOURCE

/* Count the outbox's actions by status into n[0 .. OUTBOX_HELD]. */
int
outbox_counts(sqlite3 *db, long n[OUTBOX_NSTATUS])
{
	sqlite3_stmt	*st;
	int		 rc;

	memset(n, 0, OUTBOX_NSTATUS * sizeof *n);
	if ((st = store_try_prepare(db, "SELECT status, count(*) FROM outbox "
	    "GROUP BY status")) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int s = sqlite3_column_int(st, 0);

		if (s >= 0 && s < OUTBOX_NSTATUS)
			n[s] += sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Call cb for every queued action (pending, in flight, retrying), or with
 * dead for every dead one, by due time: through the index of the queue,
 * or of the dead. Stops when cb returns non-zero. */
int
outbox_list(sqlite3 *db, int dead,
    int (*cb)(void *, const struct outbox_entry *), void *arg)
{
	struct outbox_entry	 e;
	sqlite3_stmt		*st;
	int			 rc;

	st = store_try_prepare(db, dead ? "SELECT o.id, s.kind, s.id, "
	    "o.journey, o.rule, o.instance, o.status, o.attempts, o.due, "
	    "o.reason FROM outbox o JOIN subjects s ON s.sid = o.subject "
	    "WHERE " OUTBOX_DEAD_SQL " ORDER BY o.due, o.aid" : "SELECT o.id, "
	    "s.kind, s.id, o.journey, o.rule, o.instance, o.status, "
	    "o.attempts, o.due, o.reason FROM outbox o JOIN subjects s ON "
	    "s.sid = o.subject WHERE " OUTBOX_QUEUED_SQL " ORDER BY o.due, "
	    "o.aid");
	if (st == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		e.id = (const char *)sqlite3_column_text(st, 0);
		e.kind = sqlite3_column_int(st, 1);
		e.subject = (const char *)sqlite3_column_text(st, 2);
		e.journey = (const char *)sqlite3_column_text(st, 3);
		e.rule = (const char *)sqlite3_column_text(st, 4);
		e.instance = (const char *)sqlite3_column_text(st, 5);
		e.status = sqlite3_column_int(st, 6);
		e.attempts = sqlite3_column_int(st, 7);
		e.due = sqlite3_column_int64(st, 8);
		e.reason = (const char *)sqlite3_column_text(st, 9);
		if (cb(arg, &e) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Put dead actions back in the queue, in one transaction: every dead one
 * (ref NULL), or those of action id ref or of subject sid. They are due at
 * once: since they died, or now if that is earlier (a daemon run with --now
 * may have recorded a time ahead of the clock). Returns how many, or -1
 * with err.
 */
int
outbox_retry(sqlite3 *db, const char *ref, int64_t sid, int64_t now,
    char *err, size_t errlen)
{
	sqlite3_stmt	*st;
	int		 n;

	if (store_begin(db) != 0) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		return -1;
	}
	if (ref == NULL)
		st = store_prepare(db, "UPDATE outbox SET status = ?1, due = "
		    "min(?2, coalesce(updated, ?2)), first_try = NULL, "
		    "attempts = 0, crashes = 0, updated = ?2 WHERE "
		    OUTBOX_DEAD_SQL);
	else {
		st = store_prepare(db, "UPDATE outbox SET status = ?1, due = "
		    "min(?2, coalesce(updated, ?2)), first_try = NULL, "
		    "attempts = 0, crashes = 0, updated = ?2 WHERE status = ?3 "
		    "AND (id = ?4 OR subject = ?5)");
		sqlite3_bind_int(st, 3, OUTBOX_DEAD);
		sqlite3_bind_text(st, 4, ref, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, sid);
	}
	sqlite3_bind_int(st, 1, OUTBOX_PENDING);
	sqlite3_bind_int64(st, 2, now);
	n = sqlite3_step(st) == SQLITE_DONE ? sqlite3_changes(db) : -1;
	sqlite3_finalize(st);
	if (n < 0 || store_commit(db) != 0) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		store_rollback(db);
		return -1;
	}
	return n;
}

/* Is there an action with this id? */
int
outbox_exists(sqlite3 *db, const char *id)
{
	sqlite3_stmt	*st;
	int		 n;

	st = store_prepare(db, "SELECT 1 FROM outbox WHERE id = ?1");
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	n = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return n;
}

/* Is action aid still in the outbox (not erased by journeyctl forget)? 1, 0,
 * or -1 on a fault (logged). */
int
outbox_alive(sqlite3 *db, int64_t aid)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((st = store_try_prepare(db, "SELECT 1 FROM outbox WHERE aid = "
	    "?1")) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, aid);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Retention: delete the ended actions (done, held, dead) created before
 * cut among rows lo <= aid < hi, in the caller's transaction. How many,
 * or -1. */
int64_t
outbox_prune(sqlite3 *db, int64_t lo, int64_t hi, int64_t cut)
{
	sqlite3_stmt	*st;
	int64_t		 n = -1;

	if ((st = store_try_prepare(db, "DELETE FROM outbox WHERE aid >= ?1 "
	    "AND aid < ?2 AND created < ?3 AND " OUTBOX_ENDED_SQL)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, lo);
	sqlite3_bind_int64(st, 2, hi);
	sqlite3_bind_int64(st, 3, cut);
	if (sqlite3_step(st) == SQLITE_DONE)
		n = sqlite3_changes64(db);
	sqlite3_finalize(st);
	return n;
}

/* Erasure: delete every action and variant of the subjects in
 * temp.forget_sids, in
 * the caller's transaction (store_forget()). How many, or -1. */
int64_t
outbox_forget(sqlite3 *db)
{
	int64_t	 n;

	if (store_exec(db, "DELETE FROM outbox WHERE subject IN (SELECT sid "
	    "FROM temp.forget_sids)") != 0)
		return -1;
	n = sqlite3_changes64(db);
	/* Their variants too: a new subject of the same id draws afresh. */
	if (store_exec(db, "DELETE FROM assignments WHERE subject IN (SELECT "
	    "sid FROM temp.forget_sids)") != 0)
		return -1;
	return n;
}

/* The columns of outbox_list_json, and its FROM clause up to WHERE. */
#define OUTBOX_LIST_SQL "SELECT json_object('id', o.id, 'subject', CASE" \
	" s.kind WHEN 1 THEN 'account:' || s.id ELSE s.id END, 'journey'," \
	" o.journey, 'rule', o.rule, 'plugin', o.instance, 'status', CASE" \
	" o.status WHEN 0 THEN 'pending' WHEN 1 THEN 'pending' WHEN 2 THEN" \
	" 'done' WHEN 3 THEN 'retrying' WHEN 4 THEN 'dead' WHEN 5 THEN 'held'" \
	" END, 'due', strftime('%Y-%m-%dT%H:%M:%SZ', o.due, 'unixepoch')," \
	" 'attempts', o.attempts, 'reason', o.reason) FROM outbox o JOIN" \
	" subjects s ON s.sid = o.subject WHERE "

/* The statement of the actions `journeyctl outbox` lists, the queue or with
 * dead the dead, in its order (by the index of each): one JSON object a
 * row, {"id", "subject" ("account:ID" for an account), "journey", "rule",
 * "plugin", "status" (an action in flight is "pending", as in show --json),
 * "due", "attempts", "reason"}. The caller steps and finalizes it; NULL,
 * logged, when it cannot be prepared. */
sqlite3_stmt *
outbox_list_json(sqlite3 *db, int dead)
{
	return store_try_prepare(db, dead ?
	    OUTBOX_LIST_SQL OUTBOX_DEAD_SQL " ORDER BY o.due, o.aid" :
	    OUTBOX_LIST_SQL OUTBOX_QUEUED_SQL " ORDER BY o.due, o.aid");
}
