/*
 * addr: RFC 5322 address lists and address normalisation.
 */
#ifndef MS_ADDR_H
#define MS_ADDR_H

#include <stddef.h>

struct ms_addr {
	char *name; /* display name, decoded UTF-8, "" when none */
	char *email; /* normalised (ms_addr_normalize) address */
};

struct ms_addrlist {
	struct ms_addr *v;
	size_t n;
	size_t cap;
};

/*
 * Parse an address-list header value (From, To, Cc, ...; folded or not)
 * and append its mailboxes to out. Handles quoted display names with
 * commas and escapes, RFC 2047 encoded words in names, comments (nested)
 * and the name in a trailing comment ("jdoe@example.org (John Doe)"),
 * groups ("undisclosed-recipients:;", "A Group:a@x,b@y;": members are
 * flattened into the list), obsolete forms (routes "<@a,@b:c@d>", CFWS
 * around dots, missing commas between angle addresses).
 *
 * Entries that cannot be parsed are skipped. Returns the number of
 * skipped entries (0 when everything parsed); when it is > 0, ms_errstr()
 * describes the first one. Never fails otherwise.
 */
int ms_addr_parse_list(const char *s, size_t len, struct ms_addrlist *out);

/* Append one already-split address (e.g. from a JSON API); the email is
 * normalised, the name copied. Returns 0 or -1 (ms_err) if invalid. */
int ms_addrlist_add(struct ms_addrlist *, const char *name, const char *email);

/* Free the entries and the array; the list is empty afterwards. */
void ms_addrlist_finish(struct ms_addrlist *);

/*
 * Normalise an address for storage and comparison: trim whitespace,
 * lower-case (ASCII in the local part; the domain fully), domain converted
 * to IDNA ASCII (xn--) form. Returns a new string or NULL with ms_err set
 * when the address is not local@domain with a valid domain.
 */
char *ms_addr_normalize(const char *email);

/* How ms_addr_match_key folds addresses. */
#define MS_ADDR_PLUS 1 /* "user+tag@d" matches "user@d" */
#define MS_ADDR_DOTS 2 /* gmail.com/googlemail.com names ignore dots */

/*
 * The form a normalised address matches as under the MS_ADDR_* folds:
 * a new string, email itself copied when nothing folds it. Gmail
 * addresses also become @gmail.com under MS_ADDR_DOTS.
 */
char *ms_addr_match_key(const char *email, int folds);

/* Whether the normalised email is at domain or one of its subdomains. */
int ms_addr_in_domain(const char *email, const char *domain);

/* Whether domain is a public mailbox provider's (gmail.com, outlook.com,
 * ...): sharing one says nothing about being colleagues. */
int ms_addr_public_domain(const char *domain);

#endif
