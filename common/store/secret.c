#include "secret.h"

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define BLOB_VERSION 1
#define KEYLEN crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define NONCELEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAGLEN crypto_aead_xchacha20poly1305_ietf_ABYTES

struct ms_secret_key {
	unsigned char k[KEYLEN];
};

/* sodium_init is idempotent and cheap once done; every entry point that
 * needs libsodium goes through here. */
static void
init(void)
{
	if (sodium_init() < 0)
		errx(EX_SOFTWARE, "libsodium cannot start");
}

void
ms_secret_protect(void)
{
	struct rlimit rl = {0, 0};

	init();
	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		ms_log_warn(
		    "warning: cannot turn core dumps off: %s", strerror(errno));
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		ms_log_warn(
		    "warning: cannot make this process non-dumpable: %s",
		    strerror(errno));
}

/*
 * Guarded memory
 */

char *
ms_secret_alloc(size_t n)
{
	char *s;

	init();
	if (n >= (size_t)-1 - 1 || (s = sodium_malloc(n + 1)) == NULL)
		errx(EX_OSERR, "out of secure memory");
	sodium_memzero(s, n + 1); /* sodium_malloc fills it with 0xdb */
	return s;
}

char *
ms_secret_strndup(const char *s, size_t n)
{
	char *p;

	n = strnlen(s, n);
	p = ms_secret_alloc(n);
	memcpy(p, s, n);
	return p;
}

char *
ms_secret_strdup(const char *s)
{
	return ms_secret_strndup(s, strlen(s));
}

void
ms_secret_free(char *s)
{
	sodium_free(s); /* wipes the whole allocation; NULL is fine */
}

void
ms_secret_buf_add(struct ms_secret_buf *b, const char *s, size_t n)
{
	size_t cap;
	char *p;

	if (b->len + n + 1 > b->cap) {
		for (cap = b->cap ? b->cap : 256; cap < b->len + n + 1;
		     cap *= 2)
			;
		p = ms_secret_alloc(cap);
		if (b->s != NULL)
			memcpy(p, b->s, b->len);
		sodium_free(b->s);
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void
ms_secret_buf_finish(struct ms_secret_buf *b)
{
	sodium_free(b->s);
	memset(b, 0, sizeof(*b));
}

char *
ms_secret_read(const char *path, size_t max)
{
	int std = strcmp(path, "-") == 0, fd;
	const char *name = std ? "stdin" : path;
	size_t len = 0;
	ssize_t n;
	char *s, extra;

	if (std)
		fd = STDIN_FILENO;
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		ms_errc(EX_NOINPUT, "%s: %s", path, strerror(errno));
		return NULL;
	}
	s = ms_secret_alloc(max);
	for (;;) {
		if (len < max)
			n = read(fd, s + len, max - len);
		else if ((n = read(fd, &extra, 1)) > 0) {
			sodium_memzero(&extra, 1);
			ms_errc(
			    EX_DATAERR, "%s: larger than %zu bytes", name, max);
			goto fail;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			ms_errc(EX_NOINPUT, "%s: %s", name, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (!std)
		close(fd);
	return s;
fail:
	if (!std)
		close(fd);
	sodium_free(s);
	return NULL;
}

/*
 * The key file
 */

char *
ms_secret_key_path(const char *dbpath)
{
	const char *env = getenv("MAILSYNC_KEY_FILE");
	const char *slash;

	if (env != NULL && *env != '\0')
		return ms_xstrdup(env);
	if ((slash = strrchr(dbpath, '/')) == NULL)
		return ms_xstrdup("mailsync.key");
	return ms_xasprintf("%.*s/mailsync.key", (int)(slash - dbpath), dbpath);
}

/* Read the key: 0, 1 when there is no key file, -1. */
static int
read_key(const char *path, struct ms_secret_key *key)
{
	struct stat sb;
	ssize_t n;
	int fd;

	fd = open(
	    path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd == -1 && errno == ENOENT)
		return 1;
	if (fd == -1 && errno == ELOOP)
		return ms_errc(EX_NOPERM,
		    "key file %s is a symbolic link: refused (name the file "
		    "itself, with MAILSYNC_KEY_FILE if it lives elsewhere)",
		    path);
	if (fd == -1)
		return ms_errc(
		    EX_NOPERM, "key file %s: %s", path, strerror(errno));
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return ms_errc(
		    EX_CONFIG, "key file %s: not a regular file", path);
	}
	if (sb.st_uid != geteuid()) {
		close(fd);
		return ms_errc(EX_NOPERM,
		    "key file %s belongs to uid %ld, not to you (uid %ld): "
		    "run mailsync as its owner",
		    path, (long)sb.st_uid, (long)geteuid());
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

static int
write_all(int fd, const unsigned char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Put the complete temporary file tmp at path, never over a file there:
 * 0, 1 when another process got there first, -1. */
static int
place(const char *tmp, const char *path)
{
	if (link(tmp, path) == 0)
		return 0;
	if (errno == EEXIST)
		return 1;
	/* A file system without hard links (vfat, some FUSE ones). */
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	return errno == EEXIST ? 1 : -1;
}

/*
 * Make a new key at path, all or nothing: written to a temporary file in
 * the same folder (O_EXCL, 0600), fsync'ed, linked into place (which
 * fails when another process made one meanwhile: then theirs is read),
 * then the folder fsync'ed. A crash between the steps leaves at most a
 * stray temporary file, never an empty or partial key file.
 */
static int
create_key(const char *path, struct ms_secret_key *key)
{
	const char *slash = strrchr(path, '/');
	char *dir, *tmp;
	int fd, dfd, rc;

	dir = slash
	    ? ms_xstrndup(path, slash == path ? 1 : (size_t)(slash - path))
	    : ms_xstrdup(".");
	tmp = ms_xasprintf("%s/.%s.XXXXXX", dir, slash ? slash + 1 : path);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		rc = ms_errc(EX_CANTCREAT,
		    "cannot create the key file in %s: %s", dir,
		    strerror(errno));
		goto out;
	}
	randombytes_buf(key->k, sizeof(key->k));
	if (fchmod(fd, 0600) == -1 || write_all(fd, key->k, KEYLEN) == -1 ||
	    fsync(fd) == -1) {
		rc = ms_errc(EX_IOERR, "%s: cannot write the key: %s", tmp,
		    strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	rc = place(tmp, path);
	if (rc == -1)
		ms_errc(EX_CANTCREAT, "key file %s: %s", path, strerror(errno));
	unlink(tmp);
	if (rc == 1) { /* another first run won: use its key */
		ms_log_debug(
		    "key file %s: made by another process meanwhile", path);
		rc = read_key(path, key);
		if (rc == 1)
			rc = ms_errc(EX_CANTCREAT,
			    "key file %s: appeared and vanished", path);
		goto out;
	}
	if (rc == 0) {
		if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >=
		    0) {
			if (fsync(dfd) == -1 && errno == EIO)
				rc = ms_errc(
				    EX_IOERR, "%s: %s", dir, strerror(errno));
			close(dfd);
		}
		if (rc == 0)
			ms_log_info("created the key file %s", path);
	}
out:
	free(dir);
	free(tmp);
	return rc;
}

struct ms_secret_key *
ms_secret_key_load(const char *dbpath, int flags)
{
	struct ms_secret_key *key;
	char *path;
	int rc;

	init();
	path = ms_secret_key_path(dbpath);
	if ((key = sodium_malloc(sizeof(*key))) == NULL)
		errx(EX_OSERR, "out of secure memory");
	rc = read_key(path, key);
	if (rc == 1 && (flags & MS_SECRET_CREATE) &&
	    !(flags & MS_SECRET_SEALED))
		rc = create_key(path, key);
	else if (rc == 1)
		/* Never a new key over sealed secrets: they would be lost
		 * for good, and silently. */
		rc = ms_errc(EX_CONFIG,
		    "key file %s is missing, and the database's secrets are "
		    "sealed with it: restore the file from a backup, or "
		    "discard them with mailsync-connect --setup --new-key "
		    "and connect every account again",
		    path);
	free(path);
	if (rc != 0) {
		sodium_free(key);
		return NULL;
	}
	return key;
}

void
ms_secret_key_destroy(struct ms_secret_key *key)
{
	sodium_free(key); /* zeroes it; NULL is fine */
}

/*
 * Sealing
 */

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
	plain = ms_secret_alloc(len - 1 - NONCELEN - TAGLEN);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *)plain,
		&plen, NULL, blob + 1 + NONCELEN, len - 1 - NONCELEN,
		(const unsigned char *)context, strlen(context), blob + 1,
		key->k) != 0) {
		ms_secret_free(plain);
		ms_errc(EX_CONFIG,
		    "%s: does not decrypt with this key file "
		    "(wrong MAILSYNC_KEY_FILE?)",
		    context);
		return NULL;
	}
	plain[plen] = '\0';
	return plain;
}

/*
 * Random strings
 */

static char *
b64url(const unsigned char *bin, size_t n, int secret)
{
	size_t len = sodium_base64_encoded_len(
	    n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *s = secret ? ms_secret_alloc(len) : ms_xmalloc(len);

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
	init();
	randombytes_buf(buf, n);
	s = b64url(buf, n, 1);
	sodium_memzero(buf, sizeof(buf));
	return s;
}

char *
ms_secret_s256(const char *s)
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, (const unsigned char *)s, strlen(s));
	return b64url(h, sizeof(h), 0);
}
