/*
 * keystore_writer - changes a keystore as fast as it can until killed
 *
 *	keystore_writer KEYSTORE DOMAIN
 *
 * Used by t/keystore_crash.sh, which kills it with SIGKILL at random
 * moments and then checks that the keystore still loads. It cycles through
 * every kind of write: new keys, transitions, notes, policy changes, and
 * removing and adding back a second domain. Exits non-zero on the first error.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"

static char err[1024];

/* step - one write of kind i */
static int
step(struct store *s, const char *dom, const char *other, int i)
{
	struct store_policy p;
	struct store_change c;
	char sel[STORE_SELECTOR_MAX + 1];
	time_t now = time(NULL);

	store_policy_default(&p);
	p.algs = STORE_ALGBIT(STORE_ALG_ED25519);
	switch (i % 4) {
	case 0:
	case 1:
		if (store_key_new(s, dom, STORE_ALG_ED25519, 0, NULL, now,
		    "writer", sel, sizeof(sel), err, sizeof(err)) == -1)
			return -1;
		c = (struct store_change){ sel, STORE_PENDING,
		    i % 4 ? STORE_REVOKED : STORE_READY, "writer" };
		if (store_apply(s, dom, &c, 1, now, 0, err, sizeof(err)) == -1)
			return -1;
		/* a note: a line that must leave the state as it is */
		return i % 4 ? 0 : store_note(s, dom, sel, now, "writer: note",
		    err, sizeof(err));
	case 2:
		p.rotate_after = 60 + i;
		return store_domain_set(s, dom, &p, STORE_POL_ROTATE, now, err,
		    sizeof(err));
	default:
		if (store_domain_remove(s, other, 1, now, err,
		    sizeof(err)) == -1 && strstr(err, "no domain") == NULL)
			return -1;
		return store_domain_add(s, other, &p, now, err, sizeof(err));
	}
}

int
main(int argc, char **argv)
{
	struct store *s;
	char other[300];
	int i;

	if (argc != 3) {
		fprintf(stderr, "usage: keystore_writer KEYSTORE DOMAIN\n");
		return 2;
	}
	snprintf(other, sizeof(other), "other.%s", argv[2]);
	if ((s = store_open(argv[1], 0, err, sizeof(err))) == NULL) {
		fprintf(stderr, "keystore_writer: %s\n", err);
		return 1;
	}
	for (i = 0;; i++)
		if (step(s, argv[2], other, i) == -1) {
			fprintf(stderr, "keystore_writer: step %d: %s\n", i,
			    err);
			return 1;
		}
}
