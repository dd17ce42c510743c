/*
 * storewrite - every change to a keystore
 *
 * A change runs under the keystore lock on a domain re-read under that
 * lock, in this order: new key files (temporary, fsync, rename), then the
 * history lines (appended after cutting any uncommitted tail, fsync), then
 * the line of the change journal (storejournal.c), then the state file
 * (temporary, fsync, rename, fsync of the directory), which commits it,
 * then the keystore generation. A crash before the state
 * rename leaves the old state with at most an unused key file and a
 * history tail past the committed size, both ignored; after it, the
 * change is complete. Revoked keys' files are removed once the state that
 * revokes them is on disk. A note (an alarm, a key unchanged) is a change
 * with no transition: its line is committed by a state write all the same.
 * Before anything is written, a key that is to become active is loaded
 * as keyturnd loads it, and a history shorter than its committed size is
 * refused, never grown back.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "duration.h"
#include "log.h"
#include "store_int.h"
#include "xmalloc.h"

/* swrite_history_short - a history that lost committed lines; 1 or 0 */
static int
swrite_history_short(const char *path, const struct stat *st,
    off_t committed, char *err, size_t errlen)
{
	if (st->st_size >= committed)
		return 0;
	snprintf(err, errlen, "%s: history is %lld bytes, the state file says "
	    "%lld are committed (file truncated?)", path,
	    (long long)st->st_size, (long long)committed);
	return 1;
}

/*
 * swrite_history - cut the uncommitted tail, append, fsync; new size. A
 * history shorter than its committed size lost lines: refused, never
 * filled up to the size the state names.
 */
off_t
swrite_history(const char *path, off_t committed, char **lines, size_t n,
    char *err, size_t errlen)
{
	off_t size = committed;
	struct stat st;
	size_t i, len;
	int fd;

	if ((fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1)
		goto fail;
	if (swrite_history_short(path, &st, committed, err, errlen)) {
		close(fd);
		return -1;
	}
	if (ftruncate(fd, committed) == -1 ||
	    lseek(fd, committed, SEEK_SET) == -1)
		goto fail;
	for (i = 0; i < n; i++) {
		len = strlen(lines[i]);
		if (write(fd, lines[i], len) != (ssize_t)len)
			goto fail;
		size += len;
	}
	if (fsync(fd) == -1)
		goto fail;
	close(fd);
	return size;
fail:
	snprintf(err, errlen, "%s: %s", path, errno ? strerror(errno) :
	    "short write");
	close(fd);
	return -1;
}

/*
 * swrite_commit - history lines, then the state file that commits them;
 * once the state is renamed into place the change is committed, so the
 * generation is bumped even when a later step (the directory fsync)
 * failed, and that failure is still reported
 */
int
swrite_commit(struct store *s, struct store_domain *d, char **lines,
    size_t nlines, char *err, size_t errlen)
{
	char *hp = store_path(s, d->name, STORE_HISTORY, NULL);
	char *sp = store_path(s, d->name, STORE_STATE, NULL), *text, e2[256];
	off_t size;
	int r = -1, renamed = 0;

	errno = 0;
	if ((size = swrite_history(hp, d->histsize, lines, nlines, err,
	    errlen)) != -1) {
		d->histsize = size;
		d->gen++;
		text = sfmt_state(d);
		if (swrite_journal(s, d->name, err, errlen) == 0)
			r = sfile_replace(sp, text, strlen(text), 0600,
			    &renamed, err, errlen);
		free(text);
	}
	if (renamed && swrite_bump(s, r == 0 ? err : e2, r == 0 ? errlen :
	    sizeof(e2)) == -1)
		r = -1;
	free(hp);
	free(sp);
	return r;
}

/*
 * swrite_begin - lock, then read the domain as it is now; a history that
 * lost committed lines is refused before any file changes
 */
struct store_domain *
swrite_begin(struct store *s, const char *domain, char *err, size_t errlen)
{
	struct store_domain *d;
	struct stat st;
	char *p;
	int r;

	if (store_lock(s, err, errlen) == -1)
		return NULL;
	if (sfleet_begin(s, domain, err, errlen) == -1) {
		store_unlock(s);
		return NULL;
	}
	if ((d = sload_domain(s, domain, 0, 1, err, errlen)) == NULL) {
		(void)sfleet_end(s, domain, -1, err, errlen);
		store_unlock(s);
		return NULL;
	}
	p = store_path(s, domain, STORE_HISTORY, NULL);
	if ((r = lstat(p, &st)) == -1)
		snprintf(err, errlen, "%s: %s", p, strerror(errno));
	if (r == -1 || swrite_history_short(p, &st, d->histsize, err,
	    errlen)) {
		free(p);
		(void)swrite_end(s, d, -1, err, errlen);
		return NULL;
	}
	free(p);
	p = store_path(s, domain, NULL, NULL);
	sfile_clean_tmp(p);
	free(p);
	p = store_path(s, domain, STORE_KEYS, NULL);
	sfile_clean_tmp(p);
	free(p);
	return d;
}

/*
 * swrite_end - release what swrite_begin took; r is the write's result,
 * returned unless committing it to the fleet failed (-1 and err)
 */
int
swrite_end(struct store *s, struct store_domain *d, int r, char *err,
    size_t errlen)
{
	r = sfleet_end(s, d->name, r, err, errlen);
	store_domain_free(d);
	store_unlock(s);
	return r;
}

int
store_domain_file_save(struct store *s, const char *domain, const char *file,
    const void *data, size_t len, char *err, size_t errlen)
{
	char *path, *dir;
	int r;

	if (store_lock(s, err, errlen) == -1)
		return -1;
	if (sfleet_begin(s, domain, err, errlen) == -1) {
		store_unlock(s);
		return -1;
	}
	path = store_domain_path(s, domain, file);
	dir = xstrdup(path);
	sfile_clean_tmp(dirname(dir));	/* left by a save that died */
	free(dir);
	r = store_file_replace(path, data, len, 0600, err, errlen);
	free(path);
	r = sfleet_end(s, domain, r, err, errlen);
	store_unlock(s);
	return r;
}

/* swrite_lines_free - free history lines once written */
static void
swrite_lines_free(char **lines, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

/* ---- transitions ---- */

/* store_transition_ok - the lifecycle rules, a pure function */
int
store_transition_ok(enum store_state from, enum store_state to, int flags,
    const char **why)
{
	if (from == to)
		*why = "it is already in that state";
	else if (from == STORE_REVOKED)
		*why = "a revoked key is never used again";
	else if ((flags & STORE_COMPROMISE) && to == STORE_REVOKED)
		return 0;
	else if (from == STORE_PENDING && to == STORE_ACTIVE)
		return (flags & STORE_FORCE) ? 0 : (*why = "its DNS record is "
		    "not confirmed yet, so mail signed with it may fail "
		    "verification (force it with --force)", -1);
	else if ((from == STORE_PENDING && (to == STORE_READY ||
	    to == STORE_REVOKED)) ||
	    (from == STORE_READY && (to == STORE_ACTIVE ||
	    to == STORE_PENDING || to == STORE_REVOKED)) ||
	    (from == STORE_ACTIVE && to == STORE_RETIRING) ||
	    (from == STORE_RETIRING && to == STORE_REVOKED))
		return 0;
	else if (from == STORE_ACTIVE && to == STORE_REVOKED)
		*why = "an active key is retired first (keyturn retire), or "
		    "revoked at once with keyturn compromised";
	else if (to == STORE_RETIRING)
		*why = "only an active key retires";
	else if (to == STORE_ACTIVE)
		*why = "only a ready key is activated";
	else
		*why = "the lifecycle is pending, ready, active, retiring, "
		    "revoked";
	return -1;
}

/* swrite_check_one - one change against the domain as it is */
static int
swrite_check_one(const struct store_domain *d, const struct store_change *c,
    int flags, char *err, size_t errlen)
{
	const struct store_key *k = store_domain_key(d, c->selector);
	const char *why;

	if (k == NULL) {
		snprintf(err, errlen, "domain %s has no key %s (see keyturn "
		    "list %s)", d->name, c->selector, d->name);
		return -1;
	}
	if (k->state != c->from) {
		snprintf(err, errlen, "key %s of %s is %s, not %s: the "
		    "keystore changed meanwhile; look again and retry",
		    k->selector, d->name, store_state_name(k->state),
		    store_state_name(c->from));
		return -1;
	}
	if (store_transition_ok(c->from, c->to, flags, &why) == -1) {
		snprintf(err, errlen, "key %s of %s is %s and cannot become "
		    "%s: %s", k->selector, d->name, store_state_name(k->state),
		    store_state_name(c->to), why);
		return -1;
	}
	return 0;
}

/* swrite_check_limit - at most 3 active keys per algorithm */
static int
swrite_check_limit(const struct store_domain *d, char *err, size_t errlen)
{
	int a, n;

	for (a = 0; a < STORE_NALGS; a++)
		if ((n = store_domain_count(d, a, STORE_ACTIVE)) >
		    STORE_MAX_ACTIVE) {
			snprintf(err, errlen, "domain %s would have %d active "
			    "%s keys; at most %d may sign: retire one first",
			    d->name, n, store_alg_name(a), STORE_MAX_ACTIVE);
			return -1;
		}
	return 0;
}

/*
 * swrite_check_signing - with STORE_KEEP_SIGNING, no algorithm of the
 * policy loses its last active key (old: the states before the changes)
 */
static int
swrite_check_signing(const struct store_domain *d,
    const struct store_change *c, size_t n, char *err, size_t errlen)
{
	const struct store_key *k;
	size_t i;

	for (i = 0; i < n; i++) {
		k = store_domain_key(d, c[i].selector);
		if (c[i].from != STORE_ACTIVE || c[i].to == STORE_ACTIVE ||
		    !(d->policy.algs & STORE_ALGBIT(k->alg)) ||
		    store_domain_count(d, k->alg, STORE_ACTIVE) > 0)
			continue;
		snprintf(err, errlen, "key %s is the last active %s key of %s: "
		    "without it keyturnd cannot sign the domain's mail and "
		    "tempfails it; activate another key first, or use --force",
		    k->selector, store_alg_name(k->alg), d->name);
		return -1;
	}
	return 0;
}

/*
 * swrite_check_keys - a key that is to sign must load as keyturnd loads
 * it: a broken key file would make the daemon refuse the whole domain
 */
static int
swrite_check_keys(struct store *s, struct store_domain *d,
    const struct store_change *c, size_t n, char *err, size_t errlen)
{
	struct store_key *k;
	char why[768];
	size_t i;

	for (i = 0; i < n; i++) {
		if (c[i].to != STORE_ACTIVE)
			continue;
		k = (struct store_key *)store_domain_key(d, c[i].selector);
		if (k->pkey == NULL &&
		    sload_key(s, d->name, k, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "key %s of %s cannot sign: %s",
			    k->selector, d->name, why);
			return -1;
		}
	}
	return 0;
}

/* swrite_apply - checks, then changes d in memory and commits */
static int
swrite_apply(struct store *s, struct store_domain *d,
    const struct store_change *c, size_t n, time_t now, int flags,
    char *err, size_t errlen)
{
	char **lines = xcalloc(n ? n : 1, sizeof(*lines)), *pem, *file;
	struct store_key *k;
	size_t i, j;
	int r;

	for (i = 0; i < n; i++) {
		for (j = 0; j < i; j++)
			if (strcasecmp(c[i].selector, c[j].selector) == 0) {
				snprintf(err, errlen, "key %s changes twice in "
				    "one write", c[i].selector);
				free(lines);
				return -1;
			}
		if (swrite_check_one(d, &c[i], flags, err, errlen) == -1) {
			free(lines);
			return -1;
		}
	}
	if (swrite_check_keys(s, d, c, n, err, errlen) == -1) {
		free(lines);
		return -1;
	}
	for (i = 0; i < n; i++) {
		k = (struct store_key *)store_domain_key(d, c[i].selector);
		lines[i] = sfmt_event(now, k, k->state, c[i].to, 0,
		    c[i].reason);
		if (k->state == STORE_ACTIVE && c[i].to != STORE_ACTIVE)
			k->stopped = now;
		k->state = c[i].to;
		k->since = now;
	}
	if ((r = swrite_check_limit(d, err, errlen)) == 0 &&
	    (!(flags & STORE_KEEP_SIGNING) ||
	    (r = swrite_check_signing(d, c, n, err, errlen)) == 0))
		r = swrite_commit(s, d, lines, n, err, errlen);
	for (i = 0; r == 0 && i < n; i++)
		if (c[i].to == STORE_REVOKED) {
			k = (struct store_key *)store_domain_key(d,
			    c[i].selector);
			file = skey_file_name(k);
			pem = store_path(s, d->name, STORE_KEYS, file);
			/* revoked: done; its private key should not stay */
			if (unlink(pem) == -1 && errno != ENOENT)
				log_warn("%s: revoked key %s of %s, private "
				    "key not removed", pem, k->selector,
				    d->name);
			free(pem);
			free(file);
		}
	swrite_lines_free(lines, n);
	return r;
}

/* store_apply - one atomic write of a set of transitions */
int
store_apply(struct store *s, const char *domain,
    const struct store_change *c, size_t n, time_t now, int flags, char *err,
    size_t errlen)
{
	struct store_domain *d;
	int r;

	if ((d = swrite_begin(s, domain, err, errlen)) == NULL)
		return -1;
	r = swrite_apply(s, d, c, n, now, flags & ~STORE_COMPROMISE, err,
	    errlen);
	return swrite_end(s, d, r, err, errlen);
}

/* store_note - an event that changes no state, committed like a change */
int
store_note(struct store *s, const char *domain, const char *selector,
    time_t now, const char *reason, char *err, size_t errlen)
{
	struct store_domain *d;
	const struct store_key *k;
	char *line;
	int r = -1;

	if ((d = swrite_begin(s, domain, err, errlen)) == NULL)
		return -1;
	if ((k = store_domain_key(d, selector)) == NULL)
		snprintf(err, errlen, "domain %s has no key %s", domain,
		    selector);
	else {
		line = sfmt_event(now, k, k->state, k->state, 0, reason);
		r = swrite_commit(s, d, &line, 1, err, errlen);
		free(line);
	}
	return swrite_end(s, d, r, err, errlen);
}

/*
 * swrite_standby - the oldest ready key of an algorithm whose key file
 * loads; one that does not is passed over with a warning, so that the
 * compromised key is revoked all the same
 */
static const struct store_key *
swrite_standby(struct store *s, struct store_domain *d, enum store_alg alg)
{
	struct store_key *best;
	char why[768], *tried = xcalloc(d->nkeys ? d->nkeys : 1, 1);
	size_t i, b = 0;

	for (;;) {
		best = NULL;
		for (i = 0; i < d->nkeys; i++)
			if (!tried[i] && d->keys[i].alg == alg &&
			    d->keys[i].state == STORE_READY && (best == NULL ||
			    d->keys[i].created < best->created)) {
				best = &d->keys[i];
				b = i;
			}
		if (best == NULL ||
		    sload_key(s, d->name, best, why, sizeof(why)) == 0)
			break;
		log_warnx("standby %s of %s not promoted: %s", best->selector,
		    d->name, why);
		tried[b] = 1;
	}
	free(tried);
	return best;
}

/* store_compromised - revoke now; promote the standby in the same write */
int
store_compromised(struct store *s, const char *domain, const char *selector,
    time_t now, const char *reason, char *promoted, size_t promotedlen,
    char *err, size_t errlen)
{
	struct store_domain *d;
	const struct store_key *k, *sb = NULL;
	struct store_change c[2];
	char why[256];
	int r;

	promoted[0] = '\0';
	if ((d = swrite_begin(s, domain, err, errlen)) == NULL)
		return -1;
	if ((k = store_domain_key(d, selector)) == NULL) {
		snprintf(err, errlen, "domain %s has no key %s", domain,
		    selector);
		return swrite_end(s, d, -1, err, errlen);
	}
	c[0] = (struct store_change){ k->selector, k->state, STORE_REVOKED,
	    reason };
	if (k->state == STORE_ACTIVE &&
	    (sb = swrite_standby(s, d, k->alg)) != NULL)
		c[1] = (struct store_change){ sb->selector, STORE_READY,
		    STORE_ACTIVE, why };
	snprintf(why, sizeof(why), "policy: standby promoted after %s was "
	    "compromised", k->selector);
	if (sb != NULL)
		strlcpy(promoted, sb->selector, promotedlen);
	r = swrite_apply(s, d, c, sb ? 2 : 1, now, STORE_COMPROMISE, err,
	    errlen);
	if (r == -1)
		promoted[0] = '\0';
	return swrite_end(s, d, r, err, errlen);
}

/* ---- new keys ---- */

/* swrite_taken - selector in the state or anywhere in the history */
static int
swrite_taken(const struct store_domain *d, const struct store_event *ev,
    size_t nev, const char *sel)
{
	size_t i;

	if (store_domain_key(d, sel) != NULL)
		return 1;
	for (i = 0; i < nev; i++)
		if (strcasecmp(ev[i].selector, sel) == 0)
			return 1;
	return 0;
}

/* swrite_suffix - base-N, the base cut so that the result is one label */
static void
swrite_suffix(char *out, size_t outlen, const char *base, int n)
{
	char suf[16];
	size_t room;

	snprintf(suf, sizeof(suf), "-%d", n);
	room = outlen - strlen(suf);
	strlcpy(out, base, room < outlen ? room : outlen);
	strlcat(out, suf, outlen);
}

/* swrite_selector - the caller's selector, or the template's first free */
static int
swrite_selector(struct store *s, const struct store_domain *d,
    const char *want, enum store_alg alg, int bits, time_t now, char *out,
    size_t outlen, char *err, size_t errlen)
{
	struct store_event *ev;
	size_t nev;
	char base[STORE_SELECTOR_MAX + 1];
	int i, r = 0;

	if (store_history_load(s, d->name, &ev, &nev, err, errlen) == -1)
		return -1;
	if (want != NULL) {
		if (swrite_taken(d, ev, nev, want)) {
			snprintf(err, errlen, "selector %s was already used in "
			    "%s and selectors are never reused: choose another",
			    want, d->name);
			r = -1;
		} else
			strlcpy(out, want, outlen);
	} else {
		store_selector_template(d->policy.prefix, alg, bits, now, base,
		    sizeof(base));
		strlcpy(out, base, outlen);
		for (i = 2; swrite_taken(d, ev, nev, out); i++)
			swrite_suffix(out, outlen, base, i);
	}
	store_history_free(ev, nev);
	return r;
}

/* swrite_key_file - the private key file, before any state names it */
static int
swrite_key_file(struct store *s, const char *domain,
    const struct store_key *k, EVP_PKEY *pk, char *err, size_t errlen)
{
	char *pem, *file, *path, *dir;
	size_t len;
	int r;

	dir = store_path(s, domain, STORE_KEYS, NULL);
	r = sfile_check_dir(s->owner, dir, err, errlen);
	free(dir);
	if (r == -1 || skey_pem(pk, &pem, &len, err, errlen) == -1)
		return -1;
	file = skey_file_name(k);
	path = store_path(s, domain, STORE_KEYS, file);
	r = store_file_replace(path, pem, len, 0600, err, errlen);
	sfile_wipe_free(pem, len + 1);
	free(path);
	free(file);
	return r;
}

/*
 * swrite_plain - keys of a delegated domain live in its slots: a key
 * added by selector (new or imported) is refused
 */
static int
swrite_plain(const struct store_domain *d, char *err, size_t errlen)
{
	if (d->policy.slots == 0)
		return 0;
	snprintf(err, errlen, "%s is delegated: its keys live in slots; use "
	    "keyturn key new %s [--slot N]", d->name, d->name);
	return -1;
}

/* swrite_key_init - a pending key's fields from a parsed key pair */
static int
swrite_key_init(struct store_key *k, EVP_PKEY *pk, time_t now, char *err,
    size_t errlen)
{
	memset(k, 0, sizeof(*k));
	k->prev_ttl = -1;
	if (skey_describe(pk, &k->alg, &k->bits, err, errlen) == -1 ||
	    store_pkey_pub(pk, &k->spki, &k->p, err, errlen) == -1)
		return -1;
	if (store_key_id(k->spki, k->kid) == -1) {
		snprintf(err, errlen, "public key: no key id");
		free(k->spki);
		free(k->p);
		k->spki = k->p = NULL;
		return -1;
	}
	k->state = STORE_PENDING;
	k->created = k->since = now;
	return 0;
}

/* swrite_key_add - a parsed key becomes a pending key of the domain */
static int
swrite_key_add(struct store *s, const char *domain, EVP_PKEY *pk,
    const char *want, time_t now, const char *reason, char *selout,
    size_t sellen, char *err, size_t errlen)
{
	struct store_domain *d;
	struct store_key k;
	char *line;
	int r = -1;

	if (swrite_key_init(&k, pk, now, err, errlen) == -1)
		return -1;
	if ((d = swrite_begin(s, domain, err, errlen)) == NULL)
		goto out;
	if (swrite_plain(d, err, errlen) == 0 &&
	    swrite_selector(s, d, want, k.alg, k.bits, now, k.selector,
	    sizeof(k.selector), err, errlen) == 0 &&
	    swrite_key_file(s, domain, &k, pk, err, errlen) == 0) {
		d->keys = xreallocarray(d->keys, d->nkeys + 1,
		    sizeof(*d->keys));
		d->keys[d->nkeys++] = k;
		memset(&k, 0, sizeof(k));	/* d owns the strings now */
		line = sfmt_event(now, &d->keys[d->nkeys - 1],
		    STORE_STATE_NONE, STORE_PENDING, 1, reason);
		r = swrite_commit(s, d, &line, 1, err, errlen);
		free(line);
		if (r == 0)
			strlcpy(selout, d->keys[d->nkeys - 1].selector, sellen);
	}
	r = swrite_end(s, d, r, err, errlen);
out:
	free(k.spki);
	free(k.p);
	return r;
}

/* swrite_policy_allows - a key of an algorithm the domain signs with */
static int
swrite_policy_allows(struct store *s, const char *domain, enum store_alg alg,
    int *bits, char *err, size_t errlen)
{
	struct store_domain *d;
	int r = 0;

	if ((d = sload_domain(s, domain, 0, 1, err, errlen)) == NULL)
		return -1;
	if (swrite_plain(d, err, errlen) == -1)
		r = -1;
	else if (!(d->policy.algs & STORE_ALGBIT(alg))) {
		snprintf(err, errlen, "domain %s does not sign with %s: add it "
		    "with keyturn domain set %s --algorithms ...", domain,
		    store_alg_name(alg), domain);
		r = -1;
	}
	if (*bits == 0)
		*bits = alg == STORE_ALG_RSA ? d->policy.bits : 256;
	store_domain_free(d);
	return r;
}

/* store_key_new - generate outside the lock, then name and store under it */
int
store_key_new(struct store *s, const char *domain, enum store_alg alg,
    int bits, const char *selector, time_t now, const char *reason,
    char *selout, size_t sellen, char *err, size_t errlen)
{
	EVP_PKEY *pk;
	int r;

	if (selector != NULL &&
	    store_selector_valid(selector, err, errlen) == -1)
		return -1;
	if (swrite_policy_allows(s, domain, alg, &bits, err, errlen) == -1 ||
	    (pk = skey_generate(alg, bits, err, errlen)) == NULL)
		return -1;
	r = swrite_key_add(s, domain, pk, selector, now, reason, selout,
	    sellen, err, errlen);
	EVP_PKEY_free(pk);
	return r;
}

/* ---- slot keys ---- */

/*
 * swrite_slot_pick - slot 0: the lowest empty slot, else the free slot
 * whose key stopped signing longest ago; 0 when none is free
 */
static int
swrite_slot_pick(const struct store_domain *d, time_t now)
{
	time_t when, best = 0;
	int slot, pick = 0;

	for (slot = 1; slot <= d->policy.slots; slot++) {
		if (store_domain_slot(d, slot) == NULL)
			return slot;
		if (store_slot_free_at(d, slot, now, &when) == 1 &&
		    (pick == 0 || when < best)) {
			pick = slot;
			best = when;
		}
	}
	return pick;
}

/* swrite_slot_free - may this slot take a new key now? why not, in err */
static int
swrite_slot_free(const struct store_domain *d, int slot, const char *sel,
    time_t now, char *err, size_t errlen)
{
	const struct store_key *k = store_domain_slot(d, slot);
	char ago[32], ra[32];
	time_t when;

	if (store_slot_free_at(d, slot, now, &when) == 1)
		return 0;
	if (k->state != STORE_REVOKED)
		snprintf(err, errlen, "slot %s of %s holds key %s, which is %s: "
		    "a slot takes a new key only once its key is revoked",
		    sel, d->name, k->kid, store_state_name(k->state));
	else
		snprintf(err, errlen, "slot %s: its key %s stopped signing %s "
		    "ago; a slot takes a new key retire-after (%s) after its "
		    "last key stopped signing", sel, k->kid,
		    duration_format(now - k->stopped, ago, sizeof(ago)),
		    duration_format(d->policy.retire_after, ra, sizeof(ra)));
	return -1;
}

/*
 * swrite_slot_history - every committed line naming the slot's selector
 * has a key id: a line without one is a key audit could not tell from
 * the slot's later keys
 */
static int
swrite_slot_history(struct store *s, const struct store_domain *d,
    const char *sel, char *err, size_t errlen)
{
	struct store_event *ev;
	size_t n, i;
	int r = 0;

	if (store_history_load(s, d->name, &ev, &n, err, errlen) == -1)
		return -1;
	for (i = 0; i < n && r == 0; i++)
		if (ev[i].kid[0] == '\0' &&
		    strcasecmp(ev[i].selector, sel) == 0) {
			snprintf(err, errlen, "%s was used by %s before key "
			    "ids were kept: its keys could not be told apart",
			    sel, d->name);
			r = -1;
		}
	store_history_free(ev, n);
	return r;
}

/* swrite_slot_drop - the slot's revoked key leaves the state */
static void
swrite_slot_drop(struct store_domain *d, int slot)
{
	size_t i, j;

	for (i = j = 0; i < d->nkeys; i++) {
		if (d->keys[i].slot == slot) {
			free(d->keys[i].spki);
			free(d->keys[i].p);
			EVP_PKEY_free(d->keys[i].pkey);
			continue;
		}
		d->keys[j++] = d->keys[i];
	}
	d->nkeys = j;
}

/* swrite_slot_add - under the lock: checks, key file, one commit */
static int
swrite_slot_add(struct store *s, struct store_domain *d, int slot,
    struct store_key *k, EVP_PKEY *pk, const char *reason, char *err,
    size_t errlen)
{
	char *line;
	int r;

	if (d->policy.slots == 0) {
		snprintf(err, errlen, "%s is not delegated: it has no slots",
		    d->name);
		return -1;
	}
	if (slot == 0 && (slot = swrite_slot_pick(d, k->created)) == 0) {
		snprintf(err, errlen, "no slot of %s is free: a slot takes a "
		    "new key once its key is revoked and stopped signing "
		    "retire-after ago", d->name);
		return -1;
	}
	if (store_slot_names(&d->policy, d->name, slot, k->selector,
	    sizeof(k->selector), NULL, 0, err, errlen) == -1 ||
	    swrite_slot_free(d, slot, k->selector, k->created, err,
	    errlen) == -1 ||
	    swrite_slot_history(s, d, k->selector, err, errlen) == -1)
		return -1;
	k->slot = slot;
	if (swrite_key_file(s, d->name, k, pk, err, errlen) == -1)
		return -1;
	swrite_slot_drop(d, slot);
	d->keys = xreallocarray(d->keys, d->nkeys + 1, sizeof(*d->keys));
	d->keys[d->nkeys++] = *k;
	memset(k, 0, sizeof(*k));	/* d owns the strings now */
	k = &d->keys[d->nkeys - 1];
	line = sfmt_event(k->created, k, STORE_STATE_NONE, STORE_PENDING, 1,
	    reason);
	r = swrite_commit(s, d, &line, 1, err, errlen);
	free(line);
	return r;
}

/* store_slot_key_new - generate outside the lock, take the slot under it */
int
store_slot_key_new(struct store *s, const char *domain, int slot,
    enum store_alg alg, int bits, long long prev_ttl, time_t now,
    const char *reason, char *kidout, size_t kidlen, char *err,
    size_t errlen)
{
	struct store_domain *d;
	struct store_key k;
	char kid[STORE_KID_LEN + 1];
	EVP_PKEY *pk;
	int r = -1;

	if ((d = sload_domain(s, domain, 0, 1, err, errlen)) == NULL)
		return -1;
	if (d->policy.slots > 0 && !(d->policy.algs & STORE_ALGBIT(alg)))
		snprintf(err, errlen, "domain %s signs with %s, not %s", domain,
		    store_algs_name(d->policy.algs), store_alg_name(alg));
	else
		r = 0;
	if (bits == 0)
		bits = alg == STORE_ALG_RSA ? d->policy.bits : 256;
	store_domain_free(d);
	if (r == -1 || (pk = skey_generate(alg, bits, err, errlen)) == NULL)
		return -1;
	if (swrite_key_init(&k, pk, now, err, errlen) == 0) {
		k.prev_ttl = prev_ttl < -1 ? -1 : prev_ttl;
		strlcpy(kid, k.kid, sizeof(kid));
		if ((d = swrite_begin(s, domain, err, errlen)) != NULL) {
			r = swrite_slot_add(s, d, slot, &k, pk, reason, err,
			    errlen);
			r = swrite_end(s, d, r, err, errlen);
		} else
			r = -1;
		free(k.spki);
		free(k.p);
	} else
		r = -1;
	EVP_PKEY_free(pk);
	if (r == 0 && kidout != NULL)
		strlcpy(kidout, kid, kidlen);
	return r;
}

#define SWRITE_PEM_MAX	(64 * 1024)	/* larger is not a key file */

/*
 * swrite_read_pem - the operator's PEM file, any owner, read with read(2)
 * into one buffer that is wiped before it is freed (no stdio buffer)
 */
static EVP_PKEY *
swrite_read_pem(const char *path, char *err, size_t errlen)
{
	char *buf;
	size_t len = 0;
	ssize_t n;
	struct stat st;
	EVP_PKEY *pk = NULL;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	buf = xmalloc(SWRITE_PEM_MAX + 1);
	while (len <= SWRITE_PEM_MAX && (n = read(fd, buf + len,
	    SWRITE_PEM_MAX + 1 - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		len += n;
	}
	if (len > SWRITE_PEM_MAX)
		snprintf(err, errlen, "%s: too large for a key file", path);
	else
		pk = skey_parse(path, buf, len, 1, err, errlen);
out:
	close(fd);
	sfile_wipe_free(buf, SWRITE_PEM_MAX + 1);
	return pk;
}

/* swrite_import - a parsed outside key becomes a pending key */
static int
swrite_import(struct store *s, const char *domain, const char *selector,
    EVP_PKEY *pk, time_t now, const char *reason, char *err, size_t errlen)
{
	char sel[STORE_SELECTOR_MAX + 1];
	enum store_alg alg;
	int bits, r;

	if (skey_describe(pk, &alg, &bits, err, errlen) == -1 ||
	    skey_check_bits(alg, bits, err, errlen) == -1 ||
	    swrite_policy_allows(s, domain, alg, &bits, err, errlen) == -1) {
		EVP_PKEY_free(pk);
		return -1;
	}
	r = swrite_key_add(s, domain, pk, selector, now, reason, sel,
	    sizeof(sel), err, errlen);
	EVP_PKEY_free(pk);
	return r;
}

/* store_key_import - an operator's key, fully validated, stored as PKCS#8 */
int
store_key_import(struct store *s, const char *domain, const char *selector,
    const char *pemfile, time_t now, const char *reason, char *err,
    size_t errlen)
{
	EVP_PKEY *pk;

	if (store_selector_valid(selector, err, errlen) == -1 ||
	    (pk = swrite_read_pem(pemfile, err, errlen)) == NULL)
		return -1;
	return swrite_import(s, domain, selector, pk, now, reason, err,
	    errlen);
}

/*
 * store_key_import_pem - the same for a key already read: a key file the
 * keystore's owner may not read itself (read before privileges dropped)
 */
int
store_key_import_pem(struct store *s, const char *domain,
    const char *selector, const char *name, const char *pem, size_t len,
    time_t now, const char *reason, char *err, size_t errlen)
{
	EVP_PKEY *pk;

	if (store_selector_valid(selector, err, errlen) == -1 ||
	    (pk = skey_parse(name, pem, len, 1, err, errlen)) == NULL)
		return -1;
	return swrite_import(s, domain, selector, pk, now, reason, err,
	    errlen);
}

/* store_key_check_pem - would store_key_import_pem accept this key */
int
store_key_check_pem(const char *name, const char *pem, size_t len, char *err,
    size_t errlen)
{
	EVP_PKEY *pk;

	if ((pk = skey_parse(name, pem, len, 1, err, errlen)) == NULL)
		return -1;
	EVP_PKEY_free(pk);
	return 0;
}
