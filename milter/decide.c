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
#include "tagvalue.h"

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
static int
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
 * decide_ours - does one of the message's DKIM-Signature fields carry a
 * d= and s= of this keystore (a key in any state)? Mail that comes back
 * from a content filter is not signed twice.
 */
static int
decide_ours(const struct snapshot *s, const struct decide_msg *m,
    char *why, size_t whylen)
{
	struct snap_domain *d;
	struct tv_list l;
	const char *dv, *sv;
	char err[128];
	size_t i;
	int ours;

	for (i = 0; i < m->nsigs && i < DECIDE_MAXSEEN; i++) {
		if (tv_parse(m->sigs[i].p, m->sigs[i].len, &l, err,
		    sizeof(err)) == -1)
			continue;
		ours = (dv = tv_get(&l, "d")) != NULL &&
		    (sv = tv_get(&l, "s")) != NULL &&
		    (d = snapshot_find(s, dv, 0)) != NULL &&
		    snapshot_has_selector(d, sv, strlen(sv));
		if (ours)
			snprintf(why, whylen, "already signed by this keystore "
			    "(d=%s s=%s)", dv, sv);
		tv_free(&l);
		if (ours)
			return 1;
	}
	return 0;
}

/*
 * decide_login - SenderLogins: 1 when the login may send as the From
 * address (or no file is set), else 0 with why
 */
static int
decide_login(const struct snapshot *s, const struct decide_msg *m,
    char *why, size_t whylen)
{
	const struct senders_login *l;

	if (s->rules == NULL || s->rules->senders == NULL ||
	    m->login == NULL || m->login[0] == '\0')
		return 1;
	if ((l = senders_find(s->rules->senders, m->login)) == NULL) {
		snprintf(why, whylen, "login %s is not in SenderLogins (%s)",
		    m->login, s->rules->senders->path);
		return 0;
	}
	if (senders_allows(l, m->from_local, m->from_domain))
		return 1;
	snprintf(why, whylen, "login %s may not sign for From domain %s "
	    "(%s line %d)", m->login, m->from_domain,
	    s->rules->senders->path, l->lineno);
	return 0;
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
    const char **doms, int *author)
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
	} else if ((d = snapshot_find(s, m->from_domain,
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
    const char *why)
{
	if (s->conf->on_error == CONF_ONERROR_ACCEPT)
		decide_pass(out, DECIDE_PASS, "%s (OnError accept)", why);
	else
		decide_pass(out, DECIDE_TEMPFAIL, "%s", why);
	out->failed = 1;
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
		if ((d = snapshot_find(s, doms[i], 0)) == NULL) {
			snprintf(why, sizeof(why), "signing domain %s is not "
			    "in the keystore", doms[i]);
			decide_onerror(s, out, why);
			return;
		}
		k = decide_plan(s, d, now, out->sign + out->nsign, why,
		    sizeof(why));
		if (k == 0) {
			decide_onerror(s, out, why);
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
    struct decide_gathered *g)
{
	memset(&g->m, 0, sizeof(g->m));
	if (dkim_msg_from_address(msg, g->local, sizeof(g->local), g->domain,
	    sizeof(g->domain), g->err, sizeof(g->err)) == DKIM_OK) {
		g->m.from_local = g->local;
		g->m.from_domain = g->domain;
	} else
		g->m.from_err = g->err;
	g->m.login = login != NULL && login[0] != '\0' ? login : NULL;
	g->m.nsigs = dkim_msg_values(msg, "DKIM-Signature", g->sigs,
	    DECIDE_MAXSEEN);
	if (g->m.nsigs > DECIDE_MAXSEEN)
		g->m.nsigs = DECIDE_MAXSEEN;
	g->m.sigs = g->sigs;
}

/* decide_message - see decide.h */
void
decide_message(const struct snapshot *s, const struct decide_msg *m,
    time_t now, struct decide_out *out)
{
	const char *doms[DECIDE_MAXDOMAINS];
	char why[400];
	size_t n;

	memset(out, 0, sizeof(*out));
	out->rule = -1;
	if (decide_ours(s, m, why, sizeof(why))) {
		decide_pass(out, DECIDE_PASS, "%s", why);
		return;
	}
	if (m->from_domain == NULL) {
		decide_pass(out, DECIDE_PASS, "%s", m->from_err != NULL ?
		    m->from_err : "no From address");
		return;
	}
	if (!decide_login(s, m, why, sizeof(why))) {
		out->mismatch = 1;
		decide_pass(out, s->conf->sender_mismatch ==
		    CONF_MISMATCH_REJECT ? DECIDE_REJECT :
		    s->conf->sender_mismatch == CONF_MISMATCH_TEMPFAIL ?
		    DECIDE_TEMPFAIL : DECIDE_PASS, "%s", why);
		return;
	}
	n = decide_domains(s, m, doms, &out->rule);
	snprintf(why, sizeof(why), "From domain %s is not in the keystore%s",
	    m->from_domain, s->rules != NULL && s->rules->signtable != NULL ?
	    " or the SigningTable" : "");
	if (n == 0) {
		decide_pass(out, DECIDE_PASS, "%s", why);
		return;
	}
	decide_sign(s, doms, n, now, out);
	if (out->verdict == DECIDE_SIGN && out->rule == -1)
		snprintf(out->why, sizeof(out->why), "PlatformDomain only: %s",
		    why);
}
