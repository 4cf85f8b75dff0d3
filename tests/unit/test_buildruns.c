/*
 * test_buildruns.c - build runs in a real SQLite state (store/buildruns.c)
 * and as buildmaster's frontend reads them (json/status.c): every list
 * and field survives the database, and status.json has the frontend's
 * fields with their types.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "json/status.h"
#include "store/buildruns.h"

#include "state_fixture.h"

static char **strv(const char *a, const char *b)
{
	char **v = xcalloc(3, sizeof(char *));
	if (a)
		v[0] = xstrdup(a);
	if (a && b)
		v[1] = xstrdup(b);
	return v;
}

static void port(struct br_port *p, const char *name, enum br_state st, const char *missing)
{
	memset(p, 0, sizeof(*p));
	p->port = xasprintf("%s-1.0", name);
	p->name = xstrdup(name);
	p->version = xstrdup("1.0");
	p->revision = 2;
	p->recipe_path = xasprintf("app-misc/%s/%s-1.0.recipe", name, name);
	p->state = st;
	char *file = xasprintf("%s-1.0-2-x86_64.hpkg", name);
	p->makes = strv(p->port, NULL);
	p->resulting = strv(file, NULL);
	p->required = strv("haiku-r1-1-x86_64.hpkg", "zlib-1.3-1-x86_64.hpkg");
	p->missing = strv(missing, NULL);
	free(file);
}

static struct buildrun *sample(void)
{
	struct buildrun *r = xcalloc(1, sizeof(*r));

	r->tree = xstrdup("hp");
	r->commit = xstrdup("0123456789012345678901234567890123456789");
	r->image = xstrdup("tg");
	r->kind = xstrdup("build");
	r->status = xstrdup("scheduling");
	r->slots = 2;
	r->start = 1700000000;
	r->nports = 4;
	r->ports = xcalloc(4, sizeof(*r->ports));
	port(&r->ports[0], "alpha", BR_ACTIVE, NULL);
	r->ports[0].slot = xstrdup("vm-2");
	r->ports[0].build_id = 7;
	port(&r->ports[1], "beta", BR_BLOCKED, "alpha-1.0");
	port(&r->ports[2], "gamma", BR_LOST, NULL);
	r->ports[2].reason = xstrdup("dependency cycle: gamma-1.0 -> delta-1.0 -> gamma-1.0");
	port(&r->ports[3], "delta", BR_SKIPPED, NULL);
	r->ports[3].reason = xstrdup("revision bump required");
	return r;
}

static void test_roundtrip(void **state)
{
	struct db *db = fdb(state);
	struct buildrun *r = sample(), *g;
	int64_t last;

	assert_int_equal(buildruns_insert(db, r), 0);
	assert_true(r->id > 0);
	assert_int_equal(buildruns_get(db, r->id, &g), 0);
	assert_int_equal(g->nports, 4);
	assert_string_equal(g->ports[1].port, "beta-1.0");
	assert_int_equal(g->ports[1].state, BR_BLOCKED);
	assert_string_equal(g->ports[1].missing[0], "alpha-1.0");
	assert_null(g->ports[1].missing[1]);
	assert_string_equal(g->ports[0].required[1], "zlib-1.3-1-x86_64.hpkg");
	assert_string_equal(g->ports[0].slot, "vm-2");
	assert_int_equal(g->ports[0].build_id, 7);
	assert_null(g->ports[1].reason);
	assert_string_equal(g->ports[2].reason,
			    "dependency cycle: gamma-1.0 -> delta-1.0 -> gamma-1.0");
	assert_int_equal(g->ports[0].revision, 2);
	buildrun_free(g);

	/* A port's state written back; the order of ports is kept. */
	r->ports[1].state = BR_SCHEDULED;
	mf_strv_free(r->ports[1].missing);
	r->ports[1].missing = xcalloc(1, sizeof(char *));
	assert_int_equal(buildruns_save_port(db, r->id, &r->ports[1]), 0);
	free(r->status);
	r->status = xstrdup("complete (with 1 failure)");
	r->end = 1700000100;
	assert_int_equal(buildruns_save(db, r), 0);
	assert_int_equal(buildruns_get(db, r->id, &g), 0);
	assert_int_equal(g->ports[1].state, BR_SCHEDULED);
	assert_null(g->ports[1].missing[0]);
	assert_string_equal(g->ports[2].port, "gamma-1.0");
	assert_string_equal(g->status, "complete (with 1 failure)");
	assert_true(g->end == 1700000100);
	buildrun_free(g);

	assert_int_equal(buildruns_last(db, &last), 0);
	assert_int_equal(last, r->id);
	assert_int_equal(buildruns_get(db, 999, &g), -1);
	buildrun_free(r);
}

static json_t *field(json_t *o, const char *path)
{
	json_t *v = o;
	char *copy = xstrdup(path), *save = NULL;

	for (char *k = strtok_r(copy, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
		v = json_is_array(v) ? json_array_get(v, (size_t)atoi(k)) : json_object_get(v, k);
	free(copy);
	if (!v)
		fail_msg("status.json has no %s", path);
	return v;
}

/* status.json: every field HaikuPorter's frontend reads, with its type. */
static void test_status_json(void **state)
{
	struct buildrun *r = sample();
	(void)state;

	r->id = 3;
	char *text = report_buildrun_status(r, "https://github.com/haikuports/haikuports", 42);
	json_error_t err;
	json_t *doc = json_loads(text, 0, &err);
	assert_non_null(doc);
	static const char *const lists[] = { "active", "scheduled", "blocked", "complete",
					     "failed", "lost", "skipped" };
	for (size_t i = 0; i < 7; i++) {
		char path[64];
		snprintf(path, sizeof(path), "builds.%s", lists[i]);
		assert_true(json_is_array(field(doc, path)));
	}
	assert_string_equal(json_string_value(field(doc, "builds.active.0.port.revisionedName")),
			    "alpha-1.0-2");
	assert_string_equal(json_string_value(field(doc, "builds.active.0.port.revision")), "2");
	assert_string_equal(json_string_value(field(doc, "builds.active.0.port.recipeFilePath")),
			    "app-misc/alpha/alpha-1.0.recipe");
	assert_int_equal(json_integer_value(field(doc, "builds.active.0.buildNumbers.0")), 7);
	assert_true(json_is_false(field(doc, "builds.blocked.0.buildable")));
	assert_string_equal(json_string_value(field(doc, "builds.blocked.0.missingPackageIDs.0")),
			    "alpha-1.0");
	assert_true(json_is_true(field(doc, "builds.lost.0.lost")));
	assert_string_equal(json_string_value(field(doc, "builds.skipped.0.reason")),
			    "revision bump required");
	/* The slot running alpha is an active builder with its current build. */
	assert_string_equal(json_string_value(field(doc, "builders.active.0.name")), "vm-2");
	assert_int_equal(json_integer_value(field(doc, "builders.active.0.currentBuild.number")), 7);
	assert_string_equal(json_string_value(field(doc, "builders.idle.0.name")), "vm-1");
	assert_true(json_is_null(field(doc, "builders.idle.0.currentBuild")));
	assert_true(json_is_array(field(doc, "builders.lost")));
	assert_int_equal(json_integer_value(field(doc, "nextBuildNumber")), 42);
	assert_string_equal(json_string_value(field(doc, "portsTreeHead")), r->commit);
	assert_true(json_is_number(field(doc, "startTime")));
	assert_true(json_is_null(field(doc, "endTime")));
	json_decref(doc);
	free(text);

	text = report_buildrun_record(&r->ports[0], 7, 1700000000.0, 12.5);
	doc = json_loads(text, 0, &err);
	assert_non_null(doc);
	assert_int_equal(json_integer_value(field(doc, "buildNumbers.0")), 7);
	assert_true(json_is_false(field(doc, "buildSuccess")));
	assert_null(json_object_get(field(doc, "port"), "recipeFilePath"));
	json_decref(doc);
	free(text);
	buildrun_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, state_fixture_setup,
						state_fixture_teardown),
		cmocka_unit_test(test_status_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
