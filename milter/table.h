/*
 * table - the operator's address tables: SigningTable and SenderLogins
 *
 * Both files have one rule per line, "KEY VALUE[,VALUE...]" (white space
 * between the key and the list, none needed after the commas), '#'
 * comments at the start of a line or after white space, blank lines
 * ignored. Every error is reported as "file:line: message"; a table with
 * any error is refused whole, so the one in force stays.
 *
 * An address pattern, as both tables write it:
 *	user@example.com	that address
 *	example.com, *@example.com
 *				any address at example.com
 *	.example.com, *.example.com, *@.example.com, *@*.example.com
 *				any address at a subdomain of example.com
 *				(not example.com itself)
 * Domains are ASCII (A-labels for internationalized names) and matched
 * without regard to case, local parts too. A pattern that matches every
 * domain (*, *@*, *@) is refused: no table signs foreign domains with one
 * key by accident.
 *
 * Lookups cost O(labels of the domain) binary searches, whatever the
 * table's size: a provider's table of a million rules costs no more per
 * message than one of ten.
 */
#ifndef KEYTURN_TABLE_H
#define KEYTURN_TABLE_H

#include <stddef.h>

#include "conf.h"

#define TABLE_NONE	((size_t)-1)

/*
 * table_pattern - the canonical key of an address pattern: "user@domain",
 * "domain" or ".domain", lowercased, in a new string; NULL with why
 */
char		*table_pattern(const char *pat, char *why, size_t whylen);

/*
 * table_matches - does the canonical pattern key match the address
 * (local may be NULL: then only domain patterns can match)?
 */
int		 table_matches(const char *key, const char *local,
		    const char *domain);

/* An index of canonical pattern keys, each naming a rule by number. */
struct table_index {
	struct table_entry	*v;
	size_t			 n;
	size_t			 size;
};

void		 table_index_add(struct table_index *, char *key, size_t rule);
void		 table_index_seal(struct table_index *);
void		 table_index_free(struct table_index *);
/*
 * table_index_lookup - the lowest rule whose pattern matches the address,
 * TABLE_NONE when none does
 */
size_t		 table_index_lookup(const struct table_index *,
		    const char *local, const char *domain);
/* table_index_find - the lowest rule of exactly this key, or TABLE_NONE */
size_t		 table_index_find(const struct table_index *, const char *key);

/*
 * table_index_dups - report "path:line: MSG (first at line N)" for every
 * rule whose key an earlier rule already has (linefn gives a rule's line);
 * the number reported
 */
int		 table_index_dups(const struct table_index *, const char *path,
		    int (*linefn)(const void *, size_t), const void *arg,
		    const char *msg, conf_report_fn *report, void *rarg);

/*
 * One line of a table as the reader hands it: the key and the values,
 * split at commas and trimmed. The callback returns 0, or -1 after
 * writing why into err (the reader adds file and line).
 */
typedef int table_line_fn(void *arg, int lineno, const char *key,
		    char **values, size_t nvalues, char *err, size_t errlen);

/*
 * table_read - every line of path to fn; the number of errors reported
 * (each once, "file:line: message", through report), 0 when the table
 * is whole
 */
int		 table_read(const char *path, table_line_fn *fn, void *arg,
		    conf_report_fn *report, void *rarg);

#endif
