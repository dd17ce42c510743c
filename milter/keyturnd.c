/*
 * keyturnd - the keyturn DKIM signing milter
 *
 *	keyturnd [-c FILE] [-f] [-n] [-V]
 *
 * -c names the configuration (default SYSCONFDIR/keyturn.conf), -f stays
 * in the foreground and logs to stderr, -n checks the configuration and
 * the keystore and exits (0, or 1 after one "file:line: error" per
 * problem), -V prints the version. Once started, keyturnd is two
 * processes: a parent that keeps the sockets (the pid file's) and a
 * signing process it restarts if it dies (daemon.c, supervise.c). See
 * keyturnd(8) and keyturn.conf(5).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "log.h"

#define KEYTURND_CONF	SYSCONFDIR "/keyturn.conf"

/* usage - exit 2, as for any usage error */
static void
usage(void)
{
	fprintf(stderr, "usage: keyturnd [-c file] [-f] [-n] [-V]\n");
	exit(2);
}

/* keyturnd_report - configuration errors go to stderr, one per line */
static void
keyturnd_report(const char *msg, void *arg)
{
	fprintf(stderr, "keyturnd: %s\n", msg);
}

/* main - options, configuration, then -n or the daemon */
int
main(int argc, char *argv[])
{
	struct daemon_opts o = { KEYTURND_CONF, 0 };
	struct kt_conf *conf;
	int ch, check = 0;

	daemon_block_signals();
	while ((ch = getopt(argc, argv, "c:fnV")) != -1) {
		switch (ch) {
		case 'c':
			o.confpath = optarg;
			break;
		case 'f':
			o.foreground = 1;
			break;
		case 'n':
			check = 1;
			break;
		case 'V':
			printf("keyturnd %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("keyturnd", 1, LOG_INFO);
	if ((conf = conf_load(o.confpath, keyturnd_report, NULL)) == NULL)
		return 1;
	if (check) {
		daemon_unblock_signals();
		return daemon_check(conf, o.confpath);
	}
	log_setlevel(conf->log_level);
	return daemon_run(conf, &o);
}
