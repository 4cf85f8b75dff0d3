/* accel.c - see accel.h. */
#include "machine/accel.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"

/* Exit codes of the probe child. */
enum {
	PROBE_OK = 0,
	PROBE_NO_DEVICE = 10,
	PROBE_NO_VM,
	PROBE_CPUID,
	PROBE_MSR,
	PROBE_RUN,
};

#define MSR_IA32_ARCH_CAPABILITIES 0x10a
#define CPUID1_ECX_NEEDED ((1u << 0) | (1u << 9) | (1u << 13) | (1u << 19) | (1u << 20) | \
			   (1u << 23)) /* SSE3 SSSE3 CX16 SSE4.1 SSE4.2 POPCNT */

/*
 * KVM's ioctls take a header with a flexible array followed by its
 * entries; the usual way to lay that out is a struct like the ones below,
 * which clang calls a GNU extension (gcc accepts it silently).
 */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wgnu-variable-sized-type-not-at-end"
#endif

struct cpuid_buf {
	struct kvm_cpuid2 head;
	struct kvm_cpuid_entry2 entries[128];
};

static int check_cpuid(int kvm, struct cpuid_buf *c)
{
	c->head.nent = 128;
	if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, c) < 0)
		return -1;
	for (uint32_t i = 0; i < c->head.nent; i++)
		if (c->entries[i].function == 1)
			return (c->entries[i].ecx & CPUID1_ECX_NEEDED) == CPUID1_ECX_NEEDED ? 0 : -1;
	return -1;
}

/* If KVM lists IA32_ARCH_CAPABILITIES as a feature MSR, a vCPU must take it. */
static int check_msr(int kvm, int vcpu)
{
	struct {
		struct kvm_msr_list head;
		uint32_t idx[256];
	} list = { .head.nmsrs = 256 };
	struct {
		struct kvm_msrs head;
		struct kvm_msr_entry e;
	} msr = { .head.nmsrs = 1, .e.index = MSR_IA32_ARCH_CAPABILITIES };
	int listed = 0;

	if (ioctl(kvm, KVM_GET_MSR_FEATURE_INDEX_LIST, &list) < 0)
		return 0; /* an old kernel without feature MSRs */
	for (uint32_t i = 0; i < list.head.nmsrs && i < 256; i++)
		if (list.idx[i] == MSR_IA32_ARCH_CAPABILITIES)
			listed = 1;
	if (!listed)
		return 0;
	if (ioctl(kvm, KVM_GET_MSRS, &msr) != 1)
		return -1;
	return ioctl(vcpu, KVM_SET_MSRS, &msr) == 1 ? 0 : -1;
}

/* Identity-mapped long mode: "mov eax, 42; out 0x10, al; hlt". */
static int run_long_mode(int kvm, int vm, int vcpu, struct cpuid_buf *c)
{
	static const uint8_t code[] = { 0xb8, 0x2a, 0, 0, 0, 0xe6, 0x10, 0xf4 };
	size_t memsz = 0x200000;
	uint8_t *mem;
	struct kvm_run *run;
	int runsz, seen_io = 0;

	mem = mmap(NULL, memsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -1;
	struct kvm_userspace_memory_region region = {
		.slot = 0, .memory_size = memsz, .userspace_addr = (uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0 ||
	    ioctl(vcpu, KVM_SET_CPUID2, c) < 0)
		return -1;
	uint64_t *pml4 = (uint64_t *)(mem + 0x2000), *pdpt = (uint64_t *)(mem + 0x3000),
		 *pd = (uint64_t *)(mem + 0x4000);
	pml4[0] = 0x3000 | 3;
	pdpt[0] = 0x4000 | 3;
	pd[0] = 0x83; /* 2 MiB page, present, writable */
	memcpy(mem + 0x1000, code, sizeof(code));

	struct kvm_sregs sregs;
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		return -1;
	struct kvm_segment seg = {
		.base = 0, .limit = 0xffffffff, .selector = 8, .present = 1, .type = 11,
		.s = 1, .l = 1, .g = 1,
	};
	sregs.cs = seg;
	seg.type = 3;
	seg.selector = 16;
	seg.l = 0;
	seg.db = 1;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = seg;
	sregs.cr3 = 0x2000;
	sregs.cr4 = 1u << 5;			  /* PAE */
	sregs.cr0 = 0x80050033;			  /* PG, WP, NE, ET, MP, PE */
	sregs.efer = (1u << 8) | (1u << 10);	  /* LME, LMA */
	struct kvm_regs regs = { .rip = 0x1000, .rflags = 2, .rsp = 0x1f0000 };
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0 || ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		return -1;
	runsz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (runsz <= 0)
		return -1;
	run = mmap(NULL, (size_t)runsz, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		return -1;
	for (int i = 0; i < 4; i++) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0)
			return -1;
		if (run->exit_reason == KVM_EXIT_IO && run->io.port == 0x10 &&
		    ((uint8_t *)run)[run->io.data_offset] == 42)
			seen_io = 1;
		else if (run->exit_reason == KVM_EXIT_HLT)
			return seen_io ? 0 : -1;
		else
			return -1;
	}
	return -1;
}

static int probe_child(void)
{
	struct cpuid_buf c;
	int kvm, vm, vcpu;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0 || ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return PROBE_NO_DEVICE;
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return PROBE_NO_VM;
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		return PROBE_NO_VM;
	if (check_cpuid(kvm, &c) < 0)
		return PROBE_CPUID;
	if (check_msr(kvm, vcpu) < 0)
		return PROBE_MSR;
	if (run_long_mode(kvm, vm, vcpu, &c) < 0)
		return PROBE_RUN;
	return PROBE_OK;
}

int accel_kvm_usable(const char **reason)
{
	const char *why = "KVM works";
	int status = 0, usable = 0;
	pid_t pid;

	if (access("/dev/kvm", R_OK | W_OK) < 0) {
		why = "/dev/kvm is missing or not accessible";
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		why = "cannot fork the KVM probe";
		goto out;
	}
	if (pid == 0) {
		alarm(2); /* a vCPU that never halts must not hang us */
		_exit(probe_child());
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status)) {
		why = "a KVM guest did not run to completion (vCPU hang)";
		goto out;
	}
	switch (WEXITSTATUS(status)) {
	case PROBE_OK:
		usable = 1;
		break;
	case PROBE_NO_DEVICE:
		why = "/dev/kvm does not answer";
		break;
	case PROBE_NO_VM:
		why = "KVM cannot create a virtual machine";
		break;
	case PROBE_CPUID:
		why = "KVM does not offer SSE3/SSSE3/SSE4/POPCNT/CX16 (a limited nested setup)";
		break;
	case PROBE_MSR:
		why = "KVM rejects the IA32_ARCH_CAPABILITIES MSR";
		break;
	default:
		why = "a KVM guest failed to run";
		break;
	}
out:
	if (reason)
		*reason = why;
	return usable;
}

/* The probe runs once per process, whichever thread (mayflyd's workers) asks first. */
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static int probed;
static const char *probed_reason;

static void probe(void)
{
	probed = accel_kvm_usable(&probed_reason);
}

int accel_resolve(enum mf_accel setting, const char **reason)
{
	switch (setting) {
	case MF_ACCEL_KVM:
		if (reason)
			*reason = "accel = kvm";
		return 1;
	case MF_ACCEL_TCG:
		if (reason)
			*reason = "accel = tcg";
		return 0;
	case MF_ACCEL_AUTO:
		break;
	}
	pthread_once(&probe_once, probe);
	if (reason)
		*reason = probed_reason;
	return probed;
}
