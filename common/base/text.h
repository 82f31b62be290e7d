/*
 * text: the lexical pieces the header, address, date and MIME parsers
 * share.
 */
#ifndef MS_TEXT_H
#define MS_TEXT_H

#include <stddef.h>

/* The longest excerpt of input that an error message quotes. */
#define MS_TEXT_QUOTE_MAX 60

/* The value of a hex digit or base64 character, -1 for any other. */
int ms_text_hexval(char);
int ms_text_b64val(char);

/* Skip white space (CR and LF included) and nested RFC 5322 comments in a
 * NUL-terminated string; an unterminated comment runs to the end. */
const char *ms_text_skip_cfws(const char *);

/*
 * A printable, bounded copy of s[0..n) for error messages: leading white
 * space dropped, control and 8-bit bytes as '?', "..." where cut at
 * MS_TEXT_QUOTE_MAX characters or at the size of dst.
 */
void ms_text_quote(const char *s, size_t n, char *dst, size_t size);

#endif
