/*
 * connect: authorize one mailbox for one team member and store it, as
 * mailsync-connect does: the OAuth flows (authorization code with PKCE
 * over the loopback listener or pasted, the device grant), the checks
 * of what was granted, the account's address (its own or a shared
 * mailbox's), the account and its credentials in one transaction, and
 * for drivers with a password of their own (MS_DRV_PASSWORD) one login
 * before anything is stored. What a person sees and types (the URL, a
 * browser, the pasted line, prompts) stays in the command: it is handed
 * in as the two callbacks of struct ms_connect.
 */
#ifndef MS_CONNECT_H
#define MS_CONNECT_H

#include "cred.h"
#include "db.h"
#include "driver.h"
#include "secret.h"

enum ms_connect_mode {
	MS_CONNECT_LOOPBACK, /* redirected to a listener on 127.0.0.1 */
	MS_CONNECT_PASTE, /* the redirected URL (or its code) pasted */
	MS_CONNECT_DEVICE, /* the device authorization grant */
};

/* One connect run, as the command's options asked for it. */
struct ms_connect {
	const struct ms_driver *drv;
	/* --member, or NULL: an existing account keeps its member, a new
	 * one gets runner (who runs the command). */
	const char *member;
	const char *runner;
	const char *login_hint; /* NULL: none */
	const char *shared; /* MS_DRV_SHARED: the shared mailbox, or NULL */
	enum ms_connect_mode mode;
	int port; /* the loopback listener's; 0: any free one */
	int timeout; /* seconds, for the whole authorization */
	/* The authorization URL, once, before the wait: for a person to
	 * open (the command prints it and may start a browser). */
	void (*show)(const struct ms_connect *, const char *url);
	/* MS_CONNECT_PASTE: the line pasted, in guarded memory (secret.h),
	 * or NULL when nothing came. */
	char *(*paste)(void);
};

/*
 * Authorize c's mailbox with app, then store the account (and app too
 * when store_app) with its sealed tokens in one transaction, then read
 * the addresses it sends as (a failure there is only a warning). The
 * account's address and member in *address and *member (new strings).
 * 0, or -1 with ms_err and nothing stored: EX_NOPERM for a grant without
 * the needed scope or a shared mailbox the member may not read,
 * EX_TEMPFAIL for no authorization within c->timeout (with the driver's
 * likely cause), EX_DATAERR for an unusable reply.
 */
int ms_connect_oauth(struct ms_db *, const struct ms_secret_key *,
    const struct ms_connect *c, const struct ms_app *app, int store_app,
    char **address, char **member);

/*
 * MS_DRV_PASSWORD: log in to srv once (srv->port 0: the driver's
 * default for srv->tls, set here), before any database is opened, so
 * that a refused password stores nothing. The account's address in
 * *address: USER when it is an email address, else USER@HOST, as a new
 * string. 0, or -1 with ms_err naming the server (EX_NOPERM for a
 * refused login, EX_USAGE for a USER that makes no address).
 */
int ms_connect_login(
    const struct ms_connect *c, struct ms_imap_server *srv, char **address);

/* Then store the account, its server and its sealed password at once;
 * its member in *member (a new string). 0, or -1 with ms_err. */
int ms_connect_password(struct ms_db *, const struct ms_secret_key *,
    const struct ms_connect *c, const struct ms_imap_server *srv,
    const char *address, char **member);

/*
 * --new-key: the key file is lost, and with it every sealed secret.
 * Discard them (every account must connect again, every app's client
 * secret be stored again), so that a new key can be made. Refused
 * (EX_USAGE) when a key file is there: that one may still open them.
 * 0, or -1 with ms_err.
 */
int ms_connect_new_key(struct ms_db *);

#endif
