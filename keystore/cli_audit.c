/*
 * cli_audit - keyturn audit: was each DKIM-Signature of a message made
 * with a key of ours that was active at its t= time? (M3AAWG DKIM Key
 * Rotation BCP, section 6)
 *
 * The header is read up to the first empty line and unfolded; every field
 * named DKIM-Signature (any case) is parsed as an RFC 6376 tag=value list
 * and judged from the domain's history. Exit 0 when at least one
 * signature is ours and every signature of ours was allowed, else 1.
 */
#include "config.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "tagvalue.h"
#include "xmalloc.h"

#define AUDIT_MAX_HEADER	(1024 * 1024)

enum verdict { V_ALLOWED, V_DENIED, V_FOREIGN, V_BAD };

struct audit {
	struct cli	*c;
	struct store	*s;
	int		 ours, denied, first;
};

/* header_read - the header block, CRLF or LF lines, up to an empty line */
static char *
header_read(FILE *f, size_t *len)
{
	char *buf = xmalloc(AUDIT_MAX_HEADER + 1), *line = NULL;
	size_t n = 0, cap = 0;
	ssize_t r;

	while ((r = getline(&line, &cap, f)) > 0) {
		if (strcmp(line, "\n") == 0 || strcmp(line, "\r\n") == 0)
			break;
		if (n + r > AUDIT_MAX_HEADER)
			break;
		memcpy(buf + n, line, r);
		n += r;
	}
	free(line);
	buf[n] = '\0';
	*len = n;
	return buf;
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
 * active_within - was selector active at any moment of second t? t= and
 * the history both count whole seconds, so a key that left the active set
 * during second t signed lawfully earlier in that second.
 */
static int
active_within(const struct store_event *ev, size_t n, const char *sel,
    time_t t)
{
	int st = STORE_STATE_NONE, seen = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (ev[i].when > t || strcasecmp(ev[i].selector, sel) != 0)
			continue;
		if (ev[i].when == t && (st == STORE_ACTIVE ||
		    ev[i].to == STORE_ACTIVE))
			seen = 1;
		st = ev[i].to;
	}
	return seen || st == STORE_ACTIVE;
}

/* judge - one signature's verdict from the history of its domain */
static enum verdict
judge(struct audit *a, const char *d, const char *sel, time_t t, char *why,
    size_t whylen)
{
	struct store_event *ev;
	size_t n;
	char err[1024], ts[32], *dom = cli_lower(d);
	int r, st, within;

	r = store_history_load(a->s, dom, &ev, &n, err, sizeof(err));
	free(dom);
	if (r == -2) {
		snprintf(why, whylen, "not ours: the keystore has no domain %s",
		    d);
		return V_FOREIGN;
	}
	if (r == -1) {
		snprintf(why, whylen, "cannot tell: %s", err);
		return V_BAD;
	}
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
signature(struct audit *a, const char *value, struct tv_list *tv, char *why,
    size_t whylen)
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
	return judge(a, d, s, (time_t)when, why, whylen);
}

/* report - one line, or one JSON object, per signature */
static void
report(struct audit *a, const struct tv_list *tv, enum verdict v,
    const char *why)
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
	printf("}");
}

/* audit_header - every DKIM-Signature field of the header */
static int
audit_header(struct audit *a, const char *hdr)
{
	struct tv_list tv;
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
		nsig++;
		v = signature(a, colon + 1, &tv, why, sizeof(why));
		report(a, &tv, v, why);
		if (v != V_FOREIGN)
			a->ours++;
		if (v == V_DENIED || v == V_BAD)
			a->denied++;
		tv_free(&tv);
		free(f);
	}
	return nsig;
}

/* cmd_audit - keyturn audit FILE|- */
int
cmd_audit(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' }, { 0 }
	};
	struct audit a = { c, NULL, 0, 0, 1 };
	FILE *f;
	char *hdr;
	size_t len;
	int nsig;

	if (cli_getopt(c, argc, argv, "", opts, NULL) != -1)
		return CLI_USAGE;
	if (optind != argc - 1)
		return cli_usage(c, "expected one FILE (or - for stdin)");
	if (strcmp(argv[optind], "-") == 0)
		f = stdin;
	else if ((f = fopen(argv[optind], "re")) == NULL)
		return cli_fail("%s: %m", argv[optind]);
	hdr = header_read(f, &len);
	if (f != stdin)
		fclose(f);
	if ((a.s = cli_open(c, 1)) == NULL) {
		free(hdr);
		return CLI_FAIL;
	}
	if (c->json)
		printf("[\n");
	nsig = audit_header(&a, hdr);
	if (c->json)
		printf("%s]\n", a.first ? "" : "\n");
	free(hdr);
	store_close(a.s);
	if (nsig == 0)
		return cli_fail("%s: no DKIM-Signature header field",
		    argv[optind]);
	if (a.ours == 0)
		return cli_fail("no signature by a domain of this keystore");
	return a.denied ? CLI_FAIL : CLI_OK;
}
