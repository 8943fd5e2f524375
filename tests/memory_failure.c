// SPDX-License-Identifier: GPL-2.0
/*
 * Memory failure on a daxdev a mount holds hits only the failed range.
 *
 * One page of a file is poisoned while three processes map the device:
 * the victim maps that page, a bystander maps another part of the same
 * file, a neighbour maps another file on the same device. The failure
 * reaches famfs_rs through fsdev_dax's memory_failure and the dax holder
 * operations; famfs_rs finds the file range in its range map, marks only
 * that device range bad and hands the range to mf_dax_kill_procs(). What
 * is asserted:
 *
 * - the victim gets SIGBUS with the right si_code (BUS_MCEERR_AR when it
 *   poisoned the page itself with madvise(MADV_HWPOISON); BUS_MCEERR_AO
 *   when it asked for early kill and the page was poisoned for it through
 *   /sys/kernel/debug/hwpoison/corrupt-pfn) and si_addr at the page;
 * - the bystander and the neighbour get no signal and read their data back
 *   intact through their mappings;
 * - afterwards read() of the poisoned page fails with EHWPOISON, a new
 *   fault on it is SIGBUS with BUS_MCEERR_AR, and the pages next to it,
 *   the rest of the file and the other file read and fault normally.
 *
 * The same on a file interleaved over two devices, where the failed page
 * lies in one strip: the other strip's chunks and the other device's file
 * are untouched.
 *
 * Read faults racing the kill: a process re-faults one page of a file in a
 * loop (MADV_DONTNEED, then a read) while the page is poisoned by its pfn;
 * it asked for early kill, so that the kill collects it whenever it maps
 * the page.
 * Read faults on such a file may map the DAX entry without locking it
 * (patches/dax/0011); the kill takes the file's invalidate_lock to exclude
 * them. What is asserted: once the injection returned, the page is not
 * mapped (a fault that was past ->iomap_begin when the range became bad
 * either mapped before the kill unmapped, or waited for it), and a new
 * fault on it is SIGBUS. With PTE faults (MADV_NOHUGEPAGE) and with PMD
 * faults. And a late-kill process that maps the page, when no process is
 * collected (the kernel's kill then unmaps nothing), loses the mapping all
 * the same: its next load is SIGBUS BUS_MCEERR_AR, not a read of failed
 * memory.
 *
 * Every case runs on NVDIMMs and on CXL memory (the fixture variants).
 *
 * Each case poisons device ranges that no other test uses: a poisoned page
 * keeps its HWPoison flag.
 */
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#ifndef MADV_HWPOISON
#define MADV_HWPOISON 100
#endif
#ifndef EHWPOISON
#define EHWPOISON 133
#endif
#ifndef BUS_MCEERR_AR
#define BUS_MCEERR_AR 4
#define BUS_MCEERR_AO 5
#endif

#define PG 4096UL
#define MB (1024UL * 1024)
#define CORRUPT_PFN "/sys/kernel/debug/hwpoison/corrupt-pfn"

/* What one process saw, sent to the parent through a pipe. */
struct seen {
	int sig;		/* SIGBUS, or 0 */
	int code;		/* its si_code */
	uintptr_t addr;		/* its si_addr */
	int lsb;		/* its si_addr_lsb */
	uintptr_t want;		/* the address of the poisoned page (victim) */
	long long diff;		/* first byte of its range not intact, -1 if none,
				 * -2 if reading it raised SIGBUS
				 */
	int err;		/* errno of a failed step, 0 */
};

static sigjmp_buf bus_jmp;
/* shared with the handler: only FAMFS_READ_ONCE(), FAMFS_WRITE_ONCE() */
static sig_atomic_t bus_got, bus_code, bus_lsb, bus_jump;
static uintptr_t bus_addr;

static void on_bus(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	FAMFS_WRITE_ONCE(bus_code, si->si_code);
	FAMFS_WRITE_ONCE(bus_addr, (uintptr_t)si->si_addr);
	FAMFS_WRITE_ONCE(bus_lsb, si->si_addr_lsb);
	FAMFS_WRITE_ONCE(bus_got, sig);
	if (FAMFS_READ_ONCE(bus_jump))
		siglongjmp(bus_jmp, 1);
}

static void catch_bus(void)
{
	struct sigaction sa = { .sa_sigaction = on_bus, .sa_flags = SA_SIGINFO };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

/* A file's range, as one process maps it. */
struct role {
	const char *file;
	size_t off, len;	/* mapped range of the file */
	size_t poff;		/* victim: offset of the page to poison in it */
	unsigned int seed;
};

enum how { BY_MADVISE, BY_INJECT };

static void send_seen(int fd, struct seen *s)
{
	if (write(fd, s, sizeof(*s)) != sizeof(*s))
		_exit(3);
}

static void wait_byte(int fd)
{
	char c;

	if (read(fd, &c, 1) != 1)
		_exit(4);
}

/*
 * A child: maps its range, writes its pattern, says ready (and, for an
 * injected victim, its page's pfn), waits for the word, then the victim
 * poisons or waits for its signal and the others check their data.
 */
static pid_t start_role(const struct famfs_mount *m, const struct role *r, bool victim,
			enum how how, int *to, int *from)
{
	int down[2], up[2];
	pid_t pid;

	if (pipe(down) || pipe(up))
		return -1;
	pid = fork();
	if (pid) {
		close(down[0]);
		close(up[1]);
		*to = down[1];
		*from = up[0];
		return pid;
	}
	close(down[1]);
	close(up[0]);

	struct seen s = { .diff = -1 };
	unsigned char *want = malloc(r->len), *map;
	int fd;

	catch_bus();
	if (victim && how == BY_INJECT &&
	    prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY, 0, 0))
		s.err = errno;
	fd = famfs_open_rw(m, r->file);
	map = fd < 0 ? MAP_FAILED :
	      mmap(NULL, r->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, r->off);
	if (!want || map == MAP_FAILED) {
		s.err = fd < 0 ? -fd : errno;
		send_seen(up[1], &s);
		_exit(1);
	}
	famfs_pattern(want, r->len, r->off, r->seed);
	memcpy(map, want, r->len);
	s.want = (uintptr_t)map + r->poff;
	if (victim && how == BY_INJECT) {
		unsigned long long pfn = famfs_pfn_of(map + r->poff);

		if (write(up[1], &pfn, 8) != 8)
			_exit(5);
	} else if (write(up[1], "r", 1) != 1) {
		_exit(5);
	}
	wait_byte(down[0]);
	if (victim) {
		long long end;

		if (sigsetjmp(bus_jmp, 1) == 0) {
			FAMFS_WRITE_ONCE(bus_jump, 1);
			if (how == BY_MADVISE) {
				if (madvise(map + r->poff, PG, MADV_HWPOISON))
					s.err = errno;
			}
			/* the signal comes on the way out of madvise, or soon */
			end = famfs_now_ms() + FAMFS_EXIT_TIMEOUT_MS;
			while (!FAMFS_READ_ONCE(bus_got) && !s.err && famfs_now_ms() < end)
				usleep(1000);
		}
		FAMFS_WRITE_ONCE(bus_jump, 0);
	} else {
		size_t d = famfs_map_diff(map, want, r->len);

		s.diff = d == (size_t)-1 ? -2 : d == r->len ? -1 : (long long)d;
	}
	s.sig = FAMFS_READ_ONCE(bus_got);
	s.code = FAMFS_READ_ONCE(bus_code);
	s.addr = FAMFS_READ_ONCE(bus_addr);
	s.lsb = FAMFS_READ_ONCE(bus_lsb);
	send_seen(up[1], &s);
	_exit(0);
}

static int reap(pid_t pid)
{
	int st = -1;

	return famfs_wait_exit(pid, FAMFS_EXIT_TIMEOUT_MS, &st) ? -1 : st;
}

/* 1 if touching *p raises SIGBUS (code and address in bus_*), else 0. */
static int faults(const unsigned char *p)
{
	unsigned char sink = 0;

	FAMFS_WRITE_ONCE(bus_got, 0);
	catch_bus();
	if (sigsetjmp(bus_jmp, 1) == 0) {
		FAMFS_WRITE_ONCE(bus_jump, 1);
		sink = FAMFS_READ_ONCE(*p);
	}
	FAMFS_WRITE_ONCE(bus_jump, 0);
	return FAMFS_READ_ONCE(bus_got) ? 1 : (sink & 0);
}

FIXTURE(poison) {
	struct famfs_mount m;
	char manifest[64];
};

/*
 * The two devices and where this test's ranges start on each (in MiB):
 * pmem, the first NVDIMM and the second; cxl, the CXL pmem region's
 * daxdev and the CXL RAM region's (tests/guest/setup-devices.sh), so the
 * simple files fail on persistent CXL memory and the interleaved file's
 * page on volatile CXL memory.
 */
FIXTURE_VARIANT(poison) {
	const char *dev0, *dev1;
	unsigned int base0, base1;
	unsigned int race;	/* file r on dev 0, for the racing faults */
};

FIXTURE_VARIANT_ADD(poison, pmem) {
	.dev0 = "dax1.0", .dev1 = "dax2.0", .base0 = 600, .base1 = 400, .race = 680,
};

FIXTURE_VARIANT_ADD(poison, cxl) {
	.dev0 = "dax0.0", .dev1 = "dax4.0", .base0 = 200, .base1 = 1400, .race = 470,
};

FIXTURE_SETUP(poison)
{
	unsigned int b0 = variant->base0, b1 = variant->base1;

	snprintf(self->manifest, sizeof(self->manifest), "/tmp/poison.%d", getpid());
	/*
	 * a1, a2 and b: simple files on dev 0; i: interleaved, 2 MiB chunks,
	 * strip 0 on dev 0 and strip 1 on dev 1; c: a file on dev 1. The
	 * ranges are this test's alone, and each case poisons its own page.
	 */
	ASSERT_EQ(0, famfs_write_manifest(self->manifest,
					  "daxdev 0 /dev/%s\ndaxdev 1 /dev/%s\n"
					  "file a1 8M simple 0:%uM:8M\nfile a2 8M simple 0:%uM:8M\n"
					  "file b 4M simple 0:%uM:4M\nfile c 4M simple 1:%uM:4M\n"
					  "file i 8M interleave 2M 8M 0:%uM:4M 1:%uM:4M\n"
					  "file r 8M simple 0:%uM:8M\n",
					  variant->dev0, variant->dev1, b0, b0 + 20, b0 + 8, b1 + 4,
					  b0 + 12, b1, variant->race));
	ASSERT_EQ(0, famfs_mount_start(&self->m, self->manifest, NULL, true, NULL));
}

FIXTURE_TEARDOWN(poison)
{
	famfs_mount_stop(&self->m, NULL);
	unlink(self->manifest);
}

/*
 * Poisons victim->poff of victim's range, with a bystander and a neighbour
 * mapping; checks what each saw. With dax (BY_INJECT), the page's pfn
 * must be that dax device's memory.
 */
static void three_processes(struct __test_metadata *_metadata, struct famfs_mount *m,
			    const struct role *victim, const struct role *by,
			    const struct role *nb, enum how way, const char *dax)
{
	const struct role *roles[3] = { victim, by, nb };
	int to[3], from[3];
	struct seen s[3];
	pid_t pid[3];
	int i;

	/* a child that died makes a write fail, not kill the test */
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < 3; i++) {
		pid[i] = start_role(m, roles[i], i == 0, way, &to[i], &from[i]);
		ASSERT_GT(pid[i], 0);
	}
	for (i = 0; i < 3; i++) {
		unsigned long long ready = 0;
		ssize_t want = (i == 0 && way == BY_INJECT) ? 8 : 1;

		ASSERT_EQ(want, read(from[i], &ready, want)) TH_LOG("role %d did not start", i);
		if (i == 0 && way == BY_INJECT) {
			char pfn[32];

			ASSERT_NE(0ULL, ready) TH_LOG("no pfn for the victim's page");
			/* the page is memory of the victim's device, dev 0 */
			if (dax) {
				unsigned long long start = 0, size = 0, pa = ready * PG;
				char path[96];

				snprintf(path, sizeof(path), "/sys/bus/dax/devices/%s/resource",
					 dax);
				ASSERT_EQ(0, read_u64(path, &start));
				snprintf(path, sizeof(path), "/sys/bus/dax/devices/%s/size", dax);
				ASSERT_EQ(0, read_u64(path, &size));
				EXPECT_TRUE(pa >= start && pa < start + size)
					TH_LOG("pfn %#llx is not in %s [%#llx, +%#llx)", ready,
					       dax, start, size);
			}
			snprintf(pfn, sizeof(pfn), "%llu", ready);
			ASSERT_EQ(1, write(to[0], "g", 1));
			ASSERT_EQ(0, famfs_write_str(CORRUPT_PFN, pfn))
				TH_LOG("cannot inject at pfn %s", pfn);
		}
	}
	if (way == BY_MADVISE)
		ASSERT_EQ(1, write(to[0], "g", 1));
	ASSERT_EQ((ssize_t)sizeof(s[0]), read(from[0], &s[0], sizeof(s[0])));
	/* only now do the others look at their data */
	for (i = 1; i < 3; i++) {
		ASSERT_EQ(1, write(to[i], "g", 1));
		ASSERT_EQ((ssize_t)sizeof(s[i]), read(from[i], &s[i], sizeof(s[i])));
	}
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(0, reap(pid[i])) TH_LOG("role %d", i);
		close(to[i]);
		close(from[i]);
	}
	TH_LOG("victim: signal %d si_code %d si_addr %#lx (page %#lx) lsb %d; err %d",
	       s[0].sig, s[0].code, (unsigned long)s[0].addr, (unsigned long)s[0].want,
	       s[0].lsb, s[0].err);
	TH_LOG("bystander: signal %d, first bad byte %lld; neighbour: signal %d, first bad %lld",
	       s[1].sig, s[1].diff, s[2].sig, s[2].diff);
	EXPECT_EQ(0, s[0].err);
	EXPECT_EQ(SIGBUS, s[0].sig);
	EXPECT_EQ(way == BY_MADVISE ? BUS_MCEERR_AR : BUS_MCEERR_AO, s[0].code);
	EXPECT_EQ(s[0].want, s[0].addr);
	EXPECT_TRUE(s[0].lsb == 12 || s[0].lsb == 21) TH_LOG("lsb %d", s[0].lsb);
	for (i = 1; i < 3; i++) {
		EXPECT_EQ(0, s[i].err) TH_LOG("role %d", i);
		EXPECT_EQ(0, s[i].sig) TH_LOG("role %d got signal %d code %d", i, s[i].sig,
					      s[i].code);
		EXPECT_EQ(-1, s[i].diff) TH_LOG("role %d's data", i);
	}
}

/*
 * After the failure at file offset bad of file: read() of that page fails
 * with EHWPOISON, a new fault there is BUS_MCEERR_AR at the address; the
 * pages around it and offset good read and fault.
 */
static void after(struct __test_metadata *_metadata, struct famfs_mount *m, const char *file,
		  size_t size, size_t bad, size_t good, unsigned int seed)
{
	unsigned char buf[2 * PG], want[PG], *map;
	int fd = famfs_open_rw(m, file);

	ASSERT_GE(fd, 0);
	errno = 0;
	EXPECT_EQ(-1, pread(fd, buf, PG, bad));
	EXPECT_EQ(EHWPOISON, errno);
	errno = 0;
	EXPECT_EQ(-1, pread(fd, buf, 8, bad + 100));
	EXPECT_EQ(EHWPOISON, errno);
	/* a read running into the page stops short of it */
	EXPECT_EQ((ssize_t)PG, pread(fd, buf, 2 * PG, bad - PG));
	famfs_pattern(want, PG, bad - PG, seed);
	EXPECT_EQ(0, memcmp(buf, want, PG));
	EXPECT_EQ((ssize_t)PG, pread(fd, buf, PG, bad + PG));
	famfs_pattern(want, PG, bad + PG, seed);
	EXPECT_EQ(0, memcmp(buf, want, PG));
	EXPECT_EQ((ssize_t)PG, pread(fd, buf, PG, good));
	famfs_pattern(want, PG, good, seed);
	EXPECT_EQ(0, memcmp(buf, want, PG));
	errno = 0;
	EXPECT_EQ(-1, pwrite(fd, want, PG, bad));
	EXPECT_EQ(EHWPOISON, errno);

	map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(1, faults(map + bad));
	EXPECT_EQ(BUS_MCEERR_AR, FAMFS_READ_ONCE(bus_code));
	EXPECT_EQ((uintptr_t)map + bad, FAMFS_READ_ONCE(bus_addr));
	EXPECT_EQ(0, faults(map + bad - PG));
	EXPECT_EQ(0, faults(map + bad + PG));
	EXPECT_EQ(0, faults(map + good));
	famfs_pattern(want, PG, good, seed);
	EXPECT_EQ(0, memcmp(map + good, want, PG));
	munmap(map, size);
	close(fd);
}

TEST_F_TIMEOUT(poison, simple_file_madvise_hits_only_the_mapper_of_the_page, 120)
{
	/* victim maps a[2M, 4M) and poisons a+3M+4K */
	struct role v = { "a1", 2 * MB, 2 * MB, MB + PG, 1 };
	struct role by = { "a1", 4 * MB, 4 * MB, 0, 1 };
	struct role nb = { "b", 0, 4 * MB, 0, 2 };

	three_processes(_metadata, &self->m, &v, &by, &nb, BY_MADVISE, NULL);
	after(_metadata, &self->m, "a1", 8 * MB, 3 * MB + PG, 5 * MB, 1);
}

TEST_F_TIMEOUT(poison, simple_file_injected_pfn_signals_the_early_kill_mapper, 120)
{
	/* the page is poisoned for the victim by its pfn, from the parent */
	struct role v = { "a2", 0, 2 * MB, 8 * PG, 1 };
	struct role by = { "a2", 2 * MB, 2 * MB, 0, 1 };
	struct role nb = { "b", 0, 4 * MB, 0, 2 };

	if (access(CORRUPT_PFN, W_OK))
		ASSERT_EQ(0, access(CORRUPT_PFN, W_OK)) TH_LOG("no %s", CORRUPT_PFN);
	three_processes(_metadata, &self->m, &v, &by, &nb, BY_INJECT, variant->dev0);
	after(_metadata, &self->m, "a2", 8 * MB, 8 * PG, 3 * MB, 1);
}

TEST_F_TIMEOUT(poison, interleaved_file_loses_only_the_page_in_one_strip, 120)
{
	/*
	 * i: chunk 0 on dev 0 @base0+12M, chunk 1 on dev 1 @base1, chunk 2 on
	 * dev 0 @base0+14M, chunk 3 on dev 1 @base1+2M. The victim poisons a
	 * page of chunk 1;
	 * the bystander maps chunks 2 and 3 (both devices), the neighbour c,
	 * on the failed page's device.
	 */
	struct role v = { "i", 2 * MB, 2 * MB, 16 * PG, 3 };
	struct role by = { "i", 4 * MB, 4 * MB, 0, 3 };
	struct role nb = { "c", 0, 4 * MB, 0, 4 };

	three_processes(_metadata, &self->m, &v, &by, &nb, BY_MADVISE, NULL);
	after(_metadata, &self->m, "i", 8 * MB, 2 * MB + 16 * PG, 6 * MB, 3);
	/* chunk 0, written by nobody here, still reads */
	{
		unsigned char buf[PG];
		int fd = famfs_open_rw(&self->m, "i");

		ASSERT_GE(fd, 0);
		EXPECT_EQ((ssize_t)PG, pread(fd, buf, PG, 0));
		close(fd);
	}
}

/* What the faulting process of a race saw, in memory it shares. */
struct race {
	unsigned long long pfn;	/* of the page, published after its first fault */
	unsigned long long left;	/* pfn still mapped after the kill, or 0 */
	long faults, bus;	/* reads done, SIGBUS taken in the loop */
	int stop, ready, done, bus_after, err;
};

/* A race child that cannot start: says why, and exits. */
static void race_child_fail(struct race *r, int err)
{
	FAMFS_WRITE_ONCE(r->err, err);
	FAMFS_WRITE_ONCE(r->done, 1);
	_exit(1);
}

/* A race child's signal settings: @mode of PR_MCE_KILL, dying with the test. */
static void race_child_prctl(struct race *r, unsigned long mode)
{
	if (prctl(PR_MCE_KILL, PR_MCE_KILL_SET, mode, 0, 0) ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL))
		race_child_fail(r, errno);
}

/*
 * A child maps the 2 MiB of file r at @chunk, faults the page @poff of it
 * in a loop; the parent poisons that page by its pfn meanwhile, then stops
 * the loop. @huge: PMD faults (the loop drops the whole 2 MiB), else PTE
 * faults.
 */
static void race_kill(struct __test_metadata *_metadata, struct famfs_mount *m,
		      size_t chunk, size_t poff, bool huge)
{
	struct race *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long long end;
	char pfn[32];
	pid_t pid;

	ASSERT_NE(MAP_FAILED, r);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int fd = famfs_open_rw(m, "r");
		unsigned char *map, *p;
		size_t drop = huge ? 2 * MB : PG;

		map = fd < 0 ? MAP_FAILED :
		      mmap(NULL, 2 * MB, PROT_READ, MAP_SHARED, fd, chunk);
		if (map == MAP_FAILED || (!huge && madvise(map, 2 * MB, MADV_NOHUGEPAGE)))
			race_child_fail(r, fd < 0 ? -fd : errno);
		long long until = famfs_now_ms() + 3 * FAMFS_EXIT_TIMEOUT_MS;

		p = map + poff;
		catch_bus();
		/*
		 * Early kill: fs-dax's kill unmaps the page (from every
		 * mapping) only if it collects a process that maps it, the
		 * one that hit the failure or an early-kill one. Gone with
		 * the test if it fails.
		 */
		race_child_prctl(r, PR_MCE_KILL_EARLY);
		(void)FAMFS_READ_ONCE(*p);
		FAMFS_WRITE_ONCE(r->pfn, famfs_pfn_of(p));
		/* PMD rounds: the 2 MiB are one PMD mapping, no fault here */
		if (huge) {
			long before = famfs_minflt();

			(void)FAMFS_READ_ONCE(map[(poff + PG) % (2 * MB)]);
			if (famfs_minflt() != before)
				race_child_fail(r, EXDEV);
		}
		FAMFS_WRITE_ONCE(r->ready, 1);
		while (!FAMFS_READ_ONCE(r->stop) && famfs_now_ms() < until) {
			if (sigsetjmp(bus_jmp, 1) == 0) {
				FAMFS_WRITE_ONCE(bus_jump, 1);
				madvise(map + (huge ? 0 : poff), drop, MADV_DONTNEED);
				(void)FAMFS_READ_ONCE(*p);
				FAMFS_WRITE_ONCE(r->faults, r->faults + 1);
			} else {
				FAMFS_WRITE_ONCE(r->bus, r->bus + 1);
			}
			FAMFS_WRITE_ONCE(bus_jump, 0);
		}
		/* No fault since the stop: what is mapped now, a fault made. */
		FAMFS_WRITE_ONCE(r->left, famfs_pfn_of(p));
		FAMFS_WRITE_ONCE(r->bus_after, faults(p));
		FAMFS_WRITE_ONCE(r->done, 1);
		_exit(0);
	}
	end = famfs_now_ms() + FAMFS_EXIT_TIMEOUT_MS;
	while ((!FAMFS_READ_ONCE(r->ready) || FAMFS_READ_ONCE(r->faults) < 200) &&
	       !FAMFS_READ_ONCE(r->done) && famfs_now_ms() < end)
		usleep(1000);
	ASSERT_EQ(0, FAMFS_READ_ONCE(r->err))
		TH_LOG("child: %s", r->err == EXDEV ? "not a PMD mapping" : strerror(r->err));
	ASSERT_NE(0ULL, FAMFS_READ_ONCE(r->pfn)) TH_LOG("no pfn for the page");
	ASSERT_LE(200, FAMFS_READ_ONCE(r->faults)) TH_LOG("the fault loop did not run");
	snprintf(pfn, sizeof(pfn), "%llu", r->pfn);
	ASSERT_EQ(0, famfs_write_str(CORRUPT_PFN, pfn)) TH_LOG("cannot inject at pfn %s", pfn);
	FAMFS_WRITE_ONCE(r->stop, 1);
	EXPECT_EQ(0, reap(pid));
	TH_LOG("%s: %ld read faults, %ld SIGBUS in the loop", huge ? "PMD" : "PTE",
	       r->faults, r->bus);
	EXPECT_EQ(1, r->done);
	EXPECT_EQ(0ULL, r->left)
		TH_LOG("pfn %#llx is still mapped after its failure was handled", r->left);
	EXPECT_EQ(1, r->bus_after) TH_LOG("a new fault on the failed page did not SIGBUS");
	munmap(r, sizeof(*r));
}

TEST_F_TIMEOUT(poison, read_faults_racing_the_kill_leave_no_mapping, 180)
{
	int i;

	if (access(CORRUPT_PFN, W_OK))
		ASSERT_EQ(0, access(CORRUPT_PFN, W_OK)) TH_LOG("no %s", CORRUPT_PFN);
	/* PTE faults on 4 pages of r[0, 2M), PMD faults in 2 chunks after it */
	for (i = 0; i < 4; i++)
		race_kill(_metadata, &self->m, 0, (size_t)(64 * i + 5) * PG, false);
	for (i = 1; i < 3; i++)
		race_kill(_metadata, &self->m, (size_t)i * 2 * MB, (size_t)(64 * i + 7) * PG, true);
}

/*
 * A late-kill process maps a page (file r at @off) and waits; the page is
 * poisoned by its pfn from the parent, which does not map it. The kill
 * collects no process (the injector does not map the page, the mapper is
 * late-kill), and then unmaps nothing; famfs_rs unmaps the failed range
 * from every mapping all the same, so that the next access faults and
 * fails on the bad range instead of reading the failed memory: no signal
 * at the failure, the page no longer mapped, then SIGBUS BUS_MCEERR_AR at
 * the page on the next load.
 */
static void late_kill(struct __test_metadata *_metadata, struct famfs_mount *m, size_t off)
{
	struct race *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long long end;
	char pfn[32];
	pid_t pid;

	ASSERT_NE(MAP_FAILED, r);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int fd = famfs_open_rw(m, "r");
		unsigned char *map = fd < 0 ? MAP_FAILED :
				     mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, off);

		if (map == MAP_FAILED)
			race_child_fail(r, fd < 0 ? -fd : errno);
		long long until = famfs_now_ms() + 3 * FAMFS_EXIT_TIMEOUT_MS;

		catch_bus();
		/* late kill, whatever vm.memory_failure_early_kill says */
		race_child_prctl(r, PR_MCE_KILL_LATE);
		(void)FAMFS_READ_ONCE(*map);
		FAMFS_WRITE_ONCE(r->pfn, famfs_pfn_of(map));
		FAMFS_WRITE_ONCE(r->ready, 1);
		while (!FAMFS_READ_ONCE(r->stop) && famfs_now_ms() < until)
			usleep(1000);
		FAMFS_WRITE_ONCE(r->bus, FAMFS_READ_ONCE(bus_got));
		FAMFS_WRITE_ONCE(r->left, famfs_pfn_of(map));
		FAMFS_WRITE_ONCE(r->bus_after, faults(map) && bus_code == BUS_MCEERR_AR &&
				 bus_addr == (uintptr_t)map);
		FAMFS_WRITE_ONCE(r->done, 1);
		_exit(0);
	}
	end = famfs_now_ms() + FAMFS_EXIT_TIMEOUT_MS;
	while (!FAMFS_READ_ONCE(r->ready) && !FAMFS_READ_ONCE(r->done) && famfs_now_ms() < end)
		usleep(1000);
	ASSERT_EQ(0, FAMFS_READ_ONCE(r->err)) TH_LOG("child: %s", strerror(r->err));
	ASSERT_NE(0ULL, FAMFS_READ_ONCE(r->pfn)) TH_LOG("no pfn for the page");
	snprintf(pfn, sizeof(pfn), "%llu", r->pfn);
	ASSERT_EQ(0, famfs_write_str(CORRUPT_PFN, pfn)) TH_LOG("cannot inject at pfn %s", pfn);
	FAMFS_WRITE_ONCE(r->stop, 1);
	EXPECT_EQ(0, reap(pid));
	EXPECT_EQ(1, r->done);
	EXPECT_EQ(0, r->bus) TH_LOG("a late-kill process got signal %ld at the failure", r->bus);
	EXPECT_EQ(0ULL, r->left)
		TH_LOG("pfn %#llx is still mapped in a late-kill process", r->left);
	EXPECT_EQ(1, r->bus_after)
		TH_LOG("the next load was not SIGBUS BUS_MCEERR_AR at the page");
	munmap(r, sizeof(*r));
}

TEST_F_TIMEOUT(poison, late_kill_mapper_loses_the_page, 120)
{
	if (access(CORRUPT_PFN, W_OK))
		ASSERT_EQ(0, access(CORRUPT_PFN, W_OK)) TH_LOG("no %s", CORRUPT_PFN);
	/* r[6M, 8M): no other case uses it */
	late_kill(_metadata, &self->m, 6 * MB + 300 * PG);
}

TEST_HARNESS_MAIN
