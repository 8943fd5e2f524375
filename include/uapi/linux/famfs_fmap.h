/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * famfs_fmap.h - the famfs fmap wire format, as a fuse server sends it
 *
 * A famfs fuse server describes where each file lives on its DAX devices
 * with an "fmap", sent as the reply to FUSE_GET_FMAP. The kernel (the
 * famfs_rs module) validates it completely before it maps anything.
 *
 * All fields are little-endian and packed as declared (every structure
 * here is a multiple of 8 bytes with naturally aligned fields, so there
 * is no padding).
 *
 * Message: one struct famfs_fmap_header, then either
 *   - nextents x struct famfs_fmap_simple_ext          (FAMFS_EXT_SIMPLE), or
 *   - nextents x (struct famfs_fmap_interleaved_ext
 *                 + nstrips x struct famfs_fmap_simple_ext) (FAMFS_EXT_INTERLEAVE)
 * and nothing after the last extent.
 *
 * Rules (each violation fails the open() with the errno in brackets):
 *   - reply shorter than the header, extents overrunning it, or bytes after
 *     the last extent                                          [EINVAL]
 *   - fmap_version != FAMFS_FMAP_VERSION, file_type not one of
 *     enum famfs_file_type, ext_type unknown, any reserved field != 0
 *     (except header.reserved0, see below)                     [EINVAL]
 *   - nextents == 0 or > FAMFS_FMAP_MAX_EXTENTS                [ERANGE]
 *   - nstrips == 0 or > FAMFS_FMAP_MAX_STRIPS                  [ERANGE]
 *   - devindex >= FAMFS_MAX_DAXDEVS                            [ERANGE]
 *   - an extent or strip offset or length not a multiple of
 *     FAMFS_FMAP_ALIGN (2 MiB), or a zero length               [EINVAL]
 *   - chunk_size == 0 or not a multiple of FAMFS_FMAP_ALIGN    [EINVAL]
 *   - an interleaved extent with nbytes == 0, or (when it is not the
 *     last) nbytes not a multiple of FAMFS_FMAP_ALIGN          [EINVAL]
 *   - offset + len, any sum of lengths, or file_size or the sum of
 *     nbytes rounded up to 2 MiB, past 2^64                   [EOVERFLOW]
 *   - extents that together cover less than file_size          [EINVAL]
 *   - a strip too short for the stripes the file places on it [EINVAL]
 *   - an fmap whose fault-path index would exceed
 *     FAMFS_FMAP_MAX_INDEX entries (see Documentation)         [E2BIG]
 *
 * Large fmaps. Every FUSE_GET_FMAP carries a struct fuse_get_fmap_in
 * (linux/fuse.h) whose size field is the room the kernel has for the
 * reply. The first one has room for FAMFS_FMAP_FIRST_SIZE bytes (what V10
 * servers expect). A server whose fmap is larger replies with the header
 * alone (exactly sizeof(struct famfs_fmap_header) bytes) with reserved0
 * set to the full size of the fmap in bytes. The kernel then sends
 * FUSE_GET_FMAP once more, with that size in fuse_get_fmap_in, and the
 * server replies with the whole fmap, header.reserved0 == 0, of
 * exactly the announced size. Only one retry is made. The header of an
 * announcement must pass every header rule above, with the same errno.
 * Violations of the exchange itself:
 *   - an announcement longer than the header alone            [EPROTO]
 *   - announced size <= FAMFS_FMAP_FIRST_SIZE                  [EPROTO]
 *   - announced size > FAMFS_FMAP_MAX_SIZE                     [E2BIG]
 *   - the second reply is not of the announced size, or
 *     announces again                                          [EPROTO]
 * A complete reply (reserved0 == 0) is always accepted in the first round.
 */
#ifndef _UAPI_LINUX_FAMFS_FMAP_H
#define _UAPI_LINUX_FAMFS_FMAP_H

#include <linux/types.h>

#define FAMFS_FMAP_VERSION	1
#define FAMFS_FMAP_ALIGN	(2ULL << 20)	/* 2 MiB: PMD size on x86-64 */
#define FAMFS_MAX_DAXDEVS	24
#define FAMFS_FMAP_MAX_STRIPS	32
#define FAMFS_FMAP_MAX_EXTENTS	(1U << 21)	/* 2,097,152 */
#define FAMFS_FMAP_MAX_INDEX	(1U << 22)	/* entries of 8 bytes: 32 MiB */
#define FAMFS_FMAP_FIRST_SIZE	4096
#define FAMFS_FMAP_MAX_SIZE	(64U << 20)

/* FUSE_GET_DAXDEV reply: name is a NUL-terminated path like /dev/dax0.0 */
#define FAMFS_DAXDEV_NAME_MAX	256

enum famfs_file_type {
	FAMFS_FILE_REG = 0,
	FAMFS_FILE_SUPERBLOCK = 1,
	FAMFS_FILE_LOG = 2,
};

enum famfs_ext_type {
	FAMFS_EXT_SIMPLE = 0,
	FAMFS_EXT_INTERLEAVE = 1,
};

struct famfs_fmap_header {
	__u8  file_type;	/* enum famfs_file_type */
	__u8  reserved;		/* must be 0 */
	__u16 fmap_version;	/* FAMFS_FMAP_VERSION */
	__u32 ext_type;		/* enum famfs_ext_type */
	__u32 nextents;
	__u32 reserved0;	/* 0, or the full size in a large-fmap announcement */
	__u64 file_size;
	__u64 reserved1;	/* must be 0 */
};

struct famfs_fmap_simple_ext {
	__u32 devindex;		/* < FAMFS_MAX_DAXDEVS */
	__u32 reserved;		/* must be 0 */
	__u64 offset;		/* byte offset in the daxdev, 2 MiB aligned */
	__u64 len;		/* bytes, 2 MiB multiple, > 0 */
};

struct famfs_fmap_interleaved_ext {
	__u32 nstrips;		/* 1..FAMFS_FMAP_MAX_STRIPS strips follow */
	__u32 chunk_size;	/* bytes, 2 MiB multiple, > 0 */
	__u64 nbytes;		/* file bytes this extent covers, > 0 */
	__u64 reserved;		/* must be 0 */
};

/*
 * FUSE_GET_DAXDEV reply. The daxdev index travels in struct
 * fuse_get_daxdev_in (linux/fuse.h) and in the request's nodeid.
 */
struct famfs_daxdev_out {
	__u16 index;
	__u16 reserved;
	__u32 reserved2;
	__u64 reserved3;
	__u64 reserved4;
	char  name[FAMFS_DAXDEV_NAME_MAX];
};

#endif /* _UAPI_LINUX_FAMFS_FMAP_H */
