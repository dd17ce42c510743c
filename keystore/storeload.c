/*
 * storeload - reading domains, their keys and their history
 *
 * Readers take no lock. A domain is its policy and state file, each read
 * whole from one descriptor; the key files a state line names were written
 * before it, so a reader that sees a state sees its keys. The one race
 * left, a key file unlinked (revoked) after the state the reader holds was
 * replaced, is retried from the new state. A loaded domain remembers the
 * identity of the files it came from so a reload can skip it.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "duration.h"
#include "log.h"
#include "store_int.h"
#include "xmalloc.h"

/* sload_new - a domain with one reference, to be filled by the loader */
struct store_domain *
sload_new(void)
{
	struct store_domain *d = xcalloc(1, sizeof(*d));

	d->refs = 1;
	return d;
}

/* sload_key - parse a private key file and check it against the state */
int
sload_key(struct store *s, const char *domain, struct store_key *k,
    char *err, size_t errlen)
{
	char *file = xasprintf("%s.pem", k->selector), *path, *buf, *spki, *p;
	size_t len;
	EVP_PKEY *pk;
	int r = -1;

	path = store_path(s, domain, STORE_KEYS, file);
	free(file);
	if (sfile_read(s->owner, path, SFILE_SECRET, &buf, &len, NULL, err,
	    errlen) != 0) {
		free(path);
		return -1;
	}
	pk = skey_load(path, buf, len, k->alg, err, errlen);
	sfile_wipe_free(buf, len + 1);
	if (pk == NULL) {
		free(path);
		return -1;
	}
	if (store_pkey_pub(pk, &spki, &p, err, errlen) == 0) {
		if (strcmp(spki, k->spki) != 0 || (k->alg == STORE_ALG_RSA &&
		    EVP_PKEY_get_bits(pk) != k->bits))
			snprintf(err, errlen, "%s: private key does not match "
			    "the public key of %s in the state file", path,
			    k->selector);
		else
			r = 0;
		free(spki);
		free(p);
	}
	free(path);
	if (r == 0)
		k->pkey = pk;
	else
		EVP_PKEY_free(pk);
	return r;
}

/* sload_file - read and parse one of policy or state (which = 0 or 1) */
static int
sload_file(struct store *s, struct store_domain *d, int which, char *err,
    size_t errlen)
{
	char *path = store_path(s, d->name, which ? STORE_STATE : STORE_POLICY,
	    NULL), *buf;
	size_t len;
	struct stat st;
	int r;

	if (sfile_read(s->owner, path, 0, &buf, &len, &st, err, errlen) != 0) {
		free(path);
		return -1;
	}
	if (which)
		r = sfmt_state_parse(path, buf, len, d, err, errlen);
	else
		r = sfmt_policy_parse(path, buf, len, &d->policy, err, errlen);
	free(buf);
	free(path);
	d->st_dev = st.st_dev;
	d->st_ino[which] = st.st_ino;
	d->st_mtim[which] = st.st_mtim;
	d->st_size[which] = st.st_size;
	return r;
}

/* sload_keys - private keys as flags ask (the state gave the public) */
static int
sload_keys(struct store *s, struct store_domain *d, int flags, char *err,
    size_t errlen)
{
	char *kdir;
	size_t i;
	int r = 0;

	if (flags & (STORE_KEYS_ACTIVE | STORE_KEYS_ALL)) {
		kdir = store_path(s, d->name, STORE_KEYS, NULL);
		r = sfile_check_dir(s->owner, kdir, err, errlen);
		free(kdir);
		if (r == -1)
			return -1;
	}
	for (i = 0; i < d->nkeys; i++) {
		struct store_key *k = &d->keys[i];

		if (((flags & STORE_KEYS_ACTIVE) && k->state == STORE_ACTIVE) ||
		    ((flags & STORE_KEYS_ALL) && k->state != STORE_REVOKED))
			if (sload_key(s, d->name, k, err, errlen) == -1)
				return -1;
	}
	return 0;
}

/* sload_domain - one attempt at reading a domain */
struct store_domain *
sload_domain(struct store *s, const char *name, int flags, int with_policy,
    char *err, size_t errlen)
{
	struct store_domain *d;
	char *dir;

	/* every path below is built from name: never from a bad one */
	if (store_domain_valid(name, err, errlen) == -1)
		return NULL;
	d = sload_new();
	dir = store_path(s, name, NULL, NULL);
	d->name = xstrdup(name);
	if (sfile_check_dir(s->owner, dir, err, errlen) == -1 ||
	    (with_policy && sload_file(s, d, 0, err, errlen) == -1) ||
	    sload_file(s, d, 1, err, errlen) == -1 ||
	    sload_keys(s, d, flags, err, errlen) == -1) {
		if (access(dir, F_OK) == -1 && errno == ENOENT)
			snprintf(err, errlen, "no domain %s in %s: add it with "
			    "keyturn domain add", name, s->dir);
		free(dir);
		store_domain_free(d);
		return NULL;
	}
	free(dir);
	return d;
}

/* store_domain_load - a domain as readers see it; retried on a race */
struct store_domain *
store_domain_load(struct store *s, const char *name, int flags, char *err,
    size_t errlen)
{
	struct store_domain *d = NULL;
	struct stat before, after;
	char *sp;
	int tries, changed;

	if (store_domain_valid(name, err, errlen) == -1)
		return NULL;
	sp = store_path(s, name, STORE_STATE, NULL);
	for (tries = 0; tries < 3; tries++) {
		err[0] = '\0';
		if (stat(sp, &before) == -1)
			memset(&before, 0, sizeof(before));
		if ((d = sload_domain(s, name, flags, 1, err, errlen)) != NULL)
			break;
		/* a writer replaced the state under us: read the new one */
		changed = stat(sp, &after) == 0 &&
		    (after.st_ino != before.st_ino ||
		    after.st_size != before.st_size);
		if (!changed)
			break;
	}
	free(sp);
	return d;
}

/* store_domain_ref - share a loaded domain with another snapshot */
struct store_domain *
store_domain_ref(struct store_domain *d)
{
	__atomic_add_fetch(&d->refs, 1, __ATOMIC_RELAXED);
	return d;
}

/* store_domain_free - drop a reference; the last one frees everything */
void
store_domain_free(struct store_domain *d)
{
	size_t i;

	if (d == NULL || __atomic_sub_fetch(&d->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	for (i = 0; i < d->nkeys; i++) {
		free(d->keys[i].spki);
		free(d->keys[i].p);
		EVP_PKEY_free(d->keys[i].pkey);
	}
	free(d->keys);
	free(d->name);
	free(d);
}

/* sload_same - is the file at path the one we read? */
static int
sload_same(const struct store_domain *d, const char *path, int which)
{
	struct stat st;

	if (stat(path, &st) == -1)
		return 0;
	return st.st_dev == d->st_dev && st.st_ino == d->st_ino[which] &&
	    st.st_size == d->st_size[which] &&
	    st.st_mtim.tv_sec == d->st_mtim[which].tv_sec &&
	    st.st_mtim.tv_nsec == d->st_mtim[which].tv_nsec;
}

/* store_domain_stamp - the identity of the files d was read from */
void
store_domain_stamp(const struct store_domain *d, struct store_stamp *st)
{
	int i;

	st->dev = d->st_dev;
	for (i = 0; i < 2; i++) {
		st->ino[i] = d->st_ino[i];
		st->mtim[i] = d->st_mtim[i];
		st->size[i] = d->st_size[i];
	}
}

/* store_stamp_changed - two stats, as store_domain_changed */
int
store_stamp_changed(struct store *s, const char *domain,
    const struct store_stamp *stamp)
{
	struct store_domain d;

	memset(&d, 0, sizeof(d));
	d.name = (char *)domain;
	d.st_dev = stamp->dev;
	memcpy(d.st_ino, stamp->ino, sizeof(d.st_ino));
	memcpy(d.st_mtim, stamp->mtim, sizeof(d.st_mtim));
	memcpy(d.st_size, stamp->size, sizeof(d.st_size));
	return store_domain_changed(s, &d);
}

/* store_domain_changed - two stats: lets a reload skip a domain */
int
store_domain_changed(struct store *s, const struct store_domain *d)
{
	char *pp = store_path(s, d->name, STORE_POLICY, NULL);
	char *sp = store_path(s, d->name, STORE_STATE, NULL);
	int changed = !sload_same(d, pp, 0) || !sload_same(d, sp, 1);

	free(pp);
	free(sp);
	return changed;
}

/* store_domain_key - selectors compare without case, as DNS labels do */
const struct store_key *
store_domain_key(const struct store_domain *d, const char *selector)
{
	size_t i;

	for (i = 0; i < d->nkeys; i++)
		if (strcasecmp(d->keys[i].selector, selector) == 0)
			return &d->keys[i];
	return NULL;
}

/* store_domain_count - for the active limit and the standby rules */
int
store_domain_count(const struct store_domain *d, enum store_alg alg,
    enum store_state st)
{
	size_t i;
	int n = 0;

	for (i = 0; i < d->nkeys; i++)
		if (d->keys[i].alg == alg && d->keys[i].state == st)
			n++;
	return n;
}

/* sload_strcmp - qsort order of domain names, also bsearch order */
static int
sload_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* store_own_name - see store.h */
int
store_own_name(const char *name)
{
	return sload_own_file(name);
}

/*
 * sload_own_file - the keystore's own files next to the domains, and the
 * temporary files of their replacement by a writer that died
 */
int
sload_own_file(const char *name)
{
	static const char *const own[] = { STORE_VERSION_FILE,
	    STORE_LOCK_FILE, STORE_GEN_FILE, STORE_JOURNAL_FILE };
	size_t i, n;

	/* a keystore that is the root of its own file system */
	if (strcmp(name, "lost+found") == 0)
		return 1;
	for (i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		n = strlen(own[i]);
		if (strncmp(name, own[i], n) != 0)
			continue;
		if (name[n] == '\0')
			return 1;
		if (strncmp(name + n, ".tmp.", 5) == 0 && name[n + 5] != '\0' &&
		    strspn(name + n + 5, "0123456789") == strlen(name + n + 5))
			return 1;
	}
	return 0;
}

/*
 * sload_entry - one entry of the keystore directory: 1 a domain, 0 the
 * keystore's own (dot names, sload_own_file), -1 anything else, which is
 * refused: a domain keyturnd skipped would pass its mail unsigned
 */
static int
sload_entry(struct store *s, const char *name, char *err, size_t errlen)
{
	struct stat st;
	char why[256], *p;
	int r;

	if (name[0] == '.' || sload_own_file(name))
		return 0;
	p = store_path(s, name, NULL, NULL);
	r = lstat(p, &st);
	if (r == -1)
		snprintf(err, errlen, "%s: %s", p, strerror(errno));
	else if (S_ISLNK(st.st_mode))
		snprintf(err, errlen, "%s: a symbolic link, not a domain "
		    "directory: a keystore holds its domains themselves", p);
	else if (!S_ISDIR(st.st_mode))
		snprintf(err, errlen, "%s: not a directory: a keystore holds "
		    "only its own files and one directory per domain", p);
	else if (store_domain_valid(name, why, sizeof(why)) == -1)
		snprintf(err, errlen, "%s: not a domain directory: %s", p,
		    why);
	else
		r = 1;
	free(p);
	return r == 1 ? 1 : -1;
}

/*
 * store_domain_names - every domain; dot names are the keystore's own,
 * and any other entry that is not a domain directory fails the lot
 */
int
store_domain_names(struct store *s, char ***namesp, size_t *np, char *err,
    size_t errlen)
{
	DIR *dir;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;
	int r = 0;

	if ((dir = opendir(s->dir)) == NULL) {
		snprintf(err, errlen, "%s: %s", s->dir, strerror(errno));
		return -1;
	}
	while (r != -1 && (de = readdir(dir)) != NULL) {
		if ((r = sload_entry(s, de->d_name, err, errlen)) != 1)
			continue;
		names = xreallocarray(names, n + 1, sizeof(*names));
		names[n++] = xstrdup(de->d_name);
	}
	closedir(dir);
	if (r == -1) {
		store_names_free(names, n);
		return -1;
	}
	if (n > 0)
		qsort(names, n, sizeof(*names), sload_strcmp);
	*namesp = names;
	*np = n;
	return 0;
}

/* store_names_free - free what store_domain_names returned */
void
store_names_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* ---- snapshots ---- */

/* store_set_load - a first snapshot: a reload with nothing to share */
struct store_set *
store_set_load(struct store *s, int flags, char *err, size_t errlen)
{
	return store_set_reload(s, NULL, flags, NULL, err, errlen);
}

/* sload_old - the domain of that name in the old set, if unchanged */
static struct store_domain *
sload_old(struct store *s, const struct store_set *old, const char *name)
{
	const struct store_domain *d;

	if (old == NULL || (d = store_set_find(old, name)) == NULL ||
	    store_domain_changed(s, d))
		return NULL;
	return store_domain_ref((struct store_domain *)d);
}

/* store_set_reload - a snapshot sharing every unchanged domain of old */
struct store_set *
store_set_reload(struct store *s, const struct store_set *old, int flags,
    size_t *nparsed, char *err, size_t errlen)
{
	struct store_set *set;
	char **names;
	size_t n, i, parsed = 0;

	set = xcalloc(1, sizeof(*set));
	set->generation = store_generation(s);
	if (store_domain_names(s, &names, &n, err, errlen) == -1) {
		free(set);
		return NULL;
	}
	set->domains = xcalloc(n ? n : 1, sizeof(*set->domains));
	for (i = 0; i < n; i++) {
		if ((set->domains[i] = sload_old(s, old, names[i])) == NULL) {
			set->domains[i] = store_domain_load(s, names[i], flags,
			    err, errlen);
			parsed++;
		}
		if (set->domains[i] == NULL)
			break;
		set->n++;
	}
	store_names_free(names, n);
	if (nparsed != NULL)
		*nparsed = parsed;
	if (set->n != n) {
		store_set_free(set);
		return NULL;
	}
	return set;
}

/* sload_find_cmp - bsearch comparison of a name with a domain */
static int
sload_find_cmp(const void *key, const void *elt)
{
	return strcmp(key, (*(struct store_domain *const *)elt)->name);
}

/* store_set_find - the domain of a name in a snapshot, by binary search */
const struct store_domain *
store_set_find(const struct store_set *set, const char *domain)
{
	struct store_domain *const *d;

	d = bsearch(domain, set->domains, set->n, sizeof(*set->domains),
	    sload_find_cmp);
	return d ? *d : NULL;
}

/* store_set_free - drop the snapshot's reference on each domain */
void
store_set_free(struct store_set *set)
{
	size_t i;

	if (set == NULL)
		return;
	for (i = 0; i < set->n; i++)
		store_domain_free(set->domains[i]);
	free(set->domains);
	free(set);
}

/* ---- history ---- */

/* sload_history_removed - the kept history of a removed domain */
static int
sload_history_removed(struct store *s, const char *domain,
    struct store_event **ev, size_t *n, char *err, size_t errlen)
{
	char *path = store_path(s, STORE_REMOVED_DIR, domain, STORE_HISTORY);
	char *buf;
	size_t len;
	int r;

	r = sfile_read(s->owner, path, SFILE_OPTIONAL, &buf, &len, NULL, err,
	    errlen);
	if (r == -2)
		snprintf(err, errlen, "no domain %s in %s, and no history of "
		    "one", domain, s->dir);
	if (r == 0) {
		r = sfmt_history_parse(path, buf, len, ev, n, err, errlen);
		free(buf);
	}
	free(path);
	return r;
}

/* sload_history_committed - the first histsize bytes of a live history */
static int
sload_history_committed(struct store *s, const struct store_domain *d,
    struct store_event **ev, size_t *n, char *err, size_t errlen)
{
	char *path = store_path(s, d->name, STORE_HISTORY, NULL), *buf;
	size_t len;
	int r = -1;

	if (sfile_read(s->owner, path, 0, &buf, &len, NULL, err, errlen) != 0) {
		free(path);
		return -1;
	}
	if ((off_t)len < d->histsize)
		snprintf(err, errlen, "%s: %zu bytes, but the state file says "
		    "%lld are committed (file truncated)", path, len,
		    (long long)d->histsize);
	else
		r = sfmt_history_parse(path, buf, d->histsize, ev, n, err,
		    errlen);
	free(buf);
	free(path);
	return r;
}

/* store_history_load - the committed history of a domain, live or removed */
int
store_history_load(struct store *s, const char *domain,
    struct store_event **ev, size_t *n, char *err, size_t errlen)
{
	struct store_domain *d;
	char *dir;
	int r, live;

	*ev = NULL;
	*n = 0;
	if (store_domain_valid(domain, err, errlen) == -1)
		return -1;
	dir = store_path(s, domain, NULL, NULL);
	live = access(dir, F_OK) == 0;
	free(dir);
	if (!live)
		return sload_history_removed(s, domain, ev, n, err, errlen);
	if ((d = sload_domain(s, domain, 0, 0, err, errlen)) == NULL)
		return -1;
	r = sload_history_committed(s, d, ev, n, err, errlen);
	store_domain_free(d);
	return r;
}

/* store_history_free - free what store_history_load returned */
void
store_history_free(struct store_event *ev, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(ev[i].reason);
	free(ev);
}

/* store_history_state_at - replay the history of one selector up to time t */
int
store_history_state_at(const struct store_event *ev, size_t n,
    const char *selector, time_t t)
{
	size_t i;
	int st = STORE_STATE_NONE;

	for (i = 0; i < n; i++)
		if (ev[i].when <= t &&
		    strcasecmp(ev[i].selector, selector) == 0)
			st = ev[i].to;
	return st;
}

/* ---- policy ---- */

/* store_policy_default - the policy of a domain added without options */
void
store_policy_default(struct store_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->algs = STORE_ALGBIT(STORE_ALG_RSA);
	p->bits = STORE_RSA_DEFAULT;
	p->active_keys = 1;
	p->rotate_after = 120 * 86400LL;
	p->retire_after = 7 * 86400LL;
	strlcpy(p->prefix, "kt", sizeof(p->prefix));
}

/*
 * spol_why - why one field of a policy (a STORE_POL_* bit) is out of
 * bounds, or NULL; the loader checks each line with it, so that the
 * error names the line
 */
const char *
spol_why(const struct store_policy *p, unsigned field)
{
	char why[256];

	switch (field) {
	case STORE_POL_ALGS:
		return p->algs == 0 || (p->algs & ~(STORE_ALGBIT(STORE_ALG_RSA) |
		    STORE_ALGBIT(STORE_ALG_ED25519))) ?
		    "rsa, ed25519 or both" : NULL;
	case STORE_POL_BITS:
		return p->bits < STORE_RSA_MIN || p->bits > STORE_RSA_MAX ?
		    "RSA keys have 1024 to 4096 bits (RFC 8301)" : NULL;
	case STORE_POL_ACTIVE:
		return p->active_keys < 1 ||
		    p->active_keys > STORE_MAX_ACTIVE ? "1 to 3" : NULL;
	case STORE_POL_ROTATE:
		if (p->rotate_after <= 0)
			return "must be positive";
		return p->rotate_after > STORE_DURATION_MAX ?
		    "at most 36500d (100 years)" : NULL;
	case STORE_POL_RETIRE:
		return p->retire_after < 0 ||
		    p->retire_after > STORE_DURATION_MAX ?
		    "0 to 36500d (100 years)" : NULL;
	default:
		return strlen(p->prefix) > 24 ||
		    store_selector_valid(p->prefix, why, sizeof(why)) == -1 ?
		    "1 to 24 letters, digits, '-' or '_'" : NULL;
	}
}

/* spol_value - one field of a policy as files and options spell it */
static char *
spol_value(const struct store_policy *p, unsigned field, char *buf,
    size_t len)
{
	switch (field) {
	case STORE_POL_ALGS:
		snprintf(buf, len, "%s", store_algs_name(p->algs));
		return buf;
	case STORE_POL_BITS:
		snprintf(buf, len, "%d", p->bits);
		return buf;
	case STORE_POL_ACTIVE:
		snprintf(buf, len, "%d", p->active_keys);
		return buf;
	case STORE_POL_ROTATE:
		return duration_format(p->rotate_after, buf, len);
	case STORE_POL_RETIRE:
		return duration_format(p->retire_after, buf, len);
	default:
		snprintf(buf, len, "\"%s\"", p->prefix);
		return buf;
	}
}

/* store_policy_check - the bounds files and options must respect */
int
store_policy_check(const struct store_policy *p, char *err, size_t errlen)
{
	static const char *const names[] = { "algorithms", "bits",
	    "active-keys", "rotate-after", "retire-after", "selector-prefix" };
	const char *why;
	char v[64];
	unsigned i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((why = spol_why(p, 1u << i)) != NULL) {
			snprintf(err, errlen, "%s %s: %s", names[i],
			    spol_value(p, 1u << i, v, sizeof(v)), why);
			return -1;
		}
	return 0;
}
