/* test_crypto.c - SHA-256, HMAC-SHA256 and base64 (the OpenSSL boundary). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/error.h"

#define SHA256_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA256_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

/* Decodes in (as a C string), which must give exactly want (wantlen bytes). */
static void decodes_to(const char *in, const char *want, size_t wantlen)
{
	unsigned char *out = NULL;
	size_t outlen = 99;

	mf_error_clear();
	if (base64_decode(in, strlen(in), &out, &outlen) != 0)
		fail_msg("base64_decode('%s') failed: %s", in, mf_error_msg());
	assert_int_equal(outlen, wantlen);
	if (wantlen)
		assert_memory_equal(out, want, wantlen);
	free(out);
}

/* in (inlen bytes) must be refused as MF_E_USAGE, leaving nothing behind. */
static void refuses(const char *in, size_t inlen)
{
	unsigned char *out = (unsigned char *)1;
	size_t outlen = 99;

	mf_error_clear();
	if (base64_decode(in, inlen, &out, &outlen) != -1)
		fail_msg("base64_decode accepted '%.*s'", (int)inlen, in);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	assert_non_null(strstr(mf_error_msg(), "base64"));
	assert_null(out);
	assert_int_equal(outlen, 0);
}

static void test_base64_decode_known(void **state)
{
	decodes_to("", "", 0);
	decodes_to("Zg==", "f", 1);
	decodes_to("Zm8=", "fo", 2);
	decodes_to("Zm9v", "foo", 3);
	decodes_to("Zm9vYg==", "foob", 4);
	decodes_to("Zm9vYmE=", "fooba", 5);
	decodes_to("Zm9vYmFy", "foobar", 6);
	decodes_to("aGVsbG8=", "hello", 5);
	/* '+' and '/' are the last two letters of the alphabet. */
	decodes_to("+/8=", "\xfb\xff", 2);
	/* NUL bytes come through. */
	decodes_to("AAAA", "\0\0\0", 3);
	decodes_to("AGEA", "\0a\0", 3);
}

static void test_base64_decode_uses_length(void **state)
{
	unsigned char *out = NULL;
	size_t outlen = 0;

	/* Only inlen bytes are read, whatever follows them. */
	assert_int_equal(base64_decode("Zm9vXXXX", 4, &out, &outlen), 0);
	assert_int_equal(outlen, 3);
	assert_memory_equal(out, "foo", 3);
	free(out);
}

static void test_base64_decode_refuses(void **state)
{
	static const char *const bad[] = {
		"Zg=",		/* not a multiple of 4 */
		"Z===",		/* too much padding */
		"Zg==Zg==",	/* padding in the middle */
		"Zm9v\n",	/* no line breaks */
		"Zm 9v",	/* no spaces */
		"abc",
		"!!!!",
		"ab=c",		/* data after padding */
		"====",
		"Zm9v====",
		"Zm9-",		/* base64url is not base64 */
		"Zm9_",
		" Zm9",
		"Zm9v\r\n\r\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refuses(bad[i], strlen(bad[i]));
	/* A NUL byte inside the given length is not base64 either. */
	refuses("Zm\0v", 4);
}

static void test_base64_roundtrip(void **state)
{
	unsigned char in[70], *out;
	size_t outlen;

	for (size_t len = 0; len <= sizeof(in); len++) {
		/* NUL bytes, high bytes and everything between. */
		for (size_t i = 0; i < len; i++)
			in[i] = (unsigned char)(i % 3 == 0 ? 0 : (i * 37 + len) & 0xff);
		char *enc = base64_encode(in, len);
		assert_non_null(enc);
		assert_int_equal(strlen(enc), 4 * ((len + 2) / 3));
		for (const char *p = enc; *p; p++)
			if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				    "0123456789+/=", *p))
				fail_msg("base64_encode gave '%s' (length %zu)", enc, len);
		out = NULL;
		outlen = 99;
		if (base64_decode(enc, strlen(enc), &out, &outlen) != 0)
			fail_msg("cannot decode '%s' (length %zu): %s", enc, len, mf_error_msg());
		assert_int_equal(outlen, len);
		if (len)
			assert_memory_equal(out, in, len);
		free(out);
		free(enc);
	}
}

static void test_base64_encode_known(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "hello", "aGVsbG8=" }, { "foobar", "Zm9vYmFy" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *enc = base64_encode((const unsigned char *)cases[i].in, strlen(cases[i].in));
		assert_string_equal(enc, cases[i].want);
		free(enc);
	}
}

static void digest_of(const void *data, size_t len, char out[SHA256_HEX_LEN])
{
	struct sha256 *h = sha256_new();

	sha256_update(h, data, len);
	sha256_finish(h, out);
}

static void test_sha256_known(void **state)
{
	char hex[SHA256_HEX_LEN];
	struct sha256 *h;

	digest_of("", 0, hex);
	assert_string_equal(hex, SHA256_EMPTY);
	digest_of("abc", 3, hex);
	assert_string_equal(hex, SHA256_ABC);

	/* Updates in pieces give the digest of the whole. */
	h = sha256_new();
	sha256_update(h, "a", 1);
	sha256_update(h, "", 0);
	sha256_update(h, "bc", 2);
	sha256_finish(h, hex);
	assert_string_equal(hex, SHA256_ABC);
	assert_int_equal(strlen(hex), SHA256_HEX_LEN - 1);
}

static void test_sha256_file(void **state)
{
	char path[] = "/tmp/mayfly-test-crypto-XXXXXX", hex[SHA256_HEX_LEN];
	uint64_t size = 99;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(sha256_file(path, hex, &size), 0);
	assert_string_equal(hex, SHA256_EMPTY);
	assert_int_equal(size, 0);
	assert_int_equal(write(fd, "abc", 3), 3);
	close(fd);
	assert_int_equal(sha256_file(path, hex, &size), 0);
	assert_string_equal(hex, SHA256_ABC);
	assert_int_equal(size, 3);
	assert_int_equal(sha256_file(path, hex, NULL), 0);
	unlink(path);

	mf_error_clear();
	assert_int_equal(sha256_file(path, hex, &size), -1);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	assert_non_null(strstr(mf_error_msg(), path));
}

/* Fingerprints as ssh-keygen -lf prints them for the same keys. */
static void test_ssh_key_fingerprint(void **state)
{
	static const struct {
		const char *key, *fp;
	} cases[] = {
		{ "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGvEWKG869NDsc8vZRpS4yWhr8FJCO8ccZeo8LbghAZQ",
		  "SHA256:4nebeb/I5zT4kdB1mQgPEUoM6kpgg0jAukMNlQUsHE0" },
		{ "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDzWuxQNS4ozttvMrv4pqdz/Myd7BG/jYaMa608bksusTz"
		  "bZbgg5PQy203vbODsvPC/0k9KYpFhwhIYMt6sMwY8vjzx1L8sCyPxMijYkjLMRGBcVJe/SWCoGJGV+BWZbfo"
		  "0lSOkxl92vtbW/Z42GpKvG87vcdx2gAq1Nnukyny1LQ== t2",
		  "SHA256:tIDjtXW+RhVjR7JoESS3hUFACpq/A8aCp78H9QM+JjA" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *fp = ssh_key_fingerprint(cases[i].key);
		assert_string_equal(fp, cases[i].fp);
		free(fp);
	}
	/* Not a key: a placeholder, and the current error is left alone. */
	mf_error(MF_E_USAGE, "earlier error");
	for (const char *const *bad = (const char *const[]){ "nokey", "ssh-ed25519 !!!!",
							     "ssh-ed25519 ", NULL, (void *)1 };
	     *bad != (void *)1; bad++) {
		char *fp = ssh_key_fingerprint(*bad);
		assert_string_equal(fp, "(unreadable key)");
		free(fp);
	}
	assert_string_equal(mf_error_msg(), "earlier error");
}

static void test_crypto_equal(void **state)
{
	assert_true(crypto_equal("abcd", "abcd", 4));
	assert_false(crypto_equal("abcd", "abce", 4));
	assert_true(crypto_equal("", "", 0));
}

/* RFC 4231's test case 2, and both inputs empty. */
static void test_hmac_sha256_known(void **state)
{
	char hex[SHA256_HEX_LEN];
	const char *d = "what do ya want for nothing?";

	hmac_sha256_hex("Jefe", 4, d, strlen(d), hex);
	assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	hmac_sha256_hex(NULL, 0, NULL, 0, hex);
	assert_string_equal(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
	hmac_sha256_hex("", 0, "", 0, hex);
	assert_string_equal(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

#define GH_SECRET "It's a Secret to Everybody"
#define GH_BODY "Hello, World!"
#define GH_HEX "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
#define GH_SIG "sha256=" GH_HEX

static int gh_ok(const char *secret, const char *body, const char *header)
{
	return webhook_signature_ok(secret, strlen(secret), body, strlen(body), header);
}

/* GitHub's documented example ("Validating webhook deliveries"). */
static void test_webhook_signature_github_vector(void **state)
{
	assert_int_equal(gh_ok(GH_SECRET, GH_BODY, GH_SIG), 1);
}

static void test_webhook_signature_refuses(void **state)
{
	char sig[sizeof(GH_SIG)];
	char hex[SHA256_HEX_LEN];

	/* Wrong secret; a body one byte different (changed, longer, shorter). */
	assert_int_equal(gh_ok("It's a Secret to Everybodz", GH_BODY, GH_SIG), 0);
	assert_int_equal(gh_ok("", GH_BODY, GH_SIG), 0);
	assert_int_equal(gh_ok(GH_SECRET, "Hello, World?", GH_SIG), 0);
	assert_int_equal(gh_ok(GH_SECRET, "Hello, World!\n", GH_SIG), 0);
	assert_int_equal(gh_ok(GH_SECRET, "Hello, World", GH_SIG), 0);
	/* The header truncated, extended, or one digit off. */
	memcpy(sig, GH_SIG, sizeof(sig));
	sig[sizeof(sig) - 2] = '\0';
	assert_int_equal(gh_ok(GH_SECRET, GH_BODY, sig), 0);
	assert_int_equal(gh_ok(GH_SECRET, GH_BODY, "sha256="), 0);
	assert_int_equal(gh_ok(GH_SECRET, GH_BODY, GH_SIG "7"), 0);
	assert_int_equal(gh_ok(GH_SECRET, GH_BODY, GH_SIG " "), 0);
	memcpy(sig, GH_SIG, sizeof(sig));
	sig[sizeof(sig) - 2] = '8';
	assert_int_equal(gh_ok(GH_SECRET, GH_BODY, sig), 0);
	/* No prefix, another algorithm's prefix, another case. */
	assert_int_equal(gh_ok(GH_SECRET, GH_BODY, GH_SIG + 7), 0);
	assert_int_equal(gh_ok(GH_SECRET, GH_BODY, "sha1=" GH_HEX), 0);
	assert_int_equal(gh_ok(GH_SECRET, GH_BODY, "SHA256=" GH_HEX), 0);
	assert_int_equal(gh_ok(GH_SECRET, GH_BODY,
			       "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17"),
			 0);
	/* A sha1= header carrying the right SHA-1 HMAC is still no SHA-256 one. */
	assert_int_equal(gh_ok(GH_SECRET, GH_BODY, "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59"), 0);
	/* Empty and missing headers. */
	assert_int_equal(gh_ok(GH_SECRET, GH_BODY, ""), 0);
	assert_int_equal(gh_ok(GH_SECRET, GH_BODY, NULL), 0);
	/* An empty body is signed like any other. */
	hmac_sha256_hex(GH_SECRET, strlen(GH_SECRET), "", 0, hex);
	snprintf(sig, sizeof(sig), "sha256=%s", hex);
	assert_int_equal(webhook_signature_ok(GH_SECRET, strlen(GH_SECRET), NULL, 0, sig), 1);
	assert_int_equal(gh_ok(GH_SECRET, GH_BODY, sig), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_decode_known),
		cmocka_unit_test(test_base64_decode_uses_length),
		cmocka_unit_test(test_base64_decode_refuses),
		cmocka_unit_test(test_base64_roundtrip),
		cmocka_unit_test(test_base64_encode_known),
		cmocka_unit_test(test_sha256_known),
		cmocka_unit_test(test_sha256_file),
		cmocka_unit_test(test_ssh_key_fingerprint),
		cmocka_unit_test(test_crypto_equal),
		cmocka_unit_test(test_hmac_sha256_known),
		cmocka_unit_test(test_webhook_signature_github_vector),
		cmocka_unit_test(test_webhook_signature_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
