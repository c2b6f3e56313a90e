/*
 * What retention may prune without changing a rule's outcome (SPEC §18):
 * the longest window of any read of events, below which no event is
 * pruned, and the event names whose rows stay whatever their age (read
 * without a window by a read that what pruning leaves cannot answer: a
 * condition, sum(), days()). active_days() and active_users() always
 * have a window. --check says so (retention_check()).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "rules/expr.h"
#include "rules/expr-int.h"

/* Where a read was found: the journey and the line of its rule. */
struct retention_at {
	struct retention_plan	*plan;
	const struct journey	*j;
	int			 line;
};

/* Add name to the plan's kept names, once; where it was first found. */
static void
retention_keep(struct retention_at *at, const char *name)
{
	struct retention_plan	*p = at->plan;

	for (int i = 0; i < p->nkeep; i++)
		if (strcmp(p->keep[i].name, name) == 0)
			return;
	p->keep = xreallocarray(p->keep, p->nkeep + 1, sizeof *p->keep);
	p->keep[p->nkeep].name = xstrdup(name);
	p->keep[p->nkeep].journey = at->j;
	p->keep[p->nkeep++].line = at->line;
}

/* Note the reads of events of n and under it. */
static void
retention_node(struct retention_at *at, const struct node *n)
{
	struct retention_plan	*p = at->plan;

	if (n == NULL)
		return;
	if (n->kind == NODE_CALL && (node_reads_events(n) ||
	    n->func == FUNC_ACTIVE_USERS)) {
		if (n->has_window || n->func == FUNC_ACTIVE_USERS) {
			if (n->window > p->window) {
				p->window = n->window;
				p->window_journey = at->j;
				p->window_line = at->line;
			}
		} else if (!node_reads_pruned(n))
			retention_keep(at, n->s);
	}
	if (n->kind == NODE_SEGMENT)
		retention_node(at, n->seg->root);
	retention_node(at, n->l);
	retention_node(at, n->r);
	retention_node(at, n->next);
	retention_node(at, n->where);
}

/* Note the reads of events of expression e, of journey j at line. */
static void
retention_expr(struct retention_plan *p, const struct journey *j, int line,
    const struct expr *e)
{
	struct retention_at	 at = { p, j, line };

	if (e != NULL)
		retention_node(&at, e->root);
}

/* Work out what the rules of cf need kept (see the top of the file). */
void
retention_plan(const struct config *cf, struct retention_plan *p)
{
	memset(p, 0, sizeof *p);
	for (int i = 0; i < cf->njourneys; i++) {
		const struct journey *j = &cf->journeys[i];

		retention_expr(p, j, j->line, j->entry);
		retention_expr(p, j, j->line, j->exit);
		for (int k = 0; k < j->nrules; k++)
			retention_expr(p, j, j->rules[k].line,
			    j->rules[k].when);
	}
}

/* Free what a plan holds. */
void
retention_plan_free(struct retention_plan *p)
{
	for (int i = 0; i < p->nkeep; i++)
		free(p->keep[i].name);
	free(p->keep);
	memset(p, 0, sizeof *p);
}

/* The events retention in force: the configured one, or the longest
 * window when that is longer; 0: for ever. */
int64_t
retention_events(const struct config *cf, const struct retention_plan *p)
{
	if (cf->retention.events == 0)
		return 0;
	return p->window > cf->retention.events ? p->window :
	    cf->retention.events;
}

/* Warn of what keeps events longer than retention's events says. */
void
retention_check(const struct config *cf, struct problems *probs)
{
	struct retention_plan	 p;
	const struct retention	*r = &cf->retention;
	char			 a[32], b[32];

	if (r->events == 0)
		return;
	retention_plan(cf, &p);
	if (p.window > r->events)
		problems_warn(probs, p.window_journey->file, p.window_line,
		    "journey '%s' reads events over %s, longer than retention "
		    "events = \"%s\" (%s:%d): events are kept %s",
		    p.window_journey->name, duration_format(p.window, a,
		    sizeof a), duration_format(r->events, b, sizeof b),
		    r->file, r->line, a);
	for (int i = 0; i < p.nkeep; i++)
		problems_warn(probs, p.keep[i].journey->file, p.keep[i].line,
		    "journey '%s' reads '%s' without a window (with a "
		    "condition, sum() or days()): its events are never pruned",
		    p.keep[i].journey->name, p.keep[i].name);
	retention_plan_free(&p);
}
