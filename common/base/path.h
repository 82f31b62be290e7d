/*
 * path: where mailsync keeps its files.
 */
#ifndef MS_PATH_H
#define MS_PATH_H

/*
 * The database path: opt when not NULL, else $MAILSYNC_DB, else
 * ${XDG_DATA_HOME:-$HOME/.local/share}/mailsync/mailsync.db. Returns a new
 * string or NULL (ms_err) when neither XDG_DATA_HOME nor HOME is set.
 */
char *ms_path_db(const char *opt);

/*
 * Create the folder that holds path (and its parents) with mode 0700 when
 * missing. Returns 0 or -1 (ms_err, EX_CANTCREAT).
 */
int ms_path_mkparent(const char *path);

#endif
