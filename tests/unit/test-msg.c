/*
 * Unit tests for common/mail/msg.c: the RFC 5322 Appendix A messages (in
 * data/, read with LF and again with CRLF line ends), MIME fixtures, and
 * hostile inputs built here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "msg.h"
#include "tap.h"
#include "util.h"

#if defined(__SANITIZE_ADDRESS__)
#define SLOW 5.0 /* sanitizers: allow more time */
#else
#define SLOW 1.0
#endif

#define MB (1024 * 1024)

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *
to_crlf(const char *s, size_t len, size_t *outlen)
{
	struct ms_buf b = {0};
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] == '\n')
			ms_buf_addc(&b, '\r');
		ms_buf_addc(&b, s[i]);
	}
	*outlen = b.len;
	return ms_buf_steal(&b);
}

/* Parse data/name, LF (crlf = 0) or CRLF (crlf = 1). */
static int
load(const char *name, int crlf, struct ms_msg *m)
{
	char path[256], *buf, *c;
	size_t len, clen;
	int r;

	snprintf(path, sizeof(path), "data/%s", name);
	if ((buf = ms_read_all(path, MB, &len)) == NULL) {
		ok(0, "read %s: %s", path, ms_errstr());
		memset(m, 0, sizeof(*m));
		return -1;
	}
	if (crlf) {
		c = to_crlf(buf, len, &clen);
		r = ms_msg_parse(c, clen, m);
		free(c);
	} else
		r = ms_msg_parse(buf, len, m);
	free(buf);
	if (r == -1)
		diag(ms_errstr());
	return r;
}

static void
addr_is(const struct ms_addrlist *l, size_t i, const char *name,
    const char *email, const char *what)
{
	char label[128];

	snprintf(label, sizeof(label), "%s #%zu email", what, i);
	if (i >= l->n) {
		ok(0, "%s: no such entry", label);
		return;
	}
	is_str(l->v[i].email, email, label);
	snprintf(label, sizeof(label), "%s #%zu name", what, i);
	is_str(l->v[i].name, name, label);
}

static const char hello[] =
    "This is a message just to say hello.\nSo, \"Hello\".\n";

static void
test_appendix_a(int crlf)
{
	struct ms_msg m;

	diag(crlf ? "Appendix A, CRLF line ends" : "Appendix A, LF line ends");
	is_int(load("rfc5322-a1.1.eml", crlf, &m), 0, "A.1.1 parses");
	addr_is(&m.from, 0, "John Doe", "jdoe@machine.example", "A.1.1 From");
	addr_is(&m.to, 0, "Mary Smith", "mary@example.net", "A.1.1 To");
	is_str(m.subject, "Saying Hello", "A.1.1 Subject");
	is_int(m.has_date, 1, "A.1.1 has a date");
	is_int(m.date, 880127706, "A.1.1 Date");
	is_str(m.message_id, "<1234@local.machine.example>", "A.1.1 id");
	is_str(m.body, hello, "A.1.1 body");
	is_int(m.has_attachments, 0, "A.1.1 no attachments");
	is_int(m.nwarn, 0, "A.1.1 no warnings");
	is_int(m.nhdrs, 5, "A.1.1 five headers");
	is_str(ms_msg_header(&m, "message-id"), "<1234@local.machine.example>",
	    "header lookup is case-insensitive");
	ok(ms_msg_header(&m, "Cc") == NULL, "absent header is NULL");
	ms_msg_finish(&m);

	is_int(load("rfc5322-a1.2.eml", crlf, &m), 0, "A.1.2 parses");
	addr_is(&m.from, 0, "Joe Q. Public", "john.q.public@example.com",
	    "A.1.2 From");
	is_int(m.to.n, 3, "A.1.2 three To");
	addr_is(&m.to, 2, "Who?", "one@y.test", "A.1.2 To");
	is_int(m.cc.n, 2, "A.1.2 two Cc");
	addr_is(&m.cc, 1, "Giant; \"Big\" Box", "sysservices@example.net",
	    "A.1.2 Cc");
	is_str(m.subject, "", "A.1.2 no Subject is \"\"");
	is_int(m.date, 1057049557, "A.1.2 Date");
	is_str(m.body, "Hi everyone.\n", "A.1.2 body");
	ms_msg_finish(&m);

	is_int(load("rfc5322-a1.3.eml", crlf, &m), 0, "A.1.3 parses");
	is_int(m.to.n, 3, "A.1.3 group flattened");
	addr_is(&m.to, 0, "Ed Jones", "c@a.test", "A.1.3 To");
	is_int(m.cc.n, 0, "A.1.3 empty group");
	is_int(m.date, -27723426, "A.1.3 Date before 1970");
	is_int(m.nwarn, 0, "A.1.3 no warnings");
	ms_msg_finish(&m);

	is_int(load("rfc5322-a2.eml", crlf, &m), 0, "A.2 parses");
	addr_is(&m.from, 0, "Mary Smith", "mary@example.net", "A.2 From");
	is_str(m.subject, "Re: Saying Hello", "A.2 Subject");
	is_int(m.date, 880128070, "A.2 Date");
	is_str(ms_msg_header(&m, "In-Reply-To"), "<1234@local.machine.example>",
	    "A.2 In-Reply-To raw");
	ms_msg_finish(&m);

	is_int(load("rfc5322-a3.eml", crlf, &m), 0, "A.3 parses");
	addr_is(&m.from, 0, "John Doe", "jdoe@machine.example", "A.3 From");
	is_int(m.date, 880127706, "A.3 Date (not Resent-Date)");
	is_str(ms_msg_header(&m, "Resent-Date"),
	    "Mon, 24 Nov 1997 14:22:01 -0800", "A.3 Resent-Date kept");
	ms_msg_finish(&m);

	is_int(load("rfc5322-a4.eml", crlf, &m), 0, "A.4 parses");
	addr_is(&m.from, 0, "John Doe", "jdoe@node.example", "A.4 From");
	is_str(ms_msg_header(&m, "Received"),
	    "from x.y.test   by example.net"
	    "   via TCP   with ESMTP   id ABC12345   for <mary@example.net>;"
	    "  21 Nov 1997 10:05:43 -0600",
	    "A.4 Received unfolded");
	is_str(m.message_id, "<1234@local.node.example>", "A.4 id");
	ms_msg_finish(&m);

	is_int(load("rfc5322-a5.eml", crlf, &m), 0, "A.5 parses");
	addr_is(&m.from, 0, "Pete", "pete@silly.test", "A.5 From");
	is_int(m.to.n, 3, "A.5 three To");
	addr_is(&m.to, 0, "Chris Jones", "c@public.example", "A.5 To");
	addr_is(&m.to, 1, "", "joe@example.org", "A.5 To");
	addr_is(&m.to, 2, "John", "jdoe@one.test", "A.5 To");
	is_int(m.cc.n, 0, "A.5 Cc empty group");
	is_int(m.date, -27723480, "A.5 folded Date");
	is_str(m.message_id, "<testabcd.1234@silly.test>", "A.5 id");
	is_str(m.body, "Testing.\n", "A.5 body");
	ms_msg_finish(&m);

	is_int(load("rfc5322-a6.1.eml", crlf, &m), 0, "A.6.1 parses");
	addr_is(&m.from, 0, "Joe Q. Public", "john.q.public@example.com",
	    "A.6.1 From");
	is_int(m.to.n, 2, "A.6.1 two To");
	addr_is(&m.to, 0, "Mary Smith", "mary@example.net", "A.6.1 To");
	addr_is(&m.to, 1, "", "jdoe@test.example", "A.6.1 To");
	ms_msg_finish(&m);

	is_int(load("rfc5322-a6.2.eml", crlf, &m), 0, "A.6.2 parses");
	is_int(m.date, 880106106, "A.6.2 Date 97 GMT");
	ms_msg_finish(&m);

	is_int(load("rfc5322-a6.3.eml", crlf, &m), 0, "A.6.3 parses");
	addr_is(&m.from, 0, "John Doe", "jdoe@machine.example", "A.6.3 From");
	addr_is(&m.to, 0, "Mary Smith", "mary@example.net", "A.6.3 To");
	is_str(m.subject, "Saying Hello", "A.6.3 Subject");
	is_int(m.date, 880127706, "A.6.3 Date");
	is_str(m.message_id, "<1234@local.machine.example>", "A.6.3 id");
	ms_msg_finish(&m);
}

static void
test_mime(void)
{
	struct ms_msg m;

	is_int(load("mime-mixed.eml", 1, &m), 0, "mixed parses");
	addr_is(&m.from, 0, "J\xc3\xb6rg", "jorg@example.com", "mixed From");
	is_str(m.subject, "Caf\xc3\xa9 report", "mixed Subject decoded");
	is_int(m.date, 1136210645, "mixed Date");
	is_str(m.body, "Caf\xc3\xa9 au lait, soft break= ok.",
	    "mixed: text/plain, quoted-printable, latin-1");
	is_int(m.has_attachments, 1, "mixed: attachment found");
	is_int(m.nwarn, 0, "mixed: no warnings");
	ms_msg_finish(&m);

	is_int(load("mime-html.eml", 0, &m), 0, "html parses");
	is_str(m.body,
	    "Hello & welcome \xe2\x80\x9cquoted\xe2\x80\x9d\n"
	    "Price: 5\xe2\x82\xac A\nend",
	    "html only: tags stripped");
	is_int(m.has_attachments, 0, "html: no attachments");
	ms_msg_finish(&m);

	is_int(load("mime-related.eml", 0, &m), 0, "related parses");
	is_str(m.body, "Logo above", "related: html body");
	is_int(m.has_attachments, 0, "related: inline image is no attachment");
	ms_msg_finish(&m);

	is_int(load("mime-rfc822.eml", 0, &m), 0, "rfc822 parses");
	is_str(m.body, "See the forwarded message.", "rfc822: outer text");
	is_int(m.has_attachments, 1, "message/rfc822 is an attachment");
	ms_msg_finish(&m);

	is_int(load("mime-truncated.eml", 1, &m), 0,
	    "missing final boundary tolerated");
	is_str(m.body, "first\n--b2", "boundary prefix is not a delimiter");
	is_int(m.has_attachments, 1, "name= makes an attachment");
	ok(m.nwarn > 0 && strstr(m.warn, "final boundary") != NULL,
	    "warned: %s", m.warn);
	ms_msg_finish(&m);
}

static int
parse_str(const char *s, struct ms_msg *m)
{
	return ms_msg_parse(s, strlen(s), m);
}

static void
body_is(const char *cte_and_type, const char *content, const char *want,
    const char *name)
{
	struct ms_msg m;
	char *s;

	s = ms_xasprintf(
	    "From: a@example.com\n%s\n\n%s", cte_and_type, content);
	if (is_int(parse_str(s, &m), 0, name))
		is_str(m.body, want, name);
	else
		diag(ms_errstr());
	ms_msg_finish(&m);
	free(s);
}

static void
test_transfer(void)
{
	body_is("Content-Transfer-Encoding: quoted-printable",
	    "a=3Db=3db soft=\nline=  \ntrail   \nend=",
	    "a=b=b softline"
	    "trail\nend",
	    "qp: =XX either case, soft breaks, trailing space");
	body_is("Content-Transfer-Encoding: quoted-printable", "bad =ZZ and =4",
	    "bad =ZZ and =4", "qp: invalid and truncated sequences kept");
	body_is("Content-Transfer-Encoding: quoted-printable\n"
		"Content-Type: text/plain; charset=utf-8",
	    "=C3=A9=C3", "\xc3\xa9\xef\xbf\xbd",
	    "qp: truncated UTF-8 becomes U+FFFD");
	body_is("Content-Transfer-Encoding: base64",
	    "SGVs*bG8g\r\n d29y\tbGQh\n", "Hello world!",
	    "base64: white space and bad characters skipped");
	body_is("Content-Transfer-Encoding: base64", "SGVsbG8gd29ybG",
	    "Hello worl", "base64: truncated input");
	body_is("Content-Transfer-Encoding: BASE64", "SGk=SGk=", "HiHi",
	    "base64: padding in the middle");
	body_is("Content-Transfer-Encoding: x-weird", "as is", "as is",
	    "unknown transfer encoding: taken as is");
	body_is("Content-Type: text/plain; charset=\"ISO-8859-15\"", "\xa4 5",
	    "\xe2\x82\xac 5", "ISO-8859-15 body");
	body_is("Content-Type: text/plain; charset=x-unknown", "caf\xe9",
	    "caf\xc3\xa9", "unknown charset: windows-1252 guess");
	body_is("Content-Type: text/plain", "caf\xc3\xa9\r\nline\r\n",
	    "caf\xc3\xa9\nline\n", "no charset: UTF-8 kept, CRLF to LF");
	body_is("Content-Type: image/gif", "GIF89a", "",
	    "single non-text part: no body");
}

static void
err_is(const char *s, size_t len, const char *want, const char *name)
{
	struct ms_msg m;
	int r = ms_msg_parse(s, len, &m);

	is_int(r, -1, name);
	if (!ok(strstr(ms_errstr(), want) != NULL, "%s: error \"%s\"", name,
		ms_errstr()))
		printf("#   want it to contain: %s\n", want);
	ms_msg_finish(&m);
}

#define ERR(s, want, name) err_is((s), sizeof(s) - 1, (want), (name))

static void
test_errors(void)
{
	ERR("From: a@example.com\nTo: b@example.com\nno colon here\n\nx",
	    "line 3: header without a colon", "line without a colon");
	ERR("To: b@example.com\n\nbody", "no From address", "no From");
	ERR("From: John Doe\n\nbody", "no From address", "unusable From");
	ERR("From: a@example.com\nDate: yesterday\n\n",
	    "bad Date: "
	    "\"yesterday\"",
	    "bad Date");
	ERR("", "no header block", "empty message");
	ERR("\n\nbody only", "no header block", "blank first line");
	ERR("From: a@example.com\nBad Name: x\n\n",
	    "line 2: invalid header "
	    "name",
	    "space in a header name");
	ERR("From: a@example.com\nX-\0: y\n\n", "line 2: invalid header name",
	    "NUL byte in a header name");
}

static void
test_hostile(void)
{
	struct ms_buf b = {0};
	struct ms_msg m;
	size_t i, off;
	double t0;
	char *big;
	int r, d;

	/* A 1 MB single header line. */
	ms_buf_adds(&b, "From: a@example.com\nX-Long: ");
	for (i = 0; i < MB; i++)
		ms_buf_addc(&b, 'x');
	ms_buf_adds(&b, "\nSubject: ");
	for (i = 0; i < MB / 16; i++)
		ms_buf_adds(&b, "=?utf-8?q?=C3=A9?");
	ms_buf_adds(&b, "\n\nbody\n");
	t0 = now();
	r = ms_msg_parse(b.s, b.len, &m);
	ok(now() - t0 < SLOW, "1 MB header line parsed quickly");
	is_int(r, 0, "1 MB header line parses");
	is_int(strlen(ms_msg_header(&m, "X-Long")), MB, "1 MB value kept");
	ok(ms_utf8_valid(m.subject, strlen(m.subject)),
	    "broken encoded words: valid UTF-8 subject");
	is_str(m.body, "body\n", "body after a 1 MB header");
	ms_msg_finish(&m);
	ms_buf_finish(&b);

	/* 10 MB header block: one folded header. */
	ms_buf_adds(&b, "From: a@example.com\nX-Folded: start");
	while (b.len < 10 * MB)
		ms_buf_adds(&b, "\r\n\tcontinued line of a very long header");
	ms_buf_adds(&b, "\n\nbody");
	t0 = now();
	r = ms_msg_parse(b.s, b.len, &m);
	ok(now() - t0 < SLOW, "10 MB folded header parsed in %.2fs",
	    now() - t0);
	is_int(r, 0, "10 MB folded header parses");
	is_str(m.body, "body", "body after 10 MB of header");
	ms_msg_finish(&m);
	ms_buf_finish(&b);

	/* 10 MB header block: many headers, refused. */
	ms_buf_adds(&b, "From: a@example.com\n");
	while (b.len < 10 * MB)
		ms_buf_adds(&b, "X-H: v\n");
	ms_buf_adds(&b, "\nbody");
	t0 = now();
	r = ms_msg_parse(b.s, b.len, &m);
	ok(now() - t0 < SLOW, "10 MB of headers refused quickly");
	is_int(r, -1, "more than MS_MSG_MAX_HEADERS refused");
	ok(strstr(ms_errstr(), "more than 10000 headers") != NULL, "error: %s",
	    ms_errstr());
	ms_msg_finish(&m);
	ms_buf_finish(&b);

	/* Larger than MS_MSG_MAX_SIZE. */
	big = calloc(1, MS_MSG_MAX_SIZE + 1);
	r = ms_msg_parse(big, MS_MSG_MAX_SIZE + 1, &m);
	is_int(r, -1, "larger than MS_MSG_MAX_SIZE refused");
	ok(strstr(ms_errstr(), "larger than") != NULL, "error: %s",
	    ms_errstr());
	ms_msg_finish(&m);
	free(big);

	/* NUL bytes in headers and body, invalid UTF-8. */
	{
		static const char s[] = "From: a@example.com\nSubject: a\0b\xff"
					"\nX-Nul: \0\n\nbo\0dy \xc3(\n";

		r = ms_msg_parse(s, sizeof(s) - 1, &m);
		is_int(r, 0, "NUL bytes: parsed");
		is_str(m.subject,
		    "a\xef\xbf\xbd"
		    "b\xc3\xbf",
		    "NUL in Subject is U+FFFD, raw 0xFF is windows-1252");
		is_str(ms_msg_header(&m, "X-Nul"), "\xef\xbf\xbd",
		    "NUL in a raw header value");
		ok(m.body != NULL && ms_utf8_valid(m.body, strlen(m.body)),
		    "body with NUL and bad UTF-8 is valid UTF-8");
		is_str(m.body,
		    "bo\xef\xbf\xbd"
		    "dy \xc3\x83(\n",
		    "NUL is U+FFFD, stray 0xC3 is windows-1252");
		ok(m.nwarn > 0 && strstr(m.warn, "NUL") != NULL,
		    "NUL reported: %s", m.warn);
		ms_msg_finish(&m);
	}

	/* Deeply nested multiparts. */
	for (d = 0; d < 2; d++) {
		int depth = d == 0 ? 10 : 40;

		ms_buf_adds(&b, "From: a@example.com\n");
		for (i = 0; i < (size_t)depth; i++)
			ms_buf_printf(&b,
			    "Content-Type: multipart/mixed; "
			    "boundary=b%zu\n\n--b%zu\n",
			    i, i);
		ms_buf_adds(&b, "Content-Type: text/plain\n\ndeep\n");
		for (i = depth; i-- > 0;)
			ms_buf_printf(&b, "--b%zu--\n", i);
		r = ms_msg_parse(b.s, b.len, &m);
		is_int(r, 0,
		    d == 0 ? "10 nested multiparts parse"
			   : "40 nested multiparts parse");
		if (d == 0)
			is_str(m.body, "deep", "text found 10 levels down");
		else {
			is_str(
			    m.body, "", "text below MS_MSG_MAX_DEPTH ignored");
			ok(strstr(m.warn, "nested deeper") != NULL,
			    "depth reported: %s", m.warn);
		}
		ms_msg_finish(&m);
		ms_buf_finish(&b);
	}

	/* Unterminated things in headers. */
	r = parse_str("From: \"a <a@example.com>\nTo: (x <b@example.com>\n"
		      "Cc: <c@example.com\nMessage-ID: <abc@x\n\n",
	    &m);
	is_int(r, -1, "unterminated quote in the only From");
	ok(strstr(ms_errstr(), "no From address") != NULL &&
		strstr(ms_errstr(), "unterminated") != NULL,
	    "error: %s", ms_errstr());
	ms_msg_finish(&m);
	r = parse_str("From: a@example.com, \"b\nTo: (x <b@example.com>\n"
		      "Cc: <c@example.com\nMessage-ID: <abc@x\n\n",
	    &m);
	is_int(r, 0, "unterminated quote, comment, angle: parsed");
	is_int(m.from.n, 1, "good From kept");
	is_int(m.to.n + m.cc.n, 0, "bad To and Cc skipped");
	is_int(m.nwarn, 4, "From, To, Cc, Message-ID warned");
	ok(m.message_id == NULL, "unterminated Message-ID unusable");
	ms_msg_finish(&m);

	/* Encoded word with empty text; header block without a body. */
	r = parse_str("From: a@example.com\nSubject: =?utf-8?q?"
		      "?=x",
	    &m);
	is_int(r, 0, "no body, no final newline");
	is_str(m.subject, "x", "empty encoded word");
	is_str(m.body, "", "no body is \"\"");
	is_int(m.has_date, 0, "no Date");
	ms_msg_finish(&m);
	r = ms_msg_parse_headers("A: 1\r\nB: 2\r\n\r\nbody", 18, &m, &off);
	is_int(r, 0, "parse_headers");
	is_int(m.nhdrs, 2, "parse_headers: two headers");
	is_int(off, 14, "parse_headers: body offset");
	ms_msg_finish(&m);
	r = ms_msg_parse("From: a@example.com\n\nxyz", 21, &m);
	is_str(m.body, "", "length respected: body cut off");
	ms_msg_finish(&m);
	ms_msg_finish(NULL);
}

static void
test_msgid(void)
{
	static const struct {
		const char *in, *want, *name;
	} t[] = {
	    {" <abc@x> (comment)", "<abc@x>", "CFWS dropped"},
	    {"abc@x", "<abc@x>", "brackets added"},
	    {"", NULL, "empty"},
	    {"   (only a comment)", NULL, "only a comment"},
	    {"<1234   @   local(blah)  .machine .example>",
		"<1234@local.machine.example>", "A.6.3 obsolete id"},
	    {"<a@b> <c@d>", "<a@b>", "first of several"},
	    {"Your message of foo <a@b>", "<a@b>", "phrase before id"},
	    {"<no-at-sign>", NULL, "no @"},
	    {"<@x>", NULL, "empty left"},
	    {"<abc@x", NULL, "unterminated"},
	    {"<a\x01"
	     "b@x>",
		NULL, "control character"},
	};
	size_t i;
	char *s;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		s = ms_msgid_normalize(t[i].in);
		is_str(s, t[i].want, t[i].name);
		free(s);
	}
	ok(ms_msgid_normalize(NULL) == NULL, "NULL id");
}

static void
test_snippet(void)
{
	static const struct {
		const char *in;
		size_t max;
		const char *want, *name;
	} t[] = {
	    {"  Hello,\n\n  world \t again  ", 100, "Hello, world again",
		"white space collapsed and trimmed"},
	    {"Yes.\n> quoted\n  > quoted too\nNo.", 100, "Yes. No.",
		"quoted lines dropped"},
	    {"Text\n-- \nSignature", 100, "Text", "signature dropped"},
	    {"Text\r\n-- \r\nSignature", 100, "Text", "CRLF signature"},
	    {"a--b\n--x\n", 100, "a--b --x", "not a signature"},
	    {"Hello world", 5, "Hello", "cut at max"},
	    {"Hello world", 6, "Hello", "trailing space dropped"},
	    {"caf\xc3\xa9", 4, "caf", "whole UTF-8 characters only"},
	    {"caf\xc3\xa9", 5, "caf\xc3\xa9", "exact fit"},
	    {"\xe2\x82\xac\xe2\x82\xac", 4, "\xe2\x82\xac", "3-byte char"},
	    {"anything", 0, "", "max 0"},
	    {"bad \xff byte", 100, "bad \xef\xbf\xbd byte",
		"invalid UTF-8 sanitised"},
	    {"", 10, "", "empty"},
	};
	size_t i;
	char *s;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		s = ms_msg_snippet(t[i].in, t[i].max);
		is_str(s, t[i].want, t[i].name);
		free(s);
	}
}

int
main(void)
{
	test_appendix_a(0);
	test_appendix_a(1);
	test_mime();
	test_transfer();
	test_errors();
	test_hostile();
	test_msgid();
	test_snippet();
	return done_testing();
}
