/*
 * journeyctl: import customer data, and show and explain what journeyd did.
 * It works on the same database as the daemon, at the same time (WAL).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "insight/insight.h"

/* The most options a command takes. */
#define CTL_MAXOPTS	2

/* An option of a command: "--json", or "--html" with its value "FILE". */
struct ctl_opt {
	const char	*name;
	const char	*value;		/* NULL: a flag */
};

/* A command's arguments, as parsed: the positional ones, and each
 * option's value ("" for a flag given), NULL when absent. */
struct ctl_args {
	char		**pos;
	int		  npos;
	const char	 *opt[CTL_MAXOPTS];
};

/* A command: its name, arguments, what it does, and what runs it. */
struct ctl_cmd {
	const char	*name;
	const char	*pos;		/* the positional arguments' name */
	int		 minpos;
	int		 maxpos;	/* -1: any number */
	int		 either;	/* the positional or opts[0], not both */
	struct ctl_opt	 opts[CTL_MAXOPTS];
	const char	*usage;		/* the arguments, for the usage */
	const char	*help;
	int		(*run)(struct config *, sqlite3 *, struct ctl_args *);
};

static const struct ctl_cmd	 ctl_cmds[];
static void			 cmd_now(const struct ctl_cmd *, const char *);

/* Print the usage of every command. */
static void
usage_print(FILE *f)
{
	fprintf(f, "usage: journeyctl [-c FILE] COMMAND [ARGS]\n"
	    "       journeyctl --help\n\n"
	    "  -c FILE     the config (default: %s)\n\n"
	    "commands:\n", JD_DEFAULT_CONFIG);
	for (const struct ctl_cmd *c = ctl_cmds; c->name != NULL; c++) {
		char	*line = xprintf("%s %s", c->name, c->usage);

		fprintf(f, "  %-34s %s\n", line, c->help);
		free(line);
	}
	fprintf(f, "\nID is a user's id, or account:ID for an account. TIME is "
	    "2026-03-01T09:00:00Z\nor @1772355600. --html - writes the HTML to "
	    "standard output. Exit status:\n0 success, 1 a problem to fix, 2 a "
	    "usage error. See journeyctl(1).\n");
}

/* Print the usage on stderr and exit 2. */
static void __attribute__((noreturn))
usage(void)
{
	usage_print(stderr);
	exit(2);
}

/* Say what was wrong with a command's arguments, show its usage, exit 2. */
static void __attribute__((noreturn, format(printf, 2, 3)))
cmd_usage(const struct ctl_cmd *c, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "journeyctl %s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: journeyctl [-c FILE] %s%s%s\n", c->name,
	    *c->usage != '\0' ? " " : "", c->usage);
	exit(2);
}

/* Parse a command's arguments into a; a usage error exits 2. "--help"
 * prints the command's usage and exits 0. */
static void
cmd_parse(const struct ctl_cmd *c, int argc, char **argv, struct ctl_args *a)
{
	memset(a, 0, sizeof *a);
	a->pos = xcalloc((size_t)argc + 1, sizeof *a->pos);
	for (int i = 0; i < argc; i++) {
		const char	*arg = argv[i], *eq;
		size_t		 len;
		int		 k;

		if (strcmp(arg, "--help") == 0) {
			printf("usage: journeyctl [-c FILE] %s%s%s\n  %s\n",
			    c->name, *c->usage != '\0' ? " " : "", c->usage,
			    c->help);
			exit(0);
		}
		if (arg[0] != '-' || strcmp(arg, "-") == 0) {
			a->pos[a->npos++] = argv[i];
			continue;
		}
		len = (eq = strchr(arg, '=')) != NULL ? (size_t)(eq - arg) :
		    strlen(arg);
		for (k = 0; k < CTL_MAXOPTS && c->opts[k].name != NULL; k++)
			if (strlen(c->opts[k].name) == len &&
			    strncmp(c->opts[k].name, arg, len) == 0)
				break;
		if (k == CTL_MAXOPTS || c->opts[k].name == NULL)
			cmd_usage(c, "unknown option %s", arg);
		if (c->opts[k].value == NULL) {
			if (eq != NULL)
				cmd_usage(c, "%.*s takes no value", (int)len,
				    arg);
			a->opt[k] = "";
		} else if (eq != NULL)
			a->opt[k] = eq + 1;
		else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
			a->opt[k] = argv[++i];
		else
			cmd_usage(c, "%s: %s is missing", arg,
			    c->opts[k].value);
	}
	if (a->npos < c->minpos)
		cmd_usage(c, "%s is missing", c->pos);
	if (c->maxpos >= 0 && a->npos > c->maxpos)
		cmd_usage(c, "unexpected argument \"%s\"", a->pos[c->maxpos]);
	if (c->either && a->npos == 0 && a->opt[0] == NULL)
		cmd_usage(c, "%s or %s is missing", c->pos, c->opts[0].name);
	if (c->either && a->npos > 0 && a->opt[0] != NULL)
		cmd_usage(c, "give %s or %s, not both", c->pos,
		    c->opts[0].name);
	for (int k = 0; k < CTL_MAXOPTS && c->opts[k].name != NULL; k++)
		if (strcmp(c->opts[k].name, "--now") == 0)
			cmd_now(c, a->opt[k]);
}

/* Pin the clock at an option's TIME, if given; a bad one exits 2. */
static void
cmd_now(const struct ctl_cmd *c, const char *arg)
{
	int64_t	 now;

	if (arg == NULL)
		return;
	if (time_parse(arg, &now) != 0)
		cmd_usage(c, "--now: bad time \"%s\" (use 2026-03-01T09:00:00Z "
		    "or @1772355600)", arg);
	time_set_now(now);
}

/* Column text, never NULL. */
static const char *
col(sqlite3_stmt *st, int i)
{
	const unsigned char	*s = sqlite3_column_text(st, i);

	return s != NULL ? (const char *)s : "";
}

/* Find a subject by "ID" or "account:ID", or say that there is none and,
 * when the other kind has that id, how to name it. */
static int64_t
ctl_subject(sqlite3 *db, const char *cmd, const char *id, int *kind)
{
	int64_t		 sid = store_subject(db, id, kind);
	int		 other;
	const char	*bare = *kind == SUBJECT_ACCOUNT ? id + 8 : id;

	if (sid >= 0)
		return sid;
	fprintf(stderr, "journeyctl %s: no %s \"%s\"", cmd, *kind ==
	    SUBJECT_ACCOUNT ? "account" : "user", bare);
	if (*kind == SUBJECT_USER) {
		char *ref = xprintf("account:%s", id);

		if (store_subject(db, ref, &other) >= 0)
			fprintf(stderr, "; there is an account \"%s\": "
			    "journeyctl %s %s", id, cmd, ref);
		free(ref);
	} else if (store_subject(db, bare, &other) >= 0)
		fprintf(stderr, "; there is a user \"%s\": journeyctl %s %s",
		    bare, cmd, bare);
	fprintf(stderr, "\n");
	return -1;
}

/* journeyctl import [FILE ...] */
static int
cmd_import(struct config *cf, sqlite3 *db, struct ctl_args *a)
{
	int			 argc = a->npos;
	char			**argv = a->pos;
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
cmd_status(struct config *cf, sqlite3 *db, struct ctl_args *a)
{
	long		 n[OUTBOX_NSTATUS];
	char		*last;

	last = store_meta_get(db, "last_tick");
	printf("last tick: %s\n", last != NULL ? last : "never");
	free(last);
	for (int i = 0; i < cf->njourneys; i++) {
		const struct journey *j = &cf->journeys[i];

		printf("journey %s (%s)\n", j->name, j->subject ==
		    SUBJECT_ACCOUNT ? "accounts" : "users");
		status_journey(db, j);
	}
	if (outbox_counts(db, n) != 0)
		return 1;
	printf("outbox: %ld pending, %ld in flight, %ld retrying, %ld done, "
	    "%ld held, %ld dead\n", n[OUTBOX_PENDING], n[OUTBOX_INFLIGHT],
	    n[OUTBOX_RETRYING], n[OUTBOX_DONE], n[OUTBOX_HELD],
	    n[OUTBOX_DEAD]);
	return 0;
}

/* journeyctl show ID [--json] */
static int
cmd_show(struct config *cf, sqlite3 *db, struct ctl_args *a)
{
	sqlite3_stmt	*st;
	const char	*id = a->pos[0];
	int		 json = a->opt[0] != NULL, kind;
	int64_t		 sid;

	if ((sid = ctl_subject(db, "show", id, &kind)) < 0)
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
	    "o.instance, o.status, o.reason, o.note, o.id, o.variant "
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
			printf("action %s", col(st, 5));
			if (sqlite3_column_type(st, 11) != SQLITE_NULL)
				printf(" variant %s", col(st, 11));
			printf(" via %s: %s", col(st, 6),
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

/*
 * explain --now T tells the truth about T: temp.members, which hides the
 * members table from every query of this connection, holds the subject's
 * memberships (and its account's) as of T, replayed from their history up
 * to T. Events after T do not exist for the rules at T anyway.
 */
static int
explain_members_at(sqlite3 *db, int64_t sid, int64_t now)
{
	sqlite3_stmt	*st, *set;
	int		 rc = 0;

	if (store_exec(db, "CREATE TEMP TABLE members (journey TEXT NOT NULL, "
	    "subject INTEGER NOT NULL, stage TEXT NOT NULL, status INTEGER NOT "
	    "NULL, entered INTEGER NOT NULL, stage_since INTEGER NOT NULL, "
	    "PRIMARY KEY (journey, subject)) WITHOUT ROWID") != 0)
		return -1;
	st = store_prepare(db, "SELECT subject, journey, what, stage, ts FROM "
	    "history_steps WHERE subject IN (?1, (SELECT account FROM "
	    "subjects WHERE sid = ?1)) AND ts <= ?2 AND what IN ('entered', "
	    "'moved', 'completed', 'exited') ORDER BY hid, part");
	set = store_prepare(db, "INSERT INTO temp.members(journey, subject, "
	    "stage, status, entered, stage_since) VALUES (?2, ?1, ?4, 0, ?5, "
	    "?5) ON CONFLICT (journey, subject) DO UPDATE SET "
	    "stage = CASE WHEN ?3 IN ('entered', 'moved') THEN ?4 ELSE stage "
	    "END, status = CASE ?3 WHEN 'completed' THEN 1 WHEN 'exited' THEN "
	    "2 ELSE 0 END, entered = CASE WHEN ?3 = 'entered' THEN ?5 ELSE "
	    "entered END, stage_since = CASE WHEN ?3 IN ('entered', 'moved') "
	    "THEN ?5 ELSE stage_since END");
	sqlite3_bind_int64(st, 1, sid);
	sqlite3_bind_int64(st, 2, now);
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		sqlite3_reset(set);
		for (int i = 0; i < 5; i++)
			sqlite3_bind_value(set, i + 1, sqlite3_column_value(st,
			    i));
		if (sqlite3_step(set) != SQLITE_DONE)
			rc = -1;
	}
	sqlite3_finalize(st);
	sqlite3_finalize(set);
	return rc;
}

/* Say when an action rule that holds will not fire again: fired once
 * already (a re-entry does not reset it), or within its repeat period. */
static void
explain_fired(sqlite3 *db, const struct journey *j, const struct rule *r,
    int64_t sid, int64_t now)
{
	sqlite3_stmt	*st;
	char		 when[32], next[32], every[32];
	int64_t		 last;

	/* The history, or the firing's record that retention keeps when it
	 * prunes the history. */
	st = store_prepare(db, "SELECT max(ts) FROM (SELECT ts FROM history "
	    "WHERE subject = ?1 AND journey = ?2 AND rule = ?3 AND what = "
	    "'action' AND ts <= ?4 UNION ALL SELECT last FROM firings WHERE "
	    "subject = ?1 AND journey = ?2 AND rule = ?3 AND last <= ?4)");
	sqlite3_bind_int64(st, 1, sid);
	sqlite3_bind_text(st, 2, j->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL) {
		last = sqlite3_column_int64(st, 0);
		time_format(last, when, sizeof when);
		if (r->repeat == 0)
			printf(", but will not fire again (once, already "
			    "fired at %s)", when);
		else if (last > now - r->repeat)
			printf(", but will not fire again before %s (repeat "
			    "%s, last fired at %s)", time_format(last +
			    r->repeat, next, sizeof next), duration_format(
			    r->repeat, every, sizeof every), when);
	}
	sqlite3_finalize(st);
}

/* A subject's membership of a journey, as explain reads it. */
struct explain_member {
	int	 member;
	int	 status;
	int64_t	 entered;
	char	 stage[256];
};

/* The head of rule r's lines: its name and what it does. */
static void
explain_rule_head(const struct journey *j, const struct rule *r)
{
	printf("  rule %s", r->name);
	if (r->go >= 0)
		printf(" (goto %s)", j->stages[r->go].name);
	if (r->nvariants > 0)
		printf(" (%d variants)", r->nvariants);
	else if (r->instance != NULL)
		printf(" (action %s)", r->instance);
}

/* Explain the rules of journey j for a member at its stage; for one not
 * in it (m->member 0, or exited), name each and say why it does not
 * apply. */
static void
explain_rules(sqlite3 *db, const struct journey *j, int64_t sid,
    int64_t now, const struct explain_member *m)
{
	struct buf	 out;
	int		 holds;

	for (int k = 0; k < j->nrules; k++) {
		const struct rule *r = &j->rules[k];
		explain_rule_head(j, r);
		if (!m->member || m->status == MEMBER_EXITED) {
			printf(": not evaluated, %s\n", m->member ? "exited "
			    "the journey" : "not in the journey");
			continue;
		}
		if (!rule_at_stage(r, m->stage)) {
			printf(": not at its stage\n");
			continue;
		}
		buf_init(&out);
		expr_explain(r->when, db, sid, now, j->name, 4, &out, &holds);
		printf(": %s", holds ? "holds" : "does not hold");
		if (r->on_enter)
			printf(" (on = \"enter\": it fires when the subject "
			    "enters its stage, not later)");
		else if (holds && r->go < 0 && (r->instance != NULL ||
		    r->nvariants > 0))
			explain_fired(db, j, r, sid, now);
		printf("\n%s", out.s ? out.s : "");
		buf_free(&out);
	}
}

/* Explain journey j for subject sid: its exit, its entry, its rules. */
static void
explain_journey(sqlite3 *db, const struct journey *j, int64_t sid,
    int64_t now, const struct explain_member *m)
{
	struct buf	 out;
	int		 holds;

	if (m->member)
		printf("journey %s: at %s (%s)\n", j->name, m->stage,
		    member_status_name(m->status));
	else
		printf("journey %s: not in it\n", j->name);
	buf_init(&out);
	if (j->exit != NULL) {
		expr_explain(j->exit, db, sid, now, j->name, 4, &out, &holds);
		printf("  exit: %s\n%s", holds ? "holds" : "does not hold",
		    out.s ? out.s : "");
		buf_free(&out);
	}
	if (!m->member || (m->status == MEMBER_EXITED && j->reenter)) {
		if (j->entry == NULL)
			printf("  entry: none (reached only by hand-off)\n");
		else {
			expr_explain(j->entry, db, sid, now, j->name, 4, &out,
			    &holds);
			printf("  entry: %s\n%s", holds ? "holds: enters at "
			    "the next tick" : "does not hold", out.s ? out.s :
			    "");
			buf_free(&out);
		}
	}
	explain_rules(db, j, sid, now, m);
}

/* journeyctl explain ID [--now TIME] */
static int
cmd_explain(struct config *cf, sqlite3 *db, struct ctl_args *a)
{
	sqlite3_stmt		*st;
	const char		*id = a->pos[0];
	int64_t			 sid, now, until;
	int			 kind, as_of = a->opt[0] != NULL;
	char			 when[32];

	if ((sid = ctl_subject(db, "explain", id, &kind)) < 0)
		return 1;
	now = time_now();
	if (expr_register(db) != 0 ||
	    (as_of && explain_members_at(db, sid, now) != 0)) {
		fprintf(stderr, "journeyctl: %s\n", sqlite3_errmsg(db));
		return 1;
	}
	printf("%s %s at %s\n", kind == SUBJECT_ACCOUNT ? "account" : "user",
	    kind == SUBJECT_ACCOUNT ? id + 8 : id, time_format(now, when,
	    sizeof when));
	/* Retention deleted events that were there at T: say so, rather
	 * than explain as if they had never been. */
	if (as_of && (until = subject_pruned_until(db, sid)) > now)
		printf("note: retention has pruned this %s's events up to %s: "
		    "as of an earlier time, reads without a window count all "
		    "that was pruned, and reads with one see none of it\n",
		    kind == SUBJECT_ACCOUNT ? "account" : "user", time_format(
		    until, when, sizeof when));
	st = store_prepare(db, "SELECT stage, status, entered FROM members "
	    "WHERE journey = ?1 AND subject = ?2");
	for (int i = 0; i < cf->njourneys; i++) {
		const struct journey *j = &cf->journeys[i];
		struct explain_member m = { 0 };

		if ((int)j->subject != kind) {
			printf("journey %s: for %s only\n", j->name, j->subject
			    == SUBJECT_ACCOUNT ? "accounts" : "users");
			continue;
		}
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, j->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, sid);
		if (sqlite3_step(st) == SQLITE_ROW) {
			m.member = 1;
			snprintf(m.stage, sizeof m.stage, "%s", col(st, 0));
			m.status = sqlite3_column_int(st, 1);
			m.entered = sqlite3_column_int64(st, 2);
		}
		explain_journey(db, j, sid, now, &m);
	}
	sqlite3_finalize(st);
	return 0;
}

/* Print one action of the outbox, as journeyctl outbox lists it. */
static int
outbox_print(void *arg, const struct outbox_entry *e)
{
	int	*n = arg;
	char	 due[32];

	printf("%s %s%s %s/%s via %s: %s, %d attempt(s)", e->id,
	    e->kind == SUBJECT_ACCOUNT ? "account:" : "", e->subject,
	    e->journey, e->rule, e->instance, e->status == OUTBOX_INFLIGHT ?
	    "in flight" : outbox_status_name(e->status), e->attempts);
	if (e->status != OUTBOX_DEAD)
		printf(", due %s", time_format(e->due, due, sizeof due));
	if (e->reason != NULL)
		printf(": %s", e->reason);
	printf("\n");
	(*n)++;
	return 0;
}

/* journeyctl outbox [--dead] */
static int
cmd_outbox(struct config *cf, sqlite3 *db, struct ctl_args *a)
{
	int	 dead = a->opt[0] != NULL, n = 0;

	if (outbox_list(db, dead, outbox_print, &n) != 0)
		return 1;
	printf("%d %s action(s)\n", n, dead ? "dead" : "queued");
	return 0;
}

/* journeyctl retry ID|--dead: an action id, a subject, or every dead one. */
static int
cmd_retry(struct config *cf, sqlite3 *db, struct ctl_args *a)
{
	const char	*ref;
	int64_t		 sid = -1;
	int		 n, kind;
	char		 err[256];

	ref = a->npos > 0 ? a->pos[0] : NULL;
	if (ref != NULL)
		sid = store_subject(db, ref, &kind);
	if ((n = outbox_retry(db, ref, sid, time_now(), err, sizeof err)) < 0) {
		fprintf(stderr, "journeyctl: %s\n", err);
		return 1;
	}
	if (n == 0 && ref != NULL && sid < 0 && !outbox_exists(db, ref)) {
		fprintf(stderr, "journeyctl: no action, user or account "
		    "\"%s\"\n", ref);
		return 1;
	}
	printf("%d dead action(s) queued again\n", n);
	return 0;
}

/* journeyctl report [--html FILE] [--now TIME]; FILE "-": the HTML on
 * standard output, instead of the text. */
static int
cmd_report(struct config *cf, sqlite3 *db, struct ctl_args *a)
{
	return report_run(cf, db, time_now(), a->opt[0], stdout) == 0 ? 0 : 1;
}

/* journeyctl backup FILE */
static int
cmd_backup(struct config *cf, sqlite3 *db, struct ctl_args *a)
{
	char	 err[1024];
	int64_t	 pages = 0;

	if (store_backup(db, a->pos[0], &pages, err, sizeof err) != 0) {
		fprintf(stderr, "journeyctl backup: %s\n", err);
		return 1;
	}
	printf("%s: a copy of %s as of now, %lld pages\n", a->pos[0],
	    cf->database, (long long)pages);
	return 0;
}

/* journeyctl forget ID [--now TIME]: erase a user's or an account's data
 * (SPEC §18), and say what was removed. */
static int
cmd_forget(struct config *cf, sqlite3 *db, struct ctl_args *a)
{
	struct forget_counts	 fc;
	int64_t			 sid;
	int			 kind;

	(void)cf;
	if ((sid = ctl_subject(db, "forget", a->pos[0], &kind)) < 0)
		return 1;
	if (store_forget(db, sid, time_now(), &fc) != 0) {
		fprintf(stderr, "journeyctl forget: nothing was removed (the "
		    "reason is above)\n");
		return 1;
	}
	printf("forgot %s: %lld id(s) remembered, so that older messages "
	    "about them are dropped\n", a->pos[0], (long long)fc.ids);
	for (int i = 0; i < FORGET_NTABLES; i++)
		printf("  %-22s %lld removed\n", forget_table_name(i),
		    (long long)fc.n[i]);
	return 0;
}

static const struct ctl_cmd ctl_cmds[] = {
	{ "import", "FILE ...", 0, -1, 0, { { NULL, NULL } }, "[FILE ...]",
	  "import JSON lines ('-' or none: stdin)", cmd_import },
	{ "status", NULL, 0, 0, 0, { { NULL, NULL } }, "",
	  "journeys, stage counts, outbox, last tick", cmd_status },
	{ "show", "ID", 1, 1, 0, { { "--json", NULL } }, "ID [--json]",
	  "a customer's profile, stages and history", cmd_show },
	{ "explain", "ID", 1, 1, 0, { { "--now", "TIME" } },
	  "ID [--now TIME]", "every rule of every journey for ID, and why",
	  cmd_explain },
	{ "report", NULL, 0, 0, 0, { { "--html", "FILE" }, { "--now", "TIME" } },
	  "[--html FILE] [--now TIME]",
	  "the funnel of every journey", cmd_report },
	{ "outbox", NULL, 0, 0, 0, { { "--dead", NULL } }, "[--dead]",
	  "pending (or dead) actions", cmd_outbox },
	{ "retry", "ID", 0, 1, 1, { { "--dead", NULL } }, "ID|--dead",
	  "put dead actions back in the queue", cmd_retry },
	{ "backup", "FILE", 1, 1, 0, { { NULL, NULL } }, "FILE",
	  "a consistent copy of the database, online", cmd_backup },
	{ "forget", "ID", 1, 1, 0, { { "--now", "TIME" } }, "ID [--now TIME]",
	  "erase a user's or account's data (account:ID), for good",
	  cmd_forget },
	{ NULL, NULL, 0, 0, 0, { { NULL, NULL } }, NULL, NULL, NULL }
};

static const struct option ctl_options[] = {
	{ "config",	required_argument,	NULL, 'c' },
	{ "help",	no_argument,		NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

int
main(int argc, char **argv)
{
	const char		*path = JD_DEFAULT_CONFIG;
	const struct ctl_cmd	*cmd;
	struct ctl_args		 args;
	struct problems		 probs = { 0 };
	struct config		*cf;
	sqlite3			*db;
	char			 err[512];
	int			 ch, rc;

	log_open("journeyctl", 0);
	while ((ch = getopt_long(argc, argv, "+c:h", ctl_options, NULL)) !=
	    -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'h': usage_print(stdout); return 0;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		fprintf(stderr, "journeyctl: a command is missing\n");
		usage();
	}
	if (strcmp(argv[0], "help") == 0) {
		usage_print(stdout);
		return 0;
	}
	for (cmd = ctl_cmds; cmd->name != NULL; cmd++)
		if (strcmp(cmd->name, argv[0]) == 0)
			break;
	if (cmd->name == NULL) {
		fprintf(stderr, "journeyctl: unknown command \"%s\"\n",
		    argv[0]);
		usage();
	}
	cmd_parse(cmd, argc - 1, argv + 1, &args);
	if ((cf = config_load(path, &probs)) == NULL) {
		problems_print(&probs, stderr);
		problems_free(&probs);
		free(args.pos);
		return 1;
	}
	problems_free(&probs);	/* warnings are for --check to say */
	if ((db = store_open(cf->database, err, sizeof err)) == NULL) {
		fprintf(stderr, "journeyctl: %s\n", err);
		config_free(cf);
		free(args.pos);
		return 1;
	}
	rc = cmd->run(cf, db, &args);
	store_close(db);
	config_free(cf);
	free(args.pos);
	return rc;
}
