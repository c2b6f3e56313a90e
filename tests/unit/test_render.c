/*
 * Tests of render.c: placeholders, built-ins, trait paths, account traits,
 * missing traits, brace oddities, numbers and booleans as SQLite prints
 * them, bad JSON, HTML escaping, and rendering from several threads at
 * once.
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

#include <cmocka.h>

#include "insight/insight.h"

static const struct render_vars vars = {
	.traits = "{\"first_name\":\"Ann\",\"email\":\"ann@example.com\","
	    "\"rides\":12,\"fare\":12.5,\"big\":1e300,\"neg\":-3,"
	    "\"vip\":true,\"churned\":false,\"gone\":null,"
	    "\"tags\":[\"a\",\"b\"],\"address\":{\"city\":\"Berlin\"},"
	    "\"items\":[{\"sku\":\"A-1\"},{\"sku\":\"B-2\"}],"
	    "\"dotted.key\":\"dot\",\"with space\":\"sp\","
	    "\"unicode\":\"Zo\\u00eb \xe2\x98\x83\",\"id\":\"trait-id\"}",
	.account_traits = "{\"name\":\"Acme Inc\",\"seats\":25,"
	    "\"hq\":{\"city\":\"Paris\"}}",
	.journey = "rider",
	.variant = "short",
	.stage = "new",
	.rule = "nudge",
	.subject_id = "u1",
	.id = "act-1"
};

/* Assert that tmpl renders as want. */
static void
assert_render(const struct render_vars *v, const char *tmpl,
    const char *want)
{
	char	*got = render_template(tmpl, v, RENDER_TEXT);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

/* Assert that tmpl renders as want in an HTML part. */
static void
assert_render_html(const struct render_vars *v, const char *tmpl,
    const char *want)
{
	char	*got = render_template(tmpl, v, RENDER_HTML);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

/* Assert a trait's text, or its absence when want is NULL. */
static void
assert_trait(const struct render_vars *v, const char *key, const char *want)
{
	char	*got = render_trait(v, key);

	if (want == NULL)
		assert_null(got);
	else {
		assert_non_null(got);
		assert_string_equal(got, want);
	}
	free(got);
}

static void
test_placeholders(void **unused)
{
	assert_render(&vars, "", "");
	assert_render(&vars, "no placeholders", "no placeholders");
	assert_render(&vars, "Hi {{first_name}}!", "Hi Ann!");
	assert_render(&vars, "{{journey}}/{{stage}}/{{rule}}/{{id}}",
	    "rider/new/nudge/act-1");
	assert_render(&vars, "{{ first_name }},{{\tfirst_name\t}},"
	    "{{first_name   }}", "Ann,Ann,Ann");
	assert_render(&vars, "{{first_name}}{{first_name}}", "AnnAnn");
	assert_render(&vars, "{{account.name}} has {{account.seats}} seats",
	    "Acme Inc has 25 seats");
	assert_render(&vars, "{{unicode}}", "Zo\xc3\xab \xe2\x98\x83");
	/* A dot descends into an object: a key with a dot in it is not
	 * reachable by a template. */
	assert_render(&vars, "[{{dotted.key}}] {{with space}}", "[] sp");
}

static void
test_builtins(void **unused)
{
	assert_render(&vars, "{{subject_id}}/{{action_id}}/{{id}}",
	    "u1/act-1/act-1");
	assert_int_equal(render_builtin("journey"), RENDER_JOURNEY);
	assert_int_equal(render_builtin("subject_id"), RENDER_SUBJECT_ID);
	assert_int_equal(render_builtin("action_id"), RENDER_ACTION_ID);
	assert_int_equal(render_builtin("id"), RENDER_ID);
	assert_int_equal(render_builtin("userId"), RENDER_TRAIT);
	assert_int_equal(render_builtin("variants"), RENDER_TRAIT);
	assert_int_equal(render_builtin("variant"), RENDER_VARIANT);
	assert_render(&vars, "[{{variant}}]", "[short]");
}

static void
test_paths(void **unused)
{
	assert_render(&vars, "{{address.city}}", "Berlin");
	assert_render(&vars, "{{items[1].sku}} {{items[0].sku}}", "B-2 A-1");
	assert_render(&vars, "{{tags[0]}}{{tags[1]}}", "ab");
	assert_render(&vars, "{{account.hq.city}}", "Paris");
	assert_render(&vars, "[{{address.zip}}][{{items[9].sku}}]", "[][]");
	assert_render(&vars, "[{{address..city}}][{{items[x]}}][{{items[0}}]",
	    "[][][]");
	assert_render(&vars, "[{{first_name.more}}][{{.first_name}}]", "[][]");
	assert_trait(&vars, "items[0]", "{\"sku\":\"A-1\"}");
}

static void
test_html(void **unused)
{
	struct render_vars	 v = vars;

	v.traits = "{\"first_name\":\"<a href=\\\"http://phish.example/"
	    "\\\">Click to verify</a>\",\"q\":\"Tom & Jerry's\"}";
	/* The template's own markup stays; every value is escaped. */
	assert_render_html(&v, "<p>Hi <b>{{first_name}}</b></p>",
	    "<p>Hi <b>&lt;a href=&quot;http://phish.example/&quot;&gt;"
	    "Click to verify&lt;/a&gt;</b></p>");
	assert_render_html(&v, "{{q}}", "Tom &amp; Jerry&#39;s");
	assert_render_html(&v, "{{journey}}", "rider");
	/* Text mode leaves the value as it is. */
	assert_render(&v, "{{q}}", "Tom & Jerry's");
}

static void
test_missing(void **unused)
{
	struct render_vars	 v = vars;

	assert_render(&vars, "[{{nope}}]", "[]");
	assert_render(&vars, "[{{account.nope}}]", "[]");
	assert_render(&vars, "[{{gone}}]", "[]");
	assert_render(&vars, "[{{}}]", "[]");
	assert_render(&vars, "[{{   }}]", "[]");
	assert_render(&vars, "[{{account.}}]", "[]");
	assert_render(&vars, "[{{a\"b}}]", "[]");
	v.account_traits = NULL;
	v.journey = NULL;
	assert_render(&v, "[{{account.name}}][{{journey}}]", "[][]");
	v.traits = "not json";
	assert_render(&v, "[{{first_name}}]", "[]");
	v.traits = NULL;
	assert_render(&v, "[{{first_name}}]", "[]");
}

static void
test_braces(void **unused)
{
	assert_render(&vars, "{first_name}", "{first_name}");
	assert_render(&vars, "{{first_name}", "{{first_name}");
	assert_render(&vars, "{{first_name", "{{first_name");
	assert_render(&vars, "first_name}}", "first_name}}");
	assert_render(&vars, "{{{first_name}}}", "{Ann}");
	assert_render(&vars, "{{{{first_name}}}}", "{{Ann}}");
	assert_render(&vars, "{{a{{first_name}}}}", "{{aAnn}}");
	assert_render(&vars, "{{ {first_name} }}", "{{ {first_name} }}");
	assert_render(&vars, "{{", "{{");
	assert_render(&vars, "}}{{", "}}{{");
	assert_render(&vars, "{{}}}", "}");
	/* A value is never rendered again. */
	struct render_vars v = vars;
	v.traits = "{\"x\":\"{{first_name}}\",\"first_name\":\"Ann\"}";
	assert_render(&v, "{{x}}", "{{first_name}}");
}

static void
test_values(void **unused)
{
	assert_trait(&vars, "first_name", "Ann");
	assert_trait(&vars, "rides", "12");
	assert_trait(&vars, "fare", "12.5");
	assert_trait(&vars, "big", "1.0e+300");
	assert_trait(&vars, "neg", "-3");
	assert_trait(&vars, "vip", "true");
	assert_trait(&vars, "churned", "false");
	assert_trait(&vars, "gone", NULL);
	assert_trait(&vars, "nope", NULL);
	assert_trait(&vars, "tags", "[\"a\",\"b\"]");
	assert_trait(&vars, "address", "{\"city\":\"Berlin\"}");
	assert_trait(&vars, "account.seats", "25");
	assert_trait(&vars, "account.name", "Acme Inc");
	/* {{id}} is the action's; the trait stays reachable by key. */
	assert_trait(&vars, "id", "trait-id");
	assert_render(&vars, "{{id}}", "act-1");
	assert_render(&vars, "{{vip}}/{{churned}}/{{fare}}/{{rides}}",
	    "true/false/12.5/12");
}

/* Render many times from one thread. */
static void *
render_worker(void *arg)
{
	int	*bad = arg;
	char	*s;

	for (int i = 0; i < 500; i++) {
		s = render_template("{{first_name}} {{account.seats}} {{vip}}",
		    &vars, RENDER_TEXT);
		if (strcmp(s, "Ann 25 true") != 0)
			(*bad)++;
		free(s);
	}
	return NULL;
}

static void
test_threads(void **unused)
{
	pthread_t	 t[8];
	int		 bad[8] = { 0 };

	for (int i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&t[i], NULL, render_worker,
		    &bad[i]), 0);
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(bad[i], 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_placeholders),
		cmocka_unit_test(test_builtins),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_braces),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
