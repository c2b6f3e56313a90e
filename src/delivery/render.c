/*
 * Templates (README, "Plugins"): the built-in placeholders {{journey}},
 * {{stage}}, {{rule}}, {{subject_id}}, {{action_id}}, {{id}} (the
 * action's id) and {{variant}} (its variant, empty for none), and any other placeholder a trait path: {{address.city}},
 * {{items[0].sku}}, {{account.name}} for the account's; empty when absent.
 * Optional whitespace inside the braces. In HTML mode every substituted
 * value is HTML-escaped; the template's own text is left as it is. Traits
 * are read from their JSON text with jansson: nothing is shared between the
 * worker threads that render at the same time, and nothing can fail but
 * memory (a value that cannot be read is absent).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "delivery/delivery.h"

/*
 * Walk a trait path through the JSON value v: "address.city" into objects,
 * "items[0].sku" into arrays. NULL when the path is malformed (empty names,
 * a bad index) or leads nowhere.
 */
static json_t *
render_path(json_t *v, const char *key)
{
	const char	*s = key;
	char		 name[256];
	size_t		 n, d;

	for (;;) {
		if ((n = strcspn(s, ".[]")) == 0 || n >= sizeof name)
			return NULL;
		memcpy(name, s, n);
		name[n] = '\0';
		v = json_is_object(v) ? json_object_get(v, name) : NULL;
		for (s += n; *s == '['; s += d + 2) {
			d = strspn(s + 1, "0123456789");
			if (d == 0 || d > 9 || s[1 + d] != ']')
				return NULL;
			v = json_is_array(v) ? json_array_get(v,
			    (size_t)strtoul(s + 1, NULL, 10)) : NULL;
		}
		if (v == NULL || *s == '\0')
			return v;
		if (*s++ != '.')
			return NULL;
	}
}

/* A real number as SQLite writes one ("%!.15g"): 12.5, 3.0, 1.0e+300. */
static char *
render_real(double d)
{
	char	 text[64], *e;

	snprintf(text, sizeof text, "%.15g", d);
	if (strpbrk(text, ".ni") != NULL)	/* a point, nan, inf */
		return xstrdup(text);
	if ((e = strchr(text, 'e')) != NULL)
		return xprintf("%.*s.0%s", (int)(e - text), text, e);
	return xprintf("%s.0", text);
}

/* A JSON value as a placeholder shows it: a string's text, true, false, a
 * number, an object or array as compact JSON; NULL for null. */
static char *
render_text(json_t *v)
{
	char	*d, *text;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return xstrdup(json_string_value(v));
	case JSON_TRUE:
		return xstrdup("true");
	case JSON_FALSE:
		return xstrdup("false");
	case JSON_INTEGER:
		return xprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
	case JSON_REAL:
		return render_real(json_real_value(v));
	case JSON_OBJECT:
	case JSON_ARRAY:
		if ((d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
			return NULL;
		text = xstrdup(d);
		free(d);
		return text;
	default:
		return NULL;
	}
}

/* Look a trait path up in the JSON object json: its text, or NULL. */
static char *
render_lookup(const char *json, const char *key)
{
	json_t	*root, *v;
	char	*value = NULL;

	if (json == NULL || strpbrk(key, "\"\\") != NULL ||
	    (root = json_loads(json, JSON_DECODE_ANY, NULL)) == NULL)
		return NULL;
	if ((v = render_path(root, key)) != NULL)
		value = render_text(v);
	json_decref(root);
	return value;
}

/* Is json a JSON object? */
int
render_is_object(const char *json)
{
	json_t	*root;
	int	 object;

	if (json == NULL || (root = json_loads(json, JSON_DECODE_ANY,
	    NULL)) == NULL)
		return 0;
	object = json_is_object(root);
	json_decref(root);
	return object;
}

/* A trait by path ("x", "x.y[0]", or "account.x" for the account's) as
 * text, or NULL; caller frees. */
char *
render_trait(const struct render_vars *vars, const char *key)
{
	if (strncmp(key, "account.", 8) == 0)
		return render_lookup(vars->account_traits, key + 8);
	return render_lookup(vars->traits, key);
}

/* Which built-in placeholder name is, or RENDER_TRAIT. */
int
render_builtin(const char *name)
{
	static const struct {
		const char	*name;
		int		 kind;
	} builtins[] = {
		{ "journey", RENDER_JOURNEY },
		{ "stage", RENDER_STAGE },
		{ "rule", RENDER_RULE },
		{ "subject_id", RENDER_SUBJECT_ID },
		{ "action_id", RENDER_ACTION_ID },
		{ "id", RENDER_ID },
		{ "variant", RENDER_VARIANT },
	};

	for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
		if (strcmp(name, builtins[i].name) == 0)
			return builtins[i].kind;
	return RENDER_TRAIT;
}

/* The value of one placeholder name, or NULL for none; caller frees. */
static char *
render_value(const struct render_vars *vars, const char *name)
{
	const char	*v = NULL;

	switch (render_builtin(name)) {
	case RENDER_JOURNEY:	v = vars->journey; break;
	case RENDER_STAGE:	v = vars->stage; break;
	case RENDER_RULE:	v = vars->rule; break;
	case RENDER_SUBJECT_ID:	v = vars->subject_id; break;
	case RENDER_ACTION_ID:
	case RENDER_ID:		v = vars->id; break;
	case RENDER_VARIANT:	v = vars->variant; break;
	default:		return render_trait(vars, name);
	}
	return v != NULL ? xstrdup(v) : NULL;
}

/*
 * Match a placeholder at p, which starts with "{{". Returns its length and
 * puts its trimmed name in *name, or returns 0 when p is literal text: no
 * closing "}}", or a brace inside.
 */
static size_t
render_match(const char *p, char **name)
{
	const char	*start = p + 2, *end, *close;

	if ((close = strstr(start, "}}")) == NULL)
		return 0;
	if (memchr(start, '{', close - start) != NULL ||
	    memchr(start, '}', close - start) != NULL)
		return 0;
	while (start < close && (*start == ' ' || *start == '\t'))
		start++;
	end = close;
	while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*name = xstrndup(start, end - start);
	return close + 2 - p;
}

/* Append value to b, HTML-escaped in RENDER_HTML mode. */
static void
render_put(struct buf *b, const char *value, int mode)
{
	const char	*p, *esc;

	if (mode != RENDER_HTML) {
		buf_puts(b, value);
		return;
	}
	for (p = value; *p != '\0'; p++) {
		switch (*p) {
		case '&':	esc = "&amp;"; break;
		case '<':	esc = "&lt;"; break;
		case '>':	esc = "&gt;"; break;
		case '"':	esc = "&quot;"; break;
		case '\'':	esc = "&#39;"; break;
		default:	buf_add(b, p, 1); continue;
		}
		buf_puts(b, esc);
	}
}

/*
 * Call fn for each placeholder of tmpl with its trimmed name and the line it
 * is on (from 1), and append the text around them to out when out is not
 * NULL: the walk that render_template() and the checks of templates share.
 */
void
render_walk(const char *tmpl, struct buf *out,
    void (*fn)(void *, const char *name, int line), void *arg)
{
	const char	*p = tmpl, *open;
	char		*name;
	size_t		 n;
	int		 line = 1;

	while ((open = strstr(p, "{{")) != NULL) {
		if (out != NULL)
			buf_add(out, p, open - p);
		for (; p < open; p++)
			line += *p == '\n';
		if ((n = render_match(open, &name)) == 0) {
			/* Literal: move on by one brace, the next may open. */
			if (out != NULL)
				buf_add(out, open, 1);
			p = open + 1;
			continue;
		}
		fn(arg, name, line);
		free(name);
		for (; p < open + n; p++)
			line += *p == '\n';
	}
	if (out != NULL)
		buf_puts(out, p);
}

/* What render_template() hands render_walk(). */
struct render_out {
	const struct render_vars	*vars;
	struct buf			*b;
	int				 mode;
};

/* Append one placeholder's value. */
static void
render_one(void *arg, const char *name, int line)
{
	struct render_out	*ro = arg;
	char			*value;

	if ((value = render_value(ro->vars, name)) != NULL) {
		render_put(ro->b, value, ro->mode);
		free(value);
	}
}

/* Expand the placeholders of tmpl, in RENDER_TEXT or RENDER_HTML mode.
 * Returns a new string (caller frees). */
char *
render_template(const char *tmpl, const struct render_vars *vars, int mode)
{
	struct buf		 b;
	struct render_out	 ro = { vars, &b, mode };

	buf_init(&b);
	buf_add(&b, "", 0);
	render_walk(tmpl, &b, render_one, &ro);
	return buf_steal(&b);
}
