/*
 * cli_audit - keyturn audit: was each DKIM-Signature of a message made
 * with a key of ours that was active at its t= time? (M3AAWG DKIM Key
 * Rotation BCP, section 6)
 *
 * The message is read whole; its header (up to the first empty line) is
 * unfolded and every field named DKIM-Signature (any case) is parsed as
 * an RFC 6376 tag=value list and judged from the domain's history.
 *
 * A plain domain's selectors are never reused, so the selector's state
 * at t= answers. A delegated domain's slot selectors hold one key after
 * another: the key is the one whose creation line for that selector is
 * the latest at or before t= (the history's key ids), its state at t= is
 * judged, and the signature is verified (dkimverify.c) with that key's
 * public key from the history, so a reused selector never answers for
 * another key. --verify does the same for plain domains. Exit 0 when at
 * least one signature is ours and every signature of ours was allowed,
 * else 1.
 */
#include "config.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/pem.h>

#include "cli.h"
#include "dkimverify.h"
#include "tagvalue.h"
#include "xmalloc.h"

#define AUDIT_MAX_HEADER	(1024 * 1024)
#define AUDIT_MAX_MESSAGE	(256 * 1024 * 1024)

enum verdict { V_ALLOWED, V_DENIED, V_FOREIGN, V_BAD };

struct audit {
	struct cli	*c;
	struct store	*s;
	const char	*msg;		/* the whole message */
	size_t		 len;
	int		 verify;	/* --verify: plain domains too */
	int		 ours, denied, first;
};

/* What a judgment by key found, for the report. */
struct judged {
	char		 kid[STORE_KID_LEN + 1];	/* "": not by key */
	int		 slot;
	int		 verified;	/* 1 yes, 0 no, -1 not checked */
};

/* message_read - the whole message, NUL-terminated; NULL when too big */
static char *
message_read(FILE *f, size_t *len)
{
	char *buf = NULL;
	size_t n = 0, cap = 0, r;

	do {
		if (cap - n < 65536) {
			cap = cap ? cap * 2 : 131072;
			if (cap > AUDIT_MAX_MESSAGE + 65536) {
				free(buf);
				return NULL;
			}
			buf = xreallocarray(buf, cap + 1, 1);
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* header_of - the header block of msg, CRLF or LF lines, unterminated */
static char *
header_of(const char *msg)
{
	const char *p = msg, *eol;
	size_t n;

	while (*p != '\0' && *p != '\n' && !(p[0] == '\r' && p[1] == '\n')) {
		eol = strchr(p, '\n');
		p = eol ? eol + 1 : p + strlen(p);
	}
	n = (size_t)(p - msg);
	if (n > AUDIT_MAX_HEADER)
		n = AUDIT_MAX_HEADER;
	return xstrndup(msg, n);
}

/* field_next - the next unfolded header field (name:value) from *p */
static char *
field_next(const char **p)
{
	const char *start = *p, *q = *p;
	char *out, *o;

	if (*q == '\0')
		return NULL;
	do {
		q = strchr(q, '\n');
		q = q ? q + 1 : start + strlen(start);
	} while (*q == ' ' || *q == '\t');
	*p = q;
	out = xstrndup(start, q - start);
	for (o = out; *o; o++)	/* unfold: CR and LF become nothing */
		if (*o == '\r' || *o == '\n')
			memmove(o, o + 1, strlen(o)), o--;
	return out;
}

/*
 * active_in - was the key active at any moment of second t? The key is a
 * selector, or with bykid a key id. t= and the history both count whole
 * seconds, so a key that left the active set during second t signed
 * lawfully earlier in that second.
 */
static int
active_in(const struct store_event *ev, size_t n, const char *key, int bykid,
    time_t t)
{
	int st = STORE_STATE_NONE, seen = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (ev[i].when > t || (bykid ? strcmp(ev[i].kid, key) :
		    strcasecmp(ev[i].selector, key)) != 0)
			continue;
		if (ev[i].when == t && (st == STORE_ACTIVE ||
		    ev[i].to == STORE_ACTIVE))
			seen = 1;
		st = ev[i].to;
	}
	return seen || st == STORE_ACTIVE;
}

/* active_within - active_in for a selector */
static int
active_within(const struct store_event *ev, size_t n, const char *sel,
    time_t t)
{
	return active_in(ev, n, sel, 0, t);
}

/* key_active_within - active_in for one key, by its key id */
static int
key_active_within(const struct store_event *ev, size_t n, const char *kid,
    time_t t)
{
	return active_in(ev, n, kid, 1, t);
}

/* audit_pkey - a public key from its base64 SPKI */
static EVP_PKEY *
audit_pkey(const char *spki, enum store_alg alg, char *err, size_t errlen)
{
	struct store_key k;
	EVP_PKEY *pk = NULL;
	BIO *b;
	char *pem;

	memset(&k, 0, sizeof(k));
	k.spki = (char *)spki;
	k.alg = alg;
	if ((pem = store_key_pubpem(&k, err, errlen)) == NULL)
		return NULL;
	if ((b = BIO_new_mem_buf(pem, -1)) != NULL)
		pk = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	if (pk == NULL)
		snprintf(err, errlen, "unreadable public key");
	BIO_free(b);
	free(pem);
	return pk;
}

/*
 * key_public - the public key of key kid: its creation line's pub=, else
 * (a key created before key ids were kept) the state's; NULL and why
 */
static EVP_PKEY *
key_public(const struct store_event *ev, size_t n,
    const struct store_domain *d, const char *kid, char *err, size_t errlen)
{
	const struct store_event *e = store_history_created(ev, n, kid);
	const struct store_key *k = d ? store_domain_kid(d, kid) : NULL;

	if (e != NULL && e->pub != NULL)
		return audit_pkey(e->pub, e->alg, err, errlen);
	if (k != NULL)
		return audit_pkey(k->spki, k->alg, err, errlen);
	snprintf(err, errlen, "no public key of key %s is kept", kid);
	return NULL;
}

/* holder_kid - a key created before key ids: its id from the state */
static int
holder_kid(const struct store_domain *d, const char *sel,
    char kid[STORE_KID_LEN + 1])
{
	const struct store_key *k = d ? store_domain_key(d, sel) : NULL;

	if (k == NULL || k->slot > 0)
		return -1;
	memcpy(kid, k->kid, STORE_KID_LEN + 1);
	return 0;
}

/* verify_with - the signature checked with pub; the verdict and why */
static enum verdict
verify_with(struct audit *a, size_t sigidx, EVP_PKEY *pub, const char *sel,
    struct judged *j, const char *ts, char *why, size_t whylen)
{
	char vwhy[512], slot[32] = "";
	int r;

	r = dkimv_verify(a->msg, a->len, sigidx, pub, vwhy, sizeof(vwhy));
	if (j->slot > 0)
		snprintf(slot, sizeof(slot), " (slot %d)", j->slot);
	if (r == DKIMV_OK) {
		j->verified = 1;
		return V_ALLOWED;
	}
	if (r == DKIMV_FAIL) {
		j->verified = 0;
		snprintf(why, whylen, "NOT allowed: the signature does not "
		    "verify with key %s%s that %s held at %s (another key, or "
		    "the message was altered: %s)", j->kid, slot, sel, ts,
		    vwhy);
		return V_DENIED;
	}
	snprintf(why, whylen, "cannot tell: %s", vwhy);
	return V_BAD;
}

/*
 * judge_key - by key: the key sel held at t (its creation line), its
 * state at t, then the signature verified with its public key
 */
static enum verdict
judge_key(struct audit *a, const struct store_event *ev, size_t n,
    const struct store_domain *dom, const char *d, const char *sel,
    time_t t, size_t sigidx, struct judged *j, char *why, size_t whylen)
{
	char ts[32], err[512], slot[32] = "";
	enum verdict v;
	EVP_PKEY *pub;
	int idx, st, within;

	store_time_format(t, ts, sizeof(ts));
	if ((idx = store_history_holder(ev, n, sel, t, j->kid)) == -1) {
		snprintf(why, whylen, "NOT allowed: %s held no key of %s at %s",
		    sel, d, ts);
		return V_DENIED;
	}
	if (j->kid[0] == '\0' && holder_kid(dom, sel, j->kid) == -1) {
		snprintf(why, whylen, "cannot tell: %s was created before key "
		    "ids were kept and the state no longer has it", sel);
		return V_BAD;
	}
	j->slot = ev[idx].slot;
	if (j->slot > 0)
		snprintf(slot, sizeof(slot), " (slot %d)", j->slot);
	st = store_history_key_state_at(ev, n, j->kid, t);
	if (st == STORE_STATE_NONE)	/* its lines predate key ids */
		st = store_history_state_at(ev, n, sel, t);
	within = key_active_within(ev, n, j->kid, t);
	if (st != STORE_ACTIVE && !within) {
		snprintf(why, whylen, "NOT allowed: %s held key %s%s, %s at %s",
		    sel, j->kid, slot, store_state_name(st), ts);
		return V_DENIED;
	}
	if ((pub = key_public(ev, n, dom, j->kid, err, sizeof(err))) == NULL) {
		snprintf(why, whylen, "cannot tell: %s", err);
		return V_BAD;
	}
	v = verify_with(a, sigidx, pub, sel, j, ts, why, whylen);
	EVP_PKEY_free(pub);
	if (v == V_ALLOWED && st == STORE_ACTIVE)
		snprintf(why, whylen, "allowed: %s held key %s%s, active at "
		    "%s, signature verified", sel, j->kid, slot, ts);
	else if (v == V_ALLOWED)
		snprintf(why, whylen, "allowed: %s held key %s%s, active "
		    "during %s and %s within that second, signature verified",
		    sel, j->kid, slot, ts, store_state_name(st));
	return v;
}

/* judge - one signature's verdict from the history of its domain */
static enum verdict
judge(struct audit *a, const char *d, const char *sel, time_t t,
    size_t sigidx, struct judged *j, char *why, size_t whylen)
{
	struct store_domain *dom;
	struct store_event *ev;
	enum verdict v;
	size_t n, i;
	char err[1024], ts[32], *name = cli_lower(d);
	int r, st, within, bykey = a->verify;

	r = store_history_load(a->s, name, &ev, &n, err, sizeof(err));
	dom = r == 0 ? store_domain_load(a->s, name, 0, err, sizeof(err)) :
	    NULL;
	free(name);
	if (r == -2) {
		snprintf(why, whylen, "not ours: the keystore has no domain %s",
		    d);
		return V_FOREIGN;
	}
	if (r == -1) {
		snprintf(why, whylen, "cannot tell: %s", err);
		return V_BAD;
	}
	/* a removed domain has no policy left: its history tells */
	if (dom != NULL && dom->policy.slots > 0)
		bykey = 1;
	for (i = 0; dom == NULL && i < n; i++)
		if (ev[i].slot > 0)
			bykey = 1;
	if (bykey) {
		v = judge_key(a, ev, n, dom, d, sel, t, sigidx, j, why,
		    whylen);
		store_history_free(ev, n);
		store_domain_free(dom);
		return v;
	}
	store_domain_free(dom);
	st = store_history_state_at(ev, n, sel, t);
	within = active_within(ev, n, sel, t);
	store_history_free(ev, n);
	store_time_format(t, ts, sizeof(ts));
	if (st == STORE_ACTIVE) {
		snprintf(why, whylen, "allowed: %s was active at %s", sel, ts);
		return V_ALLOWED;
	}
	if (within) {
		snprintf(why, whylen, "allowed: %s was active during %s and "
		    "became %s within that second", sel, ts,
		    store_state_name(st));
		return V_ALLOWED;
	}
	if (st == STORE_STATE_NONE)
		snprintf(why, whylen, "NOT allowed: %s was not a key of %s at "
		    "%s", sel, d, ts);
	else
		snprintf(why, whylen, "NOT allowed: %s was %s at %s", sel,
		    store_state_name(st), ts);
	return V_DENIED;
}

/* signature - parse one DKIM-Signature value and judge it */
static enum verdict
signature(struct audit *a, const char *value, size_t sigidx,
    struct tv_list *tv, struct judged *j, char *why, size_t whylen)
{
	const char *d, *s, *t, *errstr = NULL;
	char err[256];
	long long when;

	if (tv_parse(value, strlen(value), tv, err, sizeof(err)) == -1) {
		snprintf(why, whylen, "unparsable signature: %s", err);
		tv->n = 0;
		return V_BAD;
	}
	d = tv_get(tv, "d");
	s = tv_get(tv, "s");
	t = tv_get(tv, "t");
	if (d == NULL || s == NULL) {
		snprintf(why, whylen, "signature has no d= or no s=");
		return V_BAD;
	}
	if (t == NULL) {
		snprintf(why, whylen, "cannot tell: the signature has no t= "
		    "(signing time)");
		return V_BAD;
	}
	when = strtonum(t, 0, LLONG_MAX, &errstr);
	if (errstr != NULL) {
		snprintf(why, whylen, "bad t= \"%s\"", t);
		return V_BAD;
	}
	return judge(a, d, s, (time_t)when, sigidx, j, why, whylen);
}

/* report - one line, or one JSON object, per signature */
static void
report(struct audit *a, const struct tv_list *tv, enum verdict v,
    const struct judged *j, const char *why)
{
	static const char *const names[] = { "allowed", "denied", "foreign",
	    "unknown" };
	const char *d = tv->n ? tv_get(tv, "d") : NULL;
	const char *s = tv->n ? tv_get(tv, "s") : NULL;
	const char *t = tv->n ? tv_get(tv, "t") : NULL;

	if (!a->c->json) {
		printf("d=%s s=%s t=%s: %s\n", d ? d : "?", s ? s : "?",
		    t ? t : "?", why);
		return;
	}
	cli_json_sep(&a->first);
	printf("  {\"d\": ");
	cli_json_str(stdout, d);
	printf(", \"s\": ");
	cli_json_str(stdout, s);
	printf(", \"t\": ");
	cli_json_str(stdout, t);
	printf(", \"verdict\": \"%s\", \"reason\": ", names[v]);
	cli_json_str(stdout, why);
	if (j->kid[0] != '\0') {
		printf(", \"key_id\": \"%s\", \"slot\": %d, \"verified\": ",
		    j->kid, j->slot);
		printf("%s", j->verified < 0 ? "null" : j->verified ? "true" :
		    "false");
	}
	printf("}");
}

/* audit_header - every DKIM-Signature field of the header */
static int
audit_header(struct audit *a, const char *hdr)
{
	struct tv_list tv;
	struct judged j;
	enum verdict v;
	char *f, *colon, why[1200];
	int nsig = 0;

	while ((f = field_next(&hdr)) != NULL) {
		colon = strchr(f, ':');
		if (colon == NULL || (size_t)(colon - f) != 14 ||
		    strncasecmp(f, "DKIM-Signature", 14) != 0) {
			free(f);
			continue;
		}
		memset(&j, 0, sizeof(j));
		j.verified = -1;
		v = signature(a, colon + 1, nsig, &tv, &j, why, sizeof(why));
		nsig++;
		report(a, &tv, v, &j, why);
		if (v != V_FOREIGN)
			a->ours++;
		if (v == V_DENIED || v == V_BAD)
			a->denied++;
		tv_free(&tv);
		free(f);
	}
	return nsig;
}

/* cmd_audit - keyturn audit FILE|- [--verify] */
int
cmd_audit(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verify", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' }, { 0 }
	};
	struct audit a = { c, NULL, NULL, 0, 0, 0, 0, 1 };
	FILE *f;
	char *hdr, *msg;
	size_t len;
	int ch, nsig;

	while ((ch = cli_getopt(c, argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'v')
			return CLI_USAGE;
		a.verify = 1;
	}
	if (optind != argc - 1)
		return cli_usage(c, "expected one FILE (or - for stdin)");
	if (strcmp(argv[optind], "-") == 0)
		f = stdin;
	else if ((f = fopen(argv[optind], "re")) == NULL)
		return cli_fail("%s: %m", argv[optind]);
	msg = message_read(f, &len);
	if (f != stdin)
		fclose(f);
	if (msg == NULL)
		return cli_fail("%s: larger than %d MiB", argv[optind],
		    AUDIT_MAX_MESSAGE / (1024 * 1024));
	a.msg = msg;
	a.len = len;
	hdr = header_of(msg);
	if ((a.s = cli_open(c, 1)) == NULL) {
		free(hdr);
		free(msg);
		return CLI_FAIL;
	}
	if (c->json)
		printf("[\n");
	nsig = audit_header(&a, hdr);
	if (c->json)
		printf("%s]\n", a.first ? "" : "\n");
	free(hdr);
	free(msg);
	store_close(a.s);
	if (nsig == 0)
		return cli_fail("%s: no DKIM-Signature header field",
		    argv[optind]);
	if (a.ours == 0)
		return cli_fail("no signature by a domain of this keystore");
	return a.denied ? CLI_FAIL : CLI_OK;
}
