/*
 * Unit tests for common/mail/date.c. Expected epochs were computed
 * independently (GNU date -u -d ... +%s) from the dates of RFC 5322
 * Appendix A and RFC 822 A.3.
 */
#include <stdio.h>
#include <string.h>

#include "date.h"
#include "tap.h"
#include "util.h"

static void
good(const char *in, long long want, const char *name)
{
	time_t t = 0;
	int r = ms_date_parse_rfc5322(in, &t);

	if (!is_int(r, 0, name))
		diag(ms_errstr());
	is_int(t, want, name);
}

static void
bad(const char *in, const char *name)
{
	time_t t = 0;

	is_int(ms_date_parse_rfc5322(in, &t), -1, name);
}

static void
test_rfc5322(void)
{
	good("Fri, 21 Nov 1997 09:55:06 -0600", 880127706LL, "A.1.1");
	good("Tue, 1 Jul 2003 10:52:37 +0200", 1057049557LL, "A.1.2");
	good("Thu, 13 Feb 1969 23:32:54 -0330", -27723426LL,
	    "A.1.3 (before 1970, half-hour zone)");
	good("Fri, 21 Nov 1997 10:01:10 -0600", 880128070LL, "A.2");
	good("Mon, 24 Nov 1997 14:22:01 -0800", 880410121LL, "A.3 Resent-Date");
	good("21 Nov 1997 10:05:43 -0600", 880127706LL + 637,
	    "A.4 Received date (no day of week)");
	good("Thu,\r\n      13\r\n        Feb\r\n          1969\r\n"
	     "      23:32\r\n               -0330 (Newfoundland Time)",
	    -27723480LL, "A.5 (folded, no seconds, comment)");
	good("Thu, 13 Feb 1969 23:32 -0330 (Newfoundland Time)", -27723480LL,
	    "A.5 unfolded");
	good(
	    "21 Nov 97 09:55:06 GMT", 880106106LL, "A.6.2 (2-digit year, GMT)");
	good("Fri, 21 Nov 1997 09(comment):   55  :  06 -0600", 880127706LL,
	    "A.6.3 (CFWS inside the time)");
	good("26 Aug 76 14:29 EDT", 209932140LL, "RFC 822 A.3.1 (EDT)");
	good("27 Aug 76 09:32 PDT", 210011520LL, "RFC 822 A.3.3 (PDT)");
	good("Fri, 21 Nov 1997 09:55:06 EST", 880124106LL, "EST is -0500");
	good("Fri, 21 Nov 1997 05:55:06 EDT", 880106106LL, "EDT is -0400");
	good("Fri, 21 Nov 1997 03:55:06 CST", 880106106LL, "CST is -0600");
	good("Fri, 21 Nov 1997 02:55:06 MST", 880106106LL, "MST is -0700");
	good("Fri, 21 Nov 1997 01:55:06 PST", 880106106LL, "PST is -0800");
	good("Fri, 21 Nov 1997 02:55:06 PDT", 880106106LL, "PDT is -0700");
	good("Fri, 21 Nov 1997 09:55:06 UT", 880106106LL, "UT");
	good(
	    "Fri, 21 Nov 1997 09:55:06 A", 880106106LL, "military zone: +0000");
	good("Fri, 21 Nov 1997 09:55:06 CEST", 880106106LL,
	    "unknown zone: +0000");
	good("Fri, 21 Nov 1997 09:55:06 +0000 (UTC)", 880106106LL,
	    "trailing comment");
	good("Fri, 21 Nov 1997 09:55:06 +0000 GMT junk", 880106106LL,
	    "trailing junk");
	good("21 Nov 1997 09:55 +0000", 880106100LL, "no day, no seconds");
	good("fri, 21 nov 1997 09:55:06 +0000", 880106106LL, "lower case");
	good("1 Jan 49 00:00:00 +0000", 2493072000LL, "year 49 is 2049");
	good("1 Jan 50 00:00 +0000", -631152000LL, "year 50 is 1950");
	good("1 Jan 103 00:00 +0000", 1041379200LL, "3-digit year + 1900");
	good("Tue, 29 Feb 2000 12:00 +0000", 951825600LL, "leap day");

	bad("", "empty");
	bad("garbage", "garbage");
	bad("Fri, 21 Foo 1997 09:55:06 -0600", "bad month");
	bad("Fri, 32 Nov 1997 09:55:06 -0600", "day 32");
	bad("29 Feb 1900 00:00 +0000", "29 Feb 1900");
	bad("21 Nov 1997 24:00 +0000", "hour 24");
	bad("21 Nov 1997 09:60 +0000", "minute 60");
	bad("21 Nov 1997 09:55:06 +05", "short numeric zone");
	bad("21 Nov 1997 09:55:06 +0575", "zone minutes 75");
	bad("21 Nov 1997", "no time");
	bad("21 Nov 7 09:55 +0000", "1-digit year");
	bad("21 Nov 12345 09:55 +0000", "5-digit year");
	good("Fri, 21 Nov 1997 09:55:06 -0600 (unterminated", 880127706LL,
	    "unterminated comment after the date is still fine");
	bad("Fri, 21 Nov 1997 (unterminated", "unterminated comment");
	ok(strstr(ms_errstr(), "bad date") != NULL, "error: %s", ms_errstr());
}

static void
iso(const char *in, long long want, const char *name)
{
	time_t t = 0;
	int r = ms_date_parse_iso(in, &t);

	if (want == -1) {
		is_int(r, -1, name);
		return;
	}
	if (!is_int(r, 0, name))
		diag(ms_errstr());
	is_int(t, want, name);
}

static void
test_iso(void)
{
	char buf[32];

	iso("2026-11-20", 1795132800LL, "date alone is midnight UTC");
	iso("2026-11-20T14:03:00Z", 1795183380LL, "date-time Z");
	iso("2026-11-20T14:03:00.123+01:00", 1795179780LL,
	    "fraction and offset");
	iso("2026-11-20 14:03", 1795183380LL, "space, no seconds, no zone");
	iso("2026-11-20T15:03:00+0100", 1795183380LL, "offset without colon");
	iso("2026-11-20T09:03:00-05:00", 1795183380LL, "negative offset");
	iso("2026-13-01", -1, "month 13");
	iso("2026-02-30", -1, "30 February");
	iso("2026-11-20T", -1, "T without time");
	iso("2026-11-20x", -1, "trailing junk");
	iso("20261120", -1, "basic format refused");
	iso("", -1, "empty");
	iso("2026-11-20T14:03:00+25:00", -1, "offset hour 25");

	ms_date_format_iso(0, buf, sizeof(buf));
	is_str(buf, "1970-01-01T00:00:00Z", "format epoch 0");
	ms_date_format_iso(880127706, buf, sizeof(buf));
	is_str(buf, "1997-11-21T15:55:06Z", "format A.1.1 date in UTC");
	ms_date_format_iso(-27723480, buf, sizeof(buf));
	is_str(buf, "1969-02-14T03:02:00Z", "format a date before 1970");
	ms_date_format_iso(1795179780, buf, 21);
	is_str(buf, "2026-11-20T13:03:00Z", "21 bytes are enough");
	iso(buf, 1795179780LL, "format and parse round trip");
	ms_date_format_iso(0, buf, 5);
	is_str(buf, "1970", "truncated to the buffer");
}

int
main(void)
{
	test_rfc5322();
	test_iso();
	return done_testing();
}
