/*
 * builder.h - HaikuPorter's builder protocol, as buildmaster speaks it, so
 * that a real Haiku builder image works unchanged: the builder.conf it
 * writes for each build, and the command line it runs.
 *
 * builder.conf is sourced by HaikuPorter with bash; every value in it was
 * checked when its image or tree was registered (no quotes, '$', '`' or
 * backslashes can reach it).
 */
#ifndef MAYFLY_BUILDER_H
#define MAYFLY_BUILDER_H

struct image;
struct tree;

/* builder.conf for a build of the tree on the image (caller frees). */
char *builder_conf(const struct image *img, const struct tree *t);

/*
 * buildmaster's command line for a port ("zlib-1.3.2"), exactly:
 *   source /boot/system/boot/SetupEnvironment && cd "<tree>" &&
 *   "<haikuporter>" --config="<tree>/builder.conf" --no-system-packages
 *   --no-package-obsoletion --ignore-messages <args> "<port>"
 * (--no-system-packages only when the image asks for it). Caller frees.
 */
char *builder_command(const struct image *img, const char *port);

#endif
