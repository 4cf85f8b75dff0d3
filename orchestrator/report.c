/* report.c - see report.h. */
#include "orchestrator/report.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "images/registry.h"
#include "orchestrator/guest.h"
#include "orchestrator/pipeline.h"
#include "orchestrator/util.h"

static char *dump(json_t *doc)
{
	char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	char *out;

	json_decref(doc);
	if (!s) {
		fputs("mayfly: cannot encode JSON\n", stderr);
		abort();
	}
	out = xasprintf("%s\n", s);
	free(s);
	return out;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

char *report_build_json(const struct build_result *r)
{
	json_t *doc = json_object(), *phases = json_array(), *pkgs = json_array();

	json_object_set_new(doc, "id", json_integer(r->id));
	json_object_set_new(doc, "image", str_or_null(r->image));
	json_object_set_new(doc, "status", json_string(build_status_name(r->status)));
	json_object_set_new(doc, "exit_code",
			    r->exit_code >= 0 ? json_integer(r->exit_code) : json_null());
	json_object_set_new(doc, "error", str_or_null(r->error));
	json_object_set_new(doc, "duration_ms", json_integer(r->duration_ms));
	for (size_t i = 0; i < r->nphases; i++) {
		json_t *p = json_object();
		json_object_set_new(p, "name", json_string(r->phases[i].name));
		json_object_set_new(p, "duration_ms", json_integer(r->phases[i].duration_ms));
		json_array_append_new(phases, p);
	}
	json_object_set_new(doc, "phases", phases);
	for (size_t i = 0; i < r->npackages; i++) {
		json_t *p = json_object();
		json_object_set_new(p, "name", json_string(r->packages[i].name));
		json_object_set_new(p, "size", json_integer((json_int_t)r->packages[i].size));
		json_object_set_new(p, "sha256", json_string(r->packages[i].sha256));
		json_object_set_new(p, "path", json_string(r->packages[i].path));
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
	char created[32], *fp = guest_key_fingerprint(img->host_key);

	mf_rfc3339(img->created, created);
	json_object_set_new(o, "name", json_string(img->name));
	json_object_set_new(o, "path", json_string(img->path));
	json_object_set_new(o, "volume", json_string(img->volume));
	json_object_set_new(o, "source", json_string(img->source));
	json_object_set_new(o, "sha256", json_string(img->sha256));
	json_object_set_new(o, "format", json_string(img->format));
	json_object_set_new(o, "virtual_size", json_integer((json_int_t)img->virtual_size));
	json_object_set_new(o, "host_key", json_string(img->host_key));
	json_object_set_new(o, "host_key_fingerprint", json_string(fp));
	json_object_set_new(o, "created", json_string(created));
	json_object_set_new(set, "ssh_user", json_string(s->ssh_user));
	json_object_set_new(set, "ssh_key", json_string(s->ssh_key));
	json_object_set_new(set, "build_command", json_string(s->build_command));
	json_object_set_new(set, "packages_dir", json_string(s->packages_dir));
	json_object_set_new(set, "memory_mib", json_integer(s->memory_mib));
	json_object_set_new(set, "vcpus", json_integer(s->vcpus));
	json_object_set_new(set, "disk_bus", json_string(disk_bus_name(s->disk_bus)));
	json_object_set_new(set, "boot_timeout", json_integer(s->boot_timeout));
	json_object_set_new(o, "settings", set);
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
