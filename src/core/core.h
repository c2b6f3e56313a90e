/*
 * The core layer: what every other layer of journeyd uses and nothing of
 * journeyd's own is below. Allocation that aborts on out-of-memory and
 * growing strings (xmalloc.c), the log and config problems (log.c),
 * durations, timestamps, the run's clock and monotonic waits (timeutil.c),
 * time zones (tz.c), small files read whole (file.c).
 *
 * The layers, each a folder of src/ whose header includes the one below
 * it, calls going only downwards (docs/ARCHITECTURE.md):
 *   core -> store -> ingest -> rules -> engine -> delivery -> insight
 *   -> the programs (daemon/, ctl/).
 */
#ifndef JD_CORE_H
#define JD_CORE_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Log priorities, as syslog's (the same values as JD_LOG_* of the plugin
 * ABI). */
#define LOG_PRIO_ERR		3
#define LOG_PRIO_WARNING	4
#define LOG_PRIO_NOTICE		5
#define LOG_PRIO_INFO		6
#define LOG_PRIO_DEBUG		7

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
char		*xprintf(const char *, ...) __attribute__((format(printf, 1, 2)));
char		*xvprintf(const char *, va_list) __attribute__((format(printf, 1, 0)));

/* A growing string buffer, always NUL-terminated once anything was added. */
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
void		 log_open(const char *progname, int verbose);
void		 log_msg(int prio, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
void		 log_vmsg(int prio, const char *fmt, va_list);
#define log_err(...)	log_msg(LOG_PRIO_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_PRIO_WARNING, __VA_ARGS__)
#define log_notice(...)	log_msg(LOG_PRIO_NOTICE, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_PRIO_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_PRIO_DEBUG, __VA_ARGS__)
/* Log and exit(1): only on the main thread, before the daemon serves. */
__attribute__((noreturn, format(printf, 1, 2)))
void		 fatalx(const char *, ...);

/* Problems found while loading a config: "FILE:LINE: message" lines, and
 * warnings, "FILE:LINE: warning: message", which refuse nothing. */
struct problems {
	char	**msgs;
	int	   n;
	char	**warnings;
	int	   nwarnings;
};
void		 problems_add(struct problems *, const char *file, int line,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void		 problems_warn(struct problems *, const char *file, int line,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void		 problems_free(struct problems *);
/* Print the problems, then the warnings, one a line. */
void		 problems_print(const struct problems *, FILE *);

/* timeutil.c: durations and timestamps. */
int		 duration_parse(const char *, int64_t *);
char		*duration_format(int64_t, char *, size_t);
int		 time_parse(const char *, int64_t *);	/* ISO 8601 or @N */
/* The same in milliseconds: fractions kept, offsets Z, +01:00, +0100. */
int		 time_parse_ms(const char *, int64_t *);
char		*time_format(int64_t, char *, size_t);	/* ISO 8601, UTC */
int64_t		 time_now(void);	/* the run's clock: --now or real */
int64_t		 time_mono_usec(void);	/* monotonic, microseconds */
void		 time_set_now(int64_t);	/* pin the clock at --now */
void		 time_set_advancing(int);	/* let it move on */
/* When the run's clock reads t, on the monotonic clock (time_mono_usec());
 * INT64_MAX when it never will (pinned before t). */
int64_t		 time_mono_at(int64_t t);
/* Condition variables whose timed waits run on the monotonic clock, so that
 * a step of the wall clock neither delays nor hastens them. */
void		 time_cond_init(pthread_cond_t *);
/* Wait on cond until woken or until the monotonic time `until` (usec;
 * INT64_MAX: no limit). 0 when woken, ETIMEDOUT when the time came. */
int		 time_cond_wait(pthread_cond_t *, pthread_mutex_t *,
		    int64_t until);

/* file.c: a small file read whole. */
char		*file_load(const char *path, size_t max, size_t *len,
		    char *err, size_t errlen);

/*
 * tz.c: time zones of the tz database, by IANA name ("Europe/Berlin"),
 * read from its TZif files; conversions that touch no process-wide state
 * (no TZ, no tzset()), safe from any thread.
 */
struct tz;		/* a zone: loaded once, immutable, shared */
struct tz_local {
	int	 year, mon, mday;	/* mon 1..12 */
	int	 hour, min, sec;
	int	 wday;			/* 0 = Sunday */
	int	 yday;			/* 0..365 */
	int32_t	 offset;		/* seconds east of UTC at that time */
};
/* NULL when not a valid zone; "UTC" always works; cached for the life of
 * the process, thread-safe. */
const struct tz	*tz_get(const char *name);
int		 tz_valid(const char *zone);	/* tz_get(zone) != NULL */
void		 tz_local(const struct tz *, int64_t t, struct tz_local *out);
/* The Unix time of a local wall-clock time in the zone. A time skipped by a
 * change (the spring gap) moves forward by the gap, as mktime() with
 * tm_isdst = -1 does on glibc; an ambiguous one (the autumn overlap) takes
 * the earlier instant. Fields out of range are normalised (mday 32 = next
 * month). Times are clamped to ±2^55 seconds. */
int64_t		 tz_mktime(const struct tz *, int year, int mon, int mday,
		    int hour, int min, int sec);
/* A zone from a TZif file's bytes (tests, fuzzing); NULL and *why. */
struct tz	*tz_parse(const char *name, const void *, size_t,
		    const char **why);
void		 tz_free(struct tz *);

#endif /* JD_CORE_H */
