/*
 * The right to erasure (journeyctl forget, SPEC §18): a user's or an
 * account's data deleted in one transaction, with what its ids led to (the
 * anonymous ids tied to it, the users merged into it), and those ids
 * remembered in forgotten with the time of the erasure, so that a replayed
 * old message (an import, the spool, the HTTP API) is dropped (the ingest
 * layer's message_forgotten()) and a newer one starts a new subject.
 *
 * An action of the subject in flight meanwhile finds its outbox row gone:
 * recording its outcome changes no row, and the dispatcher applies none of
 * its effects (dispatch_effects()). The counters of ended actions
 * (outbox_tally) hold no one's data, and stay.
 */
#include "config.h"

#include <string.h>

#include "store/store.h"

/* What is deleted, in order; each statement over temp.forget_sids. */
static const struct {
	const char	*name;
	const char	*sql;
} forget_tables[FORGET_NTABLES] = {
	{ "events", "DELETE FROM events WHERE subject IN "
	    "(SELECT sid FROM temp.forget_sids)" },
	{ "pruned event counts", "DELETE FROM events_pruned WHERE subject IN "
	    "(SELECT sid FROM temp.forget_sids)" },
	{ "trait versions", "DELETE FROM trait_versions WHERE subject IN "
	    "(SELECT sid FROM temp.forget_sids)" },
	{ "account memberships", "DELETE FROM account_versions WHERE "
	    "subject IN (SELECT sid FROM temp.forget_sids) OR account IN "
	    "(SELECT sid FROM temp.forget_sids)" },
	{ "journey memberships", "DELETE FROM members WHERE subject IN "
	    "(SELECT sid FROM temp.forget_sids)" },
	{ "history", "DELETE FROM history WHERE subject IN "
	    "(SELECT sid FROM temp.forget_sids)" },
	{ "firings", "DELETE FROM firings WHERE subject IN "
	    "(SELECT sid FROM temp.forget_sids)" },
	{ "actions", NULL },		/* outbox_forget() */
	{ "changes", "DELETE FROM subject_changes WHERE subject IN "
	    "(SELECT sid FROM temp.forget_sids)" },
	{ "subjects", "DELETE FROM subjects WHERE sid IN "
	    "(SELECT sid FROM temp.forget_sids)" },
};

/* Gather the subject sid and what is tied to it, and remember their ids
 * (a merged user's as a user's) as forgotten at now, how many in *ids. */
static int
forget_gather(sqlite3 *db, int64_t sid, int64_t now, int64_t *ids)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (store_exec(db, "CREATE TEMP TABLE IF NOT EXISTS forget_sids("
	    "sid INTEGER PRIMARY KEY); DELETE FROM temp.forget_sids") != 0)
		return -1;
	st = store_prepare(db, "INSERT INTO temp.forget_sids(sid) "
	    "WITH RECURSIVE t(sid) AS (SELECT ?1 UNION SELECT s.sid FROM "
	    "subjects s JOIN t ON s.tied = t.sid) SELECT sid FROM t");
	sqlite3_bind_int64(st, 1, sid);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(st);
	if (rc != 0)
		return -1;
	st = store_prepare(db, "INSERT INTO forgotten(kind, id, ts) SELECT "
	    "CASE kind WHEN 3 THEN 0 ELSE kind END, id, ?1 FROM subjects "
	    "WHERE sid IN (SELECT sid FROM temp.forget_sids) AND true "
	    "ON CONFLICT (kind, id) DO UPDATE SET ts = max(ts, excluded.ts)");
	sqlite3_bind_int64(st, 1, now);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	*ids = sqlite3_changes64(db);
	sqlite3_finalize(st);
	return rc;
}

/* The users of an erased account: their current account again the one of
 * their newest membership left, or none. They, and the account of an
 * erased user, are logged as changed, so that the daemon evaluates them
 * soon (reacting). */
static int
forget_accounts(sqlite3 *db)
{
	return store_exec(db, "INSERT INTO subject_changes(subject) SELECT sid "
	    "FROM subjects WHERE account IN (SELECT sid FROM temp.forget_sids) "
	    "UNION SELECT account FROM subjects WHERE sid IN (SELECT sid FROM "
	    "temp.forget_sids) AND account IS NOT NULL AND account NOT IN "
	    "(SELECT sid FROM temp.forget_sids);"
	    "UPDATE subjects SET (account, account_ts) = "
	    "(SELECT v.account, v.ts FROM account_versions v WHERE v.subject "
	    "= subjects.sid ORDER BY v.ts DESC, v.seq DESC LIMIT 1) WHERE "
	    "account IN (SELECT sid FROM temp.forget_sids)");
}

/* The name of what count i of struct forget_counts counts. */
const char *
forget_table_name(int i)
{
	return forget_tables[i].name;
}

/*
 * Erase subject sid at now in one transaction: its rows, and those of the
 * subjects tied to it, deleted, and their ids remembered; the rows deleted
 * of each table in out. 0, or -1 (logged; nothing changed).
 */
int
store_forget(sqlite3 *db, int64_t sid, int64_t now,
    struct forget_counts *out)
{
	memset(out, 0, sizeof *out);
	if (store_begin(db) != 0)
		return -1;
	if (forget_gather(db, sid, now, &out->ids) != 0)
		goto fail;
	for (int i = 0; i < FORGET_NTABLES; i++) {
		if (forget_tables[i].sql == NULL)
			out->n[i] = outbox_forget(db);
		else if ((out->n[i] = store_exec(db, forget_tables[i].sql)) ==
		    0)
			out->n[i] = sqlite3_changes64(db);
		if (out->n[i] < 0)
			goto fail;
		if (i == FORGET_ACCOUNTS && forget_accounts(db) != 0)
			goto fail;
	}
	if (store_commit(db) != 0)
		goto fail;
	return 0;
fail:
	store_rollback(db);
	return -1;
}
