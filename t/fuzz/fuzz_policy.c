/*
 * fuzz_policy - a domain's policy file as the keystore loader reads it
 * (sfmt_policy_parse; libFuzzer entry)
 *
 * The input is the file, handed over NUL-terminated as sfile_read reads
 * it. A policy that parses is written with sfmt_policy and parsed again:
 * the second parse must succeed, give the same policy, and write the same
 * text (parse, format and parse agree; version 1 for a plain domain and
 * version 2 for a delegated one).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "store_int.h"

/* fuzz_policy_same - every field the file holds */
static int
fuzz_policy_same(const struct store_policy *a, const struct store_policy *b)
{
	return a->algs == b->algs && a->bits == b->bits &&
	    a->active_keys == b->active_keys &&
	    a->rotate_after == b->rotate_after &&
	    a->retire_after == b->retire_after &&
	    strcmp(a->prefix, b->prefix) == 0 &&
	    strcmp(a->delegate_to, b->delegate_to) == 0 &&
	    a->slots == b->slots &&
	    strcmp(a->slot_selector, b->slot_selector) == 0 &&
	    strcmp(a->slot_target, b->slot_target) == 0 &&
	    a->dns_hold == b->dns_hold;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_policy p1, p2;
	char err[1024], *buf = fz_strndup(data, size), *t1, *t2;

	if (sfmt_policy_parse("policy", buf, size, &p1, err,
	    sizeof(err)) == 0) {
		t1 = sfmt_policy(&p1);
		if (sfmt_policy_parse("policy", t1, strlen(t1), &p2, err,
		    sizeof(err)) != 0)
			abort();	/* written, then refused */
		t2 = sfmt_policy(&p2);
		if (!fuzz_policy_same(&p1, &p2) || strcmp(t1, t2) != 0)
			abort();
		free(t1);
		free(t2);
	}
	free(buf);
	return 0;
}
