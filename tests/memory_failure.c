// SPDX-License-Identifier: GPL-2.0
/*
 * Memory failure on a daxdev a mount holds. Poisoning a mapped page of a
 * file on one device (madvise(MADV_HWPOISON), the kernel's own injection)
 * reaches famfs_rs through fsdev_dax's memory_failure and the dax holder
 * operations; famfs_rs marks that device bad. What the test asserts, and
 * what famfs_rs does today: every later read or write of a file on that
 * device fails with EHWPOISON and every new page fault there is a SIGBUS;
 * the files of the other device keep working. (famfs_rs marks the whole
 * device, not the poisoned range, and does not unmap pages already
 * mapped.)
 */
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#ifndef MADV_HWPOISON
#define MADV_HWPOISON 100
#endif
#ifndef EHWPOISON
#define EHWPOISON 133
#endif

static sigjmp_buf jmp;

static void on_sigbus(int sig)
{
	siglongjmp(jmp, sig);
}

/* 1 if reading *p raises SIGBUS, 0 if it reads */
static int faults_sigbus(const unsigned char *p)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	unsigned char sink = 0;
	int got = 0;

	sigaction(SIGBUS, &sa, &old);
	if (!sigsetjmp(jmp, 1))
		sink = __atomic_load_n(p, __ATOMIC_RELAXED);
	else
		got = 1;
	sigaction(SIGBUS, &old, NULL);
	return got + (sink & 0);
}

TEST(poisoned_device_fails_later_io_and_faults_the_other_works)
{
	char manifest[] = "/tmp/poison.manifest", path[PATH_MAX];
	unsigned long long w = 0x1122334455667788ULL, r = 0;
	unsigned char *m0, *m1;
	struct famfs_mount m;
	int f0, f1;
	FILE *f;

	f = fopen(manifest, "w");
	ASSERT_NE(NULL, f);
	fprintf(f, "daxdev 0 /dev/dax1.0\ndaxdev 1 /dev/dax2.0\n"
		   "file p0 4M simple 0:96M:4M\nfile p1 4M simple 1:96M:4M\n");
	ASSERT_EQ(0, fclose(f));
	ASSERT_EQ(0, famfs_mount_start(&m, manifest, NULL, true, NULL));
	snprintf(path, sizeof(path), "%s/p0", m.mnt);
	f0 = open(path, O_RDWR);
	ASSERT_GE(f0, 0);
	snprintf(path, sizeof(path), "%s/p1", m.mnt);
	f1 = open(path, O_RDWR);
	ASSERT_GE(f1, 0);
	m0 = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, f0, 0);
	ASSERT_NE(MAP_FAILED, m0);
	m1 = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, f1, 0);
	ASSERT_NE(MAP_FAILED, m1);
	m0[0] = 1;
	m1[0] = 1;

	/* poison the first page of p0, which lives on dev 0 */
	ASSERT_EQ(0, madvise(m0, 4096, MADV_HWPOISON)) TH_LOG("%s", strerror(errno));

	/* dev 0: read() and write() fail, a new fault is a SIGBUS */
	EXPECT_EQ(-1, pread(f0, &r, 8, 2 << 20));
	EXPECT_EQ(EHWPOISON, errno);
	EXPECT_EQ(-1, pwrite(f0, &w, 8, 3 << 20));
	EXPECT_EQ(EHWPOISON, errno);
	EXPECT_EQ(1, faults_sigbus(m0 + (3 << 20)));

	/* dev 1: untouched by it */
	EXPECT_EQ(8, pwrite(f1, &w, 8, 2 << 20));
	EXPECT_EQ(8, pread(f1, &r, 8, 2 << 20));
	EXPECT_EQ(w, r);
	EXPECT_EQ(0, faults_sigbus(m1 + (3 << 20)));
	m1[(3 << 20) + 1] = 7;
	EXPECT_EQ(7, m1[(3 << 20) + 1]);

	munmap(m0, 4 << 20);
	munmap(m1, 4 << 20);
	close(f0);
	close(f1);
	famfs_mount_stop(&m, NULL);
	unlink(manifest);
}

TEST_HARNESS_MAIN
