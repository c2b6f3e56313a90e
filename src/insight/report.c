/*
 * The report (SPEC §9, §11): per journey and stage, subjects now there, how
 * many ever reached it, conversion to the next stage, the median time to it,
 * and how many are stalled; per holdout rule, treated against held-out. As
 * text, and as a self-contained HTML page with inline SVG charts (no script,
 * no external asset).
 *
 * Definitions, all from the history:
 * - reached: subjects with an 'entered' or 'moved' entry at the stage;
 * - to next: of those, the ones who later (after first reaching it) reached
 *   any later stage of the journey (a goto may skip a stage);
 * - median: of the time between first reaching the stage and then first
 *   reaching a later one, over those who did;
 * - stalled: subjects now at the stage (not exited) for longer than its
 *   expect, as the rule language's `stalled` says;
 * - holdout: each subject with an action row of the rule is counted once,
 *   by its first row: held out (held, reason 'holdout') or treated (queued,
 *   whatever became of the action: sent, capped or failed); success is
 *   reaching a stage later than the one the action was queued at, after it
 *   was queued.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "insight/insight.h"

struct report_stage {
	const char	*name;
	int64_t		 expect;
	long		 now;		/* in it now (not exited) */
	long		 reached;	/* ever reached */
	long		 next;		/* of those, reached a later stage */
	int64_t		 median;	/* median seconds to it, -1 none */
	long		 stalled;
};

struct report_holdout {
	const struct rule *rule;
	long		 treated, treated_next;
	long		 held, held_next;
};

/* Order two durations. */
static int
report_cmp(const void *a, const void *b)
{
	int64_t	 x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The stages of a journey as a JSON array (names are plain). */
static char *
report_stage_list(const struct journey *j)
{
	struct buf	 b;

	buf_init(&b);
	buf_puts(&b, "[");
	for (int k = 0; k < j->nstages; k++)
		buf_printf(&b, "%s\"%s\"", k ? "," : "", j->stages[k].name);
	buf_puts(&b, "]");
	return buf_steal(&b);
}

/* Times to the next stage, per stage, for the median. */
struct report_times {
	int64_t		*v;
	size_t		 n, cap;
};

/* One entry or move of a subject: its order, time and stage. */
struct report_row {
	int64_t		 hid;
	int		 part;		/* of history_steps */
	int64_t		 ts;
	int		 idx;
};

/* Order two rows by hid and part. */
static int
report_row_cmp(const void *a, const void *b)
{
	const struct report_row	*x = a, *y = b;

	if (x->hid != y->hid)
		return x->hid < y->hid ? -1 : 1;
	return x->part - y->part;
}

/*
 * Count one subject from its entries and moves: for each stage k it
 * reached, its first reach (the first row at k), whether it later reached
 * a later stage, and the earliest time it did. first and next are scratch
 * arrays of nstages.
 */
static void
report_subject(int nstages, struct report_row *rows, size_t nrows,
    const struct report_row **first, int64_t *next, struct report_stage *rs,
    struct report_times *tm)
{
	for (size_t i = 1; i < nrows; i++)
		if (report_row_cmp(&rows[i], &rows[i - 1]) < 0) {
			qsort(rows, nrows, sizeof *rows, report_row_cmp);
			break;
		}
	for (int k = 0; k < nstages; k++) {
		first[k] = NULL;
		next[k] = INT64_MAX;
	}
	for (size_t i = 0; i < nrows; i++) {
		const struct report_row *r = &rows[i];

		for (int k = 0; k < r->idx; k++)
			if (first[k] != NULL && r->ts < next[k])
				next[k] = r->ts;
		if (first[r->idx] == NULL)
			first[r->idx] = r;
	}
	for (int k = 0; k < nstages; k++) {
		if (first[k] == NULL)
			continue;
		rs[k].reached++;
		if (next[k] == INT64_MAX)
			continue;
		rs[k].next++;
		if (tm[k].n == tm[k].cap) {
			tm[k].cap = tm[k].cap ? tm[k].cap * 2 : 64;
			tm[k].v = xreallocarray(tm[k].v, tm[k].cap,
			    sizeof *tm[k].v);
		}
		tm[k].v[tm[k].n++] = next[k] - first[k]->ts;
	}
}

/*
 * Fill the numbers of every stage of journey j. Now and stalled from
 * members; reached, to next and the median from one pass over the
 * journey's entries and moves, subject by subject in the order they
 * happened: a stage's first reach (its first row), and the earliest time
 * of a later row at a later stage.
 */
static void
report_stages(sqlite3 *db, const struct journey *j, int64_t now,
    struct report_stage *rs)
{
	sqlite3_stmt		*st;
	struct report_times	*tm;
	struct report_row	*rows = NULL;
	const struct report_row	**first;
	int64_t			*next, cur = -1;
	size_t			 nrows = 0, cap = 0;
	int			 n = j->nstages;

	tm = xcalloc(n, sizeof *tm);
	first = xcalloc(n, sizeof *first);
	next = xcalloc(n, sizeof *next);

	/* Now and stalled: one pass over the journey's members (stalled
	 * only where the stage has an expect). */
	for (int k = 0; k < n; k++) {
		memset(&rs[k], 0, sizeof rs[k]);
		rs[k].name = j->stages[k].name;
		rs[k].expect = j->stages[k].expect;
		rs[k].median = -1;
	}
	st = store_prepare(db, "SELECT stage, count(*), stage_since FROM "
	    "members WHERE journey = ?1 AND status IN (?2, ?3) GROUP BY "
	    "stage, stage_since");
	sqlite3_bind_text(st, 1, j->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, MEMBER_ACTIVE);
	sqlite3_bind_int(st, 3, MEMBER_COMPLETED);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int k = journey_stage(j, (const char *)sqlite3_column_text(st,
		    0));
		int64_t c = sqlite3_column_int64(st, 1);

		if (k < 0)
			continue;
		rs[k].now += c;
		if (rs[k].expect > 0 &&
		    sqlite3_column_int64(st, 2) < now - rs[k].expect)
			rs[k].stalled += c;
	}
	sqlite3_finalize(st);

	/* Every subject that was ever in the journey has its row in
	 * members: read subject by subject (members in its key's order), its
	 * entries and moves found by (subject, hid); an entry's row may hold
	 * the move right after it (moved_to: history_steps). */
	st = store_prepare(db, "SELECT m.subject, h.hid, h.ts, h.stage, "
	    "h.moved_to FROM members m CROSS JOIN history h ON h.subject = "
	    "m.subject WHERE "
	    "m.journey = ?1 AND h.journey = ?1 AND h.what IN ('entered', "
	    "'moved') ORDER BY m.subject");
	sqlite3_bind_text(st, 1, j->name, -1, SQLITE_STATIC);
	for (;;) {
		int	 more = sqlite3_step(st) == SQLITE_ROW, idx = -1;
		int64_t	 sid = more ? sqlite3_column_int64(st, 0) : -1;
		const char *stage;

		if (!more || sid != cur) {
			if (nrows > 0)
				report_subject(n, rows, nrows, first, next, rs,
				    tm);
			nrows = 0;
			if (!more)
				break;
			cur = sid;
		}
		for (int part = 0; part < 2; part++) {
			stage = (const char *)sqlite3_column_text(st, 3 + part);
			idx = -1;
			for (int k = 0; k < n && stage != NULL; k++)
				if (strcmp(j->stages[k].name, stage) == 0)
					idx = k;
			if (idx < 0)
				continue;
			if (nrows == cap) {
				cap = cap ? cap * 2 : 16;
				rows = xreallocarray(rows, cap, sizeof *rows);
			}
			rows[nrows].hid = sqlite3_column_int64(st, 1);
			rows[nrows].part = part;
			rows[nrows].ts = sqlite3_column_int64(st, 2);
			rows[nrows++].idx = idx;
		}
	}
	sqlite3_finalize(st);
	free(rows);

	for (int k = 0; k < n; k++) {
		size_t nt = tm[k].n;

		if (nt > 0) {
			qsort(tm[k].v, nt, sizeof *tm[k].v, report_cmp);
			rs[k].median = nt % 2 ? tm[k].v[nt / 2] :
			    (tm[k].v[nt / 2 - 1] + tm[k].v[nt / 2]) / 2;
		}
		free(tm[k].v);
	}
	free(tm);
	free(first);
	free(next);
}

/* Fill the treated / held-out numbers of a holdout rule. */
static void
report_holdout(sqlite3 *db, const struct journey *j, const char *stages,
    const struct rule *r, struct report_holdout *h)
{
	sqlite3_stmt	*st;

	memset(h, 0, sizeof *h);
	h->rule = r;
	st = store_prepare(db, "WITH st(name, idx) AS (SELECT value, key FROM "
	    "json_each(?2)), o AS (SELECT subject, min(aid) AS aid, status, "
	    "reason, stage FROM outbox WHERE journey = ?1 AND rule = ?3 GROUP "
	    "BY subject) SELECT coalesce(o.status = ?4 AND o.reason = "
	    "'holdout', 0) AS out, count(*), sum(EXISTS (SELECT 1 FROM history "
	    "h JOIN st ON st.name IN (h.stage, h.moved_to) WHERE h.subject = "
	    "o.subject AND "
	    "h.journey = ?1 AND h.what IN ('entered', 'moved') AND st.idx > "
	    "coalesce((SELECT idx FROM st WHERE name = o.stage), -1) AND "
	    "h.hid > (SELECT coalesce(max(x.hid), 0) FROM history x WHERE "
	    "x.subject = o.subject AND x.action = o.aid))) FROM o GROUP BY out");
	sqlite3_bind_text(st, 1, j->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, stages, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, OUTBOX_HELD);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (sqlite3_column_int(st, 0)) {
			h->held = sqlite3_column_int64(st, 1);
			h->held_next = sqlite3_column_int64(st, 2);
		} else {
			h->treated = sqlite3_column_int64(st, 1);
			h->treated_next = sqlite3_column_int64(st, 2);
		}
	}
	sqlite3_finalize(st);
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
	"--time:#c05a00;--expect:#1b1f24}"
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
	".warn{color:#a40e26;font-weight:600}"
	"footer{color:var(--muted);font-size:.9rem}";

/* Write the report as text to out and as an HTML page to html, each when
 * not NULL. */
void
report_write(const struct config *cf, sqlite3 *db, int64_t now, FILE *out,
    FILE *html)
{
	char	 a[32], b[32], c[32], when[32];

	time_format(now, when, sizeof when);
	if (html != NULL)
		fprintf(html, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
		    "<meta charset=\"utf-8\">\n<meta name=\"viewport\" "
		    "content=\"width=device-width, initial-scale=1\">\n"
		    "<title>journeyd report, %s</title>\n<style>%s</style>\n"
		    "</head>\n<body>\n<main>\n<header>\n<h1>journeyd report"
		    "</h1>\n<p class=\"meta\">At <time datetime=\"%s\">%s"
		    "</time> &middot; %d journey%s</p>\n</header>\n", when,
		    report_css, when, when, cf->njourneys,
		    cf->njourneys == 1 ? "" : "s");
	if (out != NULL)
		fprintf(out, "report at %s\n", when);
	for (int i = 0; i < cf->njourneys; i++) {
		const struct journey	*j = &cf->journeys[i];
		const char		*who = j->subject == SUBJECT_ACCOUNT ?
		    "accounts" : "users";
		struct report_stage	*rs;
		char			*stages = report_stage_list(j);
		int			 nholdout = 0;

		rs = xcalloc(j->nstages, sizeof *rs);
		report_stages(db, j, now, rs);
		if (out != NULL) {
			fprintf(out, "\njourney %s (%s)\n", j->name, who);
			fprintf(out, "  %-18s %8s %8s %9s %10s %8s\n", "stage",
			    "now", "reached", "to next", "median", "stalled");
		}
		if (html != NULL) {
			fprintf(html, "<section aria-labelledby=\"j%d\">\n"
			    "<h2 id=\"j%d\">", i, i);
			html_text(html, j->name);
			fprintf(html, " <small>(%s)</small></h2>\n<table>\n"
			    "<caption>Stages, in order. <em>To next</em>: of "
			    "those who reached a stage, the share who went on "
			    "to a later one.</caption>\n<thead><tr><th scope="
			    "\"col\">Stage</th><th scope=\"col\">Now</th><th "
			    "scope=\"col\">Ever reached</th><th scope=\"col\">"
			    "To next</th><th scope=\"col\">Median time to "
			    "next</th><th scope=\"col\">Stalled</th></tr>"
			    "</thead>\n<tbody>\n", who);
		}
		for (int k = 0; k < j->nstages; k++) {
			const char *pct = k + 1 < j->nstages ?
			    report_pct(rs[k].next, rs[k].reached, a, sizeof a) :
			    "-";
			char stalled[48];

			if (rs[k].expect > 0)
				snprintf(stalled, sizeof stalled, "%ld",
				    rs[k].stalled);
			else
				snprintf(stalled, sizeof stalled, "-");
			report_age(rs[k].median, b, sizeof b);
			if (out != NULL)
				fprintf(out, "  %-18s %8ld %8ld %9s %10s %8s\n",
				    rs[k].name, rs[k].now, rs[k].reached, pct,
				    b, stalled);
			if (html == NULL)
				continue;
			fprintf(html, "<tr><th scope=\"row\">");
			html_text(html, rs[k].name);
			fprintf(html, "</th><td>%ld</td><td>%ld</td><td>%s</td>"
			    "<td>%s</td><td%s>%s", rs[k].now, rs[k].reached,
			    pct, b, rs[k].stalled > 0 ? " class=\"warn\"" : "",
			    stalled);
			if (rs[k].expect > 0)
				fprintf(html, " <small>(over %s)</small>",
				    report_age(rs[k].expect, c, sizeof c));
			fprintf(html, "</td></tr>\n");
		}
		if (html != NULL) {
			fprintf(html, "</tbody>\n</table>\n<h3>Funnel</h3>\n");
			html_funnel(html, i, rs, j->nstages);
			if (j->nstages > 1) {
				fprintf(html, "<h3>Median time to the next "
				    "stage</h3>\n");
				html_times(html, i, rs, j->nstages);
			}
		}
		for (int k = 0; k < j->nrules; k++) {
			const struct rule	*r = &j->rules[k];
			struct report_holdout	 h;

			if (r->holdout <= 0)
				continue;
			report_holdout(db, j, stages, r, &h);
			report_pct(h.treated_next, h.treated, a, sizeof a);
			report_pct(h.held_next, h.held, b, sizeof b);
			if (out != NULL)
				fprintf(out, "  holdout %s (%d%%): treated %ld, "
				    "%ld reached the next stage (%s); held out "
				    "%ld, %ld (%s)\n", r->name, r->holdout,
				    h.treated, h.treated_next, a, h.held,
				    h.held_next, b);
			if (html == NULL)
				continue;
			if (nholdout++ == 0)
				fprintf(html, "<h3>Holdouts</h3>\n<table>\n"
				    "<caption>Subjects held out of a rule's "
				    "action, against those who got it, and how "
				    "many of each reached a later stage after "
				    "it.</caption>\n<thead><tr><th scope=\"col\">"
				    "Rule</th><th scope=\"col\" class=\"g\">Group</th><th "
				    "scope=\"col\">Subjects</th><th scope="
				    "\"col\">Reached the next stage</th><th "
				    "scope=\"col\">Rate</th></tr></thead>\n"
				    "<tbody>\n");
			fprintf(html, "<tr><th scope=\"row\" rowspan=\"2\">");
			html_text(html, r->name);
			fprintf(html, " <small>(%d%% held out)</small></th>"
			    "<td class=\"g\">treated</td><td>%ld</td><td>%ld</td>"
			    "<td>%s</td></tr>\n<tr><td class=\"g\">held out</td>"
			    "<td>%ld</td>"
			    "<td>%ld</td><td>%s</td></tr>\n", r->holdout,
			    h.treated, h.treated_next, a, h.held, h.held_next,
			    b);
		}
		if (html != NULL) {
			if (nholdout > 0)
				fprintf(html, "</tbody>\n</table>\n");
			fprintf(html, "</section>\n");
		}
		free(stages);
		free(rs);
	}
	if (html != NULL)
		fprintf(html, "<footer><p>Made by journeyd. <em>Stalled</em>: "
		    "there longer than the stage's <code>expect</code>.</p>"
		    "</footer>\n</main>\n</body>\n</html>\n");
}

/* Write the report as text to out, and as HTML to html_path when set (a
 * temporary file renamed over it once complete). */
int
report_run(const struct config *cf, sqlite3 *db, int64_t now,
    const char *html_path, FILE *out)
{
	FILE	*html = NULL;
	char	*tmp = NULL;

	if (html_path != NULL) {
		tmp = xprintf("%s.tmp", html_path);
		if ((html = fopen(tmp, "w")) == NULL) {
			fprintf(stderr, "journeyctl: %s: %s\n", tmp,
			    strerror(errno));
			free(tmp);
			return -1;
		}
	}
	report_write(cf, db, now, out, html);
	if (html != NULL) {
		if (ferror(html) | fclose(html) || rename(tmp, html_path) != 0) {
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
