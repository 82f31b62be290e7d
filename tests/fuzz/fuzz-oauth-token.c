/*
 * fuzz-oauth-token: a token endpoint's reply (ms_oauth_token_parse):
 * code exchange, refresh, the device flow's polls. Input: one byte for
 * the HTTP status (below 0x80: 200, else one of the errors below), then
 * the body. Tokens taken expire within a day.
 *
 * libfuzzer: -max_len=65536 -dict=oauth.dict -malloc_limit_mb=512
 */
#include <time.h>

#include "fuzz.h"
#include "oauth.h"

static const long statuses[] = {200, 400, 401, 403, 404, 429, 500, 503};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_tokens t;
	time_t now;
	long status;
	int rc;

	if (size == 0)
		return 0;
	status = data[0] < 0x80 ? 200 : statuses[data[0] % 8];
	now = time(NULL);
	rc = ms_oauth_token_parse(
	    "fuzz", status, (const char *)data + 1, size - 1, &t);
	FUZZ_CHECK(rc == 0 || rc == -1 || rc == MS_OAUTH_PENDING ||
	    rc == MS_OAUTH_SLOW_DOWN);
	if (rc == 0) {
		FUZZ_CHECK(status == 200 && t.access != NULL);
		FUZZ_CHECK(
		    t.expires >= now + 1 && t.expires <= now + 86400 + 5);
	} else
		FUZZ_CHECK(t.access == NULL && t.refresh == NULL);
	ms_cred_tokens_finish(&t);
	return 0;
}
