/* pipeline.c - see pipeline.h. One build, read top to bottom. */
#include "build/pipeline.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/builder.h"
#include "build/harvest.h"
#include "build/treesync.h"
#include "common/config.h"
#include "common/error.h"
#include "common/log.h"
#include "common/names.h"
#include "common/strbuf.h"
#include "common/template.h"
#include "common/util.h"
#include "json/report.h"
#include "images/images.h"
#include "machine/guest.h"
#include "machine/machine.h"
#include "pkg/hpkg.h"
#include "ports/port.h"
#include "ports/resolve.h"
#include "ports/sources.h"
#include "ports/tree.h"
#include "publish/publish.h"
#include "store/db.h"
#include "store/images.h"
#include "store/pkgindex.h"
#include "store/snapshots.h"
#include "store/state.h"
#include "store/trees.h"

/* Everything one running build needs; lives on pipeline_run()'s stack. */
struct build {
	const struct build_env *env;
	struct mf_state *st;
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
	int idle;		/* the idle limit ended the run */
	int log_full;		/* the output reached the log's cap */
	/* A port of a ports tree at a commit: */
	struct tree *tree;
	struct mirror *mirror;
	char commit[MIRROR_ID_LEN];
	struct port_index *index;
	struct port *port;
	char **expect;		/* the package files it must make (NULL-terminated) */
	struct source_file *sources;
	size_t nsources;
	struct given *given;	/* the packages the build is given */
	size_t ngiven;
};

/* A package a port's build is given in its packages directory. */
struct given {
	char *file;		/* canonical name: name-version-arch.hpkg */
	char *guest_path;	/* a system package: linked to, never uploaded */
	char *host_path;	/* else uploaded from here */
};

static void record_phase(struct build *b, const char *name, int64_t ms)
{
	struct build_result *r = b->res;

	if (r->nphases < BUILD_MAX_PHASES) {
		struct build_phase *p = &r->phases[r->nphases];
		snprintf(p->name, sizeof(p->name), "%s", name);
		p->duration_ms = ms;
		if (builds_add_phase(b->st->db, r->id, (int)r->nphases, p) < 0)
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
		    now - b->last_output >= (int64_t)b->req->idle_timeout_s * 1000) {
			b->idle = 1;
			return mf_error(MF_E_TIMEOUT, "the build printed nothing for %d s (idle "
					"timeout): hung?", b->req->idle_timeout_s);
		}
	}
	if (b->log_full)
		return mf_error(MF_E_BUILD, "the build's output passed the log's limit of %llu "
				"MiB (max_log_mb); the log keeps its beginning",
				(unsigned long long)(b->env->max_log_bytes >> 20));
	return 0;
}

static void output(void *payload, int stream, const char *data, size_t len)
{
	struct build *b = payload;

	b->last_output = mf_now_ms();
	if (buildlog_output(b->log, data, len) < 0)
		b->log_full = 1;
	if (b->ev && b->ev->output)
		b->ev->output(b->ev->payload, stream, data, len);
}

/* A port of a tree at a commit: resolved, evaluated, its packages named. */
static int validate_port(struct build *b)
{
	const struct build_request *req = b->req;
	const struct image_settings *s = &b->img->settings;
	struct recipe_env env;

	if (trees_get(b->st->db, req->tree, &b->tree) < 0 ||
	    tree_mirror(b->st, b->tree, &b->mirror) < 0)
		return -1;
	if (mirror_resolve(b->mirror, req->commit ? req->commit : "HEAD", b->commit) < 0)
		return mf_error_wrap("tree '%s'", req->tree);
	if (port_index_build(b->mirror, b->commit, &b->index) < 0)
		return -1;
	struct port_ctx pc;
	port_ctx_init(&pc, &env, b->st->db, b->mirror, b->commit, b->index, b->img, b->tree);
	if (port_resolve(&pc, req->port, &b->port) < 0)
		return mf_error_wrap("tree '%s'", req->tree);
	if (b->port->npackages == 0)
		return mf_error(MF_E_USAGE, "port %s makes no package on %s", b->port->versioned_name,
				s->target_arch);
	b->expect = xcalloc(b->port->npackages + 1, sizeof(char *));
	for (size_t i = 0; i < b->port->npackages; i++)
		b->expect[i] = xstrdup(b->port->packages[i].file);
	b->command = builder_command(b->img, b->port->versioned_name);
	return 0;
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

	if (!req->tree && req->nrecipes == 0)
		return mf_error(MF_E_USAGE, "no recipe given");
	if (req->tree && (!req->port || req->nrecipes))
		return mf_error(MF_E_USAGE, "a build of a tree builds one port");
	for (size_t i = 0; i < req->nrecipes; i++)
		if (recipe_name_check(req->recipes[i]) < 0)
			return -1;
	if (images_get(b->st->db, req->image, &b->img) < 0 || images_check_usable(b->img) < 0)
		return -1;
	if (req->tree) {
		if (validate_port(b) < 0)
			return -1;
	} else {
		vars.packages_dir = b->img->settings.packages_dir;
		if (template_expand(&cmd, b->img->settings.build_command, &vars) < 0) {
			strbuf_release(&cmd);
			return mf_error_wrap("image '%s'", b->img->name);
		}
		b->command = strbuf_detach(&cmd);
	}
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

/*
 * What the port needs, as HaikuPorter resolves it (ports/resolve.h): the
 * packages of the index and of the image it is given, each in hand on the
 * host before a machine starts (a repository's package is fetched and
 * verified here). A requirement nothing meets fails the build, named.
 */
static int resolve_packages(struct build *b)
{
	const struct image_settings *s = &b->img->settings;
	struct recipe *r = b->port->recipe;
	struct pkgindex *ix = NULL;
	struct resolution res = { 0 };
	int ret = -1;

	if (pkgindex_open(b->st->db, &ix) < 0)
		return -1;
	struct resolve_env env = {
		.ix = ix,
		.arch = s->target_arch,
		.image = b->img->name,
		.run = b->req->run,
		.always = resolve_scriptlet_prerequires,
	};
	if (resolve_port(&env, b->port->versioned_name, r->build_requires, r->build_prerequires,
			 &res) < 0)
		goto out;
	if (res.error) {
		mf_error(MF_E_BUILD, "%s", res.error);
		goto out;
	}
	if (res.nports) {
		struct strbuf sb = STRBUF_INIT;
		for (size_t i = 0; i < res.nports; i++)
			strbuf_addf(&sb, "%s%s", i ? ", " : "", res.ports[i]);
		mf_error(MF_E_BUILD, "%s needs ports of the tree built first: %s", b->port->versioned_name,
			 sb.buf);
		strbuf_release(&sb);
		goto out;
	}
	b->given = xcalloc(res.npkgs + 1, sizeof(*b->given));
	for (size_t i = 0; i < res.npkgs; i++) {
		struct pkg_entry e;
		struct given *g = &b->given[b->ngiven];
		if (pkgindex_get(ix, res.pkgs[i], &e) < 0)
			goto out;
		g->file = xstrdup(e.file_name);
		b->ngiven++;
		if (!strncmp(e.origin, "system:", 7)) {
			g->guest_path = xstrdup(e.location);
			buildlog_event(b->log, "package %s: the image's own", e.file_name);
		} else if (!strncmp(e.location, "https://", 8) || !strncmp(e.location, "http://", 7)) {
			struct sources_opts so = {
				.db = b->st->db,
				.cache_dir = b->st->sources_dir,
				.cache_max = b->env->max_source_cache_bytes,
				.cancel = b->req->cancel,
				.log = b->log,
			};
			struct source_file f;
			int rc = sources_fetch_uri(&so, e.location, e.sha256, e.file_name, &f);
			if (rc == 0) {
				g->host_path = f.path;
				free(f.name);
				free(f.uri);
			}
			if (rc < 0) {
				pkg_entry_free(&e);
				goto out;
			}
		} else if (!strncmp(e.location, "repository:", 11)) {
			/* Published to S3: fetched back through the package cache. */
			const char *slash = strchr(e.location + 11, '/');
			char *repo = slash ? xstrndup(e.location + 11,
						       (size_t)(slash - e.location - 11)) : NULL;
			int rc = repo ? publish_cache_get(b->st, b->env->cfg, repo, slash + 1,
							  e.sha256, &g->host_path) :
					mf_error(MF_E_INFRA, "package %s: bad location '%s'",
						 e.file_name, e.location);
			if (rc == 0)
				buildlog_event(b->log, "package %s: from repository %s (cached)",
					       e.file_name, repo);
			free(repo);
			if (rc < 0) {
				pkg_entry_free(&e);
				goto out;
			}
		} else {
			if (access(e.location, R_OK) < 0) {
				mf_error_errno(MF_E_INFRA, "package %s (%s) cannot be read at %s",
					       e.file_name, e.origin, e.location);
				pkg_entry_free(&e);
				goto out;
			}
			g->host_path = xstrdup(e.location);
			buildlog_event(b->log, "package %s: from %s", e.file_name, e.origin);
		}
		pkg_entry_free(&e);
	}
	ret = 0;
out:
	resolution_release(&res);
	pkgindex_close(ix);
	return ret;
}

/*
 * The packages it is given, as buildmaster places them on a builder: each
 * uploaded into the packages directory's .cache as NAME.upload, renamed,
 * and linked into the packages directory (a system package is linked to
 * where the image has it). One shell command does the renames and links.
 */
static int push_given(struct build *b)
{
	const char *pk = b->img->settings.packages_dir;
	char *cache = xasprintf("%s/.cache", pk);
	struct strbuf cmd = STRBUF_INIT;
	struct guest *g = b->machine->guest;
	int status = -1, ret = -1;

	strbuf_addstr(&cmd, "set -e; mkdir -p ");
	shell_quote(&cmd, cache);
	if (guest_exec(g, cmd.buf, NULL, &status) < 0 || status != 0) {
		if (status != 0)
			mf_error(MF_E_INFRA, "cannot create %s on the guest", cache);
		goto out;
	}
	strbuf_reset(&cmd);
	strbuf_addstr(&cmd, "set -e");
	for (size_t i = 0; i < b->ngiven; i++) {
		const struct given *p = &b->given[i];
		char *link = xasprintf("%s/%s", pk, p->file);
		if (p->host_path) {
			char *final = xasprintf("%s/%s", cache, p->file);
			char *upload = xasprintf("%s.upload", final);
			int rc = guest_put(g, p->host_path, upload, tick, b);
			if (rc == 0) {
				strbuf_addstr(&cmd, "; mv -f ");
				shell_quote(&cmd, upload);
				strbuf_addch(&cmd, ' ');
				shell_quote(&cmd, final);
				strbuf_addstr(&cmd, "; ln -sf ");
				shell_quote(&cmd, final);
				strbuf_addch(&cmd, ' ');
				shell_quote(&cmd, link);
			}
			free(upload);
			free(final);
			if (rc < 0) {
				free(link);
				mf_error_wrap("package %s", p->file);
				goto out;
			}
		} else {
			strbuf_addstr(&cmd, "; ln -sf ");
			shell_quote(&cmd, p->guest_path);
			strbuf_addch(&cmd, ' ');
			shell_quote(&cmd, link);
		}
		free(link);
	}
	if (guest_exec(g, cmd.buf, NULL, &status) < 0)
		goto out;
	if (status != 0) {
		mf_error(MF_E_INFRA, "cannot place the packages the build is given in %s", pk);
		goto out;
	}
	buildlog_event(b->log, "%zu package%s given in %s", b->ngiven, b->ngiven == 1 ? "" : "s",
		       pk);
	ret = 0;
out:
	strbuf_release(&cmd);
	free(cache);
	return ret;
}

/*
 * Each package the build made must be what the recipe declared: its own
 * attributes (name, version, architecture) give its canonical file name.
 */
static int check_harvest(struct build *b)
{
	struct build_result *r = b->res;

	for (size_t i = 0; i < r->npackages; i++) {
		struct hpkg_file f;
		if (hpkg_read_file(r->packages[i].path, &f) < 0) {
			mf_error_wrap("harvested package %s", r->packages[i].name);
			return mf_error_reclass(MF_E_BUILD);
		}
		char *canon = f.kind == HPKG_PACKAGE ? hpkg_file_name(&f.pkgs[0]) : NULL;
		int ok = canon && !strcmp(canon, r->packages[i].name);
		if (!ok)
			mf_error(MF_E_BUILD, "harvested package %s says it is %s, not what the "
				 "recipe declares", r->packages[i].name,
				 canon ? canon : "a repository");
		free(canon);
		hpkg_file_release(&f);
		if (!ok)
			return -1;
	}
	return 0;
}

static char *remote_path(const struct build *b, const char *name)
{
	return harvest_remote_path(b->img->settings.packages_dir, name);
}

/*
 * The ports tree at the commit, with builder.conf and the port's sources
 * where HaikuPorter looks for already downloaded ones.
 */
static int push_tree(struct build *b)
{
	const struct image_settings *s = &b->img->settings;
	struct treesync_file *extra = xcalloc(1, sizeof(*extra));
	char **names = NULL, **locals = NULL;
	size_t k = 0, nn = 0;
	char *conf = builder_conf(b->img, b->tree), *dir = state_build_dir(b->st, b->res->id);
	struct treesync_stats stats;
	int ret = -1;

#define EXTRA(path_, data_, len_, local_) do {						\
		extra = xrealloc(extra, (k + 1) * sizeof(*extra));			\
		extra[k++] = (struct treesync_file){ path_, data_, len_, local_, 0644 };	\
	} while (0)
	EXTRA("builder.conf", conf, strlen(conf), NULL);
	for (size_t i = 0; i < b->nsources; i++) {
		const struct source_file *f = &b->sources[i];
		char *at = xasprintf("%s/download/%s", b->port->dir, f->name);
		if (f->is_dir) {
			/* A git source: every file of its bare repository. */
			char **files = NULL;
			size_t nf = 0;
			if (mf_list_files(f->path, &files, &nf) < 0) {
				free(at);
				goto out;
			}
			for (size_t j = 0; j < nf; j++) {
				names = xrealloc(names, (nn + 2) * sizeof(char *));
				locals = xrealloc(locals, (nn + 2) * sizeof(char *));
				names[nn] = xasprintf("%s/%s", at, files[j]);
				locals[nn] = xasprintf("%s/%s", f->path, files[j]);
				EXTRA(names[nn], NULL, 0, locals[nn]);
				nn++;
				names[nn] = locals[nn] = NULL;
			}
			mf_strv_free(files);
		} else {
			names = xrealloc(names, (nn + 2) * sizeof(char *));
			locals = xrealloc(locals, (nn + 2) * sizeof(char *));
			names[nn] = xstrdup(at);
			locals[nn] = NULL;
			EXTRA(names[nn], NULL, f->size, f->path);
			nn++;
			names[nn] = locals[nn] = NULL;
		}
		/* The URI it came from, no newline: HaikuPorter then skips the download. */
		names = xrealloc(names, (nn + 2) * sizeof(char *));
		locals = xrealloc(locals, (nn + 2) * sizeof(char *));
		names[nn] = xasprintf("%s.uri", at);
		locals[nn] = NULL;
		EXTRA(names[nn], f->uri, strlen(f->uri), NULL);
		nn++;
		names[nn] = locals[nn] = NULL;
		free(at);
	}
#undef EXTRA
	struct treesync_opts o = {
		.guest = b->machine->guest,
		.m = b->mirror,
		.commit = b->commit,
		.base = b->img->tree_commit,
		.tree_path = s->tree_path,
		.packages_dir = s->packages_dir,
		.extra = extra,
		.nextra = k,
		.work_dir = dir,
		.log = b->log,
		.tick = tick,
		.payload = b,
	};
	ret = treesync_push(&o, &stats);
out:
	free(extra);
	for (size_t i = 0; i < nn; i++) {
		free(names[i]);
		free(locals[i]);
	}
	free(names);
	free(locals);
	free(conf);
	free(dir);
	return ret;
}

/* push: the tree (a port build), inputs into the packages dir, the listing harvest diffs against. */
static int push(struct build *b)
{
	struct guest *g = b->machine->guest;

	if (b->port && push_tree(b) < 0)
		return mf_error_wrap("the ports tree");
	if (b->port) {
		struct strbuf mk = STRBUF_INIT;
		int status = -1;
		strbuf_addstr(&mk, "mkdir -p ");
		shell_quote(&mk, b->img->settings.packages_dir);
		int rc = guest_exec(g, mk.buf, NULL, &status);
		strbuf_release(&mk);
		if (rc < 0 || status != 0)
			return rc < 0 ? -1 : mf_error(MF_E_INFRA, "cannot create the packages "
						      "directory on the guest");
		if (push_given(b) < 0)
			return -1;
	}
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
	struct guest_exec_hooks hooks = { .output = output, .tick = tick, .payload = b };
	int timeout = b->req->timeout_s ? b->req->timeout_s : b->env->build_timeout;
	int rc;

	buildlog_event(b->log, "running: %s", b->command);
	b->last_output = mf_now_ms();
	b->run_deadline = b->last_output + (int64_t)timeout * 1000;
	rc = guest_exec(b->machine->guest, b->command, &hooks, exit_status);
	b->run_deadline = 0;
	if (rc < 0 && mf_error_class() == MF_E_TIMEOUT && !b->idle)
		return mf_error(MF_E_TIMEOUT, "the build exceeded its time limit of %d s", timeout);
	return rc;
}

/* harvest: what the build made, recorded only once all of it is here. */
static int harvest_packages(struct build *b)
{
	struct build_result *r = b->res;
	struct harvest_opts o = {
		.guest = b->machine->guest,
		.remote_dir = b->img->settings.packages_dir,
		.before = b->before,
		.nbefore = b->nbefore,
		.out_dir = r->out_dir,
		.max_bytes = b->env->max_package_bytes,
		.expect = b->expect,
		.log = b->log,
		.tick = tick,
		.payload = b,
	};

	if (harvest(&o, &r->packages, &r->npackages) < 0)
		return -1;
	if (b->port && check_harvest(b) < 0)
		return -1;
	for (size_t i = 0; i < r->npackages; i++)
		if (builds_add_package(b->st->db, r->id, &r->packages[i]) < 0)
			return -1;
	return 0;
}

/* Records a failed step: its status, its error and, if named, its duration. */
static void fail(struct build *b, const char *phase, int64_t start)
{
	b->res->status = build_status_of_error(mf_error_class());
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
	if (harvest_packages(b) < 0) {
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
	struct mf_state *st = b->st;
	struct build_result *r = b->res;
	struct strbuf recipes = STRBUF_INIT;
	char *dir = NULL;
	int ret = -1;

	for (size_t i = 0; i < b->req->nrecipes; i++)
		strbuf_addf(&recipes, "%s%s", i ? " " : "", b->req->recipes[i]);
	if (b->port)
		strbuf_addstr(&recipes, b->port->versioned_name);
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
	    builds_set_paths(st->db, r->id, r->log_path, r->out_dir) < 0 ||
	    (b->port && builds_set_origin(st->db, r->id, b->tree->name, b->commit) < 0)) {
		if (!b->req->defer_finish)
			builds_finish(st->db, r->id, BUILD_INFRA_ERROR, -1, mf_error_msg());
		goto out;
	}
	if (b->port) {
		r->tree = xstrdup(b->tree->name);
		r->commit = xstrdup(b->commit);
		r->port = xstrdup(b->port->versioned_name);
	}
	if (b->req->attempt > 1)
		buildlog_event(b->log, "attempt %d of build %lld: image %s, %s: %s",
			       b->req->attempt, (long long)r->id, b->img->name,
			       b->port ? "port" : "recipes", recipes.buf);
	else
		buildlog_event(b->log, "build %lld: image %s, %s: %s", (long long)r->id,
			       b->img->name, b->port ? "port" : "recipes", recipes.buf);
	if (b->port) {
		buildlog_event(b->log, "tree %s at %s, recipe %s/%s, packages:", b->tree->name,
			       b->commit, b->port->dir, b->port->file);
		for (size_t i = 0; i < b->port->npackages; i++)
			buildlog_event(b->log, "  %s", b->port->packages[i].file);
	}
	ret = 0;
out:
	free(dir);
	strbuf_release(&recipes);
	return ret;
}

void pipeline_write_result(struct mf_state *st, const struct build_result *r)
{
	char *json = report_build_json(r);
	char *path = xasprintf("%s/%lld/result.json", st->builds_dir, (long long)r->id);

	if (mf_write_file_atomic(path, json, strlen(json), 0644) < 0)
		log_warnx("%s", mf_error_msg());
	free(path);
	free(json);
}

int pipeline_finish(struct mf_state *st, const struct build_result *r)
{
	if (builds_finish(st->db, r->id, r->status, r->exit_code, r->error) < 0)
		return -1;
	pipeline_write_result(st, r);
	return 0;
}

/* A machine from mayflyd's warm pool becomes this build's. */
static void take_warm(struct build *b, struct machine *m, struct build_result *out, int64_t t)
{
	m->db = b->st->db;	/* this thread's connection from now on */
	m->log = b->log;
	/* Its console log becomes the build's (QEMU keeps writing to the same file). */
	if (out->console_path && rename(m->console_path, out->console_path) == 0) {
		free(m->console_path);
		m->console_path = xstrdup(out->console_path);
	} else if (out->console_path) {
		buildlog_event(b->log, "the machine's console log stays in %s: cannot move it "
			       "(%s)", m->console_path, strerror(errno));
	}
	buildlog_event(b->log, "took machine %s from the warm pool (%s)", m->domain,
		       m->restored ? "restored from a snapshot" : "booted");
	record_phase(b, "warm", mf_now_ms() - t);
}

/* Counts machines that did not come up against the image (quarantine). */
static void note_boot(struct build *b, int ok)
{
	int q;

	if (!ok && mf_error_class() == MF_E_INTERRUPTED)
		return; /* the user's doing, not the image's */
	q = images_boot_result(b->st->db, b->img->name, ok, b->env->quarantine_after,
			       ok ? NULL : b->res->error);
	if (q < 0)
		log_warnx("%s", mf_error_msg());
	else if (q > 0)
		buildlog_event(b->log, "image %s quarantined after %d machines in a row did not "
			       "come up", b->img->name, b->env->quarantine_after);
}

void build_env_init(struct build_env *env, const struct mf_config *cfg, struct mf_state *st,
		    struct host *h)
{
	memset(env, 0, sizeof(*env));
	env->state = st;
	env->host = h;
	env->build_timeout = cfg->build_timeout;
	env->quarantine_after = cfg->quarantine_after;
	env->max_log_bytes = (uint64_t)cfg->max_log_mb << 20;
	env->max_package_bytes = (uint64_t)cfg->max_package_mb << 20;
	env->max_source_cache_bytes = (uint64_t)cfg->source_cache_mb << 20;
	env->cfg = cfg;
}

static void build_release(struct build *b)
{
	for (size_t i = 0; i < b->ngiven; i++) {
		free(b->given[i].file);
		free(b->given[i].guest_path);
		free(b->given[i].host_path);
	}
	free(b->given);
	source_files_free(b->sources, b->nsources);
	mf_strv_free(b->expect);
	port_free(b->port);
	port_index_free(b->index);
	mirror_close(b->mirror);
	tree_free(b->tree);
	buildlog_close(b->log);
	guest_files_free(b->before, b->nbefore);
	mf_strv_free(b->input_names);
	free(b->command);
	image_free(b->img);
}

int pipeline_check(struct mf_state *st, const struct build_request *req,
		   struct pipeline_checked *out)
{
	struct build b = { .st = st, .req = req };
	int ret = validate(&b);

	if (out) {
		memset(out, 0, sizeof(*out));
		if (ret == 0 && b.port) {
			snprintf(out->commit, sizeof(out->commit), "%s", b.commit);
			out->port = xstrdup(b.port->versioned_name);
		}
	}

	build_release(&b);
	return ret;
}

int pipeline_run(const struct build_env *env, const struct build_request *req,
		 const struct build_events *ev, struct build_result *out)
{
	struct build b = { .env = env, .st = env->state, .req = req, .ev = ev, .res = out };
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
	buildlog_limit(b.log, env->max_log_bytes);
	if (ev && ev->started)
		ev->started(ev->payload, out->id, out->log_path);

	/* A port's sources, verified on the host before a machine is spent on it. */
	if (b.port && b.port->recipe->nsources) {
		struct sources_opts so = {
			.db = b.st->db,
			.cache_dir = b.st->sources_dir,
			.cache_max = env->max_source_cache_bytes,
			.allow_unsafe = b.tree->allow_unsafe_sources,
			.cancel = req->cancel,
			.log = b.log,
		};
		t = mf_now_ms();
		if (sources_fetch(&so, b.port->recipe, &b.sources, &b.nsources) < 0) {
			fail(&b, "sources", t);
			goto finish;
		}
		phase_end(&b, "sources", t);
	}
	if (b.port) {
		t = mf_now_ms();
		if (resolve_packages(&b) < 0) {
			fail(&b, "packages", t);
			goto finish;
		}
		phase_end(&b, "packages", t);
	}

	/* Each attempt gets its own names: a failed cleanup never blocks a retry. */
	char tag[48];
	if (req->attempt > 1)
		snprintf(tag, sizeof(tag), "b%lld-a%d", (long long)out->id, req->attempt);
	else
		snprintf(tag, sizeof(tag), "b%lld", (long long)out->id);
	struct machine *warm = NULL;
	t = mf_now_ms();
	if (env->take_machine)
		warm = env->take_machine(env->take_arg, b.img->name, b.st->db, req->cancel);
	if (warm) {
		take_warm(&b, warm, out, t);
		b.machine = warm;
		note_boot(&b, 1);
		build_in_machine(&b);
	} else {
		struct image_boot boot;

		image_boot_init(&boot, env->host, b.st->db, b.img, tag, out->id,
				out->console_path, b.log);
		boot.spec.cancel = req->cancel;
		boot.spec.phase = machine_phase;
		boot.spec.payload = &b;
		int up = machine_up(env->host, b.st->db, &boot.spec, &b.machine);
		if (up < 0)
			fail(&b, NULL, 0);
		note_boot(&b, up == 0);
		image_boot_note(b.st->db, b.img, b.machine);
		image_boot_release(&boot);
		if (up == 0)
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
finish:
	out->duration_ms = mf_now_ms() - start;
	buildlog_event(b.log, "build %lld %s in %lld ms", (long long)out->id,
		       build_status_name(out->status), (long long)out->duration_ms);
	if (!req->defer_finish && pipeline_finish(b.st, out) < 0)
		log_warnx("build %lld: %s", (long long)out->id, mf_error_msg());
	ret = 0;
out:
	build_release(&b);
	return ret;
}
