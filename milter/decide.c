/*
 * decide - the signing decision of keyturnd
 *
 * DESIGN.md "Signing": sign only mail from InternalHosts or from an SMTP
 * AUTH session (SignAuthenticated), optionally only on the MTA services
 * named in DaemonNames; everything else passes untouched, because a signer
 * that signs inbound mail is an open signer. The domain and keys come from
 * the snapshot the message holds.
 */
#include "config.h"

#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "decide.h"
#include "rules.h"

/* decide_addr - printable client address for the log line */
static const char *
decide_addr(const struct sockaddr *sa, char *buf, size_t len)
{
	const void *a;

	if (sa == NULL)
		return "unknown";
	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	else
		return "local";
	if (inet_ntop(sa->sa_family, a, buf, len) == NULL)
		return "?";
	return buf;
}

/* decide_daemon - is {daemon_name} one of DaemonNames (if any are set)? */
static int
decide_daemon(const struct kt_conf *conf, const char *name)
{
	size_t i;

	if (conf->ndaemon_names == 0)
		return 1;
	if (name == NULL)
		return 0;
	for (i = 0; i < conf->ndaemon_names; i++)
		if (strcmp(conf->daemon_names[i], name) == 0)
			return 1;
	return 0;
}

/*
 * decide_internal - InternalHosts for an address; AF_UNIX is local; no
 * address at all is local only when the MTA calls it "localhost" (an
 * unknown address from a proxy or XCLIENT must not be signed)
 */
static int
decide_internal(const struct kt_conf *conf, const struct decide_client *c)
{
	const struct sockaddr *sa = c->addr;

	if (sa != NULL && (sa->sa_family == AF_INET ||
	    sa->sa_family == AF_INET6))
		return conf_internal(conf, sa);
	if (c->unix_socket)
		return 1;
	return c->hostname != NULL && strcmp(c->hostname, "localhost") == 0;
}

/* decide_authenticated - Postfix and Sendmail set {auth_type} on success */
int
decide_authenticated(const struct decide_client *c)
{
	return (c->auth_authen != NULL && c->auth_authen[0] != '\0') ||
	    (c->auth_type != NULL && c->auth_type[0] != '\0');
}

/* decide_client - DaemonNames first, then internal, then SMTP AUTH */
int
decide_client(const struct kt_conf *conf, const struct decide_client *c,
    char *why, size_t whylen)
{
	char buf[INET6_ADDRSTRLEN];
	const char *name;

	if (!decide_daemon(conf, c->daemon_name)) {
		snprintf(why, whylen, "daemon name %s not in DaemonNames",
		    c->daemon_name != NULL ? c->daemon_name : "(none)");
		return 0;
	}
	if (decide_internal(conf, c))
		return 1;
	if (conf->sign_authenticated && decide_authenticated(c))
		return 1;
	name = c->addr == NULL && c->hostname != NULL ? c->hostname : NULL;
	snprintf(why, whylen, "client %s%s%s%s is not internal%s",
	    c->unix_socket ? "unix" : decide_addr(c->addr, buf, sizeof(buf)),
	    name != NULL ? " (" : "", name != NULL ? name : "",
	    name != NULL ? ")" : "",
	    conf->sign_authenticated ? " and not authenticated" : "");
	return 0;
}

/*
 * decide_expiry - the key's public record is sure to be published until
 * its planned revocation (end of signing plus retire-after), so x= never
 * promises more than that; a key already past it signs with no x= rather
 * than one that has expired before the mail leaves.
 */
time_t
decide_expiry(time_t now, long long ttl, time_t revoke_at)
{
	time_t x;

	if (ttl <= 0 || (revoke_at != 0 && revoke_at <= now))
		return 0;
	x = now + (time_t)ttl;
	if (revoke_at != 0 && revoke_at < x)
		x = revoke_at;
	return x;
}

/* decide_alg_wanted - Algorithms in the config ("rsa", "ed25519"), or all */
static int
decide_alg_wanted(const struct kt_conf *conf, enum dkim_alg alg)
{
	const char *name = alg == DKIM_ALG_RSA_SHA256 ? "rsa" : "ed25519";
	size_t i;

	if (conf->nalgorithms == 0)
		return 1;
	for (i = 0; i < conf->nalgorithms; i++)
		if (strcmp(conf->algorithms[i], name) == 0)
			return 1;
	return 0;
}

/* decide_plan - rsa-sha256 before ed25519-sha256: a stable order */
size_t
decide_plan(const struct snapshot *s, struct snap_domain *d, time_t now,
    struct dkim_sign out[SNAP_NALG], char *why, size_t whylen)
{
	static const enum dkim_alg order[SNAP_NALG] = {
		DKIM_ALG_RSA_SHA256, DKIM_ALG_ED25519_SHA256
	};
	const struct snap_key *k;
	size_t i, n = 0;

	if (d->error != NULL) {
		snprintf(why, whylen, "domain %s unusable: %s", d->name,
		    d->error);
		return 0;
	}
	for (i = 0; i < SNAP_NALG; i++) {
		if (!decide_alg_wanted(s->conf, order[i]))
			continue;
		if ((k = snapshot_next_key(d, order[i])) == NULL)
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		out[n].alg = order[i];
		out[n].key = k->pkey;
		out[n].domain = d->name;
		out[n].selector = k->selector;
		out[n].t = now;
		out[n].x = decide_expiry(now, s->conf->signature_ttl,
		    k->revoke_at);
		out[n].hdrs = s->hdrs;
		n++;
	}
	if (n == 0)
		snprintf(why, whylen, "domain %s has no active key%s", d->name,
		    s->conf->nalgorithms > 0 ? " of the configured algorithms" :
		    "");
	return n;
}

/* decide_verdict_name - for explain and the log */
const char *
decide_verdict_name(enum decide_verdict v)
{
	switch (v) {
	case DECIDE_SIGN:	return "sign";
	case DECIDE_PASS:	return "pass";
	case DECIDE_TEMPFAIL:	return "tempfail";
	case DECIDE_REJECT:	return "reject";
	}
	return "?";
}

/* decide_pass - no signature, and why */
static void
decide_pass(struct decide_out *out, enum decide_verdict v, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
decide_pass(struct decide_out *out, enum decide_verdict v, const char *fmt,
    ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->why, sizeof(out->why), fmt, ap);
	va_end(ap);
	out->verdict = v;
	out->nsign = 0;
}

/*
 * decide_tag - the value of tag t in a tag=value list (RFC 6376 3.2), in
 * one pass and without copying: *v and *vlen, FWS around it left out.
 * 1 when found.
 */
static int
decide_tag(const char *p, size_t len, char t, const char **v, size_t *vlen)
{
	const char *end = p + len, *q, *e;

	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' ||
		    *p == '\n'))
			p++;
		for (q = p; q < end && *q != ';'; q++)
			;
		if (p < q && *p == t) {
			for (e = p + 1; e < q && (*e == ' ' || *e == '\t' ||
			    *e == '\r' || *e == '\n'); e++)
				;
			if (e < q && *e == '=') {
				for (e++; e < q && (*e == ' ' || *e == '\t' ||
				    *e == '\r' || *e == '\n'); e++)
					;
				*v = e;
				for (e = q; e > *v && (e[-1] == ' ' ||
				    e[-1] == '\t' || e[-1] == '\r' ||
				    e[-1] == '\n'); e--)
					;
				*vlen = (size_t)(e - *v);
				return 1;
			}
		}
		p = q + 1;
	}
	return 0;
}

/*
 * decide_ours - does the message carry a DKIM-Signature of domain d with
 * one of its selectors (a key in any state)? Mail that comes back from a
 * content filter is not signed twice by that domain. Fields longer than
 * DECIDE_SEENMAX are not looked at: no signature of ours is that long.
 */
static int
decide_ours(const struct snap_domain *d, const struct decide_msg *m,
    char *why, size_t whylen)
{
	const char *dv, *sv;
	size_t i, dl, sl;

	for (i = 0; i < m->nsigs && i < DECIDE_MAXSEEN; i++) {
		if (m->sigs[i].len > DECIDE_SEENMAX ||
		    !decide_tag(m->sigs[i].p, m->sigs[i].len, 'd', &dv, &dl) ||
		    !decide_tag(m->sigs[i].p, m->sigs[i].len, 's', &sv, &sl))
			continue;
		if (dl != strlen(d->name) || strncasecmp(dv, d->name, dl) != 0 ||
		    !snapshot_has_selector(d, sv, sl))
			continue;
		snprintf(why, whylen, "already signed by this keystore "
		    "(d=%.*s s=%.*s)", (int)dl, dv, (int)sl, sv);
		return 1;
	}
	return 0;
}

/*
 * decide_login - SenderLogins: 1 when the login may send as the From
 * address (or no file is set, or the client did not authenticate), else
 * 0 with why. An authenticated session without a login name owns
 * nothing.
 */
static int
decide_login(const struct snapshot *s, const struct decide_msg *m,
    char *why, size_t whylen)
{
	const struct senders_login *l;

	if (s->rules == NULL || s->rules->senders == NULL ||
	    !m->authenticated)
		return 1;
	if (m->login == NULL || m->login[0] == '\0') {
		snprintf(why, whylen, "authenticated without a login name: "
		    "SenderLogins gives it no domain");
		return 0;
	}
	if ((l = senders_find(s->rules->senders, m->login)) == NULL) {
		snprintf(why, whylen, "login %s is not in SenderLogins (%s)",
		    m->login, s->rules->senders->path);
		return 0;
	}
	if (senders_allows(l, m->from_local, m->from_domain))
		return 1;
	snprintf(why, whylen, "login %s may not sign for From %s@%s "
	    "(%s line %d)", m->login, m->from_local != NULL &&
	    m->from_local[0] != '\0' ? m->from_local : "?", m->from_domain,
	    s->rules->senders->path, l->lineno);
	return 0;
}

/* decide_mismatch - SenderLogins refused: SenderMismatch says what */
static void
decide_mismatch(const struct snapshot *s, struct decide_out *out,
    const char *why)
{
	decide_pass(out, s->conf->sender_mismatch == CONF_MISMATCH_REJECT ?
	    DECIDE_REJECT : s->conf->sender_mismatch ==
	    CONF_MISMATCH_TEMPFAIL ? DECIDE_TEMPFAIL : DECIDE_PASS, "%s", why);
	out->mismatch = 1;
	out->reason = DR_LOGIN;
}

/*
 * decide_hold - the domain through the snapshot's cache, held by out so
 * that its name and keys stay valid until decide_release
 */
static struct snap_domain *
decide_hold(const struct snapshot *s, struct decide_out *out,
    const char *name, int subdomains)
{
	struct snap_domain *d;
	size_t i;

	for (i = 0; !subdomains && i < out->nheld; i++)
		if (strcasecmp(out->held[i]->name, name) == 0)
			return out->held[i];	/* looked up already */
	if ((d = snapshot_find(s, name, subdomains)) == NULL)
		return NULL;
	if (out->nheld == sizeof(out->held) / sizeof(out->held[0])) {
		snap_domain_unref(d);	/* more than a message can name */
		return NULL;
	}
	out->held[out->nheld++] = d;
	return d;
}

/* decide_release - see decide.h */
void
decide_release(struct decide_out *out)
{
	while (out->nheld > 0)
		snap_domain_unref(out->held[--out->nheld]);
}

/* decide_add - a domain for the message, once */
static void
decide_add(const char **doms, size_t *n, const char *d)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp(doms[i], d) == 0)
			return;
	if (*n < DECIDE_MAXDOMAINS)
		doms[(*n)++] = d;
}

/*
 * decide_domains - the signing domains: the SigningTable's first rule for
 * the From address, else the From domain itself (or its parent with
 * SubDomains) when the keystore has it; then PlatformDomain. *author: the
 * rule's line, 0 for the From domain, -1 when no author signature.
 */
static size_t
decide_domains(const struct snapshot *s, const struct decide_msg *m,
    struct decide_out *out, const char **doms, int *author)
{
	const struct signtable_rule *r = NULL;
	struct snap_domain *d;
	size_t n = 0, i;

	*author = -1;
	if (s->rules != NULL && s->rules->signtable != NULL)
		r = signtable_lookup(s->rules->signtable, m->from_local,
		    m->from_domain);
	if (r != NULL) {
		for (i = 0; i < r->ndomains; i++)
			decide_add(doms, &n, r->domains[i]);
		*author = r->lineno;
	} else if ((d = decide_hold(s, out, m->from_domain,
	    s->conf->subdomains)) != NULL) {
		decide_add(doms, &n, d->name);
		*author = 0;
	}
	if (s->conf->platform_domain != NULL)
		decide_add(doms, &n, s->conf->platform_domain);
	return n;
}

/* decide_onerror - a domain that should sign cannot: OnError says */
static void
decide_onerror(const struct snapshot *s, struct decide_out *out,
    enum decide_reason reason, const char *why)
{
	out->reason = reason;
	if (s->conf->on_error == CONF_ONERROR_ACCEPT)
		decide_pass(out, DECIDE_PASS, "%s (OnError accept)", why);
	else
		decide_pass(out, DECIDE_TEMPFAIL, "%s", why);
	out->failed = 1;
	out->reason = reason;
}

/* decide_sign - each domain's signatures, or the failure policy */
static void
decide_sign(const struct snapshot *s, const char **doms, size_t n,
    time_t now, struct decide_out *out)
{
	struct snap_domain *d;
	char why[400];
	size_t i, k;

	out->nsign = 0;
	for (i = 0; i < n; i++) {
		if ((d = decide_hold(s, out, doms[i], 0)) == NULL) {
			snprintf(why, sizeof(why), "signing domain %s is not "
			    "in the keystore", doms[i]);
			decide_onerror(s, out, DR_MISSING, why);
			return;
		}
		k = decide_plan(s, d, now, out->sign + out->nsign, why,
		    sizeof(why));
		if (k == 0) {
			decide_onerror(s, out, d->error != NULL ? DR_UNUSABLE :
			    DR_NOKEY, why);
			return;
		}
		out->nsign += k;
	}
	out->verdict = DECIDE_SIGN;
	out->why[0] = '\0';
}

/* decide_gather - see decide.h */
void
decide_gather(const struct dkim_msg *msg, const char *login,
    int authenticated, struct decide_gathered *g)
{
	memset(&g->m, 0, sizeof(g->m));
	if (dkim_msg_from_address(msg, g->local, sizeof(g->local), g->domain,
	    sizeof(g->domain), g->err, sizeof(g->err)) == DKIM_OK) {
		g->m.from_local = g->local;
		g->m.from_domain = g->domain;
	} else
		g->m.from_err = g->err;
	g->m.login = login != NULL && login[0] != '\0' ? login : NULL;
	g->m.authenticated = authenticated;
	g->m.nsigs = dkim_msg_values(msg, "DKIM-Signature", g->sigs,
	    DECIDE_MAXSEEN);
	if (g->m.nsigs > DECIDE_MAXSEEN)
		g->m.nsigs = DECIDE_MAXSEEN;
	g->m.sigs = g->sigs;
}

/*
 * decide_drop_ours - the domains that signed the message already (with a
 * key of this keystore) are left out; why names the first
 */
static size_t
decide_drop_ours(const struct snapshot *s, const struct decide_msg *m,
    struct decide_out *out, const char **doms, size_t n, char *why,
    size_t whylen)
{
	struct snap_domain *d;
	size_t i, k = 0;

	why[0] = '\0';
	for (i = 0; i < n; i++) {
		if ((d = decide_hold(s, out, doms[i], 0)) != NULL &&
		    decide_ours(d, m, why[0] == '\0' ? why : NULL,
		    why[0] == '\0' ? whylen : 0))
			continue;
		doms[k++] = doms[i];
	}
	return k;
}

/* decide_message - see decide.h */
void
decide_message(const struct snapshot *s, const struct decide_msg *m,
    time_t now, struct decide_out *out)
{
	const char *doms[DECIDE_MAXDOMAINS];
	char why[400], ours[300];
	size_t n, k;

	memset(out, 0, sizeof(*out));
	out->rule = -1;
	if (m->from_domain == NULL) {
		decide_pass(out, DECIDE_PASS, "%s", m->from_err != NULL ?
		    m->from_err : "no From address");
		out->reason = DR_FROM;
		return;
	}
	if (!decide_login(s, m, why, sizeof(why))) {
		decide_mismatch(s, out, why);
		return;
	}
	n = decide_domains(s, m, out, doms, &out->rule);
	snprintf(why, sizeof(why), "From domain %s is not in the keystore%s",
	    m->from_domain, s->rules != NULL && s->rules->signtable != NULL ?
	    " or the SigningTable" : "");
	if (n == 0) {
		decide_pass(out, DECIDE_PASS, "%s", why);
		out->reason = DR_UNKNOWN;
		return;
	}
	if ((k = decide_drop_ours(s, m, out, doms, n, ours,
	    sizeof(ours))) == 0) {
		decide_pass(out, DECIDE_PASS, "%s", ours);
		out->reason = DR_ALREADY;
		return;
	}
	decide_sign(s, doms, k, now, out);
	if (out->verdict != DECIDE_SIGN)
		return;
	if (k < n)
		snprintf(out->why, sizeof(out->why), "%s: that domain not "
		    "again", ours);
	else if (out->rule == -1)
		snprintf(out->why, sizeof(out->why), "PlatformDomain only: %s",
		    why);
}

/*
 * decide_unreadable - a message whose header the engine refused: no
 * signature; for an authenticated login under SenderLogins its From was
 * not checked, which SenderMismatch treats as a mismatch
 */
void
decide_unreadable(const struct snapshot *s, const struct decide_msg *m,
    const char *err, struct decide_out *out)
{
	memset(out, 0, sizeof(*out));
	out->rule = -1;
	if (s->rules != NULL && s->rules->senders != NULL &&
	    m->authenticated) {
		char why[400];

		snprintf(why, sizeof(why), "%s: the From of login %s cannot "
		    "be checked", err, m->login != NULL ? m->login : "(none)");
		decide_mismatch(s, out, why);
		return;
	}
	decide_pass(out, DECIDE_PASS, "%s", err);
	out->reason = DR_HEADER;
}
