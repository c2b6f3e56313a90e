/*
 * secret: a test plugin with a secret, for tests/e2e/secrets.sh. It reads a
 * token from token_file (a setting of type FILE, as the crm and webhook
 * plugins have) and "sends" each action with it, logging only its length.
 * Anything that logs the token is the host's doing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journeyd/plugin.h"

struct secret_state {
	char	 token[256];
};

static const struct jd_setting secret_settings[] = {
	{ "token_file", JD_T_FILE, 1, NULL, "the token" },
	{ NULL, 0, 0, NULL, NULL }
};

static const struct jd_setting secret_params[] = {
	{ "message", JD_T_STRING, 0, NULL, "a template" },
	{ NULL, 0, 0, NULL, NULL }
};

/* Read the token. */
static int
secret_init(const struct jd_host *host, const struct jd_settings *set,
    void **state, char *err, size_t errlen)
{
	const char		*path = host->setting(set, "token_file");
	struct secret_state	*s;
	FILE			*f;
	size_t			 n;

	if (path == NULL || (f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "cannot read the token file");
		return -1;
	}
	if ((s = calloc(1, sizeof *s)) == NULL) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n = fread(s->token, 1, sizeof s->token - 1, f);
	fclose(f);
	s->token[strcspn(s->token, "\r\n")] = '\0';
	if (n == 0) {
		free(s);
		snprintf(err, errlen, "the token file is empty");
		return -1;
	}
	*state = s;
	return 0;
}

/* "Send" one action with the token: log its length, never the token. */
static enum jd_result
secret_act(void *state, const struct jd_host *host, const struct jd_action *a,
    char *reason, size_t reasonlen)
{
	struct secret_state	*s = state;

	host->log(host, JD_LOG_NOTICE, "sent %s for %s with a token of %zu "
	    "bytes", a->id, a->subject_id, strlen(s->token));
	host->note(a, "sent");
	return JD_DONE;
}

/* Forget the token. */
static void
secret_fini(void *state)
{
	struct secret_state	*s = state;

	if (s != NULL)
		memset(s->token, 0, sizeof s->token);
	free(s);
}

static const struct jd_plugin secret_plugin = {
	.abi_major = JD_PLUGIN_ABI_MAJOR,
	.abi_minor = JD_PLUGIN_ABI_MINOR,
	.size = sizeof(struct jd_plugin),
	.name = "secret",
	.description = "test plugin: a token from a file",
	.settings = secret_settings,
	.params = secret_params,
	.init = secret_init,
	.act = secret_act,
	.fini = secret_fini,
};

JD_PLUGIN_DECLARE(secret_plugin)
