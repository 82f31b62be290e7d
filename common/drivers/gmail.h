/*
 * gmail: the Gmail API driver of mailsync-pull (sync.h has the driver
 * interface), and the pieces of it that other code and the fuzzers use.
 */
#ifndef MS_GMAIL_H
#define MS_GMAIL_H

#include <json-c/json.h>

#include "email.h"

/*
 * A messages.get reply in metadata format (or a message of threads.get)
 * into e: its headers (From, To, Cc, Subject decoded, Date,
 * Message-ID, the bulk marks), internalDate, snippet (entities decoded),
 * threadId. Every member may be absent, null or of another type: a
 * header without a string name and value is ignored. 0 with e filled, 1
 * when it is mail not to sync (draft, spam, trash, chat labels), -1 with
 * ms_err (EX_DATAERR) when it is no message (no usable id, no
 * payload.headers). e is always safe to finish.
 */
int ms_gmail_message(struct json_object *msg, struct ms_email *e);

/*
 * The addresses of a settings.sendAs.list reply other than the primary
 * one, verified (verificationStatus "accepted", or none given): a new
 * vector of new strings in *addrs. 0, or -1 when o is not one.
 */
int ms_gmail_sendas_parse(struct json_object *o, char ***addrs, size_t *n);

/* Whether id looks like a Gmail id (letters, digits, - and _; it goes
 * into URLs and batch parts as it is). */
int ms_gmail_id_ok(const char *id);

#endif
