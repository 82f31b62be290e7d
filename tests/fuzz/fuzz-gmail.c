/*
 * fuzz-gmail: a Gmail messages.get reply in metadata format, as a batch
 * part brings it, into an email (ms_json_parse, then ms_gmail_message):
 * headers, internalDate, the snippet's entities, labels.
 *
 * libfuzzer: -max_len=65536 -dict=gmail.dict -malloc_limit_mb=512
 */
#include "email.h"
#include "fuzz.h"
#include "gmail.h"
#include "json.h"
#include "util.h"

static void
check_text(const char *s)
{
	FUZZ_CHECK(s == NULL || ms_utf8_valid(s, strlen(s)));
}

static void
check_list(const struct ms_addrlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		FUZZ_CHECK(l->v[i].email != NULL);
		check_text(l->v[i].name);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *o;
	struct ms_email e;

	if ((o = ms_json_parse((const char *)data, size, "fuzz")) == NULL)
		return 0;
	if (ms_gmail_message(o, &e) == 0) {
		FUZZ_CHECK(e.subject != NULL && e.snippet != NULL);
		check_text(e.subject);
		check_text(e.snippet);
		check_text(e.thread_id);
		check_list(&e.from);
		check_list(&e.to);
		check_list(&e.cc);
	}
	ms_email_finish(&e);
	json_object_put(o);
	return 0;
}
