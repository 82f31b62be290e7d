/*
 * graph_priv: what the three files of the Graph driver share: graph.c
 * (a folder's messages: delta rounds, pages, the driver itself),
 * graph_folders.c (the folder hierarchy: which folders are tracked) and
 * graph_batch.c (how requests travel: alone, or 20 to a $batch).
 */
#ifndef MS_GRAPH_PRIV_H
#define MS_GRAPH_PRIV_H

#include <json-c/json.h>
#include <stddef.h>

#include "graph.h"
#include "sync.h"

#define GRAPH_PAGE 200 /* messages a delta page asked alone holds */
/* Inside a $batch each answer is a page of its own: 20 of 200 messages
 * with their headers would pass any sane bound, and an idle poll brings
 * a few items at most. */
#define GRAPH_BATCH_PAGE 50
/* A page of 200 messages with their recipients and the few headers asked
 * is a few MB at most; so is a $batch of 20 pages of 50. */
#define GRAPH_MAX_PAGE (16u << 20)
#define GRAPH_MAX_ONE (1u << 20)
#define GRAPH_SELECT                                                           \
	"subject,from,toRecipients,ccRecipients,receivedDateTime,"             \
	"sentDateTime,bodyPreview,hasAttachments,internetMessageId,"           \
	"conversationId,isDraft,parentFolderId,internetMessageHeaders"
/* The cursor key of the folder hierarchy (no folder id starts so). */
#define GRAPH_TREE_KEY "#folders"

struct graph;
struct gcall;

/*
 * A call's answer: status (0 when it will never come: the account
 * failed, or the run was cut short), its JSON body (the handler's to
 * put; NULL when there is none or it is not JSON: then ms_err says why
 * for a 200). The call is freed after the handler returns.
 */
typedef void
gcall_fn(struct graph *, struct gcall *, long status, struct json_object *body);

struct gcall {
	char *url; /* absolute: made here, or a link Graph gave (checked) */
	int page; /* a page of a collection: Prefer odata.maxpagesize */
	gcall_fn *fn;
	void *arg;
	int tries; /* answers asked again from inside a $batch */
};

/* A tracked folder. */
struct gfolder {
	struct graph *gr;
	char *key; /* its cursor's: "inbox", "sentitems" or the folder id */
	char *id; /* in URLs: the well-known name or the id */
	char *path; /* for people: "Inbox/Clients" */
	char *delta_link; /* as stored: kept until a new one */
	char *resume; /* the unfinished round's next page, until asked */
	int resynced;
	int finished; /* its round ended this run, or it is gone */
	int gone; /* deleted, moved out of what is synced, or excluded */
};

struct gtree; /* graph_folders.c */

struct graph {
	struct ms_sync *s;
	char *root; /* api_url "/v1.0": what $batch urls are relative to */
	char *base; /* root "/me" or root "/users/ADDRESS" */
	struct gfolder **f;
	size_t nf;
	int left; /* folders and hierarchy rounds not finished this run */
	struct gtree *tree; /* NULL: Inbox and Sent Items only */
};

/* graph_batch.c */
struct gcall *gcall_new(const char *url, int page, gcall_fn *fn, void *arg);
/*
 * Send calls (taking them and the vector's entries; the vector stays
 * the caller's): one alone goes alone, more go 20 to a $batch. Inside a
 * batch, an answer refused for rate (429) is asked again after its own
 * Retry-After and teaches the limiter, a 401 refreshes the token and a
 * 5xx is asked again, at most MS_FETCH_ATTEMPTS times; every other
 * answer goes to its call's handler. delay: seconds before they start.
 */
void graph_send(struct graph *, struct gcall **calls, size_t n, double delay);
/* Calls never sent: their handlers told (status 0), then freed. */
void graph_drop(struct graph *, struct gcall **calls, size_t n);

/* graph.c */
/* A folder starting, or going on, this run: its cursor read. NULL
 * with ms_err when it cannot be read. */
struct gfolder *graph_folder_add(
    struct graph *, const char *key, const char *id, const char *path);
/* The call that goes on with f's round: its stored link, or its first
 * page. */
struct gcall *graph_folder_call(struct gfolder *f);
/* f is no longer tracked: its cursor dropped, its emails kept; in the
 * caller's transaction when txn is set, else in one of its own. */
int graph_folder_drop(struct gfolder *f, int txn);
/* One unit of work (a folder's round, the hierarchy's) ended. */
void graph_finished(struct graph *);
/* Whether url leads to the Graph API of the account; if not, a
 * warning names where (what: "Inbox deltaLink"). */
int graph_link_ok(struct graph *, const char *url, const char *what);
/* Fail the account with "Graph WHAT: HTTP N CODE: message". */
void graph_fail_reply(
    struct graph *, const char *what, long status, struct json_object *body);
/* The error code of an error reply's body, or NULL. */
const char *graph_error_code(struct json_object *body);
/* Whether an error reply means the delta state is gone (HTTP 410, or
 * syncStateNotFound, resyncRequired): the round starts again. */
int graph_state_lost(long status, struct json_object *body);
/* A delta page's value array (NULL when it has none) and its next and
 * delta links, borrowed from o; -1 when o is not a page: a value that
 * is not an array, or neither link. */
int graph_delta_page(struct json_object *o, struct json_object **arr,
    const char **next, const char **delta);

/* graph_folders.c */
/*
 * Read the hierarchy's cursor and the settings (outlook.folders,
 * outlook.exclude): the folders tracked are added to gr
 * (graph_folder_add), the ones no longer tracked dropped, and the
 * hierarchy's own requests of this run appended to *calls (*n of them):
 * the well-known folders and the first page when it is not known yet;
 * else its delta, when the last $batch of the folders' polls has room
 * for it, or once a day. 0, or -1 with ms_err.
 */
int graph_tree_start(struct graph *, struct gcall ***calls, size_t *n);
void graph_tree_free(struct gtree *);

#endif
