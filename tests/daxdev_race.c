// SPDX-License-Identifier: GPL-2.0
/*
 * Every device famfs_rs takes is published or released. Two GET_DAXDEV
 * requests for one index in flight at once (two first opens of two files
 * on it), answered with two different devices (the server's daxdev-race
 * directive): each fill takes its device as fs-dax holder, one publishes
 * it in the slot, and the other must release the one it took. It used to
 * keep it: held after the unmount and after the module was gone, so that
 * another mount got EBUSY for it, and unbinding it jumped into the
 * unloaded module's holder operations. Now the second mount takes both
 * devices, famfs_rs holds no device once the mounts are gone, and after
 * rmmod every device on fsdev_dax unbinds and binds again cleanly (the
 * VM run fails on any splat).
 *
 * The same race across a removal (found by the fuzzer): both requests in
 * flight, the first answered, the device unbound and bound again, then
 * the second answered with the same device (daxdev-race ... hold). The
 * removal released the holding the slot published and the rebind let
 * the second fill take the device again; it then lost the publication to
 * the same pointer and kept what it took, untracked: held_daxdevs stayed
 * one too high after the unmount (1 instead of 0), two references to the
 * device were never put, and rmmod warned "still held at unload".
 */
#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define MANIFEST "/tmp/daxdev-race.manifest"

struct opener {
	const struct famfs_mount *m;
	const char *name;
	int fd;
};

static void *open_thread(void *arg)
{
	struct opener *o = arg;

	o->fd = famfs_open_rw(o->m, o->name);
	return NULL;
}

static int rebind(const char *dev)
{
	if (famfs_write_str("/sys/bus/dax/drivers/fsdev_dax/unbind", dev))
		return -EIO;
	return famfs_fsdev_give_back(dev);
}

FIXTURE(race) {
	int unused;
};

FIXTURE_SETUP(race)
{
}

FIXTURE_TEARDOWN(race)
{
	unlink(MANIFEST);
	if (!module_loaded("famfs_rs"))
		load_module(FAMFS_MODULE_PATH);
}

TEST_F_TIMEOUT(race, racing_daxdev_replies_leave_no_device_held, 180)
{
	struct opener a = { .name = "a" }, b = { .name = "b" };
	char c, devs[8][NAME_MAX + 1];
	struct famfs_mount m;
	struct dirent *e;
	int kfd, fd, i, n = 0;
	long long held0;
	pthread_t t;
	DIR *d;

	ASSERT_TRUE(module_loaded("famfs_rs"));
	held0 = famfs_held_daxdevs();
	EXPECT_LE(0, held0);
	ASSERT_EQ(0, famfs_write_manifest(MANIFEST,
					  "daxdev 0 /dev/dax1.0\ndaxdev-race 0 /dev/dax2.0\n"
					  "file a 2M simple 0:300M:2M\n"
					  "file b 2M simple 0:302M:2M\n"));
	kfd = famfs_kmsg_open();
	ASSERT_GE(kfd, 0);
	ASSERT_EQ(0, famfs_mount_start(&m, MANIFEST, NULL, true, NULL));
	a.m = &m;
	b.m = &m;

	/* a's fill asks for index 0 and the server holds the request ... */
	ASSERT_EQ(0, pthread_create(&t, NULL, open_thread, &a));
	ASSERT_TRUE(famfs_wait_count(&m.st->daxdev[0], 1, 20000));
	/* ... until b's fill asks too: a gets dax1.0, b gets dax2.0 */
	open_thread(&b);
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(2ULL, famfs_load(&m.st->daxdev[0]));
	ASSERT_LE(0, a.fd) TH_LOG("open a: %s", strerror(-a.fd));
	ASSERT_LE(0, b.fd) TH_LOG("open b: %s", strerror(-b.fd));
	/* one device is the slot's, the other was released at once */
	EXPECT_EQ(held0 + 1, famfs_held_daxdevs());
	EXPECT_EQ(1, famfs_kmsg_count(kfd, "named twice with different devices"));
	/* both files work, on the device the slot kept */
	EXPECT_EQ(1, pwrite(a.fd, "a", 1, 0));
	EXPECT_EQ(1, pwrite(b.fd, "b", 1, 0));
	EXPECT_EQ(1, pread(a.fd, &c, 1, 0));
	EXPECT_EQ('a', c);
	EXPECT_EQ(1, pread(b.fd, &c, 1, 0));
	EXPECT_EQ('b', c);
	close(a.fd);
	close(b.fd);
	famfs_mount_stop(&m, NULL);
	EXPECT_EQ(held0, famfs_held_daxdevs());

	/* neither device is left held: another mount takes both */
	ASSERT_EQ(0, famfs_write_manifest(MANIFEST,
					  "daxdev 0 /dev/dax1.0\ndaxdev 1 /dev/dax2.0\n"
					  "file x 2M simple 0:300M:2M\n"
					  "file y 2M simple 1:300M:2M\n"));
	ASSERT_EQ(0, famfs_mount_start(&m, MANIFEST, NULL, true, NULL));
	fd = famfs_open_rw(&m, "x");
	EXPECT_LE(0, fd) TH_LOG("dax1.0: %s", strerror(-fd));
	if (fd >= 0)
		close(fd);
	fd = famfs_open_rw(&m, "y");
	EXPECT_LE(0, fd) TH_LOG("dax2.0: %s", strerror(-fd));
	if (fd >= 0)
		close(fd);
	EXPECT_EQ(held0 + 2, famfs_held_daxdevs());
	famfs_mount_stop(&m, NULL);
	EXPECT_EQ(held0, famfs_held_daxdevs());
	unlink(MANIFEST);

	/*
	 * With the module gone, every device on fsdev_dax (the NVDIMMs',
	 * legacy pmem's and both CXL regions') unbinds and binds again.
	 */
	ASSERT_EQ(0, unload_module("famfs_rs"));
	EXPECT_EQ(0, famfs_kmsg_count(kfd, "still held at unload"));
	d = opendir("/sys/bus/dax/drivers/fsdev_dax");
	ASSERT_NE(NULL, d);
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "dax", 3) && n < 8)
			snprintf(devs[n++], sizeof(devs[0]), "%s", e->d_name);
	closedir(d);
	EXPECT_LE(5, n);
	for (i = 0; i < n; i++)
		EXPECT_EQ(0, rebind(devs[i])) TH_LOG("%s", devs[i]);
	ASSERT_EQ(0, load_module(FAMFS_MODULE_PATH));
	close(kfd);
}

TEST_F_TIMEOUT(race, fill_across_a_removal_leaves_no_device_held, 180)
{
	struct opener a = { .name = "a" }, b = { .name = "b" };
	pthread_t ta, tb;
	struct famfs_mount m;
	long long held0;
	int fd;

	ASSERT_TRUE(module_loaded("famfs_rs"));
	held0 = famfs_held_daxdevs();
	EXPECT_LE(0, held0);
	ASSERT_EQ(0, famfs_write_manifest(MANIFEST,
					  "daxdev 0 /dev/dax1.0\ndaxdev-race 0 /dev/dax1.0 hold\n"
					  "file a 2M simple 0:304M:2M\n"
					  "file b 2M simple 0:306M:2M\n"));
	ASSERT_EQ(0, famfs_mount_start(&m, MANIFEST, NULL, true, NULL));
	a.m = &m;
	b.m = &m;

	/* both fills ask for index 0; a is answered once b has asked */
	ASSERT_EQ(0, pthread_create(&ta, NULL, open_thread, &a));
	ASSERT_TRUE(famfs_wait_count(&m.st->daxdev[0], 1, 20000));
	ASSERT_EQ(0, pthread_create(&tb, NULL, open_thread, &b));
	ASSERT_EQ(0, pthread_join(ta, NULL));
	ASSERT_LE(0, a.fd) TH_LOG("open a: %s", strerror(-a.fd));
	EXPECT_EQ(2ULL, famfs_load(&m.st->daxdev[0]));
	EXPECT_EQ(held0 + 1, famfs_held_daxdevs());

	/* the device goes and comes back while b's request waits */
	ASSERT_EQ(0, rebind("dax1.0"));
	ASSERT_EQ(0, famfs_ctl(&m, "release-race"));
	ASSERT_EQ(0, pthread_join(tb, NULL));
	/* b's slot was removed meanwhile */
	EXPECT_EQ(-ENXIO, b.fd);
	if (b.fd >= 0)
		close(b.fd);
	TH_LOG("held while mounted: %lld", famfs_held_daxdevs() - held0);
	close(a.fd);
	famfs_mount_stop(&m, NULL);
	EXPECT_EQ(held0, famfs_held_daxdevs());

	/* and the device is free for another mount */
	ASSERT_EQ(0, famfs_write_manifest(MANIFEST, "daxdev 0 /dev/dax1.0\n"
					  "file x 2M simple 0:304M:2M\n"));
	ASSERT_EQ(0, famfs_mount_start(&m, MANIFEST, NULL, true, NULL));
	fd = famfs_open_rw(&m, "x");
	EXPECT_LE(0, fd) TH_LOG("dax1.0: %s", strerror(-fd));
	if (fd >= 0)
		close(fd);
	famfs_mount_stop(&m, NULL);
	EXPECT_EQ(held0, famfs_held_daxdevs());
}

TEST_HARNESS_MAIN
