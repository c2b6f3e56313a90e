/*
 * journeyd plugin ABI.
 *
 * This header is the whole interface between journeyd and a plugin. A plugin
 * is a shared object exporting one symbol, JD_PLUGIN_SYMBOL, a function that
 * returns a pointer to a static struct jd_plugin. The host checks the
 * descriptor's ABI major (must be equal), minor (must not be newer than the
 * host's) and size before it calls anything else.
 *
 * Threading: act() may run on several worker threads at once for the same
 * instance; whatever it shares through its state must be locked by the plugin.
 * init() and fini() run on the main thread, never while act() runs.
 *
 * Ownership: every pointer the host passes is owned by the host and valid only
 * for the duration of the call. Strings returned by host functions that say
 * "caller frees" must be released with free().
 */
#ifndef JOURNEYD_PLUGIN_H
#define JOURNEYD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define JD_PLUGIN_ABI_MAJOR 1
#define JD_PLUGIN_ABI_MINOR 0
#define JD_PLUGIN_SYMBOL "journeyd_plugin"

/* Type of a setting in a plugin's settings table, or of an action parameter. */
enum jd_type {
	JD_T_STRING = 1,	/* any string */
	JD_T_INT,		/* integer */
	JD_T_BOOL,		/* true / false */
	JD_T_DURATION,		/* "45s", "15m", "12h", "30d", "2w": seconds */
	JD_T_FILE		/* a path to a readable file */
};

/* One entry of a settings (or action parameter) table; end with key NULL. */
struct jd_setting {
	const char	*key;
	enum jd_type	 type;
	int		 required;	/* non-zero: must be given */
	const char	*defval;	/* default as text, or NULL */
	const char	*description;	/* one line, for --help and the README */
};

/* What act() says happened to an action. */
enum jd_result {
	JD_DONE = 0,	/* delivered */
	JD_RETRY,	/* transient failure: try again later */
	JD_FAILED,	/* permanent failure: the action is dead */
	JD_HELD		/* declined by policy: recorded as held, never sent */
};

/* Log priorities, as syslog's. */
#define JD_LOG_ERR	3
#define JD_LOG_WARNING	4
#define JD_LOG_NOTICE	5
#define JD_LOG_INFO	6
#define JD_LOG_DEBUG	7

struct jd_settings;	/* opaque: the validated settings of an instance */

/* One action to perform. All strings are UTF-8 and never NULL unless said. */
struct jd_action {
	const char	*id;		/* stable id, the same on every retry */
	const char	*instance;	/* plugin instance name from the config */
	const char	*journey;
	const char	*stage;		/* the subject's stage when queued */
	const char	*rule;
	const char	*subject_id;	/* the user's or account's id */
	const char	*subject_kind;	/* "user" or "account" */
	const char	*traits;	/* the subject's traits, a JSON object,
					 * as of the first attempt: the same on
					 * every retry (host->trait() and
					 * host->render() read current ones) */
	const char	*account_traits; /* the user's account's traits, or NULL */
	const char	*params;	/* the action's parameters, a JSON object */
	int64_t		 time;		/* when it was queued, Unix seconds */
	int64_t		 now;		/* the host's clock for this attempt */
	int		 attempt;	/* 1 on the first try */
	const struct jd_settings *settings;	/* the instance's settings */
};

/* The host interface, handed to init() and valid until fini() returns. */
struct jd_host {
	uint32_t	 abi_major;
	uint32_t	 abi_minor;
	size_t		 size;		/* sizeof(struct jd_host) of the host */

	/* Log a line, prefixed with the instance name. Never log secrets. */
	void		(*log)(const struct jd_host *, int prio, const char *fmt, ...)
			    __attribute__((format(printf, 3, 4)));

	/* A setting's value as text (defaults applied), or NULL when unset. */
	const char	*(*setting)(const struct jd_settings *, const char *key);
	/* A setting as an integer (ints, bools as 0/1, durations in seconds). */
	int64_t		(*setting_int)(const struct jd_settings *, const char *key);

	/* An action parameter as text, or NULL when absent. */
	const char	*(*param)(const struct jd_action *, const char *key);
	/* A trait of the subject (key "x") or of its account ("account.x") as
	 * text, or NULL when absent; caller frees. */
	char		*(*trait)(const struct jd_action *, const char *key);
	/* Expand {{trait}}, {{account.trait}}, {{journey}}, {{stage}},
	 * {{rule}}, {{id}} in a template; caller frees. */
	char		*(*render)(const struct jd_action *, const char *tmpl);

	/* Record a note on the action's history entry (e.g. a CRM task id). */
	void		(*note)(const struct jd_action *, const char *text);

	/* Enroll the action's subject in journey (at stage, or its first stage
	 * when NULL). Returns 0, or -1 with a message in err. */
	int		(*enroll)(const struct jd_action *, const char *journey,
			    const char *stage, char *err, size_t errlen);
	/* Queue a new action for the same subject through another instance,
	 * with params (a JSON object or NULL). Returns 0 or -1 with err. */
	int		(*queue)(const struct jd_action *, const char *instance,
			    const char *params, char *err, size_t errlen);

	/* Does the config have this journey (and stage, when not NULL)? */
	int		(*has_journey)(const struct jd_host *, const char *journey,
			    const char *stage);
	/* Does the config have this plugin instance? */
	int		(*has_instance)(const struct jd_host *, const char *instance);
	/* Host-private context: plugins must not touch it. */
	void		*host_private;
};

/* The descriptor a plugin returns. */
struct jd_plugin {
	uint32_t	 abi_major;	/* JD_PLUGIN_ABI_MAJOR */
	uint32_t	 abi_minor;	/* JD_PLUGIN_ABI_MINOR */
	size_t		 size;		/* sizeof(struct jd_plugin) */
	const char	*name;		/* module name, as its file name */
	const char	*description;

	const struct jd_setting *settings;	/* instance settings, or NULL */
	const struct jd_setting *params;	/* action parameters, or NULL */

	/* Start an instance. Put per-instance state in *state. Returns 0, or
	 * -1 with a message in err (the instance is then refused). */
	int		(*init)(const struct jd_host *, const struct jd_settings *,
			    void **state, char *err, size_t errlen);
	/* Check one action's parameters at load time (optional): the action
	 * has only instance, journey, rule, params and settings set, so that
	 * host->param() works. Returns 0, or -1 with a message in err. */
	int		(*check)(void *state, const struct jd_host *,
			    const struct jd_action *, char *err,
			    size_t errlen);
	/* Perform one action. On anything but JD_DONE, put the reason in
	 * reason (shown in the history). May run on several threads at once. */
	enum jd_result	(*act)(void *state, const struct jd_host *,
			    const struct jd_action *, char *reason,
			    size_t reasonlen);
	/* Stop an instance and free its state. */
	void		(*fini)(void *state);
};

/* Declare the exported symbol: JD_PLUGIN_DECLARE(my_descriptor); */
#define JD_PLUGIN_DECLARE(desc)						\
	const struct jd_plugin *journeyd_plugin(void);			\
	const struct jd_plugin *journeyd_plugin(void) { return &(desc); }

#ifdef __cplusplus
}
#endif

#endif /* JOURNEYD_PLUGIN_H */
