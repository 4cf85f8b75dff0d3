/* recipe.c - see recipe.h. */
#include "ports/recipe.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/error.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "ports/mirror.h"
#include "ports/sandbox.h"
#include "store/db.h"

#define EVALUATOR_VERSION "mayfly-recipe-eval-1"
#define JOB_SECONDS 20		/* one recipe's evaluation, by default */
#define BATCH_MAX 400		/* recipes per sandbox */
#define OUTPUT_MAX (32u << 20)
#define FILE_MAX (4u << 20)	/* port files larger than this are not given to recipes */

/* The variables HaikuPorter reads back (with a _suffix: per package or index). */
static const char keys_pattern[] =
	"PROVIDES|REQUIRES|BUILD_REQUIRES|BUILD_PREREQUIRES|TEST_REQUIRES|ARCHITECTURES|"
	"SECONDARY_ARCHITECTURES|REVISION|PATCHES|ADDITIONAL_FILES|SOURCE_URI|CHECKSUM_SHA256|"
	"SOURCE_FILENAME|SOURCE_DIR|PACKAGE_NAME|PACKAGE_VERSION|DISABLE_SOURCE_PACKAGE|LICENSE|"
	"HOMEPAGE|SUMMARY";

/* --- freeing */

static void package_release(struct recipe_package *p)
{
	free(p->ext);
	mf_strv_free(p->provides);
	mf_strv_free(p->requires);
	free(p->architectures);
	free(p->secondary_architectures);
	free(p->package_name);
	free(p->package_version);
}

void recipe_free(struct recipe *r)
{
	if (!r)
		return;
	free(r->name);
	free(r->base_name);
	free(r->version);
	free(r->secondary_arch);
	free(r->error);
	free(r->summary);
	mf_strv_free(r->build_requires);
	mf_strv_free(r->build_prerequires);
	mf_strv_free(r->test_requires);
	mf_strv_free(r->patches);
	mf_strv_free(r->additional_files);
	mf_strv_free(r->licenses);
	for (size_t i = 0; i < r->nsources; i++) {
		mf_strv_free(r->sources[i].uris);
		free(r->sources[i].checksum);
		free(r->sources[i].filename);
		free(r->sources[i].dir);
	}
	free(r->sources);
	for (size_t i = 0; i < r->npackages; i++)
		package_release(&r->packages[i]);
	free(r->packages);
	free(r);
}

/* --- architectures */

static const char *const machine_arches[] = {
	"arm", "arm64", "m68k", "ppc", "ppc64", "riscv64", "sparc", "x86", "x86_64", "x86_gcc2",
	NULL,
};

enum arch_status recipe_arch_status(const char *architectures, const char *arch)
{
	enum arch_status all = ARCH_UNSUPPORTED, found = ARCH_UNSUPPORTED;
	char tok[64];
	int listed = 0;

	if (!architectures)
		return ARCH_UNSUPPORTED;
	for (const char *p = architectures; *p;) {
		size_t n = strcspn(p, " \t\n");
		if (n && n < sizeof(tok)) {
			enum arch_status s = ARCH_STABLE;
			size_t off = 0;
			if (p[0] == '!') {
				s = ARCH_BROKEN;
				off = 1;
			} else if (p[0] == '?') {
				s = ARCH_UNTESTED;
				off = 1;
			}
			snprintf(tok, sizeof(tok), "%.*s", (int)(n - off), p + off);
			for (char *c = tok; *c; c++)
				*c = (char)tolower((unsigned char)*c);
			if (!strcmp(tok, "all"))
				all = s;
			else if (!strcmp(tok, arch) || !strcmp(tok, "any")) {
				found = s;
				listed = 1;
			}
		}
		p += n;
		p += strspn(p, " \t\n");
	}
	/* "all" covers every machine architecture that is not named. */
	if (!listed) {
		for (const char *const *a = machine_arches; *a; a++)
			if (!strcmp(*a, arch))
				return all;
		return ARCH_UNSUPPORTED;
	}
	return found;
}

int recipe_arch_any(const char *architectures)
{
	for (const char *p = architectures ? architectures : ""; *p;) {
		size_t n = strcspn(p, " \t\n");
		if (n == 3 && !strncasecmp(p, "any", 3))
			return 1;
		p += n;
		p += strspn(p, " \t\n");
	}
	return 0;
}

/* --- parsing what bash printed */

struct kv {
	char *key;
	char *value;
};

/* "a\\nb" as printed back to "a\nb". */
static char *unescape(const char *v)
{
	struct strbuf sb = STRBUF_INIT;

	for (const char *p = v; *p; p++) {
		if (p[0] == '\\' && p[1] == 'n') {
			strbuf_addch(&sb, '\n');
			p++;
		} else {
			strbuf_addch(&sb, *p);
		}
	}
	return strbuf_detach(&sb);
}

/* A list value: its lines, stripped, without empty ones (and comments, with strip_comments). */
static char **list_of(const char *value, int lower, int strip_comments)
{
	char **v = xcalloc(1, sizeof(char *));
	size_t n = 0;

	for (const char *p = value ? value : ""; *p;) {
		size_t len = strcspn(p, "\n");
		char *line = xstrndup(p, len), *s = line, *e;
		if (strip_comments)
			s[strcspn(s, "#")] = '\0';
		while (isspace((unsigned char)*s))
			s++;
		e = s + strlen(s);
		while (e > s && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (*s) {
			if (lower)
				for (char *c = s; *c; c++)
					*c = (char)tolower((unsigned char)*c);
			v = xrealloc(v, (n + 2) * sizeof(char *));
			v[n++] = xstrdup(s);
			v[n] = NULL;
		}
		free(line);
		p += len;
		if (*p)
			p++;
	}
	return v;
}

static const char *get(const struct kv *v, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].key, key))
			return v[i].value;
	return NULL;
}

/* Per package keys: KEY for the base, KEY_ext for the package "ext". */
static int is_package_key(const char *base)
{
	static const char *const keys[] = { "PROVIDES", "REQUIRES", "ARCHITECTURES",
					    "SECONDARY_ARCHITECTURES", "PACKAGE_NAME",
					    "PACKAGE_VERSION", "LICENSE", "SUMMARY", NULL };
	for (const char *const *k = keys; *k; k++)
		if (!strcmp(*k, base))
			return 1;
	return 0;
}

static int is_index_key(const char *base)
{
	static const char *const keys[] = { "SOURCE_URI", "CHECKSUM_SHA256", "SOURCE_FILENAME",
					    "SOURCE_DIR", "PATCHES", NULL };
	for (const char *const *k = keys; *k; k++)
		if (!strcmp(*k, base))
			return 1;
	return 0;
}

static struct recipe_source *source_of(struct recipe *r, int index)
{
	for (size_t i = 0; i < r->nsources; i++)
		if (r->sources[i].index == index)
			return &r->sources[i];
	r->sources = xrealloc(r->sources, (r->nsources + 1) * sizeof(*r->sources));
	memset(&r->sources[r->nsources], 0, sizeof(r->sources[0]));
	r->sources[r->nsources].index = index;
	return &r->sources[r->nsources++];
}

static void strv_append(char ***v, char **more)
{
	size_t n = mf_strv_len(*v), m = mf_strv_len(more);

	*v = xrealloc(*v, (n + m + 1) * sizeof(char *));
	for (size_t i = 0; i < m; i++)
		(*v)[n + i] = more[i];
	(*v)[n + m] = NULL;
	free(more);
}

static int by_ext(const void *a, const void *b)
{
	return strcmp(((const struct recipe_package *)a)->ext,
		      ((const struct recipe_package *)b)->ext);
}

int recipe_parse_dump(struct recipe *r, const char *dump)
{
	struct kv *v = NULL;
	size_t n = 0;
	char **exts = xcalloc(1, sizeof(char *));
	size_t nexts = 0;

	/* Every KEY=VALUE line, and the package extensions that appear. */
	for (const char *p = dump; *p;) {
		size_t len = strcspn(p, "\n");
		const char *eq = memchr(p, '=', len);
		if (eq && eq > p) {
			v = xrealloc(v, (n + 1) * sizeof(*v));
			v[n].key = xstrndup(p, (size_t)(eq - p));
			char *raw = xstrndup(eq + 1, len - (size_t)(eq - p) - 1);
			v[n].value = unescape(raw);
			free(raw);
			n++;
		}
		p += len;
		if (*p)
			p++;
	}
	r->revision = -1;
	r->build_requires = xcalloc(1, sizeof(char *));
	r->build_prerequires = xcalloc(1, sizeof(char *));
	r->test_requires = xcalloc(1, sizeof(char *));
	r->patches = xcalloc(1, sizeof(char *));
	r->additional_files = xcalloc(1, sizeof(char *));
	r->licenses = xcalloc(1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		const char *k = v[i].key, *val = v[i].value;
		if (!strcmp(k, "REVISION")) {
			char *end;
			long rev = strtol(val, &end, 10);
			while (isspace((unsigned char)*end))
				end++;
			if (*val && !*end && rev >= 0)
				r->revision = (int)rev;
			continue;
		}
		if (!strcmp(k, "BUILD_REQUIRES")) {
			strv_append(&r->build_requires, list_of(val, 1, 1));
			continue;
		}
		if (!strcmp(k, "BUILD_PREREQUIRES")) {
			strv_append(&r->build_prerequires, list_of(val, 1, 1));
			continue;
		}
		if (!strcmp(k, "TEST_REQUIRES")) {
			strv_append(&r->test_requires, list_of(val, 1, 1));
			continue;
		}
		if (!strcmp(k, "ADDITIONAL_FILES")) {
			strv_append(&r->additional_files, list_of(val, 0, 0));
			continue;
		}
		if (!strcmp(k, "DISABLE_SOURCE_PACKAGE")) {
			r->disable_source_package = !strcasecmp(val, "yes") || !strcasecmp(val, "true");
			continue;
		}
		/* KEY or KEY_suffix: which base, which suffix? */
		const char *us = strchr(k, '_');
		char base[64];
		const char *suffix = NULL;
		snprintf(base, sizeof(base), "%s", k);
		if (!is_package_key(base) && !is_index_key(base)) {
			for (; us; us = strchr(us + 1, '_')) {
				snprintf(base, sizeof(base), "%.*s", (int)(us - k), k);
				if (is_package_key(base) || (is_index_key(base) &&
							     us[1] && !us[1 + strspn(us + 1, "0123456789")])) {
					suffix = us + 1;
					break;
				}
			}
			if (!suffix)
				continue; /* not ours */
		}
		if (is_index_key(base)) {
			int index = suffix ? atoi(suffix) : 1;
			if (!strcmp(base, "PATCHES")) {
				strv_append(&r->patches, list_of(val, 0, 1));
				continue;
			}
			struct recipe_source *s = source_of(r, index);
			if (!strcmp(base, "SOURCE_URI")) {
				mf_strv_free(s->uris);
				s->uris = list_of(val, 0, 0);
			} else if (!strcmp(base, "CHECKSUM_SHA256")) {
				free(s->checksum);
				s->checksum = xstrdup(val);
			} else if (!strcmp(base, "SOURCE_FILENAME")) {
				free(s->filename);
				s->filename = xstrdup(val);
			} else {
				free(s->dir);
				s->dir = xstrdup(val);
			}
			continue;
		}
		/* A package key: remember the extension. */
		const char *ext = suffix ? suffix : "";
		int known = 0;
		for (size_t j = 0; j < nexts; j++)
			known |= !strcmp(exts[j], ext);
		if (!known) {
			exts = xrealloc(exts, (nexts + 2) * sizeof(char *));
			exts[nexts++] = xstrdup(ext);
			exts[nexts] = NULL;
		}
		if (!strcmp(base, "LICENSE") && !suffix)
			strv_append(&r->licenses, list_of(val, 0, 0));
		if (!strcmp(base, "SUMMARY") && !suffix) {
			free(r->summary);
			r->summary = xstrdup(val);
		}
	}
	/* Sources without a URI are none (a lone SOURCE_DIR default, say). */
	for (size_t i = 0; i < r->nsources;) {
		if (!r->sources[i].uris || !r->sources[i].uris[0]) {
			mf_strv_free(r->sources[i].uris);
			free(r->sources[i].checksum);
			free(r->sources[i].filename);
			free(r->sources[i].dir);
			r->sources[i] = r->sources[--r->nsources];
			continue;
		}
		i++;
	}
	/* Packages: those whose PROVIDES is not empty; ARCHITECTURES is inherited. */
	const char *base_arch = get(v, n, "ARCHITECTURES");
	const char *base_sec = get(v, n, "SECONDARY_ARCHITECTURES");
	for (size_t j = 0; j < nexts; j++) {
		char key[96];
		const char *ext = exts[j], *sep = *ext ? "_" : "";
		snprintf(key, sizeof(key), "PROVIDES%s%s", sep, ext);
		char **provides = list_of(get(v, n, key), 1, 1);
		if (!provides[0]) {
			mf_strv_free(provides);
			continue;
		}
		r->packages = xrealloc(r->packages, (r->npackages + 1) * sizeof(*r->packages));
		struct recipe_package *p = &r->packages[r->npackages++];
		memset(p, 0, sizeof(*p));
		p->ext = xstrdup(ext);
		p->provides = provides;
		snprintf(key, sizeof(key), "REQUIRES%s%s", sep, ext);
		p->requires = list_of(get(v, n, key), 1, 1);
		snprintf(key, sizeof(key), "ARCHITECTURES%s%s", sep, ext);
		p->architectures = xstrdup_or_null(get(v, n, key) ? get(v, n, key) : base_arch);
		snprintf(key, sizeof(key), "SECONDARY_ARCHITECTURES%s%s", sep, ext);
		p->secondary_architectures = xstrdup_or_null(get(v, n, key) ? get(v, n, key) :
									     base_sec);
		if (*ext) {
			snprintf(key, sizeof(key), "PACKAGE_NAME_%s", ext);
			p->package_name = xstrdup_or_null(get(v, n, key));
			snprintf(key, sizeof(key), "PACKAGE_VERSION_%s", ext);
			p->package_version = xstrdup_or_null(get(v, n, key));
		}
	}
	if (r->npackages)
		qsort(r->packages, r->npackages, sizeof(*r->packages), by_ext);
	for (size_t i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].value);
	}
	free(v);
	mf_strv_free(exts);
	if (r->revision < 0)
		return mf_error(MF_E_USAGE, "the recipe sets no REVISION (a whole number)");
	if (r->npackages == 0 || *r->packages[0].ext)
		return mf_error(MF_E_USAGE, "the recipe's main package provides nothing (PROVIDES "
				"is empty)");
	return 0;
}

/* --- the script each recipe is evaluated by */

static const char *triple_of(const char *arch)
{
	static const char *const map[][2] = {
		{ "arm", "arm-unknown-haiku" },		{ "arm64", "aarch64-unknown-haiku" },
		{ "m68k", "m68k-unknown-haiku" },	{ "ppc", "powerpc-apple-haiku" },
		{ "ppc64", "powerpc64-unknown-haiku" }, { "riscv64", "riscv64-unknown-haiku" },
		{ "sparc", "sparc64-unknown-haiku" },	{ "x86", "i586-pc-haiku" },
		{ "x86_64", "x86_64-unknown-haiku" },	{ "x86_gcc2", "i586-pc-haiku" },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(map[i][0], arch))
			return map[i][1];
	return "unknown-unknown-haiku";
}

static void set_var(struct strbuf *sb, struct strbuf *revvars, const char *name, const char *value)
{
	strbuf_addf(sb, "%s='", name);
	for (const char *p = value; *p; p++) {
		if (*p == '\'')
			strbuf_addstr(sb, "'\\''");
		else
			strbuf_addch(sb, *p);
	}
	strbuf_addstr(sb, "'\n");
	if (strstr(value, "$REVISION"))
		strbuf_addf(revvars, "%s%s", revvars->len ? " " : "", name);
}

/*
 * The functions a recipe may call while it is read: Mayfly's own versions
 * of what HaikuPorter's evaluator offers (getPackagePrefix,
 * defineDebugInfoPackage) and updateRevisionVariables, which the prepared
 * recipe calls right after it sets REVISION.
 */
static const char functions[] =
	"getPackagePrefix()\n"
	"{\n"
	"	local ext=\"$1\" name version arches\n"
	"	eval \"name=\\\"\\$PACKAGE_NAME_$ext\\\"\"\n"
	"	if [ -z \"$name\" ]; then\n"
	"		eval \"arches=\\\"\\$ARCHITECTURES_$ext\\\"\"\n"
	"		case \"$arches\" in *any*) name=\"${portBaseName}_$ext\";; "
	"*) name=\"${portName}_$ext\";; esac\n"
	"	fi\n"
	"	eval \"version=\\\"\\$PACKAGE_VERSION_$ext\\\"\"\n"
	"	[ -n \"$version\" ] || version=\"$portVersion\"\n"
	"	echo \"$(dirname \"$installDestDir$portPackageLinksDir\")/$name-$version-$REVISION/.self\"\n"
	"}\n"
	"defineDebugInfoPackage()\n"
	"{\n"
	"	if [ \"$1\" = --directory ]; then shift 2; fi\n"
	"	local base=$1 entity\n"
	"	shift\n"
	"	PROVIDES_debuginfo=\"${base}_debuginfo = $portVersion\"\n"
	"	REQUIRES_debuginfo=\"$base == $portVersion base\"\n"
	"	while [ $# -ge 1 ]; do\n"
	"		entity=$(basename \"$1\")\n"
	"		PROVIDES_debuginfo=\"$PROVIDES_debuginfo\n\\\"debuginfo:${entity//-/_}($base)\\\" "
	"= $portVersion\"\n"
	"		shift\n"
	"	done\n"
	"}\n"
	"updateRevisionVariables()\n"
	"{\n"
	"	local v\n"
	"	for v in $revisionVariables; do eval \"$v=\\\"${!v}\\\"\"; done\n"
	"	unset revisionVariables\n"
	"}\n";

static void job_script(struct strbuf *sb, const struct recipe_env *env,
		       const struct recipe_job *j, const char *recipe_path)
{
	struct strbuf rev = STRBUF_INIT, dirs = STRBUF_INIT;
	const char *sec = j->secondary_arch;
	const char *eff = sec ? sec : env->target_arch;
	char *name = sec ? xasprintf("%s_%s", j->name, sec) : xstrdup(j->name);
	char *secdir = sec ? xasprintf("/%s", sec) : xstrdup("");
	char *suffix = sec ? xasprintf("_%s", sec) : xstrdup("");
	char *triple = xstrdup(triple_of(eff)), *tname = xstrdup(triple);
	char *basedir = xasprintf("%s/%s", env->tree_path, j->port_dir);
	char *versioned = xasprintf("%s-%s", name, j->version);
	char *links = xasprintf("/packages/%s-%s-$REVISION", name, j->version);
	char *prefix = xasprintf("%s/.self", links), *pkgname = NULL, *pkgmail = NULL;
	const char *lt = strchr(env->packager, '<');

	for (char *c = tname; *c; c++)
		if (*c == '-')
			*c = '_';
	pkgname = lt ? xstrndup(env->packager, (size_t)(lt - env->packager)) : xstrdup("");
	while (*pkgname && pkgname[strlen(pkgname) - 1] == ' ')
		pkgname[strlen(pkgname) - 1] = '\0';
	pkgmail = lt ? xstrndup(lt + 1, strcspn(lt + 1, ">")) : xstrdup("");

	set_var(sb, &rev, "portName", name);
	set_var(sb, &rev, "portBaseName", j->name);
	set_var(sb, &rev, "portVersion", j->version);
	set_var(sb, &rev, "portVersionedName", versioned);
	set_var(sb, &rev, "portBaseDir", basedir);
	set_var(sb, &rev, "haikuVersion", "r1~alpha1");
	set_var(sb, &rev, "buildArchitecture", env->target_arch);
	set_var(sb, &rev, "targetArchitecture", env->target_arch);
	set_var(sb, &rev, "jobs", "1");
	set_var(sb, &rev, "isCrossRepository", "false");
	set_var(sb, &rev, "portRevision", "$REVISION");
	char *full = xasprintf("%s-$REVISION", j->version);
	set_var(sb, &rev, "portFullVersion", full);
	char *revisioned = xasprintf("%s-%s", name, full);
	set_var(sb, &rev, "portRevisionedName", revisioned);
	set_var(sb, &rev, "packagerName", pkgname);
	set_var(sb, &rev, "packagerEmail", pkgmail);
	set_var(sb, &rev, "secondaryArchSubDir", secdir);
	set_var(sb, &rev, "secondaryArchSuffix", suffix);
	set_var(sb, &rev, "effectiveTargetArchitecture", eff);
	set_var(sb, &rev, "effectiveTargetMachineTriple", triple);
	set_var(sb, &rev, "effectiveTargetMachineTripleAsName", tname);
	set_var(sb, &rev, "portPackageLinksDir", links);
	set_var(sb, &rev, "prefix", prefix);
	char *sysconf = xasprintf("%s/.settings", links);
	set_var(sb, &rev, "sysconfDir", sysconf);
	/* The install directories, relative and under the prefix. */
	const char *const rel[][2] = {
		{ "dataDir", "data" }, { "dataRootDir", "data" }, { "binDir", "bin" },
		{ "sbinDir", "bin" }, { "libDir", "lib" }, { "includeDir", "develop/headers" },
		{ "oldIncludeDir", "develop/headers" }, { "docDir", "documentation/packages/" },
		{ "infoDir", "documentation/info" }, { "manDir", "documentation/man" },
		{ "libExecDir", "lib" }, { "sharedStateDir", "var" }, { "localStateDir", "var" },
		{ "addOnsDir", "add-ons" }, { "appsDir", "apps" }, { "debugInfoDir", "develop/debug" },
		{ "developDir", "develop" }, { "developDocDir", "develop/documentation/" },
		{ "developLibDir", "develop/lib" }, { "documentationDir", "documentation" },
		{ "fontsDir", "data/fonts" }, { "postInstallDir", "boot/post-install" },
		{ "preUninstallDir", "boot/pre-uninstall" }, { "preferencesDir", "preferences" },
		{ "settingsDir", "settings" },
	};
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		const char *n = rel[i][0], *val = rel[i][1];
		int with_sub = !strcmp(n, "binDir") || !strcmp(n, "sbinDir") || !strcmp(n, "libDir") ||
			       !strcmp(n, "includeDir") || !strcmp(n, "oldIncludeDir") ||
			       !strcmp(n, "addOnsDir") || !strcmp(n, "developLibDir");
		int with_name = !strcmp(n, "docDir") || !strcmp(n, "developDocDir");
		char *relval = xasprintf("%s%s%s", val, with_sub ? secdir : "", with_name ? name : "");
		char *relname = xasprintf("relative%c%s", toupper((unsigned char)n[0]), n + 1);
		char *abs = xasprintf("%s/%s", prefix, relval);
		set_var(sb, &rev, relname, relval);
		set_var(sb, &rev, n, abs);
		if (i < 13)
			strbuf_addf(&dirs, " --%s=%s", n, abs);
		free(relval);
		free(relname);
		free(abs);
	}
	char *args = xasprintf("--prefix=%s --sysconfdir=%s%s", prefix, sysconf, dirs.buf ? dirs.buf : "");
	for (char *c = args; *c; c++)
		if (*c >= 'A' && *c <= 'Z' && c > args && c[-1] != '=')
			*c = (char)tolower((unsigned char)*c);
	set_var(sb, &rev, "configureDirArgs", args);
	set_var(sb, &rev, "configureDirVariables",
		"prefix sysconfDir dataDir dataRootDir binDir sbinDir libDir includeDir "
		"oldIncludeDir docDir infoDir manDir libExecDir sharedStateDir localStateDir");
	char *srcdir = xasprintf("%s-%s", j->name, j->version);
	set_var(sb, &rev, "SOURCE_DIR", srcdir);
	if (rev.len)
		strbuf_addf(sb, "revisionVariables=\"%s\"\n", rev.buf);
	strbuf_addstr(sb, functions);
	strbuf_addf(sb, "set -e\n. '%s' >/dev/null\nset +e\n", recipe_path);
	/*
	 * The variables of interest, KEY and KEY_suffix, with bash's own
	 * ${!KEY@} (no process: this runs once per recipe, thousands of times).
	 */
	strbuf_addstr(sb, "NL=$'\\n'\n"
		      "dump() { local value=${!1}; printf '%s=%s\\n' \"$1\" \"${value//$NL/\\\\n}\"; }\n");
	for (const char *k = keys_pattern; *k;) {
		size_t len = strcspn(k, "|");
		strbuf_addf(sb, "for key in ${!%.*s@}; do [[ $key =~ ^%.*s(_[0-9a-zA-Z_]+)?$ ]] && "
			    "dump \"$key\"; done\n", (int)len, k, (int)len, k);
		k += len;
		k += *k == '|';
	}
	free(args);
	free(srcdir);
	free(sysconf);
	free(full);
	free(revisioned);
	strbuf_release(&rev);
	strbuf_release(&dirs);
	free(name);
	free(secdir);
	free(suffix);
	free(triple);
	free(tname);
	free(basedir);
	free(versioned);
	free(links);
	free(prefix);
	free(pkgname);
	free(pkgmail);
}

/*
 * HaikuPorter's prepared copy of a recipe: after each REVISION="..." the
 * variables that mention $REVISION are evaluated again.
 */
static char *prepare(const char *text)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p = text, *m;

	while ((m = strstr(p, "REVISION=\""))) {
		const char *q = strchr(m + 10, '"');
		if (!q)
			break;
		strbuf_add(&sb, p, (size_t)(q + 1 - p));
		strbuf_addstr(&sb, "; updateRevisionVariables ");
		p = q + 1;
	}
	strbuf_addstr(&sb, p);
	return strbuf_detach(&sb);
}

/* --- the cache */

struct port_files {
	struct strbuf ids;	/* "path blob\n" of every file of the port dir */
};

static int collect_ids(void *arg, const struct mirror_entry *e)
{
	struct port_files *f = arg;

	strbuf_addf(&f->ids, "%s %s %o\n", e->path, e->blob, (unsigned)e->mode);
	return 0;
}

static char *cache_key(const struct recipe_env *env, const struct recipe_job *j,
		       const char *ids)
{
	struct sha256 *h = sha256_new();
	char hex[SHA256_HEX_LEN];
	char *head = xasprintf("%s\n%s\n%s\n%s\n%d\n%s\n%s\n%s\n%s\n%s\n", EVALUATOR_VERSION,
			       env->target_arch, env->tree_path, env->packager,
			       env->allow_untested, j->port_dir, j->file, j->name, j->version,
			       j->secondary_arch ? j->secondary_arch : "");

	sha256_update(h, head, strlen(head));
	sha256_update(h, ids, strlen(ids));
	sha256_finish(h, hex);
	free(head);
	return xstrdup(hex);
}

static int cache_get(struct db *db, const char *key, char **value)
{
	struct db_stmt *st;
	int rc;

	*value = NULL;
	if (db_prepare(db, &st, "SELECT value FROM recipe_cache WHERE key = ?") < 0)
		return -1;
	db_bind_text(st, 1, key);
	rc = db_step(st);
	if (rc == 1)
		*value = xstrdup(db_col_text(st, 0));
	db_finalize(st);
	if (rc == 1)
		db_execf(db, "UPDATE recipe_cache SET used = ? WHERE key = ?", "it",
			 mf_wall_seconds(), key);
	return rc < 0 ? -1 : 0;
}

static void cache_put(struct db *db, const char *key, const char *value)
{
	if (db_execf(db, "INSERT OR REPLACE INTO recipe_cache (key, value, used) VALUES (?, ?, ?)",
		     "tti", key, value, mf_wall_seconds()) < 0) {
		log_warnx("recipe cache: %s", mf_error_msg());
		mf_error_clear();
	}
}

/* --- running a batch */

struct work {
	char dir[64];
	char *ports;		/* dir/ports: port directories, at tree_path inside */
};

struct write_ctx {
	struct mirror *m;
	const char *root;
};

static int write_entry(void *arg, const struct mirror_entry *e)
{
	struct write_ctx *w = arg;
	char *path = xasprintf("%s/%s", w->root, e->path), *slash, *data = NULL;
	size_t len = 0;
	int ret = -1;

	slash = strrchr(path, '/');
	*slash = '\0';
	if (mf_mkdir_p(path, 0755) < 0)
		goto out;
	*slash = '/';
	if (mirror_read_blob(w->m, e->blob, &data, &len) < 0)
		goto out;
	if (e->mode == 0120000) {
		/* Symlinks stay symlinks; they lead nowhere outside the sandbox. */
		unlink(path);
		ret = symlink(data, path) < 0 ? mf_error_errno(MF_E_INFRA, "cannot link '%s'",
							       path) : 0;
		goto out;
	}
	if (len > FILE_MAX) {
		ret = 0;
		goto out;
	}
	ret = mf_write_file_atomic(path, data, len, e->mode == 0100755 ? 0755 : 0644);
out:
	free(data);
	free(path);
	return ret;
}

/* Runs jobs [from, to) of the batch; fills dump[i] (or errs[i]) for those it finished. */
static int job_seconds(const struct recipe_env *env)
{
	return env->timeout_s > 0 ? env->timeout_s : JOB_SECONDS;
}

static int run_batch(const struct work *w, const struct recipe_env *env, size_t count,
		     char **dump, char **errs, int *finished)
{
	struct sandbox_bind binds[] = {
		{ w->dir, "/mayfly" },
		{ w->ports, env->tree_path },
	};
	const char *argv[] = { "/bin/bash", "--noprofile", "--norc", "/mayfly/driver.sh", NULL };
	struct sandbox_opts o = {
		.binds = binds,
		.nbinds = 2,
		.argv = argv,
		.timeout_ms = (int)((count * (size_t)job_seconds(env) + 10) * 1000),
		.step_marker = "@@mayfly-job ",
		.step_timeout_ms = job_seconds(env) * 1000,
		.max_output = OUTPUT_MAX,
		.max_procs = 128,
		.cpu_seconds = job_seconds(env),
		.memory_mb = 1024,
		.tmp_mb = 64,
	};
	struct sandbox_result r;
	size_t last = 0;

	if (sandbox_run(&o, &r) < 0)
		return -1;
	/* Sections: "@@mayfly-job N" ... "@@mayfly-end N STATUS" then one line of stderr. */
	for (const char *p = r.out; p && *p;) {
		unsigned long job, st;
		int used = 0;
		if (sscanf(p, "@@mayfly-job %lu%n", &job, &used) == 1 && job < count) {
			const char *body = strchr(p, '\n');
			if (!body)
				break;
			body++;
			char *endmark = xasprintf("\n@@mayfly-end %lu ", job);
			const char *end = strstr(body - 1, endmark);
			free(endmark);
			if (!end)
				break; /* killed while this one ran */
			if (sscanf(end + 1, "@@mayfly-end %lu %lu", &job, &st) != 2)
				break;
			const char *errline = strchr(end + 1, '\n');
			errline = errline ? errline + 1 : end + strlen(end);
			size_t elen = strcspn(errline, "\n");
			if (st == 0) {
				dump[job] = xstrndup(body, (size_t)(end + 1 - body));
			} else if (st == 200) {
				errs[job] = xstrdup("the recipe left processes running (it forks "
						    "endlessly or starts a daemon) and was cut off");
			} else if (st == 137) {
				errs[job] = xasprintf("the recipe ran longer than %d s or used more "
						      "than its share of memory or processes, and "
						      "was cut off", job_seconds(env));
			} else {
				char *e = xstrndup(errline, elen), *msg = e;
				/* "/mayfly/recipe-3: line 2: ...": the caller names the file. */
				if (!strncmp(msg, "/mayfly/recipe-", 15)) {
					char *colon = strstr(msg, ": ");
					if (colon)
						msg = colon + 2;
				}
				memmove(e, msg, strlen(msg) + 1);
				mf_scrub_controls(e, 0);
				errs[job] = xasprintf("bash could not evaluate it (status %lu): %s",
						      st, *e ? e : "no message");
				free(e);
			}
			finished[job] = 1;
			last = job + 1;
			p = errline + elen;
			if (*p)
				p++;
			continue;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	/* Killed: the job that ran is to blame; the rest run again elsewhere. */
	if ((r.timed_out || r.output_full) && last < count && !finished[last]) {
		errs[last] = xstrdup(r.output_full ? "the recipe printed more than 32 MiB and was "
						     "cut off" : "the recipe did not finish in time "
						     "and was cut off");
		finished[last] = 1;
	}
	sandbox_result_release(&r);
	return 0;
}

int recipe_evaluate(struct db *db, struct mirror *m, const char *commit,
		    const struct recipe_env *env, const struct recipe_job *jobs, size_t n,
		    struct recipe **out)
{
	char **keys = xcalloc(n + 1, sizeof(char *)), **dump = xcalloc(n + 1, sizeof(char *));
	char **errs = xcalloc(n + 1, sizeof(char *));
	size_t *todo = xcalloc(n + 1, sizeof(size_t)), ntodo = 0;
	struct work w = { .dir = "" };
	int ret = -1;

	for (size_t i = 0; i < n; i++)
		out[i] = NULL;
	/* The cache first: keyed by the port directory's files. */
	for (size_t i = 0; i < n; i++) {
		struct port_files f = { STRBUF_INIT };
		if (mirror_walk(m, commit, jobs[i].port_dir, collect_ids, &f) < 0) {
			strbuf_release(&f.ids);
			goto out;
		}
		keys[i] = cache_key(env, &jobs[i], strbuf_str(&f.ids));
		strbuf_release(&f.ids);
		char *cached = NULL;
		if (cache_get(db, keys[i], &cached) < 0)
			goto out;
		if (cached && !strncmp(cached, "OK\n", 3))
			dump[i] = xstrdup(cached + 3);
		else if (cached && !strncmp(cached, "ERR\n", 4))
			errs[i] = xstrdup(cached + 4);
		else
			todo[ntodo++] = i;
		free(cached);
	}
	if (ntodo) {
		snprintf(w.dir, sizeof(w.dir), "/tmp/mayfly-eval-XXXXXX");
		if (!mkdtemp(w.dir) || chmod(w.dir, 0755) < 0) {
			mf_error_errno(MF_E_INFRA, "cannot make a directory for the recipe sandbox");
			w.dir[0] = '\0';
			goto out;
		}
		w.ports = xasprintf("%s/ports", w.dir);
	}
	while (ntodo) {
		size_t count = ntodo < BATCH_MAX ? ntodo : BATCH_MAX;
		struct strbuf driver = STRBUF_INIT;
		int *finished = xcalloc(count, sizeof(int));
		char **bd = xcalloc(count, sizeof(char *)), **be = xcalloc(count, sizeof(char *));
		int rc = 0;

		mf_rm_rf(w.ports);
		mf_mkdir_p(w.ports, 0755);
		/*
		 * Whatever a recipe left running (a fork bomb, a daemon) is killed
		 * before the next recipe: stopped first, so that a fork bomb cannot
		 * fork while it dies. A recipe that exited 0 but left processes is
		 * cut off (200). Zombies (killed, not yet reaped by the sandbox's
		 * init) do not count.
		 */
		strbuf_addstr(&driver, "left() {\n"
				       "	local p st\n"
				       "	for p in /proc/[0-9]*; do\n"
				       "		p=${p#/proc/}\n"
				       "		if [ \"$p\" = 1 ] || [ \"$p\" = $$ ]; then continue; fi\n"
				       "		read -r st < /proc/$p/stat 2>/dev/null || continue\n"
				       "		st=${st##*) }\n"
				       "		[ \"${st%% *}\" = Z ] || return 0\n"
				       "	done\n"
				       "	return 1\n"
				       "}\n");
		strbuf_addf(&driver, "for n in $(seq 0 $(( COUNT - 1 ))); do\n"
				       "	printf '@@mayfly-job %%d\\n' \"$n\"\n"
				       /* Its time limit: the sandbox's per step (CPU: its rlimit). */
				       "	bash --noprofile --norc /mayfly/job-$n.sh 2>/tmp/err\n");
		strbuf_addstr(&driver, ""
				       "	s=$?\n"
				       "	if left; then sleep 0.2; fi\n"
				       "	i=0\n"
				       "	while [ $i -lt 50 ] && left; do\n"
				       "		kill -STOP -1 2>/dev/null; kill -KILL -1 2>/dev/null\n"
				       "		[ $s != 0 ] || s=200\n"
				       "		i=$((i + 1)); sleep 0.05\n"
				       "	done\n"
				       "	printf '\\n@@mayfly-end %d %d\\n' \"$n\" \"$s\"\n"
				       /* The first 1000 bytes of stderr on one line, without a process. */
				       "	e=; read -r -d '' -N 1000 e < /tmp/err\n"
				       "	printf '%s\\n' \"${e//$'\\n'/ }\"\n"
				       "done\n");
		char *drv = xasprintf("COUNT=%zu\n%s", count, driver.buf);
		char *path = xasprintf("%s/driver.sh", w.dir);
		rc = mf_write_file_atomic(path, drv, strlen(drv), 0644);
		free(path);
		free(drv);
		strbuf_release(&driver);
		for (size_t k = 0; rc == 0 && k < count; k++) {
			const struct recipe_job *j = &jobs[todo[k]];
			struct write_ctx wc = { m, w.ports };
			char *text = NULL, *prepared, *rpath = xasprintf("%s/%s", j->port_dir, j->file);
			struct strbuf script = STRBUF_INIT;
			/* The port directory (patches, additional files a recipe may read). */
			rc = mirror_walk(m, commit, j->port_dir, write_entry, &wc);
			if (rc == 0 && mirror_read_path(m, commit, rpath, &text, NULL, NULL) <= 0)
				rc = mf_error(MF_E_USAGE, "no recipe '%s' at %.12s", rpath, commit);
			if (rc == 0) {
				prepared = prepare(text);
				char *p = xasprintf("%s/recipe-%zu", w.dir, k);
				rc = mf_write_file_atomic(p, prepared, strlen(prepared), 0644);
				free(p);
				free(prepared);
				char *inside = xasprintf("/mayfly/recipe-%zu", k);
				job_script(&script, env, j, inside);
				free(inside);
				p = xasprintf("%s/job-%zu.sh", w.dir, k);
				if (rc == 0)
					rc = mf_write_file_atomic(p, script.buf, script.len, 0644);
				free(p);
			}
			strbuf_release(&script);
			free(text);
			free(rpath);
		}
		if (rc == 0)
			rc = run_batch(&w, env, count, bd, be, finished);
		if (rc < 0) {
			for (size_t k = 0; k < count; k++) {
				free(bd[k]);
				free(be[k]);
			}
			free(bd);
			free(be);
			free(finished);
			goto out;
		}
		/* Keep what finished (and cache it); run the rest again. */
		size_t left = 0;
		for (size_t k = 0; k < count; k++) {
			size_t i = todo[k];
			if (!finished[k]) {
				todo[left++] = i;
				continue;
			}
			dump[i] = bd[k];
			errs[i] = be[k];
			/* Cut-offs may be the machine's load: only real outcomes are cached. */
			if (dump[i]) {
				char *v = xasprintf("OK\n%s", dump[i]);
				cache_put(db, keys[i], v);
				free(v);
			} else if (errs[i] && strncmp(errs[i], "the recipe", 10)) {
				char *v = xasprintf("ERR\n%s", errs[i]);
				cache_put(db, keys[i], v);
				free(v);
			}
		}
		for (size_t k = count; k < ntodo; k++)
			todo[left++] = todo[k];
		if (left == ntodo) {
			/* Nothing finished at all: the sandbox itself is broken. */
			mf_error(MF_E_INFRA, "the recipe sandbox finished no recipe");
			free(bd);
			free(be);
			free(finished);
			goto out;
		}
		ntodo = left;
		free(bd);
		free(be);
		free(finished);
	}
	for (size_t i = 0; i < n; i++) {
		struct recipe *r = xcalloc(1, sizeof(*r));
		r->base_name = xstrdup(jobs[i].name);
		r->name = jobs[i].secondary_arch ? xasprintf("%s_%s", jobs[i].name,
							     jobs[i].secondary_arch) :
						   xstrdup(jobs[i].name);
		r->version = xstrdup(jobs[i].version);
		r->secondary_arch = xstrdup_or_null(jobs[i].secondary_arch);
		if (errs[i]) {
			r->error = xstrdup(errs[i]);
		} else if (recipe_parse_dump(r, dump[i] ? dump[i] : "") < 0) {
			r->error = xstrdup(mf_error_msg());
			mf_error_clear();
		}
		out[i] = r;
	}
	ret = 0;
out:
	if (w.dir[0])
		mf_rm_rf(w.dir);
	free(w.ports);
	mf_strv_free(keys);
	for (size_t i = 0; i < n; i++) {
		free(dump[i]);
		free(errs[i]);
	}
	free(dump);
	free(errs);
	free(todo);
	return ret;
}
