/*
 * Reacting (SPEC §13): after new data is committed — by the daemon's own
 * ingest, its spool, or a journeyctl import beside it — the subjects that
 * changed are evaluated at once, by a scoped tick over them and over the
 * subjects whose rules read them, with the same statements and meaning as
 * a full tick at that moment. The scheduled tick still evaluates everyone
 * for what time alone changes.
 *
 * What changed is found without a write on the ingest path beyond its own:
 * new events by events.eid above a watermark (the rowid only grows, and one
 * writer at a time commits in order), and changes of traits, account
 * membership or identity (merges) by subject_changes.seq above another,
 * which the importer logs once per subject per transaction. The marks live
 * in the daemon's memory: at start, and whenever a full tick begins, they
 * move to what exists, since a full tick covers everything before it.
 *
 * The scope: the changed subjects; the accounts of changed users (an
 * account journey counts its users' events and users); and, when a user
 * journey reads its account (account.*), the users of every account in
 * the scope. Subjects counted twice cost a second look, never a different
 * outcome: evaluating an unchanged subject at now is what a full tick does.
 */
#include "config.h"

#include <string.h>

#include "engine/engine-int.h"

/* The marks as they are now: changes after them are new. */
int
engine_mark(struct engine *e, struct react_mark *m)
{
	struct tick	 t = { .e = e };

	if (e->cf->njourneys == 0) {
		memset(m, 0, sizeof *m);
		return 0;
	}
	t.j = &e->cf->journeys[0];
	if ((m->eid = eng_int(&t, "SELECT coalesce(max(eid), 0) FROM "
	    "events")) < 0 || (m->seq = eng_int(&t, "SELECT coalesce(max(seq), "
	    "0) FROM subject_changes")) < 0)
		return -1;
	return 0;
}

/* Does any user journey read its subjects' accounts? */
static int
react_reads_accounts(const struct config *cf)
{
	for (int i = 0; i < cf->njourneys; i++) {
		const struct journey *j = &cf->journeys[i];

		if (j->subject != SUBJECT_USER)
			continue;
		if ((j->entry != NULL && expr_reads_account(j->entry)) ||
		    (j->exit != NULL && expr_reads_account(j->exit)))
			return 1;
		for (int k = 0; k < j->nrules; k++)
			if (expr_reads_account(j->rules[k].when))
				return 1;
	}
	return 0;
}

/*
 * Put into temp.tick_scope the subjects changed after *m, and those whose
 * rules read them, and move *m on to what was read. Returns how many
 * subjects are in the scope (0: nothing changed), or -1. Runs in one read
 * transaction, so that the marks and the scope agree.
 */
int64_t
engine_scope(struct engine *e, struct react_mark *m)
{
	struct react_mark	 now;
	struct tick		 t = { .e = e };
	int64_t			 n = -1;

	if (e->cf->njourneys == 0)
		return 0;
	t.j = &e->cf->journeys[0];
	if (store_exec(e->db, "BEGIN") != 0)
		return -1;
	if (engine_mark(e, &now) != 0)
		goto out;
	if (now.eid == m->eid && now.seq == m->seq) {
		n = 0;
		goto out;
	}
	/* :lo, :hi are the old and new marks of events; :i, the old one of
	 * subject_changes (its new one bounds nothing: later rows only add
	 * to the scope). */
	t.lo = m->eid;
	t.hi = now.eid;
	if (eng_fixed(&t, "DELETE FROM temp.tick_scope", NULL, NULL, 0) < 0 ||
	    eng_fixed(&t, "INSERT OR IGNORE INTO temp.tick_scope(sid) SELECT "
	    "subject FROM events WHERE eid > :lo AND eid <= :hi", NULL, NULL,
	    0) < 0 || eng_fixed(&t, "INSERT OR IGNORE INTO temp.tick_scope(sid) "
	    "SELECT subject FROM subject_changes WHERE seq > :i", NULL, NULL,
	    m->seq) < 0 || eng_fixed(&t, "INSERT OR IGNORE INTO "
	    "temp.tick_scope(sid) SELECT s.account FROM temp.tick_scope c "
	    "CROSS JOIN subjects s ON s.sid = c.sid WHERE s.account IS NOT "
	    "NULL", NULL, NULL, 0) < 0)
		goto out;
	if (react_reads_accounts(e->cf) && eng_fixed(&t, "INSERT OR IGNORE "
	    "INTO temp.tick_scope(sid) SELECT u.sid FROM temp.tick_scope c "
	    "CROSS JOIN subjects u ON u.account = c.sid", NULL, NULL, 0) < 0)
		goto out;
	if ((n = eng_int(&t, "SELECT count(*) FROM temp.tick_scope")) >= 0)
		*m = now;
out:
	store_exec(e->db, "COMMIT");
	return n;
}

/* Forget the subject changes up to m: a full tick that began after them
 * covered them. */
int
engine_forget_changes(struct engine *e, const struct react_mark *m)
{
	struct tick	 t = { .e = e };

	if (e->cf->njourneys == 0)
		return 0;
	t.j = &e->cf->journeys[0];
	return eng_fixed(&t, "DELETE FROM subject_changes WHERE seq <= :i",
	    NULL, NULL, m->seq) < 0 ? -1 : 0;
}
