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
static struct buf	 mock_template_buf;
static char		**mock_params;	/* strings lent, until reset */
static size_t		 mock_nparams;
static struct jd_outcome mock_last;
static char		 mock_reason[1024];
static char		 mock_external_id[256];

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
	vars.subject_id = action->subject_id;
	vars.id = action->id;
	return vars;
}

/* Keep a string lent to the plugin until mock_host_reset; return it. */
static const char *
mock_keep(char *v)
{
	if (v == NULL)
		return NULL;
	pthread_mutex_lock(&mock_lock);
	mock_params = xreallocarray(mock_params, mock_nparams + 1,
	    sizeof *mock_params);
	mock_params[mock_nparams++] = v;
	pthread_mutex_unlock(&mock_lock);
	return v;
}

/* A parameter's text, kept until mock_host_reset. */
static const char *
mock_param(const struct jd_action *action, const char *key)
{
	struct render_vars	 vars = { 0 };

	vars.traits = action->params;
	return mock_keep(render_trait(&vars, key));
}

/* A parameter as a number (durations with their unit): 1, 0, -1. */
static int
mock_param_number(const struct jd_action *action, const char *key,
    int64_t *out, int duration)
{
	const char	*v = mock_param(action, key);
	char		*end;

	if (v == NULL)
		return 0;
	if (duration && duration_parse(v, out) == 0)
		return 1;
	*out = strtoll(v, &end, 10);
	return end != v && *end == '\0' ? 1 : -1;
}

/* A parameter as an integer. */
static int
mock_param_int(const struct jd_action *action, const char *key,
    int64_t *out)
{
	return mock_param_number(action, key, out, 0);
}

/* A parameter as a duration. */
static int
mock_param_duration(const struct jd_action *action, const char *key,
    int64_t *out)
{
	return mock_param_number(action, key, out, 1);
}

/* A trait by path, lent. */
static const char *
mock_value(const struct jd_action *action, const char *path)
{
	struct render_vars	 vars = mock_vars(action);

	return mock_keep(render_trait(&vars, path));
}

/* A template expanded as text or HTML, lent. */
static const char *
mock_expand(const struct jd_action *action, const char *tmpl, int mode)
{
	struct render_vars	 vars = mock_vars(action);

	return mock_keep(render_template(tmpl, &vars, mode));
}

/* A formatted string, lent. */
static const char *
mock_format(const struct jd_action *action, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	s = xvprintf(fmt, ap);
	va_end(ap);
	return mock_keep(s);
}

/* Capture a template as "FILE|TEXT". */
static void
mock_check_template(const struct jd_action *action, const char *file,
    const char *tmpl)
{
	if (tmpl == NULL)
		return;
	pthread_mutex_lock(&mock_lock);
	buf_printf(&mock_template_buf, "%s|%s\n", file != NULL ? file : "-",
	    tmpl);
	pthread_mutex_unlock(&mock_lock);
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

	return render_template(tmpl, &vars, RENDER_TEXT);
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
	.host_private = NULL,
	.param_int = mock_param_int,
	.param_duration = mock_param_duration,
	.value = mock_value,
	.expand = mock_expand,
	.format = mock_format,
	.check_template = mock_check_template,
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
	buf_free(&mock_template_buf);
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

/* The captured templates, one "FILE|TEXT" line each; caller frees. */
char *
mock_host_templates(void)
{
	char	*s;

	pthread_mutex_lock(&mock_lock);
	s = xstrdup(mock_template_buf.s != NULL ? mock_template_buf.s : "");
	pthread_mutex_unlock(&mock_lock);
	return s;
}

/* Perform through a 1.1 plugin, as the host does. */
enum jd_result
mock_perform(const struct jd_plugin *plugin, void *state,
    const struct jd_action *action, char *reason, size_t reasonlen)
{
	struct jd_outcome	 o;
	char			 why[1024] = "", id[256] = "";

	memset(&o, 0, sizeof o);
	o.size = sizeof o;
	o.status = (enum jd_result)-1;
	o.reason = why;
	o.reasonlen = sizeof why;
	o.external_id = id;
	o.external_idlen = sizeof id;
	plugin->perform(state, mock_host(), action, &o);
	snprintf(reason, reasonlen, "%s", why);
	pthread_mutex_lock(&mock_lock);
	mock_last = o;
	memcpy(mock_reason, why, sizeof mock_reason);
	memcpy(mock_external_id, id, sizeof mock_external_id);
	mock_last.reason = mock_reason;
	mock_last.external_id = mock_external_id;
	pthread_mutex_unlock(&mock_lock);
	return o.status;
}

/* The last outcome of mock_perform(). */
const struct jd_outcome *
mock_outcome(void)
{
	return &mock_last;
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
