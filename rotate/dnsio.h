/*
 * dnsio - one DNS query to one address (UDP, EDNS0, TCP on truncation)
 *
 * Used by the propagation check. Blocking, bounded by the timeout: call
 * it from the rotation thread or the CLI, never from a signing thread.
 */
#ifndef KEYTURN_DNSIO_H
#define KEYTURN_DNSIO_H

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <ldns/ldns.h>

enum dnsio_status {
	DNSIO_OK,
	DNSIO_TIMEOUT,	/* nothing (matching) came back in time */
	DNSIO_ERROR	/* refused, unreachable, reset, malformed */
};

struct dnsio_addr {
	struct sockaddr_storage	ss;
	socklen_t		len;
	char			text[INET6_ADDRSTRLEN + 8];	/* a:p, [a]:p */
};

struct dnsio_opts {
	int	timeout_ms;	/* for the whole query, all tries */
	int	tries;		/* UDP sends */
	int	cancel_fd;	/* > 0: once readable, give up at once
				   (ECANCELED); 0: none */
};

/* dnsio_cancelled - is the cancel descriptor (0: none) readable */
int	dnsio_cancelled(int cancel_fd);

/* dnsio_addr_set - a numeric IPv4 or IPv6 address and a port; 0 or -1 */
int	dnsio_addr_set(struct dnsio_addr *, const char *host, int port);
/* dnsio_addr_parse - "192.0.2.1", "192.0.2.1:53", "::1", "[::1]:53" */
int	dnsio_addr_parse(struct dnsio_addr *, const char *spec, int defport);
/* dnsio_resolv_conf - the first nameserver line of /etc/resolv.conf */
int	dnsio_resolv_conf(struct dnsio_addr *);
/*
 * dnsio_query - ask `to` for (name, type) with RD set or not; on DNSIO_OK
 * *ans is the reply (ldns_pkt_free it) and *tcp tells whether TCP was
 * needed; otherwise *err says why (free it).
 */
enum dnsio_status dnsio_query(const struct dnsio_opts *,
	    const struct dnsio_addr *to, const char *name, ldns_rr_type type,
	    int rd, ldns_pkt **ans, int *tcp, char **err);

#endif
