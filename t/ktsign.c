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

int
main(int argc, char *argv[])
{
	struct msgfile_opts o = { MSGFILE_WHOLE, 0, 0, 0 };
	enum dkim_canon canon = DKIM_CANON_RELAXED;
	struct dkim_hdrlist *hl = NULL;
	const char *hsign = NULL, *hover = NULL;
	struct dkim_msg *m;
	char	 errbuf[256], dom[256], *msg, *v;
	time_t	 t = time(NULL), x = 0;
	size_t	 len, i;
	int	 ch;

	while ((ch = getopt(argc, argv, "b:d:Fh:k:o:Ss:t:x:")) != -1) {
		switch (ch) {
		case 'b':
			ktsign_chunks(optarg, &o);
			break;
		case 'd':
			sigs[nsigs ? nsigs - 1 : 0].domain = optarg;
			break;
		case 'F':
			o.crlf_folds = 1;
			break;
		case 'h':
			hsign = optarg;
			break;
		case 'k':
			if (nsigs == KTSIGN_MAXKEYS)
				errx(1, "too many keys");
			sigs[nsigs].key = ktsign_key(optarg, &sigs[nsigs].alg);
			nsigs++;
			break;
		case 'o':
			hover = optarg;
			break;
		case 'S':
			canon = DKIM_CANON_SIMPLE;
			o.keep_lead = 1;
			break;
		case 's':
			sigs[nsigs ? nsigs - 1 : 0].selector = optarg;
			break;
		case 't':
			t = (time_t)strtoll(optarg, NULL, 10);
			break;
		case 'x':
			x = (time_t)strtoll(optarg, NULL, 10);
			break;
		default:
			errx(1, "usage: ktsign [-SF] [-b chunks] [-t t] [-x x] "
			    "[-h names] [-o names] -k key -d dom -s sel file");
		}
	}
	if (argc - optind != 1 || nsigs == 0)
		errx(1, "need a key and a file");
	if ((msg = msgfile_read(argv[optind], &len)) == NULL)
		err(1, "%s", argv[optind]);
	if ((hsign || hover) &&
	    (hl = dkim_hdrlist_new(hsign, hover, errbuf, sizeof(errbuf))) ==
	    NULL)
		errx(1, "header list: %s", errbuf);
	m = dkim_msg_new(canon, canon);
	if (msgfile_feed(m, msg, len, &o, errbuf, sizeof(errbuf)) != DKIM_OK)
		errx(2, "%s: %s", argv[optind], errbuf);
	if (dkim_msg_from_domain(m, dom, sizeof(dom), errbuf,
	    sizeof(errbuf)) == DKIM_OK)
		fprintf(stderr, "from-domain: %s\n", dom);
	else
		fprintf(stderr, "from-domain: error: %s\n", errbuf);
	for (i = 0; i < nsigs; i++) {
		sigs[i].t = t;
		sigs[i].x = x;
		sigs[i].hdrs = hl;
		if (dkim_msg_sign(m, &sigs[i], &v, errbuf, sizeof(errbuf)) !=
		    DKIM_OK)
			errx(3, "sign: %s", errbuf);
		ktsign_put(v);
		free(v);
	}
	fwrite(msg, 1, len, stdout);
	dkim_msg_free(m);
	dkim_hdrlist_free(hl);
	for (i = 0; i < nsigs; i++)
		EVP_PKEY_free(sigs[i].key);
	free(msg);
	return fflush(stdout) == 0 ? 0 : 1;
}
