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
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "cmd.h"
#include "connect.h"
#include "http.h"
#include "log.h"
#include "util.h"

#define SECRET_MAX 4096
#define DEFAULT_TIMEOUT 300

extern char **environ;

/* --no-browser: show_url opens none. */
static int open_browsers;

/* What a run holds open, at file scope so that every way out (an errx
 * from any helper too) closes it: release runs at exit, before
 * LeakSanitizer's check (atexit handlers run last registered first). */
static struct {
	struct ms_db *db;
	struct ms_secret_key *key;
	struct ms_app app;
	char *password; /* an IMAP account's, guarded memory */
} run;

static void
release(void)
{
	ms_cred_app_finish(&run.app);
	ms_secret_free(run.password);
	ms_secret_key_destroy(run.key);
	ms_db_close(run.db);
	memset(&run, 0, sizeof(run));
}

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
	enum ms_connect_mode mode;
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
	    "           [--timeout SECONDS]\n"
	    "\n"
	    "Connect an IMAP mailbox: TLS from the start (port 993) unless\n"
	    "--starttls (port 143); certificates always verified.\n"
	    "\n"
	    "      --host HOST             the IMAP server\n"
	    "      --imap-port N           its port (993; 143 with "
	    "--starttls\n"
	    "                              or --plain)\n"
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
	    o->mode != MS_CONNECT_LOOPBACK || o->port || o->shared)
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

/*
 * Log in once, before the database is even opened (nothing stored when
 * the login fails), then store the account, its server and its sealed
 * password at once. The exit status.
 */
static int
password_main(
    const struct opts *o, const struct ms_connect *c, struct ms_cli *cli)
{
	const struct imap_opts *io = &o->imap;
	struct ms_imap_server srv = {
	    .host = (char *)io->host,
	    .user = (char *)io->user,
	    .tls = io->plain   ? "none"
		: io->starttls ? "starttls"
			       : "implicit",
	    .port = io->port,
	};
	char *address, *member;

	srv.password = run.password = imap_password(io);
	if (ms_connect_login(c, &srv, &address) == -1)
		ms_cmd_die();
	if ((run.db = ms_cli_open(cli)) == NULL ||
	    (run.key = ms_cred_key_load(run.db, 1)) == NULL ||
	    ms_connect_password(run.db, run.key, c, &srv, address, &member) ==
		-1)
		ms_cmd_die();
	printf("connected %s %s member=%s\n", o->provider, address, member);
	release();
	free(address);
	free(member);
	ms_cmd_flush();
	return 0;
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
		case OPT_PASTE: o->mode = MS_CONNECT_PASTE; break;
		case OPT_DEVICE: o->mode = MS_CONNECT_DEVICE; break;
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
	if (o->secret_stdin && o->mode == MS_CONNECT_PASTE)
		errx(EX_USAGE,
		    "--client-secret-stdin and --paste both read "
		    "stdin: store the credentials first with --setup");
	if (o->tenant != NULL && !(o->drv->flags & MS_DRV_TENANT))
		errx(EX_USAGE, "--tenant: %s has no tenants", o->drv->label);
	if (o->mode == MS_CONNECT_DEVICE && !(o->drv->flags & MS_DRV_DEVICE))
		errx(EX_USAGE,
		    "%s does not allow its mail scopes with the "
		    "device flow: use the browser or --paste",
		    o->drv->label);
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
		ms_cmd_die();
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

/* The authorization URL, alone on its own line (scripts read it), and
 * a browser when a person is there to use it. */
static void
show_url(const struct ms_connect *c, const char *url)
{
	fprintf(stderr,
	    "Open this address in a browser to authorize the %s mailbox%s:\n"
	    "%s\n",
	    c->drv->label,
	    c->mode == MS_CONNECT_PASTE
		? ", then paste the address it lands on (or its code) here"
		: "",
	    url);
	fflush(stderr);
	if (c->mode == MS_CONNECT_LOOPBACK && open_browsers &&
	    isatty(STDIN_FILENO) && isatty(STDERR_FILENO))
		open_browser(url);
}

int
main(int argc, char *argv[])
{
	struct opts o = {.timeout = DEFAULT_TIMEOUT};
	struct ms_cli cli = {0};
	struct ms_connect c;
	char *address, *member;

	ms_secret_protect(); /* before any secret is in memory */
	atexit(release);
	parse_args(argc, argv, &o, &cli);
	c = (struct ms_connect){
	    .drv = o.drv,
	    .member = o.member,
	    .runner = o.member || o.setup ? o.member : default_member(),
	    .login_hint = o.login_hint,
	    .shared = o.shared,
	    .mode = o.mode,
	    .port = o.port,
	    .timeout = o.timeout,
	    .show = show_url,
	    .paste = read_paste,
	};
	open_browsers = !o.no_browser;
	if (o.drv->flags & MS_DRV_PASSWORD)
		return password_main(&o, &c, &cli);
	if ((run.db = ms_cli_open(&cli)) == NULL ||
	    (o.new_key && ms_connect_new_key(run.db) == -1) ||
	    (run.key = ms_cred_key_load(run.db, 1)) == NULL)
		ms_cmd_die();
	get_app(run.db, run.key, &o, &run.app);
	if (o.setup) {
		if (ms_db_begin(run.db) == -1 ||
		    ms_cred_app_store(run.db, run.key, o.provider, &run.app) ==
			-1 ||
		    ms_db_commit(run.db) == -1)
			ms_cmd_die();
		ms_log_info("stored the %s app credentials", o.provider);
	} else {
		if (ms_connect_oauth(run.db, run.key, &c, &run.app,
			o.client_id != NULL, &address, &member) == -1)
			ms_cmd_die();
		printf(
		    "connected %s %s member=%s\n", o.provider, address, member);
		free(address);
		free(member);
	}
	release();
	ms_cmd_flush();
	return 0;
}
