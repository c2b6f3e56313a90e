/*
 * The engine's insides, shared by tick.c (evaluation), stmt.c (its
 * prepared statements) and members.c (membership writes). Nothing else
 * sees them.
 */
#ifndef JD_ENGINE_INT_H
#define JD_ENGINE_INT_H

#include "engine/engine.h"

/* A prepared statement of the engine, found by its key, with the indexes
 * of the names the engine binds at each run (0 when it does not use one). */
struct estmt {
	uint64_t	 key;
	sqlite3_stmt	*st;
	int		 i_now, i_lo, i_hi, i_journey, i_a, i_b, i_i;
};

/* What the engine keeps of a journey across ticks. */
struct jplan {
	int		 climb;		/* entrants climb by their masks */
	int		 ngoto;		/* goto rules */
	int		 tagw;		/* digits of a rule index */
	int		*fold;		/* an action rule's mask bit, or -1 */
	int		 folded;	/* fold is worked out */
};

struct tally;

struct engine {
	sqlite3			*db;
	const struct config	*cf;
	struct estmt		**stmts;	/* open addressing, by key */
	int			 nstmts;
	int			 capstmts;	/* a power of 2 */
	struct jplan		*plans;		/* per journey */
	struct tally		*tally;
	int			 debug;		/* JOURNEYD_DEBUG_SQL */
	int			 noclimb;	/* JOURNEYD_TICK_NOCLIMB */
	int64_t			 chunk;		/* subjects per chunk, adapted */
};

/* One journey's evaluation over one chunk of subjects. */
struct tick {
	struct engine		*e;
	const struct journey	*j;
	int			 ji;		/* the journey's index */
	struct jplan		*p;
	int64_t			 now;
	int64_t			 lo, hi;	/* the chunk's sids */
	int			 scoped;	/* and those in temp.tick_scope */
	struct tick_stats	*stats;
	int64_t			 nnew;		/* entrants in tick_new */
	int64_t			 entrants;	/* ... still, once settled */
	int			 members;	/* the chunk has members */
	int			 old;		/* ... active, before entry */
	int64_t			 hid0;		/* history before the chunk */
};

/* stmt.c: the engine's statements. A keyed statement is one of a journey
 * (its text made from the config); a fixed one is a constant text shared
 * by every journey, found by its address. */
uint64_t	 eng_key(const struct tick *, int kind, int rule, int variant);
struct estmt	*eng_cached(struct engine *, uint64_t key);
struct estmt	*eng_prepare(struct engine *, uint64_t key, struct sql *,
		    const char *journey);
/* Run a statement: bind :now, :lo, :hi, :journey, and :a, :b, :i where it
 * names them. Returns the rows it changed, or -1 (logged). */
int		 eng_run(struct tick *, struct estmt *, const char *a,
		    const char *b, int64_t i);
/* A fixed statement, to bind by hand. */
struct estmt	*eng_fixed_stmt(struct tick *, const char *text);
/* Run a fixed statement. */
int		 eng_fixed(struct tick *, const char *text, const char *a,
		    const char *b, int64_t i);
/* The first value of a fixed one-row query, or -1. */
int64_t		 eng_int(struct tick *, const char *text);
void		 eng_stmts_free(struct engine *);

/* members.c: memberships and their history, set-based from the tick's
 * temporary tables. */
int		 members_exit(struct tick *);
int		 members_move(struct tick *, const char *to, const char *rule,
		    int status);
int		 members_complete(struct tick *);
int		 members_settle(struct tick *, int64_t before);

#endif /* JD_ENGINE_INT_H */
