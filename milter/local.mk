# milter/: the signing engine (no libmilter dependency) and keyturnd.

noinst_LIBRARIES += milter/libdkim.a
milter_libdkim_a_SOURCES = \
	milter/dkim.c milter/dkim.h \
	milter/buf.c milter/buf.h \
	milter/canon.c milter/canon.h \
	milter/hdrsel.c milter/hdrsel.h \
	milter/from.c \
	milter/sigval.c milter/sigval.h
milter_libdkim_a_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS)
DKIM_LIBS = milter/libdkim.a $(KEYSTORE_LIBS) $(CRYPTO_LIBS) $(PTHREAD_LIBS)
