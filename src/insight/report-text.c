/*
 * The report as text (journeyctl report): per journey a table of its
 * stages, then per rule with a holdout a summary line, treated against
 * held out, and a table of its groups with their conversion and their
 * lift against the reference group.
 */
#include "config.h"

#include "insight/insight-int.h"

/* The table of a journey's stages. */
static void
text_stages(FILE *f, const struct report_journey *rj)
{
	char	 pct[32], age[32], stalled[32];

	fprintf(f, "  %-18s %8s %8s %9s %10s %8s\n", "stage", "now",
	    "reached", "to next", "median", "stalled");
	for (int k = 0; k < rj->nstages; k++) {
		const struct report_stage *rs = &rj->stages[k];

		if (rs->expect > 0)
			snprintf(stalled, sizeof stalled, "%ld", rs->stalled);
		else
			snprintf(stalled, sizeof stalled, "-");
		fprintf(f, "  %-18s %8ld %8ld %9s %10s %8s\n", rs->name,
		    rs->now, rs->reached, k + 1 < rj->nstages ?
		    report_pct(rs->next, rs->reached, pct, sizeof pct) : "-",
		    report_age(rs->median, age, sizeof age), stalled);
	}
}

/* One group's row: its numbers, and its lift against the reference. */
static void
text_group(FILE *f, const struct report_experiment *ex, int i)
{
	const struct report_group	*g = &ex->groups[i];
	char				 pct[32], d[32], lo[32], hi[32];
	char				 ci[80], p[32];

	fprintf(f, "    %-18s %8ld %8ld %11s", g->name, g->subjects,
	    g->reached, report_pct(g->reached, g->subjects, pct, sizeof pct));
	if (i == ex->ref)
		fprintf(f, "  %s\n", "reference");
	else if (g->lift.verdict == STATS_EMPTY)
		fprintf(f, "  %9s\n", "-");
	else {
		snprintf(ci, sizeof ci, "%s to %s", report_pp(g->lift.lo, lo,
		    sizeof lo), report_pp(g->lift.hi, hi, sizeof hi));
		fprintf(f, "  %9s %16s %8s\n", report_pp(g->lift.diff, d,
		    sizeof d), ci, g->lift.verdict == STATS_NOVAR ? "-" :
		    report_pvalue(g->lift.pvalue, p, sizeof p));
	}
}

/*
 * An experiment: the summary line (every treated group together against
 * the held-out one), then a row per group: subjects, reached, conversion,
 * and, against the reference, the difference in conversion in percentage
 * points, its 95% interval and the p-value; a sentence for each group
 * whose lift is missing or rough.
 */
static void
text_experiment(FILE *f, const struct report_experiment *ex)
{
	long	 treated = 0, treated_next = 0, held = 0, held_next = 0;
	char	 a[32], b[32], why[256];

	for (int i = 0; i < ex->ngroups; i++) {
		const struct report_group *g = &ex->groups[i];

		if (g->held_out) {
			held += g->subjects;
			held_next += g->reached;
		} else {
			treated += g->subjects;
			treated_next += g->reached;
		}
	}
	if (ex->holdout > 0)
		fprintf(f, "  holdout %s (%d%%): treated %ld, %ld reached the "
		    "next stage (%s); held out %ld, %ld (%s)\n", ex->rule,
		    ex->holdout, treated, treated_next, report_pct(
		    treated_next, treated, a, sizeof a), held, held_next,
		    report_pct(held_next, held, b, sizeof b));
	else
		fprintf(f, "  variants %s (no holdout: each against %s): %ld "
		    "subjects, %ld reached the next stage (%s)\n", ex->rule,
		    ex->groups[ex->ref].name, treated, treated_next,
		    report_pct(treated_next, treated, a, sizeof a));
	fprintf(f, "    %-18s %8s %8s %11s  %9s %16s %8s\n", "group",
	    "subjects", "reached", "conversion", "lift (pp)", "95% CI (pp)",
	    "p-value");
	for (int i = 0; i < ex->ngroups; i++)
		text_group(f, ex, i);
	for (int i = 0; i < ex->ngroups; i++)
		if (i != ex->ref && report_verdict(ex, &ex->groups[i], why,
		    sizeof why) != NULL)
			fprintf(f, "    %s\n", why);
}

/* Render the whole report as text. */
int
report_render_text(const struct report *rp, FILE *f)
{
	char	 when[32];

	fprintf(f, "report at %s\n", time_format(rp->now, when, sizeof when));
	for (int i = 0; i < rp->njourneys; i++) {
		const struct report_journey *rj = &rp->journeys[i];

		fprintf(f, "\njourney %s (%s)\n", rj->name,
		    rj->subject == SUBJECT_ACCOUNT ? "accounts" : "users");
		text_stages(f, rj);
		for (int k = 0; k < rj->nexperiments; k++)
			text_experiment(f, &rj->experiments[k]);
	}
	return ferror(f) ? -1 : 0;
}
