/*
 * daemon - keyturnd's life: start as root, serve, reload, stop
 *
 * Processes: after start-up a parent keeps the sockets and restarts the
 * signing child whenever it dies (supervise.h); the child serves.
 * Threads, all in the child: the main thread owns the signals (SIGHUP
 * reloads, SIGTERM and SIGINT stop; the parent forwards them); one thread
 * runs libmilter's smfi_main; one polls the keystore for changes; the
 * services (rotation, fleet). Every other thread is started with those
 * signals blocked.
 */
#ifndef KEYTURN_DAEMON_H
#define KEYTURN_DAEMON_H

#include <sys/types.h>

struct kt_conf;

struct daemon_opts {
	const char	*confpath;
	int		 foreground;
};

/*
 * daemon_block_signals - first thing in main: HUP, TERM and INT stay
 * pending (never fatal) until daemon_run serves and handles them
 */
void	daemon_block_signals(void);
/* daemon_unblock_signals - their default actions again (keyturnd -n) */
void	daemon_unblock_signals(void);
/* daemon_check - keyturnd -n: 0 when config and keystore load, else 1 */
int	daemon_check(struct kt_conf *, const char *confpath);
/*
 * daemon_run - start, then serve until stopped; returns in both processes
 * (the signing child's status in it, keyturnd's in the parent)
 */
int	daemon_run(struct kt_conf *, const struct daemon_opts *);

/* For the service threads (daemon_services in daemon.c): */
/* daemon_sleep - wait ms, or less at shutdown; 1 when stopping, else 0 */
int	daemon_sleep(long long ms);
/* daemon_refresh - a new snapshot now if the keystore changed */
void	daemon_refresh(void);
/*
 * daemon_cancel_fd - a descriptor that becomes readable, and stays so,
 * when keyturnd begins to stop: a rotation pass gives up on it
 */
int	daemon_cancel_fd(void);
/*
 * daemon_pid - the pid operators know (the pid file's, the supervising
 * parent's), the same in the child: what a keyturnd tells others it is
 */
pid_t	daemon_pid(void);

#endif
