#include "imap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "log.h"
#include "util.h"

/*
 * Where responses end
 */

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int
ms_imap_scan(struct ms_imap_scan *sc, const char *buf, size_t len, size_t *end)
{
	size_t maxlit = sc->max_literal ? sc->max_literal : MS_IMAP_MAX_LITERAL;
	size_t maxpart = sc->max_partial ? sc->max_partial : maxlit;
	size_t seg, eol, e, k, d, i, limit;
	uint64_t n;
	const char *nl;

	for (;;) {
		if (sc->lit > 0) {
			if (len - sc->pos < sc->lit) {
				sc->lit -= len - sc->pos;
				sc->pos = len;
				break;
			}
			sc->pos += sc->lit;
			sc->lit = 0;
			sc->seg = sc->pos;
		}
		seg = sc->seg;
		if ((nl = memchr(buf + sc->pos, '\n', len - sc->pos)) == NULL) {
			sc->pos = len;
			break;
		}
		eol = (size_t)(nl - buf);
		e = eol;
		if (e > seg && buf[e - 1] == '\r')
			e--;
		/* A literal: the line piece ends with {N} (or {N+}). */
		if (e > seg + 2 && buf[e - 1] == '}') {
			k = e - 1;
			if (k > seg && buf[k - 1] == '+')
				k--;
			for (d = k;
			     d > seg && k - d < 20 && is_digit(buf[d - 1]); d--)
				;
			if (d < k && d > seg && buf[d - 1] == '{') {
				for (n = 0, i = d; i < k; i++)
					n = n * 10 + (uint64_t)(buf[i] - '0');
				/* A partial fetch's literal ("BODY[1]<0>
				 * {N}") at most what was asked. */
				i = d - 1;
				if (i > seg && buf[i - 1] == '~')
					i--;
				limit = i >= seg + 2 && buf[i - 1] == ' ' &&
					buf[i - 2] == '>'
				    ? maxpart
				    : maxlit;
				if (n > limit)
					return ms_errc(EX_PROTOCOL,
					    "the server sent a literal of "
					    "%llu bytes where at most %zu "
					    "were asked: refused",
					    (unsigned long long)n, limit);
				if (n > MS_IMAP_MAX_RESPONSE ||
				    eol + 1 + n > MS_IMAP_MAX_RESPONSE)
					return ms_errc(EX_PROTOCOL,
					    "a response larger than %u MiB: "
					    "refused",
					    MS_IMAP_MAX_RESPONSE >> 20);
				sc->pos = eol + 1;
				sc->lit = (size_t)n;
				if (n == 0)
					sc->seg = sc->pos;
				continue;
			}
		}
		*end = eol + 1;
		return 1;
	}
	if (sc->pos > MS_IMAP_MAX_RESPONSE)
		return ms_errc(EX_PROTOCOL,
		    "a response larger than %u MiB: "
		    "refused",
		    MS_IMAP_MAX_RESPONSE >> 20);
	return 0;
}

/*
 * The parser
 */

struct parser {
	const char *s;
	size_t len, i;
	struct ms_imap_resp *r;
	size_t cap;
	size_t arena_len;
};

static int
bad(struct parser *p, const char *what)
{
	return ms_errc(
	    EX_PROTOCOL, "a malformed response from the server: %s", what);
}

static int
at_eol(const struct parser *p)
{
	return p->i >= p->len || p->s[p->i] == '\r' || p->s[p->i] == '\n';
}

/* Copy bytes into the arena, NUL-terminated; returns them there. */
static const char *
keep(struct parser *p, const char *s, size_t n)
{
	char *d = p->r->arena + p->arena_len;

	memcpy(d, s, n);
	d[n] = '\0';
	p->arena_len += n + 1;
	return d;
}

static struct ms_imap_val *
node(struct parser *p)
{
	struct ms_imap_resp *r = p->r;

	if (r->nv == MS_IMAP_MAX_VALUES) {
		ms_errc(EX_PROTOCOL,
		    "a response of more than %d values: "
		    "refused",
		    MS_IMAP_MAX_VALUES);
		return NULL;
	}
	if (r->nv == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		r->v = ms_xreallocarray(r->v, p->cap, sizeof(*r->v));
	}
	memset(&r->v[r->nv], 0, sizeof(r->v[r->nv]));
	return &r->v[r->nv++];
}

static int
atom_char(char c)
{
	return c != ' ' && c != '(' && c != ')' && c != '\r' && c != '\n' &&
	    c != '"' && (unsigned char)c >= 0x20 && c != 0x7f;
}

static int value(struct parser *p, int depth);

static int
atom(struct parser *p)
{
	size_t start = p->i, idx;
	struct ms_imap_val *v;
	const char *close;

	while (p->i < p->len && (atom_char(p->s[p->i]) || p->s[p->i] == '"')) {
		/* BODY[HEADER.FIELDS (FROM TO)]<0>: a section is part of
		 * the name, spaces and parentheses included. */
		if (p->s[p->i] == '[') {
			close = memchr(p->s + p->i, ']', p->len - p->i);
			if (close == NULL ||
			    memchr(p->s + p->i, '\n',
				(size_t)(close - p->s) - p->i) != NULL)
				return bad(p, "an unterminated [section]");
			p->i = (size_t)(close - p->s) + 1;
			continue;
		}
		if (p->s[p->i] == '"' && p->i == start)
			break;
		p->i++;
	}
	if (p->i == start)
		return bad(p, "an unexpected character");
	if ((v = node(p)) == NULL)
		return -1;
	idx = p->r->nv;
	v->kind = MS_IMAP_ATOM;
	v->len = p->i - start;
	v->s = keep(p, p->s + start, v->len);
	v->next = idx;
	return 0;
}

static int
quoted(struct parser *p)
{
	struct ms_imap_val *v;
	size_t start, n = 0;
	char *d;

	p->i++; /* the quote */
	start = p->arena_len;
	d = p->r->arena + start;
	for (;;) {
		if (p->i >= p->len || p->s[p->i] == '\r' || p->s[p->i] == '\n')
			return bad(p, "an unterminated quoted string");
		if (p->s[p->i] == '"')
			break;
		if (p->s[p->i] == '\\' && p->i + 1 < p->len &&
		    (p->s[p->i + 1] == '"' || p->s[p->i + 1] == '\\'))
			p->i++;
		d[n++] = p->s[p->i++];
	}
	p->i++;
	d[n] = '\0';
	p->arena_len += n + 1;
	if ((v = node(p)) == NULL)
		return -1;
	v->kind = MS_IMAP_STRING;
	v->s = d;
	v->len = n;
	v->next = p->r->nv;
	return 0;
}

static int
literal(struct parser *p)
{
	struct ms_imap_val *v;
	uint64_t n = 0;
	size_t digits = 0;

	if (p->s[p->i] == '~')
		p->i++;
	p->i++; /* { */
	while (p->i < p->len && is_digit(p->s[p->i]) && digits++ < 19)
		n = n * 10 + (uint64_t)(p->s[p->i++] - '0');
	if (p->i < p->len && p->s[p->i] == '+')
		p->i++;
	if (digits == 0 || p->i >= p->len || p->s[p->i] != '}')
		return bad(p, "a malformed literal");
	p->i++;
	if (p->i < p->len && p->s[p->i] == '\r')
		p->i++;
	if (p->i >= p->len || p->s[p->i] != '\n')
		return bad(p, "a literal without its line break");
	p->i++;
	if (n > p->len - p->i)
		return bad(p, "a literal longer than the response");
	if ((v = node(p)) == NULL)
		return -1;
	v->kind = MS_IMAP_STRING;
	v->len = (size_t)n;
	v->s = keep(p, p->s + p->i, v->len);
	v->next = p->r->nv;
	p->i += (size_t)n;
	return 0;
}

static int
list(struct parser *p, int depth)
{
	size_t idx, n = 0;

	if (depth >= MS_IMAP_MAX_DEPTH)
		return bad(p, "lists nested too deep");
	if (node(p) == NULL)
		return -1;
	idx = p->r->nv - 1;
	p->r->v[idx].kind = MS_IMAP_LIST;
	p->i++; /* ( */
	for (;;) {
		while (p->i < p->len && p->s[p->i] == ' ')
			p->i++;
		if (at_eol(p))
			return bad(p, "an unterminated list");
		if (p->s[p->i] == ')') {
			p->i++;
			break;
		}
		if (value(p, depth + 1) == -1)
			return -1;
		n++;
	}
	p->r->v[idx].n = n;
	p->r->v[idx].next = p->r->nv;
	return 0;
}

static int
value(struct parser *p, int depth)
{
	char c = p->s[p->i];

	if (c == '(')
		return list(p, depth);
	if (c == '"')
		return quoted(p);
	if (c == '{' ||
	    (c == '~' && p->i + 1 < p->len && p->s[p->i + 1] == '{'))
		return literal(p);
	if (c == ')')
		return bad(p, "an unbalanced parenthesis");
	return atom(p);
}

/* A word (FETCH, OK, CAPABILITY), upper-cased into w. */
static int
word(struct parser *p, char *w, size_t size)
{
	size_t n = 0;
	char c;

	while (p->i < p->len && p->s[p->i] != ' ' && !at_eol(p)) {
		if (n + 1 >= size)
			return bad(p, "a word too long");
		c = p->s[p->i++];
		w[n++] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
	}
	w[n] = '\0';
	return n == 0 ? bad(p, "a missing word") : 0;
}

static int
is_status(const char *w)
{
	return strcmp(w, "OK") == 0 || strcmp(w, "NO") == 0 ||
	    strcmp(w, "BAD") == 0 || strcmp(w, "BYE") == 0 ||
	    strcmp(w, "PREAUTH") == 0;
}

/* [code] text, to the end of the line. */
static int
resp_text(struct parser *p)
{
	const char *close;
	size_t start;

	if (p->i < p->len && p->s[p->i] == ' ')
		p->i++;
	if (p->i < p->len && p->s[p->i] == '[') {
		close = memchr(p->s + p->i, ']', p->len - p->i);
		if (close == NULL ||
		    memchr(p->s + p->i, '\n', (size_t)(close - p->s) - p->i))
			return bad(p, "an unterminated response code");
		p->r->code = ms_xstrndup(
		    p->s + p->i + 1, (size_t)(close - p->s) - p->i - 1);
		p->i = (size_t)(close - p->s) + 1;
		if (p->i < p->len && p->s[p->i] == ' ')
			p->i++;
	}
	start = p->i;
	while (!at_eol(p))
		p->i++;
	p->r->text = ms_xstrndup(p->s + start, p->i - start);
	return 0;
}

int
ms_imap_parse(const char *buf, size_t len, struct ms_imap_resp *r)
{
	struct parser p = {buf, len, 0, r, 0, 0};
	size_t start;
	uint64_t n = 0;

	memset(r, 0, sizeof(*r));
	r->arena = ms_xmalloc(2 * len + 2);
	start = p.i;
	while (p.i < len && p.s[p.i] != ' ' && !at_eol(&p))
		p.i++;
	if (p.i == start || p.i - start >= sizeof(r->tag))
		return bad(&p, "no tag");
	memcpy(r->tag, buf, p.i - start);
	r->tag[p.i - start] = '\0';
	r->type = strcmp(r->tag, "*") == 0 ? MS_IMAP_UNTAGGED
	    : strcmp(r->tag, "+") == 0     ? MS_IMAP_CONT
					   : MS_IMAP_TAGGED;
	if (r->type == MS_IMAP_CONT)
		return resp_text(&p);
	if (p.i >= len || buf[p.i] != ' ')
		return bad(&p, "a tag alone");
	p.i++;
	if (r->type == MS_IMAP_UNTAGGED && p.i < len && is_digit(buf[p.i])) {
		start = p.i;
		while (p.i < len && is_digit(buf[p.i]) && p.i - start < 10)
			n = n * 10 + (uint64_t)(buf[p.i++] - '0');
		if (n > UINT32_MAX || p.i >= len || buf[p.i] != ' ')
			return bad(&p, "a bad message number");
		r->has_number = 1;
		r->number = (uint32_t)n;
		p.i++;
	}
	if (word(&p, r->word, sizeof(r->word)) == -1)
		return -1;
	if (is_status(r->word) && !r->has_number)
		return resp_text(&p);
	if (r->type == MS_IMAP_TAGGED)
		return bad(&p, "a tagged response that is no OK, NO or BAD");
	for (;;) {
		while (p.i < len && buf[p.i] == ' ')
			p.i++;
		if (at_eol(&p))
			break;
		if (value(&p, 0) == -1)
			return -1;
	}
	return 0;
}

void
ms_imap_resp_finish(struct ms_imap_resp *r)
{
	free(r->v);
	free(r->code);
	free(r->text);
	free(r->arena);
	memset(r, 0, sizeof(*r));
}

/*
 * Reading values
 */

int
ms_imap_is(const struct ms_imap_val *v, const char *s)
{
	return v != NULL && v->kind == MS_IMAP_ATOM &&
	    ms_ascii_casecmp(v->s, s) == 0 && strlen(s) == v->len;
}

int
ms_imap_nil(const struct ms_imap_val *v)
{
	return ms_imap_is(v, "NIL");
}

int
ms_imap_num(const struct ms_imap_val *v, uint64_t *n)
{
	size_t i;

	*n = 0;
	if (v == NULL || v->kind != MS_IMAP_ATOM || v->len == 0 || v->len > 19)
		return -1;
	for (i = 0; i < v->len; i++) {
		if (!is_digit(v->s[i]))
			return -1;
		*n = *n * 10 + (uint64_t)(v->s[i] - '0');
	}
	return 0;
}

const char *
ms_imap_str(const struct ms_imap_val *v, size_t *len)
{
	if (v == NULL || v->kind == MS_IMAP_LIST || ms_imap_nil(v))
		return NULL;
	if (len != NULL)
		*len = v->len;
	return v->s;
}

/* The index of the i-th item of list l, or (size_t)-1. */
static size_t
item_idx(const struct ms_imap_resp *r, size_t l, size_t i)
{
	size_t k, c;

	if (l >= r->nv || r->v[l].kind != MS_IMAP_LIST || i >= r->v[l].n)
		return (size_t)-1;
	for (k = 0, c = l + 1; k < i; k++)
		c = r->v[c].next;
	return c;
}

const struct ms_imap_val *
ms_imap_item(const struct ms_imap_resp *r, size_t l, size_t i)
{
	size_t c = item_idx(r, l, i);

	return c == (size_t)-1 ? NULL : &r->v[c];
}

const struct ms_imap_val *
ms_imap_fetch_item(const struct ms_imap_resp *r, const char *name, size_t *idx)
{
	size_t nl = strlen(name), k, c, val;
	int prefix = nl > 0 && name[nl - 1] == '*';
	const struct ms_imap_val *v;

	if (r->nv == 0 || r->v[0].kind != MS_IMAP_LIST)
		return NULL;
	if (prefix)
		nl--;
	for (k = 0, c = 1; k + 1 < r->v[0].n; k += 2) {
		v = &r->v[c];
		val = v->next;
		if (v->kind == MS_IMAP_ATOM &&
		    (prefix ? v->len >= nl : v->len == nl) &&
		    ms_ascii_ncasecmp(v->s, name, nl) == 0) {
			if (idx != NULL)
				*idx = val;
			return &r->v[val];
		}
		c = r->v[val].next;
	}
	return NULL;
}

/*
 * BODYSTRUCTURE
 */

struct pick {
	struct ms_imap_body *b;
	int plain, html; /* found */
	struct ms_imap_body text_plain, text_html;
};

static int
str_is(const struct ms_imap_val *v, const char *s)
{
	return v != NULL && v->kind != MS_IMAP_LIST && !ms_imap_nil(v) &&
	    v->len == strlen(s) && ms_ascii_casecmp(v->s, s) == 0;
}

/* Whether a parameter list has key (or key* for RFC 2231: key*,
 * key*0, key*0*); its value into val when asked. */
static int
has_param(const struct ms_imap_resp *r, size_t params, const char *key,
    char *val, size_t size)
{
	const struct ms_imap_val *k, *v;
	size_t i, kl = strlen(key);

	if (params >= r->nv || r->v[params].kind != MS_IMAP_LIST)
		return 0;
	for (i = 0; i + 1 < r->v[params].n; i += 2) {
		k = ms_imap_item(r, params, i);
		v = ms_imap_item(r, params, i + 1);
		if (k == NULL || k->kind == MS_IMAP_LIST || k->len < kl ||
		    ms_ascii_ncasecmp(k->s, key, kl) != 0 ||
		    (k->len > kl && k->s[kl] != '*'))
			continue;
		if (val != NULL && v != NULL && v->kind != MS_IMAP_LIST)
			snprintf(val, size, "%s", v->s);
		return 1;
	}
	return 0;
}

static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = ms_ascii_lower(*s);
}

static int walk(const struct ms_imap_resp *, size_t, int, const char *,
    const char *, struct pick *);

static int
walk_multi(const struct ms_imap_resp *r, size_t idx, int depth,
    const char *section, struct pick *pk)
{
	const struct ms_imap_val *l = &r->v[idx], *sub;
	char child[64];
	size_t c, k, nchildren = 0;
	int rc;

	for (k = 0, c = idx + 1; k < l->n && r->v[c].kind == MS_IMAP_LIST;
	     k++, c = r->v[c].next)
		nchildren++;
	if (nchildren == 0)
		return ms_errc(EX_PROTOCOL, "a multipart without parts");
	sub = k < l->n ? &r->v[c] : NULL;
	/* Deeper than msg.c reads: skipped, as there. */
	if (depth >= 16)
		return 0;
	for (k = 0, c = idx + 1; k < nchildren; k++, c = r->v[c].next) {
		if ((size_t)snprintf(child, sizeof(child), "%s%s%zu", section,
			*section ? "." : "", k + 1) >= sizeof(child))
			return 0;
		rc = walk(r, c, depth + 1, child,
		    sub != NULL && str_is(sub, "related") ? "related" : "", pk);
		if (rc == -1)
			return -1;
	}
	return 0;
}

static int
walk(const struct ms_imap_resp *r, size_t idx, int depth, const char *section,
    const char *parent, struct pick *pk)
{
	const struct ms_imap_val *l = &r->v[idx], *type, *sub, *id, *enc, *size,
				 *disp;
	size_t ext, dispi, params;
	char disptype[32] = "";
	struct ms_imap_body *t;
	int att, related, text, rfc822;
	uint64_t n = 0;

	if (l->kind != MS_IMAP_LIST || l->n == 0)
		return ms_errc(EX_PROTOCOL, "a body part that is no list");
	if (r->v[idx + 1].kind == MS_IMAP_LIST)
		return walk_multi(r, idx, depth, section, pk);
	if (l->n < 7)
		return ms_errc(EX_PROTOCOL, "a body part of %zu fields", l->n);
	type = ms_imap_item(r, idx, 0);
	sub = ms_imap_item(r, idx, 1);
	params = item_idx(r, idx, 2);
	id = ms_imap_item(r, idx, 3);
	enc = ms_imap_item(r, idx, 5);
	size = ms_imap_item(r, idx, 6);
	text = str_is(type, "text");
	rfc822 = str_is(type, "message") && str_is(sub, "rfc822");
	ext = text ? 8 : rfc822 ? 10 : 7;
	/* body-ext-1part: md5, then the disposition. */
	dispi = item_idx(r, idx, ext + 1);
	disp = dispi != (size_t)-1 ? &r->v[dispi] : NULL;
	if (disp != NULL && disp->kind == MS_IMAP_LIST && disp->n >= 1) {
		const struct ms_imap_val *dt = ms_imap_item(r, dispi, 0);

		if (dt != NULL && dt->kind != MS_IMAP_LIST && !ms_imap_nil(dt))
			snprintf(disptype, sizeof(disptype), "%s", dt->s);
		lower(disptype);
	}
	related = strcmp(parent, "related") == 0 ||
	    (id != NULL && !ms_imap_nil(id) &&
		strcmp(disptype, "attachment") != 0);
	att = strcmp(disptype, "attachment") == 0 ||
	    (disp != NULL && disp->kind == MS_IMAP_LIST &&
		has_param(r, item_idx(r, dispi, 1), "filename", NULL, 0)) ||
	    has_param(r, params, "name", NULL, 0) || (!text && !related) ||
	    rfc822;
	if (att) {
		pk->b->has_attachments = 1;
		return 0;
	}
	if (!text)
		return 0;
	if (str_is(sub, "plain") && !pk->plain) {
		t = &pk->text_plain;
		pk->plain = 1;
	} else if (str_is(sub, "html") && !pk->html) {
		t = &pk->text_html;
		pk->html = 1;
		t->html = 1;
	} else
		return 0;
	snprintf(
	    t->section, sizeof(t->section), "%s", *section ? section : "1");
	if (enc != NULL && enc->kind != MS_IMAP_LIST && !ms_imap_nil(enc))
		snprintf(t->encoding, sizeof(t->encoding), "%s", enc->s);
	lower(t->encoding);
	has_param(r, params, "charset", t->charset, sizeof(t->charset));
	if (ms_imap_num(size, &n) == 0)
		t->size = n;
	return 0;
}

int
ms_imap_bodystructure(
    const struct ms_imap_resp *r, size_t idx, struct ms_imap_body *b)
{
	struct pick pk;
	int has;

	memset(b, 0, sizeof(*b));
	memset(&pk, 0, sizeof(pk));
	pk.b = b;
	if (idx >= r->nv)
		return ms_errc(EX_PROTOCOL, "no BODYSTRUCTURE");
	if (walk(r, idx, 0, "", "", &pk) == -1)
		return -1;
	has = b->has_attachments;
	if (pk.plain)
		*b = pk.text_plain;
	else if (pk.html)
		*b = pk.text_html;
	b->has_attachments = has;
	return 0;
}

int
ms_imap_quote(struct ms_buf *buf, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (name[i] == '\r' || name[i] == '\n' || name[i] == '\0' ||
		    (unsigned char)name[i] >= 0x80)
			return ms_errc(EX_DATAERR,
			    "a mailbox name a command cannot carry");
	ms_buf_addc(buf, '"');
	for (i = 0; i < len; i++) {
		if (name[i] == '"' || name[i] == '\\')
			ms_buf_addc(buf, '\\');
		ms_buf_addc(buf, name[i]);
	}
	ms_buf_addc(buf, '"');
	return 0;
}

/*
 * The session
 */

struct pending {
	char tag[16];
	ms_imap_cb *cb;
	void *arg;
};

struct ms_imap {
	struct ms_fetch_conn *c;
	const struct ms_imap_ops *ops;
	void *arg;
	struct ms_buf in;
	struct ms_imap_scan sc;
	size_t max_literal, max_partial;
	struct pending *q;
	size_t nq, cq;
	unsigned tag;
	char *caps; /* " CAP1 CAP2 ", upper case */
	int ready;
	int busy; /* inside a callback of ours */
	int closing; /* closed meanwhile: freed when the callback returns */
	int gone; /* its owner was told it ended */
	char bye[300];
};

static void
session_free(struct ms_imap *s)
{
	ms_buf_finish(&s->in);
	free(s->q);
	free(s->caps);
	free(s);
}

/* End the session for a reason of its own: the owner is told once. */
static void
session_fail(struct ms_imap *s, int err, const char *msg)
{
	if (s->gone)
		return;
	s->gone = 1;
	ms_fetch_conn_close(s->c);
	s->c = NULL;
	if (s->ready)
		s->ops->closed(s, err, msg, s->arg);
	else
		s->ops->ready(s, err, msg, s->arg);
}

int
ms_imap_has(const struct ms_imap *s, const char *cap)
{
	char want[80];

	if (s->caps == NULL ||
	    (size_t)snprintf(want, sizeof(want), " %s ", cap) >= sizeof(want))
		return 0;
	return strcasestr(s->caps, want) != NULL;
}

int
ms_imap_pending(const struct ms_imap *s)
{
	return (int)s->nq;
}

long long
ms_imap_received(const struct ms_imap *s)
{
	return s->c != NULL ? ms_fetch_conn_received(s->c) : 0;
}

void
ms_imap_cmd_buf(
    struct ms_imap *s, ms_imap_cb *cb, void *arg, const char *cmd, size_t len)
{
	struct ms_buf b = {0};
	struct pending *p;

	if (s->gone || s->c == NULL)
		return;
	if (s->nq == s->cq) {
		s->cq = s->cq ? s->cq * 2 : 16;
		s->q = ms_xreallocarray(s->q, s->cq, sizeof(*s->q));
	}
	p = &s->q[s->nq++];
	snprintf(p->tag, sizeof(p->tag), "m%u", ++s->tag);
	p->cb = cb;
	p->arg = arg;
	ms_buf_printf(&b, "%s ", p->tag);
	ms_buf_add(&b, cmd, len);
	/* Never a secret: the login was libcurl's. */
	ms_log_debug("C: %.*s", (int)(b.len > 300 ? 300 : b.len), b.s);
	ms_buf_add(&b, "\r\n", 2);
	ms_fetch_conn_send(s->c, b.s, b.len);
	ms_fetch_conn_waiting(s->c, 1);
	ms_buf_finish(&b);
}

void
ms_imap_cmd(struct ms_imap *s, ms_imap_cb *cb, void *arg, const char *fmt, ...)
{
	va_list ap;
	char *cmd;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort(); /* out of memory, as ms_xmalloc */
	ms_imap_cmd_buf(s, cb, arg, cmd, (size_t)n);
	free(cmd);
}

/* The post-login CAPABILITY. */
static void
caps_cb(struct ms_imap *s, const struct ms_imap_resp *r, void *arg)
{
	struct ms_buf b = {0};
	size_t i;

	(void)arg;
	if (r->type == MS_IMAP_UNTAGGED && strcmp(r->word, "CAPABILITY") == 0) {
		ms_buf_addc(&b, ' ');
		for (i = 0; i < r->nv; i++)
			if (r->v[i].kind == MS_IMAP_ATOM) {
				ms_buf_add(&b, r->v[i].s, r->v[i].len);
				ms_buf_addc(&b, ' ');
			}
		free(s->caps);
		s->caps = ms_buf_steal(&b);
		return;
	}
	if (r->type != MS_IMAP_TAGGED)
		return;
	if (strcmp(r->word, "OK") != 0) {
		char msg[400];

		snprintf(msg, sizeof(msg), "CAPABILITY: %s %s", r->word,
		    r->text ? r->text : "");
		session_fail(s, EX_UNAVAILABLE, msg);
		return;
	}
	s->ready = 1;
	s->ops->ready(s, 0, NULL, s->arg);
}

static void
dispatch(struct ms_imap *s, const struct ms_imap_resp *r)
{
	struct pending p;
	size_t i;

	if (r->type == MS_IMAP_UNTAGGED && strcmp(r->word, "BYE") == 0)
		snprintf(s->bye, sizeof(s->bye), "the server said BYE: %s",
		    r->text ? r->text : "");
	if (r->type == MS_IMAP_CONT) {
		session_fail(s, EX_PROTOCOL,
		    "the server asked for a continuation nothing waits for");
		return;
	}
	if (r->type == MS_IMAP_UNTAGGED) {
		if (s->ready && s->ops->untagged != NULL)
			s->ops->untagged(s, r, s->arg);
		else if (s->nq > 0)
			s->q[0].cb(s, r, s->q[0].arg);
		return;
	}
	for (i = 0; i < s->nq && strcmp(s->q[i].tag, r->tag) != 0; i++)
		;
	if (i == s->nq) {
		session_fail(s, EX_PROTOCOL,
		    "the server answered a command that was not sent");
		return;
	}
	p = s->q[i];
	memmove(&s->q[i], &s->q[i + 1], (s->nq - i - 1) * sizeof(*s->q));
	s->nq--;
	if (s->c != NULL)
		ms_fetch_conn_waiting(s->c, s->nq > 0);
	p.cb(s, r, p.arg);
}

static void
on_data(struct ms_fetch_conn *c, const char *data, size_t n, void *arg)
{
	struct ms_imap *s = arg;
	struct ms_imap_resp r;
	size_t start = 0, end;
	int rc;

	(void)c;
	ms_buf_add(&s->in, data, n);
	s->busy++;
	while (!s->gone && !s->closing) {
		rc = ms_imap_scan(
		    &s->sc, s->in.s + start, s->in.len - start, &end);
		if (rc == 0)
			break;
		if (rc == -1) {
			session_fail(s, EX_TEMPFAIL, ms_errstr());
			break;
		}
		if (ms_imap_parse(s->in.s + start, end, &r) == -1) {
			ms_imap_resp_finish(&r);
			session_fail(s, EX_TEMPFAIL, ms_errstr());
			break;
		}
		start += end;
		memset(&s->sc, 0, sizeof(s->sc));
		s->sc.max_literal = s->max_literal;
		s->sc.max_partial = s->max_partial;
		dispatch(s, &r);
		ms_imap_resp_finish(&r);
	}
	s->busy--;
	if (s->gone || s->closing) {
		if (s->busy == 0)
			session_free(s);
		return;
	}
	/* The scanner's offsets are from start already. */
	if (start > 0) {
		memmove(s->in.s, s->in.s + start, s->in.len - start);
		s->in.len -= start;
	}
}

/*
 * The capabilities the server gave with the login's answer, while
 * libcurl set the connection up: the last tagged response's
 * [CAPABILITY ...] code, or a "* CAPABILITY" line that came just before
 * it. NULL when there were none (then CAPABILITY is asked).
 */
static const char *
last_caps(const char *s, size_t len, const char **end)
{
	const char *line, *nl, *p, *cur = NULL, *cur_end = NULL;
	const char *res = NULL, *res_end = NULL;
	size_t n;

	for (line = s; line < s + len; line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t)(s + len - line))) == NULL)
			break;
		n = (size_t)(nl - line);
		if (n > 13 && memcmp(line, "* CAPABILITY ", 13) == 0) {
			cur = line + 12;
			cur_end = nl;
		} else if (n > 2 && line[0] != '*' && line[0] != '+') {
			/* A tagged response: what came for it, or its code. */
			res = cur;
			res_end = cur_end;
			if ((p = memmem(line, n, " OK [CAPABILITY ", 16)) !=
				NULL &&
			    (res_end = memchr(p, ']', (size_t)(nl - p))) !=
				NULL)
				res = p + 15;
			else if (p != NULL)
				res = NULL;
			cur = NULL;
		}
	}
	if (res == NULL)
		return NULL;
	while (res_end > res && (res_end[-1] == '\r' || res_end[-1] == ' '))
		res_end--;
	*end = res_end;
	return res;
}

static void
on_open(struct ms_fetch_conn *c, int err, const char *msg, void *arg)
{
	struct ms_imap *s = arg;

	const char *line, *caps, *end;
	struct ms_buf b = {0};
	size_t len;

	if (err != 0 || msg != NULL) {
		s->c = NULL; /* the engine frees it */
		s->gone = 1;
		s->ops->ready(s, err, msg, s->arg);
		session_free(s);
		return;
	}
	/* The login's OK often says the capabilities after it (RFC 9051
	 * 7.1): a round trip saved. */
	line = ms_fetch_conn_setup(c, &len);
	if ((caps = last_caps(line, len, &end)) != NULL) {
		ms_buf_adds(&b, " ");
		ms_buf_add(&b, caps, (size_t)(end - caps));
		ms_buf_adds(&b, " ");
		s->caps = ms_buf_steal(&b);
		s->ready = 1;
		s->ops->ready(s, 0, NULL, s->arg);
		return;
	}
	ms_imap_cmd(s, caps_cb, NULL, "CAPABILITY");
}

static void
on_closed(struct ms_fetch_conn *c, int err, const char *msg, void *arg)
{
	struct ms_imap *s = arg;

	(void)c;
	s->c = NULL; /* the engine frees it */
	if (!s->gone) {
		s->gone = 1;
		if (err != 0 && s->bye[0] != '\0')
			msg = s->bye;
		if (s->ready)
			s->ops->closed(s, err, msg, s->arg);
		else
			s->ops->ready(s, err, msg, s->arg);
	}
	if (s->busy == 0)
		session_free(s);
}

static const struct ms_fetch_conn_ops conn_ops = {on_open, on_data, on_closed};

struct ms_imap *
ms_imap_open(struct ms_fetch_acct *a, const struct ms_imap_spec *spec)
{
	struct ms_imap *s = ms_xcalloc(1, sizeof(*s));
	struct ms_fetch_conn_spec cs = spec->conn;

	s->ops = spec->ops;
	s->arg = spec->arg;
	s->max_literal = spec->max_literal;
	s->max_partial = spec->max_partial;
	s->sc.max_literal = s->max_literal;
	s->sc.max_partial = s->max_partial;
	cs.ops = &conn_ops;
	cs.arg = s;
	if ((s->c = ms_fetch_conn_open(a, &cs)) == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

void
ms_imap_close(struct ms_imap *s)
{
	if (s == NULL)
		return;
	if (s->c != NULL && !s->gone) {
		static const char logout[] = "m0 LOGOUT\r\n";

		ms_fetch_conn_send(s->c, logout, sizeof(logout) - 1);
		ms_fetch_conn_close(s->c);
	}
	s->c = NULL;
	s->gone = 1;
	if (s->busy > 0)
		s->closing = 1;
	else
		session_free(s);
}

/*
 * A login alone (mailsync-connect)
 */

struct login {
	int done, err;
	char msg[600];
};

static void
login_ready(struct ms_imap *s, int err, const char *msg, void *arg)
{
	struct login *l = arg;

	l->done = 1;
	l->err = err;
	snprintf(l->msg, sizeof(l->msg), "%s", msg ? msg : "");
	if (err == 0)
		ms_imap_close(s);
}

static void
login_closed(struct ms_imap *s, int err, const char *msg, void *arg)
{
	(void)s;
	if (!((struct login *)arg)->done)
		login_ready(NULL, err ? err : EX_TEMPFAIL, msg, arg);
}

static int
login_auth(void *arg, int refresh, char **token, time_t *expires)
{
	(void)arg;
	(void)refresh;
	*token = NULL;
	*expires = 0;
	return ms_errc(EX_SOFTWARE, "no credential here");
}

int
ms_imap_login(const struct ms_fetch_conn_spec *conn, double timeout)
{
	static const struct ms_imap_ops ops = {login_ready, login_closed, NULL};
	struct ms_fetch_limits lim = {.concurrency = 1, .window = 60};
	struct ms_imap_spec spec = {0};
	struct login l = {0};
	struct ms_fetch_acct *a;
	struct ms_fetch *f;

	if ((f = ms_fetch_create()) == NULL)
		return -1;
	a = ms_fetch_acct_create(f, &lim, login_auth, NULL, conn->url);
	spec.conn = *conn;
	spec.conn.timeout = (long)(timeout + 0.999);
	spec.ops = &ops;
	spec.arg = &l;
	ms_imap_open(a, &spec);
	ms_fetch_run(f, ms_fetch_now() + timeout, 1);
	ms_fetch_destroy(f);
	if (!l.done)
		return ms_errc(EX_TEMPFAIL, "no answer within %.0f s", timeout);
	if (l.err != 0)
		return ms_errc(l.err, "%s", l.msg);
	return 0;
}
