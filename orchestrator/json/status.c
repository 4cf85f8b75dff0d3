/* status.c - see status.h. */
#include "json/status.h"
#include "json/doc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static char *dump(json_t *doc)
{
	return doc_dump(doc, 1);
}

#define jstr doc_str

static json_t *strv(char *const *v)
{
	json_t *a = json_array();
	for (size_t i = 0; v && v[i]; i++)
		json_array_append_new(a, jstr(v[i]));
	return a;
}

static json_t *epoch(double t)
{
	return t > 0 ? json_real(t) : json_null();
}

static json_t *port_object(const struct br_port *p)
{
	json_t *o = json_object();
	char *revisioned = xasprintf("%s-%s-%d", p->name, p->version, p->revision);
	char rev[16];

	/* buildmaster writes the revision as a string */
	snprintf(rev, sizeof(rev), "%d", p->revision);
	json_object_set_new(o, "name", jstr(p->name));
	json_object_set_new(o, "version", jstr(p->version));
	json_object_set_new(o, "revision", jstr(rev));
	json_object_set_new(o, "revisionedName", jstr(revisioned));
	json_object_set_new(o, "recipeFilePath", jstr(p->recipe_path));
	free(revisioned);
	return o;
}

/* buildmaster's ScheduledBuild. */
static json_t *scheduled_build(const struct br_port *p)
{
	json_t *o = json_object(), *nums = json_array();

	json_object_set_new(o, "port", port_object(p));
	json_object_set_new(o, "resultingPackages", strv(p->resulting));
	json_object_set_new(o, "requiredPackages", strv(p->required));
	json_object_set_new(o, "missingPackageIDs", strv(p->missing));
	json_object_set_new(o, "buildable", json_boolean(!p->missing || !p->missing[0]));
	if (p->build_id)
		json_array_append_new(nums, json_integer(p->build_id));
	json_object_set_new(o, "buildNumbers", nums);
	json_object_set_new(o, "lost", json_boolean(p->state == BR_LOST));
	if (p->reason)
		json_object_set_new(o, "reason", jstr(p->reason));
	return o;
}

/* buildmaster's SkippedPort. */
static json_t *skipped_port(const struct br_port *p)
{
	json_t *o = json_object();

	json_object_set_new(o, "port", port_object(p));
	json_object_set_new(o, "resultingPackages", strv(p->resulting));
	json_object_set_new(o, "reason", jstr(p->reason ? p->reason : ""));
	return o;
}

char *report_buildrun_status(const struct buildrun *r, const char *origin_url,
			     int64_t next_build)
{
	static const char *const lists[] = { "active", "scheduled", "blocked", "complete",
					     "failed", "lost", "skipped" };
	static const enum br_state states[] = { BR_ACTIVE, BR_SCHEDULED, BR_BLOCKED, BR_COMPLETE,
						BR_FAILED, BR_LOST, BR_SKIPPED };
	json_t *doc = json_object(), *builds = json_object(), *builders = json_object();
	json_t *bactive = json_array(), *bidle = json_array();

	for (size_t l = 0; l < 7; l++) {
		json_t *a = json_array();
		for (size_t i = 0; i < r->nports; i++)
			if (r->ports[i].state == states[l])
				json_array_append_new(a, states[l] == BR_SKIPPED ?
							 skipped_port(&r->ports[i]) :
							 scheduled_build(&r->ports[i]));
		json_object_set_new(builds, lists[l], a);
	}
	for (int s = 1; s <= (r->slots > 0 ? r->slots : 1); s++) {
		char name[16];
		const struct br_port *cur = NULL;
		snprintf(name, sizeof(name), "vm-%d", s);
		for (size_t i = 0; i < r->nports && !cur; i++)
			if (r->ports[i].state == BR_ACTIVE && r->ports[i].slot &&
			    !strcmp(r->ports[i].slot, name))
				cur = &r->ports[i];
		json_t *b = json_object();
		json_object_set_new(b, "name", jstr(name));
		json_object_set_new(b, "state", jstr("Available"));
		json_object_set_new(b, "availablePackages", json_array());
		json_object_set_new(b, "connectionErrors", json_integer(0));
		json_object_set_new(b, "maxConnectionErrors", json_integer(100));
		if (cur) {
			json_t *c = json_object();
			json_object_set_new(c, "build", scheduled_build(cur));
			json_object_set_new(c, "number", json_integer(cur->build_id));
			json_object_set_new(b, "currentBuild", c);
			json_array_append_new(bactive, b);
		} else {
			json_object_set_new(b, "currentBuild", json_null());
			json_array_append_new(bidle, b);
		}
	}
	json_object_set_new(builders, "active", bactive);
	json_object_set_new(builders, "idle", bidle);
	json_object_set_new(builders, "lost", json_array());
	json_object_set_new(doc, "builds", builds);
	json_object_set_new(doc, "builders", builders);
	json_object_set_new(doc, "nextBuildNumber", json_integer(next_build));
	json_object_set_new(doc, "portsTreeOriginURL", jstr(origin_url));
	json_object_set_new(doc, "portsTreeHead", jstr(r->commit));
	json_object_set_new(doc, "buildStatus", jstr(r->status));
	json_object_set_new(doc, "startTime", epoch(r->start));
	json_object_set_new(doc, "endTime", epoch(r->end));
	return dump(doc);
}

char *report_buildrun_record(const struct br_port *p, int64_t build, double start,
			     double duration)
{
	json_t *o = json_object(), *port = port_object(p), *nums = json_array();

	json_object_del(port, "recipeFilePath"); /* records name the port without it */
	json_array_append_new(nums, json_integer(build));
	json_object_set_new(o, "port", port);
	json_object_set_new(o, "buildNumbers", nums);
	json_object_set_new(o, "startTime", json_real(start));
	json_object_set_new(o, "duration", json_real(duration));
	json_object_set_new(o, "buildSuccess", json_boolean(p->state == BR_COMPLETE));
	json_object_set_new(o, "builderId", jstr(p->slot ? p->slot : ""));
	return dump(o);
}

static json_t *run_object(const struct buildrun *r, int with_ports)
{
	json_t *o = json_object();
	int counts[BR_NSTATES] = { 0 };

	json_object_set_new(o, "id", json_integer(r->id));
	json_object_set_new(o, "tree", jstr(r->tree));
	json_object_set_new(o, "commit", jstr(r->commit));
	json_object_set_new(o, "image", jstr(r->image));
	json_object_set_new(o, "kind", jstr(r->kind));
	json_object_set_new(o, "status", jstr(r->status));
	json_object_set_new(o, "start", epoch(r->start));
	json_object_set_new(o, "end", epoch(r->end));
	json_object_set_new(o, "machines", json_integer(r->slots));
	for (size_t i = 0; i < r->nports; i++)
		counts[r->ports[i].state]++;
	if (with_ports) {
		json_t *c = json_object(), *ports = json_array();
		for (int s = 0; s < BR_NSTATES; s++)
			json_object_set_new(c, br_state_name((enum br_state)s), json_integer(counts[s]));
		json_object_set_new(o, "counts", c);
		for (size_t i = 0; i < r->nports; i++) {
			const struct br_port *p = &r->ports[i];
			json_t *e = json_object();
			json_object_set_new(e, "port", jstr(p->port));
			json_object_set_new(e, "state", jstr(br_state_name(p->state)));
			json_object_set_new(e, "reason", p->reason ? jstr(p->reason) : json_null());
			json_object_set_new(e, "build", p->build_id ? json_integer(p->build_id) :
								      json_null());
			json_object_set_new(e, "recipe", jstr(p->recipe_path));
			json_object_set_new(e, "packages", strv(p->resulting));
			json_object_set_new(e, "given", strv(p->required));
			json_object_set_new(e, "waiting_for", strv(p->missing));
			json_array_append_new(ports, e);
		}
		json_object_set_new(o, "ports", ports);
	}
	return o;
}

char *report_buildrun_json(const struct buildrun *r)
{
	return dump(run_object(r, 1));
}

char *report_buildruns_json(struct buildrun *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, run_object(v[i], 0));
	return dump(a);
}
