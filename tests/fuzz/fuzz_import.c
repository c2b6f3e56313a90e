/*
 * Fuzz the importer's line handling: every line of the input goes through
 * importer_line on an in-memory database, then what was imported is checked
 * (every event's user exists, every member's account is an account) and
 * rolled back, so that each input starts from the same empty database.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "fuzz.h"

#define NOW	1772355600LL

static sqlite3		*db;
static sqlite3_stmt	*orphans;

/* Close the database at exit, so that nothing shows as lost. */
static void
fuzz_cleanup(void)
{
	sqlite3_finalize(orphans);
	store_close(db);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	 err[256];

	log_open("fuzz_import", 0);
	if ((db = store_open(":memory:", err, sizeof err)) == NULL)
		fuzz_fail("store_open: %s", err);
	atexit(fuzz_cleanup);
	orphans = store_prepare(db, "SELECT "
	    "(SELECT count(*) FROM events e WHERE NOT EXISTS (SELECT 1 FROM "
	    "subjects s WHERE s.sid = e.subject AND s.kind IN (0, 2))) + "
	    "(SELECT count(*) FROM subjects u WHERE u.account IS NOT NULL AND "
	    "NOT EXISTS (SELECT 1 FROM subjects a WHERE a.sid = u.account AND "
	    "a.kind = 1)) + "
	    "(SELECT count(*) FROM subjects WHERE json_valid(traits) = 0 OR "
	    "json_type(traits) <> 'object')");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct importer		*imp;
	struct import_stats	 stats;
	const char		*p = (const char *)data, *end = p + len, *nl;
	char			 err[256];
	long			 lines = 0, rejected = 0;
	int			 rc;

	imp = importer_new(db, NOW);
	while (p < end) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		err[0] = '\0';
		rc = importer_line(imp, p, nl - p, err, sizeof err);
		lines++;
		if (rc == -1) {
			rejected++;
			if (err[0] == '\0')
				fuzz_fail("line %ld rejected without a reason",
				    lines);
		} else if (rc != 0)
			fuzz_fail("line %ld: %d: %s", lines, rc, err);
		p = nl + 1;
	}
	importer_stats(imp, &stats);
	if (stats.rejected != rejected)
		fuzz_fail("%ld lines rejected, %ld counted", rejected,
		    stats.rejected);
	if (stats.imported + stats.duplicates + stats.rejected > lines)
		fuzz_fail("more lines counted than given");
	if (sqlite3_step(orphans) != SQLITE_ROW ||
	    sqlite3_column_int64(orphans, 0) != 0)
		fuzz_fail("the import left inconsistent rows");
	sqlite3_reset(orphans);
	importer_free(imp);	/* rolls back */
	return 0;
}
