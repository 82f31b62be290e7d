/*
 * Unit tests for common/mail/rfc2047.c. Expected values come from RFC 2047
 * section 8 and RFC 2231 section 5, or are worked out by hand from the
 * charset tables (ISO-8859-1, ISO-8859-8, windows-1252).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rfc2047.h"
#include "tap.h"
#include "utf8.h"
#include "util.h"

static void
dec(const char *in, const char *want, int wantbad, const char *name)
{
	char *got;
	int nbad = -1;

	got = ms_rfc2047_decode(in, strlen(in), &nbad);
	is_str(got, want, name);
	is_int(nbad, wantbad, name);
	free(got);
}

/* RFC 2047 section 8, the "encoded form / displayed as" table. */
static void
test_section8(void)
{
	dec("(=?ISO-8859-1?Q?a?=)", "(a)", 0, "8: (a)");
	dec("(=?ISO-8859-1?Q?a?= b)", "(a b)", 0, "8: (a b), word then text");
	dec("(a =?ISO-8859-1?Q?b?=)", "(a b)", 0, "8: (a b), text then word");
	dec("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)", 0,
	    "8: space between words dropped");
	dec("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)", 0,
	    "8: several spaces between words dropped");
	dec("(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)", 0,
	    "8: folding between words dropped");
	dec("(=?ISO-8859-1?Q?a_b?=)", "(a b)", 0, "8: underscore is space");
	dec("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)", 0,
	    "8: space encoded in the second word");
}

/* The message examples of RFC 2047 section 8. */
static void
test_section8_headers(void)
{
	/* 0xE0..0xFA in ISO-8859-8 are U+05D0..U+05EA. */
	static const unsigned char heb[] = {0xed, 0xe5, 0xec, 0xf9, ' ', 0xef,
	    0xe1, ' ', 0xe9, 0xec, 0xe8, 0xf4, 0xf0};
	char want[64];
	size_t i, n = 0;

	dec("=?US-ASCII?Q?Keith_Moore?=", "Keith Moore", 0, "Keith Moore");
	dec("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?=",
	    "Keld J\xc3\xb8rn Simonsen", 0, "Keld J\xc3\xb8rn Simonsen");
	dec("=?ISO-8859-1?Q?Andr=E9?= Pirard", "Andr\xc3\xa9 Pirard", 0,
	    "Andr\xc3\xa9 Pirard");
	dec("=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n"
	    " =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=",
	    "If you can read this you understand the example.", 0,
	    "B words in two charsets, folded");
	dec("=?ISO-8859-1?Q?Olle_J=E4rnefors?=", "Olle J\xc3\xa4rnefors", 0,
	    "Olle J\xc3\xa4rnefors");
	dec("=?ISO-8859-1?Q?Patrik_F=E4ltstr=F6m?=",
	    "Patrik F\xc3\xa4ltstr\xc3\xb6m", 0,
	    "Patrik F\xc3\xa4ltstr\xc3\xb6m");
	for (i = 0; i < sizeof(heb); i++) {
		if (heb[i] == ' ') {
			want[n++] = ' ';
			continue;
		}
		/* U+05D0 + k in UTF-8: D7 90+k (all below U+05F0). */
		want[n++] = (char)0xd7;
		want[n++] = (char)(0x90 + heb[i] - 0xe0);
	}
	want[n] = '\0';
	dec("=?iso-8859-8?b?7eXs+SDv4SDp7Oj08A==?=", want, 0,
	    "ISO-8859-8 B word (Hebrew)");
	/* RFC 2231 section 5: language suffix. */
	dec("=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore", 0,
	    "RFC 2231 language suffix");
}

static void
test_details(void)
{
	char *s;
	int nbad;

	dec("Hello world", "Hello world", 0, "plain text untouched");
	dec("", "", 0, "empty value");
	dec("=?utf-8?q?a_b=5F=3d?=", "a b_=", 0, "Q: _ and =XX, lower hex");
	dec("=?UTF-8?b?w6k=?=", "\xc3\xa9", 0, "B: lower/upper case 'b'");
	dec("=?utf-8?B?w6k?=", "\xc3\xa9", 0, "B: missing padding tolerated");
	dec("=?utf-8?q?=C3?= =?utf-8?q?=A9?=", "\xc3\xa9", 0,
	    "UTF-8 character split across two words");
	dec("=?utf-8?q?"
	    "?=",
	    "", 0, "encoded word with empty text");
	dec("a =?utf-8?q?"
	    "?= b",
	    "a  b", 0, "empty word between text");
	dec("=?utf-8?q?=FF?=", "\xef\xbf\xbd", 0, "invalid UTF-8 in a word");
	dec("=?utf-8?q?a=?=", "a=", 0, "Q: lone = kept");
	dec("=?x-unknown?q?abc?=", "=?x-unknown?q?abc?=", 1,
	    "unknown charset kept verbatim");
	dec("a =?x-unknown?q?b?= =?utf-8?q?c?= d", "a =?x-unknown?q?b?= c d", 1,
	    "unknown charset next to a good word");
	dec("=?utf-8?b?@@@@?=", "=?utf-8?b?@@@@?=", 1, "bad base64 kept");
	dec("=?utf-8?b?w?=", "=?utf-8?b?w?=", 1, "truncated base64 kept");
	dec("=?utf-8?x?abc?=", "=?utf-8?x?abc?=", 0, "unknown encoding: text");
	dec("=?utf-8?q?a b?=", "=?utf-8?q?a b?=", 0, "space inside: text");
	dec("=?utf-8?q?abc", "=?utf-8?q?abc", 0, "unterminated word: text");
	dec("=?", "=?", 0, "bare =?");
	dec("=?utf/8?q?a?=", "=?utf/8?q?a?=", 0, "slash in charset: text");
	dec("caf\xe9", "caf\xc3\xa9", 0, "raw latin-1 byte via windows-1252");
	dec("\x80 5", "\xe2\x82\xac 5", 0, "raw 0x80 is the euro sign");
	dec("caf\xc3\xa9", "caf\xc3\xa9", 0, "raw UTF-8 kept");
	dec("Subject\r\n continued", "Subject continued", 0, "unfolding");

	s = ms_rfc2047_decode("a\0b", 3, &nbad);
	is_str(s,
	    "a\xef\xbf\xbd"
	    "b",
	    "NUL byte becomes U+FFFD");
	free(s);
	s = ms_rfc2047_decode("x=?utf-8?q?a?=", 4, &nbad);
	is_str(s, "x=?u", "length respected (no terminator needed)");
	free(s);
	s = ms_rfc2047_decode("abc", 3, NULL);
	is_str(s, "abc", "nbad may be NULL");
	free(s);
}

static void
test_charset(void)
{
	char *s;

	s = ms_charset_to_utf8("ISO-8859-1", "caf\xe9", 4);
	is_str(s, "caf\xc3\xa9", "charset_to_utf8 latin-1");
	free(s);
	s = ms_charset_to_utf8("windows-1252", "\x93q\x94", 3);
	is_str(s, "\xe2\x80\x9cq\xe2\x80\x9d", "charset_to_utf8 cp1252 quotes");
	free(s);
	s = ms_charset_to_utf8("EUC-JP",
	    "a\xff"
	    "b",
	    3);
	is_str(s,
	    "a\xef\xbf\xbd"
	    "b",
	    "invalid byte becomes U+FFFD");
	free(s);
	s = ms_charset_to_utf8("UTF-16LE", "a\0b", 3);
	is_str(s, "a\xef\xbf\xbd", "incomplete sequence at the end");
	free(s);
	s = ms_charset_to_utf8("utf-8", "ok\xc3", 3);
	is_str(s, "ok\xef\xbf\xbd", "utf-8 source sanitised");
	free(s);
	s = ms_charset_to_utf8("x-no-such-charset", "abc", 3);
	ok(s == NULL, "unknown charset gives NULL");
	ok(strstr(ms_errstr(), "unknown charset") != NULL,
	    "error names the problem: %s", ms_errstr());
	free(s);
	s = ms_charset_to_utf8("UTF-8//TRANSLIT", "abc", 3);
	ok(s == NULL, "charset with a slash refused");
	free(s);
	s = ms_raw_to_utf8("x\xe9y", 3);
	is_str(s, "x\xc3\xa9y", "raw_to_utf8 falls back to windows-1252");
	free(s);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_hostile(void)
{
	struct ms_buf b = {0};
	unsigned int seed = 12345;
	size_t i, n;
	double t0;
	char *s, *junk;
	int nbad;

	/* 1 MB of encoded words on one line. */
	for (i = 0; i < 70000; i++)
		ms_buf_adds(&b, i > 0 ? " =?utf-8?q?a?=" : "=?utf-8?q?a?=");
	t0 = now();
	s = ms_rfc2047_decode(b.s, b.len, &nbad);
	ok(now() - t0 < 2.0, "1 MB of encoded words decoded quickly");
	is_int(strlen(s), 70000, "70000 adjacent words joined");
	ok(strspn(s, "a") == 70000, "all decoded to 'a'");
	free(s);
	ms_buf_finish(&b);

	/* 1 MB of almost-encoded words. */
	for (i = 0; i < 100000; i++)
		ms_buf_adds(&b, "=?=?q?");
	t0 = now();
	s = ms_rfc2047_decode(b.s, b.len, &nbad);
	ok(now() - t0 < 2.0, "1 MB of broken encoded words decoded quickly");
	is_int(strlen(s), b.len, "broken words kept as text");
	free(s);
	ms_buf_finish(&b);

	/* Random bytes: output valid UTF-8 without NULs. */
	n = 200000;
	junk = malloc(n);
	for (i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		junk[i] = (char)(seed >> 16);
		if (i % 50 == 0)
			memcpy(junk + i, "=?", i + 2 < n ? 2 : 1);
	}
	s = ms_rfc2047_decode(junk, n, &nbad);
	ok(ms_utf8_valid(s, strlen(s)), "random bytes give valid UTF-8");
	free(s);
	free(junk);
}

int
main(void)
{
	test_section8();
	test_section8_headers();
	test_details();
	test_charset();
	test_hostile();
	return done_testing();
}
