/*
 * s3.h - a client for S3-protocol object stores (AWS, MinIO, Ceph, R2,
 * s3rver...), on libcurl like httpc.h: used to publish a Haiku package
 * repository (HaikuPorter's key layout: PREFIX + "packages/" + file.hpkg,
 * PREFIX + "repo", ...).
 *
 * Requests are path-style (ENDPOINT/BUCKET/PREFIX+KEY) and signed with
 * AWS Signature Version 4 by libcurl itself (CURLOPT_AWS_SIGV4). Every
 * request carries x-amz-content-sha256, the SHA-256 of its body: libcurl
 * 7.88 signs that header's value as the payload hash, so bodies can be
 * streamed from disk (never held in memory whole) and still be signed.
 *
 * Keys are relative to the configured prefix, which is prepended with no
 * separator (as HaikuPorter does). Failed requests are retried with
 * exponential backoff and jitter on connection errors, time-outs, 5xx
 * and 429; other answers are final. Errors are MF_E_INFRA (MF_E_USAGE for
 * local files, MF_E_INTERRUPTED on a cancel) and read like
 *	S3 PUT packages/foo.hpkg at http://127.0.0.1:4569: 403
 *	SignatureDoesNotMatch: The request signature we calculated ...
 * The secret key never appears in a message or log.
 *
 * A handle is used by one thread at a time.
 */
#ifndef MAYFLY_S3_H
#define MAYFLY_S3_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct s3_config {
	const char *endpoint;		/* "https://s3.eu-central-1.amazonaws.com", "http://127.0.0.1:4569" */
	const char *region;		/* "us-east-1" */
	const char *bucket;
	const char *prefix;		/* NULL or "": none; "haikuports/master/x86_64/current/" */
	const char *access_key, *secret_key;
	size_t multipart_threshold;	/* files larger go in parts; 0: 64 MiB */
	size_t part_size;		/* 0: 16 MiB; at least 5 MiB (S3's minimum) */
	int max_attempts;		/* per request, the first included; 0: 5 */
	int timeout_s;			/* connect time-out, and no byte for this long ends
					 * an attempt; 0: 60 s */
};

struct s3;

/* Copies what it needs from cfg. MF_E_USAGE for a config that cannot work. */
int s3_open(struct s3 **out, const struct s3_config *cfg);
void s3_close(struct s3 *s);
/* Non-zero *cancel stops the current request and what follows: MF_E_INTERRUPTED. */
void s3_set_cancel(struct s3 *s, const atomic_int *cancel);

/*
 * Reads a credentials file: lines "access_key_id = VALUE" and
 * "secret_access_key = VALUE"; blank lines and lines starting with '#'
 * are ignored, whitespace around names and values too. The file must not
 * be readable by group or others (chmod 600). Errors (MF_E_USAGE) name the
 * file and line, never a value. The caller frees both strings.
 */
int s3_credentials_read(const char *path, char **access_key, char **secret_key);

/*
 * Uploads a file, streamed from disk. sha256: its SHA-256 in hex, or NULL
 * to have it computed by reading the file once before sending it. Files
 * above the multipart threshold go as a multipart upload (each part hashed,
 * then streamed); on any failure the upload is aborted so that no parts
 * are left behind.
 */
int s3_put_file(struct s3 *s, const char *key, const char *path, const char *sha256);
/* Uploads a small object from memory. */
int s3_put_buffer(struct s3 *s, const char *key, const void *data, size_t len);
/*
 * Downloads an object into path (via a temporary file next to it, renamed
 * into place when complete). *size (may be NULL): its length.
 */
int s3_get_file(struct s3 *s, const char *key, const char *path, uint64_t *size);
/* *exists 0 for a missing object (not an error); else 1 and *size (may be NULL). */
int s3_head(struct s3 *s, const char *key, int *exists, uint64_t *size);
/* Server-side copy within the bucket (x-amz-copy-source). */
int s3_copy(struct s3 *s, const char *src_key, const char *dst_key);
/* Deletes an object; a missing object is not an error. */
int s3_delete(struct s3 *s, const char *key);

struct s3_object {
	char *key;	/* relative to the prefix */
	uint64_t size;
};
/* The objects whose keys start with prefix (NULL: all), in key order (ListObjectsV2). */
int s3_list(struct s3 *s, const char *prefix, struct s3_object **out, size_t *n);
void s3_objects_free(struct s3_object *v, size_t n);

struct s3_upload {
	char *key;	/* relative to the prefix */
	char *upload_id;
};
/* The multipart uploads in progress under the prefix (ListMultipartUploads). */
int s3_list_uploads(struct s3 *s, struct s3_upload **out, size_t *n);
void s3_uploads_free(struct s3_upload *v, size_t n);
/* The HTTP status of the last request that failed (0: none came). */
long s3_last_status(const struct s3 *s);
/* Aborts one multipart upload (key relative to the prefix). */
int s3_abort_upload(struct s3 *s, const char *key, const char *upload_id);

/* Objects per page of a listing (max-keys); 0: the server's default (1000). */
void s3_set_list_page(struct s3 *s, int max_keys);

/*
 * What the client did with request bodies since s3_open: how many times
 * libcurl asked for body bytes, the most it got at once, and the bytes
 * read from files to send them. Bodies go from the file straight into
 * libcurl's upload buffer, so max_read stays at that buffer's size (64
 * KiB) however large the file; the tests check it.
 */
struct s3_stats {
	uint64_t read_calls;
	size_t max_read;
	uint64_t file_bytes_sent;
	uint64_t requests, retries;
};
void s3_get_stats(const struct s3 *s, struct s3_stats *out);

#endif
