/*
 * Tests of the crm plugin against tests/servers/http_server.py: HubSpot and
 * Salesforce request shapes, the Salesforce upsert path, the task id noted,
 * status mapping, check() of parameters, and the token never in the log.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "insight/insight.h"
#include "mock_host.h"
#include "testlib.h"

#define TOKEN	"tok-SECRET-4f1c2e"
#define TRAITS	"{\"name\":\"Ann Lee\",\"first_name\":\"Ann\"}"

static const struct jd_plugin	*plugin;
static void			*plugin_dl;

/* Call the plugin's check() as journeyd --check does: an action with only
 * its parameters and settings set, and no state. */
static int
check_params(const struct jd_settings *settings, const char *params,
    char *err, size_t errlen)
{
	struct jd_action	 a;

	memset(&a, 0, sizeof a);
	a.params = params;
	a.settings = settings;
	return plugin->check(NULL, mock_host(), &a, err, errlen);
}
static char			*token_file;

/* An action as the host would hand it over. */
static struct jd_action
action_new(const char *id, const char *params,
    const struct jd_settings *settings)
{
	struct jd_action	 a;

	memset(&a, 0, sizeof a);
	a.id = id;
	a.instance = "crm";
	a.journey = "b2b";
	a.stage = "onboarding";
	a.rule = "escalate";
	a.subject_id = "acme";
	a.subject_kind = "account";
	a.traits = TRAITS;
	a.params = params;
	a.time = TEST_NOW - 60;
	a.now = TEST_NOW;
	a.attempt = 1;
	a.settings = settings;
	return a;
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

/* The token must never reach the log. */
static void
assert_log_clean(void)
{
	char	*log = mock_host_log();

	assert_null(strstr(log, TOKEN));
	free(log);
}

/*
 * One action against a server answering statuses (then 200) with body.
 * Returns the result; the request log's path goes in *logp.
 */
static enum jd_result
run(const char **kv_extra, const char *statuses, const char *body,
    const char *params, const char *id, char **logp, char *reason,
    size_t reasonlen)
{
	static int		 n;
	struct test_server	 srv;
	struct jd_settings	 settings = { plugin->settings, NULL };
	struct jd_action	 a;
	const char		*kv[16];
	char			 err[256] = "", *url;
	enum jd_result		 result;
	void			*state = NULL;
	int			 i = 0;

	*logp = testlib_path("crm-%d.jsonl", ++n);
	assert_int_equal(server_start(&srv, "http_server.py", "--log", *logp,
	    "--statuses", statuses, "--body", body, NULL), 0);
	url = xprintf("http://127.0.0.1:%d/", srv.port);
	kv[i++] = "url";
	kv[i++] = url;
	kv[i++] = "token_file";
	kv[i++] = token_file;
	for (int j = 0; kv_extra[j] != NULL; j++)
		kv[i++] = kv_extra[j];
	kv[i] = NULL;
	settings.kv = kv;
	assert_int_equal(plugin->init(mock_host(), &settings, &state, err,
	    sizeof err), 0);

	a = action_new(id, params, &settings);
	result = mock_perform(plugin, state, &a, reason, reasonlen);
	plugin->fini(state);
	server_stop(&srv);
	free(url);
	return result;
}

static void
test_descriptor(void **unused)
{
	int	 n = 0;

	assert_int_equal(plugin->abi_major, JD_PLUGIN_ABI_MAJOR);
	assert_int_equal(plugin->size, sizeof(struct jd_plugin));
	assert_string_equal(plugin->name, "crm");
	assert_non_null(plugin->check);
	for (const struct jd_setting *s = plugin->settings; s->key; s++) {
		if (strcmp(s->key, "api_version") == 0)
			assert_string_equal(s->defval, "v59.0");
		assert_string_not_equal(s->key, "timeout");
	}
	for (const struct jd_setting *s = plugin->params; s->key; s++) {
		n++;
		if (strcmp(s->key, "subject") == 0)
			assert_true(s->required);
	}
	assert_int_equal(n, 5);
}

static void
test_check(void **unused)
{
	const char *kv[] = { "flavor", "hubspot", "url", "http://127.0.0.1:1",
	    "token_file", token_file, NULL };
	struct jd_settings	 settings = { plugin->settings, kv };
	char			 err[256] = "", *templates;

	/* Without a state, as under journeyd --check. */
	mock_host_reset();
	assert_int_equal(check_params(&settings,
	    "{\"subject\":\"x\"}", err, sizeof err), 0);
	assert_int_equal(check_params(&settings,
	    "{\"subject\":\"x\",\"priority\":\"HIGH\",\"due\":\"2d\"}", err,
	    sizeof err), 0);
	assert_int_equal(check_params(&settings,
	    "{\"subject\":\"x\",\"priority\":\"URGENT\"}", err, sizeof err),
	    -1);
	assert_non_null(strstr(err, "URGENT"));
	assert_int_equal(check_params(&settings,
	    "{\"subject\":\"x\",\"due\":\"soon\"}", err, sizeof err), -1);
	assert_non_null(strstr(err, "due"));
	assert_int_equal(check_params(&settings,
	    "{\"body\":\"x\"}", err, sizeof err), -1);
	assert_non_null(strstr(err, "subject"));
	/* Its templates are handed to the host, for --check's warnings. */
	mock_host_reset();
	assert_int_equal(check_params(&settings, "{\"subject\":\"Call "
	    "{{name}}\",\"owner\":\"{{owner_id}}\"}", err, sizeof err), 0);
	templates = mock_host_templates();
	assert_string_equal(templates, "-|Call {{name}}\n-|{{owner_id}}\n");
	free(templates);
}

static void
test_bad_settings(void **unused)
{
	const char *flavor[] = { "flavor", "zoho", "url", "http://x",
	    "token_file", token_file, NULL };
	const char *notoken[] = { "flavor", "hubspot", "url", "http://x",
	    "token_file", "/nonexistent/token", NULL };
	const char *extid[] = { "flavor", "hubspot", "url", "http://x",
	    "token_file", token_file, "external_id_field", "Ext__c", NULL };
	struct jd_settings	 settings = { plugin->settings, flavor };
	char			 err[256] = "";
	void			*state = NULL;

	const char **cases[] = { flavor, notoken, extid };
	const char *want[] = { "flavor", "/nonexistent/token",
	    "external_id_field" };

	for (size_t i = 0; i < 3; i++) {
		settings.kv = cases[i];
		assert_int_equal(plugin->check_settings(mock_host(), &settings,
		    err, sizeof err), -1);
		assert_non_null(strstr(err, want[i]));
		assert_int_equal(plugin->init(mock_host(), &settings, &state,
		    err, sizeof err), -1);
		assert_non_null(strstr(err, want[i]));
	}
}

static void
test_hubspot(void **unused)
{
	const char *kv[] = { "flavor", "hubspot", NULL };
	char	 reason[256] = "", *log, *notes;

	mock_host_reset();
	assert_int_equal(run(kv, "201", "{\"id\":\"task-42\"}",
	    "{\"subject\":\"{{name}} is stuck in {{stage}}\",\"body\":"
	    "\"Call {{first_name}}\",\"due\":\"1d\",\"priority\":\"HIGH\","
	    "\"owner\":\"77\"}", "act-h1", &log, reason, sizeof reason),
	    JD_DONE);
	assert_request(log, 0, "$.method", "POST");
	assert_request(log, 0, "$.path", "/crm/v3/objects/tasks");
	assert_request(log, 0, "$.headers.authorization", "Bearer " TOKEN);
	assert_request(log, 0, "$.headers.content-type", "application/json");
	assert_request(log, 0, "$.body", "{\"properties\":{"
	    "\"hs_task_subject\":\"Ann Lee is stuck in onboarding\","
	    "\"hs_task_body\":\"Call Ann\","
	    "\"hs_timestamp\":\"2026-03-02T09:00:00.000Z\","
	    "\"hs_task_status\":\"NOT_STARTED\","
	    "\"hs_task_priority\":\"HIGH\",\"hubspot_owner_id\":\"77\"}}");
	notes = mock_host_notes();
	assert_string_equal(notes, "act-h1: task task-42\n");
	free(notes);
	assert_string_equal(mock_outcome()->external_id, "task-42");
	assert_log_clean();
	free(log);
}

static void
test_hubspot_defaults(void **unused)
{
	const char *kv[] = { "flavor", "hubspot", NULL };
	char	 reason[256] = "", *log;

	mock_host_reset();
	assert_int_equal(run(kv, "201", "{\"id\":\"7\"}",
	    "{\"subject\":\"Look at {{name}}\",\"due\":\"2w\"}", "act-h2",
	    &log, reason, sizeof reason), JD_DONE);
	assert_request(log, 0, "$.body", "{\"properties\":{"
	    "\"hs_task_subject\":\"Look at Ann Lee\","
	    "\"hs_timestamp\":\"2026-03-15T09:00:00.000Z\","
	    "\"hs_task_status\":\"NOT_STARTED\","
	    "\"hs_task_priority\":\"MEDIUM\"}}");
	free(log);

	mock_host_reset();
	assert_int_equal(run(kv, "200", "{}", "{\"subject\":\"s\","
	    "\"priority\":\"low\"}", "act-h3", &log, reason, sizeof reason),
	    JD_DONE);
	assert_request(log, 0, "$.body", "{\"properties\":{"
	    "\"hs_task_subject\":\"s\","
	    "\"hs_timestamp\":\"2026-03-02T09:00:00.000Z\","
	    "\"hs_task_status\":\"NOT_STARTED\","
	    "\"hs_task_priority\":\"LOW\"}}");
	free(log);
}

static void
test_salesforce(void **unused)
{
	const char *kv[] = { "flavor", "salesforce", NULL };
	char	 reason[256] = "", *log, *notes;

	mock_host_reset();
	assert_int_equal(run(kv, "201", "{\"id\":\"00T5e00000abcDE\","
	    "\"success\":true,\"errors\":[]}", "{\"subject\":\"{{name}} "
	    "stalled\",\"body\":\"Rule {{rule}}\",\"priority\":\"HIGH\","
	    "\"owner\":\"005xx0000012345\",\"due\":\"3d\"}", "act-s1", &log,
	    reason, sizeof reason), JD_DONE);
	assert_request(log, 0, "$.method", "POST");
	assert_request(log, 0, "$.path", "/services/data/v59.0/sobjects/Task");
	assert_request(log, 0, "$.headers.authorization", "Bearer " TOKEN);
	assert_request(log, 0, "$.body", "{\"Subject\":\"Ann Lee stalled\","
	    "\"Description\":\"Rule escalate\",\"ActivityDate\":\"2026-03-04\","
	    "\"Priority\":\"High\",\"Status\":\"Not Started\","
	    "\"OwnerId\":\"005xx0000012345\"}");
	notes = mock_host_notes();
	assert_string_equal(notes, "act-s1: task 00T5e00000abcDE\n");
	free(notes);
	free(log);

	mock_host_reset();
	assert_int_equal(run(kv, "201", "{\"id\":\"00T2\"}",
	    "{\"subject\":\"s\"}", "act-s2", &log, reason, sizeof reason),
	    JD_DONE);
	assert_request(log, 0, "$.body", "{\"Subject\":\"s\","
	    "\"ActivityDate\":\"2026-03-02\",\"Priority\":\"Normal\","
	    "\"Status\":\"Not Started\"}");
	free(log);
	assert_log_clean();
}

static void
test_salesforce_upsert(void **unused)
{
	const char *kv[] = { "flavor", "salesforce", "api_version", "v60.0",
	    "external_id_field", "Journeyd_Id__c", NULL };
	char	 reason[256] = "", *log, *notes;

	mock_host_reset();
	assert_int_equal(run(kv, "201", "{\"id\":\"00T9\",\"success\":true,"
	    "\"created\":true}", "{\"subject\":\"s\",\"priority\":\"LOW\"}",
	    "act/9 x", &log, reason, sizeof reason), JD_DONE);
	assert_request(log, 0, "$.method", "PATCH");
	assert_request(log, 0, "$.path",
	    "/services/data/v60.0/sobjects/Task/Journeyd_Id__c/act%2F9%20x");
	assert_request(log, 0, "$.body", "{\"Subject\":\"s\","
	    "\"ActivityDate\":\"2026-03-02\",\"Priority\":\"Low\","
	    "\"Status\":\"Not Started\"}");
	notes = mock_host_notes();
	assert_string_equal(notes, "act/9 x: task 00T9\n");
	free(notes);
	free(log);

	/* An update answered 204, without a body: done, nothing to note. */
	mock_host_reset();
	assert_int_equal(run(kv, "204", "", "{\"subject\":\"s\"}", "act-10",
	    &log, reason, sizeof reason), JD_DONE);
	notes = mock_host_notes();
	assert_string_equal(notes, "");
	free(notes);
	free(log);
}

static void
test_statuses(void **unused)
{
	const char *kv[] = { "flavor", "hubspot", NULL };
	char	 reason[256] = "", *log, *notes;

	mock_host_reset();
	assert_int_equal(run(kv, "401", "{\"message\":\"bad token\"}",
	    "{\"subject\":\"s\"}", "act-401", &log, reason, sizeof reason),
	    JD_FAILED);
	assert_memory_equal(reason, "HTTP 401", 8);
	assert_null(strstr(reason, TOKEN));
	notes = mock_host_notes();
	assert_string_equal(notes, "");
	free(notes);
	assert_log_clean();
	free(log);

	assert_int_equal(run(kv, "503", "", "{\"subject\":\"s\"}", "act-503",
	    &log, reason, sizeof reason), JD_RETRY);
	assert_memory_equal(reason, "HTTP 503", 8);
	free(log);
	assert_int_equal(run(kv, "429", "", "{\"subject\":\"s\"}", "act-429",
	    &log, reason, sizeof reason), JD_RETRY);
	free(log);
	assert_int_equal(run(kv, "400", "", "{\"subject\":\"s\"}", "act-400",
	    &log, reason, sizeof reason), JD_FAILED);
	free(log);
	assert_log_clean();
}

static int
setup(void **unused)
{
	testlib_init();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	token_file = testlib_path("crm.token");
	file_write(token_file, TOKEN "\n");
	if ((plugin = plugin_open("crm", &plugin_dl)) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **unused)
{
	plugin_close(plugin_dl);
	free(token_file);
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
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_bad_settings),
		cmocka_unit_test(test_hubspot),
		cmocka_unit_test(test_hubspot_defaults),
		cmocka_unit_test(test_salesforce),
		cmocka_unit_test(test_salesforce_upsert),
		cmocka_unit_test(test_statuses),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
