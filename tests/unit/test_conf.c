/* Loading and validating the config file (without plugins). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "delivery/delivery.h"

static char	 dir[] = "/tmp/jd-conf-XXXXXX";
static char	 path[256];

/* Write text to the test config file. */
static void
write_file(const char *name, const char *text)
{
	char	 p[512];
	FILE	*f;

	snprintf(p, sizeof p, "%s/%s", dir, name);
	assert_non_null(f = fopen(p, "w"));
	fputs(text, f);
	fclose(f);
}

/* Load text, the http block's key files too; return the config or NULL
 * with the problems. */
static struct config *
load(const char *text, struct problems *probs)
{
	struct config	*cf;

	write_file("j.conf", text);
	memset(probs, 0, sizeof *probs);
	if ((cf = config_load(path, probs)) != NULL &&
	    config_load_secrets(cf, probs) != 0) {
		config_free(cf);
		cf = NULL;
	}
	return cf;
}

/* Expect exactly one problem containing want, at line. */
static void
expect_one(const char *text, int line, const char *want)
{
	struct problems	 probs;
	struct config	*cf = load(text, &probs);
	char		 prefix[300];

	assert_null(cf);
	if (probs.n != 1) {
		problems_print(&probs, stderr);
		fail_msg("expected 1 problem, got %d", probs.n);
	}
	snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
	if (strncmp(probs.msgs[0], prefix, strlen(prefix)) != 0 ||
	    strstr(probs.msgs[0], want) == NULL)
		fail_msg("got \"%s\", want \"%s...%s\"", probs.msgs[0], prefix,
		    want);
	problems_free(&probs);
}

static void
test_good(void **state)
{
	struct problems	 probs;
	struct config	*cf;
	struct journey	*j;

	cf = load("database = \"/tmp/x.db\";\n"
	    "interval = \"5m\"; workers = 8; retry_for = \"2d\";\n"
	    "plugins = { mail = { module = \"email\"; limit = { max = 3; "
	    "per = \"7d\"; }; quiet_hours = \"21:00-08:00\"; }; };\n"
	    "journeys = ( { name = \"b2b\"; subject = \"account\";\n"
	    "  entry = \"users() >= 1\";\n"
	    "  stages = ( { name = \"onboarding\"; expect = \"14d\"; }, "
	    "\"adoption\", \"renewal\" );\n"
	    "  rules = (\n"
	    "   { name = \"adopt\"; stage = \"onboarding\"; when = "
	    "\"active_users(7d) >= 3\"; goto = \"adoption\"; },\n"
	    "   { name = \"tip\"; stage = [\"adoption\", \"renewal\"]; when = "
	    "\"true\"; holdout = 10; repeat = \"30d\";\n"
	    "     action = { plugin = \"mail\"; template = \"tip\"; n = 3; "
	    "flag = true; }; }\n"
	    "  ); } );\n", &probs);
	if (cf == NULL) {
		problems_print(&probs, stderr);
		fail();
	}
	assert_int_equal(cf->interval, 300);
	assert_int_equal(cf->workers, 8);
	assert_int_equal(cf->retry_min, 60);
	assert_int_equal(cf->retry_max, 3600);
	assert_int_equal(cf->retry_for, 172800);
	assert_int_equal(cf->ninstances, 1);
	assert_string_equal(cf->instances[0]->module, "email");
	assert_int_equal(cf->instances[0]->limit_max, 3);
	assert_int_equal(cf->instances[0]->limit_per, 604800);
	assert_string_equal(cf->instances[0]->quiet_hours, "21:00-08:00");
	assert_non_null(j = config_journey(cf, "b2b"));
	assert_int_equal(j->subject, SUBJECT_ACCOUNT);
	assert_int_equal(j->nstages, 3);
	assert_int_equal(j->stages[0].expect, 14 * 86400);
	assert_int_equal(j->nrules, 2);
	assert_int_equal(j->rules[0].go, 1);
	assert_null(j->rules[0].instance);
	assert_int_equal(j->rules[1].go, -1);
	assert_int_equal(j->rules[1].nstages, 2);
	assert_int_equal(j->rules[1].holdout, 10);
	assert_int_equal(j->rules[1].repeat, 30 * 86400);
	assert_string_equal(j->rules[1].instance, "mail");
	assert_string_equal(j->rules[1].params,
	    "{\"template\":\"tip\",\"n\":3,\"flag\":true}");
	assert_int_equal(journey_stage(j, "renewal"), 2);
	assert_int_equal(journey_stage(j, "nope"), -1);
	config_free(cf);
}

static void
test_defaults(void **state)
{
	struct problems	 probs;
	struct config	*cf = load("journeys = ( { name = \"a\"; stages = "
	    "[\"one\"]; } );\n", &probs);

	assert_non_null(cf);
	assert_int_equal(cf->interval, 60);
	assert_int_equal(cf->workers, 4);
	assert_int_equal(cf->journeys[0].subject, SUBJECT_USER);
	assert_null(cf->journeys[0].entry);
	config_free(cf);
}

static void
test_problems(void **state)
{
	expect_one("interval = \"1m\";\nbogus = 1;\n", 2,
	    "unknown setting 'bogus'");
	expect_one("interval = \"1 min\";\n", 1, "bad duration");
	expect_one("interval = 60;\n", 1, "'interval' must be a string");
	expect_one("workers = 0;\n", 1, "between 1 and 256");
	expect_one("plugin_path = 3;\n", 1, "'plugin_path' is a folder or a list");
	expect_one("plugin_path = ( \"/a\",\n 2 );\n", 2,
	    "'plugin_path' lists folders");
	expect_one("workers = \"4\";\n", 1, "must be an integer");
	expect_one("journeys = ( { name = \"a\"; stages = [\"x\"];\n"
	    "  colour = 1; } );\n", 2, "unknown setting 'colour'");
	expect_one("journeys = ( { name = \"a\"; stages = [\"x\"]; },\n"
	    " { name = \"a\"; stages = [\"y\"]; } );\n", 2,
	    "duplicate journey \"a\"");
	expect_one("journeys = ( { name = \"a\";\n stages = [\"x\", \"x\"]; "
	    "} );\n", 2, "duplicate stage \"x\"");
	expect_one("journeys = ( { name = \"a\"; subject = \"team\";\n"
	    " stages = [\"x\"]; } );\n", 1, "subject is");
	expect_one("journeys = ( { name = \"a\"; stages = [\"x\"];\n"
	    " rules = ( { name = \"r\"; when = \"true\"; goto = \"y\"; } ); "
	    "} );\n", 2, "no stage \"y\"");
	expect_one("journeys = ( { name = \"a\"; stages = [\"x\"];\n"
	    " rules = ( { name = \"r\"; stage = \"z\"; when = \"true\"; goto "
	    "= \"x\"; } ); } );\n", 2, "no stage \"z\"");
	expect_one("journeys = ( { name = \"a\"; stages = [\"x\"];\n"
	    " rules = ( { name = \"r\"; when = \"true\"; } ); } );\n", 2,
	    "needs 'goto', 'action' or both");
	expect_one("journeys = ( { name = \"a\"; stages = [\"x\"];\n"
	    " rules = ( { name = \"r\"; goto = \"x\"; } ); } );\n", 2,
	    "'when' is missing");
	expect_one("journeys = ( { name = \"a\"; stages = [\"x\"];\n"
	    " rules = ( { name = \"r\"; when = \"true\"; action = { plugin "
	    "= \"mail\"; }; } ); } );\n", 2, "no plugin instance \"mail\"");
	expect_one("journeys = ( { name = \"a\"; stages = [\"x\"];\n"
	    " rules = ( { name = \"r\"; when = \"true\"; goto = \"x\";\n"
	    " repeat = \"sometimes\"; } ); } );\n", 3, "bad duration");
	expect_one("journeys = ( { name = \"a\"; stages = [\"x\"];\n"
	    " rules = ( { name = \"r\"; when = \"true\"; goto = \"x\";\n"
	    " holdout = 101; } ); } );\n", 3, "between 0 and 100");
	expect_one("plugins = { m = { module = \"log\";\n quiet_hours = "
	    "\"9pm-8am\"; }; };\n", 2, "bad quiet_hours");
	expect_one("journeys = ( { name = \"a\"; stages = [];\n } );\n", 1,
	    "non-empty list");
	expect_one("journeys = ( { name = \"a\"; stages = [\"x\"];\n"
	    " entry = \"count('e') >= \"; } );\n", 2, "journey \"a\": entry");
	expect_one("interval = \"1m\";\nworkers = = 2;\n", 2, "syntax error");
}

static void
test_all_problems_reported(void **state)
{
	struct problems	 probs;

	assert_null(load("bogus = 1;\ninterval = \"x\";\nworkers = 0;\n",
	    &probs));
	assert_int_equal(probs.n, 3);
	problems_free(&probs);
}

static void
test_include(void **state)
{
	struct problems	 probs;
	char		 want[512];

	write_file("inc.conf", "\n\nbogus = 1;\n");
	assert_null(load("@include \"inc.conf\"\n", &probs));
	assert_int_equal(probs.n, 1);
	snprintf(want, sizeof want, "%s/inc.conf:3: ", dir);
	assert_true(strncmp(probs.msgs[0], want, strlen(want)) == 0);
	problems_free(&probs);
}

static void
test_missing_file(void **state)
{
	struct problems	 probs = { 0 };

	assert_null(config_load("/nonexistent/journeyd.conf", &probs));
	assert_int_equal(probs.n, 1);
	assert_non_null(strstr(probs.msgs[0], "/nonexistent/journeyd.conf"));
	problems_free(&probs);
}

/* A byte order mark, CRLF line ends and an include loop; NUL bytes, which
 * libconfig would take for the end of the file or of a string. */
static void
test_hostile_files(void **state)
{
	static const char nul_in_string[] = "interval = \"5m\0\";\n";
	static const char nul_after[] = "interval = \"5m\";\n\n\0x";
	struct problems	 probs;
	struct config	*cf;
	char		 p[512];
	FILE		*f;

	cf = load("\xef\xbb\xbfinterval = \"5m\";\r\nworkers = 3;\r\n", &probs);
	assert_non_null(cf);
	assert_int_equal(cf->interval, 300);
	assert_int_equal(cf->workers, 3);
	config_free(cf);

	snprintf(p, sizeof p, "%s/j.conf", dir);
	assert_non_null(f = fopen(p, "wb"));
	fwrite(nul_in_string, 1, sizeof nul_in_string - 1, f);
	fclose(f);
	memset(&probs, 0, sizeof probs);
	assert_null(config_load(path, &probs));
	assert_int_equal(probs.n, 1);
	assert_non_null(strstr(probs.msgs[0], ":1: NUL byte"));
	problems_free(&probs);
	assert_non_null(f = fopen(p, "wb"));
	fwrite(nul_after, 1, sizeof nul_after - 1, f);
	fclose(f);
	assert_null(config_load(path, &probs));
	assert_int_equal(probs.n, 1);
	assert_non_null(strstr(probs.msgs[0], ":3: NUL byte"));
	problems_free(&probs);

	assert_null(load("@include \"j.conf\"\n", &probs));
	assert_int_equal(probs.n, 1);
	assert_non_null(strstr(probs.msgs[0], "include file nesting too deep"));
	problems_free(&probs);
}

static int
setup(void **state)
{
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof path, "%s/j.conf", dir);
	return 0;
}

static int
teardown(void **state)
{
	char	 cmd[300];

	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Segments: each checked at its line; a rule's use at the rule's line. */
static void
test_segments(void **state)
{
	struct problems	 probs;
	struct config	*cf;

	(void)state;
	expect_one("segments = {\n a = \"true and segment('a')\";\n};\n", 2,
	    "segment 'a': segment 'a' uses itself (a -> a) at column 10");
	cf = load("segments = {\n a = \"segment('b')\";\n"
	    " b = \"segment('a')\";\n};\n", &probs);
	assert_null(cf);
	assert_int_equal(probs.n, 2);
	assert_non_null(strstr(probs.msgs[0], "j.conf:2: segment 'a': "
	    "segment 'a' uses itself (a -> b -> a) at column 1"));
	assert_non_null(strstr(probs.msgs[1], "j.conf:3: segment 'b': "
	    "segment 'b' uses itself (b -> a -> b) at column 1"));
	problems_free(&probs);
	expect_one("segments = {\n a = \"true\";\n b = \"segment('c')\";"
	    "\n};\n", 3, "segment 'b': unknown segment 'c' at column 1");
	expect_one("segments = {\n a = \"attr('x') ==\";\n};\n", 2,
	    "segment 'a': expected a value at column 13");
	expect_one("segments = {\n a = 5;\n};\n", 2,
	    "segment 'a' must be a string");
	expect_one("segments = {\n a = \"users() > 1 and "
	    "attr('x') == 1 == 2\";\n};\n", 2, "segment 'a': for users: "
	    "users() is only available in an account journey at column 1; "
	    "for accounts: unexpected '==' at column 32");
	expect_one("segments = { a = \"true\"; };\n"
	    "journeys = ( { name = \"j\"; stages = [\"x\"];\n"
	    " rules = ( { name = \"r\";\n when = \"segment('z')\"; "
	    "goto = \"x\"; } ); } );\n", 4,
	    "rule \"r\": unknown segment 'z' at column 1");
	expect_one("journeys = ( { name = \"j\"; stages = [\"x\", \"y\"];\n"
	    " rules = ( { name = \"r\";\n when = \"stage('j') == 'z'\"; "
	    "goto = \"y\"; } ); } );\n", 3,
	    "rule \"r\": journey 'j' has no stage 'z' at column 15");
	cf = load("segments = { paying = \"attr('plan') in ('pro')\";\n"
	    " big = \"users() > 2\"; };\n"
	    "journeys = ( { name = \"j\"; stages = [\"x\", \"y\"];\n"
	    " rules = ( { name = \"r\"; when = \"segment('paying')\"; "
	    "goto = \"y\"; } ); } );\n", &probs);
	if (cf == NULL)
		problems_print(&probs, stderr);
	assert_non_null(cf);
	assert_int_equal(cf->nsegments, 2);
	assert_string_equal(config_segment(cf, "big")->src, "users() > 2");
	assert_int_equal(config_segment(cf, "big")->line, 2);
	assert_null(config_segment(cf, "nope"));
	config_free(cf);
}


/* The http block: listen addresses, keys read from their files (kept as
 * digests, matched exactly), TLS files. */
static void
test_http(void **state)
{
	struct problems	 probs;
	struct config	*cf;
	char		 text[2048];

	write_file("wk", "# write keys\n\n  key-one \t\r\nkey two\n");
	write_file("ak", "admin\n");
	write_file("cert", "CERT\n");
	write_file("key", "KEY\n");
	snprintf(text, sizeof text, "http = { listen = [ \"127.0.0.1:8088\", "
	    "\"[::1]:0\" ]; write_key_file = \"%s/wk\"; admin_key_file = "
	    "\"%s/ak\"; tls_cert_file = \"%s/cert\"; tls_key_file = "
	    "\"%s/key\"; };\nreact = \"off\";\n", dir, dir, dir, dir);
	if ((cf = load(text, &probs)) == NULL) {
		problems_print(&probs, stderr);
		fail();
	}
	assert_non_null(cf->http);
	assert_int_equal(cf->http->nlisten, 2);
	assert_string_equal(cf->http->listen[1], "[::1]:0");
	assert_int_equal(cf->http->write_keys.n, 2);
	assert_true(keyring_match(&cf->http->write_keys, "key-one", 7));
	assert_true(keyring_match(&cf->http->write_keys, "key two", 7));
	assert_false(keyring_match(&cf->http->write_keys, "key-on", 6));
	assert_false(keyring_match(&cf->http->write_keys, "# write keys",
	    12));
	assert_false(keyring_match(&cf->http->write_keys, "", 0));
	assert_true(keyring_match(&cf->http->admin_keys, "admin", 5));
	assert_string_equal(cf->http->tls_cert, "CERT\n");
	assert_string_equal(cf->http->tls_key, "KEY\n");
	assert_int_equal(cf->react, REACT_OFF);
	config_free(cf);

	/* Defaults: no http block, react 1s; a block's listen. */
	cf = load("react = \"10s\";\n", &probs);
	assert_null(cf->http);
	assert_int_equal(cf->react, 10);
	config_free(cf);
	cf = load("", &probs);
	assert_int_equal(cf->react, REACT_DEFAULT);
	config_free(cf);
	snprintf(text, sizeof text, "http = { write_key_file = \"%s/wk\"; };\n",
	    dir);
	cf = load(text, &probs);
	assert_int_equal(cf->http->nlisten, 1);
	assert_string_equal(cf->http->listen[0], "127.0.0.1:8088");
	assert_int_equal(cf->http->admin_keys.n, 0);
	assert_null(cf->http->tls_cert);
	config_free(cf);

	/* Without config_load_secrets() (journeyctl), no key file is read. */
	write_file("j.conf", "http = { write_key_file = \"/nonexistent\"; "
	    "tls_cert_file = \"/nonexistent\"; tls_key_file = \"/no\"; };\n");
	memset(&probs, 0, sizeof probs);
	assert_non_null(cf = config_load(path, &probs));
	assert_int_equal(cf->http->write_keys.n, 0);
	assert_null(cf->http->tls_key);
	config_free(cf);
}

/* The http block's problems, each at its line. */
static void
test_http_problems(void **state)
{
	char	 text[1024];

	write_file("empty", "# none yet\n\n");
	expect_one("http = { listen = \"127.0.0.1:8088\"; };\n", 1,
	    "'write_key_file' is missing");
	snprintf(text, sizeof text, "http = {\n write_key_file = \"%s/no\";\n"
	    "};\n", dir);
	expect_one(text, 2, "cannot read");
	snprintf(text, sizeof text, "http = {\n write_key_file = \"%s/empty\";"
	    "\n};\n", dir);
	expect_one(text, 2, "no key in");
	snprintf(text, sizeof text, "http = { write_key_file = \"%s/wk\";\n"
	    " listen = [ \"127.0.0.1\" ]; };\n", dir);
	write_file("wk", "k\n");
	expect_one(text, 2, "bad listen address \"127.0.0.1\"");
	snprintf(text, sizeof text, "http = { write_key_file = \"%s/wk\";\n"
	    " listen = \"h:65536\"; };\n", dir);
	expect_one(text, 2, "bad listen address");
	snprintf(text, sizeof text, "http = { write_key_file = \"%s/wk\";\n"
	    " listen = \"::1:80\"; };\n", dir);
	expect_one(text, 2, "bad listen address");
	snprintf(text, sizeof text, "http = { write_key_file = \"%s/wk\";\n"
	    " tls_cert_file = \"%s/wk\"; };\n", dir, dir);
	expect_one(text, 1, "TLS needs both");
	snprintf(text, sizeof text, "http = { write_key_file = \"%s/wk\";\n"
	    " port = 80; };\n", dir);
	expect_one(text, 2, "unknown setting 'port' in http");
	expect_one("\nhttp = \"127.0.0.1:80\";\n", 2, "'http' must be a group");
	expect_one("\nreact = \"soon\";\n", 2, "'react': bad duration");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_problems),
		cmocka_unit_test(test_all_problems_reported),
		cmocka_unit_test(test_include),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_hostile_files),
		cmocka_unit_test(test_segments),
		cmocka_unit_test(test_http),
		cmocka_unit_test(test_http_problems),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
