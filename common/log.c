#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <unistd.h>

static int level = MS_LOG_NORMAL;
static int use_syslog;

void
ms_log_init(int verbosity)
{
	level = verbosity;
	use_syslog = !isatty(STDERR_FILENO);
	if (use_syslog)
		openlog(getprogname(), LOG_PID, LOG_MAIL);
}

int
ms_log_level(void)
{
	return level;
}

static void
vlog(int prio, const char *fmt, va_list ap)
{
	va_list ap2;

	if (use_syslog && prio <= LOG_INFO) {
		va_copy(ap2, ap);
		vsyslog(prio, fmt, ap2);
		va_end(ap2);
	}
	fprintf(stderr, "%s: ", getprogname());
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
ms_log_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap);
	va_end(ap);
}

void
ms_log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
ms_log_info(const char *fmt, ...)
{
	va_list ap;

	if (level < MS_LOG_NORMAL)
		return;
	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
ms_log_debug(const char *fmt, ...)
{
	va_list ap;

	if (level < MS_LOG_VERBOSE)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
ms_log_notice(const char *fmt, ...)
{
	va_list ap;

	if (level < MS_LOG_NORMAL)
		return;
	va_start(ap, fmt);
	if (use_syslog && level < MS_LOG_VERBOSE)
		vsyslog(LOG_NOTICE, fmt, ap);
	else
		vlog(LOG_NOTICE, fmt, ap);
	va_end(ap);
}
