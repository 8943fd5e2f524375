/* SPDX-License-Identifier: GPL-2.0 */
/*
 * famfs_server.h - what the test fuse server shares with the tests
 *
 * famfs_server --stats PATH creates PATH as one struct famfs_server_stats
 * and keeps it mapped MAP_SHARED, updating it with __atomic operations as
 * requests arrive, so a test can mmap PATH and read live counts. PATH
 * appears atomically (written as PATH.tmp, then renamed) with its full
 * size and magic, so a test may map it as soon as it exists. Read the
 * counters with __atomic_load_n(); @ready with __ATOMIC_ACQUIRE.
 */
#ifndef FAMFS_SERVER_H
#define FAMFS_SERVER_H

#include <linux/types.h>

#ifndef BIT_ULL
#define BIT_ULL(nr)		(1ULL << (nr))
#endif

/* famfs's additions to the fuse protocol (not in Linux 7.3's fuse.h) */
#define FAMFS_OP_GET_FMAP	54
#define FAMFS_OP_GET_DAXDEV	55
#define FAMFS_INIT_DAX_FMAP	BIT_ULL(44)	/* bit 12 of init flags2 */

#define FAMFS_SERVER_STATS_MAGIC	0x7374617473666d66ULL	/* "fmfstats" */
#define FAMFS_SERVER_STATS_VERSION	1
#define FAMFS_SERVER_NR_OPCODES		64
#define FAMFS_SERVER_MAX_FILES		256
#define FAMFS_SERVER_NR_DAXDEVS		32

struct famfs_server_stats {
	__u64 magic;		/* FAMFS_SERVER_STATS_MAGIC */
	__u32 version;		/* FAMFS_SERVER_STATS_VERSION */
	__u32 size;		/* sizeof(struct famfs_server_stats) */
	__u64 pid;		/* the serving process (the daemon after a fork) */
	__u64 ready;		/* 1 once the INIT reply was written */
	__u64 done;		/* 1 when serving ended (unmount, DESTROY, signal) */

	/* FUSE_INIT as the kernel sent it and as the server answered */
	__u32 init_major;
	__u32 init_minor;
	__u64 init_flags_in;	/* flags | flags2 << 32 (if FUSE_INIT_EXT) */
	__u64 init_flags_out;	/* flags | flags2 << 32 of the reply */

	/* every request read from /dev/fuse, by opcode */
	__u64 ops[FAMFS_SERVER_NR_OPCODES];
	__u64 ops_other;	/* opcodes >= FAMFS_SERVER_NR_OPCODES */
	__u64 bad_requests;	/* malformed: too short, wrong length */
	__u64 reply_errors;	/* writes to /dev/fuse that failed */

	/*
	 * GET_FMAP by the file's position among the manifest's "file" lines
	 * (the first 256 files): every request, and those that carried a
	 * struct famfs_get_fmap_in (the second round of a large fmap).
	 */
	__u64 fmap[FAMFS_SERVER_MAX_FILES];
	__u64 fmap_sized[FAMFS_SERVER_MAX_FILES];
	__u64 fmap_last_size;	/* size field of the last famfs_get_fmap_in */
	__u64 fmap_other;	/* GET_FMAP for a nodeid that is no counted file */

	/* GET_DAXDEV by index (the request's nodeid) */
	__u64 daxdev[FAMFS_SERVER_NR_DAXDEVS];
	__u64 daxdev_other;	/* index >= FAMFS_SERVER_NR_DAXDEVS */
};

#endif /* FAMFS_SERVER_H */
