/*
 * json: reading JSON from outside (provider replies, import files)
 * within bounds, and the typed lookups every reader shares.
 *
 * json-c builds a tree several hundred times the size of a reply made of
 * empty objects ({"value":[{},{},...]}), so a parse is refused before
 * it starts when the text holds more containers or values than any
 * legitimate reply, or nests deeper: a hostile reply costs at most a few
 * hundred MB of tree, whatever its size (bounded as well, per request).
 * Lookups never trust a type: a member that is absent, null or of
 * another type reads as absent.
 */
#ifndef MS_JSON_H
#define MS_JSON_H

#include <json-c/json.h>
#include <stddef.h>

#define MS_JSON_MAX_DEPTH 32 /* replies nest 6 deep or so */
#define MS_JSON_MAX_CONTAINERS 200000 /* objects and arrays */
#define MS_JSON_MAX_VALUES 1000000

/*
 * Parse s[0..len) as one JSON object (nothing but white space after it).
 * NULL with ms_err (EX_DATAERR) naming what ("Gmail messages.list") when
 * it is not JSON, not an object, or past the bounds above.
 */
struct json_object *ms_json_parse(const char *s, size_t len, const char *what);

/* A member: a string (NULL otherwise), an object, an array. */
const char *ms_json_str(struct json_object *o, const char *key);
struct json_object *ms_json_obj(struct json_object *o, const char *key);
struct json_object *ms_json_arr(struct json_object *o, const char *key);

/*
 * An integer member, or a string of decimal digits (Gmail's historyId
 * and internalDate, some providers' expires_in): 0 with *v, or -1 when
 * absent, of another type or out of range.
 */
int ms_json_int(struct json_object *o, const char *key, long long *v);

/* Whether the member is the boolean true. */
int ms_json_true(struct json_object *o, const char *key);

/* Element i of array a when it is an object (else NULL). */
struct json_object *ms_json_arr_obj(struct json_object *a, size_t i);

/* o as compact JSON text (slashes unescaped), a new string; takes o
 * (puts it). */
char *ms_json_dump(struct json_object *o);

/*
 * A flat JSON object of n string members, for a driver's own small
 * records (its sync cursor): pack makes it from keys and vals (a NULL
 * val is left out), a new string; unpack reads each key's string, or
 * NULL, into vals (new strings). unpack: 0, or -1 when text is not such
 * an object (vals all NULL then).
 */
char *ms_json_pack(const char *const *keys, char *const *vals, size_t n);
int ms_json_unpack(
    const char *text, const char *const *keys, char **vals, size_t n);

#endif
