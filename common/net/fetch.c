#include "fetch.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "limiter.h"
#include "log.h"
#include "secret.h"
#include "util.h"

#define USER_AGENT "mailsync/" MS_VERSION
#define IDLE_WAIT_MS 1000
struct req {
	struct req *next;
	struct req *fprev, *fnext; /* the engine's requests in flight */
	struct ms_fetch_acct *acct;
	char *method;
	char *url;
	char *content_type;
	char *body;
	char **headers;
	double units;
	double not_before;
	double started; /* when it last went in flight */
	int urgent;
	int attempts;
	int refreshed;
	size_t max_body;
	int too_large; /* the reply passed max_body */
	unsigned gen; /* of the token it was sent with */
	ms_fetch_cb *cb;
	void *arg;
	CURL *h;
	struct curl_slist *hl;
	struct ms_buf resp;
};

struct ms_fetch_acct {
	struct ms_fetch *f;
	struct ms_fetch_acct *next;
	char *name;
	struct ms_fetch_limits lim;
	struct ms_limiter rl; /* its pace (limiter.h) */
	struct req *head;
	int inflight;
	long requests;
	long abandoned; /* past the deadline, too slow */
	ms_fetch_auth *auth;
	void *auth_arg;
	char *token;
	int force_refresh; /* the next token is a refreshed one */
	time_t token_exp; /* when the token expires, 0: not known */
	time_t token_got; /* when it came */
	unsigned gen; /* tokens had so far */
	unsigned forced_gen; /* the last one a reply asked for */
	unsigned answering; /* the token of the reply being handled */
	char *origin; /* requests go there only, or NULL */
	int err;
	char errmsg[512];
};

struct ms_fetch {
	CURLM *m;
	struct ms_fetch_acct *accts;
	struct req *flying; /* in flight, any account's */
	int stopping;
	volatile sig_atomic_t interrupt; /* set by ms_fetch_interrupt */
	int interrupted; /* ms_fetch_interrupt was obeyed */
	void (*tick)(void *);
	void *tick_arg;
	double ticked;
};

void
ms_fetch_set_tick(struct ms_fetch *f, void (*tick)(void *), void *arg)
{
	f->tick = tick;
	f->tick_arg = arg;
}

double
ms_fetch_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct ms_fetch *
ms_fetch_create(void)
{
	struct ms_fetch *f = ms_xcalloc(1, sizeof(*f));

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((f->m = curl_multi_init()) == NULL) {
		free(f);
		ms_errc(EX_OSERR, "cannot start libcurl");
		return NULL;
	}
	return f;
}

static void
req_free(struct req *r)
{
	char **h;

	if (r == NULL)
		return;
	free(r->method);
	free(r->url);
	free(r->content_type);
	free(r->body);
	for (h = r->headers; h != NULL && *h != NULL; h++)
		free(*h);
	free(r->headers);
	ms_buf_finish(&r->resp);
	free(r);
}

/* Hand a request back to its driver as failed, and free it. */
static void
req_drop(struct req *r)
{
	r->cb(r->acct, NULL, r->arg);
	req_free(r);
}

static void
drop_queue(struct ms_fetch_acct *a)
{
	struct req *r;

	while ((r = a->head) != NULL) {
		a->head = r->next;
		req_drop(r);
	}
}

void
ms_fetch_destroy(struct ms_fetch *f)
{
	struct ms_fetch_acct *a, *next;

	if (f == NULL)
		return;
	for (a = f->accts; a != NULL; a = next) {
		next = a->next;
		drop_queue(a);
		ms_secret_free(a->token);
		free(a->origin);
		free(a->name);
		free(a);
	}
	curl_multi_cleanup(f->m);
	free(f);
}

struct ms_fetch_acct *
ms_fetch_acct_create(struct ms_fetch *f, const struct ms_fetch_limits *lim,
    ms_fetch_auth *auth, void *auth_arg, const char *name)
{
	struct ms_fetch_acct *a = ms_xcalloc(1, sizeof(*a));

	a->f = f;
	a->lim = *lim;
	if (a->lim.concurrency < 1)
		a->lim.concurrency = 1;
	if (a->lim.classify == NULL)
		a->lim.classify = ms_fetch_classify_http;
	ms_limiter_init(&a->rl, lim->units, lim->window, lim->burst, lim->start,
	    ms_fetch_now());
	a->auth = auth;
	a->auth_arg = auth_arg;
	a->name = ms_xstrdup(name);
	a->next = f->accts;
	f->accts = a;
	return a;
}

static void
forget_token(struct ms_fetch_acct *a)
{
	ms_secret_free(a->token);
	a->token = NULL;
}

void
ms_fetch_acct_origin(struct ms_fetch_acct *a, const char *url)
{
	free(a->origin);
	a->origin = url ? ms_xstrdup(url) : NULL;
}

int
ms_fetch_acct_reauth(struct ms_fetch_acct *a)
{
	if (a->answering != a->gen || a->force_refresh)
		return 0; /* a newer token is there, or on its way */
	if (a->forced_gen == a->gen && a->token_exp > time(NULL))
		return -1;
	forget_token(a);
	a->force_refresh = 1;
	return 0;
}

/* The token, obtained (refreshed when asked or due) if need be. */
static int
get_token(struct ms_fetch_acct *a)
{
	time_t now = time(NULL), margin;

	/* Due: refreshed a little ahead of its expiry (60 s, or a quarter
	 * of a short lifetime), so a long run never sends a dead one. */
	margin = a->token_exp - a->token_got > 240
	    ? 60
	    : (a->token_exp - a->token_got) / 4;
	if (a->token != NULL && a->token_exp > 0 &&
	    now >= a->token_exp - margin)
		forget_token(a);
	if (a->token != NULL)
		return 0;
	if (a->auth(a->auth_arg, a->force_refresh, &a->token, &a->token_exp) ==
	    -1)
		return -1;
	a->token_got = now;
	a->gen++;
	if (a->force_refresh)
		a->forced_gen = a->gen;
	a->force_refresh = 0;
	return 0;
}

void
ms_fetch_acct_fail(struct ms_fetch_acct *a, int code, const char *msg)
{
	if (a->err != 0)
		return;
	a->err = code;
	snprintf(a->errmsg, sizeof(a->errmsg), "%s", msg);
	drop_queue(a);
}

int
ms_fetch_acct_error(const struct ms_fetch_acct *a)
{
	return a->err;
}

const char *
ms_fetch_acct_errmsg(const struct ms_fetch_acct *a)
{
	return a->errmsg;
}

long
ms_fetch_acct_requests(const struct ms_fetch_acct *a)
{
	return a->requests;
}

struct ms_fetch *
ms_fetch_acct_engine(struct ms_fetch_acct *a)
{
	return a->f;
}

int
ms_fetch_stopping(const struct ms_fetch *f)
{
	return f->stopping;
}

static char **
copy_headers(const char *const *h)
{
	char **v;
	size_t n = 0, i;

	while (h != NULL && h[n] != NULL)
		n++;
	v = ms_xcalloc(n + 1, sizeof(*v));
	for (i = 0; i < n; i++)
		v[i] = ms_xstrdup(h[i]);
	return v;
}

/* At the end of the account's queue, or of its urgent head. */
static void
enqueue(struct ms_fetch_acct *a, struct req *r)
{
	struct req **tail;

	for (tail = &a->head; *tail != NULL; tail = &(*tail)->next)
		if (r->urgent && !(*tail)->urgent)
			break;
	r->next = *tail;
	*tail = r;
}

int
ms_fetch_add(struct ms_fetch_acct *a, const struct ms_fetch_spec *s)
{
	struct req *r;

	if (a->err != 0 || a->f->interrupted)
		return -1;
	r = ms_xcalloc(1, sizeof(*r));
	r->acct = a;
	r->method = ms_xstrdup(s->method ? s->method : "GET");
	r->url = ms_xstrdup(s->url);
	r->content_type = s->content_type ? ms_xstrdup(s->content_type) : NULL;
	r->body = s->body ? ms_xstrdup(s->body) : NULL;
	r->headers = copy_headers(s->headers);
	r->units = s->units;
	r->not_before = ms_fetch_now() + s->delay;
	r->urgent = s->urgent;
	r->max_body = s->max_body ? s->max_body : MS_FETCH_MAX_BODY;
	r->cb = s->cb;
	r->arg = s->arg;
	enqueue(a, r);
	return 0;
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct req *r = arg;

	if (r->resp.len + size * n > r->max_body) {
		r->too_large = 1;
		return 0; /* aborts the transfer */
	}
	ms_buf_add(&r->resp, data, size * n);
	return size * n;
}

static int
start(struct ms_fetch *f, struct req *r)
{
	struct ms_fetch_acct *a = r->acct;
	char **h, *line;

	if (a->origin != NULL && !ms_http_same_origin(r->url, a->origin)) {
		/* The drivers check links first; this is the last guard. */
		ms_errc(EX_UNAVAILABLE,
		    "refusing to send the access token to %s: not the API "
		    "(%s)",
		    r->url, a->origin);
		ms_fetch_acct_fail(a, ms_errcode(), ms_errstr());
		req_drop(r);
		return -1;
	}
	if (get_token(a) == -1) {
		ms_fetch_acct_fail(a, ms_errcode(), ms_errstr());
		req_drop(r);
		return -1;
	}
	r->gen = a->gen;
	if (ms_http_check_url(r->url) == -1 ||
	    (r->h = curl_easy_init()) == NULL) {
		ms_fetch_acct_fail(a, ms_errcode(), ms_errstr());
		req_drop(r);
		return -1;
	}
	line = ms_xasprintf("Authorization: Bearer %s", a->token);
	r->hl = curl_slist_append(NULL, line);
	explicit_bzero(line, strlen(line));
	free(line);
	r->hl = curl_slist_append(r->hl, "Accept: application/json");
	if (r->content_type != NULL) {
		line = ms_xasprintf("Content-Type: %s", r->content_type);
		r->hl = curl_slist_append(r->hl, line);
		free(line);
	}
	for (h = r->headers; *h != NULL; h++)
		r->hl = curl_slist_append(r->hl, *h);
	ms_buf_finish(&r->resp);
	r->too_large = 0;
	curl_easy_setopt(r->h, CURLOPT_URL, r->url);
	curl_easy_setopt(r->h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(r->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->h, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(r->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(r->h, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(r->h, CURLOPT_TIMEOUT, 300L);
	curl_easy_setopt(r->h, CURLOPT_USERAGENT, USER_AGENT);
	curl_easy_setopt(r->h, CURLOPT_HTTPHEADER, r->hl);
	curl_easy_setopt(r->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(r->h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->h, CURLOPT_ACCEPT_ENCODING, "");
	/* Wait for a connection that can multiplex (HTTP/2, known at the
	 * TLS handshake). Plain http (loopback only) is HTTP/1.1, where
	 * waiting would hold every request to the host until the first
	 * reply's headers came, however long a stalled peer takes. */
	if (strncmp(r->url, "https://", 8) == 0)
		curl_easy_setopt(r->h, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(r->h, CURLOPT_PRIVATE, r);
	if (ms_log_level() >= MS_LOG_DEBUG) {
		curl_easy_setopt(r->h, CURLOPT_DEBUGFUNCTION, ms_http_trace);
		curl_easy_setopt(r->h, CURLOPT_VERBOSE, 1L);
	}
	if (strcmp(r->method, "POST") == 0) {
		curl_easy_setopt(r->h, CURLOPT_POST, 1L);
		curl_easy_setopt(
		    r->h, CURLOPT_POSTFIELDS, r->body ? r->body : "");
	}
	r->attempts++;
	r->started = ms_fetch_now();
	a->requests++;
	a->inflight++;
	ms_limiter_started(&a->rl, r->units);
	r->fnext = f->flying;
	if (f->flying != NULL)
		f->flying->fprev = r;
	f->flying = r;
	curl_multi_add_handle(f->m, r->h);
	return 0;
}

void
ms_fetch_acct_throttled(struct ms_fetch_acct *a, double units, long retry_after)
{
	double was = a->rl.units;

	if (ms_limiter_refused(&a->rl, units, retry_after, MS_FETCH_RETRY_MAX,
		ms_fetch_now()) < was)
		ms_log_debug("%s: refused for rate: pacing at %.0f units per "
			     "%.0f s (was %.0f)",
		    a->name, a->rl.units, a->rl.window, was);
}

double
ms_fetch_acct_quota(const struct ms_fetch_acct *a)
{
	return ms_limiter_quota(&a->rl);
}

double
ms_fetch_acct_refused(const struct ms_fetch_acct *a)
{
	return a->rl.refused;
}

/* Start what may start; *wake is lowered to when more could. */
static void
start_ready(struct ms_fetch *f, double now, double *wake)
{
	struct ms_fetch_acct *a;
	struct req **pp, *r;
	double wait;

	for (a = f->accts; a != NULL; a = a->next) {
		pp = &a->head;
		while (a->err == 0 && a->inflight < a->lim.concurrency &&
		    (r = *pp) != NULL) {
			if (r->not_before > now) {
				if (r->not_before < *wake)
					*wake = r->not_before;
				pp = &r->next;
				continue;
			}
			if ((wait = ms_limiter_take(&a->rl, r->units, now)) >
			    0) {
				if (now + wait < *wake)
					*wake = now + wait;
				break;
			}
			*pp = r->next;
			r->next = NULL;
			start(f, r);
		}
	}
}

static int
queued_or_flying(const struct ms_fetch *f)
{
	const struct ms_fetch_acct *a;

	for (a = f->accts; a != NULL; a = a->next)
		if (a->head != NULL || a->inflight > 0)
			return 1;
	return 0;
}

enum ms_fetch_verdict
ms_fetch_classify_http(long status, const char *body)
{
	(void)body;
	switch (status) {
	case 401: return MS_FETCH_REFRESH;
	case 429: return MS_FETCH_RATE;
	case 408:
	case 500:
	case 502:
	case 503:
	case 504: return MS_FETCH_RETRY;
	default: return MS_FETCH_ANSWER;
	}
}

static double
backoff(const struct req *r, long retry_after)
{
	double base;

	/* curl says 0 when there was no Retry-After: back off then. */
	if (retry_after > 0)
		return retry_after > MS_FETCH_RETRY_MAX ? MS_FETCH_RETRY_MAX
							: (double)retry_after;
	base = (double)(1 << (r->attempts - 1));
	if (base > 32)
		base = 32;
	/* Full jitter in [base / 2, base]. */
	return base / 2 + base / 2 * (double)arc4random_uniform(1000) / 1000;
}

/* Put r back in its queue to start again after delay seconds. */
static void
requeue(struct req *r, double delay)
{
	if (r->acct->err != 0) {
		req_drop(r);
		return;
	}
	r->not_before = ms_fetch_now() + delay;
	enqueue(r->acct, r);
}

/* Take r's transfer off the engine; it no longer flies. */
static void
land(struct req *r)
{
	struct ms_fetch_acct *a = r->acct;
	struct ms_fetch *f = a->f;

	curl_multi_remove_handle(f->m, r->h);
	curl_easy_cleanup(r->h);
	r->h = NULL;
	curl_slist_free_all(r->hl); /* holds the token: */
	r->hl = NULL; /* curl copied nothing we keep */
	if (r->fprev != NULL)
		r->fprev->fnext = r->fnext;
	else
		f->flying = r->fnext;
	if (r->fnext != NULL)
		r->fnext->fprev = r->fprev;
	r->fprev = r->fnext = NULL;
	a->inflight--;
	ms_limiter_ended(&a->rl, r->units, ms_fetch_now());
}

static void
finish(struct req *r, CURLcode cc)
{
	struct ms_fetch_acct *a = r->acct;
	struct ms_http_resp resp = {0};
	enum ms_fetch_verdict verdict;
	curl_off_t ra = -1;
	char msg[600], *ct = NULL;

	curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &resp.status);
	curl_easy_getinfo(r->h, CURLINFO_RETRY_AFTER, &ra);
	resp.retry_after = ra >= 0 ? (long)ra : -1;
	if (curl_easy_getinfo(r->h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK &&
	    ct != NULL)
		resp.content_type = ms_xstrdup(ct);
	land(r);
	ms_buf_add(&r->resp, "", 0); /* a NUL-terminated body, never NULL */
	resp.body = r->resp.s;
	resp.len = r->resp.len;
	verdict = cc != CURLE_OK ? MS_FETCH_RETRY
				 : a->lim.classify(resp.status, resp.body);
	if (verdict == MS_FETCH_REFRESH && r->refreshed)
		verdict = MS_FETCH_ANSWER; /* refused again: the driver's */
	if (a->err != 0 || verdict != MS_FETCH_ANSWER) {
		free(resp.content_type); /* not passed on */
		resp.content_type = NULL;
	}
	if (a->err != 0) {
		req_drop(r);
		return;
	}
	if (verdict == MS_FETCH_REFRESH) {
		/* Refreshed once, unless a newer token came meanwhile. */
		if (r->gen == a->gen && !a->force_refresh) {
			forget_token(a);
			a->force_refresh = 1;
		}
		r->refreshed = 1;
		r->attempts--;
		requeue(r, 0);
		return;
	}
	if (cc == CURLE_WRITE_ERROR && r->too_large) {
		/* A bound set by what the endpoint can legitimately return:
		 * asking again would only bring the same. */
		snprintf(msg, sizeof(msg),
		    "%s: a reply larger than %zu MiB, refused", r->url,
		    r->max_body / (1024 * 1024));
		ms_fetch_acct_fail(a, EX_TEMPFAIL, msg);
		req_drop(r);
		return;
	}
	if (verdict == MS_FETCH_RATE)
		ms_fetch_acct_throttled(a, r->units, resp.retry_after);
	if (verdict == MS_FETCH_RATE || verdict == MS_FETCH_RETRY) {
		if (cc != CURLE_OK)
			snprintf(msg, sizeof(msg), "%s: %s", r->url,
			    curl_easy_strerror(cc));
		else
			snprintf(msg, sizeof(msg), "%s: HTTP %ld", r->url,
			    resp.status);
		if (r->attempts < MS_FETCH_ATTEMPTS) {
			ms_log_debug("%s: %s; retrying (attempt %d)", a->name,
			    msg, r->attempts + 1);
			requeue(r, backoff(r, resp.retry_after));
			return;
		}
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg),
		    " after %d attempts", r->attempts);
		ms_fetch_acct_fail(a, EX_TEMPFAIL, msg);
		req_drop(r);
		return;
	}
	a->answering = r->gen;
	r->cb(a, &resp, r->arg);
	free(resp.content_type);
	req_free(r);
}

/* Hand one finished transfer to its driver; 0 when there was none. */
static int
finish_one(struct ms_fetch *f)
{
	struct CURLMsg *msg;
	struct req *r;
	int left;

	while ((msg = curl_multi_info_read(f->m, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(
		    msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		finish(r, msg->data.result);
		return 1;
	}
	return 0;
}

/*
 * The poll timeout for a wake-up due in secs: whole milliseconds rounded
 * up, so that a paced request never wakes a little early and polls again
 * for nothing, nor later than it must (the limiter keeps the credit of a
 * late wake-up, but the wait is lost).
 */
static int
poll_ms(double secs)
{
	int ms;

	if (secs <= 0)
		return 0;
	if (secs >= IDLE_WAIT_MS / 1000.0)
		return IDLE_WAIT_MS;
	ms = (int)(secs * 1000);
	return ms < secs * 1000 ? ms + 1 : ms;
}

void
ms_fetch_interrupt(struct ms_fetch *f)
{
	f->interrupt = 1;
}

int
ms_fetch_interrupted(const struct ms_fetch *f)
{
	return f->interrupted;
}

long
ms_fetch_acct_abandoned(const struct ms_fetch_acct *a)
{
	return a->abandoned;
}

/*
 * Abandon every request, queued or in flight: each driver gets NULL for
 * it (as for a failed account's requests) and stores nothing more; the
 * accounts themselves are not failed, their work is unfinished.
 */
static void
abandon_all(struct ms_fetch *f)
{
	struct ms_fetch_acct *a;
	struct req *r;

	f->interrupted = f->stopping = 1;
	while ((r = f->flying) != NULL) {
		land(r);
		req_drop(r);
	}
	for (a = f->accts; a != NULL; a = a->next)
		drop_queue(a);
}

/*
 * Past the deadline: abandon the requests in flight longer than grace
 * (from the deadline, for those that started before it); lower *wake to
 * when the next one would be.
 */
static void
abandon_slow(
    struct ms_fetch *f, double deadline, double grace, double now, double *wake)
{
	struct req *r, *next;
	double limit;

	for (r = f->flying; r != NULL; r = next) {
		next = r->fnext;
		limit = (r->started > deadline ? r->started : deadline) + grace;
		if (now < limit) {
			if (limit < *wake)
				*wake = limit;
			continue;
		}
		ms_log_warn("%s: no complete reply from %s within %.0f s past "
			    "--max-time: abandoned, the next run resumes",
		    r->acct->name, r->url, grace);
		r->acct->abandoned++;
		land(r);
		req_drop(r);
	}
}

int
ms_fetch_run(struct ms_fetch *f, double deadline, double grace)
{
	double now, wake;
	int running;

	for (;;) {
		now = ms_fetch_now();
		wake = now + IDLE_WAIT_MS / 1000.0;
		if (deadline > 0 && now >= deadline)
			f->stopping = 1;
		if (f->interrupt)
			abandon_all(f);
		else if (f->stopping && deadline > 0)
			abandon_slow(f, deadline, grace, now, &wake);
		if (f->tick != NULL && now - f->ticked >= 1) {
			f->tick(f->tick_arg);
			f->ticked = now;
		}
		start_ready(f, now, &wake);
		if (!queued_or_flying(f))
			break;
		curl_multi_perform(f->m, &running);
		/* One answer at a time: a callback may take a while (a page
		 * parsed and stored), and the requests that came due meanwhile,
		 * any account's, start before the next one runs. */
		if (finish_one(f))
			continue;
		now = ms_fetch_now();
		if (deadline > 0 && !f->stopping && deadline < wake)
			wake = deadline;
		curl_multi_poll(f->m, NULL, 0, poll_ms(wake - now), NULL);
	}
	return f->stopping;
}
