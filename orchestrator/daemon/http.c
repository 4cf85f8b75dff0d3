/* http.c - see http.h. */
#include "daemon/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"

#define MAX_CONNECTIONS 256
#define CONNECTION_TIMEOUT_S 120

struct http_server {
	struct MHD_Daemon *d;
	size_t max_body;
	http_handler handler;
	void *app;
	int port;
};

struct http_response {
	struct MHD_Response *r;
	int status;
};

/* What a connection has received so far. */
struct conn_state {
	char *body;
	size_t len;
	int too_big;
};

const char *http_query(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

void http_request_no_timeout(const struct http_request *req)
{
	MHD_set_connection_option(req->conn, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned int)0);
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

struct http_response *http_respond_file(int status, const char *content_type, const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		mf_error_errno(MF_E_INFRA, "cannot open '%s'", path);
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		mf_error(MF_E_INFRA, "'%s' is not a regular file", path);
		return NULL;
	}
	/* MHD closes fd when the response is destroyed. */
	return wrap(MHD_create_response_from_fd((uint64_t)st.st_size, fd), status, content_type);
}

struct stream {
	ssize_t (*reader)(void *arg, char *buf, size_t max);
	void (*free_arg)(void *arg);
	void *arg;
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = cls;
	ssize_t n = s->reader(s->arg, buf, max);

	if (n < 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

static void stream_free(void *cls)
{
	struct stream *s = cls;

	if (s->free_arg)
		s->free_arg(s->arg);
	free(s);
}

struct http_response *http_respond_stream(int status, const char *content_type,
					  ssize_t (*reader)(void *arg, char *buf, size_t max),
					  void (*free_arg)(void *arg), void *arg)
{
	struct stream *s = xcalloc(1, sizeof(*s));

	s->reader = reader;
	s->free_arg = free_arg;
	s->arg = arg;
	return wrap(MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_read, s,
						      stream_free),
		    status, content_type);
}

void http_response_header(struct http_response *r, const char *name, const char *value)
{
	MHD_add_response_header(r->r, name, value);
}

static enum MHD_Result send_response(struct MHD_Connection *c, struct http_response *resp)
{
	enum MHD_Result ret = MHD_queue_response(c, (unsigned int)resp->status, resp->r);

	MHD_destroy_response(resp->r);
	free(resp);
	return ret;
}

static enum MHD_Result send_simple(struct MHD_Connection *c, int status, const char *json)
{
	return send_response(c, http_respond(status, "application/json", json));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct http_server *s = cls;
	struct conn_state *cs = *con_cls;
	static const char too_big[] = "{\"error\": \"the request body is too large\"}\n";

	if (!cs) {
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		cs = xcalloc(1, sizeof(*cs));
		*con_cls = cs;
		/* Refuse before reading the body when its announced size is too big. */
		if (cl && strtoull(cl, NULL, 10) > s->max_body) {
			cs->too_big = 1;
			return send_simple(c, MHD_HTTP_CONTENT_TOO_LARGE, too_big);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!cs->too_big && cs->len + *upload_data_size > s->max_body) {
			cs->too_big = 1;
			free(cs->body);
			cs->body = NULL;
			cs->len = 0;
		}
		if (!cs->too_big) {
			cs->body = xrealloc(cs->body, cs->len + *upload_data_size + 1);
			memcpy(cs->body + cs->len, upload_data, *upload_data_size);
			cs->len += *upload_data_size;
			cs->body[cs->len] = '\0';
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (cs->too_big)
		return send_simple(c, MHD_HTTP_CONTENT_TOO_LARGE, too_big);
	struct http_request req = {
		.method = method,
		.path = url,
		.body = cs->body,
		.body_len = cs->len,
		.conn = c,
	};
	struct http_response *resp = s->handler(s->app, &req);
	return send_response(c, resp);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode code)
{
	struct conn_state *cs = *con_cls;

	if (cs) {
		free(cs->body);
		free(cs);
	}
	*con_cls = NULL;
}

static void on_mhd_error(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static void on_mhd_error(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_warnx("http: %s", msg);
}

int http_start(struct http_server **out, const char *listen, size_t max_body,
	       http_handler handler, void *app)
{
	struct http_server *s;
	struct sockaddr_storage ss;
	char host[256];
	int port;
	unsigned int flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			     MHD_USE_ERROR_LOG;

	*out = NULL;
	memset(&ss, 0, sizeof(ss));
	if (config_parse_listen(listen, host, sizeof(host), &port) < 0)
		return mf_error(MF_E_USAGE, "listen: '%s' is not HOST:PORT", listen);
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		flags |= MHD_USE_IPv6;
	} else {
		return mf_error(MF_E_USAGE, "listen: '%s' is not an IP address", host);
	}
	s = xcalloc(1, sizeof(*s));
	s->max_body = max_body;
	s->handler = handler;
	s->app = app;
	s->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, s,
				MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, s,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)MAX_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT_S,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				MHD_OPTION_END);
	if (!s->d) {
		free(s);
		return mf_error_errno(MF_E_INFRA, "cannot listen on %s", listen);
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : port;
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
	MHD_stop_daemon(s->d);
	free(s);
}
