/*
 * The report (README, "Report"): computed once from the database into a
 * model (struct report, insight-int.h), then rendered as text
 * (report-text.c) or as a self-contained HTML page (report-html.c).
 *
 * Per journey and stage, all from the members and the history:
 * - now: subjects at the stage now (not exited);
 * - reached: subjects with an 'entered' or 'moved' entry at the stage;
 * - to next: of those, the ones who later (after first reaching it) reached
 *   any later stage of the journey (a goto may skip a stage);
 * - median: of the time between first reaching the stage and then first
 *   reaching a later one, over those who did;
 * - stalled: subjects now at the stage (not exited) for longer than its
 *   expect, as the rule language's `stalled` says.
 * Per rule with a holdout or variants, its groups: each subject with an
 * action row of the rule is counted once, by its first row: held out
 * (held, reason 'holdout') or treated, by the variant of that row (queued,
 * whatever became of the action: sent, capped or failed; a variant a reload
 * removed keeps its group); success is reaching a stage later than the one the
 * action was queued at, after it was queued. Each group's conversion, and
 * its lift against the held-out group, come from stats.c.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "insight/insight-int.h"

/* An action's variant (outbox.variant, NULL for a rule without
 * variants): the column an experiment's treated subjects are grouped by. */
#define REPORT_VARIANT_SQL	"variant"

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

/* A subject's rows, and the scratch arrays to count them. */
struct report_scan {
	int			 nstages;
	struct report_row	*rows;
	size_t			 nrows, cap;
	const struct report_row	**first;
	int64_t			*next;
	struct report_times	*tm;
};

/* Order two durations. */
static int
report_cmp(const void *a, const void *b)
{
	int64_t	 x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Order two rows by hid and part. */
static int
report_row_cmp(const void *a, const void *b)
{
	const struct report_row	*x = a, *y = b;

	if (x->hid != y->hid)
		return x->hid < y->hid ? -1 : 1;
	return x->part - y->part;
}

/* Put SQLite's message in err; -1. */
static int
report_sql_error(sqlite3 *db, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", sqlite3_db_filename(db, "main"),
	    sqlite3_errmsg(db));
	return -1;
}

/*
 * Count one subject from its entries and moves (sc->rows): for each stage
 * k it reached, its first reach (the first row at k), whether it later
 * reached a later stage, and the earliest time it did.
 */
static void
report_subject(struct report_scan *sc, struct report_stage *rs)
{
	struct report_row	*rows = sc->rows;
	size_t			 nrows = sc->nrows;
	int			 n = sc->nstages;

	for (size_t i = 1; i < nrows; i++)
		if (report_row_cmp(&rows[i], &rows[i - 1]) < 0) {
			qsort(rows, nrows, sizeof *rows, report_row_cmp);
			break;
		}
	for (int k = 0; k < n; k++) {
		sc->first[k] = NULL;
		sc->next[k] = INT64_MAX;
	}
	for (size_t i = 0; i < nrows; i++) {
		for (int k = 0; k < rows[i].idx; k++)
			if (sc->first[k] != NULL && rows[i].ts < sc->next[k])
				sc->next[k] = rows[i].ts;
		if (sc->first[rows[i].idx] == NULL)
			sc->first[rows[i].idx] = &rows[i];
	}
	for (int k = 0; k < n; k++) {
		struct report_times *tm = &sc->tm[k];

		if (sc->first[k] == NULL)
			continue;
		rs[k].reached++;
		if (sc->next[k] == INT64_MAX)
			continue;
		rs[k].next++;
		if (tm->n == tm->cap) {
			tm->cap = tm->cap ? tm->cap * 2 : 64;
			tm->v = xreallocarray(tm->v, tm->cap, sizeof *tm->v);
		}
		tm->v[tm->n++] = sc->next[k] - sc->first[k]->ts;
	}
	sc->nrows = 0;
}

/* Add the step of column col of st (a stage name, or NULL) to the
 * subject's rows, when it is a stage of j. */
static void
report_step(struct report_scan *sc, const struct journey *j,
    sqlite3_stmt *st, int col)
{
	const char	*stage = (const char *)sqlite3_column_text(st, col);
	int		 idx;

	if (stage == NULL || (idx = journey_stage(j, stage)) < 0)
		return;
	if (sc->nrows == sc->cap) {
		sc->cap = sc->cap ? sc->cap * 2 : 16;
		sc->rows = xreallocarray(sc->rows, sc->cap, sizeof *sc->rows);
	}
	sc->rows[sc->nrows].hid = sqlite3_column_int64(st, 1);
	sc->rows[sc->nrows].part = col - 3;
	sc->rows[sc->nrows].ts = sqlite3_column_int64(st, 2);
	sc->rows[sc->nrows++].idx = idx;
}

/* Each stage's median time to a later one, from sc->tm; frees them. */
static void
report_medians(struct report_scan *sc, struct report_stage *rs)
{
	for (int k = 0; k < sc->nstages; k++) {
		struct report_times	*tm = &sc->tm[k];
		size_t			 nt = tm->n;

		if (nt > 0) {
			qsort(tm->v, nt, sizeof *tm->v, report_cmp);
			rs[k].median = nt % 2 ? tm->v[nt / 2] :
			    (tm->v[nt / 2 - 1] + tm->v[nt / 2]) / 2;
		}
		free(tm->v);
	}
}

/*
 * Reached, to next and the median of every stage of journey j, from one
 * pass over the journey's entries and moves, subject by subject. Every
 * subject ever in the journey has its row in members: read in its key's
 * order, each one's entries and moves found by (subject, hid); an entry's
 * row may hold the move right after it (moved_to: history_steps).
 */
static int
report_steps(sqlite3 *db, const struct journey *j, struct report_stage *rs,
    char *err, size_t errlen)
{
	struct report_scan	 sc;
	sqlite3_stmt		*st;
	int64_t			 cur = -1;
	int			 rc;

	if ((st = store_try_prepare(db, "SELECT m.subject, h.hid, h.ts, "
	    "h.stage, h.moved_to FROM members m CROSS JOIN history h ON "
	    "h.subject = m.subject WHERE m.journey = ?1 AND h.journey = ?1 "
	    "AND h.what IN ('entered', 'moved') ORDER BY m.subject")) == NULL)
		return report_sql_error(db, err, errlen);
	memset(&sc, 0, sizeof sc);
	sc.nstages = j->nstages;
	sc.first = xcalloc(j->nstages, sizeof *sc.first);
	sc.next = xcalloc(j->nstages, sizeof *sc.next);
	sc.tm = xcalloc(j->nstages, sizeof *sc.tm);
	sqlite3_bind_text(st, 1, j->name, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_int64(st, 0) != cur) {
			if (sc.nrows > 0)
				report_subject(&sc, rs);
			cur = sqlite3_column_int64(st, 0);
		}
		report_step(&sc, j, st, 3);
		report_step(&sc, j, st, 4);
	}
	if (sc.nrows > 0)
		report_subject(&sc, rs);
	report_medians(&sc, rs);
	sqlite3_finalize(st);
	free(sc.rows);
	free(sc.first);
	free(sc.next);
	free(sc.tm);
	return rc == SQLITE_DONE ? 0 : report_sql_error(db, err, errlen);
}

/* The stages of journey j: their names, and now and stalled from one
 * pass over the journey's members (stalled only where the stage has an
 * expect); then the rest from the history. */
static int
report_stages(sqlite3 *db, const struct journey *j, int64_t now,
    struct report_stage *rs, char *err, size_t errlen)
{
	sqlite3_stmt	*st;
	int		 rc, k;

	for (k = 0; k < j->nstages; k++) {
		rs[k].name = xstrdup(j->stages[k].name);
		rs[k].expect = j->stages[k].expect;
		rs[k].median = -1;
	}
	if ((st = store_try_prepare(db, "SELECT stage, count(*), stage_since "
	    "FROM members WHERE journey = ?1 AND status IN (?2, ?3) GROUP BY "
	    "stage, stage_since")) == NULL)
		return report_sql_error(db, err, errlen);
	sqlite3_bind_text(st, 1, j->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, MEMBER_ACTIVE);
	sqlite3_bind_int(st, 3, MEMBER_COMPLETED);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t c = sqlite3_column_int64(st, 1);

		k = journey_stage(j, (const char *)sqlite3_column_text(st, 0));
		if (k < 0)
			continue;
		rs[k].now += c;
		if (rs[k].expect > 0 &&
		    sqlite3_column_int64(st, 2) < now - rs[k].expect)
			rs[k].stalled += c;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return report_sql_error(db, err, errlen);
	return report_steps(db, j, rs, err, errlen);
}

/* The group of ex named name (held out or not), added when missing. */
static struct report_group *
report_group(struct report_experiment *ex, const char *name, int held_out)
{
	struct report_group	*g;

	for (int i = 0; i < ex->ngroups; i++)
		if (ex->groups[i].held_out == held_out &&
		    strcmp(ex->groups[i].name, name) == 0)
			return &ex->groups[i];
	ex->groups = xreallocarray(ex->groups, ex->ngroups + 1,
	    sizeof *ex->groups);
	g = &ex->groups[ex->ngroups++];
	memset(g, 0, sizeof *g);
	g->name = xstrdup(name);
	g->held_out = held_out;
	return g;
}

/* Each group's conversion, and its lift against the reference. */
static void
report_lifts(struct report_experiment *ex)
{
	const struct report_group	*ref;

	ex->ref = 0;
	for (int i = 0; i < ex->ngroups; i++)
		if (ex->groups[i].held_out)
			ex->ref = i;
	ref = &ex->groups[ex->ref];
	for (int i = 0; i < ex->ngroups; i++) {
		struct report_group *g = &ex->groups[i];

		stats_prop(g->reached, g->subjects, &g->conv);
		if (i != ex->ref)
			stats_lift(g->reached, g->subjects, ref->reached,
			    ref->subjects, &g->lift);
	}
}

/*
 * The groups of rule r of journey j (stages: its stages as a JSON array):
 * each subject with an action row of the rule, counted by its first row,
 * by variant or held out, and how many of each reached a later stage
 * after that row was queued.
 */
static int
report_experiment(sqlite3 *db, const struct journey *j, const char *stages,
    const struct rule *r, struct report_experiment *ex, char *err,
    size_t errlen)
{
	sqlite3_stmt	*st;
	int		 rc;

	ex->rule = xstrdup(r->name);
	ex->holdout = r->holdout;
	if (r->nvariants == 0)
		report_group(ex, "treated", 0);
	for (int i = 0; i < r->nvariants; i++)
		report_group(ex, r->variants[i].name, 0);
	if ((st = store_try_prepare(db, "WITH st(name, idx) AS (SELECT value, "
	    "key FROM json_each(?2)), o AS (SELECT subject, min(aid) AS aid, "
	    "status, reason, stage, " REPORT_VARIANT_SQL " AS variant FROM "
	    "outbox WHERE journey = ?1 AND rule = ?3 GROUP BY subject) SELECT "
	    "coalesce(o.status = ?4 AND o.reason = 'holdout', 0) AS out, "
	    "o.variant, count(*), sum(EXISTS (SELECT 1 FROM history h JOIN st "
	    "ON st.name IN (h.stage, h.moved_to) WHERE h.subject = o.subject "
	    "AND h.journey = ?1 AND h.what IN ('entered', 'moved') AND st.idx "
	    "> coalesce((SELECT idx FROM st WHERE name = o.stage), -1) AND "
	    "h.hid > (SELECT coalesce(max(x.hid), 0) FROM history x WHERE "
	    "x.subject = o.subject AND x.action = o.aid))) FROM o GROUP BY "
	    "out, o.variant ORDER BY out, o.variant")) == NULL)
		return report_sql_error(db, err, errlen);
	sqlite3_bind_text(st, 1, j->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, stages, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, OUTBOX_HELD);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char		*variant;
		struct report_group	*g;
		int			 out = sqlite3_column_int(st, 0);

		variant = (const char *)sqlite3_column_text(st, 1);
		if (out || variant == NULL || *variant == '\0')
			variant = out ? "held out" : "treated";
		g = report_group(ex, variant, out);
		g->subjects += sqlite3_column_int64(st, 2);
		g->reached += sqlite3_column_int64(st, 3);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return report_sql_error(db, err, errlen);
	if (r->holdout > 0)
		report_group(ex, "held out", 1);
	report_lifts(ex);
	return 0;
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

/* Fill rj with journey j: its stages, and its rules with a holdout or
 * variants. */
static int
report_journey(sqlite3 *db, const struct journey *j, int64_t now,
    struct report_journey *rj, char *err, size_t errlen)
{
	char	*stages;
	int	 rc = 0;

	rj->name = xstrdup(j->name);
	rj->subject = j->subject;
	rj->stages = xcalloc(j->nstages, sizeof *rj->stages);
	rj->nstages = j->nstages;
	if (report_stages(db, j, now, rj->stages, err, errlen) != 0)
		return -1;
	stages = report_stage_list(j);
	for (int k = 0; k < j->nrules && rc == 0; k++) {
		struct report_experiment *ex;

		if (j->rules[k].holdout <= 0 && j->rules[k].nvariants == 0)
			continue;
		rj->experiments = xreallocarray(rj->experiments,
		    rj->nexperiments + 1, sizeof *rj->experiments);
		ex = &rj->experiments[rj->nexperiments++];
		memset(ex, 0, sizeof *ex);
		rc = report_experiment(db, j, stages, &j->rules[k], ex, err,
		    errlen);
	}
	free(stages);
	return rc;
}

/* Compute the report of every journey of cf as of now, in one read
 * transaction (a consistent snapshot: a savepoint, so that it may also run
 * inside the caller's); NULL with err on an error. The caller frees it
 * with report_free. */
struct report *
report_new(const struct config *cf, sqlite3 *db, int64_t now, char *err,
    size_t errlen)
{
	struct report	*rp = xcalloc(1, sizeof *rp);
	int		 rc = 0;

	rp->now = now;
	rp->journeys = xcalloc(cf->njourneys, sizeof *rp->journeys);
	if (sqlite3_exec(db, "SAVEPOINT report", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		report_sql_error(db, err, errlen);
		report_free(rp);
		return NULL;
	}
	for (int i = 0; i < cf->njourneys && rc == 0; i++) {
		rp->njourneys++;
		rc = report_journey(db, &cf->journeys[i], now,
		    &rp->journeys[i], err, errlen);
	}
	sqlite3_exec(db, "RELEASE report", NULL, NULL, NULL);
	if (rc != 0) {
		report_free(rp);
		return NULL;
	}
	return rp;
}

/* Free a report and everything it holds. */
void
report_free(struct report *rp)
{
	if (rp == NULL)
		return;
	for (int i = 0; i < rp->njourneys; i++) {
		struct report_journey *rj = &rp->journeys[i];

		for (int k = 0; k < rj->nstages; k++)
			free(rj->stages[k].name);
		for (int k = 0; k < rj->nexperiments; k++) {
			struct report_experiment *ex = &rj->experiments[k];

			for (int g = 0; g < ex->ngroups; g++)
				free(ex->groups[g].name);
			free(ex->groups);
			free(ex->rule);
		}
		free(rj->experiments);
		free(rj->stages);
		free(rj->name);
	}
	free(rp->journeys);
	free(rp);
}

/* A duration for people: "3d 4h", "45m", "-". */
const char *
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

/* A conversion as text: "62.5%" or "-". */
const char *
report_pct(long part, long whole, char *out, size_t len)
{
	if (whole <= 0)
		snprintf(out, len, "-");
	else
		snprintf(out, len, "%.1f%%", 100.0 * part / whole);
	return out;
}

/* A difference of fractions in percentage points, signed: "+4.2". */
const char *
report_pp(double fraction, char *out, size_t len)
{
	double	 pp = 100.0 * fraction;

	/* No "-0.0": a difference that rounds to zero has no sign. */
	if (pp > -0.05 && pp < 0.05)
		pp = 0;
	snprintf(out, len, "%+.1f", pp);
	return out;
}

/* A p-value: "0.034", "< 0.001". */
const char *
report_pvalue(double p, char *out, size_t len)
{
	if (p < 0.001)
		snprintf(out, len, "< 0.001");
	else
		snprintf(out, len, "%.3f", p);
	return out;
}

/* What to know of group g of ex against the reference, in a sentence: why
 * its lift is missing or rough; NULL when there is nothing to say. */
const char *
report_verdict(const struct report_experiment *ex,
    const struct report_group *g, char *out, size_t len)
{
	const struct report_group	*ref = &ex->groups[ex->ref];

	switch (g->lift.verdict) {
	case STATS_OK:
		return NULL;
	case STATS_EMPTY:
		snprintf(out, len, "No lift yet: the %s group has no subjects.",
		    g->subjects == 0 ? g->name : ref->name);
		return out;
	case STATS_NOVAR:
		snprintf(out, len, "No p-value for %s against %s: in both "
		    "groups %s subject reached the next stage.", g->name,
		    ref->name, g->reached == 0 ? "no" : "every");
		return out;
	case STATS_FEW:
		snprintf(out, len, "Few subjects: the interval and p-value of "
		    "%s against %s are rough (a normal approximation, which "
		    "wants at least %d who reached the next stage and %d who "
		    "did not in each group).", g->name, ref->name,
		    STATS_MIN_EACH, STATS_MIN_EACH);
		return out;
	}
	return NULL;
}

/* Compute the report and render it to f with render; -1 with err. */
static int
report_to(const struct config *cf, sqlite3 *db, int64_t now, FILE *f,
    int (*render)(const struct report *, FILE *), char *err, size_t errlen)
{
	struct report	*rp;
	int		 rc;

	if ((rp = report_new(cf, db, now, err, errlen)) == NULL)
		return -1;
	if ((rc = render(rp, f)) != 0)
		snprintf(err, errlen, "%s", strerror(errno));
	report_free(rp);
	return rc;
}

/* Compute the report and render it as text to f; -1 with err. */
int
report_text(const struct config *cf, sqlite3 *db, int64_t now, FILE *f,
    char *err, size_t errlen)
{
	return report_to(cf, db, now, f, report_render_text, err, errlen);
}

/* Compute the report and render it as an HTML page to f (a file, a
 * pipe, a memory stream); -1 with err. */
int
report_html(const struct config *cf, sqlite3 *db, int64_t now, FILE *f,
    char *err, size_t errlen)
{
	return report_to(cf, db, now, f, report_render_html, err, errlen);
}

/* Write the HTML page of rp to path: to a temporary file renamed over
 * it, so that a reader never sees half a page. */
static int
report_html_file(const struct report *rp, const char *path)
{
	char	*tmp = xprintf("%s.tmp", path);
	FILE	*f;
	int	 rc = 0;

	if ((f = fopen(tmp, "w")) == NULL) {
		/* Named as given: the temporary file is ours, not the
		 * user's. */
		fprintf(stderr, "journeyctl: report --html: cannot write "
		    "\"%s\": %s%s\n", path, strerror(errno), errno == ENOENT ?
		    " (its folder does not exist: create it, or name another "
		    "file)" : "");
		free(tmp);
		return -1;
	}
	if ((report_render_html(rp, f) != 0) | (fclose(f) != 0) ||
	    rename(tmp, path) != 0) {
		fprintf(stderr, "journeyctl: report --html: cannot write "
		    "\"%s\": %s\n", path, strerror(errno));
		unlink(tmp);
		rc = -1;
	}
	free(tmp);
	return rc;
}

/*
 * journeyctl report: the report computed once, as text to out, and as an
 * HTML page to html_path when set; html_path "-" means the page to out
 * instead of the text. Errors go to stderr.
 */
int
report_run(const struct config *cf, sqlite3 *db, int64_t now,
    const char *html_path, FILE *out)
{
	struct report	*rp;
	char		 err[512];
	int		 rc;

	if ((rp = report_new(cf, db, now, err, sizeof err)) == NULL) {
		fprintf(stderr, "journeyctl: report: %s\n", err);
		return -1;
	}
	if (html_path != NULL && strcmp(html_path, "-") == 0)
		rc = report_render_html(rp, out);
	else
		rc = report_render_text(rp, out);
	if (rc != 0 || fflush(out) != 0) {
		fprintf(stderr, "journeyctl: report: %s\n", strerror(errno));
		rc = -1;
	} else if (html_path != NULL && strcmp(html_path, "-") != 0)
		rc = report_html_file(rp, html_path);
	report_free(rp);
	return rc;
}
