/*
 * The identity of a message, by which it is imported once.
 *
 * "m:" and the messageId, or "c:" and the hex SHA-256 of the content as
 * sent, before any default is filled in: type, userId,
 * groupId, event, timestamp (each as its name and "-" when absent, else
 * its length and bytes), properties or traits (minified), then, only when
 * present, anonymousId, previousId, name, category and originalTimestamp.
 * The fields a type does not use count in neither. So every message that
 * version 1 of the schema accepted and that carries none of the later
 * fields keeps the identity it had then; one that carried them (ignored
 * then) is also known by that old identity among what was imported
 * before the upgrade (messages.v1, and events up to meta import_v1_eid).
 * Events are stored once by events.msg, the others by the messages table.
 */
#include "config.h"

#include <string.h>

#include "ingest/ingest-int.h"

/* Add one field to the content digest: its name, then "-" when absent or
 * its length and bytes, so that no two different messages hash alike. */
static void
identity_field(struct importer *imp, enum import_key k)
{
	struct import_field	*f = &imp->fields[k];
	char			 head[64];
	int			 n;

	if (f->present)
		n = snprintf(head, sizeof head, "%s=%zu:", message_keys[k],
		    f->text.len);
	else
		n = snprintf(head, sizeof head, "%s=-", message_keys[k]);
	EVP_DigestUpdate(imp->md, head, (size_t)n);
	if (f->present)
		EVP_DigestUpdate(imp->md, f->text.s, f->text.len);
}

/* The identity of the content into imp->ident: "c:" and the SHA-256 of
 * the fields of schema 1, then, unless legacy, the later ones present. */
static void
identity_digest(struct importer *imp, enum import_key body, int legacy)
{
	static const char	 hex[] = "0123456789abcdef";
	static const enum import_key later[] = {
		KEY_ANONID, KEY_PREVID, KEY_NAME, KEY_CATEGORY, KEY_ORIGTS
	};
	unsigned char		 md[EVP_MAX_MD_SIZE];
	char			 text[2 * EVP_MAX_MD_SIZE];
	unsigned int		 mdlen, i;

	if (EVP_DigestInit_ex(imp->md, EVP_sha256(), NULL) != 1)
		fatalx("SHA-256 is not available");
	identity_field(imp, KEY_TYPE);
	identity_field(imp, KEY_USERID);
	identity_field(imp, KEY_GROUPID);
	identity_field(imp, KEY_EVENT);
	identity_field(imp, KEY_TIMESTAMP);
	identity_field(imp, body);
	for (i = 0; !legacy && i < sizeof later / sizeof later[0]; i++)
		if (imp->fields[later[i]].present)
			identity_field(imp, later[i]);
	if (EVP_DigestFinal_ex(imp->md, md, &mdlen) != 1)
		fatalx("SHA-256 failed");
	for (i = 0; i < mdlen; i++) {
		text[2 * i] = hex[md[i] >> 4];
		text[2 * i + 1] = hex[md[i] & 15];
	}
	imp->ident.len = 0;
	buf_add(&imp->ident, "c:", 2);
	buf_add(&imp->ident, text, 2 * mdlen);
}

/* Work out the message's identity into imp->ident: "m:" and the
 * messageId, or "c:" and the SHA-256 of the content. */
void
identity_of(struct importer *imp, enum import_type t)
{
	struct import_field	*id = &imp->fields[KEY_MESSAGEID];

	imp->ident.len = 0;
	if (id->present && id->text.len != 0) {
		buf_add(&imp->ident, "m:", 2);
		buf_add(&imp->ident, id->text.s, id->text.len);
		return;
	}
	identity_digest(imp, t == TYPE_IDENTIFY || t == TYPE_GROUP ?
	    KEY_TRAITS : KEY_PROPERTIES, 0);
}

/*
 * Was the message imported before the upgrade to schema 3, under the
 * identity of schema 1? Only a message schema 1 took (a track, identify
 * or group with a userId) whose identity now counts fields it ignored
 * (anonymousId, originalTimestamp) has another. 1 when it was, 0 when
 * not, -1 on a fault.
 */
int
identity_legacy(struct importer *imp, enum import_type t)
{
	struct import_field	*f = imp->fields;
	sqlite3_stmt		*st = imp->legacy_find;
	int			 rc, found = 0;

	if ((imp->legacy_eid == 0 && !imp->legacy_msgs) ||
	    imp->ident.s[0] != 'c' || !f[KEY_USERID].present ||
	    (!f[KEY_ANONID].present && !f[KEY_ORIGTS].present) ||
	    (t != TYPE_TRACK && t != TYPE_IDENTIFY && t != TYPE_GROUP))
		return 0;
	identity_digest(imp, t == TYPE_TRACK ? KEY_PROPERTIES : KEY_TRAITS, 1);
	sqlite3_bind_text(st, 1, imp->ident.s, (int)imp->ident.len,
	    SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, imp->legacy_eid);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		found = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	identity_of(imp, t);
	return rc == SQLITE_ROW ? found : -1;
}

/* Record a message's identity; IMPORT_DUP when it was seen before. */
int
identity_seen(struct importer *imp, char *err, size_t errlen)
{
	sqlite3_stmt	*st = imp->message_add;
	int		 rc;

	sqlite3_bind_text(st, 1, imp->ident.s, (int)imp->ident.len,
	    SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return message_fault(imp, err, errlen);
	return sqlite3_changes(imp->db) == 0 ? IMPORT_DUP : IMPORT_OK;
}
