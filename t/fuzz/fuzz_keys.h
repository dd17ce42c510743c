/*
 * fuzz_keys - private keys made for the harnesses, and used nowhere else:
 * fixed, so that a saved input does what it did when it was found, and a
 * seed signed with them (t/ktsign) verifies. RSA of 1024 bits, which
 * keyturn accepts with a warning, keeps the key checks fast. And the
 * key-encryption key of the fleet harnesses.
 */
#ifndef KEYTURN_FUZZ_KEYS_H
#define KEYTURN_FUZZ_KEYS_H

static const char fuzz_ed[] __attribute__((unused)) =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ4dWa83fwvYKnMRFshiVdkyED2pKc6vCfUr9+xZUYaO\n"
    "-----END PRIVATE KEY-----\n";
static const char fuzz_rsa[] __attribute__((unused)) =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAwggJcAgEAAoGBANijjgIL+gPq/swd\n"
    "YoIYbsamGaFYzG140lWZZoD3UOaYFKzXCZCveWmOErBM9XBld6jKzIDhDdx1UAiH\n"
    "cwlMq7o6nSRZxCUyK7BVIdMLjiKnpztcNbAMs91Cf98Rw7f/Qd97o6oHmgcU3egL\n"
    "xNvmzd9pBAW4eEuor2FWizZ+h0SxAgMBAAECgYA4YH/ROoqqwFnkhnUfQ/p4Cbu7\n"
    "yF8S0hFyo0QQpcvQ5pziyec8Vt3ywT1N0glBYbZ9H6GOnIK9722PeqhOMDyz9FFo\n"
    "ygF9gPlUPke3ZK2CPqMaZZPRIzph6UT99nxY9uN75bemOO0MxYjwmJE9/3UZXrnt\n"
    "aCeOHYBCYFFNrlUUwQJBAPjG3XrMM1Rmt6cXwE56CB3gChN6PN+Vk3S9IpVr6TmT\n"
    "ivUVfjHoVvvRRu2bPQIVH0eqzVszpPL0jiJgdrwaY0kCQQDe7c+ywlXjQCwgORcZ\n"
    "xLNXKIS+9v/4yOSQlI+sRB9b1j7kjnE7yjBtQt/ePH6++CvkPL5jxKeYOp/My88m\n"
    "hG4pAkAiVqC/kGwNXFhBMiATNPjl1sTNR3QbkHPYCzs40LpSfjER/zN6BA3tmEdo\n"
    "CKN1JCE7LTJHQmukNWlhCVuaPzIxAkBJp37pC+Y+qBQsLVChlei/EkcRpSAbfZxu\n"
    "3Ha/rt5BhH7RGvL0ky/+2YqHrasew3YU+bDZ276XwD7N9kSh8D1JAkEA9Uz+zwPX\n"
    "/R2bI/3XpI7SCSOJ65Uf2FSWwP22Pm3cqkC2ZlV4xsn4hjxd9e4y9hHksA3S2Xod\n"
    "IQBr3586m2/4xw==\n"
    "-----END PRIVATE KEY-----\n";

/* the FleetKEK of fuzz_etcd, fuzz_kek and fuzz_fleetkey: 31 characters
 * and a NUL (t/fuzz/seed_etcd.sh writes the same 32 bytes) */
static const unsigned char fuzz_kek[32] __attribute__((unused)) =
    "keyturn fuzz KEK, not a secret!";

#endif
