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
/* A loaded plugin instance (struct instance's rt). */
struct plugin_rt {
	const struct jd_plugin	*plugin;
	void			*dl;
	void			*state;		/* the plugin's, after init */
	struct jd_settings	*settings;
	struct jd_host		 host;
	int			 started;
	const struct config	*conf;		/* the config it belongs to */
};
/* Load every instance's module and check its settings and every action's
 * parameters against the tables the plugin declares; with PLUGINS_START,
 * start the instances (init) and let their check() see each action.
 * Problems (FILE:LINE) go to probs. config_free() unloads them. */
#define PLUGINS_START	0x1
int		 plugins_load(struct config *, int flags, struct problems *);
/* Stop an instance (fini), keeping it loaded. */
void		 plugin_stop(struct instance *);

/* render.c: templates with {{trait}}, {{account.trait}}, {{journey}},
 * {{stage}}, {{rule}}, {{id}}. traits and account_traits are JSON objects
 * (account_traits may be NULL). An unknown placeholder renders empty.
 * Returns a new string (caller frees), or NULL when a trait cannot be
 * looked up (logged). */
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
/* NULL when it cannot start (logged). */
struct dispatcher *dispatch_start(const struct config *, int once);
/* Wake the idle workers: actions were queued. */
void		 dispatch_kick(struct dispatcher *);
/* Returns how many plugin calls, abandoned after their timeout, still run:
 * while any do, neither the dispatcher nor its config may be freed. */
int		 dispatch_stop(struct dispatcher *, long outcomes[4]);
/* Free a stopped dispatcher: 0, or -1 (nothing freed) while such calls
 * still run. */
int		 dispatch_free(struct dispatcher *);

/* guard.c: guardrails (quiet hours, frequency caps). */
#define GUARD_SEND	0	/* perform the action */
#define GUARD_DEFERRED	1	/* quiet hours: pending until they end */
#define GUARD_HELD	2	/* capped: held, with the reason */
int		 guard_applies(const struct config *, const struct act *);
int		 guard_check(sqlite3 *, const struct config *, struct act *);
int		 guard_quiet_end(const char *zone, int from, int to,
		    int64_t now, int64_t *end);

#endif /* JD_DELIVERY_H */
