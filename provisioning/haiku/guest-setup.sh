#!/bin/bash
#
# guest-setup.sh - turn an installed Haiku system into a Mayfly builder.
#
# Run this INSIDE the Haiku guest, from Terminal, as the default user "user"
# (uid 0 on Haiku), during the one-off setup boot, with normal (unrestricted)
# QEMU user networking so that pkgman and git can reach the internet.
# See README.md in this directory for the whole procedure.
#
# What it does (every step can be re-run; it is meant to be idempotent):
#   1. installs missing build tools and haikuporter with pkgman
#   2. adds the given public key to ~/config/settings/ssh/authorized_keys
#   3. makes sure the sshd privilege-separation user and host keys exist
#   4. puts a managed block at the top of /boot/system/settings/ssh/sshd_config
#      (key-only auth) and checks it with "sshd -t"
#   5. makes sure net_server starts sshd (/boot/system/settings/network/services)
#   6. headless tweaks: debug_server "report" instead of a dialog, no on-screen
#      KDL (both what HaikuPorter's builderctl "provision" sets on its builders)
#   7. clones (or copies) a haikuports tree to /boot/home/haikuports, creates
#      /boot/home/haikuports/packages, writes ~/config/settings/haikuports.conf
#   8. prints the sshd ed25519 host public key and its fingerprint, for pinning
#
# Tested: NOT run on Haiku (no Haiku system was available when it was written).
# Lines marked ASSUMPTION rest on something that was not confirmed from the
# Haiku/HaikuPorts/OpenSSH sources; see README.md, "What was verified".

set -euo pipefail

# ---------------------------------------------------------------- defaults --

AUTH_KEY_FILE=""
TREE="/boot/home/haikuports"
PORTS_URL="https://github.com/haikuports/haikuports.git"
PORTS_BRANCH="auto"
PORTS_COPY=""
PORTS_DEPTH="1"
UPDATE_TREE=0
PACKAGER="Mayfly Builder <mayfly@localhost>"
TARGET_ARCH=""
SKIP_PKGMAN=0
HAIKUPORTER_GIT=""
HAIKUPORTER_DIR="/boot/home/haikuporter"
CRASH_TWEAKS=1
# Package names as used by the x86_64 HaikuPorts repository.  On a 32-bit
# x86_gcc2h system most of these need the "_x86" secondary-architecture
# variant instead (ASSUMPTION: not worked out here; pass --packages).
BASE_PACKAGES="haikuporter gcc binutils make haiku_devel patch xz_utils lzip dos2unix autoconf automake libtool pkgconfig bison flex m4 texinfo"
EXTRA_PACKAGES=""

SSHD_BIN="/boot/system/bin/sshd"
MARK_BEGIN="# BEGIN mayfly-managed"
MARK_END="# END mayfly-managed"

# ---------------------------------------------------------------- helpers --

log()  { printf '==> %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die()  { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
	cat <<'EOF'
usage: guest-setup.sh --authorized-key FILE [options]

required:
  --authorized-key FILE     OpenSSH public key file (one or more keys) that
                            Mayfly will log in with (its --ssh-key's .pub)
options:
  --haikuports-url URL      git URL of the ports tree
                            (default https://github.com/haikuports/haikuports.git)
  --haikuports-branch NAME  branch to clone; "auto" (default) picks r1betaN
                            on an R1/betaN release, else master
  --haikuports-copy DIR     copy an existing tree from DIR instead of cloning
  --haikuports-depth N      git clone depth (default 1; 0 = full history)
  --update-tree             if the tree already exists, "git pull --ff-only" it
  --packager "NAME <EMAIL>" PACKAGER for haikuports.conf
                            (default "Mayfly Builder <mayfly@localhost>")
  --target-arch ARCH        TARGET_ARCHITECTURE for haikuports.conf
                            (default: unset = haikuporter uses the system's)
  --packages "P1 P2 ..."    replace the default list of packages to install
  --extra-packages "P ..."  install these in addition to the default list
  --haikuporter-git URL     install haikuporter from this git URL into
                            /boot/home/haikuporter instead of with pkgman
  --skip-pkgman             do not install anything with pkgman (offline)
  --no-crash-tweaks         leave debug_server / KDL settings alone
  -h, --help                this text
EOF
}

# Single-quote a string for bash (haikuports.conf is evaluated by bash).
shq() {
	local s=${1//\'/\'\\\'\'}
	printf "'%s'" "$s"
}

need_value() {
	if [ "$#" -lt 2 ] || [ -z "$2" ]; then
		die "option $1 needs a value"
	fi
}

# ---------------------------------------------------------------- options --

while [ "$#" -gt 0 ]; do
	case "$1" in
		--authorized-key)    need_value "$@"; AUTH_KEY_FILE=$2; shift 2 ;;
		--haikuports-url)    need_value "$@"; PORTS_URL=$2; shift 2 ;;
		--haikuports-branch) need_value "$@"; PORTS_BRANCH=$2; shift 2 ;;
		--haikuports-copy)   need_value "$@"; PORTS_COPY=$2; shift 2 ;;
		--haikuports-depth)  need_value "$@"; PORTS_DEPTH=$2; shift 2 ;;
		--update-tree)       UPDATE_TREE=1; shift ;;
		--packager)          need_value "$@"; PACKAGER=$2; shift 2 ;;
		--target-arch)       need_value "$@"; TARGET_ARCH=$2; shift 2 ;;
		--packages)          need_value "$@"; BASE_PACKAGES=$2; shift 2 ;;
		--extra-packages)    need_value "$@"; EXTRA_PACKAGES=$2; shift 2 ;;
		--haikuporter-git)   need_value "$@"; HAIKUPORTER_GIT=$2; shift 2 ;;
		--skip-pkgman)       SKIP_PKGMAN=1; shift ;;
		--no-crash-tweaks)   CRASH_TWEAKS=0; shift ;;
		-h|--help)           usage; exit 0 ;;
		*)                   usage >&2; die "unknown argument: $1" ;;
	esac
done

[ -n "$AUTH_KEY_FILE" ] || { usage >&2; die "--authorized-key is required"; }
if [ ! -f "$AUTH_KEY_FILE" ] || [ ! -r "$AUTH_KEY_FILE" ]; then
	die "cannot read public key file: $AUTH_KEY_FILE"
fi
case "$PORTS_DEPTH" in
	''|*[!0-9]*) die "--haikuports-depth must be a number" ;;
esac
# haikuporter splits PACKAGER into name and e-mail with  ^\s*(.+?)\s*<(.+?)>$
if ! printf '%s\n' "$PACKAGER" | grep -Eq '^[^<>]+<[^<>]+>$'; then
	die "--packager must look like: Some Name <mail@example.org>"
fi
if [ -n "$TARGET_ARCH" ] \
	&& ! printf '%s\n' "$TARGET_ARCH" | grep -Eq '^[a-z0-9_]+$'; then
	die "--target-arch must be a plain architecture name such as x86_64"
fi
case "$TREE" in
	/*) ;;
	*) die "internal: tree path must be absolute" ;;
esac

# ------------------------------------------------------------ environment --

[ "$(uname -s)" = "Haiku" ] || die "this script must run inside Haiku"
[ "$(id -u)" = "0" ] \
	|| die "run as the default Haiku user (uid 0); current uid is $(id -u)"
command -v finddir >/dev/null 2>&1 || die "finddir not found (not Haiku?)"

USER_SETTINGS=$(finddir B_USER_SETTINGS_DIRECTORY)     # /boot/home/config/settings
SYS_SETTINGS=$(finddir B_SYSTEM_SETTINGS_DIRECTORY)    # /boot/system/settings
SYS_PACKAGES=$(finddir B_SYSTEM_PACKAGES_DIRECTORY)    # /boot/system/packages
USER_PACKAGES=$(finddir B_USER_PACKAGES_DIRECTORY 2>/dev/null || true)
NONPACKAGED_BIN=$(finddir B_USER_NONPACKAGED_BIN_DIRECTORY 2>/dev/null \
	|| printf '%s' /boot/home/config/non-packaged/bin)

# ----------------------------------------------------- 1. package install --

is_installed() {
	# A package is taken as installed when a file NAME-<version>.hpkg (or
	# NAME.hpkg, the form used for packages that came with the image) is in
	# the system or user packages directory.
	local name=$1 dir f
	case "$name" in
		# "cmd:NAME" is a provides name that pkgman resolves (ASSUMPTION);
		# treat it as installed when the command is on PATH.
		cmd:*) command -v "${name#cmd:}" >/dev/null 2>&1; return ;;
	esac
	for dir in "$SYS_PACKAGES" "$USER_PACKAGES"; do
		if [ -z "$dir" ] || [ ! -d "$dir" ]; then
			continue
		fi
		[ -e "$dir/$name.hpkg" ] && return 0
		for f in "$dir/$name"-*.hpkg; do
			[ -e "$f" ] && return 0
		done
	done
	return 1
}

install_packages() {
	local wanted="$BASE_PACKAGES $EXTRA_PACKAGES" missing="" p
	if [ -n "$HAIKUPORTER_GIT" ]; then
		# haikuporter comes from git; it still needs git and python3
		wanted=$(printf '%s\n' "$wanted" | sed 's/\<haikuporter\>//g')
		wanted="$wanted cmd:git cmd:python3"
	fi
	for p in $wanted; do
		printf '%s\n' "$p" | grep -Eq '^[A-Za-z0-9_.+~:-]+$' \
			|| die "bad package name: $p"
		if is_installed "$p"; then
			continue
		fi
		missing="$missing $p"
	done
	if [ -z "$missing" ]; then
		log "all requested packages are already installed"
		return 0
	fi
	if [ "$SKIP_PKGMAN" = 1 ]; then
		warn "not installed (--skip-pkgman):$missing"
		return 0
	fi
	log "pkgman install -y$missing"
	# shellcheck disable=SC2086  # word splitting of the checked list is wanted
	pkgman install -y $missing \
		|| die "pkgman failed; check the network and the package names"
}

install_haikuporter_from_git() {
	[ -n "$HAIKUPORTER_GIT" ] || return 0
	if [ -d "$HAIKUPORTER_DIR/.git" ]; then
		log "haikuporter checkout already present in $HAIKUPORTER_DIR"
	else
		log "cloning haikuporter from $HAIKUPORTER_GIT"
		git clone --depth 1 "$HAIKUPORTER_GIT" "$HAIKUPORTER_DIR"
	fi
	[ -f "$HAIKUPORTER_DIR/haikuporter.py" ] \
		|| die "$HAIKUPORTER_DIR does not look like a haikuporter checkout"
	mkdir -p "$NONPACKAGED_BIN"
	# A wrapper rather than a symlink, so that python finds the HaikuPorter
	# package next to haikuporter.py whatever it does with symlinks.
	cat > "$NONPACKAGED_BIN/haikuporter.tmp" <<EOF
#!/bin/sh
# written by Mayfly guest-setup.sh
exec python3 $(shq "$HAIKUPORTER_DIR/haikuporter.py") "\$@"
EOF
	chmod 755 "$NONPACKAGED_BIN/haikuporter.tmp"
	mv -f "$NONPACKAGED_BIN/haikuporter.tmp" "$NONPACKAGED_BIN/haikuporter"
}

# --------------------------------------------------------------- 2-5. ssh --

setup_authorized_keys() {
	local ssh_dir="$USER_SETTINGS/ssh" ak line added=0
	ak="$ssh_dir/authorized_keys"
	ssh-keygen -l -f "$AUTH_KEY_FILE" >/dev/null 2>&1 \
		|| die "$AUTH_KEY_FILE is not a valid OpenSSH public key file"
	mkdir -p "$ssh_dir"
	touch "$ak"
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%$'\r'}
		case "$line" in ''|'#'*) continue ;; esac
		if ! grep -qxF -- "$line" "$ak"; then
			printf '%s\n' "$line" >> "$ak"
			added=$((added + 1))
		fi
	done < "$AUTH_KEY_FILE"
	# StrictModes (default yes) refuses keys if the file or any directory
	# from it up to the home directory is group/world writable.
	chmod 600 "$ak"
	chmod 700 "$ssh_dir"
	chmod go-w /boot/home /boot/home/config "$USER_SETTINGS"
	log "authorized_keys: $added key(s) added, file is $ak"
}

ensure_sshd_user() {
	# The openssh package declares an "sshd" user (PACKAGE_USERS); HaikuPorter's
	# README still lists "useradd sshd" for builders, so create it if missing.
	if id sshd >/dev/null 2>&1; then
		return 0
	fi
	log "creating privilege separation user sshd"
	useradd sshd
}

ensure_host_keys() {
	# Generates every missing default host key type (same defaults sshd uses).
	ssh-keygen -A
}

write_sshd_config() {
	local conf="$SYS_SETTINGS/ssh/sshd_config"
	local default_conf="/boot/system/data/openssh/sshd_config.default"
	local tmp sftp_path need_internal_sftp=0

	[ -x "$SSHD_BIN" ] || die "$SSHD_BIN not found; is the openssh package installed?"
	mkdir -p "$SYS_SETTINGS/ssh"
	if [ ! -f "$conf" ]; then
		if [ -f "$default_conf" ]; then
			cp "$default_conf" "$conf"
		else
			: > "$conf"
		fi
	fi
	[ -e "$conf.mayfly-orig" ] || cp -p "$conf" "$conf.mayfly-orig"

	tmp=$(mktemp "$SYS_SETTINGS/ssh/sshd_config.XXXXXX")
	# Keep whatever was there, minus an older managed block.
	sed "/^$MARK_BEGIN/,/^$MARK_END/d" "$conf" > "$tmp.rest"

	# The packaged config points "Subsystem sftp" at the packaged sftp-server
	# (HaikuPorter's README warns that this path may be wrong).  If it does
	# not exist, fall back to the sftp server built into sshd.
	sftp_path=$(sed -nE 's/^[[:space:]]*Subsystem[[:space:]]+sftp[[:space:]]+([^[:space:]]+).*/\1/p' "$tmp.rest" | sed -n 1p)
	if [ -z "$sftp_path" ]; then
		need_internal_sftp=1
	elif [ "$sftp_path" != "internal-sftp" ] && [ ! -x "$sftp_path" ]; then
		warn "sftp server $sftp_path does not exist; using internal-sftp"
		sed -i -E 's|^([[:space:]]*Subsystem[[:space:]]+sftp[[:space:]]+)[^[:space:]]+|\1internal-sftp|' "$tmp.rest"
	fi

	{
		printf '%s (written by guest-setup.sh; sshd uses the first value)\n' "$MARK_BEGIN"
		printf '%s\n' \
			'PubkeyAuthentication yes' \
			'PasswordAuthentication no' \
			'KbdInteractiveAuthentication no' \
			'PermitEmptyPasswords no' \
			'# "user" has uid 0, so sshd treats it as root: allow keys only.' \
			'PermitRootLogin prohibit-password' \
			'AuthorizedKeysFile config/settings/ssh/authorized_keys' \
			'UseDNS no'
		if [ "$need_internal_sftp" = 1 ]; then
			printf '%s\n' 'Subsystem sftp internal-sftp'
		fi
		printf '%s\n' "$MARK_END"
		cat "$tmp.rest"
	} > "$tmp"
	rm -f "$tmp.rest"

	if ! "$SSHD_BIN" -t -f "$tmp"; then
		rm -f "$tmp"
		die "sshd -t rejected the new configuration; $conf left unchanged"
	fi
	chmod 644 "$tmp"
	mv -f "$tmp" "$conf"
	log "sshd_config updated: $conf (original kept as $conf.mayfly-orig)"
}

ensure_sshd_service() {
	# net_server starts the services listed in this file; Haiku images ship
	# it with  service ssh { launch /boot/system/bin/sshd -D ; stand_alone }
	local services="$SYS_SETTINGS/network/services" block
	mkdir -p "$SYS_SETTINGS/network"
	[ -f "$services" ] || : > "$services"
	if grep -Eq '^[[:space:]]*service[[:space:]]+ssh[[:space:]]*\{' "$services"; then
		# Drop a "disabled" line inside the ssh block, if the Network
		# preferences left one there.  ASSUMPTION: the block is written one
		# setting per line and closed by a line holding "}".
		block=$(sed -n -E '/^[[:space:]]*service[[:space:]]+ssh[[:space:]]*\{/,/\}/p' "$services")
		if printf '%s\n' "$block" | grep -Eq '^[[:space:]]*disabled'; then
			[ -e "$services.mayfly-orig" ] || cp -p "$services" "$services.mayfly-orig"
			sed -i -E '/^[[:space:]]*service[[:space:]]+ssh[[:space:]]*\{/,/\}/{/^[[:space:]]*disabled/d}' "$services"
			log "re-enabled the ssh service in $services"
		else
			log "ssh service already enabled in $services"
		fi
	else
		[ -e "$services.mayfly-orig" ] || cp -p "$services" "$services.mayfly-orig"
		printf '\nservice ssh {\n\tlaunch\t%s -D\n\tstand_alone\n}\n' "$SSHD_BIN" >> "$services"
		log "added the ssh service to $services"
	fi
}

# ------------------------------------------------------ 6. headless tweaks --

crash_tweaks() {
	[ "$CRASH_TWEAKS" = 1 ] || return 0
	# A crashing program must not wait for someone to click in a debugger
	# dialog: "report" saves a crash report and kills the team.
	local dbg_dir="$USER_SETTINGS/system/debug_server" kernel
	mkdir -p "$dbg_dir"
	if [ -f "$dbg_dir/settings" ] \
		&& grep -Eq '^[[:space:]]*default_action[[:space:]]+report[[:space:]]*$' "$dbg_dir/settings"; then
		:
	else
		[ ! -f "$dbg_dir/settings" ] || cp -p "$dbg_dir/settings" "$dbg_dir/settings.mayfly-orig"
		printf 'default_action report\n' > "$dbg_dir/settings"
		log "debug_server: default_action report"
	fi
	# No on-screen kernel debugger (output still goes to the serial port).
	kernel="$USER_SETTINGS/kernel/drivers/kernel"
	mkdir -p "$(dirname "$kernel")"
	[ -f "$kernel" ] || : > "$kernel"
	if grep -Eq '^[[:space:]]*bluescreen[[:space:]]+false' "$kernel"; then
		:
	elif grep -Eq '^#bluescreen false' "$kernel"; then
		sed -i 's/^#bluescreen false/bluescreen false/' "$kernel"
		log "kernel settings: bluescreen false"
	else
		printf 'bluescreen false\n' >> "$kernel"
		log "kernel settings: bluescreen false"
	fi
}

# ---------------------------------------------------- 7. haikuports tree --

resolve_branch() {
	local pkg info rel
	if [ "$PORTS_BRANCH" != "auto" ]; then
		printf '%s\n' "$PORTS_BRANCH"
		return 0
	fi
	# ASSUMPTION: a release's haiku package carries a version such as
	# "r1~beta5_hrev..." (HAIKU_VERSION in build/jam/BuildSetup), and the
	# HaikuPorts branch for it is named "r1beta5".
	info=""
	for pkg in "$SYS_PACKAGES/haiku.hpkg" "$SYS_PACKAGES"/haiku-*.hpkg; do
		if [ -f "$pkg" ]; then
			info=$(package list -i "$pkg" 2>/dev/null || true)
			break
		fi
	done
	rel=$(printf '%s\n' "$info" | grep -Eo 'r1~beta[0-9]+' | sed -n 1p || true)
	if [ -n "$rel" ]; then
		rel=$(printf '%s\n' "$rel" | tr -d '~')
		if git ls-remote --exit-code --heads "$PORTS_URL" "$rel" >/dev/null 2>&1; then
			printf '%s\n' "$rel"
			return 0
		fi
		warn "release $rel detected but $PORTS_URL has no branch $rel"
	fi
	printf '%s\n' "master"
}

setup_tree() {
	local branch
	if [ -e "$TREE" ]; then
		[ -f "$TREE/FormatVersions" ] \
			|| die "$TREE exists but is not a haikuports tree (no FormatVersions)"
		if [ -d "$TREE/.git" ]; then
			if [ "$UPDATE_TREE" = 1 ]; then
				log "updating $TREE"
				git -C "$TREE" pull --ff-only
			fi
			log "haikuports tree at $TREE, commit $(git -C "$TREE" rev-parse --short HEAD)"
		else
			log "haikuports tree at $TREE (not a git checkout; left as is)"
		fi
	elif [ -n "$PORTS_COPY" ]; then
		[ -f "$PORTS_COPY/FormatVersions" ] \
			|| die "$PORTS_COPY is not a haikuports tree (no FormatVersions)"
		log "copying haikuports tree from $PORTS_COPY to $TREE"
		rm -rf "$TREE.partial"
		mkdir -p "$TREE.partial"
		cp -a "$PORTS_COPY/." "$TREE.partial/"
		mv "$TREE.partial" "$TREE"
	else
		branch=$(resolve_branch)
		log "cloning $PORTS_URL (branch $branch) to $TREE"
		rm -rf "$TREE.partial"
		if [ "$PORTS_DEPTH" = 0 ]; then
			git clone --branch "$branch" "$PORTS_URL" "$TREE.partial"
		else
			git clone --depth "$PORTS_DEPTH" --branch "$branch" \
				"$PORTS_URL" "$TREE.partial"
		fi
		mv "$TREE.partial" "$TREE"
	fi
	# Default PACKAGES_PATH of haikuporter: <TREE_PATH>/packages.  This is the
	# directory Mayfly uploads inputs to and harvests .hpkg files from.
	mkdir -p "$TREE/packages"
}

write_haikuports_conf() {
	local conf="$USER_SETTINGS/haikuports.conf" tmp
	# haikuporter looks for ./haikuports.conf, then this file, then
	# /system/settings/haikuports.conf (the one the haikuporter package ships).
	if [ -f "$conf" ] && ! grep -q 'Mayfly guest-setup.sh' "$conf"; then
		[ -e "$conf.mayfly-orig" ] || cp -p "$conf" "$conf.mayfly-orig"
	fi
	tmp=$(mktemp "$USER_SETTINGS/haikuports.conf.XXXXXX")
	{
		printf '# Written by Mayfly guest-setup.sh; evaluated by bash.\n'
		printf 'TREE_PATH=%s\n' "$(shq "$TREE")"
		printf 'PACKAGES_PATH=%s\n' "$(shq "$TREE/packages")"
		printf 'PACKAGER=%s\n' "$(shq "$PACKAGER")"
		if [ -n "$TARGET_ARCH" ]; then
			printf 'TARGET_ARCHITECTURE=%s\n' "$(shq "$TARGET_ARCH")"
		fi
	} > "$tmp"
	chmod 644 "$tmp"
	mv -f "$tmp" "$conf"
	log "wrote $conf"
}

# ------------------------------------------------------------ 8. summary --

print_host_key() {
	local hk="" pub
	# Ask sshd which host keys it will use; pick the plain ed25519 one (not
	# e.g. ssh_host_mldsa44-ed25519_key, which libssh would not use).
	hk=$("$SSHD_BIN" -T 2>/dev/null \
		| sed -n 's|^hostkey \(.*/ssh_host_ed25519_key\)$|\1|p' | sed -n 1p) || hk=""
	[ -n "$hk" ] || hk="$SYS_SETTINGS/ssh/ssh_host_ed25519_key"
	pub="$hk.pub"
	if [ ! -f "$pub" ]; then
		warn "no ed25519 host public key at $pub"
		return 0
	fi
	printf '\n---- sshd host public key (%s) ----\n' "$pub"
	cat "$pub"
	printf -- '---- fingerprint (compare with ssh-keygen -lf on the host) ----\n'
	ssh-keygen -l -f "$pub"
	printf -- '--------------------------------------------------------------\n'
}

main() {
	log "1/8 packages"
	install_packages
	install_haikuporter_from_git
	command -v git >/dev/null 2>&1 || die "git is not installed"
	if ! command -v haikuporter >/dev/null 2>&1 \
		&& [ ! -x "$NONPACKAGED_BIN/haikuporter" ]; then
		die "haikuporter is not installed (try --haikuporter-git URL)"
	fi

	log "2/8 authorized key"
	setup_authorized_keys
	log "3/8 sshd user and host keys"
	ensure_sshd_user
	ensure_host_keys
	log "4/8 sshd_config"
	write_sshd_config
	log "5/8 sshd service"
	ensure_sshd_service
	log "6/8 headless tweaks"
	crash_tweaks
	log "7/8 haikuports tree and haikuports.conf"
	setup_tree
	write_haikuports_conf

	log "8/8 checks"
	if "$SSHD_BIN" -t; then
		log "sshd -t: configuration OK"
	else
		die "sshd -t reports a problem with $SYS_SETTINGS/ssh/sshd_config"
	fi
	if command -v haikuporter >/dev/null 2>&1; then
		haikuporter --version || warn "haikuporter --version failed"
	else
		"$NONPACKAGED_BIN/haikuporter" --version || warn "haikuporter --version failed"
	fi
	if [ ! -e "$USER_SETTINGS/Locale settings" ]; then
		warn "\"$USER_SETTINGS/Locale settings\" is missing, so the first-boot"
		warn "language prompt comes up instead of the desktop on every boot"
		warn "until a language is chosen once (sshd is started either way)"
	fi
	print_host_key

	cat <<'EOF'

Done.  sshd reads its configuration only when it starts, so now:
  1. reboot:                     shutdown -r
  2. from the host, check key login, SFTP and the host key (README.md, step 6)
  3. power off:                  shutdown
EOF
}

main
