/*
 * explain: an expression evaluated for one subject, each comparison and
 * boolean value on a line of its own with the values that decided it, in
 * the words of the source: "count('ride', 30d) = 7 (needs >= 8): no".
 *
 * The values of every leaf come from one query over the subject's row, in
 * the SQL the tick runs; whether the whole expression holds is worked out
 * here, in C, from the leaves by and, or and not, so that a test can hold
 * the two ways of evaluating against each other. Durations print as
 * durations ("4d 11h"), times as times, booleans as true and false, and a
 * not as written, with what it negates under it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "rules/expr.h"
#include "rules/expr-int.h"

/* A leaf: a comparison, an in, or a boolean value, and its columns. */
struct leaf {
	const struct expr	*e;
	const struct node	*n;
	int			 col;	/* its first column in the query */
};

struct explain {
	struct leaf	*leaves;
	int		 nleaves;
	int		 ncols;
	sqlite3_stmt	*st;
	struct buf	*out;
};

/* Collect the leaves under and, or, not and segments, and their columns:
 * a comparison's two sides and result, an in's value and result, another
 * leaf's value. */
static void
explain_collect(struct explain *x, const struct expr *e,
    const struct node *n, struct sql *q)
{
	struct leaf	*leaf;

	switch (n->kind) {
	case NODE_AND:
	case NODE_OR:
		explain_collect(x, e, n->l, q);
		explain_collect(x, e, n->r, q);
		return;
	case NODE_NOT:
		explain_collect(x, e, n->l, q);
		return;
	case NODE_SEGMENT:
		explain_collect(x, n->seg, n->seg->root, q);
		return;
	default:
		break;
	}
	x->leaves = xreallocarray(x->leaves, x->nleaves + 1,
	    sizeof *x->leaves);
	leaf = &x->leaves[x->nleaves++];
	leaf->e = e;
	leaf->n = n;
	leaf->col = x->ncols;
	if (n->kind == NODE_COMPARE || n->kind == NODE_IN) {
		node_sql(e, n->l, q);
		buf_puts(&q->text, ", ");
		x->ncols++;
	}
	if (n->kind == NODE_COMPARE) {
		node_sql(e, n->r, q);
		buf_puts(&q->text, ", ");
		x->ncols++;
	}
	node_sql(e, n, q);
	buf_puts(&q->text, ", ");
	x->ncols++;
}

/* The leaf of node n. */
static const struct leaf *
explain_leaf_of(const struct explain *x, const struct node *n)
{
	for (int i = 0; i < x->nleaves; i++)
		if (x->leaves[i].n == n)
			return &x->leaves[i];
	return NULL;
}

/* The column holding whether leaf holds. */
static int
leaf_result_col(const struct leaf *leaf)
{
	switch (leaf->n->kind) {
	case NODE_COMPARE:
		return leaf->col + 2;
	case NODE_IN:
		return leaf->col + 1;
	default:
		return leaf->col;
	}
}

/* Does n hold, from its leaves? */
static int
explain_eval(const struct explain *x, const struct node *n)
{
	const struct leaf	*leaf;

	switch (n->kind) {
	case NODE_AND:
		return explain_eval(x, n->l) && explain_eval(x, n->r);
	case NODE_OR:
		return explain_eval(x, n->l) || explain_eval(x, n->r);
	case NODE_NOT:
		return !explain_eval(x, n->l);
	case NODE_SEGMENT:
		return explain_eval(x, n->seg->root);
	default:
		leaf = explain_leaf_of(x, n);
		return sqlite3_column_int(x->st, leaf_result_col(leaf)) != 0;
	}
}

/* Append the source text of a node. */
static void
explain_source(struct buf *out, const struct expr *e, const struct node *n)
{
	buf_add(out, e->src + n->start, n->end - n->start);
}

/* Append seconds as a duration: "4d 11h", "1m 30s", "0s". */
static void
explain_duration(struct buf *out, int64_t secs)
{
	static const struct { int64_t n; char c; } units[] = {
		{ 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' }
	};
	uint64_t	 left;
	int		 any = 0;

	if (secs < 0)
		buf_puts(out, "-");
	left = secs < 0 ? -(uint64_t)secs : (uint64_t)secs;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (left / units[i].n == 0)
			continue;
		buf_printf(out, "%s%llu%c", any ? " " : "",
		    (unsigned long long)(left / units[i].n), units[i].c);
		left %= units[i].n;
		any = 1;
	}
	if (!any)
		buf_puts(out, "0s");
}

/* Append a trait's value from its JSON text. */
static void
explain_json(struct buf *out, const char *s, size_t len)
{
	char	*v;
	size_t	 vlen;

	if (jsonval_kind(s, len) == JSON_STRING &&
	    (v = jsonval_string(s, len, &vlen)) != NULL) {
		buf_puts(out, "'");
		buf_add(out, v, vlen);
		buf_puts(out, "'");
		free(v);
	} else
		buf_add(out, s, len);
}

/* Append a value read from column col of st, n's value, shown as unit. */
static void
explain_value(struct buf *out, sqlite3_stmt *st, int col,
    const struct node *n, enum unit unit)
{
	int64_t	 v;

	switch (sqlite3_column_type(st, col)) {
	case SQLITE_NULL:
		buf_puts(out, "absent");
		return;
	case SQLITE_TEXT:
		if (n->type == EXPR_ANY)
			explain_json(out, (const char *)sqlite3_column_text(st,
			    col), sqlite3_column_bytes(st, col));
		else
			buf_printf(out, "'%s'", (const char *)
			    sqlite3_column_text(st, col));
		return;
	default:
		break;
	}
	v = sqlite3_column_int64(st, col);
	if (n->type == EXPR_BOOL)
		buf_puts(out, v ? "true" : "false");
	else if (unit == UNIT_DURATION)
		explain_duration(out, v);
	else if (unit == UNIT_TIME) {
		char when[32];
		buf_puts(out, time_format(v, when, sizeof when));
	} else if (sqlite3_column_type(st, col) == SQLITE_FLOAT)
		buf_printf(out, "%.15g", sqlite3_column_double(st, col));
	else
		buf_printf(out, "%lld", (long long)v);
}

/* Is n a constant, whose source says all about it? */
static int
node_constant(const struct node *n)
{
	if (n->kind == NODE_NEG)
		return node_constant(n->l);
	return n->kind == NODE_NUMBER || n->kind == NODE_STRING ||
	    n->kind == NODE_BOOL;
}

/* Append the line of a comparison: the value, what it needs, and whether
 * it has it. */
static void
explain_compare(struct explain *x, const struct leaf *leaf)
{
	const struct node	*n = leaf->n, *value = n->l, *bound = n->r;
	int			 vcol = leaf->col, bcol = leaf->col + 1;
	enum token_kind		 op = n->op;
	enum unit		 unit;

	if (node_constant(value) && !node_constant(bound)) {
		value = n->r;
		bound = n->l;
		vcol = leaf->col + 1;
		bcol = leaf->col;
		op = op_mirror(op);
	}
	unit = value->unit != UNIT_PLAIN ? value->unit : bound->unit;
	explain_source(x->out, leaf->e, value);
	buf_puts(x->out, " = ");
	explain_value(x->out, x->st, vcol, value, unit);
	buf_printf(x->out, " (needs %s ", op_name(op));
	explain_source(x->out, leaf->e, bound);
	if (!node_constant(bound)) {
		buf_puts(x->out, ", which is ");
		explain_value(x->out, x->st, bcol, bound,
		    bound->unit != UNIT_PLAIN ? bound->unit : value->unit);
	}
	buf_puts(x->out, ")");
}

/* Append the line of an in: the value, and the list it needs to be in. */
static void
explain_in(struct explain *x, const struct leaf *leaf)
{
	const struct node	*n = leaf->n;
	const char		*list = leaf->e->src + n->l->end;

	while (*list == ' ' || *list == '\t' || *list == '\n' ||
	    *list == '\r')
		list++;
	explain_source(x->out, leaf->e, n->l);
	buf_puts(x->out, " = ");
	explain_value(x->out, x->st, leaf->col, n->l, n->l->unit);
	buf_puts(x->out, " (needs ");
	buf_add(x->out, list, leaf->e->src + n->end - list);
	buf_puts(x->out, ")");
}

/* Append the lines of n, indented. */
static void
explain_print(struct explain *x, const struct expr *e, const struct node *n,
    int indent)
{
	const struct leaf	*leaf;

	switch (n->kind) {
	case NODE_AND:
	case NODE_OR:
		explain_print(x, e, n->l, indent);
		explain_print(x, e, n->r, indent);
		return;
	case NODE_NOT:
	case NODE_SEGMENT:
		buf_printf(x->out, "%*s", indent, "");
		explain_source(x->out, e, n);
		buf_printf(x->out, ": %s\n", explain_eval(x, n) ? "yes" : "no");
		if (n->kind == NODE_NOT)
			explain_print(x, e, n->l, indent + 2);
		else
			explain_print(x, n->seg, n->seg->root, indent + 2);
		return;
	default:
		break;
	}
	leaf = explain_leaf_of(x, n);
	buf_printf(x->out, "%*s", indent, "");
	if (n->kind == NODE_COMPARE)
		explain_compare(x, leaf);
	else if (n->kind == NODE_IN)
		explain_in(x, leaf);
	else
		explain_source(x->out, e, n);
	buf_printf(x->out, ": %s\n", explain_eval(x, n) ? "yes" : "no");
}

/* Evaluate e for one subject and explain each comparison. */
int
expr_explain(const struct expr *e, sqlite3 *db, int64_t sid, int64_t now,
    const char *journey, int indent, struct buf *out, int *holds)
{
	struct explain	 x;
	struct sql	 q;
	int		 rc = -1;

	*holds = 0;
	memset(&x, 0, sizeof x);
	x.out = out;
	sql_init(&q);
	buf_puts(&q.text, "SELECT ");
	explain_collect(&x, e, e->root, &q);
	q.text.len -= 2;		/* the last ", " */
	q.text.s[q.text.len] = '\0';
	buf_puts(&q.text, " FROM " EXPR_FROM " WHERE s.sid = ");
	sql_add_int(&q, sid);

	if (sqlite3_prepare_v2(db, q.text.s, -1, &x.st, NULL) != SQLITE_OK ||
	    sql_bind(&q, x.st, now, journey) != 0) {
		buf_printf(out, "%*sdatabase error: %s\n", indent, "",
		    sqlite3_errmsg(db));
		goto out;
	}
	switch (sqlite3_step(x.st)) {
	case SQLITE_ROW:
		explain_print(&x, e, e->root, indent);
		*holds = explain_eval(&x, e->root);
		rc = 0;
		break;
	case SQLITE_DONE:
		buf_printf(out, "%*sno such subject\n", indent, "");
		break;
	default:
		buf_printf(out, "%*sdatabase error: %s\n", indent, "",
		    sqlite3_errmsg(db));
		break;
	}
out:
	sqlite3_finalize(x.st);
	free(x.leaves);
	sql_free(&q);
	return rc;
}
