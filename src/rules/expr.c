/*
 * The rule language (SPEC §6): a lexer and a recursive-descent parser that
 * type-checks each node as it builds it. The compiler to SQL and explain
 * are in exprsql.c.
 *
 * Every node keeps its span in the source, so that explain can quote the
 * expression as it was written ("count('ride', 30d)"). Values from the
 * source reach SQL only as bound parameters (:p1, :p2, ...): named, so that
 * their numbers never clash with :now and :journey wherever those appear.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "rules/expr.h"
#include "rules/expr-int.h"

struct token {
	enum token_kind	 kind;
	size_t		 start;		/* offsets in the source */
	size_t		 end;
	int64_t		 i;		/* a number or a duration (seconds) */
	double		 d;
	int		 is_float;
	char		*s;		/* a string's value or a name */
};

/* The functions called with parentheses. */
static const struct func_def {
	const char	*name;
	enum func	 func;
	int		 account_ok;	/* also as account.NAME() */
	int		 account_only;	/* only in account journeys */
	int		 min;
	int		 max;
	const char	*args;		/* 's' a string, 'w' a window */
	enum expr_type	 type;
} func_defs[] = {
	{ "count", FUNC_COUNT, 1, 0, 1, 2, "sw", EXPR_NUM },
	{ "sum", FUNC_SUM, 1, 0, 2, 3, "ssw", EXPR_NUM },
	{ "since", FUNC_SINCE, 1, 0, 1, 1, "s", EXPR_NUM },
	{ "attr", FUNC_ATTR, 1, 0, 1, 1, "s", EXPR_ANY },
	{ "has", FUNC_HAS, 1, 0, 1, 1, "s", EXPR_BOOL },
	{ "stage", FUNC_STAGE, 1, 0, 1, 1, "s", EXPR_STR },
	{ "in_journey", FUNC_IN_JOURNEY, 0, 0, 1, 1, "s", EXPR_BOOL },
	{ "completed", FUNC_COMPLETED, 0, 0, 1, 1, "s", EXPR_BOOL },
	{ "users", FUNC_USERS, 0, 1, 0, 0, "", EXPR_NUM },
	{ "active_users", FUNC_ACTIVE_USERS, 0, 1, 1, 1, "w", EXPR_NUM },
};
#define NFUNC_DEFS (sizeof func_defs / sizeof func_defs[0])

struct parser {
	const char		*src;
	size_t			 pos;		/* where the next token starts */
	struct token		 tok;		/* the current token */
	const struct expr_scope	*scope;
	struct expr		*expr;
	char			*err;
	size_t			 errlen;
	int			 failed;
	int			 depth;		/* of nesting, bounded */
};
#define PARSE_MAX_DEPTH 64
/*
 * Bounds of the tree, so that its SQL stays within what SQLite parses (its
 * parser stack holds about 100 nested parentheses; its expression trees are
 * at most 1000 deep): chains of and, or, + and - are written without nested
 * parentheses, everything else nests one level deeper.
 */
#define EXPR_MAX_DEPTH	24
#define EXPR_MAX_SIZE	500

static struct node	*parse_or(struct parser *);

/* Record the first error, at the 1-based column of offset. */
static void __attribute__((format(printf, 3, 4)))
parse_error(struct parser *p, size_t offset, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[256];

	if (p->failed)
		return;
	p->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errlen, "%s at column %zu", msg, offset + 1);
}

/* Go one level deeper (parenthesis, argument, not, minus), up to a limit. */
static int
parse_enter(struct parser *p)
{
	if (++p->depth <= PARSE_MAX_DEPTH)
		return 0;
	parse_error(p, p->tok.start, "expression nested too deeply");
	return -1;
}

/* Read a number or a duration ("30d") starting at i. */
static int
lex_number(struct parser *p, size_t i)
{
	const char	*s = p->src;
	struct token	*t = &p->tok;
	size_t		 start = i, j;
	char		*text;

	while (isdigit((unsigned char)s[i]))
		i++;
	if (s[i] == '.' && isdigit((unsigned char)s[i + 1])) {
		t->is_float = 1;
		for (i++; isdigit((unsigned char)s[i]); i++)
			;
	}
	if (isalpha((unsigned char)s[i]) || s[i] == '_') {
		for (j = i; isalnum((unsigned char)s[j]) || s[j] == '_'; j++)
			;
		if (t->is_float || j != i + 1 || strchr("smhdw", s[i]) == NULL) {
			parse_error(p, start, "bad number '%.*s'",
			    (int)(j - start), s + start);
			return -1;
		}
		text = xstrndup(s + start, j - start);
		if (duration_parse(text, &t->i) != 0) {
			free(text);
			parse_error(p, start, "duration too large");
			return -1;
		}
		free(text);
		t->kind = TOK_DURATION;
		t->end = p->pos = j;
		return 0;
	}
	text = xstrndup(s + start, i - start);
	errno = 0;
	if (t->is_float)
		t->d = strtod(text, NULL);
	else
		t->i = strtoll(text, NULL, 10);
	free(text);
	if (errno == ERANGE) {
		parse_error(p, start, "number too large");
		return -1;
	}
	t->kind = TOK_NUMBER;
	t->end = p->pos = i;
	return 0;
}

/* Read a single-quoted string starting at i; \' and \\ are escapes. */
static int
lex_string(struct parser *p, size_t i)
{
	const char	*s = p->src;
	struct token	*t = &p->tok;
	size_t		 start = i;
	struct buf	 b;

	buf_init(&b);
	buf_add(&b, "", 0);
	for (i++; s[i] != '\''; i++) {
		if (s[i] == '\0') {
			buf_free(&b);
			parse_error(p, start, "unterminated string");
			return -1;
		}
		if (s[i] == '\\') {
			if (s[i + 1] != '\'' && s[i + 1] != '\\') {
				buf_free(&b);
				parse_error(p, i, "bad escape in string "
				    "(only \\' and \\\\)");
				return -1;
			}
			i++;
		}
		buf_add(&b, s + i, 1);
	}
	t->kind = TOK_STRING;
	t->s = buf_steal(&b);
	t->end = p->pos = i + 1;
	return 0;
}

/* Read the next token into p->tok. Returns 0, or -1 on a lexical error. */
static int
lex_next(struct parser *p)
{
	const char	*s = p->src;
	struct token	*t = &p->tok;
	size_t		 i = p->pos;
	enum token_kind	 kind;
	size_t		 len = 1;

	free(t->s);
	memset(t, 0, sizeof *t);
	while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
		i++;
	t->start = t->end = p->pos = i;
	if (s[i] == '\0')
		return 0;			/* TOK_END */
	if (isdigit((unsigned char)s[i]))
		return lex_number(p, i);
	if (s[i] == '\'')
		return lex_string(p, i);
	if (isalpha((unsigned char)s[i]) || s[i] == '_') {
		for (len = 0; isalnum((unsigned char)s[i + len]) ||
		    s[i + len] == '_'; len++)
			;
		t->kind = TOK_NAME;
		t->s = xstrndup(s + i, len);
		t->end = p->pos = i + len;
		return 0;
	}
	switch (s[i]) {
	case '(': kind = TOK_LPAREN; break;
	case ')': kind = TOK_RPAREN; break;
	case ',': kind = TOK_COMMA; break;
	case '.': kind = TOK_DOT; break;
	case '+': kind = TOK_PLUS; break;
	case '-': kind = TOK_MINUS; break;
	case '=':
		if (s[i + 1] != '=') {
			parse_error(p, i, "unexpected '=' (use ==)");
			return -1;
		}
		kind = TOK_EQ;
		len = 2;
		break;
	case '!':
		if (s[i + 1] != '=') {
			parse_error(p, i, "unexpected '!' (use not or !=)");
			return -1;
		}
		kind = TOK_NE;
		len = 2;
		break;
	case '<':
	case '>':
		if (s[i + 1] == '=') {
			kind = s[i] == '<' ? TOK_LE : TOK_GE;
			len = 2;
		} else
			kind = s[i] == '<' ? TOK_LT : TOK_GT;
		break;
	default:
		if (isprint((unsigned char)s[i]))
			parse_error(p, i, "unexpected character '%c'", s[i]);
		else
			parse_error(p, i, "unexpected character \\x%02x",
			    (unsigned char)s[i]);
		return -1;
	}
	t->kind = kind;
	t->end = p->pos = i + len;
	return 0;
}

/* Is the current token the name word? */
static int
tok_is(const struct parser *p, const char *word)
{
	return p->tok.kind == TOK_NAME && strcmp(p->tok.s, word) == 0;
}

/* Report the current token as unexpected. */
static void
tok_unexpected(struct parser *p)
{
	const struct token	*t = &p->tok;
	size_t			 len = t->end - t->start;

	if (t->kind == TOK_END)
		parse_error(p, t->start, "unexpected end of expression");
	else if (t->kind == TOK_STRING)
		parse_error(p, t->start, "unexpected string");
	else
		parse_error(p, t->start, "unexpected '%.*s'",
		    (int)(len > 32 ? 32 : len), p->src + t->start);
}

/* A new node spanning start to end. */
static struct node *
node_new(enum node_kind kind, enum expr_type type, size_t start, size_t end)
{
	struct node	*n = xcalloc(1, sizeof *n);

	n->kind = kind;
	n->type = type;
	n->start = start;
	n->end = end;
	n->depth = 1;
	n->size = 1;
	return n;
}

/* Does n's SQL continue the chain of its left operand ("a OR b OR c")? */
int
node_chains(const struct node *n)
{
	const struct node	*l = n->l;

	switch (n->kind) {
	case NODE_AND:
	case NODE_OR:
		return l->kind == n->kind;
	case NODE_ADD:
	case NODE_SUB:
		return l->kind == NODE_ADD || l->kind == NODE_SUB;
	default:
		return 0;
	}
}

/* Work out the depth and size of a new node with operands; refuse it when
 * its SQL would be too deep or too long for SQLite. */
static int
node_grow(struct parser *p, struct node *n)
{
	int	 ld = n->l != NULL ? n->l->depth : 0;
	int	 rd = n->r != NULL ? n->r->depth : 0;

	if (n->l != NULL && n->r != NULL && node_chains(n))
		n->depth = ld > rd + 1 ? ld : rd + 1;
	else
		n->depth = (ld > rd ? ld : rd) + 1;
	n->size = 1 + (n->l != NULL ? n->l->size : 0) +
	    (n->r != NULL ? n->r->size : 0);
	if (n->depth > EXPR_MAX_DEPTH) {
		parse_error(p, n->start, "expression nested too deeply");
		return -1;
	}
	if (n->size > EXPR_MAX_SIZE) {
		parse_error(p, n->start, "expression too long (at most %d "
		    "terms)", EXPR_MAX_SIZE);
		return -1;
	}
	return 0;
}

/* Free a node and its children. */
static void
node_free(struct node *n)
{
	if (n == NULL)
		return;
	node_free(n->l);
	node_free(n->r);
	free(n->s);
	free(n->prop);
	free(n);
}

/* A node with two operands, spanning both. */
static struct node *
node_binary(enum node_kind kind, enum expr_type type, struct node *l,
    struct node *r)
{
	struct node	*n = node_new(kind, type, l->start, r->end);

	n->l = l;
	n->r = r;
	return n;
}

/* The name of a type for messages. */
static const char *
type_name(enum expr_type type)
{
	switch (type) {
	case EXPR_BOOL:	return "a boolean";
	case EXPR_NUM:	return "a number";
	case EXPR_STR:	return "a string";
	case EXPR_ANY:	break;
	}
	return "a trait";
}

/* The source text of a comparison operator. */
const char *
op_name(enum token_kind op)
{
	switch (op) {
	case TOK_EQ:	return "==";
	case TOK_NE:	return "!=";
	case TOK_LT:	return "<";
	case TOK_LE:	return "<=";
	case TOK_GT:	return ">";
	case TOK_GE:	return ">=";
	default:	break;
	}
	return "?";
}

/* Check that the operand of word (and, or, not) is a boolean. */
static int
check_bool(struct parser *p, const char *word, const struct node *n)
{
	if (n->type == EXPR_BOOL)
		return 0;
	parse_error(p, n->start, "'%s' needs a boolean, got %s", word,
	    type_name(n->type));
	return -1;
}

/* Check that an operand of arithmetic is a number (or a trait). */
static int
check_number(struct parser *p, const struct node *n)
{
	if (n->type == EXPR_NUM || n->type == EXPR_ANY)
		return 0;
	parse_error(p, n->start, "cannot do arithmetic on %s",
	    type_name(n->type));
	return -1;
}

/* Check that l and r may be compared with op, at offset. */
static int
check_compare(struct parser *p, enum token_kind op, const struct node *l,
    const struct node *r, size_t offset)
{
	enum expr_type	 lt = l->type, rt = r->type;

	if (lt == EXPR_BOOL || rt == EXPR_BOOL) {
		if ((lt != EXPR_BOOL && lt != EXPR_ANY) ||
		    (rt != EXPR_BOOL && rt != EXPR_ANY)) {
			parse_error(p, offset, "cannot compare %s with %s",
			    type_name(lt), type_name(rt));
			return -1;
		}
		if (op != TOK_EQ && op != TOK_NE) {
			parse_error(p, offset, "booleans compare only with "
			    "== and !=, not %s", op_name(op));
			return -1;
		}
		return 0;
	}
	if (lt != EXPR_ANY && rt != EXPR_ANY && lt != rt) {
		parse_error(p, offset, "cannot compare %s with %s",
		    type_name(lt), type_name(rt));
		return -1;
	}
	return 0;
}

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

/* Check that a trait or property name can be quoted in a JSON path. */
static int
check_key(struct parser *p, const char *key, const char *what, size_t offset)
{
	if (strpbrk(key, "\"\\") == NULL)
		return 0;
	parse_error(p, offset, "a %s name cannot contain '\"' or '\\'", what);
	return -1;
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

/* Give a call node its arguments, checking their number and types. */
static int
call_args(struct parser *p, struct node *n, const struct func_def *def,
    const char *fname, struct node **args, int nargs)
{
	struct node	*a;
	int		 strings = 0;

	if (nargs < def->min || nargs > def->max) {
		if (def->min == def->max)
			parse_error(p, n->start, "%s() takes %d argument%s, "
			    "got %d", fname, def->min, def->min == 1 ? "" : "s",
			    nargs);
		else
			parse_error(p, n->start, "%s() takes %d or %d "
			    "arguments, got %d", fname, def->min, def->max,
			    nargs);
		return -1;
	}
	for (int k = 0; k < nargs; k++) {
		a = args[k];
		if (def->args[k] == 'w') {
			if (a->kind != NODE_NUMBER || !a->is_duration) {
				parse_error(p, a->start, "the window of %s() "
				    "must be a duration like 30d", fname);
				return -1;
			}
			n->window = a->i;
			n->has_window = 1;
			continue;
		}
		if (a->kind != NODE_STRING) {
			parse_error(p, a->start, "argument %d of %s() must be "
			    "a quoted string", k + 1, fname);
			return -1;
		}
		if (strings++ == 0) {
			n->s = a->s;
			a->s = NULL;
		} else {
			n->prop = a->s;
			a->s = NULL;
			if (check_key(p, n->prop, "property", a->start) != 0)
				return -1;
		}
		if (k == 0 && (def->func == FUNC_ATTR || def->func == FUNC_HAS) &&
		    check_key(p, n->s, "trait", a->start) != 0)
			return -1;
		if (k == 0 && (def->func == FUNC_STAGE ||
		    def->func == FUNC_IN_JOURNEY ||
		    def->func == FUNC_COMPLETED) &&
		    check_journey(p, n, a->start) != 0)
			return -1;
	}
	return 0;
}

/* Parse a call's parenthesised arguments; the current token is '('. */
static int
parse_args(struct parser *p, struct node **args, int *nargs, size_t *end)
{
	struct node	*a;

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
			}
			if (p->tok.kind != TOK_COMMA)
				break;
			if (lex_next(p) != 0)
				return -1;
		}
	}
	if (p->tok.kind != TOK_RPAREN) {
		parse_error(p, p->tok.start, "expected ')'");
		return -1;
	}
	*end = p->tok.end;
	return lex_next(p);
}

/* Parse a name: true, false, stage_age, a function call or account.NAME(). */
static struct node *
parse_name(struct parser *p)
{
	const struct func_def	*def = NULL;
	const struct expr_scope	*scope = p->scope;
	struct node		*n, *args[3] = { NULL, NULL, NULL };
	size_t			 start = p->tok.start, end = p->tok.end;
	char			*name, fname[64];
	int			 account = 0, nargs = 0, rc;

	if (tok_is(p, "true") || tok_is(p, "false")) {
		n = node_new(NODE_BOOL, EXPR_BOOL, start, end);
		n->i = tok_is(p, "true");
		if (lex_next(p) != 0) {
			node_free(n);
			return NULL;
		}
		return n;
	}
	if (tok_is(p, "and") || tok_is(p, "or") || tok_is(p, "not")) {
		tok_unexpected(p);
		return NULL;
	}
	if (tok_is(p, "stage_age") || tok_is(p, "journey_age") ||
	    tok_is(p, "stalled")) {
		n = node_new(NODE_CALL, EXPR_NUM, start, end);
		if (tok_is(p, "stage_age"))
			n->func = FUNC_STAGE_AGE;
		else if (tok_is(p, "journey_age"))
			n->func = FUNC_JOURNEY_AGE;
		else {
			n->func = FUNC_STALLED;
			n->type = EXPR_BOOL;
			if (scope_stalls(p, start) != 0) {
				node_free(n);
				return NULL;
			}
		}
		if (lex_next(p) != 0) {
			node_free(n);
			return NULL;
		}
		if (p->tok.kind == TOK_LPAREN) {
			parse_error(p, start, "'%.*s' is not a function",
			    (int)(end - start), p->src + start);
			node_free(n);
			return NULL;
		}
		return n;
	}

	if (tok_is(p, "account")) {
		account = 1;
		if (lex_next(p) != 0)
			return NULL;
		if (p->tok.kind != TOK_DOT) {
			parse_error(p, p->tok.start, "expected '.' after "
			    "'account'");
			return NULL;
		}
		if (lex_next(p) != 0)
			return NULL;
		if (p->tok.kind != TOK_NAME) {
			parse_error(p, p->tok.start, "expected a function "
			    "after 'account.'");
			return NULL;
		}
	}
	name = p->tok.s;
	snprintf(fname, sizeof fname, "%s%.40s", account ? "account." : "",
	    name);
	for (size_t i = 0; i < NFUNC_DEFS; i++) {
		if (strcmp(func_defs[i].name, name) == 0)
			def = &func_defs[i];
	}
	if (def == NULL || (account && !def->account_ok)) {
		if (lex_next(p) != 0)
			return NULL;
		if (p->tok.kind == TOK_LPAREN || account)
			parse_error(p, start, "unknown function '%s'", fname);
		else
			parse_error(p, start, "unknown name '%s'", fname);
		return NULL;
	}
	if (account && scope->subject == SUBJECT_ACCOUNT) {
		parse_error(p, start, "%s() is not available in an account "
		    "journey", fname);
		return NULL;
	}
	if (def->account_only && scope->subject != SUBJECT_ACCOUNT) {
		parse_error(p, start, "%s() is only available in an account "
		    "journey", fname);
		return NULL;
	}
	if (lex_next(p) != 0)
		return NULL;
	if (p->tok.kind != TOK_LPAREN) {
		parse_error(p, p->tok.start, "expected '(' after '%s'", fname);
		return NULL;
	}
	rc = parse_args(p, args, &nargs, &end);
	n = node_new(NODE_CALL, def->type, start, end);
	n->func = def->func;
	n->account = account;
	if (rc == 0)
		rc = call_args(p, n, def, fname, args, nargs);
	for (int k = 0; k < 3; k++)
		node_free(args[k]);
	if (rc != 0) {
		node_free(n);
		return NULL;
	}
	return n;
}

/* Parse a literal, a parenthesised expression or a name. */
static struct node *
parse_primary(struct parser *p)
{
	struct token	*t = &p->tok;
	struct node	*n;
	size_t		 start = t->start;

	switch (t->kind) {
	case TOK_NUMBER:
	case TOK_DURATION:
		n = node_new(NODE_NUMBER, EXPR_NUM, t->start, t->end);
		n->i = t->i;
		n->d = t->d;
		n->is_float = t->is_float;
		n->is_duration = t->kind == TOK_DURATION;
		break;
	case TOK_STRING:
		n = node_new(NODE_STRING, EXPR_STR, t->start, t->end);
		n->s = t->s;
		t->s = NULL;
		break;
	case TOK_NAME:
		return parse_name(p);
	case TOK_LPAREN:
		if (parse_enter(p) != 0 || lex_next(p) != 0 ||
		    (n = parse_or(p)) == NULL)
			return NULL;
		p->depth--;
		if (t->kind != TOK_RPAREN) {
			parse_error(p, t->start, "expected ')'");
			node_free(n);
			return NULL;
		}
		n->start = start;
		n->end = t->end;
		break;
	case TOK_END:
		parse_error(p, t->start, "expected a value");
		return NULL;
	default:
		tok_unexpected(p);
		return NULL;
	}
	if (lex_next(p) != 0) {
		node_free(n);
		return NULL;
	}
	return n;
}

/* Parse a unary minus or a primary. */
static struct node *
parse_unary(struct parser *p)
{
	struct node	*n, *x;
	size_t		 start = p->tok.start;

	if (p->tok.kind != TOK_MINUS)
		return parse_primary(p);
	if (parse_enter(p) != 0 || lex_next(p) != 0 ||
	    (x = parse_unary(p)) == NULL)
		return NULL;
	p->depth--;
	n = node_new(NODE_NEG, EXPR_NUM, start, x->end);
	n->l = x;
	if (check_number(p, x) != 0 || node_grow(p, n) != 0) {
		node_free(n);
		return NULL;
	}
	return n;
}

/* Parse a sum or difference. */
static struct node *
parse_additive(struct parser *p)
{
	struct node	*l, *r;
	enum node_kind	 kind;

	if ((l = parse_unary(p)) == NULL)
		return NULL;
	while (p->tok.kind == TOK_PLUS || p->tok.kind == TOK_MINUS) {
		kind = p->tok.kind == TOK_PLUS ? NODE_ADD : NODE_SUB;
		if (lex_next(p) != 0 || (r = parse_unary(p)) == NULL) {
			node_free(l);
			return NULL;
		}
		l = node_binary(kind, EXPR_NUM, l, r);
		if (check_number(p, l->l) != 0 || check_number(p, r) != 0 ||
		    node_grow(p, l) != 0) {
			node_free(l);
			return NULL;
		}
	}
	return l;
}

/* Parse one comparison (they do not chain). */
static struct node *
parse_compare(struct parser *p)
{
	struct node	*l, *r, *n;
	enum token_kind	 op;
	size_t		 offset;

	if ((l = parse_additive(p)) == NULL)
		return NULL;
	op = p->tok.kind;
	if (op < TOK_EQ || op > TOK_GE)
		return l;
	offset = p->tok.start;
	if (lex_next(p) != 0 || (r = parse_additive(p)) == NULL) {
		node_free(l);
		return NULL;
	}
	n = node_binary(NODE_COMPARE, EXPR_BOOL, l, r);
	n->op = op;
	if (check_compare(p, op, l, r, offset) != 0 || node_grow(p, n) != 0) {
		node_free(n);
		return NULL;
	}
	return n;
}

/* Parse not. */
static struct node *
parse_not(struct parser *p)
{
	struct node	*n, *x;
	size_t		 start = p->tok.start;

	if (!tok_is(p, "not"))
		return parse_compare(p);
	if (parse_enter(p) != 0 || lex_next(p) != 0 ||
	    (x = parse_not(p)) == NULL)
		return NULL;
	p->depth--;
	n = node_new(NODE_NOT, EXPR_BOOL, start, x->end);
	n->l = x;
	if (check_bool(p, "not", x) != 0 || node_grow(p, n) != 0) {
		node_free(n);
		return NULL;
	}
	return n;
}

/* Parse and. */
static struct node *
parse_and(struct parser *p)
{
	struct node	*l, *r;

	if ((l = parse_not(p)) == NULL)
		return NULL;
	while (tok_is(p, "and")) {
		if (lex_next(p) != 0 || (r = parse_not(p)) == NULL) {
			node_free(l);
			return NULL;
		}
		l = node_binary(NODE_AND, EXPR_BOOL, l, r);
		if (check_bool(p, "and", l->l) != 0 ||
		    check_bool(p, "and", r) != 0 || node_grow(p, l) != 0) {
			node_free(l);
			return NULL;
		}
	}
	return l;
}

/* Parse or, the loosest operator. */
static struct node *
parse_or(struct parser *p)
{
	struct node	*l, *r;

	if ((l = parse_and(p)) == NULL)
		return NULL;
	while (tok_is(p, "or")) {
		if (lex_next(p) != 0 || (r = parse_and(p)) == NULL) {
			node_free(l);
			return NULL;
		}
		l = node_binary(NODE_OR, EXPR_BOOL, l, r);
		if (check_bool(p, "or", l->l) != 0 ||
		    check_bool(p, "or", r) != 0 || node_grow(p, l) != 0) {
			node_free(l);
			return NULL;
		}
	}
	return l;
}

/* Parse and type-check an expression, which must be a boolean. */
struct expr *
expr_compile(const char *src, const struct expr_scope *scope, char *err,
    size_t errlen)
{
	static const struct expr_scope	 none = { SUBJECT_USER, NULL, NULL };
	struct parser			 p;
	struct expr			*e;
	struct node			*root = NULL;

	memset(&p, 0, sizeof p);
	e = xcalloc(1, sizeof *e);
	e->src = xstrdup(src != NULL ? src : "");
	e->subject = scope != NULL ? scope->subject : SUBJECT_USER;
	p.src = e->src;
	p.scope = scope != NULL ? scope : &none;
	p.expr = e;
	p.err = err;
	p.errlen = errlen;

	if (lex_next(&p) != 0)
		goto fail;
	if (p.tok.kind == TOK_END) {
		parse_error(&p, p.tok.start, "empty expression");
		goto fail;
	}
	if ((root = parse_or(&p)) == NULL)
		goto fail;
	if (p.tok.kind != TOK_END) {
		tok_unexpected(&p);
		goto fail;
	}
	if (root->type != EXPR_BOOL) {
		parse_error(&p, root->start, "expected a boolean expression, "
		    "got %s", type_name(root->type));
		goto fail;
	}
	free(p.tok.s);
	e->root = root;
	return e;
fail:
	free(p.tok.s);
	node_free(root);
	expr_free(e);
	return NULL;
}

/* Free a compiled expression. */
void
expr_free(struct expr *e)
{
	if (e == NULL)
		return;
	node_free(e->root);
	for (int i = 0; i < e->nstalls; i++)
		free(e->stalls[i].name);
	free(e->stalls);
	free(e->src);
	free(e);
}

/* The type of a compiled expression (always a boolean, as compiled). */
enum expr_type
expr_type(const struct expr *e)
{
	return e->root->type;
}
