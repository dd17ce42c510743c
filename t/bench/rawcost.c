/*
 * rawcost - the raw cost of what a DKIM signer cannot avoid
 *
 * SYNOPSIS
 *	rawcost [-n ROUNDS] [-k KEY.pem]... [-f FILE]...
 *
 * DESCRIPTION
 *	For each private key: the CPU time of one signature over a typical
 *	DKIM header hash input (RSA: PKCS#1 v1.5 with SHA-256; Ed25519:
 *	PureEdDSA over the SHA-256 digest, as RFC 8463 does). For each file:
 *	the CPU time of SHA-256 over its bytes. One line each:
 *	  sign <alg> <bits> us=<microseconds>
 *	  sha256 <file> bytes=<n> us=<microseconds>
 *	Times are process CPU time (CLOCK_PROCESS_CPUTIME_ID), averaged. The
 *	signature is rawsign_once (rawsign.c), the one floor -k makes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "rawsign.h"
#include "xmalloc.h"

/* cpu_us - process CPU time in microseconds */
static double
cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* bench_key - average signing time of one key file */
static int
bench_key(const char *path, int rounds)
{
	EVP_PKEY *pk;
	double t0;
	int i;

	if ((pk = rawsign_load(path)) == NULL)
		return -1;
	t0 = cpu_us();
	for (i = 0; i < rounds; i++)
		if (rawsign_once(pk) == -1) {
			fprintf(stderr, "rawcost: %s: signing failed\n", path);
			EVP_PKEY_free(pk);
			return -1;
		}
	printf("sign %s %d us=%.1f\n",
	    EVP_PKEY_get_id(pk) == EVP_PKEY_ED25519 ? "ed25519" : "rsa",
	    EVP_PKEY_get_bits(pk), (cpu_us() - t0) / rounds);
	EVP_PKEY_free(pk);
	return 0;
}

/* slurp - a whole file in memory */
static unsigned char *
slurp(const char *path, size_t *len)
{
	unsigned char *buf = NULL;
	size_t size = 0, n;
	FILE *fp;

	if ((fp = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "rawcost: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	*len = 0;
	do {
		if (*len == size) {
			size = size ? size * 2 : 65536;
			buf = xreallocarray(buf, size, 1);
		}
		n = fread(buf + *len, 1, size - *len, fp);
		*len += n;
	} while (n > 0);
	fclose(fp);
	return buf;
}

/* bench_hash - average SHA-256 time over a file's bytes */
static int
bench_hash(const char *path, int rounds)
{
	unsigned char dig[32], *buf;
	unsigned int diglen;
	size_t len;
	double t0;
	int i, n;

	if ((buf = slurp(path, &len)) == NULL)
		return -1;
	n = len > (1 << 20) ? (rounds + 99) / 100 : rounds;
	t0 = cpu_us();
	for (i = 0; i < n; i++)
		EVP_Digest(buf, len, dig, &diglen, EVP_sha256(), NULL);
	printf("sha256 %s bytes=%zu us=%.1f\n", path, len, (cpu_us() - t0) / n);
	free(buf);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *keys[16], *files[16];
	int nk = 0, nf = 0, rounds = 1000, ch, i, rv = 0;

	while ((ch = getopt(argc, argv, "f:k:n:")) != -1) {
		switch (ch) {
		case 'f':
			if (nf < 16)
				files[nf++] = optarg;
			break;
		case 'k':
			if (nk < 16)
				keys[nk++] = optarg;
			break;
		case 'n':
			rounds = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: rawcost [-n ROUNDS] [-k KEY.pem]... "
			    "[-f FILE]...\n");
			return 2;
		}
	}
	if (rounds < 1)
		rounds = 1;
	for (i = 0; i < nk; i++)
		rv |= bench_key(keys[i], rounds);
	for (i = 0; i < nf; i++)
		rv |= bench_hash(files[i], rounds);
	return rv ? 1 : 0;
}
