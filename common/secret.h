/*
 * secret: client secrets and OAuth tokens encrypted at rest.
 *
 * XChaCha20-Poly1305 (libsodium's crypto_aead_xchacha20poly1305_ietf)
 * with a 256-bit key kept outside the database: $MAILSYNC_KEY_FILE, else
 * mailsync.key beside the database, mode 0600, created on first need. The
 * additional data binds each secret to where it is stored ("gmail app
 * secret", "refresh token of outlook carol@x"), so a ciphertext copied to
 * another row does not decrypt. A copy of the database alone opens no
 * mailbox.
 */
#ifndef MS_SECRET_H
#define MS_SECRET_H

#include <stddef.h>

struct ms_secret_key;

/*
 * Load the key for the database at dbpath; with create, make the key
 * file when it does not exist. A key file that others can read or write
 * is refused (EX_CONFIG). NULL with ms_err on failure (EX_NOINPUT when
 * it is missing and create is not set).
 */
struct ms_secret_key *ms_secret_key_load(const char *dbpath, int create);
void ms_secret_key_destroy(struct ms_secret_key *);

/* Seal plaintext: a new blob (version, nonce, ciphertext) in *out. */
int ms_secret_seal(const struct ms_secret_key *, const char *context,
    const char *plain, unsigned char **out, size_t *outlen);

/* Open a blob: a new NUL-terminated plaintext, or NULL (ms_err) when it
 * does not authenticate. Wipe it with ms_secret_free. */
char *ms_secret_open(const struct ms_secret_key *, const char *context,
    const unsigned char *blob, size_t len);

/* Wipe and free a plaintext secret (NULL is fine). */
void ms_secret_free(char *);

/* n random bytes as URL-safe base64 without padding (PKCE, state). */
char *ms_secret_random_b64url(size_t n);

/* base64url(SHA-256(s)) without padding: the PKCE S256 challenge. */
char *ms_secret_s256(const char *s);

#endif
