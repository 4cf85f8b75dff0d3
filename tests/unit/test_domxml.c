/*
 * test_domxml.c - the libvirt XML of build machines, volumes and pools.
 *
 * Every document is checked with plain string searches; when libxml2 is
 * available (HAVE_LIBXML2) it is also parsed, which proves it well formed
 * and lets XPath read escaped values back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/domxml.h"
#include "common/strbuf.h"

#ifdef HAVE_LIBXML2
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#endif

#define QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"

static void assert_has(const char *xml, const char *needle)
{
	if (!strstr(xml, needle))
		fail_msg("XML does not contain '%s':\n%s", needle, xml ? xml : "(null)");
}

static void assert_lacks(const char *xml, const char *needle)
{
	if (strstr(xml, needle))
		fail_msg("XML unexpectedly contains '%s':\n%s", needle, xml ? xml : "(null)");
}

static size_t count_of(const char *xml, const char *needle)
{
	size_t n = 0;

	for (const char *p = xml; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

#ifdef HAVE_LIBXML2
struct xdoc {
	xmlDocPtr doc;
	xmlXPathContextPtr ctx;
};

static void xdoc_parse(struct xdoc *x, const char *xml)
{
	x->doc = xmlReadMemory(xml, (int)strlen(xml), "test.xml", NULL,
			       XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!x->doc)
		fail_msg("not well-formed XML:\n%s", xml);
	x->ctx = xmlXPathNewContext(x->doc);
	assert_non_null(x->ctx);
	assert_int_equal(xmlXPathRegisterNs(x->ctx, BAD_CAST "qemu", BAD_CAST QEMU_NS), 0);
}

static void xdoc_free(struct xdoc *x)
{
	xmlXPathFreeContext(x->ctx);
	xmlFreeDoc(x->doc);
}

/* The string value of an XPath expression; caller frees. */
static char *xpath_string(struct xdoc *x, const char *expr)
{
	char *wrapped, *s;
	xmlXPathObjectPtr o;

	wrapped = malloc(strlen(expr) + 16);
	assert_non_null(wrapped);
	sprintf(wrapped, "string(%s)", expr);
	o = xmlXPathEvalExpression(BAD_CAST wrapped, x->ctx);
	free(wrapped);
	assert_non_null(o);
	assert_int_equal(o->type, XPATH_STRING);
	s = strdup((const char *)o->stringval);
	assert_non_null(s);
	xmlXPathFreeObject(o);
	return s;
}

static int xpath_count(struct xdoc *x, const char *expr)
{
	char *wrapped;
	xmlXPathObjectPtr o;
	int n;

	wrapped = malloc(strlen(expr) + 16);
	assert_non_null(wrapped);
	sprintf(wrapped, "count(%s)", expr);
	o = xmlXPathEvalExpression(BAD_CAST wrapped, x->ctx);
	free(wrapped);
	assert_non_null(o);
	assert_int_equal(o->type, XPATH_NUMBER);
	n = (int)o->floatval;
	xmlXPathFreeObject(o);
	return n;
}

static void assert_xpath(struct xdoc *x, const char *expr, const char *want)
{
	char *got = xpath_string(x, expr);

	if (strcmp(got, want) != 0)
		fail_msg("%s is '%s', expected '%s'", expr, got, want);
	free(got);
}
#endif

static const struct domspec base_spec = {
	.name = "mayfly-3fa9c0d1-b42",
	.kvm = 0,
	.memory_mib = 2048,
	.vcpus = 2,
	.disk_path = "/var/lib/mayfly/pool/b42.qcow2",
	.disk_bus = DISK_BUS_SATA,
	.ssh_port = 40022,
	.console_path = "/var/lib/mayfly/builds/42/console.log",
};

static char *domain_xml(const struct domspec *spec)
{
	struct strbuf sb = STRBUF_INIT;

	domxml_domain(&sb, spec);
	return strbuf_detach(&sb);
}

static void test_domain_tcg(void **state)
{
	char *xml = domain_xml(&base_spec);

	assert_true(strncmp(xml, "<domain type='qemu'", 19) == 0);
	assert_has(xml, "<name>mayfly-3fa9c0d1-b42</name>");
	assert_has(xml, "<memory unit='MiB'>2048</memory>");
	assert_has(xml, "<vcpu>2</vcpu>");
	assert_lacks(xml, "host-passthrough");
	assert_lacks(xml, "<cpu");
	assert_lacks(xml, "type='kvm'");
	assert_lacks(xml, "<uuid>");
#ifdef HAVE_LIBXML2
	struct xdoc x;
	xdoc_parse(&x, xml);
	assert_xpath(&x, "/domain/@type", "qemu");
	assert_xpath(&x, "/domain/name", "mayfly-3fa9c0d1-b42");
	assert_xpath(&x, "/domain/memory", "2048");
	assert_xpath(&x, "/domain/memory/@unit", "MiB");
	assert_xpath(&x, "/domain/vcpu", "2");
	assert_int_equal(xpath_count(&x, "/domain/cpu"), 0);
	assert_xpath(&x, "/domain/os/type/@arch", "x86_64");
	xdoc_free(&x);
#endif
	free(xml);
}

/* A restore must repeat the saved domain's UUID. */
static void test_domain_uuid(void **state)
{
	struct domspec spec = base_spec;
	char *xml;

	spec.uuid = "6f1c9e52-0d4b-4c47-9b8e-2b1f3c7a9d10";
	xml = domain_xml(&spec);
	assert_has(xml, "<name>mayfly-3fa9c0d1-b42</name>\n  <uuid>6f1c9e52-0d4b-4c47-9b8e-"
		   "2b1f3c7a9d10</uuid>");
	free(xml);
}

static void test_domain_kvm(void **state)
{
	struct domspec spec = base_spec;
	char *xml;

	spec.kvm = 1;
	spec.memory_mib = 4096;
	spec.vcpus = 8;
	xml = domain_xml(&spec);
	assert_true(strncmp(xml, "<domain type='kvm'", 18) == 0);
	assert_has(xml, "<cpu mode='host-passthrough'/>");
	assert_has(xml, "<memory unit='MiB'>4096</memory>");
	assert_has(xml, "<vcpu>8</vcpu>");
#ifdef HAVE_LIBXML2
	struct xdoc x;
	xdoc_parse(&x, xml);
	assert_xpath(&x, "/domain/@type", "kvm");
	assert_xpath(&x, "/domain/cpu/@mode", "host-passthrough");
	assert_int_equal(xpath_count(&x, "/domain/cpu"), 1);
	xdoc_free(&x);
#endif
	free(xml);
}

static void check_bus(enum disk_bus bus, const char *dev, const char *name)
{
	struct domspec spec = base_spec;
	char want[128], *xml;

	spec.disk_bus = bus;
	xml = domain_xml(&spec);
	snprintf(want, sizeof(want), "<target dev='%s' bus='%s'/>", dev, name);
	assert_has(xml, want);
	assert_has(xml, "<source file='/var/lib/mayfly/pool/b42.qcow2'/>");
	assert_has(xml, "<driver name='qemu' type='qcow2'");
#ifdef HAVE_LIBXML2
	struct xdoc x;
	xdoc_parse(&x, xml);
	assert_int_equal(xpath_count(&x, "/domain/devices/disk"), 1);
	assert_xpath(&x, "/domain/devices/disk/target/@dev", dev);
	assert_xpath(&x, "/domain/devices/disk/target/@bus", name);
	assert_xpath(&x, "/domain/devices/disk/driver/@type", "qcow2");
	assert_xpath(&x, "/domain/devices/disk/source/@file", "/var/lib/mayfly/pool/b42.qcow2");
	xdoc_free(&x);
#endif
	free(xml);
}

static void test_domain_disk_bus(void **state)
{
	check_bus(DISK_BUS_SATA, "sda", "sata");
	check_bus(DISK_BUS_IDE, "hda", "ide");
	check_bus(DISK_BUS_VIRTIO, "vda", "virtio");
}

static void test_domain_network(void **state)
{
	struct domspec spec = base_spec;
	char *xml;

	spec.ssh_port = 2222;
	xml = domain_xml(&spec);
	/* No libvirt-managed NIC: the only one is the restricted QEMU netdev. */
	assert_lacks(xml, "<interface");
	assert_has(xml, "xmlns:qemu='" QEMU_NS "'");
	assert_has(xml, "<qemu:arg value='-netdev'/>");
	assert_has(xml, "hostfwd=tcp:127.0.0.1:2222-:22");
	assert_has(xml, "restrict=on");
	assert_has(xml, "e1000,netdev=mfnet0,bus=pci.0,addr=0x10");
	assert_lacks(xml, "0.0.0.0");
	assert_int_equal(count_of(xml, "hostfwd="), 1);
#ifdef HAVE_LIBXML2
	struct xdoc x;
	xdoc_parse(&x, xml);
	assert_int_equal(xpath_count(&x, "//interface"), 0);
	assert_int_equal(xpath_count(&x, "/domain/qemu:commandline/qemu:arg"), 4);
	assert_xpath(&x, "/domain/qemu:commandline/qemu:arg[1]/@value", "-netdev");
	assert_xpath(&x, "/domain/qemu:commandline/qemu:arg[2]/@value",
		     "user,id=mfnet0,restrict=on,hostfwd=tcp:127.0.0.1:2222-:22");
	assert_xpath(&x, "/domain/qemu:commandline/qemu:arg[3]/@value", "-device");
	{
		char *dev = xpath_string(&x, "/domain/qemu:commandline/qemu:arg[4]/@value");
		assert_true(strncmp(dev, "e1000,", 6) == 0);
		assert_non_null(strstr(dev, "netdev=mfnet0"));
		assert_non_null(strstr(dev, "bus=pci.0"));
		assert_non_null(strstr(dev, "addr=0x10"));
		free(dev);
	}
	xdoc_free(&x);
#endif
	free(xml);
}

static void test_domain_console(void **state)
{
	char *xml = domain_xml(&base_spec);

	assert_has(xml, "<serial type='file'>");
	assert_has(xml, "<source path='/var/lib/mayfly/builds/42/console.log'/>");
	assert_has(xml, "<on_reboot>destroy</on_reboot>");
#ifdef HAVE_LIBXML2
	struct xdoc x;
	xdoc_parse(&x, xml);
	assert_xpath(&x, "/domain/devices/serial/@type", "file");
	assert_xpath(&x, "/domain/devices/serial/source/@path",
		     "/var/lib/mayfly/builds/42/console.log");
	xdoc_free(&x);
#endif
	free(xml);
}

static void test_domain_escaping(void **state)
{
	struct domspec spec = base_spec;
	const char *name = "b&<x>'\"";
	const char *disk = "/tmp/a&b/<c>/'d'/\"e\".qcow2";
	const char *console = "/tmp/it's \"console\" & <log>";
	char *xml;

	spec.name = name;
	spec.disk_path = disk;
	spec.console_path = console;
	xml = domain_xml(&spec);
	assert_has(xml, "<name>b&amp;&lt;x&gt;&apos;&quot;</name>");
	assert_has(xml, "<source file='/tmp/a&amp;b/&lt;c&gt;/&apos;d&apos;/&quot;e&quot;.qcow2'/>");
	assert_has(xml, "<source path='/tmp/it&apos;s &quot;console&quot; &amp; &lt;log&gt;'/>");
	assert_lacks(xml, "a&b");
	assert_lacks(xml, "<c>");
#ifdef HAVE_LIBXML2
	struct xdoc x;
	xdoc_parse(&x, xml);
	assert_xpath(&x, "/domain/name", name);
	assert_xpath(&x, "/domain/devices/disk/source/@file", disk);
	assert_xpath(&x, "/domain/devices/serial/source/@path", console);
	xdoc_free(&x);
#endif
	free(xml);
}

static void test_overlay_volume(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	const char *xml;

	domxml_overlay_volume(&sb, "b42.qcow2", 21474836480ULL,
			      "/var/lib/mayfly/pool/golden-haiku & co.qcow2");
	xml = strbuf_str(&sb);
	assert_has(xml, "<name>b42.qcow2</name>");
	assert_has(xml, "<capacity unit='bytes'>21474836480</capacity>");
	assert_has(xml, "<backingStore>");
	assert_has(xml, "<path>/var/lib/mayfly/pool/golden-haiku &amp; co.qcow2</path>");
	assert_int_equal(count_of(xml, "<format type='qcow2'/>"), 2);
#ifdef HAVE_LIBXML2
	struct xdoc x;
	xdoc_parse(&x, xml);
	assert_xpath(&x, "/volume/name", "b42.qcow2");
	assert_xpath(&x, "/volume/capacity", "21474836480");
	assert_xpath(&x, "/volume/capacity/@unit", "bytes");
	assert_xpath(&x, "/volume/target/format/@type", "qcow2");
	assert_xpath(&x, "/volume/backingStore/path",
		     "/var/lib/mayfly/pool/golden-haiku & co.qcow2");
	assert_xpath(&x, "/volume/backingStore/format/@type", "qcow2");
	xdoc_free(&x);
#endif
	strbuf_release(&sb);
}

static void test_qcow2_volume(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	const char *xml;

	domxml_qcow2_volume(&sb, "golden-<haiku>.qcow2", 1024);
	xml = strbuf_str(&sb);
	assert_has(xml, "<name>golden-&lt;haiku&gt;.qcow2</name>");
	assert_has(xml, "<capacity unit='bytes'>1024</capacity>");
	assert_lacks(xml, "backingStore");
#ifdef HAVE_LIBXML2
	struct xdoc x;
	xdoc_parse(&x, xml);
	assert_xpath(&x, "/volume/name", "golden-<haiku>.qcow2");
	assert_xpath(&x, "/volume/target/format/@type", "qcow2");
	xdoc_free(&x);
#endif
	strbuf_release(&sb);
}

static void test_dir_pool(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	const char *xml;

	domxml_dir_pool(&sb, "mayfly-3fa9c0d1", "/srv/state & more/pool");
	xml = strbuf_str(&sb);
	assert_true(strncmp(xml, "<pool type='dir'>", 17) == 0);
	assert_has(xml, "<name>mayfly-3fa9c0d1</name>");
	assert_has(xml, "<path>/srv/state &amp; more/pool</path>");
#ifdef HAVE_LIBXML2
	struct xdoc x;
	xdoc_parse(&x, xml);
	assert_xpath(&x, "/pool/@type", "dir");
	assert_xpath(&x, "/pool/name", "mayfly-3fa9c0d1");
	assert_xpath(&x, "/pool/target/path", "/srv/state & more/pool");
	xdoc_free(&x);
#endif
	strbuf_release(&sb);
}

static void test_appends(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, "<!-- head -->\n");
	domxml_dir_pool(&sb, "p", "/d");
	assert_true(strncmp(strbuf_str(&sb), "<!-- head -->\n<pool", 19) == 0);
	strbuf_release(&sb);
}

static void test_disk_bus_names(void **state)
{
	static const enum disk_bus all[] = { DISK_BUS_SATA, DISK_BUS_IDE, DISK_BUS_VIRTIO };
	enum disk_bus b;

	assert_string_equal(disk_bus_name(DISK_BUS_SATA), "sata");
	assert_string_equal(disk_bus_name(DISK_BUS_IDE), "ide");
	assert_string_equal(disk_bus_name(DISK_BUS_VIRTIO), "virtio");
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		b = (enum disk_bus)-1;
		assert_int_equal(disk_bus_parse(disk_bus_name(all[i]), &b), 0);
		assert_int_equal(b, all[i]);
	}
	b = DISK_BUS_IDE;
	assert_int_equal(disk_bus_parse("scsi", &b), -1);
	assert_int_equal(b, DISK_BUS_IDE);
	assert_int_equal(disk_bus_parse("", &b), -1);
	assert_int_equal(disk_bus_parse("SATA", &b), -1);
	assert_int_equal(disk_bus_parse("sata ", &b), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_domain_tcg),
		cmocka_unit_test(test_domain_kvm),
		cmocka_unit_test(test_domain_disk_bus),
		cmocka_unit_test(test_domain_network),
		cmocka_unit_test(test_domain_console),
		cmocka_unit_test(test_domain_escaping),
		cmocka_unit_test(test_overlay_volume),
		cmocka_unit_test(test_qcow2_volume),
		cmocka_unit_test(test_domain_uuid),
		cmocka_unit_test(test_dir_pool),
		cmocka_unit_test(test_appends),
		cmocka_unit_test(test_disk_bus_names),
	};
	int ret;

	ret = cmocka_run_group_tests(tests, NULL, NULL);
#ifdef HAVE_LIBXML2
	xmlCleanupParser();
#endif
	return ret;
}
