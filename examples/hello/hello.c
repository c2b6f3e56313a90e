/*
 * hello: an example journeyd plugin, built out of tree against the installed
 * header:
 *
 *	cc -shared -fPIC $(pkg-config --cflags journeyd-plugin) \
 *	    -o hello.so hello.c
 *
 * Copy hello.so into plugin_dir and use it from the config:
 *
 *	plugins = { greet = { module = "hello"; file = "/var/lib/journeyd/hello.txt"; }; };
 *	... action = { plugin = "greet"; greeting = "Hello {{first_name}}"; }; ...
 *
 * Each action appends one line to `file`: the action id, then the rendered
 * greeting. Actions run on several worker threads at once, so the state is
 * shared under a mutex; each line is a single write(2) with O_APPEND.
 */
#define _GNU_SOURCE	/* asprintf */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <journeyd/plugin.h>

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
	{ "greeting", JD_T_STRING, 0, "Hello {{first_name}}",
	    "a template: {{trait}}, {{account.trait}}, {{journey}}, ..." },
	{ NULL, 0, 0, NULL, NULL }
};

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

/* Append one greeting. */
static enum jd_result
hello_act(void *state, const struct jd_host *host, const struct jd_action *a,
    char *reason, size_t reasonlen)
{
	struct hello	*h = state;
	const char	*tmpl = host->param(a, "greeting");
	char		*text, *line;
	int		 n;

	text = host->render(a, tmpl != NULL ? tmpl : "Hello {{first_name}}");
	if (text == NULL) {
		snprintf(reason, reasonlen, "out of memory");
		return JD_RETRY;
	}
	n = asprintf(&line, "%s %s\n", a->id, text);
	free(text);
	if (n < 0) {
		snprintf(reason, reasonlen, "out of memory");
		return JD_RETRY;
	}
	if (write(h->fd, line, n) != n) {
		snprintf(reason, reasonlen, "write: %s", strerror(errno));
		free(line);
		return JD_RETRY;	/* a full disk may clear up */
	}
	free(line);
	pthread_mutex_lock(&h->lock);
	h->sent++;
	pthread_mutex_unlock(&h->lock);
	return JD_DONE;
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
	.act = hello_act,
	.fini = hello_fini,
};

JD_PLUGIN_DECLARE(hello_plugin)
