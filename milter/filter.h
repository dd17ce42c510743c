/*
 * filter - keyturnd's libmilter callbacks
 *
 * The edge between libmilter and the rest: each callback turns an MTA event
 * into a call on decide, snapshot and the signing engine.
 */
#ifndef KEYTURN_FILTER_H
#define KEYTURN_FILTER_H

/* filter_register - smfi_register the callbacks; 0 or -1 */
int		filter_register(void);
/* filter_stop - messages that begin from now on get tempfail, uncounted */
void		filter_stop(void);
/* filter_inflight - messages between MAIL and end of message or abort */
unsigned int	filter_inflight(void);
/* filter_sessions - open MTA connections */
unsigned int	filter_sessions(void);
/* filter_idle_ms - milliseconds since the last callback (LLONG_MAX: none) */
long long	filter_idle_ms(void);

#endif
