/*
 * Key files (the http block's write_key_file and admin_key_file): one key
 * per line; blank lines and lines starting with '#' are skipped, spaces and
 * tabs around a key dropped. Only the SHA-256 digest of each key is kept,
 * and a key offered by a client is hashed and compared with every digest in
 * constant time, so that neither the keys nor the time a comparison takes
 * tell anything. A key is never logged.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "rules/rules.h"

#define KEYRING_MAX_FILE	(1024 * 1024)	/* bytes */

/* The SHA-256 digest of key into out. */
static void
keyring_digest(const char *key, size_t len, unsigned char *out)
{
	unsigned int	 n = KEYRING_DIGEST;

	if (EVP_Digest(key, len, out, &n, EVP_sha256(), NULL) != 1)
		fatalx("SHA-256 failed");
}

/* Add one line's key, when it has one. */
static void
keyring_line(struct keyring *kr, char *line, size_t len)
{
	while (len > 0 && strchr(" \t\r", line[len - 1]) != NULL)
		len--;
	while (len > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	if (len == 0 || *line == '#')
		return;
	kr->digests = xreallocarray(kr->digests, kr->n + 1,
	    sizeof *kr->digests);
	keyring_digest(line, len, kr->digests[kr->n++]);
}

/* Read the keys of path into kr (emptied first). Returns 0, or -1 with
 * the reason (never a key) in err. */
int
keyring_load(struct keyring *kr, const char *path, char *err, size_t errlen)
{
	char	*text, *p, *nl;
	size_t	 len;

	keyring_free(kr);
	if ((text = file_load(path, KEYRING_MAX_FILE, &len, err, errlen)) ==
	    NULL)
		return -1;
	for (p = text; p < text + len; p = nl + 1) {
		if ((nl = memchr(p, '\n', text + len - p)) == NULL)
			nl = text + len;
		keyring_line(kr, p, nl - p);
	}
	explicit_bzero(text, len);
	free(text);
	if (kr->n == 0) {
		snprintf(err, errlen, "no key in %s (one key per line)", path);
		return -1;
	}
	return 0;
}

/* Is key (len bytes) one of kr's? */
int
keyring_match(const struct keyring *kr, const char *key, size_t len)
{
	unsigned char	 d[KEYRING_DIGEST];
	int		 found = 0;

	if (kr == NULL || key == NULL || len == 0)
		return 0;
	keyring_digest(key, len, d);
	for (int i = 0; i < kr->n; i++)
		found |= CRYPTO_memcmp(d, kr->digests[i], sizeof d) == 0;
	return found;
}

/* Forget every key. */
void
keyring_free(struct keyring *kr)
{
	free(kr->digests);
	kr->digests = NULL;
	kr->n = 0;
}
