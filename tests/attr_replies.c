// SPDX-License-Identifier: GPL-2.0
/*
 * Attribute replies whose size is not the fmap's. The server's "attr f
 * size=X valid=0" puts X in every LOOKUP, GETATTR and SETATTR reply for
 * file f (4 MiB in the manifest and in its fmap) and makes them expire at
 * once, so every stat asks again; "setattr ok" answers SETATTR (chmod,
 * chown, utimes) with those attributes. X is 0, 4096 (smaller than the
 * fmap) or 1 TiB (larger). Once the file has been opened its size is the
 * fmap's whatever the replies say: stat and fstat give 4 MiB, the mapping
 * keeps its bytes and faults (no SIGBUS), reads stop at 4 MiB; truncate()
 * and ftruncate() fail with EPERM and send no SETATTR with FATTR_SIZE.
 * Before the first open, stat gives the server's size X; after it, the
 * fmap's. A size set with the control channel after the open, and an
 * inode invalidation to make the kernel ask, changes nothing either.
 */
#include <sys/time.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define MANIFEST "/tmp/attr-replies.manifest"
#define FMAP_SIZE (4ULL << 20)
#define FATTR_SIZE_BIT 3	/* FATTR_SIZE == 1 << 3 */
#define FATTR_MODE_BIT 0

FIXTURE(attr) {
	struct famfs_mount m;
	char path[PATH_MAX];
	unsigned char *want;
};

FIXTURE_VARIANT(attr) {
	unsigned long long size;	/* what the server's attribute replies say */
};

FIXTURE_VARIANT_ADD(attr, size_0) { .size = 0 };
FIXTURE_VARIANT_ADD(attr, size_4096) { .size = 4096 };
FIXTURE_VARIANT_ADD(attr, size_1tib) { .size = 1ULL << 40 };

FIXTURE_SETUP(attr)
{
	ASSERT_TRUE(module_loaded("famfs_rs"));
	ASSERT_EQ(0, famfs_write_manifest(MANIFEST,
					  "daxdev 0 /dev/dax1.0\n"
					  "file f 4M simple 0:0:4M\n"
					  "file g 4M simple 0:4M:4M\n"
					  "attr f size=%llu valid=0\n"
					  "setattr ok\n", variant->size));
	ASSERT_EQ(0, famfs_mount_start(&self->m, MANIFEST, NULL, true, NULL));
	ASSERT_EQ(FAMFS_INIT_DAX_FMAP,
		  famfs_load(&self->m.st->init_flags_out) & FAMFS_INIT_DAX_FMAP);
	snprintf(self->path, sizeof(self->path), "%s/f", self->m.mnt);
	self->want = malloc(FMAP_SIZE);
	ASSERT_NE(NULL, self->want);
	famfs_pattern(self->want, FMAP_SIZE, 0, 7);
}

FIXTURE_TEARDOWN(attr)
{
	int status = -1;

	famfs_mount_stop(&self->m, &status);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("server wait status %#x", status);
	free(self->want);
	unlink(MANIFEST);
}

/* stat, fstat, the mapping, read(): all as the fmap says */
static void check_fmap_view(struct __test_metadata *_metadata, struct _test_data_attr *self,
			    int fd, const unsigned char *map, const char *when)
{
	unsigned char *buf = malloc(FMAP_SIZE);
	struct stat sb;
	size_t d;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, stat(self->path, &sb)) TH_LOG("%s: stat: %s", when, strerror(errno));
	EXPECT_EQ(FMAP_SIZE, (unsigned long long)sb.st_size) TH_LOG("%s: stat", when);
	ASSERT_EQ(0, fstat(fd, &sb));
	EXPECT_EQ(FMAP_SIZE, (unsigned long long)sb.st_size) TH_LOG("%s: fstat", when);
	/* every page of the existing mapping: its bytes (a SIGBUS ends the test) */
	d = famfs_map_diff(map, self->want, FMAP_SIZE);
	EXPECT_EQ(FMAP_SIZE, d) TH_LOG("%s: mapping differs at byte %zu", when, d);
	memset(buf, 0, FMAP_SIZE);
	EXPECT_EQ((ssize_t)FMAP_SIZE, pread(fd, buf, FMAP_SIZE, 0)) TH_LOG("%s", when);
	d = famfs_first_diff(buf, self->want, FMAP_SIZE);
	EXPECT_EQ(FMAP_SIZE, d) TH_LOG("%s: read() differs at byte %zu", when, d);
	EXPECT_EQ(0, pread(fd, buf, 4096, FMAP_SIZE)) TH_LOG("%s: read at EOF", when);
	/* a write through the mapping is seen by read() */
	self->want[FMAP_SIZE - 1] ^= 0x55;
	EXPECT_EQ(0, famfs_map_poke((unsigned char *)map, FMAP_SIZE - 1, self->want[FMAP_SIZE - 1]))
		TH_LOG("%s: SIGBUS", when);
	EXPECT_EQ(1, pread(fd, buf, 1, FMAP_SIZE - 1));
	EXPECT_EQ(self->want[FMAP_SIZE - 1], buf[0]) TH_LOG("%s", when);
	free(buf);
}

/* open, write, map f; the attribute replies never had the fmap's size */
static int open_and_map(struct __test_metadata *_metadata, struct _test_data_attr *self,
			unsigned char **map)
{
	int fd = open(self->path, O_RDWR);

	if (fd < 0) {
		TH_LOG("open f: %s", strerror(errno));
		return -1;
	}
	EXPECT_EQ((ssize_t)FMAP_SIZE, pwrite(fd, self->want, FMAP_SIZE, 0));
	*map = mmap(NULL, FMAP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	EXPECT_NE(MAP_FAILED, *map);
	return fd;
}

/*
 * Attribute replies leave an fmap inode cached: opened, stat'ed, closed
 * again and again, it keeps its fmap (one GET_FMAP) and is never evicted
 * (no FORGET). virtiofs's per-inode DAX rule (fuse_dax_dontcache(), in a
 * kernel with CONFIG_FUSE_DAX, as scripts/kconfig/famfs.config builds it)
 * marks an inode whose S_DAX differs from the reply's FUSE_ATTR_DAX
 * "don't cache"; an fmap file has S_DAX and no FUSE_ATTR_DAX, so every
 * last close would evict it and the next open fetch its fmap again.
 */
TEST_F(attr, attribute_replies_keep_the_fmap_cached)
{
	struct stat sb;
	int k, fd;

	for (k = 0; k < 4; k++) {
		fd = open(self->path, O_RDONLY);
		ASSERT_LE(0, fd) TH_LOG("open %d: %s", k, strerror(errno));
		/* attributes expire at once (valid=0): a GETATTR each time */
		ASSERT_EQ(0, fstat(fd, &sb));
		ASSERT_EQ(0, close(fd));
		ASSERT_EQ(0, stat(self->path, &sb));
		EXPECT_EQ(FMAP_SIZE, (unsigned long long)sb.st_size);
	}
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->fmap[0]));
	EXPECT_EQ(0ULL, famfs_forgets(&self->m));
}

TEST_F(attr, never_opened_file_shows_the_server_size_until_opened)
{
	struct stat sb;
	int fd;

	ASSERT_EQ(0, stat(self->path, &sb));
	EXPECT_EQ(variant->size, (unsigned long long)sb.st_size);
	fd = open(self->path, O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	ASSERT_EQ(0, fstat(fd, &sb));
	EXPECT_EQ(FMAP_SIZE, (unsigned long long)sb.st_size);
	ASSERT_EQ(0, stat(self->path, &sb));
	EXPECT_EQ(FMAP_SIZE, (unsigned long long)sb.st_size);
	close(fd);
	/* closed, the inode is cached: still the fmap's */
	ASSERT_EQ(0, stat(self->path, &sb));
	EXPECT_EQ(FMAP_SIZE, (unsigned long long)sb.st_size);
}

TEST_F(attr, lookup_and_getattr_replies_leave_the_fmap_size)
{
	unsigned long long getattrs, lookups;
	unsigned char *map = MAP_FAILED;
	int fd, i;

	fd = open_and_map(_metadata, self, &map);
	ASSERT_LE(0, fd);
	ASSERT_NE(MAP_FAILED, map);
	lookups = famfs_load(&self->m.st->ops[FUSE_LOOKUP]);
	getattrs = famfs_load(&self->m.st->ops[FUSE_GETATTR]);
	for (i = 0; i < 3; i++)
		check_fmap_view(_metadata, self, fd, map, "after stat");
	/* valid=0: the kernel did ask the server again */
	EXPECT_LT(lookups + getattrs, famfs_load(&self->m.st->ops[FUSE_LOOKUP]) +
		  famfs_load(&self->m.st->ops[FUSE_GETATTR]));
	munmap(map, FMAP_SIZE);
	close(fd);
}

TEST_F(attr, setattr_replies_leave_the_fmap_size)
{
	unsigned char *map = MAP_FAILED;
	struct timeval tv[2] = { { 1000000, 0 }, { 2000000, 0 } };
	int fd;

	fd = open_and_map(_metadata, self, &map);
	ASSERT_LE(0, fd);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(0, chmod(self->path, 0600)) TH_LOG("chmod: %s", strerror(errno));
	check_fmap_view(_metadata, self, fd, map, "after chmod");
	EXPECT_EQ(0, fchmod(fd, 0640)) TH_LOG("fchmod: %s", strerror(errno));
	check_fmap_view(_metadata, self, fd, map, "after fchmod");
	EXPECT_EQ(0, chown(self->path, getuid(), getgid())) TH_LOG("chown: %s", strerror(errno));
	check_fmap_view(_metadata, self, fd, map, "after chown");
	EXPECT_EQ(0, utimes(self->path, tv)) TH_LOG("utimes: %s", strerror(errno));
	check_fmap_view(_metadata, self, fd, map, "after utimes");
	/* the SETATTRs reached the server, none of them with FATTR_SIZE */
	EXPECT_LE(2ULL, famfs_load(&self->m.st->setattr_bits[FATTR_MODE_BIT]));
	EXPECT_LE(4ULL, famfs_load(&self->m.st->ops[FUSE_SETATTR]));
	EXPECT_EQ(0ULL, famfs_load(&self->m.st->setattr_bits[FATTR_SIZE_BIT]));
	munmap(map, FMAP_SIZE);
	close(fd);
}

TEST_F(attr, truncate_fails_with_eperm_and_sends_no_size)
{
	unsigned char *map = MAP_FAILED;
	int fd;

	fd = open_and_map(_metadata, self, &map);
	ASSERT_LE(0, fd);
	ASSERT_NE(MAP_FAILED, map);
	errno = 0;
	EXPECT_EQ(-1, truncate(self->path, 0));
	EXPECT_EQ(EPERM, errno);
	errno = 0;
	EXPECT_EQ(-1, ftruncate(fd, 4096));
	EXPECT_EQ(EPERM, errno);
	errno = 0;
	EXPECT_EQ(-1, ftruncate(fd, 1LL << 40));
	EXPECT_EQ(EPERM, errno);
	/* to the size it has, too: the size is not settable */
	errno = 0;
	EXPECT_EQ(-1, ftruncate(fd, FMAP_SIZE));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(0ULL, famfs_load(&self->m.st->setattr_bits[FATTR_SIZE_BIT]));
	check_fmap_view(_metadata, self, fd, map, "after truncate");
	munmap(map, FMAP_SIZE);
	close(fd);
}

TEST_F(attr, size_changed_later_and_invalidated_leaves_the_fmap_size)
{
	char gpath[PATH_MAX];
	unsigned char *map;
	struct stat sb;
	int fd;

	/* g's replies are right until the control channel changes them */
	snprintf(gpath, sizeof(gpath), "%s/g", self->m.mnt);
	fd = open(gpath, O_RDWR);
	ASSERT_LE(0, fd) TH_LOG("open g: %s", strerror(errno));
	ASSERT_EQ((ssize_t)FMAP_SIZE, pwrite(fd, self->want, FMAP_SIZE, 0));
	map = mmap(NULL, FMAP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, famfs_ctl(&self->m, "set-attr g size=%llu", variant->size));
	ASSERT_EQ(0, famfs_ctl(&self->m, "notify-inval-inode g -1 0"));
	ASSERT_EQ(0, stat(gpath, &sb));
	EXPECT_EQ(FMAP_SIZE, (unsigned long long)sb.st_size);
	ASSERT_EQ(0, famfs_ctl(&self->m, "notify-inval-inode g 0 0"));
	ASSERT_EQ(0, fstat(fd, &sb));
	EXPECT_EQ(FMAP_SIZE, (unsigned long long)sb.st_size);
	EXPECT_EQ(0, fchmod(fd, 0600));
	ASSERT_EQ(0, fstat(fd, &sb));
	EXPECT_EQ(FMAP_SIZE, (unsigned long long)sb.st_size);
	EXPECT_EQ(FMAP_SIZE, famfs_map_diff(map, self->want, FMAP_SIZE));
	munmap(map, FMAP_SIZE);
	close(fd);
}

TEST_HARNESS_MAIN
