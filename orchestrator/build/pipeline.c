/* pipeline.c - see pipeline.h. One build, read top to bottom. */
#include "build/pipeline.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/registry.h"
#include "machine/ctx.h"
#include "store/db.h"
#include "common/error.h"
#include "machine/guest.h"
#include "common/log.h"
#include "machine/machine.h"
#include "json/report.h"
#include "store/state.h"
#include "common/strbuf.h"
#include "common/template.h"
#include "common/util.h"

/* Everything one running build needs; lives on pipeline_run()'s stack. */
struct build {
	struct mf_ctx *ctx;
	const struct build_request *req;
	const struct build_events *ev;
	struct build_result *res;
	struct image *img;
	struct buildlog *log;
	struct machine *machine;
	char *command;		/* the expanded build command */
	char **input_names;	/* basenames on the guest */
	struct guest_file *before; /* packages dir after the push */
	size_t nbefore;
	int64_t run_deadline;	/* 0 outside the run phase */
	int64_t last_output;	/* during the run phase, for the idle limit */
};

void build_result_release(struct build_result *r)
{
	free(r->image);
	free(r->error);
	for (size_t i = 0; i < r->npackages; i++) {
		free(r->packages[i].name);
		free(r->packages[i].path);
	}
	free(r->packages);
	free(r->log_path);
	free(r->console_path);
	free(r->out_dir);
	memset(r, 0, sizeof(*r));
}

int pipeline_exit_code(const struct build_result *r)
{
	switch (r->status) {
	case BUILD_SUCCEEDED:
		return 0;
	case BUILD_FAILED:
		return 1;
	case BUILD_TIMED_OUT:
		return 4;
	case BUILD_CANCELLED:
		return 130;
	case BUILD_RUNNING:
	case BUILD_INFRA_ERROR:
		break;
	}
	return 3;
}

static void record_phase(struct build *b, const char *name, int64_t ms)
{
	struct build_result *r = b->res;

	if (r->nphases < BUILD_MAX_PHASES) {
		struct build_phase *p = &r->phases[r->nphases];
		snprintf(p->name, sizeof(p->name), "%s", name);
		p->duration_ms = ms;
		if (builds_add_phase(b->ctx->state->db, r->id, (int)r->nphases, p) < 0)
			log_warnx("%s", mf_error_msg());
		r->nphases++;
	}
	if (b->ev && b->ev->phase)
		b->ev->phase(b->ev->payload, name, ms);
}

static void machine_phase(void *payload, const char *name, int64_t ms)
{
	record_phase(payload, name, ms);
}

static void phase_end(struct build *b, const char *name, int64_t start)
{
	int64_t ms = mf_now_ms() - start;

	buildlog_event(b->log, "%s done in %lld ms", name, (long long)ms);
	record_phase(b, name, ms);
}

/* Called between chunks of work: cancellation and the run phase's limit. */
static int tick(void *payload)
{
	struct build *b = payload;

	if (b->req->cancel && *b->req->cancel)
		return mf_error(MF_E_INTERRUPTED, "interrupted");
	if (b->run_deadline) {
		int64_t now = mf_now_ms();
		if (now >= b->run_deadline)
			return mf_error(MF_E_TIMEOUT, "the build exceeded its time limit");
		if (b->req->idle_timeout_s &&
		    now - b->last_output >= (int64_t)b->req->idle_timeout_s * 1000)
			return mf_error(MF_E_TIMEOUT, "the build printed nothing for %d s (idle "
					"timeout): hung?", b->req->idle_timeout_s);
	}
	return 0;
}

static void output(void *payload, int stream, const char *data, size_t len)
{
	struct build *b = payload;

	b->last_output = mf_now_ms();
	buildlog_output(b->log, data, len);
	if (b->ev && b->ev->output)
		b->ev->output(b->ev->payload, stream, data, len);
}

/* Everything that can be checked before a machine exists. */
static int validate(struct build *b)
{
	const struct build_request *req = b->req;
	struct template_vars vars = {
		.recipes = req->recipes,
		.nrecipes = req->nrecipes,
	};
	struct strbuf cmd = STRBUF_INIT;

	if (req->nrecipes == 0)
		return mf_error(MF_E_USAGE, "no recipe given");
	for (size_t i = 0; i < req->nrecipes; i++)
		if (recipe_name_check(req->recipes[i]) < 0)
			return -1;
	if (registry_get(b->ctx, req->image, &b->img) < 0 || registry_check_usable(b->img) < 0)
		return -1;
	vars.packages_dir = b->img->settings.packages_dir;
	if (template_expand(&cmd, b->img->settings.build_command, &vars) < 0) {
		strbuf_release(&cmd);
		return mf_error_wrap("image '%s'", b->img->name);
	}
	b->command = strbuf_detach(&cmd);
	b->input_names = xcalloc(req->ninputs + 1, sizeof(char *));
	for (size_t i = 0; i < req->ninputs; i++) {
		struct stat st;
		char *copy = xstrdup(req->inputs[i]);
		b->input_names[i] = xstrdup(basename(copy));
		free(copy);
		if (stat(req->inputs[i], &st) < 0)
			return mf_error_errno(MF_E_USAGE, "input '%s'", req->inputs[i]);
		if (!S_ISREG(st.st_mode))
			return mf_error(MF_E_USAGE, "input '%s' is not a regular file",
					req->inputs[i]);
		if (access(req->inputs[i], R_OK) < 0)
			return mf_error_errno(MF_E_USAGE, "input '%s'", req->inputs[i]);
		if (input_name_check(b->input_names[i]) < 0)
			return mf_error_wrap("input '%s'", req->inputs[i]);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(b->input_names[i], b->input_names[j]))
				return mf_error(MF_E_USAGE, "inputs '%s' and '%s' have the same name",
						req->inputs[j], req->inputs[i]);
	}
	if (req->out_dir && mf_mkdir_p(req->out_dir, 0755) < 0)
		return mf_error_wrap("--out");
	if (req->timeout_s < 0)
		return mf_error(MF_E_USAGE, "the timeout must not be negative");
	return 0;
}

static char *remote_path(const struct build *b, const char *name)
{
	const char *dir = b->img->settings.packages_dir;
	size_t len = strlen(dir);

	return xasprintf("%s%s%s", dir, len && dir[len - 1] == '/' ? "" : "/", name);
}

/* push: inputs into the packages dir, then the listing that harvest diffs against. */
static int push(struct build *b)
{
	struct guest *g = b->machine->guest;

	if (guest_check_dir(g, b->img->settings.packages_dir) < 0)
		return mf_error_wrap("the image's packages directory");
	buildlog_event(b->log, "SFTP ready");
	for (size_t i = 0; i < b->req->ninputs; i++) {
		char *remote = remote_path(b, b->input_names[i]);
		int rc = guest_put(g, b->req->inputs[i], remote, tick, b);
		if (rc == 0)
			buildlog_event(b->log, "uploaded %s to %s", b->req->inputs[i], remote);
		free(remote);
		if (rc < 0)
			return -1;
	}
	return guest_list(g, b->img->settings.packages_dir, &b->before, &b->nbefore);
}

/* run: the build command, output streamed; its status decides the build. */
static int run(struct build *b, int *exit_status)
{
	struct guest_exec_hooks hooks = { output, tick, b };
	int timeout = b->req->timeout_s ? b->req->timeout_s : b->ctx->cfg.build_timeout;
	int rc;

	buildlog_event(b->log, "running: %s", b->command);
	b->last_output = mf_now_ms();
	b->run_deadline = b->last_output + (int64_t)timeout * 1000;
	rc = guest_exec(b->machine->guest, b->command, &hooks, exit_status);
	b->run_deadline = 0;
	if (rc < 0 && mf_error_class() == MF_E_TIMEOUT && !strstr(mf_error_msg(), "idle"))
		return mf_error(MF_E_TIMEOUT, "the build exceeded its time limit of %d s", timeout);
	return rc;
}

static int is_new(const struct build *b, const struct guest_file *f)
{
	for (size_t i = 0; i < b->nbefore; i++)
		if (!strcmp(b->before[i].name, f->name))
			return b->before[i].size != f->size || b->before[i].mtime != f->mtime;
	return 1;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct guest_file *)a)->name, ((const struct guest_file *)b)->name);
}

/* harvest: the files that appeared or changed during the build, by name. */
static int harvest(struct build *b)
{
	struct build_result *r = b->res;
	struct guest_file *after = NULL;
	size_t nafter = 0;
	int ret = -1;

	if (guest_list(b->machine->guest, b->img->settings.packages_dir, &after, &nafter) < 0)
		return -1;
	qsort(after, nafter, sizeof(*after), by_name);
	for (size_t i = 0; i < nafter; i++) {
		if (!after[i].regular || !is_new(b, &after[i]))
			continue;
		if (input_name_check(after[i].name) < 0) {
			buildlog_event(b->log, "skipping a file: %s", mf_error_msg());
			mf_error_clear();
			continue;
		}
		struct build_package p = { 0 };
		char *remote = remote_path(b, after[i].name);
		p.name = xstrdup(after[i].name);
		p.path = xasprintf("%s/%s", r->out_dir, after[i].name);
		int rc = guest_get(b->machine->guest, remote, p.path, &p.size, p.sha256, tick, b);
		free(remote);
		if (rc < 0) {
			free(p.name);
			free(p.path);
			goto out;
		}
		buildlog_event(b->log, "harvested %s (%llu bytes, sha256 %s)", p.name,
			       (unsigned long long)p.size, p.sha256);
		if (builds_add_package(b->ctx->state->db, r->id, &p) < 0)
			log_warnx("%s", mf_error_msg());
		r->packages = xrealloc(r->packages, (r->npackages + 1) * sizeof(p));
		r->packages[r->npackages++] = p;
	}
	ret = 0;
out:
	guest_files_free(after, nafter);
	return ret;
}

/* The status a failure of the current step means. */
static enum build_status failure_status(void)
{
	switch (mf_error_class()) {
	case MF_E_INTERRUPTED:
		return BUILD_CANCELLED;
	case MF_E_TIMEOUT:
		return BUILD_TIMED_OUT;
	default:
		return BUILD_INFRA_ERROR;
	}
}

/* Records a failed step: its status, its error and, if named, its duration. */
static void fail(struct build *b, const char *phase, int64_t start)
{
	b->res->status = failure_status();
	free(b->res->error);
	b->res->error = phase ? xasprintf("%s: %s", phase, mf_error_msg()) :
				xstrdup(mf_error_msg());
	buildlog_event(b->log, "failed: %s", b->res->error);
	if (phase)
		record_phase(b, phase, mf_now_ms() - start);
}

/* The steps inside a running machine; the caller destroys it afterwards. */
static void build_in_machine(struct build *b)
{
	struct build_result *r = b->res;
	int64_t t;
	int status;

	t = mf_now_ms();
	if (push(b) < 0) {
		fail(b, "push", t);
		return;
	}
	phase_end(b, "push", t);

	t = mf_now_ms();
	if (run(b, &status) < 0) {
		fail(b, "run", t);
		return;
	}
	phase_end(b, "run", t);
	r->exit_code = status;
	if (status != 0) {
		r->status = BUILD_FAILED;
		r->error = xasprintf("the build command exited with status %d", status);
		buildlog_event(b->log, "%s", r->error);
		return;
	}

	t = mf_now_ms();
	if (harvest(b) < 0) {
		fail(b, "harvest", t);
		return;
	}
	phase_end(b, "harvest", t);
	r->status = BUILD_SUCCEEDED;
}

/* Forgets what an earlier attempt of the build recorded. */
static int reset_attempt(struct mf_state *st, int64_t id)
{
	if (db_execf(st->db, "DELETE FROM phases WHERE build_id = ?", "i", id) < 0)
		return -1;
	return db_execf(st->db, "DELETE FROM packages WHERE build_id = ?", "i", id);
}

static int open_build(struct build *b)
{
	struct mf_state *st = b->ctx->state;
	struct build_result *r = b->res;
	struct strbuf recipes = STRBUF_INIT;
	char *dir = NULL;
	int ret = -1;

	for (size_t i = 0; i < b->req->nrecipes; i++)
		strbuf_addf(&recipes, "%s%s", i ? " " : "", b->req->recipes[i]);
	if (b->req->build_id) {
		r->id = b->req->build_id;
		if (reset_attempt(st, r->id) < 0)
			goto out;
	} else if (builds_create(st->db, b->img->name, recipes.buf, &r->id) < 0) {
		goto out;
	}
	dir = state_build_dir(st, r->id);
	r->log_path = xasprintf("%s/build.log", dir);
	r->console_path = xasprintf("%s/console.log", dir);
	r->out_dir = b->req->out_dir ? mf_realpath(b->req->out_dir) :
				       xasprintf("%s/packages", dir);
	if (!r->out_dir || mf_mkdir_p(dir, 0755) < 0 || mf_mkdir_p(r->out_dir, 0755) < 0 ||
	    buildlog_open(&b->log, r->log_path, b->req->attempt > 1) < 0 ||
	    builds_set_paths(st->db, r->id, r->log_path, r->out_dir) < 0) {
		if (!b->req->defer_finish)
			builds_finish(st->db, r->id, BUILD_INFRA_ERROR, -1, mf_error_msg());
		goto out;
	}
	if (b->req->attempt > 1)
		buildlog_event(b->log, "attempt %d of build %lld: image %s, recipes: %s",
			       b->req->attempt, (long long)r->id, b->img->name, recipes.buf);
	else
		buildlog_event(b->log, "build %lld: image %s, recipes: %s", (long long)r->id,
			       b->img->name, recipes.buf);
	ret = 0;
out:
	free(dir);
	strbuf_release(&recipes);
	return ret;
}

void pipeline_finish(struct mf_ctx *ctx, const struct build_result *r)
{
	char *json, *path;

	if (builds_finish(ctx->state->db, r->id, r->status, r->exit_code, r->error) < 0)
		log_warnx("%s", mf_error_msg());
	json = report_build_json(r);
	path = xasprintf("%s/%lld/result.json", ctx->state->builds_dir, (long long)r->id);
	if (mf_write_file_atomic(path, json, strlen(json), 0644) < 0)
		log_warnx("%s", mf_error_msg());
	free(path);
	free(json);
}

/* Counts machines that did not come up against the image (quarantine). */
static void note_boot(struct build *b, int ok)
{
	int q;

	if (!ok && mf_error_class() == MF_E_INTERRUPTED)
		return; /* the user's doing, not the image's */
	q = registry_boot_result(b->ctx, b->img->name, ok, b->ctx->cfg.quarantine_after,
				 ok ? NULL : b->res->error);
	if (q < 0)
		log_warnx("%s", mf_error_msg());
	else if (q > 0)
		buildlog_event(b->log, "image %s quarantined after %d machines in a row did not "
			       "come up", b->img->name, b->ctx->cfg.quarantine_after);
}

int pipeline_run(struct mf_ctx *ctx, const struct build_request *req,
		 const struct build_events *ev, struct build_result *out)
{
	struct build b = { .ctx = ctx, .req = req, .ev = ev, .res = out };
	int64_t start = mf_now_ms(), t;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	out->exit_code = -1;
	out->status = BUILD_RUNNING;
	if (validate(&b) < 0)
		goto out;
	out->image = xstrdup(b.img->name);
	if (open_build(&b) < 0)
		goto out;
	if (ev && ev->started)
		ev->started(ev->payload, out->id, out->log_path);

	/* Each attempt gets its own names: a failed cleanup never blocks a retry. */
	char tag[48];
	if (req->attempt > 1)
		snprintf(tag, sizeof(tag), "b%lld-a%d", (long long)out->id, req->attempt);
	else
		snprintf(tag, sizeof(tag), "b%lld", (long long)out->id);
	struct machine_spec spec = {
		.tag = tag,
		.build_id = out->id,
		.golden_path = b.img->path,
		.capacity = b.img->virtual_size,
		.memory_mib = b.img->settings.memory_mib,
		.vcpus = b.img->settings.vcpus,
		.disk_bus = b.img->settings.disk_bus,
		.console_path = out->console_path,
		.login = {
			.user = b.img->settings.ssh_user,
			.key_path = b.img->settings.ssh_key,
			.pinned_key = b.img->host_key,
			.timeout_s = 60,
		},
		.boot_timeout_s = b.img->settings.boot_timeout,
		.cancel = req->cancel,
		.log = b.log,
		.phase = machine_phase,
		.payload = &b,
	};
	if (machine_up(ctx, &spec, &b.machine) < 0) {
		fail(&b, NULL, 0);
		note_boot(&b, 0);
	} else {
		note_boot(&b, 1);
		build_in_machine(&b);
	}

	t = mf_now_ms();
	if (machine_down(b.machine) < 0) {
		char *why = xasprintf("the machine could not be destroyed: %s", mf_error_msg());
		out->status = BUILD_INFRA_ERROR;
		free(out->error);
		out->error = why;
	} else {
		phase_end(&b, "destroy", t);
	}
	b.machine = NULL;
	out->duration_ms = mf_now_ms() - start;
	buildlog_event(b.log, "build %lld %s in %lld ms", (long long)out->id,
		       build_status_name(out->status), (long long)out->duration_ms);
	if (!req->defer_finish)
		pipeline_finish(ctx, out);
	ret = 0;
out:
	buildlog_close(b.log);
	guest_files_free(b.before, b.nbefore);
	mf_strv_free(b.input_names);
	free(b.command);
	image_free(b.img);
	return ret;
}
