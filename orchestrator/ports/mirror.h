/*
 * mirror.h - the libgit2 boundary: bare mirrors of ports trees.
 *
 * A mirror is a bare repository in the state directory holding a remote's
 * branches and the refs pull requests use (refs/pull/N/head on GitHub,
 * refs/merge-requests/N/head on GitLab). A fetch that fails changes
 * nothing, and a remote that suddenly has no branch at all is refused
 * rather than pruned to nothing. Everything else reads: revisions, trees,
 * blobs, the changes between two commits.
 *
 * A mirror handle is used by one thread at a time (libgit2's rule).
 */
#ifndef MAYFLY_MIRROR_H
#define MAYFLY_MIRROR_H

#include <stddef.h>
#include <stdint.h>

struct mirror;

#define MIRROR_ID_LEN 41 /* 40 hex digits and a NUL */

/* Opens the mirror at dir, creating an empty bare repository if there is none. */
int mirror_open(struct mirror **out, const char *dir);
void mirror_close(struct mirror *m);

struct mirror_auth {
	const char *ssh_key;	/* private key file (ed25519 or ECDSA), or NULL */
	const char *token_file;	/* a file holding an HTTPS token, or NULL */
};

/*
 * Fetches url's branches and pull request refs (pruning those gone), and
 * points HEAD at branch. *head gets the branch's commit. MF_E_INFRA with
 * the remote's own message when it fails; MF_E_USAGE when the branch does
 * not exist there. url: a URL or an absolute local path.
 */
int mirror_fetch(struct mirror *m, const char *url, const char *branch,
		 const struct mirror_auth *auth, char head[MIRROR_ID_LEN]);

/*
 * Fetches every branch and tag of url (a source repository, no
 * credentials), and points HEAD where the remote's HEAD points. Nothing is
 * pruned. MF_E_INFRA with the remote's message.
 */
int mirror_fetch_all(struct mirror *m, const char *url);

/*
 * Makes dir a new bare repository holding one commit of the mirror and
 * nothing of its history (it says so in its "shallow" file), with HEAD
 * detached at it, and ref ("refs/tags/v1.2", "refs/heads/main"; may be
 * NULL) pointing at it (or at its annotated tag). Export attributes are
 * off (info/attributes), as HaikuPorter sets them for its git sources.
 */
int mirror_export(struct mirror *m, const char *commit, const char *ref, const char *dir);

/*
 * A revision ("master", a full or abbreviated commit id, "HEAD~2",
 * "refs/pull/7/head") as a full commit id. MF_E_USAGE when unknown.
 */
int mirror_resolve(struct mirror *m, const char *rev, char out[MIRROR_ID_LEN]);
/* 1 if the commit is in the mirror. */
int mirror_has_commit(struct mirror *m, const char *id);

/* One entry of a commit's tree: a file, an executable or a symlink. */
struct mirror_entry {
	const char *path;	/* "sys-libs/zlib/zlib-1.3.recipe" */
	int mode;		/* 0100644, 0100755 or 0120000 */
	const char *blob;	/* its blob id, 40 hex digits */
};

/*
 * Calls fn for every file of the commit's tree under prefix ("" for all), in
 * the tree's order (submodules have no files here). fn returns 0 to go on,
 * -1 to stop (its error stands).
 */
int mirror_walk(struct mirror *m, const char *commit, const char *prefix,
		int (*fn)(void *arg, const struct mirror_entry *e), void *arg);

/* A blob's content (caller frees; NUL-terminated for convenience). */
int mirror_read_blob(struct mirror *m, const char *blob, char **data, size_t *len);
/* A blob's size, from its header (without reading it whole). */
int mirror_blob_size(struct mirror *m, const char *blob, uint64_t *size);
/* A file of a commit by path: 1 with *data, 0 if there is no such file. */
int mirror_read_path(struct mirror *m, const char *commit, const char *path, char **data,
		     size_t *len, char blob[MIRROR_ID_LEN]);

/* A change between two commits (renames and copies detected). */
struct mirror_change {
	char status;		/* 'A' added, 'M' modified, 'D' deleted, 'R' renamed,
				   'C' copied, 'T' type changed */
	char *old_path;		/* for R and C (and D: the path) */
	char *path;		/* the new path (D: NULL) */
	int mode;		/* of the new file */
	char blob[MIRROR_ID_LEN]; /* of the new file */
};
int mirror_diff(struct mirror *m, const char *from, const char *to,
		struct mirror_change **out, size_t *n);
void mirror_changes_free(struct mirror_change *v, size_t n);

/* The best common ancestor of two commits (for a pull request's changes). */
int mirror_merge_base(struct mirror *m, const char *a, const char *b, char out[MIRROR_ID_LEN]);

#endif
