/*
 * Small files read whole: keys, certificates.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

/* Read path whole, NUL-terminated, into a string the caller frees; its
 * length into *len. NULL, with the reason in err, when it cannot be read or
 * is longer than max bytes. */
char *
file_load(const char *path, size_t max, size_t *len, char *err,
    size_t errlen)
{
	FILE	*f;
	char	*text;
	size_t	 n;

	if ((f = fopen(path, "rb")) == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", path,
		    strerror(errno));
		return NULL;
	}
	text = xmalloc(max + 1);
	n = fread(text, 1, max + 1, f);
	if (ferror(f) || n > max) {
		snprintf(err, errlen, ferror(f) ? "cannot read %s" :
		    "%s is larger than %zu bytes", path, max);
		fclose(f);
		explicit_bzero(text, n);
		free(text);
		return NULL;
	}
	fclose(f);
	text[n] = '\0';
	if (len != NULL)
		*len = n;
	return text;
}
