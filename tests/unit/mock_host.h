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
void			 mock_host_free(void);

#endif /* JOURNEYD_MOCK_HOST_H */
