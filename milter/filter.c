/*
 * filter - the libmilter callbacks of keyturnd
 *
 * Negotiation: only connect, MAIL, DATA, header, body, end of message,
 * abort and close are used. The MTA is asked not to send HELO, RCPT, end
 * of header and unknown commands, and to expect no reply to connect, MAIL,
 * header and body (SMFIP_NR_*; libmilter fakes the reply for an MTA that
 * cannot do without). DATA keeps its reply: the signing decision is made
 * there, where Postfix has a queue id to log, and a message that is not
 * ours is answered SMFIS_ACCEPT, so the MTA does not send its header and
 * body.
 * SMFIP_HDR_LEADSPC is not requested: under relaxed header canonicalization
 * the space after the colon does not count, and without it the MTA writes
 * "DKIM-Signature: " itself when it inserts our field.
 *
 * Per message: MAIL starts it (in flight for SIGTERM); DATA takes a
 * reference on the current snapshot and decides whether the client may be
 * signed for (an MTA without DATA: the first header); headers go to
 * dkim_msg_header as
 * the MTA gives them (Postfix: folded with bare LF, leading space
 * stripped), body chunks to dkim_msg_body (hashed as they stream); the end
 * of message picks the domain and keys and inserts the signatures at the
 * top. Every log line starts with the queue id.
 *
 * Metrics: where a message's outcome is logged it is also counted
 * (metrics.h), as signed (by algorithm, with the time from the end of the
 * message to the signatures inserted), unsigned (by reason), tempfailed
 * (by cause) or rejected; atomic adds, nothing more on this path.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <time.h>

#include <libmilter/mfapi.h>

#include "conf.h"
#include "decide.h"
#include "dkim.h"
#include "filter.h"
#include "log.h"
#include "metrics.h"
#include "snapshot.h"
#include "xmalloc.h"

/* One MTA connection; at most one message at a time. */
struct filter_conn {
	struct sockaddr_storage	 addr;
	int			 has_addr;	/* AF_INET or AF_INET6 */
	int			 unix_socket;	/* AF_UNIX client */
	char			 host[256];	/* the MTA's name for it */
	int			 inmsg;		/* between MAIL and its end */
	int			 begun;		/* filter_begin ran */
	int			 down;		/* keyturnd stops: tempfail */
	struct snapshot		*snap;		/* held for the message */
	struct dkim_msg		*msg;		/* NULL: not signing */
	char			*login;		/* {auth_authen}, or NULL */
	int			 authenticated;	/* SMTP AUTH */
	char			 herr[256];	/* first header error */
	int			 bad;
	int			 nomem;		/* out of memory: tempfail */
};

static atomic_uint filter_nmsg;
static atomic_int filter_stopping;	/* filter_stop was called */
static atomic_uint filter_nconn;
static atomic_llong filter_last_ms;	/* last callback, CLOCK_MONOTONIC */
/*
 * The SMFIP_* flags negotiated. Process-wide rather than per connection:
 * after SMFIC_QUIT_NC libmilter reuses the negotiated context for a new
 * session (close, then connect, no new negotiation), and libmilter offers
 * the same flags to every connection since it fakes the NR_* steps.
 */
static atomic_ulong filter_pflags;

/* filter_inflight - what SIGTERM must wait for */
unsigned int
filter_inflight(void)
{
	return atomic_load(&filter_nmsg);
}

/* filter_sessions - open connections, for the drain's last moment */
unsigned int
filter_sessions(void)
{
	return atomic_load(&filter_nconn);
}

/* filter_now_ns - a clock that no date change moves */
static long long
filter_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* filter_now_ms - the same clock, for the drain */
static long long
filter_now_ms(void)
{
	return filter_now_ns() / 1000000;
}

/*
 * filter_touch - every callback, at its start and as a message ends: a
 * reply libmilter sends after the callback returns is covered by the
 * drain's linger after the last activity. Stored only when the
 * millisecond changed: every thread's callbacks would otherwise pull the
 * one cache line from CPU to CPU.
 */
static void
filter_touch(void)
{
	long long now = filter_now_ms();

	if (atomic_load_explicit(&filter_last_ms, memory_order_relaxed) != now)
		atomic_store(&filter_last_ms, now);
}

/* filter_idle_ms - since the last callback; large when there was none */
long long
filter_idle_ms(void)
{
	long long last = atomic_load(&filter_last_ms);

	return last == 0 ? LLONG_MAX : filter_now_ms() - last;
}

/* filter_qid - the queue id for log lines; Postfix may not know it at MAIL */
static const char *
filter_qid(SMFICTX *ctx)
{
	const char *q = smfi_getsymval(ctx, "i");

	return q != NULL && *q != '\0' ? q : "NOQUEUE";
}

/* filter_conn_get - the connection state, made at negotiation or connect */
static struct filter_conn *
filter_conn_get(SMFICTX *ctx)
{
	struct filter_conn *c = smfi_getpriv(ctx);

	filter_touch();
	if (c == NULL) {
		c = xcalloc(1, sizeof(*c));
		smfi_setpriv(ctx, c);
		atomic_fetch_add(&filter_nconn, 1);
	}
	return c;
}

/* filter_noreply - NOREPLY only where it was negotiated, else CONTINUE */
static sfsistat
filter_noreply(unsigned long nr)
{
	return (atomic_load(&filter_pflags) & nr) ? SMFIS_NOREPLY :
	    SMFIS_CONTINUE;
}

/* filter_end - the message is over: drop the engine state and snapshot */
static void
filter_end(struct filter_conn *c)
{
	dkim_msg_free(c->msg);
	c->msg = NULL;
	snapshot_unref(c->snap);
	c->snap = NULL;
	c->bad = 0;
	c->nomem = 0;
	c->begun = 0;
	c->down = 0;
	free(c->login);
	c->login = NULL;
	c->authenticated = 0;
	c->herr[0] = '\0';
	filter_touch();		/* before the count drops: the reply is due */
	if (c->inmsg) {
		c->inmsg = 0;
		atomic_fetch_sub(&filter_nmsg, 1);
	}
}

/* filter_onerror - the failure policy for a domain we sign */
static sfsistat
filter_onerror(SMFICTX *ctx, const struct snapshot *s, const char *why,
    enum metrics_tempfail cause)
{
	if (s->conf->on_error == CONF_ONERROR_ACCEPT) {
		log_warnx("%s: not signed: %s (OnError accept)",
		    filter_qid(ctx), why);
		metrics_unsigned(MU_ONERROR_ACCEPT);
		return SMFIS_ACCEPT;
	}
	log_warnx("%s: tempfail: %s", filter_qid(ctx), why);
	metrics_tempfail(cause);
	smfi_setreply(ctx, "451", "4.7.1", "DKIM signing temporarily unavailable");
	return SMFIS_TEMPFAIL;
}

/* filter_negotiate - ask for the least traffic and the macros we read */
static sfsistat
filter_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0,
    unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	/* no-reply only for steps with a callback that returns NOREPLY */
	static const unsigned long wanted = SMFIP_NOHELO | SMFIP_NORCPT |
	    SMFIP_NOEOH | SMFIP_NOUNKNOWN | SMFIP_NR_CONN | SMFIP_NR_MAIL |
	    SMFIP_NR_HDR | SMFIP_NR_BODY;

	if ((f0 & SMFIF_ADDHDRS) == 0) {
		log_warnx("MTA does not allow adding header fields; "
		    "keyturnd cannot sign through it");
		return SMFIS_REJECT;
	}
	*pf0 = SMFIF_ADDHDRS;
	*pf1 = f1 & wanted;
	*pf2 = *pf3 = 0;
	atomic_store(&filter_pflags, *pf1);
	filter_conn_get(ctx);
	if (f0 & SMFIF_SETSYMLIST) {
		*pf0 |= SMFIF_SETSYMLIST;
		smfi_setsymlist(ctx, SMFIM_CONNECT, "{daemon_name}");
		smfi_setsymlist(ctx, SMFIM_ENVFROM,
		    "{auth_authen} {auth_type}");
		smfi_setsymlist(ctx, SMFIM_DATA, "i");
		smfi_setsymlist(ctx, SMFIM_EOM, "i");
	}
	return SMFIS_CONTINUE;
}

/* filter_connect - the client address (or its absence and name), for later */
static sfsistat
filter_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	struct filter_conn *c = filter_conn_get(ctx);

	c->has_addr = 0;
	c->unix_socket = sa != NULL && sa->sa_family == AF_UNIX;
	snprintf(c->host, sizeof(c->host), "%s", host != NULL ? host : "");
	if (sa != NULL && (sa->sa_family == AF_INET ||
	    sa->sa_family == AF_INET6)) {
		memcpy(&c->addr, sa, sa->sa_family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
		c->has_addr = 1;
	}
	return filter_noreply(SMFIP_NR_CONN);
}

/*
 * filter_inflight_mark - the message counts for SIGTERM until filter_end,
 * unless it began after filter_stop: then it is tempfailed at DATA and
 * not waited for. Counted first, checked after: either the drain sees
 * the count or the message sees the stop.
 */
static void
filter_inflight_mark(struct filter_conn *c)
{
	if (c->inmsg || c->down)
		return;
	atomic_fetch_add(&filter_nmsg, 1);
	if (atomic_load(&filter_stopping)) {
		atomic_fetch_sub(&filter_nmsg, 1);
		c->down = 1;
		return;
	}
	c->inmsg = 1;
}

/* filter_stop - SIGTERM: messages that begin from now on get tempfail */
void
filter_stop(void)
{
	atomic_store(&filter_stopping, 1);
}

/* filter_envfrom - a message starts: in flight from now on */
static sfsistat
filter_envfrom(SMFICTX *ctx, char **argv)
{
	struct filter_conn *c = filter_conn_get(ctx);

	filter_end(c);
	filter_inflight_mark(c);
	return filter_noreply(SMFIP_NR_MAIL);
}

/*
 * filter_client_reason - the metric for a client decide_client refused:
 * it looks at DaemonNames first, as this does
 */
static enum metrics_unsigned
filter_client_reason(const struct kt_conf *conf, const char *daemon_name)
{
	size_t i;

	if (conf->ndaemon_names == 0)
		return MU_CLIENT_NOT_INTERNAL;
	for (i = 0; daemon_name != NULL && i < conf->ndaemon_names; i++)
		if (strcmp(conf->daemon_names[i], daemon_name) == 0)
			return MU_CLIENT_NOT_INTERNAL;
	return MU_DAEMON_NAME;
}

/*
 * filter_begin - the message's snapshot and the client verdict. Made at
 * DATA, where Postfix has a queue id for the log line (at MAIL it often
 * has none yet), and all the envelope macros are known. SMFIS_ACCEPT: not
 * ours, and the MTA sends nothing more of this message.
 */
static sfsistat
filter_begin(SMFICTX *ctx, struct filter_conn *c)
{
	struct decide_client dc;
	char why[256];

	c->begun = 1;
	if (c->down || (c->snap = snapshot_current()) == NULL) {
		c->down = 1;			/* shutting down */
		log_warnx("%s: not signed: shutting down", filter_qid(ctx));
		metrics_tempfail(MT_SHUTTING_DOWN);
		return SMFIS_TEMPFAIL;
	}
	dc.addr = c->has_addr ? (struct sockaddr *)&c->addr : NULL;
	dc.unix_socket = c->unix_socket;
	dc.hostname = c->host[0] != '\0' ? c->host : NULL;
	dc.auth_authen = smfi_getsymval(ctx, "{auth_authen}");
	dc.auth_type = smfi_getsymval(ctx, "{auth_type}");
	dc.daemon_name = smfi_getsymval(ctx, "{daemon_name}");
	if (!decide_client(c->snap->conf, &dc, why, sizeof(why))) {
		log_info("%s: not signed: %s", filter_qid(ctx), why);
		metrics_unsigned(filter_client_reason(c->snap->conf,
		    dc.daemon_name));
		filter_end(c);
		return SMFIS_ACCEPT;
	}
	/* whole, however long: a cut login could match another's line */
	c->login = dc.auth_authen != NULL && dc.auth_authen[0] != '\0' ?
	    xstrdup(dc.auth_authen) : NULL;
	c->authenticated = decide_authenticated(&dc);
	if ((c->msg = dkim_msg_new(DKIM_CANON_RELAXED, DKIM_CANON_RELAXED)) ==
	    NULL) {
		snprintf(c->herr, sizeof(c->herr),
		    "out of memory for a new message");
		c->nomem = 1;
		return filter_onerror(ctx, c->snap, c->herr,
		    MT_OUT_OF_MEMORY);
	}
	return SMFIS_CONTINUE;
}

/* filter_data - the signing decision, answered: ACCEPT spares the rest */
static sfsistat
filter_data(SMFICTX *ctx)
{
	struct filter_conn *c = filter_conn_get(ctx);

	filter_inflight_mark(c);		/* no MAIL seen: be safe */
	if (c->begun)
		return SMFIS_CONTINUE;
	return filter_begin(ctx, c);
}

/* filter_late - an MTA that sends no DATA: decide at the first header */
static void
filter_late(SMFICTX *ctx, struct filter_conn *c)
{
	if (c->begun)
		return;
	filter_inflight_mark(c);
	(void)filter_begin(ctx, c);
	c->begun = 1;
}

/* filter_header - to the engine as given; an error only marks the message */
static sfsistat
filter_header(SMFICTX *ctx, char *name, char *value)
{
	struct filter_conn *c = filter_conn_get(ctx);
	enum dkim_status st;

	filter_late(ctx, c);
	if (c->msg == NULL || c->bad)
		return filter_noreply(SMFIP_NR_HDR);
	if (name == NULL || value == NULL) {
		snprintf(c->herr, sizeof(c->herr), "header field without value");
		c->bad = 1;
	} else if ((st = dkim_msg_header(c->msg, name, value, strlen(value),
	    c->herr, sizeof(c->herr))) != DKIM_OK) {
		c->bad = 1;
		c->nomem = st == DKIM_ENOMEM;
	}
	return filter_noreply(SMFIP_NR_HDR);
}

/* filter_body - hashed as it streams, nothing kept */
static sfsistat
filter_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct filter_conn *c = smfi_getpriv(ctx);

	filter_touch();
	if (c != NULL && c->msg != NULL && !c->bad)
		dkim_msg_body(c->msg, chunk, len);
	return filter_noreply(SMFIP_NR_BODY);
}

/*
 * filter_insert - sign with each planned key, then insert in stable
 * order; t0 is when the end of the message came, for the histogram
 */
static sfsistat
filter_insert(SMFICTX *ctx, struct filter_conn *c, struct dkim_sign *plan,
    size_t n, const char *note, long long t0)
{
	char *value[DECIDE_MAXSIGS] = { NULL };
	char err[256];
	enum dkim_status st;
	sfsistat r = SMFIS_CONTINUE;
	size_t i;

	for (i = 0; i < n; i++)
		if ((st = dkim_msg_sign(c->msg, &plan[i], &value[i], err,
		    sizeof(err))) != DKIM_OK) {
			char why[320];

			snprintf(why, sizeof(why), "signing d=%s s=%s: %s",
			    plan[i].domain, plan[i].selector, err);
			r = filter_onerror(ctx, c->snap, why,
			    st == DKIM_ENOMEM ? MT_OUT_OF_MEMORY :
			    MT_SIGNING_ERROR);
			goto out;
		}
	/* index 0 pushes earlier insertions down: insert the last first */
	for (i = n; i-- > 0;)
		if (smfi_insheader(ctx, 0, "DKIM-Signature", value[i]) !=
		    MI_SUCCESS) {
			r = filter_onerror(ctx, c->snap,
			    "the MTA refused the DKIM-Signature field",
			    MT_MTA_REFUSED);
			goto out;
		}
	metrics_signed(plan, n, filter_now_ns() - t0);
	for (i = 0; i < n; i++)
		log_info("%s: signed d=%s s=%s a=%s", filter_qid(ctx),
		    plan[i].domain, plan[i].selector,
		    dkim_alg_name(plan[i].alg));
	if (note != NULL && *note != '\0')
		log_info("%s: %s", filter_qid(ctx), note);
out:
	for (i = 0; i < n; i++)
		free(value[i]);
	return r;
}

/* filter_cause - why a message is tempfailed, as the metric's label */
static enum metrics_tempfail
filter_cause(const struct decide_out *o)
{
	switch (o->reason) {
	case DR_LOGIN:		return MT_LOGIN_MISMATCH;
	case DR_MISSING:	return MT_DOMAIN_MISSING;
	case DR_UNUSABLE:	return MT_DOMAIN_UNUSABLE;
	default:		return MT_NO_ACTIVE_KEY;
	}
}

/*
 * filter_reason - why a message passes unsigned, as the metric's label;
 * From is looked at again to tell none from a bad one
 */
static enum metrics_unsigned
filter_reason(const struct filter_conn *c, const struct decide_out *o)
{
	struct dkim_value v;

	if (o->failed)
		return MU_ONERROR_ACCEPT;
	switch (o->reason) {
	case DR_LOGIN:		return MU_LOGIN_MISMATCH;
	case DR_HEADER:		return MU_HEADER_ERROR;
	case DR_ALREADY:	return MU_ALREADY_SIGNED;
	case DR_FROM:
		return dkim_msg_values(c->msg, "From", &v, 1) == 0 ?
		    MU_NO_FROM : MU_FROM_ERROR;
	default:		return MU_DOMAIN_UNKNOWN;
	}
}

/* filter_refuse - a decision not to sign, told to the log and the MTA */
static sfsistat
filter_refuse(SMFICTX *ctx, const struct filter_conn *c,
    const struct decide_out *o)
{
	switch (o->verdict) {
	case DECIDE_REJECT:
		log_warnx("%s: rejected: %s", filter_qid(ctx), o->why);
		metrics_rejected();
		smfi_setreply(ctx, "550", "5.7.1", "From address not "
		    "allowed for this login");
		return SMFIS_REJECT;
	case DECIDE_TEMPFAIL:
		log_warnx("%s: tempfail: %s", filter_qid(ctx), o->why);
		metrics_tempfail(filter_cause(o));
		smfi_setreply(ctx, "451", "4.7.1", o->mismatch ? "From "
		    "address not allowed for this login" :
		    "DKIM signing temporarily unavailable");
		return SMFIS_TEMPFAIL;
	default:
		if (o->mismatch || o->failed)
			log_warnx("%s: not signed: %s", filter_qid(ctx),
			    o->why);
		else
			log_info("%s: not signed: %s", filter_qid(ctx),
			    o->why);
		metrics_unsigned(filter_reason(c, o));
		/* OnError accept: accepted, as the failure policy says */
		return o->failed ? SMFIS_ACCEPT : SMFIS_CONTINUE;
	}
}

/* filter_eom - decide, sign, insert at the top */
static sfsistat
filter_eom(SMFICTX *ctx)
{
	struct filter_conn *c = filter_conn_get(ctx);
	struct decide_gathered g;
	struct decide_out o;
	long long t0 = filter_now_ns();
	sfsistat r;

	filter_late(ctx, c);
	if (c->nomem) {
		/* what could not be kept cannot be signed: try it later */
		r = filter_onerror(ctx, c->snap, c->herr, MT_OUT_OF_MEMORY);
		filter_end(c);
		return r;
	}
	if (c->msg == NULL) {
		/* an MTA without DATA learns of a shutdown only here */
		r = c->down ? SMFIS_TEMPFAIL : SMFIS_CONTINUE;
		filter_end(c);
		return r;
	}
	decide_gather(c->msg, c->login, c->authenticated, &g);
	if (c->bad)
		decide_unreadable(c->snap, &g.m, c->herr, &o);
	else
		decide_message(c->snap, &g.m, time(NULL), &o);
	if (o.verdict == DECIDE_SIGN)
		r = filter_insert(ctx, c, o.sign, o.nsign, o.why, t0);
	else
		r = filter_refuse(ctx, c, &o);
	decide_release(&o);
	filter_end(c);
	return r;
}

/* filter_abort - the MTA dropped the message: release it */
static sfsistat
filter_abort(SMFICTX *ctx)
{
	struct filter_conn *c = smfi_getpriv(ctx);

	filter_touch();
	if (c != NULL)
		filter_end(c);
	return SMFIS_CONTINUE;
}

/* filter_close - the connection ends, maybe mid-message */
static sfsistat
filter_close(SMFICTX *ctx)
{
	struct filter_conn *c = smfi_getpriv(ctx);

	filter_touch();
	if (c == NULL)
		return SMFIS_CONTINUE;
	filter_end(c);
	free(c);
	smfi_setpriv(ctx, NULL);
	atomic_fetch_sub(&filter_nconn, 1);
	return SMFIS_CONTINUE;
}

static struct smfiDesc filter_desc = {
	.xxfi_name = "keyturnd",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS,
	.xxfi_connect = filter_connect,
	.xxfi_envfrom = filter_envfrom,
	.xxfi_header = filter_header,
	.xxfi_body = filter_body,
	.xxfi_eom = filter_eom,
	.xxfi_abort = filter_abort,
	.xxfi_close = filter_close,
	.xxfi_data = filter_data,
	.xxfi_negotiate = filter_negotiate,
};

/* filter_register - before smfi_opensocket, as libmilter requires */
int
filter_register(void)
{
	return smfi_register(filter_desc) == MI_SUCCESS ? 0 : -1;
}
