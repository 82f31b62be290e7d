#include "json.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "util.h"

/*
 * Count what json-c would allocate, before it does: containers ('{' and
 * '['), and values (at most one per container, comma and colon, plus
 * one), outside strings. 0 within the bounds, else -1 with ms_err.
 */
static int
bounded(const char *s, size_t len, const char *what)
{
	size_t i, containers = 0, values = 1;
	int instr = 0;

	for (i = 0; i < len; i++) {
		char c = s[i];

		if (instr) {
			if (c == '\\')
				i++;
			else if (c == '"')
				instr = 0;
			continue;
		}
		switch (c) {
		case '"': instr = 1; break;
		case '{':
		case '[':
			containers++;
			values++;
			break;
		case ',': values++; break;
		default: break;
		}
	}
	if (containers > MS_JSON_MAX_CONTAINERS || values > MS_JSON_MAX_VALUES)
		return ms_errc(EX_DATAERR,
		    "%s: a reply of %zu objects and arrays, %zu values: more "
		    "than any real one holds, refused",
		    what, containers, values);
	return 0;
}

struct json_object *
ms_json_parse(const char *s, size_t len, const char *what)
{
	struct json_tokener *tok;
	struct json_object *o = NULL;
	enum json_tokener_error e;
	size_t used;

	if (len > INT_MAX) {
		ms_errc(EX_DATAERR, "%s: a reply of %zu bytes", what, len);
		return NULL;
	}
	if (bounded(s, len, what) == -1)
		return NULL;
	if ((tok = json_tokener_new_ex(MS_JSON_MAX_DEPTH)) == NULL) {
		ms_errc(EX_OSERR, "out of memory");
		return NULL;
	}
	o = json_tokener_parse_ex(tok, s, (int)len);
	e = json_tokener_get_error(tok);
	used = (size_t)json_tokener_get_parse_end(tok);
	while (used < len && strchr(" \t\r\n", s[used]) != NULL)
		used++;
	if (o == NULL || e != json_tokener_success ||
	    !json_object_is_type(o, json_type_object) || used != len) {
		ms_errc(EX_DATAERR, "%s: %s", what,
		    e == json_tokener_error_depth
			? "nested deeper than any real reply, refused"
			: o != NULL && e == json_tokener_success &&
			    !json_object_is_type(o, json_type_object)
			? "not a JSON object"
			: e == json_tokener_continue ||
			    e == json_tokener_success
			? (used != len ? "more after the JSON object"
				       : "the JSON is cut short")
			: "malformed JSON");
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

static struct json_object *
member(struct json_object *o, const char *key, enum json_type type)
{
	struct json_object *v;

	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, type))
		return NULL;
	return v;
}

const char *
ms_json_str(struct json_object *o, const char *key)
{
	struct json_object *v = member(o, key, json_type_string);

	return v != NULL ? json_object_get_string(v) : NULL;
}

struct json_object *
ms_json_obj(struct json_object *o, const char *key)
{
	return member(o, key, json_type_object);
}

struct json_object *
ms_json_arr(struct json_object *o, const char *key)
{
	return member(o, key, json_type_array);
}

int
ms_json_int(struct json_object *o, const char *key, long long *v)
{
	struct json_object *m;
	const char *s;
	char *end;

	if ((m = member(o, key, json_type_int)) != NULL) {
		errno = 0;
		*v = (long long)json_object_get_int64(m);
		return errno == 0 ? 0 : -1;
	}
	if ((s = ms_json_str(o, key)) == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return errno == 0 && *end == '\0' ? 0 : -1;
}

int
ms_json_true(struct json_object *o, const char *key)
{
	struct json_object *v = member(o, key, json_type_boolean);

	return v != NULL && json_object_get_boolean(v);
}

struct json_object *
ms_json_arr_obj(struct json_object *a, size_t i)
{
	struct json_object *v;

	if (a == NULL || !json_object_is_type(a, json_type_array) ||
	    i >= json_object_array_length(a))
		return NULL;
	v = json_object_array_get_idx(a, i);
	return json_object_is_type(v, json_type_object) ? v : NULL;
}

char *
ms_json_dump(struct json_object *o)
{
	char *text = ms_xstrdup(json_object_to_json_string_ext(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));

	json_object_put(o);
	return text;
}

char *
ms_json_pack(const char *const *keys, char *const *vals, size_t n)
{
	struct json_object *o = json_object_new_object();
	size_t i;

	for (i = 0; i < n; i++)
		if (vals[i] != NULL)
			json_object_object_add(
			    o, keys[i], json_object_new_string(vals[i]));
	return ms_json_dump(o);
}

int
ms_json_unpack(const char *text, const char *const *keys, char **vals, size_t n)
{
	struct json_object *o;
	const char *v;
	size_t i;

	memset(vals, 0, n * sizeof(*vals));
	if (text == NULL ||
	    (o = ms_json_parse(text, strlen(text), "a cursor")) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if ((v = ms_json_str(o, keys[i])) != NULL)
			vals[i] = ms_xstrdup(v);
	json_object_put(o);
	return 0;
}
