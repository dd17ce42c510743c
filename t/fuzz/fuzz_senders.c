/*
 * fuzz_senders - the SenderLogins file as keyturnd loads it
 * (senders_load; libFuzzer entry)
 *
 * The input is the file, written once per run to the same path. A file
 * must load or be refused with at least one error reported, never both
 * or neither. Of a file that loads, each login is looked up (in upper
 * case; a "*@domain" line through a login of that domain) and must find
 * the line a plain search finds: its own, else its domain's "*@domain"
 * line (none for a login too long for the lookup, which then fails
 * closed). Each pattern of the line found must allow an address made
 * from it that the From parser hands over as it is (dkim_from_address),
 * in upper case (senders_allows).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dkim.h"
#include "fuzz_util.h"
#include "senders.h"

static char *fuzz_path;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_path = fz_path("SenderLogins", NULL);
	return 0;
}

/* fuzz_upper - ASCII upper case in place */
static char *
fuzz_upper(char *s)
{
	char *p;

	for (p = s; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'z')
			*p -= 'a' - 'A';
	return s;
}

/* fuzz_line - the line of a login by a plain search, or NULL */
static const struct senders_login *
fuzz_line(const struct senders *t, const char *login)
{
	const char *at = strrchr(login, '@');
	size_t i;

	if (strlen(login) + 2 > 600)
		return NULL;
	for (i = 0; i < t->nlogins; i++)
		if (strcasecmp(t->logins[i].login, login) == 0)
			return &t->logins[i];
	if (at == NULL || at[1] == '\0')
		return NULL;
	for (i = 0; i < t->nlogins; i++)
		if (strncmp(t->logins[i].login, "*@", 2) == 0 &&
		    strcasecmp(t->logins[i].login + 2, at + 1) == 0)
			return &t->logins[i];
	return NULL;
}

/*
 * fuzz_mail - the address as the From parser hands it over (lowercased
 * local part, domain); -1 when no From field could carry it, 1 when it
 * is another address (a comment or blank taken out of it)
 */
static int
fuzz_mail(char *local, char *domain)
{
	char v[600], l[256], d[256], err[256];
	int same;

	snprintf(v, sizeof(v), "<%s@%s>", local, domain);
	if (dkim_from_address(v, strlen(v), l, sizeof(l), d, sizeof(d), err,
	    sizeof(err)) != DKIM_OK)
		return -1;
	same = strcasecmp(l, local) == 0 && strcasecmp(d, domain) == 0;
	strlcpy(local, l, 256);
	strlcpy(domain, d, 256);
	return same ? 0 : 1;
}

/* fuzz_allows - the line allows an address of each of its patterns */
static void
fuzz_allows(const struct senders_login *l)
{
	char local[256], domain[256];
	const char *key, *at;
	size_t i, n;

	for (i = 0; i < l->npatterns && i < 8; i++) {
		key = l->patterns[i];
		strlcpy(local, "SOMEONE", sizeof(local));
		if ((at = strrchr(key, '@')) != NULL) {
			if ((n = (size_t)(at - key)) >= sizeof(local))
				continue;
			memcpy(local, key, n);
			local[n] = '\0';
			key = at + 1;
		}
		if (strlen(key) + 4 >= sizeof(domain))
			continue;
		snprintf(domain, sizeof(domain), "%s%s", key[0] == '.' ?
		    "sub" : "", key);
		if (fuzz_mail(local, domain) != 0)
			continue;	/* no such From, or another one */
		if (!senders_allows(l, fuzz_upper(local), fuzz_upper(domain)))
			abort();
	}
}

/* fuzz_lookups - every login through senders_find */
static void
fuzz_lookups(const struct senders *t)
{
	const struct senders_login *l;
	char *login;
	size_t i;

	for (i = 0; i < t->nlogins && i < 32; i++) {
		if (strncmp(t->logins[i].login, "*@", 2) == 0) {
			if (asprintf(&login, "someone%s",
			    t->logins[i].login + 1) == -1)
				abort();
		} else if ((login = strdup(t->logins[i].login)) == NULL)
			abort();
		fuzz_upper(login);
		l = senders_find(t, login);
		if (l != fuzz_line(t, login))
			abort();
		if (l != NULL)
			fuzz_allows(l);
		free(login);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct senders *t;
	int errors = 0;

	fz_write(fuzz_path, data, size, 0644);
	t = senders_load(fuzz_path, fz_count, &errors);
	if ((t == NULL) != (errors > 0))
		abort();
	if (t != NULL) {
		fuzz_lookups(t);
		senders_free(t);
	}
	return 0;
}
