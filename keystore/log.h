/*
 * log - the one logging module of keyturn
 *
 * Lines go to syslog (facility mail) or, in the foreground, to stderr with a
 * timestamp. Per-message lines carry the MTA queue id first ("QID: ...");
 * that is the caller's format, not this module's. Key material never passes
 * through here.
 */
#ifndef KEYTURN_LOG_H
#define KEYTURN_LOG_H

#include <syslog.h>

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

void	log_init(const char *ident, int foreground, int level);
void	log_setlevel(int level);
int	log_getlevel(void);
int	log_level_parse(const char *name);	/* -1 when unknown */

void	log_err(const char *, ...) LOG_PRINTF(1, 2);	/* with strerror(errno) */
void	log_errx(const char *, ...) LOG_PRINTF(1, 2);
void	log_warn(const char *, ...) LOG_PRINTF(1, 2);	/* with strerror(errno) */
void	log_warnx(const char *, ...) LOG_PRINTF(1, 2);
void	log_notice(const char *, ...) LOG_PRINTF(1, 2);
void	log_info(const char *, ...) LOG_PRINTF(1, 2);
void	log_debug(const char *, ...) LOG_PRINTF(1, 2);

#endif
