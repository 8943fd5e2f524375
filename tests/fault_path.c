// SPDX-License-Identifier: GPL-2.0
/*
 * The famfs fault path end to end: files of tests/manifests/fault.manifest
 * served by famfs_server, mapped by famfs_rs through the fuse DAX fmap
 * provider hook. Every expectation is computed here, from the test's own
 * copy of the layouts (layouts[]), never by the module's code: where each
 * file byte must land on which daxdev, what EOF does, which faults map
 * PMDs. The raw check unmounts, moves the daxdevs from fsdev_dax to
 * device_dax (which can be mmap'ed raw) and reads the bytes back there.
 *
 * Every case runs on two sets of devices (the fixture variants): pmem
 * (the NVDIMMs and legacy pmem) and cxl, where manifest device 1 is the
 * CXL RAM region's daxdev and device 2 the CXL pmem region's: there
 * "odd" and "big" live on CXL RAM alone, "simple" has extents on an
 * NVDIMM and CXL RAM, "stripe2" is interleaved across the two, "stripe3"
 * and "stripe3s" across the NVDIMM, CXL RAM and CXL pmem.
 */
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <linux/fuse.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define MIB BIT_ULL(20)
#define SZ_2M (2 * MIB)
#define PAGE 4096ULL
#define FAULT_MANIFEST "fault.manifest"

struct ext {
	int dev;
	unsigned long long off, len;
};

struct layout {
	const char *name;
	unsigned long long size;
	unsigned long long chunk;	/* 0: simple extents */
	int n;
	struct ext e[4];
};

/* The same files as tests/manifests/fault.manifest, in the same order. */
static const struct layout layouts[] = {
	{ "simple", 10 * MIB, 0, 3,
	  { { 0, 64 * MIB, 4 * MIB }, { 1, 32 * MIB, 2 * MIB }, { 0, 128 * MIB, 4 * MIB } } },
	{ "stripe2", 16 * MIB, 2 * MIB, 2,
	  { { 0, 256 * MIB, 8 * MIB }, { 1, 256 * MIB, 8 * MIB } } },
	{ "stripe3", 24 * MIB, 4 * MIB, 3,
	  { { 0, 512 * MIB, 8 * MIB }, { 1, 512 * MIB, 8 * MIB }, { 2, 64 * MIB, 8 * MIB } } },
	{ "stripe3s", 10 * MIB, 2 * MIB, 3,
	  { { 2, 128 * MIB, 4 * MIB }, { 0, 600 * MIB, 4 * MIB }, { 1, 600 * MIB, 2 * MIB } } },
	{ "odd", 3000000, 0, 1, { { 1, 700 * MIB, 4 * MIB } } },
	{ "big", 64 * MIB, 0, 1, { { 1, 1024 * MIB, 64 * MIB } } },
};

#define NLAYOUTS ((int)ARRAY_SIZE(layouts))
#define NDEVS 3
/*
 * Manifest device index -> daxdev (tests/guest/setup-devices.sh names;
 * /tmp/famfs-devices says which is which): dax1.0 the 1 GiB NVDIMM, dax3.0
 * legacy pmem (2 GiB), dax2.0 the 512 MiB NVDIMM; dax4.0 the CXL RAM
 * region (2048 MiB), dax0.0 the CXL pmem region (510 MiB).
 */
static const char *const pmem_devs[NDEVS] = { "dax1.0", "dax3.0", "dax2.0" };
static const char *const cxl_devs[NDEVS] = { "dax1.0", "dax4.0", "dax0.0" };

/* Where file byte fo of l lives: device and device offset (naively). */
static void where(const struct layout *l, unsigned long long fo, int *dev,
		  unsigned long long *doff)
{
	unsigned long long c, stripe;
	int i;

	if (l->chunk) {
		c = fo / l->chunk;
		stripe = c / l->n;
		i = c % l->n;
		*dev = l->e[i].dev;
		*doff = l->e[i].off + stripe * l->chunk + fo % l->chunk;
		return;
	}
	for (i = 0; i < l->n; i++) {
		if (fo < l->e[i].len) {
			*dev = l->e[i].dev;
			*doff = l->e[i].off + fo;
			return;
		}
		fo -= l->e[i].len;
	}
	*dev = -1;
	*doff = 0;
}

/* The 8-byte word the tests store at file offset fo (8-aligned) of file i. */
static unsigned long long pattern(int i, unsigned long long fo, unsigned long long salt)
{
	return ((unsigned long long)(i + 1) << 56) ^ (fo >> 3) ^ salt;
}

static int layout_index(const char *name)
{
	int i;

	for (i = 0; i < NLAYOUTS; i++)
		if (!strcmp(layouts[i].name, name))
			return i;
	return -1;
}

static void manifest_file(char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", famfs_manifests(), FAULT_MANIFEST);
}

/*
 * fault.manifest with its daxdev lines naming devs[] instead, written to
 * /tmp/fault-NAME.manifest (path in buf). 0 or -errno.
 */
static int manifest_for(const char *const *devs, const char *name, char *buf, size_t size)
{
	char src[PATH_MAX], line[512];
	FILE *in, *out;
	int idx, rc = 0;

	manifest_file(src, sizeof(src));
	snprintf(buf, size, "/tmp/fault-%s.manifest", name);
	in = fopen(src, "r");
	if (!in)
		return -errno;
	out = fopen(buf, "w");
	if (!out) {
		rc = -errno;
		fclose(in);
		return rc;
	}
	while (fgets(line, sizeof(line), in)) {
		if (sscanf(line, "daxdev %d", &idx) == 1) {
			if (idx < 0 || idx >= NDEVS) {
				rc = -EINVAL;
				break;
			}
			fprintf(out, "daxdev %d /dev/%s\n", idx, devs[idx]);
		} else {
			fputs(line, out);
		}
	}
	fclose(in);
	if (fclose(out) && !rc)
		rc = -EIO;
	return rc;
}

static void path_of(char *buf, size_t size, const struct famfs_mount *m, const char *name)
{
	snprintf(buf, size, "%s/%s", m->mnt, name);
}

static bool negotiated(const struct famfs_mount *m)
{
	return famfs_load(&m->st->init_flags_in) & famfs_load(&m->st->init_flags_out) &
	       FAMFS_INIT_DAX_FMAP;
}

/* Read the 8-byte word at doff of a device_dax device through a raw mapping. */
struct rawmap {
	int fd;
	unsigned long long base;	/* 2 MiB-aligned device offset mapped */
	unsigned char *p;
};

static int raw_word(struct rawmap *r, const char *dax, unsigned long long doff,
		    unsigned long long *word)
{
	char path[PATH_MAX];

	if (r->fd < 0) {
		snprintf(path, sizeof(path), "/dev/%s", dax);
		r->fd = open(path, O_RDONLY);
		if (r->fd < 0)
			return -errno;
	}
	if (!r->p || doff < r->base || doff >= r->base + SZ_2M) {
		if (r->p)
			munmap(r->p, SZ_2M);
		r->base = doff & ~(SZ_2M - 1);
		r->p = mmap(NULL, SZ_2M, PROT_READ, MAP_SHARED, r->fd, r->base);
		if (r->p == MAP_FAILED) {
			r->p = NULL;
			return -errno;
		}
	}
	memcpy(word, r->p + (doff - r->base), sizeof(*word));
	return 0;
}

static void rawmap_close(struct rawmap *r)
{
	if (r->p)
		munmap(r->p, SZ_2M);
	if (r->fd >= 0)
		close(r->fd);
	r->p = NULL;
	r->fd = -1;
}

/* fp: a mounted namespace of the fault manifest on the variant's devices */
FIXTURE(fp) {
	struct famfs_mount m;
};

FIXTURE_VARIANT(fp) {
	const char *const *devs;
	const char *name;
};

FIXTURE_VARIANT_ADD(fp, pmem) {
	.devs = pmem_devs,
	.name = "pmem",
};

FIXTURE_VARIANT_ADD(fp, cxl) {
	.devs = cxl_devs,
	.name = "cxl",
};

FIXTURE_SETUP(fp)
{
	char manifest[PATH_MAX];
	int rc, status;

	ASSERT_TRUE(module_loaded("famfs_rs"));
	ASSERT_EQ(0, manifest_for(variant->devs, variant->name, manifest, sizeof(manifest)));
	rc = famfs_mount_start(&self->m, manifest, NULL, true, &status);
	ASSERT_EQ(0, rc) TH_LOG("famfs_server %s: %s (status %#x)", manifest,
				strerror(-rc), status);
	ASSERT_TRUE(negotiated(&self->m)) TH_LOG("FUSE_DAX_FMAP was not negotiated");
}

FIXTURE_TEARDOWN(fp)
{
	famfs_mount_stop(&self->m, NULL);
}

static void fill(unsigned long long *buf, int i, unsigned long long size,
		 unsigned long long salt)
{
	unsigned long long fo;

	for (fo = 0; fo + 8 <= size; fo += 8)
		buf[fo / 8] = pattern(i, fo, salt);
}

/* write() the whole file, read it back through mmap; then the other way. */
TEST_F(fp, write_then_mmap_read_and_back)
{
	unsigned long long *want, *got;
	int i, fd;

	want = malloc(64 * MIB);
	got = malloc(64 * MIB);
	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, got);
	for (i = 0; i < NLAYOUTS; i++) {
		const struct layout *l = &layouts[i];
		char path[PATH_MAX];
		void *map;

		path_of(path, sizeof(path), &self->m, l->name);
		fd = open(path, O_RDWR);
		ASSERT_GE(fd, 0) TH_LOG("open %s: %s", path, strerror(errno));
		memset(want, 0, l->size);
		fill(want, i, l->size, 0x11);
		ASSERT_EQ((ssize_t)l->size, pwrite(fd, want, l->size, 0)) TH_LOG("%s", l->name);
		map = mmap(NULL, l->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		ASSERT_NE(MAP_FAILED, map);
		EXPECT_EQ(0, memcmp(want, map, l->size)) TH_LOG("%s: mmap read", l->name);

		fill(want, i, l->size, 0x22);
		memcpy(map, want, l->size);
		ASSERT_EQ(0, munmap(map, l->size));
		memset(got, 0, l->size);
		ASSERT_EQ((ssize_t)l->size, pread(fd, got, l->size, 0));
		EXPECT_EQ(0, memcmp(want, got, l->size)) TH_LOG("%s: read()", l->name);
		EXPECT_EQ(0, close(fd));
	}
	free(want);
	free(got);
	/* every byte went through DAX: the server saw no READ or WRITE */
	EXPECT_EQ(0ULL, famfs_load(&self->m.st->ops[FUSE_READ]));
	EXPECT_EQ(0ULL, famfs_load(&self->m.st->ops[FUSE_WRITE]));
}

/* Re-opening uses the cached fmap; evicting the inode fetches it again. */
TEST_F(fp, fmap_fetched_once_per_inode)
{
	int i = layout_index("simple"), k, fd;
	long long end;
	char path[PATH_MAX];

	path_of(path, sizeof(path), &self->m, "simple");
	for (k = 0; k < 5; k++) {
		fd = open(path, k % 2 ? O_RDWR : O_RDONLY);
		ASSERT_GE(fd, 0);
		ASSERT_EQ(0, close(fd));
	}
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->fmap[i]));
	/* both daxdevs were needed once, for the whole connection */
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->daxdev[0]));
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->daxdev[1]));

	/*
	 * Evict the inode: drop dentries and inodes until the kernel sends the
	 * FORGET (a RELEASE still in flight holds the inode a little longer).
	 */
	sync();
	end = famfs_now_ms() + FAMFS_EXIT_TIMEOUT_MS;
	while (famfs_forgets(&self->m) == 0 && famfs_now_ms() < end) {
		ASSERT_EQ(0, famfs_write_str("/proc/sys/vm/drop_caches", "2"));
		usleep(20000);
	}
	ASSERT_NE(0ULL, famfs_forgets(&self->m)) TH_LOG("the inode was never evicted");
	fd = open(path, O_RDONLY);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, close(fd));
	EXPECT_EQ(2ULL, famfs_load(&self->m.st->fmap[i]));
	/* but the connection still holds its daxdevs */
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->daxdev[0]));
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->daxdev[1]));
}

/* Touch every page of [p, p + len); return the minor faults it took. */
static long touch_faults(const unsigned long long *p, unsigned long long len,
			 unsigned long long *sum)
{
	long before = famfs_minflt();
	unsigned long long o;

	for (o = 0; o < len; o += PAGE)
		*sum += __atomic_load_n(&p[o / 8], __ATOMIC_RELAXED);
	return famfs_minflt() - before;
}

/*
 * 2 MiB-aligned mappings get PMDs; misaligned ones PTEs, and read right.
 * Linux 7.3's smaps leaves zone-device (fs-dax) folios out of
 * FilePmdMapped, so PMDs are seen by their fault count: DAX has no
 * fault-around, so a PTE mapping takes one fault per page touched and a
 * PMD mapping one per 2 MiB.
 */
TEST_F(fp, pmd_mappings_when_aligned)
{
	const struct layout *l = &layouts[layout_index("big")];
	int i = layout_index("big"), fd;
	unsigned long long fo, sum = 0, len = 8 * MIB;
	char path[PATH_MAX];
	unsigned long long *map;
	void *base, *addr;
	long faults;

	path_of(path, sizeof(path), &self->m, l->name);
	fd = open(path, O_RDWR);
	ASSERT_GE(fd, 0);
	for (fo = 0; fo < l->size; fo += PAGE) {
		unsigned long long w = pattern(i, fo, 0x33);

		ASSERT_EQ(8, pwrite(fd, &w, 8, fo));
	}

	/* thp_get_unmapped_area() aligns the whole-file mapping */
	map = mmap(NULL, l->size, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(0ULL, (uintptr_t)map & (SZ_2M - 1));
	faults = touch_faults(map, l->size, &sum);
	/* one fault per 2 MiB (a little slack for the test's own pages) */
	EXPECT_LE(faults, (long)(l->size / SZ_2M) + 8)
		TH_LOG("%ld faults for %llu MiB", faults, l->size / MIB);
	EXPECT_GE(faults, (long)(l->size / SZ_2M));
	for (fo = 0; fo < l->size; fo += PAGE)
		ASSERT_EQ(pattern(i, fo, 0x33), map[fo / 8]);
	ASSERT_EQ(0, munmap(map, l->size));

	/*
	 * A mapping whose address is not congruent to its file offset modulo
	 * 2 MiB: no PMD can map it, every page takes a PTE fault.
	 */
	base = mmap(NULL, len + SZ_2M, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, base);
	addr = (void *)((((uintptr_t)base + SZ_2M - 1) & ~(uintptr_t)(SZ_2M - 1)) + PAGE);
	map = mmap(addr, len, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
	ASSERT_EQ(addr, (void *)map);
	faults = touch_faults(map, len, &sum);
	EXPECT_GE(faults, (long)(len / PAGE)) TH_LOG("%ld faults", faults);
	for (fo = 0; fo < len; fo += PAGE)
		ASSERT_EQ(pattern(i, fo, 0x33), map[fo / 8]);
	ASSERT_EQ(0, munmap(base, len + SZ_2M));
	EXPECT_NE(0ULL, sum);
	EXPECT_EQ(0, close(fd));
}

/* errno of a sendfile() from fd to /dev/null (0 if it worked) */
/* sendfile() of @len bytes at @off of @fd into a pipe: what arrived. */
static ssize_t sendfile_to_pipe(int fd, off_t off, void *buf, size_t len)
{
	int p[2];
	ssize_t n;

	if (pipe(p))
		return -errno;
	n = sendfile(p[1], fd, &off, len);
	if (n > 0)
		n = read(p[0], buf, n);
	else if (n < 0)
		n = -errno;
	close(p[0]);
	close(p[1]);
	return n;
}

static sigjmp_buf sigbus_jmp;

static void on_sigbus(int sig)
{
	siglongjmp(sigbus_jmp, sig);
}

/*
 * Reads stop at EOF, writes cannot pass it, the size cannot change, a page
 * past EOF is SIGBUS, and splice (sendfile) stops at EOF.
 */
TEST_F(fp, eof_and_fixed_size)
{
	const struct layout *l = &layouts[layout_index("odd")];
	unsigned long long eof = l->size, first_bad = (eof + PAGE - 1) & ~(PAGE - 1);
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	unsigned char *map, sink = 0;
	char path[PATH_MAX], buf[200];
	int got = 0;
	struct stat sb;
	int fd;

	path_of(path, sizeof(path), &self->m, l->name);
	fd = open(path, O_RDWR);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, fstat(fd, &sb));
	EXPECT_EQ(eof, (unsigned long long)sb.st_size);

	EXPECT_EQ(10, pread(fd, buf, 100, eof - 10));
	EXPECT_EQ(0, pread(fd, buf, 100, eof));
	EXPECT_EQ(0, pread(fd, buf, 100, eof + 5 * MIB));
	/* no space past the fmap's end (EFBIG would say RLIMIT_FSIZE) */
	EXPECT_EQ(-1, pwrite(fd, buf, 1, eof));
	EXPECT_EQ(ENOSPC, errno);
	EXPECT_EQ(10, pwrite(fd, buf, 100, eof - 10));

	EXPECT_EQ(-1, ftruncate(fd, 0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, ftruncate(fd, 8 * MIB));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, fallocate(fd, 0, 0, 8 * MIB));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, open(path, O_RDWR | O_TRUNC));
	EXPECT_EQ(EPERM, errno);
	/* splice goes through read_iter: sendfile() stops at EOF too */
	EXPECT_EQ(1, pwrite(fd, "s", 1, eof - 1));
	EXPECT_EQ(1, sendfile_to_pipe(fd, eof - 1, buf, 100));
	EXPECT_EQ('s', buf[0]);
	EXPECT_EQ(0, sendfile_to_pipe(fd, eof, buf, 100));

	/* the last byte maps; the first page wholly past EOF is SIGBUS */
	map = mmap(NULL, 4 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	map[eof - 1] = 0x5a;
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, &old));
	/* nothing changes between sigsetjmp() and the jump: no volatile */
	if (!sigsetjmp(sigbus_jmp, 1))
		sink = __atomic_load_n(&map[first_bad], __ATOMIC_RELAXED);
	else
		got = 1;
	sigaction(SIGBUS, &old, NULL);
	EXPECT_EQ(1, got);
	EXPECT_EQ(0, sink);
	ASSERT_EQ(0, munmap(map, 4 * MIB));

	ASSERT_EQ(0, fstat(fd, &sb));
	EXPECT_EQ(eof, (unsigned long long)sb.st_size);
	ASSERT_EQ(1, pread(fd, buf, 1, eof - 1));
	EXPECT_EQ(0x5a, (unsigned char)buf[0]);
	EXPECT_EQ(0, close(fd));
}

/* Two processes, and a bind mount of the same connection, share the bytes. */
TEST_F(fp, processes_and_mounts_share_writes)
{
	const struct layout *l = &layouts[layout_index("stripe2")];
	char path[PATH_MAX], bind[128], bpath[256];
	unsigned long long *map, w, fo;
	int fd, status;
	pid_t pid;

	path_of(path, sizeof(path), &self->m, l->name);
	fd = open(path, O_RDWR);
	ASSERT_GE(fd, 0);
	map = mmap(NULL, l->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);

	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		/* the child writes through a mapping of its own */
		int cfd = open(path, O_RDWR);
		unsigned long long *cmap;

		if (cfd < 0)
			_exit(2);
		cmap = mmap(NULL, l->size, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
		if (cmap == MAP_FAILED)
			_exit(3);
		for (fo = 0; fo < l->size; fo += 8)
			cmap[fo / 8] = pattern(1, fo, 0x44);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	for (fo = 0; fo < l->size; fo += 8)
		ASSERT_EQ(pattern(1, fo, 0x44), map[fo / 8]);

	/* a second mount of the namespace: a bind mount of the connection */
	snprintf(bind, sizeof(bind), "%s/bind", self->m.dir);
	ASSERT_EQ(0, mkdir(bind, 0755));
	ASSERT_EQ(0, mount(self->m.mnt, bind, NULL, MS_BIND, NULL));
	snprintf(bpath, sizeof(bpath), "%s/%s", bind, l->name);
	for (fo = 0; fo < l->size; fo += 8)
		map[fo / 8] = pattern(1, fo, 0x55);
	{
		int bfd = open(bpath, O_RDONLY);

		ASSERT_GE(bfd, 0);
		for (fo = 0; fo < l->size; fo += 64 * 1024) {
			ASSERT_EQ(8, pread(bfd, &w, 8, fo));
			EXPECT_EQ(pattern(1, fo, 0x55), w);
		}
		close(bfd);
	}
	EXPECT_EQ(0, umount2(bind, 0));
	rmdir(bind);
	ASSERT_EQ(0, munmap(map, l->size));
	EXPECT_EQ(0, close(fd));
}

/*
 * devs: the variant's manifest, no mount (the cases mount for themselves)
 */
FIXTURE(devs) {
	char manifest[PATH_MAX];
};

FIXTURE_VARIANT(devs) {
	const char *const *devs;
	const char *name;
};

FIXTURE_VARIANT_ADD(devs, pmem) {
	.devs = pmem_devs,
	.name = "pmem",
};

FIXTURE_VARIANT_ADD(devs, cxl) {
	.devs = cxl_devs,
	.name = "cxl",
};

FIXTURE_SETUP(devs)
{
	ASSERT_TRUE(module_loaded("famfs_rs"));
	ASSERT_EQ(0, manifest_for(variant->devs, variant->name, self->manifest,
				  sizeof(self->manifest)));
}

/* A case that failed half way may have left devices on device_dax. */
FIXTURE_TEARDOWN(devs)
{
	char drv[64];
	int i;

	for (i = 0; i < NDEVS; i++) {
		famfs_dax_driver(variant->devs[i], drv, sizeof(drv));
		if (strcmp(drv, "fsdev_dax"))
			EXPECT_EQ(0, famfs_dax_rebind(variant->devs[i], false))
				TH_LOG("%s left on '%s'", variant->devs[i], drv);
	}
	unlink(self->manifest);
}

/*
 * Another connection cannot take daxdevs this one holds (fs_dax_get:
 * EBUSY); unmounting releases them, and then it can.
 */
TEST_F(devs, daxdevs_held_per_connection_and_released_on_unmount)
{
	struct famfs_mount a, b;
	char path[PATH_MAX];
	int fd;

	ASSERT_EQ(0, famfs_mount_start(&a, self->manifest, NULL, true, NULL));
	ASSERT_EQ(0, famfs_mount_start(&b, self->manifest, NULL, true, NULL));
	path_of(path, sizeof(path), &a, "simple");
	fd = open(path, O_RDONLY);
	ASSERT_GE(fd, 0);
	close(fd);
	path_of(path, sizeof(path), &b, "simple");
	EXPECT_EQ(-1, open(path, O_RDONLY));
	EXPECT_EQ(EBUSY, errno);

	famfs_mount_stop(&a, NULL);
	fd = open(path, O_RDONLY);
	EXPECT_GE(fd, 0) TH_LOG("open after the holder unmounted: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	famfs_mount_stop(&b, NULL);
}

/* The provider cannot go away under a mount that uses it. */
TEST(rmmod_refused_while_mounted)
{
	struct famfs_mount m;
	char manifest[PATH_MAX];

	ASSERT_TRUE(module_loaded("famfs_rs"));
	manifest_file(manifest, sizeof(manifest));
	ASSERT_EQ(0, famfs_mount_start(&m, manifest, NULL, true, NULL));
	/* the module core answers EWOULDBLOCK (EAGAIN) for a module in use */
	EXPECT_EQ(-EAGAIN, unload_module("famfs_rs"));
	EXPECT_TRUE(module_loaded("famfs_rs"));
	famfs_mount_stop(&m, NULL);
	EXPECT_EQ(0, unload_module("famfs_rs"));
	EXPECT_FALSE(module_loaded("famfs_rs"));
	ASSERT_EQ(0, load_module(FAMFS_MODULE_PATH));
}

/*
 * Bytes written through the files are on the devices where the layouts
 * say: after unmount, read them through raw device_dax mappings.
 */
TEST_F(devs, writes_land_where_the_fmap_says)
{
	struct rawmap raw[NDEVS] = { { .fd = -1 }, { .fd = -1 }, { .fd = -1 } };
	const char *const *daxdevs = variant->devs;
	unsigned long long fo, doff, w = 0;
	char path[PATH_MAX], drv[64];
	struct famfs_mount m;
	int i, dev, fd, checked = 0;

	ASSERT_EQ(0, famfs_mount_start(&m, self->manifest, NULL, true, NULL));
	for (i = 0; i < NLAYOUTS; i++) {
		const struct layout *l = &layouts[i];
		unsigned long long *map;

		path_of(path, sizeof(path), &m, l->name);
		fd = open(path, O_RDWR);
		ASSERT_GE(fd, 0);
		map = mmap(NULL, l->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		ASSERT_NE(MAP_FAILED, map);
		/* first and last word of every page, through the mapping */
		for (fo = 0; fo + 8 <= l->size; fo += PAGE) {
			map[fo / 8] = pattern(i, fo, 0x66);
			if (fo + PAGE <= l->size)
				map[(fo + PAGE - 8) / 8] = pattern(i, fo + PAGE - 8, 0x66);
		}
		ASSERT_EQ(0, munmap(map, l->size));
		ASSERT_EQ(0, close(fd));
	}
	famfs_mount_stop(&m, NULL);

	for (dev = 0; dev < NDEVS; dev++)
		ASSERT_EQ(0, famfs_dax_rebind(daxdevs[dev], true))
			TH_LOG("daxdev %d to device_dax", dev);
	for (i = 0; i < NLAYOUTS; i++) {
		const struct layout *l = &layouts[i];

		for (fo = 0; fo + 8 <= l->size; fo += PAGE) {
			unsigned long long at[2] = { fo, fo + PAGE - 8 };
			int k;

			for (k = 0; k < 2; k++) {
				if (at[k] + 8 > l->size)
					continue;
				where(l, at[k], &dev, &doff);
				ASSERT_TRUE(dev >= 0 && dev < NDEVS);
				ASSERT_EQ(0, raw_word(&raw[dev], daxdevs[dev], doff, &w));
				ASSERT_EQ(pattern(i, at[k], 0x66), w)
					TH_LOG("%s @%llu: dev %d @%#llx", l->name, at[k],
					       dev, doff);
				checked++;
			}
		}
	}
	for (dev = 0; dev < NDEVS; dev++)
		rawmap_close(&raw[dev]);
	for (dev = 0; dev < NDEVS; dev++) {
		EXPECT_EQ(0, famfs_dax_rebind(daxdevs[dev], false));
		famfs_dax_driver(daxdevs[dev], drv, sizeof(drv));
		EXPECT_STREQ("fsdev_dax", drv);
	}
	TH_LOG("%d words checked on the raw devices", checked);
	EXPECT_GT(checked, 1000);
}

TEST_HARNESS_MAIN
