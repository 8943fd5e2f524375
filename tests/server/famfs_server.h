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
#define FAMFS_SERVER_STATS_VERSION	2
#define FAMFS_SERVER_NR_OPCODES		64
#define FAMFS_SERVER_MAX_FILES		256
#define FAMFS_SERVER_NR_DAXDEVS		32
#define FAMFS_SERVER_NR_NOTIFY		16	/* notification codes counted */
#define FAMFS_SERVER_FMAP_LOG		64	/* GET_FMAP requests logged */

/*
 * The bytes a control "notify-store NAME OFFSET LEN" sends: the byte for
 * file offset OFF (so a test can tell stored bytes from its own).
 */
#define FAMFS_STORE_BYTE(off)		((unsigned char)(((off) % 251) ^ 0x5a))
/* the conflicting lock a "lock-conflict" server reports in GETLK */
#define FAMFS_CONFLICT_PID		4242

/* One GET_FMAP request as it arrived (fmap_log[]). */
struct famfs_server_fmap_req {
	__u64 nodeid;
	__u32 inlen;		/* bytes of input payload (8: a fuse_get_fmap_in) */
	__u32 size;		/* its size field (0 if inlen < 4) */
	__u32 flags;		/* its flags field (0 if inlen < 8) */
	__s32 reply;		/* bytes replied, or the negative errno replied */
};

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
	 * struct fuse_get_fmap_in (the second round of a large fmap).
	 */
	__u64 fmap[FAMFS_SERVER_MAX_FILES];
	__u64 fmap_sized[FAMFS_SERVER_MAX_FILES];
	__u64 fmap_last_size;	/* size field of the last fuse_get_fmap_in */
	__u64 fmap_other;	/* GET_FMAP for a nodeid that is no counted file */

	/* GET_DAXDEV by index (the request's nodeid) */
	__u64 daxdev[FAMFS_SERVER_NR_DAXDEVS];
	__u64 daxdev_other;	/* index >= FAMFS_SERVER_NR_DAXDEVS */

	/* ---- version 2 ---- */

	/*
	 * GET_FMAP input: requests refused with -EINVAL because they carried
	 * no 8-byte struct fuse_get_fmap_in, flags != 0 or size < 32 (they
	 * are counted in fmap[] too, not in fmap_sized[]); the flags of the
	 * last one that had them; the first FAMFS_SERVER_FMAP_LOG requests.
	 * fmap_sized[] counts the valid requests whose size is larger than
	 * FAMFS_FMAP_FIRST_SIZE (the second round of a large fmap).
	 */
	__u64 fmap_bad_in;
	__u64 fmap_last_flags;
	__u64 fmap_log_n;	/* requests logged (at most FAMFS_SERVER_FMAP_LOG) */
	struct famfs_server_fmap_req fmap_log[FAMFS_SERVER_FMAP_LOG];

	/*
	 * SETATTR: setattr_bits[i] counts requests whose valid had bit i
	 * (FATTR_MODE = bit 0, FATTR_SIZE = bit 3, ...); setattr_last_valid
	 * the last valid; setattr_refused those answered -EROFS.
	 */
	__u64 setattr_bits[32];
	__u64 setattr_last_valid;
	__u64 setattr_refused;

	/* MKNOD (by outcome); CREATE and TMPFILE are in ops[] */
	__u64 mknod_entry;	/* answered with an entry (an existing or new node) */
	__u64 mknod_errno;	/* answered with an errno (-EROFS without a rule) */
	__u64 mknod_last_mode;

	/*
	 * Locks (GETLK, SETLK, SETLKW; ops[] has them by opcode): SETLK and
	 * SETLKW by kind (FUSE_LK_FLOCK or POSIX) and lock/unlock (F_UNLCK),
	 * GETLK, replies that reported a conflict (GETLK) or -EAGAIN
	 * (SETLK/SETLKW), and the last request's fields.
	 */
	__u64 lk_flock_lock;
	__u64 lk_flock_unlock;
	__u64 lk_posix_lock;
	__u64 lk_posix_unlock;
	__u64 lk_getlk;
	__u64 lk_conflicts;
	__u64 lk_last_opcode;
	__u64 lk_last_type;
	__u64 lk_last_flags;	/* lk_flags: FUSE_LK_FLOCK */
	__u64 lk_last_start;
	__u64 lk_last_end;
	__u64 lk_last_pid;

	/* IOCTL and POLL (counted in ops[]): the last request's fields */
	__u64 ioctl_last_cmd;
	__u64 ioctl_last_flags;
	__u64 poll_last_events;
	__u64 poll_last_flags;

	/*
	 * Notifications the control channel wrote to /dev/fuse, by code
	 * (enum fuse_notify_code): sent, accepted (write() succeeded) and
	 * refused; the last one's code and result (0 or -errno).
	 */
	__u64 notify_sent[FAMFS_SERVER_NR_NOTIFY];
	__u64 notify_ok[FAMFS_SERVER_NR_NOTIFY];
	__u64 notify_failed[FAMFS_SERVER_NR_NOTIFY];
	__u64 notify_last_code;
	__s64 notify_last_result;
	__u64 notify_reply_bytes;	/* data bytes in NOTIFY_REPLY (retrieve) */

	/* requests left unanswered (stalls), and answered by release-stall */
	__u64 stalled;
	__u64 stall_released;
	__u64 ctl_commands;	/* control commands executed */

	/*
	 * GET_DAXDEV input: requests refused with -EINVAL because their
	 * payload was not an 8-byte struct fuse_get_daxdev_in whose index is
	 * the request's nodeid and whose padding is 0 (--lax-fmap-in also
	 * accepts none, as the first protocol revision sent); the last
	 * request's payload length and index field.
	 */
	__u64 daxdev_bad_in;
	__u64 daxdev_last_inlen;
	__u64 daxdev_last_index;
};

#endif /* FAMFS_SERVER_H */
