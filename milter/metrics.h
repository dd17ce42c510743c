/*
 * metrics - keyturnd's counters, served as /metrics (Prometheus text)
 *
 * The signing threads only add to atomic counters (relaxed order): no
 * lock, no allocation, no system call. The rotation thread publishes what
 * one pass saw (keys by state, open alarms) under a mutex that only it
 * and the HTTP thread take. The HTTP server (libmicrohttpd) has its own
 * thread; its socket is bound as root by metrics_listen, before the
 * privilege drop, and served by metrics_start after it.
 */
#ifndef KEYTURN_METRICS_H
#define KEYTURN_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "dkim.h"
#include "policy.h"

struct store_domain;

/* Why a message passed unsigned: the label values of reason="..." */
enum metrics_unsigned {
	MU_CLIENT_NOT_INTERNAL,	/* neither InternalHosts nor SMTP AUTH */
	MU_DAEMON_NAME,		/* {daemon_name} not in DaemonNames */
	MU_NO_FROM,		/* no From field */
	MU_FROM_ERROR,		/* several From, several mailboxes, bad */
	MU_DOMAIN_UNKNOWN,	/* From domain in no keystore or table */
	MU_LOGIN_MISMATCH,	/* SenderLogins, SenderMismatch none */
	MU_ALREADY_SIGNED,	/* a signature of this keystore is there */
	MU_HEADER_ERROR,	/* a header field the engine refused */
	MU_ONERROR_ACCEPT,	/* could not sign, OnError accept */
	MU_N
};

/* Why a message was tempfailed: the label values of cause="..." */
enum metrics_tempfail {
	MT_SHUTTING_DOWN,	/* began after SIGTERM */
	MT_NO_ACTIVE_KEY,	/* a signing domain has no active key */
	MT_DOMAIN_UNUSABLE,	/* its keystore files do not load */
	MT_DOMAIN_MISSING,	/* a table names a domain not in the keystore */
	MT_SIGNING_ERROR,	/* the signature could not be made */
	MT_MTA_REFUSED,		/* the MTA refused the header field */
	MT_LOGIN_MISMATCH,	/* SenderLogins, SenderMismatch tempfail */
	MT_OUT_OF_MEMORY,	/* no memory for the message */
	MT_N
};

/* metrics_signed - one message signed, with these algorithms, in ns */
void	metrics_signed(const struct dkim_sign *, size_t n, long long ns);
void	metrics_unsigned(enum metrics_unsigned);
void	metrics_tempfail(enum metrics_tempfail);
/* metrics_rejected - SenderMismatch reject */
void	metrics_rejected(void);

/* metrics_snapshot_installed - a new snapshot signs from now on */
void	metrics_snapshot_installed(time_t now);
/*
 * metrics_pass_stats - what one pass asked of DNS: domains passed, their
 * keys, propagation checks and DNS queries (totals carry on)
 */
void	metrics_pass_stats(unsigned long long domains, unsigned long long keys,
	    unsigned long long checked, unsigned long long queries);
/* metrics_keystore_moved - the keystore generation followed, and writes */
void	metrics_keystore_moved(uint64_t generation, unsigned writes);

/*
 * The rotation thread, and only it: a pass begins, each domain's keys
 * are counted and each alarm noted, and the pass's end publishes them.
 */
void	metrics_pass_begin(void);
void	metrics_pass_keys(const struct store_domain *);
void	metrics_pass_alarm(const char *domain, const char *selector);
void	metrics_pass_error(void);
void	metrics_pass_end(time_t now, long long ms);
/* metrics_pass_abort - the pass could not read the keystore at all */
void	metrics_pass_abort(void);
/* metrics_action - one rotation action, carried out or failed */
void	metrics_action(enum pol_act, int failed);

/*
 * metrics_listen - bind and listen on "address:port" (root may take a
 * port below 1024); 0, or -1 with err
 */
int	metrics_listen(const char *addrport, char *err, size_t errlen);
/* metrics_start - serve the socket from metrics_listen; 0 or -1 with err */
int	metrics_start(char *err, size_t errlen);
/* metrics_stop - stop serving and close the socket */
void	metrics_stop(void);
/* metrics_render - the page, malloc'd, its length in *len; NULL: no memory */
char	*metrics_render(time_t now, size_t *len);

#endif
