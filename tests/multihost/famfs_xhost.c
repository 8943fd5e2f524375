// SPDX-License-Identifier: GPL-2.0
/*
 * famfs_xhost - the cross-host test: two guests, one memory
 *
 *   famfs_xhost a|b|a2 MOUNTPOINT CONTROL-SOCKET
 *
 * scripts/multihost.sh boots two guests whose CXL RAM device (daxdev 0)
 * and second NVDIMM (daxdev 1) are backed by the same host files; each
 * runs tests/guest/multihost.sh, which mounts famfs-rs there with its own
 * famfs_server --shared (host a the master, host b a client) and runs
 * this program. The hosts meet only in that memory: the namespace comes
 * to b through the log the master writes (famfs_log.h), and the two
 * programs step through the test in lock-step through the file "xsync",
 * where each host posts a phase number in its own cache line. Every store
 * another host must see is flushed, every load of another host's data is
 * preceded by an invalidation (famfs_flush(), famfs_invalidate();
 * Documentation/multihost.rst says why QEMU would not notice if they were
 * missing and real CXL memory would).
 *
 *  1  a: the namespace is up.                 b: found xsync by rescan.
 *  2  a writes a pattern into "simple" (CXL) and "striped" (CXL and
 *     NVDIMM chunks): half through PTE, half through PMD mappings; b reads
 *     it through the opposite kinds of mapping, then writes its own
 *     pattern, which a reads (phase 3).
 *  4  a produces 100,000 records into a ring in "ring", b consumes them:
 *     sequence numbers, per-record and stream checksums.
 *  5  a creates "late" through its server; b finds it by rescan, with
 *     the fmap a's server has (CRC), and reads what a wrote there.
 *  6  b holds "simple" open; a creates "intruder" over simple's blocks;
 *     b's kernel refuses to open it (EBUSY) and simple still works.
 *  7  a appends records to "journal" until scripts/multihost.sh kills its
 *     QEMU (a host crash) after "crash-point"; b sees a's count stop,
 *     reads back every record a published and goes on working (phase 8).
 *  9  a2 (host a booted again, master of the same namespace, with no
 *     files in its manifest) replays the log, finds every file and reads
 *     what was stored: b's pattern, the journal up to the crash.
 * 10  a2 poisons a page of simple (memory failure) and unbinds its NVDIMM
 *     daxdev: a2 gets SIGBUS there; b reads and writes both files intact.
 * 11  a2 appends a log entry with a valid CRC whose text holds a newline:
 *     a rescan fails with EINVAL on both hosts, their servers answer on,
 *     the files work.
 * 12  a2 changes a byte of a committed entry: the same with EUCLEAN.
 *
 * Prints "famfs-xhost: ROLE: ok|FAIL ..." per check and last
 * "famfs-xhost: ROLE: N passed, N failed"; exit status 0 if all passed.
 */
#include <stdint.h>
#include <sys/resource.h>
#include "famfs_test.h"
#include "server/famfs_log.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif
#ifndef MADV_HWPOISON
#define MADV_HWPOISON 100
#endif

#define MIB		(1024UL * 1024)
#define PMD		(2 * MIB)
#define PAGE		4096UL
#define FILE_MIB	8		/* simple and striped */
#define RING_BYTES	(4 * MIB)
#define RING_SLOT0	4096
#define RING_SLOTS	((RING_BYTES - RING_SLOT0) / 64)
#define RING_RECORDS	100000ULL
#define JOURNAL_CRASH	2000		/* records before "crash-point" */
#define WAIT_S		300		/* for the other host, per phase */
#define WAIT_REBOOT_S	900		/* for host a to boot again */

#define HOSTILE_TEXT	"file evil 4M simple 0:200M:2M\n0:202M:2M"
#define HOSTILE_WHAT	"an appended entry holding a newline"
#define CORRUPT_WHAT	"an entry whose CRC does not match"

/* the seeds of the patterns (famfs_pattern()) */
enum { SEED_A = 11, SEED_B = 22, SEED_LATE = 33, SEED_B2 = 44 };

struct xline {
	__u64 phase;
	__u64 v[7];
};

struct ring_rec {
	__u64 seq;
	__u32 len;
	__u32 crc;
	unsigned char payload[48];
};

struct ring_head {
	__u64 head;		/* records produced (host a) */
	__u64 pad[7];
	__u64 tail;		/* records consumed (host b) */
	__u64 pad2[7];
};

static const char *role;
static const char *mnt;
static struct famfs_mount srv;	/* only .ctl: the server's control socket */
static struct xline *lines;	/* xsync: [0] host a, [1] host b */
static struct xline *me, *peer;
static int passes, fails;

static void report(bool ok, const char *fmt, ...) __printf(2, 3);
static void report(bool ok, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		passes++;
	else
		fails++;
	printf("famfs-xhost: %s: %s ", role, ok ? "ok" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* What happened, not a check: printed, not counted. */
static void info(const char *fmt, ...) __printf(1, 2);
static void info(const char *fmt, ...)
{
	va_list ap;

	printf("famfs-xhost: %s: ", role);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void __noreturn finish(void)
{
	printf("famfs-xhost: %s: %d passed, %d failed\n", role, passes, fails);
	fflush(stdout);
	exit(fails ? 1 : 0);
}

#define fatal(fmt, ...) do { \
	report(false, fmt, ##__VA_ARGS__); \
	finish(); \
} while (0)

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static void path_of(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", mnt, name);
}

/*
 * Map file @name (len bytes) read-write at a 2 MiB-aligned address, so
 * that the kernel may use PMD mappings where the madvise() allows it.
 */
static unsigned char *map_file(const char *name, size_t len)
{
	char path[PATH_MAX];
	unsigned char *p, *a;
	int fd;

	path_of(path, sizeof(path), name);
	fd = open(path, O_RDWR);
	if (fd < 0)
		fatal("open %s: %s", path, strerror(errno));
	p = mmap(NULL, len + PMD, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fatal("mmap: %s", strerror(errno));
	a = (unsigned char *)(((uintptr_t)p + PMD - 1) & ~(PMD - 1));
	munmap(p, a - p);
	munmap(a + len, p + PMD - a);
	p = mmap(a, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		fatal("mmap %s: %s", path, strerror(errno));
	return p;
}

/* Post phase @phase on this host's line, after its values. */
static void post(__u64 phase, __u64 v0, __u64 v1)
{
	me->v[0] = v0;
	me->v[1] = v1;
	famfs_flush(me, sizeof(*me));
	__atomic_store_n(&me->phase, phase, __ATOMIC_RELEASE);
	famfs_flush(&me->phase, sizeof(me->phase));
	printf("famfs-xhost: %s: phase %llu\n", role, (unsigned long long)phase);
	fflush(stdout);
}

/* Wait (at most @secs) for the other host to post @phase. */
static void wait_peer(__u64 phase, int secs)
{
	long long end = famfs_now_ms() + secs * 1000LL;

	for (;;) {
		famfs_invalidate(peer, sizeof(*peer));
		if (__atomic_load_n(&peer->phase, __ATOMIC_ACQUIRE) >= phase)
			return;
		if (famfs_now_ms() > end)
			fatal("the other host did not reach phase %llu in %d s (it is at %llu)",
			      (unsigned long long)phase, secs,
			      (unsigned long long)peer->phase);
		usleep(2000);
	}
}

/*
 * Write pattern @seed into @name (FILE_MIB MiB) and flush it to memory,
 * or read it and count the bytes that differ: host a through PTE mappings
 * for the first half and PMD mappings for the second, host b the other
 * way round, so that what one host stores through PTEs the other loads
 * through a PMD and the reverse. (Each host keeps its split: once a 2 MiB
 * range of a file has 4 KiB DAX entries, fs-dax serves it with PTEs until
 * the inode goes, whatever the mapping asks for.) Checks the kinds of
 * mapping by the faults taken: 1024 for 4 MiB of PTEs, a few for PMDs.
 */
static void rw_pattern(const char *name, unsigned int seed, bool write)
{
	bool swap = role[0] == 'b';
	size_t len = FILE_MIB * MIB, half = len / 2, off, bad = 0, sigbus = 0;
	unsigned char *map = map_file(name, len), want[PAGE], got[PAGE];
	long f0, faults[2];
	int h;

	for (h = 0; h < 2; h++) {
		bool pte = (h == 0) != swap;

		if (madvise(map + h * half, half, pte ? MADV_NOHUGEPAGE : MADV_HUGEPAGE))
			fatal("madvise: %s", strerror(errno));
	}
	for (h = 0; h < 2; h++) {
		f0 = minflt();
		if (!write)
			famfs_invalidate(map + h * half, half);
		for (off = h * half; off < (h + 1) * half; off += PAGE) {
			famfs_pattern(want, PAGE, off, seed);
			if (write) {
				if (famfs_map_copy(map + off, want, PAGE))
					sigbus++;
				continue;
			}
			if (famfs_map_copy(got, map + off, PAGE)) {
				sigbus++;
				continue;
			}
			for (size_t i = 0; i < PAGE; i++)
				bad += got[i] != want[i];
		}
		if (write)
			famfs_flush(map + h * half, half);
		faults[h] = minflt() - f0;
	}
	munmap(map, len);
	report(!bad && !sigbus,
	       "%s %s: %zu MiB %s pattern %u (%s half PTE, %s half PMD): %zu bytes differ, %zu SIGBUS",
	       write ? "wrote" : "read", name, len / MIB,
	       write ? "with" : "against", seed, swap ? "second" : "first",
	       swap ? "first" : "second", bad, sigbus);
	for (h = 0; h < 2; h++) {
		bool pte = (h == 0) != swap;

		if (pte)
			report(faults[h] >= (long)(half / PAGE),
			       "%s: %ld faults for the PTE half (>= %lu)", name, faults[h],
			       half / PAGE);
		else
			report(faults[h] <= 8,
			       "%s: %ld faults for the PMD half (<= 8: PMD mappings)", name,
			       faults[h]);
	}
}

/* Does @name hold pattern @seed (read with PMD mappings)? Bytes that differ. */
static size_t differ(const char *name, size_t len, unsigned int seed, size_t *sigbus)
{
	unsigned char *map = map_file(name, len), want[PAGE], got[PAGE];
	size_t off, bad = 0;

	*sigbus = 0;
	famfs_invalidate(map, len);
	for (off = 0; off < len; off += PAGE) {
		famfs_pattern(want, PAGE, off, seed);
		if (famfs_map_copy(got, map + off, PAGE)) {
			(*sigbus)++;
			continue;
		}
		for (size_t i = 0; i < PAGE; i++)
			bad += got[i] != want[i];
	}
	munmap(map, len);
	return bad;
}

static void ctl(const char *what, char *reply, size_t size)
{
	int rc = famfs_ctl_reply(&srv, reply, size, "%s", what);

	if (rc)
		fatal("control '%s': %d (%s)", what, rc, reply);
}

/* rescan until @name exists (the master may not have written it yet) */
static void rescan_for(const char *name, int secs)
{
	long long end = famfs_now_ms() + secs * 1000LL;
	char path[PATH_MAX], reply[512];
	struct stat st;
	int rc, n = 0;

	path_of(path, sizeof(path), name);
	for (;;) {
		rc = famfs_ctl_reply(&srv, reply, sizeof(reply), "rescan");
		n++;
		if (!rc && !stat(path, &st))
			break;
		if (rc && rc != ENODATA)
			fatal("rescan: %d (%s)", rc, reply);
		if (famfs_now_ms() > end)
			fatal("no %s after %d rescans in %d s", name, n, secs);
		usleep(200000);
	}
	info("%s found after %d rescan(s) (server: %s)", name, n, reply);
}

/* the fmap the server answers for @name: CRC-32 and length */
static void fmap_crc(const char *name, __u64 *crc, __u64 *len)
{
	char cmd[128], reply[512];
	unsigned int c;
	size_t l;

	snprintf(cmd, sizeof(cmd), "fmap-crc %s", name);
	ctl(cmd, reply, sizeof(reply));
	if (sscanf(reply, "ok %x %zu", &c, &l) != 2)
		fatal("fmap-crc %s: '%s'", name, reply);
	*crc = c;
	*len = l;
}

/* ---- the ring (phase 4) ---- */

static void ring_payload(__u64 seq, struct ring_rec *r)
{
	__u64 x = seq * 0x9e3779b97f4a7c15ULL + 1;

	r->seq = seq;
	r->len = 1 + seq % sizeof(r->payload);
	for (unsigned int i = 0; i < sizeof(r->payload); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		r->payload[i] = i < r->len ? (unsigned char)x : 0;
	}
	r->crc = famfs_crc32(0, r->payload, r->len) ^ (__u32)seq;
}

static void ring_produce(void)
{
	unsigned char *map = map_file("ring", RING_BYTES);
	struct ring_head *h = (struct ring_head *)map;
	struct ring_rec *slot = (struct ring_rec *)(map + RING_SLOT0), r;
	__u64 seq, tail = 0, waits = 0;
	__u32 stream = 0;
	long long t0 = famfs_now_ms(), end = t0 + WAIT_S * 1000LL;

	for (seq = 0; seq < RING_RECORDS; seq++) {
		while (seq - tail >= RING_SLOTS) {
			/* full: what has b consumed? */
			famfs_invalidate(&h->tail, sizeof(h->tail));
			tail = __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE);
			waits++;
			if (famfs_now_ms() > end)
				fatal("ring: b consumed %llu of %llu records in %d s",
				      (unsigned long long)tail, (unsigned long long)RING_RECORDS,
				      WAIT_S);
			if (seq - tail >= RING_SLOTS)
				usleep(100);
		}
		ring_payload(seq, &r);
		stream = famfs_crc32(stream, r.payload, r.len);
		slot[seq % RING_SLOTS] = r;
		/* the record reaches memory before the head that publishes it */
		famfs_flush(&slot[seq % RING_SLOTS], sizeof(r));
		__atomic_store_n(&h->head, seq + 1, __ATOMIC_RELEASE);
		famfs_flush(&h->head, sizeof(h->head));
	}
	info("ring: produced %llu records in %lld ms (%llu waits for room), stream crc %08x",
	     (unsigned long long)RING_RECORDS, famfs_now_ms() - t0,
	     (unsigned long long)waits, stream);
	post(4, stream, RING_RECORDS);
	munmap(map, RING_BYTES);
}

static void ring_consume(void)
{
	unsigned char *map = map_file("ring", RING_BYTES);
	struct ring_head *h = (struct ring_head *)map;
	struct ring_rec *slot = (struct ring_rec *)(map + RING_SLOT0), want, got;
	__u64 seq, head = 0, bad_seq = 0, bad_crc = 0, bad_data = 0;
	__u32 stream = 0;
	long long t0 = famfs_now_ms(), end = t0 + WAIT_S * 1000LL;

	for (seq = 0; seq < RING_RECORDS; seq++) {
		while (seq >= head) {
			famfs_invalidate(&h->head, sizeof(h->head));
			head = __atomic_load_n(&h->head, __ATOMIC_ACQUIRE);
			if (famfs_now_ms() > end)
				fatal("ring: %llu of %llu records arrived in %d s",
				      (unsigned long long)seq, (unsigned long long)RING_RECORDS,
				      WAIT_S);
			if (seq >= head)
				usleep(100);
		}
		/* a's record, not a copy this host's cache kept */
		famfs_invalidate(&slot[seq % RING_SLOTS], sizeof(got));
		got = slot[seq % RING_SLOTS];
		ring_payload(seq, &want);
		if (got.seq != seq)
			bad_seq++;
		else if (got.len > sizeof(got.payload) ||
			 got.crc != (famfs_crc32(0, got.payload, got.len) ^ (__u32)seq))
			bad_crc++;
		else if (memcmp(&got, &want, sizeof(got)))
			bad_data++;
		stream = famfs_crc32(stream, got.payload,
				     got.len <= sizeof(got.payload) ? got.len : 0);
		if ((seq + 1) % 256 == 0 || seq + 1 == RING_RECORDS) {
			__atomic_store_n(&h->tail, seq + 1, __ATOMIC_RELEASE);
			famfs_flush(&h->tail, sizeof(h->tail));
		}
	}
	wait_peer(4, WAIT_S);
	report(!bad_seq && !bad_crc && !bad_data,
	       "ring: received %llu records in %lld ms: %llu out of sequence, %llu bad checksums, %llu wrong payloads",
	       (unsigned long long)seq, famfs_now_ms() - t0, (unsigned long long)bad_seq,
	       (unsigned long long)bad_crc, (unsigned long long)bad_data);
	report(stream == peer->v[0] && peer->v[1] == RING_RECORDS,
	       "ring: stream crc %08x, a sent %08x over %llu records", stream,
	       (unsigned int)peer->v[0], (unsigned long long)peer->v[1]);
	munmap(map, RING_BYTES);
	post(4, seq, stream);
}

/* ---- the journal (phase 7): a's records until its host dies ---- */

static __u64 journal_val(__u64 i)
{
	return i * 0x2545f4914f6cdd1dULL ^ 0x5851f42d4c957f2dULL;
}

static void __noreturn journal_write(void)
{
	__u64 *j = (__u64 *)map_file("journal", 4 * MIB), i;

	post(7, 0, 0);
	for (i = 0; i < 4 * MIB / 16; i++) {
		j[2 * i] = i;
		j[2 * i + 1] = journal_val(i);
		famfs_flush(&j[2 * i], 16);
		/* the count after the record: what b may rely on */
		me->v[0] = i + 1;
		famfs_flush(&me->v[0], sizeof(me->v[0]));
		if (i + 1 == JOURNAL_CRASH) {
			printf("famfs-xhost: %s: crash-point (%d records stored, writing on)\n",
			       role, JOURNAL_CRASH);
			fflush(stdout);
		}
		if (i + 1 > JOURNAL_CRASH)
			usleep(1000);
	}
	/* the host is meant to be killed long before this */
	for (;;)
		pause();
}

/* Records [0, n) of the journal as a wrote them? The bad ones. */
static __u64 journal_check(__u64 n)
{
	__u64 *j = (__u64 *)map_file("journal", 4 * MIB), i, bad = 0;

	famfs_invalidate(j, n * 16);
	for (i = 0; i < n; i++)
		bad += j[2 * i] != i || j[2 * i + 1] != journal_val(i);
	munmap(j, 4 * MIB);
	return bad;
}

static void open_sync(void)
{
	lines = (struct xline *)map_file("xsync", PMD);
	me = &lines[role[0] == 'a' ? 0 : 1];
	peer = &lines[role[0] == 'a' ? 1 : 0];
}

/*
 * The log has an entry the server must refuse (@what): a rescan fails
 * with @want (on the master too: it does not write over what it cannot
 * read), the server still answers, and the files it has still work.
 */
static void log_corrupted(const char *what, int want)
{
	char reply[512];
	size_t d, sb;
	int rc;

	rc = famfs_ctl_reply(&srv, reply, sizeof(reply), "rescan");
	report(rc == want, "rescan of a log with %s: %d (%s), want %d", what, rc, reply,
	       want);
	rc = famfs_ctl_reply(&srv, reply, sizeof(reply), "ping");
	report(!rc, "the server still answers: %s", reply);
	d = differ("late", PMD, SEED_LATE, &sb);
	report(!d && !sb, "late still reads: %zu bytes differ, %zu SIGBUS", d, sb);
}

static void host_a(void)
{
	__u64 crc, len;
	char reply[512];

	open_sync();
	/* a fresh namespace: the lines start at 0 (the memory is new) */
	post(1, 0, 0);
	wait_peer(1, WAIT_S);

	/* 2, 3: patterns both ways */
	rw_pattern("simple", SEED_A, true);
	rw_pattern("striped", SEED_A, true);
	post(2, 0, 0);
	wait_peer(2, WAIT_S);
	rw_pattern("simple", SEED_B, false);
	rw_pattern("striped", SEED_B, false);

	/* 4: the ring, empty */
	{
		unsigned char *m = map_file("ring", PMD);

		memset(m, 0, PAGE);
		famfs_flush(m, PAGE);
		munmap(m, PMD);
	}
	post(3, 0, 0);
	wait_peer(3, WAIT_S);
	ring_produce();
	wait_peer(4, WAIT_S);	/* b has checked the ring against our values */

	/* 5: a file made after b mounted */
	ctl("create file late 2M simple 0:128M:2M", reply, sizeof(reply));
	info("created late: %s", reply);
	{
		unsigned char *m = map_file("late", PMD), buf[PAGE];

		for (size_t off = 0; off < PMD; off += PAGE) {
			famfs_pattern(buf, PAGE, off, SEED_LATE);
			memcpy(m + off, buf, PAGE);
		}
		famfs_flush(m, PMD);
		munmap(m, PMD);
	}
	fmap_crc("late", &crc, &len);
	post(5, crc, len);
	wait_peer(5, WAIT_S);

	/* 6: an fmap over blocks b has open */
	ctl("create file intruder 2M simple 0:18M:2M", reply, sizeof(reply));
	info("created intruder over simple's blocks: %s", reply);
	post(6, 0, 0);
	wait_peer(6, WAIT_S);

	/* 7: the crash */
	journal_write();
}

static void host_b(void)
{
	__u64 crc, len, n, last, bad;
	long long changed, end;
	size_t d, sb;
	char path[PATH_MAX];
	int fd, simple_fd, rc;

	rescan_for("xsync", WAIT_S);
	open_sync();
	wait_peer(1, WAIT_S);
	rescan_for("striped", WAIT_S);
	post(1, 0, 0);

	wait_peer(2, WAIT_S);
	rw_pattern("simple", SEED_A, false);
	rw_pattern("striped", SEED_A, false);
	rw_pattern("simple", SEED_B, true);
	rw_pattern("striped", SEED_B, true);
	post(2, 0, 0);

	wait_peer(3, WAIT_S);
	post(3, 0, 0);
	ring_consume();

	wait_peer(5, WAIT_S);
	rescan_for("late", 60);
	fmap_crc("late", &crc, &len);
	report(crc == peer->v[0] && len == peer->v[1],
	       "late: this server's fmap (crc %08x, %llu bytes) is a's (crc %08x, %llu bytes)",
	       (unsigned int)crc, (unsigned long long)len, (unsigned int)peer->v[0],
	       (unsigned long long)peer->v[1]);
	d = differ("late", PMD, SEED_LATE, &sb);
	report(!d && !sb, "late: read a's 2 MiB: %zu bytes differ, %zu SIGBUS", d, sb);
	path_of(path, sizeof(path), "simple");
	simple_fd = open(path, O_RDWR);
	report(simple_fd >= 0, "simple held open (%s)", simple_fd < 0 ? strerror(errno) : "ok");
	post(5, 0, 0);

	wait_peer(6, WAIT_S);
	rescan_for("intruder", 60);
	path_of(path, sizeof(path), "intruder");
	fd = open(path, O_RDWR);
	report(fd < 0 && errno == EBUSY,
	       "intruder (over simple's blocks, which this host has open) refused: %s",
	       fd < 0 ? strerror(errno) : "it opened");
	if (fd >= 0)
		close(fd);
	d = differ("simple", FILE_MIB * MIB, SEED_B, &sb);
	report(!d && !sb, "simple still reads this host's pattern: %zu bytes differ", d);
	post(6, 0, 0);

	/* 7, 8: a's host dies while it writes the journal */
	wait_peer(7, WAIT_S);
	last = 0;
	changed = famfs_now_ms();
	end = changed + WAIT_S * 1000LL;
	for (;;) {
		famfs_invalidate(&peer->v[0], sizeof(peer->v[0]));
		n = __atomic_load_n(&peer->v[0], __ATOMIC_ACQUIRE);
		if (n != last) {
			last = n;
			changed = famfs_now_ms();
		} else if (n >= JOURNAL_CRASH && famfs_now_ms() - changed > 5000) {
			break;
		}
		if (famfs_now_ms() > end)
			fatal("host a did not stop writing (at %llu records)",
			      (unsigned long long)n);
		usleep(10000);
	}
	bad = journal_check(n);
	report(!bad,
	       "a's journal count stopped at %llu (its host was killed): all read back, %llu bad",
	       (unsigned long long)n, (unsigned long long)bad);
	d = differ("simple", FILE_MIB * MIB, SEED_B, &sb);
	report(!d && !sb, "simple after a's crash: %zu bytes differ, %zu SIGBUS", d, sb);
	d = differ("striped", FILE_MIB * MIB, SEED_B, &sb);
	report(!d && !sb, "striped after a's crash: %zu bytes differ, %zu SIGBUS", d, sb);
	post(8, n, 0);

	/* 9, 10: a again; its memory failure and device removal stay there */
	wait_peer(10, WAIT_REBOOT_S);
	d = differ("simple", FILE_MIB * MIB, SEED_B, &sb);
	report(!d && !sb,
	       "simple after a2's memory failure (offset %llu): %zu bytes differ, %zu SIGBUS",
	       (unsigned long long)peer->v[0], d, sb);
	d = differ("striped", FILE_MIB * MIB, SEED_B, &sb);
	report(!d && !sb, "striped after a2 unbound its NVDIMM: %zu bytes differ, %zu SIGBUS",
	       d, sb);
	rw_pattern("simple", SEED_B2, true);
	rw_pattern("striped", SEED_B2, true);
	d = differ("striped", FILE_MIB * MIB, SEED_B2, &sb);
	report(!d && !sb, "striped rewritten on b: %zu bytes differ", d);
	close(simple_fd);
	post(10, 0, 0);

	/* 11, 12: a hostile or corrupt log fails the rescan, nothing else */
	wait_peer(11, WAIT_S);
	log_corrupted(HOSTILE_WHAT, EINVAL);
	post(11, 0, 0);
	wait_peer(12, WAIT_S);
	log_corrupted(CORRUPT_WHAT, EUCLEAN);

	/*
	 * The control for phase 6: with simple closed and its inode evicted,
	 * the same kernel opens intruder (so the EBUSY was the overlap). The
	 * inode goes only once the server has answered the last RELEASE,
	 * which fuse sends in the background: drop the caches until it has
	 * (10 s at most).
	 */
	path_of(path, sizeof(path), "intruder");
	for (rc = 0; rc < 200; rc++) {
		famfs_write_str("/proc/sys/vm/drop_caches", "3");
		fd = open(path, O_RDWR);
		if (fd >= 0 || errno != EBUSY)
			break;
		usleep(50000);
	}
	report(fd >= 0, "intruder opens once simple is closed and evicted (%d tries): %s",
	       rc + 1, fd < 0 ? strerror(errno) : "ok");
	if (fd >= 0)
		close(fd);
}

static void host_a2(const char *nvdimm_dax)
{
	static const char * const names[] = {
		"xsync", "simple", "striped", "ring", "journal", "late", "intruder",
	};
	unsigned char *m, page[PAGE];
	__u64 n, bad;
	size_t d, sb;
	char path[PATH_MAX];
	struct stat st;
	unsigned int i, found = 0;
	int rc, ws;
	pid_t pid;

	/* the server's first reading of the log may still run: one more */
	rescan_for("xsync", WAIT_S);
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		path_of(path, sizeof(path), names[i]);
		found += !stat(path, &st);
	}
	report(found == ARRAY_SIZE(names),
	       "the namespace again, from the log alone: %u of %zu files", found,
	       ARRAY_SIZE(names));
	open_sync();
	wait_peer(8, WAIT_S);
	n = peer->v[0];
	famfs_invalidate(&me->v[0], sizeof(me->v[0]));
	report(me->v[0] >= n, "journal: a published %llu records before the crash, b saw %llu",
	       (unsigned long long)me->v[0], (unsigned long long)n);
	bad = journal_check(me->v[0]);
	report(!bad, "journal: %llu records read back after the reboot, %llu bad",
	       (unsigned long long)me->v[0], (unsigned long long)bad);
	d = differ("simple", FILE_MIB * MIB, SEED_B, &sb);
	report(!d && !sb, "simple holds b's pattern after the reboot: %zu bytes differ", d);
	d = differ("striped", FILE_MIB * MIB, SEED_B, &sb);
	report(!d && !sb, "striped holds b's pattern after the reboot: %zu bytes differ", d);
	post(9, 0, 0);

	/* a memory failure on this host, in simple at 5 MiB + 8 KiB */
	m = map_file("simple", FILE_MIB * MIB);
	famfs_invalidate(m, FILE_MIB * MIB);
	rc = famfs_map_copy(page, m + 5 * MIB + 2 * PAGE, PAGE);
	report(!rc, "simple mapped, page at 5 MiB + 8 KiB read");
	/* the poisoner maps the page, so memory_failure() kills it: a child */
	fflush(stdout);
	pid = fork();
	if (!pid) {
		unsigned char *c = map_file("simple", FILE_MIB * MIB);

		famfs_invalidate(c + 5 * MIB + 2 * PAGE, PAGE);
		if (madvise(c + 5 * MIB + 2 * PAGE, PAGE, MADV_HWPOISON))
			_exit(1);
		_exit(0);
	}
	ws = 0;
	waitpid(pid, &ws, 0);
	report(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGBUS,
	       "a child's madvise(MADV_HWPOISON) on it: killed by SIGBUS (status %#x)", ws);
	report(famfs_map_copy(page, m + 5 * MIB + 2 * PAGE, PAGE) == -EFAULT,
	       "this host's next access to the page: SIGBUS");
	report(!famfs_map_copy(page, m + 5 * MIB + 3 * PAGE, PAGE),
	       "the page after it still reads here");
	munmap(m, FILE_MIB * MIB);

	/* this host's NVDIMM daxdev goes away */
	m = map_file("striped", FILE_MIB * MIB);
	famfs_invalidate(m, FILE_MIB * MIB);
	snprintf(path, sizeof(path), "/sys/bus/dax/drivers/fsdev_dax/unbind");
	rc = famfs_write_str(path, nvdimm_dax);
	report(!rc, "unbound %s (daxdev 1) from fsdev_dax: %s", nvdimm_dax,
	       rc ? strerror(-rc) : "ok");
	/* chunk 1 of striped (2 MiB chunks, strips dev 0, dev 1) is on it */
	report(famfs_map_copy(page, m + 2 * MIB, PAGE) == -EFAULT,
	       "striped's chunk on %s: SIGBUS on this host", nvdimm_dax);
	munmap(m, FILE_MIB * MIB);
	post(10, 5 * MIB + 2 * PAGE, 0);
	wait_peer(10, WAIT_S);
	info("b finished after a2's memory failure and device removal");

	/*
	 * 11: a hostile host appends a well-formed entry (right number, CRC,
	 * count) whose text holds a newline: as one line it is a valid file
	 * with two extents, split at the newline its second part is no line.
	 */
	m = map_file(FAMFS_LOG_NAME, FAMFS_LOG_SIZE);
	{
		struct famfs_log_head *h = (struct famfs_log_head *)m;
		struct famfs_log_entry *e;
		__u64 n;

		famfs_invalidate(h, sizeof(*h));
		n = h->committed;
		e = (struct famfs_log_entry *)(m + FAMFS_LOG_SLOT0) + n;
		memset(e, 0, sizeof(*e));
		e->seq = n;
		e->len = snprintf(e->text, sizeof(e->text), "%s", HOSTILE_TEXT);
		e->crc = famfs_log_entry_crc(e);
		famfs_flush(e, sizeof(*e));
		h->committed = n + 1;
		famfs_flush(&h->committed, sizeof(h->committed));
	}
	post(11, 0, 0);
	log_corrupted(HOSTILE_WHAT, EINVAL);
	wait_peer(11, WAIT_S);

	/* 12: one byte of a committed entry changes (a bad write) */
	famfs_invalidate(m + FAMFS_LOG_SLOT0 + FAMFS_LOG_ENTRY_SIZE, FAMFS_LOG_ENTRY_SIZE);
	((struct famfs_log_entry *)(m + FAMFS_LOG_SLOT0))[1].text[6] ^= 0x20;
	famfs_flush(m + FAMFS_LOG_SLOT0 + FAMFS_LOG_ENTRY_SIZE, FAMFS_LOG_ENTRY_SIZE);
	munmap(m, FAMFS_LOG_SIZE);
	post(12, 0, 0);
	log_corrupted(CORRUPT_WHAT, EUCLEAN);
}

/*
 * make run-multihost: "put FILE TEXT" stores TEXT at the start of FILE
 * through a mapping and flushes it; "get FILE" rescans until FILE exists
 * and prints the line at its start once there is one (60 s at most).
 */
static int demo(const char *cmd, const char *name, const char *text)
{
	long long end = famfs_now_ms() + 60000;
	char *m, line[256];

	if (!strcmp(cmd, "put")) {
		m = (char *)map_file(name, PMD);
		snprintf(m, 256, "%s\n", text);
		famfs_flush(m, 256);
		printf("famfs-xhost: %s: stored in %s/%s: %s\n", role, mnt, name, text);
		return 0;
	}
	rescan_for(name, 60);
	m = (char *)map_file(name, PMD);
	for (;;) {
		famfs_invalidate(m, 256);
		memcpy(line, m, sizeof(line));
		line[sizeof(line) - 1] = 0;
		if (strchr(line, '\n'))
			break;
		if (famfs_now_ms() > end) {
			printf("famfs-xhost: %s: nothing in %s after 60 s\n", role, name);
			return 1;
		}
		usleep(10000);
	}
	*strchr(line, '\n') = 0;
	printf("famfs-xhost: %s: read from %s/%s: %s\n", role, mnt, name, line);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 5 && (!strcmp(argv[1], "put") || !strcmp(argv[1], "get"))) {
		role = argv[1];
		mnt = argv[2];
		snprintf(srv.ctl, sizeof(srv.ctl), "%s", argv[3]);
		return demo(argv[1], argv[4], argc > 5 ? argv[5] : "");
	}
	if (argc < 4 || argc > 5 ||
	    (strcmp(argv[1], "a") && strcmp(argv[1], "b") && strcmp(argv[1], "a2"))) {
		fprintf(stderr, "usage: famfs_xhost a|b|a2 MOUNTPOINT CONTROL [NVDIMM-DAX]\n"
			"       famfs_xhost put|get MOUNTPOINT CONTROL FILE [TEXT]\n");
		return 2;
	}
	role = argv[1];
	mnt = argv[2];
	snprintf(srv.ctl, sizeof(srv.ctl), "%s", argv[3]);
	if (!strcmp(role, "a"))
		host_a();
	else if (!strcmp(role, "b"))
		host_b();
	else
		host_a2(argc == 5 ? argv[4] : "dax2.0");
	finish();
}
