#include "cli.h"

#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
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
ms_cli_open(const struct ms_cli *cli)
{
	struct ms_db *db;
	char *path;

	ms_log_init(cli->verbosity);
	if ((path = ms_path_db(cli->db)) == NULL)
		return NULL;
	db = ms_db_open(path);
	free(path);
	return db;
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
