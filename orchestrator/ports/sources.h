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
 * the network.
 *
 * Git sources ("git+https://host/repo.git#tag=v1.2", "#commit=ID", git://)
 * are fetched with libgit2 into a mirror, STATE/sources/git/<sha256 of the
 * URL>.git, kept across builds. A tag= or commit= revision is verified as
 * HaikuPorter verifies it: the SHA-256 of `git archive --format tar` of
 * the commit (run in the sandbox) against CHECKSUM_SHA256. Any other
 * revision (a branch, none) is an unsafe source, used only when the tree
 * allows those. The guest gets a bare repository of that one commit as
 * the download (shallow, with the tag or branch the recipe names), where
 * HaikuPorter's git fetcher finds it already cloned. Other version-control
 * sources (svn+..., hg+...) are not fetched; their builds fail saying so.
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
	char *path;		/* the verified file in the cache, or (is_dir) a repository */
	int is_dir;		/* a git source: a bare repository of its one commit,
				   removed by source_files_free() */
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
/*
 * One file from an http(s) URI into the same cache, verified against
 * sha256 (required unless o->allow_unsafe): a package of an imported
 * repository that a build needs. name is what it is called in messages.
 */
int sources_fetch_uri(const struct sources_opts *o, const char *uri, const char *sha256,
		      const char *name, struct source_file *out);

/* The file name a source is downloaded as (SOURCE_FILENAME, or the URI's last part). */
char *sources_target_name(const char *uri, const char *filename);

#endif
