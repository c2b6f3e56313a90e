/*
 * journeyd: internal interfaces shared by the daemon and journeyctl.
 *
 * One header for the core, as tmux has: each section names the file that
 * implements it. Functions return 0 on success and -1 on failure with the
 * message put where the caller can show it.
 */
#ifndef JOURNEYD_H
#define JOURNEYD_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <sqlite3.h>

#include "journeyd/plugin.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define JD_DEFAULT_CONFIG SYSCONFDIR "/journeyd/journeyd.conf"

/* xmalloc.c */
void		*xmalloc(size_t);
void		*xcalloc(size_t, size_t);
void		*xrealloc(void *, size_t);
void		*xreallocarray(void *, size_t, size_t);
char		*xstrdup(const char *);
char		*xstrndup(const char *, size_t);
int		 xasprintf(char **, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
char		*xprintf(const char *, ...) __attribute__((format(printf, 1, 2)));

/* A growing string buffer. */
struct buf {
	char	*s;
	size_t	 len;
	size_t	 cap;
};
void		 buf_init(struct buf *);
void		 buf_free(struct buf *);
void		 buf_add(struct buf *, const char *, size_t);
void		 buf_puts(struct buf *, const char *);
void		 buf_printf(struct buf *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
char		*buf_steal(struct buf *);

/* log.c */
enum log_dest { LOG_DEST_STDERR, LOG_DEST_JOURNAL };
void		 log_open(const char *progname, int verbose);
void		 log_set_prefix_mode(int);	/* "<N>" syslog prefixes */
void		 log_msg(int prio, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
void		 log_vmsg(int prio, const char *fmt, va_list);
#define log_err(...)	log_msg(JD_LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(JD_LOG_WARNING, __VA_ARGS__)
#define log_notice(...)	log_msg(JD_LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	log_msg(JD_LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(JD_LOG_DEBUG, __VA_ARGS__)
__attribute__((noreturn, format(printf, 1, 2)))
void		 fatalx(const char *, ...);

/* timeutil.c: durations and timestamps. */
int		 duration_parse(const char *, int64_t *);
char		*duration_format(int64_t, char *, size_t);
int		 time_parse(const char *, int64_t *);	/* ISO 8601 or @N */
char		*time_format(int64_t, char *, size_t);	/* ISO 8601, UTC */
int64_t		 time_now(void);
int64_t		 time_mono_usec(void);	/* monotonic, microseconds */	/* the run's clock: --now or real */
void		 time_set_now(int64_t);	/* pin the clock at --now */
void		 time_set_advancing(int);	/* let it move on */

/* Problems found while loading a config: "FILE:LINE: message" lines. */
struct problems {
	char	**msgs;
	int	   n;
};
void		 problems_add(struct problems *, const char *file, int line,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void		 problems_free(struct problems *);
void		 problems_print(const struct problems *, FILE *);

/* conf.c: the config model. */
enum subject_kind { SUBJECT_USER = 0, SUBJECT_ACCOUNT = 1 };

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

struct instance;	/* plugin.c */

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
struct journey	*config_journey(const struct config *, const char *);
int		 journey_stage(const struct journey *, const char *);
struct instance	*config_instance(const struct config *, const char *);
int		 quiet_hours_parse(const char *, int *from, int *to);

/* plugin.c: loading plugins and the host interface. */
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
	/* host settings (§11) */
	int			 limit_max;
	int64_t			 limit_per;
	char			*quiet_hours;
	int64_t			 timeout;
};
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


/* store.c: the SQLite database. */
#define STORE_SCHEMA_VERSION 1
sqlite3		*store_open(const char *path, char *err, size_t errlen);
void		 store_close(sqlite3 *);
int		 store_exec(sqlite3 *, const char *sql);
int		 store_begin(sqlite3 *);	/* BEGIN IMMEDIATE */
/* Pause STORE_YIELD_MS between two write transactions of a long run, so
 * that other writers (waiting in the busy handler) get their turn. */
#define STORE_YIELD_MS	5
void		 store_yield(void);
int		 store_commit(sqlite3 *);
void		 store_rollback(sqlite3 *);
sqlite3_stmt	*store_prepare(sqlite3 *, const char *sql);
int64_t		 store_subject(sqlite3 *, const char *ref, int *kind);
int		 store_meta_set(sqlite3 *, const char *key, const char *value);
char		*store_meta_get(sqlite3 *, const char *key);

/* Subject kinds and statuses as stored. */
#define MEMBER_ACTIVE		0
#define MEMBER_COMPLETED	1
#define MEMBER_EXITED		2

#define OUTBOX_PENDING		0
#define OUTBOX_INFLIGHT		1
#define OUTBOX_DONE		2
#define OUTBOX_RETRYING		3
#define OUTBOX_DEAD		4
#define OUTBOX_HELD		5
/*
 * The rows of the partial index outbox_queue: pending, in flight, retrying
 * (the queue). A query that has this term, written out as the index's WHERE
 * is, may use the index; one with "status IN (?1, ...)" may not. Not "IN
 * (0, 1, 3)": SQLite tests an IN list of three or more in a temporary table,
 * built twice by every UPDATE of a row's status, old row and new.
 */
/* The journeys members has rows for, as the CTE js(j): found one after
 * the other along members' key (journey, subject), one probe each; its
 * last row is NULL. */
#define MEMBER_JOURNEYS_CTE \
	"WITH RECURSIVE js(j) AS (SELECT min(journey) FROM members" \
	" UNION ALL SELECT (SELECT min(journey) FROM members WHERE" \
	" journey > js.j) FROM js WHERE js.j IS NOT NULL) "
#define OUTBOX_QUEUED_SQL	"(status <= 1 OR status = 3)"
#if OUTBOX_PENDING != 0 || OUTBOX_INFLIGHT != 1 || OUTBOX_RETRYING != 3
#error "outbox statuses changed: update OUTBOX_QUEUED_SQL"
#endif
/* The dead, in the words of the partial index outbox_dead (a literal: the
 * planner uses a partial index only for a term it can see implies it). */
#define OUTBOX_DEAD_SQL		"(status = 4)"
#if OUTBOX_DEAD != 4
#error "outbox statuses changed: update OUTBOX_DEAD_SQL"
#endif
const char	*outbox_status_name(int);
const char	*member_status_name(int);

/* import.c: Segment-style JSON lines. */
struct import_stats {
	long	imported;
	long	duplicates;
	long	rejected;
};
struct importer;
struct importer	*importer_new(sqlite3 *, int64_t now);
/* Import one line: 0 imported, a duplicate or empty; -1 rejected, with
 * the reason in err; -2 a database fault, with the message in err, after
 * the uncommitted lines were rolled back. */
int		 importer_line(struct importer *, const char *line, size_t len,
		    char *err, size_t errlen);
int		 importer_commit(struct importer *);
/* Why the last importer_commit() failed: the database file and SQLite's
 * message. */
const char	*importer_fault(const struct importer *);
/* Counts so far, committed or not. */
void		 importer_stats(const struct importer *, struct import_stats *);
/* Rolls back what was not committed. */
void		 importer_free(struct importer *);
/* "imported N, duplicates N, rejected N" into out. */
char		*import_summary(const struct import_stats *, char *out,
		    size_t len);
/* Import a whole stream, reporting rejected lines as NAME:LINE: reason to
 * errf. Returns 0 when every line was good, 1 when any was rejected, -1
 * when the stream could not be read, -2 on a database fault (logged with
 * the database's file, and the line from which nothing was imported: the
 * lines before it are committed or reported). */
int		 import_stream(sqlite3 *, FILE *, const char *name, int64_t now,
		    FILE *errf, struct import_stats *);
/* Import every complete file of a spool folder into done/ or failed/. */
int		 spool_scan(sqlite3 *, const char *dir, int64_t now);

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

/* tick.c: evaluating journeys. */
struct tick_stats {
	long	entered;
	long	moved;
	long	completed;
	long	exited;
	long	actions;
	double	seconds;	/* how long the tick took */
};
/* Run one tick of every journey at now. With dry_run, print what would
 * happen to out and change nothing. */
int		 tick_run(sqlite3 *, const struct config *, int64_t now,
		    int dry_run, FILE *out, struct tick_stats *);
/* Enroll subject sid in a journey at stage (NULL: the first), recording
 * rule as the cause. Returns 1 when enrolled, 0 when already in it, -1 with
 * err. Must run inside a transaction. */
int		 journey_enroll(sqlite3 *, const struct config *, int64_t sid,
		    const char *journey, const char *stage, const char *rule,
		    int64_t now, char *err, size_t errlen);
/* Queue an action for subject sid; returns the outbox row or -1. */
int64_t		 outbox_add(sqlite3 *, int64_t sid, const char *journey,
		    const char *rule, const char *stage, const char *instance,
		    const char *params, int64_t now);

/* dispatch.c: delivering actions from the outbox. */
struct dispatcher;
int		 outbox_recover(sqlite3 *, int64_t now);
struct dispatcher *dispatch_start(const struct config *, int once);
void		 dispatch_kick(struct dispatcher *);
/* Returns how many plugin calls, abandoned after their timeout, still run:
 * while any do, the config must not be freed. */
int		 dispatch_stop(struct dispatcher *, long outcomes[4]);

/* guard.c: guardrails (quiet hours, frequency caps) and holdout buckets. */
#define GUARD_SEND	0	/* perform the action */
#define GUARD_DEFERRED	1	/* quiet hours: pending until they end */
#define GUARD_HELD	2	/* capped: held, with the reason */
int		 guard_applies(const struct config *, const struct act *);
int		 guard_check(sqlite3 *, const struct config *, struct act *);
int		 guard_quiet_end(const char *zone, int from, int to,
		    int64_t now, int64_t *end);
int		 guard_zone_valid(const char *zone);
int		 guard_bucket(const void *, size_t);	/* 0..99 */
int		 guard_register(sqlite3 *);	/* SQL jd_bucket(text) */

/* metrics.c: Prometheus text-format metrics, after every tick. */
int		 metrics_write(sqlite3 *, const struct config *, int64_t now,
		    const struct tick_stats *);

/* report.c: the funnel of every journey, as text and as an HTML page. */
int		 report_run(const struct config *, sqlite3 *, int64_t now,
		    const char *html_path, FILE *out);

/* notify.c: the systemd notify protocol. */
int		 notify_send(const char *state);
int64_t		 notify_watchdog_usec(void);

#endif /* JOURNEYD_H */
