/* idleconn.c - hold many idle HTTP connections open ("slowloris") and
 * measure how an HTTP server on 127.0.0.1 still answers fresh requests.
 *
 * Build:  cc -O2 -o idleconn idleconn.c        (libc only)
 * Usage:  idleconn -p PORT [-n N] [-m partial|none] [-r M] [-t TOKEN]
 *                  [-T TIMEOUT_MS] [-c CONNECT_MS] [-s SECONDS] [-P PID]
 *
 *   -n N        idle connections to open (default 1000)
 *   -m MODE     partial: each sends "GET /healthz HTTP/1.1\r\nHost: x\r\n"
 *               and never the blank line that ends the header; none: each
 *               sends nothing (default partial)
 *   -r M        fresh requests per route per measurement (default 10)
 *   -t TOKEN    bearer token for GET /api/v1/builds
 *   -T MS       timeout of one fresh request, connect included (default 5000)
 *   -c MS       how long to wait for the idle connections to be established
 *               (default 5000); the rest stay pending and are checked later
 *   -s SECONDS  if set, measure again once SECONDS have passed since the idle
 *               connections were opened (to see an idle timeout at work)
 *   -P PID      the server's pid: sample its RSS, threads and open fds from
 *               /proc, and the accept queue of its listening socket
 *
 * Output: readable lines, and for each measurement one "RESULT k=v ..." line
 * for scripts (tests/bench/bench-idle.sh). Latencies are in ms, from the
 * start of connect() to the end of the response (Connection: close).
 * A failed request has no latency; its kind is counted instead:
 *   ctimeo  connect did not complete in time (SYN not answered: backlog full)
 *   refused connection refused or reset during connect
 *   rtimeo  connected, but no status line before the timeout (queued in the
 *           listen backlog, never accepted, or accepted and not answered)
 *   eof     closed by the server without a status line
 *   reset   reset by the server without a status line
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { C_PENDING, C_OPEN, C_CLOSED, C_FAILED };	/* idle connection states */
enum { F_CTIMEO = -1, F_REFUSED = -2, F_RTIMEO = -3, F_EOF = -4, F_RESET = -5, F_ERR = -6 };
static const char *fail_name[] = { "", "ctimeo", "refused", "rtimeo", "eof", "reset", "error" };

static struct sockaddr_in addr;
static int port, nconn = 1000, partial = 1, nreq = 10, timeout_ms = 5000;
static int connect_ms = 5000, hold_s = 0, srv_pid = 0;
static const char *token = "";
static const char partial_hdr[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n";

static int *fds, *state;
static int answered;		/* idle connections to which the server sent bytes */
static double t_open;		/* when the idle connections were opened */

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Waits until fd is ready for ev or the deadline passes; 1 if ready. */
static int wait_fd(int fd, short ev, double deadline)
{
	for (;;) {
		int left = (int)(deadline - now_ms());
		if (left < 0)
			return 0;
		struct pollfd p = { .fd = fd, .events = ev };
		int r = poll(&p, 1, left);
		if (r > 0)
			return 1;
		if (r == 0 || errno != EINTR)
			return 0;
	}
}

/* A non-blocking socket with connect() started; -1 if socket() failed. */
static int start_connect(int *err)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	*err = 0;
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 && errno != EINPROGRESS)
		*err = errno;
	return fd;
}

/* One pass over the idle connections (waiting up to wait_ms for events):
 * a pending one that became writable is established (and sends its partial
 * header) or failed; an open one that became readable got bytes, EOF or a
 * reset from the server. */
static void poll_idle(int wait_ms)
{
	struct pollfd *p = calloc((size_t)nconn, sizeof(*p));
	int *idx = calloc((size_t)nconn, sizeof(*idx)), n = 0;
	char buf[4096];

	for (int i = 0; state && i < nconn; i++) {
		if (state[i] != C_PENDING && state[i] != C_OPEN)
			continue;
		p[n].fd = fds[i];
		p[n].events = state[i] == C_PENDING ? POLLOUT : POLLIN;
		idx[n++] = i;
	}
	if (n && poll(p, (nfds_t)n, wait_ms) > 0) {
		for (int k = 0; k < n; k++) {
			int i = idx[k], err = 0;
			socklen_t len = sizeof(err);
			if (!p[k].revents)
				continue;
			if (state[i] == C_PENDING) {
				getsockopt(fds[i], SOL_SOCKET, SO_ERROR, &err, &len);
				if (err) {
					state[i] = C_FAILED;
					continue;
				}
				state[i] = C_OPEN;
				if (partial)
					(void)send(fds[i], partial_hdr, sizeof(partial_hdr) - 1,
						   MSG_NOSIGNAL);
				continue;
			}
			/* Open: drain what the server sent; EOF or error means closed. */
			ssize_t r = read(fds[i], buf, sizeof(buf));
			if (r > 0) {
				answered++;
				while (read(fds[i], buf, sizeof(buf)) > 0)
					;
			}
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
				state[i] = C_CLOSED;
				close(fds[i]);
			}
		}
	}
	free(p);
	free(idx);
}

static void count_states(int c[4])
{
	c[0] = c[1] = c[2] = c[3] = 0;
	for (int i = 0; state && i < nconn; i++)
		c[state[i]]++;
}

/* The server's figures from /proc; -1 where unknown. */
struct server_sample { long rss_kb, threads, fds, listen_q; double load; };

static void sample_server(struct server_sample *s)
{
	char path[64], line[512];
	FILE *f;

	s->rss_kb = s->threads = s->fds = s->listen_q = -1;
	s->load = -1;
	if ((f = fopen("/proc/loadavg", "r"))) {	/* the machine's 1-minute load */
		if (fscanf(f, "%lf", &s->load) != 1)
			s->load = -1;
		fclose(f);
	}
	if (!srv_pid)
		return;
	snprintf(path, sizeof(path), "/proc/%d/status", srv_pid);
	if ((f = fopen(path, "r"))) {
		while (fgets(line, sizeof(line), f)) {
			sscanf(line, "VmRSS: %ld", &s->rss_kb);
			sscanf(line, "Threads: %ld", &s->threads);
		}
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/fd", srv_pid);
	DIR *d = opendir(path);
	if (d) {
		s->fds = 0;
		for (struct dirent *e; (e = readdir(d));)
			if (e->d_name[0] != '.')
				s->fds++;
		closedir(d);
	}
	/* For a listening socket (st 0A), rx_queue is its accept queue: the
	 * connections the kernel completed and the server has not accept()ed. */
	if ((f = fopen("/proc/net/tcp", "r"))) {
		unsigned lport, st, txq, rxq;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, " %*d: %*x:%x %*x:%*x %x %x:%x", &lport, &st, &txq, &rxq) == 4 &&
			    (int)lport == port && st == 0x0A)
				s->listen_q = rxq;
		fclose(f);
	}
}

/* One fresh request; returns the HTTP status, or an F_* failure. */
static int one_request(const char *path, int auth, double *ms)
{
	double t0 = now_ms(), deadline = t0 + timeout_ms;
	char req[512], buf[4096];
	int err, status = 0, fd = start_connect(&err);
	socklen_t len = sizeof(err);

	*ms = 0;
	if (fd < 0)
		return F_ERR;
	if (err) {
		close(fd);
		return err == ECONNREFUSED ? F_REFUSED : F_ERR;
	}
	if (!wait_fd(fd, POLLOUT, deadline)) {
		close(fd);
		return F_CTIMEO;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err) {
		close(fd);
		return err == ECONNREFUSED || err == ECONNRESET ? F_REFUSED : F_ERR;
	}
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s%s"
			 "Connection: close\r\n\r\n", path, auth ? "Authorization: Bearer " : "",
			 auth ? token : "", auth ? "\r\n" : "");
	(void)send(fd, req, (size_t)n, MSG_NOSIGNAL);	/* small: fits the send buffer */
	/* Read the status line, then the rest until EOF (or the deadline). */
	size_t got = 0;
	for (;;) {
		if (!wait_fd(fd, POLLIN, deadline))
			break;
		ssize_t r = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0) {
			if (!status) {
				close(fd);
				return r == 0 ? F_EOF : F_RESET;
			}
			break;
		}
		if (!status) {
			got += (size_t)r;
			buf[got] = '\0';
			if (strchr(buf, '\n') && sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
				status = 999;	/* something that is not HTTP */
			if (got == sizeof(buf) - 1)
				got = 0;
		}
		if (status)
			*ms = now_ms() - t0;
	}
	close(fd);
	return status ? status : F_RTIMEO;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* M sequential requests on one route: prints a summary line; appends k=v to res. */
static void measure(const char *name, const char *key, const char *path, int auth,
		    char *res, size_t ressz)
{
	double *lat = calloc((size_t)nreq, sizeof(*lat)), ms;
	int nok = 0, fails[7] = { 0 }, codes[1000] = { 0 };
	char detail[256] = "";

	for (int i = 0; i < nreq; i++) {
		int st = one_request(path, auth, &ms);
		if (st > 0) {
			lat[nok++] = ms;
			codes[st % 1000]++;
		} else {
			fails[-st]++;
		}
	}
	qsort(lat, (size_t)nok, sizeof(*lat), cmp_double);
	for (int c = 0; c < 1000; c++)
		if (codes[c])
			snprintf(detail + strlen(detail), sizeof(detail) - strlen(detail),
				 " %d:%d", c, codes[c]);
	for (int f = 1; f <= 6; f++)
		if (fails[f])
			snprintf(detail + strlen(detail), sizeof(detail) - strlen(detail),
				 " %s:%d", fail_name[f], fails[f]);
	double med = nok ? lat[(nok - 1) / 2] : -1;
	double p95 = nok ? lat[(int)(0.95 * nok + 0.999) - 1] : -1;
	double mn = nok ? lat[0] : -1, mx = nok ? lat[nok - 1] : -1;
	if (nok)
		printf("  %-8s answered %d/%d  min %.1f  median %.1f  p95 %.1f  max %.1f ms  [%s ]\n",
		       name, nok, nreq, mn, med, p95, mx, detail);
	else
		printf("  %-8s answered 0/%d  [%s ]\n", name, nreq, detail);
	snprintf(res + strlen(res), ressz - strlen(res),
		 " %s_ok=%d %s_fail=%d %s_min=%.1f %s_med=%.1f %s_p95=%.1f %s_max=%.1f",
		 key, nok, key, nreq - nok, key, mn, key, med, key, p95, key, mx);
	free(lat);
}

/* Prints the state of the idle connections (and the server) at this moment. */
static void report_state(const char *what, long fds0, char *res, size_t ressz)
{
	int c[4];
	struct server_sample s;

	poll_idle(0);
	count_states(c);
	sample_server(&s);
	double t = state ? (now_ms() - t_open) / 1e3 : 0;	/* 0: before opening */
	printf("t=%6.1fs %-10s established %d, still open %d, closed by server %d, "
	       "pending %d, failed %d, answered %d",
	       t, what, c[C_OPEN] + c[C_CLOSED], c[C_OPEN], c[C_CLOSED], c[C_PENDING],
	       c[C_FAILED], answered);
	if (srv_pid)
		printf(" | server: fds %ld (+%ld), threads %ld, RSS %ld kB, accept queue %ld",
		       s.fds, s.fds - fds0, s.threads, s.rss_kb, s.listen_q);
	printf("\n");
	fflush(stdout);
	if (res)
		snprintf(res, ressz, "RESULT n=%d t=%.1f est=%d open=%d closed=%d pending=%d "
			 "failed=%d answered=%d srv_fds=%ld srv_fds_delta=%ld srv_threads=%ld "
			 "srv_rss_kb=%ld listen_q=%ld load=%.2f", nconn, t, c[C_OPEN] + c[C_CLOSED],
			 c[C_OPEN], c[C_CLOSED], c[C_PENDING], c[C_FAILED], answered, s.fds,
			 s.fds - fds0, s.threads, s.rss_kb, s.listen_q, s.load);
}

static void measurement(const char *phase, long fds0)
{
	char res[1024];

	report_state(phase, fds0, res, sizeof(res));
	measure("healthz", "hz", "/healthz", 0, res, sizeof(res));
	measure("builds", "bl", "/api/v1/builds", 1, res, sizeof(res));
	printf("%s phase=%s\n", res, phase);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int opt;
	struct rlimit rl;
	struct server_sample s0;

	while ((opt = getopt(argc, argv, "p:n:m:r:t:T:c:s:P:")) != -1) {
		switch (opt) {
		case 'p': port = atoi(optarg); break;
		case 'n': nconn = atoi(optarg); break;
		case 'm': partial = strcmp(optarg, "none") != 0; break;
		case 'r': nreq = atoi(optarg); break;
		case 't': token = optarg; break;
		case 'T': timeout_ms = atoi(optarg); break;
		case 'c': connect_ms = atoi(optarg); break;
		case 's': hold_s = atoi(optarg); break;
		case 'P': srv_pid = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: idleconn -p PORT [-n N] [-m partial|none] [-r M] "
				"[-t TOKEN] [-T MS] [-c MS] [-s SECONDS] [-P PID]\n");
			return 2;
		}
	}
	if (port <= 0 || nconn < 0 || nreq <= 0) {
		fprintf(stderr, "idleconn: -p PORT is required; -n >= 0, -r > 0\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	/* N sockets and a few more: raise the soft fd limit to the hard one. */
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	printf("idleconn: port %d, %d idle connections (%s), %d requests per route, "
	       "timeout %d ms, fd limit %llu\n", port, nconn,
	       partial ? "partial header" : "sending nothing", nreq, timeout_ms,
	       (unsigned long long)rl.rlim_cur);

	sample_server(&s0);
	if (srv_pid)
		printf("server before: fds %ld, threads %ld, RSS %ld kB\n", s0.fds, s0.threads,
		       s0.rss_kb);
	printf("-- baseline (no idle connections yet)\n");
	measurement("baseline", s0.fds);
	sample_server(&s0);	/* again: the first requests open a few files (the database) */

	/* Open them all (connect is non-blocking), then wait for the handshakes. */
	fds = calloc((size_t)nconn + 1, sizeof(*fds));
	state = calloc((size_t)nconn + 1, sizeof(*state));
	t_open = now_ms();
	for (int i = 0; i < nconn; i++) {
		int err;
		fds[i] = start_connect(&err);
		state[i] = fds[i] < 0 || err ? C_FAILED : C_PENDING;
		if (fds[i] < 0) {
			fprintf(stderr, "idleconn: socket: %s (after %d)\n", strerror(err), i);
			for (int j = i + 1; j < nconn; j++)
				state[j] = C_FAILED;
			break;
		}
	}
	printf("-- holding %d idle connections\n", nconn);
	for (double end = now_ms() + connect_ms; now_ms() < end;) {
		int c[4];
		poll_idle(100);
		count_states(c);
		if (!c[C_PENDING])
			break;
	}
	poll_idle(1000);	/* let the server react: accept, close, answer */
	measurement("held", s0.fds);

	if (hold_s > 0) {
		/* Keep holding; a line every 10 s shows when the server closes them. */
		double until = t_open + hold_s * 1e3, next = now_ms();
		while (now_ms() < until) {
			poll_idle(200);
			if (now_ms() >= next) {
				report_state("holding", s0.fds, NULL, 0);
				next = now_ms() + 10e3;
			}
		}
		measurement("after-hold", s0.fds);
	}
	return 0;
}
