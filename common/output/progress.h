/*
 * progress: mailsync-pull's progress line on a terminal: every
 * account's messages read (of the mailbox's, when the provider said how
 * many), the run's rate and, when every total is known, the time left;
 * cut to the terminal's width, the accounts that do not fit summed up as
 * "+N more". It is redrawn in place, and any other write to stderr while
 * it is shown (a log line, an error) clears it first.
 */
#ifndef MS_PROGRESS_H
#define MS_PROGRESS_H

/* From now on stderr clears the line before anything else it writes. */
void ms_progress_start(void);

/* Draw the line for the run arg (a struct ms_pull *): the pull's tick. */
void ms_progress_show(void *arg);

/* Clear the line; stderr writes as before. */
void ms_progress_end(void);

#endif
