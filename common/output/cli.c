#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sysexits.h>
#include <unistd.h>

#include "log.h"
#include "path.h"
#include "util.h"

int
ms_cli_option(struct ms_cli *cli, int ch, const char *arg)
{
	switch (ch) {
	case 'd': cli->db = arg; return 1;
	case 'v':
		if (cli->verbosity < MS_LOG_DEBUG)
			cli->verbosity++;
		return 1;
	case 'q': cli->verbosity = MS_LOG_QUIET; return 1;
	default: return 0;
	}
}

void
ms_cli_version(void)
{
	printf("%s %s\n", getprogname(), MS_VERSION);
}

struct ms_db *
ms_cli_open_mode(const struct ms_cli *cli, enum ms_db_mode mode)
{
	struct ms_db *db;
	char *path;

	ms_log_init(cli->verbosity);
	if ((path = ms_path_db(cli->db)) == NULL)
		return NULL;
	db = ms_db_open_mode(path, mode);
	free(path);
	return db;
}

struct ms_db *
ms_cli_open(const struct ms_cli *cli)
{
	return ms_cli_open_mode(cli, MS_DB_CREATE);
}

/*
 * Whatever path a binary leaves by with status 0 (usage, --version, the
 * end of main), stdout that could not be written is a failure: exit 74
 * (EX_IOERR), never 0 with the output lost. A failing exit has said
 * why already; a stdout the caller closed (EBADF) is theirs to choose.
 * Registered once for every binary, since each links this file for its
 * options.
 */
static void
close_stdout(int status, void *arg)
{
	int e;

	(void)arg;
	if (status != 0 || (fflush(stdout) == 0 && !ferror(stdout)))
		return;
	e = errno;
	if (fcntl(STDOUT_FILENO, F_GETFD) == -1)
		return;
	fprintf(stderr, "%s: stdout: %s\n", getprogname(),
	    e ? strerror(e) : "write error");
	_exit(EX_IOERR);
}

__attribute__((constructor)) static void
register_close_stdout(void)
{
	on_exit(close_stdout, NULL);
}

int
ms_cli_color(const char *when)
{
	const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");

	if (when == NULL || strcmp(when, "auto") == 0)
		return isatty(STDOUT_FILENO) && (nc == NULL || *nc == '\0') &&
		    (term == NULL || strcmp(term, "dumb") != 0);
	if (strcmp(when, "always") == 0)
		return 1;
	if (strcmp(when, "never") == 0)
		return 0;
	return -1;
}

int
ms_cli_width(int fd)
{
	struct winsize ws;
	const char *cols;
	long long n;

	/* COLUMNS first: a person who sets it means it, also for a pipe
	 * into a pager; strtonum refuses what is not a sane width. */
	if ((cols = getenv("COLUMNS")) != NULL &&
	    (n = strtonum(cols, 1, 10000, NULL)) > 0)
		return (int)n;
	if (!isatty(fd))
		return 0;
	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

void
ms_cli_utf8(void)
{
	if (setlocale(LC_CTYPE, "") == NULL ||
	    strcmp(nl_langinfo(CODESET), "UTF-8") != 0)
		setlocale(LC_CTYPE, "C.UTF-8");
}
