/*
 * crm: open a task in HubSpot or Salesforce for the action's subject. The
 * task's subject and body are templates; it is due a duration after now. The
 * id the CRM returns is noted on the action. With Salesforce and
 * external_id_field, the task is upserted by the action id, so that a retry
 * never creates a second task.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "journeyd/plugin.h"
#include "putil.h"

enum crm_flavor { CRM_HUBSPOT, CRM_SALESFORCE };

struct crm {
	enum crm_flavor		 flavor;
	char			*url;		/* base, without trailing '/' */
	char			*token;
	size_t			 tokenlen;
	char			*api_version;
	char			*external_id_field;
	long			 connect_timeout;
	long			 timeout;
	struct putil_pool	*curls;
};

/* A task's fields, expanded for one action (the host's strings). */
struct crm_task {
	const char	*subject;
	const char	*body;		/* or NULL */
	const char	*owner;		/* or NULL */
	const char	*priority;	/* HIGH, MEDIUM or LOW */
	int64_t		 due;		/* Unix seconds */
};

static const struct jd_setting crm_settings[] = {
	{ "flavor", JD_T_STRING, 1, NULL, "\"hubspot\" or \"salesforce\"" },
	{ "url", JD_T_STRING, 1, NULL,
	  "API base URL, e.g. https://api.hubapi.com" },
	{ "token_file", JD_T_FILE, 1, NULL,
	  "the HubSpot private app token or Salesforce access token" },
	{ "api_version", JD_T_STRING, 0, "v59.0", "Salesforce API version" },
	{ "external_id_field", JD_T_STRING, 0, NULL,
	  "Salesforce: upsert tasks by this external id field (action id)" },
	{ "connect_timeout", JD_T_DURATION, 0, "10s",
	  "longest wait for the connection" },
	{ "request_timeout", JD_T_DURATION, 0, "30s",
	  "longest a whole request may take" },
	{ NULL, 0, 0, NULL, NULL }
};

static const struct jd_setting crm_params[] = {
	{ "subject", JD_T_STRING, 1, NULL, "task subject (a template)" },
	{ "body", JD_T_STRING, 0, NULL, "task body (a template)" },
	{ "due", JD_T_DURATION, 0, "1d", "due this long after now" },
	{ "priority", JD_T_STRING, 0, "MEDIUM", "HIGH, MEDIUM or LOW" },
	{ "owner", JD_T_STRING, 0, NULL, "CRM owner id (a template)" },
	{ NULL, 0, 0, NULL, NULL }
};

/* Free an instance's state. */
static void
crm_free(struct crm *crm)
{
	if (crm == NULL)
		return;
	free(crm->url);
	if (crm->token != NULL) {
		OPENSSL_cleanse(crm->token, crm->tokenlen);
		free(crm->token);
	}
	free(crm->api_version);
	free(crm->external_id_field);
	putil_pool_free(crm->curls);
	free(crm);
}

/* Is s a non-empty run of letters, digits, '_' and extra characters? */
static int
crm_is_word(const char *s, const char *extra)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && *s != '_' &&
		    strchr(extra, *s) == NULL)
			return 0;
	}
	return 1;
}

/* Read an instance's settings into a new state; NULL with err when they
 * are wrong. Reads the token, opens nothing. */
static struct crm *
crm_new(const struct jd_host *host, const struct jd_settings *settings,
    char *err, size_t errlen)
{
	struct crm	*crm;
	const char	*flavor, *url, *v;
	size_t		 len;

	crm = putil_calloc(1, sizeof *crm);
	flavor = host->setting(settings, "flavor");
	if (flavor != NULL && strcmp(flavor, "hubspot") == 0)
		crm->flavor = CRM_HUBSPOT;
	else if (flavor != NULL && strcmp(flavor, "salesforce") == 0)
		crm->flavor = CRM_SALESFORCE;
	else {
		snprintf(err, errlen, "flavor must be \"hubspot\" or "
		    "\"salesforce\"");
		goto fail;
	}

	url = host->setting(settings, "url");
	if (url == NULL || (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0)) {
		snprintf(err, errlen, "url must start with http:// or "
		    "https://");
		goto fail;
	}
	len = strlen(url);
	while (len > 0 && url[len - 1] == '/')
		len--;
	crm->url = putil_strndup(url, len);

	if ((v = host->setting(settings, "token_file")) == NULL) {
		snprintf(err, errlen, "token_file is required");
		goto fail;
	}
	if (putil_read_secret(v, &crm->token, &crm->tokenlen, err,
	    errlen) != 0)
		goto fail;
	for (size_t i = 0; i < crm->tokenlen; i++) {
		if ((unsigned char)crm->token[i] < 0x21 ||
		    crm->token[i] == 0x7f) {
			snprintf(err, errlen, "%s: the token must be one line "
			    "without spaces", v);
			goto fail;
		}
	}

	v = host->setting(settings, "api_version");
	crm->api_version = putil_strdup(v != NULL ? v : "v59.0");
	if (!crm_is_word(crm->api_version, ".")) {
		snprintf(err, errlen, "bad api_version: %s", crm->api_version);
		goto fail;
	}
	if ((v = host->setting(settings, "external_id_field")) != NULL) {
		if (crm->flavor != CRM_SALESFORCE) {
			snprintf(err, errlen, "external_id_field is for "
			    "flavor \"salesforce\" only");
			goto fail;
		}
		if (!crm_is_word(v, "")) {
			snprintf(err, errlen, "bad external_id_field: %s", v);
			goto fail;
		}
		crm->external_id_field = putil_strdup(v);
	}

	crm->connect_timeout = (long)host->setting_int(settings,
	    "connect_timeout");
	crm->timeout = (long)host->setting_int(settings, "request_timeout");
	if (crm->connect_timeout <= 0 || crm->timeout <= 0) {
		snprintf(err, errlen, "connect_timeout and request_timeout "
		    "must be positive");
		goto fail;
	}
	return crm;

fail:
	crm_free(crm);
	return NULL;
}

/* Check an instance's settings: flavor, URL, token and the rest. */
static int
crm_check_settings(const struct jd_host *host,
    const struct jd_settings *settings, char *err, size_t errlen)
{
	struct crm	*crm;

	if ((crm = crm_new(host, settings, err, errlen)) == NULL)
		return -1;
	crm_free(crm);
	return 0;
}

/* Start an instance: its settings, the token read once, its handles. */
static int
crm_init(const struct jd_host *host, const struct jd_settings *settings,
    void **state, char *err, size_t errlen)
{
	struct crm	*crm;

	if ((crm = crm_new(host, settings, err, errlen)) == NULL)
		return -1;
	crm->curls = putil_curl_pool();
	*state = crm;
	return 0;
}

/* Map a priority (any case) to HIGH, MEDIUM or LOW; NULL if it is none. */
static const char *
crm_priority(const char *p)
{
	static const char *names[] = { "HIGH", "MEDIUM", "LOW" };

	if (p == NULL)
		return "MEDIUM";
	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(p, names[i]) == 0)
			return names[i];
	}
	return NULL;
}

/* Salesforce's spelling of a priority. */
static const char *
crm_salesforce_priority(const char *p)
{
	if (strcmp(p, "HIGH") == 0)
		return "High";
	if (strcmp(p, "LOW") == 0)
		return "Low";
	return "Normal";
}

/* Check one action's parameters, without the instance's state, and hand
 * the host its templates. */
static int
crm_check(void *state, const struct jd_host *host,
    const struct jd_action *a, char *err, size_t errlen)
{
	static const char	*templates[] = { "subject", "body", "owner" };
	const char		*subject = host->param(a, "subject");
	const char		*priority = host->param(a, "priority");
	int64_t			 secs;

	if (subject == NULL || *subject == '\0') {
		snprintf(err, errlen, "crm: subject is required");
		return -1;
	}
	if (crm_priority(priority) == NULL) {
		snprintf(err, errlen, "crm: priority must be HIGH, MEDIUM or "
		    "LOW, not \"%s\"", priority);
		return -1;
	}
	if (host->param_duration(a, "due", &secs) < 0) {
		snprintf(err, errlen, "crm: due is not a duration: \"%s\"",
		    host->param(a, "due"));
		return -1;
	}
	for (size_t i = 0; i < sizeof templates / sizeof templates[0]; i++)
		host->check_template(a, NULL, host->param(a, templates[i]));
	return 0;
}

/* Expand an optional template parameter; NULL when absent or empty. */
static const char *
crm_expand(const struct jd_host *host, const struct jd_action *action,
    const char *key)
{
	const char	*tmpl, *text;

	if ((tmpl = host->param(action, key)) == NULL)
		return NULL;
	text = host->expand(action, tmpl, JD_EXPAND_TEXT);
	return text != NULL && *text != '\0' ? text : NULL;
}

/* Build the request body for a task (absent fields left out: "s*");
 * caller frees. */
static char *
crm_body(struct crm *crm, const struct crm_task *task)
{
	char	 when[40];

	if (crm->flavor == CRM_HUBSPOT) {
		putil_iso8601(task->due, 1, when, sizeof when);
		return putil_json_text(json_pack("{s:{s:s, s:s*, s:s, s:s, "
		    "s:s, s:s*}}", "properties", "hs_task_subject",
		    task->subject, "hs_task_body", task->body, "hs_timestamp",
		    when, "hs_task_status", "NOT_STARTED", "hs_task_priority",
		    task->priority, "hubspot_owner_id", task->owner));
	}
	putil_iso8601(task->due, 0, when, sizeof when);
	when[10] = '\0';	/* YYYY-MM-DD */
	return putil_json_text(json_pack("{s:s, s:s*, s:s, s:s, s:s, s:s*}",
	    "Subject", task->subject, "Description", task->body,
	    "ActivityDate", when, "Priority",
	    crm_salesforce_priority(task->priority), "Status", "Not Started",
	    "OwnerId", task->owner));
}

/* The method and URL of a task request; caller frees the URL. */
static char *
crm_url(struct crm *crm, CURL *curl, const char *id, const char **method)
{
	char	*escaped, *url;

	*method = "POST";
	if (crm->flavor == CRM_HUBSPOT)
		return putil_printf("%s/crm/v3/objects/tasks", crm->url);
	if (crm->external_id_field == NULL)
		return putil_printf("%s/services/data/%s/sobjects/Task",
		    crm->url, crm->api_version);
	if ((escaped = curl_easy_escape(curl, id, 0)) == NULL)
		return NULL;
	*method = "PATCH";
	url = putil_printf("%s/services/data/%s/sobjects/Task/%s/%s",
	    crm->url, crm->api_version, crm->external_id_field, escaped);
	curl_free(escaped);
	return url;
}

/* Keep the task id of the response, when it has one, as the outcome's
 * external id and in a note. */
static void
crm_task_id(const struct jd_host *host, const struct jd_action *action,
    const struct putil_buf *response, struct jd_outcome *o)
{
	char	*id;

	if (response->len == 0 || (id = putil_json_member(response->s,
	    "id")) == NULL) {
		host->log(host, JD_LOG_DEBUG, "crm: %s: no task id in the "
		    "response", action->id);
		return;
	}
	putil_one_line(id);
	snprintf(o->external_id, o->external_idlen, "%s", id);
	host->note(action, host->format(action, "task %s", id));
	host->log(host, JD_LOG_DEBUG, "crm: %s: task %s", action->id, id);
	free(id);
}

/* Add a header line to a list, aborting on out-of-memory. */
static struct curl_slist *
crm_header(struct curl_slist *list, const char *line)
{
	struct curl_slist	*l;

	if ((l = curl_slist_append(list, line)) == NULL) {
		fputs("crm: out of memory\n", stderr);
		abort();
	}
	return l;
}

/* Send a task to the CRM; the answer makes the outcome. */
static void
crm_send(struct crm *crm, const struct jd_host *host,
    const struct jd_action *action, const char *body, struct jd_outcome *o)
{
	struct putil_http	 req;
	struct curl_slist	*headers = NULL;
	char			*auth, *url;
	CURL			*curl;

	o->status = JD_RETRY;
	if ((curl = putil_curl_get(crm->curls)) == NULL) {
		snprintf(o->reason, o->reasonlen, "cannot start a curl handle");
		return;
	}
	memset(&req, 0, sizeof req);
	if ((url = crm_url(crm, curl, action->id, &req.method)) == NULL) {
		putil_curl_put(crm->curls, curl);
		snprintf(o->reason, o->reasonlen, "cannot build the URL");
		return;
	}
	headers = crm_header(headers, "Content-Type: application/json");
	headers = crm_header(headers, "Accept: application/json");
	headers = crm_header(headers, "Expect:");
	auth = putil_printf("Authorization: Bearer %s", crm->token);
	headers = crm_header(headers, auth);
	OPENSSL_cleanse(auth, strlen(auth));
	free(auth);

	req.url = url;
	req.headers = headers;
	req.body = body;
	req.connect_timeout = crm->connect_timeout;
	req.timeout = crm->timeout;
	putil_http_do(curl, &req, o);
	putil_curl_put(crm->curls, curl);

	if (o->status == JD_DONE)
		crm_task_id(host, action, &req.response, o);
	else
		host->log(host, JD_LOG_INFO, "crm: %s: %s %s: %s",
		    action->id, req.method, url, o->reason);
	putil_buf_free(&req.response);
	for (struct curl_slist *l = headers; l != NULL; l = l->next)
		OPENSSL_cleanse(l->data, strlen(l->data));
	curl_slist_free_all(headers);
	free(url);
}

/* Open a task for one action. */
static void
crm_perform(void *state, const struct jd_host *host,
    const struct jd_action *action, struct jd_outcome *o)
{
	struct crm	*crm = state;
	struct crm_task	 task;
	char		*body;
	int64_t		 secs = 86400;
	char		*owner;

	memset(&task, 0, sizeof task);
	o->status = JD_FAILED;
	if ((task.priority = crm_priority(host->param(action,
	    "priority"))) == NULL)
		snprintf(o->reason, o->reasonlen, "bad priority");
	else if (host->param_duration(action, "due", &secs) < 0)
		snprintf(o->reason, o->reasonlen, "bad due: %s",
		    host->param(action, "due"));
	else if ((task.subject = crm_expand(host, action, "subject")) == NULL)
		snprintf(o->reason, o->reasonlen, "no subject");
	if (o->reason[0] != '\0') {
		host->log(host, JD_LOG_WARNING, "crm: %s: %s", action->id,
		    o->reason);
		return;
	}
	task.due = action->now + secs;
	task.body = crm_expand(host, action, "body");
	if ((task.owner = crm_expand(host, action, "owner")) != NULL) {
		owner = putil_strdup(task.owner);
		putil_one_line(owner);
		task.owner = host->format(action, "%s", owner);
		free(owner);
	}
	if ((body = crm_body(crm, &task)) == NULL) {
		snprintf(o->reason, o->reasonlen, "cannot build the body");
		return;
	}
	crm_send(crm, host, action, body, o);
	free(body);
}

/* Stop an instance. */
static void
crm_fini(void *state)
{
	crm_free(state);
}

static const struct jd_plugin crm_plugin = {
	.abi_major = JD_PLUGIN_ABI_MAJOR,
	.abi_minor = JD_PLUGIN_ABI_MINOR,
	.size = sizeof(struct jd_plugin),
	.name = "crm",
	.description = "open a task in HubSpot or Salesforce",
	.settings = crm_settings,
	.params = crm_params,
	.init = crm_init,
	.check = crm_check,
	.fini = crm_fini,
	.setting_size = sizeof(struct jd_setting),
	.check_settings = crm_check_settings,
	.perform = crm_perform,
};

JD_PLUGIN_DECLARE(crm_plugin)
