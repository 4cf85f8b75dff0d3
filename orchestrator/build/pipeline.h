/*
 * pipeline.h - one clean build, top to bottom:
 *
 *	[sources] -> clone -> boot -> ready -> push -> run -> harvest -> destroy
 *
 * A linked clone of the image's golden volume boots as a transient domain;
 * one SSH session (host key pinned) uploads the inputs into the packages
 * directory, runs the build command with its output streamed, and
 * downloads the files that appeared or changed in the packages directory
 * during the build. The machine and its clone are destroyed on every path.
 */
#ifndef MAYFLY_PIPELINE_H
#define MAYFLY_PIPELINE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "store/builds.h"

struct db;
struct host;
struct machine;
struct mf_config;
struct mf_state;

/* Where builds run and what limits them. */
struct build_env {
	struct mf_state *state;	/* records, logs, packages */
	struct host *host;	/* where machines start */
	int build_timeout;	/* seconds; for requests that set none */
	int quarantine_after;	/* machines in a row that did not come up */
	uint64_t max_log_bytes;	/* of one build's log; 0: no limit */
	uint64_t max_package_bytes; /* harvested by one build; 0: no limit */
	uint64_t max_source_cache_bytes; /* STATE/sources; 0: no limit */
	const struct mf_config *cfg;	/* repositories (packages fetched back from S3) */
	/*
	 * mayflyd's warm pool: a ready machine of the image for this build, or
	 * NULL (then the build brings its own up). NULL function: no pool.
	 */
	struct machine *(*take_machine)(void *arg, const char *image, struct db *db,
				       atomic_int *cancel);
	void *take_arg;
};

/* The environment of builds on host h with settings cfg. */
void build_env_init(struct build_env *env, const struct mf_config *cfg, struct mf_state *st,
		    struct host *h);

struct build_request {
	const char *image;
	char *const *recipes;
	size_t nrecipes;
	char *const *inputs;	/* local files to upload into the packages dir */
	size_t ninputs;
	const char *out_dir;	/* NULL: STATE/builds/ID/packages */
	int timeout_s;		/* limit on the run phase; 0: build_timeout setting */
	int idle_timeout_s;	/* limit on silence during the run phase; 0: none */
	atomic_int *cancel; /* non-zero asks the build to stop */
	/*
	 * A port of a ports tree at a commit, built as buildmaster builds it
	 * (builder.conf, its command line, the packages the recipe names),
	 * instead of recipes with the image's build command:
	 */
	const char *tree;	/* NULL: recipes */
	const char *commit;	/* a revision of the tree; NULL: its head */
	const char *port;	/* "zlib", "zlib-1.3.2", "zlib_x86" */
	const char *run;	/* the build run it belongs to: its packages count; NULL: none */
	/* mayflyd: run an attempt of an existing (queued) build record */
	int64_t build_id;	/* 0: create a record */
	int attempt;		/* 1, 2, ... (the log is appended to after the first) */
	int defer_finish;	/* leave the record running: the caller finishes it */
};

struct build_events {
	void (*started)(void *payload, int64_t id, const char *log_path);
	void (*phase)(void *payload, const char *name, int64_t ms);
	void (*output)(void *payload, int stream, const char *data, size_t len);
	void *payload;
};

/* What pipeline_check() found a port build to be. */
struct pipeline_checked {
	char commit[41];	/* the full commit id */
	char *port;		/* the versioned name ("zlib-1.3.2"); caller frees */
};

/*
 * Checks a request without creating anything: the image, recipe names,
 * inputs, the build command; for a port, the tree, the commit, the port
 * and its recipe (evaluated, sandboxed). MF_E_USAGE (or MF_E_CONFLICT for
 * a quarantined image). pipeline_run() checks again; callers use this to
 * report bad input before they connect to libvirt. out may be NULL.
 */
int pipeline_check(struct mf_state *st, const struct build_request *req,
		   struct pipeline_checked *out);

/*
 * Runs a build. Returns -1 when it could not start: the request is invalid
 * (MF_E_USAGE, MF_E_CONFLICT; nothing was created), or its record or log
 * could not be written (MF_E_INFRA). Otherwise returns 0 and the outcome
 * is in out->status.
 */
int pipeline_run(const struct build_env *env, const struct build_request *req,
		 const struct build_events *ev, struct build_result *out);

/*
 * Marks the record finished and writes STATE/builds/ID/result.json.
 * -1 when the record could not be written (result.json is only warned about).
 */
int pipeline_finish(struct mf_state *st, const struct build_result *r);
/* Writes STATE/builds/ID/result.json only (failures are warned about). */
void pipeline_write_result(struct mf_state *st, const struct build_result *r);

#endif
