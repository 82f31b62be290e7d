/*
 * secret: client secrets and OAuth tokens encrypted at rest, and kept
 * out of reach in memory.
 *
 * XChaCha20-Poly1305 (libsodium's crypto_aead_xchacha20poly1305_ietf)
 * with a 256-bit key kept outside the database: $MAILSYNC_KEY_FILE, else
 * mailsync.key beside the database, mode 0600, created on first need. The
 * additional data binds each secret to where it is stored ("gmail app
 * secret", "refresh token of outlook carol@x"), so a ciphertext copied to
 * another row does not decrypt. A copy of the database alone opens no
 * mailbox.
 *
 * In memory, every plaintext secret (tokens, client secrets, the PKCE
 * verifier, the authorization code, request and form buffers holding
 * them) lives in libsodium's guarded allocations (sodium_malloc: guard
 * pages, mlock'ed so they are never swapped, wiped when freed), and the
 * processes that hold them make no core dump (ms_secret_protect).
 */
#ifndef MS_SECRET_H
#define MS_SECRET_H

#include <stddef.h>

struct ms_secret_key;

/*
 * Make this process keep its secrets to itself: no core dump
 * (RLIMIT_CORE 0) and not dumpable (PR_SET_DUMPABLE 0: no ptrace attach
 * by the same user, /proc/PID/mem and environ unreadable). The binaries
 * that load the key call it first thing. A failure is a warning.
 */
void ms_secret_protect(void);

/* ms_secret_key_load flags. */
enum {
	/* Make the key file when it does not exist (a first connect). */
	MS_SECRET_CREATE = 1 << 0,
	/* The database holds secrets sealed with the key: a missing key
	 * file is then never replaced by a new one. */
	MS_SECRET_SEALED = 1 << 1,
};

/*
 * Load the key for the database at dbpath. With MS_SECRET_CREATE and
 * without MS_SECRET_SEALED, a missing key file is created, atomically (it
 * appears complete or not at all; two first runs end with one key). A
 * missing key file otherwise is EX_CONFIG, naming where it was expected
 * and what mends it. A key file that is a symbolic link or not owned by
 * the caller is refused (EX_NOPERM), one that others can read or write,
 * or of the wrong size, too (EX_CONFIG). NULL with ms_err on failure.
 */
struct ms_secret_key *ms_secret_key_load(const char *dbpath, int flags);
void ms_secret_key_destroy(struct ms_secret_key *);

/* Where the key file of the database at dbpath is: a new string. */
char *ms_secret_key_path(const char *dbpath);

/* Seal plaintext: a new blob (version, nonce, ciphertext) in *out. */
int ms_secret_seal(const struct ms_secret_key *, const char *context,
    const char *plain, unsigned char **out, size_t *outlen);

/* Open a blob: a new NUL-terminated plaintext in guarded memory, or NULL
 * (ms_err) when it does not authenticate. Free it with ms_secret_free. */
char *ms_secret_open(const struct ms_secret_key *, const char *context,
    const unsigned char *blob, size_t len);

/*
 * Guarded memory for secrets (sodium_malloc): n bytes plus a NUL after
 * them, zeroed. Out of memory exits, as the ms_x* wrappers do. Every
 * string these return, and only those, is freed with ms_secret_free,
 * which wipes it (NULL is fine).
 */
char *ms_secret_alloc(size_t n);
char *ms_secret_strdup(const char *);
char *ms_secret_strndup(const char *, size_t);
void ms_secret_free(char *);

/* A growable buffer in guarded memory (form bodies carrying secrets):
 * growing moves it to a new allocation and wipes the old one. */
struct ms_secret_buf {
	char *s; /* NUL-terminated once anything was added */
	size_t len;
	size_t cap;
};

void ms_secret_buf_add(struct ms_secret_buf *, const char *, size_t);
void ms_secret_buf_finish(struct ms_secret_buf *); /* wipes */

/*
 * Read a whole file (path "-": stdin) of at most max bytes into guarded
 * memory, never through stdio buffers: a new secret string, or NULL
 * (ms_err, EX_NOINPUT or EX_DATAERR).
 */
char *ms_secret_read(const char *path, size_t max);

/* n random bytes as URL-safe base64 without padding (PKCE verifier,
 * state), in guarded memory: free with ms_secret_free. */
char *ms_secret_random_b64url(size_t n);

/* base64url(SHA-256(s)) without padding: the PKCE S256 challenge (not a
 * secret: free it with free). */
char *ms_secret_s256(const char *s);

#endif
