/*
 * The rule language (SPEC §6): expressions are parsed and type-checked once,
 * at load time, and compiled to SQL fragments that SQLite evaluates for every
 * candidate subject at once.
 *
 * Compiled SQL refers to these names, which the caller's query provides:
 *   s        a row of subjects (s.sid, s.kind, s.traits, s.account)
 *   m        the subject's row of members for the journey being evaluated
 *            (m.stage, m.stage_since, m.entered, m.status), LEFT JOINed: its
 *            columns are NULL for a subject not in the journey
 *   :now     the run's clock, Unix seconds (bound by the caller)
 * Every value from the config (event names, trait keys, windows, strings)
 * is a bound parameter, collected in struct sql.
 */
#ifndef JD_RULES_EXPR_H
#define JD_RULES_EXPR_H

#include "rules/rules.h"

/* The FROM clause that compiled expressions expect; bind :journey. */
#define EXPR_FROM \
	"subjects s LEFT JOIN members m " \
	"ON m.journey = :journey AND m.subject = s.sid"

enum expr_type {
	EXPR_BOOL,
	EXPR_NUM,
	EXPR_STR,
	EXPR_ANY	/* a trait: string, number or boolean, known at run */
};

/* What an expression may refer to. */
struct expr_scope {
	enum subject_kind	 subject;	/* the journey's subject */
	const struct config	*conf;		/* journeys by name, or NULL */
	const struct journey	*journey;	/* stages' expect, or NULL */
};

/* A parameter of a compiled query. */
struct sql_param {
	int	 type;		/* SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT */
	int64_t	 i;
	double	 d;
	char	*s;
};

/*
 * Values several expressions of one query share: each distinct read of the
 * subject's data (a count, sum, since, attr, ... or a count compared with
 * 0 or 1) that they make, computed once per subject as a column "jd_xN" of
 * a subquery over s, to which the expressions then refer. Start it zeroed.
 */
struct expr;
struct node;
struct expr_share {
	struct {
		const struct expr	*e;
		const struct node	*n;
		char			*key;	/* its SQL and parameters */
		int			 by;	/* >= 0: no column, written
						 * over that count's */
	}		*v;
	int		 n;
};

/* A query being built: its text and its parameters :p1 .. :pn. They are
 * named, not "?N": SQLite numbers a named parameter (:journey in EXPR_FROM)
 * by where it first appears, so "?1" after it would share its slot. With
 * share set, expr_sql writes the reads of subjects' data as references to
 * shared columns. */
struct sql {
	struct buf	 text;
	struct sql_param *params;
	int		 nparams;
	struct expr_share *share;
};
void		 sql_init(struct sql *);
void		 sql_free(struct sql *);
/* Add a parameter and append its placeholder (":pN") to the text. */
void		 sql_add_text(struct sql *, const char *);
void		 sql_add_int(struct sql *, int64_t);
void		 sql_add_double(struct sql *, double);
/* Bind every parameter, and :now and :journey where the text names them. */
int		 sql_bind(const struct sql *, sqlite3_stmt *, int64_t now,
		    const char *journey);

/* Parse and type-check src, which must be boolean. NULL on error with the
 * message in err ("expected ')' at column 18"); the caller adds the place. */
struct expr	*expr_compile(const char *src, const struct expr_scope *,
		    char *err, size_t errlen);
void		 expr_free(struct expr *);
enum expr_type	 expr_type(const struct expr *);

/* Append the expression's SQL to q: a boolean is 0 or 1, never NULL (absent
 * values compare false, SPEC §6); a number or string may be NULL. */
void		 expr_sql(const struct expr *, struct sql *q);

/* Register every read of subjects' data that e makes, before writing any
 * expression over share: then an existence test ("count('e') >= 1") that
 * a shared count of the same events implies is written to look for the
 * events only where that count is 0, by "jd_sid", the subject's sid, which
 * the query over the subquery must provide. */
void		 expr_share_add(struct expr_share *, const struct expr *);
/* Does share already hold every read of subjects' data that e makes? */
int		 expr_share_covers(struct expr_share *, const struct expr *);
/* Append ", READ AS jd_x0, ..." for every read in share: the columns of the
 * subquery over s (and the LEFT JOINed m of EXPR_FROM when needed). */
void		 expr_share_columns(struct expr_share *, struct sql *);
void		 expr_share_free(struct expr_share *);

/* Does the expression read the subject's own membership of the named
 * journey (stage(), in_journey() or completed() of it)? */
int		 expr_reads_journey(const struct expr *, const char *journey);
/* Does the expression read the subject's account (account.*)? */
int		 expr_reads_account(const struct expr *);

/* Evaluate e for one subject and write why, one line per comparison, each
 * like "count('ride', 30d) = 7 (needs >= 8): no", indented by indent.
 * Sets *holds. Returns 0, or -1 on a database error. */
int		 expr_explain(const struct expr *, sqlite3 *, int64_t sid,
		    int64_t now, const char *journey, int indent,
		    struct buf *out, int *holds);

#endif /* JD_RULES_EXPR_H */
