/*
 * fuzz-imap: the IMAP response stream as common/net/imap.c reads it: the
 * scanner finds where each response ends (fed in two pieces, the first
 * byte saying where to cut, as a server's packets would), the parser
 * reads it, and FETCH responses are read as the driver reads them (UID,
 * the header literal, BODYSTRUCTURE). The first byte also sets the
 * partial-literal bound (0 to 255 * 16 bytes).
 *
 * libfuzzer: -max_len=65536 -dict=imap.dict -malloc_limit_mb=512
 */
#include "fuzz.h"
#include "imap.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_imap_scan sc;
	struct ms_imap_resp r;
	struct ms_imap_body b;
	const char *s;
	size_t off = 0, end, cut, idx, len;
	uint64_t n;
	char *buf;
	int rc;

	if (size < 1)
		return 0;
	cut = data[0] % 64;
	buf = (char *)fuzz_cstr(data + 1, size - 1);
	size--;
	for (;;) {
		memset(&sc, 0, sizeof(sc));
		sc.max_partial = (size_t)data[0] * 16;
		/* First what a first packet brought, then all of it. */
		rc = ms_imap_scan(&sc, buf + off,
		    cut < size - off ? cut : size - off, &end);
		if (rc == 0)
			rc = ms_imap_scan(&sc, buf + off, size - off, &end);
		if (rc != 1)
			break;
		FUZZ_CHECK(end > 0 && end <= size - off);
		if (ms_imap_parse(buf + off, end, &r) == 0) {
			FUZZ_CHECK(r.nv <= MS_IMAP_MAX_VALUES);
			if (r.nv > 0)
				FUZZ_CHECK(r.v[0].next <= r.nv);
			ms_imap_num(ms_imap_fetch_item(&r, "UID", NULL), &n);
			s = ms_imap_str(
			    ms_imap_fetch_item(&r, "BODY[HEADER*", NULL), &len);
			if (s != NULL)
				FUZZ_CHECK(len <= end);
			if (ms_imap_fetch_item(&r, "BODYSTRUCTURE", &idx) != NULL &&
			    ms_imap_bodystructure(&r, idx, &b) == 0)
				FUZZ_CHECK(strlen(b.section) < sizeof(b.section));
		}
		ms_imap_resp_finish(&r);
		off += end;
	}
	free(buf);
	return 0;
}
