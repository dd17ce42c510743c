/*
 * fuzz_kek - a blob from etcd as the fleet opens it with its FleetKEK
 * (keystore/kek.c kek_open; libFuzzer entry)
 *
 * The KEK is the one of fuzz_keys.h, loaded with kek_load from a file made once
 * per run; the seeds are the sealed private keys of fuzz_etcd's seeds.
 * Input: byte 0 the length of the aad (the etcd key name the blob is
 * bound to, without the prefix), the aad, then the blob. Properties: a
 * blob that opens does not open under another aad, nor with any one of
 * its bytes changed (the one picked by the aad's length); its plaintext
 * sealed again opens to the same bytes; and the input's bytes, sealed
 * under its aad, open to themselves.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "fuzz_keys.h"
#include "fuzz_util.h"
#include "kek.h"

static struct kek *fuzz_k;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[512], *p = fz_path("kek", NULL);

	(void)argc;
	(void)argv;
	fz_write(p, fuzz_kek, KEK_LEN, 0600);
	if ((fuzz_k = kek_load(p, err, sizeof(err))) == NULL)
		abort();
	free(p);
	return 0;
}

/* fuzz_roundtrip - sealed under aad, p opens to itself */
static void
fuzz_roundtrip(const void *aad, size_t aadlen, const void *p, size_t n)
{
	unsigned char *blob, *pt;
	size_t bloblen, ptlen;
	char err[512];

	if (kek_seal(fuzz_k, aad, aadlen, p, n, &blob, &bloblen, err,
	    sizeof(err)) == -1)
		return;		/* too large to seal */
	if (kek_open(fuzz_k, aad, aadlen, blob, bloblen, &pt, &ptlen, err,
	    sizeof(err)) == -1 || ptlen != n || memcmp(pt, p, n) != 0)
		abort();
	OPENSSL_clear_free(pt, ptlen);
	free(blob);
}

/* fuzz_bound - an opened blob opens under nothing else */
static void
fuzz_bound(const uint8_t *aad, size_t aadlen, const uint8_t *blob,
    size_t n)
{
	unsigned char *other = malloc(aadlen + 1), *b, *pt;
	size_t ptlen;
	char err[512];

	if (other == NULL || (b = malloc(n)) == NULL)
		abort();
	memcpy(other, aad, aadlen);
	other[aadlen] = 'x';
	if (kek_open(fuzz_k, other, aadlen + 1, blob, n, &pt, &ptlen, err,
	    sizeof(err)) == 0)
		abort();	/* moved to another etcd key, it opened */
	memcpy(b, blob, n);
	b[aadlen % n] ^= 0x01;
	if (kek_open(fuzz_k, aad, aadlen, b, n, &pt, &ptlen, err,
	    sizeof(err)) == 0)
		abort();	/* a changed byte went unnoticed */
	free(other);
	free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	const uint8_t *aad, *blob;
	unsigned char *pt;
	size_t aadlen, n, ptlen;
	char err[512];

	aad = fz_take(&in, (size_t)fz_byte(&in), &aadlen);
	blob = fz_take(&in, in.n, &n);
	if (kek_open(fuzz_k, aad, aadlen, blob, n, &pt, &ptlen, err,
	    sizeof(err)) == 0) {
		if (pt[ptlen] != '\0')
			abort();
		fuzz_bound(aad, aadlen, blob, n);
		fuzz_roundtrip(aad, aadlen, pt, ptlen);
		OPENSSL_clear_free(pt, ptlen + 1);
	} else if (pt != NULL || err[0] == '\0')
		abort();
	fuzz_roundtrip(aad, aadlen, blob, n);
	return 0;
}
