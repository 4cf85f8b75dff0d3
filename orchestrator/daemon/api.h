/*
 * api.h - mayflyd's HTTP API (routes in api.c, served by http.h):
 *
 *	POST /api/v1/builds			submit (202, 400, 401, 409, 413, 429)
 *	GET  /api/v1/builds?status=S,S&limit=N	list, newest first
 *	GET  /api/v1/builds/ID			one build: attempts, phases, packages
 *	POST /api/v1/builds/ID/cancel		cancel (queued: at once; running: soon)
 *	GET  /api/v1/builds/ID/log[?follow=1]	the build log (follow: until it ends)
 *	GET  /api/v1/builds/ID/packages/NAME	a harvested package
 *	GET  /api/v1/images			the registered images
 *	GET  /healthz				no token needed
 *
 * Every /api/v1 route needs "Authorization: Bearer TOKEN" with a token from
 * token_file. Errors are JSON: {"error": "...", "field": "..."}.
 */
#ifndef MAYFLY_API_H
#define MAYFLY_API_H

struct api;
struct mf_config;
struct scheduler;

/* Serves the API on cfg->listen; cfg is copied. *port gets the bound port. */
int api_start(struct api **out, const struct mf_config *cfg, struct scheduler *sched,
	      int *port);
/* Rereads token_file (SIGHUP). */
int api_reload_tokens(struct api *a);
/* New submissions get 503 from now on; streams of logs end. */
void api_stop_accepting(struct api *a);
/* Stops serving and frees a. */
void api_stop(struct api *a);

#endif
