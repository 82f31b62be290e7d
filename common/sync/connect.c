/*
 * connect: authorize one mailbox and store it (connect.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "addr.h"
#include "connect.h"
#include "listen.h"
#include "log.h"
#include "oauth.h"
#include "util.h"

/* An error that ms_err already holds, with more said after it. */
static int
err_more(int code, const char *more)
{
	char *was = ms_xstrdup(ms_errstr());

	ms_errc(code, "%s; %s", was, more);
	free(was);
	return -1;
}

/* An error that ms_err already holds, with what it was about before it
 * ("WHAT: the error"); what is the caller's, freed here. */
static int
err_about(int code, char *what)
{
	char *was = ms_xstrdup(ms_errstr());

	ms_errc(code, "%s: %s", what, was);
	free(what);
	free(was);
	return -1;
}

/* The code from the listener or the pasted line, for this flow's state. */
static int
wait_code(const struct ms_connect *c, int fd, const char *state, char **code)
{
	char *line;
	int rc;

	if (c->mode == MS_CONNECT_LOOPBACK) {
		rc = ms_listen_wait(fd, state, c->timeout, code);
		if (rc == -1 && ms_errcode() == EX_TEMPFAIL)
			return err_more(EX_TEMPFAIL, c->drv->redirect_hint);
		return rc;
	}
	if ((line = c->paste()) == NULL)
		return ms_errc(EX_DATAERR, "nothing pasted on stdin");
	rc = ms_oauth_parse_paste(line, state, code);
	ms_secret_free(line);
	return rc;
}

/* Authorization code with PKCE (RFC 7636, S256) and a random state. */
static int
code_flow(const struct ms_connect *c, const struct ms_provider *p,
    const struct ms_app *app, struct ms_tokens *t)
{
	char *verifier, *challenge, *state, *redirect, *url, *code = NULL;
	int fd = -1, port = c->port, rc;

	if (c->mode == MS_CONNECT_LOOPBACK &&
	    (fd = ms_listen_open(port, &port)) == -1)
		return -1;
	verifier = ms_secret_random_b64url(48);
	challenge = ms_secret_s256(verifier);
	state = ms_secret_random_b64url(24);
	redirect = port ? ms_xasprintf("http://127.0.0.1:%d/", port)
			: ms_xstrdup("http://127.0.0.1/");
	url = ms_oauth_auth_url(
	    p, app, redirect, challenge, state, c->login_hint);
	c->show(c, url);
	rc = wait_code(c, fd, state, &code);
	if (fd != -1)
		close(fd);
	if (rc == 0)
		rc = ms_oauth_exchange(p, app, code, verifier, redirect, t);
	ms_secret_free(code);
	ms_secret_free(verifier);
	ms_secret_free(state);
	free(challenge);
	free(redirect);
	free(url);
	return rc;
}

/* Whether the grant holds want; a token reply without a scope list is
 * taken at its word. */
static int
check_scope(const struct ms_tokens *t, const char *want, const char *what)
{
	if (t->scope == NULL || ms_provider_scope_has(t->scope, want))
		return 0;
	return ms_errc(EX_NOPERM,
	    "the grant lacks %s (was its box unticked?): nothing stored; "
	    "connect again and allow %s",
	    want, what);
}

/*
 * The address of the account to store: the signed-in mailbox's, or with
 * --shared the shared mailbox's, once the member's token is found to
 * read it (Graph answers 403 ErrorAccessDenied otherwise: nothing is
 * stored). A new string, or NULL with ms_err.
 */
static char *
account_address(const struct ms_connect *c, const struct ms_provider *p,
    struct ms_tokens *t)
{
	char *raw, *own, *shared = NULL;

	if ((raw = p->drv->address(p, t->access)) == NULL)
		return NULL;
	if ((own = ms_addr_normalize(raw)) == NULL)
		err_about(EX_DATAERR,
		    ms_xasprintf("%s gave an unusable address", p->label));
	free(raw);
	if (own == NULL || c->shared == NULL)
		return own;
	if ((shared = ms_addr_normalize(c->shared)) == NULL)
		err_about(EX_USAGE,
		    ms_xasprintf("--shared \"%s\": not an address", c->shared));
	else if (check_scope(t, p->drv->shared_needed, "reading shared mail") ==
	    -1)
		goto refused;
	else if (p->drv->shared(p, t->access, shared) == -1) {
		err_more(ms_errcode(), "nothing stored");
		goto refused;
	} else
		ms_log_info(
		    "%s signed in; %s is shared with them", own, shared);
	free(own);
	return shared;
refused:
	free(shared);
	free(own);
	return NULL;
}

/* Store what the authorization gave, all or nothing. */
static int
store(struct ms_db *db, const struct ms_secret_key *key,
    const struct ms_connect *c, const struct ms_app *app, int store_app,
    const char *address, const struct ms_tokens *t, char **member)
{
	const char *name = c->drv->name;
	int64_t id;
	int existed;

	if (ms_db_begin(db) == -1)
		return -1;
	if ((store_app && ms_cred_app_store(db, key, name, app) == -1) ||
	    ms_account_upsert(db, name, address, c->member, c->runner, &id,
		&existed, member) == -1 ||
	    ms_account_origin_set(db, id, c->shared ? "shared" : "own",
		(c->drv->flags & MS_DRV_TENANT) ? app->tenant : NULL) == -1 ||
	    ms_cred_tokens_save(db, key, id, name, address, t) == -1 ||
	    ms_db_commit(db) == -1) {
		ms_db_rollback(db);
		return -1;
	}
	if (existed)
		ms_log_info("%s was connected already: re-authorized, its "
			    "sync state kept",
		    address);
	return 0;
}

/*
 * Read the addresses the mailbox sends as: the business's own too. A
 * failure is a warning: pull reads them again within a day.
 */
static void
read_aliases(struct ms_db *db, const struct ms_provider *p, const char *access,
    const char *address)
{
	char **addrs = NULL;
	size_t n = 0;
	int64_t id;

	if (!(p->drv->flags & MS_DRV_ALIASES))
		return;
	if (p->drv->aliases(p, access, &addrs, &n) == -1 ||
	    ms_account_find(db, p->name, address, &id, NULL) != 0 ||
	    ms_db_begin(db) == -1) {
		ms_log_warn("warning: %s: send-as addresses not read (%s); "
			    "the next pull tries again",
		    address, ms_errstr());
		ms_strv_free(addrs, n);
		return;
	}
	if (ms_account_aliases_set(db, id, addrs, n, time(NULL)) == -1 ||
	    ms_db_commit(db) == -1) {
		ms_db_rollback(db);
		ms_log_warn("warning: %s: send-as addresses not stored (%s)",
		    address, ms_errstr());
	} else if (n > 0)
		ms_log_info("%s also sends as %zu other address%s", address, n,
		    n == 1 ? "" : "es");
	ms_strv_free(addrs, n);
}

int
ms_connect_oauth(struct ms_db *db, const struct ms_secret_key *key,
    const struct ms_connect *c, const struct ms_app *app, int store_app,
    char **address, char **member)
{
	struct ms_tokens t = {0};
	struct ms_provider *p;
	int rc = -1;

	*address = *member = NULL;
	if ((p = ms_provider_create(c->drv->name, app->tenant)) == NULL)
		return -1;
	if (c->shared != NULL)
		ms_provider_shared(p);
	if ((c->mode == MS_CONNECT_DEVICE
		    ? ms_oauth_device(p, app, c->timeout, &t)
		    : code_flow(c, p, app, &t)) == 0 &&
	    check_scope(&t, p->drv->needed_scope, "reading mail") == 0 &&
	    (*address = account_address(c, p, &t)) != NULL &&
	    store(db, key, c, app, store_app, *address, &t, member) == 0) {
		read_aliases(db, p, t.access, *address);
		rc = 0;
	}
	if (rc == -1) { /* nothing stored: nothing to tell */
		free(*address);
		free(*member);
		*address = *member = NULL;
	}
	ms_cred_tokens_finish(&t);
	ms_provider_destroy(p);
	return rc;
}

int
ms_connect_login(
    const struct ms_connect *c, struct ms_imap_server *srv, char **address)
{
	char *raw;

	raw = strchr(srv->user, '@') != NULL
	    ? ms_xstrdup(srv->user)
	    : ms_xasprintf("%s@%s", srv->user, srv->host);
	*address = ms_addr_normalize(raw);
	if (*address == NULL) {
		ms_errc(EX_USAGE, "%s is no email address: give --user as one",
		    raw);
		free(raw);
		return -1;
	}
	free(raw);
	if (c->drv->login(srv, c->timeout) == 0)
		return 0;
	err_about(ms_errcode(), ms_xasprintf("%s:%d", srv->host, srv->port));
	if (ms_errcode() == EX_NOPERM)
		err_more(EX_NOPERM, "nothing stored");
	free(*address);
	*address = NULL;
	return -1;
}

int
ms_connect_password(struct ms_db *db, const struct ms_secret_key *key,
    const struct ms_connect *c, const struct ms_imap_server *srv,
    const char *address, char **member)
{
	int64_t id;
	int existed;

	*member = NULL;
	if (ms_db_begin(db) == -1)
		return -1;
	if (ms_account_upsert(db, c->drv->name, address, c->member, c->runner,
		&id, &existed, member) == -1 ||
	    ms_cred_imap_save(db, key, id, address, srv) == -1 ||
	    ms_db_commit(db) == -1) {
		ms_db_rollback(db);
		free(*member);
		*member = NULL;
		return -1;
	}
	if (existed)
		ms_log_info("%s was connected already: its password and "
			    "server replaced, its sync state kept",
		    address);
	return 0;
}

int
ms_connect_new_key(struct ms_db *db)
{
	char *path = ms_secret_key_path(ms_db_path(db));
	struct stat sb;
	int apps, tokens;

	if (lstat(path, &sb) == 0) {
		ms_errc(EX_USAGE,
		    "--new-key replaces a lost key file, and %s is there: "
		    "if it is the wrong one, move it away first",
		    path);
		free(path);
		return -1;
	}
	free(path);
	if (ms_db_begin(db) == -1 ||
	    ms_cred_discard_sealed(db, &apps, &tokens) == -1 ||
	    ms_db_commit(db) == -1) {
		ms_db_rollback(db);
		return -1;
	}
	if (apps > 0 || tokens > 0)
		ms_log_warn("discarded the secrets sealed with the lost key: "
			    "%d app secret%s and the tokens of %d account%s "
			    "(connect %s again)",
		    apps, apps == 1 ? "" : "s", tokens, tokens == 1 ? "" : "s",
		    tokens == 1 ? "it" : "each");
	return 0;
}
