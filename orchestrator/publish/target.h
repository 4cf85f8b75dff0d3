/*
 * target.h - where a repository is published: a directory on this host or
 * an S3 bucket, behind one interface. Keys are relative to the
 * repository's root ("repo", "packages/foo-1-x86_64.hpkg").
 *
 * Every write is whole or absent to a reader: a directory target writes a
 * hidden temporary file and renames it; S3 makes an object visible only
 * when its upload completes. Every operation may be repeated with the same
 * result (a move whose source is gone but whose destination exists is
 * done), which is what lets a publish resume after a crash.
 */
#ifndef MAYFLY_PUBLISH_TARGET_H
#define MAYFLY_PUBLISH_TARGET_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

struct target;

/* Opens r's target (reads its credentials; never logs them). */
int target_open(const struct mf_repository *r, struct target **out);
void target_close(struct target *t);
/* "/srv/repo" or "s3://bucket/prefix at http://host:port", for messages. */
const char *target_where(const struct target *t);

/* Puts the file at path (sha256: its hex digest, known to the caller). A
 * directory target may hard-link it when may_link is set (a file nothing
 * will write again), else copies it. */
int target_put_file(struct target *t, const char *key, const char *path, const char *sha256,
		    int may_link);
int target_put_data(struct target *t, const char *key, const void *data, size_t len);
/* Puts the n keys in order, as close together as the target allows: a
 * directory gets every file written and synced first, then the renames. */
int target_put_files(struct target *t, size_t n, const char *const *keys,
		     const void *const *datas, const size_t *lens);
/* Moves from to to; done when from is gone and to exists. */
int target_move(struct target *t, const char *from, const char *to);
/* Removes key; a missing key is not an error. */
int target_delete(struct target *t, const char *key);
/* Fetches key into the file at path (written whole or not at all);
 * MF_E_USAGE "not found" when there is no such key. */
int target_get_file(struct target *t, const char *key, const char *path);
/* *exists and *size of key. */
int target_stat(struct target *t, const char *key, int *exists, int64_t *size);
/*
 * Removes what a killed publisher left half-written: hidden temporary
 * files in a directory, multipart uploads in progress under the prefix
 * in S3. Only while the repository's lock is held (publish.c), when no
 * other upload to it can be under way.
 */
int target_tidy(struct target *t);
/* Bytes written by puts since open, for figures. */
uint64_t target_bytes_out(const struct target *t);

#endif
