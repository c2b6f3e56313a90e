/*
 * log: writes each action to journeyd's log. For trying rules out before
 * they send anything.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journeyd/plugin.h"

static const struct jd_setting log_settings[] = {
	{ "prefix", JD_T_STRING, 0, "action", "word that starts each line" },
	{ NULL, 0, 0, NULL, NULL }
};

static const struct jd_setting log_params[] = {
	{ "message", JD_T_STRING, 0, NULL, "a template added to the line" },
	{ NULL, 0, 0, NULL, NULL }
};

/* Hand the host the message template, for --check. */
static int
log_check(void *state, const struct jd_host *host, const struct jd_action *a,
    char *err, size_t errlen)
{
	host->check_template(a, NULL, host->param(a, "message"));
	return 0;
}

/* Log one action. */
static void
log_perform(void *state, const struct jd_host *host,
    const struct jd_action *a, struct jd_outcome *o)
{
	const char	*msg = host->param(a, "message");
	const char	*text = msg != NULL ? host->expand(a, msg,
			    JD_EXPAND_TEXT) : NULL;

	host->log(host, JD_LOG_NOTICE, "%s %s: journey %s, stage %s, rule %s, "
	    "%s %s%s%s", host->setting(a->settings, "prefix"), a->id,
	    a->journey, a->stage, a->rule, a->subject_kind, a->subject_id,
	    text != NULL ? ": " : "", text != NULL ? text : "");
	o->status = JD_DONE;
}

static const struct jd_plugin log_plugin = {
	.abi_major = JD_PLUGIN_ABI_MAJOR,
	.abi_minor = JD_PLUGIN_ABI_MINOR,
	.size = sizeof(struct jd_plugin),
	.name = "log",
	.description = "write each action to the log",
	.settings = log_settings,
	.params = log_params,
	.check = log_check,
	.setting_size = sizeof(struct jd_setting),
	.perform = log_perform,
};

JD_PLUGIN_DECLARE(log_plugin)
