/*
 * msg: RFC 5322 messages with MIME (RFC 2045-2049) bodies.
 */
#ifndef MS_MSG_H
#define MS_MSG_H

#include <stddef.h>
#include <time.h>

#include "addr.h"

/* Limits that keep hostile input bounded. */
#define MS_MSG_MAX_SIZE (64u * 1024 * 1024)
#define MS_MSG_MAX_HEADERS 10000
#define MS_MSG_MAX_DEPTH 16

struct ms_hdr {
	char *name; /* as written */
	char *value; /* unfolded (CRLF WSP -> WSP), raw, not decoded */
};

struct ms_msg {
	struct ms_hdr *hdrs;
	size_t nhdrs;
	char *subject; /* decoded UTF-8, "" if none */
	struct ms_addrlist from, to, cc;
	char *message_id; /* ms_msgid_normalize, or NULL */
	time_t date;
	int has_date;
	char *body; /* text body, UTF-8, "" if none */
	int has_attachments;
	int nwarn; /* things skipped while parsing */
	char warn[256]; /* the first of them */
};

/*
 * Parse a whole message buf[0..len) (CRLF or LF line ends). The text body
 * is the first text/plain part that is not an attachment (else the first
 * text/html part with tags stripped), transfer-decoded (quoted-printable,
 * base64, 7bit/8bit) and converted to UTF-8 from its charset. A message
 * has attachments when any part has Content-Disposition: attachment, or
 * a filename/name parameter, or is a non-text, non-multipart leaf that is
 * not inline-related (message/rfc822 counts as an attachment).
 *
 * Returns 0, or -1 with ms_err set when the message is unusable: no header
 * block, a header line without a colon, more than MS_MSG_MAX_HEADERS
 * headers, larger than MS_MSG_MAX_SIZE, no From address, an unparsable
 * Date. Minor problems are counted in nwarn, with the first in warn.
 * m is always safe to pass to ms_msg_finish.
 */
int ms_msg_parse(const char *buf, size_t len, struct ms_msg *m);
void ms_msg_finish(struct ms_msg *);

/* The first header named name (ASCII case-insensitive), or NULL. */
const char *ms_msg_header(const struct ms_msg *, const char *name);

/*
 * Split a header block only (for APIs that return headers one by one the
 * caller builds a ms_msg itself). Exposed for the header unit tests.
 */
int ms_msg_parse_headers(
    const char *buf, size_t len, struct ms_msg *m, size_t *body_off);

/*
 * MIME pieces other parsers share (the Gmail batch codec).
 *
 * ms_mime_split calls part() with each body part of a multipart body
 * s[0..len) delimited by boundary (the part's headers and content, the
 * line break before the next delimiter excluded): 0 when the close
 * delimiter ended it, 1 when it was missing (the last part ran to the
 * end), 2 when no delimiter was found at all, -1 when part() returned -1.
 */
int ms_mime_split(const char *s, size_t len, const char *boundary,
    int (*part)(const char *, size_t, void *), void *arg);

/* s with its HTML character references (&amp; &lt; &#39; &#x1F4CE; ...)
 * decoded, as in an HTML body or a Gmail snippet: a new string. */
char *ms_msg_unescape_html(const char *s);

/* The value of parameter name (RFC 2045, quoted or not) in a header
 * value such as a Content-Type: a new string, or NULL. */
char *ms_mime_param(const char *value, const char *name);

/*
 * Normalise a Message-ID header value: drop CFWS, keep the first
 * "<left@right>" (angle brackets added when missing). Returns a new
 * string, or NULL when there is no usable id.
 */
char *ms_msgid_normalize(const char *s);

/*
 * The text of one body part's content s[0..len), as a message's text body
 * is made: transfer-decoded (encoding "quoted-printable", "base64", else
 * as is), converted to UTF-8 from charset (NULL or "": as UTF-8, else
 * Latin-1), line ends LF, HTML tags stripped when html. For bodies read
 * in part (IMAP's BODY[1]<0.2048>): a truncated encoding or tag is
 * dropped, not an error. A new string.
 */
char *ms_msg_part_text(const char *encoding, const char *charset, int html,
    const char *s, size_t len);

/*
 * A snippet of at most max bytes (whole UTF-8 characters) of text: quoted
 * lines ("> ...") and signatures ("-- ") dropped, whitespace collapsed.
 */
char *ms_msg_snippet(const char *text, size_t max);

#endif
