/*
 * test-limiter: the pacing arithmetic of common/net/limiter.c on a
 * simulated clock: no window of the provider's is overrun however it
 * counts a request, a steady run uses nearly the whole quota, and the
 * quota learns from refusals as the header says.
 */
#include <stdio.h>
#include <stdlib.h>

#include "limiter.h"
#include "tap.h"

#define MAXREQ 20000

struct sim {
	double start[MAXREQ], end[MAXREQ], units[MAXREQ];
	int n;
};

/*
 * Run requests of units each, lasting dur seconds, at most conc in
 * flight, for secs seconds from t0, starting each as soon as the
 * limiter allows (at the millisecond it names).
 */
static void
run(struct ms_limiter *l, struct sim *s, double units, double dur, int conc,
    double t0, double secs)
{
	double now = t0, wait, next;
	int i, flying;

	while (now < t0 + secs && s->n < MAXREQ) {
		for (i = 0, flying = 0; i < s->n; i++) {
			if (s->end[i] > now)
				flying++;
		}
		/* End what ended. */
		for (i = 0; i < s->n; i++)
			if (s->end[i] <= now && s->units[i] > 0) {
				ms_limiter_ended(l, s->units[i], s->end[i]);
				s->units[i] = -s->units[i]; /* ended */
			}
		next = now + 0.001;
		if (flying < conc &&
		    (wait = ms_limiter_take(l, units, now)) == 0) {
			ms_limiter_started(l, units);
			s->start[s->n] = now;
			s->end[s->n] = now + dur;
			s->units[s->n++] = units;
			continue;
		}
		now = next;
	}
	for (i = 0; i < s->n; i++)
		if (s->units[i] < 0)
			s->units[i] = -s->units[i];
}

/* The most units counted in any window of w seconds when the provider
 * counts each request at its start (at = 0) or its end (at = 1). */
static double
worst(const struct sim *s, double w, int at)
{
	double most = 0, sum, t;
	int i, j;

	for (i = 0; i < s->n; i++) {
		t = at ? s->end[i] : s->start[i];
		for (j = 0, sum = 0; j < s->n; j++) {
			double u = at ? s->end[j] : s->start[j];

			if (u >= t && u < t + w)
				sum += s->units[j];
		}
		if (sum > most)
			most = sum;
	}
	return most;
}

int
main(void)
{
	static struct ms_limiter l;
	static struct sim s;
	double q;

	/* No quota: nothing waits. */
	ms_limiter_init(&l, 0, 60, 250, 0, 0);
	is_int((int)(ms_limiter_take(&l, 1e6, 0) * 1000), 0,
	    "no quota: nothing waits");

	/* A 6,000-unit minute, batches of 250 lasting 0.3 s, 10 at once,
	 * for five minutes. */
	ms_limiter_init(&l, 6000, 60, 250, 0, 0);
	run(&l, &s, 250, 0.3, 10, 0, 300);
	ok(worst(&s, 60, 0) <= 6000,
	    "counted at their start, no minute holds "
	    "more than the quota (%.0f)",
	    worst(&s, 60, 0));
	ok(worst(&s, 60, 1) <= 6000,
	    "counted at their end, no minute holds "
	    "more than the quota (%.0f)",
	    worst(&s, 60, 1));
	q = 0;
	for (int i = 0; i < s.n; i++)
		if (s.start[i] >= 60)
			q += s.units[i];
	ok(q / 4 >= 0.97 * 6000 && q / 4 <= 6000,
	    "past the first minute the run uses %.1f%% of the quota",
	    100 * q / 4 / 6000);
	ok(s.n > 0 && s.start[0] >= 0.2 && s.start[0] < 3,
	    "the first minute starts paced, not with a burst of ten "
	    "(first at %.2f s)",
	    s.start[0]);

	/* Learning: configured at 15,000, refused when the window holds
	 * 6,000 accepted units: the quota drops to what was accepted. */
	ms_limiter_init(&l, 15000, 60, 250, 0, 0);
	for (int i = 0; i < 24; i++) {
		ms_limiter_started(&l, 250);
		ms_limiter_ended(&l, 250, 61 + i * 0.5);
	}
	ms_limiter_started(&l, 250);
	ms_limiter_ended(&l, 250, 75);
	q = ms_limiter_refused(&l, 250, -1, 60, 75);
	ok(q >= 5999 && q <= 6001,
	    "a refusal teaches the accepted units: "
	    "%.0f",
	    q);
	ok(ms_limiter_refused(&l, 250, -1, 60, 76) == q,
	    "a refusal right after teaches nothing more");
	is_int((int)ms_limiter_quota(&l), (int)q, "the quota kept is it");
	/* Probing: four quiet windows raise it by 2 %. */
	ms_limiter_take(&l, 1, 75 + 4 * 60 + 1);
	ok(l.units > q * 1.019 && l.units < q * 1.021,
	    "four quiet windows raise it 2%% (%.0f)", l.units);
	is_int((int)ms_limiter_quota(&l), (int)q,
	    "a probe past what a refusal showed is not kept");
	/* A floor: a refusal while the window is nearly empty. */
	ms_limiter_init(&l, 15000, 60, 250, 0, 0);
	ms_limiter_started(&l, 250);
	ms_limiter_ended(&l, 250, 70);
	ok(ms_limiter_refused(&l, 250, -1, 60, 70) == 3000,
	    "never below a fifth of the ceiling");

	/* Resumed from a learned quota and refused in its first window:
	 * an earlier run's requests; the account waits out the window. */
	ms_limiter_init(&l, 15000, 60, 250, 6000, 100);
	ok(l.units == 6000, "a run starts from the quota learned before");
	q = ms_limiter_refused(&l, 250, -1, 60, 110);
	ok(q == 6000, "a refusal in its first window teaches nothing");
	ok(ms_limiter_take(&l, 250, 110) > 49.9,
	    "and waits until the window has passed (%.1f s)",
	    ms_limiter_take(&l, 250, 110));
	ok(ms_limiter_take(&l, 250, 160.001) < 60, "then it goes on");

	/* Retry-After: honoured, up to the cap given. */
	ms_limiter_init(&l, 6000, 60, 250, 0, 0);
	ms_limiter_refused(&l, 0, 5, 60, 1000);
	ok(ms_limiter_take(&l, 1, 1000) > 4.9, "Retry-After pauses");
	ms_limiter_refused(&l, 0, 100000, 60, 2000);
	ok(ms_limiter_take(&l, 1, 2000) <= 60, "up to the cap");
	return done_testing();
}
