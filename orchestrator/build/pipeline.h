/*
 * pipeline.h - one clean build, top to bottom:
 *
 *	clone -> boot -> ready -> push -> run -> harvest -> destroy
 *
 * A linked clone of the image's golden volume boots as a transient domain;
 * one SSH session (host key pinned) uploads the inputs into the packages
 * directory, runs the build command with its output streamed, and
 * downloads the files that appeared or changed in the packages directory
 * during the build. The machine and its clone are destroyed on every path.
 */
#ifndef MAYFLY_PIPELINE_H
#define MAYFLY_PIPELINE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "store/builds.h"

struct mf_ctx;

struct build_request {
	const char *image;
	char *const *recipes;
	size_t nrecipes;
	char *const *inputs;	/* local files to upload into the packages dir */
	size_t ninputs;
	const char *out_dir;	/* NULL: STATE/builds/ID/packages */
	int timeout_s;		/* limit on the run phase; 0: build_timeout setting */
	int idle_timeout_s;	/* limit on silence during the run phase; 0: none */
	volatile sig_atomic_t *cancel; /* non-zero asks the build to stop */
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
};

void build_result_release(struct build_result *r);

/*
 * Runs a build. Returns -1 (MF_E_USAGE) when the request is invalid, before
 * anything is created: unknown image, bad recipe name, unreadable input.
 * Otherwise returns 0 and the outcome is in out->status.
 */
int pipeline_run(struct mf_ctx *ctx, const struct build_request *req,
		 const struct build_events *ev, struct build_result *out);

/* Marks the record finished and writes STATE/builds/ID/result.json. */
void pipeline_finish(struct mf_ctx *ctx, const struct build_result *r);

/* The exit status vmctl uses for a build's outcome (0, 1, 3, 4, 130). */
int pipeline_exit_code(const struct build_result *r);

#endif
