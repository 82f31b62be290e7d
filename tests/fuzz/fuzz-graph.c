/*
 * fuzz-graph: a Microsoft Graph delta page (its "value" items) or a
 * message read alone, into emails (ms_json_parse, then
 * ms_graph_message). An item taken has an id fit for a URL.
 *
 * libfuzzer: -max_len=65536 -dict=graph.dict -malloc_limit_mb=512
 */
#include "email.h"
#include "fuzz.h"
#include "graph.h"
#include "json.h"
#include "util.h"

static void
check_text(const char *s)
{
	FUZZ_CHECK(s == NULL || ms_utf8_valid(s, strlen(s)));
}

static void
one(struct json_object *item)
{
	struct ms_email e;
	const char *id = NULL;
	size_t i;

	if (ms_graph_message(item, &e, &id) == 0) {
		FUZZ_CHECK(ms_graph_id_ok(id));
		check_text(e.subject);
		check_text(e.snippet);
		check_text(e.thread_id);
		for (i = 0; i < e.from.n; i++)
			check_text(e.from.v[i].name);
	}
	ms_email_finish(&e);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *o, *v;
	size_t i;

	if ((o = ms_json_parse((const char *)data, size, "fuzz")) == NULL)
		return 0;
	if ((v = ms_json_arr(o, "value")) != NULL) {
		for (i = 0; i < json_object_array_length(v); i++)
			if (ms_json_arr_obj(v, i) != NULL)
				one(ms_json_arr_obj(v, i));
	} else
		one(o);
	json_object_put(o);
	return 0;
}
