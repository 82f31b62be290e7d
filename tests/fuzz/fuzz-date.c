/*
 * fuzz-date: RFC 5322 dates (Date headers) and ISO 8601 dates (--since,
 * sync.since, provider timestamps). A date that parses prints as ISO
 * and parses back to the same instant, when it falls within the years
 * 0000 to 9999 that four digits hold (a zone can move a date of
 * year 0000 or 9999 out of them).
 *
 * libfuzzer: -max_len=512 -dict=date.dict -malloc_limit_mb=512
 */
#include "date.h"
#include "fuzz.h"

#define FIRST ((time_t)-62167219200) /* 0000-01-01T00:00:00Z */
#define LAST ((time_t)253402300799) /* 9999-12-31T23:59:59Z */

static void
round_trip(time_t t)
{
	char buf[64];
	time_t u;

	if (t < FIRST || t > LAST)
		return;
	ms_date_format_iso(t, buf, sizeof(buf));
	FUZZ_CHECK(ms_date_parse_iso(buf, &u) == 0 && u == t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	time_t t;

	if (ms_date_parse_rfc5322(s, &t) == 0)
		round_trip(t);
	if (ms_date_parse_iso(s, &t) == 0)
		round_trip(t);
	free(s);
	return 0;
}
