/*
 * buildrun.h - ports built in dependency order, as buildmaster runs them:
 * planned from what each port needs (ports/resolve.h), then run with up to
 * a number of machines at once, each port's build starting as soon as the
 * last package it waits for is harvested.
 *
 * Planning resolves every port given, adds the ports of the tree that make
 * what they need (and what those need), and decides each port's state
 * (store/buildruns.h): skipped when its packages already exist in the
 * index ("revision bump required"), lost when a requirement cannot be met
 * or it is in a dependency cycle (the ports of the cycle named), blocked
 * while packages of other ports are missing, else scheduled.
 *
 * Running builds each scheduled port in a fresh machine (build/pipeline.h)
 * given exactly the packages it resolved to, including those harvested
 * earlier in the run (they enter the index as "run:ID" for the rest of the
 * run). A failure makes every port that waits for its packages lost,
 * transitively. After every change the run is saved and its status.json
 * written (buildrun_publish_status()).
 */
#ifndef MAYFLY_BUILDRUN_H
#define MAYFLY_BUILDRUN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "store/buildruns.h"

struct mf_config;
struct mf_state;
struct build_result;
struct build_events;

struct plan_opts {
	const char *tree;
	const char *commit;	/* a resolved commit id */
	const char *image;
	char *const *ports;	/* as given: "name", "name-version" (NULL-terminated) */
	const char *kind;	/* "build" or "update" */
	int slots;		/* machines at once */
	/* mayflyd's: how its builds are queued (source NULL: "vmctl", run in-process) */
	const char *source;	/* "api" or "update" */
	int priority, timeout;
	const char *requested_by;
	int64_t pr;		/* source "pull-request": the pull request's number */
};

/*
 * Plans a run and records it (*out has its id). MF_E_USAGE naming the port
 * when a given port does not resolve (unknown, no active version) or is
 * given twice; MF_E_INFRA when the tree cannot be read.
 */
int buildrun_plan(struct mf_state *st, const struct plan_opts *o, struct buildrun **out);

/* Blocked ports that wait for a package no live port of the run will make
 * (its maker failed, was lost or skipped) become lost, transitively. */
void buildrun_lose_dependents(struct buildrun *r);
/* done's packages are made: the ports waiting only for them are scheduled. */
void buildrun_unblock(struct buildrun *r, const struct br_port *done);
struct build_package;
/* Harvested packages enter the index as the run's ("run:ID") for the rest of it. */
void buildrun_index_packages(struct mf_state *st, int64_t run, const struct build_package *v,
			     size_t n);

struct run_events {
	/* A port's build starts (id) or ends (res); called one at a time. */
	void (*started)(void *payload, const struct br_port *p, int slot);
	void (*ended)(void *payload, const struct br_port *p, const struct build_result *res);
	void *payload;
};

struct run_opts {
	const struct mf_config *cfg;	/* each machine slot opens its own state and host */
	const char *out_dir;		/* NULL: each build's own */
	int timeout_s;
	atomic_int *cancel;
	const struct run_events *ev;
	/* With one machine slot, each build's phases and output (may be NULL). */
	const struct build_events *build_ev;
};

/*
 * Runs the planned run r in this process until no port can start any
 * more; r is updated (and saved) as it goes. Returns 0 when it ran (its
 * ports say how), -1 when it could not run at all.
 */
int buildrun_run(struct mf_state *st, struct buildrun *r, const struct run_opts *o);

/*
 * mayflyd's runs go through its queue instead: each scheduled port gets a
 * queued build (of the run), and buildrun_advance() brings the run up to
 * date with its builds whenever one starts or ends: a finished build
 * completes its port (its packages enter the index as "run:ID", waiting
 * ports are unblocked and queued) or fails it (waiting ports are lost);
 * a run with nothing left to run ends. It is idempotent and serialized in
 * the process, so a restart after a crash catches up with
 * buildrun_advance_open(). queued (may be NULL) gets the number of builds
 * it queued.
 */
int buildrun_advance(struct mf_state *st, int64_t run, int *queued);
/* The same, noting that build runs in slot. */
int buildrun_advance_slot(struct mf_state *st, int64_t run, int64_t build, const char *slot,
			  int *queued);
/*
 * Ends a run that has not ended, with why as its status: its builds
 * cancelled (those running listed in *cancelling, for the scheduler to
 * interrupt; caller frees), ports that had not ended lost with why, its
 * packages out of the index. Serialized with buildrun_advance(), so a build
 * ending at the same moment cannot bring it back. 1 if it ended it, 0 if it
 * had ended already.
 */
int buildrun_cancel(struct mf_state *st, int64_t id, const char *why, int64_t **cancelling,
		    size_t *n);
int buildrun_advance_open(struct mf_state *st);
/* The run build id belongs to is advanced (nothing when it has none);
 * slot (may be NULL) is the machine slot it runs in ("vm-2"), for status.json. */
int buildrun_build_changed(struct mf_state *st, int64_t build, const char *slot);

/* Writes the run's status.json and buildmaster's files beside it
 * (STATE/output/TREE/...: see json/status.h). */
int buildrun_publish_status(struct mf_state *st, const struct buildrun *r);

#endif
