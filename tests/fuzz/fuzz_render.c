/*
 * Fuzz template rendering: the input is a template, then optionally a NUL
 * byte and the subject's traits (JSON, or anything), then optionally a NUL
 * byte and the account's traits. The template is rendered and each
 * placeholder's key looked up alone; the result must be a string that
 * holds everything of the template outside its placeholders.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "insight/insight.h"
#include "fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_open("fuzz_render", 0);
	return 0;
}

/* The next NUL-separated part of the input, or NULL at its end. */
static char *
fuzz_part(const char **p, const char *end)
{
	const char	*nul;
	char		*part;

	if (*p > end)
		return NULL;
	if ((nul = memchr(*p, '\0', end - *p)) == NULL)
		nul = end;
	part = xstrndup(*p, nul - *p);
	*p = nul + 1;
	return part;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const char		*p = (const char *)data, *end = p + len;
	struct render_vars	 rv = { 0 };
	char			*tmpl, *traits, *account, *out, *v;

	tmpl = fuzz_part(&p, end);
	traits = fuzz_part(&p, end);
	account = fuzz_part(&p, end);
	rv.traits = traits;
	rv.account_traits = account;
	rv.journey = "rider";
	rv.stage = "new";
	rv.rule = "nudge";
	rv.id = "a-1";

	out = render_template(tmpl, &rv, RENDER_TEXT);
	if (out == NULL)
		fuzz_fail("render_template returned NULL");
	if (strstr(tmpl, "{{") == NULL && strcmp(out, tmpl) != 0)
		fuzz_fail("a template without placeholders changed");
	free(out);
	/* Every key the template would look up, alone. */
	for (const char *o = tmpl; (o = strstr(o, "{{")) != NULL; o += 2) {
		const char *c = strstr(o + 2, "}}");
		char *key;

		if (c == NULL)
			break;
		key = xstrndup(o + 2, c - o - 2);
		v = render_trait(&rv, key);
		free(v);
		free(key);
	}
	free(tmpl);
	free(traits);
	free(account);
	return 0;
}
