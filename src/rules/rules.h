/*
 * The rules layer: the config model (conf.c), read from the libconfig file
 * and checked key by key, and the rule language (expr.h: parsed and
 * type-checked once, at load time, and compiled to SQL).
 */
#ifndef JD_RULES_H
#define JD_RULES_H

#include "ingest/ingest.h"
#include "journeyd/plugin.h"

struct expr;

struct stage {
	char	*name;
	int64_t	 expect;	/* seconds, 0 = none */
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
	int64_t		 repeat;	/* 0 = once, else seconds */
	int		 holdout;	/* percent, 0 = none */
	int		 ignore_limits;
	char		*quiet_hours;	/* overrides the instance's, or NULL */
};

struct journey {
	char		*name;
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

/* A plugin instance: its block of the config, and once loaded (by the
 * delivery layer's plugin host) its module. */
struct instance {
	char			*name;
	char			*module;
	char			*file;		/* config file and line */
	int			 line;
	const struct jd_plugin	*plugin;
	void			*dl;
	void			*state;		/* the plugin's, after init */
	struct jd_settings	*settings;
	struct jd_host		 host;
	int			 started;
	const struct config	*conf;		/* the config it belongs to */
	/* host settings (guardrails) */
	int			 limit_max;
	int64_t			 limit_per;
	char			*quiet_hours;
	int64_t			 timeout;
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

struct config {
	char		*path;
	char		*database;
	char		*plugin_dir;
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
	struct instance	**instances;
	int		 ninstances;
	struct journey	*journeys;
	int		 njourneys;
};

/* Load and validate path. With CONFIG_PLUGINS, plugins are loaded, started
 * (init) and every action checked against them. Returns the config, or NULL
 * with every problem in probs. */
#define CONFIG_PLUGINS	0x1
struct config	*config_load(const char *path, int flags,
		    struct problems *probs);
void		 config_free(struct config *);
/* Read the http block's key and TLS files (the daemon, when it serves, at
 * every reload, and --check; never journeyctl). 0, or -1 with each problem
 * at the line of its setting. */
int		 config_load_secrets(struct config *, struct problems *);
struct journey	*config_journey(const struct config *, const char *);
int		 journey_stage(const struct journey *, const char *);
struct instance	*config_instance(const struct config *, const char *);
int		 quiet_hours_parse(const char *, int *from, int *to);

/* bucket.c: a subject's stable bucket 0..99 for holdouts, as the SQL
 * function jd_bucket(text) that compiled rules call. */
int		 bucket_of(const void *, size_t);
int		 bucket_register(sqlite3 *);

#endif /* JD_RULES_H */
