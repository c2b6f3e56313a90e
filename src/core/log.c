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

/* Add a "FILE:LINE: message" problem. */
void
problems_add(struct problems *p, const char *file, int line,
    const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		fatalx("out of memory");
	va_end(ap);
	p->msgs = xreallocarray(p->msgs, p->n + 1, sizeof *p->msgs);
	if (line > 0)
		p->msgs[p->n++] = xprintf("%s:%d: %s", file, line, msg);
	else
		p->msgs[p->n++] = xprintf("%s: %s", file, msg);
	free(msg);
}

/* Free every problem. */
void
problems_free(struct problems *p)
{
	for (int i = 0; i < p->n; i++)
		free(p->msgs[i]);
	free(p->msgs);
	p->msgs = NULL;
	p->n = 0;
}

/* Print every problem, one a line. */
void
problems_print(const struct problems *p, FILE *f)
{
	for (int i = 0; i < p->n; i++)
		fprintf(f, "%s\n", p->msgs[i]);
}
