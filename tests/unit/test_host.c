/*
 * Tests of the plugin host interface (src/delivery/host.c) as a 1.1 plugin
 * sees it: parameters as numbers and durations, traits by path, templates
 * in text and HTML, strings lent for the action, effects checked against
 * the config and taken from an outcome, and the templates check() hands
 * over, with their warnings (tmplcheck.c).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "insight/insight.h"

static char		 host_conf_path[] = "/tmp/journeyd-test-host.XXXXXX";
static struct config	*cf;
static struct jd_host	 host;

/* An action of instance "mail" with params, its traits and an account. */
static void
act_init(struct act *act, const char *params)
{
	memset(act, 0, sizeof *act);
	act->conf = cf;
	act->inst = config_instance(cf, "mail");
	act->a.id = "act-1";
	act->a.journey = act->rv.journey = "a";
	act->a.stage = act->rv.stage = "in";
	act->a.rule = act->rv.rule = "r";
	act->a.subject_id = act->rv.subject_id = "u1";
	act->a.params = params;
	act->rv.id = act->a.id;
	act->rv.traits = "{\"first_name\":\"<b>Ann</b>\",\"address\":{\"city\":"
	    "\"Berlin\"},\"vip\":true}";
	act->rv.account_traits = "{\"name\":\"Acme\"}";
}

static void
test_params(void **unused)
{
	struct act	 act;
	int64_t		 n = 42;

	act_init(&act, "{\"n\":12,\"neg\":-3,\"yes\":true,\"no\":false,"
	    "\"due\":\"2d\",\"secs\":\"90\",\"word\":\"soon\",\"num\":\"7\"}");
	assert_int_equal(host.param_int(&act.a, "n", &n), 1);
	assert_int_equal(n, 12);
	assert_int_equal(host.param_int(&act.a, "neg", &n), 1);
	assert_int_equal(n, -3);
	assert_int_equal(host.param_int(&act.a, "yes", &n), 1);
	assert_int_equal(n, 1);
	assert_int_equal(host.param_int(&act.a, "no", &n), 1);
	assert_int_equal(n, 0);
	assert_int_equal(host.param_int(&act.a, "num", &n), 1);
	assert_int_equal(n, 7);
	n = 42;
	assert_int_equal(host.param_int(&act.a, "absent", &n), 0);
	assert_int_equal(n, 42);
	assert_int_equal(host.param_int(&act.a, "word", &n), -1);
	assert_int_equal(host.param_int(&act.a, "due", &n), -1);
	assert_int_equal(host.param_duration(&act.a, "due", &n), 1);
	assert_int_equal(n, 2 * 86400);
	assert_int_equal(host.param_duration(&act.a, "secs", &n), 1);
	assert_int_equal(n, 90);
	assert_int_equal(host.param_duration(&act.a, "word", &n), -1);
	assert_int_equal(host.param_duration(&act.a, "neg", &n), -1);
	assert_int_equal(host.param_duration(&act.a, "yes", &n), -1);
	assert_string_equal(host.param(&act.a, "due"), "2d");
	act_clear(&act);
}

static void
test_values(void **unused)
{
	struct act	 act;
	char		*s;

	act_init(&act, "{}");
	assert_string_equal(host.value(&act.a, "address.city"), "Berlin");
	assert_string_equal(host.value(&act.a, "account.name"), "Acme");
	assert_string_equal(host.value(&act.a, "vip"), "true");
	assert_null(host.value(&act.a, "nope"));
	assert_string_equal(host.expand(&act.a, "{{first_name}} of "
	    "{{account.name}} ({{subject_id}}, {{action_id}})",
	    JD_EXPAND_TEXT), "<b>Ann</b> of Acme (u1, act-1)");
	assert_string_equal(host.expand(&act.a, "<p>{{first_name}}</p>",
	    JD_EXPAND_HTML), "<p>&lt;b&gt;Ann&lt;/b&gt;</p>");
	assert_string_equal(host.format(&act.a, "%s-%d", "x", 7), "x-7");
	/* 1.0's, which the plugin frees. */
	s = host.render(&act.a, "{{first_name}}");
	assert_string_equal(s, "<b>Ann</b>");
	free(s);
	s = host.trait(&act.a, "address.city");
	assert_string_equal(s, "Berlin");
	free(s);
	/* Lent strings are the action's: freed with it (valgrind, ASan). */
	assert_int_equal(act.nstrings, 6);
	act_clear(&act);
	assert_int_equal(act.nstrings, 0);
}

static void
test_effects(void **unused)
{
	struct act		 act;
	struct jd_outcome	 o;
	char			 err[256], id[16] = "T-1";

	act_init(&act, "{}");
	/* 1.0's enroll() and queue() only ask, checked against the config. */
	assert_int_equal(host.enroll(&act.a, "b", NULL, err, sizeof err), 0);
	assert_int_equal(host.enroll(&act.a, "b", "second", err, sizeof err),
	    0);
	assert_int_equal(host.enroll(&act.a, "zz", NULL, err, sizeof err), -1);
	assert_string_equal(err, "no journey \"zz\"");
	assert_int_equal(host.enroll(&act.a, "b", "third", err, sizeof err),
	    -1);
	assert_string_equal(err, "no stage \"third\" in journey \"b\"");
	assert_int_equal(host.queue(&act.a, "note", "{\"m\":1}", err,
	    sizeof err), 0);
	assert_int_equal(host.queue(&act.a, "none", NULL, err, sizeof err),
	    -1);
	assert_int_equal(host.queue(&act.a, "note", "[1]", err, sizeof err),
	    -1);
	assert_int_equal(act.neffects, 3);
	assert_string_equal(act.effects[1].stage, "second");
	assert_string_equal(act.effects[2].params, "{\"m\":1}");

	/* A 1.1 outcome's. */
	memset(&o, 0, sizeof o);
	o.size = sizeof o;
	o.external_id = id;
	o.external_idlen = sizeof id;
	o.enroll.journey = "b";
	o.announce.instance = "note";
	assert_int_equal(act_outcome(&act, &o, err, sizeof err), 0);
	assert_string_equal(act.external_id, "T-1");
	assert_int_equal(act.neffects, 5);
	assert_string_equal(act.effects[4].params, "{}");
	o.enroll.journey = NULL;
	o.announce.instance = "nowhere";
	assert_int_equal(act_outcome(&act, &o, err, sizeof err), -1);
	assert_string_equal(err, "no plugin instance \"nowhere\"");
	act_clear(&act);
	assert_int_equal(act.neffects, 0);
}

static void
test_check_template(void **unused)
{
	struct problems		 probs = { 0 };
	struct act_check	 ctx = { NULL, NULL, &probs };
	struct act		 act;
	char			 want[256];

	act_init(&act, "{\"message\":\"Hi {{id}}\"}");
	/* Outside check(): ignored. */
	host.check_template(&act.a, NULL, "{{id}}");
	assert_int_equal(probs.nwarnings, 0);
	ctx.templates = tmpl_check_new(NULL);
	ctx.rule = &cf->journeys[0].rules[0];
	act.check = &ctx;
	/* In the action: at its parameter's line; in a file: at its own. */
	host.check_template(&act.a, NULL, "Hi {{id}}");
	host.check_template(&act.a, "/t/x.txt", "a\n\n{{ id }} {{journey}}\n");
	host.check_template(&act.a, "/t/x.txt", "{{id}}");
	assert_int_equal(probs.nwarnings, 2);
	snprintf(want, sizeof want, "%s:6: warning: {{id}} is the action's",
	    host_conf_path);
	assert_memory_equal(probs.warnings[0], want, strlen(want));
	assert_memory_equal(probs.warnings[1], "/t/x.txt:3: warning: {{id}}",
	    27);
	tmpl_check_free(ctx.templates);
	problems_free(&probs);
	act_clear(&act);
}

static int
setup(void **unused)
{
	struct problems	 probs = { 0 };
	FILE		*f;
	int		 fd;

	log_open("test_host", 0);
	if ((fd = mkstemp(host_conf_path)) == -1 || (f = fdopen(fd, "w")) == NULL)
		return -1;
	fputs("database = \"/nonexistent/j.db\";\n"
	    "plugins = { mail = { module = \"log\"; }; note = { module = "
	    "\"log\"; }; };\n"
	    "journeys = ( { name = \"a\"; entry = \"true\"; stages = [ \"in\" ];\n"
	    "  rules = ( { name = \"r\"; when = \"true\";\n"
	    "    action = { plugin = \"mail\";\n"
	    "      message = \"Hi {{id}}\"; }; } ); },\n"
	    "  { name = \"b\"; stages = [ \"first\", \"second\" ]; } );\n", f);
	fclose(f);
	if ((cf = config_load(host_conf_path, &probs)) == NULL) {
		problems_print(&probs, stderr);
		return -1;
	}
	host_fill(&host, NULL);
	return 0;
}

static int
teardown(void **unused)
{
	config_free(cf);
	unlink(host_conf_path);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_effects),
		cmocka_unit_test(test_check_template),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
