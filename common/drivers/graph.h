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

#endif
