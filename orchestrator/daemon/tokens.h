/*
 * tokens.h - the API's bearer tokens.
 *
 * token_file holds one token per line ('#' starts a comment). Only their
 * SHA-256 digests are kept in memory, and a presented token is compared
 * with every one of them in constant time, so neither the time of a check
 * nor a log line tells anything about a token. A caller is named by the
 * first 8 hex digits of its token's digest ("token:3fa9c0d1").
 */
#ifndef MAYFLY_TOKENS_H
#define MAYFLY_TOKENS_H

#include <stddef.h>

struct tokens;

/* Reads path (NULL: no tokens, every check fails). The caller owns *out. */
int tokens_load(struct tokens **out, const char *path);
void tokens_free(struct tokens *t);
size_t tokens_count(const struct tokens *t);

/*
 * 1 if header is "Bearer TOKEN" with a known token (*who gets the caller's
 * name; caller frees), else 0.
 */
int tokens_check(const struct tokens *t, const char *header, char **who);

#endif
