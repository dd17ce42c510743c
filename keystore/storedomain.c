/*
 * storedomain - adding, changing and removing a domain
 *
 * A new domain is built in KEYSTORE/.new-<domain> and renamed into place,
 * so it appears whole or not at all. A removed domain is renamed to
 * KEYSTORE/.removed/<domain> and stripped to its history there (its
 * committed lines and the removal line, written whole before the move),
 * so its selectors stay taken ("never reused") and keyturn audit can
 * still answer for mail it signed; adding it again carries that history
 * on once every line of it parses. A delegated domain is not added over
 * a history that names one of its slot selectors without a key id: the
 * keys of that selector could not be told apart.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "duration.h"
#include "log.h"
#include "store_int.h"
#include "xmalloc.h"

/* sdom_policy_text - the policy as one history reason */
static char *
sdom_policy_text(const char *what, const struct store_policy *p)
{
	char rot[32], ret[32], hold[32], *text, *out;

	text = xasprintf("operator: %s: algorithms=%s bits=%d "
	    "active-keys=%d rotate-after=%s retire-after=%s "
	    "selector-prefix=%s", what, store_algs_name(p->algs),
	    p->bits, p->active_keys,
	    duration_format(p->rotate_after, rot, sizeof(rot)),
	    duration_format(p->retire_after, ret, sizeof(ret)), p->prefix);
	if (p->slots == 0)
		return text;
	out = xasprintf("%s delegate-to=%s slots=%d slot-selector=%s "
	    "slot-target=%s dns-hold=%s", text, p->delegate_to, p->slots,
	    p->slot_selector, p->slot_target,
	    duration_format(p->dns_hold, hold, sizeof(hold)));
	free(text);
	return out;
}

/* sdom_warn_plan - a slot plan that works, but with a late standby */
static void
sdom_warn_plan(const char *name, const struct store_policy *pol)
{
	char why[512];

	if (store_policy_plan_why(pol, why, sizeof(why)) == 1)
		log_warnx("%s: %s", name, why);
}

/*
 * sdom_slots_ok - a delegated domain's slots render for its name, and no
 * kept history line of an earlier domain of that name names one of its
 * selectors without a key id
 */
static int
sdom_slots_ok(struct store *s, const char *name,
    const struct store_policy *pol, char *err, size_t errlen)
{
	char sel[STORE_SELECTOR_MAX + 1];
	struct store_event *ev;
	size_t n, i;
	int slot, r;

	for (slot = 1; slot <= pol->slots; slot++)
		if (store_slot_names(pol, name, slot, NULL, 0, NULL, 0, err,
		    errlen) == -1)
			return -1;
	if ((r = store_history_load(s, name, &ev, &n, err, errlen)) == -2)
		return 0;
	if (r == -1)
		return -1;
	for (slot = 1; r == 0 && slot <= pol->slots; slot++) {
		(void)store_slot_names(pol, name, slot, sel, sizeof(sel),
		    NULL, 0, err, errlen);
		for (i = 0; i < n; i++)
			if (ev[i].kid[0] == '\0' &&
			    strcasecmp(ev[i].selector, sel) == 0) {
				snprintf(err, errlen, "%s was used by %s before "
				    "key ids were kept; choose another "
				    "--slot-selector", sel, name);
				r = -1;
				break;
			}
	}
	store_history_free(ev, n);
	return r;
}

/*
 * sdom_history_text - a history file's first len bytes (all when len is
 * -1) into *text, parsed so that a damaged one is refused with its
 * file:line; 0, -1, or -2 when it is missing and SFILE_OPTIONAL
 */
static int
sdom_history_text(struct store *s, const char *path, off_t len, int flags,
    char **text, char *err, size_t errlen)
{
	struct store_event *ev;
	char *buf;
	size_t n, blen;
	int r;

	if ((r = sfile_read(s->owner, path, flags, &buf, &blen, NULL, err,
	    errlen)) != 0)
		return r;
	if (len == -1)
		len = blen;
	if ((off_t)blen < len) {
		snprintf(err, errlen, "%s: history is %zu bytes, the state "
		    "file says %lld are committed (file truncated?)", path,
		    blen, (long long)len);
		r = -1;
	} else if ((r = sfmt_history_parse(path, buf, len, &ev, &n, err,
	    errlen)) == 0)
		store_history_free(ev, n);
	if (r == -1) {
		free(buf);
		return -1;
	}
	buf[len] = '\0';
	*text = buf;
	return 0;
}

/*
 * sdom_old_history - the kept history of an earlier domain of that name,
 * checked whole: it becomes the committed start of the new domain's
 */
static char *
sdom_old_history(struct store *s, const char *name, char *err,
    size_t errlen)
{
	char *path = store_path(s, STORE_REMOVED_DIR, name, STORE_HISTORY);
	char *text = NULL;

	if (sdom_history_text(s, path, -1, SFILE_OPTIONAL, &text, err,
	    errlen) == -2)
		text = xstrdup(SFMT_HISTORY_HEADER);
	free(path);
	return text;
}

/* sdom_build - the files of a new domain in dir */
static int
sdom_build(struct store *s, const char *dir, const char *name,
    const struct store_policy *pol, time_t now, char *err, size_t errlen)
{
	struct store_domain d;
	char *hist, *line, *all, *text, *p;
	int r;

	if ((hist = sdom_old_history(s, name, err, errlen)) == NULL)
		return -1;
	text = sdom_policy_text("domain added", pol);
	line = sfmt_event(now, NULL, STORE_STATE_NONE, STORE_STATE_NONE, 0,
	    text);
	free(text);
	all = xasprintf("%s%s", hist, line);
	free(hist);
	free(line);
	memset(&d, 0, sizeof(d));
	d.policy = *pol;
	d.gen = 1;
	d.histsize = strlen(all);
	p = xasprintf("%s/%s", dir, STORE_HISTORY);
	r = store_file_replace(p, all, strlen(all), 0600, err, errlen);
	free(p);
	free(all);
	if (r == 0) {
		text = sfmt_policy(pol);
		p = xasprintf("%s/%s", dir, STORE_POLICY);
		r = store_file_replace(p, text, strlen(text), 0600, err,
		    errlen);
		free(p);
		free(text);
	}
	if (r == 0) {
		text = sfmt_state(&d);
		p = xasprintf("%s/%s", dir, STORE_STATE);
		r = store_file_replace(p, text, strlen(text), 0600, err,
		    errlen);
		free(p);
		free(text);
	}
	return r;
}

/* sdom_add_locked - build aside, rename into place */
static int
sdom_add_locked(struct store *s, const char *name,
    const struct store_policy *pol, time_t now, char *err, size_t errlen)
{
	char *dir = store_path(s, name, NULL, NULL), *tmp, *keys, *old;
	char *tname = xasprintf(".new-%s", name), e2[256];
	int r = -1;

	tmp = store_path(s, tname, NULL, NULL);
	keys = store_path(s, tname, STORE_KEYS, NULL);
	old = store_path(s, STORE_REMOVED_DIR, name, NULL);
	if (access(dir, F_OK) == 0) {
		snprintf(err, errlen, "domain %s already exists (change it "
		    "with keyturn domain set)", name);
		goto out;
	}
	sfile_rmtree(tmp);	/* an earlier attempt that crashed */
	if (sfile_mkdir(tmp, err, errlen) == -1 ||
	    sfile_mkdir(keys, err, errlen) == -1 ||
	    sdom_build(s, tmp, name, pol, now, err, errlen) == -1 ||
	    swrite_journal(s, name, err, errlen) == -1)
		goto out;
	if (rename(tmp, dir) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto out;
	}
	/* renamed: the domain exists, so the generation moves regardless */
	r = sfile_fsync_dir(s->dir, err, errlen);
	if (r == 0)
		sfile_rmtree(old);	/* its history lives on in the domain */
	if (swrite_bump(s, r == 0 ? err : e2, r == 0 ? errlen :
	    sizeof(e2)) == -1)
		r = -1;
out:
	if (r == -1)
		sfile_rmtree(tmp);	/* gone already once renamed */
	free(dir);
	free(tname);
	free(tmp);
	free(keys);
	free(old);
	return r;
}

/* sdom_warn_bits - RFC 8301: 1024-bit RSA keys are accepted, with a word */
static void
sdom_warn_bits(const char *name, const struct store_policy *pol)
{
	if (pol->bits < STORE_RSA_WARN)
		log_warnx("%s: new RSA keys will have %d bits: RFC 8301 "
		    "recommends at least %d; some verifiers treat such keys "
		    "as weak", name, pol->bits, STORE_RSA_WARN);
}

/* store_domain_add - a domain appears whole (built aside) or not at all */
int
store_domain_add(struct store *s, const char *name,
    const struct store_policy *pol, time_t now, char *err, size_t errlen)
{
	char *dir;
	int r;

	if (store_domain_valid(name, err, errlen) == -1 ||
	    store_policy_check(pol, err, errlen) == -1)
		return -1;
	if (sload_own_file(name)) {
		snprintf(err, errlen, "\"%s\": the keystore keeps a file of "
		    "its own under that name", name);
		return -1;
	}
	if (store_lock(s, err, errlen) == -1)
		return -1;
	if (sfleet_begin(s, name, err, errlen) == -1) {
		store_unlock(s);
		return -1;
	}
	r = 0;
	if (pol->slots > 0) {
		dir = store_path(s, name, NULL, NULL);
		if (access(dir, F_OK) == 0) {
			snprintf(err, errlen, "domain %s already exists (change "
			    "it with keyturn domain set)", name);
			r = -1;
		} else
			r = sdom_slots_ok(s, name, pol, err, errlen);
		free(dir);
	}
	if (r == 0)
		r = sdom_add_locked(s, name, pol, now, err, errlen);
	r = sfleet_end(s, name, r, err, errlen);
	store_unlock(s);
	if (r == 0) {
		sdom_warn_bits(name, pol);
		sdom_warn_plan(name, pol);
	}
	return r;
}

/* sdom_policy_merge - the fields of set that change, onto p */
static void
sdom_policy_merge(struct store_policy *p, const struct store_policy *set,
    unsigned fields)
{
	if (fields & STORE_POL_ALGS)
		p->algs = set->algs;
	if (fields & STORE_POL_BITS)
		p->bits = set->bits;
	if (fields & STORE_POL_ACTIVE)
		p->active_keys = set->active_keys;
	if (fields & STORE_POL_ROTATE)
		p->rotate_after = set->rotate_after;
	if (fields & STORE_POL_RETIRE)
		p->retire_after = set->retire_after;
	if (fields & STORE_POL_PREFIX)
		memcpy(p->prefix, set->prefix, sizeof(p->prefix));
	if (fields & STORE_POL_SLOTS)
		p->slots = set->slots;
	if (fields & STORE_POL_HOLD)
		p->dns_hold = set->dns_hold;
}

/*
 * sdom_set_slots - a plain domain stays plain (its selectors are no slot
 * selectors); a delegated one shrinks only by free slots, whose revoked
 * keys leave the state in the same write
 */
static int
sdom_set_slots(struct store_domain *d, const struct store_policy *pol,
    char *err, size_t errlen)
{
	size_t i, j;

	if (d->policy.slots == 0) {
		if (pol->slots == 0 && pol->dns_hold == d->policy.dns_hold)
			return 0;
		snprintf(err, errlen, "%s is not delegated: slots and dns-hold "
		    "are a delegated domain's (remove it and add it again with "
		    "--delegate-to)", d->name);
		return -1;
	}
	for (i = 0; i < d->nkeys; i++)
		if (d->keys[i].slot > pol->slots &&
		    d->keys[i].state != STORE_REVOKED) {
			snprintf(err, errlen, "slot %d of %s holds %s key %s: "
			    "a slot is dropped only once its key is revoked",
			    d->keys[i].slot, d->name,
			    store_state_name(d->keys[i].state),
			    d->keys[i].selector);
			return -1;
		}
	for (i = j = 0; i < d->nkeys; i++) {
		if (d->keys[i].slot > pol->slots) {
			free(d->keys[i].spki);
			free(d->keys[i].p);
			EVP_PKEY_free(d->keys[i].pkey);
			continue;
		}
		d->keys[j++] = d->keys[i];
	}
	d->nkeys = j;
	return 0;
}

/*
 * store_domain_set - a policy change, recorded in the history too: the
 * fields named are applied to the policy read under the lock, so that two
 * changes at once both land
 */
int
store_domain_set(struct store *s, const char *name,
    const struct store_policy *set, unsigned fields, time_t now, char *err,
    size_t errlen)
{
	struct store_domain *d;
	struct store_policy policy, *pol = &policy;
	char *text, *line, *path, e2[256];
	int r, renamed;

	if ((d = swrite_begin(s, name, err, errlen)) == NULL)
		return -1;
	policy = d->policy;
	sdom_policy_merge(pol, set, fields);
	if (store_policy_check(pol, err, errlen) == -1 ||
	    sdom_set_slots(d, pol, err, errlen) == -1)
		return swrite_end(s, d, -1, err, errlen);
	d->policy = *pol;
	text = sdom_policy_text("policy changed", pol);
	line = sfmt_event(now, NULL, STORE_STATE_NONE, STORE_STATE_NONE, 0,
	    text);
	free(text);
	text = sfmt_policy(pol);
	path = store_path(s, name, STORE_POLICY, NULL);
	renamed = 0;
	if ((r = swrite_journal(s, name, err, errlen)) == 0)
		r = sfile_replace(path, text, strlen(text), 0600, &renamed,
		    err, errlen);
	if (r == 0)
		r = swrite_commit(s, d, &line, 1, err, errlen);
	else if (renamed)	/* the new policy is read: readers must look */
		(void)swrite_bump(s, e2, sizeof(e2));
	if (r == 0 && (fields & STORE_POL_BITS))
		sdom_warn_bits(name, pol);
	if (r == 0)
		sdom_warn_plan(name, pol);
	free(path);
	free(text);
	free(line);
	return swrite_end(s, d, r, err, errlen);
}

/* sdom_in_use - the first key that signs or may still be verified */
static const struct store_key *
sdom_in_use(const struct store_domain *d)
{
	size_t i;

	for (i = 0; i < d->nkeys; i++)
		if (d->keys[i].state == STORE_ACTIVE ||
		    d->keys[i].state == STORE_RETIRING)
			return &d->keys[i];
	return NULL;
}

/* sdom_strip - a removed domain keeps nothing but its history */
static void
sdom_strip(struct store *s, const char *name)
{
	char *p;

	struct stat st;

	p = store_path(s, STORE_REMOVED_DIR, name, STORE_KEYS);
	sfile_rmtree(p);
	if (lstat(p, &st) == 0)
		log_warnx("%s: removed domain %s, its private keys not "
		    "removed", p, name);
	free(p);
	p = store_path(s, STORE_REMOVED_DIR, name, STORE_POLICY);
	if (unlink(p) == -1 && errno != ENOENT)
		log_warn("%s", p);
	free(p);
	p = store_path(s, STORE_REMOVED_DIR, name, STORE_STATE);
	if (unlink(p) == -1 && errno != ENOENT)
		log_warn("%s", p);
	free(p);
}

/*
 * sdom_remove_locked - the history becomes its committed part and the
 * removal line (one atomic replace: the live state still commits only
 * the old part, so until the rename the line is an uncommitted tail),
 * then the domain moves aside, is stripped to that history, and the
 * generation is bumped. A removed history is always whole.
 */
static int
sdom_remove_locked(struct store *s, struct store_domain *d, time_t now,
    char *err, size_t errlen)
{
	char *dir = store_path(s, d->name, NULL, NULL);
	char *rdir = store_path(s, STORE_REMOVED_DIR, NULL, NULL);
	char *dest = store_path(s, STORE_REMOVED_DIR, d->name, NULL);
	char *hist = store_path(s, d->name, STORE_HISTORY, NULL);
	char *line, *text, *all = NULL, e2[256];
	int r = -1;

	line = sfmt_event(now, NULL, STORE_STATE_NONE, STORE_STATE_NONE, 0,
	    "operator: domain removed");
	if (sdom_history_text(s, hist, d->histsize, 0, &text, err,
	    errlen) != 0)
		goto out;
	all = xasprintf("%s%s", text, line);
	free(text);
	if (store_file_replace(hist, all, strlen(all), 0600, err,
	    errlen) == -1)
		goto out;
	sfile_rmtree(dest);
	if (sfile_mkdir(rdir, err, errlen) == -1 ||
	    swrite_journal(s, d->name, err, errlen) == -1)
		goto out;
	if (rename(dir, dest) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto out;
	}
	/* renamed: the domain is gone, whatever fails from here on */
	r = sfile_fsync_dir(s->dir, err, errlen);
	if (r == 0)
		r = sfile_fsync_dir(rdir, err, errlen);
	sdom_strip(s, d->name);
	if (swrite_bump(s, r == 0 ? err : e2, r == 0 ? errlen :
	    sizeof(e2)) == -1)
		r = -1;
out:
	free(line);
	free(all);
	free(dir);
	free(rdir);
	free(dest);
	free(hist);
	return r;
}

/* store_domain_remove - never stop signing by accident; keep history */
int
store_domain_remove(struct store *s, const char *name, int force, time_t now,
    char *err, size_t errlen)
{
	struct store_domain *d;
	const struct store_key *k;
	int r = -1;

	if ((d = swrite_begin(s, name, err, errlen)) == NULL)
		return -1;
	if (!force && (k = sdom_in_use(d)) != NULL)
		snprintf(err, errlen, "domain %s still has %s key %s: retire "
		    "and revoke its keys first, or use --force (its mail will "
		    "no longer be signed)", name, store_state_name(k->state),
		    k->selector);
	else
		r = sdom_remove_locked(s, d, now, err, errlen);
	return swrite_end(s, d, r, err, errlen);
}
