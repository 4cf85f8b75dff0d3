/*
 * forge.h - webhooks of the forges (GitHub, GitLab), read and checked, and
 * the commit statuses written back to them (with wire.h, the jansson
 * boundary for what comes over the API).
 *
 * A delivery's body is untrusted: it is parsed only after its signature
 * (crypto.h, webhook_signature_ok) or token was checked, and even then
 * every string taken from it is checked before it can reach a path, a git
 * ref, a shell or a log:
 *	commit ids	exactly 40 lowercase hex digits;
 *	branch names	letters, digits and "_./+-", at most 200 bytes, not
 *			starting with '-', '.' or '/', without "..", "//",
 *			"@{", a final '/' or '.', or ".lock" at the end;
 *	repositories	letters, digits and "_.-" in '/'-separated parts
 *			(at most 200 bytes), no part empty, "." or "..";
 *	users		letters, digits and "_.-" (at most 100 bytes), not
 *			starting with '-' or '.', with an optional "[bot]"
 *			at the end (GitHub's app accounts);
 *	numbers		pull request numbers 1 to 2^31 - 1, project ids > 0.
 * A value that fails is refused (MF_E_USAGE) with the field named.
 */
#ifndef MAYFLY_FORGE_H
#define MAYFLY_FORGE_H

#include <stddef.h>
#include <stdint.h>

/* The largest body accepted: GitHub caps its deliveries at 25 MiB. */
#define FORGE_BODY_MAX (25u << 20)
#define FORGE_REPO_MAX 200
#define FORGE_USER_MAX 100
#define FORGE_BRANCH_MAX 200
/* GitHub cuts a commit status's description at 140 characters. */
#define FORGE_DESCRIPTION_MAX 140

enum forge { FORGE_GITHUB, FORGE_GITLAB };

/* "github", "gitlab". */
const char *forge_name(enum forge f);
/* The forge of such a name (as in /api/v1/hooks/NAME/TREE); -1 (MF_E_USAGE) if none. */
int forge_parse_name(const char *s, enum forge *out);

enum forge_kind {
	FE_PING,
	FE_PUSH,
	FE_PR_OPEN,   /* opened, reopened (GitLab: open, reopen) */
	FE_PR_UPDATE, /* synchronize (GitLab: update with new commits) */
	FE_PR_CLOSE,  /* closed, merged or not (GitLab: close, merge) */
	FE_IGNORED,
};

/*
 * One delivery. Strings are NULL when the kind has none; for FE_IGNORED
 * only ignored is set, and for FE_PING only repo, when the hook belongs
 * to a repository (an organisation's hook has none).
 */
struct forge_event {
	enum forge_kind kind;
	char *ignored;	    /* FE_IGNORED: why ("event 'issues'", "push of a tag",
			       "pull_request action 'labeled'", "push deleting a branch") */
	char *repo;	    /* "owner/name": GitHub repository.full_name, GitLab
			       project.path_with_namespace */
	int64_t project_id; /* GitLab project.id (statuses need it); 0 for GitHub */
	char *branch;	    /* FE_PUSH: the branch ("master" of "refs/heads/master") */
	char *after;	    /* FE_PUSH: the new head commit */
	int64_t number;	    /* PR: GitHub number, GitLab object_attributes.iid */
	char *head_sha;	    /* PR: GitHub pull_request.head.sha, GitLab
			       object_attributes.last_commit.id */
	char *base_ref;	    /* PR: the target branch (pull_request.base.ref,
			       object_attributes.target_branch) */
	char *author;	    /* PR: GitHub pull_request.user.login (the PR's author),
			       GitLab user.username (who acted); push: GitHub
			       pusher.name, GitLab user_username */
	char *head_repo;    /* PR: the head's repository (a fork's full name, or repo);
			       NULL when the forge names none (a deleted fork) */
};

/*
 * Reads a delivery of forge f. event is the X-GitHub-Event header ("ping",
 * "push", "pull_request"; any other gives FE_IGNORED) or X-Gitlab-Event
 * ("Push Hook", "Merge Request Hook"; any other gives FE_IGNORED). A body
 * of a known event that is malformed, lacks a field or has a value that
 * fails the checks above is refused (MF_E_USAGE) with a message that
 * starts with the field ("pull_request.head.sha: missing", "ref: ...",
 * "not JSON: ... at line 1 column 5"); *out is then empty. Any input is
 * safe to give. Release *out with forge_event_release().
 */
int forge_parse_event(enum forge f, const char *event, const char *body, size_t len,
		      struct forge_event *out);
void forge_event_release(struct forge_event *e);

/*
 * The JSON body of a GitHub commit status (POST /repos/O/R/statuses/SHA):
 * {"state", "target_url", "description", "context"}, each omitted when
 * NULL; the description cut to 140 characters on a UTF-8 boundary, bytes
 * that are not UTF-8 becoming '?'. state is one of "error", "failure",
 * "pending", "success"; NULL (MF_E_USAGE) for any other. Caller frees.
 */
char *forge_status_json_github(const char *state, const char *target_url,
			       const char *description, const char *context);

#endif
