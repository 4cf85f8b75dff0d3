/*
 * s3rver_fixture.h - a real S3-protocol server for unit tests: s3rver
 * (npm) started on 127.0.0.1 on a free port with a fresh directory and one
 * bucket. Found through $MAYFLY_S3RVER or the build directory's
 * s3rver/node_modules (install_s3rver in scripts/common.sh). It takes only
 * its own key pair, S3RVER/S3RVER, and does not check signatures.
 */
#ifndef MAYFLY_TEST_S3RVER_FIXTURE_H
#define MAYFLY_TEST_S3RVER_FIXTURE_H

#include <sys/types.h>

struct s3rver {
	pid_t pid;		/* 0: not running */
	int port;
	char *dir;		/* its data */
	char *why;		/* why it is not running */
};

/* Starts it under workdir with bucket; 0 if it runs, else -1 and s->why. */
int s3rver_start(struct s3rver *s, const char *workdir, const char *bucket);
void s3rver_stop(struct s3rver *s);

/* Waits up to seconds for the file at path to hold needle; its text (caller frees) or NULL. */
char *test_wait_for(const char *path, const char *needle, int seconds);

#endif
