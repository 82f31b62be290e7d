/*
 * fuzz-msg: the RFC 5322 + MIME message parser (ms_msg_parse), and the
 * snippet (ms_msg_snippet) of its text body and of the raw input.
 * Messages come from the CRM (mailsync-record) and, later, providers.
 *
 * libfuzzer: -max_len=262144 -dict=mail.dict -malloc_limit_mb=512
 */
#include "fuzz.h"
#include "msg.h"
#include "util.h"

static void
check_snippet(const char *text, size_t max)
{
	char *s = ms_msg_snippet(text, max);

	FUZZ_CHECK(s != NULL && strlen(s) <= max);
	FUZZ_CHECK(ms_utf8_valid(s, strlen(s)));
	free(s);
}

static void
check_list(const struct ms_addrlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		FUZZ_CHECK(l->v[i].email != NULL && l->v[i].name != NULL);
		FUZZ_CHECK(ms_utf8_valid(l->v[i].name, strlen(l->v[i].name)));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_msg m;
	char *raw;

	if (ms_msg_parse((const char *)data, size, &m) == 0) {
		FUZZ_CHECK(m.nhdrs > 0 && m.from.n > 0);
		FUZZ_CHECK(m.subject != NULL && m.body != NULL);
		/* "decoded UTF-8" (msg.h, rfc2047.h) */
		FUZZ_CHECK(ms_utf8_valid(m.subject, strlen(m.subject)));
		FUZZ_CHECK(ms_utf8_valid(m.body, strlen(m.body)));
		check_list(&m.from);
		check_list(&m.to);
		check_list(&m.cc);
		FUZZ_CHECK(ms_msg_header(&m, "From") != NULL);
		check_snippet(m.body, 200);
		check_snippet(m.body, size % 64);
	}
	ms_msg_finish(&m);

	/* The snippet of any text, invalid UTF-8 included. */
	raw = fuzz_cstr(data, size);
	check_snippet(raw, size % 256);
	free(raw);
	return 0;
}
