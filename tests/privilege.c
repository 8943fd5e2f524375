// SPDX-License-Identifier: GPL-2.0
/*
 * Who gets FUSE_DAX_FMAP, and which devices a server may name. A famfs
 * server hands the kernel raw device memory, so the privilege is the
 * server's: the kernel offers the flag whenever a provider is loaded, and
 * grants it only if the task that writes the INIT reply has
 * CAP_SYS_RAWIO, whoever mounted (the setuid fusermount3 mounts as root
 * for every user). Without it the mount is plain fuse: no GET_FMAP or
 * GET_DAXDEV is ever sent and reads go to the server, and the kernel says
 * why. A server that sets the flag unoffered is ignored.
 *
 * That holds with a synchronous FUSE_INIT too, whose reply is processed in
 * the mounting task: the capability, the credentials and the root are
 * taken in the write() of the reply.
 *
 * A privileged server's GET_DAXDEV path is looked up as the server would
 * open the node: with its credentials, in its root, following no magic
 * link, and only if it may open the node for reading and writing (mode,
 * owner, nodev mounts). Each refusal fails the open with a clear line and
 * leaves no device held.
 */
#include <limits.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
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

TEST(server_without_cap_sys_rawio_gets_no_fmap)
{
	char mf[PATH_MAX];
	struct famfs_mount m;
	int kfd;

	ASSERT_TRUE(module_loaded("famfs_rs"));
	ASSERT_EQ(0, drop_rawio());
	ASSERT_FALSE(has_rawio(0));
	manifest(mf, sizeof(mf));
	kfd = famfs_kmsg_open();
	ASSERT_GE(kfd, 0);
	ASSERT_EQ(0, famfs_mount_start(&m, mf, NULL, true, NULL));
	/* the server (which mounted) runs without it too */
	EXPECT_FALSE(has_rawio(m.pid));
	/* offered (a provider is loaded), accepted, and not granted */
	EXPECT_NE(0ULL, famfs_load(&m.st->init_flags_in) & FAMFS_INIT_DAX_FMAP);
	EXPECT_NE(0ULL, famfs_load(&m.st->init_flags_out) & FAMFS_INIT_DAX_FMAP);
	plain_fuse_file(_metadata, &m);
	EXPECT_EQ(1, famfs_kmsg_count(kfd, "without CAP_SYS_RAWIO"));
	famfs_mount_stop(&m, NULL);
	close(kfd);
}

/*
 * Serve the namespace with @args, which make the server uid 65534 with no
 * capability, and check that no byte of a device reaches it.
 */
static void unprivileged_server(struct __test_metadata *_metadata, const char *const *args)
{
	char mf[PATH_MAX], status[PATH_MAX], buf[4096];
	struct famfs_mount m;
	long long held = famfs_held_daxdevs();
	int kfd;

	ASSERT_TRUE(has_rawio(0));
	EXPECT_LE(0, held);
	manifest(mf, sizeof(mf));
	kfd = famfs_kmsg_open();
	ASSERT_GE(kfd, 0);
	ASSERT_EQ(0, famfs_mount_start(&m, mf, args, true, NULL));
	/* the server serves as 65534 with no capability at all */
	snprintf(status, sizeof(status), "/proc/%d/status", m.pid);
	ASSERT_LT(0, read_file(status, buf, sizeof(buf)));
	EXPECT_NE(NULL, strstr(buf, "\nUid:\t65534\t65534\t65534\t65534\n"));
	EXPECT_NE(NULL, strstr(buf, "\nCapEff:\t0000000000000000\n"));
	EXPECT_NE(0ULL, famfs_load(&m.st->init_flags_out) & FAMFS_INIT_DAX_FMAP);
	plain_fuse_file(_metadata, &m);
	EXPECT_EQ(held, famfs_held_daxdevs());
	EXPECT_EQ(1, famfs_kmsg_count(kfd, "without CAP_SYS_RAWIO"));
	famfs_mount_stop(&m, NULL);
	close(kfd);
}

/*
 * What fusermount3 makes of a user's mount: root mounts, the server runs
 * as the user with no capabilities. No byte of a device reaches it.
 */
TEST(unprivileged_server_behind_a_root_mount_gets_no_fmap)
{
	const char *const args[] = { "--drop-uid", "65534", NULL };

	unprivileged_server(_metadata, args);
}

/*
 * The same with a synchronous FUSE_INIT (FUSE_DEV_IOC_SYNC_INIT, as
 * fusermount3 --sync-init sets it up for a user): the INIT reply is
 * processed in the mounter, root with every capability, which used to be
 * the task whose capability was checked and whose credentials and root
 * resolved the server's device paths. What counts is who wrote the reply.
 */
TEST(unprivileged_server_with_a_synchronous_init_gets_no_fmap)
{
	const char *const args[] = { "--sync-init", "--drop-uid", "65534", NULL };

	unprivileged_server(_metadata, args);
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

/*
 * Device nodes for the daxdev cases: copies of /dev/dax1.0 with other
 * owners and modes, a nodev tmpfs, and a root for a chroot'ed server.
 */
#define NODES "/tmp/famfs-nodes"
#define NODEV NODES "/nodev"
#define JAIL NODES "/jail"
#define UID_SERVER 1000
#define UID_OTHER 1001

static int make_node(const char *path, uid_t uid, mode_t mode)
{
	struct stat sb;

	if (stat("/dev/dax1.0", &sb))
		return -errno;
	unlink(path);
	if (mknod(path, S_IFCHR | mode, sb.st_rdev) || chown(path, uid, 0) ||
	    chmod(path, mode))
		return -errno;
	return 0;
}

/*
 * Serve a one-file namespace whose daxdev 0 is @dev, with server options
 * @args, open the file and return the open's errno (0: it opened, and a
 * byte written through it reads back).
 */
static int open_with_daxdev(struct __test_metadata *_metadata, const char *dev,
			    const char *const *args, const char *why)
{
	char path[PATH_MAX], c = 0;
	struct famfs_mount m;
	long long held = famfs_held_daxdevs();
	int fd, err = 0, kfd;

	ASSERT_EQ(0, famfs_write_manifest(NODES "/m",
					  "daxdev 0 %s\nfile f 2M simple 0:40M:2M\n", dev));
	kfd = famfs_kmsg_open();
	ASSERT_EQ(0, famfs_mount_start(&m, NODES "/m", args, true, NULL));
	EXPECT_NE(0ULL, famfs_load(&m.st->init_flags_out) & FAMFS_INIT_DAX_FMAP);
	snprintf(path, sizeof(path), "%s/f", m.mnt);
	fd = open(path, O_RDWR);
	if (fd < 0) {
		err = errno;
		EXPECT_EQ(1ULL, famfs_load(&m.st->ops[FAMFS_OP_GET_DAXDEV]));
		/* nothing was taken */
		EXPECT_EQ(held, famfs_held_daxdevs());
		if (why)
			EXPECT_LE(1, famfs_kmsg_count(kfd, why)) TH_LOG("no '%s' logged", why);
	} else {
		EXPECT_EQ(1, pwrite(fd, "x", 1, 4096));
		EXPECT_EQ(1, pread(fd, &c, 1, 4096));
		EXPECT_EQ('x', c);
		EXPECT_EQ(held + 1, famfs_held_daxdevs());
		close(fd);
	}
	famfs_mount_stop(&m, NULL);
	/* the connection released what it held */
	EXPECT_EQ(held, famfs_held_daxdevs());
	close(kfd);
	return err;
}

FIXTURE(dev) {
	int unused;
};

FIXTURE_SETUP(dev)
{
	ASSERT_TRUE(module_loaded("famfs_rs"));
	mkdir(NODES, 0755);
	mkdir(NODEV, 0755);
	mkdir(JAIL, 0755);
	mkdir(JAIL "/dev", 0755);
	ASSERT_EQ(0, chmod(NODES, 0755));
	ASSERT_EQ(0, make_node(NODES "/mine", UID_SERVER, 0600));
	ASSERT_EQ(0, make_node(NODES "/theirs", UID_OTHER, 0600));
	ASSERT_EQ(0, make_node(NODES "/readonly", UID_SERVER, 0400));
	ASSERT_EQ(0, mount("famfs-nodev", NODEV, "tmpfs", MS_NODEV, "mode=0755"));
	ASSERT_EQ(0, make_node(NODEV "/dax", 0, 0600));
	ASSERT_EQ(0, make_node(JAIL "/dev/dax1.0", 0, 0600));
	unlink(JAIL "/abs");
	unlink(JAIL "/up");
	ASSERT_EQ(0, symlink("/dev/dax2.0", JAIL "/abs"));
	ASSERT_EQ(0, symlink("../../../../../dev/dax2.0", JAIL "/up"));
	ASSERT_EQ(0, symlink("/proc/self/root/dev/dax1.0", NODES "/magic"));
}

FIXTURE_TEARDOWN(dev)
{
	umount2(NODEV, MNT_DETACH);
	unlink(NODES "/magic");
	unlink(NODES "/mine");
	unlink(NODES "/theirs");
	unlink(NODES "/readonly");
	unlink(NODES "/m");
	unlink(JAIL "/dev/dax1.0");
	unlink(JAIL "/abs");
	unlink(JAIL "/up");
	rmdir(JAIL "/dev");
	rmdir(JAIL);
	rmdir(NODEV);
	rmdir(NODES);
}

/* A server with CAP_SYS_RAWIO alone, as uid 1000: DAC still applies. */
TEST_F(dev, rawio_server_may_name_only_nodes_it_may_open)
{
	const char *const args[] = { "--drop-uid", "1000", "--keep-rawio", NULL };

	/* its own node: taken */
	EXPECT_EQ(0, open_with_daxdev(_metadata, NODES "/mine", args, NULL));
	/* another user's node, root's /dev/dax1.0, a node it may only read */
	EXPECT_EQ(EACCES, open_with_daxdev(_metadata, NODES "/theirs", args,
					   "may not open it for reading and writing"));
	EXPECT_EQ(EACCES, open_with_daxdev(_metadata, "/dev/dax1.0", args,
					   "may not open it for reading and writing"));
	EXPECT_EQ(EACCES, open_with_daxdev(_metadata, NODES "/readonly", args,
					   "may not open it for reading and writing"));
}

TEST_F(dev, node_on_a_nodev_mount_is_refused)
{
	EXPECT_EQ(EACCES, open_with_daxdev(_metadata, NODEV "/dax", NULL,
					   "may not open it for reading and writing"));
}

/* /proc/self/... is the opener's, not the server's: no magic links. */
TEST_F(dev, magic_link_is_refused)
{
	EXPECT_EQ(ELOOP, open_with_daxdev(_metadata, "/proc/self/root/dev/dax1.0", NULL,
					  "magic link"));
	/* also behind a plain symlink */
	EXPECT_EQ(ELOOP, open_with_daxdev(_metadata, NODES "/magic", NULL, "magic link"));
}

/* A chroot'ed server's paths and symlinks stay inside its root. */
TEST_F(dev, paths_resolve_inside_the_server_root)
{
	const char *const args[] = { "--chroot", JAIL, NULL };

	/* /dev/dax1.0 of its root is the node made there */
	EXPECT_EQ(0, open_with_daxdev(_metadata, "/dev/dax1.0", args, NULL));
	/* an absolute symlink and a climbing one do not leave it */
	EXPECT_EQ(ENOENT, open_with_daxdev(_metadata, "/abs", args, "no such node"));
	EXPECT_EQ(ENOENT, open_with_daxdev(_metadata, "/up", args, "no such node"));
	EXPECT_EQ(ENOENT, open_with_daxdev(_metadata, "/../../../dev/dax2.0", args,
					   "no such node"));
}

/*
 * With a synchronous FUSE_INIT the device paths resolve as the server that
 * wrote the reply, not as the root mounter that processed it: its uid and
 * its root.
 */
TEST_F(dev, synchronous_init_resolves_as_the_server)
{
	const char *const rawio[] = { "--sync-init", "--drop-uid", "1000", "--keep-rawio",
				      NULL };
	const char *const jail[] = { "--sync-init", "--chroot", JAIL, NULL };
	const char *const root[] = { "--sync-init", NULL };

	/* a root server: as before */
	EXPECT_EQ(0, open_with_daxdev(_metadata, "/dev/dax1.0", root, NULL));
	/* uid 1000 with CAP_SYS_RAWIO: its own node, not root's */
	EXPECT_EQ(0, open_with_daxdev(_metadata, NODES "/mine", rawio, NULL));
	EXPECT_EQ(EACCES, open_with_daxdev(_metadata, "/dev/dax1.0", rawio,
					   "may not open it for reading and writing"));
	/* a chroot'ed server: its root, not the mounter's (which has dax2.0) */
	EXPECT_EQ(0, open_with_daxdev(_metadata, "/dev/dax1.0", jail, NULL));
	EXPECT_EQ(ENOENT, open_with_daxdev(_metadata, "/dev/dax2.0", jail, "no such node"));
}

TEST_HARNESS_MAIN
