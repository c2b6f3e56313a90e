/*
 * The host interface a plugin calls back into (struct jd_host of
 * include/journeyd/plugin.h): settings, parameters, traits and templates,
 * the log, notes, and the effects an action asks for (a hand-off's
 * enrollment, a suggestion's announcement), which are only recorded here:
 * the dispatcher applies them with the action's outcome, in one
 * transaction (docs/ARCHITECTURE.md, "Invariants").
 *
 * Strings follow the header's one rule: what the host lends a plugin for an
 * action is kept on the action (act_keep) and freed with it (act_clear),
 * after its outcome is recorded; what the plugin passes is copied.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/delivery.h"

#if RENDER_TEXT != JD_EXPAND_TEXT || RENDER_HTML != JD_EXPAND_HTML
#error "render modes and the ABI's expand modes differ"
#endif

/* An instance's validated settings, as text, defaults applied. */
struct jd_settings {
	const struct jd_setting	*table;
	char			**values;	/* parallel to table; may be NULL */
};

/* The settings of an instance over its (normalised) table, all unset. */
struct jd_settings *
host_settings_new(const struct jd_setting *table, int n)
{
	struct jd_settings	*set = xcalloc(1, sizeof *set);

	set->table = table;
	set->values = xcalloc(n + 1, sizeof *set->values);
	return set;
}

/* Set the k-th setting (text taken over). */
void
host_settings_set(struct jd_settings *set, int k, char *text)
{
	free(set->values[k]);
	set->values[k] = text;
}

/* Free settings. */
void
host_settings_free(struct jd_settings *set)
{
	if (set == NULL)
		return;
	for (int k = 0; set->table != NULL && set->table[k].key != NULL; k++)
		free(set->values[k]);
	free(set->values);
	free(set);
}

/* host->setting: a setting's text, or its default, or NULL. */
static const char *
host_setting(const struct jd_settings *set, const char *key)
{
	if (set == NULL || set->table == NULL)
		return NULL;
	for (int k = 0; set->table[k].key != NULL; k++)
		if (strcmp(set->table[k].key, key) == 0)
			return set->values[k] != NULL ? set->values[k] :
			    set->table[k].defval;
	return NULL;
}

/* Parse an integer as a parameter or setting writes it ("12", "-3", true,
 * false). 0, or -1 when it is none. */
static int
host_parse_int(const char *v, int64_t *out)
{
	char		*end;
	long long	 n;

	if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
		*out = v[0] == 't';
		return 0;
	}
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0')
		return -1;
	*out = n;
	return 0;
}

/* Parse a duration ("45s", "2w") or plain seconds. 0, or -1. */
static int
host_parse_duration(const char *v, int64_t *out)
{
	char		*end;
	long long	 n;

	if (duration_parse(v, out) == 0)
		return 0;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < 0)
		return -1;
	*out = n;
	return 0;
}

/* host->setting_int: a setting as a number (durations in seconds). */
static int64_t
host_setting_int(const struct jd_settings *set, const char *key)
{
	const char	*v = host_setting(set, key);
	int64_t		 n;

	if (v == NULL)
		return 0;
	if (host_parse_int(v, &n) == 0 || duration_parse(v, &n) == 0)
		return n;
	return strtoll(v, NULL, 10);
}

/* host->log: log a line prefixed with the instance's name. */
static void
host_log(const struct jd_host *h, int prio, const char *fmt, ...)
{
	struct instance	*inst = h->host_private;
	va_list		 ap;
	char		 line[2048];

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	log_msg(prio, "%s: %s", inst != NULL ? inst->name : "plugin", line);
}

/* Keep a string lent to the plugin for the life of the action; return it. */
static const char *
act_keep(struct act *act, char *s)
{
	if (s == NULL)
		return NULL;
	act->strings = xreallocarray(act->strings, act->nstrings + 1,
	    sizeof *act->strings);
	act->strings[act->nstrings++] = s;
	return s;
}

/* An action parameter as text (caller frees), or NULL. */
static char *
host_param_text(const struct jd_action *a, const char *key)
{
	struct render_vars	 rv = { 0 };

	if (a->params == NULL || strncmp(key, "account.", 8) == 0)
		return NULL;
	rv.traits = a->params;
	return render_trait(&rv, key);
}

/* host->param: an action parameter as text, or NULL. */
static const char *
host_param(const struct jd_action *a, const char *key)
{
	return act_keep((struct act *)a, host_param_text(a, key));
}

/* Read a parameter with parse into *out: 1, 0 when absent, -1 when bad. */
static int
host_param_parsed(const struct jd_action *a, const char *key, int64_t *out,
    int (*parse)(const char *, int64_t *))
{
	char	*v = host_param_text(a, key);
	int64_t	 n;
	int	 rc;

	if (v == NULL)
		return 0;
	if ((rc = parse(v, &n)) == 0)
		*out = n;
	free(v);
	return rc == 0 ? 1 : -1;
}

/* host->param_int: a parameter as an integer. */
static int
host_param_int(const struct jd_action *a, const char *key, int64_t *out)
{
	return host_param_parsed(a, key, out, host_parse_int);
}

/* host->param_duration: a parameter as a duration in seconds. */
static int
host_param_duration(const struct jd_action *a, const char *key,
    int64_t *out)
{
	return host_param_parsed(a, key, out, host_parse_duration);
}

/* host->trait (1.0): a trait of the subject or its account; caller frees. */
static char *
host_trait(const struct jd_action *a, const char *key)
{
	return render_trait(&((const struct act *)a)->rv, key);
}

/* host->render (1.0): expand a template as text; caller frees. */
static char *
host_render(const struct jd_action *a, const char *tmpl)
{
	return render_template(tmpl, &((const struct act *)a)->rv,
	    RENDER_TEXT);
}

/* host->value: a trait by path, lent. */
static const char *
host_value(const struct jd_action *a, const char *path)
{
	struct act	*act = (struct act *)a;

	return act_keep(act, render_trait(&act->rv, path));
}

/* host->expand: a template expanded as text or HTML, lent. */
static const char *
host_expand(const struct jd_action *a, const char *tmpl, int mode)
{
	struct act	*act = (struct act *)a;

	return act_keep(act, render_template(tmpl, &act->rv,
	    mode == JD_EXPAND_HTML ? RENDER_HTML : RENDER_TEXT));
}

/* host->format: a formatted string, lent. */
static const char *
host_format(const struct jd_action *a, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	s = xvprintf(fmt, ap);
	va_end(ap);
	return act_keep((struct act *)a, s);
}

/* host->note: keep a note for the action's history entry. */
static void
host_note(const struct jd_action *a, const char *text)
{
	struct act	*act = (struct act *)a;

	free(act->note);
	act->note = text != NULL ? xstrdup(text) : NULL;
}

/* Ask for an effect (journey and stage, or instance and params) to be
 * applied with the action's outcome; -1 with err when the config has no
 * such journey, stage or instance, or params is no JSON object. */
static int
act_effect(struct act *act, const char *journey, const char *stage,
    const char *instance, const char *params, char *err, size_t errlen)
{
	struct act_effect	*e;
	struct journey		*j;

	if (journey != NULL) {
		if ((j = config_journey(act->conf, journey)) == NULL) {
			snprintf(err, errlen, "no journey \"%s\"", journey);
			return -1;
		}
		if (stage != NULL && journey_stage(j, stage) == -1) {
			snprintf(err, errlen, "no stage \"%s\" in journey "
			    "\"%s\"", stage, journey);
			return -1;
		}
	} else {
		if (config_instance(act->conf, instance) == NULL) {
			snprintf(err, errlen, "no plugin instance \"%s\"",
			    instance);
			return -1;
		}
		if (params != NULL && !render_is_object(params)) {
			snprintf(err, errlen, "the parameters for \"%s\" are "
			    "not a JSON object", instance);
			return -1;
		}
	}
	act->effects = xreallocarray(act->effects, act->neffects + 1,
	    sizeof *act->effects);
	e = &act->effects[act->neffects++];
	e->journey = journey != NULL ? xstrdup(journey) : NULL;
	e->stage = journey != NULL && stage != NULL ? xstrdup(stage) : NULL;
	e->instance = journey == NULL ? xstrdup(instance) : NULL;
	e->params = journey == NULL ? xstrdup(params != NULL ? params : "{}") :
	    NULL;
	return 0;
}

/* host->enroll: ask for the subject to enter another journey. */
static int
host_enroll(const struct jd_action *a, const char *journey,
    const char *stage, char *err, size_t errlen)
{
	if (journey == NULL) {
		snprintf(err, errlen, "no journey given");
		return -1;
	}
	return act_effect((struct act *)a, journey, stage, NULL, NULL, err,
	    errlen);
}

/* host->queue: ask for another action through instance. */
static int
host_queue(const struct jd_action *a, const char *instance,
    const char *params, char *err, size_t errlen)
{
	if (instance == NULL) {
		snprintf(err, errlen, "no plugin instance given");
		return -1;
	}
	return act_effect((struct act *)a, NULL, NULL, instance, params, err,
	    errlen);
}

/* Take a 1.1 outcome's external id and effects into act. */
int
act_outcome(struct act *act, const struct jd_outcome *o, char *why,
    size_t whylen)
{
	if (o->external_id != NULL && o->external_id[0] != '\0') {
		free(act->external_id);
		act->external_id = xstrndup(o->external_id,
		    strnlen(o->external_id, o->external_idlen));
	}
	if (o->enroll.journey != NULL && act_effect(act, o->enroll.journey,
	    o->enroll.stage, NULL, NULL, why, whylen) != 0)
		return -1;
	if (o->announce.instance != NULL && act_effect(act, NULL, NULL,
	    o->announce.instance, o->announce.params, why, whylen) != 0)
		return -1;
	return 0;
}

/* host->check_template: in check(), check a template's placeholders. */
static void
host_check_template(const struct jd_action *a, const char *file,
    const char *tmpl)
{
	const struct act	*act = (const struct act *)a;
	const struct rule	*r;
	const char		*where;
	int			 line;

	if (act->check == NULL || tmpl == NULL)
		return;
	r = act->check->rule;
	if (file != NULL) {
		tmpl_check(act->check->templates, tmpl, file, 0,
		    act->check->probs);
		return;
	}
	/* Given in the action: at the line of the parameter that holds it. */
	where = r->action_file;
	line = r->action_line;
	for (int i = 0; i < r->action_in.n; i++)
		if (strcmp(r->action_in.v[i].text, tmpl) == 0) {
			where = r->action_in.v[i].file;
			line = r->action_in.v[i].line;
			break;
		}
	tmpl_check(act->check->templates, tmpl, where, line,
	    act->check->probs);
}

/* host->has_journey: does the config have this journey (and stage)? */
static int
host_has_journey(const struct jd_host *h, const char *journey,
    const char *stage)
{
	struct instance	*inst = h->host_private;
	struct journey	*j;

	if (inst == NULL || inst->rt == NULL ||
	    (j = config_journey(inst->rt->conf, journey)) == NULL)
		return 0;
	return stage == NULL || journey_stage(j, stage) != -1;
}

/* host->has_instance: does the config have this plugin instance? */
static int
host_has_instance(const struct jd_host *h, const char *name)
{
	struct instance	*inst = h->host_private;

	return inst != NULL && inst->rt != NULL &&
	    config_instance(inst->rt->conf, name) != NULL;
}

/* Fill the host interface of instance inst. */
void
host_fill(struct jd_host *h, struct instance *inst)
{
	memset(h, 0, sizeof *h);
	h->abi_major = JD_PLUGIN_ABI_MAJOR;
	h->abi_minor = JD_PLUGIN_ABI_MINOR;
	h->size = sizeof *h;
	h->log = host_log;
	h->setting = host_setting;
	h->setting_int = host_setting_int;
	h->param = host_param;
	h->trait = host_trait;
	h->render = host_render;
	h->note = host_note;
	h->enroll = host_enroll;
	h->queue = host_queue;
	h->has_journey = host_has_journey;
	h->has_instance = host_has_instance;
	h->host_private = inst;
	h->param_int = host_param_int;
	h->param_duration = host_param_duration;
	h->value = host_value;
	h->expand = host_expand;
	h->format = host_format;
	h->check_template = host_check_template;
}

/* Free what the host kept for an action. */
void
act_clear(struct act *act)
{
	for (int i = 0; i < act->nstrings; i++)
		free(act->strings[i]);
	free(act->strings);
	act->strings = NULL;
	act->nstrings = 0;
	for (int i = 0; i < act->neffects; i++) {
		free(act->effects[i].journey);
		free(act->effects[i].stage);
		free(act->effects[i].instance);
		free(act->effects[i].params);
	}
	free(act->effects);
	act->effects = NULL;
	act->neffects = 0;
	free(act->note);
	act->note = NULL;
	free(act->external_id);
	act->external_id = NULL;
}
