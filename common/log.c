#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <string.h>
#include <unistd.h>

#include "term.h"

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

/* The message as a person may read it: it quotes provider replies and
 * email headers, so it goes through the one sanitizer (term.h). */
static char *
format(const char *fmt, va_list ap)
{
	struct ms_buf b = {0};
	char *raw;

	if (vasprintf(&raw, fmt, ap) == -1)
		return ms_xstrdup(fmt);
	ms_term_add(&b, raw, strlen(raw), 0);
	free(raw);
	return ms_buf_steal(&b);
}

static void
vlog(int prio, const char *fmt, va_list ap)
{
	char *msg = format(fmt, ap);

	if (use_syslog && prio <= LOG_INFO)
		syslog(prio, "%s", msg);
	fprintf(stderr, "%s: %s\n", getprogname(), msg);
	free(msg);
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
	if (use_syslog && level < MS_LOG_VERBOSE) {
		char *msg = format(fmt, ap);

		syslog(LOG_NOTICE, "%s", msg);
		free(msg);
	} else
		vlog(LOG_NOTICE, fmt, ap);
	va_end(ap);
}
