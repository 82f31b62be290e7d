/*
 * fuzz-json: the bounded JSON parse of every provider reply and token
 * response (ms_json_parse), and the typed lookups that read it. A parse
 * that succeeds is an object within MS_JSON_MAX_DEPTH.
 *
 * libfuzzer: -max_len=65536 -dict=json.dict -malloc_limit_mb=512
 */
#include "fuzz.h"
#include "json.h"

/* The nesting depth of o (1 for an object of scalars). */
static int
depth(struct json_object *o)
{
	struct json_object_iterator it, end;
	size_t i, n;
	int d, max = 0;

	if (json_object_is_type(o, json_type_object)) {
		it = json_object_iter_begin(o);
		end = json_object_iter_end(o);
		for (; !json_object_iter_equal(&it, &end);
		     json_object_iter_next(&it))
			if ((d = depth(json_object_iter_peek_value(&it))) > max)
				max = d;
		return max + 1;
	}
	if (json_object_is_type(o, json_type_array)) {
		n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			if ((d = depth(json_object_array_get_idx(o, i))) > max)
				max = d;
		return max + 1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *o, *a;
	long long v;
	size_t i;

	if ((o = ms_json_parse((const char *)data, size, "fuzz")) == NULL)
		return 0;
	FUZZ_CHECK(json_object_is_type(o, json_type_object));
	FUZZ_CHECK(depth(o) <= MS_JSON_MAX_DEPTH);
	(void)ms_json_str(o, "id");
	(void)ms_json_int(o, "historyId", &v);
	(void)ms_json_int(o, "expires_in", &v);
	(void)ms_json_true(o, "isDraft");
	(void)ms_json_obj(o, "error");
	if ((a = ms_json_arr(o, "value")) != NULL ||
	    (a = ms_json_arr(o, "messages")) != NULL)
		for (i = 0; i < json_object_array_length(a); i++)
			(void)ms_json_str(ms_json_arr_obj(a, i), "id");
	json_object_put(o);
	return 0;
}
