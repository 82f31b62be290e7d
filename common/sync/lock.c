#include "lock.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "path.h"
#include "util.h"

static void
lease_write(int fd, long long bound)
{
	char buf[64];
	int n;

	n = snprintf(buf, sizeof(buf), "%ld %lld %lld\n", (long)getpid(),
	    (long long)time(NULL), bound);
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)n, 0) != n)
		ms_log_warn("warning: cannot write the pull lease: %s",
		    strerror(errno));
}

long long
ms_lock_grace(long long bound)
{
	long long g = bound / 4;

	return g < 3 ? 3 : g > 60 ? 60 : g;
}

/* The pid of a lease holder past its bound and grace, or 0. */
static pid_t
lease_expired(int fd)
{
	char buf[64], comm[32], *path;
	long long pid, start, bound;
	ssize_t n;
	FILE *fp;
	int ours;

	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%lld %lld %lld", &pid, &start, &bound) != 3 ||
	    pid <= 1 || bound <= 0 ||
	    time(NULL) <= start + bound + ms_lock_grace(bound))
		return 0;
	/* Only ever a mailsync-pull: a recycled pid is left alone. */
	path = ms_xasprintf("/proc/%lld/comm", pid);
	fp = fopen(path, "r");
	free(path);
	ours = fp != NULL && fgets(comm, sizeof(comm), fp) != NULL &&
	    strcmp(comm, "mailsync-pull\n") == 0;
	if (fp != NULL)
		fclose(fp);
	return ours ? (pid_t)pid : 0;
}

/* End the stuck run and take the lock; 0, or -1 when it stays held. */
static int
take_over(int fd, pid_t pid, const char *db)
{
	int i;

	ms_log_warn("warning: the mailsync-pull of pid %ld on %s is past "
		    "its --max-time: ending it (what it committed stays)",
	    (long)pid, db);
	kill(pid, SIGKILL);
	for (i = 0; i < 50; i++) { /* 5 s at most */
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		usleep(100000);
	}
	return -1;
}

/*
 * Open (or create) the lock file, never through a symbolic link and only
 * when it is a regular file of the caller's with no other name: the lease
 * is written into it, and a planted link must not truncate its target.
 * O_NONBLOCK: a FIFO planted there must not hang the run.
 */
static int
open_lock(const char *path)
{
	struct stat sb;
	int fd;

	fd = open(path,
	    O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK,
	    0600);
	if (fd == -1 && errno == ELOOP)
		return ms_errc(EX_CANTCREAT,
		    "lock file %s is a symbolic link: refused (remove it; "
		    "mailsync makes its own)",
		    path);
	if (fd == -1)
		return ms_errc(
		    EX_CANTCREAT, "lock file %s: %s", path, strerror(errno));
	if (fstat(fd, &sb) == -1) {
		ms_errc(
		    EX_CANTCREAT, "lock file %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_nlink != 1) {
		close(fd);
		return ms_errc(EX_CANTCREAT,
		    "lock file %s is not a plain file of its own (a %s): "
		    "refused (remove it; mailsync makes its own)",
		    path, !S_ISREG(sb.st_mode) ? "special file" : "hard link");
	}
	if (sb.st_uid != geteuid()) {
		close(fd);
		return ms_errc(EX_NOPERM,
		    "lock file %s belongs to uid %ld, not to you (uid %ld): "
		    "run mailsync-pull as the database's owner",
		    path, (long)sb.st_uid, (long)geteuid());
	}
	return fd;
}

int
ms_lock_take(const char *db, long long bound)
{
	char *path;
	pid_t stuck;
	int fd;

	if (ms_path_mkparent(db) == -1)
		return -1;
	path = ms_xasprintf("%s.pull.lock", db);
	if ((fd = open_lock(path)) == -1) {
		free(path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK) {
			ms_errc(EX_OSERR, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if ((stuck = lease_expired(fd)) == 0 ||
		    take_over(fd, stuck, db) == -1) {
			ms_errc(EX_TEMPFAIL,
			    "another mailsync-pull is running on "
			    "%s: not starting a second one",
			    db);
			goto fail;
		}
	}
	lease_write(fd, bound);
	free(path);
	return fd;
fail:
	close(fd);
	free(path);
	return -1;
}

void
ms_lock_release(int fd)
{
	if (fd >= 0)
		close(fd);
}
