/*
 * The engine layer: evaluating the journeys. An engine (tick.c) belongs to
 * one config and one connection: it compiles each rule's statements once,
 * on first use, and keeps them prepared. A tick evaluates every journey,
 * set-based, in chunks of subjects: each chunk is one short write
 * transaction in which a subject's entry, moves, firings and outbox rows
 * commit together, so that a tick over millions of subjects never holds the
 * write lock for long. A scoped tick evaluates only the subjects whose data
 * changed, and those whose rules read them (reacting). Memberships
 * (members.c) are written only here: entries, moves, completions, exits
 * and hand-off enrollments.
 */
#ifndef JD_ENGINE_H
#define JD_ENGINE_H

#include "rules/expr.h"

/* What a tick did. */
struct tick_stats {
	long	entered;
	long	moved;
	long	completed;
	long	exited;
	long	actions;
	long	chunks;		/* write transactions */
	double	seconds;	/* how long the tick took */
	double	longest;	/* the longest transaction, seconds */
};

/* tick.c */
struct engine;
struct engine	*engine_new(sqlite3 *, const struct config *);
void		 engine_free(struct engine *);
#define TICK_DRY_RUN	0x1	/* print what would happen to out, change
				   nothing */
#define TICK_SCOPED	0x2	/* only the subjects engine_scope() chose */
/* Run one tick of every journey at now. */
int		 engine_tick(struct engine *, int64_t now, int flags, FILE *out,
		    struct tick_stats *);

/* react.c: what changed since a mark, for a scoped tick. */
struct react_mark {
	int64_t	 eid;		/* the last event seen */
	int64_t	 seq;		/* the last subject change seen */
};
int		 engine_mark(struct engine *, struct react_mark *);
/* Scope the next TICK_SCOPED tick to the subjects changed after *m and
 * those whose rules read them; move *m on. How many, 0 when nothing
 * changed, or -1. */
int64_t		 engine_scope(struct engine *, struct react_mark *);
/* Forget the subject changes up to a mark (a full tick covered them). */
int		 engine_forget_changes(struct engine *, const struct react_mark *);

/* members.c: hand-offs, in the caller's transaction. */
/* Enroll subject sid in a journey at stage (NULL: the first), recording
 * rule as the cause. Returns 1 when enrolled, 0 when already in it, -1 with
 * err. */
int		 journey_enroll(sqlite3 *, const struct config *, int64_t sid,
		    const char *journey, const char *stage, const char *rule,
		    int64_t now, char *err, size_t errlen);
/* Queue an action for subject sid with its history entry; returns the
 * outbox row or -1. */
int64_t		 journey_queue(sqlite3 *, int64_t sid, const char *journey,
		    const char *rule, const char *stage, const char *instance,
		    const char *params, int64_t now);
/* Is subject sid still in journey j (not exited) where rule r's action
 * was queued for it: at the stage its goto led to (stage), or else at one
 * of the rule's stages (any, when it names none)? 1, 0, or -1 on a
 * database error. */
int		 journey_still_at(sqlite3 *, const struct journey *,
		    const struct rule *, int64_t sid, const char *stage,
		    int64_t queued);

/* prune.c: retention (SPEC §18), a pass in short transactions. */
struct prune_stats {
	int64_t	 events;	/* rows deleted */
	int64_t	 history;
	int64_t	 actions;
	long	 transactions;
	int64_t	 longest_usec;	/* the longest transaction */
};
struct pruner;
struct pruner	*pruner_new(void);
void		 pruner_free(struct pruner *);
/* Prune for about budget_ms (< 0: the whole pass), going on from where the
 * last call stopped: 1 when the pass is over, 0 when more is left, -1. */
int		 pruner_run(struct pruner *, sqlite3 *, const struct config *,
		    int64_t now, int64_t budget_ms, struct prune_stats *);

#endif /* JD_ENGINE_H */
