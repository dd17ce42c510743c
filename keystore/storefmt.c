/*
 * storefmt - the text of a domain's policy, state and history files
 *
 *	policy:  "keyturn-policy 1", then one "keyword value" line for each
 *		 of algorithms, bits, active-keys, rotate-after, retire-after,
 *		 selector-prefix (each exactly once).
 *	state:   "keyturn-state 1", "generation N", "history BYTES", one
 *		 "key selector=S; alg=A; bits=N; state=X; created=T; since=T;
 *		 pub=B64" line per key (RFC 6376 tag=value), "end N".
 *	history: "keyturn-history 1", then "TIME SELECTOR FROM TO REASON".
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

/* lines_header - "NAME 1" on line 1 */
static int
lines_header(struct lines *l, const char *name, char *err, size_t errlen)
{
	char want[64];

	snprintf(want, sizeof(want), "%s %d", name, STORE_FORMAT);
	if (lines_expect(l, "the format line", err, errlen) == -1)
		return -1;
	if (strcmp(l->line, want) != 0) {
		snprintf(err, errlen, "%s:%d: expected \"%s\"", l->path,
		    l->lineno, want);
		return -1;
	}
	return 0;
}

/* ---- policy ---- */

enum pkw { PKW_ALGS, PKW_BITS, PKW_ACTIVE, PKW_ROTATE, PKW_RETIRE, PKW_PREFIX,
	PKW_N };
static const char *const policy_kw[PKW_N] = {
	"algorithms", "bits", "active-keys", "rotate-after", "retire-after",
	"selector-prefix"
};

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
		if (strlcpy(pol->prefix, v, sizeof(pol->prefix)) >=
		    sizeof(pol->prefix))
			return "too long";
		return NULL;
	default:
		return "unknown keyword";
	}
}

/* policy_line - "keyword value" */
static int
policy_line(struct lines *l, struct store_policy *pol, unsigned *seen,
    char *err, size_t errlen)
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
		if (strcmp(l->line, policy_kw[kw]) == 0)
			break;
	if (kw == PKW_N) {
		snprintf(err, errlen, "%s:%d: unknown keyword \"%s\"", l->path,
		    l->lineno, l->line);
		return -1;
	}
	if (*seen & (1u << kw)) {
		snprintf(err, errlen, "%s:%d: \"%s\" given twice", l->path,
		    l->lineno, policy_kw[kw]);
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
	/* the keywords are in the order of the STORE_POL_* bits */
	if (why != NULL ||
	    (why = spol_why(pol, 1u << kw)) != NULL) {
		snprintf(err, errlen, "%s:%d: %s \"%s\": %s", l->path,
		    l->lineno, policy_kw[kw], sp, why);
		return -1;
	}
	return 0;
}

/* sfmt_policy_parse - every keyword once, each checked on its line */
int
sfmt_policy_parse(const char *path, const char *buf, size_t len,
    struct store_policy *pol, char *err, size_t errlen)
{
	struct lines l = { path, buf, buf + len, 0, "" };
	unsigned seen = 0;
	int kw, r;

	memset(pol, 0, sizeof(*pol));
	if (lines_header(&l, "keyturn-policy", err, errlen) == -1)
		return -1;
	while ((r = lines_next(&l, err, errlen)) == 1)
		if (policy_line(&l, pol, &seen, err, errlen) == -1)
			return -1;
	if (r == -1)
		return -1;
	for (kw = 0; kw < PKW_N; kw++)
		if (!(seen & (1u << kw))) {
			snprintf(err, errlen, "%s:%d: missing \"%s\" (file "
			    "truncated?)", path, l.lineno + 1, policy_kw[kw]);
			return -1;
		}
	return 0;	/* each field was checked on its line */
}

/* sfmt_policy - the canonical policy text, one keyword per line */
char *
sfmt_policy(const struct store_policy *pol)
{
	char rot[32], ret[32];
	const char *algs = store_algs_name(pol->algs);

	return xasprintf("keyturn-policy %d\nalgorithms %s\nbits %d\n"
	    "active-keys %d\nrotate-after %s\nretire-after %s\n"
	    "selector-prefix %s\n", STORE_FORMAT, algs, pol->bits,
	    pol->active_keys,
	    duration_format(pol->rotate_after, rot, sizeof(rot)),
	    duration_format(pol->retire_after, ret, sizeof(ret)),
	    pol->prefix);
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

/* key_line - "key selector=...; ..."; pub= checked for its algorithm */
static int
key_line(struct lines *l, struct store_key *k, char *err, size_t errlen)
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
	if ((why = key_fields(&tv, k)) != NULL) {
		snprintf(err, errlen, "%s:%d: %s", l->path, l->lineno, why);
		tv_free(&tv);
		return -1;
	}
	k->spki = xstrdup(tv_get(&tv, "pub"));
	tv_free(&tv);
	if (skey_key_pub(k, tverr, sizeof(tverr)) == -1) {
		snprintf(err, errlen, "%s:%d: key %s: %s", l->path, l->lineno,
		    k->selector, tverr);
		free(k->spki);
		k->spki = NULL;
		return -1;
	}
	return 0;
}

/* state_keys - key lines up to "end N" */
static int
state_keys(struct lines *l, struct store_domain *d, char *err, size_t errlen)
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
		if (key_line(l, &d->keys[d->nkeys], err, errlen) == -1)
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
	int r;

	if (lines_header(&l, "keyturn-state", err, errlen) == -1 ||
	    state_number(&l, "generation", LLONG_MAX, &gen, err,
	    errlen) == -1 ||
	    state_number(&l, "history", LLONG_MAX, &hist, err, errlen) == -1 ||
	    state_keys(&l, d, err, errlen) == -1)
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

/* sfmt_state - the canonical state text; sfmt_state_parse reads it back */
char *
sfmt_state(const struct store_domain *d)
{
	char *out, *line, c[32], s[32];
	size_t i;

	out = xasprintf("keyturn-state %d\ngeneration %llu\nhistory %lld\n",
	    STORE_FORMAT, (unsigned long long)d->gen, (long long)d->histsize);
	for (i = 0; i < d->nkeys; i++) {
		const struct store_key *k = &d->keys[i];

		line = xasprintf("%skey selector=%s; alg=%s; bits=%d; "
		    "state=%s; created=%s; since=%s; pub=%s\n", out,
		    k->selector, store_alg_name(k->alg), k->bits,
		    store_state_name(k->state),
		    store_time_format(k->created, c, sizeof(c)),
		    store_time_format(k->since, s, sizeof(s)), k->spki);
		free(out);
		out = line;
	}
	line = xasprintf("%send %zu\n", out, d->nkeys);
	free(out);
	return line;
}

/* ---- history ---- */

/* sfmt_event - one history line; control characters in a reason become "?" */
char *
sfmt_event(time_t when, const char *selector, int from, int to,
    const char *reason)
{
	char t[32], *r = xstrdup(reason), *p, *out;

	for (p = r; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	out = xasprintf("%s %s %s %s %s\n",
	    store_time_format(when, t, sizeof(t)), selector,
	    store_state_name(from), store_state_name(to), r);
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

/* event_line - "TIME SELECTOR FROM TO REASON" */
static int
event_line(struct lines *l, struct store_event *ev, char *err, size_t errlen)
{
	char *f[4], *p = l->line, *sp;
	int i;

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

	if (lines_header(&l, "keyturn-history", err, errlen) == -1)
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
