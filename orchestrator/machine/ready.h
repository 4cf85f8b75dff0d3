/*
 * ready.h - waiting for a booting guest's SSH server.
 *
 * QEMU accepts connections on a forwarded port long before the guest
 * listens, so a TCP connect says nothing. Readiness is the SSH banner: a
 * probe connects, and the first probe to receive "SSH-" wins. The banner is
 * only peeked at: the winning socket goes to libssh with the banner unread,
 * so the build's SSH session needs no second connection.
 *
 * What makes this subtle is QEMU's user network: it keeps retrying the SYN
 * of every connection made to a forwarded port until the guest answers,
 * seconds apart, even after the connection was closed on this side. A
 * probe opened before the guest's network is up is therefore answered
 * late, and if sshd listens by then it costs the guest a fork of sshd for
 * nothing (dozens of those stall an emulated guest, and trip MaxStartups).
 *
 * So two ports are forwarded: SSH, and a "canary" to a guest port nothing
 * listens on (9, discard). While the guest's network is down, canary probes
 * start every 100 ms; they are cheap for the guest (its kernel answers a
 * stale one with a reset). The first canary answered means the network is
 * up: from then on, one SSH probe at a time every 20 ms, each reset at once
 * until sshd listens. One SSH probe is also opened at the start and kept,
 * should a guest silently drop packets to closed ports.
 */
#ifndef MAYFLY_READY_H
#define MAYFLY_READY_H

#include <stdint.h>

struct ready_opts {
	int port;		/* forwarded to the guest's sshd, on 127.0.0.1 */
	int canary_port;	/* forwarded to a closed guest port; 0 for none */
	int64_t deadline_ms;	/* on mf_now_ms()'s clock */
	/*
	 * Called about every 250 ms: returns 0 to go on, -1 to stop with the
	 * error it set (the machine died, the user interrupted...).
	 */
	int (*check)(void *arg);
	void *arg;
};

/*
 * Returns in *fd a connected blocking socket whose peer has sent an SSH
 * banner. MF_E_TIMEOUT when the deadline passes first.
 */
int ready_wait(const struct ready_opts *o, int *fd);

#endif
