#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "cli.h"
#include "fetch.h"
#include "print.h"
#include "pull.h"
#include "util.h"

/*
 * The progress line, on a terminal only: every account's messages read
 * (of the mailbox's, when the provider said how many), the run's rate
 * and, when every total is known, the time left; cut to the terminal's
 * width, the accounts that do not fit summed up as "+N more". It is
 * redrawn in place, and every other write to stderr (log lines, errors)
 * first clears it: stderr goes through clear_write() while it is shown.
 */
static FILE *tty; /* the terminal's stderr */
static int shown; /* a progress line is on it */
static double started;

static ssize_t
clear_write(void *cookie, const char *buf, size_t n)
{
	(void)cookie;
	if (shown) {
		fputs("\r\033[K", tty);
		shown = 0;
	}
	return fwrite(buf, 1, n, tty) == n ? (ssize_t)n : -1;
}

void
ms_progress_start(void)
{
	static cookie_io_functions_t io = {NULL, clear_write, NULL, NULL};
	FILE *f;

	started = ms_fetch_now();
	tty = stderr;
	if ((f = fopencookie(NULL, "w", io)) == NULL)
		return;
	setvbuf(f, NULL, _IONBF, 0);
	stderr = f;
}

void
ms_progress_end(void)
{
	if (shown)
		fputs("\r\033[K", tty);
	shown = 0;
	if (tty != NULL && stderr != tty) {
		fclose(stderr);
		stderr = tty;
	}
}

/* n with thousands separators: 12,345. */
static void
add_count(struct ms_buf *b, long n)
{
	char digits[32];
	size_t i, len;

	len = (size_t)snprintf(digits, sizeof(digits), "%ld", n < 0 ? 0 : n);
	for (i = 0; i < len; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			ms_buf_addc(b, ',');
		ms_buf_addc(b, digits[i]);
	}
}

static void
add_left(struct ms_buf *b, double s)
{
	if (s < 60)
		ms_buf_printf(b, ", %d s left", (int)s);
	else if (s < 3600)
		ms_buf_printf(b, ", %d min left", (int)(s / 60 + 0.5));
	else
		ms_buf_printf(b, ", %d h %02d min left", (int)(s / 3600),
		    (int)((long)s % 3600 / 60));
}

void
ms_progress_show(void *arg)
{
	const struct ms_pull *p = arg;
	struct ms_pull_result r;
	struct ms_buf line = {0}, tail = {0}, part, more, count;
	size_t i, n = ms_pull_count(p), k;
	double elapsed = ms_fetch_now() - started;
	long done = 0, left = 0;
	int width, room, used = 0, known = 1, w;

	if ((width = ms_cli_width(STDERR_FILENO)) <= 0)
		width = 80;
	/* Not the last column: a terminal may wrap there. */
	room = width - 1;
	for (i = 0; i < n; i++) {
		ms_pull_result(p, i, &r);
		done += r.fetched;
		if (r.total < 0)
			known = 0;
		else if (r.total > r.fetched)
			left += r.total - r.fetched;
	}
	if (elapsed >= 1 && done > 0) {
		ms_buf_adds(&tail, "  ");
		add_count(&tail, (long)(done / elapsed + 0.5));
		ms_buf_adds(&tail, " msg/s");
		if (known && left > 0)
			add_left(&tail, left / (done / elapsed));
	}
	if (tail.len > 0 && (int)tail.len + 20 > room)
		tail.len = 0, tail.s[0] = '\0'; /* too narrow for it */
	room -= tail.len > 0 ? ms_print_width(tail.s) : 0;
	for (i = 0; i < n; i++) {
		ms_pull_result(p, i, &r);
		memset(&count, 0, sizeof(count));
		ms_buf_addc(&count, ' ');
		add_count(&count, r.fetched);
		if (r.total >= 0) {
			ms_buf_addc(&count, '/');
			add_count(&count, r.total);
		}
		memset(&part, 0, sizeof(part));
		ms_buf_printf(
		    &part, "%s%s%s", i > 0 ? "  " : "", r.address, count.s);
		memset(&more, 0, sizeof(more));
		if ((k = n - i - 1) > 0)
			ms_buf_printf(&more, "  +%zu more", k);
		w = ms_print_width(part.s);
		if (used + w + (k > 0 ? (int)more.len : 0) <= room) {
			ms_buf_adds(&line, part.s);
			used += w;
		} else {
			/* The rest summed up; when not even the first fits,
			 * it is cut to leave room for the sum. */
			ms_buf_finish(&more);
			ms_buf_printf(&more, "  +%zu more", i > 0 ? n - i : k);
			if (i == 0) {
				/* The address gives way before its count. */
				w = room - (k > 0 ? (int)more.len : 0);
				if (w - (int)count.len >= 8) {
					used += ms_print_fit(&line, r.address,
					    w - (int)count.len);
					ms_buf_adds(&line, count.s);
					used += (int)count.len;
				} else
					used += ms_print_fit(
					    &line, part.s, w > 1 ? w : 1);
			}
			if ((i > 0 || k > 0) && used + (int)more.len <= room)
				ms_buf_adds(&line, more.s);
			ms_buf_finish(&more);
			ms_buf_finish(&part);
			ms_buf_finish(&count);
			break;
		}
		ms_buf_finish(&more);
		ms_buf_finish(&part);
		ms_buf_finish(&count);
	}
	fprintf(
	    tty, "\r%s%s\033[K", line.s ? line.s : "", tail.s ? tail.s : "");
	fflush(tty);
	shown = 1;
	ms_buf_finish(&line);
	ms_buf_finish(&tail);
}
