/*
 * test-imap-parse: the IMAP response parser (common/net/imap.c) on responses
 * shaped as RFC 3501's examples and Dovecot's, and on hostile ones:
 * where a response ends in a stream, literals, BODYSTRUCTURE, bounds.
 */
#include <stdlib.h>
#include <string.h>

#include "imap.h"
#include "tap.h"
#include "util.h"

/* Scan s whole: the length of its first response, 0 for "more", -1. */
static long
scan(const char *s, size_t max_partial)
{
	struct ms_imap_scan sc = {.max_partial = max_partial};
	size_t end;
	int rc = ms_imap_scan(&sc, s, strlen(s), &end);

	return rc == 1 ? (long)end : rc;
}

/* Feed s a byte at a time, as a slow server would. */
static long
scan_slowly(const char *s)
{
	struct ms_imap_scan sc = {0};
	size_t i, end;
	int rc;

	for (i = 1; i <= strlen(s); i++)
		if ((rc = ms_imap_scan(&sc, s, i, &end)) != 0)
			return rc == 1 ? (long)end : -1;
	return 0;
}

static int
parse(const char *s, struct ms_imap_resp *r)
{
	return ms_imap_parse(s, strlen(s), r);
}

int
main(void)
{
	struct ms_imap_resp r;
	struct ms_imap_body b;
	const struct ms_imap_val *v;
	uint64_t n;
	size_t idx, len;
	const char *str;
	struct ms_buf q = {0};
	char *big;

	/* Where responses end */
	is_int(scan("* OK ready\r\n* 1 EXISTS\r\n", 0), 12, "a line ends it");
	is_int(scan("* OK ready", 0), 0, "no line end yet: more");
	is_int(scan("* 1 FETCH (BODY[] {5}\r\nab\r\n)", 0), 0,
	    "a literal not all there: more");
	is_int(scan("* 1 FETCH (BODY[] {5}\r\nab\r\nc)\r\nm1 OK\r\n", 0), 31,
	    "a literal holding a line end does not end it");
	is_int(scan("* 1 FETCH (BODY[] {10}\r\nm1 OK hi\r\n)\r\n", 0), 37,
	    "a literal holding the tagged line does not end the command");
	is_int(scan_slowly("* 1 FETCH (A {6}\r\nx{2}\r\n B {0}\r\n)\r\n"), 35,
	    "byte by byte: literals inside literals are data");
	is_int(scan("* 1 FETCH (BODY[1]<0> {2049}\r\n", 2048), -1,
	    "a partial literal larger than asked is refused at once");
	is_int(scan("* 1 FETCH (BODY[1]<0> {2048}\r\n", 2048), 0,
	    "one as large as asked is taken");
	is_int(scan("* 1 FETCH (BODY[HEADER] {2049}\r\n", 2048), 0,
	    "the partial bound is for partial fetches only");
	is_int(scan("* 1 FETCH (X {99999999999999999999}\r\n", 0), -1,
	    "an absurd literal is refused");

	/* Status responses */
	ok(parse("* OK [UIDVALIDITY 3857529045] UIDs valid\r\n", &r) == 0 &&
		r.type == MS_IMAP_UNTAGGED && strcmp(r.word, "OK") == 0 &&
		strcmp(r.code, "UIDVALIDITY 3857529045") == 0 &&
		strcmp(r.text, "UIDs valid") == 0,
	    "an untagged OK with its code and text");
	ms_imap_resp_finish(&r);
	ok(parse("m7 NO [AUTHENTICATIONFAILED] (bad {3} \"\r\n", &r) == 0 &&
		r.type == MS_IMAP_TAGGED && strcmp(r.tag, "m7") == 0 &&
		strcmp(r.word, "NO") == 0 && strcmp(r.text, "(bad {3} \"") == 0,
	    "a tagged NO: its text is text, unbalanced or not");
	ms_imap_resp_finish(&r);
	ok(parse("m1 FETCH (UID 1)\r\n", &r) == -1, "a tagged non-status");
	ms_imap_resp_finish(&r);
	ok(parse("* 4294967296 EXISTS\r\n", &r) == -1,
	    "a message number past 32 bits");
	ms_imap_resp_finish(&r);

	/* Data */
	ok(parse("* LIST (\\HasNoChildren \\Trash) \"/\" \"Deleted "
		 "\\\"Items\\\"\"\r\n",
	       &r) == 0 &&
		strcmp(r.word, "LIST") == 0 && r.nv == 5 &&
		r.v[0].kind == MS_IMAP_LIST && r.v[0].n == 2 &&
		ms_imap_is(ms_imap_item(&r, 0, 1), "\\trash") &&
		strcmp(r.v[r.v[0].next].s, "/") == 0 &&
		strcmp(r.v[4].s, "Deleted \"Items\"") == 0,
	    "LIST: flags, delimiter, a quoted name with escapes");
	ms_imap_resp_finish(&r);
	ok(parse("* LIST () NIL {5}\r\nIN\0BX\r\n", &r) == -1,
	    "a literal shorter than announced: malformed");
	ms_imap_resp_finish(&r);
	ok(ms_imap_parse("* LIST () NIL {6}\r\nIN\0BOX\r\n", 27, &r) == 0 &&
		ms_imap_nil(&r.v[1]) && r.v[2].len == 6 &&
		memcmp(r.v[2].s, "IN\0BOX", 6) == 0,
	    "a literal keeps a NUL, NIL is NIL");
	ms_imap_resp_finish(&r);
	ok(parse("* STATUS \"A b\" (MESSAGES 3 UIDNEXT 44 UIDVALIDITY 7)\r\n",
	       &r) == 0 &&
		strcmp(r.word, "STATUS") == 0 &&
		ms_imap_num(ms_imap_item(&r, 1, 3), &n) == 0 && n == 44,
	    "STATUS");
	ms_imap_resp_finish(&r);

	ok(parse("* 12 FETCH (UID 5 BODY[HEADER.FIELDS (FROM TO)] {19}\r\n"
		 "From: a@b.example\r\n BODY[1]<0> \"hi\" FLAGS (\\Seen))\r\n",
	       &r) == 0 &&
		r.has_number && r.number == 12 && strcmp(r.word, "FETCH") == 0,
	    "FETCH with a section, a literal and a partial");
	v = ms_imap_fetch_item(&r, "UID", NULL);
	ok(ms_imap_num(v, &n) == 0 && n == 5, "its UID");
	v = ms_imap_fetch_item(&r, "BODY[HEADER*", NULL);
	str = ms_imap_str(v, &len);
	ok(str != NULL && len == 19 && strncmp(str, "From:", 5) == 0,
	    "its header literal");
	v = ms_imap_fetch_item(&r, "BODY[1]<0>", NULL);
	ok(v != NULL && strcmp(v->s, "hi") == 0, "its partial body");
	ok(ms_imap_fetch_item(&r, "BODYSTRUCTURE", NULL) == NULL,
	    "an item not there");
	ms_imap_resp_finish(&r);

	/* Bounds */
	big = malloc(MS_IMAP_MAX_DEPTH * 2 + 16);
	strcpy(big, "* X ");
	memset(big + 4, '(', MS_IMAP_MAX_DEPTH + 1);
	memset(big + 5 + MS_IMAP_MAX_DEPTH, ')', MS_IMAP_MAX_DEPTH + 1);
	strcpy(big + 6 + 2 * MS_IMAP_MAX_DEPTH, "\r\n");
	ok(parse(big, &r) == -1, "lists nested too deep are refused");
	ms_imap_resp_finish(&r);
	free(big);
	ok(parse("* X (a (b c) d\r\n", &r) == -1, "an unterminated list");
	ms_imap_resp_finish(&r);
	ok(parse("* X a) b\r\n", &r) == -1, "an unbalanced parenthesis");
	ms_imap_resp_finish(&r);
	ok(parse("* X \"abc\r\n", &r) == -1, "an unterminated string");
	ms_imap_resp_finish(&r);

	/* BODYSTRUCTURE (RFC 3501 7.4.2 and Dovecot's shapes) */
	ok(parse("* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" "
		 "\"iso-8859-1\") NIL NIL \"QUOTED-PRINTABLE\" 3028 92 NIL "
		 "NIL NIL NIL))\r\n",
	       &r) == 0 &&
		ms_imap_fetch_item(&r, "BODYSTRUCTURE", &idx) != NULL &&
		ms_imap_bodystructure(&r, idx, &b) == 0,
	    "a single text part");
	is_str(b.section, "1", "its section is 1");
	is_str(b.encoding, "quoted-printable", "its encoding");
	is_str(b.charset, "iso-8859-1", "its charset");
	ok(!b.has_attachments && !b.html && b.size == 3028, "no attachment");
	ms_imap_resp_finish(&r);

	ok(parse("* 2 FETCH (BODYSTRUCTURE (((\"text\" \"plain\" "
		 "(\"charset\" \"utf-8\") NIL NIL \"base64\" 40 1 NIL NIL "
		 "NIL NIL)(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL "
		 "\"7bit\" 90 2 NIL NIL NIL NIL) \"alternative\" (\"boundary\" "
		 "\"b2\") NIL NIL NIL)(\"application\" \"pdf\" (\"name\" "
		 "\"x.pdf\") NIL NIL \"base64\" 1200 NIL (\"attachment\" "
		 "(\"filename\" \"x.pdf\")) NIL NIL) \"mixed\" (\"boundary\" "
		 "\"b1\") NIL NIL NIL))\r\n",
	       &r) == 0 &&
		ms_imap_fetch_item(&r, "BODYSTRUCTURE", &idx) != NULL &&
		ms_imap_bodystructure(&r, idx, &b) == 0,
	    "nested multiparts with an attachment");
	is_str(b.section, "1.1", "the first text/plain, nested");
	is_str(b.encoding, "base64", "its encoding");
	ok(b.has_attachments, "the PDF is an attachment");
	ms_imap_resp_finish(&r);

	ok(parse("* 3 FETCH (BODYSTRUCTURE ((\"text\" \"html\" NIL NIL NIL "
		 "\"7bit\" 90 2 NIL NIL NIL NIL)(\"image\" \"png\" NIL "
		 "\"<logo@x>\" NIL \"base64\" 400 NIL NIL NIL NIL) \"related\" "
		 "NIL NIL NIL NIL))\r\n",
	       &r) == 0 &&
		ms_imap_fetch_item(&r, "BODYSTRUCTURE", &idx) != NULL &&
		ms_imap_bodystructure(&r, idx, &b) == 0,
	    "HTML with an inline image");
	ok(!b.has_attachments && b.html && strcmp(b.section, "1") == 0,
	    "an inline-related image is no attachment; the HTML is the text");
	ms_imap_resp_finish(&r);

	ok(parse("* 4 FETCH (BODYSTRUCTURE (\"message\" \"rfc822\" NIL NIL "
		 "NIL \"7bit\" 300 (NIL \"s\" NIL NIL NIL NIL NIL NIL NIL "
		 "NIL) (\"text\" \"plain\" NIL NIL NIL \"7bit\" 10 1 NIL NIL "
		 "NIL NIL) 12 NIL NIL NIL NIL))\r\n",
	       &r) == 0 &&
		ms_imap_fetch_item(&r, "BODYSTRUCTURE", &idx) != NULL &&
		ms_imap_bodystructure(&r, idx, &b) == 0,
	    "a forwarded message");
	ok(b.has_attachments && b.section[0] == '\0',
	    "message/rfc822 is an attachment, and no text is read in it");
	ms_imap_resp_finish(&r);

	ok(parse("* 5 FETCH (BODYSTRUCTURE (\"text\" \"plain\"))\r\n", &r) ==
		    0 &&
		ms_imap_fetch_item(&r, "BODYSTRUCTURE", &idx) != NULL &&
		ms_imap_bodystructure(&r, idx, &b) == -1,
	    "a part of too few fields is malformed");
	ms_imap_resp_finish(&r);
	ok(parse("* 6 FETCH (BODYSTRUCTURE (NIL \"mixed\"))\r\n", &r) == 0 &&
		ms_imap_fetch_item(&r, "BODYSTRUCTURE", &idx) != NULL &&
		ms_imap_bodystructure(&r, idx, &b) == -1,
	    "a multipart without parts is malformed");
	ms_imap_resp_finish(&r);

	/* Quoting mailbox names */
	ok(ms_imap_quote(&q, "A \"b\"\\c", 7) == 0 &&
		strcmp(q.s, "\"A \\\"b\\\"\\\\c\"") == 0,
	    "a name quoted, quotes and backslashes escaped");
	ok(ms_imap_quote(&q, "a\r\nb", 4) == -1,
	    "a name with a line break is refused");
	ms_buf_finish(&q);
	return done_testing();
}
