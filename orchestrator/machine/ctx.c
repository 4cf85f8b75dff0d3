/* ctx.c - see ctx.h. */
#include "machine/ctx.h"

#include <stdlib.h>
#include <string.h>

#include "machine/accel.h"
#include "common/log.h"
#include "machine/machine.h"
#include "store/state.h"
#include "common/util.h"
#include "machine/vm.h"

int ctx_open(struct mf_ctx **out, struct mf_config *cfg)
{
	struct mf_ctx *ctx = xcalloc(1, sizeof(*ctx));

	*out = NULL;
	ctx->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	if (state_open(&ctx->state, ctx->cfg.state_dir) < 0) {
		ctx_free(ctx);
		return -1;
	}
	*out = ctx;
	return 0;
}

void ctx_free(struct mf_ctx *ctx)
{
	if (!ctx)
		return;
	vm_disconnect(ctx->vm);
	state_free(ctx->state);
	config_release(&ctx->cfg);
	free(ctx);
}

int ctx_vm(struct mf_ctx *ctx, struct vm_conn **out)
{
	if (ctx->vm) {
		*out = ctx->vm;
		return 0;
	}
	*out = NULL;
	if (mf_check_reachable(ctx->state->pool_dir) < 0)
		return -1;
	if (vm_connect(&ctx->vm, ctx->cfg.libvirt_uri) < 0)
		return -1;
	if (vm_pool_ensure(ctx->vm, ctx->state->pool_name, ctx->state->pool_dir) < 0 ||
	    machine_reconcile(ctx) < 0) {
		vm_disconnect(ctx->vm);
		ctx->vm = NULL;
		return -1;
	}
	ctx->kvm = accel_resolve(ctx->cfg.accel, &ctx->accel_reason);
	log_debug("accelerator: %s (%s)", ctx->kvm ? "kvm" : "tcg", ctx->accel_reason);
	*out = ctx->vm;
	return 0;
}
