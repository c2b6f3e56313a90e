/*
 * Tests of the email plugin against tests/servers/smtp_server.py (aiosmtpd)
 * and a Maildir: exact headers and body, envelope, header injection through
 * traits, non-ASCII subjects and names (checked by Python's email package),
 * unsubscribed subjects held, SMTP 4xx and 5xx, AUTH, missing templates.
 */
#include "config.h"

#include <sys/stat.h>

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

#define TRAITS	"{\"email\":\"ann@example.com\",\"first_name\":\"Ann\"," \
		"\"plan\":\"basic\"}"

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
static char			*templates;
static int			 have_smtp;

/* A running SMTP server and the folder it writes messages to. */
struct smtp {
	struct test_server	 srv;
	char			 dir[512];
	char			 url[64];
};

/* An action as the host would hand it over. */
static struct jd_action
action_new(const char *id, const char *traits, const char *params,
    const struct jd_settings *settings)
{
	struct jd_action	 a;

	memset(&a, 0, sizeof a);
	a.id = id;
	a.instance = "mail";
	a.journey = "rider";
	a.stage = "new";
	a.rule = "nudge";
	a.subject_id = "u1";
	a.subject_kind = "user";
	a.traits = traits;
	a.params = params;
	a.time = TEST_NOW - 60;
	a.now = TEST_NOW;
	a.attempt = 1;
	a.settings = settings;
	return a;
}

/* Start an SMTP server with up to two extra options. */
static void
smtp_start(struct smtp *s, const char *a1, const char *v1)
{
	static int	 n;
	char		*dir;

	if (!have_smtp)
		skip();
	dir = testlib_path("smtp-%d", ++n);
	snprintf(s->dir, sizeof s->dir, "%s", dir);
	free(dir);
	assert_int_equal(mkdir(s->dir, 0700), 0);
	assert_int_equal(server_start(&s->srv, "smtp_server.py", "--dir",
	    s->dir, a1, v1, NULL), 0);
	snprintf(s->url, sizeof s->url, "smtp://127.0.0.1:%d", s->srv.port);
}

/* Stop an SMTP server. */
static void
smtp_stop(struct smtp *s)
{
	server_stop(&s->srv);
}

/* Message n's file with the extension ext; caller frees. */
static char *
smtp_file(struct smtp *s, int n, const char *ext)
{
	char	*path, *text;

	path = xprintf("%s/%04d.%s", s->dir, n, ext);
	text = file_read(path);
	free(path);
	return text;
}

/* Assert a field of message n as Python read it. */
static void
assert_message(struct smtp *s, int n, const char *path, const char *want)
{
	char	*json, *v;

	json = smtp_file(s, n, "json");
	assert_non_null(json);
	v = json_get(json, path);
	if (want == NULL)
		assert_null(v);
	else {
		assert_non_null(v);
		assert_string_equal(v, want);
	}
	free(v);
	free(json);
}

/* Start an instance over settings kv; returns its state. */
static void *
start(struct jd_settings *settings, const char **kv)
{
	char	 err[256] = "";
	void	*state = NULL;

	settings->table = plugin->settings;
	settings->kv = kv;
	if (plugin->init(mock_host(), settings, &state, err, sizeof err) != 0)
		fail_msg("init: %s", err);
	return state;
}

/* Act once; the reason goes in reason. */
static enum jd_result
act(void *state, const struct jd_settings *settings, const char *id,
    const char *traits, const char *params, char *reason, size_t reasonlen)
{
	struct jd_action	 a;

	a = action_new(id, traits, params, settings);
	reason[0] = '\0';
	return mock_perform(plugin, state, &a, reason, reasonlen);
}

static void
test_descriptor(void **unused)
{
	int	 from = 0, tmpl = 0;

	assert_int_equal(plugin->abi_major, JD_PLUGIN_ABI_MAJOR);
	assert_int_equal(plugin->size, sizeof(struct jd_plugin));
	assert_string_equal(plugin->name, "email");
	assert_non_null(plugin->check);
	for (const struct jd_setting *s = plugin->settings; s->key; s++) {
		if (strcmp(s->key, "from") == 0)
			from = s->required;
		assert_string_not_equal(s->key, "timeout");
	}
	for (const struct jd_setting *s = plugin->params; s->key; s++) {
		if (strcmp(s->key, "template") == 0)
			tmpl = s->required;
	}
	assert_true(from);
	assert_true(tmpl);
}

static void
test_bad_settings(void **unused)
{
	const char *both[] = { "smtp", "smtp://127.0.0.1:1", "maildir", "/tmp",
	    "from", "a@example.com", "templates", templates, NULL };
	const char *none[] = { "from", "a@example.com", "templates", templates,
	    NULL };
	const char *from[] = { "smtp", "smtp://127.0.0.1:1", "from",
	    "nobody", "templates", templates, NULL };
	const char *tmpl[] = { "smtp", "smtp://127.0.0.1:1", "from",
	    "a@example.com", "templates", "/nonexistent/templates", NULL };
	const char *pw[] = { "smtp", "smtp://127.0.0.1:1", "from",
	    "a@example.com", "templates", templates, "password_file",
	    "/etc/hostname", NULL };
	const char **cases[] = { both, none, from, tmpl, pw };
	const char *want[] = { "smtp", "smtp", "from", "/nonexistent",
	    "user" };
	struct jd_settings	 settings = { plugin->settings, NULL };
	char			 err[256];
	void			*state = NULL;

	for (size_t i = 0; i < 5; i++) {
		settings.kv = cases[i];
		err[0] = '\0';
		assert_int_equal(plugin->check_settings(mock_host(), &settings,
		    err, sizeof err), -1);
		assert_non_null(strstr(err, want[i]));
		err[0] = '\0';
		assert_int_equal(plugin->init(mock_host(), &settings, &state,
		    err, sizeof err), -1);
		assert_non_null(strstr(err, want[i]));
	}
}

static void
test_smtp(void **unused)
{
	struct smtp		 s;
	struct jd_settings	 settings;
	char			 reason[256], *eml;
	void			*state;

	smtp_start(&s, NULL, NULL);
	const char *kv[] = { "smtp", s.url, "from", "Team <team@example.com>",
	    "templates", templates, "unsubscribe_url",
	    "https://example.com/unsub?e={{email}}&j={{journey}}", NULL };
	state = start(&settings, kv);
	assert_int_equal(act(state, &settings, "act-1", TRAITS,
	    "{\"template\":\"welcome\"}", reason, sizeof reason), JD_DONE);
	plugin->fini(state);
	smtp_stop(&s);

	eml = smtp_file(&s, 1, "eml");
	assert_non_null(eml);
	assert_string_equal(eml,
	    "Date: Sun, 01 Mar 2026 09:00:00 +0000\r\n"
	    "From: Team <team@example.com>\r\n"
	    "To: ann@example.com\r\n"
	    "Subject: Welcome Ann\r\n"
	    "Message-ID: <act-1@journeyd>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "List-Unsubscribe: <https://example.com/unsub?e=ann@example.com"
	    "&j=rider>\r\n"
	    "Content-Type: text/plain; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n"
	    "\r\n"
	    "Hello Ann,\r\n"
	    "\r\n"
	    "Your plan: basic. Journey rider, stage new.\r\n"
	    ".\r\n"
	    "..two dots\r\n");
	free(eml);
	assert_message(&s, 1, "$.mail_from", "team@example.com");
	assert_message(&s, 1, "$.rcpt_tos", "[\"ann@example.com\"]");
	assert_message(&s, 1, "$.defects", "[]");
	assert_message(&s, 1, "$.text", "Hello Ann,\n\nYour plan: basic. "
	    "Journey rider, stage new.\n.\n..two dots\n");
}

static void
test_injection(void **unused)
{
	struct smtp		 s;
	struct jd_settings	 settings;
	char			 reason[256];
	void			*state;
	const char		*evil = "{\"email\":\"ann@example.com\","
	    "\"first_name\":\"Ann\\r\\nBcc: evil@example.org\"}";

	smtp_start(&s, NULL, NULL);
	const char *kv[] = { "smtp", s.url, "from", "team@example.com",
	    "templates", templates, NULL };
	state = start(&settings, kv);
	assert_int_equal(act(state, &settings, "act-evil", evil,
	    "{\"template\":\"welcome\"}", reason, sizeof reason), JD_DONE);
	assert_int_equal(act(state, &settings, "act-quoted", "{\"email\":"
	    "\"ann@example.com\",\"first_name\":\"Ann \\\"Boss\\\", Lee\"}",
	    "{\"template\":\"welcome\",\"to\":\"{{first_name}} <{{email}}>\"}",
	    reason, sizeof reason), JD_DONE);
	/* A recipient carrying a line break is refused outright. */
	assert_int_equal(act(state, &settings, "act-evil2", evil,
	    "{\"template\":\"welcome\",\"to\":\"{{first_name}} <{{email}}>\"}",
	    reason, sizeof reason), JD_FAILED);
	assert_string_equal(reason, "bad recipient address");
	assert_int_equal(act(state, &settings, "act-evil3",
	    "{\"email\":\"ann@example.com\\r\\nBcc: evil@example.org\"}",
	    "{\"template\":\"welcome\"}", reason, sizeof reason), JD_FAILED);
	assert_string_equal(reason, "bad recipient address");
	plugin->fini(state);
	smtp_stop(&s);

	for (int n = 1; n <= 2; n++) {
		assert_message(&s, n, "$.header_names", "[\"Date\",\"From\","
		    "\"To\",\"Subject\",\"Message-ID\",\"MIME-Version\","
		    "\"Content-Type\",\"Content-Transfer-Encoding\"]");
		assert_message(&s, n, "$.rcpt_tos", "[\"ann@example.com\"]");
		assert_message(&s, n, "$.defects", "[]");
	}
	assert_message(&s, 1, "$.subject",
	    "Welcome Ann  Bcc: evil@example.org");
	assert_message(&s, 1, "$.to", "ann@example.com");
	assert_message(&s, 2, "$.subject", "Welcome Ann \"Boss\", Lee");
	assert_message(&s, 2, "$.to",
	    "\"Ann \\\"Boss\\\", Lee\" <ann@example.com>");
	assert_int_equal(dir_count(s.dir), 4);
}

/* Are all header lines of a raw message ASCII and at most 78 long? */
static void
assert_headers_ascii(const char *eml)
{
	const char	*end = strstr(eml, "\r\n\r\n"), *line = eml, *p;

	assert_non_null(end);
	for (p = eml; p < end; p++) {
		assert_true((unsigned char)*p < 0x80);
		if (*p == '\r') {
			assert_true(p - line <= 78);
			line = p + 2;
		}
	}
}

static void
test_non_ascii(void **unused)
{
	struct smtp		 s;
	struct jd_settings	 settings;
	struct jd_action	 a;
	char			 reason[256], *eml;
	void			*state;

	smtp_start(&s, NULL, NULL);
	const char *kv[] = { "smtp", s.url, "from",
	    "\xc3\x89quipe Zo\xc3\xab <team@example.com>", "templates",
	    templates, NULL };
	state = start(&settings, kv);
	a = action_new("act-utf8", "{\"email\":\"zoe@example.com\","
	    "\"first_name\":\"Zo\xc3\xab\"}", "{\"template\":\"fancy\"}",
	    &settings);
	a.account_traits = "{\"name\":\"Caf\xc3\xa9 \xc3\x9cn\xc3\xaf" "code "
	    "GmbH\"}";
	assert_int_equal(mock_perform(plugin, state, &a, reason,
	    sizeof reason), JD_DONE);
	a.id = "act-long";
	a.params = "{\"template\":\"long\"}";
	assert_int_equal(mock_perform(plugin, state, &a, reason,
	    sizeof reason), JD_DONE);
	plugin->fini(state);
	smtp_stop(&s);

	eml = smtp_file(&s, 1, "eml");
	assert_non_null(strstr(eml, "\r\nSubject: =?UTF-8?B?"));
	assert_non_null(strstr(eml, "\r\nContent-Type: multipart/alternative"));
	assert_headers_ascii(eml);
	free(eml);
	assert_message(&s, 1, "$.subject", "Willkommen, Zo\xc3\xab "
	    "\xe2\x80\x94 \xe2\x98\x83 Caf\xc3\xa9 \xc3\x9cn\xc3\xaf"
	    "code GmbH");
	assert_message(&s, 1, "$.from",
	    "\xc3\x89quipe Zo\xc3\xab <team@example.com>");
	assert_message(&s, 1, "$.content_type", "multipart/alternative");
	assert_message(&s, 1, "$.text", "Gr\xc3\xbc\xc3\x9f" "e, "
	    "Zo\xc3\xab!\n");
	assert_message(&s, 1, "$.html", "<p>Gr\xc3\xbc\xc3\x9f" "e, "
	    "<b>Zo\xc3\xab</b>!</p>\n");
	assert_message(&s, 1, "$.defects", "[]");

	eml = smtp_file(&s, 2, "eml");
	assert_headers_ascii(eml);
	assert_non_null(strstr(eml, "Content-Transfer-Encoding: "
	    "quoted-printable"));
	free(eml);
	assert_message(&s, 2, "$.subject", "\xc3\xa4\xc3\xb6\xc3\xbc "
	    "\xc3\xa4\xc3\xb6\xc3\xbc \xc3\xa4\xc3\xb6\xc3\xbc \xc3\xa4\xc3\xb6"
	    "\xc3\xbc \xc3\xa4\xc3\xb6\xc3\xbc \xc3\xa4\xc3\xb6\xc3\xbc "
	    "\xc3\xa4\xc3\xb6\xc3\xbc \xc3\xa4\xc3\xb6\xc3\xbc \xc3\xa4\xc3\xb6"
	    "\xc3\xbc \xc3\xa4\xc3\xb6\xc3\xbc \xe2\x98\x83\xe2\x98\x83"
	    "\xe2\x98\x83\xe2\x98\x83\xe2\x98\x83\xe2\x98\x83\xe2\x98\x83"
	    "\xe2\x98\x83\xe2\x98\x83\xe2\x98\x83 end");
	assert_message(&s, 2, "$.defects", "[]");
}

static void
test_policy(void **unused)
{
	struct smtp		 s;
	struct jd_settings	 settings;
	char			 reason[256];
	void			*state;

	smtp_start(&s, NULL, NULL);
	const char *kv[] = { "smtp", s.url, "from", "team@example.com",
	    "templates", templates, NULL };
	state = start(&settings, kv);
	assert_int_equal(act(state, &settings, "act-u", "{\"email\":"
	    "\"ann@example.com\",\"unsubscribed\":true}",
	    "{\"template\":\"welcome\"}", reason, sizeof reason), JD_HELD);
	assert_string_equal(reason, "unsubscribed");
	assert_int_equal(act(state, &settings, "act-n", "{\"first_name\":"
	    "\"Ann\"}", "{\"template\":\"welcome\"}", reason, sizeof reason),
	    JD_FAILED);
	assert_string_equal(reason, "no recipient");
	assert_int_equal(act(state, &settings, "act-b", "{\"email\":"
	    "\"not an address\"}", "{\"template\":\"welcome\"}", reason,
	    sizeof reason), JD_FAILED);
	assert_string_equal(reason, "bad recipient address");
	assert_int_equal(dir_count(s.dir), 0);

	/* unsubscribed false, and "to" instead of the email trait. */
	assert_int_equal(act(state, &settings, "act-to", "{\"email\":"
	    "\"ann@example.com\",\"unsubscribed\":false,\"first_name\":"
	    "\"Ann\"}", "{\"template\":\"welcome\",\"to\":"
	    "\"Boss <boss@example.com>\"}", reason, sizeof reason), JD_DONE);
	plugin->fini(state);
	smtp_stop(&s);
	assert_message(&s, 1, "$.rcpt_tos", "[\"boss@example.com\"]");
	assert_message(&s, 1, "$.to", "Boss <boss@example.com>");
}

/* One action against a server answering option with code. */
static enum jd_result
refused(const char *option, const char *code, char *reason, size_t len)
{
	struct smtp		 s;
	struct jd_settings	 settings;
	enum jd_result		 result;
	void			*state;

	smtp_start(&s, option, code);
	const char *kv[] = { "smtp", s.url, "from", "team@example.com",
	    "templates", templates, NULL };
	state = start(&settings, kv);
	result = act(state, &settings, "act-refused", TRAITS,
	    "{\"template\":\"welcome\"}", reason, len);
	plugin->fini(state);
	smtp_stop(&s);
	assert_int_equal(dir_count(s.dir), 0);
	return result;
}

static void
test_smtp_errors(void **unused)
{
	char	 reason[256];

	assert_int_equal(refused("--rcpt-code", "451", reason, sizeof reason),
	    JD_RETRY);
	assert_non_null(strstr(reason, "451"));
	assert_int_equal(refused("--rcpt-code", "550", reason, sizeof reason),
	    JD_FAILED);
	assert_non_null(strstr(reason, "550"));
	assert_int_equal(refused("--data-code", "452", reason, sizeof reason),
	    JD_RETRY);
	assert_non_null(strstr(reason, "452"));
	assert_int_equal(refused("--data-code", "554", reason, sizeof reason),
	    JD_FAILED);
	assert_non_null(strstr(reason, "554"));
}

static void
test_smtp_down(void **unused)
{
	struct smtp		 s;
	struct jd_settings	 settings;
	char			 reason[256];
	void			*state;

	smtp_start(&s, NULL, NULL);
	server_stop(&s.srv);
	const char *kv[] = { "smtp", s.url, "from", "team@example.com",
	    "templates", templates, "connect_timeout", "2s", NULL };
	state = start(&settings, kv);
	assert_int_equal(act(state, &settings, "act-down", TRAITS,
	    "{\"template\":\"welcome\"}", reason, sizeof reason), JD_RETRY);
	assert_true(reason[0] != '\0');
	plugin->fini(state);
	smtp_stop(&s);
}

static void
test_auth(void **unused)
{
	struct smtp		 s;
	struct jd_settings	 settings;
	char			 reason[256], *pw, *bad, *log;
	void			*state;

	pw = testlib_path("smtp.password");
	file_write(pw, "s3cret-pw\n");
	bad = testlib_path("smtp.badpassword");
	file_write(bad, "wrong-pw\n");
	smtp_start(&s, "--auth", "joe:s3cret-pw");
	mock_host_reset();
	const char *kv[] = { "smtp", s.url, "from", "team@example.com",
	    "templates", templates, "user", "joe", "password_file", pw, NULL };
	state = start(&settings, kv);
	assert_int_equal(act(state, &settings, "act-auth", TRAITS,
	    "{\"template\":\"welcome\"}", reason, sizeof reason), JD_DONE);
	plugin->fini(state);

	const char *kvbad[] = { "smtp", s.url, "from", "team@example.com",
	    "templates", templates, "user", "joe", "password_file", bad,
	    NULL };
	state = start(&settings, kvbad);
	assert_int_equal(act(state, &settings, "act-auth2", TRAITS,
	    "{\"template\":\"welcome\"}", reason, sizeof reason), JD_FAILED);
	assert_non_null(strstr(reason, "535"));
	plugin->fini(state);
	smtp_stop(&s);

	assert_message(&s, 1, "$.auth_user", "joe");
	log = mock_host_log();
	assert_null(strstr(log, "s3cret-pw"));
	assert_null(strstr(log, "wrong-pw"));
	free(log);
	free(pw);
	free(bad);
}

static void
test_maildir(void **unused)
{
	struct jd_settings	 settings;
	char			 reason[256], *md, *new, *tmp, *cur, *cmd;
	char			*text, path[512];
	void			*state;
	FILE			*p;

	md = testlib_path("Maildir");
	const char *kv[] = { "maildir", md, "from", "team@example.com",
	    "templates", templates, NULL };
	state = start(&settings, kv);
	new = xprintf("%s/new", md);
	tmp = xprintf("%s/tmp", md);
	cur = xprintf("%s/cur", md);
	assert_int_equal(dir_count(new), 0);
	assert_int_equal(dir_count(cur), 0);
	assert_int_equal(act(state, &settings, "act-md1", TRAITS,
	    "{\"template\":\"welcome\"}", reason, sizeof reason), JD_DONE);
	assert_int_equal(act(state, &settings, "act-md2", TRAITS,
	    "{\"template\":\"welcome\"}", reason, sizeof reason), JD_DONE);
	plugin->fini(state);
	assert_int_equal(dir_count(new), 2);
	assert_int_equal(dir_count(tmp), 0);

	cmd = xprintf("ls '%s' | head -1", new);
	assert_non_null(p = popen(cmd, "r"));
	assert_non_null(fgets(path + snprintf(path, sizeof path, "%s/", new),
	    sizeof path - strlen(new) - 1, p));
	pclose(p);
	path[strcspn(path, "\n")] = '\0';
	text = file_read(path);
	assert_non_null(text);
	assert_null(strchr(text, '\r'));
	assert_memory_equal(text, "Return-Path: <team@example.com>\n"
	    "Delivered-To: ann@example.com\nDate: ", 62);
	assert_non_null(strstr(text, "\nTo: ann@example.com\n"));
	assert_non_null(strstr(text, "\nSubject: Welcome Ann\n"));
	free(text);
	free(cmd);
	free(new);
	free(tmp);
	free(cur);
	free(md);
}

static void
test_templates(void **unused)
{
	struct jd_settings	 settings;
	char			 reason[256], err[256];
	void			*state;

	const char *kv[] = { "smtp", "smtp://127.0.0.1:1", "from",
	    "team@example.com", "templates", templates, NULL };
	state = start(&settings, kv);
	assert_int_equal(check_params(&settings,
	    "{\"template\":\"welcome\"}", err, sizeof err), 0);
	assert_int_equal(check_params(&settings,
	    "{\"template\":\"nope\"}", err, sizeof err), -1);
	assert_non_null(strstr(err, "nope.subject"));
	/* html is optional, txt is not. */
	assert_int_equal(check_params(&settings,
	    "{\"template\":\"notext\"}", err, sizeof err), -1);
	assert_non_null(strstr(err, "notext.txt"));
	assert_int_equal(check_params(&settings, "{}", err,
	    sizeof err), -1);
	assert_non_null(strstr(err, "template"));
	assert_int_equal(check_params(&settings,
	    "{\"template\":\"../etc/passwd\"}", err, sizeof err), -1);

	/* At act time: failed, with the file in the reason. */
	assert_int_equal(act(state, &settings, "act-t", TRAITS,
	    "{\"template\":\"nope\"}", reason, sizeof reason), JD_FAILED);
	assert_non_null(strstr(reason, "nope.subject"));
	assert_int_equal(act(state, &settings, "act-t2", TRAITS,
	    "{\"template\":\"notext\"}", reason, sizeof reason), JD_FAILED);
	assert_non_null(strstr(reason, "notext.txt"));
	plugin->fini(state);
}

/* A name that is a link: in the HTML part it is text, never a live link;
 * the template's own link stays. */
static void
test_html_escaped(void **unused)
{
	struct smtp		 s;
	struct jd_settings	 settings;
	struct jd_action	 a;
	char			 reason[256];
	void			*state;

	smtp_start(&s, NULL, NULL);
	const char *kv[] = { "smtp", s.url, "from", "team@example.com",
	    "templates", templates, NULL };
	state = start(&settings, kv);
	a = action_new("act-phish", "{\"email\":\"eve@example.com\","
	    "\"first_name\":\"<a href=\\\"http://phish.example/\\\">Click "
	    "to verify</a>\"}", "{\"template\":\"phish\"}", &settings);
	assert_int_equal(mock_perform(plugin, state, &a, reason,
	    sizeof reason), JD_DONE);
	plugin->fini(state);
	smtp_stop(&s);
	assert_message(&s, 1, "$.html", "<p>Hi &lt;a href=&quot;"
	    "http://phish.example/&quot;&gt;Click to verify&lt;/a&gt;, "
	    "<a href=\"https://example.com/v\">verify</a></p>\n");
	assert_message(&s, 1, "$.text", "Hi <a href=\"http://phish.example/\">"
	    "Click to verify</a>\n");
}

/* check() needs no state, and hands the host every template it uses. */
static void
test_check_templates(void **unused)
{
	struct jd_settings	 settings;
	char			 err[256], *got, *want;

	const char *kv[] = { "smtp", "smtp://127.0.0.1:1", "from",
	    "team@example.com", "templates", templates, NULL };
	settings.table = plugin->settings;
	settings.kv = kv;
	mock_host_reset();
	assert_int_equal(check_params(&settings, "{\"template\":\"fancy\","
	    "\"to\":\"{{first_name}} <{{email}}>\"}", err, sizeof err), 0);
	got = mock_host_templates();
	want = xprintf("%s/fancy.subject|Willkommen, {{first_name}} "
	    "\xe2\x80\x94 \xe2\x98\x83 {{account.name}}\n\n"
	    "%s/fancy.txt|Gr\xc3\xbc\xc3\x9f" "e, {{first_name}}!\n\n"
	    "%s/fancy.html|<p>Gr\xc3\xbc\xc3\x9f" "e, "
	    "<b>{{first_name}}</b>!</p>\n\n"
	    "-|{{first_name}} <{{email}}>\n", templates, templates, templates);
	assert_string_equal(got, want);
	free(got);
	free(want);
}

/* Write one template file. */
static void
template_write(const char *name, const char *text)
{
	char	*path = xprintf("%s/%s", templates, name);

	file_write(path, text);
	free(path);
}

static int
setup(void **unused)
{
	testlib_init();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	have_smtp = testlib_python_has("aiosmtpd");
	if (!have_smtp)
		fprintf(stderr, "no aiosmtpd in the test Python: SMTP tests "
		    "are skipped\n");
	templates = testlib_path("templates");
	if (mkdir(templates, 0700) != 0)
		return -1;
	template_write("welcome.subject", "Welcome {{ first_name }}\n");
	template_write("welcome.txt", "Hello {{first_name}},\n\nYour plan: "
	    "{{plan}}. Journey {{journey}}, stage {{stage}}.\n.\n..two dots\n");
	template_write("fancy.subject", "Willkommen, {{first_name}} "
	    "\xe2\x80\x94 \xe2\x98\x83 {{account.name}}\n");
	template_write("fancy.txt", "Gr\xc3\xbc\xc3\x9f" "e, "
	    "{{first_name}}!\n");
	template_write("fancy.html", "<p>Gr\xc3\xbc\xc3\x9f" "e, "
	    "<b>{{first_name}}</b>!</p>\n");
	template_write("long.subject", "\xc3\xa4\xc3\xb6\xc3\xbc "
	    "\xc3\xa4\xc3\xb6\xc3\xbc \xc3\xa4\xc3\xb6\xc3\xbc \xc3\xa4\xc3\xb6"
	    "\xc3\xbc \xc3\xa4\xc3\xb6\xc3\xbc \xc3\xa4\xc3\xb6\xc3\xbc "
	    "\xc3\xa4\xc3\xb6\xc3\xbc \xc3\xa4\xc3\xb6\xc3\xbc \xc3\xa4\xc3\xb6"
	    "\xc3\xbc \xc3\xa4\xc3\xb6\xc3\xbc \xe2\x98\x83\xe2\x98\x83"
	    "\xe2\x98\x83\xe2\x98\x83\xe2\x98\x83\xe2\x98\x83\xe2\x98\x83"
	    "\xe2\x98\x83\xe2\x98\x83\xe2\x98\x83 end\n");
	template_write("long.txt", "Sch\xc3\xb6n = sch\xc3\xb6n. A long line "
	    "that goes on and on and on, well past seventy-six characters, "
	    "to be soft-broken. \n");
	template_write("notext.subject", "no text\n");
	template_write("phish.subject", "Verify your account\n");
	template_write("phish.txt", "Hi {{first_name}}\n");
	template_write("phish.html", "<p>Hi {{first_name}}, <a href="
	    "\"https://example.com/v\">verify</a></p>\n");
	if ((plugin = plugin_open("email", &plugin_dl)) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **unused)
{
	plugin_close(plugin_dl);
	free(templates);
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
		cmocka_unit_test(test_smtp),
		cmocka_unit_test(test_injection),
		cmocka_unit_test(test_non_ascii),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_smtp_errors),
		cmocka_unit_test(test_smtp_down),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_maildir),
		cmocka_unit_test(test_templates),
		cmocka_unit_test(test_html_escaped),
		cmocka_unit_test(test_check_templates),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
