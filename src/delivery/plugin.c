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

/* Check one value as written against its declared type; fill *text. 0 or
 * -1 with why. */
static int
plugin_check_value(const struct jd_setting *def, const struct conf_value *v,
    char **text, char *why, size_t whylen)
{
	int64_t		 d;

	switch (def->type) {
	case JD_T_STRING:
	case JD_T_FILE:
	case JD_T_DURATION:
		if (v->type != CONF_V_STRING)
			goto type;
		if (def->type == JD_T_DURATION &&
		    duration_parse(v->text, &d) != 0) {
			snprintf(why, whylen, "bad duration \"%s\"", v->text);
			return -1;
		}
		if (def->type == JD_T_FILE) {
			*text = conf_path_readable(v->text, def->description,
			    why, whylen);
			return *text != NULL ? 0 : -1;
		}
		break;
	case JD_T_INT:
		if (v->type != CONF_V_INT)
			goto type;
		break;
	case JD_T_BOOL:
		if (v->type != CONF_V_BOOL)
			goto type;
		break;
	default:
		goto type;
	}
	*text = xstrdup(v->text);
	return 0;
type:
	snprintf(why, whylen, "must be %s", plugin_type_name(def->type));
	return -1;
}

/* Was key given among the values as written? */
static int
plugin_given(const struct conf_values *vs, const char *key)
{
	for (int i = 0; i < vs->n; i++)
		if (strcmp(vs->v[i].key, key) == 0)
			return 1;
	return 0;
}

/* The number of entries of a settings table. */
static int
plugin_table_len(const struct jd_setting *t)
{
	int	 n = 0;

	while (t != NULL && t[n].key != NULL)
		n++;
	return n;
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

/* Stop, unload and free a loaded instance's module (its rt_free). */
static void
plugin_rt_free(struct instance *inst)
{
	struct plugin_rt	*rt = inst->rt;

	if (rt == NULL)
		return;
	plugin_stop(inst);
	if (rt->settings != NULL) {
		for (int k = 0; rt->settings->table != NULL &&
		    rt->settings->table[k].key != NULL; k++)
			free(rt->settings->values[k]);
		free(rt->settings->values);
		free(rt->settings);
	}
	if (rt->dl != NULL)
		dlclose(rt->dl);
	free(rt);
	inst->rt = NULL;
}

/* Open inst's module in dir and check its ABI; the descriptor, or NULL
 * with the problem added. */
static const struct jd_plugin *
plugin_open(struct instance *inst, const char *dir, struct problems *probs)
{
	const struct jd_plugin *(*entry)(void);
	const struct jd_plugin	*p;
	struct plugin_rt	*rt = inst->rt;
	char			*path;

	if (!plugin_valid_module(inst->module)) {
		problems_add(probs, inst->file, inst->line, "plugin instance "
		    "'%s': module \"%s\" must be a plain name (lowercase "
		    "letters, digits, '_')", inst->name, inst->module);
		return NULL;
	}
	path = xprintf("%s/%s.so", dir, inst->module);
	/* RTLD_NODELETE: a plugin's code stays mapped after dlclose(), for
	 * what may still run it (thread destructors it registered, a call the
	 * dispatcher gave up on after its timeout). */
	if ((rt->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)) ==
	    NULL) {
		problems_add(probs, inst->file, inst->line, "plugin instance "
		    "'%s': cannot load module \"%s\": %s", inst->name,
		    inst->module, dlerror());
		free(path);
		return NULL;
	}
	*(void **)&entry = dlsym(rt->dl, JD_PLUGIN_SYMBOL);
	if (entry == NULL || (p = entry()) == NULL) {
		problems_add(probs, inst->file, inst->line, "plugin instance "
		    "'%s': %s has no %s() descriptor", inst->name, path,
		    JD_PLUGIN_SYMBOL);
		free(path);
		return NULL;
	}
	if (p->abi_major != JD_PLUGIN_ABI_MAJOR ||
	    p->abi_minor > JD_PLUGIN_ABI_MINOR ||
	    p->size < sizeof(struct jd_plugin)) {
		problems_add(probs, inst->file, inst->line, "plugin instance "
		    "'%s': %s speaks plugin ABI %u.%u, this journeyd speaks "
		    "%d.%d", inst->name, path, p->abi_major, p->abi_minor,
		    JD_PLUGIN_ABI_MAJOR, JD_PLUGIN_ABI_MINOR);
		free(path);
		return NULL;
	}
	free(path);
	if (p->act == NULL) {
		problems_add(probs, inst->file, inst->line, "plugin instance "
		    "'%s': module \"%s\" has no act()", inst->name,
		    inst->module);
		return NULL;
	}
	return p;
}

/* Load inst's module from dir, check its ABI and its settings as written
 * in the config. */
static int
plugin_load(struct instance *inst, const struct config *cf,
    struct problems *probs)
{
	const struct jd_plugin	*p;
	struct plugin_rt	*rt;
	char			 why[1024];
	int			 n, before = probs->n;

	rt = inst->rt = xcalloc(1, sizeof *inst->rt);
	inst->rt_free = plugin_rt_free;
	rt->conf = cf;
	if ((p = plugin_open(inst, cf->plugin_dir, probs)) == NULL)
		return -1;
	rt->plugin = p;

	/* Settings: every key known, typed, and the required ones given. */
	n = plugin_table_len(p->settings);
	rt->settings = xcalloc(1, sizeof *rt->settings);
	rt->settings->table = p->settings;
	rt->settings->values = xcalloc(n + 1, sizeof(char *));
	for (int i = 0; i < inst->settings_in.n; i++) {
		const struct conf_value	*v = &inst->settings_in.v[i];
		int			 k;

		for (k = 0; k < n && strcmp(p->settings[k].key, v->key) != 0;
		    k++)
			;
		if (k == n) {
			problems_add(probs, v->file, v->line, "plugin instance "
			    "'%s': unknown setting '%s' for module \"%s\"",
			    inst->name, v->key, inst->module);
			continue;
		}
		if (plugin_check_value(&p->settings[k], v,
		    &rt->settings->values[k], why, sizeof why) != 0)
			problems_add(probs, v->file, v->line, "plugin instance "
			    "'%s': '%s' %s", inst->name, v->key, why);
	}
	for (int k = 0; k < n; k++)
		if (p->settings[k].required &&
		    !plugin_given(&inst->settings_in, p->settings[k].key))
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
	aid = journey_queue(act->db, act->sid, a->journey, a->rule, a->stage,
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

/* Start an instance: fill its host interface and call init(). */
static int
plugin_start(struct instance *inst, struct problems *probs)
{
	struct plugin_rt	*rt = inst->rt;
	const struct jd_plugin	*p = rt->plugin;
	char			 err[512] = "";

	rt->host.abi_major = JD_PLUGIN_ABI_MAJOR;
	rt->host.abi_minor = JD_PLUGIN_ABI_MINOR;
	rt->host.size = sizeof rt->host;
	rt->host.log = host_log;
	rt->host.setting = host_setting;
	rt->host.setting_int = host_setting_int;
	rt->host.param = host_param;
	rt->host.trait = host_trait;
	rt->host.render = host_render;
	rt->host.note = host_note;
	rt->host.enroll = host_enroll;
	rt->host.queue = host_queue;
	rt->host.has_journey = host_has_journey;
	rt->host.has_instance = host_has_instance;
	rt->host.host_private = inst;
	if (p->init != NULL && p->init(&rt->host, rt->settings, &rt->state,
	    err, sizeof err) != 0) {
		problems_add(probs, inst->file, inst->line, "plugin instance "
		    "'%s': %s", inst->name, err[0] ? err : "init failed");
		return -1;
	}
	rt->started = 1;
	return 0;
}

/* Check a rule's action parameters against its plugin's table and its
 * check(). */
static int
plugin_check_params(struct instance *inst, const struct journey *j,
    const struct rule *r, struct problems *probs)
{
	struct plugin_rt	*rt = inst->rt;
	const struct jd_plugin	*p = rt->plugin;
	char			*text, why[1024], err[512] = "";
	int			 before = probs->n, n, k;

	n = plugin_table_len(p->params);
	for (int i = 0; i < r->action_in.n; i++) {
		const struct conf_value *v = &r->action_in.v[i];

		for (k = 0; k < n && strcmp(p->params[k].key, v->key) != 0; k++)
			;
		if (k == n) {
			problems_add(probs, v->file, v->line, "action for '%s': "
			    "unknown setting '%s' for module \"%s\"",
			    inst->name, v->key, inst->module);
			continue;
		}
		text = NULL;
		if (plugin_check_value(&p->params[k], v, &text, why,
		    sizeof why) != 0)
			problems_add(probs, v->file, v->line, "action for '%s': "
			    "'%s' %s", inst->name, v->key, why);
		free(text);
	}
	for (k = 0; k < n; k++) {
		int given = 0;

		for (int i = 0; i < r->action_in.n; i++)
			given |= strcmp(r->action_in.v[i].key,
			    p->params[k].key) == 0;
		if (p->params[k].required && !given)
			problems_add(probs, r->action_file, r->action_line,
			    "action for '%s': '%s' is required", inst->name,
			    p->params[k].key);
	}
	if (probs->n == before && p->check != NULL && rt->started) {
		struct act act;

		memset(&act, 0, sizeof act);
		act.a.id = act.a.stage = act.a.subject_id = "";
		act.a.subject_kind = "user";
		act.a.traits = "{}";
		act.a.instance = inst->name;
		act.a.journey = j->name;
		act.a.rule = r->name;
		act.a.params = r->params;
		act.a.settings = rt->settings;
		act.conf = rt->conf;
		act.inst = inst;
		if (p->check(rt->state, &rt->host, &act.a, err,
		    sizeof err) != 0)
			problems_add(probs, r->action_file, r->action_line,
			    "rule \"%s\": action for '%s': %s", r->name,
			    inst->name, err[0] ? err : "rejected by the plugin");
		act_clear(&act);
	}
	return probs->n == before ? 0 : -1;
}

/* Load every plugin instance of cf, and with PLUGINS_START start them;
 * then check every action's parameters against its plugin. */
int
plugins_load(struct config *cf, int flags, struct problems *probs)
{
	int	 before = probs->n;

	for (int i = 0; i < cf->ninstances; i++)
		plugin_load(cf->instances[i], cf, probs);
	for (int i = 0; i < cf->ninstances && probs->n == before; i++)
		if (flags & PLUGINS_START)
			plugin_start(cf->instances[i], probs);
	for (int i = 0; i < cf->njourneys && probs->n == before; i++) {
		const struct journey *j = &cf->journeys[i];

		for (int k = 0; k < j->nrules; k++) {
			const struct rule	*r = &j->rules[k];
			struct instance		*inst;

			if (r->instance != NULL &&
			    (inst = config_instance(cf, r->instance)) != NULL)
				plugin_check_params(inst, j, r, probs);
		}
	}
	return probs->n == before ? 0 : -1;
}

/* Stop an instance (fini), keeping it loaded. */
void
plugin_stop(struct instance *inst)
{
	struct plugin_rt	*rt = inst->rt;

	if (rt != NULL && rt->started && rt->plugin->fini != NULL)
		rt->plugin->fini(rt->state);
	if (rt != NULL) {
		rt->started = 0;
		rt->state = NULL;
	}
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
