/*
 * duration - "30s", "15m", "12h", "120d", "2w" and back
 *
 * Durations in keyturn.conf, the keystore policy files and on the command
 * line. A bare number is seconds. Seconds are accepted everywhere so that
 * tests can run whole key lifecycles in minutes.
 */
#ifndef KEYTURN_DURATION_H
#define KEYTURN_DURATION_H

#include <stddef.h>

/* duration_parse - 0 and *secs set, or -1 and *errstr set */
int	 duration_parse(const char *s, long long *secs, const char **errstr);
/* duration_format - the largest exact unit: 86400 -> "1d", 90 -> "90s" */
char	*duration_format(long long secs, char *buf, size_t len);

#endif
