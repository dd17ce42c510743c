/*
 * fuzz_state - a domain's state file as the keystore loader reads it
 * (sfmt_state_parse; libFuzzer entry)
 *
 * The input is the file, NUL-terminated as sfile_read hands it over. A
 * state that parses is written with sfmt_state and parsed again: that
 * must succeed with the same generation, history size and keys (every
 * tag the file keeps; prevttl= only for a slot key, the only kind that
 * writes it), and write the same text. A state that does not parse is
 * freed as the loader frees it (store_domain_free of the partial domain).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "store_int.h"

/* fuzz_key_same - two keys as the state file says them */
static int
fuzz_key_same(const struct store_key *a, const struct store_key *b)
{
	return strcmp(a->selector, b->selector) == 0 && a->alg == b->alg &&
	    a->bits == b->bits && a->state == b->state &&
	    a->created == b->created && a->since == b->since &&
	    strcmp(a->spki, b->spki) == 0 && strcmp(a->p, b->p) == 0 &&
	    strcmp(a->kid, b->kid) == 0 && a->slot == b->slot &&
	    a->stopped == b->stopped &&
	    (a->slot == 0 || a->prev_ttl == b->prev_ttl);
}

/* fuzz_state_same - the counters and every key, in order */
static int
fuzz_state_same(const struct store_domain *a, const struct store_domain *b)
{
	size_t i;

	if (a->gen != b->gen || a->histsize != b->histsize ||
	    a->nkeys != b->nkeys)
		return 0;
	for (i = 0; i < a->nkeys; i++)
		if (!fuzz_key_same(&a->keys[i], &b->keys[i]))
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_domain *d1 = sload_new(), *d2;
	char err[1024], *buf = fz_strndup(data, size), *t1, *t2;

	if (sfmt_state_parse("state", buf, size, d1, err,
	    sizeof(err)) == 0) {
		t1 = sfmt_state(d1);
		d2 = sload_new();
		if (sfmt_state_parse("state", t1, strlen(t1), d2, err,
		    sizeof(err)) != 0)
			abort();	/* written, then refused */
		t2 = sfmt_state(d2);
		if (!fuzz_state_same(d1, d2) || strcmp(t1, t2) != 0)
			abort();
		free(t1);
		free(t2);
		store_domain_free(d2);
	}
	store_domain_free(d1);
	free(buf);
	return 0;
}
