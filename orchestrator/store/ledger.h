/*
 * ledger.h - who owns which libvirt domain, volume and host port.
 *
 * Every resource is claimed in the state database BEFORE it is created and
 * released only AFTER it is gone, so that a process killed at any moment
 * leaves a record of what to clean up. The owner is the process identity
 * ("PID:STARTTIME"); an entry whose owner no longer runs is an orphan, and
 * reconcile_orphans() (reconcile.h) destroys what it names.
 */
#ifndef MAYFLY_LEDGER_H
#define MAYFLY_LEDGER_H

#include <stddef.h>
#include <stdint.h>

struct db;

#define LEDGER_DOMAIN "domain"
#define LEDGER_VOLUME "volume"
#define LEDGER_PORT "port"
#define LEDGER_POOL "pool" /* transient pools used while importing */
#define LEDGER_FILE "file" /* a file by absolute path (a memory snapshot being made) */

struct ledger_entry {
	char *kind;
	char *name;
	char *owner;
	int64_t build_id; /* 0 for none */
};

/* Claims kind/name for this process; MF_E_CONFLICT when already claimed. */
int ledger_claim(struct db *db, const char *kind, const char *name, int64_t build_id);
/* Forgets kind/name (after the resource is gone). Missing is fine. */
int ledger_release(struct db *db, const char *kind, const char *name);
/*
 * Lists entries; with orphans_only, only those whose owner is dead.
 * The caller frees the array with ledger_entries_free().
 */
int ledger_list(struct db *db, int orphans_only, struct ledger_entry **out, size_t *n);
void ledger_entries_free(struct ledger_entry *e, size_t n);
/* Makes this process the owner of an orphan; 1 if adopted, 0 if someone else did. */
int ledger_adopt(struct db *db, const struct ledger_entry *e);

/*
 * Makes this process the owner of kind/name if its owner is dead (so the
 * caller can remove what it names now, not at the next reconcile): 1 if
 * adopted, 0 if the owner lives or there is no such entry.
 */
int ledger_adopt_orphan(struct db *db, const char *kind, const char *name);

/* This process's identity as recorded in the ledger. */
const char *ledger_self(void);

/*
 * Picks a free TCP port on 127.0.0.1 and claims it. Another program may
 * still take the port before QEMU binds it; callers retry on that.
 */
int ledger_claim_port(struct db *db, int64_t build_id, int *port);

#endif
