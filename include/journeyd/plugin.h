/*
 * journeyd plugin ABI, version 1.1.
 *
 * This header is the whole interface between journeyd and a plugin. A plugin
 * is a shared object exporting one symbol, JD_PLUGIN_SYMBOL, a function that
 * returns a pointer to a static struct jd_plugin. The host checks the
 * descriptor's ABI major (must be equal) and minor (must not be newer than
 * the host's) before it calls anything else.
 *
 * Versions. Minor versions only add: members at the end of a struct, new
 * callbacks, new host functions. Every struct the plugin hands over carries
 * its size as the plugin was built (jd_plugin.size, jd_plugin.setting_size
 * for the entries of its tables), and the host reads only the members that
 * size covers: a plugin built against the 1.0 header loads and works
 * unchanged in a 1.1 host. Every struct the host hands over carries the
 * host's size (jd_host.size, jd_outcome.size). What 1.1 added is marked
 * "(1.1)".
 *
 * Threading: act() and perform() may run on several worker threads at once
 * for the same instance; whatever they share through the state must be
 * locked by the plugin. check_settings(), init(), check() and fini() run on
 * the main thread, never while an action is performed.
 *
 * Strings: the side that allocates a string frees it; the other side only
 * borrows it. This holds for every callback and host function, in both
 * directions:
 *  - The host lends the plugin every string it hands over: the members of
 *    struct jd_action and every "const char *" a host function returns.
 *    The plugin never frees nor changes them. Settings stay valid until
 *    fini(); everything obtained for an action stays valid until the host
 *    has recorded that action's outcome (in check(): until check()
 *    returns).
 *  - The plugin lends the host every string it passes to a host function;
 *    the host copies what it keeps before that function returns.
 *  - The outcome (struct jd_outcome) belongs to the host: perform() writes
 *    text into its buffers, and points its effects at strings the host lent
 *    for the action (its members, param(), value(), expand(), format()) or
 *    at constants, never at the plugin's own memory.
 *  - One exception, kept for 1.0 plugins: trait() and render() return new
 *    strings that the plugin frees with free(). 1.1 plugins use value() and
 *    expand() instead.
 */
#ifndef JOURNEYD_PLUGIN_H
#define JOURNEYD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define JD_PLUGIN_ABI_MAJOR 1
#define JD_PLUGIN_ABI_MINOR 1
#define JD_PLUGIN_SYMBOL "journeyd_plugin"

/* Type of a setting in a plugin's settings table, or of an action parameter. */
enum jd_type {
	JD_T_STRING = 1,	/* any string */
	JD_T_INT,		/* integer */
	JD_T_BOOL,		/* true / false */
	JD_T_DURATION,		/* "45s", "15m", "12h", "30d", "2w": seconds */
	JD_T_FILE		/* a path to a readable file */
};

/* One entry of a settings (or action parameter) table; end with key NULL.
 * The descriptor says the size of an entry (setting_size). */
struct jd_setting {
	const char	*key;
	enum jd_type	 type;
	int		 required;	/* non-zero: must be given */
	const char	*defval;	/* default as text, or NULL */
	const char	*description;	/* one line, for --help and the README */
};

/* What happened to an action. */
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

/* How expand() escapes the values it substitutes (1.1). */
#define JD_EXPAND_TEXT	0	/* as they are */
#define JD_EXPAND_HTML	1	/* HTML-escaped: & < > " ' */

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
					 * every retry (host->value() and
					 * host->expand() read current ones) */
	const char	*account_traits; /* the user's account's traits, or NULL */
	const char	*params;	/* the action's parameters, a JSON object */
	int64_t		 time;		/* when it was queued, Unix seconds */
	int64_t		 now;		/* the host's clock for this attempt */
	int		 attempt;	/* 1 on the first try */
	const struct jd_settings *settings;	/* the instance's settings */
};

/*
 * What perform() says happened to an action (1.1). The host allocates it,
 * sets size and the buffers, and records it when perform() returns, in one
 * transaction with its effects.
 */
struct jd_outcome {
	size_t		 size;		/* sizeof(struct jd_outcome) of the host */
	enum jd_result	 status;	/* must be set */
	/* With JD_RETRY: the delay the other side asked for, in seconds (an
	 * HTTP Retry-After), or 0 for the host's backoff. The host keeps it
	 * within [1 s, retry_max]. */
	int64_t		 retry_after;
	/* Why, for anything but JD_DONE: shown in the history and the log.
	 * A buffer of reasonlen bytes, empty on entry. */
	char		*reason;
	size_t		 reasonlen;
	/* The id the channel gave what it made (a CRM's task id), kept in
	 * the history; a buffer of external_idlen bytes, empty on entry. */
	char		*external_id;
	size_t		 external_idlen;
	/* Effects: applied by the host only when status is JD_DONE, in the
	 * transaction that records the outcome, so that a crash applies both
	 * or neither. NULL members ask for nothing. */
	struct {
		const char	*journey;	/* enroll the subject here */
		const char	*stage;		/* at this stage; NULL: its first */
	} enroll;
	struct {
		const char	*instance;	/* queue an action for the subject
						 * through this instance */
		const char	*params;	/* its parameters, a JSON object
						 * (NULL: none) */
	} announce;
};

/* The host interface, handed to every callback. */
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
	/* 1.0: a trait of the subject ("x") or of its account ("account.x") as
	 * a new string the plugin frees, or NULL. 1.1 plugins use value(). */
	char		*(*trait)(const struct jd_action *, const char *key);
	/* 1.0: expand a template as expand() does in JD_EXPAND_TEXT mode, into
	 * a new string the plugin frees. 1.1 plugins use expand(). */
	char		*(*render)(const struct jd_action *, const char *tmpl);

	/* Record a note on the action's history entry (e.g. a CRM task id). */
	void		(*note)(const struct jd_action *, const char *text);

	/* Ask for the subject to be enrolled in journey (at stage, or its
	 * first stage when NULL) when the action is done; the same as the
	 * outcome's enroll. Returns 0, or -1 with a message in err when there
	 * is no such journey or stage. */
	int		(*enroll)(const struct jd_action *, const char *journey,
			    const char *stage, char *err, size_t errlen);
	/* Ask for an action to be queued for the same subject through another
	 * instance, with params (a JSON object or NULL), when the action is
	 * done; the same as the outcome's announce. Returns 0 or -1 with err. */
	int		(*queue)(const struct jd_action *, const char *instance,
			    const char *params, char *err, size_t errlen);

	/* Does the config have this journey (and stage, when not NULL)? */
	int		(*has_journey)(const struct jd_host *, const char *journey,
			    const char *stage);
	/* Does the config have this plugin instance? */
	int		(*has_instance)(const struct jd_host *, const char *instance);
	/* Host-private context: plugins must not touch it. */
	void		*host_private;

	/* (1.1) An action parameter as an integer (true and false count as 1
	 * and 0) or as a duration ("45s", "15m", "12h", "30d", "2w", "1y", or
	 * plain seconds), into *out. Returns 1, 0 when the parameter is absent
	 * (*out is left alone: set the default first), -1 when it is not of
	 * that type. */
	int		(*param_int)(const struct jd_action *, const char *key,
			    int64_t *out);
	int		(*param_duration)(const struct jd_action *,
			    const char *key, int64_t *out);
	/* (1.1) A trait of the subject by path ("plan", "address.city",
	 * "items[0].sku"; "account.name" for its account's), as current
	 * text, or NULL when absent. */
	const char	*(*value)(const struct jd_action *, const char *path);
	/* (1.1) Expand a template: {{journey}}, {{stage}}, {{rule}},
	 * {{subject_id}}, {{action_id}} ({{id}} is the action's id too), and
	 * any other {{path}} as value() reads it, empty when absent. mode is
	 * JD_EXPAND_TEXT, or JD_EXPAND_HTML for an HTML part. */
	const char	*(*expand)(const struct jd_action *, const char *tmpl,
			    int mode);
	/* (1.1) Format a string that lives as long as the action's strings
	 * (for an outcome's effects, say). */
	const char	*(*format)(const struct jd_action *, const char *fmt, ...)
			    __attribute__((format(printf, 2, 3)));
	/* (1.1) In check(): hand the host a template the action will expand,
	 * so that journeyd --check can warn about its placeholders (an unknown
	 * trait, an ambiguous {{id}}). file names the template's file, or is
	 * NULL for a template given in the action's parameters. */
	void		(*check_template)(const struct jd_action *,
			    const char *file, const char *tmpl);
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
	/* Check one action's parameters when the config loads (optional):
	 * the action has only instance, journey, rule, params and settings
	 * set, so that host->param() works. Under journeyd --check, 1.1
	 * plugins are checked without being started: state is NULL. Returns
	 * 0, or -1 with a message in err. */
	int		(*check)(void *state, const struct jd_host *,
			    const struct jd_action *, char *err,
			    size_t errlen);
	/* 1.0: perform one action and return what happened; on anything but
	 * JD_DONE, put the reason in reason. 1.1 plugins set perform()
	 * instead, which the host prefers when both are set. */
	enum jd_result	(*act)(void *state, const struct jd_host *,
			    const struct jd_action *, char *reason,
			    size_t reasonlen);
	/* Stop an instance and free its state. */
	void		(*fini)(void *state);

	/* (1.1) sizeof(struct jd_setting): the size of an entry of settings
	 * and params (0 counts as 1.0's). */
	size_t		 setting_size;
	/* (1.1) Check an instance's settings without starting it and without
	 * side effects (no file written, no connection opened): called before
	 * init(), and alone under journeyd --check. Returns 0, or -1 with a
	 * message in err. */
	int		(*check_settings)(const struct jd_host *,
			    const struct jd_settings *, char *err,
			    size_t errlen);
	/* (1.1) Perform one action and fill in its outcome. May run on several
	 * threads at once. */
	void		(*perform)(void *state, const struct jd_host *,
			    const struct jd_action *, struct jd_outcome *);
};

/* Declare the exported symbol: JD_PLUGIN_DECLARE(my_descriptor); */
#define JD_PLUGIN_DECLARE(desc)						\
	const struct jd_plugin *journeyd_plugin(void);			\
	const struct jd_plugin *journeyd_plugin(void) { return &(desc); }

#ifdef __cplusplus
}
#endif

#endif /* JOURNEYD_PLUGIN_H */
