/*
 * cmd-build-remote.c - vmctl build with --url: submit to mayflyd, follow the
 * log, report the outcome (and fetch the packages with --out).
 */
#include <errno.h>
#include <libgen.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/builds.h"
#include "common/crypto.h"
#include "common/names.h"
#include "common/util.h"
#include "json/wire.h"
#include "vmctl/client.h"
#include "vmctl/vmctl.h"

struct options {
	int json, no_wait;
	const char *out_dir;
	FILE *out;
};

static int read_inputs(struct wire_submission *s, char **files, size_t n)
{
	s->inputs = xcalloc(n + 1, sizeof(*s->inputs));
	for (size_t i = 0; i < n; i++) {
		char *copy = xstrdup(files[i]), *data = NULL;
		size_t len;
		const char *name = basename(copy);

		if (input_name_check(name) < 0) {
			mf_error_wrap("input '%s'", files[i]);
			free(copy);
			return -1;
		}
		if (mf_read_file(files[i], (size_t)1 << 31, &data, &len) < 0) {
			free(copy);
			return mf_error_wrap("input");
		}
		s->inputs[s->ninputs].name = xstrdup(name);
		s->inputs[s->ninputs].data = (unsigned char *)data;
		s->inputs[s->ninputs].len = len;
		s->ninputs++;
		free(copy);
	}
	return 0;
}

static void to_out(void *arg, const char *data, size_t len)
{
	struct options *o = arg;

	fwrite(data, 1, len, o->out);
	fflush(o->out);
}

static int fetch_record(struct client *c, long long id, char **json, struct build_record **r)
{
	char *path = xasprintf("/api/v1/builds/%lld", id);
	int ret = client_call(c, "GET", path, NULL, json);

	free(path);
	if (ret == 0 && wire_parse_record(*json, r) < 0) {
		free(*json);
		*json = NULL;
		return -1;
	}
	return ret;
}

/* After Ctrl-C: ask mayflyd to cancel, wait (30 s at most) for the end. */
static void cancel_remote(struct client *c, long long id)
{
	char *path = xasprintf("/api/v1/builds/%lld/cancel", id), *json = NULL;
	struct build_record *r = NULL;

	client_set_cancel(c, NULL);
	if (client_call(c, "POST", path, NULL, NULL) < 0)
		fprintf(stderr, "vmctl: could not cancel build %lld: %s\n", id, mf_error_msg());
	for (int i = 0; i < 150; i++) {
		if (fetch_record(c, id, &json, &r) < 0 ||
		    (strcmp(r->status, "running") && strcmp(r->status, "queued")))
			break;
		free(json);
		build_record_free(r);
		json = NULL;
		r = NULL;
		usleep(200000);
	}
	free(json);
	build_record_free(r);
	free(path);
}

/*
 * Downloads the packages and checks their sha256 against mayflyd's. Names
 * come from the server: they are checked like the server checks them, and
 * the download path is made here, not taken from the answer.
 */
static int download(struct client *c, const struct build_record *r, const char *dir)
{
	for (size_t i = 0; i < r->npackages; i++) {
		if (input_name_check(r->packages[i].name) < 0) {
			mf_error_wrap("mayflyd named a package of build %lld badly", (long long)r->id);
			return mf_error_reclass(MF_E_INFRA); /* the server's fault, not the user's */
		}
	}
	if (mf_mkdir_p(dir, 0755) < 0)
		return -1;
	for (size_t i = 0; i < r->npackages; i++) {
		const struct build_package *p = &r->packages[i];
		char *dest = xasprintf("%s/%s", dir, p->name), sha[SHA256_HEX_LEN];
		char *path = xasprintf("/api/v1/builds/%lld/packages/%s", (long long)r->id,
				       p->name);
		int rc = client_download(c, path, dest);
		free(path);
		if (rc == 0 && sha256_file(dest, sha, NULL) == 0 && strcmp(sha, p->sha256)) {
			unlink(dest);
			rc = mf_error(MF_E_INFRA, "%s arrived damaged (sha256 %s, not %s)", p->name,
				      sha, p->sha256);
		}
		if (rc == 0)
			fprintf(stderr, "    fetched %s\n", dest);
		free(dest);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* Follows one build to its end, reports it, fetches its packages; its exit status. */
static int follow(struct client *c, int64_t id, struct options *o)
{
	struct build_record *r = NULL;
	char *json = NULL, *path;
	int status;

	path = xasprintf("/api/v1/builds/%lld/log?follow=1", (long long)id);
	if (client_stream(c, path, to_out, o) < 0) {
		free(path);
		if (mf_error_class() != MF_E_INTERRUPTED)
			return vmctl_fail();
		cancel_remote(c, id);
	} else {
		free(path);
	}
	client_set_cancel(c, NULL);
	if (fetch_record(c, id, &json, &r) < 0)
		return vmctl_fail();
	vmctl_print_record(stderr, r);
	status = vmctl_status_exit(r->status);
	if (o->out_dir && !strcmp(r->status, "succeeded") && download(c, r, o->out_dir) < 0)
		status = vmctl_fail();
	if (o->json)
		fputs(json, stdout);
	build_record_free(r);
	free(json);
	return status;
}

/* Interrupted: what this command queued and did not follow goes too. */
static void cancel_rest(struct client *c, const int64_t *ids, size_t n)
{
	client_set_cancel(c, NULL);
	for (size_t j = 0; j < n; j++) {
		char *path = xasprintf("/api/v1/builds/%lld/cancel", (long long)ids[j]);
		if (client_call(c, "POST", path, NULL, NULL) < 0)
			fprintf(stderr, "vmctl: could not cancel build %lld: %s\n",
				(long long)ids[j], mf_error_msg());
		else
			fprintf(stderr, "==> build %lld cancelled\n", (long long)ids[j]);
		free(path);
	}
}

/*
 * The rest of a build run: the builds queued after the first ones (as
 * their packages were made), each followed in turn, until the run ends;
 * ports lost without a build are reported (exit status 1).
 */
static int follow_run(struct client *c, int64_t run, const int64_t *done, size_t ndone,
		      struct options *o)
{
	int64_t *seen = xcalloc(ndone + 1, sizeof(*seen));
	size_t nseen = ndone;
	char *path = xasprintf("/api/v1/buildruns/%lld", (long long)run);
	int status = 0;

	memcpy(seen, done, ndone * sizeof(*seen));
	for (;;) {
		char *json = NULL;
		struct wire_run_port *v = NULL;
		size_t n = 0;
		int ended = 0, followed = 0;
		if (atomic_load(&vmctl_cancel)) {
			status = 130;
			break;
		}
		if (client_call(c, "GET", path, NULL, &json) < 0 ||
		    wire_parse_buildrun(json, &v, &n, &ended) < 0) {
			free(json);
			status = vmctl_fail();
			break;
		}
		free(json);
		for (size_t i = 0; i < n && !followed; i++) {
			size_t k;
			if (!v[i].build)
				continue;
			for (k = 0; k < nseen && seen[k] != v[i].build; k++)
				;
			if (k < nseen)
				continue;
			seen = xrealloc(seen, (nseen + 1) * sizeof(*seen));
			seen[nseen++] = v[i].build;
			fprintf(stderr, "==> build %lld: port %s\n", (long long)v[i].build, v[i].port);
			int rc = follow(c, v[i].build, o);
			if (status == 0)
				status = rc;
			followed = 1;
		}
		if (!followed && ended) {
			for (size_t i = 0; i < n; i++)
				if (!strcmp(v[i].state, "lost") || !strcmp(v[i].state, "skipped")) {
					fprintf(stderr, "==> port %s %s: %s\n", v[i].port, v[i].state,
						v[i].reason ? v[i].reason : "");
					if (status == 0 && !strcmp(v[i].state, "lost"))
						status = 1;
				}
			wire_run_ports_free(v, n);
			break;
		}
		wire_run_ports_free(v, n);
		if (!followed) {
			struct timespec ts = { 0, 500 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	free(path);
	free(seen);
	return status;
}

int cmd_build_remote(const struct vmctl_cmd *cmd, const struct build_args *a)
{
	struct options o = { .json = a->json, .no_wait = a->no_wait, .out_dir = a->out_dir,
			     .out = a->json ? stderr : stdout };
	struct wire_submission sub;
	struct client *c = NULL;
	char *body = NULL, *answer = NULL, ***names, **ports = NULL;
	int64_t *ids = NULL, run = 0;
	size_t nids = 0, *count;
	int status = 0;

	memset(&sub, 0, sizeof(sub));
	sub.timeout = a->timeout;
	if (a->priority && vmctl_parse_int(cmd, "--priority", a->priority, -WIRE_PRIORITY_MAX,
					   WIRE_PRIORITY_MAX, &sub.priority) < 0)
		return 2;
	sub.image = xstrdup(a->image);
	if (a->tree) {
		if (name_check_tree(a->tree) < 0 || (a->commit && rev_check(a->commit) < 0)) {
			status = vmctl_fail();
			goto out;
		}
		sub.tree = xstrdup(a->tree);
		sub.commit = a->commit ? xstrdup(a->commit) : NULL;
	}
	/* Recipes, or the ports of a tree: the same names either way. */
	names = a->tree ? &sub.ports : &sub.recipes;
	count = a->tree ? &sub.nports : &sub.nrecipes;
	*names = xcalloc(a->nrecipes + 1, sizeof(char *));
	for (size_t i = 0; i < a->nrecipes; i++) {
		if (recipe_name_check(a->recipes[i]) < 0) {
			status = vmctl_fail();
			goto out;
		}
		(*names)[(*count)++] = xstrdup(a->recipes[i]);
	}
	if (read_inputs(&sub, a->inputs, a->ninputs) < 0 || vmctl_client(&c) < 0) {
		status = vmctl_fail();
		goto out;
	}
	body = wire_submission_json(&sub);
	if (client_call(c, "POST", "/api/v1/builds", body, &answer) < 0 ||
	    (a->tree ? wire_parse_accepted(answer, &ids, &ports, &nids, &run) :
		       wire_parse_ids(answer, &ids, &nids)) < 0) {
		status = vmctl_fail();
		goto out;
	}
	if (run)
		fprintf(stderr, "==> build run %lld at %s (the ports it waits for are queued as "
			"their packages are made)\n", (long long)run, vmctl_url());
	for (size_t i = 0; i < nids; i++)
		fprintf(stderr, "==> build %lld queued at %s%s%s\n", (long long)ids[i], vmctl_url(),
			ports ? ": port " : "", ports ? ports[i] : "");
	if (o.no_wait) {
		if (o.json)
			fputs(answer, stdout);
		else
			for (size_t i = 0; i < nids; i++)
				printf("%lld\n", (long long)ids[i]);
		goto out;
	}
	/* Each in turn; the exit status is the first failure's. */
	for (size_t i = 0; i < nids; i++) {
		int rc;
		if (atomic_load(&vmctl_cancel)) {
			cancel_rest(c, ids + i, nids - i);
			status = status ? status : 130;
			goto out;
		}
		rc = follow(c, ids[i], &o);
		if (status == 0)
			status = rc;
	}
	if (run) {
		int rc = follow_run(c, run, ids, nids, &o);
		if (status == 0)
			status = rc;
	}
out:
	free(ids);
	mf_strv_free(ports);
	free(answer);
	free(body);
	wire_submission_release(&sub);
	client_close(c);
	return status;
}
