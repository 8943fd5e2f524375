// SPDX-License-Identifier: GPL-2.0
/*
 * The remaining I/O seams of an fmap file (Documentation/design.rst, "The
 * seams"): what a server says in its OPEN reply (direct I/O, passthrough,
 * keep cache) changes nothing, the data never passing through the server;
 * copy_file_range() between fmap files copies through splice, with no
 * COPY_FILE_RANGE to the server; llseek() goes by the fmap's size, with no
 * LSEEK; fadvise() and readahead() make no page cache (the file is S_DAX)
 * and send no READ.
 */
#define _FILE_OFFSET_BITS 64
#include <limits.h>
#include <sys/mman.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define SZ (4UL << 20)

FIXTURE(io) {
	struct famfs_mount m;
	char manifest[64];
};

FIXTURE_VARIANT(io) {
	const char *open_flags;	/* the server's OPEN reply flags, or NULL */
};

FIXTURE_VARIANT_ADD(io, plain) {
	.open_flags = NULL,
};

/* FOPEN_DIRECT_IO | FOPEN_KEEP_CACHE */
FIXTURE_VARIANT_ADD(io, direct_io_keep_cache) {
	.open_flags = "0x3",
};

/* FOPEN_PASSTHROUGH (1 << 7), with no backing file registered */
FIXTURE_VARIANT_ADD(io, passthrough) {
	.open_flags = "0x80",
};

FIXTURE_SETUP(io)
{
	char extra[64] = "";

	ASSERT_TRUE(module_loaded("famfs_rs"));
	if (variant->open_flags)
		snprintf(extra, sizeof(extra), "open-flags %s\n", variant->open_flags);
	snprintf(self->manifest, sizeof(self->manifest), "/tmp/io_paths.manifest");
	/* b claims to be 1 TiB: only its fmap's size counts once it is open */
	ASSERT_EQ(0, famfs_write_manifest(self->manifest,
					  "daxdev 0 /dev/dax1.0\n"
					  "file a 4M simple 0:960M:4M\n"
					  "file b 4M simple 0:964M:4M\n"
					  "attr b size=1T\n%s", extra));
	ASSERT_EQ(0, famfs_mount_start(&self->m, self->manifest, NULL, true, NULL));
}

FIXTURE_TEARDOWN(io)
{
	famfs_mount_stop(&self->m, NULL);
	unlink(self->manifest);
}

/* no file data ever went through the server */
static void expect_no_data_requests(struct __test_metadata *_metadata,
				    const struct famfs_mount *m)
{
	EXPECT_EQ(0ULL, famfs_load(&m->st->ops[FUSE_READ]));
	EXPECT_EQ(0ULL, famfs_load(&m->st->ops[FUSE_WRITE]));
	EXPECT_EQ(0ULL, famfs_load(&m->st->ops[FUSE_COPY_FILE_RANGE]));
	EXPECT_EQ(0ULL, famfs_load(&m->st->ops[FUSE_LSEEK]));
}

TEST_F(io, open_reply_flags_change_nothing)
{
	unsigned char *want = malloc(SZ), *got = malloc(SZ), *map;
	int fd;

	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, got);
	fd = famfs_open_rw(&self->m, "a");
	ASSERT_LE(0, fd) TH_LOG("open with OPEN flags %s: %s", variant->open_flags,
				strerror(-fd));
	famfs_pattern(want, SZ, 0, 31);
	EXPECT_EQ((ssize_t)SZ, pwrite(fd, want, SZ, 0));
	EXPECT_EQ((ssize_t)SZ, pread(fd, got, SZ, 0));
	EXPECT_EQ(SZ, famfs_first_diff(got, want, SZ));
	map = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(SZ, famfs_map_diff(map, want, SZ));
	EXPECT_EQ(0, munmap(map, SZ));
	EXPECT_EQ(0, close(fd));
	expect_no_data_requests(_metadata, &self->m);
	free(want);
	free(got);
}

TEST_F(io, copy_file_range_goes_through_splice)
{
	unsigned char want[8192], got[8192];
	loff_t in = 4096, out = 2 << 20;
	int fa, fb;

	fa = famfs_open_rw(&self->m, "a");
	ASSERT_LE(0, fa);
	fb = famfs_open_rw(&self->m, "b");
	ASSERT_LE(0, fb);
	famfs_pattern(want, sizeof(want), 4096, 47);
	ASSERT_EQ((ssize_t)sizeof(want), pwrite(fa, want, sizeof(want), 4096));
	EXPECT_EQ((ssize_t)sizeof(want), copy_file_range(fa, &in, fb, &out, sizeof(want), 0));
	EXPECT_EQ((ssize_t)sizeof(got), pread(fb, got, sizeof(got), 2 << 20));
	EXPECT_EQ(sizeof(want), famfs_first_diff(got, want, sizeof(want)));
	/* and it stops at the end of the destination: fmap files do not grow */
	in = 0;
	out = SZ - 100;
	EXPECT_EQ(100, copy_file_range(fa, &in, fb, &out, 4096, 0));
	close(fa);
	close(fb);
	expect_no_data_requests(_metadata, &self->m);
}

TEST_F(io, llseek_goes_by_the_fmap_size)
{
	struct stat sb;
	int fd;

	fd = famfs_open_rw(&self->m, "b");
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fstat(fd, &sb));
	EXPECT_EQ((off_t)SZ, sb.st_size);
	EXPECT_EQ((off_t)SZ, lseek(fd, 0, SEEK_END));
	EXPECT_EQ((off_t)SZ - 10, lseek(fd, -10, SEEK_END));
	/* all data, no hole: the whole file is mapped */
	EXPECT_EQ(4096, lseek(fd, 4096, SEEK_DATA));
	EXPECT_EQ((off_t)SZ, lseek(fd, 0, SEEK_HOLE));
	errno = 0;
	EXPECT_EQ(-1, lseek(fd, SZ, SEEK_DATA));
	EXPECT_EQ(ENXIO, errno);
	close(fd);
	expect_no_data_requests(_metadata, &self->m);
}

TEST_F(io, fadvise_and_readahead_make_no_page_cache)
{
	unsigned char b = 0;
	int fd;

	fd = famfs_open_rw(&self->m, "a");
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, posix_fadvise(fd, 0, SZ, POSIX_FADV_WILLNEED));
	EXPECT_EQ(0, posix_fadvise(fd, 0, SZ, POSIX_FADV_DONTNEED));
	EXPECT_EQ(0, readahead(fd, 0, SZ));
	/* still no page cache for a store to go into */
	EXPECT_EQ(EOPNOTSUPP, famfs_ctl(&self->m, "notify-store a 0 4096"));
	EXPECT_EQ(1, pread(fd, &b, 1, 0));
	close(fd);
	expect_no_data_requests(_metadata, &self->m);
}

TEST_HARNESS_MAIN
