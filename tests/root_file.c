// SPDX-License-Identifier: GPL-2.0
/*
 * A fuse mount whose root is a regular file (rootmode=100000, mounted on
 * a file, as fusermount does for a file mountpoint). The root inode exists
 * before FUSE_INIT, so it cannot be made an fmap file the way every other
 * regular inode of an fmap connection is at its creation: such a
 * connection must not be offered FUSE_DAX_FMAP at all. It was, and the
 * root then mixed the page-cache file operations with fmap fetches and
 * block claims.
 */
#include <limits.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

static void start(struct __test_metadata *_metadata, struct famfs_mount *m, bool file_root)
{
	char manifest[PATH_MAX];
	long long end;
	int fd;

	memset(m, 0, sizeof(*m));
	snprintf(m->dir, sizeof(m->dir), "/tmp/famfs-root.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(m->dir));
	snprintf(m->mnt, sizeof(m->mnt), "%s/mnt", m->dir);
	snprintf(m->stats, sizeof(m->stats), "%s/stats", m->dir);
	snprintf(manifest, sizeof(manifest), "%s/manifest", m->dir);
	ASSERT_EQ(0, famfs_write_manifest(manifest, "daxdev 0 /dev/dax1.0\n"
					  "file f 2M simple 0:980M:2M\n"));
	if (file_root) {
		fd = open(m->mnt, O_CREAT | O_WRONLY, 0644);
		ASSERT_GE(fd, 0);
		close(fd);
	} else {
		ASSERT_EQ(0, mkdir(m->mnt, 0755));
	}
	fflush(stdout);
	m->pid = fork();
	ASSERT_GE(m->pid, 0);
	if (!m->pid) {
		syscall(SYS_close_range, 3U, ~0U, 0U);
		execl(famfs_server_bin(), famfs_server_bin(), "-f", "--stats", m->stats, "-o",
		      file_root ? "rootmode=100000" : "rootmode=40000", manifest, m->mnt, NULL);
		_exit(127);
	}
	m->launcher = m->pid;
	end = famfs_now_ms() + FAMFS_START_TIMEOUT_MS;
	while (famfs_map_stats(m) || !famfs_load(&m->st->ready)) {
		ASSERT_LT(famfs_now_ms(), end);
		usleep(2000);
	}
}

static void stop(struct famfs_mount *m)
{
	char manifest[PATH_MAX], dir[sizeof(m->dir)], mnt[sizeof(m->mnt)];

	snprintf(manifest, sizeof(manifest), "%s/manifest", m->dir);
	snprintf(dir, sizeof(dir), "%s", m->dir);
	snprintf(mnt, sizeof(mnt), "%s", m->mnt);
	unlink(manifest);
	famfs_mount_stop(m, NULL);
	/* famfs_mount_stop() removes a directory mountpoint, not a file one */
	unlink(mnt);
	rmdir(dir);
}

TEST(a_file_root_is_not_offered_fmap)
{
	struct famfs_mount m;

	ASSERT_TRUE(module_loaded("famfs_rs"));
	start(_metadata, &m, true);
	EXPECT_EQ(0ULL, famfs_load(&m.st->init_flags_in) & FAMFS_INIT_DAX_FMAP)
		TH_LOG("INIT offered FUSE_DAX_FMAP to a connection with a file root");
	EXPECT_EQ(0ULL, famfs_load(&m.st->init_flags_out) & FAMFS_INIT_DAX_FMAP);
	stop(&m);
}

TEST(a_directory_root_is_offered_fmap)
{
	struct famfs_mount m;

	ASSERT_TRUE(module_loaded("famfs_rs"));
	start(_metadata, &m, false);
	EXPECT_EQ(FAMFS_INIT_DAX_FMAP, famfs_load(&m.st->init_flags_in) & FAMFS_INIT_DAX_FMAP);
	stop(&m);
}

TEST_HARNESS_MAIN
