#include "fetch.h"

#include <curl/curl.h>
#include <poll.h>
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
/* A connection's reads per turn of the loop, so that one busy peer does
 * not starve the other accounts. */
#define CONN_READ_TURN (256 * 1024)
#define CONN_MAX 256 /* connections polled at once */

/* What CURLINFO_PRIVATE points to: a request or a connection. */
enum { KIND_REQ = 1, KIND_CONN };

struct req {
	int kind; /* KIND_REQ: first, as in struct ms_fetch_conn */
	struct req *next;
	struct req *fprev, *fnext; /* the engine's requests in flight */
	struct ms_fetch_acct *acct;
	char *method;
	char *url;
	char *content_type;
	char *body;
	char **headers;
	double units;
	int slots; /* of the account's concurrency, >= 1 */
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

enum conn_state {
	C_QUEUED, /* waits for its time */
	C_CONNECTING, /* libcurl sets it up */
	C_OPEN,
	C_ENDED, /* its owner is to be told (ops->closed or ops->open) */
	C_FREE, /* closed: freed at the next turn */
};

struct ms_fetch_conn {
	int kind; /* KIND_CONN */
	struct ms_fetch_conn *next;
	struct ms_fetch_acct *acct;
	const struct ms_fetch_conn_ops *ops;
	void *arg;
	char *url;
	char *user;
	char *password; /* guarded memory */
	char *bearer; /* guarded memory */
	int starttls;
	long timeout; /* of the connection and the login, seconds */
	enum conn_state state;
	int opened; /* it reached C_OPEN */
	double not_before;
	CURL *h;
	curl_socket_t fd;
	struct ms_buf out;
	size_t out_off;
	int waiting;
	double wait_since, last_rx;
	int more; /* a read may find more without the socket readable */
	int err;
	char msg[600];
	char line[512]; /* the server's last line while setting up */
	struct ms_buf setup; /* its lines then, the last 8 KiB or so */
	char errbuf[CURL_ERROR_SIZE];
	long long received;
};

struct ms_fetch {
	CURLM *m;
	struct ms_fetch_acct *accts;
	struct ms_fetch_conn *conns;
	struct req *flying; /* in flight, any account's */
	int stopping;
	volatile sig_atomic_t interrupt; /* set by ms_fetch_interrupt */
	int interrupted; /* ms_fetch_interrupt was obeyed */
	void (*tick)(void *);
	void *tick_arg;
	double ticked;
};

/* The connections (below), as the loop and the accounts see them. */
static void conn_done(struct ms_fetch_conn *, CURLcode);
static void conn_flush(struct ms_fetch_conn *);
static void conn_end(struct ms_fetch_conn *, int err, const char *msg);
static void conns_turn(struct ms_fetch *, double now, double *wake);
static void conns_poll(struct ms_fetch *, int timeout);
static void conns_abandon_slow(
    struct ms_fetch *, double deadline, double grace, double now, double *);
static void conns_fail(struct ms_fetch_acct *, int code, const char *msg);
static void conns_destroy(struct ms_fetch *);

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
	conns_destroy(f);
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

int
ms_fetch_acct_secret(struct ms_fetch_acct *a, char **secret)
{
	*secret = NULL;
	if (get_token(a) == -1)
		return -1;
	*secret = ms_secret_strdup(a->token);
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
	conns_fail(a, code, msg);
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
	r->kind = KIND_REQ;
	r->acct = a;
	r->method = ms_xstrdup(s->method ? s->method : "GET");
	r->url = ms_xstrdup(s->url);
	r->content_type = s->content_type ? ms_xstrdup(s->content_type) : NULL;
	r->body = s->body ? ms_xstrdup(s->body) : NULL;
	r->headers = copy_headers(s->headers);
	r->units = s->units;
	r->slots = s->slots < 1             ? 1
	    : s->slots > a->lim.concurrency ? a->lim.concurrency
					    : s->slots;
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
	    (r->h = curl_easy_init()) == NULL || ms_http_tls(r->h) == -1) {
		if (r->h != NULL)
			curl_easy_cleanup(r->h);
		r->h = NULL;
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
	a->inflight += r->slots;
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
			/* A request of several slots waits for them all, and
			 * the ones after it wait with it: keeping its place
			 * in the queue is what lets it ever start. */
			if (a->inflight + r->slots > a->lim.concurrency)
				break;
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

	const struct ms_fetch_conn *c;

	for (a = f->accts; a != NULL; a = a->next)
		if (a->head != NULL || a->inflight > 0)
			return 1;
	for (c = f->conns; c != NULL; c = c->next)
		if (c->state == C_QUEUED || c->state == C_CONNECTING ||
		    c->state == C_ENDED ||
		    (c->state == C_OPEN &&
			(c->waiting || c->out.len > c->out_off)))
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
	a->inflight -= r->slots;
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
	if (cc != CURLE_OK && ms_http_untrusted(cc)) {
		/* Not the network: every retry would meet the same peer. */
		snprintf(msg, sizeof(msg),
		    "%s: the server's TLS certificate is not trusted (%s)",
		    r->url, curl_easy_strerror(cc));
		ms_fetch_acct_fail(a, EX_UNAVAILABLE, msg);
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
		if (r->kind == KIND_CONN)
			conn_done((struct ms_fetch_conn *)(void *)r,
			    msg->data.result);
		else
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

	struct ms_fetch_conn *c;

	f->interrupted = f->stopping = 1;
	while ((r = f->flying) != NULL) {
		land(r);
		req_drop(r);
	}
	for (a = f->accts; a != NULL; a = a->next)
		drop_queue(a);
	for (c = f->conns; c != NULL; c = c->next)
		conn_end(c, 0, NULL);
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
	conns_abandon_slow(f, deadline, grace, now, wake);
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
		conns_turn(f, now, &wake);
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
		conns_poll(f, poll_ms(wake - now));
	}
	return f->stopping;
}

/*
 * Connections
 */

static void
conn_trace_text(const char *what, const char *data, size_t n)
{
	while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r'))
		n--;
	ms_log_debug("%s%.*s", what, (int)n, data);
}

/* -vv on a connection: libcurl's own notes and the server's lines while
 * it sets the connection up, never what is sent (the login is). */
static int
conn_trace(CURL *h, curl_infotype type, char *data, size_t n, void *arg)
{
	(void)h;
	(void)arg;
	if (type == CURLINFO_TEXT)
		conn_trace_text("* ", data, n);
	else if (type == CURLINFO_HEADER_IN)
		conn_trace_text("S: ", data, n);
	return 0;
}

/* The server's last line while libcurl sets the connection up: the one
 * that says why a login was refused. */
static size_t
conn_line(char *data, size_t size, size_t n, void *arg)
{
	struct ms_fetch_conn *c = arg;
	size_t len = size * n, k = len;

	while (k > 0 && (data[k - 1] == '\n' || data[k - 1] == '\r'))
		k--;
	if (k >= sizeof(c->line))
		k = sizeof(c->line) - 1;
	memcpy(c->line, data, k);
	c->line[k] = '\0';
	if (c->setup.len + k + 1 > 8192)
		c->setup.len = 0;
	ms_buf_add(&c->setup, data, size * n < 8192 ? size * n : 0);
	return len;
}

static size_t
conn_nobody(char *data, size_t size, size_t n, void *arg)
{
	(void)data;
	(void)arg;
	return size * n;
}

struct ms_fetch_conn *
ms_fetch_conn_open(struct ms_fetch_acct *a, const struct ms_fetch_conn_spec *s)
{
	struct ms_fetch_conn *c;

	if (a->err != 0 || a->f->interrupted)
		return NULL;
	c = ms_xcalloc(1, sizeof(*c));
	c->kind = KIND_CONN;
	c->acct = a;
	c->ops = s->ops;
	c->arg = s->arg;
	c->url = ms_xstrdup(s->url);
	c->user = s->user ? ms_xstrdup(s->user) : NULL;
	c->password = s->password ? ms_secret_strdup(s->password) : NULL;
	c->bearer = s->bearer ? ms_secret_strdup(s->bearer) : NULL;
	c->starttls = s->starttls;
	c->timeout = s->timeout > 0 ? s->timeout : 30;
	c->fd = CURL_SOCKET_BAD;
	c->not_before = ms_fetch_now() + s->delay;
	c->state = C_QUEUED;
	c->next = a->f->conns;
	a->f->conns = c;
	return c;
}

/* Whether url may go in clear text: imaps, STARTTLS, or loopback. */
static int
conn_url_ok(const struct ms_fetch_conn *c)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int ok = 0;

	if (curl_url_set(u, CURLUPART_URL, c->url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
		ok = strcmp(scheme, "imaps") == 0 ||
		    (strcmp(scheme, "imap") == 0 &&
			(c->starttls || ms_http_loopback(host)));
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

static void
conn_start(struct ms_fetch *f, struct ms_fetch_conn *c)
{
	if (!conn_url_ok(c)) {
		/* connect checks first; this is the last guard. */
		conn_end(c, EX_CONFIG,
		    "plain IMAP is allowed to 127.0.0.1, "
		    "::1 and localhost only");
		return;
	}
	if ((c->h = curl_easy_init()) == NULL || ms_http_tls(c->h) == -1) {
		conn_end(c, ms_errcode() ? ms_errcode() : EX_OSERR,
		    c->h ? ms_errstr() : "cannot start libcurl");
		return;
	}
	curl_easy_setopt(c->h, CURLOPT_URL, c->url);
	curl_easy_setopt(c->h, CURLOPT_PROTOCOLS_STR, "imap,imaps");
	curl_easy_setopt(c->h, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT, c->timeout);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT, c->timeout + 30);
	curl_easy_setopt(c->h, CURLOPT_USE_SSL,
	    c->starttls ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_NONE);
	if (c->user != NULL)
		curl_easy_setopt(c->h, CURLOPT_USERNAME, c->user);
	if (c->password != NULL)
		curl_easy_setopt(c->h, CURLOPT_PASSWORD, c->password);
	if (c->bearer != NULL) {
		curl_easy_setopt(c->h, CURLOPT_XOAUTH2_BEARER, c->bearer);
		curl_easy_setopt(c->h, CURLOPT_LOGIN_OPTIONS,
		    "AUTH=OAUTHBEARER;AUTH=XOAUTH2");
	}
	curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, conn_line);
	curl_easy_setopt(c->h, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, conn_nobody);
	curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->h, CURLOPT_PRIVATE, c);
	if (ms_log_level() >= MS_LOG_DEBUG) {
		curl_easy_setopt(c->h, CURLOPT_DEBUGFUNCTION, conn_trace);
		curl_easy_setopt(c->h, CURLOPT_VERBOSE, 1L);
	}
	c->state = C_CONNECTING;
	c->acct->requests++;
	curl_multi_add_handle(f->m, c->h);
}

static void
conn_release(struct ms_fetch_conn *c)
{
	if (c->h != NULL) {
		curl_multi_remove_handle(c->acct->f->m, c->h);
		curl_easy_cleanup(c->h); /* closes a connect-only one */
		c->h = NULL;
	}
	c->fd = CURL_SOCKET_BAD;
	ms_secret_free(c->password);
	ms_secret_free(c->bearer);
	c->password = c->bearer = NULL;
}

/* It ended: its owner is told at the next turn (unless it was closed). */
static void
conn_end(struct ms_fetch_conn *c, int err, const char *msg)
{
	if (c->state == C_ENDED || c->state == C_FREE)
		return;
	conn_release(c);
	c->state = C_ENDED;
	c->err = err;
	snprintf(c->msg, sizeof(c->msg), "%s", msg ? msg : "");
}

/* The code a failed set-up ends with: a refused login needs a person. */
static int
conn_code(CURLcode cc)
{
	switch (cc) {
	case CURLE_LOGIN_DENIED: return EX_NOPERM;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_USE_SSL_FAILED:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT: return EX_UNAVAILABLE;
	default: return ms_http_untrusted(cc) ? EX_UNAVAILABLE : EX_TEMPFAIL;
	}
}

static void
conn_done(struct ms_fetch_conn *c, CURLcode cc)
{
	const char *text;
	char msg[sizeof(c->msg)];
	curl_socket_t fd = CURL_SOCKET_BAD;

	if (cc == CURLE_OK &&
	    curl_easy_getinfo(c->h, CURLINFO_ACTIVESOCKET, &fd) == CURLE_OK &&
	    fd != CURL_SOCKET_BAD) {
		/* The easy handle stays in the multi handle: libcurl finds
		 * a connect-only connection through it (curl_easy_recv). */
		c->fd = fd;
		c->state = C_OPEN;
		c->opened = 1;
		c->last_rx = ms_fetch_now();
		c->ops->open(c, 0, NULL, c->arg);
		return;
	}
	/* The server's own words when it refused: after the tag. */
	text = c->line;
	if (cc == CURLE_LOGIN_DENIED && *text != '\0') {
		text += strcspn(text, " ");
		text += strspn(text, " ");
		snprintf(
		    msg, sizeof(msg), "the server refused the login: %s", text);
	} else if (cc == CURLE_LOGIN_DENIED)
		snprintf(msg, sizeof(msg), "the server refused the login");
	else
		snprintf(msg, sizeof(msg), "%s",
		    c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc));
	conn_end(c, cc == CURLE_OK ? EX_TEMPFAIL : conn_code(cc), msg);
}

void
ms_fetch_conn_send(struct ms_fetch_conn *c, const char *data, size_t n)
{
	if (c->state != C_OPEN)
		return;
	if (c->out_off == c->out.len) {
		c->out.len = 0;
		c->out_off = 0;
	}
	ms_buf_add(&c->out, data, n);
	conn_flush(c);
}

static void
conn_flush(struct ms_fetch_conn *c)
{
	size_t sent;
	CURLcode cc;
	char msg[300];

	while (c->state == C_OPEN && c->out_off < c->out.len) {
		cc = curl_easy_send(c->h, c->out.s + c->out_off,
		    c->out.len - c->out_off, &sent);
		if (cc == CURLE_AGAIN)
			return;
		if (cc != CURLE_OK) {
			snprintf(msg, sizeof(msg), "sending to the server: %s",
			    curl_easy_strerror(cc));
			conn_end(c, EX_TEMPFAIL, msg);
			return;
		}
		c->out_off += sent;
	}
}

static void
conn_read(struct ms_fetch_conn *c)
{
	char buf[65536], msg[300];
	size_t n, total = 0;
	CURLcode cc;

	c->more = 0;
	while (c->state == C_OPEN) {
		if (total >= CONN_READ_TURN) {
			c->more = 1; /* TLS may hold more than the socket */
			return;
		}
		cc = curl_easy_recv(c->h, buf, sizeof(buf), &n);
		if (cc == CURLE_AGAIN)
			return;
		if (cc != CURLE_OK || n == 0) {
			if (cc != CURLE_OK)
				snprintf(msg, sizeof(msg),
				    "reading from the server: %s",
				    curl_easy_strerror(cc));
			else
				snprintf(msg, sizeof(msg),
				    "the server closed the connection");
			conn_end(c, EX_TEMPFAIL, msg);
			return;
		}
		total += n;
		c->received += (long long)n;
		c->last_rx = ms_fetch_now();
		c->ops->data(c, buf, n, c->arg);
	}
}

void
ms_fetch_conn_waiting(struct ms_fetch_conn *c, int waiting)
{
	if (waiting && !c->waiting) {
		c->wait_since = ms_fetch_now();
		c->last_rx = c->wait_since;
	}
	c->waiting = waiting;
}

void
ms_fetch_conn_close(struct ms_fetch_conn *c)
{
	if (c == NULL)
		return;
	conn_release(c);
	c->state = C_FREE; /* freed at the next turn: it may be in a list
			    * being walked */
}

const char *
ms_fetch_conn_setup(const struct ms_fetch_conn *c, size_t *len)
{
	*len = c->setup.len;
	return c->setup.s ? c->setup.s : "";
}

long long
ms_fetch_conn_received(const struct ms_fetch_conn *c)
{
	return c->received;
}

static void
conn_free(struct ms_fetch_conn *c)
{
	conn_release(c);
	free(c->url);
	free(c->user);
	ms_buf_finish(&c->out);
	ms_buf_finish(&c->setup);
	free(c);
}

/* The owner of an ended connection is told, once. */
static void
conn_tell(struct ms_fetch_conn *c)
{
	c->state = C_FREE;
	if (c->opened)
		c->ops->closed(c, c->err, c->err ? c->msg : NULL, c->arg);
	else
		c->ops->open(c, c->err, c->err ? c->msg : NULL, c->arg);
}

/*
 * One turn for the connections: tell owners of those that ended, free
 * those closed, start those due, end those waiting too long.
 */
static void
conns_turn(struct ms_fetch *f, double now, double *wake)
{
	struct ms_fetch_conn **pp, *c;
	char msg[200];

	for (c = f->conns; c != NULL; c = c->next)
		if (c->state == C_ENDED)
			conn_tell(c);
	for (pp = &f->conns; (c = *pp) != NULL;) {
		if (c->state == C_FREE) {
			*pp = c->next;
			conn_free(c);
			continue;
		}
		pp = &c->next;
	}
	for (c = f->conns; c != NULL; c = c->next) {
		if (c->state == C_QUEUED && c->acct->err == 0) {
			if (c->not_before <= now)
				conn_start(f, c);
			else if (c->not_before < *wake)
				*wake = c->not_before;
		}
		if (c->state == C_OPEN && c->waiting) {
			if (now - c->last_rx >= MS_FETCH_CONN_IDLE) {
				snprintf(msg, sizeof(msg),
				    "no reply from the server in %d s",
				    MS_FETCH_CONN_IDLE);
				conn_end(c, EX_TEMPFAIL, msg);
			} else if (c->last_rx + MS_FETCH_CONN_IDLE < *wake)
				*wake = c->last_rx + MS_FETCH_CONN_IDLE;
		}
		if (c->state == C_OPEN && c->more)
			*wake = now;
	}
}

static void
conns_abandon_slow(
    struct ms_fetch *f, double deadline, double grace, double now, double *wake)
{
	struct ms_fetch_conn *c;
	double limit;

	for (c = f->conns; c != NULL; c = c->next) {
		if (c->state != C_OPEN || !c->waiting)
			continue;
		limit = (c->wait_since > deadline ? c->wait_since : deadline) +
		    grace;
		if (now < limit) {
			if (limit < *wake)
				*wake = limit;
			continue;
		}
		ms_log_warn("%s: no complete reply from the server within "
			    "%.0f s past --max-time: abandoned, the next run "
			    "resumes",
		    c->acct->name, grace);
		c->acct->abandoned++;
		conn_end(c, 0, NULL);
	}
}

/* Wait for the multi handle's transfers and the open connections. */
static void
conns_poll(struct ms_fetch *f, int timeout)
{
	struct curl_waitfd fds[CONN_MAX];
	struct ms_fetch_conn *cs[CONN_MAX], *c;
	unsigned n = 0, i;

	for (c = f->conns; c != NULL && n < CONN_MAX; c = c->next) {
		if (c->state != C_OPEN)
			continue;
		if (c->more)
			timeout = 0;
		fds[n].fd = c->fd;
		fds[n].events = CURL_WAIT_POLLIN;
		if (c->out_off < c->out.len)
			fds[n].events |= CURL_WAIT_POLLOUT;
		fds[n].revents = 0;
		cs[n++] = c;
	}
	curl_multi_poll(f->m, n ? fds : NULL, n, timeout, NULL);
	for (i = 0; i < n; i++) {
		c = cs[i];
		if (c->state == C_OPEN && (fds[i].revents & CURL_WAIT_POLLOUT))
			conn_flush(c);
		if (c->state == C_OPEN && (fds[i].revents != 0 || c->more))
			conn_read(c);
	}
}

static void
conns_fail(struct ms_fetch_acct *a, int code, const char *msg)
{
	struct ms_fetch_conn *c;

	for (c = a->f->conns; c != NULL; c = c->next)
		if (c->acct == a)
			conn_end(c, code, msg);
}

/* At the end: owners are told of what still stood (err 0: abandoned). */
static void
conns_destroy(struct ms_fetch *f)
{
	struct ms_fetch_conn *c;

	for (c = f->conns; c != NULL; c = c->next)
		if (c->state != C_FREE && c->state != C_ENDED)
			conn_end(c, 0, NULL);
	for (c = f->conns; c != NULL; c = c->next)
		if (c->state == C_ENDED)
			conn_tell(c);
	while ((c = f->conns) != NULL) {
		f->conns = c->next;
		conn_free(c);
	}
}
