#include "batch.h"

#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "msg.h"

#define PREFIX "<response-item-"

void
ms_batch_request(
    struct ms_buf *body, const char *boundary, char *const *paths, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		ms_buf_printf(body,
		    "--%s\r\n"
		    "Content-Type: application/http\r\n"
		    "Content-ID: <item-%zu>\r\n\r\n"
		    "GET %s\r\n\r\n",
		    boundary, i, paths[i]);
	ms_buf_printf(body, "--%s--\r\n", boundary);
}

struct split {
	size_t n; /* requests */
	struct ms_batch_part *parts;
	unsigned char *seen; /* per request */
	size_t nparts;
	int err; /* set with ms_err */
};

/* The request a Content-ID "<response-item-N>" answers, or -1. */
static long
request_of(const char *cid, size_t n)
{
	size_t plen = strlen(PREFIX), i;
	long idx = 0;

	if (cid == NULL || strncmp(cid, PREFIX, plen) != 0)
		return -1;
	for (i = plen; cid[i] >= '0' && cid[i] <= '9'; i++) {
		if (idx > (long)n)
			return -1;
		idx = idx * 10 + (cid[i] - '0');
	}
	if (i == plen || cid[i] != '>' || cid[i + 1] != '\0' ||
	    (size_t)idx >= n)
		return -1;
	return idx;
}

/* "HTTP/1.1 200 OK" at s[0..n): the code, or -1. */
static long
status_line(const char *s, size_t n)
{
	size_t i = 5;
	long code = 0;

	if (n < 12 || memcmp(s, "HTTP/", 5) != 0)
		return -1;
	while (i < n && s[i] != ' ' && s[i] != '\r' && s[i] != '\n')
		i++;
	if (i + 4 > n || s[i] != ' ')
		return -1;
	for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		if ((code = code * 10 + (s[i] - '0')) > 999)
			return -1;
	return code >= 100 ? code : -1;
}

/* The inner response at s[0..n): its status line, headers and body. */
static int
inner(const char *s, size_t n, struct ms_batch_part *p)
{
	struct ms_msg h = {0};
	const char *nl = memchr(s, '\n', n), *ra;
	size_t off, line;
	char *end;
	int rc = 0;

	if (nl == NULL || (p->status = status_line(s, (size_t)(nl - s))) < 0)
		return ms_errc(EX_TEMPFAIL,
		    "Gmail batch: a part without a "
		    "status line");
	line = (size_t)(nl - s) + 1;
	if (ms_msg_parse_headers(s + line, n - line, &h, &off) == -1)
		rc = ms_errc(EX_TEMPFAIL, "Gmail batch: a part's headers: %s",
		    ms_errstr());
	else {
		p->retry_after = -1;
		if ((ra = ms_msg_header(&h, "Retry-After")) != NULL &&
		    (p->retry_after = strtol(ra, &end, 10)) < 0)
			p->retry_after = -1;
		p->body = s + line + off;
		p->len = n - line - off;
	}
	ms_msg_finish(&h);
	return rc;
}

static int
one_part(const char *s, size_t n, void *arg)
{
	struct split *sp = arg;
	struct ms_msg h = {0};
	size_t off;
	long idx;
	int rc = -1;

	sp->nparts++;
	if (ms_msg_parse_headers(s, n, &h, &off) == -1) {
		ms_errc(EX_TEMPFAIL, "Gmail batch: part %zu: %s", sp->nparts,
		    ms_errstr());
		goto out;
	}
	if ((idx = request_of(ms_msg_header(&h, "Content-ID"), sp->n)) < 0) {
		ms_errc(EX_TEMPFAIL,
		    "Gmail batch: part %zu answers no request of the batch "
		    "(Content-ID missing or unknown)",
		    sp->nparts);
		goto out;
	}
	if (sp->seen[idx]) {
		ms_errc(EX_TEMPFAIL,
		    "Gmail batch: two parts answer request %ld (duplicate "
		    "Content-ID)",
		    idx);
		goto out;
	}
	sp->seen[idx] = 1;
	rc = inner(s + off, n - off, &sp->parts[idx]);
out:
	ms_msg_finish(&h);
	return rc;
}

int
ms_batch_parse(const char *ct, const char *body, size_t len, size_t n,
    struct ms_batch_part *parts)
{
	struct split sp = {n, parts, NULL, 0, 0};
	char *b = ms_mime_param(ct, "boundary");
	size_t i;
	int rc;

	memset(parts, 0, n * sizeof(*parts));
	if (b == NULL || *b == '\0') {
		free(b);
		return ms_errc(EX_TEMPFAIL,
		    "Gmail batch: reply is not "
		    "multipart");
	}
	sp.seen = ms_xcalloc(n ? n : 1, 1);
	rc = ms_mime_split(body, len, b, one_part, &sp);
	if (rc == 2)
		rc = ms_errc(EX_TEMPFAIL, "Gmail batch: no part in the reply");
	else if (rc == 1)
		rc = ms_errc(EX_TEMPFAIL,
		    "Gmail batch: the reply is cut short "
		    "(no closing boundary)");
	for (i = 0; rc == 0 && i < n; i++)
		if (!sp.seen[i])
			rc = ms_errc(EX_TEMPFAIL,
			    "Gmail batch: request %zu of %zu not answered", i,
			    n);
	free(sp.seen);
	free(b);
	return rc;
}
