/*
 * The outbox (outbox.c): the durable queue of actions, written in the same
 * transaction as the firing that queues it. Its statuses, how actions are
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
#define OUTBOX_NSTATUS		6
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
/* The statuses an action ends in (done, dead, held), for the counters
 * of outbox_tally (store.c): as a WHERE term, and of a trigger's new row. */
#define OUTBOX_ENDED_SQL	"(status = 2 OR status >= 4)"
#define OUTBOX_ENDED_NEW_SQL	"(new.status = 2 OR new.status >= 4)"
#if OUTBOX_DONE != 2 || OUTBOX_DEAD != 4 || OUTBOX_HELD != 5 || \
    OUTBOX_NSTATUS != 6
#error "outbox statuses changed: update OUTBOX_ENDED_SQL"
#endif
const char	*outbox_status_name(int);
/* The queue (or the dead) as JSON objects, one a row. */
sqlite3_stmt	*outbox_list_json(sqlite3 *, int dead);

/* Queueing, in the caller's transaction. */
struct outbox_batch {
	const char	*journey;
	const char	*rule;
	const char	*stage;		/* NULL: each batch row's own */
	const char	*instance;
	const char	*params;	/* a JSON object */
	int		 holdout;	/* percent held out, 0 none */
	int64_t		 now;
	int64_t		 delay;		/* due this much after now */
	const char	*variants;	/* rules.h: variants_json, or NULL */
	const char	*weights;	/* weights_json */
	int		 weight_total;
	int64_t		 sid;		/* one subject, not the batch: 0 */
};
int		 outbox_queue_batch(sqlite3 *, const struct outbox_batch *);
int64_t		 outbox_queue_one(sqlite3 *, int64_t sid, const char *journey,
		    const char *rule, const char *stage, const char *instance,
		    const char *params, int64_t now);
int64_t		 outbox_last(sqlite3 *);	/* the largest row, 0 none */

/* Claims and outcomes, through a connection's prepared statements. */
struct outbox_conn;
struct outbox_conn *outbox_conn_new(sqlite3 *);
void		 outbox_conn_free(struct outbox_conn *);
sqlite3		*outbox_conn_db(const struct outbox_conn *);
int		 outbox_begin(struct outbox_conn *);
int		 outbox_commit(struct outbox_conn *);
int		 outbox_due_begin(struct outbox_conn *, int64_t now,
		    int suspects);
int		 outbox_due_next(struct outbox_conn *, int64_t *aid,
		    const char **instance);
void		 outbox_due_end(struct outbox_conn *);
/* The SQL of that walk (?1 now, ?2 suspects), for EXPLAIN QUERY PLAN. */
const char	*outbox_due_sql(void);
int		 outbox_next_due(struct outbox_conn *, int64_t now,
		    int64_t *due);
/* A claimed action, as its plugin is handed it. */
struct outbox_item {
	int64_t	 aid;
	char	*id;		/* the stable id */
	int64_t	 sid;
	char	*journey;
	char	*rule;
	char	*stage;
	char	*instance;
	char	*params;
	int64_t	 created;
	int	 attempt;	/* this one's number, from 1 */
	int	 crashes;	/* in flight during this many, this claim too */
	char	*traits;	/* as of the first attempt */
	char	*subject_id;
	int	 kind;
	char	*traits_now;
	char	*account_traits;	/* or NULL */
	char	*variant;	/* or NULL */
};
int		 outbox_claim(struct outbox_conn *, int64_t aid, int64_t now,
		    struct outbox_item *);
void		 outbox_item_free(struct outbox_item *);
/* What became of an attempt. */
enum outbox_result { OUTCOME_DONE, OUTCOME_RETRY, OUTCOME_FAILED,
    OUTCOME_HELD };
struct outbox_outcome {
	enum outbox_result	 result;
	const char		*reason;	/* or NULL */
	const char		*note;		/* for the history, or NULL */
	const char		*external_id;	/* the channel's, or NULL */
	int64_t			 retry_after;	/* the server's delay, s; 0 */
	int			 attempt;
	int64_t			 now;
};
struct outbox_retry {
	int64_t	 min;		/* retry_min */
	int64_t	 max;		/* retry_max */
	int64_t	 until;		/* retry_for */
};
int		 outbox_record(struct outbox_conn *, int64_t aid,
		    const struct outbox_outcome *, const struct outbox_retry *,
		    int *status, int64_t *due);
int		 outbox_recover(sqlite3 *, int64_t now);

/* The guardrails' verdicts on a claimed action, in the caller's
 * transaction. */
int		 outbox_defer(sqlite3 *, int64_t aid, int64_t due,
		    const char *reason, int64_t now);
int		 outbox_hold(sqlite3 *, int64_t aid, const char *reason,
		    int64_t now);
int64_t		 outbox_count_capped(sqlite3 *, int64_t sid,
		    const char *instance, int64_t aid, int64_t since,
		    const char *exempt);

/* Reading and retrying, for operators. */
int		 outbox_counts(sqlite3 *, long n[OUTBOX_NSTATUS]);
struct outbox_entry {
	const char	*id;
	int		 kind;		/* the subject's */
	const char	*subject;
	const char	*journey;
	const char	*rule;
	const char	*instance;
	int		 status;
	int		 attempts;
	int64_t		 due;
	const char	*reason;	/* or NULL */
};
int		 outbox_list(sqlite3 *, int dead,
		    int (*)(void *, const struct outbox_entry *), void *);
int		 outbox_retry(sqlite3 *, const char *ref, int64_t sid,
		    int64_t now, char *err, size_t errlen);
int		 outbox_exists(sqlite3 *, const char *id);
/* Retention: delete ended actions created before cut among lo <= aid <
 * hi; erasure: every action of the subjects in temp.forget_sids. Both in
 * the caller's transaction; how many, or -1. */
int64_t		 outbox_prune(sqlite3 *, int64_t lo, int64_t hi, int64_t cut);
int64_t		 outbox_forget(sqlite3 *);
/* Is the action of row aid still there (not erased)? 1, 0, or -1. */
int		 outbox_alive(sqlite3 *, int64_t aid);

#endif /* JD_STORE_OUTBOX_H */
