/*
 * Inside the ingest layer: the importer's state (import.c reads lines and
 * envelopes, message.c checks and imports one message, identity.c says
 * whether it was imported before) and the profile store under them (profile.c: subjects, ties and merges, trait and
 * account versions, the log of changed subjects).
 */
#ifndef JD_INGEST_INT_H
#define JD_INGEST_INT_H

#include <time.h>

#include <openssl/evp.h>

#include "ingest/ingest.h"

#define IMPORT_MAX_LINE		1048576	/* bytes, line ending excluded */

/* Return codes of the message steps (importer_message's). */
#define IMPORT_OK	0
#define IMPORT_DUP	1
#define IMPORT_REJECT	-1
#define IMPORT_FAULT	-2

/* What a JSON value is. */
enum import_jtype {
	JT_NULL, JT_TRUE, JT_FALSE, JT_INTEGER, JT_REAL, JT_TEXT, JT_ARRAY,
	JT_OBJECT
};

/* The fields of a message the importer reads; others are ignored. */
enum import_key {
	KEY_TYPE, KEY_USERID, KEY_ANONID, KEY_GROUPID, KEY_PREVID, KEY_EVENT,
	KEY_NAME, KEY_CATEGORY, KEY_TIMESTAMP, KEY_ORIGTS, KEY_SENTAT,
	KEY_PROPERTIES, KEY_TRAITS, KEY_MESSAGEID, KEY_COUNT
};

/* The types of message. */
enum import_type {
	TYPE_TRACK, TYPE_PAGE, TYPE_SCREEN, TYPE_IDENTIFY, TYPE_GROUP,
	TYPE_ALIAS, TYPE_COUNT
};

struct import_field {
	int			 present;	/* and not null */
	enum import_jtype	 type;
	struct buf		 text;		/* the value as text */
};

struct profile;

struct importer {
	sqlite3			*db;
	int64_t			 now;		/* a file's receive time */
	int			 in_txn;
	int			 batch;		/* messages in the open
						   transaction */
	struct timespec		 started;	/* when it began */

	struct import_stats	 stats;		/* committed */
	char			 fault[256];	/* why the last commit failed */
	struct import_stats	 pending;	/* in the open transaction */

	/* message.c */
	sqlite3_stmt		*parse;
	sqlite3_stmt		*parse_track;	/* only what a track uses */
	sqlite3_stmt		*parse_times;	/* and its times, when needed */
	int			 last_track;	/* the last message was one */
	int			 partial;	/* parsed as a guessed track */
	const char		*text;		/* the message parsed */
	size_t			 len;
	sqlite3_stmt		*type_of;
	sqlite3_stmt		*event_add;
	sqlite3_stmt		*message_add;
	sqlite3_stmt		*page_props;
	sqlite3_stmt		*legacy_find;
	sqlite3_stmt		*forgotten_any;
	sqlite3_stmt		*forgotten_find;
	int			 forgotten;	/* any id is (this
						   transaction) */
	int64_t			 legacy_eid;	/* last event of schema 1 */
	int			 legacy_msgs;	/* messages of schema 1 kept */
	EVP_MD_CTX		*md;
	struct import_field	 fields[KEY_COUNT];
	struct buf		 ident;		/* the message's identity */
	struct buf		 props;		/* a page's properties */

	/* import.c: batch envelopes */
	sqlite3_stmt		*envelope;
	sqlite3_stmt		*elements;
	struct buf		 sent_at;

	struct profile		*profile;
};

/* message.c */
extern const char *const message_keys[KEY_COUNT];	/* the fields' names */
void	 message_init(struct importer *);
void	 message_free(struct importer *);
int	 message_parse(struct importer *, const char *, size_t, char *,
	    size_t);
int	 message_import(struct importer *, const struct import_ctx *,
	    char *, size_t);
int	 message_fault(struct importer *, char *, size_t);
const char *message_quote(const char *, size_t, char *, size_t);
int	 message_begin(struct importer *, char *, size_t);

/* identity.c: the identity into imp->ident ("m:" or "c:"); whether the
 * message was imported under its identity of schema 1 (1, 0, or -1 on a
 * fault); record an identify's, group's or alias's (IMPORT_DUP when seen
 * before). */
void	 identity_of(struct importer *, enum import_type);
int	 identity_legacy(struct importer *, enum import_type);
int	 identity_seen(struct importer *, char *, size_t);

/* profile.c: every function writes inside the importer's transaction;
 * ids are bytes (id, len), times Unix seconds; -1 is a database fault. */
struct profile	*profile_new(sqlite3 *);
void		 profile_free(struct profile *);
/* After a rollback: forget cached ids and the subjects noted changed. */
void		 profile_forget(struct profile *);
/* After a commit: a new transaction notes its changes anew. */
void		 profile_settled(struct profile *);
/* A write transaction began: forget what other writers may have changed
 * since. -1 on a fault. */
int		 profile_begin(struct profile *);
/* The sid the messages of a user, an account or an anonymous id count
 * for, created at ts when unknown. For an anonymous id, *user says
 * whether that is a user it is tied to. */
int64_t		 profile_user(struct profile *, const char *, size_t, int64_t);
int64_t		 profile_account(struct profile *, const char *, size_t,
		    int64_t);
int64_t		 profile_anon(struct profile *, const char *, size_t, int64_t,
		    int *user);
/* A message carries an anonymous id and a user's: tie them (the first
 * time, merging what the anonymous subject had into the user). */
int		 profile_tie(struct profile *, const char *, size_t,
		    int64_t user, int64_t ts);
/* An alias: previousId (an earlier user's id, else an anonymous id)
 * becomes the user. now: the time the earlier user's journeys end. */
int		 profile_alias(struct profile *, const char *, size_t,
		    int64_t user, int64_t now);
/* Set the traits of a JSON object (minified) on sid from ts on. */
int		 profile_traits(struct profile *, int64_t sid, const char *,
		    size_t, int64_t ts);
/* Make sid a member of account from ts on; user: sid is a user (else an
 * anonymous subject, whose membership waits for its merge). */
int		 profile_join(struct profile *, int64_t sid, int user,
		    int64_t account, int64_t ts);

#endif /* JD_INGEST_INT_H */
