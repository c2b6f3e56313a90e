/*
 * Plugins: loading a module from plugin_dir, checking its ABI, validating an
 * instance's settings and an action's parameters against the tables the
 * plugin declares (as fluent-bit does) and through the plugin's own checks,
 * and starting and stopping instances. The host interface itself is
 * host.c's.
 *
 * A plugin built against an older minor of the ABI is read as far as its
 * descriptor's size covers (the rest counts as zero), and its tables by the
 * entry size it declares, so that the host never reads past what the
 * plugin has: both are copied into the host's own layout at load.
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

/* The sizes of ABI 1.0's descriptor and table entries: what a 1.0 plugin
 * has, ending at its last member. */
#define PLUGIN_SIZE_1_0	(offsetof(struct jd_plugin, fini) + \
	sizeof(void (*)(void *)))
#define SETTING_SIZE_1_0 (offsetof(struct jd_setting, description) + \
	sizeof(const char *))

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
    char **text, char *why, size_t whylen, struct problems *probs)
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
			    why, whylen, probs, v->file, v->line);
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

/* The number of entries of a (normalised) settings table. */
static int
plugin_table_len(const struct jd_setting *t)
{
	int	 n = 0;

	while (t != NULL && t[n].key != NULL)
		n++;
	return n;
}

/* Copy a plugin's table, whose entries are stride bytes, into this host's
 * layout, ended by a NULL key; NULL for none. */
static struct jd_setting *
plugin_table(const struct jd_setting *t, size_t stride)
{
	const struct jd_setting	*e;
	struct jd_setting	*copy = NULL;
	size_t			 n = 0;

	if (t == NULL)
		return NULL;
	do {
		e = (const void *)((const char *)t + n * stride);
		copy = xreallocarray(copy, n + 1, sizeof *copy);
		memset(&copy[n], 0, sizeof copy[n]);
		memcpy(&copy[n], e, stride < sizeof *copy ? stride :
		    sizeof *copy);
	} while (copy[n++].key != NULL);
	return copy;
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
	host_settings_free(rt->settings);
	free(rt->settings_table);
	free(rt->params_table);
	if (rt->dl != NULL)
		dlclose(rt->dl);
	free(rt);
	inst->rt = NULL;
}

/* Copy descriptor p, as far as its size covers, and its tables into rt;
 * -1 with why when they cannot be read. */
static int
plugin_take(struct plugin_rt *rt, const struct jd_plugin *p, char *why,
    size_t whylen)
{
	size_t	 stride;

	if (p->size < PLUGIN_SIZE_1_0) {
		snprintf(why, whylen, "its descriptor's size %zu is smaller "
		    "than ABI 1.0's (%zu)", p->size, PLUGIN_SIZE_1_0);
		return -1;
	}
	memset(&rt->desc, 0, sizeof rt->desc);
	memcpy(&rt->desc, p, p->size < sizeof rt->desc ? p->size :
	    sizeof rt->desc);
	if ((stride = rt->desc.setting_size) == 0)
		stride = SETTING_SIZE_1_0;
	if (stride < SETTING_SIZE_1_0) {
		snprintf(why, whylen, "its setting_size %zu is smaller than "
		    "ABI 1.0's (%zu)", stride, SETTING_SIZE_1_0);
		return -1;
	}
	if (rt->desc.act == NULL && rt->desc.perform == NULL) {
		snprintf(why, whylen, "it has neither perform() nor act()");
		return -1;
	}
	rt->settings_table = plugin_table(p->settings, stride);
	rt->params_table = plugin_table(p->params, stride);
	return 0;
}

/* The file of module: the first of plugin_path's folders, then
 * plugin_dir, that has it (caller frees); NULL when none has. */
static char *
plugin_find(const struct config *cf, const char *module)
{
	char	*path;

	for (int i = 0; i <= cf->nplugin_path; i++) {
		path = xprintf("%s/%s.so", i < cf->nplugin_path ?
		    cf->plugin_path[i] : cf->plugin_dir, module);
		if (access(path, F_OK) == 0)
			return path;
		free(path);
	}
	return NULL;
}

/* Open inst's module in dir, check its ABI and take its descriptor; 0, or
 * -1 with the problem added. */
static int
plugin_open(struct instance *inst, const struct config *cf,
    struct problems *probs)
{
	const struct jd_plugin *(*entry)(void);
	const struct jd_plugin	*p;
	struct plugin_rt	*rt = inst->rt;
	char			*path, why[256];
	int			 rc = -1;

	if (!plugin_valid_module(inst->module)) {
		problems_add(probs, inst->file, inst->line, "plugin instance "
		    "'%s': module \"%s\" must be a plain name (lowercase "
		    "letters, digits, '_')", inst->name, inst->module);
		return -1;
	}
	if ((path = plugin_find(cf, inst->module)) == NULL) {
		struct buf dirs;

		buf_init(&dirs);
		for (int i = 0; i < cf->nplugin_path; i++)
			buf_printf(&dirs, "%s, ", cf->plugin_path[i]);
		buf_puts(&dirs, cf->plugin_dir);
		problems_add(probs, inst->file, inst->line, "plugin instance "
		    "'%s': no module \"%s\" (%s.so) in %s", inst->name,
		    inst->module, inst->module, dirs.s);
		buf_free(&dirs);
		return -1;
	}
	/* RTLD_NODELETE: a plugin's code stays mapped after dlclose(), for
	 * what may still run it (thread destructors it registered, a call the
	 * dispatcher gave up on after its timeout). */
	if ((rt->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)) ==
	    NULL)
		problems_add(probs, inst->file, inst->line, "plugin instance "
		    "'%s': cannot load module \"%s\": %s", inst->name,
		    inst->module, dlerror());
	else if ((*(void **)&entry = dlsym(rt->dl, JD_PLUGIN_SYMBOL)) ==
	    NULL || (p = entry()) == NULL)
		problems_add(probs, inst->file, inst->line, "plugin instance "
		    "'%s': %s has no %s() descriptor", inst->name, path,
		    JD_PLUGIN_SYMBOL);
	else if (p->abi_major != JD_PLUGIN_ABI_MAJOR ||
	    p->abi_minor > JD_PLUGIN_ABI_MINOR)
		problems_add(probs, inst->file, inst->line, "plugin instance "
		    "'%s': %s speaks plugin ABI %u.%u, this journeyd speaks "
		    "%d.%d", inst->name, path, p->abi_major, p->abi_minor,
		    JD_PLUGIN_ABI_MAJOR, JD_PLUGIN_ABI_MINOR);
	else if (plugin_take(rt, p, why, sizeof why) != 0)
		problems_add(probs, inst->file, inst->line, "plugin instance "
		    "'%s': %s (ABI %u.%u): %s", inst->name, path,
		    p->abi_major, p->abi_minor, why);
	else
		rc = 0;
	free(path);
	return rc;
}

/* Load inst's module from dir, check its ABI and its settings as written
 * in the config. */
static int
plugin_load(struct instance *inst, const struct config *cf,
    struct problems *probs)
{
	struct plugin_rt	*rt;
	const struct jd_setting	*table;
	char			*text, why[1024];
	int			 n, before = probs->n;

	rt = inst->rt = xcalloc(1, sizeof *inst->rt);
	inst->rt_free = plugin_rt_free;
	rt->conf = cf;
	host_fill(&rt->host, inst);
	if (plugin_open(inst, cf, probs) != 0)
		return -1;

	/* Settings: every key known, typed, and the required ones given. */
	table = rt->settings_table;
	n = plugin_table_len(table);
	rt->settings = host_settings_new(table, n);
	for (int i = 0; i < inst->settings_in.n; i++) {
		const struct conf_value	*v = &inst->settings_in.v[i];
		int			 k;

		for (k = 0; k < n && strcmp(table[k].key, v->key) != 0; k++)
			;
		if (k == n) {
			problems_add(probs, v->file, v->line, "plugin instance "
			    "'%s': unknown setting '%s' for module \"%s\"",
			    inst->name, v->key, inst->module);
			continue;
		}
		text = NULL;
		if (plugin_check_value(&table[k], v, &text, why,
		    sizeof why, probs) != 0)
			problems_add(probs, v->file, v->line, "plugin instance "
			    "'%s': '%s' %s", inst->name, v->key, why);
		host_settings_set(rt->settings, k, text);
	}
	for (int k = 0; k < n; k++)
		if (table[k].required &&
		    !plugin_given(&inst->settings_in, table[k].key))
			problems_add(probs, inst->file, inst->line, "plugin "
			    "instance '%s': '%s' is required", inst->name,
			    table[k].key);
	return probs->n == before ? 0 : -1;
}

/* Let a 1.1 plugin check an instance's settings, without side effects. */
static int
plugin_check_settings(struct instance *inst, struct problems *probs)
{
	struct plugin_rt	*rt = inst->rt;
	char			 err[512] = "";

	if (rt->desc.check_settings == NULL ||
	    rt->desc.check_settings(&rt->host, rt->settings, err,
	    sizeof err) == 0)
		return 0;
	problems_add(probs, inst->file, inst->line, "plugin instance '%s': %s",
	    inst->name, err[0] ? err : "settings refused by the plugin");
	return -1;
}

/* Start an instance: call init(). */
static int
plugin_start(struct instance *inst, struct problems *probs)
{
	struct plugin_rt	*rt = inst->rt;
	char			 err[512] = "";

	if (rt->desc.init != NULL && rt->desc.init(&rt->host, rt->settings,
	    &rt->state, err, sizeof err) != 0) {
		problems_add(probs, inst->file, inst->line, "plugin instance "
		    "'%s': %s", inst->name, err[0] ? err : "init failed");
		return -1;
	}
	rt->started = 1;
	return 0;
}

/* Check a rule's action parameters against its plugin's table. */
static int
plugin_check_table(struct instance *inst, const struct rule *r,
    struct problems *probs)
{
	const struct jd_setting	*table = inst->rt->params_table;
	char			*text, why[1024];
	int			 before = probs->n, n, k;

	n = plugin_table_len(table);
	for (int i = 0; i < r->action_in.n; i++) {
		const struct conf_value *v = &r->action_in.v[i];

		for (k = 0; k < n && strcmp(table[k].key, v->key) != 0; k++)
			;
		if (k == n) {
			problems_add(probs, v->file, v->line, "action for '%s': "
			    "unknown setting '%s' for module \"%s\"",
			    inst->name, v->key, inst->module);
			continue;
		}
		text = NULL;
		if (plugin_check_value(&table[k], v, &text, why,
		    sizeof why, probs) != 0)
			problems_add(probs, v->file, v->line, "action for '%s': "
			    "'%s' %s", inst->name, v->key, why);
		free(text);
	}
	for (k = 0; k < n; k++) {
		int given = 0;

		for (int i = 0; i < r->action_in.n; i++)
			given |= strcmp(r->action_in.v[i].key,
			    table[k].key) == 0;
		if (table[k].required && !given)
			problems_add(probs, r->action_file, r->action_line,
			    "action for '%s': '%s' is required", inst->name,
			    table[k].key);
	}
	return probs->n == before ? 0 : -1;
}

/*
 * Check a rule's action parameters: against its plugin's table, then
 * through the plugin's check(): a started instance's with its state, and
 * a 1.1 plugin's, not started (--check), with a NULL state. A 1.0 plugin's
 * check() may need its state: it is not called unless started.
 */
static int
plugin_check_params(struct instance *inst, const struct journey *j,
    const struct rule *r, struct act_check *ctx)
{
	struct plugin_rt	*rt = inst->rt;
	struct act		 act;
	char			 err[512] = "";
	int			 rc;

	if (plugin_check_table(inst, r, ctx->probs) != 0)
		return -1;
	if (rt->desc.check == NULL || (!rt->started &&
	    rt->desc.abi_minor < 1))
		return 0;
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
	act.rv.traits = "{}";
	act.rv.journey = j->name;
	act.rv.rule = r->name;
	act.check = ctx;
	ctx->rule = r;
	if ((rc = rt->desc.check(rt->started ? rt->state : NULL, &rt->host,
	    &act.a, err, sizeof err)) != 0)
		problems_add(ctx->probs, r->action_file, r->action_line,
		    "rule \"%s\": action for '%s': %s", r->name, inst->name,
		    err[0] ? err : "rejected by the plugin");
	act_clear(&act);
	return rc != 0 ? -1 : 0;
}

/* Check each variant's action of rule r as a rule's: a copy of the rule
 * with the variant's action. */
static void
plugin_check_variants(struct config *cf, const struct journey *j,
    const struct rule *r, struct act_check *ctx)
{
	for (int i = 0; i < r->nvariants; i++) {
		const struct variant	*v = &r->variants[i];
		struct rule		 one = *r;
		struct instance		*inst;

		if (v->instance == NULL ||
		    (inst = config_instance(cf, v->instance)) == NULL)
			continue;
		one.instance = v->instance;
		one.params = v->params;
		one.action_in = v->action_in;
		one.action_file = v->action_file;
		one.action_line = v->action_line;
		plugin_check_params(inst, j, &one, ctx);
	}
}

/* Load every plugin instance of cf, check their settings, and with
 * PLUGINS_START start them; then check every action of every rule. */
int
plugins_load(struct config *cf, int flags, struct problems *probs)
{
	struct act_check	 ctx = { NULL, NULL, probs };
	int			 before = probs->n;

	for (int i = 0; i < cf->ninstances; i++)
		plugin_load(cf->instances[i], cf, probs);
	for (int i = 0; i < cf->ninstances && probs->n == before; i++)
		plugin_check_settings(cf->instances[i], probs);
	for (int i = 0; i < cf->ninstances && probs->n == before; i++)
		if (flags & PLUGINS_START)
			plugin_start(cf->instances[i], probs);
	if (probs->n != before)
		return -1;
	/* Only --check reads which traits the store has seen. */
	ctx.templates = tmpl_check_new((flags & PLUGINS_START) ? NULL :
	    cf->database);
	for (int i = 0; i < cf->njourneys; i++) {
		const struct journey *j = &cf->journeys[i];

		for (int k = 0; k < j->nrules; k++) {
			const struct rule	*r = &j->rules[k];
			struct instance		*inst;

			if (r->nvariants > 0)
				plugin_check_variants(cf, j, r, &ctx);
			else if (r->instance != NULL &&
			    (inst = config_instance(cf, r->instance)) != NULL)
				plugin_check_params(inst, j, r, &ctx);
		}
	}
	tmpl_check_free(ctx.templates);
	return probs->n == before ? 0 : -1;
}

/* Stop an instance (fini), keeping it loaded. */
void
plugin_stop(struct instance *inst)
{
	struct plugin_rt	*rt = inst->rt;

	if (rt != NULL && rt->started && rt->desc.fini != NULL)
		rt->desc.fini(rt->state);
	if (rt != NULL) {
		rt->started = 0;
		rt->state = NULL;
	}
}
