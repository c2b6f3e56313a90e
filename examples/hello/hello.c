/*
 * hello: an example journeyd plugin (ABI 1.1), built out of tree against the
 * installed header:
 *
 *	cc -shared -fPIC $(pkg-config --cflags journeyd-plugin) \
 *	    -o hello.so hello.c
 *
 * Copy hello.so into plugin_dir and use it from the config:
 *
 *	plugins = { greet = { module = "hello"; file = "/var/lib/journeyd/hello.txt"; }; };
 *	... action = { plugin = "greet"; greeting = "Hello {{first_name}}"; }; ...
 *
 * Each action appends one line to `file`: the action id, then the expanded
 * greeting. Actions run on several worker threads at once, so the state is
 * shared under a mutex; each line is a single write(2) with O_APPEND.
 *
 * Strings: nothing the host hands over is freed here (it lends them), and
 * whatever this plugin allocates, it frees.
 */
#define _GNU_SOURCE	/* asprintf */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <journeyd/plugin.h>

#define HELLO_GREETING	"Hello {{first_name}}"

struct hello {
	int		 fd;
	pthread_mutex_t	 lock;
	unsigned long	 sent;
};

/* The instance's settings: journeyd checks every key and type. */
static const struct jd_setting hello_settings[] = {
	{ "file", JD_T_STRING, 1, NULL, "the file to append greetings to" },
	{ NULL, 0, 0, NULL, NULL }
};

/* An action's parameters: also checked by journeyd --check. */
static const struct jd_setting hello_params[] = {
	{ "greeting", JD_T_STRING, 0, HELLO_GREETING,
	    "a template: {{first_name}}, {{account.name}}, {{journey}}, ..." },
	{ NULL, 0, 0, NULL, NULL }
};

/* Check the settings without touching anything: the file's folder must
 * exist (init() creates the file). journeyd --check calls only this. */
static int
hello_check_settings(const struct jd_host *host, const struct jd_settings *set,
    char *err, size_t errlen)
{
	const char	*path = host->setting(set, "file");
	struct stat	 sb;
	char		*copy;
	int		 rc = 0;

	if ((copy = strdup(path)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (stat(dirname(copy), &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "file: %s: no such folder", path);
		rc = -1;
	}
	free(copy);
	return rc;
}

/* Open the file; the state lives until fini. */
static int
hello_init(const struct jd_host *host, const struct jd_settings *set,
    void **state, char *err, size_t errlen)
{
	const char	*path = host->setting(set, "file");
	struct hello	*h;

	if ((h = calloc(1, sizeof *h)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	h->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (h->fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(h);
		return -1;
	}
	pthread_mutex_init(&h->lock, NULL);
	*state = h;
	return 0;
}

/* Check an action when the config loads (state is NULL under --check):
 * hand the host its template, so that --check can warn about a trait no
 * customer has. */
static int
hello_check(void *state, const struct jd_host *host, const struct jd_action *a,
    char *err, size_t errlen)
{
	const char	*tmpl = host->param(a, "greeting");

	(void)state;
	(void)err;
	(void)errlen;
	host->check_template(a, NULL, tmpl != NULL ? tmpl : HELLO_GREETING);
	return 0;
}

/* Append one greeting; say what happened in the outcome. */
static void
hello_perform(void *state, const struct jd_host *host,
    const struct jd_action *a, struct jd_outcome *o)
{
	struct hello	*h = state;
	const char	*tmpl = host->param(a, "greeting"), *text;
	char		*line;
	int		 n;

	text = host->expand(a, tmpl != NULL ? tmpl : HELLO_GREETING,
	    JD_EXPAND_TEXT);
	if ((n = asprintf(&line, "%s %s\n", a->id, text)) < 0) {
		snprintf(o->reason, o->reasonlen, "out of memory");
		o->status = JD_RETRY;
		return;
	}
	if (write(h->fd, line, n) != n) {
		snprintf(o->reason, o->reasonlen, "write: %s", strerror(errno));
		o->status = JD_RETRY;	/* a full disk may clear up */
		free(line);
		return;
	}
	free(line);
	pthread_mutex_lock(&h->lock);
	h->sent++;
	pthread_mutex_unlock(&h->lock);
	o->status = JD_DONE;
}

/* Close the file and free the state. */
static void
hello_fini(void *state)
{
	struct hello	*h = state;

	close(h->fd);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

static const struct jd_plugin hello_plugin = {
	.abi_major = JD_PLUGIN_ABI_MAJOR,
	.abi_minor = JD_PLUGIN_ABI_MINOR,
	.size = sizeof(struct jd_plugin),
	.name = "hello",
	.description = "append a greeting per action to a file",
	.settings = hello_settings,
	.params = hello_params,
	.init = hello_init,
	.check = hello_check,
	.fini = hello_fini,
	.setting_size = sizeof(struct jd_setting),
	.check_settings = hello_check_settings,
	.perform = hello_perform,
};

JD_PLUGIN_DECLARE(hello_plugin)
