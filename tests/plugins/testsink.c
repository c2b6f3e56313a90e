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
 *   retry_after  add "retry-after=N" to a retry's reason
 *   hang_ms      sleep this long before answering
 *   fail         "true": failed for good
 *   hold         "true": held
 *   abort        "true": abort() the whole process (a poison action)
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
	{ NULL, 0, 0, NULL, NULL }
};

static const struct jd_setting sink_params[] = {
	{ "fail_first", JD_T_STRING, 0, NULL, "retry the first N attempts" },
	{ "retry_after", JD_T_STRING, 0, NULL, "retry-after hint, seconds" },
	{ "hang_ms", JD_T_STRING, 0, NULL, "sleep this long" },
	{ "fail", JD_T_STRING, 0, NULL, "\"true\": failed for good" },
	{ "hold", JD_T_STRING, 0, NULL, "\"true\": held" },
	{ "abort", JD_T_STRING, 0, NULL, "\"true\": abort the process" },
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

/* A parameter (rendered) or else the setting, as text; caller frees. */
static char *
sink_get(const struct jd_host *host, const struct jd_action *a,
    const char *key)
{
	const char	*p, *s;

	/* No parameters (the benchmark's case): spare the look-ups. */
	p = strcmp(a->params, "{}") != 0 ? host->param(a, key) : NULL;

	if (p != NULL)
		return host->render(a, p);
	if ((s = host->setting(a->settings, key)) != NULL)
		return strdup(s);
	return NULL;
}

/* A parameter or setting as a number (0 when absent). */
static long
sink_num(const struct jd_host *host, const struct jd_action *a,
    const char *key)
{
	char	*v = sink_get(host, a, key);
	long	 n = v != NULL ? strtol(v, NULL, 10) : 0;

	free(v);
	return n;
}

/* Is a parameter "true"? */
static int
sink_true(const struct jd_host *host, const struct jd_action *a,
    const char *key)
{
	char	*v = sink_get(host, a, key);
	int	 t = v != NULL && strcmp(v, "true") == 0;

	free(v);
	return t;
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

/* Perform one action as the settings and parameters say. */
static enum jd_result
sink_act(void *state, const struct jd_host *host, const struct jd_action *a,
    char *reason, size_t reasonlen)
{
	const char	*file = host->setting(a->settings, "file");
	const char	*url = host->setting(a->settings, "url");
	const char	*down = host->setting(a->settings, "down_file");
	long		 hang = sink_num(host, a, "hang_ms");
	long		 ra = sink_num(host, a, "retry_after");
	char		 line[320], hint[48] = "";
	int		 fd, n;

	(void)state;
	if (ra > 0)
		snprintf(hint, sizeof hint, " retry-after=%ld", ra);
	if (file != NULL) {
		n = snprintf(line, sizeof line, "%s %d\n", a->id, a->attempt);
		if ((fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		    0644)) == -1 || write(fd, line, n) != n) {
			snprintf(reason, reasonlen, "%s: %s", file,
			    strerror(errno));
			if (fd != -1)
				close(fd);
			return JD_RETRY;
		}
		close(fd);
	}
	if (sink_true(host, a, "abort"))
		abort();
	if (hang > 0) {
		struct timespec ts = { hang / 1000, (hang % 1000) * 1000000 };
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	if (down != NULL && access(down, F_OK) == 0) {
		snprintf(reason, reasonlen, "down%s", hint);
		return JD_RETRY;
	}
	if (a->attempt <= sink_num(host, a, "fail_first")) {
		snprintf(reason, reasonlen, "failing attempt %d%s",
		    a->attempt, hint);
		return JD_RETRY;
	}
	if (sink_true(host, a, "fail")) {
		snprintf(reason, reasonlen, "told to fail");
		return JD_FAILED;
	}
	if (sink_true(host, a, "hold")) {
		snprintf(reason, reasonlen, "told to hold");
		return JD_HELD;
	}
	if (url != NULL)
		return sink_post(url, a, reason, reasonlen);
	return JD_DONE;
}

static const struct jd_plugin sink_plugin = {
	.abi_major = JD_PLUGIN_ABI_MAJOR,
	.abi_minor = JD_PLUGIN_ABI_MINOR,
	.size = sizeof(struct jd_plugin),
	.name = "testsink",
	.description = "a test plugin driven by its settings and parameters",
	.settings = sink_settings,
	.params = sink_params,
	.act = sink_act,
};

JD_PLUGIN_DECLARE(sink_plugin)
