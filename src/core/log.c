/*
 * One logger for the daemon and journeyctl. Lines go to stderr; when journald
 * reads stderr (JOURNAL_STREAM is set) each line starts with its syslog
 * priority as "<N>", which journald turns into the entry's priority.
 */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

static const char	*log_progname = "journeyd";
static int		 log_verbose;
static int		 log_prefix;
static pthread_mutex_t	 log_lock = PTHREAD_MUTEX_INITIALIZER;

/* Set up logging: debug lines only when verbose. */
void
log_open(const char *progname, int verbose)
{
	log_progname = progname;
	log_verbose = verbose;
	log_prefix = getenv("JOURNAL_STREAM") != NULL;
}

/* Log a line with a priority. */
void
log_vmsg(int prio, const char *fmt, va_list ap)
{
	static const char *names[] = { "emerg", "alert", "crit", "error",
	    "warning", "notice", "info", "debug" };
	char	 line[4096];

	if (prio >= LOG_PRIO_DEBUG && !log_verbose)
		return;
	vsnprintf(line, sizeof line, fmt, ap);
	/* One line per message: fold any newline the message carries. */
	for (char *p = line; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	pthread_mutex_lock(&log_lock);
	if (log_prefix)
		fprintf(stderr, "<%d>%s\n", prio, line);
	else if (prio <= LOG_PRIO_WARNING)
		fprintf(stderr, "%s: %s: %s\n", log_progname,
		    names[prio & 7], line);
	else
		fprintf(stderr, "%s: %s\n", log_progname, line);
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
}

/* Log a line with a priority. */
void
log_msg(int prio, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vmsg(prio, fmt, ap);
	va_end(ap);
}

/* Log an error and exit. */
void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vmsg(LOG_PRIO_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}

/* Append "FILE:LINE: [kind]message" to a list of lines. */
static void
problems_append(char ***list, int *n, const char *file, int line,
    const char *kind, const char *fmt, va_list ap)
{
	char	*msg;

	if (vasprintf(&msg, fmt, ap) < 0)
		fatalx("out of memory");
	*list = xreallocarray(*list, *n + 1, sizeof **list);
	if (line > 0)
		(*list)[(*n)++] = xprintf("%s:%d: %s%s", file, line, kind, msg);
	else
		(*list)[(*n)++] = xprintf("%s: %s%s", file, kind, msg);
	free(msg);
}

/* Add a "FILE:LINE: message" problem. */
void
problems_add(struct problems *p, const char *file, int line,
    const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	problems_append(&p->msgs, &p->n, file, line, "", fmt, ap);
	va_end(ap);
}

/* Add a "FILE:LINE: warning: message" warning. */
void
problems_warn(struct problems *p, const char *file, int line,
    const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	problems_append(&p->warnings, &p->nwarnings, file, line, "warning: ",
	    fmt, ap);
	va_end(ap);
}

/* Free every problem and warning. */
void
problems_free(struct problems *p)
{
	for (int i = 0; i < p->n; i++)
		free(p->msgs[i]);
	free(p->msgs);
	for (int i = 0; i < p->nwarnings; i++)
		free(p->warnings[i]);
	free(p->warnings);
	memset(p, 0, sizeof *p);
}

/* Print every problem, then every warning, one a line. */
void
problems_print(const struct problems *p, FILE *f)
{
	for (int i = 0; i < p->n; i++)
		fprintf(f, "%s\n", p->msgs[i]);
	for (int i = 0; i < p->nwarnings; i++)
		fprintf(f, "%s\n", p->warnings[i]);
}
