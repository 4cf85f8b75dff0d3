/*
 * domxml.h - the libvirt XML of a build machine and of its disk volumes.
 * Pure string building (unit-tested); every value is XML-escaped.
 */
#ifndef MAYFLY_DOMXML_H
#define MAYFLY_DOMXML_H

#include <stdint.h>

#include "common/strbuf.h"
#include "store/images.h" /* enum disk_bus */


struct domspec {
	const char *name;
	const char *uuid;	/* NULL: libvirt picks one (a restore must repeat the saved one) */
	int kvm;		/* 1: KVM with the host CPU; 0: TCG */
	int memory_mib;
	int vcpus;
	const char *disk_path;	/* the build's qcow2 overlay */
	enum disk_bus disk_bus;
	int ssh_port;		/* host port on 127.0.0.1 forwarded to guest port 22 */
	int canary_port;	/* forwarded to guest port 9 (see ready.h); 0 for none */
	const char *console_path; /* serial console output file */
};

/* Appends the <domain> XML to out. */
void domxml_domain(struct strbuf *out, const struct domspec *spec);

/* A qcow2 volume of the given capacity backed by a qcow2 golden volume. */
void domxml_overlay_volume(struct strbuf *out, const char *name, uint64_t capacity,
			   const char *backing_path);
/* A standalone qcow2 volume (the target of a golden import). */
void domxml_qcow2_volume(struct strbuf *out, const char *name, uint64_t capacity);
/* A directory storage pool. */
void domxml_dir_pool(struct strbuf *out, const char *name, const char *dir);

#endif
