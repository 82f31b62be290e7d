/*
 * rfc2047: header value decoding to UTF-8.
 *
 * Encoded words (RFC 2047) in B and Q encodings, any charset iconv knows
 * (RFC 2231 language suffixes "charset*lang" accepted), whitespace between
 * adjacent encoded words dropped (RFC 2047 section 6.2), raw 8-bit text
 * taken as UTF-8 when valid and as windows-1252 otherwise. The result is
 * always valid UTF-8 without NULs.
 */
#ifndef MS_RFC2047_H
#define MS_RFC2047_H

#include <stddef.h>

/*
 * Decode the unstructured header value s[0..len). Returns a new string
 * (caller frees). When nbad is not NULL it receives the number of encoded
 * words that could not be decoded (unknown charset, bad base64, ...);
 * those are kept verbatim in the output.
 */
char *ms_rfc2047_decode(const char *s, size_t len, int *nbad);

/*
 * Convert s[0..len) from charset to UTF-8 with iconv. Returns a new string
 * or NULL (ms_err set) when the charset is unknown. Invalid input bytes
 * become U+FFFD.
 */
char *ms_charset_to_utf8(const char *charset, const char *s, size_t len);

/*
 * Text of unknown charset s[0..len) as UTF-8: valid UTF-8 sequences are
 * kept, any other byte is taken as windows-1252; NULs and bytes that
 * windows-1252 leaves undefined become U+FFFD. Returns a new string.
 */
char *ms_raw_to_utf8(const char *s, size_t len);

#endif
