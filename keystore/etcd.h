/*
 * etcd - the part of etcd's v3 API keyturn uses, over its JSON gateway
 *
 * SYNOPSIS
 *	A client (struct etcd) talks to one endpoint at a time of a list
 *	("http://127.0.0.1:2379,https://10.0.0.2:2379") with libcurl; keys
 *	and values are byte strings (base64 on the wire), revisions int64
 *	(decimal strings on the wire). A request that cannot reach its
 *	endpoint (connect refused, timeout, a 5xx, "etcdserver: no leader")
 *	is tried once on each of the other endpoints before it fails; the
 *	endpoint that answered is used first next time.
 *
 *	With user and password the client authenticates (/v3/auth/
 *	authenticate) before its first request and again when etcd says the
 *	token is no longer valid. With https endpoints, ca (a PEM file of the
 *	CA that signed the members' certificates) is required in practice:
 *	without it only the system's CAs are trusted. cert and key (PEM)
 *	give the client certificate when etcd asks for one.
 *
 *	A struct etcd is not thread-safe: one per thread.
 *
 * DIAGNOSTICS
 *	Functions return -1 and write into err what went wrong and where
 *	("etcd http://127.0.0.1:2379: /v3/kv/range: connection refused",
 *	"etcd: no endpoint answered: ..."). A value or password is never
 *	written into err or logged.
 */
#ifndef KEYTURN_ETCD_H
#define KEYTURN_ETCD_H

#include <stddef.h>
#include <stdint.h>

struct etcd_opts {
	const char	*endpoints;	/* comma-separated URLs */
	const char	*ca;		/* PEM file; NULL: the system's */
	const char	*cert;		/* client certificate, PEM; or NULL */
	const char	*key;		/* its private key, PEM; or NULL */
	const char	*user;		/* NULL: no authentication */
	const char	*password;	/* with user */
	long		 timeout_ms;	/* per request; 0: 5000 */
	long		 connect_ms;	/* per connect; 0: 1000 */
};

struct etcd;

struct etcd	*etcd_new(const struct etcd_opts *, char *err, size_t errlen);
void		 etcd_free(struct etcd *);
/* etcd_endpoint - the URL that answered last (or the first) */
const char	*etcd_endpoint(const struct etcd *);

/* One key as etcd returns it. key and value are NUL-terminated too. */
struct etcd_kv {
	char		*key;
	size_t		 keylen;
	unsigned char	*value;
	size_t		 vlen;
	int64_t		 create_rev;
	int64_t		 mod_rev;
	int64_t		 version;
	int64_t		 lease;		/* 0: none */
};

struct etcd_range {
	struct etcd_kv	*kvs;
	size_t		 n;
	int64_t		 revision;	/* the store's, when read */
	int64_t		 count;		/* keys in the whole range */
	int		 more;		/* limit cut the answer short */
};
void		 etcd_range_free(struct etcd_range *);

/*
 * etcd_range - the keys from key up to range_end (exclusive); range_end
 * NULL: key alone; etcd_prefix_end() of a prefix: every key under it.
 * rev 0: the latest revision, else that revision (a compacted one fails
 * with ETCD_COMPACTED). limit 0: no limit (else at most limit keys, and
 * more set when there were more). flags: ETCD_KEYS_ONLY (no values),
 * ETCD_COUNT_ONLY (no keys, only count). Returns 0 or -1 (or
 * ETCD_COMPACTED).
 */
#define ETCD_KEYS_ONLY		0x01
#define ETCD_COUNT_ONLY		0x02
#define ETCD_COMPACTED		(-3)
int		 etcd_range(struct etcd *, const char *key, size_t keylen,
		    const char *range_end, size_t endlen, int64_t rev,
		    int64_t limit, int flags, struct etcd_range *out,
		    char *err, size_t errlen);
/*
 * etcd_range_all - every key under prefix at one revision, in pages of
 * page keys (the gateway's answers stay small); out->revision is that
 * revision. Returns 0 or -1.
 */
int		 etcd_range_all(struct etcd *, const char *prefix, int64_t page,
		    int flags, struct etcd_range *out, char *err,
		    size_t errlen);
/*
 * etcd_range_since - the keys (no values) under prefix written at
 * min_mod or later and still there, at the latest revision (one answer;
 * out->revision). 0 or -1.
 */
int		 etcd_range_since(struct etcd *, const char *prefix,
		    int64_t min_mod, struct etcd_range *out, char *err,
		    size_t errlen);
/* etcd_prefix_end - the range_end of every key starting with prefix
 * (malloc'd, *len set) */
char		*etcd_prefix_end(const char *prefix, size_t plen, size_t *len);

/* Transactions: if every compare holds, the success ops, else none. */
enum etcd_target { ETCD_VERSION, ETCD_CREATE, ETCD_MOD, ETCD_VALUE,
	ETCD_LEASE };
enum etcd_cmpop { ETCD_EQ, ETCD_NE, ETCD_LT, ETCD_GT };
struct etcd_cmp {
	const char	*key;
	enum etcd_target target;
	enum etcd_cmpop	 op;
	int64_t		 num;		/* version, revision or lease */
	const void	*value;		/* ETCD_VALUE */
	size_t		 vlen;
	const char	*range_end;	/* NULL: key alone; else every key
					   in [key, range_end) must hold
					   (none there: as a key that does
					   not exist, all 0) */
	size_t		 endlen;
};
enum etcd_optype { ETCD_PUT, ETCD_DELETE, ETCD_DELETE_PREFIX };
struct etcd_op {
	enum etcd_optype type;
	const char	*key;
	const void	*value;		/* ETCD_PUT */
	size_t		 vlen;
	int64_t		 lease;		/* ETCD_PUT; 0: none */
};
/*
 * etcd_txn - 1 when the compares held and the ops were applied, 0 when a
 * compare failed (nothing applied), -1 on error. *revision (may be NULL)
 * is the store's revision after it: the mod revision of every key put.
 */
int		 etcd_txn(struct etcd *, const struct etcd_cmp *, size_t ncmp,
		    const struct etcd_op *, size_t nops, int64_t *revision,
		    char *err, size_t errlen);

/*
 * Leases. etcd_lease_keepalive renews once: *ttl is the TTL left after
 * it, 0 when the lease had already expired (or never existed).
 * etcd_lease_revoke of a lease already gone returns 0.
 */
int		 etcd_lease_grant(struct etcd *, int64_t ttl, int64_t *id,
		    char *err, size_t errlen);
int		 etcd_lease_keepalive(struct etcd *, int64_t id, int64_t *ttl,
		    char *err, size_t errlen);
int		 etcd_lease_revoke(struct etcd *, int64_t id, char *err,
		    size_t errlen);

/*
 * etcd_status - the answering member's view: the store's revision, the
 * raft leader's member id (0: none), this member's id
 */
struct etcd_status {
	int64_t		 revision;
	uint64_t	 leader;
	uint64_t	 member;
	char		 version[32];
};
int		 etcd_status(struct etcd *, struct etcd_status *, char *err,
		    size_t errlen);

/*
 * Watching. etcd_watch streams the changes of every key under prefix
 * from start_rev on (the watch is made with progress notifications and
 * asks for a member that has a raft leader, so a member cut off from
 * the others ends the stream) and calls fn for each answer that carries
 * events (events in revision order; n may be 0 for a progress
 * notification) with the answer's header revision. It returns:
 *	0 when fn returned non-zero or cancel_fd became readable;
 *	ETCD_COMPACTED when start_rev was compacted (*compact_rev set: range
 *	again, then watch from the range's revision + 1);
 *	-1 when the stream broke or no endpoint took it (err says why); the
 *	caller waits and watches again from the revision after the last one
 *	it saw.
 * idle_ms: with no byte from etcd for that long, the stream is taken as
 * broken (-1); 0: never.
 * fn runs inside the transfer: it must not call etcd_* on the same
 * struct etcd (such a call fails: "busy").
 */
enum etcd_evtype { ETCD_EV_PUT, ETCD_EV_DELETE };
struct etcd_event {
	enum etcd_evtype type;
	struct etcd_kv	 kv;		/* a delete has key and mod_rev only */
};
typedef int etcd_watch_fn(const struct etcd_event *, size_t n,
    int64_t revision, void *arg);
int		 etcd_watch(struct etcd *, const char *prefix, int64_t start_rev,
		    int cancel_fd, long idle_ms, etcd_watch_fn *fn, void *arg,
		    int64_t *compact_rev, char *err, size_t errlen);

/* Member list (keyturn fleet status): names and client URLs */
struct etcd_member {
	uint64_t	 id;
	char		*name;
	char		*client_urls;	/* comma-separated */
};
int		 etcd_members(struct etcd *, struct etcd_member **, size_t *n,
		    char *err, size_t errlen);
void		 etcd_members_free(struct etcd_member *, size_t n);

void		 etcd_kv_free(struct etcd_kv *);	/* its strings only */

#endif
