#include "log.h"

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <string.h>
#include <unistd.h>

#include "term.h"

static int level = MS_LOG_NORMAL;
static int use_syslog;
static int journal; /* stderr is systemd's journal */

/*
 * Under systemd, stderr is a stream into the journal and $JOURNAL_STREAM
 * holds its "DEVICE:INODE" (systemd.exec(5)): syslog too would put every
 * line into the journal twice. The variable is inherited by children
 * whose stderr was sent elsewhere (a script's 2>file, cron started from
 * a unit), so it counts only when it names stderr itself.
 */
static int
stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	int n = 0;

	if (v == NULL || sscanf(v, "%llu:%llu%n", &dev, &ino, &n) != 2 ||
	    v[n] != '\0')
		return 0;
	if (fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
ms_log_init(int verbosity)
{
	level = verbosity;
	journal = stderr_is_journal();
	use_syslog = !journal && !isatty(STDERR_FILENO);
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
	/* The journal reads a leading "<N>" as the line's priority
	 * (sd-daemon(3)), so journalctl -p warning finds the warnings. */
	if (journal)
		fprintf(stderr, "<%d>", prio);
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
ms_log_to(int where, int prio, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = format(fmt, ap);
	va_end(ap);
	if (journal && where != 0)
		fprintf(stderr, "<%d>%s: %s\n", prio, getprogname(), msg);
	else {
		if (use_syslog && (where & MS_LOG_SYSTEM))
			syslog(prio, "%s", msg);
		if (where & MS_LOG_STDERR)
			fprintf(stderr, "%s: %s\n", getprogname(), msg);
	}
	free(msg);
}

int
ms_log_terminal(void)
{
	return !use_syslog && !journal;
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
