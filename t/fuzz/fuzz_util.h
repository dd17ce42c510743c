/*
 * fuzz_util - what the libFuzzer harnesses of t/fuzz share
 *
 * A per-process scratch directory (made once under $TMPDIR, removed at
 * exit; t/fuzz/run.sh also points TMPDIR at a directory it removes, for
 * the runs that end in a crash), files written into it, and the small
 * readers a harness needs to carve its input into parts.
 */
#ifndef KEYTURN_FUZZ_UTIL_H
#define KEYTURN_FUZZ_UTIL_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	 LLVMFuzzerInitialize(int *, char ***);

/* fz_dir - the scratch directory of this process (0700) */
const char *fz_dir(void);
/* fz_path - fz_dir()/a[/b], malloc'd */
char	*fz_path(const char *a, const char *b);
/* fz_write - path replaced by n bytes of p with mode (open, write) */
void	 fz_write(const char *path, const void *p, size_t n, mode_t mode);
/* fz_mkdir - a directory of mode 0700, fine when it is there */
void	 fz_mkdir(const char *path);
/* fz_rmtree - a directory and everything under it */
void	 fz_rmtree(const char *path);
/* fz_strndup - n bytes and a NUL, malloc'd (the input is no C string) */
char	*fz_strndup(const void *p, size_t n);
/* fz_count - a conf_report_fn that counts the errors reported */
void	 fz_count(const char *msg, void *arg);

/*
 * An input read front to back: a byte, a big-endian 16-bit number, n
 * bytes (fewer at the end), a part up to a separator byte sequence.
 */
struct fz_in {
	const uint8_t	*p;
	size_t		 n;
};

int	 fz_byte(struct fz_in *);		/* 0 at the end */
size_t	 fz_u16(struct fz_in *);		/* 0 at the end */
const uint8_t *fz_take(struct fz_in *, size_t want, size_t *got);
const uint8_t *fz_part(struct fz_in *, const char *sep, size_t *got);

#endif
