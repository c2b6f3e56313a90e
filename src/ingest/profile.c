/*
 * The profile store under the importer: subjects found or created by id,
 * anonymous ids tied to users, merges, traits and account membership kept
 * by time, and the log of changed subjects.
 *
 * Ids. A user's messages go to the subject (kind 0, userId); an
 * anonymousId's to (kind 2, anonymousId) until it is tied to a user, then
 * to that user (subjects.tied). A user merged into another by an alias
 * becomes kind 3, tied to it, so that its id still leads there. Neither
 * kind 2 nor kind 3 is a journey's subject, so neither enters a journey.
 * Ids found are cached (a subject is deleted only by journeyctl forget,
 * another connection, and a tie only ever set once or moved on by a merge,
 * which clears the cache); the cache is cleared when a transaction is
 * rolled back, and when one begins after another connection wrote (it may
 * have tied, merged or erased a cached id). The
 * id of a merged user (kind 3) is looked for only when there is one.
 *
 * Ties and merges. The first message with both an anonymousId and a
 * userId ties them: the anonymous subject's events move to the user, its
 * trait versions for the keys the user has never set, and its account
 * versions when the user has none. An alias whose previousId is a user
 * merges that user the same way, and ends its journeys (they are marked
 * exited, with a history entry "exited" by rule "alias", at the receive
 * time): its id then leads to the new user, and the new user is evaluated
 * from the merged data like any other, entering journeys by their entry
 * rules. Otherwise previousId is an anonymous id. An id is tied once:
 * a later message pairing it with another user leaves the tie alone.
 *
 * Versions (SPEC §14.4). A trait version (subject, key, ts, value) is
 * written for every top-level key a message sets, null an unset; an
 * account version for every group. Among equal times the one imported
 * last (the higher seq) wins. The subject's row keeps the newest value of
 * every key and the newest account, with the newest version's time, so
 * that a read as of a later time needs no versions (store.h).
 *
 * Changes. A transaction that changes a subject's traits or account
 * membership, or merges it, appends its sid to subject_changes once:
 * the user and the account of a group (and the account the user left),
 * both subjects of a merge.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ingest/ingest-int.h"

#ifndef PROFILE_CACHE
#define PROFILE_CACHE		131072	/* ids cached (8 MiB), a power of 2 */
#endif
#define PROFILE_CACHE_ID	48	/* longest id cached, NUL included */

struct profile_cached {
	int64_t	 sid;		/* the subject its messages count for */
	int	 kind;
	int	 own;		/* sid is the row of (kind, id) itself */
	char	 id[PROFILE_CACHE_ID];
};

struct profile {
	sqlite3			*db;
	sqlite3_stmt		*find;
	sqlite3_stmt		*add;
	sqlite3_stmt		*traits_set;
	sqlite3_stmt		*versions_add;
	sqlite3_stmt		*keys_add;
	sqlite3_stmt		*account_of;
	sqlite3_stmt		*join_add;
	sqlite3_stmt		*join_set;
	sqlite3_stmt		*change_add;
	sqlite3_stmt		*merge[12];	/* prepared at the first merge */
	sqlite3_stmt		*data_version;
	sqlite3_stmt		*merged_any;
	int64_t			 seen;		/* data_version of the cache */
	int			 merged;	/* some user was merged */

	int64_t			*changed;	/* sids noted in this
						   transaction, open addressing */
	size_t			 nchanged, capchanged;
	struct profile_cached	 cache[PROFILE_CACHE];
};

/* A row j of json_each(?3), the traits set on subject ?1 at time ?2, is
 * the newest version of its key: ?2 is no older than the subject's
 * newest version, or than its key's. */
#define PROFILE_NEWEST(J) \
	"((SELECT traits_ts IS NULL OR traits_ts <= ?2 FROM subjects WHERE " \
	"sid = ?1) OR NOT EXISTS (SELECT 1 FROM trait_versions t WHERE " \
	"t.subject = ?1 AND t.key = " J ".key AND t.ts > ?2))"

/*
 * The traits of ?3 set on subject ?1 at time ?2: each key of the current
 * traits whose newest version this is takes its value ('' in x: it is
 * removed), then the keys that are new come, in the message's order (of
 * a key given twice, the last). Written without CTEs, IN lists or ORDER
 * BY, which would each build a temporary table per message.
 */
#define PROFILE_TRAITS_SET \
	"UPDATE subjects SET traits = (SELECT json_group_object(k, json(v)) " \
	"FROM (SELECT k, CASE WHEN x IS NULL THEN old WHEN x = '' THEN NULL " \
	"ELSE x END AS v FROM (SELECT o.key AS k, " STORE_JSON_TEXT("o") \
	" AS old, (SELECT CASE WHEN j.type = 'null' THEN '' ELSE " \
	STORE_JSON_TEXT("j") " END FROM json_each(?3) j WHERE j.key = " \
	"o.key AND " PROFILE_NEWEST("j") " AND NOT EXISTS (SELECT 1 FROM " \
	"json_each(?3) y WHERE y.key = j.key AND y.id > j.id)) AS x FROM " \
	"json_each((SELECT traits FROM subjects WHERE sid = ?1)) o) " \
	"UNION ALL SELECT j.key, " STORE_JSON_TEXT("j") " FROM " \
	"json_each(?3) j WHERE NOT EXISTS (SELECT 1 FROM json_each((SELECT " \
	"traits FROM subjects WHERE sid = ?1)) o WHERE o.key = j.key) AND " \
	"NOT EXISTS (SELECT 1 FROM json_each(?3) y WHERE y.key = j.key AND " \
	"y.id > j.id) AND " PROFILE_NEWEST("j") ") WHERE v IS NOT NULL), " \
	"traits_ts = max(coalesce(traits_ts, ?2), ?2) WHERE sid = ?1"

/* The statements of a merge of ?1 into ?2 (?3: the receive time), in
 * their order; see profile_merge(). */
enum {
	MERGE_EVENTS, MERGE_TRAITS_DROP, MERGE_TRAITS_MOVE, MERGE_JOIN_DROP,
	MERGE_JOIN_MOVE, MERGE_TRAITS_NOW, MERGE_ACCOUNT_NOW, MERGE_CREATED,
	MERGE_SOURCE, MERGE_TIES, MERGE_EXIT_HISTORY, MERGE_EXIT
};
static const char *profile_merge_sql[] = {
	"UPDATE events SET subject = ?2 WHERE subject = ?1",
	"DELETE FROM trait_versions WHERE subject = ?1 AND EXISTS (SELECT 1 "
	"FROM trait_versions w WHERE w.subject = ?2 AND w.key = "
	"trait_versions.key)",
	"UPDATE trait_versions SET subject = ?2 WHERE subject = ?1",
	"DELETE FROM account_versions WHERE subject = ?1 AND EXISTS "
	"(SELECT 1 FROM account_versions WHERE subject = ?2)",
	"UPDATE account_versions SET subject = ?2 WHERE subject = ?1",
	/* The user's traits and account again, from all its versions. */
	"UPDATE subjects SET traits = (SELECT coalesce(json_group_object("
	"tv.key, json(tv.value)), '{}') FROM trait_versions tv WHERE "
	"tv.subject = ?2 AND tv.value IS NOT NULL AND tv.seq = (SELECT "
	"tw.seq FROM trait_versions tw WHERE tw.subject = ?2 AND tw.key = "
	"tv.key ORDER BY tw.ts DESC, tw.seq DESC LIMIT 1)), traits_ts = "
	"(SELECT max(ts) FROM trait_versions WHERE subject = ?2) "
	"WHERE sid = ?2",
	"UPDATE subjects SET (account, account_ts) = (SELECT account, ts "
	"FROM account_versions WHERE subject = ?2 ORDER BY ts DESC, seq DESC "
	"LIMIT 1) WHERE sid = ?2",
	"UPDATE subjects SET created = min(created, (SELECT created FROM "
	"subjects WHERE sid = ?1)) WHERE sid = ?2",
	/* The source keeps its traits as they were (what actions queued
	 * for it read), and no versions, no account. */
	"UPDATE subjects SET kind = CASE kind WHEN 0 THEN 3 ELSE kind END, "
	"tied = ?2, traits_ts = NULL, account = NULL, account_ts = NULL "
	"WHERE sid = ?1",
	"UPDATE subjects SET tied = ?2 WHERE tied = ?1",
	MEMBER_JOURNEYS_CTE "INSERT INTO history (subject, journey, ts, what, "
	"stage, rule) SELECT m.subject, m.journey, ?3, 'exited', m.stage, "
	"'alias' FROM js JOIN members m ON m.journey = js.j AND m.subject = "
	"?1 WHERE m.status IN (0, 1)",
	MEMBER_JOURNEYS_CTE "UPDATE members SET status = 2 WHERE subject = ?1 "
	"AND journey IN (SELECT j FROM js) AND status IN (0, 1)",
};

/* A store for db's subjects. */
struct profile *
profile_new(sqlite3 *db)
{
	struct profile	*p = xcalloc(1, sizeof *p);

	p->db = db;
	p->find = store_prepare(db,
	    "SELECT sid, tied FROM subjects WHERE kind = ?1 AND id = ?2");
	p->add = store_prepare(db, "INSERT INTO subjects (kind, id, created, "
	    "tied) VALUES (?1, ?2, ?3, ?4)");
	p->traits_set = store_prepare(db, PROFILE_TRAITS_SET);
	p->versions_add = store_prepare(db, "INSERT INTO trait_versions "
	    "(subject, key, ts, value) SELECT ?1, j.key, ?2, "
	    STORE_JSON_TEXT("j") " FROM json_each(?3) j");
	p->keys_add = store_prepare(db, "INSERT INTO trait_keys (key) "
	    "SELECT j.key FROM json_each(?1) j WHERE j.type <> 'null' "
	    "ON CONFLICT (key) DO NOTHING");
	p->account_of = store_prepare(db,
	    "SELECT account FROM subjects WHERE sid = ?1");
	p->join_add = store_prepare(db, "INSERT INTO account_versions "
	    "(subject, ts, account) VALUES (?1, ?2, ?3)");
	p->join_set = store_prepare(db, "UPDATE subjects SET account = CASE "
	    "WHEN account_ts IS NULL OR account_ts <= ?2 THEN ?3 ELSE account "
	    "END, account_ts = max(coalesce(account_ts, ?2), ?2) "
	    "WHERE sid = ?1");
	p->change_add = store_prepare(db,
	    "INSERT INTO subject_changes (subject) VALUES (?1)");
	p->data_version = store_prepare(db, "PRAGMA data_version");
	p->merged_any = store_prepare(db,
	    "SELECT EXISTS (SELECT 1 FROM subjects WHERE kind = 3)");
	p->seen = -1;
	return p;
}

/* Free the store's statements and cache. */
void
profile_free(struct profile *p)
{
	if (p == NULL)
		return;
	sqlite3_finalize(p->find);
	sqlite3_finalize(p->add);
	sqlite3_finalize(p->traits_set);
	sqlite3_finalize(p->versions_add);
	sqlite3_finalize(p->keys_add);
	sqlite3_finalize(p->account_of);
	sqlite3_finalize(p->join_add);
	sqlite3_finalize(p->join_set);
	sqlite3_finalize(p->change_add);
	sqlite3_finalize(p->data_version);
	sqlite3_finalize(p->merged_any);
	for (size_t i = 0; i < sizeof p->merge / sizeof p->merge[0]; i++)
		sqlite3_finalize(p->merge[i]);
	free(p->changed);
	free(p);
}

/* Forget every cached id. */
static void
profile_cache_clear(struct profile *p)
{
	for (int i = 0; i < PROFILE_CACHE; i++)
		p->cache[i].id[0] = '\0';
}

/* After a rollback: nothing cached or noted is sure any more. */
void
profile_forget(struct profile *p)
{
	profile_cache_clear(p);
	profile_settled(p);
	p->seen = -1;
}

/* The integer a statement without parameters returns; -1 on a fault. */
static int64_t
profile_int(sqlite3_stmt *st)
{
	int64_t	 v = -1;

	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return v;
}

/*
 * A write transaction began. When another connection wrote since the
 * cache was filled (PRAGMA data_version, which this connection's own
 * commits leave alone), it may have tied or merged a cached id: forget
 * them all. Whether any user was ever merged is asked again then, so that
 * a new user's id needs no second probe when none was.
 */
int
profile_begin(struct profile *p)
{
	int64_t	 version;

	if ((version = profile_int(p->data_version)) == -1)
		return -1;
	if (version == p->seen)
		return 0;
	profile_cache_clear(p);
	if ((p->merged = (int)profile_int(p->merged_any)) == -1)
		return -1;
	p->seen = version;
	return 0;
}

/* After a commit: the next transaction notes its changes anew. */
void
profile_settled(struct profile *p)
{
	if (p->nchanged != 0)
		memset(p->changed, 0, p->capchanged * sizeof *p->changed);
	p->nchanged = 0;
}

/* The cache slot for an id. */
static struct profile_cached *
profile_slot(struct profile *p, int kind, const char *id, size_t len)
{
	uint32_t	 h = 2166136261u ^ (uint32_t)kind;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)id[i]) * 16777619u;
	return &p->cache[h & (PROFILE_CACHE - 1)];
}

/* Look an id up in the cache; NULL when it is not there. */
static struct profile_cached *
profile_cache_get(struct profile *p, int kind, const char *id, size_t len)
{
	struct profile_cached	*c;

	if (len >= PROFILE_CACHE_ID)
		return NULL;
	c = profile_slot(p, kind, id, len);
	if (c->id[0] != '\0' && c->kind == kind && c->id[len] == '\0' &&
	    memcmp(c->id, id, len) == 0)
		return c;
	return NULL;
}

/* Remember where an id's messages go. */
static void
profile_cache_put(struct profile *p, int kind, const char *id, size_t len,
    int64_t sid, int own)
{
	struct profile_cached	*c;

	if (len >= PROFILE_CACHE_ID || len == 0)
		return;
	c = profile_slot(p, kind, id, len);
	c->kind = kind;
	c->sid = sid;
	c->own = own;
	memcpy(c->id, id, len);
	c->id[len] = '\0';
}

/* Run a statement that returns nothing; -1 when it failed. */
static int
profile_exec(sqlite3_stmt *st)
{
	int	 rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

/* The slot of sid in the set of noted sids: where it is, or the empty
 * one where it goes. */
static size_t
profile_noted(const struct profile *p, int64_t sid)
{
	size_t	 mask = p->capchanged - 1, i;

	i = (size_t)((uint64_t)sid * 0x9e3779b97f4a7c15ull >> 32);
	while (p->changed[i & mask] != 0 && p->changed[i & mask] != sid)
		i++;
	return i & mask;
}

/* Note that sid changed in this transaction: once in subject_changes. */
static int
profile_changed(struct profile *p, int64_t sid)
{
	int64_t	*old = p->changed;
	size_t	 oldcap = p->capchanged, i;

	if (2 * (p->nchanged + 1) > p->capchanged) {
		p->capchanged = oldcap == 0 ? 64 : 2 * oldcap;
		p->changed = xcalloc(p->capchanged, sizeof *p->changed);
		for (i = 0; i < oldcap; i++)
			if (old[i] != 0)
				p->changed[profile_noted(p, old[i])] = old[i];
		free(old);
	}
	i = profile_noted(p, sid);
	if (p->changed[i] == sid)
		return 0;
	sqlite3_bind_int64(p->change_add, 1, sid);
	if (profile_exec(p->change_add) != 0)
		return -1;
	p->changed[i] = sid;
	p->nchanged++;
	return 0;
}

/* Find the row of (kind, id): 1 with its sid and tie (0 when none), 0
 * when there is none, -1 on a fault. */
static int
profile_find(struct profile *p, int kind, const char *id, size_t len,
    int64_t *sid, int64_t *tied)
{
	sqlite3_stmt	*st = p->find;
	int		 rc;

	sqlite3_bind_int(st, 1, kind);
	sqlite3_bind_text(st, 2, id, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*sid = sqlite3_column_int64(st, 0);
		*tied = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Create the row of (kind, id) at ts, tied to tied when not 0; its sid,
 * or -1. */
static int64_t
profile_add(struct profile *p, int kind, const char *id, size_t len,
    int64_t ts, int64_t tied)
{
	sqlite3_stmt	*st = p->add;

	sqlite3_bind_int(st, 1, kind);
	sqlite3_bind_text(st, 2, id, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, ts);
	if (tied != 0)
		sqlite3_bind_int64(st, 4, tied);
	else
		sqlite3_bind_null(st, 4);
	if (profile_exec(st) != 0)
		return -1;
	return sqlite3_last_insert_rowid(p->db);
}

/* Look up where the messages of (kind, id) go, in the cache, else in the
 * database (then cached): 1 with *sid (its tie's when it has one) and
 * *own (whether that is its own row), 0 when unknown, -1 on a fault. */
static int
profile_lookup(struct profile *p, int kind, const char *id, size_t len,
    int64_t *sid, int *own)
{
	struct profile_cached	*c;
	int64_t			 tied;
	int			 rc;

	if ((c = profile_cache_get(p, kind, id, len)) != NULL) {
		*sid = c->sid;
		*own = c->own;
		return 1;
	}
	if ((rc = profile_find(p, kind, id, len, sid, &tied)) != 1)
		return rc;
	*own = tied == 0;
	if (!*own)
		*sid = tied;
	profile_cache_put(p, kind, id, len, *sid, *own);
	return 1;
}

/* Find (kind, id), else create it at ts, tied to tied when not 0; its
 * sid (see profile_lookup()), or -1. */
static int64_t
profile_get(struct profile *p, int kind, const char *id, size_t len,
    int64_t ts, int64_t tied, int *own)
{
	int64_t	 sid;
	int	 rc;

	if ((rc = profile_lookup(p, kind, id, len, &sid, own)) != 0)
		return rc == 1 ? sid : -1;
	if ((sid = profile_add(p, kind, id, len, ts, tied)) == -1)
		return -1;
	*own = tied == 0;
	if (!*own)
		sid = tied;
	profile_cache_put(p, kind, id, len, sid, *own);
	return sid;
}

/* The subject a user's messages count for: the user, or the user it was
 * merged into; created at ts when unknown. */
int64_t
profile_user(struct profile *p, const char *id, size_t len, int64_t ts)
{
	int64_t	 sid, tied;
	int	 own, rc;

	if ((rc = profile_lookup(p, SUBJECT_USER, id, len, &sid, &own)) != 0)
		return rc == 1 ? sid : -1;
	if (p->merged && (rc = profile_find(p, SUBJECT_MERGED, id, len, &sid,
	    &tied)) != 0) {
		if (rc == 1)
			profile_cache_put(p, SUBJECT_USER, id, len, tied, 0);
		return rc == 1 ? tied : -1;
	}
	if ((sid = profile_add(p, SUBJECT_USER, id, len, ts, 0)) != -1)
		profile_cache_put(p, SUBJECT_USER, id, len, sid, 1);
	return sid;
}

/* The account groupId, created at ts when unknown. */
int64_t
profile_account(struct profile *p, const char *id, size_t len, int64_t ts)
{
	int	 own;

	return profile_get(p, SUBJECT_ACCOUNT, id, len, ts, 0, &own);
}

/* The subject an anonymous id's messages count for: the user it is tied
 * to (*user set), else its own, created at ts when unknown. */
int64_t
profile_anon(struct profile *p, const char *id, size_t len, int64_t ts,
    int *user)
{
	int64_t	 sid;
	int	 own;

	sid = profile_get(p, SUBJECT_ANON, id, len, ts, 0, &own);
	*user = !own;
	return sid;
}

/* Run merge statement i with the source, the target and the time bound
 * to those of ?1, ?2 and ?3 it has; -1 on a fault. */
static int
profile_merge_step(struct profile *p, int i, int64_t from, int64_t to,
    int64_t now)
{
	sqlite3_stmt	*st;

	if (p->merge[i] == NULL)
		p->merge[i] = store_prepare(p->db, profile_merge_sql[i]);
	st = p->merge[i];
	sqlite3_bind_int64(st, 1, from);
	sqlite3_bind_int64(st, 2, to);
	sqlite3_bind_int64(st, 3, now);
	return profile_exec(st);
}

/*
 * Merge subject from (an anonymous subject, or with user a user) into
 * the user to: its events, the trait versions of keys the user never set,
 * its account versions when the user has none; from is then tied to to.
 * A user's journeys end at now.
 */
static int
profile_merge(struct profile *p, int64_t from, int64_t to, int user,
    int64_t now)
{
	int	 traits, account;

	if (profile_merge_step(p, MERGE_EVENTS, from, to, now) != 0 ||
	    profile_merge_step(p, MERGE_TRAITS_DROP, from, to, now) != 0 ||
	    profile_merge_step(p, MERGE_TRAITS_MOVE, from, to, now) != 0)
		return -1;
	traits = sqlite3_changes(p->db) != 0;
	if (profile_merge_step(p, MERGE_JOIN_DROP, from, to, now) != 0 ||
	    profile_merge_step(p, MERGE_JOIN_MOVE, from, to, now) != 0)
		return -1;
	account = sqlite3_changes(p->db) != 0;
	if ((traits && profile_merge_step(p, MERGE_TRAITS_NOW, from, to,
	    now) != 0) || (account && profile_merge_step(p, MERGE_ACCOUNT_NOW,
	    from, to, now) != 0))
		return -1;
	if (profile_merge_step(p, MERGE_CREATED, from, to, now) != 0 ||
	    profile_merge_step(p, MERGE_SOURCE, from, to, now) != 0)
		return -1;
	if (user && (profile_merge_step(p, MERGE_TIES, from, to, now) != 0 ||
	    profile_merge_step(p, MERGE_EXIT_HISTORY, from, to, now) != 0 ||
	    profile_merge_step(p, MERGE_EXIT, from, to, now) != 0))
		return -1;
	if (user) {
		profile_cache_clear(p);	/* ids that led to from */
		p->merged = 1;
	}
	if (profile_changed(p, to) != 0 || profile_changed(p, from) != 0)
		return -1;
	return 0;
}

/* Tie an anonymous id to user: when it is new, its row is made tied;
 * when it has a subject of its own, that merges into the user; when it
 * is tied already (to this user or another), nothing changes. */
int
profile_tie(struct profile *p, const char *id, size_t len, int64_t user,
    int64_t ts)
{
	int64_t	 sid;
	int	 own;

	if ((sid = profile_get(p, SUBJECT_ANON, id, len, ts, user,
	    &own)) == -1)
		return -1;
	if (!own)
		return 0;
	if (profile_merge(p, sid, user, 0, ts) != 0)
		return -1;
	profile_cache_put(p, SUBJECT_ANON, id, len, user, 0);
	return 0;
}

/* An alias of previousId to user: an earlier user merges into it (one
 * merged before stays where it went); any other id is an anonymous id,
 * tied as by profile_tie(). */
int
profile_alias(struct profile *p, const char *id, size_t len, int64_t user,
    int64_t now)
{
	int64_t	 sid, tied;
	int	 own, rc;

	if ((rc = profile_lookup(p, SUBJECT_USER, id, len, &sid, &own)) == 1)
		return !own || sid == user ? 0 :
		    profile_merge(p, sid, user, 1, now);
	if (rc == 0)
		rc = profile_find(p, SUBJECT_MERGED, id, len, &sid, &tied);
	if (rc != 0)
		return rc == 1 ? 0 : -1;
	return profile_tie(p, id, len, user, now);
}

/* Bind sid, ts and the traits to parameters 1 to 3 of st and run it. */
static int
profile_run3(sqlite3_stmt *st, int64_t sid, int64_t ts, const char *json,
    size_t len)
{
	sqlite3_bind_int64(st, 1, sid);
	sqlite3_bind_int64(st, 2, ts);
	sqlite3_bind_text(st, 3, json, (int)len, SQLITE_STATIC);
	return profile_exec(st);
}

/* Set the traits of a JSON object on sid from ts on: the current values
 * where they are the newest, a version of each key, the keys known. */
int
profile_traits(struct profile *p, int64_t sid, const char *json,
    size_t len, int64_t ts)
{
	if (len == 2 && memcmp(json, "{}", 2) == 0)
		return 0;
	if (profile_run3(p->traits_set, sid, ts, json, len) != 0 ||
	    profile_run3(p->versions_add, sid, ts, json, len) != 0)
		return -1;
	sqlite3_bind_text(p->keys_add, 1, json, (int)len, SQLITE_STATIC);
	if (profile_exec(p->keys_add) != 0)
		return -1;
	return profile_changed(p, sid);
}

/* Make sid a member of account from ts on: a version, and for a user its
 * current account when this is the newest. */
int
profile_join(struct profile *p, int64_t sid, int user, int64_t account,
    int64_t ts)
{
	sqlite3_stmt	*st = p->join_add;
	int64_t		 before = 0;
	int		 rc;

	sqlite3_bind_int64(st, 1, sid);
	sqlite3_bind_int64(st, 2, ts);
	sqlite3_bind_int64(st, 3, account);
	if (profile_exec(st) != 0)
		return -1;
	if (!user)
		return 0;
	st = p->account_of;
	sqlite3_bind_int64(st, 1, sid);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		before = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	st = p->join_set;
	sqlite3_bind_int64(st, 1, sid);
	sqlite3_bind_int64(st, 2, ts);
	sqlite3_bind_int64(st, 3, account);
	if (profile_exec(st) != 0 || profile_changed(p, sid) != 0 ||
	    profile_changed(p, account) != 0)
		return -1;
	if (before != 0 && before != account)
		return profile_changed(p, before);
	return 0;
}
