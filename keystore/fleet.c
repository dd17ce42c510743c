/*
 * fleet - the keystore in etcd, mirrored into the local keystore directory
 *
 * See fleet.h for the layout and the rules. A domain travels between
 * etcd and the mirror as a list of files (struct ffile): its name
 * relative to the domain ("policy", "keys/kt-1.pem"), its bytes (a key in
 * the clear once fetched: it is sealed only on its way to etcd), and the
 * mod revision etcd gave it. A write remembers the list it fetched
 * (struct fleet_snap) to know what it changed and what to compare.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "conf.h"
#include "etcd.h"
#include "fleet.h"
#include "kek.h"
#include "log.h"
#include "store_int.h"
#include "xmalloc.h"

#define FLEET_FILE_MAX	(4 * 1024 * 1024)	/* larger is not ours */

struct fleet {
	struct etcd_opts opts;
	char		*endpoints, *ca, *cert, *key, *user;
	char		*password;
	char		*prefix;
	struct kek	*kek;
	char		 host[256];
	long long	 lease_ttl;
	long long	 stale_after;
	int		 may_lead;
	int		 need_fence;

	pthread_mutex_t	 lock;		/* the fence */
	int64_t		 term;		/* create revision of P leader */
	int64_t		 lease;
};

/* One file of a domain, in etcd or in the mirror. */
struct ffile {
	char		*rel;		/* "policy", "keys/x.pem" */
	unsigned char	*data;
	size_t		 len;
	int		 secret;	/* a private key */
	int		 removed;	/* P removed/<domain>/history */
	int64_t		 mod_rev;	/* in etcd; 0 in the mirror */
};

/* What a write read of its domain in etcd, to compare at its commit. */
struct fleet_snap {
	char		*domain;
	struct ffile	*f;
	size_t		 n;
	int64_t		 rev;		/* etcd's revision when read */
};

static struct fleet *fleet_global;

static void
ffiles_free(struct ffile *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(f[i].rel);
		if (f[i].data != NULL) {
			OPENSSL_cleanse(f[i].data, f[i].len);
			free(f[i].data);
		}
	}
	free(f);
}

/* fleet_read_secret - the first line of a small file, for a password */
static char *
fleet_read_secret(const char *path, char *err, size_t errlen)
{
	char buf[1024];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		snprintf(err, errlen, "FleetPasswordFile %s: %s", path,
		    strerror(errno));
		return NULL;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		snprintf(err, errlen, "FleetPasswordFile %s: %s", path,
		    n == 0 ? "empty" : strerror(errno));
		return NULL;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (buf[0] == '\0') {
		snprintf(err, errlen, "FleetPasswordFile %s: the first line "
		    "is empty", path);
		OPENSSL_cleanse(buf, sizeof(buf));
		return NULL;
	}
	{
		char *p = xstrdup(buf);

		OPENSSL_cleanse(buf, sizeof(buf));
		return p;
	}
}

static char *
dupnull(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

struct fleet *
fleet_new(const struct kt_conf *conf, int need_fence, char *err,
    size_t errlen)
{
	struct fleet *f;
	char e2[512];

	if (conf->fleet_endpoints == NULL) {
		snprintf(err, errlen, "no FleetEndpoints");
		return NULL;
	}
	f = xcalloc(1, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	f->endpoints = xstrdup(conf->fleet_endpoints);
	f->ca = dupnull(conf->fleet_ca);
	f->cert = dupnull(conf->fleet_cert);
	f->key = dupnull(conf->fleet_key);
	f->user = dupnull(conf->fleet_user);
	f->prefix = xstrdup(conf->fleet_prefix);
	f->lease_ttl = conf->fleet_lease_ttl;
	f->stale_after = conf->fleet_stale_after;
	f->may_lead = conf->fleet_rotation;
	f->need_fence = need_fence;
	if (gethostname(f->host, sizeof(f->host) - 1) == -1)
		strlcpy(f->host, "localhost", sizeof(f->host));
	if (conf->fleet_password_file != NULL &&
	    (f->password = fleet_read_secret(conf->fleet_password_file, err,
	    errlen)) == NULL) {
		fleet_free(f);
		return NULL;
	}
	if ((f->kek = kek_load(conf->fleet_kek, e2, sizeof(e2))) == NULL) {
		snprintf(err, errlen, "FleetKEK: %s", e2);
		fleet_free(f);
		return NULL;
	}
	f->opts.endpoints = f->endpoints;
	f->opts.ca = f->ca;
	f->opts.cert = f->cert;
	f->opts.key = f->key;
	f->opts.user = f->user;
	f->opts.password = f->password;
	return f;
}

void
fleet_free(struct fleet *f)
{
	if (f == NULL)
		return;
	if (fleet_global == f)
		fleet_global = NULL;
	free(f->endpoints);
	free(f->ca);
	free(f->cert);
	free(f->key);
	free(f->user);
	if (f->password != NULL) {
		OPENSSL_cleanse(f->password, strlen(f->password));
		free(f->password);
	}
	free(f->prefix);
	kek_free(f->kek);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

void
fleet_attach(struct fleet *f)
{
	fleet_global = f;
}

struct fleet *
fleet_attached(void)
{
	return fleet_global;
}

struct etcd *
fleet_etcd(struct fleet *f, char *err, size_t errlen)
{
	return etcd_new(&f->opts, err, errlen);
}

char *
fleet_key(const struct fleet *f, const char *a, const char *b)
{
	return xasprintf("%s%s%s", f->prefix, a, b != NULL ? b : "");
}

const char *
fleet_prefix(const struct fleet *f)
{
	return f->prefix;
}

const char *
fleet_kek_id(const struct fleet *f)
{
	return kek_id(f->kek);
}

const char *
fleet_host(const struct fleet *f)
{
	return f->host;
}

long long
fleet_lease_ttl(const struct fleet *f)
{
	return f->lease_ttl;
}

long long
fleet_stale_after(const struct fleet *f)
{
	return f->stale_after;
}

int
fleet_may_lead(const struct fleet *f)
{
	return f->may_lead;
}

void
fleet_fence(struct fleet *f, int64_t term, int64_t lease)
{
	pthread_mutex_lock(&f->lock);
	f->term = term;
	f->lease = lease;
	pthread_mutex_unlock(&f->lock);
}

int
fleet_leading(struct fleet *f, int64_t *term)
{
	int r;

	pthread_mutex_lock(&f->lock);
	r = f->term != 0;
	if (term != NULL)
		*term = f->term;
	pthread_mutex_unlock(&f->lock);
	return r;
}

/* ---- names ---- */

/*
 * fleet_rel_ok - a file name of a domain that travels: policy, state,
 * history, rotate, keys/<name>.pem; never a path that leaves the domain
 */
static int
fleet_rel_ok(const char *rel)
{
	const char *n;
	size_t len;

	if (strcmp(rel, STORE_POLICY) == 0 || strcmp(rel, STORE_STATE) == 0 ||
	    strcmp(rel, STORE_HISTORY) == 0 || strcmp(rel, "rotate") == 0)
		return 1;
	if (strncmp(rel, STORE_KEYS "/", strlen(STORE_KEYS) + 1) != 0)
		return 0;
	n = rel + strlen(STORE_KEYS) + 1;
	len = strlen(n);
	return len > 4 && len <= 200 && n[0] != '.' &&
	    strcmp(n + len - 4, ".pem") == 0 &&
	    strstr(n, ".tmp.") == NULL &&
	    strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") == len;
}

int
fleet_key_domain(const struct fleet *f, const char *key, size_t keylen,
    char *dom, size_t domlen)
{
	size_t plen = strlen(f->prefix), n;
	const char *p, *end = key + keylen, *slash;

	if (keylen < plen || memcmp(key, f->prefix, plen) != 0)
		return 0;
	p = key + plen;
	if ((size_t)(end - p) > strlen(FLEET_DOMAINS) &&
	    memcmp(p, FLEET_DOMAINS, strlen(FLEET_DOMAINS)) == 0)
		p += strlen(FLEET_DOMAINS);
	else if ((size_t)(end - p) > strlen(FLEET_REMOVED) &&
	    memcmp(p, FLEET_REMOVED, strlen(FLEET_REMOVED)) == 0)
		p += strlen(FLEET_REMOVED);
	else
		return 0;
	if ((slash = memchr(p, '/', (size_t)(end - p))) == NULL)
		return 0;
	n = (size_t)(slash - p);
	if (n == 0 || n >= domlen || n > STORE_DOMAIN_MAX)
		return 0;
	memcpy(dom, p, n);
	dom[n] = '\0';
	return 1;
}

/* ---- fetching a domain from etcd ---- */

/*
 * fleet_fetch - the files of domain in etcd (P d/<domain>/... and its
 * removed history), keys opened with the KEK; -1 and err naming the
 * domain and the file that cannot be used
 */
static int
fleet_fetch(struct fleet *f, struct etcd *e, const char *domain,
    struct ffile **out, size_t *nout, int64_t *revp, char *err,
    size_t errlen)
{
	struct etcd_range rg;
	struct ffile *v = NULL;
	char *pre, *end, *rkey, e2[512];
	size_t i, n = 0, plen, endlen;
	int r = -1;

	pre = xasprintf("%s%s%s/", f->prefix, FLEET_DOMAINS, domain);
	plen = strlen(pre);
	end = etcd_prefix_end(pre, plen, &endlen);
	memset(&rg, 0, sizeof(rg));
	if (etcd_range(e, pre, plen, end, endlen, 0, 0, 0, &rg, e2,
	    sizeof(e2)) != 0) {
		snprintf(err, errlen, "%s: %s", domain, e2);
		goto out;
	}
	if (revp != NULL)
		*revp = rg.revision;
	v = xcalloc(rg.n + 1, sizeof(*v));
	for (i = 0; i < rg.n; i++) {
		struct etcd_kv *kv = &rg.kvs[i];
		struct ffile *ff = &v[n];
		const char *aad = kv->key + strlen(f->prefix);

		/* an etcd that answers with another key is not believed */
		if (kv->keylen <= plen || memcmp(kv->key, pre, plen) != 0) {
			snprintf(err, errlen, "%s: etcd answered with a key "
			    "outside %s", domain, pre);
			r = -2;
			goto out;
		}
		ff->rel = xstrndup(kv->key + plen, kv->keylen - plen);
		ff->mod_rev = kv->mod_rev;
		if (!fleet_rel_ok(ff->rel) || kv->vlen > FLEET_FILE_MAX) {
			snprintf(err, errlen, "%s: %s: not a file keyturn "
			    "keeps in etcd", domain, kv->key);
			n++;
			r = -2;
			goto out;
		}
		n++;
		if (strncmp(ff->rel, STORE_KEYS "/",
		    strlen(STORE_KEYS) + 1) == 0) {
			ff->secret = 1;
			if (kek_open(f->kek, aad, strlen(aad), kv->value,
			    kv->vlen, &ff->data, &ff->len, e2,
			    sizeof(e2)) == -1) {
				snprintf(err, errlen, "%s: key %s: %s", domain,
				    ff->rel + strlen(STORE_KEYS) + 1, e2);
				r = -2;
				goto out;
			}
		} else {
			ff->data = xmalloc(kv->vlen + 1);
			memcpy(ff->data, kv->value, kv->vlen);
			ff->data[kv->vlen] = '\0';
			ff->len = kv->vlen;
		}
	}
	etcd_range_free(&rg);
	rkey = xasprintf("%s%s%s/%s", f->prefix, FLEET_REMOVED, domain,
	    STORE_HISTORY);
	memset(&rg, 0, sizeof(rg));
	if (etcd_range(e, rkey, strlen(rkey), NULL, 0, 0, 0, 0, &rg, e2,
	    sizeof(e2)) != 0) {
		snprintf(err, errlen, "%s: %s", domain, e2);
		free(rkey);
		goto out;
	}
	free(rkey);
	if (rg.n == 1 && rg.kvs[0].vlen <= FLEET_FILE_MAX) {
		struct ffile *ff = &v[n++];

		ff->rel = xstrdup(STORE_HISTORY);
		ff->removed = 1;
		ff->mod_rev = rg.kvs[0].mod_rev;
		ff->data = xmalloc(rg.kvs[0].vlen + 1);
		memcpy(ff->data, rg.kvs[0].value, rg.kvs[0].vlen);
		ff->data[rg.kvs[0].vlen] = '\0';
		ff->len = rg.kvs[0].vlen;
	}
	r = 0;
out:
	etcd_range_free(&rg);
	free(pre);
	free(end);
	if (r != 0) {
		ffiles_free(v, n);
		return r;
	}
	*out = v;
	*nout = n;
	return 0;
}

static struct ffile *
ffind(struct ffile *v, size_t n, const char *rel, int removed)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].removed == removed && strcmp(v[i].rel, rel) == 0)
			return &v[i];
	return NULL;
}

/*
 * fleet_check - files that would load: a policy and a state that parse,
 * both or neither, a key for... (the loader checks the keys against the
 * state when it reads them)
 */
static int
fleet_check(const char *domain, struct ffile *v, size_t n, char *err,
    size_t errlen)
{
	struct ffile *pol = ffind(v, n, STORE_POLICY, 0);
	struct ffile *sta = ffind(v, n, STORE_STATE, 0);
	struct store_domain *d;
	char path[600], e2[512];
	int r = 0;

	if (pol == NULL && sta == NULL)
		return 0;
	if (pol == NULL || sta == NULL) {
		snprintf(err, errlen, "%s: has a %s but no %s in etcd", domain,
		    pol ? "policy" : "state", pol ? "state" : "policy");
		return -1;
	}
	d = sload_new();
	snprintf(path, sizeof(path), "etcd %s/policy", domain);
	if (sfmt_policy_parse(path, (char *)pol->data, pol->len, &d->policy,
	    e2, sizeof(e2)) == -1)
		r = -1;
	snprintf(path, sizeof(path), "etcd %s/state", domain);
	if (r == 0 && sfmt_state_parse(path, (char *)sta->data, sta->len, d,
	    e2, sizeof(e2)) == -1)
		r = -1;
	if (r == -1)
		snprintf(err, errlen, "%s: %s", domain, e2);
	store_domain_free(d);
	return r;
}

/* ---- the mirror ---- */

/* fleet_local_read - a mirror file: 0 and its bytes, 1 when missing */
static int
fleet_local_read(struct store *s, const char *path, int secret,
    char **buf, size_t *len, char *err, size_t errlen)
{
	int r;

	r = sfile_read(s->owner, path, SFILE_OPTIONAL |
	    (secret ? SFILE_SECRET : 0), buf, len, NULL, err, errlen);
	if (r == -2) {
		*buf = NULL;
		*len = 0;
		return 1;
	}
	return r;
}

/* fleet_same - does the mirror file hold exactly these bytes? */
static int
fleet_same(struct store *s, const char *path, const struct ffile *ff)
{
	char *buf, e2[256];
	size_t len;
	int same;

	if (fleet_local_read(s, path, ff->secret, &buf, &len, e2,
	    sizeof(e2)) != 0)
		return 0;
	same = len == ff->len && memcmp(buf, ff->data, len) == 0;
	sfile_wipe_free(buf, len);
	return same;
}

/* fleet_put - a mirror file replaced by ff's bytes, unless it has them */
static int
fleet_put(struct store *s, const char *path, const struct ffile *ff,
    char *err, size_t errlen)
{
	int renamed;

	if (fleet_same(s, path, ff))
		return 0;
	return sfile_replace(path, ff->data, ff->len, 0600, &renamed, err,
	    errlen);
}

/* fleet_put_removed - the history of a removed domain, under .removed/ */
static int
fleet_put_removed(struct store *s, const char *domain, const struct ffile *ff,
    char *err, size_t errlen)
{
	char *path;
	int r;

	path = store_path(s, STORE_REMOVED_DIR, NULL, NULL);
	r = sfile_mkdir(path, err, errlen);
	free(path);
	if (r == 0) {
		path = store_path(s, STORE_REMOVED_DIR, domain, NULL);
		r = sfile_mkdir(path, err, errlen);
		free(path);
	}
	if (r == 0) {
		path = store_path(s, STORE_REMOVED_DIR, domain, STORE_HISTORY);
		r = fleet_put(s, path, ff, err, errlen);
		free(path);
	}
	return r;
}

/*
 * fleet_local - the files of domain in the mirror, keys in the clear,
 * and its removed history; -1 and err when one cannot be read
 */
static int
fleet_local(struct store *s, const char *domain, struct ffile **out,
    size_t *nout, char *err, size_t errlen)
{
	static const char *top[] = { STORE_POLICY, STORE_STATE, STORE_HISTORY,
	    "rotate" };
	struct ffile *v = NULL;
	size_t n = 0, cap = 0, i;
	char *path, *kdir, *buf, *rel;
	struct dirent *de;
	size_t len;
	DIR *dp;
	int r;

#define FADD(relname, isremoved, issecret) do {				\
	if (n == cap) {							\
		cap = cap ? cap * 2 : 16;				\
		v = xreallocarray(v, cap, sizeof(*v));			\
	}								\
	memset(&v[n], 0, sizeof(v[n]));					\
	v[n].rel = (relname);						\
	v[n].removed = (isremoved);					\
	v[n].secret = (issecret);					\
	v[n].data = (unsigned char *)buf;				\
	v[n].len = len;							\
	n++;								\
} while (0)

	for (i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
		path = store_path(s, domain, top[i], NULL);
		r = fleet_local_read(s, path, 0, &buf, &len, err, errlen);
		free(path);
		if (r == -1)
			goto fail;
		if (r == 0)
			FADD(xstrdup(top[i]), 0, 0);
	}
	kdir = store_path(s, domain, STORE_KEYS, NULL);
	if ((dp = opendir(kdir)) != NULL) {
		while ((de = readdir(dp)) != NULL) {
			rel = xasprintf("%s/%s", STORE_KEYS, de->d_name);
			if (!fleet_rel_ok(rel)) {
				free(rel);
				continue;
			}
			path = store_path(s, domain, rel, NULL);
			r = fleet_local_read(s, path, 1, &buf, &len, err,
			    errlen);
			free(path);
			if (r == -1) {
				free(rel);
				closedir(dp);
				free(kdir);
				goto fail;
			}
			if (r == 0)
				FADD(rel, 0, 1);
			else
				free(rel);
		}
		closedir(dp);
	}
	free(kdir);
	path = store_path(s, STORE_REMOVED_DIR, domain, STORE_HISTORY);
	r = fleet_local_read(s, path, 0, &buf, &len, err, errlen);
	free(path);
	if (r == -1)
		goto fail;
	if (r == 0)
		FADD(xstrdup(STORE_HISTORY), 1, 0);
#undef FADD
	*out = v;
	*nout = n;
	return 0;
fail:
	ffiles_free(v, n);
	return -1;
}

/* fleet_rank - the order files go to the mirror: the state commits */
static int
fleet_rank(const struct ffile *ff)
{
	if (ff->removed)
		return 0;
	if (ff->secret)
		return 1;
	if (strcmp(ff->rel, STORE_HISTORY) == 0 ||
	    strcmp(ff->rel, "rotate") == 0)
		return 2;
	if (strcmp(ff->rel, STORE_POLICY) == 0)
		return 3;
	return 4;			/* state */
}

/*
 * fleet_apply - make the mirror's copy of domain equal to v (fetched from
 * etcd): the keys, the history and the policy first, the journal line,
 * the state last, then the files etcd no longer has; a domain gone from
 * etcd leaves the mirror. The caller holds the lock. *changed is set
 * when a file changed.
 */
static int
fleet_apply(struct store *s, const char *domain, struct ffile *v, size_t n,
    int *changed, char *err, size_t errlen)
{
	struct ffile *local = NULL;
	size_t nlocal = 0, i;
	char *dir = NULL, *path, e2[256];
	int rank, r = -1, ok, dirty = 0, have;

	*changed = 0;
	if (fleet_local(s, domain, &local, &nlocal, err, errlen) == -1)
		return -1;
	have = ffind(v, n, STORE_STATE, 0) != NULL;
	dir = store_path(s, domain, NULL, NULL);
	/* is there anything to do? */
	for (i = 0; i < n && !dirty; i++) {
		struct ffile *l = ffind(local, nlocal, v[i].rel, v[i].removed);

		if (l == NULL || l->len != v[i].len ||
		    memcmp(l->data, v[i].data, l->len) != 0)
			dirty = 1;
	}
	for (i = 0; i < nlocal && !dirty; i++)
		if (!local[i].removed && ffind(v, n, local[i].rel, 0) == NULL)
			dirty = 1;
	if (!dirty) {
		r = 0;
		goto out;
	}
	*changed = 1;
	if (!have) {
		/* the domain is not (or no longer) in etcd */
		for (i = 0; i < n; i++)
			if (v[i].removed &&
			    fleet_put_removed(s, domain, &v[i], err,
			    errlen) == -1)
				goto out;
		if (access(dir, F_OK) == 0) {
			if (swrite_journal(s, domain, err, errlen) == -1)
				goto out;
			sfile_rmtree(dir);
			(void)swrite_bump(s, e2, sizeof(e2));
		}
		r = 0;
		goto out;
	}
	path = store_path(s, domain, STORE_KEYS, NULL);
	if (sfile_mkdir(dir, err, errlen) == -1 ||
	    sfile_mkdir(path, err, errlen) == -1) {
		free(path);
		goto out;
	}
	free(path);
	for (rank = 0; rank <= 4; rank++) {
		if (rank == 4 && swrite_journal(s, domain, err, errlen) == -1)
			goto out;
		for (i = 0; i < n; i++) {
			if (fleet_rank(&v[i]) != rank)
				continue;
			if (v[i].removed) {
				if (fleet_put_removed(s, domain, &v[i], err,
				    errlen) == -1)
					goto out;
				continue;
			}
			path = store_path(s, domain, v[i].rel, NULL);
			ok = fleet_put(s, path, &v[i], err, errlen);
			free(path);
			if (ok == -1)
				goto out;
		}
	}
	/* what etcd no longer has: keys taken out, a memo dropped */
	for (i = 0; i < nlocal; i++) {
		if (local[i].removed || ffind(v, n, local[i].rel, 0) != NULL)
			continue;
		if (strcmp(local[i].rel, STORE_POLICY) == 0 ||
		    strcmp(local[i].rel, STORE_STATE) == 0)
			continue;
		path = store_path(s, domain, local[i].rel, NULL);
		(void)unlink(path);
		free(path);
	}
	if (swrite_bump(s, err, errlen) == -1)
		goto out;
	r = 0;
out:
	free(dir);
	ffiles_free(local, nlocal);
	return r;
}

/*
 * The mirror's list of domains left as they were (KEYSTORE/.fleet-bad,
 * one name a line): a sync from a revision asks for them again whatever
 * changed, so a domain is never forgotten as bad until it syncs, and
 * keyturn says so at each command.
 */
static char **
fleet_bad_load(struct store *s, size_t *n)
{
	char *path = store_path(s, FLEET_BAD_FILE, NULL, NULL), e2[256];
	char *buf = NULL, *p, *line, **v = NULL;
	size_t len;

	*n = 0;
	if (sfile_read(s->owner, path, SFILE_OPTIONAL, &buf, &len, NULL, e2,
	    sizeof(e2)) == 0) {
		for (p = buf; (line = strsep(&p, "\n")) != NULL;) {
			if (*line == '\0' || store_domain_valid(line, e2,
			    sizeof(e2)) == -1)
				continue;
			v = xreallocarray(v, *n + 1, sizeof(*v));
			v[(*n)++] = xstrdup(line);
		}
		free(buf);
	}
	free(path);
	return v;
}

/* fleet_bad_mark - domain on the list (bad) or off it; the lock held */
static void
fleet_bad_mark(struct store *s, const char *domain, int bad)
{
	char **v, *text = xstrdup(""), *t, *path, e2[256];
	size_t n, i;
	int found = 0;

	v = fleet_bad_load(s, &n);
	for (i = 0; i < n; i++) {
		if (strcmp(v[i], domain) == 0) {
			found = 1;
			if (!bad)
				continue;
		}
		t = xasprintf("%s%s\n", text, v[i]);
		free(text);
		text = t;
	}
	if (bad && !found) {
		t = xasprintf("%s%s\n", text, domain);
		free(text);
		text = t;
	}
	if (found != bad) {
		path = store_path(s, FLEET_BAD_FILE, NULL, NULL);
		if (store_file_replace(path, text, strlen(text), 0600, e2,
		    sizeof(e2)) == -1)
			log_warnx("fleet: %s", e2);
		free(path);
	}
	free(text);
	store_names_free(v, n);
}

int
fleet_sync_domain(struct fleet *f, struct store *s, struct etcd *e,
    const char *domain, int *changed, char *err, size_t errlen)
{
	struct ffile *v = NULL;
	size_t n;
	int r;

	*changed = 0;
	/*
	 * Under the lock: a write of this host holds it from its read of
	 * etcd to its commit, so what is read here is at least what this
	 * host last committed, never an older state over a newer one.
	 */
	if (store_lock(s, err, errlen) == -1)
		return -1;
	if ((r = fleet_fetch(f, e, domain, &v, &n, NULL, err,
	    errlen)) == 0) {
		if ((r = fleet_check(domain, v, n, err, errlen)) == 0)
			r = fleet_apply(s, domain, v, n, changed, err, errlen);
		ffiles_free(v, n);
	}
	/* etcd answered (-1 from the fetch: it did not): bad, or not */
	if (!(r == -1 && v == NULL))
		fleet_bad_mark(s, domain, r != 0);
	store_unlock(s);
	return r == 0 ? 0 : -1;
}

/* ---- the whole mirror ---- */

static int
strp_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * fleet_sync - one range of the whole prefix gives the domains at one
 * revision; each domain is then read and applied on its own
 * (fleet_sync_domain: its files at that revision or later, which is what
 * the watch that follows starts from)
 */
int
fleet_sync(struct fleet *f, struct store *s, struct etcd *e, int64_t *rev,
    size_t *changed, size_t *bad, char *err, size_t errlen)
{
	struct etcd_range rg;
	char *pre, dom[STORE_DOMAIN_MAX + 1], **names = NULL, **local = NULL;
	char e2[1024];
	size_t n = 0, cap = 0, i, j, nlocal = 0;
	int ch;

	*changed = *bad = 0;
	if (fleet_format(f, e, 0, err, errlen) == -1)
		return -1;
	pre = fleet_key(f, "", NULL);
	memset(&rg, 0, sizeof(rg));
	if (etcd_range_all(e, pre, FLEET_PAGE, ETCD_KEYS_ONLY, &rg, err,
	    errlen) != 0) {
		free(pre);
		return -1;
	}
	free(pre);
	*rev = rg.revision;
	for (i = 0; i < rg.n; i++) {
		if (!fleet_key_domain(f, rg.kvs[i].key, rg.kvs[i].keylen, dom,
		    sizeof(dom)) || store_domain_valid(dom, e2,
		    sizeof(e2)) == -1)
			continue;
		if (n > 0 && strcmp(names[n - 1], dom) == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = xreallocarray(names, cap, sizeof(*names));
		}
		names[n++] = xstrdup(dom);
	}
	etcd_range_free(&rg);
	/* d/ and removed/ are two runs of names: sort, then unique */
	qsort(names, n, sizeof(*names), strp_cmp);
	for (i = j = 0; i < n; i++) {
		if (j > 0 && strcmp(names[j - 1], names[i]) == 0) {
			free(names[i]);
			continue;
		}
		names[j++] = names[i];
	}
	n = j;
	for (i = 0; i < n; i++) {
		if (fleet_sync_domain(f, s, e, names[i], &ch, e2,
		    sizeof(e2)) == -1) {
			log_warnx("fleet: %s: the mirror keeps the domain as "
			    "it was", e2);
			(*bad)++;
		} else if (ch)
			(*changed)++;
	}
	/* domains of the mirror that etcd does not have */
	if (store_domain_names(s, &local, &nlocal, e2, sizeof(e2)) == 0) {
		for (i = 0; i < nlocal; i++) {
			if (bsearch(&local[i], names, n, sizeof(*names),
			    strp_cmp) != NULL)
				continue;
			if (fleet_sync_domain(f, s, e, local[i], &ch, e2,
			    sizeof(e2)) == -1) {
				log_warnx("fleet: %s", e2);
				(*bad)++;
			} else if (ch)
				(*changed)++;
		}
		store_names_free(local, nlocal);
	} else
		log_warnx("fleet: %s", e2);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return 0;
}

/* ---- what the mirror has caught up with ---- */

/*
 * The mirror's revision file: "REV" when every change of etcd up to REV
 * is in the mirror (written after a sync reached it, and by keyturnd as
 * its watch goes). A later sync asks etcd only for the keys written
 * since: every write of a domain changes a file of it that stays (its
 * state, policy, history or memo; a removed domain's history under
 * removed/), so the keys written since name every domain that changed.
 */
int
fleet_revision_load(struct store *s, int64_t *rev)
{
	char *path = store_path(s, FLEET_REVISION_FILE, NULL, NULL);
	char *buf = NULL, e2[256], *end;
	size_t len;
	long long v;
	int r;

	*rev = 0;
	r = sfile_read(s->owner, path, SFILE_OPTIONAL, &buf, &len, NULL, e2,
	    sizeof(e2));
	free(path);
	if (r != 0)
		return -1;
	v = strtoll(buf, &end, 10);
	r = (end != buf && (*end == '\n' || *end == '\0') && v > 0) ? 0 : -1;
	if (r == 0)
		*rev = v;
	free(buf);
	return r;
}

int
fleet_revision_save(struct store *s, int64_t rev, char *err, size_t errlen)
{
	char *path = store_path(s, FLEET_REVISION_FILE, NULL, NULL), line[32];
	int r;

	snprintf(line, sizeof(line), "%" PRId64 "\n", rev);
	/* under the lock: what a save that dies leaves, the next write
	 * clears (store_lock) */
	if ((r = store_lock(s, err, errlen)) == 0) {
		r = store_file_replace(path, line, strlen(line), 0600, err,
		    errlen);
		store_unlock(s);
	}
	free(path);
	return r;
}

int
fleet_sync_since(struct fleet *f, struct store *s, struct etcd *e,
    int64_t *rev, size_t *changed, size_t *bad, char *err, size_t errlen)
{
	struct etcd_range rg;
	char dom[STORE_DOMAIN_MAX + 1], e2[1024], **names = NULL, **bads;
	size_t i, j, n = 0, nbad;
	int64_t from;
	int ch, r = 0;

	if (fleet_revision_load(s, &from) == -1) {
		/*
		 * The whole prefix, durable at the end: until the revision
		 * is saved, a crash has the next sync do it all again.
		 */
		sfile_batch_begin();
		r = fleet_sync(f, s, e, rev, changed, bad, err, errlen);
		if (sfile_batch_end(s->dir, r == 0 ? err : e2, r == 0 ?
		    errlen : sizeof(e2)) == -1)
			r = -1;
		if (r == -1)
			return -1;
		if (fleet_revision_save(s, *rev, e2, sizeof(e2)) == -1)
			log_warnx("fleet: %s", e2);
		return 0;
	}
	*changed = *bad = 0;
	if (fleet_format(f, e, 0, err, errlen) == -1)
		return -1;
	{
		char *pre = fleet_key(f, "", NULL);

		r = etcd_range_since(e, pre, from + 1, &rg, err, errlen);
		free(pre);
	}
	if (r == -1)
		return -1;
	*rev = rg.revision;
	names = xcalloc(rg.n + 1, sizeof(*names));
	for (i = 0; i < rg.n; i++) {
		if (!fleet_key_domain(f, rg.kvs[i].key, rg.kvs[i].keylen, dom,
		    sizeof(dom)) || store_domain_valid(dom, e2,
		    sizeof(e2)) == -1)
			continue;
		for (j = 0; j < n && strcmp(names[j], dom) != 0; j++)
			;
		if (j == n)
			names[n++] = xstrdup(dom);
	}
	etcd_range_free(&rg);
	/* and the domains still bad, whatever changed */
	bads = fleet_bad_load(s, &nbad);
	names = xreallocarray(names, n + nbad + 1, sizeof(*names));
	for (i = 0; i < nbad; i++) {
		for (j = 0; j < n && strcmp(names[j], bads[i]) != 0; j++)
			;
		if (j == n)
			names[n++] = xstrdup(bads[i]);
	}
	store_names_free(bads, nbad);
	for (i = 0; i < n; i++) {
		if (fleet_sync_domain(f, s, e, names[i], &ch, e2,
		    sizeof(e2)) == -1) {
			log_warnx("fleet: %s: the mirror keeps the domain as "
			    "it was", e2);
			(*bad)++;
		} else if (ch)
			(*changed)++;
		free(names[i]);
	}
	free(names);
	if (fleet_revision_save(s, *rev, e2, sizeof(e2)) == -1)
		log_warnx("fleet: %s", e2);
	return 0;
}

/* ---- format ---- */

int
fleet_format(struct fleet *f, struct etcd *e, int create, char *err,
    size_t errlen)
{
	struct etcd_range rg;
	struct etcd_cmp cmp;
	struct etcd_op op;
	char *key = fleet_key(f, FLEET_FORMAT, NULL), *want, e2[512];
	int r = -1, t;

	want = xasprintf("%s kek=%s", FLEET_FORMAT_VERSION, kek_id(f->kek));
	memset(&rg, 0, sizeof(rg));
	if (etcd_range(e, key, strlen(key), NULL, 0, 0, 0, 0, &rg, e2,
	    sizeof(e2)) != 0) {
		snprintf(err, errlen, "%s", e2);
		goto out;
	}
	if (rg.n == 0 && create) {
		memset(&cmp, 0, sizeof(cmp));
		cmp.key = key;
		cmp.target = ETCD_VERSION;
		cmp.op = ETCD_EQ;
		memset(&op, 0, sizeof(op));
		op.type = ETCD_PUT;
		op.key = key;
		op.value = want;
		op.vlen = strlen(want);
		if ((t = etcd_txn(e, &cmp, 1, &op, 1, NULL, e2,
		    sizeof(e2))) == -1) {
			snprintf(err, errlen, "%s", e2);
			goto out;
		}
		etcd_range_free(&rg);
		memset(&rg, 0, sizeof(rg));
		if (etcd_range(e, key, strlen(key), NULL, 0, 0, 0, 0, &rg, e2,
		    sizeof(e2)) != 0) {
			snprintf(err, errlen, "%s", e2);
			goto out;
		}
	}
	if (rg.n == 0) {
		snprintf(err, errlen, "etcd has no keystore under %s (no %s "
		    "key): start one with keyturn init, or upload a keystore "
		    "with keyturn fleet push", f->prefix, key);
		goto out;
	}
	if (rg.kvs[0].vlen != strlen(want) ||
	    memcmp(rg.kvs[0].value, want, strlen(want)) != 0) {
		if (rg.kvs[0].vlen > strlen(FLEET_FORMAT_VERSION) &&
		    memcmp(rg.kvs[0].value, FLEET_FORMAT_VERSION " kek=",
		    strlen(FLEET_FORMAT_VERSION " kek=")) == 0)
			snprintf(err, errlen, "%s: the fleet's keys are "
			    "sealed under the key-encryption key %.*s, and "
			    "FleetKEK is %s: every host needs the same "
			    "FleetKEK file", key, (int)(rg.kvs[0].vlen -
			    strlen(FLEET_FORMAT_VERSION " kek=")),
			    (char *)rg.kvs[0].value +
			    strlen(FLEET_FORMAT_VERSION " kek="),
			    kek_id(f->kek));
		else
			snprintf(err, errlen, "%s: \"%.*s\": not a keystore "
			    "format this keyturn reads (%s)", key,
			    (int)(rg.kvs[0].vlen > 64 ? 64 : rg.kvs[0].vlen),
			    (char *)rg.kvs[0].value, FLEET_FORMAT_VERSION);
		goto out;
	}
	r = 0;
out:
	etcd_range_free(&rg);
	free(key);
	free(want);
	return r;
}

/* ---- writing through ---- */

static void
fleet_snap_free(struct fleet_snap *sn)
{
	if (sn == NULL)
		return;
	free(sn->domain);
	ffiles_free(sn->f, sn->n);
	free(sn);
}

/* fleet_client - the store's own etcd client, made on its first write */
static struct etcd *
fleet_client(struct store *s, char *err, size_t errlen)
{
	if (s->etcd == NULL)
		s->etcd = fleet_etcd(s->fleet, err, errlen);
	return s->etcd;
}

/*
 * sfleet_begin - the first step of a write with a fleet (swrite_begin and
 * the writers that take the lock themselves, lock held): the domain as
 * etcd has it now, into the mirror; what was read is kept to commit
 * against. Nested writes of the same domain share the outer one's.
 */
int
sfleet_begin(struct store *s, const char *domain, char *err, size_t errlen)
{
	struct fleet *f = s->fleet;
	struct fleet_snap *sn;
	struct etcd *e;
	int changed;

	if (f == NULL || s->fdepth++ > 0)
		return 0;
	if ((e = fleet_client(s, err, errlen)) == NULL) {
		s->fdepth--;
		return -1;
	}
	if (f->need_fence && !fleet_leading(f, NULL)) {
		snprintf(err, errlen, "%s: not written: this keyturnd does "
		    "not lead the fleet's rotation", domain);
		s->fdepth--;
		return -1;
	}
	sn = xcalloc(1, sizeof(*sn));
	sn->domain = xstrdup(domain);
	if (fleet_fetch(f, e, domain, &sn->f, &sn->n, &sn->rev, err,
	    errlen) != 0 ||
	    fleet_check(domain, sn->f, sn->n, err, errlen) == -1 ||
	    fleet_apply(s, domain, sn->f, sn->n, &changed, err,
	    errlen) == -1) {
		fleet_snap_free(sn);
		s->fdepth--;
		return -1;
	}
	/*
	 * The write changes the mirror before its commit: until the commit
	 * (or the mirror is read back), the domain is on the list a sync
	 * reads again, so that a writer that dies in between leaves a
	 * mirror the next catch-up repairs, not one with what etcd lacks.
	 */
	fleet_bad_mark(s, domain, 1);
	s->fsnap = sn;
	return 0;
}

/* fleet_seal - a key file sealed for its etcd key */
static int
fleet_seal(struct fleet *f, const char *key, const struct ffile *ff,
    unsigned char **blob, size_t *len, char *err, size_t errlen)
{
	const char *aad = key + strlen(f->prefix);

	return kek_seal(f->kek, aad, strlen(aad), ff->data, ff->len, blob,
	    len, err, errlen);
}

/* fleet_file_key - the etcd key of a domain's file */
static char *
fleet_file_key(const struct fleet *f, const char *domain,
    const struct ffile *ff)
{
	return xasprintf("%s%s%s/%s", f->prefix, ff->removed ? FLEET_REMOVED :
	    FLEET_DOMAINS, domain, ff->rel);
}

/*
 * fleet_commit - the mirror's files of the domain that differ from what
 * was fetched, in one transaction fenced on what was fetched; 1 when
 * committed (or nothing to commit), 0 when refused, -1 on error
 */
static int
fleet_commit(struct store *s, struct fleet_snap *sn, char *err,
    size_t errlen)
{
	struct fleet *f = s->fleet;
	struct ffile *local = NULL, *l, *o;
	struct etcd_cmp cmps[5];
	struct etcd_op *ops = NULL;
	char **keys = NULL, *lkey = NULL, *dpre, *dend, *rkey, *skey;
	unsigned char **blobs = NULL;
	size_t nlocal = 0, ncmp = 0, nops = 0, nkeys = 0, i, max, dendlen;
	int64_t term, lease, rev;
	int r = -1;

	if (fleet_local(s, sn->domain, &local, &nlocal, err, errlen) == -1)
		return -1;
	max = nlocal + sn->n + 2;
	ops = xcalloc(max, sizeof(*ops));
	keys = xcalloc(max, sizeof(*keys));
	blobs = xcalloc(max, sizeof(*blobs));
	for (i = 0; i < nlocal; i++) {
		l = &local[i];
		o = ffind(sn->f, sn->n, l->rel, l->removed);
		if (o != NULL && o->len == l->len &&
		    memcmp(o->data, l->data, l->len) == 0)
			continue;
		keys[nkeys] = fleet_file_key(f, sn->domain, l);
		ops[nops].type = ETCD_PUT;
		ops[nops].key = keys[nkeys++];
		if (l->secret) {
			if (fleet_seal(f, ops[nops].key, l, &blobs[nops],
			    &ops[nops].vlen, err, errlen) == -1)
				goto out;
			ops[nops].value = blobs[nops];
		} else {
			ops[nops].value = l->data;
			ops[nops].vlen = l->len;
		}
		nops++;
	}
	for (i = 0; i < sn->n; i++) {
		o = &sn->f[i];
		if (ffind(local, nlocal, o->rel, o->removed) != NULL)
			continue;
		keys[nkeys] = fleet_file_key(f, sn->domain, o);
		ops[nops].type = ETCD_DELETE;
		ops[nops].key = keys[nkeys++];
		nops++;
	}
	if (nops == 0) {
		r = 1;
		goto out;
	}
	/*
	 * What was read is what is there: no file of the domain written
	 * (or made) since the revision it was read at, nor its removed
	 * history, and its state, when it had one, not deleted (the
	 * domain removed). Three compares whatever the domain's size.
	 */
	memset(cmps, 0, sizeof(cmps));
	dpre = xasprintf("%s%s%s/", f->prefix, FLEET_DOMAINS, sn->domain);
	dend = etcd_prefix_end(dpre, strlen(dpre), &dendlen);
	rkey = xasprintf("%s%s%s/%s", f->prefix, FLEET_REMOVED, sn->domain,
	    STORE_HISTORY);
	skey = xasprintf("%s%s", dpre, STORE_STATE);
	cmps[ncmp].key = dpre;
	cmps[ncmp].range_end = dend;
	cmps[ncmp].endlen = dendlen;
	cmps[ncmp].target = ETCD_MOD;
	cmps[ncmp].op = ETCD_LT;
	cmps[ncmp++].num = sn->rev + 1;
	cmps[ncmp].key = rkey;
	cmps[ncmp].target = ETCD_MOD;
	cmps[ncmp].op = ETCD_LT;
	cmps[ncmp++].num = sn->rev + 1;
	if (ffind(sn->f, sn->n, STORE_STATE, 0) != NULL) {
		cmps[ncmp].key = skey;
		cmps[ncmp].target = ETCD_VERSION;
		cmps[ncmp].op = ETCD_GT;
		cmps[ncmp++].num = 0;
	}
	pthread_mutex_lock(&f->lock);
	term = f->term;
	lease = f->lease;
	pthread_mutex_unlock(&f->lock);
	if (f->need_fence && term == 0) {
		snprintf(err, errlen, "%s: not committed: this keyturnd does "
		    "not lead the fleet's rotation", sn->domain);
		r = 0;
	} else {
		if (f->need_fence) {
			lkey = fleet_key(f, FLEET_LEADER, NULL);
			cmps[ncmp].key = lkey;
			cmps[ncmp].target = ETCD_CREATE;
			cmps[ncmp].op = ETCD_EQ;
			cmps[ncmp++].num = term;
			cmps[ncmp].key = lkey;
			cmps[ncmp].target = ETCD_LEASE;
			cmps[ncmp].op = ETCD_EQ;
			cmps[ncmp++].num = lease;
		}
		r = etcd_txn(fleet_client(s, err, errlen), cmps, ncmp, ops,
		    nops, &rev, err, errlen);
	}
	if (r == 1) {
		if (f->need_fence)
			log_info("fleet: %s committed at revision %" PRId64
			    " (leader term %" PRId64 ")", sn->domain, rev,
			    term);
	} else if (r == 0 && !(f->need_fence && term == 0))
		snprintf(err, errlen, "%s: not committed: %s", sn->domain,
		    f->need_fence ? "etcd refused the transaction (the "
		    "domain changed meanwhile, or this keyturnd no longer "
		    "holds the rotation lease)" : "the domain changed in "
		    "etcd while this write was made; nothing was written, "
		    "try again");
	free(dpre);
	free(dend);
	free(rkey);
	free(skey);
out:
	for (i = 0; i < max; i++)
		free(blobs[i]);
	for (i = 0; i < nkeys; i++)
		free(keys[i]);
	free(keys);
	free(blobs);
	free(ops);
	free(lkey);
	ffiles_free(local, nlocal);
	return r;
}

/*
 * fleet_lost_check - after a refused fenced transaction: is P leader
 * still ours? When not, the fence is dropped (the session thread runs
 * for the lead again).
 */
static void
fleet_lost_check(struct store *s)
{
	struct fleet *f = s->fleet;
	struct etcd_range rg;
	char *key = fleet_key(f, FLEET_LEADER, NULL), e2[256];
	int64_t term, lease;

	pthread_mutex_lock(&f->lock);
	term = f->term;
	lease = f->lease;
	pthread_mutex_unlock(&f->lock);
	memset(&rg, 0, sizeof(rg));
	if (term != 0 && etcd_range(s->etcd, key, strlen(key), NULL, 0, 0, 0,
	    0, &rg, e2, sizeof(e2)) == 0 && (rg.n == 0 ||
	    rg.kvs[0].create_rev != term || rg.kvs[0].lease != lease)) {
		log_warnx("fleet: the rotation lease of term %" PRId64 " is "
		    "lost: stepping down", term);
		pthread_mutex_lock(&f->lock);
		if (f->term == term)
			f->term = f->lease = 0;
		pthread_mutex_unlock(&f->lock);
	}
	etcd_range_free(&rg);
	free(key);
}

int
fleet_fence_lost(struct fleet *f)
{
	return !fleet_leading(f, NULL);
}

/*
 * sfleet_end - the last step of a write (lock still held): commit what
 * changed when the write succeeded (r 0); when it failed or the commit
 * did, the mirror is read back from etcd. Returns r, or -1 with err when
 * the commit failed.
 */
int
sfleet_end(struct store *s, const char *domain, int r, char *err,
    size_t errlen)
{
	struct fleet_snap *sn = s->fsnap;
	struct ffile *v;
	size_t n;
	char e2[1024];
	int c, changed;

	if (s->fleet == NULL || s->fdepth == 0 || --s->fdepth > 0)
		return r;
	s->fsnap = NULL;
	if (sn == NULL)
		return r;
	if (r == 0) {
		c = fleet_commit(s, sn, err, errlen);
		if (c == 0 && s->fleet->need_fence)
			fleet_lost_check(s);
		if (c != 1)
			r = -1;
		else
			fleet_bad_mark(s, domain, 0);	/* etcd has it */
	}
	if (r == -1) {
		/* the mirror is etcd's again, whatever the write left */
		if (s->etcd != NULL && fleet_fetch(s->fleet, s->etcd, domain,
		    &v, &n, NULL, e2, sizeof(e2)) == 0) {
			if (fleet_apply(s, domain, v, n, &changed, e2,
			    sizeof(e2)) == -1)
				log_warnx("fleet: %s", e2);
			else
				fleet_bad_mark(s, domain, 0);
			ffiles_free(v, n);
		} else
			log_warnx("fleet: %s: the mirror may hold a change "
			    "etcd does not have until the next sync: %s",
			    domain, e2);
	}
	fleet_snap_free(sn);
	return r;
}

/* ---- keyturn fleet push ---- */

int
fleet_push(struct fleet *f, struct store *s, struct etcd *e, size_t *count,
    char *err, size_t errlen)
{
	struct etcd_range rg;
	char *pre, **names = NULL, e2[1024];
	size_t n = 0, i;
	struct fleet_snap sn;
	DIR *dp;
	struct dirent *de;
	char *rdir;
	int r = -1;

	*count = 0;
	pre = fleet_key(f, "", NULL);
	memset(&rg, 0, sizeof(rg));
	{
		char *end;
		size_t endlen;

		end = etcd_prefix_end(pre, strlen(pre), &endlen);
		r = etcd_range(e, pre, strlen(pre), end, endlen, 0, 0,
		    ETCD_COUNT_ONLY, &rg, err, errlen);
		free(end);
	}
	if (r != 0) {
		free(pre);
		return -1;
	}
	r = -1;
	if (rg.count > 0) {
		snprintf(err, errlen, "etcd already has %" PRId64 " keys under "
		    "%s: keyturn fleet push uploads a keystore only into an "
		    "empty prefix", rg.count, pre);
		etcd_range_free(&rg);
		free(pre);
		return -1;
	}
	etcd_range_free(&rg);
	free(pre);
	if (fleet_format(f, e, 1, err, errlen) == -1)
		return -1;
	if (store_lock(s, err, errlen) == -1)
		return -1;
	if (store_domain_names(s, &names, &n, err, errlen) == -1)
		goto out;
	/* each domain is committed as a write would be, against nothing */
	s->fleet = f;
	s->etcd = e;
	for (i = 0; i < n; i++) {
		memset(&sn, 0, sizeof(sn));
		sn.domain = names[i];
		if (fleet_commit(s, &sn, e2, sizeof(e2)) != 1) {
			snprintf(err, errlen, "%s (%zu of %zu domains "
			    "uploaded)", e2, *count, n);
			goto out;
		}
		(*count)++;
	}
	/* the histories of removed domains keep their selectors taken */
	rdir = store_path(s, STORE_REMOVED_DIR, NULL, NULL);
	if ((dp = opendir(rdir)) != NULL) {
		while ((de = readdir(dp)) != NULL) {
			if (de->d_name[0] == '.' ||
			    bsearch(&(char *){ de->d_name }, names, n,
			    sizeof(*names), strp_cmp) != NULL)
				continue;
			memset(&sn, 0, sizeof(sn));
			sn.domain = de->d_name;
			if (fleet_commit(s, &sn, e2, sizeof(e2)) != 1) {
				snprintf(err, errlen, "%s", e2);
				closedir(dp);
				free(rdir);
				goto out;
			}
		}
		closedir(dp);
	}
	free(rdir);
	r = 0;
out:
	s->etcd = NULL;
	s->fleet = NULL;
	store_unlock(s);
	store_names_free(names, n);
	return r;
}
