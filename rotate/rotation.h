/*
 * rotation - one rotation pass over one domain of the keystore
 *
 * rot_pass: check DNS for every key whose state wants an answer now
 * (recheck.h: pending and unconfirmed keys every pass, confirmed records
 * once per RecheckInterval), fold the results into the rotation memo
 * (evidence.h, adapt.h), ask the policy engine (policy.h) and carry out
 * its actions: new keys, the publish hook, keystore transitions (a swap
 * is one atomic write), alarms in the log on every pass and in the
 * history once when they start and once when they clear. A key is made
 * active, or another taken out of signing on its account, only on a
 * check of this pass. rotpool.h runs rot_pass over many domains at once.
 * Blocking DNS and a child process: run it in the rotation thread of
 * keyturnd or from `keyturn rotate`, never on a signing thread.
 *
 * The publish hook (PublishCommand) runs as "/bin/sh -c COMMAND" with, in
 * its environment:
 *	KEYTURN_ACTION		publish | revoke
 *	KEYTURN_DOMAIN		example.com
 *	KEYTURN_SELECTOR	kt-202611-ed
 *	KEYTURN_NAME		kt-202611-ed._domainkey.example.com
 *	KEYTURN_VALUE		v=DKIM1; k=ed25519; p=...   ("v=DKIM1; p=")
 *	KEYTURN_VALUE_STRINGS	"v=DKIM1; k=rsa; p=MIIB..." "...": the value
 *				cut into quoted strings of at most 255 bytes
 *	KEYTURN_KEY_ID		77aa01c3d4e5f607 (every key)
 * and for a delegated domain, whose records live in the provider's zone:
 *	KEYTURN_NAME		kt2.example.com.dkim.provider.test (the target)
 *	KEYTURN_ZONE		dkim.provider.test
 *	KEYTURN_CNAME		kt2._domainkey.example.com
 *	KEYTURN_SLOT		2
 * Exit status 0 is success; anything else is logged and the action is
 * tried again on the next pass. Without a PublishCommand the record is
 * logged for the operator to publish and DNS evidence does the rest.
 */
#ifndef KEYTURN_ROTATION_H
#define KEYTURN_ROTATION_H

#include <stddef.h>
#include <time.h>

#include "adapt.h"
#include "conf.h"
#include "policy.h"
#include "propagate.h"
#include "store.h"

/* What passes did: counted by rot_pass when rot_config.stats is set. */
struct rot_stats {
	unsigned long long	 domains;	/* passes made */
	unsigned long long	 keys;		/* keys of those domains */
	unsigned long long	 checked;	/* propagation checks */
	unsigned long long	 queries;	/* DNS queries they sent */
};

struct rot_config {
	struct store		*store;
	struct prop_options	 dns;	/* dns.cancel_fd (> 0), once
					   readable, cancels the pass: the
					   DNS check under way fails, the
					   hook is stopped, nothing more is
					   decided or done */
	const char		*publish_command;	/* NULL: none */
	int			 dry_run;	/* decide and report only */
	long long		 recheck;	/* RecheckInterval, seconds; 0:
						   every key, every pass */
	int			 concurrency;	/* DNSConcurrency: domains
						   at once (rotpool.h) */
	struct rot_stats	*stats;		/* added to; NULL: none */
};

/* One thing a pass checked, did or would do. */
struct rot_event {
	const char		*domain;
	const char		*selector;	/* the key ("" before generate) */
	const struct pol_action	*action;	/* NULL: a DNS check */
	const struct prop_result *dns;		/* a DNS check, else NULL */
	const char		*outcome;	/* "done", "dry run", "failed: .." */
};

typedef void rot_report_fn(const struct rot_event *, void *arg);

/*
 * rot_pass - one pass over domain at time now; report (may be NULL) is
 * called for every check and action. 0, or -1 with err when the domain
 * could not be loaded; a failed action is reported, not fatal. Actions
 * are decided at now and recorded at now plus the time the pass has
 * taken so far (the history says when a key really changed state).
 */
int	rot_pass(const struct rot_config *, const char *domain, time_t now,
	    rot_report_fn *report, void *arg, char *err, size_t errlen);
/*
 * rot_check - the propagation check of one key, for `keyturn check`:
 * 0 with *res filled (prop_result_free it), -1 with err.
 */
int	rot_check(const struct rot_config *, const char *domain,
	    const char *selector, struct prop_result *res, char *err,
	    size_t errlen);
/*
 * rot_check_key - the checks of one key, for `keyturn check`: a plain
 * key's as rot_check (delegated 0, key filled, cname empty); a slot
 * key's two (delegated 1): cname, the customer zone in CNAME mode, and
 * key, the provider zone at the target without following. 0 with *out
 * filled (rot_checked_free it; a check that could not be made has its
 * result's error set), -1 with err.
 */
struct rot_checked {
	int			 delegated;
	struct prop_result	 cname;
	struct prop_result	 key;
};

int	rot_check_key(const struct rot_config *, const char *domain,
	    const char *selector, struct rot_checked *out, char *err,
	    size_t errlen);
void	rot_checked_free(struct rot_checked *);
/*
 * rot_config_init - the rotation settings of keyturn.conf: Resolver,
 * PropagationResolvers, DNSPort, DNSTimeout, DNSConcurrency,
 * RecheckInterval, PublishCommand. The strings stay the conf's;
 * cf->store and cf->stats are left NULL for the caller.
 */
void	rot_config_init(struct rot_config *, const struct kt_conf *);
/*
 * rot_memo_load - what the rotation remembers about a domain's keys (DNS
 * summary per selector, publish hook results), for `keyturn status`:
 * alarms are active or ready keys whose obs.dns is absent, revoked or
 * mismatch. An unreadable memo is an empty one.
 */
void	rot_memo_load(struct store *, const char *domain, struct adapt_memo *);
/*
 * rot_hook - run the publish hook once; 0, or -1 with err. Once
 * cancel_fd (> 0; 0: none) is readable the hook is stopped as if it had
 * timed out.
 */
int	rot_hook(const char *command, const char *action, const char *domain,
	    const char *selector, const char *value, int cancel_fd, char *err,
	    size_t errlen);
/*
 * rot_hook_record - the same with every variable of the environment:
 * name NULL means <selector>._domainkey.<domain>; zone, cname, kid NULL
 * and slot 0 leave KEYTURN_ZONE, KEYTURN_CNAME, KEYTURN_KEY_ID and
 * KEYTURN_SLOT out.
 */
struct rot_record {
	const char	*action;	/* "publish" | "revoke" */
	const char	*domain;
	const char	*selector;
	const char	*name;
	const char	*zone;
	const char	*cname;
	const char	*kid;
	const char	*value;
	int		 slot;
};

int	rot_hook_record(const char *command, const struct rot_record *,
	    int cancel_fd, char *err, size_t errlen);

#endif
