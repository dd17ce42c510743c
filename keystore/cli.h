/*
 * cli - what the keyturn(8) command modules share
 *
 * Each command is a function of (context, argc, argv) returning the exit
 * status: CLI_OK, CLI_FAIL (operational error, message on stderr) or
 * CLI_USAGE. The command table lives in keyturn.c; a module adds its
 * commands there (the rotation commands rotate, check and status go in
 * the section marked for them).
 */
#ifndef KEYTURN_CLI_H
#define KEYTURN_CLI_H

#include <stdio.h>
#include <time.h>

#include "store.h"

#define CLI_OK		0
#define CLI_FAIL	1
#define CLI_USAGE	2

#define CLI_CONF_DEFAULT	SYSCONFDIR "/keyturn.conf"

struct kt_conf;

struct cli {
	const char	*conffile;	/* -c */
	const char	*keystore;	/* -K, or KeyStore from the config */
	struct kt_conf	*conf;		/* read by cli_conf, or NULL */
	int		 json;		/* --json */
	time_t		 now;
	const char	*cmdname;	/* "domain add", for messages */
	const char	*usage;		/* the command's usage line */
};

typedef int cli_fn(struct cli *, int argc, char **argv);

/* The long options every command takes (getopt.h's struct option). */
#define CLI_COMMON_OPTS \
	{ "json", no_argument, NULL, 'J' }, \
	{ "help", no_argument, NULL, 'h' }

struct cli_cmd {
	const char	*name;
	const char	*sub;		/* second word, or NULL */
	cli_fn		*fn;
	const char	*usage;		/* arguments after the command words */
};

/* cli_util.c */
struct kt_conf *cli_conf(struct cli *);
int	 cli_usage(struct cli *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
int	 cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
struct store *cli_open(struct cli *, int rdonly);
struct store *cli_open_local(struct cli *, int rdonly);
/* cli_fleet.c */
struct fleet *cli_fleet(struct cli *, int *failed);
int	 cli_fleet_sync(struct cli *, struct store *, int rdonly);
int	 cli_fleet_init(struct cli *);
int	 cmd_fleet_status(struct cli *, int, char **);
int	 cmd_fleet_push(struct cli *, int, char **);
int	 cli_getopt(struct cli *, int argc, char **argv, const char *shortopts,
	    const void *longopts, int *idx);
char	*cli_lower(const char *);
char	*cli_age(long long secs, char *buf, size_t len);
void	 cli_json_str(FILE *, const char *);
void	 cli_json_sep(int *first);
void	 cli_zone_line(FILE *, const char *name, const char *value);
void	 cli_zone_cname(FILE *, const char *name, const char *target);
int	 cli_slot_cnames(FILE *, const char *domain,
	    const struct store_policy *);
char	*cli_dns_name(const char *selector, const char *domain);
int	 cli_parse_int(const char *opt, const char *s, int min, int max,
	    int *out);

/* commands */
int	 cmd_init(struct cli *, int, char **);
int	 cmd_domain_add(struct cli *, int, char **);
int	 cmd_domain_set(struct cli *, int, char **);
int	 cmd_domain_list(struct cli *, int, char **);
int	 cmd_domain_remove(struct cli *, int, char **);
int	 cmd_key_new(struct cli *, int, char **);
int	 cmd_key_import(struct cli *, int, char **);
int	 cmd_activate(struct cli *, int, char **);
int	 cmd_retire(struct cli *, int, char **);
int	 cmd_revoke(struct cli *, int, char **);
int	 cmd_compromised(struct cli *, int, char **);
int	 cmd_list(struct cli *, int, char **);
int	 cmd_dns(struct cli *, int, char **);
int	 cmd_pubkey(struct cli *, int, char **);
int	 cmd_history(struct cli *, int, char **);
int	 cmd_audit(struct cli *, int, char **);
int	 cmd_rotate(struct cli *, int, char **);
int	 cmd_check(struct cli *, int, char **);
int	 cmd_status(struct cli *, int, char **);
int	 cmd_explain(struct cli *, int, char **);
int	 cmd_doctor(struct cli *, int, char **);
int	 cmd_import_opendkim(struct cli *, int, char **);

#endif
