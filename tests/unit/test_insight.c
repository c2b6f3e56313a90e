/*
 * The insight layer: the statistics of an experiment (stats.c) against
 * known values, the report's renderers over a model built by hand, and
 * the entry points other threads call (report_html, metrics_print), which
 * report a broken database as an error rather than exit.
 *
 * The expected values are textbook ones where there is one (a two-sided
 * p-value of 0.0455 at z = 2; chi-square 5.333 on 1 degree of freedom,
 * which the pooled z-test squares to, is p = 0.02092), the others were
 * worked out by hand from the formulas with Python's math.sqrt and
 * math.erfc (README, "Report").
 */
#include "config.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "insight/insight-int.h"

#define EPS	1e-9

/* 60 of 200 against 40 of 200: d = 0.1, z = 2.3094, p = 0.02092. */
static void
test_lift_known(void **state)
{
	struct stats_lift	 sl;

	(void)state;
	stats_lift(60, 200, 40, 200, &sl);
	assert_int_equal(sl.verdict, STATS_OK);
	assert_true(fabs(sl.diff - 0.1) < EPS);
	assert_true(fabs(sl.lo - 0.015697212383) < EPS);
	assert_true(fabs(sl.hi - 0.184302787617) < EPS);
	assert_true(fabs(sl.z - 2.309401076759) < EPS);
	assert_true(fabs(sl.pvalue - 0.020921335338) < EPS);

	/* z = 2 exactly: the two-sided p-value is 0.0455. */
	stats_lift(45, 150, 30, 150, &sl);
	assert_int_equal(sl.verdict, STATS_OK);
	assert_true(fabs(sl.z - 2.0) < EPS);
	assert_true(fabs(sl.pvalue - 0.045500263896) < EPS);
	assert_true(fabs(sl.lo - 0.002655525752) < EPS);
	assert_true(fabs(sl.hi - 0.197344474248) < EPS);

	/* An interval across zero, not significant. */
	stats_lift(120, 1000, 100, 1000, &sl);
	assert_true(fabs(sl.diff - 0.02) < EPS);
	assert_true(fabs(sl.lo - -0.007411985700) < EPS);
	assert_true(fabs(sl.hi - 0.047411985700) < EPS);
	assert_true(fabs(sl.pvalue - 0.152917781864) < EPS);

	/* No difference: z = 0, p = 1. */
	stats_lift(10, 20, 10, 20, &sl);
	assert_int_equal(sl.verdict, STATS_OK);
	assert_true(fabs(sl.z) < EPS && fabs(sl.pvalue - 1) < EPS);
}

/* A worse group: a negative difference, the same p-value both ways. */
static void
test_lift_sign(void **state)
{
	struct stats_lift	 a, b;

	(void)state;
	stats_lift(30, 100, 45, 100, &a);
	stats_lift(45, 100, 30, 100, &b);
	assert_true(fabs(a.diff - -0.15) < EPS);
	assert_true(fabs(a.lo - -0.282571942733) < EPS);
	assert_true(fabs(a.hi - -0.017428057267) < EPS);
	assert_true(fabs(a.z - -2.190890230021) < EPS);
	assert_true(fabs(a.pvalue - 0.028459736916) < EPS);
	assert_true(fabs(a.diff + b.diff) < EPS);
	assert_true(fabs(a.lo + b.hi) < EPS && fabs(a.hi + b.lo) < EPS);
	assert_true(fabs(a.pvalue - b.pvalue) < EPS);
}

/* Small groups: everything computed, said to be rough (FEW) below
 * STATS_MIN_EACH of either outcome in either group; no variation at all:
 * the difference and its interval but no z-test (NOVAR); an empty group:
 * nothing (EMPTY). */
static void
test_lift_small(void **state)
{
	struct stats_lift	 sl, ok;

	(void)state;
	stats_lift(9, 100, 50, 100, &sl);	/* 9 converted */
	assert_int_equal(sl.verdict, STATS_FEW);
	assert_true(fabs(sl.diff - -0.41) < EPS);
	/* The same formulas as for a large sample. */
	assert_true(fabs(sl.lo - (-0.41 - 1.96 * sqrt(0.09 * 0.91 / 100 +
	    0.25 / 100))) < EPS);
	assert_true(fabs(sl.z - -0.41 / sqrt(0.295 * 0.705 * 0.02)) < EPS);
	assert_true(sl.pvalue > 0 && sl.pvalue < 1e-9);
	stats_lift(50, 100, 91, 100, &sl);	/* 9 did not */
	assert_int_equal(sl.verdict, STATS_FEW);
	stats_lift(3, 8, 1, 9, &sl);		/* a handful */
	assert_int_equal(sl.verdict, STATS_FEW);
	assert_true(fabs(sl.pvalue - 0.200441) < 1e-5);
	stats_lift(10, 20, 10, 20, &ok);	/* just enough */
	assert_int_equal(ok.verdict, STATS_OK);
	stats_lift(0, 500, 0, 500, &sl);	/* pooled variance 0 */
	assert_int_equal(sl.verdict, STATS_NOVAR);
	assert_true(sl.diff == 0 && sl.lo == 0 && sl.hi == 0);
	stats_lift(500, 500, 7, 7, &sl);
	assert_int_equal(sl.verdict, STATS_NOVAR);
	stats_lift(0, 0, 10, 20, &sl);
	assert_int_equal(sl.verdict, STATS_EMPTY);
	stats_lift(10, 20, 0, 0, &sl);
	assert_int_equal(sl.verdict, STATS_EMPTY);
	stats_lift(30, 20, 10, 20, &sl);	/* more converted than n */
	assert_int_equal(sl.verdict, STATS_EMPTY);
}

/* A proportion's Wald interval, cut to [0, 1]. */
static void
test_prop(void **state)
{
	struct stats_prop	 sp;

	(void)state;
	stats_prop(60, 200, &sp);
	assert_true(sp.known);
	assert_true(fabs(sp.p - 0.3) < EPS);
	assert_true(fabs(sp.lo - 0.236488741156) < EPS);
	assert_true(fabs(sp.hi - 0.363511258844) < EPS);
	stats_prop(1, 50, &sp);
	assert_true(sp.lo == 0 && fabs(sp.hi - 0.058806020152) < EPS);
	stats_prop(49, 50, &sp);
	assert_true(fabs(sp.lo - 0.941193979848) < EPS && sp.hi == 1);
	stats_prop(0, 10, &sp);
	assert_true(sp.known && sp.p == 0 && sp.lo == 0 && sp.hi == 0);
	stats_prop(0, 0, &sp);
	assert_false(sp.known);
}

/* The formats the renderers share. */
static void
test_formats(void **state)
{
	char	 b[64];

	(void)state;
	assert_string_equal(report_pp(0.1, b, sizeof b), "+10.0");
	assert_string_equal(report_pp(-0.15, b, sizeof b), "-15.0");
	assert_string_equal(report_pp(-0.0001, b, sizeof b), "+0.0");
	assert_string_equal(report_pvalue(0.020921, b, sizeof b), "0.021");
	assert_string_equal(report_pvalue(0.0004, b, sizeof b), "< 0.001");
	assert_string_equal(report_pct(2, 3, b, sizeof b), "66.7%");
	assert_string_equal(report_pct(0, 0, b, sizeof b), "-");
	assert_string_equal(report_age(93600, b, sizeof b), "1d 2h");
	assert_string_equal(report_age(-1, b, sizeof b), "-");
}

/* A model by hand: a journey "a<b" with two stages and an experiment of
 * two variants (as the outbox will record them) and a held-out group. */
static struct report *
test_model(void)
{
	struct report			*rp = xcalloc(1, sizeof *rp);
	struct report_journey		*rj;
	struct report_experiment	*ex;
	static const struct { const char *name; long n, x; int out; } g[] = {
		{ "short", 200, 60, 0 }, { "story", 30, 5, 0 },
		{ "held out", 200, 40, 1 }
	};

	rp->now = 1772355600;
	rp->njourneys = 1;
	rp->journeys = rj = xcalloc(1, sizeof *rj);
	rj->name = xstrdup("a<b");
	rj->nstages = 2;
	rj->stages = xcalloc(2, sizeof *rj->stages);
	rj->stages[0] = (struct report_stage){ xstrdup("new"), 86400, 5, 9,
	    4, 3600, 2 };
	rj->stages[1] = (struct report_stage){ xstrdup("done"), 0, 4, 4, 0,
	    -1, 0 };
	rj->nexperiments = 1;
	rj->experiments = ex = xcalloc(1, sizeof *ex);
	ex->rule = xstrdup("tip");
	ex->holdout = 40;
	ex->ngroups = 3;
	ex->ref = 2;
	ex->groups = xcalloc(3, sizeof *ex->groups);
	for (int i = 0; i < 3; i++) {
		ex->groups[i].name = xstrdup(g[i].name);
		ex->groups[i].held_out = g[i].out;
		ex->groups[i].subjects = g[i].n;
		ex->groups[i].reached = g[i].x;
		stats_prop(g[i].x, g[i].n, &ex->groups[i].conv);
		if (i != 2)
			stats_lift(g[i].x, g[i].n, 40, 200,
			    &ex->groups[i].lift);
	}
	return rp;
}

/* Render rp with fn into a string. */
static char *
test_render(const struct report *rp, int (*fn)(const struct report *,
    FILE *))
{
	char	*s = NULL;
	size_t	 len = 0;
	FILE	*f = open_memstream(&s, &len);

	assert_non_null(f);
	assert_int_equal(fn(rp, f), 0);
	fclose(f);
	return s;
}

/* The text: the stages, the summary line, a row per group, a sentence for
 * the group whose numbers are rough. */
static void
test_render_text(void **state)
{
	struct report	*rp = test_model();
	char		*s = test_render(rp, report_render_text);

	(void)state;
	assert_string_equal(s,
	    "report at 2026-03-01T09:00:00Z\n"
	    "\n"
	    "journey a<b (users)\n"
	    "  stage                   now  reached   to next     median  "
	    "stalled\n"
	    "  new                       5        9     44.4%      1h 0m  "
	    "      2\n"
	    "  done                      4        4         -          -  "
	    "      -\n"
	    "  holdout tip (40%): treated 230, 65 reached the next stage "
	    "(28.3%); held out 200, 40 (20.0%)\n"
	    "    group              subjects  reached  conversion  lift (pp)"
	    "      95% CI (pp)  p-value\n"
	    "    short                   200       60       30.0%      +10.0"
	    "    +1.6 to +18.4    0.021\n"
	    "    story                    30        5       16.7%       -3.3"
	    "   -17.8 to +11.1    0.668\n"
	    "    held out                200       40       20.0%  reference\n"
	    "    Few subjects: the interval and p-value of story against held "
	    "out are rough (a normal approximation, which wants at least 10 "
	    "who reached the next stage and 10 who did not in each group).\n");
	free(s);
	report_free(rp);
}

/* How many times needle is in s. */
static int
test_count(const char *s, const char *needle)
{
	int	 n = 0;

	for (; (s = strstr(s, needle)) != NULL; s++)
		n++;
	return n;
}

/* The page: names escaped, the same numbers, the interval chart. */
static void
test_render_html(void **state)
{
	struct report	*rp = test_model();
	char		*s = test_render(rp, report_render_html);

	(void)state;
	assert_true(strncmp(s, "<!DOCTYPE html>", 15) == 0);
	assert_non_null(strstr(s, "a&lt;b"));
	assert_null(strstr(s, "a<b"));
	assert_null(strstr(s, "<script"));
	assert_non_null(strstr(s, "<tr><th scope=\"row\">short</th><td>200"
	    "</td><td>60</td><td>30.0% (23.6\xe2\x80\x93" "36.4%)</td><td>+10.0"
	    "</td><td>+1.6 to +18.4</td><td>0.021</td></tr>"));
	assert_non_null(strstr(s, "<tr><th scope=\"row\">held out</th><td>200"
	    "</td><td>40</td><td>20.0% (14.5\xe2\x80\x93" "25.5%)</td>"
	    "<td class=\"g\" colspan=\"3\">reference</td></tr>"));
	assert_non_null(strstr(s, "<tr><th scope=\"row\">story</th><td>30"
	    "</td><td>5</td><td>16.7% (3.3\xe2\x80\x93" "30.0%)</td><td>-3.3"
	    "</td><td>-17.8 to +11.1</td><td>0.668</td></tr>"));
	assert_non_null(strstr(s, "<p class=\"note\">Few subjects: the "
	    "interval and p-value of story against held out are rough"));
	assert_non_null(strstr(s, "<title id=\"e0-0-t\">Conversion by group"));
	/* Three groups, three bars; each interval is a line and two
	 * whiskers; the scale ends at 50% (the highest top is 36.4%). */
	assert_non_null(strstr(s, ">50%</text>"));
	assert_int_equal(test_count(s, "class=\"conv\"/>\n<line"), 3);
	assert_non_null(strstr(s, "</html>\n"));
	free(s);
	report_free(rp);
}

/* A config by hand: journey "j" with stages "s" and "t", no rules, and
 * no plugin instance. */
static struct config *
test_config(void)
{
	struct config	*cf = xcalloc(1, sizeof *cf);
	struct journey	*j;

	cf->njourneys = 1;
	cf->journeys = j = xcalloc(1, sizeof *j);
	j->name = xstrdup("j");
	j->nstages = 2;
	j->stages = xcalloc(2, sizeof *j->stages);
	j->stages[0].name = xstrdup("s");
	j->stages[1].name = xstrdup("t");
	return cf;
}

/* Free test_config()'s config. */
static void
test_config_free(struct config *cf)
{
	free(cf->journeys[0].stages[0].name);
	free(cf->journeys[0].stages[1].name);
	free(cf->journeys[0].stages);
	free(cf->journeys[0].name);
	free(cf->journeys);
	free(cf);
}

/* On a store: the page and the metrics, printed to a memory stream. */
static void
test_entry_points(void **state)
{
	struct config	*cf = test_config();
	char		 path[] = "/tmp/jd-insight-XXXXXX", err[256];
	char		*s = NULL;
	size_t		 len = 0;
	sqlite3		*db;
	FILE		*f;
	int		 fd;

	(void)state;
	assert_true((fd = mkstemp(path)) != -1);
	close(fd);
	assert_non_null(db = store_open(path, err, sizeof err));
	assert_non_null(f = open_memstream(&s, &len));
	assert_int_equal(report_html(cf, db, 0, f, err, sizeof err), 0);
	fclose(f);
	assert_non_null(strstr(s, "<h2 id=\"j0\">j <small>(users)"));
	free(s);
	assert_non_null(f = open_memstream(&s, &len));
	assert_int_equal(metrics_print(f, db, cf, 0, err, sizeof err), 0);
	fclose(f);
	assert_non_null(strstr(s, "journeyd_subjects{journey=\"j\","
	    "stage=\"t\"} 0\n# HELP journeyd_actions_total"));
	assert_non_null(strstr(s, "journeyd_outbox_depth 0\n"));
	free(s);
	store_close(db);
	unlink(path);
	test_config_free(cf);
}

/* Without its tables (not a journeyd database): -1 and SQLite's message,
 * not an exit. */
static void
test_entry_points_fail(void **state)
{
	struct config	*cf = test_config();
	char		 err[256] = "", *s = NULL;
	size_t		 len = 0;
	sqlite3		*db;
	FILE		*f;

	(void)state;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_non_null(f = open_memstream(&s, &len));
	assert_int_equal(report_html(cf, db, 0, f, err, sizeof err), -1);
	assert_non_null(strstr(err, "no such table"));
	err[0] = '\0';
	assert_int_equal(metrics_print(f, db, cf, 0, err, sizeof err), -1);
	assert_non_null(strstr(err, "no such table"));
	fclose(f);
	free(s);
	sqlite3_close(db);
	test_config_free(cf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lift_known),
		cmocka_unit_test(test_lift_sign),
		cmocka_unit_test(test_lift_small),
		cmocka_unit_test(test_prop),
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_render_text),
		cmocka_unit_test(test_render_html),
		cmocka_unit_test(test_entry_points),
		cmocka_unit_test(test_entry_points_fail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
