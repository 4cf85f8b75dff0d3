/*
 * machine.h - one throwaway build machine: a linked clone of a golden
 * volume, booted as a transient domain, reached over one SSH session.
 *
 *	machine_up()	clone -> boot -> ready (each phase reported as it ends)
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
};

/*
 * Brings a machine up on host h, its resources claimed in db's ledger.
 * *out is set even on failure; pass it to machine_down().
 */
int machine_up(struct host *h, struct db *db, const struct machine_spec *spec,
	       struct machine **out);
/* Tears everything down and frees m; -1 if something could not be removed. */
int machine_down(struct machine *m);

#endif
