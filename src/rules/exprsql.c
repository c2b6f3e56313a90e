/*
 * The rule language compiled to SQL (see expr.h for the names the SQL
 * refers to), the reads several expressions share (struct expr_share), and
 * explain, which evaluates each leaf of an expression for one subject.
 * Values from the source reach SQL only as bound parameters (:p1, :p2,
 * ...): named, so that their numbers never clash with :now and :journey
 * wherever those appear.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "rules/expr.h"
#include "rules/expr-int.h"

/* Start an empty query. */
void
sql_init(struct sql *q)
{
	buf_init(&q->text);
	q->params = NULL;
	q->nparams = 0;
	q->share = NULL;
}

/* Free a query's text and parameters. */
void
sql_free(struct sql *q)
{
	for (int i = 0; i < q->nparams; i++)
		free(q->params[i].s);
	free(q->params);
	buf_free(&q->text);
	sql_init(q);
}

/* Add a parameter of type and append its placeholder. */
static struct sql_param *
sql_add(struct sql *q, int type)
{
	struct sql_param	*param;

	q->params = xreallocarray(q->params, q->nparams + 1,
	    sizeof *q->params);
	param = &q->params[q->nparams++];
	memset(param, 0, sizeof *param);
	param->type = type;
	buf_printf(&q->text, ":p%d", q->nparams);
	return param;
}

/* Add a text parameter. */
void
sql_add_text(struct sql *q, const char *s)
{
	sql_add(q, SQLITE_TEXT)->s = xstrdup(s);
}

/* Add an integer parameter. */
void
sql_add_int(struct sql *q, int64_t i)
{
	sql_add(q, SQLITE_INTEGER)->i = i;
}

/* Add a floating-point parameter. */
void
sql_add_double(struct sql *q, double d)
{
	sql_add(q, SQLITE_FLOAT)->d = d;
}

/* Bind every parameter the statement names, and :now and :journey. */
int
sql_bind(const struct sql *q, sqlite3_stmt *st, int64_t now,
    const char *journey)
{
	const struct sql_param	*param;
	char			 name[32];
	int			 idx, rc = SQLITE_OK;

	for (int i = 0; i < q->nparams && rc == SQLITE_OK; i++) {
		param = &q->params[i];
		snprintf(name, sizeof name, ":p%d", i + 1);
		if ((idx = sqlite3_bind_parameter_index(st, name)) == 0)
			continue;
		switch (param->type) {
		case SQLITE_INTEGER:
			rc = sqlite3_bind_int64(st, idx, param->i);
			break;
		case SQLITE_FLOAT:
			rc = sqlite3_bind_double(st, idx, param->d);
			break;
		default:
			rc = sqlite3_bind_text(st, idx, param->s, -1,
			    SQLITE_TRANSIENT);
			break;
		}
	}
	if (rc == SQLITE_OK &&
	    (idx = sqlite3_bind_parameter_index(st, ":now")) != 0)
		rc = sqlite3_bind_int64(st, idx, now);
	if (rc == SQLITE_OK &&
	    (idx = sqlite3_bind_parameter_index(st, ":journey")) != 0) {
		if (journey != NULL)
			rc = sqlite3_bind_text(st, idx, journey, -1,
			    SQLITE_TRANSIENT);
		else
			rc = sqlite3_bind_null(st, idx);
	}
	return rc == SQLITE_OK ? 0 : -1;
}

/* Add a JSON path for key ('$."key"') as a parameter. */
static void
sql_add_path(struct sql *q, const char *key)
{
	char	*path = xprintf("$.\"%s\"", key);

	sql_add_text(q, path);
	free(path);
}

/* Append the FROM and WHERE of the events a count, sum or since reads;
 * a user's own events by sid, "s.sid" unless given. */
static void
events_sql_of(const struct expr *e, const struct node *n, struct sql *q,
    const char *sid)
{
	struct buf	*b = &q->text;

	if (n->account)			/* all users of the user's account */
		buf_puts(b, "FROM subjects u JOIN events e "
		    "ON e.subject = u.sid WHERE u.account = s.account");
	else if (e->subject == SUBJECT_ACCOUNT)	/* all the account's users */
		buf_puts(b, "FROM subjects u JOIN events e "
		    "ON e.subject = u.sid WHERE u.account = s.sid");
	else
		buf_printf(b, "FROM events e WHERE e.subject = %s", sid);
	buf_puts(b, " AND e.name = ");
	sql_add_text(q, n->s);
	buf_puts(b, " AND e.ts <= :now");
	if (n->has_window) {
		buf_puts(b, " AND e.ts >= :now - ");
		sql_add_int(q, n->window);
	}
}

static void
events_sql(const struct expr *e, const struct node *n, struct sql *q)
{
	events_sql_of(e, n, q, "s.sid");
}

/* Append the SQL of a function or a name like stage_age. */
static void
call_sql(const struct expr *e, const struct node *n, struct sql *q)
{
	struct buf	*b = &q->text;
	const char	*who = n->account ? "s.account" : "s.sid";

	switch (n->func) {
	case FUNC_COUNT:
		buf_puts(b, "(SELECT count(*) ");
		events_sql(e, n, q);
		buf_puts(b, ")");
		break;
	case FUNC_SUM:
		buf_puts(b, "(SELECT total(json_extract(e.props, ");
		sql_add_path(q, n->prop);
		buf_puts(b, ")) ");
		events_sql(e, n, q);
		buf_puts(b, ")");
		break;
	case FUNC_SINCE:
		buf_puts(b, "(:now - (SELECT max(e.ts) ");
		events_sql(e, n, q);
		buf_puts(b, "))");
		break;
	case FUNC_ATTR:
		if (n->account) {
			buf_puts(b, "(SELECT json_extract(a.traits, ");
			sql_add_path(q, n->s);
			buf_puts(b, ") FROM subjects a WHERE a.sid = "
			    "s.account)");
		} else {
			buf_puts(b, "json_extract(s.traits, ");
			sql_add_path(q, n->s);
			buf_puts(b, ")");
		}
		break;
	case FUNC_HAS:
		if (n->account) {
			buf_puts(b, "EXISTS (SELECT 1 FROM subjects a WHERE "
			    "a.sid = s.account AND json_type(a.traits, ");
			sql_add_path(q, n->s);
			buf_puts(b, ") IS NOT NULL)");
		} else {
			buf_puts(b, "(json_type(s.traits, ");
			sql_add_path(q, n->s);
			buf_puts(b, ") IS NOT NULL)");
		}
		break;
	case FUNC_STAGE:
		buf_puts(b, "(SELECT j.stage FROM members j WHERE j.journey = ");
		sql_add_text(q, n->s);
		buf_printf(b, " AND j.subject = %s AND j.status <> %d)", who,
		    MEMBER_EXITED);
		break;
	case FUNC_IN_JOURNEY:
	case FUNC_COMPLETED:
		buf_puts(b, "EXISTS (SELECT 1 FROM members j WHERE "
		    "j.journey = ");
		sql_add_text(q, n->s);
		if (n->func == FUNC_COMPLETED)
			buf_printf(b, " AND j.subject = s.sid AND "
			    "j.status = %d)", MEMBER_COMPLETED);
		else
			buf_printf(b, " AND j.subject = s.sid AND "
			    "j.status IN (%d, %d))", MEMBER_ACTIVE,
			    MEMBER_COMPLETED);
		break;
	case FUNC_USERS:
		buf_puts(b, "(SELECT count(*) FROM subjects u "
		    "WHERE u.account = s.sid)");
		break;
	case FUNC_ACTIVE_USERS:
		buf_puts(b, "(SELECT count(*) FROM subjects u "
		    "WHERE u.account = s.sid AND EXISTS (SELECT 1 FROM events e "
		    "WHERE e.subject = u.sid AND e.ts <= :now AND "
		    "e.ts >= :now - ");
		sql_add_int(q, n->window);
		buf_puts(b, "))");
		break;
	case FUNC_STAGE_AGE:
		buf_printf(b, "(CASE WHEN m.status <> %d THEN "
		    ":now - m.stage_since END)", MEMBER_EXITED);
		break;
	case FUNC_JOURNEY_AGE:
		buf_printf(b, "(CASE WHEN m.status <> %d THEN "
		    ":now - m.entered END)", MEMBER_EXITED);
		break;
	case FUNC_STALLED:
		if (e->nstalls == 0) {
			buf_puts(b, "0");
			break;
		}
		buf_printf(b, "coalesce(m.status <> %d AND CASE m.stage",
		    MEMBER_EXITED);
		for (int i = 0; i < e->nstalls; i++) {
			buf_puts(b, " WHEN ");
			sql_add_text(q, e->stalls[i].name);
			buf_puts(b, " THEN m.stage_since < :now - ");
			sql_add_int(q, e->stalls[i].expect);
		}
		buf_puts(b, " ELSE 0 END, 0)");
		break;
	}
}

/* The SQL operator of a comparison. */
static const char *
op_sql(enum token_kind op)
{
	switch (op) {
	case TOK_EQ:	return "=";
	case TOK_NE:	return "<>";
	case TOK_LT:	return "<";
	case TOK_LE:	return "<=";
	case TOK_GT:	return ">";
	case TOK_GE:	return ">=";
	default:	break;
	}
	return "=";
}

static void	node_sql(const struct expr *, const struct node *, struct sql *);
static enum token_kind op_mirror(enum token_kind);

/* Append a chain of and, or, + or - without nesting its left operands in
 * parentheses: SQLite reads "a OR b OR c" and "a + b - c" from the left,
 * as the parser built them. Right operands are parenthesized. */
static void
chain_sql(const struct expr *e, const struct node *n, struct sql *q)
{
	struct buf	*b = &q->text;
	const char	*op;

	switch (n->kind) {
	case NODE_AND:	op = " AND "; break;
	case NODE_OR:	op = " OR "; break;
	case NODE_ADD:	op = " + "; break;
	default:	op = " - "; break;
	}
	if (node_chains(n))
		chain_sql(e, n->l, q);
	else {
		buf_puts(b, "(");
		node_sql(e, n->l, q);
		buf_puts(b, ")");
	}
	buf_puts(b, op);
	buf_puts(b, "(");
	node_sql(e, n->r, q);
	buf_puts(b, ")");
}

/*
 * A comparison of a count with 0 or 1 that only asks whether there is an
 * event ("count('ride') >= 1", "count('x', 7d) == 0", "0 < count('y')"):
 * its count is written as EXISTS or NOT EXISTS of the events, which stops
 * at the first one instead of counting them all. Returns the count's node
 * and sets *exists, or returns NULL for any other node.
 */
static const struct node *
count_exists(const struct node *n, int *exists)
{
	const struct node	*call = n->l, *num = n->r;
	enum token_kind		 op = n->op;

	if (n->kind != NODE_COMPARE)
		return NULL;
	if (num->kind == NODE_CALL) {
		call = n->r;
		num = n->l;
		op = op_mirror(op);
	}
	if (call->kind != NODE_CALL || call->func != FUNC_COUNT ||
	    num->kind != NODE_NUMBER || num->is_float)
		return NULL;
	if ((op == TOK_GE && num->i == 1) || (op == TOK_GT && num->i == 0) ||
	    (op == TOK_NE && num->i == 0))
		*exists = 1;
	else if ((op == TOK_LT && num->i == 1) ||
	    (op == TOK_LE && num->i == 0) || (op == TOK_EQ && num->i == 0))
		*exists = 0;
	else
		return NULL;
	return call;
}

/* Append the EXISTS of a comparison count_exists accepts, the subject's
 * events found by sid. */
static void
count_exists_sql_of(const struct expr *e, const struct node *n,
    struct sql *q, const char *sid)
{
	const struct node	*call;
	int			 exists;

	call = count_exists(n, &exists);
	buf_puts(&q->text, exists ? "EXISTS (SELECT 1 " :
	    "(NOT EXISTS (SELECT 1 ");
	events_sql_of(e, call, q, sid);
	buf_puts(&q->text, exists ? ")" : "))");
}

static void
count_exists_sql(const struct expr *e, const struct node *n, struct sql *q)
{
	count_exists_sql_of(e, n, q, "s.sid");
}

/*
 * Shared values (struct expr_share): a node that reads the subject's data
 * (a call other than stage_age, journey_age and stalled, or a count_exists
 * comparison) is a leaf; with q->share set, each distinct leaf (by its SQL
 * and parameters) is written once, as a column jd_xN of the query that
 * reads the subjects, and every use refers to that column.
 */
static int
node_is_leaf(const struct node *n)
{
	int	 exists;

	if (n->kind == NODE_CALL)
		return n->func != FUNC_STAGE_AGE && n->func != FUNC_JOURNEY_AGE &&
		    n->func != FUNC_STALLED;
	return count_exists(n, &exists) != NULL;
}

/* Append the SQL of leaf n itself. */
static void
leaf_sql(const struct expr *e, const struct node *n, struct sql *q)
{
	if (n->kind == NODE_CALL)
		call_sql(e, n, q);
	else
		count_exists_sql(e, n, q);
}

/* The key of a leaf: its SQL, then its parameters' values. */
static char *
leaf_key(const struct expr *e, const struct node *n)
{
	struct sql	 q;
	char		*key;

	sql_init(&q);
	leaf_sql(e, n, &q);
	for (int i = 0; i < q.nparams; i++) {
		const struct sql_param *p = &q.params[i];

		if (p->type == SQLITE_TEXT)
			buf_printf(&q.text, "\n%zu:%s", strlen(p->s), p->s);
		else if (p->type == SQLITE_FLOAT)
			buf_printf(&q.text, "\nf%.17g", p->d);
		else
			buf_printf(&q.text, "\ni%lld", (long long)p->i);
	}
	key = buf_steal(&q.text);
	sql_free(&q);
	return key;
}

#define SHARE_UNDECIDED	(-2)	/* struct expr_share's by, before first use */

/* The column of leaf n in share; with add, added when it is not there.
 * -1 when it is not there. */
static int
share_find(struct expr_share *sh, const struct expr *e, const struct node *n,
    int add)
{
	char	*key = leaf_key(e, n);

	for (int i = 0; i < sh->n; i++) {
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
	sh->v[sh->n].e = e;
	sh->v[sh->n].n = n;
	sh->v[sh->n].key = key;
	sh->v[sh->n].by = SHARE_UNDECIDED;
	return sh->n++;
}

/*
 * A shared count of the same events as existence test n, over the same
 * window or a narrower one (the column of that count), or -1: where the
 * count is not 0 the events exist, and only where it is 0 need they be
 * looked for. "count('ride') >= 1" and "count('ride', 30d) >= 8" in one
 * mask seek the subject's rides once for most subjects, not twice.
 */
static int
share_implied(struct expr_share *sh, const struct expr *e,
    const struct node *n)
{
	const struct node	*call, *c;
	int			 exists;

	call = count_exists(n, &exists);
	if (call->account || e->subject != SUBJECT_USER)
		return -1;
	for (int i = 0; i < sh->n; i++) {
		c = sh->v[i].n;
		if (c->kind != NODE_CALL || c->func != FUNC_COUNT ||
		    c->account || sh->v[i].e->subject != SUBJECT_USER ||
		    strcmp(c->s, call->s) != 0)
			continue;
		if (!call->has_window ||
		    (c->has_window && c->window <= call->window))
			return i;
	}
	return -1;
}

/* Pre-register every read e makes, so that existence tests find the
 * counts that imply them wherever those come in the query. */
static void
share_add(struct expr_share *sh, const struct expr *e, const struct node *n)
{
	if (n == NULL)
		return;
	if (node_is_leaf(n)) {
		share_find(sh, e, n, 1);
		return;
	}
	share_add(sh, e, n->l);
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
static void
share_sql(struct expr_share *sh, const struct expr *e, const struct node *n,
    struct sql *q)
{
	int	 i = share_find(sh, e, n, 1), c, exists;

	/* Decided at its first use, and kept: a column once used stays. */
	if (sh->v[i].by == SHARE_UNDECIDED)
		sh->v[i].by = n->kind == NODE_COMPARE ?
		    share_implied(sh, e, n) : -1;
	if ((c = sh->v[i].by) >= 0) {
		count_exists(n, &exists);
		/* CASE, not OR: SQLite computes both sides of an OR that is
		 * a value, and only the branch taken of a CASE. */
		buf_printf(&q->text, "(CASE WHEN jd_x%d > 0 THEN %d ELSE ", c,
		    exists);
		q->share = NULL;
		count_exists_sql_of(e, n, q, "jd_sid");
		q->share = sh;
		buf_puts(&q->text, " END)");
		return;
	}
	buf_printf(&q->text, "jd_x%d", i);
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
	return share_missing(sh, e, n->l) + share_missing(sh, e, n->r);
}

/* Does share hold every leaf of e? */
int
expr_share_covers(struct expr_share *sh, const struct expr *e)
{
	return share_missing(sh, e, e->root) == 0;
}

/* Append ", LEAF AS jd_x0, ..." for every leaf in share. */
void
expr_share_columns(struct expr_share *sh, struct sql *q)
{
	struct expr_share *saved = q->share;

	q->share = NULL;
	for (int i = 0; i < sh->n; i++) {
		if (sh->v[i].by >= 0)
			continue;
		buf_puts(&q->text, ", ");
		leaf_sql(sh->v[i].e, sh->v[i].n, q);
		buf_printf(&q->text, " AS jd_x%d", i);
	}
	q->share = saved;
}

/* Free what share holds. */
void
expr_share_free(struct expr_share *sh)
{
	for (int i = 0; i < sh->n; i++)
		free(sh->v[i].key);
	free(sh->v);
	sh->v = NULL;
	sh->n = 0;
}

/* Append the SQL of a node. */
static void
node_sql(const struct expr *e, const struct node *n, struct sql *q)
{
	struct buf	*b = &q->text;

	if (q->share != NULL && node_is_leaf(n)) {
		share_sql(q->share, e, n, q);
		return;
	}
	switch (n->kind) {
	case NODE_NUMBER:
		if (n->is_float)
			sql_add_double(q, n->d);
		else
			sql_add_int(q, n->i);
		break;
	case NODE_STRING:
		sql_add_text(q, n->s);
		break;
	case NODE_BOOL:
		buf_puts(b, n->i ? "1" : "0");
		break;
	case NODE_AND:
	case NODE_OR:
		buf_puts(b, "(");
		chain_sql(e, n, q);
		buf_puts(b, ")");
		break;
	case NODE_NOT:
		buf_puts(b, "(NOT ");
		node_sql(e, n->l, q);
		buf_puts(b, ")");
		break;
	case NODE_COMPARE:
		if (node_is_leaf(n)) {
			count_exists_sql(e, n, q);
			break;
		}
		/* Absent on either side: false, never NULL. */
		buf_puts(b, "coalesce((");
		node_sql(e, n->l, q);
		buf_printf(b, ") %s (", op_sql(n->op));
		node_sql(e, n->r, q);
		buf_puts(b, "), 0)");
		break;
	case NODE_ADD:
	case NODE_SUB:
		buf_puts(b, "(");
		chain_sql(e, n, q);
		buf_puts(b, ")");
		break;
	case NODE_NEG:
		/* The operand's SQL is a parameter, a digit, a call or in
		 * parentheses: no more are needed. */
		buf_puts(b, "(-");
		node_sql(e, n->l, q);
		buf_puts(b, ")");
		break;
	case NODE_CALL:
		call_sql(e, n, q);
		break;
	}
}

/* Append the expression's SQL and parameters to q. */
void
expr_sql(const struct expr *e, struct sql *q)
{
	node_sql(e, e->root, q);
}

/* Does n or a node under it read the subject's own membership of journey? */
static int
node_reads_journey(const struct node *n, const char *journey)
{
	if (n == NULL)
		return 0;
	if (n->kind == NODE_CALL && !n->account && n->s != NULL &&
	    (n->func == FUNC_STAGE || n->func == FUNC_IN_JOURNEY ||
	    n->func == FUNC_COMPLETED) && strcmp(n->s, journey) == 0)
		return 1;
	return node_reads_journey(n->l, journey) ||
	    node_reads_journey(n->r, journey);
}

/* Does e read the subject's membership of journey (stage('j'),
 * in_journey('j'), completed('j'))? */
int
expr_reads_journey(const struct expr *e, const char *journey)
{
	return node_reads_journey(e->root, journey);
}

/* Does n or a node under it read the subject's account (account.*)? */
static int
node_reads_account(const struct node *n)
{
	if (n == NULL)
		return 0;
	if (n->kind == NODE_CALL && n->account)
		return 1;
	return node_reads_account(n->l) || node_reads_account(n->r);
}

/* Does e read the subject's account (account.attr(), account.count(),
 * account.stage(), ...)? */
int
expr_reads_account(const struct expr *e)
{
	return node_reads_account(e->root);
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

/* The leaves explain reports: comparisons and boolean values. */
struct leaf {
	const struct node	*n;
	int			 col;	/* its first column in the query */
};

/* Collect the leaves under and, or and not, and their columns. */
static void
explain_collect(const struct expr *e, const struct node *n, struct sql *q,
    struct leaf **leaves, int *nleaves, int *ncols)
{
	struct leaf	*leaf;

	if (n->kind == NODE_AND || n->kind == NODE_OR) {
		explain_collect(e, n->l, q, leaves, nleaves, ncols);
		explain_collect(e, n->r, q, leaves, nleaves, ncols);
		return;
	}
	if (n->kind == NODE_NOT) {
		explain_collect(e, n->l, q, leaves, nleaves, ncols);
		return;
	}
	*leaves = xreallocarray(*leaves, *nleaves + 1, sizeof **leaves);
	leaf = &(*leaves)[(*nleaves)++];
	leaf->n = n;
	leaf->col = *ncols;
	if (n->kind == NODE_COMPARE) {
		node_sql(e, n->l, q);
		buf_puts(&q->text, ", ");
		node_sql(e, n->r, q);
		buf_puts(&q->text, ", ");
		*ncols += 2;
	}
	node_sql(e, n, q);
	buf_puts(&q->text, ", ");
	(*ncols)++;
}

/* Append the source text of a node. */
static void
explain_source(struct buf *out, const struct expr *e, const struct node *n)
{
	buf_add(out, e->src + n->start, n->end - n->start);
}

/* Append a value read from column col of st. */
static void
explain_value(struct buf *out, sqlite3_stmt *st, int col, enum expr_type type)
{
	switch (sqlite3_column_type(st, col)) {
	case SQLITE_NULL:
		buf_puts(out, "absent");
		break;
	case SQLITE_INTEGER:
		if (type == EXPR_BOOL)
			buf_puts(out, sqlite3_column_int64(st, col) ?
			    "true" : "false");
		else
			buf_printf(out, "%lld",
			    (long long)sqlite3_column_int64(st, col));
		break;
	case SQLITE_FLOAT:
		buf_printf(out, "%.15g", sqlite3_column_double(st, col));
		break;
	default:
		buf_printf(out, "'%s'", (const char *)sqlite3_column_text(st,
		    col));
		break;
	}
}

/* The operator op as seen from its right-hand side (a < b is b > a). */
static enum token_kind
op_mirror(enum token_kind op)
{
	switch (op) {
	case TOK_LT:	return TOK_GT;
	case TOK_LE:	return TOK_GE;
	case TOK_GT:	return TOK_LT;
	case TOK_GE:	return TOK_LE;
	default:	break;
	}
	return op;
}

/* Append one line saying why a leaf holds or not. */
static void
explain_leaf(struct buf *out, const struct expr *e, const struct leaf *leaf,
    sqlite3_stmt *st, int indent)
{
	const struct node	*n = leaf->n, *value, *bound;
	int			 vcol, bcol, rcol = leaf->col;
	enum token_kind		 op;

	buf_printf(out, "%*s", indent, "");
	if (n->kind != NODE_COMPARE) {
		explain_source(out, e, n);
		buf_printf(out, ": %s\n", sqlite3_column_int(st, rcol) ?
		    "yes" : "no");
		return;
	}
	value = n->l;
	bound = n->r;
	vcol = leaf->col;
	bcol = leaf->col + 1;
	op = n->op;
	rcol = leaf->col + 2;
	if (node_constant(value) && !node_constant(bound)) {
		value = n->r;
		bound = n->l;
		vcol = leaf->col + 1;
		bcol = leaf->col;
		op = op_mirror(op);
	}
	explain_source(out, e, value);
	buf_puts(out, " = ");
	explain_value(out, st, vcol, value->type);
	buf_printf(out, " (needs %s ", op_name(op));
	explain_source(out, e, bound);
	if (!node_constant(bound)) {
		buf_puts(out, ", which is ");
		explain_value(out, st, bcol, bound->type);
	}
	buf_printf(out, "): %s\n", sqlite3_column_int(st, rcol) ? "yes" : "no");
}

/* Evaluate e for one subject and explain each comparison. */
int
expr_explain(const struct expr *e, sqlite3 *db, int64_t sid, int64_t now,
    const char *journey, int indent, struct buf *out, int *holds)
{
	struct sql	 q;
	struct leaf	*leaves = NULL;
	sqlite3_stmt	*st = NULL;
	int		 nleaves = 0, ncols = 0, rc = -1;

	*holds = 0;
	sql_init(&q);
	buf_puts(&q.text, "SELECT ");
	explain_collect(e, e->root, &q, &leaves, &nleaves, &ncols);
	expr_sql(e, &q);
	buf_puts(&q.text, " FROM " EXPR_FROM " WHERE s.sid = ");
	sql_add_int(&q, sid);

	if (sqlite3_prepare_v2(db, q.text.s, -1, &st, NULL) != SQLITE_OK ||
	    sql_bind(&q, st, now, journey) != 0) {
		buf_printf(out, "%*sdatabase error: %s\n", indent, "",
		    sqlite3_errmsg(db));
		goto out;
	}
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		for (int i = 0; i < nleaves; i++)
			explain_leaf(out, e, &leaves[i], st, indent);
		*holds = sqlite3_column_int(st, ncols) != 0;
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
	sqlite3_finalize(st);
	free(leaves);
	sql_free(&q);
	return rc;
}
