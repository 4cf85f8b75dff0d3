/*
 * trees.h - ports tree records in the state database.
 *
 * A tree is a git repository of ports in HaikuPorts layout (a remote URL
 * or a local path), mirrored bare into STATE/trees/NAME.git (ports/tree.h
 * does the git work). The record keeps what the last fetch found (its head,
 * or its error: a failed fetch leaves the last good head in place), the
 * settings builds of it get (builder.conf), and, for update mode, the last
 * commit processed and the ports whose builds failed since.
 */
#ifndef MAYFLY_STORE_TREES_H
#define MAYFLY_STORE_TREES_H

#include <stddef.h>
#include <stdint.h>

struct db;

#define TREE_DEFAULT_BRANCH "master"
#define TREE_DEFAULT_PACKAGER "Mayfly <mayfly-builder@localhost>"

struct tree {
	char *name;
	char *url;		/* remote URL, or an absolute local path */
	char *branch;
	char *credentials;	/* "ssh-key:PATH" or "token-file:PATH", or NULL */
	char *packager;		/* PACKAGER of builder.conf: "Name <email>" */
	int allow_untested;	/* builder.conf ALLOW_UNTESTED */
	int allow_unsafe_sources;
	int create_source_packages;
	char *head;		/* the branch's commit at the last good fetch, or NULL */
	int64_t fetched;	/* when (seconds since the epoch), 0: never */
	char *fetch_error;	/* what the last fetch said when it failed, or NULL */
	char *processed;	/* update mode: the last commit processed, or NULL */
	char *update_image;	/* mayflyd builds the changed ports on it; NULL: only fetches */
	int64_t created;
	/* Webhooks and commit statuses (vmctl tree set --forge ...); NULL: none */
	char *forge;		/* "github" or "gitlab" */
	char *webhook_secret_file; /* GitHub's webhook secret / GitLab's token, in a file */
	char *forge_api_url;	/* "https://api.github.com", ".../api/v4" */
	char *forge_repo;	/* "owner/name" (GitLab: the project's path or id) */
	char *forge_token_file;	/* the token commit statuses are posted with */
	char *status_context;	/* NULL: "mayfly/ARCH" */
};

/* The forge settings of a tree (NULL fields: none). */
struct tree_forge {
	const char *forge, *webhook_secret_file, *api_url, *repo, *token_file, *context;
};
int trees_set_forge(struct db *db, const char *name, const struct tree_forge *f);

void tree_free(struct tree *t);

/* MF_E_USAGE naming the known trees when unknown. */
int trees_get(struct db *db, const char *name, struct tree **out);
int trees_list(struct db *db, struct tree ***out, size_t *n);
void trees_list_free(struct tree **v, size_t n);
/* MF_E_USAGE if the name is taken. */
int trees_insert(struct db *db, const struct tree *t);
int trees_delete(struct db *db, const char *name);
/* A fetch's outcome: head (good) or error (the head stays). */
int trees_fetched(struct db *db, const char *name, const char *head, const char *error);
int trees_set_processed(struct db *db, const char *name, const char *commit);
int trees_set_update_image(struct db *db, const char *name, const char *image);

/* Ports of a tree whose update build failed: the next update retries them. */
struct tree_retry {
	char *port;		/* versioned name */
	char *commit;
	int64_t build_id;
	char *reason;
};
int trees_retry_add(struct db *db, const char *tree, const struct tree_retry *r);
int trees_retry_clear(struct db *db, const char *tree, const char *port);
int trees_retries(struct db *db, const char *tree, struct tree_retry **out, size_t *n);
void tree_retries_free(struct tree_retry *v, size_t n);

#endif
