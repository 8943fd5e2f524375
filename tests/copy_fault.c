// SPDX-License-Identifier: GPL-2.0
/*
 * A read or a write of a famfs file whose user buffer faults on a page
 * that never comes (a private mapping of a plain fuse file whose server
 * does not answer READ) stalls that I/O and nothing else. The DAX core
 * used to copy between the device and the buffer inside its global SRCU
 * read section, so the fault held up every kill_dax(): another device's
 * unbind waited for the stalled server, as every device removal in the
 * system would. Now the buffer is faulted in outside the section, the
 * other unbind completes at once, and the I/O completes when the server
 * answers.
 *
 * Uses dax1.0 (the famfs file, in a range no other test uses), dax2.0
 * (the plain mount names it, never opens it) and dax3.0 (the other
 * unbind: free), and gives dax3.0 back to fsdev_dax.
 */
#include <limits.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define MIB (1024UL * 1024)
#define OTHER "dax3.0"
/*
 * "At once", under TCG and the debug kernel, for an unbind that must not
 * wait for the held I/O: the bug waited until the test released it, after
 * the check, so 20 s catch it as 5 s did, and a loaded machine's memmap
 * teardown fits.
 */
#define QUICK_MS 20000

FIXTURE(cf) {
	struct famfs_mount fam, plain;
	unsigned char *buf;
	pid_t io;
	int fd, pfd;
};

FIXTURE_SETUP(cf)
{
	const char *const no_fmap[] = { "--no-fmap", NULL };
	char path[PATH_MAX], drv[64];

	self->io = 0;
	self->fd = -1;
	self->pfd = -1;
	self->buf = MAP_FAILED;
	ASSERT_TRUE(module_loaded("famfs_rs"));
	famfs_dax_driver(OTHER, drv, sizeof(drv));
	ASSERT_STREQ("fsdev_dax", drv);
	ASSERT_EQ(0, famfs_write_manifest("/tmp/cf-fam.manifest",
					  "daxdev 0 /dev/dax1.0\nfile f 2M simple 0:370M:2M\n"));
	ASSERT_EQ(0, famfs_write_manifest("/tmp/cf-plain.manifest",
					  "read-stall\ndaxdev 0 /dev/dax2.0\n"
					  "file p 2M simple 0:370M:2M\n"));
	ASSERT_EQ(0, famfs_mount_start(&self->fam, "/tmp/cf-fam.manifest", NULL, true, NULL));
	ASSERT_EQ(0, famfs_mount_start(&self->plain, "/tmp/cf-plain.manifest", no_fmap, true,
				       NULL));
	self->fd = famfs_open_rw(&self->fam, "f");
	ASSERT_LE(0, self->fd);
	snprintf(path, sizeof(path), "%s/p", self->plain.mnt);
	self->pfd = open(path, O_RDONLY);
	ASSERT_LE(0, self->pfd);
	/* private and writable: a read into it must first read the file */
	self->buf = mmap(NULL, 2 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE, self->pfd, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
}

FIXTURE_TEARDOWN(cf)
{
	/* the stalled READs get an error, whatever happened above */
	famfs_ctl(&self->plain, "release-stall EIO");
	if (self->io > 0)
		famfs_wait_exit(self->io, 60000, NULL);
	if (self->buf != MAP_FAILED)
		munmap(self->buf, 2 * MIB);
	if (self->pfd >= 0)
		close(self->pfd);
	if (self->fd >= 0)
		close(self->fd);
	famfs_mount_stop(&self->plain, NULL);
	famfs_mount_stop(&self->fam, NULL);
	famfs_fsdev_give_back(OTHER);
	unlink("/tmp/cf-fam.manifest");
	unlink("/tmp/cf-plain.manifest");
}

/*
 * Start the I/O (@write: pwrite from the buffer, else pread into it) in a
 * child, wait until its fault reached the plain server, then unbind
 * another device: it must not wait for the fault.
 */
static void stall_and_unbind(struct __test_metadata *_metadata, struct famfs_mount *plain,
			     int fd, unsigned char *buf, pid_t *io, bool write)
{
	long long t0;
	pid_t other;
	bool done;
	int st;

	*io = fork();
	ASSERT_LE(0, *io);
	if (!*io) {
		ssize_t n = write ? pwrite(fd, buf, 4096, 0) : pread(fd, buf, 4096, 0);

		_exit(n == 4096 ? 0 : 1);
	}
	/* the copy faulted on the buffer, and the fault waits for the server */
	ASSERT_TRUE(famfs_wait_count(&plain->st->stalled, 1, 20000));
	usleep(200 * 1000);
	EXPECT_NE(0, famfs_wait_exit(*io, 0, &st)) TH_LOG("the I/O did not wait");

	t0 = famfs_now_ms();
	other = fork();
	ASSERT_LE(0, other);
	if (!other)
		_exit(famfs_write_str("/sys/bus/dax/drivers/fsdev_dax/unbind", OTHER) ? 1 : 0);
	done = !famfs_wait_exit(other, QUICK_MS, &st);
	EXPECT_TRUE(done) TH_LOG("the unbind of %s waited for the stalled fault", OTHER);
	TH_LOG("unbind of %s in %lld ms while the copy's fault waits", OTHER,
	       famfs_now_ms() - t0);

	/* the server answers at last (EIO): the I/O ends, then the unbind */
	EXPECT_EQ(0, famfs_ctl(plain, "release-stall EIO"));
	EXPECT_EQ(0, famfs_wait_exit(*io, 20000, &st));
	*io = 0;
	if (!done)
		EXPECT_EQ(0, famfs_wait_exit(other, 60000, &st));
}

TEST_F_TIMEOUT(cf, read_into_a_stalled_buffer_stalls_no_removal, 180)
{
	stall_and_unbind(_metadata, &self->plain, self->fd, self->buf, &self->io, false);
}

TEST_F_TIMEOUT(cf, write_from_a_stalled_buffer_stalls_no_removal, 180)
{
	stall_and_unbind(_metadata, &self->plain, self->fd, self->buf, &self->io, true);
}

TEST_HARNESS_MAIN
