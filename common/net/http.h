/*
 * http: HTTPS requests through libcurl, for the provider modules.
 *
 * TLS peers are always verified; plain http:// is refused except to
 * 127.0.0.1, ::1 and localhost. Redirects are not followed. With -vv a
 * debug trace shows request and response headers with Authorization
 * redacted, and never a body (token requests carry secrets in theirs).
 */
#ifndef MS_HTTP_H
#define MS_HTTP_H

#include <curl/curl.h>
#include <json-c/json.h>
#include <stddef.h>

#include "json.h"
#include "util.h"

/* The largest reply ms_http_request takes: token replies, a profile, a
 * send-as list are a few KB. */
#define MS_HTTP_MAX_BODY (1024u * 1024)

struct ms_http_resp {
	long status; /* HTTP status, 0 when no response */
	char *body; /* NUL-terminated */
	size_t len;
	long retry_after; /* seconds, -1 when absent */
	char *content_type; /* the Content-Type header, or NULL */
};

/* A CURLOPT_DEBUGFUNCTION for -vv: header lines only, Authorization
 * redacted, never a body (token requests carry secrets in theirs). */
int ms_http_trace(CURL *, curl_infotype, char *data, size_t n, void *arg);

/*
 * Whether URLs a and b have the same origin (scheme, host and port,
 * RFC 6454; default ports made explicit, case ignored): a token for one
 * API goes to that origin only. 0 when either is not a URL.
 */
int ms_http_same_origin(const char *a, const char *b);
/* The origin of url for messages ("https://host:443"), a new string. */
char *ms_http_origin(const char *url);

/*
 * The TLS rules on one handle, for every TLS peer (HTTPS, IMAP): peer
 * and host always verified, against the system's CA store or, when
 * MAILSYNC_CA_FILE names a PEM bundle, against that bundle only (a
 * private server, tests). 0, or -1 (EX_CONFIG) when the variable names
 * a file that cannot be read.
 */
int ms_http_tls(CURL *);

/* Whether a libcurl failure is a peer whose certificate is not trusted
 * (or a CA bundle that cannot be read): asking again does not mend it,
 * so it is EX_UNAVAILABLE, not a transient EX_TEMPFAIL. */
int ms_http_untrusted(CURLcode);

/* Whether host (a name or an address, IPv6 with or without brackets)
 * is 127.0.0.1, ::1 or localhost: where clear text may go. */
int ms_http_loopback(const char *host);

/* 0 when url is https, or http to a loopback host; else -1 (EX_CONFIG). */
int ms_http_check_url(const char *url);

/*
 * One request. method "GET" or "POST"; body (form-encoded when
 * content_type is NULL) is sent as is; bearer, when not NULL, goes in an
 * Authorization header; extra is a NULL-terminated list of header lines.
 * Returns 0 with resp filled whatever the status, or -1 (ms_err,
 * EX_TEMPFAIL) on a transport failure or timeout.
 */
int ms_http_request(const char *method, const char *url, const char *bearer,
    const char *content_type, const char *body, const char *const *extra,
    long timeout, struct ms_http_resp *resp);
void ms_http_resp_finish(struct ms_http_resp *);

/* Append key=value, URL-encoded, to a form body. */
void ms_http_form_add(struct ms_buf *, const char *key, const char *value);

/* Percent-decode s[0..n) (+ as space): a new string. */
char *ms_http_unescape(const char *s, size_t n);

/* The body as a JSON object (ms_json_parse: bounded; the caller puts
 * it), or NULL with ms_err naming what and the status (EX_UNAVAILABLE). */
struct json_object *ms_http_json(const struct ms_http_resp *, const char *what);

/* GET url with the access token: its JSON object (the caller puts it),
 * or NULL with ms_err (EX_NOPERM for 401 and 403). */
struct json_object *
ms_http_get_json(const char *url, const char *access, const char *what);

#endif
