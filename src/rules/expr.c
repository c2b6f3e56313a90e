/*
 * The rule language (SPEC §6, §14): a lexer and a recursive-descent parser
 * that type-checks each node as it builds it. The compiler to SQL is in
 * exprsql.c, explain in explain.c.
 *
 * Every node keeps its span in the source, so that explain can quote the
 * expression as it was written ("count('ride', 30d)"). Values from the
 * source reach SQL only as bound parameters (:p1, :p2, ...): named, so that
 * their numbers never clash with :now and :journey wherever those appear.
 *
 * A segment('name') is compiled where it is used, in the scope of the
 * expression that uses it, into a subtree with its own source (struct
 * expr): so a segment means the same in a user and in an account journey
 * as it would written out there, and its errors name it.
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

/* The segments being compiled, innermost first: a cycle is one that is
 * there already. */
struct seg_chain {
	const char		*name;
	const struct seg_chain	*up;
};

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
	int			 in_where;	/* in a selector's condition */
	const struct seg_chain	*chain;
	int			 cycle;		/* the error is a cycle */
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
static struct node	*parse_root(struct parser *);

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
	case '*': kind = TOK_STAR; break;
	case '/': kind = TOK_SLASH; break;
	case '%': kind = TOK_PERCENT; break;
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

/* The depth and size of what hangs under n besides l and r: a selector's
 * condition (inside the events' subquery, two levels down), a segment's
 * tree, a list. */
static void
node_extra(const struct node *n, int *depth, int *size)
{
	*depth = *size = 0;
	if (n->where != NULL) {
		*depth = n->where->depth + 2;
		*size = n->where->size;
	}
	if (n->seg != NULL) {
		*depth = n->seg->root->depth;
		*size = n->seg->root->size;
	}
	for (const struct node *i = n->r; n->kind == NODE_IN && i != NULL;
	    i = i->next)
		(*size)++;
}

/* Work out the depth and size of a new node with operands; refuse it when
 * its SQL would be too deep or too long for SQLite. */
static int
node_grow(struct parser *p, struct node *n)
{
	int	 ld = n->l != NULL ? n->l->depth : 0;
	int	 rd = n->r != NULL && n->kind != NODE_IN ? n->r->depth : 0;
	int	 xd, xs;

	node_extra(n, &xd, &xs);
	if (n->l != NULL && n->r != NULL && node_chains(n))
		n->depth = ld > rd + 1 ? ld : rd + 1;
	else
		n->depth = (ld > rd ? ld : rd) + 1;
	if (xd + 1 > n->depth)
		n->depth = xd + 1;
	n->size = 1 + xs + (n->l != NULL ? n->l->size : 0) +
	    (n->r != NULL && n->kind != NODE_IN ? n->r->size : 0);
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

/* Free a node and everything under it. */
static void
node_free(struct node *n)
{
	if (n == NULL)
		return;
	node_free(n->l);
	node_free(n->r);
	node_free(n->next);
	node_free(n->where);
	expr_free(n->seg);
	free(n->s);
	free(n->path);
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

/* The operator op as seen from its right-hand side (a < b is b > a). */
enum token_kind
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

/* The code of a comparison for the SQL functions. */
enum cmp_code
cmp_code_of(enum token_kind op)
{
	switch (op) {
	case TOK_NE:	return CMP_NE;
	case TOK_LT:	return CMP_LT;
	case TOK_LE:	return CMP_LE;
	case TOK_GT:	return CMP_GT;
	case TOK_GE:	return CMP_GE;
	default:	break;
	}
	return CMP_EQ;
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

/* Check that a string literal compared with stage('j') is a stage of j. */
static int
check_stage_name(struct parser *p, const struct node *call,
    const struct node *lit)
{
	const struct config	*conf = p->scope->conf;
	const struct journey	*j;

	if (conf == NULL || call->kind != NODE_CALL ||
	    call->func != FUNC_STAGE || lit->kind != NODE_STRING ||
	    (j = config_journey(conf, call->s)) == NULL ||
	    journey_stage(j, lit->s) >= 0)
		return 0;
	parse_error(p, lit->start, "journey '%s' has no stage '%s'", j->name,
	    lit->s);
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
	if (check_stage_name(p, l, r) != 0 || check_stage_name(p, r, l) != 0)
		return -1;
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
				if (cond->type != EXPR_BOOL) {
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
		parse_error(p, p->tok.start, "expected ')'");
		return -1;
	}
	*end = p->tok.end;
	return lex_next(p);
}

/* Parse a name without parentheses (stage_age, now, ...) or true/false;
 * NULL without an error when the current token is neither. */
static struct node *
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
		parse_error(p, p->tok.start, "expected '(' after '%s'", fname);
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
static struct node *
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
		n->unit = n->is_duration ? UNIT_DURATION : UNIT_PLAIN;
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
	n->unit = x->unit == UNIT_DURATION ? UNIT_DURATION : UNIT_PLAIN;
	if (check_number(p, x) != 0 || node_grow(p, n) != 0) {
		node_free(n);
		return NULL;
	}
	return n;
}

/* The unit of a sum or difference: times and durations as in a calendar. */
static enum unit
unit_of(enum node_kind kind, enum unit l, enum unit r)
{
	if (kind == NODE_SUB && l == UNIT_TIME && r == UNIT_TIME)
		return UNIT_DURATION;
	if (l == UNIT_TIME && r == UNIT_DURATION)
		return UNIT_TIME;
	if (kind == NODE_ADD && l == UNIT_DURATION && r == UNIT_TIME)
		return UNIT_TIME;
	if (l == UNIT_DURATION && r == UNIT_DURATION)
		return UNIT_DURATION;
	return UNIT_PLAIN;
}

/* Parse a chain of operators of one level: *, / and % over unary, or +
 * and - over those. */
static struct node *
parse_arith(struct parser *p, int additive)
{
	struct node	*l, *r;
	enum node_kind	 kind;
	enum token_kind	 op;

	if ((l = additive ? parse_arith(p, 0) : parse_unary(p)) == NULL)
		return NULL;
	for (;;) {
		op = p->tok.kind;
		if (additive && (op == TOK_PLUS || op == TOK_MINUS))
			kind = op == TOK_PLUS ? NODE_ADD : NODE_SUB;
		else if (!additive && op == TOK_STAR)
			kind = NODE_MUL;
		else if (!additive && op == TOK_SLASH)
			kind = NODE_DIV;
		else if (!additive && op == TOK_PERCENT)
			kind = NODE_MOD;
		else
			return l;
		if (lex_next(p) != 0 || (r = additive ? parse_arith(p, 0) :
		    parse_unary(p)) == NULL) {
			node_free(l);
			return NULL;
		}
		l = node_binary(kind, EXPR_NUM, l, r);
		l->unit = unit_of(kind, l->l->unit, r->unit);
		if (check_number(p, l->l) != 0 || check_number(p, r) != 0 ||
		    node_grow(p, l) != 0) {
			node_free(l);
			return NULL;
		}
	}
}

/* Parse one literal of an in list: a number (maybe negative), a
 * duration, a string, true or false. */
static struct node *
parse_item(struct parser *p)
{
	struct node	*n;
	size_t		 start = p->tok.start;
	int		 neg = 0, failed;

	if (p->tok.kind == TOK_MINUS) {
		neg = 1;
		if (lex_next(p) != 0)
			return NULL;
	}
	if (p->tok.kind == TOK_NUMBER || p->tok.kind == TOK_DURATION ||
	    (!neg && p->tok.kind == TOK_STRING))
		n = parse_primary(p);
	else if (!neg && p->tok.kind == TOK_NAME &&
	    (tok_is(p, "true") || tok_is(p, "false")))
		n = parse_word(p, &failed);
	else {
		parse_error(p, p->tok.start, "the list after 'in' holds "
		    "numbers, strings, true and false");
		return NULL;
	}
	if (n != NULL && neg) {
		n->start = start;
		n->i = -n->i;
		n->d = -n->d;
	}
	return n;
}

/* Check an item of x's in list: of x's type (unless x is a trait). */
static int
check_item(struct parser *p, const struct node *x, const struct node *item)
{
	if (x->type != EXPR_ANY && item->type != x->type) {
		parse_error(p, item->start, "cannot compare %s with %s",
		    type_name(x->type), type_name(item->type));
		return -1;
	}
	return check_stage_name(p, x, item);
}

/* Parse "in (item, ...)" after x; the current token is in. */
static struct node *
parse_in(struct parser *p, struct node *x)
{
	struct node	*n, *item, **tail;

	n = node_new(NODE_IN, EXPR_BOOL, x->start, p->tok.end);
	n->l = x;
	tail = &n->r;
	if (lex_next(p) != 0)
		goto fail;
	if (p->tok.kind != TOK_LPAREN) {
		parse_error(p, p->tok.start, "expected '(' after 'in'");
		goto fail;
	}
	do {
		if (lex_next(p) != 0 || (item = parse_item(p)) == NULL)
			goto fail;
		*tail = item;
		tail = &item->next;
		if (check_item(p, x, item) != 0)
			goto fail;
	} while (p->tok.kind == TOK_COMMA);
	if (p->tok.kind != TOK_RPAREN) {
		parse_error(p, p->tok.start, "expected ')'");
		goto fail;
	}
	n->end = p->tok.end;
	if (lex_next(p) != 0 || node_grow(p, n) != 0)
		goto fail;
	return n;
fail:
	node_free(n);
	return NULL;
}

/* Parse one comparison or in (they do not chain). */
static struct node *
parse_compare(struct parser *p)
{
	struct node	*l, *r, *n;
	enum token_kind	 op;
	size_t		 offset;

	if ((l = parse_arith(p, 1)) == NULL)
		return NULL;
	if (tok_is(p, "in"))
		return parse_in(p, l);
	op = p->tok.kind;
	if (op < TOK_EQ || op > TOK_GE)
		return l;
	offset = p->tok.start;
	if (lex_next(p) != 0 || (r = parse_arith(p, 1)) == NULL) {
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

/* Parse a chain of and (over not), or of or (over and). */
static struct node *
parse_logic(struct parser *p, int is_or)
{
	const char	*word = is_or ? "or" : "and";
	struct node	*l, *r;

	if ((l = is_or ? parse_logic(p, 0) : parse_not(p)) == NULL)
		return NULL;
	while (tok_is(p, word)) {
		if (lex_next(p) != 0 ||
		    (r = is_or ? parse_logic(p, 0) : parse_not(p)) == NULL) {
			node_free(l);
			return NULL;
		}
		l = node_binary(is_or ? NODE_OR : NODE_AND, EXPR_BOOL, l, r);
		if (check_bool(p, word, l->l) != 0 ||
		    check_bool(p, word, r) != 0 || node_grow(p, l) != 0) {
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
	return parse_logic(p, 1);
}

/* Parse a whole boolean expression from the start of p's source. */
static struct node *
parse_root(struct parser *p)
{
	struct node	*root = NULL;

	if (lex_next(p) != 0)
		goto fail;
	if (p->tok.kind == TOK_END) {
		parse_error(p, p->tok.start, "empty expression");
		goto fail;
	}
	if ((root = parse_or(p)) == NULL)
		goto fail;
	if (p->tok.kind != TOK_END) {
		tok_unexpected(p);
		goto fail;
	}
	if (root->type != EXPR_BOOL) {
		parse_error(p, root->start, "expected a boolean expression, "
		    "got %s", type_name(root->type));
		goto fail;
	}
	free(p->tok.s);
	p->tok.s = NULL;
	return root;
fail:
	free(p->tok.s);
	p->tok.s = NULL;
	node_free(root);
	return NULL;
}

/* Parse and type-check an expression, which must be a boolean. */
struct expr *
expr_compile(const char *src, const struct expr_scope *scope, char *err,
    size_t errlen)
{
	static const struct expr_scope	 none = { SUBJECT_USER, NULL, NULL,
					    NULL };
	struct parser			 p;
	struct expr			*e;
	struct seg_chain		 self = { NULL, NULL };

	memset(&p, 0, sizeof p);
	e = xcalloc(1, sizeof *e);
	e->src = xstrdup(src != NULL ? src : "");
	e->subject = scope != NULL ? scope->subject : SUBJECT_USER;
	p.src = e->src;
	p.scope = scope != NULL ? scope : &none;
	p.expr = e;
	p.err = err;
	p.errlen = errlen;
	if (p.scope->segment != NULL) {
		self.name = p.scope->segment;
		p.chain = &self;
	}
	if (p.scope->conf != NULL && p.scope->conf->default_timezone != NULL)
		e->default_tz = xstrdup(p.scope->conf->default_timezone);
	if ((e->root = parse_root(&p)) == NULL) {
		expr_free(e);
		return NULL;
	}
	return e;
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
	free(e->default_tz);
	free(e->src);
	free(e);
}

/* The type of a compiled expression (always a boolean, as compiled). */
enum expr_type
expr_type(const struct expr *e)
{
	return e->root->type;
}
