/*
 * fuzz-listen: the loopback listener's HTTP request head
 * (ms_listen_parse: anything on the machine, a web page too, can send
 * one), then the query of its target as the redirect's judge reads it
 * (ms_listen_judge). The method is a token, the target printable ASCII.
 *
 * libfuzzer: -max_len=16384 -dict=listen.dict -malloc_limit_mb=512
 */
#include "fuzz.h"
#include "listen.h"
#include "secret.h"

static int
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *method, *target, *code, *q;

	if (ms_listen_parse((const char *)data, size, &method, &target) == 0) {
		FUZZ_CHECK(method != NULL && target != NULL);
		FUZZ_CHECK(method[0] != '\0' && target[0] != '\0');
		FUZZ_CHECK(printable(method) && printable(target));
		if ((q = strchr(target, '?')) != NULL) {
			code = NULL;
			if (ms_listen_judge(q + 1, "st4te", &code) == 0) {
				FUZZ_CHECK(code != NULL);
				ms_secret_free(code);
			} else
				FUZZ_CHECK(code == NULL);
		}
	} else
		FUZZ_CHECK(method == NULL && target == NULL);
	ms_secret_free(method);
	ms_secret_free(target);
	return 0;
}
