/*
 * gmail: the Gmail API driver of mailsync-pull.
 *
 * Full sync: the profile's historyId first; a q=has:attachment listing
 * (the provider's own attachment flag, which gmail.readonly allows);
 * then messages.list pages of 500, each page's new messages fetched in
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

struct gmail {
	struct ms_sync *s;
	int incremental;
	char *start_history; /* full: the profile's historyId */
	char *page_token; /* full: the page being read */
	char *next_page; /* full: the page after it */
	char *new_history; /* incremental: where it ends */
	char *old_history;
	struct idset att; /* ids that have attachments */
	struct idset want; /* ids to fetch now */
	struct idset pending; /* incremental: ids for the later units */
	struct ms_email *got; /* fetched, not stored yet */
	char **got_ids;
	size_t ngot, cgot;
	int batches; /* in flight */
	time_t oldest;
};

struct batch {
	struct gmail *g;
	char **ids;
	size_t n;
	int attempt;
};

static void list_page(struct gmail *);
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
got_clear(struct gmail *g)
{
	size_t i;

	for (i = 0; i < g->ngot; i++) {
		ms_email_finish(&g->got[i]);
		free(g->got_ids[i]);
	}
	g->ngot = 0;
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
got_push(struct gmail *g, struct ms_email *e, const char *id)
{
	if (g->ngot == g->cgot) {
		g->cgot = g->cgot ? g->cgot * 2 : BATCH_SIZE * 2;
		g->got = ms_xreallocarray(g->got, g->cgot, sizeof(*g->got));
		g->got_ids =
		    ms_xreallocarray(g->got_ids, g->cgot, sizeof(*g->got_ids));
	}
	g->got[g->ngot] = *e;
	g->got_ids[g->ngot++] = ms_xstrdup(id);
	if (g->oldest == 0 || (e->date != 0 && e->date < g->oldest))
		g->oldest = e->date;
}

/*
 * Storing a unit of work
 */

static int
store_got(struct gmail *g)
{
	size_t i;

	for (i = 0; i < g->ngot; i++) {
		g->got[i].has_attachments = idset_has(&g->att, g->got_ids[i]);
		if (ms_sync_store(g->s, &g->got[i], g->got_ids[i]) == -1)
			return -1;
	}
	return 0;
}

/* Store what was fetched with cursor c, in one transaction. */
static int
commit(struct gmail *g, const struct ms_cursor *c)
{
	if (ms_sync_begin(g->s) == -1)
		return -1;
	if (store_got(g) == -1 || ms_sync_cursor_set(g->s, FOLDER, c) == -1) {
		ms_sync_fail(g->s);
		return -1;
	}
	if (ms_sync_commit(g->s) == -1)
		return -1;
	got_clear(g);
	return 0;
}

static void
full_page_done(struct gmail *g)
{
	struct ms_cursor c = {0};

	c.full_history_id = g->start_history;
	c.page_token = g->next_page;
	if (g->next_page == NULL) { /* the last page: full sync done */
		c.history_id = g->start_history;
		c.full_history_id = NULL;
	}
	if (commit(g, &c) == -1)
		return;
	if (g->next_page == NULL) {
		g->s->done = 1;
		return;
	}
	free(g->page_token);
	g->page_token = g->next_page;
	g->next_page = NULL;
	if (!ms_fetch_stopping(ms_fetch_acct_engine(g->s->fa)))
		list_page(g); /* else the next run goes on from this page */
}

static void fetch_want(struct gmail *);

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

	g->want.n = 0;
	while (n-- > 0) {
		char *id = g->pending.v[--g->pending.n];

		idset_add(&g->want, id);
		free(id);
	}
	fetch_want(g);
}

static void
incremental_done(struct gmail *g)
{
	struct ms_cursor c = {0};
	int last = g->pending.n == 0;

	c.history_id = last ? g->new_history : g->old_history;
	if (g->ngot == 0 && last && g->old_history != NULL &&
	    g->new_history != NULL &&
	    strcmp(g->old_history, g->new_history) == 0) {
		g->s->done = 1; /* nothing changed: nothing to write */
		return;
	}
	if (commit(g, &c) == -1)
		return;
	if (last)
		g->s->done = 1;
	else if (!ms_fetch_stopping(ms_fetch_acct_engine(g->s->fa)))
		next_unit(g);
}

/* Incremental: which of the fetched messages have attachments. */
static void
att_after_cb(struct ms_fetch_acct *fa, const struct ms_http_resp *r, void *arg);

static void
att_after(struct gmail *g, const char *token)
{
	time_t after = g->oldest > 86400 ? g->oldest - 86400 : 0;
	char *url;

	url = ms_xasprintf("%s/gmail/v1/users/me/messages?maxResults=%d"
			   "&q=has%%3Aattachment%%20after%%3A%lld%s%s",
	    api(g), PAGE_SIZE, (long long)after, token ? "&pageToken=" : "",
	    token ? token : "");
	get(g, url, COST_LIST, att_after_cb, NULL);
	free(url);
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

static void
att_after_cb(struct ms_fetch_acct *fa, const struct ms_http_resp *r, void *arg)
{
	struct gmail *g = arg;
	struct json_object *o;
	const char *next;

	(void)fa;
	if (r == NULL)
		return;
	if (r->status != 200) {
		fail_reply(g, "messages.list", r);
		return;
	}
	if ((o = reply_json(g, "messages.list", r)) == NULL)
		return;
	if (list_ids(o, &g->att, &next) == -1) {
		json_object_put(o);
		ms_sync_fail(g->s);
		return;
	}
	if (next != NULL)
		att_after(g, next);
	else {
		idset_sort(&g->att);
		incremental_done(g);
	}
	json_object_put(o);
}

static void
unit_done(struct gmail *g)
{
	if (!g->incremental)
		full_page_done(g);
	else if (g->ngot > 0)
		att_after(g, NULL);
	else
		incremental_done(g);
}

/*
 * Batches of metadata gets
 */

static void
batch_cb(struct ms_fetch_acct *, const struct ms_http_resp *, void *);

static void
send_batch(struct gmail *g, char **ids, size_t n, int attempt, double delay)
{
	struct batch *b = ms_xcalloc(1, sizeof(*b));
	struct ms_fetch_spec spec = {0};
	struct ms_buf body = {0};
	char *url;
	size_t i;

	b->g = g;
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
	g->batches++;
	if (ms_fetch_add(g->s->fa, &spec) == -1) {
		g->batches--;
		for (i = 0; i < n; i++)
			free(ids[i]);
		free(ids);
		free(b);
	}
	free(url);
	ms_buf_finish(&body);
}

static void
fetch_want(struct gmail *g)
{
	size_t i, n;
	char **ids;

	for (i = 0; i < g->want.n; i += n) {
		n = g->want.n - i < BATCH_SIZE ? g->want.n - i : BATCH_SIZE;
		ids = ms_xreallocarray(NULL, n, sizeof(*ids));
		memcpy(ids, g->want.v + i, n * sizeof(*ids));
		send_batch(g, ids, n, 1, 0);
	}
	g->want.n = 0; /* the batches own the strings now */
	if (g->batches == 0 && ms_fetch_acct_error(g->s->fa) == 0)
		unit_done(g);
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
		got_push(g, &e, b->ids[idx]);
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
	struct idset retry = {0};

	(void)fa;
	g->batches--;
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
		send_batch(g, retry.v, retry.n, b->attempt + 1,
		    (double)(1 << (b->attempt - 1)));
		memset(&retry, 0, sizeof(retry));
	}
	idset_clear(&retry);
	free(retry.v);
	batch_free(b);
	if (g->batches == 0 && ms_fetch_acct_error(g->s->fa) == 0)
		unit_done(g);
}

/*
 * Full sync
 */

static void
list_cb(struct ms_fetch_acct *fa, const struct ms_http_resp *r, void *arg)
{
	struct gmail *g = arg;
	struct idset ids = {0};
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
	free(g->next_page);
	g->next_page = next ? ms_xstrdup(next) : NULL;
	for (i = 0; i < ids.n; i++) {
		if ((known = ms_sync_known(g->s, ids.v[i])) == -1) {
			ms_sync_fail(g->s);
			goto out;
		}
		if (!known)
			idset_add(&g->want, ids.v[i]);
	}
	fetch_want(g);
out:
	idset_clear(&ids);
	free(ids.v);
	json_object_put(o);
}

static void
list_page(struct gmail *g)
{
	char *q = since_q(g, "&q="), *url;

	url = ms_xasprintf("%s/gmail/v1/users/me/messages?maxResults=%d%s%s%s",
	    api(g), PAGE_SIZE, q, g->page_token ? "&pageToken=" : "",
	    g->page_token ? g->page_token : "");
	get(g, url, COST_LIST, list_cb, NULL);
	free(url);
	free(q);
}

static void att_cb(struct ms_fetch_acct *, const struct ms_http_resp *, void *);

static void
att_page(struct gmail *g, const char *token)
{
	char *q = since_q(g, "%20"), *url;

	url = ms_xasprintf("%s/gmail/v1/users/me/messages?maxResults=%d"
			   "&q=has%%3Aattachment%s%s%s",
	    api(g), PAGE_SIZE, q, token ? "&pageToken=" : "",
	    token ? token : "");
	get(g, url, COST_LIST, att_cb, NULL);
	free(url);
	free(q);
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
		att_page(g, next);
	else {
		idset_sort(&g->att);
		list_page(g);
	}
	json_object_put(o);
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
		att_page(g, NULL);
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
			idset_add(&g->want, id);
		}
	}
}

/* Keep only the wanted ids this account does not have yet. */
static int
drop_known(struct gmail *g)
{
	size_t i, k = 0;
	int known;

	idset_sort(&g->want);
	for (i = 0; i < g->want.n; i++) {
		if ((known = ms_sync_known(g->s, g->want.v[i])) == -1)
			return -1;
		if (known)
			free(g->want.v[i]);
		else
			g->want.v[k++] = g->want.v[i];
	}
	g->want.n = k;
	return 0;
}

static void
restart_full(struct gmail *g)
{
	ms_log_info(
	    "%s: the history is too old (404): full sync again", g->s->address);
	idset_clear(&g->want);
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
	else {
		/* All of it waits; units of a page go one at a time. */
		idset_free(&g->pending);
		g->pending = g->want;
		memset(&g->want, 0, sizeof(g->want));
		next_unit(g);
	}
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

int
ms_gmail_start(struct ms_sync *s)
{
	struct gmail *g = ms_xcalloc(1, sizeof(*g));
	struct ms_cursor c;

	g->s = s;
	s->drv = g;
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
		g->page_token = c.page_token;
		c.full_history_id = c.page_token = NULL;
		att_page(g, NULL);
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
	got_clear(g);
	free(g->got);
	free(g->got_ids);
	idset_clear(&g->att);
	free(g->att.v);
	idset_clear(&g->want);
	free(g->want.v);
	idset_free(&g->pending);
	free(g->start_history);
	free(g->page_token);
	free(g->next_page);
	free(g->new_history);
	free(g->old_history);
	free(g);
	s->drv = NULL;
}
