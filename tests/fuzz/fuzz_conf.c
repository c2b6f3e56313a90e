/*
 * Fuzz the config loader: the input is written to a config file in a
 * scratch folder (next to a small file it may @include) and loaded without
 * plugins. A config is either refused with at least one "FILE:LINE:
 * message" problem, or loaded whole: every journey with stages, every rule
 * with a compiled 'when' and a goto inside its journey.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "delivery/delivery.h"
#include "fuzz.h"

static char	 dir[64];
static char	*fuzz_conf_path;

/* Remove the scratch folder. */
static void
fuzz_cleanup(void)
{
	char	*p;

	unlink(fuzz_conf_path);
	p = xprintf("%s/inc.conf", dir);
	unlink(p);
	free(p);
	rmdir(dir);
	free(fuzz_conf_path);
}

/* Write len bytes to path, or die. */
static void
fuzz_write(const char *path, const void *data, size_t len)
{
	FILE	*f;

	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(data, 1, len, f) != len || fclose(f) != 0)
		fuzz_fail("cannot write %s", path);
}

/* Make the scratch folder and the file an input may include. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char inc[] = "interval = \"5m\";\n";
	char	*p;

	strcpy(dir, "/tmp/jd-fuzz-conf.XXXXXX");
	if (mkdtemp(dir) == NULL)
		fuzz_fail("mkdtemp failed");
	fuzz_conf_path = xprintf("%s/journeyd.conf", dir);
	p = xprintf("%s/inc.conf", dir);
	fuzz_write(p, inc, sizeof inc - 1);
	free(p);
	atexit(fuzz_cleanup);
	log_open("fuzz_conf", 0);
	return 0;
}

/* Check what a loaded config promises to its users. */
static void
fuzz_check(const struct config *cf)
{
	for (int i = 0; i < cf->njourneys; i++) {
		const struct journey *j = &cf->journeys[i];

		if (j->name == NULL || j->nstages < 1)
			fuzz_fail("journey %d loaded without a name or stages",
			    i);
		if ((j->entry_src != NULL) != (j->entry != NULL) ||
		    (j->exit_src != NULL) != (j->exit != NULL))
			fuzz_fail("journey %s: entry or exit not compiled",
			    j->name);
		for (int k = 0; k < j->nrules; k++) {
			const struct rule *r = &j->rules[k];

			if (r->name == NULL || r->when == NULL)
				fuzz_fail("journey %s: rule %d not compiled",
				    j->name, k);
			if (r->go < -1 || r->go >= j->nstages)
				fuzz_fail("rule %s: goto %d out of range",
				    r->name, r->go);
			if (r->go == -1 && r->instance == NULL)
				fuzz_fail("rule %s: neither goto nor action",
				    r->name);
			if (r->instance != NULL &&
			    config_instance(cf, r->instance) == NULL)
				fuzz_fail("rule %s: no instance %s", r->name,
				    r->instance);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct problems	 probs = { 0 };
	struct config	*cf;

	fuzz_write(fuzz_conf_path, data, len);
	cf = config_load(fuzz_conf_path, &probs);
	if (cf == NULL && probs.n == 0)
		fuzz_fail("config refused without a message");
	if (cf != NULL && probs.n != 0)
		fuzz_fail("config loaded with problems: %s", probs.msgs[0]);
	for (int i = 0; i < probs.n; i++)
		if (probs.msgs[i] == NULL || probs.msgs[i][0] == '\0')
			fuzz_fail("an empty problem");
	if (cf != NULL)
		fuzz_check(cf);
	config_free(cf);
	problems_free(&probs);
	return 0;
}
