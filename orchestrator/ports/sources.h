/*
 * sources.h - a port's sources, fetched once on the host, verified, and
 * kept for guests that have no network.
 *
 * Each SOURCE_URI[_n] of a recipe is fetched (http and https, mirrors
 * tried in order, redirects followed) into a content-addressed cache,
 * STATE/sources/<sha256>, and its SHA-256 checked against
 * CHECKSUM_SHA256[_n] before anything reaches a guest. A file whose
 * checksum does not match, or a source no URI delivers, fails the port's
 * build (MF_E_BUILD) naming the URIs and digests, and nothing is cached.
 * The cache keeps at most a given number of bytes: the least recently
 * used files go first.
 *
 * HaikuPorter on the builder then finds each source where it looks for
 * one already downloaded, <port dir>/download/<file>, with <file>.uri
 * holding the URI it came from (see build/treesync.h), and never tries
 * the network. Version-control sources (git+..., svn+...) are not fetched
 * (few HaikuPorts recipes use them; their builds fail with that reason).
 */
#ifndef MAYFLY_SOURCES_H
#define MAYFLY_SOURCES_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/crypto.h"

struct buildlog;
struct db;
struct recipe;

struct source_file {
	char *path;		/* the verified file in the cache */
	char *name;		/* its name in the port's download directory */
	char *uri;		/* the URI it came from, as the recipe wrote it */
	char sha256[SHA256_HEX_LEN];
	uint64_t size;
};

struct sources_opts {
	struct db *db;		/* the cache's index */
	const char *cache_dir;	/* STATE/sources */
	uint64_t cache_max;	/* bytes; 0: no limit */
	int allow_unsafe;	/* a source without CHECKSUM_SHA256 is used unverified */
	const atomic_int *cancel;
	struct buildlog *log;	/* may be NULL */
};

int sources_fetch(const struct sources_opts *o, const struct recipe *r, struct source_file **out,
		  size_t *n);
void source_files_free(struct source_file *v, size_t n);

/* The file name a source is downloaded as (SOURCE_FILENAME, or the URI's last part). */
char *sources_target_name(const char *uri, const char *filename);

#endif
