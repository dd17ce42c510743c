# milter/: the signing engine (no libmilter dependency) and keyturnd.

noinst_LIBRARIES += milter/libdkim.a
milter_libdkim_a_SOURCES = \
	milter/dkim.c milter/dkim.h \
	milter/buf.c milter/buf.h \
	milter/canon.c milter/canon.h \
	milter/hdrsel.c milter/hdrsel.h \
	milter/from.c \
	milter/sigval.c milter/sigval.h \
	milter/dkimverify.c milter/dkimverify.h
milter_libdkim_a_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS) $(IDN2_CFLAGS)
DKIM_LIBS = milter/libdkim.a $(KEYSTORE_LIBS) $(CRYPTO_LIBS) $(IDN2_LIBS) \
	$(PTHREAD_LIBS)

# keyturnd: the libmilter edge (filter.c) over the decision, snapshot and
# loader modules, which have no libmilter dependency.
sbin_PROGRAMS += keyturnd
keyturnd_SOURCES = \
	milter/keyturnd.c \
	milter/daemon.c milter/daemon.h \
	milter/supervise.c milter/supervise.h \
	milter/filter.c milter/filter.h \
	milter/metrics.c milter/metrics.h \
	milter/privs.c milter/privs.h \
	milter/rotation_thread.c milter/rotation_thread.h \
	milter/fleet_thread.c milter/fleet_thread.h
keyturnd_CFLAGS = $(AM_CFLAGS) $(MILTER_CFLAGS) $(CRYPTO_CFLAGS) \
	$(BSD_CFLAGS) $(MHD_CFLAGS)
# the rotation thread runs rotate/ (ldns); /metrics is libmicrohttpd
keyturnd_LDADD = milter/libkeyturnd.a milter/libdkim.a rotate/librotate.a \
	keystore/libkeystore.a $(MILTER_LIBS) $(CRYPTO_LIBS) $(BSD_LIBS) \
	$(CURL_LIBS) $(JSONC_LIBS) \
	$(LDNS_LIBS) $(IDN2_LIBS) $(MHD_LIBS) $(PTHREAD_LIBS)

# The parts of keyturnd that Check tests link directly.
noinst_LIBRARIES += milter/libkeyturnd.a
milter_libkeyturnd_a_SOURCES = \
	milter/decide.c milter/decide.h \
	milter/table.c milter/table.h \
	milter/signtable.c milter/signtable.h \
	milter/senders.c milter/senders.h \
	milter/rules.c milter/rules.h \
	milter/snapshot.c milter/snapshot.h \
	milter/loader.c milter/loader.h \
	milter/keycache.c milter/keycache.h
milter_libkeyturnd_a_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS)
