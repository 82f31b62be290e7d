/*
 * gmail: the Gmail API driver of mailsync-pull.
 *
 * Full sync: the profile's historyId first; a q=has:attachment listing
 * (the provider's own attachment flag, which gmail.readonly allows)
 * alongside messages.list pages of 500, each page's new messages fetched in
 * metadata format through the batch endpoint (50 a batch) and stored
 * with the next page token in one transaction; the historyId last.
 * When the profile's messages per thread make it cheaper in quota
 * (threads.get costs two messages.get and brings every message of its
 * thread), the same with threads.list pages and threads.get (25 a
 * batch): each message of a thread judged on its own, as if it had been
 * fetched alone. The cursor says which way a full sync under way goes.
 * Incremental: history.list from the stored historyId; the added
 * messages fetched the same way (one threads.get for three or more of
 * one thread), their attachment flags from a has:attachment listing
 * after the oldest of them. A 404 on history starts a full sync again; a
 * 404 on one message or thread means it was deleted.
 */
#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "account.h"
#include "batch.h"
#include "config.h"
#include "driver.h"
#include "gmail.h"
#include "json.h"
#include "log.h"
#include "msg.h"
#include "sync.h"
#include "util.h"

#define FOLDER ""
#define PAGE_SIZE 500
#define BATCH_SIZE 25
#define BATCH_ATTEMPTS 5
#define COST_GET 5
#define COST_LIST 5
#define COST_THREAD_GET 10
#define COST_THREAD_LIST 10
/* The most one batch costs: 25 messages.get or 12 threads.get, 2 % of
 * the 6,000-unit minute. A window holds whole batches only (a batch
 * starts when all of it fits), so a paced sync loses up to one batch of
 * the quota per window: 4 % at Google's limit of 50 parts, 2 % at 25.
 * It is also the limiter's burst. */
#define BATCH_UNITS 125
/* Incremental: added messages of one thread fetched by one threads.get
 * from this many on (10 units instead of 15 or more). */
#define THREAD_MIN 3
#define COST_HISTORY 2
#define COST_PROFILE 1
#define COST_SENDAS 1
/* Send-as aliases are read again once a day. */
#define ALIASES_MAX_AGE (24 * 60 * 60)
#define BOUNDARY "mailsync_batch_b7e1"
/* The largest replies each request can legitimately bring: a listing of
 * 500 ids is 40 KB, a history page some 200 KB, 50 messages' metadata a
 * few MB at most (long recipient lists). */
#define MAX_LIST (4u << 20)
#define MAX_HISTORY (8u << 20)
#define MAX_BATCH (16u << 20)
#define MAX_SMALL (1u << 20)

#define META_PARAMS                                                            \
	"format=metadata&metadataHeaders=From&metadataHeaders=To"              \
	"&metadataHeaders=Cc&metadataHeaders=Subject&metadataHeaders=Date"     \
	"&metadataHeaders=Message-ID&metadataHeaders=List-Unsubscribe"         \
	"&metadataHeaders=Precedence&metadataHeaders=Auto-Submitted"

/* gmail.fetch: how a full sync fetches (the setting's choices, in order). */
enum { FETCH_AUTO, FETCH_MESSAGES, FETCH_THREADS };

/*
 * Gmail's cursor, stored as a flat JSON object: where incremental sync
 * goes on (historyId), or where an unfinished full sync is (the
 * profile's historyId read when it began, the next page, and "threads"
 * in fetch when it lists threads, not messages: page tokens of one
 * listing mean nothing to the other).
 */
struct cursor {
	char *history_id;
	char *full_history_id;
	char *page_token;
	char *fetch;
};
static const char *const cursor_keys[] = {
    "historyId", "fullHistoryId", "pageToken", "fetch"};
#define NKEYS 4
static char fetch_threads[] = "threads";

static void
cursor_finish(struct cursor *c)
{
	free(c->history_id);
	free(c->full_history_id);
	free(c->page_token);
	free(c->fetch);
	memset(c, 0, sizeof(*c));
}

static int
cursor_get(struct ms_sync *s, struct cursor *c)
{
	char *text, *v[NKEYS];

	memset(c, 0, sizeof(*c));
	if (ms_sync_cursor_get(s, FOLDER, &text) == -1)
		return -1;
	/* One that does not read is no cursor: the sync starts over. */
	ms_json_unpack(text, cursor_keys, v, NKEYS);
	free(text);
	c->history_id = v[0];
	c->full_history_id = v[1];
	c->page_token = v[2];
	c->fetch = v[3];
	return 0;
}

/* Inside the caller's transaction. */
static int
cursor_set(struct ms_sync *s, const struct cursor *c)
{
	char *v[NKEYS] = {c->history_id, c->full_history_id, c->page_token,
	    c->fetch},
	     *text = NULL;
	int rc;

	if (c->history_id != NULL || c->full_history_id != NULL ||
	    c->page_token != NULL)
		text = ms_json_pack(cursor_keys, v, NKEYS);
	rc = ms_sync_cursor_set(s, FOLDER, text);
	free(text);
	return rc;
}

struct idset {
	char **v;
	size_t n, cap;
};

/* Incremental: an added message and its thread (NULL: none usable). */
struct pend {
	char *id;
	char *thread;
};

struct pendset {
	struct pend *v;
	size_t n, cap;
};

/* One request of a batch: a messages.get, or a threads.get. */
struct part {
	char *id;
	int thread;
};

struct partv {
	struct part *v;
	size_t n, cap;
};

/*
 * A unit of work: a messages.list page (full sync) or up to a page of
 * history-added ids (incremental), its messages fetched in batches and
 * stored together in one transaction with the cursor that follows it.
 */
struct unit {
	struct unit *next;
	struct gmail *g;
	char *token; /* full: the pageToken that lists it */
	char *next_token; /* full: the one after it */
	int listed; /* its ids are known */
	int batches; /* in flight */
	struct ms_email *got;
	char **got_ids;
	size_t ngot, cgot;
	time_t oldest;
	/* Incremental: the added messages its threads.get stand for (the
	 * other messages of those threads are not asked for). */
	struct idset wanted;
};

struct gmail {
	struct ms_sync *s;
	int incremental;
	int mode; /* FETCH_*, the setting gmail.fetch */
	int threads; /* full: listing threads, fetching them whole */
	char *start_history; /* full: the profile's historyId */
	char *resume_token; /* full: where listing goes on (NULL: start) */
	char *new_history; /* incremental: where it ends */
	char *old_history;
	struct idset att; /* ids that have attachments */
	struct pendset pending; /* incremental: added, for the later units */
	struct unit *head; /* units in order; stored from the head */
	time_t att_after; /* the has:attachment listing's bound */
	void (*att_then)(struct gmail *); /* what follows that listing */
	int att_listed; /* full: the listing is in, pages may be stored */
	struct unit *tail;
	int nunits;
};

struct batch {
	struct gmail *g;
	struct unit *u;
	struct part *parts;
	size_t n;
	int attempt;
};

/* Pages listed ahead of the one being stored: enough to keep the quota
 * busy while a page is stored and the next one listed. */
#define LOOKAHEAD 3

static void list_page(struct gmail *, struct unit *);
static void history_page(struct gmail *, const char *token);
static void profile(struct gmail *);

static void
idset_add(struct idset *s, const char *id)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = ms_xreallocarray(s->v, s->cap, sizeof(*s->v));
	}
	s->v[s->n++] = ms_xstrdup(id);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort and drop duplicates. */
static void
idset_sort(struct idset *s)
{
	size_t i, k = 0;

	if (s->n == 0)
		return;
	qsort(s->v, s->n, sizeof(*s->v), cmp_str);
	for (i = 0; i < s->n; i++) {
		if (k > 0 && strcmp(s->v[k - 1], s->v[i]) == 0)
			free(s->v[i]);
		else
			s->v[k++] = s->v[i];
	}
	s->n = k;
}

static int
idset_has(const struct idset *s, const char *id)
{
	return s->n > 0 &&
	    bsearch(&id, s->v, s->n, sizeof(*s->v), cmp_str) != NULL;
}

static void
idset_clear(struct idset *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	s->n = 0;
}

static void
idset_free(struct idset *s)
{
	idset_clear(s);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static void
pend_add(struct pendset *s, const char *id, const char *thread)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = ms_xreallocarray(s->v, s->cap, sizeof(*s->v));
	}
	s->v[s->n].id = ms_xstrdup(id);
	s->v[s->n++].thread = thread ? ms_xstrdup(thread) : NULL;
}

static void
pend_finish(struct pend *p)
{
	free(p->id);
	free(p->thread);
}

static void
pend_free(struct pendset *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		pend_finish(&s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int
cmp_pend_id(const void *a, const void *b)
{
	return strcmp(
	    ((const struct pend *)a)->id, ((const struct pend *)b)->id);
}

/* By thread, then id: the messages of a thread side by side. */
static int
cmp_pend_thread(const void *a, const void *b)
{
	const struct pend *x = a, *y = b;
	int c = strcmp(x->thread ? x->thread : "", y->thread ? y->thread : "");

	return c != 0 ? c : strcmp(x->id, y->id);
}

/* Add a part (id copied) to v. */
static void
partv_add(struct partv *v, const char *id, int thread)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 16;
		v->v = ms_xreallocarray(v->v, v->cap, sizeof(*v->v));
	}
	v->v[v->n].id = ms_xstrdup(id);
	v->v[v->n++].thread = thread;
}

static void
partv_free(struct partv *v)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		free(v->v[i].id);
	free(v->v);
	memset(v, 0, sizeof(*v));
}

static double
part_cost(const struct part *p)
{
	return p->thread ? COST_THREAD_GET : COST_GET;
}

static struct unit *
unit_new(struct gmail *g, const char *token)
{
	struct unit *u = ms_xcalloc(1, sizeof(*u));

	u->g = g;
	u->token = token ? ms_xstrdup(token) : NULL;
	if (g->tail != NULL)
		g->tail->next = u;
	else
		g->head = u;
	g->tail = u;
	g->nunits++;
	return u;
}

static void
unit_free(struct unit *u)
{
	size_t i;

	for (i = 0; i < u->ngot; i++) {
		ms_email_finish(&u->got[i]);
		free(u->got_ids[i]);
	}
	free(u->got);
	free(u->got_ids);
	idset_free(&u->wanted);
	free(u->token);
	free(u->next_token);
	free(u);
}

/* Drop the head unit (stored, or abandoned). */
static void
unit_pop(struct gmail *g)
{
	struct unit *u = g->head;

	g->head = u->next;
	if (g->head == NULL)
		g->tail = NULL;
	g->nunits--;
	unit_free(u);
}

/* The reason and message of a Google error body, for messages. */
static void
error_of(const char *body, size_t len, char *buf, size_t size)
{
	struct json_object *o = ms_json_parse(body, len, "error"), *e;
	struct json_object *first;
	const char *reason = NULL, *msg = NULL;

	e = ms_json_obj(o, "error");
	first = ms_json_arr_obj(ms_json_arr(e, "errors"), 0);
	reason = ms_json_str(first, "reason");
	msg = ms_json_str(e, "message");
	snprintf(buf, size, "%s%s%s", reason ? reason : "",
	    reason && msg ? ": " : "", msg ? msg : "");
	json_object_put(o);
}

/* Fail the account with a message about what's reply. */
static void
fail_reply(struct gmail *g, const char *what, const struct ms_http_resp *r)
{
	char why[300];

	error_of(r->body, r->len, why, sizeof(why));
	ms_errc(EX_UNAVAILABLE, "Gmail %s: HTTP %ld%s%s", what, r->status,
	    *why ? ": " : "", why);
	ms_sync_fail(g->s);
}

/* A 200 reply as JSON; fails the account when it is another status or
 * not JSON. */
static struct json_object *
reply_json(struct gmail *g, const char *what, const struct ms_http_resp *r)
{
	struct json_object *o;
	char label[64];

	if (r->status != 200) {
		fail_reply(g, what, r);
		return NULL;
	}
	snprintf(label, sizeof(label), "Gmail %s", what);
	if ((o = ms_http_json(r, label)) == NULL) {
		ms_errc(EX_TEMPFAIL, "%s", ms_errstr());
		ms_sync_fail(g->s);
	}
	return o;
}

static void
get(struct gmail *g, const char *url, double units, size_t max_body,
    ms_fetch_cb *cb, void *arg)
{
	struct ms_fetch_spec spec = {.url = url,
	    .units = units,
	    .max_body = max_body,
	    .cb = cb,
	    .arg = arg ? arg : g};

	ms_fetch_add(g->s->fa, &spec);
}

static const char *
api(struct gmail *g)
{
	return g->s->p->api_url;
}

/* "&pageToken=TOKEN", URL-encoded, or "" (a new string). A provider's
 * token goes into our URL as data, never as query syntax. */
static char *
page_param(const char *token)
{
	struct ms_buf b = {0};

	if (token == NULL)
		return ms_xstrdup("");
	ms_buf_addc(&b, '&');
	ms_http_form_add(&b, "pageToken", token);
	return ms_buf_steal(&b);
}

/* Whether a historyId is what Google documents: an unsigned decimal. */
static int
history_ok(const char *h)
{
	return h != NULL && *h != '\0' &&
	    strspn(h, "0123456789") == strlen(h) && strlen(h) <= 20;
}

/* "after:EPOCH" for the first-sync window, URL-encoded, or "". */
static char *
since_q(struct gmail *g, const char *prefix)
{
	if (g->s->since <= 0)
		return ms_xstrdup("");
	return ms_xasprintf("%safter%%3A%lld", prefix, (long long)g->s->since);
}

/*
 * Messages to emails
 */

static int
has_label(struct json_object *msg, const char *const *labels)
{
	struct json_object *arr = ms_json_arr(msg, "labelIds"), *l;
	const char *s;
	size_t i, j;

	for (i = 0; arr != NULL && i < json_object_array_length(arr); i++) {
		l = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(l, json_type_string))
			continue;
		s = json_object_get_string(l);
		for (j = 0; labels[j] != NULL; j++)
			if (strcmp(s, labels[j]) == 0)
				return 1;
	}
	return 0;
}

static const char *const skipped_labels[] = {
    "DRAFT",
    "SPAM",
    "TRASH",
    "CHAT",
    NULL,
};

int
ms_gmail_id_ok(const char *id)
{
	size_t n;

	if (id == NULL ||
	    (n = strspn(id,
		 "0123456789abcdefghijklmnopqrstuvwxyz"
		 "ABCDEFGHIJKLMNOPQRSTUVWXYZ-_")) == 0)
		return 0;
	return id[n] == '\0' && n <= 64;
}

int
ms_gmail_message(struct json_object *msg, struct ms_email *e)
{
	struct json_object *headers, *h;
	const char *name, *value, *s;
	long long ms;
	size_t i;

	memset(e, 0, sizeof(*e));
	if (!ms_gmail_id_ok(ms_json_str(msg, "id")))
		return ms_errc(EX_DATAERR, "a message without a usable id");
	if (has_label(msg, skipped_labels))
		return 1;
	if ((headers = ms_json_arr(ms_json_obj(msg, "payload"), "headers")) ==
	    NULL)
		return ms_errc(EX_DATAERR, "message %s without payload.headers",
		    ms_json_str(msg, "id"));
	for (i = 0; i < json_object_array_length(headers); i++) {
		h = ms_json_arr_obj(headers, i);
		/* A header without a string name and value is no header. */
		if ((name = ms_json_str(h, "name")) != NULL &&
		    (value = ms_json_str(h, "value")) != NULL)
			ms_email_apply_header(e, name, value);
	}
	if (ms_json_int(msg, "internalDate", &ms) == 0 && ms > 0)
		e->date = (time_t)(ms / 1000);
	if ((s = ms_json_str(msg, "snippet")) != NULL) {
		char *plain = ms_msg_unescape_html(s);

		e->snippet = ms_utf8_sanitize(plain, strlen(plain));
		free(plain);
	}
	if ((s = ms_json_str(msg, "threadId")) != NULL)
		e->thread_id = ms_utf8_sanitize(s, strlen(s));
	if (e->subject == NULL)
		e->subject = ms_xstrdup("");
	if (e->snippet == NULL)
		e->snippet = ms_xstrdup("");
	return 0;
}

/* 0 with e filled, 1 when it is to be skipped, -1 when malformed. */
static int
to_email(struct gmail *g, struct json_object *msg, struct ms_email *e)
{
	int rc = ms_gmail_message(msg, e);

	if (rc == 0 && g->s->since > 0 && e->date < g->s->since &&
	    !g->incremental) {
		ms_email_finish(e);
		return 1;
	}
	return rc;
}

static void
got_push(struct unit *u, struct ms_email *e, const char *id)
{
	if (u->ngot == u->cgot) {
		u->cgot = u->cgot ? u->cgot * 2 : BATCH_SIZE * 2;
		u->got = ms_xreallocarray(u->got, u->cgot, sizeof(*u->got));
		u->got_ids =
		    ms_xreallocarray(u->got_ids, u->cgot, sizeof(*u->got_ids));
	}
	u->got[u->ngot] = *e;
	u->got_ids[u->ngot++] = ms_xstrdup(id);
	if (u->oldest == 0 || (e->date != 0 && e->date < u->oldest))
		u->oldest = e->date;
}

/*
 * Storing a unit of work
 */

static int
store_got(struct gmail *g, struct unit *u)
{
	size_t i;

	for (i = 0; i < u->ngot; i++) {
		u->got[i].has_attachments = idset_has(&g->att, u->got_ids[i]);
		if (ms_sync_store(g->s, &u->got[i], u->got_ids[i]) == -1)
			return -1;
	}
	return 0;
}

/* Store the head unit with cursor c in one transaction, and drop it. */
static int
commit(struct gmail *g, const struct cursor *c)
{
	if (ms_sync_begin(g->s) == -1)
		return -1;
	if (store_got(g, g->head) == -1 || cursor_set(g->s, c) == -1) {
		ms_sync_fail(g->s);
		return -1;
	}
	if (ms_sync_commit(g->s) == -1)
		return -1;
	unit_pop(g);
	return 0;
}

static int
stopping(struct gmail *g)
{
	return ms_fetch_stopping(ms_fetch_acct_engine(g->s->fa));
}

/* Full sync: list the next page while the earlier ones are fetched. */
static void
fill_lookahead(struct gmail *g)
{
	struct unit *t = g->tail;
	const char *token;

	if (g->s->done || stopping(g) || ms_fetch_acct_error(g->s->fa) != 0)
		return;
	/* With every unit stored, go on from the last one's next page. */
	token = t == NULL ? g->resume_token : t->listed ? t->next_token : NULL;
	if (token != NULL && g->nunits < LOOKAHEAD)
		list_page(g, unit_new(g, token));
}

/*
 * Full sync: store the finished pages in order, each with the token of
 * the page after it; the last one with the historyId read at the start.
 */
static void
try_commit(struct gmail *g)
{
	struct cursor c = {0};

	while (g->att_listed && g->head != NULL && g->head->listed &&
	    g->head->batches == 0 && ms_fetch_acct_error(g->s->fa) == 0) {
		int last = g->head->next_token == NULL;

		c.full_history_id = last ? NULL : g->start_history;
		c.history_id = last ? g->start_history : NULL;
		c.page_token = g->head->next_token;
		c.fetch = !last && g->threads ? fetch_threads : NULL;
		if (!last) { /* where to go on should the queue drain */
			free(g->resume_token);
			g->resume_token = ms_xstrdup(c.page_token);
		}
		if (commit(g, &c) == -1)
			return;
		if (last) {
			g->s->done = 1;
			return;
		}
	}
	fill_lookahead(g);
}

static void
send_want(struct gmail *, struct unit *, struct idset *, struct idset *);

static int
same_thread(const struct pend *a, const struct pend *b)
{
	return a->thread != NULL && b->thread != NULL &&
	    strcmp(a->thread, b->thread) == 0;
}

/*
 * Incremental: the added messages go in units of a page, each stored in
 * its own transaction, so a bounded or killed run keeps what it fetched;
 * the historyId moves only with the last unit (a rerun lists the same
 * history again and skips what is stored).
 */
/*
 * The next unit: up to a page of the added messages (sorted by thread),
 * THREAD_MIN or more of one thread asked by one threads.get of which only
 * they are kept, the others one by one.
 */
static void
next_unit(struct gmail *g)
{
	size_t n = g->pending.n < PAGE_SIZE ? g->pending.n : PAGE_SIZE, i, j, k;
	struct pend *p = g->pending.v + g->pending.n - n;
	struct idset msgs = {0}, threads = {0};
	struct unit *u = unit_new(g, NULL);

	u->listed = 1;
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && same_thread(&p[i], &p[j]); j++)
			;
		if (g->mode != FETCH_MESSAGES && p[i].thread != NULL &&
		    j - i >= THREAD_MIN) {
			idset_add(&threads, p[i].thread);
			for (k = i; k < j; k++)
				idset_add(&u->wanted, p[k].id);
		} else
			for (k = i; k < j; k++)
				idset_add(&msgs, p[k].id);
	}
	for (k = 0; k < n; k++)
		pend_finish(&p[k]);
	g->pending.n -= n;
	idset_sort(&u->wanted);
	send_want(g, u, &msgs, &threads);
}

static void
incremental_done(struct gmail *g)
{
	struct cursor c = {0};
	int last = g->pending.n == 0;

	c.history_id = last ? g->new_history : g->old_history;
	if (g->head->ngot == 0 && last && g->old_history != NULL &&
	    g->new_history != NULL &&
	    strcmp(g->old_history, g->new_history) == 0) {
		unit_pop(g);
		g->s->done = 1; /* nothing changed: nothing to write */
		return;
	}
	if (commit(g, &c) == -1)
		return;
	if (last)
		g->s->done = 1;
	else if (!stopping(g))
		next_unit(g);
}

/* Add the ids of a messages.list or threads.list reply (its member
 * key) to set; its next page token. */
static int
list_ids(struct json_object *o, const char *key, struct idset *set,
    const char **next)
{
	struct json_object *arr, *m;
	const char *id;
	size_t i;

	*next = ms_json_str(o, "nextPageToken");
	if (!json_object_object_get_ex(o, key, &arr) || arr == NULL)
		return 0; /* absent when empty */
	if (!json_object_is_type(arr, json_type_array))
		return ms_errc(EX_TEMPFAIL,
		    "Gmail %s.list: \"%s\" is not an array", key, key);
	for (i = 0; i < json_object_array_length(arr); i++) {
		m = ms_json_arr_obj(arr, i);
		/* An id that is not Gmail's would go into a URL and a batch
		 * part as it is: never. */
		if (ms_gmail_id_ok(id = ms_json_str(m, "id")))
			idset_add(set, id);
	}
	return 0;
}

/*
 * Which messages have attachments: Gmail's own has:attachment search,
 * which the gmail.readonly scope allows, over the window of the work at
 * hand: the first-sync window for a full sync, from a day before the
 * oldest fetched message for an incremental unit. Then g->att_then.
 */
static void att_cb(struct ms_fetch_acct *, const struct ms_http_resp *, void *);

static void
att_list(struct gmail *g, time_t after, const char *token)
{
	struct ms_fetch_spec spec = {
	    .units = COST_LIST, .max_body = MAX_LIST, .cb = att_cb, .arg = g};
	char bound[48] = "", *url, *page = page_param(token);

	if (after > 0)
		snprintf(bound, sizeof(bound), "%%20after%%3A%lld",
		    (long long)after);
	url = ms_xasprintf("%s/gmail/v1/users/me/messages?maxResults=%d"
			   "&q=has%%3Aattachment%s%s",
	    api(g), PAGE_SIZE, bound, page);
	free(page);
	spec.url = url;
	/* Ahead of the batches queued meanwhile: what waits for the
	 * listing should not wait for them too. */
	spec.urgent = 1;
	ms_fetch_add(g->s->fa, &spec);
	free(url);
}

static void
att_cb(struct ms_fetch_acct *fa, const struct ms_http_resp *r, void *arg)
{
	struct gmail *g = arg;
	struct json_object *o;
	const char *next;

	(void)fa;
	if (r == NULL)
		return;
	/* Its refusal names the query, which reply_json's would not. */
	if (r->status != 200) {
		fail_reply(g, "messages.list (has:attachment)", r);
		return;
	}
	if ((o = reply_json(g, "messages.list", r)) == NULL)
		return;
	if (list_ids(o, "messages", &g->att, &next) == -1)
		ms_sync_fail(g->s);
	else if (next != NULL)
		att_list(g, g->att_after, next);
	else {
		idset_sort(&g->att);
		g->att_then(g);
	}
	json_object_put(o);
}

static void
att_start(struct gmail *g, time_t after, void (*then)(struct gmail *))
{
	g->att_after = after;
	g->att_then = then;
	att_list(g, after, NULL);
}

/* Full sync: pages may be stored now that their flags are known. */
static void
att_ready(struct gmail *g)
{
	g->att_listed = 1;
	try_commit(g);
}

/*
 * Full sync: list the attachments and the first page at once. The pages
 * are fetched meanwhile (the quota would go unused else, for as many
 * round trips as the listing has pages) and stored once it is in.
 */
static void
full_start(struct gmail *g)
{
	att_start(g, g->s->since, att_ready);
	list_page(g, unit_new(g, g->resume_token));
}

/* A unit's batches are all in. */
static void
unit_fetched(struct gmail *g, struct unit *u)
{
	if (!g->incremental)
		try_commit(g);
	else if (u->ngot > 0)
		att_start(g, u->oldest > 86400 ? u->oldest - 86400 : 0,
		    incremental_done);
	else
		incremental_done(g);
}

/*
 * Batches of metadata gets: messages.get and threads.get parts
 */

static void
batch_cb(struct ms_fetch_acct *, const struct ms_http_resp *, void *);

/* One batch of parts (the batch takes over their ids). */
static void
send_batch(struct gmail *g, struct unit *u, const struct part *p, size_t n,
    int attempt, double delay)
{
	struct batch *b = ms_xcalloc(1, sizeof(*b));
	struct ms_fetch_spec spec = {0};
	struct ms_buf body = {0};
	double units = 0;
	char *url, **paths;
	size_t i;

	b->g = g;
	b->u = u;
	b->parts = ms_xreallocarray(NULL, n, sizeof(*b->parts));
	memcpy(b->parts, p, n * sizeof(*p));
	b->n = n;
	b->attempt = attempt;
	paths = ms_xreallocarray(NULL, n, sizeof(*paths));
	for (i = 0; i < n; i++) {
		paths[i] = ms_xasprintf("/gmail/v1/users/me/%s/%s?" META_PARAMS,
		    p[i].thread ? "threads" : "messages", p[i].id);
		units += part_cost(&p[i]);
	}
	ms_batch_request(&body, BOUNDARY, paths, n);
	ms_strv_free(paths, n);
	url = ms_xasprintf("%s/batch/gmail/v1", api(g));
	spec.method = "POST";
	spec.url = url;
	spec.content_type = "multipart/mixed; boundary=" BOUNDARY;
	spec.body = body.s;
	/* A batch costs the sum of its parts (Gmail's batch guide). */
	spec.units = units;
	spec.delay = delay;
	spec.max_body = MAX_BATCH;
	spec.cb = batch_cb;
	spec.arg = b;
	u->batches++;
	if (ms_fetch_add(g->s->fa, &spec) == -1) {
		u->batches--;
		for (i = 0; i < n; i++)
			free(b->parts[i].id);
		free(b->parts);
		free(b);
	}
	free(url);
	ms_buf_finish(&body);
}

/*
 * Parts in batches of at most BATCH_SIZE parts and BATCH_UNITS units (the
 * batches take over the ids; p itself stays the caller's).
 */
static void
send_parts(struct gmail *g, struct unit *u, const struct part *p, size_t n,
    int attempt, double delay)
{
	size_t i, k;
	double units;

	for (i = 0; i < n; i += k) {
		units = 0;
		for (k = 0; i + k < n && k < BATCH_SIZE; k++) {
			if (k > 0 && units + part_cost(&p[i + k]) > BATCH_UNITS)
				break;
			units += part_cost(&p[i + k]);
		}
		send_batch(g, u, p + i, k, attempt, delay);
	}
}

/* Fetch a unit's messages and threads (the batches take them over from
 * the sets, threads first: each brings several messages). */
static void
send_want(
    struct gmail *g, struct unit *u, struct idset *msgs, struct idset *threads)
{
	size_t n = msgs->n + threads->n, i, k = 0;
	struct part *p = ms_xreallocarray(NULL, n, sizeof(*p));

	for (i = 0; i < threads->n; i++)
		p[k++] = (struct part){threads->v[i], 1};
	for (i = 0; i < msgs->n; i++)
		p[k++] = (struct part){msgs->v[i], 0};
	free(msgs->v);
	free(threads->v);
	memset(msgs, 0, sizeof(*msgs));
	memset(threads, 0, sizeof(*threads));
	send_parts(g, u, p, n, 1, 0);
	free(p);
	if (u->batches == 0 && ms_fetch_acct_error(g->s->fa) == 0)
		unit_fetched(g, u);
}

/* Google's 403s that mean "slow down", not "forbidden". */
static int
rate_limited(const char *body)
{
	return strstr(body, "\"rateLimitExceeded\"") != NULL ||
	    strstr(body, "\"userRateLimitExceeded\"") != NULL;
}

/*
 * How Gmail's replies (and each part of a batch, a request of its own)
 * are read: HTTP's way, and the 403s of its usage limits are refusals
 * for rate (Gmail's "Resolve errors" page: rateLimitExceeded,
 * userRateLimitExceeded); any other 403 is a refusal.
 */
static enum ms_fetch_verdict
classify(long status, const char *body)
{
	if (status == 403 && rate_limited(body))
		return MS_FETCH_RATE;
	return ms_fetch_classify_http(status, body);
}

/* One message of a reply (a messages.get, or one of a threads.get's):
 * into the unit, or left out when it is not mail to sync or malformed. */
static void
take_message(
    struct gmail *g, struct unit *u, struct json_object *m, const char *id)
{
	struct ms_email e;
	int rc;

	if ((rc = to_email(g, m, &e)) == 0)
		got_push(u, &e, id);
	else if (rc == -1)
		ms_sync_skip(g->s, id, ms_errstr());
}

/* One message of a batch reply, answered 200. */
static void
batch_message(struct gmail *g, struct batch *b, size_t i,
    const struct ms_batch_part *part)
{
	const char *id = b->parts[i].id;
	struct json_object *o;

	g->s->fetched++;
	if ((o = ms_json_parse(part->body, part->len, "Gmail message")) ==
	    NULL) {
		ms_sync_skip(g->s, id, ms_errstr());
		return;
	}
	if (strcmp(ms_json_str(o, "id") ? ms_json_str(o, "id") : "", id) != 0) {
		ms_errc(EX_DATAERR, "the reply is for another message");
		ms_sync_skip(g->s, id, ms_errstr());
	} else
		take_message(g, b->u, o, id);
	json_object_put(o);
}

/*
 * One thread of a batch reply, answered 200: each of its messages judged
 * on its own (labels, date, form), as messages.get would have brought it.
 * A full sync keeps those the account does not have yet; an incremental
 * one only the added messages the threads.get stands for. 0, or -1 with
 * the account failed.
 */
static int
batch_thread(struct gmail *g, struct batch *b, size_t i,
    const struct ms_batch_part *part)
{
	const char *tid = b->parts[i].id, *id;
	struct json_object *o, *msgs = NULL, *m;
	size_t j;
	int known;

	if ((o = ms_json_parse(part->body, part->len, "Gmail thread")) ==
	    NULL) {
		ms_sync_skip(g->s, tid, ms_errstr());
		return 0;
	}
	if (strcmp(ms_json_str(o, "id") ? ms_json_str(o, "id") : "", tid) !=
	    0) {
		ms_errc(EX_DATAERR, "the reply is for another thread");
		ms_sync_skip(g->s, tid, ms_errstr());
	} else if ((msgs = ms_json_arr(o, "messages")) == NULL) {
		ms_errc(EX_DATAERR, "thread %s without messages", tid);
		ms_sync_skip(g->s, tid, ms_errstr());
	}
	for (j = 0; msgs != NULL && j < json_object_array_length(msgs); j++) {
		m = ms_json_arr_obj(msgs, j);
		if (!ms_gmail_id_ok(id = ms_json_str(m, "id"))) {
			ms_errc(EX_DATAERR,
			    "a message of thread %s without a usable id", tid);
			ms_sync_skip(g->s, tid, ms_errstr());
			continue;
		}
		if (g->incremental)
			known = !idset_has(&b->u->wanted, id);
		else if ((known = ms_sync_known(g->s, id)) == -1) {
			json_object_put(o);
			ms_sync_fail(g->s);
			return -1;
		}
		if (known)
			continue;
		g->s->fetched++;
		take_message(g, b->u, m, id);
	}
	json_object_put(o);
	return 0;
}

/*
 * A batch's answers, each as a separate request's: 200 stored, 404 a
 * message or thread deleted since it was listed, 401 a token that expired
 * meanwhile (refreshed, those parts asked again), 429, rate-limit 403s
 * and 5xx asked again after a pause (the quota learns from them); any
 * other status fails the account, naming Google's reason. 0, or -1 with
 * the account failed.
 */
static int
batch_answers(struct gmail *g, struct batch *b, const struct ms_batch_part *p,
    struct partv *retry, int *reauth)
{
	enum ms_fetch_verdict v;
	double refused = 0;
	long wait = -1;
	char why[300];
	size_t i;

	for (i = 0; i < b->n; i++) {
		const struct part *q = &b->parts[i];
		long st = p[i].status;

		if (st == 200 && q->thread) {
			if (batch_thread(g, b, i, &p[i]) == -1)
				return -1;
		} else if (st == 200)
			batch_message(g, b, i, &p[i]);
		else if (st == 404)
			continue;
		else if (st == 401) {
			*reauth = 1;
			partv_add(retry, q->id, q->thread);
		} else if ((v = classify(st, p[i].body)) == MS_FETCH_RATE ||
		    v == MS_FETCH_RETRY) {
			partv_add(retry, q->id, q->thread);
			if (v == MS_FETCH_RATE)
				refused += part_cost(q);
			if (p[i].retry_after > wait)
				wait = p[i].retry_after;
		} else {
			error_of(p[i].body, p[i].len, why, sizeof(why));
			ms_errc(EX_UNAVAILABLE,
			    "Gmail refused %s %s: HTTP %ld%s%s",
			    q->thread ? "thread" : "message", q->id, st,
			    *why ? " " : "", why);
			ms_sync_fail(g->s);
			return -1;
		}
	}
	if (refused > 0 || wait > 0)
		ms_fetch_acct_throttled(g->s->fa, refused, wait);
	return 0;
}

static void
batch_free(struct batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		free(b->parts[i].id);
	free(b->parts);
	free(b);
}

static void
batch_cb(struct ms_fetch_acct *fa, const struct ms_http_resp *r, void *arg)
{
	struct batch *b = arg;
	struct gmail *g = b->g;
	struct unit *u = b->u;
	struct partv retry = {0};
	struct ms_batch_part *parts;
	int reauth = 0, rc;

	(void)fa;
	u->batches--;
	if (r == NULL) {
		batch_free(b);
		return;
	}
	parts = ms_xreallocarray(NULL, b->n, sizeof(*parts));
	if (r->status != 200)
		fail_reply(g, "batch", r);
	else if ((rc = ms_batch_parse(
		      r->content_type, r->body, r->len, b->n, parts)) == -1 &&
	    b->attempt < BATCH_ATTEMPTS) {
		/* Not an answer to what was asked: ask it all again. */
		ms_log_debug(
		    "%s: %s; asking again", g->s->address, ms_errstr());
		send_parts(g, u, b->parts, b->n, b->attempt + 1,
		    (double)(1 << (b->attempt - 1)));
		b->n = 0; /* the new batches own the ids */
	} else if (rc == -1)
		ms_sync_fail(g->s);
	else if (batch_answers(g, b, parts, &retry, &reauth) == -1)
		;
	else if (reauth && ms_fetch_acct_reauth(g->s->fa) == -1) {
		ms_errc(EX_NOPERM,
		    "Gmail batch: the token is refused for %zu requests even "
		    "after a refresh",
		    retry.n);
		ms_sync_fail(g->s);
	} else if (retry.n > 0 && b->attempt >= BATCH_ATTEMPTS) {
		ms_errc(EX_TEMPFAIL,
		    "Gmail batch: %zu requests still failing "
		    "after %d attempts",
		    retry.n, b->attempt);
		ms_sync_fail(g->s);
	} else if (retry.n > 0) {
		/* Retry the failed parts alone, after a pause (at once with
		 * a refreshed token); the new batches own the ids. */
		send_parts(g, u, retry.v, retry.n,
		    reauth ? b->attempt : b->attempt + 1,
		    reauth ? 0 : (double)(1 << (b->attempt - 1)));
		retry.n = 0;
	}
	free(parts);
	partv_free(&retry);
	batch_free(b);
	if (u->batches == 0 && ms_fetch_acct_error(g->s->fa) == 0)
		unit_fetched(g, u);
}

/*
 * Full sync
 */

static void
list_cb(struct ms_fetch_acct *fa, const struct ms_http_resp *r, void *arg)
{
	struct unit *u = arg;
	struct gmail *g = u->g;
	struct idset ids = {0}, want = {0}, none = {0};
	const char *what = g->threads ? "threads.list" : "messages.list";
	struct json_object *o;
	const char *next;
	size_t i;
	int known;

	(void)fa;
	if (r == NULL)
		return;
	if ((o = reply_json(g, what, r)) == NULL)
		return;
	if (list_ids(o, g->threads ? "threads" : "messages", &ids, &next) ==
	    -1) {
		ms_sync_fail(g->s);
		goto out;
	}
	u->next_token = next ? ms_xstrdup(next) : NULL;
	u->listed = 1;
	fill_lookahead(g);
	if (g->threads) {
		/* Which of a thread's messages the account has is known only
		 * once it is fetched (batch_thread). */
		send_want(g, u, &none, &ids);
		goto out;
	}
	for (i = 0; i < ids.n; i++) {
		if ((known = ms_sync_known(g->s, ids.v[i])) == -1) {
			ms_sync_fail(g->s);
			goto out;
		}
		if (!known)
			idset_add(&want, ids.v[i]);
	}
	send_want(g, u, &want, &none);
out:
	idset_free(&want);
	idset_free(&ids);
	json_object_put(o);
}

static void
list_page(struct gmail *g, struct unit *u)
{
	char *q = since_q(g, "&q="), *url, *page = page_param(u->token);
	/* Ahead of the batches queued: the pages listed ahead are there so
	 * that the batches never run out, which they would if the next
	 * listing waited behind them. */
	struct ms_fetch_spec spec = {
	    .units = g->threads ? COST_THREAD_LIST : COST_LIST,
	    .max_body = MAX_LIST,
	    .cb = list_cb,
	    .arg = u,
	    .urgent = 1};

	/* threads.list takes q as messages.list does: a thread with a
	 * message after the bound (its older ones are left out later). */
	url = ms_xasprintf("%s/gmail/v1/users/me/%s?maxResults=%d%s%s", api(g),
	    g->threads ? "threads" : "messages", PAGE_SIZE, q, page);
	spec.url = url;
	ms_fetch_add(g->s->fa, &spec);
	free(url);
	free(page);
	free(q);
}

/* The emails an account has: the one asked for. */
struct have {
	int64_t account;
	long long emails;
};

static int
account_emails(const struct ms_account *a, void *arg)
{
	struct have *h = arg;

	if (a->id == h->account)
		h->emails = a->emails;
	return 0;
}

/*
 * Whether a full sync of msgs messages in threads threads (the profile's
 * totals, -1 when not given) goes by thread: when gmail.fetch says so,
 * or, for auto, when it costs less quota. Message by message, the
 * messages this account has already (a full sync again) cost only their
 * listing; by thread, every thread is fetched whole. 0, 1, or -1.
 */
static int
by_thread(struct gmail *g, long long msgs, long long threads)
{
	struct have h = {g->s->account, 0};
	double by_msg, by_thr;
	long long have;

	if (g->mode != FETCH_AUTO)
		return g->mode == FETCH_THREADS;
	if (msgs <= 0 || threads <= 0)
		return 0;
	if (ms_account_each(g->s->db, account_emails, &h) == -1)
		return -1;
	have = h.emails;
	by_msg = COST_GET * (double)(msgs > have ? msgs - have : 0) +
	    COST_LIST * (double)(msgs / PAGE_SIZE + 1);
	by_thr = COST_THREAD_GET * (double)threads +
	    COST_THREAD_LIST * (double)(threads / PAGE_SIZE + 1);
	ms_log_info("%s: %lld messages in %lld threads, %lld stored: about "
		    "%.0f quota units message by message, %.0f by thread",
	    g->s->address, msgs, threads, have, by_msg, by_thr);
	return by_thr < by_msg;
}

static void
profile_cb(struct ms_fetch_acct *fa, const struct ms_http_resp *r, void *arg)
{
	struct gmail *g = arg;
	struct cursor c = {0};
	struct json_object *o;
	long long total = -1, threads = -1;
	const char *h;

	(void)fa;
	if (r == NULL)
		return;
	if ((o = reply_json(g, "profile", r)) == NULL)
		return;
	if (!history_ok(h = ms_json_str(o, "historyId"))) {
		json_object_put(o);
		ms_errc(EX_TEMPFAIL, "Gmail profile: no usable historyId");
		ms_sync_fail(g->s);
		return;
	}
	if (ms_json_int(o, "messagesTotal", &total) == 0 && total >= 0 &&
	    total < LONG_MAX)
		g->s->total = (long)total;
	else
		total = -1;
	if (ms_json_int(o, "threadsTotal", &threads) == -1 || threads < 0)
		threads = -1;
	g->start_history = ms_xstrdup(h);
	json_object_put(o);
	if ((g->threads = by_thread(g, total, threads)) == -1) {
		ms_sync_fail(g->s);
		return;
	}
	if (g->threads)
		ms_log_info(
		    "%s: the first sync fetches by thread", g->s->address);
	/* Remember where the full sync began, and which way it goes, before
	 * anything else. */
	c.full_history_id = g->start_history;
	c.fetch = g->threads ? fetch_threads : NULL;
	if (ms_sync_begin(g->s) == -1)
		return;
	if (cursor_set(g->s, &c) == -1) {
		ms_sync_fail(g->s);
		return;
	}
	if (ms_sync_commit(g->s) == 0)
		full_start(g);
}

static void
profile(struct gmail *g)
{
	char *url = ms_xasprintf("%s/gmail/v1/users/me/profile", api(g));

	g->incremental = 0;
	get(g, url, COST_PROFILE, MAX_SMALL, profile_cb, NULL);
	free(url);
}

/*
 * Incremental sync
 */

/* The ids of one kind of history record's messages that are mail to
 * sync (no draft, spam, trash or chat label) into g->pending, with their
 * threads. */
static void
history_records(struct gmail *g, struct json_object *h, const char *kind)
{
	struct json_object *arr = ms_json_arr(h, kind), *m;
	const char *id, *thread;
	size_t j;

	for (j = 0; arr != NULL && j < json_object_array_length(arr); j++) {
		m = ms_json_obj(ms_json_arr_obj(arr, j), "message");
		if (m == NULL || !ms_gmail_id_ok(id = ms_json_str(m, "id")) ||
		    has_label(m, skipped_labels))
			continue;
		thread = ms_json_str(m, "threadId");
		pend_add(
		    &g->pending, id, ms_gmail_id_ok(thread) ? thread : NULL);
	}
}

/*
 * New mail in a history page: messages added, and messages that gained
 * a label (moved out of Spam or Trash, a draft sent) now carrying none
 * of the skipped ones; those already stored are dropped later. Nothing
 * stored is ever removed by a label change.
 */
static void
history_added(struct gmail *g, struct json_object *o)
{
	struct json_object *hist = ms_json_arr(o, "history"), *h;
	size_t i;

	for (i = 0; hist != NULL && i < json_object_array_length(hist); i++) {
		if ((h = ms_json_arr_obj(hist, i)) == NULL)
			continue;
		history_records(g, h, "messagesAdded");
		history_records(g, h, "labelsAdded");
	}
}

/* Keep only the added ids this account does not have yet, once each,
 * the messages of one thread side by side. */
static int
drop_known(struct gmail *g)
{
	struct pendset *p = &g->pending;
	size_t i, k = 0;
	int known;

	if (p->n == 0)
		return 0;
	qsort(p->v, p->n, sizeof(*p->v), cmp_pend_id);
	for (i = 0; i < p->n; i++) {
		if (k > 0 && strcmp(p->v[k - 1].id, p->v[i].id) == 0)
			known = 1;
		else if ((known = ms_sync_known(g->s, p->v[i].id)) == -1)
			return -1;
		if (known)
			pend_finish(&p->v[i]);
		else
			p->v[k++] = p->v[i];
	}
	p->n = k;
	if (k > 0)
		qsort(p->v, p->n, sizeof(*p->v), cmp_pend_thread);
	return 0;
}

static void
restart_full(struct gmail *g)
{
	ms_log_info(
	    "%s: the history is too old (404): full sync again", g->s->address);
	pend_free(&g->pending);
	if (ms_sync_begin(g->s) == -1)
		return;
	if (ms_sync_cursor_clear(g->s) == -1) {
		ms_sync_fail(g->s);
		return;
	}
	if (ms_sync_commit(g->s) == 0)
		profile(g);
}

static void
history_cb(struct ms_fetch_acct *fa, const struct ms_http_resp *r, void *arg)
{
	struct gmail *g = arg;
	struct json_object *o;
	const char *next, *h;

	(void)fa;
	if (r == NULL)
		return;
	if (r->status == 404) {
		restart_full(g);
		return;
	}
	if ((o = reply_json(g, "history.list", r)) == NULL)
		return;
	history_added(g, o);
	if ((h = ms_json_str(o, "historyId")) != NULL && history_ok(h)) {
		free(g->new_history);
		g->new_history = ms_xstrdup(h);
	}
	if ((next = ms_json_str(o, "nextPageToken")) != NULL)
		history_page(g, next);
	else if (drop_known(g) == -1)
		ms_sync_fail(g->s);
	else
		next_unit(g); /* units of a page, one at a time */
	json_object_put(o);
}

static void
history_page(struct gmail *g, const char *token)
{
	char *url;
	char *page = page_param(token);

	/* Moves out of Spam or Trash are labelAdded records, not
	 * messageAdded ones (the History resource). */
	url = ms_xasprintf("%s/gmail/v1/users/me/history?startHistoryId=%s"
			   "&historyTypes=messageAdded&historyTypes=labelAdded"
			   "&maxResults=%d%s",
	    api(g), g->old_history, PAGE_SIZE, page);
	get(g, url, COST_HISTORY, MAX_HISTORY, history_cb, NULL);
	free(page);
	free(url);
}

/*
 * Send-as aliases, read again when a day old. A failure is logged and
 * leaves the old ones: the mail sync does not depend on them.
 */
static void
sendas_cb(struct ms_fetch_acct *fa, const struct ms_http_resp *r, void *arg)
{
	struct gmail *g = arg;
	struct json_object *o = NULL;
	char **addrs = NULL;
	size_t n = 0;

	(void)fa;
	if (r == NULL)
		return;
	if (r->status != 200 || (o = ms_http_json(r, "Gmail sendAs")) == NULL ||
	    ms_gmail_sendas_parse(o, &addrs, &n) == -1) {
		if (r->status != 200)
			ms_errc(EX_UNAVAILABLE, "HTTP %ld", r->status);
		ms_log_warn("%s: send-as addresses not read: %s", g->s->address,
		    ms_errstr());
	} else if (ms_db_begin(g->s->db) == -1 ||
	    ms_account_aliases_set(
		g->s->db, g->s->account, addrs, n, time(NULL)) == -1 ||
	    ms_db_commit(g->s->db) == -1) {
		ms_db_rollback(g->s->db);
		ms_log_warn("%s: send-as addresses not stored: %s",
		    g->s->address, ms_errstr());
	}
	json_object_put(o);
	ms_strv_free(addrs, n);
}

static void
read_aliases(struct gmail *g)
{
	if (ms_account_aliases_due(g->s->db, g->s->account, ALIASES_MAX_AGE) !=
	    1)
		return;
	get(g, g->s->p->aliases_url, COST_SENDAS, MAX_SMALL, sendas_cb, NULL);
}

static int
gmail_start(struct ms_sync *s)
{
	struct gmail *g = ms_xcalloc(1, sizeof(*g));
	struct cursor c;

	g->s = s;
	s->drv = g;
	if (ms_config_choice(s->db, "gmail.fetch", &g->mode) == -1)
		return -1;
	read_aliases(g);
	if (cursor_get(s, &c) == -1)
		return -1;
	if (c.history_id != NULL && !history_ok(c.history_id)) {
		ms_log_warn("%s: the stored historyId is not Google's: a full "
			    "sync again",
		    s->address);
		cursor_finish(&c);
	}
	if (!s->full && c.history_id != NULL) {
		g->incremental = 1;
		g->old_history = c.history_id;
		g->new_history = ms_xstrdup(c.history_id);
		c.history_id = NULL;
		history_page(g, NULL);
	} else if (!s->full && c.full_history_id != NULL) {
		/* Resume the unfinished full sync where it stopped, the way
		 * it began (its page token is of that listing). */
		g->threads = c.fetch != NULL && strcmp(c.fetch, "threads") == 0;
		g->start_history = c.full_history_id;
		g->resume_token = c.page_token;
		c.full_history_id = c.page_token = NULL;
		full_start(g);
	} else
		profile(g);
	cursor_finish(&c);
	return 0;
}

static void
gmail_finish(struct ms_sync *s)
{
	struct gmail *g = s->drv;

	if (g == NULL)
		return;
	while (g->head != NULL)
		unit_pop(g);
	idset_free(&g->att);
	pend_free(&g->pending);
	free(g->start_history);
	free(g->resume_token);
	free(g->new_history);
	free(g->old_history);
	free(g);
	s->drv = NULL;
}

/*
 * The driver
 */

#define GMAIL_SCOPE "https://www.googleapis.com/auth/gmail.readonly"

static int
endpoints(struct ms_provider *p, const char *tenant)
{
	(void)tenant;
	p->auth_url = ms_xstrdup(ms_driver_env("MAILSYNC_GOOGLE_AUTH_URL",
	    "https://accounts.google.com/o/oauth2/v2/auth"));
	p->token_url = ms_xstrdup(ms_driver_env("MAILSYNC_GOOGLE_TOKEN_URL",
	    "https://oauth2.googleapis.com/token"));
	p->revoke_url = ms_xstrdup(ms_driver_env("MAILSYNC_GOOGLE_REVOKE_URL",
	    "https://oauth2.googleapis.com/revoke"));
	p->api_url = ms_xstrdup(ms_driver_env(
	    "MAILSYNC_GMAIL_API_URL", "https://gmail.googleapis.com"));
	p->aliases_url =
	    ms_xasprintf("%s/gmail/v1/users/me/settings/sendAs", p->api_url);
	return 0;
}

static char *
address(const struct ms_provider *p, const char *access)
{
	char *url = ms_xasprintf("%s/gmail/v1/users/me/profile", p->api_url);
	struct json_object *o = ms_http_get_json(url, access, "Gmail profile");
	const char *a;
	char *addr = NULL;

	free(url);
	if (o == NULL)
		return NULL;
	if ((a = ms_json_str(o, "emailAddress")) == NULL || *a == '\0')
		ms_errc(EX_UNAVAILABLE, "Gmail profile: no emailAddress");
	else
		addr = ms_xstrdup(a);
	json_object_put(o);
	return addr;
}

int
ms_gmail_sendas_parse(struct json_object *o, char ***addrs, size_t *n)
{
	struct json_object *arr = ms_json_arr(o, "sendAs"), *sa;
	const char *email, *status;
	size_t i;

	*addrs = NULL;
	*n = 0;
	if (arr == NULL)
		return ms_errc(EX_PROTOCOL, "Gmail sendAs: no sendAs list");
	for (i = 0; i < json_object_array_length(arr); i++) {
		sa = ms_json_arr_obj(arr, i);
		if ((email = ms_json_str(sa, "sendAsEmail")) == NULL ||
		    ms_json_true(sa, "isPrimary"))
			continue;
		status = ms_json_str(sa, "verificationStatus");
		if (status != NULL && strcmp(status, "accepted") != 0)
			continue;
		ms_strv_add(addrs, n, ms_xstrdup(email));
	}
	return 0;
}

static int
aliases(
    const struct ms_provider *p, const char *access, char ***addrs, size_t *n)
{
	struct json_object *o;
	int rc;

	if ((o = ms_http_get_json(p->aliases_url, access, "Gmail sendAs")) ==
	    NULL)
		return -1;
	rc = ms_gmail_sendas_parse(o, addrs, n);
	json_object_put(o);
	return rc;
}

/* The per-user quota (units per minute, the ceiling the limiter learns
 * below), the requests in flight, a batch of 50 the costliest request. */
static int
limits(struct ms_db *db, struct ms_fetch_limits *lim)
{
	double scale, conc;

	/* quota.time_scale divides the window, for tests and benchmarks
	 * against an emulator that scales its own. */
	if (ms_config_num(db, "quota.time_scale", &scale) == -1 ||
	    ms_config_num(db, "quota.gmail_concurrency", &conc) == -1 ||
	    ms_config_num(db, "quota.gmail_units_per_minute", &lim->units) ==
		-1)
		return -1;
	lim->concurrency = (int)conc;
	lim->window = 60 / scale;
	lim->burst = (double)BATCH_SIZE * COST_GET;
	return 0;
}

const struct ms_driver ms_gmail_driver = {
    .name = "gmail",
    .label = "Gmail",
    .badge = "red",
    /* Google refuses Gmail scopes in the device flow (invalid_scope). */
    .flags = MS_DRV_OAUTH | MS_DRV_REVOKE | MS_DRV_ALIASES | MS_DRV_SECRET,
    /* gmail.readonly alone: gmail.metadata forbids q (has:attachment),
     * and a token holding both still rejects q. */
    .scope = GMAIL_SCOPE,
    .needed_scope = GMAIL_SCOPE,
    /* offline + consent: a refresh token on every authorization. */
    .extra_auth = "access_type=offline&prompt=consent",
    .redirect_hint = "if the browser showed a Google error page instead of "
		     "coming back here, the redirect was refused (most often "
		     "a redirect_uri mismatch): register the client ID as a "
		     "\"Desktop app\" OAuth client, which allows loopback "
		     "redirects",
    .endpoints = endpoints,
    .address = address,
    .aliases = aliases,
    .limits = limits,
    .classify = classify,
    .start = gmail_start,
    .finish = gmail_finish,
};
