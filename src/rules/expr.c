/*
 * The rule language (SPEC §6, §14): a lexer and a recursive-descent parser
 * that type-checks each node as it builds it; the functions, paths and
 * segments are in exprcall.c, the compiler to SQL in exprsql.c, explain in
 * explain.c.
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

#define PARSE_MAX_DEPTH 64
/*
 * Bounds of the tree, so that its SQL stays within what SQLite parses (its
 * parser stack holds about 100 nested parentheses; its expression trees are
 * at most 1000 deep): chains of and, or, + and - are written without nested
 * parentheses, everything else nests one level deeper.
 */
#define EXPR_MAX_DEPTH	24
#define EXPR_MAX_SIZE	500


/* Record the first error, at the 1-based column of offset; syntax says
 * whether it is one of syntax. */
static void
parse_verror(struct parser *p, int syntax, size_t offset, const char *fmt,
    va_list ap)
{
	char	 msg[256];

	if (p->failed)
		return;
	p->failed = 1;
	p->syntax_failed = syntax;
	vsnprintf(msg, sizeof msg, fmt, ap);
	snprintf(p->err, p->errlen, "%s at column %zu", msg, offset + 1);
}

/* Record the first error, at the 1-based column of offset. */
void
parse_error(struct parser *p, size_t offset, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	parse_verror(p, 0, offset, fmt, ap);
	va_end(ap);
}

/* Record the first error, one of syntax (of the lexer, or a token out of
 * place), which expr_compile() reports before any other. */
void
parse_syntax_error(struct parser *p, size_t offset, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	parse_verror(p, 1, offset, fmt, ap);
	va_end(ap);
}

/* Go one level deeper (parenthesis, argument, not, minus), up to a limit. */
int
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
		if (t->is_float || j != i + 1 ||
		    strchr("smhdwy", s[i]) == NULL) {
			parse_syntax_error(p, start, "bad number '%.*s'",
			    (int)(j - start), s + start);
			return -1;
		}
		text = xstrndup(s + start, j - start);
		if (duration_parse(text, &t->i) != 0) {
			free(text);
			parse_syntax_error(p, start, "duration too large");
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
		parse_syntax_error(p, start, "number too large");
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
			parse_syntax_error(p, start, "unterminated string");
			return -1;
		}
		if (s[i] == '\\') {
			if (s[i + 1] != '\'' && s[i + 1] != '\\') {
				buf_free(&b);
				parse_syntax_error(p, i, "bad escape in string "
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
int
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
			parse_syntax_error(p, i, "unexpected '=' (use ==)");
			return -1;
		}
		kind = TOK_EQ;
		len = 2;
		break;
	case '!':
		if (s[i + 1] != '=') {
			parse_syntax_error(p, i, "unexpected '!' (use not or "
			    "!=)");
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
			parse_syntax_error(p, i, "unexpected character '%c'",
			    s[i]);
		else
			parse_syntax_error(p, i, "unexpected character \\x%02x",
			    (unsigned char)s[i]);
		return -1;
	}
	t->kind = kind;
	t->end = p->pos = i + len;
	return 0;
}

/* Is the current token the name word? */
int
tok_is(const struct parser *p, const char *word)
{
	return p->tok.kind == TOK_NAME && strcmp(p->tok.s, word) == 0;
}

/* Report the current token as unexpected. */
void
tok_unexpected(struct parser *p)
{
	const struct token	*t = &p->tok;
	size_t			 len = t->end - t->start;

	if (t->kind == TOK_END)
		parse_syntax_error(p, t->start, "unexpected end of expression");
	else if (t->kind == TOK_STRING)
		parse_syntax_error(p, t->start, "unexpected string");
	else
		parse_syntax_error(p, t->start, "unexpected '%.*s'",
		    (int)(len > 32 ? 32 : len), p->src + t->start);
}

/* A new node spanning start to end. */
struct node *
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
int
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
void
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
const char *
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
	if (n->type == EXPR_BOOL || p->lenient)
		return 0;
	parse_error(p, n->start, "'%s' needs a boolean, got %s", word,
	    type_name(n->type));
	return -1;
}

/* Check that an operand of arithmetic is a number (or a trait). */
static int
check_number(struct parser *p, const struct node *n)
{
	if (n->type == EXPR_NUM || n->type == EXPR_ANY || p->lenient)
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

	if (p->lenient || conf == NULL || call->kind != NODE_CALL ||
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

	if (p->lenient)
		return 0;
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
			parse_syntax_error(p, t->start, "expected ')'");
			node_free(n);
			return NULL;
		}
		n->start = start;
		n->end = t->end;
		break;
	case TOK_END:
		parse_syntax_error(p, t->start, "expected a value");
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
		n = parse_word(p, &failed);	/* exprcall.c */
	else {
		parse_syntax_error(p, p->tok.start, "the list after 'in' "
		    "holds numbers, strings, true and false");
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
	if (p->lenient)
		return 0;
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
		parse_syntax_error(p, p->tok.start, "expected '(' after 'in'");
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
		parse_syntax_error(p, p->tok.start, "expected ')'");
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
struct node *
parse_or(struct parser *p)
{
	return parse_logic(p, 1);
}

/* Parse a whole boolean expression from the start of p's source. */
struct node *
parse_root(struct parser *p)
{
	struct node	*root = NULL;

	if (lex_next(p) != 0)
		goto fail;
	if (p->tok.kind == TOK_END) {
		parse_syntax_error(p, p->tok.start, "empty expression");
		goto fail;
	}
	if ((root = parse_or(p)) == NULL)
		goto fail;
	if (p->tok.kind != TOK_END) {
		tok_unexpected(p);
		goto fail;
	}
	if (root->type != EXPR_BOOL && !p->lenient) {
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

/*
 * After an error in p that is not one of syntax, parse src again without
 * checking the operands' types, and when that finds a syntax error,
 * report it instead: a missing ')' after "count('ride' >= 1" is the
 * mistake, not the comparison of a string with a number it would
 * otherwise be read as (SPEC §6's example).
 */
static void
expr_syntax_first(struct parser *p)
{
	char		 err[256];
	struct parser	 q = { .src = p->src, .scope = p->scope,
			    .expr = p->expr, .err = err, .errlen = sizeof err,
			    .chain = p->chain, .lenient = 1 };

	/* What this parse adds to the failed expression (its stalls) goes
	 * with it. */
	node_free(parse_root(&q));
	if (q.syntax_failed)
		snprintf(p->err, p->errlen, "%s", err);
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
		if (!p.syntax_failed && !p.cycle)
			expr_syntax_first(&p);
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
