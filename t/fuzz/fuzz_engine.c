/*
 * fuzz_engine - the signing engine on arbitrary bytes (libFuzzer entry)
 *
 * The first input byte picks the canonicalizations and a chunk size; the
 * rest is a message fed the way an MTA hands it (t/msgfile.c), then the
 * From domain is asked for and an Ed25519 signature made. Besides the
 * sanitizers, two properties are checked on the body alone, and a failure
 * aborts: the body hash does not depend on how the body is chunked, and a
 * body hashes the same as that body with CRLF appended (RFC 6376 3.4.3 and
 * 3.4.4 add the missing CRLF before anything else looks at the last line).
 * The From parser also gets the whole input as one value.
 *
 * Built by hand with clang (see t/engine.mk, fuzz-engine) or, without
 * libFuzzer, with t/fuzz/replay.c to rerun saved inputs.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "canon.h"
#include "dkim.h"
#include "msgfile.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static EVP_PKEY *fuzz_key;

/* fuzz_body_hash - the body's SHA-256 fed in chunks of step bytes */
static void
fuzz_body_hash(enum dkim_canon mode, const uint8_t *p, size_t n,
    size_t step, const char *tail, unsigned char *md)
{
	struct canon_body *cb = malloc(sizeof(*cb));
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len;
	size_t	 k;

	if (cb == NULL || ctx == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		abort();
	canon_body_init(cb, mode, ctx);
	for (; n > 0; p += k, n -= k) {
		k = n < step ? n : step;
		canon_body_update(cb, p, k);
	}
	canon_body_update(cb, tail, strlen(tail));
	if (canon_body_final(cb) != 0 ||
	    EVP_DigestFinal_ex(ctx, md, &len) != 1)
		abort();
	EVP_MD_CTX_free(ctx);
	free(cb);
}

/* fuzz_body - the chunking and final-CRLF properties */
static void
fuzz_body(enum dkim_canon mode, const uint8_t *p, size_t n, size_t step)
{
	unsigned char whole[32], chunked[32], crlf[32];

	fuzz_body_hash(mode, p, n, n ? n : 1, "", whole);
	fuzz_body_hash(mode, p, n, step, "", chunked);
	fuzz_body_hash(mode, p, n, step, "\r\n", crlf);
	if (memcmp(whole, chunked, 32) != 0)
		abort();
	if (memcmp(whole, crlf, 32) != 0)
		abort();
}

/* fuzz_message - the whole API path on one message */
static void
fuzz_message(enum dkim_canon h, enum dkim_canon b, const uint8_t *p,
    size_t n, size_t step)
{
	struct msgfile_opts o = { step == 1 ? MSGFILE_BYTES : MSGFILE_WHOLE,
	    0, step % 2, step % 3 == 0 };
	struct dkim_sign s = { DKIM_ALG_ED25519_SHA256, fuzz_key,
	    "example.org", "fuzz", 1700000000, 0, NULL };
	struct dkim_msg *m = dkim_msg_new(h, b);
	char	 err[256], dom[256], *v;

	if (msgfile_feed(m, (const char *)p, n, &o, err, sizeof(err)) ==
	    DKIM_OK) {
		(void)dkim_msg_from_domain(m, dom, sizeof(dom), err,
		    sizeof(err));
		if (dkim_msg_sign(m, &s, &v, err, sizeof(err)) != DKIM_OK)
			abort();
		free(v);
	}
	dkim_msg_free(m);
}

/* LLVMFuzzerTestOneInput - one input, every entry point */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum dkim_canon h, b;
	char	 dom[256], err[256];
	size_t	 step;

	if (fuzz_key == NULL &&
	    (fuzz_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL)
		abort();
	if (size < 1)
		return 0;
	h = data[0] & 1 ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE;
	b = data[0] & 2 ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE;
	step = 1 + (data[0] >> 2);
	data++;
	size--;
	fuzz_body(b, data, size, step);
	fuzz_message(h, b, data, size, step);
	(void)dkim_from_domain((const char *)data, size, dom, sizeof(dom),
	    err, sizeof(err));
	return 0;
}
