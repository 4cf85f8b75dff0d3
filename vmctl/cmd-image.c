/* cmd-image.c - vmctl image list, image show, image rm. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "images/images.h"
#include "store/snapshots.h"
#include "common/crypto.h"
#include "store/state.h"
#include "json/report.h"
#include "common/util.h"
#include "vmctl/vmctl.h"

int cmd_image_list(const struct vmctl_cmd *cmd, int argc, char **argv)
{
	struct vmctl_env *env = NULL;
	struct image **v = NULL;
	size_t n = 0;
	int json, status = 0;

	if (vmctl_json_flag(cmd, argc, argv, &json, &status) < 0)
		return status;
	if (optind != argc)
		return vmctl_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (vmctl_open(&env) < 0 || images_list(env->state->db, &v, &n) < 0) {
		status = vmctl_fail();
		goto out;
	}
	if (json) {
		char *s = report_images_json(v, n);
		fputs(s, stdout);
		free(s);
		goto out;
	}
	if (n == 0) {
		printf("no images (add one with 'vmctl image add NAME DISK')\n");
		goto out;
	}
	printf("%-20s %-6s %10s  %-20s  %s\n", "NAME", "FORMAT", "SIZE", "CREATED", "HOST KEY");
	for (size_t i = 0; i < n; i++) {
		char size[32], created[32], *fp = ssh_key_fingerprint(v[i]->host_key);
		mf_format_size(v[i]->virtual_size, size);
		mf_rfc3339(v[i]->created, created);
		printf("%-20s %-6s %10s  %-20s  %s\n", v[i]->name, v[i]->format, size, created, fp);
		free(fp);
	}
out:
	images_list_free(v, n);
	vmctl_close(env);
	return status;
}

static void print_snapshots(struct vmctl_env *env, const struct image *img)
{
	struct snapshot *v = NULL;
	size_t n = 0;

	if (snapshots_list(env->state->db, img->name, &v, &n) < 0) {
		log_warnx("%s", mf_error_msg());
		return;
	}
	printf("snapshots:     %zu slot%s; %lld restore%s, %lld fell back to a cold boot%s%s\n",
	       n, n == 1 ? "" : "s", (long long)img->restores, img->restores == 1 ? "" : "s",
	       (long long)img->restore_fallbacks, img->snapshot_disabled ? "; DISABLED: " : "",
	       img->snapshot_disabled ? img->snapshot_disabled : "");
	for (size_t i = 0; i < n; i++) {
		char created[32], mem[32], layer[32];

		mf_rfc3339(v[i].created, created);
		mf_format_size((uint64_t)v[i].save_bytes, mem);
		mf_format_size((uint64_t)v[i].layer_bytes, layer);
		printf("  slot %d: memory %s, disk layer %s, made %s\n", v[i].slot, mem, layer,
		       created);
	}
	snapshots_free(v, n);
}

int cmd_image_show(const struct vmctl_cmd *cmd, int argc, char **argv)
{
	struct vmctl_env *env = NULL;
	struct image *img = NULL;
	int json, status = 0;

	if (vmctl_json_flag(cmd, argc, argv, &json, &status) < 0)
		return status;
	if (argc - optind != 1)
		return vmctl_usage(cmd, "expected one image name");
	if (vmctl_open(&env) < 0 || images_get(env->state->db, argv[optind], &img) < 0) {
		status = vmctl_fail();
		goto out;
	}
	if (json) {
		char *s = report_image_json(img);
		fputs(s, stdout);
		free(s);
		goto out;
	}
	const struct image_settings *s = &img->settings;
	char size[32], created[32], *fp = ssh_key_fingerprint(img->host_key);
	mf_format_size(img->virtual_size, size);
	mf_rfc3339(img->created, created);
	printf("name:          %s\n"
	       "path:          %s\n"
	       "source:        %s\n"
	       "sha256:        %s\n"
	       "format:        %s\n"
	       "virtual_size:  %s (%llu bytes)\n"
	       "host_key:      %s\n"
	       "               %s\n"
	       "created:       %s\n"
	       "settings:\n"
	       "  ssh_user:      %s\n"
	       "  ssh_key:       %s\n"
	       "  build_command: %s\n"
	       "  packages_dir:  %s\n"
	       "  memory:        %d MiB\n"
	       "  vcpus:         %d\n"
	       "  disk_bus:      %s\n"
	       "  boot_timeout:  %d s\n"
	       "  tree_path:     %s (%s)\n"
	       "  haikuporter:   %s%s%s%s\n"
	       "  target_arch:   %s%s%s\n",
	       img->name, img->path, img->source, img->sha256, img->format, size,
	       (unsigned long long)img->virtual_size, fp, img->host_key, created, s->ssh_user,
	       s->ssh_key, s->build_command, s->packages_dir, s->memory_mib, s->vcpus,
	       disk_bus_name(s->disk_bus), s->boot_timeout, s->tree_path,
	       img->tree_commit ? img->tree_commit : "not a git checkout", s->haikuporter,
	       *s->haikuporter_args ? " " : "", s->haikuporter_args,
	       s->no_system_packages ? " --no-system-packages" : "", s->target_arch,
	       *s->secondary_arches ? ", secondary: " : "", s->secondary_arches);
	printf("  restore_command: %s\n"
	       "  warm:          %d\n",
	       s->restore_command ? s->restore_command : IMAGE_DEFAULT_RESTORE_COMMAND, s->warm);
	print_snapshots(env, img);
	free(fp);
out:
	image_free(img);
	vmctl_close(env);
	return status;
}

/* An image command whose only argument is the name: rm, clear. */
static int on_named_image(const struct vmctl_cmd *cmd, int argc, char **argv,
			  int (*action)(struct vmctl_env *, const char *), const char *done)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vmctl_env *env = NULL;
	int c, status = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h')
			return vmctl_help(cmd, NULL);
		return vmctl_usage(cmd, "unknown option");
	}
	if (argc - optind != 1)
		return vmctl_usage(cmd, "expected one image name");
	if (vmctl_open(&env) < 0 || action(env, argv[optind]) < 0)
		status = vmctl_fail();
	else
		printf("image '%s' %s\n", argv[optind], done);
	vmctl_close(env);
	return status;
}

static int remove_image(struct vmctl_env *env, const char *name)
{
	struct image *img = NULL;

	/* An unknown name is bad input, whatever libvirt's state. */
	if (images_get(env->state->db, name, &img) < 0)
		return -1;
	image_free(img);
	if (vmctl_host(env) < 0)
		return -1;
	return image_remove(env->host, env->state, name);
}

static int clear_image(struct vmctl_env *env, const char *name)
{
	return images_clear(env->state->db, name);
}

int cmd_image_rm(const struct vmctl_cmd *cmd, int argc, char **argv)
{
	return on_named_image(cmd, argc, argv, remove_image, "removed");
}

int cmd_image_clear(const struct vmctl_cmd *cmd, int argc, char **argv)
{
	return on_named_image(cmd, argc, argv, clear_image,
			      "cleared: builds of it are accepted again");
}

static void snapshot_progress(void *payload, const char *step, int64_t ms)
{
	(void)payload;
	vmctl_progress(step, ms);
}

int cmd_image_snapshot(const struct vmctl_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "slots", required_argument, NULL, 's' },
		{ "remove", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vmctl_env *env = NULL;
	struct image *img = NULL;
	int c, slots = 0, remove = 0, status = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (vmctl_parse_int(cmd, "--slots", optarg, 1, 64, &slots) < 0)
				return 2;
			break;
		case 'r': remove = 1; break;
		case 'h': return vmctl_help(cmd, NULL);
		default: return vmctl_usage(cmd, "unknown option");
		}
	}
	if (argc - optind != 1)
		return vmctl_usage(cmd, "expected one image name");
	if (remove && slots)
		return vmctl_usage(cmd, "--remove takes no --slots");
	if (vmctl_open(&env) < 0 || images_get(env->state->db, argv[optind], &img) < 0 ||
	    vmctl_host(env) < 0) {
		status = vmctl_fail();
		goto out;
	}
	if (remove) {
		if (image_warm_check(img) < 0 ||
		    image_snapshot_drop(env->host, env->state, img->name) < 0)
			status = vmctl_fail();
		else
			printf("image '%s': snapshots removed; builds boot cold\n", img->name);
		goto out;
	}
	/* One slot per machine mayflyd may run at once, unless told. */
	struct image_snapshot_opts so = {
		.name = img->name,
		.slots = slots ? slots : env->cfg.max_vms,
		.cancel = &vmctl_cancel,
		.progress = snapshot_progress,
	};
	if (image_snapshot(env->host, env->state, &so) < 0)
		status = vmctl_fail();
	else
		printf("image '%s': %d snapshot slot%s made\n", img->name, so.slots,
		       so.slots == 1 ? "" : "s");
out:
	image_free(img);
	vmctl_close(env);
	return status;
}

int cmd_image_warm(const struct vmctl_cmd *cmd, int argc, char **argv)
{
	struct vmctl_env *env = NULL;
	int n = 0, status = 0;

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		return vmctl_help(cmd, NULL);
	if (argc != 3)
		return vmctl_usage(cmd, "expected an image name and a number of machines");
	if (vmctl_parse_int(cmd, "the number of warm machines", argv[2], 0, 64, &n) < 0)
		return 2;
	if (vmctl_open(&env) < 0 || images_set_warm(env->state->db, argv[1], n) < 0)
		status = vmctl_fail();
	else
		printf("image '%s': mayflyd keeps %d machine%s ready\n", argv[1], n,
		       n == 1 ? "" : "s");
	vmctl_close(env);
	return status;
}
