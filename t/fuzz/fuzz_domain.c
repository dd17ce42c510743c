/*
 * fuzz_domain - one domain of a keystore as keyturnd and the CLI load it
 * (store_domain_load, store_history_load; libFuzzer entry)
 *
 * Input:
 *	byte 0		bits 0-1: the private keys to load (0 none, 1
 *			STORE_KEYS_ACTIVE, 2 or 3 STORE_KEYS_ALL); bit 2: no
 *			keys directory
 *	3 x 2 bytes	big-endian lengths of policy, state and history
 *	the three files, then the key files, each ended by "\n=====\n"
 * The keystore is made once per run; each input rewrites d.test/policy,
 * state and history and the key files: the n-th part is the file of the
 * n-th key of the state (as the harness parses it; an empty part: no
 * file). A domain that loads is then asked what the daemon, the CLI and
 * the rotation ask of one (keys, counts, planned times, slots, records,
 * the rotation's view), and must hold: every key the flags ask for parsed
 * and matching its public key, and no two keys with one selector.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "adapt.h"
#include "fuzz_util.h"
#include "store_int.h"

#define FUZZ_DOMAIN	"d.test"

static struct store *fuzz_store;
static char *fuzz_ddir, *fuzz_kdir;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[1024], *dir = fz_path("ks", NULL);

	(void)argc;
	(void)argv;
	if (store_init(dir, err, sizeof(err)) == -1 ||
	    (fuzz_store = store_open(dir, STORE_RDONLY, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz_domain: %s\n", err);
		abort();
	}
	fuzz_ddir = fz_path("ks", FUZZ_DOMAIN);
	fuzz_kdir = fz_path("ks", FUZZ_DOMAIN "/" STORE_KEYS);
	fz_mkdir(fuzz_ddir);
	free(dir);
	return 0;
}

/* fuzz_file - KEYSTORE/d.test/name */
static void
fuzz_file(const char *name, const uint8_t *p, size_t n, mode_t mode)
{
	char *path;

	if (asprintf(&path, "%s/%s", fuzz_ddir, name) == -1)
		abort();
	fz_write(path, p, n, mode);
	free(path);
}

/* fuzz_keys - the key files, named after the keys of the state */
static void
fuzz_keys(const uint8_t *state, size_t slen, struct fz_in *in)
{
	struct store_domain *d = sload_new();
	const uint8_t *p;
	char err[1024], *buf = fz_strndup(state, slen), *name, *path;
	size_t i, n;

	if (sfmt_state_parse("state", buf, slen, d, err, sizeof(err)) == 0)
		for (i = 0; i < d->nkeys && in->n > 0; i++) {
			p = fz_part(in, "\n=====\n", &n);
			if (n == 0)
				continue;
			name = skey_file_name(&d->keys[i]);
			if (asprintf(&path, "%s/%s", fuzz_kdir, name) == -1)
				abort();
			fz_write(path, p, n, 0600);
			free(path);
			free(name);
		}
	store_domain_free(d);
	free(buf);
}

/* fuzz_slots - a delegated domain's slots as the CLI and rotation see them */
static void
fuzz_slots(const struct store_domain *d)
{
	char sel[STORE_SELECTOR_MAX + 1], target[STORE_DOMAIN_MAX + 1];
	char err[512];
	time_t when;
	int slot;

	for (slot = 0; slot <= d->policy.slots + 1; slot++) {
		(void)store_slot_names(&d->policy, d->name, slot, sel,
		    sizeof(sel), target, sizeof(target), err, sizeof(err));
		(void)store_domain_slot(d, slot);
		(void)store_slot_free_at(d, slot, 1800000000, &when);
	}
}

/* fuzz_rotation - the domain in the policy engine's terms (adapt.c) */
static void
fuzz_rotation(const struct store_domain *d)
{
	struct adapt_memo memo = { NULL, 0 };
	struct adapt_slots ns;
	struct pol_policy pol;
	struct pol_key *keys = calloc(d->nkeys + 1, sizeof(*keys));
	struct prop_query q, kq;
	char err[512], why[512];
	size_t i;

	if (keys == NULL)
		abort();
	adapt_policy(&d->policy, &pol);
	adapt_keys(d, &memo, keys);
	adapt_slots(d, &ns, &pol, keys);
	for (i = 0; i < d->nkeys; i++) {
		if (d->keys[i].slot > 0) {
			if (adapt_query_slot(d, &d->keys[i], &q, &kq, err,
			    sizeof(err)) == 0) {
				adapt_query_free(&q);
				adapt_query_free(&kq);
			}
		} else if (adapt_query(d->name, &d->keys[i], &q, err,
		    sizeof(err)) == 0)
			adapt_query_free(&q);
		(void)adapt_alarm_over(&keys[i], why, sizeof(why));
	}
	adapt_slots_free(&ns);
	free(keys);
}

/* fuzz_loaded - what is asked of a loaded domain, and what must hold */
static void
fuzz_loaded(const struct store_domain *d, int flags)
{
	const struct store_key *k;
	enum store_state next;
	char why[512], *txt;
	size_t i, j;

	for (i = 0; i < d->nkeys; i++) {
		k = &d->keys[i];
		if ((((flags & STORE_KEYS_ACTIVE) &&
		    k->state == STORE_ACTIVE) || ((flags & STORE_KEYS_ALL) &&
		    k->state != STORE_REVOKED)) && k->pkey == NULL)
			abort();	/* loaded without its private key */
		for (j = 0; j < i; j++)
			if (strcasecmp(d->keys[j].selector, k->selector) == 0)
				abort();
		if (store_domain_key(d, k->selector) == NULL ||
		    store_domain_kid(d, k->kid) == NULL)
			abort();
		(void)store_key_planned(d, k, &next);
		(void)store_key_revoke_planned(d, k);
		txt = store_key_txt(k);
		free(txt);
		(void)store_domain_count(d, k->alg, k->state);
	}
	(void)store_policy_plan_why(&d->policy, why, sizeof(why));
	if (d->policy.slots > 0)
		fuzz_slots(d);
	fuzz_rotation(d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	struct store_domain *d;
	struct store_event *ev;
	const uint8_t *pol, *st, *hist;
	size_t plen, slen, hlen, n;
	char err[1024];
	int flags, lflags;

	flags = fz_byte(&in);
	plen = fz_u16(&in);
	slen = fz_u16(&in);
	hlen = fz_u16(&in);
	pol = fz_take(&in, plen, &plen);
	st = fz_take(&in, slen, &slen);
	hist = fz_take(&in, hlen, &hlen);
	fuzz_file(STORE_POLICY, pol, plen, 0600);
	fuzz_file(STORE_STATE, st, slen, 0600);
	fuzz_file(STORE_HISTORY, hist, hlen, 0600);
	fz_rmtree(fuzz_kdir);
	if (!(flags & 4)) {
		fz_mkdir(fuzz_kdir);
		fuzz_keys(st, slen, &in);
	}
	lflags = (flags & 3) == 0 ? 0 : (flags & 3) == 1 ? STORE_KEYS_ACTIVE :
	    STORE_KEYS_ALL;
	if ((d = store_domain_load(fuzz_store, FUZZ_DOMAIN, lflags, err,
	    sizeof(err))) != NULL) {
		fuzz_loaded(d, lflags);
		store_domain_free(d);
	}
	if (store_history_load(fuzz_store, FUZZ_DOMAIN, &ev, &n, err,
	    sizeof(err)) == 0) {
		(void)adapt_alarm_open(ev, n, "kt1");
		store_history_free(ev, n);
	}
	return 0;
}
