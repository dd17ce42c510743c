/*
 * check_kek - the fleet's key-encryption key (keystore/kek.c): a known
 * answer made by another implementation (Python's cryptography), round
 * trips, every kind of tampering, key files refused; and what of the
 * etcd client needs no server (prefix ends, options, an endpoint that
 * refuses).
 */
#include "config.h"

#include <sys/stat.h>

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "etcd.h"
#include "kek.h"

static char err[1024];
static char dir[64];

/* the known answer: key 00..1f, nonce 64..6f, computed with
 * cryptography's AESGCM over aad "KTK1" || AAD */
#define KAT_ID		"9d7beef927030d77"
#define KAT_AAD		"/keyturn/keys/example.com/sel1"
#define KAT_PT		"secret\0key material"
static const char kat_blob[] =
    "4b544b316465666768696a6b6c6d6e6f3b7ebd141c9d56f55b1b7f85bb110f8f"
    "2ba36a449ec91bd5a1ee04158697f61909d325";

static void
setup(void)
{
	strlcpy(dir, "/tmp/ckkek.XXXXXX", sizeof(dir));
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* keyfile - NAME in the test's directory with len bytes (0, 1, 2...)
 * and mode; returns its path */
static const char *
keyfile(const char *name, size_t len, mode_t mode)
{
	static char path[128];
	unsigned char b[64];
	size_t i;
	int fd;

	for (i = 0; i < sizeof(b); i++)
		b[i] = (unsigned char)i;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, b, len), (ssize_t)len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static struct kek *
kek_good(void)
{
	struct kek *k = kek_load(keyfile("kek", KEK_LEN, 0600), err,
	    sizeof(err));

	ck_assert_msg(k != NULL, "%s", err);
	return k;
}

static size_t
unhex(const char *s, unsigned char *out)
{
	size_t n = 0;
	unsigned v;

	for (; s[0] && s[1]; s += 2) {
		ck_assert_int_eq(sscanf(s, "%2x", &v), 1);
		out[n++] = (unsigned char)v;
	}
	return n;
}

START_TEST(test_known_answer)
{
	struct kek *k = kek_good();
	unsigned char blob[128], *pt;
	size_t n = unhex(kat_blob, blob), ptlen;

	ck_assert_str_eq(kek_id(k), KAT_ID);
	ck_assert_msg(kek_open(k, KAT_AAD, strlen(KAT_AAD), blob, n, &pt,
	    &ptlen, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(ptlen, sizeof(KAT_PT) - 1);
	ck_assert_mem_eq(pt, KAT_PT, ptlen);
	free(pt);
	kek_free(k);
}
END_TEST

static const size_t sizes[] = { 0, 1, 20, 4096, 100000 };

START_TEST(test_round_trip)
{
	struct kek *k = kek_good();
	size_t len = sizes[_i], i, bl1, bl2, ptlen;
	unsigned char *pt = malloc(len + 1), *b1, *b2, *out;

	for (i = 0; i < len; i++)
		pt[i] = (unsigned char)(i * 7);
	ck_assert(kek_seal(k, "a", 1, pt, len, &b1, &bl1, err,
	    sizeof(err)) == 0);
	ck_assert(kek_seal(k, "a", 1, pt, len, &b2, &bl2, err,
	    sizeof(err)) == 0);
	ck_assert_uint_eq(bl1, len + 32);
	ck_assert_mem_eq(b1, "KTK1", 4);
	/* a fresh nonce each time */
	ck_assert(memcmp(b1 + 4, b2 + 4, 12) != 0);
	ck_assert_msg(kek_open(k, "a", 1, b1, bl1, &out, &ptlen, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(ptlen, len);
	ck_assert(len == 0 || memcmp(out, pt, len) == 0);
	free(out);
	free(b1);
	free(b2);
	free(pt);
	kek_free(k);
}
END_TEST

/* opens - kek_open of blob, and its error */
static int
opens(struct kek *k, const char *aad, const unsigned char *b, size_t n)
{
	unsigned char *pt = NULL;
	size_t ptlen;
	int rc;

	rc = kek_open(k, aad, strlen(aad), b, n, &pt, &ptlen, err,
	    sizeof(err));
	if (rc == -1)
		ck_assert_ptr_null(pt);
	free(pt);
	return rc;
}

START_TEST(test_wrong_aad)
{
	struct kek *k = kek_good();
	unsigned char *b;
	size_t n;

	ck_assert(kek_seal(k, "/keyturn/a", 10, "v", 1, &b, &n, err,
	    sizeof(err)) == 0);
	ck_assert_int_eq(opens(k, "/keyturn/a", b, n), 0);
	ck_assert_int_eq(opens(k, "/keyturn/b", b, n), -1);
	ck_assert_str_eq(err, "kek: damaged or encrypted under another "
	    "FleetKEK (authentication failed)");
	ck_assert_int_eq(opens(k, "", b, n), -1);
	free(b);
	kek_free(k);
}
END_TEST

/* every byte of a blob flipped in turn: none of them opens */
START_TEST(test_flipped)
{
	struct kek *k = kek_good();
	unsigned char *b;
	size_t n, i;

	ck_assert(kek_seal(k, "x", 1, "secret", 6, &b, &n, err,
	    sizeof(err)) == 0);
	for (i = 0; i < n; i++) {
		b[i] ^= 0x01;
		ck_assert_msg(opens(k, "x", b, n) == -1, "byte %zu", i);
		if (i < 4)
			ck_assert_ptr_nonnull(strstr(err,
			    "not encrypted by keyturn"));
		else
			ck_assert_ptr_nonnull(strstr(err,
			    "authentication failed"));
		b[i] ^= 0x01;
	}
	/* cut short, at every length */
	for (i = 0; i < n; i++)
		ck_assert_int_eq(opens(k, "x", b, i), -1);
	ck_assert_int_eq(opens(k, "x", b, n), 0);
	free(b);
	kek_free(k);
}
END_TEST

START_TEST(test_wrong_key)
{
	struct kek *k = kek_good(), *k2;
	const char *p;
	unsigned char *b;
	size_t n;
	int fd;

	ck_assert(kek_seal(k, "x", 1, "secret", 6, &b, &n, err,
	    sizeof(err)) == 0);
	p = keyfile("kek2", KEK_LEN, 0600);
	fd = open(p, O_WRONLY);
	ck_assert_int_eq(write(fd, "\xff", 1), 1);
	close(fd);
	k2 = kek_load(p, err, sizeof(err));
	ck_assert_ptr_nonnull(k2);
	ck_assert_str_ne(kek_id(k), kek_id(k2));
	ck_assert_int_eq(opens(k2, "x", b, n), -1);
	ck_assert_ptr_nonnull(strstr(err, "another FleetKEK"));
	free(b);
	kek_free(k2);
	kek_free(k);
}
END_TEST

/* key files refused, and what the message says */
static const struct {
	size_t		 len;
	mode_t		 mode;
	int		 kind;		/* 0 file, 1 symlink, 2 dir, 3 none */
	const char	*want;
} files[] = {
	{ 32, 0644, 0, "kek: mode 0644: must not be readable by group or "
	    "others" },
	{ 32, 0640, 0, "mode 0640: must not be readable" },
	{ 32, 0620, 0, "mode 0620: must not be writable" },
	{ 31, 0600, 0, "kek: 31 bytes: a key-encryption key is 32 bytes" },
	{ 33, 0600, 0, "kek: 33 bytes" },
	{ 0, 0600, 0, "kek: 0 bytes" },
	{ 64, 0400, 0, "kek: 64 bytes" },
	{ 32, 0600, 1, "link: a symbolic link" },
	{ 0, 0700, 2, "kdir: not a regular file" },
	{ 0, 0, 3, "absent: No such file or directory" },
};

START_TEST(test_bad_files)
{
	char path[128];
	struct kek *k;

	switch (files[_i].kind) {
	case 0:
		strlcpy(path, keyfile("kek", files[_i].len, files[_i].mode),
		    sizeof(path));
		break;
	case 1:
		keyfile("kek", files[_i].len, files[_i].mode);
		snprintf(path, sizeof(path), "%s/link", dir);
		ck_assert_int_eq(symlink("kek", path), 0);
		break;
	case 2:
		snprintf(path, sizeof(path), "%s/kdir", dir);
		ck_assert_int_eq(mkdir(path, files[_i].mode), 0);
		break;
	default:
		snprintf(path, sizeof(path), "%s/absent", dir);
	}
	k = kek_load(path, err, sizeof(err));
	ck_assert_ptr_null(k);
	ck_assert_msg(strstr(err, files[_i].want) != NULL, "%s", err);
	ck_assert_msg(strstr(err, path) == err, "%s", err);
}
END_TEST

static const struct {
	const char	*prefix;
	size_t		 plen;
	const char	*end;
	size_t		 elen;
} ends[] = {
	{ "a", 1, "b", 1 },
	{ "/keyturn/", 9, "/keyturn0", 9 },
	{ "a\xff", 2, "b", 1 },
	{ "a\xfe", 2, "a\xff", 2 },
	{ "\xff\xff", 2, "", 1 },
	{ "", 0, "", 1 },
};

START_TEST(test_prefix_end)
{
	size_t len;
	char *e = etcd_prefix_end(ends[_i].prefix, ends[_i].plen, &len);

	ck_assert_uint_eq(len, ends[_i].elen);
	ck_assert_mem_eq(e, ends[_i].end, len);
	free(e);
}
END_TEST

static const struct {
	struct etcd_opts o;
	const char	*want;
} opts[] = {
	{ { .endpoints = "" }, "etcd: no endpoint given" },
	{ { .endpoints = " , " }, "etcd: no endpoint given" },
	{ { .endpoints = "127.0.0.1:2379" }, "127.0.0.1:2379: not an http" },
	{ { .endpoints = "http://a,ftp://b" }, "ftp://b: not an http" },
	{ { .endpoints = "http://a", .user = "u" }, "go together" },
	{ { .endpoints = "https://a", .ca = "/nonexistent/ca.pem" },
	    "CA file /nonexistent/ca.pem: No such file" },
};

START_TEST(test_opts)
{
	struct etcd *e = etcd_new(&opts[_i].o, err, sizeof(err));

	ck_assert_ptr_null(e);
	ck_assert_msg(strstr(err, opts[_i].want) != NULL, "%s", err);
}
END_TEST

/* nothing listens on port 1: every endpoint is tried and named */
START_TEST(test_refused)
{
	struct etcd_opts o = {
		.endpoints = "http://127.0.0.1:1/, http://127.0.0.2:1",
		.password = "never-shown", .user = "u"
	};
	static const char want[] = "etcd: no endpoint answered: etcd "
	    "http://127.0.0.1:1: /v3/auth/authenticate: Connection refused";
	struct etcd_range r;
	struct etcd *e = etcd_new(&o, err, sizeof(err));

	ck_assert_msg(e != NULL, "%s", err);
	ck_assert_str_eq(etcd_endpoint(e), "http://127.0.0.1:1");
	ck_assert_int_eq(etcd_range(e, "k", 1, NULL, 0, 0, 0, 0, &r, err,
	    sizeof(err)), -1);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	ck_assert_ptr_nonnull(strstr(err, "; etcd http://127.0.0.2:1: "));
	ck_assert_ptr_null(strstr(err, "never-shown"));
	etcd_free(e);
}
END_TEST

static Suite *
kek_suite(void)
{
	Suite *s = suite_create("kek");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_known_answer);
	tcase_add_loop_test(tc, test_round_trip, 0,
	    sizeof(sizes) / sizeof(sizes[0]));
	tcase_add_test(tc, test_wrong_aad);
	tcase_add_test(tc, test_flipped);
	tcase_add_test(tc, test_wrong_key);
	tcase_add_loop_test(tc, test_bad_files, 0,
	    sizeof(files) / sizeof(files[0]));
	tcase_add_loop_test(tc, test_prefix_end, 0,
	    sizeof(ends) / sizeof(ends[0]));
	tcase_add_loop_test(tc, test_opts, 0, sizeof(opts) / sizeof(opts[0]));
	tcase_add_test(tc, test_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(kek_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
