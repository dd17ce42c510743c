/*
 * store_int - what the keystore's own files share and nobody else sees
 *
 * The layout constants, the struct store behind the opaque handle, and the
 * helpers that read, check and replace files (storefile.c), parse and
 * format the per-domain files (storefmt.c) and commit a change
 * (storewrite.c).
 */
#ifndef KEYTURN_STORE_INT_H
#define KEYTURN_STORE_INT_H

#include <sys/stat.h>

#include "store.h"

#define STORE_VERSION_FILE	"keyturn.keystore"
#define STORE_LOCK_FILE		"lock"
#define STORE_GEN_FILE		"generation"
#define STORE_JOURNAL_FILE	"journal"
#define STORE_REMOVED_DIR	".removed"
#define STORE_INVALID_DIR	".invalid-name"	/* never created */
#define STORE_POLICY		"policy"
#define STORE_STATE		"state"
#define STORE_HISTORY		"history"
#define STORE_KEYS		"keys"

#define STORE_COMPROMISE	0x100	/* store_apply: any state -> revoked */

struct store {
	char	*dir;
	int	 flags;
	int	 lockfd;
	int	 lockdepth;
	uid_t	 owner;		/* every file and directory belongs to it */
	uint64_t jgen;		/* the journal line of the write under way */
	char	*jdomain;	/* ... and its domain; swrite_bump clears */
	struct fleet *fleet;	/* writes go through etcd (fleet.h) */
	struct etcd *etcd;	/* this store's client, made on first use */
	struct fleet_snap *fsnap; /* what the write under way read */
	int	 fdepth;	/* nested sfleet_begin */
};

/* storefile.c: files, modes, atomic replacement */
#define SFILE_SECRET	0x01	/* a private key: no group/other bits at all */
#define SFILE_OPTIONAL	0x02	/* a missing file is not an error (-2) */
int	 sfile_read(uid_t owner, const char *path, int flags, char **buf,
	    size_t *len,
	    struct stat *st, char *err, size_t errlen);
int	 sfile_check_dir(uid_t owner, const char *path, char *err,
	    size_t errlen);
int	 sfile_fsync_dir(const char *dir, char *err, size_t errlen);
void	 sfile_batch_begin(void);
int	 sfile_batch_end(const char *dir, char *err, size_t errlen);
int	 sfile_mkdir(const char *path, char *err, size_t errlen);
void	 sfile_rmtree(const char *path);
void	 sfile_clean_tmp(const char *dir);
void	 sfile_clean_top(const char *dir);
void	 sfile_wipe_free(char *buf, size_t len);
int	 sfile_replace(const char *path, const void *data, size_t len,
	    mode_t mode, int *renamed, char *err, size_t errlen);

/* storefmt.c: policy, state and history text */
char	*sfmt_policy(const struct store_policy *);
int	 sfmt_policy_parse(const char *path, const char *buf, size_t len,
	    struct store_policy *, char *err, size_t errlen);
char	*sfmt_state(const struct store_domain *);
int	 sfmt_state_parse(const char *path, const char *buf, size_t len,
	    struct store_domain *, char *err, size_t errlen);
char	*sfmt_event(time_t, const struct store_key *k, int from, int to,
	    int with_pub, const char *reason);
int	 sfmt_history_parse(const char *path, const char *buf, size_t len,
	    struct store_event **, size_t *, char *err, size_t errlen);
#define SFMT_HISTORY_HEADER	"keyturn-history 1\n"
#define SFMT_V1		1	/* policy and state of plain domains */
#define SFMT_V2		2	/* ... of delegated domains */

/* storeload.c */
struct store_domain *sload_domain(struct store *, const char *name,
	    int flags, int with_policy, char *err, size_t errlen);
int	 sload_key(struct store *, const char *domain, struct store_key *,
	    char *err, size_t errlen);
struct store_domain *sload_new(void);
int	 sload_own_file(const char *name);
const char *spol_why(const struct store_policy *, unsigned field);
int	 sload_check_slots(const struct store *, const struct store_domain *,
	    char *err, size_t errlen);
/* policy fields without a STORE_POL_* bit of their own, for spol_why */
#define SPOL_DELEGATE	0x100u
#define SPOL_SLOTSEL	0x200u
#define SPOL_SLOTTGT	0x400u
/* storekey.c */
EVP_PKEY *skey_generate(enum store_alg, int bits, char *err, size_t errlen);
int	 skey_check_bits(enum store_alg, int bits, char *err, size_t errlen);
int	 skey_describe(EVP_PKEY *, enum store_alg *, int *bits, char *err,
	    size_t errlen);
int	 skey_pem(EVP_PKEY *, char **pem, size_t *len, char *err,
	    size_t errlen);
int	 skey_key_pub(struct store_key *, char *err, size_t errlen);
char	*skey_file_name(const struct store_key *);
EVP_PKEY *skey_load(const char *name, const char *buf, size_t len,
	    enum store_alg, char *err, size_t errlen);
EVP_PKEY *skey_parse(const char *name, const char *buf, size_t len,
	    int validate, char *err, size_t errlen);

/* storewrite.c */
off_t	 swrite_history(const char *path, off_t committed, char **lines,
	    size_t n, char *err, size_t errlen);
int	 swrite_commit(struct store *, struct store_domain *, char **lines,
	    size_t nlines, char *err, size_t errlen);
int	 swrite_bump(struct store *, char *err, size_t errlen);
/* storejournal.c */
int	 swrite_journal(struct store *, const char *domain, char *err,
	    size_t errlen);
struct store_domain *swrite_begin(struct store *, const char *domain,
	    char *err, size_t errlen);
int	 swrite_end(struct store *, struct store_domain *, int r,
	    char *err, size_t errlen);
/* fleet.c: a write's first and last steps with a fleet (fleet.h) */
int	 sfleet_begin(struct store *, const char *domain, char *err,
	    size_t errlen);
int	 sfleet_end(struct store *, const char *domain, int r, char *err,
	    size_t errlen);
char	*store_path(const struct store *, const char *a, const char *b,
	    const char *c);

#endif
