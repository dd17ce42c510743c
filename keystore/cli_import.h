/*
 * cli_import - what the two halves of keyturn import opendkim share
 *
 * cli_import_odk.c reads OpenDKIM's configuration and datasets into a
 * struct imp; cli_import.c runs the command on it: DNS, the keystore,
 * the SigningTable file and the keyturn.conf lines. Private to them.
 */
#ifndef KEYTURN_CLI_IMPORT_H
#define KEYTURN_CLI_IMPORT_H

#include <stddef.h>

#include "signtable.h"
#include "store.h"

#define IMP_PEM_MAX	(64 * 1024)	/* larger is not a key file */

/* The opendkim.conf keywords translated or checked. */
enum imp_kw {
	KW_KEYTABLE, KW_SIGNINGTABLE, KW_INTERNALHOSTS, KW_DOMAIN,
	KW_SELECTOR, KW_KEYFILE, KW_OVERSIGN, KW_MULTISIG, KW_SUBDOMAINS,
	KW_SIGTTL, KW_SIGALG, KW_N
};

/* One setting: its value and where it was given. */
struct imp_set {
	char		*value;
	char		*file;
	int		 line;
};

/* One key of the KeyTable (or of Domain, Selector and KeyFile). */
struct imp_key {
	char		*name;		/* KeyTable key name */
	char		*domain;	/* d=, lowercase */
	char		*selector;
	char		*path;
	char		*file;		/* where it was given */
	int		 line;
	size_t		 same;		/* an earlier entry of this key: its
					   index + 1, 0 for none */
	char		*pem;		/* the file, read by the invoker */
	size_t		 pemlen;
	enum store_alg	 alg;
	int		 bits;
	char		*spki, *p;
	int		 served;	/* every nameserver serves it */
	char		*dns;		/* what DNS said */
	int		 skip;		/* already in the keystore */
};

/* One translated SigningTable rule. */
struct imp_rule {
	char		*pattern;	/* canonical (table_pattern) */
	char		*domains[SIGNTABLE_MAXDOMAINS];
	size_t		 ndomains;
	char		*file;
	int		 line;
	int		 rank;		/* 0 user@d, 1 d, 2 .d */
	size_t		 order;
};

/* One import. */
struct imp {
	const char	*conffile;
	struct imp_set	 set[KW_N];
	struct imp_key	*keys;
	size_t		 nkeys;
	struct imp_rule	*rules;
	size_t		 nrules;
	int		 refile;	/* the SigningTable is a refile */
	int		 multisig;
	char		*hosts;		/* InternalHosts, keyturn syntax */
	int		 nhosts;
	char		*catchall;	/* PlatformDomain suggestion */
	int		 errors;
	char		*table;		/* --signing-table, absolute */
	char		*tabletext;
	char		*tabletmp;	/* written, renamed once all is done */
	int		 tablesame;	/* the file already says it */
};

/* One line of an OpenDKIM file, handed to imp_lines's caller. */
typedef void imp_line_fn(struct imp *, const char *file, int line,
    char *key, char *value, void *arg);

/* cli_import_odk.c */
void	 imp_err(struct imp *, const char *, int, const char *, ...)
    __attribute__((format(printf, 4, 5)));
void	 imp_warn(const char *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));
int	 imp_lines(struct imp *, const char *, imp_line_fn *, void *);
void	 imp_conf_line(struct imp *, const char *, int, char *, char *,
    void *);
int	 imp_bool(const struct imp_set *);
void	 imp_keytable(struct imp *);
void	 imp_single(struct imp *);
void	 imp_signtable(struct imp *);
void	 imp_hosts(struct imp *);

#endif
