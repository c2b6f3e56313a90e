/*
 * Holdout buckets: jd_bucket(TEXT), an SQL function the compiled rules
 * call, is FNV-1a (64 bits) of its argument modulo 100: a fixed, stable
 * hash, so a subject is held out of a rule the same way on every tick,
 * machine and version.
 */
#include "config.h"

#include <stdint.h>

#include "rules/rules.h"

/* FNV-1a, 64 bits, of n bytes, modulo 100. */
int
bucket_of(const void *p, size_t n)
{
	const unsigned char	*s = p;
	uint64_t		 h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return (int)(h % 100);
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

/* Register jd_bucket() on a connection. */
int
bucket_register(sqlite3 *db)
{
	return sqlite3_create_function_v2(db, "jd_bucket", 1, SQLITE_UTF8 |
	    SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL, bucket_sql,
	    NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}
