/*
 * A mock of the plugin host, in collectd's manner: plugins are driven
 * without the daemon. Settings and parameters come from plain key/value
 * arrays and JSON; traits and templates go through render.c; log lines and
 * notes are captured in buffers for the tests to read.
 */
#ifndef JOURNEYD_MOCK_HOST_H
#define JOURNEYD_MOCK_HOST_H

#include "journeyd/plugin.h"

/* A plugin instance's settings: { key, value, ..., NULL } over its table. */
struct jd_settings {
	const struct jd_setting	 *table;
	const char *const	 *kv;
};

const struct jd_host	*mock_host(void);
void			 mock_host_reset(void);
char			*mock_host_log(void);	/* caller frees */
char			*mock_host_notes(void);	/* caller frees */
/* The templates handed to check_template(), one "FILE|TEXT" line each
 * ("-" for no file); caller frees. */
char			*mock_host_templates(void);
void			 mock_host_free(void);

/* Perform an action through a 1.1 plugin as the host does: a fresh outcome
 * with its buffers; its reason is copied to reason. Returns its status;
 * the last outcome (its retry_after, external_id, effects) stays readable
 * through mock_outcome() until the next call. */
enum jd_result		 mock_perform(const struct jd_plugin *, void *state,
			    const struct jd_action *, char *reason,
			    size_t reasonlen);
const struct jd_outcome	*mock_outcome(void);

#endif /* JOURNEYD_MOCK_HOST_H */
