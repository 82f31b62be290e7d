/*
 * driver: what mailsync knows of a mail provider, behind one interface
 * in the manner of isync's driver.h: one struct per provider, defined in
 * its own file (gmail.c, graph.c), listed once in driver.c and found by
 * name. Outside the drivers and that lookup no code knows a provider's
 * name: it asks the driver's flags and calls its functions.
 *
 * A new provider is one new file defining a struct ms_driver and one
 * line in driver.c's table (the README's "Adding a provider" says how).
 */
#ifndef MS_DRIVER_H
#define MS_DRIVER_H

#include <stddef.h>

#include "db.h"
#include "fetch.h"

struct ms_imap_server;
struct ms_sync;
struct ms_provider;

/* What a provider can do, for the commands that ask. */
enum {
	MS_DRV_OAUTH = 1 << 0, /* authorized by OAuth 2.0: apps, tokens */
	MS_DRV_DEVICE = 1 << 1, /* the device authorization grant is allowed */
	MS_DRV_TENANT = 1 << 2, /* an authority with tenants (--tenant) */
	MS_DRV_REVOKE = 1 << 3, /* a grant can be revoked (disconnect) */
	MS_DRV_ALIASES =
	    1 << 4, /* it tells what other addresses one sends as */
	MS_DRV_SECRET = 1 << 5, /* its apps need a client secret */
	MS_DRV_ROTATES = 1 << 6, /* every refresh brings a new refresh token */
	/* Its accounts log in with a password of their own (IMAP): no app,
	 * no tokens; pull's credential is the sealed password. */
	MS_DRV_PASSWORD = 1 << 7,
	/* Shared mailboxes, read with a member's grant. */
	MS_DRV_SHARED = 1 << 8,
};

struct ms_driver {
	const char *name; /* "gmail": --provider, accounts, email source */
	const char *label; /* "Gmail": for people */
	const char *badge; /* the colour of its badge: "red", "blue", "grey" */
	unsigned flags; /* MS_DRV_* */
	const char *scope; /* the OAuth scopes connect asks for */
	const char *needed_scope; /* the one that must be granted */
	/* MS_DRV_SHARED: the scopes for a shared mailbox, and the one of
	 * them that must be granted. */
	const char *shared_scope;
	const char *shared_needed;
	const char *extra_auth; /* authorization parameters only it takes */
	/* Why a browser never came back to the loopback listener, most
	 * likely, and the fix (connect's timeout message). */
	const char *redirect_hint;
	/* Without MS_DRV_REVOKE: where a person removes the consent. */
	const char *revoke_hint;

	/*
	 * Set p's endpoints (new strings) from the environment or the
	 * public defaults; tenant (MS_DRV_TENANT only) is NULL for the
	 * default. 0, or -1 with ms_err. The caller checks them (https).
	 */
	int (*endpoints)(struct ms_provider *p, const char *tenant);

	/* The mailbox address of the token's owner: a new string, or NULL
	 * with ms_err (EX_NOPERM when the token is refused). */
	char *(*address)(const struct ms_provider *, const char *access);

	/* MS_DRV_ALIASES: the other addresses the owner sends as, a new
	 * vector of new strings in *addrs. 0, or -1 with ms_err. */
	int (*aliases)(const struct ms_provider *, const char *access,
	    char ***addrs, size_t *n);

	/* MS_DRV_SHARED: whether the token's owner may read the shared
	 * mailbox address: 0, or -1 with ms_err (EX_NOPERM when refused,
	 * EX_NOINPUT when there is no such mailbox). */
	int (*shared)(const struct ms_provider *, const char *access,
	    const char *address);

	/* MS_DRV_PASSWORD: log in to srv once and out again, to check the
	 * server and the password before anything is stored (srv->port 0:
	 * set to the default for srv->tls). 0, or -1 with ms_err
	 * (EX_NOPERM for a refused login). */
	int (*login)(struct ms_imap_server *srv, int timeout);

	/* One mailbox's request limits, read from the settings. 0 or -1. */
	int (*limits)(struct ms_db *, struct ms_fetch_limits *);

	/* What a reply that is no success means for the engine: asked
	 * again, refreshed, or answered to the driver (ms_fetch_classify;
	 * NULL: the engine's default). */
	ms_fetch_classify *classify;

	/*
	 * A sync: queue the first requests on s->fa, keeping the driver's
	 * state in s->drv and its cursors (ms_sync_cursor_get/set: the
	 * driver's own text, opaque to everyone else) in the database. 0,
	 * or -1 with ms_err (the account fails). finish frees s->drv (NULL
	 * is fine) once the engine has no request of it left.
	 */
	int (*start)(struct ms_sync *);
	void (*finish)(struct ms_sync *);
};

/* The driver called name, or NULL with ms_err (EX_USAGE) naming the
 * known ones. */
const struct ms_driver *ms_driver_find(const char *name);

/* The i-th driver, NULL past the last (for listings). */
const struct ms_driver *ms_driver_at(size_t i);

/* An email source as stored: "crm" or a driver's name (static), or NULL
 * for any other (--source). */
const char *ms_driver_source(const char *s);

/* The known drivers' names as "gmail, outlook or imap", for messages. */
const char *ms_driver_names(void);

/* A driver with its endpoints: what connect, disconnect and pull use. */
struct ms_provider {
	const struct ms_driver *drv;
	const char *name; /* drv->name */
	const char *label; /* drv->label */
	char *auth_url;
	char *token_url;
	char *device_url; /* NULL: no device flow */
	char *revoke_url; /* NULL: no revocation */
	char *api_url; /* the API's root: tokens go to its origin only */
	/* The scopes asked for (authorization, refresh): drv->scope, or
	 * drv->shared_scope for a shared mailbox (ms_provider_shared). */
	const char *scope;
	char *aliases_url; /* MS_DRV_ALIASES: for callers that fetch it */
};

/*
 * The provider called name with its endpoints; tenant is for drivers
 * with MS_DRV_TENANT (NULL: their default). Every endpoint is checked
 * before anything is sent to it (https, or http to loopback only). NULL
 * with ms_err (EX_USAGE for an unknown name, EX_CONFIG for an endpoint).
 */
struct ms_provider *ms_provider_create(const char *name, const char *tenant);
/* Ask for the shared-mailbox scopes from now on (MS_DRV_SHARED). */
void ms_provider_shared(struct ms_provider *);
void ms_provider_destroy(struct ms_provider *);

/* Whether the space-separated scope list granted holds want (as given,
 * or as a URL ending in "/" want). */
int ms_provider_scope_has(const char *granted, const char *want);

/* An environment variable's value, or def when it is unset or empty:
 * the drivers' endpoint overrides (MAILSYNC_*_URL). */
const char *ms_driver_env(const char *var, const char *def);

#endif
