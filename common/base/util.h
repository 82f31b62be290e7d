/*
 * util: allocation wrappers, the error slot, a growable buffer and small
 * string helpers shared by every module.
 *
 * Error convention: library functions that fail call ms_err() (which
 * records a one-line message and returns -1) and return -1, NULL or false.
 * Only cmd/ prints the message, with ms_errstr().
 */
#ifndef MS_UTIL_H
#define MS_UTIL_H

#include <stdarg.h>
#include <stddef.h>

#include "utf8.h" /* ms_utf8_sanitize builds on it */

#define MS_ATTR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define MS_DEAD __attribute__((noreturn))

/* Out-of-memory in these wrappers is the one case where common/ exits. */
void *ms_xmalloc(size_t);
void *ms_xcalloc(size_t, size_t);
void *ms_xreallocarray(void *, size_t, size_t);
char *ms_xstrdup(const char *);
char *ms_xstrndup(const char *, size_t);
char *ms_xasprintf(const char *, ...) MS_ATTR_PRINTF(1, 2);

/* Record a one-line error message; always returns -1. */
int ms_err(const char *, ...) MS_ATTR_PRINTF(1, 2);
/* The same, with the sysexits(3) code that fits the failure (EX_DATAERR
 * for bad input, EX_TEMPFAIL for a busy database, ...). */
int ms_errc(int code, const char *, ...) MS_ATTR_PRINTF(2, 3);
/* The last recorded message ("" when none). */
const char *ms_errstr(void);
/* The code of the last error (EX_SOFTWARE when ms_err() recorded it). */
int ms_errcode(void);

/* A growable byte buffer, always NUL-terminated when len > 0. */
struct ms_buf {
	char *s;
	size_t len;
	size_t cap;
};

void ms_buf_add(struct ms_buf *, const char *, size_t);
void ms_buf_addc(struct ms_buf *, char);
void ms_buf_adds(struct ms_buf *, const char *);
void ms_buf_printf(struct ms_buf *, const char *, ...) MS_ATTR_PRINTF(2, 3);
/* Hand over the string (never NULL, "" when empty) and reset the buffer. */
char *ms_buf_steal(struct ms_buf *);
void ms_buf_finish(struct ms_buf *);

/* ASCII-only helpers: locale-independent. */
int ms_ascii_casecmp(const char *, const char *);
int ms_ascii_ncasecmp(const char *, const char *, size_t);
char ms_ascii_lower(char);

/* Return a copy of s, length len, with every invalid UTF-8 sequence and
 * every NUL replaced by U+FFFD (utf8.h has the rest of UTF-8). */
char *ms_utf8_sanitize(const char *s, size_t len);

/* Read a whole file (or stdin when path is NULL or "-") into memory, up to
 * max bytes. Returns the data (NUL-terminated, *lenp set) or NULL. */
/* A vector of n owned strings: append s (taken), free all. */
void ms_strv_add(char ***v, size_t *n, char *s);
void ms_strv_free(char **v, size_t n);

char *ms_read_all(const char *path, size_t max, size_t *lenp);

#endif
