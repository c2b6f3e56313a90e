/*
 * The drop folder (spool_dir). Other programs hand files of JSON lines over
 * as Maildir does: written under tmp/ (or a name starting with '.') and
 * renamed into the folder when complete. A scan imports every complete
 * file, then moves it to done/ when all its lines were good, or to failed/
 * with its rejected lines' "FILE:LINE: reason" in failed/NAME.errors.
 *
 * A file is moved only after its lines were committed: a crash in between
 * imports it again at the next scan, which records nothing twice. A file
 * that could not be imported for a database fault stays for the next scan.
 * Nothing is ever overwritten: a name already in done/ or failed/ gets a
 * suffix ".1", ".2", ...
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest/ingest.h"

#define SPOOL_MAX_SUFFIX	10000

/* Create dir/sub when it is missing. */
static int
spool_mkdir(const char *dir, const char *sub)
{
	char	*path = xprintf("%s/%s", dir, sub);
	int	 rc = 0;

	if (mkdir(path, 0750) != 0 && errno != EEXIST) {
		log_err("spool: cannot create %s: %s", path, strerror(errno));
		rc = -1;
	}
	free(path);
	return rc;
}

/* Pick the files a scan looks at: none whose name starts with a dot. */
static int
spool_select(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

/* Move a file into dir/sub under its name or, when taken, name.N, never
 * replacing anything (link, then unlink). With errors (a temporary file),
 * put that beside it as NAME.errors, under a name free for both. Returns
 * the name used (caller frees), or NULL. */
static char *
spool_move(const char *dir, const char *sub, const char *name,
    const char *errors)
{
	char	*from, *to, *errto, *cand = NULL;
	int	 i, rc, saved;

	from = xprintf("%s/%s", dir, name);
	for (i = 0; i < SPOOL_MAX_SUFFIX; i++) {
		cand = i == 0 ? xstrdup(name) : xprintf("%s.%d", name, i);
		to = xprintf("%s/%s/%s", dir, sub, cand);
		if (link(from, to) != 0) {
			saved = errno;
			free(to);
			free(cand);
			cand = NULL;
			if (saved == EEXIST)
				continue;
			log_err("spool: cannot move %s to %s/: %s", from, sub,
			    strerror(saved));
			break;
		}
		if (errors != NULL) {
			errto = xprintf("%s.errors", to);
			rc = link(errors, errto);
			saved = errno;
			if (rc != 0 && saved == EEXIST) {
				unlink(to);
				free(errto);
				free(to);
				free(cand);
				cand = NULL;
				continue;
			}
			if (rc != 0)
				log_warn("spool: cannot write %s: %s", errto,
				    strerror(saved));
			free(errto);
		}
		free(to);
		break;
	}
	if (cand != NULL && unlink(from) != 0)
		log_err("spool: cannot remove %s: %s", from, strerror(errno));
	if (cand == NULL && i == SPOOL_MAX_SUFFIX)
		log_err("spool: no free name for %s in %s/", name, sub);
	free(from);
	return cand;
}

/* Import one file of the spool and move it on. Returns 0 when it was
 * handled, -1 on a fault (it stays for the next scan). */
static int
spool_file(sqlite3 *db, const char *dir, const char *name, int64_t now)
{
	struct import_stats	 stats = { 0, 0, 0 };
	char			*path, *errors, *final;
	char			 summary[128];
	FILE			*f, *ef = NULL;
	int			 fd, rc;

	path = xprintf("%s/%s", dir, name);
	errors = xprintf("%s/failed/.errorsXXXXXX", dir);
	if ((fd = mkstemp(errors)) == -1 || (ef = fdopen(fd, "w")) == NULL) {
		log_err("spool: cannot create %s: %s", errors,
		    strerror(errno));
		if (fd != -1) {
			close(fd);
			unlink(errors);
		}
		free(errors);
		free(path);
		return -1;
	}

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(ef, "%s: %s\n", name, strerror(errno));
		stats.rejected = 1;
		rc = 1;
	} else {
		rc = import_stream(db, f, name, now, ef, &stats);
		fclose(f);
	}
	if (fclose(ef) != 0)
		log_warn("spool: %s: %s", errors, strerror(errno));
	import_summary(&stats, summary, sizeof summary);

	if (rc < 0) {
		log_err("spool: %s: not imported, left for the next scan",
		    name);
		unlink(errors);
		free(errors);
		free(path);
		return -1;
	}
	if (rc == 0) {
		if ((final = spool_move(dir, "done", name, NULL)) != NULL)
			log_info("spool: %s: %s; moved to done/%s", name,
			    summary, final);
	} else {
		if ((final = spool_move(dir, "failed", name, errors)) != NULL)
			log_warn("spool: %s: %s; moved to failed/%s, "
			    "errors in failed/%s.errors", name, summary,
			    final, final);
	}
	unlink(errors);
	free(errors);
	free(path);
	if (final == NULL)
		return -1;
	free(final);
	return 0;
}

/* Import every complete file of a spool folder into done/ or failed/.
 * Returns the number of files handled, or -1. */
int
spool_scan(sqlite3 *db, const char *dir, int64_t now)
{
	struct dirent	**names;
	struct stat	  sb;
	char		 *path;
	int		  n, i, handled = 0, rc = 0;

	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		log_err("spool: cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	if (spool_mkdir(dir, "tmp") != 0 || spool_mkdir(dir, "done") != 0 ||
	    spool_mkdir(dir, "failed") != 0)
		return -1;
	if ((n = scandir(dir, &names, spool_select, alphasort)) == -1) {
		log_err("spool: %s: %s", dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (rc == 0) {
			/* Only regular files: tmp/, done/, failed/ and any
			 * other folder or link are left alone. */
			path = xprintf("%s/%s", dir, names[i]->d_name);
			if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
				if (spool_file(db, dir, names[i]->d_name,
				    now) == 0)
					handled++;
				else
					rc = -1;
			}
			free(path);
		}
		free(names[i]);
	}
	free(names);
	return rc == 0 ? handled : -1;
}
