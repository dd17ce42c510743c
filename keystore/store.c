/*
 * store - opening a keystore, its lock, its change counter, and names
 *
 * store_open checks the directory (owner, 0700) and its format line before
 * anything else touches it. Writers serialise on an flock(2) of
 * KEYSTORE/lock; readers never take it. KEYSTORE/generation is bumped by
 * every committed write so a daemon can tell "nothing changed" from one
 * small read.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "etcd.h"
#include "fleet.h"
#include "store_int.h"
#include "xmalloc.h"

#define STORE_VERSION_LINE	"keyturn-keystore 1\n"

static const char *const store_states[STORE_NSTATES] = {
	"pending", "ready", "active", "retiring", "revoked"
};
static const char *const store_algs[STORE_NALGS] = { "rsa", "ed25519" };

/* store_alg_name - the spelling used in files, selectors and output */
const char *
store_alg_name(enum store_alg a)
{
	return (unsigned)a < STORE_NALGS ? store_algs[a] : "?";
}

/* store_alg_parse - "rsa" or "ed25519", as files and options spell them */
int
store_alg_parse(const char *s, enum store_alg *a)
{
	int i;

	for (i = 0; i < STORE_NALGS; i++)
		if (strcmp(s, store_algs[i]) == 0) {
			*a = i;
			return 0;
		}
	return -1;
}

/* store_algs_name - a set of algorithms as files and output spell it */
const char *
store_algs_name(unsigned algs)
{
	switch (algs) {
	case STORE_ALGBIT(STORE_ALG_RSA):
		return "rsa";
	case STORE_ALGBIT(STORE_ALG_ED25519):
		return "ed25519";
	case STORE_ALGBIT(STORE_ALG_RSA) | STORE_ALGBIT(STORE_ALG_ED25519):
		return "rsa,ed25519";
	default:
		return "none";
	}
}

/* store_algs_parse - "rsa", "ed25519", or both comma-separated; 0 or -1 */
int
store_algs_parse(const char *s, unsigned *algs)
{
	char	*copy = xstrdup(s), *tok, *save = NULL;
	enum store_alg a;
	int	 r = 0;

	*algs = 0;
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (store_alg_parse(tok, &a) == -1 ||
		    (*algs & STORE_ALGBIT(a)))
			r = -1;
		else
			*algs |= STORE_ALGBIT(a);
	}
	free(copy);
	return (r == 0 && *algs != 0) ? 0 : -1;
}

/* store_state_name - the spelling used in files and output; "-" for none */
const char *
store_state_name(int s)
{
	if (s == STORE_STATE_NONE)
		return "-";
	return (unsigned)s < STORE_NSTATES ? store_states[s] : "?";
}

/* store_state_parse - exact lowercase names only: files stay canonical */
int
store_state_parse(const char *s, enum store_state *st)
{
	int i;

	for (i = 0; i < STORE_NSTATES; i++)
		if (strcmp(s, store_states[i]) == 0) {
			*st = i;
			return 0;
		}
	return -1;
}

/* store_time_format - the one spelling of a time in files and output */
char *
store_time_format(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "?");
	return buf;
}

/* store_time_parse - the inverse of store_time_format, nothing looser */
int
store_time_parse(const char *s, time_t *t)
{
	struct tm tm;
	const char *end;

	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	size_t i;

	/* the exact shape store_time_format writes: four digits of year
	 * from 1000 (strftime writes 999 as "999"), no blanks strptime
	 * would skip, nothing after */
	if (strlen(s) != sizeof(shape) - 1 || s[0] == '0')
		return -1;
	for (i = 0; shape[i] != '\0'; i++)
		if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) :
		    s[i] != shape[i])
			return -1;
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) == NULL ||
	    *end != '\0')
		return -1;
	*t = timegm(&tm);
	return 0;
}

/* store_path - KEYSTORE/a[/b[/c]], malloc'd */
char *
store_path(const struct store *s, const char *a, const char *b,
    const char *c)
{
	if (b == NULL)
		return xasprintf("%s/%s", s->dir, a);
	if (c == NULL)
		return xasprintf("%s/%s/%s", s->dir, a, b);
	return xasprintf("%s/%s/%s/%s", s->dir, a, b, c);
}

/*
 * store_domain_path - where another module keeps its own file for a domain;
 * a domain or file name that could leave KEYSTORE/<domain> gets a path
 * under a directory that never exists, so opening it fails harmlessly
 */
char *
store_domain_path(const struct store *s, const char *domain,
    const char *file)
{
	char err[256];

	if (store_domain_valid(domain, err, sizeof(err)) == -1 ||
	    strchr(file, '/') != NULL || file[0] == '.' || file[0] == '\0')
		return store_path(s, STORE_INVALID_DIR, "invalid", NULL);
	return store_path(s, domain, file, NULL);
}

/* store_dir - the keystore directory, for messages */
const char *
store_dir(const struct store *s)
{
	return s->dir;
}

/*
 * store_init_empty - nothing in the directory but what an interrupted
 * keyturn init left (its lock and generation files); 0 or -1
 */
static int
store_init_empty(const char *dir, int fd, char *err, size_t errlen)
{
	DIR *d;
	struct dirent *de;
	int dfd, r = 0;

	if ((dfd = dup(fd)) == -1 || (d = fdopendir(dfd)) == NULL) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		if (dfd != -1)
			close(dfd);
		return -1;
	}
	while (r == 0 && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0 &&
		    !sload_own_file(de->d_name)) {
			snprintf(err, errlen, "%s: not empty (it holds %s): "
			    "keyturn init makes a keystore in a new or empty "
			    "directory", dir, de->d_name);
			r = -1;
		}
	closedir(d);
	return r;
}

/*
 * store_init_dir - the directory itself, never through a symbolic link,
 * ours and empty before its mode is touched
 */
static int
store_init_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	int fd, r = -1;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		if (lstat(dir, &st) == 0 && S_ISLNK(st.st_mode))
			snprintf(err, errlen, "%s: a symbolic link: name the "
			    "keystore directory itself", dir);
		else
			snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (faccessat(fd, STORE_VERSION_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		snprintf(err, errlen, "%s: already a keystore", dir);
	else if (fstat(fd, &st) == -1)
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
	else if (st.st_uid != geteuid())
		snprintf(err, errlen, "%s: owned by uid %lu, not by uid %lu "
		    "that runs keyturn: run keyturn init as the directory's "
		    "owner (runuser -u USER -- keyturn init), the user "
		    "keyturnd runs as", dir, (unsigned long)st.st_uid,
		    (unsigned long)geteuid());
	else if (store_init_empty(dir, fd, err, errlen) == 0) {
		if (fchmod(fd, 0700) == -1)
			snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		else
			r = 0;
	}
	close(fd);
	return r;
}

/* store_init - an empty keystore; an existing empty directory is fine */
int
store_init(const char *dir, char *err, size_t errlen)
{
	struct store s = { .dir = (char *)dir, .lockfd = -1,
	    .owner = geteuid() };
	char *p;
	int r;

	if (store_init_dir(dir, err, errlen) == -1 ||
	    sfile_check_dir(s.owner, dir, err, errlen) == -1)
		return -1;
	p = store_path(&s, STORE_LOCK_FILE, NULL, NULL);
	r = store_file_replace(p, "", 0, 0600, err, errlen);
	free(p);
	if (r == 0) {
		p = store_path(&s, STORE_GEN_FILE, NULL, NULL);
		r = store_file_replace(p, "0\n", 2, 0600, err, errlen);
		free(p);
	}
	if (r == 0) {	/* last: the keystore exists once this is there */
		p = store_path(&s, STORE_VERSION_FILE, NULL, NULL);
		r = store_file_replace(p, STORE_VERSION_LINE,
		    strlen(STORE_VERSION_LINE), 0600, err, errlen);
		free(p);
	}
	return r;
}

/* store_check_version - refuse a format this code does not know */
static int
store_check_version(struct store *s, char *err, size_t errlen)
{
	char *p = store_path(s, STORE_VERSION_FILE, NULL, NULL), *buf;
	size_t len;
	unsigned long v;
	char *end;
	int r;

	r = sfile_read(s->owner, p, SFILE_OPTIONAL, &buf, &len, NULL, err,
	    errlen);
	if (r == -2)
		snprintf(err, errlen, "%s: not a keystore (no %s): create one "
		    "with keyturn init", s->dir, STORE_VERSION_FILE);
	if (r != 0) {
		free(p);
		return -1;
	}
	if (strncmp(buf, "keyturn-keystore ", 17) != 0 ||
	    (v = strtoul(buf + 17, &end, 10), *end != '\n') ||
	    end[1] != '\0') {
		snprintf(err, errlen, "%s:1: expected \"keyturn-keystore %d\"",
		    p, STORE_FORMAT);
		free(buf);
		free(p);
		return -1;
	}
	if (v != STORE_FORMAT) {
		snprintf(err, errlen, "%s:1: keystore format %lu, this keyturn "
		    "reads format %d", p, v, STORE_FORMAT);
		free(buf);
		free(p);
		return -1;
	}
	free(buf);
	free(p);
	return 0;
}

/* store_open - open a keystore owned by the user running this process */
struct store *
store_open(const char *dir, int flags, char *err, size_t errlen)
{
	return store_open_owner(dir, flags, geteuid(), err, errlen);
}

/* store_open_owner - open after checking owner, mode and format version */
struct store *
store_open_owner(const char *dir, int flags, uid_t owner, char *err,
    size_t errlen)
{
	struct store *s;

	err[0] = '\0';
	if (sfile_check_dir(owner, dir, err, errlen) == -1) {
		if (access(dir, F_OK) == -1 && errno == ENOENT)
			snprintf(err, errlen, "%s: no such keystore: create it "
			    "with keyturn init, or name another with -K DIR",
			    dir);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->dir = xstrdup(dir);
	s->flags = flags;
	s->lockfd = -1;
	s->owner = owner;
	if (!(flags & STORE_RDONLY))
		s->fleet = fleet_attached();
	if (store_check_version(s, err, errlen) == -1) {
		store_close(s);
		return NULL;
	}
	if (!(flags & STORE_RDONLY) && access(dir, W_OK) == -1) {
		snprintf(err, errlen, "%s: %s: the keystore cannot be changed "
		    "(mounted read-only or not writable)", dir,
		    strerror(errno));
		store_close(s);
		return NULL;
	}
	return s;
}

/* store_close - drop the lock file and the handle */
void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->lockfd != -1)
		close(s->lockfd);
	if (s->etcd != NULL)
		etcd_free(s->etcd);
	free(s->jdomain);
	free(s->dir);
	free(s);
}

/*
 * store_lock_mark - the lock file holds the pid of the writer that holds
 * the lock, and is emptied when it lets go: a pid found there is a writer
 * that died holding it, whose half-made files at the keystore's top go
 * before this write begins. The top is read only then: at a million
 * domains it is a million entries.
 */
static void
store_lock_mark(struct store *s)
{
	char buf[32];
	int n;

	if (pread(s->lockfd, buf, 1, 0) == 1)
		sfile_clean_top(s->dir);
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (pwrite(s->lockfd, buf, (size_t)n, 0) != n)
		(void)ftruncate(s->lockfd, 0);	/* no mark: no clean-up */
}

/* store_lock - writers serialise here; nested calls only count */
int
store_lock(struct store *s, char *err, size_t errlen)
{
	char *p;

	if (s->flags & STORE_RDONLY) {
		snprintf(err, errlen, "%s: opened read-only", s->dir);
		return -1;
	}
	if (s->lockdepth++ > 0)
		return 0;
	if (s->lockfd == -1) {
		p = store_path(s, STORE_LOCK_FILE, NULL, NULL);
		s->lockfd = open(p, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (s->lockfd == -1) {
			snprintf(err, errlen, "%s: %s", p, strerror(errno));
			free(p);
			s->lockdepth = 0;
			return -1;
		}
		free(p);
	}
	while (flock(s->lockfd, LOCK_EX) == -1) {
		if (errno == EINTR)
			continue;
		snprintf(err, errlen, "%s/%s: flock: %s", s->dir,
		    STORE_LOCK_FILE, strerror(errno));
		s->lockdepth = 0;
		return -1;
	}
	store_lock_mark(s);
	return 0;
}

/* store_unlock - release the lock when the outermost holder is done */
void
store_unlock(struct store *s)
{
	if (s->lockdepth == 0)
		return;
	if (--s->lockdepth == 0) {
		/* a journal line without its commit: the next write's own */
		s->jgen = 0;
		free(s->jdomain);
		s->jdomain = NULL;
		(void)ftruncate(s->lockfd, 0);	/* see store_lock_mark */
		(void)flock(s->lockfd, LOCK_UN);
	}
}

/* store_generation - cheap "did anything change" for the daemon */
uint64_t
store_generation(struct store *s)
{
	char *p = store_path(s, STORE_GEN_FILE, NULL, NULL), *buf, err[256];
	size_t len;
	uint64_t g = 0;

	if (sfile_read(s->owner, p, 0, &buf, &len, NULL, err,
	    sizeof(err)) == 0) {
		g = strtoull(buf, NULL, 10);
		free(buf);
	}
	free(p);
	return g;
}

/* swrite_bump - the last step of every write; the caller holds the lock */
int
swrite_bump(struct store *s, char *err, size_t errlen)
{
	char *p = store_path(s, STORE_GEN_FILE, NULL, NULL), buf[32];
	int r;

	/* the generation the write's journal line announced */
	snprintf(buf, sizeof(buf), "%llu\n", s->jgen != 0 ?
	    (unsigned long long)s->jgen :
	    (unsigned long long)store_generation(s) + 1);
	r = store_file_replace(p, buf, strlen(buf), 0600, err, errlen);
	free(p);
	s->jgen = 0;
	free(s->jdomain);
	s->jdomain = NULL;
	return r;
}

/* store_domain_valid - LDH labels, lowercase, no leading dot or dash */
int
store_domain_valid(const char *name, char *err, size_t errlen)
{
	const char *p, *label = name;
	size_t n = strlen(name);

	if (n == 0 || n > STORE_DOMAIN_MAX || name[0] == '.' ||
	    name[n - 1] == '.') {
		snprintf(err, errlen, "\"%s\": not a domain name", name);
		return -1;
	}
	for (p = name;; p++) {
		if (*p == '.' || *p == '\0') {
			if (p == label || p - label > 63 || *label == '-' ||
			    p[-1] == '-') {
				snprintf(err, errlen, "\"%s\": bad label in "
				    "domain name", name);
				return -1;
			}
			if (*p == '\0')
				return 0;
			label = p + 1;
		} else if ((unsigned char)*p >= 0x80) {
			snprintf(err, errlen, "\"%s\": write an "
			    "internationalized domain name in its A-label "
			    "form (xn--...), as DNS and d= have it; keyturnd "
			    "signs mail whose From has the Unicode form",
			    name);
			return -1;
		} else if (!(islower((unsigned char)*p) ||
		    isdigit((unsigned char)*p) || *p == '-' || *p == '_')) {
			snprintf(err, errlen, "\"%s\": a domain name has "
			    "lowercase letters, digits, '-' and '.' only",
			    name);
			return -1;
		}
	}
}

/* store_selector_valid - one label, safe as a file name */
int
store_selector_valid(const char *sel, char *err, size_t errlen)
{
	const char *p;
	size_t n = strlen(sel);

	if (n == 0 || n > STORE_SELECTOR_MAX || sel[0] == '-' ||
	    sel[0] == '.') {
		snprintf(err, errlen, "\"%s\": a selector is 1 to %d "
		    "characters and does not start with '-'", sel,
		    STORE_SELECTOR_MAX);
		return -1;
	}
	for (p = sel; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') {
			snprintf(err, errlen, "\"%s\": a selector has letters, "
			    "digits, '-' and '_' only", sel);
			return -1;
		}
	return 0;
}
