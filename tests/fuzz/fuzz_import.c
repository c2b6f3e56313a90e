/*
 * Fuzz the importer's line handling: every line of the input goes through
 * importer_line on an in-memory database, then what was imported is checked
 * (every event's user or anonymous subject exists, every member's account
 * is an account, the current traits and account are the newest versions)
 * and rolled back, so that each input starts from the same empty database.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "fuzz.h"

#define NOW	1772355600LL

/* Each subject's newest non-null version of each trait key, of subjects
 * that keep versions. */
#define FUZZ_NEWEST \
	"SELECT v.subject, v.key, v.value FROM trait_versions v JOIN " \
	"subjects s ON s.sid = v.subject AND s.traits_ts IS NOT NULL WHERE " \
	"v.value IS NOT NULL AND v.seq = (SELECT w.seq FROM trait_versions w " \
	"WHERE w.subject = v.subject AND w.key = v.key ORDER BY w.ts DESC, " \
	"w.seq DESC LIMIT 1)"

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
	    "json_type(traits) <> 'object') + "
	    /* The current traits are the newest versions, both ways. */
	    "(SELECT count(*) FROM (SELECT s.sid, j.key, "
	    STORE_JSON_TEXT("j") " FROM subjects s, json_each(s.traits) j "
	    "WHERE s.traits_ts IS NOT NULL EXCEPT " FUZZ_NEWEST ")) + "
	    "(SELECT count(*) FROM (" FUZZ_NEWEST " EXCEPT SELECT s.sid, "
	    "j.key, " STORE_JSON_TEXT("j") " FROM subjects s, "
	    "json_each(s.traits) j)) + "
	    /* A current account is the newest version's. */
	    "(SELECT count(*) FROM subjects u WHERE u.account_ts IS NOT NULL "
	    "AND u.account IS NOT (SELECT account FROM account_versions WHERE "
	    "subject = u.sid ORDER BY ts DESC, seq DESC LIMIT 1))");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct importer		*imp;
	struct import_stats	 stats, before;
	const char		*p = (const char *)data, *end = p + len, *nl;
	char			 err[256];
	long			 lines = 0, rejected = 0;
	int			 rc;

	imp = importer_new(db, NOW);
	while (p < end) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		err[0] = '\0';
		importer_stats(imp, &before);
		rc = importer_line(imp, p, nl - p, err, sizeof err);
		importer_stats(imp, &stats);
		lines++;
		/* A line is rejected when it, or a message of its batch
		 * envelope, was. */
		if ((rc == -1) != (stats.rejected > before.rejected))
			fuzz_fail("line %ld: %d, but %ld rejected", lines, rc,
			    stats.rejected - before.rejected);
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
	if (stats.rejected < rejected)
		fuzz_fail("%ld lines rejected, %ld counted", rejected,
		    stats.rejected);
	if (sqlite3_step(orphans) != SQLITE_ROW ||
	    sqlite3_column_int64(orphans, 0) != 0)
		fuzz_fail("the import left inconsistent rows");
	sqlite3_reset(orphans);
	importer_free(imp);	/* rolls back */
	return 0;
}
