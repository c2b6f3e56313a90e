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

/* Subject kinds, as stored in subjects.kind. */
enum subject_kind { SUBJECT_USER = 0, SUBJECT_ACCOUNT = 1 };

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
/* Pause STORE_YIELD_MS between two write transactions of a long run, so
 * that other writers (waiting in the busy handler) get their turn. */
#define STORE_YIELD_MS	5
void		 store_yield(void);
int		 store_commit(sqlite3 *);
void		 store_rollback(sqlite3 *);
/* Prepare a statement whose text is journeyd's own: a failure is a bug,
 * fatal on the main thread. Worker threads use store_try_prepare(). */
sqlite3_stmt	*store_prepare(sqlite3 *, const char *sql);
/* Prepare a statement; NULL on failure, logged with the statement. */
sqlite3_stmt	*store_try_prepare(sqlite3 *, const char *sql);
int64_t		 store_subject(sqlite3 *, const char *ref, int *kind);
int		 store_meta_set(sqlite3 *, const char *key, const char *value);
char		*store_meta_get(sqlite3 *, const char *key);

#include "store/outbox.h"

#endif /* JD_STORE_H */
