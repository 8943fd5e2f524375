// SPDX-License-Identifier: GPL-2.0
/*
 * A daxdev removed under a mount (the hardening issue, class E). Unbinding
 * a held device from fsdev_dax runs kill_dax(), which tells famfs_rs
 * (notify_failure with MF_MEM_PRE_REMOVE). famfs_rs must then take every
 * mapping of every file on that device away and wait for their page
 * references before the device's memory goes, and fail everything later
 * on that device with ENXIO, so that:
 *
 * - the unbind completes, munmap and unmount work (no oops in the page
 *   table teardown, no eviction stuck on DAX page references);
 * - a mapping of a file on the removed device raises SIGBUS, read() and
 *   write() fail with ENXIO, and so does the first open of a file on that
 *   device (a file opened before keeps its fmap: it opens, its I/O fails);
 *   files on the other device keep working;
 * - once the memory has another user (the device rebound to device_dax and
 *   written raw, or rebound to fsdev_dax and taken by a second mount), the
 *   first mount's files reach none of it;
 * - unmounting the first mount after that leaves the second mount's holding
 *   alone (no WARN from fs_put_dax(), and the second mount still works).
 *
 * Uses /dev/dax2.0 (the test VM's second NVDIMM) and gives it back to
 * fsdev_dax at the end.
 */
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define MIB (1024UL * 1024)
#define DEV "dax2.0"
#define UNBIND_TIMEOUT_MS 60000
/* a notification the bug held until the pipe closed, after the check */
#define NOTIFY_MS 20000

static sigjmp_buf jmp;

static void on_sigbus(int sig)
{
	siglongjmp(jmp, sig);
}

/* 1 if reading *p raises SIGBUS; else 0 and *out is the byte. */
static int read_or_sigbus(const unsigned char *p, unsigned char *out)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	int got = 0;

	sigaction(SIGBUS, &sa, &old);
	if (!sigsetjmp(jmp, 1))
		*out = FAMFS_READ_ONCE(*p);
	else
		got = 1;
	sigaction(SIGBUS, &old, NULL);
	return got;
}

/* Unbind DEV from fsdev_dax in a child, so that a hang is a failure. */
static int unbind_fsdev(void)
{
	int st = 0;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid)
		_exit(famfs_write_str("/sys/bus/dax/drivers/fsdev_dax/unbind", DEV) ? 1 : 0);
	if (famfs_wait_exit(pid, UNBIND_TIMEOUT_MS, &st))
		return -ETIMEDOUT;
	return WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : -EIO;
}

FIXTURE(rm) {
	struct famfs_mount m1, m2;
	char manifest[64];
};

FIXTURE_SETUP(rm)
{
	char drv[64];
	FILE *f;

	ASSERT_TRUE(module_loaded("famfs_rs"));
	famfs_dax_driver(DEV, drv, sizeof(drv));
	ASSERT_STREQ("fsdev_dax", drv);
	snprintf(self->manifest, sizeof(self->manifest), "/tmp/removal.manifest");
	f = fopen(self->manifest, "w");
	ASSERT_NE(NULL, f);
	fprintf(f, "daxdev 0 /dev/" DEV "\ndaxdev 1 /dev/dax1.0\n"
		   "file r 4M simple 0:200M:4M\n"
		   "file s 2M simple 0:210M:2M\n"
		   "file k 2M simple 1:220M:2M\n");
	ASSERT_EQ(0, fclose(f));
	ASSERT_EQ(0, famfs_mount_start(&self->m1, self->manifest, NULL, true, NULL));
}

FIXTURE_TEARDOWN(rm)
{
	char drv[64];

	famfs_mount_stop(&self->m2, NULL);
	famfs_mount_stop(&self->m1, NULL);
	unlink(self->manifest);
	/* give the device back to fsdev_dax for the tests that follow */
	famfs_dax_driver(DEV, drv, sizeof(drv));
	if (strcmp(drv, "fsdev_dax")) {
		if (!strcmp(drv, "device_dax"))
			famfs_write_str("/sys/bus/dax/drivers/device_dax/unbind", DEV);
		famfs_write_str("/sys/bus/dax/drivers/fsdev_dax/remove_id", DEV);
		famfs_write_str("/sys/bus/dax/drivers/fsdev_dax/new_id", DEV);
	}
	famfs_dax_driver(DEV, drv, sizeof(drv));
	if (strcmp(drv, "fsdev_dax"))
		TH_LOG("could not give %s back to fsdev_dax (%s)", DEV, drv);
}

TEST_F(rm, unbind_revokes_mappings_and_fails_later_io)
{
	unsigned char *r, *k, *r2, b = 0;
	int fr, fk, fd, raw;
	unsigned char *rawp;
	char drv[64];

	fr = famfs_open_rw(&self->m1, "r");
	ASSERT_GE(fr, 0);
	fk = famfs_open_rw(&self->m1, "k");
	ASSERT_GE(fk, 0);
	r = mmap(NULL, 4 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED, fr, 0);
	ASSERT_NE(MAP_FAILED, r);
	k = mmap(NULL, 2 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED, fk, 0);
	ASSERT_NE(MAP_FAILED, k);
	r[0] = 0xa1;
	r[2 * MIB + 5] = 0xa2;
	k[7] = 0xb1;

	/* the unbind must complete with r mapped (PMD and PTE) */
	ASSERT_EQ(0, unbind_fsdev());
	famfs_dax_driver(DEV, drv, sizeof(drv));
	EXPECT_STREQ("", drv);

	/* r's mapping is gone: SIGBUS, not the old bytes */
	EXPECT_EQ(1, read_or_sigbus(r, &b));
	EXPECT_EQ(1, read_or_sigbus(r + 2 * MIB + 5, &b));
	/* read() and write() fail with ENXIO */
	errno = 0;
	EXPECT_EQ(-1, pread(fr, &b, 1, 0));
	EXPECT_EQ(ENXIO, errno);
	errno = 0;
	EXPECT_EQ(-1, pwrite(fr, &b, 1, 4096));
	EXPECT_EQ(ENXIO, errno);
	/* a file on the removed device that was never opened */
	EXPECT_EQ(-ENXIO, famfs_open_rw(&self->m1, "s"));
	/* the other device is untouched */
	EXPECT_EQ(0, read_or_sigbus(k + 7, &b));
	EXPECT_EQ(0xb1, b);
	EXPECT_EQ(1, pread(fk, &b, 1, 7));
	EXPECT_EQ(0xb1, b);
	/* tearing the dead mapping down works */
	EXPECT_EQ(0, munmap(r, 4 * MIB));

	/* the memory gets another user: device_dax, written raw */
	ASSERT_EQ(0, famfs_write_str("/sys/bus/dax/drivers/fsdev_dax/remove_id", DEV));
	ASSERT_EQ(0, famfs_write_str("/sys/bus/dax/drivers/device_dax/bind", DEV));
	raw = open("/dev/" DEV, O_RDWR);
	ASSERT_GE(raw, 0);
	rawp = mmap(NULL, 2 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED, raw, 200 * MIB);
	ASSERT_NE(MAP_FAILED, rawp);
	rawp[0] = 0xc1;
	/* famfs's file of those bytes reaches none of it */
	r2 = mmap(NULL, 4 * MIB, PROT_READ, MAP_SHARED, fr, 0);
	ASSERT_NE(MAP_FAILED, r2);
	EXPECT_EQ(1, read_or_sigbus(r2, &b));
	errno = 0;
	EXPECT_EQ(-1, pread(fr, &b, 1, 0));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(0, munmap(r2, 4 * MIB));
	EXPECT_EQ(0, munmap(rawp, 2 * MIB));
	EXPECT_EQ(0, close(raw));

	/* back to fsdev_dax, and a second mount takes the device */
	ASSERT_EQ(0, famfs_write_str("/sys/bus/dax/drivers/device_dax/unbind", DEV));
	ASSERT_EQ(0, famfs_write_str("/sys/bus/dax/drivers/fsdev_dax/new_id", DEV));
	famfs_dax_driver(DEV, drv, sizeof(drv));
	ASSERT_STREQ("fsdev_dax", drv);
	ASSERT_EQ(0, famfs_mount_start(&self->m2, self->manifest, NULL, true, NULL));
	fd = famfs_open_rw(&self->m2, "r");
	ASSERT_GE(fd, 0) TH_LOG("r on the second mount: %s", strerror(-fd));
	b = 0xd1;
	EXPECT_EQ(1, pwrite(fd, &b, 1, 0));
	/* the first mount still reaches nothing, and cannot take it again */
	errno = 0;
	EXPECT_EQ(-1, pread(fr, &b, 1, 0));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-ENXIO, famfs_open_rw(&self->m1, "s"));

	/* the first mount goes: the second mount's holding stays */
	EXPECT_EQ(0, close(fr));
	EXPECT_EQ(0, munmap(k, 2 * MIB));
	EXPECT_EQ(0, close(fk));
	famfs_mount_stop(&self->m1, NULL);
	b = 0;
	EXPECT_EQ(1, pread(fd, &b, 1, 0));
	EXPECT_EQ(0xd1, b);
	EXPECT_EQ(0, close(fd));
	fd = famfs_open_rw(&self->m2, "s");
	EXPECT_GE(fd, 0);
	if (fd >= 0)
		close(fd);
}

TEST_F(rm, unbind_with_nothing_mapped_then_unmount)
{
	int fr;

	fr = famfs_open_rw(&self->m1, "r");
	ASSERT_GE(fr, 0);
	EXPECT_EQ(0, close(fr));
	ASSERT_EQ(0, unbind_fsdev());
	/* r has its fmap already: it opens, and its I/O fails */
	fr = famfs_open_rw(&self->m1, "r");
	ASSERT_GE(fr, 0);
	errno = 0;
	EXPECT_EQ(-1, pread(fr, &fr, 1, 0));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(0, close(fr));
	/* s would need the device: its open fails */
	EXPECT_EQ(-ENXIO, famfs_open_rw(&self->m1, "s"));
	/* eviction of r and the unmount must not wait for anything */
	famfs_mount_stop(&self->m1, NULL);
	EXPECT_EQ(0, famfs_write_str("/sys/bus/dax/drivers/fsdev_dax/remove_id", DEV));
	EXPECT_EQ(0, famfs_write_str("/sys/bus/dax/drivers/fsdev_dax/new_id", DEV));
}

struct ctl_call {
	struct famfs_mount *m;
	const char *cmd;
	int rc;
	int done;
};

static void *ctl_thread(void *arg)
{
	struct ctl_call *c = arg;

	c->rc = famfs_ctl(c->m, "%s", c->cmd);
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * A page of a file held by a pipe (vmsplice) while the file is being
 * evicted: the eviction waits for the page (fs-dax), not in the server's
 * write() of the NOTIFY_DELETE that started it (which used to hang there,
 * holding the directory's lock), and the removal must wait too, since
 * memunmap_pages() does not wait for fs-dax pages. It used to go on, and
 * the pipe's put_page() then faulted on the gone memmap.
 */
TEST_F(rm, unbind_waits_for_a_page_a_pipe_holds_of_a_file_being_evicted)
{
	unsigned char want[4096], got[4096];
	struct ctl_call c = { .m = &self->m1, .cmd = "notify-delete r" };
	long long end;
	pthread_t t;
	int fr, p[2], st = 0;
	pid_t pid;

	fr = famfs_open_rw(&self->m1, "r");
	ASSERT_GE(fr, 0);
	famfs_pattern(want, sizeof(want), 0, 91);
	ASSERT_EQ(0, famfs_page_in_pipe(fr, want, sizeof(want), p));
	EXPECT_EQ(0, close(fr));
	/* the RELEASE first, as in the prune case: the eviction is then the dentry's */
	ASSERT_TRUE(famfs_wait_count(&self->m1.st->ops[FUSE_RELEASE], 1, UNBIND_TIMEOUT_MS));

	/*
	 * The server deletes r: its eviction waits for the pipe's page, but
	 * not in the server's write() of the notification, which returns.
	 */
	ASSERT_EQ(0, pthread_create(&t, NULL, ctl_thread, &c));
	end = famfs_now_ms() + NOTIFY_MS;
	while (!__atomic_load_n(&c.done, __ATOMIC_ACQUIRE) && famfs_now_ms() < end)
		usleep(10000);
	EXPECT_TRUE(__atomic_load_n(&c.done, __ATOMIC_ACQUIRE))
		TH_LOG("the server's NOTIFY_DELETE waited for the pipe");
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid)
		_exit(famfs_write_str("/sys/bus/dax/drivers/fsdev_dax/unbind", DEV) ? 1 : 0);
	/* the unbind must wait too */
	EXPECT_NE(0, famfs_wait_exit(pid, 2000, &st)) TH_LOG("the unbind did not wait");
	/* the page is still the file's: the pipe reads its bytes */
	EXPECT_EQ((ssize_t)sizeof(got), read(p[0], got, sizeof(got)));
	EXPECT_EQ(sizeof(want), famfs_first_diff(got, want, sizeof(want)));
	EXPECT_EQ(0, close(p[0]));
	EXPECT_EQ(0, close(p[1]));
	/* the page is free: the eviction and the unbind complete */
	EXPECT_EQ(0, famfs_wait_exit(pid, UNBIND_TIMEOUT_MS, &st));
	EXPECT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, c.rc);
	EXPECT_EQ(-ENXIO, famfs_open_rw(&self->m1, "s"));
	famfs_mount_stop(&self->m1, NULL);
}

/*
 * The same for NOTIFY_PRUNE, whose last put of an unused inode evicts it:
 * the server's write() returns while a pipe holds a page of the file.
 */
TEST_F(rm, prune_of_a_file_a_pipe_holds_a_page_of_returns)
{
	unsigned char want[4096], got[4096], *r;
	struct ctl_call c = { .m = &self->m1, .cmd = "notify-prune r" };
	struct iovec iov;
	long long end;
	pthread_t t;
	int fr, p[2];

	fr = famfs_open_rw(&self->m1, "r");
	ASSERT_GE(fr, 0);
	r = mmap(NULL, 2 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED, fr, 0);
	ASSERT_NE(MAP_FAILED, r);
	famfs_pattern(want, sizeof(want), 0, 93);
	memcpy(r, want, sizeof(want));
	ASSERT_EQ(0, pipe(p));
	iov.iov_base = r;
	iov.iov_len = sizeof(want);
	ASSERT_EQ((ssize_t)sizeof(want), vmsplice(p[1], &iov, 1, 0));
	EXPECT_EQ(0, munmap(r, 2 * MIB));
	EXPECT_EQ(0, close(fr));
	ASSERT_TRUE(famfs_wait_count(&self->m1.st->ops[FUSE_RELEASE], 1, UNBIND_TIMEOUT_MS));

	ASSERT_EQ(0, pthread_create(&t, NULL, ctl_thread, &c));
	end = famfs_now_ms() + NOTIFY_MS;
	while (!__atomic_load_n(&c.done, __ATOMIC_ACQUIRE) && famfs_now_ms() < end)
		usleep(10000);
	EXPECT_TRUE(__atomic_load_n(&c.done, __ATOMIC_ACQUIRE))
		TH_LOG("the server's NOTIFY_PRUNE waited for the pipe");
	EXPECT_EQ((ssize_t)sizeof(got), read(p[0], got, sizeof(got)));
	EXPECT_EQ(sizeof(want), famfs_first_diff(got, want, sizeof(want)));
	EXPECT_EQ(0, close(p[0]));
	EXPECT_EQ(0, close(p[1]));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, c.rc);
	/* the file comes back, with its bytes */
	fr = famfs_open_rw(&self->m1, "r");
	ASSERT_GE(fr, 0);
	EXPECT_EQ((ssize_t)sizeof(got), pread(fr, got, sizeof(got), 0));
	EXPECT_EQ(sizeof(want), famfs_first_diff(got, want, sizeof(want)));
	EXPECT_EQ(0, close(fr));
}

TEST_HARNESS_MAIN
