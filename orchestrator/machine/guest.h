/*
 * guest.h - the libssh boundary: one SSH session to a build machine, used
 * for the whole build (commands and SFTP), with the host key pinned.
 */
#ifndef MAYFLY_GUEST_H
#define MAYFLY_GUEST_H

#include <stddef.h>
#include <sys/types.h>
#include <stdint.h>

#include "common/crypto.h"

struct guest;

struct guest_login {
	const char *user;
	const char *key_path;	 /* private key file (OpenSSH format, no passphrase) */
	const char *pinned_key;	 /* "TYPE BASE64", or NULL to accept and report any */
	int timeout_s;		 /* for each blocking SSH operation */
	/*
	 * Prefer ciphers that are fast without AES instructions: an emulated
	 * (TCG) guest has none, and chacha20-poly1305 moves data about twice
	 * as fast there as AES-GCM does.
	 */
	int software_crypto;
};

/*
 * Runs SSH over an already connected socket (see ready.h), checks the host
 * key against the pinned one (fail closed: MF_E_INFRA on mismatch) and logs
 * in with the key. Takes ownership of fd. *presented gets the host key the
 * guest showed, "TYPE BASE64" (caller frees).
 */
int guest_open(struct guest **out, int fd, const struct guest_login *login, char **presented);
void guest_close(struct guest *g);

struct guest_exec_hooks {
	/* Output as it arrives (stream 1 stdout, 2 stderr). */
	void (*output)(void *payload, int stream, const char *data, size_t len);
	/*
	 * The command's stdin, when not NULL: fills buf (at most max bytes) and
	 * returns how many, 0 at the end (stdin is closed), -1 on error (with
	 * the error set). NULL: stdin is left open and empty.
	 */
	ssize_t (*input)(void *payload, char *buf, size_t max);
	/* Called at least every 100 ms; -1 (with the error set) ends the run. */
	int (*tick)(void *payload);
	void *payload;
};


/* Runs cmd through the login shell; *exit_status gets its status. */
int guest_exec(struct guest *g, const char *cmd, const struct guest_exec_hooks *hooks,
	       int *exit_status);

struct guest_file {
	char *name;
	uint64_t size;
	uint64_t mtime;
	int regular;
};

/* Lists a directory (without "." and ".."); free with guest_files_free(). */
int guest_list(struct guest *g, const char *dir, struct guest_file **out, size_t *n);
void guest_files_free(struct guest_file *f, size_t n);
/* Checks that path is a directory on the guest. */
int guest_check_dir(struct guest *g, const char *path);

/* Writes a file on the guest from memory. */
int guest_write_file(struct guest *g, const char *remote, const void *data, size_t len,
		     int mode);
/*
 * Reads a small file of the guest (at most max bytes) into a NUL-terminated
 * buffer: 1 with *out (caller frees), 0 when it does not exist, -1 on error.
 */
int guest_read_file(struct guest *g, const char *remote, size_t max, char **out, size_t *len);

/* A file on the guest read at offsets (over SFTP), e.g. by pkg/hpkg.h. */
struct guest_rfile;
int guest_rfile_open(struct guest *g, const char *remote, struct guest_rfile **out,
		     uint64_t *size);
/* Reads exactly len bytes at off; MF_E_INFRA on a short read. */
int guest_rfile_read(void *rfile, uint64_t off, void *buf, size_t len);
void guest_rfile_close(struct guest_rfile *f);

/* Uploads a local file to remote (mode 0644). */
int guest_put(struct guest *g, const char *local, const char *remote,
	      int (*tick)(void *), void *payload);
/*
 * Downloads remote to local (written as local.part, renamed when complete
 * and its size matches the guest's). Returns its size and sha256. A file
 * larger than max_size (0: no limit) is refused before any byte is read
 * (MF_E_BUILD: the build made it).
 */
int guest_get(struct guest *g, const char *remote, const char *local, uint64_t max_size,
	      uint64_t *size, char sha256[SHA256_HEX_LEN], int (*tick)(void *), void *payload);

/*
 * Reads an OpenSSH public key line ("TYPE BASE64 [COMMENT]"); *normalized
 * gets "TYPE BASE64" (caller frees). MF_E_USAGE when it is not a key.
 */
int guest_parse_public_key(const char *line, char **normalized);
/* Checks that a private key file can be used (exists, readable, no passphrase). */
int guest_check_private_key(const char *path);

#endif
