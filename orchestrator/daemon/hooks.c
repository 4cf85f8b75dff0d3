/* hooks.c - see hooks.h. */
#include "daemon/hooks.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buildrun/buildrun.h"
#include "common/config.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/log.h"
#include "common/names.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "daemon/poller.h"
#include "daemon/scheduler.h"
#include "daemon/ticker.h"
#include "forge/status.h"
#include "json/forge.h"
#include "json/report.h"
#include "ports/mirror.h"
#include "ports/tree.h"
#include "ports/update.h"
#include "store/buildruns.h"
#include "store/builds.h"
#include "store/db.h"
#include "store/images.h"
#include "store/queue.h"
#include "store/state.h"
#include "store/statuses.h"
#include "store/trees.h"

#define HOOKS_INTERVAL_S 1
#define HOOK_SECRET_MIN 16

static int answer(char **json, int status, const char *key, const char *text, int64_t id)
{
	*json = report_note_json(key, text, id);
	return status;
}

static int answerf(char **json, int status, const char *key, const char *fmt, ...)
	MF_PRINTF(4, 5);
static int answerf(char **json, int status, const char *key, const char *fmt, ...)
{
	va_list ap;
	char *text;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		abort();
	va_end(ap);
	*json = report_note_json(key, text, -1);
	free(text);
	return status;
}

/* The tree's secret, its trailing newline cut (caller wipes and frees); one
 * shorter than HOOK_SECRET_MIN is refused: an empty key signs anything. */
static char *read_secret(const char *path, size_t *len)
{
	char *s = NULL;

	if (!path || mf_read_file(path, 4096, &s, len) < 0)
		return NULL;
	while (*len && (s[*len - 1] == '\n' || s[*len - 1] == '\r'))
		s[--*len] = '\0';
	if (*len < HOOK_SECRET_MIN) {
		explicit_bzero(s, *len);
		free(s);
		mf_error(MF_E_USAGE, "the webhook secret in '%s' is shorter than %d bytes", path,
			 HOOK_SECRET_MIN);
		return NULL;
	}
	return s;
}

/* GitLab's token, compared in constant time whatever its length. */
static int token_ok(const char *secret, size_t len, const char *given)
{
	unsigned char a[32], b[32];

	if (!given)
		return 0;
	sha256_digest(secret, len, a);
	sha256_digest(given, strlen(given), b);
	return crypto_equal(a, b, sizeof(a)) && strlen(given) == len;
}

/* A delivery id: what the forge sent (letters, digits, '-'), else the body's digest. */
static char *delivery_id(const char *given, const void *body, size_t len)
{
	if (given && *given && strlen(given) <= 100 &&
	    strspn(given, "0123456789abcdefABCDEF-") == strlen(given))
		return xstrdup(given);
	struct sha256 *h = sha256_new();
	char hex[SHA256_HEX_LEN];
	sha256_update(h, body, len);
	sha256_finish(h, hex);
	return xasprintf("sha256-%s", hex);
}

static int64_t count(struct db *db, const char *sql, const char *a, int64_t b)
{
	struct db_stmt *st;
	int64_t n = -1;

	if (db_prepare(db, &st, sql) < 0)
		return -1;
	db_bind_text(st, 1, a);
	db_bind_int(st, 2, b);
	if (db_step(st) == 1)
		n = db_col_int(st, 0);
	db_finalize(st);
	return n;
}

/* The event is the tree's repository's (a group hook sends others' too). */
static int repo_matches(const struct tree *t, const struct forge_event *ev)
{
	if (!t->forge_repo || !ev->repo)
		return 1;
	if (ev->project_id > 0 && strspn(t->forge_repo, "0123456789") == strlen(t->forge_repo))
		return strtoll(t->forge_repo, NULL, 10) == ev->project_id;
	return !strcmp(ev->repo, t->forge_repo);
}

static const char *kind_name(enum forge_kind k)
{
	switch (k) {
	case FE_PUSH: return "push";
	case FE_PR_OPEN: return "pr-open";
	case FE_PR_UPDATE: return "pr-update";
	case FE_PR_CLOSE: return "pr-close";
	default: return "other";
	}
}

int hooks_receive(struct mf_state *st, const struct mf_config *cfg, const char *forge_s,
		  const char *tree_name, const struct hook_request *req, char **json)
{
	enum forge forge;
	struct tree *t = NULL;
	struct forge_event ev;
	char *secret = NULL, *delivery = NULL;
	size_t slen = 0;
	int status;

	memset(&ev, 0, sizeof(ev));
	*json = NULL;
	if (forge_parse_name(forge_s, &forge) < 0)
		return answer(json, 404, "error", "no such route", -1);
	if (req->len > (size_t)cfg->max_webhook_kb * 1024)
		return answerf(json, 413, "error", "the body is over max_webhook_kb (%d KiB)",
			       cfg->max_webhook_kb);
	/* The same answer for a tree that does not exist and one that takes no
	 * webhooks from this forge: nothing about trees is told unauthenticated. */
	if (name_check_tree(tree_name) < 0 || trees_get(st->db, tree_name, &t) < 0 ||
	    !t->forge || strcmp(t->forge, forge_s)) {
		status = answer(json, 404, "error", "no webhook at this address", -1);
		goto out;
	}
	/* Nothing of the body is read before it is known to come from the forge. */
	secret = read_secret(t->webhook_secret_file, &slen);
	if (!secret) {
		log_warnx("webhook for tree %s: %s", tree_name, mf_error_msg());
		status = answer(json, 500, "error", "the tree's webhook secret cannot be used (see "
				"mayflyd's log)", -1);
		goto out;
	}
	int ok = forge == FORGE_GITHUB ?
		webhook_signature_ok(secret, slen, req->body ? req->body : "", req->len,
				     req->header(req->ctx, "X-Hub-Signature-256")) :
		token_ok(secret, slen, req->header(req->ctx, "X-Gitlab-Token"));
	if (!ok) {
		log_info("webhook for tree %s: refused, %s", tree_name,
			 forge == FORGE_GITHUB ? "no or a wrong X-Hub-Signature-256" :
						 "no or a wrong X-Gitlab-Token");
		status = answer(json, 401, "error", forge == FORGE_GITHUB ?
				"missing or wrong X-Hub-Signature-256" :
				"missing or wrong X-Gitlab-Token", -1);
		goto out;
	}
	const char *event = req->header(req->ctx, forge == FORGE_GITHUB ? "X-GitHub-Event" :
								     "X-Gitlab-Event");
	if (!event) {
		status = answer(json, 400, "error", forge == FORGE_GITHUB ?
				"no X-GitHub-Event header" : "no X-Gitlab-Event header", -1);
		goto out;
	}
	delivery = delivery_id(req->header(req->ctx, forge == FORGE_GITHUB ? "X-GitHub-Delivery" :
									"X-Gitlab-Event-UUID"),
			       req->body ? req->body : "", req->len);
	/*
	 * A delivery seen before does nothing: by its id (the forge redelivers)
	 * or by its body (a captured delivery resent under a new id: the
	 * signature covers the body only).
	 */
	char body_sha[SHA256_HEX_LEN];
	struct sha256 *h = sha256_new();
	sha256_update(h, req->body ? req->body : "", req->len);
	sha256_finish(h, body_sha);
	struct db_stmt *q;
	int seen = -1;
	if (db_prepare(st->db, &q, "SELECT count(*) FROM webhook_deliveries WHERE tree = ? AND"
				   " (delivery = ? OR body_sha256 = ?)") == 0) {
		db_bind_text(q, 1, tree_name);
		db_bind_text(q, 2, delivery);
		db_bind_text(q, 3, body_sha);
		if (db_step(q) == 1)
			seen = (int)db_col_int(q, 0);
		db_finalize(q);
	}
	if (seen != 0) {
		status = seen < 0 ? answer(json, 500, "error", mf_error_msg(), -1) :
			 answerf(json, 200, "note", "delivery %s was received before: nothing done "
				 "again", delivery);
		goto out;
	}
	if (forge_parse_event(forge, event, req->body ? req->body : "", req->len, &ev) < 0) {
		status = answer(json, 400, "error", mf_error_msg(), -1);
		goto out;
	}
	/* What the event asks for, or why it is not done. */
	const char *kind = kind_name(ev.kind);
	int64_t number = 0;
	const char *sha = NULL;
	char *note = NULL;
	status = 202;
	if (ev.kind == FE_PING) {
		note = xstrdup("pong");
		status = 200;
	} else if (ev.kind == FE_IGNORED) {
		note = xasprintf("ignored: %s", ev.ignored);
	} else if (!repo_matches(t, &ev)) {
		note = xasprintf("this hook is for %s, the event is for %s", t->forge_repo,
				 ev.repo);
		status = 403;
	} else if (ev.kind == FE_PUSH && strcmp(ev.branch, t->branch)) {
		note = xasprintf("ignored: a push to %s (the tree follows %s)", ev.branch,
				 t->branch);
	} else if (ev.kind != FE_PUSH && strcmp(ev.base_ref, t->branch)) {
		note = xasprintf("ignored: a pull request into %s (the tree follows %s)",
				 ev.base_ref, t->branch);
	} else if (ev.kind == FE_PUSH) {
		sha = ev.after;
		note = xasprintf("push of %.12s to %s: the tree is updated", ev.after, ev.branch);
	} else {
		number = ev.number;
		sha = ev.head_sha;
		int64_t pending = count(st->db, "SELECT count(*) FROM webhook_events WHERE tree = ?1"
						" AND number = ?2 AND processed IS NULL", tree_name,
					number);
		/* The author's other pull requests (a push to this one replaces its run). */
		int64_t mine = count(st->db, "SELECT count(*) FROM buildruns WHERE source ="
					     " 'pull-request' AND end = 0 AND requested_by = ?1"
					     " AND pr != ?2", ev.author, number);
		int64_t queued_by = count(st->db, "SELECT count(*) FROM webhook_events WHERE"
						  " author = ?1 AND processed IS NULL AND number != ?2",
					  ev.author, number);
		if (ev.kind != FE_PR_CLOSE && pending >= cfg->pr_max_pending) {
			note = xasprintf("pull request #%lld already has %lld events waiting "
					 "(pr_max_pending %d): try again later", (long long)number,
					 (long long)pending, cfg->pr_max_pending);
			status = 429;
		} else if (ev.kind != FE_PR_CLOSE &&
			   mine + queued_by >= cfg->pr_max_per_author) {
			note = xasprintf("%s already has %lld pull request builds waiting or running "
					 "(pr_max_per_author %d): try again later", ev.author,
					 (long long)(mine + queued_by), cfg->pr_max_per_author);
			status = 429;
		} else {
			note = xasprintf("pull request #%lld at %.12s: %s", (long long)number,
					 ev.head_sha, ev.kind == FE_PR_CLOSE ? "its build is "
					 "cancelled" : "its changed ports are built");
		}
	}
	/* Recorded once, with the delivery: a replay finds it and does nothing. */
	int64_t id = 0;
	int begun = status < 300 ? db_begin(st->db) : -1;
	if (status < 300 && begun < 0) {
		/* Not recorded: the forge must know, so that it delivers it again. */
		log_warnx("webhook for tree %s: %s", tree_name, mf_error_msg());
		status = answer(json, 503, "error", "the event could not be recorded: deliver it "
				"again later", -1);
	} else if (status < 300) {
		int rc = db_execf(st->db, "INSERT INTO webhook_deliveries (tree, delivery,"
					  " body_sha256, received, event) VALUES (?, ?, ?, ?, ?)",
				  "tttit", tree_name, delivery, body_sha, (int64_t)time(NULL), event);
		if (rc == 0 && sha && status == 202)
			rc = db_execf(st->db, "INSERT INTO webhook_events (tree, delivery, kind, number,"
					      " sha, base_ref, author, received) VALUES (?, ?, ?, ?, ?,"
					      " ?, ?, ?)", "tttnttti", tree_name, delivery, kind,
				      number ? number : -1, sha, ev.base_ref, ev.author,
				      (int64_t)time(NULL));
		if (rc == 0)
			id = sha && status == 202 ? db_last_insert_id(st->db) : 0;
		if (rc == 0 && db_commit(st->db) == 0) {
			status = answer(json, status, "note", note, id);
		} else if (mf_error_class() == MF_E_CONFLICT) {
			db_rollback(st->db);
			status = answerf(json, 200, "note", "delivery %s was received before: nothing "
					 "done again", delivery);
		} else {
			db_rollback(st->db);
			log_warnx("webhook for tree %s: %s", tree_name, mf_error_msg());
			status = answer(json, 503, "error", "the event could not be recorded: deliver "
					"it again later", -1);
		}
	} else {
		status = answer(json, status, status < 300 ? "note" : "error", note, -1);
	}
	if (status < 300 && id)
		log_info("webhook for tree %s: %s (event %lld)", tree_name, note, (long long)id);
	free(note);
out:
	if (secret) {
		explicit_bzero(secret, slen);
		free(secret);
	}
	free(delivery);
	forge_event_release(&ev);
	tree_free(t);
	return status;
}

/* ---- the thread ---- */

struct hooks {
	struct ticker *ticker;
	struct scheduler *sched;
};

/* Everything a status needs but its state and words. */
static void status_of(struct mf_state *st, const struct mf_config *cfg, const struct tree *t,
		      const char *image, const char *sha, int64_t run, struct forge_status *s)
{
	memset(s, 0, sizeof(*s));
	s->forge = t->forge;
	s->api_url = t->forge_api_url;
	s->token_file = t->forge_token_file;
	s->sha = (char *)sha;
	if (!strcmp(t->forge, "gitlab")) {
		/* GitLab names a project by its id or its URL-encoded path. */
		struct strbuf sb = STRBUF_INIT;
		for (const char *p = t->forge_repo; *p; p++)
			*p == '/' ? strbuf_addstr(&sb, "%2F") : strbuf_addch(&sb, *p);
		s->repo = strbuf_detach(&sb);
	} else {
		s->repo = xstrdup(t->forge_repo);
	}
	if (t->status_context) {
		s->context = xstrdup(t->status_context);
	} else {
		struct image *img = NULL;
		if (image && images_get(st->db, image, &img) == 0 && img)
			s->context = xasprintf("mayfly/%s", img->settings.target_arch);
		else
			s->context = xstrdup("mayfly/x86_64");
		image_free(img);
	}
	s->target_url = cfg->public_url && run > 0 ?
		xasprintf("%s/api/v1/buildruns/%lld", cfg->public_url, (long long)run) : NULL;
}

static int post_status(struct mf_state *st, const struct mf_config *cfg, const struct tree *t,
		       const char *image, const char *sha, int64_t run, const char *state,
		       const char *description)
{
	struct forge_status s;
	int rc;

	if (!t->forge)
		return 0; /* the tree takes no statuses (any more) */
	status_of(st, cfg, t, image, sha, run, &s);
	s.state = (char *)state;
	s.description = (char *)description;
	rc = statuses_enqueue(st->db, &s, NULL);
	if (rc < 0)
		log_warnx("tree %s: a %s status for %.12s: %s", t->name, state, sha, mf_error_msg());
	else
		log_info("tree %s: %s status for %.12s queued: %s", t->name, state, sha, description);
	free(s.repo);
	free(s.context);
	free(s.target_url);
	return rc;
}

/* Ends a pull request's run (see buildrun_cancel()); 1 if it had not ended. */
static int cancel_run(struct mf_state *st, struct scheduler *sched, int64_t run, const char *why)
{
	int64_t *ids = NULL;
	size_t n = 0;
	int rc = buildrun_cancel(st, run, why, &ids, &n);

	for (size_t i = 0; i < n; i++)
		scheduler_cancel(sched, ids[i]);
	free(ids);
	if (rc < 0)
		log_warnx("build run %lld: %s", (long long)run, mf_error_msg());
	return rc > 0;
}

/* Ends every open run of pull request number; the heads they built get an
 * "error" status saying why (unless it is head, built again). */
static void cancel_pr_runs(struct mf_state *st, const struct mf_config *cfg,
			   struct scheduler *sched, const struct tree *t, int64_t number,
			   const char *head, const char *why)
{
	struct db_stmt *q;
	struct { int64_t id; char *sha; } *v = NULL;
	size_t n = 0;

	if (db_prepare(st->db, &q, "SELECT id, commit_id FROM buildruns WHERE source ="
				   " 'pull-request' AND tree = ? AND pr = ? AND end = 0") < 0)
		return;
	db_bind_text(q, 1, t->name);
	db_bind_int(q, 2, number);
	while (db_step(q) == 1) {
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n].id = db_col_int(q, 0);
		v[n++].sha = xstrdup(db_col_text(q, 1));
	}
	db_finalize(q);
	for (size_t i = 0; i < n; i++) {
		if (cancel_run(st, sched, v[i].id, why) && (!head || strcmp(v[i].sha, head)))
			post_status(st, cfg, t, t->update_image, v[i].sha, v[i].id, "error", why);
		/* Its final status is this one: not reported again. */
		db_execf(st->db, "UPDATE pull_requests SET reported = 1 WHERE tree = ? AND"
				 " buildrun = ?", "ti", t->name, v[i].id);
		free(v[i].sha);
	}
	free(v);
}

/* A pull request that cannot be built: its status says why. A recipe's own
 * error helps its author; an infrastructure one stays in the log. */
static void not_built(struct mf_state *st, const struct mf_config *cfg, const struct tree *t,
		      int64_t number, const char *sha, struct strbuf *result)
{
	char desc[200];

	snprintf(desc, sizeof(desc), "%s", mf_error_class() == MF_E_USAGE ? mf_error_msg() :
		 "Mayfly could not plan the build; see its log");
	log_warnx("tree %s: pull request #%lld: %s", t->name, (long long)number, mf_error_msg());
	strbuf_addf(result, "not built: %s", mf_error_msg());
	post_status(st, cfg, t, t->update_image, sha, 0, "error", desc);
}

/* A pull request opened or pushed to: its changed ports as a build run. */
static void pr_build(struct mf_state *st, const struct mf_config *cfg, struct scheduler *sched,
		     const struct tree *t, int64_t number, const char *sha, const char *author,
		     struct strbuf *result)
{
	struct update_plan plan;
	struct buildrun *r = NULL;
	char **ports = NULL;
	char desc[200];

	memset(&plan, 0, sizeof(plan));
	/* Fetched first: an event older than the pull request's head is stale
	 * (a late redelivery, or one replayed) and changes nothing. */
	if (tree_sync(st, t->name, NULL) < 0) {
		log_warnx("tree %s: pull request #%lld: %s", t->name, (long long)number,
			  mf_error_msg());
		post_status(st, cfg, t, t->update_image, sha, 0, "error",
			    "the tree could not be fetched; push again to retry");
		strbuf_addf(result, "not built: %s", mf_error_msg());
		return;
	}
	char ref[64], now[MIRROR_ID_LEN];
	snprintf(ref, sizeof(ref), !strcmp(t->forge, "gitlab") ? "refs/merge-requests/%lld/head" :
								 "refs/pull/%lld/head", (long long)number);
	if (tree_resolve(st, t->name, ref, 0, now) == 0 && strcmp(now, sha)) {
		strbuf_addf(result, "stale: %s is now %.12s, not %.12s", ref, now, sha);
		return;
	}
	snprintf(desc, sizeof(desc), "superseded by %.12s", sha);
	cancel_pr_runs(st, cfg, sched, t, number, sha, desc);
	db_execf(st->db, "INSERT OR REPLACE INTO pull_requests (tree, number, head_sha, base_ref,"
			 " author, state, buildrun, reported, updated) VALUES (?, ?, ?, ?, ?, 'open',"
			 " NULL, 0, ?)", "tittti", t->name, number, sha, t->branch, author,
		 (int64_t)time(NULL));
	if (cfg->pr_max_vms <= 0) {
		post_status(st, cfg, t, NULL, sha, 0, "error",
			    "pull requests are not built here (pr_max_vms = 0)");
		strbuf_addstr(result, "pr_max_vms = 0");
		return;
	}
	if (!t->update_image) {
		post_status(st, cfg, t, NULL, sha, 0, "error",
			    "the tree has no image to build on (vmctl tree set --update-image)");
		strbuf_addstr(result, "no image");
		return;
	}
	/* The ports changed since the merge base with the branch. */
	struct update_opts o = { .tree = t->name, .image = t->update_image, .from = t->branch,
				 .to = sha, .pull_request = 1 };
	if (update_plan(st, &o, &plan) < 0) {
		not_built(st, cfg, t, number, sha, result);
		goto out;
	}
	if (plan.n == 0) {
		post_status(st, cfg, t, t->update_image, sha, 0, "success", "no port changed");
		strbuf_addstr(result, "no port changed");
		goto out;
	}
	if (plan.n > (size_t)cfg->pr_max_ports) {
		snprintf(desc, sizeof(desc), "%zu ports changed, more than pr_max_ports (%d): not "
			 "built", plan.n, cfg->pr_max_ports);
		post_status(st, cfg, t, t->update_image, sha, 0, "error", desc);
		strbuf_addstr(result, desc);
		goto out;
	}
	ports = xcalloc(plan.n + 1, sizeof(*ports));
	for (size_t i = 0; i < plan.n; i++)
		ports[i] = plan.v[i].port;
	struct plan_opts po = {
		.tree = t->name, .commit = plan.to, .image = t->update_image, .ports = ports,
		.kind = "build", .slots = cfg->pr_max_vms > 0 ? cfg->pr_max_vms : 1,
		.source = "pull-request", .requested_by = author, .pr = number,
	};
	if (buildrun_plan(st, &po, &r) < 0) {
		not_built(st, cfg, t, number, sha, result);
		goto out;
	}
	/* Linked before its builds are queued: a crash after this leaves a run
	 * that the next event of this pull request finds and supersedes. */
	db_execf(st->db, "UPDATE pull_requests SET buildrun = ? WHERE tree = ? AND number = ?",
		 "iti", r->id, t->name, number);
	if (buildrun_advance(st, r->id, NULL) < 0) {
		log_warnx("tree %s: pull request #%lld: %s", t->name, (long long)number,
			  mf_error_msg());
		cancel_run(st, sched, r->id, "Mayfly could not queue the builds; see its log");
		strbuf_addf(result, "not built: %s", mf_error_msg());
		goto out;
	}
	scheduler_wake(sched);
	snprintf(desc, sizeof(desc), "building %zu port%s", plan.n, plan.n == 1 ? "" : "s");
	post_status(st, cfg, t, t->update_image, sha, r->id, "pending", desc);
	strbuf_addf(result, "build run %lld: %s", (long long)r->id, desc);
out:
	free(ports);
	buildrun_free(r);
	update_plan_release(&plan);
}

static int handle_event(struct mf_state *st, const struct mf_config *cfg,
			 struct scheduler *sched, int64_t id, const char *tree, const char *kind,
			 int64_t number, const char *sha, const char *author)
{
	struct strbuf result = STRBUF_INIT;
	struct tree *t = NULL;

	if (trees_get(st->db, tree, &t) < 0) {
		strbuf_addf(&result, "%s", mf_error_msg());
	} else if (!strcmp(kind, "push")) {
		poller_update_tree(st, cfg, sched, tree);
		strbuf_addstr(&result, "tree updated");
	} else if (!strcmp(kind, "pr-close")) {
		cancel_pr_runs(st, cfg, sched, t, number, NULL,
			       "cancelled: the pull request was closed");
		db_execf(st->db, "UPDATE pull_requests SET state = 'closed', updated = ? WHERE"
				 " tree = ? AND number = ?", "iti", (int64_t)time(NULL), tree, number);
		strbuf_addstr(&result, "closed");
	} else {
		pr_build(st, cfg, sched, t, number, sha, author, &result);
	}
	int rc = db_execf(st->db, "UPDATE webhook_events SET processed = ?, result = ? WHERE id = ?",
			  "iti", (int64_t)time(NULL), strbuf_str(&result), id);
	log_info("webhook event %lld (tree %s, %s): %s", (long long)id, tree, kind,
		 strbuf_str(&result));
	strbuf_release(&result);
	tree_free(t);
	return rc;
}

/* Pull requests whose run ended get their final status. */
static void report_ended(struct mf_state *st, const struct mf_config *cfg)
{
	struct db_stmt *q;
	struct { char *tree, *sha; int64_t number, run; } *v = NULL;
	size_t n = 0;

	if (db_prepare(st->db, &q, "SELECT p.tree, p.number, p.head_sha, p.buildrun FROM"
				   " pull_requests p JOIN buildruns r ON r.id = p.buildrun WHERE"
				   " p.reported = 0 AND r.end > 0") < 0)
		return;
	while (db_step(q) == 1) {
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n].tree = xstrdup(db_col_text(q, 0));
		v[n].number = db_col_int(q, 1);
		v[n].sha = xstrdup(db_col_text(q, 2));
		v[n++].run = db_col_int(q, 3);
	}
	db_finalize(q);
	for (size_t i = 0; i < n; i++) {
		struct buildrun *r = NULL;
		struct tree *t = NULL;
		if (buildruns_get(st->db, v[i].run, &r) == 0 && trees_get(st->db, v[i].tree, &t) == 0 &&
		    strncmp(r->status, "superseded", 10)) {
			size_t built = 0, failed = 0;
			struct strbuf names = STRBUF_INIT;
			for (size_t k = 0; k < r->nports; k++) {
				if (r->ports[k].state == BR_COMPLETE) {
					built++;
				} else if (r->ports[k].state == BR_FAILED ||
					   r->ports[k].state == BR_LOST) {
					strbuf_addf(&names, "%s%s", failed++ ? ", " : "",
						    r->ports[k].name);
				}
			}
			char desc[200];
			const char *state = !strncmp(r->status, "cancelled", 9) ? "error" :
					    failed ? "failure" : "success";
			if (!strcmp(state, "error"))
				snprintf(desc, sizeof(desc), "%s", r->status);
			else if (failed)
				snprintf(desc, sizeof(desc), "%zu port%s built, %zu failed: %s", built,
					 built == 1 ? "" : "s", failed, strbuf_str(&names));
			else
				snprintf(desc, sizeof(desc), "%zu port%s built", built,
					 built == 1 ? "" : "s");
			int posted = post_status(st, cfg, t, r->image, v[i].sha, r->id, state, desc);
			strbuf_release(&names);
			if (posted < 0)
				goto next; /* tried again next round */
		}
		db_execf(st->db, "UPDATE pull_requests SET reported = 1 WHERE tree = ? AND number = ?"
				 " AND buildrun = ?", "tii", v[i].tree, v[i].number, v[i].run);
next:
		buildrun_free(r);
		tree_free(t);
		free(v[i].tree);
		free(v[i].sha);
	}
	free(v);
}

static int hooks_round(struct ticker *tk, struct mf_state *st, const struct mf_config *cfg,
		       void *arg)
{
	struct hooks *h = arg;
	struct db_stmt *q;

	/* Runs that ended get their status before an event can replace them. */
	report_ended(st, cfg);
	/* What webhooks recorded, oldest first, one at a time. */
	while (!ticker_stopping(tk)) {
		int64_t id = 0, number = 0;
		char *tree = NULL, *kind = NULL, *sha = NULL, *author = NULL;
		if (db_prepare(st->db, &q, "SELECT id, tree, kind, number, sha, author FROM"
					   " webhook_events WHERE processed IS NULL ORDER BY id"
					   " LIMIT 1") < 0)
			break;
		if (db_step(q) == 1) {
			id = db_col_int(q, 0);
			tree = xstrdup(db_col_text(q, 1));
			kind = xstrdup(db_col_text(q, 2));
			number = db_col_is_null(q, 3) ? 0 : db_col_int(q, 3);
			sha = xstrdup(db_col_text(q, 4));
			author = xstrdup_or_null(db_col_text(q, 5));
		}
		db_finalize(q);
		int rc = id ? handle_event(st, cfg, h->sched, id, tree, kind, number, sha,
					   author ? author : "") : 0;
		free(tree);
		free(kind);
		free(sha);
		free(author);
		if (!id)
			break;
		if (rc < 0) {
			/* Not marked: handled again next round, not in a tight loop. */
			log_warnx("webhook event %lld: %s", (long long)id, mf_error_msg());
			break;
		}
	}
	report_ended(st, cfg);
	struct forge_send_stats stats;
	if (forge_status_send_due(st, (int64_t)time(NULL), &stats) < 0)
		log_warnx("commit statuses: %s", mf_error_msg());
	return HOOKS_INTERVAL_S;
}

int hooks_start(struct hooks **out, const struct mf_config *cfg, struct scheduler *sched)
{
	struct hooks *h = xcalloc(1, sizeof(*h));

	*out = NULL;
	h->sched = sched;
	if (ticker_start(&h->ticker, "webhook thread", cfg, hooks_round, h) < 0) {
		free(h);
		return -1;
	}
	*out = h;
	return 0;
}

void hooks_stop(struct hooks *h)
{
	if (!h)
		return;
	ticker_stop(h->ticker);
	free(h);
}
