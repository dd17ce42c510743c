/*
 * fuzz_history - a domain's history file as the keystore reads it
 * (sfmt_history_parse; libFuzzer entry)
 *
 * The input is the file, NUL-terminated as sfile_read hands it over.
 * Every event that parses is written again with sfmt_event, the writer
 * of history lines, and the new text parsed: it must give the same
 * events. Left out: a line written before key ids were kept whose reason
 * itself starts with "slot=" or "pub=" (written again with key=, those
 * words would read as tags; no keyturn wrote such a reason).
 * The lookups the CLI and the rotation make on a history run over the
 * events too.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "store_int.h"

/* fuzz_event_text - ev as sfmt_event writes it (its key rebuilt) */
static char *
fuzz_event_text(const struct store_event *ev)
{
	struct store_key k;

	memset(&k, 0, sizeof(k));
	strlcpy(k.selector, ev->selector, sizeof(k.selector));
	strlcpy(k.kid, ev->kid, sizeof(k.kid));
	k.slot = ev->slot;
	k.alg = ev->alg;
	k.spki = ev->pub;
	return sfmt_event(ev->when, &k, ev->from, ev->to, ev->pub != NULL,
	    ev->reason);
}

/*
 * fuzz_event_plain - not a line of an older keyturn whose reason starts
 * like a tag: written again with key=, its reason would read as tags
 */
static int
fuzz_event_plain(const struct store_event *ev)
{
	return strncmp(ev->reason, "slot=", 5) != 0 &&
	    strncmp(ev->reason, "pub=", 4) != 0;
}

/* fuzz_event_same - what a line says */
static int
fuzz_event_same(const struct store_event *a, const struct store_event *b)
{
	return a->when == b->when && strcmp(a->selector, b->selector) == 0 &&
	    a->from == b->from && a->to == b->to &&
	    strcmp(a->reason, b->reason) == 0 &&
	    strcmp(a->kid, b->kid) == 0 && a->slot == b->slot &&
	    (a->pub == NULL) == (b->pub == NULL) &&
	    (a->pub == NULL || (strcmp(a->pub, b->pub) == 0 &&
	    a->alg == b->alg));
}

/* fuzz_history_again - every event written and read back */
static void
fuzz_history_again(const struct store_event *ev, size_t n)
{
	struct store_event *ev2;
	size_t n2, i, j, len = strlen(SFMT_HISTORY_HEADER);
	char err[1024], *text = strdup(SFMT_HISTORY_HEADER), *line;

	for (i = 0; i < n; i++) {
		if (!fuzz_event_plain(&ev[i]))
			continue;
		line = fuzz_event_text(&ev[i]);
		text = realloc(text, len + strlen(line) + 1);
		if (text == NULL)
			abort();
		memcpy(text + len, line, strlen(line) + 1);
		len += strlen(line);
		free(line);
	}
	if (sfmt_history_parse("history", text, len, &ev2, &n2, err,
	    sizeof(err)) != 0)
		abort();	/* written, then refused */
	for (i = j = 0; i < n; i++) {
		if (!fuzz_event_plain(&ev[i]))
			continue;
		if (j >= n2 || !fuzz_event_same(&ev[i], &ev2[j++]))
			abort();
	}
	if (j != n2)
		abort();
	store_history_free(ev2, n2);
	free(text);
}

/* fuzz_history_ask - the questions keyturn asks of a history */
static void
fuzz_history_ask(const struct store_event *ev, size_t n)
{
	char kid[STORE_KID_LEN + 1];
	size_t i;

	for (i = 0; i < n && i < 8; i++) {
		(void)store_history_state_at(ev, n, ev[i].selector,
		    ev[i].when);
		(void)store_history_holder(ev, n, ev[i].selector, ev[i].when,
		    kid);
		(void)store_history_key_state_at(ev, n, ev[i].kid,
		    ev[i].when);
		(void)store_history_created(ev, n, ev[i].kid);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_event *ev;
	size_t n;
	char err[1024], *buf = fz_strndup(data, size);

	if (sfmt_history_parse("history", buf, size, &ev, &n, err,
	    sizeof(err)) == 0) {
		fuzz_history_again(ev, n);
		fuzz_history_ask(ev, n);
		store_history_free(ev, n);
	}
	free(buf);
	return 0;
}
