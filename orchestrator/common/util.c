/* util.c - see util.h. */
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void oom(void)
{
	fputs("mayfly: out of memory\n", stderr);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		oom();
	return p;
}

char *xstrdup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (!p)
		oom();
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		oom();
	va_end(ap);
	return p;
}

void mf_freep(void *p)
{
	void **pp = p;

	free(*pp);
	*pp = NULL;
}

void mf_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

size_t mf_strv_len(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

int64_t mf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mf_wall_seconds(void)
{
	return (int64_t)time(NULL);
}

void mf_rfc3339(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int mf_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return mf_error(MF_E_USAGE, "invalid directory path '%s'", path);
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return mf_error_errno(MF_E_USAGE, "cannot create directory '%s'", buf);
		*p = c;
		if (c == '\0')
			break;
	}
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return mf_error(MF_E_USAGE, "'%s' is not a directory", path);
	return 0;
}

int mf_read_file(const char *path, size_t max, char **out, size_t *len)
{
	int fd = -1, ret = -1;
	char *buf = NULL;
	size_t n = 0, alloc = 4096;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		mf_error_errno(MF_E_USAGE, "cannot open '%s'", path);
		goto out;
	}
	buf = xmalloc(alloc);
	for (;;) {
		if (n + 1 >= alloc) {
			alloc *= 2;
			buf = xrealloc(buf, alloc);
		}
		ssize_t r = read(fd, buf + n, alloc - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			mf_error_errno(MF_E_USAGE, "cannot read '%s'", path);
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			mf_error(MF_E_USAGE, "'%s' is larger than %zu bytes", path, max);
			goto out;
		}
	}
	buf[n] = '\0';
	*out = buf;
	buf = NULL;
	if (len)
		*len = n;
	ret = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return ret;
}

int mf_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int mf_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	int fd, ret = -1;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		mf_error_errno(MF_E_INFRA, "cannot create '%s'", tmp);
		goto out;
	}
	if (mf_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		mf_error_errno(MF_E_INFRA, "cannot write '%s'", tmp);
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		mf_error_errno(MF_E_INFRA, "cannot rename '%s' to '%s'", tmp, path);
		unlink(tmp);
		goto out;
	}
	ret = 0;
out:
	free(tmp);
	return ret;
}

int mf_copy_file(const char *src, const char *dst, mode_t mode)
{
	char *tmp = xasprintf("%s.tmp.%ld", dst, (long)getpid());
	char buf[64 * 1024];
	int in, out = -1, ret = -1;
	ssize_t n;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		mf_error_errno(MF_E_USAGE, "cannot read '%s'", src);
		goto done;
	}
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (out < 0) {
		mf_error_errno(MF_E_INFRA, "cannot create '%s'", tmp);
		goto done;
	}
	/* Streamed: any size, a buffer's worth of memory. */
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			mf_error_errno(MF_E_INFRA, "cannot read '%s'", src);
			goto done;
		}
		if (mf_write_all(out, buf, (size_t)n) < 0) {
			mf_error_errno(MF_E_INFRA, "cannot write '%s'", tmp);
			goto done;
		}
	}
	if (fsync(out) < 0) {
		mf_error_errno(MF_E_INFRA, "cannot write '%s'", tmp);
		goto done;
	}
	close(out);
	out = -1;
	if (rename(tmp, dst) < 0) {
		mf_error_errno(MF_E_INFRA, "cannot rename '%s' to '%s'", tmp, dst);
		goto done;
	}
	ret = 0;
done:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (ret < 0)
		unlink(tmp);
	free(tmp);
	return ret;
}

char *mf_realpath(const char *path)
{
	char *p = realpath(path, NULL);

	if (!p)
		mf_error_errno(MF_E_USAGE, "cannot resolve '%s'", path);
	return p;
}

static int list_into(const char *root, const char *rel, char ***v, size_t *n)
{
	char *dir = *rel ? xasprintf("%s/%s", root, rel) : xstrdup(root);
	DIR *d = opendir(dir);
	struct dirent *e;
	int ret = 0;

	if (!d) {
		ret = mf_error_errno(MF_E_INFRA, "cannot open '%s'", dir);
		free(dir);
		return ret;
	}
	while (ret == 0 && (e = readdir(d))) {
		struct stat st;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *r = *rel ? xasprintf("%s/%s", rel, e->d_name) : xstrdup(e->d_name);
		char *full = xasprintf("%s/%s", root, r);
		if (lstat(full, &st) < 0) {
			ret = mf_error_errno(MF_E_INFRA, "cannot stat '%s'", full);
		} else if (S_ISDIR(st.st_mode)) {
			ret = list_into(root, r, v, n);
		} else if (S_ISREG(st.st_mode)) {
			*v = xrealloc(*v, (*n + 2) * sizeof(char *));
			(*v)[(*n)++] = r;
			(*v)[*n] = NULL;
			r = NULL;
		}
		free(full);
		free(r);
	}
	closedir(d);
	free(dir);
	return ret;
}

int mf_list_files(const char *dir, char ***out, size_t *n)
{
	*out = xcalloc(1, sizeof(char *));
	*n = 0;
	if (list_into(dir, "", out, n) < 0) {
		mf_strv_free(*out);
		*out = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

int mf_rm_rf(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	int ret = 0;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : mf_error_errno(MF_E_INFRA, "cannot stat '%s'", path);
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) < 0)
			return mf_error_errno(MF_E_INFRA, "cannot remove '%s'", path);
		return 0;
	}
	d = opendir(path);
	if (!d)
		return mf_error_errno(MF_E_INFRA, "cannot open '%s'", path);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *child = xasprintf("%s/%s", path, e->d_name);
		if (mf_rm_rf(child) < 0)
			ret = -1;
		free(child);
	}
	closedir(d);
	if (ret == 0 && rmdir(path) < 0)
		return mf_error_errno(MF_E_INFRA, "cannot remove '%s'", path);
	return ret;
}

int mf_check_reachable(const char *dir)
{
	char *abs = mf_realpath(dir);
	struct stat st;
	int ret = 0;

	if (!abs)
		return -1;
	/* Check "/", "/a", "/a/b", ... up to the directory itself. */
	for (size_t i = 1, len = strlen(abs); i <= len && ret == 0; i++) {
		if (abs[i] != '/' && abs[i] != '\0')
			continue;
		char c = abs[i];
		abs[i] = '\0';
		if (stat(abs, &st) == 0 && !(st.st_mode & S_IXOTH))
			ret = mf_error(MF_E_USAGE,
				       "'%s' is not searchable by other users (mode %03o), so QEMU, "
				       "which runs as libvirt-qemu, cannot reach '%s'; use a state "
				       "directory under /var/lib, or run: chmod o+x '%s'",
				       abs, (unsigned)(st.st_mode & 0777), dir, abs);
		abs[i] = c;
	}
	free(abs);
	return ret;
}

void mf_format_duration(int64_t ms, char out[32])
{
	if (ms < 1000)
		snprintf(out, 32, "%lld ms", (long long)ms);
	else if (ms < 59950) /* what rounds to 60.0 s is shown as 1m00s */
		snprintf(out, 32, "%.1f s", (double)ms / 1000.0);
	else
		snprintf(out, 32, "%lldm%02llds", (long long)((ms + 500) / 60000),
			 (long long)(((ms + 500) / 1000) % 60));
}

void mf_format_size(uint64_t bytes, char out[32])
{
	/* A unit is used until its value would round up to 1024.0. */
	if (bytes < 1024)
		snprintf(out, 32, "%llu B", (unsigned long long)bytes);
	else if (bytes < 1024 * 1024 - 52)
		snprintf(out, 32, "%.1f KiB", (double)bytes / 1024.0);
	else if (bytes < 1024ULL * 1024 * 1024 - 52 * 1024)
		snprintf(out, 32, "%.1f MiB", (double)bytes / (1024.0 * 1024.0));
	else
		snprintf(out, 32, "%.2f GiB", (double)bytes / (1024.0 * 1024.0 * 1024.0));
}

static int process_start_time(pid_t pid, unsigned long long *out)
{
	char path[64], *data = NULL, *p;
	int ret = -1;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (mf_read_file(path, 1 << 16, &data, NULL) < 0) {
		mf_error_clear();
		return -1;
	}
	/* Field 22 is the start time; skip "pid (comm)" where comm may hold spaces. */
	p = strrchr(data, ')');
	if (p) {
		int field = 2;
		for (p++; *p && field < 22; p++)
			if (*p == ' ')
				field++;
		if (field == 22 && sscanf(p, "%llu", out) == 1)
			ret = 0;
	}
	free(data);
	return ret;
}

char *mf_process_identity(pid_t pid)
{
	unsigned long long start = 0;

	process_start_time(pid, &start);
	return xasprintf("%ld:%llu", (long)pid, start);
}

int mf_process_alive(const char *identity)
{
	long pid;
	unsigned long long start, now;

	if (sscanf(identity, "%ld:%llu", &pid, &start) != 2 || pid <= 0)
		return 0;
	if (process_start_time((pid_t)pid, &now) < 0)
		return 0;
	return now == start;
}

void mf_sleep_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int mf_random_bytes(void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = getrandom((char *)buf + got, len - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return mf_error_errno(MF_E_INFRA, "cannot read random bytes");
		}
		got += (size_t)n;
	}
	return 0;
}

int mf_uuid(char out[37])
{
	unsigned char u[16];

	if (mf_random_bytes(u, sizeof(u)) < 0)
		return -1;
	u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
	u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7],
		 u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
	return 0;
}

void mf_cond_wait_ms(pthread_cond_t *cond, pthread_mutex_t *mutex, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(cond, mutex, &ts);
}
