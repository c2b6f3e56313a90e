/*
 * Support for the plugin tests. Servers are Python scripts from
 * tests/servers, started with the test's own Python (JD_TEST_PYTHON, default
 * Debian's /usr/bin/python3) and a pipe as their ready file: a server is
 * ready when it has written its port there, so nothing waits by sleeping.
 * Plugins are loaded from JD_PLUGIN_DIR, default $top_builddir/.libs.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "insight/insight.h"
#include "testlib.h"

static char	 testlib_dir[] = "/tmp/jdtest.XXXXXX";
static int	 testlib_ready;
static pid_t	 testlib_servers[64];	/* running, for testlib_done */

/* An environment variable, or a default. */
static const char *
testlib_env(const char *name, const char *defval)
{
	const char	*v = getenv(name);

	return v != NULL && *v != '\0' ? v : defval;
}

/* The Python that runs the test servers: Debian's, which has aiosmtpd. */
static const char *
testlib_python(void)
{
	return testlib_env("JD_TEST_PYTHON", "/usr/bin/python3");
}

/* Make the scratch folder; ignore SIGPIPE as the daemon does. */
void
testlib_init(void)
{
	if (testlib_ready)
		return;
	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(testlib_dir) == NULL) {
		perror("mkdtemp");
		exit(99);
	}
	testlib_ready = 1;
}

/* Remove one entry of the scratch folder. */
static int
testlib_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Remove the scratch folder, unless JD_TEST_KEEP is set. */
void
testlib_done(void)
{
	int	 status;

	if (!testlib_ready)
		return;
	/* Servers left running by a failed test. */
	for (size_t i = 0; i < 64; i++) {
		if (testlib_servers[i] > 0) {
			kill(testlib_servers[i], SIGTERM);
			waitpid(testlib_servers[i], &status, 0);
			testlib_servers[i] = 0;
		}
	}
	if (getenv("JD_TEST_KEEP") != NULL)
		fprintf(stderr, "kept %s\n", testlib_dir);
	else
		nftw(testlib_dir, testlib_rm, 16, FTW_DEPTH | FTW_PHYS);
	testlib_ready = 0;
}

/* A path in the scratch folder; caller frees. */
char *
testlib_path(const char *fmt, ...)
{
	va_list	 ap;
	char	*rel, *path;

	va_start(ap, fmt);
	if (vasprintf(&rel, fmt, ap) < 0)
		abort();
	va_end(ap);
	path = xprintf("%s/%s", testlib_dir, rel);
	free(rel);
	return path;
}

/* Does the test Python have this module? */
int
testlib_python_has(const char *module)
{
	const char	*python = testlib_python();
	char		*cmd;
	int		 rc;

	cmd = xprintf("'%s' -c 'import %s' 2>/dev/null", python, module);
	rc = system(cmd);
	free(cmd);
	return rc == 0;
}

/*
 * Start a server script from tests/servers with NULL-terminated arguments
 * and wait until it has written its port. Returns 0, or -1 when it died.
 */
int
server_start(struct test_server *srv, const char *script, ...)
{
	const char	*python = testlib_python();
	const char	*srcdir = testlib_env("top_srcdir", ".");
	const char	*argv[32], *arg;
	char		*path, line[32];
	size_t		 len = 0;
	va_list		 ap;
	int		 fds[2], argc = 0;

	path = xprintf("%s/tests/servers/%s", srcdir, script);
	argv[argc++] = python;
	argv[argc++] = path;
	va_start(ap, script);
	while ((arg = va_arg(ap, const char *)) != NULL && argc < 28)
		argv[argc++] = arg;
	va_end(ap);
	argv[argc++] = "--ready-file";
	argv[argc++] = "/dev/fd/3";
	argv[argc] = NULL;

	if (pipe(fds) != 0)
		return -1;
	fflush(NULL);
	if ((srv->pid = fork()) == -1)
		return -1;
	if (srv->pid == 0) {
		if (dup2(fds[1], 3) == -1)
			_exit(127);
		if (fds[0] != 3)
			close(fds[0]);
		if (fds[1] != 3)
			close(fds[1]);
		execv(python, (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	free(path);
	for (size_t i = 0; i < 64; i++) {
		if (testlib_servers[i] <= 0) {
			testlib_servers[i] = srv->pid;
			break;
		}
	}

	/* Ready when the port's line is written; EOF means it died. */
	while (len < sizeof line - 1) {
		ssize_t n = read(fds[0], line + len, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || line[len] == '\n')
			break;
		len++;
	}
	line[len] = '\0';
	close(fds[0]);
	srv->port = atoi(line);
	if (srv->port <= 0) {
		server_stop(srv);
		return -1;
	}
	return 0;
}

/* Stop a server started by server_start and reap it. */
void
server_stop(struct test_server *srv)
{
	int	 status;

	if (srv->pid <= 0)
		return;
	for (size_t i = 0; i < 64; i++) {
		if (testlib_servers[i] == srv->pid)
			testlib_servers[i] = 0;
	}
	kill(srv->pid, SIGTERM);
	waitpid(srv->pid, &status, 0);
	srv->pid = 0;
}

/* Load a plugin and return its descriptor, or NULL. */
const struct jd_plugin *
plugin_open(const char *name, void **dl)
{
	const struct jd_plugin	*(*entry)(void);
	const char		*dir;
	char			*path, *fallback;

	if ((dir = getenv("JD_PLUGIN_DIR")) != NULL)
		path = xprintf("%s/%s.so", dir, name);
	else
		path = xprintf("%s/.libs/%s.so",
		    testlib_env("top_builddir", "."), name);
	if ((*dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
		free(path);
		return NULL;
	}
	free(path);
	*(void **)&entry = dlsym(*dl, JD_PLUGIN_SYMBOL);
	if (entry == NULL) {
		fallback = xprintf("no %s symbol", JD_PLUGIN_SYMBOL);
		fprintf(stderr, "%s: %s\n", name, fallback);
		free(fallback);
		return NULL;
	}
	return entry();
}

/* Unload a plugin. */
void
plugin_close(void *dl)
{
	if (dl != NULL)
		dlclose(dl);
}

/* json_extract(json, path) as text, or NULL; caller frees. */
char *
json_get(const char *json, const char *path)
{
	static sqlite3	*db;
	sqlite3_stmt	*st;
	const char	*text;
	char		*v = NULL;

	if (db == NULL && sqlite3_open(":memory:", &db) != SQLITE_OK)
		abort();
	if (sqlite3_prepare_v2(db, "SELECT json_extract(?1, ?2)", -1, &st,
	    NULL) != SQLITE_OK)
		abort();
	sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    (text = (const char *)sqlite3_column_text(st, 0)) != NULL)
		v = xstrdup(text);
	sqlite3_finalize(st);
	return v;
}

/* A whole file, or NULL when it cannot be read; caller frees. */
char *
file_read(const char *path)
{
	struct buf	 b;
	char		 chunk[4096];
	size_t		 n;
	FILE		*f;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	buf_init(&b);
	buf_add(&b, "", 0);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	return buf_steal(&b);
}

/* Write text to a file, or abort. */
void
file_write(const char *path, const char *text)
{
	FILE	*f;

	if ((f = fopen(path, "w")) == NULL || fputs(text, f) == EOF ||
	    fclose(f) != 0) {
		perror(path);
		abort();
	}
}

/* Line n (from 0) of a file without its newline, or NULL; caller frees. */
char *
file_line(const char *path, int n)
{
	char	*text, *p, *end, *line = NULL;

	if ((text = file_read(path)) == NULL)
		return NULL;
	for (p = text; *p != '\0'; p = end + 1) {
		if ((end = strchr(p, '\n')) == NULL)
			end = p + strlen(p);
		if (n-- == 0) {
			line = xstrndup(p, end - p);
			break;
		}
		if (*end == '\0')
			break;
	}
	free(text);
	return line;
}

/* How many lines a file has (0 when it is missing). */
int
file_count_lines(const char *path)
{
	char	*text;
	int	 n = 0;

	if ((text = file_read(path)) == NULL)
		return 0;
	for (char *p = text; *p != '\0'; p++)
		n += *p == '\n';
	free(text);
	return n;
}

/* How many entries a folder has, not counting . and .. (-1: missing). */
int
dir_count(const char *path)
{
	struct dirent	*de;
	DIR		*d;
	int		 n = 0;

	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	}
	closedir(d);
	return n;
}
