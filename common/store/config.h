/*
 * config: the business-wide settings, their types, defaults and checks.
 *
 * Settings live in the settings table (mailsync-config writes them);
 * every reader asks here so a key has one default, one parser and one
 * description. Keys starting with "state." are internal bookkeeping and
 * are not settings.
 */
#ifndef MS_CONFIG_H
#define MS_CONFIG_H

#include <stddef.h>

#include "db.h"

enum ms_config_type {
	MS_CONFIG_BOOL, /* "on" or "off" */
	MS_CONFIG_INT, /* a whole number in [min, max] */
	MS_CONFIG_NUM, /* a number in [min, max] */
	MS_CONFIG_DATE, /* an ISO 8601 date, or "" for none */
	MS_CONFIG_CHOICE, /* one of choices */
	MS_CONFIG_LIST, /* names separated by ";" (trimmed), or "" */
};

struct ms_config_key {
	const char *key;
	enum ms_config_type type;
	const char *def; /* the default, as stored */
	double min, max;
	const char *doc; /* one line */
	const char *choices; /* MS_CONFIG_CHOICE: "a|b|c" */
};

/* Every setting, in the order list prints them. */
const struct ms_config_key *ms_config_keys(size_t *n);

/* The setting key, or NULL with ms_err (EX_USAGE) when there is none. */
const struct ms_config_key *ms_config_find(const char *key);

/*
 * value checked against k and in the form it is stored ("yes" becomes
 * "on"): a new string, or NULL with ms_err (EX_DATAERR) saying why.
 */
char *ms_config_check(const struct ms_config_key *k, const char *value);

/* The value of key (stored, else the default): a new string or NULL. */
char *ms_config_get(struct ms_db *, const char *key);

/* Check and store; 0, or -1 with ms_err (64 unknown key, 65 bad value). */
int ms_config_set(struct ms_db *, const char *key, const char *value);

/* Back to the default. 0 or -1 (64 for an unknown key). */
int ms_config_unset(struct ms_db *, const char *key);

/* Typed readers; a stored value that no longer parses is an error
 * (EX_CONFIG) naming the key. 0 or -1. */
int ms_config_bool(struct ms_db *, const char *key, int *on);
int ms_config_num(struct ms_db *, const char *key, double *v);
/* The position of the value among the choices of its key (-1: none). */
int ms_config_choice(struct ms_db *, const char *key, int *index);
/* Any type, as stored: a new string in *v. */
int ms_config_str(struct ms_db *, const char *key, char **v);

#endif
