/*
 * limiter: how fast one mailbox's requests may start, for the fetch
 * engine. Its own unit, with a clock passed in, so that its arithmetic
 * is tested alone (tests/unit/test-limiter.c).
 *
 * A provider allows at most units in any window of window seconds (a
 * sliding window, as Google and Microsoft count) and counts a request
 * somewhere between its start and its end. The limiter knows both for
 * every request of the run: what ended within the last window (a ring of
 * slots) and what flies. A request starts only when those and it fit in
 * the quota, so that no window of the provider's is ever overrun. In the
 * run's first window, of which the ring knows nothing (a run begun just
 * after another), a token bucket of one burst paces as well.
 *
 * The quota learns: a refusal for rate drops it to what the provider
 * accepted in the window that ended with the refusal; windows without
 * one raise it slowly back toward its ceiling (the configured quota).
 */
#ifndef MS_LIMITER_H
#define MS_LIMITER_H

#define MS_LIMITER_SLOTS 1024

struct ms_limiter_slot {
	double end; /* requests that ended at end, or before it */
	double units;
};

struct ms_limiter {
	double units; /* the quota per window now; 0: no limit */
	double window; /* seconds */
	double burst; /* the costliest request */
	double ceiling; /* the configured quota: probing stops there */
	double since; /* when the run began */
	double tokens, refilled; /* the first window's bucket */
	double flying; /* units of the requests in flight */
	struct ms_limiter_slot slot[MS_LIMITER_SLOTS]; /* a ring */
	int first, nslots;
	double spent; /* units of the requests in the ring */
	double throttled_at; /* the last refusal that taught, 0: none */
	double probed_at; /* the quota last raised, or lowered */
	double paused_until; /* Retry-After, or an earlier run's window */
	double learned; /* the quota the last refusal showed, 0: none */
	int resumed; /* the run started from a quota learned before */
	double refused; /* units refused for rate, for figures */
};

/*
 * Set l up at time now: a quota of units per window seconds, burst the
 * costliest request; start, when between 0 and units, is a quota learned
 * in an earlier run to begin with.
 */
void ms_limiter_init(struct ms_limiter *, double units, double window,
    double burst, double start, double now);

/*
 * Take units for a request starting now: 0 when it may (then call
 * ms_limiter_started), else the seconds to wait before asking again.
 */
double ms_limiter_take(struct ms_limiter *, double units, double now);

/* A request of units started; it ended (whatever its answer) at now. */
void ms_limiter_started(struct ms_limiter *, double units);
void ms_limiter_ended(struct ms_limiter *, double units, double now);

/*
 * The provider refused units for rate at now, asking for retry_after
 * seconds (-1: not said; honoured up to max seconds). Returns the quota
 * now (lower when it learned).
 */
double ms_limiter_refused(struct ms_limiter *, double units, long retry_after,
    double max, double now);

/* The quota to keep for the next run: what the last refusal showed,
 * never a probe past it. */
double ms_limiter_quota(const struct ms_limiter *);

#endif
