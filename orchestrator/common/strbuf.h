/*
 * strbuf.h - a growable NUL-terminated string (after git's strbuf).
 * A strbuf starts as STRBUF_INIT and owns its buffer until
 * strbuf_release() or strbuf_detach().
 */
#ifndef MAYFLY_STRBUF_H
#define MAYFLY_STRBUF_H

#include <stddef.h>

#include "common/error.h"

struct strbuf {
	char *buf;
	size_t len;
	size_t alloc;
};

#define STRBUF_INIT { NULL, 0, 0 }

void strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_addstr(struct strbuf *sb, const char *s);
void strbuf_addch(struct strbuf *sb, char c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) MF_PRINTF(2, 3);
/* Appends s with &, <, >, ' and " escaped for XML text and attributes. */
void strbuf_add_xml(struct strbuf *sb, const char *s);
void strbuf_reset(struct strbuf *sb);
/* Returns the string (never NULL); the strbuf is empty again. */
char *strbuf_detach(struct strbuf *sb);
void strbuf_release(struct strbuf *sb);
/* The string, "" when nothing was added. */
const char *strbuf_str(const struct strbuf *sb);

#endif
