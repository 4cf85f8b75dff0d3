/*
 * vm.h - the libvirt boundary: Mayfly's storage pool, golden and overlay
 * volumes, and transient build domains. libvirt's errors become Mayfly
 * errors (MF_E_INFRA) that say what was being done.
 *
 * Names are given by the caller; nothing here decides what they mean.
 */
#ifndef MAYFLY_VM_H
#define MAYFLY_VM_H

#include <stdint.h>

struct vm_conn;

/* Connects to libvirtd; the caller owns *out. */
int vm_connect(struct vm_conn **out, const char *uri);
void vm_disconnect(struct vm_conn *c);

/* Makes sure a directory pool of that name over dir is active. */
int vm_pool_ensure(struct vm_conn *c, const char *pool, const char *dir);
/* Stops the pool when it holds no volumes; returns 1 if stopped. */
int vm_pool_stop_if_empty(struct vm_conn *c, const char *pool);
/* Stops the pool whatever it holds (its files stay on disk). */
int vm_pool_stop(struct vm_conn *c, const char *pool);

/*
 * Copies a disk file (raw or qcow2) into the pool as a standalone qcow2
 * volume of the given capacity. libvirt does the conversion (qemu-img
 * convert). *path_out gets the new volume's path (caller frees).
 */
int vm_volume_import(struct vm_conn *c, const char *pool, const char *src_path,
		     const char *import_pool, const char *vol, uint64_t capacity,
		     char **path_out);
/* Creates a qcow2 overlay volume backed by backing_path (a linked clone). */
int vm_volume_overlay(struct vm_conn *c, const char *pool, const char *vol,
		      const char *backing_path, uint64_t capacity, char **path_out);
/* Deletes a volume; a missing volume is not an error. */
int vm_volume_delete(struct vm_conn *c, const char *pool, const char *vol);
/* 1 if the volume exists, 0 if not. */
int vm_volume_exists(struct vm_conn *c, const char *pool, const char *vol);
/* Volume names in the pool (NULL-terminated, caller frees with mf_strv_free). */
int vm_volume_list(struct vm_conn *c, const char *pool, char ***names);

/*
 * Starts a transient domain that libvirt destroys by itself should this
 * process's connection drop (VIR_DOMAIN_START_AUTODESTROY). Fails with
 * MF_E_CONFLICT when QEMU could not bind the forwarded host port.
 */
int vm_domain_start(struct vm_conn *c, const char *xml);
/* Destroys a domain; a missing domain is not an error. */
int vm_domain_destroy(struct vm_conn *c, const char *name);
/* 1 if the domain exists and runs, 0 if not. */
int vm_domain_running(struct vm_conn *c, const char *name);
/*
 * Saves a running domain's memory to path (virDomainSaveFlags) and stops
 * it; its disk is left exactly as the saved memory expects.
 */
int vm_domain_save(struct vm_conn *c, const char *name, const char *path);
/*
 * Starts a domain from a saved memory image with the given XML (same name,
 * UUID and devices; disk, ports and console files may differ), running.
 * Unlike vm_domain_start() libvirt offers no auto-destroy here: the caller's
 * ledger claim is what guarantees cleanup. MF_E_CONFLICT when QEMU could not
 * bind a forwarded port.
 */
int vm_domain_restore(struct vm_conn *c, const char *path, const char *xml);
/* The CPU time a running domain has used, in nanoseconds. */
int vm_domain_cpu_ns(struct vm_conn *c, const char *name, uint64_t *ns);
/* Names of domains starting with prefix (caller frees with mf_strv_free). */
int vm_domain_list(struct vm_conn *c, const char *prefix, char ***names);

#endif
