/*
 * date: RFC 5322 and ISO 8601 dates.
 */
#include "date.h"

#include <stdio.h>
#include <string.h>

#include "text.h"
#include "util.h"

static const char *const months[] = {
    "jan",
    "feb",
    "mar",
    "apr",
    "may",
    "jun",
    "jul",
    "aug",
    "sep",
    "oct",
    "nov",
    "dec",
};

static const char *const days[] = {
    "mon",
    "tue",
    "wed",
    "thu",
    "fri",
    "sat",
    "sun",
};

static const struct {
	const char *name;
	int minutes;
} zones[] = {
    {"ut", 0},
    {"utc", 0},
    {"gmt", 0},
    {"z", 0},
    {"est", -5 * 60},
    {"edt", -4 * 60},
    {"cst", -6 * 60},
    {"cdt", -5 * 60},
    {"mst", -7 * 60},
    {"mdt", -6 * 60},
    {"pst", -8 * 60},
    {"pdt", -7 * 60},
};

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Read 1..maxd digits into *v; returns the end or NULL. */
static const char *
get_num(const char *p, int maxd, int *v, int *nd)
{
	int n = 0, d = 0;

	while (is_digit(*p) && d < maxd) {
		n = n * 10 + (*p++ - '0');
		d++;
	}
	if (d == 0 || is_digit(*p))
		return NULL;
	*v = n;
	if (nd != NULL)
		*nd = d;
	return p;
}

/* Length of the alphabetic word at p. */
static size_t
word_len(const char *p)
{
	size_t n = 0;

	while (is_alpha(p[n]))
		n++;
	return n;
}

/* Index of the 3-letter name (or longer word starting with it), or -1. */
static int
lookup3(const char *p, size_t n, const char *const *tab, int ntab)
{
	int i;

	if (n < 3)
		return -1;
	for (i = 0; i < ntab; i++)
		if (ms_ascii_ncasecmp(p, tab[i], 3) == 0)
			return i;
	return -1;
}

static int
days_in_month(int year, int mon)
{
	static const int dm[] = {
	    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return mon == 1 && leap ? 29 : dm[mon];
}

static int
make_time(
    int year, int mon, int day, int h, int mi, int sec, int zone_min, time_t *t)
{
	struct tm tm;

	if (year < 0 || year > 9999 || mon < 0 || mon > 11 || day < 1 ||
	    day > days_in_month(year, mon) || h > 23 || mi > 59 || sec > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon;
	tm.tm_mday = day;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*t = timegm(&tm) - (time_t)zone_min * 60;
	return 0;
}

/* The zone at p (after CFWS); trailing text is ignored. */
static int
parse_zone(const char *p, int *zone_min)
{
	size_t n, i;
	int v, nd;

	*zone_min = 0;
	if (*p == '+' || *p == '-') {
		if (get_num(p + 1, 4, &v, &nd) == NULL || nd != 4 ||
		    v % 100 > 59)
			return -1;
		*zone_min = (v / 100 * 60 + v % 100) * (*p == '-' ? -1 : 1);
		return 0;
	}
	n = word_len(p);
	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
		if (strlen(zones[i].name) == n &&
		    ms_ascii_ncasecmp(p, zones[i].name, n) == 0)
			*zone_min = zones[i].minutes;
	/* Military letters, unknown names and a missing zone: +0000. */
	return 0;
}

static int
parse5322(const char *s, time_t *t)
{
	const char *p = ms_text_skip_cfws(s);
	int day, mon, year, nd, h, mi, sec = 0, zone;
	size_t n;

	n = word_len(p);
	if (n > 0) {
		if (lookup3(p, n, days, 7) == -1)
			return -1;
		p = ms_text_skip_cfws(p + n);
		if (*p == ',')
			p = ms_text_skip_cfws(p + 1);
	}
	if ((p = get_num(p, 2, &day, NULL)) == NULL)
		return -1;
	p = ms_text_skip_cfws(p);
	if (*p == '-') /* "21-Nov-97" from old agents */
		p++;
	n = word_len(p);
	if ((mon = lookup3(p, n, months, 12)) == -1)
		return -1;
	p += n;
	if (*p == '-')
		p++;
	p = ms_text_skip_cfws(p);
	if ((p = get_num(p, 4, &year, &nd)) == NULL || nd < 2)
		return -1;
	if (nd == 2)
		year += year < 50 ? 2000 : 1900;
	else if (nd == 3)
		year += 1900;
	p = ms_text_skip_cfws(p);
	if ((p = get_num(p, 2, &h, NULL)) == NULL)
		return -1;
	p = ms_text_skip_cfws(p);
	if (*p++ != ':')
		return -1;
	p = ms_text_skip_cfws(p);
	if ((p = get_num(p, 2, &mi, NULL)) == NULL)
		return -1;
	p = ms_text_skip_cfws(p);
	if (*p == ':') {
		p = ms_text_skip_cfws(p + 1);
		if ((p = get_num(p, 2, &sec, NULL)) == NULL)
			return -1;
		p = ms_text_skip_cfws(p);
	}
	if (parse_zone(p, &zone) == -1)
		return -1;
	return make_time(year, mon, day, h, mi, sec, zone, t);
}

int
ms_date_parse_rfc5322(const char *s, time_t *t)
{
	if (s == NULL || parse5322(s, t) == -1)
		return ms_err("bad date \"%.64s\"", s != NULL ? s : "");
	return 0;
}

/* Exactly nd digits. */
static const char *
get_fixed(const char *p, int nd, int *v)
{
	int d;

	*v = 0;
	for (d = 0; d < nd; d++, p++) {
		if (!is_digit(*p))
			return NULL;
		*v = *v * 10 + (*p - '0');
	}
	return p;
}

static int
parse_iso(const char *s, time_t *t)
{
	const char *p = s;
	int year, mon, day, h = 0, mi = 0, sec = 0, zh, zm = 0, zone = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	if ((p = get_fixed(p, 4, &year)) == NULL || *p++ != '-' ||
	    (p = get_fixed(p, 2, &mon)) == NULL || *p++ != '-' ||
	    (p = get_fixed(p, 2, &day)) == NULL)
		return -1;
	if (*p == 'T' || *p == 't' || (*p == ' ' && is_digit(p[1]))) {
		p++;
		if ((p = get_fixed(p, 2, &h)) == NULL || *p++ != ':' ||
		    (p = get_fixed(p, 2, &mi)) == NULL)
			return -1;
		if (*p == ':' && (p = get_fixed(p + 1, 2, &sec)) == NULL)
			return -1;
		if (*p == '.' || *p == ',') {
			if (!is_digit(*++p))
				return -1;
			while (is_digit(*p))
				p++;
		}
		if (*p == 'Z' || *p == 'z')
			p++;
		else if (*p == '+' || *p == '-') {
			int sign = *p == '-' ? -1 : 1;

			if ((p = get_fixed(p + 1, 2, &zh)) == NULL)
				return -1;
			if (*p == ':')
				p++;
			if (is_digit(*p) && (p = get_fixed(p, 2, &zm)) == NULL)
				return -1;
			if (zh > 23 || zm > 59)
				return -1;
			zone = sign * (zh * 60 + zm);
		}
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0')
		return -1;
	return make_time(year, mon - 1, day, h, mi, sec, zone, t);
}

int
ms_date_parse_iso(const char *s, time_t *t)
{
	if (s == NULL || parse_iso(s, t) == -1)
		return ms_err("bad date \"%.64s\"", s != NULL ? s : "");
	return 0;
}

void
ms_date_format_iso(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (len == 0)
		return;
	if (gmtime_r(&t, &tm) == NULL) {
		buf[0] = '\0';
		return;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}
