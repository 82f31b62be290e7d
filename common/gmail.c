/*
 * gmail: the Gmail API driver of mailsync-pull.
 *
 * Full sync: the profile's historyId first; a q=has:attachment listing
 * (the provider's own attachment flag, which gmail.readonly allows)
 * alongside messages.list pages of 500, each page's new messages fetched in
 * metadata format through the batch endpoint (50 a batch) and stored
 * with the next page token in one transaction; the historyId last.
 * Incremental: history.list from the stored historyId; the added
 * messages fetched the same way, their attachment flags from a
 * has:attachment listing after the oldest of them. A 404 on history
 * starts a full sync again; a 404 on one message means it was deleted.
 */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "account.h"
#include "date.h"
#include "log.h"
#include "msg.h"
#include "rfc2047.h"
#include "sync.h"
#include "util.h"

#define FOLDER ""
#define PAGE_SIZE 500
#define BATCH_SIZE 50
#define BATCH_ATTEMPTS 5
#define COST_GET 5
#define COST_LIST 5
#define COST_HISTORY 2
#define COST_PROFILE 1
#define COST_SENDAS 1
/* Send-as aliases are read again once a day. */
#define ALIASES_MAX_AGE (24 * 60 * 60)
#define BOUNDARY "mailsync_batch_b7e1"

#define META_PARAMS                                                            \
	"format=metadata&metadataHeaders=From&metadataHeaders=To"              \
	"&metadataHeaders=Cc&metadataHeaders=Subject&metadataHeaders=Date"     \
	"&metadataHeaders=Message-ID&metadataHeaders=List-Unsubscribe"         \
	"&metadataHeaders=Precedence&metadataHeaders=Auto-Submitted"

struct idset {
	char **v;
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
};

struct gmail {
	struct ms_sync *s;
	int incremental;
	char *start_history; /* full: the profile's historyId */
	char *resume_token; /* full: where listing goes on (NULL: start) */
	char *new_history; /* incremental: where it ends */
	char *old_history;
	struct idset att; /* ids that have attachments */
	struct idset pending; /* incremental: ids for the later units */
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
	char **ids;
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

/* Fail the account with a message about url's reply. */
static void
fail_reply(struct gmail *g, const char *what, const struct ms_http_resp *r)
{
	struct json_object *o = NULL, *e, *m;
	const char *msg = NULL;

	if (r->len > 0 && (o = json_tokener_parse(r->body)) != NULL &&
	    json_object_object_get_ex(o, "error", &e) &&
	    json_object_object_get_ex(e, "message", &m))
		msg = json_object_get_string(m);
	ms_errc(EX_UNAVAILABLE, "Gmail %s: HTTP %ld%s%s", what, r->status,
	    msg ? ": " : "", msg ? msg : "");
	json_object_put(o);
	ms_sync_fail(g->s);
}

/* The reply as JSON; fails the account when it is not. */
static struct json_object *
reply_json(struct gmail *g, const char *what, const struct ms_http_resp *r)
{
	struct json_object *o;
	char label[64];

	snprintf(label, sizeof(label), "Gmail %s", what);
	if ((o = ms_http_json(r, label)) == NULL) {
		ms_errc(EX_TEMPFAIL, "%s", ms_errstr());
		ms_sync_fail(g->s);
	}
	return o;
}

static void
get(struct gmail *g, const char *url, double units, ms_fetch_cb *cb, void *arg)
{
	struct ms_fetch_spec spec = {
	    .url = url, .units = units, .cb = cb, .arg = arg ? arg : g};

	ms_fetch_add(g->s->fa, &spec);
}

static const char *
api(struct gmail *g)
{
	return g->s->p->api_url;
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
	struct json_object *arr, *l;
	const char *s;
	size_t i, j;

	if (!json_object_object_get_ex(msg, "labelIds", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return 0;
	for (i = 0; i < json_object_array_length(arr); i++) {
		l = json_object_array_get_idx(arr, i);
		if ((s = json_object_get_string(l)) == NULL)
			continue;
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

static void
apply_header(struct ms_email *e, const char *name, const char *value)
{
	size_t len = strlen(value);

	if (ms_ascii_casecmp(name, "From") == 0 && e->from.n == 0)
		ms_addr_parse_list(value, len, &e->from);
	else if (ms_ascii_casecmp(name, "To") == 0)
		ms_addr_parse_list(value, len, &e->to);
	else if (ms_ascii_casecmp(name, "Cc") == 0)
		ms_addr_parse_list(value, len, &e->cc);
	else if (ms_ascii_casecmp(name, "Subject") == 0 && e->subject == NULL)
		e->subject = ms_rfc2047_decode(value, len, NULL);
	else if (ms_ascii_casecmp(name, "Message-ID") == 0 &&
	    e->message_id == NULL)
		e->message_id = ms_msgid_normalize(value);
	else if (ms_ascii_casecmp(name, "Date") == 0 && e->date == 0)
		ms_date_parse_rfc5322(value, &e->date);
	else if (ms_email_bulk_header(name, value))
		e->bulk = 1;
}

/* 0 with e filled, 1 when it is to be skipped, -1 when malformed. */
static int
to_email(struct gmail *g, struct json_object *msg, struct ms_email *e)
{
	struct json_object *payload, *headers, *h, *n, *v;
	const char *s;
	size_t i;

	memset(e, 0, sizeof(*e));
	if (has_label(msg, skipped_labels))
		return 1;
	if (!json_object_object_get_ex(msg, "payload", &payload) ||
	    !json_object_object_get_ex(payload, "headers", &headers) ||
	    !json_object_is_type(headers, json_type_array))
		return ms_errc(EX_TEMPFAIL,
		    "Gmail message without "
		    "payload.headers");
	for (i = 0; i < json_object_array_length(headers); i++) {
		h = json_object_array_get_idx(headers, i);
		if (json_object_object_get_ex(h, "name", &n) &&
		    json_object_object_get_ex(h, "value", &v))
			apply_header(e, json_object_get_string(n),
			    json_object_get_string(v));
	}
	if ((s = ms_json_str(msg, "internalDate")) != NULL)
		e->date = (time_t)(strtoll(s, NULL, 10) / 1000);
	if ((s = ms_json_str(msg, "snippet")) != NULL)
		e->snippet = ms_sync_unescape_html(s);
	if ((s = ms_json_str(msg, "threadId")) != NULL)
		e->thread_id = ms_xstrdup(s);
	if (e->subject == NULL)
		e->subject = ms_xstrdup("");
	if (g->s->since > 0 && e->date < g->s->since && !g->incremental) {
		ms_email_finish(e);
		return 1;
	}
	return 0;
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
commit(struct gmail *g, const struct ms_cursor *c)
{
	if (ms_sync_begin(g->s) == -1)
		return -1;
	if (store_got(g, g->head) == -1 ||
	    ms_sync_cursor_set(g->s, FOLDER, c) == -1) {
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
	struct ms_cursor c = {0};

	while (g->att_listed && g->head != NULL && g->head->listed &&
	    g->head->batches == 0 && ms_fetch_acct_error(g->s->fa) == 0) {
		int last = g->head->next_token == NULL;

		c.full_history_id = last ? NULL : g->start_history;
		c.history_id = last ? g->start_history : NULL;
		c.page_token = g->head->next_token;
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

static void send_want(struct gmail *, struct unit *, struct idset *);

/*
 * Incremental: the added messages go in units of a page, each stored in
 * its own transaction, so a bounded or killed run keeps what it fetched;
 * the historyId moves only with the last unit (a rerun lists the same
 * history again and skips what is stored).
 */
static void
next_unit(struct gmail *g)
{
	size_t n = g->pending.n < PAGE_SIZE ? g->pending.n : PAGE_SIZE;
	struct idset want = {0};
	struct unit *u = unit_new(g, NULL);

	u->listed = 1;
	while (n-- > 0) {
		char *id = g->pending.v[--g->pending.n];

		idset_add(&want, id);
		free(id);
	}
	send_want(g, u, &want);
}

static void
incremental_done(struct gmail *g)
{
	struct ms_cursor c = {0};
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

/* Add the ids of a messages.list reply to set; its next page token. */
static int
list_ids(struct json_object *o, struct idset *set, const char **next)
{
	struct json_object *arr, *m;
	const char *id;
	size_t i;

	*next = ms_json_str(o, "nextPageToken");
	if (!json_object_object_get_ex(o, "messages", &arr))
		return 0; /* absent when empty */
	if (!json_object_is_type(arr, json_type_array))
		return ms_errc(EX_TEMPFAIL,
		    "Gmail messages.list: "
		    "\"messages\" is not an array");
	for (i = 0; i < json_object_array_length(arr); i++) {
		m = json_object_array_get_idx(arr, i);
		if ((id = ms_json_str(m, "id")) != NULL)
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
	    .units = COST_LIST, .cb = att_cb, .arg = g};
	char bound[48] = "", *url;

	if (after > 0)
		snprintf(bound, sizeof(bound), "%%20after%%3A%lld",
		    (long long)after);
	url = ms_xasprintf("%s/gmail/v1/users/me/messages?maxResults=%d"
			   "&q=has%%3Aattachment%s%s%s",
	    api(g), PAGE_SIZE, bound, token ? "&pageToken=" : "",
	    token ? token : "");
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
	if (r->status != 200) {
		fail_reply(g, "messages.list (has:attachment)", r);
		return;
	}
	if ((o = reply_json(g, "messages.list", r)) == NULL)
		return;
	if (list_ids(o, &g->att, &next) == -1)
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
 * Batches of metadata gets
 */

static void
batch_cb(struct ms_fetch_acct *, const struct ms_http_resp *, void *);

static void
send_batch(struct gmail *g, struct unit *u, char **ids, size_t n, int attempt,
    double delay)
{
	struct batch *b = ms_xcalloc(1, sizeof(*b));
	struct ms_fetch_spec spec = {0};
	struct ms_buf body = {0};
	char *url;
	size_t i;

	b->g = g;
	b->u = u;
	b->ids = ids;
	b->n = n;
	b->attempt = attempt;
	for (i = 0; i < n; i++)
		ms_buf_printf(&body,
		    "--" BOUNDARY "\r\n"
		    "Content-Type: application/http\r\n"
		    "Content-ID: <item-%zu>\r\n\r\n"
		    "GET /gmail/v1/users/me/messages/%s?" META_PARAMS
		    "\r\n\r\n",
		    i, ids[i]);
	ms_buf_adds(&body, "--" BOUNDARY "--\r\n");
	url = ms_xasprintf("%s/batch/gmail/v1", api(g));
	spec.method = "POST";
	spec.url = url;
	spec.content_type = "multipart/mixed; boundary=" BOUNDARY;
	spec.body = body.s;
	spec.units = (double)COST_GET * (double)n;
	spec.delay = delay;
	spec.cb = batch_cb;
	spec.arg = b;
	u->batches++;
	if (ms_fetch_add(g->s->fa, &spec) == -1) {
		u->batches--;
		for (i = 0; i < n; i++)
			free(ids[i]);
		free(ids);
		free(b);
	}
	free(url);
	ms_buf_finish(&body);
}

/* Fetch a unit's ids (the batches take them over from want). */
static void
send_want(struct gmail *g, struct unit *u, struct idset *want)
{
	size_t i, n;
	char **ids;

	for (i = 0; i < want->n; i += n) {
		n = want->n - i < BATCH_SIZE ? want->n - i : BATCH_SIZE;
		ids = ms_xreallocarray(NULL, n, sizeof(*ids));
		memcpy(ids, want->v + i, n * sizeof(*ids));
		send_batch(g, u, ids, n, 1, 0);
	}
	free(want->v);
	memset(want, 0, sizeof(*want));
	if (u->batches == 0 && ms_fetch_acct_error(g->s->fa) == 0)
		unit_fetched(g, u);
}

/* The boundary of a multipart Content-Type, or NULL. */
static char *
boundary_of(const char *ct)
{
	const char *p = ct ? strstr(ct, "boundary=") : NULL;
	size_t n;

	if (p == NULL)
		return NULL;
	p += 9;
	if (*p == '"') {
		p++;
		n = strcspn(p, "\"");
	} else
		n = strcspn(p, "; \t\r\n");
	return n > 0 ? ms_xstrndup(p, n) : NULL;
}

/* After the blank line that ends a header block at p, or NULL. */
static const char *
skip_head(const char *p, const char *end)
{
	for (; p < end; p++) {
		if (p + 1 < end && p[0] == '\n' && p[1] == '\n')
			return p + 2;
		if (p + 3 < end && memcmp(p, "\r\n\r\n", 4) == 0)
			return p + 4;
	}
	return NULL;
}

/* The index in the batch of "Content-ID: <response-item-N>", or -1. */
static long
part_index(const char *head, const char *end, size_t n)
{
	const char *p;
	char *e;
	long i;

	for (p = head; p + 16 < end; p++)
		if (ms_ascii_ncasecmp(p, "content-id:", 11) == 0)
			break;
	if (p + 16 >= end || (p = strstr(p, "item-")) == NULL || p >= end)
		return -1;
	i = strtol(p + 5, &e, 10);
	return e > p + 5 && i >= 0 && (size_t)i < n ? i : -1;
}

/* Handle one part's inner response: its status, then its JSON body. */
static int
batch_part(struct gmail *g, struct batch *b, long idx, const char *inner,
    const char *end, struct idset *retry)
{
	struct json_object *o;
	struct ms_email e;
	const char *body;
	char *copy;
	long status;
	int rc;

	if (sscanf(inner, "HTTP/%*s %ld", &status) != 1)
		return ms_errc(EX_TEMPFAIL,
		    "Gmail batch: a part without a "
		    "status line");
	if (status == 404) /* deleted since it was listed */
		return 0;
	if (status == 429 || status == 403 || status >= 500 || status == 401) {
		idset_add(retry, b->ids[idx]);
		return 0;
	}
	if (status != 200)
		return ms_errc(EX_UNAVAILABLE,
		    "Gmail batch: HTTP %ld for "
		    "message %s",
		    status, b->ids[idx]);
	if ((body = skip_head(inner, end)) == NULL)
		return ms_errc(EX_TEMPFAIL,
		    "Gmail batch: a part without a "
		    "body");
	copy = ms_xstrndup(body, (size_t)(end - body));
	o = json_tokener_parse(copy);
	free(copy);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return ms_errc(EX_TEMPFAIL,
		    "Gmail batch: malformed JSON for "
		    "message %s",
		    b->ids[idx]);
	}
	g->s->fetched++;
	rc = to_email(g, o, &e);
	json_object_put(o);
	if (rc == 0)
		got_push(b->u, &e, b->ids[idx]);
	return rc == -1 ? -1 : 0;
}

static int
parse_batch(struct gmail *g, struct batch *b, const struct ms_http_resp *r,
    struct idset *retry)
{
	char *bnd = boundary_of(r->content_type), *delim;
	const char *p, *end = r->body + r->len, *next, *inner;
	size_t dlen, seen = 0;
	long idx;
	int rc = 0;

	if (bnd == NULL)
		return ms_errc(EX_TEMPFAIL,
		    "Gmail batch: reply is not "
		    "multipart");
	delim = ms_xasprintf("--%s", bnd);
	dlen = strlen(delim);
	p = strstr(r->body, delim);
	while (rc == 0 && p != NULL && p + dlen + 2 <= end &&
	    strncmp(p + dlen, "--", 2) != 0) {
		p += dlen;
		next = strstr(p, delim);
		if (next == NULL)
			next = end;
		if ((inner = skip_head(p, next)) == NULL) {
			rc =
			    ms_errc(EX_TEMPFAIL, "Gmail batch: truncated part");
			break;
		}
		idx = part_index(p, inner, b->n);
		if (idx < 0)
			idx = (long)seen;
		if ((size_t)idx >= b->n)
			rc = ms_errc(EX_TEMPFAIL,
			    "Gmail batch: more parts "
			    "than requests");
		else
			rc = batch_part(g, b, idx, inner, next, retry);
		seen++;
		p = next < end ? next : NULL;
	}
	if (rc == 0 && seen != b->n)
		rc = ms_errc(EX_TEMPFAIL,
		    "Gmail batch: %zu of %zu parts in "
		    "the reply",
		    seen, b->n);
	free(delim);
	free(bnd);
	return rc;
}

static void
batch_free(struct batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		free(b->ids[i]);
	free(b->ids);
	free(b);
}

static void
batch_cb(struct ms_fetch_acct *fa, const struct ms_http_resp *r, void *arg)
{
	struct batch *b = arg;
	struct gmail *g = b->g;
	struct unit *u = b->u;
	struct idset retry = {0};

	(void)fa;
	u->batches--;
	if (r == NULL) {
		batch_free(b);
		return;
	}
	if (r->status != 200)
		fail_reply(g, "batch", r);
	else if (parse_batch(g, b, r, &retry) == -1)
		ms_sync_fail(g->s);
	else if (retry.n > 0 && b->attempt >= BATCH_ATTEMPTS) {
		ms_errc(EX_TEMPFAIL,
		    "Gmail batch: %zu messages still failing "
		    "after %d attempts",
		    retry.n, b->attempt);
		ms_sync_fail(g->s);
	} else if (retry.n > 0) {
		/* Retry the failed parts alone, after a pause; the new
		 * batch owns the ids. */
		send_batch(g, u, retry.v, retry.n, b->attempt + 1,
		    (double)(1 << (b->attempt - 1)));
		memset(&retry, 0, sizeof(retry));
	}
	idset_clear(&retry);
	free(retry.v);
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
	struct idset ids = {0}, want = {0};
	struct json_object *o;
	const char *next;
	size_t i;
	int known;

	(void)fa;
	if (r == NULL)
		return;
	if (r->status != 200) {
		fail_reply(g, "messages.list", r);
		return;
	}
	if ((o = reply_json(g, "messages.list", r)) == NULL)
		return;
	if (list_ids(o, &ids, &next) == -1) {
		ms_sync_fail(g->s);
		goto out;
	}
	u->next_token = next ? ms_xstrdup(next) : NULL;
	u->listed = 1;
	for (i = 0; i < ids.n; i++) {
		if ((known = ms_sync_known(g->s, ids.v[i])) == -1) {
			ms_sync_fail(g->s);
			goto out;
		}
		if (!known)
			idset_add(&want, ids.v[i]);
	}
	fill_lookahead(g);
	send_want(g, u, &want);
out:
	idset_free(&want);
	idset_free(&ids);
	json_object_put(o);
}

static void
list_page(struct gmail *g, struct unit *u)
{
	char *q = since_q(g, "&q="), *url;
	/* Ahead of the batches queued: the pages listed ahead are there so
	 * that the batches never run out, which they would if the next
	 * listing waited behind them. */
	struct ms_fetch_spec spec = {
	    .units = COST_LIST, .cb = list_cb, .arg = u, .urgent = 1};

	url = ms_xasprintf("%s/gmail/v1/users/me/messages?maxResults=%d%s%s%s",
	    api(g), PAGE_SIZE, q, u->token ? "&pageToken=" : "",
	    u->token ? u->token : "");
	spec.url = url;
	ms_fetch_add(g->s->fa, &spec);
	free(url);
	free(q);
}

static void
profile_cb(struct ms_fetch_acct *fa, const struct ms_http_resp *r, void *arg)
{
	struct gmail *g = arg;
	struct ms_cursor c = {0};
	struct json_object *o;
	const char *h;

	(void)fa;
	if (r == NULL)
		return;
	if (r->status != 200) {
		fail_reply(g, "profile", r);
		return;
	}
	if ((o = reply_json(g, "profile", r)) == NULL)
		return;
	if ((h = ms_json_str(o, "historyId")) == NULL) {
		json_object_put(o);
		ms_errc(EX_TEMPFAIL, "Gmail profile: no historyId");
		ms_sync_fail(g->s);
		return;
	}
	g->start_history = ms_xstrdup(h);
	json_object_put(o);
	/* Remember where the full sync began before anything else. */
	c.full_history_id = g->start_history;
	if (ms_sync_begin(g->s) == -1)
		return;
	if (ms_sync_cursor_set(g->s, FOLDER, &c) == -1) {
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
	get(g, url, COST_PROFILE, profile_cb, NULL);
	free(url);
}

/*
 * Incremental sync
 */

static void
history_added(struct gmail *g, struct json_object *o)
{
	struct json_object *hist, *h, *added, *a, *m;
	const char *id;
	size_t i, j;

	if (!json_object_object_get_ex(o, "history", &hist) ||
	    !json_object_is_type(hist, json_type_array))
		return;
	for (i = 0; i < json_object_array_length(hist); i++) {
		h = json_object_array_get_idx(hist, i);
		if (!json_object_object_get_ex(h, "messagesAdded", &added) ||
		    !json_object_is_type(added, json_type_array))
			continue;
		for (j = 0; j < json_object_array_length(added); j++) {
			a = json_object_array_get_idx(added, j);
			if (!json_object_object_get_ex(a, "message", &m) ||
			    (id = ms_json_str(m, "id")) == NULL ||
			    has_label(m, skipped_labels))
				continue;
			idset_add(&g->pending, id);
		}
	}
}

/* Keep only the added ids this account does not have yet. */
static int
drop_known(struct gmail *g)
{
	struct idset *p = &g->pending;
	size_t i, k = 0;
	int known;

	idset_sort(p);
	for (i = 0; i < p->n; i++) {
		if ((known = ms_sync_known(g->s, p->v[i])) == -1)
			return -1;
		if (known)
			free(p->v[i]);
		else
			p->v[k++] = p->v[i];
	}
	p->n = k;
	return 0;
}

static void
restart_full(struct gmail *g)
{
	ms_log_info(
	    "%s: the history is too old (404): full sync again", g->s->address);
	idset_clear(&g->pending);
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
	if (r->status != 200) {
		fail_reply(g, "history.list", r);
		return;
	}
	if ((o = reply_json(g, "history.list", r)) == NULL)
		return;
	history_added(g, o);
	if ((h = ms_json_str(o, "historyId")) != NULL) {
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

	url = ms_xasprintf("%s/gmail/v1/users/me/history?startHistoryId=%s"
			   "&historyTypes=messageAdded&maxResults=%d%s%s",
	    api(g), g->old_history, PAGE_SIZE, token ? "&pageToken=" : "",
	    token ? token : "");
	get(g, url, COST_HISTORY, history_cb, NULL);
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
	    ms_provider_sendas_parse(o, &addrs, &n) == -1) {
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
aliases(struct gmail *g)
{
	if (ms_account_aliases_due(g->s->db, g->s->account, ALIASES_MAX_AGE) !=
	    1)
		return;
	get(g, g->s->p->aliases_url, COST_SENDAS, sendas_cb, NULL);
}

double
ms_gmail_max_request_units(void)
{
	return (double)BATCH_SIZE * COST_GET;
}

int
ms_gmail_start(struct ms_sync *s)
{
	struct gmail *g = ms_xcalloc(1, sizeof(*g));
	struct ms_cursor c;

	g->s = s;
	s->drv = g;
	aliases(g);
	if (ms_sync_cursor_get(s, FOLDER, &c) == -1)
		return -1;
	if (!s->full && c.history_id != NULL) {
		g->incremental = 1;
		g->old_history = c.history_id;
		g->new_history = ms_xstrdup(c.history_id);
		c.history_id = NULL;
		history_page(g, NULL);
	} else if (!s->full && c.full_history_id != NULL) {
		/* Resume the unfinished full sync where it stopped. */
		g->start_history = c.full_history_id;
		g->resume_token = c.page_token;
		c.full_history_id = c.page_token = NULL;
		full_start(g);
	} else
		profile(g);
	ms_cursor_finish(&c);
	return 0;
}

void
ms_gmail_finish(struct ms_sync *s)
{
	struct gmail *g = s->drv;

	if (g == NULL)
		return;
	while (g->head != NULL)
		unit_pop(g);
	idset_free(&g->att);
	idset_free(&g->pending);
	free(g->start_history);
	free(g->resume_token);
	free(g->new_history);
	free(g->old_history);
	free(g);
	s->drv = NULL;
}
