/*
 * testsink: a plugin for the dispatcher's tests and benchmark (built by make
 * check, never installed). What it does is driven by its settings and by the
 * action's parameters (rendered first, so "{{trait}}" works; a parameter
 * overrides the setting of the same name):
 *
 *   file         append "ID ATTEMPT\n" for every call (O_APPEND, one write)
 *   url          POST the action as JSON there (libcurl, a handle per thread
 *                reusing its connection): 2xx done, 429/5xx retry, else failed
 *   down_file    while this file exists: retry ("down")
 *   fail_first   retry for the first N attempts of each action
 *   retry_after  ask for a retry after N seconds (the outcome's retry_after)
 *   reason       the reason of a retry (default: "failing attempt N")
 *   hang_ms      sleep this long before answering
 *   fail         "true": failed for good
 *   hold         "true": held
 *   abort        "true": abort() the whole process (a poison action)
 *   init_file    (a setting) init() creates this file: proof that it ran
 *   reject       (a parameter) "true": check() refuses the action
 *   enroll       (a parameter) when done, the outcome asks for the subject
 *                to be enrolled in this journey
 *   no_status    (a parameter) "true": perform() sets no status
 *
 * It speaks ABI 1.1: perform() with an outcome, check_settings() (hang_ms
 * must not be negative), and a check() that needs no state.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "journeyd/plugin.h"

static const struct jd_setting sink_settings[] = {
	{ "file", JD_T_STRING, 0, NULL, "append \"ID ATTEMPT\" lines here" },
	{ "url", JD_T_STRING, 0, NULL, "POST each action here" },
	{ "down_file", JD_T_STRING, 0, NULL, "retry while this file exists" },
	{ "fail_first", JD_T_INT, 0, "0", "retry the first N attempts" },
	{ "retry_after", JD_T_INT, 0, "0", "retry-after hint, seconds" },
	{ "hang_ms", JD_T_INT, 0, "0", "sleep this long in each call" },
	{ "init_file", JD_T_STRING, 0, NULL, "init() creates this file" },
	{ NULL, 0, 0, NULL, NULL }
};

static const struct jd_setting sink_params[] = {
	{ "fail_first", JD_T_STRING, 0, NULL, "retry the first N attempts" },
	{ "retry_after", JD_T_STRING, 0, NULL, "retry-after hint, seconds" },
	{ "hang_ms", JD_T_STRING, 0, NULL, "sleep this long" },
	{ "fail", JD_T_STRING, 0, NULL, "\"true\": failed for good" },
	{ "hold", JD_T_STRING, 0, NULL, "\"true\": held" },
	{ "abort", JD_T_STRING, 0, NULL, "\"true\": abort the process" },
	{ "reason", JD_T_STRING, 0, NULL, "the reason of a retry" },
	{ "reject", JD_T_STRING, 0, NULL, "\"true\": check() refuses it" },
	{ "enroll", JD_T_STRING, 0, NULL, "when done, enroll in this journey" },
	{ "no_status", JD_T_STRING, 0, NULL, "\"true\": set no status" },
	{ NULL, 0, 0, NULL, NULL }
};

static pthread_key_t	 sink_curl_key;
static pthread_once_t	 sink_once = PTHREAD_ONCE_INIT;

/* Free a thread's curl handle when the thread ends. */
static void
sink_curl_free(void *h)
{
	curl_easy_cleanup(h);
}

static void
sink_key_init(void)
{
	pthread_key_create(&sink_curl_key, sink_curl_free);
}

/* A parameter (expanded) or else the setting, as text: the host's. */
static const char *
sink_get(const struct jd_host *host, const struct jd_action *a,
    const char *key)
{
	const char	*p;

	/* No parameters (the benchmark's case): spare the look-ups. */
	p = strcmp(a->params, "{}") != 0 ? host->param(a, key) : NULL;
	if (p != NULL)
		return host->expand(a, p, JD_EXPAND_TEXT);
	return host->setting(a->settings, key);
}

/* A parameter or setting as a number (0 when absent). */
static long
sink_num(const struct jd_host *host, const struct jd_action *a,
    const char *key)
{
	const char	*v = sink_get(host, a, key);

	return v != NULL ? strtol(v, NULL, 10) : 0;
}

/* Is a parameter "true"? */
static int
sink_true(const struct jd_host *host, const struct jd_action *a,
    const char *key)
{
	const char	*v = sink_get(host, a, key);

	return v != NULL && strcmp(v, "true") == 0;
}

/* POST the action to url; the result as its HTTP status says. */
static enum jd_result
sink_post(const char *url, const struct jd_action *a, char *reason,
    size_t reasonlen)
{
	CURL			*h;
	struct curl_slist	*hdrs = NULL;
	char			 body[512], key[300];
	long			 code = 0;
	CURLcode		 rc;

	pthread_once(&sink_once, sink_key_init);
	if ((h = pthread_getspecific(sink_curl_key)) == NULL) {
		if ((h = curl_easy_init()) == NULL) {
			snprintf(reason, reasonlen, "curl_easy_init failed");
			return JD_RETRY;
		}
		pthread_setspecific(sink_curl_key, h);
	}
	snprintf(body, sizeof body, "{\"id\":\"%s\",\"journey\":\"%s\","
	    "\"rule\":\"%s\",\"attempt\":%d}", a->id, a->journey, a->rule,
	    a->attempt);
	snprintf(key, sizeof key, "Idempotency-Key: %s", a->id);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, key);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	rc = curl_easy_perform(h);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK) {
		snprintf(reason, reasonlen, "%s", curl_easy_strerror(rc));
		return JD_RETRY;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 200 && code < 300)
		return JD_DONE;
	snprintf(reason, reasonlen, "HTTP %ld", code);
	return code == 429 || code >= 500 ? JD_RETRY : JD_FAILED;
}

/* Refuse a negative hang_ms, and nothing else. */
static int
sink_check_settings(const struct jd_host *host, const struct jd_settings *set,
    char *err, size_t errlen)
{
	if (host->setting_int(set, "hang_ms") < 0) {
		snprintf(err, errlen, "hang_ms must not be negative");
		return -1;
	}
	return 0;
}

/* Create init_file, when set: the one side effect of starting. */
static int
sink_init(const struct jd_host *host, const struct jd_settings *set,
    void **state, char *err, size_t errlen)
{
	const char	*path = host->setting(set, "init_file");
	int		 fd;

	if (path != NULL) {
		if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC,
		    0644)) == -1) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
		close(fd);
	}
	*state = NULL;
	return 0;
}

/* Refuse an action whose reject parameter is "true". */
static int
sink_check(void *state, const struct jd_host *host, const struct jd_action *a,
    char *err, size_t errlen)
{
	const char	*reject = host->param(a, "reject");

	if (reject != NULL && strcmp(reject, "true") == 0) {
		snprintf(err, errlen, "testsink: told to reject");
		return -1;
	}
	return 0;
}

/* Say a retry in the outcome, with the reason given or made. */
static void
sink_retry(const struct jd_host *host, const struct jd_action *a,
    struct jd_outcome *o, const char *made)
{
	const char	*reason = sink_get(host, a, "reason");

	o->status = JD_RETRY;
	o->retry_after = sink_num(host, a, "retry_after");
	snprintf(o->reason, o->reasonlen, "%s", reason != NULL ? reason : made);
}

/* Perform one action as the settings and parameters say. */
static void
sink_perform(void *state, const struct jd_host *host,
    const struct jd_action *a, struct jd_outcome *o)
{
	const char	*file = host->setting(a->settings, "file");
	const char	*url = host->setting(a->settings, "url");
	const char	*down = host->setting(a->settings, "down_file");
	long		 hang = sink_num(host, a, "hang_ms");
	char		 line[320], made[64];
	int		 fd, n;

	if (file != NULL) {
		n = snprintf(line, sizeof line, "%s %d\n", a->id, a->attempt);
		if ((fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		    0644)) == -1 || write(fd, line, n) != n) {
			snprintf(o->reason, o->reasonlen, "%s: %s", file,
			    strerror(errno));
			if (fd != -1)
				close(fd);
			o->status = JD_RETRY;
			return;
		}
		close(fd);
	}
	if (sink_true(host, a, "abort"))
		abort();
	if (sink_true(host, a, "no_status"))
		return;
	if (hang > 0) {
		struct timespec ts = { hang / 1000, (hang % 1000) * 1000000 };
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	snprintf(made, sizeof made, "failing attempt %d", a->attempt);
	if (down != NULL && access(down, F_OK) == 0)
		sink_retry(host, a, o, "down");
	else if (a->attempt <= sink_num(host, a, "fail_first"))
		sink_retry(host, a, o, made);
	else if (sink_true(host, a, "fail")) {
		snprintf(o->reason, o->reasonlen, "told to fail");
		o->status = JD_FAILED;
	} else if (sink_true(host, a, "hold")) {
		snprintf(o->reason, o->reasonlen, "told to hold");
		o->status = JD_HELD;
	} else if (url != NULL)
		o->status = sink_post(url, a, o->reason, o->reasonlen);
	else
		o->status = JD_DONE;
	if (o->status == JD_DONE)
		o->enroll.journey = sink_get(host, a, "enroll");
}

static const struct jd_plugin sink_plugin = {
	.abi_major = JD_PLUGIN_ABI_MAJOR,
	.abi_minor = JD_PLUGIN_ABI_MINOR,
	.size = sizeof(struct jd_plugin),
	.name = "testsink",
	.description = "a test plugin driven by its settings and parameters",
	.settings = sink_settings,
	.params = sink_params,
	.init = sink_init,
	.check = sink_check,
	.setting_size = sizeof(struct jd_setting),
	.check_settings = sink_check_settings,
	.perform = sink_perform,
};

JD_PLUGIN_DECLARE(sink_plugin)
