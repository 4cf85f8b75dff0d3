/* log.c - see log.h. */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "common/util.h"

static const char *prog = "mayfly";
static int verbosity;

void log_init(const char *progname, int verbose)
{
	prog = progname;
	verbosity = verbose;
}

int log_verbose(void)
{
	return verbosity;
}

static void vlog(const char *level, int errnum, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void vlog(const char *level, int errnum, const char *fmt, va_list ap)
{
	char msg[2048];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (errnum)
		fprintf(stderr, "%s: %s%s: %s\n", prog, level, msg, strerror(errnum));
	else
		fprintf(stderr, "%s: %s%s\n", prog, level, msg);
}

void log_warn(const char *fmt, ...)
{
	int errnum = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog("warning: ", errnum, fmt, ap);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("warning: ", 0, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("", 0, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!verbosity)
		return;
	va_start(ap, fmt);
	vlog("debug: ", 0, fmt, ap);
	va_end(ap);
}

struct buildlog {
	FILE *fp;
	char *path;
	int at_line_start;
};

int buildlog_open(struct buildlog **out, const char *path, int append)
{
	struct buildlog *bl;
	FILE *fp;

	*out = NULL;
	fp = fopen(path, append ? "ae" : "we");
	if (!fp)
		return mf_error_errno(MF_E_INFRA, "cannot create build log '%s'", path);
	setvbuf(fp, NULL, _IOLBF, 0);
	bl = xcalloc(1, sizeof(*bl));
	bl->fp = fp;
	bl->path = xstrdup(path);
	bl->at_line_start = 1;
	*out = bl;
	return 0;
}

void buildlog_close(struct buildlog *bl)
{
	if (!bl)
		return;
	fclose(bl->fp);
	free(bl->path);
	free(bl);
}

void buildlog_event(struct buildlog *bl, const char *fmt, ...)
{
	char msg[2048], stamp[32];
	struct timeval tv;
	struct tm tm;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_debug("%s", msg);
	if (!bl)
		return;
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	fprintf(bl->fp, "%s[mayfly %s.%03ld] %s\n", bl->at_line_start ? "" : "\n", stamp,
		(long)(tv.tv_usec / 1000), msg);
	bl->at_line_start = 1;
}

void buildlog_output(struct buildlog *bl, const char *data, size_t len)
{
	if (!bl || len == 0)
		return;
	fwrite(data, 1, len, bl->fp);
	fflush(bl->fp);
	bl->at_line_start = data[len - 1] == '\n';
}

const char *buildlog_path(const struct buildlog *bl)
{
	return bl ? bl->path : NULL;
}
