/*
 * stall: a test plugin whose calls block until the test lets them go (built
 * by make check, never installed). With init_file, init() waits while that
 * file exists: on a reload, the daemon's main loop is then stuck in it, as
 * it would be in a plugin whose start never returns. With act_file, act()
 * waits while that file exists, then says done: a call stuck past its
 * timeout for as long as the test wants.
 */
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "journeyd/plugin.h"

static const struct jd_setting stall_settings[] = {
	{ "init_file", JD_T_STRING, 0, NULL, "init() waits while it exists" },
	{ "act_file", JD_T_STRING, 0, NULL, "act() waits while it exists" },
	{ NULL, 0, 0, NULL, NULL }
};

/* Wait while path (when set) exists, looking every 20 ms. */
static void
stall_while(const char *path)
{
	struct timespec	 ts;

	while (path != NULL && access(path, F_OK) == 0) {
		ts.tv_sec = 0;
		ts.tv_nsec = 20 * 1000000L;
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
}

/* Start: wait while init_file exists. */
static int
stall_init(const struct jd_host *host, const struct jd_settings *set,
    void **state, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	*state = NULL;
	stall_while(host->setting(set, "init_file"));
	return 0;
}

/* Perform: wait while act_file exists, then done. */
static enum jd_result
stall_act(void *state, const struct jd_host *host, const struct jd_action *a,
    char *reason, size_t reasonlen)
{
	(void)state;
	(void)reason;
	(void)reasonlen;
	stall_while(host->setting(a->settings, "act_file"));
	return JD_DONE;
}

static const struct jd_plugin stall_plugin = {
	.abi_major = JD_PLUGIN_ABI_MAJOR,
	.abi_minor = JD_PLUGIN_ABI_MINOR,
	.size = sizeof(struct jd_plugin),
	.name = "stall",
	.description = "calls that block while a file exists",
	.settings = stall_settings,
	.init = stall_init,
	.act = stall_act,
};

JD_PLUGIN_DECLARE(stall_plugin)
