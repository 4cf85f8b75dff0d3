/*
 * util.h - small helpers used everywhere: allocation that never returns
 * NULL (out of memory aborts, as in git and tmux), clocks, files.
 */
#ifndef MAYFLY_UTIL_H
#define MAYFLY_UTIL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* NULL stays NULL. */
char *xstrdup_or_null(const char *s);
/* At most n bytes of s, NUL-terminated. */
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) MF_PRINTF(1, 2);
/* Frees *p and sets it to NULL. */
void mf_freep(void *p);
/* Frees a NULL-terminated array of strings and the array. */
void mf_strv_free(char **v);
size_t mf_strv_len(char *const *v);

/* Milliseconds on the monotonic clock. */
int64_t mf_now_ms(void);
/* Seconds since the epoch, and the same as an RFC 3339 UTC string. */
int64_t mf_wall_seconds(void);
void mf_rfc3339(int64_t t, char out[32]);
/* pthread_cond_timedwait() for at most ms milliseconds (mutex held by the caller). */
void mf_cond_wait_ms(pthread_cond_t *cond, pthread_mutex_t *mutex, int ms);
/* Sleeps ms milliseconds (signals do not cut it short). */
void mf_sleep_ms(int64_t ms);
/* Fills buf from the kernel's random source (MF_E_INFRA if it fails). */
int mf_random_bytes(void *buf, size_t len);
/* A random (version 4) UUID in its 36-character text form. */
int mf_uuid(char out[37]);

/* mkdir -p with the given mode for the directories it creates. */
int mf_mkdir_p(const char *path, mode_t mode);
/* Reads a whole file (at most max bytes) into a NUL-terminated buffer. */
int mf_read_file(const char *path, size_t max, char **out, size_t *len);
/* write(2) until all of data is written (EINTR retried); -1 with errno set. */
int mf_write_all(int fd, const void *data, size_t len);
/* Writes data to path via a temporary file and rename(2). */
int mf_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Copies a file of any size, streamed, to dst via a temporary file and rename(2). */
int mf_copy_file(const char *src, const char *dst, mode_t mode);
/* Absolute, symlink-free path; caller frees. */
char *mf_realpath(const char *path);
/* Removes a directory tree; missing is fine. */
int mf_rm_rf(const char *path);
/* The regular files under dir, as paths relative to it (NULL-terminated; symlinks skipped). */
int mf_list_files(const char *dir, char ***out, size_t *n);

/*
 * Checks that a user other than root (QEMU runs as libvirt-qemu) can reach
 * the directory: every component must be searchable by others.
 */
int mf_check_reachable(const char *dir);

/* "1.2 s", "38 ms" */
void mf_format_duration(int64_t ms, char out[32]);
/* "41 B", "2.0 MiB" */
void mf_format_size(uint64_t bytes, char out[32]);

/* Process identity that survives pid reuse: "PID:STARTTIME". */
char *mf_process_identity(pid_t pid);
/* Whether the process named by an identity string still runs. */
int mf_process_alive(const char *identity);

#endif
