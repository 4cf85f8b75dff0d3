/*
 * statuses.h - commit statuses waiting to be posted back to forges
 * (GitHub, GitLab), in the state database (table forge_statuses), so that
 * a forge that is down delays them and a restart loses none.
 *
 * A status is keyed by (forge, api_url, repo, sha, context): a forge shows
 * only the latest status per context of a commit, so of the rows of one
 * key only the newest (the highest id) is ever sent; older rows that were
 * not sent yet are marked "superseded" by statuses_due(). A row is
 *
 *	unsent      sent NULL, outcome NULL: due once next_try <= now
 *	sent        sent = when, outcome "sent"
 *	superseded  sent NULL, outcome "superseded": a newer row of its key
 *	            was enqueued before it was delivered
 *
 * The sending itself (HTTP, backoff) is forge/status.c's.
 */
#ifndef MAYFLY_STORE_STATUSES_H
#define MAYFLY_STORE_STATUSES_H

#include <stddef.h>
#include <stdint.h>

struct db;

/* The longest description kept, in bytes (GitHub's limit); longer ones are
 * cut at a UTF-8 character boundary. */
#define STATUS_DESCRIPTION_MAX 140

/*
 * One row of forge_statuses. For statuses_enqueue() the caller fills forge
 * to target_url (created 0: now); the rest is the store's. Every string
 * is owned by the struct once the store returns it (forge_status_release).
 */
struct forge_status {
	int64_t id;
	char *forge;		/* "github" or "gitlab" */
	char *api_url;		/* "https://api.github.com", "https://host/api/v4" */
	char *repo;		/* GitHub "owner/name"; GitLab the project id or its
				 * URL-encoded path ("group%2Fproject") */
	char *token_file;	/* a file holding the token; NULL: none */
	char *sha;		/* 40 hex digits (stored in lower case) */
	char *context;		/* "mayfly/x86_64" (GitLab: the status's name) */
	char *state;		/* "pending", "success", "failure" or "error" */
	char *description;	/* at most STATUS_DESCRIPTION_MAX bytes */
	char *target_url;	/* NULL: none */
	int64_t created;	/* seconds since the epoch */
	int64_t attempts;	/* requests made, failed or not */
	int64_t next_try;	/* not sent before this (0: at once) */
	int64_t sent;		/* when it was delivered; 0: not (yet) */
	char *outcome;		/* NULL (unsent), "sent" or "superseded" */
	char *last_error;	/* the last failed attempt's error (kept after delivery) */
};
void forge_status_release(struct forge_status *s);
void forge_statuses_free(struct forge_status *v, size_t n);

/*
 * Records a status to send (due at once); *id its row (id may be NULL).
 * MF_E_USAGE when forge, state, sha (40 hex digits), api_url (http:// or
 * https://), repo or context is not valid. The description is stored cut
 * to STATUS_DESCRIPTION_MAX bytes at a character boundary.
 */
int statuses_enqueue(struct db *db, const struct forge_status *s, int64_t *id);

/*
 * In one transaction: marks "superseded" every unsent row that has a newer
 * row of its key, then returns the unsent rows due at now (next_try <= now),
 * the longest waiting first, at most limit of them (0: all). So of each
 * key only the newest unsent row is ever returned. Free with
 * forge_statuses_free().
 */
int statuses_due(struct db *db, int64_t now, int limit, struct forge_status **out, size_t *n);

/* The status was delivered at now (attempts counts it). */
int statuses_sent(struct db *db, int64_t id, int64_t now);
/* An attempt at now failed with error (never holding a secret): it is tried
 * again from next_try (at least now). */
int statuses_failed(struct db *db, int64_t id, int64_t now, int64_t next_try,
		    const char *error);

/* The length of s cut to at most max bytes without splitting a UTF-8
 * character (for texts sent to forges). */
size_t statuses_utf8_cut(const char *s, size_t max);

/* Every row for the commit sha (NULL: all commits), oldest first. */
int statuses_list(struct db *db, const char *sha, struct forge_status **out, size_t *n);

#endif
