/*
 * storefile - reading, checking and replacing keystore files
 *
 * Every file is opened without following symlinks and checked on its open
 * descriptor (fstat), the OpenSMTPD way: owned by the effective user, not
 * writable by group or other, and for a private key no group or other bit
 * at all. Replacement is temporary file, fsync, rename, fsync of the
 * directory, so a crash leaves the old or the new file, never a mix.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_int.h"
#include "xmalloc.h"

#define SFILE_MAX	(64 * 1024 * 1024)

/* sfile_check_stat - owner and mode rules shared by files and directories */
static int
sfile_check_stat(uid_t owner, const char *path, const struct stat *st,
    int secret, char *err, size_t errlen)
{
	mode_t bad = secret ? 077 : 022;

	if (st->st_uid != owner) {
		snprintf(err, errlen, "%s: owned by uid %lu, not by uid %lu "
		    "that runs keyturn: run as the keystore's owner or chown "
		    "it", path, (unsigned long)st->st_uid,
		    (unsigned long)owner);
		return -1;
	}
	if (st->st_mode & bad) {
		snprintf(err, errlen, "%s: mode %04o gives %s access%s: "
		    "chmod %s it", path, (unsigned)(st->st_mode & 07777),
		    secret ? "group/other" : "group/other write",
		    secret ? " to a private key, refused" : "",
		    S_ISDIR(st->st_mode) ? "700" : secret ? "600" : "go-w");
		return -1;
	}
	return 0;
}

/* sfile_check_dir - a keystore directory: ours, 0700 */
int
sfile_check_dir(uid_t owner, const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(path, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", path);
		return -1;
	}
	return sfile_check_stat(owner, path, &st, 1, err, errlen);
}

/* sfile_read_fd - the whole file into a NUL-terminated buffer */
static int
sfile_read_fd(const char *path, int fd, size_t size, char **buf, size_t *len,
    char *err, size_t errlen)
{
	size_t off = 0;
	ssize_t r;
	char *b = xmalloc(size + 1);

	while (off < size) {
		if ((r = read(fd, b + off, size - off)) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			sfile_wipe_free(b, size + 1);
			return -1;
		}
		if (r == 0)
			break;
		off += r;
	}
	b[off] = '\0';
	*buf = b;
	*len = off;
	return 0;
}

/*
 * sfile_read - read a keystore file after checking it on its descriptor;
 * -2 when it does not exist and SFILE_OPTIONAL
 */
int
sfile_read(uid_t owner, const char *path, int flags, char **buf, size_t *len,
    struct stat *stp, char *err, size_t errlen)
{
	struct stat st;
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno == ENOENT && (flags & SFILE_OPTIONAL))
			return -2;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_size > SFILE_MAX) {
		snprintf(err, errlen, "%s: too large (%lld bytes)", path,
		    (long long)st.st_size);
		close(fd);
		return -1;
	}
	if (sfile_check_stat(owner, path, &st, flags & SFILE_SECRET, err,
	    errlen) == -1) {
		close(fd);
		return -1;
	}
	r = sfile_read_fd(path, fd, st.st_size, buf, len, err, errlen);
	close(fd);
	if (r == 0 && stp != NULL)
		*stp = st;
	return r;
}

/*
 * A batch: while it runs in this thread, files are written and renamed
 * without an fsync each, and sfile_batch_end makes them all durable with
 * one syncfs(2). For writes that are redone whole when a crash cuts them
 * short (the first fill of a fleet's mirror, which is only marked done
 * once the batch is durable); tens of thousands of fsyncs are minutes.
 */
static __thread int sfile_nosync;

void
sfile_batch_begin(void)
{
	sfile_nosync = 1;
}

int
sfile_batch_end(const char *dir, char *err, size_t errlen)
{
	int fd, r = 0;

	sfile_nosync = 0;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    syncfs(fd) == -1) {
		snprintf(err, errlen, "%s: syncfs: %s", dir, strerror(errno));
		r = -1;
	}
	if (fd != -1)
		close(fd);
	return r;
}

/* sfile_fsync_dir - make a rename or a new entry in dir durable */
int
sfile_fsync_dir(const char *dir, char *err, size_t errlen)
{
	int fd;

	if (sfile_nosync)
		return 0;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (fsync(fd) == -1 && errno != EINVAL) {
		snprintf(err, errlen, "%s: fsync: %s", dir, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* sfile_mkdir - a 0700 directory, made durable in its parent */
int
sfile_mkdir(const char *path, char *err, size_t errlen)
{
	char *copy;
	int r;

	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (chmod(path, 0700) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	copy = xstrdup(path);
	r = sfile_fsync_dir(dirname(copy), err, errlen);
	free(copy);
	return r;
}

/* sfile_write_all - write(2) until done */
static int
sfile_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t w;

	while (len > 0) {
		if ((w = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= w;
	}
	return 0;
}

/*
 * sfile_replace - the one way a keystore file changes; *renamed says
 * whether the new content is in place, even when a later step failed
 */
int
sfile_replace(const char *path, const void *data, size_t len, mode_t mode,
    int *renamed, char *err, size_t errlen)
{
	char *tmp, *copy;
	int fd, r;

	*renamed = 0;
	tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	if (fchmod(fd, mode) == -1 || sfile_write_all(fd, data, len) == -1 ||
	    (!sfile_nosync && fsync(fd) == -1)) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		free(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	*renamed = 1;
	copy = xstrdup(path);
	r = sfile_fsync_dir(dirname(copy), err, errlen);
	free(copy);
	return r;
}

/* store_file_replace - sfile_replace for callers that only need a status */
int
store_file_replace(const char *path, const void *data, size_t len,
    mode_t mode, char *err, size_t errlen)
{
	int renamed;

	return sfile_replace(path, data, len, mode, &renamed, err, errlen);
}

/* sfile_rmtree - remove a directory we own and everything in it */
void
sfile_rmtree(const char *path)
{
	DIR *d;
	struct dirent *de;
	struct stat st;
	char *sub;

	if (lstat(path, &st) == -1)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	if ((d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			sub = xasprintf("%s/%s", path, de->d_name);
			sfile_rmtree(sub);
			free(sub);
		}
		closedir(d);
	}
	rmdir(path);
}

/* sfile_wipe_free - free a buffer that may have held key material */
void
sfile_wipe_free(char *buf, size_t len)
{
	if (buf == NULL)
		return;
	explicit_bzero(buf, len);
	free(buf);
}

/*
 * sfile_clean_top - what writes that died left at the keystore's top: the
 * temporary files of its own files (generation, journal) and the aside
 * directory of a domain being added; only under the lock, where no live
 * writer can own one. A domain's own directory is never touched.
 */
void
sfile_clean_top(const char *dir)
{
	DIR *d;
	struct dirent *de;
	struct stat st;
	char *p;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, ".new-", 5) != 0 &&
		    strstr(de->d_name, ".tmp.") == NULL)
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		if (strncmp(de->d_name, ".new-", 5) == 0)
			sfile_rmtree(p);
		else if (lstat(p, &st) == 0 && S_ISREG(st.st_mode))
			(void)unlink(p);
		free(p);
	}
	closedir(d);
}

/*
 * sfile_clean_tmp - remove the temporary files of writes that died; only
 * under the lock, where no live writer can own one
 */
void
sfile_clean_tmp(const char *dir)
{
	DIR *d;
	struct dirent *de;
	char *p;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ".tmp.") == NULL)
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		(void)unlink(p);
		free(p);
	}
	closedir(d);
}
