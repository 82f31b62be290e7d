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

struct ms_buf;

/* A base64 decoder between two characters; zeroed to start. */
struct ms_text_b64 {
	unsigned int acc;
	size_t k; /* values in acc, 0 to 3 */
};

/* Add one character's value v (ms_text_b64val): every fourth completes
 * three bytes, which go to out. */
void ms_text_b64_add(struct ms_text_b64 *, int v, struct ms_buf *out);

/* End a run (at padding or the end of the input): the whole bytes of a
 * partial group go to out, and d starts again. Returns 1 when one value
 * was left alone (it makes no byte: the input was cut), else 0. */
int ms_text_b64_end(struct ms_text_b64 *d, struct ms_buf *out);

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
