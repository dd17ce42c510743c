/*
 * fuzz_milter - a message as keyturnd's milter callbacks see it
 * (milter/filter.c over decide, snapshot, loader, the engine; libFuzzer
 * entry)
 *
 * filter.c is linked with libmilter (and metrics.c, which pulls in the
 * fleet thread) replaced by the stubs below: the callbacks are the ones
 * filter_register hands to smfi_register, the context is the
 * harness's (smfi_setpriv, smfi_getpriv), smfi_getsymval
 * returns the macros the input set, smfi_insheader records the field
 * (or fails, as the input says), smfi_setreply and smfi_setsymlist are
 * accepted. At start a keystore is made with the library (example.com,
 * example.net and platform.test, each with the Ed25519 and the RSA test
 * key of fuzz_keys.h active; nokey.test with none) and one snapshot per
 * configuration of fuzz_confs[], loaded the way keyturnd loads them
 * (conf_load, rules_load, loader_build).
 *
 * Input: byte 0 picks the configuration (the last: no snapshot, as
 * after SIGTERM); then records, a type byte and its operands:
 *	0 negotiate	byte: the MTA's actions (bit 0: ADDHDRS, bit 1:
 *			SETSYMLIST), byte: its protocol steps (an index into
 *			a table of SMFIP_* sets)
 *	1 connect	byte: bits 0-2 the client (0 127.0.0.1, 1
 *			192.0.2.7, 2 ::1, 3 2001:db8::7, 4 unix, 5-7 none),
 *			bit 3 the MTA refuses header insertion; string: the
 *			host name
 *	2 macro		byte: which (i, {daemon_name}, {auth_authen},
 *			{auth_type}); string: its value (empty: unset)
 *	3 MAIL		string: the sender
 *	4 DATA
 *	5 header	string: name, string: value (as Postfix hands it:
 *			leading blank stripped, folds with bare LF)
 *	6 body		big-endian 16-bit length, the chunk
 *	7 end of message
 *	8 abort
 *	9 close
 * (a string: a length byte, then the bytes). A record the protocol does
 * not allow where it stands is skipped (a header before MAIL, DATA
 * twice); after a reply that ends the message (ACCEPT, REJECT, ...) only
 * abort, MAIL and close come. The input's end closes the connection.
 *
 * Properties: no leak, no crash; after the close no message and no
 * session is counted (filter_inflight, filter_sessions); and each
 * DKIM-Signature inserted at the end of a message whose header is one an
 * MTA sends (names of printable ASCII, values without CR, NUL or a bare
 * line end) verifies over the message as it was handed over
 * (dkimv_verify, as keyturn audit checks it).
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libmilter/mfapi.h>
#include <openssl/pem.h>

#include "conf.h"
#include "decide.h"
#include "dkimverify.h"
#include "filter.h"
#include "fuzz_keys.h"
#include "fuzz_util.h"
#include "loader.h"
#include "log.h"
#include "metrics.h"
#include "rules.h"
#include "snapshot.h"
#include "store.h"

/* ---- libmilter, as far as filter.c uses it ---- */

struct smfi_str {
	void	*priv;
};

static struct smfiDesc fuzz_desc;
static const char *fuzz_macro_names[] = { "i", "{daemon_name}",
    "{auth_authen}", "{auth_type}" };
#define FUZZ_NMACROS	4
static char *fuzz_macros[FUZZ_NMACROS];
static int fuzz_ins_fail;
static char *fuzz_ins[32];		/* inserted DKIM-Signature values */
static size_t fuzz_nins;

int
smfi_register(struct smfiDesc d)
{
	fuzz_desc = d;
	return MI_SUCCESS;
}

char *
smfi_getsymval(SMFICTX *ctx, char *name)
{
	size_t i;

	(void)ctx;
	for (i = 0; i < FUZZ_NMACROS; i++)
		if (strcmp(name, fuzz_macro_names[i]) == 0)
			return fuzz_macros[i];
	return NULL;
}

int
smfi_setpriv(SMFICTX *ctx, void *p)
{
	ctx->priv = p;
	return MI_SUCCESS;
}

void *
smfi_getpriv(SMFICTX *ctx)
{
	return ctx->priv;
}

int
smfi_setreply(SMFICTX *ctx, char *rcode, char *xcode, char *msg)
{
	(void)ctx;
	if (rcode == NULL || strlen(rcode) != 3 || (rcode[0] != '4' &&
	    rcode[0] != '5') || msg == NULL || strchr(msg, '\r') != NULL ||
	    strchr(msg, '\n') != NULL)
		abort();	/* libmilter would refuse it */
	(void)xcode;
	return MI_SUCCESS;
}

int
smfi_insheader(SMFICTX *ctx, int idx, char *name, char *value)
{
	(void)ctx;
	if (idx != 0 || strcmp(name, "DKIM-Signature") != 0 ||
	    value == NULL || strncmp(value, "v=1; a=", 7) != 0)
		abort();
	if (fuzz_ins_fail)
		return MI_FAILURE;
	if (fuzz_nins < sizeof(fuzz_ins) / sizeof(fuzz_ins[0]) &&
	    (fuzz_ins[fuzz_nins++] = strdup(value)) == NULL)
		abort();
	return MI_SUCCESS;
}

int
smfi_setsymlist(SMFICTX *ctx, int stage, char *macros)
{
	(void)ctx;
	(void)stage;
	(void)macros;
	return MI_SUCCESS;
}

/*
 * metrics.h, as far as filter.c counts: metrics.c itself pulls in the
 * fleet thread; here each count only has to be one of its kind
 */
void
metrics_signed(const struct dkim_sign *plan, size_t n, long long ns)
{
	size_t i;

	if (n == 0 || n > DECIDE_MAXSIGS || ns < 0)
		abort();
	for (i = 0; i < n; i++)
		if (plan[i].alg != DKIM_ALG_RSA_SHA256 &&
		    plan[i].alg != DKIM_ALG_ED25519_SHA256)
			abort();
}

void
metrics_unsigned(enum metrics_unsigned why)
{
	if ((unsigned)why >= MU_N)
		abort();
}

void
metrics_tempfail(enum metrics_tempfail why)
{
	if ((unsigned)why >= MT_N)
		abort();
}

void
metrics_rejected(void)
{
}

/* ---- the keystore and the snapshots ---- */

static const char *fuzz_confs[] = {
	"",
	"SigningTable @/SigningTable\nSenderLogins @/SenderLogins\n"
	    "SenderMismatch reject\nPlatformDomain platform.test\n",
	"SubDomains yes\nOnError accept\nAlgorithms ed25519\n"
	    "SignatureTTL 1d\nDaemonNames ORIGINATING\n"
	    "SignAuthenticated no\nInternalHosts 127.0.0.1, 2001:db8::/32\n",
	"SenderLogins @/SenderLogins\nSenderMismatch tempfail\n"
	    "SignHeaders from:to:subject:x-a\nOversignHeaders from,x-a\n"
	    "SigningTable @/SigningTable\n",
};
#define FUZZ_NCONFS	(sizeof(fuzz_confs) / sizeof(fuzz_confs[0]))
static const char fuzz_signtable[] = "*@*.example.com example.com\n"
    "alias.test example.net,example.com\nmissing.test absent.test\n"
    "bob@example.org nokey.test\n";
static const char fuzz_senders[] = "alice example.com, .example.com, "
    "alias.test\n*@example.net example.net\n";
static struct snapshot *fuzz_snaps[FUZZ_NCONFS];
static EVP_PKEY *fuzz_pub[2];		/* by enum dkim_alg */

/* fuzz_die - the harness could not set itself up */
static void fuzz_die(const char *, const char *) __attribute__((noreturn));
static void
fuzz_die(const char *what, const char *err)
{
	fprintf(stderr, "fuzz_milter: %s: %s\n", what, err);
	abort();
}

/* fuzz_domain - a domain with both test keys active (none: nokey) */
static void
fuzz_domain(struct store *s, const char *name, int keys)
{
	struct store_change ch[2] = {
		{ "ed", STORE_PENDING, STORE_ACTIVE, "fuzz" },
		{ "rsa", STORE_PENDING, STORE_ACTIVE, "fuzz" } };
	struct store_policy p;
	time_t now = time(NULL);
	char err[1024];

	store_policy_default(&p);
	p.algs = STORE_ALGBIT(STORE_ALG_RSA) | STORE_ALGBIT(STORE_ALG_ED25519);
	p.bits = 1024;
	p.active_keys = 2;
	if (store_domain_add(s, name, &p, now, err, sizeof(err)) == -1)
		fuzz_die(name, err);
	if (!keys)
		return;
	if (store_key_import_pem(s, name, "ed", "ed", fuzz_ed,
	    strlen(fuzz_ed), now, "fuzz", err, sizeof(err)) == -1 ||
	    store_key_import_pem(s, name, "rsa", "rsa", fuzz_rsa,
	    strlen(fuzz_rsa), now, "fuzz", err, sizeof(err)) == -1 ||
	    store_apply(s, name, ch, 2, now, STORE_FORCE, err,
	    sizeof(err)) == -1)
		fuzz_die(name, err);
}

/* fuzz_keystore - the keystore, the tables, the public keys */
static char *
fuzz_keystore(void)
{
	char err[1024], *ks = fz_path("ks", NULL), *p;
	struct store *s;
	BIO *b;
	EVP_PKEY *k;

	if (store_init(ks, err, sizeof(err)) == -1 ||
	    (s = store_open(ks, 0, err, sizeof(err))) == NULL)
		fuzz_die(ks, err);
	fuzz_domain(s, "example.com", 1);
	fuzz_domain(s, "example.net", 1);
	fuzz_domain(s, "platform.test", 1);
	fuzz_domain(s, "nokey.test", 0);
	store_close(s);
	p = fz_path("SigningTable", NULL);
	fz_write(p, fuzz_signtable, strlen(fuzz_signtable), 0644);
	free(p);
	p = fz_path("SenderLogins", NULL);
	fz_write(p, fuzz_senders, strlen(fuzz_senders), 0644);
	free(p);
	b = BIO_new_mem_buf(fuzz_rsa, -1);
	k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	fuzz_pub[DKIM_ALG_RSA_SHA256] = k;
	BIO_free(b);
	b = BIO_new_mem_buf(fuzz_ed, -1);
	fuzz_pub[DKIM_ALG_ED25519_SHA256] = PEM_read_bio_PrivateKey(b, NULL,
	    NULL, NULL);
	BIO_free(b);
	if (fuzz_pub[0] == NULL || fuzz_pub[1] == NULL)
		abort();
	return ks;
}

/* fuzz_expand - a configuration's lines, each '@' the scratch directory */
static char *
fuzz_expand(const char *tpl)
{
	size_t n = strlen(tpl), k = 0;
	const char *p;
	char *out;

	for (p = tpl; *p != '\0'; p++)
		k += *p == '@';
	if ((out = malloc(n + k * strlen(fz_dir()) + 1)) == NULL)
		abort();
	for (n = 0, p = tpl; *p != '\0'; p++)
		if (*p == '@') {
			memcpy(out + n, fz_dir(), strlen(fz_dir()));
			n += strlen(fz_dir());
		} else
			out[n++] = *p;
	out[n] = '\0';
	return out;
}

/* fuzz_snapshot - configuration i as keyturnd builds it */
static struct snapshot *
fuzz_snapshot(size_t i, const char *ks)
{
	char err[1024], *text, *lines = fuzz_expand(fuzz_confs[i]);
	char *path = fz_path("keyturn.conf", NULL);
	struct kt_conf *c;
	struct rules *r;
	struct loader *l = loader_new();
	struct snapshot *s;
	int errors = 0;

	if (asprintf(&text, "KeyStore %s\nLogLevel debug\n%s", ks,
	    lines) == -1)
		abort();
	free(lines);
	fz_write(path, text, strlen(text), 0644);
	free(text);
	if ((c = conf_load(path, fz_count, &errors)) == NULL)
		fuzz_die(path, "does not load");
	if ((r = rules_load(c, fz_count, &errors)) == NULL)
		fuzz_die(path, "rules do not load");
	if ((s = loader_build(l, c, r, NULL, err, sizeof(err))) == NULL)
		fuzz_die(path, err);
	free(path);
	/* the snapshot holds the cache; the loader is the daemon's alone */
	loader_free(l);
	return s;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *ks;
	size_t i;

	(void)argc;
	(void)argv;
	log_init("fuzz_milter", 1, LOG_DEBUG);
	ks = fuzz_keystore();
	for (i = 0; i < FUZZ_NCONFS; i++)
		fuzz_snaps[i] = fuzz_snapshot(i, ks);
	free(ks);
	if (filter_register() == -1 || fuzz_desc.xxfi_eom == NULL)
		abort();
	return 0;
}

/* ---- one session ---- */

enum fuzz_state { S_NEW, S_NEG, S_CONN, S_MAIL, S_DATA, S_HDR, S_BODY,
    S_OVER };

struct fuzz_msg {
	char		*hdr;		/* the header as the MTA has it, CRLF */
	size_t		 hlen;
	char		*body;
	size_t		 blen;
	int		 clean;		/* a header an MTA sends */
};

static struct fz_in fuzz_in;

/* fuzz_str - a length byte and the bytes, NUL-terminated, malloc'd */
static char *
fuzz_str(void)
{
	const uint8_t *p;
	size_t n;

	p = fz_take(&fuzz_in, (size_t)fz_byte(&fuzz_in), &n);
	return fz_strndup(p, n);
}

/* fuzz_add - bytes onto a growing buffer */
static void
fuzz_add(char **buf, size_t *len, const void *p, size_t n)
{
	if ((*buf = realloc(*buf, *len + n + 1)) == NULL)
		abort();
	if (n > 0)
		memcpy(*buf + *len, p, n);
	*len += n;
	(*buf)[*len] = '\0';
}

/* fuzz_msg_reset - a message begins */
static void
fuzz_msg_reset(struct fuzz_msg *m)
{
	size_t i;

	free(m->hdr);
	free(m->body);
	memset(m, 0, sizeof(*m));
	m->clean = 1;
	for (i = 0; i < fuzz_nins; i++)
		free(fuzz_ins[i]);
	fuzz_nins = 0;
}

/*
 * fuzz_msg_header - the field onto the header as an MTA stores it: name,
 * ": ", the value with its bare LF folds as CRLF; not clean when an MTA
 * could not have sent it
 */
static void
fuzz_msg_header(struct fuzz_msg *m, const char *name, const char *value)
{
	const char *p;

	if (*name == '\0')
		m->clean = 0;
	for (p = name; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == ':')
			m->clean = 0;
	for (p = value; *p != '\0'; p++)
		if (*p == '\r' || (*p == '\n' && p[1] != ' ' &&
		    p[1] != '\t') || ((unsigned char)*p < 0x20 && *p != '\t' &&
		    *p != '\n'))
			m->clean = 0;
	fuzz_add(&m->hdr, &m->hlen, name, strlen(name));
	fuzz_add(&m->hdr, &m->hlen, ": ", 2);
	for (p = value; *p != '\0'; p++) {
		if (*p == '\n')
			fuzz_add(&m->hdr, &m->hlen, "\r", 1);
		fuzz_add(&m->hdr, &m->hlen, p, 1);
	}
	fuzz_add(&m->hdr, &m->hlen, "\r\n", 2);
}

/*
 * fuzz_verify - every signature inserted verifies over the message as
 * handed over, with the test key of its algorithm
 */
static void
fuzz_verify(const struct fuzz_msg *m)
{
	char *msg = NULL, why[256];
	size_t len, i;
	const char *p;
	int ed;

	for (i = 0; i < fuzz_nins; i++) {
		len = 0;
		fuzz_add(&msg, &len, "DKIM-Signature: ", 16);
		for (p = fuzz_ins[i]; *p != '\0'; p++) {
			if (*p == '\n')
				fuzz_add(&msg, &len, "\r", 1);
			fuzz_add(&msg, &len, p, 1);
		}
		fuzz_add(&msg, &len, "\r\n", 2);
		fuzz_add(&msg, &len, m->hdr, m->hlen);
		fuzz_add(&msg, &len, "\r\n", 2);
		fuzz_add(&msg, &len, m->body, m->blen);
		ed = strncmp(fuzz_ins[i], "v=1; a=ed25519-sha256;", 22) == 0;
		if (dkimv_verify(msg, len, 0, fuzz_pub[ed ?
		    DKIM_ALG_ED25519_SHA256 : DKIM_ALG_RSA_SHA256], why,
		    sizeof(why)) != DKIMV_OK) {
			fprintf(stderr, "fuzz_milter: %s\n", why);
			abort();	/* keyturnd's signature fails */
		}
		free(msg);
		msg = NULL;
	}
}

/* fuzz_connect - the client of record type 1 */
static sfsistat
fuzz_connect(SMFICTX *ctx)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_un *su = (struct sockaddr_un *)&ss;
	int how = fz_byte(&fuzz_in);
	char *host = fuzz_str();
	sfsistat r;

	fuzz_ins_fail = (how & 8) != 0;
	memset(&ss, 0, sizeof(ss));
	switch (how & 7) {
	case 0:
	case 1:
		s4->sin_family = AF_INET;
		inet_pton(AF_INET, how & 1 ? "192.0.2.7" : "127.0.0.1",
		    &s4->sin_addr);
		break;
	case 2:
	case 3:
		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, how & 1 ? "2001:db8::7" : "::1",
		    &s6->sin6_addr);
		break;
	case 4:
		su->sun_family = AF_UNIX;
		break;
	}
	r = fuzz_desc.xxfi_connect(ctx, host, (how & 7) < 5 ?
	    (_SOCK_ADDR *)&ss : NULL);
	free(host);
	return r;
}

/* fuzz_negotiate - record type 0 */
static void
fuzz_negotiate(SMFICTX *ctx)
{
	static const unsigned long steps[] = { 0, SMFIP_NR_CONN |
	    SMFIP_NR_MAIL | SMFIP_NR_HDR | SMFIP_NR_BODY | SMFIP_NOHELO |
	    SMFIP_NORCPT | SMFIP_NOEOH | SMFIP_NOUNKNOWN, SMFIP_NR_HDR,
	    SMFIP_NOHELO | SMFIP_NORCPT };
	unsigned long p0, p1, p2, p3, f0 = 0;
	int a = fz_byte(&fuzz_in), b = fz_byte(&fuzz_in);

	if (a & 1)
		f0 |= SMFIF_ADDHDRS;
	if (a & 2)
		f0 |= SMFIF_SETSYMLIST;
	(void)fuzz_desc.xxfi_negotiate(ctx, f0, steps[b % 4], 0, 0, &p0, &p1,
	    &p2, &p3);
}

/* fuzz_ends - a reply after which the MTA sends no more of the message */
static int
fuzz_ends(sfsistat r)
{
	return r != SMFIS_CONTINUE && r != SMFIS_NOREPLY;
}

/* fuzz_record - one record; the session's state after it */
static enum fuzz_state
fuzz_record(SMFICTX *ctx, enum fuzz_state st, struct fuzz_msg *m)
{
	const uint8_t *p;
	char *a, *b, *argv[2];
	size_t n;
	int type = fz_byte(&fuzz_in) % 10, i;
	sfsistat r;

	switch (type) {
	case 0:
		if (st != S_NEW) {
			(void)fz_take(&fuzz_in, 2, &n);
			return st;
		}
		fuzz_negotiate(ctx);
		return S_NEG;
	case 1:
		if (st != S_NEW && st != S_NEG) {
			(void)fz_byte(&fuzz_in);
			free(fuzz_str());
			return st;
		}
		(void)fuzz_connect(ctx);
		return S_CONN;
	case 2:
		i = fz_byte(&fuzz_in) % FUZZ_NMACROS;
		free(fuzz_macros[i]);
		fuzz_macros[i] = fuzz_str();
		if (*fuzz_macros[i] == '\0') {
			free(fuzz_macros[i]);
			fuzz_macros[i] = NULL;
		}
		return st;
	case 3:
		a = fuzz_str();
		if (st != S_CONN && st != S_OVER) {
			free(a);
			return st;
		}
		fuzz_msg_reset(m);
		argv[0] = a;
		argv[1] = NULL;
		r = fuzz_desc.xxfi_envfrom(ctx, argv);
		free(a);
		return fuzz_ends(r) ? S_OVER : S_MAIL;
	case 4:
		if (st != S_MAIL)
			return st;
		return fuzz_ends(fuzz_desc.xxfi_data(ctx)) ? S_OVER : S_DATA;
	case 5:
		a = fuzz_str();
		b = fuzz_str();
		if (st == S_MAIL || st == S_DATA || st == S_HDR) {
			fuzz_msg_header(m, a, b);
			st = fuzz_ends(fuzz_desc.xxfi_header(ctx, a, b)) ?
			    S_OVER : S_HDR;
		}
		free(a);
		free(b);
		return st;
	case 6:
		p = fz_take(&fuzz_in, fz_u16(&fuzz_in), &n);
		if (st != S_MAIL && st != S_DATA && st != S_HDR &&
		    st != S_BODY)
			return st;
		fuzz_add(&m->body, &m->blen, p, n);
		if ((a = malloc(n ? n : 1)) == NULL)
			abort();
		memcpy(a, p, n);
		r = fuzz_desc.xxfi_body(ctx, (unsigned char *)a, n);
		free(a);
		return fuzz_ends(r) ? S_OVER : S_BODY;
	case 7:
		if (st != S_MAIL && st != S_DATA && st != S_HDR &&
		    st != S_BODY)
			return st;
		if (fuzz_desc.xxfi_eom(ctx) == SMFIS_CONTINUE && m->clean)
			fuzz_verify(m);
		return S_OVER;
	case 8:
		if (st == S_NEW || st == S_NEG || st == S_CONN)
			return st;
		(void)fuzz_desc.xxfi_abort(ctx);
		return S_CONN;
	default:
		if (st == S_NEW)
			return st;
		(void)fuzz_desc.xxfi_close(ctx);
		if (ctx->priv != NULL)
			abort();
		return S_NEW;	/* a new connection, or the same (QUIT_NC) */
	}
}

/*
 * fuzz_pflags_reset - the protocol steps filter.c keeps for the process
 * (SMFIC_QUIT_NC reuses them) back to none, so that no input depends on
 * an earlier one's negotiation
 */
static void
fuzz_pflags_reset(void)
{
	struct smfi_str ctx = { NULL };
	unsigned long p0, p1, p2, p3;

	(void)fuzz_desc.xxfi_negotiate(&ctx, SMFIF_ADDHDRS, 0, 0, 0, &p0,
	    &p1, &p2, &p3);
	(void)fuzz_desc.xxfi_close(&ctx);
	if (ctx.priv != NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smfi_str ctx = { NULL };
	struct fuzz_msg m;
	enum fuzz_state st = S_NEW;
	size_t i, c;

	if (size < 1)
		return 0;
	fuzz_in.p = data;
	fuzz_in.n = size;
	c = (size_t)fz_byte(&fuzz_in) % (FUZZ_NCONFS + 1);
	fuzz_pflags_reset();
	fuzz_ins_fail = 0;
	snapshot_install(c < FUZZ_NCONFS ? snapshot_ref(fuzz_snaps[c]) :
	    NULL);
	memset(&m, 0, sizeof(m));
	fuzz_msg_reset(&m);
	while (fuzz_in.n > 0)
		st = fuzz_record(&ctx, st, &m);
	if (st != S_NEW)
		(void)fuzz_desc.xxfi_close(&ctx);
	if (ctx.priv != NULL || filter_inflight() != 0 ||
	    filter_sessions() != 0)
		abort();
	fuzz_msg_reset(&m);
	free(m.hdr);
	free(m.body);
	for (i = 0; i < FUZZ_NMACROS; i++) {
		free(fuzz_macros[i]);
		fuzz_macros[i] = NULL;
	}
	return 0;
}
