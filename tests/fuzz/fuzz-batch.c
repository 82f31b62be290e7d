/*
 * fuzz-batch: a Gmail batch reply (ms_batch_parse), then each part's
 * body as the driver reads it (ms_json_parse, ms_gmail_message). Input:
 * one byte for the number of requests (1 to MS_BATCH_MAX), the reply's
 * Content-Type up to a newline, then the reply's body.
 *
 * libfuzzer: -max_len=131072 -dict=batch.dict -malloc_limit_mb=512
 */
#include "batch.h"
#include "email.h"
#include "fuzz.h"
#include "gmail.h"
#include "json.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_batch_part parts[MS_BATCH_MAX];
	const char *s = (const char *)data, *nl, *body;
	struct json_object *o;
	struct ms_email e;
	char *ct;
	size_t n, i, len;

	if (size < 2 || (nl = memchr(s + 1, '\n', size - 1)) == NULL)
		return 0;
	n = 1 + data[0] % MS_BATCH_MAX;
	ct = fuzz_cstr(data + 1, (size_t)(nl - s) - 1);
	body = nl + 1;
	len = size - (size_t)(body - s);
	memset(parts, 0, sizeof(parts));
	if (ms_batch_parse(ct, body, len, n, parts) == 0)
		for (i = 0; i < n; i++) {
			/* an answer borrows from the reply, within it */
			FUZZ_CHECK(parts[i].body >= body &&
			    parts[i].len <= len &&
			    parts[i].body + parts[i].len <= body + len);
			FUZZ_CHECK(
			    parts[i].status >= 100 && parts[i].status <= 999);
			FUZZ_CHECK(parts[i].retry_after >= -1);
			if ((o = ms_json_parse(
				 parts[i].body, parts[i].len, "fuzz")) == NULL)
				continue;
			ms_gmail_message(o, &e);
			ms_email_finish(&e);
			json_object_put(o);
		}
	free(ct);
	return 0;
}
