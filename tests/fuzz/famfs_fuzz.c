// SPDX-License-Identifier: GPL-2.0
/*
 * famfs_fuzz.c - a randomized hostile fuse server for famfs-rs, with the
 * clients and device events it runs against (make fuzz, Documentation/fuzz.rst)
 *
 *   famfs_fuzz [--seed S] [--seconds N] [--round R] [--clients K] [--ops N]
 *              [--no-events] [--no-notify] [--dir D]
 *
 * Runs as root in the VM that scripts/vm.sh boots (the devices of
 * /tmp/famfs-devices, famfs_rs loaded). The campaign is a series of
 * rounds; round R of seed S is planned from (S, R) alone: a namespace of
 * a few files and a directory with node ids (reused across files and
 * types at times), attributes, and per node the exact GET_FMAP body the
 * server will send (valid, mutated, or taken from the fmap core's fuzz
 * corpus in /famfs/fuzz), a permutation of the daxdevs behind the fmap
 * indices, the INIT flags, the clients and how the round ends.
 *
 * In a round one mount is served by a forked server that answers every
 * request from its own seeded PRNG: valid replies, mutated ones, errnos,
 * short, oversized, duplicate and misaddressed writes, replies deferred
 * (out of order) or never sent, and notifications at random times. Clients
 * (forked, each seeded) open, read, write, mmap and fault (PTE and PMD),
 * splice, fsync, lock, fork and exit, across user and mount namespaces;
 * the supervisor injects events: inode eviction, daxdev unbind and
 * rebind, memory failure, memory pressure in a small memory cgroup,
 * module unload attempts, server kill and restart on the same
 * connection, SIGSTOP, lazy unmount and abort.
 *
 * The oracle (besides the kernel log, which scripts/vm.sh fails on):
 * every 8-byte word of device memory the files can reach holds an
 * identity, enc(device, offset), written once at the start through a
 * well-behaved mount, and every client write writes the identity again.
 * A read (read(), a fault, splice, copy) that returns data must return
 * the identity of the device word that the node's fmap names for that
 * file offset: a word of any other place is a misdirected mapping, data
 * at an offset the fmap does not cover or past the device's end is a
 * mapping of memory the file does not own, and data read from a device
 * that is unbound is a mapping that survived its device. A round whose
 * clients or server do not exit within the watchdog's time after the
 * connection is aborted is a hang. Every failure stops the campaign and
 * prints the round's per-process logs and its replay (--seed S --round R).
 *
 * Replay: a round's plan and each process's sequence of choices depend on
 * (S, R) only; the interleaving of processes does not, so a replay runs
 * the same operations in about, not exactly, the same order.
 *
 * Last line: "famfs-fuzz: N passed, N failed" (rounds).
 */
#include "famfs_test.h"
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <dirent.h>
#include <sys/sendfile.h>
#include <sys/xattr.h>
#include <linux/famfs_fmap.h>

#ifndef MADV_HWPOISON
#define MADV_HWPOISON 100
#endif
#ifndef BUS_MCEERR_AO
#define BUS_MCEERR_AO 5
#endif
#ifndef FUSE_GET_FMAP
#define FUSE_GET_FMAP FAMFS_OP_GET_FMAP
#define FUSE_GET_DAXDEV FAMFS_OP_GET_DAXDEV
#endif

#define MIB		BIT_ULL(20)
#define ALIGN2M		(2 * MIB)
#define PAGE		4096UL
#define MAX_DEVS	8
#define WINDOW		(32 * MIB)	/* bytes of each device given identities */
#define MAX_NODES	8
#define MAX_IDX		6		/* daxdev indices a plan names */
#define FMAP_BUF	(64 * 1024)
#define MAX_CLIENTS	6
#define MAX_FDS		8
#define MAX_MAPS	6
#define REQ_BUF		(1024 * 1024 + 4096)
#define MAX_WRITE	(128 * 1024)
#define MAX_PENDING	64
#define NR_OPS		64
#define NR_NOTIFY	12
#define MAX_FAIL	8
#define ROOT_ID		1

#ifndef __noreturn
/* (broken in two so that checkpatch does not ask for it in its definition) */
#define __noreturn __attribute__((	\
				 __noreturn__))
#endif
/* one of the values, as the PRNG @r picks */
#define PICK(r, type, ...) ({						\
	static const type __pick[] = { __VA_ARGS__ };			\
	__pick[below(r, ARRAY_SIZE(__pick))];				\
})
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

/* ---------------------------------------------------------------------- */
/* a seeded PRNG (splitmix64): every choice of every process comes from one */

struct rng {
	__u64 s;
};

static __u64 mix64(__u64 z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static __u64 rnd(struct rng *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return mix64(r->s);
}

static __u64 below(struct rng *r, __u64 n)
{
	return n ? rnd(r) % n : 0;
}

static bool chance(struct rng *r, unsigned int pct)
{
	return below(r, 100) < pct;
}

static void rng_init(struct rng *r, __u64 seed, __u64 round, __u64 actor)
{
	r->s = mix64(seed * 0x100000001b3ULL ^ mix64(round + 1) ^ mix64(actor + 0x51));
}

/* ---------------------------------------------------------------------- */
/* what all processes of the campaign share (a MAP_SHARED page set) */

enum { RK_VALID, RK_MUTATED, RK_ERRNO, RK_BAD_ERRNO, RK_DEFER, RK_NEVER, RK_SHORT,
	RK_LONG, RK_TORN, RK_DUP, RK_MISADDRESSED, RK_ANNOUNCE_LIE, NR_RK };
static const char *const rk_name[NR_RK] = {
	"valid", "mutated", "errno", "bad-errno", "deferred", "never", "short",
	"oversized", "torn-write", "duplicate", "misaddressed", "announce-lie",
};

enum { C_OPEN, C_CLOSE, C_PREAD, C_PWRITE, C_MMAP, C_MUNMAP, C_MREAD, C_MWRITE,
	C_MSYNC, C_FSYNC, C_FLOCK, C_POSIX_LOCK, C_SPLICE_READ, C_SPLICE_WRITE,
	C_VMSPLICE, C_FORK, C_STAT, C_READDIR, C_TRUNCATE, C_FALLOCATE, C_MADVISE,
	C_MREMAP, C_MPROTECT, C_SMAPS, C_NAMESPACE_OPS, C_XATTR, C_COPY_RANGE,
	C_SENDFILE, C_USERNS, C_SETUID, C_MNTNS, C_HWPOISON, C_DIRECT, C_LSEEK,
	C_MINCORE, NR_COPS };
static const char *const cop_name[NR_COPS] = {
	"open", "close", "pread", "pwrite", "mmap", "munmap", "map-read", "map-write",
	"msync", "fsync", "flock", "posix-lock", "splice-read", "splice-write",
	"vmsplice", "fork", "stat", "readdir", "truncate", "fallocate", "madvise",
	"mremap", "mprotect", "smaps", "create/unlink/rename", "xattr",
	"copy_file_range", "sendfile", "userns", "setuid", "mntns", "hwpoison",
	"o_direct", "lseek", "mincore",
};

enum { E_DROP_CACHES, E_UNBIND, E_RMMOD, E_ABORT, E_SERVER_RESTART, E_SERVER_STOP,
	E_LAZY_UMOUNT, E_MEM_PRESSURE, E_INJECT, NR_EVENTS };
static const char *const ev_name[NR_EVENTS] = {
	"drop_caches", "daxdev-unbind-rebind", "rmmod-attempt", "abort",
	"server-kill-restart", "server-sigstop", "lazy-umount", "memcg-pressure",
	"memory-failure-inject",
};

struct shared {
	__u64 stop;			/* the round is ending: clients exit */
	__u64 failures;
	char fail[MAX_FAIL][320];
	/* per device: odd while it is unbound (set after unbind returned) */
	__u64 dev_state[MAX_DEVS];
	__u64 fmap_conn;		/* the server granted FUSE_DAX_FMAP */
	__u64 inited;			/* the INIT reply was written */
	__u64 mounted;
	/* counts */
	__u64 req[NR_OPS + 1];
	__u64 rk[NR_RK];
	__u64 notify_sent[NR_NOTIFY];
	__u64 notify_ok[NR_NOTIFY];
	__u64 cop[NR_COPS];
	__u64 cop_ok[NR_COPS];
	__u64 ev[NR_EVENTS];
	__u64 ev_ok[NR_EVENTS];
	__u64 words_checked;
	__u64 words_unchecked;
	__u64 sigbus;
	__u64 open_ok, open_failed;
	__u64 open_errno[140];
	__u64 fmaps_sent, fmaps_valid_sent;
	__u64 rmmod_done;
	/* a page another process may poison: pfn published by a client */
	__u64 inject_pfn;
};

static struct shared *sh;
static const char *actor = "main";
static FILE *logf;
static __u64 opt_seed = 1, opt_round = ~0ULL, opt_ops = 1000000;
static unsigned int opt_seconds = 60, opt_clients;
static bool opt_no_events, opt_no_notify, opt_plan;
static const char *opt_dir = "/tmp/fuzz";
static int exit_timeout_ms = 20000;	/* after an abort, before a hang is called */

static void add(__u64 *c, __u64 n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

static __printf(1, 2) void flog(const char *fmt, ...)
{
	va_list ap;

	if (!logf)
		return;
	va_start(ap, fmt);
	fprintf(logf, "%lld %s: ", famfs_now_ms(), actor);
	vfprintf(logf, fmt, ap);
	fputc('\n', logf);
	va_end(ap);
}

/* A failure of the oracle: recorded for the supervisor, which ends the run. */
static __printf(1, 2) void failure(const char *fmt, ...)
{
	__u64 n = __atomic_fetch_add(&sh->failures, 1, __ATOMIC_RELAXED);
	char msg[320];
	int k;
	va_list ap;

	va_start(ap, fmt);
	k = snprintf(msg, sizeof(msg), "%s: ", actor);
	vsnprintf(msg + k, sizeof(msg) - k, fmt, ap);
	va_end(ap);
	if (n < MAX_FAIL)
		memcpy(sh->fail[n], msg, sizeof(msg));
	flog("FAILURE %s", msg);
	fprintf(stderr, "famfs-fuzz: FAILURE %s\n", msg);
}

static __noreturn __printf(1, 2) void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "famfs-fuzz: %s: ", actor);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static void open_log(__u64 round)
{
	char path[PATH_MAX];

	if (logf)
		fclose(logf);
	snprintf(path, sizeof(path), "%s/r%llu.%s.log", opt_dir, (unsigned long long)round,
		 actor);
	logf = fopen(path, "w");
	if (logf)
		setvbuf(logf, NULL, _IOLBF, 0);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---------------------------------------------------------------------- */
/* the devices, and the identity of each word of them */

struct dev {
	char name[32];		/* dax0.0 */
	char path[48];		/* /dev/dax0.0 */
	__u64 size;
	__u64 window;		/* [0, window) carries identities */
};

static struct dev devs[MAX_DEVS];
static int ndev;

static __u64 enc(int dev, __u64 off)
{
	return mix64(((__u64)(dev + 1) << 52) ^ off ^ 0x66616d6673667a7aULL);
}

static void load_devices(void)
{
	char line[256], kind[32], name[32], drv[32];
	unsigned long long size;
	FILE *f = fopen(FAMFS_DEVICES, "r");

	if (!f)
		die("%s: %s", FAMFS_DEVICES, strerror(errno));
	while (fgets(line, sizeof(line), f) && ndev < MAX_DEVS) {
		if (sscanf(line, "%31s %31s %llu %31s", kind, name, &size, drv) != 4)
			continue;
		if ((strcmp(kind, "pmem") && strcmp(kind, "cxlram")) || strcmp(drv, "fsdev_dax"))
			continue;
		if (size < WINDOW)
			continue;
		snprintf(devs[ndev].name, sizeof(devs[ndev].name), "%s", name);
		snprintf(devs[ndev].path, sizeof(devs[ndev].path), "/dev/%s", name);
		devs[ndev].size = size;
		devs[ndev].window = WINDOW;
		ndev++;
	}
	fclose(f);
	if (ndev < 2)
		die("need 2 fsdev_dax devices of %llu MiB at least, found %d", WINDOW / MIB, ndev);
}

/* ---------------------------------------------------------------------- */
/* the GET_FMAP corpus (the fmap core's, /famfs/fuzz) */

struct blob {
	unsigned char *p;
	size_t len;
};

static struct blob *corpus;
static unsigned int ncorpus;

/* in name order: a replay on another machine picks the same entries */
static void load_corpus(void)
{
	struct dirent **e;
	int n = scandir("/famfs/fuzz", &e, NULL, alphasort);

	for (int k = 0; k < n; k++) {
		char path[PATH_MAX];
		struct stat st;
		int fd;

		if (e[k]->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/famfs/fuzz/%s", e[k]->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		if (!fstat(fd, &st) && st.st_size >= 32 && st.st_size <= FMAP_BUF) {
			corpus = realloc(corpus, (ncorpus + 1) * sizeof(*corpus));
			corpus[ncorpus].p = malloc(st.st_size);
			if (!corpus || !corpus[ncorpus].p)
				die("out of memory");
			if (read(fd, corpus[ncorpus].p, st.st_size) == st.st_size)
				corpus[ncorpus++].len = st.st_size;
		}
		close(fd);
	}
	for (int k = 0; k < n; k++)
		free(e[k]);
	free(e);
}

/* ---------------------------------------------------------------------- */
/* the round's plan */

enum { FK_VALID, FK_MUTATED, FK_CORPUS, FK_LARGE, NR_FK };
static const char *const fk_name[NR_FK] = { "valid", "mutated", "corpus", "large" };
enum { END_UMOUNT, END_LAZY, END_ABORT, NR_END };

struct pnode {
	char name[16];
	__u64 parent;		/* nodeid of the directory it is in */
	__u64 nodeid;
	__u64 gen;
	bool dir;
	__u32 mode;
	__u64 size;		/* what GETATTR says */
	int fkind;
	unsigned char fmap[FMAP_BUF];
	__u32 fmap_len;
};

struct plan {
	__u64 seed, round;
	int nnodes;
	struct pnode node[MAX_NODES];
	int nidx;
	int dev_of[MAX_IDX];		/* fmap devindex -> devs[] */
	bool allow_other, drop_rawio, readdirplus, locks, writeback, extra_flags;
	unsigned int hostile;		/* per mille of replies that are not as asked */
	int end;
	int nclients;
	long duration_ms;
};

static struct plan P;

static void put32(unsigned char *p, __u32 v)
{
	memcpy(p, &v, 4);
}

static void put64(unsigned char *p, __u64 v)
{
	memcpy(p, &v, 8);
}

static __u32 get32(const unsigned char *p)
{
	__u32 v;

	memcpy(&v, p, 4);
	return v;
}

static __u64 get64(const unsigned char *p)
{
	__u64 v;

	memcpy(&v, p, 8);
	return v;
}

static unsigned char *put_ext(unsigned char *p, __u32 idx, __u64 off, __u64 len)
{
	put32(p, idx);
	put32(p + 4, 0);
	put64(p + 8, off);
	put64(p + 16, len);
	return p + 24;
}

/*
 * The 2 MiB chunks of each device's window that the round's valid fmaps
 * took: files get disjoint ranges (an overlap fails the open with EBUSY,
 * famfs's one-owner rule), but for one allocation in ten, which overlaps
 * on purpose.
 */
static __u32 taken[MAX_DEVS];

static __u64 rand_off_on(struct rng *r, __u32 idx, __u64 len)
{
	unsigned int n = len / ALIGN2M, slots = WINDOW / ALIGN2M - n + 1, s0 = below(r, slots);
	__u32 mask = ((1U << n) - 1), *t = &taken[P.dev_of[idx]];

	if (chance(r, 10))
		return s0 * ALIGN2M;
	for (unsigned int i = 0; i < slots; i++) {
		unsigned int s = (s0 + i) % slots;

		if (!(*t & mask << s)) {
			*t |= mask << s;
			return (__u64)s * ALIGN2M;
		}
	}
	return s0 * ALIGN2M;
}

static void gen_fmap(struct rng *r, struct pnode *n, bool large)
{
	unsigned char *p = n->fmap + 32;
	__u32 i, j, next = large ? 170 + below(r, 40) : 1 + below(r, 3);
	__u64 total = 0;
	bool il = !large && chance(r, 40);

	memset(n->fmap, 0, 32);
	n->fmap[0] = FAMFS_FILE_REG;
	n->fmap[2] = FAMFS_FMAP_VERSION;
	put32(n->fmap + 4, il ? FAMFS_EXT_INTERLEAVE : FAMFS_EXT_SIMPLE);
	if (il)
		next = 1 + below(r, 2);
	put32(n->fmap + 8, next);
	for (i = 0; i < next; i++) {
		if (!il) {
			__u64 len = large ? ALIGN2M : ALIGN2M * (1 + below(r, 3));

			__u32 idx = below(r, P.nidx);

			if (large) {
				/*
				 * More extents than the windows hold: past them, one
				 * 2 MiB extent after another (the reads there are
				 * not checked; every device has 500 MiB at least)
				 */
				idx = i % P.nidx;
				p = put_ext(p, idx, WINDOW + (__u64)(i / P.nidx) * ALIGN2M, len);
			} else {
				p = put_ext(p, idx, rand_off_on(r, idx, len), len);
			}
			total += len;
			continue;
		}
		__u32 ns = 1 + below(r, 3);
		__u64 chunk = ALIGN2M * (1 + below(r, 2));
		__u64 rows = 1 + below(r, 3);
		__u64 nbytes = chunk * ns * rows;

		if (i == next - 1 && chance(r, 50))
			nbytes -= ALIGN2M * below(r, chunk * ns * rows / ALIGN2M);
		put32(p, ns);
		put32(p + 4, chunk);
		put64(p + 8, nbytes);
		put64(p + 16, 0);
		p += 24;
		for (j = 0; j < ns; j++) {
			__u32 idx = below(r, P.nidx);

			p = put_ext(p, idx, rand_off_on(r, idx, rows * chunk), rows * chunk);
		}
		total += nbytes;
	}
	n->fmap_len = p - n->fmap;
	n->size = total - (chance(r, 50) ? below(r, ALIGN2M) : 0);
	put64(n->fmap + 16, n->size);
}

static const __u64 interesting[] = {
	0, 1, 4095, 4096, ALIGN2M - 1, ALIGN2M, ALIGN2M + 4096, 4 * MIB, WINDOW,
	WINDOW - ALIGN2M, 1ULL << 31, 1ULL << 32, (1ULL << 32) - ALIGN2M, 1ULL << 40,
	1ULL << 63, ~0ULL, ~0ULL - ALIGN2M + 1, 24, 32, 33, 2, 3, 23, 256,
	(1ULL << 21) + 1, 0x80000000ULL,
};

static void mutate_fmap(struct rng *r, struct pnode *n)
{
	unsigned int k, nmut = 1 + below(r, 3);

	for (k = 0; k < nmut; k++) {
		__u32 len = n->fmap_len, at;

		/* the format-aware mutation, a third of the time */
		switch (chance(r, 30) ? 9 : below(r, 9)) {
		case 9:	/* an extent's or a strip's offset or length, 2 MiB off */
			if (len >= 32 + 24) {
				at = 32 + below(r, (len - 32) / 24) * 24 + (chance(r, 50) ? 8 : 16);
				put64(n->fmap + at, get64(n->fmap + at) +
					(chance(r, 50) ? ALIGN2M : -ALIGN2M));
			}
			break;
		case 0:	/* a bit */
			at = below(r, len);
			n->fmap[at] ^= 1 << below(r, 8);
			break;
		case 1:	/* a 32-bit field */
			at = below(r, len / 4) * 4;
			put32(n->fmap + at, interesting[below(r, ARRAY_SIZE(interesting))]);
			break;
		case 2:	/* a 64-bit field */
			at = below(r, len / 8) * 8;
			if (at + 8 <= len)
				put64(n->fmap + at, interesting[below(r, ARRAY_SIZE(interesting))]);
			break;
		case 3:	/* cut */
			n->fmap_len = below(r, len);
			break;
		case 4:	/* grow */
			at = 1 + below(r, 64);
			if (len + at <= FMAP_BUF) {
				for (__u32 i = 0; i < at; i++)
					n->fmap[len + i] = rnd(r);
				n->fmap_len += at;
			}
			break;
		case 5:	/* nextents off by one */
			put32(n->fmap + 8, get32(n->fmap + 8) + (chance(r, 50) ? 1 : -1));
			break;
		case 6:	/* header type, version, reserved fields */
			at = PICK(r, __u32, 0, 1, 2, 4, 12, 24);
			n->fmap[at] = 1 + below(r, 3);
			break;
		case 7:	/* file size */
			put64(n->fmap + 16, interesting[below(r, ARRAY_SIZE(interesting))]);
			break;
		default: /* a devindex past the plan's, or past the maximum */
			if (len >= 32 + 24 && get32(n->fmap + 4) == FAMFS_EXT_SIMPLE)
				put32(n->fmap + 32, chance(r, 50) ? P.nidx : FAMFS_MAX_DAXDEVS);
			break;
		}
	}
}

static const char *const names[] = { "f0", "f1", "f2", "f3", "f4", "sub", "g0", "g1" };

static void plan_round(__u64 seed, __u64 round)
{
	struct rng r;
	int i, perm[MAX_DEVS];

	memset(&P, 0, sizeof(P));
	memset(taken, 0, sizeof(taken));
	rng_init(&r, seed, round, 0);
	P.seed = seed;
	P.round = round;
	/* fmap indices: a random choice of the devices, a random order */
	for (i = 0; i < ndev; i++)
		perm[i] = i;
	for (i = ndev - 1; i > 0; i--) {
		int j = below(&r, i + 1), t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	P.nidx = 1 + below(&r, ndev < MAX_IDX ? ndev : MAX_IDX);
	for (i = 0; i < P.nidx; i++)
		P.dev_of[i] = perm[i];
	P.nnodes = MAX_NODES;
	for (i = 0; i < P.nnodes; i++) {
		struct pnode *n = &P.node[i];

		snprintf(n->name, sizeof(n->name), "%s", names[i]);
		n->nodeid = 2 + i + below(&r, 3) * 10;
		n->gen = 1 + below(&r, 3);
		n->dir = i == 5;
		n->parent = i >= 6 ? P.node[5].nodeid : ROOT_ID;
		n->mode = n->dir ? S_IFDIR | 0755 : S_IFREG | 0666;
		if (n->dir) {
			n->size = 4096;
			continue;
		}
		n->fkind = FK_VALID;
		switch (below(&r, 20)) {
		case 0: case 1: case 2: case 3:
			n->fkind = FK_MUTATED;
			break;
		case 4: case 5:
			if (ncorpus)
				n->fkind = FK_CORPUS;
			break;
		case 6:
			n->fkind = FK_LARGE;
			break;
		}
		if (n->fkind == FK_CORPUS) {
			const struct blob *b = &corpus[below(&r, ncorpus)];

			memcpy(n->fmap, b->p, b->len);
			n->fmap_len = b->len;
			n->size = b->len >= 24 ? get64(n->fmap + 16) : 0;
			if (chance(&r, 30))
				mutate_fmap(&r, n);
			continue;
		}
		gen_fmap(&r, n, n->fkind == FK_LARGE);
		if (n->fkind == FK_MUTATED)
			mutate_fmap(&r, n);
		if (chance(&r, 10))	/* attributes that disagree with the fmap */
			n->size = interesting[below(&r, ARRAY_SIZE(interesting))];
	}
	/* node ids reused across files, across types, and the root's */
	if (chance(&r, 15))
		P.node[4].nodeid = P.node[below(&r, 4)].nodeid;
	if (chance(&r, 8))
		P.node[5].nodeid = P.node[below(&r, 4)].nodeid;
	if (chance(&r, 4))
		P.node[3].nodeid = ROOT_ID;
	if (chance(&r, 4))
		P.node[7].nodeid = 1ULL << 63 | below(&r, 100);
	P.node[6].parent = P.node[5].nodeid;
	P.node[7].parent = P.node[5].nodeid;
	P.allow_other = chance(&r, 70);
	P.drop_rawio = chance(&r, 7);
	P.readdirplus = chance(&r, 40);
	P.locks = chance(&r, 50);
	P.writeback = chance(&r, 15);
	P.extra_flags = chance(&r, 20);
	P.end = below(&r, NR_END);
	P.hostile = PICK(&r, unsigned int, 15, 40, 80, 180);
	P.nclients = opt_clients ? opt_clients : 2 + below(&r, 3);
	P.duration_ms = 1500 + below(&r, 4500);
}

/* the first node with this id: the one whose fmap the server sends */
static const struct pnode *node_by_id(__u64 nodeid)
{
	for (int i = 0; i < P.nnodes; i++)
		if (P.node[i].nodeid == nodeid)
			return &P.node[i];
	return NULL;
}

static const struct pnode *node_by_name(__u64 parent, const char *name)
{
	for (int i = 0; i < P.nnodes; i++)
		if (P.node[i].parent == parent && !strcmp(P.node[i].name, name))
			return &P.node[i];
	return NULL;
}

/*
 * Resolve file offset @off of the fmap @f (@len bytes) as the protocol
 * defines it: the device (index into devs[]) and its offset. Returns 0,
 * or -1 if the fmap does not name that offset (or cannot be parsed).
 */
static int resolve(const unsigned char *f, __u32 len, __u64 off, int *dev, __u64 *doff)
{
	__u32 next, i, j, type;
	const unsigned char *p = f + 32, *end = f + len;
	__u64 base = 0;

	if (len < 32)
		return -1;
	type = get32(f + 4);
	next = get32(f + 8);
	for (i = 0; i < next; i++) {
		if (type == FAMFS_EXT_SIMPLE) {
			if (p + 24 > end)
				return -1;
			__u32 idx = get32(p);
			__u64 eo = get64(p + 8), el = get64(p + 16);

			p += 24;
			if (off - base < el) {
				if (idx >= (__u32)P.nidx)
					return -1;
				*dev = P.dev_of[idx];
				*doff = eo + (off - base);
				return 0;
			}
			base += el;
			if (base < el)
				return -1;
			continue;
		}
		if (type != FAMFS_EXT_INTERLEAVE || p + 24 > end)
			return -1;
		__u32 ns = get32(p), chunk = get32(p + 4);
		__u64 nbytes = get64(p + 8);
		const unsigned char *strips = p + 24;

		p = strips + (__u64)ns * 24;
		if (p > end || !ns || !chunk)
			return -1;
		if (off - base < nbytes) {
			__u64 local = off - base, cn = local / chunk;
			__u64 stripe = cn / ns;

			j = cn % ns;
			if (get32(strips + j * 24) >= (__u32)P.nidx)
				return -1;
			/* past the strip's length: not named (the strip's own rule) */
			if (stripe * chunk + local % chunk >= get64(strips + j * 24 + 16))
				return -1;
			*dev = P.dev_of[get32(strips + j * 24)];
			*doff = get64(strips + j * 24 + 8) + stripe * chunk + local % chunk;
			return 0;
		}
		base += nbytes;
		if (base < nbytes)
			return -1;
	}
	return -1;
}

enum { X_VAL, X_SKIP, X_NONE };

/* What a read of the 8 bytes at file offset @off (8-aligned) of @nodeid must see. */
static int expect(__u64 nodeid, __u64 off, __u64 *val)
{
	const struct pnode *n = node_by_id(nodeid);
	__u64 doff;
	int dev;

	if (!n || n->dir)
		return X_SKIP;
	if (resolve(n->fmap, n->fmap_len, off, &dev, &doff))
		return X_NONE;
	if (doff >= devs[dev].size || doff + 8 > devs[dev].size)
		return X_NONE;
	if (doff >= devs[dev].window)
		return X_SKIP;
	*val = enc(dev, doff);
	return X_VAL;
}

/* ---------------------------------------------------------------------- */
/* the fuzzing server */

struct pending {
	long long due;		/* 0: never (answered by nobody, or at the end) */
	__u64 unique;
	size_t len;
	unsigned char *buf;
};

struct srv {
	int fd;
	struct rng r;
	bool inited;
	bool fmap;		/* FUSE_DAX_FMAP granted */
	unsigned char *buf;
	struct pending pend[MAX_PENDING];
	__u64 retrieve_unique;
};

static const char *opname(__u32 op)
{
	static const char *const n[NR_OPS] = {
		[FUSE_LOOKUP] = "LOOKUP", [FUSE_FORGET] = "FORGET", [FUSE_GETATTR] = "GETATTR",
		[FUSE_SETATTR] = "SETATTR", [FUSE_READLINK] = "READLINK",
		[FUSE_SYMLINK] = "SYMLINK", [FUSE_MKNOD] = "MKNOD", [FUSE_MKDIR] = "MKDIR",
		[FUSE_UNLINK] = "UNLINK", [FUSE_RMDIR] = "RMDIR", [FUSE_RENAME] = "RENAME",
		[FUSE_LINK] = "LINK", [FUSE_OPEN] = "OPEN", [FUSE_READ] = "READ",
		[FUSE_WRITE] = "WRITE", [FUSE_STATFS] = "STATFS", [FUSE_RELEASE] = "RELEASE",
		[FUSE_FSYNC] = "FSYNC", [FUSE_SETXATTR] = "SETXATTR",
		[FUSE_GETXATTR] = "GETXATTR", [FUSE_LISTXATTR] = "LISTXATTR",
		[FUSE_REMOVEXATTR] = "REMOVEXATTR", [FUSE_FLUSH] = "FLUSH",
		[FUSE_INIT] = "INIT", [FUSE_OPENDIR] = "OPENDIR", [FUSE_READDIR] = "READDIR",
		[FUSE_RELEASEDIR] = "RELEASEDIR", [FUSE_FSYNCDIR] = "FSYNCDIR",
		[FUSE_GETLK] = "GETLK", [FUSE_SETLK] = "SETLK", [FUSE_SETLKW] = "SETLKW",
		[FUSE_ACCESS] = "ACCESS", [FUSE_CREATE] = "CREATE",
		[FUSE_INTERRUPT] = "INTERRUPT", [FUSE_BMAP] = "BMAP", [FUSE_DESTROY] = "DESTROY",
		[FUSE_IOCTL] = "IOCTL", [FUSE_POLL] = "POLL", [FUSE_NOTIFY_REPLY] = "NOTIFY_REPLY",
		[FUSE_BATCH_FORGET] = "BATCH_FORGET", [FUSE_FALLOCATE] = "FALLOCATE",
		[FUSE_READDIRPLUS] = "READDIRPLUS", [FUSE_RENAME2] = "RENAME2",
		[FUSE_LSEEK] = "LSEEK", [FUSE_COPY_FILE_RANGE] = "COPY_FILE_RANGE",
		[FUSE_SETUPMAPPING] = "SETUPMAPPING", [FUSE_REMOVEMAPPING] = "REMOVEMAPPING",
		[FUSE_SYNCFS] = "SYNCFS", [FUSE_TMPFILE] = "TMPFILE", [FUSE_STATX] = "STATX",
		[FUSE_COPY_FILE_RANGE_64] = "COPY_FILE_RANGE_64",
		[FUSE_GET_FMAP] = "GET_FMAP", [FUSE_GET_DAXDEV] = "GET_DAXDEV",
	};

	return op < NR_OPS && n[op] ? n[op] : "other";
}

static const char *const notify_name[NR_NOTIFY] = {
	"code-0", "POLL", "INVAL_INODE", "INVAL_ENTRY", "STORE", "RETRIEVE", "DELETE",
	"RESEND", "INC_EPOCH", "PRUNE", "code-10", "code-unknown",
};

static int emit(struct srv *s, const void *p, size_t len)
{
	ssize_t n = write(s->fd, p, len);

	return n < 0 ? -errno : 0;
}

static size_t frame(unsigned char *out, __u64 unique, int err, const void *data, size_t len)
{
	struct fuse_out_header oh = {
		.len = sizeof(oh) + len, .error = err, .unique = unique,
	};

	memcpy(out, &oh, sizeof(oh));
	if (len)
		memcpy(out + sizeof(oh), data, len);
	return sizeof(oh) + len;
}

static void defer(struct srv *s, long long due, __u64 unique, const unsigned char *f, size_t len)
{
	for (int i = 0; i < MAX_PENDING; i++) {
		struct pending *p = &s->pend[i];

		if (p->buf)
			continue;
		p->buf = malloc(len);
		if (!p->buf)
			return;
		memcpy(p->buf, f, len);
		p->len = len;
		p->due = due;
		p->unique = unique;
		return;
	}
}

static const int errnos[] = {
	-EIO, -ENOENT, -EACCES, -EPERM, -ENOMEM, -EINVAL, -ENOSPC, -EAGAIN, -EINTR,
	-ENOSYS, -EHWPOISON, -ERANGE, -EBUSY, -ENXIO, -EFBIG, -EOVERFLOW, -ESTALE,
	-ENOTCONN, -EROFS, -EDEADLK,
};

/*
 * Answer request @unique with @err and @len bytes of @data, in a way the
 * PRNG picks: as is, an errno, deferred, never, short, oversized, torn,
 * twice or to another unique.
 */
static void respond(struct srv *s, __u64 unique, int err, const void *data, size_t len)
{
	static unsigned char out[REQ_BUF];
	struct rng *r = &s->r;
	unsigned int pick = below(r, 1000);
	size_t n;
	int rc;

	/* the round's hostility: the share of the 178 per mille of odd replies */
	if (pick < 178 && below(r, 178) >= P.hostile)
		pick = 178;

	if (pick < 50) {
		err = errnos[below(r, ARRAY_SIZE(errnos))];
		len = 0;
		add(&sh->rk[RK_ERRNO], 1);
		flog("  -> errno %d", err);
	} else if (pick < 60) {
		err = PICK(r, int, 1, -512, -4096, INT32_MIN, 1000);
		len = 0;
		add(&sh->rk[RK_BAD_ERRNO], 1);
		flog("  -> bad errno %d", err);
	}
	n = frame(out, unique, err, data, len);
	if (pick >= 60 && pick < 110) {
		long long ms = below(r, 100) < 90 ? below(r, 300) : below(r, 3000);

		defer(s, famfs_now_ms() + ms, unique, out, n);
		add(&sh->rk[RK_DEFER], 1);
		flog("  -> deferred %lld ms", ms);
		return;
	}
	if (pick >= 110 && pick < 118) {
		defer(s, 0, unique, out, n);
		add(&sh->rk[RK_NEVER], 1);
		flog("  -> never");
		return;
	}
	if (pick >= 118 && pick < 133 && len) {
		/* a consistent header over fewer bytes */
		size_t k = below(r, len);

		n = frame(out, unique, err, data, k);
		add(&sh->rk[RK_SHORT], 1);
		flog("  -> short %zu of %zu", k, len);
	} else if (pick >= 133 && pick < 148) {
		size_t k = 1 + below(r, 256);

		memset(out + n, 0xa5, k);
		n += k;
		((struct fuse_out_header *)out)->len = n;
		add(&sh->rk[RK_LONG], 1);
		flog("  -> oversized by %zu", k);
	} else if (pick >= 148 && pick < 158) {
		/* the header claims more than is written: the write must fail */
		rc = emit(s, out, n > sizeof(struct fuse_out_header) ? n - 1 : n + 0);
		add(&sh->rk[RK_TORN], 1);
		flog("  -> torn write: %d, then the whole", rc);
	} else if (pick >= 158 && pick < 168) {
		rc = emit(s, out, n);
		add(&sh->rk[RK_DUP], 1);
		flog("  -> duplicate (first %d)", rc);
	} else if (pick >= 168 && pick < 178) {
		__u64 other = unique + 2 * (1 + below(r, 4));

		((struct fuse_out_header *)out)->unique = other;
		rc = emit(s, out, n);
		((struct fuse_out_header *)out)->unique = unique;
		add(&sh->rk[RK_MISADDRESSED], 1);
		flog("  -> first to unique %llu: %d", (unsigned long long)other, rc);
	} else if (pick >= 60) {
		add(&sh->rk[RK_VALID], 1);
	}
	rc = emit(s, out, n);
	if (rc)
		flog("  write: %d", rc);
}

static void fill_attr(struct rng *r, const struct pnode *n, __u64 nodeid, struct fuse_attr *a,
		      bool mutate)
{
	memset(a, 0, sizeof(*a));
	a->ino = nodeid;	/* never mutated: the clients find the node by st_ino */
	a->mode = n ? n->mode : S_IFDIR | 0755;
	a->size = n ? n->size : 4096;
	a->blocks = (a->size + 511) / 512;
	a->nlink = n && !n->dir ? 1 : 2;
	a->blksize = 4096;
	a->atime = 1700000000;
	a->mtime = a->atime;
	a->ctime = a->atime;
	if (!mutate)
		return;
	add(&sh->rk[RK_MUTATED], 1);
	switch (below(r, 8)) {
	case 0:
		a->size = interesting[below(r, ARRAY_SIZE(interesting))];
		break;
	case 1:
		a->mode = PICK(r, __u32, S_IFDIR | 0755, S_IFLNK | 0777, S_IFCHR | 0600, 0,
			       S_IFREG | 07777, S_IFSOCK | 0666, S_IFREG);
		break;
	case 2:
		a->nlink = below(r, 2) ? 0 : ~0U;
		break;
	case 3:
		a->blksize = PICK(r, __u32, 0, 3, 1U << 31, ~0U);
		break;
	case 4:
		a->mtimensec = 2000000000;
		a->mtime = ~0ULL;
		break;
	case 5:
		a->uid = 1000;
		a->gid = 1000;
		a->mode &= ~0077;
		break;
	case 6:
		a->flags = rnd(r);
		break;
	default:
		a->blocks = ~0ULL;
		a->rdev = rnd(r);
		break;
	}
	flog("  attr mutated: mode %o size %llu nlink %u", a->mode,
	     (unsigned long long)a->size, a->nlink);
}

static __u64 valid_ms(struct rng *r)
{
	return PICK(r, __u64, 0, 0, 1, 10, 100, 1000, 100000000);
}

static void entry_reply(struct srv *s, __u64 unique, const struct pnode *n)
{
	struct fuse_entry_out e = { 0 };
	struct rng *r = &s->r;
	bool mut = chance(r, 8);

	e.nodeid = n->nodeid;
	e.generation = n->gen;
	if (chance(r, 3)) {	/* a generation the node did not have */
		e.generation = rnd(r);
		add(&sh->rk[RK_MUTATED], 1);
	}
	if (chance(r, 2)) {	/* another node's id, or none */
		e.nodeid = chance(r, 50) ? P.node[below(r, P.nnodes)].nodeid : 0;
		add(&sh->rk[RK_MUTATED], 1);
	}
	e.entry_valid = valid_ms(r) / 1000;
	e.entry_valid_nsec = valid_ms(r) % 1000 * 1000000;
	e.attr_valid = valid_ms(r) / 1000;
	fill_attr(r, node_by_id(e.nodeid) ? node_by_id(e.nodeid) : n, e.nodeid, &e.attr, mut);
	flog("  entry %s nodeid %llu gen %llu", n->name, (unsigned long long)e.nodeid,
	     (unsigned long long)e.generation);
	respond(s, unique, 0, &e, sizeof(e));
}

/* identity bytes of the file at [off, off + len) for READ and STORE; short where unnamed */
static size_t identity_bytes(__u64 nodeid, __u64 off, size_t len, unsigned char *out)
{
	size_t i;

	for (i = 0; i < len; i++) {
		__u64 w, o = off + i;

		if (expect(nodeid, o & ~7ULL, &w) != X_VAL)
			break;
		out[i] = w >> (8 * (o & 7));
	}
	return i;
}

static void do_init(struct srv *s, const struct fuse_in_header *in, const void *arg)
{
	const struct fuse_init_in *ii = arg;
	struct fuse_init_out o = { 0 };
	unsigned char b[sizeof(struct fuse_out_header) + sizeof(o)];
	struct rng *r = &s->r;
	__u64 offered = ii->flags, want;

	if (ii->flags & FUSE_INIT_EXT)
		offered |= (__u64)ii->flags2 << 32;
	want = FUSE_INIT_EXT | FUSE_DAX_FMAP | FUSE_ASYNC_READ | FUSE_PARALLEL_DIROPS;
	if (P.readdirplus)
		want |= FUSE_DO_READDIRPLUS | (chance(r, 50) ? FUSE_READDIRPLUS_AUTO : 0);
	if (P.locks)
		want |= FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS;
	if (P.writeback)
		want |= FUSE_WRITEBACK_CACHE;
	if (P.extra_flags)
		want |= rnd(r) & (FUSE_HAS_RESEND | FUSE_DIRECT_IO_ALLOW_MMAP |
				  FUSE_EXPORT_SUPPORT |
				  FUSE_AUTO_INVAL_DATA | FUSE_HANDLE_KILLPRIV_V2 |
				  FUSE_SETXATTR_EXT | FUSE_HAS_EXPIRE_ONLY | FUSE_NO_OPEN_SUPPORT |
				  FUSE_NO_OPENDIR_SUPPORT | FUSE_EXPLICIT_INVAL_DATA |
				  FUSE_REQUEST_TIMEOUT | FUSE_MAX_PAGES | FUSE_ATOMIC_O_TRUNC |
				  FUSE_BIG_WRITES | FUSE_SPLICE_READ | FUSE_SPLICE_WRITE |
				  FUSE_SPLICE_MOVE | FUSE_CACHE_SYMLINKS | FUSE_NO_EXPORT_SUPPORT);
	want &= offered;
	if (P.drop_rawio) {
		/* a server without CAP_SYS_RAWIO asks for the fmap all the same */
		struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
		struct __user_cap_data_struct d[2];

		if (!syscall(SYS_capget, &h, d)) {
			d[CAP_SYS_RAWIO / 32].effective &= ~(1U << (CAP_SYS_RAWIO % 32));
			d[CAP_SYS_RAWIO / 32].permitted &= ~(1U << (CAP_SYS_RAWIO % 32));
			if (syscall(SYS_capset, &h, d))
				flog("capset: %s", strerror(errno));
		}
	}
	o.major = FUSE_KERNEL_VERSION;
	o.minor = FUSE_KERNEL_MINOR_VERSION;
	o.flags = want;
	o.flags2 = want >> 32;
	o.max_readahead = ii->max_readahead;
	o.max_write = P.extra_flags ? PICK(r, __u32, 0, 1, 4096, MAX_WRITE, ~0U)
				    : MAX_WRITE;
	o.max_background = below(r, 20);
	o.congestion_threshold = below(r, 20);
	o.time_gran = P.extra_flags ? PICK(r, __u32, 0, 1, 1000, 1000000000, ~0U) : 1;
	o.max_pages = below(r, 300);
	o.request_timeout = below(r, 3) ? 0 : below(r, 30);
	flog("INIT offered %#llx, reply %#llx max_write %u time_gran %u timeout %u",
	     (unsigned long long)offered, (unsigned long long)want, o.max_write, o.time_gran,
	     o.request_timeout);
	s->fmap = want & FUSE_DAX_FMAP;
	__atomic_store_n(&sh->fmap_conn, s->fmap && !P.drop_rawio, __ATOMIC_RELAXED);
	/* INIT is answered whole: a mount that never starts tests little */
	emit(s, b, frame(b, in->unique, 0, &o, sizeof(o)));
	s->inited = true;
	__atomic_store_n(&sh->inited, 1, __ATOMIC_RELEASE);
}

static void do_get_fmap(struct srv *s, const struct fuse_in_header *in, const void *arg, size_t len)
{
	const struct pnode *n = node_by_id(in->nodeid);
	struct fuse_get_fmap_in gi = { 0 };
	unsigned char hdr[32];
	struct rng *r = &s->r;

	memcpy(&gi, arg, len < sizeof(gi) ? len : sizeof(gi));
	if (!n || n->dir) {
		respond(s, in->unique, -ENOENT, NULL, 0);
		return;
	}
	add(&sh->fmaps_sent, 1);
	if (n->fkind == FK_VALID || n->fkind == FK_LARGE)
		add(&sh->fmaps_valid_sent, 1);
	flog("  fmap %s (%s, %u bytes) for a %u-byte buffer", n->name, fk_name[n->fkind],
	     n->fmap_len, gi.size);
	if ((n->fmap_len > gi.size || chance(r, 3)) && n->fmap_len >= 32) {
		/* the announcement: the header, reserved0 = the size (or a lie) */
		__u32 said = n->fmap_len;

		memcpy(hdr, n->fmap, 32);
		if (chance(r, 10)) {
			said = PICK(r, __u32, 0, 31, 32, 4096, FAMFS_FMAP_MAX_SIZE,
				    FAMFS_FMAP_MAX_SIZE + 1, ~0U);
			add(&sh->rk[RK_ANNOUNCE_LIE], 1);
		}
		put32(hdr + 12, said);
		flog("  announce %u", said);
		respond(s, in->unique, 0, hdr, 32);
		return;
	}
	respond(s, in->unique, 0, n->fmap, n->fmap_len);
}

static void do_get_daxdev(struct srv *s, const struct fuse_in_header *in)
{
	struct famfs_daxdev_out o;
	struct rng *r = &s->r;
	size_t len = sizeof(o);

	memset(&o, 0, sizeof(o));
	o.index = in->nodeid;
	if (in->nodeid >= (__u64)P.nidx) {
		respond(s, in->unique, -ENOENT, NULL, 0);
		return;
	}
	snprintf(o.name, sizeof(o.name), "%s", devs[P.dev_of[in->nodeid]].path);
	if (chance(r, 12)) {
		/* a path that is no daxdev of this plan, or a malformed reply */
		switch (below(r, 9)) {
		case 0:
			snprintf(o.name, sizeof(o.name), "/dev/null");
			break;
		case 1:
			snprintf(o.name, sizeof(o.name), "/dev/fuse");
			break;
		case 2:
			snprintf(o.name, sizeof(o.name), "/dev/dax9.9");
			break;
		case 3:
			snprintf(o.name, sizeof(o.name), "%s", devs[P.dev_of[in->nodeid]].name);
			break;
		case 4:
			memset(o.name, 'x', sizeof(o.name));	/* no NUL */
			break;
		case 5:
			snprintf(o.name, sizeof(o.name), "/famfs");
			break;
		case 6:
			len = below(r, sizeof(o));
			break;
		case 7:
			o.index = rnd(r);
			o.reserved = rnd(r);
			break;
		default:
			snprintf(o.name, sizeof(o.name), "/proc/self/root%s",
				 devs[P.dev_of[in->nodeid]].path);
			break;
		}
		add(&sh->rk[RK_MUTATED], 1);
	}
	flog("  daxdev %llu: %.40s (%zu bytes)", (unsigned long long)in->nodeid, o.name, len);
	respond(s, in->unique, 0, &o, len);
}

static void do_readdir(struct srv *s, const struct fuse_in_header *in, const void *arg, bool plus)
{
	const struct fuse_read_in *ri = arg;
	static unsigned char out[65536];
	size_t used = 0, room = ri->size < sizeof(out) ? ri->size : sizeof(out);
	__u64 idx = 0;

	for (int i = -2; i < P.nnodes; i++) {
		const struct pnode *n = i >= 0 ? &P.node[i] : NULL;
		const char *name = i == -2 ? "." : i == -1 ? ".." : n->name;
		size_t nl = strlen(name), ent;
		struct fuse_dirent *d;

		if (n && n->parent != in->nodeid)
			continue;
		if (idx++ < ri->offset)
			continue;
		ent = FUSE_DIRENT_ALIGN(sizeof(*d) + nl);
		if (plus)
			ent += sizeof(struct fuse_entry_out);
		if (used + ent > room)
			break;
		if (plus) {
			struct fuse_entry_out *e = (void *)(out + used);

			memset(e, 0, sizeof(*e));
			if (n) {
				e->nodeid = n->nodeid;
				e->generation = n->gen;
				e->entry_valid = valid_ms(&s->r) / 1000;
				fill_attr(&s->r, n, n->nodeid, &e->attr, chance(&s->r, 5));
			}
			d = (void *)(out + used + sizeof(*e));
		} else {
			d = (void *)(out + used);
		}
		memset(d, 0, FUSE_DIRENT_ALIGN(sizeof(*d) + nl));
		d->ino = n ? n->nodeid : ROOT_ID;
		d->off = idx;
		d->namelen = nl;
		d->type = n && !n->dir ? DT_REG : DT_DIR;
		if (chance(&s->r, 2)) {
			d->namelen = PICK(&s->r, __u32, 0, 1025, ~0U, 255);
			add(&sh->rk[RK_MUTATED], 1);
		}
		memcpy(d->name, name, nl);
		used += ent;
	}
	respond(s, in->unique, 0, out, used);
}

static void do_read(struct srv *s, const struct fuse_in_header *in, const void *arg)
{
	const struct fuse_read_in *ri = arg;
	static unsigned char out[REQ_BUF];
	size_t want = ri->size < MAX_WRITE * 8 ? ri->size : MAX_WRITE * 8;
	size_t got = identity_bytes(in->nodeid, ri->offset, want, out);

	if (got && chance(&s->r, 10))
		got = below(&s->r, got);
	respond(s, in->unique, 0, out, got);
}

static void do_lock(struct srv *s, const struct fuse_in_header *in, const void *arg)
{
	const struct fuse_lk_in *li = arg;
	struct fuse_lk_out lo = { 0 };

	if (in->opcode != FUSE_GETLK) {
		respond(s, in->unique, chance(&s->r, 20) ? -EAGAIN : 0, NULL, 0);
		return;
	}
	lo.lk = li->lk;
	if (chance(&s->r, 60)) {
		lo.lk.type = F_UNLCK;
	} else {
		lo.lk.pid = 4242;
		if (chance(&s->r, 20)) {
			lo.lk.start = rnd(&s->r);
			lo.lk.end = rnd(&s->r);
			lo.lk.type = rnd(&s->r);
			add(&sh->rk[RK_MUTATED], 1);
		}
	}
	respond(s, in->unique, 0, &lo, sizeof(lo));
}

static void do_open(struct srv *s, const struct fuse_in_header *in)
{
	struct fuse_open_out o = { 0 };

	o.fh = rnd(&s->r);
	if (chance(&s->r, 25)) {
		o.open_flags = rnd(&s->r) & (FOPEN_DIRECT_IO | FOPEN_KEEP_CACHE |
					     FOPEN_NONSEEKABLE |
					     FOPEN_CACHE_DIR | FOPEN_STREAM | FOPEN_NOFLUSH |
					     FOPEN_PARALLEL_DIRECT_WRITES | FOPEN_PASSTHROUGH);
		o.backing_id = below(&s->r, 3);
		flog("  open_flags %#x backing_id %d", o.open_flags, o.backing_id);
	}
	respond(s, in->unique, 0, &o, sizeof(o));
}

static void do_create(struct srv *s, const struct fuse_in_header *in, const char *name)
{
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} c = { 0 };
	const struct pnode *n = node_by_name(in->nodeid, name);

	if (!chance(&s->r, 30) || !n || n->dir) {
		respond(s, in->unique, -EROFS, NULL, 0);
		return;
	}
	/* an existing file given out as created */
	c.e.nodeid = n->nodeid;
	c.e.generation = n->gen;
	fill_attr(&s->r, n, n->nodeid, &c.e.attr, false);
	c.o.fh = rnd(&s->r);
	respond(s, in->unique, 0, &c, in->opcode == FUSE_CREATE ? sizeof(c) : sizeof(c.e));
}

static void handle(struct srv *s, size_t n)
{
	struct fuse_in_header in;
	const unsigned char *arg = s->buf + sizeof(in);
	struct rng *r = &s->r;
	size_t len;

	if (n < sizeof(in))
		return;
	memcpy(&in, s->buf, sizeof(in));
	len = n - sizeof(in);
	add(&sh->req[in.opcode < NR_OPS ? in.opcode : NR_OPS], 1);
	flog("%s unique %llu nodeid %llu len %zu", opname(in.opcode),
	     (unsigned long long)in.unique, (unsigned long long)in.nodeid, len);
	if (!s->inited && in.opcode != FUSE_INIT) {
		respond(s, in.unique, -EIO, NULL, 0);
		return;
	}
	/* only a server with CAP_SYS_RAWIO may be asked for device memory */
	if (P.drop_rawio && (in.opcode == FUSE_GET_FMAP || in.opcode == FUSE_GET_DAXDEV))
		failure("%s on a connection whose server answered INIT without CAP_SYS_RAWIO",
			opname(in.opcode));
	switch (in.opcode) {
	case FUSE_INIT:
		do_init(s, &in, arg);
		break;
	case FUSE_LOOKUP: {
		const struct pnode *p = node_by_name(in.nodeid, (const char *)arg);

		if (!p)
			respond(s, in.unique, -ENOENT, NULL, 0);
		else
			entry_reply(s, in.unique, p);
		break;
	}
	case FUSE_GETATTR:
	case FUSE_SETATTR: {
		struct fuse_attr_out a = { 0 };
		const struct pnode *p = node_by_id(in.nodeid);

		if (!p && in.nodeid != ROOT_ID) {
			respond(s, in.unique, -ENOENT, NULL, 0);
			break;
		}
		a.attr_valid = valid_ms(r) / 1000;
		fill_attr(r, p, in.nodeid, &a.attr, chance(r, 8));
		if (in.opcode == FUSE_SETATTR && chance(r, 60)) {
			respond(s, in.unique, -EROFS, NULL, 0);
			break;
		}
		respond(s, in.unique, 0, &a, sizeof(a));
		break;
	}
	case FUSE_OPEN:
	case FUSE_OPENDIR:
		do_open(s, &in);
		break;
	case FUSE_READDIR:
	case FUSE_READDIRPLUS:
		do_readdir(s, &in, arg, in.opcode == FUSE_READDIRPLUS);
		break;
	case FUSE_READ:
		do_read(s, &in, arg);
		break;
	case FUSE_WRITE: {
		const struct fuse_write_in *wi = (const void *)arg;
		struct fuse_write_out wo = { .size = wi->size };

		if (chance(r, 5)) {
			wo.size = chance(r, 50) ? wi->size + 1 + below(r, 4096)
						: below(r, wi->size + 1);
			add(&sh->rk[RK_MUTATED], 1);
		}
		respond(s, in.unique, 0, &wo, sizeof(wo));
		break;
	}
	case FUSE_STATFS: {
		struct fuse_statfs_out so = { .st = { .blocks = 1 << 20, .bfree = 1 << 19,
						      .bavail = 1 << 19, .bsize = 4096,
						      .namelen = 255, .frsize = 4096 } };

		if (chance(r, 10)) {
			so.st.bsize = rnd(r);
			so.st.namelen = rnd(r);
			add(&sh->rk[RK_MUTATED], 1);
		}
		respond(s, in.unique, 0, &so, sizeof(so));
		break;
	}
	case FUSE_GETLK:
	case FUSE_SETLK:
	case FUSE_SETLKW:
		do_lock(s, &in, arg);
		break;
	case FUSE_CREATE:
	case FUSE_MKNOD:
		do_create(s, &in, (const char *)arg +
			  (in.opcode == FUSE_CREATE ? sizeof(struct fuse_create_in)
						    : sizeof(struct fuse_mknod_in)));
		break;
	case FUSE_GETXATTR:
	case FUSE_LISTXATTR: {
		const struct fuse_getxattr_in *gi = (const void *)arg;
		struct fuse_getxattr_out go = { .size = below(r, 100) };

		if (!gi->size && chance(r, 50))
			respond(s, in.unique, 0, &go, sizeof(go));
		else if (gi->size && chance(r, 30))
			respond(s, in.unique, 0, "user.x\0", gi->size < 7 ? gi->size : 7);
		else
			respond(s, in.unique, -ENODATA, NULL, 0);
		break;
	}
	case FUSE_LSEEK: {
		struct fuse_lseek_out lo = { .offset = rnd(r) };

		if (chance(r, 50))
			respond(s, in.unique, -ENOSYS, NULL, 0);
		else
			respond(s, in.unique, 0, &lo, sizeof(lo));
		break;
	}
	case FUSE_GET_FMAP:
		do_get_fmap(s, &in, arg, len);
		break;
	case FUSE_GET_DAXDEV:
		do_get_daxdev(s, &in);
		break;
	case FUSE_INTERRUPT: {
		const struct fuse_interrupt_in *ii = (const void *)arg;

		/* answer the interrupted request now, or let it be */
		if (chance(r, 50)) {
			for (int i = 0; i < MAX_PENDING; i++)
				if (s->pend[i].buf && s->pend[i].unique == ii->unique)
					s->pend[i].due = famfs_now_ms();
		}
		break;
	}
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
	case FUSE_NOTIFY_REPLY:
		break;
	case FUSE_FLUSH:
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR:
	case FUSE_FSYNC:
	case FUSE_FSYNCDIR:
	case FUSE_ACCESS:
	case FUSE_FALLOCATE:
	case FUSE_SETXATTR:
	case FUSE_REMOVEXATTR:
	case FUSE_SYNCFS:
	case FUSE_DESTROY:
		respond(s, in.unique, chance(r, 85) ? 0 : -EIO, NULL, 0);
		break;
	case FUSE_UNLINK:
	case FUSE_RMDIR:
	case FUSE_RENAME:
	case FUSE_RENAME2:
	case FUSE_LINK:
	case FUSE_SYMLINK:
	case FUSE_MKDIR:
	case FUSE_TMPFILE:
		respond(s, in.unique, chance(r, 90) ? -EROFS : 0, NULL, 0);
		break;
	default:
		respond(s, in.unique, -ENOSYS, NULL, 0);
		break;
	}
}

/* a notification at a random time: real and random node ids and names */
static void send_notification(struct srv *s)
{
	static unsigned char out[8192];
	struct fuse_out_header *oh = (void *)out;
	unsigned char *p = out + sizeof(*oh);
	struct rng *r = &s->r;
	int code = below(r, 100) < 95 ? 1 + (int)below(r, 9) : PICK(r, int, 0, 10, 1000);
	int slot = code < 10 ? code : code == 10 ? 10 : 11;
	const struct pnode *n = &P.node[below(r, P.nnodes)];
	__u64 id = chance(r, 85) ? n->nodeid : (chance(r, 50) ? rnd(r) : below(r, 2));
	size_t len = 0;
	int rc;

	switch (code) {
	case FUSE_NOTIFY_POLL: {
		struct fuse_notify_poll_wakeup_out w = { .kh = rnd(r) };

		memcpy(p, &w, sizeof(w));
		len = sizeof(w);
		break;
	}
	case FUSE_NOTIFY_INVAL_INODE: {
		struct fuse_notify_inval_inode_out o = {
			.ino = id, .off = chance(r, 50) ? 0 : (__s64)below(r, 16 * MIB),
			.len = chance(r, 50) ? 0 : PICK(r, __s64, -1, 4096, (__s64)MIB),
		};

		memcpy(p, &o, sizeof(o));
		len = sizeof(o);
		break;
	}
	case FUSE_NOTIFY_INVAL_ENTRY:
	case FUSE_NOTIFY_DELETE: {
		struct fuse_notify_delete_out o = { 0 };
		const char *name = chance(r, 80) ? n->name : "nope";

		o.parent = chance(r, 80) ? n->parent : id;
		o.child = id;
		o.namelen = strlen(name);
		if (chance(r, 3))
			o.namelen = PICK(r, __u32, 0, 4096, ~0U);
		if (code == FUSE_NOTIFY_INVAL_ENTRY) {
			struct fuse_notify_inval_entry_out e = {
				.parent = o.parent, .namelen = o.namelen,
				.flags = chance(r, 30) ? FUSE_EXPIRE_ONLY : 0,
			};

			memcpy(p, &e, sizeof(e));
			len = sizeof(e);
		} else {
			memcpy(p, &o, sizeof(o));
			len = sizeof(o);
		}
		memcpy(p + len, name, strlen(name) + 1);
		len += strlen(name) + 1;
		break;
	}
	case FUSE_NOTIFY_STORE: {
		struct fuse_notify_store_out o = {
			.nodeid = id, .offset = below(r, 8 * MIB), .size = 1 + below(r, 4096),
		};
		size_t k;

		memcpy(p, &o, sizeof(o));
		len = sizeof(o);
		/* identity bytes on a plain fuse connection, random on an fmap one */
		k = sh->fmap_conn ? 0 : identity_bytes(id, o.offset, o.size, p + len);
		if (sh->fmap_conn) {
			for (k = 0; k < o.size; k++)
				p[len + k] = rnd(r);
		} else if (k < o.size) {
			o.size = k;
			memcpy(p, &o, sizeof(o));
			if (!k)
				return;
		}
		len += o.size;
		break;
	}
	case FUSE_NOTIFY_RETRIEVE: {
		struct fuse_notify_retrieve_out o = {
			.notify_unique = ++s->retrieve_unique, .nodeid = id,
			.offset = below(r, 8 * MIB), .size = below(r, 65536),
		};

		memcpy(p, &o, sizeof(o));
		len = sizeof(o);
		break;
	}
	case FUSE_NOTIFY_PRUNE: {
		struct fuse_notify_prune_out o = { .count = 1 + below(r, 4) };

		if (chance(r, 5))
			o.count = ~0U;
		memcpy(p, &o, sizeof(o));
		len = sizeof(o);
		for (__u32 i = 0; i < o.count && i < 4; i++) {
			__u64 x = P.node[below(r, P.nnodes)].nodeid;

			memcpy(p + len, &x, 8);
			len += 8;
		}
		break;
	}
	default:	/* RESEND, INC_EPOCH: no payload; unknown codes: some */
		if (code >= 10) {
			len = below(r, 64);
			memset(p, 0x5a, len);
		}
		break;
	}
	oh->len = sizeof(*oh) + len;
	oh->error = code;
	oh->unique = 0;
	if (chance(r, 3))	/* a length that does not match */
		oh->len += chance(r, 50) ? 1 : -1;
	rc = emit(s, out, sizeof(*oh) + len);
	add(&sh->notify_sent[slot], 1);
	if (!rc)
		add(&sh->notify_ok[slot], 1);
	flog("notify %s id %llu: %d", notify_name[slot], (unsigned long long)id, rc);
}

/*
 * The notifications come from a process of their own, as from a thread of
 * a multi-threaded server: a notification waits for the locks of what it
 * invalidates (NOTIFY_INVAL_ENTRY the directory's), which a client holds
 * while it waits for a reply; sent from the one process that replies, it
 * would wait for itself (fuse's documented rule for servers).
 */
static __noreturn void run_notifier(int fd, __u64 seed, __u64 round, unsigned int incarnation)
{
	struct srv s = { .fd = fd, .inited = true };
	char a[32];

	snprintf(a, sizeof(a), "notifier%u", incarnation);
	actor = strdup(a);
	open_log(round);
	rng_init(&s.r, seed, round, 200 + incarnation);
	while (!__atomic_load_n(&sh->inited, __ATOMIC_ACQUIRE))
		sleep_ms(5);
	for (;;) {
		sleep_ms(5 + below(&s.r, 300));
		send_notification(&s);
	}
}

static __noreturn void serve(int fd, __u64 seed, __u64 round, unsigned int incarnation,
			     bool inited)
{
	struct srv s = { .fd = fd, .inited = inited };
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	actor = "server";
	{
		char a[32];

		snprintf(a, sizeof(a), "server%u", incarnation);
		actor = strdup(a);
	}
	open_log(round);
	rng_init(&s.r, seed, round, 100 + incarnation);
	s.buf = malloc(REQ_BUF);
	if (!s.buf)
		die("out of memory");
	s.fmap = sh->fmap_conn;
	for (;;) {
		long long now = famfs_now_ms(), wake = now + 1000;
		ssize_t n;

		for (int i = 0; i < MAX_PENDING; i++) {
			struct pending *p = &s.pend[i];

			if (!p->buf || !p->due)
				continue;
			if (p->due <= now) {
				int rc = emit(&s, p->buf, p->len);

				flog("deferred reply to %llu: %d",
				     (unsigned long long)p->unique, rc);
				free(p->buf);
				p->buf = NULL;
			} else if (p->due < wake) {
				wake = p->due;
			}
		}
		if (poll(&pfd, 1, wake > now ? (int)(wake - now) : 0) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		if (!(pfd.revents & (POLLIN | POLLERR | POLLHUP)))
			continue;
		n = read(fd, s.buf, REQ_BUF);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ENOENT)
				continue;
			flog("read: %s: the connection ended", strerror(errno));
			exit(0);
		}
		handle(&s, n);
	}
}

/* ---------------------------------------------------------------------- */
/* the clients */

struct cfd {
	int fd;
	__u64 ino;
	char name[24];
};

struct cmap {
	unsigned char *p;
	size_t len;
	__u64 off;		/* file offset of p[0] */
	__u64 ino;
	bool priv;		/* MAP_PRIVATE: written pages are copies */
	bool writable;
};

static sigjmp_buf fault_jb;
static int guarded;		/* a guarded access is under way (FAMFS_*_ONCE) */
static size_t guard_done;	/* bytes it had copied */
static const char *mnt_path;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	static const char msg[] = "famfs-fuzz: unguarded fault in a client\n";

	(void)uc;
	if (FAMFS_READ_ONCE(guarded)) {
		FAMFS_WRITE_ONCE(guarded, 0);
		siglongjmp(fault_jb, sig);
	}
	if (sig == SIGBUS && (si->si_code == BUS_MCEERR_AO || si->si_code == BUS_MCEERR_AR)) {
		/* a memory failure's kill, outside an access of ours */
		add(&sh->sigbus, 1);
		if (si->si_code == BUS_MCEERR_AO)
			return;
		_exit(0);
	}
	/* a fault outside a guarded access is the fuzzer's own bug */
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(4);
	_exit(4);
}

static void setup_fault_handler(void)
{
	struct sigaction sa = { .sa_sigaction = on_fault, .sa_flags = SA_SIGINFO };

	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
}

/*
 * Copy @len bytes (a multiple of 8) from @src to @dst a word at a time,
 * one of them a mapping of a file, with SIGBUS and SIGSEGV caught: returns
 * the bytes copied, *@sig the signal that ended the copy (or 0). Nothing
 * the jump could clobber is read after it: the count is in static storage.
 */
static size_t guarded_copy(void *dst, const void *src, size_t len, int *sig)
{
	FAMFS_WRITE_ONCE(guard_done, 0);
	*sig = sigsetjmp(fault_jb, 1);
	if (*sig) {
		add(&sh->sigbus, 1);
		return FAMFS_READ_ONCE(guard_done);
	}
	FAMFS_WRITE_ONCE(guarded, 1);
	for (size_t i = 0; i < len; i += 8) {
		__u64 w;

		memcpy(&w, (const unsigned char *)src + i, 8);
		memcpy((unsigned char *)dst + i, &w, 8);
		FAMFS_WRITE_ONCE(guard_done, i + 8);
	}
	FAMFS_WRITE_ONCE(guarded, 0);
	return len;
}

static void dev_snapshot(__u64 *st)
{
	for (int i = 0; i < ndev; i++)
		st[i] = __atomic_load_n(&sh->dev_state[i], __ATOMIC_ACQUIRE);
}

/*
 * The oracle for @len bytes @buf read at file offset @off of node @ino by
 * @how; @before is the device state from before the read (NULL: the data
 * may be a copy made earlier, the unbound rule does not apply).
 */
static void check_data(const char *how, __u64 ino, __u64 off, const unsigned char *buf,
		       size_t len, const __u64 *before)
{
	__u64 after[MAX_DEVS], o, got, want;
	bool fmap = __atomic_load_n(&sh->fmap_conn, __ATOMIC_RELAXED);
	size_t i = (8 - (off & 7)) & 7, checked = 0, unchecked = 0;
	const struct pnode *n = node_by_id(ino);
	int reported = 0;

	if (!n || n->dir)
		return;
	/*
	 * On a plain fuse connection (no FUSE_DAX_FMAP) the bytes are the
	 * server's READ replies, which it cuts short (and fuse pads with
	 * zeroes) or sends to another request on purpose: nothing of the
	 * device to check.
	 */
	if (!fmap) {
		add(&sh->words_unchecked, len / 8);
		return;
	}
	if (before)
		dev_snapshot(after);
	for (; i + 8 <= len; i += 8) {
		int x, dev;
		__u64 doff;

		o = off + i;
		memcpy(&got, buf + i, 8);
		x = expect(ino, o, &want);
		if (x == X_SKIP) {
			unchecked++;
			continue;
		}
		if (x == X_NONE) {
			if (reported++ < 2)
				failure("%s of %s (node %llu) returned data at %#llx, %s",
					how, n->name, (unsigned long long)ino,
					(unsigned long long)o,
					"which its fmap does not name (or names past its device's or strip's end)");
			continue;
		}
		checked++;
		resolve(n->fmap, n->fmap_len, o, &dev, &doff);
		if (got != want && reported++ < 2)
			failure("%s of %s (node %llu, %s) at %#llx: %#llx, %s %s+%#llx (%#llx)",
				how, n->name, (unsigned long long)ino, fk_name[n->fkind],
				(unsigned long long)o, (unsigned long long)got,
				"not the identity of", devs[dev].name, (unsigned long long)doff,
				(unsigned long long)want);
		if (before && fmap && (before[dev] & 1) && before[dev] == after[dev] &&
		    reported++ < 2)
			failure("%s of %s read %s+%#llx while it was unbound: %s",
				how, n->name, devs[dev].name, (unsigned long long)doff,
				"a mapping survived its device");
	}
	add(&sh->words_checked, checked);
	add(&sh->words_unchecked, unchecked);
}

/*
 * identity words for [off, off + len) of @ino into @buf; false where it has
 * none, or at an unaligned @off (the words would straddle the device's)
 */
static bool fill_identity(__u64 ino, __u64 off, unsigned char *buf, size_t len)
{
	if (off & 7)
		return false;
	for (size_t i = 0; i < len; i += 8) {
		__u64 w;
		int x = expect(ino, off + i, &w);

		if (x == X_NONE)
			return false;
		if (x == X_SKIP) {
			const struct pnode *n = node_by_id(ino);
			int dev;
			__u64 doff;

			if (!n || resolve(n->fmap, n->fmap_len, off + i, &dev, &doff))
				return false;
			w = enc(dev, doff);
		}
		memcpy(buf + i, &w, 8);
	}
	return true;
}

struct client {
	struct rng r;
	char good[4][PATH_MAX];	/* paths that opened */
	unsigned int ngood;
	bool dead;		/* the connection ended */
	struct cfd fd[MAX_FDS];
	struct cmap map[MAX_MAPS];
	unsigned char *buf;
};

static const char *pick_path(struct client *c, char *out, size_t size)
{
	const struct pnode *n = &P.node[below(&c->r, P.nnodes)];

	if (chance(&c->r, 5))
		snprintf(out, size, "%s/nope%u", mnt_path, (unsigned int)below(&c->r, 3));
	else if (n->parent == ROOT_ID)
		snprintf(out, size, "%s/%s", mnt_path, n->name);
	else
		snprintf(out, size, "%s/sub/%s", mnt_path, n->name);
	return out;
}

/* one of the open files (mostly: now and then none, as if all were closed) */
static struct cfd *pick_fd(struct client *c)
{
	unsigned int at = below(&c->r, MAX_FDS);

	if (chance(&c->r, 3))
		return NULL;
	for (unsigned int i = 0; i < MAX_FDS; i++)
		if (c->fd[(at + i) % MAX_FDS].fd >= 0)
			return &c->fd[(at + i) % MAX_FDS];
	return NULL;
}

static struct cmap *pick_map(struct client *c)
{
	unsigned int at = below(&c->r, MAX_MAPS);

	for (unsigned int i = 0; i < MAX_MAPS; i++)
		if (c->map[(at + i) % MAX_MAPS].p)
			return &c->map[(at + i) % MAX_MAPS];
	return NULL;
}

static __u64 file_size_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : (__u64)st.st_size;
}

/*
 * A file offset to read or write at: below @size, 8-byte aligned, or (one
 * time in twenty) up to 4 MiB past it, unaligned. A write aligns it down
 * (write_off()).
 */
static __u64 pick_off(struct client *c, __u64 size)
{
	__u64 lim = size ? size : 8 * MIB;

	if (chance(&c->r, 5))
		return lim + below(&c->r, 4 * MIB);
	return below(&c->r, lim) & ~7ULL;
}

/*
 * Where a write of identity words goes: aligned, as the words on the
 * device are. The size may have grown since it was read (an attribute
 * reply), so an unaligned offset past it may be inside the fmap: the
 * words written there would straddle the device's, and read back as
 * garbage.
 */
static __u64 write_off(struct client *c, __u64 size)
{
	return pick_off(c, size) & ~7ULL;
}

static int c_open(struct client *c)
{
	struct cfd *f = &c->fd[below(&c->r, MAX_FDS)];
	static const int acc[] = { O_RDONLY, O_RDWR, O_WRONLY, O_RDWR };
	char path[PATH_MAX];
	struct stat st;
	int flags = acc[below(&c->r, 4)];

	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	if (chance(&c->r, 10))
		flags |= O_CREAT;
	if (chance(&c->r, 5))
		flags |= O_TRUNC;
	if (chance(&c->r, 5))
		flags |= O_DIRECT;
	if (chance(&c->r, 5))
		flags |= O_APPEND;
	if (c->ngood && chance(&c->r, 60))
		snprintf(path, sizeof(path), "%s",
			 c->good[below(&c->r, c->ngood < 4 ? c->ngood : 4)]);
	else
		pick_path(c, path, sizeof(path));
	f->fd = open(path, flags | O_CLOEXEC, 0644);
	flog("open %s %#x: %d %s", path, flags, f->fd, f->fd < 0 ? strerror(errno) : "");
	if (f->fd < 0) {
		add(&sh->open_failed, 1);
		add(&sh->open_errno[errno < 140 ? errno : 0], 1);
		/* the connection is gone (an abort, a request timeout): nothing more to do */
		if (errno == ENOTCONN || errno == ECONNABORTED)
			c->dead = true;
		return -1;
	}
	add(&sh->open_ok, 1);
	{
		struct statfs sfs;

		/* after a lazy unmount the path is the directory under it */
		if (fstatfs(f->fd, &sfs) || sfs.f_type != FUSE_SUPER_MAGIC) {
			close(f->fd);
			f->fd = -1;
			return -1;
		}
	}
	snprintf(c->good[c->ngood++ % 4], PATH_MAX, "%s", path);
	f->ino = fstat(f->fd, &st) ? 0 : st.st_ino;
	snprintf(f->name, sizeof(f->name), "%s", path + strlen(mnt_path) + 1);
	return 0;
}

static int c_pread(struct client *c, bool direct)
{
	struct cfd *f = pick_fd(c);
	__u64 before[MAX_DEVS], off;
	size_t len = 8 * (1 + below(&c->r, 8192));
	ssize_t n;

	if (!f)
		return -1;
	off = pick_off(c, file_size_of(f->fd));
	if (direct) {
		off &= ~(PAGE - 1);
		len = (len + PAGE - 1) & ~(PAGE - 1);
	}
	dev_snapshot(before);
	n = pread(f->fd, c->buf, len, off);
	flog("pread %s %#llx+%zu: %zd", f->name, (unsigned long long)off, len, n);
	if (n <= 0)
		return -1;
	check_data(direct ? "O_DIRECT pread" : "pread", f->ino, off, c->buf, n, before);
	return 0;
}

static int c_pwrite(struct client *c)
{
	struct cfd *f = pick_fd(c);
	size_t len = 8 * (1 + below(&c->r, 4096));
	__u64 off;
	ssize_t n;

	if (!f)
		return -1;
	off = write_off(c, file_size_of(f->fd));
	if (!fill_identity(f->ino, off, c->buf, len)) {
		__u64 w;

		/* at an offset with no identity, the write must not succeed (a probe) */
		for (size_t i = 0; i < len && expect(f->ino, off, &w) != X_NONE; i += 8)
			off += 8;
		if (expect(f->ino, off, &w) != X_NONE)
			return -1;
		memset(c->buf, 0xee, len);
		n = pwrite(f->fd, c->buf, 8, off);
		flog("pwrite probe %s %#llx: %zd", f->name, (unsigned long long)off, n);
		if (n > 0 && __atomic_load_n(&sh->fmap_conn, __ATOMIC_RELAXED) &&
		    node_by_id(f->ino) && !node_by_id(f->ino)->dir)
			failure("pwrite of %s at %#llx, %s, wrote %zd bytes", f->name,
				(unsigned long long)off, "which its fmap does not name", n);
		return -1;
	}
	n = pwrite(f->fd, c->buf, len, off);
	flog("pwrite %s %#llx+%zu: %zd", f->name, (unsigned long long)off, len, n);
	return n > 0 ? 0 : -1;
}

static int c_mmap(struct client *c)
{
	struct cfd *f = pick_fd(c);
	struct cmap *m = &c->map[below(&c->r, MAX_MAPS)];
	size_t len = ALIGN2M * (1 + below(&c->r, 3));
	__u64 off = chance(&c->r, 70) ? 0 : ALIGN2M * below(&c->r, 4);
	bool priv = chance(&c->r, 15), wr = chance(&c->r, 60), pop;
	void *hint, *p;

	if (!f)
		return -1;
	if (chance(&c->r, 30))
		len = PAGE * (1 + below(&c->r, 64));
	if (m->p)
		munmap(m->p, m->len);
	m->p = NULL;
	/* 2 MiB aligned addresses, so that PMD faults are possible */
	hint = mmap(NULL, len + ALIGN2M, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (hint == MAP_FAILED)
		return -1;
	p = (void *)(((unsigned long)hint + ALIGN2M - 1) & ~(ALIGN2M - 1));
	munmap(hint, len + ALIGN2M);
	/*
	 * MAP_POPULATE on a plain fuse connection whose READs fail found a
	 * livelock in __mm_populate(), fixed by patch dax/0006
	 * (Documentation/fuzz.rst, "Found with it").
	 */
	pop = chance(&c->r, 10);
	p = mmap(p, len, PROT_READ | (wr ? PROT_WRITE : 0), (priv ? MAP_PRIVATE : MAP_SHARED) |
		 (pop ? MAP_POPULATE : 0), f->fd, off);
	flog("mmap %s %#llx+%zu %s%s: %p", f->name, (unsigned long long)off, len,
	     priv ? "private" : "shared", wr ? " rw" : "", p);
	if (p == MAP_FAILED)
		return -1;
	*m = (struct cmap){ .p = p, .len = len, .off = off, .ino = f->ino, .priv = priv,
			    .writable = wr };
	return 0;
}

static int c_mread(struct client *c)
{
	struct cmap *m = pick_map(c);
	__u64 before[MAX_DEVS];
	size_t done, at, len;
	int sig;

	if (!m)
		return -1;
	at = below(&c->r, m->len) & ~7UL;
	len = 8 * (1 + below(&c->r, 4096));
	if (at + len > m->len)
		len = m->len - at;
	dev_snapshot(before);
	/* a copy of the words, page by page, a fault at a time */
	done = guarded_copy(c->buf, m->p + at, len, &sig);
	flog("map read %#llx+%zu: %zu bytes, signal %d", (unsigned long long)(m->off + at), len,
	     done, sig);
	check_data("a mapping's read", m->ino, m->off + at, c->buf, done, m->priv ? NULL : before);
	return sig ? -1 : 0;
}

static int c_mwrite(struct client *c)
{
	struct cmap *m = pick_map(c);
	size_t at, len;
	int sig;

	if (!m || !m->writable)
		return -1;
	at = below(&c->r, m->len) & ~7UL;
	len = 8 * (1 + below(&c->r, 4096));
	if (at + len > m->len)
		len = m->len - at;
	if (!fill_identity(m->ino, m->off + at, c->buf, len))
		return -1;
	guarded_copy(m->p + at, c->buf, len, &sig);
	flog("map write %#llx+%zu: signal %d", (unsigned long long)(m->off + at), len, sig);
	return sig ? -1 : 0;
}

static int c_splice_read(struct client *c, bool sendf)
{
	struct cfd *f = pick_fd(c);
	__u64 before[MAX_DEVS];
	loff_t off;
	int p[2];
	ssize_t n, k;
	__u64 start;

	if (!f || pipe2(p, O_CLOEXEC | O_NONBLOCK))
		return -1;
	start = pick_off(c, file_size_of(f->fd));
	off = start;
	dev_snapshot(before);
	if (sendf)
		n = sendfile(p[1], f->fd, &off, 8 * (1 + below(&c->r, 8000)));
	else
		n = splice(f->fd, &off, p[1], NULL, 8 * (1 + below(&c->r, 8000)),
			   SPLICE_F_NONBLOCK);
	k = n > 0 ? read(p[0], c->buf, n) : 0;
	flog("%s %s %#llx: %zd, read %zd", sendf ? "sendfile" : "splice", f->name,
	     (unsigned long long)start, n, k);
	if (k > 0)
		check_data(sendf ? "sendfile" : "splice", f->ino, start, c->buf, k, NULL);
	close(p[0]);
	close(p[1]);
	return n > 0 ? 0 : -1;
}

static int c_splice_write(struct client *c)
{
	struct cfd *f = pick_fd(c);
	size_t len = 8 * (1 + below(&c->r, 2000));
	loff_t off;
	int p[2];
	ssize_t n = -1;

	if (!f)
		return -1;
	off = write_off(c, file_size_of(f->fd));
	if (!fill_identity(f->ino, off, c->buf, len) || pipe2(p, O_CLOEXEC | O_NONBLOCK))
		return -1;
	if (write(p[1], c->buf, len) == (ssize_t)len)
		n = splice(p[0], NULL, f->fd, &off, len, SPLICE_F_NONBLOCK);
	flog("splice write %s: %zd", f->name, n);
	close(p[0]);
	close(p[1]);
	return n > 0 ? 0 : -1;
}

/* A page of a mapping into a pipe (a reference to the device page), read back at once. */
static int c_vmsplice(struct client *c)
{
	struct cmap *m = pick_map(c);
	struct iovec iov;
	size_t at;
	int p[2];
	ssize_t n;

	if (!m || pipe2(p, O_CLOEXEC | O_NONBLOCK))
		return -1;
	at = below(&c->r, m->len / PAGE) * PAGE;
	iov.iov_base = m->p + at;
	iov.iov_len = PAGE;
	/* the kernel takes the page: a fault is EFAULT, not a signal */
	n = vmsplice(p[1], &iov, 1, SPLICE_F_NONBLOCK);
	if (n > 0 && read(p[0], c->buf, n) == n && !m->priv)
		check_data("vmsplice", m->ino, m->off + at, c->buf, n, NULL);
	flog("vmsplice %#llx: %zd", (unsigned long long)(m->off + at), n);
	close(p[0]);
	close(p[1]);
	return n > 0 ? 0 : -1;
}

static int c_copy(struct client *c)
{
	struct cfd *f = pick_fd(c), *g = pick_fd(c);
	char tmp[64];
	loff_t off, zero = 0;
	ssize_t n;
	int t;

	if (!f)
		return -1;
	off = pick_off(c, file_size_of(f->fd));
	if (g && chance(&c->r, 30)) {
		/* famfs to famfs: kept only where both name the same words */
		loff_t o2 = off;

		n = copy_file_range(f->fd, &off, g->fd, &o2, 0, 0);
		flog("copy_file_range %s -> %s len 0: %zd", f->name, g->name, n);
		return 0;
	}
	snprintf(tmp, sizeof(tmp), "%s/copy.%d", opt_dir, getpid());
	t = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (t < 0)
		return -1;
	{
		__u64 start = off;

		n = copy_file_range(f->fd, &off, t, &zero, 8 * (1 + below(&c->r, 8000)), 0);
		flog("copy_file_range %s %#llx -> tmpfs: %zd", f->name,
		     (unsigned long long)start, n);
		if (n > 0 && pread(t, c->buf, n, 0) == n)
			check_data("copy_file_range", f->ino, start, c->buf, n, NULL);
	}
	close(t);
	unlink(tmp);
	return n > 0 ? 0 : -1;
}

/* a child that touches a mapping and exits, or outlives the parent's unmap */
static int c_fork(struct client *c)
{
	struct cmap *m = pick_map(c);
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		actor = "fork";
		if (m) {
			size_t at = below(&c->r, m->len) & ~7UL;
			__u64 w = 0, before[MAX_DEVS];
			int sig;

			dev_snapshot(before);
			if (guarded_copy(&w, m->p + at, 8, &sig) == 8)
				check_data("a forked child's read", m->ino, m->off + at,
					   (const unsigned char *)&w, 8, m->priv ? NULL : before);
		}
		if (chance(&c->r, 50))
			sleep_ms(below(&c->r, 300));
		_exit(0);
	}
	if (chance(&c->r, 50) && m) {
		munmap(m->p, m->len);
		m->p = NULL;
	}
	waitpid(pid, NULL, 0);
	return 0;
}

/* reach the mount as another user, in a user namespace, in a mount namespace */
static int c_other(struct client *c, int how)
{
	char path[PATH_MAX];
	pid_t pid;
	int st;

	pick_path(c, path, sizeof(path));
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		__u64 before[MAX_DEVS];
		struct statfs sfs;
		ssize_t n;
		int fd, rc = 0;
		long long until = famfs_now_ms() + below(&c->r, 3000);

		actor = how == C_USERNS ? "userns" : how == C_SETUID ? "setuid" : "mntns";
		if (how == C_USERNS)
			rc = unshare(CLONE_NEWUSER);
		else if (how == C_SETUID)
			rc = setgid(65534) || setuid(65534);
		else
			rc = unshare(CLONE_NEWNS) ||
			     mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
		if (rc)
			_exit(0);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstatfs(fd, &sfs) || sfs.f_type != FUSE_SUPER_MAGIC)
			_exit(0);
		dev_snapshot(before);
		n = pread(fd, c->buf, 4096, 0);
		if (n > 0) {
			struct stat s2;

			if (!fstat(fd, &s2))
				check_data(actor, s2.st_ino, 0, c->buf, n, before);
		}
		if (how == C_MNTNS) {
			/* keep the connection in this namespace for a while */
			if (chance(&c->r, 50))
				umount2(mnt_path, MNT_DETACH);
			while (!__atomic_load_n(&sh->stop, __ATOMIC_RELAXED) &&
			       famfs_now_ms() < until)
				sleep_ms(50);
		}
		_exit(0);
	}
	waitpid(pid, &st, 0);
	return 0;
}

static int c_hwpoison(struct client *c, bool publish)
{
	struct cmap *m = pick_map(c);
	size_t at;
	pid_t pid;

	if (!m || m->priv)
		return -1;
	at = below(&c->r, m->len / PAGE) * PAGE;
	if (publish) {
		/* the pfn for the supervisor's injection (debugfs corrupt-pfn) */
		int fd = open("/proc/self/pagemap", O_RDONLY), sig;
		__u64 e = 0, w;

		if (fd < 0)
			return -1;
		if (guarded_copy(&w, m->p + at, 8, &sig) == 8 &&
		    pread(fd, &e, 8, ((unsigned long)m->p + at) / PAGE * 8) == 8 &&
		    (e >> 63) && (e & (BIT_ULL(55) - 1)))
			__atomic_store_n(&sh->inject_pfn, e & (BIT_ULL(55) - 1), __ATOMIC_RELAXED);
		close(fd);
		return 0;
	}
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		actor = "poisoner";
		_exit(madvise(m->p + at, PAGE, MADV_HWPOISON) ? 1 : 0);
	}
	flog("MADV_HWPOISON %#llx", (unsigned long long)(m->off + at));
	waitpid(pid, NULL, 0);
	return 0;
}

static int c_misc(struct client *c, int op)
{
	struct cfd *f = pick_fd(c);
	struct cmap *m = pick_map(c);
	char path[PATH_MAX], p2[PATH_MAX];
	int rc = -1;

	errno = EBADF;	/* nothing picked */

	switch (op) {
	case C_CLOSE:
		if (f) {
			rc = close(f->fd);
			f->fd = -1;
		}
		break;
	case C_MUNMAP:
		if (m) {
			rc = munmap(m->p, m->len);
			m->p = NULL;
		}
		break;
	case C_MSYNC:
		if (m)
			rc = msync(m->p, m->len, chance(&c->r, 50) ? MS_SYNC : MS_ASYNC);
		break;
	case C_FSYNC:
		if (f)
			rc = chance(&c->r, 50) ? fsync(f->fd) : fdatasync(f->fd);
		break;
	case C_FLOCK:
		if (f)
			rc = flock(f->fd, PICK(&c->r, int, LOCK_SH, LOCK_EX, LOCK_UN) |
				   LOCK_NB);
		break;
	case C_POSIX_LOCK:
		if (f) {
			struct flock fl = {
				.l_type = PICK(&c->r, short, F_RDLCK, F_WRLCK, F_UNLCK),
				.l_whence = SEEK_SET, .l_start = below(&c->r, 8 * MIB),
				.l_len = below(&c->r, 4 * MIB),
			};

			rc = fcntl(f->fd, chance(&c->r, 30) ? F_GETLK : F_SETLK, &fl);
		}
		break;
	case C_STAT: {
		struct stat st;
		struct statfs sfs;

		rc = stat(pick_path(c, path, sizeof(path)), &st);
		if (chance(&c->r, 30))
			rc = statfs(mnt_path, &sfs);
		break;
	}
	case C_READDIR: {
		DIR *d;

		snprintf(path, sizeof(path), "%s%s", mnt_path, chance(&c->r, 30) ? "/sub" : "");
		d = opendir(path);
		if (d) {
			/* a server may list a directory without end: a bound */
			for (int k = 0; k < 1000 && readdir(d); k++)
				;
			closedir(d);
			rc = 0;
		}
		break;
	}
	case C_TRUNCATE:
		if (f)
			rc = ftruncate(f->fd, chance(&c->r, 50) ? 0 : (off_t)pick_off(c, 8 * MIB));
		break;
	case C_FALLOCATE:
		if (f)
			rc = fallocate(f->fd, PICK(&c->r, int, 0, FALLOC_FL_KEEP_SIZE,
						   FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
						   FALLOC_FL_ZERO_RANGE),
				       pick_off(c, 8 * MIB), 4096 * (1 + below(&c->r, 512)));
		break;
	case C_MADVISE:
		if (m)
			rc = madvise(m->p, m->len, PICK(&c->r, int, MADV_DONTNEED, MADV_WILLNEED,
							MADV_REMOVE, MADV_COLD, MADV_PAGEOUT,
							MADV_DONTFORK, MADV_DOFORK));
		break;
	case C_MREMAP:
		if (m) {
			size_t nl = chance(&c->r, 50) ? m->len / 2 : m->len + ALIGN2M;
			void *np = mremap(m->p, m->len, nl & ~(PAGE - 1), MREMAP_MAYMOVE);

			if (np != MAP_FAILED) {
				m->p = np;
				m->len = nl & ~(PAGE - 1);
				rc = 0;
			}
		}
		break;
	case C_MPROTECT:
		if (m) {
			bool w = chance(&c->r, 50);

			rc = mprotect(m->p, m->len, PROT_READ | (w ? PROT_WRITE : 0));
			if (!rc)
				m->writable = w;
		}
		break;
	case C_SMAPS: {
		int fd = open(chance(&c->r, 50) ? "/proc/self/smaps" : "/proc/self/numa_maps",
			      O_RDONLY);

		if (fd >= 0) {
			for (int k = 0; k < 1000 && read(fd, c->buf, 65536) > 0; k++)
				;
			close(fd);
			rc = 0;
		}
		break;
	}
	case C_NAMESPACE_OPS:
		pick_path(c, path, sizeof(path));
		pick_path(c, p2, sizeof(p2));
		switch (below(&c->r, 6)) {
		case 0:
			rc = unlink(path);
			break;
		case 1:
			rc = rename(path, p2);
			break;
		case 2:
			rc = mkdir(path, 0755);
			break;
		case 3:
			rc = symlink("x", path);
			break;
		case 4:
			rc = link(path, p2);
			break;
		default:
			rc = mknod(path, S_IFREG | 0644, 0);
			break;
		}
		break;
	case C_XATTR: {
		char v[64];

		pick_path(c, path, sizeof(path));
		rc = chance(&c->r, 50) ? (int)getxattr(path, "user.x", v, sizeof(v))
				       : (int)listxattr(path, v, chance(&c->r, 50) ? 0 : sizeof(v));
		break;
	}
	case C_LSEEK:
		if (f)
			rc = lseek(f->fd, below(&c->r, 8 * MIB),
				   PICK(&c->r, int, SEEK_SET, SEEK_END, SEEK_DATA, SEEK_HOLE))
				< 0 ? -1 : 0;
		break;
	case C_MINCORE:
		if (m) {
			unsigned char vec[1024];

			rc = mincore(m->p, m->len > 1024 * PAGE ? 1024 * PAGE : m->len, vec);
		}
		break;
	}
	if (rc)
		flog("%s: -1 %s", cop_name[op], strerror(errno));
	else
		flog("%s: 0", cop_name[op]);
	return rc ? -1 : 0;
}

/* the weight of each client operation, out of their sum */
static const unsigned char cop_weight[NR_COPS] = {
	[C_OPEN] = 14, [C_CLOSE] = 5, [C_PREAD] = 12, [C_PWRITE] = 8, [C_MMAP] = 10,
	[C_MUNMAP] = 3, [C_MREAD] = 16, [C_MWRITE] = 8, [C_MSYNC] = 2, [C_FSYNC] = 2,
	[C_FLOCK] = 2, [C_POSIX_LOCK] = 2, [C_SPLICE_READ] = 3, [C_SPLICE_WRITE] = 2,
	[C_VMSPLICE] = 2, [C_FORK] = 2, [C_STAT] = 3, [C_READDIR] = 2, [C_TRUNCATE] = 1,
	[C_FALLOCATE] = 1, [C_MADVISE] = 2, [C_MREMAP] = 1, [C_MPROTECT] = 1, [C_SMAPS] = 1,
	[C_NAMESPACE_OPS] = 2, [C_XATTR] = 1, [C_COPY_RANGE] = 2, [C_SENDFILE] = 1,
	[C_USERNS] = 1, [C_SETUID] = 1, [C_MNTNS] = 1, [C_HWPOISON] = 1, [C_DIRECT] = 2,
	[C_LSEEK] = 1, [C_MINCORE] = 1,
};

static __noreturn void run_client(int idx, const char *mnt)
{
	struct client c = { 0 };
	unsigned int total = 0;
	char a[16];
	__u64 ops;

	snprintf(a, sizeof(a), "client%d", idx);
	actor = strdup(a);
	mnt_path = mnt;
	open_log(P.round);
	rng_init(&c.r, P.seed, P.round, 1 + idx);
	c.buf = malloc(REQ_BUF);
	if (!c.buf)
		die("out of memory");
	for (int i = 0; i < MAX_FDS; i++)
		c.fd[i].fd = -1;
	setup_fault_handler();
	for (int i = 0; i < NR_COPS; i++)
		total += cop_weight[i];
	for (ops = 0; ops < opt_ops && !c.dead && !__atomic_load_n(&sh->stop, __ATOMIC_RELAXED);
	     ops++) {
		unsigned int w = below(&c.r, total);
		int op = 0, rc;

		while (w >= cop_weight[op])
			w -= cop_weight[op++];
		/* memory failure is rare: it leaves the page poisoned for good */
		if (op == C_HWPOISON && !chance(&c.r, 10))
			op = C_MREAD;
		flog("> %s", cop_name[op]);
		switch (op) {
		case C_OPEN:
			rc = c_open(&c);
			break;
		case C_PREAD:
		case C_DIRECT:
			rc = c_pread(&c, op == C_DIRECT);
			break;
		case C_PWRITE:
			rc = c_pwrite(&c);
			break;
		case C_MMAP:
			rc = c_mmap(&c);
			break;
		case C_MREAD:
			rc = c_mread(&c);
			break;
		case C_MWRITE:
			rc = c_mwrite(&c);
			break;
		case C_SPLICE_READ:
		case C_SENDFILE:
			rc = c_splice_read(&c, op == C_SENDFILE);
			break;
		case C_SPLICE_WRITE:
			rc = c_splice_write(&c);
			break;
		case C_VMSPLICE:
			rc = c_vmsplice(&c);
			break;
		case C_COPY_RANGE:
			rc = c_copy(&c);
			break;
		case C_FORK:
			rc = c_fork(&c);
			break;
		case C_USERNS:
		case C_SETUID:
		case C_MNTNS:
			rc = c_other(&c, op);
			break;
		case C_HWPOISON:
			rc = c_hwpoison(&c, chance(&c.r, 50));
			break;
		default:
			rc = c_misc(&c, op);
			break;
		}
		add(&sh->cop[op], 1);
		if (!rc)
			add(&sh->cop_ok[op], 1);
	}
	exit(0);
}

/* ---------------------------------------------------------------------- */
/* the supervisor: identities, rounds, events, the watchdog */

/* Give every word of each device's window its identity, through a well-behaved server. */
static void write_identities(void)
{
	char manifest[PATH_MAX], line[128];
	struct famfs_mount m;
	int st, rc, i;
	FILE *f;

	snprintf(manifest, sizeof(manifest), "%s/identity.manifest", opt_dir);
	f = fopen(manifest, "w");
	if (!f)
		die("%s: %s", manifest, strerror(errno));
	for (i = 0; i < ndev; i++)
		fprintf(f, "daxdev %d %s\nfile id%d %lluM simple %d:0:%lluM\n", i, devs[i].path,
			i, WINDOW / MIB, i, WINDOW / MIB);
	fclose(f);
	rc = famfs_mount_start(&m, manifest, NULL, true, &st);
	if (rc)
		die("the identity mount: %s (status %#x)", strerror(-rc), st);
	for (i = 0; i < ndev; i++) {
		__u64 *p;
		int fd;

		snprintf(line, sizeof(line), "%s/id%d", m.mnt, i);
		fd = open(line, O_RDWR);
		if (fd < 0)
			die("%s: %s", line, strerror(errno));
		p = mmap(NULL, WINDOW, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			die("mmap %s: %s", line, strerror(errno));
		for (__u64 w = 0; w < WINDOW / 8; w++)
			p[w] = enc(i, w * 8);
		for (__u64 w = 0; w < WINDOW / 8; w += 4099)
			if (p[w] != enc(i, w * 8))
				die("%s: the identity at %#llx did not stick", devs[i].name,
				    (unsigned long long)w * 8);
		munmap(p, WINDOW);
		close(fd);
	}
	famfs_mount_stop(&m, &st);
	printf("famfs-fuzz: %d devices, %llu MiB of identities each:", ndev, WINDOW / MIB);
	for (i = 0; i < ndev; i++)
		printf(" %s (%llu MiB)", devs[i].name, (unsigned long long)devs[i].size / MIB);
	printf("\n");
}

struct round_state {
	char mnt[PATH_MAX];
	int fd;
	pid_t server, notifier;
	pid_t stuck[16];	/* killed servers that had not exited yet */
	int nstuck;
	unsigned int incarnation;
	pid_t clients[MAX_CLIENTS];
	pid_t workers[32];
	int nworkers;
	char conn[32];		/* /sys/fs/fuse/connections/<conn> */
	bool aborted, mounted, stopped;
	long long cont_at;	/* SIGCONT the server then */
	bool unbinding[MAX_DEVS];
	pid_t unbind_pid[MAX_DEVS];
};

static void find_conn(struct round_state *rs)
{
	char line[1024], mp[PATH_MAX];
	unsigned int maj, min;
	FILE *f = fopen("/proc/self/mountinfo", "r");

	rs->conn[0] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &maj, &min, mp) != 3)
			continue;
		if (!strcmp(mp, rs->mnt))
			snprintf(rs->conn, sizeof(rs->conn), "%u", maj << 20 | min);
	}
	fclose(f);
}

static void abort_conn(struct round_state *rs)
{
	char path[96];

	if (!rs->conn[0] || rs->aborted)
		return;
	snprintf(path, sizeof(path), "/sys/fs/fuse/connections/%s/abort", rs->conn);
	flog("abort %s: %d", path, famfs_write_str(path, "1"));
	rs->aborted = true;
}

/*
 * A child of the supervisor that is no server: it must not keep the
 * connection's /dev/fuse descriptor, which would keep a connection alive
 * whose requests it may itself be waiting for.
 */
static pid_t fork_user(const struct round_state *rs)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (!pid)
		close(rs->fd);
	return pid;
}

static pid_t spawn_worker(struct round_state *rs)
{
	pid_t pid;

	if (rs->nworkers >= (int)ARRAY_SIZE(rs->workers))
		return -1;
	pid = fork_user(rs);
	if (pid > 0)
		rs->workers[rs->nworkers++] = pid;
	return pid;
}

static void mem_pressure(struct rng *r)
{
	char v[32];
	size_t len = 64 * MIB, i;
	unsigned char *p;

	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) &&
	    mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, NULL))
		_exit(3);
	famfs_write_str("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
	mkdir("/sys/fs/cgroup/fuzz", 0755);
	snprintf(v, sizeof(v), "%llu", (unsigned long long)(8 + below(r, 24)) * MIB);
	if (famfs_write_str("/sys/fs/cgroup/fuzz/memory.max", v))
		_exit(3);
	snprintf(v, sizeof(v), "%d", getpid());
	if (famfs_write_str("/sys/fs/cgroup/fuzz/cgroup.procs", v))
		_exit(3);
	/* under the limit: the files, their mappings, then anonymous memory until killed */
	for (i = 0; i < 20; i++) {
		char path[PATH_MAX];
		int fd;

		snprintf(path, sizeof(path), "%s/mnt/%s", opt_dir, P.node[below(r, 5)].name);
		fd = open(path, O_RDONLY);
		if (fd >= 0) {
			void *m = mmap(NULL, ALIGN2M, PROT_READ, MAP_SHARED, fd, 0);

			if (m != MAP_FAILED)
				munmap(m, ALIGN2M);
		}
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		_exit(3);
	for (i = 0; i < len; i += PAGE)
		p[i] = 1;
	_exit(0);
}

static void unbind_worker(struct rng *r, int d)
{
	char drv[64];

	actor = "unbind";
	if (famfs_write_str("/sys/bus/dax/drivers/fsdev_dax/unbind", devs[d].name)) {
		flog("unbind %s failed", devs[d].name);
		_exit(1);
	}
	__atomic_fetch_add(&sh->dev_state[d], 1, __ATOMIC_RELEASE);	/* odd: unbound */
	flog("unbound %s", devs[d].name);
	sleep_ms(100 + below(r, 1500));
	__atomic_fetch_add(&sh->dev_state[d], 1, __ATOMIC_RELEASE);	/* even: binding */
	if (famfs_fsdev_give_back(devs[d].name)) {
		famfs_dax_driver(devs[d].name, drv, sizeof(drv));
		failure("%s did not bind to fsdev_dax again (driver: %s)", devs[d].name, drv);
		_exit(1);
	}
	_exit(0);
}

static int reap(pid_t *pids, int n, long long deadline, bool ok_counts, int *failed);

static void start_server(struct round_state *rs, bool inited)
{
	unsigned int inc = rs->incarnation++;

	fflush(NULL);
	rs->server = fork();
	if (!rs->server)
		serve(rs->fd, P.seed, P.round, inc, inited);
	if (opt_no_notify)
		return;
	rs->notifier = fork();
	if (!rs->notifier)
		run_notifier(rs->fd, P.seed, P.round, inc);
}

/* SIGKILL both; one still in the kernel after a second is waited for at the end */
static void stop_server(struct round_state *rs)
{
	pid_t *p[2] = { &rs->server, &rs->notifier };

	for (int i = 0; i < 2; i++) {
		if (*p[i] <= 0)
			continue;
		kill(*p[i], SIGCONT);
		kill(*p[i], SIGKILL);
		if (reap(p[i], 1, famfs_now_ms() + 1000, false, NULL) &&
		    rs->nstuck < (int)ARRAY_SIZE(rs->stuck))
			rs->stuck[rs->nstuck++] = *p[i];
		*p[i] = 0;
	}
}

static void inject_event(struct round_state *rs, struct rng *r)
{
	int e = below(r, NR_EVENTS), d;
	pid_t pid;

	/* the round-ending events are rarer than the others */
	if ((e == E_ABORT || e == E_LAZY_UMOUNT) && !chance(r, 25))
		e = E_DROP_CACHES;
	add(&sh->ev[e], 1);
	switch (e) {
	case E_DROP_CACHES:
		pid = spawn_worker(rs);
		if (!pid)
			_exit(famfs_write_str("/proc/sys/vm/drop_caches",
					      chance(r, 50) ? "2" : "3") ? 1 : 0);
		break;
	case E_UNBIND:
		d = P.dev_of[below(r, P.nidx)];
		if (rs->unbinding[d])
			return;
		pid = spawn_worker(rs);
		if (!pid)
			unbind_worker(r, d);
		rs->unbinding[d] = pid > 0;
		rs->unbind_pid[d] = pid;
		break;
	case E_RMMOD:
		pid = spawn_worker(rs);
		if (!pid) {
			int fd;

			actor = "rmmod";
			if (syscall(SYS_delete_module, "famfs_rs", O_NONBLOCK))
				_exit(1);
			add(&sh->rmmod_done, 1);
			fd = open(FAMFS_MODULE_PATH, O_RDONLY | O_CLOEXEC);
			if (fd < 0 || syscall(SYS_finit_module, fd, "", 0)) {
				failure("famfs_rs unloaded, and did not load again: %s",
					strerror(errno));
				_exit(2);
			}
			_exit(0);
		}
		break;
	case E_ABORT:
		abort_conn(rs);
		break;
	case E_SERVER_RESTART:
		/*
		 * The connection outlives the server: the supervisor holds its
		 * /dev/fuse descriptor, and a new server takes over. What the old
		 * one had read and not answered is answered by nobody.
		 */
		stop_server(rs);
		start_server(rs, true);
		break;
	case E_SERVER_STOP:
		if (rs->server > 0 && !rs->cont_at) {
			kill(rs->server, SIGSTOP);
			rs->cont_at = famfs_now_ms() + 100 + below(r, 2000);
		}
		break;
	case E_LAZY_UMOUNT:
		if (rs->mounted && !umount2(rs->mnt, MNT_DETACH))
			rs->mounted = false;
		break;
	case E_MEM_PRESSURE:
		if (access("/proc/self/cgroup", F_OK)) {
			add(&sh->ev[e], -1);	/* no cgroups in this kernel */
			return;
		}
		pid = spawn_worker(rs);
		if (!pid) {
			actor = "memcg";
			mem_pressure(r);
		}
		break;
	case E_INJECT: {
		__u64 pfn = __atomic_exchange_n(&sh->inject_pfn, 0, __ATOMIC_RELAXED);
		char v[32];

		if (!pfn || !chance(r, 30))
			return;
		snprintf(v, sizeof(v), "%#llx", (unsigned long long)pfn);
		pid = spawn_worker(rs);
		if (!pid)
			_exit(famfs_write_str("/sys/kernel/debug/hwpoison/corrupt-pfn", v) ? 1 : 0);
		break;
	}
	}
	flog("event %s", ev_name[e]);
}

/* Wait for @pids (0 entries are skipped) until @deadline; returns how many are left. */
static int reap(pid_t *pids, int n, long long deadline, bool ok_counts, int *failed)
{
	int left;

	do {
		left = 0;
		for (int i = 0; i < n; i++) {
			int st;

			if (pids[i] <= 0)
				continue;
			if (waitpid(pids[i], &st, WNOHANG) == pids[i]) {
				if (ok_counts && failed && (!WIFEXITED(st) || WEXITSTATUS(st)) &&
				    !(WIFSIGNALED(st) && (WTERMSIG(st) == SIGKILL ||
							   WTERMSIG(st) == SIGBUS)))
					(*failed)++;
				pids[i] = 0;
				continue;
			}
			left++;
		}
		if (left)
			sleep_ms(20);
	} while (left && famfs_now_ms() < deadline);
	return left;
}

static void dump_stuck(pid_t *pids, int n)
{
	char path[64], buf[4096];

	for (int i = 0; i < n; i++) {
		char wchan[128] = "?", state[4096] = "", *st;

		if (pids[i] <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/wchan", pids[i]);
		read_file(path, wchan, sizeof(wchan));
		snprintf(path, sizeof(path), "/proc/%d/status", pids[i]);
		read_file(path, state, sizeof(state));
		st = strstr(state, "State:");
		if (st)
			st[strcspn(st, "\n")] = 0;
		snprintf(path, sizeof(path), "/proc/%d/stack", pids[i]);
		if (read_file(path, buf, sizeof(buf)) < 0)
			snprintf(buf, sizeof(buf), "(no stack: CONFIG_STACKTRACE is off)\n");
		fprintf(stderr, "famfs-fuzz: stuck pid %d (%s, wchan %s):\n%s", pids[i],
			st ? st : "?", wchan, buf);
		/* a running one: in which system call, and user or system time */
		for (int k = 0; k < 2; k++) {
			char sc[256] = "?", stat[1024] = "";
			unsigned long ut = 0, stime = 0;
			char *p;

			snprintf(path, sizeof(path), "/proc/%d/syscall", pids[i]);
			read_file(path, sc, sizeof(sc));
			snprintf(path, sizeof(path), "/proc/%d/stat", pids[i]);
			read_file(path, stat, sizeof(stat));
			p = strrchr(stat, ')');
			if (p)
				sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
				       &ut, &stime);
			fprintf(stderr, "famfs-fuzz: pid %d syscall %.*s utime %lu stime %lu\n",
				pids[i], (int)strcspn(sc, "\n"), sc, ut, stime);
			sleep_ms(1000);
		}
	}
	/* the blocked tasks' stacks, and the running CPUs' (a task spinning in the kernel) */
	famfs_write_str("/proc/sysrq-trigger", "w");
	for (int k = 0; k < 3; k++) {
		famfs_write_str("/proc/sysrq-trigger", "l");
		sleep_ms(300);
	}
}

static void print_logs(__u64 round)
{
	char cmd[PATH_MAX + 64];

	fflush(NULL);
	snprintf(cmd, sizeof(cmd),
		 "for f in %s/r%llu.*.log; do echo \"== $f\"; tail -n 40 \"$f\"; done",
		 opt_dir, (unsigned long long)round);
	if (system(cmd))
		fprintf(stderr, "famfs-fuzz: could not print the logs\n");
}

/* One round; false if the oracle failed. */
static bool run_round(__u64 round)
{
	struct round_state rs = { .fd = -1 };
	struct rng r;
	char opts[256];
	__u64 fails = __atomic_load_n(&sh->failures, __ATOMIC_RELAXED);
	long long end, now;
	int i, bad = 0;
	long long held;

	plan_round(opt_seed, round);
	actor = "main";
	open_log(round);
	rng_init(&r, opt_seed, round, 999);
	__atomic_store_n(&sh->stop, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&sh->fmap_conn, 0, __ATOMIC_RELAXED);
	snprintf(rs.mnt, sizeof(rs.mnt), "%s/mnt", opt_dir);
	mkdir(rs.mnt, 0755);
	printf("famfs-fuzz: round %llu start\n", (unsigned long long)round);
	flog("round %llu: %d clients, %ld ms, end %d, allow_other %d, drop_rawio %d", round,
	     P.nclients, P.duration_ms, P.end, P.allow_other, P.drop_rawio);
	for (i = 0; i < P.nnodes; i++)
		flog("node %s id %llu parent %llu fmap %s %u bytes size %llu", P.node[i].name,
		     (unsigned long long)P.node[i].nodeid, (unsigned long long)P.node[i].parent,
		     P.node[i].dir ? "-" : fk_name[P.node[i].fkind], P.node[i].fmap_len,
		     (unsigned long long)P.node[i].size);
	rs.fd = open("/dev/fuse", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (rs.fd < 0)
		die("/dev/fuse: %s", strerror(errno));
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0%s%s", rs.fd,
		 P.allow_other ? ",allow_other" : "", chance(&r, 50) ? ",default_permissions" : "");
	if (mount("famfs-fuzz", rs.mnt, "fuse", MS_NOSUID | MS_NODEV, opts))
		die("mount %s: %s", opts, strerror(errno));
	rs.mounted = true;
	find_conn(&rs);
	__atomic_store_n(&sh->inited, 0, __ATOMIC_RELAXED);
	start_server(&rs, false);
	for (i = 0; i < P.nclients; i++) {
		rs.clients[i] = fork_user(&rs);
		if (!rs.clients[i])
			run_client(i, rs.mnt);
	}
	end = famfs_now_ms() + P.duration_ms;
	while ((now = famfs_now_ms()) < end &&
	       __atomic_load_n(&sh->failures, __ATOMIC_RELAXED) == fails) {
		sleep_ms(20 + below(&r, 200));
		if (rs.cont_at && famfs_now_ms() >= rs.cont_at) {
			kill(rs.server, SIGCONT);
			rs.cont_at = 0;
		}
		if (!opt_no_events && chance(&r, 35))
			inject_event(&rs, &r);
		/* an aborted connection serves nothing more: on to the end */
		if (rs.aborted || !reap(rs.clients, P.nclients, 0, true, &bad))
			break;
		reap(rs.workers, rs.nworkers, 0, false, NULL);
	}
	if (rs.cont_at)
		kill(rs.server, SIGCONT);
	/* the end: clients stop, the mount goes as the plan says */
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
	if (reap(rs.clients, P.nclients, famfs_now_ms() + 2000, true, &bad) || P.end == END_ABORT)
		abort_conn(&rs);
	if (rs.mounted && (P.end != END_UMOUNT || umount2(rs.mnt, 0)))
		umount2(rs.mnt, MNT_DETACH);
	/* clients waiting on a server that never answers: fuse's way out is the abort */
	if (reap(rs.clients, P.nclients, famfs_now_ms() + exit_timeout_ms, true, &bad)) {
		failure("round %llu: clients did not exit %d ms after the abort",
			(unsigned long long)round, exit_timeout_ms);
		dump_stuck(rs.clients, P.nclients);
	}
	/* event workers too: one waiting for a request ends with the abort */
	if (reap(rs.workers, rs.nworkers, famfs_now_ms() + 5000, false, NULL))
		abort_conn(&rs);
	stop_server(&rs);
	close(rs.fd);
	if (reap(rs.stuck, rs.nstuck, famfs_now_ms() + exit_timeout_ms, false, NULL)) {
		failure("round %llu: a killed server did not exit %d ms after the abort",
			(unsigned long long)round, exit_timeout_ms);
		dump_stuck(rs.stuck, rs.nstuck);
	}
	if (reap(rs.workers, rs.nworkers, famfs_now_ms() + exit_timeout_ms, false, NULL)) {
		failure("round %llu: an event (unbind, drop_caches, rmmod) did not finish in %d ms",
			(unsigned long long)round, exit_timeout_ms);
		dump_stuck(rs.workers, rs.nworkers);
	}
	if (bad)
		failure("round %llu: %d clients exited with an error", (unsigned long long)round,
			bad);
	/* nothing of the round may stay: its devices are all given back */
	for (i = 0; i < 250 && (held = famfs_held_daxdevs()) > 0; i++)
		sleep_ms(20);
	if (held > 0)
		failure("round %llu: %lld daxdevs still held after the round",
			(unsigned long long)round, held);
	for (i = 0; i < ndev; i++) {
		char drv[64];

		famfs_dax_driver(devs[i].name, drv, sizeof(drv));
		if (strcmp(drv, "fsdev_dax") && famfs_fsdev_give_back(devs[i].name))
			failure("%s is not on fsdev_dax after the round (%s)", devs[i].name, drv);
	}
	umount2(rs.mnt, MNT_DETACH);
	/* what clients created in the directory under a lazily unmounted mount */
	if (system("rm -rf /tmp/fuzz/mnt/* 2>/dev/null"))
		flog("could not empty %s", rs.mnt);
	return __atomic_load_n(&sh->failures, __ATOMIC_RELAXED) == fails;
}

static void print_counts(const char *what, const char *const *names, const __u64 *n,
			 const __u64 *ok, int count)
{
	int kinds = 0;

	for (int i = 0; i < count; i++)
		kinds += n[i] != 0;
	printf("famfs-fuzz: %s (%d of %d kinds):", what, kinds, count);
	for (int i = 0; i < count; i++) {
		if (!n[i])
			continue;
		if (ok)
			printf(" %s %llu/%llu", names[i], (unsigned long long)ok[i],
			       (unsigned long long)n[i]);
		else
			printf(" %s %llu", names[i], (unsigned long long)n[i]);
	}
	printf("\n");
}

static void summary(__u64 rounds, long long ms, int passed, int failed)
{
	const char *opn[NR_OPS + 1];
	__u64 req = 0, nt = 0, co = 0, ev = 0;
	int i;

	for (i = 0; i <= NR_OPS; i++) {
		req += sh->req[i];
		opn[i] = i < NR_OPS ? opname(i) : "other";
	}
	for (i = 0; i < NR_NOTIFY; i++)
		nt += sh->notify_sent[i];
	for (i = 0; i < NR_COPS; i++)
		co += sh->cop[i];
	for (i = 0; i < NR_EVENTS; i++)
		ev += sh->ev[i];
	printf("famfs-fuzz: seed %llu, %llu rounds in %.1f s: %llu operations, %.0f/s",
	       (unsigned long long)opt_seed, (unsigned long long)rounds, ms / 1000.0,
	       (unsigned long long)(req + nt + co + ev),
	       (req + nt + co + ev) * 1000.0 / (ms ? ms : 1));
	printf(" (%llu requests, %llu notifications, %llu client operations, %llu events)\n",
	       (unsigned long long)req, (unsigned long long)nt, (unsigned long long)co,
	       (unsigned long long)ev);
	print_counts("requests", opn, sh->req, NULL, NR_OPS + 1);
	print_counts("replies", rk_name, sh->rk, NULL, NR_RK);
	print_counts("notifications, accepted/sent", notify_name, sh->notify_sent, sh->notify_ok,
		     NR_NOTIFY);
	print_counts("client operations, succeeded/run", cop_name, sh->cop, sh->cop_ok, NR_COPS);
	print_counts("events", ev_name, sh->ev, NULL, NR_EVENTS);
	printf("famfs-fuzz: words checked %llu, unchecked %llu; opens %llu ok, %llu refused;",
	       (unsigned long long)sh->words_checked, (unsigned long long)sh->words_unchecked,
	       (unsigned long long)sh->open_ok, (unsigned long long)sh->open_failed);
	printf(" fmaps sent %llu (%llu valid); SIGBUS %llu; famfs_rs reloaded %llu times\n",
	       (unsigned long long)sh->fmaps_sent, (unsigned long long)sh->fmaps_valid_sent,
	       (unsigned long long)sh->sigbus, (unsigned long long)sh->rmmod_done);
	printf("famfs-fuzz: open() refused with:");
	for (i = 0; i < 140; i++)
		if (sh->open_errno[i])
			printf(" %s %llu", strerrorname_np(i) ? strerrorname_np(i) : "?",
			       (unsigned long long)sh->open_errno[i]);
	printf("\n");
	printf("famfs-fuzz: %d passed, %d failed\n", passed, failed);
}

int main(int argc, char **argv)
{
	long long start, deadline;
	__u64 round, first = 0;
	int passed = 0, failed = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--seed") && v)
			opt_seed = strtoull(v, NULL, 0), i++;
		else if (!strcmp(a, "--seconds") && v)
			opt_seconds = strtoul(v, NULL, 0), i++;
		else if (!strcmp(a, "--round") && v)
			opt_round = strtoull(v, NULL, 0), i++;
		else if (!strcmp(a, "--clients") && v)
			opt_clients = strtoul(v, NULL, 0), i++;
		else if (!strcmp(a, "--ops") && v)
			opt_ops = strtoull(v, NULL, 0), i++;
		else if (!strcmp(a, "--dir") && v)
			opt_dir = v, i++;
		else if (!strcmp(a, "--exit-timeout") && v)
			exit_timeout_ms = strtoul(v, NULL, 0), i++;
		else if (!strcmp(a, "--no-events"))
			opt_no_events = true;
		else if (!strcmp(a, "--no-notify"))
			opt_no_notify = true;
		else if (!strcmp(a, "--plan"))
			opt_plan = true;
		else
			die("usage: %s",
			    "famfs_fuzz [--seed S] [--seconds N] [--round R] [--clients K] [--ops N] [--no-events] [--no-notify] [--dir D] [--exit-timeout MS]");
	}
	if (opt_clients > MAX_CLIENTS)
		opt_clients = MAX_CLIENTS;
	setvbuf(stdout, NULL, _IOLBF, 0);
	mkdir(opt_dir, 0755);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	load_devices();
	load_corpus();
	/* the abort event and the watchdog's way out need fuse's control fs */
	if (access("/sys/fs/fuse/connections/", F_OK) == 0 &&
	    mount("fusectl", "/sys/fs/fuse/connections", "fusectl", 0, NULL) && errno != EBUSY)
		die("mount fusectl: %s", strerror(errno));
	printf("famfs-fuzz: seed %llu, %u s, corpus of %u fmaps\n", (unsigned long long)opt_seed,
	       opt_seconds, ncorpus);
	if (opt_plan) {
		/* --plan --round R: what round R would serve, and nothing else */
		plan_round(opt_seed, opt_round == ~0ULL ? 0 : opt_round);
		for (int i = 0; i < P.nidx; i++)
			printf("index %d: %s\n", i, devs[P.dev_of[i]].path);
		for (int i = 0; i < P.nnodes; i++) {
			printf("%s id %llu parent %llu %s size %llu fmap:", P.node[i].name,
			       (unsigned long long)P.node[i].nodeid,
			       (unsigned long long)P.node[i].parent,
			       P.node[i].dir ? "dir" : fk_name[P.node[i].fkind],
			       (unsigned long long)P.node[i].size);
			for (__u32 k = 0; k < P.node[i].fmap_len && k < 512; k++)
				printf("%s%02x", k % 8 ? "" : " ", P.node[i].fmap[k]);
			printf("\n");
		}
		printf("drop_rawio %d allow_other %d hostile %u clients %d end %d\n", P.drop_rawio,
		       P.allow_other, P.hostile, P.nclients, P.end);
		return 0;
	}
	write_identities();
	start = famfs_now_ms();
	deadline = start + opt_seconds * 1000LL;
	if (opt_round != ~0ULL)
		first = opt_round;
	for (round = first; ; round++) {
		bool ok = run_round(round);

		if (ok) {
			passed++;
		} else {
			failed++;
			printf("famfs-fuzz: round %llu FAILED; %s --seed %llu --round %llu\n",
			       (unsigned long long)round, "replay: famfs_fuzz",
			       (unsigned long long)opt_seed,
			       (unsigned long long)round);
			for (__u64 i = 0; i < sh->failures && i < MAX_FAIL; i++)
				printf("famfs-fuzz: failure: %s\n", sh->fail[i]);
			print_logs(round);
			break;
		}
		if (opt_round != ~0ULL || famfs_now_ms() >= deadline)
			break;
	}
	summary(round - first + 1, famfs_now_ms() - start, passed, failed);
	return failed ? 1 : 0;
}
