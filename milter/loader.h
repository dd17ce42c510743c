/*
 * loader - keystore to snapshot
 *
 * The only place keyturnd reads the keystore. A loader keeps the last
 * set of domains it built so that a reload re-parses only the domains whose
 * files changed, and the keystore's generation so that a change made by
 * the CLI or the rotation module is noticed by polling. A domain that does
 * not load is marked unusable on its own; the others load. A loader is used by
 * one thread at a time (the daemon serializes reloads).
 */
#ifndef KEYTURN_LOADER_H
#define KEYTURN_LOADER_H

#include <stddef.h>

struct loader;
struct snapshot;
struct kt_conf;
struct rules;

struct loader	*loader_new(void);
void		 loader_free(struct loader *);

/*
 * loader_build - a sealed snapshot of the keystore; with conf (taken on
 * success) for a new configuration, else sharing the configuration of
 * prev; with rules (the reference taken on success), else prev's. Each domain stands alone: an unchanged one is shared with the last
 * build, a new or changed one read again, and one that does not load is
 * in the snapshot marked unusable (no keys: its mail gets the failure
 * policy) with its error; err gets the first such error, "" when every
 * domain loaded. NULL and err only when the keystore cannot be opened or
 * listed (or conf's headers are bad); the caller keeps what it had.
 */
struct snapshot	*loader_build(struct loader *, struct kt_conf *conf,
		    struct rules *rules, const struct snapshot *prev, char *err,
		    size_t errlen);

/*
 * loader_moved - 1 when the last build read a keystore written since the
 * build before it (even if loader_changed said only LOADER_RETRY: a write
 * can come between the two)
 */
int		 loader_moved(const struct loader *);

/* loader_broken - how many domains the last build marked unusable */
size_t		 loader_broken(const struct loader *);

/*
 * loader_changed - LOADER_MOVED when the keystore was written since the
 * last build, LOADER_RETRY when only a broken domain is due to be tried
 * again, else 0.
 */
#define LOADER_MOVED	1
#define LOADER_RETRY	2
int		 loader_changed(struct loader *);

#endif
