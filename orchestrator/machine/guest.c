/* guest.c - see guest.h. */
#include "machine/guest.h"

#include <errno.h>
#include <fcntl.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/strbuf.h"
#include "common/util.h"

#define WRITE_CHUNK (128 * 1024) /* an SFTP write (OpenSSH takes up to 256 KiB) */
#define READ_CHUNK (64 * 1024)	/* an SFTP read */
#define READ_AHEAD 16		/* SFTP reads in flight */

struct guest {
	ssh_session ssh;
	sftp_session sftp;
	int fd;			/* ours: libssh leaves a socket it was given open */
};

static int ssh_fail(ssh_session s, enum mf_errclass cls, const char *what)
{
	return mf_error(cls, "%s: %s", what, s ? ssh_get_error(s) : "unknown SSH error");
}

static int sftp_fail(struct guest *g, const char *what, const char *path)
{
	int code = g->sftp ? sftp_get_error(g->sftp) : -1;
	const char *why;

	switch (code) {
	case SSH_FX_NO_SUCH_FILE:
		why = "no such file or directory";
		break;
	case SSH_FX_PERMISSION_DENIED:
		why = "permission denied";
		break;
	case SSH_FX_FAILURE:
		why = "failed on the guest (disk full?)";
		break;
	default:
		why = ssh_get_error(g->ssh);
		break;
	}
	return mf_error(MF_E_INFRA, "%s '%s' on the guest: %s", what, path, why);
}

/* "ssh-rsa" keys may be signed with SHA-2; the others name themselves. */
static const char *hostkey_algorithms(const char *type)
{
	if (!strcmp(type, "ssh-rsa"))
		return "rsa-sha2-512,rsa-sha2-256,ssh-rsa";
	return type;
}

static int key_to_line(ssh_key key, char **out)
{
	char *b64 = NULL;
	const char *type = ssh_key_type_to_char(ssh_key_type(key));

	if (!type || ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK)
		return mf_error(MF_E_INFRA, "cannot read the guest's host key");
	*out = xasprintf("%s %s", type, b64);
	ssh_string_free_char(b64);
	return 0;
}

static int split_key(const char *line, char **type, char **b64)
{
	char t[64], b[16384];

	if (sscanf(line, " %63s %16383s", t, b) != 2)
		return -1;
	*type = xstrdup(t);
	*b64 = xstrdup(b);
	return 0;
}

int guest_parse_public_key(const char *line, char **normalized)
{
	char *type = NULL, *b64 = NULL;
	ssh_key key = NULL;
	int ret = -1;

	*normalized = NULL;
	if (split_key(line, &type, &b64) < 0) {
		mf_error(MF_E_USAGE, "not an OpenSSH public key (expected 'TYPE BASE64')");
		goto out;
	}
	if (ssh_key_type_from_name(type) == SSH_KEYTYPE_UNKNOWN) {
		mf_error(MF_E_USAGE, "unknown SSH key type '%s'", type);
		goto out;
	}
	if (ssh_pki_import_pubkey_base64(b64, ssh_key_type_from_name(type), &key) != SSH_OK) {
		mf_error(MF_E_USAGE, "the %s key data is not valid", type);
		goto out;
	}
	ret = key_to_line(key, normalized);
	if (ret < 0)
		mf_error(MF_E_USAGE, "the %s key cannot be read", type);
out:
	ssh_key_free(key);
	free(type);
	free(b64);
	return ret;
}

int guest_check_private_key(const char *path)
{
	ssh_key key = NULL;
	int rc;

	if (access(path, R_OK) < 0)
		return mf_error_errno(MF_E_USAGE, "cannot read SSH key '%s'", path);
	rc = ssh_pki_import_privkey_file(path, NULL, NULL, NULL, &key);
	ssh_key_free(key);
	if (rc == SSH_OK)
		return 0;
	return mf_error(MF_E_USAGE, "cannot use SSH key '%s': not a private key, or it "
			"needs a passphrase (Mayfly needs an unencrypted key)", path);
}

int guest_open(struct guest **out, int fd, const struct guest_login *login, char **presented)
{
	struct guest *g = xcalloc(1, sizeof(*g));
	char *pin_type = NULL, *pin_b64 = NULL, *shown = NULL;

	g->fd = fd;
	ssh_key hostkey = NULL, priv = NULL;
	long timeout = login->timeout_s > 0 ? login->timeout_s : 30;
	int no = 0, ret = -1, rc;

	*out = NULL;
	if (presented)
		*presented = NULL;
	g->ssh = ssh_new();
	if (!g->ssh) {
		mf_error(MF_E_INFRA, "cannot create an SSH session");
		goto out;
	}
	/* libssh uses fd but does not close it: guest_close() does. */
	ssh_options_set(g->ssh, SSH_OPTIONS_FD, &fd);
	ssh_options_set(g->ssh, SSH_OPTIONS_HOST, "127.0.0.1");
	ssh_options_set(g->ssh, SSH_OPTIONS_USER, login->user);
	ssh_options_set(g->ssh, SSH_OPTIONS_TIMEOUT, &timeout);
	/* Neither ~/.ssh/config nor known_hosts: the pinned key is the truth. */
	ssh_options_set(g->ssh, SSH_OPTIONS_PROCESS_CONFIG, &no);
	ssh_options_set(g->ssh, SSH_OPTIONS_KNOWNHOSTS, "/dev/null");
	ssh_options_set(g->ssh, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
	if (login->software_crypto) {
		static const char ciphers[] = "chacha20-poly1305@openssh.com,"
					      "aes128-gcm@openssh.com,aes256-gcm@openssh.com,"
					      "aes128-ctr,aes256-ctr";
		ssh_options_set(g->ssh, SSH_OPTIONS_CIPHERS_C_S, ciphers);
		ssh_options_set(g->ssh, SSH_OPTIONS_CIPHERS_S_C, ciphers);
	}
	if (login->pinned_key) {
		if (split_key(login->pinned_key, &pin_type, &pin_b64) < 0) {
			mf_error(MF_E_USAGE, "the pinned host key is malformed");
			goto out;
		}
		/* Ask the guest for the key type we pinned, not its favourite. */
		if (ssh_options_set(g->ssh, SSH_OPTIONS_HOSTKEYS,
				    hostkey_algorithms(pin_type)) < 0) {
			ssh_fail(g->ssh, MF_E_USAGE, "cannot use the pinned host key type");
			goto out;
		}
	}
	if (ssh_connect(g->ssh) != SSH_OK) {
		ssh_fail(g->ssh, MF_E_INFRA, "SSH handshake with the guest failed");
		goto out;
	}
	if (ssh_get_server_publickey(g->ssh, &hostkey) != SSH_OK ||
	    key_to_line(hostkey, &shown) < 0) {
		mf_error(MF_E_INFRA, "the guest presented no readable host key");
		goto out;
	}
	if (login->pinned_key) {
		char *pinned_norm = xasprintf("%s %s", pin_type, pin_b64);
		int match = !strcmp(pinned_norm, shown);
		free(pinned_norm);
		if (!match) {
			char *want = ssh_key_fingerprint(login->pinned_key);
			char *got = ssh_key_fingerprint(shown);
			mf_error(MF_E_INFRA, "host key mismatch: the guest presented %s %s, but "
				 "the image pins %s %s; refusing to log in", ssh_key_type_to_char(
				 ssh_key_type(hostkey)), got, pin_type, want);
			free(want);
			free(got);
			goto out;
		}
	}
	if (ssh_pki_import_privkey_file(login->key_path, NULL, NULL, NULL, &priv) != SSH_OK) {
		mf_error(MF_E_USAGE, "cannot use SSH key '%s'", login->key_path);
		goto out;
	}
	rc = ssh_userauth_publickey(g->ssh, NULL, priv);
	if (rc != SSH_AUTH_SUCCESS) {
		if (rc == SSH_AUTH_ERROR)
			ssh_fail(g->ssh, MF_E_INFRA, "SSH login failed");
		else
			mf_error(MF_E_INFRA, "the guest refused key '%s' for user '%s'",
				 login->key_path, login->user);
		goto out;
	}
	if (presented) {
		*presented = shown;
		shown = NULL;
	}
	*out = g;
	g = NULL;
	ret = 0;
out:
	ssh_key_free(priv);
	ssh_key_free(hostkey);
	free(shown);
	free(pin_type);
	free(pin_b64);
	guest_close(g);
	return ret;
}

void guest_close(struct guest *g)
{
	if (!g)
		return;
	if (g->sftp)
		sftp_free(g->sftp);
	if (g->ssh) {
		if (ssh_is_connected(g->ssh))
			ssh_disconnect(g->ssh);
		ssh_free(g->ssh);
	}
	if (g->fd >= 0)
		close(g->fd); /* checked: libssh 0.10 leaves a socket it was given open */
	free(g);
}

int guest_exec(struct guest *g, const char *cmd, const struct guest_exec_hooks *hooks,
	       int *exit_status)
{
	ssh_channel ch;
	char buf[16384];
	int ret = -1;

	*exit_status = -1;
	ch = ssh_channel_new(g->ssh);
	if (!ch)
		return ssh_fail(g->ssh, MF_E_INFRA, "cannot open an SSH channel");
	if (ssh_channel_open_session(ch) != SSH_OK) {
		ssh_fail(g->ssh, MF_E_INFRA, "cannot open an SSH session channel");
		goto out;
	}
	if (ssh_channel_request_exec(ch, cmd) != SSH_OK) {
		ssh_fail(g->ssh, MF_E_INFRA, "the guest refused to run the build command");
		goto out;
	}
	int input_done = !(hooks && hooks->input);
	for (;;) {
		int got = 0;
		/* Feed stdin a chunk at a time, reading output in between (no deadlock). */
		if (!input_done) {
			ssize_t n = hooks->input(hooks->payload, buf, sizeof(buf));
			if (n < 0)
				goto out;
			if (n == 0) {
				ssh_channel_send_eof(ch);
				input_done = 1;
			} else if (ssh_channel_write(ch, buf, (uint32_t)n) != n) {
				ssh_fail(g->ssh, MF_E_INFRA, "lost the SSH connection to the guest "
					 "while sending it data");
				goto out;
			}
		}
		for (int stream = 0; stream < 2; stream++) {
			int n = stream == 0 && input_done ?
					ssh_channel_read_timeout(ch, buf, sizeof(buf), 0, 100) :
					ssh_channel_read_nonblocking(ch, buf, sizeof(buf), stream);
			if (n == SSH_ERROR) {
				ssh_fail(g->ssh, MF_E_INFRA, "lost the SSH connection to the guest");
				goto out;
			}
			if (n > 0) {
				got = 1;
				if (hooks && hooks->output)
					hooks->output(hooks->payload, stream + 1, buf, (size_t)n);
			}
		}
		if (hooks && hooks->tick && hooks->tick(hooks->payload) < 0)
			goto out;
		if (!got && ssh_channel_is_eof(ch))
			break;
	}
	*exit_status = ssh_channel_get_exit_status(ch);
	if (*exit_status < 0) {
		/* No status: the command died from a signal or the channel broke. */
		*exit_status = 255;
	}
	ret = 0;
out:
	ssh_channel_close(ch);
	ssh_channel_free(ch);
	return ret;
}

static int sftp_ready(struct guest *g)
{
	if (g->sftp)
		return 0;
	g->sftp = sftp_new(g->ssh);
	if (!g->sftp)
		return ssh_fail(g->ssh, MF_E_INFRA, "cannot start SFTP");
	if (sftp_init(g->sftp) != SSH_OK) {
		sftp_free(g->sftp);
		g->sftp = NULL;
		return ssh_fail(g->ssh, MF_E_INFRA, "the guest's SFTP server did not start");
	}
	return 0;
}

int guest_list(struct guest *g, const char *dir, struct guest_file **out, size_t *n)
{
	struct guest_file *v = NULL;
	size_t len = 0;
	sftp_dir d;
	sftp_attributes a;

	*out = NULL;
	*n = 0;
	if (sftp_ready(g) < 0)
		return -1;
	d = sftp_opendir(g->sftp, dir);
	if (!d)
		return sftp_fail(g, "cannot list", dir);
	while ((a = sftp_readdir(g->sftp, d))) {
		if (strcmp(a->name, ".") && strcmp(a->name, "..")) {
			v = xrealloc(v, (len + 1) * sizeof(*v));
			v[len].name = xstrdup(a->name);
			v[len].size = a->size;
			v[len].mtime = a->mtime64 ? a->mtime64 : a->mtime;
			v[len].regular = a->type == SSH_FILEXFER_TYPE_REGULAR;
			len++;
		}
		sftp_attributes_free(a);
	}
	if (!sftp_dir_eof(d)) {
		sftp_closedir(d);
		guest_files_free(v, len);
		return sftp_fail(g, "cannot read directory", dir);
	}
	sftp_closedir(d);
	*out = v;
	*n = len;
	return 0;
}

void guest_files_free(struct guest_file *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(f[i].name);
	free(f);
}

int guest_check_dir(struct guest *g, const char *path)
{
	sftp_attributes a;
	int isdir;

	if (sftp_ready(g) < 0)
		return -1;
	a = sftp_stat(g->sftp, path);
	if (!a)
		return sftp_fail(g, "cannot find", path);
	isdir = a->type == SSH_FILEXFER_TYPE_DIRECTORY;
	sftp_attributes_free(a);
	if (!isdir)
		return mf_error(MF_E_INFRA, "'%s' on the guest is not a directory", path);
	return 0;
}

int guest_put(struct guest *g, const char *local, const char *remote,
	      int (*tick)(void *), void *payload)
{
	static __thread char buf[WRITE_CHUNK];
	sftp_file f = NULL;
	int fd, ret = -1;

	fd = open(local, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mf_error_errno(MF_E_USAGE, "cannot open input '%s'", local);
	if (sftp_ready(g) < 0)
		goto out;
	f = sftp_open(g->sftp, remote, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (!f) {
		sftp_fail(g, "cannot create", remote);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			mf_error_errno(MF_E_USAGE, "cannot read input '%s'", local);
			goto out;
		}
		if (n == 0)
			break;
		if (sftp_write(f, buf, (size_t)n) != n) {
			sftp_fail(g, "cannot write", remote);
			goto out;
		}
		if (tick && tick(payload) < 0)
			goto out;
	}
	if (sftp_close(f) != SSH_NO_ERROR) {
		f = NULL;
		sftp_fail(g, "cannot finish writing", remote);
		goto out;
	}
	f = NULL;
	ret = 0;
out:
	if (f)
		sftp_close(f);
	close(fd);
	return ret;
}

int guest_write_file(struct guest *g, const char *remote, const void *data, size_t len,
		     int mode)
{
	sftp_file f;
	const char *p = data;

	if (sftp_ready(g) < 0)
		return -1;
	f = sftp_open(g->sftp, remote, O_WRONLY | O_CREAT | O_TRUNC, (mode_t)mode);
	if (!f)
		return sftp_fail(g, "cannot create", remote);
	while (len > 0) {
		size_t n = len < WRITE_CHUNK ? len : WRITE_CHUNK;
		if (sftp_write(f, p, n) != (ssize_t)n) {
			sftp_fail(g, "cannot write", remote);
			sftp_close(f);
			return -1;
		}
		p += n;
		len -= n;
	}
	if (sftp_close(f) != SSH_NO_ERROR)
		return sftp_fail(g, "cannot finish writing", remote);
	return 0;
}

int guest_read_file(struct guest *g, const char *remote, size_t max, char **out, size_t *len)
{
	struct strbuf sb = STRBUF_INIT;
	char buf[16384];
	sftp_file f;
	ssize_t n;

	*out = NULL;
	if (len)
		*len = 0;
	if (sftp_ready(g) < 0)
		return -1;
	f = sftp_open(g->sftp, remote, O_RDONLY, 0);
	if (!f) {
		if (sftp_get_error(g->sftp) == SSH_FX_NO_SUCH_FILE)
			return 0;
		return sftp_fail(g, "cannot open", remote);
	}
	while ((n = sftp_read(f, buf, sizeof(buf))) > 0) {
		if (sb.len + (size_t)n > max) {
			sftp_close(f);
			strbuf_release(&sb);
			return mf_error(MF_E_INFRA, "'%s' on the guest is larger than %zu bytes",
					remote, max);
		}
		strbuf_add(&sb, buf, (size_t)n);
	}
	sftp_close(f);
	if (n < 0) {
		strbuf_release(&sb);
		return sftp_fail(g, "cannot read", remote);
	}
	if (len)
		*len = sb.len;
	*out = strbuf_detach(&sb);
	return 1;
}

struct guest_rfile {
	struct guest *g;
	sftp_file f;
	char *remote;
};

int guest_rfile_open(struct guest *g, const char *remote, struct guest_rfile **out,
		     uint64_t *size)
{
	sftp_attributes a;
	sftp_file f;

	*out = NULL;
	if (sftp_ready(g) < 0)
		return -1;
	f = sftp_open(g->sftp, remote, O_RDONLY, 0);
	if (!f)
		return sftp_fail(g, "cannot open", remote);
	a = sftp_fstat(f);
	if (!a) {
		sftp_close(f);
		return sftp_fail(g, "cannot stat", remote);
	}
	*size = a->size;
	sftp_attributes_free(a);
	*out = xcalloc(1, sizeof(**out));
	(*out)->g = g;
	(*out)->f = f;
	(*out)->remote = xstrdup(remote);
	return 0;
}

int guest_rfile_read(void *rfile, uint64_t off, void *buf, size_t len)
{
	struct guest_rfile *r = rfile;
	size_t done = 0;

	if (sftp_seek64(r->f, off) < 0)
		return sftp_fail(r->g, "cannot seek in", r->remote);
	while (done < len) {
		ssize_t n = sftp_read(r->f, (char *)buf + done, len - done);
		if (n < 0)
			return sftp_fail(r->g, "cannot read", r->remote);
		if (n == 0)
			return mf_error(MF_E_INFRA, "'%s' on the guest ended early", r->remote);
		done += (size_t)n;
	}
	return 0;
}

void guest_rfile_close(struct guest_rfile *f)
{
	if (!f)
		return;
	sftp_close(f->f);
	free(f->remote);
	free(f);
}

int guest_get(struct guest *g, const char *remote, const char *local, uint64_t max_size,
	      uint64_t *size, char sha256[SHA256_HEX_LEN], int (*tick)(void *), void *payload)
{
	static __thread char buf[READ_CHUNK];
	uint32_t ids[READ_AHEAD];
	sftp_file f = NULL;
	sftp_attributes a = NULL;
	struct sha256 *h = sha256_new();
	char *part = xasprintf("%s.part", local);
	uint64_t expect, total = 0, requested = 0;
	size_t head = 0, inflight = 0;
	int fd = -1, ret = -1;

	if (sftp_ready(g) < 0)
		goto out;
	f = sftp_open(g->sftp, remote, O_RDONLY, 0);
	if (!f) {
		sftp_fail(g, "cannot open", remote);
		goto out;
	}
	a = sftp_fstat(f);
	if (!a) {
		sftp_fail(g, "cannot stat", remote);
		goto out;
	}
	expect = a->size;
	if (max_size && expect > max_size) {
		mf_error(MF_E_BUILD, "'%s' is %llu bytes, more than the %llu allowed", remote,
			 (unsigned long long)expect, (unsigned long long)max_size);
		goto out;
	}
	fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		mf_error_errno(MF_E_INFRA, "cannot create '%s'", part);
		goto out;
	}
	/* Keep READ_AHEAD requests in flight; read the answers in order. */
	for (;;) {
		while (inflight < READ_AHEAD && requested < expect) {
			int id = sftp_async_read_begin(f, READ_CHUNK);
			if (id < 0) {
				sftp_fail(g, "cannot read", remote);
				goto out;
			}
			ids[(head + inflight) % READ_AHEAD] = (uint32_t)id;
			inflight++;
			requested += READ_CHUNK;
		}
		if (inflight == 0)
			break;
		int n = sftp_async_read(f, buf, READ_CHUNK, ids[head]);
		head = (head + 1) % READ_AHEAD;
		inflight--;
		if (n < 0) {
			sftp_fail(g, "cannot read", remote);
			goto out;
		}
		if (n == 0)
			continue; /* end of file: drain the remaining answers */
		if (mf_write_all(fd, buf, (size_t)n) < 0) {
			mf_error_errno(MF_E_INFRA, "cannot write '%s'", part);
			goto out;
		}
		sha256_update(h, buf, (size_t)n);
		total += (uint64_t)n;
		if (tick && tick(payload) < 0)
			goto out;
	}
	if (total != expect) {
		mf_error(MF_E_INFRA, "'%s' changed size during download (%llu bytes, expected "
			 "%llu)", remote, (unsigned long long)total, (unsigned long long)expect);
		goto out;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		mf_error_errno(MF_E_INFRA, "cannot write '%s'", part);
		goto out;
	}
	fd = -1;
	if (rename(part, local) < 0) {
		mf_error_errno(MF_E_INFRA, "cannot rename '%s'", part);
		goto out;
	}
	*size = total;
	ret = 0;
out:
	/* Answers still in flight are read off so the session stays usable. */
	while (inflight > 0 && f) {
		sftp_async_read(f, buf, READ_CHUNK, ids[head]);
		head = (head + 1) % READ_AHEAD;
		inflight--;
	}
	sha256_finish(h, sha256);
	if (fd >= 0)
		close(fd);
	if (ret < 0)
		unlink(part);
	if (a)
		sftp_attributes_free(a);
	if (f)
		sftp_close(f);
	free(part);
	return ret;
}
