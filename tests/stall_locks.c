// SPDX-License-Identifier: GPL-2.0
/*
 * Locks that eviction takes (the hardening issue, class F). Nothing that
 * can wait on the server may run under a lock that inode eviction takes.
 * Here a first open of a file needs a daxdev whose path (GET_DAXDEV) leads
 * back into the same fuse mount, where the server never answers the
 * LOOKUP: that opener waits on the server. Meanwhile, evicting other fmap
 * inodes of the mount (drop_caches, which frees their block claims) and
 * opening other files on a device already held (which claims blocks) must
 * go on. When famfs_rs took the device under the lock that claims and
 * releases take, both hung, uninterruptibly, until the server answered.
 * (Allocating under that lock was the same bug under memory pressure:
 * reclaim evicts fuse inodes. The lock is now a spinlock, so the debug
 * kernel's atomic-sleep checks catch any allocation or sleep under it.)
 */
#include <limits.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define LINK "/tmp/famfs-stall-link"
#define DONE_MS 20000		/* a hang lasts until release-stall, after the checks */
#define WAIT_MS 20000

/* Run @what in a child; 0 if it finished (exit 0) within @ms. */
static int in_child_within(int (*what)(const struct famfs_mount *), const struct famfs_mount *m,
			   int ms, pid_t *left)
{
	int st = 0;
	pid_t pid;

	*left = 0;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid)
		_exit(what(m) ? 1 : 0);
	if (famfs_wait_exit(pid, ms, &st)) {
		*left = pid;
		return -ETIMEDOUT;
	}
	return WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : -EIO;
}

static int open_close(const struct famfs_mount *m, const char *name)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", m->mnt, name);
	fd = open(path, O_RDWR);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int drop_inodes(const struct famfs_mount *m)
{
	(void)m;
	return famfs_write_str("/proc/sys/vm/drop_caches", "2");
}

static int open_u(const struct famfs_mount *m)
{
	return open_close(m, "u");
}

static int open_s(const struct famfs_mount *m)
{
	return open_close(m, "s");
}

TEST(a_server_stall_under_a_daxdev_lookup_blocks_only_its_opener)
{
	char manifest[] = "/tmp/stall.manifest", upath[PATH_MAX];
	pid_t a, left_b = 0, left_c = 0;
	struct stat sb;
	struct famfs_mount m;
	__u64 lookups, forgets;
	long long end;
	int st = 0, rc;

	ASSERT_TRUE(module_loaded("famfs_rs"));
	unlink(LINK);
	ASSERT_EQ(0, famfs_write_manifest(manifest,
					  "daxdev 0 /dev/dax1.0\n"
					  "daxdev 1 " LINK "/devnode\n"
					  "file t 2M simple 0:950M:2M\n"
					  "file u 2M simple 0:952M:2M\n"
					  "file s 2M simple 1:0:2M\n"
					  "lookup-stall devnode\n"));
	ASSERT_EQ(0, famfs_mount_start(&m, manifest, NULL, true, NULL));
	ASSERT_EQ(0, symlink(m.mnt, LINK));
	snprintf(upath, sizeof(upath), "%s/u", m.mnt);

	/* t: an fmap inode holding claims, unused, that eviction will free */
	ASSERT_EQ(0, open_close(&m, "t"));
	ASSERT_TRUE(famfs_wait_count(&m.st->ops[FUSE_RELEASE], 1, WAIT_MS));
	/*
	 * u looked up now: without FUSE_PARALLEL_DIROPS fuse serializes the
	 * LOOKUPs of a directory, so one the server stalls holds up the
	 * others (fuse's rule, not famfs_rs's).
	 */
	ASSERT_EQ(0, stat(m.mnt, &sb));
	ASSERT_EQ(0, fstatat(AT_FDCWD, upath, &sb, 0));

	/* a: the first open of s, stuck in the LOOKUP of devnode */
	lookups = famfs_load(&m.st->ops[FUSE_LOOKUP]);
	fflush(stdout);
	a = fork();
	ASSERT_GE(a, 0);
	if (!a)
		_exit(open_s(&m) == -ENOENT ? 0 : 1);
	ASSERT_TRUE(famfs_wait_count(&m.st->daxdev[1], 1, WAIT_MS));
	ASSERT_TRUE(famfs_wait_count(&m.st->ops[FUSE_LOOKUP], lookups + 1, WAIT_MS));
	usleep(200000);

	/* a claim on the device already held must not wait for a */
	rc = in_child_within(open_u, &m, DONE_MS, &left_c);
	EXPECT_EQ(0, rc) TH_LOG("open of another file while an opener waits: %s",
				strerror(-rc));
	/* neither may evicting t and u, which releases their claims */
	forgets = famfs_forgets(&m);
	rc = in_child_within(drop_inodes, &m, DONE_MS, &left_b);
	EXPECT_EQ(0, rc) TH_LOG("drop_caches while an opener waits on the server: %s",
				strerror(-rc));
	/*
	 * Eviction queues the FORGET; the server reads it when it gets to it,
	 * after drop_caches has returned.
	 */
	end = famfs_now_ms() + WAIT_MS;
	while (famfs_forgets(&m) <= forgets && famfs_now_ms() < end)
		usleep(5000);
	EXPECT_LT(forgets, famfs_forgets(&m));
	/* and a is still waiting */
	EXPECT_NE(a, waitpid(a, &st, WNOHANG));

	/* the server answers at last: no such daxdev node */
	ASSERT_EQ(0, famfs_ctl(&m, "release-stall ENOENT"));
	EXPECT_EQ(0, famfs_wait_exit(a, WAIT_MS, &st));
	EXPECT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st)) TH_LOG("a: wait status %#x", st);
	if (left_b)
		EXPECT_EQ(0, famfs_wait_exit(left_b, WAIT_MS, &st));
	if (left_c)
		EXPECT_EQ(0, famfs_wait_exit(left_c, WAIT_MS, &st));
	unlink(LINK);
	famfs_mount_stop(&m, NULL);
	unlink(manifest);
}

TEST_HARNESS_MAIN
