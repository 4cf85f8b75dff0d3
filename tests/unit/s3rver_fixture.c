/* s3rver_fixture.c - see s3rver_fixture.h. */
#include "s3rver_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"

char *test_wait_for(const char *path, const char *needle, int seconds)
{
	for (int i = 0; i < seconds * 20; i++) {
		char *text = NULL;
		if (mf_read_file(path, 1 << 16, &text, NULL) == 0) {
			if (strstr(text, needle))
				return text;
			free(text);
		}
		usleep(50000);
	}
	return NULL;
}

int s3rver_start(struct s3rver *s, const char *workdir, const char *bucket)
{
	const char *bin = getenv("MAYFLY_S3RVER");
	char *out = xasprintf("%s/s3rver.out", workdir);

	memset(s, 0, sizeof(*s));
	if (!bin || !*bin)
		bin = MAYFLY_S3RVER_DEFAULT;
	if (access(bin, X_OK) < 0) {
		s->why = xasprintf("s3rver not found at %s: set MAYFLY_S3RVER to its bin "
				   "script, or run install_s3rver (scripts/common.sh)", bin);
		free(out);
		return -1;
	}
	s->dir = xasprintf("%s/s3rver", workdir);
	mf_mkdir_p(s->dir, 0700);
	s->pid = fork();
	if (s->pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 1);
		dup2(fd, 2);
		/* Its continuation tokens are DES-encrypted: legacy in OpenSSL 3 (Node >= 17). */
		setenv("NODE_OPTIONS", "--openssl-legacy-provider", 1);
		execl(bin, bin, "-d", s->dir, "-a", "127.0.0.1", "-p", "0", "-s",
		      "--configure-bucket", bucket, (char *)NULL);
		_exit(127);
	}
	/* "S3rver listening on 127.0.0.1:PORT" */
	char *text = test_wait_for(out, "listening on 127.0.0.1:", 30);
	if (text) {
		s->port = atoi(strstr(text, "127.0.0.1:") + 10);
		free(text);
	} else {
		char *log = NULL;
		mf_read_file(out, 4096, &log, NULL);
		s->why = xasprintf("s3rver %s did not start: %s", bin, log ? log : "");
		free(log);
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
	free(out);
	return s->pid ? 0 : -1;
}

void s3rver_stop(struct s3rver *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
	}
	free(s->dir);
	free(s->why);
	memset(s, 0, sizeof(*s));
}
