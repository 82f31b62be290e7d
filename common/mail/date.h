/*
 * date: parsing and printing of dates.
 */
#ifndef MS_DATE_H
#define MS_DATE_H

#include <stddef.h>
#include <time.h>

/*
 * Parse an RFC 5322 date-time ("Fri, 21 Nov 1997 09:55:06 -0600"), with
 * the obsolete forms of section 4.3 (two-digit years, zone names such as
 * "EST" or "GMT", military zones taken as +0000, missing seconds, CFWS).
 * Returns 0 and the UTC epoch in *t, or -1 with ms_err set.
 */
int ms_date_parse_rfc5322(const char *s, time_t *t);

/*
 * Parse an ISO 8601 / RFC 3339 date or date-time: "2026-11-20",
 * "2026-11-20T14:03:00Z", "2026-11-20T14:03:00.123+01:00",
 * "2026-11-20 14:03". A date alone is midnight UTC. Returns 0 or -1.
 */
int ms_date_parse_iso(const char *s, time_t *t);

/* Format t as "YYYY-MM-DDTHH:MM:SSZ" into buf (at least 21 bytes). */
void ms_date_format_iso(time_t t, char *buf, size_t len);

#endif
