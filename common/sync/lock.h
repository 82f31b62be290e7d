/*
 * lock: one mailsync-pull at a time per database.
 *
 * A lock file beside the database, flock()ed for the whole run (the
 * kernel lets go of it when the run dies) and holding the run's lease,
 * "PID START BOUND": a run still holding the lock well after its bound
 * (--max-time) is stuck, and the next run ends it.
 */
#ifndef MS_LOCK_H
#define MS_LOCK_H

/*
 * Take the pull lock of the database at dbpath for a run of at most
 * bound seconds (0: unbounded): the lock's descriptor, held until the
 * process exits or ms_lock_release. -1 with ms_err: EX_TEMPFAIL when
 * another pull holds it (and is not stuck), EX_CANTCREAT when the lock
 * file cannot be made or is not a plain file of its own (a symbolic link,
 * a special file, a hard link: never written through), EX_NOPERM when it
 * belongs to another user.
 */
int ms_lock_take(const char *dbpath, long long bound);
void ms_lock_release(int fd);

/* How long past its bound a run may still finish its last writes before
 * the next run takes it for stuck: a quarter of the bound, 3 s to 60 s. */
long long ms_lock_grace(long long bound);

#endif
