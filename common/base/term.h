/*
 * term: the one sanitizer between text from outside (email headers,
 * snippets, bodies, provider replies, file contents) and a person. Every
 * output for people, and every diagnostic, passes through it: invalid
 * UTF-8 and the control characters of ms_utf8_is_control() never reach
 * a terminal, so no email can move the cursor, retitle the window, hide
 * or reorder what is shown. Every other character is kept.
 */
#ifndef MS_TERM_H
#define MS_TERM_H

#include <stddef.h>
#include <stdio.h>

#include "util.h"

enum {
	/* Keep line feeds (the body of --view); else they become spaces. */
	MS_TERM_NEWLINES = 1 << 0,
	/* Every control character becomes a space (TSV fields), rather
	 * than U+FFFD; white space controls are spaces in any mode. */
	MS_TERM_SPACES = 1 << 1,
	/* Control characters are dropped (HTML), white space kept as a
	 * space. */
	MS_TERM_DROP = 1 << 2,
};

/*
 * Append s[0..n) to b, safe to show: invalid UTF-8 sequences become
 * U+FFFD; tab, CR, LF, VT and FF become a space (LF kept with
 * MS_TERM_NEWLINES); any other control character becomes U+FFFD, or a
 * space with MS_TERM_SPACES, or nothing with MS_TERM_DROP.
 */
void ms_term_add(struct ms_buf *b, const char *s, size_t n, int flags);

/* The same, as a new string. */
char *ms_term_clean(const char *s, int flags);

/* Write s to f, cleaned; -1 on a write error. */
int ms_term_fputs(const char *s, int flags, FILE *f);

#endif
