/* ready.c - see ready.h. */
#include "machine/ready.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/util.h"

#define MAX_SSH 4		/* SSH probes open at once */
#define MAX_CANARY 16		/* canary probes open at once (oldest recycled) */
#define CANARY_INTERVAL_MS 100	/* while the guest's network is down */
#define SSH_INTERVAL_MS 20	/* once it is up: sshd answers resets until it listens */
#define SSH_PATIENCE_MS 5000	/* a silent SSH probe gets company after this */
#define FALLBACK_INTERVAL_MS 1000 /* no canary port: SSH probes this often */
#define CANARY_FALLBACK_MS 15000 /* canaries unanswered: an SSH probe this often */
#define CHECK_INTERVAL_MS 250

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
		/* QEMU is not listening (yet, or any more): nothing to wait for. */
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

enum probe_result {
	PROBE_WAIT,	/* nothing yet */
	PROBE_REFUSED,	/* QEMU itself did not take the connection */
	PROBE_CLOSED,	/* the guest answered with a reset (QEMU closed it) */
	PROBE_DATA,	/* the guest sent something that is not SSH */
	PROBE_BANNER,	/* an SSH server */
};

static enum probe_result probe_read(struct probe *p)
{
	char buf[256];
	ssize_t n = recv(p->fd, buf, sizeof(buf) - 1, MSG_PEEK);

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return PROBE_WAIT;
		return errno == ECONNREFUSED ? PROBE_REFUSED : PROBE_CLOSED;
	}
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
	return memchr(buf, '\n', (size_t)n) || n >= (ssize_t)sizeof(buf) - 1 ? PROBE_DATA :
									     PROBE_WAIT;
}

/* Index of a free slot, or of the oldest probe (closed first) when recycle. */
static int slot(struct probe *v, int n, int recycle)
{
	int oldest = -1;

	for (int i = 0; i < n; i++) {
		if (v[i].fd < 0)
			return i;
		if (oldest < 0 || v[i].started < v[oldest].started)
			oldest = i;
	}
	if (!recycle)
		return -1;
	probe_close(&v[oldest]);
	return oldest;
}

/* Open probes started at or after since. */
static int count(const struct probe *v, int n, int64_t since)
{
	int k = 0;

	for (int i = 0; i < n; i++)
		k += v[i].fd >= 0 && v[i].started >= since;
	return k;
}

struct waiter {
	const struct ready_opts *o;
	int64_t t0;
	int nssh, ncanary;	/* probes started */
	struct probe ssh[MAX_SSH];
	struct probe canary[MAX_CANARY];
	int64_t last_ssh, last_canary;
	int64_t net_up;		/* when the guest's network answered; 0 before */
};

static int start_probes(struct waiter *w, int64_t now)
{
	const struct ready_opts *o = w->o;
	/* Probes from before the network answered are QEMU's to retry: ignore them. */
	int i, inflight = w->net_up ? count(w->ssh, MAX_SSH, w->net_up) : 0, due;

	if (!w->net_up && o->canary_port && now - w->last_canary >= CANARY_INTERVAL_MS) {
		i = slot(w->canary, MAX_CANARY, 1);
		if (probe_start(o->canary_port, &w->canary[i]) < 0)
			return -1;
		w->last_canary = now;
		w->ncanary++;
	}
	if (w->last_ssh == 0)
		due = 1; /* the first one, kept whatever the canaries say */
	else if (w->net_up)
		due = now - w->last_ssh >= SSH_INTERVAL_MS &&
		      (inflight == 0 || now - w->last_ssh >= SSH_PATIENCE_MS);
	else
		due = now - w->last_ssh >= (o->canary_port ? CANARY_FALLBACK_MS : FALLBACK_INTERVAL_MS);
	if (due && (i = slot(w->ssh, MAX_SSH, 0)) >= 0) {
		if (probe_start(o->port, &w->ssh[i]) < 0)
			return -1;
		w->last_ssh = now;
		w->nssh++;
	}
	return 0;
}

static void network_up(struct waiter *w, const char *how)
{
	if (w->net_up)
		return;
	w->net_up = mf_now_ms();
	for (int i = 0; i < MAX_CANARY; i++)
		probe_close(&w->canary[i]);
	log_debug("the guest's network answers (%s) after %lld ms and %d canary probes; "
		  "probing sshd", how, (long long)(mf_now_ms() - w->t0), w->ncanary);
}

int ready_wait(const struct ready_opts *o, int *fd)
{
	struct waiter w = { .o = o, .t0 = mf_now_ms() };
	int64_t last_check = mf_now_ms();
	int ret = -1;

	*fd = -1;
	for (int i = 0; i < MAX_SSH; i++)
		w.ssh[i].fd = -1;
	for (int i = 0; i < MAX_CANARY; i++)
		w.canary[i].fd = -1;
	for (;;) {
		int64_t now = mf_now_ms();

		if (now >= o->deadline_ms) {
			mf_error(MF_E_TIMEOUT, "the guest's SSH server did not answer in time");
			goto out;
		}
		if (o->check && now - last_check >= CHECK_INTERVAL_MS) {
			last_check = now;
			if (o->check(o->arg) < 0)
				goto out;
		}
		if (start_probes(&w, now) < 0)
			goto out;

		struct pollfd pfd[MAX_SSH + MAX_CANARY];
		struct probe *map[MAX_SSH + MAX_CANARY];
		int npfd = 0;
		for (int i = 0; i < MAX_SSH + MAX_CANARY; i++) {
			struct probe *p = i < MAX_SSH ? &w.ssh[i] : &w.canary[i - MAX_SSH];
			if (p->fd < 0)
				continue;
			pfd[npfd].fd = p->fd;
			pfd[npfd].events = POLLIN;
			map[npfd++] = p;
		}
		int timeout = w.net_up ? SSH_INTERVAL_MS :
			      o->canary_port ? CANARY_INTERVAL_MS : CHECK_INTERVAL_MS;
		if (o->deadline_ms - now < timeout)
			timeout = (int)(o->deadline_ms - now);
		if (poll(pfd, (nfds_t)npfd, timeout < 1 ? 1 : timeout) < 0 && errno != EINTR) {
			mf_error_errno(MF_E_INFRA, "poll");
			goto out;
		}
		for (int k = 0; k < npfd; k++) {
			struct probe *p = map[k];
			int is_canary = p >= w.canary && p < w.canary + MAX_CANARY;

			if (!pfd[k].revents || p->fd < 0)
				continue;
			enum probe_result r = probe_read(p);
			if (r == PROBE_WAIT)
				continue;
			if (r == PROBE_REFUSED) {
				/* Says nothing about the guest; the next probe will do. */
				probe_close(p);
				continue;
			}
			if (is_canary) {
				/* A reset, or anything at all: the guest's network is up. */
				network_up(&w, "canary");
				continue;
			}
			if (r == PROBE_BANNER) {
				int flags = fcntl(p->fd, F_GETFL);
				fcntl(p->fd, F_SETFL, flags & ~O_NONBLOCK);
				*fd = p->fd;
				p->fd = -1;
				log_debug("SSH banner after %lld ms and %d SSH probes",
					  (long long)(mf_now_ms() - w.t0), w.nssh);
				ret = 0;
				goto out;
			}
			/* Reset (sshd not listening yet) or not SSH: try again. */
			probe_close(p);
			network_up(&w, "reset on the SSH port");
		}
	}
out:
	for (int i = 0; i < MAX_SSH; i++)
		probe_close(&w.ssh[i]);
	for (int i = 0; i < MAX_CANARY; i++)
		probe_close(&w.canary[i]);
	return ret;
}
