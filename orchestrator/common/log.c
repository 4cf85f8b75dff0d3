/* log.c - see log.h. */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "common/strbuf.h"
#include "common/util.h"

static const char *prog = "mayfly";

/*
 * A message as one log entry: control characters become '?', and the
 * lines after the first are indented, so that text from a guest can
 * neither forge a log line of its own nor move a terminal's cursor.
 */
static void scrub_line(struct strbuf *out, const char *msg)
{
	for (const char *p = msg; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '\n') {
			if (p[1])
				strbuf_addstr(out, "\n    ");
		} else {
			strbuf_addch(out, c < 0x20 || c == 0x7f ? '?' : (char)c);
		}
	}
}
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
	struct strbuf line = STRBUF_INIT;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	scrub_line(&line, msg);
	if (errnum)
		fprintf(stderr, "%s: %s%s: %s\n", prog, level, strbuf_str(&line), strerror(errnum));
	else
		fprintf(stderr, "%s: %s%s\n", prog, level, strbuf_str(&line));
	strbuf_release(&line);
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
	uint64_t written;	/* guest output */
	uint64_t limit;		/* 0: none */
	int full;
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
	struct strbuf line = STRBUF_INIT;
	struct timeval tv;
	struct tm tm;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_debug("%s", msg);
	if (!bl)
		return;
	scrub_line(&line, msg);
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	fprintf(bl->fp, "%s[mayfly %s.%03ld] %s\n", bl->at_line_start ? "" : "\n", stamp,
		(long)(tv.tv_usec / 1000), strbuf_str(&line));
	strbuf_release(&line);
	bl->at_line_start = 1;
}

void buildlog_limit(struct buildlog *bl, uint64_t max_bytes)
{
	if (bl)
		bl->limit = max_bytes;
}

int buildlog_output(struct buildlog *bl, const char *data, size_t len)
{
	if (!bl)
		return 0;
	if (bl->full)
		return -1;
	if (bl->limit && bl->written + len > bl->limit) {
		size_t fits = (size_t)(bl->limit - bl->written);
		fwrite(data, 1, fits, bl->fp);
		bl->written += fits;
		bl->at_line_start = fits == 0 || data[fits - 1] == '\n';
		bl->full = 1;
		buildlog_event(bl, "the log reached its limit of %llu bytes; the rest of the "
			       "output was dropped", (unsigned long long)bl->limit);
		return -1;
	}
	if (len == 0)
		return 0;
	fwrite(data, 1, len, bl->fp);
	fflush(bl->fp);
	bl->written += len;
	bl->at_line_start = data[len - 1] == '\n';
	return 0;
}

const char *buildlog_path(const struct buildlog *bl)
{
	return bl ? bl->path : NULL;
}
