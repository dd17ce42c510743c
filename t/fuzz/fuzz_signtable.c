/*
 * fuzz_signtable - the SigningTable file as keyturnd loads it
 * (signtable_load; libFuzzer entry)
 *
 * The input is the file, written once per run to the same path. A
 * table must load or be refused with at least one error reported, never
 * both or neither. A table that loads is looked up as keyturnd looks up
 * a From address: for each rule an address its pattern matches is made
 * (a subdomain for ".domain", the domain in upper case) and put through
 * the From parser (dkim_from_address: a local part such as ".x" never
 * comes, a comment in it is dropped, the parts are under 256 bytes).
 * The rule the index finds must be the first rule of the file that
 * table_matches says matches the parsed address (so none is found only
 * when the parser changed the address); without a local part only
 * domain patterns may answer.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dkim.h"
#include "fuzz_util.h"
#include "signtable.h"

static char *fuzz_table_path;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_table_path = fz_path("SigningTable", NULL);
	return 0;
}

/* fuzz_first - the first rule of the file that matches, or NULL */
static const struct signtable_rule *
fuzz_first(const struct signtable *t, const char *local, const char *domain)
{
	size_t i;

	for (i = 0; i < t->nrules; i++)
		if (table_matches(t->rules[i].pattern, local, domain))
			return &t->rules[i];
	return NULL;
}

/* fuzz_address - an address the canonical pattern key matches */
static int
fuzz_address(const char *key, char *local, char *domain)
{
	const char *at = strrchr(key, '@');
	size_t n;

	strlcpy(local, "someone", 256);
	if (at != NULL) {
		if ((n = (size_t)(at - key)) >= 256)
			return -1;
		memcpy(local, key, n);
		local[n] = '\0';
		key = at + 1;
	}
	if (strlen(key) + 4 >= 256)
		return -1;
	snprintf(domain, 256, "%s%s", key[0] == '.' ? "sub" : "", key);
	for (; *domain != '\0'; domain++)
		if (*domain >= 'a' && *domain <= 'z')
			*domain -= 'a' - 'A';
	return 0;
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

/* fuzz_lookups - the index against the file's order */
static void
fuzz_lookups(const struct signtable *t)
{
	const struct signtable_rule *r;
	char local[256], domain[256];
	size_t i;
	int m;

	for (i = 0; i < t->nrules && i < 32; i++) {
		if (fuzz_address(t->rules[i].pattern, local, domain) == -1 ||
		    (m = fuzz_mail(local, domain)) == -1)
			continue;
		r = signtable_lookup(t, local, domain);
		if ((r == NULL && m == 0) || r != fuzz_first(t, local, domain))
			abort();
		if (signtable_lookup(t, NULL, domain) !=
		    fuzz_first(t, NULL, domain))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct signtable *t;
	int errors = 0;

	fz_write(fuzz_table_path, data, size, 0644);
	t = signtable_load(fuzz_table_path, fz_count, &errors);
	if ((t == NULL) != (errors > 0))
		abort();
	if (t != NULL) {
		fuzz_lookups(t);
		signtable_free(t);
	}
	return 0;
}
