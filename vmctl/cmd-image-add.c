/* cmd-image-add.c - vmctl image add: register a golden image. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "images/images.h"
#include "common/crypto.h"
#include "common/error.h"
#include "json/report.h"
#include "vmctl/vmctl.h"

static const char help[] =
	"  --ssh-user USER         login user (default: " IMAGE_DEFAULT_USER ")\n"
	"  --ssh-key FILE          private key that logs in (default: ~/.ssh/id_ed25519);\n"
	"                          a copy is kept in the state directory\n"
	"  --host-key FILE.pub     the guest's SSH host key; the add fails if the guest\n"
	"                          presents another (default: pin what it presents)\n"
	"  --build-command TEMPLATE  shell command with {recipes} and {packages_dir}\n"
	"                          (default: " IMAGE_DEFAULT_BUILD_COMMAND ")\n"
	"  --packages-dir DIR      where the guest's packages appear\n"
	"                          (default: " IMAGE_DEFAULT_PACKAGES_DIR ")\n"
	"  --memory MIB            guest memory (default: 2048)\n"
	"  --vcpus N               guest CPUs (default: 2)\n"
	"  --disk-bus BUS          sata, ide or virtio (default: sata)\n"
	"  --boot-timeout SECONDS  time for SSH to answer (default: boot_timeout setting)\n"
	"As a HaikuPorter builder (vmctl build --tree):\n"
	"  --tree-path DIR         the guest's ports tree (default: " IMAGE_DEFAULT_TREE_PATH ")\n"
	"  --haikuporter PATH      haikuporter on the guest (default: haikuporter)\n"
	"  --haikuporter-args ARGS extra arguments for it (words of letters, digits, _=.,/:+@-)\n"
	"  --target-arch ARCH      TARGET_ARCHITECTURE (default: " IMAGE_DEFAULT_TARGET_ARCH ")\n"
	"  --secondary-arches 'A B'  SECONDARY_TARGET_ARCHITECTURES (default: none)\n"
	"  --system-packages       let haikuporter use the guest's system packages (without\n"
	"                          it, --no-system-packages, as buildmaster runs it)\n"
	"Booted snapshots and warm machines:\n"
	"  --snapshot-slots N      make N booted memory snapshots after the add (one boot\n"
	"                          each); builds restore one instead of booting cold\n"
	"  --restore-command TEMPLATE  run after a restore, with {epoch} and {seed}\n"
	"                          (default: " IMAGE_DEFAULT_RESTORE_COMMAND ")\n"
	"  --warm N                machines mayflyd keeps booted and ready (default: 0)\n"
	"  --json                  print the new image as JSON\n";

static void progress(void *payload, const char *step, int64_t ms)
{
	vmctl_progress(step, ms);
}

int cmd_image_add(const struct vmctl_cmd *cmd, int argc, char **argv)
{
	enum { O_USER = 256, O_KEY, O_HOSTKEY, O_CMD, O_PKGDIR, O_MEM, O_CPUS, O_BUS, O_BOOT,
	       O_JSON, O_TREE, O_HP, O_HPARGS, O_ARCH, O_SECARCH, O_SYSPKG, O_SLOTS, O_RESTORE,
	       O_WARM };
	static const struct option opts[] = {
		{ "ssh-user", required_argument, NULL, O_USER },
		{ "ssh-key", required_argument, NULL, O_KEY },
		{ "host-key", required_argument, NULL, O_HOSTKEY },
		{ "build-command", required_argument, NULL, O_CMD },
		{ "packages-dir", required_argument, NULL, O_PKGDIR },
		{ "memory", required_argument, NULL, O_MEM },
		{ "vcpus", required_argument, NULL, O_CPUS },
		{ "disk-bus", required_argument, NULL, O_BUS },
		{ "boot-timeout", required_argument, NULL, O_BOOT },
		{ "tree-path", required_argument, NULL, O_TREE },
		{ "haikuporter", required_argument, NULL, O_HP },
		{ "haikuporter-args", required_argument, NULL, O_HPARGS },
		{ "target-arch", required_argument, NULL, O_ARCH },
		{ "secondary-arches", required_argument, NULL, O_SECARCH },
		{ "system-packages", no_argument, NULL, O_SYSPKG },
		{ "snapshot-slots", required_argument, NULL, O_SLOTS },
		{ "restore-command", required_argument, NULL, O_RESTORE },
		{ "warm", required_argument, NULL, O_WARM },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct image_add_opts o = { .cancel = &vmctl_cancel, .progress = progress };
	struct vmctl_env *env = NULL;
	struct image *img = NULL;
	int c, json = 0, status = 0, slots = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_USER: o.ssh_user = optarg; break;
		case O_KEY: o.ssh_key = optarg; break;
		case O_HOSTKEY: o.host_key_file = optarg; break;
		case O_CMD: o.build_command = optarg; break;
		case O_PKGDIR: o.packages_dir = optarg; break;
		case O_MEM:
			if (vmctl_parse_int(cmd, "--memory", optarg, 64, 1 << 20, &o.memory_mib) < 0)
				return 2;
			break;
		case O_CPUS:
			if (vmctl_parse_int(cmd, "--vcpus", optarg, 1, 64, &o.vcpus) < 0)
				return 2;
			break;
		case O_BUS:
			if (disk_bus_parse(optarg, &o.disk_bus) < 0)
				return vmctl_usage(cmd, "--disk-bus must be sata, ide or virtio, not "
						   "'%s'", optarg);
			break;
		case O_BOOT:
			if (vmctl_parse_int(cmd, "--boot-timeout", optarg, 1, 86400,
					    &o.boot_timeout) < 0)
				return 2;
			break;
		case O_JSON: json = 1; break;
		case O_TREE: o.tree_path = optarg; break;
		case O_HP: o.haikuporter = optarg; break;
		case O_HPARGS: o.haikuporter_args = optarg; break;
		case O_ARCH: o.target_arch = optarg; break;
		case O_SECARCH: o.secondary_arches = optarg; break;
		case O_SYSPKG: o.system_packages = 1; break;
		case O_SLOTS:
			if (vmctl_parse_int(cmd, "--snapshot-slots", optarg, 0, 64, &slots) < 0)
				return 2;
			break;
		case O_RESTORE: o.restore_command = optarg; break;
		case O_WARM:
			if (vmctl_parse_int(cmd, "--warm", optarg, 0, 64, &o.warm) < 0)
				return 2;
			break;
		case 'h': return vmctl_help(cmd, help);
		default: return vmctl_usage(cmd, "unknown option");
		}
	}
	if (argc - optind != 2)
		return vmctl_usage(cmd, "expected NAME and DISK");
	o.name = argv[optind];
	o.disk = argv[optind + 1];
	if (vmctl_open(&env) < 0) {
		status = vmctl_fail();
		goto out;
	}
	if (!o.boot_timeout)
		o.boot_timeout = env->cfg.boot_timeout;
	/* Bad input is reported as such before libvirt is asked anything. */
	if (image_add_check(env->state, &o) < 0 || vmctl_host(env) < 0 ||
	    image_add(env->host, env->state, &o, &img) < 0) {
		status = vmctl_fail();
		goto out;
	}
	if (slots > 0) {
		struct image_snapshot_opts so = {
			.name = img->name,
			.slots = slots,
			.cancel = &vmctl_cancel,
			.progress = progress,
		};
		/* The image stays registered if this fails: it boots cold. */
		if (image_snapshot(env->host, env->state, &so) < 0) {
			mf_error_wrap("image '%s' was added, but its snapshots were not made "
				      "(builds boot cold; retry with 'vmctl image snapshot %s')",
				      img->name, img->name);
			status = vmctl_fail();
			goto out;
		}
	}
	if (json) {
		char *s = report_image_json(img);
		fputs(s, stdout);
		free(s);
	} else {
		char *fp = ssh_key_fingerprint(img->host_key);
		printf("image '%s' added; host key %s pinned\n", img->name, fp);
		free(fp);
	}
out:
	image_free(img);
	vmctl_close(env);
	return status;
}
