/*
 * The rule language (SPEC §6): a lexer, a recursive-descent parser that
 * type-checks each node as it builds it, the compiler to SQL, and explain.
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

#include "expr.h"

enum token_kind {
	TOK_END,
	TOK_NUMBER,
	TOK_DURATION,
	TOK_STRING,
	TOK_NAME,
	TOK_LPAREN,
	TOK_RPAREN,
	TOK_COMMA,
	TOK_DOT,
	TOK_EQ,
	TOK_NE,
	TOK_LT,
	TOK_LE,
	TOK_GT,
	TOK_GE,
	TOK_PLUS,
	TOK_MINUS
};

struct token {
	enum token_kind	 kind;
	size_t		 start;		/* offsets in the source */
	size_t		 end;
	int64_t		 i;		/* a number or a duration (seconds) */
	double		 d;
	int		 is_float;
	char		*s;		/* a string's value or a name */
};

enum node_kind {
	NODE_NUMBER,		/* also a duration */
	NODE_STRING,
	NODE_BOOL,
	NODE_AND,
	NODE_OR,
	NODE_NOT,
	NODE_COMPARE,
	NODE_ADD,
	NODE_SUB,
	NODE_NEG,
	NODE_CALL		/* a function, or stage_age and the like */
};

enum func {
	FUNC_COUNT,
	FUNC_SUM,
	FUNC_SINCE,
	FUNC_ATTR,
	FUNC_HAS,
	FUNC_STAGE,
	FUNC_IN_JOURNEY,
	FUNC_COMPLETED,
	FUNC_USERS,
	FUNC_ACTIVE_USERS,
	FUNC_STAGE_AGE,
	FUNC_JOURNEY_AGE,
	FUNC_STALLED
};

struct node {
	enum node_kind	 kind;
	enum expr_type	 type;
	enum token_kind	 op;		/* NODE_COMPARE */
	enum func	 func;		/* NODE_CALL */
	int		 account;	/* account.NAME() */
	struct node	*l;
	struct node	*r;
	int64_t		 i;		/* NODE_NUMBER, NODE_BOOL */
	double		 d;
	int		 is_float;
	int		 is_duration;
	char		*s;		/* a string; event, trait or journey */
	char		*prop;		/* sum()'s property */
	int64_t		 window;	/* seconds, when has_window */
	int		 has_window;
	size_t		 start;		/* span in the source */
	size_t		 end;
	int		 depth;		/* of nesting in its SQL */
	int		 size;		/* nodes, itself included */
};

struct expr {
	char		*src;
	struct node	*root;
	enum subject_kind subject;
	struct stage	*stalls;	/* stages with an expect, for stalled */
	int		 nstalls;
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
static int
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
static const char *
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
	sh->v[sh->n].lazy = 0;
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
	int	 i = share_find(sh, e, n, 1), c = -1, exists;

	/* Decided at its first use, and kept: a column once used stays. */
	if (sh->v[i].lazy == 0) {
		if (n->kind == NODE_COMPARE)
			c = share_implied(sh, e, n);
		sh->v[i].lazy = c >= 0 ? 1 : -1;
	} else if (sh->v[i].lazy > 0)
		c = share_implied(sh, e, n);
	if (c >= 0) {
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
		if (sh->v[i].lazy > 0)
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
