/*
 * config.h - Mayfly's settings: an INI-style file, then the environment.
 *
 *	# comments start with '#' (also after a value, following a space)
 *	[daemon]
 *	state_dir = /var/lib/mayfly
 *	listen = 127.0.0.1:8470
 *	token_file = /etc/mayfly/tokens
 *	libvirt_uri = qemu:///system
 *	accel = auto
 *	[limits]
 *	max_vms = 2
 *	boot_timeout = 180
 *	build_timeout = 3600
 *	...
 *
 *	[repository haikuports-x86_64]
 *	type = local
 *	path = /srv/repo/x86_64
 *	...
 *
 * See configs/mayfly.conf.example and mayfly.conf(5) for every key.
 * Errors name the file and line ("mayfly.conf:3: unknown key 'stat_dir' in
 * [daemon]; did you mean 'state_dir'?"); every error in a file is reported,
 * not just the first. MAYFLY_STATE_DIR, MAYFLY_LIBVIRT_URI and MAYFLY_ACCEL
 * override the file.
 */
#ifndef MAYFLY_CONFIG_H
#define MAYFLY_CONFIG_H

#include <stddef.h>

enum mf_accel { MF_ACCEL_AUTO, MF_ACCEL_KVM, MF_ACCEL_TCG };

#define MF_DEFAULT_CONFIG "/etc/mayfly/mayfly.conf"
#define MF_DEFAULT_STATE_DIR "/var/lib/mayfly"
#define MF_DEFAULT_LIBVIRT_URI "qemu:///system"

enum mf_repo_type { MF_REPO_LOCAL, MF_REPO_S3 };

/* A [repository ID] section: where Mayfly publishes, and what the
 * repository says about itself (its repo.info). No secret is ever here:
 * S3 keys live in credentials_file. */
struct mf_repository {
	char *id;		/* the section's name */
	int line;		/* where the section starts */
	enum mf_repo_type type;
	char *path;		/* local: the directory clients are served from */
	char *endpoint, *region, *bucket, *prefix, *credentials_file; /* s3 */
	/* repo.info */
	char *name, *vendor, *summary, *architecture, *identifier, *baseurl;
	int priority;
	char *signing_key;	/* minisign secret key; NULL: not signed */
	char *signing_password_file; /* its password; NULL: the key has none */
	char *publish_trees;	/* trees whose update runs publish here on their own */
};

struct mf_config {
	char *path; /* the file that was read, or NULL */
	/* [daemon] */
	char *state_dir;
	char *libvirt_uri;
	enum mf_accel accel;
	char *listen;		/* mayflyd's HTTP address, "HOST:PORT" */
	char *token_file;	/* API tokens, one per line; NULL: none (all refused) */
	char *public_url;	/* how forges' users reach the API (statuses' links); NULL: none */
	/* [limits] */
	int boot_timeout;	/* seconds; default for images that set none */
	int build_timeout;	/* seconds; default for builds that set none */
	int idle_timeout;	/* seconds without build output that mean hung */
	int max_vms;		/* machines running at once (mayflyd) */
	int warm_ttl;		/* seconds a warm pool machine waits for a build at most */
	int queue_max;		/* queued builds beyond this are refused */
	int infra_retries;	/* retries after infrastructure failures */
	int disk_reserve_mb;	/* no machine starts with less free in the pool */
	int quarantine_after;	/* consecutive boot failures that quarantine an image */
	int max_request_mb;	/* largest API request body */
	int max_connections;	/* open HTTP connections at once (mayflyd) */
	int header_timeout;	/* seconds a client has to send a request's headers */
	int max_log_mb;		/* largest build log (guest output) */
	int max_package_mb;	/* most package bytes one build may harvest */
	int poll_interval;	/* seconds between fetches of every tree; 0: none */
	int source_cache_mb;	/* STATE/sources: verified port sources; 0: no limit */
	int package_cache_mb;	/* STATE/packages: published packages fetched back */
	int pr_max_vms;		/* machines pull requests' builds may take at once */
	int pr_max_per_author;	/* pull request builds (waiting or running) per author */
	int pr_max_pending;	/* webhook events of one pull request not yet handled */
	int pr_max_ports;	/* ports one pull request may change */
	int max_webhook_kb;	/* largest webhook body */
	/* [repository ID] */
	struct mf_repository *repos;
	size_t nrepos;
};

/* The repository of that id; MF_E_USAGE naming the configured ones. */
const struct mf_repository *config_repository(const struct mf_config *cfg, const char *id);
/* 1 if tree's update runs publish to r on their own. */
int config_repository_publishes_tree(const struct mf_repository *r, const char *tree);
const char *config_repo_type_name(enum mf_repo_type t);

/* Splits a "HOST:PORT" or "[V6]:PORT" listen address (host into a buffer). */
int config_parse_listen(const char *s, char *host, unsigned long hostlen, int *port);

void config_init(struct mf_config *cfg);
void config_release(struct mf_config *cfg);
/* A deep copy (dst is overwritten, not released). */
void config_copy(struct mf_config *dst, const struct mf_config *src);

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
