/* api.c - mayflyd's routes. See api.h. */
#include "daemon/api.h"

#include <stdatomic.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/error.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "daemon/http.h"
#include "daemon/scheduler.h"
#include "daemon/tokens.h"
#include "build/pipeline.h"
#include "json/report.h"
#include "ports/tree.h"
#include "json/wire.h"
#include "common/names.h"
#include "daemon/hooks.h"
#include "store/builds.h"
#include "store/db.h"
#include "buildrun/buildrun.h"
#include "store/buildruns.h"
#include "store/images.h"
#include "json/status.h"
#include "store/queue.h"
#include "store/state.h"

#define JSON "application/json"
/*
 * Threads serving every connection. Handlers are short (a database query,
 * a file handed to sendfile); the longest is a submission with inputs.
 */
#define API_THREADS 4

struct api {
	struct mf_config cfg;
	struct scheduler *sched;
	struct http_server *http;
	pthread_key_t state_key;	/* each server thread's own state handle */
	pthread_mutex_t tokens_lock;
	struct tokens *tokens;
	atomic_int accepting;
};

static void free_thread_state(void *p)
{
	state_free(p);
}

/*
 * This thread's state handle (its database connection): opened on the
 * thread's first request and kept for the thread's life.
 */
static struct mf_state *thread_state(struct api *a)
{
	struct mf_state *st = pthread_getspecific(a->state_key);

	if (st)
		return st;
	if (state_open(&st, a->cfg.state_dir) < 0)
		return NULL;
	pthread_setspecific(a->state_key, st);
	return st;
}

static struct http_response *error_response(int status, const char *msg, const char *field)
{
	char *json = report_error_json(msg, field);
	struct http_response *r = http_respond(status, JSON, json);

	free(json);
	return r;
}

/* The current Mayfly error as an HTTP error, by its class. */
static struct http_response *fail(const char *field)
{
	int status;

	switch (mf_error_class()) {
	case MF_E_USAGE:
		status = 400;
		break;
	case MF_E_CONFLICT:
		status = 409;
		break;
	default:
		status = 500;
		break;
	}
	if (status == 500)
		log_warnx("api: %s", mf_error_msg());
	return error_response(status, mf_error_msg(), field);
}

static struct http_response *json_response(int status, char *json)
{
	struct http_response *r = http_respond(status, JSON, json);

	free(json);
	return r;
}

/* --- tokens */

int api_reload_tokens(struct api *a)
{
	struct tokens *t = NULL, *old;

	if (tokens_load(&t, a->cfg.token_file) < 0)
		return -1;
	pthread_mutex_lock(&a->tokens_lock);
	old = a->tokens;
	a->tokens = t;
	pthread_mutex_unlock(&a->tokens_lock);
	tokens_free(old);
	if (tokens_count(t) == 0)
		log_warnx("no API token is configured (token_file): every request but /healthz "
			  "will be refused");
	else
		log_info("%zu API token%s loaded", tokens_count(t), tokens_count(t) == 1 ? "" : "s");
	return 0;
}

/* Checks the bearer token; *who gets "token:HASHPREFIX" (caller frees). */
static int authorized(struct api *a, const struct http_request *req, char **who)
{
	int ok;

	pthread_mutex_lock(&a->tokens_lock);
	ok = tokens_check(a->tokens, http_header(req, "Authorization"), who);
	pthread_mutex_unlock(&a->tokens_lock);
	return ok;
}

/* --- handlers */

static struct http_response *health(struct api *a)
{
	struct mf_state *st = thread_state(a);
	int queued = 0, running = 0;

	struct report_warm *warm = NULL;
	size_t nwarm = 0;
	char *json;

	if (!st || queue_counts(st->db, &queued, &running) < 0)
		return fail(NULL);
	scheduler_warm(a->sched, &warm, &nwarm);
	json = report_health_json(a->accepting, scheduler_running(a->sched), queued,
				  a->cfg.max_vms, scheduler_disk_low(a->sched), warm, nwarm);
	free(warm);
	return json_response(a->accepting ? 200 : 503, json);
}

static int write_inputs(struct mf_state *st, int64_t id, const struct wire_submission *s,
			char **names)
{
	struct strbuf list = STRBUF_INIT;
	char *dir = xasprintf("%s/%lld/inputs", st->builds_dir, (long long)id);
	int ret = -1;

	if (s->ninputs && mf_mkdir_p(dir, 0755) < 0)
		goto out;
	for (size_t i = 0; i < s->ninputs; i++) {
		char *path = xasprintf("%s/%s", dir, s->inputs[i].name);
		int rc = mf_write_file_atomic(path, s->inputs[i].data, s->inputs[i].len, 0644);
		free(path);
		if (rc < 0)
			goto out;
		strbuf_addf(&list, "%s%s", i ? " " : "", s->inputs[i].name);
	}
	*names = strbuf_detach(&list);
	ret = 0;
out:
	strbuf_release(&list);
	free(dir);
	return ret;
}

/*
 * Ports of a tree: the commit resolved once (the mirror's head as the
 * poller last fetched it, unless one is named: a commit not yet in the
 * mirror is fetched), every port checked and evaluated, each port once.
 */
static int check_ports(struct mf_state *st, const struct wire_submission *sub, char *commit,
		       char ***ports, char **field)
{
	struct build_request req = { .image = sub->image, .tree = sub->tree };
	char **v = xcalloc(sub->nports + 1, sizeof(char *));

	*ports = v;
	if (tree_resolve(st, sub->tree, sub->commit, 0, commit) < 0) {
		*field = xstrdup(sub->commit && mf_error_class() == MF_E_USAGE ? "commit" : "tree");
		return -1;
	}
	req.commit = commit;
	for (size_t i = 0; i < sub->nports; i++) {
		struct pipeline_checked chk;
		req.port = sub->ports[i];
		*field = xasprintf("ports[%zu]", i);
		if (pipeline_check(st, &req, &chk) < 0)
			return -1;
		for (size_t j = 0; j < i; j++) {
			if (!strcmp(v[j], chk.port)) {
				free(chk.port);
				return mf_error(MF_E_USAGE, "port %s is given twice (ports[%zu] and "
						"ports[%zu])", v[j], j, i);
			}
		}
		v[i] = chk.port;
		free(*field);
		*field = NULL;
	}
	return 0;
}

/*
 * {"id": first, "status": "queued", "url": ...}, and for ports of a tree
 * "commit", "buildrun", "buildrun_url" and "builds": [{"id", "port", "url"},
 * ...] (the builds queued now; "id" is null when there is none) (caller frees).
 */
static char *accepted_json(const int64_t *ids, size_t n, char **ports, const char *commit,
			   int64_t run)
{
	struct strbuf sb = STRBUF_INIT;

	if (n)
		strbuf_addf(&sb, "{\"id\": %lld, \"status\": \"queued\", \"url\": "
			    "\"/api/v1/builds/%lld\"", (long long)ids[0], (long long)ids[0]);
	else
		strbuf_addstr(&sb, "{\"id\": null, \"status\": \"queued\"");
	if (run)
		strbuf_addf(&sb, ", \"buildrun\": %lld, \"buildrun_url\": \"/api/v1/buildruns/%lld\"",
			    (long long)run, (long long)run);
	if (ports) {
		/* Port names and commit ids are checked: nothing to escape. */
		strbuf_addf(&sb, ", \"commit\": \"%s\", \"builds\": [", commit);
		for (size_t i = 0; i < n; i++)
			strbuf_addf(&sb, "%s{\"id\": %lld, \"port\": \"%s\", \"url\": "
				    "\"/api/v1/builds/%lld\"}", i ? ", " : "", (long long)ids[i],
				    ports[i], (long long)ids[i]);
		strbuf_addch(&sb, ']');
	}
	strbuf_addstr(&sb, "}\n");
	return strbuf_detach(&sb);
}

static struct http_response *queue_full(struct api *a)
{
	char msg[160];
	snprintf(msg, sizeof(msg), "the queue is full (%d builds at most may wait); try "
		 "again later", a->cfg.queue_max);
	struct http_response *resp = error_response(429, msg, NULL);
	http_response_header(resp, "Retry-After", "30");
	return resp;
}

/*
 * Ports of a tree: a build run, planned now (the ports they need join it);
 * the ports that can start are queued, the others as their packages are
 * harvested (buildrun_advance()).
 */
static struct http_response *submit_run(struct api *a, struct mf_state *st,
					const struct wire_submission *sub, const char *commit,
					char **ports, const char *who)
{
	struct buildrun *r = NULL;
	struct http_response *resp;
	int64_t waiting = 0, *ids = NULL;
	char **names = NULL;
	size_t n = 0;

	if (sub->ninputs)
		return error_response(400, "inputs are for builds of recipes, not of a tree",
				      "inputs");
	if (queue_waiting(st->db, &waiting) < 0)
		return fail(NULL);
	if (waiting + (int64_t)sub->nports > a->cfg.queue_max)
		return queue_full(a);
	struct plan_opts po = {
		.tree = sub->tree, .commit = commit, .image = sub->image, .ports = ports,
		.kind = "build", .slots = a->cfg.max_vms, .source = "api",
		.priority = sub->priority, .timeout = sub->timeout, .requested_by = who,
	};
	if (buildrun_plan(st, &po, &r) < 0)
		return fail("ports");
	int64_t run = r->id;
	buildrun_free(r);
	r = NULL;
	if (buildrun_advance(st, run, NULL) < 0 || buildruns_get(st->db, run, &r) < 0)
		return fail(NULL);
	ids = xcalloc(r->nports + 1, sizeof(*ids));
	names = xcalloc(r->nports + 1, sizeof(char *));
	for (size_t i = 0; i < r->nports; i++)
		if (r->ports[i].build_id) {
			ids[n] = r->ports[i].build_id;
			names[n++] = xstrdup(r->ports[i].port);
		}
	scheduler_wake(a->sched);
	log_info("build run %lld by %s: image %s, tree %s at %.12s, %zu port%s, %zu queued now, "
		 "priority %d", (long long)run, who, sub->image, sub->tree, commit, r->nports,
		 r->nports == 1 ? "" : "s", n, sub->priority);
	resp = json_response(202, accepted_json(ids, n, names, commit, run));
	char url[64];
	snprintf(url, sizeof(url), "/api/v1/buildruns/%lld", (long long)run);
	http_response_header(resp, "Location", url);
	free(ids);
	mf_strv_free(names);
	buildrun_free(r);
	return resp;
}

static struct http_response *submit(struct api *a, const struct http_request *req,
				    const char *who)
{
	struct mf_state *st = thread_state(a);
	struct wire_submission sub;
	struct image *img = NULL;
	struct http_response *resp;
	char *field = NULL, *names = NULL, **ports = NULL, commit[41] = "";
	int64_t *ids = NULL;
	size_t n;
	int rc;

	if (!a->accepting)
		return error_response(503, "mayflyd is shutting down; submit again later", NULL);
	if (!st)
		return fail(NULL);
	if (wire_parse_submission(req->body ? req->body : "", req->body_len, &sub, &field) < 0) {
		resp = fail(field);
		free(field);
		return resp;
	}
	free(field);
	field = NULL;
	if (images_get(st->db, sub.image, &img) < 0 || images_check_usable(img) < 0) {
		resp = fail("image");
		goto out;
	}
	if (sub.tree && check_ports(st, &sub, commit, &ports, &field) < 0) {
		resp = fail(field);
		goto out;
	}
	if (sub.tree) {
		resp = submit_run(a, st, &sub, commit, ports, who);
		goto out;
	}
	struct queue_request qr = {
		.image = sub.image,
		.recipes = sub.recipes,
		.nrecipes = sub.nrecipes,
		.priority = sub.priority,
		.timeout = sub.timeout,
		.requested_by = who,
	};
	n = 1;
	ids = xcalloc(n, sizeof(*ids));
	rc = queue_submit(st->db, &qr, a->cfg.queue_max, ids);
	if (rc < 0) {
		resp = fail(NULL);
		goto out;
	}
	if (rc > 0) {
		resp = queue_full(a);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (write_inputs(st, ids[i], &sub, &names) < 0 ||
		    queue_commit(st->db, ids[i], names) < 0) {
			char *msg = xstrdup(mf_error_msg());
			for (size_t j = i; j < n; j++)
				builds_finish(st->db, ids[j], BUILD_INFRA_ERROR, -1, msg);
			mf_error(MF_E_INFRA, "build %lld: %s", (long long)ids[i], msg);
			free(msg);
			resp = fail(NULL);
			goto out;
		}
		free(names);
		names = NULL;
	}
	scheduler_wake(a->sched);
	log_info("build %lld queued by %s: image %s, %zu recipe%s, %zu input%s, "
		 "priority %d", (long long)ids[0], who, sub.image, sub.nrecipes,
		 sub.nrecipes == 1 ? "" : "s", sub.ninputs, sub.ninputs == 1 ? "" : "s",
		 sub.priority);
	resp = json_response(202, accepted_json(ids, n, NULL, NULL, 0));
	char url[64];
	snprintf(url, sizeof(url), "/api/v1/builds/%lld", (long long)ids[0]);
	http_response_header(resp, "Location", url);
out:
	free(ids);
	mf_strv_free(ports);
	free(field);
	free(names);
	image_free(img);
	wire_submission_release(&sub);
	return resp;
}

static struct http_response *list(struct api *a, const struct http_request *req)
{
	struct mf_state *st = thread_state(a);
	const char *q = http_query(req, "status"), *lim = http_query(req, "limit");
	char *statuses[9] = { 0 }, *copy = NULL, *save = NULL;
	struct build_record **v = NULL;
	size_t n = 0, k = 0;
	long limit = 100;
	struct http_response *resp;

	if (!st)
		return fail(NULL);
	if (lim) {
		char *end;
		limit = strtol(lim, &end, 10);
		if (!*lim || *end || limit < 1 || limit > 10000)
			return error_response(400, "limit must be a whole number from 1 to 10000",
					      "limit");
	}
	if (q) {
		copy = xstrdup(q);
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (!build_status_valid(t) || k == 8) {
				char *msg = xasprintf("unknown status '%.40s' (known: accepted, "
						      "queued, running, succeeded, failed, "
						      "infra_error, timed_out, cancelled)", t);
				resp = error_response(400, msg, "status");
				free(msg);
				free(copy);
				return resp;
			}
			statuses[k++] = t;
		}
	}
	if (builds_list(st->db, q ? (const char *const *)statuses : NULL, (int)limit,
			&v, &n) < 0)
		resp = fail(NULL);
	else
		resp = json_response(200, report_records_json(v, n));
	build_records_free(v, n);
	free(copy);
	return resp;
}

static struct http_response *show(struct api *a, int64_t id)
{
	struct mf_state *st = thread_state(a);
	struct build_record *r = NULL;
	struct http_response *resp;

	if (!st)
		return fail(NULL);
	if (builds_get(st->db, id, &r) < 0)
		return mf_error_class() == MF_E_USAGE ? error_response(404, mf_error_msg(), NULL) :
							fail(NULL);
	resp = json_response(200, report_record_json(r));
	build_record_free(r);
	return resp;
}

static struct http_response *cancel(struct api *a, int64_t id)
{
	struct mf_state *st = thread_state(a);
	struct http_response *resp;
	char *state = NULL, *body;

	if (!st)
		return fail(NULL);
	int rc = queue_cancel(st->db, id, &state);
	if (rc < 0)
		return mf_error_class() == MF_E_USAGE ? error_response(404, mf_error_msg(), NULL) :
							fail(NULL);
	if (!strcmp(state, "cancelling"))
		scheduler_cancel(a->sched, id);
	else if (rc == 0 && buildrun_build_changed(st, id, NULL) < 0)
		log_warnx("build %lld: %s", (long long)id, mf_error_msg());
	if (rc > 0) {
		char *msg = xasprintf("build %lld has already finished (%s)", (long long)id, state);
		resp = error_response(409, msg, NULL);
		free(msg);
	} else {
		log_info("build %lld: %s on request", (long long)id, state);
		body = xasprintf("{\"id\": %lld, \"status\": \"%s\"}\n", (long long)id, state);
		resp = json_response(200, body);
	}
	free(state);
	return resp;
}

/* A log being followed: read what is there, wait for more until the build ends. */
struct follow {
	struct api *a;
	int64_t id;
	char *path;
	int fd;
};

static int build_over(struct api *a, int64_t id)
{
	struct mf_state *st = thread_state(a);
	struct build_record *r = NULL;
	int over;

	if (!st || builds_get(st->db, id, &r) < 0)
		return 1;
	over = strcmp(r->status, "queued") && strcmp(r->status, "running") &&
	       strcmp(r->status, "accepted");
	build_record_free(r);
	return over;
}

/* Never blocks: HTTP_STREAM_WAIT while the build runs and its log has nothing new. */
static ssize_t follow_read(void *arg, char *buf, size_t max)
{
	struct follow *f = arg;
	ssize_t n;

	if (f->fd < 0)
		f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (f->fd >= 0) {
		do
			n = read(f->fd, buf, max);
		while (n < 0 && errno == EINTR);
		if (n != 0)
			return n < 0 ? -1 : n;
	}
	/* Nothing new: done if mayflyd stops or the build is over (then read once more). */
	if (!f->a->accepting)
		return 0;
	if (!build_over(f->a, f->id))
		return HTTP_STREAM_WAIT;
	n = f->fd >= 0 ? read(f->fd, buf, max) : 0;
	return n > 0 ? n : 0;
}

static void follow_free(void *arg)
{
	struct follow *f = arg;

	if (f->fd >= 0)
		close(f->fd);
	free(f->path);
	free(f);
}

static struct http_response *log_of(struct api *a, const struct http_request *req, int64_t id)
{
	struct mf_state *st = thread_state(a);
	struct build_record *r = NULL;
	struct http_response *resp;
	const char *follow = http_query(req, "follow");
	char *path;

	if (!st)
		return fail(NULL);
	if (builds_get(st->db, id, &r) < 0)
		return mf_error_class() == MF_E_USAGE ? error_response(404, mf_error_msg(), NULL) :
							fail(NULL);
	path = xasprintf("%s/%lld/build.log", st->builds_dir, (long long)id);
	build_record_free(r);
	if (follow && strcmp(follow, "0")) {
		struct follow *f = xcalloc(1, sizeof(*f));
		f->a = a;
		f->id = id;
		f->path = path;
		f->fd = -1;
		return http_respond_stream(200, "text/plain; charset=utf-8", follow_read,
					   follow_free, f);
	}
	resp = http_respond_file(200, "text/plain; charset=utf-8", path, -1);
	if (!resp) /* not started yet: no log so far */
		resp = http_respond(200, "text/plain; charset=utf-8", "");
	free(path);
	return resp;
}

static struct http_response *package(struct api *a, int64_t id, const char *name)
{
	struct mf_state *st = thread_state(a);
	struct build_record *r = NULL;
	struct http_response *resp = NULL;

	if (!st)
		return fail(NULL);
	if (builds_get(st->db, id, &r) < 0)
		return mf_error_class() == MF_E_USAGE ? error_response(404, mf_error_msg(), NULL) :
							fail(NULL);
	/* Only names the build recorded: a request never builds a path. */
	for (size_t i = 0; i < r->npackages; i++) {
		if (strcmp(r->packages[i].name, name))
			continue;
		resp = http_respond_file(200, "application/octet-stream", r->packages[i].path,
					 (int64_t)r->packages[i].size);
		if (!resp) {
			log_warnx("build %lld: package %s: %s", (long long)id, name, mf_error_msg());
			resp = error_response(410, "the package file is gone from the server, or "
					      "changed since it was harvested", NULL);
		}
		else {
			char *cd = xasprintf("attachment; filename=\"%s\"", name);
			http_response_header(resp, "Content-Disposition", cd);
			free(cd);
		}
		break;
	}
	if (!resp) {
		char *msg = xasprintf("build %lld has no package '%.100s'", (long long)id, name);
		resp = error_response(404, msg, NULL);
		free(msg);
	}
	build_record_free(r);
	return resp;
}

/* A pull request: its head, its run and the packages only it can fetch. */
static struct http_response *pull_request(struct api *a, const char *tree, int64_t number)
{
	struct mf_state *st = thread_state(a);
	struct db_stmt *q;
	struct buildrun *r = NULL;
	struct report_pr_package *v = NULL;
	struct build_record **recs = NULL;
	size_t n = 0, nrecs = 0;
	char *head = NULL, *state = NULL, *author = NULL, *json;
	int64_t run = 0;

	if (!st)
		return fail(NULL);
	if (db_prepare(st->db, &q, "SELECT head_sha, state, author, buildrun FROM pull_requests"
				   " WHERE tree = ? AND number = ?") < 0)
		return fail(NULL);
	db_bind_text(q, 1, tree);
	db_bind_int(q, 2, number);
	if (db_step(q) == 1) {
		head = xstrdup(db_col_text(q, 0));
		state = xstrdup(db_col_text(q, 1));
		author = xstrdup(db_col_text(q, 2));
		run = db_col_is_null(q, 3) ? 0 : db_col_int(q, 3);
	}
	db_finalize(q);
	if (!head) {
		char *msg = xasprintf("tree '%.64s' has no pull request %lld", tree,
				      (long long)number);
		struct http_response *resp = error_response(404, msg, NULL);
		free(msg);
		return resp;
	}
	if (run && buildruns_get(st->db, run, &r) == 0) {
		for (size_t i = 0; i < r->nports; i++) {
			struct build_record *rec = NULL;
			if (!r->ports[i].build_id || builds_get(st->db, r->ports[i].build_id, &rec) < 0)
				continue;
			recs = xrealloc(recs, (nrecs + 1) * sizeof(*recs));
			recs[nrecs++] = rec;
			for (size_t k = 0; k < rec->npackages; k++) {
				v = xrealloc(v, (n + 1) * sizeof(*v));
				v[n].build = rec->id;
				v[n++].name = rec->packages[k].name;
			}
		}
	}
	json = report_pr_json(tree, number, head, state, author, run, r ? r->status : NULL, v, n);
	for (size_t i = 0; i < nrecs; i++)
		build_record_free(recs[i]);
	free(recs);
	free(v);
	buildrun_free(r);
	free(head);
	free(state);
	free(author);
	return json_response(200, json);
}

static struct http_response *images(struct api *a)
{
	struct mf_state *st = thread_state(a);
	struct image **v = NULL;
	size_t n = 0;
	struct http_response *resp;

	if (!st || images_list(st->db, &v, &n) < 0)
		return fail(NULL);
	resp = json_response(200, report_images_json(v, n));
	images_list_free(v, n);
	return resp;
}

/* The build runs, newest first, or one with its ports (as vmctl buildrun shows them). */
static struct http_response *buildruns(struct api *a)
{
	struct mf_state *st = thread_state(a);
	struct buildrun **v = NULL;
	size_t n = 0;
	struct http_response *resp;

	if (!st || buildruns_list(st->db, 0, &v, &n) < 0)
		return fail(NULL);
	resp = json_response(200, report_buildruns_json(v, n));
	buildruns_list_free(v, n);
	return resp;
}

static struct http_response *buildrun(struct api *a, int64_t id)
{
	struct mf_state *st = thread_state(a);
	struct buildrun *r = NULL;
	struct http_response *resp;

	if (!st)
		return fail(NULL);
	if (buildruns_get(st->db, id, &r) < 0)
		return mf_error_class() == MF_E_USAGE ? error_response(404, mf_error_msg(), NULL) :
							fail(NULL);
	resp = json_response(200, report_buildrun_json(r));
	buildrun_free(r);
	return resp;
}

/* --- routing */

static int parse_id(const char *s, const char **rest, int64_t *id)
{
	int64_t v = 0;
	const char *p = s;

	if (*p < '1' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (*p && *p != '/')
		return -1;
	*id = v;
	*rest = p;
	return 0;
}

static struct http_response *not_allowed(const char *allow)
{
	struct http_response *r = error_response(405, "method not allowed", NULL);

	http_response_header(r, "Allow", allow);
	return r;
}

static const char *request_header(void *ctx, const char *name)
{
	return http_header(ctx, name);
}

static struct http_response *route(void *app, const struct http_request *req)
{
	struct api *a = app;
	const char *p = req->path, *rest;
	int get = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");
	int post = !strcmp(req->method, "POST");
	struct http_response *resp;
	char *who = NULL;
	int64_t id;

	mf_error_clear();
	if (!strcmp(p, "/healthz"))
		return get ? health(a) : not_allowed("GET");
	if (strncmp(p, "/api/v1/", 8))
		return error_response(404, "no such route", NULL);
	/* Forges prove themselves by their signature (hooks.c), not a token. */
	if (!strncmp(p, "/api/v1/hooks/", 14)) {
		char forge[16], tree[128];
		const char *f = p + 14, *slash = strchr(f, '/');
		if (!slash || (size_t)(slash - f) >= sizeof(forge) || !slash[1] ||
		    strchr(slash + 1, '/') || strlen(slash + 1) >= sizeof(tree))
			return error_response(404, "no such route", NULL);
		if (!post)
			return not_allowed("POST");
		snprintf(forge, sizeof(forge), "%.*s", (int)(slash - f), f);
		snprintf(tree, sizeof(tree), "%s", slash + 1);
		struct mf_state *st = thread_state(a);
		char *json = NULL;
		if (!st)
			return fail(NULL);
		struct hook_request hr = { .body = req->body, .len = req->body_len,
					   .header = request_header, .ctx = (void *)req };
		int status = hooks_receive(st, &a->cfg, forge, tree, &hr, &json);
		return json_response(status, json);
	}
	if (!authorized(a, req, &who)) {
		resp = error_response(401, "missing or unknown token (Authorization: Bearer TOKEN)",
				      NULL);
		http_response_header(resp, "WWW-Authenticate", "Bearer realm=\"mayfly\"");
		return resp;
	}
	p += 8;
	if (!strcmp(p, "builds")) {
		resp = post ? submit(a, req, who) : get ? list(a, req) : not_allowed("GET, POST");
	} else if (!strcmp(p, "images")) {
		resp = get ? images(a) : not_allowed("GET");
	} else if (!strcmp(p, "buildruns")) {
		resp = get ? buildruns(a) : not_allowed("GET");
	} else if (!strncmp(p, "prs/", 4) && strchr(p + 4, '/') &&
		   parse_id(strchr(p + 4, '/') + 1, &rest, &id) == 0 && !*rest) {
		char tree[128];
		snprintf(tree, sizeof(tree), "%.*s", (int)(strchr(p + 4, '/') - p - 4), p + 4);
		resp = !get ? not_allowed("GET") : name_check_tree(tree) < 0 ?
			error_response(404, mf_error_msg(), NULL) : pull_request(a, tree, id);
	} else if (!strncmp(p, "buildruns/", 10) && parse_id(p + 10, &rest, &id) == 0 && !*rest) {
		resp = get ? buildrun(a, id) : not_allowed("GET");
	} else if (!strncmp(p, "builds/", 7) && parse_id(p + 7, &rest, &id) == 0) {
		if (!*rest)
			resp = get ? show(a, id) : not_allowed("GET");
		else if (!strcmp(rest, "/cancel"))
			resp = post ? cancel(a, id) : not_allowed("POST");
		else if (!strcmp(rest, "/log"))
			resp = get ? log_of(a, req, id) : not_allowed("GET");
		else if (!strncmp(rest, "/packages/", 10) && rest[10] && !strchr(rest + 10, '/'))
			resp = get ? package(a, id, rest + 10) : not_allowed("GET");
		else
			resp = error_response(404, "no such route", NULL);
	} else {
		resp = error_response(404, "no such route", NULL);
	}
	free(who);
	return resp;
}

int api_start(struct api **out, const struct mf_config *cfg, struct scheduler *sched,
	      int *port)
{
	struct api *a = xcalloc(1, sizeof(*a));

	*out = NULL;
	config_copy(&a->cfg, cfg);
	a->sched = sched;
	a->accepting = 1;
	pthread_mutex_init(&a->tokens_lock, NULL);
	pthread_key_create(&a->state_key, free_thread_state);
	struct http_opts ho = {
		.listen = cfg->listen,
		.max_body = (size_t)cfg->max_request_mb << 20,
		.max_connections = (unsigned)cfg->max_connections,
		.threads = API_THREADS,
		.header_timeout = cfg->header_timeout,
	};
	if (api_reload_tokens(a) < 0 || http_start(&a->http, &ho, route, a) < 0) {
		api_stop(a);
		return -1;
	}
	*port = http_port(a->http);
	*out = a;
	return 0;
}

void api_stop_accepting(struct api *a)
{
	a->accepting = 0;
}

void api_stop(struct api *a)
{
	if (!a)
		return;
	a->accepting = 0;
	http_stop(a->http);
	pthread_key_delete(a->state_key);
	tokens_free(a->tokens);
	pthread_mutex_destroy(&a->tokens_lock);
	config_release(&a->cfg);
	free(a);
}
