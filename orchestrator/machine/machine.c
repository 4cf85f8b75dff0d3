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

static int clone_volume(struct machine *m, const struct machine_spec *spec)
{
	if (ledger_claim(m->db, LEDGER_VOLUME, m->volume, spec->build_id) < 0)
		return -1;
	m->volume_claimed = 1;
	return vm_volume_overlay(m->host->vm, m->host->pool, m->volume, spec->golden_path,
				 spec->capacity, &m->disk_path);
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

static int boot_domain(struct machine *m, const struct machine_spec *spec)
{
	int fd;

	/* An empty console file that libvirt can hand to QEMU's user. */
	fd = open(spec->console_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return mf_error_errno(MF_E_INFRA, "cannot create '%s'", spec->console_path);
	close(fd);
	if (ledger_claim(m->db, LEDGER_DOMAIN, m->domain, spec->build_id) < 0)
		return -1;
	m->domain_claimed = 1;
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
		rc = vm_domain_start(m->host->vm, xml.buf);
		strbuf_release(&xml);
		if (rc == 0) {
			buildlog_event(spec->log, "machine %s started, SSH forwarded from "
				       "127.0.0.1:%d", m->domain, m->port);
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

static int wait_ready(struct machine *m, const struct machine_spec *spec)
{
	struct ready_check rc = { m, spec->cancel };
	struct ready_opts ro = {
		.port = m->port,
		.canary_port = m->canary_port,
		.deadline_ms = mf_now_ms() + (int64_t)spec->boot_timeout_s * 1000,
		.check = ready_check,
		.arg = &rc,
	};
	int fd;

	if (ready_wait(&ro, &fd) < 0) {
		if (mf_error_class() == MF_E_TIMEOUT) {
			char *tail = console_tail(spec->console_path, 3);
			mf_error(MF_E_INFRA, "the guest did not answer SSH within %d s (boot "
				 "timeout); last console output: %s", spec->boot_timeout_s, tail);
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

	t = mf_now_ms();
	if (clone_volume(m, spec) < 0)
		return mf_error_wrap("clone");
	phase_done(spec, "clone", t);

	t = mf_now_ms();
	if (boot_domain(m, spec) < 0)
		return mf_error_wrap("boot");
	phase_done(spec, "boot", t);

	t = mf_now_ms();
	if (wait_ready(m, spec) < 0)
		return mf_error_class() == MF_E_INTERRUPTED ? -1 : mf_error_wrap("ready");
	phase_done(spec, "ready", t);
	return 0;
}

/* Releases a ledger claim; a failure here is logged, the resource is gone. */
static void release(struct machine *m, const char *kind, const char *name)
{
	if (ledger_release(m->db, kind, name) < 0)
		log_warnx("%s", mf_error_msg());
}

int machine_down(struct machine *m)
{
	int ret = 0;

	if (!m)
		return 0;
	guest_close(m->guest);
	m->guest = NULL;
	if (m->domain_claimed) {
		if (vm_domain_destroy(m->host->vm, m->domain) < 0) {
			log_warnx("leaving domain '%s' in the ledger: %s", m->domain, mf_error_msg());
			ret = -1;
		} else {
			release(m, LEDGER_DOMAIN, m->domain);
		}
	}
	/* The domain is gone, and with its QEMU the ports. */
	if (ret == 0)
		release_ports(m);
	if (m->volume_claimed) {
		if (ret < 0 || vm_volume_delete(m->host->vm, m->host->pool, m->volume) < 0) {
			if (ret == 0)
				log_warnx("leaving volume '%s' in the ledger: %s", m->volume,
					  mf_error_msg());
			ret = -1;
		} else {
			release(m, LEDGER_VOLUME, m->volume);
		}
	}
	if (ret == 0)
		buildlog_event(m->log, "machine %s destroyed, clone deleted", m->domain);
	free(m->domain);
	free(m->volume);
	free(m->disk_path);
	free(m->console_path);
	free(m->host_key);
	free(m);
	return ret;
}
