/*
 * bench_sign - what the engine costs over the cryptography it cannot avoid
 *
 *	bench_sign [iterations]
 *
 * In one run, with the same keys:
 *  1. signing a 2 KB message with the engine (new message, headers, body,
 *     body hash, selection, canonicalization, signature, folding, free)
 *     against one raw EVP signature of the same algorithm, for RSA-2048 and
 *     Ed25519: medians of interleaved runs, and their ratio;
 *  2. relaxed body canonicalization + SHA-256 of a 10 MB body, in 64 KB
 *     chunks as a milter receives it, against raw SHA-256 of the same
 *     bytes: median throughput and the ratio, for three kinds of body;
 *     and the canonicalization alone (null digest), which does not move
 *     with the SHA-256 speed of the machine.
 * Prints numbers; it is not a test.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "canon.h"
#include "dkim.h"

/* now - monotonic nanoseconds */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* cmp - doubles in ascending order, for qsort */
static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* median - sorts v */
static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static const char *hdrs[][2] = {
	{ "Received", "from client.example.org (client.example.org [192.0.2.10])\n\tby mx.example.org (Postfix) with ESMTPSA id 4ABCD1234\n\tfor <bob@example.net>; Sun, 22 Nov 2026 10:00:00 +0000 (UTC)" },
	{ "From", "Alice Example <alice@example.org>" },
	{ "To", "Bob Example <bob@example.net>" },
	{ "Cc", "carol@example.net, dave@example.net" },
	{ "Subject", "Quarterly report: numbers, plans and the usual questions" },
	{ "Date", "Sun, 22 Nov 2026 10:00:00 +0000" },
	{ "Message-ID", "<20261122100000.4ABCD1234@client.example.org>" },
	{ "MIME-Version", "1.0" },
	{ "Content-Type", "text/plain; charset=utf-8" },
	{ "Content-Transfer-Encoding", "8bit" },
	{ "User-Agent", "Example Mail 1.2" },
};

/* body2k - about 1.4 KB of text, so the message is about 2 KB */
static char *
body2k(size_t *len)
{
	static const char line[] = "Hello Bob, here are the numbers for the "
	    "quarter; the plan is attached.  \r\n";
	size_t	 n = 0, l = strlen(line);
	char	*b = malloc(l * 20);

	while (n + l < 1400) {
		memcpy(b + n, line, l);
		n += l;
	}
	*len = n;
	return b;
}

/* engine_sign - one full message through the engine */
static void
engine_sign(const struct dkim_sign *s, const char *body, size_t blen)
{
	struct dkim_msg *m = dkim_msg_new(DKIM_CANON_RELAXED,
	    DKIM_CANON_RELAXED);
	char	 err[256], *v;
	size_t	 i;

	for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++)
		dkim_msg_header(m, hdrs[i][0], hdrs[i][1], strlen(hdrs[i][1]),
		    err, sizeof(err));
	dkim_msg_body(m, body, blen);
	if (dkim_msg_sign(m, s, &v, err, sizeof(err)) != DKIM_OK) {
		fprintf(stderr, "sign: %s\n", err);
		exit(1);
	}
	free(v);
	dkim_msg_free(m);
}

/*
 * raw_sign - one EVP signature with nothing else: RSA over as many bytes as
 * the engine hashes for the headers, Ed25519 over a 32-byte hash (which is
 * what ed25519-sha256 signs).
 */
static void
raw_sign(EVP_PKEY *k, int ed, const unsigned char *data, size_t n)
{
	unsigned char sig[512];
	size_t	 siglen = sizeof(sig);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (EVP_DigestSignInit(ctx, NULL, ed ? NULL : EVP_sha256(), NULL,
	    k) != 1 || EVP_DigestSign(ctx, sig, &siglen, data, ed ? 32 : n) != 1)
		exit(1);
	EVP_MD_CTX_free(ctx);
}

/* bench_msg - engine vs raw, interleaved so drift hits both the same */
static void
bench_msg(const char *name, EVP_PKEY *k, enum dkim_alg alg, int iters)
{
	struct dkim_sign s = { alg, k, "example.org", "bench", 1700000000, 0,
	    NULL };
	unsigned char data[900];
	double	*te = malloc(sizeof(double) * (size_t)iters);
	double	*tr = malloc(sizeof(double) * (size_t)iters);
	double	 t0, me, mr;
	size_t	 blen;
	char	*body = body2k(&blen);
	int	 i;

	memset(data, 'h', sizeof(data));
	for (i = 0; i < 20; i++) {
		engine_sign(&s, body, blen);
		raw_sign(k, alg == DKIM_ALG_ED25519_SHA256, data, sizeof(data));
	}
	for (i = 0; i < iters; i++) {
		t0 = now();
		engine_sign(&s, body, blen);
		te[i] = now() - t0;
		t0 = now();
		raw_sign(k, alg == DKIM_ALG_ED25519_SHA256, data, sizeof(data));
		tr[i] = now() - t0;
	}
	me = median(te, (size_t)iters);
	mr = median(tr, (size_t)iters);
	printf("%-8s 2 KB message: engine %8.1f us, raw EVP signature "
	    "%8.1f us, ratio %.3fx (%d runs, medians)\n", name, me / 1e3,
	    mr / 1e3, me / mr, iters);
	free(te);
	free(tr);
	free(body);
}

/* mkbody - 10 MB of one kind of body: "text", "base64" or "mixed" */
static unsigned char *
mkbody(const char *kind, size_t n)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	    "qrstuvwxyz0123456789+/";
	static const char *words[] = { "the", "quarterly", "numbers", "are",
	    "in,", "and", "we", "plan", "to", "ship", "Grüße", "a", "report" };
	unsigned char *b = malloc(n);
	unsigned int x = 12345;
	size_t	 i = 0, col = 0;
	int	 text;

	while (i < n) {
		x = x * 1103515245u + 12345u;
		text = strcmp(kind, "text") == 0 ||
		    (strcmp(kind, "mixed") == 0 && (x >> 20) % 10 < 4);
		if (text) {
			const char *w = words[(x >> 16) % 13];
			size_t	 wl = strlen(w);

			for (; *w && i < n; w++)
				b[i++] = (unsigned char)*w;
			col += wl;
			if (col > 66 || (x >> 8) % 97 == 0) {
				if ((x >> 12) % 7 == 0 && i < n)
					b[i++] = ' ';	/* trailing WSP */
				if (i < n) b[i++] = '\r';
				if (i < n) b[i++] = '\n';
				if ((x >> 4) % 11 == 0) {
					if (i < n) b[i++] = '\r';
					if (i < n) b[i++] = '\n';
				}
				col = 0;
			} else if (i < n) {
				b[i++] = ' ';
				if ((x >> 10) % 23 == 0 && i < n)
					b[i++] = ' ';	/* a double space */
				col++;
			}
		} else {
			size_t	 k;

			for (k = 0; k < 76 && i < n; k++) {
				x = x * 1103515245u + 12345u;
				b[i++] = (unsigned char)b64[(x >> 16) % 64];
			}
			if (i < n) b[i++] = '\r';
			if (i < n) b[i++] = '\n';
		}
	}
	return b;
}

/*
 * canon_hash - relaxed canonicalization + a digest (SHA-256, or the null
 * digest to time the canonicalization alone), fed in 64 KB chunks
 */
static void
canon_hash(const EVP_MD *alg, const unsigned char *b, size_t n,
    unsigned char *md)
{
	static struct canon_body cb;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len;
	size_t	 off, k;

	EVP_DigestInit_ex(ctx, alg, NULL);
	canon_body_init(&cb, DKIM_CANON_RELAXED, ctx);
	for (off = 0; off < n; off += k) {
		k = n - off < 65536 ? n - off : 65536;
		canon_body_update(&cb, b + off, k);
	}
	canon_body_final(&cb);
	EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
}

/* raw_hash - SHA-256 of the same bytes, same chunks */
static void
raw_hash(const unsigned char *b, size_t n, unsigned char *md)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len;
	size_t	 off, k;

	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	for (off = 0; off < n; off += k) {
		k = n - off < 65536 ? n - off : 65536;
		EVP_DigestUpdate(ctx, b + off, k);
	}
	EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
}

/* bench_body - throughput of all three, medians of interleaved runs */
static void
bench_body(const char *kind, int runs)
{
	size_t	 n = 10 * 1024 * 1024;
	unsigned char *b = mkbody(kind, n), md[EVP_MAX_MD_SIZE];
	double	*tc = malloc(sizeof(double) * (size_t)runs);
	double	*tr = malloc(sizeof(double) * (size_t)runs);
	double	*ta = malloc(sizeof(double) * (size_t)runs);
	double	 t0, mc, mr, ma;
	int	 i;

	canon_hash(EVP_sha256(), b, n, md);
	raw_hash(b, n, md);
	for (i = 0; i < runs; i++) {
		t0 = now();
		canon_hash(EVP_sha256(), b, n, md);
		tc[i] = now() - t0;
		t0 = now();
		raw_hash(b, n, md);
		tr[i] = now() - t0;
		t0 = now();
		canon_hash(EVP_md_null(), b, n, md);
		ta[i] = now() - t0;
	}
	mc = median(tc, (size_t)runs);
	mr = median(tr, (size_t)runs);
	ma = median(ta, (size_t)runs);
	printf("10 MB %-6s body: relaxed+SHA-256 %7.1f MB/s, raw SHA-256 "
	    "%7.1f MB/s, ratio %.3fx; relaxed alone %7.1f MB/s (%d runs, "
	    "medians)\n", kind, n / (mc / 1e3), n / (mr / 1e3), mr / mc,
	    n / (ma / 1e3), runs);
	free(tc);
	free(tr);
	free(ta);
	free(b);
}

int
main(int argc, char *argv[])
{
	int	 iters = argc > 1 ? atoi(argv[1]) : 400;
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	if (rsa == NULL || ed == NULL || iters < 1)
		return 1;
	bench_msg("RSA-2048", rsa, DKIM_ALG_RSA_SHA256, iters);
	bench_msg("Ed25519", ed, DKIM_ALG_ED25519_SHA256, iters * 10);
	bench_body("mixed", 15);
	bench_body("text", 15);
	bench_body("base64", 15);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ed);
	return 0;
}
