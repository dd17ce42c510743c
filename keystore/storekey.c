/*
 * storekey - key material: generation, PEM parsing, public key forms
 *
 * Private keys are generated and parsed with OpenSSL EVP and written as
 * PKCS#8 PEM. Every buffer that held a PEM is wiped before it is freed
 * (secure-memory BIOs, explicit_bzero). The public key is kept as the base64
 * DER SubjectPublicKeyInfo; the DKIM p= value is that for RSA and the raw
 * 32-byte key for Ed25519 (RFC 8463).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "log.h"
#include "store_int.h"
#include "xmalloc.h"

/* skey_ossl_err - the last OpenSSL error as text (never key material) */
static void
skey_ossl_err(const char *what, char *err, size_t errlen)
{
	char buf[256];
	unsigned long e = ERR_peek_last_error();

	ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, errlen, "%s: %s", what, e ? buf : "failed");
	ERR_clear_error();
}

/* skey_check_bits - RFC 8301: at least 1024 bits, 2048 recommended */
int
skey_check_bits(enum store_alg alg, int bits, char *err, size_t errlen)
{
	if (alg == STORE_ALG_ED25519)
		return 0;
	if (bits < STORE_RSA_MIN) {
		snprintf(err, errlen, "RSA key of %d bits refused: RFC 8301 "
		    "requires at least %d (use %d)", bits, STORE_RSA_MIN,
		    STORE_RSA_DEFAULT);
		return -1;
	}
	if (bits > STORE_RSA_MAX) {
		snprintf(err, errlen, "RSA key of %d bits refused: keyturn "
		    "takes at most %d (verifiers may not handle more)", bits,
		    STORE_RSA_MAX);
		return -1;
	}
	if (bits < STORE_RSA_WARN)
		log_warnx("RSA key of %d bits: RFC 8301 recommends at least "
		    "%d; some verifiers treat such keys as weak", bits,
		    STORE_RSA_WARN);
	return 0;
}

EVP_PKEY *
skey_generate(enum store_alg alg, int bits, char *err, size_t errlen)
{
	EVP_PKEY *k;

	if (skey_check_bits(alg, bits, err, errlen) == -1)
		return NULL;
	if (alg == STORE_ALG_RSA)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	else
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (k == NULL)
		skey_ossl_err("key generation", err, errlen);
	return k;
}

/* skey_describe - algorithm and size of a parsed key; refuses the rest */
int
skey_describe(EVP_PKEY *k, enum store_alg *alg, int *bits, char *err,
    size_t errlen)
{
	switch (EVP_PKEY_get_base_id(k)) {
	case EVP_PKEY_RSA:
		*alg = STORE_ALG_RSA;
		*bits = EVP_PKEY_get_bits(k);
		return 0;
	case EVP_PKEY_ED25519:
		*alg = STORE_ALG_ED25519;
		*bits = 256;
		return 0;
	default:
		snprintf(err, errlen, "a %s key: DKIM keys are RSA or Ed25519",
		    EVP_PKEY_get0_type_name(k) ? EVP_PKEY_get0_type_name(k) :
		    "unknown");
		return -1;
	}
}

/* skey_no_password - an encrypted PEM is refused, never prompted for */
static int
skey_no_password(char *buf, int size, int rw, void *u)
{
	return -1;
}

/* skey_validate - the key pair is consistent (RSA: p*q=n and so on) */
static int
skey_validate(EVP_PKEY *k, char *err, size_t errlen)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
	int ok;

	if (ctx == NULL) {
		skey_ossl_err("key check", err, errlen);
		return -1;
	}
	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA)
		ok = EVP_PKEY_check(ctx);
	else
		ok = EVP_PKEY_pairwise_check(ctx);
	EVP_PKEY_CTX_free(ctx);
	if (ok != 1) {
		skey_ossl_err("inconsistent private key", err, errlen);
		return -1;
	}
	return 0;
}

/* skey_parse - a private key from PEM text (PKCS#1 or PKCS#8), checked */
EVP_PKEY *
skey_parse(const char *name, const char *buf, size_t len, char *err,
    size_t errlen)
{
	BIO *b = BIO_new_mem_buf(buf, (int)len);
	EVP_PKEY *k;
	enum store_alg alg;
	int bits;
	char what[512];

	if (b == NULL) {
		skey_ossl_err(name, err, errlen);
		return NULL;
	}
	k = PEM_read_bio_PrivateKey(b, NULL, skey_no_password, NULL);
	BIO_free(b);
	if (k == NULL) {
		snprintf(what, sizeof(what), "%s: not a PEM private key "
		    "(unencrypted PKCS#1 or PKCS#8)", name);
		skey_ossl_err(what, err, errlen);
		return NULL;
	}
	if (skey_describe(k, &alg, &bits, what, sizeof(what)) == -1 ||
	    skey_validate(k, what, sizeof(what)) == -1) {
		snprintf(err, errlen, "%s: %s", name, what);
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

/* skey_pem - PKCS#8 PEM of a private key in a malloc'd buffer to wipe */
int
skey_pem(EVP_PKEY *k, char **pem, size_t *len, char *err, size_t errlen)
{
	BIO *b = BIO_new(BIO_s_secmem());
	char *data;
	long n;

	if (b == NULL || !PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL,
	    NULL)) {
		skey_ossl_err("writing private key", err, errlen);
		BIO_free(b);
		return -1;
	}
	n = BIO_get_mem_data(b, &data);
	*pem = xmalloc(n + 1);
	memcpy(*pem, data, n);
	(*pem)[n] = '\0';
	*len = n;
	OPENSSL_cleanse(data, n);
	BIO_free(b);
	return 0;
}

/* skey_b64 - base64 of bytes, no newlines */
static char *
skey_b64(const unsigned char *der, size_t len)
{
	char *out = xmalloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, der, (int)len);
	return out;
}

/* skey_unb64 - bytes of a base64 string; NULL when it is not base64 */
static unsigned char *
skey_unb64(const char *s, size_t *len)
{
	size_t n = strlen(s);
	unsigned char *out;
	int r;

	if (n == 0 || n % 4 != 0)
		return NULL;
	out = xmalloc(n);
	if ((r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n)) < 0) {
		free(out);
		return NULL;
	}
	if (s[n - 1] == '=')
		r--;
	if (s[n - 2] == '=')
		r--;
	*len = r;
	return out;
}

/* skey_p_of - the p= value of a key given its base64 SPKI */
static char *
skey_p_of(EVP_PKEY *pub, char *err, size_t errlen)
{
	unsigned char raw[32];
	size_t rawlen = sizeof(raw);

	if (EVP_PKEY_get_raw_public_key(pub, raw, &rawlen) != 1 ||
	    rawlen != 32) {
		skey_ossl_err("Ed25519 public key", err, errlen);
		return NULL;
	}
	return skey_b64(raw, rawlen);
}

int
store_pkey_pub(EVP_PKEY *k, char **spki, char **p, char *err, size_t errlen)
{
	unsigned char *der = NULL;
	int n;

	if ((n = i2d_PUBKEY(k, &der)) <= 0) {
		skey_ossl_err("public key", err, errlen);
		return -1;
	}
	*spki = skey_b64(der, n);
	OPENSSL_free(der);
	if (EVP_PKEY_get_base_id(k) != EVP_PKEY_ED25519) {
		*p = xstrdup(*spki);
		return 0;
	}
	if ((*p = skey_p_of(k, err, errlen)) == NULL) {
		free(*spki);
		*spki = NULL;
		return -1;
	}
	return 0;
}

/* skey_pub_parse - an EVP_PKEY of the public key in a state line */
static EVP_PKEY *
skey_pub_parse(const char *spki, char *err, size_t errlen)
{
	unsigned char *der;
	const unsigned char *q;
	size_t len;
	EVP_PKEY *k;

	if ((der = skey_unb64(spki, &len)) == NULL) {
		snprintf(err, errlen, "pub= is not base64");
		return NULL;
	}
	q = der;
	k = d2i_PUBKEY(NULL, &q, (long)len);
	free(der);
	if (k == NULL)
		skey_ossl_err("pub= is not a public key", err, errlen);
	return k;
}

/* skey_key_pub - fill key->p from key->spki and check it is what it says */
int
skey_key_pub(struct store_key *key, char *err, size_t errlen)
{
	EVP_PKEY *k;
	enum store_alg alg;
	int bits;

	if ((k = skey_pub_parse(key->spki, err, errlen)) == NULL)
		return -1;
	if (skey_describe(k, &alg, &bits, err, errlen) == -1) {
		EVP_PKEY_free(k);
		return -1;
	}
	if (alg != key->alg || bits != key->bits) {
		snprintf(err, errlen, "pub= is not a %s key of %d bits",
		    store_alg_name(key->alg), key->bits);
		EVP_PKEY_free(k);
		return -1;
	}
	if (alg == STORE_ALG_RSA)
		key->p = xstrdup(key->spki);
	else
		key->p = skey_p_of(k, err, errlen);
	EVP_PKEY_free(k);
	return key->p == NULL ? -1 : 0;
}

char *
store_key_txt(const struct store_key *k)
{
	if (k->state == STORE_REVOKED)
		return xstrdup("v=DKIM1; p=");
	return xasprintf("v=DKIM1; k=%s; p=%s", store_alg_name(k->alg), k->p);
}

char *
store_key_pubpem(const struct store_key *key, char *err, size_t errlen)
{
	EVP_PKEY *k;
	BIO *b;
	char *data, *out = NULL;
	long n;

	if ((k = skey_pub_parse(key->spki, err, errlen)) == NULL)
		return NULL;
	if ((b = BIO_new(BIO_s_mem())) != NULL && PEM_write_bio_PUBKEY(b, k)) {
		n = BIO_get_mem_data(b, &data);
		out = xstrndup(data, n);
	} else
		skey_ossl_err("public key PEM", err, errlen);
	BIO_free(b);
	EVP_PKEY_free(k);
	return out;
}

void
store_selector_template(const char *prefix, enum store_alg alg, int bits,
    time_t now, char *buf, size_t len)
{
	struct tm tm;
	char ym[16];

	gmtime_r(&now, &tm);
	strftime(ym, sizeof(ym), "%Y%m", &tm);
	if (alg == STORE_ALG_ED25519)
		snprintf(buf, len, "%s-%s-ed", prefix, ym);
	else
		snprintf(buf, len, "%s-%s-r%d", prefix, ym, bits);
}

time_t
store_key_planned(const struct store_domain *d, const struct store_key *k,
    enum store_state *next)
{
	switch (k->state) {
	case STORE_PENDING:
		*next = STORE_READY;
		return 0;
	case STORE_READY:
		*next = STORE_ACTIVE;
		return 0;
	case STORE_ACTIVE:
		*next = STORE_RETIRING;
		return k->since + d->policy.rotate_after;
	case STORE_RETIRING:
		*next = STORE_REVOKED;
		return k->since + d->policy.retire_after;
	default:
		*next = STORE_REVOKED;
		return 0;
	}
}
