/*
 * replay: run one harness over files, without libFuzzer, so that every
 * regression input and seed of tests/fuzz runs in the ordinary test
 * suite of every build (gcc included; under ASan+UBSan in build-san).
 *
 *	replay-NAME PATH...
 *
 * Each PATH is a file or a folder whose regular files (not recursively,
 * in name order, dot files skipped) are run; a folder that does not
 * exist counts as empty, since git keeps no empty regress/NAME. Each
 * input goes to the harness in a buffer of exactly its size, as
 * libFuzzer gives it. Output is TAP, the input's name printed before it
 * runs, so that the log of a crash names the input that caused it, and
 * the peak RSS of the whole replay at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Larger than any -max_len of a harness. */
#define MAX_FILE (64L * 1024 * 1024)

static int n;

static int
run_file(const char *path)
{
	FILE *f;
	uint8_t *buf;
	long len;

	if ((f = fopen(path, "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 ||
	    (len = ftell(f)) < 0 || len > MAX_FILE ||
	    fseek(f, 0, SEEK_SET) != 0) {
		printf("not ok %d - %s: %s\n", ++n, path,
		    f == NULL ? strerror(errno) : "cannot read or too large");
		if (f != NULL)
			fclose(f);
		return 1;
	}
	/* malloc(0) may return NULL; the harness must not read it anyway */
	if ((buf = malloc(len > 0 ? (size_t)len : 1)) == NULL ||
	    fread(buf, 1, (size_t)len, f) != (size_t)len) {
		printf("not ok %d - %s: cannot read\n", ++n, path);
		free(buf);
		fclose(f);
		return 1;
	}
	fclose(f);
	printf("# %s (%ld bytes)\n", path, len);
	fflush(stdout);
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	free(buf);
	printf("ok %d - %s\n", ++n, path);
	fflush(stdout);
	return 0;
}

static int
skip_dot(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static int
run_path(const char *path)
{
	struct dirent **v;
	struct stat st;
	char sub[4096];
	int i, k, bad = 0;

	if (stat(path, &st) == -1) {
		if (errno == ENOENT) {
			printf("# %s: none\n", path);
			return 0;
		}
		printf("not ok %d - %s: %s\n", ++n, path, strerror(errno));
		return 1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path);
	if ((k = scandir(path, &v, skip_dot, alphasort)) < 0) {
		printf("not ok %d - %s: %s\n", ++n, path, strerror(errno));
		return 1;
	}
	for (i = 0; i < k; i++) {
		if (snprintf(sub, sizeof(sub), "%s/%s", path, v[i]->d_name) >=
		    (int)sizeof(sub))
			bad |= 1;
		else if (stat(sub, &st) == 0 && S_ISREG(st.st_mode))
			bad |= run_file(sub);
		free(v[i]);
	}
	free(v);
	return bad;
}

int
main(int argc, char **argv)
{
	struct rusage ru;
	int i, bad = 0;

	for (i = 1; i < argc; i++)
		bad |= run_path(argv[i]);
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		printf("# peak RSS %ld MB\n", ru.ru_maxrss / 1024);
	printf("1..%d\n", n);
	return bad;
}
