/*
 * canon - RFC 6376 canonicalization (see canon.h)
 *
 * Body state machine (one byte at a time, when nothing else applies):
 *	cr	a CR was seen; the next byte decides whether it ends a line
 *	sp	relaxed: a run of WSP was seen; written as one SP before the
 *		next content byte, dropped at the end of the line
 *	nl	line ends seen since the last content byte; written as that many
 *		CRLFs before the next content byte, and as one at the end when
 *		the body had content (that one closes the last non-empty line)
 * When cr, sp and nl are all clear, canon_fast takes the input instead:
 * canon_clean reads how far it is in canonical form already (text whose
 * SPs and CRLFs are each before text), and canon_emit passes that run on
 * as it is, a long one straight from the input to the digest (no copy), a
 * short one through the batch. The byte the scan stops at is dealt with in
 * place: a single SP before CRLF or before a SP before text is skipped
 * (canon_drop1), a WSP run before text becomes one SP, WSP before CRLF
 * goes, CRLFs before text are kept, a control byte is content. Anything it
 * cannot decide inside this chunk (a run reaching the chunk's end, a bare
 * CR or LF, trailing empty lines) goes back to the state machine.
 *
 * The scan looks at a window of 64 bytes as bit masks, one bit a byte. A
 * byte's form depends on the byte before it and the two after it, so the
 * first byte of a window and its last two only give context, and windows
 * move 61 bytes a step. The mask of the bytes of SP and below settles most
 * windows alone: none, or one CRLF before text; the others take the mask
 * of SP and then CR and LF (canon_dirty_relaxed). The masks come from
 * GCC/Clang vector arithmetic, 16 bytes a vector (SSE2 on x86-64, NEON on
 * arm64, plain words elsewhere, from the same source), or 32 on an x86-64
 * CPU with AVX2, which halves the work of the scan; canon_fast is built
 * for both, and the CPU chooses when a body starts.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#ifdef __x86_64__
#include <immintrin.h>
#endif

#include "canon.h"

#define CANON_DIRECT	512	/* a run this long goes to the digest from the input */
#define CANON_SHORT	128	/* a run this short is copied as a block this long */
#define CANON_SPAN	8192	/* scanned, then hashed while it is in the L1 cache */
#define CANON_WIN	64	/* bytes a scan step looks at */
#define CANON_STEP	61	/* bytes a scan step decides */
#define CANON_DECIDED	((1ULL << CANON_STEP) - 1)

/* WSP and line-end bytes: the only ones either body form ever changes */
static const unsigned char canon_class[256] = {
	['\r'] = 1, ['\n'] = 1, [' '] = 1, ['\t'] = 1,
};

/* canon_lower - ASCII only: header names are ASCII, locales do not apply */
static inline int
canon_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/*
 * canon_fold - is value[i] part of a line end that unfolding removes? LF
 * (the MTA's fold) and the CR of a CRLF are; a bare CR is data, as it is
 * to a verifier that splits the header at CRLF.
 */
static inline int
canon_fold(const char *value, size_t valuelen, size_t i)
{
	return value[i] == '\n' ||
	    (value[i] == '\r' && i + 1 < valuelen && value[i + 1] == '\n');
}

/* canon_header_relaxed - RFC 6376 3.4.2: lowercase name, unfold, squeeze WSP */
static void
canon_header_relaxed(struct buf *b, const char *name, size_t namelen,
    const char *value, size_t valuelen)
{
	size_t	 i;
	int	 sp = 0, started = 0;
	char	*o;

	while (namelen > 0 && (name[namelen - 1] == ' ' ||
	    name[namelen - 1] == '\t'))
		namelen--;
	buf_reserve(b, namelen + valuelen + 3);
	o = b->p + b->len;	/* a local end: stores through char * alias b */
	for (i = 0; i < namelen; i++)
		*o++ = (char)canon_lower((unsigned char)name[i]);
	*o++ = ':';
	for (i = 0; i < valuelen; i++) {
		char c = value[i];

		if (canon_fold(value, valuelen, i))
			continue;
		if (c == ' ' || c == '\t') {
			sp = 1;
			continue;
		}
		if (sp && started)
			*o++ = ' ';
		sp = 0;
		started = 1;
		*o++ = c;
	}
	*o++ = '\r';
	*o++ = '\n';
	b->len = (size_t)(o - b->p);
}

/*
 * canon_header_simple - RFC 6376 3.4.1: the field as it is on the wire. The
 * MTA strips the space after the colon; it is put back when the value does
 * not start with whitespace, and bare LF folds become CRLF.
 */
static void
canon_header_simple(struct buf *b, const char *name, size_t namelen,
    const char *value, size_t valuelen)
{
	size_t	 i;

	buf_add(b, name, namelen);
	buf_addc(b, ':');
	if (valuelen > 0 && value[0] != ' ' && value[0] != '\t')
		buf_addc(b, ' ');
	for (i = 0; i < valuelen; i++) {
		if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r'))
			buf_addc(b, '\r');
		buf_addc(b, value[i]);
	}
	buf_add(b, "\r\n", 2);
}

/* canon_header - one field in canonical form, CRLF-terminated, appended to b */
void
canon_header(struct buf *b, enum dkim_canon mode, const char *name,
    size_t namelen, const char *value, size_t valuelen)
{
	if (mode == DKIM_CANON_RELAXED)
		canon_header_relaxed(b, name, namelen, value, valuelen);
	else
		canon_header_simple(b, name, namelen, value, valuelen);
}

/* canon_flush - hand the batched output to the digest */
static void
canon_flush(struct canon_body *cb)
{
	if (cb->n > 0 && EVP_DigestUpdate(cb->md, cb->out, cb->n) != 1)
		cb->failed = 1;
	cb->n = 0;
}

/* canon_put - one output byte, batched */
static inline void
canon_put(struct canon_body *cb, unsigned char c)
{
	if (cb->n == sizeof(cb->out))
		canon_flush(cb);
	cb->out[cb->n++] = c;
}

/* canon_content - a content byte: the deferred line ends and WSP go first */
static void
canon_content(struct canon_body *cb, unsigned char c)
{
	for (; cb->nl > 0; cb->nl--) {
		canon_put(cb, '\r');
		canon_put(cb, '\n');
	}
	if (cb->sp) {
		canon_put(cb, ' ');
		cb->sp = 0;
	}
	canon_put(cb, c);
	cb->any = 1;
}

/* canon_eol - a line ends: its trailing WSP is gone, the CRLF is deferred */
static void
canon_eol(struct canon_body *cb)
{
	cb->sp = 0;
	cb->nl++;
}

/* canon_step - the state machine on one byte */
static void
canon_step(struct canon_body *cb, unsigned char c)
{
	if (cb->cr) {
		cb->cr = 0;
		if (c == '\n') {
			canon_eol(cb);
			return;
		}
		canon_content(cb, '\r');
	}
	if (c == '\r')
		cb->cr = 1;
	else if (c == '\n')
		canon_eol(cb);
	else if (cb->relaxed && (c == ' ' || c == '\t'))
		cb->sp = 1;
	else
		canon_content(cb, c);
}

/*
 * GCC/Clang vector arithmetic, 16 bytes at a time: a lane compares to all
 * ones or all zeros.
 */
typedef unsigned char canon_vec __attribute__((vector_size(16)));

/* canon_load - 16 bytes from anywhere */
static inline canon_vec
canon_load(const unsigned char *p)
{
	canon_vec v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * The lanes gathered into an int, lowest lane first: one instruction on
 * SSE2 (every x86-64), a multiply per 8 lanes elsewhere. A lane is all
 * ones or all zeros.
 */
#ifdef __SSE2__
/* canon_mask16 - the 16 lanes of a vector as 16 bits */
static inline uint64_t
canon_mask16(canon_vec v)
{
	return (uint64_t)(unsigned int)_mm_movemask_epi8((__m128i)v);
}
#else
/* canon_mask8 - the 8 lanes in w as 8 bits, one bit of each byte gathered */
static inline uint64_t
canon_mask8(uint64_t w)
{
	if (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__)
		w = __builtin_bswap64(w);
	return ((w & 0x8040201008040201ULL) * 0x0101010101010101ULL) >> 56;
}

/* canon_mask16 - the 16 lanes of a vector as 16 bits */
static inline uint64_t
canon_mask16(canon_vec v)
{
	uint64_t w[2];

	memcpy(w, &v, sizeof(w));
	return canon_mask8(w[0]) | canon_mask8(w[1]) << 8;
}
#endif

/* canon_join - the lanes of four vectors as 64 bits, the first lowest */
static inline uint64_t
canon_join(canon_vec a, canon_vec b, canon_vec c, canon_vec d)
{
	return canon_mask16(a) | canon_mask16(b) << 16 |
	    canon_mask16(c) << 32 | canon_mask16(d) << 48;
}

/* canon_low16 - the bytes of the 64 at q that are SP or below, as bits */
static inline uint64_t
canon_low16(const unsigned char *q)
{
	canon_vec v0 = canon_load(q), v1 = canon_load(q + 16);
	canon_vec v2 = canon_load(q + 32), v3 = canon_load(q + 48);

	return canon_join((canon_vec)(v0 <= ' '), (canon_vec)(v1 <= ' '),
	    (canon_vec)(v2 <= ' '), (canon_vec)(v3 <= ' '));
}

/* canon_eq16 - the bytes of the 64 at q that are c, as bits */
static inline uint64_t
canon_eq16(const unsigned char *q, unsigned char c)
{
	canon_vec v0 = canon_load(q), v1 = canon_load(q + 16);
	canon_vec v2 = canon_load(q + 32), v3 = canon_load(q + 48);

	return canon_join((canon_vec)(v0 == c), (canon_vec)(v1 == c),
	    (canon_vec)(v2 == c), (canon_vec)(v3 == c));
}

#ifdef __x86_64__
/* The same, 32 bytes a vector, for a CPU with AVX2 (canon_wide). */
#define CANON_AVX2	__attribute__((target("avx2")))

typedef unsigned char canon_vec32 __attribute__((vector_size(32)));

/* canon_mask32 - the 32 lanes of a vector as 32 bits */
static inline CANON_AVX2 uint64_t
canon_mask32(canon_vec32 v)
{
	return (uint64_t)(uint32_t)_mm256_movemask_epi8((__m256i)v);
}

/* canon_low32 - canon_low16, 32 bytes a vector */
static inline CANON_AVX2 uint64_t
canon_low32(const unsigned char *q)
{
	canon_vec32 v0, v1;

	memcpy(&v0, q, sizeof(v0));
	memcpy(&v1, q + 32, sizeof(v1));
	return canon_mask32((canon_vec32)(v0 <= ' ')) |
	    canon_mask32((canon_vec32)(v1 <= ' ')) << 32;
}

/* canon_eq32 - canon_eq16, 32 bytes a vector */
static inline CANON_AVX2 uint64_t
canon_eq32(const unsigned char *q, unsigned char c)
{
	canon_vec32 v0, v1;

	memcpy(&v0, q, sizeof(v0));
	memcpy(&v1, q + 32, sizeof(v1));
	return canon_mask32((canon_vec32)(v0 == c)) |
	    canon_mask32((canon_vec32)(v1 == c)) << 32;
}

/* canon_wide - does this CPU have AVX2? */
static int
canon_wide(void)
{
	return __builtin_cpu_supports("avx2");
}
#else
#define CANON_AVX2

/* canon_low32 - without AVX2 there are only 16-byte vectors */
static inline uint64_t
canon_low32(const unsigned char *q)
{
	return canon_low16(q);
}

/* canon_eq32 - the same */
static inline uint64_t
canon_eq32(const unsigned char *q, unsigned char c)
{
	return canon_eq16(q, c);
}

/* canon_wide - no CPU but x86-64 gets the 32-byte scan */
static int
canon_wide(void)
{
	return 0;
}
#endif

/* canon_low - canon_low16 or canon_low32 */
static inline __attribute__((always_inline)) uint64_t
canon_low(int wide, const unsigned char *q)
{
	return wide ? canon_low32(q) : canon_low16(q);
}

/* canon_eq - canon_eq16 or canon_eq32 */
static inline __attribute__((always_inline)) uint64_t
canon_eq(int wide, const unsigned char *q, unsigned char c)
{
	return wide ? canon_eq32(q, c) : canon_eq16(q, c);
}

/*
 * canon_one_crlf - the window at q, whose bytes of SP and below are low,
 * and the decided ones of them w (bit i for byte i + 1, w not 0): are
 * they one CR and its LF before text? A window of base64 mostly is.
 */
static inline int
canon_one_crlf(const unsigned char *q, uint64_t low, uint64_t w)
{
	int	 k = __builtin_ctzll(w) + 1;

	return w == 3ULL << (k - 1) && q[k] == '\r' && q[k + 1] == '\n' &&
	    (low >> (k + 2) & 1) == 0;
}

/*
 * canon_dirty_ctl - the bytes canon_dirty_relaxed is after, from the masks
 * of SP and below and of SP, the controls looked at one at a time (where
 * gathering two more masks would cost more): a CR and its LF before text
 * are fine, and stop nothing.
 */
static inline uint64_t
canon_dirty_ctl(const unsigned char *q, uint64_t low, uint64_t sp)
{
	uint64_t dirty = sp & low >> 1, ctl = low & ~sp & CANON_DECIDED << 1;
	const unsigned char *c;

	if (ctl != 0 && canon_one_crlf(q, low, ctl >> 1))
		ctl = 0;			/* the usual: a line end */
	for (; ctl != 0; ctl &= ctl - 1) {
		c = q + __builtin_ctzll(ctl);
		if (!(c[0] == '\r' && c[1] == '\n' && c[2] > ' ') &&
		    !(c[0] == '\n' && c[-1] == '\r' && c[1] > ' ')) {
			dirty |= ctl & -ctl;
			break;
		}
	}
	return dirty >> 1 & CANON_DECIDED;
}

/*
 * canon_dirty_relaxed - of the window at q, the bytes 1 to 61 that are not
 * in relaxed canonical form, as bits from bit 0 (for byte 1): every byte
 * of SP and below but a SP before text (a byte above SP) and a CR and its
 * LF before text. With 32-byte vectors the four masks are cheap enough to
 * decide it without a branch.
 */
static inline __attribute__((always_inline)) uint64_t
canon_dirty_relaxed(int wide, const unsigned char *q)
{
	uint64_t low = canon_low(wide, q), w = low >> 1 & CANON_DECIDED;
	uint64_t sp, cr, lf, crlf;

	if (w == 0 || canon_one_crlf(q, low, w))
		return 0;
	sp = canon_eq(wide, q, ' ');
	if (!wide)
		return canon_dirty_ctl(q, low, sp);
	cr = canon_eq(wide, q, '\r');
	lf = canon_eq(wide, q, '\n');
	crlf = cr & lf >> 1 & ~(low >> 2);
	return (low & ~((sp & ~(low >> 1)) | crlf | crlf << 1)) >> 1 &
	    CANON_DECIDED;
}

/*
 * canon_dirty_simple - the same in the simple form: every CR and LF but a
 * CR and its LF before a byte that is neither
 */
static inline __attribute__((always_inline)) uint64_t
canon_dirty_simple(int wide, const unsigned char *q)
{
	uint64_t cr = canon_eq(wide, q, '\r'), lf = canon_eq(wide, q, '\n');
	uint64_t nl = cr | lf, crlf = cr & lf >> 1 & ~(nl >> 2);

	return (nl & ~(crlf | crlf << 1)) >> 1 & CANON_DECIDED;
}

/*
 * canon_stride - canon_clean's scan, a window at a time: the window of p
 * starts at p - 1 (p is past the input's start) and decides p[0] to p[60].
 * Goes on while p < lim and the window ends before end. Returns the first
 * byte not in canonical form (*stop set) or where it stopped, lim or up to
 * 60 bytes past it.
 */
static inline __attribute__((always_inline)) const unsigned char *
canon_stride(int relaxed, int wide, const unsigned char *p,
    const unsigned char *lim, const unsigned char *end, int *stop)
{
	uint64_t dirty;

	for (; p < lim && end - p >= CANON_WIN - 1; p += CANON_STEP) {
		dirty = relaxed ? canon_dirty_relaxed(wide, p - 1) :
		    canon_dirty_simple(wide, p - 1);
		if (dirty != 0) {
			*stop = 1;
			return p + __builtin_ctzll(dirty);
		}
	}
	return p;
}

/*
 * canon_dirty1 - the byte at p one at a time, where a window does not fit:
 * is it not in canonical form, or not known to be from the input there is
 * (a line end or WSP too near its end)? The input starts at base; what came
 * before it was content.
 */
static int
canon_dirty1(int relaxed, const unsigned char *base, const unsigned char *p,
    const unsigned char *end)
{
	size_t	 left = (size_t)(end - p);
	int	 crlf, lfb;

	crlf = *p == '\r' && left >= 3 && p[1] == '\n';
	lfb = *p == '\n' && p > base && p[-1] == '\r' && left >= 2;
	if (!relaxed)
		return (*p == '\r' && !(crlf && p[2] != '\r' && p[2] != '\n')) ||
		    (*p == '\n' && !(lfb && p[1] != '\r' && p[1] != '\n'));
	return (*p < ' ' && !(crlf && p[2] > ' ') && !(lfb && p[1] > ' ')) ||
	    (*p == ' ' && (left == 1 || p[1] <= ' '));
}

/*
 * canon_clean - how far the input from p is in canonical form already:
 * the first byte that needs a look (*stop set), or lim, or up to 60 bytes
 * past it. The input is [base, end); lim <= end.
 */
static inline __attribute__((always_inline)) const unsigned char *
canon_clean(int wide, const struct canon_body *cb, const unsigned char *base,
    const unsigned char *p, const unsigned char *lim, const unsigned char *end,
    int *stop)
{
	*stop = 0;
	if (p == base) {		/* the windows start a byte before p */
		if (canon_dirty1(cb->relaxed, base, p, end)) {
			*stop = 1;
			return p;
		}
		p++;
	}
	p = cb->relaxed ? canon_stride(1, wide, p, lim, end, stop) :
	    canon_stride(0, wide, p, lim, end, stop);
	for (; !*stop && p < lim; p++)
		if (canon_dirty1(cb->relaxed, base, p, end)) {
			*stop = 1;
			break;
		}
	return p;
}

/*
 * canon_emit - n > 0 bytes at p (of input that ends at end) in canonical
 * form already, passed on: a long run from where it is, a short one
 * through the batch. The run before a WSP run or a line end is often a
 * word or a line: it is copied as a block of a fixed size when the input
 * and the batch have room, which costs less than a copy of its size.
 */
static inline void
canon_emit(struct canon_body *cb, const unsigned char *p, size_t n,
    const unsigned char *end)
{
	size_t	 k;

	cb->any = 1;
	if (n >= CANON_DIRECT) {
		canon_flush(cb);
		if (EVP_DigestUpdate(cb->md, p, n) != 1)
			cb->failed = 1;
		return;
	}
	if (n <= CANON_SHORT && (size_t)(end - p) >= CANON_SHORT &&
	    sizeof(cb->out) - cb->n >= CANON_SHORT) {
		memcpy(cb->out + cb->n, p, CANON_SHORT);	/* n of it counts */
		cb->n += n;
		return;
	}
	while (n > 0) {
		if (cb->n == sizeof(cb->out))
			canon_flush(cb);
		k = sizeof(cb->out) - cb->n < n ? sizeof(cb->out) - cb->n : n;
		memcpy(cb->out + cb->n, p, k);
		cb->n += k;
		p += k;
		n -= k;
	}
}

/* canon_wsp_end - the end of the run of SP and HTAB at p */
static inline const unsigned char *
canon_wsp_end(const unsigned char *p, const unsigned char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* canon_text - a byte that is content in both forms: no WSP, CR or LF */
static inline int
canon_text(unsigned char c)
{
	return canon_class[c] == 0;
}

/*
 * canon_wsp - relaxed, a WSP run at p: before content it becomes one SP,
 * before CRLF it goes (the CRLF is looked at next). Returns where to go on,
 * or NULL to leave the rest of the input to the state machine (the run
 * reaches the end, or a bare CR or LF follows).
 */
static const unsigned char *
canon_wsp(struct canon_body *cb, const unsigned char *p,
    const unsigned char *end)
{
	const unsigned char *q = canon_wsp_end(p, end);

	if (q == end)
		return NULL;
	if (canon_text(*q)) {
		canon_put(cb, ' ');
		cb->any = 1;
		return q;
	}
	if (end - q >= 2 && q[0] == '\r' && q[1] == '\n')
		return q;
	return NULL;
}

/*
 * canon_crlf - CRLFs at p: they are their own canonical form when content
 * follows them in this input (relaxed: content, or WSP and then content),
 * and are passed on. Returns the byte after them, or NULL to leave the
 * rest to the state machine (empty lines that may be the last, bare CR or
 * LF, WSP lines).
 */
static const unsigned char *
canon_crlf(struct canon_body *cb, const unsigned char *p,
    const unsigned char *end)
{
	const unsigned char *q = p, *w;

	while (end - q >= 2 && q[0] == '\r' && q[1] == '\n')
		q += 2;
	if (q == end || *q == '\r' || *q == '\n')
		return NULL;
	if (cb->relaxed && !canon_text(*q)) {
		w = canon_wsp_end(q, end);
		if (w == end || !canon_text(*w))
			return NULL;
	}
	for (; p < q; p += 2) {
		canon_put(cb, '\r');
		canon_put(cb, '\n');
	}
	cb->any = 1;
	return q;
}

/*
 * canon_event - the byte at p that canon_clean stopped at, while nothing
 * is pending: its canonical form goes to the batch. Returns where to go on,
 * or NULL when the state machine must take over at p.
 */
static inline const unsigned char *
canon_event(struct canon_body *cb, const unsigned char *p,
    const unsigned char *end)
{
	if (*p == '\r' && end - p >= 2 && p[1] == '\n')
		return canon_crlf(cb, p, end);
	if (*p == ' ' || *p == '\t')
		return canon_wsp(cb, p, end);
	if (*p == '\r' || *p == '\n')
		return NULL;
	canon_put(cb, *p);		/* a control byte: content */
	cb->any = 1;
	return p + 1;
}

/*
 * canon_drop1 - relaxed, the SP at q that the scan stopped at: is it one
 * the canonical form drops, leaving what follows to the scan? A SP before
 * CRLF (format=flowed ends its lines so), the first of two before text.
 */
static inline int
canon_drop1(const unsigned char *q, const unsigned char *end)
{
	return end - q >= 3 && q[0] == ' ' && ((q[1] == '\r' &&
	    q[2] == '\n') || (q[1] == ' ' && q[2] > ' '));
}

/*
 * canon_fast - the common shapes of a body straight from the input, while
 * nothing is pending: runs in canonical form already are passed on as they
 * are, WSP runs and line ends are dealt with in place. Returns where the
 * state machine must take over (or end); everything before it has been
 * passed on.
 */
static inline __attribute__((always_inline)) const unsigned char *
canon_fast(int wide, struct canon_body *cb, const unsigned char *base,
    const unsigned char *p, const unsigned char *end)
{
	const unsigned char *lim, *q;
	int	 stop;

	while (p < end) {
		lim = end - p > CANON_SPAN ? p + CANON_SPAN : end;
		q = canon_clean(wide, cb, base, p, lim, end, &stop);
		if (q > p)
			canon_emit(cb, p, (size_t)(q - p), end);
		if (!stop)
			p = q;
		else if (cb->relaxed && canon_drop1(q, end))
			p = q + 1;
		else if ((p = canon_event(cb, q, end)) == NULL)
			return q;
	}
	return p;
}

/* canon_fast16 - canon_fast with 16-byte vectors */
static const unsigned char *
canon_fast16(struct canon_body *cb, const unsigned char *base,
    const unsigned char *p, const unsigned char *end)
{
	return canon_fast(0, cb, base, p, end);
}

/* canon_fast32 - canon_fast with 32-byte vectors, on a CPU with AVX2 */
static CANON_AVX2 const unsigned char *
canon_fast32(struct canon_body *cb, const unsigned char *base,
    const unsigned char *p, const unsigned char *end)
{
	return canon_fast(1, cb, base, p, end);
}

/* canon_body_init - start a body; md is a SHA-256 context already initialized */
void
canon_body_init(struct canon_body *cb, enum dkim_canon mode, EVP_MD_CTX *md)
{
	memset(cb, 0, offsetof(struct canon_body, out));
	cb->md = md;
	cb->relaxed = mode == DKIM_CANON_RELAXED;
	cb->wide = canon_wide();
}

/* canon_body_update - canonicalize and hash one chunk, of any size */
void
canon_body_update(struct canon_body *cb, const void *data, size_t len)
{
	const unsigned char *p = data, *end;

	if (len == 0)
		return;			/* data may be NULL then */
	for (end = p + len; p < end; ) {
		if (!cb->cr && !cb->sp && cb->nl == 0 && (p = cb->wide ?
		    canon_fast32(cb, data, p, end) :
		    canon_fast16(cb, data, p, end)) == end)
			break;
		canon_step(cb, *p++);
	}
}

/*
 * canon_body_final - close the body: one CRLF ends the last non-empty line;
 * an empty body is CRLF in simple and nothing in relaxed (RFC 6376 3.4.3,
 * 3.4.4). 0, or -1 when the digest failed.
 */
int
canon_body_final(struct canon_body *cb)
{
	if (cb->cr) {
		cb->cr = 0;
		canon_content(cb, '\r');
	}
	if (cb->any || !cb->relaxed) {
		canon_put(cb, '\r');
		canon_put(cb, '\n');
	}
	cb->nl = 0;
	cb->sp = 0;
	canon_flush(cb);
	return cb->failed ? -1 : 0;
}
