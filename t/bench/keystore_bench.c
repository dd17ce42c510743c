/*
 * keystore_bench - a provider's keystore, built once, and what reading it
 * costs
 *
 * SYNOPSIS
 *	keystore_bench [-n DOMAINS] [-k CACHE] [-j THREADS]
 *	keystore_bench -B [-n DOMAINS] [-k CACHE] [-j THREADS]
 *	keystore_bench -w [-n DOMAINS] [-k CACHE]
 *	keystore_bench -r [-n DOMAINS] [-k CACHE] DOMAIN...
 *
 * DESCRIPTION
 *	The fixture is a keystore of DOMAINS domains (default 10,000) named
 *	d0.bench.example, d1.bench.example, ..., each with an active RSA-2048
 *	key, a ready RSA-2048 key (the standby an emergency swap promotes)
 *	and an active Ed25519 key. It lives in CACHE/DOMAINS/ks, CACHE being
 *	-k, else $KEYTURN_BENCH_CACHE, else /var/tmp/keyturn-bench, and is
 *	built once: CACHE/DOMAINS/fixture, written last, says it is complete,
 *	and a later run reuses it. A build that was interrupted resumes where
 *	CACHE/DOMAINS/progress says every domain before was written.
 *
 *	d0 is made through the library (store_domain_add, store_key_new,
 *	store_apply); every other domain is a copy of its files (generating
 *	three million RSA keys would take days), written by THREADS threads
 *	(default 4) with one openat(2) per file relative to descriptors of
 *	the domain's directories, and made durable by one syncfs(2) before
 *	the marker. The loader still reads and checks every file and parses
 *	every private key it is asked for. The key files are copies, not
 *	hard links: keyturn's file checks (keystore/storefile.c: no symbolic
 *	link, a regular file, owned by the effective user, no group or other
 *	access to a key) do not look at the link count today, so links would
 *	load, but one inode shared by thousands of domains would put a single
 *	page in the page cache where a real keystore has one per domain and
 *	key, which would flatter the first message of a cold domain; ext4
 *	allows 65,000 links per inode anyway, and a check refusing linked key
 *	files (as Postfix's safe_open does) would void the fixture. One
 *	domain takes two directories and six files, about 32 kB of disk.
 *
 *	Beside the keystore: CACHE/DOMAINS/template holds d0's files as built,
 *	for -r; CACHE/DOMAINS/opendkim.keytable and opendkim.signingtable sign
 *	every domain with its active RSA key, one entry per domain, for
 *	OpenDKIM; CACHE/DOMAINS/fixture says, one "name value" per line:
 *	domains, names (with % for the number), keystore, active-rsa,
 *	ready-rsa, active-ed (the three selectors), build-seconds,
 *	disk-bytes, inodes.
 *
 *	Without a mode it measures, with the files in the page cache:
 *	  - a full snapshot with the active keys parsed (what a keyturnd that
 *	    reads the whole keystore at start loads), its time and memory;
 *	  - the same with every key parsed;
 *	  - a reload when nothing changed;
 *	  - a reload after one domain rotated (the swap ready -> active,
 *	    oldest active -> retiring), which must parse that one domain only;
 *	    the domain is then put back as built.
 *	Memory is the heap in use (mallinfo2) and the growth of the resident
 *	set. Each snapshot parses every domain: at a million domains that is
 *	minutes and gigabytes, which is why keyturnd does not.
 *
 *	-B only builds (or finds) the fixture and prints what it is.
 *	-w times a walk of the keystore: the sorted list of its domains
 *	(store_domain_names) and a stat of each domain's policy and state
 *	files, what noticing a change costs when it is found by looking at
 *	every domain; twice, since the first may find the inodes out of the
 *	cache; wall time and this process's CPU time.
 *	-r puts each DOMAIN back as built (policy, state, history and keys
 *	from the template; other key files removed), after a benchmark that
 *	changed it. It writes behind the keystore's back (no lock, no journal
 *	line, no generation): only while no keyturnd runs on it.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

#define CACHE_DEFAULT	"/var/tmp/keyturn-bench"
#define NAMES		"d%.bench.example"
#define CHUNK		1000		/* domains a thread takes at once */
#define NFILES		6

/* One file of the template domain, held in memory. */
struct tfile {
	const char	*dir;		/* "" or "keys" */
	char		 name[80];
	char		*data;
	size_t		 len;
};

/* The fixture, and the build's shared state. */
struct fixture {
	char		 dir[256];	/* CACHE/DOMAINS */
	char		 ks[272];	/* CACHE/DOMAINS/ks */
	unsigned long	 n;
	char		 sel[3][64];	/* active rsa, ready rsa, active ed */
	struct tfile	 files[NFILES];
	int		 ksfd;
	atomic_ulong	 next;		/* next chunk to build */
	pthread_mutex_t	 lock;
	unsigned char	*done;		/* per chunk */
	unsigned long	 prefix;	/* chunks done before it, all of them */
	int		 progfd;
};

static char e[1024];

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* cpu_ms - this process's user and system time */
static double
cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* rss_kb - resident set size of this process */
static long
rss_kb(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f != NULL) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* domain_name - domain i of the fixture */
static void
domain_name(unsigned long i, char *buf, size_t size)
{
	snprintf(buf, size, "d%lu.bench.example", i);
}

/* slurp - a whole small file */
static char *
slurp(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	int fd;

	if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &st) == -1)
		err(1, "%s", path);
	buf = malloc(st.st_size + 1);
	if (buf == NULL)
		err(1, NULL);
	if (read(fd, buf, st.st_size) != st.st_size)
		err(1, "%s", path);
	close(fd);
	*len = st.st_size;
	return buf;
}

/* put - write a file relative to dirfd: created or truncated, 0600 */
static void
put(int dirfd, const char *name, const char *data, size_t len,
    const char *what)
{
	int fd;

	if ((fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1)
		err(1, "%s/%s", what, name);
	if (write(fd, data, len) != (ssize_t)len)
		err(1, "%s/%s", what, name);
	close(fd);
}

/* subdir - open dirfd/name, made 0700 if missing */
static int
subdir(int dirfd, const char *name, const char *what)
{
	int fd;

	if (mkdirat(dirfd, name, 0700) == -1 && errno != EEXIST)
		err(1, "%s/%s", what, name);
	if ((fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		err(1, "%s/%s", what, name);
	return fd;
}

/* template - the first domain, made through the library */
static void
template(struct store *s, const char *name, char sel[3][64])
{
	struct store_policy p;
	struct store_change c[3];
	time_t t = time(NULL) - 86400;

	store_policy_default(&p);
	p.algs |= STORE_ALGBIT(STORE_ALG_ED25519);
	p.active_keys = 1;
	if (store_domain_add(s, name, &p, t, e, sizeof(e)) == -1 ||
	    store_key_new(s, name, STORE_ALG_RSA, 2048, NULL, t, "bench",
	    sel[0], 64, e, sizeof(e)) == -1 ||
	    store_key_new(s, name, STORE_ALG_RSA, 2048, NULL, t, "bench",
	    sel[1], 64, e, sizeof(e)) == -1 ||
	    store_key_new(s, name, STORE_ALG_ED25519, 0, NULL, t, "bench",
	    sel[2], 64, e, sizeof(e)) == -1)
		errx(1, "%s", e);
	c[0] = (struct store_change){ sel[0], STORE_PENDING, STORE_ACTIVE,
	    "bench" };
	c[1] = (struct store_change){ sel[1], STORE_PENDING, STORE_READY,
	    "bench" };
	c[2] = (struct store_change){ sel[2], STORE_PENDING, STORE_ACTIVE,
	    "bench" };
	if (store_apply(s, name, c, 3, t, STORE_FORCE, e, sizeof(e)) == -1)
		errx(1, "%s", e);
}

/* tfiles_init - the names of the template's files */
static void
tfiles_init(struct fixture *f)
{
	static const char *const top[] = { "policy", "state", "history" };
	int i;

	for (i = 0; i < 3; i++) {
		f->files[i].dir = "";
		snprintf(f->files[i].name, sizeof(f->files[i].name), "%s",
		    top[i]);
		f->files[3 + i].dir = "keys";
		snprintf(f->files[3 + i].name, sizeof(f->files[3 + i].name),
		    "%s.pem", f->sel[i]);
	}
}

/* tfiles_load - the template's files into memory, from dir */
static void
tfiles_load(struct fixture *f, const char *dir)
{
	char path[1200];
	int i;

	for (i = 0; i < NFILES; i++) {
		snprintf(path, sizeof(path), "%s/%s%s%s", dir, f->files[i].dir,
		    *f->files[i].dir ? "/" : "", f->files[i].name);
		f->files[i].data = slurp(path, &f->files[i].len);
	}
}

/* domain_write - one domain's files, relative to the keystore */
static void
domain_write(struct fixture *f, int ksfd, const char *name)
{
	int dfd, kfd, i;

	dfd = subdir(ksfd, name, f->ks);
	kfd = subdir(dfd, "keys", name);
	for (i = 0; i < NFILES; i++)
		put(*f->files[i].dir ? kfd : dfd, f->files[i].name,
		    f->files[i].data, f->files[i].len, name);
	close(kfd);
	close(dfd);
}

/* progress_note - chunk c is written; move the resumable prefix */
static void
progress_note(struct fixture *f, unsigned long c)
{
	unsigned long nchunks = (f->n + CHUNK - 1) / CHUNK, old;
	char buf[32];
	int len;

	pthread_mutex_lock(&f->lock);
	f->done[c] = 1;
	old = f->prefix;
	while (f->prefix < nchunks && f->done[f->prefix])
		f->prefix++;
	if (f->prefix != old) {
		len = snprintf(buf, sizeof(buf), "%lu\n", f->prefix * CHUNK);
		if (ftruncate(f->progfd, 0) == -1 ||
		    pwrite(f->progfd, buf, len, 0) != len)
			err(1, "%s/progress", f->dir);
	}
	pthread_mutex_unlock(&f->lock);
}

/* builder - a thread writing chunks of domains until none are left */
static void *
builder(void *arg)
{
	struct fixture *f = arg;
	unsigned long nchunks = (f->n + CHUNK - 1) / CHUNK, c, i, end;
	char name[64];

	while ((c = f->next++) < nchunks) {
		end = (c + 1) * CHUNK < f->n ? (c + 1) * CHUNK : f->n;
		for (i = c * CHUNK; i < end; i++) {
			if (i == 0)
				continue;	/* the template itself */
			domain_name(i, name, sizeof(name));
			domain_write(f, f->ksfd, name);
		}
		progress_note(f, c);
	}
	return NULL;
}

/* sel_write - the template's selectors, for a build that resumes */
static void
sel_write(struct fixture *f, const char *path)
{
	FILE *fp;

	if ((fp = fopen(path, "w")) == NULL)
		err(1, "%s", path);
	fprintf(fp, "%s\n%s\n%s\n", f->sel[0], f->sel[1], f->sel[2]);
	if (fclose(fp) == EOF)
		err(1, "%s", path);
}

/* sel_read - 0, or -1 when there is no complete template */
static int
sel_read(struct fixture *f, const char *path)
{
	FILE *fp;
	int i;

	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	for (i = 0; i < 3; i++)
		if (fscanf(fp, "%63s", f->sel[i]) != 1) {
			fclose(fp);
			return -1;
		}
	fclose(fp);
	return 0;
}

/* template_make - a new keystore with d0, and its files kept aside */
static void
template_make(struct fixture *f)
{
	char tdir[1024], from[1100], cmd[1100];
	struct store *s;
	int tfd, i;

	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s/template'", f->ks, f->dir);
	if (system(cmd) != 0)
		errx(1, "%s failed", cmd);
	if (store_init(f->ks, e, sizeof(e)) == -1 ||
	    (s = store_open(f->ks, 0, e, sizeof(e))) == NULL)
		errx(1, "%s", e);
	template(s, "d0.bench.example", f->sel);
	store_close(s);
	tfiles_init(f);
	snprintf(from, sizeof(from), "%s/d0.bench.example", f->ks);
	tfiles_load(f, from);
	snprintf(tdir, sizeof(tdir), "%s/template", f->dir);
	tfd = subdir(AT_FDCWD, tdir, f->dir);
	domain_write(f, tfd, ".");
	close(tfd);
	for (i = 0; i < NFILES; i++)
		free(f->files[i].data);
	snprintf(from, sizeof(from), "%s/selectors", tdir);
	sel_write(f, from);
}

/* progress_read - where a build that stopped may resume */
static unsigned long
progress_read(struct fixture *f)
{
	char buf[32];
	ssize_t r;

	if ((r = pread(f->progfd, buf, sizeof(buf) - 1, 0)) <= 0)
		return 0;
	buf[r] = '\0';
	return strtoul(buf, NULL, 10);
}

/* opendkim_tables - one KeyTable and one SigningTable entry per domain */
static void
opendkim_tables(struct fixture *f)
{
	char kt[512], st[512], tmp[600], name[64];
	FILE *k, *s;
	unsigned long i;

	snprintf(kt, sizeof(kt), "%s/opendkim.keytable", f->dir);
	snprintf(st, sizeof(st), "%s/opendkim.signingtable", f->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", kt);
	if ((k = fopen(tmp, "w")) == NULL)
		err(1, "%s", tmp);
	for (i = 0; i < f->n; i++) {
		domain_name(i, name, sizeof(name));
		fprintf(k, "%s %s:%s:%s/%s/keys/%s.pem\n", name, name,
		    f->sel[0], f->ks, name, f->sel[0]);
	}
	if (fclose(k) == EOF || rename(tmp, kt) == -1)
		err(1, "%s", kt);
	snprintf(tmp, sizeof(tmp), "%s.tmp", st);
	if ((s = fopen(tmp, "w")) == NULL)
		err(1, "%s", tmp);
	for (i = 0; i < f->n; i++) {
		domain_name(i, name, sizeof(name));
		fprintf(s, "%s %s\n", name, name);
	}
	if (fclose(s) == EOF || rename(tmp, st) == -1)
		err(1, "%s", st);
}

/* domain_disk - bytes and inodes of one built domain (d1, else d0) */
static void
domain_disk(struct fixture *f, unsigned long long *bytes, unsigned *inodes)
{
	char dir[700], path[900];
	struct stat st;
	int i;

	snprintf(dir, sizeof(dir), "%s/d%d.bench.example", f->ks,
	    f->n > 1 ? 1 : 0);
	*bytes = 0;
	*inodes = 0;
	for (i = -2; i < NFILES; i++) {
		if (i == -2)
			snprintf(path, sizeof(path), "%s", dir);
		else if (i == -1)
			snprintf(path, sizeof(path), "%s/keys", dir);
		else
			snprintf(path, sizeof(path), "%s/%s%s%s", dir,
			    f->files[i].dir, *f->files[i].dir ? "/" : "",
			    f->files[i].name);
		if (stat(path, &st) == -1)
			err(1, "%s", path);
		*bytes += (unsigned long long)st.st_blocks * 512;
		(*inodes)++;
	}
}

/* marker_write - the fixture is complete: say what it is, atomically */
static void
marker_write(struct fixture *f, double secs)
{
	char path[512], tmp[600];
	unsigned long long bytes;
	unsigned inodes;
	struct stat st;
	FILE *fp;

	domain_disk(f, &bytes, &inodes);
	if (stat(f->ks, &st) == -1)
		err(1, "%s", f->ks);
	snprintf(path, sizeof(path), "%s/fixture", f->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fp = fopen(tmp, "w")) == NULL)
		err(1, "%s", tmp);
	fprintf(fp, "keyturn-bench-fixture 1\ndomains %lu\nnames %s\n"
	    "keystore %s\nactive-rsa %s\nready-rsa %s\nactive-ed %s\n"
	    "build-seconds %.1f\ndisk-bytes %llu\ninodes %llu\n", f->n, NAMES,
	    f->ks, f->sel[0], f->sel[1], f->sel[2], secs,
	    bytes * f->n + (unsigned long long)st.st_blocks * 512,
	    (unsigned long long)inodes * f->n + 1);
	if (fclose(fp) == EOF || rename(tmp, path) == -1)
		err(1, "%s", path);
}

/* marker_read - 0 when the fixture is complete, its selectors read */
static int
marker_read(struct fixture *f, double *secs)
{
	char path[512], line[700], k[64], v[600];
	unsigned long n = 0;
	FILE *fp;
	int got = 0;

	snprintf(path, sizeof(path), "%s/fixture", f->dir);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (sscanf(line, "%63s %599s", k, v) != 2)
			continue;
		if (strcmp(k, "domains") == 0)
			n = strtoul(v, NULL, 10);
		else if (strcmp(k, "active-rsa") == 0)
			got += snprintf(f->sel[0], 64, "%s", v) > 0;
		else if (strcmp(k, "ready-rsa") == 0)
			got += snprintf(f->sel[1], 64, "%s", v) > 0;
		else if (strcmp(k, "active-ed") == 0)
			got += snprintf(f->sel[2], 64, "%s", v) > 0;
		else if (strcmp(k, "build-seconds") == 0)
			*secs = strtod(v, NULL);
	}
	fclose(fp);
	if (n != f->n || got != 3)
		errx(1, "%s: not a fixture of %lu domains; remove %s", path,
		    f->n, f->dir);
	tfiles_init(f);
	return 0;
}

/* build - the fixture, or the one already there; prints what it is */
static void
build(struct fixture *f, int threads)
{
	char path[1100], tdir[1024];
	unsigned long from, nchunks = (f->n + CHUNK - 1) / CHUNK, c;
	struct statvfs v0, v1;
	struct stat st;
	pthread_t *tids;
	double t0 = now_ms(), t1, secs = 0;
	int i;

	if (marker_read(f, &secs) == 0) {
		printf("fixture %s: %lu domains x 3 keys, reused (built in "
		    "%.0f s)\n", f->dir, f->n, secs);
		return;
	}
	snprintf(tdir, sizeof(tdir), "%s/template", f->dir);
	snprintf(path, sizeof(path), "%s/selectors", tdir);
	if (stat(f->ks, &st) == -1 || sel_read(f, path) == -1)
		template_make(f);
	if (stat(f->ks, &st) == -1 || st.st_uid != geteuid())
		errx(1, "%s: owned by uid %lu, not by this user: keyturnd would "
		    "refuse it", f->ks, (unsigned long)st.st_uid);
	tfiles_init(f);
	tfiles_load(f, tdir);
	snprintf(path, sizeof(path), "%s/progress", f->dir);
	if ((f->progfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		err(1, "%s", path);
	from = progress_read(f) / CHUNK;
	if ((f->ksfd = open(f->ks, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		err(1, "%s", f->ks);
	f->done = calloc(nchunks + 1, 1);
	if (f->done == NULL)
		err(1, NULL);
	for (c = 0; c < from && c < nchunks; c++)
		f->done[c] = 1;
	f->prefix = from;
	atomic_store(&f->next, from);
	pthread_mutex_init(&f->lock, NULL);
	if (from > 0)
		printf("fixture %s: resuming at domain %lu\n", f->dir,
		    from * CHUNK);
	fflush(stdout);
	statvfs(f->ks, &v0);
	tids = calloc(threads, sizeof(*tids));
	if (tids == NULL)
		err(1, NULL);
	for (i = 0; i < threads; i++)
		if (pthread_create(&tids[i], NULL, builder, f) != 0)
			errx(1, "pthread_create failed");
	for (i = 0; i < threads; i++)
		pthread_join(tids[i], NULL);
	opendkim_tables(f);
	t1 = now_ms();
	if (syncfs(f->ksfd) == -1)
		err(1, "syncfs %s", f->ks);
	statvfs(f->ks, &v1);
	secs = (now_ms() - t0) / 1e3;
	marker_write(f, secs);
	close(f->ksfd);
	close(f->progfd);
	free(tids);
	free(f->done);
	printf("fixture %s: %lu domains x 3 keys built in %.1f s with %d "
	    "threads (%.1f s of it in syncfs); file system: %.2f GB and %llu "
	    "inodes more\n", f->dir, f->n, secs, threads,
	    secs - (t1 - t0) / 1e3, ((double)v0.f_bfree - v1.f_bfree) *
	    v0.f_frsize / 1e9, (unsigned long long)v0.f_ffree - v1.f_ffree);
}

/* restore - a domain back as built, file by file (rename over) */
static void
restore(struct fixture *f, const char *name)
{
	char dir[1024], tmp[120];
	struct dirent *de;
	DIR *d;
	int dfd, kfd, i, keep;

	snprintf(dir, sizeof(dir), "%s/template", f->dir);
	tfiles_load(f, dir);
	snprintf(dir, sizeof(dir), "%s/%s", f->ks, name);
	dfd = subdir(AT_FDCWD, dir, f->ks);
	kfd = subdir(dfd, "keys", dir);
	for (i = 0; i < NFILES; i++) {
		snprintf(tmp, sizeof(tmp), "%s.bench", f->files[i].name);
		put(*f->files[i].dir ? kfd : dfd, tmp, f->files[i].data,
		    f->files[i].len, dir);
		if (renameat(*f->files[i].dir ? kfd : dfd, tmp,
		    *f->files[i].dir ? kfd : dfd, f->files[i].name) == -1)
			err(1, "%s/%s", dir, f->files[i].name);
		free(f->files[i].data);
	}
	if ((d = fdopendir(dup(kfd))) == NULL)
		err(1, "%s/keys", dir);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		for (i = 3, keep = 0; i < NFILES; i++)
			keep |= strcmp(de->d_name, f->files[i].name) == 0;
		if (!keep && unlinkat(kfd, de->d_name, 0) == -1)
			err(1, "%s/keys/%s", dir, de->d_name);
	}
	closedir(d);
	close(kfd);
	close(dfd);
}

/* walk - list every domain and stat its policy and state */
static void
walk(struct fixture *f, const char *what)
{
	struct store *s;
	struct stat st;
	char **names, path[300];
	size_t n, i;
	double t0, c0, t1;
	int ksfd;

	if ((s = store_open(f->ks, STORE_RDONLY, e, sizeof(e))) == NULL)
		errx(1, "%s", e);
	if ((ksfd = open(f->ks, O_RDONLY | O_DIRECTORY)) == -1)
		err(1, "%s", f->ks);
	t0 = now_ms();
	c0 = cpu_ms();
	if (store_domain_names(s, &names, &n, e, sizeof(e)) == -1)
		errx(1, "%s", e);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/policy", names[i]);
		if (fstatat(ksfd, path, &st, AT_SYMLINK_NOFOLLOW) == -1)
			err(1, "%s", path);
		snprintf(path, sizeof(path), "%s/state", names[i]);
		if (fstatat(ksfd, path, &st, AT_SYMLINK_NOFOLLOW) == -1)
			err(1, "%s", path);
	}
	t1 = now_ms();
	printf("walk of %zu domains, %s: %.0f ms wall, %.0f ms CPU\n", n, what,
	    t1 - t0, cpu_ms() - c0);
	store_names_free(names, n);
	close(ksfd);
	store_close(s);
}

/* measure - one full load; prints time and memory */
static struct store_set *
measure(struct store *s, int flags, const char *what)
{
	struct store_set *set;
	long rss0 = rss_kb();
	size_t heap0 = mallinfo2().uordblks;
	double t0 = now_ms(), t1;

	if ((set = store_set_load(s, flags, e, sizeof(e))) == NULL)
		errx(1, "%s", e);
	t1 = now_ms();
	printf("%-40s %9.1f ms  heap +%.1f MB  RSS +%.1f MB  (%zu domains)\n",
	    what, t1 - t0, (mallinfo2().uordblks - heap0) / 1048576.0,
	    (rss_kb() - rss0) / 1024.0, set->n);
	return set;
}

/* reload - one reload against old; prints time and domains parsed */
static struct store_set *
reload(struct store *s, struct store_set *old, const char *what)
{
	struct store_set *set;
	size_t parsed;
	double t0 = now_ms(), t1;

	set = store_set_reload(s, old, STORE_KEYS_ACTIVE, &parsed, e,
	    sizeof(e));
	if (set == NULL)
		errx(1, "%s", e);
	t1 = now_ms();
	printf("%-40s %9.1f ms  %zu domain(s) parsed\n", what, t1 - t0,
	    parsed);
	return set;
}

/* library - the snapshot costs, on the fixture */
static void
library(struct fixture *f)
{
	struct store_set *a, *b, *c;
	struct store_change sw[2];
	struct store *s;
	char one[64];
	double t0;

	if ((s = store_open(f->ks, 0, e, sizeof(e))) == NULL)
		errx(1, "%s", e);
	a = measure(s, STORE_KEYS_ACTIVE, "snapshot, active keys parsed");
	store_set_free(a);
	b = measure(s, STORE_KEYS_ALL, "snapshot, all keys parsed");
	store_set_free(b);
	a = measure(s, STORE_KEYS_ACTIVE, "snapshot again (the old one)");
	b = reload(s, a, "reload, nothing changed");
	store_set_free(b);
	sw[0] = (struct store_change){ f->sel[1], STORE_READY, STORE_ACTIVE,
	    "bench: rotation" };
	sw[1] = (struct store_change){ f->sel[0], STORE_ACTIVE, STORE_RETIRING,
	    "bench: rotation" };
	domain_name(f->n / 2, one, sizeof(one));
	t0 = now_ms();
	if (store_apply(s, one, sw, 2, time(NULL), 0, e, sizeof(e)) == -1)
		errx(1, "%s", e);
	printf("%-40s %9.1f ms\n", "rotation swap write (fsync'd)",
	    now_ms() - t0);
	c = reload(s, a, "reload after one domain rotated");
	if (store_set_find(c, one)->keys[0].state != STORE_RETIRING)
		errx(1, "reload missed the rotation");
	store_set_free(c);
	store_set_free(a);
	store_close(s);
	restore(f, one);
}

/* mkdirs - the cache directory and its parents */
static void
mkdirs(const char *path)
{
	char buf[512], *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST)
			err(1, "%s", buf);
		*p = '/';
	}
	if (mkdir(buf, 0700) == -1 && errno != EEXIST)
		err(1, "%s", buf);
}

/* number - an option's value within bounds, or exit 2 */
static unsigned long
number(int opt, const char *arg, unsigned long min, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno != 0 || *arg < '0' || *arg > '9' || *end != '\0' ||
	    v < min || v > max)
		errx(2, "-%c %s: want a number from %lu to %lu", opt, arg, min,
		    max);
	return v;
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: keystore_bench [-B | -w | -r] [-n DOMAINS] "
	    "[-k CACHE] [-j THREADS] [DOMAIN...]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static struct fixture f;
	const char *cache = getenv("KEYTURN_BENCH_CACHE");
	char mode = 0;
	int ch, threads = 4, i;
	double secs = 0;

	f.n = 10000;
	while ((ch = getopt(argc, argv, "Bj:k:n:rw")) != -1) {
		switch (ch) {
		case 'B': case 'r': case 'w':
			if (mode != 0)
				usage();
			mode = ch;
			break;
		case 'j': threads = (int)number(ch, optarg, 1, 64); break;
		case 'k': cache = optarg; break;
		case 'n': f.n = number(ch, optarg, 1, 100000000); break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if ((mode == 'r') != (argc > 0))
		usage();
	if (cache == NULL || *cache == '\0')
		cache = CACHE_DEFAULT;
	if (strlen(cache) > 200)
		errx(2, "%s: too long a path", cache);
	snprintf(f.dir, sizeof(f.dir), "%s/%lu", cache, f.n);
	snprintf(f.ks, sizeof(f.ks), "%s/ks", f.dir);
	umask(077);
	if (mode == 'r' || mode == 'w') {
		if (marker_read(&f, &secs) == -1)
			errx(1, "%s: no fixture of %lu domains (keystore_bench "
			    "-B -n %lu)", f.dir, f.n, f.n);
		if (mode == 'w') {
			walk(&f, "first");
			walk(&f, "again");
		}
		for (i = 0; i < argc; i++)
			restore(&f, argv[i]);
		return 0;
	}
	mkdirs(f.dir);
	build(&f, threads);
	if (mode == 0)
		library(&f);
	return 0;
}
