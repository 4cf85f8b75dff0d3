/* machine.c - see machine.h. */
#include "machine/machine.h"

#include <stdatomic.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "machine/host.h"
#include "store/ledger.h"
#include "common/log.h"
#include "machine/ready.h"
#include "common/strbuf.h"
#include "common/template.h"
#include "common/util.h"
#include "machine/vm.h"

#define BOOT_ATTEMPTS 3 /* when another program takes the forwarded port first */

static void phase_done(const struct machine_spec *spec, const char *name, int64_t start)
{
	int64_t ms = mf_now_ms() - start;

	buildlog_event(spec->log, "%s done in %lld ms", name, (long long)ms);
	if (spec->phase)
		spec->phase(spec->payload, name, ms);
}

/* The last lines of the serial console, printable characters only. */
static char *console_tail(const char *path, int lines)
{
	char *data = NULL, *start;
	struct strbuf out = STRBUF_INIT;
	size_t len = 0;

	if (mf_read_file(path, 64 << 20, &data, &len) < 0) {
		mf_error_clear();
		return xstrdup("(no console output)");
	}
	/* Walk back over the wanted number of non-empty lines. */
	start = data + len;
	while (start > data && lines > 0) {
		start--;
		if (*start == '\n' && start[1] && start[1] != '\n' && start[1] != '\r')
			lines--;
	}
	for (char *p = start; *p; p++) {
		if (*p == '\n' || *p == '\r') {
			if (out.len && out.buf[out.len - 1] != ' ')
				strbuf_addstr(&out, " | ");
		} else if (*p == '\033') {
			/* skip an escape sequence: ESC [ params letter */
			if (p[1] == '[') {
				p += 2;
				while (*p && !isalpha((unsigned char)*p))
					p++;
				if (!*p)
					break;
			}
		} else if (isprint((unsigned char)*p)) {
			strbuf_addch(&out, *p);
		}
	}
	free(data);
	if (out.len == 0)
		strbuf_addstr(&out, "(no console output)");
	return strbuf_detach(&out);
}

struct ready_check {
	struct machine *m;
	atomic_int *cancel;
};

static int ready_check(void *arg)
{
	struct ready_check *rc = arg;

	if (rc->cancel && *rc->cancel)
		return mf_error(MF_E_INTERRUPTED, "interrupted");
	if (!vm_domain_running(rc->m->host->vm, rc->m->domain))
		return mf_error(MF_E_INFRA, "the machine stopped while booting");
	return 0;
}

static int clone_volume(struct machine *m, const struct machine_spec *spec,
			const char *backing_path)
{
	if (ledger_claim(m->db, LEDGER_VOLUME, m->volume, spec->build_id) < 0)
		return -1;
	m->volume_claimed = 1;
	return vm_volume_overlay(m->host->vm, m->host->pool, m->volume, backing_path,
				 spec->capacity, &m->disk_path);
}

/* Releases a ledger claim; a failure here is logged, the resource is gone. */
static void release(struct machine *m, const char *kind, const char *name)
{
	if (ledger_release(m->db, kind, name) < 0)
		log_warnx("%s", mf_error_msg());
}

/* Forgets the claims on the forwarded ports (their QEMU is gone or never was). */
static void release_ports(struct machine *m)
{
	char name[16];

	if (m->port_claimed) {
		snprintf(name, sizeof(name), "%d", m->port);
		if (ledger_release(m->db, LEDGER_PORT, name) == 0)
			m->port_claimed = 0;
	}
	if (m->canary_claimed) {
		snprintf(name, sizeof(name), "%d", m->canary_port);
		if (ledger_release(m->db, LEDGER_PORT, name) == 0)
			m->canary_claimed = 0;
	}
}

/* Starts the domain: cold from its disk, or restored from snap's memory image. */
static int boot_domain(struct machine *m, const struct machine_spec *spec,
		       const struct machine_snap *snap)
{
	int fd;

	/* An empty console file that libvirt can hand to QEMU's user. */
	fd = open(spec->console_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return mf_error_errno(MF_E_INFRA, "cannot create '%s'", spec->console_path);
	close(fd);
	if (!m->domain_claimed) {
		if (ledger_claim(m->db, LEDGER_DOMAIN, m->domain, spec->build_id) < 0)
			return -1;
		m->domain_claimed = 1;
	}
	for (int attempt = 1;; attempt++) {
		struct strbuf xml = STRBUF_INIT;
		int rc;

		if (ledger_claim_port(m->db, spec->build_id, &m->port) < 0)
			return -1;
		m->port_claimed = 1;
		if (ledger_claim_port(m->db, spec->build_id, &m->canary_port) < 0)
			return -1;
		m->canary_claimed = 1;
		struct domspec ds = {
			.name = m->domain,
			.uuid = snap ? snap->uuid : spec->uuid,
			.kvm = m->host->kvm,
			.memory_mib = spec->memory_mib,
			.vcpus = spec->vcpus,
			.disk_path = m->disk_path,
			.disk_bus = spec->disk_bus,
			.ssh_port = m->port,
			.canary_port = m->canary_port,
			.console_path = spec->console_path,
		};
		domxml_domain(&xml, &ds);
		rc = snap ? vm_domain_restore(m->host->vm, snap->save_path, xml.buf) :
			vm_domain_start(m->host->vm, xml.buf);
		strbuf_release(&xml);
		if (rc == 0) {
			buildlog_event(spec->log, "machine %s %s, SSH forwarded from "
				       "127.0.0.1:%d", m->domain, snap ? "restored" : "started",
				       m->port);
			return 0;
		}
		if (mf_error_class() != MF_E_CONFLICT || attempt == BOOT_ATTEMPTS)
			return mf_error_class() == MF_E_CONFLICT ?
				mf_error(MF_E_INFRA, "%s", mf_error_msg()) : -1;
		/* Someone else bound a port first: try others. */
		buildlog_event(spec->log, "port %d or %d was taken, retrying", m->port,
			       m->canary_port);
		release_ports(m);
	}
}

static int wait_ready(struct machine *m, const struct machine_spec *spec, int timeout_s)
{
	struct ready_check rc = { m, spec->cancel };
	struct ready_opts ro = {
		.port = m->port,
		.canary_port = m->canary_port,
		.deadline_ms = mf_now_ms() + (int64_t)timeout_s * 1000,
		.check = ready_check,
		.arg = &rc,
	};
	int fd;

	if (ready_wait(&ro, &fd) < 0) {
		if (mf_error_class() == MF_E_TIMEOUT) {
			char *tail = console_tail(spec->console_path, 3);
			mf_error(MF_E_INFRA, "the guest did not answer SSH within %d s; last "
				 "console output: %s", timeout_s, tail);
			free(tail);
		} else if (mf_error_class() == MF_E_INFRA) {
			char *tail = console_tail(spec->console_path, 3);
			char *msg = xstrdup(mf_error_msg());
			mf_error(MF_E_INFRA, "%s; last console output: %s", msg, tail);
			free(msg);
			free(tail);
		}
		return -1;
	}
	buildlog_event(spec->log, "SSH banner received");
	struct guest_login login = spec->login;
	login.software_crypto = !m->host->kvm;
	if (guest_open(&m->guest, fd, &login, &m->host_key) < 0)
		return -1;
	buildlog_event(spec->log, "logged in as %s", login.user);
	return 0;
}

/* Runs the image's restore command: the guest's clock and random pool. */
static int after_restore(struct machine *m, const struct machine_spec *spec)
{
	struct strbuf cmd = STRBUF_INIT;
	unsigned char raw[32];
	char seed[65];
	int status = 0;

	if (!spec->restore_command)
		return 0;
	if (mf_random_bytes(raw, sizeof(raw)) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(seed + 2 * i, 3, "%02x", raw[i]);
	if (restore_template_expand(&cmd, spec->restore_command,
				    (long long)mf_wall_seconds(), seed) < 0 ||
	    guest_exec(m->guest, cmd.buf, NULL, &status) < 0) {
		strbuf_release(&cmd);
		return -1;
	}
	strbuf_release(&cmd);
	if (status != 0)
		return mf_error(MF_E_INFRA, "the restore command (clock and random seed) "
				"exited with status %d", status);
	buildlog_event(spec->log, "guest clock set and random pool reseeded");
	return 0;
}

/*
 * Destroys the domain, deletes the clone and releases the claims (the
 * clone stays, claimed, if keep_volume). -1 if something could not be removed.
 */
static int teardown(struct machine *m)
{
	int ret = 0;

	guest_close(m->guest);
	m->guest = NULL;
	if (m->domain_claimed) {
		if (vm_domain_destroy(m->host->vm, m->domain) < 0) {
			log_warnx("leaving domain '%s' in the ledger: %s", m->domain, mf_error_msg());
			ret = -1;
		} else {
			release(m, LEDGER_DOMAIN, m->domain);
			m->domain_claimed = 0;
		}
	}
	/* The domain is gone, and with its QEMU the ports. */
	if (ret == 0)
		release_ports(m);
	if (m->volume_claimed && !m->keep_volume) {
		if (ret < 0 || vm_volume_delete(m->host->vm, m->host->pool, m->volume) < 0) {
			if (ret == 0)
				log_warnx("leaving volume '%s' in the ledger: %s", m->volume,
					  mf_error_msg());
			ret = -1;
		} else {
			release(m, LEDGER_VOLUME, m->volume);
			m->volume_claimed = 0;
		}
	}
	free(m->disk_path);
	m->disk_path = NULL;
	free(m->host_key);
	m->host_key = NULL;
	return ret;
}

/*
 * Claims the first free snapshot slot and restores its machine. 1 when the
 * machine is up, 0 when no slot was free, -1 when the restore failed (the
 * caller tears down and boots cold).
 */
static int restore_up(struct machine *m, const struct machine_spec *spec)
{
	const struct machine_snap *snap = NULL;
	int64_t t = mf_now_ms();

	for (size_t i = 0; i < spec->nsnaps && !snap; i++) {
		const char *name = spec->snaps[i].domain;

		if (ledger_claim(m->db, LEDGER_DOMAIN, name, spec->build_id) < 0) {
			if (mf_error_class() != MF_E_CONFLICT)
				return -1;
			mf_error_clear();
			/*
			 * A restored machine has no auto-destroy: one whose owner
			 * died (vmctl killed with -9) still runs. Take it over and
			 * destroy it now rather than at the next process start.
			 */
			int adopted = ledger_adopt_orphan(m->db, LEDGER_DOMAIN, name);
			if (adopted < 0)
				return -1;
			if (adopted == 0)
				continue;
			if (vm_domain_destroy(m->host->vm, name) < 0)
				return -1;
			log_info("destroyed machine '%s', left running by a dead process", name);
		}
		snap = &spec->snaps[i];
	}
	if (!snap) {
		buildlog_event(spec->log, "every snapshot slot is in use: booting cold");
		return 0;
	}
	free(m->domain);
	m->domain = xstrdup(snap->domain);
	m->domain_claimed = 1;
	if (clone_volume(m, spec, snap->layer_path) < 0)
		return -1;
	phase_done(spec, "clone", t);
	t = mf_now_ms();
	if (boot_domain(m, spec, snap) < 0)
		return -1;
	phase_done(spec, "restore", t);
	t = mf_now_ms();
	/* A restored guest's sshd already listens: it answers at once or never. */
	if (wait_ready(m, spec, spec->boot_timeout_s < 60 ? spec->boot_timeout_s : 60) < 0 ||
	    after_restore(m, spec) < 0)
		return -1;
	phase_done(spec, "ready", t);
	m->restored = 1;
	return 1;
}

int machine_up(struct host *h, struct db *db, const struct machine_spec *spec,
	       struct machine **out)
{
	struct machine *m = xcalloc(1, sizeof(*m));
	int64_t t;

	*out = m;
	m->host = h;
	m->db = db;
	m->log = spec->log;
	m->domain = host_domain_name(h, spec->tag);
	m->volume = xasprintf("%s.qcow2", spec->tag);
	m->console_path = xstrdup(spec->console_path);

	if (spec->nsnaps) {
		int rc = restore_up(m, spec);

		if (rc == 1)
			return 0;
		if (rc < 0) {
			if (mf_error_class() == MF_E_INTERRUPTED)
				return -1;
			m->restore_error = xstrdup(mf_error_msg());
			buildlog_event(spec->log, "restore failed, booting cold: %s",
				       m->restore_error);
			if (teardown(m) < 0)
				return mf_error_wrap("after a failed restore");
			free(m->domain);
			m->domain = host_domain_name(h, spec->tag);
		}
	}

	t = mf_now_ms();
	if (clone_volume(m, spec, spec->golden_path) < 0)
		return mf_error_wrap("clone");
	phase_done(spec, "clone", t);

	t = mf_now_ms();
	if (boot_domain(m, spec, NULL) < 0)
		return mf_error_wrap("boot");
	phase_done(spec, "boot", t);

	t = mf_now_ms();
	if (wait_ready(m, spec, spec->boot_timeout_s) < 0)
		return mf_error_class() == MF_E_INTERRUPTED ? -1 : mf_error_wrap("ready");
	phase_done(spec, "ready", t);
	return 0;
}

/* Waits for the domain to use less than a fifth of a CPU for a second. */
static void wait_idle(struct machine *m, int max_s)
{
	int64_t deadline = mf_now_ms() + (int64_t)max_s * 1000;
	uint64_t prev = 0, now;
	int quiet = 0;

	if (vm_domain_cpu_ns(m->host->vm, m->domain, &prev) < 0)
		goto fail;
	while (mf_now_ms() < deadline) {
		mf_sleep_ms(500);
		if (vm_domain_cpu_ns(m->host->vm, m->domain, &now) < 0)
			goto fail;
		quiet = now - prev < 100000000ull ? quiet + 1 : 0;
		prev = now;
		if (quiet == 2) {
			buildlog_event(m->log, "guest idle");
			return;
		}
	}
	buildlog_event(m->log, "guest still busy after %d s; saving anyway", max_s);
	return;
fail:
	log_warnx("%s", mf_error_msg());
	mf_error_clear();
}

int machine_save(struct machine *m, const char *save_path, int idle_wait_s)
{
	/* Its sshd session ends before the save, so no restore inherits it. */
	guest_close(m->guest);
	m->guest = NULL;
	wait_idle(m, idle_wait_s);
	if (ledger_claim(m->db, LEDGER_FILE, save_path, 0) < 0)
		return -1;
	if (vm_domain_save(m->host->vm, m->domain, save_path) < 0) {
		if (unlink(save_path) == 0 || errno == ENOENT)
			release(m, LEDGER_FILE, save_path);
		return -1;
	}
	/* The domain stopped; its clone is now the snapshot's disk layer. */
	m->keep_volume = 1;
	buildlog_event(m->log, "machine %s saved to %s", m->domain, save_path);
	return 0;
}


int machine_down(struct machine *m)
{
	int ret;

	if (!m)
		return 0;
	ret = teardown(m);
	if (ret == 0)
		buildlog_event(m->log, m->keep_volume ? "machine %s stopped, clone kept" :
			       "machine %s destroyed, clone deleted", m->domain);
	free(m->domain);
	free(m->volume);
	free(m->console_path);
	free(m->host_key);
	free(m->restore_error);
	free(m);
	return ret;
}
