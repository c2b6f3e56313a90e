/*
 * legacy: a plugin built against the frozen ABI 1.0 header
 * (tests/abi/1.0/journeyd/plugin.h), as a plugin compiled before 1.1 was,
 * for tests/e2e/abi.py: the 1.1 daemon must load it and run it unchanged.
 * It uses every 1.0 callback and host function that a plugin of that time
 * could: the settings and parameter tables, init(), check() (which needs its
 * state), act() with its return codes, fini(), and setting(), setting_int(),
 * param(), trait() and render() (whose strings it frees), note(), enroll()
 * and queue() (a hand-off and an announcement), has_journey(),
 * has_instance() and log().
 *
 * Each action appends "ID ATTEMPT GREETING" to `file`; its `mode` says what
 * it then returns: done (the default), retry (with "retry-after=0" in the
 * reason, which the host must not read), fail, hold, handoff (enroll in
 * `to`), suggest (queue an action through `via`), or stall (enroll in `to`,
 * then retry: the enrollment must not happen).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journeyd/plugin.h"

_Static_assert(JD_PLUGIN_ABI_MAJOR == 1 && JD_PLUGIN_ABI_MINOR == 0,
    "legacy.c must be built against the frozen 1.0 header");

struct legacy {
	char	*file;
	int64_t	 limit;
};

static const struct jd_setting legacy_settings[] = {
	{ "file", JD_T_STRING, 1, NULL, "append a line per action here" },
	{ "init_file", JD_T_STRING, 0, NULL, "init() creates this file" },
	{ "limit", JD_T_INT, 0, "1000", "longest greeting kept" },
	{ NULL, 0, 0, NULL, NULL }
};

static const struct jd_setting legacy_params[] = {
	{ "mode", JD_T_STRING, 0, "done", "what act() returns" },
	{ "greeting", JD_T_STRING, 0, "Hello {{first_name}}", "a template" },
	{ "to", JD_T_STRING, 0, NULL, "mode handoff: the journey" },
	{ "via", JD_T_STRING, 0, NULL, "mode suggest: the instance" },
	{ NULL, 0, 0, NULL, NULL }
};

/* Start: keep the settings, create init_file. */
static int
legacy_init(const struct jd_host *host, const struct jd_settings *set,
    void **state, char *err, size_t errlen)
{
	const char	*init_file = host->setting(set, "init_file");
	struct legacy	*l;
	int		 fd;

	if (init_file != NULL) {
		if ((fd = open(init_file, O_WRONLY | O_CREAT | O_CLOEXEC,
		    0644)) == -1) {
			snprintf(err, errlen, "%s: %s", init_file,
			    strerror(errno));
			return -1;
		}
		close(fd);
	}
	if ((l = calloc(1, sizeof *l)) == NULL ||
	    (l->file = strdup(host->setting(set, "file"))) == NULL) {
		free(l);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	l->limit = host->setting_int(set, "limit");
	*state = l;
	return 0;
}

/* Check an action: it needs the state (a 1.0 plugin could assume it). */
static int
legacy_check(void *state, const struct jd_host *host,
    const struct jd_action *a, char *err, size_t errlen)
{
	const char	*mode = host->param(a, "mode");
	const char	*to = host->param(a, "to");
	const char	*via = host->param(a, "via");

	if (state == NULL) {
		snprintf(err, errlen, "legacy: check() without a state");
		return -1;
	}
	if (mode != NULL && strcmp(mode, "handoff") == 0 &&
	    (to == NULL || !host->has_journey(host, to, NULL))) {
		snprintf(err, errlen, "legacy: no journey to hand off to");
		return -1;
	}
	if (mode != NULL && strcmp(mode, "suggest") == 0 &&
	    (via == NULL || !host->has_instance(host, via))) {
		snprintf(err, errlen, "legacy: no instance to announce through");
		return -1;
	}
	return 0;
}

/* Append "ID ATTEMPT GREETING EMAIL" to the file. */
static int
legacy_write(struct legacy *l, const struct jd_host *host,
    const struct jd_action *a)
{
	const char	*tmpl = host->param(a, "greeting");
	char		*text, *email, line[2048];
	int		 fd, n, rc = -1;

	text = host->render(a, tmpl != NULL ? tmpl : "Hello {{first_name}}");
	email = host->trait(a, "email");
	n = snprintf(line, sizeof line, "%s %d %.*s <%s>\n", a->id, a->attempt,
	    (int)l->limit, text != NULL ? text : "", email != NULL ? email :
	    "");
	free(text);
	free(email);
	if (n > 0 && (size_t)n < sizeof line && (fd = open(l->file,
	    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) != -1) {
		rc = write(fd, line, n) == n ? 0 : -1;
		close(fd);
	}
	return rc;
}

/* Perform one action as its mode says. */
static enum jd_result
legacy_act(void *state, const struct jd_host *host, const struct jd_action *a,
    char *reason, size_t reasonlen)
{
	const char	*mode = host->param(a, "mode");
	char		 err[256];

	if (legacy_write(state, host, a) != 0) {
		snprintf(reason, reasonlen, "cannot write: %s",
		    strerror(errno));
		return JD_RETRY;
	}
	if (mode == NULL || strcmp(mode, "done") == 0) {
		host->note(a, "legacy was here");
		return JD_DONE;
	}
	if (strcmp(mode, "retry") == 0) {
		snprintf(reason, reasonlen, "busy, retry-after=0");
		return JD_RETRY;
	}
	if (strcmp(mode, "hold") == 0) {
		snprintf(reason, reasonlen, "legacy holds it");
		return JD_HELD;
	}
	if (strcmp(mode, "stall") == 0) {
		if (host->enroll(a, host->param(a, "to"), NULL, err,
		    sizeof err) != 0)
			snprintf(reason, reasonlen, "%s", err);
		else
			snprintf(reason, reasonlen, "stalled after enrolling");
		return JD_RETRY;
	}
	if (strcmp(mode, "handoff") == 0 || strcmp(mode, "suggest") == 0) {
		if ((mode[0] == 'h' ? host->enroll(a, host->param(a, "to"),
		    NULL, err, sizeof err) : host->queue(a, host->param(a,
		    "via"), "{\"message\":\"from legacy\"}", err,
		    sizeof err)) != 0) {
			snprintf(reason, reasonlen, "%s", err);
			return JD_RETRY;
		}
		host->log(host, JD_LOG_INFO, "legacy: %s: %s", a->id, mode);
		return JD_DONE;
	}
	snprintf(reason, reasonlen, "legacy fails it");
	return JD_FAILED;
}

/* Stop. */
static void
legacy_fini(void *state)
{
	struct legacy	*l = state;

	free(l->file);
	free(l);
}

static const struct jd_plugin legacy_plugin = {
	.abi_major = JD_PLUGIN_ABI_MAJOR,
	.abi_minor = JD_PLUGIN_ABI_MINOR,
	.size = sizeof(struct jd_plugin),
	.name = "legacy",
	.description = "an ABI 1.0 plugin, built against the frozen header",
	.settings = legacy_settings,
	.params = legacy_params,
	.init = legacy_init,
	.check = legacy_check,
	.act = legacy_act,
	.fini = legacy_fini,
};

JD_PLUGIN_DECLARE(legacy_plugin)
