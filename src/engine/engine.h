/*
 * The engine layer: evaluating the journeys (tick.c): who enters, moves,
 * completes and exits, and which actions fire, all set-based over the
 * store, each journey in one write transaction with the outbox rows its
 * firings queue.
 */
#ifndef JD_ENGINE_H
#define JD_ENGINE_H

#include "rules/expr.h"

/* tick.c: evaluating journeys. */
struct tick_stats {
	long	entered;
	long	moved;
	long	completed;
	long	exited;
	long	actions;
	double	seconds;	/* how long the tick took */
};
/* Run one tick of every journey at now. With dry_run, print what would
 * happen to out and change nothing. */
int		 tick_run(sqlite3 *, const struct config *, int64_t now,
		    int dry_run, FILE *out, struct tick_stats *);
/* Enroll subject sid in a journey at stage (NULL: the first), recording
 * rule as the cause. Returns 1 when enrolled, 0 when already in it, -1 with
 * err. Must run inside a transaction. */
int		 journey_enroll(sqlite3 *, const struct config *, int64_t sid,
		    const char *journey, const char *stage, const char *rule,
		    int64_t now, char *err, size_t errlen);
/* Queue an action for subject sid with its history entry; returns the
 * outbox row or -1. Must run inside a transaction. */
int64_t		 journey_queue(sqlite3 *, int64_t sid, const char *journey,
		    const char *rule, const char *stage, const char *instance,
		    const char *params, int64_t now);

#endif /* JD_ENGINE_H */
