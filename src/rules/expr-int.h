/*
 * The rule language's trees, shared by the parser (expr.c), the compiler
 * to SQL (exprsql.c), explain (explain.c) and the SQL functions compiled
 * rules call (exprfn.c). Nothing else sees them.
 */
#ifndef JOURNEYD_EXPR_INT_H
#define JOURNEYD_EXPR_INT_H

#include "rules/expr.h"

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
	TOK_MINUS,
	TOK_STAR,
	TOK_SLASH,
	TOK_PERCENT
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
	NODE_MUL,
	NODE_DIV,
	NODE_MOD,
	NODE_NEG,
	NODE_IN,		/* l in (r, r->next, ...): literals */
	NODE_CALL,		/* a function, or stage_age and the like */
	NODE_SEGMENT		/* segment('name'): its expression, seg */
};

enum func {
	FUNC_COUNT,
	FUNC_SUM,
	FUNC_SINCE,
	FUNC_SINCE_FIRST,
	FUNC_DAYS,
	FUNC_ACTIVE_DAYS,
	FUNC_ATTR,
	FUNC_HAS,
	FUNC_PROP,
	FUNC_STAGE,
	FUNC_IN_JOURNEY,
	FUNC_COMPLETED,
	FUNC_USERS,
	FUNC_ACTIVE_USERS,
	FUNC_SINCE_JOINED,
	FUNC_STAGE_AGE,
	FUNC_JOURNEY_AGE,
	FUNC_STALLED,
	FUNC_NOW,
	FUNC_TIME,
	FUNC_CONTAINS,
	FUNC_STARTS_WITH,
	FUNC_ENDS_WITH,
	FUNC_LOWER,
	FUNC_SEGMENT
};

/* What a number means, for explain: a count, a duration, a time. */
enum unit {
	UNIT_PLAIN,
	UNIT_DURATION,
	UNIT_TIME
};

struct node {
	enum node_kind	 kind;
	enum expr_type	 type;
	enum token_kind	 op;		/* NODE_COMPARE */
	enum func	 func;		/* NODE_CALL */
	enum unit	 unit;		/* of a number */
	int		 account;	/* account.NAME() */
	struct node	*l;		/* operands; a string function's */
	struct node	*r;		/* arguments; NODE_IN: its list */
	struct node	*next;		/* the next item of NODE_IN's list */
	struct node	*where;		/* an event selector's condition */
	struct expr	*seg;		/* NODE_SEGMENT */
	int64_t		 i;		/* NODE_NUMBER, NODE_BOOL */
	double		 d;
	int		 is_float;
	int		 is_duration;
	char		*s;		/* a string; event, key, journey */
	char		*path;		/* attr, has, prop: s as a JSON path */
	char		*prop;		/* sum()'s property, a JSON path */
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
	char		*default_tz;	/* default_timezone, or NULL */
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

/* The segments being compiled, innermost first: a cycle is one that is
 * there already. */
struct seg_chain {
	const char		*name;
	const struct seg_chain	*up;
};

/* The parser (expr.c: tokens, operators, checks; exprcall.c: functions,
 * paths, segments). */
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
	int			 syntax_failed;	/* the error is one of syntax */
	int			 lenient;	/* types unchecked: syntax first */
};

void		 parse_error(struct parser *, size_t offset, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
void		 parse_syntax_error(struct parser *, size_t offset,
		    const char *, ...) __attribute__((format(printf, 3, 4)));
int		 parse_enter(struct parser *);
int		 lex_next(struct parser *);
int		 tok_is(const struct parser *, const char *);
void		 tok_unexpected(struct parser *);
struct node	*node_new(enum node_kind, enum expr_type, size_t, size_t);
int		 node_grow(struct parser *, struct node *);
void		 node_free(struct node *);
const char	*type_name(enum expr_type);
struct node	*parse_or(struct parser *);
struct node	*parse_root(struct parser *);
/* exprcall.c: a name (true, stage_age, ...) or a call; parse_word() only
 * a name without parentheses: NULL and *failed 0 for anything else. */
struct node	*parse_name(struct parser *);
struct node	*parse_word(struct parser *, int *failed);

/* Does n's SQL continue the chain of its left operand ("a OR b OR c")? */
int		 node_chains(const struct node *);
/* Is n a read of the subject's data that shared queries compute once (a
 * count, an attr, ... or an existence test of a count)? */
int		 node_is_leaf(const struct node *);
/* The source text of a comparison operator. */
const char	*op_name(enum token_kind);
/* The operator op as seen from its right-hand side (a < b is b > a). */
enum token_kind	 op_mirror(enum token_kind);

/* exprsql.c: the SQL of a node (with q->share set, leaves refer to their
 * shared columns), and of its parts that shared reads put together. */
void		 node_sql(const struct expr *, const struct node *,
		    struct sql *);
/* The SQL of n read as type want: a trait or property (JSON text) turned
 * into a number, string or boolean (NULL when it is not one). */
void		 node_sql_as(const struct expr *, const struct node *,
		    enum expr_type want, struct sql *);
/* The SQL of a call, of an existence test of a count (node_count_exists()
 * says which, and whether it asks for existence or its absence). */
void		 exprsql_call(const struct expr *, const struct node *,
		    struct sql *);
const struct node *node_count_exists(const struct node *, int *exists);
void		 exprsql_count_exists(const struct expr *, const struct node *,
		    struct sql *, const char *sid);
/* Of a read of events (node_reads_events()): its aggregate, the FROM and
 * subject of its events ("FROM ... WHERE e.subject = sid"), then their
 * name, window (unless < 0) and, with cond, its condition. node_is_age():
 * its aggregate is a time, and the read the time since then. */
int		 node_reads_events(const struct node *);
/* Does it add what pruning left of its events (events_pruned)? */
int		 node_reads_pruned(const struct node *);
int		 node_is_age(const struct node *);
int		 node_needs_tz(const struct node *);
void		 exprsql_aggregate(const struct expr *, const struct node *,
		    struct sql *);
void		 exprsql_events_from(const struct expr *, const struct node *,
		    struct sql *, const char *sid, int tz);
void		 exprsql_events_where(const struct expr *,
		    const struct node *, struct sql *, int64_t window,
		    int cond);
void		 exprsql_where(const struct expr *, const struct node *,
		    struct sql *);

/* exprshare.c: the reference to leaf n in share (its column, its slot). */
void		 exprshare_sql(struct expr_share *, const struct expr *,
		    const struct node *, struct sql *);

/*
 * exprfn.c: the values of traits and properties. A trait or property is
 * read as its JSON text (SQLite's "->"): its type is its first character.
 * These turn such a text into a value of one type, or say it is not one.
 */
enum json_kind {
	JSON_ABSENT,
	JSON_STRING,
	JSON_NUMBER,
	JSON_BOOL,
	JSON_OTHER		/* null, an object or an array */
};
enum json_kind	 jsonval_kind(const char *, size_t);
/* A JSON string's value (caller frees), or NULL when it is not a string. */
char		*jsonval_string(const char *, size_t, size_t *len);

/* The codes of comparisons in the SQL functions' arguments. */
enum cmp_code {
	CMP_EQ,
	CMP_NE,
	CMP_LT,
	CMP_LE,
	CMP_GT,
	CMP_GE
};
enum cmp_code	 cmp_code_of(enum token_kind);

#endif /* JOURNEYD_EXPR_INT_H */
