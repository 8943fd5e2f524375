// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile GET_DAXDEV replies. One mount; every case is a file whose
 * (valid) fmap names one daxdev index of its own, and the server answers
 * the GET_DAXDEV for that index with the case's reply: a path to
 * something that is not a usable fsdev_dax device, or a malformed reply.
 * Each open fails with the errno of the table below and exactly one
 * famfs_rs log line; a retry asks the server again (a failure is not
 * cached in the connection's device table); the module asks only for the
 * indices the fmaps name. Afterwards every device the cases touched can
 * be taken by a new connection: nothing was left held.
 *
 * Devices (tests/guest/setup-devices.sh): dax1.0 is held by a second,
 * well-behaved mount for the "busy" case; dax2.0 is moved to device_dax
 * for its case and back, then named under two indices; dax3.0 is reached
 * through a symlink. /dev/null and a node of the dax major with a minor no
 * device has were the cases that made plain 7.3's dax_dev_get() create a
 * bogus dax_device (a WARN and a bad ida_free() on release):
 * patches/dax/0001 fixes that.
 */
#include <limits.h>
#include <sys/sysmacros.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define DIR "/tmp/hostile-daxdev"
#define NAME_OFF 24		/* offsetof(struct famfs_daxdev_out, name) */
#define REPLY_SIZE 280

enum reply_kind {
	PATH,			/* a well-formed reply naming .path */
	NO_NUL,			/* 256 name bytes, none of them NUL */
	OTHER_INDEX,		/* the index field names another index */
	RESERVED,		/* a reserved field not zero */
	SHORT,			/* 279 bytes */
	LONG,			/* 281 bytes: more than the kernel's buffer */
	EMPTY,			/* a success reply with no bytes */
	SERVER_EIO,		/* the server answers -EIO */
	UNKNOWN,		/* the server does not know the index */
};

static const struct daxdev_case {
	const char *name;
	enum reply_kind kind;
	const char *path;
	int err;		/* 0: the open must succeed */
} cases[] = {
	/* first: dax2.0 must not be held yet when it moves to device_dax */
	{ "device_dax_bound", PATH, "/dev/dax2.0", EOPNOTSUPP },
	{ "no_nul", NO_NUL, NULL, EINVAL },
	{ "reply_for_other_index", OTHER_INDEX, "/dev/dax2.0", EINVAL },
	{ "reserved_not_zero", RESERVED, "/dev/dax2.0", EINVAL },
	{ "reply_279_bytes", SHORT, "/dev/dax2.0", EINVAL },
	{ "reply_281_bytes", LONG, "/dev/dax2.0", EIO },
	{ "empty_reply", EMPTY, NULL, EINVAL },
	{ "empty_name", PATH, "", EINVAL },
	{ "relative_path", PATH, "dax2.0", EINVAL },
	{ "server_error", SERVER_EIO, NULL, EIO },
	{ "index_unknown_to_server", UNKNOWN, NULL, ENOENT },
	{ "no_such_path", PATH, "/dev/dax9.9", ENOENT },
	{ "regular_file", PATH, DIR "/regular", ENODEV },
	{ "directory", PATH, "/dev", ENODEV },
	{ "block_device", PATH, DIR "/blk", ENODEV },
	{ "symlink_loop", PATH, DIR "/loop1", ELOOP },
	{ "char_device_not_dax", PATH, "/dev/null", ENODEV },
	{ "dax_major_unused_minor", PATH, DIR "/daxghost", ENODEV },
	{ "held_by_another_mount", PATH, "/dev/dax1.0", EBUSY },
	{ "symlink_to_daxdev", PATH, DIR "/link", 0 },
	{ "first_index_of_dax2", PATH, "/dev/dax2.0", 0 },
	{ "second_index_of_dax2", PATH, "/dev/dax2.0", EBUSY },
};

#define NCASES ((int)ARRAY_SIZE(cases))

static void put_hex(FILE *f, const unsigned char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		fprintf(f, "%02x", b[i]);
}

/* The manifest line(s) answering GET_DAXDEV @index as case @c says. */
static void daxdev_lines(FILE *f, int index, const struct daxdev_case *c)
{
	unsigned char r[REPLY_SIZE + 1] = { 0 };
	size_t n = REPLY_SIZE;

	switch (c->kind) {
	case PATH:
		if (c->path[0]) {
			fprintf(f, "daxdev %d %s\n", index, c->path);
			return;
		}
		break;		/* the empty name: raw bytes below */
	case SERVER_EIO:
		fprintf(f, "daxdev-errno %d EIO\n", index);
		return;
	case EMPTY:
		fprintf(f, "daxdev-errno %d 0\n", index);
		return;
	case UNKNOWN:
		return;
	default:
		break;
	}
	r[0] = index;
	if (c->path)
		memcpy(r + NAME_OFF, c->path, strlen(c->path));
	if (c->kind == NO_NUL)
		memset(r + NAME_OFF, 'a', REPLY_SIZE - NAME_OFF);
	if (c->kind == OTHER_INDEX)
		r[0] = index + 1;
	if (c->kind == RESERVED)
		r[12] = 1;	/* reserved3 */
	if (c->kind == SHORT)
		n--;
	if (c->kind == LONG)
		n++;
	fprintf(f, "daxdev-reply %d =", index);
	put_hex(f, r, n);
	fprintf(f, "\n");
}

static void setup_paths(struct __test_metadata *_metadata)
{
	struct stat sb;
	int fd;

	mkdir(DIR, 0755);
	fd = open(DIR "/regular", O_CREAT | O_WRONLY | O_TRUNC, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(4, write(fd, "data", 4));
	close(fd);
	unlink(DIR "/blk");
	ASSERT_EQ(0, mknod(DIR "/blk", S_IFBLK | 0600, makedev(7, 0)));
	unlink(DIR "/loop1");
	unlink(DIR "/loop2");
	ASSERT_EQ(0, symlink(DIR "/loop2", DIR "/loop1"));
	ASSERT_EQ(0, symlink(DIR "/loop1", DIR "/loop2"));
	/* the dax major with a minor no dax device has */
	ASSERT_EQ(0, stat("/dev/dax1.0", &sb));
	unlink(DIR "/daxghost");
	ASSERT_EQ(0, mknod(DIR "/daxghost", S_IFCHR | 0600, makedev(major(sb.st_rdev), 250)));
	unlink(DIR "/link");
	ASSERT_EQ(0, symlink("/dev/dax3.0", DIR "/link"));
}

TEST(hostile_daxdev_replies_fail_the_open_cleanly)
{
	char manifest[] = DIR "/hostile.manifest", other[] = DIR "/holder.manifest";
	char path[PATH_MAX], drv[64];
	struct famfs_mount m, holder;
	int i, k, fd, err, kmsg, fails = 0, holder_fd;
	struct famfs_kmsg kl;
	struct stat sb;
	__u64 sum;
	FILE *f;

	ASSERT_TRUE(module_loaded("famfs_rs"));
	ASSERT_LE(NCASES, FAMFS_SERVER_NR_DAXDEVS);
	setup_paths(_metadata);

	/* a well-behaved mount that holds dax1.0 */
	f = fopen(other, "w");
	ASSERT_NE(NULL, f);
	fprintf(f, "daxdev 0 /dev/dax1.0\nfile held 2M simple 0:0:2M\n");
	ASSERT_EQ(0, fclose(f));
	ASSERT_EQ(0, famfs_mount_start(&holder, other, NULL, true, NULL));
	snprintf(path, sizeof(path), "%s/held", holder.mnt);
	holder_fd = open(path, O_RDWR);
	ASSERT_LE(0, holder_fd) TH_LOG("holder: %s", strerror(errno));

	/* case i: file i on daxdev index i */
	f = fopen(manifest, "w");
	ASSERT_NE(NULL, f);
	for (i = 0; i < NCASES; i++) {
		fprintf(f, "file %s 2M simple %d:0:2M\n", cases[i].name, i);
		daxdev_lines(f, i, &cases[i]);
	}
	ASSERT_EQ(0, fclose(f));
	ASSERT_EQ(0, famfs_mount_start(&m, manifest, NULL, true, NULL));
	kmsg = famfs_kmsg_open();
	ASSERT_LE(0, kmsg);
	/* the log limiter's window: start with a full burst (see bad_fmaps.c) */
	usleep(5300 * 1000);

	for (i = 0; i < NCASES; i++) {
		const struct daxdev_case *c = &cases[i];
		bool raw = !strcmp(c->name, "device_dax_bound");

		if (raw)
			ASSERT_EQ(0, famfs_dax_rebind("dax2.0", true));
		snprintf(path, sizeof(path), "%s/%s", m.mnt, c->name);
		ASSERT_EQ(0, stat(path, &sb));
		/* twice: a failure must not stick in the device table */
		for (k = 0; k < (c->err ? 2 : 1); k++) {
			famfs_kmsg_scan(kmsg, 0, &kl);
			fd = open(path, O_RDWR);
			err = fd < 0 ? errno : 0;
			famfs_kmsg_scan(kmsg, sb.st_ino, &kl);
			if (fd >= 0)
				close(fd);
			if (err != c->err) {
				TH_LOG("%s: open gave %s, expected %s", c->name,
				       err ? strerror(err) : "success",
				       c->err ? strerror(c->err) : "success");
				fails++;
			}
			if (kl.famfs != (c->err ? 1 : 0) || kl.ino != kl.famfs) {
				TH_LOG("%s: %d famfs_rs log lines (%d about inode %llu): %s",
				       c->name, kl.famfs, kl.ino,
				       (unsigned long long)sb.st_ino, kl.last);
				fails++;
			}
			if (famfs_load(&m.st->daxdev[i]) != (__u64)k + 1) {
				TH_LOG("%s: %llu GET_DAXDEV for index %d after %d opens",
				       c->name,
				       (unsigned long long)famfs_load(&m.st->daxdev[i]), i,
				       k + 1);
				fails++;
			}
		}
		if (raw) {
			ASSERT_EQ(0, famfs_dax_rebind("dax2.0", false));
			famfs_dax_driver("dax2.0", drv, sizeof(drv));
			ASSERT_STREQ("fsdev_dax", drv);
		}
	}
	EXPECT_EQ(0, fails);

	/* only the indices the fmaps name were asked for */
	sum = famfs_load(&m.st->daxdev_other);
	for (i = NCASES; i < FAMFS_SERVER_NR_DAXDEVS; i++)
		sum += famfs_load(&m.st->daxdev[i]);
	EXPECT_EQ(0ULL, sum);

	famfs_mount_stop(&m, NULL);
	EXPECT_EQ(0, close(holder_fd));
	famfs_mount_stop(&holder, NULL);
	close(kmsg);

	/* nothing left held: a new connection takes all three devices */
	f = fopen(other, "w");
	ASSERT_NE(NULL, f);
	fprintf(f, "daxdev 0 /dev/dax1.0\ndaxdev 1 /dev/dax2.0\ndaxdev 2 /dev/dax3.0\n"
		   "file all 6M simple 0:0:2M 1:0:2M 2:0:2M\n");
	ASSERT_EQ(0, fclose(f));
	ASSERT_EQ(0, famfs_mount_start(&holder, other, NULL, true, NULL));
	snprintf(path, sizeof(path), "%s/all", holder.mnt);
	fd = open(path, O_RDWR);
	EXPECT_LE(0, fd) TH_LOG("all three devices: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	famfs_mount_stop(&holder, NULL);
	unlink(manifest);
	unlink(other);
}

TEST_HARNESS_MAIN
