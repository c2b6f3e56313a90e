/*
 * The config file (SPEC §5, §11): read with libconfig, checked key by key and
 * turned into struct config. Every problem is collected as "FILE:LINE:
 * message" so that --check can show them all at once; nothing of a bad config
 * is ever used. A rule's variants, window and delay are read by confexp.c.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <libconfig.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "rules/conf-int.h"
#include "rules/expr.h"

#ifndef PLUGINDIR
#define PLUGINDIR "/usr/lib/journeyd/plugins"
#endif
#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR "/var"
#endif


static const char *conf_top_keys[] = {
	"database", "plugin_dir", "plugin_path", "spool_dir", "interval",
	"workers",
	"retry_min", "retry_max", "retry_for", "default_timezone",
	"metrics_file", "plugins", "journeys", "segments", "http",
	"react", "retention", NULL
};
static const char *conf_retention_keys[] = {
	"events", "history", "actions", NULL
};
static const char *conf_http_keys[] = {
	"listen", "write_key_file", "admin_key_file", "tls_cert_file",
	"tls_key_file", NULL
};
static const char *conf_journey_keys[] = {
	"name", "subject", "entry", "exit", "reenter", "stages", "rules", NULL
};
static const char *conf_rule_keys[] = {
	"name", "stage", "when", "goto", "action", "repeat", "holdout",
	"ignore_limits", "quiet_hours", "on", "variants", "window", "delay",
	NULL
};
static const char *conf_stage_keys[] = { "name", "expect", NULL };

/* The file a setting came from (an @include'd one, or the main file); an
 * included file is named as a path from the main file's folder. */
const char *
conf_file(struct conf_ctx *c, const config_setting_t *s)
{
	const char	*f = s != NULL ? config_setting_source_file(s) : NULL;
	const char	*slash;

	if (f == NULL || strcmp(f, c->path) == 0)
		return c->path;
	if (f[0] == '/' || (slash = strrchr(c->path, '/')) == NULL)
		return f;
	for (int i = 0; i < c->nfiles; i++)
		if (strcmp(c->files[i] + (slash - c->path) + 1, f) == 0)
			return c->files[i];
	c->files = xreallocarray(c->files, c->nfiles + 1, sizeof *c->files);
	c->files[c->nfiles] = xprintf("%.*s/%s", (int)(slash - c->path),
	    c->path, f);
	return c->files[c->nfiles++];
}

/* The line of a setting, or of its nearest parent that has one. */
int
conf_line(const config_setting_t *s)
{
	while (s != NULL && config_setting_source_line(s) == 0)
		s = config_setting_parent(s);
	return s != NULL ? config_setting_source_line(s) : 0;
}

/* Is key one of keys? */
static int
conf_known(const char *key, const char **keys)
{
	for (; *keys != NULL; keys++)
		if (strcmp(key, *keys) == 0)
			return 1;
	return 0;
}

/* Report every key of group that is not in keys. */
void
conf_check_keys(struct conf_ctx *c, const config_setting_t *group,
    const char **keys, const char *what)
{
	config_setting_t	*s;

	for (int i = 0; (s = config_setting_get_elem(group, i)) != NULL; i++) {
		const char *name = config_setting_name(s);
		if (name != NULL && !conf_known(name, keys))
			conf_error(c, s, "unknown setting '%s' in %s", name,
			    what);
	}
}

/* A string setting of group, or NULL when absent (wrong type: a problem). */
const char *
conf_string(struct conf_ctx *c, const config_setting_t *group,
    const char *key)
{
	config_setting_t	*s = config_setting_get_member(group, key);

	if (s == NULL)
		return NULL;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		conf_error(c, s, "'%s' must be a string", key);
		return NULL;
	}
	return config_setting_get_string(s);
}

/* A duration setting of group into *out (left alone when absent). */
static void
conf_duration(struct conf_ctx *c, const config_setting_t *group,
    const char *key, int64_t *out, int allow_zero)
{
	config_setting_t	*s = config_setting_get_member(group, key);
	const char		*v;
	int64_t			 d;

	if (s == NULL || (v = conf_string(c, group, key)) == NULL)
		return;
	if (duration_parse(v, &d) != 0)
		conf_error(c, s, "'%s': bad duration \"%s\" (use 45s, 15m, "
		    "12h, 30d, 2w or 1y)", key, v);
	else if (d == 0 && !allow_zero)
		conf_error(c, s, "'%s' must be longer than 0s", key);
	else
		*out = d;
}

/* An integer setting of group into *out, within [min, max]. */
static void
conf_int(struct conf_ctx *c, const config_setting_t *group, const char *key,
    int *out, int min, int max)
{
	config_setting_t	*s = config_setting_get_member(group, key);
	long long		 v;

	if (s == NULL)
		return;
	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64) {
		conf_error(c, s, "'%s' must be an integer", key);
		return;
	}
	v = config_setting_get_int64(s);
	if (v < min || v > max) {
		conf_error(c, s, "'%s' must be between %d and %d", key, min,
		    max);
		return;
	}
	*out = (int)v;
}

/* A boolean setting of group into *out. */
static void
conf_bool(struct conf_ctx *c, const config_setting_t *group, const char *key,
    int *out)
{
	config_setting_t	*s = config_setting_get_member(group, key);

	if (s == NULL)
		return;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		conf_error(c, s, "'%s' must be true or false", key);
		return;
	}
	*out = config_setting_get_bool(s);
}

/* Is s a name journeyd accepts for journeys, stages, rules and instances? */
int
conf_valid_name(const char *s)
{
	if (*s == '\0' || strlen(s) > 128)
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' &&
		    *s != '.')
			return 0;
	return 1;
}

/* Check "HH:MM-HH:MM". */
int
quiet_hours_parse(const char *s, int *from, int *to)
{
	int	 h1, m1, h2, m2, n = 0;

	if (sscanf(s, "%2d:%2d-%2d:%2d%n", &h1, &m1, &h2, &m2, &n) != 4 ||
	    s[n] != '\0' || h1 > 23 || h2 > 23 || m1 > 59 || m2 > 59 ||
	    h1 < 0 || h2 < 0 || m1 < 0 || m2 < 0)
		return -1;
	if (from != NULL)
		*from = h1 * 60 + m1;
	if (to != NULL)
		*to = h2 * 60 + m2;
	return 0;
}

/* Add key = value (a libconfig scalar) to a JSON object; -1 if not scalar. */
static int
conf_json_set(struct conf_ctx *c, char **obj, const config_setting_t *s)
{
	sqlite3_stmt	*st;
	char		*path;
	int		 rc = 0;

	st = store_prepare(c->json, "SELECT json_set(?1, ?2, ?3)");
	path = xprintf("$.\"%s\"", config_setting_name(s));
	sqlite3_bind_text(st, 1, *obj, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_STRING:
		sqlite3_bind_text(st, 3, config_setting_get_string(s), -1,
		    SQLITE_STATIC);
		break;
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		sqlite3_bind_int64(st, 3, config_setting_get_int64(s));
		break;
	case CONFIG_TYPE_FLOAT:
		sqlite3_bind_double(st, 3, config_setting_get_float(s));
		break;
	case CONFIG_TYPE_BOOL:
		/* json_set turns an integer into a number; booleans need json. */
		sqlite3_finalize(st);
		st = store_prepare(c->json, "SELECT json_set(?1, ?2, json(?3))");
		sqlite3_bind_text(st, 1, *obj, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, config_setting_get_bool(s) ?
		    "true" : "false", -1, SQLITE_STATIC);
		break;
	default:
		rc = -1;
		break;
	}
	if (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		char *n = xstrdup((const char *)sqlite3_column_text(st, 0));
		free(*obj);
		*obj = n;
	} else
		rc = -1;
	sqlite3_finalize(st);
	free(path);
	return rc;
}

/* Keep setting s as written, for the plugin host to check. */
static void
conf_value_add(struct conf_ctx *c, struct conf_values *vs,
    const config_setting_t *s)
{
	struct conf_value	*v;

	vs->v = xreallocarray(vs->v, vs->n + 1, sizeof *vs->v);
	v = &vs->v[vs->n++];
	v->key = xstrdup(config_setting_name(s));
	v->file = xstrdup(conf_file(c, s));
	v->line = conf_line(s);
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_STRING:
		v->type = CONF_V_STRING;
		v->text = xstrdup(config_setting_get_string(s));
		break;
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		v->type = CONF_V_INT;
		v->text = xprintf("%lld", config_setting_get_int64(s));
		break;
	case CONFIG_TYPE_FLOAT:
		v->type = CONF_V_FLOAT;
		v->text = xprintf("%.17g", config_setting_get_float(s));
		break;
	case CONFIG_TYPE_BOOL:
		v->type = CONF_V_BOOL;
		v->text = xstrdup(config_setting_get_bool(s) ? "true" :
		    "false");
		break;
	default:
		v->type = CONF_V_OTHER;
		v->text = xstrdup("");
		break;
	}
}

/* Free the values kept of a block. */
void
conf_values_free(struct conf_values *vs)
{
	for (int i = 0; i < vs->n; i++) {
		free(vs->v[i].key);
		free(vs->v[i].text);
		free(vs->v[i].file);
	}
	free(vs->v);
	vs->v = NULL;
	vs->n = 0;
}

/* Keys of a plugin block that belong to the host, not to the plugin. */
static const char *conf_host_keys[] = {
	"module", "limit", "quiet_hours", "timeout", NULL
};

/* Read one plugin instance block. */
static struct instance *
conf_instance(struct conf_ctx *c, config_setting_t *g)
{
	struct instance		*inst;
	config_setting_t	*lim;
	const char		*module, *qh;

	inst = xcalloc(1, sizeof *inst);
	inst->name = xstrdup(config_setting_name(g));
	inst->file = xstrdup(conf_file(c, g));
	inst->line = conf_line(g);
	if (!conf_valid_name(inst->name))
		conf_error(c, g, "plugin instance '%s': a name is letters, "
		    "digits, '_', '-' and '.'", inst->name);
	if (!config_setting_is_group(g)) {
		conf_error(c, g, "plugin instance '%s' must be a group { ... }",
		    inst->name);
		return inst;
	}
	module = conf_string(c, g, "module");
	inst->module = xstrdup(module != NULL ? module : inst->name);
	if ((lim = config_setting_get_member(g, "limit")) != NULL) {
		if (!config_setting_is_group(lim))
			conf_error(c, lim, "'limit' must be a group "
			    "{ max = N; per = \"7d\"; }");
		else {
			static const char *keys[] = { "max", "per", NULL };
			conf_check_keys(c, lim, keys, "limit");
			conf_int(c, lim, "max", &inst->limit_max, 0, 1000000);
			conf_duration(c, lim, "per", &inst->limit_per, 0);
			if (config_setting_get_member(lim, "max") == NULL ||
			    config_setting_get_member(lim, "per") == NULL)
				conf_error(c, lim, "'limit' needs both max "
				    "and per");
		}
	}
	if ((qh = conf_string(c, g, "quiet_hours")) != NULL) {
		if (quiet_hours_parse(qh, NULL, NULL) != 0)
			conf_error(c, config_setting_get_member(g,
			    "quiet_hours"), "bad quiet_hours \"%s\" (use "
			    "\"21:00-08:00\")", qh);
		else
			inst->quiet_hours = xstrdup(qh);
	}
	inst->timeout = 30;
	conf_duration(c, g, "timeout", &inst->timeout, 0);
	for (int i = 0; (lim = config_setting_get_elem(g, i)) != NULL; i++)
		if (!conf_known(config_setting_name(lim), conf_host_keys))
			conf_value_add(c, &inst->settings_in, lim);
	return inst;
}

/* Is s "host:port" or "[v6 address]:port", the port 0 (any free one) to
 * 65535? */
static int
conf_valid_listen(const char *s)
{
	const char	*colon;
	char		*end;
	long		 port;

	if (*s == '[') {
		if ((colon = strchr(s, ']')) == NULL || colon == s + 1 ||
		    colon[1] != ':')
			return 0;
		colon++;
	} else if ((colon = strrchr(s, ':')) == NULL || colon == s ||
	    memchr(s, ':', colon - s) != NULL)
		return 0;
	if (!isdigit((unsigned char)colon[1]))
		return 0;
	port = strtol(colon + 1, &end, 10);
	return *end == '\0' && port >= 0 && port <= 65535;
}

/* Read http's listen: one address or a list of them. */
static void
conf_http_listen(struct conf_ctx *c, struct http_conf *h,
    config_setting_t *s)
{
	const char	*v;
	int		 n;

	if (s == NULL) {
		h->listen = xcalloc(1, sizeof *h->listen);
		h->listen[h->nlisten++] = xstrdup("127.0.0.1:8088");
		return;
	}
	if (config_setting_type(s) == CONFIG_TYPE_STRING)
		n = 1;
	else if (config_setting_type(s) == CONFIG_TYPE_ARRAY ||
	    config_setting_type(s) == CONFIG_TYPE_LIST)
		n = config_setting_length(s);
	else
		n = 0;
	if (n == 0) {
		conf_error(c, s, "http: 'listen' is \"host:port\" or a list of "
		    "them");
		return;
	}
	h->listen = xcalloc(n, sizeof *h->listen);
	for (int i = 0; i < n; i++) {
		config_setting_t *e = n == 1 && config_setting_type(s) ==
		    CONFIG_TYPE_STRING ? s : config_setting_get_elem(s, i);

		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			conf_error(c, e, "http: 'listen' lists \"host:port\" "
			    "strings");
			continue;
		}
		v = config_setting_get_string(e);
		if (!conf_valid_listen(v)) {
			conf_error(c, e, "http: bad listen address \"%s\" (use "
			    "\"127.0.0.1:8088\", \"[::1]:8088\" or "
			    "\"0.0.0.0:8088\")", v);
			continue;
		}
		h->listen[h->nlisten++] = xstrdup(v);
	}
}

/* Keep a file setting of the http block, as written and where. */
static void
conf_http_file(struct conf_ctx *c, config_setting_t *g, const char *key,
    struct http_file *hf)
{
	const char	*v;

	if ((v = conf_string(c, g, key)) == NULL)
		return;
	hf->path = xstrdup(v);
	hf->file = xstrdup(conf_file(c, config_setting_get_member(g, key)));
	hf->line = conf_line(config_setting_get_member(g, key));
}

/* Read the retention block: how long events, history and ended actions
 * are kept. */
static void
conf_retention(struct conf_ctx *c, struct config *cf, config_setting_t *g)
{
	struct retention	*r = &cf->retention;

	if (!config_setting_is_group(g)) {
		conf_error(c, g, "'retention' must be a group { events = "
		    "\"400d\"; history = \"2y\"; actions = \"90d\"; }");
		return;
	}
	conf_check_keys(c, g, conf_retention_keys, "retention");
	conf_duration(c, g, "events", &r->events, 0);
	conf_duration(c, g, "history", &r->history, 0);
	conf_duration(c, g, "actions", &r->actions, 0);
	r->file = xstrdup(conf_file(c, g));
	r->line = conf_line(g);
}

/* Read the http block: listen addresses, key files and TLS files. */
static struct http_conf *
conf_http(struct conf_ctx *c, config_setting_t *g)
{
	struct http_conf	*h;

	h = xcalloc(1, sizeof *h);
	h->file = xstrdup(conf_file(c, g));
	h->line = conf_line(g);
	if (!config_setting_is_group(g)) {
		conf_error(c, g, "'http' must be a group { listen = ...; "
		    "write_key_file = ...; }");
		return h;
	}
	conf_check_keys(c, g, conf_http_keys, "http");
	conf_http_listen(c, h, config_setting_get_member(g, "listen"));
	if (config_setting_get_member(g, "write_key_file") == NULL)
		conf_error(c, g, "http: 'write_key_file' is missing (the "
		    "file of the write keys clients send)");
	conf_http_file(c, g, "write_key_file", &h->write_key_file);
	conf_http_file(c, g, "admin_key_file", &h->admin_key_file);
	conf_http_file(c, g, "tls_cert_file", &h->tls_cert_file);
	conf_http_file(c, g, "tls_key_file", &h->tls_key_file);
	if ((config_setting_get_member(g, "tls_cert_file") == NULL) !=
	    (config_setting_get_member(g, "tls_key_file") == NULL))
		conf_error(c, g, "http: TLS needs both 'tls_cert_file' and "
		    "'tls_key_file'");
	return h;
}

/* Free an http block, wiping the key material it holds. */
static void
conf_http_free(struct http_conf *h)
{
	struct http_file	*files[4];

	if (h == NULL)
		return;
	files[0] = &h->write_key_file;
	files[1] = &h->admin_key_file;
	files[2] = &h->tls_cert_file;
	files[3] = &h->tls_key_file;
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		free(files[i]->path);
		free(files[i]->file);
	}
	for (int i = 0; i < h->nlisten; i++)
		free(h->listen[i]);
	free(h->listen);
	free(h->file);
	keyring_free(&h->write_keys);
	keyring_free(&h->admin_keys);
	if (h->tls_key != NULL)
		explicit_bzero(h->tls_key, strlen(h->tls_key));
	free(h->tls_key);
	free(h->tls_cert);
	free(h);
}

/* Read the stages of a journey: names, or groups { name; expect; }. */
static void
conf_stages(struct conf_ctx *c, struct journey *j, config_setting_t *list)
{
	config_setting_t	*s;
	int			 n;

	if (list == NULL) {
		problems_add(c->probs, c->path, j->line,
		    "journey \"%s\": 'stages' is missing", j->name);
		return;
	}
	if (!config_setting_is_aggregate(list) ||
	    (n = config_setting_length(list)) == 0) {
		conf_error(c, list, "journey \"%s\": 'stages' must be a "
		    "non-empty list", j->name);
		return;
	}
	j->stages = xcalloc(n, sizeof *j->stages);
	for (int i = 0; i < n; i++) {
		const char *name = NULL;

		s = config_setting_get_elem(list, i);
		if (config_setting_type(s) == CONFIG_TYPE_STRING)
			name = config_setting_get_string(s);
		else if (config_setting_is_group(s)) {
			conf_check_keys(c, s, conf_stage_keys, "a stage");
			name = conf_string(c, s, "name");
			if (name == NULL)
				conf_error(c, s, "journey \"%s\": a stage "
				    "needs a name", j->name);
			conf_duration(c, s, "expect",
			    &j->stages[j->nstages].expect, 0);
		} else
			conf_error(c, s, "journey \"%s\": a stage is a name "
			    "or a group { name = ...; expect = ...; }",
			    j->name);
		if (name == NULL)
			continue;
		if (!conf_valid_name(name))
			conf_error(c, s, "journey \"%s\": bad stage name "
			    "\"%s\"", j->name, name);
		if (journey_stage(j, name) != -1)
			conf_error(c, s, "journey \"%s\": duplicate stage "
			    "\"%s\"", j->name, name);
		j->stages[j->nstages++].name = xstrdup(name);
	}
}

/* Read a rule's stage: a name or a list of names, each of the journey. */
static void
conf_rule_stages(struct conf_ctx *c, struct journey *j, struct rule *r,
    config_setting_t *s)
{
	int	 n;

	if (s == NULL)
		return;
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		r->stages = xcalloc(1, sizeof *r->stages);
		r->stages[r->nstages++] = xstrdup(config_setting_get_string(s));
	} else if (config_setting_type(s) == CONFIG_TYPE_ARRAY ||
	    config_setting_type(s) == CONFIG_TYPE_LIST) {
		n = config_setting_length(s);
		r->stages = xcalloc(n, sizeof *r->stages);
		for (int i = 0; i < n; i++) {
			config_setting_t *e = config_setting_get_elem(s, i);
			if (config_setting_type(e) != CONFIG_TYPE_STRING) {
				conf_error(c, e, "rule \"%s\": 'stage' lists "
				    "stage names", r->name);
				continue;
			}
			r->stages[r->nstages++] =
			    xstrdup(config_setting_get_string(e));
		}
	} else {
		conf_error(c, s, "rule \"%s\": 'stage' is a stage name or a "
		    "list of them", r->name);
		return;
	}
	for (int i = 0; i < r->nstages; i++)
		if (journey_stage(j, r->stages[i]) == -1)
			conf_error(c, s, "rule \"%s\": no stage \"%s\" in "
			    "journey \"%s\"", r->name, r->stages[i], j->name);
}

/* Read a rule's `on`: "enter" fires its action for every entry into its
 * stages (SPEC §14.5). */
static void
conf_rule_on(struct conf_ctx *c, struct rule *r, config_setting_t *g)
{
	config_setting_t	*s = config_setting_get_member(g, "on");
	const char		*v;

	if (s == NULL || (v = conf_string(c, g, "on")) == NULL)
		return;
	if (strcmp(v, "enter") != 0) {
		conf_error(c, s, "rule \"%s\": on = \"%s\": the only event is "
		    "\"enter\"", r->name, v);
		return;
	}
	r->on_enter = 1;
	if (config_setting_get_member(g, "goto") != NULL)
		conf_error(c, s, "rule \"%s\": on = \"enter\" fires an "
		    "action, it cannot also have 'goto'", r->name);
	if (config_setting_get_member(g, "action") == NULL &&
	    config_setting_get_member(g, "variants") == NULL)
		conf_error(c, s, "rule \"%s\": on = \"enter\" needs an "
		    "'action' (or 'variants')", r->name);
	if ((s = config_setting_get_member(g, "repeat")) != NULL)
		problems_warn(c->probs, conf_file(c, s), conf_line(s), "rule "
		    "\"%s\": 'repeat' does not apply to on = \"enter\" (it "
		    "fires once for every entry): ignored", r->name);
}

/* What rule r (group g of journey j) does: its goto, and its action or
 * variants; one at least. */
static void
conf_rule_effect(struct conf_ctx *c, const struct journey *j, struct rule *r,
    config_setting_t *g)
{
	config_setting_t	*s;
	const char		*v;

	if ((v = conf_string(c, g, "goto")) != NULL) {
		r->go = journey_stage(j, v);
		if (r->go == -1)
			conf_error(c, config_setting_get_member(g, "goto"),
			    "rule \"%s\": goto: no stage \"%s\" in journey "
			    "\"%s\"", r->name, v, j->name);
	}
	if ((s = config_setting_get_member(g, "action")) != NULL) {
		if (!config_setting_is_group(s))
			conf_error(c, s, "rule \"%s\": 'action' must be a "
			    "group { plugin = ...; }", r->name);
		else if ((v = conf_string(c, s, "plugin")) == NULL)
			conf_error(c, s, "rule \"%s\": the action needs "
			    "'plugin'", r->name);
		else
			r->instance = xstrdup(v);
	}
	conf_variants(c, r, g);
	if (config_setting_get_member(g, "goto") == NULL && s == NULL &&
	    r->variants == NULL)
		conf_error(c, g, "rule \"%s\": needs 'goto', 'action' or "
		    "both", r->name);
}

/* When rule r's action may be sent: quiet_hours, window and delay. */
static void
conf_rule_timing(struct conf_ctx *c, struct rule *r, config_setting_t *g)
{
	config_setting_t	*s;
	const char		*v;

	if ((v = conf_string(c, g, "quiet_hours")) != NULL) {
		if (quiet_hours_parse(v, NULL, NULL) != 0)
			conf_error(c, config_setting_get_member(g,
			    "quiet_hours"), "rule \"%s\": bad quiet_hours "
			    "\"%s\" (use \"21:00-08:00\")", r->name, v);
		else
			r->quiet_hours = xstrdup(v);
	}
	conf_window(c, r, config_setting_get_member(g, "window"));
	if ((s = config_setting_get_member(g, "delay")) != NULL &&
	    (v = conf_string(c, g, "delay")) != NULL &&
	    (duration_parse(v, &r->delay) != 0 || r->delay <= 0)) {
		conf_error(c, s, "rule \"%s\": bad delay \"%s\" (a duration "
		    "longer than 0s: 45s, 15m, 12h, 30d or 2w)", r->name, v);
		r->delay = 0;
	}
	if ((r->window != NULL || r->delay > 0) && r->instance == NULL &&
	    r->variants == NULL)
		conf_error(c, g, "rule \"%s\": 'window' and 'delay' apply "
		    "to an action: the rule has none", r->name);
}

/* Read one rule (expressions are compiled later, once all journeys are
 * known). */
static void
conf_rule(struct conf_ctx *c, struct journey *j, struct rule *r,
    config_setting_t *g)
{
	config_setting_t	*s;
	const char		*v;

	r->line = conf_line(g);
	r->go = -1;
	if (!config_setting_is_group(g)) {
		conf_error(c, g, "journey \"%s\": a rule must be a group "
		    "{ ... }", j->name);
		r->name = xstrdup("?");
		return;
	}
	conf_check_keys(c, g, conf_rule_keys, "a rule");
	v = conf_string(c, g, "name");
	if (v == NULL) {
		conf_error(c, g, "journey \"%s\": a rule needs a name",
		    j->name);
		v = "?";
	}
	r->name = xstrdup(v);
	for (int i = 0; i < j->nrules; i++)
		if (j->rules + i != r && strcmp(j->rules[i].name, r->name) == 0)
			conf_error(c, g, "journey \"%s\": duplicate rule "
			    "\"%s\"", j->name, r->name);
	conf_rule_stages(c, j, r, config_setting_get_member(g, "stage"));

	conf_rule_on(c, r, g);
	s = config_setting_get_member(g, "when");
	v = conf_string(c, g, "when");
	if (s == NULL && r->on_enter)
		r->when_src = xstrdup("true");
	else if (s == NULL)
		conf_error(c, g, "rule \"%s\": 'when' is missing", r->name);
	else if (v != NULL && v[strspn(v, " \t\r\n")] == '\0')
		conf_error(c, s, "rule \"%s\": 'when' is empty", r->name);
	else if (v != NULL)
		r->when_src = xstrdup(v);

	conf_rule_effect(c, j, r, g);
	/* On an on = "enter" rule repeat is ignored (conf_rule_on warns),
	 * whatever it says. */
	if (!r->on_enter && (v = conf_string(c, g, "repeat")) != NULL &&
	    strcmp(v, "once") != 0) {
		conf_duration(c, g, "repeat", &r->repeat, 0);
	}
	conf_int(c, g, "holdout", &r->holdout, 0, 100);
	conf_bool(c, g, "ignore_limits", &r->ignore_limits);
	conf_rule_timing(c, r, g);
}

/* Read one journey. */
static void
conf_journey(struct conf_ctx *c, struct config *cf, struct journey *j,
    config_setting_t *g)
{
	config_setting_t	*rules;
	const char		*v;
	int			 n;

	j->line = conf_line(g);
	j->file = xstrdup(conf_file(c, g));
	conf_check_keys(c, g, conf_journey_keys, "a journey");
	v = conf_string(c, g, "name");
	if (v == NULL) {
		conf_error(c, g, "a journey needs a name");
		v = "?";
	} else if (!conf_valid_name(v))
		conf_error(c, g, "bad journey name \"%s\" (letters, digits, "
		    "'_', '-' and '.')", v);
	j->name = xstrdup(v);
	for (int i = 0; i < cf->njourneys; i++)
		if (cf->journeys + i != j &&
		    strcmp(cf->journeys[i].name, j->name) == 0)
			conf_error(c, g, "duplicate journey \"%s\"", j->name);
	if ((v = conf_string(c, g, "subject")) != NULL) {
		if (strcmp(v, "user") == 0)
			j->subject = SUBJECT_USER;
		else if (strcmp(v, "account") == 0)
			j->subject = SUBJECT_ACCOUNT;
		else
			conf_error(c, config_setting_get_member(g, "subject"),
			    "journey \"%s\": subject is \"user\" or "
			    "\"account\"", j->name);
	}
	if ((v = conf_string(c, g, "entry")) != NULL)
		j->entry_src = xstrdup(v);
	if ((v = conf_string(c, g, "exit")) != NULL)
		j->exit_src = xstrdup(v);
	conf_bool(c, g, "reenter", &j->reenter);
	conf_stages(c, j, config_setting_get_member(g, "stages"));

	if ((rules = config_setting_get_member(g, "rules")) == NULL)
		return;
	if (config_setting_type(rules) != CONFIG_TYPE_LIST &&
	    !(config_setting_type(rules) == CONFIG_TYPE_ARRAY &&
	    config_setting_length(rules) == 0)) {
		conf_error(c, rules, "journey \"%s\": 'rules' must be a list "
		    "( { ... }, ... )", j->name);
		return;
	}
	n = config_setting_length(rules);
	j->rules = xcalloc(n, sizeof *j->rules);
	for (int i = 0; i < n; i++) {
		j->nrules++;
		conf_rule(c, j, &j->rules[i], config_setting_get_elem(rules,
		    i));
	}
}

/* Read plugin_path: a folder or a list of folders, searched in order
 * before plugin_dir (the installed plugins). */
static void
conf_plugin_path(struct conf_ctx *c, struct config *cf, config_setting_t *s)
{
	config_setting_t	*e;
	int			 n;

	if (s == NULL)
		return;
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		cf->plugin_path = xcalloc(1, sizeof *cf->plugin_path);
		cf->plugin_path[cf->nplugin_path++] =
		    xstrdup(config_setting_get_string(s));
		return;
	}
	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST) {
		conf_error(c, s, "'plugin_path' is a folder or a list of them "
		    "[ \"/opt/mine/plugins\", ... ]");
		return;
	}
	n = config_setting_length(s);
	cf->plugin_path = xcalloc(n + 1, sizeof *cf->plugin_path);
	for (int i = 0; i < n; i++) {
		e = config_setting_get_elem(s, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING ||
		    *config_setting_get_string(e) == '\0') {
			conf_error(c, e, "'plugin_path' lists folders, as "
			    "strings");
			continue;
		}
		cf->plugin_path[cf->nplugin_path++] =
		    xstrdup(config_setting_get_string(e));
	}
}

/* Compile one expression, reporting errors at the setting's line. */
static struct expr *
conf_expr(struct conf_ctx *c, const struct config *cf, struct journey *j,
    const char *what, const char *src, const config_setting_t *s)
{
	struct expr_scope	 scope = { j->subject, cf, j, NULL };
	struct expr		*e;
	char			 err[256];

	if (src == NULL)
		return NULL;
	if ((e = expr_compile(src, &scope, err, sizeof err)) == NULL)
		conf_error(c, s, "%s: %s", what, err);
	return e;
}

/* Read the named conditions: segments = { name = "expression"; ... }. */
static void
conf_segments(struct conf_ctx *c, struct config *cf, config_setting_t *g)
{
	config_setting_t	*s;
	struct segment		*seg;
	int			 n;

	if (g == NULL)
		return;
	if (!config_setting_is_group(g)) {
		conf_error(c, g, "'segments' must be a group { name = "
		    "\"expression\"; ... }");
		return;
	}
	n = config_setting_length(g);
	cf->segments = xcalloc(n, sizeof *cf->segments);
	for (int i = 0; i < n; i++) {
		s = config_setting_get_elem(g, i);
		if (config_setting_type(s) != CONFIG_TYPE_STRING) {
			conf_error(c, s, "segment '%s' must be a string (an "
			    "expression)", config_setting_name(s));
			continue;
		}
		if (!conf_valid_name(config_setting_name(s)))
			conf_error(c, s, "bad segment name \"%s\" (letters, "
			    "digits, '_', '-' and '.')",
			    config_setting_name(s));
		seg = &cf->segments[cf->nsegments++];
		seg->name = xstrdup(config_setting_name(s));
		seg->src = xstrdup(config_setting_get_string(s));
		seg->file = xstrdup(conf_file(c, s));
		seg->line = conf_line(s);
	}
}

/* Check every segment on its own: it must compile for users or for
 * accounts (it means what it would written out where it is used). */
static void
conf_check_segments(struct conf_ctx *c, struct config *cf,
    config_setting_t *g)
{
	struct expr_scope	 user = { SUBJECT_USER, cf, NULL, NULL };
	struct expr_scope	 account = { SUBJECT_ACCOUNT, cf, NULL, NULL };
	struct expr		*e;
	char			 uerr[256], aerr[256];

	for (int i = 0; i < cf->nsegments; i++) {
		const struct segment *seg = &cf->segments[i];
		config_setting_t *s = config_setting_get_member(g, seg->name);

		user.segment = account.segment = seg->name;
		if ((e = expr_compile(seg->src, &user, uerr,
		    sizeof uerr)) != NULL) {
			expr_free(e);
			continue;
		}
		if ((e = expr_compile(seg->src, &account, aerr,
		    sizeof aerr)) != NULL) {
			expr_free(e);
			continue;
		}
		if (strcmp(uerr, aerr) == 0)
			conf_error(c, s, "segment '%s': %s", seg->name, uerr);
		else
			conf_error(c, s, "segment '%s': for users: %s; for "
			    "accounts: %s", seg->name, uerr, aerr);
	}
}

/* Compile every expression of every journey. */
static void
conf_compile(struct conf_ctx *c, struct config *cf, config_setting_t *list)
{
	for (int i = 0; i < cf->njourneys; i++) {
		struct journey		*j = &cf->journeys[i];
		config_setting_t	*g = config_setting_get_elem(list, i);
		config_setting_t	*rules;
		char			*what;

		what = xprintf("journey \"%s\": entry", j->name);
		j->entry = conf_expr(c, cf, j, what, j->entry_src,
		    config_setting_get_member(g, "entry"));
		free(what);
		what = xprintf("journey \"%s\": exit", j->name);
		j->exit = conf_expr(c, cf, j, what, j->exit_src,
		    config_setting_get_member(g, "exit"));
		free(what);
		rules = config_setting_get_member(g, "rules");
		for (int k = 0; k < j->nrules; k++) {
			struct rule *r = &j->rules[k];
			config_setting_t *rg = config_setting_get_elem(rules, k);

			what = xprintf("rule \"%s\"", r->name);
			r->when = conf_expr(c, cf, j, what, r->when_src,
			    config_setting_get_member(rg, "when"));
			free(what);
		}
	}
}

/* Read action group a (of rule r) into v: its instance, which must exist,
 * and its parameters, as a JSON object and as written. -1 when it has no
 * usable plugin. */
int
conf_action(struct conf_ctx *c, struct config *cf, const struct rule *r,
    config_setting_t *a, struct variant *v)
{
	config_setting_t	*p;
	const char		*inst = conf_string(c, a, "plugin");

	if (inst == NULL)
		return -1;
	if (config_instance(cf, inst) == NULL) {
		conf_error(c, config_setting_get_member(a, "plugin"), "rule "
		    "\"%s\": no plugin instance \"%s\" in 'plugins'", r->name,
		    inst);
		return -1;
	}
	v->instance = xstrdup(inst);
	v->params = xstrdup("{}");
	v->action_file = xstrdup(conf_file(c, a));
	v->action_line = conf_line(a);
	for (int e = 0; (p = config_setting_get_elem(a, e)) != NULL; e++) {
		if (strcmp(config_setting_name(p), "plugin") == 0)
			continue;
		conf_value_add(c, &v->action_in, p);
		if (conf_json_set(c, &v->params, p) != 0)
			conf_error(c, p, "rule \"%s\": action setting '%s' "
			    "must be a string, number or boolean", r->name,
			    config_setting_name(p));
	}
	return 0;
}

/* Give every rule's action (or each of its variants' actions) its
 * parameters, as a JSON object and as written, and check that its plugin
 * instance exists. */
static void
conf_actions(struct conf_ctx *c, struct config *cf, config_setting_t *list)
{
	for (int i = 0; i < cf->njourneys; i++) {
		struct journey		*j = &cf->journeys[i];
		config_setting_t	*rules, *g = config_setting_get_elem(list, i);

		rules = config_setting_get_member(g, "rules");
		for (int k = 0; k < j->nrules; k++) {
			struct rule		*r = &j->rules[k];
			config_setting_t	*rg, *a;
			struct variant		 v;

			rg = config_setting_get_elem(rules, k);
			if (r->nvariants > 0) {
				conf_variant_actions(c, cf, r, rg);
				continue;
			}
			a = config_setting_get_member(rg, "action");
			if (r->instance == NULL || a == NULL)
				continue;
			memset(&v, 0, sizeof v);
			if (conf_action(c, cf, r, a, &v) != 0)
				continue;
			free(v.instance);
			r->params = v.params;
			r->action_in = v.action_in;
			r->action_file = v.action_file;
			r->action_line = v.action_line;
		}
	}
}

#define CONF_MAX_SIZE	(16 * 1024 * 1024)

/*
 * Read a config file whole into *text (caller frees): libconfig would
 * take a NUL byte for the end of a string, or of the file, and a UTF-8 byte
 * order mark for a syntax error. A NUL is refused with its line; a byte
 * order mark is skipped. Returns 0, or -1 with the problem added.
 */
static int
conf_read(const char *path, char **text, struct problems *probs)
{
	FILE	*f;
	char	*s, *nul;
	size_t	 len = 0, cap = 65536, n;
	int	 line = 1;

	if ((f = fopen(path, "rb")) == NULL) {
		problems_add(probs, path, 0, "cannot read the config file: %s%s",
		    strerror(errno), errno == ENOENT ? " (give another with "
		    "-c FILE)" : "");
		return -1;
	}
	s = xmalloc(cap + 1);
	while ((n = fread(s + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			if (cap >= CONF_MAX_SIZE)
				break;
			cap *= 2;
			s = xrealloc(s, cap + 1);
		}
	}
	if (ferror(f) || len >= CONF_MAX_SIZE) {
		if (ferror(f))
			problems_add(probs, path, 0, "cannot read the config "
			    "file: %s", strerror(errno));
		else
			problems_add(probs, path, 0, "the config file is "
			    "larger than %d bytes", CONF_MAX_SIZE);
		fclose(f);
		free(s);
		return -1;
	}
	fclose(f);
	s[len] = '\0';
	if ((nul = memchr(s, '\0', len)) != NULL) {
		for (char *p = s; p < nul; p++)
			line += *p == '\n';
		problems_add(probs, path, line, "NUL byte in the config file");
		free(s);
		return -1;
	}
	if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		memmove(s, s + 3, len - 2);
	*text = s;
	return 0;
}

/* Is s a libpq key=value connection string ("host=db dbname=jd"): a
 * keyword, then '=', at its start? A file's path is not one. */
static int
conf_conninfo(const char *s)
{
	size_t	 n = strspn(s, "abcdefghijklmnopqrstuvwxyz_");

	n += strspn(s + n, " ");
	return n > 0 && s[n] == '=';
}

/* The top-level settings of root, apart from the plugins, the journeys
 * and the segments, into cf. */
static void
conf_globals(struct conf_ctx *c, struct config *cf, config_setting_t *root)
{
	config_setting_t	*s;
	const char		*v;

	v = conf_string(c, root, "database");
	/* A PostgreSQL connection string (SPEC §16) is not taken for a
	 * file's path, which would say that a folder "postgresql:" is
	 * missing; it is not printed either: it may hold a password. */
	if (v != NULL && (strncmp(v, "postgresql://", 13) == 0 ||
	    strncmp(v, "postgres://", 11) == 0 || conf_conninfo(v)))
		conf_error(c, config_setting_get_member(root, "database"),
		    "'database': a PostgreSQL connection string; this build "
		    "of journeyd keeps its data in SQLite only: give the path "
		    "of a database file");
	cf->database = xstrdup(v != NULL ? v :
	    LOCALSTATEDIR "/lib/journeyd/journeyd.db");
	v = conf_string(c, root, "plugin_dir");
	cf->plugin_dir = xstrdup(v != NULL ? v : PLUGINDIR);
	conf_plugin_path(c, cf, config_setting_get_member(root,
	    "plugin_path"));
	if ((v = conf_string(c, root, "spool_dir")) != NULL)
		cf->spool_dir = xstrdup(v);
	if ((v = conf_string(c, root, "default_timezone")) != NULL) {
		if (!tz_valid(v))
			conf_error(c, config_setting_get_member(root,
			    "default_timezone"), "unknown time zone \"%s\" "
			    "(an IANA name like \"Europe/Berlin\"; is tzdata "
			    "installed?)", v);
		cf->default_timezone = xstrdup(v);
	}
	if ((v = conf_string(c, root, "metrics_file")) != NULL)
		cf->metrics_file = xstrdup(v);
	conf_duration(c, root, "interval", &cf->interval, 0);
	conf_duration(c, root, "retry_min", &cf->retry_min, 0);
	conf_duration(c, root, "retry_max", &cf->retry_max, 0);
	conf_duration(c, root, "retry_for", &cf->retry_for, 1);
	conf_int(c, root, "workers", &cf->workers, 1, 256);
	if ((v = conf_string(c, root, "react")) != NULL &&
	    strcmp(v, "off") == 0)
		cf->react = REACT_OFF;
	else if (v != NULL && duration_parse(v, &cf->react) != 0)
		conf_error(c, config_setting_get_member(root, "react"),
		    "'react': bad duration \"%s\" (use \"1s\", \"10s\" or "
		    "\"off\")", v);
	if ((s = config_setting_get_member(root, "http")) != NULL)
		cf->http = conf_http(c, s);
	if ((s = config_setting_get_member(root, "retention")) != NULL)
		conf_retention(c, cf, s);
	if (cf->retry_max < cf->retry_min)
		problems_add(c->probs, c->path, conf_line(
		    config_setting_get_member(root, "retry_max")),
		    "retry_max is shorter than retry_min");
}

/* The plugin instances of the group plugins (NULL for none) into cf. */
static void
conf_plugins(struct conf_ctx *c, struct config *cf, config_setting_t *plugins)
{
	int	 n;

	if (plugins == NULL)
		return;
	if (!config_setting_is_group(plugins)) {
		conf_error(c, plugins, "'plugins' must be a group "
		    "{ name = { ... }; ... }");
		return;
	}
	n = config_setting_length(plugins);
	cf->instances = xcalloc(n, sizeof *cf->instances);
	for (int i = 0; i < n; i++)
		cf->instances[cf->ninstances++] = conf_instance(c,
		    config_setting_get_elem(plugins, i));
}

/* The journeys of the list journeys (NULL for none) into cf. Returns the
 * list, or NULL when there is none or it is not a list. */
static config_setting_t *
conf_journeys(struct conf_ctx *c, struct config *cf, config_setting_t *journeys)
{
	config_setting_t	*s;
	int			 n;

	if (journeys == NULL)
		return NULL;
	if (config_setting_type(journeys) != CONFIG_TYPE_LIST &&
	    !(config_setting_type(journeys) == CONFIG_TYPE_ARRAY &&
	    config_setting_length(journeys) == 0)) {
		conf_error(c, journeys, "'journeys' must be a list "
		    "( { ... }, ... )");
		return NULL;
	}
	n = config_setting_length(journeys);
	cf->journeys = xcalloc(n, sizeof *cf->journeys);
	for (int i = 0; i < n; i++) {
		s = config_setting_get_elem(journeys, i);
		cf->njourneys++;
		if (!config_setting_is_group(s)) {
			conf_error(c, s, "a journey must be a group { ... }");
			cf->journeys[i].name = xstrdup("?");
			continue;
		}
		conf_journey(c, cf, &cf->journeys[i], s);
	}
	return journeys;
}

/* The files an include check has walked, each once: a file included from
 * several places, or from itself, is read a single time. */
#define CONF_MAX_WALKED	256
struct conf_walk {
	dev_t	 dev[CONF_MAX_WALKED];
	ino_t	 ino[CONF_MAX_WALKED];
	int	 n;
};

/* The name after an @include at p (at a line's start, blanks skipped), as
 * libconfig reads it, in name; the end of the line's include, or NULL when
 * the line is none. */
static const char *
conf_include_name(const char *p, struct buf *name)
{
	if (strncmp(p, "@include", 8) != 0 || (p[8] != ' ' && p[8] != '\t'))
		return NULL;
	p += 8 + strspn(p + 8, " \t");
	if (*p++ != '"')
		return NULL;
	for (; *p != '"' && *p != '\n' && *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\n' && p[1] != '\0')
			p++;
		buf_printf(name, "%c", *p);
	}
	return *p == '"' ? p + 1 : p;
}

/* Skip p past a block comment's end, or to the end of the line (*in then
 * stays set). */
static const char *
conf_comment_end(const char *p, int *in)
{
	const char	*end = strstr(p, "*/"), *nl = strchr(p, '\n');

	if (end != NULL && (nl == NULL || end < nl)) {
		*in = 0;
		return end + 2;
	}
	return nl != NULL ? nl : p + strlen(p);
}

/*
 * Check that every file text (read from file) includes, and they in turn,
 * is a regular file: libconfig opens whatever is named, and reading a
 * folder (@include "" names the include folder itself) makes its scanner
 * exit the process; a device may never end. libconfig reads the name
 * after @include at the start of a line (outside a block comment),
 * relative to the include folder dir, whatever its first character. Each
 * file is walked once (w). 0, or -1 with problems in probs.
 */
static int
conf_includes_ok(const char *text, const char *file, const char *dir,
    struct conf_walk *w, struct problems *probs)
{
	const char	*p = text, *q;
	struct stat	 sb;
	struct buf	 name;
	struct problems	 ignored = { 0 };
	char		*full, *inner;
	int		 line = 1, rc = 0, comment = 0, seen;

	for (; *p != '\0'; line++) {
		p += strspn(p, " \t");
		buf_init(&name);
		if (!comment && (q = conf_include_name(p, &name)) != NULL) {
			p = q;
			full = xprintf("%s/%s", dir, name.s != NULL ? name.s :
			    "");
			if (stat(full, &sb) != 0)
				;	/* libconfig: "cannot open include file" */
			else if (!S_ISREG(sb.st_mode)) {
				problems_add(probs, file, line, "@include "
				    "\"%s\": %s is not a file (a folder?)",
				    name.s != NULL ? name.s : "", full);
				rc = -1;
			} else {
				seen = 0;
				for (int k = 0; k < w->n; k++)
					seen |= w->dev[k] == sb.st_dev &&
					    w->ino[k] == sb.st_ino;
				/* A file conf_read() refuses is libconfig's
				 * to report, in its own words. */
				if (!seen && w->n < CONF_MAX_WALKED &&
				    conf_read(full, &inner, &ignored) == 0) {
					w->dev[w->n] = sb.st_dev;
					w->ino[w->n++] = sb.st_ino;
					if (conf_includes_ok(inner, full, dir, w,
					    probs) != 0)
						rc = -1;
					free(inner);
				}
			}
			free(full);
		}
		buf_free(&name);
		/* The rest of the line: a block comment may open (outside a
		 * string) and run on. */
		for (int quoted = 0; *p != '\n' && *p != '\0'; ) {
			if (comment)
				p = conf_comment_end(p, &comment);
			else if (*p == '"')
				quoted = !quoted, p++;
			else if (quoted && *p == '\\' && p[1] != '\0' &&
			    p[1] != '\n')
				p += 2;
			else if (!quoted && p[0] == '/' && p[1] == '*')
				comment = 1, p += 2;
			else if (!quoted && (*p == '#' || (p[0] == '/' &&
			    p[1] == '/')))
				p += strcspn(p, "\n");
			else
				p++;
		}
		if (*p == '\0')
			break;
		p++;
	}
	problems_free(&ignored);
	return rc;
}

/* Read path's text into lc (its includes relative to its folder). 0, or
 * -1 with the problem added to probs. */
static int
conf_parse(config_t *lc, const char *path, struct problems *probs)
{
	struct conf_walk	 walk = { .n = 0 };
	char			*text = NULL;
	int			 rc = -1;

	if (conf_read(path, &text, probs) != 0)
		return -1;
	if (conf_includes_ok(text, path, config_get_include_dir(lc), &walk,
	    probs) != 0)
		rc = -1;
	else if (config_read_string(lc, text) == CONFIG_TRUE)
		rc = 0;
	else if (config_error_type(lc) == CONFIG_ERR_FILE_IO)
		problems_add(probs, config_error_file(lc) ?
		    config_error_file(lc) : path, 0, "cannot read the config "
		    "file");
	else
		problems_add(probs, config_error_file(lc) ?
		    config_error_file(lc) : path, config_error_line(lc), "%s",
		    config_error_text(lc));
	free(text);
	return rc;
}

/* Load and validate a config file. */
struct config *
config_load(const char *path, struct problems *probs)
{
	struct conf_ctx		 c = { path, probs, NULL, NULL, 0 };
	struct config		*cf;
	config_t		 lc;
	config_setting_t	*root, *journeys;
	char			*dir;
	int			 before = probs->n;

	cf = xcalloc(1, sizeof *cf);
	cf->path = xstrdup(path);
	cf->interval = 60;
	cf->workers = 4;
	cf->retry_min = 60;
	cf->retry_max = 3600;
	cf->retry_for = 86400;
	cf->react = REACT_DEFAULT;

	config_init(&lc);
	dir = xstrdup(path);
	config_set_include_dir(&lc, dirname(dir));
	if (conf_parse(&lc, path, probs) != 0)
		goto out;
	if (sqlite3_open(":memory:", &c.json) != SQLITE_OK)
		fatalx("sqlite: cannot open an in-memory database");
	root = config_root_setting(&lc);
	conf_check_keys(&c, root, conf_top_keys, "the config");
	conf_globals(&c, cf, root);
	conf_plugins(&c, cf, config_setting_get_member(root, "plugins"));
	journeys = conf_journeys(&c, cf, config_setting_get_member(root,
	    "journeys"));
	conf_segments(&c, cf, config_setting_get_member(root, "segments"));
	if (probs->n == before)
		conf_check_segments(&c, cf, config_setting_get_member(root,
		    "segments"));
	if (probs->n == before && journeys != NULL)
		conf_compile(&c, cf, journeys);
	if (probs->n == before && journeys != NULL)
		conf_actions(&c, cf, journeys);
	if (probs->n == before)
		retention_check(cf, probs);
out:
	for (int i = 0; i < c.nfiles; i++)
		free(c.files[i]);
	free(c.files);
	sqlite3_close(c.json);
	config_destroy(&lc);
	free(dir);
	if (probs->n != before) {
		config_free(cf);
		return NULL;
	}
	return cf;
}

/* Free a config, stopping its plugin instances. */
void
config_free(struct config *cf)
{
	if (cf == NULL)
		return;
	for (int i = 0; i < cf->ninstances; i++) {
		struct instance *inst = cf->instances[i];

		if (inst->rt_free != NULL)
			inst->rt_free(inst);
		free(inst->name);
		free(inst->module);
		free(inst->file);
		free(inst->quiet_hours);
		conf_values_free(&inst->settings_in);
		free(inst);
	}
	free(cf->instances);
	for (int i = 0; i < cf->njourneys; i++) {
		struct journey *j = &cf->journeys[i];
		for (int k = 0; k < j->nstages; k++)
			free(j->stages[k].name);
		free(j->stages);
		for (int k = 0; k < j->nrules; k++) {
			struct rule *r = &j->rules[k];
			for (int s = 0; s < r->nstages; s++)
				free(r->stages[s]);
			free(r->stages);
			free(r->name);
			free(r->when_src);
			expr_free(r->when);
			free(r->instance);
			free(r->params);
			conf_values_free(&r->action_in);
			free(r->action_file);
			free(r->quiet_hours);
			conf_experiment_free(r);
		}
		free(j->rules);
		free(j->name);
		free(j->file);
		free(j->entry_src);
		free(j->exit_src);
		expr_free(j->entry);
		expr_free(j->exit);
	}
	free(cf->journeys);
	for (int i = 0; i < cf->nsegments; i++) {
		free(cf->segments[i].name);
		free(cf->segments[i].src);
		free(cf->segments[i].file);
	}
	free(cf->segments);
	free(cf->path);
	free(cf->database);
	free(cf->plugin_dir);
	for (int i = 0; i < cf->nplugin_path; i++)
		free(cf->plugin_path[i]);
	free(cf->plugin_path);
	free(cf->spool_dir);
	free(cf->default_timezone);
	free(cf->metrics_file);
	free(cf->retention.file);
	conf_http_free(cf->http);
	free(cf);
}

/* Find a journey by name. */
struct journey *
config_journey(const struct config *cf, const char *name)
{
	for (int i = 0; i < cf->njourneys; i++)
		if (strcmp(cf->journeys[i].name, name) == 0)
			return &cf->journeys[i];
	return NULL;
}

/* The index of a stage in a journey, or -1. */
int
journey_stage(const struct journey *j, const char *name)
{
	for (int i = 0; i < j->nstages; i++)
		if (j->stages[i].name != NULL &&
		    strcmp(j->stages[i].name, name) == 0)
			return i;
	return -1;
}

/* Does rule r apply at the stage named stage: one of its stages, or any
 * when it names none? */
int
rule_at_stage(const struct rule *r, const char *stage)
{
	if (r->nstages == 0)
		return 1;
	for (int i = 0; i < r->nstages; i++)
		if (strcmp(r->stages[i], stage) == 0)
			return 1;
	return 0;
}

/* Find a segment by name. */
struct segment *
config_segment(const struct config *cf, const char *name)
{
	for (int i = 0; i < cf->nsegments; i++)
		if (strcmp(cf->segments[i].name, name) == 0)
			return &cf->segments[i];
	return NULL;
}

/* Find a plugin instance by name. */
struct instance *
config_instance(const struct config *cf, const char *name)
{
	for (int i = 0; i < cf->ninstances; i++)
		if (strcmp(cf->instances[i]->name, name) == 0)
			return cf->instances[i];
	return NULL;
}

/* Read a key file of the http block into kr, a problem at its line when
 * it cannot be. */
static void
conf_secret_keys(const struct http_file *hf, struct keyring *kr,
    struct problems *probs)
{
	char	 err[512], *path;

	keyring_free(kr);
	if (hf->path == NULL)
		return;
	if ((path = conf_path(hf->path, err, sizeof err)) == NULL ||
	    keyring_load(kr, path, err, sizeof err) != 0)
		problems_add(probs, hf->file, hf->line, "http: %s", err);
	free(path);
}

/* Read a TLS file of the http block into *out (PEM text). */
static void
conf_secret_pem(const struct http_file *hf, char **out,
    struct problems *probs)
{
	char	 err[512], *path;

	if (hf->path == NULL)
		return;
	if ((path = conf_path(hf->path, err, sizeof err)) == NULL ||
	    (*out = file_load(path, 1024 * 1024, NULL, err, sizeof err)) ==
	    NULL)
		problems_add(probs, hf->file, hf->line, "http: %s", err);
	free(path);
}

/* Read the http block's key and TLS files. */
int
config_load_secrets(struct config *cf, struct problems *probs)
{
	struct http_conf	*h = cf->http;
	int			 before = probs->n;

	if (h == NULL)
		return 0;
	conf_secret_keys(&h->write_key_file, &h->write_keys, probs);
	conf_secret_keys(&h->admin_key_file, &h->admin_keys, probs);
	conf_secret_pem(&h->tls_cert_file, &h->tls_cert, probs);
	conf_secret_pem(&h->tls_key_file, &h->tls_key, probs);
	return probs->n == before ? 0 : -1;
}
