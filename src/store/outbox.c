/*
 * The outbox: the durable queue of actions (outbox.h).
 */
#include "config.h"

#include "store/store.h"

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

/* The columns of outbox_list, and its FROM clause up to WHERE. */
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
outbox_list(sqlite3 *db, int dead)
{
	return store_try_prepare(db, dead ?
	    OUTBOX_LIST_SQL OUTBOX_DEAD_SQL " ORDER BY o.due, o.aid" :
	    OUTBOX_LIST_SQL OUTBOX_QUEUED_SQL " ORDER BY o.due, o.aid");
}
