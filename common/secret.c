#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "util.h"

#define BLOB_VERSION 1
#define KEYLEN crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define NONCELEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAGLEN crypto_aead_xchacha20poly1305_ietf_ABYTES

struct ms_secret_key {
	unsigned char k[KEYLEN];
};

static char *
key_path(const char *dbpath)
{
	const char *env = getenv("MAILSYNC_KEY_FILE");
	const char *slash;

	if (env != NULL && *env != '\0')
		return ms_xstrdup(env);
	if ((slash = strrchr(dbpath, '/')) == NULL)
		return ms_xstrdup("mailsync.key");
	return ms_xasprintf("%.*s/mailsync.key", (int)(slash - dbpath), dbpath);
}

static int
create_key(const char *path)
{
	unsigned char k[KEYLEN];
	ssize_t n;
	int fd;

	fd = open(
	    path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1)
		return errno == EEXIST
		    ? 0
		    : ms_errc(EX_CANTCREAT, "%s: %s", path, strerror(errno));
	randombytes_buf(k, sizeof(k));
	n = write(fd, k, sizeof(k));
	sodium_memzero(k, sizeof(k));
	if (n != (ssize_t)sizeof(k) || fsync(fd) == -1) {
		close(fd);
		unlink(path);
		return ms_errc(EX_IOERR, "%s: cannot write the key", path);
	}
	return close(fd);
}

static int
read_key(const char *path, struct ms_secret_key *key)
{
	struct stat sb;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return ms_errc(errno == ENOENT ? EX_NOINPUT : EX_NOPERM,
		    "key file %s: %s", path, strerror(errno));
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return ms_errc(
		    EX_CONFIG, "key file %s: not a regular file", path);
	}
	if (sb.st_mode & 077) {
		close(fd);
		return ms_errc(EX_CONFIG,
		    "key file %s: mode %04o lets others "
		    "use it; chmod 600 it",
		    path, (unsigned)sb.st_mode & 07777);
	}
	n = read(fd, key->k, sizeof(key->k));
	close(fd);
	if (n != (ssize_t)sizeof(key->k) || sb.st_size != (off_t)KEYLEN)
		return ms_errc(EX_CONFIG,
		    "key file %s: not a mailsync key "
		    "(%d bytes expected)",
		    path, (int)KEYLEN);
	return 0;
}

struct ms_secret_key *
ms_secret_key_load(const char *dbpath, int create)
{
	struct ms_secret_key *key;
	char *path;
	int rc;

	if (sodium_init() < 0) {
		ms_errc(EX_SOFTWARE, "libsodium cannot start");
		return NULL;
	}
	path = key_path(dbpath);
	if (create && create_key(path) == -1) {
		free(path);
		return NULL;
	}
	key = sodium_malloc(sizeof(*key));
	if (key == NULL) {
		free(path);
		ms_errc(EX_OSERR, "out of secure memory");
		return NULL;
	}
	rc = read_key(path, key);
	free(path);
	if (rc == -1) {
		sodium_free(key);
		return NULL;
	}
	return key;
}

void
ms_secret_key_destroy(struct ms_secret_key *key)
{
	if (key != NULL)
		sodium_free(key); /* zeroes it */
}

int
ms_secret_seal(const struct ms_secret_key *key, const char *context,
    const char *plain, unsigned char **out, size_t *outlen)
{
	size_t plen = strlen(plain);
	unsigned char *blob;
	unsigned long long clen;

	*outlen = 1 + NONCELEN + plen + TAGLEN;
	blob = ms_xmalloc(*outlen);
	blob[0] = BLOB_VERSION;
	randombytes_buf(blob + 1, NONCELEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(blob + 1 + NONCELEN, &clen,
	    (const unsigned char *)plain, plen, (const unsigned char *)context,
	    strlen(context), NULL, blob + 1, key->k);
	*out = blob;
	return 0;
}

char *
ms_secret_open(const struct ms_secret_key *key, const char *context,
    const unsigned char *blob, size_t len)
{
	unsigned long long plen;
	char *plain;

	if (len < 1 + NONCELEN + TAGLEN || blob[0] != BLOB_VERSION) {
		ms_errc(EX_DATAERR, "%s: not a sealed secret", context);
		return NULL;
	}
	plain = ms_xmalloc(len - 1 - NONCELEN - TAGLEN + 1);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *)plain,
		&plen, NULL, blob + 1 + NONCELEN, len - 1 - NONCELEN,
		(const unsigned char *)context, strlen(context), blob + 1,
		key->k) != 0) {
		free(plain);
		ms_errc(EX_CONFIG,
		    "%s: does not decrypt with this key file "
		    "(wrong MAILSYNC_KEY_FILE?)",
		    context);
		return NULL;
	}
	plain[plen] = '\0';
	return plain;
}

void
ms_secret_free(char *s)
{
	if (s == NULL)
		return;
	sodium_memzero(s, strlen(s));
	free(s);
}

static char *
b64url(const unsigned char *bin, size_t n)
{
	size_t len = sodium_base64_encoded_len(
	    n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *s = ms_xmalloc(len);

	sodium_bin2base64(
	    s, len, bin, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return s;
}

char *
ms_secret_random_b64url(size_t n)
{
	unsigned char buf[96];
	char *s;

	if (n > sizeof(buf))
		n = sizeof(buf);
	if (sodium_init() < 0)
		return NULL;
	randombytes_buf(buf, n);
	s = b64url(buf, n);
	sodium_memzero(buf, sizeof(buf));
	return s;
}

char *
ms_secret_s256(const char *s)
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, (const unsigned char *)s, strlen(s));
	return b64url(h, sizeof(h));
}
