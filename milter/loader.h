/*
 * loader - keystore to snapshot
 *
 * The only place keyturnd reads the keystore. A loader keeps the last
 * store_set it built so that a reload re-parses only the domains whose
 * files changed, and the keystore's generation so that a change made by
 * the CLI or the rotation module is noticed by polling. A loader is used by
 * one thread at a time (the daemon serializes reloads).
 */
#ifndef KEYTURN_LOADER_H
#define KEYTURN_LOADER_H

#include <stddef.h>

struct loader;
struct snapshot;
struct kt_conf;

struct loader	*loader_new(void);
void		 loader_free(struct loader *);

/*
 * loader_build - a sealed snapshot of the keystore; with conf (taken on
 * success) for a new configuration, else sharing the configuration of
 * prev. NULL and err ("file:line: ...") when the keystore does not load;
 * the caller keeps what it had.
 */
struct snapshot	*loader_build(struct loader *, struct kt_conf *conf,
		    const struct snapshot *prev, char *err, size_t errlen);

/*
 * loader_build_degraded - at start-up, when loader_build failed: every
 * domain that loads, and each one that does not marked unusable (its mail
 * tempfails) with its error; err gets the first failure. NULL only when
 * the keystore cannot be opened or listed at all. The next loader_build
 * (at the next keystore write, or SIGHUP) starts from scratch.
 */
struct snapshot	*loader_build_degraded(struct loader *, struct kt_conf *conf,
		    char *err, size_t errlen);

/* loader_changed - has the keystore been written since the last build? */
int		 loader_changed(struct loader *);

#endif
