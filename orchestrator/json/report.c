/* report.c - see report.h. */
#include "json/report.h"
#include "json/doc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "store/builds.h"
#include "store/images.h"
#include "store/trees.h"
#include "pkg/hpkg.h"
#include "ports/update.h"

static char *dump(json_t *doc)
{
	return doc_dump(doc, 2);
}

#define jstr doc_str

static json_t *str_or_null(const char *s)
{
	return s ? jstr(s) : json_null();
}

char *report_build_json(const struct build_result *r)
{
	json_t *doc = json_object(), *phases = json_array(), *pkgs = json_array();

	json_object_set_new(doc, "id", json_integer(r->id));
	json_object_set_new(doc, "image", str_or_null(r->image));
	if (r->tree) {
		json_object_set_new(doc, "tree", jstr(r->tree));
		json_object_set_new(doc, "commit", str_or_null(r->commit));
		json_object_set_new(doc, "port", str_or_null(r->port));
	}
	json_object_set_new(doc, "status", jstr(build_status_name(r->status)));
	json_object_set_new(doc, "exit_code",
			    r->exit_code >= 0 ? json_integer(r->exit_code) : json_null());
	json_object_set_new(doc, "error", str_or_null(r->error));
	json_object_set_new(doc, "duration_ms", json_integer(r->duration_ms));
	for (size_t i = 0; i < r->nphases; i++) {
		json_t *p = json_object();
		json_object_set_new(p, "name", jstr(r->phases[i].name));
		json_object_set_new(p, "duration_ms", json_integer(r->phases[i].duration_ms));
		json_array_append_new(phases, p);
	}
	json_object_set_new(doc, "phases", phases);
	for (size_t i = 0; i < r->npackages; i++) {
		json_t *p = json_object();
		json_object_set_new(p, "name", jstr(r->packages[i].name));
		json_object_set_new(p, "size", json_integer((json_int_t)r->packages[i].size));
		json_object_set_new(p, "sha256", jstr(r->packages[i].sha256));
		json_object_set_new(p, "path", jstr(r->packages[i].path));
		json_array_append_new(pkgs, p);
	}
	json_object_set_new(doc, "packages", pkgs);
	json_object_set_new(doc, "log", str_or_null(r->log_path));
	json_object_set_new(doc, "console_log", str_or_null(r->console_path));
	json_object_set_new(doc, "out_dir", str_or_null(r->out_dir));
	return dump(doc);
}

static json_t *image_object(const struct image *img)
{
	const struct image_settings *s = &img->settings;
	json_t *o = json_object(), *set = json_object();
	char created[32], *fp = ssh_key_fingerprint(img->host_key);

	mf_rfc3339(img->created, created);
	json_object_set_new(o, "name", jstr(img->name));
	json_object_set_new(o, "path", jstr(img->path));
	json_object_set_new(o, "volume", jstr(img->volume));
	json_object_set_new(o, "source", jstr(img->source));
	json_object_set_new(o, "sha256", jstr(img->sha256));
	json_object_set_new(o, "format", jstr(img->format));
	json_object_set_new(o, "virtual_size", json_integer((json_int_t)img->virtual_size));
	json_object_set_new(o, "host_key", jstr(img->host_key));
	json_object_set_new(o, "host_key_fingerprint", jstr(fp));
	json_object_set_new(o, "created", jstr(created));
	json_object_set_new(set, "ssh_user", jstr(s->ssh_user));
	json_object_set_new(set, "ssh_key", jstr(s->ssh_key));
	json_object_set_new(set, "build_command", jstr(s->build_command));
	json_object_set_new(set, "packages_dir", jstr(s->packages_dir));
	json_object_set_new(set, "memory_mib", json_integer(s->memory_mib));
	json_object_set_new(set, "vcpus", json_integer(s->vcpus));
	json_object_set_new(set, "disk_bus", jstr(disk_bus_name(s->disk_bus)));
	json_object_set_new(set, "boot_timeout", json_integer(s->boot_timeout));
	json_object_set_new(set, "tree_path", jstr(s->tree_path));
	json_object_set_new(set, "haikuporter", jstr(s->haikuporter));
	json_object_set_new(set, "haikuporter_args", jstr(s->haikuporter_args));
	json_object_set_new(set, "target_arch", jstr(s->target_arch));
	json_object_set_new(set, "secondary_arches", jstr(s->secondary_arches));
	json_object_set_new(set, "no_system_packages", json_boolean(s->no_system_packages));
	json_object_set_new(set, "restore_command", jstr(s->restore_command ? s->restore_command :
							 IMAGE_DEFAULT_RESTORE_COMMAND));
	json_object_set_new(set, "warm", json_integer(s->warm));
	json_object_set_new(o, "tree_commit", str_or_null(img->tree_commit));
	json_object_set_new(o, "settings", set);
	json_object_set_new(o, "boot_failures", json_integer(img->boot_failures));
	json_object_set_new(o, "quarantined", str_or_null(img->quarantined));
	json_t *snap = json_object();
	json_object_set_new(snap, "slots", json_integer(img->snapshot_slots));
	json_object_set_new(snap, "restores", json_integer(img->restores));
	json_object_set_new(snap, "fallbacks", json_integer(img->restore_fallbacks));
	json_object_set_new(snap, "failures_in_a_row", json_integer(img->restore_failures));
	json_object_set_new(snap, "disabled", str_or_null(img->snapshot_disabled));
	json_object_set_new(o, "snapshots", snap);
	free(fp);
	return o;
}

char *report_image_json(const struct image *img)
{
	return dump(image_object(img));
}

char *report_images_json(struct image *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, image_object(v[i]));
	return dump(a);
}

static json_t *time_or_null(int64_t t);

static json_t *tree_object(const struct tree *t)
{
	json_t *o = json_object();
	const char *cred = t->credentials;

	json_object_set_new(o, "name", jstr(t->name));
	json_object_set_new(o, "url", jstr(t->url));
	json_object_set_new(o, "branch", jstr(t->branch));
	/* Which kind of credential and where, never its content. */
	json_object_set_new(o, "credentials", str_or_null(cred));
	json_object_set_new(o, "packager", jstr(t->packager));
	json_object_set_new(o, "allow_untested", json_boolean(t->allow_untested));
	json_object_set_new(o, "allow_unsafe_sources", json_boolean(t->allow_unsafe_sources));
	json_object_set_new(o, "create_source_packages", json_boolean(t->create_source_packages));
	json_object_set_new(o, "head", str_or_null(t->head));
	json_object_set_new(o, "fetched", time_or_null(t->fetched));
	json_object_set_new(o, "fetch_error", str_or_null(t->fetch_error));
	json_object_set_new(o, "processed", str_or_null(t->processed));
	json_object_set_new(o, "update_image", str_or_null(t->update_image));
	json_object_set_new(o, "forge", str_or_null(t->forge));
	json_object_set_new(o, "forge_repo", str_or_null(t->forge_repo));
	json_object_set_new(o, "forge_api", str_or_null(t->forge_api_url));
	json_object_set_new(o, "status_context", str_or_null(t->status_context));
	json_object_set_new(o, "created", time_or_null(t->created));
	return o;
}

char *report_tree_json(const struct tree *t, const struct tree_retry *retries, size_t nretries)
{
	json_t *o = tree_object(t), *a = json_array();

	for (size_t i = 0; i < nretries; i++) {
		json_t *r = json_object();
		json_object_set_new(r, "port", jstr(retries[i].port));
		json_object_set_new(r, "commit", jstr(retries[i].commit));
		json_object_set_new(r, "build", retries[i].build_id ?
					json_integer(retries[i].build_id) : json_null());
		json_object_set_new(r, "reason", str_or_null(retries[i].reason));
		json_array_append_new(a, r);
	}
	json_object_set_new(o, "failed_ports", a);
	return dump(o);
}

char *report_trees_json(struct tree *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, tree_object(v[i]));
	return dump(a);
}

char *report_url_segment(const char *s)
{
	struct strbuf sb = STRBUF_INIT;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    strchr("-._~+", *p))
			strbuf_addch(&sb, (char)*p);
		else
			strbuf_addf(&sb, "%%%02X", *p);
	}
	return strbuf_detach(&sb);
}

static json_t *time_or_null(int64_t t)
{
	char buf[32];

	if (t <= 0)
		return json_null();
	mf_rfc3339(t, buf);
	return jstr(buf);
}

/* "a b c" as a JSON array of strings. */
static json_t *words(const char *s)
{
	json_t *a = json_array();
	char *copy, *save = NULL;

	if (!s)
		return a;
	copy = xstrdup(s);
	for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
		json_array_append_new(a, jstr(w));
	free(copy);
	return a;
}

static json_t *record_object(const struct build_record *r, int details)
{
	json_t *o = json_object();
	char url[64];

	json_object_set_new(o, "id", json_integer(r->id));
	json_object_set_new(o, "image", jstr(r->image));
	json_object_set_new(o, "recipes", words(r->recipes));
	json_object_set_new(o, "tree", str_or_null(r->tree));
	json_object_set_new(o, "commit", str_or_null(r->commit));
	json_object_set_new(o, "status", jstr(r->status));
	json_object_set_new(o, "exit_code", r->exit_code >= 0 ? json_integer(r->exit_code) :
							       json_null());
	json_object_set_new(o, "error", str_or_null(r->error));
	json_object_set_new(o, "source", jstr(r->source));
	json_object_set_new(o, "priority", json_integer(r->priority));
	json_object_set_new(o, "timeout", r->timeout > 0 ? json_integer(r->timeout) : json_null());
	json_object_set_new(o, "requested_by", str_or_null(r->requested_by));
	json_object_set_new(o, "created", time_or_null(r->created));
	json_object_set_new(o, "started", time_or_null(r->started));
	json_object_set_new(o, "finished", time_or_null(r->finished));
	json_object_set_new(o, "cancel_requested", json_boolean(r->cancel_requested));
	snprintf(url, sizeof(url), "/api/v1/builds/%lld", (long long)r->id);
	json_object_set_new(o, "url", jstr(url));
	if (!details) {
		json_object_set_new(o, "attempts", json_integer(r->attempts));
		return o;
	}
	json_t *tries = json_array(), *phases = json_array(), *pkgs = json_array();
	for (size_t i = 0; i < r->ntries; i++) {
		json_t *a = json_object();
		json_object_set_new(a, "n", json_integer(r->tries[i].n));
		json_object_set_new(a, "status", jstr(r->tries[i].status));
		json_object_set_new(a, "error", str_or_null(r->tries[i].error));
		json_object_set_new(a, "started", time_or_null(r->tries[i].started));
		json_object_set_new(a, "finished", time_or_null(r->tries[i].finished));
		json_array_append_new(tries, a);
	}
	json_object_set_new(o, "attempts", tries);
	for (size_t i = 0; i < r->nphases; i++) {
		json_t *p = json_object();
		json_object_set_new(p, "name", jstr(r->phases[i].name));
		json_object_set_new(p, "duration_ms", json_integer(r->phases[i].duration_ms));
		json_array_append_new(phases, p);
	}
	json_object_set_new(o, "phases", phases);
	for (size_t i = 0; i < r->npackages; i++) {
		json_t *p = json_object();
		char *seg = report_url_segment(r->packages[i].name);
		char *purl = xasprintf("%s/packages/%s", url, seg);
		json_object_set_new(p, "name", jstr(r->packages[i].name));
		json_object_set_new(p, "size", json_integer((json_int_t)r->packages[i].size));
		json_object_set_new(p, "sha256", jstr(r->packages[i].sha256));
		json_object_set_new(p, "path", jstr(r->packages[i].path));
		json_object_set_new(p, "url", jstr(purl));
		free(seg);
		free(purl);
		json_array_append_new(pkgs, p);
	}
	json_object_set_new(o, "packages", pkgs);
	json_object_set_new(o, "inputs", words(r->inputs));
	json_object_set_new(o, "log", str_or_null(r->log_path));
	char *lurl = xasprintf("%s/log", url);
	json_object_set_new(o, "log_url", jstr(lurl));
	free(lurl);
	return o;
}

char *report_record_json(const struct build_record *r)
{
	return dump(record_object(r, 1));
}

char *report_records_json(struct build_record *const *v, size_t n)
{
	json_t *doc = json_object(), *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, record_object(v[i], 0));
	json_object_set_new(doc, "builds", a);
	return dump(doc);
}

char *report_error_json(const char *msg, const char *field)
{
	json_t *doc = json_object();

	json_object_set_new(doc, "error", jstr(msg));
	if (field)
		json_object_set_new(doc, "field", jstr(field));
	return dump(doc);
}

char *report_pr_json(const char *tree, int64_t number, const char *head, const char *state,
		     const char *author, int64_t run, const char *run_status,
		     const struct report_pr_package *v, size_t n)
{
	json_t *doc = json_object(), *pk = json_array();

	json_object_set_new(doc, "tree", jstr(tree));
	json_object_set_new(doc, "number", json_integer(number));
	json_object_set_new(doc, "head", jstr(head));
	json_object_set_new(doc, "state", jstr(state));
	json_object_set_new(doc, "author", jstr(author));
	json_object_set_new(doc, "buildrun", run > 0 ? json_integer(run) : json_null());
	json_object_set_new(doc, "buildrun_status", str_or_null(run_status));
	for (size_t i = 0; i < n; i++) {
		char url[600];
		snprintf(url, sizeof(url), "/api/v1/builds/%lld/packages/%s", (long long)v[i].build,
			 v[i].name);
		json_t *o = json_object();
		json_object_set_new(o, "name", jstr(v[i].name));
		json_object_set_new(o, "build", json_integer(v[i].build));
		json_object_set_new(o, "url", jstr(url));
		json_array_append_new(pk, o);
	}
	json_object_set_new(doc, "packages", pk);
	return dump(doc);
}

char *report_note_json(const char *key, const char *text, int64_t id)
{
	json_t *doc = json_object();

	json_object_set_new(doc, key, jstr(text));
	if (id > 0)
		json_object_set_new(doc, "id", json_integer(id));
	return dump(doc);
}

char *report_health_json(int accepting, int running, int queued, int max_vms, int disk_low,
			 const struct report_warm *warm, size_t nwarm)
{
	json_t *doc = json_object(), *w = json_object();

	json_object_set_new(doc, "status", json_string(accepting ? "ok" : "stopping"));
	json_object_set_new(doc, "version", json_string(MAYFLY_VERSION));
	json_object_set_new(doc, "running", json_integer(running));
	json_object_set_new(doc, "queued", json_integer(queued));
	json_object_set_new(doc, "max_vms", json_integer(max_vms));
	json_object_set_new(doc, "disk_low", json_boolean(disk_low));
	for (size_t i = 0; i < nwarm; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "ready", json_integer(warm[i].ready));
		json_object_set_new(o, "starting", json_integer(warm[i].starting));
		json_object_set_new(w, warm[i].image, o);
	}
	json_object_set_new(doc, "warm", w);
	return dump(doc);
}

char *report_update_json(const char *tree, const char *image, const struct update_plan *p,
			 const struct report_update_build *builds, int dry_run)
{
	json_t *doc = json_object(), *ports = json_array(), *skipped = json_array();

	json_object_set_new(doc, "tree", jstr(tree));
	json_object_set_new(doc, "image", jstr(image));
	json_object_set_new(doc, "from", *p->from ? jstr(p->from) : json_null());
	json_object_set_new(doc, "to", jstr(p->to));
	json_object_set_new(doc, "dry_run", json_boolean(dry_run));
	for (size_t i = 0; i < p->n; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "port", jstr(p->v[i].port));
		json_object_set_new(o, "trigger", str_or_null(p->v[i].trigger));
		json_object_set_new(o, "retry", str_or_null(p->v[i].retry));
		if (builds && builds[i].id) {
			json_object_set_new(o, "build", json_integer(builds[i].id));
			json_object_set_new(o, "status", str_or_null(builds[i].status));
		}
		json_array_append_new(ports, o);
	}
	json_object_set_new(doc, "ports", ports);
	for (const char *s = p->skipped; s && *s;) {
		size_t len = strcspn(s, "\n");
		char *line = xstrndup(s, len);
		json_array_append_new(skipped, jstr(line));
		free(line);
		s += len;
		s += *s == '\n';
	}
	json_object_set_new(doc, "skipped", skipped);
	return dump(doc);
}

static json_t *package_object(const struct hpkg_info *p, const char *path, enum hpkg_kind kind)
{
	json_t *o = json_object(), *prov = json_array(), *req = json_array();
	char *file = hpkg_file_name(p);

	json_object_set_new(o, "file", jstr(path));
	json_object_set_new(o, "kind", jstr(kind == HPKG_REPOSITORY ? "repository" : "package"));
	json_object_set_new(o, "name", jstr(p->name));
	json_object_set_new(o, "version", jstr(p->version));
	json_object_set_new(o, "architecture", jstr(p->arch));
	json_object_set_new(o, "file_name", jstr(file));
	json_object_set_new(o, "summary", jstr(p->summary));
	json_object_set_new(o, "description", jstr(p->description));
	json_object_set_new(o, "vendor", jstr(p->vendor));
	json_object_set_new(o, "packager", jstr(p->packager));
	json_object_set_new(o, "base_package", str_or_null(p->base_package));
	json_object_set_new(o, "checksum", str_or_null(p->checksum));
	for (size_t i = 0; i < p->n_provides; i++) {
		const struct hpkg_provide *v = &p->provides[i];
		json_t *e = json_object();
		json_object_set_new(e, "name", jstr(v->name));
		json_object_set_new(e, "version", str_or_null(v->version));
		json_object_set_new(e, "compatible", str_or_null(v->compat));
		json_array_append_new(prov, e);
	}
	for (size_t i = 0; i < p->n_requires; i++) {
		const struct hpkg_require *r = &p->requires[i];
		json_t *e = json_object();
		json_object_set_new(e, "name", jstr(r->name));
		json_object_set_new(e, "operator", r->op == HPKG_OP_NONE ? json_null() :
								     jstr(hpkg_op_name(r->op)));
		json_object_set_new(e, "version", str_or_null(r->version));
		json_array_append_new(req, e);
	}
	json_object_set_new(o, "provides", prov);
	json_object_set_new(o, "requires", req);
	free(file);
	return o;
}

char *report_packages_json(const struct hpkg_file *files, char *const *paths, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < files[i].n_pkgs; k++)
			json_array_append_new(a, package_object(&files[i].pkgs[k], paths[i],
								 files[i].kind));
	return dump(a);
}
