/*
 * provider: what mailsync needs to know of each mail provider, behind
 * one small driver interface (isync-style): a third provider is one new
 * table entry and its functions.
 */
#ifndef MS_PROVIDER_H
#define MS_PROVIDER_H

#include <json-c/json.h>
#include <stddef.h>

struct ms_provider {
	const char *name; /* "gmail", "outlook" */
	const char *label; /* "Gmail", "Outlook" */
	char *auth_url;
	char *token_url;
	char *device_url; /* NULL: no device flow */
	char *revoke_url; /* NULL: no revocation endpoint */
	char *api_url; /* Gmail API or Graph root */
	const char *scope; /* what connect asks for */
	const char *needed_scope; /* must be in the granted scope */
	int secret_required;
	int rotates_refresh; /* every refresh brings a new one */

	/* The mailbox address of the token's owner: a new string. */
	char *(*address)(const struct ms_provider *, const char *access);
	/* The owner's other addresses it sends as (NULL: the provider has
	 * none to tell); *addrs a new vector. 0 or -1. */
	int (*aliases)(const struct ms_provider *, const char *access,
	    char ***addrs, size_t *n);
	/* Its URL, for callers that fetch it themselves (NULL: none). */
	char *aliases_url;
	/* Authorization parameters only this provider takes. */
	const char *extra_auth;
};

/*
 * The provider called name, its endpoints from the environment
 * (MAILSYNC_GOOGLE_*_URL, MAILSYNC_GMAIL_API_URL, MAILSYNC_MS_*_URL,
 * MAILSYNC_GRAPH_API_URL) or the public defaults; tenant is Microsoft's
 * (NULL: "common"). NULL with ms_err (EX_USAGE) for an unknown name.
 */
struct ms_provider *ms_provider_create(const char *name, const char *tenant);
void ms_provider_destroy(struct ms_provider *);

/*
 * The addresses of a Gmail settings.sendAs.list reply other than the
 * primary one, verified (verificationStatus "accepted", or none given):
 * a new vector of new strings in *addrs. 0, or -1 when o is not one.
 */
int ms_provider_sendas_parse(struct json_object *o, char ***addrs, size_t *n);

/* Whether the space-separated scope list granted holds want (either as
 * given or as a URL ending in "/" want). */
int ms_provider_scope_has(const char *granted, const char *want);

#endif
