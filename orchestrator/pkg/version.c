/* version.c - see version.h. */
#include "pkg/version.h"

#include <ctype.h>
#include <string.h>

/* Compares n bytes of digits as numbers (leading zeros ignored). */
static int number_compare(const char *a, size_t na, const char *b, size_t nb)
{
	while (na > 1 && *a == '0') {
		a++;
		na--;
	}
	while (nb > 1 && *b == '0') {
		b++;
		nb--;
	}
	if (na != nb)
		return na < nb ? -1 : 1;
	int c = memcmp(a, b, na);
	return c < 0 ? -1 : c > 0;
}

/* Compares text case-insensitively, byte by byte. */
static int text_compare(const char *a, size_t na, const char *b, size_t nb)
{
	for (size_t i = 0; i < na && i < nb; i++) {
		int x = tolower((unsigned char)a[i]), y = tolower((unsigned char)b[i]);
		if (x != y)
			return x < y ? -1 : 1;
	}
	return na == nb ? 0 : na < nb ? -1 : 1;
}

/*
 * Natural compare of [a, a+na) and [b, b+nb): both are read as alternating
 * text and digit runs, starting with text (possibly empty), and compared
 * run by run; a string that runs out first is the lower.
 */
static int natural_n(const char *a, size_t na, const char *b, size_t nb)
{
	const char *ea = a + na, *eb = b + nb;
	int digits = 0;

	for (;;) {
		size_t la = 0, lb = 0;
		while (a + la < ea && !!isdigit((unsigned char)a[la]) == digits)
			la++;
		while (b + lb < eb && !!isdigit((unsigned char)b[lb]) == digits)
			lb++;
		int c = digits ? number_compare(a, la, b, lb) : text_compare(a, la, b, lb);
		/* An empty digit run stands for "no more runs". */
		if (digits && (la == 0 || lb == 0))
			c = la == lb ? 0 : la == 0 ? -1 : 1;
		if (c)
			return c;
		a += la;
		b += lb;
		if (a == ea && b == eb)
			return 0;
		if (a == ea || b == eb)
			return a == ea ? -1 : 1;
		digits = !digits;
	}
}

int natural_compare(const char *a, const char *b)
{
	return natural_n(a, strlen(a), b, strlen(b));
}

/* Dot-separated parts, each compared naturally; more parts sort higher. */
static int bare_compare(const char *a, size_t na, const char *b, size_t nb)
{
	size_t ia = 0, ib = 0;
	int more_a = 1, more_b = 1; /* "1." has two parts: "1" and "" */

	for (;;) {
		if (!more_a || !more_b)
			return more_a == more_b ? 0 : more_a ? 1 : -1;
		const char *da = memchr(a + ia, '.', na - ia), *db = memchr(b + ib, '.', nb - ib);
		size_t la = da ? (size_t)(da - (a + ia)) : na - ia;
		size_t lb = db ? (size_t)(db - (b + ib)) : nb - ib;
		int c = natural_n(a + ia, la, b + ib, lb);
		if (c)
			return c;
		more_a = da != NULL;
		more_b = db != NULL;
		ia += la + (da != NULL);
		ib += lb + (db != NULL);
	}
}

int version_compare(const char *a, const char *b)
{
	const char *ta = strchr(a, '~'), *tb = strchr(b, '~');
	size_t na = ta ? (size_t)(ta - a) : strlen(a), nb = tb ? (size_t)(tb - b) : strlen(b);
	int c = bare_compare(a, na, b, nb);

	if (c)
		return c;
	if (!ta || !tb)
		return !ta && !tb ? 0 : !ta ? 1 : -1; /* a pre-release sorts lower */
	return natural_compare(ta + 1, tb + 1);
}
