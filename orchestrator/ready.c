/* ready.c - see ready.h. */
#include "orchestrator/ready.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "orchestrator/error.h"
#include "orchestrator/log.h"
#include "orchestrator/util.h"

#define MAX_PROBES 4
#define SLOW_INTERVAL_MS 100	/* guest network not answering yet */
#define FAST_INTERVAL_MS 20	/* guest answers with resets: sshd not up yet */
#define PROBE_MAX_AGE_MS 1500	/* before any reset, a silent probe is recycled */
#define PROBE_PATIENCE_MS 5000	/* after a reset, a silent probe gets company */
#define CHECK_INTERVAL_MS 500

struct probe {
	int fd;
	int64_t started;
};

static int probe_start(int port, struct probe *p)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0)
		return mf_error_errno(MF_E_INFRA, "cannot create a socket");
	setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	p->started = mf_now_ms();
	if (connect(p->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		/* QEMU is not listening (yet, or any more): treat like a reset. */
		close(p->fd);
		p->fd = -1;
	}
	return 0;
}

static void probe_close(struct probe *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

enum probe_result { PROBE_WAIT, PROBE_CLOSED, PROBE_BANNER };

static enum probe_result probe_read(struct probe *p)
{
	char buf[256];
	ssize_t n = recv(p->fd, buf, sizeof(buf) - 1, MSG_PEEK);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? PROBE_WAIT : PROBE_CLOSED;
	if (n == 0)
		return PROBE_CLOSED;
	buf[n] = '\0';
	/* The version line may follow other lines (RFC 4253, 4.2). */
	for (char *line = buf; line; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (!strncmp(line, "SSH-", 4))
			return PROBE_BANNER;
	}
	return memchr(buf, '\n', (size_t)n) || n >= (ssize_t)sizeof(buf) - 1 ? PROBE_CLOSED :
									     PROBE_WAIT;
}

int ready_wait(const struct ready_opts *o, int *fd)
{
	struct probe probes[MAX_PROBES];
	int64_t last_start = 0, last_check = mf_now_ms();
	int guest_answers = 0, ret = -1;

	*fd = -1;
	for (int i = 0; i < MAX_PROBES; i++)
		probes[i].fd = -1;
	for (;;) {
		int64_t now = mf_now_ms();
		int inflight = 0, oldest = -1, free_slot = -1;

		if (now >= o->deadline_ms) {
			mf_error(MF_E_TIMEOUT, "the guest's SSH server did not answer in time");
			goto out;
		}
		if (o->check && now - last_check >= CHECK_INTERVAL_MS) {
			last_check = now;
			if (o->check(o->arg) < 0)
				goto out;
		}
		for (int i = 0; i < MAX_PROBES; i++) {
			if (probes[i].fd < 0) {
				free_slot = i;
				continue;
			}
			inflight++;
			if (oldest < 0 || probes[i].started < probes[oldest].started)
				oldest = i;
		}
		/*
		 * Start a probe when due. Before the guest has answered at all,
		 * probes may hang on a SYN that QEMU retries slowly: start one
		 * every 100 ms and recycle the old ones. Once the guest answers
		 * with resets, a silent probe means sshd is working on it (slowly,
		 * under TCG): never close it, and add another only after a long
		 * silence, so that a slow guest is not buried in connections.
		 */
		int due;
		if (!guest_answers) {
			due = now - last_start >= SLOW_INTERVAL_MS;
			if (due && free_slot < 0 &&
			    now - probes[oldest].started >= PROBE_MAX_AGE_MS) {
				probe_close(&probes[oldest]);
				free_slot = oldest;
			}
		} else {
			int newest_age = (int)(now - last_start);
			due = newest_age >= FAST_INTERVAL_MS &&
			      (inflight == 0 || newest_age >= PROBE_PATIENCE_MS);
		}
		if (due && free_slot >= 0) {
			if (probe_start(o->port, &probes[free_slot]) < 0)
				goto out;
			last_start = now;
		}

		struct pollfd pfd[MAX_PROBES];
		int map[MAX_PROBES], npfd = 0;
		for (int i = 0; i < MAX_PROBES; i++) {
			if (probes[i].fd < 0)
				continue;
			pfd[npfd].fd = probes[i].fd;
			pfd[npfd].events = POLLIN;
			map[npfd++] = i;
		}
		int timeout = guest_answers ? FAST_INTERVAL_MS : SLOW_INTERVAL_MS;
		if (o->deadline_ms - now < timeout)
			timeout = (int)(o->deadline_ms - now);
		if (poll(pfd, (nfds_t)npfd, timeout < 1 ? 1 : timeout) < 0 && errno != EINTR) {
			mf_error_errno(MF_E_INFRA, "poll");
			goto out;
		}
		for (int k = 0; k < npfd; k++) {
			if (!pfd[k].revents)
				continue;
			struct probe *p = &probes[map[k]];
			switch (probe_read(p)) {
			case PROBE_WAIT:
				break;
			case PROBE_CLOSED:
				probe_close(p);
				if (!guest_answers)
					log_debug("the guest's network answers; waiting for sshd");
				guest_answers = 1;
				break;
			case PROBE_BANNER: {
				int flags = fcntl(p->fd, F_GETFL);
				fcntl(p->fd, F_SETFL, flags & ~O_NONBLOCK);
				*fd = p->fd;
				p->fd = -1;
				ret = 0;
				goto out;
			}
			}
		}
	}
out:
	for (int i = 0; i < MAX_PROBES; i++)
		probe_close(&probes[i]);
	return ret;
}
