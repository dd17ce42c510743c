/*
 * policy - the rotation decision, as a pure function
 *
 * pol_decide(policy, keys, now) returns the actions one rotation pass
 * should take for one domain, each with a reason for the log and the
 * history. It reads no clock, opens no socket and no file: the caller
 * passes the time, the keystore state of every key and what DNS said about
 * each key (struct pol_obs). The caller applies the actions in the order
 * given; a POL_A_SWAP is one keystore write.
 *
 * The TTL hold is applied here, not by the propagation check: an
 * observation says "every nameserver and resolver has agreed without a
 * break since `since`" and carries `hold` = max(record TTL, SOA negative
 * TTL); a pending key becomes ready only once now >= since + hold. The
 * caller keeps `since` across passes (evidence_update in evidence.h does
 * it); losing it only restarts the hold, never shortens it.
 *
 * A broken active key (its record vanished or changed at some nameserver)
 * raises POL_A_ALARM every pass (the caller logs each one and records
 * only its start and its end in the history). When a confirmed
 * replacement exists it is taken out of the round-robin by POL_A_RETIRE
 * (active -> retiring, reason "alarm"), or by POL_A_SWAP with a confirmed standby; a key leaves the
 * active set for good, there is no suspended state. With no confirmed
 * replacement it keeps signing and the alarm stands.
 */
#ifndef KEYTURN_POLICY_H
#define KEYTURN_POLICY_H

#include <stddef.h>
#include <time.h>

#define POL_MAX_ACTIVE	3
#define POL_NONE	((size_t)-1)

enum pol_alg {
	POL_ALG_RSA,
	POL_ALG_ED25519,
	POL_NALG
};

enum pol_state {
	POL_PENDING,	/* generated, record to publish */
	POL_READY,	/* confirmed in DNS: the standby */
	POL_ACTIVE,	/* signs */
	POL_RETIRING,	/* out of rotation, still published */
	POL_REVOKED	/* record must be "v=DKIM1; p=" */
};

/* What DNS said about one key's record, summed up over every address. */
enum pol_dns {
	POL_DNS_UNKNOWN,	/* not checked, or nothing answered */
	POL_DNS_PUBLISHED,	/* every address and resolver serves the key */
	POL_DNS_PARTIAL,	/* some serve it, the rest did not answer */
	POL_DNS_ABSENT,		/* some address has no record or p= empty */
	POL_DNS_MISMATCH,	/* some address serves another key: alarm */
	POL_DNS_REVOKED		/* every address: p= empty or no record */
};

/* The last publish-hook run that succeeded for a key. */
enum pol_pub {
	POL_PUB_NONE,
	POL_PUB_PUBLISHED,	/* the record with p= was handed over */
	POL_PUB_REVOKED		/* the record "v=DKIM1; p=" was handed over */
};

struct pol_obs {
	enum pol_dns	 dns;
	time_t		 since;	/* PUBLISHED/REVOKED: start of the streak */
	long long	 hold;	/* max(record TTL, SOA negative TTL), secs */
	char		 detail[96];	/* e.g. "127.0.0.12: other key" */
	/* slot keys: the parts of hold, for the reason (-1: not seen) */
	long long	 ttl_txt;	/* the new key's TXT at the target */
	long long	 ttl_cname;	/* the customer's CNAME */
	long long	 ttl_neg;	/* negative TTL of either zone */
};

/* What every address of the customer zone said about a slot's CNAME. */
enum pol_cname {
	POL_CNAME_NONE,		/* not a slot key, or never checked */
	POL_CNAME_UNKNOWN,	/* not every address answered */
	POL_CNAME_OK,		/* every address: CNAME to the target */
	POL_CNAME_MISSING,	/* some address: no CNAME (none wrong) */
	POL_CNAME_WRONG		/* some address: another target or a TXT */
};

#define POL_CNAME_BAD	160	/* the failing addresses, for the alarm */

struct pol_key {
	const char	*selector;
	enum pol_alg	 alg;
	int		 bits;
	enum pol_state	 state;
	time_t		 created;
	time_t		 state_since;	/* when it entered state */
	int		 compromised;	/* declared by the operator; the
					   keystore's store_compromised acts
					   at once, this flag lets a caller
					   leave it to the next pass */
	enum pol_pub	 published;
	struct pol_obs	 obs;
	/* delegated domains (pol_policy.slots > 0); 0 / "" otherwise */
	const char	*kid;		/* key id; NULL: not known */
	int		 slot;		/* 1..slots; 0: a plain key */
	time_t		 stopped;	/* left the active set; 0: never
					   signed, or not known */
	long long	 prev_ttl;	/* TTL of what the slot's target
					   served before; -1 unknown */
	const char	*cname_name;	/* <sel>._domainkey.<domain> */
	const char	*target;	/* what it must CNAME to */
	enum pol_cname	 cname;		/* the last check of the CNAME */
	char		 cname_bad[POL_CNAME_BAD];	/* "ns2.x.test
					   127.0.0.82:53 nxdomain; ..." */
};

struct pol_policy {
	int		 algs[POL_NALG];	/* non-zero: keep keys of it */
	int		 rsa_bits;		/* for POL_A_GENERATE */
	int		 active_keys;		/* per algorithm, 1..3 */
	long long	 rotate_after;		/* seconds */
	long long	 retire_after;		/* seconds */
	int		 slots;		/* delegated: 2-3 slots; 0: plain */
	long long	 dns_hold;	/* delegated: the hold to assume
					   for what a target served before
					   when that is not known */
	const char	*domain;	/* delegated: for the reasons */
	const char	*delegate_to;	/* delegated: the provider zone */
	const char	*slot_sel[4];	/* delegated: [n] the selector of
					   slot n (1..slots) */
};

enum pol_act {
	POL_A_GENERATE,	/* make a pending key of alg/bits */
	POL_A_PUBLISH,	/* run the publish hook: the record with p= */
	POL_A_READY,	/* pending -> ready */
	POL_A_ACTIVATE,	/* ready -> active */
	POL_A_SWAP,	/* key: ready -> active, other: active -> retiring */
	POL_A_RETIRE,	/* active -> retiring */
	POL_A_REVOKE,	/* any state -> revoked */
	POL_A_UNPUBLISH,	/* run the publish hook: "v=DKIM1; p=" */
	POL_A_ALARM	/* no change; log, status and history */
};

struct pol_action {
	enum pol_act	 type;
	size_t		 key;	/* index into keys[]; POL_NONE for generate */
	size_t		 other;	/* POL_A_SWAP: the key that retires */
	enum pol_state	 from;	/* key: state before and after; the same */
	enum pol_state	 to;	/* for publish, unpublish and alarm */
	enum pol_state	 other_from;	/* POL_A_SWAP: active */
	enum pol_state	 other_to;	/* POL_A_SWAP: retiring */
	enum pol_alg	 alg;	/* POL_A_GENERATE, and the key's */
	int		 bits;	/* POL_A_GENERATE, and the key's */
	int		 slot;	/* POL_A_GENERATE in a delegated domain:
				   the slot that takes the key; 0 other */
	char		 reason[320];
};

struct pol_plan {
	struct pol_action *v;
	size_t		 n;
	size_t		 cap;
};

/* pol_decide - the actions for one domain at time now (plan is reset) */
void		 pol_decide(const struct pol_policy *, const struct pol_key *,
		    size_t nkeys, time_t now, struct pol_plan *);
void		 pol_plan_free(struct pol_plan *);
/* pol_plan_alarm - the alarm the plan raises for key i, or NULL */
const struct pol_action *pol_plan_alarm(const struct pol_plan *, size_t i);

const char	*pol_act_name(enum pol_act);
const char	*pol_state_name(enum pol_state);
const char	*pol_alg_name(enum pol_alg);
const char	*pol_dns_name(enum pol_dns);
const char	*pol_cname_name(enum pol_cname);
/* pol_cname_parse - 0, or -1 for no such name */
int		 pol_cname_parse(const char *, enum pol_cname *);

#endif
