// SPDX-License-Identifier: GPL-2.0
/*
 * Populating a mapping of a file whose pages cannot be read ends. The
 * fuzzer (Documentation/fuzz.rst) found mmap(MAP_POPULATE) of a plain
 * fuse file spinning in the kernel for ever once the connection was
 * aborted: filemap_fault() drops mmap_lock to read the page, the read
 * fails, and a fault that dropped the lock returns VM_FAULT_RETRY rather
 * than VM_FAULT_SIGBUS; __mm_populate() saw no progress and faulted the
 * same page again, first attempt every time. Patch dax/0006 retries such a
 * page once more with FOLL_TRIED, as __get_user_pages_locked() does; the
 * second attempt keeps the lock, so it fails the page and populating
 * moves on.
 *
 * The file here is on a plain fuse mount (--no-fmap) whose server answers
 * every READ with EIO; no daxdev is ever opened. Each case runs in a child
 * and must end within QUICK_MS. On the kernel before dax/0006 the children of
 * the first three cases were still in the kernel, all system time, when
 * the test killed them. The second fixture's server answers READ with the
 * file's bytes (read-data): there populating still maps every page, the
 * first fault of each readahead window now being retried with FOLL_TRIED.
 */
#include <limits.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define MIB (1024UL * 1024)
#define QUICK_MS 20000		/* under TCG and the debug kernel */

FIXTURE(pe) {
	struct famfs_mount plain;
	int fd;
};

FIXTURE_SETUP(pe)
{
	const char *const no_fmap[] = { "--no-fmap", NULL };
	char path[PATH_MAX];

	self->fd = -1;
	ASSERT_EQ(0, famfs_write_manifest("/tmp/pe.manifest",
					  "daxdev 0 /dev/dax2.0\nfile p 2M simple 0:370M:2M\n"));
	ASSERT_EQ(0, famfs_mount_start(&self->plain, "/tmp/pe.manifest", no_fmap, true, NULL));
	snprintf(path, sizeof(path), "%s/p", self->plain.mnt);
	self->fd = open(path, O_RDONLY);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(pe)
{
	if (self->fd >= 0)
		close(self->fd);
	famfs_mount_stop(&self->plain, NULL);
	unlink("/tmp/pe.manifest");
}

/* user and system ticks of @pid so far, or -1 */
static long long cpu_ticks(pid_t pid)
{
	unsigned long long ut, st;
	char path[64], buf[1024], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	p = strrchr(buf, ')');
	/* after "pid (comm)": state, then fields 4..13, then utime, stime */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &ut, &st) != 2)
		return -1;
	return ut + st;
}

/*
 * Run @op (fd) in a child; it must exit 0 within QUICK_MS. A child still
 * running is described (CPU time over a second: a livelock spins, a wait
 * does not), then killed: both populate loops check for fatal signals.
 */
static void bounded(struct __test_metadata *_metadata, int fd, int (*op)(int fd),
		    const char *what)
{
	long long t0 = famfs_now_ms(), c0, c1;
	pid_t pid;
	int st = 0;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(op(fd));
	if (famfs_wait_exit(pid, QUICK_MS, &st)) {
		c0 = cpu_ticks(pid);
		sleep(1);
		c1 = cpu_ticks(pid);
		kill(pid, SIGKILL);
		EXPECT_EQ(0, famfs_wait_exit(pid, QUICK_MS, &st))
			TH_LOG("%s: not even SIGKILL ended it", what);
		ASSERT_TRUE(false)
			TH_LOG("%s still running after %d s (%lld CPU ticks in the last second)",
			       what, QUICK_MS / 1000, c1 - c0);
	}
	TH_LOG("%s: %lld ms", what, famfs_now_ms() - t0);
	ASSERT_TRUE(WIFEXITED(st)) TH_LOG("%s: signal %d", what, WTERMSIG(st));
	EXPECT_EQ(0, WEXITSTATUS(st)) TH_LOG("%s: step %d failed", what, WEXITSTATUS(st));
}

/* The mapping exists; its first page is unreadable: SIGBUS. 0 or a step. */
static int check_mapping(unsigned char *map, int step)
{
	unsigned char c;

	if (map == MAP_FAILED)
		return step;
	if (famfs_map_copy(&c, map, 1) != -EFAULT)
		return step + 1;
	return munmap(map, 2 * MIB) ? step + 2 : 0;
}

static int populate_shared(int fd)
{
	return check_mapping(mmap(NULL, 2 * MIB, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0),
			     10);
}

/* a writable private mapping populates with write faults (COW) */
static int populate_private(int fd)
{
	return check_mapping(mmap(NULL, 2 * MIB, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_POPULATE, fd, 0), 20);
}

/* mlock() does not ignore the failure: ENOMEM (from EFAULT) */
static int lock_range(int fd)
{
	unsigned char *map = mmap(NULL, 2 * MIB, PROT_READ, MAP_SHARED, fd, 0);

	if (map == MAP_FAILED)
		return 30;
	if (!mlock(map, 2 * MIB) || errno != ENOMEM)
		return 31;
	return check_mapping(map, 32);
}

/*
 * MADV_POPULATE_READ goes through __get_user_pages_locked(), which already
 * retried with FOLL_TRIED: EFAULT, before dax/0006 as after. The control: the
 * same answer the other paths now give.
 */
static int madvise_populate(int fd)
{
	unsigned char *map = mmap(NULL, 2 * MIB, PROT_READ, MAP_SHARED, fd, 0);

	if (map == MAP_FAILED)
		return 40;
	if (!madvise(map, 2 * MIB, MADV_POPULATE_READ) || errno != EFAULT)
		return 41;
	return check_mapping(map, 42);
}

TEST_F(pe, map_populate_shared)
{
	bounded(_metadata, self->fd, populate_shared, "mmap(MAP_SHARED | MAP_POPULATE)");
	/* it did try to read the file */
	EXPECT_LE(1ULL, famfs_load(&self->plain.st->ops[FUSE_READ]));
}

TEST_F(pe, map_populate_private_writable)
{
	bounded(_metadata, self->fd, populate_private, "mmap(MAP_PRIVATE | MAP_POPULATE)");
	EXPECT_LE(1ULL, famfs_load(&self->plain.st->ops[FUSE_READ]));
}

TEST_F(pe, mlock)
{
	bounded(_metadata, self->fd, lock_range, "mlock()");
	EXPECT_LE(1ULL, famfs_load(&self->plain.st->ops[FUSE_READ]));
}

TEST_F(pe, madvise_populate_read)
{
	bounded(_metadata, self->fd, madvise_populate, "madvise(MADV_POPULATE_READ)");
	EXPECT_LE(1ULL, famfs_load(&self->plain.st->ops[FUSE_READ]));
}

FIXTURE(readable) {
	struct famfs_mount plain;
	int fd;
};

FIXTURE_SETUP(readable)
{
	const char *const no_fmap[] = { "--no-fmap", NULL };
	char path[PATH_MAX];

	self->fd = -1;
	ASSERT_EQ(0, famfs_write_manifest("/tmp/pe-ok.manifest",
					  "read-data\ndaxdev 0 /dev/dax2.0\n"
					  "file r 2M simple 0:370M:2M\n"));
	ASSERT_EQ(0, famfs_mount_start(&self->plain, "/tmp/pe-ok.manifest", no_fmap, true,
				       NULL));
	snprintf(path, sizeof(path), "%s/r", self->plain.mnt);
	self->fd = open(path, O_RDONLY);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(readable)
{
	if (self->fd >= 0)
		close(self->fd);
	famfs_mount_stop(&self->plain, NULL);
	unlink("/tmp/pe-ok.manifest");
}

/* Pages of [map, map + len) with a page table entry (pagemap bit 63). */
static size_t mapped_pages(const unsigned char *map, size_t len)
{
	size_t i, n = 0, pages = len / 4096;
	int fd = open("/proc/self/pagemap", O_RDONLY);
	__u64 e;

	if (fd < 0)
		return 0;
	for (i = 0; i < pages; i++)
		if (pread(fd, &e, sizeof(e), ((unsigned long)map / 4096 + i) * sizeof(e)) ==
		    sizeof(e) && (e >> 63))
			n++;
	close(fd);
	return n;
}

/*
 * Every page mapped and holding the file's bytes, with no READ on touching
 * it (@reads: the server's READs so far). 0 or a step.
 */
static int check_populated(unsigned char *map, const __u64 *reads, int step)
{
	unsigned char *want = malloc(2 * MIB);
	size_t i;
	__u64 n;
	int rc = 0;

	if (map == MAP_FAILED || !want)
		return step;
	if (mapped_pages(map, 2 * MIB) != 2 * MIB / 4096)
		rc = step + 1;
	n = famfs_load(reads);
	for (i = 0; !rc && i < 2 * MIB; i++)
		want[i] = FAMFS_STORE_BYTE(i);
	if (!rc && memcmp(map, want, 2 * MIB))
		rc = step + 2;
	if (!rc && famfs_load(reads) != n)
		rc = step + 3;
	free(want);
	munmap(map, 2 * MIB);
	return rc;
}

static const __u64 *readable_reads;

static int populate_readable(int fd)
{
	return check_populated(mmap(NULL, 2 * MIB, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0),
			       readable_reads, 50);
}

static int populate_readable_private(int fd)
{
	return check_populated(mmap(NULL, 2 * MIB, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_POPULATE, fd, 0), readable_reads, 60);
}

static int lock_readable(int fd)
{
	unsigned char *map = mmap(NULL, 2 * MIB, PROT_READ, MAP_SHARED, fd, 0);

	if (map == MAP_FAILED)
		return 70;
	if (mlock(map, 2 * MIB))
		return 71;
	return check_populated(map, readable_reads, 72);
}

TEST_F(readable, map_populate_shared)
{
	readable_reads = &self->plain.st->ops[FUSE_READ];
	bounded(_metadata, self->fd, populate_readable, "mmap(MAP_SHARED | MAP_POPULATE)");
	EXPECT_LE(1ULL, famfs_load(readable_reads));
}

TEST_F(readable, map_populate_private_writable)
{
	readable_reads = &self->plain.st->ops[FUSE_READ];
	bounded(_metadata, self->fd, populate_readable_private,
		"mmap(MAP_PRIVATE | MAP_POPULATE)");
	EXPECT_LE(1ULL, famfs_load(readable_reads));
}

TEST_F(readable, mlock)
{
	readable_reads = &self->plain.st->ops[FUSE_READ];
	bounded(_metadata, self->fd, lock_readable, "mlock()");
	EXPECT_LE(1ULL, famfs_load(readable_reads));
}

TEST_HARNESS_MAIN
