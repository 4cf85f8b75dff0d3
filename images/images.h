/*
 * images.h - registering and retiring golden images.
 *
 * The records live in the state database (store/images.h); what happens
 * here touches the host too: a disk is imported into the pool and smoke
 * booted before its record is written, and removed from the pool with its
 * record.
 */
#ifndef MAYFLY_IMAGES_H
#define MAYFLY_IMAGES_H

#include <stdatomic.h>
#include <stdint.h>

#include "machine/machine.h"
#include "store/images.h"

struct buildlog;
struct db;
struct host;
struct mf_state;
struct snapshot;

struct image_add_opts {
	const char *name;
	const char *disk;	/* raw or qcow2 file */
	const char *ssh_user;
	const char *ssh_key;
	const char *host_key_file; /* NULL: record whatever the smoke boot sees */
	const char *build_command;
	const char *packages_dir;
	int memory_mib;
	int vcpus;
	enum disk_bus disk_bus;
	int boot_timeout;	/* seconds; 0 is not allowed (the caller fills the default) */
	/* As a HaikuPorter builder (NULL: the defaults in store/images.h): */
	const char *tree_path;
	const char *haikuporter;
	const char *haikuporter_args;
	const char *target_arch;
	const char *secondary_arches;
	int system_packages;	/* 1: do not pass --no-system-packages */
	const char *restore_command; /* after a snapshot restore (NULL: the default) */
	int warm;		/* machines mayflyd keeps ready */
	atomic_int *cancel; /* set to stop (e.g. from a signal handler) */
	/* Progress lines for the user (may be NULL). */
	void (*progress)(void *payload, const char *step, int64_t ms);
	void *payload;
};

/*
 * Checks everything about an add that needs no host (names, files, keys,
 * settings, that the disk is an image): callers run it before they
 * connect, so that bad input is reported as such. MF_E_USAGE.
 */
int image_add_check(struct mf_state *st, const struct image_add_opts *opts);
/*
 * Imports a disk as a golden image: checks the inputs, copies the disk into
 * host's pool as qcow2, boots one linked clone, logs in and pins the host
 * key. On any failure nothing is registered and nothing is left behind.
 */
int image_add(struct host *h, struct mf_state *st, const struct image_add_opts *opts,
	      struct image **out);

/*
 * Retires an image: its record, its golden volume and its key copy. Refused
 * while builds of it run or wait in the queue (the check and the delete are
 * one transaction, so no worker claims a build in between). With the last
 * image gone, the pool is stopped: Mayfly leaves nothing in libvirt.
 */
int image_remove(struct host *h, struct mf_state *st, const char *name);

/*
 * Booted memory snapshots. Each of an image's slots is a linked clone that
 * was booted, logged into (pinned host key), left to go idle and saved
 * (memory to STATE/snapshots/NAME-SLOT.save, the clone kept as a read-only
 * disk layer). Builds restore a free slot instead of booting cold. One
 * slot serves one machine at a time: libvirt restores a saved image only
 * under the name and UUID it was saved with.
 */
struct image_snapshot_opts {
	const char *name;
	int slots;		/* 1 to 64 */
	atomic_int *cancel;
	void (*progress)(void *payload, const char *step, int64_t ms);
	void *payload;
};

/*
 * Replaces the image's snapshots with o->slots new ones (one boot each).
 * Refused while the image has a warm pool (image_warm_check()).
 */
int image_snapshot(struct host *h, struct mf_state *st, const struct image_snapshot_opts *o);
/*
 * Removes the image's snapshots: files, layers, records. MF_E_CONFLICT
 * while a machine restored from one still runs.
 */
/* MF_E_USAGE while mayflyd keeps machines of the image warm (they hold its slots). */
int image_warm_check(const struct image *img);
int image_snapshot_drop(struct host *h, struct mf_state *st, const char *name);
/*
 * The image's usable slots for a build on h, in *slots (the first
 * return-value entries are usable; free all *n with snapshots_free()).
 * Returns how many are usable; 0 with *why_not set (caller frees) when
 * snapshots exist but are stale or disabled.
 */
int image_snapshot_slots(struct host *h, struct db *db, const struct image *img,
			 struct snapshot **slots, size_t *n, char **why_not);

/*
 * The machine of an image, cold-booted from its golden volume with its
 * size, login and pinned host key (the caller sets the rest).
 */
struct machine_spec image_machine_spec(const struct image *img, const char *tag,
				       const char *console_path);

/*
 * How a machine of an image comes up, for builds and for mayflyd's warm
 * pool alike: spec is ready for machine_up() (the caller may set cancel,
 * phase and payload), with the image's usable snapshot slots.
 */
struct image_boot {
	struct machine_spec spec;
	struct machine_snap *snaps;
	struct snapshot *recs;
	size_t nrecs;
};
void image_boot_init(struct image_boot *ib, struct host *h, struct db *db, const struct image *img,
		     const char *tag, int64_t build_id, const char *console_path,
		     struct buildlog *log);
void image_boot_release(struct image_boot *ib);
/* Records what machine_up() said about the snapshots (restored, or fell back). */
void image_boot_note(struct db *db, const struct image *img, const struct machine *m);

#endif
