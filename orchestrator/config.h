/*
 * config.h - Mayfly's settings: an INI-style file, then the environment.
 *
 *	# comments start with '#' (also after a value, following a space)
 *	[daemon]
 *	state_dir = /var/lib/mayfly
 *	libvirt_uri = qemu:///system
 *	accel = auto
 *	[limits]
 *	boot_timeout = 180
 *	build_timeout = 3600
 *
 * Errors name the file and line ("mayfly.conf:3: unknown key 'stat_dir' in
 * [daemon]; did you mean 'state_dir'?"); every error in a file is reported,
 * not just the first. MAYFLY_STATE_DIR, MAYFLY_LIBVIRT_URI and MAYFLY_ACCEL
 * override the file.
 */
#ifndef MAYFLY_CONFIG_H
#define MAYFLY_CONFIG_H

enum mf_accel { MF_ACCEL_AUTO, MF_ACCEL_KVM, MF_ACCEL_TCG };

#define MF_DEFAULT_CONFIG "/etc/mayfly/mayfly.conf"
#define MF_DEFAULT_STATE_DIR "/var/lib/mayfly"
#define MF_DEFAULT_LIBVIRT_URI "qemu:///system"

struct mf_config {
	char *path; /* the file that was read, or NULL */
	char *state_dir;
	char *libvirt_uri;
	enum mf_accel accel;
	int boot_timeout;  /* seconds; default for images that set none */
	int build_timeout; /* seconds; default for builds that set none */
};

void config_init(struct mf_config *cfg);
void config_release(struct mf_config *cfg);

/*
 * Reads path into cfg (over the defaults). With path == NULL reads
 * MF_DEFAULT_CONFIG if it exists. MF_E_USAGE with every problem found,
 * one "FILE:LINE: message" per line.
 */
int config_load(struct mf_config *cfg, const char *path);
/* Parses text as if read from name (used by config_load and tests). */
int config_parse(struct mf_config *cfg, const char *name, const char *text);
/* Applies MAYFLY_* environment variables. */
int config_apply_env(struct mf_config *cfg);

const char *config_accel_name(enum mf_accel accel);
int config_parse_accel(const char *s, enum mf_accel *out);

#endif
