/*
 * decide - whether keyturnd signs a message, and with what
 *
 * Pure functions of (configuration, snapshot, what the MTA told us, now):
 * no libmilter, no clock, no I/O, so that the Check tests drive them
 * directly. Each "no" comes with the reason the daemon logs.
 */
#ifndef KEYTURN_DECIDE_H
#define KEYTURN_DECIDE_H

#include <sys/socket.h>
#include <time.h>

#include "dkim.h"
#include "signtable.h"
#include "snapshot.h"

struct kt_conf;

/* What the MTA told us about the client and the session. */
struct decide_client {
	const struct sockaddr	*addr;		/* AF_INET/6; NULL: none */
	int			 unix_socket;	/* came over AF_UNIX */
	const char		*hostname;	/* the MTA's name for it */
	const char		*auth_authen;	/* {auth_authen} or NULL */
	const char		*auth_type;	/* {auth_type} or NULL */
	const char		*daemon_name;	/* {daemon_name} or NULL */
};

/*
 * decide_client - 1 when the client may have its mail signed (internal
 * host or SMTP AUTH, on an allowed daemon), 0 with *why set otherwise.
 * Internal: an address in InternalHosts, a client on a unix socket, or a
 * client without an address whose hostname is exactly "localhost"
 * (Sendmail's local submissions); any other client without an address
 * (XCLIENT ADDR=[UNAVAILABLE], a proxy) is external.
 */
int	decide_client(const struct kt_conf *, const struct decide_client *,
	    char *why, size_t whylen);

/* decide_authenticated - did the session authenticate (SMTP AUTH)? */
int	decide_authenticated(const struct decide_client *);

/*
 * decide_plan - one signature per algorithm, each with the next key of its
 * round-robin, in a stable order (rsa-sha256 first). Returns the number of
 * signatures in out; 0 with *why set when the domain cannot sign (failed
 * to load, or no active key of a configured algorithm).
 */
size_t	decide_plan(const struct snapshot *, struct snap_domain *, time_t now,
	    struct dkim_sign out[SNAP_NALG], char *why, size_t whylen);

/* The most signatures one message gets: its domains, each per algorithm. */
#define DECIDE_MAXDOMAINS	(SIGNTABLE_MAXDOMAINS + 1)	/* + platform */
#define DECIDE_MAXSIGS		(DECIDE_MAXDOMAINS * SNAP_NALG)
#define DECIDE_MAXSEEN		16	/* DKIM-Signature fields looked at */
#define DECIDE_SEENMAX		4096	/* ... and their longest value */

/* What the message says, as the engine parsed it. */
struct decide_msg {
	const char		*from_local;	/* lowercased; NULL: unknown */
	const char		*from_domain;	/* NULL: from_err says why */
	const char		*from_err;
	const char		*login;		/* {auth_authen}, or NULL */
	int			 authenticated;	/* SMTP AUTH ({auth_type} too) */
	const struct dkim_value	*sigs;		/* DKIM-Signature values */
	size_t			 nsigs;
};

/*
 * What decide_gather takes from a message the engine holds: the buffers
 * behind a struct decide_msg.
 */
struct decide_gathered {
	struct decide_msg	 m;
	char			 local[256];
	char			 domain[256];
	char			 err[256];
	struct dkim_value	 sigs[DECIDE_MAXSEEN];
};

/*
 * decide_gather - From (address or why not), the DKIM-Signature fields
 * and the login, as keyturnd and keyturn explain both hand them to
 * decide_message; g->m points into g and msg
 */
void	decide_gather(const struct dkim_msg *, const char *login,
	    int authenticated, struct decide_gathered *g);

/* Why a message is not signed, for counting (the words are in why). */
enum decide_reason {
	DR_NONE,		/* signed */
	DR_FROM,		/* no From, several, or unparsable */
	DR_LOGIN,		/* SenderLogins refused (mismatch set) */
	DR_HEADER,		/* a header the engine refused */
	DR_UNKNOWN,		/* From domain in no keystore or table */
	DR_ALREADY,		/* every domain signed it already */
	DR_MISSING,		/* a signing domain not in the keystore */
	DR_UNUSABLE,		/* a signing domain that does not load */
	DR_NOKEY		/* a signing domain without an active key */
};

enum decide_verdict {
	DECIDE_SIGN,		/* sign with out->sign[0..nsign) */
	DECIDE_PASS,		/* pass unsigned */
	DECIDE_TEMPFAIL,	/* 451 4.7.1: the MTA keeps the mail */
	DECIDE_REJECT		/* 550 5.7.1 (SenderMismatch reject) */
};

struct decide_out {
	enum decide_verdict	 verdict;
	int			 mismatch;	/* SenderLogins refused it */
	enum decide_reason	 reason;
	int			 failed;	/* a domain that should sign
						 * cannot (OnError) */
	int			 rule;		/* SigningTable line of the
						 * author domains; 0: the From
						 * domain; -1: none */
	char			 why[512];	/* unless DECIDE_SIGN; with it,
						 * a note when PlatformDomain
						 * alone signs */
	struct dkim_sign	 sign[DECIDE_MAXSIGS];
	size_t			 nsign;
	/* the domains sign[] and why point into, held until decide_release */
	struct snap_domain	*held[DECIDE_MAXDOMAINS];
	size_t			 nheld;
};

/*
 * decide_release - drop the domains a decision holds (their keys and
 * names); after decide_message, once the signatures are made or refused.
 * The header lists (sign[].hdrs) are the snapshot's: the caller keeps
 * the snapshot until then too.
 */
void	decide_release(struct decide_out *);

/*
 * decide_message - the end-of-message decision, for a client decide_client
 * let through: whether to sign, with which d= and keys, or why not. In
 * order: From (none, several, or unparsable: pass); SenderLogins for an
 * authenticated session (SenderMismatch); the SigningTable's first rule
 * for the From address, else the From domain in the keystore
 * (SubDomains); PlatformDomain added; a domain that signed the message
 * already with a key of this keystore left out (never twice; pass when
 * that leaves none). A domain named by a rule or PlatformDomain that
 * cannot sign (not in the keystore, unusable, no active key) gets the
 * failure policy (OnError), as does an author domain of the keystore.
 */
void	decide_message(const struct snapshot *, const struct decide_msg *,
	    time_t now, struct decide_out *);

/*
 * decide_unreadable - the decision for a message whose header the engine
 * refused (err): pass unsigned, or, for an authenticated session under
 * SenderLogins, what SenderMismatch says (its From went unchecked)
 */
void	decide_unreadable(const struct snapshot *, const struct decide_msg *,
	    const char *err, struct decide_out *);

/* decide_verdict_name - "sign", "pass", "tempfail", "reject" */
const char *decide_verdict_name(enum decide_verdict);

/*
 * decide_expiry - x= for t=now: min(now + ttl, revoke_at), the key's
 * planned revocation (0: none planned); 0, no x=, when ttl is 0 or
 * revoke_at is not later than now
 */
time_t	decide_expiry(time_t now, long long ttl, time_t revoke_at);

#endif
