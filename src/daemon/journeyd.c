/*
 * journeyd: the daemon. In the foreground, as systemd wants it: a tick every
 * `interval`, actions dispatched continuously, SIGHUP reloads, SIGTERM and
 * SIGINT stop. Signal handlers only set flags and wake the main loop through
 * a pipe, as Monit does; the loop does the work.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "daemon/daemon.h"

static volatile sig_atomic_t	 got_hup;
static volatile sig_atomic_t	 got_term;
static int			 wake_pipe[2] = { -1, -1 };

static const struct option journeyd_options[] = {
	{ "config",	required_argument,	NULL, 'c' },
	{ "once",	no_argument,		NULL, 'o' },
	{ "dry-run",	no_argument,		NULL, 'n' },
	{ "now",	required_argument,	NULL, 'N' },
	{ "check",	no_argument,		NULL, 'C' },
	{ "version",	no_argument,		NULL, 'V' },
	{ "verbose",	no_argument,		NULL, 'v' },
	{ "help",	no_argument,		NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* Print usage and exit with status. */
static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout, "usage: journeyd [-c FILE] [--once] "
	    "[--dry-run] [--now TIME] [--check] [--version] [-v]\n");
	exit(status);
}

/* Signal handler: set a flag and wake the loop. */
static void
on_signal(int sig)
{
	int	 saved = errno;

	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
	if (wake_pipe[1] != -1)
		(void)!write(wake_pipe[1], "x", 1);
	errno = saved;
}

/* Install the signal handlers and the wake-up pipe. */
static void
signals_setup(void)
{
	struct sigaction	 sa;

	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		fatalx("pipe: %s", strerror(errno));
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/* Load a config, logging every problem; with secrets, read the HTTP
 * API's key and TLS files too. */
static struct config *
load(const char *path, int flags, int secrets)
{
	struct problems	 probs = { 0 };
	struct config	*cf;

	if ((cf = config_load(path, flags, &probs)) != NULL && secrets &&
	    config_load_secrets(cf, &probs) != 0) {
		config_free(cf);
		cf = NULL;
	}
	for (int i = 0; i < probs.n; i++)
		log_err("%s", probs.msgs[i]);
	problems_free(&probs);
	return cf;
}

/* Warn about members of journeys, or at stages, the config no longer
 * has: once per journey gone, once per stage gone. */
static void
warn_lost_stages(sqlite3 *db, const struct config *cf)
{
	sqlite3_stmt	*st;

	st = store_prepare(db, "SELECT journey, count(*) FROM members "
	    "WHERE status != 2 GROUP BY journey");
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *jn = (const char *)sqlite3_column_text(st, 0);

		if (config_journey(cf, jn) == NULL)
			log_warn("journey \"%s\" is no longer in the config; "
			    "its %lld subject(s) stay as they are", jn,
			    (long long)sqlite3_column_int64(st, 1));
	}
	sqlite3_finalize(st);
	st = store_prepare(db, "SELECT journey, stage, count(*) FROM members "
	    "WHERE status != 2 GROUP BY journey, stage");
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *jn = (const char *)sqlite3_column_text(st, 0);
		const char *sn = (const char *)sqlite3_column_text(st, 1);
		struct journey *j = config_journey(cf, jn);

		if (j != NULL && journey_stage(j, sn) == -1)
			log_warn("journey \"%s\" has no stage \"%s\" any more; "
			    "its %lld subject(s) stay there until a rule "
			    "moves them", jn, sn,
			    (long long)sqlite3_column_int64(st, 2));
	}
	sqlite3_finalize(st);
}

/* The CPU time this process used, in seconds. */
static double
cpu_seconds(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One tick: import the spool, evaluate every journey, log a summary. */
static int
run_tick(sqlite3 *db, const struct config *cf, int64_t now, char *status,
    size_t statuslen)
{
	struct tick_stats	 ts;
	int64_t			 start;
	double			 cpu;
	int			 rc;

	if (cf->spool_dir != NULL)
		spool_scan(db, cf->spool_dir, now);
	start = time_mono_usec();
	cpu = cpu_seconds();
	rc = tick_run(db, cf, now, 0, NULL, &ts);
	if (rc != 0) {
		/* A journey whose transaction failed (the database full or
		 * locked past the busy timeout) was rolled back whole, and its
		 * counts cannot be told apart from the others'. */
		log_err("tick: failed on %s (the reason is above): each journey "
		    "that failed was rolled back, nothing of it applied; the "
		    "next tick tries again", cf->database);
		snprintf(status, statuslen, "STATUS=last tick failed: see the "
		    "log");
		return rc;
	}
	log_info("tick: %ld entered, %ld moved, %ld completed, %ld exited, "
	    "%ld actions queued in %.3fs (cpu %.3fs)", ts.entered, ts.moved,
	    ts.completed, ts.exited, ts.actions,
	    (double)(time_mono_usec() - start) / 1e6, cpu_seconds() - cpu);
	snprintf(status, statuslen, "STATUS=last tick: %ld entered, %ld moved, "
	    "%ld actions queued", ts.entered, ts.moved, ts.actions);
	metrics_write(db, cf, now, &ts);
	return rc;
}

/* Run as a service until SIGTERM or SIGINT. */
static int
serve(const char *path, struct config *cf, sqlite3 *db)
{
	struct dispatcher	*d;
	struct http		*http = NULL;
	int64_t			 next_tick = 0, watchdog, last_dog = 0;
	char			 status[256], msg[64], err[512];
	int			 stuck;

	signals_setup();
	if (http_configure(&http, cf, err, sizeof err) != 0) {
		log_err("%s", err);
		store_close(db);
		config_free(cf);
		return 1;
	}
	watchdog = notify_watchdog_usec();
	outbox_recover(db, time_now());
	d = dispatch_start(cf, 0);
	notify_send("READY=1\nSTATUS=running");
	log_notice("started: %d journey(s), %d plugin instance(s), %d "
	    "worker(s), a tick every %llds", cf->njourneys, cf->ninstances,
	    cf->workers, (long long)cf->interval);
	while (!got_term) {
		int64_t now = time_now(), wait_ms;
		struct pollfd pfd = { wake_pipe[0], POLLIN, 0 };
		char drain[64];

		if (got_hup) {
			struct config *ncf;

			got_hup = 0;
			snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC="
			    "%lld", (long long)time_mono_usec());
			notify_send(msg);
			log_notice("reloading %s", path);
			if ((ncf = load(path, CONFIG_PLUGINS, 1)) == NULL) {
				log_err("reload refused: the new config has "
				    "errors; keeping the running one");
			} else if (strcmp(ncf->database, cf->database) != 0) {
				log_err("reload refused: 'database' changed; "
				    "restart journeyd to use another one");
				config_free(ncf);
			} else {
				/* The server reads the new config from now. */
				if (http_configure(&http, ncf, err,
				    sizeof err) != 0)
					log_err("%s", err);
				/* Plugin calls still running keep the old
				 * config's plugins in use: leave it be. */
				if (dispatch_stop(d, NULL) == 0)
					config_free(cf);
				cf = ncf;
				warn_lost_stages(db, cf);
				d = dispatch_start(cf, 0);
				next_tick = 0;
				log_notice("reloaded: %d journey(s), %d plugin "
				    "instance(s)", cf->njourneys,
				    cf->ninstances);
			}
			notify_send("READY=1");
		}
		if (now >= next_tick) {
			http_tick(http, run_tick(db, cf, now, status,
			    sizeof status) == 0);
			notify_send(status);
			dispatch_kick(d);
			next_tick = now + cf->interval;
		}
		if (watchdog > 0 && time_mono_usec() - last_dog >= watchdog / 2) {
			notify_send("WATCHDOG=1");
			last_dog = time_mono_usec();
		}
		wait_ms = (next_tick - time_now()) * 1000;
		if (watchdog > 0 && wait_ms > watchdog / 2000)
			wait_ms = watchdog / 2000;
		if (wait_ms < 0)
			wait_ms = 0;
		if (wait_ms > 60000)
			wait_ms = 60000;
		if (poll(&pfd, 1, (int)wait_ms) > 0)
			while (read(wake_pipe[0], drain, sizeof drain) > 0)
				;
	}
	notify_send("STOPPING=1");
	log_notice("stopping: waiting for actions in flight");
	http_stop(http);
	stuck = dispatch_stop(d, NULL);
	store_close(db);
	log_notice("stopped");
	if (stuck > 0)
		_exit(0);	/* not unloading plugins still being called */
	config_free(cf);
	return 0;
}

int
main(int argc, char **argv)
{
	const char	*path = JD_DEFAULT_CONFIG, *now_arg = NULL;
	int		 once = 0, dry_run = 0, check = 0, verbose = 0, ch, rc = 0;
	int		 stuck;
	struct problems	 probs = { 0 };
	struct config	*cf;
	sqlite3		*db;
	char		 err[512], status[256];
	int64_t		 now;

	/* SQLite's memory statistics take a global mutex on every malloc:
	 * the HTTP threads, the ingest writer and the workers all allocate
	 * through SQLite at once, and contended for it (bench/http: 15% of
	 * the daemon's time in that lock). Nothing reads the statistics. */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	log_open("journeyd", 0);
	while ((ch = getopt_long(argc, argv, "c:vh", journeyd_options,
	    NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'o': once = 1; break;
		case 'n': dry_run = 1; break;
		case 'N': now_arg = optarg; break;
		case 'C': check = 1; break;
		case 'v': verbose = 1; break;
		case 'V':
			printf("journeyd %s (plugin ABI %d.%d)\n",
			    PACKAGE_VERSION, JD_PLUGIN_ABI_MAJOR,
			    JD_PLUGIN_ABI_MINOR);
			return 0;
		case 'h': usage(0);
		default: usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	log_open("journeyd", verbose);
	if (now_arg != NULL) {
		if (time_parse(now_arg, &now) != 0) {
			fprintf(stderr, "journeyd: --now: bad time \"%s\" (use "
			    "2026-03-01T09:00:00Z or @1772355600)\n", now_arg);
			return 2;
		}
		time_set_now(now);
		if (!once && !dry_run && !check)
			time_set_advancing(1);
	}
	/* The TLS library may raise SIGPIPE on a closed connection, and
	 * CURLOPT_NOSIGNAL leaves it to us. */
	signal(SIGPIPE, SIG_IGN);
	/* A few threads allocate and free all day (workers, the watchdog):
	 * with glibc's default of an arena per thread the freed pages of
	 * each stay mapped, and the resident set creeps up. Two arenas keep
	 * it flat (SPEC §12: memory bounded whatever the load). */
	mallopt(M_ARENA_MAX, 2);
	curl_global_init(CURL_GLOBAL_DEFAULT);

	if (check) {
		if ((cf = config_load(path, CONFIG_PLUGINS, &probs)) != NULL &&
		    config_load_secrets(cf, &probs) != 0) {
			config_free(cf);
			cf = NULL;
		}
		problems_print(&probs, stderr);
		problems_free(&probs);
		config_free(cf);
		curl_global_cleanup();
		return cf != NULL ? 0 : 1;
	}
	/* Only the service serves HTTP and needs its keys. */
	if ((cf = load(path, dry_run ? 0 : CONFIG_PLUGINS, !dry_run &&
	    !once)) == NULL)
		return 1;
	if ((db = store_open(cf->database, err, sizeof err)) == NULL) {
		log_err("%s", err);
		config_free(cf);
		return 1;
	}
	if (dry_run) {
		rc = tick_run(db, cf, time_now(), 1, stdout, NULL) == 0 ? 0 : 1;
	} else if (once) {
		struct dispatcher *d;
		long out[4];

		outbox_recover(db, time_now());
		rc = run_tick(db, cf, time_now(), status, sizeof status);
		d = dispatch_start(cf, 1);
		stuck = dispatch_stop(d, out);
		log_info("dispatched: %ld done, %ld to retry, %ld failed, %ld "
		    "held", out[JD_DONE], out[JD_RETRY], out[JD_FAILED],
		    out[JD_HELD]);
		rc = rc == 0 ? 0 : 1;
		if (stuck > 0) {
			store_close(db);
			_exit(rc);	/* as in serve() */
		}
	} else {
		rc = serve(path, cf, db);
		cf = NULL;
		db = NULL;
	}
	config_free(cf);
	store_close(db);
	curl_global_cleanup();
	return rc;
}
