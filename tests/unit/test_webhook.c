/*
 * Tests of the webhook plugin against tests/servers/http_server.py: the exact
 * body and headers, the Standard Webhooks signature (checked by the server
 * with Python's hmac), the same id and body across retries, status mapping,
 * timeouts, and several threads at once.
 */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "insight/insight.h"
#include "mock_host.h"
#include "testlib.h"

#define SECRET	"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define TRAITS	"{\"email\":\"ann@example.com\",\"plan\":\"basic\"," \
		"\"rides\":3,\"fare\":12.5,\"vip\":true}"

static const struct jd_plugin	*plugin;
static void			*plugin_dl;

/* An action as the host would hand it over. */
static struct jd_action
action_new(const char *id, const struct jd_settings *settings)
{
	struct jd_action	 a;

	memset(&a, 0, sizeof a);
	a.id = id;
	a.instance = "hook";
	a.journey = "rider";
	a.stage = "new";
	a.rule = "nudge";
	a.subject_id = "u1";
	a.subject_kind = "user";
	a.traits = TRAITS;
	a.params = "{}";
	a.time = TEST_NOW - 3600;
	a.now = TEST_NOW;
	a.attempt = 1;
	a.settings = settings;
	return a;
}

/* Start a server logging to a fresh file; returns the URL (caller frees). */
static char *
start(struct test_server *srv, char **log, const char *a1, const char *v1,
    const char *a2, const char *v2, const char *a3, const char *v3)
{
	static int	 n;

	*log = testlib_path("http-%d.jsonl", ++n);
	assert_int_equal(server_start(srv, "http_server.py", "--log", *log,
	    a1, v1, a2, v2, a3, v3, NULL), 0);
	return xprintf("http://127.0.0.1:%d/hook", srv->port);
}

/* The field at path of request n of a log; caller frees. */
static char *
request(const char *log, int n, const char *path)
{
	char	*line, *v;

	line = file_line(log, n);
	assert_non_null(line);
	v = json_get(line, path);
	free(line);
	return v;
}

/* Assert a request's field. */
static void
assert_request(const char *log, int n, const char *path, const char *want)
{
	char	*v = request(log, n, path);

	assert_non_null(v);
	assert_string_equal(v, want);
	free(v);
}

static void
test_descriptor(void **unused)
{
	int	 url = 0, timeout = 0;

	assert_int_equal(plugin->abi_major, JD_PLUGIN_ABI_MAJOR);
	assert_true(plugin->abi_minor <= JD_PLUGIN_ABI_MINOR);
	assert_int_equal(plugin->size, sizeof(struct jd_plugin));
	assert_string_equal(plugin->name, "webhook");
	assert_non_null(plugin->init);
	assert_non_null(plugin->check_settings);
	assert_non_null(plugin->perform);
	assert_non_null(plugin->fini);
	assert_int_equal(plugin->setting_size, sizeof(struct jd_setting));
	for (const struct jd_setting *s = plugin->settings; s->key; s++) {
		if (strcmp(s->key, "url") == 0)
			url = s->required;
		if (strcmp(s->key, "request_timeout") == 0)
			timeout = strcmp(s->defval, "30s") == 0;
		/* Host-owned keys are not the plugin's. */
		assert_string_not_equal(s->key, "timeout");
		assert_string_not_equal(s->key, "module");
	}
	assert_true(url);
	assert_true(timeout);
}

static void
test_bad_settings(void **unused)
{
	const char *ftp[] = { "url", "ftp://example.com/", NULL };
	const char *nofile[] = { "url", "http://127.0.0.1:1/",
	    "secret_file", "/nonexistent/secret", NULL };
	struct jd_settings	 settings = { plugin->settings, ftp };
	char			 err[256] = "", *bad;
	void			*state = NULL;

	assert_int_equal(plugin->check_settings(mock_host(), &settings, err,
	    sizeof err), -1);
	assert_non_null(strstr(err, "url"));
	assert_int_equal(plugin->init(mock_host(), &settings, &state, err,
	    sizeof err), -1);
	assert_non_null(strstr(err, "url"));
	settings.kv = nofile;
	assert_int_equal(plugin->check_settings(mock_host(), &settings, err,
	    sizeof err), -1);
	assert_non_null(strstr(err, "/nonexistent/secret"));
	assert_int_equal(plugin->init(mock_host(), &settings, &state, err,
	    sizeof err), -1);
	assert_non_null(strstr(err, "/nonexistent/secret"));

	bad = testlib_path("bad.secret");
	file_write(bad, "whsec_not*base64!\n");
	const char *badkv[] = { "url", "http://127.0.0.1:1/", "secret_file",
	    bad, NULL };
	settings.kv = badkv;
	assert_int_equal(plugin->init(mock_host(), &settings, &state, err,
	    sizeof err), -1);
	assert_non_null(strstr(err, "whsec_"));
	free(bad);
}

/* POST with a secret, check every byte the server saw. */
static void
check_post(const char *secret_text, const char *verify)
{
	struct test_server	 srv;
	struct jd_settings	 settings = { plugin->settings, NULL };
	struct jd_action	 a;
	char			 err[256] = "", reason[256] = "";
	char			*log, *url, *secret, *sig;
	void			*state = NULL;

	url = start(&srv, &log, "--verify-secret", verify, NULL, NULL, NULL,
	    NULL);
	secret = testlib_path("webhook.secret");
	file_write(secret, secret_text);
	const char *kv[] = { "url", url, "secret_file", secret, NULL };
	settings.kv = kv;
	assert_int_equal(plugin->init(mock_host(), &settings, &state, err,
	    sizeof err), 0);

	a = action_new("act-1", &settings);
	assert_int_equal(mock_perform(plugin, state, &a, reason,
	    sizeof reason), JD_DONE);
	plugin->fini(state);
	server_stop(&srv);

	assert_int_equal(file_count_lines(log), 1);
	assert_request(log, 0, "$.method", "POST");
	assert_request(log, 0, "$.path", "/hook");
	assert_request(log, 0, "$.body", "{\"id\":\"act-1\",\"journey\":"
	    "\"rider\",\"stage\":\"new\",\"rule\":\"nudge\",\"time\":"
	    "\"2026-03-01T08:00:00Z\",\"subject\":{\"id\":\"u1\",\"kind\":"
	    "\"user\",\"traits\":" TRAITS "}}");
	assert_request(log, 0, "$.headers.content-type", "application/json");
	assert_request(log, 0, "$.headers.webhook-id", "act-1");
	assert_request(log, 0, "$.headers.webhook-timestamp", "1772355600");
	assert_request(log, 0, "$.headers.idempotency-key", "act-1");
	sig = request(log, 0, "$.headers.webhook-signature");
	assert_non_null(sig);
	assert_memory_equal(sig, "v1,", 3);
	assert_int_equal(strlen(sig), 3 + 44);
	free(sig);
	assert_request(log, 0, "$.signature_valid", "1");

	free(secret);
	free(url);
	free(log);
}

static void
test_post_whsec(void **unused)
{
	check_post(SECRET "\n", SECRET);
}

static void
test_post_raw_secret(void **unused)
{
	check_post("a raw secret\n", "a raw secret");
}

static void
test_no_secret(void **unused)
{
	struct test_server	 srv;
	struct jd_settings	 settings = { plugin->settings, NULL };
	struct jd_action	 a;
	char			 err[256] = "", reason[256] = "", *log, *url;
	char			*sig, *body, *traits;
	void			*state = NULL;

	url = start(&srv, &log, NULL, NULL, NULL, NULL, NULL, NULL);
	const char *kv[] = { "url", url, NULL };
	settings.kv = kv;
	assert_int_equal(plugin->init(mock_host(), &settings, &state, err,
	    sizeof err), 0);
	a = action_new("act-2", &settings);
	a.traits = "{}";
	assert_int_equal(mock_perform(plugin, state, &a, reason,
	    sizeof reason), JD_DONE);
	plugin->fini(state);
	server_stop(&srv);
	sig = request(log, 0, "$.headers.webhook-signature");
	assert_null(sig);
	body = request(log, 0, "$.body");
	traits = json_get(body, "$.subject.traits");
	assert_string_equal(traits, "{}");
	free(traits);
	free(body);
	free(url);
	free(log);
}

static void
test_retry_same_body(void **unused)
{
	struct test_server	 srv;
	struct jd_settings	 settings = { plugin->settings, NULL };
	struct jd_action	 a;
	char			 err[256] = "", reason[256] = "", *log, *url;
	char			*secret, *body0, *body;
	void			*state = NULL;

	url = start(&srv, &log, "--statuses", "503,503", "--retry-after",
	    "7", "--verify-secret", SECRET);
	secret = testlib_path("retry.secret");
	file_write(secret, SECRET);
	const char *kv[] = { "url", url, "secret_file", secret, NULL };
	settings.kv = kv;
	assert_int_equal(plugin->init(mock_host(), &settings, &state, err,
	    sizeof err), 0);

	a = action_new("act-retry", &settings);
	assert_int_equal(mock_perform(plugin, state, &a, reason,
	    sizeof reason), JD_RETRY);
	assert_string_equal(reason, "HTTP 503");
	assert_int_equal(mock_outcome()->retry_after, 7);
	a.attempt = 2;
	a.now = TEST_NOW + 60;
	assert_int_equal(mock_perform(plugin, state, &a, reason,
	    sizeof reason), JD_RETRY);
	a.attempt = 3;
	a.now = TEST_NOW + 180;
	assert_int_equal(mock_perform(plugin, state, &a, reason,
	    sizeof reason), JD_DONE);
	plugin->fini(state);
	server_stop(&srv);

	assert_int_equal(file_count_lines(log), 3);
	body0 = request(log, 0, "$.body");
	for (int i = 0; i < 3; i++) {
		assert_request(log, i, "$.headers.webhook-id", "act-retry");
		assert_request(log, i, "$.headers.idempotency-key",
		    "act-retry");
		assert_request(log, i, "$.signature_valid", "1");
		body = request(log, i, "$.body");
		assert_string_equal(body, body0);
		free(body);
	}
	assert_request(log, 1, "$.headers.webhook-timestamp", "1772355660");
	assert_request(log, 2, "$.headers.webhook-timestamp", "1772355780");
	free(body0);
	free(secret);
	free(url);
	free(log);
}

/* One 503 answer with Retry-After header value ra (or none) and body; the
 * outcome's retry_after, and its reason in reason. */
static int64_t
retry_after_of(const char *ra, const char *body, char *reason,
    size_t reasonlen)
{
	struct test_server	 srv;
	struct jd_settings	 settings = { plugin->settings, NULL };
	struct jd_action	 a;
	char			 err[256] = "", *log, *url;
	void			*state = NULL;

	url = start(&srv, &log, "--statuses", "503", "--body", body,
	    ra != NULL ? "--retry-after" : NULL, ra);
	const char *kv[] = { "url", url, NULL };
	settings.kv = kv;
	assert_int_equal(plugin->init(mock_host(), &settings, &state, err,
	    sizeof err), 0);
	a = action_new("act-ra", &settings);
	assert_int_equal(mock_perform(plugin, state, &a, reason, reasonlen),
	    JD_RETRY);
	plugin->fini(state);
	server_stop(&srv);
	free(url);
	free(log);
	return mock_outcome()->retry_after;
}

/* The server's delay comes from its Retry-After header only: never from
 * the body, whatever it says; seconds, huge or an HTTP date. */
static void
test_retry_after(void **unused)
{
	char		 reason[256], date[64];
	struct tm	 tm;
	time_t		 later = time(NULL) + 7200;
	int64_t		 ra;

	/* The body that made a retry storm: quoted, never read. */
	assert_int_equal(retry_after_of(NULL, "retry-after=0", reason,
	    sizeof reason), 0);
	assert_string_equal(reason, "HTTP 503: retry-after=0");
	assert_int_equal(retry_after_of(NULL, "retry-after=5", reason,
	    sizeof reason), 0);
	assert_int_equal(retry_after_of("120", "retry-after=0", reason,
	    sizeof reason), 120);
	/* The largest: handed on as it is, for the host to clamp. */
	assert_true(retry_after_of("9223372036854775807", "", reason,
	    sizeof reason) == INT64_MAX);
	/* Not a number nor a date: no delay. */
	assert_int_equal(retry_after_of("soon", "", reason, sizeof reason), 0);
	/* An HTTP date two hours ahead (curl counts from the real clock). */
	gmtime_r(&later, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	ra = retry_after_of(date, "", reason, sizeof reason);
	assert_true(ra > 7100 && ra <= 7200);
}

static void
test_statuses(void **unused)
{
	static const struct {
		enum jd_result	 result;
		const char	*reason;
	} want[] = {
		{ JD_FAILED, "HTTP 404" }, { JD_RETRY, "HTTP 429" },
		{ JD_RETRY, "HTTP 408" }, { JD_RETRY, "HTTP 500" },
		{ JD_FAILED, "HTTP 401" }, { JD_FAILED, "HTTP 301" },
		{ JD_DONE, "" }, { JD_DONE, "" }
	};
	struct test_server	 srv;
	struct jd_settings	 settings = { plugin->settings, NULL };
	struct jd_action	 a;
	char			 err[256] = "", reason[256], *log, *url;
	void			*state = NULL;

	url = start(&srv, &log, "--statuses", "404,429,408,500,401,301,204",
	    "--body", "{\"error\":\"nope\"}", NULL, NULL);
	const char *kv[] = { "url", url, NULL };
	settings.kv = kv;
	assert_int_equal(plugin->init(mock_host(), &settings, &state, err,
	    sizeof err), 0);
	a = action_new("act-status", &settings);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		reason[0] = '\0';
		assert_int_equal(mock_perform(plugin, state, &a, reason,
		    sizeof reason), want[i].result);
		assert_memory_equal(reason, want[i].reason,
		    strlen(want[i].reason));
	}
	plugin->fini(state);
	server_stop(&srv);
	free(url);
	free(log);
}

static void
test_timeout(void **unused)
{
	struct test_server	 srv;
	struct jd_settings	 settings = { plugin->settings, NULL };
	struct jd_action	 a;
	char			 err[256] = "", reason[256] = "", *log, *url;
	void			*state = NULL;

	url = start(&srv, &log, "--delays", "3", NULL, NULL, NULL, NULL);
	const char *kv[] = { "url", url, "request_timeout", "1s", NULL };
	settings.kv = kv;
	assert_int_equal(plugin->init(mock_host(), &settings, &state, err,
	    sizeof err), 0);
	a = action_new("act-slow", &settings);
	assert_int_equal(mock_perform(plugin, state, &a, reason,
	    sizeof reason), JD_RETRY);
	assert_non_null(strstr(reason, "timed out"));
	plugin->fini(state);
	server_stop(&srv);
	free(url);
	free(log);
}

static void
test_refused(void **unused)
{
	struct test_server	 srv;
	struct jd_settings	 settings = { plugin->settings, NULL };
	struct jd_action	 a;
	char			 err[256] = "", reason[256] = "", *log, *url;
	void			*state = NULL;

	/* A port that was just listening and is now closed. */
	url = start(&srv, &log, NULL, NULL, NULL, NULL, NULL, NULL);
	server_stop(&srv);
	const char *kv[] = { "url", url, NULL };
	settings.kv = kv;
	assert_int_equal(plugin->init(mock_host(), &settings, &state, err,
	    sizeof err), 0);
	a = action_new("act-down", &settings);
	assert_int_equal(mock_perform(plugin, state, &a, reason,
	    sizeof reason), JD_RETRY);
	assert_true(reason[0] != '\0');
	plugin->fini(state);
	free(url);
	free(log);
}

struct worker {
	void			*state;
	const struct jd_settings *settings;
	int			 n;
	int			 done;
};

/* Act eight times from one thread. */
static void *
worker_run(void *arg)
{
	struct worker		*w = arg;
	struct jd_action	 a;
	char			 id[32], reason[256];

	for (int i = 0; i < 8; i++) {
		snprintf(id, sizeof id, "act-t%d-%d", w->n, i);
		a = action_new(id, w->settings);
		if (mock_perform(plugin, w->state, &a, reason,
		    sizeof reason) == JD_DONE)
			w->done++;
	}
	return NULL;
}

static void
test_threads(void **unused)
{
	struct test_server	 srv;
	struct jd_settings	 settings = { plugin->settings, NULL };
	struct worker		 w[4];
	pthread_t		 t[4];
	char			 err[256] = "", *log, *url;
	void			*state = NULL;

	url = start(&srv, &log, NULL, NULL, NULL, NULL, NULL, NULL);
	const char *kv[] = { "url", url, NULL };
	settings.kv = kv;
	assert_int_equal(plugin->init(mock_host(), &settings, &state, err,
	    sizeof err), 0);
	for (int i = 0; i < 4; i++) {
		w[i].state = state;
		w[i].settings = &settings;
		w[i].n = i;
		w[i].done = 0;
		assert_int_equal(pthread_create(&t[i], NULL, worker_run,
		    &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].done, 8);
	}
	plugin->fini(state);
	server_stop(&srv);
	assert_int_equal(file_count_lines(log), 32);
	free(url);
	free(log);
}

static int
setup(void **unused)
{
	testlib_init();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((plugin = plugin_open("webhook", &plugin_dl)) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **unused)
{
	plugin_close(plugin_dl);
	mock_host_free();
	curl_global_cleanup();
	testlib_done();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descriptor),
		cmocka_unit_test(test_bad_settings),
		cmocka_unit_test(test_post_whsec),
		cmocka_unit_test(test_post_raw_secret),
		cmocka_unit_test(test_no_secret),
		cmocka_unit_test(test_retry_same_body),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_statuses),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
