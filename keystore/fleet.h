/*
 * fleet - the keystore in etcd, mirrored into the local keystore directory
 *
 * SYNOPSIS
 *	With FleetEndpoints the authoritative keystore is in etcd and KeyStore
 *	is this host's mirror of it. Under FleetPrefix P:
 *
 *	P format			"keyturn-fleet 1 kek=KEKID"
 *	P d/<domain>/policy		the domain's files, as in the keystore
 *	P d/<domain>/state		directory (store.h)
 *	P d/<domain>/history
 *	P d/<domain>/rotate		the rotation's DNS memo
 *	P d/<domain>/keys/<name>.pem	a private key, sealed under FleetKEK
 *					(kek.h) with its etcd key as AAD
 *	P removed/<domain>/history	the history of a removed domain
 *	P leader			the rotation leader, under its lease
 *	P members/<host>:<pid>		each keyturnd, under its lease
 *
 * DESCRIPTION
 *	Readers never ask etcd: keyturnd and the CLI read the mirror, which
 *	fleet_sync and fleet_sync_domain make equal to etcd with the
 *	keystore's own atomic writes and journal, so keyturnd's key cache
 *	sees a change as it sees a local write. A domain whose files in
 *	etcd cannot be used (a key that does not decrypt, a state that does
 *	not parse) is left in the mirror as it was, and named in the error.
 *
 *	Writers do not change: every write of the keystore library (store.h)
 *	on a store opened after fleet_attach reads the domain from etcd into
 *	the mirror under the keystore lock, makes the change in the mirror
 *	as without a fleet, then commits the domain's changed files to etcd
 *	in one transaction that checks that no file of the domain was written
 *	or made since the revision it was read at, and that its state was
 *	not deleted (three compares, whatever the domain's size). With a
 *	fence (the
 *	rotation leader's, fleet_fence), the transaction also compares the
 *	leader key's create revision and lease: a leader that lost its lease
 *	cannot commit. When the transaction fails the mirror is read back
 *	from etcd and the write fails with why; nothing is half written.
 *
 *	struct fleet is shared by the threads of a process; each thread
 *	talks to etcd with a client of its own (fleet_etcd).
 */
#ifndef KEYTURN_FLEET_H
#define KEYTURN_FLEET_H

#include <stddef.h>
#include <stdint.h>

struct etcd;
struct fleet;
struct kt_conf;
struct store;

#define FLEET_FORMAT		"format"
#define FLEET_FORMAT_VERSION	"keyturn-fleet 1"
#define FLEET_DOMAINS		"d/"
#define FLEET_REMOVED		"removed/"
#define FLEET_LEADER		"leader"
#define FLEET_MEMBERS		"members/"
#define FLEET_PAGE		1000	/* keys per range answer */

/*
 * fleet_new - the fleet of conf (FleetEndpoints set): reads FleetKEK,
 * FleetPasswordFile and the TLS files now (keyturnd does it as root,
 * before it drops privileges); NULL and err when one cannot be used.
 * need_fence: every write must be the rotation leader's (keyturnd).
 */
struct fleet	*fleet_new(const struct kt_conf *, int need_fence, char *err,
		    size_t errlen);
void		 fleet_free(struct fleet *);
/* fleet_attach - every store opened from now on writes through f */
void		 fleet_attach(struct fleet *);
struct fleet	*fleet_attached(void);
/* fleet_etcd - a client for the calling thread; NULL and err */
struct etcd	*fleet_etcd(struct fleet *, char *err, size_t errlen);
/* fleet_key - P + a + b (b may be NULL), malloc'd */
char		*fleet_key(const struct fleet *, const char *a, const char *b);
const char	*fleet_prefix(const struct fleet *);
const char	*fleet_kek_id(const struct fleet *);

/*
 * fleet_format - check "P format" names this FleetKEK; create: write it
 * when there is none (keyturn init, fleet push). 0, or -1 and err (none
 * there: "not initialized"; another kek id: the ids).
 */
int		 fleet_format(struct fleet *, struct etcd *, int create,
		    char *err, size_t errlen);

/*
 * fleet_sync - the whole mirror made equal to etcd at one revision (*rev):
 * domains written, domains removed; *changed counts the domains whose
 * files changed, *bad the ones left as they were (each logged). -1 and
 * err when etcd could not be read or the mirror not written at all.
 */
int		 fleet_sync(struct fleet *, struct store *, struct etcd *,
		    int64_t *rev, size_t *changed, size_t *bad, char *err,
		    size_t errlen);
/*
 * fleet_sync_since - fleet_sync from where the mirror left off: the
 * domains written in etcd since the revision in KEYSTORE/.fleet-revision
 * (all of them when there is none), then that file set to *rev
 */
int		 fleet_sync_since(struct fleet *, struct store *, struct etcd *,
		    int64_t *rev, size_t *changed, size_t *bad, char *err,
		    size_t errlen);
/* fleet_revision_load, _save - KEYSTORE/.fleet-revision; 0 or -1 */
#define FLEET_REVISION_FILE	".fleet-revision"
#define FLEET_BAD_FILE		".fleet-bad"
int		 fleet_revision_load(struct store *, int64_t *rev);
int		 fleet_revision_save(struct store *, int64_t rev, char *err,
		    size_t errlen);
/* fleet_sync_domain - one domain; *changed 1 when its files changed */
int		 fleet_sync_domain(struct fleet *, struct store *,
		    struct etcd *, const char *domain, int *changed,
		    char *err, size_t errlen);
/*
 * fleet_key_domain - the domain an etcd key (the whole key) is about:
 * 1 and dom set for P d/<domain>/... and P removed/<domain>/..., 0 for
 * any other key
 */
int		 fleet_key_domain(const struct fleet *, const char *key,
		    size_t keylen, char *dom, size_t domlen);

/*
 * fleet_push - keyturn fleet push: upload the mirror's directory as it is
 * (every domain, and the histories of removed ones), refusing when
 * anything is under the prefix; one transaction per domain. *n domains.
 */
int		 fleet_push(struct fleet *, struct store *, struct etcd *,
		    size_t *n, char *err, size_t errlen);

/*
 * The rotation leader's fence: term is the create revision of P leader,
 * lease the lease it is bound to; (0, 0) takes it away. fleet_leading:
 * 1 and *term while a fence is held.
 */
void		 fleet_fence(struct fleet *, int64_t term, int64_t lease);
int		 fleet_leading(struct fleet *, int64_t *term);
/* fleet_lost - a fenced transaction was refused: the fence is gone */
int		 fleet_fence_lost(struct fleet *);

/* fleet_host - this host's name (gethostname) */
const char	*fleet_host(const struct fleet *);
long long	 fleet_lease_ttl(const struct fleet *);
long long	 fleet_stale_after(const struct fleet *);
int		 fleet_may_lead(const struct fleet *);

#endif
