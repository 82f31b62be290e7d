/*
 * fetch: many HTTP requests at once over one libcurl multi handle, for
 * mailsync-pull. Each account has its own queue, a cap on requests in
 * flight, a rate limiter in quota units per minute, its bearer token
 * (refreshed once on a 401), and retries with exponential backoff and
 * jitter on transport errors and the replies its provider's classifier
 * calls transient or rate-limited, honouring Retry-After. A request waiting for
 * its time is parked, never slept on.
 */
#ifndef MS_FETCH_H
#define MS_FETCH_H

#include <signal.h>
#include <time.h>

#include "http.h"

#define MS_FETCH_ATTEMPTS 5 /* per request, the first included */
#define MS_FETCH_RETRY_MAX 60 /* seconds: the longest wait honoured */
/* The largest reply a request takes unless its spec says: a reply past
 * its bound is refused (the account fails), never retried. */
#define MS_FETCH_MAX_BODY (16u * 1024 * 1024)

struct ms_fetch;
struct ms_fetch_acct;

/*
 * Called once per request with its final response (any status but the
 * retried ones), or with resp NULL when the request failed for good (the
 * account is failed then, see ms_fetch_acct_error).
 */
typedef void
ms_fetch_cb(struct ms_fetch_acct *, const struct ms_http_resp *resp, void *arg);

/* Gives the account's access token and when it expires (0: not known);
 * refresh asks for a new one. */
typedef int
ms_fetch_auth(void *arg, int refresh, char **token, time_t *expires);

/* What a reply that came back means for the engine. */
enum ms_fetch_verdict {
	MS_FETCH_ANSWER, /* for the callback: a success, or a refusal */
	MS_FETCH_RETRY, /* transient: asked again after a backoff */
	MS_FETCH_RATE, /* refused for rate: asked again, the quota learns */
	MS_FETCH_REFRESH, /* the token is refused: refreshed once, again */
};

/* A provider's reading of a reply's status and body (a driver's). */
typedef enum ms_fetch_verdict ms_fetch_classify(long status, const char *body);

/* HTTP's own: 401 refresh, 429 rate, 408 and 500, 502-504 retry. */
enum ms_fetch_verdict ms_fetch_classify_http(long status, const char *body);

/*
 * One mailbox's limits: requests in flight, and the provider's quota of
 * units in any window of window seconds, burst the most one request
 * costs (common/net/limiter.h paces them: no window is ever overrun, and
 * the quota learns from refusals for rate).
 */
struct ms_fetch_limits {
	int concurrency; /* requests in flight, >= 1 */
	double units; /* per window; 0: no limit */
	double window; /* seconds */
	double burst; /* the largest request, in units */
	/* The units to start from (a rate learned before), 0: units. */
	double start;
	ms_fetch_classify *classify; /* NULL: ms_fetch_classify_http */
};

struct ms_fetch_spec {
	const char *method; /* "GET" (default) or "POST" */
	const char *url;
	const char *content_type;
	const char *body; /* copied */
	const char *const *headers; /* copied */
	double units; /* quota cost */
	/* Of the account's concurrency it takes while in flight, 0: 1 (a
	 * batch whose provider runs its requests side by side takes as many
	 * as it runs at once; at most the whole concurrency). */
	int slots;
	double delay; /* seconds before it may start */
	int urgent; /* queued ahead of the account's requests not urgent */
	size_t max_body; /* the largest reply taken, 0: MS_FETCH_MAX_BODY */
	ms_fetch_cb *cb;
	void *arg;
};

struct ms_fetch *ms_fetch_create(void);
void ms_fetch_destroy(struct ms_fetch *);

struct ms_fetch_acct *
ms_fetch_acct_create(struct ms_fetch *, const struct ms_fetch_limits *,
    ms_fetch_auth *auth, void *auth_arg, const char *name);

/* Queue a request; ignored (returns -1) once the account failed. */
int ms_fetch_add(struct ms_fetch_acct *, const struct ms_fetch_spec *);

/*
 * Run until no account has work left. Past deadline (a CLOCK_MONOTONIC
 * time in seconds, 0 for none) ms_fetch_stopping() turns true: drivers
 * then start no new unit of work (a page, a round) but finish the one
 * they are in, so that every run makes progress and none runs over by
 * more than one unit. Past the deadline, whatever peers do (a provider
 * that trickles its reply), no request stays in flight longer than grace
 * seconds (counted from the deadline for those that started before it):
 * it is abandoned, its unit of work left for the next run, so a stalled
 * peer cannot hold the run while a unit that is merely long finishes.
 * Returns whether the deadline passed.
 */
int ms_fetch_run(struct ms_fetch *, double deadline, double grace);
int ms_fetch_stopping(const struct ms_fetch *);

/*
 * Stop at once: no request starts any more and those in flight are
 * abandoned (their callbacks get NULL, the accounts are not failed), so
 * that only what the drivers committed stays. Safe in a signal handler
 * (it sets a flag the run polls at least once a second).
 */
void ms_fetch_interrupt(struct ms_fetch *);
/* Whether the run was interrupted. */
int ms_fetch_interrupted(const struct ms_fetch *);
/* Requests abandoned past the deadline (a peer too slow), for figures. */
long ms_fetch_acct_abandoned(const struct ms_fetch_acct *);

/* Call tick(arg) about once a second while running (progress lines). */
void ms_fetch_set_tick(struct ms_fetch *, void (*tick)(void *), void *arg);

/*
 * Requests go to origin only (the scheme, host and port of url, the
 * provider's API): a request for any other origin is refused before its
 * token is sent, and fails the account. NULL: no check.
 */
void ms_fetch_acct_origin(struct ms_fetch_acct *, const char *url);

/*
 * A reply refused units of the account's requests for the provider's
 * rate (a batch's rate-limited parts; whole 429s and rate-limit 403s the
 * engine sees itself), asking for retry_after seconds (-1: not said).
 * The account's quota drops to what the provider accepted in the window
 * when refusals began, then climbs back slowly toward its configured
 * units; no request starts before retry_after.
 */
void
ms_fetch_acct_throttled(struct ms_fetch_acct *, double units, long retry_after);
/* The units per window the account paces at now (learned, or set), or
 * what the last refusal showed when it probed past that since. */
double ms_fetch_acct_quota(const struct ms_fetch_acct *);
/* Refusals for rate seen, in units, for figures. */
double ms_fetch_acct_refused(const struct ms_fetch_acct *);

/*
 * The reply being handled said the token is no longer good for some of
 * the requests inside it (a batch part's 401): the next request starts
 * with a token refreshed, unless one newer than the reply's came
 * meanwhile. -1 when the token refused is itself one so refreshed and
 * not yet expired: a refresh does not mend it.
 */
int ms_fetch_acct_reauth(struct ms_fetch_acct *);

/*
 * The account's credential as its auth callback gives it (an access
 * token, or an IMAP password), for drivers that send it themselves: a
 * new string in guarded memory (ms_secret_free) in *secret. 0, or -1
 * with ms_err (the account is not failed: the caller says how).
 */
int ms_fetch_acct_secret(struct ms_fetch_acct *, char **secret);

/* Fail the account: its queued requests are dropped, later adds ignored. */
void ms_fetch_acct_fail(struct ms_fetch_acct *, int code, const char *msg);
/* 0 while the account is fine, else the sysexits code it failed with. */
int ms_fetch_acct_error(const struct ms_fetch_acct *);
const char *ms_fetch_acct_errmsg(const struct ms_fetch_acct *);
/* Requests that started, for figures. */
long ms_fetch_acct_requests(const struct ms_fetch_acct *);
struct ms_fetch *ms_fetch_acct_engine(struct ms_fetch_acct *);

/*
 * Connections: a byte stream to a server that speaks something other
 * than HTTP (IMAP), run in the same loop as the requests, so that its
 * account goes on concurrently with every other. libcurl sets it up
 * (CURLOPT_CONNECT_ONLY): name resolution, TCP, TLS verified as for
 * HTTPS (ms_http_tls), and for an imap:// or imaps:// URL the greeting,
 * STARTTLS and the login, with the SASL mechanism the server offers
 * (XOAUTH2 or OAUTHBEARER given a bearer token) or the LOGIN command.
 * Then its owner reads and writes it (ms_fetch_conn_send, ops->data).
 *
 * The engine calls back from its loop only, never from inside a call of
 * the owner's. ops->closed comes once, when the connection ends other
 * than by ms_fetch_conn_close: err a sysexits code and msg why, or err 0
 * when it was abandoned (the run interrupted, or past the deadline). A
 * connection that fails to open gets ops->open with the error instead.
 */
struct ms_fetch_conn;

struct ms_fetch_conn_ops {
	void (*open)(struct ms_fetch_conn *, int err, const char *msg, void *);
	void (*data)(struct ms_fetch_conn *, const char *, size_t, void *);
	void (*closed)(
	    struct ms_fetch_conn *, int err, const char *msg, void *);
};

struct ms_fetch_conn_spec {
	const char *url; /* imaps://host:port, or imap://host:port */
	int starttls; /* imap://: STARTTLS, required */
	const char *user;
	const char *password; /* copied into guarded memory, or NULL */
	const char *bearer; /* SASL XOAUTH2 / OAUTHBEARER, or NULL */
	double delay; /* seconds before it may start */
	/* Seconds the connection and the login may take (0: 30), so that
	 * connect's --timeout holds for a server that never answers. */
	long timeout;
	const struct ms_fetch_conn_ops *ops;
	void *arg;
};

/* Open a connection for the account; NULL once the account failed. */
struct ms_fetch_conn *
ms_fetch_conn_open(struct ms_fetch_acct *, const struct ms_fetch_conn_spec *);

/* Queue bytes to send (copied; sent as the peer takes them). */
void ms_fetch_conn_send(struct ms_fetch_conn *, const char *, size_t);

/*
 * Whether the owner waits for the peer (a command sent and not yet
 * answered). The run goes on while a connection waits or connects; one
 * that waits and receives nothing for MS_FETCH_CONN_IDLE seconds ends
 * (EX_TEMPFAIL); past the deadline one that waits longer than grace is
 * abandoned, as a request would be.
 */
void ms_fetch_conn_waiting(struct ms_fetch_conn *, int waiting);
#define MS_FETCH_CONN_IDLE 60

/* Close it at once (nothing more is called back) and free it. */
void ms_fetch_conn_close(struct ms_fetch_conn *);

/* What the server said while libcurl set the connection up (its last
 * 8 KiB or so: for IMAP, the capabilities after the login). */
const char *ms_fetch_conn_setup(const struct ms_fetch_conn *, size_t *len);

/* Bytes received on it so far, for figures. */
long long ms_fetch_conn_received(const struct ms_fetch_conn *);

/* Now, CLOCK_MONOTONIC, in seconds. */
double ms_fetch_now(void);

#endif
