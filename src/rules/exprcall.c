/*
 * The rule language's functions (SPEC §6, §14): the names without
 * parentheses (stage_age, now, ...), the calls and their arguments, event
 * selectors with where, trait and property paths, and segments.
 *
 * A segment('name') is compiled where it is used, in the scope of the
 * expression that uses it, into a subtree with its own source (struct
 * expr): so a segment means the same in a user and in an account journey
 * as it would written out there, and its errors name it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "rules/expr.h"
#include "rules/expr-int.h"

/*
 * The functions called with parentheses. Their arguments: 'e' an event
 * selector ('name', or 'name' where CONDITION), 'k' a trait or property
 * path, 'p' sum()'s property path, 'j' a journey, 'g' a segment (each a
 * quoted string), 'w' a window (a duration), 's' any string expression.
 */
static const struct func_def {
	const char	*name;
	enum func	 func;
	int		 account_ok;	/* also as account.NAME() */
	int		 account_only;	/* without account., only in account
					 * journeys */
	int		 aggregate;	/* reads many events or users */
	int		 min;
	int		 max;
	const char	*args;
	enum expr_type	 type;
	enum unit	 unit;
} func_defs[] = {
	{ "count", FUNC_COUNT, 1, 0, 1, 1, 2, "ew", EXPR_NUM, UNIT_PLAIN },
	{ "sum", FUNC_SUM, 1, 0, 1, 2, 3, "epw", EXPR_NUM, UNIT_PLAIN },
	{ "since", FUNC_SINCE, 1, 0, 1, 1, 1, "e", EXPR_NUM, UNIT_DURATION },
	{ "since_first", FUNC_SINCE_FIRST, 1, 0, 1, 1, 1, "e", EXPR_NUM,
	  UNIT_DURATION },
	{ "days", FUNC_DAYS, 1, 0, 1, 1, 2, "ew", EXPR_NUM, UNIT_PLAIN },
	{ "active_days", FUNC_ACTIVE_DAYS, 1, 0, 1, 1, 1, "w", EXPR_NUM,
	  UNIT_PLAIN },
	{ "attr", FUNC_ATTR, 1, 0, 0, 1, 1, "k", EXPR_ANY, UNIT_PLAIN },
	{ "has", FUNC_HAS, 1, 0, 0, 1, 1, "k", EXPR_BOOL, UNIT_PLAIN },
	{ "prop", FUNC_PROP, 0, 0, 0, 1, 1, "k", EXPR_ANY, UNIT_PLAIN },
	{ "stage", FUNC_STAGE, 1, 0, 0, 1, 1, "j", EXPR_STR, UNIT_PLAIN },
	{ "in_journey", FUNC_IN_JOURNEY, 0, 0, 0, 1, 1, "j", EXPR_BOOL,
	  UNIT_PLAIN },
	{ "completed", FUNC_COMPLETED, 0, 0, 0, 1, 1, "j", EXPR_BOOL,
	  UNIT_PLAIN },
	{ "users", FUNC_USERS, 1, 1, 1, 0, 0, "", EXPR_NUM, UNIT_PLAIN },
	{ "active_users", FUNC_ACTIVE_USERS, 1, 1, 1, 1, 1, "w", EXPR_NUM,
	  UNIT_PLAIN },
	{ "since_joined", FUNC_SINCE_JOINED, 0, 0, 0, 0, 0, "", EXPR_NUM,
	  UNIT_DURATION },
	{ "segment", FUNC_SEGMENT, 0, 0, 0, 1, 1, "g", EXPR_BOOL, UNIT_PLAIN },
	{ "contains", FUNC_CONTAINS, 0, 0, 0, 2, 2, "ss", EXPR_BOOL,
	  UNIT_PLAIN },
	{ "starts_with", FUNC_STARTS_WITH, 0, 0, 0, 2, 2, "ss", EXPR_BOOL,
	  UNIT_PLAIN },
	{ "ends_with", FUNC_ENDS_WITH, 0, 0, 0, 2, 2, "ss", EXPR_BOOL,
	  UNIT_PLAIN },
	{ "lower", FUNC_LOWER, 0, 0, 0, 1, 1, "s", EXPR_STR, UNIT_PLAIN },
	{ "time", FUNC_TIME, 0, 0, 0, 1, 1, "s", EXPR_NUM, UNIT_TIME },
};
#define NFUNC_DEFS (sizeof func_defs / sizeof func_defs[0])

/* The names without parentheses. */
static const struct name_def {
	const char	*name;
	enum func	 func;
	enum expr_type	 type;
	enum unit	 unit;
} name_defs[] = {
	{ "stage_age", FUNC_STAGE_AGE, EXPR_NUM, UNIT_DURATION },
	{ "journey_age", FUNC_JOURNEY_AGE, EXPR_NUM, UNIT_DURATION },
	{ "stalled", FUNC_STALLED, EXPR_BOOL, UNIT_PLAIN },
	{ "now", FUNC_NOW, EXPR_NUM, UNIT_TIME },
};
#define NNAME_DEFS (sizeof name_defs / sizeof name_defs[0])

/* Check a journey named by stage(), in_journey() or completed(). */
static int
check_journey(struct parser *p, const struct node *n, size_t offset)
{
	const struct config	*conf = p->scope->conf;
	enum subject_kind	 want = p->scope->subject;

	if (conf == NULL)
		return 0;
	if (n->account)
		want = SUBJECT_ACCOUNT;
	for (int i = 0; i < conf->njourneys; i++) {
		const struct journey *j = &conf->journeys[i];

		if (j->name == NULL || strcmp(j->name, n->s) != 0)
			continue;
		if (j->subject != want) {
			parse_error(p, offset, "journey '%s' is %s journey",
			    n->s, j->subject == SUBJECT_ACCOUNT ?
			    "an account" : "a user");
			return -1;
		}
		return 0;
	}
	parse_error(p, offset, "unknown journey '%s'", n->s);
	return -1;
}

/*
 * Turn a trait or property path ("address.city", "items[0].sku") into a
 * JSON path ('$."address"."city"', '$."items"[0]."sku"'): dots descend
 * into objects, [n] into arrays. NULL with *why for a bad path.
 */
static char *
path_json(const char *key, const char **why)
{
	const char	*s = key;
	struct buf	 b;
	size_t		 n, d;

	buf_init(&b);
	buf_puts(&b, "$");
	for (;;) {
		if ((n = strcspn(s, ".[]")) == 0) {
			*why = *key == '\0' ? "is empty" : "has an empty name";
			goto bad;
		}
		buf_printf(&b, ".\"%.*s\"", (int)n, s);
		for (s += n; *s == '['; s += d + 2) {
			d = strspn(s + 1, "0123456789");
			if (d == 0 || d > 9 || s[1 + d] != ']') {
				*why = "has a bad index (use [0], [1], ...)";
				goto bad;
			}
			buf_printf(&b, "[%.*s]", (int)d, s + 1);
		}
		if (*s == '\0')
			return buf_steal(&b);
		if (*s++ != '.') {
			*why = "has a ']' out of place";
			goto bad;
		}
	}
bad:
	buf_free(&b);
	return NULL;
}

/* The JSON path of a trait or property path, or NULL after an error. */
static char *
check_path(struct parser *p, const char *key, const char *what,
    size_t offset)
{
	const char	*why = NULL;
	char		*path;

	if (strpbrk(key, "\"\\") != NULL) {
		parse_error(p, offset, "a %s name cannot contain '\"' or '\\'",
		    what);
		return NULL;
	}
	if ((path = path_json(key, &why)) == NULL)
		parse_error(p, offset, "the %s path '%s' %s (write "
		    "'address.city' or 'items[0].sku')", what, key, why);
	return path;
}

/* Copy the stages of the journey in scope that have an expect. */
static int
scope_stalls(struct parser *p, size_t offset)
{
	const struct journey	*j = p->scope->journey;
	struct expr		*e = p->expr;

	if (j == NULL || e->stalls != NULL)
		return 0;
	for (int i = 0; i < j->nstages; i++) {
		if (j->stages[i].expect <= 0)
			continue;
		e->stalls = xreallocarray(e->stalls, e->nstalls + 1,
		    sizeof *e->stalls);
		e->stalls[e->nstalls].name = xstrdup(j->stages[i].name);
		e->stalls[e->nstalls++].expect = j->stages[i].expect;
	}
	if (e->nstalls == 0) {
		parse_error(p, offset, "'stalled' needs a stage with an "
		    "expect in journey '%s'", j->name ? j->name : "");
		return -1;
	}
	return 0;
}

/* Take one quoted-string argument of kind ('e', 'k', 'p', 'j', 'g'). */
static int
call_string_arg(struct parser *p, struct node *n, struct node *a, char kind)
{
	switch (kind) {
	case 'e':
		n->s = a->s;
		n->where = a->where;
		a->s = NULL;
		a->where = NULL;
		return 0;
	case 'k':
		n->s = a->s;
		a->s = NULL;
		n->path = check_path(p, n->s, n->func == FUNC_PROP ?
		    "property" : "trait", a->start);
		return n->path != NULL ? 0 : -1;
	case 'p':
		n->prop = check_path(p, a->s, "property", a->start);
		return n->prop != NULL ? 0 : -1;
	case 'j':
		n->s = a->s;
		a->s = NULL;
		return check_journey(p, n, a->start);
	default:
		n->s = a->s;
		a->s = NULL;
		return 0;
	}
}

/* Check the number of a call's arguments. */
static int
call_nargs(struct parser *p, const struct node *n, const struct func_def *def,
    const char *fname, int nargs)
{
	if (nargs >= def->min && nargs <= def->max)
		return 0;
	if (def->min == def->max)
		parse_error(p, n->start, "%s() takes %d argument%s, got %d",
		    fname, def->min, def->min == 1 ? "" : "s", nargs);
	else
		parse_error(p, n->start, "%s() takes %d or %d arguments, got "
		    "%d", fname, def->min, def->max, nargs);
	return -1;
}

/* Give a call node its arguments, checking their number and types; the
 * arguments it keeps are taken out of args. */
static int
call_args(struct parser *p, struct node *n, const struct func_def *def,
    const char *fname, struct node **args, int nargs)
{
	struct node	*a;
	char		 kind;

	if (call_nargs(p, n, def, fname, nargs) != 0)
		return -1;
	for (int k = 0; k < nargs; k++) {
		a = args[k];
		kind = def->args[k];
		if (a->where != NULL && kind != 'e') {
			parse_error(p, a->where->start, "'where' "
			    "only follows the event name of count(), sum(), "
			    "since(), since_first() or days()");
			return -1;
		}
		if (kind == 'w') {
			if (a->kind != NODE_NUMBER || !a->is_duration) {
				parse_error(p, a->start, "the window of %s() "
				    "must be a duration like 30d", fname);
				return -1;
			}
			n->window = a->i;
			n->has_window = 1;
		} else if (kind == 's') {
			if (a->type != EXPR_STR && a->type != EXPR_ANY) {
				parse_error(p, a->start, "argument %d of %s() "
				    "must be a string, got %s", k + 1, fname,
				    type_name(a->type));
				return -1;
			}
			if (k == 0)
				n->l = a;
			else
				n->r = a;
			args[k] = NULL;
		} else if (a->kind != NODE_STRING) {
			parse_error(p, a->start, "argument %d of %s() must be "
			    "a quoted string", k + 1, fname);
			return -1;
		} else if (call_string_arg(p, n, a, kind) != 0)
			return -1;
	}
	return 0;
}

/* Parse a call's parenthesised arguments; the current token is '('. An
 * argument that is a string may be followed by "where CONDITION". */
static int
parse_args(struct parser *p, struct node **args, int *nargs, size_t *end)
{
	struct node	*a, *cond;

	*nargs = 0;
	if (lex_next(p) != 0)
		return -1;
	if (p->tok.kind != TOK_RPAREN) {
		for (;;) {
			if (parse_enter(p) != 0 || (a = parse_or(p)) == NULL)
				return -1;
			p->depth--;
			if (*nargs < 3)
				args[(*nargs)++] = a;
			else {
				node_free(a);
				(*nargs)++;
				a = NULL;
			}
			if (tok_is(p, "where")) {
				if (a == NULL || a->kind != NODE_STRING) {
					parse_error(p, p->tok.start, "'where' "
					    "follows an event name in quotes");
					return -1;
				}
				p->in_where++;
				if (lex_next(p) != 0 ||
				    (cond = parse_or(p)) == NULL)
					return -1;
				p->in_where--;
				a->where = cond;
				a->end = cond->end;
				if (cond->type != EXPR_BOOL && !p->lenient) {
					parse_error(p, cond->start, "the "
					    "condition after 'where' must be a "
					    "boolean, got %s",
					    type_name(cond->type));
					return -1;
				}
			}
			if (p->tok.kind != TOK_COMMA)
				break;
			if (lex_next(p) != 0)
				return -1;
		}
	}
	if (p->tok.kind != TOK_RPAREN) {
		parse_syntax_error(p, p->tok.start, "expected ')'");
		return -1;
	}
	*end = p->tok.end;
	return lex_next(p);
}

/* Parse a name without parentheses (stage_age, now, ...) or true/false;
 * NULL without an error when the current token is neither. */
struct node *
parse_word(struct parser *p, int *failed)
{
	const struct name_def	*def = NULL;
	struct node		*n;
	size_t			 start = p->tok.start, end = p->tok.end;

	*failed = 0;
	if (tok_is(p, "true") || tok_is(p, "false")) {
		n = node_new(NODE_BOOL, EXPR_BOOL, start, end);
		n->i = tok_is(p, "true");
		goto next;
	}
	for (size_t i = 0; i < NNAME_DEFS; i++)
		if (tok_is(p, name_defs[i].name))
			def = &name_defs[i];
	if (def == NULL)
		return NULL;
	n = node_new(NODE_CALL, def->type, start, end);
	n->func = def->func;
	n->unit = def->unit;
	if (n->func == FUNC_STALLED && scope_stalls(p, start) != 0)
		goto fail;
next:
	if (lex_next(p) != 0)
		goto fail;
	if (n->kind == NODE_CALL && p->tok.kind == TOK_LPAREN) {
		parse_error(p, start, "'%.*s' is not a function",
		    (int)(end - start), p->src + start);
		goto fail;
	}
	return n;
fail:
	node_free(n);
	*failed = 1;
	return NULL;
}

/* Is the call def, written with account. or not, allowed where it is? */
static int
check_call_scope(struct parser *p, const struct func_def *def, int account,
    const char *fname, size_t start)
{
	enum subject_kind	 subject = p->scope->subject;

	if (account && subject == SUBJECT_ACCOUNT) {
		parse_error(p, start, "%s() is not available in an account "
		    "journey", fname);
		return -1;
	}
	if (def->func == FUNC_SINCE_JOINED && subject == SUBJECT_ACCOUNT) {
		parse_error(p, start, "%s() is only available in a user "
		    "journey", fname);
		return -1;
	}
	if (def->account_only && !account && subject != SUBJECT_ACCOUNT) {
		parse_error(p, start, "%s() is only available in an account "
		    "journey", fname);
		return -1;
	}
	if (def->aggregate && p->in_where) {
		parse_error(p, start, "%s() cannot be used after 'where': the "
		    "condition reads the event's prop() and the subject's "
		    "attr(), not counts", fname);
		return -1;
	}
	if (def->func == FUNC_PROP && !p->in_where) {
		parse_error(p, start, "prop() reads a property of an event: "
		    "use it after 'where' in an event selector");
		return -1;
	}
	return 0;
}

/* Find the function of a call ("count", "account.attr") and check that it
 * may be used here; the current token is its name. */
static const struct func_def *
parse_func(struct parser *p, int *account, char *fname, size_t len)
{
	const struct func_def	*def = NULL;
	size_t			 start = p->tok.start;

	*account = 0;
	if (tok_is(p, "account")) {
		*account = 1;
		if (lex_next(p) != 0)
			return NULL;
		if (p->tok.kind != TOK_DOT) {
			parse_syntax_error(p, p->tok.start, "expected '.' "
			    "after 'account'");
			return NULL;
		}
		if (lex_next(p) != 0)
			return NULL;
		if (p->tok.kind != TOK_NAME) {
			parse_syntax_error(p, p->tok.start, "expected a "
			    "function after 'account.'");
			return NULL;
		}
	}
	snprintf(fname, len, "%s%.40s", *account ? "account." : "",
	    p->tok.s);
	for (size_t i = 0; i < NFUNC_DEFS; i++)
		if (strcmp(func_defs[i].name, p->tok.s) == 0)
			def = &func_defs[i];
	if (def == NULL || (*account && !def->account_ok)) {
		if (lex_next(p) != 0)
			return NULL;
		if (p->tok.kind == TOK_LPAREN || *account)
			parse_error(p, start, "unknown function '%s'", fname);
		else
			parse_error(p, start, "unknown name '%s'", fname);
		return NULL;
	}
	if (check_call_scope(p, def, *account, fname, start) != 0 ||
	    lex_next(p) != 0)
		return NULL;
	if (p->tok.kind != TOK_LPAREN) {
		parse_syntax_error(p, p->tok.start, "expected '(' after '%s'",
		    fname);
		return NULL;
	}
	return def;
}

/* Is the segment a call names one being compiled already? Then say the
 * cycle, in the order the segments use each other ("a -> b -> a"). */
static int
segment_cycle(struct parser *p, const struct seg_chain *link,
    const struct node *call)
{
	const struct seg_chain	*l, *k, **names = NULL;
	struct buf		 cycle;
	int			 n = 0;

	for (l = p->chain; l != NULL; l = l->up)
		if (strcmp(l->name, call->s) == 0)
			break;
	if (l == NULL)
		return 0;
	for (k = link; k != l->up; k = k->up) {
		names = xreallocarray(names, n + 1, sizeof *names);
		names[n++] = k;
	}
	buf_init(&cycle);
	while (n-- > 0)
		buf_printf(&cycle, "%s%s", cycle.len > 0 ? " -> " : "",
		    names[n]->name);
	parse_error(p, call->start, "segment '%s' uses itself (%s)",
	    call->s, cycle.s);
	buf_free(&cycle);
	free(names);
	p->cycle = 1;
	return -1;
}

/* Compile the segment a call names into its own expression, in the scope
 * of the expression that uses it. */
static struct expr *
segment_compile(struct parser *p, const struct node *call)
{
	const struct config	*conf = p->scope->conf;
	const struct segment	*seg;
	struct seg_chain	 link = { call->s, p->chain };
	struct parser		 c;
	struct expr		*e;
	char			 err[256];

	if (conf == NULL || (seg = config_segment(conf, call->s)) == NULL) {
		parse_error(p, call->start, "unknown segment '%s'", call->s);
		return NULL;
	}
	if (segment_cycle(p, &link, call) != 0)
		return NULL;
	memset(&c, 0, sizeof c);
	e = xcalloc(1, sizeof *e);
	e->src = xstrdup(seg->src);
	e->subject = p->scope->subject;
	if (p->expr->default_tz != NULL)
		e->default_tz = xstrdup(p->expr->default_tz);
	c.src = e->src;
	c.scope = p->scope;
	c.expr = e;
	c.err = err;
	c.errlen = sizeof err;
	c.in_where = p->in_where;
	c.chain = &link;
	if ((e->root = parse_root(&c)) == NULL) {
		expr_free(e);
		/* A cycle is said once, as found, not inside each use. */
		if (c.cycle)
			snprintf(p->err, p->errlen, "%s", err);
		else
			snprintf(p->err, p->errlen, "in segment '%s' (%s:%d: "
			    "%s), used at column %zu", call->s, seg->file,
			    seg->line, err, call->start + 1);
		p->failed = 1;
		p->cycle = c.cycle;
		return NULL;
	}
	return e;
}

/* Parse a function call or account.NAME(); the current token is a name. */
static struct node *
parse_call(struct parser *p)
{
	const struct func_def	*def;
	struct node		*n, *args[3] = { NULL, NULL, NULL };
	size_t			 start = p->tok.start, end;
	char			 fname[64];
	int			 account, nargs = 0, rc;

	if ((def = parse_func(p, &account, fname, sizeof fname)) == NULL)
		return NULL;
	end = p->tok.end;
	rc = parse_args(p, args, &nargs, &end);
	n = node_new(NODE_CALL, def->type, start, end);
	n->func = def->func;
	n->unit = def->unit;
	n->account = account;
	if (rc == 0)
		rc = call_args(p, n, def, fname, args, nargs);
	for (int k = 0; k < 3; k++)
		node_free(args[k]);
	if (rc == 0 && n->func == FUNC_SEGMENT) {
		n->kind = NODE_SEGMENT;
		if ((n->seg = segment_compile(p, n)) == NULL)
			rc = -1;
	}
	if (rc != 0 || node_grow(p, n) != 0) {
		node_free(n);
		return NULL;
	}
	return n;
}

/* Parse a name: true, false, stage_age and the like, or a call. */
struct node *
parse_name(struct parser *p)
{
	struct node	*n;
	int		 failed;

	if (tok_is(p, "and") || tok_is(p, "or") || tok_is(p, "not") ||
	    tok_is(p, "in") || tok_is(p, "where")) {
		tok_unexpected(p);
		return NULL;
	}
	if ((n = parse_word(p, &failed)) != NULL || failed)
		return n;
	return parse_call(p);
}

