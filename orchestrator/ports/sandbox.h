/*
 * sandbox.h - running untrusted code (recipes from pull requests) on the
 * host, sealed: bubblewrap with every namespace unshared (no network, no
 * other process, no host path but /usr and what is bound read-only), as
 * an unprivileged user with no capabilities, under resource limits
 * (processes, CPU time and memory per process, file size, a small /tmp),
 * a wall-clock deadline and a cap on its output. When a limit is hit the
 * whole sandbox is killed (its pid namespace goes with it) and the result
 * says which limit.
 */
#ifndef MAYFLY_SANDBOX_H
#define MAYFLY_SANDBOX_H

#include <stdatomic.h>
#include <stddef.h>
#include <sys/types.h>

struct sandbox_bind {
	const char *src;	/* a host directory (readable by others) */
	const char *dest;	/* where it appears inside */
};

struct sandbox_opts {
	const struct sandbox_bind *binds;	/* read-only */
	size_t nbinds;
	const char *const *argv;	/* NULL-terminated; argv[0] an absolute path inside */
	int timeout_ms;			/* wall clock for the whole run */
	/*
	 * Optionally, a run in steps: each step starts when stdout shows
	 * step_marker, and may last step_timeout_ms (the run is then cut off
	 * as timed out).
	 */
	const char *step_marker;
	int step_timeout_ms;
	size_t max_output;		/* of stdout; more ends the run */
	int max_procs;			/* processes at once */
	int cpu_seconds;		/* per process */
	int memory_mb;			/* address space per process */
	int tmp_mb;			/* size of the sandbox's /tmp */
};

struct sandbox_result {
	char *out;		/* stdout (NUL-terminated; caller frees) */
	size_t out_len;
	char *err;		/* the first 4 KiB of stderr (caller frees) */
	int status;		/* exit status; -1 when killed */
	int timed_out;		/* the deadline passed */
	int output_full;	/* stdout passed max_output */
};

/*
 * Runs argv in a new sandbox and waits for it. -1 (MF_E_INFRA) only when
 * the sandbox could not be run at all (no bubblewrap, no user namespaces);
 * limits hit are reported in the result, not as errors.
 */
int sandbox_run(const struct sandbox_opts *o, struct sandbox_result *r);
void sandbox_result_release(struct sandbox_result *r);

/*
 * A flag (vmctl's signal flag) that, once set, ends any running sandbox:
 * sandbox_run() then fails with MF_E_INTERRUPTED. NULL: none.
 */
void sandbox_set_interrupt(const atomic_int *flag);

/* The user (outside) of this process's sandbox slot 0..63; tests look for leftovers by it. */
uid_t sandbox_uid(int slot);

#endif
