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
#include <pthread.h>
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

/*
 * A write fault that finds the file's entry in place and dirty maps it
 * writable without locking it (dax_fault_stable()), and writeback locks the
 * entry with the invalidate_lock held exclusive to exclude such faults: a
 * fault either maps before writeback write-protects the page, or finds the
 * entry locked and marks it dirty again. Without that exclusion, fsync() on
 * another CPU could lock the entry just after the fault looked at it,
 * write-protect nothing (not mapped yet), clean it, and let the fault map it
 * writable: a clean entry behind a writable mapping, whose stores no later
 * fsync writes back. Seen from user space: a store after an fsync that began
 * after the fault took no fault. Each round here drops the mapping, stores
 * (a write fault, lockless when the entry is still dirty), waits for an
 * fsync that began after that fault, and checks that the next store faults.
 * With two threads calling fsync(), a writeback also finds the entry locked
 * by the other, waits for it without the invalidate_lock and takes that
 * lock afterwards, while the store's fault may wait for the entry too.
 */
struct fsync_loop {
	int fd;
	unsigned long started, done;	/* __atomic: fsync() calls begun, ended */
	int stop, err;			/* err: __atomic, the first errno */
};

static void *fsync_thread(void *arg)
{
	struct fsync_loop *l = arg;

	while (!__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE)) {
		__atomic_add_fetch(&l->started, 1, __ATOMIC_SEQ_CST);
		if (fsync(l->fd)) {
			int zero = 0;

			__atomic_compare_exchange_n(&l->err, &zero, errno, false,
						    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		}
		__atomic_add_fetch(&l->done, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

/* The minor faults this thread has taken so far. */
static long thread_minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_minflt;
}

#define RACE_ROUNDS 40000
#define RACE_MS 7000
#define RACE_FSYNC_THREADS 2

static void check_write_faults_race_fsync(struct __test_metadata *_metadata,
					  struct famfs_mount *m, size_t len, size_t blk,
					  int threads)
{
	struct fsync_loop l = { 0 };
	unsigned long s, rounds = 0, untracked = 0, first_bad = 0;
	long long t0 = famfs_now_ms();
	char path[PATH_MAX];
	unsigned char *p, *b;
	pthread_t t[RACE_FSYNC_THREADS];
	long f;
	int i;

	snprintf(path, sizeof(path), "%s/one", m->mnt);
	l.fd = open(path, O_RDWR);
	ASSERT_GE(l.fd, 0);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, l.fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	b = p + len - blk;	/* the block the rounds fault, blk bytes */
	if (blk > 4096)
		ASSERT_EQ(0UL, (uintptr_t)b % blk) TH_LOG("the block is not PMD-aligned");
	FAMFS_WRITE_ONCE(b[1], 1);	/* dirty the entry */
	for (i = 0; i < threads; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, fsync_thread, &l));

	while (rounds < RACE_ROUNDS && famfs_now_ms() - t0 < RACE_MS) {
		rounds++;
		ASSERT_EQ(0, madvise(b, blk, MADV_DONTNEED));
		f = thread_minflt();
		FAMFS_WRITE_ONCE(b[1], (unsigned char)rounds);
		EXPECT_LE(1, thread_minflt() - f);
		/* an fsync() that begins after the fault, to its end */
		s = __atomic_load_n(&l.started, __ATOMIC_SEQ_CST);
		while (__atomic_load_n(&l.done, __ATOMIC_SEQ_CST) < s + 1)
			sched_yield();
		f = thread_minflt();
		FAMFS_WRITE_ONCE(b[1], (unsigned char)~rounds);
		/* more than one if another fsync() cleaned it again meanwhile */
		if (thread_minflt() - f < 1 && !untracked++)
			first_bad = rounds;
	}
	__atomic_store_n(&l.stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < threads; i++)
		ASSERT_EQ(0, pthread_join(t[i], NULL));
	EXPECT_EQ(0, l.err);
	TH_LOG("%lu rounds, %lu fsync() calls, %lu stores without a fault after an fsync",
	       rounds, l.done, untracked);
	EXPECT_EQ(0UL, untracked)
		TH_LOG("first in round %lu: a clean entry behind a writable mapping", first_bad);
	EXPECT_LE(500UL, rounds);
	EXPECT_EQ(0, munmap(p, len));
	EXPECT_EQ(0, close(l.fd));
}

TEST_F(fs, write_faults_racing_fsync_stay_tracked_pte)
{
	check_write_faults_race_fsync(_metadata, &self->m, 4096, 4096, 1);
}

TEST_F(fs, write_faults_racing_fsync_stay_tracked_pmd)
{
	check_write_faults_race_fsync(_metadata, &self->m, 4 * MIB, 2 * MIB, 1);
}

TEST_F(fs, write_faults_racing_two_fsyncs_stay_tracked)
{
	check_write_faults_race_fsync(_metadata, &self->m, 4 * MIB, 2 * MIB,
				      RACE_FSYNC_THREADS);
}

TEST_HARNESS_MAIN
