/*
 * check_engine_canon - canonicalization (milter/canon.c), table-driven
 *
 * Header fields against their expected canonical bytes; body inputs against
 * their expected canonical bytes (compared through SHA-256, which is what
 * the canonicalizer feeds) whole, split at every point, and one byte at a
 * time; then random bodies against a naive line-by-line reference written
 * straight from RFC 6376 3.4.3 / 3.4.4, with random chunking, one byte at a
 * time, and with every shape the scanner stops at on every offset of its
 * windows. Every case runs twice: with the scan this CPU gets (32-byte
 * vectors with AVX2) and with 16-byte vectors.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "buf.h"
#include "canon.h"

#define R	DKIM_CANON_RELAXED
#define S	DKIM_CANON_SIMPLE

static int	 narrow;	/* the second run: 16-byte vectors only */

static const struct hcase {
	enum dkim_canon	 mode;
	const char	*name;
	const char	*value;
	const char	*want;
} hcases[] = {
	/* RFC 6376 3.4.5 */
	{ R, "A", "X", "a:X\r\n" },
	{ R, "B ", "Y\t\r\n\tZ  ", "b:Y Z\r\n" },
	{ S, "A", "X", "A: X\r\n" },
	{ S, "B ", " Y\t\r\n\tZ  ", "B : Y\t\r\n\tZ  \r\n" },
	/* folds with bare LF, as Postfix and Sendmail hand them */
	{ R, "Subject", "a\n\tb\n c", "subject:a b c\r\n" },
	{ S, "Subject", "a\n\tb", "Subject: a\r\n\tb\r\n" },
	{ S, "Subject", "a\r\n\tb", "Subject: a\r\n\tb\r\n" },
	{ R, "SUBJECT", "  lead and trail \t ", "subject:lead and trail\r\n" },
	{ R, "X-Mixed-Case", "Keep Value Case", "x-mixed-case:Keep Value Case\r\n" },
	{ R, "X-Empty", "", "x-empty:\r\n" },
	{ R, "X-Blank", " \t\n ", "x-blank:\r\n" },
	{ S, "X-Empty", "", "X-Empty:\r\n" },
	{ S, "X-Tab", "\tv", "X-Tab:\tv\r\n" },
	{ R, "X-Tabs", "a\t\t\tb", "x-tabs:a b\r\n" },
	{ R, "X-8bit", "Gr\xc3\xbc\xc3\x9f""e  \xff", "x-8bit:Gr\xc3\xbc\xc3\x9f""e \xff\r\n" },
	{ R, "X-Colon", "a: b", "x-colon:a: b\r\n" },
	/* a bare CR is data: only CRLF and the MTA's LF are unfolded */
	{ R, "Subject", "a\rb", "subject:a\rb\r\n" },
	{ R, "Subject", "a\r \r\n\tb", "subject:a\r b\r\n" },
	{ R, "Subject", "a\r\r\n b", "subject:a\r b\r\n" },
	{ S, "Subject", "a\rb", "Subject: a\rb\r\n" },
};

/* Each header case gives exactly its canonical bytes. */
START_TEST(test_header)
{
	const struct hcase *c = &hcases[_i];
	struct buf b;

	buf_init(&b);
	canon_header(&b, c->mode, c->name, strlen(c->name), c->value,
	    strlen(c->value));
	ck_assert_msg(b.len == strlen(c->want) &&
	    memcmp(b.p, c->want, b.len) == 0, "case %d: got \"%.*s\"", _i,
	    (int)b.len, b.p);
	buf_free(&b);
}
END_TEST

static const struct bcase {
	enum dkim_canon	 mode;
	const char	*in;
	const char	*want;
} bcases[] = {
	/* RFC 6376 3.4.5 */
	{ R, " C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n" },
	{ S, " C \r\nD \t E\r\n\r\n\r\n", " C \r\nD \t E\r\n" },
	/* empty bodies: nothing in relaxed, CRLF in simple (3.4.3, 3.4.4) */
	{ R, "", "" },
	{ S, "", "\r\n" },
	{ R, "\r\n", "" },
	{ S, "\r\n", "\r\n" },
	{ R, "\r\n\r\n\r\n", "" },
	{ S, "\r\n\r\n\r\n", "\r\n" },
	{ R, " \r\n\t\r\n  \t \r\n", "" },
	{ S, " \r\n\t\r\n", " \r\n\t\r\n" },
	/* no final line end */
	{ R, "a", "a\r\n" },
	{ S, "a", "a\r\n" },
	/* the CRLF is added first: trailing WSP goes as on any line (3.4.4) */
	{ R, "a \t ", "a\r\n" },
	{ R, "a\r\nb  \t", "a\r\nb\r\n" },
	{ R, "a\r\n \t", "a\r\n" },
	{ R, " ", "" },
	{ S, " ", " \r\n" },
	{ S, "a  ", "a  \r\n" },
	/* whitespace */
	{ R, "a \t b  \r\n", "a b\r\n" },
	{ R, "  lead\r\n", " lead\r\n" },
	{ R, "\t\tx\t\ty\t\t\r\n", " x y\r\n" },
	{ S, "\t\tx\t\ty\t\t\r\n", "\t\tx\t\ty\t\t\r\n" },
	/* empty lines inside stay, at the end go */
	{ R, "a\r\n\r\n\r\nb\r\n\r\n", "a\r\n\r\n\r\nb\r\n" },
	{ S, "a\r\n\r\n\r\nb\r\n\r\n", "a\r\n\r\n\r\nb\r\n" },
	{ R, "\r\n\r\nx", "\r\n\r\nx\r\n" },
	{ R, "x\r\n \r\n", "x\r\n" },
	{ S, "x\r\n \r\n", "x\r\n \r\n" },
	/* bare LF ends a line; a bare CR is data */
	{ R, "a\nb\n\n", "a\r\nb\r\n" },
	{ S, "a\nb", "a\r\nb\r\n" },
	{ R, "a\rb\r\n", "a\rb\r\n" },
	{ R, "a \rb", "a \rb\r\n" },
	{ R, "a\r", "a\r\r\n" },
	{ S, "\r", "\r\r\n" },
	{ R, "a\r\r\n", "a\r\r\n" },
	{ R, "8bit \xc3\xa9\xff  \r\n", "8bit \xc3\xa9\xff\r\n" },
};

/* digest - SHA-256 of bytes, the reference side of a comparison */
static void
digest(const void *p, size_t n, unsigned char *md)
{
	unsigned int len;

	ck_assert(EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) == 1);
}

/*
 * chunk - one chunk, from a buffer of exactly its size, so that a read past
 * either end is one that AddressSanitizer sees
 */
static void
chunk(struct canon_body *cb, const char *p, size_t n)
{
	char	*copy = malloc(n ? n : 1);

	if (copy == NULL)	/* not ck_assert: it writes, even when it holds */
		ck_abort_msg("out of memory");
	memcpy(copy, p, n);
	canon_body_update(cb, copy, n);
	free(copy);
}

/* canon_digest - SHA-256 of what the canonicalizer makes of in, in chunks */
static void
canon_digest(enum dkim_canon mode, const char *in, size_t n,
    const size_t *cuts, size_t ncuts, unsigned char *md)
{
	struct canon_body *cb = malloc(sizeof(*cb));
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len;
	size_t	 i, at = 0;

	ck_assert(ctx != NULL && cb != NULL);
	ck_assert(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1);
	canon_body_init(cb, mode, ctx);
	if (narrow)
		cb->wide = 0;
	for (i = 0; i <= ncuts; i++) {
		chunk(cb, in + at, (i < ncuts ? cuts[i] : n) - at);
		at = i < ncuts ? cuts[i] : n;
	}
	ck_assert_int_eq(canon_body_final(cb), 0);
	ck_assert(EVP_DigestFinal_ex(ctx, md, &len) == 1);
	EVP_MD_CTX_free(ctx);
	free(cb);
}

/* Each body case, whole and cut at every pair of points. */
START_TEST(test_body)
{
	const struct bcase *c = &bcases[_i];
	unsigned char want[32], got[32];
	size_t	 n = strlen(c->in), i, j, cuts[2];

	digest(c->want, strlen(c->want), want);
	canon_digest(c->mode, c->in, n, NULL, 0, got);
	ck_assert_msg(memcmp(want, got, 32) == 0, "case %d whole", _i);
	for (i = 0; i <= n; i++)
		for (j = i; j <= n; j++) {
			cuts[0] = i;
			cuts[1] = j;
			canon_digest(c->mode, c->in, n, cuts, 2, got);
			ck_assert_msg(memcmp(want, got, 32) == 0,
			    "case %d cut at %zu and %zu", _i, i, j);
		}
}
END_TEST

/*
 * reference - RFC 6376 3.4.3/3.4.4 line by line, as plainly as possible:
 * split into lines (CRLF or bare LF), rewrite each, drop the trailing
 * empty ones, join with CRLF.
 */
static void
reference(enum dkim_canon mode, const char *in, size_t n, struct buf *out)
{
	struct buf line;
	size_t	 i = 0, keep = 0, k;
	int	 sp;

	buf_init(&line);
	while (i < n) {
		buf_free(&line);
		while (i < n && in[i] != '\n' &&
		    !(in[i] == '\r' && i + 1 < n && in[i + 1] == '\n'))
			buf_addc(&line, in[i++]);
		i += i < n ? (in[i] == '\r' ? 2 : 1) : 0;
		if (mode == R) {
			struct buf r;

			buf_init(&r);
			for (k = 0, sp = 0; k < line.len; k++) {
				if (line.p[k] == ' ' || line.p[k] == '\t') {
					sp = 1;
					continue;
				}
				if (sp)
					buf_addc(&r, ' ');
				sp = 0;
				buf_addc(&r, line.p[k]);
			}
			buf_free(&line);
			line = r;
		}
		buf_add(out, line.p, line.len);
		buf_add(out, "\r\n", 2);
		if (line.len > 0)
			keep = out->len;
	}
	out->len = keep;
	if (mode == S && out->len == 0)
		buf_add(out, "\r\n", 2);
	buf_free(&line);
}

/* Random bodies in random chunks against the line-by-line reference. */
START_TEST(test_body_random)
{
	/* dense with specials, then mostly text: both paths of the scanner */
	static const char *const alphabets[] = { "ab \t\r\n\n\r\xff",
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ \r\n\r\n\t\x01" };
	const char *alphabet = alphabets[_i % 2];
	size_t	 alen = strlen(alphabet);
	unsigned char want[32], got[32];
	unsigned int s = 12345 + (unsigned int)_i;
	size_t	 cuts[64], ncuts, n, i;
	char	 in[600];
	struct buf ref;
	int	 iter;

	for (iter = 0; iter < 400; iter++) {
		s = s * 1103515245u + 12345u;
		n = (s >> 16) % sizeof(in);
		for (i = 0; i < n; i++) {
			s = s * 1103515245u + 12345u;
			in[i] = alphabet[(s >> 16) % alen];
		}
		for (ncuts = 0; ncuts < 64 && n > 0; ncuts++) {
			s = s * 1103515245u + 12345u;
			cuts[ncuts] = (ncuts ? cuts[ncuts - 1] : 0) +
			    (s >> 16) % 20;
			if (cuts[ncuts] > n)
				break;
		}
		buf_init(&ref);
		reference(iter % 2 ? R : S, in, n, &ref);
		digest(ref.p ? ref.p : "", ref.len, want);
		canon_digest(iter % 2 ? R : S, in, n, cuts, ncuts, got);
		ck_assert_msg(memcmp(want, got, 32) == 0, "seed %d iter %d",
		    _i, iter);
		buf_free(&ref);
	}
}
END_TEST

/*
 * Bodies of words and the shapes the relaxed scanner removes in its stride
 * (a double SP, a SP before CRLF), mixed with the ones it does not (longer
 * runs, HTAB, empty lines), so that two of them often share a 16-byte
 * block and land on every offset, in random chunks against the reference.
 */
START_TEST(test_body_words)
{
	static const char *const tokens[] = { "word", "ab", "x", " ", " ",
	    " ", "  ", "  ", " \r\n", "\r\n", "\r\n\r\n", "   ", "\t", " \t",
	    "  \r\n", "\xc3\xbc" };
	const size_t ntokens = sizeof(tokens) / sizeof(tokens[0]);
	unsigned char want[32], got[32];
	unsigned int s = 777 + (unsigned int)_i;
	size_t	 cuts[64], ncuts, n, l;
	char	 in[700];
	struct buf ref;
	int	 iter;

	for (iter = 0; iter < 400; iter++) {
		s = s * 1103515245u + 12345u;
		for (n = 0, l = (s >> 16) % 600; n < l; n += strlen(
		    tokens[(s >> 16) % ntokens])) {
			s = s * 1103515245u + 12345u;
			memcpy(in + n, tokens[(s >> 16) % ntokens],
			    strlen(tokens[(s >> 16) % ntokens]));
		}
		for (ncuts = 0; ncuts < 64 && n > 0; ncuts++) {
			s = s * 1103515245u + 12345u;
			cuts[ncuts] = (ncuts ? cuts[ncuts - 1] : 0) +
			    (s >> 16) % 97;
			if (cuts[ncuts] > n)
				break;
		}
		buf_init(&ref);
		reference(iter % 4 ? R : S, in, n, &ref);
		digest(ref.p ? ref.p : "", ref.len, want);
		canon_digest(iter % 4 ? R : S, in, n, cuts, ncuts, got);
		ck_assert_msg(memcmp(want, got, 32) == 0, "seed %d iter %d",
		    _i, iter);
		buf_free(&ref);
	}
}
END_TEST

/*
 * Long lines of words, mostly in canonical form already, so that the
 * relaxed scanner's 64-byte stride runs, with every shape it must stop at
 * (the rare tokens) landing on every offset of it; whole and in chunks of
 * up to 1,500 bytes against the reference.
 */
START_TEST(test_body_lines)
{
	static const char *const common[] = { "word", "ab", "x", "long-word",
	    " ", " ", " ", "\r\n", "\xc3\xbc" };
	static const char *const rare[] = { "  ", " \r\n", "\r\n\r\n", "\t",
	    "\n", "\r", "\r\n ", " \t ", "\x01", "\r\n\t", "   \r\n" };
	const size_t ncommon = sizeof(common) / sizeof(common[0]);
	const size_t nrare = sizeof(rare) / sizeof(rare[0]);
	unsigned char want[32], got[32];
	unsigned int s = 4242 + (unsigned int)_i;
	size_t	 cuts[64], ncuts, n, l, k;
	const char *tok;
	char	 in[4200];
	struct buf ref;
	int	 iter, every;

	for (iter = 0; iter < 200; iter++) {
		s = s * 1103515245u + 12345u;
		every = 20 + (int)((s >> 16) % 400);	/* 1 rare in this many */
		for (n = 0, l = (s >> 8) % 4000; n < l; n += strlen(tok)) {
			s = s * 1103515245u + 12345u;
			k = s >> 16;
			tok = k % (unsigned int)every == 0 ? rare[(k >> 9) %
			    nrare] : common[(k >> 3) % ncommon];
			memcpy(in + n, tok, strlen(tok));
		}
		ncuts = 0;
		while (iter % 2 && ncuts < 64) {
			s = s * 1103515245u + 12345u;
			cuts[ncuts] = (ncuts ? cuts[ncuts - 1] : 0) +
			    (s >> 16) % 1500;
			if (cuts[ncuts] > n)
				break;
			ncuts++;
		}
		buf_init(&ref);
		reference(R, in, n, &ref);
		digest(ref.p ? ref.p : "", ref.len, want);
		canon_digest(R, in, n, cuts, ncuts, got);
		ck_assert_msg(memcmp(want, got, 32) == 0, "seed %d iter %d",
		    _i, iter);
		buf_free(&ref);
	}
}
END_TEST

/* A body longer than the batch buffer, with long verbatim runs, in chunks. */
START_TEST(test_body_large)
{
	unsigned char want[32], got[32];
	size_t	 n = 300000, i, cuts[3] = { 1, 4097, 150001 };
	char	*in = malloc(n);
	struct buf ref;

	ck_assert(in != NULL);
	for (i = 0; i < n; i++)
		in[i] = i % 997 == 0 ? '\n' : i % 13 == 0 ? ' ' :
		    i % 501 == 0 ? '\t' : (char)('A' + i % 26);
	buf_init(&ref);
	reference(_i ? R : S, in, n, &ref);
	digest(ref.p, ref.len, want);
	canon_digest(_i ? R : S, in, n, NULL, 0, got);
	ck_assert(memcmp(want, got, 32) == 0);
	canon_digest(_i ? R : S, in, n, cuts, 3, got);
	ck_assert(memcmp(want, got, 32) == 0);
	buf_free(&ref);
	free(in);
}
END_TEST

/* rnd - the next number of a test's own generator */
static unsigned int
rnd(unsigned int *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 16;
}

/*
 * check_feeds - whole, a byte at a time (up to 20,000 bytes) and in random
 * chunks: the reference
 */
static void
check_feeds(enum dkim_canon mode, const char *in, size_t n, unsigned int *s,
    size_t maxchunk, const char *what)
{
	unsigned char want[32], got[32];
	size_t	*cuts, ncuts = 0, i;
	struct buf ref;

	buf_init(&ref);
	reference(mode, in, n, &ref);
	digest(ref.p ? ref.p : "", ref.len, want);
	buf_free(&ref);
	canon_digest(mode, in, n, NULL, 0, got);
	ck_assert_msg(memcmp(want, got, 32) == 0, "%s: whole", what);
	cuts = malloc((n + 1) * sizeof(*cuts));
	ck_assert(cuts != NULL);
	for (i = 1; i < n && n <= 20000; i++)
		cuts[ncuts++] = i;
	canon_digest(mode, in, n, cuts, ncuts, got);
	ck_assert_msg(memcmp(want, got, 32) == 0, "%s: a byte at a time",
	    what);
	for (ncuts = 0, i = 0; ; ncuts++) {
		i += 1 + rnd(s) % maxchunk;
		if (i >= n)
			break;
		cuts[ncuts] = i;
	}
	canon_digest(mode, in, n, cuts, ncuts, got);
	ck_assert_msg(memcmp(want, got, 32) == 0, "%s: in chunks of up to %zu",
	    what, maxchunk);
	free(cuts);
}

/*
 * Bodies made of what canonicalization changes, in runs: text of up to
 * 700 bytes (longer than a scan window, and than a run the canonicalizer
 * hashes from the input), WSP runs, CRLFs, empty lines, bare CR and LF,
 * whitespace-only lines, and trailing empty lines at the end; whole, a
 * byte at a time and in random chunks against the reference, in both
 * forms.
 */
START_TEST(test_body_feeds)
{
	static const char *const shapes[] = { " ", "  ", "\t", " \t ", "\r\n",
	    "\r\n\r\n", "\r\n\r\n\r\n", "\n", "\n\n", "\r", "\r\r\n", " \r\n",
	    "\t\r\n", "\r\n \r\n", "\r\n\t", "\r\n ", "\x01", "\xc3\xa9",
	    "\r\n\r\n \r\n\t\r\n" };
	static const char *const ends[] = { "", "\r\n", "\r\n\r\n\r\n",
	    " \r\n\r\n", "\n\n", " ", "\t", "\r", "\r\n \t" };
	const size_t nshapes = sizeof(shapes) / sizeof(shapes[0]);
	unsigned int s = 9001 + (unsigned int)_i;
	size_t	 n, k, l, cap = 12000;
	char	*in = malloc(cap), what[64];
	const char *e;
	int	 iter;

	ck_assert(in != NULL);
	for (iter = 0; iter < 24; iter++) {
		for (n = 0, l = rnd(&s) % 9000; n < l; ) {
			if (rnd(&s) % 3 == 0) {
				k = rnd(&s) % (rnd(&s) % 8 == 0 ? 700 : 70) + 1;
				for (; k > 0 && n < cap - 64; k--, n++)
					in[n] = (char)('a' + n % 26);
			} else {
				e = shapes[rnd(&s) % nshapes];
				memcpy(in + n, e, strlen(e));
				n += strlen(e);
			}
		}
		e = ends[rnd(&s) % (sizeof(ends) / sizeof(ends[0]))];
		memcpy(in + n, e, strlen(e));
		n += strlen(e);
		snprintf(what, sizeof(what), "seed %d iter %d", _i, iter);
		check_feeds(iter % 3 ? R : S, in, n, &s,
		    iter % 2 ? 9 : 5000, what);
	}
	free(in);
}
END_TEST

/*
 * Each shape the scanner stops at, after k bytes of text in canonical
 * form for every k over two scan windows, followed by text long enough for
 * another window: whole, and cut at each byte around the shape.
 */
START_TEST(test_body_offsets)
{
	static const char *const shapes[] = { "  ", " \r\n", "\r\n\r\n", "\t",
	    "\n", "\r", "\r\n ", " \t ", "\x01", "\r\n\t", "   \r\n", "\r\n",
	    "\r\r\n", "\n\r\n", " \n", "x \r\n\r\n", "\r\n\n" };
	static const char text[] = "Lorem ipsum dolor sit amet,\r\nconsectetur "
	    "adipiscing elit, sed do\r\neiusmod tempor incididunt ut labore et "
	    "dolore\r\nmagna aliqua. Ut enim ad minim veniam, quis\r\nnostrud "
	    "exercitation ullamco laboris nisi ut\r\naliquip ex ea commodo "
	    "consequat.\r\n";
	const char *shape = shapes[_i];
	unsigned char want[32], got[32];
	size_t	 sl = strlen(shape), tl = strlen(text), n, k, c, cuts[1];
	char	 in[600];
	struct buf ref;

	for (k = 0; k < 2 * 64 + 8; k++) {
		/* text up to k, the shape, then text again: no dirt but it */
		memset(in, 'a', k);
		memcpy(in + k, shape, sl);
		memcpy(in + k + sl, text, tl);
		n = k + sl + tl;
		buf_init(&ref);
		reference(R, in, n, &ref);
		digest(ref.p, ref.len, want);
		buf_free(&ref);
		canon_digest(R, in, n, NULL, 0, got);
		ck_assert_msg(memcmp(want, got, 32) == 0, "shape %d at %zu",
		    _i, k);
		for (c = k > 2 ? k - 2 : 1; c <= k + sl + 2; c++) {
			cuts[0] = c;
			canon_digest(R, in, n, cuts, 1, got);
			ck_assert_msg(memcmp(want, got, 32) == 0,
			    "shape %d at %zu, cut at %zu", _i, k, c);
		}
	}
}
END_TEST

/*
 * Long runs in canonical form (longer than what goes to the digest from
 * the input, and than a scan span) between rare shapes that need a look,
 * 300 KB in random chunks of up to 70,000 bytes (more than libmilter's
 * 65,535) and of up to 100.
 */
START_TEST(test_body_long_runs)
{
	static const char *const rare[] = { "  ", " \r\n", "\r\n\r\n", "\t",
	    "\n", "\r", "\r\n \r\n", "\r\n\r\n\r\n" };
	static const char line[] = "VGhlIHF1aWNrIGJyb3duIGZveCBqdW1wcyBvdmVyIH"
	    "RoZSBsYXp5IGRvZyBhbmQga2VlcHMgcnVubmluZw==\r\n";
	unsigned int s = 31337 + (unsigned int)_i;
	size_t	 n = 0, cap = 300000, every, l = strlen(line);
	char	*in = malloc(cap), what[64];
	const char *e;

	ck_assert(in != NULL);
	every = _i % 2 ? 30 : 300;		/* lines between rare shapes */
	while (n + l + 64 < cap) {
		if (rnd(&s) % every == 0) {
			e = rare[rnd(&s) % (sizeof(rare) / sizeof(rare[0]))];
			memcpy(in + n, e, strlen(e));
			n += strlen(e);
		}
		memcpy(in + n, line, l);
		n += l;
		if (rnd(&s) % 4 == 0)		/* and text with words */
			n += (size_t)snprintf(in + n, cap - n,
			    "words and spaces %u\r\n", rnd(&s));
	}
	snprintf(what, sizeof(what), "seed %d", _i);
	check_feeds(_i % 3 ? R : S, in, n, &s, _i % 4 < 2 ? 70000 : 100,
	    what);
	free(in);
}
END_TEST

/* canon_suite - every case of this file */
static Suite *
canon_suite(void)
{
	Suite	*s = suite_create("canon");
	TCase	*tc = tcase_create("canon");

	tcase_add_loop_test(tc, test_header, 0, sizeof(hcases) /
	    sizeof(hcases[0]));
	tcase_add_loop_test(tc, test_body, 0, sizeof(bcases) /
	    sizeof(bcases[0]));
	tcase_add_loop_test(tc, test_body_random, 0, 16);
	tcase_add_loop_test(tc, test_body_lines, 0, 32);
	tcase_add_loop_test(tc, test_body_words, 0, 16);
	tcase_add_loop_test(tc, test_body_large, 0, 2);
	tcase_add_loop_test(tc, test_body_feeds, 0, 8);
	tcase_add_loop_test(tc, test_body_offsets, 0, 17);
	tcase_add_loop_test(tc, test_body_long_runs, 0, 6);
	tcase_set_timeout(tc, 120);	/* a hang bound, nothing is timed */
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed = 0;

	for (narrow = 0; narrow <= 1; narrow++) {
		sr = srunner_create(canon_suite());
		srunner_run_all(sr, CK_NORMAL);
		failed += srunner_ntests_failed(sr);
		srunner_free(sr);
	}
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
