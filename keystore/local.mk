# keystore/: the lowest layer. Shared helpers (allocation, logging,
# tag=value lists, durations) and the keystore library; the keyturn CLI.

noinst_LIBRARIES += keystore/libkeystore.a
keystore_libkeystore_a_SOURCES = \
	keystore/xmalloc.c keystore/xmalloc.h \
	keystore/log.c keystore/log.h \
	keystore/tagvalue.c keystore/tagvalue.h \
	keystore/duration.c keystore/duration.h \
	keystore/conf.c keystore/confsock.c keystore/conf.h \
	keystore/etcd.c keystore/etcd.h keystore/etcd_int.h \
	keystore/etcd_json.c keystore/etcd_kv.c keystore/etcd_watch.c \
	keystore/kek.c keystore/kek.h
keystore_libkeystore_a_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS) $(BSD_CFLAGS) \
	$(CURL_CFLAGS) $(JSONC_CFLAGS)
KEYSTORE_LIBS = keystore/libkeystore.a $(CRYPTO_LIBS) $(BSD_LIBS) \
	$(CURL_LIBS) $(JSONC_LIBS)

# The keystore library (store.h) and the keyturn CLI.
keystore_libkeystore_a_SOURCES += \
	keystore/store.h keystore/store_int.h keystore/store.c \
	keystore/storefile.c keystore/storefmt.c keystore/storekey.c \
	keystore/storeload.c keystore/storewrite.c keystore/storedomain.c \
	keystore/storejournal.c keystore/fleet.c keystore/fleet.h

sbin_PROGRAMS += keystore/keyturn
keystore_keyturn_SOURCES = keystore/keyturn.c keystore/cli.h \
	keystore/cli_util.c keystore/cli_domain.c keystore/cli_key.c \
	keystore/cli_show.c keystore/cli_audit.c keystore/cli_rotate.c \
	keystore/cli_explain.c keystore/cli_import.c keystore/cli_import.h \
	keystore/cli_import_odk.c keystore/cli_doctor.c \
	keystore/cli_doctor.h keystore/cli_doctor_mta.c keystore/cli_fleet.c
keystore_keyturn_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS) $(BSD_CFLAGS) \
	$(LDNS_CFLAGS)
# rotate, check and status run the rotation module (rotate/librotate.a)
# explain runs keyturnd's decision (milter/libkeyturnd.a, no libmilter)
keystore_keyturn_LDADD = milter/libkeyturnd.a milter/libdkim.a \
	rotate/librotate.a $(KEYSTORE_LIBS) $(LDNS_LIBS) $(IDN2_LIBS) \
	$(PTHREAD_LIBS)
