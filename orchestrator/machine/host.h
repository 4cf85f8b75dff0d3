/*
 * host.h - one libvirt host as Mayfly uses it: a connection, Mayfly's
 * storage pool on it (golden volumes and per-build overlays) and the
 * accelerator its machines get.
 *
 * A host is opened explicitly, by whoever starts machines: vmctl once per
 * run, mayflyd once per worker thread and once for its warm pool (no two
 * threads start machines on one connection; a machine the pool hands to a
 * build is destroyed on the pool's connection, which libvirt allows).
 * Several may be open at once.
 * Opening a host does not clean up after dead processes: that is
 * reconcile_orphans() (reconcile.h), called once per process start.
 */
#ifndef MAYFLY_HOST_H
#define MAYFLY_HOST_H

#include "common/config.h"

struct mf_state;
struct vm_conn;

struct host {
	char *uri;
	char *instance;		/* the state directory's id, in every name Mayfly makes */
	char *pool;		/* "mayfly-<instance>" */
	char *pool_dir;
	int kvm;		/* the accelerator machines get: 1 KVM, 0 TCG */
	const char *accel_reason; /* why (static) */
	struct vm_conn *vm;
};

/*
 * Connects to libvirt at uri, makes sure the state directory's pool is
 * active and resolves the accelerator setting. The caller owns *out.
 */
int host_open(struct host **out, const char *uri, enum mf_accel accel,
	      const struct mf_state *st);
/* Disconnects; the pool is stopped if it holds no volume (no image registered). */
void host_close(struct host *h);

/* The libvirt domain name of a tag on this host: "mayfly-<instance>-<tag>". */
char *host_domain_name(const struct host *h, const char *tag);

#endif
