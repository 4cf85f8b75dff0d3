/*
 * crypto.h - the OpenSSL boundary: SHA-256, HMAC-SHA256, base64 and SSH key
 * fingerprints.
 * Digests are lowercase hex strings of 64 characters plus NUL.
 */
#ifndef MAYFLY_CRYPTO_H
#define MAYFLY_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_HEX_LEN 65

struct sha256;

/* Never fails except out of memory (which aborts). */
struct sha256 *sha256_new(void);
void sha256_update(struct sha256 *h, const void *data, size_t len);
/* Writes the hex digest and frees the context. */
void sha256_finish(struct sha256 *h, char out[SHA256_HEX_LEN]);
/* The raw digest of a buffer. */
void sha256_digest(const void *data, size_t len, unsigned char out[32]);
/* 1 if the buffers are equal, in time that depends only on len. */
int crypto_equal(const void *a, const void *b, size_t len);
/* Digest of a file's content; also returns its size when size != NULL. */
int sha256_file(const char *path, char out[SHA256_HEX_LEN], uint64_t *size);

/* HMAC-SHA256 of data under key, as lowercase hex (either may be empty). */
void hmac_sha256_hex(const void *key, size_t keylen, const void *data, size_t len,
		     char out[SHA256_HEX_LEN]);
/*
 * 1 when header (a forge's X-Hub-Signature-256) is exactly "sha256=" and
 * the lowercase hex HMAC-SHA256 of body under secret, compared in constant
 * time; 0 otherwise: NULL, empty, truncated or longer, another algorithm
 * ("sha1=..."), or uppercase hex (GitHub sends lowercase, so nothing else
 * is accepted). Never sets the error.
 */
int webhook_signature_ok(const void *secret, size_t secret_len, const void *body, size_t len,
			 const char *header);

/*
 * Decodes base64 (RFC 4648, padding required, no line breaks) into a new
 * buffer the caller frees; -1 (MF_E_USAGE) when it is not base64.
 */
int base64_decode(const char *in, size_t inlen, unsigned char **out, size_t *outlen);
/* Encodes into a NUL-terminated string the caller frees. */
char *base64_encode(const unsigned char *in, size_t len);

/*
 * OpenSSH's fingerprint of a public key given as "TYPE BASE64":
 * "SHA256:" and the unpadded base64 of the SHA-256 of the key blob
 * (caller frees). "(unreadable key)" when it is not such a line.
 */
char *ssh_key_fingerprint(const char *key);

#endif
