/*
 * miltc_session - the MTA's side of one milter conversation
 *
 * mc_sess_open() connects and negotiates (SMFIC_OPTNEG): the filter's
 * version, actions and protocol flags must be within what was offered,
 * and its macro lists (SMFIR_SETSYMLIST data) restrict the macros sent.
 * mc_sess_message() sends one message: CONNECT and HELO when a new SMTP
 * session starts, then MAIL, RCPT, DATA, headers, EOH, body chunks and
 * end of message. A stage the filter asked not to see (SMFIP_NO*) is not
 * sent, but its macros are, as Postfix and Sendmail do; a reply the filter
 * said it will not send (SMFIP_NR_*) is not waited for. A decision before
 * end of message ends it and the filter gets SMFIC_ABORT.
 *
 * Between SMTP sessions on one connection the MTA sends SMFIC_QUIT_NC.
 * libmilter only honours QUIT_NC (and the CONNECT after it) right after a
 * message that ended with "continue" at end of message; in any other state
 * it silently drops both and the filter would keep the old client's
 * connect data. So after any other outcome a new session gets a new
 * connection, which is what Postfix does for every session anyway.
 */
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#include "xmalloc.h"
#include "miltc.h"

/* A growing packet buffer. */
struct pbuf {
	char	*p;
	size_t	 len;
	size_t	 size;
};

/* pb_add - append bytes */
static void
pb_add(struct pbuf *b, const void *p, size_t len)
{
	if (b->len + len > b->size) {
		b->size = (b->len + len) * 2 + 64;
		b->p = xreallocarray(b->p, b->size, 1);
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
}

/* pb_str - append a string with its NUL */
static void
pb_str(struct pbuf *b, const char *s)
{
	pb_add(b, s, strlen(s) + 1);
}

/* proto_error - record a protocol error, return -1 */
static int __attribute__((format(printf, 2, 3)))
proto_error(struct mc_conn *c, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(c->err, sizeof(c->err), "protocol error: %s", what);
	return -1;
}

/* stage_index - SMFIM_* index of a macro stage letter, -1 if none */
static int
stage_index(char stage)
{
	static const char map[] = { SMFIC_CONNECT, SMFIC_HELO, SMFIC_MAIL,
	    SMFIC_RCPT, SMFIC_DATA, SMFIC_BODYEOB, SMFIC_EOH };
	int i;

	for (i = 0; i < MC_STAGES; i++)
		if (map[i] == stage)
			return i;
	return -1;
}

/* macro_bare - a macro name without braces, in buf */
static const char *
macro_bare(const char *name, size_t len, char *buf, size_t size)
{
	if (len >= 2 && name[0] == '{' && name[len - 1] == '}') {
		name++;
		len -= 2;
	}
	if (len >= size)
		len = size - 1;
	memcpy(buf, name, len);
	buf[len] = '\0';
	return buf;
}

/* macro_wanted - is the macro in the filter's list for the stage? */
static int
macro_wanted(const struct mc_conn *c, char stage, const char *name)
{
	const char *list, *p;
	char a[128], b[128];
	size_t n;
	int i;

	if ((i = stage_index(stage)) == -1 || (list = c->symlist[i]) == NULL)
		return 1;
	macro_bare(name, strlen(name), a, sizeof(a));
	for (p = list; *p != '\0'; p += n) {
		p += strspn(p, " ,");
		n = strcspn(p, " ,");
		if (n > 0 && strcmp(a, macro_bare(p, n, b, sizeof(b))) == 0)
			return 1;
	}
	return 0;
}

/* send_macros - SMFIC_MACRO for a stage: the options' macros, plus the
 * queue id "i" for MAIL, DATA, EOH and EOM unless one was given */
static int
send_macros(struct mc_conn *c, const struct mc_opts *o, char stage,
    unsigned long msgno)
{
	struct pbuf b = { NULL, 0, 0 };
	char qid[32];
	int have_i = 0, rv;
	size_t i;

	pb_add(&b, &stage, 1);
	for (i = 0; i < o->nmacros; i++) {
		if (o->macros[i].stage != stage)
			continue;
		if (strcmp(o->macros[i].name, "i") == 0)
			have_i = 1;
		if (!macro_wanted(c, stage, o->macros[i].name))
			continue;
		pb_str(&b, o->macros[i].name);
		pb_str(&b, o->macros[i].value);
	}
	if (!have_i && strchr("MTNE", stage) != NULL &&
	    macro_wanted(c, stage, "i")) {
		snprintf(qid, sizeof(qid), "MC%08lX", msgno + 1);
		pb_str(&b, "i");
		pb_str(&b, qid);
	}
	rv = b.len > 1 ? mc_wire_send(c, SMFIC_MACRO, b.p, b.len) : 0;
	free(b.p);
	return rv;
}

/* get_u32 - read a 32-bit big-endian number from a reply */
static int
get_u32(const struct mc_conn *c, size_t *off, uint32_t *v)
{
	if (c->len < *off + 4)
		return -1;
	memcpy(v, c->buf + *off, 4);
	*v = ntohl(*v);
	*off += 4;
	return 0;
}

/* get_str - a NUL-terminated string from a reply */
static const char *
get_str(const struct mc_conn *c, size_t *off)
{
	const char *s = (const char *)c->buf + *off;
	const char *nul;

	if (*off >= c->len ||
	    (nul = memchr(s, '\0', c->len - *off)) == NULL)
		return NULL;
	*off += nul - s + 1;
	return s;
}

/* negotiate_symlist - keep the filter's macro lists per stage */
static int
negotiate_symlist(struct mc_conn *c, size_t off)
{
	const char *list;
	uint32_t stage;

	while (off < c->len) {
		if (get_u32(c, &off, &stage) == -1 ||
		    (list = get_str(c, &off)) == NULL || stage >= MC_STAGES)
			return proto_error(c, "bad macro list in negotiation");
		free(c->symlist[stage]);
		c->symlist[stage] = xstrdup(list);
	}
	return 0;
}

/* negotiate - SMFIC_OPTNEG and the filter's answer */
static int
negotiate(struct mc_conn *c, const struct mc_opts *o)
{
	uint32_t v[3];
	size_t off = 0;

	v[0] = htonl(SMFI_PROT_VERSION);
	v[1] = htonl(o->offer_actions);
	v[2] = htonl(o->offer_protocol);
	if (mc_wire_send(c, SMFIC_OPTNEG, v, sizeof(v)) == -1 ||
	    mc_wire_recv(c) == -1)
		return -1;
	if (c->cmd != SMFIC_OPTNEG)
		return proto_error(c, "reply '%c' to option negotiation",
		    c->cmd);
	if (get_u32(c, &off, &c->version) == -1 ||
	    get_u32(c, &off, &c->actions) == -1 ||
	    get_u32(c, &off, &c->protocol) == -1)
		return proto_error(c, "short option negotiation");
	if (c->version < 2 || c->version > SMFI_PROT_VERSION)
		return proto_error(c, "filter protocol version %u",
		    c->version);
	if ((c->actions & ~o->offer_actions) != 0)
		return proto_error(c, "filter wants actions 0x%x not offered",
		    c->actions & ~o->offer_actions);
	if ((c->protocol & ~o->offer_protocol) != 0)
		return proto_error(c, "filter wants protocol 0x%x not offered",
		    c->protocol & ~o->offer_protocol);
	return negotiate_symlist(c, off);
}

/* mc_sess_open - connect to the filter and negotiate */
int
mc_sess_open(struct mc_conn *c, const struct mc_opts *o)
{
	int i;

	for (i = 0; i < MC_STAGES; i++) {
		free(c->symlist[i]);
		c->symlist[i] = NULL;
	}
	c->in_session = c->dirty = 0;
	if (mc_wire_open(c, o->socket, o->timeout) == -1)
		return -1;
	if (negotiate(c, o) == -1) {
		mc_wire_close(c);
		return -1;
	}
	return 0;
}

/* mc_sess_close - end the conversation (SMFIC_QUIT) and disconnect */
void
mc_sess_close(struct mc_conn *c, int newconn_follows)
{
	int i;

	if (c->fd != -1)
		(void)mc_wire_send(c, newconn_follows ? SMFIC_QUIT_NC :
		    SMFIC_QUIT, NULL, 0);
	mc_wire_close(c);
	for (i = 0; i < MC_STAGES; i++) {
		free(c->symlist[i]);
		c->symlist[i] = NULL;
	}
}

/* decided - take a final reply: 1 when it ends the message, else 0 */
static int
decided(struct mc_conn *c, struct mc_result *r, char stage)
{
	switch (c->cmd) {
	case SMFIR_REPLYCODE:
		if (c->len < 4 || (c->buf[0] != '4' && c->buf[0] != '5') ||
		    c->buf[c->len - 1] != '\0')
			return proto_error(c, "bad reply code after '%c'",
			    stage);
		free(r->reply);
		r->reply = xstrdup((char *)c->buf);
		/* FALLTHROUGH */
	case SMFIR_ACCEPT:
	case SMFIR_REJECT:
	case SMFIR_TEMPFAIL:
	case SMFIR_DISCARD:
	case SMFIR_SHUTDOWN:
	case SMFIR_CONN_FAIL:
		r->decision = c->cmd;
		r->stage = stage;
		return 1;
	case SMFIR_CONTINUE:
		return 0;
	}
	return proto_error(c, "unexpected reply '%c' after '%c'", c->cmd, stage);
}

/* ask - read the reply to a stage unless the filter said it sends none:
 * -1 error, 0 continue, 1 decided, 2 skip the rest of this stage */
static int
ask(struct mc_conn *c, struct mc_result *r, char stage, uint32_t nr)
{
	if (nr != 0 && (c->protocol & nr) != 0) {
		r->waived[stage & (MC_NCMD - 1)]++;
		return 0;
	}
	r->awaited[stage & (MC_NCMD - 1)]++;
	for (;;) {
		if (mc_wire_recv(c) == -1)
			return -1;
		if (c->cmd == SMFIR_PROGRESS)
			continue;
		if (c->cmd == SMFIR_SKIP) {
			if (stage != SMFIC_BODY && stage != SMFIC_HEADER &&
			    stage != SMFIC_RCPT)
				return proto_error(c, "skip after '%c'",
				    stage);
			return 2;
		}
		return decided(c, r, stage);
	}
}

/* step - macros, then the stage unless negotiated away, then its reply */
static int
step(struct mc_conn *c, const struct mc_opts *o, struct mc_result *r,
    unsigned long msgno, char stage, uint32_t no, uint32_t nr,
    const void *data, size_t len)
{
	if (send_macros(c, o, stage, msgno) == -1)
		return -1;
	if ((c->protocol & no) != 0)
		return 0;
	if (mc_wire_send(c, stage, data, len) == -1)
		return -1;
	return ask(c, r, stage, nr);
}

/* connect_data - SMFIC_CONNECT: host name, family, port, address */
static void
connect_data(const struct mc_opts *o, struct pbuf *b)
{
	const char *a = o->client_addr;
	uint16_t port = htons((uint16_t)o->client_port);
	char family;

	pb_str(b, o->client_name);
	if (strcmp(a, "unknown") == 0) {
		family = SMFIA_UNKNOWN;
		pb_add(b, &family, 1);
		return;
	}
	if (a[0] == '/')
		family = SMFIA_UNIX, port = 0;
	else if (strchr(a, ':') != NULL)
		family = SMFIA_INET6;
	else
		family = SMFIA_INET;
	pb_add(b, &family, 1);
	pb_add(b, &port, 2);
	pb_str(b, a);
}

/* session_begin - QUIT_NC (or a fresh connection), CONNECT and HELO */
static int
session_begin(struct mc_conn *c, const struct mc_opts *o,
    struct mc_result *r, unsigned long msgno)
{
	struct pbuf b = { NULL, 0, 0 };
	int rv;

	if (c->in_session && c->dirty) {
		mc_sess_close(c, 0);
		if (mc_sess_open(c, o) == -1)
			return -1;
	} else if (c->in_session &&
	    mc_wire_send(c, SMFIC_QUIT_NC, NULL, 0) == -1)
		return -1;
	c->in_session = 1;
	c->session_accepted = c->session_dead = c->dirty = 0;
	connect_data(o, &b);
	rv = step(c, o, r, msgno, SMFIC_CONNECT, SMFIP_NOCONNECT,
	    SMFIP_NR_CONN, b.p, b.len);
	free(b.p);
	if (rv == 0)
		rv = step(c, o, r, msgno, SMFIC_HELO, SMFIP_NOHELO,
		    SMFIP_NR_HELO, o->helo, strlen(o->helo) + 1);
	if (rv == 1) {
		c->dirty = 1;
		c->sess_decision = r->decision;
		if (r->decision == SMFIR_ACCEPT)
			c->session_accepted = 1;
		else
			c->session_dead = 1;
	}
	return rv;
}

/* path_arg - "<addr>" for MAIL/RCPT */
static void
path_arg(struct pbuf *b, const char *addr)
{
	char *s = addr[0] == '<' ? xstrdup(addr) : xasprintf("<%s>", addr);

	pb_str(b, s);
	free(s);
}

/* envelope - MAIL, every RCPT (all rejected ends the message), DATA */
static int
envelope(struct mc_conn *c, const struct mc_opts *o, struct mc_result *r,
    unsigned long msgno)
{
	struct pbuf b = { NULL, 0, 0 };
	size_t i, rejected = 0;
	int rv;

	path_arg(&b, o->mail_from);
	rv = step(c, o, r, msgno, SMFIC_MAIL, SMFIP_NOMAIL, SMFIP_NR_MAIL,
	    b.p, b.len);
	for (i = 0; rv == 0 && i < o->nrcpts; i++) {
		b.len = 0;
		path_arg(&b, o->rcpts[i]);
		rv = step(c, o, r, msgno, SMFIC_RCPT, SMFIP_NORCPT,
		    SMFIP_NR_RCPT, b.p, b.len);
		if (rv == 2)
			break;		/* skip further RCPT events */
		if (rv == 1 && r->decision != SMFIR_ACCEPT &&
		    r->decision != SMFIR_DISCARD &&
		    r->decision != SMFIR_SHUTDOWN &&
		    r->decision != SMFIR_CONN_FAIL && ++rejected < o->nrcpts) {
			r->decision = SMFIR_CONTINUE;
			rv = 0;
		}
	}
	free(b.p);
	if (rv == 2)
		rv = 0;
	if (rv == 0)
		rv = step(c, o, r, msgno, SMFIC_DATA, SMFIP_NODATA,
		    SMFIP_NR_DATA, NULL, 0);
	return rv;
}

/* headers - one SMFIC_HEADER per header, then EOH */
static int
headers(struct mc_conn *c, const struct mc_opts *o, const struct mc_msg *m,
    struct mc_result *r, unsigned long msgno)
{
	struct pbuf b = { NULL, 0, 0 };
	size_t i;
	int rv = 0;

	for (i = 0; rv == 0 && i < m->nhdrs; i++) {
		if ((c->protocol & SMFIP_NOHDRS) != 0)
			break;
		b.len = 0;
		pb_str(&b, m->hdrs[i].name);
		pb_str(&b, mc_msg_sent_value(m, i, c->protocol));
		if ((rv = mc_wire_send(c, SMFIC_HEADER, b.p, b.len)) == 0)
			rv = ask(c, r, SMFIC_HEADER, SMFIP_NR_HDR);
	}
	free(b.p);
	if (rv == 2)
		rv = 0;
	if (rv == 0)
		rv = step(c, o, r, msgno, SMFIC_EOH, SMFIP_NOEOH, SMFIP_NR_EOH,
		    NULL, 0);
	return rv;
}

/* chunk_size - the size of the next body chunk */
static size_t
chunk_size(const struct mc_opts *o, unsigned int *seed)
{
	size_t max = o->chunk_size > 0 && o->chunk_size < MC_CHUNK_MAX ?
	    o->chunk_size : MC_CHUNK_MAX;

	switch (o->chunk) {
	case MC_CHUNK_FIXED:
		return max;
	case MC_CHUNK_RANDOM:
		return 1 + (size_t)rand_r(seed) % max;
	default:
		return MC_CHUNK_MAX;
	}
}

/* body - the body in chunks, each answered unless SMFIP_NR_BODY */
static int
body(struct mc_conn *c, const struct mc_opts *o, const struct mc_msg *m,
    struct mc_result *r, unsigned long msgno)
{
	unsigned int seed = o->seed ^ (unsigned int)(msgno * 2654435761UL);
	size_t off = 0, n;
	int rv = 0;

	if ((c->protocol & SMFIP_NOBODY) != 0)
		return 0;
	while (rv == 0 && off < m->bodylen) {
		n = chunk_size(o, &seed);
		if (n > m->bodylen - off)
			n = m->bodylen - off;
		if ((rv = mc_wire_send(c, SMFIC_BODY, m->body + off, n)) == 0)
			rv = ask(c, r, SMFIC_BODY, SMFIP_NR_BODY);
		off += n;
	}
	if (rv == 2) {
		r->body_skipped = 1;
		rv = 0;
	}
	return rv;
}

/* action_ok - was the modification granted in the negotiation? */
static int
action_ok(const struct mc_conn *c, char cmd)
{
	static const struct { char cmd; uint32_t flag; } map[] = {
		{ SMFIR_ADDHEADER, SMFIF_ADDHDRS },
		{ SMFIR_INSHEADER, SMFIF_ADDHDRS },
		{ SMFIR_CHGHEADER, SMFIF_CHGHDRS },
		{ SMFIR_REPLBODY, SMFIF_CHGBODY },
		{ SMFIR_ADDRCPT, SMFIF_ADDRCPT },
		{ SMFIR_ADDRCPT_PAR, SMFIF_ADDRCPT_PAR },
		{ SMFIR_DELRCPT, SMFIF_DELRCPT },
		{ SMFIR_CHGFROM, SMFIF_CHGFROM },
		{ SMFIR_QUARANTINE, SMFIF_QUARANTINE },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].cmd == cmd)
			return (c->actions & map[i].flag) != 0;
	return -1;		/* not a modification */
}

/* add_mod - store a header or envelope modification */
static int
add_mod(struct mc_conn *c, struct mc_result *r)
{
	struct mc_mod md = { c->cmd, 0, NULL, NULL };
	const char *a, *b = "";
	size_t off = 0;

	if ((c->cmd == SMFIR_INSHEADER || c->cmd == SMFIR_CHGHEADER) &&
	    get_u32(c, &off, &md.index) == -1)
		return proto_error(c, "short '%c' request", c->cmd);
	if ((a = get_str(c, &off)) == NULL)
		return proto_error(c, "bad '%c' request", c->cmd);
	if (off < c->len && (b = get_str(c, &off)) == NULL)
		return proto_error(c, "bad '%c' request", c->cmd);
	if ((c->cmd == SMFIR_INSHEADER || c->cmd == SMFIR_ADDHEADER ||
	    c->cmd == SMFIR_CHGHEADER) && (a[0] == '\0' || off != c->len))
		return proto_error(c, "bad '%c' header request", c->cmd);
	if (c->cmd == SMFIR_QUARANTINE) {
		free(r->quarantine);
		r->quarantine = xstrdup(a);
	}
	md.name = xstrdup(a);
	md.value = xstrdup(b);
	r->mods = xreallocarray(r->mods, r->nmods + 1, sizeof(*r->mods));
	r->mods[r->nmods++] = md;
	return 0;
}

/* eom - end of message: modifications until the final decision */
static int
eom(struct mc_conn *c, const struct mc_opts *o, struct mc_result *r,
    unsigned long msgno)
{
	int ok;

	if (send_macros(c, o, SMFIC_BODYEOB, msgno) == -1 ||
	    mc_wire_send(c, SMFIC_BODYEOB, NULL, 0) == -1)
		return -1;
	r->awaited[SMFIC_BODYEOB]++;
	for (;;) {
		if (mc_wire_recv(c) == -1)
			return -1;
		if (c->cmd == SMFIR_PROGRESS)
			continue;
		if ((ok = action_ok(c, c->cmd)) == 0)
			return proto_error(c, "'%c' not negotiated",
			    c->cmd);
		if (ok == -1) {
			r->stage = SMFIC_BODYEOB;
			return decided(c, r, SMFIC_BODYEOB) == -1 ? -1 : 1;
		}
		if (c->cmd == SMFIR_REPLBODY) {
			r->newbody = xreallocarray(r->newbody,
			    r->newbodylen + c->len + 1, 1);
			memcpy(r->newbody + r->newbodylen, c->buf, c->len);
			r->newbodylen += c->len;
			r->replbody = 1;
		} else if (add_mod(c, r) == -1)
			return -1;
	}
}

/* mc_sess_message - one message, in a new SMTP session or the current */
int
mc_sess_message(struct mc_conn *c, const struct mc_opts *o,
    const struct mc_msg *m, unsigned long msgno, int newsession,
    struct mc_result *r)
{
	int rv = 0;

	memset(r, 0, sizeof(*r));
	r->decision = SMFIR_CONTINUE;
	if (newsession || !c->in_session)
		rv = session_begin(c, o, r, msgno);
	if (rv == -1)
		return -1;
	if (c->session_accepted || c->session_dead) {
		r->decision = c->sess_decision;
		return 0;
	}
	if ((rv = envelope(c, o, r, msgno)) == 0 &&
	    (rv = headers(c, o, m, r, msgno)) == 0 &&
	    (rv = body(c, o, m, r, msgno)) == 0)
		rv = eom(c, o, r, msgno);
	if (rv == -1)
		return -1;
	if (r->stage != SMFIC_BODYEOB) {
		c->dirty = 1;
		if (mc_wire_send(c, SMFIC_ABORT, NULL, 0) == -1)
			return -1;
	} else if (r->decision != SMFIR_CONTINUE)
		c->dirty = 1;
	return 0;
}

/* mc_result_free - release what a message's result holds */
void
mc_result_free(struct mc_result *r)
{
	size_t i;

	for (i = 0; i < r->nmods; i++) {
		free(r->mods[i].name);
		free(r->mods[i].value);
	}
	free(r->mods);
	free(r->reply);
	free(r->newbody);
	free(r->quarantine);
	memset(r, 0, sizeof(*r));
}

/* mc_decision_name - a decision as a word */
const char *
mc_decision_name(char d)
{
	switch (d) {
	case SMFIR_ACCEPT:	return "accept";
	case SMFIR_CONTINUE:	return "continue";
	case SMFIR_REJECT:	return "reject";
	case SMFIR_TEMPFAIL:	return "tempfail";
	case SMFIR_DISCARD:	return "discard";
	case SMFIR_REPLYCODE:	return "replycode";
	case SMFIR_SHUTDOWN:	return "shutdown";
	case SMFIR_CONN_FAIL:	return "connfail";
	}
	return "unknown";
}

/* mc_mod_name - a modification as a word */
const char *
mc_mod_name(char t)
{
	switch (t) {
	case SMFIR_INSHEADER:	return "insheader";
	case SMFIR_ADDHEADER:	return "addheader";
	case SMFIR_CHGHEADER:	return "chgheader";
	case SMFIR_ADDRCPT:	return "addrcpt";
	case SMFIR_ADDRCPT_PAR:	return "addrcpt_par";
	case SMFIR_DELRCPT:	return "delrcpt";
	case SMFIR_CHGFROM:	return "chgfrom";
	case SMFIR_QUARANTINE:	return "quarantine";
	}
	return "unknown";
}
