/*
 * rawsign - one signature the way a DKIM signer makes it (see rawsign.h)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "rawsign.h"

/* a typical relaxed header hash input: From To Subject Date ... */
static const char rawsign_input[] =
    "from:Alice <alice@example.com>\r\nto:bob@example.net\r\n"
    "subject:Quarterly report\r\ndate:Sun, 22 Nov 2026 21:00:00 +0000\r\n"
    "message-id:<20261122210000.1234@example.com>\r\n"
    "dkim-signature:v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com;"
    " s=kt-202611-r2048; t=1795381200; h=from:to:subject:date:"
    "message-id; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=";

/* rawsign_load - a PEM private key, or NULL after a line on stderr */
EVP_PKEY *
rawsign_load(const char *path)
{
	EVP_PKEY *pk;
	FILE	*fp;

	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return NULL;
	}
	pk = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if (pk == NULL)
		fprintf(stderr, "%s: not a private key\n", path);
	return pk;
}

/*
 * rawsign_once - one signature over the typical input: RSA, PKCS#1 v1.5
 * with SHA-256; Ed25519, PureEdDSA over the SHA-256 digest (RFC 8463).
 * 0, or -1 when it failed.
 */
int
rawsign_once(EVP_PKEY *pk)
{
	const unsigned char *in = (const unsigned char *)rawsign_input;
	size_t	 inlen = sizeof(rawsign_input) - 1;
	unsigned char sig[1024], dig[32];
	size_t	 siglen = sizeof(sig);
	unsigned int diglen;
	EVP_MD_CTX *ctx;
	int	 ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_PKEY_get_id(pk) == EVP_PKEY_ED25519)
		ok = EVP_Digest(in, inlen, dig, &diglen, EVP_sha256(), NULL) &&
		    EVP_DigestSignInit(ctx, NULL, NULL, NULL, pk) &&
		    EVP_DigestSign(ctx, sig, &siglen, dig, diglen);
	else
		ok = EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pk) &&
		    EVP_DigestSign(ctx, sig, &siglen, in, inlen);
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}
