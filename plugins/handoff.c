/*
 * handoff: the Glow-style hand-off (Glow -> Glow Mother -> Glow Baby). With
 * `to`, the subject is enrolled in another journey, at its first stage or at
 * `stage`. With `suggest = true` the subject is not moved: the offer is
 * recorded and announced through the plugin instance named by `via` (the
 * action's other parameters, such as `template`, go to it, with `offer` set
 * to the journey), and the subject enters the journey when its entry holds.
 *
 * The plugin moves nothing itself: its outcome asks for the enrollment or
 * the announcement, and journeyd applies it in the transaction that records
 * the action done, so that a crash can neither hand a subject off twice nor
 * lose the hand-off.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "journeyd/plugin.h"

static const struct jd_setting handoff_params[] = {
	{ "to", JD_T_STRING, 1, NULL, "the journey to hand the subject to" },
	{ "stage", JD_T_STRING, 0, NULL, "its stage (default: the first)" },
	{ "suggest", JD_T_BOOL, 0, "false",
	    "only record and announce the offer" },
	{ "via", JD_T_STRING, 0, NULL,
	    "with suggest: the plugin instance that announces it" },
	{ "template", JD_T_STRING, 0, NULL, "passed on to via" },
	{ "message", JD_T_STRING, 0, NULL, "passed on to via" },
	{ "subject", JD_T_STRING, 0, NULL, "passed on to via" },
	{ "body", JD_T_STRING, 0, NULL, "passed on to via" },
	{ NULL, 0, 0, NULL, NULL }
};

/* Is the action a suggestion? */
static int
handoff_suggest(const struct jd_host *host, const struct jd_action *a)
{
	int64_t	 suggest = 0;

	return host->param_int(a, "suggest", &suggest) == 1 && suggest;
}

/* Check the target journey and stage, and via, when the config loads. */
static int
handoff_check(void *state, const struct jd_host *host,
    const struct jd_action *a, char *err, size_t errlen)
{
	const char	*to = host->param(a, "to");
	const char	*stage = host->param(a, "stage");
	const char	*via = host->param(a, "via");

	if (to == NULL || !host->has_journey(host, to, NULL)) {
		snprintf(err, errlen, "no journey \"%s\" to hand off to",
		    to != NULL ? to : "");
		return -1;
	}
	if (stage != NULL && !host->has_journey(host, to, stage)) {
		snprintf(err, errlen, "no stage \"%s\" in journey \"%s\"",
		    stage, to);
		return -1;
	}
	if (a->journey != NULL && strcmp(to, a->journey) == 0) {
		snprintf(err, errlen, "a journey cannot hand off to itself");
		return -1;
	}
	/* Templates passed on to via: checked as its own would be. */
	host->check_template(a, NULL, host->param(a, "message"));
	host->check_template(a, NULL, host->param(a, "subject"));
	host->check_template(a, NULL, host->param(a, "body"));
	if (handoff_suggest(host, a)) {
		if (via == NULL) {
			snprintf(err, errlen, "suggest = true needs 'via', "
			    "the plugin instance that announces the offer");
			return -1;
		}
		if (!host->has_instance(host, via)) {
			snprintf(err, errlen, "via: no plugin instance \"%s\"",
			    via);
			return -1;
		}
	}
	return 0;
}

/* The parameters of the announcing action: ours, less our own keys, plus
 * the offer; the host's string, or NULL. */
static const char *
handoff_via_params(const struct jd_host *host, const struct jd_action *a,
    const char *to)
{
	static const char	*ours[] = { "to", "stage", "suggest", "via" };
	const char		*out = NULL;
	json_t			*params;
	char			*text;

	if ((params = json_loads(a->params, 0, NULL)) == NULL ||
	    !json_is_object(params)) {
		json_decref(params);
		return NULL;
	}
	for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
		json_object_del(params, ours[i]);
	if (json_object_set_new(params, "offer", json_string(to)) == 0 &&
	    (text = json_dumps(params, JSON_COMPACT)) != NULL) {
		out = host->format(a, "%s", text);
		free(text);
	}
	json_decref(params);
	return out;
}

/* Hand the subject off, or suggest it: say so in the outcome. */
static void
handoff_perform(void *state, const struct jd_host *host,
    const struct jd_action *a, struct jd_outcome *o)
{
	const char	*to = host->param(a, "to");
	const char	*stage = host->param(a, "stage");
	const char	*via = host->param(a, "via");

	o->status = JD_FAILED;
	if (to == NULL) {
		snprintf(o->reason, o->reasonlen, "no 'to' journey");
		return;
	}
	if (handoff_suggest(host, a)) {
		if (via == NULL) {
			snprintf(o->reason, o->reasonlen, "suggest needs "
			    "'via'");
			return;
		}
		if ((o->announce.params = handoff_via_params(host, a,
		    to)) == NULL) {
			snprintf(o->reason, o->reasonlen, "the action's "
			    "parameters are not a JSON object");
			return;
		}
		o->announce.instance = via;
		host->note(a, host->format(a, "suggested %s via %s", to, via));
		o->status = JD_DONE;
		return;
	}
	o->enroll.journey = to;
	o->enroll.stage = stage;
	host->note(a, host->format(a, "handed off to %s%s%s", to,
	    stage != NULL ? " at " : "", stage != NULL ? stage : ""));
	o->status = JD_DONE;
}

static const struct jd_plugin handoff_plugin = {
	.abi_major = JD_PLUGIN_ABI_MAJOR,
	.abi_minor = JD_PLUGIN_ABI_MINOR,
	.size = sizeof(struct jd_plugin),
	.name = "handoff",
	.description = "enroll the subject in the next product's journey",
	.params = handoff_params,
	.check = handoff_check,
	.setting_size = sizeof(struct jd_setting),
	.perform = handoff_perform,
};

JD_PLUGIN_DECLARE(handoff_plugin)
