/*
 * decide - whether keyturnd signs a message, and with what
 *
 * Pure functions of (configuration, snapshot, what the MTA told us, now):
 * no libmilter, no clock, no I/O, so that the Check tests drive them
 * directly. Each "no" comes with the reason the daemon logs.
 */
#ifndef KEYTURN_DECIDE_H
#define KEYTURN_DECIDE_H

#include <sys/socket.h>
#include <time.h>

#include "dkim.h"
#include "snapshot.h"

struct kt_conf;

/* What the MTA told us about the client and the session. */
struct decide_client {
	const struct sockaddr	*addr;		/* AF_INET/6; NULL: none */
	int			 unix_socket;	/* came over AF_UNIX */
	const char		*hostname;	/* the MTA's name for it */
	const char		*auth_authen;	/* {auth_authen} or NULL */
	const char		*auth_type;	/* {auth_type} or NULL */
	const char		*daemon_name;	/* {daemon_name} or NULL */
};

/*
 * decide_client - 1 when the client may have its mail signed (internal
 * host or SMTP AUTH, on an allowed daemon), 0 with *why set otherwise.
 * Internal: an address in InternalHosts, a client on a unix socket, or a
 * client without an address whose hostname is exactly "localhost"
 * (Sendmail's local submissions); any other client without an address
 * (XCLIENT ADDR=[UNAVAILABLE], a proxy) is external.
 */
int	decide_client(const struct kt_conf *, const struct decide_client *,
	    char *why, size_t whylen);

/*
 * decide_plan - one signature per algorithm, each with the next key of its
 * round-robin, in a stable order (rsa-sha256 first). Returns the number of
 * signatures in out; 0 with *why set when the domain cannot sign (failed
 * to load, or no active key of a configured algorithm).
 */
size_t	decide_plan(const struct snapshot *, struct snap_domain *, time_t now,
	    struct dkim_sign out[SNAP_NALG], char *why, size_t whylen);

/*
 * decide_expiry - x= for t=now: min(now + ttl, revoke_at), the key's
 * planned revocation (0: none planned); 0, no x=, when ttl is 0 or
 * revoke_at is not later than now
 */
time_t	decide_expiry(time_t now, long long ttl, time_t revoke_at);

#endif
