/*
 * Holdout buckets: jd_bucket(TEXT), an SQL function the compiled rules
 * call, is FNV-1a (64 bits) of its argument modulo 100: a fixed, stable
 * hash, so a subject is held out of a rule the same way on every tick,
 * machine and version.
 */
#include "config.h"

#include <stdint.h>

#include "rules/rules.h"

/* FNV-1a, 64 bits, of n bytes. */
uint64_t
bucket_hash(const void *p, size_t n)
{
	const unsigned char	*s = p;
	uint64_t		 h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* FNV-1a, 64 bits, of n bytes, modulo 100. */
int
bucket_of(const void *p, size_t n)
{
	return (int)(bucket_hash(p, n) % 100);
}

/* SQL jd_hash(text, n): FNV-1a modulo n (n > 0), 0 .. n - 1; NULL for a
 * NULL text or an n below 1. */
static void
bucket_hash_sql(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	int64_t		 n = sqlite3_value_int64(argv[1]);

	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL || n < 1) {
		sqlite3_result_null(ctx);
		return;
	}
	sqlite3_result_int64(ctx, (int64_t)(bucket_hash(
	    sqlite3_value_text(argv[0]), sqlite3_value_bytes(argv[0])) %
	    (uint64_t)n));
}

/* SQL jd_bucket(text): 0..99; NULL for NULL. */
static void
bucket_sql(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const unsigned char	*s;

	if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
		sqlite3_result_null(ctx);
		return;
	}
	s = sqlite3_value_text(argv[0]);
	sqlite3_result_int(ctx, bucket_of(s, sqlite3_value_bytes(argv[0])));
}

/* Register jd_bucket() and jd_hash() on a connection. */
int
bucket_register(sqlite3 *db)
{
	return sqlite3_create_function_v2(db, "jd_bucket", 1, SQLITE_UTF8 |
	    SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL, bucket_sql,
	    NULL, NULL, NULL) == SQLITE_OK && sqlite3_create_function_v2(db,
	    "jd_hash", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC |
	    SQLITE_INNOCUOUS, NULL, bucket_hash_sql, NULL, NULL, NULL) ==
	    SQLITE_OK ? 0 : -1;
}
