/*
 * httpc.h - the libcurl boundary: an HTTP(S) client for everything Mayfly
 * fetches or calls (mayflyd's API from vmctl, port sources, later S3 and
 * forges). One handle keeps its connections alive between requests; a
 * handle is used by one thread at a time.
 */
#ifndef MAYFLY_HTTPC_H
#define MAYFLY_HTTPC_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct httpc;

int httpc_open(struct httpc **out);
void httpc_close(struct httpc *c);

struct httpc_request {
	const char *method;		/* NULL: GET */
	const char *url;
	const char *const *headers;	/* NULL-terminated "Name: value", or NULL */
	const void *body;		/* NULL: none (a POST sends an empty body) */
	size_t body_len;
	/*
	 * The answer's body as it arrives, with its status. Returning -1 (an
	 * error set) stops the transfer and httpc_perform() returns -1.
	 */
	int (*on_body)(void *arg, long status, const char *data, size_t len);
	void *arg;
	const atomic_int *cancel;	/* non-zero stops it: MF_E_INTERRUPTED */
	int connect_timeout_s;		/* 0: 10 s */
	int stall_timeout_s;		/* under 1 byte/s this long ends it; 0: never */
	int max_redirects;		/* followed (http and https only); 0: none */
};

/*
 * Performs a request. 0 with *status for any HTTP answer (a 404 too);
 * -1 when there was none: MF_E_INFRA with the reason ("cannot reach
 * 127.0.0.1:8470: Connection refused"), MF_E_INTERRUPTED, or the error
 * on_body set.
 */
int httpc_perform(struct httpc *c, const struct httpc_request *r, long *status);

/* The URL's scheme, host and port only, for messages ("http://host:80"); caller frees. */
char *httpc_origin(const char *url);

#endif
