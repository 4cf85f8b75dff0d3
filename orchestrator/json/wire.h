/*
 * wire.h - the JSON documents that travel between vmctl and mayflyd, read
 * and written (with report.h, the jansson boundary).
 *
 * A build submission (POST /api/v1/builds):
 *	{"image": "haiku", "recipes": ["zlib"], "timeout": 600, "priority": 5,
 *	 "inputs": [{"name": "dep.hpkg", "content_base64": "..."}]}
 * timeout, priority and inputs are optional; any other field is refused, so
 * a misspelt one never goes unnoticed.
 */
#ifndef MAYFLY_WIRE_H
#define MAYFLY_WIRE_H

#include <stddef.h>
#include <stdint.h>

struct build_record;

#define WIRE_MAX_RECIPES 64
#define WIRE_MAX_INPUTS 64
#define WIRE_PRIORITY_MAX 1000

struct wire_input {
	char *name;
	unsigned char *data;
	size_t len;
};

struct wire_submission {
	char *image;
	char **recipes;		/* NULL-terminated; or: */
	size_t nrecipes;
	char *tree;		/* ports of a ports tree, one build each */
	char *commit;		/* NULL: the tree's head */
	char **ports;		/* NULL-terminated */
	size_t nports;
	int timeout;		/* 0: the default */
	int priority;
	struct wire_input *inputs;
	size_t ninputs;
};

/*
 * Parses and checks a submission. On error (MF_E_USAGE), *field names the
 * offending field ("recipes[1]", "inputs[0].name"; caller frees).
 */
int wire_parse_submission(const char *body, size_t len, struct wire_submission *out,
			  char **field);
void wire_submission_release(struct wire_submission *s);
/* The JSON of a submission (inputs base64-encoded); caller frees. */
char *wire_submission_json(const struct wire_submission *s);

/* Reads a build document of the API (report_record_json) back. */
int wire_parse_record(const char *json, struct build_record **out);
/* Reads {"builds": [...]} (report_records_json) back; free with build_records_free(). */
int wire_parse_records(const char *json, struct build_record ***out, size_t *n);
/* The ids of a 202 answer: "builds"[].id when there, else "id" (caller frees *ids). */
int wire_parse_ids(const char *json, int64_t **ids, size_t *n);
struct report_warm;
/* The warm pool in mayflyd's /healthz answer (caller frees *out). */
int wire_parse_warm(const char *json, struct report_warm **out, size_t *n);
/*
 * The same for ports of a tree: the builds queued now (ids may be none),
 * their ports, and the build run (0 when the answer names none).
 */
int wire_parse_accepted(const char *json, int64_t **ids, char ***ports, size_t *n,
			int64_t *run);
/* A build run as GET /api/v1/buildruns/ID answers: its ports, and whether it ended. */
struct wire_run_port {
	char *port, *state, *reason;
	int64_t build;		/* 0: none yet */
};
int wire_parse_buildrun(const char *json, struct wire_run_port **ports, size_t *n, int *ended);
void wire_run_ports_free(struct wire_run_port *v, size_t n);
/* The "error" (and "field") of an error answer, or NULL; caller frees. */
char *wire_error_text(const char *json);

#endif
