/*
 * Plugins: loading a module from plugin_dir, checking its ABI, validating an
 * instance's settings and an action's parameters against the tables the
 * plugin declares (as fluent-bit does), and the host interface the plugin
 * calls back into.
 */
#include "config.h"

#include <ctype.h>
#include <dlfcn.h>
#include <libconfig.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delivery/delivery.h"

/* An instance's validated settings, as text, defaults applied. */
struct jd_settings {
	const struct jd_setting	*table;
	char			**values;	/* parallel to table; may be NULL */
};

/* Keys of a plugin block that belong to the host (SPEC §11). */
static const char *plugin_host_keys[] = {
	"module", "limit", "quiet_hours", "timeout", NULL
};

/* The name of a setting type, for messages. */
static const char *
plugin_type_name(enum jd_type t)
{
	switch (t) {
	case JD_T_STRING:	return "a string";
	case JD_T_INT:		return "an integer";
	case JD_T_BOOL:		return "true or false";
	case JD_T_DURATION:	return "a duration";
	case JD_T_FILE:		return "a file name";
	}
	return "?";
}

/* Check one value against its declared type; fill *text. 0 or -1. */
static int
plugin_check_value(const struct jd_setting *def, config_setting_t *s,
    char **text, char *why, size_t whylen)
{
	int64_t		 d;
	const char	*v;

	switch (def->type) {
	case JD_T_STRING:
	case JD_T_FILE:
	case JD_T_DURATION:
		if (config_setting_type(s) != CONFIG_TYPE_STRING)
			goto type;
		v = config_setting_get_string(s);
		if (def->type == JD_T_DURATION && duration_parse(v, &d) != 0) {
			snprintf(why, whylen, "bad duration \"%s\"", v);
			return -1;
		}
		if (def->type == JD_T_FILE)
			*text = conf_path_readable(v, def->description, why,
			    whylen);
		else
			*text = xstrdup(v);
		return *text != NULL ? 0 : -1;
	case JD_T_INT:
		if (config_setting_type(s) != CONFIG_TYPE_INT &&
		    config_setting_type(s) != CONFIG_TYPE_INT64)
			goto type;
		*text = xprintf("%lld", config_setting_get_int64(s));
		return 0;
	case JD_T_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			goto type;
		*text = xstrdup(config_setting_get_bool(s) ? "true" : "false");
		return 0;
	}
type:
	snprintf(why, whylen, "must be %s", plugin_type_name(def->type));
	return -1;
}

/* Is the module name a plain identifier (no path, no dots)? */
static int
plugin_valid_module(const char *m)
{
	if (*m == '\0' || strlen(m) > 64)
		return 0;
	for (; *m != '\0'; m++)
		if (!islower((unsigned char)*m) && !isdigit((unsigned char)*m) &&
		    *m != '_')
			return 0;
	return 1;
}

/* Load inst's module from dir, check its ABI and its settings in group. */
int
plugin_load(struct instance *inst, const char *dir, void *group,
    struct problems *probs)
{
	const struct jd_plugin *(*entry)(void);
	const struct jd_plugin	*p;
	config_setting_t	*g = group, *s;
	char			*path, why[1024];
	int			 n, before = probs->n;

	if (!plugin_valid_module(inst->module)) {
		problems_add(probs, inst->file, inst->line, "plugin instance "
		    "'%s': module \"%s\" must be a plain name (lowercase "
		    "letters, digits, '_')", inst->name, inst->module);
		return -1;
	}
	path = xprintf("%s/%s.so", dir, inst->module);
	/* RTLD_NODELETE: a plugin's code stays mapped after dlclose(), for
	 * what may still run it (thread destructors it registered, a call the
	 * dispatcher gave up on after its timeout). */
	if ((inst->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)) ==
	    NULL) {
		problems_add(probs, inst->file, inst->line, "plugin instance "
		    "'%s': cannot load module \"%s\": %s", inst->name,
		    inst->module, dlerror());
		free(path);
		return -1;
	}
	*(void **)&entry = dlsym(inst->dl, JD_PLUGIN_SYMBOL);
	if (entry == NULL || (p = entry()) == NULL) {
		problems_add(probs, inst->file, inst->line, "plugin instance "
		    "'%s': %s has no %s() descriptor", inst->name, path,
		    JD_PLUGIN_SYMBOL);
		free(path);
		return -1;
	}
	if (p->abi_major != JD_PLUGIN_ABI_MAJOR ||
	    p->abi_minor > JD_PLUGIN_ABI_MINOR ||
	    p->size < sizeof(struct jd_plugin)) {
		problems_add(probs, inst->file, inst->line, "plugin instance "
		    "'%s': %s speaks plugin ABI %u.%u, this journeyd speaks "
		    "%d.%d", inst->name, path, p->abi_major, p->abi_minor,
		    JD_PLUGIN_ABI_MAJOR, JD_PLUGIN_ABI_MINOR);
		free(path);
		return -1;
	}
	free(path);
	if (p->act == NULL) {
		problems_add(probs, inst->file, inst->line, "plugin instance "
		    "'%s': module \"%s\" has no act()", inst->name,
		    inst->module);
		return -1;
	}
	inst->plugin = p;

	/* Settings: every key known, typed, and the required ones given. */
	for (n = 0; p->settings != NULL && p->settings[n].key != NULL; n++)
		;
	inst->settings = xcalloc(1, sizeof *inst->settings);
	inst->settings->table = p->settings;
	inst->settings->values = xcalloc(n + 1, sizeof(char *));
	for (int i = 0; g != NULL && (s = config_setting_get_elem(g, i)) !=
	    NULL; i++) {
		const char	*key = config_setting_name(s);
		int		 k, host = 0;

		for (k = 0; plugin_host_keys[k] != NULL; k++)
			if (strcmp(key, plugin_host_keys[k]) == 0)
				host = 1;
		if (host)
			continue;
		for (k = 0; k < n && strcmp(p->settings[k].key, key) != 0; k++)
			;
		if (k == n) {
			problems_add(probs, inst->file,
			    config_setting_source_line(s), "plugin instance "
			    "'%s': unknown setting '%s' for module \"%s\"",
			    inst->name, key, inst->module);
			continue;
		}
		if (plugin_check_value(&p->settings[k], s,
		    &inst->settings->values[k], why, sizeof why) != 0)
			problems_add(probs, inst->file,
			    config_setting_source_line(s), "plugin instance "
			    "'%s': '%s' %s", inst->name, key, why);
	}
	for (int k = 0; k < n; k++)
		if (p->settings[k].required && (g == NULL ||
		    config_setting_get_member(g, p->settings[k].key) == NULL))
			problems_add(probs, inst->file, inst->line, "plugin "
			    "instance '%s': '%s' is required", inst->name,
			    p->settings[k].key);
	return probs->n == before ? 0 : -1;
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

/* host->setting_int: a setting as a number (durations in seconds). */
static int64_t
host_setting_int(const struct jd_settings *set, const char *key)
{
	const char	*v = host_setting(set, key);
	int64_t		 d;

	if (v == NULL)
		return 0;
	if (strcmp(v, "true") == 0)
		return 1;
	if (strcmp(v, "false") == 0)
		return 0;
	if (duration_parse(v, &d) == 0)
		return d;
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

/* Keep a string for the life of the action; return it. */
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

/* Look up a key of a JSON object as text (caller frees), or NULL. */
static char *
json_get(const char *json, const char *key)
{
	struct render_vars	 rv = { 0 };

	if (json == NULL || strncmp(key, "account.", 8) == 0)
		return NULL;
	rv.traits = json;
	return render_trait(&rv, key);
}

/* host->param: an action parameter as text, or NULL. */
static const char *
host_param(const struct jd_action *a, const char *key)
{
	return act_keep((struct act *)a, json_get(a->params, key));
}

/* host->trait: a trait of the subject or of its account; caller frees. */
static char *
host_trait(const struct jd_action *a, const char *key)
{
	return render_trait(&((const struct act *)a)->rv, key);
}

/* host->render: expand a template for the action; caller frees. */
static char *
host_render(const struct jd_action *a, const char *tmpl)
{
	return render_template(tmpl, &((const struct act *)a)->rv);
}

/* host->note: keep a note for the action's history entry. */
static void
host_note(const struct jd_action *a, const char *text)
{
	struct act	*act = (struct act *)a;

	free(act->note);
	act->note = xstrdup(text);
}

/* host->enroll: put the subject into another journey. */
static int
host_enroll(const struct jd_action *a, const char *journey,
    const char *stage, char *err, size_t errlen)
{
	struct act	*act = (struct act *)a;
	int		 rc;

	if (act->db == NULL) {
		snprintf(err, errlen, "no database in this context");
		return -1;
	}
	if (store_begin(act->db) != 0) {
		snprintf(err, errlen, "database busy: %s",
		    sqlite3_errmsg(act->db));
		return -1;
	}
	rc = journey_enroll(act->db, act->conf, act->sid, journey, stage,
	    a->rule, a->now, err, errlen);
	if (rc < 0 || store_commit(act->db) != 0) {
		store_rollback(act->db);
		return -1;
	}
	return 0;
}

/* host->queue: queue another action for the subject through instance. */
static int
host_queue(const struct jd_action *a, const char *instance,
    const char *params, char *err, size_t errlen)
{
	struct act	*act = (struct act *)a;
	int64_t		 aid;

	if (act->db == NULL || config_instance(act->conf, instance) == NULL) {
		snprintf(err, errlen, "no plugin instance \"%s\"", instance);
		return -1;
	}
	if (store_begin(act->db) != 0) {
		snprintf(err, errlen, "database busy: %s",
		    sqlite3_errmsg(act->db));
		return -1;
	}
	aid = outbox_add(act->db, act->sid, a->journey, a->rule, a->stage,
	    instance, params != NULL ? params : "{}", a->now);
	if (aid < 0 || store_commit(act->db) != 0) {
		store_rollback(act->db);
		snprintf(err, errlen, "cannot queue: %s",
		    sqlite3_errmsg(act->db));
		return -1;
	}
	return 0;
}

/* host->has_journey: does the config have this journey (and stage)? */
static int
host_has_journey(const struct jd_host *h, const char *journey,
    const char *stage)
{
	struct instance	*inst = h->host_private;
	struct journey	*j;

	if (inst == NULL || inst->conf == NULL ||
	    (j = config_journey(inst->conf, journey)) == NULL)
		return 0;
	return stage == NULL || journey_stage(j, stage) != -1;
}

/* host->has_instance: does the config have this plugin instance? */
static int
host_has_instance(const struct jd_host *h, const char *name)
{
	struct instance	*inst = h->host_private;

	return inst != NULL && inst->conf != NULL &&
	    config_instance(inst->conf, name) != NULL;
}

/* Start an instance: fill its host interface and call init(). */
int
plugin_start(struct instance *inst, const struct config *conf,
    struct problems *probs)
{
	const struct jd_plugin	*p = inst->plugin;
	char			 err[512] = "";

	inst->conf = conf;
	inst->host.abi_major = JD_PLUGIN_ABI_MAJOR;
	inst->host.abi_minor = JD_PLUGIN_ABI_MINOR;
	inst->host.size = sizeof inst->host;
	inst->host.log = host_log;
	inst->host.setting = host_setting;
	inst->host.setting_int = host_setting_int;
	inst->host.param = host_param;
	inst->host.trait = host_trait;
	inst->host.render = host_render;
	inst->host.note = host_note;
	inst->host.enroll = host_enroll;
	inst->host.queue = host_queue;
	inst->host.has_journey = host_has_journey;
	inst->host.has_instance = host_has_instance;
	inst->host.host_private = inst;
	if (p->init != NULL && p->init(&inst->host, inst->settings,
	    &inst->state, err, sizeof err) != 0) {
		problems_add(probs, inst->file, inst->line, "plugin instance "
		    "'%s': %s", inst->name, err[0] ? err : "init failed");
		return -1;
	}
	inst->started = 1;
	return 0;
}

/* Check an action's parameters against the plugin's table and check(). */
int
plugin_check_params(struct instance *inst, const char *file, int line,
    const char *journey, const char *rule, void *group, const char *params,
    struct problems *probs)
{
	const struct jd_plugin	*p = inst->plugin;
	config_setting_t	*g = group, *s;
	char			*text, why[1024], err[512] = "";
	int			 before = probs->n, n;

	for (n = 0; p->params != NULL && p->params[n].key != NULL; n++)
		;
	for (int i = 0; (s = config_setting_get_elem(g, i)) != NULL; i++) {
		const char	*key = config_setting_name(s);
		int		 k;

		if (strcmp(key, "plugin") == 0)
			continue;
		for (k = 0; k < n && strcmp(p->params[k].key, key) != 0; k++)
			;
		if (k == n) {
			problems_add(probs, file, config_setting_source_line(s),
			    "action for '%s': unknown setting '%s' for module "
			    "\"%s\"", inst->name, key, inst->module);
			continue;
		}
		text = NULL;
		if (plugin_check_value(&p->params[k], s, &text, why,
		    sizeof why) != 0)
			problems_add(probs, file, config_setting_source_line(s),
			    "action for '%s': '%s' %s", inst->name, key, why);
		free(text);
	}
	for (int k = 0; k < n; k++)
		if (p->params[k].required &&
		    config_setting_get_member(g, p->params[k].key) == NULL)
			problems_add(probs, file, line, "action for '%s': '%s' "
			    "is required", inst->name, p->params[k].key);
	if (probs->n == before && p->check != NULL) {
		struct act act;

		memset(&act, 0, sizeof act);
		act.a.id = act.a.stage = act.a.subject_id = "";
		act.a.subject_kind = "user";
		act.a.traits = "{}";
		act.a.instance = inst->name;
		act.a.journey = journey;
		act.a.rule = rule;
		act.a.params = params;
		act.a.settings = inst->settings;
		act.conf = inst->conf;
		act.inst = inst;
		if (p->check(inst->state, &inst->host, &act.a, err,
		    sizeof err) != 0)
			problems_add(probs, file, line, "rule \"%s\": action "
			    "for '%s': %s", rule, inst->name, err[0] ? err :
			    "rejected by the plugin");
		act_clear(&act);
	}
	return probs->n == before ? 0 : -1;
}

/* Stop an instance (fini), keeping it loaded. */
void
plugin_stop(struct instance *inst)
{
	if (inst->started && inst->plugin->fini != NULL)
		inst->plugin->fini(inst->state);
	inst->started = 0;
	inst->state = NULL;
}

/* Stop, unload and free an instance. */
void
instance_free(struct instance *inst)
{
	if (inst == NULL)
		return;
	plugin_stop(inst);
	if (inst->settings != NULL) {
		for (int k = 0; inst->settings->table != NULL &&
		    inst->settings->table[k].key != NULL; k++)
			free(inst->settings->values[k]);
		free(inst->settings->values);
		free(inst->settings);
	}
	if (inst->dl != NULL)
		dlclose(inst->dl);
	free(inst->name);
	free(inst->module);
	free(inst->file);
	free(inst->quiet_hours);
	free(inst);
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
	free(act->note);
	act->note = NULL;
}
