/*
 * storefmt - the text of a domain's policy, state and history files
 *
 *	policy:  "keyturn-policy 1", then one "keyword value" line for each
 *		 of algorithms, bits, active-keys, rotate-after, retire-after,
 *		 selector-prefix (each exactly once). A delegated domain's is
 *		 "keyturn-policy 2" with delegate-to, slots, slot-selector,
 *		 slot-target and dns-hold too; a version 1 file with one of
 *		 those is refused.
 *	state:   "keyturn-state 1", "generation N", "history BYTES", one
 *		 "key selector=S; alg=A; bits=N; state=X; created=T; since=T;
 *		 [stopped=T;] kid=K; pub=B64" line per key (RFC 6376
 *		 tag=value), "end N". A delegated domain's is "keyturn-state
 *		 2", its keys with slot=N and prevttl=S too. kid= and stopped=
 *		 are optional when read (files of an older keyturn, which in
 *		 turn ignores them); a missing kid= is computed from pub=, a
 *		 present one must match it.
 *	history: "keyturn-history 1", then "TIME SELECTOR FROM TO key=KID
 *		 [slot=N] [pub=ALG:B64] REASON"; lines of an older keyturn
 *		 have no tags ("TIME SELECTOR FROM TO REASON"), which every
 *		 reason it wrote tells apart (it starts with a word and a
 *		 colon: "operator:", "policy:", "dns:").
 *
 * Every line ends with a newline; a file that does not, or that stops
 * before its last line ("end"), was truncated. Every error names
 * file:line. Nothing here touches the disk.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "duration.h"
#include "store_int.h"
#include "tagvalue.h"
#include "xmalloc.h"

struct lines {
	const char	*path;
	const char	*p;
	const char	*end;
	int		 lineno;
	char		 line[8192];
};

/* lines_next - the next line into l->line; 1, 0 at the end, -1 on error */
static int
lines_next(struct lines *l, char *err, size_t errlen)
{
	const char *nl, *q;
	size_t n;

	if (l->p >= l->end)
		return 0;
	l->lineno++;
	if ((nl = memchr(l->p, '\n', l->end - l->p)) == NULL) {
		snprintf(err, errlen, "%s:%d: line has no newline (file "
		    "truncated?)", l->path, l->lineno);
		return -1;
	}
	n = nl - l->p;
	if (n >= sizeof(l->line)) {
		snprintf(err, errlen, "%s:%d: line too long", l->path,
		    l->lineno);
		return -1;
	}
	for (q = l->p; q < nl; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f) {
			snprintf(err, errlen, "%s:%d: control character "
			    "0x%02x (garbled file?)", l->path, l->lineno,
			    (unsigned char)*q);
			return -1;
		}
	memcpy(l->line, l->p, n);
	l->line[n] = '\0';
	l->p = nl + 1;
	return 1;
}

/* lines_expect - the next line must exist; "missing X" at end of file */
static int
lines_expect(struct lines *l, const char *what, char *err, size_t errlen)
{
	int r = lines_next(l, err, errlen);

	if (r == 0)
		snprintf(err, errlen, "%s:%d: missing %s (file truncated?)",
		    l->path, l->lineno + 1, what);
	return r == 1 ? 0 : -1;
}

/* lines_header - "NAME V" on line 1, V from 1 to max; V, or -1 */
static int
lines_header(struct lines *l, const char *name, int max, char *err,
    size_t errlen)
{
	char want[64];
	int v;

	if (lines_expect(l, "the format line", err, errlen) == -1)
		return -1;
	for (v = 1; v <= max; v++) {
		snprintf(want, sizeof(want), "%s %d", name, v);
		if (strcmp(l->line, want) == 0)
			return v;
	}
	if (max == 1)
		snprintf(err, errlen, "%s:%d: expected \"%s 1\"", l->path,
		    l->lineno, name);
	else
		snprintf(err, errlen, "%s:%d: expected \"%s 1\" or \"%s %d\" "
		    "(a newer keyturn wrote it?)", l->path, l->lineno, name,
		    name, max);
	return -1;
}

/* ---- policy ---- */

/*
 * The keywords, each with the policy field spol_why checks on its line
 * and the first policy version that has it.
 */
enum pkw { PKW_ALGS, PKW_BITS, PKW_ACTIVE, PKW_ROTATE, PKW_RETIRE, PKW_PREFIX,
	PKW_DELEGATE, PKW_SLOTS, PKW_SLOTSEL, PKW_SLOTTGT, PKW_HOLD, PKW_N };
static const struct {
	const char	*name;
	unsigned	 field;
	int		 version;
} policy_kw[PKW_N] = {
	{ "algorithms", STORE_POL_ALGS, SFMT_V1 },
	{ "bits", STORE_POL_BITS, SFMT_V1 },
	{ "active-keys", STORE_POL_ACTIVE, SFMT_V1 },
	{ "rotate-after", STORE_POL_ROTATE, SFMT_V1 },
	{ "retire-after", STORE_POL_RETIRE, SFMT_V1 },
	{ "selector-prefix", STORE_POL_PREFIX, SFMT_V1 },
	{ "delegate-to", SPOL_DELEGATE, SFMT_V2 },
	{ "slots", STORE_POL_SLOTS, SFMT_V2 },
	{ "slot-selector", SPOL_SLOTSEL, SFMT_V2 },
	{ "slot-target", SPOL_SLOTTGT, SFMT_V2 },
	{ "dns-hold", STORE_POL_HOLD, SFMT_V2 }
};

/* policy_str - a string field */
static const char *
policy_str(char *dst, size_t len, const char *v)
{
	return strlcpy(dst, v, len) >= len ? "too long" : NULL;
}

/* policy_value - one keyword's value into the policy */
static const char *
policy_value(enum pkw kw, const char *v, struct store_policy *pol)
{
	const char *errstr = NULL;

	switch (kw) {
	case PKW_ALGS:
		return store_algs_parse(v, &pol->algs) == -1 ?
		    "expected rsa, ed25519 or rsa,ed25519" : NULL;
	case PKW_BITS:
		pol->bits = strtonum(v, 1, 1 << 20, &errstr);
		return errstr;
	case PKW_ACTIVE:
		pol->active_keys = strtonum(v, 1, STORE_MAX_ACTIVE, &errstr);
		return errstr ? "expected 1 to 3" : NULL;
	case PKW_ROTATE:
		return duration_parse(v, &pol->rotate_after, &errstr) == -1 ?
		    errstr : NULL;
	case PKW_RETIRE:
		return duration_parse(v, &pol->retire_after, &errstr) == -1 ?
		    errstr : NULL;
	case PKW_PREFIX:
		return policy_str(pol->prefix, sizeof(pol->prefix), v);
	case PKW_DELEGATE:
		return policy_str(pol->delegate_to, sizeof(pol->delegate_to),
		    v);
	case PKW_SLOTS:
		pol->slots = strtonum(v, STORE_SLOTS_MIN, STORE_SLOTS_MAX,
		    &errstr);
		return errstr ? "expected 2 or 3" : NULL;
	case PKW_SLOTSEL:
		return policy_str(pol->slot_selector,
		    sizeof(pol->slot_selector), v);
	case PKW_SLOTTGT:
		return policy_str(pol->slot_target, sizeof(pol->slot_target),
		    v);
	case PKW_HOLD:
		return duration_parse(v, &pol->dns_hold, &errstr) == -1 ?
		    errstr : NULL;
	default:
		return "unknown keyword";
	}
}

/* policy_line - "keyword value", a keyword of this version */
static int
policy_line(struct lines *l, int version, struct store_policy *pol,
    unsigned *seen, char *err, size_t errlen)
{
	char *sp = strchr(l->line, ' ');
	const char *why;
	int kw;

	if (sp == NULL) {
		snprintf(err, errlen, "%s:%d: expected \"keyword value\"",
		    l->path, l->lineno);
		return -1;
	}
	*sp++ = '\0';
	for (kw = 0; kw < PKW_N; kw++)
		if (strcmp(l->line, policy_kw[kw].name) == 0)
			break;
	if (kw == PKW_N) {
		snprintf(err, errlen, "%s:%d: unknown keyword \"%s\"", l->path,
		    l->lineno, l->line);
		return -1;
	}
	if (policy_kw[kw].version > version) {
		snprintf(err, errlen, "%s:%d: \"%s\" needs \"keyturn-policy "
		    "%d\"", l->path, l->lineno, policy_kw[kw].name,
		    policy_kw[kw].version);
		return -1;
	}
	if (*seen & (1u << kw)) {
		snprintf(err, errlen, "%s:%d: \"%s\" given twice", l->path,
		    l->lineno, policy_kw[kw].name);
		return -1;
	}
	*seen |= 1u << kw;
	if ((why = policy_value(kw, sp, pol)) == NULL) {
		/* a policy written before durations were capped at 100
		 * years reads as the cap: the plan is the same (never) */
		if (kw == PKW_ROTATE && pol->rotate_after > STORE_DURATION_MAX)
			pol->rotate_after = STORE_DURATION_MAX;
		if (kw == PKW_RETIRE && pol->retire_after > STORE_DURATION_MAX)
			pol->retire_after = STORE_DURATION_MAX;
	}
	if (why != NULL ||
	    (why = spol_why(pol, policy_kw[kw].field)) != NULL) {
		snprintf(err, errlen, "%s:%d: %s \"%s\": %s", l->path,
		    l->lineno, policy_kw[kw].name, sp, why);
		return -1;
	}
	return 0;
}

/*
 * sfmt_policy_parse - every keyword of the file's version once, each
 * checked on its line; a delegated policy is then checked whole
 */
int
sfmt_policy_parse(const char *path, const char *buf, size_t len,
    struct store_policy *pol, char *err, size_t errlen)
{
	struct lines l = { path, buf, buf + len, 0, "" };
	unsigned seen = 0;
	char why[512];
	int kw, r, version;

	store_policy_default(pol);
	pol->algs = 0;
	if ((version = lines_header(&l, "keyturn-policy", SFMT_V2, err,
	    errlen)) == -1)
		return -1;
	while ((r = lines_next(&l, err, errlen)) == 1)
		if (policy_line(&l, version, pol, &seen, err, errlen) == -1)
			return -1;
	if (r == -1)
		return -1;
	for (kw = 0; kw < PKW_N; kw++)
		if (policy_kw[kw].version <= version && !(seen & (1u << kw))) {
			snprintf(err, errlen, "%s:%d: missing \"%s\" (file "
			    "truncated?)", path, l.lineno + 1,
			    policy_kw[kw].name);
			return -1;
		}
	if (version == SFMT_V2 &&
	    store_policy_check(pol, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: %s", path, why);
		return -1;
	}
	return 0;
}

/*
 * sfmt_policy - the canonical policy text, one keyword per line: version
 * 1 as ever for a plain domain, version 2 for a delegated one
 */
char *
sfmt_policy(const struct store_policy *pol)
{
	char rot[32], ret[32], hold[32], *v1, *out;
	const char *algs = store_algs_name(pol->algs);

	v1 = xasprintf("keyturn-policy %d\nalgorithms %s\nbits %d\n"
	    "active-keys %d\nrotate-after %s\nretire-after %s\n"
	    "selector-prefix %s\n", pol->slots > 0 ? SFMT_V2 : SFMT_V1, algs,
	    pol->bits, pol->active_keys,
	    duration_format(pol->rotate_after, rot, sizeof(rot)),
	    duration_format(pol->retire_after, ret, sizeof(ret)),
	    pol->prefix);
	if (pol->slots == 0)
		return v1;
	out = xasprintf("%sdelegate-to %s\nslots %d\nslot-selector %s\n"
	    "slot-target %s\ndns-hold %s\n", v1, pol->delegate_to, pol->slots,
	    pol->slot_selector, pol->slot_target,
	    duration_format(pol->dns_hold, hold, sizeof(hold)));
	free(v1);
	return out;
}

/* ---- state ---- */

/* state_number - "NAME N" */
static int
state_number(struct lines *l, const char *name, long long max,
    long long *out, char *err, size_t errlen)
{
	size_t n = strlen(name);
	const char *errstr = NULL;

	if (lines_expect(l, name, err, errlen) == -1)
		return -1;
	if (strncmp(l->line, name, n) != 0 || l->line[n] != ' ') {
		snprintf(err, errlen, "%s:%d: expected \"%s N\"", l->path,
		    l->lineno, name);
		return -1;
	}
	*out = strtonum(l->line + n + 1, 0, max, &errstr);
	if (errstr != NULL) {
		snprintf(err, errlen, "%s:%d: %s: %s", l->path, l->lineno,
		    name, errstr);
		return -1;
	}
	return 0;
}

/* key_tag - a required tag of a key line */
static const char *
key_tag(struct lines *l, const struct tv_list *tv, const char *tag,
    char *err, size_t errlen)
{
	const char *v = tv_get(tv, tag);

	if (v == NULL)
		snprintf(err, errlen, "%s:%d: key has no %s=", l->path,
		    l->lineno, tag);
	return v;
}

/* key_fields - the typed fields of one key line */
static const char *
key_fields(const struct tv_list *tv, struct store_key *k)
{
	const char *errstr = NULL;

	if (store_selector_valid(tv_get(tv, "selector"), NULL, 0) == -1)
		return "bad selector";
	strlcpy(k->selector, tv_get(tv, "selector"), sizeof(k->selector));
	if (store_alg_parse(tv_get(tv, "alg"), &k->alg) == -1)
		return "bad alg";
	k->bits = strtonum(tv_get(tv, "bits"), 256, STORE_RSA_MAX, &errstr);
	if (errstr != NULL)
		return "bad bits";
	if (store_state_parse(tv_get(tv, "state"), &k->state) == -1)
		return "bad state";
	if (store_time_parse(tv_get(tv, "created"), &k->created) == -1)
		return "bad created time";
	if (store_time_parse(tv_get(tv, "since"), &k->since) == -1)
		return "bad since time";
	return NULL;
}

/*
 * key_optional - the tags a key line may have: stopped= (any version),
 * slot= and prevttl= (version 2 only)
 */
static const char *
key_optional(const struct tv_list *tv, int version, struct store_key *k)
{
	const char *v, *errstr = NULL;

	k->prev_ttl = -1;
	if ((v = tv_get(tv, "stopped")) != NULL &&
	    store_time_parse(v, &k->stopped) == -1)
		return "bad stopped time";
	if (version < SFMT_V2 && (tv_get(tv, "slot") != NULL ||
	    tv_get(tv, "prevttl") != NULL))
		return "slot= and prevttl= need \"keyturn-state 2\"";
	if ((v = tv_get(tv, "slot")) != NULL) {
		k->slot = strtonum(v, 1, STORE_SLOTS_MAX, &errstr);
		if (errstr != NULL)
			return "bad slot";
	}
	if ((v = tv_get(tv, "prevttl")) != NULL) {
		k->prev_ttl = strtonum(v, -1, STORE_DURATION_MAX, &errstr);
		if (errstr != NULL)
			return "bad prevttl";
	}
	return NULL;
}

/* key_kid - the key id from pub=; a kid= given must be the same */
static int
key_kid(struct lines *l, const struct tv_list *tv, struct store_key *k,
    char *err, size_t errlen)
{
	const char *v = tv_get(tv, "kid");

	if (store_key_id(k->spki, k->kid) == -1) {
		snprintf(err, errlen, "%s:%d: key %s: pub= is not base64",
		    l->path, l->lineno, k->selector);
		return -1;
	}
	if (v != NULL && strcmp(v, k->kid) != 0) {
		snprintf(err, errlen, "%s:%d: kid= %s does not match pub= "
		    "(computed %s)", l->path, l->lineno, v, k->kid);
		return -1;
	}
	return 0;
}

/* key_line - "key selector=...; ..."; pub= checked for its algorithm */
static int
key_line(struct lines *l, int version, struct store_key *k, char *err,
    size_t errlen)
{
	static const char *const tags[] = { "selector", "alg", "bits",
	    "state", "created", "since", "pub" };
	struct tv_list tv;
	const char *why;
	char tverr[128];
	size_t i;

	memset(k, 0, sizeof(*k));
	if (tv_parse(l->line + 4, strlen(l->line + 4), &tv, tverr,
	    sizeof(tverr)) == -1) {
		snprintf(err, errlen, "%s:%d: %s", l->path, l->lineno, tverr);
		return -1;
	}
	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		if (key_tag(l, &tv, tags[i], err, errlen) == NULL) {
			tv_free(&tv);
			return -1;
		}
	if ((why = key_fields(&tv, k)) != NULL ||
	    (why = key_optional(&tv, version, k)) != NULL) {
		snprintf(err, errlen, "%s:%d: %s", l->path, l->lineno, why);
		tv_free(&tv);
		return -1;
	}
	k->spki = xstrdup(tv_get(&tv, "pub"));
	if (skey_key_pub(k, tverr, sizeof(tverr)) == -1) {
		snprintf(err, errlen, "%s:%d: key %s: %s", l->path, l->lineno,
		    k->selector, tverr);
		free(k->spki);
		k->spki = NULL;
		tv_free(&tv);
		return -1;
	}
	if (key_kid(l, &tv, k, err, errlen) == -1) {
		free(k->spki);
		free(k->p);
		k->spki = k->p = NULL;
		tv_free(&tv);
		return -1;
	}
	tv_free(&tv);
	return 0;
}

/* state_keys - key lines up to "end N" */
static int
state_keys(struct lines *l, int version, struct store_domain *d, char *err,
    size_t errlen)
{
	const char *errstr = NULL;
	size_t i;
	long long n;

	for (;;) {
		if (lines_expect(l, "\"end\" line", err, errlen) == -1)
			return -1;
		if (strncmp(l->line, "end ", 4) == 0)
			break;
		if (strncmp(l->line, "key ", 4) != 0) {
			snprintf(err, errlen, "%s:%d: expected \"key ...\" or "
			    "\"end N\"", l->path, l->lineno);
			return -1;
		}
		d->keys = xreallocarray(d->keys, d->nkeys + 1,
		    sizeof(*d->keys));
		if (key_line(l, version, &d->keys[d->nkeys], err,
		    errlen) == -1)
			return -1;
		for (i = 0; i < d->nkeys; i++)
			if (strcasecmp(d->keys[i].selector,
			    d->keys[d->nkeys].selector) == 0) {
				snprintf(err, errlen, "%s:%d: selector %s "
				    "listed twice", l->path, l->lineno,
				    d->keys[i].selector);
				free(d->keys[d->nkeys].spki);
				free(d->keys[d->nkeys].p);
				return -1;
			}
		d->nkeys++;
	}
	n = strtonum(l->line + 4, 0, 1000000, &errstr);
	if (errstr != NULL || (size_t)n != d->nkeys) {
		snprintf(err, errlen, "%s:%d: \"%s\" but %zu keys listed",
		    l->path, l->lineno, l->line, d->nkeys);
		return -1;
	}
	return 0;
}

/* sfmt_state_parse - header, counters, keys, "end N": truncation shows */
int
sfmt_state_parse(const char *path, const char *buf, size_t len,
    struct store_domain *d, char *err, size_t errlen)
{
	struct lines l = { path, buf, buf + len, 0, "" };
	long long gen, hist;
	int r, version;

	if ((version = lines_header(&l, "keyturn-state", SFMT_V2, err,
	    errlen)) == -1 ||
	    state_number(&l, "generation", LLONG_MAX, &gen, err,
	    errlen) == -1 ||
	    state_number(&l, "history", LLONG_MAX, &hist, err, errlen) == -1 ||
	    state_keys(&l, version, d, err, errlen) == -1)
		return -1;
	d->gen = gen;
	d->histsize = hist;
	if ((r = lines_next(&l, err, errlen)) != 0) {
		if (r == 1)
			snprintf(err, errlen, "%s:%d: text after the \"end\" "
			    "line", path, l.lineno);
		return -1;
	}
	return 0;
}

/*
 * state_key_text - one key line: the seven tags of version 1 in their
 * order, slot= after selector=, stopped=, prevttl= and kid= before pub=
 */
static char *
state_key_text(const struct store_key *k)
{
	char c[32], s[32], t[32], slot[24] = "", stopped[48] = "";
	char prev[40] = "";

	if (k->slot > 0) {
		snprintf(slot, sizeof(slot), " slot=%d;", k->slot);
		snprintf(prev, sizeof(prev), " prevttl=%lld;", k->prev_ttl);
	}
	if (k->stopped != 0)
		snprintf(stopped, sizeof(stopped), " stopped=%s;",
		    store_time_format(k->stopped, t, sizeof(t)));
	return xasprintf("key selector=%s;%s alg=%s; bits=%d; state=%s; "
	    "created=%s; since=%s;%s%s kid=%s; pub=%s\n", k->selector, slot,
	    store_alg_name(k->alg), k->bits, store_state_name(k->state),
	    store_time_format(k->created, c, sizeof(c)),
	    store_time_format(k->since, s, sizeof(s)), stopped, prev, k->kid,
	    k->spki);
}

/*
 * sfmt_state - the canonical state text; sfmt_state_parse reads it back.
 * Version 2 only for a delegated domain: a plain domain's state stays
 * readable by an older keyturn, which ignores kid= and stopped=.
 */
char *
sfmt_state(const struct store_domain *d)
{
	char *out, *line, *key;
	size_t i;
	int version = d->policy.slots > 0 ? SFMT_V2 : SFMT_V1;

	for (i = 0; i < d->nkeys; i++)
		if (d->keys[i].slot > 0)
			version = SFMT_V2;
	out = xasprintf("keyturn-state %d\ngeneration %llu\nhistory %lld\n",
	    version, (unsigned long long)d->gen, (long long)d->histsize);
	for (i = 0; i < d->nkeys; i++) {
		key = state_key_text(&d->keys[i]);
		line = xasprintf("%s%s", out, key);
		free(key);
		free(out);
		out = line;
	}
	line = xasprintf("%send %zu\n", out, d->nkeys);
	free(out);
	return line;
}

/* ---- history ---- */

/*
 * sfmt_event - one history line about key k (NULL: the domain), with its
 * public key when with_pub (its creation); control characters in a
 * reason become "?"
 */
char *
sfmt_event(time_t when, const struct store_key *k, int from, int to,
    int with_pub, const char *reason)
{
	char t[32], slot[24] = "", *pub = NULL, *r = xstrdup(reason), *p;
	char *out;

	for (p = r; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (k != NULL && k->slot > 0)
		snprintf(slot, sizeof(slot), " slot=%d", k->slot);
	if (k != NULL && with_pub)
		pub = xasprintf(" pub=%s:%s", store_alg_name(k->alg), k->spki);
	out = xasprintf("%s %s %s %s key=%s%s%s %s\n",
	    store_time_format(when, t, sizeof(t)), k ? k->selector : "-",
	    store_state_name(from), store_state_name(to),
	    k && k->kid[0] ? k->kid : "-", slot, pub ? pub : "", r);
	free(pub);
	free(r);
	return out;
}

/* event_state - "-" or a state name */
static int
event_state(const char *s, int *st)
{
	enum store_state e;

	if (strcmp(s, "-") == 0) {
		*st = STORE_STATE_NONE;
		return 0;
	}
	if (store_state_parse(s, &e) == -1)
		return -1;
	*st = e;
	return 0;
}

/* event_kid - a key id as written: 16 lowercase hex digits */
static int
event_kid(const char *v)
{
	return strlen(v) == STORE_KID_LEN &&
	    strspn(v, "0123456789abcdef") == STORE_KID_LEN;
}

/* event_pub - "ALG:B64SPKI" of a creation line */
static int
event_pub(const char *v, struct store_event *ev)
{
	const char *colon = strchr(v, ':');
	char alg[16];

	if (colon == NULL || (size_t)(colon - v) >= sizeof(alg) ||
	    colon[1] == '\0')
		return -1;
	memcpy(alg, v, colon - v);
	alg[colon - v] = '\0';
	if (store_alg_parse(alg, &ev->alg) == -1)
		return -1;
	ev->pub = xstrdup(colon + 1);
	return 0;
}

/*
 * event_tag - the next token if it is tag=: its value (the token cut out
 * of *p, *p moved past it), else NULL
 */
static char *
event_tag(char **p, const char *tag)
{
	size_t n = strlen(tag);
	char *v, *sp;

	if (strncmp(*p, tag, n) != 0 || (*p)[n] != '=')
		return NULL;
	v = *p + n + 1;
	if ((sp = strchr(v, ' ')) != NULL) {
		*sp = '\0';
		*p = sp + 1;
	} else
		*p = v + strlen(v);
	return v;
}

/*
 * event_tags - key=KID [slot=N] [pub=ALG:B64] in that order after the
 * four fields; a line without key= is one of an older keyturn
 */
static int
event_tags(struct lines *l, char **p, struct store_event *ev, char *err,
    size_t errlen)
{
	const char *errstr = NULL;
	char *v;

	if ((v = event_tag(p, "key")) == NULL)
		return 0;
	if (strcmp(v, "-") != 0 && !event_kid(v)) {
		snprintf(err, errlen, "%s:%d: bad key id \"%s\"", l->path,
		    l->lineno, v);
		return -1;
	}
	if (strcmp(v, "-") != 0)
		strlcpy(ev->kid, v, sizeof(ev->kid));
	if ((v = event_tag(p, "slot")) != NULL) {
		ev->slot = strtonum(v, 1, STORE_SLOTS_MAX, &errstr);
		if (errstr != NULL) {
			snprintf(err, errlen, "%s:%d: bad slot \"%s\"", l->path,
			    l->lineno, v);
			return -1;
		}
	}
	if ((v = event_tag(p, "pub")) != NULL && event_pub(v, ev) == -1) {
		snprintf(err, errlen, "%s:%d: bad pub=", l->path, l->lineno);
		return -1;
	}
	return 0;
}

/* event_line - "TIME SELECTOR FROM TO [TAGS] REASON" */
static int
event_line(struct lines *l, struct store_event *ev, char *err, size_t errlen)
{
	char *f[4], *p = l->line, *sp;
	int i;

	memset(ev, 0, sizeof(*ev));
	for (i = 0; i < 4; i++) {
		f[i] = p;
		if ((sp = strchr(p, ' ')) == NULL) {
			snprintf(err, errlen, "%s:%d: expected \"TIME SELECTOR "
			    "FROM TO REASON\"", l->path, l->lineno);
			return -1;
		}
		*sp = '\0';
		p = sp + 1;
	}
	if (store_time_parse(f[0], &ev->when) == -1 ||
	    (strcmp(f[1], "-") != 0 &&
	    store_selector_valid(f[1], NULL, 0) == -1) ||
	    event_state(f[2], &ev->from) == -1 ||
	    event_state(f[3], &ev->to) == -1) {
		snprintf(err, errlen, "%s:%d: bad time, selector or state",
		    l->path, l->lineno);
		return -1;
	}
	strlcpy(ev->selector, f[1], sizeof(ev->selector));
	if (event_tags(l, &p, ev, err, errlen) == -1) {
		free(ev->pub);
		ev->pub = NULL;
		return -1;
	}
	ev->reason = xstrdup(p);
	return 0;
}

/* sfmt_history_parse - every line, or file:line of the first bad one */
int
sfmt_history_parse(const char *path, const char *buf, size_t len,
    struct store_event **evp, size_t *np, char *err, size_t errlen)
{
	struct lines l = { path, buf, buf + len, 0, "" };
	struct store_event *ev = NULL;
	size_t n = 0;
	int r;

	if (lines_header(&l, "keyturn-history", SFMT_V1, err, errlen) == -1)
		return -1;
	while ((r = lines_next(&l, err, errlen)) == 1) {
		ev = xreallocarray(ev, n + 1, sizeof(*ev));
		if (event_line(&l, &ev[n], err, errlen) == -1) {
			r = -1;
			break;
		}
		n++;
	}
	if (r == -1) {
		store_history_free(ev, n);
		return -1;
	}
	*evp = ev;
	*np = n;
	return 0;
}
