/*
 * test-batch: Google's batch format, as the Gmail driver sends it and
 * reads the replies, on canned replies shaped as Google's batch guide
 * shows them.
 */
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "tap.h"
#include "util.h"

#define CT "multipart/mixed; boundary=batch_XyZ"

/* A reply part answering request idx (its Content-ID) with status. */
static void
part(struct ms_buf *b, const char *cid, int status, const char *json)
{
	ms_buf_printf(b,
	    "--batch_XyZ\r\n"
	    "Content-Type: application/http\r\n"
	    "Content-ID: %s\r\n\r\n"
	    "HTTP/1.1 %d %s\r\n"
	    "Content-Type: application/json; charset=UTF-8\r\n"
	    "%s"
	    "\r\n%s\r\n",
	    cid, status, status == 200 ? "OK" : "Error",
	    status == 429 ? "Retry-After: 7\r\n" : "", json);
}

static int
parse(struct ms_buf *b, size_t n, struct ms_batch_part *p)
{
	return ms_batch_parse(CT, b->s, b->len, n, p);
}

int
main(void)
{
	struct ms_batch_part p[3];
	struct ms_buf b = {0};
	char *paths[] = {"/gmail/v1/users/me/messages/a1?format=metadata",
	    "/gmail/v1/users/me/messages/b2?format=metadata"};

	ms_batch_request(&b, "mailsync_b", paths, 2);
	ok(strstr(b.s,
	       "--mailsync_b\r\nContent-Type: application/http\r\n"
	       "Content-ID: <item-1>\r\n\r\nGET /gmail/v1/users/me/"
	       "messages/b2?format=metadata\r\n\r\n") != NULL,
	    "a request part: application/http, Content-ID, a GET line");
	ok(b.len > 16 && strcmp(b.s + b.len - 16, "--mailsync_b--\r\n") == 0,
	    "the request body is closed");
	ms_buf_finish(&b);

	part(&b, "<response-item-0>", 200, "{\"id\":\"a1\"}");
	part(&b, "<response-item-1>", 404, "{\"error\":{}}");
	part(&b, "<response-item-2>", 429, "{\"error\":{}}");
	ms_buf_adds(&b, "--batch_XyZ--\r\n");
	is_int(parse(&b, 3, p), 0, "a reply answering every request");
	ok(p[0].status == 200 && p[0].len == 11 &&
		memcmp(p[0].body, "{\"id\":\"a1\"}", 11) == 0,
	    "part 0: its status and exact body");
	ok(p[1].status == 404 && p[2].status == 429, "each part its status");
	is_int((int)p[2].retry_after, 7, "a part's own Retry-After");
	is_int((int)p[0].retry_after, -1, "no Retry-After: -1");
	ms_buf_finish(&b);

	part(&b, "<response-item-1>", 200, "{\"id\":\"b2\"}");
	part(&b, "<response-item-0>", 200, "{\"id\":\"a1\"}");
	ms_buf_adds(&b, "--batch_XyZ--\r\n");
	ok(parse(&b, 2, p) == 0 &&
		memcmp(p[0].body, "{\"id\":\"a1\"}", 11) == 0,
	    "parts out of order are matched by Content-ID");
	ms_buf_finish(&b);

	part(&b, "<response-item-0>", 200, "{}");
	part(&b, "<response-item-0>", 200, "{}");
	ms_buf_adds(&b, "--batch_XyZ--\r\n");
	ok(parse(&b, 2, p) == -1 && strstr(ms_errstr(), "duplicate"),
	    "a duplicate Content-ID is refused: %s", ms_errstr());
	ms_buf_finish(&b);

	part(&b, "<response-item-0>", 200, "{}");
	ms_buf_adds(&b, "--batch_XyZ--\r\n");
	ok(parse(&b, 2, p) == -1 && strstr(ms_errstr(), "not answered"),
	    "a missing part is refused: %s", ms_errstr());
	ms_buf_finish(&b);

	part(&b, "<response-item-0>", 200, "{}");
	part(&b, "<response-item-7>", 200, "{}");
	ms_buf_adds(&b, "--batch_XyZ--\r\n");
	ok(parse(&b, 2, p) == -1 && strstr(ms_errstr(), "no request"),
	    "an unknown Content-ID is refused: %s", ms_errstr());
	ms_buf_finish(&b);

	part(&b, "<response-item-0>", 200, "{}");
	part(&b, "<response-item-1>", 200, "{}");
	part(&b, "<response-item-2>", 200, "{}");
	ms_buf_adds(&b, "--batch_XyZ--\r\n");
	ok(parse(&b, 2, p) == -1, "more parts than requests are refused");
	ms_buf_finish(&b);

	part(&b, "<response-item-0>", 200, "{}");
	part(&b, "<item-1>", 200, "{}");
	ms_buf_adds(&b, "--batch_XyZ--\r\n");
	ok(parse(&b, 2, p) == -1, "a request's own id is no answer");
	ms_buf_finish(&b);

	part(&b, "<response-item-0>", 200, "{}");
	part(&b, "<response-item-1>", 200, "{\"id\":");
	ok(parse(&b, 2, p) == -1 && strstr(ms_errstr(), "cut short"),
	    "a reply without its closing boundary is refused: %s", ms_errstr());
	ms_buf_finish(&b);

	ms_buf_adds(&b,
	    "--batch_XyZ\r\nContent-Type: application/http\r\n"
	    "Content-ID: <response-item-0>\r\n\r\n{}\r\n"
	    "--batch_XyZ--\r\n");
	ok(parse(&b, 1, p) == -1 && strstr(ms_errstr(), "status line"),
	    "a part without a status line is refused");
	ms_buf_finish(&b);

	ms_buf_adds(&b, "{\"error\":{\"code\":400}}");
	ok(ms_batch_parse("application/json", b.s, b.len, 1, p) == -1 &&
		strstr(ms_errstr(), "not multipart"),
	    "a reply that is not multipart is refused");
	ok(ms_batch_parse(NULL, b.s, b.len, 1, p) == -1,
	    "no Content-Type at all is refused");
	ms_buf_finish(&b);

	part(&b, "<response-item-99999999999999999999>", 200, "{}");
	ms_buf_adds(&b, "--batch_XyZ--\r\n");
	ok(parse(&b, 1, p) == -1, "a huge part number names no request");
	ms_buf_finish(&b);
	return done_testing();
}
