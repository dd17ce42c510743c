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
#include <limits.h>
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
	char *file = skey_file_name(k), *path, *buf, *spki, *p;
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
	    (with_policy && sload_check_slots(s, d, err, errlen) == -1) ||
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

/* store_domain_slot - the key a slot holds (the state has one at most) */
const struct store_key *
store_domain_slot(const struct store_domain *d, int slot)
{
	size_t i;

	for (i = 0; slot > 0 && i < d->nkeys; i++)
		if (d->keys[i].slot == slot)
			return &d->keys[i];
	return NULL;
}

/* store_domain_kid - key ids are lowercase hex: compared exactly */
const struct store_key *
store_domain_kid(const struct store_domain *d, const char *kid)
{
	size_t i;

	for (i = 0; i < d->nkeys; i++)
		if (strcmp(d->keys[i].kid, kid) == 0)
			return &d->keys[i];
	return NULL;
}

/* store_slot_free_at - the keystore's own rule, see store.h */
int
store_slot_free_at(const struct store_domain *d, int slot, time_t now,
    time_t *when)
{
	const struct store_key *k;
	long long ra = d->policy.retire_after;

	*when = 0;
	if (slot < 1 || slot > d->policy.slots)
		return -1;
	if ((k = store_domain_slot(d, slot)) == NULL)
		return 1;
	if (k->stopped != 0)
		*when = k->stopped > LLONG_MAX - ra ? (time_t)LLONG_MAX :
		    (time_t)(k->stopped + ra);
	if (k->state != STORE_REVOKED)
		return 0;
	return k->stopped == 0 || now - k->stopped >= ra;
}

/*
 * sload_check_slots - a delegated domain's keys are its slots' keys:
 * every key has a slot of the policy, one key per slot, and the slot's
 * selector; a plain domain has no slot keys
 */
int
sload_check_slots(const struct store *s, const struct store_domain *d,
    char *err, size_t errlen)
{
	char sel[STORE_SELECTOR_MAX + 1], why[256];
	const struct store_key *k;
	size_t i;

	for (i = 0; i < d->nkeys; i++) {
		k = &d->keys[i];
		why[0] = '\0';
		if (d->policy.slots == 0 && k->slot == 0)
			continue;
		if (d->policy.slots == 0 || k->slot == 0)
			snprintf(why, sizeof(why), "key %s %s, but the domain "
			    "%s delegated", k->selector, k->slot ? "has a slot" :
			    "has no slot=", d->policy.slots ? "is" : "is not");
		else if (k->slot > d->policy.slots &&
		    k->state == STORE_REVOKED)
			continue;	/* a shrink drops it in its state write */
		else if (k->slot > d->policy.slots)
			snprintf(why, sizeof(why), "key %s is in slot %d of %d",
			    k->selector, k->slot, d->policy.slots);
		else if (store_domain_slot(d, k->slot) != k)
			snprintf(why, sizeof(why), "slot %d holds two keys",
			    k->slot);
		else if (store_slot_names(&d->policy, d->name, k->slot, sel,
		    sizeof(sel), NULL, 0, why, sizeof(why)) == 0 &&
		    strcasecmp(sel, k->selector) != 0)
			snprintf(why, sizeof(why), "key %s is in slot %d, whose "
			    "selector is %s", k->selector, k->slot, sel);
		else if (why[0] == '\0')
			continue;
		snprintf(err, errlen, "%s/%s/%s: %s", s->dir, d->name,
		    STORE_STATE, why);
		return -1;
	}
	return 0;
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

	for (i = 0; i < n; i++) {
		free(ev[i].reason);
		free(ev[i].pub);
	}
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

/* store_history_holder - see store.h; a slot holds one key at a time */
int
store_history_holder(const struct store_event *ev, size_t n,
    const char *selector, time_t t, char kid[STORE_KID_LEN + 1])
{
	size_t i;
	int found = -1;

	kid[0] = '\0';
	for (i = 0; i < n; i++)
		if (ev[i].when <= t && ev[i].from == STORE_STATE_NONE &&
		    ev[i].to != STORE_STATE_NONE &&
		    strcasecmp(ev[i].selector, selector) == 0 &&
		    (found == -1 || ev[i].when >= ev[found].when))
			found = (int)i;
	if (found != -1)
		strlcpy(kid, ev[found].kid, STORE_KID_LEN + 1);
	return found;
}

/* store_history_key_state_at - replay the lines of one key up to t */
int
store_history_key_state_at(const struct store_event *ev, size_t n,
    const char *kid, time_t t)
{
	size_t i;
	int st = STORE_STATE_NONE;

	for (i = 0; kid[0] != '\0' && i < n; i++)
		if (ev[i].when <= t && strcmp(ev[i].kid, kid) == 0)
			st = ev[i].to;
	return st;
}

/* store_history_created - where a key's public key is kept */
const struct store_event *
store_history_created(const struct store_event *ev, size_t n,
    const char *kid)
{
	size_t i;

	for (i = 0; kid[0] != '\0' && i < n; i++)
		if (ev[i].from == STORE_STATE_NONE &&
		    ev[i].to != STORE_STATE_NONE &&
		    strcmp(ev[i].kid, kid) == 0)
			return &ev[i];
	return NULL;
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
	strlcpy(p->slot_selector, "kt%n", sizeof(p->slot_selector));
	strlcpy(p->slot_target, "%s.%d.%z", sizeof(p->slot_target));
	p->dns_hold = STORE_DNS_HOLD_DEFAULT;
}

/*
 * spol_render - a slot template: %n the slot, %s the slot's selector, %d
 * the domain, %z the delegate-to name, %% a '%'; an argument that is
 * NULL may not appear. 0, or -1 and why.
 */
static int
spol_render(const char *tpl, int slot, const char *sel, const char *domain,
    const char *zone, char *out, size_t len, const char **why)
{
	char num[16];
	const char *v;
	size_t n = 0;

	out[0] = '\0';
	for (; *tpl != '\0'; tpl++) {
		if (*tpl != '%') {
			num[0] = *tpl;
			num[1] = '\0';
			v = num;
		} else {
			switch (*++tpl) {
			case 'n':
				snprintf(num, sizeof(num), "%d", slot);
				v = num;
				break;
			case 's': v = sel; break;
			case 'd': v = domain; break;
			case 'z': v = zone; break;
			case '%': v = "%"; break;
			default: v = NULL; break;
			}
			if (v == NULL) {
				*why = "a template knows %n, %s, %d, %z and "
				    "%% (slot-selector only %n)";
				return -1;
			}
		}
		if ((n = strlcat(out, v, len)) >= len) {
			*why = "renders too long a name";
			return -1;
		}
	}
	return 0;
}

/* spol_target_why - a rendered target: a name in the delegate-to zone */
static const char *
spol_target_why(const char *target, const char *zone)
{
	char e[256];
	size_t n = strlen(target), z = strlen(zone);

	if (store_domain_valid(target, e, sizeof(e)) == -1)
		return "renders no valid domain name (lowercase labels of at "
		    "most 63, 253 in all)";
	if (z > 0 && (n <= z + 1 || target[n - z - 1] != '.' ||
	    strcasecmp(target + n - z, zone) != 0))
		return "renders a name outside the delegate-to zone";
	return NULL;
}

/* store_slot_names - the names of a slot, as the policy renders them */
int
store_slot_names(const struct store_policy *p, const char *domain, int slot,
    char *sel, size_t sellen, char *target, size_t tlen, char *err,
    size_t errlen)
{
	char s[STORE_SELECTOR_MAX + 1], t[STORE_DOMAIN_MAX + 2];
	const char *why = NULL;

	if (slot < 1 || slot > p->slots) {
		snprintf(err, errlen, "%s has no slot %d (it has %d)", domain,
		    slot, p->slots);
		return -1;
	}
	if (spol_render(p->slot_selector, slot, NULL, NULL, NULL, s,
	    sizeof(s), &why) == -1 ||
	    (why = store_selector_valid(s, NULL, 0) == -1 ?
	    "renders no valid selector" : NULL) != NULL) {
		snprintf(err, errlen, "slot-selector %s: %s", p->slot_selector,
		    why);
		return -1;
	}
	if (spol_render(p->slot_target, slot, s, domain, p->delegate_to, t,
	    sizeof(t), &why) == -1 ||
	    (why = spol_target_why(t, p->delegate_to)) != NULL) {
		snprintf(err, errlen, "slot-target %s for %s slot %d: %s",
		    p->slot_target, domain, slot, why);
		return -1;
	}
	if (sel != NULL)
		strlcpy(sel, s, sellen);
	if (target != NULL)
		strlcpy(target, t, tlen);
	return 0;
}

/* spol_template_why - a template that renders for every slot */
static const char *
spol_template_why(const struct store_policy *p, unsigned field)
{
	struct store_policy q = *p;
	char e[512];
	int n;

	if (field == SPOL_SLOTSEL && strstr(p->slot_selector, "%n") == NULL)
		return "must contain %n (one selector per slot)";
	if (field == SPOL_SLOTTGT && strstr(p->slot_target, "%n") == NULL &&
	    strstr(p->slot_target, "%s") == NULL)
		return "must contain %n or %s (one name per slot)";
	/* the domain and zone may not be known yet: a name of each kind */
	q.slots = STORE_SLOTS_MAX;
	if (field == SPOL_SLOTSEL)
		strlcpy(q.slot_target, "%s.%d.%z", sizeof(q.slot_target));
	else
		strlcpy(q.slot_selector, "kt%n", sizeof(q.slot_selector));
	if (q.delegate_to[0] == '\0')
		strlcpy(q.delegate_to, "example.net", sizeof(q.delegate_to));
	for (n = 1; n <= STORE_SLOTS_MAX; n++)
		if (store_slot_names(&q, "example.com", n, NULL, 0, NULL, 0, e,
		    sizeof(e)) == -1)
			return strstr(e, "outside") ?
			    "renders a name outside the delegate-to zone" :
			    strstr(e, "template knows") ? "a template knows "
			    "%n, %s, %d, %z and %% (slot-selector only %n)" :
			    "renders no valid name";
	return NULL;
}

/*
 * spol_why - why one field of a policy (a STORE_POL_* or SPOL_* bit) is
 * out of bounds, or NULL; the loader checks each line with it, so that
 * the error names the line
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
	case STORE_POL_PREFIX:
		return strlen(p->prefix) > 24 ||
		    store_selector_valid(p->prefix, why, sizeof(why)) == -1 ?
		    "1 to 24 letters, digits, '-' or '_'" : NULL;
	case STORE_POL_SLOTS:
		return p->slots < STORE_SLOTS_MIN ||
		    p->slots > STORE_SLOTS_MAX ? "2 or 3" : NULL;
	case STORE_POL_HOLD:
		return p->dns_hold < 0 || p->dns_hold > STORE_DURATION_MAX ?
		    "0 to 36500d (100 years)" : NULL;
	case SPOL_DELEGATE:
		return store_domain_valid(p->delegate_to, why,
		    sizeof(why)) == -1 ? "not a domain name" : NULL;
	default:
		return spol_template_why(p, field);
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
	case STORE_POL_SLOTS:
		snprintf(buf, len, "%d", p->slots);
		return buf;
	case STORE_POL_HOLD:
		return duration_format(p->dns_hold, buf, len);
	case SPOL_DELEGATE:
		snprintf(buf, len, "\"%s\"", p->delegate_to);
		return buf;
	case SPOL_SLOTSEL:
		snprintf(buf, len, "\"%s\"", p->slot_selector);
		return buf;
	case SPOL_SLOTTGT:
		snprintf(buf, len, "\"%s\"", p->slot_target);
		return buf;
	default:
		snprintf(buf, len, "\"%s\"", p->prefix);
		return buf;
	}
}

/*
 * store_policy_plan_why - can the slots keep up with the rotation? A
 * slot that stops signing at s is needed again at s + (slots - 1) x
 * rotate-after, takes its next key at s + retire-after, which signs after
 * the hold (at most dns-hold): the first must come strictly later.
 */
int
store_policy_plan_why(const struct store_policy *p, char *why, size_t len)
{
	char r[32], t[32], h[32], need[32], have[32], above[32], late[32];
	long long sum = p->retire_after + p->dns_hold;
	long long prod = p->rotate_after * (p->slots - 1);

	if (why != NULL && len > 0)
		why[0] = '\0';
	if (p->slots < STORE_SLOTS_MIN)
		return 0;
	duration_format(p->rotate_after, r, sizeof(r));
	duration_format(p->retire_after, t, sizeof(t));
	duration_format(p->dns_hold, h, sizeof(h));
	duration_format(sum, need, sizeof(need));
	if (prod <= sum) {
		duration_format(prod, have, sizeof(have));
		duration_format(sum / (p->slots - 1), above, sizeof(above));
		snprintf(why, len, "%d slots cannot rotate every %s: a slot "
		    "takes its next key retire-after (%s) after its last key "
		    "stopped signing, and that key signs only after the DNS "
		    "hold (dns-hold %s): %s + %s = %s must be less than "
		    "rotate-after \u00d7 (slots \u2212 1) = %s \u00d7 %d = %s; "
		    "raise --rotate-after above %s, lower --retire-after or "
		    "--dns-hold%s", p->slots, r, t, h, t, h, need, r,
		    p->slots - 1, have, above,
		    p->slots < STORE_SLOTS_MAX ? ", or use --slots 3" : "");
		return -1;
	}
	if (p->rotate_after <= sum) {
		duration_format(sum - p->rotate_after, late, sizeof(late));
		snprintf(why, len, "%d slots rotating every %s: the ready "
		    "standby is missing for up to %s after each swap "
		    "(retire-after %s + dns-hold %s - rotate-after %s), and "
		    "an emergency swap then waits for it", p->slots, r, late,
		    t, h, r);
		return 1;
	}
	return 0;
}

/* spol_delegated - a delegated domain rotates one key through its slots */
static int
spol_delegated(const struct store_policy *p, char *err, size_t errlen)
{
	if (p->delegate_to[0] == '\0' || p->slots == 0) {
		snprintf(err, errlen, "a delegated domain has delegate-to and "
		    "2 or 3 slots");
		return -1;
	}
	if ((p->algs & (p->algs - 1)) != 0 || p->active_keys != 1) {
		snprintf(err, errlen, "a delegated domain rotates one key at a "
		    "time through its slots: one algorithm, active-keys 1");
		return -1;
	}
	return store_policy_plan_why(p, err, errlen) == -1 ? -1 : 0;
}

/* store_policy_check - the bounds files and options must respect */
int
store_policy_check(const struct store_policy *p, char *err, size_t errlen)
{
	static const struct {
		const char	*name;
		unsigned	 field;
	} f[] = {
		{ "algorithms", STORE_POL_ALGS }, { "bits", STORE_POL_BITS },
		{ "active-keys", STORE_POL_ACTIVE },
		{ "rotate-after", STORE_POL_ROTATE },
		{ "retire-after", STORE_POL_RETIRE },
		{ "selector-prefix", STORE_POL_PREFIX },
		{ "delegate-to", SPOL_DELEGATE }, { "slots", STORE_POL_SLOTS },
		{ "slot-selector", SPOL_SLOTSEL },
		{ "slot-target", SPOL_SLOTTGT }, { "dns-hold", STORE_POL_HOLD }
	};
	const char *why;
	char v[STORE_DOMAIN_MAX + 8];
	unsigned i, n = 6;
	int delegated = p->slots != 0 || p->delegate_to[0] != '\0';

	if (delegated)
		n = sizeof(f) / sizeof(f[0]);
	for (i = 0; i < n; i++)
		if ((why = spol_why(p, f[i].field)) != NULL) {
			snprintf(err, errlen, "%s %s: %s", f[i].name,
			    spol_value(p, f[i].field, v, sizeof(v)), why);
			return -1;
		}
	return delegated ? spol_delegated(p, err, errlen) : 0;
}
