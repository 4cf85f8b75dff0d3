/* vm.c - see vm.h. */
#include "machine/vm.h"

#include <libgen.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/domxml.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "common/util.h"

struct vm_conn {
	virConnectPtr conn;
	char *uri;
};

static void quiet_handler(void *data, virErrorPtr err)
{
	/* Errors are collected with virGetLastError(), not printed. */
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_libvirt(void)
{
	virInitialize();
	virSetErrorFunc(NULL, quiet_handler);
}

static int virt_code(void)
{
	virErrorPtr e = virGetLastError();

	return e ? e->code : VIR_ERR_OK;
}

/* Sets the Mayfly error from libvirt's last error. Returns -1. */
static int virt_fail(const char *fmt, ...) MF_PRINTF(1, 2);
static int virt_fail(const char *fmt, ...)
{
	const char *msg = virGetLastErrorMessage();
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return mf_error(MF_E_INFRA, "%s: %s", what, msg ? msg : "unknown libvirt error");
}

int vm_connect(struct vm_conn **out, const char *uri)
{
	struct vm_conn *c;
	virConnectPtr conn;

	*out = NULL;
	pthread_once(&init_once, init_libvirt);
	conn = virConnectOpen(uri);
	if (!conn) {
		virt_fail("cannot connect to libvirt at '%s'", uri);
		return mf_error_wrap("(is libvirtd running? as root: libvirtd -d && virtlogd -d)");
	}
	c = xcalloc(1, sizeof(*c));
	c->conn = conn;
	c->uri = xstrdup(uri);
	*out = c;
	return 0;
}

void vm_disconnect(struct vm_conn *c)
{
	if (!c)
		return;
	virConnectClose(c->conn);
	free(c->uri);
	free(c);
}

static virStoragePoolPtr pool_lookup(struct vm_conn *c, const char *pool)
{
	virStoragePoolPtr p = virStoragePoolLookupByName(c->conn, pool);

	if (!p)
		virt_fail("storage pool '%s' is not available", pool);
	return p;
}

int vm_pool_ensure(struct vm_conn *c, const char *pool, const char *dir)
{
	struct strbuf xml = STRBUF_INIT;
	virStoragePoolPtr p;
	int ret = 0;

	p = virStoragePoolLookupByName(c->conn, pool);
	if (p) {
		if (virStoragePoolIsActive(p) != 1 && virStoragePoolCreate(p, 0) < 0)
			ret = virt_fail("cannot start storage pool '%s'", pool);
		else if (virStoragePoolRefresh(p, 0) < 0)
			ret = virt_fail("cannot refresh storage pool '%s'", pool);
		virStoragePoolFree(p);
		return ret;
	}
	/* A transient pool: it leaves no definition behind in libvirt. */
	domxml_dir_pool(&xml, pool, dir);
	p = virStoragePoolCreateXML(c->conn, xml.buf, 0);
	if (!p) {
		/* Another process may have created it at the same moment. */
		p = virStoragePoolLookupByName(c->conn, pool);
		if (!p)
			ret = virt_fail("cannot create storage pool '%s'", pool);
	}
	if (p)
		virStoragePoolFree(p);
	strbuf_release(&xml);
	return ret;
}

int vm_pool_stop(struct vm_conn *c, const char *pool)
{
	virStoragePoolPtr p = virStoragePoolLookupByName(c->conn, pool);
	int ret = 0;

	if (!p)
		return 0;
	if (virStoragePoolIsActive(p) == 1 && virStoragePoolDestroy(p) < 0)
		ret = virt_fail("cannot stop storage pool '%s'", pool);
	virStoragePoolFree(p);
	return ret;
}

int vm_pool_stop_if_empty(struct vm_conn *c, const char *pool)
{
	virStoragePoolPtr p = virStoragePoolLookupByName(c->conn, pool);
	int n, ret;

	if (!p)
		return 0;
	virStoragePoolRefresh(p, 0);
	n = virStoragePoolNumOfVolumes(p);
	virStoragePoolFree(p);
	if (n != 0)
		return 0;
	ret = vm_pool_stop(c, pool);
	return ret < 0 ? -1 : 1;
}

static virStorageVolPtr find_source_volume(struct vm_conn *c, const char *src_path,
					   const char *import_pool, virStoragePoolPtr *tmp_pool)
{
	struct strbuf xml = STRBUF_INIT;
	virStorageVolPtr v;
	char *dircopy = NULL, *basecopy = NULL;

	*tmp_pool = NULL;
	v = virStorageVolLookupByPath(c->conn, src_path);
	if (v)
		return v;
	/* Not in any pool: show libvirt its directory through a transient pool. */
	dircopy = xstrdup(src_path);
	basecopy = xstrdup(src_path);
	domxml_dir_pool(&xml, import_pool, dirname(dircopy));
	*tmp_pool = virStoragePoolCreateXML(c->conn, xml.buf, 0);
	if (!*tmp_pool) {
		virt_fail("cannot read the directory of '%s' through libvirt", src_path);
		goto out;
	}
	v = virStorageVolLookupByName(*tmp_pool, basename(basecopy));
	if (!v)
		virt_fail("libvirt cannot see '%s'", src_path);
out:
	free(dircopy);
	free(basecopy);
	strbuf_release(&xml);
	return v;
}

int vm_volume_import(struct vm_conn *c, const char *pool, const char *src_path,
		     const char *import_pool, const char *vol, uint64_t capacity,
		     char **path_out)
{
	struct strbuf xml = STRBUF_INIT;
	virStoragePoolPtr p = NULL, tmp = NULL;
	virStorageVolPtr src = NULL, dst = NULL;
	int ret = -1;

	*path_out = NULL;
	if (!(p = pool_lookup(c, pool)))
		goto out;
	if (!(src = find_source_volume(c, src_path, import_pool, &tmp)))
		goto out;
	domxml_qcow2_volume(&xml, vol, capacity);
	dst = virStorageVolCreateXMLFrom(p, xml.buf, src, 0);
	if (!dst) {
		virt_fail("cannot copy '%s' into the storage pool", src_path);
		goto out;
	}
	*path_out = virStorageVolGetPath(dst);
	if (!*path_out) {
		virt_fail("cannot get the path of volume '%s'", vol);
		virStorageVolDelete(dst, 0);
		goto out;
	}
	ret = 0;
out:
	if (dst)
		virStorageVolFree(dst);
	if (src)
		virStorageVolFree(src);
	if (tmp) {
		virStoragePoolDestroy(tmp);
		virStoragePoolFree(tmp);
	}
	if (p)
		virStoragePoolFree(p);
	strbuf_release(&xml);
	return ret;
}

int vm_volume_overlay(struct vm_conn *c, const char *pool, const char *vol,
		      const char *backing_path, uint64_t capacity, char **path_out)
{
	struct strbuf xml = STRBUF_INIT;
	virStoragePoolPtr p;
	virStorageVolPtr v = NULL;
	int ret = -1;

	*path_out = NULL;
	if (!(p = pool_lookup(c, pool)))
		return -1;
	domxml_overlay_volume(&xml, vol, capacity, backing_path);
	v = virStorageVolCreateXML(p, xml.buf, 0);
	if (!v) {
		virt_fail("cannot create overlay volume '%s'", vol);
		goto out;
	}
	*path_out = virStorageVolGetPath(v);
	if (!*path_out) {
		virt_fail("cannot get the path of volume '%s'", vol);
		virStorageVolDelete(v, 0);
		goto out;
	}
	ret = 0;
out:
	if (v)
		virStorageVolFree(v);
	virStoragePoolFree(p);
	strbuf_release(&xml);
	return ret;
}

int vm_volume_delete(struct vm_conn *c, const char *pool, const char *vol)
{
	virStoragePoolPtr p;
	virStorageVolPtr v;
	int ret = 0;

	p = virStoragePoolLookupByName(c->conn, pool);
	if (!p)
		return virt_code() == VIR_ERR_NO_STORAGE_POOL ? 0 :
			virt_fail("cannot find storage pool '%s'", pool);
	v = virStorageVolLookupByName(p, vol);
	if (!v) {
		if (virt_code() != VIR_ERR_NO_STORAGE_VOL)
			ret = virt_fail("cannot find volume '%s'", vol);
	} else {
		if (virStorageVolDelete(v, 0) < 0)
			ret = virt_fail("cannot delete volume '%s'", vol);
		virStorageVolFree(v);
	}
	virStoragePoolFree(p);
	return ret;
}

int vm_volume_exists(struct vm_conn *c, const char *pool, const char *vol)
{
	virStoragePoolPtr p = virStoragePoolLookupByName(c->conn, pool);
	virStorageVolPtr v;

	if (!p)
		return 0;
	v = virStorageVolLookupByName(p, vol);
	virStoragePoolFree(p);
	if (!v)
		return 0;
	virStorageVolFree(v);
	return 1;
}

int vm_volume_list(struct vm_conn *c, const char *pool, char ***names)
{
	virStoragePoolPtr p;
	virStorageVolPtr *vols = NULL;
	char **v;
	int n;

	*names = NULL;
	p = virStoragePoolLookupByName(c->conn, pool);
	if (!p) {
		*names = xcalloc(1, sizeof(char *));
		return 0;
	}
	n = virStoragePoolListAllVolumes(p, &vols, 0);
	virStoragePoolFree(p);
	if (n < 0)
		return virt_fail("cannot list the volumes of pool '%s'", pool);
	v = xcalloc((size_t)n + 1, sizeof(char *));
	for (int i = 0; i < n; i++) {
		v[i] = xstrdup(virStorageVolGetName(vols[i]));
		virStorageVolFree(vols[i]);
	}
	free(vols);
	*names = v;
	return 0;
}

int vm_domain_start(struct vm_conn *c, const char *xml)
{
	virDomainPtr d = virDomainCreateXML(c->conn, xml, VIR_DOMAIN_START_AUTODESTROY);
	const char *msg;

	if (d) {
		virDomainFree(d);
		return 0;
	}
	msg = virGetLastErrorMessage();
	if (msg && strstr(msg, "host forwarding"))
		return mf_error(MF_E_CONFLICT, "cannot start the machine: %s", msg);
	return virt_fail("%s", "cannot start the machine");
}

int vm_domain_destroy(struct vm_conn *c, const char *name)
{
	virDomainPtr d = virDomainLookupByName(c->conn, name);
	int ret = 0;

	if (!d)
		return virt_code() == VIR_ERR_NO_DOMAIN ? 0 :
			virt_fail("cannot find domain '%s'", name);
	/* REMOVE_LOGS: libvirt's per-domain QEMU log goes with the machine. */
	if (virDomainDestroyFlags(d, VIR_DOMAIN_DESTROY_REMOVE_LOGS) < 0 &&
	    virt_code() != VIR_ERR_NO_DOMAIN && virt_code() != VIR_ERR_OPERATION_INVALID)
		ret = virt_fail("cannot destroy domain '%s'", name);
	/* A defined (persistent) domain of ours should not exist; remove it too. */
	if (ret == 0 && virDomainIsPersistent(d) == 1)
		virDomainUndefine(d);
	virDomainFree(d);
	return ret;
}

int vm_domain_running(struct vm_conn *c, const char *name)
{
	virDomainPtr d = virDomainLookupByName(c->conn, name);
	int active;

	if (!d)
		return 0;
	active = virDomainIsActive(d);
	virDomainFree(d);
	return active == 1;
}

int vm_domain_list(struct vm_conn *c, const char *prefix, char ***names)
{
	virDomainPtr *doms = NULL;
	size_t len = 0;
	char **v;
	int n;

	*names = NULL;
	n = virConnectListAllDomains(c->conn, &doms, 0);
	if (n < 0)
		return virt_fail("%s", "cannot list domains");
	v = xcalloc((size_t)n + 1, sizeof(char *));
	for (int i = 0; i < n; i++) {
		const char *name = virDomainGetName(doms[i]);
		if (name && !strncmp(name, prefix, strlen(prefix)))
			v[len++] = xstrdup(name);
		virDomainFree(doms[i]);
	}
	free(doms);
	*names = v;
	return 0;
}

int vm_domain_save(struct vm_conn *c, const char *name, const char *path)
{
	virDomainPtr d = virDomainLookupByName(c->conn, name);
	int ret = 0;

	if (!d)
		return virt_fail("cannot find domain '%s'", name);
	/* RUNNING: a restore resumes the guest rather than leaving it paused. */
	if (virDomainSaveFlags(d, path, NULL, VIR_DOMAIN_SAVE_RUNNING) < 0)
		ret = virt_fail("cannot save the memory of domain '%s' to '%s'", name, path);
	virDomainFree(d);
	return ret;
}

int vm_domain_restore(struct vm_conn *c, const char *path, const char *xml)
{
	const char *msg;

	if (virDomainRestoreFlags(c->conn, path, xml, VIR_DOMAIN_SAVE_RUNNING) == 0)
		return 0;
	msg = virGetLastErrorMessage();
	if (msg && strstr(msg, "host forwarding"))
		return mf_error(MF_E_CONFLICT, "cannot restore the machine: %s", msg);
	return virt_fail("cannot restore a machine from '%s'", path);
}

int vm_domain_cpu_ns(struct vm_conn *c, const char *name, uint64_t *ns)
{
	virDomainPtr d = virDomainLookupByName(c->conn, name);
	virDomainInfo info;
	int ret = 0;

	if (!d)
		return virt_fail("cannot find domain '%s'", name);
	if (virDomainGetInfo(d, &info) < 0)
		ret = virt_fail("cannot read the state of domain '%s'", name);
	else
		*ns = info.cpuTime;
	virDomainFree(d);
	return ret;
}
