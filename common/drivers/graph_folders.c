/*
 * graph_folders: which Outlook folders a pull tracks.
 *
 * Every mail folder, nested ones included, but those whose mail is not
 * the business's correspondence: Deleted Items, Junk Email, Drafts,
 * Outbox, Conversation History, Sync Issues (with Conflicts, Local
 * Failures and Server Failures below it), search folders, and what the
 * setting outlook.exclude names; each with everything below it (a
 * folder deleted in Outlook moves under Deleted Items). outlook.folders
 * inbox-sent narrows it to the Inbox and Sent Items.
 *
 * The hierarchy is kept with the mail folder delta (GET
 * /me/mailFolders/delta, learn.microsoft.com/graph/api/mailfolder-delta):
 * its first round lists every folder, flat, each with its parent, and
 * later rounds bring only the folders added, changed (renamed, moved)
 * or removed, so a poll costs one request that can ride in the $batch
 * of the folders' own polls. It does so whenever that batch has room
 * (the tracked folders are not a multiple of 20), else once a day, so
 * that an idle run costs one $batch per 20 tracked folders, as the
 * contract says; a deleted folder is noticed at once anyway, by its own
 * delta's 404. v1.0 folders carry no well-known name: the ids of the
 * well-known folders are read once by name (GET /me/mailFolders/inbox)
 * and kept; a folder's id never changes (outlook-immutable-id:
 * containers' "regular IDs were already constant").
 *
 * The cursor (GRAPH_TREE_KEY) holds the hierarchy's links, the
 * well-known ids and every folder's parent and name; the folders
 * tracked are the account's folders (account.h), whose cursors are the
 * folders' own. Both change in the transaction of the page that changed
 * them.
 */
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "account.h"
#include "config.h"
#include "graph_priv.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define MAX_FOLDERS 10000 /* Exchange's own recommended ceiling */
#define MAX_DEPTH 64
#define DAY (24 * 60 * 60)

/* The well-known folders read by name. */
enum {
	WK_ROOT,
	WK_INBOX,
	WK_SENT,
	WK_FIRST_SKIPPED,
	WK_DELETED = WK_FIRST_SKIPPED,
	WK_JUNK,
	WK_DRAFTS,
	WK_OUTBOX,
	WK_CONVERSATION,
	WK_SYNCISSUES,
	WK_CONFLICTS,
	WK_LOCAL,
	WK_SERVER,
	WK_SEARCH,
	NWK
};
static const char *const wk_names[NWK] = {"msgfolderroot", "inbox", "sentitems",
    "deleteditems", "junkemail", "drafts", "outbox", "conversationhistory",
    "syncissues", "conflicts", "localfailures", "serverfailures",
    "searchfolders"};

struct gnode {
	char *id;
	char *parent; /* or NULL */
	char *name;
	int search; /* a mailSearchFolder */
	int removed; /* by the page being applied: swept by tree_sort */
};

struct gtree {
	char *delta_link, *next_link;
	long long polled; /* when a round last ended (ms_account_now) */
	char *wk[NWK]; /* ids; NULL: no such folder (or not read yet) */
	int wk_known; /* every well-known id was read */
	int wk_pending; /* their answers still to come */
	struct gnode *v; /* sorted by id */
	size_t n;
	int polling; /* a round goes on this run */
	int resynced;
	char **exclude;
	size_t nexclude;
};

static int
node_cmp(const void *a, const void *b)
{
	return strcmp(
	    ((const struct gnode *)a)->id, ((const struct gnode *)b)->id);
}

static struct gnode *
node_find(struct gtree *t, const char *id)
{
	struct gnode key = {.id = (char *)id};

	if (id == NULL || t->n == 0)
		return NULL;
	return bsearch(&key, t->v, t->n, sizeof(*t->v), node_cmp);
}

static void
node_free(struct gnode *n)
{
	free(n->id);
	free(n->parent);
	free(n->name);
}

static void
nodes_clear(struct gtree *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		node_free(&t->v[i]);
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

void
graph_tree_free(struct gtree *t)
{
	size_t i;

	if (t == NULL)
		return;
	nodes_clear(t);
	for (i = 0; i < NWK; i++)
		free(t->wk[i]);
	free(t->delta_link);
	free(t->next_link);
	ms_strv_free(t->exclude, t->nexclude);
	free(t);
}

/*
 * The cursor: {"deltaLink", "nextLink", "polled", "wk": {name: id},
 * "folders": {id: [parent, name, search]}}
 */

static const char *
arr_str(struct json_object *a, size_t i)
{
	struct json_object *x = json_object_array_get_idx(a, i);

	return json_object_is_type(x, json_type_string)
	    ? json_object_get_string(x)
	    : NULL;
}

/* A cursor that does not read is no cursor: the hierarchy is listed
 * again. */
static void
tree_unpack(struct gtree *t, const char *text)
{
	struct json_object *o, *wk, *fo, *a;
	const char *s, *p, *name;
	long long v;
	size_t i;

	if (text == NULL ||
	    (o = ms_json_parse(text, strlen(text), "Graph folders")) == NULL)
		return;
	if ((s = ms_json_str(o, "deltaLink")) != NULL)
		t->delta_link = ms_xstrdup(s);
	if ((s = ms_json_str(o, "nextLink")) != NULL)
		t->next_link = ms_xstrdup(s);
	if (ms_json_int(o, "polled", &v) == 0)
		t->polled = v;
	if ((wk = ms_json_obj(o, "wk")) != NULL) {
		t->wk_known = 1;
		for (i = 0; i < NWK; i++)
			if ((s = ms_json_str(wk, wk_names[i])) != NULL)
				t->wk[i] = ms_xstrdup(s);
	}
	if ((fo = ms_json_obj(o, "folders")) != NULL) {
		json_object_object_foreach(fo, id, val)
		{
			a = val;
			if (!json_object_is_type(a, json_type_array) ||
			    (name = arr_str(a, 1)) == NULL ||
			    !ms_graph_id_ok(id) || t->n >= MAX_FOLDERS)
				continue;
			p = arr_str(a, 0);
			t->v = ms_xreallocarray(t->v, t->n + 1, sizeof(*t->v));
			memset(&t->v[t->n], 0, sizeof(*t->v));
			t->v[t->n].id = ms_xstrdup(id);
			t->v[t->n].parent = p ? ms_xstrdup(p) : NULL;
			t->v[t->n].name = ms_xstrdup(name);
			t->v[t->n].search = json_object_get_boolean(
			    json_object_array_get_idx(a, 2));
			t->n++;
		}
		qsort(t->v, t->n, sizeof(*t->v), node_cmp);
	}
	json_object_put(o);
}

static char *
tree_pack(const struct gtree *t)
{
	struct json_object *o = json_object_new_object(), *wk, *fo, *a;
	size_t i;

	if (t->delta_link != NULL)
		json_object_object_add(
		    o, "deltaLink", json_object_new_string(t->delta_link));
	if (t->next_link != NULL)
		json_object_object_add(
		    o, "nextLink", json_object_new_string(t->next_link));
	json_object_object_add(o, "polled", json_object_new_int64(t->polled));
	if (t->wk_known) {
		wk = json_object_new_object();
		for (i = 0; i < NWK; i++)
			if (t->wk[i] != NULL)
				json_object_object_add(wk, wk_names[i],
				    json_object_new_string(t->wk[i]));
		json_object_object_add(o, "wk", wk);
	}
	fo = json_object_new_object();
	for (i = 0; i < t->n; i++) {
		a = json_object_new_array();
		json_object_array_add(a,
		    t->v[i].parent ? json_object_new_string(t->v[i].parent)
				   : NULL);
		json_object_array_add(a, json_object_new_string(t->v[i].name));
		json_object_array_add(
		    a, json_object_new_boolean(t->v[i].search));
		json_object_object_add(fo, t->v[i].id, a);
	}
	json_object_object_add(o, "folders", fo);
	return ms_json_dump(o);
}

/* Inside the caller's transaction. */
static int
tree_store(struct graph *gr)
{
	char *text = tree_pack(gr->tree);
	int rc = ms_sync_cursor_set(gr->s, GRAPH_TREE_KEY, text);

	free(text);
	return rc;
}

/*
 * Which folders are tracked
 */

/* The folder's path from the top of the mailbox ("Inbox/Clients"), a
 * new string; NULL when it lies below a folder not synced. */
static char *
path_of(struct gtree *t, struct gnode *n)
{
	struct gnode *chain[MAX_DEPTH];
	struct ms_buf b = {0};
	size_t depth = 0, i, k;
	char *path;

	for (; n != NULL && depth < MAX_DEPTH; depth++) {
		for (k = WK_FIRST_SKIPPED; k < NWK; k++)
			if (t->wk[k] != NULL && strcmp(t->wk[k], n->id) == 0)
				return NULL;
		if (n->search ||
		    (t->wk[WK_ROOT] != NULL &&
			strcmp(t->wk[WK_ROOT], n->id) == 0))
			return NULL;
		chain[depth] = n;
		if (n->parent == NULL ||
		    (t->wk[WK_ROOT] != NULL &&
			strcmp(n->parent, t->wk[WK_ROOT]) == 0))
			break;
		n = node_find(t, n->parent);
	}
	if (depth == MAX_DEPTH)
		return NULL; /* a loop of parents: no sane folder */
	if (n != NULL)
		depth++;
	for (i = depth; i-- > 0;)
		ms_buf_printf(&b, "%s%s", b.len ? "/" : "", chain[i]->name);
	path = ms_xstrdup(b.len ? b.s : "");
	ms_buf_finish(&b);
	return path;
}

/* Whether outlook.exclude names the folder at path, or one above it: a
 * name alone matches any folder so named, a path ("Clients/Old") that
 * folder. */
static int
excluded(const struct gtree *t, const char *path)
{
	const char *seg, *end;
	size_t i, n, sl, plen = strlen(path);

	for (i = 0; i < t->nexclude; i++) {
		const char *x = t->exclude[i];

		n = strlen(x);
		if (strchr(x, '/') != NULL) {
			if (plen >= n && ms_ascii_ncasecmp(path, x, n) == 0 &&
			    (path[n] == '\0' || path[n] == '/'))
				return 1;
			continue;
		}
		for (seg = path; seg != NULL; seg = end ? end + 1 : NULL) {
			end = strchr(seg, '/');
			sl = end ? (size_t)(end - seg) : strlen(seg);
			if (sl == n && ms_ascii_ncasecmp(seg, x, n) == 0)
				return 1;
		}
	}
	return 0;
}

/* The cursor key of a folder: the well-known name for the Inbox and
 * Sent Items (their cursors predate the hierarchy), else its id. */
static const char *
key_of(const struct gtree *t, const char *id)
{
	if (t->wk[WK_INBOX] != NULL && strcmp(t->wk[WK_INBOX], id) == 0)
		return "inbox";
	if (t->wk[WK_SENT] != NULL && strcmp(t->wk[WK_SENT], id) == 0)
		return "sentitems";
	return id;
}

struct want {
	char **keys, **paths;
	size_t n;
};

static void
want_add(struct want *w, const char *key, const char *path)
{
	w->keys = ms_xreallocarray(w->keys, w->n + 1, sizeof(*w->keys));
	w->paths = ms_xreallocarray(w->paths, w->n + 1, sizeof(*w->paths));
	w->keys[w->n] = ms_xstrdup(key);
	w->paths[w->n++] = ms_xstrdup(path);
}

static void
want_free(struct want *w)
{
	ms_strv_free(w->keys, w->n);
	ms_strv_free(w->paths, w->n);
	memset(w, 0, sizeof(*w));
}

static void
want_of_tree(struct gtree *t, struct want *w)
{
	size_t i;
	char *path;

	for (i = 0; i < t->n; i++) {
		if ((path = path_of(t, &t->v[i])) == NULL)
			continue;
		if (*path != '\0' && !excluded(t, path))
			want_add(w, key_of(t, t->v[i].id), path);
		free(path);
	}
}

static struct gfolder *
tracked(struct graph *gr, const char *key)
{
	size_t i;

	for (i = 0; i < gr->nf; i++)
		if (!gr->f[i]->gone && strcmp(gr->f[i]->key, key) == 0)
			return gr->f[i];
	return NULL;
}

static int
wanted(const struct want *w, const char *key)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		if (strcmp(w->keys[i], key) == 0)
			return 1;
	return 0;
}

/*
 * Make the tracked folders those of w, in the caller's transaction:
 * folders no longer wanted are dropped (their emails stay), renamed
 * ones get their new path, new ones are added to gr, and to *added
 * when not NULL (the caller starts them). 0 or -1.
 */
static int
reconcile(struct graph *gr, const struct want *w, struct gfolder ***added,
    size_t *nadded)
{
	struct ms_sync *s = gr->s;
	struct gfolder *f;
	size_t i, n = gr->nf;

	for (i = 0; i < n; i++) {
		f = gr->f[i];
		if (f->gone || wanted(w, f->key))
			continue;
		ms_log_info("%s: folder %s is no longer synced; its emails "
			    "stay",
		    s->address, f->path);
		if (graph_folder_drop(f, 1) == -1)
			return -1;
	}
	for (i = 0; i < w->n; i++) {
		if ((f = tracked(gr, w->keys[i])) != NULL) {
			if (strcmp(f->path, w->paths[i]) == 0)
				continue;
			free(f->path);
			f->path = ms_xstrdup(w->paths[i]);
		} else {
			if ((f = graph_folder_add(gr, w->keys[i], w->keys[i],
				 w->paths[i])) == NULL)
				return -1;
			ms_log_debug(
			    "%s: folder %s is synced", s->address, f->path);
			if (added != NULL) {
				*added = ms_xreallocarray(
				    *added, *nadded + 1, sizeof(**added));
				(*added)[(*nadded)++] = f;
			}
		}
		if (ms_account_folder_put(s->db, s->account, f->key, f->path) ==
		    -1)
			return -1;
	}
	return 0;
}

/* Whether the tracked folders and their paths are those of w already
 * (then nothing is written). */
static int
same(struct graph *gr, const struct want *w)
{
	struct gfolder *f;
	size_t i, live = 0;

	for (i = 0; i < gr->nf; i++)
		live += !gr->f[i]->gone;
	if (live != w->n)
		return 0;
	for (i = 0; i < w->n; i++)
		if ((f = tracked(gr, w->keys[i])) == NULL ||
		    strcmp(f->path, w->paths[i]) != 0)
			return 0;
	return 1;
}

/* reconcile in a transaction of its own, when anything changes. */
static int
reconcile_txn(struct graph *gr, const struct want *w)
{
	if (same(gr, w))
		return 0;
	if (ms_sync_begin(gr->s) == -1)
		return -1;
	if (reconcile(gr, w, NULL, NULL) == -1) {
		ms_sync_fail(gr->s);
		return -1;
	}
	return ms_sync_commit(gr->s);
}

/*
 * The hierarchy's requests and answers
 */

static void
tree_answer(struct graph *, struct gcall *, long status, struct json_object *);
static void
wk_answer(struct graph *, struct gcall *, long status, struct json_object *);

static char *
first_url(struct graph *gr)
{
	return ms_xasprintf(
	    "%s/mailFolders/delta?$select=displayName,parentFolderId",
	    gr->base);
}

static struct gcall *
tree_call(struct graph *gr, const char *url)
{
	return gcall_new(url, 1, tree_answer, NULL);
}

/* The round is over and the well-known ids are known: the folders
 * tracked follow the hierarchy, in one transaction with its cursor. */
static void
tree_done(struct graph *gr)
{
	struct gtree *t = gr->tree;
	struct gfolder **added = NULL;
	struct gcall **calls;
	struct want w = {0};
	size_t i, n = 0;

	if (!t->polling || t->next_link != NULL || t->delta_link == NULL ||
	    t->wk_pending > 0)
		return;
	t->polling = 0;
	t->wk_known = 1;
	t->polled = (long long)ms_account_now();
	want_of_tree(t, &w);
	if (ms_sync_begin(gr->s) == -1) {
		want_free(&w);
		return;
	}
	if (reconcile(gr, &w, &added, &n) == -1 || tree_store(gr) == -1) {
		ms_sync_fail(gr->s);
		want_free(&w);
		free(added);
		return;
	}
	want_free(&w);
	if (ms_sync_commit(gr->s) == -1) {
		free(added);
		return;
	}
	calls = ms_xcalloc(n ? n : 1, sizeof(*calls));
	for (i = 0; i < n; i++)
		if ((calls[i] = graph_folder_call(added[i])) == NULL)
			break;
	if (i == n)
		graph_send(gr, calls, n, 0);
	free(calls);
	free(added);
	graph_finished(gr);
}

static void
wk_answer(struct graph *gr, struct gcall *c, long status, struct json_object *o)
{
	struct gtree *t = gr->tree;
	size_t i = (size_t)(uintptr_t)c->arg;
	const char *id;

	if (status == 0) {
		json_object_put(o);
		return;
	}
	t->wk_pending--;
	if (status == 200 && ms_graph_id_ok(id = ms_json_str(o, "id"))) {
		free(t->wk[i]);
		t->wk[i] = ms_xstrdup(id);
	} else if (status != 404) {
		/* Neither the folder nor its absence: it cannot be told
		 * apart from the folders to sync. */
		graph_fail_reply(gr, wk_names[i], status, o);
		json_object_put(o);
		return;
	}
	json_object_put(o);
	tree_done(gr);
}

/* Apply a change to folder n (a change may carry only some properties). */
static void
node_apply(struct gnode *n, struct json_object *it)
{
	const char *name = ms_json_str(it, "displayName"),
		   *parent = ms_json_str(it, "parentFolderId"),
		   *type = ms_json_str(it, "@odata.type");

	if (name != NULL) {
		free(n->name);
		n->name = ms_utf8_sanitize(name, strlen(name));
	}
	if (parent != NULL) {
		free(n->parent);
		n->parent = ms_xstrdup(parent);
	}
	if (type != NULL && strstr(type, "mailSearchFolder") != NULL)
		n->search = 1;
}

/* An item of a page naming a folder not known before the page. */
struct fresh {
	const char *id;
	size_t idx;
	struct json_object *it;
};

static int
fresh_cmp(const void *a, const void *b)
{
	const struct fresh *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c != 0 ? c : x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * Apply a hierarchy page: changes to known folders in place (a removed
 * one swept by tree_sort), new folders sorted once and added, the last
 * of a page's items about one folder winning. Sorting on each insertion
 * would cost a hostile page of thousands of folders minutes.
 */
static void
tree_page(struct gtree *t, struct json_object *arr)
{
	size_t i, j, nf = 0, n = arr ? json_object_array_length(arr) : 0;
	struct fresh *fr = ms_xcalloc(n ? n : 1, sizeof(*fr));
	struct gnode key, *node;
	struct json_object *it;
	const char *id;

	for (i = 0; i < n; i++) {
		if ((it = ms_json_arr_obj(arr, i)) == NULL ||
		    !ms_graph_id_ok(id = ms_json_str(it, "id")))
			continue;
		key.id = (char *)id;
		node = t->n ? bsearch(&key, t->v, t->n, sizeof(*t->v), node_cmp)
			    : NULL;
		if (node == NULL) {
			fr[nf].id = id;
			fr[nf].idx = i;
			fr[nf++].it = it;
		} else if (json_object_object_get_ex(it, "@removed", NULL))
			node->removed = 1; /* its id keeps the order */
		else if (!node->removed)
			node_apply(node, it);
	}
	qsort(fr, nf, sizeof(*fr), fresh_cmp);
	for (i = 0; i < nf; i = j) {
		for (j = i + 1; j < nf && strcmp(fr[j].id, fr[i].id) == 0; j++)
			;
		it = fr[j - 1].it;
		if (json_object_object_get_ex(it, "@removed", NULL) ||
		    ms_json_str(it, "displayName") == NULL ||
		    t->n >= MAX_FOLDERS)
			continue;
		t->v = ms_xreallocarray(t->v, t->n + 1, sizeof(*t->v));
		node = &t->v[t->n++];
		memset(node, 0, sizeof(*node));
		node->id = ms_xstrdup(fr[i].id);
		node_apply(node, it);
	}
	free(fr);
}

/* Sweep the folders removed and sort the rest by id. */
static void
tree_sort(struct gtree *t)
{
	size_t i, k = 0;

	for (i = 0; i < t->n; i++)
		if (t->v[i].removed)
			node_free(&t->v[i]);
		else
			t->v[k++] = t->v[i];
	t->n = k;
	qsort(t->v, t->n, sizeof(*t->v), node_cmp);
}

static void
tree_restart(struct graph *gr)
{
	struct gtree *t = gr->tree;
	struct gcall *c;
	char *url;

	t->resynced++;
	free(t->delta_link);
	free(t->next_link);
	t->delta_link = t->next_link = NULL;
	nodes_clear(t);
	url = first_url(gr);
	c = tree_call(gr, url);
	free(url);
	graph_send(gr, &c, 1, 0);
}

static void
tree_answer(
    struct graph *gr, struct gcall *c, long status, struct json_object *o)
{
	struct gtree *t = gr->tree;
	struct json_object *arr = NULL;
	const char *next, *delta;

	(void)c;
	if (status == 0) {
		json_object_put(o);
		return;
	}
	if (graph_state_lost(status, o) && t->resynced == 0) {
		ms_log_info("%s: the folder list's delta state expired: "
			    "listing the folders again",
		    gr->s->address);
		json_object_put(o);
		tree_restart(gr);
		return;
	}
	if (status != 200) {
		graph_fail_reply(gr, "folder list", status, o);
		json_object_put(o);
		return;
	}
	if (o == NULL) {
		ms_errc(EX_TEMPFAIL, "Graph folder list: %s", ms_errstr());
		ms_sync_fail(gr->s);
		return;
	}
	if (graph_delta_page(o, &arr, &next, &delta) == -1) {
		ms_errc(EX_TEMPFAIL,
		    "Graph folder list: a page with neither "
		    "value nor next or delta link");
		json_object_put(o);
		ms_sync_fail(gr->s);
		return;
	}
	if (!graph_link_ok(gr, next ? next : delta,
		next ? "folder list's nextLink" : "folder list's deltaLink")) {
		json_object_put(o);
		if (t->resynced == 0)
			tree_restart(gr);
		else {
			ms_errc(EX_UNAVAILABLE,
			    "Graph folder list: links to another origin again "
			    "after listing the folders again");
			ms_sync_fail(gr->s);
		}
		return;
	}
	tree_page(t, arr);
	tree_sort(t);
	free(t->next_link);
	t->next_link = next ? ms_xstrdup(next) : NULL;
	if (delta != NULL) {
		free(t->delta_link);
		t->delta_link = ms_xstrdup(delta);
	}
	json_object_put(o);
	if (t->next_link != NULL || t->wk_pending > 0) {
		/* Mid-round: the page is kept, the folders follow at its end.
		 */
		if (ms_sync_begin(gr->s) == -1)
			return;
		if (tree_store(gr) == -1) {
			ms_sync_fail(gr->s);
			return;
		}
		if (ms_sync_commit(gr->s) == -1)
			return;
		if (t->next_link != NULL &&
		    !ms_fetch_stopping(ms_fetch_acct_engine(gr->s->fa))) {
			struct gcall *nc = tree_call(gr, t->next_link);

			graph_send(gr, &nc, 1, 0);
		}
		return;
	}
	tree_done(gr);
}

/*
 * Starting a run
 */

/* The Inbox and Sent Items only: paths as Outlook shows them in
 * English (the well-known names say nothing of the language). */
static int
inbox_sent(struct graph *gr)
{
	struct want w = {0};
	int rc;

	want_add(&w, "inbox", "Inbox");
	want_add(&w, "sentitems", "Sent Items");
	rc = reconcile_txn(gr, &w);
	want_free(&w);
	return rc;
}

static int
read_exclude(struct graph *gr)
{
	struct gtree *t = gr->tree;
	char *v, *p, *end;

	if (ms_config_str(gr->s->db, "outlook.exclude", &v) == -1)
		return -1;
	for (p = v; *v != '\0' && p != NULL; p = end ? end + 1 : NULL) {
		if ((end = strchr(p, ';')) != NULL)
			*end = '\0';
		t->exclude = ms_xreallocarray(
		    t->exclude, t->nexclude + 1, sizeof(*t->exclude));
		/* A trailing "/" names the same folder. */
		t->exclude[t->nexclude] = ms_xstrdup(p);
		while (strlen(t->exclude[t->nexclude]) > 1 &&
		    t->exclude[t->nexclude]
			      [strlen(t->exclude[t->nexclude]) - 1] == '/')
			t->exclude[t->nexclude]
				  [strlen(t->exclude[t->nexclude]) - 1] = '\0';
		t->nexclude++;
	}
	free(v);
	return 0;
}

static void
push(struct gcall ***calls, size_t *n, struct gcall *c)
{
	*calls = ms_xreallocarray(*calls, *n + 1, sizeof(**calls));
	(*calls)[(*n)++] = c;
}

int
graph_tree_start(struct graph *gr, struct gcall ***calls, size_t *n)
{
	struct ms_sync *s = gr->s;
	struct gtree *t;
	struct want w = {0};
	char **keys, **names, *mode, *text, *url;
	size_t i, nk;
	long long now = (long long)ms_account_now();
	int room, rc;

	if (ms_config_str(s->db, "outlook.folders", &mode) == -1)
		return -1;
	if (ms_account_folders_get(s->db, s->account, &keys, &names, &nk) ==
	    -1) {
		free(mode);
		return -1;
	}
	for (i = 0; i < nk; i++)
		if (graph_folder_add(gr, keys[i], keys[i], names[i]) == NULL)
			break;
	rc = i < nk ? -1 : 0;
	ms_strv_free(keys, nk);
	ms_strv_free(names, nk);
	if (rc == 0 && strcmp(mode, "all") != 0)
		rc = inbox_sent(gr);
	if (rc == -1 || strcmp(mode, "all") != 0) {
		free(mode);
		return rc;
	}
	free(mode);
	t = gr->tree = ms_xcalloc(1, sizeof(*t));
	if (read_exclude(gr) == -1 ||
	    ms_sync_cursor_get(s, GRAPH_TREE_KEY, &text) == -1)
		return -1;
	if (!s->full)
		tree_unpack(t, text);
	free(text);
	/* A stored link is a provider's text too: checked as it was. */
	if ((t->next_link != NULL &&
		!graph_link_ok(gr, t->next_link, "stored folder list link")) ||
	    (t->delta_link != NULL &&
		!graph_link_ok(gr, t->delta_link, "stored folder list link"))) {
		free(t->next_link);
		free(t->delta_link);
		t->next_link = t->delta_link = NULL;
	}
	/* Settings changed since the last run count at once. */
	if (t->delta_link != NULL && t->next_link == NULL && t->wk_known) {
		want_of_tree(t, &w);
		rc = reconcile_txn(gr, &w);
		want_free(&w);
		if (rc == -1)
			return -1;
	}
	if (!t->wk_known) {
		for (i = 0; i < NWK; i++) {
			url = ms_xasprintf("%s/mailFolders/%s?$select=id",
			    gr->base, wk_names[i]);
			push(calls, n,
			    gcall_new(url, 0, wk_answer, (void *)(uintptr_t)i));
			free(url);
		}
		t->wk_pending = NWK;
		t->polling = 1;
	}
	room = gr->nf % MS_GRAPH_BATCH_MAX != 0 || gr->nf == 0;
	if (t->next_link != NULL)
		push(calls, n, tree_call(gr, t->next_link));
	else if (t->delta_link == NULL) {
		nodes_clear(t);
		url = first_url(gr);
		push(calls, n, tree_call(gr, url));
		free(url);
	} else if (room || t->polled <= 0 || now - t->polled >= DAY ||
	    now < t->polled)
		push(calls, n, tree_call(gr, t->delta_link));
	else if (!t->polling)
		return 0;
	t->polling = 1;
	gr->left++;
	return 0;
}
