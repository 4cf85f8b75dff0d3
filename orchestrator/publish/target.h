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

/* Puts the file at path (sha256: its hex digest, known to the caller). */
int target_put_file(struct target *t, const char *key, const char *path, const char *sha256);
int target_put_data(struct target *t, const char *key, const void *data, size_t len);
/* Puts key1 then key2, as close together as the target allows: a
 * directory gets both files written and synced first, then two renames. */
int target_put_pair(struct target *t, const char *key1, const void *data1, size_t len1,
		    const char *key2, const void *data2, size_t len2);
/* Moves from to to; done when from is gone and to exists. */
int target_move(struct target *t, const char *from, const char *to);
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
