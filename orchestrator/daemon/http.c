/* http.c - see http.h. */
#include "daemon/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"

/*
 * Per connection, what MHD's pool may hold: request headers (about 8 KiB
 * of them fit in 16 KiB with their index) and the buffers of a response.
 * Bodies pass through it in chunks.
 */
#define CONNECTION_MEMORY 16384

/* One TCP connection (MHD's socket context). */
struct conn {
	struct conn *prev, *next;	/* in s->pending while it owes headers */
	int fd;
	int64_t deadline;		/* mf_now_ms() by which the headers must be in */
	int pending;
};

/* A streamed response, suspended while its reader has nothing to send. */
struct stream {
	ssize_t (*reader)(void *arg, char *buf, size_t max);
	void (*free_arg)(void *arg);
	void *arg;
	struct http_server *server;	/* set when it is queued */
	struct MHD_Connection *conn;
	struct stream *prev, *next;	/* in s->waiting while suspended */
	int waiting;
};

struct http_server {
	struct MHD_Daemon *d;
	size_t max_body;
	int header_timeout;
	http_handler handler;
	void *app;
	int port;
	pthread_mutex_t lock;		/* guards what follows */
	pthread_cond_t wake;
	struct conn *pending;		/* connections that owe their headers */
	struct stream *waiting;		/* suspended streams */
	int stopping;
	pthread_t sweeper;
	int sweeper_started;
};

struct http_response {
	struct MHD_Response *r;
	int status;
	struct stream *stream;		/* when it is one */
};

/* What a request has received so far. */
struct request_state {
	char *body;
	size_t len;
	int too_big;
};

/* --- lists (under s->lock) */

static void conn_arm(struct http_server *s, struct conn *c)
{
	c->deadline = mf_now_ms() + (int64_t)s->header_timeout * 1000;
	if (c->pending)
		return;
	c->pending = 1;
	c->prev = NULL;
	c->next = s->pending;
	if (s->pending)
		s->pending->prev = c;
	s->pending = c;
}

static void conn_disarm(struct http_server *s, struct conn *c)
{
	if (!c->pending)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->pending = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->pending = 0;
}

static void stream_unlink(struct http_server *s, struct stream *st)
{
	if (!st->waiting)
		return;
	if (st->prev)
		st->prev->next = st->next;
	else
		s->waiting = st->next;
	if (st->next)
		st->next->prev = st->prev;
	st->waiting = 0;
}

/*
 * Takes every suspended stream off the list (under the lock) and resumes
 * them (outside it). A suspended connection is never closed by MHD, so
 * each stays valid until it is resumed here, exactly once.
 */
static void resume_waiting(struct http_server *s)
{
	struct MHD_Connection *v[64];
	size_t n;

	do {
		n = 0;
		pthread_mutex_lock(&s->lock);
		while (s->waiting && n < sizeof(v) / sizeof(v[0])) {
			struct stream *st = s->waiting;
			stream_unlink(s, st);
			v[n++] = st->conn;
		}
		pthread_mutex_unlock(&s->lock);
		for (size_t i = 0; i < n; i++)
			MHD_resume_connection(v[i]);
	} while (n == sizeof(v) / sizeof(v[0]));
}

/*
 * The sweeper: closes connections that did not send their headers in
 * time (shutdown(2) under the lock: MHD calls on_connection(CLOSED), which
 * takes the lock, before it closes the fd, so the fd is still ours), and
 * wakes suspended streams to ask their readers again.
 */
static void *sweeper_main(void *arg)
{
	struct http_server *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		int64_t now = mf_now_ms();
		for (struct conn *c = s->pending, *next; c; c = next) {
			next = c->next;
			if (c->deadline <= now) {
				shutdown(c->fd, SHUT_RDWR);
				conn_disarm(s, c);
			}
		}
		pthread_mutex_unlock(&s->lock);
		resume_waiting(s);
		pthread_mutex_lock(&s->lock);
		if (s->stopping)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += HTTP_STREAM_POLL_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->wake, &s->lock, &ts);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_server *s = cls;
	struct conn *conn = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *info =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		conn = xcalloc(1, sizeof(*conn));
		conn->fd = info ? info->connect_fd : -1;
		*socket_context = conn;
		if (conn->fd >= 0) {
			pthread_mutex_lock(&s->lock);
			conn_arm(s, conn);
			pthread_mutex_unlock(&s->lock);
		}
	} else if (conn) {
		pthread_mutex_lock(&s->lock);
		conn_disarm(s, conn);
		pthread_mutex_unlock(&s->lock);
		free(conn);
		*socket_context = NULL;
	}
}

static struct conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info ? info->socket_context : NULL;
}

/* --- requests and responses */

const char *http_query(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

static struct http_response *wrap(struct MHD_Response *r, int status, const char *type)
{
	struct http_response *resp;

	if (!r) {
		fputs("mayfly: cannot create an HTTP response\n", stderr);
		abort();
	}
	resp = xcalloc(1, sizeof(*resp));
	resp->r = r;
	resp->status = status;
	if (type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	return resp;
}

struct http_response *http_respond(int status, const char *content_type, const char *body)
{
	return wrap(MHD_create_response_from_buffer(strlen(body), (void *)body,
						    MHD_RESPMEM_MUST_COPY),
		    status, content_type);
}

struct http_response *http_respond_file(int status, const char *content_type, const char *path,
				       int64_t size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		mf_error_errno(MF_E_INFRA, "cannot open '%s'", path);
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		mf_error(MF_E_INFRA, "'%s' is not a regular file", path);
		return NULL;
	}
	if (size >= 0 && st.st_size != size) {
		close(fd);
		mf_error(MF_E_INFRA, "'%s' is %lld bytes, not the %lld recorded", path,
			 (long long)st.st_size, (long long)size);
		return NULL;
	}
	/* MHD closes fd when the response is destroyed. */
	return wrap(MHD_create_response_from_fd((uint64_t)st.st_size, fd), status, content_type);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;
	struct http_server *s = st->server;
	ssize_t n = st->reader(st->arg, buf, max);

	if (n > 0)
		return n;
	if (n == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (n != HTTP_STREAM_WAIT)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	/* Nothing yet: suspend (no busy loop); the sweeper resumes it soon. */
	pthread_mutex_lock(&s->lock);
	if (s->stopping) {
		pthread_mutex_unlock(&s->lock);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	MHD_suspend_connection(st->conn);
	st->waiting = 1;
	st->prev = NULL;
	st->next = s->waiting;
	if (s->waiting)
		s->waiting->prev = st;
	s->waiting = st;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static void stream_free(void *cls)
{
	struct stream *st = cls;

	if (st->server) {
		pthread_mutex_lock(&st->server->lock);
		stream_unlink(st->server, st);
		pthread_mutex_unlock(&st->server->lock);
	}
	if (st->free_arg)
		st->free_arg(st->arg);
	free(st);
}

struct http_response *http_respond_stream(int status, const char *content_type,
					  ssize_t (*reader)(void *arg, char *buf, size_t max),
					  void (*free_arg)(void *arg), void *arg)
{
	struct stream *st = xcalloc(1, sizeof(*st));
	struct http_response *resp;

	st->reader = reader;
	st->free_arg = free_arg;
	st->arg = arg;
	resp = wrap(MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_read,
						      st, stream_free),
		    status, content_type);
	resp->stream = st;
	return resp;
}

void http_response_header(struct http_response *r, const char *name, const char *value)
{
	MHD_add_response_header(r->r, name, value);
}

static enum MHD_Result send_response(struct http_server *s, struct MHD_Connection *c,
				     struct http_response *resp)
{
	enum MHD_Result ret;

	if (resp->stream) {
		resp->stream->server = s;
		resp->stream->conn = c;
	}
	ret = MHD_queue_response(c, (unsigned int)resp->status, resp->r);
	MHD_destroy_response(resp->r);
	free(resp);
	return ret;
}

static enum MHD_Result send_simple(struct http_server *s, struct MHD_Connection *c, int status,
				   const char *json)
{
	return send_response(s, c, http_respond(status, "application/json", json));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct http_server *s = cls;
	struct request_state *rs = *con_cls;
	static const char too_big[] = "{\"error\": \"the request body is too large\"}\n";

	if (!rs) {
		/* The headers are in: the deadline is met. */
		struct conn *conn = conn_of(c);
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (conn) {
			pthread_mutex_lock(&s->lock);
			conn_disarm(s, conn);
			pthread_mutex_unlock(&s->lock);
		}
		rs = xcalloc(1, sizeof(*rs));
		*con_cls = rs;
		/* Refuse before reading the body when its announced size is too big. */
		if (cl && strtoull(cl, NULL, 10) > s->max_body) {
			rs->too_big = 1;
			return send_simple(s, c, MHD_HTTP_CONTENT_TOO_LARGE, too_big);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!rs->too_big && rs->len + *upload_data_size > s->max_body) {
			rs->too_big = 1;
			free(rs->body);
			rs->body = NULL;
			rs->len = 0;
		}
		if (!rs->too_big) {
			rs->body = xrealloc(rs->body, rs->len + *upload_data_size + 1);
			memcpy(rs->body + rs->len, upload_data, *upload_data_size);
			rs->len += *upload_data_size;
			rs->body[rs->len] = '\0';
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (rs->too_big)
		return send_simple(s, c, MHD_HTTP_CONTENT_TOO_LARGE, too_big);
	struct http_request req = {
		.method = method,
		.path = url,
		.body = rs->body,
		.body_len = rs->len,
		.conn = c,
	};
	return send_response(s, c, s->handler(s->app, &req));
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode code)
{
	struct http_server *s = cls;
	struct request_state *rs = *con_cls;
	struct conn *conn = conn_of(c);

	if (rs) {
		free(rs->body);
		free(rs);
	}
	*con_cls = NULL;
	/* Kept alive: the next request's headers have the same deadline. */
	if (code == MHD_REQUEST_TERMINATED_COMPLETED_OK && conn) {
		pthread_mutex_lock(&s->lock);
		conn_arm(s, conn);
		pthread_mutex_unlock(&s->lock);
	}
}

static void on_mhd_error(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/*
 * libmicrohttpd's messages are mostly about one client ("closed by remote
 * side with incomplete request"): a client that opens and drops thousands
 * of connections must not flood the log. One line per 10 s at most, with
 * a count of those left out.
 */
static void on_mhd_error(void *cls, const char *fmt, va_list ap)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static int64_t next;
	static unsigned skipped;
	char msg[512];
	int64_t now = mf_now_ms();

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	pthread_mutex_lock(&lock);
	if (now < next) {
		skipped++;
		pthread_mutex_unlock(&lock);
		log_debug("http: %s", msg);
		return;
	}
	next = now + 10000;
	if (skipped)
		log_warnx("http: %s (and %u more messages in the last 10 s)", msg, skipped);
	else
		log_warnx("http: %s", msg);
	skipped = 0;
	pthread_mutex_unlock(&lock);
}

static int parse_address(const char *listen, struct sockaddr_storage *ss, unsigned int *flags)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char host[256];
	int port;

	memset(ss, 0, sizeof(*ss));
	if (config_parse_listen(listen, host, sizeof(host), &port) < 0)
		return mf_error(MF_E_USAGE, "listen: '%s' is not HOST:PORT", listen);
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*flags |= MHD_USE_IPv6;
	} else {
		return mf_error(MF_E_USAGE, "listen: '%s' is not an IP address", host);
	}
	return 0;
}

int http_start(struct http_server **out, const struct http_opts *o, http_handler handler,
	       void *app)
{
	struct http_server *s;
	struct sockaddr_storage ss;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;

	*out = NULL;
	if (parse_address(o->listen, &ss, &flags) < 0)
		return -1;
	s = xcalloc(1, sizeof(*s));
	s->max_body = o->max_body;
	s->header_timeout = o->header_timeout > 0 ? o->header_timeout : 10;
	s->handler = handler;
	s->app = app;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
				MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, s,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_THREAD_POOL_SIZE, o->threads ? o->threads : 1,
				MHD_OPTION_CONNECTION_LIMIT, o->max_connections,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_IDLE_TIMEOUT_S,
				MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				MHD_OPTION_END);
	if (!s->d) {
		pthread_cond_destroy(&s->wake);
		pthread_mutex_destroy(&s->lock);
		free(s);
		return mf_error_errno(MF_E_INFRA, "cannot listen on %s", o->listen);
	}
	if (pthread_create(&s->sweeper, NULL, sweeper_main, s) != 0) {
		MHD_stop_daemon(s->d);
		pthread_cond_destroy(&s->wake);
		pthread_mutex_destroy(&s->lock);
		free(s);
		return mf_error(MF_E_INFRA, "cannot start the HTTP server's sweeper thread");
	}
	s->sweeper_started = 1;
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : 0;
	*out = s;
	return 0;
}

int http_port(const struct http_server *s)
{
	return s->port;
}

void http_stop(struct http_server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
	if (s->sweeper_started)
		pthread_join(s->sweeper, NULL);
	/* No stream suspends any more; wake those that did (MHD must not stop with one). */
	resume_waiting(s);
	MHD_stop_daemon(s->d);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
