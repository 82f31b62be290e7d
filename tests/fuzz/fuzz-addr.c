/*
 * fuzz-addr: address lists (ms_addr_parse_list: From, To, Cc values)
 * and single addresses (ms_addr_normalize: client records, the
 * blocklist), with the match keys built from them.
 *
 * libfuzzer: -max_len=16384 -dict=addr.dict -malloc_limit_mb=512
 */
#include "addr.h"
#include "fuzz.h"
#include "util.h"

/* A normalised address is its own normal form, and folds to a key. */
static void
check_email(const char *email)
{
	char *again, *key;
	int folds;

	FUZZ_CHECK(email != NULL);
	again = ms_addr_normalize(email);
	FUZZ_CHECK(again != NULL && strcmp(again, email) == 0);
	free(again);
	for (folds = 0; folds <= (MS_ADDR_PLUS | MS_ADDR_DOTS); folds++) {
		key = ms_addr_match_key(email, folds);
		FUZZ_CHECK(key != NULL);
		free(key);
	}
	(void)ms_addr_in_domain(email, "example.com");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_addrlist l = {0};
	char *s, *e;
	size_t i;

	ms_addr_parse_list((const char *)data, size, &l);
	for (i = 0; i < l.n; i++) {
		FUZZ_CHECK(l.v[i].name != NULL);
		FUZZ_CHECK(ms_utf8_valid(l.v[i].name, strlen(l.v[i].name)));
		check_email(l.v[i].email);
	}
	ms_addrlist_finish(&l);
	FUZZ_CHECK(l.n == 0 && l.v == NULL);

	s = fuzz_cstr(data, size);
	if ((e = ms_addr_normalize(s)) != NULL) {
		check_email(e);
		free(e);
	}
	if (ms_addrlist_add(&l, s, s) == 0)
		check_email(l.v[0].email);
	ms_addrlist_finish(&l);
	free(s);
	return 0;
}
