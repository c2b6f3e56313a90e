/*
 * The ingest layer: customer data into the store. Segment-style JSON lines
 * (import.c, message.c), from journeyctl, a drop folder (spool.c) or the
 * daemon's HTTP API. Ingest writes subjects (profile.c: anonymous ids and
 * merges, traits and account memberships by time) and events; of
 * journeys, it knows only that a user merged into another by an alias
 * leaves its journeys.
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
/* An importer on the database; now: the receive time of lines. */
struct importer	*importer_new(sqlite3 *, int64_t now);
/* What the HTTP API knows of a message beside its JSON. */
struct import_ctx {
	int64_t		 received;	/* receive time, Unix seconds */
	const char	*sent_at;	/* the batch envelope's sentAt, or
					   NULL */
	const char	*type;		/* the type the endpoint implies
					   (/v1/track: "track"), used when the
					   message has no "type"; or NULL */
};
/* Import one message (a JSON object of len bytes) into the open
 * transaction (begun when none is open; never committed here: the caller
 * commits with importer_commit). 0 imported, 1 a duplicate, -1 rejected
 * (reason in err), -2 a database fault (message in err; the open
 * transaction rolled back). */
int		 importer_message(struct importer *, const char *json,
		    size_t len, const struct import_ctx *, char *err,
		    size_t errlen);
/* Import a batch envelope {"batch": [...], "sentAt": ...}: each message in
 * order through importer_message, cb(arg, index, rc, err) after each.
 * -1 with err when json is not an envelope, -2 on a database fault, else
 * 0. */
int		 importer_batch(struct importer *, const char *json,
		    size_t len, const struct import_ctx *,
		    void (*cb)(void *arg, int index, int rc, const char *err),
		    void *arg, char *err, size_t errlen);
/* Import one line, a message or a batch envelope: 0 imported, a
 * duplicate or empty; -1 rejected (an envelope: any of its messages, the
 * first as "#INDEX: reason"), with the reason in err; -2 a database
 * fault, with the message in err, after the uncommitted lines were rolled
 * back. Commits by itself every so many messages. */
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
/* Import a whole stream, reporting rejected lines as NAME:LINE: reason
 * (a message of a batch envelope: NAME:LINE#INDEX: reason) to errf. Returns 0 when every line was good, 1 when any was rejected, -1
 * when the stream could not be read, -2 on a database fault (logged with
 * the database's file, and the line from which nothing was imported: the
 * lines before it are committed or reported). */
int		 import_stream(sqlite3 *, FILE *, const char *name, int64_t now,
		    FILE *errf, struct import_stats *);

/* spool.c: import every complete file of a spool folder into done/ or
 * failed/. */
int		 spool_scan(sqlite3 *, const char *dir, int64_t now);

#endif /* JD_INGEST_H */
