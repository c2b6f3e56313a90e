/*
 * The store layer: the SQLite database (store.c: opening, the schema and
 * its migrations, the WAL's checkpoints, small helpers) and the concepts
 * whose state is a table of it and nothing more: the outbox, a durable
 * queue of actions (outbox.h).
 */
#ifndef JD_STORE_H
#define JD_STORE_H

#include <sqlite3.h>

#include "core/core.h"

/* Subject kinds, as stored in subjects.kind. An anonymous subject (an
 * anonymousId) and a user merged into another by an alias enter no
 * journey: the engine selects subjects by their journey's kind. */
enum subject_kind {
	SUBJECT_USER = 0, SUBJECT_ACCOUNT = 1, SUBJECT_ANON = 2,
	SUBJECT_MERGED = 3
};

/* The JSON text of the value of a row J of json_each(), NULL for null.
 * Not "->" and J.fullkey: SQLite 3.40 writes no path that reaches a key
 * holding '"' or '\'. */
#define STORE_JSON_TEXT(J) \
	"CASE " J ".type WHEN 'null' THEN NULL WHEN 'true' THEN 'true'" \
	" WHEN 'false' THEN 'false' WHEN 'object' THEN " J ".value" \
	" WHEN 'array' THEN " J ".value ELSE json_quote(" J ".value) END"

/*
 * Reads as of the time bound to :now (SPEC §14.4), for the rule compiler.
 * X is the alias of a row of subjects. A subject whose newest version is
 * at or before :now (the common case, and every subject written without
 * versions) is read from its row, as cheaply as without versions; only
 * one with a version after :now is rebuilt from its versions.
 */
/* The traits of X as of :now, a JSON object: each key's latest version at
 * or before :now (among equal times the one imported last), unless it
 * is an unset. (json_group_object() of no rows is {}. No quote in the
 * text: the rule compiler's tests find none in its SQL.) */
#define STORE_TRAITS_ASOF(X) \
	"(CASE WHEN " X ".traits_ts > :now THEN (SELECT " \
	"json_group_object(tv.key, json(tv.value)) FROM " \
	"trait_versions tv WHERE tv.subject = " X ".sid AND " \
	"tv.value IS NOT NULL AND tv.seq = (SELECT tw.seq FROM " \
	"trait_versions tw WHERE tw.subject = " X ".sid AND tw.key = " \
	"tv.key AND tw.ts <= :now ORDER BY tw.ts DESC, tw.seq DESC " \
	"LIMIT 1)) ELSE " X ".traits END)"
/* The sid of user X's account as of :now, or NULL. */
#define STORE_ACCOUNT_ASOF(X) \
	"(CASE WHEN " X ".account_ts > :now THEN (SELECT av.account FROM " \
	"account_versions av WHERE av.subject = " X ".sid AND av.ts <= " \
	":now ORDER BY av.ts DESC, av.seq DESC LIMIT 1) ELSE " X \
	".account END)"
/* A SELECT of the sids of the users of account A (an SQL expression) as
 * of :now: those whose current account it is and has been since :now or
 * before, and, only when some user has a membership dated after :now,
 * those of its former users whose account it was at :now. */
#define STORE_MEMBERS_ASOF(A) \
	"SELECT mu.sid FROM subjects mu WHERE mu.account = " A " AND " \
	"(mu.account_ts IS NULL OR mu.account_ts <= :now) UNION ALL " \
	"SELECT DISTINCT mu.sid FROM account_versions mv JOIN subjects mu " \
	"ON mu.sid = mv.subject WHERE EXISTS (SELECT 1 FROM subjects mx " \
	"WHERE mx.account_ts > :now) AND mv.account = " A " AND mv.ts <= " \
	":now AND mu.account_ts > :now AND " STORE_ACCOUNT_ASOF("mu") " = " A

/* Journey membership statuses, as stored in members.status. */
#define MEMBER_ACTIVE		0
#define MEMBER_COMPLETED	1
#define MEMBER_EXITED		2
const char	*member_status_name(int);

/* The journeys members has rows for, as the CTE js(j): found one after
 * the other along members' key (journey, subject), one probe each; its
 * last row is NULL. */
#define MEMBER_JOURNEYS_CTE \
	"WITH RECURSIVE js(j) AS (SELECT min(journey) FROM members" \
	" UNION ALL SELECT (SELECT min(journey) FROM members WHERE" \
	" journey > js.j) FROM js WHERE js.j IS NOT NULL) "

/* The memberships of subject SID (SQL), as the FROM clause "members m":
 * members is keyed by (journey, subject), so one probe per journey in it,
 * the journeys found one after the other by the same key. */
#define MEMBERS_OF(SID) \
	"(" MEMBER_JOURNEYS_CTE "SELECT x.* FROM js CROSS JOIN members x ON" \
	" x.journey = js.j AND x.subject = " SID ") m"

/* store.c */
sqlite3		*store_open(const char *path, char *err, size_t errlen);
void		 store_close(sqlite3 *);
void		 store_busy_limit(sqlite3 *, int ms);
int		 store_exec(sqlite3 *, const char *sql);
int		 store_begin(sqlite3 *);	/* BEGIN IMMEDIATE */
/* The longest a statement waits for another writer (the busy handler),
 * then fails with SQLITE_BUSY. */
#define STORE_BUSY_MS	10000
/* Pause STORE_YIELD_MS between two write transactions of a long run, so
 * that other writers (waiting in the busy handler) get their turn. */
#define STORE_YIELD_MS	5
/* ... and on while writers of this process wait, up to this long. */
#define STORE_YIELD_MAX_MS	100
void		 store_yield(void);
/* This thread's time in passive checkpoints after commits, which hold no
 * write lock (microseconds, only growing). */
int64_t		 store_passive_time(void);
int		 store_commit(sqlite3 *);
void		 store_rollback(sqlite3 *);
/* Prepare a statement whose text is journeyd's own: a failure is a bug,
 * fatal on the main thread. Worker threads use store_try_prepare(). */
sqlite3_stmt	*store_prepare(sqlite3 *, const char *sql);
/* Prepare a statement; NULL on failure, logged with the statement. */
sqlite3_stmt	*store_try_prepare(sqlite3 *, const char *sql);
/* The subject "ID" (a user), "account:ID" or "anon:ID"; -1 when unknown. */
int64_t		 store_subject(sqlite3 *, const char *ref, int *kind);
int		 store_meta_set(sqlite3 *, const char *key, const char *value);
char		*store_meta_get(sqlite3 *, const char *key);
/* backup.c: a consistent copy into a new file, while others write. */
int		 store_backup(sqlite3 *, const char *path, int64_t *pages,
		    char *err, size_t errlen);

/* forget.c: the right to erasure (journeyctl forget). The rows deleted of
 * each table (forget_table_name()), and the ids remembered. */
#define FORGET_NTABLES	10
#define FORGET_ACCOUNTS	3	/* account_versions */
struct forget_counts {
	int64_t		 n[FORGET_NTABLES];
	int64_t		 ids;
};
const char	*forget_table_name(int);
/* Erase subject sid (and the anonymous ids and merged users tied to it)
 * at now, in one transaction; remember their ids so that older messages
 * about them are dropped. 0, or -1 (logged; nothing changed). */
int		 store_forget(sqlite3 *, int64_t sid, int64_t now,
		    struct forget_counts *);

/* The trait keys the store has seen (table trait_keys), read from the
 * database at path opened read-only: a new array of new strings. -1 when
 * there is no such database, or no such table in it. */
int		 store_trait_keys(const char *path, char ***keys, int *nkeys);

#include "store/outbox.h"

#endif /* JD_STORE_H */
