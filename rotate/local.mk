# rotate/: DNS propagation checks and the rotation policy engine.
# librotate.a: dnsio and propagate (ldns, sockets), policy and evidence
# (pure), adapt (keystore types to rotation types, the rotation memo),
# recheck (which keys a pass asks about, pure), rotation (one pass over a
# domain: check, decide, act; the publish hook), rotpool (a pass over many
# domains, DNSConcurrency worker threads).

noinst_LIBRARIES += rotate/librotate.a
rotate_librotate_a_SOURCES = \
	rotate/dnsio.c rotate/dnsio.h \
	rotate/propagate.c rotate/propagate.h \
	rotate/policy.c rotate/policy.h \
	rotate/evidence.c rotate/evidence.h \
	rotate/adapt.c rotate/adapt.h \
	rotate/recheck.c rotate/recheck.h \
	rotate/rotation.c rotate/rotation.h \
	rotate/rotpool.c rotate/rotpool.h
rotate_librotate_a_CFLAGS = $(AM_CFLAGS) $(LDNS_CFLAGS) $(CRYPTO_CFLAGS) \
	$(BSD_CFLAGS)
ROTATE_LIBS = rotate/librotate.a $(KEYSTORE_LIBS) $(LDNS_LIBS) \
	$(PTHREAD_LIBS)

# contrib/publish: the RFC 2136 publish hook (nsupdate, TSIG), installed
# for PublishCommand
publishdir = $(pkgdatadir)/publish
dist_publish_SCRIPTS = contrib/publish/keyturn-nsupdate
