#include "limiter.h"

#include <string.h>

/* How late a paced request may start (the loop busy in a callback)
 * without losing the quota it waited for: the bucket holds that much
 * more than one burst, and pays for it with a longer window. */
#define LATE_WAKE 0.025
/* Refusals for rate within this share of a window after the quota was
 * lowered come from requests sent before: they teach nothing new. */
#define THROTTLE_SETTLE 0.25
/* Probing: after this many windows without a refusal, the quota rises
 * this much (a project's quota may have been raised since it was
 * learned; probing costs a few refused requests each time it finds
 * none). */
#define PROBE_WINDOWS 4
#define PROBE_STEP 0.02
/* A refusal never lowers the quota below this share of its ceiling:
 * one while the window was nearly empty is not about this rate. */
#define LEARN_FLOOR 0.2
/* When every request in flight must end before more fit: ask again. */
#define UNTIL_ONE_ENDS 1.0

void
ms_limiter_init(struct ms_limiter *l, double units, double window, double burst,
    double start, double now)
{
	memset(l, 0, sizeof(*l));
	l->units = l->ceiling = units;
	l->window = window;
	l->burst = burst;
	l->since = l->refilled = l->probed_at = now;
	if (start > 0 && start < units) {
		l->units = start;
		l->resumed = 1;
	}
}

/* Forget the requests that ended before the window that ends now. */
static void
expire(struct ms_limiter *l, double now)
{
	struct ms_limiter_slot *e;

	while (l->nslots > 0) {
		e = &l->slot[l->first];
		if (e->end >= now - l->window)
			break;
		l->spent -= e->units;
		l->first = (l->first + 1) % MS_LIMITER_SLOTS;
		l->nslots--;
	}
	if (l->nslots == 0)
		l->spent = 0; /* no rounding left over */
}

void
ms_limiter_started(struct ms_limiter *l, double units)
{
	l->flying += units;
}

/*
 * A request of units ended now: it counts in every window until now +
 * window, wherever in its flight the provider counted it. Requests that
 * end close together share a slot (as if all ended with the last): at
 * least window / SLOTS * 2 apart, so half the slots cover a window.
 */
void
ms_limiter_ended(struct ms_limiter *l, double units, double now)
{
	struct ms_limiter_slot *last;

	l->flying -= units;
	if (l->units <= 0 || l->window <= 0 || units <= 0)
		return;
	expire(l, now);
	l->spent += units;
	if (l->nslots > 0) {
		last = &l->slot[(l->first + l->nslots - 1) % MS_LIMITER_SLOTS];
		if (l->nslots == MS_LIMITER_SLOTS ||
		    now - last->end < l->window * 2 / MS_LIMITER_SLOTS) {
			last->end = now;
			last->units += units;
			return;
		}
	}
	last = &l->slot[(l->first + l->nslots) % MS_LIMITER_SLOTS];
	last->end = now;
	last->units = units;
	l->nslots++;
}

/*
 * 0 when units more fit in every window that can hold them, else the
 * seconds until they do: no window of the provider's then holds more
 * than what ended in the last window, plus what flies, plus units.
 */
static double
window_wait(struct ms_limiter *l, double units, double now)
{
	double over, quota = l->units > units ? l->units : units;
	int i;

	expire(l, now);
	over = l->flying + l->spent + units - quota;
	if (over <= 0)
		return 0;
	for (i = 0; i < l->nslots; i++) {
		const struct ms_limiter_slot *e =
		    &l->slot[(l->first + i) % MS_LIMITER_SLOTS];

		if ((over -= e->units) <= 0)
			return e->end + l->window - now + 1e-6;
	}
	return UNTIL_ONE_ENDS;
}

/* Windows without refusals since the quota last moved: raise it a
 * little, toward the ceiling, so that a quota learned too low (or
 * raised since) is found again. */
static void
probe(struct ms_limiter *l, double now)
{
	if (l->units >= l->ceiling ||
	    now - l->probed_at < l->window * PROBE_WINDOWS)
		return;
	l->units *= 1 + PROBE_STEP;
	if (l->units > l->ceiling)
		l->units = l->ceiling;
	l->probed_at = now;
}

/*
 * The first window's bucket: any span of s seconds starts at most cap +
 * rate * s units, so a window holds at most cap + rate * window, the
 * quota. The cap is one burst plus what a wake-up LATE_WAKE late has
 * earned meanwhile; rate is what is left of the quota after the cap. It
 * starts empty, so that a run begun just after another stays within the
 * quota too.
 */
static double
bucket(struct ms_limiter *l, double units, double now)
{
	double burst = l->burst > units ? l->burst : units;
	double rate = (l->units - burst) / (l->window + LATE_WAKE);
	double cap = burst + rate * LATE_WAKE;

	if (rate <= 0) { /* a quota below one burst */
		rate = l->units / l->window / 2;
		cap = burst;
	}
	l->tokens += (now - l->refilled) * rate;
	l->refilled = now;
	if (l->tokens > cap)
		l->tokens = cap;
	return l->tokens < units ? (units - l->tokens) / rate : 0;
}

double
ms_limiter_take(struct ms_limiter *l, double units, double now)
{
	double wait;

	if (l->paused_until > now)
		return l->paused_until - now;
	if (l->units <= 0 || l->window <= 0)
		return 0;
	probe(l, now);
	/* A window into the run, every request the provider counts in any
	 * window of its own is in the ring or in flight: the sliding window
	 * alone is exact, and the bucket would only cost a burst. */
	if (now - l->since >= l->window)
		return window_wait(l, units, now);
	if ((wait = bucket(l, units, now)) > 0 ||
	    (wait = window_wait(l, units, now)) > 0)
		return wait;
	l->tokens -= units;
	return 0;
}

double
ms_limiter_refused(struct ms_limiter *l, double units, long retry_after,
    double max, double now)
{
	double accepted, floor;

	l->refused += units;
	if (retry_after > 0) {
		double until = now + (retry_after > max ? max : retry_after);

		if (until > l->paused_until)
			l->paused_until = until;
	}
	if (l->units <= 0 || l->window <= 0)
		return l->units;
	if (now - l->since < l->window && l->resumed) {
		/* Paced at a quota learned before, and refused within the
		 * run's first window: the provider's window still holds an
		 * earlier run's requests (one just ended), which the ring
		 * knows nothing of. Nothing to learn; that usage is gone a
		 * window after this run began at the latest. */
		if (l->since + l->window > l->paused_until)
			l->paused_until = l->since + l->window;
		return l->units;
	}
	if (l->throttled_at > 0 &&
	    now - l->throttled_at < l->window * THROTTLE_SETTLE)
		return l->units;
	/* What the provider took in the window that ended with its first
	 * refusal is its quota, give or take the requests in flight. */
	expire(l, now);
	accepted = l->spent - units;
	floor = l->ceiling * LEARN_FLOOR;
	if (floor < l->burst)
		floor = l->burst;
	if (accepted < floor)
		accepted = floor;
	if (accepted < l->units) {
		l->units = accepted;
		if (l->tokens > 0)
			l->tokens = 0;
	}
	l->learned = l->units;
	l->throttled_at = l->probed_at = now;
	return l->units;
}

double
ms_limiter_quota(const struct ms_limiter *l)
{
	if (l->learned > 0 && l->learned < l->units)
		return l->learned;
	return l->units;
}
