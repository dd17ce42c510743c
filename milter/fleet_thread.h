/*
 * fleet_thread - keyturnd in a fleet (FleetEndpoints): the mirror and the
 * session
 *
 * fleet_thread_init, as root before privileges are dropped, reads the
 * fleet's secrets (fleet_new) and makes every keystore write of the
 * process go through etcd (fleet_attach). Then two service threads run:
 *
 * fleet_mirror_thread makes KeyStore equal to etcd (fleet_sync), then
 * watches the prefix from the revision after and reads each domain a
 * change names again (fleet_sync_domain); the key cache follows the
 * mirror's journal as for any write, and the daemon is asked for a new
 * snapshot at once. A watch that breaks, or starts on a compacted
 * revision, syncs again. While etcd cannot be reached the daemon signs
 * from the mirror as it is; after FleetStaleAfter without a word from
 * etcd an alarm is logged (and keyturn_fleet_stale is 1 on /metrics).
 *
 * fleet_session_thread holds this daemon's lease (FleetLeaseTTL, renewed
 * every third of it), registers the daemon under P members/<host>:<pid>
 * (its mirror revision and keystore generation), and with FleetRotation
 * and Rotation yes runs for the rotation's lead: P leader, created bound
 * to the lease when there is none. The create revision is the term;
 * while it holds it the rotation thread runs, and every rotation write
 * is fenced on it (fleet.h). A lease that expired, or a fenced write
 * that etcd refused, ends the term; at shutdown the lease is revoked so
 * another daemon leads at once.
 */
#ifndef KEYTURN_FLEET_THREAD_H
#define KEYTURN_FLEET_THREAD_H

#include <stdint.h>

struct kt_conf;

/* fleet_thread_init - 0 (nothing to do without FleetEndpoints), or -1 */
int	 fleet_thread_init(const struct kt_conf *, char *err, size_t errlen);
void	 fleet_thread_free(void);
/*
 * fleet_thread_first_sync - before keyturnd serves (privileges dropped):
 * the mirror made equal to etcd once, so that a new host does not sign
 * from an empty mirror; when etcd does not answer, the mirror as it is
 */
void	 fleet_thread_first_sync(void);
void	*fleet_mirror_thread(void *);
void	*fleet_session_thread(void *);
/* fleet_thread_rotates - may the rotation pass run now? (1 without fleet) */
int	 fleet_thread_rotates(void);
/* for /metrics: 0 without a fleet, else 1 and the figures */
struct fleet_figures {
	int		 leader;	/* this daemon leads the rotation */
	int64_t		 term;
	int64_t		 mirror_rev;	/* the etcd revision mirrored */
	int		 stale;		/* the staleness alarm is up */
	long long	 since_contact;	/* seconds since etcd answered */
	unsigned long long syncs;	/* full syncs of the mirror */
	unsigned long long domains;	/* domains written by the mirror */
	unsigned long long bad;		/* domains left as they were */
};
int	 fleet_thread_figures(struct fleet_figures *);

#endif
