/*
 * wide: a 1.1 plugin whose tables' entries are wider than this header's
 * struct jd_setting, as a plugin built against a later minor that grew it
 * would have, for tests/e2e/abi.py: the host must read them by the entry
 * size the descriptor declares (setting_size). Each action is done with a
 * note that says the values the host gave it.
 */
#include <stdio.h>

#include "journeyd/plugin.h"

/* An entry as a later minor might have it: a member more. */
struct wide_setting {
	struct jd_setting	 s;
	const char		*later;
};

static const struct wide_setting wide_settings[] = {
	{ { "alpha", JD_T_STRING, 1, NULL, "required" }, "x" },
	{ { "beta", JD_T_INT, 0, "7", "with a default" }, "y" },
	{ { NULL, 0, 0, NULL, NULL }, NULL }
};

static const struct wide_setting wide_params[] = {
	{ { "gamma", JD_T_STRING, 0, "g", "a parameter" }, "z" },
	{ { NULL, 0, 0, NULL, NULL }, NULL }
};

/* Note the settings and the parameter. */
static void
wide_perform(void *state, const struct jd_host *host,
    const struct jd_action *a, struct jd_outcome *o)
{
	const char	*gamma = host->param(a, "gamma");

	host->note(a, host->format(a, "alpha=%s beta=%lld gamma=%s",
	    host->setting(a->settings, "alpha"),
	    (long long)host->setting_int(a->settings, "beta"),
	    gamma != NULL ? gamma : "-"));
	o->status = JD_DONE;
}

static const struct jd_plugin wide_plugin = {
	.abi_major = JD_PLUGIN_ABI_MAJOR,
	.abi_minor = JD_PLUGIN_ABI_MINOR,
	.size = sizeof(struct jd_plugin),
	.name = "wide",
	.description = "tables with wider entries",
	.settings = &wide_settings[0].s,
	.params = &wide_params[0].s,
	.setting_size = sizeof(struct wide_setting),
	.perform = wide_perform,
};

JD_PLUGIN_DECLARE(wide_plugin)
