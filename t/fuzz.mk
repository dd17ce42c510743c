# t/fuzz.mk: the libFuzzer harnesses of t/fuzz (t/fuzz/README.md).
#
# make check builds each harness with the ordinary compiler and a main
# that replays saved inputs (t/fuzz/fuzz_replay.c), and t/fuzz/corpora.sh
# runs every seed corpus through it: the harnesses keep compiling with
# the code they call, and the corpora are regression inputs. Fuzzing is
# t/fuzz/run.sh, with clang and libFuzzer, never run by make check:
#	make fuzz [FUZZ_SECONDS=30] [FUZZ_NAMES="conf dns"]

FUZZ_SECONDS = 30
FUZZ_NAMES =
fuzz:
	KT_FUZZ_BUILD='$(abs_top_builddir)/build-fuzz' \
	    $(SHELL) $(top_srcdir)/t/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_NAMES)
.PHONY: fuzz

TESTS += t/fuzz/corpora.sh

FUZZ_REPLAY_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/t \
	-I$(top_srcdir)/t/fuzz
FUZZ_REPLAY_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS) $(BSD_CFLAGS)
FUZZ_REPLAY_SOURCES = t/fuzz/fuzz_util.c t/fuzz/fuzz_util.h \
	t/fuzz/fuzz_keys.h t/fuzz/fuzz_replay.c
FUZZ_REPLAY_LIBS = milter/libkeyturnd.a t/libmsgfile.a milter/libdkim.a \
	rotate/librotate.a $(KEYSTORE_LIBS) $(LDNS_LIBS) $(IDN2_LIBS) \
	$(PTHREAD_LIBS)

check_PROGRAMS += t/fuzz/fuzz_conf
t_fuzz_fuzz_conf_SOURCES = t/fuzz/fuzz_conf.c $(FUZZ_REPLAY_SOURCES)
t_fuzz_fuzz_conf_CPPFLAGS = $(FUZZ_REPLAY_CPPFLAGS)
t_fuzz_fuzz_conf_CFLAGS = $(FUZZ_REPLAY_CFLAGS)
t_fuzz_fuzz_conf_LDADD = $(FUZZ_REPLAY_LIBS)

check_PROGRAMS += t/fuzz/fuzz_policy
t_fuzz_fuzz_policy_SOURCES = t/fuzz/fuzz_policy.c $(FUZZ_REPLAY_SOURCES)
t_fuzz_fuzz_policy_CPPFLAGS = $(FUZZ_REPLAY_CPPFLAGS)
t_fuzz_fuzz_policy_CFLAGS = $(FUZZ_REPLAY_CFLAGS)
t_fuzz_fuzz_policy_LDADD = $(FUZZ_REPLAY_LIBS)

check_PROGRAMS += t/fuzz/fuzz_state
t_fuzz_fuzz_state_SOURCES = t/fuzz/fuzz_state.c $(FUZZ_REPLAY_SOURCES)
t_fuzz_fuzz_state_CPPFLAGS = $(FUZZ_REPLAY_CPPFLAGS)
t_fuzz_fuzz_state_CFLAGS = $(FUZZ_REPLAY_CFLAGS)
t_fuzz_fuzz_state_LDADD = $(FUZZ_REPLAY_LIBS)

check_PROGRAMS += t/fuzz/fuzz_history
t_fuzz_fuzz_history_SOURCES = t/fuzz/fuzz_history.c $(FUZZ_REPLAY_SOURCES)
t_fuzz_fuzz_history_CPPFLAGS = $(FUZZ_REPLAY_CPPFLAGS)
t_fuzz_fuzz_history_CFLAGS = $(FUZZ_REPLAY_CFLAGS)
t_fuzz_fuzz_history_LDADD = $(FUZZ_REPLAY_LIBS)

check_PROGRAMS += t/fuzz/fuzz_journal
t_fuzz_fuzz_journal_SOURCES = t/fuzz/fuzz_journal.c $(FUZZ_REPLAY_SOURCES)
t_fuzz_fuzz_journal_CPPFLAGS = $(FUZZ_REPLAY_CPPFLAGS)
t_fuzz_fuzz_journal_CFLAGS = $(FUZZ_REPLAY_CFLAGS)
t_fuzz_fuzz_journal_LDADD = $(FUZZ_REPLAY_LIBS)

check_PROGRAMS += t/fuzz/fuzz_domain
t_fuzz_fuzz_domain_SOURCES = t/fuzz/fuzz_domain.c $(FUZZ_REPLAY_SOURCES)
t_fuzz_fuzz_domain_CPPFLAGS = $(FUZZ_REPLAY_CPPFLAGS)
t_fuzz_fuzz_domain_CFLAGS = $(FUZZ_REPLAY_CFLAGS) $(LDNS_CFLAGS)
t_fuzz_fuzz_domain_LDADD = $(FUZZ_REPLAY_LIBS)

check_PROGRAMS += t/fuzz/fuzz_memo
t_fuzz_fuzz_memo_SOURCES = t/fuzz/fuzz_memo.c $(FUZZ_REPLAY_SOURCES)
t_fuzz_fuzz_memo_CPPFLAGS = $(FUZZ_REPLAY_CPPFLAGS)
t_fuzz_fuzz_memo_CFLAGS = $(FUZZ_REPLAY_CFLAGS) $(LDNS_CFLAGS)
t_fuzz_fuzz_memo_LDADD = $(FUZZ_REPLAY_LIBS)

check_PROGRAMS += t/fuzz/fuzz_signtable
t_fuzz_fuzz_signtable_SOURCES = t/fuzz/fuzz_signtable.c $(FUZZ_REPLAY_SOURCES)
t_fuzz_fuzz_signtable_CPPFLAGS = $(FUZZ_REPLAY_CPPFLAGS)
t_fuzz_fuzz_signtable_CFLAGS = $(FUZZ_REPLAY_CFLAGS)
t_fuzz_fuzz_signtable_LDADD = $(FUZZ_REPLAY_LIBS)

check_PROGRAMS += t/fuzz/fuzz_senders
t_fuzz_fuzz_senders_SOURCES = t/fuzz/fuzz_senders.c $(FUZZ_REPLAY_SOURCES)
t_fuzz_fuzz_senders_CPPFLAGS = $(FUZZ_REPLAY_CPPFLAGS)
t_fuzz_fuzz_senders_CFLAGS = $(FUZZ_REPLAY_CFLAGS)
t_fuzz_fuzz_senders_LDADD = $(FUZZ_REPLAY_LIBS)

check_PROGRAMS += t/fuzz/fuzz_odk
t_fuzz_fuzz_odk_SOURCES = t/fuzz/fuzz_odk.c $(FUZZ_REPLAY_SOURCES)
t_fuzz_fuzz_odk_CPPFLAGS = $(FUZZ_REPLAY_CPPFLAGS)
t_fuzz_fuzz_odk_CFLAGS = $(FUZZ_REPLAY_CFLAGS)
t_fuzz_fuzz_odk_LDADD = $(FUZZ_REPLAY_LIBS)

check_PROGRAMS += t/fuzz/fuzz_dns
t_fuzz_fuzz_dns_SOURCES = t/fuzz/fuzz_dns.c $(FUZZ_REPLAY_SOURCES)
t_fuzz_fuzz_dns_CPPFLAGS = $(FUZZ_REPLAY_CPPFLAGS)
t_fuzz_fuzz_dns_CFLAGS = $(FUZZ_REPLAY_CFLAGS) $(LDNS_CFLAGS)
t_fuzz_fuzz_dns_LDADD = $(FUZZ_REPLAY_LIBS)

check_PROGRAMS += t/fuzz/fuzz_dkimverify
t_fuzz_fuzz_dkimverify_SOURCES = t/fuzz/fuzz_dkimverify.c $(FUZZ_REPLAY_SOURCES)
t_fuzz_fuzz_dkimverify_CPPFLAGS = $(FUZZ_REPLAY_CPPFLAGS)
t_fuzz_fuzz_dkimverify_CFLAGS = $(FUZZ_REPLAY_CFLAGS)
t_fuzz_fuzz_dkimverify_LDADD = $(FUZZ_REPLAY_LIBS)

check_PROGRAMS += t/fuzz/fuzz_milter
t_fuzz_fuzz_milter_SOURCES = t/fuzz/fuzz_milter.c $(FUZZ_REPLAY_SOURCES) \
	milter/filter.c
t_fuzz_fuzz_milter_CPPFLAGS = $(FUZZ_REPLAY_CPPFLAGS)
t_fuzz_fuzz_milter_CFLAGS = $(FUZZ_REPLAY_CFLAGS) $(MILTER_CFLAGS)
t_fuzz_fuzz_milter_LDADD = $(FUZZ_REPLAY_LIBS)

check_PROGRAMS += t/fuzz/fuzz_etcd
t_fuzz_fuzz_etcd_SOURCES = t/fuzz/fuzz_etcd.c $(FUZZ_REPLAY_SOURCES)
t_fuzz_fuzz_etcd_CPPFLAGS = $(FUZZ_REPLAY_CPPFLAGS)
t_fuzz_fuzz_etcd_CFLAGS = $(FUZZ_REPLAY_CFLAGS) $(CURL_CFLAGS) $(JSONC_CFLAGS)
t_fuzz_fuzz_etcd_LDADD = $(FUZZ_REPLAY_LIBS)

check_PROGRAMS += t/fuzz/fuzz_kek
t_fuzz_fuzz_kek_SOURCES = t/fuzz/fuzz_kek.c $(FUZZ_REPLAY_SOURCES)
t_fuzz_fuzz_kek_CPPFLAGS = $(FUZZ_REPLAY_CPPFLAGS)
t_fuzz_fuzz_kek_CFLAGS = $(FUZZ_REPLAY_CFLAGS)
t_fuzz_fuzz_kek_LDADD = $(FUZZ_REPLAY_LIBS)

check_PROGRAMS += t/fuzz/fuzz_fleetkey
t_fuzz_fuzz_fleetkey_SOURCES = t/fuzz/fuzz_fleetkey.c $(FUZZ_REPLAY_SOURCES)
t_fuzz_fuzz_fleetkey_CPPFLAGS = $(FUZZ_REPLAY_CPPFLAGS)
t_fuzz_fuzz_fleetkey_CFLAGS = $(FUZZ_REPLAY_CFLAGS)
t_fuzz_fuzz_fleetkey_LDADD = $(FUZZ_REPLAY_LIBS)

EXTRA_DIST += t/fuzz/README.md t/fuzz/run.sh t/fuzz/corpora.sh \
	t/fuzz/seed_dns.sh t/fuzz/seed_etcd.sh t/fuzz/lsan.supp \
	t/fuzz/corpus t/fuzz/findings \
	t/fuzz/conf.dict \
	t/fuzz/etcd.dict \
	t/fuzz/history.dict \
	t/fuzz/journal.dict \
	t/fuzz/memo.dict \
	t/fuzz/milter.dict \
	t/fuzz/odk.dict \
	t/fuzz/policy.dict \
	t/fuzz/senders.dict \
	t/fuzz/signtable.dict \
	t/fuzz/state.dict
