#include "listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "secret.h"
#include "text.h"
#include "util.h"

#define CONN_MAX 16 /* connections served at once */
#define HEAD_MAX 8192 /* bytes of a request head at most: 431 beyond */
#define HEAD_MS 10000 /* a peer's time to send its head */
#define FLUSH_MS 2000 /* to send an answer and see the peer close */
#define METHOD_MAX 32
#define DESC_MAX 300 /* bytes of the provider's error_description shown */

enum phase { FREE, READING, WRITING, CLOSING };

struct conn {
	int fd;
	enum phase phase;
	char *buf; /* HEAD_MAX bytes of guarded memory: it holds the code */
	size_t len;
	char out[1024]; /* the answer: fixed text only */
	size_t outlen, sent;
	long long since; /* ms: when accepted */
	long long until; /* ms: when its phase ends, done or not */
};

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
ms_listen_open(int port, int *bound)
{
	struct sockaddr_in sa = {0};
	socklen_t len = sizeof(sa);
	int fd, on = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return ms_errc(EX_OSERR, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(fd, CONN_MAX) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) == -1) {
		ms_errc(
		    EX_UNAVAILABLE, "127.0.0.1:%d: %s", port, strerror(errno));
		close(fd);
		return -1;
	}
	*bound = ntohs(sa.sin_port);
	return fd;
}

/*
 * Parsing (RFC 9112 §2-3, strictly but for the empty lines a request may
 * start with)
 */

static int
is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

/* The next line of s[0..n) from *off: its start and length without the
 * line end (LF or CRLF), *off moved past it; -1 when no LF ends it. */
static long
next_line(const char *s, size_t n, size_t *off, const char **line)
{
	const char *lf = memchr(s + *off, '\n', n - *off);
	size_t len;

	if (lf == NULL)
		return -1;
	*line = s + *off;
	len = (size_t)(lf - *line);
	*off += len + 1;
	if (len > 0 && (*line)[len - 1] == '\r')
		len--;
	return (long)len;
}

/* A header field line: a name of tchars, a colon, a value with no
 * control character but HTAB. */
static int
field_ok(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && is_tchar((unsigned char)s[i]); i++)
		;
	if (i == 0 || i == n || s[i] != ':')
		return 0;
	for (i++; i < n; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') ||
		    s[i] == 0x7f)
			return 0;
	return 1;
}

/* The length of the head in buf[0..len), through the empty line that
 * ends it, or 0 while it is not complete. */
static size_t
head_end(const char *buf, size_t len)
{
	const char *line;
	size_t off = 0;
	long n;
	int seen = 0;

	while ((n = next_line(buf, len, &off, &line)) >= 0) {
		if (n > 0)
			seen = 1;
		else if (seen)
			return off;
	}
	return 0;
}

int
ms_listen_parse(const char *buf, size_t len, char **method, char **target)
{
	const char *line, *f;
	size_t off = 0, m, t;
	long n, fl;

	*method = *target = NULL;
	if ((len = head_end(buf, len)) == 0)
		return -1;
	while ((n = next_line(buf, len, &off, &line)) == 0)
		; /* empty lines before the request line */
	if (n < 0)
		return -1;
	/* The head must be complete, and every field well formed. */
	while ((fl = next_line(buf, len, &off, &f)) > 0)
		if (!field_ok(f, (size_t)fl))
			return -1;
	if (fl < 0)
		return -1;
	/* method SP request-target SP HTTP/1.x */
	for (m = 0; m < (size_t)n && is_tchar((unsigned char)line[m]); m++)
		;
	if (m == 0 || m > METHOD_MAX || m == (size_t)n || line[m] != ' ')
		return -1;
	for (t = m + 1; t < (size_t)n && (unsigned char)line[t] > 0x20 &&
	     (unsigned char)line[t] < 0x7f;
	     t++)
		;
	if (t == m + 1 || (size_t)n - t != 9 || line[t] != ' ' ||
	    memcmp(line + t + 1, "HTTP/1.", 7) != 0 || line[t + 8] < '0' ||
	    line[t + 8] > '9')
		return -1;
	*method = ms_secret_strndup(line, m);
	*target = ms_secret_strndup(line + m + 1, t - m - 1);
	return 0;
}

/*
 * The redirect's query
 */

/* Percent-decode s[0..n) (+ as space) into guarded memory. */
static char *
unescape(const char *s, size_t n)
{
	char *d = ms_secret_alloc(n);
	size_t i, j = 0;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if (s[i] == '+')
			d[j++] = ' ';
		else if (s[i] == '%' && i + 2 < n &&
		    (hi = ms_text_hexval(s[i + 1])) >= 0 &&
		    (lo = ms_text_hexval(s[i + 2])) >= 0) {
			d[j++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			d[j++] = s[i];
	}
	d[j] = '\0';
	return d;
}

/* The value of key in a query string (guarded memory), or NULL. */
static char *
query_get(const char *q, const char *key)
{
	size_t kl = strlen(key), n;
	const char *p = q;

	for (;;) {
		n = strcspn(p, "&#");
		if (n > kl && strncmp(p, key, kl) == 0 && p[kl] == '=')
			return unescape(p + kl + 1, n - kl - 1);
		if (p[n] != '&')
			return NULL;
		p += n + 1;
	}
}

int
ms_listen_judge(const char *q, const char *state, char **code)
{
	char *got = query_get(q, "state"), *err, *desc;
	size_t sl = strlen(state);
	int rc = 0;

	*code = NULL;
	/* Not this flow's (a stale tab, a web page poking the port): the
	 * comparison takes the same time wherever they differ. */
	if (got == NULL || strlen(got) != sl ||
	    sodium_memcmp(got, state, sl) != 0) {
		ms_secret_free(got);
		return 1;
	}
	ms_secret_free(got);
	err = query_get(q, "error");
	desc = query_get(q, "error_description");
	if (err != NULL)
		rc = ms_errc(EX_NOPERM, "authorization refused: %s%s%.*s", err,
		    desc ? ": " : "", DESC_MAX, desc ? desc : "");
	else if ((*code = query_get(q, "code")) == NULL || **code == '\0')
		rc = ms_errc(EX_DATAERR, "the redirect carries no code");
	ms_secret_free(err);
	ms_secret_free(desc);
	if (rc == -1) {
		ms_secret_free(*code);
		*code = NULL;
	}
	return rc;
}

/*
 * Serving
 */

static void
drop(struct conn *c)
{
	if (c->phase == FREE)
		return;
	close(c->fd);
	sodium_memzero(c->buf, HEAD_MAX);
	c->fd = -1;
	c->phase = FREE;
	c->len = 0;
}

/* Send what is left of the answer; once sent, half-close and wait for
 * the peer to close (closing at once with unread input would reset the
 * connection, and the browser might lose the page). */
static void
flush(struct conn *c, long long now)
{
	ssize_t n;

	while (c->sent < c->outlen) {
		n = send(c->fd, c->out + c->sent, c->outlen - c->sent,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			drop(c);
			return;
		}
		c->sent += (size_t)n;
	}
	shutdown(c->fd, SHUT_WR);
	c->phase = CLOSING;
	c->until = now + FLUSH_MS;
}

static void
answer(struct conn *c, int status, const char *title, const char *text,
    long long now)
{
	const char *reason = status == 200 ? "OK"
	    : status == 404                ? "Not Found"
	    : status == 405                ? "Method Not Allowed"
	    : status == 431                ? "Request Header Fields Too Large"
					   : "Bad Request";
	char page[512];
	int n;

	n = snprintf(page, sizeof(page),
	    "<!doctype html><meta charset=utf-8><title>mailsync</title>"
	    "<h1>%s</h1><p>%s</p>\n",
	    title, text);
	c->outlen = (size_t)snprintf(c->out, sizeof(c->out),
	    "HTTP/1.1 %d %s\r\n"
	    "Content-Type: text/html; charset=utf-8\r\n"
	    "Content-Length: %d\r\n"
	    "%s"
	    "Cache-Control: no-store\r\n"
	    "Content-Security-Policy: default-src 'none'\r\n"
	    "Referrer-Policy: no-referrer\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Connection: close\r\n\r\n%s",
	    status, reason, n, status == 405 ? "Allow: GET\r\n" : "", page);
	c->sent = 0;
	sodium_memzero(c->buf, c->len);
	c->len = 0;
	c->phase = WRITING;
	c->until = now + FLUSH_MS;
	ms_log_debug("sign-in listener: answered %d %s", status, reason);
	flush(c, now);
}

/* A complete head is in c: answer it. Returns the flow's result when
 * this was its redirect (0 or -1), else 1. */
static int
dispatch(struct conn *c, const char *state, char **code, long long now)
{
	char *method, *target, *q;
	int rc = 1;

	if (ms_listen_parse(c->buf, c->len, &method, &target) == -1) {
		answer(c, 400, "Bad request",
		    "This is mailsync's sign-in listener; that was not HTTP.",
		    now);
		return 1;
	}
	if ((q = strchr(target, '?')) != NULL)
		*q++ = '\0';
	if (strcmp(target, "/") != 0)
		answer(c, 404, "Not found",
		    "This is mailsync's sign-in listener.", now);
	else if (strcmp(method, "GET") != 0)
		answer(c, 405, "Method not allowed",
		    "This is mailsync's sign-in listener: the sign-in comes "
		    "back with GET.",
		    now);
	else if ((rc = ms_listen_judge(q ? q : "", state, code)) == 1)
		answer(c, 400, "Not this sign-in",
		    "This address does not carry the sign-in mailsync is "
		    "waiting for (an old browser tab?). mailsync is still "
		    "waiting: finish the sign-in it printed.",
		    now);
	else if (rc == 0)
		answer(c, 200, "Signed in",
		    "mailsync has the authorization. You can close this "
		    "window.",
		    now);
	else
		answer(c, 400, "Not signed in",
		    "mailsync did not get the authorization; see the "
		    "terminal.",
		    now);
	ms_secret_free(method);
	ms_secret_free(target);
	return rc;
}

static int
step(struct conn *c, const char *state, char **code, long long now)
{
	char scratch[512];
	ssize_t n;

	switch (c->phase) {
	case READING:
		n = recv(
		    c->fd, c->buf + c->len, HEAD_MAX - c->len, MSG_DONTWAIT);
		if (n == -1 &&
		    (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return 1;
		if (n <= 0) { /* gone before its head was complete */
			drop(c);
			return 1;
		}
		c->len += (size_t)n;
		if (head_end(c->buf, c->len) > 0)
			return dispatch(c, state, code, now);
		if (c->len == HEAD_MAX)
			answer(c, 431, "Request too large",
			    "This is mailsync's sign-in listener.", now);
		return 1;
	case WRITING: flush(c, now); return 1;
	case CLOSING:
		n = recv(c->fd, scratch, sizeof(scratch), MSG_DONTWAIT);
		if (n > 0)
			sodium_memzero(scratch, (size_t)n);
		else if (n == 0 ||
		    (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
			drop(c);
		return 1;
	case FREE: return 1;
	}
	return 1;
}

/* The connection of that phase (FREE: of any) accepted first. */
static struct conn *
oldest(struct conn *c, enum phase phase)
{
	struct conn *o = NULL;
	int i;

	for (i = 0; i < CONN_MAX; i++)
		if ((phase == FREE || c[i].phase == phase) &&
		    (o == NULL || c[i].since < o->since))
			o = &c[i];
	return o;
}

/* Take every pending connection; when the table is full the one that
 * has been reading longest makes room (an idle peer never keeps the
 * browser out). */
static void
take(int fd, struct conn *c, long long now)
{
	struct conn *slot;
	int s, i;

	while (
	    (s = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) != -1 ||
	    errno == EINTR || errno == ECONNABORTED) {
		if (s == -1)
			continue;
		slot = NULL;
		for (i = 0; i < CONN_MAX && slot == NULL; i++)
			if (c[i].phase == FREE)
				slot = &c[i];
		if (slot == NULL)
			slot = oldest(c, READING);
		if (slot == NULL)
			slot = oldest(c, FREE);
		if (slot->phase != FREE)
			ms_log_debug("sign-in listener: %d connections open, "
				     "dropping the oldest",
			    CONN_MAX);
		drop(slot);
		slot->fd = s;
		slot->phase = READING;
		slot->len = 0;
		slot->since = now;
		slot->until = now + HEAD_MS;
	}
}

int
ms_listen_wait(int fd, const char *state, int timeout, char **code)
{
	struct conn c[CONN_MAX];
	struct pollfd pfd[CONN_MAX + 1];
	int who[CONN_MAX + 1];
	long long deadline = now_ms() + (long long)timeout * 1000, end = 0;
	long long t, wake;
	char *bufs = ms_secret_alloc((size_t)CONN_MAX * HEAD_MAX);
	int rc = 1, i, k, n, r;

	*code = NULL;
	for (i = 0; i < CONN_MAX; i++)
		c[i] = (struct conn){.fd = -1, .buf = bufs + i * HEAD_MAX};
	for (;;) {
		t = now_ms();
		if (rc == 1 && t >= deadline) {
			rc = ms_errc(EX_TEMPFAIL,
			    "no authorization within %d seconds: nothing "
			    "stored",
			    timeout);
			break;
		}
		/* With the result known, only answers still going out are
		 * waited for, a little. */
		wake = rc == 1 ? deadline : end;
		if (rc != 1 && t >= end)
			break;
		n = 0;
		if (rc == 1) {
			pfd[n] = (struct pollfd){fd, POLLIN, 0};
			who[n++] = -1;
		}
		for (i = 0; i < CONN_MAX; i++) {
			if (c[i].phase == FREE)
				continue;
			if (c[i].until <= t ||
			    (rc != 1 && c[i].phase == READING)) {
				drop(&c[i]);
				continue;
			}
			if (c[i].until < wake)
				wake = c[i].until;
			pfd[n] = (struct pollfd){c[i].fd,
			    c[i].phase == WRITING ? POLLOUT : POLLIN, 0};
			who[n++] = i;
		}
		if (n == 0) /* the result is known and every answer out */
			break;
		if (poll(pfd, (nfds_t)n, (int)(wake - t)) == -1) {
			if (errno == EINTR)
				continue;
			rc = ms_errc(EX_OSERR, "poll: %s", strerror(errno));
			break;
		}
		t = now_ms();
		for (k = 0; k < n; k++) {
			if (pfd[k].revents == 0)
				continue;
			if (who[k] == -1) {
				take(fd, c, t);
				continue;
			}
			if (rc != 1 && c[who[k]].phase == READING) {
				drop(&c[who[k]]); /* the wait is over */
				continue;
			}
			r = step(&c[who[k]], state, code, t);
			if (rc == 1 && r != 1) {
				rc = r;
				end = t + FLUSH_MS < deadline ? t + FLUSH_MS
							      : deadline;
			}
		}
	}
	for (i = 0; i < CONN_MAX; i++)
		drop(&c[i]);
	ms_secret_free(bufs);
	if (rc != 0) {
		ms_secret_free(*code);
		*code = NULL;
	}
	return rc;
}
