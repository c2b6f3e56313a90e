/*
 * The rule language's trees, shared by the parser (expr.c) and the
 * compiler to SQL and explain (exprsql.c). Nothing else sees them.
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
	TOK_MINUS
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

/* Does n's SQL continue the chain of its left operand ("a OR b OR c")? */
int		 node_chains(const struct node *);
/* The source text of a comparison operator. */
const char	*op_name(enum token_kind);

#endif /* JOURNEYD_EXPR_INT_H */
