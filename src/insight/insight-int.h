/*
 * Inside the insight layer: the report's model, computed once from the
 * database (report.c) and rendered by report-text.c and report-html.c,
 * and the statistics of its experiments (stats.c).
 */
#ifndef JD_INSIGHT_INT_H
#define JD_INSIGHT_INT_H

#include "insight/insight.h"

/* stats.c: a conversion and its 95% Wald interval. */
struct stats_prop {
	long	 x, n;		/* x of n converted */
	int	 known;		/* n > 0: p, lo and hi are set */
	double	 p, lo, hi;	/* fractions; lo, hi within [0, 1] */
};
void		 stats_prop(long x, long n, struct stats_prop *);

/* A group against its reference. EMPTY: a group has no subjects, nothing
 * is computed. NOVAR: no variation in either group, no z-test. FEW: all is
 * computed, but below STATS_MIN_EACH converted or not converted in a group
 * the normal approximation is rough. */
#define STATS_MIN_EACH	10
enum stats_verdict { STATS_EMPTY, STATS_NOVAR, STATS_FEW, STATS_OK };
struct stats_lift {
	enum stats_verdict verdict;
	double	 diff;		/* p1 - p0 (not when EMPTY) */
	double	 lo, hi;	/* its 95% Wald interval (not when EMPTY) */
	double	 z, pvalue;	/* pooled z-test (FEW and OK only) */
};
void		 stats_lift(long x1, long n1, long x0, long n0,
		    struct stats_lift *);

/*
 * The report's model. Every string is the model's own (report_free frees
 * them), so it outlives the config it was computed from.
 */
struct report_stage {
	char		*name;
	int64_t		 expect;	/* seconds, 0 none */
	long		 now;		/* in it now (not exited) */
	long		 reached;	/* ever reached */
	long		 next;		/* of those, went on later */
	int64_t		 median;	/* seconds to it, -1 none */
	long		 stalled;
};

/* A group of an experiment: the subjects of one variant (today the one
 * group "treated"), or those held out. */
struct report_group {
	char		*name;
	int		 held_out;
	long		 subjects;	/* each by its first action */
	long		 reached;	/* of those, went on later */
	struct stats_prop conv;		/* reached of subjects */
	struct stats_lift lift;		/* against the reference group */
};

/* A rule with a holdout: its groups, the treated ones first, the
 * held-out one last; ref is the group the others are measured against
 * (the held-out one; without one, the first). */
struct report_experiment {
	char			*rule;
	int			 holdout;	/* percent */
	struct report_group	*groups;
	int			 ngroups;
	int			 ref;
};

struct report_journey {
	char			*name;
	enum subject_kind	 subject;
	struct report_stage	*stages;
	int			 nstages;
	struct report_experiment *experiments;
	int			 nexperiments;
};

struct report {
	int64_t			 now;
	struct report_journey	*journeys;
	int			 njourneys;
};

/* report.c: the model, and the formats both renderers share. */
struct report	*report_new(const struct config *, sqlite3 *, int64_t now,
		    char *err, size_t errlen);
void		 report_free(struct report *);
const char	*report_age(int64_t seconds, char *, size_t);
const char	*report_pct(long part, long whole, char *, size_t);
const char	*report_pp(double fraction, char *, size_t);
const char	*report_pvalue(double, char *, size_t);
const char	*report_verdict(const struct report_experiment *,
		    const struct report_group *, char *, size_t);

/* report-text.c and report-html.c: the renderers; -1 on a write error. */
int		 report_render_text(const struct report *, FILE *);
int		 report_render_html(const struct report *, FILE *);

#endif /* JD_INSIGHT_INT_H */
