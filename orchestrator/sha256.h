/*
 * sha256.h - SHA-256 (OpenSSL's EVP interface is the boundary here).
 * Digests are lowercase hex strings of 64 characters plus NUL.
 */
#ifndef MAYFLY_SHA256_H
#define MAYFLY_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_HEX_LEN 65

struct sha256;

/* Never fails except out of memory (which aborts). */
struct sha256 *sha256_new(void);
void sha256_update(struct sha256 *h, const void *data, size_t len);
/* Writes the hex digest and frees the context. */
void sha256_finish(struct sha256 *h, char out[SHA256_HEX_LEN]);
/* Digest of a file's content; also returns its size when size != NULL. */
int sha256_file(const char *path, char out[SHA256_HEX_LEN], uint64_t *size);

#endif
