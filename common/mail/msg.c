/*
 * msg: RFC 5322 header blocks and MIME bodies.
 */
#include "msg.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "rfc2047.h"
#include "text.h"
#include "utf8.h"
#include "util.h"

#define REPL "\xef\xbf\xbd" /* U+FFFD */
#define MAX_BOUNDARY 200

/* Where the text body is collected while walking the MIME tree. */
struct walk {
	struct ms_msg *m;
	char *plain;
	char *html;
};

static void warn(struct ms_msg *, const char *, ...) MS_ATTR_PRINTF(2, 3);

static void
warn(struct ms_msg *m, const char *fmt, ...)
{
	va_list ap;

	if (m->nwarn++ > 0)
		return;
	va_start(ap, fmt);
	vsnprintf(m->warn, sizeof(m->warn), fmt, ap);
	va_end(ap);
}

static int
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Header blocks
 */

struct hdrs {
	struct ms_hdr *v;
	size_t n;
};

static void
hdrs_free(struct ms_hdr *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].value);
	}
	free(v);
}

/* Grow by doubling; the capacity follows from n (8, 16, 32, ...). */
static void
hdrs_push(struct hdrs *h, char *name, char *value)
{
	if (h->n == 0 || (h->n >= 8 && (h->n & (h->n - 1)) == 0))
		h->v = ms_xreallocarray(
		    h->v, h->n < 8 ? 8 : h->n * 2, sizeof(*h->v));
	h->v[h->n].name = name;
	h->v[h->n].value = value;
	h->n++;
}

/* The unfolded value in b, trimmed, NULs replaced; b is emptied. */
static char *
take_value(struct ms_msg *m, struct ms_buf *b, size_t line)
{
	struct ms_buf v = {0};
	size_t i = 0, n = b->len;
	const char *z;
	int nul = 0;

	while (i < n && (is_wsp(b->s[i]) || b->s[i] == '\r'))
		i++;
	while (n > i && (is_wsp(b->s[n - 1]) || b->s[n - 1] == '\r'))
		n--;
	while (i < n) {
		if ((z = memchr(b->s + i, '\0', n - i)) == NULL) {
			ms_buf_add(&v, b->s + i, n - i);
			break;
		}
		ms_buf_add(&v, b->s + i, (size_t)(z - (b->s + i)));
		ms_buf_add(&v, REPL, 3);
		if (!nul++)
			warn(m, "line %zu: NUL byte in header", line);
		i = (size_t)(z - b->s) + 1;
	}
	b->len = 0;
	return ms_buf_steal(&v);
}

static int
name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 33 || (unsigned char)s[i] > 126)
			return 0;
	return 1;
}

/*
 * Split buf[0..len) into headers. Strict (top level): a bad line is an
 * error. Not strict (MIME part): a bad line starts the body.
 */
static int
parse_block(struct ms_msg *m, const char *buf, size_t len, int strict,
    struct hdrs *h, size_t *body_off)
{
	struct ms_buf val = {0};
	char *name = NULL;
	size_t pos = 0, line = 0, end, next, nlen;
	const char *nl, *colon;
	int ret = -1;

	*body_off = len;
	for (; pos < len; pos = next) {
		line++;
		nl = memchr(buf + pos, '\n', len - pos);
		end = nl != NULL ? (size_t)(nl - buf) : len;
		next = nl != NULL ? end + 1 : len;
		if (end > pos && buf[end - 1] == '\r')
			end--;
		if (end == pos) { /* the empty line */
			*body_off = next;
			break;
		}
		if (is_wsp(buf[pos])) {
			if (name != NULL)
				ms_buf_add(&val, buf + pos, end - pos);
			else
				warn(m,
				    "line %zu: continuation line without "
				    "a header",
				    line);
			continue;
		}
		if (name != NULL) {
			hdrs_push(h, name, take_value(m, &val, line - 1));
			name = NULL;
		}
		colon = memchr(buf + pos, ':', end - pos);
		nlen = colon != NULL ? (size_t)(colon - (buf + pos)) : 0;
		while (nlen > 0 && is_wsp(buf[pos + nlen - 1]))
			nlen--;
		if ((colon == NULL || !name_ok(buf + pos, nlen)) && line == 1 &&
		    end - pos > 5 && memcmp(buf + pos, "From ", 5) == 0) {
			warn(m, "line 1: mbox From_ line skipped");
			continue;
		}
		if (colon == NULL || !name_ok(buf + pos, nlen)) {
			if (strict) {
				ms_err("line %zu: %s", line,
				    colon == NULL ? "header without a colon"
						  : "invalid header name");
				goto out;
			}
			warn(m,
			    "MIME part line %zu: not a header, taken as "
			    "the body",
			    line);
			*body_off = pos;
			break;
		}
		if (h->n >= MS_MSG_MAX_HEADERS) {
			if (strict) {
				ms_err("line %zu: more than %d headers", line,
				    MS_MSG_MAX_HEADERS);
				goto out;
			}
			warn(m, "MIME part: more than %d headers",
			    MS_MSG_MAX_HEADERS);
			*body_off = len;
			break;
		}
		name = ms_xstrndup(buf + pos, nlen);
		ms_buf_add(&val, colon + 1, (size_t)(buf + end - colon - 1));
	}
	if (name != NULL) {
		hdrs_push(h, name, take_value(m, &val, line));
		name = NULL;
	}
	ret = 0;
out:
	free(name);
	ms_buf_finish(&val);
	return ret;
}

int
ms_msg_parse_headers(
    const char *buf, size_t len, struct ms_msg *m, size_t *body_off)
{
	struct hdrs h = {m->hdrs, m->nhdrs};
	int r;

	if (m->nhdrs > 0 && m->nhdrs < 8) {
		/* keep the capacity rule of hdrs_push() */
		h.v = ms_xreallocarray(h.v, 8, sizeof(*h.v));
	}
	r = parse_block(
	    m, buf != NULL ? buf : "", buf != NULL ? len : 0, 1, &h, body_off);
	m->hdrs = h.v;
	m->nhdrs = h.n;
	return r;
}

static const char *
find_hdr(const struct ms_hdr *v, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ms_ascii_casecmp(v[i].name, name) == 0)
			return v[i].value;
	return NULL;
}

const char *
ms_msg_header(const struct ms_msg *m, const char *name)
{
	return find_hdr(m->hdrs, m->nhdrs, name);
}

/*
 * MIME header values
 */

static int
is_tspecial(char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

/* A token at p, lower-cased, into dst; returns the end. */
static const char *
get_token(const char *p, char *dst, size_t size)
{
	size_t n = 0;

	for (; *p != '\0' && (unsigned char)*p > 32 && *p != 0x7f &&
	     !is_tspecial(*p);
	     p++)
		if (n + 1 < size)
			dst[n++] = ms_ascii_lower(*p);
	dst[n] = '\0';
	return p;
}

/* "type/subtype" of a Content-Type value (lower case, "" if absent). */
static void
content_type(const char *v, char *type, size_t tsize, char *sub, size_t ssize)
{
	const char *p;

	type[0] = sub[0] = '\0';
	if (v == NULL)
		return;
	p = get_token(ms_text_skip_cfws(v), type, tsize);
	p = ms_text_skip_cfws(p);
	if (*p != '/') {
		type[0] = '\0';
		return;
	}
	get_token(ms_text_skip_cfws(p + 1), sub, ssize);
}

/*
 * The value of parameter name in a header value (new string), or NULL.
 * *present is set when name, or an RFC 2231 form of it ("name*",
 * "name*0*"), is there at all.
 */
static char *
get_param(const char *v, const char *name, int *present)
{
	char attr[80];
	struct ms_buf b = {0};
	const char *p;
	size_t nlen = strlen(name);
	int match;

	if (present != NULL)
		*present = 0;
	if (v == NULL)
		return NULL;
	/* Skip the type, honouring quotes in case it is broken. */
	for (p = v; *p != '\0' && *p != ';'; p++)
		if (*p == '"')
			while (p[1] != '\0' && *++p != '"')
				if (*p == '\\' && p[1] != '\0')
					p++;
	while (*p == ';') {
		p = ms_text_skip_cfws(p + 1);
		p = get_token(p, attr, sizeof(attr));
		p = ms_text_skip_cfws(p);
		match = ms_ascii_ncasecmp(attr, name, nlen) == 0 &&
		    attr[nlen] == '\0';
		if (present != NULL &&
		    ms_ascii_ncasecmp(attr, name, nlen) == 0 &&
		    (attr[nlen] == '\0' || attr[nlen] == '*'))
			*present = 1;
		b.len = 0;
		if (*p == '=') {
			p = ms_text_skip_cfws(p + 1);
			if (*p == '"') {
				for (p++; *p != '\0' && *p != '"'; p++) {
					if (*p == '\\' && p[1] != '\0')
						p++;
					if (*p != '\r' && *p != '\n')
						ms_buf_addc(&b, *p);
				}
				if (*p == '"')
					p++;
			} else
				for (; *p != '\0' && *p != ';' && !is_wsp(*p);
				     p++)
					ms_buf_addc(&b, *p);
		}
		if (match) {
			if (b.len == 0) {
				ms_buf_finish(&b);
				return NULL;
			}
			return ms_buf_steal(&b);
		}
		while (*p != '\0' && *p != ';')
			p++;
	}
	ms_buf_finish(&b);
	return NULL;
}

/*
 * Transfer decoding
 */

/* Quoted-printable; invalid '=' sequences are kept as they are. */
static void
decode_qp(const char *s, size_t n, struct ms_buf *out)
{
	size_t i, j, ws;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if (s[i] == '=') {
			/* Soft line break: '=' [WSP] (CRLF | LF | end). */
			for (j = i + 1; j < n && is_wsp(s[j]); j++)
				;
			if (j == n) {
				i = j - 1;
				continue;
			}
			if (s[j] == '\n' ||
			    (s[j] == '\r' && j + 1 < n && s[j + 1] == '\n')) {
				i = s[j] == '\r' ? j + 1 : j;
				continue;
			}
			if (i + 2 < n && (hi = ms_text_hexval(s[i + 1])) >= 0 &&
			    (lo = ms_text_hexval(s[i + 2])) >= 0) {
				ms_buf_addc(out, (char)(hi << 4 | lo));
				i += 2;
				continue;
			}
			ms_buf_addc(out, '=');
			continue;
		}
		if (is_wsp(s[i])) {
			/* Trailing white space on a line is dropped. */
			for (ws = i; ws < n && is_wsp(s[ws]); ws++)
				;
			if (ws == n || s[ws] == '\n' ||
			    (s[ws] == '\r' && ws + 1 < n &&
				s[ws + 1] == '\n')) {
				i = ws - 1;
				continue;
			}
			ms_buf_add(out, s + i, ws - i);
			i = ws - 1;
			continue;
		}
		ms_buf_addc(out, s[i]);
	}
}

/* Lenient base64: white space ignored, other bad characters skipped. */
static size_t
decode_b64(const char *s, size_t n, struct ms_buf *out)
{
	struct ms_text_b64 d = {0};
	size_t i, bad = 0;
	int v;

	for (i = 0; i <= n; i++) {
		if (i == n || s[i] == '=') {
			/* End of a run: keep the whole bytes collected. */
			bad += ms_text_b64_end(&d, out);
			continue;
		}
		if ((v = ms_text_b64val(s[i])) < 0) {
			if (!is_wsp(s[i]) && s[i] != '\r' && s[i] != '\n')
				bad++;
			continue;
		}
		ms_text_b64_add(&d, v, out);
	}
	return bad;
}

/*
 * Text
 */

static void
add_utf8(struct ms_buf *b, unsigned long cp)
{
	char u[4];
	size_t n = cp > 0x10ffff ? 0 : ms_utf8_encode((uint32_t)cp, u);

	if (n == 0)
		ms_buf_add(b, REPL, 3);
	else
		ms_buf_add(b, u, n);
}

/* An HTML entity at s (after '&'); returns its length or 0. */
static size_t
entity(const char *s, struct ms_buf *b)
{
	static const struct {
		const char *name;
		const char *text;
	} names[] = {
	    {"amp", "&"},
	    {"lt", "<"},
	    {"gt", ">"},
	    {"quot", "\""},
	    {"apos", "'"},
	    {"nbsp", " "},
	};
	unsigned long cp = 0;
	size_t i, n;
	int hex, d;

	for (n = 0; n < 12 && s[n] != '\0' && s[n] != ';'; n++)
		;
	if (s[n] != ';' || n == 0)
		return 0;
	if (s[0] == '#') {
		hex = s[1] == 'x' || s[1] == 'X';
		if (n < (size_t)(hex ? 3 : 2))
			return 0;
		for (i = hex ? 2 : 1; i < n; i++) {
			d = hex
			    ? ms_text_hexval(s[i])
			    : (s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : -1);
			if (d < 0)
				return 0;
			cp = cp * (hex ? 16 : 10) + (unsigned long)d;
		}
		add_utf8(b, cp);
		return n + 1;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == n &&
		    memcmp(s, names[i].name, n) == 0) {
			ms_buf_adds(b, names[i].text);
			return n + 1;
		}
	return 0;
}

char *
ms_msg_unescape_html(const char *s)
{
	struct ms_buf b = {0};
	size_t n;

	while (*s != '\0') {
		if (*s == '&' && (n = entity(s + 1, &b)) > 0)
			s += 1 + n;
		else
			ms_buf_addc(&b, *s++);
	}
	return ms_buf_steal(&b);
}

static int
tag_is(const char *p, const char *name)
{
	size_t n = strlen(name);

	return ms_ascii_ncasecmp(p, name, n) == 0 &&
	    !((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z') ||
		(p[n] >= '0' && p[n] <= '9'));
}

/* Skip past "</name" ... ">" from p; the end of the string if absent. */
static const char *
skip_element(const char *p, const char *name)
{
	const char *q;

	for (; (p = strstr(p, "</")) != NULL; p += 2)
		if (tag_is(p + 2, name)) {
			q = strchr(p, '>');
			return q != NULL ? q + 1 : p + strlen(p);
		}
	return NULL;
}

/* The buffer's string without leading and trailing white space. */
static char *
trim(struct ms_buf *b)
{
	size_t i = 0, n = b->len;
	char *s;

	while (i < n && is_space(b->s[i]))
		i++;
	while (n > i && is_space(b->s[n - 1]))
		n--;
	s = ms_xstrndup(b->s != NULL ? b->s + i : "", n - i);
	ms_buf_finish(b);
	return s;
}

/* Text of an HTML document: tags dropped, some entities decoded. */
static char *
strip_html(const char *s)
{
	static const char *const breaks[] = {
	    "br",
	    "p",
	    "div",
	    "tr",
	    "li",
	    "h1",
	    "h2",
	    "h3",
	    "h4",
	    "h5",
	    "h6",
	    "table",
	    "blockquote",
	};
	struct ms_buf b = {0};
	const char *p = s, *q, *t;
	size_t i, n;

	while (*p != '\0') {
		if (*p == '&' && (n = entity(p + 1, &b)) > 0) {
			p += n + 1;
			continue;
		}
		if (*p != '<') {
			ms_buf_addc(&b, *p++);
			continue;
		}
		if (strncmp(p, "<!--", 4) == 0) {
			q = strstr(p + 4, "-->");
			if (q == NULL)
				break;
			p = q + 3;
			continue;
		}
		t = p + 1 + (p[1] == '/');
		if (p[1] != '/' &&
		    (tag_is(t, "script") || tag_is(t, "style") ||
			tag_is(t, "head"))) {
			q = skip_element(t,
			    tag_is(t, "script")      ? "script"
				: tag_is(t, "style") ? "style"
						     : "head");
			if (q == NULL)
				break;
			p = q;
			continue;
		}
		for (i = 0; i < sizeof(breaks) / sizeof(breaks[0]); i++)
			if (tag_is(t, breaks[i])) {
				ms_buf_addc(&b, '\n');
				break;
			}
		if ((q = strchr(p, '>')) == NULL)
			break;
		p = q + 1;
	}
	return trim(&b);
}

/* CRLF -> LF, in place. */
static void
crlf_to_lf(char *s)
{
	char *w = s;

	for (; *s != '\0'; s++)
		if (!(s[0] == '\r' && s[1] == '\n'))
			*w++ = *s;
	*w = '\0';
}

/* Transfer-decode and convert a text part to UTF-8. */
static char *
decode_text(struct ms_msg *m, const struct ms_hdr *h, size_t nh,
    const char *body, size_t len)
{
	struct ms_buf raw = {0};
	const char *ct = find_hdr(h, nh, "Content-Type");
	const char *cte = find_hdr(h, nh, "Content-Transfer-Encoding");
	char enc[40], *cs, *text = NULL;

	enc[0] = '\0';
	if (cte != NULL)
		get_token(ms_text_skip_cfws(cte), enc, sizeof(enc));
	if (strcmp(enc, "quoted-printable") == 0)
		decode_qp(body, len, &raw);
	else if (strcmp(enc, "base64") == 0) {
		if (decode_b64(body, len, &raw) > 0)
			warn(m, "bad characters in base64 text skipped");
	} else {
		if (enc[0] != '\0' && strcmp(enc, "7bit") != 0 &&
		    strcmp(enc, "8bit") != 0 && strcmp(enc, "binary") != 0)
			warn(
			    m, "unknown Content-Transfer-Encoding \"%s\"", enc);
		ms_buf_add(&raw, body, len);
	}
	cs = get_param(ct, "charset", NULL);
	if (cs != NULL && ms_ascii_casecmp(cs, "us-ascii") != 0 &&
	    (text = ms_charset_to_utf8(cs, raw.s ? raw.s : "", raw.len)) ==
		NULL)
		warn(m, "%s", ms_errstr());
	if (text == NULL)
		text = ms_raw_to_utf8(raw.s ? raw.s : "", raw.len);
	free(cs);
	ms_buf_finish(&raw);
	crlf_to_lf(text);
	return text;
}

char *
ms_msg_part_text(const char *encoding, const char *charset, int html,
    const char *s, size_t len)
{
	struct ms_msg m;
	struct ms_hdr h[2];
	char *ct, *text, *stripped;

	memset(&m, 0, sizeof(m));
	ct = ms_xasprintf("text/%s%s%s%s", html ? "html" : "plain",
	    charset && *charset ? "; charset=\"" : "",
	    charset && *charset ? charset : "",
	    charset && *charset ? "\"" : "");
	h[0].name = "Content-Type";
	h[0].value = ct;
	h[1].name = "Content-Transfer-Encoding";
	h[1].value = (char *)(encoding ? encoding : "");
	text = decode_text(&m, h, 2, s, len);
	free(ct);
	if (!html)
		return text;
	stripped = strip_html(text);
	free(text);
	return stripped;
}

/*
 * MIME tree
 */

static void walk_part(struct walk *, const struct ms_hdr *, size_t,
    const char *, size_t, int, const char *);

/* Walk one body part: its own headers, then its content. */
static void
walk_child(
    struct walk *w, const char *s, size_t len, int depth, const char *parent)
{
	struct hdrs h = {NULL, 0};
	size_t off;

	parse_block(w->m, s, len, 0, &h, &off);
	walk_part(w, h.v, h.n, s + off, len - off, depth, parent);
	hdrs_free(h.v, h.n);
}

/* Is the line s[0..n) a delimiter for boundary b? 1 open, 2 close. */
static int
delimiter(const char *s, size_t n, const char *b, size_t blen)
{
	size_t i;
	int kind = 1;

	if (n < blen + 2 || s[0] != '-' || s[1] != '-' ||
	    memcmp(s + 2, b, blen) != 0)
		return 0;
	i = blen + 2;
	if (i + 2 <= n && s[i] == '-' && s[i + 1] == '-') {
		kind = 2;
		i += 2;
	}
	for (; i < n; i++)
		if (!is_wsp(s[i]) && s[i] != '\r')
			return 0;
	return kind;
}

int
ms_mime_split(const char *s, size_t len, const char *b,
    int (*part)(const char *, size_t, void *), void *arg)
{
	size_t blen = strlen(b), pos, end, next, start = 0, pend;
	const char *nl;
	int inpart = 0, kind = 0;

	for (pos = 0; pos < len; pos = next) {
		nl = memchr(s + pos, '\n', len - pos);
		end = nl != NULL ? (size_t)(nl - s) : len;
		next = nl != NULL ? end + 1 : len;
		if ((kind = delimiter(s + pos, end - pos, b, blen)) == 0)
			continue;
		if (inpart) {
			/* The line break before a delimiter belongs to it. */
			pend = pos;
			if (pend > start && s[pend - 1] == '\n')
				pend--;
			if (pend > start && s[pend - 1] == '\r')
				pend--;
			if (part(s + start, pend - start, arg) == -1)
				return -1;
		}
		if (kind == 2)
			return 0;
		inpart = 1;
		start = next;
	}
	if (!inpart)
		return 2;
	return part(s + start, len - start, arg) == -1 ? -1 : 1;
}

char *
ms_mime_param(const char *value, const char *name)
{
	return get_param(value, name, NULL);
}

struct child {
	struct walk *w;
	int depth;
	const char *sub;
};

static int
walk_one(const char *s, size_t len, void *arg)
{
	struct child *c = arg;

	walk_child(c->w, s, len, c->depth, c->sub);
	return 0;
}

static void
walk_multipart(struct walk *w, const char *ct, const char *s, size_t len,
    int depth, const char *sub)
{
	struct child c = {w, depth + 1, sub};
	char *b;

	if (depth >= MS_MSG_MAX_DEPTH) {
		warn(w->m, "multipart nested deeper than %d levels skipped",
		    MS_MSG_MAX_DEPTH);
		return;
	}
	if ((b = get_param(ct, "boundary", NULL)) == NULL) {
		warn(w->m, "multipart without a boundary skipped");
		return;
	}
	if (strlen(b) > MAX_BOUNDARY) {
		warn(w->m, "multipart boundary too long");
		free(b);
		return;
	}
	switch (ms_mime_split(s, len, b, walk_one, &c)) {
	case 1: warn(w->m, "multipart: missing final boundary"); break;
	case 2: warn(w->m, "multipart: no boundary found"); break;
	}
	free(b);
}

static void
walk_part(struct walk *w, const struct ms_hdr *h, size_t nh, const char *s,
    size_t len, int depth, const char *parent)
{
	const char *ct = find_hdr(h, nh, "Content-Type");
	const char *cd = find_hdr(h, nh, "Content-Disposition");
	char type[64], sub[64], disp[32];
	int att, fname = 0, name = 0, related;
	char *text;

	content_type(ct, type, sizeof(type), sub, sizeof(sub));
	if (type[0] == '\0') {
		if (parent != NULL && strcmp(parent, "digest") == 0) {
			strlcpy(type, "message", sizeof(type));
			strlcpy(sub, "rfc822", sizeof(sub));
		} else {
			strlcpy(type, "text", sizeof(type));
			strlcpy(sub, "plain", sizeof(sub));
		}
	}
	if (strcmp(type, "multipart") == 0) {
		walk_multipart(w, ct, s, len, depth, sub);
		return;
	}
	disp[0] = '\0';
	if (cd != NULL)
		get_token(ms_text_skip_cfws(cd), disp, sizeof(disp));
	free(get_param(cd, "filename", &fname));
	free(get_param(ct, "name", &name));
	related = (parent != NULL && strcmp(parent, "related") == 0) ||
	    (find_hdr(h, nh, "Content-ID") != NULL &&
		strcmp(disp, "attachment") != 0);
	att = strcmp(disp, "attachment") == 0 || fname || name ||
	    (strcmp(type, "text") != 0 && !related) ||
	    (strcmp(type, "message") == 0 && strcmp(sub, "rfc822") == 0);
	if (att) {
		w->m->has_attachments = 1;
		return;
	}
	if (strcmp(type, "text") != 0)
		return;
	if (strcmp(sub, "plain") == 0 && w->plain == NULL)
		w->plain = decode_text(w->m, h, nh, s, len);
	else if (strcmp(sub, "html") == 0 && w->html == NULL) {
		text = decode_text(w->m, h, nh, s, len);
		w->html = strip_html(text);
		free(text);
	}
}

/*
 * Messages
 */

static int
add_addrs(struct ms_msg *m, const char *name, struct ms_addrlist *l)
{
	size_t i;
	int skipped, total = 0;

	for (i = 0; i < m->nhdrs; i++) {
		if (ms_ascii_casecmp(m->hdrs[i].name, name) != 0)
			continue;
		skipped = ms_addr_parse_list(
		    m->hdrs[i].value, strlen(m->hdrs[i].value), l);
		if (skipped > 0)
			warn(m, "%s: %s", name, ms_errstr());
		total += skipped;
	}
	return total;
}

int
ms_msg_parse(const char *buf, size_t len, struct ms_msg *m)
{
	struct walk w;
	const char *v;
	char q[MS_TEXT_QUOTE_MAX + 8];
	size_t off;
	int nbad = 0;

	memset(m, 0, sizeof(*m));
	if (buf == NULL)
		return ms_err("no message");
	if (len > MS_MSG_MAX_SIZE)
		return ms_err("message larger than %u bytes", MS_MSG_MAX_SIZE);
	if (ms_msg_parse_headers(buf, len, m, &off) == -1)
		return -1;
	if (m->nhdrs == 0)
		return ms_err("no header block");

	v = ms_msg_header(m, "Subject");
	m->subject = ms_rfc2047_decode(
	    v != NULL ? v : "", v != NULL ? strlen(v) : 0, &nbad);
	if (nbad > 0)
		warn(m, "Subject: %d encoded word(s) not decoded", nbad);

	if (add_addrs(m, "From", &m->from) > 0 && m->from.n == 0)
		return ms_err("no From address (%s)", ms_errstr());
	if (m->from.n == 0)
		return ms_err("no From address");
	add_addrs(m, "To", &m->to);
	add_addrs(m, "Cc", &m->cc);

	if ((v = ms_msg_header(m, "Message-ID")) != NULL &&
	    (m->message_id = ms_msgid_normalize(v)) == NULL) {
		ms_text_quote(v, strlen(v), q, sizeof(q));
		warn(m, "unusable Message-ID \"%s\"", q);
	}
	if ((v = ms_msg_header(m, "Date")) != NULL) {
		if (ms_date_parse_rfc5322(v, &m->date) == -1) {
			ms_text_quote(v, strlen(v), q, sizeof(q));
			return ms_err("bad Date: \"%s\"", q);
		}
		m->has_date = 1;
	}

	memset(&w, 0, sizeof(w));
	w.m = m;
	walk_part(&w, m->hdrs, m->nhdrs, buf + off, len - off, 0, NULL);
	if (w.plain != NULL) {
		m->body = w.plain;
		free(w.html);
	} else
		m->body = w.html != NULL ? w.html : ms_xstrdup("");
	return 0;
}

void
ms_msg_finish(struct ms_msg *m)
{
	if (m == NULL)
		return;
	hdrs_free(m->hdrs, m->nhdrs);
	free(m->subject);
	ms_addrlist_finish(&m->from);
	ms_addrlist_finish(&m->to);
	ms_addrlist_finish(&m->cc);
	free(m->message_id);
	free(m->body);
	memset(m, 0, sizeof(*m));
}

/*
 * Message-IDs and snippets
 */

/* An id candidate s[0..n) with CFWS removed: usable if left@right. */
static char *
id_check(const char *s, size_t n)
{
	const char *at;
	size_t i;

	if (n == 0 || (at = memchr(s, '@', n)) == NULL || at == s ||
	    at == s + n - 1)
		return NULL;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || s[i] == 0x7f || s[i] == '<' ||
		    s[i] == '>')
			return NULL;
	if (!ms_utf8_valid(s, n))
		return NULL;
	return ms_xasprintf("<%.*s>", (int)n, s);
}

char *
ms_msgid_normalize(const char *s)
{
	struct ms_buf b = {0};
	const char *p;
	char *id = NULL;

	if (s == NULL)
		return NULL;
	for (p = ms_text_skip_cfws(s); *p != '\0' && id == NULL;
	     p = ms_text_skip_cfws(p)) {
		b.len = 0;
		if (*p == '<') {
			for (p = ms_text_skip_cfws(p + 1);
			     *p != '\0' && *p != '>'; p = ms_text_skip_cfws(p))
				ms_buf_addc(&b, *p++);
			if (*p != '>')
				break;
			p++;
		} else
			while (*p != '\0' && !is_wsp(*p) && *p != '(' &&
			    *p != '<' && *p != '\r' && *p != '\n')
				ms_buf_addc(&b, *p++);
		id = id_check(b.s, b.len);
	}
	ms_buf_finish(&b);
	return id;
}

/* Whether the line s[0..n) ends the text (a signature separator). */
static int
sig_line(const char *s, size_t n)
{
	while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' '))
		n--;
	return n == 2 && s[0] == '-' && s[1] == '-';
}

char *
ms_msg_snippet(const char *text, size_t max)
{
	struct ms_buf b = {0};
	const char *p, *nl;
	char *t, *ret;
	size_t n, i, cut;
	int space = 0;

	if (text == NULL)
		return ms_xstrdup("");
	t = ms_utf8_sanitize(text, strlen(text));
	for (p = t; *p != '\0' && b.len <= max;
	     p = nl != NULL ? nl + 1 : p + n) {
		nl = strchr(p, '\n');
		n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		for (i = 0; i < n && is_wsp(p[i]); i++)
			;
		if (i < n && p[i] == '>')
			continue;
		if (sig_line(p, n))
			break;
		for (i = 0; i < n; i++) {
			if (is_wsp(p[i]) || p[i] == '\r' || p[i] == '\f' ||
			    p[i] == '\v') {
				space = 1;
				continue;
			}
			if (space && b.len > 0)
				ms_buf_addc(&b, ' ');
			space = 0;
			ms_buf_addc(&b, p[i]);
		}
		space = 1;
	}
	free(t);
	if (b.len > max) {
		cut = max;
		/* Back off to the start of a character. */
		while (cut > 0 && ((unsigned char)b.s[cut] & 0xc0) == 0x80)
			cut--;
		b.len = cut;
		while (b.len > 0 && b.s[b.len - 1] == ' ')
			b.len--;
		if (b.s != NULL)
			b.s[b.len] = '\0';
	}
	ret = ms_buf_steal(&b);
	return ret;
}
