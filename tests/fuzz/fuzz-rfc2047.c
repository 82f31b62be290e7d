/*
 * fuzz-rfc2047: header value decoding (ms_rfc2047_decode: encoded
 * words, raw 8-bit text), charset conversion (ms_charset_to_utf8) and
 * text of unknown charset (ms_raw_to_utf8). Every result is promised
 * to be valid UTF-8 without NULs.
 *
 * libfuzzer: -max_len=16384 -dict=rfc2047.dict -malloc_limit_mb=512
 */
#include "fuzz.h"
#include "rfc2047.h"
#include "util.h"

static void
check_text(char *s)
{
	FUZZ_CHECK(s != NULL && ms_utf8_valid(s, strlen(s)));
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *nl;
	char cs[64], *t;
	size_t n;
	int nbad = -1;

	check_text(ms_rfc2047_decode(s, size, &nbad));
	FUZZ_CHECK(nbad >= 0);
	check_text(ms_raw_to_utf8(s, size));

	/* "charset\ntext": a charset name as a MIME part would give it. */
	if ((nl = memchr(s, '\n', size)) != NULL &&
	    (n = (size_t)(nl - s)) < sizeof(cs) && memchr(s, '\0', n) == NULL) {
		memcpy(cs, s, n);
		cs[n] = '\0';
		if ((t = ms_charset_to_utf8(cs, nl + 1, size - n - 1)) != NULL)
			check_text(t);
	}
	return 0;
}
