/* sha256.c - see sha256.h. */
#include "orchestrator/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "orchestrator/error.h"

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
