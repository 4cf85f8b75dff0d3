/*
 * resolvable.h - what packages provide and require, parsed and matched as
 * HaikuPorter does (HaikuPorter/PackageInfo.py, ProvidesManager.py).
 *
 *	provides:  name [= version [compat >= version]]
 *	           (hpkg text form: "(compatible >= version)")
 *	requires:  name [op version] [base]      op: < <= == != >= >
 *
 * A requirement without an operator is met by any provider of the name. One
 * with an operator needs a provider with a version that compares as the
 * operator says (version.h), and whose compatible version, if it has one,
 * is not above the required version. "base" requirements are met only by
 * recipes, never by existing packages.
 */
#ifndef MAYFLY_RESOLVABLE_H
#define MAYFLY_RESOLVABLE_H

#include "pkg/hpkg.h"

struct requirement {
	char *name;
	enum hpkg_op op;	/* HPKG_OP_NONE: any version */
	char *version;		/* NULL with HPKG_OP_NONE */
	int base;
};

/* Parses a PROVIDES entry; MF_E_USAGE naming the text when malformed. */
int provide_parse(const char *text, struct hpkg_provide *out);
/* Parses a REQUIRES / BUILD_REQUIRES entry. */
int requirement_parse(const char *text, struct requirement *out);
void provide_release(struct hpkg_provide *p);
void requirement_release(struct requirement *r);
/* Operator text to enum, HPKG_OP_NONE when not an operator. */
enum hpkg_op resolvable_op(const char *s);

/* 1 if p (its name already equal to r's) meets r, else 0. */
int requirement_met_by(const struct requirement *r, const struct hpkg_provide *p);

/* "name >= 1.2 base" (allocated). */
char *requirement_string(const struct requirement *r);

#endif
