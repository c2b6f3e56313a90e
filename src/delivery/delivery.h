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
	struct jd_plugin	 desc;		/* the plugin's descriptor, as far
						 * as its size covers; the rest
						 * zero */
	struct jd_setting	*settings_table;	/* its tables, entries */
	struct jd_setting	*params_table;		/* as this host's */
	void			*dl;
	void			*state;		/* the plugin's, after init */
	struct jd_settings	*settings;
	struct jd_host		 host;
	int			 started;
	const struct config	*conf;		/* the config it belongs to */
};
/* Load every instance's module and check its settings and every action's
 * parameters against the tables the plugin declares, then through the
 * plugin's own checks. With PLUGINS_START, start the instances (init) and
 * let their check() see each action; without, start nothing (--check):
 * 1.1 plugins' check_settings() and check() (with a NULL state) still run,
 * and the templates they submit are checked against the trait keys the
 * store has seen. Problems and warnings (FILE:LINE) go to probs.
 * config_free() unloads them. */
#define PLUGINS_START	0x1
int		 plugins_load(struct config *, int flags, struct problems *);
/* Stop an instance (fini), keeping it loaded. */
void		 plugin_stop(struct instance *);

/* host.c: the host interface (struct jd_host) and an instance's settings
 * (struct jd_settings, over the instance's normalised table). */
void		 host_fill(struct jd_host *, struct instance *);
struct jd_settings *host_settings_new(const struct jd_setting *, int n);
void		 host_settings_set(struct jd_settings *, int k, char *text);
void		 host_settings_free(struct jd_settings *);

/* tmplcheck.c: warnings about templates' placeholders, for --check: an
 * ambiguous {{id}}, and a trait whose first key no subject has (with the
 * nearest key the store has seen). */
struct tmpl_check;
struct tmpl_check *tmpl_check_new(const char *database);
void		 tmpl_check_free(struct tmpl_check *);
/* Check tmpl, written in file: at line, or, when line is 0, with each
 * placeholder's line counted in tmpl. A file is checked once. */
void		 tmpl_check(struct tmpl_check *, const char *tmpl,
		    const char *file, int line, struct problems *);

/* render.c: templates (README, "Plugins"): the built-in placeholders
 * {{journey}}, {{stage}}, {{rule}}, {{subject_id}}, {{action_id}} and {{id}}
 * (the action's id), and trait paths ({{address.city}}, {{account.name}}),
 * empty when absent. traits and account_traits are JSON objects (either
 * may be NULL). In RENDER_HTML mode every substituted value is
 * HTML-escaped. Returns a new string (caller frees). */
struct render_vars {
	const char	*traits;
	const char	*account_traits;
	const char	*journey;
	const char	*stage;
	const char	*rule;
	const char	*subject_id;
	const char	*id;		/* the action's */
	const char	*variant;	/* or NULL */
};
#define RENDER_TEXT	0	/* = JD_EXPAND_TEXT */
#define RENDER_HTML	1	/* = JD_EXPAND_HTML */
char		*render_template(const char *tmpl, const struct render_vars *,
		    int mode);
/* A trait by path ("x", "x.y[0]", "account.x") as text, or NULL; caller
 * frees. */
char		*render_trait(const struct render_vars *, const char *path);
/* Is json a JSON object? */
int		 render_is_object(const char *json);
/* What a placeholder name is. */
#define RENDER_TRAIT		0
#define RENDER_JOURNEY		1
#define RENDER_STAGE		2
#define RENDER_RULE		3
#define RENDER_SUBJECT_ID	4
#define RENDER_ACTION_ID	5
#define RENDER_ID		6	/* the action's id, an ambiguous name */
#define RENDER_VARIANT		7
int		 render_builtin(const char *name);
void		 render_walk(const char *tmpl, struct buf *out,
		    void (*)(void *, const char *name, int line), void *);

/* An effect a plugin asked for: applied with its action's outcome, in one
 * transaction, when the action is done. */
struct act_effect {
	char	*journey;	/* enroll in journey, at stage (or NULL) */
	char	*stage;
	char	*instance;	/* or queue an action through instance */
	char	*params;
};

/* What check() runs in: where the templates it submits go. */
struct act_check {
	struct tmpl_check	*templates;
	const struct rule	*rule;
	struct problems		*probs;
};

/* The host's side of one action being performed (dispatch.c) or checked
 * (plugin.c). The jd_action handed to the plugin is its first member. */
struct act {
	struct jd_action	 a;
	const struct config	*conf;
	struct instance		*inst;
	int64_t			 aid;		/* outbox row */
	int64_t			 sid;		/* subject row */
	int			 kind;
	char			*traits_now;	/* current, for value() */
	const char		*variant;	/* the outbox row's, or NULL */
	char			*note;		/* from host->note() */
	char			*external_id;	/* from the outcome */
	char			**strings;	/* lent to the plugin */
	int			 nstrings;
	struct act_effect	*effects;	/* asked for */
	int			 neffects;
	struct act_check	*check;		/* in check(), else NULL */
	struct render_vars	 rv;
};
/* Take what a 1.1 plugin's outcome asks for (its external id and effects)
 * into act. -1 with why when an effect names no journey, stage or instance
 * of the config. */
int		 act_outcome(struct act *, const struct jd_outcome *,
		    char *why, size_t whylen);
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
#define GUARD_DEFERRED	1	/* quiet hours, window: pending until then */
#define GUARD_HELD	2	/* capped, cancelled: held, with the reason */
int		 guard_applies(const struct config *, const struct act *);
int		 guard_check(sqlite3 *, const struct config *, struct act *);
int		 guard_window_next(const char *zone, const struct window *,
		    int64_t now, int64_t *open);
int		 guard_quiet_end(const char *zone, int from, int to,
		    int64_t now, int64_t *end);

#endif /* JD_DELIVERY_H */
