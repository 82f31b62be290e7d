/*
 * test-oauth: the pure parsers of the sign-in: the loopback listener's
 * request heads and redirect queries, token replies, device replies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "listen.h"
#include "oauth.h"
#include "secret.h"
#include "tap.h"
#include "util.h"

static void
head(const char *in, int want, const char *method, const char *target,
    const char *name)
{
	char *m, *t, what[200];
	int rc = ms_listen_parse(in, strlen(in), &m, &t);

	is_int(rc, want, name);
	if (want == 0 && rc == 0) {
		snprintf(what, sizeof(what), "%s: method", name);
		is_str(m, method, what);
		snprintf(what, sizeof(what), "%s: target", name);
		is_str(t, target, what);
	} else
		ok(m == NULL && t == NULL, "%s: nothing returned", name);
	ms_secret_free(m);
	ms_secret_free(t);
}

static void
heads(void)
{
	static const char nul[] = "GET /a\0b HTTP/1.1\r\n\r\n";
	char *m, *t;

	head("GET /?state=s&code=c HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 0,
	    "GET", "/?state=s&code=c", "a browser's redirect");
	head("POST / HTTP/1.0\n\n", 0, "POST", "/", "bare LF line ends");
	head("\r\nGET /x HTTP/1.1\r\n\r\n", 0, "GET", "/x",
	    "an empty line before the request line");
	head("GET / HTTP/1.1\r\nHost: x\r\n", -1, NULL, NULL,
	    "incomplete: no empty line yet");
	head("GET / HTTP/1.1", -1, NULL, NULL, "incomplete: no line end");
	head("", -1, NULL, NULL, "empty");
	head("\r\n\r\n", -1, NULL, NULL, "empty lines only");
	head("GET /  HTTP/1.1\r\n\r\n", -1, NULL, NULL, "two spaces");
	head("GET / HTTP/2.0\r\n\r\n", -1, NULL, NULL, "HTTP/2 request line");
	head("GET / FTP/1.1\r\n\r\n", -1, NULL, NULL, "not HTTP");
	head("GET /\r\n\r\n", -1, NULL, NULL, "HTTP/0.9");
	head("G(T / HTTP/1.1\r\n\r\n", -1, NULL, NULL, "a bad method");
	head("GET / HTTP/1.1\r\n folded: x\r\n\r\n", -1, NULL, NULL,
	    "an obs-fold line");
	head("GET / HTTP/1.1\r\nno colon\r\n\r\n", -1, NULL, NULL,
	    "a field without a colon");
	head("GET / HTTP/1.1\r\nX: a\033b\r\n\r\n", -1, NULL, NULL,
	    "a control character in a field");
	head("GET /\x7f HTTP/1.1\r\n\r\n", -1, NULL, NULL, "DEL in the target");
	head("GET /é HTTP/1.1\r\n\r\n", -1, NULL, NULL, "8-bit in the target");
	head("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", -1, NULL, NULL, "a bare CR");
	head("GET / HTTP/1.1\r\n\r\nGARBAGE after the head", 0, "GET", "/",
	    "bytes after the head are not its business");
	is_int(ms_listen_parse(nul, sizeof(nul) - 1, &m, &t), -1,
	    "a NUL in the request line");
	head("AVERYLONGMETHODNAMEOVERTHIRTYTWOCHARS / HTTP/1.1\r\n\r\n", -1,
	    NULL, NULL, "a method over 32 characters");
}

static void
judge(void)
{
	char *code;

	is_int(ms_listen_judge("state=abc&code=4%2F0Ab", "abc", &code), 0,
	    "the right state and a code");
	is_str(code, "4/0Ab", "the code is percent-decoded");
	ms_secret_free(code);
	is_int(ms_listen_judge("code=x", "abc", &code), 1, "no state: ignored");
	ok(code == NULL, "no code then");
	is_int(ms_listen_judge("state=abd&code=x", "abc", &code), 1,
	    "a wrong state: ignored");
	is_int(ms_listen_judge("state=ab&code=x", "abc", &code), 1,
	    "a prefix of the state: ignored");
	is_int(ms_listen_judge("state=abcd&code=x", "abc", &code), 1,
	    "the state and more: ignored");
	is_int(ms_listen_judge("", "abc", &code), 1, "an empty query: ignored");
	is_int(ms_listen_judge("x", "abc", &code), 1, "<img src=/?x>: ignored");
	is_int(ms_listen_judge("error=access_denied&state=abc", "abc", &code),
	    -1, "a denied consent ends the flow");
	ok(strstr(ms_errstr(), "refused: access_denied") != NULL,
	    "and says so: %s", ms_errstr());
	is_int(ms_listen_judge("error=access_denied&state=zzz", "abc", &code),
	    1, "a denied consent of another flow: ignored");
	is_int(ms_listen_judge("state=abc&code=", "abc", &code), -1,
	    "the right state and an empty code");
	is_int(ms_listen_judge("state=abc&code=%", "abc", &code), 0,
	    "a truncated escape is kept as is");
	is_str(code, "%", "a lone %");
	ms_secret_free(code);
}

static void
tokens(void)
{
	struct ms_tokens t;
	time_t now = time(NULL);
	const char *b;

#define TOK(status, body)                                                      \
	ms_oauth_token_parse("Emu", status, body, strlen(body), &t)

	b = "{\"access_token\":\"ya29.a\",\"expires_in\":3599,"
	    "\"refresh_token\":\"1//0r\",\"scope\":\"s\"}";
	is_int(TOK(200, b), 0, "a Google token reply");
	is_str(t.access, "ya29.a", "access");
	is_str(t.refresh, "1//0r", "refresh");
	is_str(t.scope, "s", "scope");
	ok(t.expires >= now + 3598 && t.expires <= now + 3601, "expires");
	ms_cred_tokens_finish(&t);

	is_int(TOK(200, "{\"access_token\":\"a\",\"expires_in\":\"3599\"}"), 0,
	    "expires_in as a numeric string");
	ok(t.expires >= now + 3598 && t.expires <= now + 3601,
	    "is taken as a number");
	ok(t.refresh == NULL && t.scope == NULL, "no refresh token, no scope");
	ms_cred_tokens_finish(&t);

	is_int(TOK(200, "{\"access_token\":\"a\",\"expires_in\":1e300}"), 0,
	    "a huge expires_in");
	ok(t.expires <= now + 86401, "is clamped to a day");
	ms_cred_tokens_finish(&t);
	is_int(TOK(200,
		   "{\"access_token\":\"a\",\"expires_in\":"
		   "99999999999999999999999}"),
	    0, "an expires_in beyond 64 bits");
	ok(t.expires <= now + 86401, "is clamped to a day");
	ms_cred_tokens_finish(&t);
	is_int(TOK(200, "{\"access_token\":\"a\",\"expires_in\":-5}"), 0,
	    "a negative expires_in");
	ok(t.expires >= now + 3599 && t.expires <= now + 3601,
	    "takes the default hour");
	ms_cred_tokens_finish(&t);
	is_int(TOK(200, "{\"access_token\":\"a\",\"expires_in\":\"soon\"}"), 0,
	    "a non-numeric expires_in");
	ms_cred_tokens_finish(&t);
	is_int(TOK(200,
		   "{\"access_token\":\"a\",\"expires_in\":null,"
		   "\"refresh_token\":7}"),
	    0, "null expires_in, a refresh_token that is a number");
	ok(t.refresh == NULL, "that refresh token is ignored");
	ms_cred_tokens_finish(&t);

	is_int(TOK(200, "{\"token_type\":\"Bearer\"}"), -1, "no access_token");
	is_int(ms_errcode(), 69, "EX_UNAVAILABLE");
	is_int(TOK(200, "{\"access_token\":42}"), -1,
	    "an access_token that is not a string");
	is_int(TOK(200, "{\"access_token\":\"\"}"), -1, "an empty one");
	is_int(TOK(200, "{\"access_token\":null}"), -1, "a null one");
	is_int(TOK(200, "[\"access_token\"]"), -1, "an array");
	is_int(TOK(200, "not json"), -1, "not JSON");
	is_int(TOK(200, "{\"access_token\":\"a\"} trailing"), -1,
	    "junk after the object");
	is_int(TOK(200, "{\"access_token\":\"a\"}\r\n"), 0,
	    "white space after it is fine");
	ms_cred_tokens_finish(&t);
	is_int(TOK(200, "{\"access_token\":\"a\""), -1, "cut short");
	is_int(TOK(200, ""), -1, "empty");
	is_int(ms_oauth_token_parse("Emu", 200, NULL, 0, &t), -1, "no body");
	is_int(TOK(200,
		   "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]"
		   "]]]]]]]]]]]]]]]]]]]]]]]]]]"),
	    -1, "nested too deep");

	is_int(TOK(400,
		   "{\"error\":\"invalid_grant\",\"error_description\":"
		   "\"Token has been expired or revoked.\"}"),
	    -1, "invalid_grant");
	is_int(ms_errcode(), 77, "is EX_NOPERM");
	ok(strstr(ms_errstr(), "invalid_grant: Token has been expired") != NULL,
	    "with its description: %s", ms_errstr());
	is_int(
	    TOK(401, "{\"error\":\"invalid_client\"}"), -1, "invalid_client");
	is_int(ms_errcode(), 78, "is EX_CONFIG");
	is_int(TOK(503, "<html>busy</html>"), -1, "a 503 page");
	is_int(ms_errcode(), 75, "is EX_TEMPFAIL");
	is_int(TOK(400, "{\"error\":\"authorization_pending\"}"),
	    MS_OAUTH_PENDING, "authorization_pending");
	is_int(TOK(400, "{\"error\":\"slow_down\"}"), MS_OAUTH_SLOW_DOWN,
	    "slow_down");
	is_int(TOK(200, "{\"error\":\"slow_down\"}"), MS_OAUTH_SLOW_DOWN,
	    "slow_down with a 200");
	is_int(TOK(400, "{\"error\":[\"slow_down\"]}"), -1,
	    "an error that is not a string");
	is_int(TOK(400, "{\"error\":\"x\",\"error_description\":\"a\\nb\"}"),
	    -1, "a description over several lines");
	ok(strstr(ms_errstr(), "x: a") != NULL && !strchr(ms_errstr(), '\n'),
	    "shows its first line: %s", ms_errstr());
#undef TOK
}

static void
devices(void)
{
	struct ms_device d;

#define DEV(status, body)                                                      \
	ms_oauth_device_parse("Emu", status, body, strlen(body), &d)

	is_int(DEV(200,
		   "{\"device_code\":\"D\",\"user_code\":\"U\","
		   "\"verification_uri\":\"http://v\",\"expires_in\":900,"
		   "\"interval\":5,\"message\":\"M\"}"),
	    0, "a Microsoft device reply");
	is_str(d.device_code, "D", "device_code");
	is_str(d.user_code, "U", "user_code");
	is_str(d.verification_uri, "http://v", "verification_uri");
	is_str(d.message, "M", "message");
	is_int(d.interval, 5, "interval");
	is_int(d.expires_in, 900, "expires_in");
	ms_oauth_device_finish(&d);

	is_int(DEV(200,
		   "{\"device_code\":\"D\",\"user_code\":\"U\","
		   "\"verification_url\":\"http://v\"}"),
	    0, "Google's verification_url, no message, no numbers");
	is_str(d.verification_uri, "http://v", "is the verification_uri");
	ok(d.message == NULL, "no message");
	is_int(d.interval, 5, "interval: 5 s by default (RFC 8628)");
	is_int(d.expires_in, 900, "expires_in: 900 s by default");
	ms_oauth_device_finish(&d);

	/* The numbers as providers send them: out of range, as strings, of
	 * the wrong type; expires_is NULL where only the interval is read. */
	static const struct {
		const char *reply, *what;
		int interval;
		const char *interval_is;
		int expires_in;
		const char *expires_is;
	} nums[] = {
	    {"{\"device_code\":\"D\",\"message\":\"M\",\"interval\":-1,"
	     "\"expires_in\":0}",
		"interval -1, expires_in 0", 5, "interval -1 is 5 s", 900,
		"expires_in 0 is the default"},
	    {"{\"device_code\":\"D\",\"message\":\"M\",\"interval\":0}",
		"interval 0", 5, "is 5 s", 0, NULL},
	    {"{\"device_code\":\"D\",\"message\":\"M\",\"interval\":"
	     "\"2\",\"expires_in\":\"3599\"}",
		"numeric strings", 2, "interval \"2\"", 3599,
		"expires_in \"3599\""},
	    {"{\"device_code\":\"D\",\"message\":\"M\",\"interval\":"
	     "86400,\"expires_in\":1e30}",
		"huge numbers", 60, "interval clamped to 60 s", 86400,
		"expires_in clamped to a day"},
	    {"{\"device_code\":\"D\",\"message\":\"M\",\"interval\":"
	     "true,\"expires_in\":{}}",
		"numbers of the wrong type", 5, "interval: the default", 900,
		"expires_in: the default"},
	    {"{\"device_code\":\"D\",\"message\":\"M\",\"interval\":"
	     "2.9}",
		"a fractional interval", 2, "is cut to whole seconds", 0, NULL},
	};
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		is_int(DEV(200, nums[i].reply), 0, nums[i].what);
		is_int(d.interval, nums[i].interval, nums[i].interval_is);
		if (nums[i].expires_is)
			is_int(d.expires_in, nums[i].expires_in,
			    nums[i].expires_is);
		ms_oauth_device_finish(&d);
	}

	is_int(DEV(200, "{\"user_code\":\"U\",\"message\":\"M\"}"), -1,
	    "no device_code");
	is_int(DEV(200, "{\"device_code\":5,\"message\":\"M\"}"), -1,
	    "a device_code that is not a string");
	is_int(DEV(200, "{\"device_code\":\"D\",\"user_code\":\"U\"}"), -1,
	    "nothing to tell the user");
	is_int(DEV(200, "{\"device_code\":\"D\",\"message\":null}"), -1,
	    "a null message and nothing else");
	is_int(DEV(200, "{\"device_code\":"), -1, "cut short");
	is_int(DEV(400, "{\"error\":\"invalid_scope\"}"), -1, "an error reply");
	ok(strstr(ms_errstr(), "invalid_scope") != NULL, "names it: %s",
	    ms_errstr());
	is_int(
	    DEV(400, "{\"error\":\"invalid_client\"}"), -1, "invalid_client");
	is_int(ms_errcode(), 78, "is EX_CONFIG");
#undef DEV
}

static void
guarded(void)
{
	struct ms_secret_buf b = {0};
	char *s = ms_secret_strdup("secret"), *n = ms_secret_strndup("abcd", 2);
	int i;

	is_str(s, "secret", "ms_secret_strdup");
	is_str(n, "ab", "ms_secret_strndup");
	ms_secret_free(s);
	ms_secret_free(n);
	ms_secret_free(NULL);
	for (i = 0; i < 200; i++)
		ms_secret_buf_add(&b, "abcdefghij", 10);
	ok(b.len == 2000 && strlen(b.s) == 2000 &&
		strncmp(b.s + 1990, "abcdefghij", 10) == 0,
	    "a secret buffer grows");
	ms_secret_buf_finish(&b);
	ok(b.s == NULL && b.len == 0, "and is finished");
}

int
main(void)
{
	heads();
	judge();
	tokens();
	devices();
	guarded();
	return done_testing();
}
