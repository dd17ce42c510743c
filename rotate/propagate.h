/*
 * propagate - is a DKIM key record served by every authoritative server?
 *
 * prop_check asks, for <selector>._domainkey.<domain>: where is the zone
 * cut (SOA/NS, following referrals from the configured resolver), which
 * nameservers serve the zone, at which IPv4 and IPv6 addresses, and then
 * every address directly (RD=0, EDNS0, TCP on truncation). A CNAME
 * (delegated selector) is followed into the target zone, whose servers are
 * asked too. Each extra propagation resolver is asked with RD=1. Every
 * answer is kept as one struct prop_obs, for `keyturn check` and the
 * history.
 *
 * A timeout is never a yes. The TTL hold is not applied here: the result
 * carries the TTLs seen (hold = max(record TTL, SOA negative TTL)) and
 * evidence.h turns successive results into "agreed since T". Blocking
 * network I/O: call it from the rotation thread or the CLI only.
 */
#ifndef KEYTURN_PROPAGATE_H
#define KEYTURN_PROPAGATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum prop_alg {
	PROP_ALG_RSA,
	PROP_ALG_ED25519
};

/* What one address answered. */
enum prop_status {
	PROP_MATCH,	/* p= is the expected key, k= the expected algorithm */
	PROP_MISMATCH,	/* another key, another k=, or several records */
	PROP_EMPTY,	/* p= empty: revoked */
	PROP_NXDOMAIN,
	PROP_NODATA,	/* the name exists, no TXT record */
	PROP_TIMEOUT,
	PROP_ERROR	/* refused, SERVFAIL, lame, malformed, no address */
};

enum prop_source {
	PROP_SRC_AUTH,		/* an authoritative server, asked with RD=0 */
	PROP_SRC_RESOLVER	/* an extra propagation resolver, RD=1 */
};

struct prop_obs {
	enum prop_source	 source;
	char			*zone;	/* zone asked about (AUTH) */
	char			*server;	/* NS name, or the resolver */
	char			*addr;	/* "192.0.2.1:53", "[2001:db8::1]:53" */
	char			*qname;	/* the name asked (CNAME target) */
	enum prop_status	 status;
	uint32_t		 ttl;	/* TXT (or CNAME) TTL, 0 when none */
	uint32_t		 neg_ttl;	/* NXDOMAIN/NODATA: from the SOA */
	int			 tcp;	/* answered over TCP after TC=1 */
	char			*cname;	/* the CNAME chain led here, or NULL */
	int			 chained; /* only a CNAME, which agrees: the
					   target's servers are asked */
	char			*detail;	/* the record seen, or the error */
};

/* Summary over every observation. */
enum prop_verdict {
	PROP_V_UNKNOWN,		/* no address could be asked */
	PROP_V_PUBLISHED,	/* every observation is MATCH */
	PROP_V_PARTIAL,		/* some MATCH, others TIMEOUT/ERROR */
	PROP_V_ABSENT,		/* some EMPTY/NXDOMAIN/NODATA, no MISMATCH */
	PROP_V_MISMATCH,	/* some MISMATCH: alarm */
	PROP_V_REVOKED		/* every observation EMPTY/NXDOMAIN/NODATA */
};

struct prop_result {
	char		*name;		/* the record name asked */
	struct prop_obs	*obs;
	size_t		 nobs;
	uint32_t	 max_ttl;	/* over the TXT/CNAME records seen */
	uint32_t	 neg_ttl;	/* max over the zones of min(SOA TTL, minimum) */
	enum prop_verdict verdict;
	int		 published;	/* every address and resolver: MATCH */
	int		 revoked;	/* every one: EMPTY, NXDOMAIN or NODATA */
	char		*error;		/* why no server could be asked */
	int		 queries;	/* DNS queries the check sent */
};

struct prop_options {
	const char	*resolver;	/* "addr[:port]"; NULL: resolv.conf */
	int		 dns_port;	/* to reach nameservers; 0: 53 */
	int		 timeout_ms;	/* per query; 0: 3000 */
	int		 tries;		/* UDP sends per address; 0: 2 */
	const char * const *extra;	/* propagation resolvers "addr[:port]" */
	size_t		 nextra;
	int		 cancel_fd;	/* > 0: once readable, the check
					   stops asking and fails; 0: none */
};

/*
 * A delegated selector is checked in two parts, neither following the
 * CNAME: the customer's name in CNAME mode (cname_to set: every address
 * of the customer zone must answer a CNAME to exactly cname_to; MATCH,
 * MISMATCH for another target or a record that is no CNAME, NXDOMAIN or
 * NODATA for none; key and alg are not used), and the target in the
 * provider zone with no_follow (a CNAME there is a MISMATCH). With
 * resolver_name set the extra propagation resolvers are asked that name
 * (the customer's, chain followed) instead of name.
 */
struct prop_query {
	const char		*name;	/* <selector>._domainkey.<domain> */
	enum prop_alg		 alg;
	const unsigned char	*key;	/* decoded p= (SubjectPublicKeyInfo */
	size_t			 keylen; /* for rsa, raw 32 bytes for ed25519) */
	const char		*cname_to;	/* CNAME mode: the expected
						   target; NULL: TXT mode */
	int			 no_follow;	/* TXT mode: a CNAME is a
						   MISMATCH, never followed */
	const char		*resolver_name;	/* NULL: name */
	int			 any_key;	/* TXT mode: any key (or p=)
						   is a MATCH: what a target
						   serves before a new key */
};

/*
 * prop_check - ask every server; 0 with *res filled (even when servers
 * failed: see res->verdict), -1 with res->error when nothing could be
 * asked at all (no resolver, no zone cut, no nameserver address).
 */
int		 prop_check(const struct prop_query *,
		    const struct prop_options *, struct prop_result *res);
void		 prop_result_free(struct prop_result *);

/*
 * prop_judge - status of one TXT answer (the character-strings already
 * joined, one string per record); public for the tests and the CLI.
 */
enum prop_status prop_judge(const struct prop_query *, char * const *txt,
		    size_t ntxt, char **detail);
/* prop_summarize - verdict, published, revoked from res->obs */
void		 prop_summarize(struct prop_result *);
/* prop_hold - max(record TTL, SOA negative TTL), the hold in seconds */
long long	 prop_hold(const struct prop_result *);

/*
 * prop_result_print - one line per observation, then the verdict:
 *	auth example.test ns1.example.test 127.0.0.11:53 s._domainkey.example.test match ttl=300 neg=0 tcp=0 k=rsa, p= matches
 *	verdict published published=1 revoked=0 ttl=300 neg=3600 hold=3600
 */
void		 prop_result_print(const struct prop_result *, FILE *);

const char	*prop_status_name(enum prop_status);
const char	*prop_verdict_name(enum prop_verdict);

#endif
