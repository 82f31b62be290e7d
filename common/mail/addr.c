/*
 * addr: RFC 5322 address lists (with the obsolete syntax of section 4.4)
 * and address normalisation.
 */
#include "addr.h"

#include <idn2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rfc2047.h"
#include "text.h"
#include "utf8.h"
#include "util.h"

#define NONE SIZE_MAX
#define MAX_DOMAIN 253
#define MAX_LABEL 63

enum toktype {
	T_END,
	T_WS,
	T_WORD,
	T_QSTR, /* "..." */
	T_COMMENT, /* (...) */
	T_LIT, /* [...] */
	T_SPECIAL,
};

struct tok {
	enum toktype type;
	size_t start, end; /* span in the input */
	char c; /* T_SPECIAL */
	int open; /* unterminated */
};

/* One mailbox being collected. */
struct mbox {
	size_t start; /* first byte */
	size_t lt, gt; /* positions of '<' and '>' or NONE */
	int content; /* anything but CFWS seen */
	const char *bad; /* why it cannot be parsed */
};

struct parser {
	const char *s;
	size_t len;
	struct ms_addrlist *out;
	int skipped;
	int ingroup;
	char first[512]; /* first error */
};

static int
is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
is_special(char c)
{
	return strchr("<>@,;:.])", c) != NULL && c != '\0';
}

/* The end of the comment opening at s[i]; *open set if unterminated. */
static size_t
skip_comment(const char *s, size_t len, size_t i, int *open)
{
	int depth = 0;

	for (; i < len; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '(')
			depth++;
		else if (s[i] == ')' && --depth == 0)
			return i + 1;
	}
	*open = 1;
	return len;
}

/* The end of a quoted string or literal opening at s[i]. */
static size_t
skip_until(const char *s, size_t len, size_t i, char close, int *open)
{
	for (i++; i < len; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == close)
			return i + 1;
	}
	*open = 1;
	return len;
}

static void
next_tok(const char *s, size_t len, size_t *pos, struct tok *t)
{
	size_t i = *pos;

	t->start = i;
	t->open = 0;
	if (i >= len) {
		t->type = T_END;
		t->end = i;
		return;
	}
	if (is_wsp(s[i])) {
		while (i < len && is_wsp(s[i]))
			i++;
		t->type = T_WS;
	} else if (s[i] == '(') {
		t->type = T_COMMENT;
		i = skip_comment(s, len, i, &t->open);
	} else if (s[i] == '"') {
		t->type = T_QSTR;
		i = skip_until(s, len, i, '"', &t->open);
	} else if (s[i] == '[') {
		t->type = T_LIT;
		i = skip_until(s, len, i, ']', &t->open);
	} else if (is_special(s[i])) {
		t->type = T_SPECIAL;
		t->c = s[i++];
	} else {
		while (i < len && !is_wsp(s[i]) && !is_special(s[i]) &&
		    s[i] != '(' && s[i] != '"' && s[i] != '[')
			i++;
		t->type = T_WORD;
	}
	t->end = i;
	*pos = i;
}

/* Copy the inside of a quoted string or comment, unescaped, no CR/LF. */
static void
add_inner(struct ms_buf *b, const char *s, size_t start, size_t end, int open)
{
	size_t i, stop = open ? end : end - 1;

	for (i = start + 1; i < stop; i++) {
		if (s[i] == '\r' || s[i] == '\n')
			continue;
		if (s[i] == '\\' && i + 1 < stop)
			i++;
		ms_buf_addc(b, s[i]);
	}
}

static char *
trim_dup(const char *s)
{
	size_t n = strlen(s);

	while (n > 0 && is_wsp(s[n - 1]))
		n--;
	while (n > 0 && is_wsp(*s)) {
		s++;
		n--;
	}
	return ms_xstrndup(s, n);
}

/* Display name from the phrase s[a..b): words joined by one space. */
static char *
build_name(const char *s, size_t a, size_t b)
{
	struct ms_buf raw = {0};
	struct tok t;
	size_t pos = a;
	int space = 0;
	char *dec, *name;

	for (;;) {
		next_tok(s, b, &pos, &t);
		if (t.type == T_END)
			break;
		if (t.type == T_WS || t.type == T_COMMENT) {
			space = 1;
			continue;
		}
		if (space && raw.len > 0)
			ms_buf_addc(&raw, ' ');
		space = 0;
		if (t.type == T_QSTR)
			add_inner(&raw, s, t.start, t.end, t.open);
		else
			ms_buf_add(&raw, s + t.start, t.end - t.start);
	}
	dec = ms_rfc2047_decode(raw.s ? raw.s : "", raw.len, NULL);
	ms_buf_finish(&raw);
	name = trim_dup(dec);
	free(dec);
	return name;
}

/*
 * The addr-spec in s[a..b), CFWS dropped; in angle brackets (route set)
 * an obsolete route "@a,@b:" is dropped too. The last comment goes to
 * *comment when not NULL. Returns NULL with *why set on a NUL byte.
 */
static char *
build_spec(const char *s, size_t a, size_t b, int route, char **comment,
    const char **why)
{
	struct ms_buf spec = {0}, cm = {0};
	struct tok t;
	size_t pos = a;
	int lastword = 0, isword;

	for (;;) {
		next_tok(s, b, &pos, &t);
		if (t.type == T_END)
			break;
		if (t.type == T_WS)
			continue;
		if (t.type == T_COMMENT) {
			cm.len = 0;
			add_inner(&cm, s, t.start, t.end, t.open);
			continue;
		}
		isword =
		    t.type == T_WORD || t.type == T_QSTR || t.type == T_LIT;
		if (isword && lastword) /* "john doe@x": invalid */
			ms_buf_addc(&spec, ' ');
		lastword = isword;
		if (route && t.type == T_SPECIAL && t.c == ':') {
			spec.len = 0; /* drop the route */
			continue;
		}
		ms_buf_add(&spec, s + t.start, t.end - t.start);
	}
	if (comment != NULL && cm.len > 0) {
		char *dec = ms_rfc2047_decode(cm.s, cm.len, NULL);

		*comment = trim_dup(dec);
		free(dec);
	}
	ms_buf_finish(&cm);
	if (spec.len > 0 && memchr(spec.s, '\0', spec.len) != NULL) {
		ms_buf_finish(&spec);
		*why = "NUL byte in address";
		return NULL;
	}
	if (spec.len == 0) {
		*why = "no address";
		ms_buf_finish(&spec);
		return NULL;
	}
	return ms_buf_steal(&spec);
}

static void
skip_entry(struct parser *p, size_t a, size_t b, const char *why)
{
	char q[MS_TEXT_QUOTE_MAX + 8];

	if (p->skipped++ > 0)
		return;
	if (why == NULL) { /* ms_addr_normalize() said why */
		strlcpy(p->first, ms_errstr(), sizeof(p->first));
		return;
	}
	ms_text_quote(p->s + a, b - a, q, sizeof(q));
	snprintf(p->first, sizeof(p->first), "bad address \"%s\": %s", q, why);
}

static void
addr_push(struct ms_addrlist *l, char *name, char *email)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = ms_xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n].name = name;
	l->v[l->n].email = email;
	l->n++;
}

/* The mailbox in m ends at end: add it, skip it, or ignore it if empty. */
static void
finish(struct parser *p, struct mbox *m, size_t end)
{
	char *spec, *email, *name = NULL;
	const char *why = NULL;

	if (m->bad != NULL) {
		skip_entry(p, m->start, end, m->bad);
		return;
	}
	if (!m->content)
		return;
	if (m->lt != NONE) {
		if (m->gt == NONE) {
			skip_entry(
			    p, m->start, end, "unterminated angle bracket");
			return;
		}
		spec = build_spec(p->s, m->lt + 1, m->gt, 1, NULL, &why);
	} else
		spec = build_spec(p->s, m->start, end, 0, &name, &why);
	if (spec == NULL) {
		free(name);
		skip_entry(p, m->start, end, why);
		return;
	}
	email = ms_addr_normalize(spec);
	free(spec);
	if (email == NULL) {
		free(name);
		skip_entry(p, m->start, end, NULL);
		return;
	}
	if (m->lt != NONE)
		name = build_name(p->s, m->start, m->lt);
	addr_push(p->out, name != NULL ? name : ms_xstrdup(""), email);
}

static void
reset(struct mbox *m, size_t start)
{
	m->start = start;
	m->lt = m->gt = NONE;
	m->content = 0;
	m->bad = NULL;
}

static void
special(struct parser *p, struct mbox *m, const struct tok *t)
{
	if (m->lt != NONE && m->gt == NONE) { /* inside <...> */
		if (t->c == '>') {
			m->gt = t->start;
			finish(p, m, t->end);
			reset(m, t->end);
		}
		return;
	}
	switch (t->c) {
	case ',':
		finish(p, m, t->start);
		reset(m, t->end);
		break;
	case ';':
		finish(p, m, t->start);
		reset(m, t->end);
		p->ingroup = 0;
		break;
	case ':':
		if (!p->ingroup) { /* group: drop its name */
			p->ingroup = 1;
			reset(m, t->end);
		} else
			m->content = 1;
		break;
	case '<':
		m->lt = t->start;
		m->content = 1;
		break;
	case '>':
		if (m->bad == NULL)
			m->bad = "stray '>'";
		m->content = 1;
		break;
	default: m->content = 1; break;
	}
}

int
ms_addr_parse_list(const char *s, size_t len, struct ms_addrlist *out)
{
	struct parser p;
	struct mbox m;
	struct tok t;
	size_t pos = 0;

	memset(&p, 0, sizeof(p));
	p.s = s != NULL ? s : "";
	p.len = s != NULL ? len : 0;
	p.out = out;
	reset(&m, 0);
	for (;;) {
		next_tok(p.s, p.len, &pos, &t);
		if (t.type == T_END)
			break;
		if (t.open && m.bad == NULL)
			m.bad = t.type == T_QSTR ? "unterminated quoted string"
			    : t.type == T_COMMENT
			    ? "unterminated comment"
			    : "unterminated domain literal";
		switch (t.type) {
		case T_WS:
		case T_COMMENT: break;
		case T_SPECIAL: special(&p, &m, &t); break;
		default: m.content = 1; break;
		}
	}
	finish(&p, &m, p.len);
	if (p.skipped > 0)
		ms_err("%s", p.first);
	return p.skipped;
}

int
ms_addrlist_add(struct ms_addrlist *l, const char *name, const char *email)
{
	char *e;

	if ((e = ms_addr_normalize(email)) == NULL)
		return -1;
	name = name != NULL ? name : "";
	addr_push(l, ms_utf8_sanitize(name, strlen(name)), e);
	return 0;
}

void
ms_addrlist_finish(struct ms_addrlist *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].email);
	}
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

static int
bad_addr(const char *email, const char *why)
{
	char q[MS_TEXT_QUOTE_MAX + 8];

	ms_text_quote(email, strlen(email), q, sizeof(q));
	return ms_err("invalid address \"%s\": %s", q, why);
}

static void
lower_ascii(char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		s[i] = ms_ascii_lower(s[i]);
}

/* Where the local part ends (index of its '@'), or NONE. */
static size_t
split_at(const char *s, size_t n, const char **why)
{
	size_t i;

	if (n > 0 && s[0] == '"') {
		for (i = 1; i < n && s[i] != '"'; i++)
			if (s[i] == '\\')
				i++;
		if (i >= n) {
			*why = "unterminated quoted local part";
			return NONE;
		}
		if (i + 1 >= n || s[i + 1] != '@') {
			*why = "no @ after the quoted local part";
			return NONE;
		}
		return i + 1;
	}
	for (i = n; i > 0; i--)
		if (s[i - 1] == '@')
			return i - 1;
	*why = "no @";
	return NONE;
}

static const char *
check_local(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return "empty local part";
	if (!ms_utf8_valid(s, n))
		return "invalid UTF-8";
	if (s[0] == '"')
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == ' ')
			return "space in local part";
		if (strchr("()<>[]:;@\\,\"", s[i]) != NULL)
			return "invalid character in local part";
	}
	return NULL;
}

/* Check the ASCII (A-label) form of a domain. */
static const char *
check_domain(const char *d)
{
	size_t i, label = 0;

	if (strlen(d) > MAX_DOMAIN)
		return "domain too long";
	for (i = 0;; i++) {
		char c = d[i];

		if (c == '.' || c == '\0') {
			if (label == 0)
				return "empty domain label";
			if (c == '\0')
				return NULL;
			label = 0;
			continue;
		}
		if (++label > MAX_LABEL)
			return "domain label too long";
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			c == '-' || c == '_'))
			return "invalid character in domain";
	}
}

static const char *
check_literal(const char *d, size_t n)
{
	size_t i;

	if (n < 3 || d[n - 1] != ']')
		return "bad domain literal";
	for (i = 1; i + 1 < n; i++)
		if (d[i] == '[' || d[i] == ']' || d[i] == '\\' || d[i] == ' ')
			return "bad domain literal";
	return NULL;
}

/* The IDNA ASCII form of domain (UTF-8), or NULL with *why set. */
static char *
idna_domain(const char *domain, const char **why)
{
	char *out = NULL, *ret;
	int r;

	r = idn2_to_ascii_8z(
	    domain, &out, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
	if (r != IDN2_OK)
		r = idn2_to_ascii_8z(
		    domain, &out, IDN2_NFC_INPUT | IDN2_TRANSITIONAL);
	if (r != IDN2_OK) {
		*why = idn2_strerror(r);
		return NULL;
	}
	lower_ascii(out, strlen(out));
	if ((*why = check_domain(out)) != NULL) {
		idn2_free(out);
		return NULL;
	}
	ret = ms_xstrdup(out);
	idn2_free(out);
	return ret;
}

char *
ms_addr_normalize(const char *email)
{
	const char *s, *why = NULL;
	char *local, *dom, *a, *ret = NULL;
	size_t n, at, i;

	if (email == NULL)
		email = "";
	s = email;
	n = strlen(s);
	while (n > 0 && is_wsp(s[n - 1]))
		n--;
	while (n > 0 && is_wsp(*s)) {
		s++;
		n--;
	}
	if (n == 0) {
		bad_addr(email, "empty");
		return NULL;
	}
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			bad_addr(email, "control character");
			return NULL;
		}
	if ((at = split_at(s, n, &why)) == NONE ||
	    (why = check_local(s, at)) != NULL) {
		bad_addr(email, why);
		return NULL;
	}
	if (at + 1 >= n) {
		bad_addr(email, "empty domain");
		return NULL;
	}
	local = ms_xstrndup(s, at);
	lower_ascii(local, at);
	dom = ms_xstrndup(s + at + 1, n - at - 1);
	lower_ascii(dom, n - at - 1);
	if (dom[0] == '[') {
		if ((why = check_literal(dom, n - at - 1)) == NULL)
			ret = ms_xasprintf("%s@%s", local, dom);
	} else if (strchr(dom, ' ') != NULL)
		why = "space in domain";
	else if ((a = idna_domain(dom, &why)) != NULL) {
		ret = ms_xasprintf("%s@%s", local, a);
		free(a);
	}
	free(local);
	free(dom);
	if (why != NULL) {
		bad_addr(email, why);
		return NULL;
	}
	return ret;
}

static int
gmail_domain(const char *d)
{
	return strcmp(d, "gmail.com") == 0 || strcmp(d, "googlemail.com") == 0;
}

char *
ms_addr_match_key(const char *email, int folds)
{
	const char *at = strrchr(email, '@'), *plus, *p;
	struct ms_buf b = {0};
	size_t local;

	if (at == NULL || at == email)
		return ms_xstrdup(email);
	local = (size_t)(at - email);
	if ((folds & MS_ADDR_PLUS) &&
	    (plus = memchr(email, '+', local)) != NULL && plus > email)
		local = (size_t)(plus - email);
	if ((folds & MS_ADDR_DOTS) && gmail_domain(at + 1)) {
		for (p = email; p < email + local; p++)
			if (*p != '.')
				ms_buf_addc(&b, *p);
		if (b.len == 0) /* all dots: keep it as it was */
			ms_buf_add(&b, email, local);
		ms_buf_adds(&b, "@gmail.com");
	} else {
		ms_buf_add(&b, email, local);
		ms_buf_adds(&b, at);
	}
	return ms_buf_steal(&b);
}

int
ms_addr_in_domain(const char *email, const char *domain)
{
	const char *at = strrchr(email, '@'), *d;
	size_t n = strlen(domain), m;

	if (at == NULL || n == 0)
		return 0;
	d = at + 1;
	m = strlen(d);
	if (m == n)
		return strcmp(d, domain) == 0;
	return m > n && d[m - n - 1] == '.' && strcmp(d + m - n, domain) == 0;
}

int
ms_addr_public_domain(const char *domain)
{
	static const char *const pub[] = {"gmail.com", "googlemail.com",
	    "outlook.com", "hotmail.com", "live.com", "msn.com", "yahoo.com",
	    "ymail.com", "icloud.com", "me.com", "mac.com", "aol.com",
	    "proton.me", "protonmail.com", "gmx.com", "gmx.net", "gmx.de",
	    "web.de", "mail.com", "yandex.com", "zoho.com", "fastmail.com"};
	size_t i;

	for (i = 0; i < sizeof(pub) / sizeof(*pub); i++)
		if (strcmp(domain, pub[i]) == 0)
			return 1;
	return 0;
}
