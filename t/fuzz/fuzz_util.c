/*
 * fuzz_util - scratch files and input carving for the harnesses (see
 * fuzz_util.h). Failures of the harness itself abort: a fuzzer that
 * cannot write its files must not report "no finding".
 */
#include "config.h"

#include <sys/stat.h>

#include <err.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "store.h"

static char *fz_scratch;

/* fz_unlink - one entry of the tree being removed */
static int
fz_unlink(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
fz_rmtree(const char *path)
{
	(void)nftw(path, fz_unlink, 16, FTW_DEPTH | FTW_PHYS);
}

/* fz_cleanup - at exit; a crash leaves the directory to run.sh */
static void
fz_cleanup(void)
{
	if (fz_scratch != NULL)
		fz_rmtree(fz_scratch);
}

const char *
fz_dir(void)
{
	const char *t = getenv("TMPDIR");
	char *p;

	if (fz_scratch != NULL)
		return fz_scratch;
	if (t == NULL || *t == '\0')
		t = "/tmp";
	if (asprintf(&p, "%s/ktfuzz.XXXXXX", t) == -1 || mkdtemp(p) == NULL)
		err(1, "fuzz: scratch directory under %s", t);
	fz_scratch = p;
	atexit(fz_cleanup);
	return fz_scratch;
}

char *
fz_path(const char *a, const char *b)
{
	char *p;

	if (asprintf(&p, "%s/%s%s%s", fz_dir(), a, b ? "/" : "",
	    b ? b : "") == -1)
		abort();
	return p;
}

void
fz_write(const char *path, const void *p, size_t n, mode_t mode)
{
	const char *c = p;
	ssize_t w;
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, mode)) == -1 || fchmod(fd, mode) == -1)
		err(1, "fuzz: %s", path);
	while (n > 0) {
		if ((w = write(fd, c, n)) <= 0)
			err(1, "fuzz: write %s", path);
		c += w;
		n -= (size_t)w;
	}
	close(fd);
}

void
fz_mkdir(const char *path)
{
	struct stat st;

	if (mkdir(path, 0700) == -1 && (stat(path, &st) == -1 ||
	    !S_ISDIR(st.st_mode)))
		err(1, "fuzz: mkdir %s", path);
}

char *
fz_strndup(const void *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

void
fz_count(const char *msg, void *arg)
{
	(void)msg;
	(*(int *)arg)++;
}

int
fz_byte(struct fz_in *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

size_t
fz_u16(struct fz_in *in)
{
	size_t hi = (size_t)fz_byte(in);

	return hi << 8 | (size_t)fz_byte(in);
}

const uint8_t *
fz_take(struct fz_in *in, size_t want, size_t *got)
{
	const uint8_t *p = in->p;

	*got = want < in->n ? want : in->n;
	in->p += *got;
	in->n -= *got;
	return p;
}

const uint8_t *
fz_part(struct fz_in *in, const char *sep, size_t *got)
{
	const uint8_t *p = in->p;
	size_t k = strlen(sep), i;

	for (i = 0; i + k <= in->n; i++)
		if (memcmp(in->p + i, sep, k) == 0) {
			*got = i;
			in->p += i + k;
			in->n -= i + k;
			return p;
		}
	*got = in->n;
	in->p += in->n;
	in->n = 0;
	return p;
}
