/*
 * privs - drop root in one visible order (STYLE.md 9)
 *
 * As root keyturnd opens its socket, reads the config and loads the keys;
 * privs_drop then sets the supplementary groups, the real/effective/saved
 * group and user ids, and proves the drop held by failing to get root back.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "privs.h"

/* privs_group - the group part of "user:group" */
static int
privs_group(const char *name, gid_t *gid, char *err, size_t errlen)
{
	struct group *gr;

	errno = 0;
	if ((gr = getgrnam(name)) == NULL) {
		snprintf(err, errlen, "unknown group %s", name);
		return -1;
	}
	*gid = gr->gr_gid;
	return 0;
}

/* privs_lookup - names resolved while /etc is still readable, as root */
int
privs_lookup(const char *spec, struct privs_id *id, char *err, size_t errlen)
{
	struct passwd *pw;
	const char *colon;
	size_t len;

	colon = strchr(spec, ':');
	len = colon != NULL ? (size_t)(colon - spec) : strlen(spec);
	if (len == 0 || len >= sizeof(id->name)) {
		snprintf(err, errlen, "bad user name in \"%s\"", spec);
		return -1;
	}
	memcpy(id->name, spec, len);
	id->name[len] = '\0';
	errno = 0;
	if ((pw = getpwnam(id->name)) == NULL) {
		snprintf(err, errlen, "unknown user %s", id->name);
		return -1;
	}
	id->uid = pw->pw_uid;
	id->gid = pw->pw_gid;
	if (colon != NULL)
		return privs_group(colon + 1, &id->gid, err, errlen);
	return 0;
}

/* privs_drop - groups first, then gid, then uid; then prove it held */
int
privs_drop(const struct privs_id *id, char *err, size_t errlen)
{
	if (setgroups(1, &id->gid) == -1) {
		snprintf(err, errlen, "setgroups: %s", strerror(errno));
		return -1;
	}
	if (setresgid(id->gid, id->gid, id->gid) == -1) {
		snprintf(err, errlen, "setresgid: %s", strerror(errno));
		return -1;
	}
	if (setresuid(id->uid, id->uid, id->uid) == -1) {
		snprintf(err, errlen, "setresuid: %s", strerror(errno));
		return -1;
	}
	if (id->uid != 0 && (setuid(0) != -1 || seteuid(0) != -1)) {
		snprintf(err, errlen, "could regain root after dropping it");
		return -1;
	}
	if (getuid() != id->uid || geteuid() != id->uid ||
	    getgid() != id->gid || getegid() != id->gid) {
		snprintf(err, errlen, "ids did not change as asked");
		return -1;
	}
	return 0;
}

/* privs_borrow - effective ids only, so that privs_return can undo it */
int
privs_borrow(const struct privs_id *id, char *err, size_t errlen)
{
	if (setegid(id->gid) == -1 || seteuid(id->uid) == -1) {
		snprintf(err, errlen, "cannot act as %s: %s", id->name,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* privs_return - root again, uid first (setegid needs it) */
int
privs_return(char *err, size_t errlen)
{
	if (seteuid(0) == -1 || setegid(0) == -1) {
		snprintf(err, errlen, "cannot get root back: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}
