# keystore/: the lowest layer. Shared helpers (allocation, logging,
# tag=value lists, durations) and the keystore library; the keyturn CLI.

noinst_LIBRARIES += keystore/libkeystore.a
keystore_libkeystore_a_SOURCES = \
	keystore/xmalloc.c keystore/xmalloc.h \
	keystore/log.c keystore/log.h \
	keystore/tagvalue.c keystore/tagvalue.h \
	keystore/duration.c keystore/duration.h \
	keystore/conf.c keystore/conf.h
keystore_libkeystore_a_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS) $(BSD_CFLAGS)
KEYSTORE_LIBS = keystore/libkeystore.a $(CRYPTO_LIBS) $(BSD_LIBS)
