#include "http.h"

#include <curl/curl.h>
#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "log.h"
#include "text.h"

#define USER_AGENT "mailsync/" MS_VERSION

static int curl_ready;

int
ms_http_loopback(const char *host)
{
	return ms_ascii_casecmp(host, "127.0.0.1") == 0 ||
	    strcmp(host, "[::1]") == 0 || strcmp(host, "::1") == 0 ||
	    ms_ascii_casecmp(host, "localhost") == 0;
}

int
ms_http_tls(CURL *h)
{
	const char *ca = getenv("MAILSYNC_CA_FILE");

	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca == NULL || *ca == '\0')
		return 0;
	if (access(ca, R_OK) == -1)
		return ms_errc(
		    EX_CONFIG, "MAILSYNC_CA_FILE %s: %s", ca, strerror(errno));
	/* That bundle instead of the system's store, not beside it. */
	curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	return 0;
}

int
ms_http_check_url(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int rc = 0;

	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		rc = ms_errc(EX_CONFIG, "not a usable URL: %s", url);
	else if (strcmp(scheme, "https") == 0)
		rc = 0;
	else if (strcmp(scheme, "http") != 0)
		rc = ms_errc(EX_CONFIG, "%s: only https is allowed", url);
	else if (!ms_http_loopback(host))
		rc = ms_errc(EX_CONFIG,
		    "%s: plain http is allowed to "
		    "127.0.0.1, ::1 and localhost only",
		    url);
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

/* "scheme://host:port" of url, lower case, the port always given (a
 * new string), or NULL when it is not a URL. */
static char *
origin_of(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *o = NULL, *p;

	if (url != NULL &&
	    curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) ==
		CURLUE_OK) {
		o = ms_xasprintf("%s://%s:%s", scheme, host, port);
		for (p = o; *p != '\0'; p++)
			*p = ms_ascii_lower(*p);
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return o;
}

int
ms_http_same_origin(const char *a, const char *b)
{
	char *oa = origin_of(a), *ob = origin_of(b);
	int same = oa != NULL && ob != NULL && strcmp(oa, ob) == 0;

	free(oa);
	free(ob);
	return same;
}

char *
ms_http_origin(const char *url)
{
	char *o = origin_of(url);

	return o != NULL ? o : ms_xstrdup("(not a URL)");
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct ms_buf *b = arg;

	if (b->len + size * n > MS_HTTP_MAX_BODY)
		return 0; /* aborts the transfer: "too large" below */
	ms_buf_add(b, data, size * n);
	return size * n;
}

/* Header lines for the debug trace, one line each, secrets redacted. */
static void
trace_headers(const char *dir, const char *data, size_t n)
{
	const char *end = data + n, *eol;
	int len;

	while (data < end) {
		eol = memchr(data, '\n', (size_t)(end - data));
		len = (int)((eol ? eol : end) - data);
		if (len > 0 && data[len - 1] == '\r')
			len--;
		if (len > 0 &&
		    ms_ascii_ncasecmp(data, "authorization:", 14) == 0)
			ms_log_debug("%s Authorization: [redacted]", dir);
		else if (len > 0)
			ms_log_debug("%s %.*s", dir, len, data);
		data = eol ? eol + 1 : end;
	}
}

int
ms_http_trace(CURL *h, curl_infotype type, char *data, size_t n, void *arg)
{
	(void)h;
	(void)arg;
	switch (type) {
	case CURLINFO_HEADER_OUT: trace_headers(">", data, n); break;
	case CURLINFO_HEADER_IN: trace_headers("<", data, n); break;
	default: /* bodies, TLS data and curl's own text: never */ break;
	}
	return 0;
}

static struct curl_slist *
header_list(
    const char *bearer, const char *content_type, const char *const *extra)
{
	struct curl_slist *l = NULL;
	char *line;

	if (bearer != NULL) {
		line = ms_xasprintf("Authorization: Bearer %s", bearer);
		l = curl_slist_append(l, line);
		explicit_bzero(line, strlen(line));
		free(line);
	}
	if (content_type != NULL) {
		line = ms_xasprintf("Content-Type: %s", content_type);
		l = curl_slist_append(l, line);
		free(line);
	}
	l = curl_slist_append(l, "Accept: application/json");
	for (; extra != NULL && *extra != NULL; extra++)
		l = curl_slist_append(l, *extra);
	return l;
}

static void
wipe_list(struct curl_slist *l)
{
	struct curl_slist *p;

	for (p = l; p != NULL; p = p->next)
		explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

int
ms_http_request(const char *method, const char *url, const char *bearer,
    const char *content_type, const char *body, const char *const *extra,
    long timeout, struct ms_http_resp *resp)
{
	struct ms_buf b = {0};
	struct curl_slist *hdrs;
	curl_off_t ra = -1;
	CURLcode cc;
	CURL *h;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after = -1;
	if (ms_http_check_url(url) == -1)
		return -1;
	if (!curl_ready) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		curl_ready = 1;
	}
	if ((h = curl_easy_init()) == NULL)
		return ms_errc(EX_OSERR, "cannot start libcurl");
	if (ms_http_tls(h) == -1) {
		curl_easy_cleanup(h);
		return -1;
	}
	hdrs = header_list(bearer,
	    body && !content_type ? "application/x-www-form-urlencoded"
				  : content_type,
	    extra);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout > 0 ? timeout : 60L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, USER_AGENT);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	if (ms_log_level() >= MS_LOG_DEBUG) {
		curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, ms_http_trace);
		curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
	}
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
	} else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	cc = curl_easy_perform(h);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
		curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &ra);
		resp->retry_after = ra >= 0 ? (long)ra : -1;
	}
	curl_easy_cleanup(h);
	wipe_list(hdrs);
	if (cc != CURLE_OK) {
		ms_buf_finish(&b);
		if (cc == CURLE_WRITE_ERROR)
			return ms_errc(EX_UNAVAILABLE,
			    "%s: a reply larger than %u KiB, refused", url,
			    MS_HTTP_MAX_BODY / 1024);
		if (ms_http_untrusted(cc))
			return ms_errc(EX_UNAVAILABLE,
			    "%s: the server's TLS certificate is not trusted "
			    "(%s)",
			    url, curl_easy_strerror(cc));
		return ms_errc(
		    EX_TEMPFAIL, "%s: %s", url, curl_easy_strerror(cc));
	}
	resp->len = b.len;
	resp->body = ms_buf_steal(&b);
	return 0;
}

void
ms_http_resp_finish(struct ms_http_resp *resp)
{
	if (resp->body != NULL) {
		explicit_bzero(resp->body, resp->len);
		free(resp->body);
	}
	free(resp->content_type);
	memset(resp, 0, sizeof(*resp));
}

void
ms_http_form_add(struct ms_buf *b, const char *key, const char *value)
{
	char *k = curl_easy_escape(NULL, key, 0);
	char *v = curl_easy_escape(NULL, value, 0);

	if (k == NULL || v == NULL) {
		curl_free(k);
		curl_free(v);
		errx(EX_OSERR, "out of memory");
	}
	if (b->len > 0)
		ms_buf_addc(b, '&');
	ms_buf_printf(b, "%s=%s", k, v);
	explicit_bzero(v, strlen(v));
	curl_free(k);
	curl_free(v);
}

char *
ms_http_unescape(const char *s, size_t n)
{
	struct ms_buf b = {0};
	size_t i;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if (s[i] == '+')
			ms_buf_addc(&b, ' ');
		else if (s[i] == '%' && i + 2 < n &&
		    (hi = ms_text_hexval(s[i + 1])) >= 0 &&
		    (lo = ms_text_hexval(s[i + 2])) >= 0) {
			ms_buf_addc(&b, (char)(hi << 4 | lo));
			i += 2;
		} else
			ms_buf_addc(&b, s[i]);
	}
	return ms_buf_steal(&b);
}

struct json_object *
ms_http_json(const struct ms_http_resp *resp, const char *what)
{
	struct json_object *o = ms_json_parse(resp->body, resp->len, what);

	if (o == NULL)
		ms_errc(
		    EX_UNAVAILABLE, "%s (HTTP %ld)", ms_errstr(), resp->status);
	return o;
}

struct json_object *
ms_http_get_json(const char *url, const char *access, const char *what)
{
	struct ms_http_resp r;
	struct json_object *o;

	if (ms_http_request("GET", url, access, NULL, NULL, NULL, 30, &r) == -1)
		return NULL;
	if (r.status != 200) {
		ms_errc(r.status == 401 || r.status == 403 ? EX_NOPERM
							   : EX_UNAVAILABLE,
		    "%s: HTTP %ld from %s", what, r.status, url);
		ms_http_resp_finish(&r);
		return NULL;
	}
	o = ms_http_json(&r, what);
	ms_http_resp_finish(&r);
	return o;
}

int
ms_http_untrusted(CURLcode cc)
{
	return cc == CURLE_PEER_FAILED_VERIFICATION ||
	    cc == CURLE_SSL_CACERT_BADFILE;
}
