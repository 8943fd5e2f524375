// SPDX-License-Identifier: GPL-2.0
/*
 * fsync and msync on fmap files (the hardening issue, class J). A store
 * through a MAP_SHARED mapping dirties the file's DAX entry; fsync(),
 * fdatasync() and msync(MS_SYNC) must write it back
 * (dax_writeback_mapping_range(), through the fmap address space's
 * writepages), which write-protects the page again, so the next store
 * takes a write fault: that fault, counted in ru_minflt, is what shows
 * from user space that the entry was cleaned. Without writeback, the
 * entry stays dirty and writable, and the next store takes no fault.
 * Checked for a PTE-mapped page, a PMD-mapped 2 MiB page, and a file
 * striped over two devices (one writepages pass over entries of both).
 */
#include <limits.h>
#include <sys/mman.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define MIB (1024UL * 1024)

/* The minor faults one store to *p costs. */
static long store_faults(unsigned char *p, unsigned char v)
{
	long before = famfs_minflt();

	FAMFS_WRITE_ONCE(*p, v);
	return famfs_minflt() - before;
}

enum sync_how { SYNC_FSYNC, SYNC_FDATASYNC, SYNC_MSYNC };

static int do_sync(int fd, void *map, size_t len, enum sync_how how)
{
	switch (how) {
	case SYNC_FSYNC:
		return fsync(fd);
	case SYNC_FDATASYNC:
		return fdatasync(fd);
	default:
		return msync(map, len, MS_SYNC);
	}
}

FIXTURE(fs) {
	struct famfs_mount m;
	char manifest[64];
};

FIXTURE_SETUP(fs)
{
	FILE *f;

	ASSERT_TRUE(module_loaded("famfs_rs"));
	snprintf(self->manifest, sizeof(self->manifest), "/tmp/fsync.manifest");
	f = fopen(self->manifest, "w");
	ASSERT_NE(NULL, f);
	fprintf(f, "daxdev 0 /dev/dax1.0\ndaxdev 1 /dev/dax2.0\n"
		   "file one 4M simple 0:160M:4M\n"
		   "file two 8M interleave 2M 8M 0:168M:4M 1:168M:4M\n");
	ASSERT_EQ(0, fclose(f));
	ASSERT_EQ(0, famfs_mount_start(&self->m, self->manifest, NULL, true, NULL));
}

FIXTURE_TEARDOWN(fs)
{
	famfs_mount_stop(&self->m, NULL);
	unlink(self->manifest);
}

/*
 * Map LEN bytes of NAME at offset 0, store at OFF, sync, store again: the
 * second store must fault. Also checks the stores in between are free and
 * that the bytes are what read() sees.
 */
static void check_sync_cleans(struct __test_metadata *_metadata, struct famfs_mount *m,
			      const char *name, size_t len, size_t off, enum sync_how how)
{
	char path[PATH_MAX];
	unsigned char *p, b = 0;
	long f;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", m->mnt, name);
	fd = open(path, O_RDWR);
	ASSERT_GE(fd, 0);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);

	/* first store: a write fault maps the page writable and dirty */
	f = store_faults(p + off, 0x11);
	EXPECT_GE(f, 1);
	/* dirty and writable: free */
	EXPECT_EQ(0, store_faults(p + off, 0x22));
	EXPECT_EQ(0, store_faults(p + off, 0x33));

	ASSERT_EQ(0, do_sync(fd, p, len, how));
	/* cleaned and write-protected: the next store faults again */
	f = store_faults(p + off, 0x44);
	EXPECT_EQ(1, f) TH_LOG("%s: store after sync took %ld faults (0: not written back)",
			       name, f);
	/* and is free once more */
	EXPECT_EQ(0, store_faults(p + off, 0x55));
	/* a second round works the same */
	ASSERT_EQ(0, do_sync(fd, p, len, how));
	EXPECT_EQ(1, store_faults(p + off, 0x66));

	ASSERT_EQ(1, pread(fd, &b, 1, off));
	EXPECT_EQ(0x66, b);
	EXPECT_EQ(0, munmap(p, len));
	EXPECT_EQ(0, close(fd));
}

TEST_F(fs, fsync_cleans_a_pte_mapped_page)
{
	/* a 4 KiB mapping can only be PTE-mapped */
	check_sync_cleans(_metadata, &self->m, "one", 4096, 100, SYNC_FSYNC);
}

TEST_F(fs, fdatasync_cleans_a_pte_mapped_page)
{
	check_sync_cleans(_metadata, &self->m, "one", 4096, 200, SYNC_FDATASYNC);
}

TEST_F(fs, msync_cleans_a_pte_mapped_page)
{
	check_sync_cleans(_metadata, &self->m, "one", 4096, 300, SYNC_MSYNC);
}

TEST_F(fs, fsync_cleans_a_pmd_mapped_page)
{
	/* the whole file, 2 MiB aligned: PMD faults */
	check_sync_cleans(_metadata, &self->m, "one", 4 * MIB, 2 * MIB + 4096, SYNC_FSYNC);
}

TEST_F(fs, fsync_cleans_pages_on_both_devices_of_a_striped_file)
{
	char path[PATH_MAX];
	unsigned char *p;
	int fd;

	/* chunk 0 is on dev 0, chunk 1 on dev 1 */
	snprintf(path, sizeof(path), "%s/two", self->m.mnt);
	fd = open(path, O_RDWR);
	ASSERT_GE(fd, 0);
	p = mmap(NULL, 8 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_GE(store_faults(p + 10, 1), 1);
	EXPECT_GE(store_faults(p + 2 * MIB + 10, 1), 1);
	EXPECT_EQ(0, store_faults(p + 10, 2));
	EXPECT_EQ(0, store_faults(p + 2 * MIB + 10, 2));
	ASSERT_EQ(0, fsync(fd));
	EXPECT_EQ(1, store_faults(p + 10, 3));
	EXPECT_EQ(1, store_faults(p + 2 * MIB + 10, 3));
	EXPECT_EQ(0, munmap(p, 8 * MIB));
	EXPECT_EQ(0, close(fd));
}

TEST_HARNESS_MAIN
