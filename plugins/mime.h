/*
 * Internet Message Format for the email plugin: mailboxes, RFC 2047 encoded
 * words, quoted-printable bodies, and whole messages. Compiled into the
 * email plugin only; every symbol is hidden.
 */
#ifndef JOURNEYD_MIME_H
#define JOURNEYD_MIME_H

#include <stdint.h>

#include "putil.h"

#pragma GCC visibility push(hidden)

/* A mailbox: "Name <addr>" or "addr". */
struct mime_mailbox {
	char	*name;		/* display name, or NULL */
	char	*addr;
};

/* What a message is made of; the text fields are UTF-8, unencoded. */
struct mime_message {
	int64_t				 date;
	const char			*message_id;	/* without <> */
	const struct mime_mailbox	*from;
	const struct mime_mailbox	*to;
	const char			*subject;
	const char			*unsubscribe;	/* a URL, or NULL */
	const char			*text;
	const char			*html;		/* or NULL */
};

int		 mime_parse_mailbox(const char *, struct mime_mailbox *);
void		 mime_mailbox_free(struct mime_mailbox *);
int		 mime_valid_addr(const char *);
void		 mime_encode_words(struct putil_buf *, const char *, size_t);
void		 mime_quoted_printable(struct putil_buf *, const char *);
char		*mime_build(const struct mime_message *);

#pragma GCC visibility pop

#endif /* JOURNEYD_MIME_H */
