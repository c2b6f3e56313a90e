/*
 * Shared reads (struct expr_share): the reads of subjects' data that the
 * expressions of one query make, each computed once per subject as a
 * column jd_xN of a subquery over the subjects, to which the expressions
 * refer. The reads of one subject's events of one name (counts, sums,
 * since, each with its window and condition) are packed into one scan:
 * one column, jd_pack() of their aggregates, each with its own FILTER, and
 * each read a slot of it (jd_unpack()). An existence test that a shared
 * count implies looks for the events only where that count is 0.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "rules/expr.h"
#include "rules/expr-int.h"

/*
 * Shared values (struct expr_share): a node that reads the subject's data
 * (a count, an attr, ... or a node_count_exists comparison) is a leaf; with
 * q->share set, each distinct leaf (by its SQL and parameters) is written
 * once, as a column jd_xN of the query that reads the subjects, and every
 * use refers to that column.
 */
int
node_is_leaf(const struct node *n)
{
	int	 exists;

	if (n->kind == NODE_CALL) {
		switch (n->func) {
		case FUNC_STAGE_AGE:
		case FUNC_JOURNEY_AGE:
		case FUNC_STALLED:
		case FUNC_NOW:
		case FUNC_TIME:
		case FUNC_CONTAINS:
		case FUNC_STARTS_WITH:
		case FUNC_ENDS_WITH:
		case FUNC_LOWER:
			return 0;
		default:
			return 1;
		}
	}
	return node_count_exists(n, &exists) != NULL;
}

/* Append the SQL of leaf n itself. */
static void
leaf_sql(const struct expr *e, const struct node *n, struct sql *q)
{
	if (n->kind == NODE_CALL)
		exprsql_call(e, n, q);
	else
		exprsql_count_exists(e, n, q, "s.sid");
}

/* The key of some SQL: its text, then its parameters' values. */
static char *
sql_key(struct sql *q)
{
	for (int i = 0; i < q->nparams; i++) {
		const struct sql_param *p = &q->params[i];

		if (p->type == SQLITE_TEXT)
			buf_printf(&q->text, "\n%zu:%s", strlen(p->s), p->s);
		else if (p->type == SQLITE_FLOAT)
			buf_printf(&q->text, "\nf%.17g", p->d);
		else
			buf_printf(&q->text, "\ni%lld", (long long)p->i);
	}
	return buf_steal(&q->text);
}

/* The key of a leaf: its SQL, then its parameters' values. */
static char *
leaf_key(const struct expr *e, const struct node *n)
{
	struct sql	 q;
	char		*key;

	sql_init(&q);
	leaf_sql(e, n, &q);
	key = sql_key(&q);
	sql_free(&q);
	return key;
}

/* The key of the events a read of events scans, whatever its window and
 * condition (its subjects, name and time zone), or NULL for a leaf that
 * no other packs with. */
static char *
scan_key(const struct expr *e, const struct node *n)
{
	struct sql	 q;
	char		*key;

	if (!node_reads_events(n))
		return NULL;
	sql_init(&q);
	exprsql_events_from(e, n, &q, "s.sid", node_needs_tz(n));
	exprsql_events_where(e, n, &q, -1, 0);
	key = sql_key(&q);
	sql_free(&q);
	return key;
}

/* The key of a read's condition ("" without one). */
static char *
where_key(const struct expr *e, const struct node *n)
{
	struct sql	 q;
	char		*key;

	if (n->where == NULL)
		return xstrdup("");
	sql_init(&q);
	exprsql_where(e, n, &q);
	key = sql_key(&q);
	sql_free(&q);
	return key;
}

#define SHARE_UNDECIDED	(-2)	/* struct expr_share's by, before first use */

/* The column of leaf n in share; with add, added when it is not there
 * (and packed with a read of the same events that is not yet used).
 * -1 when it is not there. */
static int
share_find(struct expr_share *sh, const struct expr *e, const struct node *n,
    int add)
{
	char	*key = leaf_key(e, n);
	int	 i;

	for (i = 0; i < sh->n; i++) {
		if (strcmp(sh->v[i].key, key) == 0) {
			free(key);
			return i;
		}
	}
	if (!add) {
		free(key);
		return -1;
	}
	sh->v = xreallocarray(sh->v, sh->n + 1, sizeof *sh->v);
	memset(&sh->v[i], 0, sizeof sh->v[i]);
	sh->v[i].e = e;
	sh->v[i].n = n;
	sh->v[i].key = key;
	sh->v[i].by = SHARE_UNDECIDED;
	sh->v[i].scan = scan_key(e, n);
	sh->v[i].group = i;
	sh->v[i].nslots = 1;
	for (int j = 0; j < i && sh->v[i].scan != NULL; j++) {
		if (sh->v[j].group != j || sh->v[j].sealed ||
		    sh->v[j].scan == NULL ||
		    strcmp(sh->v[j].scan, sh->v[i].scan) != 0)
			continue;
		sh->v[i].group = j;
		sh->v[i].slot = sh->v[j].nslots++;
		break;
	}
	return sh->n++;
}

/* Append the value of leaf i of share: its column, or its slot in the
 * column it is packed into. Its group takes no more leaves. */
static void
share_ref(struct expr_share *sh, int i, struct sql *q)
{
	int	 g = sh->v[i].group;

	sh->v[g].sealed = 1;
	if (sh->v[g].nslots > 1)
		buf_printf(&q->text, "jd_unpack(jd_x%d, %d)", g,
		    sh->v[i].slot);
	else
		buf_printf(&q->text, "jd_x%d", g);
}

/*
 * A shared count of the same events as existence test n (the same
 * condition), over the same window or a narrower one, or -1: where the
 * count is not 0 the events exist, and only where it is 0 need they be
 * looked for. "count('ride') >= 1" and "count('ride', 30d) >= 8" in one
 * mask seek the subject's rides once for most subjects, not twice.
 */
static int
share_implied(struct expr_share *sh, const struct expr *e,
    const struct node *n)
{
	const struct node	*call, *c;
	char			*want, *have;
	int			 exists, found = -1;

	call = node_count_exists(n, &exists);
	if (call->account || e->subject != SUBJECT_USER)
		return -1;
	want = where_key(e, call);
	for (int i = 0; i < sh->n && found < 0; i++) {
		c = sh->v[i].n;
		if (c->kind != NODE_CALL || c->func != FUNC_COUNT ||
		    c->account || sh->v[i].e->subject != SUBJECT_USER ||
		    strcmp(c->s, call->s) != 0 ||
		    (call->has_window && (!c->has_window ||
		    c->window > call->window)))
			continue;
		have = where_key(sh->v[i].e, c);
		if (strcmp(have, want) == 0)
			found = i;
		free(have);
	}
	free(want);
	return found;
}

/* Pre-register every read e makes (n and under it), so that existence
 * tests find the counts that imply them wherever those come in the query,
 * and reads of the same events are packed together. */
static void
share_add(struct expr_share *sh, const struct expr *e, const struct node *n)
{
	if (n == NULL)
		return;
	if (node_is_leaf(n)) {
		share_find(sh, e, n, 1);
		return;
	}
	if (n->kind == NODE_SEGMENT) {
		share_add(sh, n->seg, n->seg->root);
		return;
	}
	share_add(sh, e, n->l);
	if (n->kind != NODE_IN)
		share_add(sh, e, n->r);
}

void
expr_share_add(struct expr_share *sh, const struct expr *e)
{
	share_add(sh, e, e->root);
}

/* Append the SQL of leaf n in share: its column, or for an existence test
 * a shared count implies, that count and the test only where it is 0,
 * over the subject jd_sid of the query over the subquery. */
void
exprshare_sql(struct expr_share *sh, const struct expr *e, const struct node *n,
    struct sql *q)
{
	int	 i = share_find(sh, e, n, 1), c, exists;

	/* Decided at its first use, and kept: a column once used stays. */
	if (sh->v[i].by == SHARE_UNDECIDED)
		sh->v[i].by = n->kind == NODE_COMPARE ?
		    share_implied(sh, e, n) : -1;
	if ((c = sh->v[i].by) >= 0) {
		node_count_exists(n, &exists);
		/* CASE, not OR: SQLite computes both sides of an OR that is
		 * a value, and only the branch taken of a CASE. */
		buf_puts(&q->text, "(CASE WHEN ");
		share_ref(sh, c, q);
		buf_printf(&q->text, " > 0 THEN %d ELSE ", exists);
		q->share = NULL;
		exprsql_count_exists(e, n, q, "jd_sid");
		q->share = sh;
		buf_puts(&q->text, " END)");
		return;
	}
	share_ref(sh, i, q);
}

/* How many leaves of n are not in share. */
static int
share_missing(struct expr_share *sh, const struct expr *e,
    const struct node *n)
{
	if (n == NULL)
		return 0;
	if (node_is_leaf(n))
		return share_find(sh, e, n, 0) < 0;
	if (n->kind == NODE_SEGMENT)
		return share_missing(sh, n->seg, n->seg->root);
	return share_missing(sh, e, n->l) +
	    (n->kind != NODE_IN ? share_missing(sh, e, n->r) : 0);
}

/* Does share hold every leaf of e? */
int
expr_share_covers(struct expr_share *sh, const struct expr *e)
{
	return share_missing(sh, e, e->root) == 0;
}

/* Append one aggregate of a packed scan: its own window (when narrower
 * than the scan's) and condition as its FILTER. */
static void
packed_aggregate(struct expr_share *sh, int i, int64_t scan_window,
    struct sql *q)
{
	const struct expr	*e = sh->v[i].e;
	const struct node	*n = sh->v[i].n;
	struct buf		*b = &q->text;
	int			 window = n->has_window &&
				    n->window != scan_window;

	if (node_is_age(n))
		buf_puts(b, ":now - ");
	exprsql_aggregate(e, n, q);
	if (!window && n->where == NULL)
		return;
	buf_puts(b, " FILTER (WHERE ");
	if (window) {
		buf_puts(b, "e.ts >= :now - ");
		sql_add_int(q, n->window);
	}
	if (n->where != NULL) {
		if (window)
			buf_puts(b, " AND ");
		exprsql_where(e, n, q);
	}
	buf_puts(b, ")");
}

/* Append the column of the leaves packed with leader g: one scan of their
 * events over the widest window, each leaf's aggregate filtered. */
static void
packed_sql(struct expr_share *sh, int g, struct sql *q)
{
	const struct node	*n;
	int64_t			 window = 0;
	int			 first = 1;

	for (int i = g; i < sh->n; i++) {
		if (sh->v[i].group != g)
			continue;
		n = sh->v[i].n;
		if (!n->has_window)
			window = -1;
		else if (window >= 0 && n->window > window)
			window = n->window;
	}
	buf_puts(&q->text, "(SELECT jd_pack(");
	for (int k = 0; k < sh->v[g].nslots; k++) {
		for (int i = g; i < sh->n; i++) {
			if (sh->v[i].group != g || sh->v[i].slot != k)
				continue;
			buf_puts(&q->text, first ? "" : ", ");
			first = 0;
			packed_aggregate(sh, i, window, q);
		}
	}
	buf_puts(&q->text, ") ");
	n = sh->v[g].n;
	exprsql_events_from(sh->v[g].e, n, q, "s.sid", node_needs_tz(n));
	exprsql_events_where(sh->v[g].e, n, q, window, 0);
	buf_puts(&q->text, ")");
}

/* Append ", LEAF AS jd_x0, ..." for every leaf in share. */
void
expr_share_columns(struct expr_share *sh, struct sql *q)
{
	struct expr_share *saved = q->share;

	q->share = NULL;
	for (int i = 0; i < sh->n; i++) {
		if (sh->v[i].by >= 0 || sh->v[i].group != i)
			continue;
		buf_puts(&q->text, ", ");
		if (sh->v[i].nslots > 1)
			packed_sql(sh, i, q);
		else
			leaf_sql(sh->v[i].e, sh->v[i].n, q);
		buf_printf(&q->text, " AS jd_x%d", i);
	}
	q->share = saved;
}

/* Free what share holds. */
void
expr_share_free(struct expr_share *sh)
{
	for (int i = 0; i < sh->n; i++) {
		free(sh->v[i].key);
		free(sh->v[i].scan);
	}
	free(sh->v);
	sh->v = NULL;
	sh->n = 0;
}

