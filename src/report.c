/*
 * The report (SPEC §9, §11): per journey and stage, subjects now there, how
 * many ever reached it, conversion to the next stage, the median time to it,
 * and how many are stalled; per holdout rule, treated against held-out. As
 * text, and as a self-contained HTML page with inline SVG charts.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journeyd.h"

struct report_stage {
	const char	*name;
	int64_t		 expect;
	long		 now;		/* in it now (not exited) */
	long		 reached;	/* ever reached */
	long		 next;		/* of those, reached the next stage */
	int64_t		 median;	/* median seconds to the next, -1 none */
	long		 stalled;
};

struct report_holdout {
	const char	*rule;
	const char	*next;		/* the stage counted as success */
	long		 treated, treated_next;
	long		 held, held_next;
};

/* One integer from a query with text ?1 ?2 ?3 and integer ?4. */
static int64_t
report_int(sqlite3 *db, const char *sql, const char *a, const char *b,
    const char *c, int64_t d)
{
	sqlite3_stmt	*st;
	int64_t		 v = 0;

	st = store_prepare(db, sql);
	for (int i = 1; i <= sqlite3_bind_parameter_count(st); i++) {
		const char *name = sqlite3_bind_parameter_name(st, i);
		if (name == NULL)
			continue;
		if (strcmp(name, "?1") == 0)
			sqlite3_bind_text(st, i, a, -1, SQLITE_STATIC);
		else if (strcmp(name, "?2") == 0)
			sqlite3_bind_text(st, i, b, -1, SQLITE_STATIC);
		else if (strcmp(name, "?3") == 0)
			sqlite3_bind_text(st, i, c, -1, SQLITE_STATIC);
		else if (strcmp(name, "?4") == 0)
			sqlite3_bind_int64(st, i, d);
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* First time each subject reached stage ?2 of journey ?1. */
#define REACHED(stage) \
	"SELECT subject, min(ts) AS t FROM history WHERE journey = ?1 AND " \
	"stage = " stage " AND what IN ('entered', 'moved') GROUP BY subject"

/* Fill the numbers of stage k of journey j. */
static void
report_stage(sqlite3 *db, const struct journey *j, int k, int64_t now,
    struct report_stage *rs)
{
	const char	*name = j->stages[k].name;
	const char	*next = k + 1 < j->nstages ? j->stages[k + 1].name : NULL;
	sqlite3_stmt	*st;
	long		 n;

	rs->name = name;
	rs->expect = j->stages[k].expect;
	rs->now = report_int(db, "SELECT count(*) FROM members WHERE journey "
	    "= ?1 AND stage = ?2 AND status != 2", j->name, name, NULL, 0);
	rs->reached = report_int(db, "SELECT count(*) FROM (" REACHED("?2")
	    ")", j->name, name, NULL, 0);
	rs->median = -1;
	if (rs->expect > 0)
		rs->stalled = report_int(db, "SELECT count(*) FROM members "
		    "WHERE journey = ?1 AND stage = ?2 AND status = 0 AND "
		    "stage_since < ?4", j->name, name, NULL, now - rs->expect);
	if (next == NULL)
		return;
	n = rs->next = report_int(db, "SELECT count(*) FROM (" REACHED("?2")
	    ") a JOIN (" REACHED("?3") ") b USING (subject) WHERE b.t >= a.t",
	    j->name, name, next, 0);
	if (n == 0)
		return;
	st = store_prepare(db, "SELECT b.t - a.t AS d FROM (" REACHED("?2")
	    ") a JOIN (" REACHED("?3") ") b USING (subject) WHERE b.t >= a.t "
	    "ORDER BY d LIMIT ?5 OFFSET ?4");
	sqlite3_bind_text(st, 1, j->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, next, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (n - 1) / 2);
	sqlite3_bind_int64(st, 5, n % 2 ? 1 : 2);
	{
		int64_t sum = 0;
		int rows = 0;
		while (sqlite3_step(st) == SQLITE_ROW) {
			sum += sqlite3_column_int64(st, 0);
			rows++;
		}
		rs->median = rows ? sum / rows : -1;
	}
	sqlite3_finalize(st);
}

/* Fill the treated / held-out numbers of a holdout rule. */
static void
report_holdout(sqlite3 *db, const struct journey *j, const struct rule *r,
    struct report_holdout *h)
{
	int	 at = r->nstages > 0 ? journey_stage(j, r->stages[0]) : 0;
	static const char *q = "SELECT count(DISTINCT o.subject) FROM outbox "
	    "o WHERE o.journey = ?1 AND o.rule = ?2 AND (o.status = 5 AND "
	    "o.reason = 'holdout') = ?4";
	static const char *qn = "SELECT count(DISTINCT o.subject) FROM outbox "
	    "o WHERE o.journey = ?1 AND o.rule = ?2 AND (o.status = 5 AND "
	    "o.reason = 'holdout') = ?4 AND EXISTS (SELECT 1 FROM history h "
	    "WHERE h.subject = o.subject AND h.journey = ?1 AND h.stage = ?3 "
	    "AND h.what IN ('entered', 'moved') AND h.ts >= o.created)";

	h->rule = r->name;
	h->next = at >= 0 && at + 1 < j->nstages ? j->stages[at + 1].name :
	    j->stages[j->nstages - 1].name;
	h->treated = report_int(db, q, j->name, r->name, NULL, 0);
	h->held = report_int(db, q, j->name, r->name, NULL, 1);
	h->treated_next = report_int(db, qn, j->name, r->name, h->next, 0);
	h->held_next = report_int(db, qn, j->name, r->name, h->next, 1);
}

/* A duration for people: "3d 4h", "45m", "-". */
static char *
report_age(int64_t s, char *out, size_t len)
{
	if (s < 0)
		snprintf(out, len, "-");
	else if (s >= 86400)
		snprintf(out, len, "%lldd %lldh", (long long)(s / 86400),
		    (long long)(s % 86400 / 3600));
	else if (s >= 3600)
		snprintf(out, len, "%lldh %lldm", (long long)(s / 3600),
		    (long long)(s % 3600 / 60));
	else if (s >= 60)
		snprintf(out, len, "%lldm", (long long)(s / 60));
	else
		snprintf(out, len, "%llds", (long long)s);
	return out;
}

/* The conversion as text: "62.5%" or "-". */
static char *
report_pct(long part, long whole, char *out, size_t len)
{
	if (whole <= 0)
		snprintf(out, len, "-");
	else
		snprintf(out, len, "%.1f%%", 100.0 * part / whole);
	return out;
}

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

/* The funnel chart of one journey: a bar per stage, ever reached and now. */
static void
html_funnel(FILE *f, const struct report_stage *rs, int n)
{
	long	 max = 1;
	int	 h = 34 * n + 30;

	for (int i = 0; i < n; i++)
		if (rs[i].reached > max)
			max = rs[i].reached;
	fprintf(f, "<svg role=\"img\" aria-label=\"funnel\" width=\"640\" "
	    "height=\"%d\" viewBox=\"0 0 640 %d\">\n", h, h);
	for (int i = 0; i < n; i++) {
		int y = 10 + 34 * i;
		int wr = (int)(400.0 * rs[i].reached / max);
		int wn = (int)(400.0 * rs[i].now / max);

		fprintf(f, "<text x=\"0\" y=\"%d\" class=\"l\">", y + 18);
		html_text(f, rs[i].name);
		fprintf(f, "</text>\n<rect x=\"150\" y=\"%d\" width=\"%d\" "
		    "height=\"26\" class=\"reached\"><title>ever reached: %ld"
		    "</title></rect>\n", y, wr, rs[i].reached);
		fprintf(f, "<rect x=\"150\" y=\"%d\" width=\"%d\" height=\"26\" "
		    "class=\"now\"><title>now: %ld</title></rect>\n", y + 6, wn,
		    rs[i].now);
		fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"v\">%ld reached, "
		    "%ld now</text>\n", 156 + wr, y + 18, rs[i].reached,
		    rs[i].now);
	}
	fprintf(f, "</svg>\n");
}

/* The time-in-stage chart: median time from each stage to the next. */
static void
html_times(FILE *f, const struct report_stage *rs, int n)
{
	int64_t	 max = 1;
	int	 h = 34 * n + 30;
	char	 age[32];

	for (int i = 0; i < n; i++)
		if (rs[i].median > max)
			max = rs[i].median;
	fprintf(f, "<svg role=\"img\" aria-label=\"median time to the next "
	    "stage\" width=\"640\" height=\"%d\" viewBox=\"0 0 640 %d\">\n",
	    h, h);
	for (int i = 0; i < n; i++) {
		int y = 10 + 34 * i;
		int w = rs[i].median > 0 ? (int)(400.0 * rs[i].median / max) :
		    0;

		fprintf(f, "<text x=\"0\" y=\"%d\" class=\"l\">", y + 18);
		html_text(f, rs[i].name);
		fprintf(f, "</text>\n<rect x=\"150\" y=\"%d\" width=\"%d\" "
		    "height=\"26\" class=\"time\"/>\n", y, w);
		fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"v\">%s</text>\n",
		    156 + w, y + 18, report_age(rs[i].median, age, sizeof age));
	}
	fprintf(f, "</svg>\n");
}

/* Write the report as text to out, and as HTML to html when set. */
int
report_run(const struct config *cf, sqlite3 *db, int64_t now,
    const char *html_path, FILE *out)
{
	FILE	*html = NULL;
	char	 a[32], b[32], when[32], *tmp = NULL;

	if (html_path != NULL) {
		tmp = xprintf("%s.tmp", html_path);
		if ((html = fopen(tmp, "w")) == NULL) {
			fprintf(stderr, "journeyctl: %s: %s\n", tmp,
			    strerror(errno));
			free(tmp);
			return -1;
		}
		fprintf(html, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
		    "charset=\"utf-8\"><title>journeyd report</title>\n<style>"
		    "body{font-family:sans-serif;margin:2em;color:#222}"
		    "table{border-collapse:collapse;margin:1em 0}"
		    "td,th{border:1px solid #ccc;padding:4px 10px;"
		    "text-align:right}td:first-child,th:first-child{"
		    "text-align:left}.l{font-size:13px}.v{font-size:12px;"
		    "fill:#444}.reached{fill:#9ecae1}.now{fill:#3182bd}"
		    ".time{fill:#fdae6b}</style></head><body>\n"
		    "<h1>journeyd report</h1>\n<p>at %s</p>\n",
		    time_format(now, when, sizeof when));
	}
	for (int i = 0; i < cf->njourneys; i++) {
		const struct journey	*j = &cf->journeys[i];
		struct report_stage	*rs;

		rs = xcalloc(j->nstages, sizeof *rs);
		for (int k = 0; k < j->nstages; k++)
			report_stage(db, j, k, now, &rs[k]);
		fprintf(out, "journey %s (%s)\n", j->name, j->subject ==
		    SUBJECT_ACCOUNT ? "accounts" : "users");
		fprintf(out, "  %-18s %8s %8s %9s %10s %8s\n", "stage", "now",
		    "reached", "to next", "median", "stalled");
		if (html != NULL) {
			fprintf(html, "<h2>");
			html_text(html, j->name);
			fprintf(html, " <small>(%s)</small></h2>\n<table><tr>"
			    "<th>stage</th><th>now</th><th>reached</th>"
			    "<th>to next</th><th>median time to next</th>"
			    "<th>stalled</th></tr>\n", j->subject ==
			    SUBJECT_ACCOUNT ? "accounts" : "users");
		}
		for (int k = 0; k < j->nstages; k++) {
			const char *pct = k + 1 < j->nstages ?
			    report_pct(rs[k].next, rs[k].reached, a, sizeof a) :
			    "-";
			char stalled[32];

			if (rs[k].expect > 0)
				snprintf(stalled, sizeof stalled, "%ld",
				    rs[k].stalled);
			else
				snprintf(stalled, sizeof stalled, "-");
			fprintf(out, "  %-18s %8ld %8ld %9s %10s %8s\n",
			    rs[k].name, rs[k].now, rs[k].reached, pct,
			    report_age(rs[k].median, b, sizeof b), stalled);
			if (html != NULL) {
				fprintf(html, "<tr><td>");
				html_text(html, rs[k].name);
				fprintf(html, "</td><td>%ld</td><td>%ld</td>"
				    "<td>%s</td><td>%s</td><td>%s</td></tr>\n",
				    rs[k].now, rs[k].reached, pct, b, stalled);
			}
		}
		if (html != NULL) {
			fprintf(html, "</table>\n<h3>Funnel</h3>\n");
			html_funnel(html, rs, j->nstages);
			fprintf(html, "<h3>Median time to the next stage</h3>\n");
			html_times(html, rs, j->nstages);
		}
		for (int k = 0; k < j->nrules; k++) {
			struct report_holdout h;

			if (j->rules[k].holdout <= 0)
				continue;
			report_holdout(db, j, &j->rules[k], &h);
			fprintf(out, "  holdout %s (%d%%): treated %ld, reached "
			    "%s %ld (%s); held out %ld, reached %ld (%s)\n",
			    h.rule, j->rules[k].holdout, h.treated, h.next,
			    h.treated_next, report_pct(h.treated_next,
			    h.treated, a, sizeof a), h.held, h.held_next,
			    report_pct(h.held_next, h.held, b, sizeof b));
			if (html != NULL) {
				fprintf(html, "<p>Holdout <b>");
				html_text(html, h.rule);
				fprintf(html, "</b> (%d%%): treated %ld, reached "
				    "%s %ld (%s); held out %ld, reached %ld "
				    "(%s)</p>\n", j->rules[k].holdout,
				    h.treated, h.next, h.treated_next, a,
				    h.held, h.held_next, b);
			}
		}
		free(rs);
	}
	if (html != NULL) {
		fprintf(html, "</body></html>\n");
		if (fclose(html) != 0 || rename(tmp, html_path) != 0) {
			fprintf(stderr, "journeyctl: %s: %s\n", html_path,
			    strerror(errno));
			unlink(tmp);
			free(tmp);
			return -1;
		}
		free(tmp);
	}
	return 0;
}
