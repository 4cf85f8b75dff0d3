/*
 * machine.h - one throwaway build machine: a linked clone of a golden
 * volume, booted as a transient domain, reached over one SSH session.
 *
 *	machine_up()	clone -> boot -> ready (each phase reported as it ends),
 *			or clone -> restore -> ready from a booted snapshot
 *	machine_save()	save a ready machine's memory (making a snapshot)
 *	machine_down()	destroy the domain, delete the clone, free the ports
 *
 * Every resource is claimed in the ledger before it is created, and
 * machine_down() must be called after machine_up() whether it succeeded or
 * not: it removes whatever exists and releases the claims.
 */
#ifndef MAYFLY_MACHINE_H
#define MAYFLY_MACHINE_H

#include <stdatomic.h>
#include <stdint.h>

#include "machine/domxml.h"
#include "machine/guest.h"

struct buildlog;
struct db;
struct host;

/*
 * A booted snapshot slot: a machine saved under the domain name and UUID
 * (libvirt restores a saved image only under its own name, so one slot
 * serves one machine at a time), with the disk layer it was saved with.
 */
struct machine_snap {
	const char *domain;
	const char *uuid;
	const char *layer_path;	/* read-only; each restore gets an overlay on it */
	const char *save_path;	/* the memory image */
};

struct machine_spec {
	const char *tag;	/* unique in the state dir: "b42", "add-NAME" */
	int64_t build_id;	/* for the ledger; 0 for none */
	const char *golden_path;
	uint64_t capacity;	/* bytes, the golden's virtual size */
	int memory_mib;
	int vcpus;
	enum disk_bus disk_bus;
	const char *console_path;
	struct guest_login login;
	int boot_timeout_s;
	const char *uuid;	/* of a cold-booted domain; NULL: libvirt's choice */
	/*
	 * Snapshot slots to restore from, tried in order; the first whose
	 * domain is free is used. None free: cold boot. A restore that fails
	 * boots cold too, and says why in machine.restore_error.
	 */
	const struct machine_snap *snaps;
	size_t nsnaps;
	const char *restore_command; /* run after a restore (template.h); NULL: none */
	atomic_int *cancel;
	struct buildlog *log;	/* may be NULL */
	void (*phase)(void *payload, const char *name, int64_t ms);
	void *payload;
};

struct machine {
	struct host *host;
	struct db *db;		/* the ledger's */
	struct buildlog *log;
	char *domain;
	char *volume;
	char *disk_path;
	char *console_path;
	int port;		/* forwarded to the guest's sshd */
	int canary_port;	/* forwarded to a closed guest port (ready.h) */
	int port_claimed, canary_claimed, volume_claimed, domain_claimed;
	struct guest *guest;	/* the build's SSH session, once ready */
	char *host_key;		/* the key the guest presented */
	int restored;		/* came up from a snapshot */
	char *restore_error;	/* a restore was tried and failed (booted cold), or NULL */
	int keep_volume;	/* machine_save() made the clone a snapshot layer */
};

/*
 * Brings a machine up on host h, its resources claimed in db's ledger.
 * *out is set even on failure; pass it to machine_down().
 */
int machine_up(struct host *h, struct db *db, const struct machine_spec *spec,
	       struct machine **out);
/*
 * Closes the SSH session, waits (at most idle_wait_s) for the guest to go
 * idle, and saves its memory to save_path, which is claimed in the ledger
 * first. The domain stops; its clone volume is kept (still claimed in the
 * ledger, for the caller to take over) and is what the memory expects.
 */
int machine_save(struct machine *m, const char *save_path, int idle_wait_s);
/* Tears everything down and frees m; -1 if something could not be removed. */
int machine_down(struct machine *m);

#endif
