/*
 * fuzz_dns - DNS answers as the propagation check reads them
 * (rotate/propagate.c prop_check over rotate/dnsio.c; the evidence and
 * the rotation memo made of the result; libFuzzer entry)
 *
 * dnsio.c is compiled in with its dnsio_query replaced: the query is
 * built as there, and each "datagram" is the next record of the input,
 * its id set to the query's, taken by dnsio.c's own reply_for (ldns_
 * wire2pkt, then the id, QR bit and question must match; a reply that
 * does not is skipped, as a stray datagram is); a reply with TC set is
 * asked again "over TCP", the next record. So whole wire-format packets
 * go through the zone cut walk, the referrals, the NS and address
 * lookups, the TXT and CNAME judging of every address and the CNAME
 * chains, with no socket.
 *
 * Input:
 *	byte 0	bits 0-1: the query: 0 TXT at a name of the customer zone,
 *		1 TXT at the provider's target, not following (no_follow),
 *		2 CNAME mode (a delegated selector), 3 TXT, any key; bit 2:
 *		Ed25519, else RSA (the test keys of fuzz_keys.h); bit 3: one
 *		extra propagation resolver
 *	byte 1	the name: <fuzz_names[b % n]>._domainkey.example.test (the
 *		provider's target is kt3.example.test.prov.test)
 *	then records: a flag byte (bit 0: the server refused, an error),
 *	a big-endian 16-bit length, the packet; length 0 is a timeout, and
 *	so is the end of the input
 *
 * Properties: the verdict agrees with published and revoked; nothing that
 * timed out or failed counts as published; the hold is the larger TTL;
 * the result prints; and the rotation memo made from the result (evidence
 * of the key, and of the slot in CNAME mode) is read back as written.
 *
 * With KT_FUZZ_DNS_RECORD=FILE and KT_FUZZ_DNS_SERVER=ADDR:PORT (a real
 * server, its zones' NS addresses on that port) the check asks the
 * server instead, and FILE gets the first two input bytes and the
 * answers as records: how t/fuzz/seed_dns.sh makes the seeds from Knot.
 * KT_FUZZ_DNS_PRINT prints each result (prop_result_print) to stderr.
 */
#include "config.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#define dnsio_query	dnsio_query_sock
#include "dnsio.c"
#undef dnsio_query

#include "adapt.h"
#include "evidence.h"
#include "fuzz_keys.h"
#include "fuzz_util.h"
#include "propagate.h"

#define FUZZ_ID		0x4b54

static const char *fuzz_names[] = { "kt1", "kt2", "kt3", "revoked", "chain1",
    "two", "missing", "long", "sub.kt1" };
#define FUZZ_NNAMES	(sizeof(fuzz_names) / sizeof(fuzz_names[0]))

static unsigned char *fuzz_key[2];	/* RSA SPKI, Ed25519 raw */
static size_t fuzz_keylen[2];
static FILE *fuzz_null, *fuzz_rec;
static const char *fuzz_server;
static struct fz_in fuzz_in;

enum dnsio_status dnsio_query(const struct dnsio_opts *,
    const struct dnsio_addr *, const char *, ldns_rr_type, int, ldns_pkt **,
    int *, char **);

/* fuzz_pub - the public key of a test key as prop_query wants it */
static void
fuzz_pub(const char *pem, int ed)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	unsigned char *p = NULL;
	size_t n = 32;
	int len;

	if (k == NULL)
		abort();
	if (ed) {
		if ((p = malloc(n)) == NULL ||
		    EVP_PKEY_get_raw_public_key(k, p, &n) != 1)
			abort();
	} else {
		if ((len = i2d_PUBKEY(k, &p)) <= 0)
			abort();
		n = (size_t)len;
	}
	fuzz_key[ed] = p;
	fuzz_keylen[ed] = n;
	EVP_PKEY_free(k);
	BIO_free(b);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *rec = getenv("KT_FUZZ_DNS_RECORD");

	(void)argc;
	(void)argv;
	fuzz_pub(fuzz_rsa, 0);
	fuzz_pub(fuzz_ed, 1);
	if (getenv("KT_FUZZ_DNS_PRINT") != NULL)
		fuzz_null = stderr;
	else if ((fuzz_null = fopen("/dev/null", "w")) == NULL)
		abort();
	if (rec != NULL && ((fuzz_server = getenv("KT_FUZZ_DNS_SERVER")) ==
	    NULL || (fuzz_rec = fopen(rec, "w")) == NULL))
		abort();
	return 0;
}

/* fuzz_record - what the real server answered, as a record of the input */
static void
fuzz_record(enum dnsio_status x, const ldns_pkt *a, int tc)
{
	uint8_t *w = NULL;
	size_t n = 0;

	if (x == DNSIO_OK && (ldns_pkt2wire(&w, a, &n) != LDNS_STATUS_OK ||
	    n > 0xffff))
		abort();
	if (tc)
		w[2] |= 0x02;	/* the UDP answer was truncated */
	fputc(x == DNSIO_ERROR, fuzz_rec);
	fputc((int)(n >> 8), fuzz_rec);
	fputc((int)(n & 0xff), fuzz_rec);
	if (n > 0)
		fwrite(w, 1, n, fuzz_rec);
	free(w);
}

/*
 * fuzz_reply - the next datagram that answers q, or a timeout (or an
 * error) as the input says; tcp: one answer, a stray one is an error
 */
static enum dnsio_status
fuzz_reply(const ldns_pkt *q, int tcp, ldns_pkt **ans, char **err)
{
	const uint8_t *p;
	uint8_t *buf;
	size_t n;
	int flags;

	for (;;) {
		if (fuzz_in.n < 3) {
			*err = xstrdup("no answer (the input ended)");
			return DNSIO_TIMEOUT;
		}
		flags = fz_byte(&fuzz_in);
		p = fz_take(&fuzz_in, fz_u16(&fuzz_in), &n);
		if (flags & 1) {
			*err = xstrdup("udp: Connection refused");
			return DNSIO_ERROR;
		}
		if (n == 0) {
			*err = xstrdup("no answer");
			return DNSIO_TIMEOUT;
		}
		if ((buf = malloc(n)) == NULL)
			abort();
		memcpy(buf, p, n);
		if (n >= 2) {
			buf[0] = FUZZ_ID >> 8;
			buf[1] = FUZZ_ID & 0xff;
		}
		*ans = reply_for(q, buf, n);
		free(buf);
		if (*ans != NULL)
			return DNSIO_OK;
		if (tcp) {
			*err = xstrdup("tcp: Bad message");
			return DNSIO_ERROR;
		}
	}
}

/* dnsio_query - dnsio.c's, over the input instead of sockets */
enum dnsio_status
dnsio_query(const struct dnsio_opts *c, const struct dnsio_addr *to,
    const char *name, ldns_rr_type type, int rd, ldns_pkt **ans, int *tcp,
    char **err)
{
	ldns_rdf *dn;
	ldns_pkt *q;
	enum dnsio_status x;

	if (fuzz_rec != NULL) {
		x = dnsio_query_sock(c, to, name, type, rd, ans, tcp, err);
		fuzz_record(x, *ans, x == DNSIO_OK && *tcp);
		if (x == DNSIO_OK && *tcp)
			fuzz_record(x, *ans, 0);
		return x;
	}
	*ans = NULL;
	*err = NULL;
	*tcp = 0;
	if ((dn = ldns_dname_new_frm_str(name)) == NULL) {
		*err = xasprintf("bad name %s", name);
		return DNSIO_ERROR;
	}
	q = ldns_pkt_query_new(dn, type, LDNS_RR_CLASS_IN, rd ? LDNS_RD : 0);
	ldns_pkt_set_id(q, FUZZ_ID);
	ldns_pkt_set_edns_udp_size(q, DNSIO_EDNS_SIZE);
	x = fuzz_reply(q, 0, ans, err);
	if (x == DNSIO_OK && ldns_pkt_tc(*ans)) {
		ldns_pkt_free(*ans);
		*ans = NULL;
		*tcp = 1;
		x = fuzz_reply(q, 1, ans, err);
	}
	ldns_pkt_free(q);
	return x;
}

/* fuzz_result - what must hold of any result */
static void
fuzz_result(const struct prop_result *r)
{
	size_t i;

	if ((r->published && r->verdict != PROP_V_PUBLISHED) ||
	    (r->revoked && r->verdict != PROP_V_REVOKED) ||
	    (r->published && r->revoked) ||
	    prop_hold(r) != (long long)(r->max_ttl > r->neg_ttl ?
	    r->max_ttl : r->neg_ttl))
		abort();
	for (i = 0; i < r->nobs; i++)
		if (!r->obs[i].chained && r->published &&
		    r->obs[i].status != PROP_MATCH)
			abort();	/* a timeout or an error as a yes */
	prop_result_print(r, fuzz_null);
}

/* fuzz_memo - the key's memo entry after this pass, written and read */
static void
fuzz_memo(const struct prop_result *r, int slot)
{
	struct adapt_memo m = { NULL, 0 }, m2;
	struct adapt_mem *e = adapt_memo_get(&m, "kt1");
	char err[256], *t;

	strlcpy(e->kid, "0fb5cac94a7bc5eb", sizeof(e->kid));
	e->published = POL_PUB_PUBLISHED;
	evidence_update(&e->obs, r, 1800000000);
	if (slot) {
		evidence_update_slot(&e->obs, &e->cname, e->cname_bad,
		    sizeof(e->cname_bad), r, r, 300, 1800000000);
		e->ttlmax = r->max_ttl;
	}
	e->checked = 1800000000;
	t = adapt_memo_format(&m);
	if (adapt_memo_parse(t, &m2, err, sizeof(err)) == -1 ||
	    m2.n != 1 || strcmp(m2.v[0].cname_bad, e->cname_bad) != 0 ||
	    m2.v[0].cname != e->cname ||
	    m2.v[0].obs.dns != e->obs.dns ||
	    m2.v[0].obs.hold != e->obs.hold)
		abort();	/* the memo written is not read back */
	adapt_memo_free(&m2);
	free(t);
	adapt_memo_free(&m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *extra[] = { "127.0.0.53:53" };
	struct prop_options opt;
	struct prop_query q;
	struct prop_result r;
	char name[128];
	int mode, ed;

	fuzz_in.p = data;
	fuzz_in.n = size;
	mode = fz_byte(&fuzz_in);
	ed = (mode & 4) != 0;
	snprintf(name, sizeof(name), "%s._domainkey.example.test",
	    fuzz_names[fz_byte(&fuzz_in) % FUZZ_NNAMES]);
	if (fuzz_rec != NULL) {
		fputc(data[0], fuzz_rec);
		fputc(size > 1 ? data[1] : 0, fuzz_rec);
	}
	memset(&q, 0, sizeof(q));
	q.name = name;
	q.alg = ed ? PROP_ALG_ED25519 : PROP_ALG_RSA;
	q.key = fuzz_key[ed];
	q.keylen = fuzz_keylen[ed];
	switch (mode & 3) {
	case 1:
		q.name = "kt3.example.test.prov.test";
		q.no_follow = 1;
		q.resolver_name = "kt3._domainkey.example.test";
		break;
	case 2:
		q.name = "kt3._domainkey.example.test";
		q.cname_to = "kt3.example.test.prov.test";
		break;
	case 3:
		q.any_key = 1;
		break;
	}
	memset(&opt, 0, sizeof(opt));
	opt.resolver = fuzz_rec != NULL ? fuzz_server : "127.0.0.1";
	opt.dns_port = fuzz_rec != NULL ? atoi(strrchr(fuzz_server, ':') +
	    1) : 53;
	opt.timeout_ms = 1000;
	opt.tries = 1;
	if (mode & 8) {
		opt.extra = fuzz_rec != NULL ? &fuzz_server : extra;
		opt.nextra = 1;
	}
	(void)prop_check(&q, &opt, &r);
	fuzz_result(&r);
	fuzz_memo(&r, (mode & 3) == 2);
	prop_result_free(&r);
	if (fuzz_rec != NULL) {	/* one recording, whatever runs it */
		if (fclose(fuzz_rec) == EOF)
			abort();
		_exit(0);
	}
	return 0;
}
