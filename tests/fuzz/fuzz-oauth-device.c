/*
 * fuzz-oauth-device: a device authorization reply (RFC 8628 §3.2,
 * ms_oauth_device_parse). Input: one byte for the HTTP status (below
 * 0x80: 200, else an error), then the body. A reply taken has a device
 * code, instructions to show, and interval and lifetime in range.
 *
 * libfuzzer: -max_len=65536 -dict=oauth.dict -malloc_limit_mb=512
 */
#include "fuzz.h"
#include "oauth.h"

static const long statuses[] = {200, 400, 401, 403, 404, 429, 500, 503};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_device d;
	long status;

	if (size == 0)
		return 0;
	status = data[0] < 0x80 ? 200 : statuses[data[0] % 8];
	if (ms_oauth_device_parse(
		"fuzz", status, (const char *)data + 1, size - 1, &d) == 0) {
		FUZZ_CHECK(status == 200 && d.device_code != NULL);
		FUZZ_CHECK(d.message != NULL ||
		    (d.verification_uri != NULL && d.user_code != NULL));
		FUZZ_CHECK(d.interval >= 1 && d.interval <= 60);
		FUZZ_CHECK(d.expires_in >= 1 && d.expires_in <= 86400);
	}
	ms_oauth_device_finish(&d);
	return 0;
}
