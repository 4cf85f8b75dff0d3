/*
 * test_wire.c - the JSON documents between vmctl and mayflyd: build
 * submissions (parsed and checked), build records read back from
 * report.h's documents, ids and error answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/builds.h"
#include "common/error.h"
#include "json/report.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "json/wire.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void assert_msg_has(const char *needle)
{
	if (!strstr(mf_error_msg(), needle))
		fail_msg("error message '%s' does not contain '%s'", mf_error_msg(), needle);
}

/* Parses body, which must be accepted; the caller releases *s. */
static void parse_ok(const char *body, struct wire_submission *s)
{
	char *field = (char *)"untouched";

	mf_error_clear();
	if (wire_parse_submission(body, strlen(body), s, &field) != 0)
		fail_msg("submission refused: %s (field %s)\n%s", mf_error_msg(),
			 field ? field : "none", body);
	assert_null(field);
}

/* The submission is refused as MF_E_USAGE naming want_field (NULL: none). */
static void parse_refused(const char *body, const char *want_field, const char *needle)
{
	struct wire_submission s;
	char *field = NULL;

	memset(&s, 0, sizeof(s));
	mf_error_clear();
	if (wire_parse_submission(body, strlen(body), &s, &field) != -1)
		fail_msg("submission accepted: %s", body);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	if (want_field) {
		if (!field)
			fail_msg("no field named for %s (error: %s)", body, mf_error_msg());
		if (strcmp(field, want_field) != 0)
			fail_msg("field '%s', expected '%s' for %s", field, want_field, body);
	} else if (field) {
		fail_msg("field '%s', expected none for %s", field, body);
	}
	if (needle)
		assert_msg_has(needle);
	/* Nothing half-parsed is left behind. */
	assert_null(s.image);
	assert_null(s.recipes);
	assert_int_equal(s.nrecipes, 0);
	assert_null(s.inputs);
	assert_int_equal(s.ninputs, 0);
	assert_null(s.tree);
	assert_null(s.commit);
	assert_null(s.ports);
	assert_int_equal(s.nports, 0);
	assert_int_equal(s.timeout, 0);
	assert_int_equal(s.priority, 0);
	free(field);
}

static void test_submission_minimal(void **state)
{
	struct wire_submission s;

	parse_ok("{\"image\":\"tg\",\"recipes\":[\"a\",\"b-1.0\"]}", &s);
	assert_string_equal(s.image, "tg");
	assert_int_equal(s.nrecipes, 2);
	assert_string_equal(s.recipes[0], "a");
	assert_string_equal(s.recipes[1], "b-1.0");
	assert_null(s.recipes[2]);
	assert_int_equal(s.timeout, 0);
	assert_int_equal(s.priority, 0);
	assert_int_equal(s.ninputs, 0);
	wire_submission_release(&s);
	assert_null(s.image);
	assert_null(s.recipes);
	/* Releasing twice is harmless: the struct was zeroed. */
	wire_submission_release(&s);
}

static void test_submission_full(void **state)
{
	struct wire_submission s;

	parse_ok("{\"image\": \"haiku-r1\", \"recipes\": [\"zlib\"], \"timeout\": 600,\n"
		 " \"priority\": -7,\n"
		 " \"inputs\": [{\"name\": \"dep.hpkg\", \"content_base64\": \"aGVsbG8=\"},\n"
		 "            {\"content_base64\": \"\", \"name\": \"empty-1.0.hpkg\"}]}", &s);
	assert_string_equal(s.image, "haiku-r1");
	assert_int_equal(s.nrecipes, 1);
	assert_string_equal(s.recipes[0], "zlib");
	assert_null(s.recipes[1]);
	assert_int_equal(s.timeout, 600);
	assert_int_equal(s.priority, -7);
	assert_int_equal(s.ninputs, 2);
	assert_string_equal(s.inputs[0].name, "dep.hpkg");
	assert_int_equal(s.inputs[0].len, 5);
	assert_memory_equal(s.inputs[0].data, "hello", 5);
	assert_string_equal(s.inputs[1].name, "empty-1.0.hpkg");
	assert_int_equal(s.inputs[1].len, 0);
	wire_submission_release(&s);
	assert_null(s.inputs);
	assert_int_equal(s.ninputs, 0);
}

static void test_submission_limits_accepted(void **state)
{
	struct wire_submission s;
	struct strbuf sb = STRBUF_INIT;

	parse_ok("{\"image\":\"tg\",\"recipes\":[\"a\"],\"timeout\":604800,\"priority\":1000}", &s);
	assert_int_equal(s.timeout, 604800);
	assert_int_equal(s.priority, 1000);
	wire_submission_release(&s);
	parse_ok("{\"image\":\"tg\",\"recipes\":[\"a\"],\"timeout\":1,\"priority\":-1000,"
		 "\"inputs\":[]}", &s);
	assert_int_equal(s.timeout, 1);
	assert_int_equal(s.priority, -1000);
	assert_int_equal(s.ninputs, 0);
	wire_submission_release(&s);

	/* Exactly WIRE_MAX_RECIPES recipes. */
	strbuf_addstr(&sb, "{\"image\":\"tg\",\"recipes\":[");
	for (int i = 0; i < WIRE_MAX_RECIPES; i++)
		strbuf_addf(&sb, "%s\"r%d\"", i ? "," : "", i);
	strbuf_addstr(&sb, "]}");
	parse_ok(sb.buf, &s);
	assert_int_equal(s.nrecipes, WIRE_MAX_RECIPES);
	assert_string_equal(s.recipes[WIRE_MAX_RECIPES - 1], "r63");
	assert_null(s.recipes[WIRE_MAX_RECIPES]);
	wire_submission_release(&s);
	strbuf_release(&sb);
}

static void test_submission_malformed(void **state)
{
	parse_refused("{\"image\": \"tg\",\n \"recipes\": [\"a\",]}", NULL, "malformed JSON");
	assert_msg_has("line 2");
	assert_msg_has("column");
	parse_refused("", NULL, "malformed JSON");
	parse_refused("{\"image\":\"tg\"", NULL, "malformed JSON");
	/* JSON_REJECT_DUPLICATES: a repeated key is not silently overridden. */
	parse_refused("{\"image\":\"tg\",\"image\":\"other\",\"recipes\":[\"a\"]}", NULL,
		      "malformed JSON");
	/* Not an object. */
	parse_refused("[1]", NULL, "object");
	parse_refused("\"tg\"", NULL, NULL);
}

static void test_submission_length_is_used(void **state)
{
	const char *body = "{\"image\":\"tg\",\"recipes\":[\"a\"]}garbage";
	struct wire_submission s;
	char *field = NULL;

	/* Only len bytes are parsed. */
	assert_int_equal(wire_parse_submission(body, strlen(body) - 7, &s, &field), 0);
	assert_null(field);
	assert_string_equal(s.image, "tg");
	wire_submission_release(&s);
	mf_error_clear();
	assert_int_equal(wire_parse_submission(body, strlen(body), &s, &field), -1);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	assert_null(s.image);
	free(field);
}

static void test_submission_image(void **state)
{
	parse_refused("{\"recipes\":[\"a\"]}", "image", "'image' is required");
	parse_refused("{\"image\":5,\"recipes\":[\"a\"]}", "image", "must be a string");
	parse_refused("{\"image\":null,\"recipes\":[\"a\"]}", "image", NULL);
	parse_refused("{\"image\":[\"tg\"],\"recipes\":[\"a\"]}", "image", NULL);
	parse_refused("{\"image\":\"t g\",\"recipes\":[\"a\"]}", "image", "invalid image name");
	parse_refused("{\"image\":\"../tg\",\"recipes\":[\"a\"]}", "image", "invalid image name");
	parse_refused("{\"image\":\"\",\"recipes\":[\"a\"]}", "image", "empty");
	parse_refused("{\"image\":\"tg+x\",\"recipes\":[\"a\"]}", "image", "'+'");
}

static void test_submission_recipes(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	parse_refused("{\"image\":\"tg\"}", "recipes", "'recipes' is required");
	parse_refused("{\"image\":\"tg\",\"recipes\":[]}", "recipes", "non-empty array");
	parse_refused("{\"image\":\"tg\",\"recipes\":\"a\"}", "recipes", NULL);
	parse_refused("{\"image\":\"tg\",\"recipes\":{\"a\":1}}", "recipes", NULL);
	parse_refused("{\"image\":\"tg\",\"recipes\":null}", "recipes", NULL);
	parse_refused("{\"image\":\"tg\",\"recipes\":[\"a\",5]}", "recipes[1]", "must be a string");
	parse_refused("{\"image\":\"tg\",\"recipes\":[\"a\",null]}", "recipes[1]", NULL);
	parse_refused("{\"image\":\"tg\",\"recipes\":[\"a\",\"-bad\"]}", "recipes[1]",
		      "invalid recipe name");
	parse_refused("{\"image\":\"tg\",\"recipes\":[\"a\",\"x;rm -rf /\"]}", "recipes[1]",
		      "invalid recipe name");
	parse_refused("{\"image\":\"tg\",\"recipes\":[\"\"]}", "recipes[0]", "empty");

	/* One more than WIRE_MAX_RECIPES. */
	strbuf_addstr(&sb, "{\"image\":\"tg\",\"recipes\":[");
	for (int i = 0; i <= WIRE_MAX_RECIPES; i++)
		strbuf_addf(&sb, "%s\"r%d\"", i ? "," : "", i);
	strbuf_addstr(&sb, "]}");
	parse_refused(sb.buf, "recipes", "more than 64");
	strbuf_release(&sb);
}

static void test_submission_ports(void **state)
{
	struct wire_submission s;
	char *json;

	parse_ok("{\"image\":\"tg\",\"tree\":\"hp\",\"commit\":\"v1.0~2\","
		 "\"ports\":[\"zlib\",\"zlib_x86-1.3\"]}", &s);
	assert_string_equal(s.tree, "hp");
	assert_string_equal(s.commit, "v1.0~2");
	assert_int_equal(s.nports, 2);
	assert_string_equal(s.ports[1], "zlib_x86-1.3");
	assert_null(s.ports[2]);
	assert_null(s.recipes);
	/* What vmctl sends is what mayflyd reads. */
	json = wire_submission_json(&s);
	wire_submission_release(&s);
	parse_ok(json, &s);
	assert_string_equal(s.tree, "hp");
	assert_string_equal(s.commit, "v1.0~2");
	assert_int_equal(s.nports, 2);
	wire_submission_release(&s);
	free(json);
	parse_ok("{\"image\":\"tg\",\"tree\":\"hp\",\"ports\":[\"zlib\"]}", &s);
	assert_null(s.commit);
	wire_submission_release(&s);

	parse_refused("{\"image\":\"tg\",\"tree\":\"hp\"}", "ports", "'ports' is required");
	parse_refused("{\"image\":\"tg\",\"tree\":\"hp\",\"ports\":[]}", "ports", "non-empty");
	parse_refused("{\"image\":\"tg\",\"tree\":\"hp\",\"recipes\":[\"a\"],\"ports\":[\"a\"]}",
		      "recipes", "either");
	parse_refused("{\"image\":\"tg\",\"ports\":[\"a\"]}", "tree", "required with");
	parse_refused("{\"image\":\"tg\",\"recipes\":[\"a\"],\"commit\":\"HEAD\"}", "tree",
		      NULL);
	parse_refused("{\"image\":\"tg\",\"tree\":\"../x\",\"ports\":[\"a\"]}", "tree", NULL);
	parse_refused("{\"image\":\"tg\",\"tree\":5,\"ports\":[\"a\"]}", "tree", "string");
	parse_refused("{\"image\":\"tg\",\"tree\":\"hp\",\"ports\":[\"a;reboot\"]}",
		      "ports[0]", "invalid recipe name");
	parse_refused("{\"image\":\"tg\",\"tree\":\"hp\",\"commit\":\"HEAD@{1}\","
		      "\"ports\":[\"a\"]}", "commit", "not a revision");
	parse_refused("{\"image\":\"tg\",\"tree\":\"hp\",\"commit\":\"--upload-pack=x\","
		      "\"ports\":[\"a\"]}", "commit", "not a revision");
	parse_refused("{\"image\":\"tg\",\"tree\":\"hp\",\"commit\":\"a..b\","
		      "\"ports\":[\"a\"]}", "commit", "not a revision");
	parse_refused("{\"image\":\"tg\",\"tree\":\"hp\",\"commit\":1,\"ports\":[\"a\"]}",
		      "commit", "string");
}

static void test_submission_unknown_field(void **state)
{
	parse_refused("{\"image\":\"tg\",\"recipes\":[\"a\"],\"timout\":60}", "timout",
		      "unknown field 'timout'");
	parse_refused("{\"image\":\"tg\",\"recipes\":[\"a\"],\"Image\":\"x\"}", "Image",
		      "unknown field");
}

static void test_submission_timeout_priority(void **state)
{
	parse_refused("{\"image\":\"tg\",\"recipes\":[\"a\"],\"timeout\":0}", "timeout",
		      "'timeout' must be a whole number from 1 to 604800");
	parse_refused("{\"image\":\"tg\",\"recipes\":[\"a\"],\"timeout\":\"5\"}", "timeout", NULL);
	parse_refused("{\"image\":\"tg\",\"recipes\":[\"a\"],\"timeout\":604801}", "timeout", NULL);
	parse_refused("{\"image\":\"tg\",\"recipes\":[\"a\"],\"timeout\":-1}", "timeout", NULL);
	parse_refused("{\"image\":\"tg\",\"recipes\":[\"a\"],\"timeout\":1.5}", "timeout", NULL);
	parse_refused("{\"image\":\"tg\",\"recipes\":[\"a\"],\"timeout\":null}", "timeout", NULL);
	/* Too big for an int: refused, never truncated. */
	parse_refused("{\"image\":\"tg\",\"recipes\":[\"a\"],\"timeout\":4294967896}", "timeout",
		      NULL);
	parse_refused("{\"image\":\"tg\",\"recipes\":[\"a\"],\"priority\":1001}", "priority",
		      "'priority' must be a whole number from -1000 to 1000");
	parse_refused("{\"image\":\"tg\",\"recipes\":[\"a\"],\"priority\":-1001}", "priority",
		      NULL);
	parse_refused("{\"image\":\"tg\",\"recipes\":[\"a\"],\"priority\":true}", "priority",
		      NULL);
}

#define SUB_INPUTS(x) "{\"image\":\"tg\",\"recipes\":[\"a\"],\"inputs\":" x "}"

static void test_submission_inputs(void **state)
{
	parse_refused(SUB_INPUTS("{}"), "inputs", "must be an array");
	parse_refused(SUB_INPUTS("\"dep.hpkg\""), "inputs", NULL);
	parse_refused(SUB_INPUTS("[\"dep.hpkg\"]"), "inputs[0]", "must be an object");
	parse_refused(SUB_INPUTS("[{\"name\":\"a\",\"content_base64\":\"\"}, 5]"), "inputs[1]",
		      NULL);
	parse_refused(SUB_INPUTS("[{\"name\":\"a\",\"content_base64\":\"\",\"extra\":1}]"),
		      "inputs[0].extra", "unknown field");
	parse_refused(SUB_INPUTS("[{\"content_base64\":\"\"}]"), "inputs[0].name", NULL);
	parse_refused(SUB_INPUTS("[{\"name\":7,\"content_base64\":\"\"}]"), "inputs[0].name",
		      NULL);
	parse_refused(SUB_INPUTS("[{\"name\":\"../x\",\"content_base64\":\"\"}]"),
		      "inputs[0].name", "invalid input name");
	parse_refused(SUB_INPUTS("[{\"name\":\".hidden\",\"content_base64\":\"\"}]"),
		      "inputs[0].name", "invalid input name");
	parse_refused(SUB_INPUTS("[{\"name\":\"a b\",\"content_base64\":\"\"}]"),
		      "inputs[0].name", "invalid input name");
	parse_refused(SUB_INPUTS("[{\"name\":\"a/b\",\"content_base64\":\"\"}]"),
		      "inputs[0].name", "invalid input name");
	parse_refused(SUB_INPUTS("[{\"name\":\"\",\"content_base64\":\"\"}]"),
		      "inputs[0].name", NULL);
	parse_refused(SUB_INPUTS("[{\"name\":\"d.hpkg\",\"content_base64\":\"Zg==\"},"
				 " {\"name\":\"d.hpkg\",\"content_base64\":\"Zg==\"}]"),
		      "inputs[1].name", "repeats the name 'd.hpkg'");
	parse_refused(SUB_INPUTS("[{\"name\":\"a\"}]"), "inputs[0].content_base64", NULL);
	parse_refused(SUB_INPUTS("[{\"name\":\"a\",\"content_base64\":5}]"),
		      "inputs[0].content_base64", NULL);
	parse_refused(SUB_INPUTS("[{\"name\":\"a\",\"content_base64\":\"!!!!\"}]"),
		      "inputs[0].content_base64", "base64");
	parse_refused(SUB_INPUTS("[{\"name\":\"a\",\"content_base64\":\"abc\"}]"),
		      "inputs[0].content_base64", "base64");
	parse_refused(SUB_INPUTS("[{\"name\":\"a\",\"content_base64\":\"ab=c\"}]"),
		      "inputs[0].content_base64", "base64");
	/* A bad second input after a good first one: the first is freed too. */
	parse_refused(SUB_INPUTS("[{\"name\":\"a\",\"content_base64\":\"aGVsbG8=\"},"
				 " {\"name\":\"b\",\"content_base64\":\"aGVsbG8\"}]"),
		      "inputs[1].content_base64", NULL);
}

static void test_submission_too_many_inputs(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct wire_submission s;

	strbuf_addstr(&sb, "{\"image\":\"tg\",\"recipes\":[\"a\"],\"inputs\":[");
	for (int i = 0; i < WIRE_MAX_INPUTS; i++)
		strbuf_addf(&sb, "%s{\"name\":\"in%d\",\"content_base64\":\"Zg==\"}", i ? "," : "",
			    i);
	strbuf_addstr(&sb, "]}");
	parse_ok(sb.buf, &s);
	assert_int_equal(s.ninputs, WIRE_MAX_INPUTS);
	wire_submission_release(&s);

	strbuf_reset(&sb);
	strbuf_addstr(&sb, "{\"image\":\"tg\",\"recipes\":[\"a\"],\"inputs\":[");
	for (int i = 0; i <= WIRE_MAX_INPUTS; i++)
		strbuf_addf(&sb, "%s{\"name\":\"in%d\",\"content_base64\":\"Zg==\"}", i ? "," : "",
			    i);
	strbuf_addstr(&sb, "]}");
	parse_refused(sb.buf, "inputs", "more than 64");
	strbuf_release(&sb);
}

static void test_submission_roundtrip(void **state)
{
	char image[] = "haiku_x86.nightly", r0[] = "zlib", r1[] = "libsigc++", r2[] = "qt6-base-1.2";
	char *recipes[] = { r0, r1, r2, NULL };
	char n0[] = "dep-1.0-1-x86_64.hpkg", n1[] = "blob.bin", n2[] = "empty";
	unsigned char d0[] = { 'h', 'p', 'k', 0, 0, 1, 0xff, 0x80, 0 };
	unsigned char d1[200], d2[1] = { 0 };
	struct wire_input inputs[3] = {
		{ n0, d0, sizeof(d0) }, { n1, d1, sizeof(d1) }, { n2, d2, 0 },
	};
	struct wire_submission in = {
		.image = image, .recipes = recipes, .nrecipes = 3, .timeout = 900,
		.priority = -12, .inputs = inputs, .ninputs = 3,
	}, out;
	char *json, *field = NULL;

	for (size_t i = 0; i < sizeof(d1); i++)
		d1[i] = (unsigned char)(i * 7);
	json = wire_submission_json(&in);
	assert_non_null(json);
	if (wire_parse_submission(json, strlen(json), &out, &field) != 0)
		fail_msg("cannot parse back %s: %s", json, mf_error_msg());
	assert_null(field);
	assert_string_equal(out.image, image);
	assert_int_equal(out.nrecipes, 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(out.recipes[i], recipes[i]);
	assert_null(out.recipes[3]);
	assert_int_equal(out.timeout, 900);
	assert_int_equal(out.priority, -12);
	assert_int_equal(out.ninputs, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(out.inputs[i].name, inputs[i].name);
		assert_int_equal(out.inputs[i].len, inputs[i].len);
		if (inputs[i].len)
			assert_memory_equal(out.inputs[i].data, inputs[i].data, inputs[i].len);
	}
	wire_submission_release(&out);
	free(json);

	/* Without the optional fields: defaults come back, nothing else appears. */
	in.timeout = 0;
	in.priority = 0;
	in.ninputs = 0;
	in.inputs = NULL;
	json = wire_submission_json(&in);
	assert_null(strstr(json, "timeout"));
	assert_null(strstr(json, "inputs"));
	assert_int_equal(wire_parse_submission(json, strlen(json), &out, &field), 0);
	assert_int_equal(out.timeout, 0);
	assert_int_equal(out.priority, 0);
	assert_int_equal(out.ninputs, 0);
	assert_int_equal(out.nrecipes, 3);
	wire_submission_release(&out);
	free(json);
}

static void test_parse_ids(void **state)
{
	int64_t *ids = NULL;
	size_t n = 0;

	assert_int_equal(wire_parse_ids("{\"id\": 42, \"status\":\"queued\"}", &ids, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], 42);
	free(ids);
	assert_int_equal(wire_parse_ids("{\"id\": 8589934592}", &ids, &n), 0);
	assert_int_equal(ids[0], 8589934592LL);
	free(ids);
	assert_int_equal(wire_parse_ids("{\"id\": 7, \"builds\": [{\"id\": 7, \"port\": \"a-1\"}, "
					"{\"id\": 8}]}", &ids, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], 7);
	assert_int_equal(ids[1], 8);
	free(ids);

	mf_error_clear();
	assert_int_equal(wire_parse_ids("{}", &ids, &n), -1);
	assert_int_not_equal(mf_error_class(), MF_E_NONE);
	assert_null(ids);
	assert_int_equal(n, 0);
	assert_int_equal(wire_parse_ids("{\"id\": \"42\"}", &ids, &n), -1);
	assert_int_equal(wire_parse_ids("not json", &ids, &n), -1);
	assert_int_equal(wire_parse_ids("[42]", &ids, &n), -1);
	assert_int_equal(wire_parse_ids("{\"id\": 7, \"builds\": [{\"id\": \"7\"}]}", &ids, &n), -1);
	assert_null(ids);
}

static void test_error_text(void **state)
{
	char *t;

	t = wire_error_text("{\"error\":\"x\",\"field\":\"f\"}");
	assert_non_null(t);
	assert_string_equal(t, "x (field 'f')");
	free(t);
	t = wire_error_text("{\"error\":\"x\"}");
	assert_non_null(t);
	assert_string_equal(t, "x");
	free(t);
	/* What report_error_json writes comes back. */
	{
		char *doc = report_error_json("'recipes[1]': bad", "recipes[1]");
		t = wire_error_text(doc);
		assert_non_null(t);
		assert_string_equal(t, "'recipes[1]': bad (field 'recipes[1]')");
		free(t);
		free(doc);
	}
	assert_null(wire_error_text("not json"));
	assert_null(wire_error_text("{}"));
	assert_null(wire_error_text("{\"error\": 5}"));
	assert_null(wire_error_text(""));
}

/*
 * A finished build as mayflyd stores it. Strings are the fixture's arrays,
 * so nothing here is freed.
 */
struct record_fixture {
	char image[8], recipes[16], status[16], source[8], error[16], log[32], inputs[16];
	char pkgname[32], pkgpath[64], t1s[16], t2s[16];
	struct build_phase phases[2];
	struct build_package pkg;
	struct build_attempt tries[2];
	struct build_record r;
};

#define T_CREATED 1700000000LL
#define T_STARTED 1700000012LL
#define T_FINISHED 1700000345LL

static void record_fixture_init(struct record_fixture *f)
{
	memset(f, 0, sizeof(*f));
	strcpy(f->image, "tg");
	strcpy(f->recipes, "hello big-2");
	strcpy(f->status, "succeeded");
	strcpy(f->source, "api");
	strcpy(f->error, "boot failed");
	strcpy(f->log, "/srv/mayfly/builds/7/build.log");
	strcpy(f->inputs, "dep.hpkg");
	strcpy(f->pkgname, "hello-1.0-1-x86_64.hpkg");
	strcpy(f->pkgpath, "/srv/mayfly/builds/7/packages/hello-1.0-1-x86_64.hpkg");
	strcpy(f->t1s, "infra_error");
	strcpy(f->t2s, "succeeded");
	strcpy(f->phases[0].name, "clone");
	f->phases[0].duration_ms = 120;
	strcpy(f->phases[1].name, "build");
	f->phases[1].duration_ms = 98765;
	f->pkg.name = f->pkgname;
	f->pkg.size = 5000000000ULL;
	strcpy(f->pkg.sha256, SHA_A);
	f->pkg.path = f->pkgpath;
	f->tries[0] = (struct build_attempt){ 1, f->t1s, f->error, T_STARTED, T_STARTED + 40 };
	f->tries[1] = (struct build_attempt){ 2, f->t2s, NULL, T_STARTED + 50, T_FINISHED };
	f->r = (struct build_record){
		.id = 7, .image = f->image, .recipes = f->recipes, .status = f->status,
		.exit_code = 0, .source = f->source, .priority = 3, .timeout = 600,
		.attempts = 2, .created = T_CREATED, .started = T_STARTED,
		.finished = T_FINISHED, .log_path = f->log, .inputs = f->inputs,
		.phases = f->phases, .nphases = 2, .packages = &f->pkg, .npackages = 1,
		.tries = f->tries, .ntries = 2,
	};
}

static void test_record_roundtrip(void **state)
{
	struct record_fixture f;
	struct build_record *r = NULL;
	char *json;

	record_fixture_init(&f);
	json = report_record_json(&f.r);
	if (wire_parse_record(json, &r) != 0)
		fail_msg("cannot read back %s: %s", json, mf_error_msg());
	assert_non_null(r);
	assert_int_equal(r->id, 7);
	assert_string_equal(r->image, "tg");
	assert_string_equal(r->recipes, "hello big-2");
	assert_string_equal(r->status, "succeeded");
	assert_int_equal(r->exit_code, 0);
	assert_null(r->error);
	assert_string_equal(r->source, "api");
	assert_string_equal(r->log_path, f.log);
	assert_int_equal(r->created, T_CREATED);
	assert_int_equal(r->started, T_STARTED);
	assert_int_equal(r->finished, T_FINISHED);
	assert_int_equal(r->attempts, 2);
	assert_int_equal(r->nphases, 2);
	assert_string_equal(r->phases[0].name, "clone");
	assert_int_equal(r->phases[0].duration_ms, 120);
	assert_string_equal(r->phases[1].name, "build");
	assert_int_equal(r->phases[1].duration_ms, 98765);
	assert_int_equal(r->npackages, 1);
	assert_string_equal(r->packages[0].name, "hello-1.0-1-x86_64.hpkg");
	assert_int_equal(r->packages[0].size, 5000000000ULL);
	assert_string_equal(r->packages[0].sha256, SHA_A);
	/* A client downloads the package from its URL, not the daemon's path. */
	assert_string_equal(r->packages[0].path,
			    "/api/v1/builds/7/packages/hello-1.0-1-x86_64.hpkg");
	build_record_free(r);
	free(json);

	/* A failed build without exit code or end: -1 and 0 come back. */
	strcpy(f.status, "failed");
	f.r.exit_code = -1;
	f.r.error = f.error;
	f.r.finished = 0;
	f.r.npackages = 0;
	f.r.nphases = 0;
	f.r.ntries = 0;
	json = report_record_json(&f.r);
	assert_int_equal(wire_parse_record(json, &r), 0);
	assert_string_equal(r->status, "failed");
	assert_int_equal(r->exit_code, -1);
	assert_string_equal(r->error, "boot failed");
	assert_int_equal(r->finished, 0);
	assert_int_equal(r->npackages, 0);
	assert_int_equal(r->nphases, 0);
	build_record_free(r);
	free(json);
}

/*
 * Regression: wire_parse_record() once kept only the number of attempts,
 * so `vmctl status ID` against mayflyd never showed why an attempt failed.
 */
static void test_record_attempt_details(void **state)
{
	struct record_fixture f;
	struct build_record *r = NULL;
	char *json;

	record_fixture_init(&f);
	json = report_record_json(&f.r);
	assert_int_equal(wire_parse_record(json, &r), 0);
	assert_int_equal(r->attempts, 2);
	assert_int_equal(r->ntries, 2);
	assert_non_null(r->tries);
	assert_int_equal(r->tries[0].n, 1);
	assert_string_equal(r->tries[0].status, "infra_error");
	assert_non_null(r->tries[0].error);
	assert_string_equal(r->tries[0].error, "boot failed");
	assert_int_equal(r->tries[0].started, T_STARTED);
	assert_int_equal(r->tries[1].n, 2);
	assert_string_equal(r->tries[1].status, "succeeded");
	assert_null(r->tries[1].error);
	assert_int_equal(r->tries[1].finished, T_FINISHED);
	build_record_free(r);
	free(json);
}

static void test_records_roundtrip(void **state)
{
	struct record_fixture a, b;
	struct build_record *v[2], **got = NULL;
	size_t n = 99;
	char *json;

	record_fixture_init(&a);
	record_fixture_init(&b);
	b.r.id = 8;
	strcpy(b.status, "running");
	strcpy(b.source, "vmctl");
	strcpy(b.recipes, "zlib");
	b.r.exit_code = -1;
	b.r.finished = 0;
	b.r.attempts = 1;
	v[0] = &b.r;
	v[1] = &a.r;
	json = report_records_json(v, 2);
	if (wire_parse_records(json, &got, &n) != 0)
		fail_msg("cannot read back %s: %s", json, mf_error_msg());
	assert_int_equal(n, 2);
	assert_int_equal(got[0]->id, 8);
	assert_string_equal(got[0]->status, "running");
	assert_string_equal(got[0]->source, "vmctl");
	assert_string_equal(got[0]->recipes, "zlib");
	assert_int_equal(got[0]->exit_code, -1);
	assert_int_equal(got[0]->attempts, 1);
	assert_int_equal(got[0]->finished, 0);
	assert_int_equal(got[0]->created, T_CREATED);
	assert_int_equal(got[1]->id, 7);
	assert_string_equal(got[1]->status, "succeeded");
	assert_string_equal(got[1]->image, "tg");
	assert_string_equal(got[1]->recipes, "hello big-2");
	assert_int_equal(got[1]->attempts, 2);
	assert_int_equal(got[1]->finished, T_FINISHED);
	/* Summaries carry no details. */
	assert_int_equal(got[1]->nphases, 0);
	assert_int_equal(got[1]->npackages, 0);
	build_records_free(got, n);
	free(json);

	/* An empty list. */
	json = report_records_json(v, 0);
	assert_int_equal(wire_parse_records(json, &got, &n), 0);
	assert_int_equal(n, 0);
	build_records_free(got, n);
	free(json);
}

static void test_record_malformed(void **state)
{
	struct build_record *r = (struct build_record *)1, **v = (struct build_record **)1;
	size_t n = 99;

	mf_error_clear();
	assert_int_equal(wire_parse_record("{\"id\": 1, \"image\": \"tg\", \"source\": \"api\", "
					   "\"recipes\": [\"a\"]}", &r), -1);
	assert_null(r);
	assert_int_not_equal(mf_error_class(), MF_E_NONE);
	r = (struct build_record *)1;
	assert_int_equal(wire_parse_record("{\"id\": 1, \"status\": \"queued\", "
					   "\"source\": \"api\"}", &r), -1);
	assert_null(r);
	/* A package without a name would reach a path: the whole document is refused. */
	r = (struct build_record *)1;
	assert_int_equal(wire_parse_record("{\"id\": 1, \"image\": \"tg\", \"source\": \"api\", "
					   "\"status\": \"succeeded\", \"packages\": [{\"size\": 1}]}",
					   &r), -1);
	assert_null(r);
	r = (struct build_record *)1;
	assert_int_equal(wire_parse_record("not json", &r), -1);
	assert_null(r);
	/* Text from a server never carries a terminal escape to vmctl's output. */
	assert_int_equal(wire_parse_record("{\"id\": 1, \"image\": \"t\\u001b[2Jg\", "
					   "\"source\": \"api\", \"status\": \"failed\", "
					   "\"error\": \"boom\\r\\u001b]0;x\\u0007\", "
					   "\"recipes\": [\"a\\nb\"]}", &r), 0);
	assert_string_equal(r->image, "t?[2Jg");
	assert_string_equal(r->error, "boom??]0;x?");
	assert_string_equal(r->recipes, "a?b");
	build_record_free(r);
	r = (struct build_record *)1;
	assert_int_equal(wire_parse_record("not json", &r), -1);
	assert_null(r);
	r = (struct build_record *)1;
	assert_int_equal(wire_parse_record("[]", &r), -1);
	assert_null(r);

	assert_int_equal(wire_parse_records("{}", &v, &n), -1);
	assert_null(v);
	assert_int_equal(n, 0);
	assert_int_equal(wire_parse_records("{\"builds\": {}}", &v, &n), -1);
	assert_int_equal(wire_parse_records("nope", &v, &n), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_submission_minimal),
		cmocka_unit_test(test_submission_full),
		cmocka_unit_test(test_submission_limits_accepted),
		cmocka_unit_test(test_submission_malformed),
		cmocka_unit_test(test_submission_length_is_used),
		cmocka_unit_test(test_submission_image),
		cmocka_unit_test(test_submission_recipes),
		cmocka_unit_test(test_submission_ports),
		cmocka_unit_test(test_submission_unknown_field),
		cmocka_unit_test(test_submission_timeout_priority),
		cmocka_unit_test(test_submission_inputs),
		cmocka_unit_test(test_submission_too_many_inputs),
		cmocka_unit_test(test_submission_roundtrip),
		cmocka_unit_test(test_parse_ids),
		cmocka_unit_test(test_error_text),
		cmocka_unit_test(test_record_roundtrip),
		cmocka_unit_test(test_record_attempt_details),
		cmocka_unit_test(test_records_roundtrip),
		cmocka_unit_test(test_record_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
