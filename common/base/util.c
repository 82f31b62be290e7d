#include "util.h"

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "utf8.h"

static char errbuf[1024];
static int errcode = EX_SOFTWARE;

static void
oom(void)
{
	errx(EX_OSERR, "out of memory");
}

void *
ms_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
ms_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
ms_xreallocarray(void *p, size_t n, size_t size)
{
	void *q = reallocarray(p, n ? n : 1, size ? size : 1);

	if (q == NULL)
		oom();
	return q;
}

char *
ms_xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		oom();
	return p;
}

char *
ms_xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (p == NULL)
		oom();
	return p;
}

char *
ms_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		oom();
	va_end(ap);
	return s;
}

/*
 * Copy src into dst (size bytes) as one line a person may read: error
 * messages quote provider replies, file contents and email headers, so
 * white space controls become spaces, other control characters and
 * invalid UTF-8 become U+FFFD (term.h's rules), cut on a character.
 */
static void
clean_line(char *dst, size_t size, const char *src)
{
	size_t i = 0, k = 0, n, len = strlen(src);
	uint32_t cp;

	while (i < len) {
		n = ms_utf8_decode(src + i, len - i, &cp);
		if (n > 0 && !ms_utf8_is_control(cp)) {
			if (k + n >= size)
				break;
			memcpy(dst + k, src + i, n);
			k += n;
		} else if (n > 0 && (cp == '\t' || cp == '\n' || cp == '\r')) {
			if (k + 1 >= size)
				break;
			dst[k++] = ' ';
		} else {
			if (k + 3 >= size)
				break;
			memcpy(dst + k, MS_UTF8_REPLACEMENT, 3);
			k += 3;
		}
		i += n > 0 ? n : 1;
	}
	dst[k] = '\0';
}

static void
verr_set(int code, const char *fmt, va_list ap)
{
	char tmp[sizeof(errbuf)];

	/* The arguments may refer to errbuf itself (re-wrapping an error). */
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	clean_line(errbuf, sizeof(errbuf), tmp);
	errcode = code;
}

int
ms_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr_set(EX_SOFTWARE, fmt, ap);
	va_end(ap);
	return -1;
}

int
ms_errc(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr_set(code, fmt, ap);
	va_end(ap);
	return -1;
}

int
ms_errcode(void)
{
	return errcode;
}

const char *
ms_errstr(void)
{
	return errbuf;
}

static void
buf_grow(struct ms_buf *b, size_t extra)
{
	size_t need;

	if (extra > SIZE_MAX - b->len - 1)
		oom();
	need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	if (b->cap == 0)
		b->cap = 64;
	while (b->cap < need)
		b->cap = b->cap > SIZE_MAX / 2 ? need : b->cap * 2;
	b->s = ms_xreallocarray(b->s, b->cap, 1);
}

void
ms_buf_add(struct ms_buf *b, const char *s, size_t n)
{
	buf_grow(b, n);
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void
ms_buf_addc(struct ms_buf *b, char c)
{
	ms_buf_add(b, &c, 1);
}

void
ms_buf_adds(struct ms_buf *b, const char *s)
{
	ms_buf_add(b, s, strlen(s));
}

void
ms_buf_printf(struct ms_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	/*
	 * Measure first. (vsnprintf(NULL, 0, ...) is what this means, but
	 * gcc 12 with -fsanitize=undefined then warns of a null format.)
	 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-truncation"
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
#pragma GCC diagnostic pop
	va_end(ap);
	if (n < 0)
		oom();
	buf_grow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

char *
ms_buf_steal(struct ms_buf *b)
{
	char *s = b->s ? b->s : ms_xstrdup("");

	b->s = NULL;
	b->len = b->cap = 0;
	return s;
}

void
ms_buf_finish(struct ms_buf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

char
ms_ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

int
ms_ascii_ncasecmp(const char *a, const char *b, size_t n)
{
	for (; n > 0; a++, b++, n--) {
		char ca = ms_ascii_lower(*a), cb = ms_ascii_lower(*b);

		if (ca != cb)
			return (unsigned char)ca - (unsigned char)cb;
		if (ca == '\0')
			return 0;
	}
	return 0;
}

int
ms_ascii_casecmp(const char *a, const char *b)
{
	return ms_ascii_ncasecmp(a, b, SIZE_MAX);
}

char *
ms_utf8_sanitize(const char *s, size_t len)
{
	struct ms_buf b = {0};
	size_t i = 0, n;
	uint32_t cp;

	while (i < len) {
		if ((n = ms_utf8_decode(s + i, len - i, &cp)) == 0) {
			ms_buf_adds(&b, MS_UTF8_REPLACEMENT);
			i++;
			continue;
		}
		ms_buf_add(&b, s + i, n);
		i += n;
	}
	return ms_buf_steal(&b);
}

char *
ms_read_all(const char *path, size_t max, size_t *lenp)
{
	struct ms_buf b = {0};
	char chunk[65536];
	int fd, stdin_fd;
	ssize_t n;

	stdin_fd = path == NULL || strcmp(path, "-") == 0;
	if (stdin_fd)
		fd = STDIN_FILENO;
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		ms_err("%s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			ms_err("%s: %s", stdin_fd ? "stdin" : path,
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		if (b.len + (size_t)n > max) {
			ms_err("%s: larger than %zu bytes",
			    stdin_fd ? "stdin" : path, max);
			goto fail;
		}
		ms_buf_add(&b, chunk, (size_t)n);
	}
	if (!stdin_fd)
		close(fd);
	*lenp = b.len;
	return ms_buf_steal(&b);
fail:
	if (!stdin_fd)
		close(fd);
	ms_buf_finish(&b);
	return NULL;
}

void
ms_strv_add(char ***v, size_t *n, char *s)
{
	*v = ms_xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = s;
}

void
ms_strv_free(char **v, size_t n)
{
	while (n > 0)
		free(v[--n]);
	free(v);
}
