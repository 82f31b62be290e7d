#include "path.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>

#include "util.h"

char *
ms_path_db(const char *opt)
{
	const char *env, *home;

	if (opt != NULL)
		return ms_xstrdup(opt);
	if ((env = getenv("MAILSYNC_DB")) != NULL && *env != '\0')
		return ms_xstrdup(env);
	if ((env = getenv("XDG_DATA_HOME")) != NULL && *env == '/')
		return ms_xasprintf("%s/mailsync/mailsync.db", env);
	if ((home = getenv("HOME")) == NULL || *home == '\0') {
		ms_errc(EX_CONFIG,
		    "cannot locate the database: "
		    "set HOME, MAILSYNC_DB or --db");
		return NULL;
	}
	return ms_xasprintf("%s/.local/share/mailsync/mailsync.db", home);
}

int
ms_path_mkparent(const char *path)
{
	char *dir, *p;
	int rc = 0;

	dir = ms_xstrdup(path);
	if ((p = strrchr(dir, '/')) == NULL || p == dir) {
		free(dir);
		return 0;
	}
	*p = '\0';
	/* Create each missing component; only the new ones get 0700. */
	for (p = dir + 1; rc == 0; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(dir, 0700) == -1 && errno != EEXIST)
			rc = ms_errc(
			    EX_CANTCREAT, "%s: %s", dir, strerror(errno));
		*p = c;
		if (c == '\0')
			break;
	}
	free(dir);
	return rc;
}
