/*
 * supervise - keyturnd's two processes: a parent that keeps the listening
 * sockets and restarts the signing child whenever it dies
 *
 * One bad packet must not take every session of every connection down
 * with it, nor leave the MTA with a socket nobody answers: after start-up
 * (sockets opened, keystore read, pid file written, privileges dropped)
 * keyturnd forks, and the child serves while the parent waits. When the
 * child dies of a signal or exits non-zero, the parent logs it and forks
 * another on the same listening sockets at once; connections that come
 * meanwhile wait in the socket's backlog. Only the sessions the dead
 * child held are lost, and the MTA applies its milter default action to
 * their messages.
 */
#ifndef KEYTURN_SUPERVISE_H
#define KEYTURN_SUPERVISE_H

#include <sys/types.h>

#define SUPERVISE_CHILD	0	/* in a new child: serve, then exit */
#define SUPERVISE_EXIT	1	/* in the parent: keyturnd is done */

/*
 * supervise_run - fork the signing child and watch it, forwarding SIGHUP,
 * SIGTERM and SIGINT to it (those that came while the caller kept them
 * blocked included); the child starts with them blocked. Returns
 * SUPERVISE_CHILD in each child, and SUPERVISE_EXIT in the parent when
 * keyturnd is to exit with *status: after a stop, the child's status; a
 * first child that never served, its status (a start-up error); a child
 * that exits 0 unasked, 0. sockpath, a unix socket's file or NULL, is
 * removed by the parent when a stop finds no child to do it.
 */
int	supervise_run(const char *sockpath, int *status);

/* For the child: */
/* supervise_ready - the child serves: the parent stops counting it as start-up */
void	supervise_ready(void);
/* supervise_lifeline - readable (end of file) once the parent is gone */
int	supervise_lifeline(void);
/* supervise_restarts - how many children came before this one */
unsigned int supervise_restarts(void);
/* supervise_hups - the SIGHUPs the parent had forwarded before this child */
unsigned int supervise_hups(void);
/* supervise_parent - the parent's pid (the pid file's), in either process */
pid_t	supervise_parent(void);

#endif
