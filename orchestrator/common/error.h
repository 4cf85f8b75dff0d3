/*
 * error.h - the one place per thread where the last error lives.
 *
 * Functions return 0 on success and -1 on failure; the failing function
 * sets the message where the failure is first seen, with a class that
 * decides the exit status of the program:
 *
 *	if (stat(path, &st) < 0)
 *		return mf_error_errno(MF_E_USAGE, "cannot read '%s'", path);
 *
 * Callers that add context wrap the message ("cloning 'x': ...").
 *
 * Messages may carry text from outside (a guest's file names, a server's
 * answer): control characters other than newlines become '?' as the
 * message is set, so no message can move a terminal's cursor or recolour
 * it.
 */
#ifndef MAYFLY_ERROR_H
#define MAYFLY_ERROR_H

enum mf_errclass {
	MF_E_NONE = 0,
	MF_E_BUILD,	  /* the build failed: its command, or what it made (over a limit) */
	MF_E_USAGE,	  /* bad usage, config or input: the caller can fix it */
	MF_E_INFRA,	  /* libvirt, boot, SSH, transfer: the machinery failed */
	MF_E_TIMEOUT,	  /* a time limit was exceeded */
	MF_E_INTERRUPTED, /* a signal asked us to stop */
	MF_E_CONFLICT,	  /* a unique record already exists (internal use) */
};

#define MF_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Sets the error and returns -1. */
int mf_error(enum mf_errclass cls, const char *fmt, ...) MF_PRINTF(2, 3);
/* Same, with ": strerror(errno)" appended. */
int mf_error_errno(enum mf_errclass cls, const char *fmt, ...) MF_PRINTF(2, 3);
/* Prepends "context: " to the current message; keeps the class. Returns -1. */
int mf_error_wrap(const char *fmt, ...) MF_PRINTF(1, 2);
/* Gives the current error another class, its message unchanged. Returns -1. */
int mf_error_reclass(enum mf_errclass cls);

/* Keeps the current error across cleanup that may set its own. */
struct mf_error_saved {
	enum mf_errclass cls;
	char *msg;
};
void mf_error_save(struct mf_error_saved *s);
/* Makes the saved error current again and frees the copy. Returns -1. */
int mf_error_restore(struct mf_error_saved *s);

/* Replaces control characters (all but '\n' when keep_newlines) with '?'. */
void mf_scrub_controls(char *s, int keep_newlines);

const char *mf_error_msg(void);
enum mf_errclass mf_error_class(void);
void mf_error_clear(void);

/* Exit status for the class: 1 build, 2 usage, 3 infra, 4 timeout, 130 interrupt. */
int mf_error_exit_code(enum mf_errclass cls);

#endif
