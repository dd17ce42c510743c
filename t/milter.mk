# t/milter.mk: tests of this area, included from t/local.mk.

# keyturnd: the signing decision and the keystore snapshots (Check).
check_PROGRAMS += t/check_milter
TESTS += t/check_milter
UNIT_TESTS += t/check_milter
t_check_milter_SOURCES = t/check_milter.c
t_check_milter_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(CRYPTO_CFLAGS)
t_check_milter_LDADD = milter/libkeyturnd.a milter/libdkim.a \
	keystore/libkeystore.a $(CHECK_LIBS) $(CRYPTO_LIBS) $(BSD_LIBS) \
	$(CURL_LIBS) $(JSONC_LIBS) \
	$(IDN2_LIBS) $(PTHREAD_LIBS)

# The signing policy: SigningTable, SenderLogins, decide_message (Check).
check_PROGRAMS += t/check_rules
TESTS += t/check_rules
UNIT_TESTS += t/check_rules
t_check_rules_SOURCES = t/check_rules.c
t_check_rules_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(CRYPTO_CFLAGS)
t_check_rules_LDADD = $(t_check_milter_LDADD)

# keyturnd end to end against t/miltc (the MTA side), dkimpy verifying.
MILTER_SH = t/milter_sign.sh t/milter_roundrobin.sh t/milter_onerror.sh \
	t/milter_reload.sh t/milter_sigterm.sh t/milter_startup.sh \
	t/milter_memory.sh t/milter_postfix.sh t/milter_postfix_chroot.sh \
	t/milter_isolate.sh t/milter_socket.sh t/milter_sockcheck.sh \
	t/milter_client.sh t/milter_pidfile.sh t/milter_startsig.sh \
	t/milter_hupstorm.sh t/milter_sigterm_pause.sh t/milter_policy.sh \
	t/milter_postfix_sasl.sh t/milter_metrics.sh t/milter_sendmail.sh \
	t/milter_keycache.sh
TESTS += $(MILTER_SH)
EXTRA_DIST += $(MILTER_SH) t/milter_lib.sh t/milter_verify.py \
	t/lib/sendmail.sh

# t/protofuzz: mutated milter sessions against a running keyturnd, with an
# oracle on what gets signed (t/milter_protofuzz.sh); crashes contained by
# keyturnd's supervising parent (t/milter_crash.sh).
check_PROGRAMS += t/protofuzz
t_protofuzz_SOURCES = t/protofuzz.c t/miltc.h t/miltc_wire.c
t_protofuzz_CFLAGS = $(AM_CFLAGS) $(MILTER_CFLAGS)
t_protofuzz_LDADD = $(KEYSTORE_LIBS) $(PTHREAD_LIBS)
TESTS += t/milter_protofuzz.sh t/milter_crash.sh t/milter_oom.sh
EXTRA_DIST += t/milter_protofuzz.sh t/milter_crash.sh t/milter_oom.sh
