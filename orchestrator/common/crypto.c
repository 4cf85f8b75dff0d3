/* crypto.c - see crypto.h. */
#include "common/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/util.h"

struct sha256 {
	EVP_MD_CTX *ctx;
};

struct sha256 *sha256_new(void)
{
	struct sha256 *h = malloc(sizeof(*h));

	if (!h || !(h->ctx = EVP_MD_CTX_new()) ||
	    EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		fputs("mayfly: cannot initialise SHA-256\n", stderr);
		abort();
	}
	return h;
}

void sha256_update(struct sha256 *h, const void *data, size_t len)
{
	EVP_DigestUpdate(h->ctx, data, len);
}

void sha256_finish(struct sha256 *h, char out[SHA256_HEX_LEN])
{
	unsigned char md[32];
	unsigned int n = 0;

	EVP_DigestFinal_ex(h->ctx, md, &n);
	for (unsigned int i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[2 * n] = '\0';
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

void sha256_digest(const void *data, size_t len, unsigned char out[32])
{
	if (EVP_Digest(data, len, out, NULL, EVP_sha256(), NULL) != 1) {
		fputs("mayfly: cannot compute SHA-256\n", stderr);
		abort();
	}
}

int crypto_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

int sha256_file(const char *path, char out[SHA256_HEX_LEN], uint64_t *size)
{
	static __thread unsigned char buf[1 << 16];
	struct sha256 *h;
	uint64_t total = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mf_error_errno(MF_E_USAGE, "cannot open '%s'", path);
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	h = sha256_new();
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			mf_error_errno(MF_E_USAGE, "cannot read '%s'", path);
			sha256_finish(h, out);
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		sha256_update(h, buf, (size_t)r);
		total += (uint64_t)r;
	}
	close(fd);
	sha256_finish(h, out);
	if (size)
		*size = total;
	return 0;
}

void hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t len,
		     char out[SHA256_HEX_LEN])
{
	static const unsigned char none[1];
	unsigned char md[32];
	unsigned int n = 0;

	if (keylen > INT32_MAX ||
	    !HMAC(EVP_sha256(), keylen ? key : none, (int)keylen, len ? data : none, len, md,
		  &n) ||
	    n != sizeof(md)) {
		fputs("mayfly: cannot compute HMAC-SHA256\n", stderr);
		abort();
	}
	for (unsigned int i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[2 * n] = '\0';
}

int webhook_signature_ok(const void *secret, size_t secret_len, const void *body, size_t len,
			 const char *header)
{
	static const char prefix[] = "sha256=";
	char want[sizeof(prefix) - 1 + SHA256_HEX_LEN];

	/* The length is no secret: only the digest is compared in constant time. */
	if (!header || strnlen(header, sizeof(want)) != sizeof(want) - 1)
		return 0;
	memcpy(want, prefix, sizeof(prefix) - 1);
	hmac_sha256_hex(secret, secret_len, body, len, want + sizeof(prefix) - 1);
	return crypto_equal(want, header, sizeof(want) - 1);
}

int base64_decode(const char *in, size_t inlen, unsigned char **out, size_t *outlen)
{
	unsigned char *buf;
	size_t pad = 0;
	int n;

	*out = NULL;
	*outlen = 0;
	if (inlen % 4 != 0 || inlen > (size_t)1 << 30)
		return mf_error(MF_E_USAGE, "not base64 (length %zu is not a multiple of 4)", inlen);
	for (size_t i = 0; i < inlen; i++) {
		char c = in[i];
		int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			 c == '+' || c == '/' || (c == '=' && i >= inlen - 2);
		if (!ok || (pad && c != '='))
			return mf_error(MF_E_USAGE, "not base64 (character %zu)", i + 1);
		if (c == '=')
			pad++;
	}
	buf = malloc(inlen / 4 * 3 + 1);
	if (!buf) {
		fputs("mayfly: out of memory\n", stderr);
		abort();
	}
	n = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)inlen);
	if (n < 0) {
		free(buf);
		return mf_error(MF_E_USAGE, "not base64");
	}
	*out = buf;
	*outlen = (size_t)n - pad; /* EVP_DecodeBlock counts the padding as data */
	return 0;
}

char *base64_encode(const unsigned char *in, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	if (!out) {
		fputs("mayfly: out of memory\n", stderr);
		abort();
	}
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return out;
}

char *ssh_key_fingerprint(const char *key)
{
	const char *b64 = key ? strchr(key, ' ') : NULL;
	unsigned char *blob, md[32];
	size_t n, pad = 0;
	int len;
	char *enc, *out;

	if (!b64)
		return xstrdup("(unreadable key)");
	b64++;
	n = strcspn(b64, " \t\r\n");
	if (n == 0 || n % 4 != 0 || n > 65536)
		return xstrdup("(unreadable key)");
	blob = malloc(n / 4 * 3 + 1);
	if (!blob) {
		fputs("mayfly: out of memory\n", stderr);
		abort();
	}
	/* Not base64_decode(): a fingerprint never touches the current error. */
	len = EVP_DecodeBlock(blob, (const unsigned char *)b64, (int)n);
	pad = (b64[n - 1] == '=') + (b64[n - 2] == '=');
	if (len <= (int)pad) {
		free(blob);
		return xstrdup("(unreadable key)");
	}
	sha256_digest(blob, (size_t)len - pad, md);
	free(blob);
	enc = base64_encode(md, sizeof(md));
	enc[strcspn(enc, "=")] = '\0';
	out = xasprintf("SHA256:%s", enc);
	free(enc);
	return out;
}
