# milter/: the signing engine (no libmilter dependency) and keyturnd.

# keyturnd: the libmilter edge (filter.c) over the decision, snapshot and
# loader modules, which have no libmilter dependency.
sbin_PROGRAMS += keyturnd
keyturnd_SOURCES = \
	milter/keyturnd.c \
	milter/daemon.c milter/daemon.h \
	milter/filter.c milter/filter.h \
	milter/privs.c milter/privs.h
keyturnd_CFLAGS = $(AM_CFLAGS) $(MILTER_CFLAGS) $(CRYPTO_CFLAGS)
keyturnd_LDADD = milter/libkeyturnd.a milter/libdkim.a keystore/libkeystore.a \
	$(MILTER_LIBS) $(CRYPTO_LIBS) $(BSD_LIBS) $(PTHREAD_LIBS)

# The parts of keyturnd that Check tests link directly.
noinst_LIBRARIES += milter/libkeyturnd.a
milter_libkeyturnd_a_SOURCES = \
	milter/decide.c milter/decide.h \
	milter/snapshot.c milter/snapshot.h \
	milter/loader.c milter/loader.h
milter_libkeyturnd_a_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS)
