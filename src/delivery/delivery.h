/*
 * The delivery layer: the plugin host (plugin.c: loading modules, their
 * settings and the host interface), the dispatcher (dispatch.c: workers
 * that claim due actions from the outbox, perform them through their
 * plugin and record the outcome), guardrails (guard.c: quiet hours and
 * frequency caps) and templates (render.c).
 */
#ifndef JD_DELIVERY_H
#define JD_DELIVERY_H

#include "engine/engine.h"
#include "journeyd/plugin.h"

/* plugin.c: loading plugins and the host interface. */
/* Load module for inst from dir and validate its settings from the
 * libconfig group (a config_setting_t *). Problems go to probs. */
int		 plugin_load(struct instance *, const char *dir, void *group,
		    struct problems *);
int		 plugin_start(struct instance *, const struct config *,
		    struct problems *);
/* Check an action's parameters (a JSON object) against the plugin's table
 * and its check() callback; problems name file:line. */
int		 plugin_check_params(struct instance *, const char *file,
		    int line, const char *journey, const char *rule,
		    void *group, const char *params, struct problems *);
void		 plugin_stop(struct instance *);
void		 instance_free(struct instance *);

/* render.c: templates with {{trait}}, {{account.trait}}, {{journey}},
 * {{stage}}, {{rule}}, {{id}}. traits and account_traits are JSON objects
 * (account_traits may be NULL). An unknown placeholder renders empty.
 * Returns a new string (caller frees). */
struct render_vars {
	const char	*traits;
	const char	*account_traits;
	const char	*journey;
	const char	*stage;
	const char	*rule;
	const char	*id;
};
char		*render_template(const char *tmpl, const struct render_vars *);
/* A trait by key ("x" or "account.x") as text, or NULL; caller frees. */
char		*render_trait(const struct render_vars *, const char *key);

/* The host's side of one action being performed (dispatch.c). The
 * jd_action handed to the plugin is its first member. */
struct act {
	struct jd_action	 a;
	sqlite3			*db;
	const struct config	*conf;
	struct instance		*inst;
	int64_t			 aid;		/* outbox row */
	int64_t			 sid;		/* subject row */
	int			 kind;
	char			*traits_now;	/* current, for trait() */
	char			*note;		/* from host->note() */
	char			**strings;	/* returned by host->param() */
	int			 nstrings;
	struct render_vars	 rv;
};
void		 act_clear(struct act *);

/* dispatch.c: delivering actions from the outbox. */
struct dispatcher;
int		 outbox_recover(sqlite3 *, int64_t now);
struct dispatcher *dispatch_start(const struct config *, int once);
void		 dispatch_kick(struct dispatcher *);
/* Returns how many plugin calls, abandoned after their timeout, still run:
 * while any do, the config must not be freed. */
int		 dispatch_stop(struct dispatcher *, long outcomes[4]);

/* guard.c: guardrails (quiet hours, frequency caps). */
#define GUARD_SEND	0	/* perform the action */
#define GUARD_DEFERRED	1	/* quiet hours: pending until they end */
#define GUARD_HELD	2	/* capped: held, with the reason */
int		 guard_applies(const struct config *, const struct act *);
int		 guard_check(sqlite3 *, const struct config *, struct act *);
int		 guard_quiet_end(const char *zone, int from, int to,
		    int64_t now, int64_t *end);

#endif /* JD_DELIVERY_H */
