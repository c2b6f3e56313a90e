/*
 * webhook: POST the action as a JSON document, following the Standard
 * Webhooks convention (webhook-id, webhook-timestamp, webhook-signature) and
 * carrying the action id as Idempotency-Key. The body depends only on the
 * action, so every retry sends the same bytes under the same id.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "journeyd/plugin.h"
#include "putil.h"

struct webhook {
	char			*url;
	unsigned char		*key;		/* signing key, or NULL */
	size_t			 keylen;
	long			 connect_timeout;
	long			 timeout;
	struct putil_pool	*curls;
};

static const struct jd_setting webhook_settings[] = {
	{ "url", JD_T_STRING, 1, NULL, "where to POST (http:// or https://)" },
	{ "secret_file", JD_T_FILE, 0, NULL,
	  "the signing secret (whsec_BASE64 or raw bytes)" },
	{ "connect_timeout", JD_T_DURATION, 0, "10s",
	  "longest wait for the connection" },
	{ "request_timeout", JD_T_DURATION, 0, "30s",
	  "longest a whole request may take" },
	{ NULL, 0, 0, NULL, NULL }
};

static const struct jd_setting webhook_params[] = {
	{ NULL, 0, 0, NULL, NULL }
};

/* Free an instance's state. */
static void
webhook_free(struct webhook *wh)
{
	if (wh == NULL)
		return;
	free(wh->url);
	if (wh->key != NULL) {
		OPENSSL_cleanse(wh->key, wh->keylen);
		free(wh->key);
	}
	putil_pool_free(wh->curls);
	free(wh);
}

/* Read the signing key: "whsec_" and base64, or the raw file content. */
static int
webhook_read_key(struct webhook *wh, const char *path, char *err,
    size_t errlen)
{
	char	*secret;
	size_t	 len;

	if (putil_read_secret(path, &secret, &len, err, errlen) != 0)
		return -1;
	if (strncmp(secret, "whsec_", 6) == 0) {
		if (putil_base64_decode(secret + 6, &wh->key,
		    &wh->keylen) != 0 || wh->keylen == 0) {
			snprintf(err, errlen, "%s: bad whsec_ secret (not "
			    "base64)", path);
			OPENSSL_cleanse(secret, len);
			free(secret);
			return -1;
		}
		OPENSSL_cleanse(secret, len);
		free(secret);
	} else {
		wh->key = (unsigned char *)secret;
		wh->keylen = len;
	}
	return 0;
}

/* Read an instance's settings into a new state; NULL with err when they
 * are wrong. Reads the secret, opens nothing. */
static struct webhook *
webhook_new(const struct jd_host *host, const struct jd_settings *settings,
    char *err, size_t errlen)
{
	struct webhook	*wh;
	const char	*url, *secret_file;

	url = host->setting(settings, "url");
	if (url == NULL || (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0)) {
		snprintf(err, errlen, "url must start with http:// or "
		    "https://");
		return NULL;
	}
	wh = putil_calloc(1, sizeof *wh);
	wh->url = putil_strdup(url);
	secret_file = host->setting(settings, "secret_file");
	if (secret_file != NULL &&
	    webhook_read_key(wh, secret_file, err, errlen) != 0) {
		webhook_free(wh);
		return NULL;
	}
	wh->connect_timeout = (long)host->setting_int(settings,
	    "connect_timeout");
	wh->timeout = (long)host->setting_int(settings, "request_timeout");
	if (wh->connect_timeout <= 0 || wh->timeout <= 0) {
		snprintf(err, errlen, "connect_timeout and request_timeout "
		    "must be positive");
		webhook_free(wh);
		return NULL;
	}
	return wh;
}

/* Check an instance's settings: the URL, the secret. */
static int
webhook_check_settings(const struct jd_host *host,
    const struct jd_settings *settings, char *err, size_t errlen)
{
	struct webhook	*wh;

	if ((wh = webhook_new(host, settings, err, errlen)) == NULL)
		return -1;
	webhook_free(wh);
	return 0;
}

/* Start an instance: its settings, the secret read once, its handles. */
static int
webhook_init(const struct jd_host *host, const struct jd_settings *settings,
    void **state, char *err, size_t errlen)
{
	struct webhook	*wh;

	if ((wh = webhook_new(host, settings, err, errlen)) == NULL)
		return -1;
	wh->curls = putil_curl_pool();
	*state = wh;
	return 0;
}

/* Build the JSON body of an action. Returns NULL with err on bad traits. */
static char *
webhook_body(const struct jd_action *action, char *err, size_t errlen)
{
	json_error_t	 jerr;
	json_t		*traits;
	char		 when[32], *body;

	if ((traits = json_loads(action->traits != NULL ? action->traits :
	    "{}", 0, &jerr)) == NULL) {
		snprintf(err, errlen, "the traits are not JSON: %s",
		    jerr.text);
		return NULL;
	}
	putil_iso8601(action->time, 0, when, sizeof when);
	body = putil_json_text(json_pack("{s:s, s:s, s:s, s:s, s:s, "
	    "s:{s:s, s:s, s:o}}", "id", action->id, "journey",
	    action->journey, "stage", action->stage, "rule", action->rule,
	    "time", when, "subject", "id", action->subject_id, "kind",
	    action->subject_kind, "traits", traits));
	if (body == NULL)
		snprintf(err, errlen, "cannot build the body");
	return body;
}

/* Sign "id.timestamp.body": v1,<base64 of HMAC-SHA256>. */
static char *
webhook_sign(struct webhook *wh, const char *id, const char *timestamp,
    const char *body)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	char		*content, *b64, *header;

	content = putil_printf("%s.%s.%s", id, timestamp, body);
	if (HMAC(EVP_sha256(), wh->key, (int)wh->keylen,
	    (const unsigned char *)content, strlen(content), md,
	    &mdlen) == NULL) {
		free(content);
		return NULL;
	}
	free(content);
	b64 = putil_base64(md, mdlen);
	header = putil_printf("webhook-signature: v1,%s", b64);
	free(b64);
	return header;
}

/* Add a header line to a list, aborting on out-of-memory. */
static struct curl_slist *
webhook_header(struct curl_slist *list, const char *line)
{
	struct curl_slist	*l;

	if ((l = curl_slist_append(list, line)) == NULL) {
		fputs("webhook: out of memory\n", stderr);
		abort();
	}
	return l;
}

/* POST one action. */
static void
webhook_perform(void *state, const struct jd_host *host,
    const struct jd_action *action, struct jd_outcome *o)
{
	struct webhook		*wh = state;
	struct putil_http	 req;
	struct curl_slist	*headers = NULL;
	char			 timestamp[32], *body, *line;
	CURL			*curl;

	o->status = JD_FAILED;
	if (strpbrk(action->id, "\r\n") != NULL) {
		snprintf(o->reason, o->reasonlen, "bad action id");
		return;
	}
	if ((body = webhook_body(action, o->reason, o->reasonlen)) == NULL) {
		host->log(host, JD_LOG_ERR, "webhook: %s: %s", action->id,
		    o->reason);
		return;
	}
	snprintf(timestamp, sizeof timestamp, "%lld", (long long)action->now);

	headers = webhook_header(headers, "Content-Type: application/json");
	headers = webhook_header(headers, "Expect:");
	line = putil_printf("webhook-id: %s", action->id);
	headers = webhook_header(headers, line);
	free(line);
	line = putil_printf("webhook-timestamp: %s", timestamp);
	headers = webhook_header(headers, line);
	free(line);
	if (wh->key != NULL) {
		if ((line = webhook_sign(wh, action->id, timestamp,
		    body)) == NULL) {
			snprintf(o->reason, o->reasonlen, "cannot sign the "
			    "body");
			o->status = JD_RETRY;
			curl_slist_free_all(headers);
			free(body);
			return;
		}
		headers = webhook_header(headers, line);
		free(line);
	}
	line = putil_printf("Idempotency-Key: %s", action->id);
	headers = webhook_header(headers, line);
	free(line);

	if ((curl = putil_curl_get(wh->curls)) == NULL) {
		snprintf(o->reason, o->reasonlen, "cannot start a curl handle");
		o->status = JD_RETRY;
		curl_slist_free_all(headers);
		free(body);
		return;
	}
	memset(&req, 0, sizeof req);
	req.method = "POST";
	req.url = wh->url;
	req.headers = headers;
	req.body = body;
	req.connect_timeout = wh->connect_timeout;
	req.timeout = wh->timeout;
	putil_http_do(curl, &req, o);
	putil_curl_put(wh->curls, curl);

	if (o->status == JD_DONE)
		host->log(host, JD_LOG_DEBUG, "webhook: %s: HTTP %ld",
		    action->id, req.status);
	else
		host->log(host, JD_LOG_INFO, "webhook: %s: %s", action->id,
		    o->reason);
	putil_buf_free(&req.response);
	curl_slist_free_all(headers);
	free(body);
}

/* Stop an instance. */
static void
webhook_fini(void *state)
{
	webhook_free(state);
}

static const struct jd_plugin webhook_plugin = {
	.abi_major = JD_PLUGIN_ABI_MAJOR,
	.abi_minor = JD_PLUGIN_ABI_MINOR,
	.size = sizeof(struct jd_plugin),
	.name = "webhook",
	.description = "POST the action as JSON (Standard Webhooks)",
	.settings = webhook_settings,
	.params = webhook_params,
	.init = webhook_init,
	.fini = webhook_fini,
	.setting_size = sizeof(struct jd_setting),
	.check_settings = webhook_check_settings,
	.perform = webhook_perform,
};

JD_PLUGIN_DECLARE(webhook_plugin)
