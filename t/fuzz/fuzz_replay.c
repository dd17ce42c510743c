/*
 * fuzz_replay - a harness of t/fuzz without libFuzzer: its saved inputs
 * run once each, so that a finding reruns under gdb or valgrind with the
 * ordinary toolchain, and the seed corpora run in make check
 * (t/fuzz/corpora.sh).
 *
 *	fuzz_NAME FILE|DIR...
 *
 * A directory stands for the files in it. LLVMFuzzerInitialize runs
 * first when the harness has one. Exit 0 when every input ran (a finding
 * aborts).
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"

int	LLVMFuzzerInitialize(int *, char ***) __attribute__((weak));

/* replay_file - one input */
static void
replay_file(const char *path)
{
	char buf[65536], *p = NULL;
	size_t n, len = 0;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL)
		err(1, "%s", path);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if ((p = realloc(p, len + n)) == NULL)
			err(1, "%s", path);
		memcpy(p + len, buf, n);
		len += n;
	}
	if (ferror(f))
		err(1, "%s", path);
	fclose(f);
	LLVMFuzzerTestOneInput((const uint8_t *)(p ? p : ""), len);
	free(p);
}

/* replay_path - a file, or every file of a directory */
static void
replay_path(const char *path)
{
	struct dirent *de;
	struct stat st;
	char *sub;
	DIR *d;

	if (stat(path, &st) == -1)
		err(1, "%s", path);
	if (!S_ISDIR(st.st_mode)) {
		replay_file(path);
		return;
	}
	if ((d = opendir(path)) == NULL)
		err(1, "%s", path);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (asprintf(&sub, "%s/%s", path, de->d_name) == -1)
			err(1, "asprintf");
		replay_file(sub);
		free(sub);
	}
	closedir(d);
}

int
main(int argc, char *argv[])
{
	int i;

	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++)
		replay_path(argv[i]);
	return 0;
}
