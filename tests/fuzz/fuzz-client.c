/*
 * fuzz-client: the CRM's client import (ms_client_parse), JSON Lines or
 * CSV as the first byte says (even: JSON Lines, odd: CSV). A failed
 * import keeps nothing; a good one has an id on every client.
 *
 * libfuzzer: -max_len=65536 -dict=client.dict -malloc_limit_mb=512
 */
#include "client.h"
#include "fuzz.h"
#include "util.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_clientset set = {0};
	size_t i;
	int csv;

	if (size == 0)
		return 0;
	csv = data[0] & 1;
	if (ms_client_parse((const char *)data + 1, size - 1, csv, &set) == 0) {
		for (i = 0; i < set.n; i++) {
			FUZZ_CHECK(set.v[i].crm_id != NULL);
			FUZZ_CHECK(set.v[i].name != NULL);
		}
	} else {
		FUZZ_CHECK(set.n == 0);
		FUZZ_CHECK(set.errline > 0);
	}
	ms_clientset_finish(&set);
	return 0;
}
