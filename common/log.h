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

#endif
