/*
 * client.h - vmctl's side of mayflyd's API, over net/httpc.h.
 *
 * Errors: mayflyd unreachable -> MF_E_INFRA; an answer of 400, 401, 404 or
 * 409 -> MF_E_USAGE (or MF_E_CONFLICT) with mayflyd's message; 429 and 5xx
 * -> MF_E_INFRA.
 */
#ifndef MAYFLY_CLIENT_H
#define MAYFLY_CLIENT_H

#include <stdatomic.h>
#include <stddef.h>

struct client;

/* url: "http://127.0.0.1:8470"; token may be NULL (then every route but /healthz fails). */
int client_open(struct client **out, const char *url, const char *token);
void client_close(struct client *c);
/* Transfers stop (MF_E_INTERRUPTED) once *flag becomes non-zero. */
void client_set_cancel(struct client *c, atomic_int *flag);

/*
 * One request; *answer gets the body (caller frees). A status outside 2xx
 * becomes an error carrying mayflyd's message.
 */
int client_call(struct client *c, const char *method, const char *path, const char *body,
		char **answer);
/* A GET whose body goes to sink as it arrives (a followed log). */
int client_stream(struct client *c, const char *path,
		  void (*sink)(void *arg, const char *data, size_t len), void *arg);
/* Downloads path into the file dest (written as dest.part, then renamed). */
int client_download(struct client *c, const char *path, const char *dest);

#endif
