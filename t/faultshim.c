/*
 * faultshim - make one file-system call of a program fail, or kill it there
 *
 *	LD_PRELOAD=t/faultshim.so KT_FAULT_DIR=DIR [KT_FAULT_N=N]
 *	    [KT_FAULT_DO=EIO|ENOSPC|EDQUOT|EROFS|KILL|TORN]
 *	    [KT_FAULT_CALLS=fsync,rename,...] [KT_FAULT_LOG=FILE]
 *	    [KT_FAULT_COUNT=FILE] command ...
 *
 * Counts the calls that change files under DIR (an absolute path with no
 * symbolic link in it): open and openat with O_CREAT, write, pwrite,
 * ftruncate, fsync, fdatasync, syncfs, rename, renameat, renameat2, link,
 * linkat, unlink, unlinkat, mkdir, mkdirat, rmdir. A descriptor is mapped
 * to its path through /proc/self/fd. With KT_FAULT_CALLS only the calls
 * named there count. The Nth counted call fails with the errno KT_FAULT_DO
 * names (EIO by default) and does nothing; with KILL the process gets
 * SIGKILL instead of making the call, and with TORN a write or pwrite
 * writes the first half of its bytes and then the process gets SIGKILL (a
 * write cut short), other calls as with KILL. Without KT_FAULT_N nothing
 * fails: the calls are only counted.
 *
 * KT_FAULT_LOG gets one line per counted call as it is made, "N CALL PATH
 * [PATH2]", so that a killed process leaves its steps too; KT_FAULT_COUNT
 * gets the number of counted calls when the process exits. Only the
 * process that loaded the shim first counts: a child it forks does not
 * (KT_FAULT_PID is set to that process).
 *
 * Used by t/keystore_fault.sh and t/keystore_crash.sh.
 */
#define _GNU_SOURCE

#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *fs_dir;	/* NULL: the shim does nothing */
static size_t fs_dirlen;
static const char *fs_calls;
static const char *fs_log;
static const char *fs_countfile;
static long fs_n;		/* 0: count only */
static int fs_errno = EIO;
static int fs_kill;		/* 1: KILL, 2: TORN */
static long fs_count;
static pid_t fs_pid;

/* fs_sys_write - write(2) that the shim itself does not count */
static void
fs_sys_write(int fd, const char *buf, size_t len)
{
	ssize_t w;

	while (len > 0) {
		if ((w = syscall(SYS_write, fd, buf, len)) <= 0)
			return;
		buf += w;
		len -= w;
	}
}

/* fs_errno_parse - a name from the table, or a number */
static int
fs_errno_parse(const char *s)
{
	static const struct {
		const char *name;
		int	 e;
	} tab[] = {
		{ "EIO", EIO }, { "ENOSPC", ENOSPC }, { "EDQUOT", EDQUOT },
		{ "EROFS", EROFS }, { "EACCES", EACCES }, { "EPERM", EPERM },
		{ "ENOMEM", ENOMEM }, { "EINTR", EINTR },
	};
	size_t i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcmp(s, tab[i].name) == 0)
			return tab[i].e;
	return atoi(s) > 0 ? atoi(s) : EIO;
}

/* fs_done - the count, for a test that needs to know how many steps */
static void
fs_done(void)
{
	char buf[32];
	int fd;

	if (fs_dir == NULL || fs_countfile == NULL || getpid() != fs_pid)
		return;
	fd = syscall(SYS_openat, AT_FDCWD, fs_countfile,
	    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1)
		return;
	snprintf(buf, sizeof(buf), "%ld\n", fs_count);
	fs_sys_write(fd, buf, strlen(buf));
	close(fd);
}

__attribute__((constructor)) static void
fs_init(void)
{
	const char *v, *pid;
	char buf[32];

	if ((v = getenv("KT_FAULT_DIR")) == NULL || *v != '/')
		return;
	/* a child of the counted process (a hook it runs) stays out */
	if ((pid = getenv("KT_FAULT_PID")) != NULL && atol(pid) != getpid())
		return;
	fs_pid = getpid();
	snprintf(buf, sizeof(buf), "%ld", (long)fs_pid);
	setenv("KT_FAULT_PID", buf, 1);
	fs_dir = v;
	fs_dirlen = strlen(v);
	while (fs_dirlen > 1 && fs_dir[fs_dirlen - 1] == '/')
		fs_dirlen--;
	fs_calls = getenv("KT_FAULT_CALLS");
	fs_log = getenv("KT_FAULT_LOG");
	fs_countfile = getenv("KT_FAULT_COUNT");
	if ((v = getenv("KT_FAULT_N")) != NULL)
		fs_n = atol(v);
	if ((v = getenv("KT_FAULT_DO")) != NULL) {
		if (strcmp(v, "KILL") == 0)
			fs_kill = 1;
		else if (strcmp(v, "TORN") == 0)
			fs_kill = 2;
		else
			fs_errno = fs_errno_parse(v);
	}
	atexit(fs_done);
}

/* fs_real - the next definition of a symbol, the libc one */
static void *
fs_real(const char *name)
{
	void *f;

	if ((f = dlsym(RTLD_NEXT, name)) == NULL)
		abort();
	return f;
}

/* fs_under - is path (absolute, or relative to dirfd) under the dir? */
static int
fs_under(int dirfd, const char *path, char *abs, size_t abslen)
{
	char link[64], base[PATH_MAX];
	ssize_t n;

	if (path == NULL)
		return 0;
	if (path[0] == '/')
		snprintf(abs, abslen, "%s", path);
	else {
		if (dirfd == AT_FDCWD) {
			if (getcwd(base, sizeof(base)) == NULL)
				return 0;
		} else {
			snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
			if ((n = readlink(link, base, sizeof(base) - 1)) <= 0)
				return 0;
			base[n] = '\0';
		}
		if ((size_t)snprintf(abs, abslen, "%s/%s", base, path) >=
		    abslen)
			return 0;
	}
	return strncmp(abs, fs_dir, fs_dirlen) == 0 &&
	    (abs[fs_dirlen] == '/' || abs[fs_dirlen] == '\0');
}

/* fs_fd_under - the same for the file an open descriptor names */
static int
fs_fd_under(int fd, char *abs, size_t abslen)
{
	char link[64];
	ssize_t n;

	if (fs_dir == NULL || fd < 0)
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, abs, abslen - 1)) <= 0)
		return 0;
	abs[n] = '\0';
	return strncmp(abs, fs_dir, fs_dirlen) == 0 &&
	    (abs[fs_dirlen] == '/' || abs[fs_dirlen] == '\0');
}

/* fs_counted - is this kind of call one the test asked to count? */
static int
fs_counted(const char *call)
{
	const char *p;
	size_t n = strlen(call);

	if (fs_calls == NULL)
		return 1;
	for (p = fs_calls; (p = strstr(p, call)) != NULL; p += n)
		if ((p == fs_calls || p[-1] == ',') &&
		    (p[n] == ',' || p[n] == '\0'))
			return 1;
	return 0;
}

/*
 * fs_step - count one call; 0: make it, -1: fail it (errno set), 1: make
 * a torn write of it. A KILL does not return.
 */
static int
fs_step(const char *call, const char *path, const char *path2)
{
	char line[2 * PATH_MAX + 64];
	int fd;

	if (!fs_counted(call))
		return 0;
	fs_count++;
	if (fs_log != NULL && (fd = syscall(SYS_openat, AT_FDCWD, fs_log,
	    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) != -1) {
		snprintf(line, sizeof(line), "%ld %s %s%s%s\n", fs_count, call,
		    path, path2 ? " " : "", path2 ? path2 : "");
		fs_sys_write(fd, line, strlen(line));
		close(fd);
	}
	if (fs_count != fs_n)
		return 0;
	if (fs_kill == 2 && (strcmp(call, "write") == 0 ||
	    strcmp(call, "pwrite") == 0))
		return 1;
	if (fs_kill)
		raise(SIGKILL);
	errno = fs_errno;
	return -1;
}

/* fs_step_path - fs_step for a call that names a file */
static int
fs_step_path(const char *call, int dirfd, const char *path, int dirfd2,
    const char *path2)
{
	char a[PATH_MAX], b[PATH_MAX];
	int in1, in2 = 0;

	if (fs_dir == NULL)
		return 0;
	in1 = fs_under(dirfd, path, a, sizeof(a));
	if (path2 != NULL)
		in2 = fs_under(dirfd2, path2, b, sizeof(b));
	if (!in1 && !in2)
		return 0;
	return fs_step(call, in1 ? a : b, in1 && in2 ? b : NULL);
}

/* fs_step_fd - fs_step for a call on a descriptor */
static int
fs_step_fd(const char *call, int fd)
{
	char a[PATH_MAX];

	if (!fs_fd_under(fd, a, sizeof(a)))
		return 0;
	return fs_step(call, a, NULL);
}

/* fs_mode - the mode argument of an open that creates */
#define FS_MODE(flags, ap, mode) do {					\
	if ((flags) & (O_CREAT | __O_TMPFILE)) {			\
		va_start(ap, flags);					\
		mode = va_arg(ap, int);					\
		va_end(ap);						\
	}								\
} while (0)

#define FS_OPEN(name, realname)						\
int									\
name(const char *path, int flags, ...)					\
{									\
	static int (*real)(const char *, int, ...);			\
	va_list ap;							\
	int mode = 0;							\
									\
	if (real == NULL)						\
		*(void **)&real = fs_real(realname);			\
	FS_MODE(flags, ap, mode);					\
	if ((flags & O_CREAT) &&					\
	    fs_step_path("open", AT_FDCWD, path, AT_FDCWD, NULL) != 0)	\
		return -1;						\
	return real(path, flags, mode);					\
}

#define FS_OPENAT(name, realname)					\
int									\
name(int dirfd, const char *path, int flags, ...)			\
{									\
	static int (*real)(int, const char *, int, ...);		\
	va_list ap;							\
	int mode = 0;							\
									\
	if (real == NULL)						\
		*(void **)&real = fs_real(realname);			\
	FS_MODE(flags, ap, mode);					\
	if ((flags & O_CREAT) &&					\
	    fs_step_path("open", dirfd, path, AT_FDCWD, NULL) != 0)	\
		return -1;						\
	return real(dirfd, path, flags, mode);				\
}

FS_OPEN(open, "open")
FS_OPEN(open64, "open64")
FS_OPENAT(openat, "openat")
FS_OPENAT(openat64, "openat64")

/* the descriptor calls: (name, argument list, argument names) */
#define FS_FDCALL(name, proto, args)					\
int									\
name proto								\
{									\
	static int (*real) proto;					\
									\
	if (real == NULL)						\
		*(void **)&real = fs_real(#name);			\
	if (fs_step_fd(#name, fd) != 0)					\
		return -1;						\
	return real args;						\
}

FS_FDCALL(fsync, (int fd), (fd))
FS_FDCALL(fdatasync, (int fd), (fd))
FS_FDCALL(syncfs, (int fd), (fd))
FS_FDCALL(ftruncate, (int fd, off_t len), (fd, len))
FS_FDCALL(ftruncate64, (int fd, off64_t len), (fd, len))

/* fs_write - write and pwrite: a torn write is half of it, then the end */
static ssize_t
fs_write(const char *call, int fd, const void *buf, size_t len, off_t off,
    ssize_t (*wr)(int, const void *, size_t),
    ssize_t (*pwr)(int, const void *, size_t, off_t))
{
	int r = fs_step_fd(call, fd);

	if (r == -1)
		return -1;
	if (r == 1) {
		len /= 2;
		if (len > 0)
			(void)(wr ? wr(fd, buf, len) : pwr(fd, buf, len, off));
		raise(SIGKILL);
	}
	return wr ? wr(fd, buf, len) : pwr(fd, buf, len, off);
}

ssize_t
write(int fd, const void *buf, size_t len)
{
	static ssize_t (*real)(int, const void *, size_t);

	if (real == NULL)
		*(void **)&real = fs_real("write");
	return fs_write("write", fd, buf, len, 0, real, NULL);
}

ssize_t
pwrite(int fd, const void *buf, size_t len, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);

	if (real == NULL)
		*(void **)&real = fs_real("pwrite");
	return fs_write("pwrite", fd, buf, len, off, NULL, real);
}

ssize_t
pwrite64(int fd, const void *buf, size_t len, off64_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off64_t);

	if (real == NULL)
		*(void **)&real = fs_real("pwrite64");
	return fs_write("pwrite", fd, buf, len, off, NULL, real);
}

/* the path calls: (name, counted as, prototype, arguments, paths) */
#define FS_PATHCALL(name, as, proto, args, d1, p1, d2, p2)		\
int									\
name proto								\
{									\
	static int (*real) proto;					\
									\
	if (real == NULL)						\
		*(void **)&real = fs_real(#name);			\
	if (fs_step_path(as, d1, p1, d2, p2) != 0)			\
		return -1;						\
	return real args;						\
}

FS_PATHCALL(rename, "rename", (const char *from, const char *to),
    (from, to), AT_FDCWD, from, AT_FDCWD, to)
FS_PATHCALL(renameat, "rename",
    (int fd1, const char *from, int fd2, const char *to),
    (fd1, from, fd2, to), fd1, from, fd2, to)
FS_PATHCALL(renameat2, "rename",
    (int fd1, const char *from, int fd2, const char *to, unsigned fl),
    (fd1, from, fd2, to, fl), fd1, from, fd2, to)
FS_PATHCALL(link, "link", (const char *from, const char *to),
    (from, to), AT_FDCWD, from, AT_FDCWD, to)
FS_PATHCALL(linkat, "link",
    (int fd1, const char *from, int fd2, const char *to, int fl),
    (fd1, from, fd2, to, fl), fd1, from, fd2, to)
FS_PATHCALL(unlink, "unlink", (const char *path), (path), AT_FDCWD, path,
    AT_FDCWD, NULL)
FS_PATHCALL(unlinkat, "unlink", (int fd, const char *path, int fl),
    (fd, path, fl), fd, path, AT_FDCWD, NULL)
FS_PATHCALL(mkdir, "mkdir", (const char *path, mode_t mode), (path, mode),
    AT_FDCWD, path, AT_FDCWD, NULL)
FS_PATHCALL(mkdirat, "mkdir", (int fd, const char *path, mode_t mode),
    (fd, path, mode), fd, path, AT_FDCWD, NULL)
FS_PATHCALL(rmdir, "rmdir", (const char *path), (path), AT_FDCWD, path,
    AT_FDCWD, NULL)
