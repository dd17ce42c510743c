/*
 * fuzz_fleetkey - an etcd key name as the fleet reads which domain it is
 * about (keystore/fleet.c fleet_key_domain; libFuzzer entry)
 *
 * The fleet is made once per run (prefix /keyturn/, the KEK of
 * fuzz_etcd.c); the input is a key, whole (NUL bytes included, as etcd
 * keys may have them). Properties: the answer is the one of the grammar
 * fleet.h gives, read here on its own: a domain for "<prefix>d/<domain>/
 * ..." and "<prefix>removed/<domain>/...", the bytes between the tag and
 * the next '/' (at least one, at most a domain name's 253), NUL-ended;
 * the same for a buffer just large enough, and none for one too small.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fleet.h"
#include "fuzz_keys.h"
#include "fuzz_util.h"
#include "kek.h"
#include "store.h"

static struct fleet *fuzz_fleet;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct kt_conf *c = conf_defaults();
	char err[512], *p = fz_path("kek", NULL);

	(void)argc;
	(void)argv;
	fz_write(p, fuzz_kek, KEK_LEN, 0600);
	c->fleet_endpoints = strdup("http://127.0.0.1:1");
	c->fleet_kek = p;
	if ((fuzz_fleet = fleet_new(c, 0, err, sizeof(err))) == NULL)
		abort();
	conf_free(c);
	return 0;
}

/*
 * fuzz_segment - the domain part of a key as fleet.h says it: after
 * "<prefix>d/" or "<prefix>removed/", up to the next '/'; its length, or
 * -1 when the key has none
 */
static long
fuzz_segment(const char *key, size_t size, const char **seg)
{
	static const char *tags[] = { "d/", "removed/" };
	const char *pre = fleet_prefix(fuzz_fleet), *p, *slash;
	size_t i, plen = strlen(pre), t;

	if (size < plen || memcmp(key, pre, plen) != 0)
		return -1;
	for (i = 0; i < 2; i++) {
		t = strlen(tags[i]);
		if (size - plen > t && memcmp(key + plen, tags[i], t) == 0)
			break;
	}
	if (i == 2)
		return -1;
	p = key + plen + t;
	if ((slash = memchr(p, '/', size - (size_t)(p - key))) == NULL ||
	    slash == p)
		return -1;
	*seg = p;
	return (long)(slash - p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char dom[STORE_DOMAIN_MAX + 1], small[STORE_DOMAIN_MAX + 2];
	char *key = fz_strndup(data, size);
	const char *seg = NULL;
	long n = fuzz_segment(key, size, &seg);
	int r = fleet_key_domain(fuzz_fleet, key, size, dom, sizeof(dom));

	if (r != (n > 0 && n <= STORE_DOMAIN_MAX))
		abort();	/* another answer than the grammar's */
	if (r == 1) {
		if (memcmp(dom, seg, (size_t)n) != 0 || dom[n] != '\0')
			abort();
		if (fleet_key_domain(fuzz_fleet, key, size, small,
		    (size_t)n + 1) != 1 || memcmp(small, seg, (size_t)n) != 0 ||
		    fleet_key_domain(fuzz_fleet, key, size, small,
		    (size_t)n) != 0)
			abort();
	}
	free(key);
	return 0;
}
