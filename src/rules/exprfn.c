/*
 * The SQL functions compiled rules call (expr_register() puts them on a
 * connection), and the values of traits and properties.
 *
 * A trait or property is read as its JSON text (SQLite's "->": '"pass"',
 * '12.5', 'true'), so that its type is never lost: SQLite's json_extract()
 * gives true as 1 and orders any string above any number. Values of
 * different types never compare equal and never order (SPEC §14.1):
 *
 *   jd_num(j), jd_str(j), jd_bool(j)   the value, NULL when j is absent or
 *                                       of another type
 *   jd_cmp(j, op, kind, r)             j compared with r, a value of kind
 *                                       (or JSON text, kind 0): 0 or 1;
 *                                       != holds for values of two types
 *   jd_in(j, kind, v, kind, v, ...)    j equal to one of the values
 *   jd_starts_with(s, t), jd_ends_with(s, t)   byte-wise, no wildcards
 *   jd_iso(s)                          an ISO 8601 time of SPEC §13.1 in
 *                                       the form unixepoch() reads, else NULL
 *   jd_pack(v, ...), jd_unpack(b, i)   several aggregates of one scan of
 *                                       events in one value, and back
 *   jd_day(t, zone, default)           the local date of time t (days
 *                                       since 1970-01-01) in the zone,
 *                                       else the default zone, else UTC
 *
 * A JSON string with escapes is decoded by SQLite's json_extract() on a
 * connection of its own (SQLite's, not a hand-written decoder).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "rules/expr.h"
#include "rules/expr-int.h"

static pthread_mutex_t	 jsonval_lock = PTHREAD_MUTEX_INITIALIZER;
static sqlite3		*jsonval_db;
static sqlite3_stmt	*jsonval_stmt;

/* The kind of a JSON text, by its first character. */
enum json_kind
jsonval_kind(const char *s, size_t len)
{
	if (s == NULL || len == 0)
		return JSON_ABSENT;
	if (s[0] == '"')
		return JSON_STRING;
	if (s[0] == '-' || isdigit((unsigned char)s[0]))
		return JSON_NUMBER;
	if ((len == 4 && memcmp(s, "true", 4) == 0) ||
	    (len == 5 && memcmp(s, "false", 5) == 0))
		return JSON_BOOL;
	return JSON_OTHER;
}

/* Decode a JSON string with escapes through SQLite's json_extract(). */
static char *
jsonval_decode(const char *s, size_t len, size_t *out_len)
{
	char	*v = NULL;

	pthread_mutex_lock(&jsonval_lock);
	if (jsonval_db == NULL &&
	    sqlite3_open_v2(":memory:", &jsonval_db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_MEMORY, NULL) != SQLITE_OK)
		fatalx("sqlite: cannot open an in-memory database");
	if (jsonval_stmt == NULL &&
	    sqlite3_prepare_v3(jsonval_db, "SELECT json_extract(?1, '$')", -1,
	    SQLITE_PREPARE_PERSISTENT, &jsonval_stmt, NULL) != SQLITE_OK)
		fatalx("sqlite: %s", sqlite3_errmsg(jsonval_db));
	sqlite3_bind_text(jsonval_stmt, 1, s, (int)len, SQLITE_STATIC);
	if (sqlite3_step(jsonval_stmt) == SQLITE_ROW &&
	    sqlite3_column_type(jsonval_stmt, 0) == SQLITE_TEXT) {
		*out_len = sqlite3_column_bytes(jsonval_stmt, 0);
		v = xstrndup((const char *)sqlite3_column_text(jsonval_stmt,
		    0), *out_len);
	}
	sqlite3_reset(jsonval_stmt);
	sqlite3_clear_bindings(jsonval_stmt);
	pthread_mutex_unlock(&jsonval_lock);
	return v;
}

/* A JSON string's value (caller frees), or NULL when s is not a string. */
char *
jsonval_string(const char *s, size_t len, size_t *out_len)
{
	if (jsonval_kind(s, len) != JSON_STRING || len < 2)
		return NULL;
	if (memchr(s, '\\', len) != NULL)
		return jsonval_decode(s, len, out_len);
	*out_len = len - 2;
	return xstrndup(s + 1, len - 2);
}

/* A number, as SQLite keeps it: an integer or a real. */
struct num {
	int	 is_int;
	int64_t	 i;
	double	 d;
};

/* The number a JSON number's text spells. */
static void
num_of_text(const char *s, size_t len, struct num *n)
{
	char	 buf[64], *end;

	snprintf(buf, sizeof buf, "%.*s", (int)(len < 63 ? len : 63), s);
	n->is_int = strpbrk(buf, ".eE") == NULL;
	if (n->is_int) {
		errno = 0;
		n->i = strtoll(buf, &end, 10);
		if (errno == 0)
			return;
		n->is_int = 0;
	}
	n->d = strtod(buf, &end);
}

/* The number of an SQL value (an integer or a real). */
static void
num_of_value(sqlite3_value *v, struct num *n)
{
	n->is_int = sqlite3_value_type(v) == SQLITE_INTEGER;
	n->i = sqlite3_value_int64(v);
	n->d = sqlite3_value_double(v);
}

/* Compare two numbers: <0, 0, >0. */
static int
num_cmp(const struct num *a, const struct num *b)
{
	double	 x, y;

	if (a->is_int && b->is_int)
		return a->i < b->i ? -1 : a->i > b->i;
	x = a->is_int ? (double)a->i : a->d;
	y = b->is_int ? (double)b->i : b->d;
	return x < y ? -1 : x > y;
}

/* Compare two byte strings as SQLite's BINARY collation does. */
static int
str_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int	 c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* Does comparison op hold for a result c of a comparison? */
static int
cmp_holds(enum cmp_code op, int c)
{
	switch (op) {
	case CMP_EQ:	return c == 0;
	case CMP_NE:	return c != 0;
	case CMP_LT:	return c < 0;
	case CMP_LE:	return c <= 0;
	case CMP_GT:	return c > 0;
	case CMP_GE:	return c >= 0;
	}
	return 0;
}

/* One side of a comparison: its kind and its value. */
struct side {
	enum json_kind	 kind;
	const char	*text;		/* JSON text, or a string's bytes */
	size_t		 len;
	int		 json;		/* text is JSON text */
	sqlite3_value	*v;
};

/* The side of value v of kind (0: v is JSON text). */
static void
side_of(sqlite3_value *v, int kind, struct side *s)
{
	memset(s, 0, sizeof *s);
	s->v = v;
	if (sqlite3_value_type(v) == SQLITE_NULL)
		return;
	if (kind == JSON_ABSENT || kind == JSON_STRING) {
		s->text = (const char *)sqlite3_value_text(v);
		s->len = sqlite3_value_bytes(v);
		if (s->text == NULL)
			return;
	}
	if (kind != JSON_ABSENT) {
		s->kind = kind;
		return;
	}
	s->json = 1;
	s->kind = jsonval_kind(s->text, s->len);
}

/* Compare two values of one kind: <0, 0, >0. */
static int
side_cmp(const struct side *a, const struct side *b)
{
	struct num	 x, y;
	char		*sa = NULL, *sb = NULL;
	size_t		 la = a->len, lb = b->len;
	int		 c;

	switch (a->kind) {
	case JSON_NUMBER:
		if (a->json)
			num_of_text(a->text, a->len, &x);
		else
			num_of_value(a->v, &x);
		if (b->json)
			num_of_text(b->text, b->len, &y);
		else
			num_of_value(b->v, &y);
		return num_cmp(&x, &y);
	case JSON_STRING:
		if (a->json && (sa = jsonval_string(a->text, a->len, &la)) ==
		    NULL)
			return 1;
		if (b->json && (sb = jsonval_string(b->text, b->len, &lb)) ==
		    NULL) {
			free(sa);
			return 1;
		}
		c = str_cmp(sa ? sa : a->text, la, sb ? sb : b->text, lb);
		free(sa);
		free(sb);
		return c;
	case JSON_BOOL:
		return (a->json ? a->text[0] == 't' :
		    sqlite3_value_int(a->v) != 0) - (b->json ?
		    b->text[0] == 't' : sqlite3_value_int(b->v) != 0);
	default:
		return str_cmp(a->text, a->len, b->text, b->len);
	}
}

/* Does a op b hold? Absent: never; of two kinds: only !=; booleans and
 * objects only compare with == and !=. */
static int
side_holds(const struct side *a, enum cmp_code op, const struct side *b)
{
	if (a->kind == JSON_ABSENT || b->kind == JSON_ABSENT)
		return 0;
	if (a->kind != b->kind)
		return op == CMP_NE;
	if ((a->kind == JSON_BOOL || a->kind == JSON_OTHER) &&
	    op != CMP_EQ && op != CMP_NE)
		return 0;
	return cmp_holds(op, side_cmp(a, b));
}

/* SQL jd_cmp(j, op, kind, r). */
static void
fn_cmp(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct side	 a, b;

	(void)argc;
	side_of(argv[0], JSON_ABSENT, &a);
	side_of(argv[3], sqlite3_value_int(argv[2]), &b);
	sqlite3_result_int(ctx, side_holds(&a, sqlite3_value_int(argv[1]),
	    &b));
}

/* SQL jd_in(j, kind, v, ...). */
static void
fn_in(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct side	 a, b;
	int		 found = 0;

	side_of(argv[0], JSON_ABSENT, &a);
	for (int i = 1; i + 1 < argc && !found; i += 2) {
		side_of(argv[i + 1], sqlite3_value_int(argv[i]), &b);
		found = side_holds(&a, CMP_EQ, &b);
	}
	sqlite3_result_int(ctx, found);
}

/* SQL jd_num(j): a JSON number's value, else NULL. */
static void
fn_num(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char	*s = (const char *)sqlite3_value_text(argv[0]);
	struct num	 n;

	(void)argc;
	if (jsonval_kind(s, sqlite3_value_bytes(argv[0])) != JSON_NUMBER)
		return;			/* NULL */
	num_of_text(s, sqlite3_value_bytes(argv[0]), &n);
	if (n.is_int)
		sqlite3_result_int64(ctx, n.i);
	else
		sqlite3_result_double(ctx, n.d);
}

/* SQL jd_str(j): a JSON string's value, else NULL. */
static void
fn_str(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char	*s = (const char *)sqlite3_value_text(argv[0]);
	size_t		 len = sqlite3_value_bytes(argv[0]);
	char		*v;

	(void)argc;
	if (jsonval_kind(s, len) != JSON_STRING)
		return;
	if (memchr(s, '\\', len) == NULL) {
		sqlite3_result_text(ctx, s + 1, (int)len - 2,
		    SQLITE_TRANSIENT);
		return;
	}
	if ((v = jsonval_string(s, len, &len)) != NULL)
		sqlite3_result_text(ctx, v, (int)len, free);
}

/* SQL jd_bool(j): 1 for true, 0 for false, else NULL. */
static void
fn_bool(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char	*s = (const char *)sqlite3_value_text(argv[0]);

	(void)argc;
	if (jsonval_kind(s, sqlite3_value_bytes(argv[0])) == JSON_BOOL)
		sqlite3_result_int(ctx, s[0] == 't');
}

/* SQL jd_starts_with(s, t) and jd_ends_with(s, t) (user data: 1): 0 or
 * 1, 0 when either is absent. */
static void
fn_affix(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char	*s = (const char *)sqlite3_value_text(argv[0]);
	const char	*t = (const char *)sqlite3_value_text(argv[1]);
	size_t		 slen = sqlite3_value_bytes(argv[0]);
	size_t		 tlen = sqlite3_value_bytes(argv[1]);
	int		 ends = sqlite3_user_data(ctx) != NULL;

	(void)argc;
	if (s == NULL || t == NULL || tlen > slen)
		sqlite3_result_int(ctx, 0);
	else
		sqlite3_result_int(ctx, memcmp(ends ? s + slen - tlen : s, t,
		    tlen) == 0);
}

/* Is s[0..n) all digits? */
static int
digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Is s a date YYYY-MM-DD of the calendar? */
static int
iso_date(const char *s)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int	 y, m, d;

	if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) ||
	    s[7] != '-' || !digits(s + 8, 2))
		return 0;
	y = atoi(s);
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return 0;
	return m != 2 || d < 29 || (y % 4 == 0 && (y % 100 != 0 ||
	    y % 400 == 0));
}

/*
 * SQL jd_iso(s): s as unixepoch() reads it, or NULL. The forms of SPEC
 * §13.1 (the time parse of import, time_parse(), reads the same): a date
 * of the calendar, 'T' or ' ', a time, then 'Z', '+01:00' or '+0100'
 * (written '+01:00' for SQLite); and a bare date, midnight UTC.
 */
static void
fn_iso(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char	*s = (const char *)sqlite3_value_text(argv[0]);
	int		 len = sqlite3_value_bytes(argv[0]);
	char		*v;

	(void)argc;
	if (sqlite3_value_type(argv[0]) != SQLITE_TEXT || len < 10 ||
	    len > 64 || !iso_date(s))
		return;
	if (len > 10 && s[10] != 'T' && s[10] != ' ')
		return;
	if (len > 16 && (s[len - 5] == '+' || s[len - 5] == '-') &&
	    digits(s + len - 4, 4)) {
		v = xprintf("%.*s:%s", len - 2, s, s + len - 2);
		sqlite3_result_text(ctx, v, -1, free);
		return;
	}
	sqlite3_result_value(ctx, argv[0]);
}

/* SQL jd_pack(v, ...): integers, reals and NULLs in one blob, 9 bytes
 * each: a type byte and the value. */
static void
fn_pack(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	unsigned char	*b = xcalloc(argc > 0 ? argc : 1, 9);
	int64_t		 i;
	double		 d;

	for (int k = 0; k < argc; k++) {
		switch (sqlite3_value_type(argv[k])) {
		case SQLITE_INTEGER:
			b[k * 9] = 1;
			i = sqlite3_value_int64(argv[k]);
			memcpy(b + k * 9 + 1, &i, 8);
			break;
		case SQLITE_FLOAT:
			b[k * 9] = 2;
			d = sqlite3_value_double(argv[k]);
			memcpy(b + k * 9 + 1, &d, 8);
			break;
		default:
			break;
		}
	}
	sqlite3_result_blob(ctx, b, argc * 9, free);
}

/* SQL jd_unpack(b, k): the k-th value of a jd_pack() blob. */
static void
fn_unpack(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const unsigned char	*b = sqlite3_value_blob(argv[0]);
	int			 k = sqlite3_value_int(argv[1]);
	int64_t			 i;
	double			 d;

	(void)argc;
	if (b == NULL || k < 0 || (k + 1) * 9 > sqlite3_value_bytes(argv[0]))
		return;
	if (b[k * 9] == 1) {
		memcpy(&i, b + k * 9 + 1, 8);
		sqlite3_result_int64(ctx, i);
	} else if (b[k * 9] == 2) {
		memcpy(&d, b + k * 9 + 1, 8);
		sqlite3_result_double(ctx, d);
	}
}

/* The zone jd_day() last looked up on a connection, by name: a subject's
 * events are read one after the other, and an unknown name is not looked
 * for in the tz database at every event. */
struct day_cache {
	char		 name[72];
	const struct tz	*tz;		/* NULL: no such zone */
};

/* The zone of name, through the connection's cache. */
static const struct tz *
day_zone(struct day_cache *c, const char *name)
{
	if (name == NULL || strlen(name) >= sizeof c->name)
		return NULL;
	if (strcmp(c->name, name) != 0) {
		snprintf(c->name, sizeof c->name, "%s", name);
		c->tz = tz_get(name);
	}
	return c->tz;
}

/* SQL jd_day(t, zone, default): the local date of t, as days since
 * 1970-01-01, in zone, else in the default zone, else in UTC. */
static void
fn_day(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct day_cache	*c = sqlite3_user_data(ctx);
	const struct tz		*z;
	struct tz_local		 l;
	int64_t			 t, local;

	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
		return;
	t = sqlite3_value_int64(argv[0]);
	if ((z = day_zone(&c[0], (const char *)sqlite3_value_text(
	    argv[1]))) == NULL && (z = day_zone(&c[1], (const char *)
	    sqlite3_value_text(argv[2]))) == NULL)
		z = tz_get("UTC");
	tz_local(z, t, &l);
	local = t + l.offset;
	sqlite3_result_int64(ctx, local / 86400 - (local % 86400 < 0));
}

/* Register the functions compiled rules call on a connection. */
int
expr_register(sqlite3 *db)
{
	static const struct {
		const char	*name;
		int		 nargs;
		void		(*fn)(sqlite3_context *, int,
				    sqlite3_value **);
		int		 ends;
	} fns[] = {
		{ "jd_num", 1, fn_num, 0 },
		{ "jd_str", 1, fn_str, 0 },
		{ "jd_bool", 1, fn_bool, 0 },
		{ "jd_cmp", 4, fn_cmp, 0 },
		{ "jd_in", -1, fn_in, 0 },
		{ "jd_starts_with", 2, fn_affix, 0 },
		{ "jd_ends_with", 2, fn_affix, 1 },
		{ "jd_iso", 1, fn_iso, 0 },
		{ "jd_pack", -1, fn_pack, 0 },
		{ "jd_unpack", 2, fn_unpack, 0 },
	};
	static int	 yes = 1;

	for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
		if (sqlite3_create_function_v2(db, fns[i].name, fns[i].nargs,
		    SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
		    fns[i].ends ? &yes : NULL, fns[i].fn, NULL, NULL, NULL) !=
		    SQLITE_OK)
			return -1;
	/* Two caches: the subject's zone, the default zone. */
	if (sqlite3_create_function_v2(db, "jd_day", 3, SQLITE_UTF8 |
	    SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, xcalloc(2,
	    sizeof(struct day_cache)), fn_day, NULL, NULL, free) != SQLITE_OK)
		return -1;
	return 0;
}
