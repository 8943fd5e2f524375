// SPDX-License-Identifier: GPL-2.0
/*
 * A CXL region destroyed under a mount, and made again. This is a device
 * event that only CXL memory has: the administrator takes the RAM region
 * away from the cxl_region driver (what `cxl disable-region` does), which
 * unregisters its dax_region and with it the dax device a famfs mount
 * holds; famfs_rs hears of it as a removal (notify_failure with
 * MF_MEM_PRE_REMOVE). Then the region is decommitted and deleted, and a
 * new region is made over the same device memory, whose dax device gets
 * the old one's name. What must hold:
 *
 * - the unbind completes with a file on the region mapped and faulted in
 *   (its second 2 MiB with MADV_NOHUGEPAGE, so by PTEs; the first may get
 *   a PMD, which the test does not check), and a GiB of another file
 *   mapped by one PUD (patches/dax/0012: the file on the region's first 1 GiB
 *   boundary of physical memory, mapped at a 1 GiB-aligned address);
 *   those mappings raise SIGBUS, read() and write() fail with ENXIO, a file
 *   on the region never opened fails to open with ENXIO, and a file on
 *   another device (an NVDIMM) keeps working;
 * - decommit and delete work with the mount still up;
 * - the new region's dax device, though it has the old name and is the
 *   same memory, is out of the first mount's reach: its files keep
 *   failing with ENXIO;
 * - a second mount takes the new device and finds the bytes written
 *   through the first mount before the removal (the new region is the
 *   same device memory), and the first mount's unmount leaves the second
 *   mount's holding alone.
 *
 * And the removal of the region, waiting for a page a pipe holds, holds
 * no lock the rest of the DAX bus needs.
 *
 * The region is /sys/bus/cxl/devices/region4, whose dax device is dax4.0
 * (tests/guest/setup-devices.sh, which also makes it again:
 * setup-devices.sh --cxl-ram). The files use device ranges no other test
 * uses.
 */
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define MIB (1024UL * 1024)
#define GIB (1024 * MIB)
#define REGION "region4"
#define DEV "dax4.0"
#define CXL "/sys/bus/cxl/devices"
#define SETUP "/famfs/setup-devices.sh"
#define EVENT_TIMEOUT_MS 60000
#define STEP_TIMEOUT_MS 30000

/* Wait up to ms for child pid; kill it if it does not exit. */
static int child_result(pid_t pid, int ms)
{
	int st = 0;

	if (famfs_wait_exit(pid, ms, &st)) {
		kill(pid, SIGKILL);
		famfs_wait_exit(pid, 1000, &st);
		return -ETIMEDOUT;
	}
	return WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : -EIO;
}

/* Write str to path in a child, so that a hang is a failure, not a hang. */
static int write_in_child(const char *path, const char *str, int ms)
{
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid)
		_exit(famfs_write_str(path, str) ? 1 : 0);
	return child_result(pid, ms);
}

/* The root decoder the region hangs from (its parent in sysfs). */
static int root_decoder(char *out, size_t size)
{
	char real[PATH_MAX], *slash;

	if (!realpath(CXL "/" REGION, real))
		return -errno;
	slash = strrchr(real, '/');
	if (!slash)
		return -EINVAL;
	*slash = 0;
	slash = strrchr(real, '/');
	if (!slash)
		return -EINVAL;
	snprintf(out, size, "%s", slash + 1);
	return 0;
}

/* setup-devices.sh --cxl-ram: the RAM region and dax4.0 on fsdev_dax again. */
static int make_region_again(void)
{
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		execl("/bin/sh", "sh", SETUP, "--cxl-ram", (char *)NULL);
		_exit(127);
	}
	return child_result(pid, EVENT_TIMEOUT_MS);
}

static bool region_there(void)
{
	struct stat st;

	return !stat(CXL "/" REGION, &st);
}

/*
 * Whatever state a failed case left the region in (unbound, decommitted,
 * deleted, half made again), make it what the tests that follow expect:
 * region4 committed, bound, its dax device dax4.0 on fsdev_dax.
 */
static int restore_region(const char *dec)
{
	char path[PATH_MAX], drv[64];
	unsigned long long commit = 0;
	struct stat st;

	famfs_dax_driver(DEV, drv, sizeof(drv));
	if (!strcmp(drv, "fsdev_dax"))
		return 0;
	if (region_there()) {
		if (!stat(CXL "/" REGION "/driver", &st))
			write_in_child("/sys/bus/cxl/drivers/cxl_region/unbind", REGION,
				       STEP_TIMEOUT_MS);
		if (!read_u64(CXL "/" REGION "/commit", &commit) && commit)
			write_in_child(CXL "/" REGION "/commit", "0", STEP_TIMEOUT_MS);
		snprintf(path, sizeof(path), CXL "/%s/delete_region", dec);
		write_in_child(path, REGION, STEP_TIMEOUT_MS);
		if (region_there())
			return -EBUSY;
	}
	if (make_region_again())
		return -EIO;
	famfs_dax_driver(DEV, drv, sizeof(drv));
	return strcmp(drv, "fsdev_dax") ? -ENODEV : 0;
}

FIXTURE(region) {
	struct famfs_mount m1, m2;
	char manifest[64];
	char dec[64];		/* the root decoder of the region */
	void *resv;		/* 2 GiB of address space for g's GiB */
};

FIXTURE_SETUP(region)
{
	char drv[64], buf[64];
	unsigned long long base, off;

	self->resv = MAP_FAILED;
	ASSERT_TRUE(module_loaded("famfs_rs"));
	ASSERT_TRUE(region_there());
	ASSERT_EQ(0, root_decoder(self->dec, sizeof(self->dec)));
	famfs_dax_driver(DEV, drv, sizeof(drv));
	ASSERT_STREQ("fsdev_dax", drv);
	snprintf(self->manifest, sizeof(self->manifest), "/tmp/cxl-region.manifest");
	/* g's GiB: from the region's first 1 GiB boundary, below r and s */
	ASSERT_LT(0, read_file("/sys/bus/dax/devices/" DEV "/resource", buf, sizeof(buf)));
	base = strtoull(buf, NULL, 0);
	off = (GIB - base % GIB) % GIB;
	ASSERT_LE(off + GIB, 1300 * MIB) TH_LOG(DEV " at %#llx", base);
	/* r, s and g on the CXL RAM region, k on the first NVDIMM */
	ASSERT_EQ(0, famfs_write_manifest(self->manifest,
					  "daxdev 0 /dev/" DEV "\ndaxdev 1 /dev/dax1.0\n"
					  "file r 4M simple 0:1300M:4M\n"
					  "file s 2M simple 0:1310M:2M\n"
					  "file k 2M simple 1:230M:2M\n"
					  "file g 1024M simple 0:%lluM:1024M\n", off / MIB));
	self->resv = mmap(NULL, 2 * GIB, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->resv);
	ASSERT_EQ(0, famfs_mount_start(&self->m1, self->manifest, NULL, true, NULL));
}

FIXTURE_TEARDOWN(region)
{
	if (self->resv != MAP_FAILED)
		munmap(self->resv, 2 * GIB);
	famfs_mount_stop(&self->m2, NULL);
	famfs_mount_stop(&self->m1, NULL);
	unlink(self->manifest);
	/* leave region4 and dax4.0 as the tests that follow expect them */
	EXPECT_EQ(0, restore_region(self->dec))
		TH_LOG("could not give %s and %s back", REGION, DEV);
}

/* at most about 5 minutes of waits: 60 s unbind and remake, 30 s steps */
TEST_F_TIMEOUT(region, removed_under_a_mapping_and_made_again, 400)
{
	unsigned char *r, *k, *g, b = 0;
	char path[PATH_MAX], drv[64];
	int fr, fk, fg, fd;
	struct stat st;
	long flt;

	fr = famfs_open_rw(&self->m1, "r");
	ASSERT_GE(fr, 0);
	fk = famfs_open_rw(&self->m1, "k");
	ASSERT_GE(fk, 0);
	r = mmap(NULL, 4 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED, fr, 0);
	ASSERT_NE(MAP_FAILED, r);
	k = mmap(NULL, 2 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED, fk, 0);
	ASSERT_NE(MAP_FAILED, k);
	/* the second 2 MiB by PTEs; the first as the kernel sees fit */
	ASSERT_EQ(0, madvise(r + 2 * MIB, 2 * MIB, MADV_NOHUGEPAGE));
	r[0] = 0xa1;
	r[2 * MIB + 5] = 0xa2;
	k[7] = 0xb1;
	fg = famfs_open_rw(&self->m1, "g");
	ASSERT_GE(fg, 0);
	g = (unsigned char *)(((uintptr_t)self->resv + GIB - 1) & ~(uintptr_t)(GIB - 1));
	ASSERT_EQ(g, mmap(g, GIB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fg, 0));
	flt = famfs_minflt();
	FAMFS_WRITE_ONCE(g[5 * MIB + 8], 0xc1);
	FAMFS_WRITE_ONCE(g[GIB - 9], 0xc2);
	ASSERT_EQ(1, famfs_minflt() - flt) TH_LOG("g's GiB is not one PUD mapping");

	/* the event: the region leaves its driver, its dax device goes */
	ASSERT_EQ(0, write_in_child("/sys/bus/cxl/drivers/cxl_region/unbind", REGION,
				    EVENT_TIMEOUT_MS));
	EXPECT_NE(0, stat("/sys/bus/dax/devices/" DEV, &st));

	/* r's mapping is gone: SIGBUS, not the bytes */
	EXPECT_EQ(-EFAULT, famfs_map_copy(&b, r, 1));
	EXPECT_EQ(-EFAULT, famfs_map_copy(&b, r + 2 * MIB + 5, 1));
	EXPECT_EQ(-EFAULT, famfs_map_copy(&b, g + 5 * MIB + 8, 1));
	EXPECT_EQ(-EFAULT, famfs_map_copy(&b, g + GIB - 9, 1));
	EXPECT_EQ(0, munmap(g, GIB));
	errno = 0;
	EXPECT_EQ(-1, pread(fr, &b, 1, 0));
	EXPECT_EQ(ENXIO, errno);
	errno = 0;
	EXPECT_EQ(-1, pwrite(fr, &b, 1, 4096));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-ENXIO, famfs_open_rw(&self->m1, "s"));
	/* the NVDIMM's file is untouched */
	EXPECT_EQ(0, famfs_map_copy(&b, k + 7, 1));
	EXPECT_EQ(0xb1, b);
	EXPECT_EQ(0, munmap(r, 4 * MIB));

	/* decommit and delete the region, the mount still up */
	ASSERT_EQ(0, write_in_child(CXL "/" REGION "/commit", "0", STEP_TIMEOUT_MS));
	snprintf(path, sizeof(path), CXL "/%s/delete_region", self->dec);
	ASSERT_EQ(0, write_in_child(path, REGION, STEP_TIMEOUT_MS));
	EXPECT_FALSE(region_there());

	/* the same memory, a new region, a dax device of the old name */
	ASSERT_EQ(0, make_region_again());
	ASSERT_TRUE(region_there());
	famfs_dax_driver(DEV, drv, sizeof(drv));
	ASSERT_STREQ("fsdev_dax", drv);

	/* which the first mount does not reach */
	errno = 0;
	EXPECT_EQ(-1, pread(fr, &b, 1, 0));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-ENXIO, famfs_open_rw(&self->m1, "s"));
	r = mmap(NULL, 4 * MIB, PROT_READ, MAP_SHARED, fr, 0);
	ASSERT_NE(MAP_FAILED, r);
	EXPECT_EQ(-EFAULT, famfs_map_copy(&b, r, 1));
	EXPECT_EQ(0, munmap(r, 4 * MIB));

	/* a second mount does, and finds the bytes written before */
	ASSERT_EQ(0, famfs_mount_start(&self->m2, self->manifest, NULL, true, NULL));
	fd = famfs_open_rw(&self->m2, "r");
	ASSERT_GE(fd, 0) TH_LOG("r on the second mount: %s", strerror(-fd));
	EXPECT_EQ(1, pread(fd, &b, 1, 0));
	EXPECT_EQ(0xa1, b);
	EXPECT_EQ(1, pread(fd, &b, 1, 2 * MIB + 5));
	EXPECT_EQ(0xa2, b);
	EXPECT_EQ(0, close(fd));
	fd = famfs_open_rw(&self->m2, "g");
	ASSERT_GE(fd, 0);
	EXPECT_EQ(1, pread(fd, &b, 1, 5 * MIB + 8));
	EXPECT_EQ(0xc1, b);
	EXPECT_EQ(1, pread(fd, &b, 1, GIB - 9));
	EXPECT_EQ(0xc2, b);
	EXPECT_EQ(0, close(fd));
	fd = famfs_open_rw(&self->m2, "r");
	ASSERT_GE(fd, 0);
	b = 0xd1;
	EXPECT_EQ(1, pwrite(fd, &b, 1, 0));

	/* the first mount goes; the second keeps its device */
	EXPECT_EQ(0, close(fg));
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

/* Put dax3.0 back on fsdev_dax after its nd device was unbound. */
static int give_back_dax3(const char *nd)
{
	int i;

	famfs_write_str("/sys/bus/nd/drivers/dax_pmem/bind", nd);
	for (i = 0; i < 100 && access("/sys/bus/dax/devices/dax3.0", F_OK); i++)
		usleep(50 * 1000);
	return famfs_fsdev_give_back("dax3.0");
}

/*
 * The removal of the region waits for a page of its file that a pipe
 * holds (the memory must not go under it), and waits without the DAX
 * bus's global dax_region_rwsem: meanwhile another region's dax device
 * (legacy pmem's dax3.0, its nd device unbound from dax_pmem) is
 * unregistered at once. The region's dev_dax used to be killed, and so
 * famfs_rs told, under that lock, which every other region's setup and
 * teardown and the dax bus attributes of dynamic regions take.
 */
TEST_F_TIMEOUT(region, a_removal_waiting_for_a_pipe_holds_no_dax_bus_lock, 300)
{
	unsigned char want[4096], got[4096];
	char real[PATH_MAX], nd[64];
	int fd, p[2];
	pid_t unbind;

	ASSERT_NE(NULL, realpath("/sys/bus/dax/devices/dax3.0", real));
	snprintf(nd, sizeof(nd), "%s", basename(dirname(real)));
	fd = famfs_open_rw(&self->m1, "s");
	ASSERT_LE(0, fd);
	famfs_pattern(want, sizeof(want), 0, 91);
	ASSERT_EQ(0, famfs_page_in_pipe(fd, want, sizeof(want), p));
	EXPECT_EQ(0, close(fd));

	/* the region goes, and its removal waits for the pipe's page */
	unbind = fork();
	ASSERT_LE(0, unbind);
	if (!unbind)
		_exit(famfs_write_str("/sys/bus/cxl/drivers/cxl_region/unbind", REGION) ? 1 : 0);
	EXPECT_NE(0, famfs_wait_exit(unbind, 3000, NULL))
		TH_LOG("the removal did not wait for the pipe's page");

	/* meanwhile, another region's dax device is unregistered at once */
	/* 20 s: the bug waited for the pipe, which closes after this check */
	EXPECT_EQ(0, write_in_child("/sys/bus/nd/drivers/dax_pmem/unbind", nd, 20000))
		TH_LOG("unregistering %s's dax3.0 waited for the removal", nd);

	/* the page read back, the pipe closed: the removal completes */
	EXPECT_EQ((ssize_t)sizeof(got), read(p[0], got, sizeof(got)));
	EXPECT_EQ(0, memcmp(want, got, sizeof(want)));
	close(p[0]);
	close(p[1]);
	EXPECT_EQ(0, child_result(unbind, EVENT_TIMEOUT_MS));
	EXPECT_EQ(0, give_back_dax3(nd));
}

TEST_HARNESS_MAIN
