/*
 * graph: the Microsoft Graph driver of mailsync-pull (sync.h has the
 * driver interface), and the pieces of it that other code and the
 * fuzzers use.
 */
#ifndef MS_GRAPH_H
#define MS_GRAPH_H

#include <json-c/json.h>

#include "email.h"

/*
 * A Graph message (an item of a delta page, or a message read alone)
 * into e, with *id its id (borrowed from o). Every member may be
 * absent, null or of another type. 0 with e filled; 1 for an item not to
 * store (@removed, a draft); -1 with ms_err (EX_DATAERR) when it is no
 * message (no usable id) or carries only some of its properties (see
 * ms_graph_partial). e is always safe to finish.
 */
int
ms_graph_message(struct json_object *o, struct ms_email *e, const char **id);

/* Whether a delta item carries only some properties (no date at all):
 * what Graph sends for a message changed after an earlier round. */
int ms_graph_partial(struct json_object *o);

/* Whether id looks like a Graph id (it goes into URLs as it is). */
int ms_graph_id_ok(const char *id);

#define MS_GRAPH_BATCH_MAX 20 /* Graph's limit of requests in a $batch */

/*
 * The body of a JSON $batch of n GET requests: urls relative to the
 * version root ("/me/mailFolders/..."), request i with id "i+1" and,
 * when prefer is not NULL and prefer[i] is not, its own Prefer header.
 * A new string.
 */
char *ms_graph_batch_request(char *const *urls, char *const *prefer, size_t n);

/* One request's answer, borrowing from the parsed reply. */
struct ms_graph_answer {
	long status;
	long retry_after; /* seconds of its Retry-After header, -1: none */
	struct json_object *body; /* NULL unless a JSON object */
};

/*
 * Split a $batch reply (its JSON) into answers[0..n), answers[i]
 * answering request i: 0, or -1 with ms_err (EX_TEMPFAIL: a reply to
 * ask again) when it has no responses array, an answer's id names no
 * request of the batch, two answers name the same request, one has no
 * status, or a request is not answered.
 */
int ms_graph_batch_parse(
    struct json_object *reply, size_t n, struct ms_graph_answer *answers);

#endif
