/*
 * signtable - SigningTable: which keystore domains sign a From address
 *
 * "PATTERN DOMAIN[,DOMAIN...]" per line (table.h for the patterns). The
 * first rule whose pattern matches the From address wins, in the order of
 * the file; its domains each add a signature of their own keys. A pattern
 * that matches every domain is refused, and so is a pattern given twice
 * (the second could never win).
 */
#ifndef KEYTURN_SIGNTABLE_H
#define KEYTURN_SIGNTABLE_H

#include <stddef.h>

#include "conf.h"
#include "table.h"

#define SIGNTABLE_MAXDOMAINS	8	/* domains one rule signs with */

struct signtable_rule {
	int	 lineno;
	char	*pattern;		/* canonical key (table_pattern) */
	char	*domains[SIGNTABLE_MAXDOMAINS];
	size_t	 ndomains;
};

struct signtable {
	char			*path;
	struct signtable_rule	*rules;
	size_t			 nrules;
	struct table_index	 ix;
};

/* signtable_load - the whole table, or NULL after reporting every error */
struct signtable *signtable_load(const char *path, conf_report_fn *report,
		    void *rarg);
void		 signtable_free(struct signtable *);

/* signtable_lookup - the first rule matching the address, or NULL */
const struct signtable_rule *signtable_lookup(const struct signtable *,
		    const char *local, const char *domain);

#endif
