// SPDX-License-Identifier: GPL-2.0
/*
 * The input of GET_FMAP and GET_DAXDEV as the kernel sends it.
 *
 * Every GET_FMAP carries a struct fuse_get_fmap_in (linux/fuse.h) whose
 * size is the kernel's reply buffer, FAMFS_FMAP_FIRST_SIZE on the first
 * request and the announced size on the second, and whose flags are 0.
 * The test server refuses any other request with -EINVAL (fmap_bad_in) and
 * logs each one (fmap_log[]); it answers with the whole fmap if it fits
 * the size, else with the announcement.
 *
 * Every GET_DAXDEV carries a struct fuse_get_daxdev_in whose index is also
 * the request's nodeid, where famfs's own server reads it. The test server
 * refuses any other request with -EINVAL (daxdev_bad_in).
 */
#include <linux/famfs_fmap.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define MANIFEST "/tmp/get-fmap-input.manifest"
#define HDR 32			/* sizeof(struct famfs_fmap_header) */
#define EXT 24			/* sizeof(struct famfs_fmap_simple_ext) */
#define LARGE_EXTENTS 200	/* 32 + 200 * 24 = 4832 bytes: more than 4096 */
#define FITS_EXTENTS 169	/* 32 + 169 * 24 = 4088 bytes: fits 4096 */

FIXTURE(input) {
	struct famfs_mount m;
};

FIXTURE_SETUP(input)
{
	ASSERT_TRUE(module_loaded("famfs_rs"));
	ASSERT_EQ(0, famfs_write_manifest(MANIFEST,
					  "daxdev 0 /dev/dax1.0\n"
					  "daxdev 1 /dev/dax2.0\n"
					  "file small 2M simple 0:0:2M\n"
					  "file fits %dM simple 0:2M:2M*%d\n"
					  "file large %dM simple 0:400M:2M*%d\n"
					  "file other 2M simple 1:0:2M\n",
					  2 * FITS_EXTENTS, FITS_EXTENTS,
					  2 * LARGE_EXTENTS, LARGE_EXTENTS));
	ASSERT_EQ(0, famfs_mount_start(&self->m, MANIFEST, NULL, true, NULL));
	ASSERT_EQ(FAMFS_INIT_DAX_FMAP,
		  famfs_load(&self->m.st->init_flags_out) & FAMFS_INIT_DAX_FMAP);
}

FIXTURE_TEARDOWN(input)
{
	int status = -1;

	famfs_mount_stop(&self->m, &status);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("server wait status %#x", status);
	unlink(MANIFEST);
}

/* Open name; the requests it sent, from the server's log, in order. */
static int open_file(struct __test_metadata *_metadata, struct famfs_mount *m,
		     const char *name, unsigned long long size)
{
	char path[PATH_MAX];
	struct stat sb;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", m->mnt, name);
	fd = open(path, O_RDWR);
	EXPECT_LE(0, fd) TH_LOG("open %s: %s", name, strerror(errno));
	if (fd >= 0) {
		EXPECT_EQ(0, fstat(fd, &sb));
		EXPECT_EQ(size, (unsigned long long)sb.st_size);
	}
	return fd;
}

static void expect_req(struct __test_metadata *_metadata, struct famfs_mount *m,
		       unsigned int i, __u64 nodeid, __u32 size, __s32 reply)
{
	const struct famfs_server_fmap_req *r = &m->st->fmap_log[i];

	ASSERT_LT((__u64)i, famfs_load(&m->st->fmap_log_n));
	EXPECT_EQ(nodeid, r->nodeid) TH_LOG("request %u", i);
	EXPECT_EQ((__u32)sizeof(struct fuse_get_fmap_in), r->inlen) TH_LOG("request %u", i);
	EXPECT_EQ(size, r->size) TH_LOG("request %u", i);
	EXPECT_EQ(0U, r->flags) TH_LOG("request %u", i);
	EXPECT_EQ(reply, r->reply) TH_LOG("request %u", i);
}

TEST_F(input, first_request_carries_the_first_buffer_size)
{
	int fd = open_file(_metadata, &self->m, "small", 2ULL << 20);

	EXPECT_EQ(0ULL, famfs_load(&self->m.st->fmap_bad_in));
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->fmap_log_n));
	/* nodeid 2; the whole fmap (one extent) in the reply */
	expect_req(_metadata, &self->m, 0, 2, FAMFS_FMAP_FIRST_SIZE, HDR + EXT);
	EXPECT_EQ(0ULL, famfs_load(&self->m.st->fmap_sized[0]));
	if (fd >= 0)
		close(fd);
}

TEST_F(input, fmap_that_fits_is_fetched_in_one_request)
{
	int fd = open_file(_metadata, &self->m, "fits", 2ULL * FITS_EXTENTS << 20);

	EXPECT_EQ(0ULL, famfs_load(&self->m.st->fmap_bad_in));
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->fmap_log_n));
	expect_req(_metadata, &self->m, 0, 3, FAMFS_FMAP_FIRST_SIZE, HDR + FITS_EXTENTS * EXT);
	EXPECT_EQ(0ULL, famfs_load(&self->m.st->fmap_sized[1]));
	if (fd >= 0)
		close(fd);
}

TEST_F(input, second_request_carries_the_announced_size)
{
	const __u32 full = HDR + LARGE_EXTENTS * EXT;
	int fd = open_file(_metadata, &self->m, "large", 2ULL * LARGE_EXTENTS << 20);

	ASSERT_GT(full, (__u32)FAMFS_FMAP_FIRST_SIZE);
	EXPECT_EQ(0ULL, famfs_load(&self->m.st->fmap_bad_in));
	EXPECT_EQ(2ULL, famfs_load(&self->m.st->fmap_log_n));
	/* announced (the header alone), then the whole fmap */
	expect_req(_metadata, &self->m, 0, 4, FAMFS_FMAP_FIRST_SIZE, HDR);
	expect_req(_metadata, &self->m, 1, 4, full, full);
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->fmap_sized[2]));
	EXPECT_EQ((__u64)full, famfs_load(&self->m.st->fmap_last_size));
	EXPECT_EQ(0ULL, famfs_load(&self->m.st->fmap_last_flags));
	if (fd >= 0)
		close(fd);
}

/* Each device is asked for once, by its index, in both places. */
TEST_F(input, daxdev_request_carries_the_index_twice)
{
	int fd0 = open_file(_metadata, &self->m, "small", 2ULL << 20);
	int fd1 = open_file(_metadata, &self->m, "other", 2ULL << 20);

	EXPECT_EQ(0ULL, famfs_load(&self->m.st->daxdev_bad_in));
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->daxdev[0]));
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->daxdev[1]));
	/* the last request: device 1's, opening "other" */
	EXPECT_EQ((__u64)sizeof(struct fuse_get_daxdev_in),
		  famfs_load(&self->m.st->daxdev_last_inlen));
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->daxdev_last_index));
	if (fd0 >= 0)
		close(fd0);
	if (fd1 >= 0)
		close(fd1);
}

TEST_HARNESS_MAIN
