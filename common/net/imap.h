/*
 * imap: the IMAP4rev1 client protocol (RFC 3501, RFC 9051) that
 * mailsync-pull speaks once libcurl has set a connection up (fetch.h:
 * TLS, STARTTLS and the login are libcurl's): commands with their tags,
 * pipelined, and a parser of the server's responses.
 *
 * libcurl's own IMAP commands are not used past the login: a custom
 * request's response is read line by line (lib/imap.c, imap_endofresp,
 * imap_state_listsearch_resp), so the content of a literal (a header
 * block, the start of a body) is taken for responses, a line of it that
 * starts with the command's tag ends the command, and a NUL cuts it.
 * Here a literal is always its announced number of bytes.
 *
 * Everything the server sends is untrusted: a response is at most
 * MS_IMAP_MAX_RESPONSE bytes, a literal at most what the session allows
 * (a partial fetch's, BODY[..]<0>, at most what was asked), nesting at
 * most MS_IMAP_MAX_DEPTH, values at most MS_IMAP_MAX_VALUES; past any of
 * these the response is refused before it is buffered whole.
 */
#ifndef MS_IMAP_H
#define MS_IMAP_H

#include <stddef.h>
#include <stdint.h>

#include "fetch.h"

#define MS_IMAP_MAX_RESPONSE (8u << 20)
#define MS_IMAP_MAX_LITERAL (1u << 20) /* unless the session says */
#define MS_IMAP_MAX_DEPTH 64
#define MS_IMAP_MAX_VALUES 200000

/*
 * The parser
 */

enum ms_imap_kind {
	MS_IMAP_ATOM, /* also numbers, NIL, flags, BODY[...]<n> */
	MS_IMAP_STRING, /* quoted or literal: any bytes */
	MS_IMAP_LIST,
};

struct ms_imap_val {
	enum ms_imap_kind kind;
	const char *s; /* ATOM, STRING: len bytes, then a NUL */
	size_t len;
	size_t n; /* LIST: its items (the nodes that follow it) */
	size_t next; /* the index after this value and its items */
};

enum ms_imap_type {
	MS_IMAP_UNTAGGED, /* "* ..." */
	MS_IMAP_TAGGED, /* "TAG OK|NO|BAD ..." */
	MS_IMAP_CONT, /* "+ ..." */
};

struct ms_imap_resp {
	enum ms_imap_type type;
	char tag[32];
	int has_number; /* "* 12 FETCH": 12 */
	uint32_t number;
	char word[24]; /* OK, NO, BAD, BYE, PREAUTH, FETCH, LIST, ... upper case
			*/
	/* Status responses (OK NO BAD BYE PREAUTH) and "+": */
	char *code; /* the response code, inside [ ], or NULL */
	char *text; /* the human-readable text, "" when none */
	/* Data: the values after the word, v[0] the first (walk by next). */
	struct ms_imap_val *v;
	size_t nv;
	char *arena;
};

/*
 * A complete response in buf[0..len) (as ms_imap_scan delimited it:
 * literals included, the final CRLF too). 0, or -1 with ms_err
 * (EX_PROTOCOL) naming what is wrong. r is always safe to finish.
 */
int ms_imap_parse(const char *buf, size_t len, struct ms_imap_resp *r);
void ms_imap_resp_finish(struct ms_imap_resp *);

/*
 * Where responses end in a stream, without buffering past the bounds:
 * call with the bytes buffered so far (the same start each time, more
 * at the end); 1 with *end the length of the first complete response,
 * 0 when more is needed, -1 (ms_err) when the response breaks a bound.
 * Reset (memset 0, then the limits) after each response consumed.
 */
struct ms_imap_scan {
	size_t max_literal; /* 0: MS_IMAP_MAX_LITERAL */
	size_t max_partial; /* a BODY[..]<origin> literal; 0: max_literal */
	size_t pos; /* scanned so far */
	size_t seg; /* where the line piece after the last literal starts */
	size_t lit; /* literal bytes still to skip */
};
int
ms_imap_scan(struct ms_imap_scan *, const char *buf, size_t len, size_t *end);

/* Whether v is an atom equal to s (ASCII case ignored). */
int ms_imap_is(const struct ms_imap_val *v, const char *s);
/* Whether v is NIL. */
int ms_imap_nil(const struct ms_imap_val *v);
/* v as a number (an atom of at most 19 digits): 0, or -1. */
int ms_imap_num(const struct ms_imap_val *v, uint64_t *n);
/* v as text: a string or an atom (not NIL), else NULL. */
const char *ms_imap_str(const struct ms_imap_val *v, size_t *len);

/* The i-th item of list l (an index into r->v), or NULL. */
const struct ms_imap_val *
ms_imap_item(const struct ms_imap_resp *r, size_t l, size_t i);
/*
 * In a FETCH response's list of pairs, the value after the item named
 * name (case ignored; with a trailing '*' in name, any item starting
 * with the rest: "BODY[HEADER*"), or NULL. Its index in *idx.
 */
const struct ms_imap_val *
ms_imap_fetch_item(const struct ms_imap_resp *r, const char *name, size_t *idx);

/*
 * A BODYSTRUCTURE (RFC 3501 7.4.2) read as msg.c reads a MIME tree: the
 * message has attachments when a part has Content-Disposition attachment
 * or a filename, a name parameter, or is a non-text leaf that is not
 * inline-related (message/rfc822 included); the text part is the first
 * text/plain part that is not an attachment, else the first text/html.
 */
struct ms_imap_body {
	int has_attachments;
	char section[64]; /* "1", "1.2": the text part, "" when none */
	int html; /* it is text/html */
	char encoding[24]; /* its Content-Transfer-Encoding, lower case */
	char charset[48]; /* its charset, "" when not said */
	uint64_t size; /* its size in bytes, as the server says */
};
/* 0, or -1 (ms_err) when the structure is malformed. idx: in r->v. */
int ms_imap_bodystructure(
    const struct ms_imap_resp *r, size_t idx, struct ms_imap_body *b);

/*
 * The mailbox name name as a command argument: a quoted string, into
 * buf; -1 (ms_err) when it has bytes a quoted string cannot carry (CR,
 * LF, NUL, or 8-bit ones without UTF8=ACCEPT).
 */
int ms_imap_quote(struct ms_buf *buf, const char *name, size_t len);

/*
 * A session on one connection
 */

struct ms_imap;

/* A command's responses: each untagged one that comes while it is the
 * oldest command outstanding, then its tagged one (r->type TAGGED). */
typedef void
ms_imap_cb(struct ms_imap *, const struct ms_imap_resp *r, void *arg);

struct ms_imap_ops {
	/* Logged in and its capabilities read (err 0), or not (err, msg). */
	void (*ready)(struct ms_imap *, int err, const char *msg, void *arg);
	/* It ended: the server closed it or broke the protocol (err), or
	 * the run abandoned it (err 0). Not called after ms_imap_close. */
	void (*closed)(struct ms_imap *, int err, const char *msg, void *arg);
	/*
	 * When not NULL, every untagged response once the session is ready
	 * (else each goes to the oldest command outstanding). A server may
	 * run pipelined commands at once (Dovecot does with FETCH), so that
	 * the untagged responses of several interleave: their content (a
	 * UID, a mailbox name) says whose they are, not their order.
	 */
	ms_imap_cb *untagged;
};

struct ms_imap_spec {
	struct ms_fetch_conn_spec conn; /* ops and arg are the session's */
	size_t max_literal, max_partial; /* ms_imap_scan's */
	const struct ms_imap_ops *ops;
	void *arg;
};

/* NULL when the account failed already. */
struct ms_imap *
ms_imap_open(struct ms_fetch_acct *, const struct ms_imap_spec *);

/* Send a command (the tag is added; args as printf): callbacks follow. */
void ms_imap_cmd(struct ms_imap *, ms_imap_cb *cb, void *arg, const char *fmt,
    ...) MS_ATTR_PRINTF(4, 5);
/* The same with a command built already. */
void ms_imap_cmd_buf(
    struct ms_imap *, ms_imap_cb *cb, void *arg, const char *cmd, size_t len);

/* Whether the server announced cap (CAPABILITY after the login). */
int ms_imap_has(const struct ms_imap *, const char *cap);
/* Commands sent and not answered yet. */
int ms_imap_pending(const struct ms_imap *);
/* Bytes received, for figures. */
long long ms_imap_received(const struct ms_imap *);

/* LOGOUT (not waited for) and close; nothing more is called back. */
void ms_imap_close(struct ms_imap *);

/*
 * Connect and log in, then log out (mailsync-connect checks a password
 * so): 0, or -1 with ms_err: EX_NOPERM when the server refused the login
 * (its words quoted), EX_UNAVAILABLE for TLS or a server that is none,
 * EX_TEMPFAIL for the network or no answer within timeout seconds.
 */
int ms_imap_login(const struct ms_fetch_conn_spec *, double timeout);

#endif
