#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "date.h"
#include "util.h"

/*
 * The settings. Adding one: a row here, its paragraph in
 * share/man/mailsync-config.1.scd, and the code that reads it.
 */
/* clang-format off */
static const struct ms_config_key keys[] = {
    {"sync.since", MS_CONFIG_DATE, "", 0, 0,
	"first sync of a new account starts at this date (empty: all "
	"history)",
	NULL},
    {"retention.unmatched_days", MS_CONFIG_INT, "0", 0, 36500,
	"delete synced emails matched to no client after this many days "
	"(0: keep)",
	NULL},
    {"match.plus_addressing", MS_CONFIG_BOOL, "off", 0, 0,
	"user+tag@domain matches user@domain", NULL},
    {"match.gmail_dots", MS_CONFIG_BOOL, "off", 0, 0,
	"dots in gmail.com and googlemail.com names do not count", NULL},
    {"exclude.internal", MS_CONFIG_BOOL, "on", 0, 0,
	"mail among the team and the business's own domains is on no "
	"profile",
	NULL},
    {"exclude.bulk", MS_CONFIG_BOOL, "off", 0, 0,
	"newsletters and automated mail are on no profile", NULL},
    {"imap.exclude", MS_CONFIG_LIST, "", 0, 0,
	"IMAP folders not synced (their subfolders too), by name or path, "
	"separated by ;", NULL},
    {"health.stale_minutes", MS_CONFIG_INT, "60", 1, 525600,
	"an active account not synced for this long is stale", NULL},
    {"gmail.fetch", MS_CONFIG_CHOICE, "auto", 0, 0,
	"how a first Gmail sync fetches: auto (by thread when that costs "
	"less quota), messages or threads", "auto|messages|threads"},
    /* Google's quota page: 6,000 units per minute per user per project
     * (older pages said 15,000); pull learns a lower one from refusals. */
    {"quota.gmail_units_per_minute", MS_CONFIG_NUM, "6000", 0, 1e9,
	"Gmail quota units per mailbox per minute, at most (0: no limiter)",
	NULL},
    {"quota.gmail_concurrency", MS_CONFIG_INT, "10", 1, 100,
	"Gmail requests in flight per mailbox", NULL},
    {"quota.graph_requests_per_10min", MS_CONFIG_NUM, "10000", 0, 1e9,
	"Graph requests per mailbox per 10 minutes (0: no limiter)", NULL},
    {"quota.graph_concurrency", MS_CONFIG_INT, "4", 1, 100,
	"Graph requests in flight per mailbox", NULL},
    {"quota.time_scale", MS_CONFIG_NUM, "1", 0.001, 1000,
	"quota windows divided by this (only for emulated providers)", NULL},
    {"outlook.folders", MS_CONFIG_CHOICE, "all", 0, 0,
	"Outlook folders synced: all (but deleted, junk, drafts, outbox and "
	"the like) or inbox-sent",
	"all|inbox-sent"},
    {"outlook.exclude", MS_CONFIG_LIST, "", 0, 0,
	"Outlook folders not synced, by name or path, separated by ; "
	"(Clients/Old;Newsletters)",
	NULL},
};
/* clang-format on */

#define NKEYS (sizeof(keys) / sizeof(*keys))

const struct ms_config_key *
ms_config_keys(size_t *n)
{
	*n = NKEYS;
	return keys;
}

const struct ms_config_key *
ms_config_find(const char *key)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].key, key) == 0)
			return &keys[i];
	ms_errc(EX_USAGE, "no setting \"%s\" (mailsync-config list shows them)",
	    key);
	return NULL;
}

static const char *
parse_bool(const char *v)
{
	static const char *const on[] = {"on", "true", "yes", "1"};
	static const char *const off[] = {"off", "false", "no", "0"};
	size_t i;

	for (i = 0; i < sizeof(on) / sizeof(*on); i++) {
		if (ms_ascii_casecmp(v, on[i]) == 0)
			return "on";
		if (ms_ascii_casecmp(v, off[i]) == 0)
			return "off";
	}
	return NULL;
}

static char *
check_number(const struct ms_config_key *k, const char *v)
{
	char *end;
	double d;

	d = strtod(v, &end);
	if (*v == '\0' || *end != '\0' || !isfinite(d) ||
	    (k->type == MS_CONFIG_INT && d != (double)(long long)d)) {
		ms_errc(EX_DATAERR, "%s: \"%s\" is not %s", k->key, v,
		    k->type == MS_CONFIG_INT ? "a whole number" : "a number");
		return NULL;
	}
	if (d < k->min || d > k->max) {
		ms_errc(EX_DATAERR, "%s: %s is out of range (%g to %g)", k->key,
		    v, k->min, k->max);
		return NULL;
	}
	return k->type == MS_CONFIG_INT ? ms_xasprintf("%.0f", d)
					: ms_xstrdup(v);
}

/* "gmail.fetch: "x" is not auto, messages or threads": the choices
 * read as a sentence, not as the "|" list they are stored as. */
static void
choice_refused(const struct ms_config_key *k, const char *v)
{
	struct ms_buf b = {0};
	const char *c = k->choices, *end, *last = strrchr(c, '|');
	char *list;

	for (; c != NULL; c = end ? end + 1 : NULL) {
		end = strchr(c, '|');
		if (c != k->choices)
			ms_buf_adds(
			    &b, last != NULL && c == last + 1 ? " or " : ", ");
		ms_buf_add(&b, c, end ? (size_t)(end - c) : strlen(c));
	}
	list = ms_buf_steal(&b);
	ms_errc(EX_DATAERR, "%s: \"%s\" is not %s", k->key, v, list);
	free(list);
}

/* The index of v among choices ("a|b", case ignored), or -1; *at and
 * *len (when at is not NULL) the choice as written there. */
static int
choice_find(const char *choices, const char *v, const char **at, size_t *len)
{
	const char *c, *end;
	size_t n;
	int i;

	for (i = 0, c = choices; c != NULL; i++, c = end ? end + 1 : NULL) {
		end = strchr(c, '|');
		n = end ? (size_t)(end - c) : strlen(c);
		if (n > 0 && strlen(v) == n &&
		    ms_ascii_ncasecmp(c, v, n) == 0) {
			if (at != NULL) {
				*at = c;
				*len = n;
			}
			return i;
		}
	}
	return -1;
}

/* One of k->choices, as written there. */
static char *
check_choice(const struct ms_config_key *k, const char *v)
{
	const char *at;
	size_t n;

	if (choice_find(k->choices, v, &at, &n) >= 0)
		return ms_xstrndup(at, n);
	choice_refused(k, v);
	return NULL;
}

/* Names separated by ";": each trimmed, none empty, no control
 * character; stored joined by ";" again. At most 4 KB. */
static char *
check_list(const struct ms_config_key *k, const char *v)
{
	struct ms_buf b = {0};
	const char *p = v, *end, *s, *e;
	char *out;

	if (strlen(v) > 4096) {
		ms_errc(EX_DATAERR, "%s: longer than 4096 bytes", k->key);
		return NULL;
	}
	for (s = v; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			ms_errc(EX_DATAERR, "%s: a control character", k->key);
			return NULL;
		}
	while (*v != '\0' && p != NULL) {
		end = strchr(p, ';');
		s = p;
		e = end ? end : p + strlen(p);
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e == s) {
			ms_buf_finish(&b);
			ms_errc(EX_DATAERR,
			    "%s: \"%s\" has an empty name (names are "
			    "separated by ;)",
			    k->key, v);
			return NULL;
		}
		ms_buf_printf(&b, "%s%.*s", b.len ? ";" : "", (int)(e - s), s);
		p = end ? end + 1 : NULL;
	}
	out = ms_xstrdup(b.len ? b.s : "");
	ms_buf_finish(&b);
	return out;
}

char *
ms_config_check(const struct ms_config_key *k, const char *v)
{
	const char *b;
	time_t t;

	switch (k->type) {
	case MS_CONFIG_BOOL:
		if ((b = parse_bool(v)) != NULL)
			return ms_xstrdup(b);
		ms_errc(EX_DATAERR, "%s: \"%s\" is not on or off", k->key, v);
		return NULL;
	case MS_CONFIG_DATE:
		if (*v == '\0' || ms_date_parse_iso(v, &t) == 0)
			return ms_xstrdup(v);
		ms_errc(EX_DATAERR,
		    "%s: \"%s\" is not a date (YYYY-MM-DD, or empty for none)",
		    k->key, v);
		return NULL;
	case MS_CONFIG_CHOICE: return check_choice(k, v);
	case MS_CONFIG_LIST: return check_list(k, v);
	default: return check_number(k, v);
	}
}

char *
ms_config_get(struct ms_db *db, const char *key)
{
	const struct ms_config_key *k;
	char *v;

	if ((k = ms_config_find(key)) == NULL ||
	    ms_db_setting_get(db, key, &v) == -1)
		return NULL;
	return v != NULL ? v : ms_xstrdup(k->def);
}

int
ms_config_set(struct ms_db *db, const char *key, const char *value)
{
	const struct ms_config_key *k;
	char *v;
	int rc;

	if ((k = ms_config_find(key)) == NULL ||
	    (v = ms_config_check(k, value)) == NULL)
		return -1;
	rc = ms_db_setting_set(db, key, v);
	free(v);
	return rc;
}

int
ms_config_unset(struct ms_db *db, const char *key)
{
	if (ms_config_find(key) == NULL)
		return -1;
	return ms_db_setting_unset(db, key);
}

/* The value of key as checked now: a stored value edited by hand into
 * something invalid stops the reader with a clear message. */
static char *
get_checked(struct ms_db *db, const char *key)
{
	const struct ms_config_key *k;
	char *v, *c;

	if ((k = ms_config_find(key)) == NULL ||
	    (v = ms_config_get(db, key)) == NULL)
		return NULL;
	if ((c = ms_config_check(k, v)) == NULL) {
		char *why = ms_xstrdup(ms_errstr());

		ms_errc(EX_CONFIG, "setting %s", why);
		free(why);
	}
	free(v);
	return c;
}

int
ms_config_bool(struct ms_db *db, const char *key, int *on)
{
	char *v;

	if ((v = get_checked(db, key)) == NULL)
		return -1;
	*on = strcmp(v, "on") == 0;
	free(v);
	return 0;
}

int
ms_config_num(struct ms_db *db, const char *key, double *d)
{
	char *v;

	if ((v = get_checked(db, key)) == NULL)
		return -1;
	*d = strtod(v, NULL);
	free(v);
	return 0;
}

int
ms_config_choice(struct ms_db *db, const char *key, int *index)
{
	const struct ms_config_key *k;
	char *v;

	if ((k = ms_config_find(key)) == NULL ||
	    (v = get_checked(db, key)) == NULL)
		return -1;
	*index = choice_find(k->choices, v, NULL, NULL);
	free(v);
	return 0;
}

int
ms_config_str(struct ms_db *db, const char *key, char **v)
{
	return (*v = get_checked(db, key)) == NULL ? -1 : 0;
}
