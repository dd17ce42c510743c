/*
 * floor - a libmilter filter that does nothing but what every signer must
 *
 * SYNOPSIS
 *	floor -s SOCKET [-k KEY] [-x INDEX] [-H] [-L] [-N] [-V] [-E]
 *	    [-T|-R|-D|-A|-C CODE]
 *
 * DESCRIPTION
 *	Negotiates exactly like keyturnd (connect and MAIL without a reply,
 *	DATA with one, where a signer answers for mail it will not sign;
 *	headers and body without a reply, end of message; no HELO, RCPT, EOH
 *	or unknown commands; the same macro lists; SMFIF_ADDHDRS only), looks
 *	at nothing, and at end of
 *	message inserts "X-Floor: hdrs=H body=B" at index INDEX (default 0,
 *	the top; -H appends with smfi_addheader instead) where H and B count
 *	the headers and body bytes it was shown. It measures the cost any
 *	libmilter-based filter pays.
 *
 *	-k KEY also does the raw work no signer can avoid, in the filter's
 *	own threads: SHA-256 of the body bytes as they stream (no
 *	canonicalization) and, at end of message, the one signature with the
 *	private key in KEY that t/bench/rawcost times (rawsign.c). A signer
 *	compared with this pays the same wake-ups and cold caches per message;
 *	what is left is its own work.
 *
 *	For tests: -L asks for SMFIP_HDR_LEADSPC; -N asks for no SMFIP_NR_*
 *	flag (every stage answered); -T, -R, -D, -A reply tempfail, reject,
 *	discard, accept at end of message instead of inserting; -C "451 4.7.1
 *	text" replies with that code (SMFIR_REPLYCODE); -V adds
 *	"X-Floor-Subject" carrying the Subject value as received, with LF
 *	shown as "\n", "X-Floor-Macros" with {daemon_name}, {auth_authen}, i
 *	and j as seen at end of message, and "X-Floor-Client" with the host
 *	name, address and port of the connect data. -E also changes the
 *	Subject, deletes the Message-ID, replaces the body and adds the
 *	recipient <extra@example.net>.
 *
 *	libmilter's threads, one per MTA connection, get 256 kB stacks as
 *	keyturnd's do (milter/daemon.c, daemon_stacks), so that the floor
 *	runs libmilter the way keyturnd runs it. Runs in the foreground
 *	until killed.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libmilter/mfapi.h>
#include <openssl/evp.h>

#include "rawsign.h"

/* Per-message counts, kept in the libmilter private pointer. */
struct floor_msg {
	unsigned long	 hdrs;
	unsigned long	 body;
	char		*subject;
	char		 client[256];
	EVP_MD_CTX	*md;		/* -k: the body's SHA-256 */
};

static int	 floor_index;
static int	 floor_append, floor_leadspc, floor_noreply = 1, floor_echo;
static int	 floor_edit;
static char	 floor_reply;
static char	*floor_code;		/* "451 4.7.1 text" for -C */
static char	 floor_rcode[4], floor_xcode[16];
static char	*floor_text;
static EVP_PKEY	*floor_key;		/* -k */

/* floor_negotiate - ask only for the stages and replies a signer needs */
static sfsistat
floor_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0,
    unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	unsigned long want = SMFIP_NOHELO | SMFIP_NORCPT | SMFIP_NOEOH |
	    SMFIP_NOUNKNOWN;
	unsigned long nr = SMFIP_NR_CONN | SMFIP_NR_MAIL | SMFIP_NR_HDR |
	    SMFIP_NR_BODY;

	if ((f0 & SMFIF_ADDHDRS) == 0)
		return SMFIS_REJECT;
	if (floor_noreply)
		want |= nr & f1;
	if (floor_leadspc)
		want |= SMFIP_HDR_LEADSPC;
	*pf0 = SMFIF_ADDHDRS;
	if (floor_edit)
		*pf0 |= SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_ADDRCPT;
	if ((*pf0 & f0) != *pf0)
		return SMFIS_REJECT;
	*pf1 = want & f1;
	*pf2 = *pf3 = 0;
	if (f0 & SMFIF_SETSYMLIST) {
		*pf0 |= SMFIF_SETSYMLIST;
		/* -V also shows j, which Postfix sends at connect */
		smfi_setsymlist(ctx, SMFIM_CONNECT, floor_echo ?
		    "{daemon_name} j" : "{daemon_name}");
		smfi_setsymlist(ctx, SMFIM_ENVFROM,
		    "{auth_authen} {auth_type}");
		smfi_setsymlist(ctx, SMFIM_DATA, "i");
		smfi_setsymlist(ctx, SMFIM_EOM, "i");
	}
	return SMFIS_CONTINUE;
}

/* floor_client - "host [addr] port" of the connect data, for -V */
static void
floor_client(char *buf, size_t size, const char *host, _SOCK_ADDR *sa)
{
	char addr[INET6_ADDRSTRLEN] = "none";
	unsigned int port = 0;

	if (sa != NULL && sa->sa_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr));
		port = ntohs(sin->sin_port);
	} else if (sa != NULL && sa->sa_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof(addr));
		port = ntohs(sin6->sin6_port);
	}
	snprintf(buf, size, "%s [%s] %u", host, addr, port);
}

/* floor_connect - the signing decision would look at the client here */
static sfsistat
floor_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	struct floor_msg *m = smfi_getpriv(ctx);

	if (floor_echo) {
		if (m == NULL && (m = calloc(1, sizeof(*m))) == NULL)
			return SMFIS_TEMPFAIL;
		smfi_setpriv(ctx, m);
		floor_client(m->client, sizeof(m->client), host, sa);
	}
	return floor_noreply ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* floor_envfrom - a new message: fresh counts */
static sfsistat
floor_envfrom(SMFICTX *ctx, char **argv)
{
	struct floor_msg *m = smfi_getpriv(ctx);

	if (m == NULL && (m = calloc(1, sizeof(*m))) == NULL)
		return SMFIS_TEMPFAIL;
	free(m->subject);
	m->subject = NULL;
	m->hdrs = m->body = 0;
	smfi_setpriv(ctx, m);
	if (floor_key != NULL && ((m->md == NULL &&
	    (m->md = EVP_MD_CTX_new()) == NULL) ||
	    EVP_DigestInit_ex(m->md, EVP_sha256(), NULL) != 1))
		return SMFIS_TEMPFAIL;
	return floor_noreply ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* floor_header - count, and keep the Subject for -V */
static sfsistat
floor_header(SMFICTX *ctx, char *name, char *value)
{
	struct floor_msg *m = smfi_getpriv(ctx);

	if (m == NULL)
		return SMFIS_TEMPFAIL;
	m->hdrs++;
	if (floor_echo && m->subject == NULL && strcasecmp(name, "Subject") == 0)
		m->subject = strdup(value);
	return floor_noreply ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* floor_data - where a signer answers for mail it will not sign */
static sfsistat
floor_data(SMFICTX *ctx)
{
	return SMFIS_CONTINUE;
}

/* floor_body - count the bytes (-k: and hash them) */
static sfsistat
floor_body(SMFICTX *ctx, unsigned char *p, size_t len)
{
	struct floor_msg *m = smfi_getpriv(ctx);

	if (m == NULL)
		return SMFIS_TEMPFAIL;
	m->body += len;
	if (floor_key != NULL &&
	    (m->md == NULL || EVP_DigestUpdate(m->md, p, len) != 1))
		return SMFIS_TEMPFAIL;
	return floor_noreply ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* floor_echo_subject - the Subject with LF made visible */
static void
floor_echo_subject(SMFICTX *ctx, const char *s)
{
	char buf[1024];
	size_t n = 0;

	for (; *s != '\0' && n < sizeof(buf) - 3; s++) {
		if (*s == '\n') {
			buf[n++] = '\\';
			buf[n++] = 'n';
		} else if (*s != '\r')
			buf[n++] = *s;
	}
	buf[n] = '\0';
	smfi_addheader(ctx, "X-Floor-Subject", buf);
}

/* floor_echo_macros - what the MTA told about the session, for -V */
static void
floor_echo_macros(SMFICTX *ctx, const struct floor_msg *m)
{
	static const char *names[] = { "{daemon_name}", "{auth_authen}", "i",
	    "j" };
	char buf[1024];
	const char *v;
	size_t i, n = 0;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		v = smfi_getsymval(ctx, (char *)names[i]);
		n += snprintf(buf + n, sizeof(buf) - n, "%s%s=%s", i ? " " : "",
		    names[i], v != NULL ? v : "(unset)");
		if (n >= sizeof(buf))
			n = sizeof(buf) - 1;
	}
	smfi_addheader(ctx, "X-Floor-Macros", buf);
	smfi_addheader(ctx, "X-Floor-Client", (char *)m->client);
}

/* floor_edits - the other modifications, for -E */
static int
floor_edits(SMFICTX *ctx)
{
	static char body[] = "replaced by floor\r\n";

	if (smfi_chgheader(ctx, "Subject", 1, "changed by floor") != MI_SUCCESS ||
	    smfi_chgheader(ctx, "Message-ID", 1, NULL) != MI_SUCCESS ||
	    smfi_replacebody(ctx, (unsigned char *)body, sizeof(body) - 1) !=
	    MI_SUCCESS || smfi_addrcpt(ctx, "<extra@example.net>") != MI_SUCCESS)
		return -1;
	return 0;
}

/* floor_eom - insert the one header, or give the decision asked for */
static sfsistat
floor_eom(SMFICTX *ctx)
{
	struct floor_msg *m = smfi_getpriv(ctx);
	char value[128];

	if (m == NULL)
		return SMFIS_TEMPFAIL;
	if (floor_key != NULL) {
		unsigned char dig[EVP_MAX_MD_SIZE];
		unsigned int diglen;

		if (m->md == NULL || EVP_DigestFinal_ex(m->md, dig, &diglen) != 1 ||
		    rawsign_once(floor_key) == -1)
			return SMFIS_TEMPFAIL;
	}
	if (floor_code != NULL) {
		if (smfi_setreply(ctx, floor_rcode, floor_xcode,
		    floor_text) != MI_SUCCESS)
			return SMFIS_TEMPFAIL;
		return floor_code[0] == '4' ? SMFIS_TEMPFAIL : SMFIS_REJECT;
	}
	switch (floor_reply) {
	case 'T': return SMFIS_TEMPFAIL;
	case 'R': return SMFIS_REJECT;
	case 'D': return SMFIS_DISCARD;
	case 'A': return SMFIS_ACCEPT;
	}
	snprintf(value, sizeof(value), "hdrs=%lu body=%lu", m->hdrs, m->body);
	if ((floor_append ? smfi_addheader(ctx, "X-Floor", value) :
	    smfi_insheader(ctx, floor_index, "X-Floor", value)) != MI_SUCCESS)
		return SMFIS_TEMPFAIL;
	if (floor_echo && m->subject != NULL)
		floor_echo_subject(ctx, m->subject);
	if (floor_echo)
		floor_echo_macros(ctx, m);
	if (floor_edit && floor_edits(ctx) == -1)
		return SMFIS_TEMPFAIL;
	return SMFIS_CONTINUE;
}

/* floor_close - drop the per-connection counts */
static sfsistat
floor_close(SMFICTX *ctx)
{
	struct floor_msg *m = smfi_getpriv(ctx);

	if (m != NULL) {
		free(m->subject);
		EVP_MD_CTX_free(m->md);
		free(m);
		smfi_setpriv(ctx, NULL);
	}
	return SMFIS_CONTINUE;
}

/* floor_code_parse - split -C "451 4.7.1 text" for smfi_setreply */
static int
floor_code_parse(void)
{
	const char *x = floor_code + 4;
	size_t n = strcspn(x, " ");

	if (strlen(floor_code) < 5 || floor_code[3] != ' ' ||
	    (floor_code[0] != '4' && floor_code[0] != '5') ||
	    n == 0 || n >= sizeof(floor_xcode) || x[n] != ' ')
		return -1;
	memcpy(floor_rcode, floor_code, 3);
	memcpy(floor_xcode, x, n);
	floor_text = (char *)x + n + 1;
	return 0;
}

static struct smfiDesc floor_desc = {
	"floor", SMFI_VERSION, SMFIF_ADDHDRS | SMFIF_SETSYMLIST,
	floor_connect, NULL, floor_envfrom, NULL, floor_header, NULL,
	floor_body, floor_eom, NULL, floor_close, NULL, floor_data,
	floor_negotiate
};

int
main(int argc, char **argv)
{
	const char *sock = NULL;
	char *end;
	int ch;

	while ((ch = getopt(argc, argv, "ADEHk:LNRs:TVx:C:")) != -1) {
		switch (ch) {
		case 'A': case 'D': case 'R': case 'T': floor_reply = ch; break;
		case 'C': floor_code = optarg; break;
		case 'E': floor_edit = 1; break;
		case 'H': floor_append = 1; break;
		case 'k':
			if ((floor_key = rawsign_load(optarg)) == NULL)
				return 1;
			break;
		case 'L': floor_leadspc = 1; break;
		case 'N': floor_noreply = 0; break;
		case 's': sock = optarg; break;
		case 'V': floor_echo = 1; break;
		case 'x':
			floor_index = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || floor_index < 0)
				goto usage;
			break;
		default: goto usage;
		}
	}
	if (sock == NULL || (floor_code != NULL && floor_code_parse() == -1))
		goto usage;
	if (strncmp(sock, "unix:", 5) == 0 || strncmp(sock, "local:", 6) == 0)
		unlink(strchr(sock, ':') + 1);
	if (smfi_setconn((char *)sock) == MI_FAILURE ||
	    smfi_register(floor_desc) == MI_FAILURE ||
	    smfi_opensocket(1) == MI_FAILURE) {
		fprintf(stderr, "floor: cannot listen on %s\n", sock);
		return 1;
	}
#ifdef HAVE_PTHREAD_SETATTR_DEFAULT_NP
	{
		pthread_attr_t a;

		if (pthread_attr_init(&a) == 0 &&
		    pthread_attr_setstacksize(&a, 256 * 1024) == 0)
			pthread_setattr_default_np(&a);
	}
#endif
	return smfi_main() == MI_SUCCESS ? 0 : 1;
usage:
	fprintf(stderr, "usage: floor -s SOCKET [-k KEY] [-x INDEX] [-H] [-L] "
	    "[-N] [-V] [-E] [-T|-R|-D|-A|-C 'CODE X.Y.Z text']\n");
	return 2;
}
