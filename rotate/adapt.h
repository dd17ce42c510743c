/*
 * adapt - the keystore as the rotation engine sees it, and back
 *
 * Conversions between the keystore's types (store.h) and those of the
 * policy engine (policy.h) and of the propagation check (propagate.h),
 * so that neither of those depends on the keystore. Also the rotation
 * memo: what the rotation module remembers per key between passes (the
 * DNS agreed-since streak and hold, when DNS was last asked, whether the
 * publish hook succeeded).
 * The memo lives in KEYSTORE/<domain>/rotate (store_domain_path, written
 * with store_file_replace under the keystore lock); this module only
 * formats and parses it. Losing the memo is safe: the TTL hold restarts,
 * every key is asked about at the next pass and the publish hook runs
 * once more.
 */
#ifndef KEYTURN_ADAPT_H
#define KEYTURN_ADAPT_H

#include <stddef.h>
#include <time.h>

#include "policy.h"
#include "propagate.h"
#include "store.h"

#define ADAPT_MEMO_FILE	"rotate"

struct adapt_mem {
	char		 selector[STORE_SELECTOR_MAX + 1];
	enum pol_pub	 published;
	struct pol_obs	 obs;
	time_t		 checked;	/* end of its last DNS check; 0:
					   never (recheck.h) */
	/* memo 2: */
	char		 kid[STORE_KID_LEN + 1];	/* "": a v1 entry */
	enum pol_cname	 cname;		/* slot keys: the last CNAME check */
	char		 cname_bad[POL_CNAME_BAD];
	long long	 ttlmax;	/* slot keys: largest TTL (or
					   negative TTL) seen at the target
					   while this key held it; 0: none */
};

struct adapt_memo {
	struct adapt_mem *v;
	size_t		 n;
};

/* adapt_policy - the domain policy in the policy engine's terms */
void		 adapt_policy(const struct store_policy *, struct pol_policy *);
/*
 * adapt_keys - out[i] for d->keys[i] (d->nkeys of them); selectors point
 * into d. Without a memo entry a ready, active or retiring key counts as
 * published (something put it in DNS) and the DNS summary is unknown.
 */
void		 adapt_keys(const struct store_domain *d,
		    const struct adapt_memo *, struct pol_key *out);
/*
 * adapt_slots - the names the policy engine needs of domain d, rendered
 * into ns: pol->domain, and for a delegated domain pol->slot_sel[n] (the
 * selector of slot n) and, for each slot key keys[i] (as adapt_keys made
 * them), cname_name (the customer's name) and target (the name in the
 * provider zone). A slot whose names cannot be rendered is left without
 * them. The pointers point into d and ns; free with adapt_slots_free.
 */
struct adapt_slots {
	char		 sel[4][STORE_SELECTOR_MAX + 1];
	char		(*cname)[STORE_DOMAIN_MAX + 32];
	char		(*target)[STORE_DOMAIN_MAX + 1];
};

void		 adapt_slots(const struct store_domain *d,
		    struct adapt_slots *ns, struct pol_policy *pol,
		    struct pol_key *keys);
void		 adapt_slots_free(struct adapt_slots *);
/*
 * adapt_query - what to ask DNS about key k of domain: its record name
 * and decoded p=; 0, or -1 with err. Free with adapt_query_free.
 */
int		 adapt_query(const char *domain, const struct store_key *k,
		    struct prop_query *q, char *err, size_t errlen);
void		 adapt_query_free(struct prop_query *);
/*
 * adapt_query_slot - the two queries of slot key k of a delegated domain:
 * cq the customer's name in CNAME mode (cname_to the slot's target), kq
 * the target in the provider zone, not following, for k's p= (extra
 * resolvers asked the customer's name). 0, or -1 with err; free both
 * with adapt_query_free.
 */
int		 adapt_query_slot(const struct store_domain *d,
		    const struct store_key *k, struct prop_query *cq,
		    struct prop_query *kq, char *err, size_t errlen);
/*
 * adapt_changes - the keystore changes of a state-changing action: 1, or
 * 2 for a swap (one store_apply call, one atomic write), 0 for actions
 * that change no state (generate, publish, unpublish, alarm). The
 * reasons point into the action.
 */
size_t		 adapt_changes(const struct pol_action *,
		    const struct pol_key *keys, struct store_change out[2]);
/* adapt_alg - the keystore's algorithm of a policy algorithm */
enum store_alg	 adapt_alg(enum pol_alg);

/*
 * Alarms in the history: a note (store_note) whose reason starts with
 * ADAPT_ALARM_RAISED when an alarm starts, ADAPT_ALARM_CLEARED when it
 * ends. adapt_alarm_open: 1 when the last such note of selector is a
 * raise. adapt_alarm_over: 1 (and how, in why) when the fault behind a
 * key's alarm is gone: every address serves the key again, the key is
 * revoked, or a pending key is no longer shadowed by another key; an
 * unknown or partial answer is not that.
 */
#define ADAPT_ALARM_RAISED	"alarm: "
#define ADAPT_ALARM_CLEARED	"alarm cleared: "
int		 adapt_alarm_open(const struct store_event *, size_t n,
		    const char *selector);
/* adapt_alarm_open_kid - the same, for the notes of key kid only */
int		 adapt_alarm_open_kid(const struct store_event *, size_t n,
		    const char *selector, const char *kid);
int		 adapt_alarm_over(const struct pol_key *, char *why,
		    size_t len);

/* adapt_memo_get - the entry of selector, added (zeroed) when missing */
struct adapt_mem *adapt_memo_get(struct adapt_memo *, const char *selector);
/*
 * adapt_memo_key - the entry of key k: that of its selector, started
 * afresh when it remembers another key id (a slot's earlier key)
 */
struct adapt_mem *adapt_memo_key(struct adapt_memo *,
		    const struct store_key *k);
/* adapt_memo_find - the entry of selector, or NULL */
const struct adapt_mem *adapt_memo_find(const struct adapt_memo *,
		    const char *selector);
/* adapt_memo_prune - forget the selectors the domain no longer has */
void		 adapt_memo_prune(struct adapt_memo *,
		    const struct store_domain *);
/* adapt_memo_format - the memo file's text, malloc'd */
char		*adapt_memo_format(const struct adapt_memo *);
/* adapt_memo_parse - 0, or -1 with "line N: what" in err (memo emptied) */
int		 adapt_memo_parse(const char *text, struct adapt_memo *,
		    char *err, size_t errlen);
void		 adapt_memo_free(struct adapt_memo *);

#endif
