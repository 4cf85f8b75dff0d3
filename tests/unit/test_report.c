/* test_report.c - the JSON documents, parsed back with jansson. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/images.h"
#include "store/builds.h"
#include "json/report.h"
#include "common/util.h"

/* Generated with: ssh-keygen -t ed25519 -C mayfly-test; ssh-keygen -lf. */
#define TEST_KEY_B64 "AAAAC3NzaC1lZDI1NTE5AAAAIJPUUGOY4GhMF1ko3UKGi29PHOnCHoNGrYL3Vg2n658C"
#define TEST_KEY "ssh-ed25519 " TEST_KEY_B64
#define TEST_KEY_FP "SHA256:qpkR8vZoS3cZLst3lH2QYYMCGtSQF0qywpkUphIRXw4"

#define SHA_A "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_B "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static json_t *parse(const char *text)
{
	json_error_t err;
	json_t *doc;

	assert_non_null(text);
	/* Each document ends with exactly one newline. */
	assert_true(strlen(text) > 0);
	assert_int_equal(text[strlen(text) - 1], '\n');
	doc = json_loads(text, JSON_REJECT_DUPLICATES, &err);
	if (!doc)
		fail_msg("invalid JSON (%s at line %d):\n%s", err.text, err.line, text);
	return doc;
}

static json_t *member(json_t *obj, const char *key, json_type type)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		fail_msg("no member '%s'", key);
	if (json_typeof(v) != type)
		fail_msg("member '%s' has type %d, expected %d", key, (int)json_typeof(v), (int)type);
	return v;
}

static void assert_str_member(json_t *obj, const char *key, const char *want)
{
	assert_string_equal(json_string_value(member(obj, key, JSON_STRING)), want);
}

static void assert_int_member(json_t *obj, const char *key, json_int_t want)
{
	assert_int_equal(json_integer_value(member(obj, key, JSON_INTEGER)), want);
}

static void fill_success(struct build_result *r)
{
	memset(r, 0, sizeof(*r));
	r->id = 42;
	r->image = xstrdup("haiku-r1b5");
	r->status = BUILD_SUCCEEDED;
	r->exit_code = 0;
	r->error = NULL;
	snprintf(r->phases[0].name, sizeof(r->phases[0].name), "clone");
	r->phases[0].duration_ms = 120;
	snprintf(r->phases[1].name, sizeof(r->phases[1].name), "boot");
	r->phases[1].duration_ms = 15300;
	r->nphases = 2;
	r->packages = xcalloc(2, sizeof(*r->packages));
	r->packages[0].name = xstrdup("zlib-1.3-1-x86_64.hpkg");
	r->packages[0].size = 123456;
	memcpy(r->packages[0].sha256, SHA_A, SHA256_HEX_LEN);
	r->packages[0].path = xstrdup("/out/zlib-1.3-1-x86_64.hpkg");
	r->packages[1].name = xstrdup("zlib_devel-1.3-1-x86_64.hpkg");
	r->packages[1].size = 5000000000ULL; /* more than 32 bits */
	memcpy(r->packages[1].sha256, SHA_B, SHA256_HEX_LEN);
	r->packages[1].path = xstrdup("/out/zlib_devel-1.3-1-x86_64.hpkg");
	r->npackages = 2;
	r->log_path = xstrdup("/var/lib/mayfly/builds/42/build.log");
	r->console_path = xstrdup("/var/lib/mayfly/builds/42/console.log");
	r->out_dir = xstrdup("/out");
	r->duration_ms = 98765;
}

static void test_build_success(void **state)
{
	struct build_result r;
	json_t *doc, *phases, *pkgs, *p;
	char *text;

	fill_success(&r);
	text = report_build_json(&r);
	doc = parse(text);
	assert_true(json_is_object(doc));
	assert_int_equal(json_object_size(doc), 11);
	assert_int_member(doc, "id", 42);
	assert_str_member(doc, "image", "haiku-r1b5");
	assert_str_member(doc, "status", "succeeded");
	assert_int_member(doc, "exit_code", 0);
	member(doc, "error", JSON_NULL);
	assert_int_member(doc, "duration_ms", 98765);

	phases = member(doc, "phases", JSON_ARRAY);
	assert_int_equal(json_array_size(phases), 2);
	p = json_array_get(phases, 0);
	assert_str_member(p, "name", "clone");
	assert_int_member(p, "duration_ms", 120);
	p = json_array_get(phases, 1);
	assert_str_member(p, "name", "boot");
	assert_int_member(p, "duration_ms", 15300);

	pkgs = member(doc, "packages", JSON_ARRAY);
	assert_int_equal(json_array_size(pkgs), 2);
	p = json_array_get(pkgs, 0);
	assert_str_member(p, "name", "zlib-1.3-1-x86_64.hpkg");
	assert_int_member(p, "size", 123456);
	assert_str_member(p, "sha256", SHA_A);
	assert_str_member(p, "path", "/out/zlib-1.3-1-x86_64.hpkg");
	p = json_array_get(pkgs, 1);
	assert_str_member(p, "name", "zlib_devel-1.3-1-x86_64.hpkg");
	assert_int_member(p, "size", 5000000000LL);
	assert_str_member(p, "sha256", SHA_B);
	assert_str_member(p, "path", "/out/zlib_devel-1.3-1-x86_64.hpkg");

	assert_str_member(doc, "log", "/var/lib/mayfly/builds/42/build.log");
	assert_str_member(doc, "console_log", "/var/lib/mayfly/builds/42/console.log");
	assert_str_member(doc, "out_dir", "/out");

	json_decref(doc);
	free(text);
	build_result_release(&r);
}

static void test_build_timed_out(void **state)
{
	struct build_result r;
	json_t *doc;
	char *text;

	memset(&r, 0, sizeof(r));
	r.id = 7;
	r.image = xstrdup("img");
	r.status = BUILD_TIMED_OUT;
	r.exit_code = -1;
	r.error = xstrdup("the build ran longer than 3600 s \"limit\"\n\tand quit");
	r.duration_ms = 3600001;
	text = report_build_json(&r);
	doc = parse(text);
	assert_int_member(doc, "id", 7);
	assert_str_member(doc, "status", "timed_out");
	member(doc, "exit_code", JSON_NULL);
	assert_str_member(doc, "error", "the build ran longer than 3600 s \"limit\"\n\tand quit");
	assert_int_member(doc, "duration_ms", 3600001);
	assert_int_equal(json_array_size(member(doc, "phases", JSON_ARRAY)), 0);
	assert_int_equal(json_array_size(member(doc, "packages", JSON_ARRAY)), 0);
	member(doc, "log", JSON_NULL);
	member(doc, "console_log", JSON_NULL);
	member(doc, "out_dir", JSON_NULL);
	json_decref(doc);
	free(text);
	build_result_release(&r);
}

static void test_build_status_names(void **state)
{
	static const struct {
		enum build_status s;
		const char *name;
		int exit_code;
	} all[] = {
		{ BUILD_RUNNING, "running", 0 },
		{ BUILD_SUCCEEDED, "succeeded", 0 },
		{ BUILD_FAILED, "failed", 2 },
		{ BUILD_INFRA_ERROR, "infra_error", -1 },
		{ BUILD_TIMED_OUT, "timed_out", -1 },
		{ BUILD_CANCELLED, "cancelled", -1 },
	};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		struct build_result r;
		json_t *doc;
		char *text;

		memset(&r, 0, sizeof(r));
		r.status = all[i].s;
		r.exit_code = all[i].exit_code;
		text = report_build_json(&r);
		doc = parse(text);
		assert_str_member(doc, "status", all[i].name);
		member(doc, "image", JSON_NULL);
		if (all[i].exit_code >= 0)
			assert_int_member(doc, "exit_code", all[i].exit_code);
		else
			member(doc, "exit_code", JSON_NULL);
		json_decref(doc);
		free(text);
	}
}

static struct image *make_image(const char *name, enum disk_bus bus)
{
	struct image *img = xcalloc(1, sizeof(*img));

	img->name = xstrdup(name);
	img->volume = xasprintf("golden-%s.qcow2", name);
	img->path = xasprintf("/var/lib/mayfly/pool/golden-%s.qcow2", name);
	img->source = xstrdup("/home/me/haiku.raw");
	img->sha256 = xstrdup(SHA_A);
	img->format = xstrdup("raw");
	img->virtual_size = 8589934592ULL;
	img->host_key = xstrdup(TEST_KEY);
	img->created = 1700000000; /* 2023-11-14T22:13:20Z */
	img->settings.ssh_user = xstrdup("user");
	img->settings.ssh_key = xasprintf("/var/lib/mayfly/keys/%s", name);
	img->settings.build_command = xstrdup(IMAGE_DEFAULT_BUILD_COMMAND);
	img->settings.packages_dir = xstrdup(IMAGE_DEFAULT_PACKAGES_DIR);
	img->settings.memory_mib = 3072;
	img->settings.vcpus = 4;
	img->settings.disk_bus = bus;
	img->settings.boot_timeout = 240;
	img->settings.tree_path = xstrdup(IMAGE_DEFAULT_TREE_PATH);
	img->settings.haikuporter = xstrdup(IMAGE_DEFAULT_HAIKUPORTER);
	img->settings.haikuporter_args = xstrdup("");
	img->settings.target_arch = xstrdup(IMAGE_DEFAULT_TARGET_ARCH);
	img->settings.secondary_arches = xstrdup("x86");
	img->settings.no_system_packages = 1;
	return img;
}

static void check_image(json_t *o, const char *name, const char *bus)
{
	char buf[128];
	json_t *set;

	assert_true(json_is_object(o));
	assert_str_member(o, "name", name);
	snprintf(buf, sizeof(buf), "golden-%s.qcow2", name);
	assert_str_member(o, "volume", buf);
	snprintf(buf, sizeof(buf), "/var/lib/mayfly/pool/golden-%s.qcow2", name);
	assert_str_member(o, "path", buf);
	assert_str_member(o, "source", "/home/me/haiku.raw");
	assert_str_member(o, "sha256", SHA_A);
	assert_str_member(o, "format", "raw");
	assert_int_member(o, "virtual_size", 8589934592LL);
	assert_str_member(o, "host_key", TEST_KEY);
	assert_str_member(o, "host_key_fingerprint", TEST_KEY_FP);
	assert_str_member(o, "created", "2023-11-14T22:13:20Z");

	set = member(o, "settings", JSON_OBJECT);
	assert_int_equal(json_object_size(set), 16);
	/* No restore command set: the default is shown. */
	assert_str_member(set, "restore_command", IMAGE_DEFAULT_RESTORE_COMMAND);
	assert_int_member(set, "warm", 0);
	json_t *snap = member(o, "snapshots", JSON_OBJECT);
	assert_int_member(snap, "slots", 0);
	assert_int_member(snap, "restores", 0);
	assert_true(json_is_null(json_object_get(snap, "disabled")));
	assert_str_member(set, "tree_path", IMAGE_DEFAULT_TREE_PATH);
	assert_str_member(set, "target_arch", IMAGE_DEFAULT_TARGET_ARCH);
	assert_str_member(set, "secondary_arches", "x86");
	assert_true(json_is_true(json_object_get(set, "no_system_packages")));
	assert_true(json_is_null(json_object_get(o, "tree_commit")));
	assert_str_member(set, "ssh_user", "user");
	snprintf(buf, sizeof(buf), "/var/lib/mayfly/keys/%s", name);
	assert_str_member(set, "ssh_key", buf);
	assert_str_member(set, "build_command", IMAGE_DEFAULT_BUILD_COMMAND);
	assert_str_member(set, "packages_dir", IMAGE_DEFAULT_PACKAGES_DIR);
	assert_int_member(set, "memory_mib", 3072);
	assert_int_member(set, "vcpus", 4);
	assert_str_member(set, "disk_bus", bus);
	assert_int_member(set, "boot_timeout", 240);
}

static void test_image_json(void **state)
{
	struct image *img = make_image("haiku", DISK_BUS_VIRTIO);
	json_t *doc;
	char *text;

	text = report_image_json(img);
	doc = parse(text);
	check_image(doc, "haiku", "virtio");
	assert_true(strncmp(json_string_value(json_object_get(doc, "host_key_fingerprint")),
			    "SHA256:", 7) == 0);
	json_decref(doc);
	free(text);
	image_free(img);
}

static void test_images_json(void **state)
{
	struct image *v[2];
	json_t *doc;
	char *text;

	v[0] = make_image("alpha", DISK_BUS_SATA);
	v[1] = make_image("beta", DISK_BUS_IDE);
	text = report_images_json(v, 2);
	doc = parse(text);
	assert_true(json_is_array(doc));
	assert_int_equal(json_array_size(doc), 2);
	check_image(json_array_get(doc, 0), "alpha", "sata");
	check_image(json_array_get(doc, 1), "beta", "ide");
	json_decref(doc);
	free(text);
	image_free(v[0]);
	image_free(v[1]);

	text = report_images_json(NULL, 0);
	doc = parse(text);
	assert_true(json_is_array(doc));
	assert_int_equal(json_array_size(doc), 0);
	json_decref(doc);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_success),
		cmocka_unit_test(test_build_timed_out),
		cmocka_unit_test(test_build_status_names),
		cmocka_unit_test(test_image_json),
		cmocka_unit_test(test_images_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
