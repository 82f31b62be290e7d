/*
 * test-graph-batch: Graph's JSON $batch as the Graph driver sends it and
 * reads the replies (learn.microsoft.com/graph/json-batching): answers
 * matched by id, never by position, each request answered exactly once.
 */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "json.h"
#include "tap.h"
#include "util.h"

static int
parse(const char *reply, size_t n, struct ms_graph_answer *a)
{
	struct json_object *o = ms_json_parse(reply, strlen(reply), "reply");
	int rc;

	if (o == NULL)
		return -2;
	rc = ms_graph_batch_parse(o, n, a);
	json_object_put(o);
	return rc;
}

int
main(void)
{
	char *urls[] = {
	    "/me/mailFolders/inbox/messages/delta", "/me/mailFolders/delta"};
	char *prefer[] = {"odata.maxpagesize=50, IdType=\"ImmutableId\"", NULL};
	struct ms_graph_answer a[2];
	struct json_object *o, *r;
	char *body;

	body = ms_graph_batch_request(urls, prefer, 2);
	o = ms_json_parse(body, strlen(body), "request");
	r = json_object_array_get_idx(ms_json_arr(o, "requests"), 0);
	ok(o != NULL &&
		json_object_array_length(ms_json_arr(o, "requests")) == 2,
	    "a request of two");
	is_str(ms_json_str(r, "id"), "1", "ids from 1");
	is_str(ms_json_str(r, "method"), "GET", "GETs");
	is_str(ms_json_str(r, "url"), urls[0], "relative urls, as given");
	is_str(ms_json_str(ms_json_obj(r, "headers"), "Prefer"), prefer[0],
	    "each request its own Prefer");
	r = json_object_array_get_idx(ms_json_arr(o, "requests"), 1);
	ok(ms_json_obj(r, "headers") == NULL, "none when none is given");
	json_object_put(o);
	free(body);

	/* Answers come in any order, matched by id. */
	ok(parse("{\"responses\":[{\"id\":\"2\",\"status\":429,\"headers\":"
		 "{\"retry-after\":\"7\"},\"body\":{\"error\":{}}},"
		 "{\"id\":\"1\",\"status\":200,\"body\":{\"value\":[]}}]}",
	       2, a) == 0,
	    "a reply in another order");
	ok(a[0].status == 200 && a[0].body != NULL && a[0].retry_after == -1,
	    "answer 1 is request 1's");
	ok(a[1].status == 429 && a[1].retry_after == 7,
	    "answer 2 with its own Retry-After, any case");
	ok(parse("{\"responses\":[{\"id\":\"1\",\"status\":200,\"body\":"
		 "\"bm90IEpTT04=\"},{\"id\":\"2\",\"status\":204}]}",
	       2, a) == 0 &&
		a[0].body == NULL,
	    "a body that is no JSON object reads as none");

	ok(parse("{\"responses\":[{\"id\":\"1\",\"status\":200},"
		 "{\"id\":\"1\",\"status\":200}]}",
	       2, a) == -1 &&
		strstr(ms_errstr(), "two answers"),
	    "two answers to one request: refused");
	ok(parse("{\"responses\":[{\"id\":\"1\",\"status\":200}]}", 2, a) ==
		    -1 &&
		strstr(ms_errstr(), "not answered"),
	    "a request not answered: refused");
	ok(parse("{\"responses\":[{\"id\":\"1\",\"status\":200},"
		 "{\"id\":\"3\",\"status\":200}]}",
	       2, a) == -1,
	    "an id naming no request: refused");
	ok(parse("{\"responses\":[{\"id\":\"01\",\"status\":200},"
		 "{\"id\":\"2\",\"status\":200}]}",
	       2, a) == -1,
	    "an id not as sent: refused");
	ok(parse("{\"responses\":[{\"id\":1,\"status\":200},"
		 "{\"id\":\"2\",\"status\":200}]}",
	       2, a) == -1,
	    "an id that is no string: refused");
	ok(parse("{\"responses\":[{\"id\":\"1\",\"status\":\"x\"},"
		 "{\"id\":\"2\",\"status\":200}]}",
	       2, a) == -1,
	    "a status that is no number: refused");
	ok(parse("{\"value\":[]}", 2, a) == -1, "no responses: refused");
	return done_testing();
}
