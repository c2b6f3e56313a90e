/*
 * The outbox (outbox.c): the durable queue of actions, written in the same
 * transaction as the firing that queues them. Its statuses, how actions are
 * queued, claimed, recorded, recovered after a crash and retried are all
 * here; nothing else writes the outbox table.
 */
#ifndef JD_STORE_OUTBOX_H
#define JD_STORE_OUTBOX_H

/* Outbox statuses, as stored in outbox.status. */
#define OUTBOX_PENDING		0
#define OUTBOX_INFLIGHT		1
#define OUTBOX_DONE		2
#define OUTBOX_RETRYING		3
#define OUTBOX_DEAD		4
#define OUTBOX_HELD		5
/*
 * The rows of the partial index outbox_queue: pending, in flight, retrying
 * (the queue). A query that has this term, written out as the index's WHERE
 * is, may use the index; one with "status IN (?1, ...)" may not. Not "IN
 * (0, 1, 3)": SQLite tests an IN list of three or more in a temporary table,
 * built twice by every UPDATE of a row's status, old row and new.
 */
#define OUTBOX_QUEUED_SQL	"(status <= 1 OR status = 3)"
#if OUTBOX_PENDING != 0 || OUTBOX_INFLIGHT != 1 || OUTBOX_RETRYING != 3
#error "outbox statuses changed: update OUTBOX_QUEUED_SQL"
#endif
/* The dead, in the words of the partial index outbox_dead (a literal: the
 * planner uses a partial index only for a term it can see implies it). */
#define OUTBOX_DEAD_SQL		"(status = 4)"
#if OUTBOX_DEAD != 4
#error "outbox statuses changed: update OUTBOX_DEAD_SQL"
#endif
const char	*outbox_status_name(int);
/* The queue (or the dead) as JSON objects, one a row. */
sqlite3_stmt	*outbox_list(sqlite3 *, int dead);

#endif /* JD_STORE_OUTBOX_H */
