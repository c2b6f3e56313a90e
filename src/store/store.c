/*
 * The SQLite store: opening in WAL mode with a busy timeout and the WAL's
 * checkpoints (store_wal_hook), the schema and its migrations by PRAGMA
 * user_version, and small helpers.
 *
 * Layout (version 4):
 *   subjects  users (kind 0), accounts (1), anonymous ids (2) and users
 *             merged into another by an alias (3); the current value of
 *             every trait (traits) and a user's current account, each
 *             with the time of its newest version (traits_ts,
 *             account_ts: a read as of an earlier time goes to the
 *             versions only when it is later, store.h); an anonymous or
 *             merged subject's tied: the user its messages count for
 *   trait_versions   every value a trait key was set to, from ts on
 *             (value JSON, NULL: unset), by (subject, key, ts) and seq,
 *             the import order that settles equal times
 *   account_versions every account a user joined, from ts on; by
 *             (subject, ts) and by (account, ts) for an account's users
 *   trait_keys       every trait key ever set (for --check)
 *   subject_changes  subjects whose traits, membership or identity an
 *             import changed, in order (for reacting)
 *   events    tracked events, indexed by (subject, name, ts) for counting
 *   messages  identities of imported identify, group and alias lines
 *             (idempotency); v1: imported before version 3
 *   members   who is in which journey, at which stage, since when; by
 *             (journey, subject) alone: a tick's rules read a journey's
 *             members in subject order (the order of events and subjects),
 *             and a second index would cost a tick with many entrants
 *             more than all its rules' reads save (bench/tick)
 *   history   entries, moves, completions, exits and actions, with times;
 *             by subject in order (show, and report via members). Every
 *             index of a table written by the tick costs a B-tree insert
 *             per row: history has no other. An entry followed at once
 *             by a move (most of a first tick's entrants) is one row,
 *             with the move in moved_to and moved_rule: read the steps
 *             one by one from the view history_steps, by (hid, part).
 *   firings   when an action rule last fired for a subject (repeat)
 *   outbox    queued actions and their delivery state (with the subject's
 *             traits as of the first attempt, so that every retry carries
 *             the same ones, and the id the channel gave what it made); the queue (pending, in flight, retrying) by
 *             due time, for claims, recovery and metrics; by (subject,
 *             instance, created) for the guard and the tick. No index on
 *             status alone: each action goes pending, in flight, done in
 *             two commits, and such an index moved its entry each time,
 *             three more pages written per commit. The queue index keeps
 *             an action's entry in place until it is done. The dead, few,
 *             by their own partial index (outbox, retry --dead).
 *   meta      key/value: last tick and the like
 *
 * Version 5:
 *   assignments  each subject's variant of a rule with variants, drawn
 *             once (the first time the rule fires for it) and kept
 *             through reloads; outbox.variant, the variant of an action
 *
 * Version 6:
 *   events_pruned  per subject and event name, the count and first and
 *             last times of the events pruning deleted (retention)
 *   forgotten the ids journeyctl forget erased, with its time
 *
 * Version 3:
 *   outbox_tally  how many actions of each instance ended done, held or
 *             dead: a counter (journeyd_actions_total), one more each
 *             time an action reaches one of these statuses, by a trigger
 *             in the same transaction (whoever writes: the tick's held-out
 *             rows, the dispatcher's outcomes and the guard's holds, a
 *             recovery's dead); never less (a retry out of dead, an
 *             erasure, a pruning leave it), so that metrics read a few
 *             rows instead of counting the outbox
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

#define STORE_BUSY_POLL_MS	1	/* between tries meanwhile */
#define STORE_CHECKPOINT_MS	200	/* longest a checkpoint holds writers */
#define STORE_WAL_PASSIVE	1000	/* frames: SQLite's own checkpoint */
#define STORE_WAL_RESTART	16384	/* frames (64 MiB): start it over */

/* A connection's own settings: the arg of its WAL hook and busy handler. */
struct store_conn {
	int	 next;		/* WAL frames of the next RESTART try */
	int	 busy_ms;	/* longest wait for another writer */
};

static int	store_wal_hook(void *, sqlite3 *, const char *, int);

/* The time this thread spent in passive checkpoints after its commits
 * (store_passive_time()). */
static _Thread_local int64_t	 store_passive_usec;

/* Each entry upgrades from version i to i + 1. */
static const char *store_migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE subjects ("
	"  sid INTEGER PRIMARY KEY,"
	"  kind INTEGER NOT NULL,"
	"  id TEXT NOT NULL,"
	"  traits TEXT NOT NULL DEFAULT '{}',"
	"  account INTEGER,"
	"  created INTEGER NOT NULL,"
	"  UNIQUE (kind, id));"
	"CREATE INDEX subjects_account ON subjects(account)"
	"  WHERE account IS NOT NULL;"
	"CREATE TABLE events ("
	"  eid INTEGER PRIMARY KEY,"
	"  subject INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  ts INTEGER NOT NULL,"
	"  props TEXT,"
	"  msg TEXT NOT NULL UNIQUE);"
	"CREATE INDEX events_subject_name_ts ON events(subject, name, ts);"
	"CREATE TABLE messages (msg TEXT PRIMARY KEY) WITHOUT ROWID;"
	"CREATE TABLE members ("
	"  journey TEXT NOT NULL,"
	"  subject INTEGER NOT NULL,"
	"  stage TEXT NOT NULL,"
	"  status INTEGER NOT NULL,"
	"  entered INTEGER NOT NULL,"
	"  stage_since INTEGER NOT NULL,"
	"  PRIMARY KEY (journey, subject)) WITHOUT ROWID;"
	"CREATE TABLE history ("
	"  hid INTEGER PRIMARY KEY,"
	"  subject INTEGER NOT NULL,"
	"  journey TEXT NOT NULL,"
	"  ts INTEGER NOT NULL,"
	"  what TEXT NOT NULL,"
	"  stage TEXT,"
	"  from_stage TEXT,"
	"  rule TEXT,"
	"  action INTEGER,"
	"  note TEXT,"
	"  moved_to TEXT,"
	"  moved_rule TEXT);"
	"CREATE INDEX history_subject ON history(subject, hid);"
	"CREATE VIEW history_steps AS"
	"  SELECT hid, 0 AS part, subject, journey, ts, what, stage,"
	"    from_stage, rule, action, note FROM history"
	"  UNION ALL SELECT hid, 1, subject, journey, ts, 'moved', moved_to,"
	"    stage, moved_rule, NULL, NULL FROM history"
	"    WHERE moved_to IS NOT NULL;"
	"CREATE TABLE firings ("
	"  journey TEXT NOT NULL,"
	"  rule TEXT NOT NULL,"
	"  subject INTEGER NOT NULL,"
	"  last INTEGER NOT NULL,"
	"  PRIMARY KEY (journey, rule, subject)) WITHOUT ROWID;"
	"CREATE TABLE outbox ("
	"  aid INTEGER PRIMARY KEY,"
	"  id TEXT NOT NULL UNIQUE,"
	"  subject INTEGER NOT NULL,"
	"  journey TEXT NOT NULL,"
	"  rule TEXT NOT NULL,"
	"  stage TEXT,"
	"  instance TEXT NOT NULL,"
	"  params TEXT NOT NULL DEFAULT '{}',"
	"  created INTEGER NOT NULL,"
	"  due INTEGER NOT NULL,"
	"  first_try INTEGER,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  crashes INTEGER NOT NULL DEFAULT 0,"
	"  status INTEGER NOT NULL,"
	"  reason TEXT,"
	"  note TEXT,"
	"  updated INTEGER,"
	"  traits TEXT);"
	"CREATE INDEX outbox_queue ON outbox(due, aid, status) WHERE "
	OUTBOX_QUEUED_SQL ";"
	"CREATE INDEX outbox_subject ON outbox(subject, instance, created);"
	"CREATE INDEX outbox_dead ON outbox(due, aid) WHERE " OUTBOX_DEAD_SQL
	";"
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;",
	/* 1 -> 2: the id a channel gave what an action made (a CRM task). */
	"ALTER TABLE outbox ADD COLUMN external_id TEXT;",

	/*
	 * 2 -> 3: traits and account membership kept by time (SPEC §14.4),
	 * anonymous subjects and ties (§13.1), the keys of traits, and the
	 * log of changed subjects. An existing trait becomes one version, and
	 * an existing membership one, dated at the subject's created time:
	 * version 1 kept no time of the last identify or group, and created
	 * (the time of the subject's first message) is the one time it has
	 * that no trait can predate, so a rule at any time since the subject
	 * appeared reads what it read before the upgrade. A membership is
	 * dated at the later of its user's and its account's created times.
	 * The identities imported so far are marked (messages.v1, meta
	 * import_v1_messages when there are any, and the last event's eid
	 * in meta import_v1_eid) so that a line of an old
	 * file whose identity now counts more of its fields is still known.
	 */
	"ALTER TABLE subjects ADD COLUMN traits_ts INTEGER;"
	"ALTER TABLE subjects ADD COLUMN account_ts INTEGER;"
	"ALTER TABLE subjects ADD COLUMN tied INTEGER;"
	"CREATE INDEX subjects_tied ON subjects(tied) WHERE tied IS NOT NULL;"
	"DROP INDEX subjects_account;"
	"CREATE INDEX subjects_account ON subjects(account, account_ts)"
	"  WHERE account IS NOT NULL;"
	"CREATE INDEX subjects_account_ts ON subjects(account_ts)"
	"  WHERE account_ts IS NOT NULL;"
	"CREATE TABLE trait_versions ("
	"  seq INTEGER PRIMARY KEY,"
	"  subject INTEGER NOT NULL,"
	"  key TEXT NOT NULL,"
	"  ts INTEGER NOT NULL,"
	"  value TEXT);"
	"CREATE INDEX trait_versions_key ON trait_versions(subject, key, ts);"
	"CREATE TABLE account_versions ("
	"  seq INTEGER PRIMARY KEY,"
	"  subject INTEGER NOT NULL,"
	"  ts INTEGER NOT NULL,"
	"  account INTEGER NOT NULL);"
	"CREATE INDEX account_versions_subject ON account_versions(subject, ts);"
	"CREATE INDEX account_versions_account ON account_versions(account, ts);"
	"CREATE TABLE trait_keys (key TEXT PRIMARY KEY) WITHOUT ROWID;"
	"CREATE TABLE subject_changes ("
	"  seq INTEGER PRIMARY KEY,"
	"  subject INTEGER NOT NULL);"
	"ALTER TABLE messages ADD COLUMN v1 INTEGER NOT NULL DEFAULT 1;"
	"INSERT INTO meta (key, value) SELECT 'import_v1_eid', max(eid)"
	"  FROM events HAVING max(eid) IS NOT NULL;"
	"INSERT INTO meta (key, value) SELECT 'import_v1_messages', 1"
	"  WHERE EXISTS (SELECT 1 FROM messages);"
	"INSERT INTO trait_versions (subject, key, ts, value)"
	"  SELECT s.sid, j.key, s.created, " STORE_JSON_TEXT("j")
	"  FROM subjects s, json_each(s.traits) j"
	"  WHERE j.type <> 'null' ORDER BY s.sid, j.id;"
	"UPDATE subjects SET traits_ts = created WHERE traits <> '{}';"
	"INSERT INTO account_versions (subject, ts, account)"
	"  SELECT u.sid, max(u.created, a.created), u.account"
	"  FROM subjects u JOIN subjects a ON a.sid = u.account ORDER BY u.sid;"
	"UPDATE subjects SET account_ts = (SELECT max(subjects.created,"
	"  a.created) FROM subjects a WHERE a.sid = subjects.account)"
	"  WHERE account IS NOT NULL;"
	"INSERT INTO trait_keys (key) SELECT DISTINCT j.key"
	"  FROM subjects s, json_each(s.traits) j WHERE j.type <> 'null';",
	/* 3 -> 4: the counters of finished actions, kept by triggers in the
	 * transaction of each outcome; counted once from the outbox. */
	"CREATE TABLE outbox_tally ("
	"  instance TEXT NOT NULL,"
	"  status INTEGER NOT NULL,"
	"  n INTEGER NOT NULL,"
	"  PRIMARY KEY (instance, status)) WITHOUT ROWID;"
	"INSERT INTO outbox_tally SELECT instance, status, count(*) FROM outbox"
	"  WHERE " OUTBOX_ENDED_SQL " GROUP BY instance, status;"
	"CREATE TRIGGER outbox_tally_new AFTER INSERT ON outbox"
	"  WHEN " OUTBOX_ENDED_NEW_SQL " BEGIN"
	"  INSERT INTO outbox_tally VALUES (new.instance, new.status, 1)"
	"  ON CONFLICT (instance, status) DO UPDATE SET n = n + 1; END;"
	"CREATE TRIGGER outbox_tally_end AFTER UPDATE OF status ON outbox"
	"  WHEN " OUTBOX_ENDED_NEW_SQL " AND new.status <> old.status BEGIN"
	"  INSERT INTO outbox_tally VALUES (new.instance, new.status, 1)"
	"  ON CONFLICT (instance, status) DO UPDATE SET n = n + 1; END;",
	/* 4 -> 5: experiments (SPEC §15): each subject's variant of a rule,
	 * drawn once and kept; the variant each action was queued for. */
	"CREATE TABLE assignments ("
	"  journey TEXT NOT NULL,"
	"  rule TEXT NOT NULL,"
	"  subject INTEGER NOT NULL,"
	"  variant TEXT NOT NULL,"
	"  PRIMARY KEY (journey, rule, subject)) WITHOUT ROWID;"
	"ALTER TABLE outbox ADD COLUMN variant TEXT;",
	/*
	 * 5 -> 6: retention and erasure (SPEC §18). events_pruned: per
	 * subject and event name, how many events pruning deleted and the
	 * first and last of their times, which windowless reads add in.
	 * forgotten: the ids journeyctl forget erased (kind 0 a user's id,
	 * also a merged one's; 1 an account's; 2 an anonymous id), with the
	 * time of the erasure: a message about one of them no newer than
	 * that is dropped.
	 */
	"CREATE TABLE events_pruned ("
	"  subject INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  n INTEGER NOT NULL,"
	"  first_ts INTEGER NOT NULL,"
	"  last_ts INTEGER NOT NULL,"
	"  PRIMARY KEY (subject, name)) WITHOUT ROWID;"
	"CREATE TABLE forgotten ("
	"  kind INTEGER NOT NULL,"
	"  id TEXT NOT NULL,"
	"  ts INTEGER NOT NULL,"
	"  PRIMARY KEY (kind, id)) WITHOUT ROWID;",
};
#define STORE_NMIGRATIONS \
	(int)(sizeof store_migrations / sizeof store_migrations[0])

/* Bring the schema up to date, one version at a time. */
static int
store_migrate(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt	*st;
	int		 version = 0;
	char		*msg = NULL;

	/* Read the version first: a database that is up to date needs no
	 * write lock, so opening it never waits for another writer. */
	for (int locked = 0; locked <= 1; locked++) {
		if (locked && sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL,
		    &msg) != SQLITE_OK)
			goto fail;
		if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st,
		    NULL) != SQLITE_OK)
			goto fail;
		if (sqlite3_step(st) == SQLITE_ROW)
			version = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
		if (version == STORE_NMIGRATIONS && !locked)
			return 0;
	}
	if (version > STORE_NMIGRATIONS) {
		snprintf(err, errlen, "database schema version %d is newer "
		    "than this journeyd (%d)", version, STORE_NMIGRATIONS);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	for (; version < STORE_NMIGRATIONS; version++) {
		char pragma[64];

		if (sqlite3_exec(db, store_migrations[version], NULL, NULL,
		    &msg) != SQLITE_OK)
			goto fail;
		snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d",
		    version + 1);
		if (sqlite3_exec(db, pragma, NULL, NULL, &msg) != SQLITE_OK)
			goto fail;
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "%s: database schema: %s",
	    sqlite3_db_filename(db, "main"), msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/*
 * The busy handler: try again every STORE_BUSY_POLL_MS, for up to
 * STORE_BUSY_MS. SQLite's own handler sleeps longer and longer, up to 100 ms
 * a time, and so misses the short gaps a busy writer leaves between its
 * transactions (an import commits a batch and begins the next at once):
 * under load its waiters starved past the timeout. Each writer that goes
 * on at once leaves a gap of STORE_YIELD_MS (store_yield()).
 */
static atomic_int	 store_waiters;	/* threads in store_busy() now */

static int
store_busy(void *arg, int count)
{
	static _Thread_local struct timespec	 start;
	const struct store_conn			*sc = arg;
	struct timespec				 now, ts = { 0,
						    STORE_BUSY_POLL_MS * 1000000L };

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (count == 0)
		start = now;
	else if ((now.tv_sec - start.tv_sec) * 1000 +
	    (now.tv_nsec - start.tv_nsec) / 1000000 >= sc->busy_ms)
		return 0;
	atomic_fetch_add(&store_waiters, 1);
	nanosleep(&ts, NULL);
	atomic_fetch_sub(&store_waiters, 1);
	return 1;
}

/* Wait at most ms for another writer on db, in place of STORE_BUSY_MS (a
 * writer that must answer in time, as the HTTP API's). */
void
store_busy_limit(sqlite3 *db, int ms)
{
	struct store_conn	*sc = sqlite3_wal_hook(db, NULL, NULL);

	sc->busy_ms = ms;
	sqlite3_wal_hook(db, store_wal_hook, sc);
}

/*
 * Leave other writers their turn: called between two write transactions of
 * a long run (a tick's chunks, an import's batches). Waits STORE_YIELD_MS,
 * then on while other threads of this process wait in the busy handler, up
 * to STORE_YIELD_MAX_MS: the short writers that answer someone (the HTTP
 * writer's commit, the reactor, a worker recording an outcome) go before
 * the next chunk of a full tick, which only takes longer. Without it a
 * tick that took the lock again after 5 ms left them a few writes per gap,
 * and at 1,000 webhooks a second the queue grew behind it (bench/live:
 * p99 from the 200 to the webhook 2.75 s during full ticks, 0.63 s
 * without). Writers in other processes are not seen here.
 */
void
store_yield(void)
{
	struct timespec	 ts = { 0, STORE_YIELD_MS * 1000000L },
			 poll = { 0, STORE_BUSY_POLL_MS * 1000000L };

	nanosleep(&ts, NULL);
	for (int waited = 0; waited < STORE_YIELD_MAX_MS &&
	    atomic_load(&store_waiters) > 0; waited += STORE_BUSY_POLL_MS)
		nanosleep(&poll, NULL);
}

/*
 * The WAL's checkpoints, in place of SQLite's automatic one (a passive
 * checkpoint after a commit that leaves STORE_WAL_PASSIVE frames or more).
 * A passive checkpoint never waits, so under an import that commits batch
 * after batch beside the daemon's readers it never catches up, and the WAL
 * never starts over: bench/load grew it to 9.8 GB, and its index (-shm,
 * mapped by every process that opens the database) to 18 MiB. So once the
 * WAL holds STORE_WAL_RESTART frames, a commit runs a RESTART checkpoint:
 * it waits for the readers of older data to finish, holding new writers
 * meanwhile, for at most STORE_CHECKPOINT_MS, so that the next writer
 * starts the WAL over (overwriting its file, faster than appending; the
 * file is cut back to that size when longer, by journal_size_limit). When
 * a long reader (a backup, a report) is in the way, it is tried again
 * STORE_WAL_RESTART frames on.
 * arg: the connection's struct store_conn.
 */
static int
store_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct store_conn	*sc = arg;
	int			*next = &sc->next, logged = 0, done = 0, rc;

	if (frames < STORE_WAL_PASSIVE)
		return SQLITE_OK;
	if (frames < *next) {
		int64_t t0 = time_mono_usec();

		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE,
		    NULL, NULL);
		store_passive_usec += time_mono_usec() - t0;
		return SQLITE_OK;
	}
	sqlite3_busy_timeout(db, STORE_CHECKPOINT_MS);
	rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_RESTART,
	    &logged, &done);
	sqlite3_busy_handler(db, store_busy, sc);
	if (rc == SQLITE_OK)
		*next = STORE_WAL_RESTART;
	else {
		log_debug("checkpoint: %s with %d WAL frames, %d copied; again "
		    "at %d", sqlite3_errstr(rc), frames, done,
		    frames + STORE_WAL_RESTART);
		*next = frames + STORE_WAL_RESTART;
	}
	return SQLITE_OK;
}

/* How long this thread has spent in passive checkpoints after its
 * commits, microseconds: a commit returns after one, but other writers do
 * not wait for it (it holds no write lock), so a writer that bounds how
 * long it holds the lock leaves it out. */
int64_t
store_passive_time(void)
{
	return store_passive_usec;
}

/* Say why the database at path could not be opened: SQLite's message,
 * and for "unable to open database file" what is wrong with its folder. */
static void
store_open_error(sqlite3 *db, const char *path, const char *msg, char *err,
    size_t errlen)
{
	const char	*slash = strrchr(path, '/');
	char		*dir;
	struct stat	 sb;

	if (db == NULL || (sqlite3_errcode(db) & 0xff) != SQLITE_CANTOPEN) {
		snprintf(err, errlen, "%s: %s", path, msg);
		return;
	}
	dir = slash == NULL ? xstrdup(".") : slash == path ? xstrdup("/") :
	    xstrndup(path, (size_t)(slash - path));
	if (stat(dir, &sb) != 0)
		snprintf(err, errlen, "%s: %s: the folder %s does not exist "
		    "(create it, or set 'database' to a path in a folder that "
		    "does)", path, msg, dir);
	else if (!S_ISDIR(sb.st_mode))
		snprintf(err, errlen, "%s: %s: %s is not a folder", path, msg,
		    dir);
	else if (access(dir, W_OK | X_OK) != 0)
		snprintf(err, errlen, "%s: %s: this user (uid %d) cannot "
		    "write in the folder %s", path, msg, (int)getuid(), dir);
	else if (access(path, R_OK | W_OK) != 0 && errno != ENOENT)
		snprintf(err, errlen, "%s: %s: %s", path, msg,
		    strerror(errno));
	else
		snprintf(err, errlen, "%s: %s", path, msg);
	free(dir);
}

/*
 * A new database (no page yet) gets incremental vacuum, so that pruning
 * gives the pages it frees back (engine/prune.c). It takes only before the
 * first table is made, and before WAL mode; an older database keeps its
 * own, and is not asked (setting it may take the write lock). 0, or -1
 * with SQLite's message in *msg.
 */
static int
store_auto_vacuum(sqlite3 *db, char **msg)
{
	sqlite3_stmt	*st;
	int		 pages = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &st, NULL) !=
	    SQLITE_OK) {
		*msg = sqlite3_mprintf("%s", sqlite3_errmsg(db));
		return -1;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		pages = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (pages != 0)
		return 0;
	return sqlite3_exec(db, "PRAGMA auto_vacuum = INCREMENTAL", NULL, NULL,
	    msg) == SQLITE_OK ? 0 : -1;
}

/* Open (creating when needed, mode 0600) and migrate the database. */
sqlite3 *
store_open(const char *path, char *err, size_t errlen)
{
	struct store_conn	*sc;
	sqlite3			*db = NULL;
	char			*msg = NULL;
	int			 fd;

	/*
	 * Create it ourselves so that it is never world-readable (SQLite gives
	 * its -wal and -shm files the same mode). Only when it does not exist:
	 * closing any descriptor of a file drops every POSIX lock this process
	 * holds on it, so opening and closing an open database here would
	 * silently drop the locks of this process's other connections.
	 */
	if (strcmp(path, ":memory:") != 0 && access(path, F_OK) != 0 &&
	    (fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) != -1)
		close(fd);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		store_open_error(db, path, db ? sqlite3_errmsg(db) :
		    strerror(ENOMEM), err, errlen);
		sqlite3_close(db);
		return NULL;
	}
	sc = xmalloc(sizeof *sc);
	sc->next = STORE_WAL_RESTART;
	sc->busy_ms = STORE_BUSY_MS;
	sqlite3_busy_handler(db, store_busy, sc);
	sqlite3_wal_hook(db, store_wal_hook, sc);
	sqlite3_extended_result_codes(db, 1);
	if (store_auto_vacuum(db, &msg) != 0 ||
	    sqlite3_exec(db, "PRAGMA journal_mode = WAL;"
	    "PRAGMA synchronous = NORMAL;"
	    "PRAGMA foreign_keys = OFF;"
	    "PRAGMA cache_size = -16384;"
	    "PRAGMA journal_size_limit = 67108864;"	/* STORE_WAL_RESTART */
	    /* Temporary tables and sorts (a tick's batches) can hold a row
	     * per subject: in a file with a bounded cache, so that memory
	     * does not grow with the number of subjects. */
	    "PRAGMA temp_store = FILE;"
	    "PRAGMA temp.cache_size = -8192;", NULL, NULL, &msg) != SQLITE_OK) {
		store_open_error(db, path, msg, err, errlen);
		sqlite3_free(msg);
		store_close(db);
		return NULL;
	}
	if (store_migrate(db, err, errlen) != 0) {
		store_close(db);
		return NULL;
	}
	return db;
}

/* Close the database. */
void
store_close(sqlite3 *db)
{
	if (db != NULL) {
		free(sqlite3_wal_hook(db, NULL, NULL));
		sqlite3_close_v2(db);
	}
}

/* Run SQL with no result; log what failed. */
int
store_exec(sqlite3 *db, const char *sql)
{
	char	*msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_err("sqlite: %s: %s", sqlite3_db_filename(db, "main"),
		    msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* Start a write transaction now (waiting for the busy timeout). */
int
store_begin(sqlite3 *db)
{
	return store_exec(db, "BEGIN IMMEDIATE");
}

/* Commit the transaction. */
int
store_commit(sqlite3 *db)
{
	return store_exec(db, "COMMIT");
}

/* Roll back the transaction, if one is open. */
void
store_rollback(sqlite3 *db)
{
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

/* Prepare a statement; a failure here is a bug, so it is fatal. */
sqlite3_stmt *
store_prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt	*st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fatalx("sqlite: %s in: %.200s", sqlite3_errmsg(db), sql);
	return st;
}

/* Prepare a statement; NULL when it cannot be, logged. */
sqlite3_stmt *
store_try_prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt	*st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_err("sqlite: %s: %s in: %.200s",
		    sqlite3_db_filename(db, "main"), sqlite3_errmsg(db), sql);
		return NULL;
	}
	return st;
}

/* Find a subject by "ID" (a user), "account:ID" or "anon:ID" (an
 * anonymousId); -1 when unknown. */
int64_t
store_subject(sqlite3 *db, const char *ref, int *kind)
{
	sqlite3_stmt	*st;
	int64_t		 sid = -1;
	int		 k = SUBJECT_USER;

	if (strncmp(ref, "account:", 8) == 0) {
		k = SUBJECT_ACCOUNT;
		ref += 8;
	} else if (strncmp(ref, "anon:", 5) == 0) {
		k = SUBJECT_ANON;
		ref += 5;
	}
	st = store_prepare(db, "SELECT sid FROM subjects "
	    "WHERE kind = ?1 AND id = ?2");
	sqlite3_bind_int(st, 1, k);
	sqlite3_bind_text(st, 2, ref, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		sid = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (kind != NULL)
		*kind = k;
	return sid;
}

/* Set a meta key. */
int
store_meta_set(sqlite3 *db, const char *key, const char *value)
{
	sqlite3_stmt	*st;
	int		 rc;

	st = store_prepare(db, "INSERT INTO meta(key, value) VALUES (?1, ?2) "
	    "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(st);
	return rc;
}

/* Get a meta key (caller frees), or NULL. */
char *
store_meta_get(sqlite3 *db, const char *key)
{
	sqlite3_stmt	*st;
	char		*v = NULL;

	st = store_prepare(db, "SELECT value FROM meta WHERE key = ?1");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return v;
}

/* The name of a journey membership status. */
const char *
member_status_name(int status)
{
	switch (status) {
	case MEMBER_ACTIVE:	return "active";
	case MEMBER_COMPLETED:	return "completed";
	case MEMBER_EXITED:	return "exited";
	}
	return "unknown";
}

/* Read the trait keys of the database at path, opened read-only (nothing
 * created, nothing migrated). -1 when it or its trait_keys is missing. */
int
store_trait_keys(const char *path, char ***keys, int *nkeys)
{
	sqlite3		*db = NULL;
	sqlite3_stmt	*st = NULL;
	int		 rc = -1;

	*keys = NULL;
	*nkeys = 0;
	if (strcmp(path, ":memory:") == 0 || access(path, F_OK) != 0 ||
	    sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK)
		goto out;
	sqlite3_busy_timeout(db, STORE_BUSY_MS);
	if (sqlite3_prepare_v2(db, "SELECT key FROM trait_keys", -1, &st,
	    NULL) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(st, 0);

		if (key == NULL)
			continue;
		*keys = xreallocarray(*keys, *nkeys + 1, sizeof **keys);
		(*keys)[(*nkeys)++] = xstrdup(key);
	}
	rc = rc == SQLITE_DONE ? 0 : -1;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}
