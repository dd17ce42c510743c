/*
 * store - the keyturn keystore: domains, DKIM keys and their lifecycle
 *
 * SYNOPSIS
 *	A keystore is a directory (mode 0700, owned by the daemon's user):
 *
 *	KEYSTORE/keyturn.keystore	"keyturn-keystore 1" (format version)
 *	KEYSTORE/lock			flock(2) target of every writer
 *	KEYSTORE/generation		a counter bumped by every write
 *	KEYSTORE/journal		"GEN DOMAIN" for every write
 *	KEYSTORE/<domain>/policy	algorithms, bits, active keys, timers
 *	KEYSTORE/<domain>/state		one line per key (tag=value)
 *	KEYSTORE/<domain>/history	append-only transition log
 *	KEYSTORE/<domain>/keys/<selector>.pem	private key, 0600
 *	KEYSTORE/<domain>/keys/<selector>.<kid>.pem	a slot key's, 0600
 *	KEYSTORE/.removed/<domain>/history	history of a removed domain
 *
 * DESCRIPTION
 *	The lifecycle of a key is pending -> ready -> active -> retiring ->
 *	revoked. Only an active key signs. Every change to a domain is one
 *	atomic write of its state file (temporary file, fsync, rename, fsync
 *	of the directory) made under the keystore lock, after the key files
 *	it names and the history lines that record it are on disk. The state
 *	file says how many bytes of the history are committed, so a crash
 *	between the two writes leaves an uncommitted history tail that
 *	readers ignore and the next writer discards. Readers take no lock and
 *	see the old or the new state, never a mix. Nothing is ever repaired:
 *	a damaged file is reported as "file:line: what is wrong".
 *
 *	Every key has a key id (kid): the lowercase hex of the first 8 bytes
 *	of SHA-256 over its DER SubjectPublicKeyInfo, the bytes whose base64
 *	is pub= in the state ("openssl pkey -pubout -outform DER | sha256sum
 *	| cut -c1-16"). The history names keys by it and keeps every key's
 *	public key on its creation line, so both outlive the key files.
 *
 *	A delegated domain (M3AAWG 3.1.3) has 2 or 3 slots: fixed selectors
 *	the customer CNAMEs once to names under the provider's zone. A slot
 *	holds one key at a time and takes a new key only when its previous
 *	one is revoked and stopped signing at least retire-after ago: the
 *	one case where a selector is used again (store_slot_key_new). Its
 *	policy file is "keyturn-policy 2" and its state "keyturn-state 2",
 *	which an older keyturn refuses; plain domains keep version 1 files.
 *
 *	Loaded domains (struct store_domain) are immutable and reference
 *	counted, so a daemon snapshot (struct store_set) can share every
 *	unchanged domain with the next one: a reload re-parses only the
 *	domains whose policy or state file changed.
 *
 *	A struct store is not thread-safe; use one per thread. Loaded domains
 *	and sets are read-only and may be shared by any number of threads.
 *
 * DIAGNOSTICS
 *	Functions that can fail return -1 (or NULL) and write a message a
 *	human can act on into err. Warnings (an RSA key of 1024 bits) go to
 *	log_warnx(). Private key material is never printed or logged.
 */
#ifndef KEYTURN_STORE_H
#define KEYTURN_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <openssl/evp.h>

#define STORE_FORMAT		1	/* keyturn.keystore version */
#define STORE_MAX_ACTIVE	3	/* active keys per domain and alg. */
#define STORE_SELECTOR_MAX	63	/* one DNS label */
#define STORE_DOMAIN_MAX	253
#define STORE_PREFIX_MAX	32
#define STORE_RSA_MIN		1024	/* RFC 8301: below is refused */
#define STORE_RSA_WARN		2048	/* below is accepted with a warning */
#define STORE_RSA_MAX		4096
#define STORE_RSA_DEFAULT	2048
#define STORE_DURATION_MAX	(36500 * 86400LL)	/* 100 years: the
					   longest rotate-after, retire-after */
#define STORE_DEFAULT_DIR	LOCALSTATEDIR "/lib/keyturn"
#define STORE_KID_LEN		16	/* hex digits of a key id */
#define STORE_SLOTS_MIN		2	/* slots of a delegated domain */
#define STORE_SLOTS_MAX		3
#define STORE_TEMPLATE_MAX	64	/* slot-selector, slot-target */
#define STORE_DNS_HOLD_DEFAULT	86400LL	/* 1d */

enum store_alg {
	STORE_ALG_RSA = 0,
	STORE_ALG_ED25519 = 1
};
#define STORE_NALGS		2
#define STORE_ALGBIT(a)		(1u << (a))

enum store_state {
	STORE_PENDING = 0,	/* generated; its record is to be published */
	STORE_READY,		/* record confirmed at every nameserver */
	STORE_ACTIVE,		/* signs */
	STORE_RETIRING,		/* out of rotation, record still published */
	STORE_REVOKED		/* record must be "v=DKIM1; p="; never reused */
};
#define STORE_NSTATES		5
#define STORE_STATE_NONE	(-1)	/* history: before the key existed */

/* "rsa" / "ed25519"; parse returns 0 or -1 */
const char	*store_alg_name(enum store_alg);
int		 store_alg_parse(const char *, enum store_alg *);
const char	*store_algs_name(unsigned);
int		 store_algs_parse(const char *, unsigned *);
/* "pending" ... "revoked"; STORE_STATE_NONE is "-" */
const char	*store_state_name(int);
int		 store_state_parse(const char *, enum store_state *);

/* One key of a domain, as its state line says. */
struct store_key {
	char		 selector[STORE_SELECTOR_MAX + 1];
	enum store_alg	 alg;
	int		 bits;		/* RSA modulus bits; 256 for Ed25519 */
	enum store_state state;
	time_t		 created;
	time_t		 since;		/* when it entered its state */
	char		*spki;		/* base64 DER SubjectPublicKeyInfo */
	char		*p;		/* base64 p= value: the SPKI for RSA,
					   the raw 32-byte key for Ed25519 */
	EVP_PKEY	*pkey;		/* private key, NULL unless loaded */
	char		 kid[STORE_KID_LEN + 1];	/* key id, always set */
	int		 slot;		/* 1..slots: a delegated domain's
					   slot key; 0 for a plain key */
	time_t		 stopped;	/* when it left the active set; 0:
					   it never signed, or not known */
	long long	 prev_ttl;	/* slot keys: TTL of what the slot's
					   target served before; -1 unknown */
};

struct store_policy {
	unsigned	 algs;		/* STORE_ALGBIT(STORE_ALG_RSA) | ... */
	int		 bits;		/* RSA bits of new keys */
	int		 active_keys;	/* 1-3 per algorithm */
	long long	 rotate_after;	/* seconds an active key signs */
	long long	 retire_after;	/* seconds retiring keys stay in DNS */
	char		 prefix[STORE_PREFIX_MAX + 1];	/* selector prefix */
	/* delegated domains only (slots > 0): */
	char		 delegate_to[STORE_DOMAIN_MAX + 1];	/* "": plain */
	int		 slots;		/* 2-3; 0 for a plain domain */
	char		 slot_selector[STORE_TEMPLATE_MAX + 1];	/* "kt%n" */
	char		 slot_target[STORE_TEMPLATE_MAX + 1];	/* "%s.%d.%z" */
	long long	 dns_hold;	/* the longest DNS hold expected */
};

/* A loaded domain: immutable, reference counted. */
struct store_domain {
	char		*name;		/* lowercase */
	struct store_policy policy;
	struct store_key *keys;		/* in creation order */
	size_t		 nkeys;
	uint64_t	 gen;		/* state generation, +1 per write */
	off_t		 histsize;	/* committed bytes of the history */

	/* private: change detection and sharing */
	dev_t		 st_dev;
	ino_t		 st_ino[2];	/* policy, state */
	struct timespec	 st_mtim[2];
	off_t		 st_size[2];
	int		 refs;
};

/* A snapshot of every domain, sorted by name. */
struct store_set {
	struct store_domain **domains;
	size_t		 n;
	uint64_t	 generation;	/* store_generation() when loaded */
};

struct store;

/*
 * Opening. store_init creates an empty keystore with safe modes (the
 * directory may exist, ours and empty; never a symbolic link, and its mode
 * is changed only once that is checked). store_open checks the format
 * line, owner (the effective uid) and mode (no group/other access) of the
 * directory.
 * STORE_RDONLY: no write will be attempted (a read-only keystore opens).
 */
#define STORE_RDONLY		0x01
int		 store_init(const char *dir, char *err, size_t errlen);
struct store	*store_open(const char *dir, int flags, char *err,
		    size_t errlen);
/*
 * store_open_owner - the same for a keystore owned by another user: the
 * daemon, started as root, loads the keys of its unprivileged user's
 * keystore before it drops privileges. Writes must be made as the owner.
 */
struct store	*store_open_owner(const char *dir, int flags, uid_t owner,
		    char *err, size_t errlen);
void		 store_close(struct store *);
const char	*store_dir(const struct store *);

/* store_lock - take the writer lock (blocks; nests); store_unlock drops it */
int		 store_lock(struct store *, char *err, size_t errlen);
void		 store_unlock(struct store *);

/* store_generation - the keystore-wide change counter; 0 when unreadable */
uint64_t	 store_generation(struct store *);

/*
 * Watching. A daemon that holds domains learns which ones changed from the
 * journal every write appends to, at the cost of what changed, not of the
 * keystore's size. store_watch_open starts at the generation of now (the
 * caller reads what it needs after it); store_watch_poll calls fn for each
 * domain written since (a domain may come more than once) and returns how
 * many, or STORE_WATCH_LOST when the journal cannot tell (a keystore
 * written by a keyturn that kept no journal, a journal removed or damaged):
 * the caller then reads again everything it holds.
 */
#define STORE_WATCH_LOST	(-2)
struct store_watch;
typedef void store_watch_fn(const char *domain, void *arg);
struct store_watch *store_watch_open(struct store *);
int		 store_watch_poll(struct store_watch *, store_watch_fn *,
		    void *arg);
uint64_t	 store_watch_generation(const struct store_watch *);
void		 store_watch_close(struct store_watch *);

/*
 * Loading. Flags say which private keys to parse into key->pkey (and
 * check against the state's public key): none, the active ones (the
 * daemon), or every key that has one (not revoked).
 */
#define STORE_KEYS_ACTIVE	0x01
#define STORE_KEYS_ALL		0x02

/*
 * store_domain_names - sorted names of every domain; *names to free. Any
 * entry of the keystore directory that is neither a domain directory nor
 * the keystore's own (keyturn.keystore, lock, generation, dot names) is
 * an error naming it: a domain left out would not be signed.
 */
int		 store_domain_names(struct store *, char ***names, size_t *n,
		    char *err, size_t errlen);
void		 store_names_free(char **, size_t);
struct store_domain *store_domain_load(struct store *, const char *name,
		    int flags, char *err, size_t errlen);
struct store_domain *store_domain_ref(struct store_domain *);
void		 store_domain_free(struct store_domain *);	/* unref */
/*
 * store_stamp - what store_domain_changed compares, kept apart from the
 * domain (a cache that holds only the keys it signs with);
 * store_stamp_changed is 1 when the policy or state file was replaced
 * since, or is gone
 */
struct store_stamp {
	dev_t		 dev;
	ino_t		 ino[2];
	struct timespec	 mtim[2];
	off_t		 size[2];
};
void		 store_domain_stamp(const struct store_domain *,
		    struct store_stamp *);
int		 store_stamp_changed(struct store *, const char *domain,
		    const struct store_stamp *);
/* store_domain_changed - 1 when its policy or state file was replaced */
int		 store_domain_changed(struct store *,
		    const struct store_domain *);
const struct store_key *store_domain_key(const struct store_domain *,
		    const char *selector);
/* store_domain_count - keys of this algorithm in this state */
int		 store_domain_count(const struct store_domain *, enum store_alg,
		    enum store_state);

/*
 * Snapshots. store_set_load parses every domain; store_set_reload shares
 * the domains of old that did not change (*nparsed: how many it parsed).
 * Any domain that fails fails the whole set: the caller keeps the old one.
 * A reload must use the flags the old set was loaded with.
 */
struct store_set *store_set_load(struct store *, int flags, char *err,
		    size_t errlen);
struct store_set *store_set_reload(struct store *, const struct store_set *old,
		    int flags, size_t *nparsed, char *err, size_t errlen);
const struct store_domain *store_set_find(const struct store_set *,
		    const char *domain);
void		 store_set_free(struct store_set *);

/*
 * Domains. store_policy_default fills the defaults (rsa 2048, one active
 * key, rotate after 120d, retire after 7d, prefix "kt"; not delegated,
 * and for a delegated domain slot-selector kt%n, slot-target %s.%d.%z,
 * dns-hold 1d). store_domain_remove refuses while a key is active or
 * retiring unless force; the domain's history is kept under .removed/ so
 * its selectors stay taken if it is added again.
 *
 * store_policy_check also holds a delegated domain to one algorithm,
 * active-keys 1, templates that render, and
 *	(slots - 1) x rotate-after > retire-after + dns-hold
 * (a slot is needed again (slots - 1) rotations after its key stopped
 * signing; it takes its next key retire-after later, which signs after
 * the hold), refused with the numbers. store_policy_plan_why: 0, or 1
 * and a warning for a policy that works with a late standby (3 slots
 * and rotate-after <= retire-after + dns-hold), or -1 and the refusal.
 */
void		 store_policy_default(struct store_policy *);
int		 store_policy_check(const struct store_policy *, char *err,
		    size_t errlen);
int		 store_policy_plan_why(const struct store_policy *, char *why,
		    size_t len);
int		 store_domain_add(struct store *, const char *name,
		    const struct store_policy *, time_t now, char *err,
		    size_t errlen);
int		 store_domain_set(struct store *, const char *name,
		    const struct store_policy *, unsigned fields, time_t now,
		    char *err, size_t errlen);
/* the fields of a store_policy that store_domain_set changes */
#define STORE_POL_ALGS		0x01u
#define STORE_POL_BITS		0x02u
#define STORE_POL_ACTIVE	0x04u
#define STORE_POL_ROTATE	0x08u
#define STORE_POL_RETIRE	0x10u
#define STORE_POL_PREFIX	0x20u
#define STORE_POL_SLOTS		0x40u	/* 3 -> 2 only with slot 3 free */
#define STORE_POL_HOLD		0x80u
#define STORE_POL_ALL		0xffu
int		 store_domain_remove(struct store *, const char *name,
		    int force, time_t now, char *err, size_t errlen);
/*
 * store_own_name - a name the keystore keeps a file of its own under
 * (keyturn.keystore, lock, generation, journal): never a domain's
 */
int		 store_own_name(const char *name);
/* store_domain_valid - a DNS name keyturn will store; 0 or -1 */
int		 store_domain_valid(const char *name, char *err, size_t errlen);

/*
 * Transitions. store_apply re-reads the domain under the lock, checks that
 * every key is still in its "from" state (else the caller decided on stale
 * data and nothing is written), checks every transition and the active
 * limit on the result, and writes them all in one atomic state write, each
 * with its reason in the history. That is how the rotation swap (ready ->
 * active and oldest active -> retiring) is made.
 * STORE_FORCE allows pending -> active. STORE_KEEP_SIGNING refuses a
 * write that takes the last active key of an algorithm of the domain's
 * policy out of signing (keyturnd would tempfail all the domain's mail):
 * the operator's commands pass it unless forced; the rotation's swaps
 * keep a key active by themselves.
 */
#define STORE_FORCE		0x01
#define STORE_KEEP_SIGNING	0x02

struct store_change {
	const char	*selector;
	enum store_state from;
	enum store_state to;
	const char	*reason;	/* "policy: ...", "dns: ...", ... */
};

int		 store_apply(struct store *, const char *domain,
		    const struct store_change *, size_t n, time_t now,
		    int flags, char *err, size_t errlen);
/*
 * store_note - a history line about a key that changes no state: "TIME
 * SELECTOR STATE STATE REASON" with the key's current state twice (the
 * rotation's alarms). Committed like store_apply: under the lock, by a
 * state write, so a crash before it leaves no line; -1 when the domain
 * has no such key.
 */
int		 store_note(struct store *, const char *domain,
		    const char *selector, time_t now, const char *reason,
		    char *err, size_t errlen);
/* store_transition_ok - is from -> to legal? 0, or -1 and *why */
int		 store_transition_ok(enum store_state from, enum store_state to,
		    int flags, const char **why);

/*
 * store_compromised - the key leaves the active set now and is revoked
 * with no grace; when it was active, the oldest ready key of its
 * algorithm is promoted (its selector in promoted, else "").
 */
int		 store_compromised(struct store *, const char *domain,
		    const char *selector, time_t now, const char *reason,
		    char *promoted, size_t promotedlen, char *err,
		    size_t errlen);

/*
 * New keys, always pending. bits 0 means the policy's; selector NULL means
 * the template <prefix>-<YYYYMM>-<alg><bits> ("kt-202611-r2048",
 * "kt-202611-ed"), suffixed -2, -3, ... when taken. The chosen selector is
 * copied to selout.
 */
int		 store_key_new(struct store *, const char *domain,
		    enum store_alg, int bits, const char *selector, time_t now,
		    const char *reason, char *selout, size_t sellen, char *err,
		    size_t errlen);
/* store_key_import - a PEM file (RSA or Ed25519, PKCS#1 or PKCS#8) */
int		 store_key_import(struct store *, const char *domain,
		    const char *selector, const char *pemfile, time_t now,
		    const char *reason, char *err, size_t errlen);
/*
 * store_key_import_pem - the same from a PEM buffer (name: the file it
 * came from, for messages): keyturn import reads key files the keystore's
 * owner may not read before it becomes that user
 */
int		 store_key_import_pem(struct store *, const char *domain,
		    const char *selector, const char *name, const char *pem,
		    size_t len, time_t now, const char *reason, char *err,
		    size_t errlen);
/*
 * store_key_check_pem - the parse and key-pair check store_key_import_pem
 * runs, without a keystore: 0, or -1 and why
 */
int		 store_key_check_pem(const char *name, const char *pem,
		    size_t len, char *err, size_t errlen);
/*
 * Slot keys. store_slot_names renders the slot's selector and target
 * name (either buffer may be NULL); -1 and err when they are no valid
 * names. store_domain_slot: the key a slot holds, or NULL;
 * store_domain_kid: the key with that id, or NULL.
 * store_slot_free_at: 1 when the slot may take a new key at now, 0 when
 * not yet, -1 for no such slot; *when is the time it became or becomes
 * free (its key's stop of signing plus retire_after), 0 when the slot is
 * empty or the time is not known yet (its key has not stopped signing).
 */
int		 store_slot_names(const struct store_policy *,
		    const char *domain, int slot, char *sel, size_t sellen,
		    char *target, size_t tlen, char *err, size_t errlen);
const struct store_key *store_domain_slot(const struct store_domain *,
		    int slot);
const struct store_key *store_domain_kid(const struct store_domain *,
		    const char *kid);
int		 store_slot_free_at(const struct store_domain *, int slot,
		    time_t now, time_t *when);
/*
 * store_slot_key_new - a new pending key in a slot of a delegated domain
 * (slot 0: the lowest empty slot, else the free one whose key stopped
 * signing longest ago; alg must be the policy's; bits 0: the policy's;
 * prev_ttl: see struct store_key). Under the lock the slot must be free
 * (store_slot_free_at) and every history line naming its selector must
 * carry a key id; the slot's revoked key leaves the state in the same
 * write (its history lines, with its public key, remain). The new key's
 * id is copied to kidout.
 */
int		 store_slot_key_new(struct store *, const char *domain,
		    int slot, enum store_alg, int bits, long long prev_ttl,
		    time_t now, const char *reason, char *kidout, size_t kidlen,
		    char *err, size_t errlen);
/* store_key_id - the key id of a base64 SPKI; 0, or -1 when not base64 */
int		 store_key_id(const char *spki_b64, char out[STORE_KID_LEN + 1]);

/* store_selector_valid - one DNS label of letters, digits, '-', '_' */
int		 store_selector_valid(const char *, char *err, size_t errlen);
/* store_selector_template - the untaken form of the template */
void		 store_selector_template(const char *prefix, enum store_alg,
		    int bits, time_t now, char *buf, size_t len);

/*
 * Public keys. store_key_txt: the TXT record value, "v=DKIM1; k=rsa;
 * p=..." ("v=DKIM1; p=" for a revoked key), malloc'd.
 * store_key_pubpem: the public key as PEM, malloc'd, NULL on error.
 * store_pkey_pub: fill spki and p of key from a parsed key.
 */
char		*store_key_txt(const struct store_key *);
char		*store_key_pubpem(const struct store_key *, char *err,
		    size_t errlen);
int		 store_pkey_pub(EVP_PKEY *, char **spki, char **p, char *err,
		    size_t errlen);

/*
 * Planned times, from the policy: an active key retires at since +
 * rotate_after, a retiring key is revoked at since + retire_after.
 * 0 when nothing is planned (*next set to the state it will go to).
 */
time_t		 store_key_planned(const struct store_domain *,
		    const struct store_key *, enum store_state *next);
/*
 * store_key_revoke_planned - when the policy revokes the key: an active
 * key's planned end of signing plus retire_after, a retiring key's
 * planned revocation (the latest time_t when that would not fit); 0 when
 * nothing is planned.
 */
time_t		 store_key_revoke_planned(const struct store_domain *,
		    const struct store_key *);

/*
 * History: one line per transition, "TIME SELECTOR FROM TO key=KID
 * [slot=N] [pub=ALG:B64SPKI] REASON", time in UTC (2026-11-22T21:40:00Z),
 * FROM "-" when the key was created (that line carries pub=), SELECTOR
 * and KID "-" for domain events (added, policy changed, removed), FROM
 * equal to TO for a note (store_note): replaying the lines of a key
 * (store_history_key_state_at) gives its state at any time either way.
 * Lines written before key ids were kept have no tags (kid "", slot 0,
 * pub NULL); both kinds mix in one file.
 * store_history_load reads the committed part of a domain's history, or
 * the kept history of a removed domain; -2 (and err set) when the keystore
 * never had that domain.
 */
struct store_event {
	time_t		 when;
	char		 selector[STORE_SELECTOR_MAX + 1];
	int		 from;		/* a store_state or STORE_STATE_NONE */
	int		 to;		/* a store_state or STORE_STATE_NONE */
	char		*reason;
	char		 kid[STORE_KID_LEN + 1];	/* "": not recorded */
	int		 slot;		/* 0: not a slot key */
	char		*pub;		/* base64 SPKI on creation lines */
	enum store_alg	 alg;		/* valid when pub != NULL */
};

int		 store_history_load(struct store *, const char *domain,
		    struct store_event **, size_t *, char *err, size_t errlen);
void		 store_history_free(struct store_event *, size_t);
/* store_history_state_at - state of selector at time t, or STORE_STATE_NONE */
int		 store_history_state_at(const struct store_event *, size_t n,
		    const char *selector, time_t t);
/*
 * store_history_holder - the key selector held at time t: the latest
 * creation line of that selector at or before t; its index and its kid
 * (kid "" for a key created before key ids were kept), or -1
 */
int		 store_history_holder(const struct store_event *, size_t n,
		    const char *selector, time_t t, char kid[STORE_KID_LEN + 1]);
/* store_history_key_state_at - state of key kid at time t, by its lines */
int		 store_history_key_state_at(const struct store_event *,
		    size_t n, const char *kid, time_t t);
/* store_history_created - the creation line of key kid (pub=), or NULL */
const struct store_event *store_history_created(const struct store_event *,
		    size_t n, const char *kid);

/* Times in files and output: "2026-11-22T21:40:00Z"; parse 0 or -1. */
char		*store_time_format(time_t, char *buf, size_t len);
int		 store_time_parse(const char *, time_t *);

/*
 * Files for other modules (the rotation module keeps its DNS observations
 * next to a domain's state). store_domain_path: KEYSTORE/<domain>/<file>,
 * malloc'd; files named "rotate*" are the rotation module's and ignored by
 * the loader. store_file_replace: write, fsync, rename, fsync the
 * directory; the caller holds the lock.
 */
char		*store_domain_path(const struct store *, const char *domain,
		    const char *file);
int		 store_file_replace(const char *path, const void *data,
		    size_t len, mode_t mode, char *err, size_t errlen);
/*
 * store_domain_file_save - KEYSTORE/<domain>/<file> replaced under the
 * lock, as a write of the domain (with a fleet, committed to etcd)
 */
int		 store_domain_file_save(struct store *, const char *domain,
		    const char *file, const void *data, size_t len, char *err,
		    size_t errlen);

#endif
