/*
 * privs - who keyturnd runs as
 *
 * "user[:group]" names resolved once, as root; then the one-way drop:
 * setgroups, setresgid, setresuid, and a check that root cannot come back.
 */
#ifndef KEYTURN_PRIVS_H
#define KEYTURN_PRIVS_H

#include <sys/types.h>

struct privs_id {
	uid_t	uid;
	gid_t	gid;
	char	name[64];
};

/* privs_lookup - resolve "user[:group]"; -1 and err when unknown */
int	privs_lookup(const char *spec, struct privs_id *, char *err,
	    size_t errlen);
/*
 * privs_borrow / privs_return - act as id for a while (effective ids
 * only), then be root again: how root reads a keystore that must be owned
 * by the daemon's user.
 */
int	privs_borrow(const struct privs_id *, char *err, size_t errlen);
int	privs_return(char *err, size_t errlen);
/* privs_drop - become id for good; -1 and err on any failure */
int	privs_drop(const struct privs_id *, char *err, size_t errlen);

#endif
