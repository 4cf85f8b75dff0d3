/*
 * accel.h - choosing between KVM and TCG.
 *
 * "auto" picks KVM only when a probe of /dev/kvm passes; otherwise TCG.
 * The probe (a few milliseconds, in a child process so that a hung vCPU
 * cannot hang Mayfly) checks what broken nested setups get wrong: KVM must
 * offer the x86-64 CPU features QEMU's CPU models ask for (SSE3, SSSE3,
 * SSE4.1/4.2, POPCNT, CX16), accept the host's IA32_ARCH_CAPABILITIES MSR
 * when it lists it, and run a long-mode guest to a HLT.
 */
#ifndef MAYFLY_ACCEL_H
#define MAYFLY_ACCEL_H

#include "common/config.h"

/*
 * Resolves a setting to KVM (1) or TCG (0). With reason != NULL, *reason
 * gets a static string that says why.
 */
int accel_resolve(enum mf_accel setting, const char **reason);

/* Runs the probe: 1 if KVM is usable; *reason says why not. */
int accel_kvm_usable(const char **reason);

#endif
