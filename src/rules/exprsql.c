/*
 * The rule language compiled to SQL (see expr.h for the names the SQL
 * refers to) and the reads several expressions share (struct expr_share).
 * Values from the source reach SQL only as bound parameters (:p1, :p2,
 * ...): named, so that their numbers never clash with :now and :journey
 * wherever those appear.
 *
 * Traits and properties are read as JSON text and compared by the SQL
 * functions of exprfn.c, which keep their types apart. An event selector's
 * condition is part of the WHERE of the events' subquery: it filters in
 * the same pass over the events as the count it filters. In a shared
 * query, the reads of one subject's events of one name (a count, a sum, a
 * since, days, each with its window and condition) are packed into one
 * scan of those events: one column, jd_pack() of their aggregates, each
 * with its FILTER.
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

/* The codes of kinds in jd_cmp() and jd_in(): enum json_kind. */
static int
kind_code(enum expr_type type)
{
	switch (type) {
	case EXPR_STR:	return JSON_STRING;
	case EXPR_NUM:	return JSON_NUMBER;
	case EXPR_BOOL:	return JSON_BOOL;
	case EXPR_ANY:	break;
	}
	return JSON_ABSENT;
}

/* Append the subject's time zone name (its timezone trait), for days(). */
static void
tz_sql(const struct expr *e, const struct node *n, struct sql *q)
{
	struct buf	*b = &q->text;

	(void)e;
	if (n->account) {
		buf_puts(b, "(SELECT jd_str(" STORE_TRAITS_ASOF("a") " -> ");
		sql_add_text(q, "$.\"timezone\"");
		buf_puts(b, ") FROM subjects a WHERE a.sid = "
		    STORE_ACCOUNT_ASOF("s") ")");
	} else {
		buf_puts(b, "jd_str(" STORE_TRAITS_ASOF("s") " -> ");
		sql_add_text(q, "$.\"timezone\"");
		buf_puts(b, ")");
	}
}

/* Does a read of events need the subject's time zone (days())? */
int
node_needs_tz(const struct node *n)
{
	return n->func == FUNC_DAYS || n->func == FUNC_ACTIVE_DAYS;
}

/* Append "TABLE e WHERE " and the subject's part of the WHERE of the rows
 * of table (events, events_pruned) that n reads. */
static void
subject_rows_sql(const struct expr *e, const struct node *n, struct sql *q,
    const char *table, const char *sid)
{
	struct buf	*b = &q->text;

	if (n->account)			/* all users of the user's account */
		buf_printf(b, "%s e WHERE e.subject IN ("
		    STORE_MEMBERS_ASOF(STORE_ACCOUNT_ASOF("s")) ")", table);
	else if (e->subject == SUBJECT_ACCOUNT)	/* all the account's users */
		buf_printf(b, "%s e WHERE e.subject IN ("
		    STORE_MEMBERS_ASOF("s.sid") ")", table);
	else
		buf_printf(b, "%s e WHERE e.subject = %s", table, sid);
}

/* Append the FROM and the subject's part of the WHERE of the events that
 * n reads: a user's own events by sid ("s.sid" unless given), all the
 * account's users' events for an account or account.NAME(); with tz, the
 * subject's time zone as z.tz, computed once for its events. */
void
exprsql_events_from(const struct expr *e, const struct node *n,
    struct sql *q, const char *sid, int tz)
{
	struct buf	*b = &q->text;

	buf_puts(b, "FROM ");
	if (tz) {
		buf_puts(b, "(SELECT ");
		tz_sql(e, n, q);
		buf_puts(b, " AS tz LIMIT 1) z CROSS JOIN ");
	}
	subject_rows_sql(e, n, q, "events", sid);
}

/* Does n read what pruning left of its events (events_pruned) beside
 * them: a count, since or since_first without a window or a condition?
 * Pruning keeps every other read's events (prune_plan()). */
int
node_reads_pruned(const struct node *n)
{
	return n->kind == NODE_CALL && !n->has_window && n->where == NULL &&
	    (n->func == FUNC_COUNT || n->func == FUNC_SINCE ||
	    n->func == FUNC_SINCE_FIRST);
}

/* Append a subquery of agg over the subject's pruned events of n's name,
 * by sid. */
static void
pruned_sql(const struct expr *e, const struct node *n, struct sql *q,
    const char *agg, const char *sid)
{
	buf_printf(&q->text, "(SELECT %s FROM ", agg);
	subject_rows_sql(e, n, q, "events_pruned", sid);
	buf_puts(&q->text, " AND e.name = ");
	sql_add_text(q, n->s);
	buf_puts(&q->text, " AND e.first_ts <= :now)");
}

/* Append the condition of an event selector, never over shared reads. */
void
exprsql_where(const struct expr *e, const struct node *n, struct sql *q)
{
	struct expr_share	*saved = q->share;

	q->share = NULL;
	buf_puts(&q->text, "(");
	node_sql(e, n->where, q);
	buf_puts(&q->text, ")");
	q->share = saved;
}

/* Append the rest of the WHERE of the events n reads: its name, its
 * window (when window >= 0) and, with cond, its condition. */
void
exprsql_events_where(const struct expr *e, const struct node *n,
    struct sql *q, int64_t window, int cond)
{
	struct buf	*b = &q->text;

	if (n->func != FUNC_ACTIVE_DAYS) {
		buf_puts(b, " AND e.name = ");
		sql_add_text(q, n->s);
	}
	buf_puts(b, " AND e.ts <= :now");
	if (window >= 0) {
		buf_puts(b, " AND e.ts >= :now - ");
		sql_add_int(q, window);
	}
	if (cond && n->where != NULL) {
		buf_puts(b, " AND ");
		exprsql_where(e, n, q);
	}
}

/* Append the FROM and WHERE of the events a read of events makes. */
static void
events_sql_of(const struct expr *e, const struct node *n, struct sql *q,
    const char *sid)
{
	exprsql_events_from(e, n, q, sid, node_needs_tz(n));
	exprsql_events_where(e, n, q, n->has_window ? n->window : -1, 1);
}

/* Append the aggregate of a count, since or since_first over its rows e
 * and what pruning left of its events. max() and min() of two values are
 * NULL when one is, hence the coalesce. */
static void
pruned_aggregate(const struct expr *e, const struct node *n, struct sql *q)
{
	struct buf	*b = &q->text;
	const char	*f = n->func == FUNC_SINCE ? "max" : "min";
	const char	*col = n->func == FUNC_SINCE ? "max(e.last_ts)" :
			    "min(e.first_ts)";

	if (n->func == FUNC_COUNT) {
		buf_puts(b, "(count(*) + ");
		pruned_sql(e, n, q, "coalesce(sum(e.n), 0)", "s.sid");
		buf_puts(b, ")");
		return;
	}
	buf_printf(b, "coalesce(%s(%s(e.ts), ", f, f);
	pruned_sql(e, n, q, col, "s.sid");
	buf_printf(b, "), %s(e.ts), ", f);
	pruned_sql(e, n, q, col, "s.sid");
	buf_puts(b, ")");
}

/* Append the aggregate of a read of events, over its rows e (and z). */
void
exprsql_aggregate(const struct expr *e, const struct node *n, struct sql *q)
{
	struct buf	*b = &q->text;

	if (node_reads_pruned(n)) {
		pruned_aggregate(e, n, q);
		return;
	}
	switch (n->func) {
	case FUNC_SUM:
		buf_puts(b, "total(jd_num(e.props -> ");
		sql_add_text(q, n->prop);
		buf_puts(b, "))");
		break;
	case FUNC_SINCE:
		buf_puts(b, "max(e.ts)");
		break;
	case FUNC_SINCE_FIRST:
		buf_puts(b, "min(e.ts)");
		break;
	case FUNC_DAYS:
	case FUNC_ACTIVE_DAYS:
		buf_puts(b, "count(DISTINCT jd_day(e.ts, z.tz, ");
		if (e->default_tz != NULL)
			sql_add_text(q, e->default_tz);
		else
			buf_puts(b, "NULL");
		buf_puts(b, "))");
		break;
	default:
		buf_puts(b, "count(*)");
		break;
	}
}

/* Is n a read of events (count, sum, since, since_first, days)? */
int
node_reads_events(const struct node *n)
{
	if (n->kind != NODE_CALL)
		return 0;
	switch (n->func) {
	case FUNC_COUNT:
	case FUNC_SUM:
	case FUNC_SINCE:
	case FUNC_SINCE_FIRST:
	case FUNC_DAYS:
	case FUNC_ACTIVE_DAYS:
		return 1;
	default:
		return 0;
	}
}

/* Is the value of n's aggregate a time, of which n is the age? */
int
node_is_age(const struct node *n)
{
	return n->func == FUNC_SINCE || n->func == FUNC_SINCE_FIRST;
}

/* Append the JSON text of a trait or property. */
static void
read_sql(const struct node *n, struct sql *q)
{
	struct buf	*b = &q->text;

	if (n->func == FUNC_PROP) {
		buf_puts(b, "(e.props -> ");
		sql_add_text(q, n->path);
		buf_puts(b, ")");
	} else if (n->account) {
		buf_puts(b, "(SELECT " STORE_TRAITS_ASOF("a") " -> ");
		sql_add_text(q, n->path);
		buf_puts(b, " FROM subjects a WHERE a.sid = "
		    STORE_ACCOUNT_ASOF("s") ")");
	} else {
		buf_puts(b, "(" STORE_TRAITS_ASOF("s") " -> ");
		sql_add_text(q, n->path);
		buf_puts(b, ")");
	}
}

/* Append the SQL of a membership read: stage(), in_journey(),
 * completed(). */
static void
member_sql(const struct node *n, struct sql *q)
{
	struct buf	*b = &q->text;
	const char	*who = n->account ? STORE_ACCOUNT_ASOF("s") : "s.sid";

	if (n->func == FUNC_STAGE) {
		buf_puts(b, "(SELECT j.stage FROM members j WHERE j.journey = ");
		sql_add_text(q, n->s);
		buf_printf(b, " AND j.subject = %s AND j.status <> %d)", who,
		    MEMBER_EXITED);
		return;
	}
	buf_puts(b, "EXISTS (SELECT 1 FROM members j WHERE j.journey = ");
	sql_add_text(q, n->s);
	if (n->func == FUNC_COMPLETED)
		buf_printf(b, " AND j.subject = s.sid AND j.status = %d)",
		    MEMBER_COMPLETED);
	else
		buf_printf(b, " AND j.subject = s.sid AND j.status IN (%d, "
		    "%d))", MEMBER_ACTIVE, MEMBER_COMPLETED);
}

/* Append the SQL of users() or active_users(). */
static void
users_sql(const struct node *n, struct sql *q)
{
	struct buf	*b = &q->text;
	if (n->func == FUNC_USERS) {
		buf_puts(b, n->account ? "(SELECT count(*) FROM ("
		    STORE_MEMBERS_ASOF(STORE_ACCOUNT_ASOF("s")) "))" :
		    "(SELECT count(*) FROM (" STORE_MEMBERS_ASOF("s.sid") "))");
		return;
	}
	buf_puts(b, n->account ? "(SELECT count(*) FROM ("
	    STORE_MEMBERS_ASOF(STORE_ACCOUNT_ASOF("s")) ") u" :
	    "(SELECT count(*) FROM (" STORE_MEMBERS_ASOF("s.sid") ") u");
	buf_puts(b, " WHERE EXISTS (SELECT 1 FROM events e WHERE e.subject = "
	    "u.sid AND e.ts <= :now AND e.ts >= :now - ");
	sql_add_int(q, n->window);
	buf_puts(b, "))");
}

/* Append the SQL of since_joined(): the time since the first version of
 * the user's membership of its account as of now, after the last one of
 * another account (the versions by (ts, seq), as the store orders them). */
static void
joined_sql(struct sql *q)
{
	buf_puts(&q->text, "(:now - (SELECT av.ts FROM account_versions av "
	    "WHERE av.subject = s.sid AND av.ts <= :now AND av.account = "
	    STORE_ACCOUNT_ASOF("s") " AND NOT EXISTS (SELECT 1 FROM "
	    "account_versions ax WHERE ax.subject = s.sid AND ax.ts <= :now "
	    "AND ax.account IS NOT " STORE_ACCOUNT_ASOF("s") " AND (ax.ts > "
	    "av.ts OR (ax.ts = av.ts AND ax.seq > av.seq))) ORDER BY av.ts, "
	    "av.seq LIMIT 1))");
}

/* Append the SQL of stage_age, journey_age or stalled. */
static void
age_sql(const struct expr *e, const struct node *n, struct sql *q)
{
	struct buf	*b = &q->text;

	if (n->func != FUNC_STALLED) {
		buf_printf(b, "(CASE WHEN m.status <> %d THEN :now - %s END)",
		    MEMBER_EXITED, n->func == FUNC_STAGE_AGE ? "m.stage_since" :
		    "m.entered");
		return;
	}
	if (e->nstalls == 0) {
		buf_puts(b, "0");
		return;
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
}

/* Append the SQL of a string function or time(). */
static void
string_fn_sql(const struct expr *e, const struct node *n, struct sql *q)
{
	struct buf	*b = &q->text;

	switch (n->func) {
	case FUNC_CONTAINS:
		buf_puts(b, "coalesce(instr(");
		break;
	case FUNC_STARTS_WITH:
		buf_puts(b, "jd_starts_with(");
		break;
	case FUNC_ENDS_WITH:
		buf_puts(b, "jd_ends_with(");
		break;
	case FUNC_LOWER:
		buf_puts(b, "lower(");
		break;
	default:
		buf_puts(b, "unixepoch(jd_iso(");
		break;
	}
	node_sql_as(e, n->l, EXPR_STR, q);
	if (n->r != NULL) {
		buf_puts(b, ", ");
		node_sql_as(e, n->r, EXPR_STR, q);
	}
	buf_puts(b, n->func == FUNC_CONTAINS ? ") > 0, 0)" :
	    n->func == FUNC_TIME ? "))" : ")");
}

/* Append the SQL of a function or a name like stage_age. */
void
exprsql_call(const struct expr *e, const struct node *n, struct sql *q)
{
	struct buf	*b = &q->text;

	if (node_reads_events(n)) {
		buf_puts(b, node_is_age(n) ? "(:now - (SELECT " : "(SELECT ");
		exprsql_aggregate(e, n, q);
		buf_puts(b, " ");
		events_sql_of(e, n, q, "s.sid");
		buf_puts(b, node_is_age(n) ? "))" : ")");
		return;
	}
	switch (n->func) {
	case FUNC_ATTR:
	case FUNC_PROP:
		read_sql(n, q);
		break;
	case FUNC_HAS:
		if (n->account) {
			buf_puts(b, "EXISTS (SELECT 1 FROM subjects a WHERE "
			    "a.sid = " STORE_ACCOUNT_ASOF("s") " AND json_type("
			    STORE_TRAITS_ASOF("a") ", ");
			sql_add_text(q, n->path);
			buf_puts(b, ") IS NOT NULL)");
		} else {
			buf_puts(b, "(json_type(" STORE_TRAITS_ASOF("s")
			    ", ");
			sql_add_text(q, n->path);
			buf_puts(b, ") IS NOT NULL)");
		}
		break;
	case FUNC_STAGE:
	case FUNC_IN_JOURNEY:
	case FUNC_COMPLETED:
		member_sql(n, q);
		break;
	case FUNC_USERS:
	case FUNC_ACTIVE_USERS:
		users_sql(n, q);
		break;
	case FUNC_STAGE_AGE:
	case FUNC_JOURNEY_AGE:
	case FUNC_STALLED:
		age_sql(e, n, q);
		break;
	case FUNC_NOW:
		buf_puts(b, ":now");
		break;
	case FUNC_SINCE_JOINED:
		joined_sql(q);
		break;
	default:
		string_fn_sql(e, n, q);
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

/* Append a chain of and, or, + or - without nesting its left operands in
 * parentheses: SQLite reads "a OR b OR c" and "a + b - c" from the left,
 * as the parser built them. Right operands are parenthesized; the
 * operands of + and - are numbers. */
static void
chain_sql(const struct expr *e, const struct node *n, struct sql *q)
{
	struct buf	*b = &q->text;
	enum expr_type	 want = n->kind == NODE_AND || n->kind == NODE_OR ?
			    EXPR_BOOL : EXPR_NUM;
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
		node_sql_as(e, n->l, want, q);
		buf_puts(b, ")");
	}
	buf_puts(b, op);
	buf_puts(b, "(");
	node_sql_as(e, n->r, want, q);
	buf_puts(b, ")");
}

/* Append *, / (real division) or % (of the truncated integers); by zero,
 * SQLite gives NULL: absent. */
static void
product_sql(const struct expr *e, const struct node *n, struct sql *q)
{
	struct buf	*b = &q->text;

	buf_puts(b, n->kind == NODE_DIV ? "(CAST((" : n->kind == NODE_MOD ?
	    "(CAST((" : "((");
	node_sql_as(e, n->l, EXPR_NUM, q);
	buf_puts(b, n->kind == NODE_DIV ? ") AS REAL) / (" :
	    n->kind == NODE_MOD ? ") AS INTEGER) % CAST((" : ") * (");
	node_sql_as(e, n->r, EXPR_NUM, q);
	buf_puts(b, n->kind == NODE_MOD ? ") AS INTEGER))" : "))");
}

/* Append a comparison: plain SQL between two typed sides (absent on
 * either side: false, never NULL), jd_cmp() when a side is a trait. */
static void
compare_sql(const struct expr *e, const struct node *n, struct sql *q)
{
	struct buf		*b = &q->text;
	const struct node	*l = n->l, *r = n->r;
	enum token_kind		 op = n->op;

	if (l->type != EXPR_ANY && r->type != EXPR_ANY) {
		buf_puts(b, "coalesce((");
		node_sql(e, l, q);
		buf_printf(b, ") %s (", op_sql(op));
		node_sql(e, r, q);
		buf_puts(b, "), 0)");
		return;
	}
	if (l->type != EXPR_ANY) {
		l = n->r;
		r = n->l;
		op = op_mirror(op);
	}
	buf_puts(b, "jd_cmp(");
	node_sql(e, l, q);
	buf_printf(b, ", %d, %d, ", cmp_code_of(op), kind_code(r->type));
	node_sql(e, r, q);
	buf_puts(b, ")");
}

/* Append the value of a literal of an in list. */
static void
item_sql(const struct node *i, struct sql *q)
{
	if (i->kind == NODE_STRING)
		sql_add_text(q, i->s);
	else if (i->kind == NODE_BOOL)
		buf_puts(&q->text, i->i ? "1" : "0");
	else if (i->is_float)
		sql_add_double(q, i->d);
	else
		sql_add_int(q, i->i);
}

/* Append x in (...): SQL's IN for a typed x, jd_in() for a trait. */
static void
in_sql(const struct expr *e, const struct node *n, struct sql *q)
{
	struct buf	*b = &q->text;
	int		 any = n->l->type == EXPR_ANY;

	buf_puts(b, any ? "jd_in(" : "coalesce((");
	node_sql(e, n->l, q);
	buf_puts(b, any ? "" : ") IN (");
	for (const struct node *i = n->r; i != NULL; i = i->next) {
		if (any)
			buf_printf(b, ", %d, ", kind_code(i->type));
		else if (i != n->r)
			buf_puts(b, ", ");
		item_sql(i, q);
	}
	buf_puts(b, any ? ")" : "), 0)");
}

/*
 * A comparison of a count with 0 or 1 that only asks whether there is an
 * event ("count('ride') >= 1", "count('x', 7d) == 0", "0 < count('y')"):
 * its count is written as EXISTS or NOT EXISTS of the events, which stops
 * at the first one instead of counting them all. Returns the count's node
 * and sets *exists, or returns NULL for any other node.
 */
const struct node *
node_count_exists(const struct node *n, int *exists)
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

/* Append the EXISTS of a comparison node_count_exists accepts, the subject's
 * events found by sid. */
void
exprsql_count_exists(const struct expr *e, const struct node *n,
    struct sql *q, const char *sid)
{
	const struct node	*call;
	int			 exists;

	call = node_count_exists(n, &exists);
	buf_puts(&q->text, exists ? "(EXISTS (SELECT 1 " :
	    "(NOT EXISTS (SELECT 1 ");
	events_sql_of(e, call, q, sid);
	if (node_reads_pruned(call)) {
		buf_puts(&q->text, exists ? ") OR EXISTS " :
		    ") AND NOT EXISTS ");
		pruned_sql(e, call, q, "1", sid);
	} else
		buf_puts(&q->text, ")");
	buf_puts(&q->text, ")");
}

/* Append the SQL of a node. */
void
node_sql(const struct expr *e, const struct node *n, struct sql *q)
{
	struct buf	*b = &q->text;

	if (q->share != NULL && node_is_leaf(n)) {
		exprshare_sql(q->share, e, n, q);
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
	case NODE_ADD:
	case NODE_SUB:
		buf_puts(b, "(");
		chain_sql(e, n, q);
		buf_puts(b, ")");
		break;
	case NODE_MUL:
	case NODE_DIV:
	case NODE_MOD:
		product_sql(e, n, q);
		break;
	case NODE_NOT:
		buf_puts(b, "(NOT ");
		node_sql(e, n->l, q);
		buf_puts(b, ")");
		break;
	case NODE_COMPARE:
		if (node_is_leaf(n))
			exprsql_count_exists(e, n, q, "s.sid");
		else
			compare_sql(e, n, q);
		break;
	case NODE_NEG:
		/* The operand's SQL is a parameter, a digit, a call or in
		 * parentheses: no more are needed. */
		buf_puts(b, "(-");
		node_sql_as(e, n->l, EXPR_NUM, q);
		buf_puts(b, ")");
		break;
	case NODE_IN:
		in_sql(e, n, q);
		break;
	case NODE_CALL:
		exprsql_call(e, n, q);
		break;
	case NODE_SEGMENT:
		node_sql(n->seg, n->seg->root, q);
		break;
	}
}

/* Append the SQL of n read as type want: a trait's JSON text turned into
 * a number, a string or a boolean (NULL when it is not one). */
void
node_sql_as(const struct expr *e, const struct node *n, enum expr_type want,
    struct sql *q)
{
	if (n->type != EXPR_ANY || want == EXPR_ANY) {
		node_sql(e, n, q);
		return;
	}
	buf_puts(&q->text, want == EXPR_NUM ? "jd_num(" : want == EXPR_STR ?
	    "jd_str(" : "jd_bool(");
	node_sql(e, n, q);
	buf_puts(&q->text, ")");
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
	if (n->kind == NODE_SEGMENT)
		return node_reads_journey(n->seg->root, journey);
	return node_reads_journey(n->l, journey) ||
	    node_reads_journey(n->r, journey) ||
	    node_reads_journey(n->where, journey);
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
	if (n->kind == NODE_SEGMENT)
		return node_reads_account(n->seg->root);
	return node_reads_account(n->l) || node_reads_account(n->r) ||
	    node_reads_account(n->where);
}

/* Does e read the subject's account (account.attr(), account.count(),
 * account.stage(), ...)? */
int
expr_reads_account(const struct expr *e)
{
	return node_reads_account(e->root);
}
