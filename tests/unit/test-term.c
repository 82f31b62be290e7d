/*
 * test-term: the one sanitizer between outside text and a person, and
 * the UTF-8 primitives under it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "term.h"
#include "utf8.h"
#include "util.h"

static void
clean(const char *in, int flags, const char *want, const char *name)
{
	char *got = ms_term_clean(in, flags);

	is_str(got, want, name);
	free(got);
}

/* No byte of s is a C0 control, DEL, or the UTF-8 of a C1 or bidi
 * control. */
static int
no_controls(const char *s)
{
	size_t i = 0, n, len = strlen(s);
	uint32_t cp;

	while (i < len) {
		if ((n = ms_utf8_decode(s + i, len - i, &cp)) == 0 ||
		    ms_utf8_is_control(cp))
			return 0;
		i += n;
	}
	return 1;
}

int
main(void)
{
	static const uint32_t controls[] = {0x00, 0x07, 0x08, 0x1b, 0x7f, 0x80,
	    0x9b, 0x9d, 0x9f, 0x61c, 0x200b, 0x200f, 0x202a, 0x202e, 0x2060,
	    0x2066, 0x2069, 0xfeff};
	static const uint32_t kept[] = {0x20, 0x7e, 0xa0, 0xe9, 0x2010, 0x2070,
	    0x20ac, 0xfffd, 0x1f4ce, 0x10ffff};
	char u[4], *s;
	uint32_t cp;
	size_t i, n;

	for (i = 0; i < sizeof(controls) / sizeof(*controls); i++)
		ok(ms_utf8_is_control(controls[i]), "U+%04X is a control",
		    (unsigned)controls[i]);
	for (i = 0; i < sizeof(kept) / sizeof(*kept); i++)
		ok(!ms_utf8_is_control(kept[i]), "U+%04X is kept",
		    (unsigned)kept[i]);

	/* Encoding and decoding agree on every length. */
	for (i = 0; i < sizeof(kept) / sizeof(*kept); i++) {
		n = ms_utf8_encode(kept[i], u);
		ok(n > 0 && ms_utf8_decode(u, n, &cp) == n && cp == kept[i],
		    "U+%04X round-trips in %zu bytes", (unsigned)kept[i], n);
	}
	is_int((int)ms_utf8_encode(0xd800, u), 0, "a surrogate is not encoded");
	is_int(
	    (int)ms_utf8_encode(0x110000, u), 0, "past U+10FFFF: not encoded");
	is_int((int)ms_utf8_decode("\xc0\xaf", 2, &cp), 0, "overlong: invalid");
	is_int((int)ms_utf8_decode("\xed\xa0\x80", 3, &cp), 0,
	    "an encoded surrogate: invalid");
	is_int(
	    (int)ms_utf8_decode("\xe2\x82", 2, &cp), 0, "cut short: invalid");

	/* The terminal's view: escapes, OSC, BEL, BS, C1 and bidi. */
	clean("a\033[2Jb", 0, "a\xef\xbf\xbd[2Jb", "ESC is replaced visibly");
	clean("\033]0;pwned\007x", 0, "\xef\xbf\xbd]0;pwned\xef\xbf\xbdx",
	    "an OSC title sequence is broken");
	clean("ab\bc\x7f", 0,
	    "ab\xef\xbf\xbd"
	    "c\xef\xbf\xbd",
	    "BS and DEL");
	clean("x\xc2\x9b"
	      "31my",
	    0,
	    "x\xef\xbf\xbd"
	    "31my",
	    "C1 CSI (U+009B)");
	clean("pay\xe2\x80\xaegnp.exe", 0, "pay\xef\xbf\xbdgnp.exe",
	    "a bidi override (U+202E)");
	clean("in\xe2\x80\x8bvisible\xef\xbb\xbf", 0,
	    "in\xef\xbf\xbdvisible\xef\xbf\xbd", "zero width space and BOM");
	clean("bad \xff\xfe utf8", 0, "bad \xef\xbf\xbd\xef\xbf\xbd utf8",
	    "invalid UTF-8 is replaced");
	clean("tab\there\r\nline", 0, "tab here  line",
	    "white space controls are spaces");
	clean("line 1\nline 2\r\n", MS_TERM_NEWLINES, "line 1\nline 2 \n",
	    "MS_TERM_NEWLINES keeps line feeds only");
	clean("a\033b\tc\xe2\x80\xae"
	      "d",
	    MS_TERM_SPACES, "a b c d",
	    "MS_TERM_SPACES: every control is a space (TSV)");
	clean("a\033b\xc2\x9d"
	      "c\td",
	    MS_TERM_DROP, "abc d", "MS_TERM_DROP: controls dropped (HTML)");
	clean("Caf\xc3\xa9 \xe2\x82\xac 5 \xf0\x9f\x93\x8e \xe4\xb8\xad", 0,
	    "Caf\xc3\xa9 \xe2\x82\xac 5 \xf0\x9f\x93\x8e \xe4\xb8\xad",
	    "every other character is kept");

	/* Error messages quote outside text: they are cleaned too. */
	ms_errc(1, "Gmail said: %s", "\033]0;owned\007 done\r\nnext");
	ok(no_controls(ms_errstr()), "an error message carries no control");
	ok(strstr(ms_errstr(), "owned") != NULL && strstr(ms_errstr(), "next"),
	    "and keeps the text around them: %s", ms_errstr());
	s = ms_utf8_sanitize("a\0b\xff", 4);
	is_str(s,
	    "a\xef\xbf\xbd"
	    "b\xef\xbf\xbd",
	    "ms_utf8_sanitize: NUL and "
	    "invalid bytes");
	free(s);
	return done_testing();
}
