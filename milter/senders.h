/*
 * senders - SenderLogins: the From addresses each SMTP AUTH login owns
 *
 * "LOGIN PATTERN[,PATTERN...]" per line. LOGIN is a login name as the MTA
 * reports it ({auth_authen}), matched without regard to case, or
 * "*@domain" for every login of the form NAME@domain that has no line of
 * its own. The patterns are address patterns (table.h): the From
 * addresses the login may have signed. A login given twice is an error
 * (its lines would have to be merged by guesswork).
 */
#ifndef KEYTURN_SENDERS_H
#define KEYTURN_SENDERS_H

#include <stddef.h>

#include "conf.h"
#include "table.h"

struct senders_login {
	int	 lineno;
	char	*login;			/* lowercased; "*@domain" form kept */
	char	**patterns;		/* canonical keys (table_pattern) */
	size_t	 npatterns;
};

struct senders {
	char			*path;
	struct senders_login	*logins;
	size_t			 nlogins;
	struct table_index	 ix;	/* login -> its entry */
};

/* senders_load - the whole file, or NULL after reporting every error */
struct senders	*senders_load(const char *path, conf_report_fn *report,
		    void *rarg);
void		 senders_free(struct senders *);

/*
 * senders_find - the line that governs a login: its own, else the
 * "*@domain" line of its domain; NULL when neither exists
 */
const struct senders_login *senders_find(const struct senders *,
		    const char *login);

/* senders_allows - may this login's line sign for the address? */
int		 senders_allows(const struct senders_login *,
		    const char *local, const char *domain);

#endif
