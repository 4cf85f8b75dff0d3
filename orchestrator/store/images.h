/*
 * images.h - golden image records in the state database.
 *
 * An image is an immutable qcow2 volume in Mayfly's storage pool
 * ("golden-NAME.qcow2") plus what it takes to build with it: the SSH login,
 * the pinned host key, the build command template and the machine's size.
 * Builds clone the volume, never write it. Registering and retiring images
 * (import, smoke boot, volume removal) is images/images.h.
 */
#ifndef MAYFLY_STORE_IMAGES_H
#define MAYFLY_STORE_IMAGES_H

#include <stddef.h>
#include <stdint.h>

struct db;

enum disk_bus { DISK_BUS_SATA, DISK_BUS_IDE, DISK_BUS_VIRTIO };

const char *disk_bus_name(enum disk_bus bus);
int disk_bus_parse(const char *s, enum disk_bus *out);

#define IMAGE_DEFAULT_USER "user"
#define IMAGE_DEFAULT_PACKAGES_DIR "/boot/home/haikuports/packages"
/*
 * HaikuPorter builds only the named ports by default since 1.2.0 (its
 * --no-dependencies option is gone); --ignore-messages and -y keep recipes
 * from waiting for a keyboard, --no-package-obsoletion keeps it from
 * moving packages (inputs among them) into packages/.obsolete.
 */
#define IMAGE_DEFAULT_BUILD_COMMAND \
	"haikuporter --ignore-messages --no-package-obsoletion -y {recipes}"
#define IMAGE_DEFAULT_TREE_PATH "/boot/home/haikuports"
/* Where a Haiku image keeps its system packages (read at image add). */
#define IMAGE_SYSTEM_PACKAGES_DIR "/boot/system/packages"
#define IMAGE_DEFAULT_HAIKUPORTER "haikuporter"
#define IMAGE_DEFAULT_TARGET_ARCH "x86_64"
#define IMAGE_DEFAULT_MEMORY_MIB 2048
#define IMAGE_DEFAULT_VCPUS 2

struct image_settings {
	char *ssh_user;
	char *ssh_key;		/* path of the key copy in STATE/keys */
	char *build_command;	/* template, see template.h (recipe-name builds) */
	char *packages_dir;	/* the guest's PACKAGES_PATH */
	int memory_mib;
	int vcpus;
	enum disk_bus disk_bus;
	int boot_timeout;	/* seconds */
	/* As a HaikuPorter builder (builds of a ports tree at a commit): */
	char *tree_path;	/* the guest's TREE_PATH */
	char *haikuporter;	/* its path on the guest */
	char *haikuporter_args;	/* extra arguments, a shell fragment checked like a template */
	char *target_arch;	/* TARGET_ARCHITECTURE */
	char *secondary_arches;	/* SECONDARY_TARGET_ARCHITECTURES, space-separated */
	int no_system_packages;	/* pass --no-system-packages (buildmaster does) */
	/*
	 * Run over SSH right after a machine is restored from a booted
	 * snapshot (template: {epoch}, {seed}); NULL for the default.
	 */
	char *restore_command;
	int warm;		/* machines mayflyd keeps ready ahead of demand */
};

/*
 * Sets the clock of a guest restored from a snapshot and mixes fresh host
 * randomness into its pool. date -s @N is understood by coreutils (Haiku)
 * and busybox (the test guest); writing to /dev/urandom mixes data in on
 * Linux and on Haiku. The command fails only if the clock cannot be set.
 */
#define IMAGE_DEFAULT_RESTORE_COMMAND \
	"date -u -s @{epoch} >/dev/null && { echo {seed} >/dev/urandom; true; }"

struct image {
	char *name;
	char *volume;		/* libvirt volume name */
	char *path;		/* golden volume path */
	char *source;		/* the file it was imported from */
	char *sha256;		/* of that file */
	char *format;		/* of that file: raw or qcow2 */
	uint64_t virtual_size;
	char *host_key;		/* pinned, "TYPE BASE64" */
	char *tree_commit;	/* the commit the golden's ports tree is checked out at, or NULL */
	int64_t created;	/* seconds since the epoch */
	struct image_settings settings;
	int boot_failures;	/* consecutive machines that did not come up */
	char *quarantined;	/* why builds are refused, or NULL */
	/* Booted snapshots (images/snapshot.h): */
	int snapshot_slots;	/* how many there are */
	int64_t restores;	/* machines restored from one */
	int64_t restore_fallbacks; /* restores that failed and booted cold instead */
	int restore_failures;	/* consecutive failed restores */
	char *snapshot_disabled; /* why snapshots are not used, or NULL */
};

void image_free(struct image *img);
void image_settings_release(struct image_settings *s);

/* Looks an image up; MF_E_USAGE naming the known images when unknown. */
int images_get(struct db *db, const char *name, struct image **out);
/* All images by name; free with images_list_free(). */
int images_list(struct db *db, struct image ***out, size_t *n);
void images_list_free(struct image **v, size_t n);
/* Inserts a record (MF_E_USAGE if the name is taken). */
int images_insert(struct db *db, const struct image *img);
/*
 * Records whether a machine of the image came up (ok) or not. threshold
 * consecutive failures quarantine the image: builds of it are refused
 * (MF_E_CONFLICT) until images_clear(). Returns 1 if this call
 * quarantined it.
 */
int images_boot_result(struct db *db, const char *name, int ok, int threshold,
		       const char *why);
/* Lifts a quarantine and forgets the failures. */
int images_clear(struct db *db, const char *name);
/* MF_E_CONFLICT with the reason when the image is quarantined. */
int images_check_usable(const struct image *img);
/*
 * Deletes the record, inside a transaction the caller holds (so that no
 * build is claimed between the check and the delete). Refused (MF_E_USAGE,
 * naming the builds) while a live build of the image runs, or builds of
 * it wait in the queue: they would never run.
 */
int images_delete_unused(struct db *db, const char *name);

/*
 * Records a restore from a snapshot: ok, or failed (the machine was booted
 * cold instead). threshold consecutive failures disable the image's
 * snapshots with why until images_snapshot_enable(). Returns 1 if this
 * call disabled them.
 */
int images_restore_result(struct db *db, const char *name, int ok, int threshold,
			  const char *why);
/* Forgets failures and the disabled state (a new snapshot was made). */
int images_snapshot_enable(struct db *db, const char *name);
/* Sets how many machines mayflyd keeps ready for the image. */
int images_set_warm(struct db *db, const char *name, int warm);

#endif
