// SPDX-License-Identifier: GPL-2.0
/*
 * Inode identity (the hardening issue, class D). fs-dax allows one owner
 * per DAX page, so famfs_rs refuses an fmap whose blocks another live
 * inode maps. The owner must be the inode itself: i_ino is whatever the
 * server's attribute replies say (fuse rewrites it at every reply), and a
 * node ID can come back with a new generation as a new inode while the old
 * one still has its pages mapped. Each case here made two inodes map the
 * same pages when ownership was keyed by i_ino.
 */
#include <limits.h>
#include <sys/mman.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define MIB (1024UL * 1024)

static int stat_in(const struct famfs_mount *m, const char *name, struct stat *sb)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", m->mnt, name);
	return stat(path, sb) ? -errno : 0;
}

FIXTURE(id) {
	struct famfs_mount m;
	char manifest[64];
};

FIXTURE_SETUP(id)
{
	ASSERT_TRUE(module_loaded("famfs_rs"));
	snprintf(self->manifest, sizeof(self->manifest), "/tmp/identity.manifest");
	/*
	 * x and y map the same block; twin claims x's inode number; y asks
	 * the server at every stat (valid=0), so a new ino shows at once.
	 */
	ASSERT_EQ(0, famfs_write_manifest(self->manifest,
					  "daxdev 0 /dev/dax1.0\n"
					  "file x 2M simple 0:940M:2M\n"
					  "file y 2M simple 0:940M:2M\n"
					  "file twin 2M simple 0:940M:2M\n"
					  "attr x ino=77\n"
					  "attr twin ino=77\n"
					  "attr y valid=0\n"));
	ASSERT_EQ(0, famfs_mount_start(&self->m, self->manifest, NULL, true, NULL));
}

FIXTURE_TEARDOWN(id)
{
	famfs_mount_stop(&self->m, NULL);
	unlink(self->manifest);
}

TEST_F(id, same_inode_number_over_the_same_block_is_refused)
{
	struct stat sx, st;
	unsigned char *p;
	int fx;

	ASSERT_EQ(0, stat_in(&self->m, "x", &sx));
	ASSERT_EQ(0, stat_in(&self->m, "twin", &st));
	/* the server made them look alike */
	EXPECT_EQ(77, (int)sx.st_ino);
	EXPECT_EQ(sx.st_ino, st.st_ino);

	fx = famfs_open_rw(&self->m, "x");
	ASSERT_GE(fx, 0);
	p = mmap(NULL, 2 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED, fx, 0);
	ASSERT_NE(MAP_FAILED, p);
	p[0] = 0x77;
	/* another inode, same number, same block: refused */
	EXPECT_EQ(-EBUSY, famfs_open_rw(&self->m, "twin"));
	EXPECT_EQ(-EBUSY, famfs_open_rw(&self->m, "twin"));
	EXPECT_EQ(0x77, p[0]);
	EXPECT_EQ(0, munmap(p, 2 * MIB));
	EXPECT_EQ(0, close(fx));
}

TEST_F(id, a_number_that_changes_after_ebusy_is_still_refused)
{
	struct stat sx, sy;
	int fx;

	fx = famfs_open_rw(&self->m, "x");
	ASSERT_GE(fx, 0);
	EXPECT_EQ(-EBUSY, famfs_open_rw(&self->m, "y"));
	/* the server now gives y the number of x */
	ASSERT_EQ(0, famfs_ctl(&self->m, "set-attr y ino=77"));
	ASSERT_EQ(0, stat_in(&self->m, "y", &sy));
	ASSERT_EQ(0, fstat(fx, &sx));
	EXPECT_EQ(sx.st_ino, sy.st_ino);
	EXPECT_EQ(-EBUSY, famfs_open_rw(&self->m, "y"));
	EXPECT_EQ(0, close(fx));
	/* once x is evicted, y may have the block */
	ASSERT_TRUE(famfs_evict_unused(&self->m));
	fx = famfs_open_rw(&self->m, "y");
	EXPECT_GE(fx, 0);
	if (fx >= 0)
		close(fx);
}

TEST_F(id, a_node_id_back_with_a_new_generation_is_a_new_owner)
{
	unsigned char *p, b = 0;
	int fx, fx2;

	fx = famfs_open_rw(&self->m, "x");
	ASSERT_GE(fx, 0);
	p = mmap(NULL, 2 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED, fx, 0);
	ASSERT_NE(MAP_FAILED, p);
	p[100] = 0x42;
	/* the server deletes x and brings the same node ID back, reborn */
	ASSERT_EQ(0, famfs_ctl(&self->m, "regen x"));
	ASSERT_EQ(0, famfs_ctl(&self->m, "notify-delete x"));
	/* a new inode for the node ID: it may not map the old one's pages */
	EXPECT_EQ(-EBUSY, famfs_open_rw(&self->m, "x"));
	EXPECT_EQ(0x42, p[100]);
	EXPECT_EQ(0, munmap(p, 2 * MIB));
	/* the old inode is stale: fuse fails its FLUSH, the fd goes anyway */
	errno = 0;
	EXPECT_EQ(-1, close(fx));
	EXPECT_EQ(EIO, errno);
	/* the old inode gone, the new one owns the block and sees its bytes */
	ASSERT_TRUE(famfs_evict_unused(&self->m));
	fx2 = famfs_open_rw(&self->m, "x");
	ASSERT_GE(fx2, 0) TH_LOG("x after the old inode went: %s", strerror(-fx2));
	EXPECT_EQ(1, pread(fx2, &b, 1, 100));
	EXPECT_EQ(0x42, b);
	EXPECT_EQ(0, close(fx2));
}

TEST_HARNESS_MAIN
