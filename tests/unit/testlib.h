/*
 * Support for the plugin tests: a scratch folder, the test servers (started
 * and stopped here, ready when they have written their port), loading a
 * plugin's shared object, and reading JSON with SQLite.
 */
#ifndef JOURNEYD_TESTLIB_H
#define JOURNEYD_TESTLIB_H

#include <sys/types.h>

#include "journeyd/plugin.h"

/* 2026-03-01T09:00:00Z, a Sunday: the tests' clock. */
#define TEST_NOW	1772355600

struct test_server {
	pid_t	 pid;
	int	 port;
};

void		 testlib_init(void);
void		 testlib_done(void);
char		*testlib_path(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
int		 testlib_python_has(const char *module);

int		 server_start(struct test_server *, const char *script, ...);
void		 server_stop(struct test_server *);

const struct jd_plugin *plugin_open(const char *name, void **dl);
void		 plugin_close(void *dl);

char		*json_get(const char *json, const char *path);
char		*file_read(const char *path);
void		 file_write(const char *path, const char *text);
char		*file_line(const char *path, int n);
int		 file_count_lines(const char *path);
int		 dir_count(const char *path);

#endif /* JOURNEYD_TESTLIB_H */
