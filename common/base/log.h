/*
 * log: diagnostics on stderr and, when stderr is not a terminal (cron),
 * in syslog(LOG_MAIL) too; when stderr is systemd's journal, there only,
 * each line led by its priority ("<3>"). stdout is never touched.
 */
#ifndef MS_LOG_H
#define MS_LOG_H

#include "util.h"

enum {
	MS_LOG_QUIET = -1, /* errors and warnings only */
	MS_LOG_NORMAL = 0, /* plus summaries */
	MS_LOG_VERBOSE = 1, /* plus progress detail */
	MS_LOG_DEBUG = 2, /* plus protocol detail */
};

void ms_log_init(int verbosity);
int ms_log_level(void);
void ms_log_err(const char *, ...) MS_ATTR_PRINTF(1, 2);
void ms_log_warn(const char *, ...) MS_ATTR_PRINTF(1, 2);
void ms_log_info(const char *, ...) MS_ATTR_PRINTF(1, 2);
void ms_log_debug(const char *, ...) MS_ATTR_PRINTF(1, 2);
/* A summary a person at a terminal wants and cron must not mail: on
 * stderr only on a terminal (or with -v) or into the journal, in syslog
 * always. */
void ms_log_notice(const char *, ...) MS_ATTR_PRINTF(1, 2);

/* Where ms_log_to writes: stderr, the system log (syslog, none at a
 * terminal), or both; into the journal once either way. */
enum { MS_LOG_STDERR = 1, MS_LOG_SYSTEM = 2 };
/* A line at syslog priority prio where says, whatever the verbosity:
 * for a caller that decides itself what cron may mail. */
void ms_log_to(int where, int prio, const char *, ...) MS_ATTR_PRINTF(3, 4);
/* Whether stderr is a terminal (neither syslog nor the journal). */
int ms_log_terminal(void);

#endif
