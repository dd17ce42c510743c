/*
 * rotation_thread - the rotation module inside keyturnd
 *
 * rotation_thread is one of the daemon's service threads (daemon.c,
 * daemon_services): while Rotation is yes it runs a rotation pass over
 * every domain each RotationInterval, with its own keystore handle, and
 * has the daemon rebuild its snapshot when a pass changed the keystore.
 * It returns when the daemon stops (daemon_sleep).
 */
#ifndef KEYTURN_ROTATION_THREAD_H
#define KEYTURN_ROTATION_THREAD_H

void	*rotation_thread(void *);

#endif
