/*
 * ctx.h - what every command works with: settings, the state directory,
 * and (opened on first use) the libvirt connection with Mayfly's pool.
 */
#ifndef MAYFLY_CTX_H
#define MAYFLY_CTX_H

#include "common/config.h"

struct mf_state;
struct vm_conn;

struct mf_ctx {
	struct mf_config cfg;	/* owned copy */
	struct mf_state *state;
	struct vm_conn *vm;	/* NULL until ctx_vm() */
	int kvm;		/* resolved accelerator: 1 KVM, 0 TCG */
	const char *accel_reason;
};

/* Takes over cfg's contents (cfg is left empty). Opens the state directory. */
int ctx_open(struct mf_ctx **out, struct mf_config *cfg);
void ctx_free(struct mf_ctx *ctx);

/*
 * Connects to libvirt (once), makes sure Mayfly's pool is active and
 * cleans up what dead Mayfly processes left behind.
 */
int ctx_vm(struct mf_ctx *ctx, struct vm_conn **out);

#endif
