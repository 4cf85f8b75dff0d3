/*
 * buildruns.h - build runs in the state database: the ports of one tree at
 * one commit built on one image, in dependency order, as buildmaster runs
 * them (buildrun/ plans and runs them; json/status.c shows them in
 * buildmaster's status.json).
 *
 * Each port of a run is in one state: scheduled (its packages are all in
 * hand), blocked (waiting for packages other ports of the run make),
 * active (its build runs), complete, failed, lost (a dependency failed or a
 * requirement nothing can meet, with the reason), skipped (with the reason).
 */
#ifndef MAYFLY_STORE_BUILDRUNS_H
#define MAYFLY_STORE_BUILDRUNS_H

#include <stddef.h>
#include <stdint.h>

struct db;

enum br_state { BR_SCHEDULED, BR_BLOCKED, BR_ACTIVE, BR_COMPLETE, BR_FAILED, BR_LOST,
		BR_SKIPPED };
#define BR_NSTATES 7

const char *br_state_name(enum br_state s);

struct br_port {
	char *port;		/* versioned name, "beta-1.0" */
	char *name, *version;
	int revision;
	char *recipe_path;	/* relative to the tree, "" when unknown */
	enum br_state state;
	char *reason;		/* lost or skipped: why; NULL otherwise */
	int64_t build_id;	/* 0 until its build starts */
	char *slot;		/* the machine slot it runs or ran in ("vm-1"), or NULL */
	char **makes;		/* package ids it makes ("beta-1.0"), NULL-terminated */
	char **resulting;	/* package files it makes */
	char **required;	/* package files it is given, sorted */
	char **missing;		/* package ids still missing, sorted */
};

struct buildrun {
	int64_t id;
	char *tree, *commit, *image;
	char *kind;		/* "build" or "update" */
	char *status;		/* buildmaster's buildStatus: "scheduling", "complete", ... */
	double start, end;	/* seconds since the epoch; 0: not yet */
	int slots;		/* machines it may use at once */
	/* mayflyd's runs: how their builds are queued */
	char *source;		/* "vmctl", "api" or "update" */
	int priority, timeout;
	char *requested_by;
	int64_t pr;		/* a pull request's run: its number (source "pull-request") */
	struct br_port *ports;
	size_t nports;
};

void br_port_release(struct br_port *p);
void buildrun_free(struct buildrun *r);

/* Records a new run and its ports (one transaction); sets r->id. */
int buildruns_insert(struct db *db, struct buildrun *r);
/* Writes one port's state back. */
int buildruns_save_port(struct db *db, int64_t run, const struct br_port *p);
/* Writes the run's status and times back. */
int buildruns_save(struct db *db, const struct buildrun *r);
/* MF_E_USAGE when there is no such run. */
int buildruns_get(struct db *db, int64_t id, struct buildrun **out);
/* The newest first, at most limit (0: all), without their ports. */
int buildruns_list(struct db *db, int limit, struct buildrun ***out, size_t *n);
void buildruns_list_free(struct buildrun **v, size_t n);
/* mayflyd's runs that have not ended (ids, oldest first). */
int buildruns_open(struct db *db, int64_t **ids, size_t *n);
/* The id of the newest run, 0 when there is none. */
int buildruns_last(struct db *db, int64_t *id);

#endif
