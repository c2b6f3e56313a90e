/*
 * handoff: the Glow-style hand-off (Glow -> Glow Mother -> Glow Baby). With
 * `to`, the subject is enrolled in another journey, at its first stage or at
 * `stage`. With `suggest = true` the subject is not moved: the offer is
 * recorded and announced through the plugin instance named by `via` (the
 * action's other parameters, such as `template`, go to it, with `offer` set
 * to the journey), and the subject enters the journey when its entry holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

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

/* Is a boolean parameter true? */
static int
handoff_flag(const struct jd_host *host, const struct jd_action *a,
    const char *key)
{
	const char	*v = host->param(a, key);

	return v != NULL && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
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
	if (to != NULL && a->journey != NULL && strcmp(to, a->journey) == 0) {
		snprintf(err, errlen, "a journey cannot hand off to itself");
		return -1;
	}
	if (handoff_flag(host, a, "suggest")) {
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

/* The parameters for the announcing action: ours, less our own keys, plus
 * the offer. Caller frees. */
static char *
handoff_via_params(const char *params, const char *to)
{
	sqlite3		*db;
	sqlite3_stmt	*st;
	char		*out = NULL;

	if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
		sqlite3_close(db);
		return NULL;
	}
	if (sqlite3_prepare_v2(db, "SELECT json_set(json_remove(?1, '$.to', "
	    "'$.stage', '$.suggest', '$.via'), '$.offer', ?2)", -1, &st,
	    NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, params, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, to, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			out = strdup((const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return out;
}

/* Hand the subject off, or suggest it. */
static enum jd_result
handoff_act(void *state, const struct jd_host *host,
    const struct jd_action *a, char *reason, size_t reasonlen)
{
	const char	*to = host->param(a, "to");
	const char	*stage = host->param(a, "stage");
	char		 err[256] = "", note[512];
	char		*params;
	int		 rc;

	if (to == NULL) {
		snprintf(reason, reasonlen, "no 'to' journey");
		return JD_FAILED;
	}
	if (handoff_flag(host, a, "suggest")) {
		const char *via = host->param(a, "via");
		if (via == NULL) {
			snprintf(reason, reasonlen, "suggest needs 'via'");
			return JD_FAILED;
		}
		if ((params = handoff_via_params(a->params, to)) == NULL) {
			snprintf(reason, reasonlen, "out of memory");
			return JD_RETRY;
		}
		rc = host->queue(a, via, params, err, sizeof err);
		free(params);
		if (rc != 0) {
			snprintf(reason, reasonlen, "%s", err);
			return JD_RETRY;
		}
		snprintf(note, sizeof note, "suggested %s via %s", to, via);
		host->note(a, note);
		return JD_DONE;
	}
	if (host->enroll(a, to, stage, err, sizeof err) != 0) {
		snprintf(reason, reasonlen, "%s", err);
		return JD_RETRY;
	}
	snprintf(note, sizeof note, "handed off to %s%s%s", to,
	    stage != NULL ? " at " : "", stage != NULL ? stage : "");
	host->note(a, note);
	return JD_DONE;
}

static const struct jd_plugin handoff_plugin = {
	.abi_major = JD_PLUGIN_ABI_MAJOR,
	.abi_minor = JD_PLUGIN_ABI_MINOR,
	.size = sizeof(struct jd_plugin),
	.name = "handoff",
	.description = "enroll the subject in the next product's journey",
	.params = handoff_params,
	.check = handoff_check,
	.act = handoff_act,
};

JD_PLUGIN_DECLARE(handoff_plugin)
