/*
 * report.h - JSON documents for people and programs (the jansson
 * boundary): a build's result and image records. Each function returns a
 * NUL-terminated string the caller frees.
 */
#ifndef MAYFLY_REPORT_H
#define MAYFLY_REPORT_H

#include <stddef.h>
#include <stdint.h>

struct build_result;
struct build_record;
struct image;
struct tree;
struct tree_retry;

char *report_build_json(const struct build_result *r);
/* A stored build (with phases, packages, attempts and API links). */
char *report_record_json(const struct build_record *r);
/* {"builds": [...]}: summaries of stored builds. */
char *report_records_json(struct build_record *const *v, size_t n);
/* {"error": msg, "field": field}: what the API answers to a bad request. */
char *report_error_json(const char *msg, const char *field);
/* A pull request as the API shows it: its run and the packages it made
 * (each with its URL under /api/v1/builds/ID/packages/). */
struct report_pr_package {
	int64_t build;
	const char *name;
};
char *report_pr_json(const char *tree, int64_t number, const char *head, const char *state,
		     const char *author, int64_t run, const char *run_status,
		     const struct report_pr_package *v, size_t n);
/* {KEY: text[, "id": id]} (id <= 0: none), for short answers. */
char *report_note_json(const char *key, const char *text, int64_t id);
/* mayflyd's /healthz answer. */
/* The warm pool of one image (daemon/warm.h). */
struct report_warm {
	char image[128];
	int ready;
	int starting;
};

char *report_health_json(int accepting, int running, int queued, int max_vms, int disk_low,
			 const struct report_warm *warm, size_t nwarm);
/* Percent-encodes a path segment (caller frees). */
char *report_url_segment(const char *s);
char *report_image_json(const struct image *img);
/* A ports tree (with the ports whose update builds failed, when given). */
char *report_tree_json(const struct tree *t, const struct tree_retry *retries, size_t nretries);
char *report_trees_json(struct tree *const *v, size_t n);
struct hpkg_file;
/*
 * The packages of Haiku package or repository files, one object per
 * package: file, kind ("package" or "repository"), name, version,
 * architecture, file_name, summary, description, vendor, packager, base_package,
 * checksum, provides [{name, version, compatible}], requires [{name,
 * operator, version}]. paths[i] is what files[i] was read from.
 */
char *report_packages_json(const struct hpkg_file *files, char *const *paths, size_t n);
char *report_images_json(struct image *const *v, size_t n);

/* One port of an update and, when it was built, its build's id and status. */
struct update_plan;
struct report_update_build {
	int64_t id;		/* 0: not built */
	const char *status;	/* NULL: not built */
};
/*
 * {"tree", "image", "from" (null on the first update), "to", "dry_run",
 *  "ports": [{"port", "trigger", "retry", "build", "status"}], "skipped": [...]}
 * builds may be NULL (a dry run). Caller frees.
 */
char *report_update_json(const char *tree, const char *image, const struct update_plan *p,
			 const struct report_update_build *builds, int dry_run);

#endif
