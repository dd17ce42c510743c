/*
 * cli_doctor - what keyturn doctor's checks share
 *
 * A check adds findings (doc_add): what is wrong, on which file, key or
 * socket, and the exact fix. cli_doctor.c reads keyturn.conf, the
 * keystore and DNS, prints the findings and runs the command;
 * cli_doctor_mta.c looks at keyturnd's socket as the MTA finds it, and at
 * Postfix's chroot and milter settings.
 */
#ifndef KEYTURN_CLI_DOCTOR_H
#define KEYTURN_CLI_DOCTOR_H

#include <sys/types.h>
#include <sys/stat.h>

#include "cli.h"
#include "conf.h"

#define DOC_MTA_NONE		0
#define DOC_MTA_POSTFIX		1
#define DOC_MTA_SENDMAIL	2
#define DOC_NGROUPS		64

struct doc_finding {
	char	*check, *subject, *problem, *fix;
};

/* A user as the kernel checks its access: uid and every group. */
struct doc_user {
	char	 name[64];
	uid_t	 uid;
	gid_t	 groups[DOC_NGROUPS];	/* the primary group first */
	int	 ngroups;
};

struct doc {
	struct cli		*c;
	struct kt_conf		*conf;
	const char		*confpath;	/* NULL: the defaults */
	const char		*keystore;
	char			*kt;	/* "keyturn -c FILE" */
	int			 mta;	/* DOC_MTA_* */
	const char		*pfdir;	/* Postfix configuration */
	int			 pfgiven;	/* --postfix-config */
	int			 sockbad;	/* Socket reported */
	int			 ksbad;	/* the keystore itself reported */
	struct doc_user		 mtau;	/* who connects */
	struct doc_finding	*v;
	size_t			 n;
	int			 nmode;	/* keystore mode findings */
	long			 nbadown;	/* keystore entries */
	char			*badown;	/* the first of them */
};

/* doc_add - one finding; problem and fix (malloc'd) are taken over */
void	 doc_add(struct doc *, const char *check, const char *subject,
	    char *problem, char *fix);
/* doc_conf_where - "edit FILE line N: what" or "add to FILE: what" */
char	*doc_conf_where(struct doc *, int line, const char *what);
/* doc_user - the user name and its groups; 0 or -1 when unknown */
int	 doc_user(const char *name, struct doc_user *);
/*
 * doc_reach - the first directory above path that the user cannot search
 * (malloc'd, its stat in *bad), or NULL
 */
char	*doc_reach(const struct doc_user *, const char *path,
	    struct stat *bad);
/* doc_socket - keyturnd's socket and the MTA's settings (cli_doctor_mta.c) */
void	 doc_socket(struct doc *);

#endif
