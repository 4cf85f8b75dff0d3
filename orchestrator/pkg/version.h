/*
 * version.h - Haiku package versions, compared as HaikuPorter compares them.
 *
 * A version is "major[.minor[.micro]][~pre_release]" (with "-revision"
 * where packages carry one). Dot-separated parts compare by natural order
 * (digit runs as numbers, other text case-insensitively); more parts sort
 * higher when the rest is equal; a pre-release sorts below the same
 * version without one (1.0~beta < 1.0).
 */
#ifndef MAYFLY_VERSION_H
#define MAYFLY_VERSION_H

/* Natural order of two strings: -1, 0 or 1. */
int natural_compare(const char *a, const char *b);
/* -1, 0 or 1, for versions without a revision. */
int version_compare(const char *a, const char *b);

#endif
