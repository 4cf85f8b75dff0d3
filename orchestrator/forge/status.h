/*
 * status.h - commit statuses posted to forges (GitHub, GitLab) from the
 * queue in the state database (store/statuses.h).
 *
 * A round sends every status due, over one HTTP handle:
 *
 *	GitHub  POST {api_url}/repos/{repo}/statuses/{sha}, a JSON body
 *	        (state, target_url, description, context), with
 *	        "Authorization: Bearer TOKEN"
 *	GitLab  POST {api_url}/projects/{repo}/statuses/{sha}, a form body
 *	        (state: failure and error become "failed"; name = context;
 *	        target_url; description), with "PRIVATE-TOKEN: TOKEN"
 *
 * The token is read from the status's token_file at every attempt (so a
 * token replaced in the file is used at once), its trailing newline
 * stripped; it is never logged nor put in an error, even when a forge
 * echoes it back.
 *
 * A 2xx answer delivers the status. Anything else is recorded on it
 * (last_error "HTTP 502: <the first 200 bytes of the body>" or the
 * transport's error) and it is tried again after forge_status_backoff():
 * 5 s doubling to at most 10 minutes. A 401, 403, 404 or 422 is tried
 * again too, because a token or repository fixed later must still deliver
 * it, but at once at the 10-minute cap. When a forge gives no answer at
 * all, its other statuses of the round are recorded as failed with the
 * same error without trying them, so that one round waits for a forge
 * that is down once, not once per status.
 *
 * Each request is bounded (connect 10 s, no byte for 30 s ends it), and a
 * round holds the database only between requests: it is meant to run in a
 * thread of its own, never in a build's way.
 */
#ifndef MAYFLY_FORGE_STATUS_H
#define MAYFLY_FORGE_STATUS_H

#include <stddef.h>
#include <stdint.h>

struct mf_state;

struct forge_send_stats {
	size_t due;	/* statuses due this round (superseded ones not counted) */
	size_t sent;	/* delivered: the forge answered 2xx */
	size_t failed;	/* not delivered, to be tried again */
};

/*
 * Sends every status due at now (seconds since the epoch); out (may be
 * NULL) gets the round's figures. A forge's failure is no error: it is
 * recorded on the status. -1 only when the state database or the HTTP
 * client fails.
 */
int forge_status_send_due(struct mf_state *st, int64_t now, struct forge_send_stats *out);

/*
 * Seconds to wait after a failed attempt, given the attempts made before
 * it and the HTTP status (0: no answer): 5 s doubling with each attempt,
 * at most 600 s (at once for 401, 403, 404 and 422), less up to a fifth at
 * random so that statuses failed together spread out; each wait is still
 * longer than the one before until the cap.
 */
int64_t forge_status_backoff(int64_t attempts, long http_status);

#endif
