/*
 * mailsync-record: store an email that the CRM itself sent, in full.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "cli.h"
#include "cmd.h"
#include "email.h"
#include "log.h"
#include "msg.h"
#include "util.h"

#define SNIPPET_MAX 200

static MS_DEAD void
usage(FILE *out, int code)
{
	fprintf(out,
	    "usage: %s [FILE|-]\n"
	    "\n"
	    "Record one RFC 5322 message that the CRM sent (source crm,\n"
	    "direction out), keeping its full text body, and print its id.\n"
	    "Recording the same Message-ID again prints the existing id.\n"
	    "\n" MS_CLI_USAGE,
	    getprogname());
	exit(code);
}

/* Move what the email keeps out of the parsed message. */
static void
email_from_msg(struct ms_email *e, struct ms_msg *m)
{
	memset(e, 0, sizeof(*e));
	strlcpy(e->source, "crm", sizeof(e->source));
	e->direction = "out";
	e->date = m->has_date ? m->date : time(NULL);
	e->subject = ms_xstrdup(m->subject);
	e->body = ms_xstrdup(m->body);
	e->snippet = ms_msg_snippet(m->body, SNIPPET_MAX);
	e->has_attachments = m->has_attachments;
	e->from = m->from;
	e->to = m->to;
	e->cc = m->cc;
	memset(&m->from, 0, sizeof(m->from));
	memset(&m->to, 0, sizeof(m->to));
	memset(&m->cc, 0, sizeof(m->cc));
	if (m->message_id != NULL)
		e->message_id = ms_xstrdup(m->message_id);
	else
		e->message_id = ms_email_synthetic_id(e);
}

int
main(int argc, char *argv[])
{
	/* clang-format off */
	static const struct option longopts[] = {
	    MS_CLI_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	/* clang-format on */
	struct ms_cli cli = {0};
	struct ms_msg m = {0};
	struct ms_email e;
	struct ms_db *db;
	const char *path, *name;
	size_t len;
	char *buf;
	int ch, created;

	while ((ch = getopt_long(
		    argc, argv, MS_CLI_SHORTOPTS, longopts, NULL)) != -1) {
		switch (ch) {
		case 'h': usage(stdout, 0);
		case 'V': ms_cli_version(); return 0;
		default:
			if (!ms_cli_option(&cli, ch, optarg))
				exit(EX_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1)
		errx(EX_USAGE, "one message at a time: too many arguments");
	path = argc == 1 ? argv[0] : "-";
	name = strcmp(path, "-") == 0 ? "stdin" : path;

	if ((buf = ms_read_all(path, MS_MSG_MAX_SIZE, &len)) == NULL)
		errx(EX_NOINPUT, "%s", ms_errstr());
	if (ms_msg_parse(buf, len, &m) == -1)
		errx(EX_DATAERR, "%s: %s; nothing stored", name, ms_errstr());
	free(buf);
	if (m.nwarn > 0)
		ms_log_warn("%s: %d part(s) not understood, first: %s", name,
		    m.nwarn, m.warn);
	email_from_msg(&e, &m);
	ms_msg_finish(&m);

	if ((db = ms_cli_open(&cli)) == NULL)
		ms_cmd_die();
	if (ms_db_begin(db) == -1 || ms_email_store(db, &e, &created) == -1 ||
	    ms_db_commit(db) == -1) {
		ms_db_rollback(db);
		ms_cmd_die();
	}
	if (!created)
		ms_log_info("%s: %s is recorded already", name, e.message_id);
	printf("%lld\n", (long long)e.id);
	ms_email_finish(&e);
	ms_db_close(db);
	ms_cmd_flush();
	return 0;
}
