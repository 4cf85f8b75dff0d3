/*
 * reconcile.h - cleaning up after Mayfly processes that died (kill -9, a
 * crash, power loss).
 *
 * Every domain, volume, port and temporary pool is claimed in the ledger
 * (ledger.h) before it exists. An entry whose owner no longer runs names
 * something nobody will remove: reconcile_orphans() adopts it, destroys
 * or deletes it on the host, and releases the claim; builds that a dead
 * vmctl left running become infrastructure errors (mayflyd's own are
 * queued again by queue_recover()).
 *
 * Called explicitly, once per process: by mayflyd at start, by vmctl when
 * it first opens the host.
 */
#ifndef MAYFLY_RECONCILE_H
#define MAYFLY_RECONCILE_H

struct db;
struct host;

int reconcile_orphans(struct host *h, struct db *db);

#endif
