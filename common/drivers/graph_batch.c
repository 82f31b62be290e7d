/*
 * graph_batch: how the Graph driver's requests travel. One goes alone;
 * more go up to 20 in a JSON $batch (learn.microsoft.com/graph/
 * json-batching), so that an idle run costs one request per 20 tracked
 * folders.
 *
 * Each request of a batch carries its own Prefer header: Graph applies
 * Prefer per request (outlook-immutable-id: "This header only applies
 * to the request it is included with"), so an outer one would be lost.
 * A batch counts as its requests against the mailbox's quota, and as
 * up to 4 of them against its concurrency (Graph dispatches up to four
 * requests of a batch to Outlook at once, and Outlook allows 4 per app
 * and mailbox: throttling-limits). Its reply is untrusted input like any
 * other: bounded, and each answer's id must name a request of the batch
 * exactly once, else the batch is asked again (the rule of Gmail's batch
 * codec, batch.c).
 */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "graph_priv.h"
#include "json.h"
#include "log.h"
#include "util.h"

static const char *const prefer_one[] = {
    "Prefer: odata.maxpagesize=200, IdType=\"ImmutableId\"",
    NULL,
};
static const char *const prefer_none[] = {
    "Prefer: IdType=\"ImmutableId\"",
    NULL,
};

struct gcall *
gcall_new(const char *url, int page, gcall_fn *fn, void *arg)
{
	struct gcall *c = ms_xcalloc(1, sizeof(*c));

	c->url = ms_xstrdup(url);
	c->page = page;
	c->fn = fn;
	c->arg = arg;
	return c;
}

static void
gcall_free(struct gcall *c)
{
	if (c == NULL)
		return;
	free(c->url);
	free(c);
}

/* Hand c its answer, then free it. */
static void
answer(struct graph *gr, struct gcall *c, long status, struct json_object *o)
{
	c->fn(gr, c, status, o);
	gcall_free(c);
}

void
graph_drop(struct graph *gr, struct gcall **calls, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		answer(gr, calls[i], 0, NULL);
}

/*
 * The codec
 */

static char *
prefer_value(int page)
{
	return page > 0
	    ? ms_xasprintf("odata.maxpagesize=%d, IdType=\"ImmutableId\"", page)
	    : ms_xstrdup("IdType=\"ImmutableId\"");
}

char *
ms_graph_batch_request(char *const *urls, char *const *prefer, size_t n)
{
	struct json_object *o = json_object_new_object();
	struct json_object *reqs = json_object_new_array(), *r, *h;
	char id[24];
	size_t i;

	for (i = 0; i < n; i++) {
		r = json_object_new_object();
		snprintf(id, sizeof(id), "%zu", i + 1);
		json_object_object_add(r, "id", json_object_new_string(id));
		json_object_object_add(
		    r, "method", json_object_new_string("GET"));
		json_object_object_add(
		    r, "url", json_object_new_string(urls[i]));
		if (prefer != NULL && prefer[i] != NULL) {
			h = json_object_new_object();
			json_object_object_add(
			    h, "Prefer", json_object_new_string(prefer[i]));
			json_object_object_add(r, "headers", h);
		}
		json_object_array_add(reqs, r);
	}
	json_object_object_add(o, "requests", reqs);
	return ms_json_dump(o);
}

/* The request an answer's id names: 1 to n as written here ("7", no
 * sign, no leading zero), else 0. */
static size_t
answer_index(struct json_object *a, size_t n)
{
	const char *id = ms_json_str(a, "id");
	size_t i = 0;

	if (id == NULL || *id == '\0' || *id == '0' || strlen(id) > 6)
		return 0;
	for (; *id != '\0'; id++) {
		if (*id < '0' || *id > '9')
			return 0;
		i = i * 10 + (size_t)(*id - '0');
	}
	return i <= n ? i : 0;
}

/* Retry-After of an answer's headers (names in any case): seconds, or
 * -1 when none or not a number. */
static long
answer_retry_after(struct json_object *a)
{
	struct json_object *h = ms_json_obj(a, "headers");
	long long v;

	if (h == NULL)
		return -1;
	json_object_object_foreach(h, k, val)
	{
		(void)val;
		if (ms_ascii_casecmp(k, "Retry-After") == 0)
			return ms_json_int(h, k, &v) == 0 && v >= 0
			    ? (v > 86400 ? 86400 : (long)v)
			    : -1;
	}
	return -1;
}

int
ms_graph_batch_parse(
    struct json_object *reply, size_t n, struct ms_graph_answer *answers)
{
	struct json_object *arr = ms_json_arr(reply, "responses"), *a, *b;
	long long status;
	size_t i, k, len;

	for (i = 0; i < n; i++)
		answers[i].status = 0;
	if (arr == NULL)
		return ms_errc(
		    EX_TEMPFAIL, "Graph $batch: a reply without responses");
	len = json_object_array_length(arr);
	for (k = 0; k < len; k++) {
		a = ms_json_arr_obj(arr, k);
		if ((i = answer_index(a, n)) == 0)
			return ms_errc(EX_TEMPFAIL,
			    "Graph $batch: an answer whose id names no request "
			    "of the batch");
		if (answers[i - 1].status != 0)
			return ms_errc(EX_TEMPFAIL,
			    "Graph $batch: two answers to request %zu", i);
		if (ms_json_int(a, "status", &status) == -1 || status < 100 ||
		    status > 599)
			return ms_errc(EX_TEMPFAIL,
			    "Graph $batch: answer %zu without a status", i);
		answers[i - 1].status = (long)status;
		answers[i - 1].retry_after = answer_retry_after(a);
		b = NULL;
		json_object_object_get_ex(a, "body", &b);
		answers[i - 1].body =
		    json_object_is_type(b, json_type_object) ? b : NULL;
	}
	for (i = 0; i < n; i++)
		if (answers[i].status == 0)
			return ms_errc(EX_TEMPFAIL,
			    "Graph $batch: request %zu not answered", i + 1);
	return 0;
}

/*
 * Alone
 */

struct one {
	struct graph *gr;
	struct gcall *c;
};

static void
one_cb(struct ms_fetch_acct *fa, const struct ms_http_resp *r, void *arg)
{
	struct one *one = arg;
	struct json_object *o = NULL;

	(void)fa;
	if (r == NULL)
		answer(one->gr, one->c, 0, NULL);
	else {
		if (r->len > 0)
			o = r->status == 200
			    ? ms_http_json(r, "Graph")
			    : ms_json_parse(r->body, r->len, "Graph error");
		else
			ms_errc(EX_UNAVAILABLE,
			    "Graph: an empty reply (HTTP "
			    "%ld)",
			    r->status);
		answer(one->gr, one->c, r->status, o);
	}
	free(one);
}

static void
send_one(struct graph *gr, struct gcall *c, double delay)
{
	struct one *one = ms_xcalloc(1, sizeof(*one));
	struct ms_fetch_spec spec = {.url = c->url,
	    .headers = c->page > 0 ? prefer_one : prefer_none,
	    .units = 1,
	    .delay = delay,
	    .max_body = c->page > 0 ? GRAPH_MAX_PAGE : GRAPH_MAX_ONE,
	    .cb = one_cb,
	    .arg = one};

	one->gr = gr;
	one->c = c;
	if (ms_fetch_add(gr->s->fa, &spec) == -1) {
		answer(gr, c, 0, NULL);
		free(one);
	}
}

/*
 * In a $batch
 */

struct batch {
	struct graph *gr;
	struct gcall **c;
	size_t n;
	int tries; /* replies refused whole */
};

static void send_batch(struct graph *, struct batch *, double delay);

static void
batch_free(struct batch *b)
{
	free(b->c);
	free(b);
}

/* The calls of b that no answer will come to: told, then freed. */
static void
batch_drop(struct batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		answer(b->gr, b->c[i], 0, NULL);
	batch_free(b);
}

/* The answers to ask again, grouped by when: the seconds to wait. */
struct retry {
	struct gcall *c;
	double delay;
};

static int
by_delay(const void *a, const void *b)
{
	double x = ((const struct retry *)a)->delay,
	       y = ((const struct retry *)b)->delay;

	return x < y ? -1 : x > y;
}

static double
backoff(int tries)
{
	double base = (double)(1 << (tries > 5 ? 5 : tries));

	return base / 2 + base / 2 * (double)arc4random_uniform(1000) / 1000;
}

/* Send the retried calls, one group per delay. */
static void
resend(struct graph *gr, struct retry *v, size_t n)
{
	struct gcall **calls = ms_xcalloc(n ? n : 1, sizeof(*calls));
	size_t i, j, k;

	qsort(v, n, sizeof(*v), by_delay);
	for (i = 0; i < n; i = j) {
		for (j = i, k = 0; j < n && v[j].delay == v[i].delay; j++)
			calls[k++] = v[j].c;
		graph_send(gr, calls, k, v[i].delay);
	}
	free(calls);
}

/*
 * One answer of a batch: asked again (returned 1, *delay set) when it
 * was refused for rate, for its token or by a passing fault and tries
 * are left; else 0 for its handler.
 */
static int
again(struct graph *gr, struct gcall *c, const struct ms_graph_answer *a,
    double *delay)
{
	struct ms_fetch_acct *fa = gr->s->fa;

	if (c->tries + 1 >= MS_FETCH_ATTEMPTS)
		return 0;
	switch (a->status) {
	case 429:
		ms_fetch_acct_throttled(fa, 1, a->retry_after);
		*delay = a->retry_after > 0
		    ? (a->retry_after > MS_FETCH_RETRY_MAX
			      ? MS_FETCH_RETRY_MAX
			      : (double)a->retry_after)
		    : backoff(c->tries + 1);
		break;
	case 401:
		/* The next request starts with a new token, unless this one
		 * was new already: then a refresh does not mend it. */
		if (ms_fetch_acct_reauth(fa) == -1)
			return 0;
		*delay = 0;
		break;
	case 408:
	case 500:
	case 502:
	case 503:
	case 504:
		*delay = a->retry_after > 0 ? (double)a->retry_after
					    : backoff(c->tries + 1);
		break;
	default: return 0;
	}
	ms_log_debug("%s: a request of a Graph $batch answered %ld: asked "
		     "again in %.1f s",
	    gr->s->address, a->status, *delay);
	c->tries++;
	return 1;
}

static void
batch_cb(struct ms_fetch_acct *fa, const struct ms_http_resp *r, void *arg)
{
	struct batch *b = arg;
	struct graph *gr = b->gr;
	struct ms_graph_answer *ans;
	struct json_object *o, *body;
	struct retry *rv;
	size_t i, nr = 0;

	if (r == NULL) {
		batch_drop(b);
		return;
	}
	if (r->status != 200) {
		o = ms_json_parse(r->body, r->len, "Graph $batch");
		graph_fail_reply(gr, "$batch", r->status, o);
		json_object_put(o);
		batch_drop(b);
		return;
	}
	ans = ms_xcalloc(b->n, sizeof(*ans));
	if ((o = ms_http_json(r, "Graph $batch")) == NULL ||
	    ms_graph_batch_parse(o, b->n, ans) == -1) {
		json_object_put(o);
		free(ans);
		if (++b->tries < MS_FETCH_ATTEMPTS) {
			ms_log_debug("%s: %s: the batch is asked again",
			    gr->s->address, ms_errstr());
			send_batch(gr, b, 0.25 * (1 << b->tries));
			return;
		}
		ms_errc(EX_TEMPFAIL, "%s (after %d attempts)", ms_errstr(),
		    b->tries);
		ms_sync_fail(gr->s);
		batch_drop(b);
		return;
	}
	rv = ms_xcalloc(b->n, sizeof(*rv));
	for (i = 0; i < b->n; i++) {
		if (ms_fetch_acct_error(fa) != 0) {
			answer(gr, b->c[i], 0, NULL);
			continue;
		}
		if (again(gr, b->c[i], &ans[i], &rv[nr].delay)) {
			rv[nr++].c = b->c[i];
			continue;
		}
		if ((body = ans[i].body) != NULL)
			json_object_get(body);
		else if (ans[i].status == 200)
			ms_errc(EX_UNAVAILABLE,
			    "Graph $batch: an answer without a JSON body");
		answer(gr, b->c[i], ans[i].status, body);
	}
	json_object_put(o);
	free(ans);
	if (ms_fetch_acct_error(fa) == 0)
		resend(gr, rv, nr);
	else
		for (i = 0; i < nr; i++)
			answer(gr, rv[i].c, 0, NULL);
	free(rv);
	batch_free(b);
}

static void
send_batch(struct graph *gr, struct batch *b, double delay)
{
	char **urls = ms_xcalloc(b->n, sizeof(*urls));
	char **prefer = ms_xcalloc(b->n, sizeof(*prefer));
	size_t i, skip = strlen(gr->root);
	struct ms_fetch_spec spec = {.method = "POST",
	    .content_type = "application/json",
	    .units = (double)b->n,
	    .slots = (int)b->n,
	    .delay = delay,
	    .max_body = GRAPH_MAX_PAGE,
	    .cb = batch_cb,
	    .arg = b};
	char *url = ms_xasprintf("%s/$batch", gr->root), *body;

	for (i = 0; i < b->n; i++) {
		urls[i] = b->c[i]->url + skip;
		prefer[i] = prefer_value(b->c[i]->page ? GRAPH_BATCH_PAGE : 0);
	}
	body = ms_graph_batch_request(urls, prefer, b->n);
	spec.url = url;
	spec.body = body;
	for (i = 0; i < b->n; i++)
		free(prefer[i]);
	free(prefer);
	free(urls);
	if (ms_fetch_add(gr->s->fa, &spec) == -1)
		batch_drop(b);
	free(body);
	free(url);
}

/* Whether c can go in a batch: its URL is under the version root as
 * written there (a link of the same origin spelt otherwise goes alone). */
static int
batchable(const struct graph *gr, const struct gcall *c)
{
	size_t n = strlen(gr->root);

	return strncmp(c->url, gr->root, n) == 0 && c->url[n] == '/';
}

void
graph_send(struct graph *gr, struct gcall **calls, size_t n, double delay)
{
	struct gcall **v = ms_xcalloc(n ? n : 1, sizeof(*v));
	struct batch *b;
	size_t i, k = 0, j;

	for (i = 0; i < n; i++)
		if (batchable(gr, calls[i]))
			v[k++] = calls[i];
		else
			send_one(gr, calls[i], delay);
	for (i = 0; i < k; i += j) {
		j = k - i > MS_GRAPH_BATCH_MAX ? MS_GRAPH_BATCH_MAX : k - i;
		if (j == 1) {
			send_one(gr, v[i], delay);
			continue;
		}
		b = ms_xcalloc(1, sizeof(*b));
		b->gr = gr;
		b->n = j;
		b->c = ms_xcalloc(j, sizeof(*b->c));
		memcpy(b->c, v + i, j * sizeof(*b->c));
		send_batch(gr, b, delay);
	}
	free(v);
}
