/* error.c - per-thread last error. See error.h. */
#include "common/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MF_ERROR_MAX 2048

static __thread struct {
	enum mf_errclass cls;
	char msg[MF_ERROR_MAX];
} last;

static int set_va(enum mf_errclass cls, int errnum, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static int set_va(enum mf_errclass cls, int errnum, const char *fmt, va_list ap)
{
	int n;

	n = vsnprintf(last.msg, sizeof(last.msg), fmt, ap);
	if (errnum && n >= 0 && (size_t)n < sizeof(last.msg))
		snprintf(last.msg + n, sizeof(last.msg) - (size_t)n, ": %s", strerror(errnum));
	mf_scrub_controls(last.msg, 1);
	last.cls = cls;
	return -1;
}

void mf_scrub_controls(char *s, int keep_newlines)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c < 0x20 && !(c == '\n' && keep_newlines)) || c == 0x7f)
			*s = '?';
	}
}

int mf_error(enum mf_errclass cls, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_va(cls, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int mf_error_errno(enum mf_errclass cls, const char *fmt, ...)
{
	int errnum = errno;
	va_list ap;

	va_start(ap, fmt);
	set_va(cls, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int mf_error_wrap(const char *fmt, ...)
{
	char prefix[512];
	size_t plen, mlen;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	plen = strlen(prefix);
	mlen = strlen(last.msg);
	if (plen + 2 + mlen >= sizeof(last.msg))
		mlen = sizeof(last.msg) - plen - 3; /* keep the start of the old message */
	memmove(last.msg + plen + 2, last.msg, mlen);
	memcpy(last.msg, prefix, plen);
	memcpy(last.msg + plen, ": ", 2);
	last.msg[plen + 2 + mlen] = '\0';
	mf_scrub_controls(last.msg, 1);
	if (last.cls == MF_E_NONE)
		last.cls = MF_E_INFRA;
	return -1;
}

int mf_error_reclass(enum mf_errclass cls)
{
	last.cls = cls;
	return -1;
}

void mf_error_save(struct mf_error_saved *s)
{
	s->cls = last.cls;
	s->msg = strdup(last.msg);
	if (!s->msg) {
		fputs("mayfly: out of memory\n", stderr);
		abort();
	}
}

int mf_error_restore(struct mf_error_saved *s)
{
	snprintf(last.msg, sizeof(last.msg), "%s", s->msg);
	last.cls = s->cls;
	free(s->msg);
	s->msg = NULL;
	return -1;
}

const char *mf_error_msg(void)
{
	return last.msg[0] ? last.msg : "unknown error";
}

enum mf_errclass mf_error_class(void)
{
	return last.cls;
}

void mf_error_clear(void)
{
	last.cls = MF_E_NONE;
	last.msg[0] = '\0';
}

int mf_error_exit_code(enum mf_errclass cls)
{
	switch (cls) {
	case MF_E_NONE:
		return 0;
	case MF_E_BUILD:
		return 1;
	case MF_E_USAGE:
	case MF_E_CONFLICT:
		return 2;
	case MF_E_TIMEOUT:
		return 4;
	case MF_E_INTERRUPTED:
		return 130;
	case MF_E_INFRA:
		break;
	}
	return 3;
}
