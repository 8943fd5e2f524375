// SPDX-License-Identifier: GPL-2.0
/*
 * Who gets FUSE_DAX_FMAP. A famfs server hands the kernel raw device
 * offsets, so the kernel offers the flag only when a provider is loaded
 * and the mounting task has CAP_SYS_RAWIO; a server that sets it in its
 * INIT reply unoffered is ignored. In both cases the mount is plain fuse:
 * no GET_FMAP is ever sent and reads go to the server.
 */
#include <limits.h>
#include <sys/prctl.h>
#include <linux/capability.h>
#include <linux/fuse.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define NS_MANIFEST "namespace.manifest"

static void manifest(char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", famfs_manifests(), NS_MANIFEST);
}

/*
 * Drop CAP_SYS_RAWIO from this process for good: the bounding set (so a
 * root exec cannot get it back), then permitted and effective.
 */
static int drop_rawio(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (prctl(PR_CAPBSET_DROP, CAP_SYS_RAWIO, 0, 0, 0))
		return -errno;
	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	data[0].effective &= ~(1U << CAP_SYS_RAWIO);
	data[0].permitted &= ~(1U << CAP_SYS_RAWIO);
	data[0].inheritable &= ~(1U << CAP_SYS_RAWIO);
	if (syscall(SYS_capset, &hdr, data))
		return -errno;
	return 0;
}

static bool has_rawio(pid_t pid)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = pid };
	struct __user_cap_data_struct data[2];

	return !syscall(SYS_capget, &hdr, data) &&
	       (data[0].effective & (1U << CAP_SYS_RAWIO));
}

/* Open and read a file of the mount; the server must see no GET_FMAP. */
static void plain_fuse_file(struct __test_metadata *_metadata, struct famfs_mount *m)
{
	char path[PATH_MAX], buf[16];
	int fd;

	snprintf(path, sizeof(path), "%s/alpha", m->mnt);
	fd = open(path, O_RDONLY);
	ASSERT_GE(fd, 0);
	/* plain fuse: the read goes to the server, which refuses it */
	EXPECT_EQ(-1, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(EIO, errno);
	EXPECT_GE(famfs_load(&m->st->ops[FUSE_READ]), 1ULL);
	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(0ULL, famfs_load(&m->st->ops[FAMFS_OP_GET_FMAP]));
	EXPECT_EQ(0ULL, famfs_load(&m->st->ops[FAMFS_OP_GET_DAXDEV]));
}

TEST(mounter_without_cap_sys_rawio_gets_no_fmap)
{
	char mf[PATH_MAX];
	struct famfs_mount m;

	ASSERT_TRUE(module_loaded("famfs_rs"));
	ASSERT_EQ(0, drop_rawio());
	ASSERT_FALSE(has_rawio(0));
	manifest(mf, sizeof(mf));
	ASSERT_EQ(0, famfs_mount_start(&m, mf, NULL, true, NULL));
	/* the server (which mounted) runs without it too */
	EXPECT_FALSE(has_rawio(m.pid));
	/* a provider is loaded, yet the kernel did not offer the flag */
	EXPECT_EQ(0ULL, famfs_load(&m.st->init_flags_in) & FAMFS_INIT_DAX_FMAP);
	EXPECT_NE(0ULL, famfs_load(&m.st->init_flags_in) & FUSE_INIT_EXT);
	plain_fuse_file(_metadata, &m);
	famfs_mount_stop(&m, NULL);
}

TEST(unoffered_flag_is_ignored)
{
	const char *const args[] = { "--force-fmap", NULL };
	char mf[PATH_MAX];
	struct famfs_mount m;

	/* no provider: nothing to offer */
	ASSERT_EQ(0, unload_module("famfs_rs"));
	manifest(mf, sizeof(mf));
	ASSERT_EQ(0, famfs_mount_start(&m, mf, args, true, NULL));
	EXPECT_EQ(0ULL, famfs_load(&m.st->init_flags_in) & FAMFS_INIT_DAX_FMAP);
	/* the server set it anyway */
	EXPECT_NE(0ULL, famfs_load(&m.st->init_flags_out) & FAMFS_INIT_DAX_FMAP);
	plain_fuse_file(_metadata, &m);
	/* and loading the provider now does not turn this mount into one */
	ASSERT_EQ(0, load_module(FAMFS_MODULE_PATH));
	plain_fuse_file(_metadata, &m);
	/* the mount does not pin the provider: it never negotiated */
	EXPECT_EQ(0, unload_module("famfs_rs"));
	famfs_mount_stop(&m, NULL);
	ASSERT_EQ(0, load_module(FAMFS_MODULE_PATH));
}

TEST_HARNESS_MAIN
