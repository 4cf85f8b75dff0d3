/*
 * ready.h - waiting for a booting guest's SSH server.
 *
 * QEMU accepts connections on the forwarded port long before the guest
 * listens, so a TCP connect says nothing. Readiness is the SSH banner: a
 * probe connects, and the first probe to receive "SSH-" wins.
 *
 * Until the guest's network is up a probe hangs (QEMU retries its SYN
 * slowly), so fresh probes start every 100 ms, at most 4 at a time, and old
 * ones are recycled. Once the guest answers a probe with a reset, probing
 * turns into a 20 ms loop of one probe at a time; a probe that then stays
 * silent is sshd at work and is left alone, so that a slow (emulated) guest
 * is not buried in connections it must fork for. The banner is only
 * peeked at: the winning socket goes to libssh with the banner unread, so
 * the build's SSH session needs no second connection.
 */
#ifndef MAYFLY_READY_H
#define MAYFLY_READY_H

#include <stdint.h>

struct ready_opts {
	int port;		/* on 127.0.0.1 */
	int64_t deadline_ms;	/* on mf_now_ms()'s clock */
	/*
	 * Called about twice a second: returns 0 to go on, -1 to stop with the
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
