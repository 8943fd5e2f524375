// SPDX-License-Identifier: GPL-2.0
/*
 * File operations other than I/O on an fmap file reach the server as on
 * any fuse file. With "locks" the server negotiates FUSE_POSIX_LOCKS and
 * FUSE_FLOCK_LOCKS and answers GETLK/SETLK/SETLKW; then flock() sends
 * SETLKW (without LOCK_NB: the kernel sets FL_SLEEP for every blocking
 * flock call, LOCK_UN included) or SETLK (LOCK_NB) with FUSE_LK_FLOCK,
 * fcntl(F_SETLK) sends SETLK and F_GETLK sends GETLK, and a conflict the
 * server reports (a write lock of pid FAMFS_CONFLICT_PID in GETLK, -EAGAIN
 * to SETLK) is what the caller sees. ioctl() sends FUSE_IOCTL ("ioctl
 * ENOTTY": the caller gets ENOTTY), poll() sends FUSE_POLL ("poll MASK":
 * the caller gets MASK, filtered by what it asked for). Without the lock
 * flags locks stay local: no lock request reaches the server, another
 * process sees the lock, exactly as on a plain (--no-fmap) fuse file.
 */
#include <poll.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define MANIFEST "/tmp/file-ops.manifest"
#define MANIFEST_LOCAL "/tmp/file-ops-local.manifest"
#define SZ (2ULL << 20)
#define POLL_MASK (POLLIN | POLLPRI)	/* what "poll" answers: not DEFAULT_POLLMASK */
#define TEST_IOCTL _IO(0xfa, 0x42)	/* no VFS or fuse meaning: goes to the file */

FIXTURE(ops) {
	struct famfs_mount m;
	int fd;
};

FIXTURE_SETUP(ops)
{
	char path[PATH_MAX];

	ASSERT_TRUE(module_loaded("famfs_rs"));
	ASSERT_EQ(0, famfs_write_manifest(MANIFEST,
					  "daxdev 0 /dev/dax1.0\n"
					  "file f 2M simple 0:0:2M\n"
					  "locks\n"
					  "ioctl ENOTTY\n"
					  "poll %d\n", POLL_MASK));
	ASSERT_EQ(0, famfs_mount_start(&self->m, MANIFEST, NULL, true, NULL));
	ASSERT_EQ(FAMFS_INIT_DAX_FMAP,
		  famfs_load(&self->m.st->init_flags_out) & FAMFS_INIT_DAX_FMAP);
	/* the kernel offered both lock flags and the server took them */
	ASSERT_EQ((__u64)(FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS),
		  famfs_load(&self->m.st->init_flags_out) & (FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS));
	snprintf(path, sizeof(path), "%s/f", self->m.mnt);
	self->fd = open(path, O_RDWR);
	ASSERT_LE(0, self->fd) TH_LOG("open: %s", strerror(errno));
	ASSERT_EQ(1ULL, famfs_load(&self->m.st->fmap[0]));
}

FIXTURE_TEARDOWN(ops)
{
	int status = -1;

	if (self->fd >= 0)
		close(self->fd);
	famfs_mount_stop(&self->m, &status);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("server wait status %#x", status);
	unlink(MANIFEST);
}

TEST_F(ops, flock_reaches_the_server_as_flock_locks)
{
	struct famfs_mount *m = &self->m;

	ASSERT_EQ(0, flock(self->fd, LOCK_EX)) TH_LOG("flock: %s", strerror(errno));
	EXPECT_EQ(1ULL, famfs_load(&m->st->lk_flock_lock));
	EXPECT_EQ(1ULL, famfs_load(&m->st->ops[FUSE_SETLKW]));
	EXPECT_EQ((__u64)FUSE_SETLKW, famfs_load(&m->st->lk_last_opcode));
	EXPECT_EQ((__u64)F_WRLCK, famfs_load(&m->st->lk_last_type));
	EXPECT_EQ((__u64)FUSE_LK_FLOCK, famfs_load(&m->st->lk_last_flags) & FUSE_LK_FLOCK);
	EXPECT_EQ((__u64)getpid(), famfs_load(&m->st->lk_last_pid));

	ASSERT_EQ(0, flock(self->fd, LOCK_UN));
	EXPECT_EQ(1ULL, famfs_load(&m->st->lk_flock_unlock));
	/* blocking flock(): FL_SLEEP, so SETLKW, unlock included */
	EXPECT_EQ(2ULL, famfs_load(&m->st->ops[FUSE_SETLKW]));
	EXPECT_EQ((__u64)F_UNLCK, famfs_load(&m->st->lk_last_type));

	ASSERT_EQ(0, flock(self->fd, LOCK_SH | LOCK_NB));
	EXPECT_EQ(1ULL, famfs_load(&m->st->ops[FUSE_SETLK]));
	EXPECT_EQ((__u64)F_RDLCK, famfs_load(&m->st->lk_last_type));
	EXPECT_EQ((__u64)FUSE_LK_FLOCK, famfs_load(&m->st->lk_last_flags) & FUSE_LK_FLOCK);
	ASSERT_EQ(0, flock(self->fd, LOCK_UN | LOCK_NB));
	EXPECT_EQ(2ULL, famfs_load(&m->st->ops[FUSE_SETLK]));
	EXPECT_EQ(2ULL, famfs_load(&m->st->lk_flock_unlock));
	EXPECT_EQ(0ULL, famfs_load(&m->st->lk_posix_lock) + famfs_load(&m->st->lk_posix_unlock));
}

TEST_F(ops, posix_locks_reach_the_server)
{
	struct famfs_mount *m = &self->m;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 4096,
			    .l_len = 8192 };

	ASSERT_EQ(0, fcntl(self->fd, F_SETLK, &fl)) TH_LOG("F_SETLK: %s", strerror(errno));
	EXPECT_EQ(1ULL, famfs_load(&m->st->ops[FUSE_SETLK]));
	EXPECT_EQ(1ULL, famfs_load(&m->st->lk_posix_lock));
	EXPECT_EQ((__u64)F_WRLCK, famfs_load(&m->st->lk_last_type));
	EXPECT_EQ(0ULL, famfs_load(&m->st->lk_last_flags) & FUSE_LK_FLOCK);
	EXPECT_EQ(4096ULL, famfs_load(&m->st->lk_last_start));
	EXPECT_EQ(4096ULL + 8192 - 1, famfs_load(&m->st->lk_last_end));

	fl = (struct flock){ .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
	ASSERT_EQ(0, fcntl(self->fd, F_GETLK, &fl));
	EXPECT_EQ(1ULL, famfs_load(&m->st->ops[FUSE_GETLK]));
	EXPECT_EQ(1ULL, famfs_load(&m->st->lk_getlk));
	/* no conflict reported: F_UNLCK */
	EXPECT_EQ(F_UNLCK, fl.l_type);

	fl = (struct flock){ .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 4096,
			     .l_len = 8192 };
	ASSERT_EQ(0, fcntl(self->fd, F_SETLK, &fl));
	EXPECT_EQ(1ULL, famfs_load(&m->st->lk_posix_unlock));
	EXPECT_EQ(2ULL, famfs_load(&m->st->ops[FUSE_SETLK]));
	EXPECT_EQ(0ULL, famfs_load(&m->st->lk_flock_lock) + famfs_load(&m->st->lk_flock_unlock));
}

TEST_F(ops, conflicts_the_server_reports_are_seen)
{
	struct famfs_mount *m = &self->m;
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100 };
	pid_t want_pid;

	ASSERT_EQ(0, famfs_ctl(m, "lock-conflict on"));
	ASSERT_EQ(0, fcntl(self->fd, F_GETLK, &fl)) TH_LOG("F_GETLK: %s", strerror(errno));
	EXPECT_EQ(1ULL, famfs_load(&m->st->lk_getlk));
	EXPECT_EQ(F_WRLCK, fl.l_type);
	EXPECT_EQ(0, fl.l_start);
	EXPECT_EQ(0, fl.l_len);	/* the server's end OFFSET_MAX: to EOF */
	/*
	 * fuse translates the server's pid in its pid namespace: a pid no
	 * process has becomes 0.
	 */
	want_pid = kill(FAMFS_CONFLICT_PID, 0) == 0 || errno == EPERM ? FAMFS_CONFLICT_PID : 0;
	EXPECT_EQ(want_pid, fl.l_pid);

	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
	errno = 0;
	EXPECT_EQ(-1, fcntl(self->fd, F_SETLK, &fl));
	EXPECT_EQ(EAGAIN, errno);
	errno = 0;
	EXPECT_EQ(-1, flock(self->fd, LOCK_EX | LOCK_NB));
	EXPECT_EQ(EWOULDBLOCK, errno);
	EXPECT_EQ(3ULL, famfs_load(&m->st->lk_conflicts));
	ASSERT_EQ(0, famfs_ctl(m, "lock-conflict off"));
	EXPECT_EQ(0, flock(self->fd, LOCK_EX | LOCK_NB));
	EXPECT_EQ(0, flock(self->fd, LOCK_UN | LOCK_NB));
}

TEST_F(ops, ioctl_reaches_the_server)
{
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, TEST_IOCTL, 0));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->ops[FUSE_IOCTL]));
	EXPECT_EQ((__u64)TEST_IOCTL, famfs_load(&self->m.st->ioctl_last_cmd));
}

TEST_F(ops, poll_reaches_the_server)
{
	struct pollfd pfd = { .fd = self->fd, .events = POLLIN | POLLOUT };

	EXPECT_EQ(1, poll(&pfd, 1, 0)) TH_LOG("poll: %s", strerror(errno));
	/* the server's mask, filtered by the events asked for (+ ERR, HUP) */
	EXPECT_EQ((POLL_MASK) & (POLLIN | POLLOUT | POLLERR | POLLHUP), pfd.revents);
	EXPECT_LE(1ULL, famfs_load(&self->m.st->ops[FUSE_POLL]));
	EXPECT_EQ((__u64)(POLLIN | POLLOUT),
		  famfs_load(&self->m.st->poll_last_events) & (POLLIN | POLLOUT));
}

/*
 * Locks without the flags: the same sequence on an fmap file and on a
 * plain fuse file, locally: the child sees the parent's lock, no lock
 * request reaches either server.
 */
static void local_locks(struct __test_metadata *_metadata, const char *opt, bool fmap)
{
	const char *const args[] = { opt, NULL };
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
	char path[PATH_MAX];
	struct famfs_mount m;
	int fd, st = -1;
	pid_t pid;

	ASSERT_EQ(0, famfs_write_manifest(MANIFEST_LOCAL,
					  "daxdev 0 /dev/dax1.0\nfile f 2M simple 0:0:2M\n"));
	ASSERT_EQ(0, famfs_mount_start(&m, MANIFEST_LOCAL, opt ? args : NULL, true, NULL));
	EXPECT_EQ(fmap ? FAMFS_INIT_DAX_FMAP : 0,
		  famfs_load(&m.st->init_flags_out) & FAMFS_INIT_DAX_FMAP);
	EXPECT_EQ(0ULL, famfs_load(&m.st->init_flags_out) & (FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS));
	snprintf(path, sizeof(path), "%s/f", m.mnt);
	fd = open(path, O_RDWR);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	EXPECT_EQ(0, fcntl(fd, F_SETLK, &fl));
	EXPECT_EQ(0, flock(fd, LOCK_EX));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 10 };
		int cfd = open(path, O_RDWR);

		if (cfd < 0 || fcntl(cfd, F_GETLK, &q) || q.l_type != F_WRLCK ||
		    q.l_pid != getppid())
			_exit(1);
		if (!flock(cfd, LOCK_EX | LOCK_NB) || errno != EWOULDBLOCK)
			_exit(2);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("child status %#x", st);
	EXPECT_EQ(0, flock(fd, LOCK_UN));
	close(fd);
	EXPECT_EQ(0ULL, famfs_load(&m.st->ops[FUSE_GETLK]) + famfs_load(&m.st->ops[FUSE_SETLK]) +
		  famfs_load(&m.st->ops[FUSE_SETLKW]));
	EXPECT_EQ(fmap ? 1ULL : 0ULL, famfs_load(&m.st->fmap[0]));
	famfs_mount_stop(&m, &st);
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	unlink(MANIFEST_LOCAL);
}

TEST(without_lock_flags_locks_stay_local_on_an_fmap_file)
{
	ASSERT_TRUE(module_loaded("famfs_rs"));
	local_locks(_metadata, NULL, true);
}

TEST(without_lock_flags_locks_stay_local_on_a_plain_file)
{
	local_locks(_metadata, "--no-fmap", false);
}

TEST_HARNESS_MAIN
