/*
 * cmd: how every command ends, the same way in each: giving up with the
 * error common/ recorded, or flushing stdout after success. Only the
 * command layer exits (common/ returns -1 with ms_err), so this lives
 * here, linked into each binary.
 */
#ifndef MS_CMD_H
#define MS_CMD_H

#include "util.h"

/* Exit with the error common/ recorded: its sysexits code and sentence. */
MS_DEAD void ms_cmd_die(void);

/* The same for a command that prints through the printer: when stdout
 * failed, the printer failed mid-list there, and the exit is 74 naming
 * stdout. */
MS_DEAD void ms_cmd_die_printing(void);

/* Before exiting 0: flush stdout, and exit 74 naming stdout when what
 * was printed did not all get out (a full disk, a closed pipe). */
void ms_cmd_flush(void);

#endif
