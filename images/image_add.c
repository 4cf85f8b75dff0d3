/*
 * image_add.c - registering a golden image: check everything that can be
 * checked on the host, import the disk into the pool, boot one linked
 * clone to prove that it boots and takes the key, pin its host key, and
 * only then write the record. See images.h.
 */
#include "images/images.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "machine/host.h"
#include "store/db.h"
#include "machine/disk.h"
#include "common/error.h"
#include "machine/guest.h"
#include "store/ledger.h"
#include "common/log.h"
#include "machine/machine.h"
#include "common/crypto.h"
#include "store/state.h"
#include "common/names.h"
#include "common/template.h"
#include "common/util.h"
#include "machine/vm.h"
#include "pkg/hpkg.h"
#include "store/pkgindex.h"

struct add {
	struct host *host;	/* NULL while only checking */
	struct mf_state *st;
	const struct image_add_opts *o;
	struct image *img;
	char *key_src;		/* the key file as given */
	char *pinned;		/* from --host-key */
	char *import_pool;
	int volume_claimed, pool_claimed, volume_created, key_copied;
	/* The image's system packages, read during the smoke boot. */
	struct hpkg_info *sys;
	char **sys_paths;	/* where each is on the guest */
	int64_t *sys_sizes;
	size_t nsys;
};

static void progress(struct add *a, const char *step, int64_t start)
{
	if (a->o->progress)
		a->o->progress(a->o->payload, step, mf_now_ms() - start);
}

static void machine_progress(void *payload, const char *name, int64_t ms)
{
	struct add *a = payload;

	if (a->o->progress)
		a->o->progress(a->o->payload, name, ms);
}

static int check_range(const char *what, long v, long min, long max)
{
	if (v < min || v > max)
		return mf_error(MF_E_USAGE, "%s must be between %ld and %ld, not %ld", what, min,
				max, v);
	return 0;
}

static int read_host_key(const char *path, char **out)
{
	char *text = NULL;
	int ret;

	if (mf_read_file(path, 64 << 10, &text, NULL) < 0)
		return mf_error_wrap("--host-key");
	ret = guest_parse_public_key(text, out);
	free(text);
	if (ret < 0)
		return mf_error_wrap("--host-key '%s'", path);
	return 0;
}

/* Everything about the request that can be checked without libvirt. */
static int validate(struct add *a)
{
	const struct image_add_opts *o = a->o;
	struct image_settings *s = &a->img->settings;
	struct image *existing = NULL;
	struct stat st;

	if (image_name_check(o->name) < 0)
		return -1;
	/* Before hashing a large disk: could QEMU reach the pool at all? */
	if (mf_check_reachable(a->st->pool_dir) < 0)
		return -1;
	if (images_get(a->st->db, o->name, &existing) == 0) {
		image_free(existing);
		return mf_error(MF_E_USAGE, "image '%s' already exists (remove it first with "
				"'vmctl image rm %s')", o->name, o->name);
	}
	if (mf_error_class() != MF_E_USAGE)
		return -1;
	mf_error_clear();
	if (stat(o->disk, &st) < 0)
		return mf_error_errno(MF_E_USAGE, "disk '%s'", o->disk);
	if (!S_ISREG(st.st_mode))
		return mf_error(MF_E_USAGE, "disk '%s' is not a regular file", o->disk);
	if (!(a->img->source = mf_realpath(o->disk)))
		return -1;

	s->ssh_user = xstrdup(o->ssh_user ? o->ssh_user : IMAGE_DEFAULT_USER);
	if (!*s->ssh_user || strpbrk(s->ssh_user, " \t\n@:/"))
		return mf_error(MF_E_USAGE, "invalid SSH user '%s'", s->ssh_user);
	s->packages_dir = xstrdup(o->packages_dir ? o->packages_dir : IMAGE_DEFAULT_PACKAGES_DIR);
	if (s->packages_dir[0] != '/')
		return mf_error(MF_E_USAGE, "the packages directory must be an absolute path on "
				"the guest, not '%s'", s->packages_dir);
	s->build_command = xstrdup(o->build_command ? o->build_command :
						      IMAGE_DEFAULT_BUILD_COMMAND);
	s->tree_path = xstrdup(o->tree_path ? o->tree_path : IMAGE_DEFAULT_TREE_PATH);
	s->haikuporter = xstrdup(o->haikuporter ? o->haikuporter : IMAGE_DEFAULT_HAIKUPORTER);
	s->haikuporter_args = xstrdup(o->haikuporter_args ? o->haikuporter_args : "");
	s->target_arch = xstrdup(o->target_arch ? o->target_arch : IMAGE_DEFAULT_TARGET_ARCH);
	s->secondary_arches = xstrdup(o->secondary_arches ? o->secondary_arches : "");
	s->no_system_packages = !o->system_packages;
	if (s->tree_path[0] != '/')
		return mf_error(MF_E_USAGE, "the ports tree must be an absolute path on the guest, "
				"not '%s'", s->tree_path);
	if (guest_path_check("--tree-path", s->tree_path) < 0 ||
	    guest_path_check("--packages-dir", s->packages_dir) < 0 ||
	    guest_path_check("--haikuporter", s->haikuporter) < 0 ||
	    shell_words_check("--haikuporter-args", s->haikuporter_args) < 0 ||
	    arch_check("--target-arch", s->target_arch, 0) < 0 ||
	    arch_check("--secondary-arches", s->secondary_arches, 1) < 0)
		return -1;
	if (template_check(s->build_command) < 0)
		return mf_error_wrap("--build-command");
	s->restore_command = xstrdup_or_null(o->restore_command);
	if (s->restore_command && restore_template_check(s->restore_command) < 0)
		return mf_error_wrap("--restore-command");
	s->warm = o->warm;
	if (check_range("--warm", s->warm, 0, 64) < 0)
		return -1;
	s->memory_mib = o->memory_mib ? o->memory_mib : IMAGE_DEFAULT_MEMORY_MIB;
	s->vcpus = o->vcpus ? o->vcpus : IMAGE_DEFAULT_VCPUS;
	s->disk_bus = o->disk_bus;
	s->boot_timeout = o->boot_timeout;
	if (check_range("--memory (MiB)", s->memory_mib, 64, 1 << 20) < 0 ||
	    check_range("--vcpus", s->vcpus, 1, 64) < 0 ||
	    check_range("--boot-timeout (seconds)", s->boot_timeout, 1, 86400) < 0)
		return -1;

	if (o->ssh_key) {
		a->key_src = xstrdup(o->ssh_key);
	} else {
		const char *home = getenv("HOME");
		a->key_src = xasprintf("%s/.ssh/id_ed25519", home ? home : "/root");
		if (access(a->key_src, F_OK) < 0)
			return mf_error(MF_E_USAGE, "no SSH key given and %s does not exist; "
					"give one with --ssh-key FILE", a->key_src);
	}
	if (guest_check_private_key(a->key_src) < 0)
		return -1;
	if (o->host_key_file && read_host_key(o->host_key_file, &a->pinned) < 0)
		return -1;
	return 0;
}

static int inspect(struct add *a)
{
	struct disk_info info;
	char sha[SHA256_HEX_LEN];
	int64_t t = mf_now_ms();

	if (disk_probe(a->img->source, &info) < 0)
		return -1;
	if (info.has_backing_file)
		return mf_error(MF_E_USAGE, "'%s' is an overlay with a backing file; give a "
				"standalone image (qemu-img convert -O qcow2 it first)",
				a->img->source);
	a->img->format = xstrdup(info.format);
	a->img->virtual_size = info.virtual_size;
	progress(a, "inspect", t);
	t = mf_now_ms();
	if (sha256_file(a->img->source, sha, NULL) < 0)
		return -1;
	a->img->sha256 = xstrdup(sha);
	progress(a, "checksum", t);
	return 0;
}

static int import(struct add *a)
{
	struct mf_state *st = a->st;
	struct vm_conn *vm = a->host->vm;
	int64_t t = mf_now_ms();

	a->img->volume = xasprintf("golden-%s.qcow2", a->img->name);
	if (ledger_claim(st->db, LEDGER_VOLUME, a->img->volume, 0) < 0) {
		if (mf_error_class() == MF_E_CONFLICT)
			return mf_error(MF_E_USAGE, "image '%s' is being added by another process",
					a->img->name);
		return -1;
	}
	a->volume_claimed = 1;
	if (vm_volume_exists(vm, a->host->pool, a->img->volume))
		return mf_error(MF_E_INFRA, "volume '%s' already exists in pool '%s' but no "
				"image record names it; remove it with: virsh vol-delete --pool "
				"%s %s", a->img->volume, a->host->pool, a->host->pool,
				a->img->volume);
	a->import_pool = xasprintf("%s-import-%ld", a->host->pool, (long)getpid());
	if (ledger_claim(st->db, LEDGER_POOL, a->import_pool, 0) < 0)
		return -1;
	a->pool_claimed = 1;
	a->volume_created = 1; /* from here on, delete it on failure */
	if (vm_volume_import(vm, a->host->pool, a->img->source, a->import_pool, a->img->volume,
			     a->img->virtual_size, &a->img->path) < 0)
		return -1;
	/* Builds only ever read the golden volume. */
	if (chmod(a->img->path, 0444) < 0)
		log_warn("cannot make %s read-only", a->img->path);
	progress(a, "import", t);
	return 0;
}

static int copy_key(struct add *a)
{
	struct image_settings *s = &a->img->settings;

	s->ssh_key = xasprintf("%s/%s.key", a->st->keys_dir, a->img->name);
	if (mf_copy_file(a->key_src, s->ssh_key, 0600) < 0)
		return -1;
	a->key_copied = 1;
	return 0;
}

static int is_commit_id(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");

	return n == 40 && (s[n] == '\0' || s[n] == '\n' || s[n] == ' ');
}

/*
 * The commit the guest's ports tree is checked out at, read from its .git
 * (no git needed on the guest): HEAD, then the branch it names in refs/ or
 * packed-refs. *out stays NULL when the tree is not a git checkout.
 */
static int read_tree_commit(struct guest *g, const char *tree, char **out)
{
	char *path = xasprintf("%s/.git/HEAD", tree), *head = NULL, *ref = NULL;
	int rc, ret = -1;

	*out = NULL;
	rc = guest_read_file(g, path, 4096, &head, NULL);
	if (rc <= 0) {
		ret = rc;
		goto out;
	}
	if (is_commit_id(head)) {
		*out = xstrndup(head, 40);
	} else if (!strncmp(head, "ref: refs/", 10)) {
		head[strcspn(head, "\n")] = '\0';
		free(path);
		path = xasprintf("%s/.git/%s", tree, head + 5);
		if (guest_read_file(g, path, 4096, &ref, NULL) < 0)
			goto out;
		if (ref && is_commit_id(ref)) {
			*out = xstrndup(ref, 40);
		} else {
			free(ref);
			ref = NULL;
			free(path);
			path = xasprintf("%s/.git/packed-refs", tree);
			if (guest_read_file(g, path, 16 << 20, &ref, NULL) < 0)
				goto out;
			for (char *line = ref; line && *line; line += strcspn(line, "\n") +
								(line[strcspn(line, "\n")] != 0)) {
				size_t len = strcspn(line, "\n");
				if (len > 41 && is_commit_id(line) &&
				    (size_t)(len - 41) == strlen(head + 5) &&
				    !strncmp(line + 41, head + 5, len - 41)) {
					*out = xstrndup(line, 40);
					break;
				}
			}
		}
	}
	ret = 0;
out:
	free(path);
	free(head);
	free(ref);
	return ret;
}

/* Boots one linked clone: it must come up, take the key, and show its host key. */
/*
 * The attributes of the image's system packages, read on the guest (only
 * the chunks that hold them): builds are given these by a link, never an
 * upload, and resolution finds them after the package index's own.
 */
static int read_system_packages(struct add *a, struct guest *g)
{
	const char *dir = IMAGE_SYSTEM_PACKAGES_DIR;
	struct guest_file *files = NULL;
	size_t n = 0;
	int ret = -1;

	if (guest_check_dir(g, dir) < 0) {
		mf_error_clear();
		log_warnx("image '%s' has no %s: builds are given no system packages",
			  a->img->name, dir);
		return 0;
	}
	if (guest_list(g, dir, &files, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(files[i].name);
		if (l < 6 || strcmp(files[i].name + l - 5, ".hpkg"))
			continue;
		char *path = xasprintf("%s/%s", dir, files[i].name);
		char *label = xasprintf("guest:%s", path);
		struct guest_rfile *rf = NULL;
		struct hpkg_file f;
		uint64_t size = 0;
		int rc = guest_rfile_open(g, path, &rf, &size);
		if (rc == 0)
			rc = hpkg_read_with(guest_rfile_read, rf, size, label, &f);
		guest_rfile_close(rf);
		free(label);
		if (rc == 0 && f.kind != HPKG_PACKAGE) {
			hpkg_file_release(&f);
			rc = mf_error(MF_E_USAGE, "guest:%s is a repository file", path);
		}
		if (rc == 0) {
			char *canon = hpkg_file_name(&f.pkgs[0]);
			rc = package_file_check(canon);
			free(canon);
			if (rc < 0)
				hpkg_file_release(&f);
		}
		if (rc < 0) {
			free(path);
			mf_error_wrap("image '%s', system packages", a->img->name);
			goto out;
		}
		a->sys = xrealloc(a->sys, (a->nsys + 1) * sizeof(*a->sys));
		a->sys_paths = xrealloc(a->sys_paths, (a->nsys + 2) * sizeof(char *));
		a->sys_sizes = xrealloc(a->sys_sizes, (a->nsys + 1) * sizeof(int64_t));
		a->sys[a->nsys] = f.pkgs[0];
		a->sys_paths[a->nsys] = path;
		a->sys_sizes[a->nsys] = (int64_t)size;
		a->nsys++;
		a->sys_paths[a->nsys] = NULL;
		f.n_pkgs = 0;
		hpkg_file_release(&f);
	}
	ret = 0;
out:
	guest_files_free(files, n);
	return ret;
}

static int smoke_boot(struct add *a)
{
	struct image *img = a->img;
	char *tag = xasprintf("add-%s", img->name);
	char *logdir = xasprintf("%s/logs", a->st->dir);
	char *console = xasprintf("%s/image-add-%s.console.log", logdir, img->name);
	struct machine *m = NULL;
	int64_t t;
	int ret = -1;

	if (mf_mkdir_p(logdir, 0755) < 0)
		goto out;
	struct machine_spec spec = image_machine_spec(img, tag, console);
	spec.login.pinned_key = a->pinned; /* the image has none yet */
	spec.cancel = a->o->cancel;
	spec.phase = machine_progress;
	spec.payload = a;
	if (machine_up(a->host, a->st->db, &spec, &m) < 0) {
		mf_error_wrap("smoke boot (console log: %s)", console);
		goto down;
	}
	t = mf_now_ms();
	if (guest_check_dir(m->guest, img->settings.packages_dir) < 0) {
		mf_error(MF_E_USAGE, "the packages directory '%s' does not exist on the guest; "
			 "create it in the image or give --packages-dir",
			 img->settings.packages_dir);
		goto down;
	}
	/* A golden tree that is a checkout: builds send only the difference to it. */
	if (read_tree_commit(m->guest, img->settings.tree_path, &img->tree_commit) < 0)
		goto down;
	if (read_system_packages(a, m->guest) < 0)
		goto down;
	img->host_key = xstrdup(m->host_key);
	progress(a, "check", t);
	ret = 0;
down:
	t = mf_now_ms();
	if (machine_down(m) < 0)
		ret = -1;
	else if (ret == 0)
		progress(a, "destroy", t);
out:
	free(tag);
	free(logdir);
	free(console);
	return ret;
}

/* Undoes whatever a failed add created. */
static void undo(struct add *a)
{
	struct vm_conn *vm = a->host->vm;
	struct db *db = a->st->db;

	if (a->key_copied)
		unlink(a->img->settings.ssh_key);
	if (a->pool_claimed && vm_pool_stop(vm, a->import_pool) == 0)
		ledger_release(db, LEDGER_POOL, a->import_pool);
	if (a->volume_claimed) {
		if (!a->volume_created || vm_volume_delete(vm, a->host->pool, a->img->volume) == 0)
			ledger_release(db, LEDGER_VOLUME, a->img->volume);
		else
			log_warnx("could not delete volume '%s'; it stays in the ledger and is "
				  "removed by the next vmctl run", a->img->volume);
	}
	vm_pool_stop_if_empty(vm, a->host->pool);
}

static void add_release(struct add *a)
{
	free(a->key_src);
	free(a->pinned);
	free(a->import_pool);
	image_free(a->img);
	for (size_t i = 0; i < a->nsys; i++)
		hpkg_info_release(&a->sys[i]);
	free(a->sys);
	mf_strv_free(a->sys_paths);
	free(a->sys_sizes);
}

int image_add_check(struct mf_state *st, const struct image_add_opts *opts)
{
	struct add a = { .st = st, .o = opts };
	struct disk_info info;
	int ret;

	a.img = xcalloc(1, sizeof(*a.img));
	a.img->name = xstrdup(opts->name);
	ret = validate(&a) < 0 || disk_probe(a.img->source, &info) < 0 ? -1 : 0;
	add_release(&a);
	return ret;
}

int image_add(struct host *h, struct mf_state *st, const struct image_add_opts *opts,
	      struct image **out)
{
	struct add a = { .host = h, .st = st, .o = opts };
	int ret = -1;

	*out = NULL;
	a.img = xcalloc(1, sizeof(*a.img));
	a.img->name = xstrdup(opts->name);
	if (validate(&a) < 0 || inspect(&a) < 0)
		goto out;
	if (import(&a) < 0)
		goto fail;
	/* The import pool was only needed for the copy. */
	if (vm_pool_stop(h->vm, a.import_pool) == 0) {
		ledger_release(st->db, LEDGER_POOL, a.import_pool);
		a.pool_claimed = 0;
	}
	if (copy_key(&a) < 0 || smoke_boot(&a) < 0)
		goto fail;
	a.img->created = mf_wall_seconds();
	/* In one transaction, the record takes the volume over from the ledger. */
	if (db_begin(st->db) < 0)
		goto fail;
	char *origin = xasprintf("system:%s", a.img->name);
	int indexed = pkgindex_replace_origin(st->db, origin, a.sys, a.nsys, a.sys_paths,
					      a.sys_sizes, NULL);
	free(origin);
	if (indexed < 0 || images_insert(st->db, a.img) < 0 ||
	    ledger_release(st->db, LEDGER_VOLUME, a.img->volume) < 0 ||
	    db_commit(st->db) < 0) {
		db_rollback(st->db);
		goto fail;
	}
	*out = a.img;
	a.img = NULL;
	ret = 0;
	goto out;
fail:
	{
		/* Keep the error that made the add fail, whatever undo() says. */
		struct mf_error_saved e;

		mf_error_save(&e);
		undo(&a);
		mf_error_restore(&e);
	}
out:
	add_release(&a);
	return ret;
}
