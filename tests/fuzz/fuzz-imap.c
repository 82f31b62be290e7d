/*
 * fuzz-imap: the IMAP response stream as common/net/imap.c reads it: the
 * scanner finds where each response ends (fed in two pieces, the first
 * byte saying where to cut, as a server's packets would, and again a few
 * bytes at a time: both must cut where a scan of it all does), the
 * parser reads it, and FETCH responses are read as the driver reads
 * them (UID, the header literal and its header block, BODYSTRUCTURE).
 * The first byte also sets the partial-literal bound (0 to 255 * 16
 * bytes). Every value the parser hands out is within the response and
 * NUL-terminated.
 *
 * libfuzzer: -max_len=65536 -dict=imap.dict -malloc_limit_mb=512
 */
#include "fuzz.h"
#include "imap.h"
#include "msg.h"

static void
scan_init(struct ms_imap_scan *sc, uint8_t b)
{
	memset(sc, 0, sizeof(*sc));
	sc->max_partial = (size_t)b * 16;
}

/* The scan of s[0..n) fed step bytes at a time. */
static int
scan_steps(uint8_t b, const char *s, size_t n, size_t step, size_t *end)
{
	struct ms_imap_scan sc;
	size_t l = 0;
	int rc;

	scan_init(&sc, b);
	do {
		l = l + step < n ? l + step : n;
		rc = ms_imap_scan(&sc, s, l, end);
	} while (rc == 0 && l < n);
	return rc;
}

static void
check_values(const struct ms_imap_resp *r)
{
	size_t i;

	FUZZ_CHECK(r->nv <= MS_IMAP_MAX_VALUES);
	for (i = 0; i < r->nv; i++) {
		FUZZ_CHECK(r->v[i].next > i && r->v[i].next <= r->nv);
		if (r->v[i].kind == MS_IMAP_LIST)
			FUZZ_CHECK(r->v[i].n < r->v[i].next - i);
		else
			FUZZ_CHECK(r->v[i].s != NULL &&
			    r->v[i].s[r->v[i].len] == '\0');
	}
}

static void
read_fetch(const struct ms_imap_resp *r, size_t end)
{
	struct ms_imap_body b;
	struct ms_msg m;
	const char *s;
	size_t idx, len, off;
	uint64_t n;

	ms_imap_num(ms_imap_fetch_item(r, "UID", NULL), &n);
	s = ms_imap_str(ms_imap_fetch_item(r, "BODY[HEADER*", NULL), &len);
	if (s != NULL) {
		FUZZ_CHECK(len <= end);
		memset(&m, 0, sizeof(m));
		(void)ms_msg_parse_headers(s, len, &m, &off);
		ms_msg_finish(&m);
	}
	if (ms_imap_fetch_item(r, "BODYSTRUCTURE", &idx) != NULL &&
	    ms_imap_bodystructure(r, idx, &b) == 0) {
		FUZZ_CHECK(memchr(b.section, '\0', sizeof(b.section)) != NULL);
		FUZZ_CHECK(memchr(b.encoding, '\0', sizeof(b.encoding)));
		FUZZ_CHECK(memchr(b.charset, '\0', sizeof(b.charset)));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_imap_scan sc;
	struct ms_imap_resp r;
	const char *buf = (const char *)data + 1; /* exactly size bytes */
	size_t off = 0, end = 0, end2, cut;
	int rc, rc2;

	if (size < 1)
		return 0;
	cut = data[0] % 64;
	size--;
	for (;;) {
		/* It all at once; then a first packet's bytes, the rest. */
		scan_init(&sc, data[0]);
		rc = ms_imap_scan(&sc, buf + off, size - off, &end);
		scan_init(&sc, data[0]);
		rc2 = ms_imap_scan(
		    &sc, buf + off, cut < size - off ? cut : size - off, &end2);
		if (rc2 == 0)
			rc2 = ms_imap_scan(&sc, buf + off, size - off, &end2);
		FUZZ_CHECK(rc2 == rc && (rc != 1 || end2 == end));
		rc2 =
		    scan_steps(data[0], buf + off, size - off, 1 + cut, &end2);
		FUZZ_CHECK(rc2 == rc && (rc != 1 || end2 == end));
		if (rc != 1)
			break;
		FUZZ_CHECK(end > 0 && end <= size - off);
		if (ms_imap_parse(buf + off, end, &r) == 0) {
			check_values(&r);
			if (r.type == MS_IMAP_UNTAGGED &&
			    strcmp(r.word, "FETCH") == 0)
				read_fetch(&r, end);
		}
		ms_imap_resp_finish(&r);
		off += end;
	}
	return 0;
}
