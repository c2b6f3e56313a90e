/*
 * The statistics of an experiment's report (README, "Report"): pure
 * functions of counts, no database.
 *
 * A group of n subjects of whom x converted has the conversion p = x / n
 * and its 95% Wald interval p ± 1.96·sqrt(p(1 − p)/n), cut to [0, 1]. A
 * group against its reference (x1 of n1 against x0 of n0): the difference
 * d = p1 − p0 with its 95% Wald interval d ± 1.96·sqrt(p1(1 − p1)/n1 +
 * p0(1 − p0)/n0), and the two-sided p-value of the pooled two-proportion
 * z-test: p = (x1 + x0)/(n1 + n0), z = d / sqrt(p(1 − p)(1/n1 + 1/n0)),
 * p-value = erfc(|z|/√2).
 *
 * These are normal approximations, good only when each group has enough
 * of both outcomes. The rule of thumb: each of the two groups needs at
 * least STATS_MIN_EACH subjects who converted and STATS_MIN_EACH who did
 * not. Below it the numbers are still given (SPEC §15 asks for them
 * whatever the size) and the report says they are rough. With a zero
 * pooled variance (no subject of either group converted, or every one
 * did) z is undefined: the difference and its interval, both 0, are
 * given, the p-value is not.
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "insight/insight-int.h"

#define STATS_Z95	1.96

/* The conversion of x of n, with its 95% Wald interval. */
void
stats_prop(long x, long n, struct stats_prop *sp)
{
	double	 half;

	memset(sp, 0, sizeof *sp);
	sp->x = x;
	sp->n = n;
	if (n <= 0 || x < 0 || x > n)
		return;
	sp->known = 1;
	sp->p = (double)x / n;
	half = STATS_Z95 * sqrt(sp->p * (1 - sp->p) / n);
	sp->lo = sp->p - half < 0 ? 0 : sp->p - half;
	sp->hi = sp->p + half > 1 ? 1 : sp->p + half;
}

/* Whether a group has too few of either outcome to be compared. */
static int
stats_too_few(long x, long n)
{
	return n <= 0 || x < STATS_MIN_EACH || n - x < STATS_MIN_EACH;
}

/* Group x1 of n1 against its reference x0 of n0: the difference in
 * conversion, its interval, z and the p-value; sl->verdict says which of
 * them could be computed, and whether there were enough subjects for the
 * approximation. */
void
stats_lift(long x1, long n1, long x0, long n0, struct stats_lift *sl)
{
	double	 p1, p0, pool, se, sep;

	memset(sl, 0, sizeof *sl);
	if (n1 <= 0 || n0 <= 0 || x1 < 0 || x1 > n1 || x0 < 0 || x0 > n0) {
		sl->verdict = STATS_EMPTY;
		return;
	}
	p1 = (double)x1 / n1;
	p0 = (double)x0 / n0;
	sl->diff = p1 - p0;
	se = sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0);
	sl->lo = sl->diff - STATS_Z95 * se;
	sl->hi = sl->diff + STATS_Z95 * se;
	if (x1 + x0 == 0 || x1 + x0 == n1 + n0) {
		sl->verdict = STATS_NOVAR;
		return;
	}
	pool = (double)(x1 + x0) / (double)(n1 + n0);
	sep = sqrt(pool * (1 - pool) * (1.0 / n1 + 1.0 / n0));
	sl->z = sl->diff / sep;
	sl->pvalue = erfc(fabs(sl->z) / sqrt(2.0));
	sl->verdict = stats_too_few(x1, n1) || stats_too_few(x0, n0) ?
	    STATS_FEW : STATS_OK;
}
