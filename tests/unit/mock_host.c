/*
 * A mock of the plugin host for plugin unit tests: struct jd_host over
 * key/value settings, JSON parameters and traits read by render.c, and
 * buffers for log lines and notes. Thread-safe, as plugins act on several
 * threads at once.
 */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insight/insight.h"
#include "mock_host.h"

static pthread_mutex_t	 mock_lock = PTHREAD_MUTEX_INITIALIZER;
static struct buf	 mock_log_buf;
static struct buf	 mock_note_buf;
static char		**mock_params;	/* parameter values handed out */
static size_t		 mock_nparams;

/* Capture a log line as "<prio> text". */
static void
mock_log(const struct jd_host *host, int prio, const char *fmt, ...)
{
	va_list	 ap;
	char	 line[4096];

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&mock_lock);
	buf_printf(&mock_log_buf, "<%d> %s\n", prio, line);
	pthread_mutex_unlock(&mock_lock);
	if (getenv("MOCK_HOST_VERBOSE") != NULL)
		fprintf(stderr, "mock host: <%d> %s\n", prio, line);
}

/* A setting's text: given, or its table default, or NULL. */
static const char *
mock_setting(const struct jd_settings *settings, const char *key)
{
	for (size_t i = 0; settings->kv != NULL && settings->kv[i] != NULL;
	    i += 2) {
		if (strcmp(settings->kv[i], key) == 0)
			return settings->kv[i + 1];
	}
	for (size_t i = 0; settings->table != NULL &&
	    settings->table[i].key != NULL; i++) {
		if (strcmp(settings->table[i].key, key) == 0)
			return settings->table[i].defval;
	}
	return NULL;
}

/* A setting as an integer, by its type in the table. */
static int64_t
mock_setting_int(const struct jd_settings *settings, const char *key)
{
	const char	*v = mock_setting(settings, key);
	enum jd_type	 type = JD_T_INT;
	int64_t		 secs;

	if (v == NULL)
		return 0;
	for (size_t i = 0; settings->table != NULL &&
	    settings->table[i].key != NULL; i++) {
		if (strcmp(settings->table[i].key, key) == 0)
			type = settings->table[i].type;
	}
	switch (type) {
	case JD_T_BOOL:
		return strcmp(v, "true") == 0;
	case JD_T_DURATION:
		return duration_parse(v, &secs) == 0 ? secs : 0;
	default:
		return strtoll(v, NULL, 10);
	}
}

/* An action's render variables. */
static struct render_vars
mock_vars(const struct jd_action *action)
{
	struct render_vars	 vars;

	vars.traits = action->traits;
	vars.account_traits = action->account_traits;
	vars.journey = action->journey;
	vars.stage = action->stage;
	vars.rule = action->rule;
	vars.id = action->id;
	return vars;
}

/* A parameter's text, kept until mock_host_reset. */
static const char *
mock_param(const struct jd_action *action, const char *key)
{
	struct render_vars	 vars = { 0 };
	char			*v;

	vars.traits = action->params;
	if ((v = render_trait(&vars, key)) == NULL)
		return NULL;
	pthread_mutex_lock(&mock_lock);
	mock_params = xreallocarray(mock_params, mock_nparams + 1,
	    sizeof *mock_params);
	mock_params[mock_nparams++] = v;
	pthread_mutex_unlock(&mock_lock);
	return v;
}

/* A trait of the action's subject or account; caller frees. */
static char *
mock_trait(const struct jd_action *action, const char *key)
{
	struct render_vars	 vars = mock_vars(action);

	return render_trait(&vars, key);
}

/* Render a template for the action; caller frees. */
static char *
mock_render(const struct jd_action *action, const char *tmpl)
{
	struct render_vars	 vars = mock_vars(action);

	return render_template(tmpl, &vars);
}

/* Capture a note as "ID: text". */
static void
mock_note(const struct jd_action *action, const char *text)
{
	pthread_mutex_lock(&mock_lock);
	buf_printf(&mock_note_buf, "%s: %s\n", action->id, text);
	pthread_mutex_unlock(&mock_lock);
}

/* Enrolling is not mocked. */
static int
mock_enroll(const struct jd_action *action, const char *journey,
    const char *stage, char *err, size_t errlen)
{
	snprintf(err, errlen, "not in the mock host");
	return -1;
}

/* Queueing is not mocked. */
static int
mock_queue(const struct jd_action *action, const char *instance,
    const char *params, char *err, size_t errlen)
{
	snprintf(err, errlen, "not in the mock host");
	return -1;
}

/* The mock config has no journeys. */
static int
mock_has_journey(const struct jd_host *host, const char *journey,
    const char *stage)
{
	return 0;
}

/* The mock config has no instances. */
static int
mock_has_instance(const struct jd_host *host, const char *instance)
{
	return 0;
}

static const struct jd_host mock_host_iface = {
	.abi_major = JD_PLUGIN_ABI_MAJOR,
	.abi_minor = JD_PLUGIN_ABI_MINOR,
	.size = sizeof(struct jd_host),
	.log = mock_log,
	.setting = mock_setting,
	.setting_int = mock_setting_int,
	.param = mock_param,
	.trait = mock_trait,
	.render = mock_render,
	.note = mock_note,
	.enroll = mock_enroll,
	.queue = mock_queue,
	.has_journey = mock_has_journey,
	.has_instance = mock_has_instance,
	.host_private = NULL
};

/* The mock host interface. */
const struct jd_host *
mock_host(void)
{
	return &mock_host_iface;
}

/* Forget captured log lines, notes and parameter values. */
void
mock_host_reset(void)
{
	pthread_mutex_lock(&mock_lock);
	buf_free(&mock_log_buf);
	buf_free(&mock_note_buf);
	for (size_t i = 0; i < mock_nparams; i++)
		free(mock_params[i]);
	free(mock_params);
	mock_params = NULL;
	mock_nparams = 0;
	pthread_mutex_unlock(&mock_lock);
}

/* The captured log, one "<prio> text" line each; caller frees. */
char *
mock_host_log(void)
{
	char	*s;

	pthread_mutex_lock(&mock_lock);
	s = xstrdup(mock_log_buf.s != NULL ? mock_log_buf.s : "");
	pthread_mutex_unlock(&mock_lock);
	return s;
}

/* The captured notes, one "ID: text" line each; caller frees. */
char *
mock_host_notes(void)
{
	char	*s;

	pthread_mutex_lock(&mock_lock);
	s = xstrdup(mock_note_buf.s != NULL ? mock_note_buf.s : "");
	pthread_mutex_unlock(&mock_lock);
	return s;
}

/* Release everything the mock holds. */
void
mock_host_free(void)
{
	mock_host_reset();
}
