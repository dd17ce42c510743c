/*
 * duration - parse and format durations with a unit suffix
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"

static const struct {
	char unit;
	long long secs;
} units[] = {
	{ 'w', 7 * 86400LL }, { 'd', 86400 }, { 'h', 3600 }, { 'm', 60 },
	{ 's', 1 },
};

/* unit_secs - seconds per unit letter, 0 when the letter is not a unit */
static long long
unit_secs(char u)
{
	size_t i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (units[i].unit == u)
			return units[i].secs;
	return 0;
}

int
duration_parse(const char *s, long long *secs, const char **errstr)
{
	long long n = 0, mult = 1;
	const char *p = s;

	if (!isdigit((unsigned char)*p)) {
		*errstr = "a duration is a number with an optional unit "
		    "(s, m, h, d, w)";
		return -1;
	}
	for (; isdigit((unsigned char)*p); p++) {
		if (n > (LLONG_MAX - 9) / 10) {
			*errstr = "duration too large";
			return -1;
		}
		n = n * 10 + (*p - '0');
	}
	if (*p != '\0') {
		if ((mult = unit_secs(*p)) == 0 || p[1] != '\0') {
			*errstr = "unknown duration unit (use s, m, h, d or w)";
			return -1;
		}
	}
	if (n > LLONG_MAX / mult) {
		*errstr = "duration too large";
		return -1;
	}
	*secs = n * mult;
	return 0;
}

char *
duration_format(long long secs, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (secs != 0 && secs % units[i].secs == 0) {
			snprintf(buf, len, "%lld%c", secs / units[i].secs,
			    units[i].unit);
			return buf;
		}
	}
	snprintf(buf, len, "%llds", secs);
	return buf;
}
