/*
 * Paths in the config that name a file journeyd reads: a plugin's FILE
 * setting (token_file, secret_file, password_file), a key file. One that
 * begins with "$CREDENTIALS_DIRECTORY/" is resolved against that variable,
 * which systemd sets for a service whose unit has LoadCredential= (README,
 * "Secrets under systemd"; journeyd.conf(5)); any other path is taken as
 * written. Every such path goes through conf_path(), so they all behave
 * the same.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rules/rules.h"

#define CONF_CREDENTIALS	"CREDENTIALS_DIRECTORY"

/* The length of the "$CREDENTIALS_DIRECTORY/" (or "${...}/") that path
 * begins with, or 0. */
static size_t
conf_path_credential(const char *path)
{
	static const char	*forms[] = { "$" CONF_CREDENTIALS "/",
	    "${" CONF_CREDENTIALS "}/", NULL };

	for (int i = 0; forms[i] != NULL; i++)
		if (strncmp(path, forms[i], strlen(forms[i])) == 0)
			return strlen(forms[i]);
	return 0;
}

/* Resolve a path from the config: "$CREDENTIALS_DIRECTORY/NAME" against
 * that variable, any other path as it is. Returns it (caller frees), or
 * NULL with the reason in err. */
char *
conf_path(const char *path, char *err, size_t errlen)
{
	size_t		 n = conf_path_credential(path);
	const char	*dir;
	int		 len;

	if (n == 0 && path[0] == '$') {
		snprintf(err, errlen, "\"%s\": only $%s/ is expanded in a "
		    "path", path, CONF_CREDENTIALS);
		return NULL;
	}
	if (n == 0)
		return xstrdup(path);
	if (path[n] == '\0') {
		snprintf(err, errlen, "\"%s\" names no credential: write "
		    "$%s/NAME, NAME as in the unit's LoadCredential=NAME:FILE",
		    path, CONF_CREDENTIALS);
		return NULL;
	}
	if ((dir = getenv(CONF_CREDENTIALS)) == NULL || *dir == '\0') {
		snprintf(err, errlen, "\"%s\": %s is not set (systemd sets it "
		    "from the unit's LoadCredential=; by hand, name the folder "
		    "those read from: %s=%s/journeyd journeyd --check)", path,
		    CONF_CREDENTIALS, CONF_CREDENTIALS, SYSCONFDIR);
		return NULL;
	}
	len = (int)strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	return xprintf("%.*s/%s", len, dir, path + n);
}

/* Resolve path (as conf_path) and check that it is a file journeyd can
 * read; what says what the file holds ("the SMTP AUTH password"), for the
 * message when it is missing. Warns in probs, at file:line (the setting's),
 * when it is readable by everyone. Returns the resolved path (caller
 * frees), or NULL with the reason in err. */
char *
conf_path_readable(const char *path, const char *what, char *err,
    size_t errlen, struct problems *probs, const char *file, int line)
{
	struct stat	 sb;
	char		*p, from[256] = "";
	size_t		 n = conf_path_credential(path);

	if ((p = conf_path(path, err, errlen)) == NULL)
		return NULL;
	if (n != 0)
		snprintf(from, sizeof from, " (under systemd, in the FILE of "
		    "the unit's LoadCredential=%s:FILE)", path + n);
	if (stat(p, &sb) != 0 && errno == ENOENT) {
		snprintf(err, errlen, "\"%s\" is missing: put %s there, mode "
		    "0600%s", p, what != NULL ? what : "what it should hold",
		    from);
		goto fail;
	}
	if (access(p, R_OK) != 0 || stat(p, &sb) != 0) {
		snprintf(err, errlen, "cannot read \"%s\": %s%s", p,
		    strerror(errno), errno == EACCES ? " (a service run by "
		    "systemd as its own user gets it through LoadCredential=: "
		    "see journeyd.conf(5))" : "");
		goto fail;
	}
	if (S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "\"%s\" is a folder, not a file", p);
		goto fail;
	}
	if (sb.st_mode & S_IROTH)
		problems_warn(probs, file, line, "\"%s\" is readable by "
		    "everyone; a secret should be mode 0600 or 0640", p);
	return p;
fail:
	free(p);
	return NULL;
}
