/* sandbox.c - see sandbox.h. */
#include "ports/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "common/strbuf.h"
#include "common/util.h"

#define BWRAP "/usr/bin/bwrap"
#define ERR_MAX 4096

/*
 * Each sandbox runs as a user of its own (outside; nobody inside), so that
 * the process limit of one, which counts every process of its user, is not
 * used up by another: a recipe that forks endlessly starves only itself.
 * Users SANDBOX_UID_BASE + (pid % 1024) * 64 + slot, slot 0..63 in this
 * process; no account needs to exist for them.
 */
#define SANDBOX_UID_BASE 1610612736u
#define SLOTS 64

static const atomic_int *interrupt_flag;

void sandbox_set_interrupt(const atomic_int *flag)
{
	interrupt_flag = flag;
}

static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slots_free = PTHREAD_COND_INITIALIZER;
static uint64_t slots_used;

static int slot_take(void)
{
	int slot;

	pthread_mutex_lock(&slots_lock);
	while (slots_used == ~(uint64_t)0)
		pthread_cond_wait(&slots_free, &slots_lock);
	for (slot = 0; slots_used & ((uint64_t)1 << slot); slot++)
		;
	slots_used |= (uint64_t)1 << slot;
	pthread_mutex_unlock(&slots_lock);
	return slot;
}

static void slot_give(int slot)
{
	pthread_mutex_lock(&slots_lock);
	slots_used &= ~((uint64_t)1 << slot);
	pthread_cond_signal(&slots_free);
	pthread_mutex_unlock(&slots_lock);
}

uid_t sandbox_uid(int slot)
{
	return (uid_t)(SANDBOX_UID_BASE + (unsigned)(getpid() % 1024) * SLOTS + (unsigned)slot);
}

static void limit(int resource, rlim_t v)
{
	struct rlimit rl = { v, v };

	setrlimit(resource, &rl);
}

/* The child: drop to the sandbox's user, set the limits, exec bubblewrap. Never returns. */
static void child(const struct sandbox_opts *o, char *const *args, int out, int err, uid_t uid)
{
	int null = open("/dev/null", O_RDONLY);

	setpgid(0, 0);
	if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(126);
	/* Every other descriptor of Mayfly's stays outside. */
	close_range(3, ~0U, 0);
	if (getuid() == 0 &&
	    (setgroups(0, NULL) < 0 || setgid((gid_t)uid) < 0 || setuid(uid) < 0)) {
		dprintf(2, "cannot become an unprivileged user: %s\n", strerror(errno));
		_exit(126);
	}
	limit(RLIMIT_NPROC, (rlim_t)o->max_procs);
	limit(RLIMIT_CPU, (rlim_t)o->cpu_seconds);
	limit(RLIMIT_AS, (rlim_t)o->memory_mb << 20);
	limit(RLIMIT_FSIZE, (rlim_t)o->tmp_mb << 20);
	limit(RLIMIT_NOFILE, 256);
	limit(RLIMIT_CORE, 0);
	execv(BWRAP, args);
	dprintf(2, "cannot run %s: %s\n", BWRAP, strerror(errno));
	_exit(127);
}

static char **bwrap_args(const struct sandbox_opts *o)
{
	static const char *const head[] = {
		BWRAP, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
		"--new-session", "--cap-drop", "ALL", "--uid", "65534", "--gid", "65534",
		"--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib",
		"--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
		"--symlink", "usr/sbin", "/sbin", "--proc", "/proc", "--dev", "/dev",
	};
	size_t nhead = sizeof(head) / sizeof(head[0]), n = 0, cap;
	char **v;

	cap = nhead + 4 + 3 * o->nbinds + 16 + mf_strv_len((char *const *)o->argv);
	v = xcalloc(cap + 1, sizeof(char *));
	for (size_t i = 0; i < nhead; i++)
		v[n++] = xstrdup(head[i]);
	v[n++] = xstrdup("--size");
	v[n++] = xasprintf("%lld", (long long)o->tmp_mb << 20);
	v[n++] = xstrdup("--tmpfs");
	v[n++] = xstrdup("/tmp");
	for (size_t i = 0; i < o->nbinds; i++) {
		v[n++] = xstrdup("--ro-bind");
		v[n++] = xstrdup(o->binds[i].src);
		v[n++] = xstrdup(o->binds[i].dest);
	}
	static const char *const tail[] = {
		"--chdir", "/tmp", "--clearenv", "--setenv", "PATH", "/usr/bin:/bin",
		"--setenv", "LC_ALL", "POSIX", "--setenv", "TERM", "xterm", "--setenv", "HOME", "/tmp",
	};
	for (size_t i = 0; i < sizeof(tail) / sizeof(tail[0]); i++)
		v[n++] = xstrdup(tail[i]);
	for (const char *const *a = o->argv; *a; a++)
		v[n++] = xstrdup(*a);
	v[n] = NULL;
	return v;
}

/*
 * Ends a sandbox and reaps it. Its pid namespace's init (bubblewrap's
 * child) is killed first: the kernel then kills everything in the
 * namespace, and bubblewrap reaps its child and exits. Killing bubblewrap
 * itself first would leave that init to the host's PID 1 to reap, and on
 * machines where PID 1 reaps late, the zombie counts against the
 * sandbox user's process limit for a while.
 */
static void end_sandbox(pid_t pid, int *status)
{
	char path[64], buf[64];
	int fd, n;

	if (waitpid(pid, status, WNOHANG) == pid)
		return;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? (int)read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n > 0) {
		buf[n] = '\0';
		pid_t init = (pid_t)atoi(buf);
		if (init > 1)
			kill(init, SIGKILL);
		for (int i = 0; i < 200; i++) {
			if (waitpid(pid, status, WNOHANG) == pid)
				return;
			usleep(10000);
		}
	}
	kill(-pid, SIGKILL);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
}

int sandbox_run(const struct sandbox_opts *o, struct sandbox_result *r)
{
	struct strbuf out = STRBUF_INIT, err = STRBUF_INIT;
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 }, status = 0, ret = -1, slot = -1;
	int interrupted = 0;
	size_t scanned = 0, marker_len = o->step_marker ? strlen(o->step_marker) : 0;
	int64_t step_start = mf_now_ms();
	uid_t uid;
	char **args = NULL, buf[65536];
	int64_t deadline;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	if (access(BWRAP, X_OK) < 0)
		return mf_error_errno(MF_E_INFRA, "cannot run the recipe sandbox: %s (install the "
				      "bubblewrap package)", BWRAP);
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		mf_error_errno(MF_E_INFRA, "cannot make pipes for the sandbox");
		goto out;
	}
	args = bwrap_args(o);
	slot = slot_take();
	uid = getuid() == 0 ? sandbox_uid(slot) : getuid();
	deadline = mf_now_ms() + o->timeout_ms;
	pid = fork();
	if (pid < 0) {
		mf_error_errno(MF_E_INFRA, "cannot start the sandbox");
		goto out;
	}
	if (pid == 0)
		child(o, args, po[1], pe[1], uid);
	setpgid(pid, pid); /* also here: no race with the kill below */
	close(po[1]);
	close(pe[1]);
	po[1] = pe[1] = -1;
	for (int open_fds = 2; open_fds > 0;) {
		struct pollfd fds[2] = { { po[0], POLLIN, 0 }, { pe[0], POLLIN, 0 } };
		int64_t left = deadline - mf_now_ms();
		if (o->step_marker) {
			/* A new step since the last look: its own time starts. */
			const char *hit;
			while ((hit = strstr(strbuf_str(&out) + scanned, o->step_marker))) {
				scanned = (size_t)(hit - strbuf_str(&out)) + 1;
				step_start = mf_now_ms();
			}
			if (out.len > marker_len)
				scanned = scanned > out.len - marker_len ? scanned :
								       out.len - marker_len;
			int64_t step_left = step_start + o->step_timeout_ms - mf_now_ms();
			if (step_left < left)
				left = step_left;
		}
		if (interrupt_flag && atomic_load(interrupt_flag)) {
			interrupted = 1;
			break;
		}
		if (left <= 0) {
			r->timed_out = 1;
			break;
		}
		if (poll(fds, 2, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = read(fds[i].fd, buf, sizeof(buf));
			if (n <= 0) {
				if (n < 0 && errno == EINTR)
					continue;
				close(i ? pe[0] : po[0]);
				if (i)
					pe[0] = -1;
				else
					po[0] = -1;
				open_fds--;
				continue;
			}
			if (i == 1) {
				if (err.len < ERR_MAX)
					strbuf_add(&err, buf, (size_t)n > ERR_MAX - err.len ?
							      ERR_MAX - err.len : (size_t)n);
			} else if (out.len + (size_t)n > o->max_output) {
				r->output_full = 1;
				open_fds = 0;
			} else {
				strbuf_add(&out, buf, (size_t)n);
			}
		}
	}
	/* Whatever is left of it goes (the pid namespace takes its children along). */
	end_sandbox(pid, &status);
	slot_give(slot);
	slot = -1;
	if (interrupted) {
		mf_error(MF_E_INTERRUPTED, "interrupted");
		goto out;
	}
	if (!r->timed_out && !r->output_full && WIFEXITED(status))
		r->status = WEXITSTATUS(status);
	/* bubblewrap's own failures (no user namespaces...) are not the code's. */
	if (r->status == 126 || r->status == 127 ||
	    (r->status == 1 && !strncmp(strbuf_str(&err), "bwrap: ", 7))) {
		char *e = xstrdup(strbuf_str(&err));
		e[strcspn(e, "\n")] = '\0';
		mf_error(MF_E_INFRA, "cannot run the recipe sandbox: %s%s", e,
			 strstr(e, "Permission denied") ? " (the sandbox runs as nobody: the "
			 "directories above what it reads, the state directory among them, must "
			 "be searchable by others)" : "");
		free(e);
		goto out;
	}
	r->out_len = out.len;
	r->out = strbuf_detach(&out);
	r->err = strbuf_detach(&err);
	ret = 0;
out:
	if (slot >= 0)
		slot_give(slot);
	for (int i = 0; i < 2; i++) {
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
	}
	strbuf_release(&out);
	strbuf_release(&err);
	mf_strv_free(args);
	return ret;
}

void sandbox_result_release(struct sandbox_result *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}
