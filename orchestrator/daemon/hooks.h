/*
 * hooks.h - forge webhooks and pull-request builds.
 *
 * POST /api/v1/hooks/{github,gitlab}/TREE is answered by hooks_receive()
 * in the API's thread, quickly and durably: the signature (GitHub's
 * X-Hub-Signature-256, HMAC-SHA256 of the raw body with the tree's
 * secret) or token (GitLab's X-Gitlab-Token) is checked in constant time
 * before anything is parsed; a delivery id seen before does nothing; the
 * event is parsed (json/forge.h), checked against the tree and the limits,
 * and recorded (webhook_events). Everything after happens in the hooks
 * thread (a daemon/ticker.h round every second):
 *
 *  - a push to the tree's branch updates the tree now, as a poll does
 *    (one lock, so a push and a poll never plan one commit twice);
 *  - a pull request opened, reopened or pushed to: its head is fetched
 *    (refs/pull/N/head, refs/merge-requests/N/head), the ports changed
 *    between the merge base with the target branch and the head are built
 *    as a build run at the head (source "pull-request": never published,
 *    its packages only in the run's index and the PR's API), and an older
 *    run of the same pull request is cancelled (superseded); closing it
 *    cancels its run;
 *  - commit statuses: "pending" when the run is queued, then "success",
 *    "failure" or "error" with a short description, posted by
 *    forge/status.c (retried, kept across restarts).
 */
#ifndef MAYFLY_HOOKS_H
#define MAYFLY_HOOKS_H

#include <stddef.h>

struct mf_config;
struct mf_state;
struct scheduler;
struct hooks;

/* A delivery as it arrived: the raw body and the request's headers. */
struct hook_request {
	const char *body;	/* may be NULL when empty */
	size_t len;
	const char *(*header)(void *ctx, const char *name); /* NULL when absent */
	void *ctx;
};

/* Answers one webhook delivery: its HTTP status, *json its body. */
int hooks_receive(struct mf_state *st, const struct mf_config *cfg, const char *forge,
		  const char *tree, const struct hook_request *req, char **json);

/* Starts the thread that handles what webhooks recorded and sends statuses. */
int hooks_start(struct hooks **out, const struct mf_config *cfg, struct scheduler *sched);
void hooks_stop(struct hooks *h);

#endif
