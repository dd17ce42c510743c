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
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "decide.h"

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

