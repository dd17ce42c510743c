/*
 * protofuzz - mutated milter sessions against a running filter
 *
 * SYNOPSIS
 *	protofuzz -s SOCKET [-S SEED] [-n SESSIONS] [-c CONC] [-t SECS]
 *	    [-d SECS] [-x CRASHERS] [-O DIR] [-v]
 *
 * DESCRIPTION
 *	Plays a broken MTA: each of SESSIONS milter sessions (CONC at once,
 *	each on its own connection) is a Postfix-like conversation for one
 *	message from alice@example.com, written whole and then read to the
 *	end, with mutations: packets with bad lengths, commands out of
 *	order, huge macro packets, SMFIC_MACRO packets with an odd number of
 *	strings, a header of exactly libmilter's packet limit (and one byte
 *	more), truncated packets, random bytes. Session N is a function of
 *	(SEED, N) alone, whatever the threads do, so a finding is replayed
 *	with the same -S (and -n N+1 -c 1, -v to see it).
 *
 *	The oracle is about what is signed, since that is what could hurt:
 *	a session whose message cannot have reached the filter whole (a
 *	header packet cut short and then the end of message, a header
 *	without value, a length that cuts or overruns a header, a command
 *	out of order among the headers, a packet that ends the session, the
 *	connection closed before the end of message) must get no
 *	DKIM-Signature; in any other session a DKIM-Signature must name in
 *	h= every header field sent (as often as it was sent), and the
 *	message is written to DIR (-O) as the MTA would deliver it, for an
 *	independent verifier. Connections must always be accepted.
 *
 *	-x makes CRASHERS of the sessions (spread over the run) send what
 *	crashes a libmilter process for certain: an SMFIC_MACRO list with an
 *	odd number of strings, which libmilter's smfi_getsymval walks two by
 *	two past its end; the 8 bytes after the list's array are stale heap,
 *	and a 40-byte macro packet freed just before (same thread, same
 *	malloc bin) puts a wild pointer there. The lookups at DATA then
 *	fault. Without -x odd lists are sent only where libmilter clears or
 *	replaces them before a lookup, so the run measures the rest.
 *	-d stops starting sessions after SECS (a bound on the run, not an
 *	assertion); -t bounds each read and write.
 *
 * DIAGNOSTICS
 *	One summary line on stdout. Exit 0 when every session connected,
 *	none timed out and the oracle held; 1 otherwise, with one line per
 *	finding on stderr; 2 on usage errors.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#include "xmalloc.h"
#include "miltc.h"

#define FZ_LIMIT	65535		/* libmilter's default data limit */
#define FZ_MAXHDR	16
#define FZ_CONC_MAX	64

/* Mutations the message survives: a signature must cover it all. */
#define M_HUGEMACRO	0x0001	/* a macro packet near the limit */
#define M_ODDCLEARED	0x0002	/* odd lists that MAIL clears */
#define M_ODDREPLACED	0x0004	/* an odd list replaced before a lookup */
#define M_EARLY		0x0008	/* commands out of order before MAIL */
#define M_BADMACRO	0x0010	/* macro packets libmilter ignores */
#define M_LIMITHDR	0x0020	/* Subject of exactly the packet limit */
#define M_LIMITHDR1	0x0040	/* one byte more */
#define M_CHUNKS	0x0080	/* the body in many small chunks */
#define M_NEGOTIATE	0x0100	/* other versions and flags offered */
#define M_TRAILJUNK	0x0200	/* random bytes after QUIT */
#define M_MIDJUNK	0x0400	/* random bytes among the headers */
#define M_NMUT		11
/* Damage: the message cannot reach the filter whole; no signature. */
#define D_CUTHDR	0x010000	/* a header cut short, then EOM */
#define D_NOVALUE	0x020000	/* a header packet without value */
#define D_SHORTLEN	0x040000	/* a header length that cuts it */
#define D_LONGLEN	0x080000	/* one past the end of the stream */
#define D_INJECT	0x100000	/* a command out of order, headers on */
#define D_KILLER	0x200000	/* a packet that ends the session */
#define D_CUTEND	0x400000	/* the end before the end of message */
#define D_NOADDHDRS	0x800000	/* no right to add header fields */
#define D_NDMG		8
#define D_ALLJUNK	0x1000000	/* nothing but random bytes */
#define D_CRASH		0x2000000	/* the odd-list crasher */
#define D_MASK		0x3ff0000

static const char *const fz_mnames[M_NMUT] = {
	"hugemacro", "oddcleared", "oddreplaced", "early", "badmacro",
	"limithdr", "limithdr+1", "chunks", "negotiate", "trailjunk",
	"midjunk"
};
static const char *const fz_dnames[D_NDMG + 2] = {
	"cuthdr", "novalue", "shortlen", "longlen", "inject", "killer",
	"cutend", "noaddhdrs", "alljunk", "crash"
};

/* A growing byte buffer: the stream to send, a message to write. */
struct fz_buf {
	unsigned char	*p;
	size_t		 len;
	size_t		 size;
};

/* One header field of the message, as sent: value without the space. */
struct fz_hdr {
	const char	*name;
	char		*value;
};

/* One session: its stream and the message it tries to deliver. */
struct fz_sess {
	unsigned long	 idx;
	uint64_t	 rng;
	unsigned int	 flags;
	struct fz_buf	 out;
	struct fz_hdr	 hdr[FZ_MAXHDR];
	size_t		 nhdr;
	struct fz_buf	 body;
	size_t		 lenfix;	/* D_LONGLEN: its length field */
	char		*sig;		/* the DKIM-Signature value got */
	size_t		 nsig;
};

/* The run, shared by the threads. */
struct fz_run {
	const char	*socket;
	unsigned long	 seed;
	unsigned long	 total;
	unsigned long	 crashers;
	int		 timeout;
	long long	 deadline;	/* monotonic ms; 0: none */
	const char	*outdir;
	int		 verbose;
	atomic_ulong	 next;
	atomic_ulong	 ran, signed_ok, unsigned_, nosign_ok;
	atomic_ulong	 connfail, timeouts, violations, crashes;
	pthread_mutex_t	 errlock;
};

/* usage - the synopsis, then exit 2 */
static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: protofuzz -s SOCKET [-S SEED] [-n SESSIONS] "
	    "[-c CONC] [-t SECS]\n\t[-d SECS] [-x CRASHERS] [-O DIR] [-v]\n");
	exit(2);
}

/* fz_mono_ms - the run's bound on a clock no date change moves */
static long long
fz_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* fz_rand - splitmix64: one session's numbers, from its seed alone */
static uint64_t
fz_rand(struct fz_sess *s)
{
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* fz_below - a number in [0, n) */
static size_t
fz_below(struct fz_sess *s, size_t n)
{
	return n == 0 ? 0 : (size_t)(fz_rand(s) % n);
}

/* fz_chance - true pct times in a hundred */
static int
fz_chance(struct fz_sess *s, unsigned int pct)
{
	return fz_below(s, 100) < pct;
}

/* buf_add - append bytes */
static void
buf_add(struct fz_buf *b, const void *p, size_t len)
{
	if (b->len + len > b->size) {
		b->size = (b->len + len) * 2 + 64;
		b->p = xreallocarray(b->p, b->size, 1);
	}
	if (len > 0)
		memcpy(b->p + b->len, p, len);
	b->len += len;
}

/* buf_str - append a string with its NUL */
static void
buf_str(struct fz_buf *b, const char *s)
{
	buf_add(b, s, strlen(s) + 1);
}

/* buf_free - release and empty */
static void
buf_free(struct fz_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* pkt_len - a packet whose length field says len, whatever follows */
static void
pkt_len(struct fz_buf *b, uint32_t len, char cmd, const void *p, size_t n)
{
	uint32_t nl = htonl(len);

	buf_add(b, &nl, 4);
	buf_add(b, &cmd, 1);
	buf_add(b, p, n);
}

/* pkt - a well-formed packet */
static void
pkt(struct fz_buf *b, char cmd, const void *p, size_t n)
{
	pkt_len(b, (uint32_t)(n + 1), cmd, p, n);
}

/* pkt_data - a well-formed packet from a buffer, which is emptied */
static void
pkt_data(struct fz_buf *b, char cmd, struct fz_buf *d)
{
	pkt(b, cmd, d->p, d->len);
	buf_free(d);
}

/*
 * fz_macros - one SMFIC_MACRO packet: stage, then names and values; an
 * odd n leaves the last name without value
 */
static void
fz_macros(struct fz_buf *b, char stage, const char *const *nv, size_t n)
{
	struct fz_buf d = { 0 };
	size_t i;

	buf_add(&d, &stage, 1);
	for (i = 0; i < n; i++)
		buf_str(&d, nv[i]);
	pkt_data(b, SMFIC_MACRO, &d);
}

/* fz_junk - random bytes; without 'E', which could end a message early */
static void
fz_junk(struct fz_sess *s, struct fz_buf *b, size_t n)
{
	unsigned char c;

	while (n-- > 0) {
		if ((c = (unsigned char)fz_rand(s)) == SMFIC_BODYEOB)
			c ^= 0x80;
		buf_add(b, &c, 1);
	}
}

/* fz_text - n printable characters: no CR or LF, no space at either end */
static char *
fz_text(struct fz_sess *s, size_t n)
{
	static const char set[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,-_=+!?/()";
	char *t = xmalloc(n + 1);
	size_t i;

	for (i = 0; i < n; i++)
		t[i] = set[fz_below(s, sizeof(set) - 1)];
	/* no space at either end: the value is compared as sent */
	if (n > 0 && t[0] == ' ')
		t[0] = 'x';
	if (n > 0 && t[n - 1] == ' ')
		t[n - 1] = 'y';
	t[n] = '\0';
	return t;
}

/* fz_hdr_add - one header field of the message */
static void
fz_hdr_add(struct fz_sess *s, const char *name, char *value)
{
	if (s->nhdr == FZ_MAXHDR) {
		free(value);
		return;
	}
	s->hdr[s->nhdr].name = name;
	s->hdr[s->nhdr].value = value;
	s->nhdr++;
}

/*
 * fz_message - the message the session tries to deliver: From (the one
 * domain with a key), To, Subject, Date, Message-ID, maybe Cc, Reply-To,
 * MIME-Version and unsigned X- fields, and a body of CRLF lines
 */
static void
fz_message(struct fz_sess *s, unsigned long seed)
{
	static const char *const extra[] = { "Cc", "Reply-To",
	    "MIME-Version", "X-Fuzz" };
	size_t i, n, lines;
	char *v;

	fz_hdr_add(s, "From", xstrdup("Alice <alice@example.com>"));
	fz_hdr_add(s, "To", xstrdup("bob@example.org"));
	if (s->flags & (M_LIMITHDR | M_LIMITHDR1)) {
		/* "Subject\0" VALUE "\0": FZ_LIMIT data bytes, or one more */
		n = FZ_LIMIT - strlen("Subject") - 2 +
		    ((s->flags & M_LIMITHDR1) ? 1 : 0);
		fz_hdr_add(s, "Subject", fz_text(s, n));
	} else
		fz_hdr_add(s, "Subject", fz_text(s, 1 + fz_below(s, 60)));
	fz_hdr_add(s, "Date", xstrdup("Sun, 22 Nov 2026 21:00:00 +0000"));
	fz_hdr_add(s, "Message-ID", xasprintf("<fz-%lu-%lu@example.com>",
	    seed, s->idx));
	n = fz_below(s, 4);
	for (i = 0; i < n; i++) {
		v = strcmp(extra[i], "MIME-Version") == 0 ? xstrdup("1.0") :
		    strcmp(extra[i], "Cc") == 0 ? xstrdup("carol@example.net") :
		    strcmp(extra[i], "Reply-To") == 0 ?
		    xstrdup("alice@example.com") : fz_text(s, 1 + fz_below(s,
		    200));
		fz_hdr_add(s, extra[i], v);
	}
	lines = fz_below(s, 40);
	for (i = 0; i < lines; i++) {
		v = fz_text(s, fz_below(s, 100));
		buf_add(&s->body, v, strlen(v));
		buf_add(&s->body, "\r\n", 2);
		free(v);
	}
}

/*
 * fz_pick - the session's mutations: a plain session, one to three that
 * the message survives, one piece of damage, or random bytes
 */
static void
fz_pick(struct fz_sess *s)
{
	size_t r = fz_below(s, 100), i, n;

	s->flags = 0;
	if (r < 15)
		return;
	if (r < 50) {
		n = 1 + fz_below(s, 3);
		for (i = 0; i < n; i++)
			s->flags |= 1u << fz_below(s, M_NMUT);
		/* one limit header at most: they are the same field */
		if ((s->flags & M_LIMITHDR) && (s->flags & M_LIMITHDR1))
			s->flags &= ~M_LIMITHDR1;
	} else if (r < 85) {
		s->flags = 0x10000u << fz_below(s, D_NDMG);
		if (fz_chance(s, 30))
			s->flags |= 1u << fz_below(s, M_NMUT);
	} else if (r < 95)
		s->flags = fz_chance(s, 50) ? M_MIDJUNK : M_TRAILJUNK;
	else
		s->flags = D_ALLJUNK;
}

/* fz_negotiate - SMFIC_OPTNEG as Postfix, or as a stranger MTA would */
static void
fz_negotiate(struct fz_sess *s, struct fz_buf *b)
{
	uint32_t v[3];

	v[0] = 6;
	v[1] = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY |
	    SMFIF_ADDRCPT | SMFIF_DELRCPT | SMFIF_QUARANTINE | SMFIF_CHGFROM |
	    SMFIF_SETSYMLIST;
	v[2] = fz_chance(s, 50) ? 0x001fffffU : 0;
	if (s->flags & M_NEGOTIATE) {
		v[0] = 2 + fz_below(s, 5);
		v[1] |= (uint32_t)fz_rand(s) & 0x1ff;
		v[2] = (uint32_t)fz_rand(s);
	}
	if (s->flags & D_NOADDHDRS)
		v[1] &= ~(uint32_t)SMFIF_ADDHDRS;
	v[0] = htonl(v[0]);
	v[1] = htonl(v[1]);
	v[2] = htonl(v[2]);
	pkt(b, SMFIC_OPTNEG, v, sizeof(v));
}

/* fz_connect_data - SMFIC_CONNECT's data: a client on 127.0.0.1 */
static void
fz_connect_data(struct fz_buf *d)
{
	uint16_t port = htons(25);

	buf_str(d, "client.example");
	buf_add(d, "4", 1);
	buf_add(d, &port, 2);
	buf_str(d, "127.0.0.1");
}

/* fz_hugemacro - one macro packet of nearly the limit, all pairs */
static void
fz_hugemacro(struct fz_sess *s, struct fz_buf *b, char stage)
{
	struct fz_buf d = { 0 };
	char name[32], *v;
	size_t i = 0, room = FZ_LIMIT - 1 - fz_below(s, 64);

	buf_add(&d, &stage, 1);
	while (d.len + 32 + 64 < room) {
		snprintf(name, sizeof(name), "{fz%zu}", i++);
		v = fz_text(s, fz_below(s, 60));
		buf_str(&d, name);
		buf_str(&d, v);
		free(v);
	}
	/* one long value to fill it: a name and a value, as it must be */
	snprintf(name, sizeof(name), "{fz%zu}", i);
	v = fz_text(s, room - d.len - strlen(name) - 2);
	buf_str(&d, name);
	buf_str(&d, v);
	free(v);
	pkt_data(b, SMFIC_MACRO, &d);
}

/*
 * fz_badmacro - macro packets libmilter refuses and goes on: an unknown
 * stage, strings without a NUL
 */
static void
fz_badmacro(struct fz_buf *b)
{
	pkt(b, SMFIC_MACRO, "Xa\0b", 5);
	pkt(b, SMFIC_MACRO, "Cnonul", 6);
}

/*
 * fz_early - commands that libmilter ignores before MAIL (a transition
 * it refuses outside a transaction is dropped) or takes without effect
 */
static void
fz_early(struct fz_sess *s, struct fz_buf *b)
{
	static const char cmds[] = { SMFIC_DATA, SMFIC_BODYEOB, SMFIC_HEADER,
	    SMFIC_BODY, SMFIC_ABORT, SMFIC_RCPT, SMFIC_EOH, SMFIC_UNKNOWN,
	    SMFIC_HELO, SMFIC_CONNECT };
	struct fz_buf d = { 0 };
	size_t i, n = 1 + fz_below(s, 4);
	char c;

	for (i = 0; i < n; i++) {
		switch ((c = cmds[fz_below(s, sizeof(cmds))])) {
		case SMFIC_HEADER:
			buf_str(&d, "Subject");
			buf_str(&d, "early");
			break;
		case SMFIC_BODY:
			buf_add(&d, "early\r\n", 7);
			break;
		case SMFIC_RCPT:
			buf_str(&d, "<early@example.org>");
			break;
		case SMFIC_UNKNOWN:
			buf_str(&d, "XYZZY");
			break;
		case SMFIC_HELO:
			buf_str(&d, "early.example");
			break;
		case SMFIC_CONNECT:
			fz_connect_data(&d);
			break;
		}
		pkt_data(b, c, &d);
	}
}

/* fz_envelope - negotiation, connect, HELO, MAIL, RCPT, DATA */
static void
fz_envelope(struct fz_sess *s, struct fz_buf *b)
{
	static const char *const conn[] = { "j", "mx.example", "{daemon_name}",
	    "mx.example", "v", "Postfix 3.7", "_", "client.example [127.0.0.1]" };
	static const char *const odd[] = { "j", "mx.example", "{if_addr}" };
	static const char *const oddstages = "TENR";
	const char *const mail[] = { "{mail_addr}", "alice@example.com" };
	const char *const rcpt[] = { "{rcpt_addr}", "bob@example.org" };
	char qid[32];
	const char *data[] = { "i", qid };
	struct fz_buf d = { 0 };
	char stage;

	snprintf(qid, sizeof(qid), "FZ%lu", s->idx);
	fz_negotiate(s, b);
	if (s->flags & M_ODDREPLACED)
		fz_macros(b, 'C', odd, 3);
	if ((s->flags & M_HUGEMACRO) && fz_chance(s, 50))
		fz_hugemacro(s, b, 'C');
	else
		fz_macros(b, 'C', conn, 8);
	if (s->flags & M_BADMACRO)
		fz_badmacro(b);
	fz_connect_data(&d);
	pkt_data(b, SMFIC_CONNECT, &d);
	if (s->flags & M_EARLY)
		fz_early(s, b);
	if (fz_chance(s, 30)) {
		buf_str(&d, "client.example");
		pkt_data(b, SMFIC_HELO, &d);
	}
	if (s->flags & M_ODDCLEARED) {
		/* stages after MAIL: st_sender clears them */
		stage = oddstages[fz_below(s, strlen(oddstages))];
		fz_macros(b, stage, odd, 3);
	}
	if (s->flags & M_ODDREPLACED) {
		fz_macros(b, 'M', odd, 1);
		fz_macros(b, 'M', mail, 2);
	} else if ((s->flags & M_HUGEMACRO) && fz_chance(s, 50))
		fz_hugemacro(s, b, 'M');
	else
		fz_macros(b, 'M', mail, 2);
	buf_str(&d, "<alice@example.com>");
	if (fz_chance(s, 30))
		buf_str(&d, "SIZE=1000");
	pkt_data(b, SMFIC_MAIL, &d);
	if (fz_chance(s, 50)) {
		fz_macros(b, 'R', rcpt, 2);
		buf_str(&d, "<bob@example.org>");
		pkt_data(b, SMFIC_RCPT, &d);
	}
	fz_macros(b, 'T', data, 2);
	pkt(b, SMFIC_DATA, NULL, 0);
}

/*
 * fz_inject - a command that libmilter refuses among the headers: it
 * aborts the transaction and drops the rest of the message. Not MAIL or
 * end of message: those are a new message and the end of this one.
 */
static void
fz_inject(struct fz_sess *s, struct fz_buf *b)
{
	static const char cmds[] = { SMFIC_DATA, SMFIC_EOH, SMFIC_BODY,
	    SMFIC_UNKNOWN, SMFIC_ABORT, SMFIC_QUIT_NC, SMFIC_CONNECT,
	    SMFIC_OPTNEG, SMFIC_HELO, SMFIC_RCPT, SMFIC_QUIT };
	struct fz_buf d = { 0 };
	uint32_t v[3] = { htonl(6), htonl(0x1ff), 0 };
	char c = cmds[fz_below(s, sizeof(cmds))];

	switch (c) {
	case SMFIC_BODY:
		buf_add(&d, "injected\r\n", 10);
		break;
	case SMFIC_UNKNOWN:
		buf_str(&d, "XYZZY");
		break;
	case SMFIC_CONNECT:
		fz_connect_data(&d);
		break;
	case SMFIC_OPTNEG:
		buf_add(&d, v, sizeof(v));
		break;
	case SMFIC_HELO:
		buf_str(&d, "again.example");
		break;
	case SMFIC_RCPT:
		buf_str(&d, "<late@example.org>");
		break;
	}
	pkt_data(b, c, &d);
}

/* fz_killer - a packet after which libmilter reads nothing more */
static void
fz_killer(struct fz_sess *s, struct fz_buf *b)
{
	switch (fz_below(s, 3)) {
	case 0:		/* larger than any data limit: never read */
		pkt_len(b, 0x01000000U + (uint32_t)fz_below(s, 1 << 20),
		    SMFIC_HEADER, "x", 1);
		break;
	case 1:		/* no such command */
		pkt(b, 'z', "what\0", 5);
		break;
	default:	/* a header packet without data */
		pkt(b, SMFIC_HEADER, NULL, 0);
		break;
	}
}

/*
 * fz_header - one header packet, or the damage chosen for it; 1 when the
 * stream ends there (D_CUTHDR)
 */
static int
fz_header(struct fz_sess *s, struct fz_buf *b, const struct fz_hdr *h,
    int damage)
{
	struct fz_buf d = { 0 };
	size_t cut, at;

	buf_str(&d, h->name);
	buf_str(&d, h->value);
	switch (damage) {
	case D_NOVALUE:
		pkt(b, SMFIC_HEADER, h->name, strlen(h->name) +
		    (fz_chance(s, 50) ? 1 : 0));
		break;
	case D_SHORTLEN:
		/* a length that ends it on a byte that is not a NUL */
		do {
			cut = 1 + fz_below(s, d.len - 1);
		} while (d.p[cut - 1] == '\0');
		pkt_len(b, (uint32_t)cut + 1, SMFIC_HEADER, d.p, d.len);
		break;
	case D_LONGLEN:
		s->lenfix = b->len;	/* set once the stream is complete */
		pkt(b, SMFIC_HEADER, d.p, d.len);
		break;
	case D_CUTHDR:
		/* fewer bytes than it says, then the end of message: that
		 * packet becomes the header's data, which stays short */
		at = b->len;
		pkt(b, SMFIC_HEADER, d.p, d.len);
		cut = fz_below(s, d.len > 6 ? d.len - 6 : 1);
		b->len = at + 5 + cut;
		pkt(b, SMFIC_BODYEOB, NULL, 0);
		buf_free(&d);
		return 1;
	default:
		pkt(b, SMFIC_HEADER, d.p, d.len);
		break;
	}
	buf_free(&d);
	return 0;
}

/* fz_body - the body in one to three chunks, or many small ones */
static void
fz_body(struct fz_sess *s, struct fz_buf *b)
{
	size_t off = 0, n, left;

	while (off < s->body.len) {
		left = s->body.len - off;
		if (s->flags & M_CHUNKS)
			n = 1 + fz_below(s, 16);
		else
			n = 1 + fz_below(s, left);
		if (n > left)
			n = left;
		pkt(b, SMFIC_BODY, s->body.p + off, n);
		off += n;
	}
}

/*
 * fz_content - headers (with damage at one of them), EOH, body, end of
 * message, QUIT; the damage that ends the stream ends it here
 */
static void
fz_content(struct fz_sess *s, struct fz_buf *b)
{
	const char *const eom[] = { "i", "FZ" };
	unsigned int dmg = s->flags & D_MASK;
	size_t i, at = fz_below(s, s->nhdr), kill;

	/* the killer somewhere between DATA and the end of message */
	kill = fz_below(s, s->nhdr + 2);
	for (i = 0; i < s->nhdr; i++) {
		if (dmg == D_KILLER && kill == i)
			fz_killer(s, b);
		if (dmg == D_INJECT && at == i)
			fz_inject(s, b);
		if ((s->flags & M_MIDJUNK) && at == i)
			fz_junk(s, b, 1 + fz_below(s, 64));
		if (fz_header(s, b, &s->hdr[i], at == i && (dmg == D_CUTHDR ||
		    dmg == D_NOVALUE || dmg == D_SHORTLEN || dmg ==
		    D_LONGLEN) ? (int)dmg : 0))
			return;
	}
	if (dmg == D_KILLER && kill == s->nhdr)
		fz_killer(s, b);
	if (fz_chance(s, 30))
		pkt(b, SMFIC_EOH, NULL, 0);
	fz_body(s, b);
	if (dmg == D_KILLER && kill > s->nhdr)
		fz_killer(s, b);
	if (dmg == D_CUTEND)
		return;
	fz_macros(b, 'E', eom, 2);
	pkt(b, SMFIC_BODYEOB, NULL, 0);
	pkt(b, SMFIC_QUIT, NULL, 0);
	if (s->flags & M_TRAILJUNK)
		fz_junk(s, b, 1 + fz_below(s, 256));
}

/*
 * fz_crasher - the odd list that libmilter walks past its end, with a
 * wild pointer behind it: a 40-byte 'C' macro packet (its buffer, in the
 * 48-byte bin, has non-NUL bytes at 32..39), then two 3-string 'C' lists
 * (each array is 32 bytes, the same bin; the second gets the first
 * packet's freed buffer), then CONNECT, MAIL and DATA, whose callback
 * looks macros up. All in one write, so that one worker thread (one
 * malloc cache) reads them in a row.
 */
static void
fz_crasher(struct fz_buf *b)
{
	uint32_t v[3] = { htonl(6), htonl(0x1ff), 0 };
	char primer[40];
	struct fz_buf d = { 0 };

	/* stage 'C', a 30-byte name, a 7-byte value: bytes 32..38 are 'A' */
	memset(primer, 'A', sizeof(primer));
	primer[0] = 'C';
	primer[31] = '\0';
	primer[39] = '\0';
	pkt(b, SMFIC_OPTNEG, v, sizeof(v));
	pkt(b, SMFIC_MACRO, primer, sizeof(primer));
	pkt(b, SMFIC_MACRO, "Ca\0b\0c", 7);
	pkt(b, SMFIC_MACRO, "Ca\0b\0c", 7);
	fz_connect_data(&d);
	pkt_data(b, SMFIC_CONNECT, &d);
	buf_str(&d, "<alice@example.com>");
	pkt_data(b, SMFIC_MAIL, &d);
	pkt(b, SMFIC_DATA, NULL, 0);
	pkt(b, SMFIC_QUIT, NULL, 0);
}

/* fz_is_crasher - the -x sessions, spread over the run */
static int
fz_is_crasher(const struct fz_run *r, unsigned long idx)
{
	unsigned long k;

	for (k = 1; k <= r->crashers; k++)
		if (idx == k * r->total / (r->crashers + 1))
			return 1;
	return 0;
}

/* fz_build - session idx's stream and message, from (seed, idx) alone */
static void
fz_build(const struct fz_run *r, struct fz_sess *s)
{
	uint32_t len;

	s->rng = r->seed * 0x2545f4914f6cdd1dULL ^ (s->idx + 1) *
	    0x9e3779b97f4a7c15ULL;
	if (fz_is_crasher(r, s->idx)) {
		s->flags = D_CRASH;
		fz_crasher(&s->out);
		return;
	}
	fz_pick(s);
	if (s->flags & D_ALLJUNK) {
		if (fz_chance(s, 50))
			fz_negotiate(s, &s->out);
		fz_junk(s, &s->out, 1 + fz_below(s, 4096));
		return;
	}
	fz_message(s, r->seed);
	fz_envelope(s, &s->out);
	fz_content(s, &s->out);
	if (s->flags & D_LONGLEN) {
		/* more than the stream holds after the command byte */
		len = (uint32_t)(s->out.len - s->lenfix - 5) + 2 +
		    (uint32_t)fz_below(s, 1000);
		len = htonl(len);
		memcpy(s->out.p + s->lenfix, &len, 4);
	}
}

/* fz_what - the session's mutations in words, for findings */
static void
fz_what(const struct fz_sess *s, char *buf, size_t len)
{
	size_t i;

	snprintf(buf, len, "%s", s->flags == 0 ? "plain" : "");
	for (i = 0; i < M_NMUT; i++)
		if (s->flags & (1u << i))
			snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
			    buf[0] != '\0' ? "," : "", fz_mnames[i]);
	for (i = 0; i < D_NDMG + 2; i++)
		if (s->flags & (0x10000u << i))
			snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
			    buf[0] != '\0' ? "," : "", fz_dnames[i]);
}

/* fz_finding - one line per broken expectation */
static void
fz_finding(struct fz_run *r, const struct fz_sess *s, const char *msg)
{
	char what[256];

	fz_what(s, what, sizeof(what));
	pthread_mutex_lock(&r->errlock);
	fprintf(stderr, "protofuzz: seed %lu session %lu (%s): %s\n", r->seed,
	    s->idx, what, msg);
	pthread_mutex_unlock(&r->errlock);
}

/* fz_send - the whole stream, then the end of our half */
static int
fz_send(struct mc_conn *c, const struct fz_buf *b)
{
	size_t off = 0;
	ssize_t w;

	while (off < b->len) {
		if ((w = write(c->fd, b->p + off, b->len - off)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)w;
	}
	(void)shutdown(c->fd, SHUT_WR);
	return 0;
}

/*
 * fz_replies - read to the end: the DKIM-Signature fields the filter
 * added (SMFIR_INSHEADER or SMFIR_ADDHEADER) into s->sig; -1 on a timeout
 */
static int
fz_replies(struct mc_conn *c, struct fz_sess *s)
{
	const char *name, *value;
	size_t off;

	for (;;) {
		errno = 0;
		if (mc_wire_recv(c) == -1)
			return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : 0;
		if (c->cmd != SMFIR_INSHEADER && c->cmd != SMFIR_ADDHEADER)
			continue;
		off = c->cmd == SMFIR_INSHEADER ? 4 : 0;
		if (c->len <= off)
			continue;
		name = (const char *)c->buf + off;
		value = name + strlen(name) + 1;
		if ((const unsigned char *)value >= c->buf + c->len ||
		    strcasecmp(name, "DKIM-Signature") != 0)
			continue;
		free(s->sig);
		s->sig = xstrdup(value);
		s->nsig++;
	}
}

/* fz_h_count - how many times h= of a signature names a field */
static size_t
fz_h_count(const char *sig, const char *name)
{
	char *t = xstrdup(sig), *p, *q, *f;
	size_t n = 0;

	/* folding whitespace goes: tag names and h= values have none */
	for (p = q = t; *p != '\0'; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			*q++ = *p;
	*q = '\0';
	for (p = t; (f = strsep(&p, ";")) != NULL;) {
		if (strncmp(f, "h=", 2) != 0)
			continue;
		for (f += 2; (q = strsep(&f, ":")) != NULL;)
			if (strcasecmp(q, name) == 0)
				n++;
	}
	free(t);
	return n;
}

/* fz_write - the message as the MTA delivers it, signature first, CRLF */
static void
fz_write(const struct fz_run *r, const struct fz_sess *s)
{
	struct fz_buf m = { 0 };
	char path[1024];
	const char *p;
	size_t i;
	FILE *f;

	buf_add(&m, "DKIM-Signature: ", 16);
	for (p = s->sig; *p != '\0'; p++)
		if (*p == '\n')
			buf_add(&m, "\r\n", 2);
		else if (*p != '\r')
			buf_add(&m, p, 1);
	buf_add(&m, "\r\n", 2);
	for (i = 0; i < s->nhdr; i++) {
		buf_add(&m, s->hdr[i].name, strlen(s->hdr[i].name));
		buf_add(&m, ": ", 2);
		buf_add(&m, s->hdr[i].value, strlen(s->hdr[i].value));
		buf_add(&m, "\r\n", 2);
	}
	buf_add(&m, "\r\n", 2);
	buf_add(&m, s->body.p, s->body.len);
	snprintf(path, sizeof(path), "%s/fz%06lu.eml", r->outdir, s->idx);
	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(m.p, 1, m.len, f) != m.len || fclose(f) == EOF) {
		fprintf(stderr, "protofuzz: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	buf_free(&m);
}

/*
 * fz_judge - the oracle: damage gets no signature; otherwise a signature
 * names every field sent, as often as it was sent, and is written out
 */
static void
fz_judge(struct fz_run *r, const struct fz_sess *s)
{
	char msg[2048];
	size_t i, j, k;

	if (s->nsig == 0) {
		atomic_fetch_add((s->flags & D_MASK) ? &r->nosign_ok :
		    &r->unsigned_, 1);
		return;
	}
	if (s->flags & D_MASK) {
		atomic_fetch_add(&r->violations, 1);
		snprintf(msg, sizeof(msg), "signed a message that cannot have "
		    "reached the filter whole: %s", s->sig);
		fz_finding(r, s, msg);
		return;
	}
	for (i = 0; i < s->nhdr; i++) {
		if (strncmp(s->hdr[i].name, "X-", 2) == 0)
			continue;
		for (j = k = 0; j < s->nhdr; j++)
			k += strcasecmp(s->hdr[i].name, s->hdr[j].name) == 0;
		if (fz_h_count(s->sig, s->hdr[i].name) >= k)
			continue;
		snprintf(msg, sizeof(msg), "signed, but h= does not name %s as "
		    "many times as it was sent (%zu): %s", s->hdr[i].name, k,
		    s->sig);
		atomic_fetch_add(&r->violations, 1);
		fz_finding(r, s, msg);
		return;
	}
	if (s->nsig > 1) {
		atomic_fetch_add(&r->violations, 1);
		fz_finding(r, s, "more than one DKIM-Signature for a domain "
		    "with one key");
		return;
	}
	atomic_fetch_add(&r->signed_ok, 1);
	if (r->outdir != NULL)
		fz_write(r, s);
}

/* fz_sess_free - a session's memory */
static void
fz_sess_free(struct fz_sess *s)
{
	size_t i;

	for (i = 0; i < s->nhdr; i++)
		free(s->hdr[i].value);
	buf_free(&s->out);
	buf_free(&s->body);
	free(s->sig);
}

/* fz_one - connect, send, read, judge */
static void
fz_one(struct fz_run *r, unsigned long idx)
{
	struct fz_sess s;
	struct mc_conn c;
	char what[256];

	memset(&s, 0, sizeof(s));
	memset(&c, 0, sizeof(c));
	c.fd = -1;
	s.idx = idx;
	fz_build(r, &s);
	if (r->verbose) {
		fz_what(&s, what, sizeof(what));
		fprintf(stderr, "protofuzz: session %lu: %s, %zu bytes\n", idx,
		    what, s.out.len);
	}
	if (mc_wire_open(&c, r->socket, r->timeout) == -1) {
		atomic_fetch_add(&r->connfail, 1);
		fz_finding(r, &s, c.err);
		fz_sess_free(&s);
		return;
	}
	atomic_fetch_add(&r->ran, 1);
	if (s.flags & D_CRASH)
		atomic_fetch_add(&r->crashes, 1);
	/* a write the filter does not read to the end is no finding */
	if (fz_send(&c, &s.out) == -1 && errno == EAGAIN) {
		atomic_fetch_add(&r->timeouts, 1);
		fz_finding(r, &s, "write: timeout (-t)");
	} else if (fz_replies(&c, &s) == -1) {
		atomic_fetch_add(&r->timeouts, 1);
		fz_finding(r, &s, c.err);
	} else {
		fz_judge(r, &s);
		if (r->verbose)
			fprintf(stderr, "protofuzz: session %lu: %s\n", idx,
			    s.nsig > 0 ? "signed" : "not signed");
	}
	mc_wire_close(&c);
	fz_sess_free(&s);
}

/* fz_worker - sessions by number until the count or the time is up */
static void *
fz_worker(void *arg)
{
	struct fz_run *r = arg;
	unsigned long idx;

	while ((idx = atomic_fetch_add(&r->next, 1)) < r->total) {
		if (r->deadline != 0 && fz_mono_ms() >= r->deadline)
			break;
		fz_one(r, idx);
	}
	return NULL;
}

/* fz_num - a bounded number option, else usage */
static unsigned long
fz_num(const char *s, unsigned long lo, unsigned long hi)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < lo || v > hi)
		usage();
	return v;
}

/* main - options, the threads, the summary */
int
main(int argc, char *argv[])
{
	static struct fz_run r;
	pthread_t t[FZ_CONC_MAX];
	unsigned long conc = 4, secs = 0;
	int ch, i, bad;

	r.seed = 1;
	r.total = 1000;
	r.timeout = 20;
	pthread_mutex_init(&r.errlock, NULL);
	while ((ch = getopt(argc, argv, "c:d:n:O:s:S:t:vx:")) != -1) {
		switch (ch) {
		case 'c':
			conc = fz_num(optarg, 1, FZ_CONC_MAX);
			break;
		case 'd':
			secs = fz_num(optarg, 1, 86400);
			break;
		case 'n':
			r.total = fz_num(optarg, 1, 100000000);
			break;
		case 'O':
			r.outdir = optarg;
			break;
		case 's':
			r.socket = optarg;
			break;
		case 'S':
			r.seed = fz_num(optarg, 0, ~0UL);
			break;
		case 't':
			r.timeout = (int)fz_num(optarg, 1, 3600);
			break;
		case 'v':
			r.verbose = 1;
			break;
		case 'x':
			r.crashers = fz_num(optarg, 0, 1000);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || r.socket == NULL)
		usage();
	signal(SIGPIPE, SIG_IGN);	/* a filter that died: EPIPE */
	if (secs != 0)
		r.deadline = fz_mono_ms() + (long long)secs * 1000;
	for (i = 0; i < (int)conc; i++)
		if (pthread_create(&t[i], NULL, fz_worker, &r) != 0) {
			fprintf(stderr, "protofuzz: pthread_create failed\n");
			return 1;
		}
	for (i = 0; i < (int)conc; i++)
		pthread_join(t[i], NULL);
	bad = atomic_load(&r.connfail) + atomic_load(&r.timeouts) +
	    atomic_load(&r.violations) != 0;
	printf("protofuzz: seed %lu: %lu sessions (%lu crashers): %lu signed "
	    "whole, %lu whole unsigned, %lu damaged unsigned; %lu connect "
	    "errors, %lu timeouts, %lu violations\n", r.seed,
	    atomic_load(&r.ran), atomic_load(&r.crashes),
	    atomic_load(&r.signed_ok), atomic_load(&r.unsigned_),
	    atomic_load(&r.nosign_ok), atomic_load(&r.connfail),
	    atomic_load(&r.timeouts), atomic_load(&r.violations));
	return bad ? 1 : 0;
}
