/*
 * treesync.h - the guest's ports tree made exactly the files of one
 * commit, over the build's SSH session, with what a build of a port needs
 * added (builder.conf, the port's sources).
 *
 * When the guest's tree is a checkout of a commit the mirror has (the
 * golden image's, read at image add), only the difference is sent: the
 * paths to delete (as one list on stdin of `xargs -0 rm -rf`), then the
 * added and changed files as one tar stream (libarchive, pax restricted)
 * on stdin of `tar xf -`. Otherwise the tree is replaced whole by one tar
 * stream. Either way HaikuPorter's own state from the golden image (its
 * repository/ directory, work-* and download/ directories of ports) is
 * removed first, and the packages directory is left alone when it is in
 * the tree. Files keep their executable bits; symlinks stay symlinks.
 */
#ifndef MAYFLY_TREESYNC_H
#define MAYFLY_TREESYNC_H

#include <stddef.h>
#include <stdint.h>

struct buildlog;
struct guest;
struct mirror;

/* A file to add to the tree: from memory (data) or from a host file (local). */
struct treesync_file {
	const char *path;	/* relative to the tree */
	const char *data;
	size_t len;
	const char *local;
	int mode;		/* 0644, 0755 */
};

struct treesync_opts {
	struct guest *guest;
	struct mirror *m;
	const char *commit;		/* what the tree must be */
	const char *base;		/* what the guest's tree is at, or NULL */
	const char *tree_path;		/* on the guest */
	const char *packages_dir;	/* on the guest: kept when inside the tree */
	const struct treesync_file *extra;
	size_t nextra;
	const char *work_dir;		/* on the host: for the temporary tar file */
	struct buildlog *log;
	int (*tick)(void *payload);
	void *payload;
};

struct treesync_stats {
	int full;		/* the whole tree was sent */
	size_t files;		/* sent */
	size_t deleted;
	uint64_t bytes;		/* of the tar stream */
};

int treesync_push(const struct treesync_opts *o, struct treesync_stats *st);

/* The tar stream of a whole commit (and extra files) into a file: for benchmarks and tests. */
int treesync_write_tar(struct mirror *m, const char *commit, const char *path, uint64_t *bytes,
		       size_t *files);

#endif
