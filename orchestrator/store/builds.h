/*
 * builds.h - build records in the state database: status, phases,
 * harvested packages. A record is written when a build starts, so a build
 * is never lost, and finished exactly once.
 */
#ifndef MAYFLY_BUILDS_H
#define MAYFLY_BUILDS_H

#include <stddef.h>
#include <stdint.h>

#include "common/crypto.h"
#include "common/error.h"

struct db;

enum build_status {
	BUILD_RUNNING,
	BUILD_SUCCEEDED,
	BUILD_FAILED,		/* the build command failed */
	BUILD_INFRA_ERROR,	/* libvirt, boot, SSH, transfer */
	BUILD_TIMED_OUT,
	BUILD_CANCELLED,	/* interrupted by the user */
};

const char *build_status_name(enum build_status s);
/* The status a name stands for ("queued" and "accepted" are not statuses of a run); -1 if none. */
int build_status_parse(const char *s, enum build_status *out);
/* The exit status vmctl uses for it: 0 success (or not over), 1, 3, 4, 130. */
int build_status_exit_code(enum build_status s);
/*
 * The status a failure of that class means: interrupted -> cancelled,
 * time limit -> timed_out, the build's own doing or a request that does not
 * hold (MF_E_BUILD, MF_E_USAGE) -> failed, anything else -> infra_error
 * (retried by mayflyd).
 */
enum build_status build_status_of_error(enum mf_errclass cls);

struct build_phase {
	char name[16];
	int64_t duration_ms;
};

struct build_package {
	char *name;
	uint64_t size;
	char sha256[SHA256_HEX_LEN];
	char *path;
};

void build_package_release(struct build_package *p);

struct build_attempt {
	int n;
	char *status;
	char *error;
	int64_t started, finished;
};

/* What one run of a build produced (pipeline.h fills it; report.h prints it). */
#define BUILD_MAX_PHASES 8

struct build_result {
	int64_t id;
	char *image;
	enum build_status status;
	int exit_code;		/* of the build command; -1 when it did not finish */
	char *error;		/* what went wrong; NULL on success */
	struct build_phase phases[BUILD_MAX_PHASES];
	size_t nphases;
	struct build_package *packages;
	size_t npackages;
	char *log_path;
	char *console_path;
	char *out_dir;
	int64_t duration_ms;
	char *tree;		/* a build of a port of a ports tree: the tree, */
	char *commit;		/* the commit it was built from, */
	char *port;		/* and the port ("zlib-1.3.2"); NULL otherwise */
};

void build_result_release(struct build_result *r);

/* A build as stored, for status queries (vmctl status, the API). */
struct build_record {
	int64_t id;
	char *image;
	char *recipes;		/* space-separated */
	char *status;
	int exit_code;		/* -1: none */
	char *error;
	char *source;		/* "vmctl" or "api" */
	int priority;
	int timeout;		/* 0: the default */
	int attempts;
	int cancel_requested;
	char *requested_by;
	int64_t created, started, finished; /* 0: not yet */
	char *log_path;
	char *out_dir;
	char *inputs;		/* space-separated names, or NULL */
	char *tree;		/* a build of a ports tree: its name, and */
	char *commit;		/* the commit it was built from; NULL otherwise */
	int64_t buildrun;	/* the build run it belongs to (mayflyd); 0: none */
	/* Only from builds_get(): */
	struct build_phase *phases;
	size_t nphases;
	struct build_package *packages;
	size_t npackages;
	struct build_attempt *tries;
	size_t ntries;
};

/* One build with its phases, packages and attempts; MF_E_USAGE if unknown. */
int builds_get(struct db *db, int64_t id, struct build_record **out);
/*
 * The newest builds (at most limit), optionally only those in the given
 * statuses (NULL-terminated list); no phases, packages or attempts.
 */
int builds_list(struct db *db, const char *const *statuses, int limit,
		struct build_record ***out, size_t *n);
void build_record_free(struct build_record *r);
void build_records_free(struct build_record **v, size_t n);
/* 1 if s names a build status. */
int build_status_valid(const char *s);

/* Creates a running build owned by this process; *id gets its number. */
int builds_create(struct db *db, const char *image, const char *recipes, int64_t *id);
int builds_set_paths(struct db *db, int64_t id, const char *log_path, const char *out_dir);
/* Which tree and commit a build is of. */
int builds_set_origin(struct db *db, int64_t id, const char *tree, const char *commit);
int builds_add_phase(struct db *db, int64_t id, int seq, const struct build_phase *p);
int builds_add_package(struct db *db, int64_t id, const struct build_package *p);
int builds_finish(struct db *db, int64_t id, enum build_status status, int exit_code,
		  const char *error);
/*
 * Builds that a vmctl left running when it died become infrastructure
 * errors (mayflyd retries its own: queue_recover()).
 */
int builds_fail_orphans(struct db *db);

#endif
