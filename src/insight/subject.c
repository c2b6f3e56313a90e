/*
 * A subject's document (SPEC §3, `journeyctl show ID --json`, and the HTTP
 * API's GET /v1/subjects/ID): its id, kind, traits, account or users, its
 * journeys, and its history with each action's current status, built as one
 * JSON object by one statement. An action of a rule with variants has its
 * "variant"; an anonymous subject has "anonymous": true.
 */
#include "config.h"

#include "insight/insight.h"

/* The SQL of a subject's document as one JSON object. */
static const char subject_json_sql[] =
	"SELECT json_patch(json_object("
	" 'id', s.id,"
	" 'kind', CASE s.kind WHEN 1 THEN 'account' ELSE 'user' END,"
	" 'traits', json(s.traits),"
	" 'account', (SELECT a.id FROM subjects a WHERE a.sid = s.account),"
	" 'users', CASE s.kind WHEN 1 THEN (SELECT json_group_array(u.id) FROM"
	"   (SELECT id FROM subjects WHERE account = s.sid ORDER BY id) u)"
	"   END,"
	" 'journeys', (SELECT json_group_object(m.journey, json_object("
	"   'stage', m.stage,"
	"   'status', CASE m.status WHEN 0 THEN 'active' WHEN 1 THEN"
	"     'completed' ELSE 'exited' END,"
	"   'entered', strftime('%Y-%m-%dT%H:%M:%SZ', m.entered, 'unixepoch'),"
	"   'since', strftime('%Y-%m-%dT%H:%M:%SZ', m.stage_since,"
	"     'unixepoch')))"
	"   FROM " MEMBERS_OF("s.sid") "),"
	" 'history', (SELECT json_group_array(json_patch(json_object("
	"   'time', strftime('%Y-%m-%dT%H:%M:%SZ', h.ts, 'unixepoch'),"
	"   'journey', h.journey, 'what', h.what, 'stage', h.stage,"
	"   'from', h.from_stage, 'rule', h.rule,"
	"   'status', CASE o.status WHEN 0 THEN 'pending' WHEN 1 THEN 'pending'"
	"     WHEN 2 THEN 'done' WHEN 3 THEN 'retrying' WHEN 4 THEN 'dead'"
	"     WHEN 5 THEN 'held' END,"
	"   'action', o.id, 'plugin', o.instance, 'attempts', o.attempts,"
	"   'reason', o.reason, 'note', o.note,"
	"   'external_id', o.external_id),"
	/* An action's variant, only when it has one. */
	"   json_object('variant', o.variant)))"
	/* ?1, not s.sid: SQLite pushes a constant into the view's two
	 * parts (its index), not a column of the outer query (a scan). */
	"   FROM (SELECT * FROM history_steps WHERE subject = ?1"
	"     ORDER BY hid, part) h"
	"   LEFT JOIN outbox o ON o.aid = h.action)),"
	/* An anonymous subject (anon:ID) says so; a user or an account has
	 * no such key. */
	" json_object('anonymous', CASE s.kind WHEN 2 THEN json('true') END))"
	" FROM subjects s WHERE s.sid = ?1";

/* The document of subject sid (from store_subject), a string the caller
 * frees; NULL when the database failed (logged) or there is no such
 * subject. */
char *
subject_json(sqlite3 *db, int64_t sid)
{
	sqlite3_stmt	*st;
	char		*doc = NULL;
	int		 rc;

	if ((st = store_try_prepare(db, subject_json_sql)) == NULL)
		return NULL;
	sqlite3_bind_int64(st, 1, sid);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		doc = xstrdup((const char *)sqlite3_column_text(st, 0));
	else if (rc != SQLITE_DONE)
		log_err("sqlite: %s: %s", sqlite3_db_filename(db, "main"),
		    sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return doc;
}

/* The time of the newest event that retention pruned of subject sid (an
 * account: of its users), which explain --now before it cannot see as it
 * was; 0 when none was, -1 on a database error. */
int64_t
subject_pruned_until(sqlite3 *db, int64_t sid)
{
	sqlite3_stmt	*st;
	int64_t		 until = -1;

	if ((st = store_try_prepare(db, "SELECT coalesce(max(last_ts), 0) "
	    "FROM events_pruned WHERE subject = ?1 OR subject IN (SELECT "
	    "sid FROM subjects WHERE account = ?1)")) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, sid);
	if (sqlite3_step(st) == SQLITE_ROW)
		until = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return until;
}
