/*
 * Replay a fuzz target over files without libFuzzer: every file named on
 * the command line, or every file of a folder named there, or with no
 * argument, every file of $top_srcdir/tests/fuzz/corpus/FUZZ_NAME. Used by
 * make check, so that the corpus (regressions included) is run on every
 * build, under the sanitizers and valgrind too.
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "insight/insight.h"
#include "fuzz.h"

#ifndef FUZZ_NAME
#error "FUZZ_NAME: define it as the target's name"
#endif

static int	replay_count;

/* Run the target over one file. */
static int
replay_file(const char *path)
{
	FILE	*f;
	uint8_t	*data;
	long	 len;

	if ((f = fopen(path, "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 ||
	    (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "replay: cannot read %s\n", path);
		if (f != NULL)
			fclose(f);
		return -1;
	}
	/* A private copy, exactly len bytes: overreads are caught. */
	data = xmalloc(len);
	if (len > 0 && fread(data, 1, len, f) != (size_t)len) {
		fprintf(stderr, "replay: cannot read %s\n", path);
		fclose(f);
		free(data);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(data, len);
	free(data);
	replay_count++;
	return 0;
}

/* Compare names for qsort. */
static int
replay_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run the target over a file, or over every file of a folder, in order. */
static int
replay_path(const char *path)
{
	struct stat	 sb;
	struct dirent	*de;
	DIR		*d;
	char		**names = NULL;
	int		 n = 0, rc = 0;

	if (stat(path, &sb) != 0) {
		fprintf(stderr, "replay: no %s\n", path);
		return -1;
	}
	if (!S_ISDIR(sb.st_mode))
		return replay_file(path);
	if ((d = opendir(path)) == NULL) {
		fprintf(stderr, "replay: cannot open %s\n", path);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		names = xreallocarray(names, n + 1, sizeof *names);
		names[n++] = xprintf("%s/%s", path, de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof *names, replay_cmp);
	for (int i = 0; i < n; i++) {
		if (replay_path(names[i]) != 0)
			rc = -1;
		free(names[i]);
	}
	free(names);
	return rc;
}

int
main(int argc, char **argv)
{
	const char	*top = getenv("top_srcdir");
	char		*dir;
	int		 rc = 0;

	LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			if (replay_path(argv[i]) != 0)
				rc = 1;
	} else {
		dir = xprintf("%s/tests/fuzz/corpus/%s", top != NULL ? top : ".",
		    FUZZ_NAME);
		rc = replay_path(dir) != 0;
		free(dir);
	}
	printf("replay %s: %d input%s%s\n", FUZZ_NAME, replay_count,
	    replay_count == 1 ? "" : "s", rc ? ", some unreadable" : "");
	if (replay_count == 0)
		rc = 1;
	return rc;
}
