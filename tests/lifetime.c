// SPDX-License-Identifier: GPL-2.0
/*
 * Module lifetime: famfs_rs loads and unloads 100 times, each time with a
 * mount that negotiates FUSE_DAX_FMAP, takes both daxdevs and maps a file
 * in between; while that mount exists rmmod is refused, after it is gone
 * rmmod works. On the debug kernel the runner's kmemleak scan after the
 * suite then shows whether the cycles leaked.
 */
#include <limits.h>
#include <linux/fuse.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define CYCLES 100

/* A fixture only for its timeout: 100 cycles take ~30 s under TCG. */
FIXTURE(life) {
	int unused;
};

FIXTURE_SETUP(life)
{
	self->unused = 0;
}

FIXTURE_TEARDOWN(life)
{
}

TEST_F_TIMEOUT(life, load_unload_100_times_with_mounts, 300)
{
	char manifest[PATH_MAX], path[PATH_MAX];
	struct famfs_mount m;
	unsigned char *map;
	int i, fd;

	snprintf(manifest, sizeof(manifest), "%s/demo.manifest", famfs_manifests());
	for (i = 0; i < CYCLES; i++) {
		if (module_loaded("famfs_rs"))
			ASSERT_EQ(0, unload_module("famfs_rs")) TH_LOG("cycle %d", i);
		ASSERT_EQ(0, load_module(FAMFS_MODULE_PATH)) TH_LOG("cycle %d", i);
		ASSERT_EQ(0, famfs_mount_start(&m, manifest, NULL, true, NULL));
		ASSERT_NE(0ULL, famfs_load(&m.st->init_flags_in) &
			  famfs_load(&m.st->init_flags_out) & FAMFS_INIT_DAX_FMAP);
		/* a file striped over both daxdevs, mapped and touched */
		snprintf(path, sizeof(path), "%s/striped", m.mnt);
		fd = open(path, O_RDWR);
		ASSERT_GE(fd, 0) TH_LOG("cycle %d: %s", i, strerror(errno));
		map = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		ASSERT_NE(MAP_FAILED, map);
		map[i] = (unsigned char)i;
		map[(2 << 20) + i] = (unsigned char)i;
		ASSERT_EQ(0, munmap(map, 4 << 20));
		ASSERT_EQ(0, close(fd));
		/* in use: refused */
		ASSERT_EQ(-EAGAIN, unload_module("famfs_rs")) TH_LOG("cycle %d", i);
		famfs_mount_stop(&m, NULL);
	}
	/* the last mount is gone: the module may go, and comes back */
	ASSERT_EQ(0, unload_module("famfs_rs"));
	ASSERT_EQ(0, load_module(FAMFS_MODULE_PATH));
}

TEST_HARNESS_MAIN
