/*
 * report.h - JSON documents for people and programs (the jansson
 * boundary): a build's result and image records. Each function returns a
 * NUL-terminated string the caller frees.
 */
#ifndef MAYFLY_REPORT_H
#define MAYFLY_REPORT_H

#include <stddef.h>

struct build_result;
struct image;

char *report_build_json(const struct build_result *r);
char *report_image_json(const struct image *img);
char *report_images_json(struct image *const *v, size_t n);

#endif
