/*
 * registry.h - the golden image registry.
 *
 * An image is an immutable qcow2 volume in Mayfly's storage pool
 * ("golden-NAME.qcow2") plus what it takes to build with it: the SSH login,
 * the pinned host key, the build command template and the machine's size.
 * Records live in the state database; builds clone the volume, never
 * write it.
 */
#ifndef MAYFLY_REGISTRY_H
#define MAYFLY_REGISTRY_H

#include <stddef.h>
#include <signal.h>
#include <stdint.h>

#include "machine/domxml.h"

struct mf_ctx;

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
#define IMAGE_DEFAULT_MEMORY_MIB 2048
#define IMAGE_DEFAULT_VCPUS 2

struct image_settings {
	char *ssh_user;
	char *ssh_key;		/* path of the key copy in STATE/keys */
	char *build_command;	/* template, see template.h */
	char *packages_dir;
	int memory_mib;
	int vcpus;
	enum disk_bus disk_bus;
	int boot_timeout;	/* seconds */
};

struct image {
	char *name;
	char *volume;		/* libvirt volume name */
	char *path;		/* golden volume path */
	char *source;		/* the file it was imported from */
	char *sha256;		/* of that file */
	char *format;		/* of that file: raw or qcow2 */
	uint64_t virtual_size;
	char *host_key;		/* pinned, "TYPE BASE64" */
	int64_t created;	/* seconds since the epoch */
	struct image_settings settings;
	int boot_failures;	/* consecutive machines that did not come up */
	char *quarantined;	/* why builds are refused, or NULL */
};

void image_free(struct image *img);
void image_settings_release(struct image_settings *s);

/* Looks an image up; MF_E_USAGE naming the known images when unknown. */
int registry_get(struct mf_ctx *ctx, const char *name, struct image **out);
/* All images by name; free with registry_list_free(). */
int registry_list(struct mf_ctx *ctx, struct image ***out, size_t *n);
void registry_list_free(struct image **v, size_t n);
/*
 * Records whether a machine of the image came up (ok) or not. threshold
 * consecutive failures quarantine the image: builds of it are refused
 * (MF_E_CONFLICT) until registry_clear(). Returns 1 if this call
 * quarantined it.
 */
int registry_boot_result(struct mf_ctx *ctx, const char *name, int ok, int threshold,
			 const char *why);
/* Lifts a quarantine and forgets the failures. */
int registry_clear(struct mf_ctx *ctx, const char *name);
/* MF_E_CONFLICT with the reason when the image is quarantined. */
int registry_check_usable(const struct image *img);

/* Inserts a record (MF_E_USAGE if the name is taken). */
int registry_insert(struct mf_ctx *ctx, const struct image *img);
/*
 * Removes an image: its record, its golden volume and its key copy.
 * Refused while a build of this process or another uses it.
 */
int registry_remove(struct mf_ctx *ctx, const char *name);

struct image_add_opts {
	const char *name;
	const char *disk;	/* raw or qcow2 file */
	const char *ssh_user;
	const char *ssh_key;
	const char *host_key_file; /* NULL: record whatever the smoke boot sees */
	const char *build_command;
	const char *packages_dir;
	int memory_mib;
	int vcpus;
	enum disk_bus disk_bus;
	int boot_timeout;
	volatile sig_atomic_t *cancel; /* set to stop (e.g. from a signal handler) */
	/* Progress lines for the user (may be NULL). */
	void (*progress)(void *payload, const char *step, int64_t ms);
	void *payload;
};

/*
 * Imports a disk as a golden image: checks the inputs, copies the disk into
 * the pool as qcow2, boots one linked clone, logs in and pins the host key.
 * On any failure nothing is registered and nothing is left behind.
 */
int registry_add(struct mf_ctx *ctx, const struct image_add_opts *opts, struct image **out);

#endif
