/*
 * Templates (README, "Plugins"): the built-in placeholders {{journey}},
 * {{stage}}, {{rule}}, {{subject_id}}, {{action_id}} and {{id}} (the
 * action's id), and any other placeholder a trait path: {{address.city}},
 * {{items[0].sku}}, {{account.name}} for the account's; empty when absent.
 * Optional whitespace inside the braces. In HTML mode every substituted
 * value is HTML-escaped; the template's own text is left as it is. Traits
 * are looked up in their JSON text by SQLite's json_extract, on private
 * in-memory connections kept in a small pool, so that worker threads can
 * render at the same time.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/delivery.h"

/* One private connection and its prepared lookup. */
struct render_db {
	sqlite3			*db;
	sqlite3_stmt		*lookup;
	struct render_db	*next;
};

static pthread_mutex_t	 render_lock = PTHREAD_MUTEX_INITIALIZER;
static struct render_db	*render_free;

/* Take an idle connection from the pool, or open a new one. */
static struct render_db *
render_db_get(void)
{
	struct render_db	*rdb;

	pthread_mutex_lock(&render_lock);
	if ((rdb = render_free) != NULL)
		render_free = rdb->next;
	pthread_mutex_unlock(&render_lock);
	if (rdb != NULL)
		return rdb;

	rdb = xcalloc(1, sizeof *rdb);
	if (sqlite3_open_v2(":memory:", &rdb->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_MEMORY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		fatalx("sqlite: cannot open an in-memory database");
	if (sqlite3_prepare_v3(rdb->db, "SELECT json_type(?1, ?2), "
	    "json_extract(?1, ?2)", -1, SQLITE_PREPARE_PERSISTENT,
	    &rdb->lookup, NULL) != SQLITE_OK)
		fatalx("sqlite: %s", sqlite3_errmsg(rdb->db));
	return rdb;
}

/* Give a connection back to the pool. */
static void
render_db_put(struct render_db *rdb)
{
	pthread_mutex_lock(&render_lock);
	rdb->next = render_free;
	render_free = rdb;
	pthread_mutex_unlock(&render_lock);
}

/*
 * The JSON path of a trait path: "address.city" is '$."address"."city"',
 * "items[0].sku" is '$."items"[0]."sku"'. NULL for a path that cannot be
 * one (empty names, a bad index, a '"' or '\\' in a name).
 */
static char *
render_json_path(const char *key)
{
	const char	*s = key;
	struct buf	 b;
	size_t		 n, d;

	if (strpbrk(key, "\"\\") != NULL)
		return NULL;
	buf_init(&b);
	buf_puts(&b, "$");
	for (;;) {
		if ((n = strcspn(s, ".[]")) == 0)
			goto bad;
		buf_printf(&b, ".\"%.*s\"", (int)n, s);
		for (s += n; *s == '['; s += d + 2) {
			d = strspn(s + 1, "0123456789");
			if (d == 0 || d > 9 || s[1 + d] != ']')
				goto bad;
			buf_printf(&b, "[%.*s]", (int)d, s + 1);
		}
		if (*s == '\0')
			return buf_steal(&b);
		if (*s++ != '.')
			goto bad;
	}
bad:
	buf_free(&b);
	return NULL;
}

/* Look a trait path up in the JSON object json: its text, or NULL. */
static char *
render_lookup(const char *json, const char *key)
{
	struct render_db	*rdb;
	sqlite3_stmt		*st;
	const char		*type, *text;
	char			*path, *value = NULL;

	if (json == NULL || (path = render_json_path(key)) == NULL)
		return NULL;
	rdb = render_db_get();
	st = rdb->lookup;
	sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    (type = (const char *)sqlite3_column_text(st, 0)) != NULL) {
		if (strcmp(type, "true") == 0)
			value = xstrdup("true");
		else if (strcmp(type, "false") == 0)
			value = xstrdup("false");
		else if (strcmp(type, "null") != 0 &&
		    (text = (const char *)sqlite3_column_text(st, 1)) != NULL)
			value = xstrdup(text);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	render_db_put(rdb);

	free(path);
	return value;
}

/* Is json a JSON object? */
int
render_is_object(const char *json)
{
	struct render_db	*rdb = render_db_get();
	sqlite3_stmt		*st = rdb->lookup;
	const char		*type;
	int			 object = 0;

	sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, "$", -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    (type = (const char *)sqlite3_column_text(st, 0)) != NULL)
		object = strcmp(type, "object") == 0;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	render_db_put(rdb);
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
