/*
 * graph: the Microsoft Graph driver of mailsync-pull.
 *
 * Per-folder delta for the inbox and sent items, with
 * Prefer: odata.maxpagesize and IdType="ImmutableId" on every call and
 * $select (never the body) on the first. Each page is stored with the
 * nextLink that follows it in one transaction; the deltaLink is stored
 * when the round ends. 410 Gone, or the error codes syncStateNotFound /
 * resyncRequired, drop the folder's links and resync it; the emails
 * already stored are found by their ids, so nothing doubles. @removed
 * entries delete nothing: a profile keeps what it showed.
 */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "date.h"
#include "log.h"
#include "msg.h"
#include "sync.h"
#include "util.h"

#define PAGE_SIZE 200
#define SELECT                                                                 \
	"subject,from,toRecipients,ccRecipients,receivedDateTime,"             \
	"sentDateTime,bodyPreview,hasAttachments,internetMessageId,"           \
	"conversationId,isDraft,parentFolderId,internetMessageHeaders"

static const char *const folders[] = {"inbox", "sentitems"};
#define NFOLDERS (sizeof(folders) / sizeof(*folders))

struct folder {
	struct graph *gr;
	const char *name;
	char *delta_link; /* as stored: kept until a new one */
	int resynced;
};

struct graph {
	struct ms_sync *s;
	struct folder f[NFOLDERS];
	int left; /* folders not finished */
};

static const char *const prefer[] = {
    "Prefer: odata.maxpagesize=200, IdType=\"ImmutableId\"",
    NULL,
};

static void folder_get(struct folder *, const char *url);

static void
fail(struct folder *f)
{
	ms_sync_fail(f->gr->s);
}

static void
add_recipients(struct json_object *o, const char *key, struct ms_addrlist *l)
{
	struct json_object *arr, *r, *ea;
	const char *name, *addr;
	size_t i;

	if (!json_object_object_get_ex(o, key, &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return;
	for (i = 0; i < json_object_array_length(arr); i++) {
		r = json_object_array_get_idx(arr, i);
		if (!json_object_object_get_ex(r, "emailAddress", &ea) ||
		    (addr = ms_json_str(ea, "address")) == NULL)
			continue;
		name = ms_json_str(ea, "name");
		/* Exchange-internal or malformed addresses are skipped. */
		ms_addrlist_add(l, name ? name : "", addr);
	}
}

static void
from_of(struct json_object *o, struct ms_addrlist *l)
{
	struct json_object *from, *ea;
	const char *name, *addr;

	if (json_object_object_get_ex(o, "from", &from) && from != NULL &&
	    json_object_object_get_ex(from, "emailAddress", &ea) &&
	    (addr = ms_json_str(ea, "address")) != NULL) {
		name = ms_json_str(ea, "name");
		ms_addrlist_add(l, name ? name : "", addr);
	}
}

static int
is_true(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) &&
	    json_object_get_boolean(v);
}

/* Whether internetMessageHeaders mark the message bulk or automated. */
static int
bulk_headers(struct json_object *o)
{
	struct json_object *arr, *h;
	const char *name, *value;
	size_t i;

	if (!json_object_object_get_ex(o, "internetMessageHeaders", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return 0;
	for (i = 0; i < json_object_array_length(arr); i++) {
		h = json_object_array_get_idx(arr, i);
		if ((name = ms_json_str(h, "name")) != NULL &&
		    (value = ms_json_str(h, "value")) != NULL &&
		    ms_email_bulk_header(name, value))
			return 1;
	}
	return 0;
}

/* 0 with e filled, 1 to skip (removed, draft, outside the window). */
static int
to_email(struct ms_sync *s, int first, struct json_object *o,
    struct ms_email *e, const char **id)
{
	const char *v;

	memset(e, 0, sizeof(*e));
	if (json_object_object_get_ex(o, "@removed", NULL) ||
	    is_true(o, "isDraft") || (*id = ms_json_str(o, "id")) == NULL)
		return 1;
	from_of(o, &e->from);
	add_recipients(o, "toRecipients", &e->to);
	add_recipients(o, "ccRecipients", &e->cc);
	v = ms_json_str(o, "subject");
	e->subject = ms_utf8_sanitize(v ? v : "", v ? strlen(v) : 0);
	v = ms_json_str(o, "bodyPreview");
	e->snippet = ms_utf8_sanitize(v ? v : "", v ? strlen(v) : 0);
	if ((v = ms_json_str(o, "internetMessageId")) != NULL)
		e->message_id = ms_msgid_normalize(v);
	if ((v = ms_json_str(o, "conversationId")) != NULL)
		e->thread_id = ms_xstrdup(v);
	if ((v = ms_json_str(o, "receivedDateTime")) == NULL ||
	    ms_date_parse_iso(v, &e->date) == -1)
		if ((v = ms_json_str(o, "sentDateTime")) != NULL)
			ms_date_parse_iso(v, &e->date);
	e->has_attachments = is_true(o, "hasAttachments");
	e->bulk = bulk_headers(o);
	if (first && s->since > 0 && e->date < s->since) {
		ms_email_finish(e);
		return 1;
	}
	return 0;
}

/* Store one page's messages with the folder's next cursor. */
static int
store_page(struct folder *f, struct json_object *arr, const char *next,
    const char *delta)
{
	struct ms_sync *s = f->gr->s;
	struct ms_cursor c = {0};
	struct ms_email e;
	const char *id;
	size_t i;
	int rc = 0;

	if (ms_sync_begin(s) == -1)
		return -1;
	for (i = 0; rc == 0 && arr && i < json_object_array_length(arr); i++) {
		s->fetched++;
		if (to_email(s, f->delta_link == NULL,
			json_object_array_get_idx(arr, i), &e, &id))
			continue;
		rc = ms_sync_store(s, &e, id);
		ms_email_finish(&e);
	}
	c.next_link = (char *)next;
	c.delta_link = (char *)(delta ? delta : f->delta_link);
	if (rc == -1 || ms_sync_cursor_set(s, f->name, &c) == -1) {
		fail(f);
		return -1;
	}
	return ms_sync_commit(s);
}

/* Whether an error reply means the delta state is gone. */
static int
state_lost(const struct ms_http_resp *r)
{
	if (r->status == 410)
		return 1;
	return r->status >= 400 && r->len > 0 &&
	    (strcasestr(r->body, "syncStateNotFound") != NULL ||
		strcasestr(r->body, "resyncRequired") != NULL);
}

static char *
first_url(struct folder *f)
{
	return ms_xasprintf("%s/v1.0/me/mailFolders/%s/messages/delta"
			    "?$select=" SELECT,
	    f->gr->s->p->api_url, f->name);
}

static void
resync(struct folder *f)
{
	struct ms_cursor c = {0};
	char *url;

	ms_log_info("%s: the %s delta state expired: resyncing the folder",
	    f->gr->s->address, f->name);
	f->resynced++;
	free(f->delta_link);
	f->delta_link = NULL;
	if (ms_sync_begin(f->gr->s) == -1)
		return;
	if (ms_sync_cursor_set(f->gr->s, f->name, &c) == -1) {
		fail(f);
		return;
	}
	if (ms_sync_commit(f->gr->s) == -1)
		return;
	url = first_url(f);
	folder_get(f, url);
	free(url);
}

static void
fail_reply(struct folder *f, const struct ms_http_resp *r)
{
	struct json_object *o = json_tokener_parse(r->body), *e;
	const char *code = NULL, *msg = NULL;

	if (o != NULL && json_object_object_get_ex(o, "error", &e)) {
		code = ms_json_str(e, "code");
		msg = ms_json_str(e, "message");
	}
	ms_errc(EX_UNAVAILABLE, "Graph %s delta: HTTP %ld%s%s%s%s", f->name,
	    r->status, code ? " " : "", code ? code : "", msg ? ": " : "",
	    msg ? msg : "");
	json_object_put(o);
	fail(f);
}

static void
delta_cb(struct ms_fetch_acct *fa, const struct ms_http_resp *r, void *arg)
{
	struct folder *f = arg;
	struct json_object *o, *arr = NULL;
	const char *next, *delta;

	(void)fa;
	if (r == NULL)
		return;
	if (state_lost(r) && f->resynced == 0) {
		resync(f);
		return;
	}
	if (r->status != 200) {
		fail_reply(f, r);
		return;
	}
	if ((o = ms_http_json(r, "Graph delta")) == NULL) {
		ms_errc(EX_TEMPFAIL, "%s: %s", f->name, ms_errstr());
		fail(f);
		return;
	}
	json_object_object_get_ex(o, "value", &arr);
	next = ms_json_str(o, "@odata.nextLink");
	delta = ms_json_str(o, "@odata.deltaLink");
	if ((arr != NULL && !json_object_is_type(arr, json_type_array)) ||
	    (next == NULL && delta == NULL)) {
		ms_errc(EX_TEMPFAIL,
		    "Graph %s delta: a page with neither "
		    "value nor next or delta link",
		    f->name);
		fail(f);
	} else if (store_page(f, arr, next, delta) == 0) {
		if (next != NULL &&
		    !ms_fetch_stopping(ms_fetch_acct_engine(f->gr->s->fa)))
			folder_get(f, next);
		else if (next == NULL && --f->gr->left == 0)
			f->gr->s->done = 1;
	}
	json_object_put(o);
}

static void
folder_get(struct folder *f, const char *url)
{
	struct ms_fetch_spec spec = {.url = url,
	    .headers = prefer,
	    .units = 1,
	    .cb = delta_cb,
	    .arg = f};

	ms_fetch_add(f->gr->s->fa, &spec);
}

static int
folder_start(struct folder *f)
{
	struct ms_cursor c;
	char *url = NULL;

	if (ms_sync_cursor_get(f->gr->s, f->name, &c) == -1)
		return -1;
	if (f->gr->s->full)
		ms_cursor_finish(&c);
	if (c.next_link != NULL) /* resume an unfinished round */
		url = ms_xstrdup(c.next_link);
	else if (c.delta_link != NULL)
		url = ms_xstrdup(c.delta_link);
	else
		url = first_url(f);
	f->delta_link = c.delta_link;
	c.delta_link = NULL;
	ms_cursor_finish(&c);
	folder_get(f, url);
	free(url);
	return 0;
}

int
ms_graph_start(struct ms_sync *s)
{
	struct graph *gr = ms_xcalloc(1, sizeof(*gr));
	size_t i;

	gr->s = s;
	s->drv = gr;
	gr->left = NFOLDERS;
	for (i = 0; i < NFOLDERS; i++) {
		gr->f[i].gr = gr;
		gr->f[i].name = folders[i];
		if (folder_start(&gr->f[i]) == -1)
			return -1;
	}
	return 0;
}

void
ms_graph_finish(struct ms_sync *s)
{
	struct graph *gr = s->drv;
	size_t i;

	if (gr == NULL)
		return;
	for (i = 0; i < NFOLDERS; i++)
		free(gr->f[i].delta_link);
	free(gr);
	s->drv = NULL;
}
