#include "provider.h"

#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "http.h"
#include "util.h"

#define GMAIL_SCOPE "https://www.googleapis.com/auth/gmail.readonly"

static const char *
env_or(const char *var, const char *def)
{
	const char *v = getenv(var);

	return v != NULL && *v != '\0' ? v : def;
}

/* GET url with the token and return its JSON object, or NULL. */
static struct json_object *
get_json(const char *url, const char *access, const char *what)
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

static char *
gmail_address(const struct ms_provider *p, const char *access)
{
	char *url = ms_xasprintf("%s/gmail/v1/users/me/profile", p->api_url);
	struct json_object *o = get_json(url, access, "Gmail profile");
	const char *a;
	char *addr = NULL;

	free(url);
	if (o == NULL)
		return NULL;
	if ((a = ms_json_str(o, "emailAddress")) == NULL || *a == '\0')
		ms_errc(EX_UNAVAILABLE, "Gmail profile: no emailAddress");
	else
		addr = ms_xstrdup(a);
	json_object_put(o);
	return addr;
}

int
ms_provider_sendas_parse(struct json_object *o, char ***addrs, size_t *n)
{
	struct json_object *arr, *sa, *v;
	const char *email, *status;
	size_t i;

	*addrs = NULL;
	*n = 0;
	if (!json_object_object_get_ex(o, "sendAs", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return ms_errc(EX_PROTOCOL, "Gmail sendAs: no sendAs list");
	for (i = 0; i < json_object_array_length(arr); i++) {
		sa = json_object_array_get_idx(arr, i);
		if ((email = ms_json_str(sa, "sendAsEmail")) == NULL ||
		    (json_object_object_get_ex(sa, "isPrimary", &v) &&
			json_object_get_boolean(v)))
			continue;
		status = ms_json_str(sa, "verificationStatus");
		if (status != NULL && strcmp(status, "accepted") != 0)
			continue;
		ms_strv_add(addrs, n, ms_xstrdup(email));
	}
	return 0;
}

static int
gmail_aliases(
    const struct ms_provider *p, const char *access, char ***addrs, size_t *n)
{
	struct json_object *o;
	int rc;

	if ((o = get_json(p->aliases_url, access, "Gmail sendAs")) == NULL)
		return -1;
	rc = ms_provider_sendas_parse(o, addrs, n);
	json_object_put(o);
	return rc;
}

/* Graph /me: mail, or userPrincipalName when mail is null (personal
 * accounts). */
static char *
graph_address(const struct ms_provider *p, const char *access)
{
	char *url = ms_xasprintf("%s/v1.0/me", p->api_url);
	struct json_object *o = get_json(url, access, "Graph /me");
	const char *a;
	char *addr = NULL;

	free(url);
	if (o == NULL)
		return NULL;
	if ((a = ms_json_str(o, "mail")) == NULL || *a == '\0')
		a = ms_json_str(o, "userPrincipalName");
	if (a == NULL || *a == '\0')
		ms_errc(EX_UNAVAILABLE,
		    "Graph /me: neither mail nor "
		    "userPrincipalName");
	else
		addr = ms_xstrdup(a);
	json_object_put(o);
	return addr;
}

static void
gmail_init(struct ms_provider *p)
{
	p->label = "Gmail";
	p->auth_url = ms_xstrdup(env_or("MAILSYNC_GOOGLE_AUTH_URL",
	    "https://accounts.google.com/o/oauth2/v2/auth"));
	p->token_url = ms_xstrdup(env_or("MAILSYNC_GOOGLE_TOKEN_URL",
	    "https://oauth2.googleapis.com/token"));
	p->revoke_url = ms_xstrdup(env_or("MAILSYNC_GOOGLE_REVOKE_URL",
	    "https://oauth2.googleapis.com/revoke"));
	p->api_url = ms_xstrdup(
	    env_or("MAILSYNC_GMAIL_API_URL", "https://gmail.googleapis.com"));
	/* gmail.readonly alone: gmail.metadata forbids q (has:attachment),
	 * and a token holding both still rejects q. */
	p->scope = GMAIL_SCOPE;
	p->needed_scope = GMAIL_SCOPE;
	p->secret_required = 1;
	p->address = gmail_address;
	p->aliases = gmail_aliases;
	p->aliases_url =
	    ms_xasprintf("%s/gmail/v1/users/me/settings/sendAs", p->api_url);
	/* offline + consent: a refresh token on every authorization. */
	p->extra_auth = "access_type=offline&prompt=consent";
}

static void
outlook_init(struct ms_provider *p, const char *tenant)
{
	const char *auth = env_or(
	    "MAILSYNC_MS_AUTHORITY_URL", "https://login.microsoftonline.com");

	if (tenant == NULL || *tenant == '\0')
		tenant = "common";
	p->label = "Outlook";
	p->auth_url = ms_xasprintf("%s/%s/oauth2/v2.0/authorize", auth, tenant);
	p->token_url = ms_xasprintf("%s/%s/oauth2/v2.0/token", auth, tenant);
	p->device_url =
	    ms_xasprintf("%s/%s/oauth2/v2.0/devicecode", auth, tenant);
	p->api_url = ms_xstrdup(
	    env_or("MAILSYNC_GRAPH_API_URL", "https://graph.microsoft.com"));
	/* Mail.Read, not Mail.ReadBasic: the latter hides bodyPreview. */
	p->scope = "offline_access User.Read Mail.Read";
	p->needed_scope = "Mail.Read";
	p->rotates_refresh = 1;
	p->address = graph_address;
	p->extra_auth = "response_mode=query&prompt=select_account";
}

struct ms_provider *
ms_provider_create(const char *name, const char *tenant)
{
	struct ms_provider *p;

	if (name == NULL ||
	    (strcmp(name, "gmail") != 0 && strcmp(name, "outlook") != 0)) {
		ms_errc(EX_USAGE, "unknown provider \"%s\": gmail or outlook",
		    name ? name : "");
		return NULL;
	}
	p = ms_xcalloc(1, sizeof(*p));
	if (strcmp(name, "gmail") == 0) {
		p->name = "gmail";
		gmail_init(p);
	} else {
		p->name = "outlook";
		outlook_init(p, tenant);
	}
	/* Refuse a clear-text endpoint before anything is sent to it. */
	if (ms_http_check_url(p->auth_url) == -1 ||
	    ms_http_check_url(p->token_url) == -1 ||
	    (p->device_url && ms_http_check_url(p->device_url) == -1) ||
	    (p->revoke_url && ms_http_check_url(p->revoke_url) == -1) ||
	    ms_http_check_url(p->api_url) == -1) {
		ms_provider_destroy(p);
		return NULL;
	}
	return p;
}

void
ms_provider_destroy(struct ms_provider *p)
{
	if (p == NULL)
		return;
	free(p->auth_url);
	free(p->token_url);
	free(p->device_url);
	free(p->revoke_url);
	free(p->api_url);
	free(p->aliases_url);
	free(p);
}

int
ms_provider_scope_has(const char *granted, const char *want)
{
	size_t wl = strlen(want), n;
	const char *p = granted, *end;

	while (p != NULL && *p != '\0') {
		while (*p == ' ')
			p++;
		end = strchr(p, ' ');
		n = end ? (size_t)(end - p) : strlen(p);
		if ((n == wl && ms_ascii_ncasecmp(p, want, n) == 0) ||
		    (n > wl && p[n - wl - 1] == '/' &&
			ms_ascii_ncasecmp(p + n - wl, want, wl) == 0))
			return 1;
		p = end;
	}
	return 0;
}
