// SPDX-License-Identifier: GPL-2.0
/*
 * The benchmark's iomap_begin timing (/sys/kernel/debug/famfs_rs): off, a
 * fault is not timed and costs the module nothing but a patched-out jump
 * (a static key); on, every iomap_begin call is counted; off again, the
 * count stops. The switch reads back what was written, and a written 0
 * resets the counters.
 */
#include <limits.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define DBG "/sys/kernel/debug/famfs_rs"
#define PAGES 64

static unsigned long long fault_sink;

/* The "calls N" line of iomap_stats, or ~0 if it cannot be read. */
static unsigned long long timed_calls(struct __test_metadata *_metadata)
{
	unsigned long long c = ~0ULL;
	char buf[128];
	int n;

	EXPECT_LT(0, read_file(DBG "/iomap_stats", buf, sizeof(buf)));
	n = sscanf(buf, "calls %llu", &c);
	EXPECT_EQ(1, n) TH_LOG("iomap_stats: %s", buf);
	return c;
}

/* Map the file afresh and fault PAGES pages of it in with loads. */
static void fault_pages(struct __test_metadata *_metadata, int fd)
{
	unsigned long long sink = 0;
	unsigned char *map;
	int i;

	map = mmap(NULL, PAGES * 4096, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, madvise(map, PAGES * 4096, MADV_NOHUGEPAGE));
	/* atomic loads: the compiler keeps every one, each faults a page */
	for (i = 0; i < PAGES; i++)
		sink += __atomic_load_n(&map[i * 4096], __ATOMIC_RELAXED);
	__atomic_store_n(&fault_sink, sink, __ATOMIC_RELAXED);
	ASSERT_EQ(0, munmap(map, PAGES * 4096));
}

TEST(timing_counts_only_while_on)
{
	char manifest[PATH_MAX], buf[16];
	struct famfs_mount m;
	int fd;

	ASSERT_TRUE(module_loaded("famfs_rs"));
	snprintf(manifest, sizeof(manifest), "%s/demo.manifest", famfs_manifests());
	ASSERT_EQ(0, famfs_mount_start(&m, manifest, NULL, true, NULL));
	fd = famfs_open_rw(&m, "on-cxl");
	ASSERT_GE(fd, 0);

	ASSERT_EQ(0, famfs_write_str(DBG "/iomap_timing", "0"));
	ASSERT_LT(0, read_file(DBG "/iomap_timing", buf, sizeof(buf)));
	EXPECT_EQ('0', buf[0]);
	ASSERT_EQ(0, famfs_write_str(DBG "/iomap_stats", "0"));
	EXPECT_EQ(0ULL, timed_calls(_metadata));
	fault_pages(_metadata, fd);
	EXPECT_EQ(0ULL, timed_calls(_metadata)) TH_LOG("faults were timed with the switch off");

	ASSERT_EQ(0, famfs_write_str(DBG "/iomap_timing", "1"));
	ASSERT_LT(0, read_file(DBG "/iomap_timing", buf, sizeof(buf)));
	EXPECT_EQ('1', buf[0]);
	fault_pages(_metadata, fd);
	EXPECT_LE((unsigned long long)PAGES, timed_calls(_metadata))
		TH_LOG("%d faults with the switch on", PAGES);

	ASSERT_EQ(0, famfs_write_str(DBG "/iomap_timing", "0"));
	ASSERT_EQ(0, famfs_write_str(DBG "/iomap_stats", "0"));
	fault_pages(_metadata, fd);
	EXPECT_EQ(0ULL, timed_calls(_metadata)) TH_LOG("timed again after the switch went off");

	close(fd);
	famfs_mount_stop(&m, NULL);
}

TEST_HARNESS_MAIN
