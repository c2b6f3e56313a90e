/*
 * Templates: {{trait}}, {{account.trait}}, {{journey}}, {{stage}}, {{rule}}
 * and {{id}}, with optional whitespace inside the braces. Traits are looked
 * up in their JSON text by SQLite's json_extract, on private in-memory
 * connections kept in a small pool, so that worker threads can render at
 * the same time. Workers render, so a failure is returned (a template that
 * cannot be rendered is NULL, logged), never fatal.
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

/* Take an idle connection from the pool, or open a new one; NULL when
 * none can be opened (logged). */
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
	    SQLITE_OPEN_MEMORY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(rdb->db, "SELECT json_type(?1, ?2), "
	    "json_extract(?1, ?2)", -1, SQLITE_PREPARE_PERSISTENT,
	    &rdb->lookup, NULL) != SQLITE_OK) {
		log_err("render: cannot look traits up: %s", rdb->db != NULL ?
		    sqlite3_errmsg(rdb->db) : "out of memory");
		sqlite3_close(rdb->db);
		free(rdb);
		return NULL;
	}
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

/* Look key up as a top-level member of the JSON object json: 0 with
 * *value (NULL when absent; caller frees), -1 when it cannot be (logged). */
static int
render_lookup(const char *json, const char *key, char **value)
{
	struct render_db	*rdb;
	sqlite3_stmt		*st;
	const char		*type, *text;
	char			*path;

	*value = NULL;
	/* A JSON path cannot quote a '"': no trait has such a name here. */
	if (json == NULL || *key == '\0' || strchr(key, '"') != NULL)
		return 0;
	if ((rdb = render_db_get()) == NULL)
		return -1;
	path = xprintf("$.\"%s\"", key);
	st = rdb->lookup;
	sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    (type = (const char *)sqlite3_column_text(st, 0)) != NULL) {
		if (strcmp(type, "true") == 0)
			*value = xstrdup("true");
		else if (strcmp(type, "false") == 0)
			*value = xstrdup("false");
		else if (strcmp(type, "null") != 0 &&
		    (text = (const char *)sqlite3_column_text(st, 1)) != NULL)
			*value = xstrdup(text);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	render_db_put(rdb);

	free(path);
	return 0;
}

/* A trait by key ("x" or "account.x") into *value, as render_lookup(). */
static int
render_trait_get(const struct render_vars *vars, const char *key,
    char **value)
{
	if (strncmp(key, "account.", 8) == 0)
		return render_lookup(vars->account_traits, key + 8, value);
	return render_lookup(vars->traits, key, value);
}

/* A trait by key ("x" or "account.x") as text, or NULL (absent, or it
 * cannot be looked up: logged); caller frees. */
char *
render_trait(const struct render_vars *vars, const char *key)
{
	char	*value;

	render_trait_get(vars, key, &value);
	return value;
}

/* The value of one placeholder name into *value (NULL for none; caller
 * frees). 0, or -1 when a trait cannot be looked up. */
static int
render_value(const struct render_vars *vars, const char *name, char **value)
{
	const char	*v = NULL;

	if (strcmp(name, "journey") == 0)
		v = vars->journey;
	else if (strcmp(name, "stage") == 0)
		v = vars->stage;
	else if (strcmp(name, "rule") == 0)
		v = vars->rule;
	else if (strcmp(name, "id") == 0)
		v = vars->id;
	else
		return render_trait_get(vars, name, value);
	*value = v != NULL ? xstrdup(v) : NULL;
	return 0;
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

/* Expand the placeholders of tmpl. Returns a new string (caller frees), or
 * NULL when a trait cannot be looked up (logged). */
char *
render_template(const char *tmpl, const struct render_vars *vars)
{
	struct buf	 b;
	const char	*p = tmpl, *open;
	char		*name, *value;
	size_t		 n;

	buf_init(&b);
	buf_add(&b, "", 0);
	while ((open = strstr(p, "{{")) != NULL) {
		buf_add(&b, p, open - p);
		if ((n = render_match(open, &name)) == 0) {
			/* Literal: move on by one brace, the next may open. */
			buf_add(&b, open, 1);
			p = open + 1;
			continue;
		}
		if (render_value(vars, name, &value) != 0) {
			free(name);
			buf_free(&b);
			return NULL;
		}
		if (value != NULL) {
			buf_puts(&b, value);
			free(value);
		}
		free(name);
		p = open + n;
	}
	buf_puts(&b, p);
	return buf_steal(&b);
}
