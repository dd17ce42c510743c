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

#include <stdint.h>
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

/* skey_generate - a new key pair of an allowed size, from OpenSSL */
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

/* skey_pem_free - what skey_pem_der returned, wiped */
static void
skey_pem_free(char *label, unsigned char *der, long derlen)
{
	OPENSSL_secure_free(label);
	OPENSSL_secure_clear_free(der, derlen > 0 ? (size_t)derlen : 0);
}

/*
 * skey_pem_der - the first PEM block labelled "... PRIVATE KEY" in buf:
 * its label and DER, read with PEM_FLAG_SECURE so that OpenSSL's line
 * buffers and the results live in its secure heap and are cleansed;
 * 0, -1 (none), or -2 (encrypted: refused, never prompted for)
 */
static int
skey_pem_der(const char *buf, size_t len, char **label, unsigned char **der,
    long *derlen)
{
	BIO *b = BIO_new_mem_buf(buf, (int)len);
	char *name, *hdr;
	unsigned char *data;
	long n;
	size_t nl;
	int r = -1;

	*label = NULL;
	*der = NULL;
	*derlen = 0;
	while (b != NULL && r == -1 && PEM_read_bio_ex(b, &name, &hdr, &data,
	    &n, PEM_FLAG_SECURE | PEM_FLAG_EAY_COMPATIBLE)) {
		nl = strlen(name);
		if (nl >= 11 && strcmp(name + nl - 11, "PRIVATE KEY") == 0) {
			if (strstr(name, "ENCRYPTED") != NULL ||
			    strstr(hdr, "ENCRYPTED") != NULL)
				r = -2;
			else {
				*label = name;
				*der = data;
				*derlen = n;
				name = NULL;
				data = NULL;
				r = 0;
			}
		}
		OPENSSL_secure_free(hdr);
		skey_pem_free(name, data, n);
	}
	BIO_free(b);
	return r;
}

/*
 * skey_parse - a private key from PEM text (PKCS#1 or PKCS#8); validate
 * runs the full key-pair check (RSA primality: milliseconds per key), for
 * keys from outside. Keys the keystore wrote are checked against the
 * public key in their state line instead.
 */
EVP_PKEY *
skey_parse(const char *name, const char *buf, size_t len, int validate,
    char *err, size_t errlen)
{
	EVP_PKEY *k = NULL;
	enum store_alg alg;
	unsigned char *der;
	const unsigned char *q;
	char what[512], *label;
	long derlen;
	int bits, r;

	r = skey_pem_der(buf, len, &label, &der, &derlen);
	if (r == 0) {
		q = der;
		k = d2i_AutoPrivateKey(NULL, &q, derlen);
		skey_pem_free(label, der, derlen);
	}
	if (k == NULL) {
		snprintf(what, sizeof(what), "%s: not a PEM private key "
		    "(unencrypted PKCS#1 or PKCS#8)%s", name, r == -2 ?
		    ": it is encrypted" : "");
		skey_ossl_err(what, err, errlen);
		return NULL;
	}
	if (skey_describe(k, &alg, &bits, what, sizeof(what)) == -1 ||
	    (validate && skey_validate(k, what, sizeof(what)) == -1)) {
		snprintf(err, errlen, "%s: %s", name, what);
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

/*
 * skey_load - a key file the keystore wrote (PKCS#8 PEM of a known
 * algorithm): the decoder of that type only, four times faster than
 * trying every decoder, which matters for 10,000 domains
 */
EVP_PKEY *
skey_load(const char *name, const char *buf, size_t len, enum store_alg alg,
    char *err, size_t errlen)
{
	char *label = NULL;
	unsigned char *der = NULL;
	const unsigned char *q;
	long derlen = 0;
	EVP_PKEY *k = NULL;

	if (skey_pem_der(buf, len, &label, &der, &derlen) == 0 &&
	    strcmp(label, "PRIVATE KEY") == 0) {
		q = der;
		k = d2i_PrivateKey(alg == STORE_ALG_RSA ? EVP_PKEY_RSA :
		    EVP_PKEY_ED25519, NULL, &q, derlen);
	}
	if (k == NULL) {
		char what[512];

		snprintf(what, sizeof(what), "%s: not a PKCS#8 PEM %s private "
		    "key", name, store_alg_name(alg));
		skey_ossl_err(what, err, errlen);
	}
	skey_pem_free(label, der, derlen);
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

/* store_pkey_pub - the two public forms kept in the state: SPKI and p= */
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

/*
 * skey_key_pub - fill key->p from key->spki, checking its form without a
 * full parse (cheap for 10,000 domains): Ed25519 SPKIs are 44 bytes of
 * which the last 32 are the key (RFC 8410); an RSA SPKI is a DER SEQUENCE
 * that is compared with the private key whenever that is loaded.
 */
int
skey_key_pub(struct store_key *key, char *err, size_t errlen)
{
	static const unsigned char ed_prefix[12] = { 0x30, 0x2a, 0x30, 0x05,
	    0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00 };
	unsigned char *der;
	size_t len;

	if ((der = skey_unb64(key->spki, &len)) == NULL) {
		snprintf(err, errlen, "pub= is not base64");
		return -1;
	}
	if (key->alg == STORE_ALG_ED25519) {
		if (len != 44 || memcmp(der, ed_prefix, 12) != 0) {
			snprintf(err, errlen, "pub= is not an Ed25519 key");
			free(der);
			return -1;
		}
		key->p = skey_b64(der + 12, 32);
	} else {
		if (len < 64 || der[0] != 0x30 || key->bits < STORE_RSA_MIN) {
			snprintf(err, errlen, "pub= is not an RSA key");
			free(der);
			return -1;
		}
		key->p = xstrdup(key->spki);
	}
	free(der);
	return 0;
}

/*
 * store_key_id - SHA-256 over the DER SPKI, first 8 bytes in hex: one
 * definition for RSA and Ed25519 (for Ed25519 the 44-byte SPKI, not the
 * 32-byte p=), reproducible with openssl and sha256sum
 */
int
store_key_id(const char *spki_b64, char out[STORE_KID_LEN + 1])
{
	unsigned char *der, md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	size_t len, i;
	int r;

	out[0] = '\0';
	if ((der = skey_unb64(spki_b64, &len)) == NULL)
		return -1;
	r = EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL);
	free(der);
	if (r != 1 || mdlen < STORE_KID_LEN / 2) {
		ERR_clear_error();
		return -1;
	}
	for (i = 0; i < STORE_KID_LEN / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/*
 * skey_file_name - a key's file under keys/: "<selector>.pem", and for a
 * slot key "<selector>.<kid>.pem", so that the keys a slot holds one
 * after the other never share a file ('.' is no selector character)
 */
char *
skey_file_name(const struct store_key *k)
{
	if (k->slot > 0)
		return xasprintf("%s.%s.pem", k->selector, k->kid);
	return xasprintf("%s.pem", k->selector);
}

/* store_key_txt - what the DNS record of the key must say in its state */
char *
store_key_txt(const struct store_key *k)
{
	if (k->state == STORE_REVOKED)
		return xstrdup("v=DKIM1; p=");
	return xasprintf("v=DKIM1; k=%s; p=%s", store_alg_name(k->alg), k->p);
}

/* store_key_pubpem - the public key for operators and other tools */
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

/* store_selector_template - the default selector: prefix, month, algorithm */
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

/* skey_later - t + secs, the latest time_t when that would not fit */
static time_t
skey_later(time_t t, long long secs)
{
	const time_t max = (time_t)(((uintmax_t)1 <<
	    (sizeof(time_t) * 8 - 1)) - 1);

	if (secs > 0 && t > max - secs)
		return max;
	return t + secs;
}

/* store_key_planned - when the policy moves the key on, for list and x= */
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
		return skey_later(k->since, d->policy.rotate_after);
	case STORE_RETIRING:
		*next = STORE_REVOKED;
		return skey_later(k->since, d->policy.retire_after);
	default:
		*next = STORE_REVOKED;
		return 0;
	}
}

/*
 * store_key_revoke_planned - the last moment the policy keeps the key's
 * record published, so that no x= promises more than the key can keep
 */
time_t
store_key_revoke_planned(const struct store_domain *d,
    const struct store_key *k)
{
	enum store_state next;
	time_t end = store_key_planned(d, k, &next);

	if (end == 0)
		return 0;
	if (k->state == STORE_ACTIVE)
		return skey_later(end, d->policy.retire_after);
	return k->state == STORE_RETIRING ? end : 0;
}
