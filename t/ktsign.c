/*
 * ktsign - sign a message file with the engine (test tool)
 *
 *	ktsign [-S] [-F] [-b whole|bytes|SEED] [-t time] [-x time]
 *	    [-h names] [-o names] -k key.pem -d domain -s selector
 *	    [-k ... -d ... -s ...] file
 *
 * Writes the message to stdout with one DKIM-Signature field per key
 * prepended (CRLF line ends, as the message has them). The fields go to the
 * engine as an MTA hands them (name and value, leading space stripped,
 * folds as bare LF; -F keeps CRLF folds); the body arrives whole, one byte
 * at a time, or in random chunks from SEED. -S uses simple/simple, with
 * values passed verbatim (what SMFIP_HDR_LEADSPC gives a milter).
 * -h and -o are the signed and oversigned lists ("" for no oversigning).
 * The From domain is printed to stderr as a check of the From parser.
 */
#include "config.h"

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "dkim.h"
#include "msgfile.h"

#define KTSIGN_MAXKEYS	8

static struct dkim_sign	 sigs[KTSIGN_MAXKEYS];
static size_t		 nsigs;

/* ktsign_key - one PEM private key; its type gives the algorithm */
static EVP_PKEY *
ktsign_key(const char *path, enum dkim_alg *alg)
{
	EVP_PKEY *k;
	FILE	*fp;

	if ((fp = fopen(path, "r")) == NULL)
		err(1, "%s", path);
	k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if (k == NULL)
		errx(1, "%s: not a PEM private key", path);
	*alg = EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519 ?
	    DKIM_ALG_ED25519_SHA256 : DKIM_ALG_RSA_SHA256;
	return k;
}

/* ktsign_chunks - "whole", "bytes" or a seed for random chunks */
static void
ktsign_chunks(const char *s, struct msgfile_opts *o)
{
	if (strcmp(s, "whole") == 0)
		o->chunks = MSGFILE_WHOLE;
	else if (strcmp(s, "bytes") == 0)
		o->chunks = MSGFILE_BYTES;
	else {
		o->chunks = MSGFILE_RANDOM;
		o->seed = (unsigned int)strtoul(s, NULL, 10);
	}
}

/* ktsign_put - a signature field, its bare LF folds made CRLF */
static void
ktsign_put(const char *value)
{
	fputs("DKIM-Signature: ", stdout);
	for (; *value != '\0'; value++) {
		if (*value == '\n')
			putchar('\r');
		putchar(*value);
	}
	fputs("\r\n", stdout);
}

struct ktsign_opts {
	struct msgfile_opts	 feed;
	enum dkim_canon		 canon;
	const char		*hsign;
	const char		*hover;
	time_t			 t;
	time_t			 x;
};

/* ktsign_usage - the one way out for a bad command line */
static void __attribute__((noreturn))
ktsign_usage(void)
{
	errx(1, "usage: ktsign [-SF] [-b chunks] [-t t] [-x x] [-h names] "
	    "[-o names] -k key -d dom -s sel file");
}

/* ktsign_opt - one option; -k starts a signature, -d and -s fill it */
static void
ktsign_opt(int ch, const char *arg, struct ktsign_opts *k)
{
	struct dkim_sign *last = &sigs[nsigs ? nsigs - 1 : 0];

	switch (ch) {
	case 'b':
		ktsign_chunks(arg, &k->feed);
		break;
	case 'd':
		last->domain = arg;
		break;
	case 'F':
		k->feed.crlf_folds = 1;
		break;
	case 'h':
		k->hsign = arg;
		break;
	case 'k':
		if (nsigs == KTSIGN_MAXKEYS)
			errx(1, "too many keys");
		sigs[nsigs].key = ktsign_key(arg, &sigs[nsigs].alg);
		nsigs++;
		break;
	case 'o':
		k->hover = arg;
		break;
	case 'S':
		k->canon = DKIM_CANON_SIMPLE;
		k->feed.keep_lead = 1;
		break;
	case 's':
		last->selector = arg;
		break;
	case 't':
		k->t = (time_t)strtoll(arg, NULL, 10);
		break;
	case 'x':
		k->x = (time_t)strtoll(arg, NULL, 10);
		break;
	default:
		ktsign_usage();
	}
}

/* ktsign_sign - feed the message, print the From domain and the fields */
static void
ktsign_sign(const struct ktsign_opts *k, const char *path, const char *msg,
    size_t len)
{
	struct dkim_hdrlist *hl = NULL;
	struct dkim_msg *m;
	char	 errbuf[256], dom[256], *v;
	size_t	 i;

	if ((k->hsign || k->hover) && (hl = dkim_hdrlist_new(k->hsign,
	    k->hover, errbuf, sizeof(errbuf))) == NULL)
		errx(1, "header list: %s", errbuf);
	m = dkim_msg_new(k->canon, k->canon);
	if (msgfile_feed(m, msg, len, &k->feed, errbuf, sizeof(errbuf)) !=
	    DKIM_OK)
		errx(2, "%s: %s", path, errbuf);
	if (dkim_msg_from_domain(m, dom, sizeof(dom), errbuf,
	    sizeof(errbuf)) == DKIM_OK)
		fprintf(stderr, "from-domain: %s\n", dom);
	else
		fprintf(stderr, "from-domain: error: %s\n", errbuf);
	for (i = 0; i < nsigs; i++) {
		sigs[i].t = k->t;
		sigs[i].x = k->x;
		sigs[i].hdrs = hl;
		if (dkim_msg_sign(m, &sigs[i], &v, errbuf, sizeof(errbuf)) !=
		    DKIM_OK)
			errx(3, "sign: %s", errbuf);
		ktsign_put(v);
		free(v);
	}
	dkim_msg_free(m);
	dkim_hdrlist_free(hl);
}

int
main(int argc, char *argv[])
{
	struct ktsign_opts k = { { MSGFILE_WHOLE, 0, 0, 0 },
	    DKIM_CANON_RELAXED, NULL, NULL, time(NULL), 0 };
	char	*msg;
	size_t	 len, i;
	int	 ch;

	while ((ch = getopt(argc, argv, "b:d:Fh:k:o:Ss:t:x:")) != -1)
		ktsign_opt(ch, optarg, &k);
	if (argc - optind != 1 || nsigs == 0)
		errx(1, "need a key and a file");
	if ((msg = msgfile_read(argv[optind], &len)) == NULL)
		err(1, "%s", argv[optind]);
	ktsign_sign(&k, argv[optind], msg, len);
	fwrite(msg, 1, len, stdout);
	for (i = 0; i < nsigs; i++)
		EVP_PKEY_free(sigs[i].key);
	free(msg);
	return fflush(stdout) == 0 ? 0 : 1;
}
