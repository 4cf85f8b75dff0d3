/*
 * http.h - the libmicrohttpd boundary: an HTTP server that hands each
 * complete request to one handler and sends back what it returns.
 *
 * It faces the internet (webhooks), so idle and slow clients cost little
 * and hold up nobody:
 *   - a few threads serve every connection (epoll); no thread per
 *     connection, so thousands of idle ones cost a few KiB each;
 *   - a client has header_timeout seconds to send a request's headers,
 *     however slowly it trickles them (slowloris), and a kept-alive
 *     connection the same time to start its next request;
 *   - a connection without traffic for HTTP_IDLE_TIMEOUT_S is closed;
 *   - a stream that has nothing to send yet (a followed log) is suspended,
 *     not polled in a busy loop, and asked again every HTTP_STREAM_POLL_MS;
 *   - bodies larger than max_body get 413 without reaching the handler
 *     (before they are read when Content-Length says so).
 */
#ifndef MAYFLY_HTTP_H
#define MAYFLY_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct http_request {
	const char *method;
	const char *path;
	const char *body;	/* NUL-terminated; NULL when empty */
	size_t body_len;
	void *conn;		/* for http_query() and http_header() */
};

/* A query argument ("?follow=1") or header; NULL when absent. */
const char *http_query(const struct http_request *req, const char *name);
const char *http_header(const struct http_request *req, const char *name);

struct http_response;

/* Responses (the server takes them over from the handler). */
struct http_response *http_respond(int status, const char *content_type, const char *body);
/*
 * A regular file's content, opened without following a symlink; with
 * size >= 0, only if it has that size. NULL (with the error set) if not.
 */
struct http_response *http_respond_file(int status, const char *content_type, const char *path,
				       int64_t size);
#define HTTP_IDLE_TIMEOUT_S 30
#define HTTP_STREAM_POLL_MS 200
#define HTTP_STREAM_WAIT (-2)

/*
 * A stream: reader fills buf (at most max bytes) and returns how many, 0 at
 * the end, -1 on error, or HTTP_STREAM_WAIT when it has nothing yet (it is
 * asked again later). It must not block: it runs on a server thread.
 * free_arg(arg) runs when the response is done.
 */
struct http_response *http_respond_stream(int status, const char *content_type,
					  ssize_t (*reader)(void *arg, char *buf, size_t max),
					  void (*free_arg)(void *arg), void *arg);
void http_response_header(struct http_response *r, const char *name, const char *value);

typedef struct http_response *(*http_handler)(void *app, const struct http_request *req);

struct http_server;

struct http_opts {
	const char *listen;		/* "HOST:PORT" */
	size_t max_body;		/* bytes */
	unsigned max_connections;	/* open at once; more wait in the listen backlog */
	unsigned threads;		/* serving every connection */
	int header_timeout;		/* seconds to send a request's headers */
};

/*
 * Listens as o says. The handler runs on a server thread, several at once;
 * it should answer promptly (no long waits: streams are for those).
 */
int http_start(struct http_server **out, const struct http_opts *o, http_handler handler,
	       void *app);
/* The port actually bound (for "HOST:0"). */
int http_port(const struct http_server *s);
/* Ends every stream (a last read, then end of stream), stops, closes all. */
void http_stop(struct http_server *s);

#endif
