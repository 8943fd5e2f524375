// SPDX-License-Identifier: GPL-2.0
/*
 * PUD faults (patches/dax/0012): a famfs file whose extent starts on a 1 GiB
 * boundary of physical memory, mapped shared at a 1 GiB-aligned address,
 * maps its GiB in one fault, and maps its own memory: what the read/write
 * path (pread, pwrite) puts in and finds in the file, the map finds and
 * puts there, at offsets spread over the GiB. Anything else falls back and
 * still maps right, to the page frame where the daxdev's base, the
 * extent's offset and the page's say it must be (/proc/self/pagemap):
 * a misaligned address or device offset takes PMDs (one fault per 2 MiB),
 * a mapping that cannot take a PUD beside an existing PUD entry takes PTEs
 * of it, a private write copies one page. A write to a PUD mapping dirties
 * the entry, and fsync's writeback removes the mapping (fs-dax cannot
 * write-protect a PUD leaf by rmap), so the next access faults the GiB
 * in again, once. (pagemap cannot show a PUD's frames: its page walk
 * splits, that is unmaps, a PUD leaf of a file mapping.)
 *
 * Two variants: legacy pmem (dax3.0, 2046 MiB from 4 GiB + 2 MiB) and the
 * CXL RAM region's daxdev (dax4.0, 2048 MiB): the file g sits at the
 * first 1 GiB boundary of the device's physical range, file h 2 MiB
 * before it. The guest CPU needs 1 GiB pages (pdpe1gb, scripts/vm.sh).
 */
#include <limits.h>
#include <linux/fuse.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define MIB BIT_ULL(20)
#define GIB BIT_ULL(30)
#define PAGE 4096ULL
#define SAMPLES 64

FIXTURE(pud) {
	struct famfs_mount m;
	char manifest[64];
	unsigned long long pfn_g;	/* the pfn file g's first byte lives at */
	int fd;
	void *resv;			/* PROT_NONE reservation the maps go in */
};

FIXTURE_VARIANT(pud) {
	const char *dev;
};

FIXTURE_VARIANT_ADD(pud, pmem) {
	.dev = "dax3.0",
};

FIXTURE_VARIANT_ADD(pud, cxl) {
	.dev = "dax4.0",
};

static bool cpu_has_gbpages(void)
{
	char buf[8192];

	if (read_file("/proc/cpuinfo", buf, sizeof(buf)) < 0)
		return false;
	return !!strstr(buf, " pdpe1gb");
}

static int dax_attr(const char *dev, const char *attr, unsigned long long *v)
{
	char path[PATH_MAX], buf[64];

	snprintf(path, sizeof(path), "/sys/bus/dax/devices/%s/%s", dev, attr);
	if (read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	errno = 0;
	*v = strtoull(buf, NULL, 0);
	return errno ? -1 : 0;
}

FIXTURE_SETUP(pud)
{
	unsigned long long base = 0, size = 0, off;

	self->fd = -1;
	self->resv = MAP_FAILED;
	ASSERT_TRUE(module_loaded("famfs_rs"));
	ASSERT_TRUE(cpu_has_gbpages()) TH_LOG("the guest CPU has no pdpe1gb");
	ASSERT_EQ(0, dax_attr(variant->dev, "resource", &base));
	ASSERT_EQ(0, dax_attr(variant->dev, "size", &size));
	off = (GIB - base % GIB) % GIB;
	/* h starts 2 MiB before g; s's second half lies below or beyond its first */
	ASSERT_GE(off, 2 * MIB) TH_LOG("%s at %#llx", variant->dev, base);
	ASSERT_LE(off + GIB, size) TH_LOG("%s: %llu bytes at %#llx", variant->dev, size, base);
	ASSERT_TRUE(off >= 514 * MIB || off + 1026 * MIB <= size)
		TH_LOG("%s: %llu bytes at %#llx", variant->dev, size, base);
	self->pfn_g = (base + off) / PAGE;

	snprintf(self->manifest, sizeof(self->manifest), "/tmp/pud.%d", getpid());
	ASSERT_EQ(0, famfs_write_manifest(self->manifest,
					  "daxdev 0 /dev/%s\n"
					  "file g 1024M simple 0:%lluM:1024M\n"
					  "file h 1024M simple 0:%lluM:1024M\n"
					  "file s 1024M simple 0:%lluM:512M 0:%lluM:512M\n",
					  variant->dev, off / MIB, off / MIB - 2, off / MIB,
					  off >= 514 * MIB ? 0 : off / MIB + 514));
	ASSERT_EQ(0, famfs_mount_start(&self->m, self->manifest, NULL, true, NULL));
	/* room for a GiB at a 1 GiB boundary, and one 2 MiB past it */
	self->resv = mmap(NULL, 3 * GIB, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->resv);
}

FIXTURE_TEARDOWN(pud)
{
	if (self->resv != MAP_FAILED)
		munmap(self->resv, 3 * GIB);
	if (self->fd >= 0)
		close(self->fd);
	famfs_mount_stop(&self->m, NULL);
	unlink(self->manifest);
}

/* Map 1 GiB of fd at a 1 GiB boundary of the reservation resv, plus shift. */
static unsigned char *map_at(void *resv, int fd, unsigned long long shift, int flags)
{
	uintptr_t a = ((uintptr_t)resv + GIB - 1) & ~(uintptr_t)(GIB - 1);
	void *p = mmap((void *)(a + shift), GIB, PROT_READ | PROT_WRITE,
		       flags | MAP_FIXED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Read one word of every page of [p, p + len): the faults it took. */
static long read_faults(const unsigned char *p, unsigned long long len)
{
	long before = famfs_minflt();
	unsigned long long o, sum = 0;

	for (o = 0; o < len; o += PAGE)
		sum += FAMFS_READ_ONCE(*(const unsigned long long *)(p + o));
	__asm__ volatile("" : : "r"(sum));
	return famfs_minflt() - before;
}

/* The file offset of sample i: spread over the GiB, not page-aligned. */
static unsigned long long sample_off(int i)
{
	unsigned long long stride = GIB / SAMPLES;

	return (unsigned long long)i * stride + (unsigned long long)i * 4104 % stride;
}

static unsigned long long word(int i, unsigned int seed)
{
	return 0x5055440000000000ULL ^ ((unsigned long long)seed << 32) ^ sample_off(i);
}

/* pwrite the samples through the file (the read/write path, not a map). */
static int put_samples(int fd, unsigned int seed)
{
	int i;

	for (i = 0; i < SAMPLES; i++) {
		unsigned long long w = word(i, seed);

		if (pwrite(fd, &w, 8, sample_off(i) & ~7ULL) != 8)
			return -1;
	}
	return 0;
}

/*
 * Every sample reads seed's word through the map, and unless @pfn0 is 0
 * the pfn under it is pfn0 plus its page: 0, or the first sample that is
 * wrong (1-based). (A pfn check unmaps a PUD: see the top.)
 */
static int check_map(const unsigned char *p, unsigned long long pfn0, unsigned int seed)
{
	int i;

	for (i = 0; i < SAMPLES; i++) {
		unsigned long long o = sample_off(i) & ~7ULL;

		if (FAMFS_READ_ONCE(*(const unsigned long long *)(p + o)) != word(i, seed))
			return i + 1;
		if (pfn0 && famfs_pfn_of(p + o) != pfn0 + o / PAGE)
			return i + 1;
	}
	if (pfn0 && famfs_pfn_of(p + GIB - PAGE) != pfn0 + GIB / PAGE - 1)
		return SAMPLES + 1;
	return 0;
}

/* Store seed's words through the map; 0, or the first sample pread does not find. */
static int store_and_pread(int fd, unsigned char *p, unsigned int seed)
{
	unsigned long long w;
	int i;

	for (i = 0; i < SAMPLES; i++)
		FAMFS_WRITE_ONCE(*(unsigned long long *)(p + (sample_off(i) & ~7ULL)),
				 word(i, seed));
	for (i = 0; i < SAMPLES; i++)
		if (pread(fd, &w, 8, sample_off(i) & ~7ULL) != 8 || w != word(i, seed))
			return i + 1;
	return 0;
}

TEST_F(pud, one_fault_maps_the_gib_it_owns)
{
	unsigned char *p;

	self->fd = famfs_open_rw(&self->m, "g");
	ASSERT_GE(self->fd, 0);
	ASSERT_EQ(0, put_samples(self->fd, 1));
	p = map_at(self->resv, self->fd, 0, MAP_SHARED);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(1, read_faults(p, GIB));
	EXPECT_EQ(0, check_map(p, 0, 1));
	EXPECT_EQ(0, store_and_pread(self->fd, p, 11));
	/* again: nothing to fault */
	EXPECT_EQ(0, read_faults(p, GIB));
}

TEST_F(pud, write_dirties_the_gib_and_fsync_cleans_it)
{
	unsigned long long w = 0, o = sample_off(7) & ~7ULL;
	unsigned char *p;
	long before;
	int i;

	self->fd = famfs_open_rw(&self->m, "g");
	ASSERT_GE(self->fd, 0);
	ASSERT_EQ(0, put_samples(self->fd, 2));
	p = map_at(self->resv, self->fd, 0, MAP_SHARED);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(1, read_faults(p, GIB));

	/* the first store makes the read-only PUD writable: one fault */
	before = famfs_minflt();
	FAMFS_WRITE_ONCE(*(unsigned long long *)(p + o), word(7, 3));
	EXPECT_EQ(1, famfs_minflt() - before);
	before = famfs_minflt();
	for (i = 0; i < SAMPLES; i++)
		FAMFS_WRITE_ONCE(*(unsigned long long *)(p + (sample_off(i) & ~7ULL)),
				 word(i, 3));
	EXPECT_EQ(0, famfs_minflt() - before);
	ASSERT_EQ(8, pread(self->fd, &w, 8, o));
	EXPECT_EQ(word(7, 3), w);

	/* writeback removes the dirty PUD: one fault maps it again, read-only */
	ASSERT_EQ(0, fsync(self->fd));
	EXPECT_EQ(1, read_faults(p, GIB));
	EXPECT_EQ(0, check_map(p, 0, 3));
	before = famfs_minflt();
	FAMFS_WRITE_ONCE(*(unsigned long long *)(p + o), word(7, 4));
	EXPECT_EQ(1, famfs_minflt() - before);
	/* a clean file: fsync leaves the mapping alone */
	ASSERT_EQ(0, fsync(self->fd));
	EXPECT_EQ(1, read_faults(p, GIB));
	ASSERT_EQ(0, fsync(self->fd));
	EXPECT_EQ(0, read_faults(p, GIB));
}

TEST_F(pud, misaligned_address_takes_pmds)
{
	unsigned char *p;

	self->fd = famfs_open_rw(&self->m, "g");
	ASSERT_GE(self->fd, 0);
	ASSERT_EQ(0, put_samples(self->fd, 5));
	p = map_at(self->resv, self->fd, 2 * MIB, MAP_SHARED);
	ASSERT_NE(NULL, p);
	EXPECT_EQ((long)(GIB / (2 * MIB)), read_faults(p, GIB));
	EXPECT_EQ(0, check_map(p, self->pfn_g, 5));
}

TEST_F(pud, misaligned_device_offset_takes_pmds)
{
	unsigned char *p;

	self->fd = famfs_open_rw(&self->m, "h");
	ASSERT_GE(self->fd, 0);
	ASSERT_EQ(0, put_samples(self->fd, 6));
	p = map_at(self->resv, self->fd, 0, MAP_SHARED);
	ASSERT_NE(NULL, p);
	EXPECT_EQ((long)(GIB / (2 * MIB)), read_faults(p, GIB));
	EXPECT_EQ(0, check_map(p, self->pfn_g - 2 * MIB / PAGE, 6));
}

/*
 * A PUD entry in place: a mapping 2 MiB off the boundary can take neither a
 * PUD nor a PMD of it, and maps its pages by PTEs (4 MiB of them here).
 */
TEST_F(pud, ptes_map_pages_of_a_pud_entry)
{
	unsigned char *p, *q;
	int i;

	self->fd = famfs_open_rw(&self->m, "g");
	ASSERT_GE(self->fd, 0);
	ASSERT_EQ(0, put_samples(self->fd, 8));
	p = map_at(self->resv, self->fd, 0, MAP_SHARED);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(1, read_faults(p, GIB));
	q = mmap(NULL, GIB, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, q);
	if ((uintptr_t)q % GIB == 0) {
		/* the kernel put it on a GiB boundary: move it off */
		munmap(q, GIB);
		q = map_at(self->resv, self->fd, 2 * MIB, MAP_SHARED);
		ASSERT_NE(NULL, q);
	}
	EXPECT_EQ((long)(4 * MIB / PAGE), read_faults(q + 512 * MIB, 4 * MIB));
	for (i = 0; i < 1024; i++) {
		unsigned long long o = 512 * MIB + i * PAGE;

		EXPECT_EQ(self->pfn_g + o / PAGE, famfs_pfn_of(q + o));
	}
	EXPECT_EQ(0, check_map(p, 0, 8));
	EXPECT_EQ(0, check_map(q, 0, 8));
	EXPECT_EQ(0, store_and_pread(self->fd, p, 12));
	munmap(q, GIB);
}

/*
 * A PUD fault that falls back leaves an empty PUD entry: file s's first
 * extent starts on the GiB boundary but is 512 MiB long. The PMD fault that
 * follows replaces it with a PMD entry, which must cover all 512 indices of
 * its 2 MiB: a PTE fault there through a mapping that can take no PMD
 * (4 KiB off) then maps a page of that PMD entry. Had the PMD entry covered
 * only its first 64 indices, the PTE fault would make a PTE entry inside
 * the PMD's folio, which warns (dax_associate_entry()).
 */
TEST_F(pud, pmd_after_a_pud_fallback_covers_its_block)
{
	unsigned char *p, *q;
	unsigned long long w = 0;
	int i;

	self->fd = famfs_open_rw(&self->m, "s");
	ASSERT_GE(self->fd, 0);
	ASSERT_EQ(0, put_samples(self->fd, 14));
	p = map_at(self->resv, self->fd, 0, MAP_SHARED);
	ASSERT_NE(NULL, p);
	/* the PUD fault falls back: one PMD fault maps the first 2 MiB */
	EXPECT_EQ(1, read_faults(p, 2 * MIB));
	q = map_at(self->resv, self->fd, GIB + PAGE, MAP_SHARED);
	ASSERT_NE(NULL, q);
	/* pages 64-127 (and the rest) of the block, by PTEs */
	EXPECT_EQ(128L, read_faults(q + 64 * PAGE, 128 * PAGE));
	for (i = 64; i < 192; i++) {
		unsigned long long o = i * PAGE + 8 * (i % 7);

		ASSERT_EQ(8, pread(self->fd, &w, 8, o));
		EXPECT_EQ(w, FAMFS_READ_ONCE(*(unsigned long long *)(q + o)));
		EXPECT_EQ(w, FAMFS_READ_ONCE(*(unsigned long long *)(p + o)));
	}
	EXPECT_EQ(0, check_map(p, 0, 14));
	munmap(q, GIB);
}

/* A private mapping's store copies its page; the file keeps its data. */
TEST_F(pud, private_write_copies_one_page)
{
	unsigned long long w = 0, o = sample_off(9) & ~7ULL;
	unsigned char *p;

	self->fd = famfs_open_rw(&self->m, "g");
	ASSERT_GE(self->fd, 0);
	ASSERT_EQ(0, put_samples(self->fd, 10));
	p = map_at(self->resv, self->fd, 0, MAP_PRIVATE);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(1, read_faults(p, GIB));
	FAMFS_WRITE_ONCE(*(unsigned long long *)(p + o), 42ULL);
	EXPECT_EQ(42ULL, FAMFS_READ_ONCE(*(unsigned long long *)(p + o)));
	EXPECT_NE(self->pfn_g + o / PAGE, famfs_pfn_of(p + o));
	ASSERT_EQ(8, pread(self->fd, &w, 8, o));
	EXPECT_EQ(word(9, 10), w);
	/* the rest still reads the file's own memory, faulted in again */
	EXPECT_EQ(word(8, 10), FAMFS_READ_ONCE(*(unsigned long long *)
					       (p + (sample_off(8) & ~7ULL))));
	(void)FAMFS_READ_ONCE(*(unsigned long long *)p);
	EXPECT_EQ(self->pfn_g, famfs_pfn_of(p));
}

#ifndef BUS_MCEERR_AR
#define BUS_MCEERR_AR 4
#endif
#define CORRUPT_PFN "/sys/kernel/debug/hwpoison/corrupt-pfn"

/* The SIGBUS a memory failure sends: only FAMFS_READ_ONCE(), FAMFS_WRITE_ONCE(). */
static sig_atomic_t mf_code, mf_lsb;
static uintptr_t mf_addr;

static void on_mf(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	FAMFS_WRITE_ONCE(mf_addr, (uintptr_t)si->si_addr);
	FAMFS_WRITE_ONCE(mf_lsb, si->si_addr_lsb);
	FAMFS_WRITE_ONCE(mf_code, si->si_code);
}

/*
 * A memory failure in a PUD-mapped GiB: the process that maps it (and
 * injects it, so the kill is its own action-required one) gets SIGBUS
 * BUS_MCEERR_AR at the page with si_addr_lsb 30 (the mapping it loses
 * is the PUD); the GiB is no longer mapped, the rest of it faults in
 * again by PTEs (a PUD would cover the bad range, and PMD faults fall
 * back on the PUD entry) and reads right; the failed page raises SIGBUS. The
 * last case: it leaves the page's struct page (and the PUD folio's head,
 * see mf_dax_kill_procs()) marked HWPoison for the rest of the boot.
 */
TEST_F_TIMEOUT(pud, memory_failure_unmaps_the_gib, 120)
{
	/* in the last 2 MiB of the GiB: no other test uses it */
	const unsigned long long bad = GIB - 2 * MIB + 37 * PAGE;
	struct sigaction sa = { .sa_sigaction = on_mf, .sa_flags = SA_SIGINFO };
	unsigned char *p, buf[8];
	char pfn[32];
	int i;

	ASSERT_EQ(0, access(CORRUPT_PFN, W_OK)) TH_LOG("no %s", CORRUPT_PFN);
	self->fd = famfs_open_rw(&self->m, "g");
	ASSERT_GE(self->fd, 0);
	ASSERT_EQ(0, put_samples(self->fd, 13));
	p = map_at(self->resv, self->fd, 0, MAP_SHARED);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(1, read_faults(p, GIB));
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, NULL));
	snprintf(pfn, sizeof(pfn), "%llu", self->pfn_g + bad / PAGE);
	ASSERT_EQ(0, famfs_write_str(CORRUPT_PFN, pfn)) TH_LOG("cannot inject at pfn %s", pfn);
	signal(SIGBUS, SIG_DFL);
	EXPECT_EQ(BUS_MCEERR_AR, FAMFS_READ_ONCE(mf_code));
	EXPECT_EQ((uintptr_t)(p + bad), FAMFS_READ_ONCE(mf_addr));
	EXPECT_EQ(30, FAMFS_READ_ONCE(mf_lsb));

	/*
	 * No longer the GiB's PUD: a PUD fault would cover the bad range,
	 * and a PMD fault finds the PUD entry, which stays, and falls back:
	 * PTEs map the pages that are good, one fault each.
	 */
	EXPECT_EQ((long)(2 * MIB / PAGE), read_faults(p, 2 * MIB));
	EXPECT_EQ(0, check_map(p, 0, 13));
	EXPECT_EQ(1, read_faults(p + bad - PAGE, PAGE));
	EXPECT_EQ(1, read_faults(p + bad + PAGE, PAGE));
	EXPECT_EQ(-EFAULT, famfs_map_copy(buf, p + bad, sizeof(buf)));
	for (i = 0; i < SAMPLES; i++)
		EXPECT_EQ(8, pread(self->fd, buf, 8, sample_off(i) & ~7ULL));
	EXPECT_GT(0, pread(self->fd, buf, 8, bad));
}

TEST_HARNESS_MAIN
