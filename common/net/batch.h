/*
 * batch: Google's HTTP batch format for the Gmail driver: a request body
 * of GET parts, and a reply split into exactly one answer per request.
 *
 * Each part of the reply is answered as a separate request would be (its
 * own status, headers and JSON body); parts are matched to requests by
 * Content-ID ("<item-N>" asked, "<response-item-N>" answered), never by
 * position or by trust: a reply that does not answer exactly the
 * requests sent is refused whole, so no answer is ever stored under
 * another request's id and no request goes unanswered unnoticed.
 */
#ifndef MS_BATCH_H
#define MS_BATCH_H

#include <stddef.h>

#include "util.h"

#define MS_BATCH_MAX 100 /* Google's limit of parts in one batch */

/*
 * Append to body a batch of n GET requests for paths (each a path and
 * query, "/gmail/v1/users/me/messages/ID?format=..."), part i with
 * Content-ID <item-i>, delimited by boundary, closed.
 */
void ms_batch_request(
    struct ms_buf *body, const char *boundary, char *const *paths, size_t n);

/* One request's answer, borrowing from the reply. */
struct ms_batch_part {
	long status; /* the inner status line's code */
	long retry_after; /* seconds of its Retry-After, -1 when none */
	const char *body; /* its body (not NUL-terminated) */
	size_t len;
};

/*
 * Split the reply (content_type is its Content-Type header, with the
 * boundary) to n requests into parts[0..n), parts[i] answering request
 * i. 0, or -1 with ms_err (EX_TEMPFAIL: a reply to retry) when it is not
 * multipart, a part has no status line or no Content-ID naming a request
 * of the batch, two parts answer the same request, or a request is not
 * answered.
 */
int ms_batch_parse(const char *content_type, const char *body, size_t len,
    size_t n, struct ms_batch_part *parts);

#endif
