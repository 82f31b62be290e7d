/*
 * rfc2047: encoded-word decoding and charset conversion to UTF-8.
 */
#include "rfc2047.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "text.h"
#include "utf8.h"
#include "util.h"

#define REPL "\xef\xbf\xbd" /* U+FFFD */
#define REPL_LEN 3
#define MAX_CHARSET 64

/* Pending state of one decoding run. */
struct dec {
	struct ms_buf out; /* decoded UTF-8 so far */
	struct ms_buf raw; /* plain text not yet added to out */
	struct ms_buf ws; /* white space seen after the last token */
	struct ms_buf ew; /* bytes of adjacent encoded words */
	char cs[MAX_CHARSET + 1]; /* their charset */
	char okcs[MAX_CHARSET + 1]; /* last charset known good */
	int nbad;
};

/* One encoded word "=?charset?e?text?=" found at some position. */
struct ew {
	size_t len; /* whole word */
	char cs[MAX_CHARSET + 1];
	char enc; /* 'b' or 'q' */
	const char *text;
	size_t textlen;
};

static int
is_especial(char c)
{
	return strchr("()<>@,;:\"/[]?.=", c) != NULL;
}

static int
charset_name_ok(const char *cs)
{
	size_t i;

	if (cs[0] == '\0')
		return 0;
	for (i = 0; cs[i] != '\0'; i++) {
		unsigned char c = (unsigned char)cs[i];

		if (i >= MAX_CHARSET || c <= 0x20 || c >= 0x7f || c == '/')
			return 0;
	}
	return 1;
}

static int
is_utf8_charset(const char *cs)
{
	return ms_ascii_casecmp(cs, "utf-8") == 0 ||
	    ms_ascii_casecmp(cs, "utf8") == 0 ||
	    ms_ascii_casecmp(cs, "us-ascii") == 0 ||
	    ms_ascii_casecmp(cs, "ascii") == 0;
}

/* Append s[0..n), NULs replaced with U+FFFD. */
static void
add_no_nul(struct ms_buf *b, const char *s, size_t n)
{
	const char *z;

	while (n > 0 && (z = memchr(s, '\0', n)) != NULL) {
		ms_buf_add(b, s, (size_t)(z - s));
		ms_buf_add(b, REPL, REPL_LEN);
		n -= (size_t)(z - s) + 1;
		s = z + 1;
	}
	ms_buf_add(b, s, n);
}

/* Append the UTF-8 form of s[0..n) in charset cs to out; -1 if unknown. */
static int
convert(const char *cs, const char *s, size_t n, struct ms_buf *out)
{
	char chunk[4096], *in = (char *)s, *op;
	size_t inleft = n, outleft, r;
	size_t start = out->len;
	iconv_t cd;
	char *fix;

	if (!charset_name_ok(cs))
		return -1;
	if (is_utf8_charset(cs)) {
		fix = ms_utf8_sanitize(s, n);
		ms_buf_adds(out, fix);
		free(fix);
		return 0;
	}
	if ((cd = iconv_open("UTF-8", cs)) == (iconv_t)-1)
		return -1;
	while (inleft > 0) {
		op = chunk;
		outleft = sizeof(chunk);
		r = iconv(cd, &in, &inleft, &op, &outleft);
		add_no_nul(out, chunk, (size_t)(op - chunk));
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG)
			continue;
		ms_buf_add(out, REPL, REPL_LEN);
		if (errno == EINVAL) /* incomplete sequence at the end */
			break;
		in++; /* EILSEQ: skip one byte */
		inleft--;
	}
	op = chunk;
	outleft = sizeof(chunk);
	iconv(cd, NULL, NULL, &op, &outleft);
	add_no_nul(out, chunk, (size_t)(op - chunk));
	iconv_close(cd);
	/* Belt and braces: a converter must not hand out invalid UTF-8. */
	if (out->len > start &&
	    !ms_utf8_valid(out->s + start, out->len - start)) {
		fix = ms_utf8_sanitize(out->s + start, out->len - start);
		out->len = start;
		ms_buf_adds(out, fix);
		free(fix);
	}
	return 0;
}

char *
ms_charset_to_utf8(const char *charset, const char *s, size_t len)
{
	struct ms_buf b = {0};

	if (convert(charset, s, len, &b) == -1) {
		ms_buf_finish(&b);
		ms_err("unknown charset \"%.*s\"", MAX_CHARSET, charset);
		return NULL;
	}
	return ms_buf_steal(&b);
}

/* Whether iconv (or we) can convert from cs; remembers the last hit. */
static int
charset_known(struct dec *d, const char *cs)
{
	iconv_t cd;

	if (!charset_name_ok(cs))
		return 0;
	if (is_utf8_charset(cs) || ms_ascii_casecmp(cs, d->okcs) == 0)
		return 1;
	if ((cd = iconv_open("UTF-8", cs)) == (iconv_t)-1)
		return 0;
	iconv_close(cd);
	strlcpy(d->okcs, cs, sizeof(d->okcs));
	return 1;
}

/* windows-1252 0x80..0x9F (0 where undefined). */
static const unsigned short cp1252[32] = {
    0x20ac,
    0,
    0x201a,
    0x0192,
    0x201e,
    0x2026,
    0x2020,
    0x2021,
    0x02c6,
    0x2030,
    0x0160,
    0x2039,
    0x0152,
    0,
    0x017d,
    0,
    0,
    0x2018,
    0x2019,
    0x201c,
    0x201d,
    0x2022,
    0x2013,
    0x2014,
    0x02dc,
    0x2122,
    0x0161,
    0x203a,
    0x0153,
    0,
    0x017e,
    0x0178,
};

/*
 * Raw text: valid UTF-8 sequences are kept, every other byte is read as
 * windows-1252; NULs and undefined bytes become U+FFFD.
 */
static void
add_raw(struct ms_buf *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp, ok;
	size_t i = 0, k;
	char u[4];

	if (n == 0)
		return;
	if (ms_utf8_valid(s, n)) {
		ms_buf_add(out, s, n);
		return;
	}
	while (i < n) {
		if ((k = ms_utf8_decode(s + i, n - i, &ok)) > 0) {
			ms_buf_add(out, s + i, k);
			i += k;
			continue;
		}
		cp = p[i] >= 0xa0  ? p[i]
		    : p[i] >= 0x80 ? cp1252[p[i] - 0x80]
				   : 0;
		if (cp == 0 || (k = ms_utf8_encode(cp, u)) == 0)
			ms_buf_add(out, REPL, REPL_LEN);
		else
			ms_buf_add(out, u, k);
		i++;
	}
}

char *
ms_raw_to_utf8(const char *s, size_t len)
{
	struct ms_buf b = {0};

	add_raw(&b, s, len);
	return ms_buf_steal(&b);
}

/* Plain text: UTF-8 when valid, else windows-1252. */
static void
flush_raw(struct dec *d)
{
	add_raw(&d->out, d->raw.s, d->raw.len);
	d->raw.len = 0;
}

static void
flush_ew(struct dec *d)
{
	if (d->cs[0] == '\0')
		return;
	if (convert(d->cs, d->ew.s ? d->ew.s : "", d->ew.len, &d->out) == -1) {
		/* charset_known() said yes; keep the bytes, sanitised. */
		char *fix = ms_utf8_sanitize(d->ew.s ? d->ew.s : "", d->ew.len);

		ms_buf_adds(&d->out, fix);
		free(fix);
	}
	d->ew.len = 0;
	d->cs[0] = '\0';
}

/* Recognise "=?charset?e?text?=" at p[0..n); 1 if found. */
static int
parse_ew(const char *p, size_t n, struct ew *w)
{
	size_t i = 2, cslen = 0;
	int lang = 0;

	if (n < 2 || p[0] != '=' || p[1] != '?')
		return 0;
	for (; i < n && p[i] != '?'; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c <= 0x20 || c >= 0x7f ||
		    (is_especial(p[i]) && p[i] != '.' && p[i] != ':'))
			return 0;
		if (c == '*')
			lang = 1;
		if (!lang) {
			if (cslen >= MAX_CHARSET)
				return 0;
			w->cs[cslen++] = p[i];
		}
	}
	w->cs[cslen] = '\0';
	if (cslen == 0 || i + 3 >= n || p[i + 2] != '?')
		return 0;
	w->enc = ms_ascii_lower(p[i + 1]);
	if (w->enc != 'b' && w->enc != 'q')
		return 0;
	i += 3;
	w->text = p + i;
	for (; i < n && p[i] != '?'; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c <= 0x20 || c >= 0x7f)
			return 0;
	}
	if (i + 1 >= n || p[i + 1] != '=')
		return 0;
	w->textlen = (size_t)(p + i - w->text);
	w->len = i + 2;
	return 1;
}

static void
decode_q(const char *s, size_t n, struct ms_buf *out)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if (s[i] == '_')
			ms_buf_addc(out, ' ');
		else if (s[i] == '=' && i + 2 < n &&
		    (hi = ms_text_hexval(s[i + 1])) >= 0 &&
		    (lo = ms_text_hexval(s[i + 2])) >= 0) {
			ms_buf_addc(out, (char)(hi << 4 | lo));
			i += 2;
		} else
			ms_buf_addc(out, s[i]);
	}
}

/* Strict base64 (padding optional); -1 on a bad character or length. */
static int
decode_b(const char *s, size_t n, struct ms_buf *out)
{
	struct ms_text_b64 d = {0};
	size_t i;
	int v, pad = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '=') {
			pad++;
			continue;
		}
		if (pad || (v = ms_text_b64val(s[i])) < 0)
			return -1;
		ms_text_b64_add(&d, v, out);
	}
	if (d.k == 1 || pad > 2)
		return -1;
	ms_text_b64_end(&d, out);
	return 0;
}

/* Handle one recognised encoded word; 0 if decoded, -1 if kept as is. */
static int
take_ew(struct dec *d, const struct ew *w)
{
	size_t mark;
	int r;

	if (!charset_known(d, w->cs))
		return -1;
	flush_raw(d);
	if (d->cs[0] != '\0' && ms_ascii_casecmp(d->cs, w->cs) != 0)
		flush_ew(d);
	mark = d->ew.len;
	if (w->enc == 'q') {
		decode_q(w->text, w->textlen, &d->ew);
		r = 0;
	} else
		r = decode_b(w->text, w->textlen, &d->ew);
	if (r == -1) {
		d->ew.len = mark;
		return -1;
	}
	if (d->cs[0] == '\0')
		strlcpy(d->cs, w->cs, sizeof(d->cs));
	return 0;
}

char *
ms_rfc2047_decode(const char *s, size_t len, int *nbad)
{
	struct dec d;
	struct ew w;
	size_t i = 0;
	int last_ew = 0;

	memset(&d, 0, sizeof(d));
	while (i < len) {
		char c = s[i];

		if (c == '\r' || c == '\n') {
			i++;
			continue;
		}
		if (c == ' ' || c == '\t') {
			ms_buf_addc(&d.ws, c);
			i++;
			continue;
		}
		if (c == '=' && parse_ew(s + i, len - i, &w)) {
			if (!last_ew && d.ws.len > 0) {
				flush_ew(&d);
				ms_buf_add(&d.raw, d.ws.s, d.ws.len);
			}
			if (take_ew(&d, &w) == 0) {
				/* White space between encoded words goes. */
				d.ws.len = 0;
				last_ew = 1;
			} else {
				d.nbad++;
				flush_ew(&d);
				if (last_ew && d.ws.len > 0)
					ms_buf_add(&d.raw, d.ws.s, d.ws.len);
				ms_buf_add(&d.raw, s + i, w.len);
				d.ws.len = 0;
				last_ew = 0;
			}
			i += w.len;
			continue;
		}
		flush_ew(&d);
		if (d.ws.len > 0)
			ms_buf_add(&d.raw, d.ws.s, d.ws.len);
		d.ws.len = 0;
		ms_buf_addc(&d.raw, c);
		last_ew = 0;
		i++;
	}
	flush_ew(&d);
	if (d.ws.len > 0)
		ms_buf_add(&d.raw, d.ws.s, d.ws.len);
	flush_raw(&d);
	ms_buf_finish(&d.raw);
	ms_buf_finish(&d.ws);
	ms_buf_finish(&d.ew);
	if (nbad != NULL)
		*nbad = d.nbad;
	return ms_buf_steal(&d.out);
}
