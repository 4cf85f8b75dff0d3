/*
 * state.h - a Mayfly state directory:
 *
 *	STATE/state.db		SQLite: images, builds, the resource ledger
 *	STATE/pool/		the libvirt storage pool Mayfly owns (golden
 *				volumes and per-build overlays)
 *	STATE/keys/		copies of the images' SSH login keys (0700)
 *	STATE/builds/ID/	build.log, console.log, packages/
 *	STATE/trees/NAME.git	bare mirrors of ports trees (libgit2)
 *	STATE/sources/		verified port sources, by SHA-256
 *
 * Each state directory has an instance id (8 hex digits, made on first
 * use); it is part of every libvirt name Mayfly creates, so that two
 * state directories on one libvirtd never touch each other's machines.
 */
#ifndef MAYFLY_STATE_H
#define MAYFLY_STATE_H

#include <stdint.h>

struct db;

struct mf_state {
	char *dir;
	char *pool_dir;
	char *keys_dir;
	char *builds_dir;
	char *trees_dir;
	char *sources_dir;
	char *instance;	 /* e.g. "3fa9c0d1" */
	char *pool_name; /* "mayfly-<instance>" */
	struct db *db;
};

/* Opens (creating when needed) the state directory; caller frees. */
int state_open(struct mf_state **out, const char *dir);
void state_free(struct mf_state *st);

/* STATE/builds/ID, created; caller frees. */
char *state_build_dir(const struct mf_state *st, int64_t build_id);

#endif
