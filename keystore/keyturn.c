/*
 * keyturn - the operator's command line for the keyturn keystore
 *
 *	keyturn [-c FILE | -K DIR] [--json] COMMAND [ARGS]
 *
 * Global options pick the keystore: -K names it, -c reads its KeyStore
 * setting from a keyturn.conf(5) file, and without either the default
 * configuration file is read when it exists. Each command is one entry in
 * the table below and one function in a cli_*.c file. Exit status: 0 on
 * success, 1 on an operational error, 2 on a usage error; every error goes
 * to stderr and says what to do.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "log.h"

static const struct cli_cmd cli_cmds[] = {
	{ "init", NULL, cmd_init, "" },
	{ "domain", "add", cmd_domain_add, "DOMAIN [--algorithms rsa|ed25519|"
	    "rsa,ed25519] [--bits N] [--active-keys 1-3] [--rotate-after DUR] "
	    "[--retire-after DUR] [--selector-prefix P] [--delegate-to ZONE "
	    "[--slots 2|3] [--slot-selector TPL] [--slot-target TPL] "
	    "[--dns-hold DUR]]" },
	{ "domain", "set", cmd_domain_set, "DOMAIN [--algorithms ...] "
	    "[--bits N] [--active-keys 1-3] [--rotate-after DUR] "
	    "[--retire-after DUR] [--selector-prefix P] [--slots 2|3] "
	    "[--dns-hold DUR]" },
	{ "domain", "list", cmd_domain_list, "[--json]" },
	{ "domain", "remove", cmd_domain_remove, "DOMAIN [--force]" },
	{ "key", "new", cmd_key_new, "DOMAIN [--algorithm rsa|ed25519] "
	    "[--bits N] [--selector S] [--slot N]" },
	{ "key", "import", cmd_key_import, "DOMAIN SELECTOR FILE.pem" },
	{ "list", NULL, cmd_list, "[DOMAIN] [--json]" },
	{ "dns", NULL, cmd_dns, "[DOMAIN] [--zone] [--customer|--provider] "
	    "[--json]" },
	{ "pubkey", NULL, cmd_pubkey, "DOMAIN SELECTOR|KEY-ID" },
	{ "activate", NULL, cmd_activate, "DOMAIN SELECTOR [--force]" },
	{ "retire", NULL, cmd_retire, "DOMAIN SELECTOR [--force]" },
	{ "revoke", NULL, cmd_revoke, "DOMAIN SELECTOR" },
	{ "compromised", NULL, cmd_compromised, "DOMAIN SELECTOR" },
	{ "history", NULL, cmd_history, "DOMAIN [SELECTOR] [--json]" },
	{ "audit", NULL, cmd_audit, "FILE|- [--verify] [--json]" },
	/* rotation commands (cli_rotate.c, rotate/) */
	{ "rotate", NULL, cmd_rotate, "[DOMAIN] [--dry-run]" },
	{ "check", NULL, cmd_check, "DOMAIN [SELECTOR]" },
	{ "status", NULL, cmd_status, "[--json]" },
	/* the signing decision (cli_explain.c, milter/decide.c) */
	{ "explain", NULL, cmd_explain, "[--client ADDR] [--auth LOGIN] "
	    "[--daemon NAME] FILE|- [--json]" },
	/* what a setup gets wrong (cli_doctor.c) */
	{ "doctor", NULL, cmd_doctor, "[--mta postfix|sendmail|none] "
	    "[--postfix-config DIR] [--json]" },
	/* migration (cli_import.c) */
	{ "import", "opendkim", cmd_import_opendkim, "OPENDKIM.CONF "
	    "[--signing-table FILE] [--dry-run]" },
	/* a keystore in etcd (cli_fleet.c) */
	{ "fleet", "status", cmd_fleet_status, "[--json]" },
	{ "fleet", "push", cmd_fleet_push, "" },
};
#define CLI_NCMDS	(sizeof(cli_cmds) / sizeof(cli_cmds[0]))

/* usage - every command, to stdout for -h, to stderr for a usage error */
static int
usage(FILE *f, int status)
{
	size_t i;

	fprintf(f, "usage: keyturn [-c FILE | -K DIR] [--json] COMMAND "
	    "[ARGS]\ncommands:\n");
	for (i = 0; i < CLI_NCMDS; i++)
		fprintf(f, "  %s%s%s %s\n", cli_cmds[i].name,
		    cli_cmds[i].sub ? " " : "",
		    cli_cmds[i].sub ? cli_cmds[i].sub : "", cli_cmds[i].usage);
	return status;
}

/* keystore_dir - -K, else KeyStore of -c or of the default file */
static int
keystore_dir(struct cli *c)
{
	struct kt_conf *conf;

	if (c->keystore != NULL)
		return CLI_OK;
	if ((conf = cli_conf(c)) == NULL)
		return CLI_FAIL;
	c->keystore = conf->keystore;
	return CLI_OK;
}

/* find - the table entry for the command words */
static const struct cli_cmd *
find(int argc, char **argv, int *words)
{
	size_t i;

	for (i = 0; i < CLI_NCMDS; i++) {
		if (strcmp(argv[0], cli_cmds[i].name) != 0)
			continue;
		if (cli_cmds[i].sub == NULL) {
			*words = 1;
			return &cli_cmds[i];
		}
		if (argc > 1 && strcmp(argv[1], cli_cmds[i].sub) == 0) {
			*words = 2;
			return &cli_cmds[i];
		}
	}
	return NULL;
}

/* main - global options, keystore, then one command of the table */
int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cli c = { NULL, NULL, NULL, 0, 0, NULL, NULL };
	const struct cli_cmd *cmd;
	char name[64];
	int ch, words, r;

	log_init("keyturn", 1, LOG_WARNING);
	while ((ch = getopt_long(argc, argv, "+c:K:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': c.conffile = optarg; break;
		case 'K': c.keystore = optarg; break;
		case 'J': c.json = 1; break;
		case 'h': return usage(stdout, CLI_OK);
		default: return usage(stderr, CLI_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		return usage(stderr, CLI_USAGE);
	if ((cmd = find(argc, argv, &words)) == NULL) {
		fprintf(stderr, "keyturn: unknown command \"%s%s%s\"\n",
		    argv[0], argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
		return usage(stderr, CLI_USAGE);
	}
	snprintf(name, sizeof(name), "%s%s%s", cmd->name, cmd->sub ? " " : "",
	    cmd->sub ? cmd->sub : "");
	c.cmdname = name;
	c.usage = cmd->usage;
	c.now = time(NULL);
	/* doctor reads keyturn.conf itself: its errors are findings */
	if (cmd->fn == cmd_doctor || (r = keystore_dir(&c)) == CLI_OK) {
		/* the command sees argv[0] = its last word, options after it */
		optind = 0;
		r = cmd->fn(&c, argc - words + 1, argv + words - 1);
	}
	conf_free(c.conf);
	return r;
}
