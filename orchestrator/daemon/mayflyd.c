/*
 * mayflyd.c - the build service: a persistent queue, max_vms workers, an
 * HTTP API; crash-safe (a restart cleans up what a killed mayflyd left and
 * queues its running builds again). See mayflyd.8 and mayfly.conf.5.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "buildrun/buildrun.h"
#include "daemon/api.h"
#include "daemon/poller.h"
#include "daemon/publisher.h"
#include "daemon/hooks.h"
#include "daemon/scheduler.h"
#include "machine/host.h"
#include "machine/reconcile.h"
#include "store/queue.h"
#include "store/state.h"

static void usage(FILE *fp)
{
	fprintf(fp, "usage: mayflyd [-nv] [--drain] [-c FILE | --config FILE]\n"
		    "  -c, --config FILE  settings (default: /etc/mayfly/mayfly.conf)\n"
		    "  -n                 check the settings, print any errors, and exit\n"
		    "  -v                 debug messages\n"
		    "  --drain            on SIGTERM, let running builds finish first\n");
}

/* Everything -n checks beyond the file's syntax. */
static int check_config(const struct mf_config *cfg, int check)
{
	char host[256];
	int port;

	if (config_parse_listen(cfg->listen, host, sizeof(host), &port) < 0)
		return mf_error(MF_E_USAGE, "listen: '%s' is not HOST:PORT", cfg->listen);
	if (!cfg->token_file) {
		/* Running, the API says so when it (re)loads its tokens. */
		if (check)
			log_warnx("no token_file: the API will refuse every request but /healthz");
	} else if (access(cfg->token_file, R_OK) < 0)
		return mf_error_errno(MF_E_USAGE, "token_file '%s'", cfg->token_file);
	return 0;
}

/* One mayflyd per state directory: an exclusive lock held for its life. */
static int lock_state(const char *dir, int *fd_out)
{
	char *path = xasprintf("%s/mayflyd.lock", dir), pid[32];
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0) {
		mf_error_errno(MF_E_USAGE, "cannot open '%s'", path);
		free(path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		ssize_t n = read(fd, pid, sizeof(pid) - 1);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		mf_error(MF_E_USAGE, "another mayflyd (pid %s) already serves %s", pid[0] ? pid : "?",
			 dir);
		close(fd);
		free(path);
		return -1;
	}
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == 0 && write(fd, pid, strlen(pid)) < 0)
		log_warn("cannot write %s", path);
	free(path);
	*fd_out = fd;
	return 0;
}

/* Startup: clean up after a dead predecessor, then queue its builds again. */
static int recover(const struct mf_config *cfg)
{
	struct mf_state *st = NULL;
	struct host *h = NULL;
	int n = -1;

	if (state_open(&st, cfg->state_dir) < 0 ||
	    host_open(&h, cfg->libvirt_uri, cfg->accel, st) < 0 || reconcile_orphans(h, st->db) < 0)
		goto out;
	n = queue_recover(st->db, cfg->infra_retries + 1);
	/* Build runs catch up with what their builds did while no mayflyd ran. */
	if (n >= 0 && buildrun_advance_open(st) < 0)
		log_warnx("build runs: %s", mf_error_msg());
	log_debug("state directory %s, instance %s, accelerator %s (%s)", st->dir, st->instance,
		  h->kvm ? "kvm" : "tcg", h->accel_reason);
	if (n > 0)
		log_info("recovered %d build%s left running by a previous mayflyd", n,
			 n == 1 ? "" : "s");
out:
	host_close(h);
	state_free(st);
	return n < 0 ? -1 : 0;
}

/*
 * Thousands of idle HTTP connections need as many descriptors: raise the
 * soft limit to the hard one, and keep max_connections within it.
 */
static void fit_fd_limit(struct mf_config *cfg)
{
	struct rlimit rl;
	rlim_t reserve = 256 + 16 * (rlim_t)cfg->max_vms; /* libvirt, SSH, logs, SQLite */

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || getrlimit(RLIMIT_NOFILE, &rl) < 0)
			return;
	}
	if (rl.rlim_cur == RLIM_INFINITY || (rlim_t)cfg->max_connections + reserve <= rl.rlim_cur)
		return;
	int n = rl.rlim_cur > reserve + 16 ? (int)(rl.rlim_cur - reserve) : 16;
	log_warnx("max_connections lowered from %d to %d: this process may open only %llu files "
		  "(raise the hard limit, ulimit -Hn)", cfg->max_connections, n,
		  (unsigned long long)rl.rlim_cur);
	cfg->max_connections = n;
}

static int wait_signal(const sigset_t *set, int timeout_ms)
{
	struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };
	int sig;

	do
		sig = timeout_ms < 0 ? sigwaitinfo(set, NULL) : sigtimedwait(set, NULL, &ts);
	while (sig < 0 && errno == EINTR);
	return sig;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "drain", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct mf_config cfg;
	struct scheduler *sched = NULL;
	struct poller *poller = NULL;
	struct publisher *publisher = NULL;
	struct hooks *hooks = NULL;
	struct api *api = NULL;
	const char *config_path = NULL;
	int c, check = 0, verbose = 0, drain = 0, lockfd = -1, port, sig, status = 0;
	sigset_t set;

	while ((c = getopt_long(argc, argv, "c:nvh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case 'n': check = 1; break;
		case 'v': verbose++; break;
		case 'D': drain = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	log_init("mayflyd", verbose);
	config_init(&cfg);
	if (config_load(&cfg, config_path) < 0 || config_apply_env(&cfg) < 0 ||
	    check_config(&cfg, check) < 0) {
		fprintf(stderr, "%s\n", mf_error_msg());
		config_release(&cfg);
		return 2;
	}
	if (check) {
		printf("%s: configuration OK\n", cfg.path ? cfg.path : "(defaults)");
		config_release(&cfg);
		return 0;
	}

	/* Signals are taken by sigwait() here; no other thread sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (mf_mkdir_p(cfg.state_dir, 0755) < 0 || lock_state(cfg.state_dir, &lockfd) < 0 ||
	    recover(&cfg) < 0 || scheduler_start(&sched, &cfg) < 0) {
		log_warnx("%s", mf_error_msg());
		status = mf_error_exit_code(mf_error_class());
		goto out;
	}
	fit_fd_limit(&cfg);
	if (api_start(&api, &cfg, sched, &port) < 0 || poller_start(&poller, &cfg, sched) < 0 ||
	    publisher_start(&publisher, &cfg) < 0 || hooks_start(&hooks, &cfg, sched) < 0) {
		log_warnx("%s", mf_error_msg());
		status = mf_error_exit_code(mf_error_class());
		goto out;
	}
	char host[256];
	int ignored;
	config_parse_listen(cfg.listen, host, sizeof(host), &ignored);
	log_info("listening on %s%s%s:%d, state %s, %d machine%s at most",
		 strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", port,
		 cfg.state_dir, cfg.max_vms, cfg.max_vms == 1 ? "" : "s");

	while ((sig = wait_signal(&set, -1)) == SIGHUP) {
		if (api_reload_tokens(api) < 0)
			log_warnx("%s (keeping the old tokens)", mf_error_msg());
	}
	log_info("%s: stopping%s", strsignal(sig),
		 drain ? "; running builds finish first (signal again to interrupt them)" :
			 "; running builds are interrupted and queued again");
	api_stop_accepting(api);
	poller_stop(poller);
	poller = NULL;
	publisher_stop(publisher);
	publisher = NULL;
	hooks_stop(hooks);
	hooks = NULL;
	if (drain) {
		scheduler_drain(sched);
		/* The API still answers (503 to new builds) while builds finish. */
		while (scheduler_running(sched) > 0) {
			sig = wait_signal(&set, 500);
			if (sig > 0 && sig != SIGHUP) {
				log_info("interrupting the running builds");
				break;
			}
		}
	}
	/* The API first: its threads use the scheduler. */
	api_stop(api);
	api = NULL;
	scheduler_stop(sched, 0);
	sched = NULL;
	log_info("stopped");
out:
	poller_stop(poller);
	publisher_stop(publisher);
	hooks_stop(hooks);
	api_stop(api);
	if (sched)
		scheduler_stop(sched, 0);
	if (lockfd >= 0)
		close(lockfd);
	config_release(&cfg);
	return status;
}
