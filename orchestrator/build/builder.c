/* builder.c - see builder.h. */
#include "build/builder.h"

#include "common/strbuf.h"
#include "common/util.h"
#include "store/images.h"
#include "store/trees.h"

char *builder_conf(const struct image *img, const struct tree *t)
{
	const struct image_settings *s = &img->settings;
	struct strbuf sb = STRBUF_INIT;

	/* The keys and form of buildmaster's own (KEY="value", lists space-joined). */
	strbuf_addf(&sb, "TREE_PATH=\"%s\"\n", s->tree_path);
	strbuf_addf(&sb, "PACKAGES_PATH=\"%s\"\n", s->packages_dir);
	strbuf_addf(&sb, "PACKAGER=\"%s\"\n", t->packager);
	strbuf_addf(&sb, "TARGET_ARCHITECTURE=\"%s\"\n", s->target_arch);
	strbuf_addf(&sb, "SECONDARY_TARGET_ARCHITECTURES=\"%s\"\n", s->secondary_arches);
	strbuf_addf(&sb, "ALLOW_UNTESTED=\"%s\"\n", t->allow_untested ? "yes" : "no");
	strbuf_addf(&sb, "ALLOW_UNSAFE_SOURCES=\"%s\"\n", t->allow_unsafe_sources ? "yes" : "no");
	strbuf_addf(&sb, "CREATE_SOURCE_PACKAGES=\"%s\"\n",
		    t->create_source_packages ? "yes" : "no");
	return strbuf_detach(&sb);
}

char *builder_command(const struct image *img, const char *port)
{
	const struct image_settings *s = &img->settings;

	return xasprintf("source /boot/system/boot/SetupEnvironment && cd \"%s\" && \"%s\" "
			 "--config=\"%s/builder.conf\"%s --no-package-obsoletion --ignore-messages"
			 "%s%s \"%s\"", s->tree_path, s->haikuporter, s->tree_path,
			 s->no_system_packages ? " --no-system-packages" : "",
			 *s->haikuporter_args ? " " : "", s->haikuporter_args, port);
}
