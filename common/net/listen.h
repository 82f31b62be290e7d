/*
 * listen: the loopback listener the browser's OAuth redirect comes back
 * to (RFC 8252 §7.3), on 127.0.0.1.
 *
 * Anything on the machine can reach it, a web page too (<img
 * src=http://127.0.0.1:PORT/?x>): it serves several connections at once
 * (poll, non-blocking sockets, a small table, a bounded buffer each), so
 * an idle or slow peer never holds up the browser; it answers every
 * request that is not this flow's redirect with a short fixed page and
 * waits on; and the timeout is a hard deadline whatever peers do. No page
 * echoes anything from the request.
 */
#ifndef MS_LISTEN_H
#define MS_LISTEN_H

#include <stddef.h>

/*
 * A listening socket on 127.0.0.1:port (0: any free port), non-blocking.
 * Returns it with *bound set to the port, or -1 (ms_err).
 */
int ms_listen_open(int port, int *bound);

/*
 * Serve the browser on fd until the redirect of this flow (a GET of "/"
 * whose query carries this state) comes, answering it with a short page.
 * Other requests get 400 (a GET of "/" without this state), 404 (another
 * path), 405 (another method on "/"), 431 (a head over 8 KiB) or 400 (a
 * malformed head), and the wait goes on. Returns 0 with *code (guarded
 * memory: ms_secret_free) or -1: the provider's error with this state,
 * such as a denied consent (EX_NOPERM, its error and description), a
 * redirect with no code (EX_DATAERR), or timeout seconds passed
 * (EX_TEMPFAIL).
 */
int ms_listen_wait(int fd, const char *state, int timeout, char **code);

/*
 * Parse an HTTP/1.x request head, buf[0..len) (no NUL needed; bytes
 * after the head's empty line are ignored): the method and the request
 * target of its request line, each a new string in guarded memory (free
 * both with ms_secret_free: the target carries the code). -1 when the
 * head is incomplete (no empty line yet) or malformed (*method and
 * *target then NULL).
 */
int ms_listen_parse(const char *buf, size_t len, char **method, char **target);

/*
 * Judge a redirect's query string (after the "?"): 0 with *code (guarded
 * memory) when it carries this state and a code; 1 when it does not carry
 * this state (not this flow's: ignore it); -1 (ms_err) when it carries
 * this state and the provider's error (EX_NOPERM) or no code
 * (EX_DATAERR).
 */
int ms_listen_judge(const char *query, const char *state, char **code);

#endif
