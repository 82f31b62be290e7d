/*
 * mailsync-connect: store a provider's OAuth app credentials; authorize
 * one mailbox for one team member.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <readpassphrase.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "addr.h"
#include "cli.h"
#include "http.h"
#include "imap.h"
#include "listen.h"
#include "log.h"
#include "oauth.h"
#include "util.h"

#define SECRET_MAX 4096
#define DEFAULT_TIMEOUT 300

extern char **environ;

/* The provider of this run: a file-scope pointer, so that it stays
 * reachable when errx ends the run from a helper (LeakSanitizer sees no
 * leak in what the exit leaves behind). */
static struct ms_provider *volatile provider;

enum mode { MODE_LOOPBACK, MODE_PASTE, MODE_DEVICE };

/* The options of a mailbox with a password of its own (IMAP): values
 * of their own, clear of parse_args' enum. */
enum {
	OPT_HOST = 512,
	OPT_IMAP_PORT,
	OPT_USER,
	OPT_PASSWORD,
	OPT_PASSWORD_FILE,
	OPT_PASSWORD_STDIN,
	OPT_STARTTLS,
	OPT_PLAIN,
};

/* The options of a mailbox with a password of its own (IMAP). */
struct imap_opts {
	const char *host;
	int port; /* 0: 993, or 143 with --starttls or --plain */
	const char *user;
	const char *password_file;
	int password_stdin;
	int starttls;
	int plain;
	int given; /* any of them */
};

struct opts {
	const char *provider;
	const struct ms_driver *drv; /* the provider's */
	const char *client_id;
	const char *secret_file;
	int secret_stdin;
	const char *tenant;
	const char *shared; /* --shared ADDRESS */
	int setup;
	int new_key;
	const char *member;
	const char *login_hint;
	int no_browser;
	enum mode mode;
	int port;
	int timeout;
	struct imap_opts imap; /* --provider imap */
};

static MS_DEAD void
usage(FILE *out, int code)
{
	fprintf(out,
	    "usage: %s --provider gmail|outlook [--client-id ID\n"
	    "           [--client-secret-file FILE | --client-secret-stdin]]\n"
	    "           [--tenant TENANT] [--setup [--new-key]] [--member "
	    "NAME]\n"
	    "           [--shared ADDRESS] [--login-hint EMAIL]\n"
	    "           [--no-browser | --paste | --device-code] [--port N]\n"
	    "           [--timeout SECONDS]\n"
	    "\n"
	    "Store the business's OAuth app for a provider, and authorize one\n"
	    "mailbox for one team member.\n"
	    "\n"
	    "  -p, --provider P            gmail, outlook or imap\n"
	    "      --client-id ID          the OAuth app's client id (stored,\n"
	    "                              replacing the provider's app)\n"
	    "      --client-secret-file F  read the client secret from F\n"
	    "      --client-secret-stdin   read the client secret from stdin\n"
	    "                              (else prompted on a terminal; "
	    "never\n"
	    "                              from the command line)\n"
	    "      --tenant T              Microsoft tenant (default: the\n"
	    "                              app's, else common); the account\n"
	    "                              is refreshed there from now on\n"
	    "      --shared ADDRESS        Outlook: connect the Microsoft 365\n"
	    "                              shared mailbox ADDRESS, signing in\n"
	    "                              as a member who can read it\n"
	    "      --setup                 store the app credentials and stop\n"
	    "      --new-key               with --setup, when the key file is\n"
	    "                              lost: discard every sealed secret\n"
	    "                              (accounts must connect again) and\n"
	    "                              make a new key\n"
	    "  -m, --member NAME           the team member (default: you for\n"
	    "                              a new account, else its member)\n"
	    "      --login-hint EMAIL      the mailbox to sign in with\n"
	    "      --no-browser            print the URL, open no browser\n"
	    "      --paste                 read the redirected URL (or the\n"
	    "                              code) from stdin\n"
	    "      --device-code           Outlook: sign in on another device\n"
	    "      --port N                loopback listener port (default "
	    "any)\n"
	    "      --timeout SECONDS       give up after SECONDS (default %d)\n"
	    "\n"
	    "       %s --provider imap --host HOST [--imap-port N]\n"
	    "           [--starttls | --plain] --user USER\n"
	    "           [--password-file FILE | --password-stdin] [--member "
	    "NAME]\n"
	    "\n"
	    "Connect an IMAP mailbox: TLS from the start (port 993) unless\n"
	    "--starttls (port 143); certificates always verified.\n"
	    "\n"
	    "      --host HOST             the IMAP server\n"
	    "      --imap-port N           its port (993; 143 with "
	    "--starttls)\n"
	    "      --starttls              upgrade to TLS with STARTTLS\n"
	    "      --plain                 no TLS: 127.0.0.1, ::1 and "
	    "localhost only\n"
	    "      --user USER             the login; the address is USER "
	    "when\n"
	    "                              it is one, else USER@HOST\n"
	    "      --password-file F       read the password from F\n"
	    "      --password-stdin        read it from stdin (else prompted "
	    "on\n"
	    "                              a terminal; never from the "
	    "command line)\n"
	    "\n" MS_CLI_USAGE,
	    getprogname(), DEFAULT_TIMEOUT, getprogname());
	exit(code);
}

static MS_DEAD void
die(void)
{
	errx(ms_errcode(), "%s", ms_errstr());
}

/* The first line of buf without its line end. */
static void
chomp(char *s)
{
	s[strcspn(s, "\r\n")] = '\0';
}

/* The client secret, in guarded memory (secret.h). */
static char *
read_secret(const struct opts *o)
{
	char buf[SECRET_MAX], *s;

	if (o->secret_file != NULL || o->secret_stdin) {
		s = ms_secret_read(
		    o->secret_file ? o->secret_file : "-", SECRET_MAX);
		if (s == NULL)
			errx(ms_errcode() == EX_DATAERR ? EX_DATAERR
							: EX_NOINPUT,
			    "client secret: %s", ms_errstr());
		chomp(s);
		if (*s == '\0') {
			ms_secret_free(s);
			errx(EX_DATAERR, "client secret: empty");
		}
		return s;
	}
	if (!(o->drv->flags & MS_DRV_SECRET))
		return NULL; /* a public client has none */
	if (!isatty(STDIN_FILENO))
		errx(EX_USAGE,
		    "%s needs the client secret: "
		    "--client-secret-file FILE or --client-secret-stdin",
		    o->drv->name);
	if (readpassphrase("Client secret: ", buf, sizeof(buf),
		RPP_ECHO_OFF | RPP_REQUIRE_TTY) == NULL ||
	    *buf == '\0') {
		explicit_bzero(buf, sizeof(buf));
		errx(EX_DATAERR, "client secret: none given");
	}
	s = ms_secret_strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return s;
}

static const char *
default_member(void)
{
	struct passwd *pw = getpwuid(geteuid());
	const char *u;

	if (pw != NULL && pw->pw_name != NULL)
		return pw->pw_name;
	if ((u = getenv("USER")) != NULL && *u != '\0')
		return u;
	errx(EX_USAGE, "who is connecting? give --member NAME");
}

static void
open_browser(const char *url)
{
	char *argv[] = {"xdg-open", (char *)url, NULL};
	posix_spawn_file_actions_t fa;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(
	    &fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(
	    &fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, "xdg-open", &fa, NULL, argv, environ) != 0)
		ms_log_debug("no browser opened (xdg-open not found)");
	posix_spawn_file_actions_destroy(&fa);
}

/* The pasted line, read without stdio's buffer (it holds the code):
 * guarded memory. */
static char *
read_paste(void)
{
	char *line = ms_secret_alloc(SECRET_MAX * 2);
	size_t len = 0;
	ssize_t n;

	while (len < SECRET_MAX * 2 &&
	    ((n = read(STDIN_FILENO, line + len, 1)) == 1 ||
		(n == -1 && errno == EINTR))) {
		if (n == 1 && line[len++] == '\n')
			break;
	}
	if (len == 0) {
		ms_secret_free(line);
		return NULL;
	}
	return line;
}

/* Authorization code with PKCE: over the loopback listener or pasted. */
static int
code_flow(const struct opts *o, const struct ms_provider *p,
    const struct ms_app *app, struct ms_tokens *t)
{
	char *verifier = ms_secret_random_b64url(48);
	char *challenge = ms_secret_s256(verifier);
	char *state = ms_secret_random_b64url(24);
	char *redirect, *url, *code = NULL, *line;
	int fd = -1, port = o->port, rc;

	if (o->mode == MODE_LOOPBACK &&
	    (fd = ms_listen_open(port, &port)) == -1)
		die();
	redirect = port ? ms_xasprintf("http://127.0.0.1:%d/", port)
			: ms_xstrdup("http://127.0.0.1/");
	url = ms_oauth_auth_url(
	    p, app, redirect, challenge, state, o->login_hint);
	fprintf(stderr,
	    "Open this address in a browser to authorize the "
	    "%s mailbox%s:\n%s\n",
	    p->label,
	    o->mode == MODE_PASTE
		? ", then paste the address it lands on (or its code) here"
		: "",
	    url);
	fflush(stderr);
	if (o->mode == MODE_LOOPBACK) {
		if (!o->no_browser && isatty(STDIN_FILENO) &&
		    isatty(STDERR_FILENO))
			open_browser(url);
		rc = ms_listen_wait(fd, state, o->timeout, &code);
		close(fd);
		if (rc == -1 && ms_errcode() == EX_TEMPFAIL)
			errx(EX_TEMPFAIL, "%s; %s", ms_errstr(),
			    p->drv->redirect_hint);
	} else if ((line = read_paste()) == NULL)
		rc = ms_errc(EX_DATAERR, "nothing pasted on stdin");
	else {
		rc = ms_oauth_parse_paste(line, state, &code);
		ms_secret_free(line);
	}
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

/* Store what the authorization gave, all or nothing. */
static int
store(struct ms_db *db, const struct ms_secret_key *key, const struct opts *o,
    const struct ms_app *app, const char *address, const struct ms_tokens *t,
    char **member)
{
	int64_t id;
	int existed;

	if (ms_db_begin(db) == -1)
		return -1;
	if ((o->client_id != NULL &&
		ms_cred_app_store(db, key, o->provider, app) == -1) ||
	    ms_account_upsert(db, o->provider, address, o->member,
		default_member(), &id, &existed, member) == -1 ||
	    ms_account_origin_set(db, id, o->shared ? "shared" : "own",
		(o->drv->flags & MS_DRV_TENANT) ? app->tenant : NULL) == -1 ||
	    ms_cred_tokens_save(db, key, id, o->provider, address, t) == -1 ||
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
 * --provider imap: a mailbox with a password of its own
 */

/* One of the IMAP options: 1 when it was. */
static int
imap_option(struct imap_opts *io, int ch, const char *arg)
{
	const char *errstr;

	switch (ch) {
	case OPT_HOST: io->host = arg; break;
	case OPT_IMAP_PORT:
		io->port = (int)strtonum(arg, 1, 65535, &errstr);
		if (errstr != NULL)
			errx(EX_USAGE, "--imap-port \"%s\" is %s", arg, errstr);
		break;
	case OPT_USER: io->user = arg; break;
	case OPT_PASSWORD:
		errx(EX_USAGE,
		    "passwords are never taken from the command "
		    "line: use --password-file FILE or "
		    "--password-stdin");
	case OPT_PASSWORD_FILE: io->password_file = arg; break;
	case OPT_PASSWORD_STDIN: io->password_stdin = 1; break;
	case OPT_STARTTLS: io->starttls = 1; break;
	case OPT_PLAIN: io->plain = 1; break;
	default: return 0;
	}
	io->given = 1;
	return 1;
}

/* The options that go with --provider imap, and only those. */
static void
imap_check(const struct opts *o)
{
	const struct imap_opts *io = &o->imap;

	if (o->client_id || o->secret_file || o->secret_stdin || o->tenant ||
	    o->setup || o->new_key || o->login_hint || o->no_browser ||
	    o->mode != MODE_LOOPBACK || o->port || o->shared)
		errx(EX_USAGE,
		    "an IMAP mailbox has no OAuth app: give --host, --user "
		    "and the password (mailsync-connect --help)");
	if (io->host == NULL || *io->host == '\0')
		errx(EX_USAGE, "--provider imap needs --host HOST");
	if (io->user == NULL || *io->user == '\0')
		errx(EX_USAGE, "--provider imap needs --user USER");
	if (io->starttls && io->plain)
		errx(EX_USAGE, "--starttls or --plain, not both");
	if (io->password_file && io->password_stdin)
		errx(EX_USAGE, "--password-file or --password-stdin, not both");
	if (io->plain && !ms_http_loopback(io->host))
		errx(EX_USAGE,
		    "--plain: clear text is allowed to 127.0.0.1, ::1 and "
		    "localhost only; %s gets TLS (the default) or --starttls",
		    io->host);
	if (strpbrk(io->host, "/@?#[] \t\r\n") != NULL &&
	    strchr(io->host, ':') == NULL)
		errx(EX_USAGE, "--host \"%s\" is not a host name", io->host);
}

/* The password, in guarded memory: a file, stdin, or a prompt. */
static char *
imap_password(const struct imap_opts *io)
{
	char buf[SECRET_MAX], *s;

	if (io->password_file != NULL || io->password_stdin) {
		s = ms_secret_read(
		    io->password_file ? io->password_file : "-", SECRET_MAX);
		if (s == NULL)
			errx(ms_errcode() == EX_DATAERR ? EX_DATAERR
							: EX_NOINPUT,
			    "password: %s", ms_errstr());
		chomp(s);
		if (*s == '\0') {
			ms_secret_free(s);
			errx(EX_DATAERR, "password: empty");
		}
		return s;
	}
	if (!isatty(STDIN_FILENO))
		errx(EX_USAGE,
		    "the password: --password-file FILE or "
		    "--password-stdin (or run on a terminal)");
	if (readpassphrase("Password: ", buf, sizeof(buf),
		RPP_ECHO_OFF | RPP_REQUIRE_TTY) == NULL ||
	    *buf == '\0') {
		explicit_bzero(buf, sizeof(buf));
		errx(EX_DATAERR, "password: none given");
	}
	s = ms_secret_strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return s;
}

/* USER when it is an address, else USER@HOST: normalised. */
static char *
imap_address(const struct imap_opts *io)
{
	char *raw, *a;

	raw = strchr(io->user, '@') != NULL
	    ? ms_xstrdup(io->user)
	    : ms_xasprintf("%s@%s", io->user, io->host);
	if ((a = ms_addr_normalize(raw)) == NULL)
		errx(EX_USAGE, "%s is no email address: give --user as one",
		    raw);
	free(raw);
	return a;
}

/*
 * Log in once, before the database is even opened (nothing stored when
 * the login fails), then store the account, its server and its sealed
 * password at once. The exit status.
 */
static int
imap_main(const struct opts *o, struct ms_cli *cli)
{
	const struct imap_opts *io = &o->imap;
	struct ms_imap_server srv = {0};
	struct ms_fetch_conn_spec cs = {0};
	struct ms_secret_key *key = NULL;
	char *address, *member = NULL, *url;
	int v6 = strchr(io->host, ':') != NULL, existed, code = 0;
	struct ms_db *db;
	int64_t id;

	srv.host = (char *)io->host;
	srv.user = (char *)io->user;
	srv.tls = io->plain ? "none" : io->starttls ? "starttls" : "implicit";
	srv.port = io->port ? io->port : io->plain || io->starttls ? 143 : 993;
	address = imap_address(io);
	srv.password = imap_password(io);
	url = ms_xasprintf("%s://%s%s%s:%d",
	    strcmp(srv.tls, "implicit") == 0 ? "imaps" : "imap", v6 ? "[" : "",
	    io->host, v6 ? "]" : "", srv.port);
	cs.url = url;
	cs.starttls = io->starttls;
	cs.user = io->user;
	cs.password = srv.password;
	if (ms_imap_login(&cs, o->timeout) == -1) {
		warnx("%s:%d: %s%s", io->host, srv.port, ms_errstr(),
		    ms_errcode() == EX_NOPERM ? ": nothing stored" : "");
		code = ms_errcode();
		goto out;
	}
	if ((db = ms_cli_open(cli)) == NULL) {
		warnx("%s", ms_errstr());
		code = ms_errcode();
		goto out;
	}
	if ((key = ms_cred_key_load(db, 1)) == NULL || ms_db_begin(db) == -1 ||
	    ms_account_upsert(db, o->provider, address, o->member,
		default_member(), &id, &existed, &member) == -1 ||
	    ms_cred_imap_save(db, key, id, address, &srv) == -1 ||
	    ms_db_commit(db) == -1) {
		warnx("%s", ms_errstr());
		code = ms_errcode();
		ms_db_rollback(db);
	} else {
		if (existed)
			ms_log_info("%s was connected already: its password "
				    "and server replaced, its sync state kept",
			    address);
		printf("connected %s %s member=%s\n", o->provider, address,
		    member);
	}
	ms_secret_key_destroy(key);
	ms_db_close(db);
out:
	ms_secret_free(srv.password);
	free(address);
	free(member);
	free(url);
	if (code == 0 && (fflush(stdout) == EOF || ferror(stdout)))
		err(EX_IOERR, "stdout");
	return code;
}

/* --shared: a mailbox of the provider's kind, never with --setup. */
static void
check_shared(const struct opts *o)
{
	if (o->shared == NULL)
		return;
	if (!(o->drv->flags & MS_DRV_SHARED))
		errx(EX_USAGE, "--shared: %s has no shared mailboxes",
		    o->drv->label);
	if (o->setup)
		errx(EX_USAGE,
		    "--shared connects a mailbox: it does not go with "
		    "--setup");
}

static void
parse_args(int argc, char *argv[], struct opts *o, struct ms_cli *cli)
{
	enum {
		OPT_ID = 256,
		OPT_SECRET,
		OPT_SECRET_FILE,
		OPT_SECRET_STDIN,
		OPT_TENANT,
		OPT_SETUP,
		OPT_NEW_KEY,
		OPT_HINT,
		OPT_NO_BROWSER,
		OPT_PASTE,
		OPT_DEVICE,
		OPT_PORT,
		OPT_TIMEOUT,
		OPT_SHARED,
	};
	/* clang-format off */
	static const struct option longopts[] = {
	    MS_CLI_LONGOPTS,
	    {"provider", required_argument, NULL, 'p'},
	    {"client-id", required_argument, NULL, OPT_ID},
	    {"client-secret", required_argument, NULL, OPT_SECRET},
	    {"client-secret-file", required_argument, NULL, OPT_SECRET_FILE},
	    {"client-secret-stdin", no_argument, NULL, OPT_SECRET_STDIN},
	    {"tenant", required_argument, NULL, OPT_TENANT},
	    {"setup", no_argument, NULL, OPT_SETUP},
	    {"new-key", no_argument, NULL, OPT_NEW_KEY},
	    {"member", required_argument, NULL, 'm'},
	    {"login-hint", required_argument, NULL, OPT_HINT},
	    {"no-browser", no_argument, NULL, OPT_NO_BROWSER},
	    {"paste", no_argument, NULL, OPT_PASTE},
	    {"device-code", no_argument, NULL, OPT_DEVICE},
	    {"port", required_argument, NULL, OPT_PORT},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"host", required_argument, NULL, OPT_HOST},
	    {"imap-port", required_argument, NULL, OPT_IMAP_PORT},
	    {"user", required_argument, NULL, OPT_USER},
	    {"password", required_argument, NULL, OPT_PASSWORD},
	    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
	    {"password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN},
	    {"starttls", no_argument, NULL, OPT_STARTTLS},
	    {"plain", no_argument, NULL, OPT_PLAIN},
	    {"shared", required_argument, NULL, OPT_SHARED},
	    {NULL, 0, NULL, 0},
	};
	/* clang-format on */
	const char *errstr;
	int ch;

	while ((ch = getopt_long(argc, argv, MS_CLI_SHORTOPTS "p:m:", longopts,
		    NULL)) != -1) {
		switch (ch) {
		case 'h': usage(stdout, 0);
		case 'V': ms_cli_version(); exit(0);
		case 'p': o->provider = optarg; break;
		case OPT_ID: o->client_id = optarg; break;
		case OPT_SECRET:
			errx(EX_USAGE,
			    "secrets are never taken from the "
			    "command line: use --client-secret-file FILE or "
			    "--client-secret-stdin");
		case OPT_SECRET_FILE: o->secret_file = optarg; break;
		case OPT_SECRET_STDIN: o->secret_stdin = 1; break;
		case OPT_TENANT: o->tenant = optarg; break;
		case OPT_SETUP: o->setup = 1; break;
		case OPT_NEW_KEY: o->new_key = 1; break;
		case 'm': o->member = optarg; break;
		case OPT_HINT: o->login_hint = optarg; break;
		case OPT_NO_BROWSER: o->no_browser = 1; break;
		case OPT_PASTE: o->mode = MODE_PASTE; break;
		case OPT_DEVICE: o->mode = MODE_DEVICE; break;
		case OPT_PORT:
			o->port = (int)strtonum(optarg, 1, 65535, &errstr);
			if (errstr != NULL)
				errx(EX_USAGE, "--port \"%s\" is %s", optarg,
				    errstr);
			break;
		case OPT_SHARED: o->shared = optarg; break;
		case OPT_TIMEOUT:
			o->timeout = (int)strtonum(optarg, 1, 86400, &errstr);
			if (errstr != NULL)
				errx(EX_USAGE, "--timeout \"%s\" is %s", optarg,
				    errstr);
			break;
		default:
			if (imap_option(&o->imap, ch, optarg))
				break;
			if (!ms_cli_option(cli, ch, optarg))
				exit(EX_USAGE);
		}
	}
	if (optind < argc)
		errx(EX_USAGE, "unexpected argument \"%s\"", argv[optind]);
	if (o->provider == NULL)
		errx(EX_USAGE, "which provider? --provider %s",
		    ms_driver_names());
	if ((o->drv = ms_driver_find(o->provider)) == NULL)
		errx(EX_USAGE, "--provider \"%s\": %s", o->provider,
		    ms_driver_names());
	if (o->drv->flags & MS_DRV_PASSWORD) {
		imap_check(o);
		return;
	}
	if (o->imap.given)
		errx(EX_USAGE,
		    "--host, --user and the password go with --provider imap");
	if (o->client_id == NULL && (o->secret_file || o->secret_stdin))
		errx(EX_USAGE, "a client secret goes with --client-id");
	check_shared(o);
	if (o->setup && o->client_id == NULL)
		errx(EX_USAGE, "--setup stores credentials: give --client-id");
	if (o->new_key && !o->setup)
		errx(EX_USAGE, "--new-key goes with --setup");
	if (o->secret_stdin && o->mode == MODE_PASTE)
		errx(EX_USAGE,
		    "--client-secret-stdin and --paste both read "
		    "stdin: store the credentials first with --setup");
	if (o->tenant != NULL && !(o->drv->flags & MS_DRV_TENANT))
		errx(EX_USAGE, "--tenant: %s has no tenants", o->drv->label);
	if (o->mode == MODE_DEVICE && !(o->drv->flags & MS_DRV_DEVICE))
		errx(EX_USAGE,
		    "%s does not allow its mail scopes with the "
		    "device flow: use the browser or --paste",
		    o->drv->label);
}

/*
 * The address of the account to store: the signed-in mailbox's, or with
 * --shared the shared mailbox's, once the member's token is found to
 * read it (Graph answers 403 ErrorAccessDenied otherwise: nothing is
 * stored). A new string; exits on failure.
 */
static char *
account_address(const struct opts *o, const struct ms_provider *p,
    const struct ms_tokens *t, const char *own)
{
	char *address;

	if (o->shared == NULL)
		return ms_xstrdup(own);
	if ((address = ms_addr_normalize(o->shared)) == NULL)
		errx(EX_USAGE, "--shared \"%s\": not an address: %s", o->shared,
		    ms_errstr());
	if (t->scope != NULL &&
	    !ms_provider_scope_has(t->scope, p->drv->shared_needed))
		errx(EX_NOPERM,
		    "the grant lacks %s (was its box unticked?): nothing "
		    "stored; connect again and allow reading shared mail",
		    p->drv->shared_needed);
	if (p->drv->shared(p, t->access, address) == -1)
		errx(ms_errcode(), "%s; nothing stored", ms_errstr());
	ms_log_info("%s signed in; %s is shared with them", own, address);
	return address;
}

/*
 * --new-key: the key file is lost, and with it every sealed secret.
 * Discard them (every account needs connecting again, every app's client
 * secret storing again), so that a new key can be made. Never over a key
 * file that is there: that one may still open them.
 */
static void
new_key(struct ms_db *db)
{
	char *path = ms_secret_key_path(ms_db_path(db));
	struct stat sb;
	int apps, tokens;

	if (lstat(path, &sb) == 0)
		errx(EX_USAGE,
		    "--new-key replaces a lost key file, and %s is there: "
		    "if it is the wrong one, move it away first",
		    path);
	if (ms_db_begin(db) == -1 ||
	    ms_cred_discard_sealed(db, &apps, &tokens) == -1 ||
	    ms_db_commit(db) == -1) {
		ms_db_rollback(db);
		die();
	}
	if (apps > 0 || tokens > 0)
		ms_log_warn("discarded the secrets sealed with the lost key: "
			    "%d app secret%s and the tokens of %d account%s "
			    "(connect %s again)",
		    apps, apps == 1 ? "" : "s", tokens, tokens == 1 ? "" : "s",
		    tokens == 1 ? "it" : "each");
	free(path);
}

/* The app: given on the command line, else the stored one. */
static void
get_app(struct ms_db *db, const struct ms_secret_key *key, const struct opts *o,
    struct ms_app *app)
{
	int rc;

	if (o->client_id != NULL) {
		app->client_id = ms_xstrdup(o->client_id);
		app->secret = read_secret(o);
		app->tenant = o->tenant ? ms_xstrdup(o->tenant) : NULL;
		return;
	}
	if ((rc = ms_cred_app_load(db, key, o->provider, app)) == -1)
		die();
	if (rc == 1)
		errx(EX_CONFIG,
		    "no %s app credentials stored: run "
		    "mailsync-connect --provider %s --setup --client-id ID "
		    "first",
		    o->provider, o->provider);
	if (o->tenant != NULL) { /* this account's tenant, not the app's */
		free(app->tenant);
		app->tenant = ms_xstrdup(o->tenant);
	}
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
main(int argc, char *argv[])
{
	struct opts o = {.timeout = DEFAULT_TIMEOUT};
	struct ms_cli cli = {0};
	struct ms_secret_key *key;
	struct ms_provider *p;
	struct ms_tokens t = {0};
	struct ms_app app;
	struct ms_db *db;
	char *raw, *own, *address, *member;
	int rc;

	ms_secret_protect(); /* before any secret is in memory */
	parse_args(argc, argv, &o, &cli);
	if (o.drv->flags & MS_DRV_PASSWORD)
		return imap_main(&o, &cli);
	if ((db = ms_cli_open(&cli)) == NULL)
		die();
	if (o.new_key)
		new_key(db);
	if ((key = ms_cred_key_load(db, 1)) == NULL)
		die();
	get_app(db, key, &o, &app);
	if (o.setup) {
		if (ms_db_begin(db) == -1 ||
		    ms_cred_app_store(db, key, o.provider, &app) == -1 ||
		    ms_db_commit(db) == -1)
			die();
		ms_log_info("stored the %s app credentials", o.provider);
		ms_cred_app_finish(&app);
		ms_secret_key_destroy(key);
		ms_db_close(db);
		return 0;
	}
	if ((p = provider = ms_provider_create(o.provider, app.tenant)) == NULL)
		die();
	if (o.shared != NULL)
		ms_provider_shared(p);
	rc = o.mode == MODE_DEVICE ? ms_oauth_device(p, &app, o.timeout, &t)
				   : code_flow(&o, p, &app, &t);
	if (rc == -1)
		die();
	if (t.scope != NULL &&
	    !ms_provider_scope_has(t.scope, p->drv->needed_scope))
		errx(EX_NOPERM,
		    "the grant lacks %s (was its box unticked?): "
		    "nothing stored; connect again and allow reading mail",
		    p->drv->needed_scope);
	if ((raw = p->drv->address(p, t.access)) == NULL)
		die();
	if ((own = ms_addr_normalize(raw)) == NULL)
		errx(EX_DATAERR, "%s gave an unusable address: %s", p->label,
		    ms_errstr());
	address = account_address(&o, p, &t, own);
	free(own);
	if (store(db, key, &o, &app, address, &t, &member) == -1)
		die();
	read_aliases(db, p, t.access, address);
	printf("connected %s %s member=%s\n", o.provider, address, member);
	free(member);
	free(raw);
	free(address);
	ms_cred_tokens_finish(&t);
	ms_cred_app_finish(&app);
	ms_provider_destroy(p);
	ms_secret_key_destroy(key);
	ms_db_close(db);
	if (fflush(stdout) == EOF || ferror(stdout))
		err(EX_IOERR, "stdout");
	return 0;
}
