/*
 * daemon - keyturnd's life: start as root, serve, reload, stop
 *
 * Threads: the main thread owns the signals (SIGHUP reloads, SIGTERM and
 * SIGINT stop); one thread runs libmilter's smfi_main; one polls the
 * keystore for changes. Every other thread is started with those signals
 * blocked.
 */
#ifndef KEYTURN_DAEMON_H
#define KEYTURN_DAEMON_H

struct kt_conf;

struct daemon_opts {
	const char	*confpath;
	int		 foreground;
};

/* daemon_check - keyturnd -n: 0 when config and keystore load, else 1 */
int	daemon_check(struct kt_conf *, const char *confpath);
/* daemon_run - serve until stopped; the exit status */
int	daemon_run(struct kt_conf *, const struct daemon_opts *);

#endif
