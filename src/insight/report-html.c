/*
 * The report as a self-contained HTML page (journeyctl report --html, and
 * GET /report): per journey a table of its stages, an inline SVG funnel
 * and a chart of the median time to the next stage with each stage's
 * expect marked; per rule with a holdout a table of its groups and a chart
 * of each group's conversion with its 95% interval. No script, no external
 * asset: it opens in any browser, or attached to a mail. Each chart has a
 * title and a text description for screen readers.
 */
#include "config.h"

#include "insight/insight-int.h"

/* Write text with <, >, & and quotes escaped for HTML. */
static void
html_text(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f); break;
		}
	}
}

/* Chart geometry: a label column, then bars, then room for the values. */
#define CHART_W		840
#define CHART_LABEL	170
#define CHART_BARS	400
#define CHART_ROW	40
#define CHART_BAR	26

/* The funnel of one journey: per stage, a bar for ever reached and, inside
 * it, one for now there; the conversion to the next stage between rows. */
static void
html_funnel(FILE *f, int id, const struct report_stage *rs, int n)
{
	long	 max = 1;
	int	 h = CHART_ROW * n + 34;
	char	 pct[32];

	for (int i = 0; i < n; i++)
		if (rs[i].reached > max)
			max = rs[i].reached;
	fprintf(f, "<svg class=\"chart\" role=\"img\" aria-labelledby=\"f%d-t "
	    "f%d-d\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\">\n"
	    "<title id=\"f%d-t\">Funnel</title>\n<desc id=\"f%d-d\">", id, id,
	    CHART_W, h, CHART_W, h, id, id);
	for (int i = 0; i < n; i++) {
		html_text(f, rs[i].name);
		fprintf(f, ": %ld reached, %ld now%s", rs[i].reached,
		    rs[i].now, i + 1 < n ? "; " : ".");
	}
	fprintf(f, "</desc>\n");
	/* The legend, in words as well as colours. */
	fprintf(f, "<rect x=\"%d\" y=\"4\" width=\"14\" height=\"14\" "
	    "class=\"reached\"/><text x=\"%d\" y=\"16\" class=\"v\">ever "
	    "reached</text><rect x=\"%d\" y=\"4\" width=\"14\" height=\"14\" "
	    "class=\"now\"/><text x=\"%d\" y=\"16\" class=\"v\">there now"
	    "</text>\n", CHART_LABEL, CHART_LABEL + 20, CHART_LABEL + 130,
	    CHART_LABEL + 150);
	for (int i = 0; i < n; i++) {
		int y = 30 + CHART_ROW * i;
		int wr = (int)((double)CHART_BARS * rs[i].reached / max + 0.5);
		int wn = (int)((double)CHART_BARS * rs[i].now / max + 0.5);

		fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"l\" text-anchor="
		    "\"end\">", CHART_LABEL - 10, y + 18);
		html_text(f, rs[i].name);
		fprintf(f, "</text>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" "
		    "height=\"%d\" rx=\"3\" class=\"reached\"/>\n", CHART_LABEL,
		    y, wr > 0 ? wr : 1, CHART_BAR);
		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
		    "rx=\"2\" class=\"now\"/>\n", CHART_LABEL, y + 7, wn,
		    CHART_BAR - 14);
		fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"v\">%ld reached, "
		    "%ld now", CHART_LABEL + wr + 8, y + 18, rs[i].reached,
		    rs[i].now);
		if (i + 1 < n && rs[i].reached > 0)
			fprintf(f, " \xe2\x86\x92 %s on",
			    report_pct(rs[i].next, rs[i].reached, pct,
			    sizeof pct));
		fprintf(f, "</text>\n");
	}
	fprintf(f, "</svg>\n");
}

/* The time-in-stage chart: median time from each stage to a later one,
 * with the stage's expect marked. */
static void
html_times(FILE *f, int id, const struct report_stage *rs, int n)
{
	int64_t	 max = 1;
	int	 h = CHART_ROW * (n - 1) + 34;
	char	 age[32];

	for (int i = 0; i + 1 < n; i++) {
		if (rs[i].median > max)
			max = rs[i].median;
		if (rs[i].expect > max)
			max = rs[i].expect;
	}
	fprintf(f, "<svg class=\"chart\" role=\"img\" aria-labelledby=\"t%d-t "
	    "t%d-d\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\">\n"
	    "<title id=\"t%d-t\">Median time to the next stage</title>\n"
	    "<desc id=\"t%d-d\">", id, id, CHART_W, h, CHART_W, h, id, id);
	for (int i = 0; i + 1 < n; i++) {
		html_text(f, rs[i].name);
		fprintf(f, ": %s", report_age(rs[i].median, age, sizeof age));
		if (rs[i].expect > 0)
			fprintf(f, " (expected within %s)", report_age(
			    rs[i].expect, age, sizeof age));
		fprintf(f, "%s", i + 2 < n ? "; " : ".");
	}
	fprintf(f, "</desc>\n<rect x=\"%d\" y=\"4\" width=\"14\" height=\"14\" "
	    "class=\"time\"/><text x=\"%d\" y=\"16\" class=\"v\">median</text>"
	    "<line x1=\"%d\" y1=\"4\" x2=\"%d\" y2=\"18\" class=\"expect\"/>"
	    "<text x=\"%d\" y=\"16\" class=\"v\">expect</text>\n",
	    CHART_LABEL, CHART_LABEL + 20, CHART_LABEL + 110, CHART_LABEL + 110,
	    CHART_LABEL + 118);
	for (int i = 0; i + 1 < n; i++) {
		int y = 30 + CHART_ROW * i;
		int w = rs[i].median > 0 ? (int)((double)CHART_BARS *
		    rs[i].median / max + 0.5) : 0;

		fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"l\" text-anchor="
		    "\"end\">", CHART_LABEL - 10, y + 18);
		html_text(f, rs[i].name);
		fprintf(f, "</text>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" "
		    "height=\"%d\" rx=\"3\" class=\"time\"/>\n", CHART_LABEL, y,
		    w, CHART_BAR);
		if (rs[i].expect > 0) {
			int x = CHART_LABEL + (int)((double)CHART_BARS *
			    rs[i].expect / max + 0.5);
			fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
			    "class=\"expect\"/>\n", x, y - 3, x, y +
			    CHART_BAR + 3);
			if (x > CHART_LABEL + w)
				w = x - CHART_LABEL;
		}
		fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"v\">%s",
		    CHART_LABEL + w + 8, y + 18, rs[i].median < 0 ?
		    "nobody moved on yet" : report_age(rs[i].median, age,
		    sizeof age));
		if (rs[i].expect > 0)
			fprintf(f, " (expect %s)", report_age(rs[i].expect,
			    age, sizeof age));
		fprintf(f, "</text>\n");
	}
	fprintf(f, "</svg>\n");
}

static const char report_css[] =
	":root{color-scheme:light;--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;"
	"--bg:#fff;--card:#f6f8fa;--reached:#a8c8ec;--now:#0b5cad;"
	"--time:#c05a00;--expect:#1b1f24;--conv:#2a7f62;--ci:#1b1f24}"
	"*{box-sizing:border-box}"
	"body{font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,"
	"'Helvetica Neue',Arial,sans-serif;color:var(--fg);background:var(--bg);"
	"margin:0}"
	"main{max-width:1100px;margin:0 auto;padding:2rem 1.5rem 4rem}"
	"header{border-bottom:3px solid var(--now);margin-bottom:1.5rem}"
	"h1{font-size:1.8rem;margin:0 0 .25rem}"
	".meta{color:var(--muted);margin:0 0 1rem}"
	"section{background:var(--card);border:1px solid var(--line);"
	"border-radius:8px;padding:1rem 1.5rem 1.5rem;margin:0 0 2rem}"
	"h2{font-size:1.4rem;margin:.5rem 0}"
	"h2 small{font-weight:normal;color:var(--muted);font-size:1rem}"
	"h3{font-size:1.1rem;margin:1.5rem 0 .5rem}"
	"table{border-collapse:collapse;width:100%;background:var(--bg);"
	"font-variant-numeric:tabular-nums}"
	"caption{text-align:left;color:var(--muted);padding:.25rem 0}"
	"th,td{border-bottom:1px solid var(--line);padding:.4rem .75rem;"
	"text-align:right}"
	"th:first-child,td:first-child,td.g,th.g{text-align:left}"
	"thead th{border-bottom:2px solid var(--fg);font-weight:600}"
	"tbody th{font-weight:600}"
	".chart{display:block;max-width:100%;height:auto;background:var(--bg);"
	"border:1px solid var(--line);border-radius:6px;padding:.5rem}"
	".l{font-size:14px;fill:var(--fg);font-weight:600}"
	".v{font-size:13px;fill:var(--muted)}"
	".reached{fill:var(--reached)}.now{fill:var(--now)}"
	".time{fill:var(--time)}"
	".expect{stroke:var(--expect);stroke-width:2;stroke-dasharray:4 3}"
	".conv{fill:var(--conv)}.ci{stroke:var(--ci);stroke-width:2}"
	".axis{stroke:var(--line);stroke-width:1}"
	".note{color:var(--muted);margin:.5rem 0}"
	".warn{color:#a40e26;font-weight:600}"
	"footer{color:var(--muted);font-size:.9rem}";


/* The head of the page, up to its header. */
static void
html_head(FILE *f, const struct report *rp)
{
	char	 when[32];

	time_format(rp->now, when, sizeof when);
	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n<meta name=\"viewport\" "
	    "content=\"width=device-width, initial-scale=1\">\n"
	    "<title>journeyd report, %s</title>\n<style>%s</style>\n"
	    "</head>\n<body>\n<main>\n<header>\n<h1>journeyd report"
	    "</h1>\n<p class=\"meta\">At <time datetime=\"%s\">%s"
	    "</time> &middot; %d journey%s</p>\n</header>\n", when,
	    report_css, when, when, rp->njourneys,
	    rp->njourneys == 1 ? "" : "s");
}

/* The table of a journey's stages. */
static void
html_stages(FILE *f, const struct report_journey *rj)
{
	char	 pct[32], age[32], expect[32];

	fprintf(f, "<table>\n<caption>Stages, in order. <em>To next</em>: of "
	    "those who reached a stage, the share who went on to a later one."
	    "</caption>\n<thead><tr><th scope=\"col\">Stage</th><th scope="
	    "\"col\">Now</th><th scope=\"col\">Ever reached</th><th scope="
	    "\"col\">To next</th><th scope=\"col\">Median time to next</th>"
	    "<th scope=\"col\">Stalled</th></tr></thead>\n<tbody>\n");
	for (int k = 0; k < rj->nstages; k++) {
		const struct report_stage *rs = &rj->stages[k];

		fprintf(f, "<tr><th scope=\"row\">");
		html_text(f, rs->name);
		fprintf(f, "</th><td>%ld</td><td>%ld</td><td>%s</td><td>%s"
		    "</td>", rs->now, rs->reached, k + 1 < rj->nstages ?
		    report_pct(rs->next, rs->reached, pct, sizeof pct) : "-",
		    report_age(rs->median, age, sizeof age));
		if (rs->expect > 0)
			fprintf(f, "<td%s>%ld <small>(over %s)</small></td>"
			    "</tr>\n", rs->stalled > 0 ? " class=\"warn\"" : "",
			    rs->stalled, report_age(rs->expect, expect,
			    sizeof expect));
		else
			fprintf(f, "<td>-</td></tr>\n");
	}
	fprintf(f, "</tbody>\n</table>\n");
}

/* A conversion with its interval: "40.0% (33.2–46.8%)", or "-". */
static const char *
html_conv(const struct stats_prop *sp, char *out, size_t len)
{
	if (!sp->known)
		snprintf(out, len, "-");
	else
		snprintf(out, len, "%.1f%% (%.1f\xe2\x80\x93%.1f%%)",
		    100 * sp->p, 100 * sp->lo, 100 * sp->hi);
	return out;
}

/* A group's row of an experiment's table. */
static void
html_group(FILE *f, const struct report_experiment *ex, int i)
{
	const struct report_group	*g = &ex->groups[i];
	char				 conv[64], d[32], lo[32], hi[32];
	char				 p[32];

	fprintf(f, "<tr><th scope=\"row\">");
	html_text(f, g->name);
	fprintf(f, "</th><td>%ld</td><td>%ld</td><td>%s</td>", g->subjects,
	    g->reached, html_conv(&g->conv, conv, sizeof conv));
	if (i == ex->ref)
		fprintf(f, "<td class=\"g\" colspan=\"3\">reference</td>"
		    "</tr>\n");
	else if (g->lift.verdict == STATS_EMPTY)
		fprintf(f, "<td>-</td><td>-</td><td>-</td></tr>\n");
	else
		fprintf(f, "<td>%s</td><td>%s to %s</td><td>%s</td></tr>\n",
		    report_pp(g->lift.diff, d, sizeof d),
		    report_pp(g->lift.lo, lo, sizeof lo),
		    report_pp(g->lift.hi, hi, sizeof hi),
		    g->lift.verdict == STATS_NOVAR ? "-" :
		    report_pvalue(g->lift.pvalue, p, sizeof p));
}

/* An experiment's table: a row per group, then a sentence for each group
 * whose lift is missing or rough. */
static void
html_experiment_table(FILE *f, const struct report_experiment *ex)
{
	char	 why[256];

	fprintf(f, "<table>\n<caption>Each subject counts once, in the group "
	    "of its first action of the rule; <em>reached</em>: went on to a "
	    "later stage after it. Lift: the difference in conversion against "
	    "the %s group, in percentage points, with its 95%% confidence "
	    "interval (Wald) and the two-sided p-value of the pooled "
	    "two-proportion z-test.</caption>\n<thead><tr><th scope=\"col\">"
	    "Group</th><th scope=\"col\">Subjects</th><th scope=\"col\">"
	    "Reached the next stage</th><th scope=\"col\">Conversion (95%% CI)"
	    "</th><th scope=\"col\">Lift (pp)</th><th scope=\"col\">95%% CI "
	    "(pp)</th><th scope=\"col\">p-value</th></tr></thead>\n<tbody>\n",
	    ex->groups[ex->ref].name);
	for (int i = 0; i < ex->ngroups; i++)
		html_group(f, ex, i);
	fprintf(f, "</tbody>\n</table>\n");
	for (int i = 0; i < ex->ngroups; i++)
		if (i != ex->ref && report_verdict(ex, &ex->groups[i], why,
		    sizeof why) != NULL) {
			fprintf(f, "<p class=\"note\">");
			html_text(f, why);
			fprintf(f, "</p>\n");
		}
}

/* The top of the conversion chart's scale: the smallest of a few round
 * fractions at or above every interval's top. */
static double
html_scale(const struct report_experiment *ex)
{
	static const double	 tops[] = { .05, .1, .2, .25, .5, 1 };
	double			 hi = 0;

	for (int i = 0; i < ex->ngroups; i++)
		if (ex->groups[i].conv.known && ex->groups[i].conv.hi > hi)
			hi = ex->groups[i].conv.hi;
	for (size_t k = 0; k < sizeof tops / sizeof tops[0]; k++)
		if (hi <= tops[k])
			return tops[k];
	return 1;
}

/* One group's row of the conversion chart at y: a bar to its conversion,
 * a line with whiskers across its interval, and the numbers. */
static void
html_conv_row(FILE *f, const struct report_group *g, int y, double top)
{
	const struct stats_prop	*sp = &g->conv;
	char			 conv[64];
	int			 w, lo, hi;

	fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"l\" text-anchor=\"end\">",
	    CHART_LABEL - 10, y + 18);
	html_text(f, g->name);
	fprintf(f, "</text>\n");
	if (!sp->known) {
		fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"v\">no subjects"
		    "</text>\n", CHART_LABEL + 8, y + 18);
		return;
	}
	w = (int)(CHART_BARS * sp->p / top + 0.5);
	lo = CHART_LABEL + (int)(CHART_BARS * sp->lo / top + 0.5);
	hi = CHART_LABEL + (int)(CHART_BARS * sp->hi / top + 0.5);
	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
	    "rx=\"3\" class=\"conv\"/>\n<line x1=\"%d\" y1=\"%d\" x2=\"%d\" "
	    "y2=\"%d\" class=\"ci\"/><line x1=\"%d\" y1=\"%d\" x2=\"%d\" "
	    "y2=\"%d\" class=\"ci\"/><line x1=\"%d\" y1=\"%d\" x2=\"%d\" "
	    "y2=\"%d\" class=\"ci\"/>\n", CHART_LABEL, y + 4, w, CHART_BAR - 8,
	    lo, y + 13, hi, y + 13, lo, y + 5, lo, y + 21, hi, y + 5, hi,
	    y + 21);
	fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"v\">%s</text>\n",
	    (hi > CHART_LABEL + w ? hi : CHART_LABEL + w) + 8, y + 18,
	    html_conv(sp, conv, sizeof conv));
}

/* The conversion chart of an experiment: per group, its conversion and
 * its 95% interval, on a scale from 0 to html_scale(). */
static void
html_experiment_chart(FILE *f, const char *id,
    const struct report_experiment *ex)
{
	double	 top = html_scale(ex);
	int	 h = CHART_ROW * ex->ngroups + 56, axis = h - 22;
	char	 conv[64];

	fprintf(f, "<svg class=\"chart\" role=\"img\" aria-labelledby=\"%s-t "
	    "%s-d\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\">\n"
	    "<title id=\"%s-t\">Conversion by group, with 95%% intervals"
	    "</title>\n<desc id=\"%s-d\">", id, id, CHART_W, h, CHART_W, h, id,
	    id);
	for (int i = 0; i < ex->ngroups; i++) {
		html_text(f, ex->groups[i].name);
		fprintf(f, ": %s%s", html_conv(&ex->groups[i].conv, conv,
		    sizeof conv), i + 1 < ex->ngroups ? "; " : ".");
	}
	fprintf(f, "</desc>\n<rect x=\"%d\" y=\"4\" width=\"14\" height=\"14\" "
	    "class=\"conv\"/><text x=\"%d\" y=\"16\" class=\"v\">conversion"
	    "</text><line x1=\"%d\" y1=\"11\" x2=\"%d\" y2=\"11\" "
	    "class=\"ci\"/><text x=\"%d\" y=\"16\" class=\"v\">95%% interval"
	    "</text>\n",
	    CHART_LABEL, CHART_LABEL + 20, CHART_LABEL + 120, CHART_LABEL + 140,
	    CHART_LABEL + 146);
	for (int i = 0; i < ex->ngroups; i++)
		html_conv_row(f, &ex->groups[i], 30 + CHART_ROW * i, top);
	fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
	    "class=\"axis\"/><text x=\"%d\" y=\"%d\" class=\"v\" "
	    "text-anchor=\"middle\">0%%</text><text x=\"%d\" y=\"%d\" "
	    "class=\"v\" text-anchor=\"middle\">%g%%</text>\n</svg>\n", CHART_LABEL, axis, CHART_LABEL +
	    CHART_BARS, axis, CHART_LABEL, axis + 16, CHART_LABEL + CHART_BARS,
	    axis + 16, 100 * top);
}

/* A journey's section: its stages, its charts, its experiments. */
static void
html_journey(FILE *f, const struct report_journey *rj, int i)
{
	char	 id[32];

	fprintf(f, "<section aria-labelledby=\"j%d\">\n<h2 id=\"j%d\">", i, i);
	html_text(f, rj->name);
	fprintf(f, " <small>(%s)</small></h2>\n", rj->subject ==
	    SUBJECT_ACCOUNT ? "accounts" : "users");
	html_stages(f, rj);
	fprintf(f, "<h3>Funnel</h3>\n");
	html_funnel(f, i, rj->stages, rj->nstages);
	if (rj->nstages > 1) {
		fprintf(f, "<h3>Median time to the next stage</h3>\n");
		html_times(f, i, rj->stages, rj->nstages);
	}
	for (int k = 0; k < rj->nexperiments; k++) {
		const struct report_experiment *ex = &rj->experiments[k];

		fprintf(f, "<h3>Experiment: rule ");
		html_text(f, ex->rule);
		if (ex->holdout > 0)
			fprintf(f, " <small>(%d%% held out)</small></h3>\n",
			    ex->holdout);
		else
			fprintf(f, " <small>(no holdout: against the first "
			    "variant)</small></h3>\n");
		html_experiment_table(f, ex);
		snprintf(id, sizeof id, "e%d-%d", i, k);
		html_experiment_chart(f, id, ex);
	}
	fprintf(f, "</section>\n");
}

/* Render the whole report as an HTML page. */
int
report_render_html(const struct report *rp, FILE *f)
{
	html_head(f, rp);
	for (int i = 0; i < rp->njourneys; i++)
		html_journey(f, &rp->journeys[i], i);
	fprintf(f, "<footer><p>Made by <code>journeyctl report</code>. "
	    "<em>Stalled</em>: there longer than the stage's <code>expect"
	    "</code>.</p></footer>\n</main>\n</body>\n</html>\n");
	return ferror(f) ? -1 : 0;
}
