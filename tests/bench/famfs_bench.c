// SPDX-License-Identifier: GPL-2.0
/*
 * famfs_bench - the fault path of famfs-rs against the raw device and
 * ext4 -o dax, side by side in one VM run (make bench, scripts/bench.sh).
 *
 *   famfs_bench [-r REPS]   the benchmark (make bench)
 *   famfs_bench -P          the profile of the fault path (make profile),
 *                           on the profile kernel variant
 *
 * Runs in the VM that scripts/vm.sh boots with VM_BENCH=1, after
 * tests/guest/bench.sh set up ext4 and loaded famfs_rs. The devices come
 * from /tmp/famfs-devices (tests/guest/setup-devices.sh), told apart by
 * size; the first five are emulated NVDIMMs backed the same way, the
 * last three dax devices of the volatile CXL type-3 device's RAM region
 * (tests/guest/bench.sh splits it):
 *
 *   B1  6 GiB fsdev_dax     famfs: the 1-extent file, the 2048-extent file,
 *                           strip 0 of the interleaved file
 *   B2  1 GiB fsdev_dax     famfs: strip 1, the open() benchmark's files
 *   R2M 1 GiB device_dax    the raw device, 2 MiB alignment (PMD floor)
 *   R4K 1 GiB device_dax    the raw device, 4 KiB alignment (PTE floor)
 *   R1G 1 GiB device_dax    the raw device, 1 GiB alignment (PUD floor)
 *   ext4 on /mnt/ext4       ext4 -o dax on an fsdax pmem namespace
 *   C   2 GiB fsdev_dax     famfs on CXL memory: a 1-extent file
 *   C2M 1 GiB device_dax    the raw CXL memory, 2 MiB alignment
 *   C4K 1 GiB device_dax    the raw CXL memory, 4 KiB alignment
 *   C1G 1 GiB device_dax    the raw CXL memory, 1 GiB alignment
 *
 * Every path maps a 1 GiB window (the file's first GiB; the 2048-extent
 * file is 4 GiB). Per repetition (the first, a warm-up, is not counted)
 * and path, each fault pattern maps the window afresh, touches it, and
 * unmaps it: PTE faults on NPTE 4 KiB pages (sequential from the start,
 * or random distinct pages of the window) with MADV_NOHUGEPAGE, PMD faults
 * on all 512 2 MiB blocks (in order, or shuffled) with MADV_HUGEPAGE;
 * loads (read faults) or stores (write faults). Steady state: the file
 * holds DAX entries of the pattern's size for the pages of both orders,
 * dirty ones for a write pattern (settle()). First touch
 * (*-first): the file's inode is evicted before each window, so every
 * fault makes its entry. Write faults on clean entries (*-write-clean):
 * the file is written back (fsync()) before each window, so every store
 * finds its entry in place but clean, as the first after an fsync() does.
 * The minor-fault count of every pass is checked
 * (one per page or block), and after a PMD pass's timing the next page of
 * every block is loaded: a block that the path mapped with PTEs takes a
 * fault there, and its figure is marked "!" (reported, not hidden).
 * PUD faults (raw, famfs-1ext and the two CXL paths, whose files sit on
 * a 1 GiB boundary of physical memory): the window mapped at a 1 GiB
 * boundary and one word touched, PUD_PASSES times (PUD_FIRST_PASSES for
 * first touch), one fault each; a load 2 MiB further on then faults if
 * the window was not mapped by one PUD ("!" again).
 * read()/write() through the file (dax_iomap_rw) in 1 MiB calls, against
 * memcpy() from and to a populated raw mapping. open() of a file never
 * opened on this connection, of one opened before, and on a plain fuse
 * mount. Then the module's own time: with iomap timing on
 * (/sys/kernel/debug/famfs_rs), ns per iomap_begin call against the cost
 * per fault of the same pass.
 *
 * Output: a table of medians and their ratio to the raw device (the raw
 * CXL device for the two CXL columns), and one
 * line per figure for scripts: "bench: path=P op=O unit=U median=M min=A
 * max=B ratio_raw=X reps=N [minflt=F]".
 */
#include <assert.h>
#include <getopt.h>
#include <sys/resource.h>
#include "../famfs_test.h"

#define GIB BIT_ULL(30)
#define MIB BIT_ULL(20)
#define PMD_SIZE_ (2 * MIB)
#define PAGE 4096ULL
#define WINDOW GIB
#define NPTE 8192
#define NPMD ((int)(WINDOW / PMD_SIZE_))
#define PMD_PASSES 4
#define PUD_PASSES 64
#define PUD_FIRST_PASSES 8
#define MANY_EXTENTS 2048
#define RW_BYTES (256 * MIB)
/*
 * QEMU emulates CXL memory as MMIO (every guest load and store to it is
 * a call into the device model, tens of MiB/s): the CXL paths copy less.
 */
#define RW_BYTES_CXL (32 * MIB)
#define RW_CHUNK MIB
#define NOPEN 128
#define MAX_REPS 64
#define EXT4_DIR "/mnt/ext4"
#define DBG "/sys/kernel/debug/famfs_rs"
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

enum {
	P_RAW, P_FAMFS1, P_FAMFS_MANY, P_FAMFS_ILV, P_EXT4, P_RAW_CXL, P_FAMFS_CXL, NPATHS
};

static const char * const path_names[NPATHS] = {
	"raw-devdax", "famfs-1ext", "famfs-2048ext", "famfs-ilv2", "ext4-dax",
	"raw-cxl", "famfs-cxl",
};

/* The file each famfs path maps, in the one mount (write_manifest()). */
static const char * const fam_names[NPATHS] = {
	[P_FAMFS1] = "one", [P_FAMFS_MANY] = "many", [P_FAMFS_ILV] = "ilv",
	[P_FAMFS_CXL] = "cxl",
};

enum {
	O_PTE_RSEQ, O_PTE_RRND, O_PTE_WSEQ, O_PTE_WRND,
	O_PMD_RSEQ, O_PMD_RRND, O_PMD_WSEQ, O_PMD_WRND,
	O_PTE_RFIRST, O_PMD_RFIRST, O_PMD_WFIRST,
	O_PTE_WCLEAN, O_PMD_WCLEAN,
	O_PUD_READ, O_PUD_WRITE, O_PUD_RFIRST,
	O_READ, O_WRITE, NOPS
};

static_assert(O_PTE_RRND == O_PTE_RSEQ + 1 && O_PTE_WRND == O_PTE_WSEQ + 1 &&
	      O_PMD_RRND == O_PMD_RSEQ + 1 && O_PMD_WRND == O_PMD_WSEQ + 1 &&
	      O_PTE_RSEQ % 2 == 0 && O_PMD_RSEQ % 2 == 0, "op_other_order() pairs");

static const char * const op_names[NOPS] = {
	"pte-read-seq", "pte-read-rand", "pte-write-seq", "pte-write-rand",
	"pmd-read-seq", "pmd-read-rand", "pmd-write-seq", "pmd-write-rand",
	"pte-read-first", "pmd-read-first", "pmd-write-first",
	"pte-write-clean", "pmd-write-clean",
	"pud-read", "pud-write", "pud-read-first",
	"read-MiB/s", "write-MiB/s",
};

static bool op_pmd(int op)
{
	return (op >= O_PMD_RSEQ && op <= O_PMD_WRND) || op == O_PMD_RFIRST ||
	       op == O_PMD_WFIRST || op == O_PMD_WCLEAN;
}

static bool op_pud(int op)
{
	return op >= O_PUD_READ && op <= O_PUD_RFIRST;
}

/* Whether @path has a file (or device) a PUD can map. */
static bool pud_path(int path);

static bool op_write(int op)
{
	return op == O_PTE_WSEQ || op == O_PTE_WRND || op == O_PMD_WSEQ || op == O_PMD_WRND ||
	       op == O_PMD_WFIRST || op == O_PTE_WCLEAN || op == O_PMD_WCLEAN ||
	       op == O_PUD_WRITE;
}

static bool op_rand(int op)
{
	return op == O_PTE_RRND || op == O_PTE_WRND || op == O_PMD_RRND || op == O_PMD_WRND;
}

/* The same pattern in the other order (a steady-state op). */
static int op_other_order(int op)
{
	return op_rand(op) ? op - 1 : op + 1;	/* the enum pairs them */
}

/*
 * First touch: the file's inode is evicted before each window (closed,
 * then /proc/sys/vm/drop_caches), so that every fault finds no DAX entry
 * and makes one, as the first pass over a freshly opened file does.
 */
static bool op_first(int op)
{
	return (op >= O_PTE_RFIRST && op <= O_PMD_WFIRST) || op == O_PUD_RFIRST;
}

/*
 * Write faults on clean entries (*-write-clean): the file's entries are in
 * place, of the pattern's size, and written back (fsync()) before each
 * window, so that every fault finds its entry clean, as the first store
 * after an fsync() does. The steady write patterns find them dirty.
 */
static bool op_clean(int op)
{
	return op == O_PTE_WCLEAN || op == O_PMD_WCLEAN;
}

/* The windows a fault pass maps and touches. */
static int op_passes(int op)
{
	if (op_pud(op))
		return op_first(op) ? PUD_FIRST_PASSES : PUD_PASSES;
	return op_pmd(op) ? PMD_PASSES : 1;
}

struct sample {
	double v[MAX_REPS];
	int n;
	long long minflt;	/* of the last pass */
	long long pte_faults;	/* of a PMD or PUD pass: see fault_window() */
};

static struct sample res[NPATHS][NOPS];
/*
 * The fsync() before each *-write-clean window, ns per dirty entry it
 * writes back (the previous window's NPTE or NPMD), [0] PTE, [1] PMD.
 */
static struct sample fsync_res[NPATHS][2];
static double fsync_ns;	/* of the last clean pass, per entry */
static int reps = 11;
static FILE *out;

static char b1[32], b2[32], r2m[32], r4k[32], r1g[32], c1[32], c2m[32], c4k[32], c1g[32];
static struct famfs_mount fam;
static int fds[NPATHS], raw2m_fd, raw4k_fd, raw1g_fd, cxl2m_fd, cxl4k_fd, cxl1g_fd;
/* the device offsets of the files "one" and "cxl": on a 1 GiB boundary */
static unsigned long long one_off, cxl_off;
static unsigned int pte_seq[NPTE], pte_rnd[NPTE], pmd_seq[NPMD], pmd_rnd[NPMD];
static unsigned char *rwbuf;

static void die(const char *what)
{
	fprintf(stderr, "famfs_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static long long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static unsigned long long rnd_state = 0x9e3779b97f4a7c15ULL;

static unsigned long long rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static void shuffle(unsigned int *a, int n)
{
	int i, j;
	unsigned int t;

	for (i = n - 1; i > 0; i--) {
		j = rnd() % (i + 1);
		t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
}

/* Device names by size, from tests/guest/setup-devices.sh. */
static void find_devices(void)
{
	char kind[16], name[32], line[256];
	unsigned long long size, align;
	FILE *f = fopen(FAMFS_DEVICES, "r");

	if (!f)
		die(FAMFS_DEVICES);
	while (fgets(line, sizeof(line), f)) {
		align = 0;
		if (sscanf(line, "%15s %31s %llu %*s %*s %*s %llu", kind, name, &size, &align) < 3)
			continue;
		if (!strcmp(kind, "pmem") && size == 6 * GIB)
			snprintf(b1, sizeof(b1), "%s", name);
		else if (!strcmp(kind, "pmem") && size == GIB)
			snprintf(b2, sizeof(b2), "%s", name);
		else if (!strcmp(kind, "raw") && align == PMD_SIZE_)
			snprintf(r2m, sizeof(r2m), "%s", name);
		else if (!strcmp(kind, "raw") && align == PAGE)
			snprintf(r4k, sizeof(r4k), "%s", name);
		else if (!strcmp(kind, "raw") && align == GIB)
			snprintf(r1g, sizeof(r1g), "%s", name);
		else if (!strcmp(kind, "cxlram") && size >= 2 * GIB)
			snprintf(c1, sizeof(c1), "%s", name);
		else if (!strcmp(kind, "cxlraw") && align == PMD_SIZE_)
			snprintf(c2m, sizeof(c2m), "%s", name);
		else if (!strcmp(kind, "cxlraw") && align == PAGE)
			snprintf(c4k, sizeof(c4k), "%s", name);
		else if (!strcmp(kind, "cxlraw") && align == GIB)
			snprintf(c1g, sizeof(c1g), "%s", name);
	}
	fclose(f);
	if (!b1[0] || !b2[0] || !r2m[0] || !r4k[0] || !r1g[0] || !c1[0] || !c2m[0] || !c4k[0] ||
	    !c1g[0]) {
		fprintf(stderr, "famfs_bench: missing devices: B1 '%s' B2 '%s' R2M '%s' R4K '%s'",
			b1, b2, r2m, r4k);
		fprintf(stderr, " R1G '%s' C '%s' C2M '%s' C4K '%s' C1G '%s'\n", r1g, c1, c2m,
			c4k, c1g);
		fprintf(stderr, "famfs_bench: run it under scripts/vm.sh with VM_BENCH=1\n");
		exit(1);
	}
}

/*
 * The offset of the first 1 GiB boundary of physical memory in daxdev
 * @dev, if a GiB from there fits below @limit; 0 (and a note) if not.
 */
static unsigned long long gib_offset(const char *dev, unsigned long long limit)
{
	unsigned long long base, off;
	char p[PATH_MAX], buf[64];

	snprintf(p, sizeof(p), "/sys/bus/dax/devices/%s/resource", dev);
	if (read_file(p, buf, sizeof(buf)) < 0)
		die(p);
	base = strtoull(buf, NULL, 0);
	off = (GIB - base % GIB) % GIB;
	if (off + GIB <= limit)
		return off;
	fprintf(out, "famfs_bench: %s starts at %#llx: no GiB on a boundary below %llu MiB,\n",
		dev, base, limit / MIB);
	fprintf(out, "famfs_bench: its PUD figures are PMD faults (marked !)\n");
	return 0;
}

/*
 * One mount for the three famfs files, all live at once (disjoint blocks):
 *   one      1 GiB, one extent: B1 [o, o + 1 GiB), o the first 1 GiB boundary of
 *            physical memory in B1 if that is below 512 MiB (else 0)
 *   ilv      1 GiB, 2 strips of 512 MiB in 2 MiB chunks: B1 [1.5, 2 GiB), B2 [0, 512 MiB)
 *   many     4 GiB, 2048 extents of 2 MiB, B1 [2, 6 GiB) in a scattered order
 *   o000..   NOPEN files of 2 MiB for open(): B2 [512 MiB, ...)
 *   cxl      1 GiB, one extent: C [c, c + 1 GiB), c its first 1 GiB boundary
 */
static void write_manifest(const char *path)
{
	FILE *f = fopen(path, "w");
	int i;

	if (!f)
		die(path);
	one_off = gib_offset(b1, GIB + 512 * MIB);
	cxl_off = gib_offset(c1, 2 * GIB);
	fprintf(f, "daxdev 0 /dev/%s\ndaxdev 1 /dev/%s\ndaxdev 2 /dev/%s\n", b1, b2, c1);
	fprintf(f, "file one 1G simple 0:%lluM:1G\n", one_off / MIB);
	fprintf(f, "file cxl 1G simple 2:%lluM:1G\n", cxl_off / MIB);
	fprintf(f, "file ilv 1G interleave 2M 1G 0:1536M:512M 1:0:512M\n");
	fprintf(f, "file many 4G simple");
	/* extent k at block (k * 1237) mod 2048: odd, so a permutation */
	for (i = 0; i < MANY_EXTENTS; i++)
		fprintf(f, " 0:%lluM:2M", 2048 + 2ULL * ((i * 1237ULL) % MANY_EXTENTS));
	fprintf(f, "\n");
	for (i = 0; i < NOPEN; i++)
		fprintf(f, "file o%03d 2M simple 1:%lluM:2M\n", i, 512 + 2ULL * i);
	if (fclose(f))
		die(path);
}

static int open_in(const struct famfs_mount *m, const char *name, int flags)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", m->mnt, name);
	return open(p, flags);
}

/* An mmap of the window at an @align-aligned address. */
static unsigned char *map_window(int fd, bool huge, unsigned long long align)
{
	unsigned char *p, *a;

	p = mmap(NULL, WINDOW + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (p == MAP_FAILED)
		die("mmap reserve");
	a = (unsigned char *)(((unsigned long)p + align - 1) & ~(align - 1));
	if (a != p)
		munmap(p, a - p);
	munmap(a + WINDOW, p + WINDOW + align - (a + WINDOW));
	p = mmap(a, WINDOW, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap window");
	if (madvise(p, WINDOW, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) && errno != EINVAL)
		die("madvise");
	return p;
}

static unsigned long long sink;
static long long pte_faults;
static double fault_window(int fd, int op, long long *faults);
static int raw_fd_for(int path, int op);
static int raw_of(int path);

/*
 * Whether each path's entries are dirty (written since the last eviction
 * or fsync()): a write fault on a dirty entry of a stable mapping maps it
 * without locking it, one on a clean entry marks it dirty under the lock.
 * The steady write patterns need dirty entries, the clean ones clean.
 */
static bool entry_dirty[NPATHS];

/*
 * Evict @path's inode, with its DAX entries, and open the file again: a
 * raw device keeps no per-file state, so there is nothing to evict.
 */
static void evict(int path)
{
	char p[PATH_MAX];

	if (raw_of(path) == path)
		return;
	entry_dirty[path] = false;
	close(fds[path]);
	if (famfs_write_str("/proc/sys/vm/drop_caches", "2"))
		die("drop_caches");
	if (path == P_EXT4) {
		snprintf(p, sizeof(p), "%s/f", EXT4_DIR);
		fds[path] = open(p, O_RDWR);
	} else {
		fds[path] = open_in(&fam, fam_names[path], O_RDWR);
	}
	if (fds[path] < 0)
		die("reopen after eviction");
}

/*
 * The size of the DAX entries each path's file holds: 0 none known, 1 PTE,
 * 2 PMD, 3 PUD. A PMD (or PUD) fault that finds smaller entries in its
 * block falls back (the DAX core does not merge entries), a PTE fault in
 * a block that has a PMD or PUD entry is served from it, and a PMD fault
 * that finds a PUD entry falls back to PTEs: a pattern's steady state
 * needs entries of its own size.
 */
static int entry_size[NPATHS];

/* The file a fault pattern of @path runs on. */
static int fd_for(int path, int op)
{
	return raw_of(path) == path ? raw_fd_for(path, op) : fds[path];
}

/*
 * Before a steady-state pattern: if @path's file holds entries of the
 * other size, evict them and make this size's with one untimed window; a
 * steady write pattern also needs them dirty, and dirties them so.
 * (First-touch patterns evict before every window, clean ones write back.)
 */
static void settle(int path, int op)
{
	int size = 1 + op_pmd(op) + 2 * op_pud(op);
	bool dirty = op_write(op) && !op_clean(op);
	long long f;

	if (op_first(op)) {
		entry_size[path] = size;
		return;
	}
	if (entry_size[path] != size)
		evict(path);
	else if (!dirty || entry_dirty[path])
		return;
	/*
	 * The pages of both orders: the random PTE pattern's pages are not
	 * the in-order pattern's (the PMD patterns cover the same blocks, all
	 * of the window; a PUD, all of it at once).
	 */
	fault_window(fd_for(path, op), op, &f);
	if (!op_pud(op) && !op_clean(op))
		fault_window(fd_for(path, op), op_other_order(op), &f);
	if (op_write(op))
		entry_dirty[path] = true;
	entry_size[path] = size;
}

/* Loads and stores the compiler must keep, one per page touched. */
static inline unsigned long long touch_load(unsigned char *p)
{
	return __atomic_load_n((unsigned long long *)p, __ATOMIC_RELAXED);
}

static inline void touch_store(unsigned char *p, unsigned long long v)
{
	__atomic_store_n((unsigned long long *)p, v, __ATOMIC_RELAXED);
}

/*
 * One fault pass: ns per fault; *faults the minor faults it took. A PMD
 * or PUD pass maps and touches the window op_passes() times, so that it
 * times as many faults as it takes to even out timer ticks.
 */
static double fault_pass(int path, int op, long long *faults)
{
	double t = 0;
	long long f;
	int i, n = op_passes(op);

	*faults = 0;
	settle(path, op);
	pte_faults = 0;
	fsync_ns = 0;
	for (i = 0; i < n; i++) {
		if (op_first(op))
			evict(path);
		if (op_clean(op) && raw_of(path) != path) {
			double t0 = now_ns();

			if (fsync(fds[path]))
				die("fsync");
			fsync_ns += (now_ns() - t0) / (op_pmd(op) ? NPMD : NPTE) / n;
			entry_dirty[path] = false;
		}
		t += fault_window(fd_for(path, op), op, &f);
		*faults += f;
	}
	if (op_write(op) && raw_of(path) != path)
		entry_dirty[path] = true;
	*faults /= n;
	return t / n;
}

/* Map the window, touch it as @op says, unmap: ns per fault. */
static double fault_window(int fd, int op, long long *faults)
{
	bool pmd = op_pmd(op), pud = op_pud(op), write = op_write(op), rand = op_rand(op);
	static const unsigned int pud_idx[1];
	const unsigned int *idx = pud ? pud_idx : pmd ? (rand ? pmd_rnd : pmd_seq) :
					(rand ? pte_rnd : pte_seq);
	unsigned long long step = pmd ? PMD_SIZE_ : PAGE, acc = 0;
	int n = pud ? 1 : pmd ? NPMD : NPTE, i;
	unsigned char *p = map_window(fd, pmd || pud, pud ? GIB : PMD_SIZE_);
	long long f0 = minflt();
	double t0 = now_ns(), t;

	if (write)
		for (i = 0; i < n; i++)
			touch_store(p + idx[i] * step, i);
	else
		for (i = 0; i < n; i++)
			acc += touch_load(p + idx[i] * step);
	t = now_ns() - t0;
	*faults = minflt() - f0;
	/*
	 * A PMD pattern touches one page of each block, so the minor-fault
	 * count cannot tell a PMD mapping from a PTE one. After the timing,
	 * load the next page of every block: a block mapped by a PMD takes
	 * no fault there, one that fell back to PTEs takes one.
	 */
	if (pmd) {
		f0 = minflt();
		for (i = 0; i < n; i++)
			acc += touch_load(p + idx[i] * step + PAGE);
		pte_faults += minflt() - f0;
	}
	/* a window one PUD maps takes no fault 2 MiB on */
	if (pud) {
		f0 = minflt();
		acc += touch_load(p + PMD_SIZE_ + PAGE);
		pte_faults += minflt() - f0;
	}
	__atomic_store_n(&sink, acc, __ATOMIC_RELAXED);
	munmap(p, WINDOW);
	return t / n;
}

/* read() or write() of bytes in RW_CHUNK calls: MiB/s. */
static double rw_pass(int fd, bool write, unsigned long long bytes)
{
	unsigned long long off;
	double t0 = now_ns();
	ssize_t n;

	for (off = 0; off < bytes; off += RW_CHUNK) {
		n = write ? pwrite(fd, rwbuf, RW_CHUNK, off) : pread(fd, rwbuf, RW_CHUNK, off);
		if (n != (ssize_t)RW_CHUNK)
			die(write ? "pwrite" : "pread");
	}
	return bytes / MIB / ((now_ns() - t0) / 1e9);
}

/* The raw floor of read()/write(): memcpy from/to a populated mapping. */
static double raw_copy_pass(unsigned char *map, bool write, unsigned long long bytes)
{
	unsigned long long off;
	double t0 = now_ns();

	for (off = 0; off < bytes; off += RW_CHUNK) {
		if (write)
			memcpy(map + off, rwbuf, RW_CHUNK);
		else
			memcpy(rwbuf, map + off, RW_CHUNK);
	}
	__atomic_store_n(&sink, rwbuf[17] + map[bytes - 1], __ATOMIC_RELAXED);
	return bytes / MIB / ((now_ns() - t0) / 1e9);
}

static void record(int path, int op, double v, long long faults, bool counted)
{
	struct sample *s = &res[path][op];

	if (!counted || s->n >= MAX_REPS)
		return;
	s->v[s->n++] = v;
	s->minflt = faults;
	s->pte_faults = pte_faults;
}

static int by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const struct sample *s, double *lo, double *hi)
{
	double v[MAX_REPS];

	memcpy(v, s->v, s->n * sizeof(v[0]));
	qsort(v, s->n, sizeof(v[0]), by_double);
	*lo = v[0];
	*hi = v[s->n - 1];
	return s->n % 2 ? v[s->n / 2] : (v[s->n / 2 - 1] + v[s->n / 2]) / 2;
}

/* The raw device a fault pattern of a raw path runs on. */
static int raw_fd_for(int path, int op)
{
	if (op_pud(op))
		return path == P_RAW_CXL ? cxl1g_fd : raw1g_fd;
	if (path == P_RAW_CXL)
		return op_pmd(op) ? cxl2m_fd : cxl4k_fd;
	return op_pmd(op) ? raw2m_fd : raw4k_fd;
}

/* The raw path a path's ratio is taken to: the same memory, raw. */
static int raw_of(int path)
{
	return path >= P_RAW_CXL ? P_RAW_CXL : P_RAW;
}

static bool pud_path(int path)
{
	return path == P_RAW || path == P_FAMFS1 || path == P_RAW_CXL || path == P_FAMFS_CXL;
}

/*
 * One repetition of every fault pattern on every path: the paths back to
 * back for each pattern, starting with a different path each round, so
 * that drift in the emulator's speed neither separates the figures being
 * compared nor favours one path.
 */
static void fault_round(int round, bool counted)
{
	long long faults;
	int k, path, op;
	double v;

	for (op = 0; op < O_READ; op++) {
		for (k = 0; k < NPATHS; k++) {
			path = (round + k) % NPATHS;
			if (op_pud(op) && !pud_path(path))
				continue;
			v = fault_pass(path, op, &faults);
			record(path, op, v, faults, counted);
			if (op_clean(op) && raw_of(path) != path && counted) {
				struct sample *s = &fsync_res[path][op_pmd(op)];

				if (s->n < MAX_REPS)
					s->v[s->n++] = fsync_ns;
			}
		}
	}
}

static void rw_round(bool counted, unsigned char *raw_map, unsigned char *cxl_map)
{
	unsigned long long bytes;
	unsigned char *map;
	int path;

	for (path = 0; path < NPATHS; path++) {
		bytes = raw_of(path) == P_RAW_CXL ? RW_BYTES_CXL : RW_BYTES;
		if (raw_of(path) == path) {
			map = path == P_RAW ? raw_map : cxl_map;
			record(path, O_READ, raw_copy_pass(map, false, bytes), 0, counted);
			record(path, O_WRITE, raw_copy_pass(map, true, bytes), 0, counted);
			continue;
		}
		record(path, O_READ, rw_pass(fds[path], false, bytes), 0, counted);
		record(path, O_WRITE, rw_pass(fds[path], true, bytes), 0, counted);
	}
}

static void print_table(bool use_min)
{
	double m[NPATHS], lo, hi, raw;
	int path, op;

	fprintf(out, "\n%s of %d, ns per fault (MiB/s for read/write), ratio to raw", use_min ?
		"minimum" : "median", reps);
	fprintf(out, " (to raw-cxl for the CXL columns):\n");
	fprintf(out, "%-15s", "op");
	for (path = 0; path < NPATHS; path++)
		fprintf(out, " %20s", path_names[path]);
	fprintf(out, "\n");
	for (op = 0; op < NOPS; op++) {
		fprintf(out, "%-15s", op_names[op]);
		for (path = 0; path < NPATHS; path++) {
			if (!res[path][op].n)
				continue;
			m[path] = median(&res[path][op], &lo, &hi);
			/* the best case of a rate is its maximum */
			if (use_min)
				m[path] = op >= O_READ ? hi : lo;
		}
		for (path = 0; path < NPATHS; path++) {
			char cell[32];

			if (!res[path][op].n) {
				fprintf(out, " %20s", "-");
				continue;
			}
			raw = m[raw_of(path)];
			/* "!": not mapped at the pattern's size (fault_window()) */
			snprintf(cell, sizeof(cell), "%s%.0f (%.2fx)",
				 (op_pmd(op) || op_pud(op)) && res[path][op].pte_faults ? "!" : "",
				 m[path], m[path] / raw);
			fprintf(out, " %20s", cell);
		}
		fprintf(out, "\n");
	}
	fprintf(out, "(! before a PMD figure: the path mapped those blocks with PTEs; before\n");
	fprintf(out, "a PUD figure: it mapped the window with PMDs or PTEs; - not run)\n");
}

static void print_lines(void)
{
	double lo, hi, raw;
	int path, op;

	fprintf(out, "\n");
	for (op = 0; op < NOPS; op++) {
		for (path = 0; path < NPATHS; path++) {
			const struct sample *s = &res[path][op];
			double med;

			if (!s->n)
				continue;
			raw = median(&res[raw_of(path)][op], &lo, &hi);
			med = median(s, &lo, &hi);
			fprintf(out, "bench: path=%s op=%s unit=%s", path_names[path],
				op_names[op], op >= O_READ ? "MiB/s" : "ns");
			fprintf(out, " median=%.1f min=%.1f max=%.1f ratio_raw=%.3f reps=%d",
				med, lo, hi, med / raw, s->n);
			if (op < O_READ)
				fprintf(out, " minflt=%lld expect=%d", s->minflt,
					op_pud(op) ? 1 : op_pmd(op) ? NPMD : NPTE);
			if (op_pmd(op))
				fprintf(out, " pte_mapped_blocks=%lld", s->pte_faults / PMD_PASSES);
			if (op_pud(op))
				fprintf(out, " not_pud_mapped=%lld", s->pte_faults);
			fprintf(out, "\n");
		}
	}
}

/* What the clean patterns' fsync() calls cost, per entry written back. */
static void print_fsync(void)
{
	double lo, hi;
	int path, k;

	fprintf(out, "\nfsync() before each *-write-clean window, median ns per dirty entry\n");
	fprintf(out, "written back (%d PTE or %d PMD entries of the window before):\n", NPTE,
		NPMD);
	for (path = 0; path < NPATHS; path++) {
		if (!fsync_res[path][0].n)
			continue;
		fprintf(out, "  %-14s", path_names[path]);
		for (k = 0; k < 2; k++)
			fprintf(out, "  %s %8.0f", k ? "pmd" : "pte",
				median(&fsync_res[path][k], &lo, &hi));
		fprintf(out, "\n");
	}
	for (path = 0; path < NPATHS; path++) {
		for (k = 0; k < 2 && fsync_res[path][k].n; k++) {
			double med = median(&fsync_res[path][k], &lo, &hi);

			fprintf(out, "bench: path=%s op=fsync-%s unit=ns-per-entry",
				path_names[path], k ? "pmd" : "pte");
			fprintf(out, " median=%.1f min=%.1f max=%.1f reps=%d\n", med, lo, hi,
				fsync_res[path][k].n);
		}
	}
}

/* open(): first on the connection, first of a new inode, again, plain fuse. */
static void open_bench(const char *manifest)
{
	struct sample first_dev = { 0 }, first = { 0 }, again = { 0 }, plain = { 0 };
	static const char * const no_fmap[] = { "--no-fmap", NULL };
	char name[16], p[PATH_MAX];
	struct famfs_mount m;
	double t, lo, hi;
	struct stat sb;
	int r, i, fd, pass;

	for (r = 0; r <= reps; r++) {
		for (pass = 0; pass < 2; pass++) {
			if (famfs_mount_start(&m, manifest, pass ? no_fmap : NULL, true, NULL))
				die("open bench mount");
			/* LOOKUPs first: only OPEN (+ GET_FMAP, GET_DAXDEV) is timed */
			for (i = 0; i < NOPEN; i++) {
				snprintf(p, sizeof(p), "%s/o%03d", m.mnt, i);
				if (stat(p, &sb))
					die("stat");
			}
			for (i = 0; i < 2 * NOPEN; i++) {
				snprintf(name, sizeof(name), "o%03d", i % NOPEN);
				t = now_ns();
				fd = open_in(&m, name, O_RDWR);
				if (fd < 0)
					die("open");
				t = now_ns() - t;
				close(fd);
				if (!r)
					continue;
				if (pass)
					plain.v[r - 1] += t / (2 * NOPEN);
				else if (i == 0)
					first_dev.v[r - 1] = t;
				else if (i < NOPEN)
					first.v[r - 1] += t / (NOPEN - 1);
				else
					again.v[r - 1] += t / NOPEN;
			}
			famfs_mount_stop(&m, NULL);
		}
	}
	first_dev.n = reps;
	first.n = reps;
	again.n = reps;
	plain.n = reps;
	fprintf(out, "\nopen() in us, median of %d:\n", reps);
	fprintf(out, "  first of the connection (GET_FMAP, GET_DAXDEV) %8.1f\n",
		median(&first_dev, &lo, &hi) / 1e3);
	fprintf(out, "  first of an inode (GET_FMAP)                   %8.1f\n",
		median(&first, &lo, &hi) / 1e3);
	fprintf(out, "  again (fmap cached on the inode)               %8.1f\n",
		median(&again, &lo, &hi) / 1e3);
	fprintf(out, "  plain fuse file                                %8.1f\n",
		median(&plain, &lo, &hi) / 1e3);
	fprintf(out, "bench: path=famfs op=open-first-conn unit=us median=%.2f reps=%d\n",
		median(&first_dev, &lo, &hi) / 1e3, reps);
	fprintf(out, "bench: path=famfs op=open-first-inode unit=us median=%.2f reps=%d\n",
		median(&first, &lo, &hi) / 1e3, reps);
	fprintf(out, "bench: path=famfs op=open-cached unit=us median=%.2f reps=%d\n",
		median(&again, &lo, &hi) / 1e3, reps);
	fprintf(out, "bench: path=fuse op=open-plain unit=us median=%.2f reps=%d\n",
		median(&plain, &lo, &hi) / 1e3, reps);
}

/* The module's iomap_begin time against the cost of the faults it served. */
static void iomap_share(void)
{
	static const int ops[] = { O_PTE_RRND, O_PMD_RRND };
	static const int paths[] = { P_FAMFS1, P_FAMFS_MANY, P_FAMFS_ILV, P_FAMFS_CXL };
	unsigned long long calls, ns, clock_ns;
	struct sample share, fault, body;
	double call, off;
	char buf[128];
	long long faults;
	double lo, hi;
	int path, i, k, r;

	fprintf(out, "\niomap_begin, median of %d: ns per call with timing on, less the\n",
		reps);
	fprintf(out, "clock's own cost, against ns per fault with timing off (the table):\n");
	for (i = 0; i < (int)ARRAY_SIZE(paths); i++) {
		path = paths[i];
		for (k = 0; k < 2; k++) {
			memset(&share, 0, sizeof(share));
			memset(&fault, 0, sizeof(fault));
			memset(&body, 0, sizeof(body));
			/* the fault's cost with timing off, from the table */
			off = median(&res[path][ops[k]], &lo, &hi);
			settle(path, ops[k]);	/* its untimed window stays uncounted */
			for (r = 0; r < reps; r++) {
				if (famfs_write_str(DBG "/iomap_stats", "0") ||
				    famfs_write_str(DBG "/iomap_timing", "1"))
					die(DBG);
				fault.v[r] = fault_pass(path, ops[k], &faults);
				famfs_write_str(DBG "/iomap_timing", "0");
				if (read_file(DBG "/iomap_stats", buf, sizeof(buf)) < 0 ||
				    sscanf(buf, "calls %llu ns %llu clock_ns %llu", &calls, &ns,
					   &clock_ns) != 3 || !calls)
					die("iomap_stats");
				call = (double)ns / calls;
				body.v[r] = call > clock_ns ? call - clock_ns : 0;
				share.v[r] = 100.0 * body.v[r] / off;
				fprintf(out, "bench: path=%s op=%s-iomap unit=ns",
					path_names[path], op_names[ops[k]]);
				fprintf(out, " per_call=%.1f clock=%llu", call, clock_ns);
				fprintf(out, " calls=%llu faults=%lld rep=%d\n", calls, faults, r);
			}
			share.n = reps;
			fault.n = reps;
			body.n = reps;
			fprintf(out, "  %-14s %-14s %6.0f ns of %6.0f ns/fault: %5.2f%%",
				path_names[path], op_names[ops[k]], median(&body, &lo, &hi), off,
				median(&share, &lo, &hi));
			fprintf(out, " (fault %.0f ns with timing on)\n", median(&fault, &lo, &hi));
			median(&res[path][ops[k]], &lo, &hi);
			off = lo;
			median(&body, &lo, &hi);
			fprintf(out, "  %-14s %-14s minimum: %6.0f ns of %6.0f ns/fault: %5.2f%%\n",
				path_names[path], op_names[ops[k]], lo, off, 100.0 * lo / off);
			fprintf(out, "bench: path=%s op=%s-iomap-share unit=%%",
				path_names[path], op_names[ops[k]]);
			/* median() sets lo and hi: call it before they are read */
			call = median(&share, &lo, &hi);
			fprintf(out, " median=%.3f min=%.3f max=%.3f reps=%d\n", call, lo, hi,
				reps);
			median(&res[path][ops[k]], &lo, &hi);
			off = lo;
			median(&body, &lo, &hi);
			fprintf(out, "bench: path=%s op=%s-iomap-share-min unit=%% value=%.3f\n",
				path_names[path], op_names[ops[k]], 100.0 * lo / off);
		}
	}
}

/*
 * Profile mode (-P, make profile): the kernel's function profiler
 * (CONFIG_FUNCTION_PROFILER with the function graph tracer, the profile
 * kernel variant) over the patterns below on the raw device, famfs and
 * ext4, restricted to the fault path's functions (filters[]; or
 * FAMFS_PROFILE_FILTER, patterns separated by spaces as set_ftrace_filter
 * takes them). Printed per function: calls and time per fault, callees
 * included (graph-time); and the fault's cost with the profiler off,
 * measured before it is switched on. Each traced call adds the tracer's
 * own cost to its callers' times (about 300 emulated ns: see the time of
 * a trivial leaf such as dax_get_private), so read the times as an upper
 * bound of where the time goes and the calls as exact.
 *
 * The profiler is switched on once for the whole run: each switch
 * rewrites kernel text, and under TCG a second switch-on crashed the
 * guest (scripts/bench.sh boots one vCPU: with two, even the first did).
 * A window's figures are the difference of trace_stat read before and
 * after it; first-touch patterns evict outside those reads.
 */
#define TRACING "/sys/kernel/tracing"
#define MAX_FNS 384

static const char * const filters[] = {
	"handle_mm_fault", "lock_vma_under_rcu", "__handle_mm_fault", "handle_pte_fault",
	"do_fault", "__do_fault", "do_read_fault", "do_shared_fault", "do_pte_missing",
	"create_huge_pmd", "wp_huge_pmd", "do_huge_pmd_wp_page", "*dax*",
	"grab_mapping_entry", "get_next_unlocked_entry", "fuse_fmap_*", "iomap_iter",
	"iomap_iter_advance", ":mod:famfs_rs", "vmf_insert*", "insert_pmd", "insert_pfn*",
	"insert_page*", "folio_add_file_rmap*", "__folio_add_file_rmap", "set_pmd_at",
	"__mark_inode_dirty", "prep_compound_page", "ext4_*", "__ext4_*", "jbd2_*",
	"__jbd2_*", "dev_dax_*", "__dev_dax_*", "__pte_alloc", "__pmd_alloc",
	"__pte_offset_map*", "file_update_time", "fault_dirty_shared_page", "xa_load",
};

static const int prof_ops[] = { O_PTE_RSEQ, O_PTE_RRND, O_PTE_WRND, O_PMD_RRND, O_PMD_WRND,
				O_PTE_RFIRST, O_PMD_RFIRST, O_PMD_WFIRST };
static const int prof_paths[] = { P_RAW, P_FAMFS1, P_EXT4 };
#define NPOPS ARRAY_SIZE(prof_ops)
#define NPPATHS ARRAY_SIZE(prof_paths)

struct prof_fn {
	char name[128];
	double hits, incl_ns;
};

struct prof {
	struct prof_fn fn[MAX_FNS];
	int n;
	long long faults;
	double off, on;
};

static struct prof profs[NPOPS][NPPATHS];
static struct prof_fn snap[2][MAX_FNS];
static int nsnap[2];

static void tracing_set(const char *file, const char *val)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), TRACING "/%s", file);
	if (famfs_write_str(p, val))
		die(p);
}

static struct prof_fn *fn_in(struct prof_fn *a, int *n, const char *name)
{
	int i;

	for (i = 0; i < *n && strcmp(a[i].name, name); i++)
		;
	if (i == *n) {
		if (*n == MAX_FNS)
			return NULL;
		memset(&a[i], 0, sizeof(a[i]));
		snprintf(a[i].name, sizeof(a[i].name), "%s", name);
		(*n)++;
	}
	return &a[i];
}

/* The profiler's totals so far, summed over the CPUs, into snap[k]. */
static void read_stats(int k)
{
	char p[PATH_MAX], line[512], name[128];
	struct prof_fn *f;
	unsigned long hits;
	FILE *fp;
	double us;
	int cpu;

	nsnap[k] = 0;
	for (cpu = 0;; cpu++) {
		snprintf(p, sizeof(p), TRACING "/trace_stat/function%d", cpu);
		fp = fopen(p, "r");
		if (!fp)
			break;
		while (fgets(line, sizeof(line), fp)) {
			if (sscanf(line, " %127s %lu %lf us", name, &hits, &us) != 3)
				continue;
			f = fn_in(snap[k], &nsnap[k], name);
			if (f) {
				f->hits += hits;
				f->incl_ns += us * 1e3;
			}
		}
		fclose(fp);
	}
}

/* One window of @path, @op under the profiler: the change, added to @pr. */
static void profile_window(struct prof *pr, int path, int op, int n)
{
	struct prof_fn *a, *b;
	long long f;
	double d;
	int i, j;

	if (op_first(op))
		evict(path);
	read_stats(0);
	pr->on += fault_window(fd_for(path, op), op, &f) / n;
	read_stats(1);
	pr->faults += f;
	for (i = 0; i < nsnap[1]; i++) {
		b = &snap[1][i];
		for (j = 0; j < nsnap[0] && strcmp(snap[0][j].name, b->name); j++)
			;
		a = j < nsnap[0] ? &snap[0][j] : NULL;
		d = b->incl_ns - (a ? a->incl_ns : 0);
		if (b->hits == (a ? a->hits : 0))
			continue;
		b = fn_in(pr->fn, &pr->n, b->name);
		if (!b)
			continue;
		b->hits += snap[1][i].hits - (a ? a->hits : 0);
		b->incl_ns += d;
	}
}

static int by_incl(const void *a, const void *b)
{
	const struct prof_fn *x = a, *y = b;

	return x->incl_ns < y->incl_ns ? 1 : x->incl_ns > y->incl_ns ? -1 : 0;
}

static void profile_print(struct prof *pr, int path, int op)
{
	double calls = 0;
	int i;

	for (i = 0; i < pr->n; i++) {
		pr->fn[i].hits /= pr->faults;
		pr->fn[i].incl_ns /= pr->faults;
		calls += pr->fn[i].hits;
	}
	qsort(pr->fn, pr->n, sizeof(pr->fn[0]), by_incl);
	fprintf(out, "\nprofile %s %s: %.0f ns/fault with the profiler off, %.0f on;",
		path_names[path], op_names[op], pr->off, pr->on);
	fprintf(out, " %lld faults, %.1f traced calls per fault\n", pr->faults, calls);
	fprintf(out, "  %-32s %8s %10s\n", "function", "calls", "ns");
	for (i = 0; i < pr->n; i++) {
		if (pr->fn[i].hits < 0.01)
			continue;
		fprintf(out, "  %-32s %8.2f %10.0f\n", pr->fn[i].name, pr->fn[i].hits,
			pr->fn[i].incl_ns);
		fprintf(out, "profile: path=%s op=%s fn=%s calls=%.3f ns=%.1f\n",
			path_names[path], op_names[op], pr->fn[i].name, pr->fn[i].hits,
			pr->fn[i].incl_ns);
	}
	fprintf(out, "profile: path=%s op=%s total off_ns=%.1f on_ns=%.1f calls=%.2f\n",
		path_names[path], op_names[op], pr->off, pr->on, calls);
}

static void profile(void)
{
	unsigned int i, j, w, n;
	const char *pat;
	char p[PATH_MAX];
	long long faults;
	char *env;
	int fd;

	/* The cost with the profiler off, before it is ever switched on. */
	for (i = 0; i < NPOPS; i++)
		for (j = 0; j < NPPATHS; j++) {
			fault_pass(prof_paths[j], prof_ops[i], &faults);	/* warm */
			profs[i][j].off = fault_pass(prof_paths[j], prof_ops[i], &faults);
		}

	snprintf(p, sizeof(p), TRACING "/set_ftrace_filter");
	fd = open(p, O_WRONLY | O_TRUNC);	/* empty */
	if (fd < 0)
		die(p);
	close(fd);
	/* FAMFS_PROFILE_FILTER: patterns of your own, separated by spaces */
	env = getenv("FAMFS_PROFILE_FILTER");
	for (i = 0;; i++) {
		if (env)
			pat = strtok(i ? NULL : env, " ");
		else
			pat = i < ARRAY_SIZE(filters) ? filters[i] : NULL;
		if (!pat)
			break;
		fd = open(p, O_WRONLY | O_APPEND);
		/* a pattern that matches nothing in this kernel is refused: skip it */
		if (fd < 0 || write(fd, pat, strlen(pat)) < 0)
			fprintf(stderr, "famfs_bench: no function matches %s\n", pat);
		if (fd >= 0)
			close(fd);
	}
	tracing_set("options/sleep-time", "0");
	tracing_set("options/graph-time", "1");
	tracing_set("function_profile_enabled", "1");
	for (i = 0; i < NPOPS; i++) {
		for (j = 0; j < NPPATHS; j++) {
			n = op_passes(prof_ops[i]);
			fprintf(stderr, "famfs_bench: profiling %s %s\n",
				path_names[prof_paths[j]], op_names[prof_ops[i]]);
			settle(prof_paths[j], prof_ops[i]);
			for (w = 0; w < n; w++)
				profile_window(&profs[i][j], prof_paths[j], prof_ops[i], n);
		}
	}
	tracing_set("function_profile_enabled", "0");
	for (i = 0; i < NPOPS; i++)
		for (j = 0; j < NPPATHS; j++)
			profile_print(&profs[i][j], prof_paths[j], prof_ops[i]);
}

int main(int argc, char **argv)
{
	char manifest[] = "/tmp/bench.manifest", p[PATH_MAX];
	unsigned char *raw_map, *cxl_map;
	bool prof = false;
	int c, i, r;

	out = stdout;
	while ((c = getopt(argc, argv, "Pr:")) != -1) {
		if (c == 'r')
			reps = atoi(optarg);
		else if (c == 'P')
			prof = true;
		else
			return 2;
	}
	if (reps < 1 || reps >= MAX_REPS)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	find_devices();
	fprintf(out, "famfs_bench: B1 %s, B2 %s, raw 2M %s, raw 4K %s, raw 1G %s, ext4 %s;", b1,
		b2, r2m, r4k, r1g, EXT4_DIR);
	fprintf(out, " CXL: C %s, raw 2M %s, raw 4K %s, raw 1G %s\n", c1, c2m, c4k, c1g);
	fprintf(out, "famfs_bench: %d repetitions after a warm-up\n", reps);

	for (i = 0; i < NPTE; i++)
		pte_seq[i] = i;
	for (i = 0; i < NPMD; i++)
		pmd_seq[i] = i;
	memcpy(pmd_rnd, pmd_seq, sizeof(pmd_rnd));
	shuffle(pmd_rnd, NPMD);
	{
		/* NPTE distinct random pages of the window */
		static unsigned int all[WINDOW / PAGE];

		for (i = 0; i < (int)(WINDOW / PAGE); i++)
			all[i] = i;
		shuffle(all, WINDOW / PAGE);
		memcpy(pte_rnd, all, sizeof(pte_rnd));
	}
	rwbuf = malloc(RW_CHUNK);
	if (!rwbuf)
		die("malloc");
	memset(rwbuf, 0x5a, RW_CHUNK);

	write_manifest(manifest);
	if (famfs_mount_start(&fam, manifest, NULL, true, NULL))
		die("famfs mount");
	fds[P_FAMFS1] = open_in(&fam, "one", O_RDWR);
	fds[P_FAMFS_MANY] = open_in(&fam, "many", O_RDWR);
	fds[P_FAMFS_ILV] = open_in(&fam, "ilv", O_RDWR);
	fds[P_FAMFS_CXL] = open_in(&fam, "cxl", O_RDWR);
	snprintf(p, sizeof(p), "%s/f", EXT4_DIR);
	fds[P_EXT4] = open(p, O_RDWR);
	snprintf(p, sizeof(p), "/dev/%s", r2m);
	raw2m_fd = open(p, O_RDWR);
	snprintf(p, sizeof(p), "/dev/%s", r4k);
	raw4k_fd = open(p, O_RDWR);
	fds[P_RAW] = raw2m_fd;
	snprintf(p, sizeof(p), "/dev/%s", c2m);
	cxl2m_fd = open(p, O_RDWR);
	snprintf(p, sizeof(p), "/dev/%s", c4k);
	cxl4k_fd = open(p, O_RDWR);
	fds[P_RAW_CXL] = cxl2m_fd;
	snprintf(p, sizeof(p), "/dev/%s", r1g);
	raw1g_fd = open(p, O_RDWR);
	snprintf(p, sizeof(p), "/dev/%s", c1g);
	cxl1g_fd = open(p, O_RDWR);
	if (raw1g_fd < 0 || cxl1g_fd < 0)
		die("raw 1 GiB-aligned device");
	for (i = 0; i < NPATHS; i++)
		if (fds[i] < 0)
			die(path_names[i]);
	if (raw4k_fd < 0)
		die(r4k);
	if (cxl4k_fd < 0)
		die(c4k);

	/* the raw copy floor: a populated 2 MiB-aligned raw mapping */
	raw_map = mmap(NULL, RW_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		       raw2m_fd, 0);
	if (raw_map == MAP_FAILED)
		die("raw map");
	cxl_map = mmap(NULL, RW_BYTES_CXL, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		       cxl2m_fd, 0);
	if (cxl_map == MAP_FAILED)
		die("raw CXL map");

	if (prof) {
		profile();
		famfs_mount_stop(&fam, NULL);
		return 0;
	}
	for (r = 0; r <= reps; r++) {
		fault_round(r, r > 0);
		rw_round(r > 0, raw_map, cxl_map);
		fprintf(stderr, "famfs_bench: round %d of %d done\n", r, reps);
	}
	print_table(false);
	print_table(true);
	print_lines();
	print_fsync();
	iomap_share();
	for (i = P_FAMFS1; i <= P_FAMFS_ILV; i++)
		close(fds[i]);
	close(fds[P_FAMFS_CXL]);
	famfs_mount_stop(&fam, NULL);
	open_bench(manifest);
	munmap(raw_map, RW_BYTES);
	munmap(cxl_map, RW_BYTES_CXL);
	unlink(manifest);
	return 0;
}
