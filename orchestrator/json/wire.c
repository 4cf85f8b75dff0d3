/* wire.c - see wire.h. */
#include "json/wire.h"
#include "json/report.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/builds.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "common/names.h"
#include "common/util.h"

void wire_submission_release(struct wire_submission *s)
{
	free(s->image);
	mf_strv_free(s->recipes);
	free(s->tree);
	free(s->commit);
	mf_strv_free(s->ports);
	for (size_t i = 0; i < s->ninputs; i++) {
		free(s->inputs[i].name);
		free(s->inputs[i].data);
	}
	free(s->inputs);
	memset(s, 0, sizeof(*s));
}

/* Sets *field and the error (fmt's first %s is usually the field); returns -1. */
static int bad(char **field, const char *name, const char *fmt, ...) MF_PRINTF(3, 4);
static int bad(char **field, const char *name, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap); /* may read mf_error_msg(): copy first */
	va_end(ap);
	*field = xstrdup(name);
	return mf_error(MF_E_USAGE, "%s", msg);
}

static int int_field(json_t *doc, const char *key, long min, long max, int *out, char **field)
{
	json_t *v = json_object_get(doc, key);

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		char range[64];
		snprintf(range, sizeof(range), "%ld to %ld", min, max);
		return bad(field, key, "'%s' must be a whole number from %s", key, range);
	}
	*out = (int)json_integer_value(v);
	return 0;
}

static int parse_inputs(json_t *arr, struct wire_submission *out, char **field)
{
	char name[64];
	size_t i;
	json_t *v;

	if (!json_is_array(arr))
		return bad(field, "inputs", "'%s' must be an array of {name, content_base64}",
			   "inputs");
	if (json_array_size(arr) > WIRE_MAX_INPUTS)
		return bad(field, "inputs", "'%s' has more than 64 entries", "inputs");
	out->inputs = xcalloc(json_array_size(arr) + 1, sizeof(*out->inputs));
	json_array_foreach(arr, i, v) {
		json_t *n = json_object_get(v, "name"), *c = json_object_get(v, "content_base64");
		const char *key;
		json_t *ignored;

		snprintf(name, sizeof(name), "inputs[%zu]", i);
		if (!json_is_object(v))
			return bad(field, name, "'%s' must be an object {name, content_base64}",
				   name);
		json_object_foreach(v, key, ignored) {
			if (strcmp(key, "name") && strcmp(key, "content_base64")) {
				snprintf(name, sizeof(name), "inputs[%zu].%.20s", i, key);
				return bad(field, name, "unknown field '%s'", name);
			}
		}
		snprintf(name, sizeof(name), "inputs[%zu].name", i);
		if (!json_is_string(n))
			return bad(field, name, "'%s' must be a string", name);
		if (input_name_check(json_string_value(n)) < 0)
			return bad(field, name, "'%s': %s", name, mf_error_msg());
		for (size_t j = 0; j < out->ninputs; j++)
			if (!strcmp(out->inputs[j].name, json_string_value(n)))
				return bad(field, name, "'%s' repeats the name '%s'", name, json_string_value(n));
		snprintf(name, sizeof(name), "inputs[%zu].content_base64", i);
		if (!json_is_string(c))
			return bad(field, name, "'%s' must be a string", name);
		struct wire_input *in = &out->inputs[out->ninputs];
		if (base64_decode(json_string_value(c), json_string_length(c), &in->data,
				  &in->len) < 0)
			return bad(field, name, "'%s' is %s", name, mf_error_msg());
		in->name = xstrdup(json_string_value(n));
		out->ninputs++;
	}
	return 0;
}

/* A required, non-empty array of recipe (or port) names. */
static int name_list(json_t *doc, const char *key, const char *what, char ***out, size_t *n,
		     char **field)
{
	json_t *v = json_object_get(doc, key), *r;
	char name[32];
	size_t i;

	if (!json_is_array(v) || json_array_size(v) == 0)
		return bad(field, key, "'%s' is required: a non-empty array of %s names", key,
			   what);
	if (json_array_size(v) > WIRE_MAX_RECIPES)
		return bad(field, key, "'%s' has more than 64 entries", key);
	*out = xcalloc(json_array_size(v) + 1, sizeof(char *));
	json_array_foreach(v, i, r) {
		snprintf(name, sizeof(name), "%s[%zu]", key, i);
		if (!json_is_string(r))
			return bad(field, name, "'%s' must be a string", name);
		if (recipe_name_check(json_string_value(r)) < 0)
			return bad(field, name, "'%s': %s", name, mf_error_msg());
		(*out)[(*n)++] = xstrdup(json_string_value(r));
	}
	return 0;
}

int wire_parse_submission(const char *body, size_t len, struct wire_submission *out,
			  char **field)
{
	static const char *const known[] = { "image", "recipes", "tree", "commit", "ports",
					     "timeout", "priority", "inputs" };
	json_error_t jerr;
	json_t *doc, *v;
	const char *key;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	*field = NULL;
	doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		return mf_error(MF_E_USAGE, "malformed JSON at line %d, column %d: %s", jerr.line,
				jerr.column, jerr.text);
	if (!json_is_object(doc)) {
		mf_error(MF_E_USAGE, "the request must be a JSON object");
		goto out;
	}
	json_object_foreach(doc, key, v) {
		size_t k;
		for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (!strcmp(key, known[k]))
				break;
		if (k == sizeof(known) / sizeof(known[0])) {
			bad(field, key, "unknown field '%s' (known: image, recipes, tree, commit, "
				"ports, timeout, priority, inputs)", key);
			goto out;
		}
	}
	v = json_object_get(doc, "image");
	if (!json_is_string(v)) {
		bad(field, "image", "'%s' is required and must be a string", "image");
		goto out;
	}
	if (image_name_check(json_string_value(v)) < 0) {
		bad(field, "image", "'%s': %s", "image", mf_error_msg());
		goto out;
	}
	out->image = xstrdup(json_string_value(v));

	v = json_object_get(doc, "tree");
	if (v) {
		if (!json_is_string(v)) {
			bad(field, "tree", "'%s' must be a string", "tree");
			goto out;
		}
		if (name_check_tree(json_string_value(v)) < 0) {
			bad(field, "tree", "'%s': %s", "tree", mf_error_msg());
			goto out;
		}
		out->tree = xstrdup(json_string_value(v));
		if (json_object_get(doc, "recipes")) {
			bad(field, "recipes", "give either '%s' or 'tree' and 'ports'", "recipes");
			goto out;
		}
	} else if (json_object_get(doc, "ports") || json_object_get(doc, "commit")) {
		bad(field, "tree", "'%s' is required with 'ports' and 'commit'", "tree");
		goto out;
	}
	v = json_object_get(doc, "commit");
	if (v) {
		if (!json_is_string(v)) {
			bad(field, "commit", "'%s' must be a string", "commit");
			goto out;
		}
		if (rev_check(json_string_value(v)) < 0) {
			bad(field, "commit", "'%s': %s", "commit", mf_error_msg());
			goto out;
		}
		out->commit = xstrdup(json_string_value(v));
	}
	if (name_list(doc, out->tree ? "ports" : "recipes", out->tree ? "port" : "recipe",
		      out->tree ? &out->ports : &out->recipes,
		      out->tree ? &out->nports : &out->nrecipes, field) < 0)
		goto out;
	if (int_field(doc, "timeout", 1, 7 * 86400, &out->timeout, field) < 0 ||
	    int_field(doc, "priority", -WIRE_PRIORITY_MAX, WIRE_PRIORITY_MAX, &out->priority,
		      field) < 0)
		goto out;
	v = json_object_get(doc, "inputs");
	if (v && parse_inputs(v, out, field) < 0)
		goto out;
	ret = 0;
out:
	json_decref(doc);
	if (ret < 0) {
		/* Keep the error; forget the half-parsed request. */
		char *f = *field;
		enum mf_errclass cls = mf_error_class();
		char *msg = xstrdup(mf_error_msg());
		wire_submission_release(out);
		mf_error(cls, "%s", msg);
		free(msg);
		*field = f;
	}
	return ret;
}

char *wire_submission_json(const struct wire_submission *s)
{
	json_t *doc = json_object(), *recipes = json_array();
	char *text, *out;

	json_object_set_new(doc, "image", json_string(s->image));
	if (s->tree) {
		json_object_set_new(doc, "tree", json_string(s->tree));
		if (s->commit)
			json_object_set_new(doc, "commit", json_string(s->commit));
		for (size_t i = 0; i < s->nports; i++)
			json_array_append_new(recipes, json_string(s->ports[i]));
		json_object_set_new(doc, "ports", recipes);
	} else {
		for (size_t i = 0; i < s->nrecipes; i++)
			json_array_append_new(recipes, json_string(s->recipes[i]));
		json_object_set_new(doc, "recipes", recipes);
	}
	if (s->timeout)
		json_object_set_new(doc, "timeout", json_integer(s->timeout));
	if (s->priority)
		json_object_set_new(doc, "priority", json_integer(s->priority));
	if (s->ninputs) {
		json_t *inputs = json_array();
		for (size_t i = 0; i < s->ninputs; i++) {
			json_t *o = json_object();
			char *b64 = base64_encode(s->inputs[i].data, s->inputs[i].len);
			json_object_set_new(o, "name", json_string(s->inputs[i].name));
			json_object_set_new(o, "content_base64", json_string(b64));
			free(b64);
			json_array_append_new(inputs, o);
		}
		json_object_set_new(doc, "inputs", inputs);
	}
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (!text) {
		fputs("mayfly: cannot encode JSON\n", stderr);
		abort();
	}
	out = xstrdup(text);
	free(text);
	return out;
}

/*
 * A string of a document from outside; control characters become '?', so
 * that printing it cannot move a terminal's cursor or recolour it.
 */
static char *str_dup(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	char *s;

	if (!json_is_string(v))
		return NULL;
	s = xstrdup(json_string_value(v));
	mf_scrub_controls(s, 0);
	return s;
}

static int64_t time_of(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!json_is_string(v) || !strptime(json_string_value(v), "%Y-%m-%dT%H:%M:%SZ", &tm))
		return 0;
	return (int64_t)timegm(&tm);
}

/* A build document (with or without details) as a record; NULL if not one. */
static struct build_record *record_of(json_t *doc)
{
	struct build_record *r;
	struct strbuf recipes = STRBUF_INIT;
	json_t *v, *e;
	size_t i;

	if (!json_is_object(doc))
		return NULL;
	r = xcalloc(1, sizeof(*r));
	json_array_foreach(json_object_get(doc, "recipes"), i, e)
		strbuf_addf(&recipes, "%s%s", i ? " " : "", json_string_value(e) ?: "?");
	r->recipes = strbuf_detach(&recipes);
	mf_scrub_controls(r->recipes, 0);
	r->id = json_integer_value(json_object_get(doc, "id"));
	r->image = str_dup(doc, "image");
	r->status = str_dup(doc, "status");
	r->error = str_dup(doc, "error");
	r->log_path = str_dup(doc, "log");
	r->source = str_dup(doc, "source");
	r->tree = str_dup(doc, "tree");
	r->commit = str_dup(doc, "commit");
	v = json_object_get(doc, "exit_code");
	r->exit_code = json_is_integer(v) ? (int)json_integer_value(v) : -1;
	r->created = time_of(doc, "created");
	r->started = time_of(doc, "started");
	r->finished = time_of(doc, "finished");
	v = json_object_get(doc, "attempts");
	r->attempts = json_is_array(v) ? (int)json_array_size(v) : (int)json_integer_value(v);
	json_array_foreach(json_is_array(v) ? v : NULL, i, e) {
		r->tries = xrealloc(r->tries, (r->ntries + 1) * sizeof(*r->tries));
		struct build_attempt *a = &r->tries[r->ntries++];
		a->n = (int)json_integer_value(json_object_get(e, "n"));
		a->status = str_dup(e, "status");
		if (!a->status)
			a->status = xstrdup("?");
		a->error = str_dup(e, "error");
		a->started = time_of(e, "started");
		a->finished = time_of(e, "finished");
	}
	r->priority = (int)json_integer_value(json_object_get(doc, "priority"));
	r->timeout = (int)json_integer_value(json_object_get(doc, "timeout"));
	r->requested_by = str_dup(doc, "requested_by");
	r->cancel_requested = json_is_true(json_object_get(doc, "cancel_requested"));
	struct strbuf inputs = STRBUF_INIT;
	json_array_foreach(json_object_get(doc, "inputs"), i, e)
		strbuf_addf(&inputs, "%s%s", i ? " " : "", json_string_value(e) ?: "?");
	r->inputs = inputs.len ? strbuf_detach(&inputs) : NULL;
	strbuf_release(&inputs);
	if (r->inputs)
		mf_scrub_controls(r->inputs, 0);
	json_array_foreach(json_object_get(doc, "phases"), i, e) {
		r->phases = xrealloc(r->phases, (r->nphases + 1) * sizeof(*r->phases));
		struct build_phase *p = &r->phases[r->nphases++];
		snprintf(p->name, sizeof(p->name), "%s",
			 json_string_value(json_object_get(e, "name")) ?: "?");
		mf_scrub_controls(p->name, 0);
		p->duration_ms = json_integer_value(json_object_get(e, "duration_ms"));
	}
	int bad_package = 0;
	json_array_foreach(json_object_get(doc, "packages"), i, e) {
		if (!json_is_string(json_object_get(e, "name"))) {
			bad_package = 1;
			continue;
		}
		r->packages = xrealloc(r->packages, (r->npackages + 1) * sizeof(*r->packages));
		struct build_package *p = &r->packages[r->npackages++];
		memset(p, 0, sizeof(*p));
		p->name = str_dup(e, "name");
		p->path = str_dup(e, "url"); /* a client downloads it from here */
		p->size = (uint64_t)json_integer_value(json_object_get(e, "size"));
		snprintf(p->sha256, sizeof(p->sha256), "%s",
			 json_string_value(json_object_get(e, "sha256")) ?: "");
		mf_scrub_controls(p->sha256, 0);
	}
	if (!r->status || !r->image || !r->source || bad_package) {
		build_record_free(r);
		return NULL;
	}
	return r;
}

int wire_parse_record(const char *json, struct build_record **out)
{
	json_t *doc = json_loads(json, 0, NULL);

	*out = record_of(doc);
	json_decref(doc);
	return *out ? 0 : mf_error(MF_E_INFRA, "mayflyd sent a malformed build document");
}

int wire_parse_records(const char *json, struct build_record ***out, size_t *n)
{
	json_t *doc = json_loads(json, 0, NULL), *arr = json_object_get(doc, "builds"), *e;
	struct build_record **v = NULL;
	size_t i;

	*out = NULL;
	*n = 0;
	if (!json_is_array(arr)) {
		json_decref(doc);
		return mf_error(MF_E_INFRA, "mayflyd sent a malformed build list");
	}
	v = xcalloc(json_array_size(arr) + 1, sizeof(*v));
	json_array_foreach(arr, i, e) {
		struct build_record *r = record_of(e);
		if (r)
			v[(*n)++] = r;
	}
	json_decref(doc);
	*out = v;
	return 0;
}

int wire_parse_ids(const char *json, int64_t **ids, size_t *n)
{
	json_t *doc = json_loads(json, 0, NULL);
	json_t *v = json_object_get(doc, "id"), *builds = json_object_get(doc, "builds"), *b;
	size_t i;
	int ok = json_is_integer(v);

	*ids = NULL;
	*n = 0;
	if (ok && json_is_array(builds) && json_array_size(builds) > 0) {
		*ids = xcalloc(json_array_size(builds), sizeof(int64_t));
		json_array_foreach(builds, i, b) {
			json_t *id = json_object_get(b, "id");
			if (!json_is_integer(id)) {
				ok = 0;
				break;
			}
			(*ids)[(*n)++] = json_integer_value(id);
		}
	} else if (ok) {
		*ids = xcalloc(1, sizeof(int64_t));
		(*ids)[(*n)++] = json_integer_value(v);
	}
	json_decref(doc);
	if (!ok) {
		free(*ids);
		*ids = NULL;
		*n = 0;
		return mf_error(MF_E_INFRA, "mayflyd's answer has no build id");
	}
	return 0;
}

char *wire_error_text(const char *json)
{
	json_t *doc = json_loads(json, 0, NULL);
	const char *e = json_string_value(json_object_get(doc, "error"));
	const char *f = json_string_value(json_object_get(doc, "field"));
	char *out = NULL;

	if (e)
		out = f ? xasprintf("%s (field '%s')", e, f) : xstrdup(e);
	json_decref(doc);
	return out;
}

int wire_parse_accepted(const char *json, int64_t **ids, char ***ports, size_t *n,
			int64_t *run)
{
	json_t *doc = json_loads(json, 0, NULL);
	json_t *builds = json_object_get(doc, "builds"), *b;
	size_t i;
	int ok = json_is_object(doc);

	*ids = NULL;
	*ports = NULL;
	*n = 0;
	*run = json_is_integer(json_object_get(doc, "buildrun")) ?
		       json_integer_value(json_object_get(doc, "buildrun")) : 0;
	if (ok && json_is_array(builds)) {
		*ids = xcalloc(json_array_size(builds) + 1, sizeof(int64_t));
		*ports = xcalloc(json_array_size(builds) + 1, sizeof(char *));
		json_array_foreach(builds, i, b) {
			json_t *id = json_object_get(b, "id"), *port = json_object_get(b, "port");
			if (!json_is_integer(id) || !json_is_string(port)) {
				ok = 0;
				break;
			}
			(*ids)[*n] = json_integer_value(id);
			(*ports)[(*n)++] = xstrdup(json_string_value(port));
		}
	} else {
		ok = 0;
	}
	json_decref(doc);
	if (!ok) {
		free(*ids);
		mf_strv_free(*ports);
		*ids = NULL;
		*ports = NULL;
		*n = 0;
		return mf_error(MF_E_INFRA, "mayflyd's answer has no list of builds");
	}
	return 0;
}

int wire_parse_buildrun(const char *json, struct wire_run_port **out, size_t *n, int *ended)
{
	json_t *doc = json_loads(json, 0, NULL), *ports = json_object_get(doc, "ports"), *p;
	struct wire_run_port *v = NULL;
	size_t i, len = 0;

	*out = NULL;
	*n = 0;
	if (!json_is_object(doc) || !json_is_array(ports)) {
		json_decref(doc);
		return mf_error(MF_E_INFRA, "mayflyd's answer is not a build run");
	}
	*ended = !json_is_null(json_object_get(doc, "end")) && json_object_get(doc, "end");
	v = xcalloc(json_array_size(ports) + 1, sizeof(*v));
	json_array_foreach(ports, i, p) {
		json_t *port = json_object_get(p, "port"), *state = json_object_get(p, "state");
		json_t *reason = json_object_get(p, "reason"), *build = json_object_get(p, "build");
		if (!json_is_string(port) || !json_is_string(state))
			continue;
		v[len].port = xstrdup(json_string_value(port));
		v[len].state = xstrdup(json_string_value(state));
		v[len].reason = json_is_string(reason) ? xstrdup(json_string_value(reason)) : NULL;
		v[len].build = json_is_integer(build) ? json_integer_value(build) : 0;
		len++;
	}
	json_decref(doc);
	*out = v;
	*n = len;
	return 0;
}

void wire_run_ports_free(struct wire_run_port *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].port);
		free(v[i].state);
		free(v[i].reason);
	}
	free(v);
}

int wire_parse_warm(const char *json, struct report_warm **out, size_t *n)
{
	json_t *doc = json_loads(json, 0, NULL);
	json_t *warm = json_object_get(doc, "warm"), *o;
	const char *image;

	*out = NULL;
	*n = 0;
	if (!json_is_object(warm)) {
		json_decref(doc);
		return mf_error(MF_E_INFRA, "mayflyd's /healthz answer has no warm pool");
	}
	json_object_foreach(warm, image, o) {
		struct report_warm *w;

		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		w = &(*out)[(*n)++];
		memset(w, 0, sizeof(*w));
		snprintf(w->image, sizeof(w->image), "%s", image);
		w->ready = (int)json_integer_value(json_object_get(o, "ready"));
		w->starting = (int)json_integer_value(json_object_get(o, "starting"));
	}
	json_decref(doc);
	return 0;
}
