/* domxml.c - see domxml.h. */
#include "machine/domxml.h"

#include <stdio.h>
#include <string.h>

static void element(struct strbuf *out, const char *indent, const char *tag, const char *text)
{
	strbuf_addf(out, "%s<%s>", indent, tag);
	strbuf_add_xml(out, text);
	strbuf_addf(out, "</%s>\n", tag);
}

void domxml_domain(struct strbuf *out, const struct domspec *s)
{
	static const char *const target[] = { "sda", "hda", "vda" };
	char netdev[128];

	strbuf_addf(out, "<domain type='%s' "
		    "xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n",
		    s->kvm ? "kvm" : "qemu");
	element(out, "  ", "name", s->name);
	if (s->uuid)
		element(out, "  ", "uuid", s->uuid);
	strbuf_addf(out, "  <memory unit='MiB'>%d</memory>\n", s->memory_mib);
	strbuf_addf(out, "  <vcpu>%d</vcpu>\n", s->vcpus);
	strbuf_addstr(out, "  <os>\n"
			   "    <type arch='x86_64' machine='pc'>hvm</type>\n"
			   "    <boot dev='hd'/>\n"
			   "  </os>\n"
			   "  <features><acpi/><apic/></features>\n");
	if (s->kvm)
		strbuf_addstr(out, "  <cpu mode='host-passthrough'/>\n");
	strbuf_addstr(out, "  <clock offset='utc'/>\n"
			   "  <on_poweroff>destroy</on_poweroff>\n"
			   "  <on_reboot>destroy</on_reboot>\n"
			   "  <on_crash>destroy</on_crash>\n"
			   "  <devices>\n");
	/* The overlay is thrown away after the build: no flushes needed. */
	strbuf_addstr(out, "    <disk type='file' device='disk'>\n"
			   "      <driver name='qemu' type='qcow2' cache='unsafe'/>\n"
			   "      <source file='");
	strbuf_add_xml(out, s->disk_path);
	strbuf_addf(out, "'/>\n      <target dev='%s' bus='%s'/>\n    </disk>\n",
		    target[s->disk_bus], disk_bus_name(s->disk_bus));
	strbuf_addstr(out, "    <serial type='file'>\n      <source path='");
	strbuf_add_xml(out, s->console_path);
	strbuf_addstr(out, "'/>\n      <target port='0'/>\n    </serial>\n");
	/* Entropy, so that a guest's sshd need not wait for its random pool. */
	strbuf_addstr(out, "    <rng model='virtio'><backend model='random'>/dev/urandom"
			   "</backend></rng>\n"
			   "    <video><model type='vga'/></video>\n"
			   "    <memballoon model='none'/>\n"
			   "  </devices>\n");
	/*
	 * libvirt 9.0 cannot forward a port on user networking, so the NIC is
	 * passed to QEMU directly: an e1000 on a user network that reaches
	 * nothing outside (restrict=on), with the guest's SSH port (and a closed
	 * canary port, see ready.h) forwarded to 127.0.0.1 only. The fixed PCI
	 * slot keeps it clear of the SATA controller's; romfile= skips the PXE
	 * ROM.
	 */
	snprintf(netdev, sizeof(netdev),
		 "user,id=mfnet0,restrict=on,hostfwd=tcp:127.0.0.1:%d-:22", s->ssh_port);
	if (s->canary_port)
		snprintf(netdev + strlen(netdev), sizeof(netdev) - strlen(netdev),
			 ",hostfwd=tcp:127.0.0.1:%d-:9", s->canary_port);
	strbuf_addstr(out, "  <qemu:commandline>\n"
			   "    <qemu:arg value='-netdev'/>\n    <qemu:arg value='");
	strbuf_add_xml(out, netdev);
	strbuf_addstr(out, "'/>\n    <qemu:arg value='-device'/>\n"
			   "    <qemu:arg value='e1000,netdev=mfnet0,bus=pci.0,addr=0x10,romfile='/>\n"
			   "  </qemu:commandline>\n"
			   "</domain>\n");
}

void domxml_overlay_volume(struct strbuf *out, const char *name, uint64_t capacity,
			   const char *backing_path)
{
	strbuf_addstr(out, "<volume type='file'>\n");
	element(out, "  ", "name", name);
	strbuf_addf(out, "  <capacity unit='bytes'>%llu</capacity>\n"
			 "  <target><format type='qcow2'/><permissions><mode>0600</mode>"
			 "</permissions></target>\n"
			 "  <backingStore>\n    <path>",
		    (unsigned long long)capacity);
	strbuf_add_xml(out, backing_path);
	strbuf_addstr(out, "</path>\n    <format type='qcow2'/>\n  </backingStore>\n</volume>\n");
}

void domxml_qcow2_volume(struct strbuf *out, const char *name, uint64_t capacity)
{
	strbuf_addstr(out, "<volume type='file'>\n");
	element(out, "  ", "name", name);
	strbuf_addf(out, "  <capacity unit='bytes'>%llu</capacity>\n"
			 "  <target><format type='qcow2'/><permissions><mode>0644</mode>"
			 "</permissions></target>\n</volume>\n",
		    (unsigned long long)capacity);
}

void domxml_dir_pool(struct strbuf *out, const char *name, const char *dir)
{
	strbuf_addstr(out, "<pool type='dir'>\n");
	element(out, "  ", "name", name);
	strbuf_addstr(out, "  <target>\n");
	element(out, "    ", "path", dir);
	strbuf_addstr(out, "  </target>\n</pool>\n");
}
