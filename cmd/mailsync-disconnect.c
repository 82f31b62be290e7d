/*
 * mailsync-disconnect: stop syncing one account, keep what was synced.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "account.h"
#include "cli.h"
#include "cmd.h"
#include "driver.h"
#include "log.h"
#include "oauth.h"
#include "util.h"

static MS_DEAD void
usage(FILE *out, int code)
{
	fprintf(out,
	    "usage: %s [-p gmail|outlook|imap] [--purge [-y]] ADDRESS\n"
	    "\n"
	    "Disconnect a mailbox: revoke the grant where the provider allows\n"
	    "it (Google), delete the stored tokens and mark the account\n"
	    "disconnected. Its emails stay on the client profiles, unless\n"
	    "--purge erases them.\n"
	    "\n"
	    "  -p, --provider P  gmail, outlook or imap, when the address is\n"
	    "                    connected with several\n"
	    "      --purge       also delete the account and the synced "
	    "emails\n"
	    "                    no other account shares (CRM emails stay);\n"
	    "                    asks first on a terminal, and refuses\n"
	    "                    without one unless --yes\n"
	    "  -y, --yes         purge without asking\n"
	    "\n" MS_CLI_USAGE,
	    getprogname());
	exit(code);
}

/*
 * Revoke at the provider what can be revoked. Every failure here is a
 * warning: the local disconnect happens anyway.
 */
static void
revoke_grant(struct ms_db *db, const struct ms_secret_key *key, int64_t id,
    const char *provider, const char *address)
{
	struct ms_provider *p = ms_provider_create(provider, NULL);
	struct ms_tokens t;

	if (p == NULL) {
		ms_log_warn("warning: %s; disconnecting locally", ms_errstr());
		return;
	}
	if (!(p->drv->flags & MS_DRV_REVOKE) || p->revoke_url == NULL) {
		if (p->drv->revoke_hint != NULL)
			ms_log_info("%s has no revocation endpoint: %s",
			    p->label, p->drv->revoke_hint);
	} else if (ms_cred_tokens_load(db, key, id, provider, address, &t) ==
	    -1) {
		ms_log_warn("warning: no usable tokens to revoke (%s); "
			    "disconnecting locally",
		    ms_errstr());
	} else {
		/* Revoking the refresh token ends the whole grant. */
		if (ms_oauth_revoke(p, t.refresh) == -1)
			ms_log_warn("warning: revocation at %s failed (%s); "
				    "disconnected locally all the same",
			    p->label, ms_errstr());
		ms_cred_tokens_finish(&t);
	}
	ms_provider_destroy(p);
}

/*
 * Whether the user agrees to delete n emails: --yes, else a "y" typed
 * on the terminal. Without a terminal nobody can agree.
 */
static int
confirmed(const char *address, int64_t n, int yes)
{
	char line[16];
	FILE *tty;
	int ok;

	if (yes)
		return 1;
	if (!isatty(STDIN_FILENO) || (tty = fopen("/dev/tty", "r+")) == NULL)
		errx(EX_USAGE,
		    "--purge would delete %lld emails of %s: "
		    "add --yes when there is no terminal to ask on",
		    (long long)n, address);
	fprintf(tty,
	    "Delete the account %s and the %lld synced emails no other "
	    "account shares? [y/N] ",
	    address, (long long)n);
	fflush(tty);
	ok = fgets(line, sizeof(line), tty) != NULL &&
	    (line[0] == 'y' || line[0] == 'Y');
	fclose(tty);
	return ok;
}

static void
disconnect(struct ms_db *db, int64_t id, int purge, int64_t *deleted)
{
	if (ms_db_begin(db) == -1)
		ms_cmd_die();
	if (ms_cred_tokens_forget(db, id) == -1 ||
	    ms_account_set_status(db, id, "disconnected", NULL) == -1 ||
	    (purge && ms_account_purge(db, id, deleted) == -1) ||
	    ms_db_commit(db) == -1) {
		ms_db_rollback(db);
		ms_cmd_die();
	}
}

int
main(int argc, char *argv[])
{
	/* clang-format off */
	static const struct option longopts[] = {
	    MS_CLI_LONGOPTS,
	    {"provider", required_argument, NULL, 'p'},
	    {"purge", no_argument, NULL, 'P'},
	    {"yes", no_argument, NULL, 'y'},
	    {NULL, 0, NULL, 0},
	};
	/* clang-format on */
	struct ms_secret_key *key;
	struct ms_cli cli = {0};
	struct ms_db *db;
	const char *provider = NULL;
	char *prov = NULL;
	int64_t id, n = 0;
	int ch, rc, purge = 0, yes = 0;

	ms_secret_protect(); /* it holds tokens: no core dump, no ptrace */

	while ((ch = getopt_long(argc, argv, MS_CLI_SHORTOPTS "p:y", longopts,
		    NULL)) != -1) {
		switch (ch) {
		case 'h': usage(stdout, 0);
		case 'V': ms_cli_version(); return 0;
		case 'p':
			if (ms_driver_find(optarg) == NULL)
				errx(EX_USAGE, "--provider \"%s\": %s", optarg,
				    ms_driver_names());
			provider = optarg;
			break;
		case 'P': purge = 1; break;
		case 'y': yes = 1; break;
		default:
			if (!ms_cli_option(&cli, ch, optarg))
				exit(EX_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (yes && !purge)
		errx(EX_USAGE, "--yes goes with --purge");
	if (argc != 1)
		errx(EX_USAGE,
		    argc ? "one address at a time" : "missing ADDRESS");

	if ((db = ms_cli_open_mode(&cli, MS_DB_WRITE)) == NULL)
		ms_cmd_die();
	if ((rc = ms_account_find(db, provider, argv[0], &id, &prov)) == -1)
		ms_cmd_die();
	if (rc == 1) {
		ms_db_close(db);
		errx(EX_NOINPUT, "no %s%saccount %s", provider ? provider : "",
		    provider ? " " : "", argv[0]);
	}
	if (purge && ms_account_purge_count(db, id, &n) == -1)
		ms_cmd_die();
	if (purge && !confirmed(argv[0], n, yes)) {
		ms_db_close(db);
		errx(1, "not confirmed: nothing changed");
	}
	if ((key = ms_cred_key_load(db, 0)) == NULL)
		ms_log_warn("warning: %s; disconnecting locally", ms_errstr());
	else
		revoke_grant(db, key, id, prov, argv[0]);
	disconnect(db, id, purge, &n);
	printf("disconnected %s %s\n", prov, argv[0]);
	if (purge)
		printf("purged %s %s: %lld emails deleted\n", prov, argv[0],
		    (long long)n);
	free(prov);
	ms_secret_key_destroy(key);
	ms_db_close(db);
	ms_cmd_flush();
	return 0;
}
