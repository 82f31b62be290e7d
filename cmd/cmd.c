#include "cmd.h"

#include <err.h>
#include <stdio.h>
#include <sysexits.h>

void
ms_cmd_die(void)
{
	errx(ms_errcode(), "%s", ms_errstr());
}

void
ms_cmd_die_printing(void)
{
	if (ferror(stdout))
		errx(EX_IOERR, "stdout: %s", ms_errstr());
	ms_cmd_die();
}

void
ms_cmd_flush(void)
{
	if (fflush(stdout) == EOF || ferror(stdout))
		err(EX_IOERR, "stdout");
}
