/*
 * http.h - the libmicrohttpd boundary: an HTTP server that hands each
 * complete request to one handler and sends back what it returns.
 *
 * One thread per connection (so that a streamed build log does not hold up
 * anyone else), a cap on connections and on request bodies (413 before the
 * body is read when Content-Length says it is too big).
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

/* Lifts the idle timeout of the request's connection (a long stream). */
void http_request_no_timeout(const struct http_request *req);

struct http_response;

/* Responses (the server takes them over from the handler). */
struct http_response *http_respond(int status, const char *content_type, const char *body);
/* A file's content; NULL (with the error set) if it cannot be opened. */
struct http_response *http_respond_file(int status, const char *content_type, const char *path);
/*
 * A stream: reader fills buf (at most max bytes) and returns how many, or 0
 * at the end, or -1 on error. It may block for a while (one thread per
 * connection). free_arg(arg) runs when the response is done.
 */
struct http_response *http_respond_stream(int status, const char *content_type,
					  ssize_t (*reader)(void *arg, char *buf, size_t max),
					  void (*free_arg)(void *arg), void *arg);
void http_response_header(struct http_response *r, const char *name, const char *value);

typedef struct http_response *(*http_handler)(void *app, const struct http_request *req);

struct http_server;

/*
 * Listens on listen ("HOST:PORT"). Bodies larger than max_body get 413
 * without reaching the handler.
 */
int http_start(struct http_server **out, const char *listen, size_t max_body,
	       http_handler handler, void *app);
/* The port actually bound (for "HOST:0"). */
int http_port(const struct http_server *s);
/* Stops accepting and closes every connection. */
void http_stop(struct http_server *s);

#endif
