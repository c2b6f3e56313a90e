/*
 * An online copy of the database (journeyctl backup): SQLite's backup API
 * in one step, so the copy is one consistent snapshot (a read transaction
 * of the WAL) and the daemon's writes meanwhile neither wait for it nor
 * restart it, as a copy made in several steps would be restarted by every
 * write in between. The README ("Operations") says how to restore it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

#define BACKUP_TRIES	200	/* 10 s of 50 ms: the source locked */

/* Copy the database of db into a new file at path, never overwriting one.
 * Sets *pages to the number of pages copied. Returns 0, or -1 with the
 * reason in err (and no file left behind). */
int
store_backup(sqlite3 *db, const char *path, int64_t *pages, char *err,
    size_t errlen)
{
	struct timespec	 pause = { 0, 50 * 1000 * 1000 };
	sqlite3		*dst = NULL;
	sqlite3_backup	*b;
	int		 fd, rc = SQLITE_BUSY;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		if (errno == EEXIST)
			snprintf(err, errlen, "%s already exists: a backup "
			    "never overwrites a file; remove it or name "
			    "another", path);
		else
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	close(fd);
	if (sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(dst));
		goto fail;
	}
	if ((b = sqlite3_backup_init(dst, "main", db, "main")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(dst));
		goto fail;
	}
	/* -1: every page in one step, inside one read transaction. BUSY or
	 * LOCKED: no page was copied; try again. */
	for (int i = 0; i < BACKUP_TRIES && (rc == SQLITE_BUSY ||
	    rc == SQLITE_LOCKED); i++) {
		if (i > 0)
			nanosleep(&pause, NULL);
		rc = sqlite3_backup_step(b, -1);
	}
	*pages = sqlite3_backup_pagecount(b);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errstr(rc));
		goto fail;
	}
	if (sqlite3_close(dst) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(dst));
		dst = NULL;
		goto fail;
	}
	return 0;
fail:
	sqlite3_close(dst);
	unlink(path);
	return -1;
}
