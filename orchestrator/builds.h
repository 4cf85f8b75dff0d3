/*
 * builds.h - build records in the state database: status, phases,
 * harvested packages. A record is written when a build starts, so a build
 * is never lost, and finished exactly once.
 */
#ifndef MAYFLY_BUILDS_H
#define MAYFLY_BUILDS_H

#include <stddef.h>
#include <stdint.h>

#include "orchestrator/sha256.h"

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

/* Creates a running build owned by this process; *id gets its number. */
int builds_create(struct db *db, const char *image, const char *recipes, int64_t *id);
int builds_set_paths(struct db *db, int64_t id, const char *log_path, const char *out_dir);
int builds_add_phase(struct db *db, int64_t id, int seq, const struct build_phase *p);
int builds_add_package(struct db *db, int64_t id, const struct build_package *p);
int builds_finish(struct db *db, int64_t id, enum build_status status, int exit_code,
		  const char *error);
/* Builds left running by dead processes become infrastructure errors. */
int builds_fail_orphans(struct db *db);

#endif
