/*
 * The settings of experiments and timing on a rule (SPEC §15), read for
 * conf.c: variants (each a name, a weight and an action; the actions are
 * read with the rules' actions, once the plugin instances are known), a
 * send window (local hours and days) and a delay.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules/conf-int.h"

static const char *conf_variant_keys[] = { "name", "weight", "action", NULL };
static const char *conf_window_keys[] = { "hours", "days", NULL };

/* The day (0 Sunday .. 6 Saturday) whose three-letter name starts s, or
 * -1. */
static int
window_day(const char *s)
{
	static const char	*names[] = { "sun", "mon", "tue", "wed", "thu",
				    "fri", "sat" };

	for (int d = 0; d < 7; d++)
		if (strncasecmp(s, names[d], 3) == 0 &&
		    !isalpha((unsigned char)s[3]))
			return d;
	return -1;
}

/* Check a window's days, "mon-fri", "sat,sun", "mon,wed,fri" (a range may
 * wrap: "fri-mon"), into a mask (bit 0 Sunday); 0 or -1. */
int
window_days_parse(const char *s, int *mask)
{
	int	 m = 0, a, b;

	for (;;) {
		s += strspn(s, " ");
		if ((a = b = window_day(s)) < 0)
			return -1;
		s += 3 + strspn(s + 3, " ");
		if (*s == '-') {
			s += 1 + strspn(s + 1, " ");
			if ((b = window_day(s)) < 0)
				return -1;
			s += 3 + strspn(s + 3, " ");
		}
		for (int d = a;; d = (d + 1) % 7) {
			m |= 1 << d;
			if (d == b)
				break;
		}
		if (*s == '\0')
			break;
		if (*s++ != ',')
			return -1;
	}
	if (mask != NULL)
		*mask = m;
	return 0;
}

/* Read a rule's window = { hours = "09:00-17:00"; days = "mon-fri"; }
 * (SPEC §15): either may be left out (all day, every day). */
void
conf_window(struct conf_ctx *c, struct rule *r, config_setting_t *s)
{
	struct window	 w = { 0, 24 * 60, 0x7f };
	const char	*v;

	if (s == NULL)
		return;
	if (!config_setting_is_group(s)) {
		conf_error(c, s, "rule \"%s\": 'window' is a group { hours = "
		    "\"09:00-17:00\"; days = \"mon-fri\"; }", r->name);
		return;
	}
	conf_check_keys(c, s, conf_window_keys, "a window");
	if ((v = conf_string(c, s, "hours")) != NULL) {
		if (quiet_hours_parse(v, &w.from, &w.to) != 0) {
			conf_error(c, config_setting_get_member(s, "hours"),
			    "rule \"%s\": window: bad hours \"%s\" (use "
			    "\"09:00-17:00\")", r->name, v);
			return;
		}
		if (w.from == w.to) {
			conf_error(c, config_setting_get_member(s, "hours"),
			    "rule \"%s\": window: empty hours \"%s\" (the "
			    "start equals the end)", r->name, v);
			return;
		}
	}
	if ((v = conf_string(c, s, "days")) != NULL &&
	    window_days_parse(v, &w.days) != 0) {
		conf_error(c, config_setting_get_member(s, "days"), "rule "
		    "\"%s\": window: unknown day in \"%s\" (use \"mon-fri\", "
		    "\"sat,sun\" or \"mon,wed,fri\")", r->name, v);
		return;
	}
	r->window = xmalloc(sizeof *r->window);
	*r->window = w;
}

/* Read one variant of a rule's variants list: its name and weight (its
 * action is read with the rules' actions, conf_actions). */
static void
conf_variant(struct conf_ctx *c, struct rule *r, struct variant *v,
    config_setting_t *g)
{
	config_setting_t	*s;
	const char		*name;

	v->weight = 1;
	v->action_line = conf_line(g);
	if (!config_setting_is_group(g)) {
		conf_error(c, g, "rule \"%s\": a variant is a group { name = "
		    "...; weight = 1; action = { ... }; }", r->name);
		v->name = xstrdup("?");
		return;
	}
	conf_check_keys(c, g, conf_variant_keys, "a variant");
	if ((name = conf_string(c, g, "name")) == NULL ||
	    !conf_valid_name(name)) {
		conf_error(c, g, "rule \"%s\": a variant needs a name "
		    "(letters, digits, '_', '-' and '.')", r->name);
		name = "?";
	}
	v->name = xstrdup(name);
	for (struct variant *o = r->variants; o < v; o++)
		if (strcmp(o->name, v->name) == 0)
			conf_error(c, g, "rule \"%s\": duplicate variant "
			    "\"%s\"", r->name, v->name);
	if ((s = config_setting_get_member(g, "weight")) != NULL) {
		if ((config_setting_type(s) != CONFIG_TYPE_INT &&
		    config_setting_type(s) != CONFIG_TYPE_INT64) ||
		    config_setting_get_int64(s) < 1 ||
		    config_setting_get_int64(s) > 1000000)
			conf_error(c, s, "rule \"%s\": variant \"%s\": "
			    "'weight' must be a whole number from 1 to "
			    "1000000", r->name, v->name);
		else
			v->weight = (int)config_setting_get_int64(s);
	}
	if ((s = config_setting_get_member(g, "action")) == NULL ||
	    !config_setting_is_group(s) || conf_string(c, s, "plugin") == NULL)
		conf_error(c, s != NULL ? s : g, "rule \"%s\": variant "
		    "\"%s\" needs an action = { plugin = ...; }", r->name,
		    v->name);
}

/* Read a rule's variants (SPEC §15), instead of its action. */
void
conf_variants(struct conf_ctx *c, struct rule *r, config_setting_t *g)
{
	config_setting_t	*s = config_setting_get_member(g, "variants");
	int			 n;

	if (s == NULL)
		return;
	if (config_setting_get_member(g, "action") != NULL)
		conf_error(c, s, "rule \"%s\": has both 'action' and "
		    "'variants': each variant has its own action", r->name);
	if ((config_setting_type(s) != CONFIG_TYPE_LIST &&
	    config_setting_type(s) != CONFIG_TYPE_ARRAY) ||
	    (n = config_setting_length(s)) == 0) {
		conf_error(c, s, "rule \"%s\": 'variants' is a list ( { name "
		    "= ...; weight = 1; action = { ... }; }, ... )", r->name);
		return;
	}
	r->variants = xcalloc(n, sizeof *r->variants);
	for (int i = 0; i < n; i++) {
		r->nvariants++;
		conf_variant(c, r, &r->variants[i],
		    config_setting_get_elem(s, i));
		r->weight_total += r->variants[i].weight;
	}
}

/* A JSON object with "key": value set (value JSON text); replaces *obj. */
static void
conf_json_put(struct conf_ctx *c, char **obj, const char *key,
    const char *value)
{
	sqlite3_stmt	*st;

	st = store_prepare(c->json, "SELECT json_set(?1, '$.\"' || ?2 || "
	    "'\"', json(?3))");
	sqlite3_bind_text(st, 1, *obj, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		free(*obj);
		*obj = xstrdup((const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
}

/* Read the actions of rule r's variants (rule group g): the rule's own
 * instance and parameters are the first variant's; variants_json maps each
 * name to its instance and parameters, weights_json to its cumulative
 * weight, for the queueing statement. */
void
conf_variant_actions(struct conf_ctx *c, struct config *cf, struct rule *r,
    config_setting_t *g)
{
	config_setting_t	*list = config_setting_get_member(g, "variants");
	char			*one;
	int			 cum = 0;

	r->variants_json = xstrdup("{}");
	r->weights_json = xstrdup("{}");
	for (int i = 0; i < r->nvariants; i++) {
		struct variant *v = &r->variants[i];
		config_setting_t *a = config_setting_get_member(
		    config_setting_get_elem(list, i), "action");

		if (a == NULL || !config_setting_is_group(a) ||
		    conf_action(c, cf, r, a, v) != 0)
			continue;
		one = xprintf("{\"instance\":\"%s\",\"params\":%s}",
		    v->instance, v->params);
		conf_json_put(c, &r->variants_json, v->name, one);
		free(one);
		one = xprintf("%d", cum += v->weight);
		conf_json_put(c, &r->weights_json, v->name, one);
		free(one);
	}
	if (r->variants[0].instance != NULL) {
		r->instance = xstrdup(r->variants[0].instance);
		r->params = xstrdup(r->variants[0].params);
		r->action_file = xstrdup(r->variants[0].action_file);
		r->action_line = r->variants[0].action_line;
	}
}

/* Free what a rule's experiment settings hold. */
void
conf_experiment_free(struct rule *r)
{
	for (int v = 0; v < r->nvariants; v++) {
		free(r->variants[v].name);
		free(r->variants[v].instance);
		free(r->variants[v].params);
		conf_values_free(&r->variants[v].action_in);
		free(r->variants[v].action_file);
	}
	free(r->variants);
	free(r->variants_json);
	free(r->weights_json);
	free(r->window);
}
