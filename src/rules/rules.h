/*
 * The rules layer: the config model (conf.c), read from the libconfig file
 * and checked key by key, and the rule language (expr.h: parsed and
 * type-checked once, at load time, and compiled to SQL).
 */
#ifndef JD_RULES_H
#define JD_RULES_H

#include "ingest/ingest.h"

struct expr;

/* A setting of a plugin block, or of a rule's action, as written in the
 * config: the plugin host checks it against the plugin's table. */
enum conf_value_type {
	CONF_V_STRING, CONF_V_INT, CONF_V_FLOAT, CONF_V_BOOL, CONF_V_OTHER
};
struct conf_value {
	char			*key;
	enum conf_value_type	 type;
	char			*text;	/* a string as written, a number in
					 * decimal, "true" or "false" */
	char			*file;	/* where it is written */
	int			 line;
};
struct conf_values {
	struct conf_value	*v;
	int			 n;
};

/* A named condition (SPEC §14.3): segment('name') in any expression. */
struct segment {
	char	*name;
	char	*src;
	char	*file;		/* where it is written */
	int	 line;
};

struct stage {
	char	*name;
	int64_t	 expect;	/* seconds, 0 = none */
};

/* A variant of an action rule (SPEC §15): its action, as a rule's. */
struct variant {
	char		*name;
	int		 weight;	/* > 0 */
	char		*instance;
	char		*params;	/* a JSON object */
	struct conf_values action_in;	/* the same, as written */
	char		*action_file;	/* where the action is written */
	int		 action_line;
};

/* A send window (SPEC §15): local minutes [from, to) (to < from: past
 * midnight) on the days of the mask (bit 0 Sunday .. bit 6 Saturday) of
 * the window's start. */
struct window {
	int		 from, to;
	int		 days;
};

struct rule {
	char		*name;
	int		 line;
	char		**stages;	/* NULL: any stage */
	int		 nstages;
	char		*when_src;
	struct expr	*when;
	int		 go;		/* index of goto stage, -1 none */
	char		*instance;	/* action's plugin instance, or NULL */
	char		*params;	/* action params, a JSON object */
	struct conf_values action_in;	/* the same, as written */
	char		*action_file;	/* where the action is written */
	int		 action_line;
	int64_t		 repeat;	/* 0 = once, else seconds */
	int		 on_enter;	/* on = "enter": for every entry */
	int		 holdout;	/* percent, 0 = none */
	int		 ignore_limits;
	char		*quiet_hours;	/* overrides the instance's, or NULL */
	struct variant	*variants;	/* instead of one action, or NULL; */
	int		 nvariants;	/* instance, params: the first's */
	char		*variants_json;	/* {"name": {"instance", "params"}} */
	char		*weights_json;	/* {"name": cumulative weight} */
	int		 weight_total;
	struct window	*window;	/* or NULL */
	int64_t		 delay;		/* seconds, 0 none */
};

struct journey {
	char		*name;
	char		*file;		/* where it is written, and its line */
	int		 line;
	enum subject_kind subject;
	char		*entry_src;
	struct expr	*entry;		/* NULL: only by hand-off */
	char		*exit_src;
	struct expr	*exit;
	int		 reenter;
	struct stage	*stages;
	int		 nstages;
	struct rule	*rules;
	int		 nrules;
};

/* A plugin instance: its block of the config. The plugin host (delivery
 * layer) loads its module into rt, and sets rt_free, which config_free()
 * calls to unload it: the owner of the state hands over its free function,
 * as collectd's plugins do. */
struct plugin_rt;
struct instance {
	char			*name;
	char			*module;
	char			*file;		/* config file and line */
	int			 line;
	struct conf_values	 settings_in;	/* the plugin's own keys */
	/* host settings (guardrails) */
	int			 limit_max;
	int64_t			 limit_per;
	char			*quiet_hours;
	int64_t			 timeout;
	struct plugin_rt	*rt;		/* once loaded, else NULL */
	void			(*rt_free)(struct instance *);
};

/* keyring.c: the keys of a key file, kept as their SHA-256 digests. */
#define KEYRING_DIGEST	32
struct keyring {
	unsigned char	(*digests)[KEYRING_DIGEST];
	int		  n;
};
int		 keyring_load(struct keyring *, const char *path, char *err,
		    size_t errlen);
int		 keyring_match(const struct keyring *, const char *key,
		    size_t len);
void		 keyring_free(struct keyring *);

/* A file setting of the http block: the path as written, and where. */
struct http_file {
	char		*path;		/* NULL: not set */
	char		*file;
	int		 line;
};

/* The http block (SPEC §13): where the HTTP API listens, its key files
 * and TLS files, and once read (config_load_secrets(), again with the
 * config on SIGHUP) their contents. */
struct http_conf {
	char		**listen;	/* "host:port" or "[v6]:port" */
	int		  nlisten;
	char		 *file;		/* the block's file and line */
	int		  line;
	struct http_file  write_key_file;
	struct http_file  admin_key_file;
	struct http_file  tls_cert_file;
	struct http_file  tls_key_file;
	struct keyring	  write_keys;
	struct keyring	  admin_keys;	/* none: no admin endpoints */
	char		 *tls_cert;	/* PEM text, or NULL: plain HTTP */
	char		 *tls_key;
};

/* react: evaluate changed subjects this long after new data is committed,
 * or never (REACT_OFF). */
#define REACT_OFF	(-1)
#define REACT_DEFAULT	1

/* The retention block (SPEC §18): how long events, history and ended
 * actions are kept, in seconds; 0: for ever. */
struct retention {
	int64_t		 events;
	int64_t		 history;
	int64_t		 actions;
	char		*file;		/* where the block is written */
	int		 line;
};

struct config {
	char		*path;
	char		*database;
	char		*plugin_dir;	/* the installed plugins */
	char		**plugin_path;	/* own plugins, searched first */
	int		 nplugin_path;
	char		*spool_dir;
	int64_t		 interval;
	int		 workers;
	int64_t		 retry_min;
	int64_t		 retry_max;
	int64_t		 retry_for;
	char		*default_timezone;
	char		*metrics_file;
	int64_t		 react;		/* seconds, or REACT_OFF */
	struct http_conf *http;		/* NULL: no HTTP API */
	struct retention retention;
	struct instance	**instances;
	int		 ninstances;
	struct journey	*journeys;
	int		 njourneys;
	struct segment	*segments;
	int		 nsegments;
};

/* Load and validate path: every key, every expression, every action's
 * instance. Plugins are not loaded: that is the plugin host's
 * (plugins_load(), delivery layer). Returns the config, or NULL with every
 * problem in probs. */
struct config	*config_load(const char *path, struct problems *probs);
void		 config_free(struct config *);
/* Read the http block's key and TLS files (the daemon, when it serves, at
 * every reload, and --check; never journeyctl). 0, or -1 with each problem
 * at the line of its setting. */
int		 config_load_secrets(struct config *, struct problems *);
struct journey	*config_journey(const struct config *, const char *);
int		 journey_stage(const struct journey *, const char *);
int		 rule_at_stage(const struct rule *, const char *stage);
struct instance	*config_instance(const struct config *, const char *);
struct segment	*config_segment(const struct config *, const char *);
int		 quiet_hours_parse(const char *, int *from, int *to);
int		 window_days_parse(const char *, int *mask);

/* retention.c: what the rules need kept when events are pruned (SPEC
 * §18): the longest window of any read of events, and the event names read
 * without a window by a read that what pruning leaves cannot answer (a
 * condition, sum(), days()). */
struct retention_plan {
	int64_t		 window;	/* longest, seconds; 0: none */
	const struct journey *window_journey;
	int		 window_line;
	struct {
		char		*name;
		const struct journey *journey;
		int		 line;
	}		*keep;		/* names whose events stay */
	int		 nkeep;
};
void		 retention_plan(const struct config *, struct retention_plan *);
void		 retention_plan_free(struct retention_plan *);
/* The events retention in force: max(configured, longest window); 0:
 * events are kept for ever. */
int64_t		 retention_events(const struct config *,
		    const struct retention_plan *);
/* --check: warn of what keeps events longer than 'events' says. */
void		 retention_check(const struct config *, struct problems *);

/* confpath.c: a path of the config that names a file to read, resolved
 * ("$CREDENTIALS_DIRECTORY/NAME" against that variable: systemd's
 * LoadCredential=). Both return a new string, or NULL with the reason. */
char		*conf_path(const char *path, char *err, size_t errlen);
char		*conf_path_readable(const char *path, const char *what,
		    char *err, size_t errlen, struct problems *,
		    const char *file, int line);

/* bucket.c: a subject's stable bucket 0..99 for holdouts, as the SQL
 * function jd_bucket(text) that compiled rules call; jd_hash(text, n),
 * the same hash modulo n, draws variants. */
int		 bucket_of(const void *, size_t);
uint64_t	 bucket_hash(const void *, size_t);
int		 bucket_register(sqlite3 *);

#endif /* JD_RULES_H */
