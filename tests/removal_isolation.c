// SPDX-License-Identifier: GPL-2.0
/*
 * A device removal that waits stalls nothing else. Unbinding a device
 * whose file has a page held by a pipe (vmsplice) must wait for the page
 * (the memmap goes with the device), but only that unbind waits: while it
 * does, another famfs mount unmounts and its server exits, another device
 * (not held) unbinds and comes back, and a memory failure on a file of a
 * third device is handled; the first unbind completes as soon as the pipe
 * closes. The DAX core used to call the holder's notify_failure() inside
 * its global SRCU read section, so every synchronize_srcu() (kill_dax()
 * of any device, fs_put_dax() of any holder) waited for the pipe.
 *
 * Also meanwhile, an open of a file of a second mount that names the
 * waiting device fails at once (ENXIO), in a task that can be killed.
 * fs_dax_get() used to sleep in device_lock(), uninterruptibly, behind
 * the unbind until the pipe closed (patches/dax/0005): had the pipe's owner
 * made that open, nothing could have ended either.
 *
 * Uses dax2.0 (the waiting removal), dax1.0 (the other mount, then the
 * other unbind) and dax3.0 (the memory failure, in a range only this test
 * uses), and gives every device back to fsdev_dax.
 */
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define MIB (1024UL * 1024)
#define WAITING "dax2.0"
#define OTHER "dax1.0"
/*
 * "At once": what these deadlines guard against waited until the test let
 * go of the page, which it does only after the check, so a deadline of
 * 20 s catches it as well as one of 5 s, and leaves room for a loaded
 * machine (TCG and the debug kernel: an unbind tears down a memmap).
 */
#define QUICK_MS 20000
#define UNBIND_MS 60000		/* the removal itself, once the page is free */

static int write_manifest(const char *path, const char *dev, const char *file)
{
	return famfs_write_manifest(path, "daxdev 0 /dev/%s\nfile %s\n", dev, file);
}

/* Unbind @dev from fsdev_dax in a child: its pid. */
static pid_t unbind_async(const char *dev)
{
	pid_t pid = fork();

	if (!pid)
		_exit(famfs_write_str("/sys/bus/dax/drivers/fsdev_dax/unbind", dev) ? 1 : 0);
	return pid;
}

static bool exited_ok(pid_t pid, int ms)
{
	int st = 0;

	return !famfs_wait_exit(pid, ms, &st) && WIFEXITED(st) && !WEXITSTATUS(st);
}

FIXTURE(iso) {
	struct famfs_mount waiting, other, mf, twin;
	int pipe[2];
	pid_t unbind;
};

FIXTURE_SETUP(iso)
{
	char drv[64];

	ASSERT_TRUE(module_loaded("famfs_rs"));
	self->pipe[0] = -1;
	self->pipe[1] = -1;
	self->unbind = 0;
	famfs_dax_driver(WAITING, drv, sizeof(drv));
	ASSERT_STREQ("fsdev_dax", drv);
	famfs_dax_driver(OTHER, drv, sizeof(drv));
	ASSERT_STREQ("fsdev_dax", drv);
	ASSERT_EQ(0, write_manifest("/tmp/iso-w.manifest", WAITING, "w 2M simple 0:260M:2M"));
	ASSERT_EQ(0, write_manifest("/tmp/iso-o.manifest", OTHER, "o 2M simple 0:260M:2M"));
	ASSERT_EQ(0, write_manifest("/tmp/iso-m.manifest", "dax3.0", "p 2M simple 0:1600M:2M"));
	ASSERT_EQ(0, write_manifest("/tmp/iso-t.manifest", WAITING, "t 2M simple 0:264M:2M"));
	ASSERT_EQ(0, famfs_mount_start(&self->waiting, "/tmp/iso-w.manifest", NULL, true, NULL));
	ASSERT_EQ(0, famfs_mount_start(&self->other, "/tmp/iso-o.manifest", NULL, true, NULL));
	ASSERT_EQ(0, famfs_mount_start(&self->mf, "/tmp/iso-m.manifest", NULL, true, NULL));
	ASSERT_EQ(0, famfs_mount_start(&self->twin, "/tmp/iso-t.manifest", NULL, true, NULL));
}

FIXTURE_TEARDOWN(iso)
{
	if (self->pipe[0] >= 0)
		close(self->pipe[0]);
	if (self->pipe[1] >= 0)
		close(self->pipe[1]);
	if (self->unbind > 0)
		famfs_wait_exit(self->unbind, 60000, NULL);
	famfs_mount_stop(&self->twin, NULL);
	famfs_mount_stop(&self->mf, NULL);
	famfs_mount_stop(&self->other, NULL);
	famfs_mount_stop(&self->waiting, NULL);
	famfs_fsdev_give_back(WAITING);
	famfs_fsdev_give_back(OTHER);
	unlink("/tmp/iso-w.manifest");
	unlink("/tmp/iso-o.manifest");
	unlink("/tmp/iso-m.manifest");
	unlink("/tmp/iso-t.manifest");
}

TEST_F_TIMEOUT(iso, a_removal_waiting_for_a_pipe_stalls_nothing_else, 180)
{
	unsigned char want[4096], got[4096], *w, *p;
	struct iovec iov;
	long long t0;
	int fw, fp, st;
	bool killed;
	pid_t other;

	/* a page of w held by a pipe, w closed and unmapped */
	fw = famfs_open_rw(&self->waiting, "w");
	ASSERT_GE(fw, 0);
	w = mmap(NULL, 2 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED, fw, 0);
	ASSERT_NE(MAP_FAILED, w);
	famfs_pattern(want, sizeof(want), 0, 77);
	memcpy(w, want, sizeof(want));
	ASSERT_EQ(0, pipe(self->pipe));
	iov.iov_base = w;
	iov.iov_len = sizeof(want);
	ASSERT_EQ((ssize_t)sizeof(want), vmsplice(self->pipe[1], &iov, 1, 0));
	EXPECT_EQ(0, munmap(w, 2 * MIB));
	EXPECT_EQ(0, close(fw));

	/* the removal of its device waits for the page */
	self->unbind = unbind_async(WAITING);
	ASSERT_GT(self->unbind, 0);
	EXPECT_NE(0, famfs_wait_exit(self->unbind, 2000, &st)) {
		self->unbind = 0;
		TH_LOG("the unbind did not wait for the pipe's page");
	}

	/* another mount unmounts, and its server (fs_put_dax()) exits */
	t0 = famfs_now_ms();
	EXPECT_EQ(0, umount2(self->other.mnt, 0));
	EXPECT_EQ(0, famfs_wait_exit(self->other.pid, QUICK_MS, &st))
		TH_LOG("the other mount's server did not exit: its fs_put_dax() waits");
	self->other.pid = 0;
	TH_LOG("other mount gone in %lld ms", famfs_now_ms() - t0);

	/* another device, now free, unbinds (kill_dax()) and comes back */
	t0 = famfs_now_ms();
	other = unbind_async(OTHER);
	ASSERT_GT(other, 0);
	EXPECT_TRUE(exited_ok(other, QUICK_MS)) TH_LOG("the other device's unbind waited");
	TH_LOG("other unbind in %lld ms", famfs_now_ms() - t0);
	famfs_fsdev_give_back(OTHER);

	/* a memory failure on a third device is handled meanwhile */
	fp = famfs_open_rw(&self->mf, "p");
	ASSERT_GE(fp, 0);
	p = mmap(NULL, 2 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED, fp, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 1, 2 * 4096);
	t0 = famfs_now_ms();
	other = fork();
	ASSERT_GE(other, 0);
	if (!other)
		_exit(madvise(p + 4096, 4096, MADV_HWPOISON) ? 1 : 0);
	/* the child dies of its SIGBUS or exits 0: either way, it returns */
	EXPECT_EQ(0, famfs_wait_exit(other, QUICK_MS, &st)) TH_LOG("the memory failure waited");
	TH_LOG("memory failure in %lld ms", famfs_now_ms() - t0);
	EXPECT_EQ(0, munmap(p, 2 * MIB));
	EXPECT_EQ(0, close(fp));

	/* a second mount's first open of a file on the waiting device */
	t0 = famfs_now_ms();
	other = fork();
	ASSERT_GE(other, 0);
	if (!other) {
		fp = famfs_open_rw(&self->twin, "t");
		_exit(fp == -ENXIO ? 0 : fp >= 0 ? 1 : 2);
	}
	if (famfs_wait_exit(other, QUICK_MS, &st)) {
		/* a stuck open: can SIGKILL end it? (it did not, before dax/0005) */
		kill(other, SIGKILL);
		killed = !famfs_wait_exit(other, 2000, &st);
		EXPECT_TRUE(false)
			TH_LOG("an open on the waiting device waited %d ms; SIGKILL %s", QUICK_MS,
			       killed ? "ended it" : "did not end it");
		if (killed)
			other = 0;
	} else {
		EXPECT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st))
			TH_LOG("open on the waiting device: status %#x (1: opened, 2: no ENXIO)",
			       st);
		other = 0;
	}
	TH_LOG("open on the waiting device: %lld ms", famfs_now_ms() - t0);

	/* the pipe still reads the file's bytes; then the removal completes */
	EXPECT_EQ((ssize_t)sizeof(got), read(self->pipe[0], got, sizeof(got)));
	EXPECT_EQ(sizeof(want), famfs_first_diff(got, want, sizeof(want)));
	t0 = famfs_now_ms();
	EXPECT_EQ(0, close(self->pipe[0]));
	EXPECT_EQ(0, close(self->pipe[1]));
	self->pipe[0] = -1;
	self->pipe[1] = -1;
	EXPECT_TRUE(exited_ok(self->unbind, UNBIND_MS)) TH_LOG("the unbind did not complete");
	self->unbind = 0;
	TH_LOG("first unbind done %lld ms after the pipe closed", famfs_now_ms() - t0);
	/* an open that SIGKILL did not end ends with the removal */
	if (other > 0)
		EXPECT_EQ(0, famfs_wait_exit(other, QUICK_MS, &st));
	/* w kept its fmap: it opens, and its I/O fails on the removed device */
	fw = famfs_open_rw(&self->waiting, "w");
	ASSERT_GE(fw, 0);
	EXPECT_EQ(-1, pread(fw, got, sizeof(got), 0));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(0, close(fw));
}

TEST_HARNESS_MAIN
