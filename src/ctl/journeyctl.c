/*
 * journeyctl: import customer data, and show and explain what journeyd did.
 * It works on the same database as the daemon, at the same time (WAL).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "insight/insight.h"

/* A command: its name, what it does, and the function that runs it. */
struct ctl_cmd {
	const char	*name;
	const char	*usage;
	int		(*run)(struct config *, sqlite3 *, int, char **);
};

/* Print the usage and exit 2. */
static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: journeyctl [-c FILE] COMMAND [ARGS]\n"
	    "  import [FILE ...]          import JSON lines ('-' or none: stdin)\n"
	    "  status                     journeys, stage counts, outbox, last tick\n"
	    "  show ID [--json]           a user's (or account:ID) profile and history\n"
	    "  explain ID [--now TIME]    every rule of every journey for ID, and why\n"
	    "  report [--html FILE] [--now TIME]\n"
	    "                             the funnel of every journey\n"
	    "  outbox [--dead]            pending (or dead) actions\n"
	    "  retry ID|--dead            put dead actions back in the queue\n");
	exit(2);
}

/* Column text, never NULL. */
static const char *
col(sqlite3_stmt *st, int i)
{
	const unsigned char	*s = sqlite3_column_text(st, i);

	return s != NULL ? (const char *)s : "";
}

/* Find a subject by "ID" or "account:ID", or say that there is none. */
static int64_t
ctl_subject(sqlite3 *db, const char *id, int *kind)
{
	int64_t	 sid = store_subject(db, id, kind);

	if (sid < 0)
		fprintf(stderr, "journeyctl: no %s \"%s\"\n", *kind ==
		    SUBJECT_ACCOUNT ? "account" : "user", *kind ==
		    SUBJECT_ACCOUNT ? id + 8 : id);
	return sid;
}

/* journeyctl import [FILE ...] */
static int
cmd_import(struct config *cf, sqlite3 *db, int argc, char **argv)
{
	struct import_stats	 total = { 0 };
	int			 rc = 0;
	int64_t			 now = time_now();

	for (int i = 0; i == 0 || i < argc; i++) {
		const char		*name = i < argc ? argv[i] : "-";
		struct import_stats	 st = { 0 };
		FILE			*f;
		int			 r;

		if (strcmp(name, "-") == 0)
			f = stdin;
		else if ((f = fopen(name, "r")) == NULL) {
			fprintf(stderr, "journeyctl: %s: %s\n", name,
			    strerror(errno));
			rc = 1;
			continue;
		}
		r = import_stream(db, f, strcmp(name, "-") == 0 ? "<stdin>" :
		    name, now, stderr, &st);
		if (f != stdin)
			fclose(f);
		if (r != 0)
			rc = 1;
		total.imported += st.imported;
		total.duplicates += st.duplicates;
		total.rejected += st.rejected;
		/* The database refused (full, locked): the next files would
		 * fail the same way. */
		if (r == -2) {
			for (i++; i < argc; i++)
				log_err("%s: not read", argv[i]);
			break;
		}
	}
	printf("imported %ld, duplicates %ld, rejected %ld\n", total.imported,
	    total.duplicates, total.rejected);
	return rc;
}

/* Print journey j's stages, each with how many are there, in one pass
 * over its members. */
static void
status_journey(sqlite3 *db, const struct journey *j)
{
	sqlite3_stmt	*st;
	int64_t		(*n)[3];

	n = xcalloc((size_t)j->nstages, sizeof *n);
	st = store_prepare(db, "SELECT stage, count(*) FILTER (WHERE status "
	    "!= 2), count(*) FILTER (WHERE status = 1), count(*) FILTER "
	    "(WHERE status = 2) FROM members WHERE journey = ?1 GROUP BY "
	    "stage");
	sqlite3_bind_text(st, 1, j->name, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int k = journey_stage(j, (const char *)sqlite3_column_text(st,
		    0));
		for (int c = 0; k >= 0 && c < 3; c++)
			n[k][c] = sqlite3_column_int64(st, c + 1);
	}
	sqlite3_finalize(st);
	for (int k = 0; k < j->nstages; k++) {
		printf("  %-20s %8lld", j->stages[k].name, (long long)n[k][0]);
		if (n[k][1] > 0)
			printf("  (completed)");
		if (n[k][2] > 0)
			printf("  %lld exited here", (long long)n[k][2]);
		printf("\n");
	}
	free(n);
}

/* journeyctl status */
static int
cmd_status(struct config *cf, sqlite3 *db, int argc, char **argv)
{
	sqlite3_stmt	*st;
	char		*last;

	if (argc != 0)
		usage();
	last = store_meta_get(db, "last_tick");
	printf("last tick: %s\n", last != NULL ? last : "never");
	free(last);
	for (int i = 0; i < cf->njourneys; i++) {
		const struct journey *j = &cf->journeys[i];

		printf("journey %s (%s)\n", j->name, j->subject ==
		    SUBJECT_ACCOUNT ? "accounts" : "users");
		status_journey(db, j);
	}
	st = store_prepare(db, "SELECT status, count(*) FROM outbox GROUP BY "
	    "status ORDER BY status");
	printf("outbox:");
	{
		long n[6] = { 0 };
		while (sqlite3_step(st) == SQLITE_ROW) {
			int s = sqlite3_column_int(st, 0);
			if (s >= 0 && s < 6)
				n[s] += sqlite3_column_int64(st, 1);
		}
		printf(" %ld pending, %ld in flight, %ld retrying, %ld done, "
		    "%ld held, %ld dead\n", n[OUTBOX_PENDING],
		    n[OUTBOX_INFLIGHT], n[OUTBOX_RETRYING], n[OUTBOX_DONE],
		    n[OUTBOX_HELD], n[OUTBOX_DEAD]);
	}
	sqlite3_finalize(st);
	return 0;
}

/* journeyctl show ID [--json] */
static int
cmd_show(struct config *cf, sqlite3 *db, int argc, char **argv)
{
	sqlite3_stmt	*st;
	const char	*id = NULL;
	int		 json = 0, kind;
	int64_t		 sid;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (id == NULL)
			id = argv[i];
		else
			usage();
	}
	if (id == NULL)
		usage();
	if ((sid = ctl_subject(db, id, &kind)) < 0)
		return 1;
	if (json) {
		char *doc = subject_json(db, sid);

		if (doc == NULL)
			return 1;
		printf("%s\n", doc);
		free(doc);
		return 0;
	}
	st = store_prepare(db, "SELECT s.id, s.kind, s.traits, (SELECT id FROM "
	    "subjects WHERE sid = s.account), (SELECT count(*) FROM subjects "
	    "WHERE account = s.sid) FROM subjects s WHERE s.sid = ?1");
	sqlite3_bind_int64(st, 1, sid);
	if (sqlite3_step(st) == SQLITE_ROW) {
		printf("%s %s\n", sqlite3_column_int(st, 1) == SUBJECT_ACCOUNT ?
		    "account" : "user", col(st, 0));
		printf("  traits: %s\n", col(st, 2));
		if (sqlite3_column_type(st, 3) != SQLITE_NULL)
			printf("  account: %s\n", col(st, 3));
		if (sqlite3_column_int(st, 1) == SUBJECT_ACCOUNT)
			printf("  users: %lld\n",
			    (long long)sqlite3_column_int64(st, 4));
	}
	sqlite3_finalize(st);
	st = store_prepare(db, "SELECT journey, stage, status, "
	    "strftime('%Y-%m-%dT%H:%M:%SZ', stage_since, 'unixepoch') FROM "
	    MEMBERS_OF("?1") " ORDER BY journey");
	sqlite3_bind_int64(st, 1, sid);
	printf("journeys:\n");
	while (sqlite3_step(st) == SQLITE_ROW)
		printf("  %-16s %-16s %-10s since %s\n", col(st, 0), col(st, 1),
		    member_status_name(sqlite3_column_int(st, 2)), col(st, 3));
	sqlite3_finalize(st);
	st = store_prepare(db, "SELECT strftime('%Y-%m-%dT%H:%M:%SZ', h.ts, "
	    "'unixepoch'), h.journey, h.what, h.stage, h.from_stage, h.rule, "
	    "o.instance, o.status, o.reason, coalesce(h.note, o.note), o.id "
	    "FROM history_steps h LEFT JOIN outbox o ON o.aid = h.action "
	    "WHERE h.subject = ?1 ORDER BY h.hid, h.part");
	sqlite3_bind_int64(st, 1, sid);
	printf("history:\n");
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *what = col(st, 2);

		printf("  %s %-12s ", col(st, 0), col(st, 1));
		if (strcmp(what, "moved") == 0)
			printf("moved %s -> %s (rule %s)", col(st, 4),
			    col(st, 3), col(st, 5));
		else if (strcmp(what, "action") == 0) {
			printf("action %s via %s: %s", col(st, 5), col(st, 6),
			    outbox_status_name(sqlite3_column_int(st, 7)));
			if (sqlite3_column_type(st, 8) != SQLITE_NULL)
				printf(" (%s)", col(st, 8));
			printf(" [%s]", col(st, 10));
		} else
			printf("%s %s%s%s", what, col(st, 3),
			    sqlite3_column_type(st, 5) != SQLITE_NULL ?
			    " (" : "", sqlite3_column_type(st, 5) !=
			    SQLITE_NULL ? col(st, 5) : "");
		if (strcmp(what, "moved") != 0 && strcmp(what, "action") != 0 &&
		    sqlite3_column_type(st, 5) != SQLITE_NULL)
			printf(")");
		if (sqlite3_column_type(st, 9) != SQLITE_NULL)
			printf(" - %s", col(st, 9));
		printf("\n");
	}
	sqlite3_finalize(st);
	return 0;
}

/* journeyctl explain ID [--now TIME] */
static int
cmd_explain(struct config *cf, sqlite3 *db, int argc, char **argv)
{
	sqlite3_stmt	*st;
	const char	*id = NULL;
	int64_t		 sid, now;
	int		 kind;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--now") == 0 && i + 1 < argc) {
			if (time_parse(argv[++i], &now) != 0) {
				fprintf(stderr, "journeyctl: --now: bad time "
				    "\"%s\"\n", argv[i]);
				return 2;
			}
			time_set_now(now);
		} else if (id == NULL)
			id = argv[i];
		else
			usage();
	}
	if (id == NULL)
		usage();
	if ((sid = ctl_subject(db, id, &kind)) < 0)
		return 1;
	now = time_now();
	{
		char when[32];
		printf("%s %s at %s\n", kind == SUBJECT_ACCOUNT ? "account" :
		    "user", kind == SUBJECT_ACCOUNT ? id + 8 : id,
		    time_format(now, when, sizeof when));
	}
	st = store_prepare(db, "SELECT stage, status, stage_since FROM members "
	    "WHERE journey = ?1 AND subject = ?2");
	for (int i = 0; i < cf->njourneys; i++) {
		const struct journey *j = &cf->journeys[i];
		struct buf out;
		int holds, member = 0, status = 0;
		char stage[256] = "";

		if ((int)j->subject != kind) {
			printf("journey %s: for %s only\n", j->name, j->subject
			    == SUBJECT_ACCOUNT ? "accounts" : "users");
			continue;
		}
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, j->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, sid);
		if (sqlite3_step(st) == SQLITE_ROW) {
			member = 1;
			snprintf(stage, sizeof stage, "%s", col(st, 0));
			status = sqlite3_column_int(st, 1);
		}
		if (member)
			printf("journey %s: at %s (%s)\n", j->name, stage,
			    member_status_name(status));
		else
			printf("journey %s: not in it\n", j->name);
		buf_init(&out);
		if (j->exit != NULL) {
			expr_explain(j->exit, db, sid, now, j->name, 4, &out,
			    &holds);
			printf("  exit: %s\n%s", holds ? "holds" :
			    "does not hold", out.s ? out.s : "");
			buf_free(&out);
		}
		if (!member || (status == MEMBER_EXITED && j->reenter)) {
			if (j->entry == NULL)
				printf("  entry: none (reached only by "
				    "hand-off)\n");
			else {
				expr_explain(j->entry, db, sid, now, j->name, 4,
				    &out, &holds);
				printf("  entry: %s\n%s", holds ? "holds: "
				    "enters at the next tick" : "does not hold",
				    out.s ? out.s : "");
				buf_free(&out);
			}
		}
		if (!member || status == MEMBER_EXITED)
			continue;
		for (int k = 0; k < j->nrules; k++) {
			const struct rule *r = &j->rules[k];
			int applies = r->nstages == 0;

			for (int s = 0; s < r->nstages; s++)
				if (strcmp(r->stages[s], stage) == 0)
					applies = 1;
			printf("  rule %s", r->name);
			if (r->go >= 0)
				printf(" (goto %s)", j->stages[r->go].name);
			if (r->instance != NULL)
				printf(" (action %s)", r->instance);
			if (!applies) {
				printf(": not at its stage\n");
				continue;
			}
			expr_explain(r->when, db, sid, now, j->name, 4, &out,
			    &holds);
			printf(": %s\n%s", holds ? "holds" : "does not hold",
			    out.s ? out.s : "");
			buf_free(&out);
		}
	}
	sqlite3_finalize(st);
	return 0;
}

/* journeyctl outbox [--dead] */
static int
cmd_outbox(struct config *cf, sqlite3 *db, int argc, char **argv)
{
	sqlite3_stmt	*st;
	int		 dead = 0, n = 0;

	if (argc == 1 && strcmp(argv[0], "--dead") == 0)
		dead = 1;
	else if (argc != 0)
		usage();
	/* By the index of the queue, or of the dead. */
	st = store_prepare(db, dead ? "SELECT o.id, s.kind, s.id, o.journey, "
	    "o.rule, o.instance, o.status, o.attempts, strftime("
	    "'%Y-%m-%dT%H:%M:%SZ', o.due, 'unixepoch'), o.reason FROM outbox o "
	    "JOIN subjects s ON s.sid = o.subject WHERE " OUTBOX_DEAD_SQL
	    " ORDER BY o.due, o.aid" : "SELECT o.id, s.kind, s.id, o.journey, "
	    "o.rule, o.instance, o.status, o.attempts, strftime("
	    "'%Y-%m-%dT%H:%M:%SZ', o.due, 'unixepoch'), o.reason FROM outbox o "
	    "JOIN subjects s ON s.sid = o.subject WHERE " OUTBOX_QUEUED_SQL
	    " ORDER BY o.due, o.aid");
	while (sqlite3_step(st) == SQLITE_ROW) {
		printf("%s %s%s %s/%s via %s: %s, %d attempt(s)", col(st, 0),
		    sqlite3_column_int(st, 1) == SUBJECT_ACCOUNT ? "account:" :
		    "", col(st, 2), col(st, 3), col(st, 4), col(st, 5),
		    sqlite3_column_int(st, 6) == OUTBOX_INFLIGHT ? "in flight" :
		    outbox_status_name(sqlite3_column_int(st, 6)),
		    sqlite3_column_int(st, 7));
		if (!dead)
			printf(", due %s", col(st, 8));
		if (sqlite3_column_type(st, 9) != SQLITE_NULL)
			printf(": %s", col(st, 9));
		printf("\n");
		n++;
	}
	sqlite3_finalize(st);
	printf("%d %s action(s)\n", n, dead ? "dead" : "queued");
	return 0;
}

/* journeyctl retry ID|--dead: an action id, a subject, or every dead one.
 * They are due at once: since they died, or now if that is earlier (a
 * daemon run with --now may have recorded a time ahead of the clock). */
static int
cmd_retry(struct config *cf, sqlite3 *db, int argc, char **argv)
{
	sqlite3_stmt	*st;
	int64_t		 sid = -1, now = time_now();
	int		 n, kind;

	if (argc != 1)
		usage();
	if (store_begin(db) != 0)
		return 1;
	if (strcmp(argv[0], "--dead") == 0) {
		st = store_prepare(db, "UPDATE outbox SET status = ?1, due = "
		    "min(?2, coalesce(updated, ?2)), first_try = NULL, "
		    "attempts = 0, crashes = 0, updated = ?2 WHERE "
		    OUTBOX_DEAD_SQL);
	} else {
		st = store_prepare(db, "UPDATE outbox SET status = ?1, due = "
		    "min(?2, coalesce(updated, ?2)), first_try = NULL, "
		    "attempts = 0, crashes = 0, updated = ?2 WHERE status = ?3 "
		    "AND (id = ?4 OR subject = ?5)");
		sid = store_subject(db, argv[0], &kind);
		sqlite3_bind_int(st, 3, OUTBOX_DEAD);
		sqlite3_bind_text(st, 4, argv[0], -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, sid);
	}
	sqlite3_bind_int(st, 1, OUTBOX_PENDING);
	sqlite3_bind_int64(st, 2, now);
	n = sqlite3_step(st) == SQLITE_DONE ? sqlite3_changes(db) : -1;
	sqlite3_finalize(st);
	if (n < 0 || store_commit(db) != 0) {
		store_rollback(db);
		fprintf(stderr, "journeyctl: %s\n", sqlite3_errmsg(db));
		return 1;
	}
	if (n == 0 && strcmp(argv[0], "--dead") != 0 && sid < 0) {
		st = store_prepare(db, "SELECT 1 FROM outbox WHERE id = ?1");
		sqlite3_bind_text(st, 1, argv[0], -1, SQLITE_STATIC);
		n = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
		if (!n) {
			fprintf(stderr, "journeyctl: no action, user or "
			    "account \"%s\"\n", argv[0]);
			return 1;
		}
		n = 0;
	}
	printf("%d dead action(s) queued again\n", n);
	return 0;
}

/* journeyctl report [--html FILE] [--now TIME] */
static int
cmd_report(struct config *cf, sqlite3 *db, int argc, char **argv)
{
	const char	*html = NULL;
	int64_t		 now;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--html") == 0 && i + 1 < argc)
			html = argv[++i];
		else if (strcmp(argv[i], "--now") == 0 && i + 1 < argc) {
			if (time_parse(argv[++i], &now) != 0) {
				fprintf(stderr, "journeyctl: --now: bad time "
				    "\"%s\"\n", argv[i]);
				return 2;
			}
			time_set_now(now);
		} else
			usage();
	}
	return report_run(cf, db, time_now(), html, stdout) == 0 ? 0 : 1;
}

static const struct ctl_cmd ctl_cmds[] = {
	{ "import", "[FILE ...]", cmd_import },
	{ "status", "", cmd_status },
	{ "show", "ID [--json]", cmd_show },
	{ "explain", "ID [--now TIME]", cmd_explain },
	{ "report", "[--html FILE] [--now TIME]", cmd_report },
	{ "outbox", "[--dead]", cmd_outbox },
	{ "retry", "ID|--dead", cmd_retry },
	{ NULL, NULL, NULL }
};

int
main(int argc, char **argv)
{
	const char		*path = JD_DEFAULT_CONFIG;
	const struct ctl_cmd	*cmd;
	struct problems		 probs = { 0 };
	struct config		*cf;
	sqlite3			*db;
	char			 err[512];
	int			 ch, rc;

	log_open("journeyctl", 0);
	while ((ch = getopt(argc, argv, "+c:h")) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	for (cmd = ctl_cmds; cmd->name != NULL; cmd++)
		if (strcmp(cmd->name, argv[0]) == 0)
			break;
	if (cmd->name == NULL) {
		fprintf(stderr, "journeyctl: unknown command \"%s\"\n",
		    argv[0]);
		usage();
	}
	if ((cf = config_load(path, 0, &probs)) == NULL) {
		problems_print(&probs, stderr);
		problems_free(&probs);
		return 1;
	}
	if ((db = store_open(cf->database, err, sizeof err)) == NULL) {
		fprintf(stderr, "journeyctl: %s\n", err);
		config_free(cf);
		return 1;
	}
	rc = cmd->run(cf, db, argc - 1, argv + 1);
	store_close(db);
	config_free(cf);
	return rc;
}
