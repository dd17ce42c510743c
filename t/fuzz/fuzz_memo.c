/*
 * fuzz_memo - the rotation memo (KEYSTORE/<domain>/rotate) as the
 * rotation reads it (adapt_memo_parse, memo 2; libFuzzer entry)
 *
 * The input is the file's text (up to its first NUL, as the rotation
 * reads it). A memo that parses is written with adapt_memo_format and
 * parsed again: that must succeed with the same entries, and write the
 * same text. A memo that does not parse must come back empty. The
 * entries are then used as a pass uses them: looked up, taken for a key
 * (adapt_memo_key, which starts a slot's entry afresh for another key
 * id) and pruned against a domain of two keys.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "adapt.h"
#include "fuzz_util.h"

/* fuzz_mem_same - what the file keeps of an entry */
static int
fuzz_mem_same(const struct adapt_mem *a, const struct adapt_mem *b)
{
	return strcmp(a->selector, b->selector) == 0 &&
	    a->published == b->published && a->obs.dns == b->obs.dns &&
	    a->obs.since == b->obs.since && a->obs.hold == b->obs.hold &&
	    a->checked == b->checked && strcmp(a->kid, b->kid) == 0 &&
	    a->cname == b->cname &&
	    strcmp(a->cname_bad, b->cname_bad) == 0 &&
	    a->ttlmax == b->ttlmax && a->obs.ttl_txt == b->obs.ttl_txt &&
	    a->obs.ttl_cname == b->obs.ttl_cname &&
	    a->obs.ttl_neg == b->obs.ttl_neg;
}

/* fuzz_memo_use - a pass over a domain with keys kt1 and kt2 */
static void
fuzz_memo_use(struct adapt_memo *m)
{
	struct store_key keys[2];
	struct store_domain d;
	size_t i;

	for (i = 0; i < m->n && i < 4; i++)
		if (adapt_memo_find(m, m->v[i].selector) == NULL)
			abort();
	memset(keys, 0, sizeof(keys));
	memset(&d, 0, sizeof(d));
	strlcpy(keys[0].selector, "kt1", sizeof(keys[0].selector));
	strlcpy(keys[0].kid, "0fb5cac94a7bc5eb", sizeof(keys[0].kid));
	keys[0].slot = 1;
	strlcpy(keys[1].selector, "kt2", sizeof(keys[1].selector));
	strlcpy(keys[1].kid, "cc7ec11c3afcd652", sizeof(keys[1].kid));
	keys[1].slot = 2;
	d.name = "d.test";
	d.keys = keys;
	d.nkeys = 2;
	(void)adapt_memo_key(m, &keys[0]);
	(void)adapt_memo_key(m, &keys[1]);
	adapt_memo_prune(m, &d);
	if (adapt_memo_find(m, "kt1") == NULL ||
	    adapt_memo_find(m, "kt2") == NULL)
		abort();
	for (i = 0; i < m->n; i++)
		if (store_domain_key(&d, m->v[i].selector) == NULL)
			abort();	/* a key the domain does not have */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct adapt_memo m1, m2;
	char err[512], *text = fz_strndup(data, size), *t1, *t2;
	size_t i;

	if (adapt_memo_parse(text, &m1, err, sizeof(err)) == 0) {
		t1 = adapt_memo_format(&m1);
		if (adapt_memo_parse(t1, &m2, err, sizeof(err)) != 0)
			abort();	/* written, then refused */
		t2 = adapt_memo_format(&m2);
		if (m1.n != m2.n || strcmp(t1, t2) != 0)
			abort();
		for (i = 0; i < m1.n; i++)
			if (!fuzz_mem_same(&m1.v[i], &m2.v[i]))
				abort();
		fuzz_memo_use(&m1);
		free(t1);
		free(t2);
		adapt_memo_free(&m2);
	} else if (m1.n != 0 || m1.v != NULL)
		abort();
	adapt_memo_free(&m1);
	free(text);
	return 0;
}
