/*
 * loader - keystore to snapshot
 *
 * The only place keyturnd opens the keystore. A snapshot reads domains
 * through the loader's cache (keycache.h), which parses a domain's keys
 * on its first message; the loader follows the keystore's journal so that
 * a domain written by the CLI or the rotation is read again in the cache
 * at the next poll, at the cost of that domain alone. A loader is used by
 * one thread at a time (the daemon serializes reloads and polls).
 */
#ifndef KEYTURN_LOADER_H
#define KEYTURN_LOADER_H

#include <stddef.h>
#include <stdint.h>

struct loader;
struct snapshot;
struct kt_conf;
struct rules;

struct loader	*loader_new(void);
void		 loader_free(struct loader *);

/*
 * loader_build - a sealed snapshot: with conf (taken on success) for a new
 * configuration, else sharing the configuration of prev; with rules (the
 * reference taken on success), else prev's. Its domains come through the
 * loader's cache, made anew when KeyStore or KeyCache changed (the keystore
 * opened and checked, nothing of it read yet), else kept; with a new
 * configuration every cached domain whose files changed is read again
 * (loader_reread says how many). NULL and err only when the keystore
 * cannot be opened (or conf's headers are bad); the caller keeps what it
 * had.
 */
struct snapshot	*loader_build(struct loader *, struct kt_conf *conf,
		    struct rules *rules, const struct snapshot *prev, char *err,
		    size_t errlen);

/* loader_reread - cached domains the last build or poll read again */
size_t		 loader_reread(const struct loader *);

/*
 * loader_poll - the journal since the last poll: each domain written is
 * read again if cached. How many domains were written (0: nothing moved),
 * or LOADER_LOST when the journal could not say and every cached domain
 * was checked instead.
 */
#define LOADER_LOST	(-2)
int		 loader_poll(struct loader *);

/* loader_generation - the keystore generation followed so far */
uint64_t	 loader_generation(const struct loader *);

#endif
