/*
 * utf8: the one place that knows UTF-8's bytes: decoding, encoding,
 * validating, and the classes of characters that must never reach a
 * person's terminal. Pure functions: no allocation, no other module
 * (util.h's ms_utf8_sanitize builds on them).
 */
#ifndef MS_UTF8_H
#define MS_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define MS_UTF8_REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */

/*
 * Decode the character at s (at most n bytes) into *cp: its length, or
 * 0 when s does not start with a valid UTF-8 sequence (overlong forms,
 * surrogates and values past U+10FFFF are invalid) or starts with NUL.
 */
size_t ms_utf8_decode(const char *s, size_t n, uint32_t *cp);

/* Encode cp into out: its length (1 to 4), 0 when cp is not a Unicode
 * scalar value (a surrogate or past U+10FFFF) or is NUL. */
size_t ms_utf8_encode(uint32_t cp, char out[4]);

/* Whether s[0..len) is valid UTF-8 without NULs. */
int ms_utf8_valid(const char *s, size_t len);

/*
 * Whether cp is a control character that text from outside must never
 * carry to a terminal, a TSV field or a page: C0 (U+0000-U+001F), DEL,
 * C1 (U+0080-U+009F), and the bidi and invisible format controls
 * (U+061C, U+200B-U+200F, U+202A-U+202E, U+2060-U+2069, U+FEFF), which
 * reorder or hide what a person reads.
 */
int ms_utf8_is_control(uint32_t cp);

#endif
