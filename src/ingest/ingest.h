/*
 * The ingest layer: customer data into the store. Segment-style JSON lines
 * (import.c), from journeyctl, a drop folder (spool.c) or the daemon's HTTP
 * API. Ingest writes subjects, traits, memberships of accounts and events;
 * it knows nothing of journeys.
 */
#ifndef JD_INGEST_H
#define JD_INGEST_H

#include "store/store.h"

/* import.c: Segment-style JSON lines. */
struct import_stats {
	long	imported;
	long	duplicates;
	long	rejected;
};
struct importer;
struct importer	*importer_new(sqlite3 *, int64_t now);
/* Import one line: 0 imported, a duplicate or empty; -1 rejected, with
 * the reason in err; -2 a database fault, with the message in err, after
 * the uncommitted lines were rolled back. */
int		 importer_line(struct importer *, const char *line, size_t len,
		    char *err, size_t errlen);
int		 importer_commit(struct importer *);
/* Why the last importer_commit() failed: the database file and SQLite's
 * message. */
const char	*importer_fault(const struct importer *);
/* Counts so far, committed or not. */
void		 importer_stats(const struct importer *, struct import_stats *);
/* Rolls back what was not committed. */
void		 importer_free(struct importer *);
/* "imported N, duplicates N, rejected N" into out. */
char		*import_summary(const struct import_stats *, char *out,
		    size_t len);
/* Import a whole stream, reporting rejected lines as NAME:LINE: reason to
 * errf. Returns 0 when every line was good, 1 when any was rejected, -1
 * when the stream could not be read, -2 on a database fault (logged with
 * the database's file, and the line from which nothing was imported: the
 * lines before it are committed or reported). */
int		 import_stream(sqlite3 *, FILE *, const char *name, int64_t now,
		    FILE *errf, struct import_stats *);

/* spool.c: import every complete file of a spool folder into done/ or
 * failed/. */
int		 spool_scan(sqlite3 *, const char *dir, int64_t now);

#endif /* JD_INGEST_H */
