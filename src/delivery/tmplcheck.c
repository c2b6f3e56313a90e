/*
 * Checking templates' placeholders for journeyd --check (README,
 * "Plugins"): plugins hand the host their templates in check()
 * (host->check_template), and each placeholder gets a warning when it is
 * {{id}} (the action's id, which reads as if it were the subject's), or a
 * trait path whose first key no subject has ever had, with the nearest key
 * that the store has seen. Warnings, never errors: the exit status stays 0.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "delivery/delivery.h"

struct tmpl_check {
	char	**keys;		/* the trait keys the store has seen */
	int	  nkeys;
	int	  have_keys;	/* the store said which: warn about others */
	char	**files;	/* template files already checked */
	int	  nfiles;
};

/* What tmpl_check() hands render_walk(). */
struct tmpl_walk {
	struct tmpl_check	*tc;
	const char		*file;
	int			 line;	/* 0: counted in the template */
	struct problems		*probs;
};

/* Start checking, with the trait keys of the database at path when it has
 * them (path NULL: none). */
struct tmpl_check *
tmpl_check_new(const char *database)
{
	struct tmpl_check	*tc = xcalloc(1, sizeof *tc);

	/* An empty store has seen nothing to compare with. */
	if (database != NULL && store_trait_keys(database, &tc->keys,
	    &tc->nkeys) == 0 && tc->nkeys > 0)
		tc->have_keys = 1;
	return tc;
}

/* Free a check. */
void
tmpl_check_free(struct tmpl_check *tc)
{
	if (tc == NULL)
		return;
	for (int i = 0; i < tc->nkeys; i++)
		free(tc->keys[i]);
	free(tc->keys);
	for (int i = 0; i < tc->nfiles; i++)
		free(tc->files[i]);
	free(tc->files);
	free(tc);
}

/* The edit distance of a and b, ignoring case (Levenshtein's, one row). */
static size_t
tmpl_distance(const char *a, const char *b)
{
	size_t	 la = strlen(a), lb = strlen(b), *row, prev, up, d;

	row = xcalloc(lb + 1, sizeof *row);
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			up = row[j];
			d = prev + (tolower((unsigned char)a[i - 1]) !=
			    tolower((unsigned char)b[j - 1]));
			if (up + 1 < d)
				d = up + 1;
			if (row[j - 1] + 1 < d)
				d = row[j - 1] + 1;
			row[j] = d;
			prev = up;
		}
	}
	d = row[lb];
	free(row);
	return d;
}

/* The known key nearest to key, when near enough to be a typo, or NULL. */
static const char *
tmpl_nearest(const struct tmpl_check *tc, const char *key)
{
	const char	*best = NULL;
	size_t		 bestd = (size_t)-1, d, near;

	near = strlen(key) / 3 > 2 ? strlen(key) / 3 : 2;
	for (int i = 0; i < tc->nkeys; i++)
		if ((d = tmpl_distance(key, tc->keys[i])) < bestd) {
			bestd = d;
			best = tc->keys[i];
		}
	return bestd <= near ? best : NULL;
}

/* Has the store seen key? */
static int
tmpl_known(const struct tmpl_check *tc, const char *key)
{
	for (int i = 0; i < tc->nkeys; i++)
		if (strcmp(tc->keys[i], key) == 0)
			return 1;
	return 0;
}

/* Warn about one placeholder, if need be. */
static void
tmpl_check_one(void *arg, const char *name, int line)
{
	struct tmpl_walk	*w = arg;
	const char		*path = name, *near;
	char			*key;
	int			 at = w->line > 0 ? w->line : line;

	switch (render_builtin(name)) {
	case RENDER_ID:
		problems_warn(w->probs, w->file, at, "{{id}} is the action's "
		    "id, not the subject's: write {{action_id}}, or "
		    "{{subject_id}} for the subject's id");
		return;
	case RENDER_TRAIT:
		break;
	default:
		return;
	}
	if (!w->tc->have_keys || *name == '\0')
		return;
	if (strncmp(path, "account.", 8) == 0)
		path += 8;
	key = xstrndup(path, strcspn(path, ".["));
	if (!tmpl_known(w->tc, key)) {
		if ((near = tmpl_nearest(w->tc, key)) != NULL)
			problems_warn(w->probs, w->file, at, "{{%s}}: no "
			    "subject has a trait \"%s\"; did you mean "
			    "\"%s\"?", name, key, near);
		else
			problems_warn(w->probs, w->file, at, "{{%s}}: no "
			    "subject has a trait \"%s\"", name, key);
	}
	free(key);
}

/* Check the placeholders of tmpl, written in file at line (0: counted in
 * tmpl); a file is checked once however many actions use it. */
void
tmpl_check(struct tmpl_check *tc, const char *tmpl, const char *file,
    int line, struct problems *probs)
{
	struct tmpl_walk	 w = { tc, file, line, probs };

	if (line == 0) {
		for (int i = 0; i < tc->nfiles; i++)
			if (strcmp(tc->files[i], file) == 0)
				return;
		tc->files = xreallocarray(tc->files, tc->nfiles + 1,
		    sizeof *tc->files);
		tc->files[tc->nfiles++] = xstrdup(file);
	}
	render_walk(tmpl, NULL, tmpl_check_one, &w);
}
