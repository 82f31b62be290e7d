/*
 * imap: the driver of generic IMAP accounts (RFC 3501, RFC 9051), over
 * common/net/imap.c's session on one connection of the fetch engine.
 *
 * A run: LIST (with RFC 5819's STATUS returned when the server has
 * LIST-STATUS, else a STATUS per folder, pipelined) finds the folders to
 * sync: every selectable one except those marked \Trash, \Junk, \Drafts
 * or \All (RFC 6154; by their names on a server without SPECIAL-USE)
 * and those the imap.exclude setting names. A folder whose UIDNEXT and
 * UIDVALIDITY say nothing came since the cursor costs nothing more: an
 * idle run is one LIST. Otherwise EXAMINE it, UID SEARCH what is new,
 * and fetch it in chunks of CHUNK messages, INFLIGHT chunks pipelined:
 * first UID, INTERNALDATE, BODYSTRUCTURE and the headers Gmail is asked
 * for, then the first text part's first SNIPPET_BYTES bytes (never more:
 * the parser refuses a larger literal), made a snippet. Each chunk is
 * stored with the folder's cursor in one transaction.
 *
 * The cursor of a folder is {"uidvalidity","uid"}: every message up to
 * uid of that UIDVALIDITY is stored. A new UIDVALIDITY syncs the folder
 * again from its first message. CONDSTORE and QRESYNC (RFC 7162) are
 * not used: what mailsync keeps of a message never changes once it
 * arrived (flags and deletions are not synced), so UIDNEXT alone says
 * whether anything new came.
 *
 * The provider id of a message is its Message-ID (or the synthetic one
 * ms_email_synthetic_id makes): it survives a UIDVALIDITY change, a
 * move or a copy between folders, so a resync or a moved message links
 * nothing twice, and no stale folder/UID pair is kept.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "config.h"
#include "cred.h"
#include "date.h"
#include "driver.h"
#include "imap.h"
#include "json.h"
#include "log.h"
#include "msg.h"
#include "sync.h"
#include "util.h"

#define CHUNK 250
#define INFLIGHT 4
#define SNIPPET_BYTES 2048
#define SNIPPET_MAX 200
#define MAX_HEADERS (256u << 10)
#define MAX_FOLDERS 10000
#define MAX_UIDS (10u << 20)
#define RECONNECTS 2
#define HEADERS                                                                \
	"FROM TO CC SUBJECT DATE MESSAGE-ID LIST-UNSUBSCRIBE PRECEDENCE "      \
	"AUTO-SUBMITTED"

struct folder {
	char *name;
	char delim;
	int listed, noselect, excluded;
	int has_status;
	uint32_t uidvalidity, uidnext;
	int has_cursor;
	uint32_t c_validity, c_uid;
};

struct msg {
	uint32_t uid;
	int ok; /* its headers read */
	struct ms_email e;
	struct ms_imap_body body;
};

struct chunk {
	struct chunk *next;
	struct imap *g;
	uint32_t *uids; /* ascending */
	struct msg *m;
	size_t n;
	int pending; /* commands outstanding */
	int texts; /* its second round is asked */
	int complete;
};

struct imap {
	struct ms_sync *s;
	struct ms_imap_server srv;
	struct ms_imap *sess;
	struct folder *f;
	size_t nf, cf;
	size_t cur; /* the folder being synced */
	uint32_t examined; /* its UIDVALIDITY as EXAMINE said */
	uint32_t *todo;
	size_t ntodo, ctodo, next;
	struct chunk *head, *tail;
	int nchunks;
	int reconnects;
	int statuses; /* STATUS commands outstanding */
	char *exclude; /* the setting */
	int first; /* the folder's first sync: the --since window applies */
};

static void next_folder(struct imap *);
static void fill(struct imap *);
static void session_open(struct imap *, double delay);

static int
stopping(struct imap *g)
{
	return ms_fetch_stopping(ms_fetch_acct_engine(g->s->fa));
}

static void
fail(struct imap *g, int code, const char *fmt, ...) MS_ATTR_PRINTF(3, 4);

static void
fail(struct imap *g, int code, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ms_errc(code, "%s", msg);
	ms_sync_fail(g->s);
}

/*
 * Cursors
 */

static const char *const cursor_keys[] = {"uidvalidity", "uid"};

static void
cursor_get(struct imap *g, struct folder *f)
{
	char *text = NULL, *v[2] = {NULL, NULL};
	unsigned long long a, b;

	f->has_cursor = 0;
	if (ms_sync_cursor_get(g->s, f->name, &text) == -1 || text == NULL)
		return;
	/* One that does not read is no cursor: the folder starts over. */
	ms_json_unpack(text, cursor_keys, v, 2);
	if (v[0] != NULL && v[1] != NULL && sscanf(v[0], "%llu", &a) == 1 &&
	    sscanf(v[1], "%llu", &b) == 1 && a <= UINT32_MAX &&
	    b <= UINT32_MAX) {
		f->has_cursor = 1;
		f->c_validity = (uint32_t)a;
		f->c_uid = (uint32_t)b;
	}
	free(v[0]);
	free(v[1]);
	free(text);
}

/* Inside the caller's transaction. */
static int
cursor_set(struct imap *g, struct folder *f, uint32_t uid)
{
	char a[16], b[16], *v[2] = {a, b}, *text;
	int rc;

	snprintf(a, sizeof(a), "%u", f->uidvalidity);
	snprintf(b, sizeof(b), "%u", uid);
	text = ms_json_pack(cursor_keys, v, 2);
	rc = ms_sync_cursor_set(g->s, f->name, text);
	free(text);
	if (rc == 0) {
		f->has_cursor = 1;
		f->c_validity = f->uidvalidity;
		f->c_uid = uid;
	}
	return rc;
}

/*
 * Folders
 */

static void
folders_free(struct imap *g)
{
	size_t i;

	for (i = 0; i < g->nf; i++)
		free(g->f[i].name);
	free(g->f);
	g->f = NULL;
	g->nf = g->cf = 0;
}

static struct folder *
folder_find(struct imap *g, const char *name, int add)
{
	size_t i;

	for (i = 0; i < g->nf; i++)
		if (strcmp(g->f[i].name, name) == 0)
			return &g->f[i];
	if (!add || g->nf == MAX_FOLDERS)
		return NULL;
	if (g->nf == g->cf) {
		g->cf = g->cf ? g->cf * 2 : 32;
		g->f = ms_xreallocarray(g->f, g->cf, sizeof(*g->f));
	}
	memset(&g->f[g->nf], 0, sizeof(g->f[g->nf]));
	g->f[g->nf].name = ms_xstrdup(name);
	return &g->f[g->nf++];
}

/* A mailbox name the commands can carry, or NULL. */
static const char *
name_of(const struct ms_imap_val *v)
{
	size_t len;
	const char *s = ms_imap_str(v, &len);
	struct ms_buf b = {0};
	int ok;

	if (s == NULL || len == 0 || strlen(s) != len)
		return NULL;
	ok = ms_imap_quote(&b, s, len) == 0;
	ms_buf_finish(&b);
	return ok ? s : NULL;
}

static int
has_flag(const struct ms_imap_resp *r, const char *flag)
{
	size_t i;

	for (i = 0; i < r->v[0].n; i++)
		if (ms_imap_is(ms_imap_item(r, 0, i), flag))
			return 1;
	return 0;
}

/* Folders a server without SPECIAL-USE names so (the last level). */
static int
junk_name(const struct folder *f)
{
	static const char *const names[] = {"Trash", "Deleted Items",
	    "Deleted Messages", "Junk", "Junk E-mail", "Junk Email", "Spam",
	    "Bulk Mail", "Drafts", "All Mail"};
	const char *last = f->delim ? strrchr(f->name, f->delim) : NULL;
	size_t i;

	last = last ? last + 1 : f->name;
	for (i = 0; i < sizeof(names) / sizeof(*names); i++)
		if (ms_ascii_casecmp(last, names[i]) == 0)
			return 1;
	return 0;
}

/* Whether the setting imap.exclude (folder names or paths separated by
 * ";", as outlook.exclude; a folder's subfolders go with it) names f. */
static int
excluded(const struct imap *g, const struct folder *f)
{
	const char *p = g->exclude, *end;
	size_t n, fl = strlen(f->name);

	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == ';')
			p++;
		end = strchr(p, ';');
		n = end ? (size_t)(end - p) : strlen(p);
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (n > 0 && n <= fl && strncmp(f->name, p, n) == 0 &&
		    (n == fl || (f->delim && f->name[n] == f->delim)))
			return 1;
		if (n == 5 && fl == 5 &&
		    ms_ascii_ncasecmp(p, "INBOX", 5) == 0 &&
		    ms_ascii_casecmp(f->name, "INBOX") == 0)
			return 1;
		p = end;
	}
	return 0;
}

static void
status_of(struct imap *g, const struct ms_imap_resp *r)
{
	const char *name = r->nv > 0 ? name_of(&r->v[0]) : NULL;
	struct folder *f;
	size_t l, i;
	uint64_t n;

	if (name == NULL || (f = folder_find(g, name, 1)) == NULL)
		return;
	l = r->v[0].next;
	if (l >= r->nv || r->v[l].kind != MS_IMAP_LIST)
		return;
	for (i = 0; i + 1 < r->v[l].n; i += 2) {
		if (ms_imap_num(ms_imap_item(r, l, i + 1), &n) == -1 ||
		    n > UINT32_MAX)
			continue;
		if (ms_imap_is(ms_imap_item(r, l, i), "UIDNEXT"))
			f->uidnext = (uint32_t)n;
		else if (ms_imap_is(ms_imap_item(r, l, i), "UIDVALIDITY"))
			f->uidvalidity = (uint32_t)n;
	}
	f->has_status = f->uidvalidity != 0 && f->uidnext != 0;
}

static void
plan(struct imap *g)
{
	size_t i;

	for (i = 0; i < g->nf; i++)
		cursor_get(g, &g->f[i]);
	g->cur = 0;
	next_folder(g);
}

static void
status_cb(struct ms_imap *sess, const struct ms_imap_resp *r, void *arg)
{
	struct imap *g = arg;

	(void)sess;
	if (r->type == MS_IMAP_UNTAGGED && strcmp(r->word, "STATUS") == 0) {
		status_of(g, r);
		return;
	}
	if (r->type != MS_IMAP_TAGGED)
		return;
	/* A NO: the folder went away meanwhile; it is left out. */
	if (--g->statuses == 0)
		plan(g);
}

static void
after_list(struct imap *g)
{
	struct ms_buf b = {0};
	size_t i, k;
	struct folder *f;

	for (i = k = 0; i < g->nf; i++) {
		if (!g->f[i].listed) {
			free(g->f[i].name);
			continue;
		}
		g->f[k++] = g->f[i];
	}
	g->nf = k;
	for (i = 0; i < g->nf; i++) {
		f = &g->f[i];
		if (!f->excluded && !ms_imap_has(g->sess, "SPECIAL-USE") &&
		    junk_name(f))
			f->excluded = 1;
		if (!f->excluded && excluded(g, f))
			f->excluded = 1;
		if (f->noselect || f->excluded || f->has_status)
			continue;
		b.len = 0;
		ms_buf_adds(&b, "STATUS ");
		ms_imap_quote(&b, f->name, strlen(f->name));
		ms_buf_adds(&b, " (UIDNEXT UIDVALIDITY)");
		g->statuses++;
		ms_imap_cmd_buf(g->sess, status_cb, g, b.s, b.len);
	}
	ms_buf_finish(&b);
	if (g->statuses == 0)
		plan(g);
}

static void
list_cb(struct ms_imap *sess, const struct ms_imap_resp *r, void *arg)
{
	struct imap *g = arg;
	const struct ms_imap_val *d;
	const char *name;
	struct folder *f;
	size_t di, ni;

	(void)sess;
	if (r->type == MS_IMAP_UNTAGGED && strcmp(r->word, "STATUS") == 0) {
		status_of(g, r);
		return;
	}
	if (r->type == MS_IMAP_UNTAGGED && strcmp(r->word, "LIST") == 0) {
		if (r->nv < 3 || r->v[0].kind != MS_IMAP_LIST)
			return;
		di = r->v[0].next;
		ni = di < r->nv ? r->v[di].next : r->nv;
		if (ni >= r->nv || (name = name_of(&r->v[ni])) == NULL) {
			ms_log_debug("%s: a folder whose name cannot be used "
				     "is left out",
			    g->s->address);
			return;
		}
		if ((f = folder_find(g, name, 1)) == NULL)
			return;
		d = &r->v[di];
		f->listed = 1;
		f->delim =
		    d->kind == MS_IMAP_STRING && d->len == 1 ? d->s[0] : 0;
		f->noselect =
		    has_flag(r, "\\Noselect") || has_flag(r, "\\NonExistent");
		f->excluded = has_flag(r, "\\Trash") || has_flag(r, "\\Junk") ||
		    has_flag(r, "\\Drafts") || has_flag(r, "\\All");
		return;
	}
	if (r->type != MS_IMAP_TAGGED)
		return;
	if (strcmp(r->word, "OK") != 0) {
		fail(g, EX_UNAVAILABLE, "LIST: %s %s", r->word, r->text);
		return;
	}
	after_list(g);
}

static void
list(struct imap *g)
{
	int ext = ms_imap_has(g->sess, "LIST-EXTENDED");

	if (ext && ms_imap_has(g->sess, "LIST-STATUS"))
		ms_imap_cmd(g->sess, list_cb, g,
		    "LIST \"\" \"*\" RETURN (%sSTATUS (UIDNEXT UIDVALIDITY))",
		    ms_imap_has(g->sess, "SPECIAL-USE") ? "SPECIAL-USE " : "");
	else if (ext && ms_imap_has(g->sess, "SPECIAL-USE"))
		ms_imap_cmd(g->sess, list_cb, g,
		    "LIST \"\" \"*\" RETURN (SPECIAL-USE)");
	else
		ms_imap_cmd(g->sess, list_cb, g, "LIST \"\" \"*\"");
}

/*
 * Messages
 */

/* "17-Jul-1996 02:44:25 -0700" */
static void
internal_date(const struct ms_imap_val *v, time_t *t)
{
	char buf[64], *p;

	if (v == NULL || v->kind != MS_IMAP_STRING || v->len >= sizeof(buf))
		return;
	memcpy(buf, v->s, v->len + 1);
	if ((p = strchr(buf, '-')) != NULL) {
		*p = ' ';
		if ((p = strchr(p, '-')) != NULL)
			*p = ' ';
	}
	ms_date_parse_rfc5322(buf, t);
}

static struct msg *
msg_of(struct chunk *c, const struct ms_imap_resp *r)
{
	uint64_t uid;
	size_t lo = 0, hi = c->n, mid;

	if (ms_imap_num(ms_imap_fetch_item(r, "UID", NULL), &uid) == -1)
		return NULL;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (c->uids[mid] == uid)
			return &c->m[mid];
		if (c->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* One FETCH of the first round: headers and structure. */
static void
read_msg(struct chunk *c, const struct ms_imap_resp *r)
{
	struct msg *m = msg_of(c, r);
	const struct ms_imap_val *h;
	struct ms_msg mm;
	size_t idx, off, i, len;
	const char *s;
	char id[16];

	if (m == NULL || m->ok ||
	    (h = ms_imap_fetch_item(r, "BODY[HEADER*", NULL)) == NULL)
		return; /* not ours, or a flag update */
	snprintf(id, sizeof(id), "%u", m->uid);
	memset(&mm, 0, sizeof(mm));
	s = ms_imap_str(h, &len);
	if (ms_msg_parse_headers(s ? s : "", s ? len : 0, &mm, &off) == -1) {
		ms_sync_skip(c->g->s, id, ms_errstr());
		ms_msg_finish(&mm);
		return;
	}
	memset(&m->e, 0, sizeof(m->e));
	for (i = 0; i < mm.nhdrs; i++)
		ms_email_apply_header(&m->e, mm.hdrs[i].name, mm.hdrs[i].value);
	ms_msg_finish(&mm);
	if (m->e.date == 0)
		internal_date(
		    ms_imap_fetch_item(r, "INTERNALDATE", NULL), &m->e.date);
	if (ms_imap_fetch_item(r, "BODYSTRUCTURE", &idx) == NULL ||
	    ms_imap_bodystructure(r, idx, &m->body) == -1) {
		/* The message is kept: no snippet, no attachment flag. */
		ms_log_debug("%s: message %s: %s", c->g->s->address, id,
		    ms_imap_fetch_item(r, "BODYSTRUCTURE", NULL)
			? ms_errstr()
			: "no BODYSTRUCTURE");
		memset(&m->body, 0, sizeof(m->body));
	}
	m->e.has_attachments = m->body.has_attachments;
	if (m->e.subject == NULL)
		m->e.subject = ms_xstrdup("");
	m->ok = 1;
}

/* One FETCH of the second round: the text part's start. */
static void
read_text(struct chunk *c, const struct ms_imap_resp *r)
{
	struct msg *m = msg_of(c, r);
	const struct ms_imap_val *v;
	const char *s;
	char *text;
	size_t len;

	if (m == NULL || !m->ok || m->e.snippet != NULL ||
	    (v = ms_imap_fetch_item(r, "BODY[*", NULL)) == NULL ||
	    (s = ms_imap_str(v, &len)) == NULL)
		return;
	text = ms_msg_part_text(
	    m->body.encoding, m->body.charset, m->body.html, s, len);
	m->e.snippet = ms_msg_snippet(text, SNIPPET_MAX);
	free(text);
}

static void
chunk_free(struct chunk *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		ms_email_finish(&c->m[i].e);
	free(c->m);
	free(c->uids);
	free(c);
}

static void
chunks_free(struct imap *g)
{
	struct chunk *c;

	while ((c = g->head) != NULL) {
		g->head = c->next;
		chunk_free(c);
	}
	g->tail = NULL;
	g->nchunks = 0;
}

/* Store the head chunk with the folder's cursor, in one transaction. */
static int
store_head(struct imap *g)
{
	struct chunk *c = g->head;
	struct folder *f = &g->f[g->cur];
	struct ms_sync *s = g->s;
	struct msg *m;
	size_t i;

	if (ms_sync_begin(s) == -1)
		return -1;
	for (i = 0; i < c->n; i++) {
		m = &c->m[i];
		s->fetched++;
		if (!m->ok)
			continue;
		if (g->first && s->since > 0 && m->e.date != 0 &&
		    m->e.date < s->since)
			continue;
		if (m->e.snippet == NULL)
			m->e.snippet = ms_xstrdup("");
		if (m->e.message_id == NULL)
			m->e.message_id = ms_email_synthetic_id(&m->e);
		if (ms_sync_store(s, &m->e, m->e.message_id) == -1) {
			ms_sync_fail(s);
			return -1;
		}
	}
	if (cursor_set(g, f, c->uids[c->n - 1]) == -1) {
		ms_sync_fail(s);
		return -1;
	}
	return ms_sync_commit(s);
}

static void
chunk_done(struct chunk *c)
{
	struct imap *g = c->g;

	c->complete = 1;
	while (g->head != NULL && g->head->complete) {
		if (store_head(g) == -1)
			return;
		c = g->head;
		g->head = c->next;
		if (g->head == NULL)
			g->tail = NULL;
		g->nchunks--;
		chunk_free(c);
	}
	fill(g);
}

static void
text_cb(struct ms_imap *sess, const struct ms_imap_resp *r, void *arg)
{
	struct chunk *c = arg;

	(void)sess;
	if (r->type == MS_IMAP_UNTAGGED && strcmp(r->word, "FETCH") == 0)
		read_text(c, r);
	else if (r->type == MS_IMAP_TAGGED && --c->pending == 0)
		chunk_done(c);
}

/* "1:5,7,9" of the chunk's messages that asked for section sec. */
static void
uid_set(struct ms_buf *b, struct chunk *c, const char *sec)
{
	size_t i, j;
	int first = 1;

	for (i = 0; i < c->n; i = j) {
		j = i + 1;
		if (!c->m[i].ok || c->m[i].body.section[0] == '\0' ||
		    c->m[i].body.size == 0 ||
		    strcmp(c->m[i].body.section, sec) != 0)
			continue;
		while (j < c->n && c->m[j].ok &&
		    strcmp(c->m[j].body.section, sec) == 0 &&
		    c->m[j].body.size > 0 && c->uids[j] == c->uids[j - 1] + 1)
			j++;
		ms_buf_printf(b, "%s%u", first ? "" : ",", c->uids[i]);
		if (j - i > 1)
			ms_buf_printf(b, ":%u", c->uids[j - 1]);
		first = 0;
	}
}

/* The second round: one UID FETCH per text section in the chunk;
 * whether the chunk is complete already (nothing to ask). */
static int
fetch_texts(struct chunk *c)
{
	struct imap *g = c->g;
	struct ms_buf b = {0};
	size_t i, k;
	int seen;

	c->pending = 1; /* held until every command is sent */
	for (i = 0; i < c->n; i++) {
		const char *sec = c->m[i].body.section;

		if (!c->m[i].ok || *sec == '\0' || c->m[i].body.size == 0)
			continue;
		for (seen = 0, k = 0; k < i && !seen; k++)
			seen = c->m[k].ok &&
			    strcmp(c->m[k].body.section, sec) == 0 &&
			    c->m[k].body.size > 0;
		if (seen)
			continue;
		b.len = 0;
		ms_buf_adds(&b, "UID FETCH ");
		uid_set(&b, c, sec);
		ms_buf_printf(&b, " (BODY.PEEK[%s]<0.%d>)", sec, SNIPPET_BYTES);
		c->pending++;
		ms_imap_cmd_buf(g->sess, text_cb, c, b.s, b.len);
	}
	ms_buf_finish(&b);
	c->texts = 1;
	return --c->pending == 0;
}

static void
fetch_cb(struct ms_imap *sess, const struct ms_imap_resp *r, void *arg)
{
	struct chunk *c = arg;

	(void)sess;
	if (r->type == MS_IMAP_UNTAGGED && strcmp(r->word, "FETCH") == 0) {
		read_msg(c, r);
		return;
	}
	if (r->type != MS_IMAP_TAGGED)
		return;
	if (strcmp(r->word, "BAD") == 0) {
		fail(c->g, EX_UNAVAILABLE, "%s: UID FETCH: BAD %s",
		    c->g->f[c->g->cur].name, r->text);
		return;
	}
	/* A NO: some messages were expunged meanwhile; the rest is kept. */
	if (fetch_texts(c))
		chunk_done(c);
	else
		fill(c->g);
}

/*
 * Start a chunk while fewer than INFLIGHT are on their way and none is
 * in its first round: the server answers in order, so a chunk's second
 * round goes right after its first and it is stored soon, while the
 * next chunk's first round keeps the connection busy.
 */
static void
fill(struct imap *g)
{
	struct folder *f = &g->f[g->cur];
	struct ms_buf b = {0};
	struct chunk *c;
	size_t i, n;

	while (g->nchunks < INFLIGHT && (g->tail == NULL || g->tail->texts) &&
	    g->next < g->ntodo && !stopping(g) &&
	    ms_fetch_acct_error(g->s->fa) == 0) {
		n = g->ntodo - g->next < CHUNK ? g->ntodo - g->next : CHUNK;
		c = ms_xcalloc(1, sizeof(*c));
		c->g = g;
		c->n = n;
		c->uids = ms_xreallocarray(NULL, n, sizeof(*c->uids));
		c->m = ms_xcalloc(n, sizeof(*c->m));
		for (i = 0; i < n; i++)
			c->m[i].uid = c->uids[i] = g->todo[g->next + i];
		g->next += n;
		if (g->tail != NULL)
			g->tail->next = c;
		else
			g->head = c;
		g->tail = c;
		g->nchunks++;
		b.len = 0;
		ms_buf_printf(&b,
		    "UID FETCH %u:%u (UID INTERNALDATE "
		    "BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS "
		    "(" HEADERS ")])",
		    c->uids[0], c->uids[n - 1]);
		ms_imap_cmd_buf(g->sess, fetch_cb, c, b.s, b.len);
	}
	ms_buf_finish(&b);
	if (g->nchunks > 0 || ms_fetch_acct_error(g->s->fa) != 0)
		return;
	if (g->next < g->ntodo) { /* stopping: the rest on the next run */
		ms_imap_close(g->sess);
		g->sess = NULL;
		return;
	}
	/* The folder is done: up to UIDNEXT - 1, messages expunged
	 * meanwhile included, so that the next run finds nothing. */
	if (f->uidnext > 1 &&
	    (!f->has_cursor || f->c_uid < f->uidnext - 1 ||
		f->c_validity != f->uidvalidity)) {
		if (ms_sync_begin(g->s) == -1)
			return;
		if (cursor_set(g, f, f->uidnext - 1) == -1) {
			ms_sync_fail(g->s);
			return;
		}
		if (ms_sync_commit(g->s) == -1)
			return;
	}
	g->cur++;
	next_folder(g);
}

static int
cmp_uid(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void
search_cb(struct ms_imap *sess, const struct ms_imap_resp *r, void *arg)
{
	struct imap *g = arg;
	struct folder *f = &g->f[g->cur];
	uint32_t from = f->has_cursor ? f->c_uid + 1 : 1;
	size_t i, k;
	uint64_t n;

	(void)sess;
	if (r->type == MS_IMAP_UNTAGGED && strcmp(r->word, "SEARCH") == 0) {
		for (i = 0; i < r->nv; i++) {
			/* n:* holds the last message even below n. */
			if (ms_imap_num(&r->v[i], &n) == -1 || n < from ||
			    n > UINT32_MAX || g->ntodo == MAX_UIDS)
				continue;
			if (g->ntodo == g->ctodo) {
				g->ctodo = g->ctodo ? g->ctodo * 2 : 1024;
				g->todo = ms_xreallocarray(
				    g->todo, g->ctodo, sizeof(*g->todo));
			}
			g->todo[g->ntodo++] = (uint32_t)n;
		}
		return;
	}
	if (r->type != MS_IMAP_TAGGED)
		return;
	if (strcmp(r->word, "OK") != 0) {
		fail(g, EX_UNAVAILABLE, "%s: UID SEARCH: %s %s", f->name,
		    r->word, r->text);
		return;
	}
	qsort(g->todo, g->ntodo, sizeof(*g->todo), cmp_uid);
	for (i = k = 0; i < g->ntodo; i++)
		if (k == 0 || g->todo[i] != g->todo[k - 1])
			g->todo[k++] = g->todo[i];
	g->ntodo = k;
	g->next = 0;
	fill(g);
}

static void
examine_cb(struct ms_imap *sess, const struct ms_imap_resp *r, void *arg)
{
	struct imap *g = arg;
	struct folder *f = &g->f[g->cur];
	unsigned long long v;

	(void)sess;
	if (r->type == MS_IMAP_UNTAGGED && strcmp(r->word, "OK") == 0 &&
	    r->code != NULL && sscanf(r->code, "UIDVALIDITY %llu", &v) == 1 &&
	    v <= UINT32_MAX)
		g->examined = (uint32_t)v;
	if (r->type != MS_IMAP_TAGGED)
		return;
	if (strcmp(r->word, "OK") != 0) {
		/* Gone since LIST: nothing to do there. */
		ms_log_debug("%s: %s: EXAMINE: %s %s", g->s->address, f->name,
		    r->word, r->text);
		g->cur++;
		next_folder(g);
		return;
	}
	if (g->examined != 0 && g->examined != f->uidvalidity) {
		f->uidvalidity = g->examined;
		if (f->has_cursor && f->c_validity != f->uidvalidity)
			f->has_cursor = 0;
	}
	ms_imap_cmd(g->sess, search_cb, g, "UID SEARCH UID %u:*",
	    f->has_cursor ? f->c_uid + 1 : 1);
}

/* Whether folder f has anything new since its cursor. */
static int
has_news(struct imap *g, struct folder *f)
{
	if (f->noselect || f->excluded || !f->has_status)
		return 0;
	if (g->s->full)
		f->has_cursor = 0;
	if (f->has_cursor && f->c_validity != f->uidvalidity) {
		ms_log_info("%s: the UIDVALIDITY of %s changed: syncing the "
			    "folder again",
		    g->s->address, f->name);
		f->has_cursor = 0;
	}
	/* An empty folder that never held a message: nothing to read. */
	if (!f->has_cursor)
		return f->uidnext > 1;
	return f->uidnext - 1 > f->c_uid;
}

static void
next_folder(struct imap *g)
{
	struct ms_buf b = {0};
	struct folder *f;

	while (g->cur < g->nf && !has_news(g, &g->f[g->cur]))
		g->cur++;
	if (g->cur == g->nf || stopping(g)) {
		g->s->done = g->cur == g->nf;
		ms_imap_close(g->sess);
		g->sess = NULL;
		return;
	}
	f = &g->f[g->cur];
	g->first = !f->has_cursor;
	g->examined = 0;
	g->ntodo = g->next = 0;
	ms_buf_adds(&b, "EXAMINE ");
	ms_imap_quote(&b, f->name, strlen(f->name));
	ms_imap_cmd_buf(g->sess, examine_cb, g, b.s, b.len);
	ms_buf_finish(&b);
}

/*
 * The session
 */

static void
on_ready(struct ms_imap *sess, int err, const char *msg, void *arg)
{
	struct imap *g = arg;

	(void)sess;
	if (err == 0) {
		list(g);
		return;
	}
	g->sess = NULL;
	if (err == EX_TEMPFAIL && g->reconnects < RECONNECTS && !stopping(g)) {
		g->reconnects++;
		ms_log_debug("%s: %s: trying again", g->s->address, msg);
		session_open(g, 2.0 * g->reconnects);
		return;
	}
	if (err == EX_NOPERM)
		fail(g, err,
		    "%s; connect it again: mailsync-connect -p imap --host %s "
		    "--user %s",
		    msg, g->srv.host, g->srv.user);
	else
		fail(g, err, "%s:%d: %s", g->srv.host, g->srv.port,
		    msg ? msg : "no connection");
}

static void
on_closed(struct ms_imap *sess, int err, const char *msg, void *arg)
{
	struct imap *g = arg;

	(void)sess;
	g->sess = NULL;
	chunks_free(g);
	folders_free(g);
	g->statuses = 0;
	if (err == 0 || ms_fetch_acct_error(g->s->fa) != 0)
		return; /* abandoned: the next run resumes */
	if (g->reconnects < RECONNECTS && !stopping(g)) {
		g->reconnects++;
		ms_log_warn("%s: %s: connecting again, from what was stored",
		    g->s->address, msg);
		session_open(g, 1.0 * g->reconnects);
		return;
	}
	fail(g, err, "%s:%d: %s", g->srv.host, g->srv.port, msg);
}

/* The chunk that asked for the message of this FETCH response. */
static struct chunk *
chunk_of(struct imap *g, const struct ms_imap_resp *r)
{
	struct chunk *c;
	uint64_t uid;

	if (ms_imap_num(ms_imap_fetch_item(r, "UID", NULL), &uid) == -1)
		return NULL;
	for (c = g->head; c != NULL; c = c->next)
		if (uid >= c->uids[0] && uid <= c->uids[c->n - 1])
			return c;
	return NULL;
}

/*
 * Untagged responses, by what they say: the commands outstanding at
 * once are STATUS (named by their mailbox) or UID FETCH (by their UID,
 * the first round carrying the headers, the second a text part).
 */
static void
on_untagged(struct ms_imap *sess, const struct ms_imap_resp *r, void *arg)
{
	struct imap *g = arg;
	struct chunk *c;

	if (strcmp(r->word, "FETCH") == 0) {
		if ((c = chunk_of(g, r)) == NULL)
			return; /* a flag update, or not asked */
		if (ms_imap_fetch_item(r, "BODY[HEADER*", NULL) != NULL)
			read_msg(c, r);
		else
			read_text(c, r);
	} else if (strcmp(r->word, "LIST") == 0 ||
	    strcmp(r->word, "STATUS") == 0)
		list_cb(sess, r, g);
	else if (strcmp(r->word, "SEARCH") == 0)
		search_cb(sess, r, g);
	else if (strcmp(r->word, "OK") == 0 && g->cur < g->nf)
		examine_cb(sess, r, g);
}

static const struct ms_imap_ops session_ops = {
    on_ready, on_closed, on_untagged};

/* How to reach srv, logging in with password; spec->url is the string
 * returned, the caller's (imaps:// for TLS from the start, else imap://). */
static char *
server_spec(const struct ms_imap_server *srv, const char *password,
    struct ms_fetch_conn_spec *spec)
{
	int v6 = strchr(srv->host, ':') != NULL;
	char *url = ms_xasprintf("%s://%s%s%s:%d",
	    strcmp(srv->tls, "implicit") == 0 ? "imaps" : "imap", v6 ? "[" : "",
	    srv->host, v6 ? "]" : "", srv->port);

	spec->url = url;
	spec->starttls = strcmp(srv->tls, "starttls") == 0;
	spec->user = srv->user;
	spec->password = password;
	return url;
}

static void
session_open(struct imap *g, double delay)
{
	struct ms_imap_spec spec = {0};
	char *secret = NULL, *url;

	if (ms_fetch_acct_secret(g->s->fa, &secret) == -1) {
		ms_sync_fail(g->s);
		return;
	}
	url = server_spec(&g->srv, secret, &spec.conn);
	spec.conn.delay = delay;
	spec.max_literal = MAX_HEADERS;
	spec.max_partial = SNIPPET_BYTES;
	spec.ops = &session_ops;
	spec.arg = g;
	g->sess = ms_imap_open(g->s->fa, &spec);
	ms_secret_free(secret);
	free(url);
}

/* Implicit TLS on 993 (RFC 8314's advice), else 143. */
static int
login(struct ms_imap_server *srv, int timeout)
{
	struct ms_fetch_conn_spec cs = {0};
	char *url;
	int rc;

	if (srv->port == 0)
		srv->port = strcmp(srv->tls, "implicit") == 0 ? 993 : 143;
	url = server_spec(srv, srv->password, &cs);
	rc = ms_imap_login(&cs, timeout);
	free(url);
	return rc;
}

static int
imap_start(struct ms_sync *s)
{
	struct imap *g = ms_xcalloc(1, sizeof(*g));

	g->s = s;
	s->drv = g;
	if (ms_cred_imap_load(s->db, NULL, s->account, s->address, &g->srv) ==
	    -1)
		return -1;
	if (ms_db_setting_get(s->db, "imap.exclude", &g->exclude) == -1)
		return -1;
	session_open(g, 0);
	return 0;
}

static void
imap_finish(struct ms_sync *s)
{
	struct imap *g = s->drv;

	if (g == NULL)
		return;
	ms_imap_close(g->sess);
	chunks_free(g);
	folders_free(g);
	free(g->todo);
	free(g->exclude);
	ms_cred_imap_finish(&g->srv);
	free(g);
	s->drv = NULL;
}

static int
endpoints(struct ms_provider *p, const char *tenant)
{
	(void)p;
	(void)tenant;
	return 0; /* each account names its own server */
}

/* One connection per account, its commands pipelined. */
static int
limits(struct ms_db *db, struct ms_fetch_limits *lim)
{
	(void)db;
	lim->concurrency = 1;
	lim->units = 0;
	lim->window = 60;
	lim->burst = 1;
	return 0;
}

const struct ms_driver ms_imap_driver = {
    .name = "imap",
    .label = "IMAP",
    .badge = "grey",
    .flags = MS_DRV_PASSWORD,
    .endpoints = endpoints,
    .login = login,
    .limits = limits,
    .start = imap_start,
    .finish = imap_finish,
};
