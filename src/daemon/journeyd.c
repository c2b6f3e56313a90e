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
#include <pthread.h>
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

/* Dispatchers stopped while plugin calls they gave up on still ran, each
 * with its config (the plugins those calls run in): both are freed once
 * the calls have returned (reap()). */
static struct retired {
	struct dispatcher	*d;
	struct config		*cf;
}				*retired;
static int			 nretired;

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

/* Print the usage (on stdout for --help, else on stderr) and exit with
 * status. */
static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: journeyd [-c FILE] [--once] [--dry-run] [--now TIME] "
	    "[--check] [-v]\n"
	    "       journeyd --version | --help\n\n"
	    "Runs customer journeys: a tick every `interval`, actions "
	    "performed as they\nfall due, in the foreground (systemd "
	    "supervises it). SIGHUP reloads the\nconfig, SIGTERM and SIGINT "
	    "stop.\n\n"
	    "  -c, --config FILE  the config (default: %s)\n"
	    "      --once         one tick, every due action performed, then "
	    "exit\n"
	    "      --dry-run      print what a tick would do; change nothing, "
	    "call no plugin\n"
	    "      --now TIME     run as if the clock said TIME "
	    "(2026-03-01T09:00:00Z or\n"
	    "                     @1772355600)\n"
	    "      --check        validate the config, its rules and plugins; "
	    "print each\n"
	    "                     problem as FILE:LINE: message\n"
	    "  -v, --verbose      log debug messages too\n"
	    "      --version      print the version and the plugin ABI\n"
	    "  -h, --help         print this\n\n"
	    "Plugins are loaded from plugin_dir (default: %s).\n"
	    "Exit status: 0 success, 1 a problem to fix, 2 a usage error. "
	    "See journeyd(8),\njourneyd.conf(5).\n", JD_DEFAULT_CONFIG,
	    PLUGINDIR);
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

/* Load a config; with secrets, read the HTTP API's key and TLS files;
 * with plugins, load its plugin instances, and with start start them.
 * Every problem at once, in probs: when a secret is missing the plugins
 * are still loaded, not started, to say what is wrong with them too. */
static struct config *
load_all(const char *path, int secrets, int plugins, int start,
    struct problems *probs)
{
	struct config	*cf;
	int		 bad;

	if ((cf = config_load(path, probs)) == NULL)
		return NULL;
	bad = secrets && config_load_secrets(cf, probs) != 0;
	if (plugins && plugins_load(cf, start && !bad ? PLUGINS_START : 0,
	    probs) != 0)
		bad = 1;
	if (bad) {
		config_free(cf);
		return NULL;
	}
	return cf;
}

/* Load a config and, with plugins, start its plugin instances; with
 * secrets, read the HTTP API's key and TLS files too (load_all()). Every
 * problem is logged. */
static struct config *
load(const char *path, int plugins, int secrets)
{
	struct problems	 probs = { 0 };
	struct config	*cf;

	cf = load_all(path, secrets, plugins, 1, &probs);
	for (int i = 0; i < probs.n; i++)
		log_err("%s", probs.msgs[i]);
	for (int i = 0; i < probs.nwarnings; i++)
		log_warn("%s", probs.warnings[i]);
	problems_free(&probs);
	return cf;
}

/* Warn about members of journeys, or at stages, the config no longer
 * has: once per journey gone, once per stage gone. */
static void
warn_lost_stages(sqlite3 *db, const struct config *cf)
{
	sqlite3_stmt	*st;

	if ((st = store_try_prepare(db, "SELECT journey, count(*) FROM "
	    "members WHERE status != 2 GROUP BY journey")) == NULL)
		return;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *jn = (const char *)sqlite3_column_text(st, 0);

		if (config_journey(cf, jn) == NULL)
			log_warn("journey \"%s\" is no longer in the config; "
			    "its %lld subject(s) stay as they are", jn,
			    (long long)sqlite3_column_int64(st, 1));
	}
	sqlite3_finalize(st);
	if ((st = store_try_prepare(db, "SELECT journey, stage, count(*) FROM "
	    "members WHERE status != 2 GROUP BY journey, stage")) == NULL)
		return;
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

/* Retention: a new pass at most this often, each call of prune_some()
 * pruning for about PRUNE_BUDGET_MS before the main loop goes on. */
#define PRUNE_EVERY		3600	/* seconds */
#define PRUNE_BUDGET_MS		80	/* a tick waits at most this, and one
					   transaction */

/* Prune for about budget_ms (< 0: the whole pass) when cf keeps anything
 * for a while; log a pass that is over. 1 while more is left. */
static int
prune_some(struct pruner *pr, sqlite3 *db, const struct config *cf,
    int64_t now, int64_t budget_ms, struct prune_stats *ps)
{
	const struct retention	*r = &cf->retention;
	int			 rc;

	if (r->events == 0 && r->history == 0 && r->actions == 0)
		return 0;
	watchdog_doing("pruning", budget_ms > 0 ? (budget_ms + 1000) * 1000 :
	    0);
	if ((rc = pruner_run(pr, db, cf, now, budget_ms, ps)) == 0)
		return 1;
	if (rc > 0)
		log_notice("prune: %lld events, %lld history rows, %lld "
		    "actions deleted in %ld transactions, the longest %.1f ms",
		    (long long)ps->events, (long long)ps->history,
		    (long long)ps->actions, ps->transactions,
		    (double)ps->longest_usec / 1e3);
	memset(ps, 0, sizeof *ps);
	return 0;
}

/* One tick: import the spool, evaluate every journey, log a summary. */
static int
run_tick(struct engine *eng, sqlite3 *db, const struct config *cf,
    int64_t now, int spool, char *status, size_t statuslen)
{
	struct tick_stats	 ts;
	int64_t			 start;
	double			 cpu;
	int			 rc;

	/* The service with react on has the reactor import the spool (as
	 * soon as files appear); else the tick does. */
	if (cf->spool_dir != NULL && spool) {
		watchdog_doing("importing the spool", 0);
		spool_scan(db, cf->spool_dir, now);
	}
	watchdog_doing("ticking", 0);
	start = time_mono_usec();
	cpu = cpu_seconds();
	rc = engine_tick(eng, now, 0, NULL, &ts);
	if (rc != 0) {
		/* A chunk whose transaction failed (the database full or
		 * locked past the busy timeout) was rolled back whole, and its
		 * counts cannot be told apart from the others'. */
		log_err("tick: failed on %s (the reason is above): each chunk "
		    "of subjects that failed was rolled back, nothing of it "
		    "applied; the next tick tries again", cf->database);
		snprintf(status, statuslen, "STATUS=last tick failed: see the "
		    "log");
		return rc;
	}
	log_info("tick: %ld entered, %ld moved, %ld completed, %ld exited, "
	    "%ld actions queued in %.3fs (cpu %.3fs; %ld transactions, the "
	    "longest %.0f ms)", ts.entered, ts.moved, ts.completed, ts.exited,
	    ts.actions, (double)(time_mono_usec() - start) / 1e6,
	    cpu_seconds() - cpu, ts.chunks, ts.longest * 1e3);
	snprintf(status, statuslen, "STATUS=last tick: %ld entered, %ld moved, "
	    "%ld actions queued", ts.entered, ts.moved, ts.actions);
	watchdog_doing("writing the metrics", 0);
	metrics_write(db, cf, now, &ts);
	return rc;
}

/* How long stopping cf's dispatcher may take without progress, in usec:
 * each call in flight ends within its instance's timeout (else it is
 * abandoned), and its outcome is recorded within the busy timeout. */
static int64_t
stop_bound(const struct config *cf)
{
	int64_t	 longest = 0;

	for (int i = 0; i < cf->ninstances; i++)
		if (cf->instances[i]->timeout > longest)
			longest = cf->instances[i]->timeout;
	return longest * 1000000 + 2 * STORE_BUSY_MS * 1000LL;
}

/* Free the retired dispatchers whose abandoned calls have all returned,
 * with their configs. Returns how many are still kept. */
static int
reap(void)
{
	for (int i = 0; i < nretired;) {
		if (dispatch_free(retired[i].d) != 0) {
			i++;
			continue;
		}
		config_free(retired[i].cf);
		log_notice("the plugin calls of an earlier config that overran "
		    "their timeout have returned; that config is freed");
		retired[i] = retired[--nretired];
	}
	if (nretired == 0) {
		free(retired);
		retired = NULL;
	}
	return nretired;
}

/* Free a stopped dispatcher and its config, or keep both while calls it
 * gave up on still run in the config's plugins (reap()). */
static void
retire(struct dispatcher *d, struct config *cf)
{
	if (dispatch_free(d) == 0) {
		config_free(cf);
		return;
	}
	log_notice("keeping the config of the plugin calls that overran their "
	    "timeout until they return");
	retired = xreallocarray(retired, nretired + 1, sizeof *retired);
	retired[nretired].d = d;
	retired[nretired++].cf = cf;
}

/* The service's state, as the main loop runs it. */
struct daemon {
	const char		*path;
	struct config		*cf;
	sqlite3			*db;
	struct engine		*eng;
	struct dispatcher	*d;
	struct http		*http;
	struct pruner		*pruner;
	struct prune_stats	 prune;		/* of the pass under way */
	int64_t			 next_prune;	/* a new pass from then */
	int			 pruning;	/* a pass is under way */
};

/* The reactor (reacting to new data), where the HTTP writer's thread
 * finds it to nudge it: swapped on a reload, so under a lock. */
static pthread_mutex_t		 reactor_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reactor		*reactor;

/* The HTTP writer committed new data: evaluate it soon. */
static void
nudge(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&reactor_lock);
	reactor_nudge(reactor);
	pthread_mutex_unlock(&reactor_lock);
}

/* Stop reacting, or start reacting for the daemon's config and
 * dispatcher. */
static void
react_switch(struct daemon *dm, int on)
{
	struct reactor	*r = NULL;

	if (on) {
		watchdog_doing("starting to react", 0);
		r = reactor_start(dm->cf, dm->d);
	}
	pthread_mutex_lock(&reactor_lock);
	if (!on)
		r = reactor;
	reactor = on ? r : NULL;
	pthread_mutex_unlock(&reactor_lock);
	if (!on) {
		watchdog_doing("stopping the reactor", 0);
		reactor_stop(r);
	}
}

/* Switch the running daemon to ncf, whose engine is neng. */
static void
switch_config(struct daemon *dm, struct config *ncf, struct engine *neng)
{
	char	 err[512];

	react_switch(dm, 0);
	engine_free(dm->eng);
	dm->eng = neng;
	/* The server reads the new config from now. */
	if (http_configure(&dm->http, ncf, err, sizeof err) != 0)
		log_err("%s", err);
	http_on_commit(dm->http, nudge, NULL);
	watchdog_doing("stopping the dispatcher", stop_bound(dm->cf));
	dispatch_stop(dm->d, NULL);
	retire(dm->d, dm->cf);
	dm->cf = ncf;
	watchdog_doing("starting the dispatcher", 0);
	warn_lost_stages(dm->db, ncf);
	if ((dm->d = dispatch_start(ncf, 0)) == NULL)
		log_err("reload: the dispatcher cannot start; trying again at "
		    "each tick");
	react_switch(dm, 1);
}

/* SIGHUP: load the config again and switch to it, or keep the running one
 * when the new one is refused. */
static void
reload(struct daemon *dm)
{
	struct config	*ncf;
	struct engine	*neng = NULL;
	char		 msg[64];

	snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%lld",
	    (long long)time_mono_usec());
	notify_send(msg);
	log_notice("reloading %s", dm->path);
	watchdog_doing("reloading the config", 0);
	if ((ncf = load(dm->path, 1, 1)) == NULL) {
		log_err("reload refused: the new config has errors; keeping "
		    "the running one");
	} else if (strcmp(ncf->database, dm->cf->database) != 0) {
		log_err("reload refused: 'database' changed; restart journeyd "
		    "to use another one");
		config_free(ncf);
	} else if ((neng = engine_new(dm->db, ncf)) == NULL) {
		log_err("reload refused: cannot compile the new config's rules; "
		    "keeping the running one");
		config_free(ncf);
	} else {
		switch_config(dm, ncf, neng);
		log_notice("reloaded: %d journey(s), %d plugin instance(s)",
		    ncf->njourneys, ncf->ninstances);
		/* A pass under way follows the old rules: start over. */
		pruner_free(dm->pruner);
		dm->pruner = pruner_new();
		memset(&dm->prune, 0, sizeof dm->prune);
		dm->pruning = 0;
		dm->next_prune = 0;
	}
	notify_send("READY=1");
}

/* Start the service's parts: the server, the watchdog's feeder, the
 * engine, the dispatcher, the reactor. -1 when one cannot start (logged;
 * what started is stopped). */
static int
serve_start(struct daemon *dm)
{
	int64_t	 watchdog = notify_watchdog_usec();
	char	 err[512];

	if (http_configure(&dm->http, dm->cf, err, sizeof err) != 0) {
		log_err("%s", err);
		return -1;
	}
	if (watchdog_start(watchdog) != 0)
		goto fail;
	if (watchdog > 0)
		sqlite3_progress_handler(dm->db, WATCHDOG_SQL_STEPS,
		    watchdog_sqlite, NULL);
	watchdog_doing("recovering the outbox", 0);
	outbox_recover(dm->db, time_now());
	if ((dm->eng = engine_new(dm->db, dm->cf)) == NULL)
		goto fail_dog;
	watchdog_doing("starting the dispatcher", 0);
	if ((dm->d = dispatch_start(dm->cf, 0)) == NULL) {
		engine_free(dm->eng);
		goto fail_dog;
	}
	react_switch(dm, 1);
	http_on_commit(dm->http, nudge, NULL);
	return 0;
fail_dog:
	watchdog_stop();
fail:
	http_stop(dm->http);
	return -1;
}

/* Stop the service's parts, letting actions in flight finish. */
static void
serve_stop(struct daemon *dm)
{
	notify_send("STOPPING=1");
	log_notice("stopping: waiting for actions in flight");
	http_stop(dm->http);
	react_switch(dm, 0);
	watchdog_doing("stopping the dispatcher", stop_bound(dm->cf));
	dispatch_stop(dm->d, NULL);
	engine_free(dm->eng);
	retire(dm->d, dm->cf);
	watchdog_stop();
	store_close(dm->db);
}

/* Run as a service until SIGTERM or SIGINT. */
static int
serve(const char *path, struct config *cf, sqlite3 *db)
{
	struct daemon	 dm = { .path = path, .cf = cf, .db = db,
			     .pruner = pruner_new() };
	int64_t		 next_tick = 0;
	char		 status[256];

	signals_setup();
	if (serve_start(&dm) != 0) {
		config_free(cf);
		store_close(db);
		return 1;
	}
	notify_send("READY=1\nSTATUS=running");
	log_notice("started: %d journey(s), %d plugin instance(s), %d "
	    "worker(s), a tick every %llds", cf->njourneys, cf->ninstances,
	    cf->workers, (long long)cf->interval);
	while (!got_term) {
		int64_t now = time_now(), wait_ms;
		struct pollfd pfd = { wake_pipe[0], POLLIN, 0 };
		char drain[64];

		if (got_hup) {
			got_hup = 0;
			reload(&dm);
			next_tick = 0;
		}
		if (nretired > 0)
			reap();
		if (now >= next_tick) {
			if (dm.d == NULL)
				dm.d = dispatch_start(dm.cf, 0);
			http_tick(dm.http, run_tick(dm.eng, dm.db, dm.cf, now,
			    reactor == NULL, status, sizeof status) == 0);
			notify_send(status);
			dispatch_kick(dm.d);
			next_tick = now + dm.cf->interval;
		}
		if (dm.pruning || now >= dm.next_prune) {
			dm.pruning = prune_some(dm.pruner, dm.db, dm.cf, now,
			    PRUNE_BUDGET_MS, &dm.prune);
			if (!dm.pruning)
				dm.next_prune = now + PRUNE_EVERY;
		}
		wait_ms = (next_tick - time_now()) * 1000;
		if (wait_ms < 0 || dm.pruning)
			wait_ms = 0;
		if (wait_ms > 60000)
			wait_ms = 60000;
		if (nretired > 0 && wait_ms > 1000)
			wait_ms = 1000;	/* to free them soon after */
		watchdog_doing("waiting for the next tick", wait_ms * 1000);
		if (poll(&pfd, 1, (int)wait_ms) > 0)
			while (read(wake_pipe[0], drain, sizeof drain) > 0)
				;
		watchdog_doing("looking at signals", 0);
	}
	serve_stop(&dm);
	pruner_free(dm.pruner);
	if (reap() > 0) {
		/* Not unloading plugins still being called. */
		log_notice("stopped, with plugin calls still running");
		_exit(0);
	}
	log_notice("stopped");
	return 0;
}

/* --check: validate the config, its rules and plugins (checked, not
 * started: no init()); print each problem. The exit status. */
static int
check_config(const char *path)
{
	struct problems	 probs = { 0 };
	struct config	*cf;

	cf = load_all(path, 1, 1, 0, &probs);
	problems_print(&probs, stderr);
	problems_free(&probs);
	config_free(cf);
	return cf != NULL ? 0 : 1;
}

/* --once: one tick, then every due action performed. The exit status;
 * does not return when a plugin call is stuck (its plugin stays
 * loaded). */
static int
run_once(struct config *cf, sqlite3 *db)
{
	struct dispatcher	*d;
	struct engine		*eng;
	long			 out[4];
	char			 status[256];
	int			 rc = 0, stuck;

	outbox_recover(db, time_now());
	if ((eng = engine_new(db, cf)) == NULL)
		rc = 1;
	else
		rc = run_tick(eng, db, cf, time_now(), 1, status,
		    sizeof status) == 0 ? 0 : 1;
	engine_free(eng);
	if (rc == 0) {
		struct pruner		*pr = pruner_new();
		struct prune_stats	 ps = { 0 };

		prune_some(pr, db, cf, time_now(), -1, &ps);
		pruner_free(pr);
	}
	if ((d = dispatch_start(cf, 1)) == NULL)
		return 1;
	stuck = dispatch_stop(d, out);
	log_info("dispatched: %ld done, %ld to retry, %ld failed, %ld held",
	    out[JD_DONE], out[JD_RETRY], out[JD_FAILED], out[JD_HELD]);
	if (stuck > 0) {
		/* Not unloading plugins still being called. */
		store_close(db);
		_exit(rc);
	}
	dispatch_free(d);
	return rc;
}

/* What the command line asks for. */
struct args {
	const char	*path;
	int		 once, dry_run, check, verbose;
};

/* Read the command line into a, and set the clock from --now; exits on a
 * usage error, --help and --version. */
static void
args_parse(int argc, char **argv, struct args *a)
{
	const char	*now_arg = NULL;
	int64_t		 now;
	int		 ch;

	a->path = JD_DEFAULT_CONFIG;
	while ((ch = getopt_long(argc, argv, "c:vh", journeyd_options,
	    NULL)) != -1) {
		switch (ch) {
		case 'c': a->path = optarg; break;
		case 'o': a->once = 1; break;
		case 'n': a->dry_run = 1; break;
		case 'N': now_arg = optarg; break;
		case 'C': a->check = 1; break;
		case 'v': a->verbose = 1; break;
		case 'V':
			printf("journeyd %s (plugin ABI %d.%d)\n",
			    PACKAGE_VERSION, JD_PLUGIN_ABI_MAJOR,
			    JD_PLUGIN_ABI_MINOR);
			exit(0);
		case 'h': usage(0);
		default: usage(2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "journeyd: unexpected argument \"%s\" (the "
		    "config is given with -c FILE)\n", argv[optind]);
		usage(2);
	}
	if (now_arg == NULL)
		return;
	if (time_parse(now_arg, &now) != 0) {
		fprintf(stderr, "journeyd: --now: bad time \"%s\" (use "
		    "2026-03-01T09:00:00Z or @1772355600)\n", now_arg);
		exit(2);
	}
	time_set_now(now);
	if (!a->once && !a->dry_run && !a->check)
		time_set_advancing(1);
}

int
main(int argc, char **argv)
{
	struct args	 a = { 0 };
	struct config	*cf;
	sqlite3		*db;
	char		 err[512];
	int		 rc = 0;

	/* SQLite's memory statistics take a global mutex on every malloc:
	 * the HTTP threads, the ingest writer and the workers all allocate
	 * through SQLite at once, and contended for it (bench/http: 15% of
	 * the daemon's time in that lock). Nothing reads the statistics. */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	log_open("journeyd", 0);
	args_parse(argc, argv, &a);
	log_open("journeyd", a.verbose);
	/* The TLS library may raise SIGPIPE on a closed connection, and
	 * CURLOPT_NOSIGNAL leaves it to us. */
	signal(SIGPIPE, SIG_IGN);
	/* A few threads allocate and free all day (workers, the watchdog):
	 * with glibc's default of an arena per thread the freed pages of
	 * each stay mapped, and the resident set creeps up. Two arenas keep
	 * it flat (SPEC §12: memory bounded whatever the load). */
	mallopt(M_ARENA_MAX, 2);
	curl_global_init(CURL_GLOBAL_DEFAULT);

	if (a.check) {
		rc = check_config(a.path);
		curl_global_cleanup();
		return rc;
	}
	/* Only the service serves HTTP and needs its keys. */
	if ((cf = load(a.path, !a.dry_run, !a.dry_run && !a.once)) == NULL)
		return 1;
	/* A dry run changes nothing: not even a database created. */
	if (a.dry_run && access(cf->database, F_OK) != 0 && errno == ENOENT) {
		fprintf(stderr, "journeyd: --dry-run: no database at \"%s\" "
		    "yet: nothing to evaluate\n", cf->database);
		config_free(cf);
		curl_global_cleanup();
		return 0;
	}
	if ((db = store_open(cf->database, err, sizeof err)) == NULL) {
		log_err("%s", err);
		config_free(cf);
		return 1;
	}
	if (a.dry_run) {
		struct engine *eng = engine_new(db, cf);

		rc = eng != NULL && engine_tick(eng, time_now(), TICK_DRY_RUN,
		    stdout, NULL) == 0 ? 0 : 1;
		engine_free(eng);
	} else if (a.once)
		rc = run_once(cf, db);
	else {
		rc = serve(a.path, cf, db);
		cf = NULL;
		db = NULL;
	}
	config_free(cf);
	store_close(db);
	curl_global_cleanup();
	return rc;
}
