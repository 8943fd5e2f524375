// SPDX-License-Identifier: GPL-2.0
/*
 * The holder race of fs_put_dax(): a mount's release of its device
 * (unmount, fs_put_dax()) racing a removal of that device (kill_dax()), a
 * rebind and a second mount taking the device (fs_dax_get()). fs_put_dax()
 * used to read holder_data, and a kill, a rebind and a new get between
 * that read and its store of holder_ops left the new holder without its
 * operations: no memory-failure or removal notification for it, and a
 * removal then tore the memory away under its mappings. Each round here
 * races the two sides and then checks that the second mount still hears
 * of the removal: unbinding the device revokes its file (ENXIO).
 *
 * Then two removals before the first holder lets go: its put must not
 * warn.
 *
 * Uses dax2.0 and gives it back to fsdev_dax.
 */
#include <limits.h>
#include <sys/wait.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define DEV "dax2.0"
#define ROUNDS 12

static int bind_fsdev(void)
{
	return famfs_fsdev_give_back(DEV);
}

FIXTURE(hr) {
	struct famfs_mount a, b;
};

FIXTURE_SETUP(hr)
{
	ASSERT_TRUE(module_loaded("famfs_rs"));
	ASSERT_EQ(0, bind_fsdev());
	ASSERT_EQ(0, famfs_write_manifest("/tmp/hr-a.manifest",
					  "daxdev 0 /dev/" DEV "\nfile f 2M simple 0:330M:2M\n"));
	ASSERT_EQ(0, famfs_write_manifest("/tmp/hr-b.manifest",
					  "daxdev 0 /dev/" DEV "\nfile g 2M simple 0:332M:2M\n"));
}

FIXTURE_TEARDOWN(hr)
{
	famfs_mount_stop(&self->b, NULL);
	famfs_mount_stop(&self->a, NULL);
	bind_fsdev();
	unlink("/tmp/hr-a.manifest");
	unlink("/tmp/hr-b.manifest");
}

TEST_F_TIMEOUT(hr, unmount_racing_unbind_rebind_and_a_new_holder, 300)
{
	int round, fd, st, taken = 0;
	pid_t umounter;
	char c;

	for (round = 0; round < ROUNDS; round++) {
		ASSERT_EQ(0, famfs_mount_start(&self->a, "/tmp/hr-a.manifest", NULL, true, NULL));
		fd = famfs_open_rw(&self->a, "f");
		ASSERT_LE(0, fd);
		close(fd);
		/* one side: a goes (its server's exit puts the holding) ... */
		umounter = fork();
		ASSERT_LE(0, umounter);
		if (!umounter) {
			usleep((round % 4) * 2000);
			_exit(umount2(self->a.mnt, 0) ? 1 : 0);
		}
		/* ... the other: the device goes, comes back, b takes it */
		EXPECT_EQ(0, famfs_write_str("/sys/bus/dax/drivers/fsdev_dax/unbind", DEV));
		ASSERT_EQ(0, bind_fsdev());
		ASSERT_EQ(0, famfs_mount_start(&self->b, "/tmp/hr-b.manifest", NULL, true, NULL));
		fd = famfs_open_rw(&self->b, "g");
		EXPECT_TRUE(fd >= 0 || fd == -EBUSY) TH_LOG("open g: %s", strerror(-fd));
		ASSERT_EQ(0, famfs_wait_exit(umounter, 20000, &st));
		famfs_mount_stop(&self->a, NULL);
		if (fd >= 0) {
			/* b holds the device: a removal must reach it */
			taken++;
			EXPECT_EQ(1, pwrite(fd, "g", 1, 0));
			EXPECT_EQ(0, famfs_write_str("/sys/bus/dax/drivers/fsdev_dax/unbind", DEV));
			EXPECT_EQ(-1, pread(fd, &c, 1, 0))
				TH_LOG("round %d: b was not told", round);
			EXPECT_EQ(ENXIO, errno);
			close(fd);
			ASSERT_EQ(0, bind_fsdev());
		}
		famfs_mount_stop(&self->b, NULL);
	}
	/* the device was b's in most rounds (a's put lost the race to b's get otherwise) */
	EXPECT_LT(0, taken);
	TH_LOG("b took the device in %d of %d rounds", taken, ROUNDS);
}

/*
 * Two removals before the first holder lets go: a holds the device, the
 * device goes (a's holding is released by the kill), comes back, b takes
 * it, it goes again; then a's server exits (fs_put_dax() of a holding a
 * kill released long ago) and b's. The DAX core remembered only the last
 * holder a kill released, and warned when a put: a WARN in the kernel log.
 */
TEST_F_TIMEOUT(hr, two_removals_before_the_first_holder_goes, 120)
{
	int fd, kfd;

	kfd = famfs_kmsg_open();
	ASSERT_LE(0, kfd);
	ASSERT_EQ(0, famfs_mount_start(&self->a, "/tmp/hr-a.manifest", NULL, true, NULL));
	fd = famfs_open_rw(&self->a, "f");
	ASSERT_LE(0, fd);
	close(fd);
	EXPECT_EQ(0, famfs_write_str("/sys/bus/dax/drivers/fsdev_dax/unbind", DEV));
	ASSERT_EQ(0, bind_fsdev());
	ASSERT_EQ(0, famfs_mount_start(&self->b, "/tmp/hr-b.manifest", NULL, true, NULL));
	fd = famfs_open_rw(&self->b, "g");
	ASSERT_LE(0, fd) TH_LOG("b could not take the device: %s", strerror(-fd));
	close(fd);
	EXPECT_EQ(0, famfs_write_str("/sys/bus/dax/drivers/fsdev_dax/unbind", DEV));
	ASSERT_EQ(0, bind_fsdev());
	famfs_mount_stop(&self->a, NULL);
	famfs_mount_stop(&self->b, NULL);
	EXPECT_EQ(0, famfs_kmsg_count(kfd, "WARNING:"));
	/* and the device is free for a third holder */
	ASSERT_EQ(0, famfs_mount_start(&self->a, "/tmp/hr-a.manifest", NULL, true, NULL));
	fd = famfs_open_rw(&self->a, "f");
	EXPECT_LE(0, fd);
	if (fd >= 0)
		close(fd);
	famfs_mount_stop(&self->a, NULL);
	close(kfd);
}

TEST_HARNESS_MAIN
