// SPDX-License-Identifier: GPL-2.0
/*
 * A server that dies, or a connection that is aborted, with famfs
 * requests outstanding or files mapped: no task hangs, the waiting open
 * fails cleanly, mapped files keep their bytes (DAX needs no server), and
 * the daxdevs come free when the mount goes.
 */
#include <limits.h>
#include <poll.h>
#include <sys/sysmacros.h>
#include <linux/fuse.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define WAIT_MS 20000

/* A manifest in /tmp: two daxdevs, file "f" on both, then extra lines. */
static void write_manifest(const char *path, const char *extra)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return;
	fprintf(f, "daxdev 0 /dev/dax1.0\ndaxdev 1 /dev/dax2.0\n"
		   "file f 4M simple 0:64M:2M 1:64M:2M\nfile g 2M simple 0:80M:2M\n%s", extra);
	fclose(f);
}

/* Open path in a child; its pid, and a pipe that will carry errno (0: ok). */
static pid_t open_in_child(const char *path, int *rfd)
{
	int p[2];
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (!pid) {
		int fd = open(path, O_RDONLY), err = fd < 0 ? errno : 0;

		if (write(p[1], &err, sizeof(err)) != sizeof(err))
			_exit(2);
		_exit(0);
	}
	close(p[1]);
	*rfd = p[0];
	return pid;
}

/* The child's open result within WAIT_MS: errno, 0, or -ETIMEDOUT (a hang). */
static int child_result(int rfd)
{
	struct pollfd pfd = { .fd = rfd, .events = POLLIN };
	int err;

	if (poll(&pfd, 1, WAIT_MS) != 1 || read(rfd, &err, sizeof(err)) != sizeof(err))
		err = -ETIMEDOUT;
	close(rfd);
	return err;
}

static bool aborted_errno(int err)
{
	/* requests ended by the abort, or sent after it */
	return err == ECONNABORTED || err == ENOTCONN;
}

static void killed_while_waiting(struct __test_metadata *_metadata, const char *stall,
				 const __u64 *(*counter)(struct famfs_mount *m))
{
	char manifest[] = "/tmp/stall.manifest", path[PATH_MAX];
	struct famfs_mount m;
	int rfd, err, status;
	pid_t child;

	write_manifest(manifest, stall);
	ASSERT_EQ(0, famfs_mount_start(&m, manifest, NULL, true, NULL));
	snprintf(path, sizeof(path), "%s/f", m.mnt);
	child = open_in_child(path, &rfd);
	ASSERT_GT(child, 0);
	/* the kernel asked and waits for the answer that never comes */
	ASSERT_TRUE(famfs_wait_count(counter(&m), 1, WAIT_MS));
	ASSERT_EQ(0, kill(m.pid, SIGKILL));
	ASSERT_EQ(m.pid, waitpid(m.pid, &status, 0));
	m.pid = 0;
	err = child_result(rfd);
	EXPECT_TRUE(aborted_errno(err)) TH_LOG("open after the server died: %d (%s)", err,
					       err > 0 ? strerror(err) : "hang");
	EXPECT_EQ(child, waitpid(child, &status, 0));
	/* the dead connection: later opens fail at once, nothing hangs */
	snprintf(path, sizeof(path), "%s/g", m.mnt);
	EXPECT_EQ(-1, open(path, O_RDONLY));
	EXPECT_TRUE(aborted_errno(errno)) TH_LOG("open of another file: %s", strerror(errno));
	famfs_mount_stop(&m, NULL);
	unlink(manifest);
}

static const __u64 *fmap_counter(struct famfs_mount *m)
{
	return &m->st->fmap[0];
}

static const __u64 *daxdev_counter(struct famfs_mount *m)
{
	return &m->st->daxdev[0];
}

TEST(server_killed_during_get_fmap)
{
	killed_while_waiting(_metadata, "fmap-stall f\n", fmap_counter);
}

TEST(server_killed_during_get_daxdev)
{
	killed_while_waiting(_metadata, "daxdev-stall 0\n", daxdev_counter);
}

/*
 * Mount manifest, open file "f" read-write and map its 4 MiB (it spans
 * both daxdevs); *fd gets the file. MAP_FAILED if any step failed.
 */
static unsigned char *mount_and_map(const char *manifest, struct famfs_mount *m, int *fd)
{
	char path[PATH_MAX];
	void *map;

	write_manifest(manifest, "");
	if (famfs_mount_start(m, manifest, NULL, true, NULL))
		return MAP_FAILED;
	snprintf(path, sizeof(path), "%s/f", m->mnt);
	*fd = open(path, O_RDWR);
	if (*fd < 0)
		return MAP_FAILED;
	map = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	return map;
}

/* After a mount went: a new connection can open "f" (takes its daxdevs). */
static void daxdevs_free_for_a_new_mount(struct __test_metadata *_metadata,
					 const char *manifest)
{
	char path[PATH_MAX];
	struct famfs_mount again;
	int fd;

	ASSERT_EQ(0, famfs_mount_start(&again, manifest, NULL, true, NULL));
	snprintf(path, sizeof(path), "%s/f", again.mnt);
	fd = open(path, O_RDONLY);
	EXPECT_GE(fd, 0) TH_LOG("open on a new mount: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	famfs_mount_stop(&again, NULL);
	unlink(manifest);
}

TEST(abort_with_files_open_and_mapped)
{
	char manifest[] = "/tmp/abort.manifest", path[PATH_MAX], ctl[128];
	struct famfs_mount m;
	unsigned char *map;
	struct stat sb;
	int fd = -1, status;

	map = mount_and_map(manifest, &m, &fd);
	ASSERT_NE(MAP_FAILED, map);
	memset(map, 0xa5, 4 << 20);

	/* abort the connection through fusectl */
	mkdir("/sys/fs/fuse/connections", 0755);
	mount("fusectl", "/sys/fs/fuse/connections", "fusectl", 0, NULL);
	ASSERT_EQ(0, stat(m.mnt, &sb));
	snprintf(ctl, sizeof(ctl), "/sys/fs/fuse/connections/%u/abort", minor(sb.st_dev));
	ASSERT_EQ(0, famfs_write_str(ctl, "1")) TH_LOG("%s", ctl);

	/* the server's connection is gone, and it exits */
	EXPECT_EQ(0, famfs_wait_exit(m.pid, WAIT_MS, &status));
	m.pid = 0;
	/* the mapped bytes are still there: DAX needs no server */
	EXPECT_EQ(0xa5, map[0]);
	EXPECT_EQ(0xa5, map[(4 << 20) - 1]);
	map[12345] = 0x5a;
	EXPECT_EQ(0x5a, map[12345]);
	/* new opens fail at once */
	snprintf(path, sizeof(path), "%s/g", m.mnt);
	EXPECT_EQ(-1, open(path, O_RDONLY));
	EXPECT_TRUE(aborted_errno(errno)) TH_LOG("open after abort: %s", strerror(errno));
	ASSERT_EQ(0, munmap(map, 4 << 20));
	/* close() reports the FLUSH that could not be sent; the fd is gone */
	EXPECT_EQ(-1, close(fd));
	EXPECT_TRUE(aborted_errno(errno)) TH_LOG("close after abort: %s", strerror(errno));
	famfs_mount_stop(&m, NULL);
	umount2("/sys/fs/fuse/connections", 0);

	/* the mount is gone: its daxdevs are free for a new connection */
	daxdevs_free_for_a_new_mount(_metadata, manifest);
}

/*
 * Unmount while a file is mapped: refused (EBUSY) normally; lazily, the
 * mapping keeps working (faults on pages not yet touched included) until
 * it goes, then the connection ends and its daxdevs are released once (a
 * second release would splat) and a new connection can take them.
 */
TEST(lazy_unmount_while_mapped_and_faulting)
{
	char manifest[] = "/tmp/lazy.manifest";
	struct famfs_mount m;
	unsigned char *map;
	unsigned long off;
	int fd = -1, status;

	map = mount_and_map(manifest, &m, &fd);
	ASSERT_NE(MAP_FAILED, map);
	map[0] = 1;

	EXPECT_EQ(-1, umount2(m.mnt, 0));
	EXPECT_EQ(EBUSY, errno);
	ASSERT_EQ(0, umount2(m.mnt, MNT_DETACH));
	/* detached, but the file lives: fault every page, both devices */
	for (off = 0; off < (4UL << 20); off += 4096)
		map[off] = (unsigned char)(off >> 12);
	for (off = 0; off < (4UL << 20); off += 4096)
		ASSERT_EQ((unsigned char)(off >> 12), map[off]);
	/* the server still serves the detached mount */
	EXPECT_EQ(0, kill(m.pid, 0));
	ASSERT_EQ(0, munmap(map, 4 << 20));
	EXPECT_EQ(0, close(fd));
	/* last reference gone: the connection ends, the server exits */
	EXPECT_EQ(0, famfs_wait_exit(m.pid, WAIT_MS, &status));
	m.pid = 0;
	famfs_mount_stop(&m, NULL);
	daxdevs_free_for_a_new_mount(_metadata, manifest);
}

TEST_HARNESS_MAIN
