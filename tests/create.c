// SPDX-License-Identifier: GPL-2.0
/*
 * Creating files on a FUSE_DAX_FMAP connection. The kernel never sends
 * FUSE_CREATE or FUSE_TMPFILE there: open(O_CREAT) of a new name sends
 * MKNOD, and then the open sends OPEN and GET_FMAP for the nodeid the
 * MKNOD reply named; O_TMPFILE fails with EOPNOTSUPP. The server's
 * "mknod NAME reply=..." rules say what each MKNOD gets:
 *   fresh   reply=new       a new nodeid, listed in the manifest with an
 *                           fmap (absent until the MKNOD): works like any file;
 *   alias   reply=existing  the nodeid and attributes of "existing", which is
 *                           open and mapped: the same file through both
 *                           descriptors, no second GET_FMAP, and the alias's
 *                           O_TRUNC truncates nothing (the open "created" it);
 *   refused (no rule)       -EROFS, the server's default: open fails EROFS.
 * creat(2) and the shell's > (O_CREAT | O_TRUNC) of a new name work: the
 * VFS does not truncate a file the open created, and famfs_rs refuses
 * O_TRUNC only on an existing file (it cannot shrink an fmap). O_DIRECT
 * opens work and their I/O is DAX I/O, as on ext4 and xfs; writes past
 * the fmap's end fail with ENOSPC.
 *
 * Every case runs twice: with a server that takes FUSE_ATOMIC_O_TRUNC
 * (fuse then truncates at open, after OPEN, a file opened with O_TRUNC:
 * never an fmap file's DAX entries or size) and with one that does not.
 */
#include <sys/wait.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define MANIFEST "/tmp/create.manifest"
#define SZ (2ULL << 20)
#define IDX_EXISTING 0		/* manifest positions: nodeid = 2 + position */
#define IDX_FRESH 1

FIXTURE(create) {
	struct famfs_mount m;
	char dir[128];
};

FIXTURE_VARIANT(create) {
	const char *extra;	/* manifest lines */
};

FIXTURE_VARIANT_ADD(create, plain) {
	.extra = "",
};

FIXTURE_VARIANT_ADD(create, atomic_o_trunc) {
	.extra = "atomic-o-trunc\n",
};

FIXTURE_SETUP(create)
{
	ASSERT_TRUE(module_loaded("famfs_rs"));
	ASSERT_EQ(0, famfs_write_manifest(MANIFEST,
					  "daxdev 0 /dev/dax1.0\n"
					  "file existing 2M simple 0:0:2M\n"
					  "file fresh 2M simple 0:2M:2M\n"
					  "file made 2M simple 0:4M:2M\n"
					  "file shell 2M simple 0:6M:2M\n"
					  "mknod fresh reply=new\n"
					  "mknod made reply=new\n"
					  "mknod shell reply=new\n"
					  "mknod alias reply=existing\n%s", variant->extra));
	ASSERT_EQ(0, famfs_mount_start(&self->m, MANIFEST, NULL, true, NULL));
	ASSERT_EQ(FAMFS_INIT_DAX_FMAP,
		  famfs_load(&self->m.st->init_flags_out) & FAMFS_INIT_DAX_FMAP);
	ASSERT_EQ(*variant->extra ? (__u64)FUSE_ATOMIC_O_TRUNC : 0,
		  famfs_load(&self->m.st->init_flags_out) & FUSE_ATOMIC_O_TRUNC);
	snprintf(self->dir, sizeof(self->dir), "%s", self->m.mnt);
}

FIXTURE_TEARDOWN(create)
{
	int status = -1;

	famfs_mount_stop(&self->m, &status);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("server wait status %#x", status);
	unlink(MANIFEST);
}

/* Neither CREATE nor TMPFILE ever reached the server. */
static void expect_no_create(struct __test_metadata *_metadata, struct famfs_mount *m)
{
	EXPECT_EQ(0ULL, famfs_load(&m->st->ops[FUSE_CREATE]));
	EXPECT_EQ(0ULL, famfs_load(&m->st->ops[FUSE_TMPFILE]));
}

TEST_F(create, o_creat_of_new_name_sends_mknod_then_open_and_get_fmap)
{
	unsigned char *want = malloc(SZ), *got = malloc(SZ), *map;
	char path[PATH_MAX];
	__u64 opens, logged, i;
	struct stat sb;
	bool seen = false;
	int fd;

	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, got);
	snprintf(path, sizeof(path), "%s/fresh", self->dir);
	/* absent until created */
	EXPECT_EQ(-1, stat(path, &sb));
	EXPECT_EQ(ENOENT, errno);
	opens = famfs_load(&self->m.st->ops[FUSE_OPEN]);
	fd = open(path, O_CREAT | O_EXCL | O_RDWR, 0644);
	ASSERT_LE(0, fd) TH_LOG("open(O_CREAT): %s", strerror(errno));
	expect_no_create(_metadata, &self->m);
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->ops[FUSE_MKNOD]));
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->mknod_entry));
	EXPECT_EQ((__u64)S_IFREG, famfs_load(&self->m.st->mknod_last_mode) & S_IFMT);
	EXPECT_EQ(opens + 1, famfs_load(&self->m.st->ops[FUSE_OPEN]));
	/* GET_FMAP for the nodeid the MKNOD reply gave: 2 + IDX_FRESH */
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->fmap[IDX_FRESH]));
	logged = famfs_load(&self->m.st->fmap_log_n);
	for (i = 0; i < logged; i++)
		if (self->m.st->fmap_log[i].nodeid == 2 + IDX_FRESH)
			seen = true;
	EXPECT_TRUE(seen);
	ASSERT_EQ(0, fstat(fd, &sb));
	EXPECT_EQ(SZ, (unsigned long long)sb.st_size);
	EXPECT_EQ((ino_t)(2 + IDX_FRESH), sb.st_ino);
	/* a file like any other: write(), mmap, read() */
	famfs_pattern(want, SZ, 0, 11);
	EXPECT_EQ((ssize_t)SZ, pwrite(fd, want, SZ, 0));
	map = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(SZ, famfs_map_diff(map, want, SZ));
	want[100] ^= 0xff;
	EXPECT_EQ(0, famfs_map_poke(map, 100, want[100]));
	EXPECT_EQ((ssize_t)SZ, pread(fd, got, SZ, 0));
	EXPECT_EQ(SZ, famfs_first_diff(got, want, SZ));
	munmap(map, SZ);
	close(fd);
	/* the name is there now */
	EXPECT_EQ(0, stat(path, &sb));
	EXPECT_EQ(0ULL, famfs_load(&self->m.st->reply_errors));
	free(want);
	free(got);
}

TEST_F(create, mknod_reply_naming_an_open_mapped_file_gives_that_file)
{
	unsigned char *want = malloc(SZ), *got = malloc(SZ), *map;
	char path[PATH_MAX], apath[PATH_MAX];
	struct stat sa, sb;
	int fd, afd;

	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, got);
	snprintf(path, sizeof(path), "%s/existing", self->dir);
	snprintf(apath, sizeof(apath), "%s/alias", self->dir);
	fd = open(path, O_RDWR);
	ASSERT_LE(0, fd) TH_LOG("open existing: %s", strerror(errno));
	famfs_pattern(want, SZ, 0, 12);
	ASSERT_EQ((ssize_t)SZ, pwrite(fd, want, SZ, 0));
	map = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(SZ, famfs_map_diff(map, want, SZ));

	afd = open(apath, O_CREAT | O_TRUNC | O_RDWR, 0644);
	ASSERT_LE(0, afd) TH_LOG("open(O_CREAT) alias: %s", strerror(errno));
	expect_no_create(_metadata, &self->m);
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->ops[FUSE_MKNOD]));
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->mknod_entry));
	/* the same inode: one GET_FMAP in all */
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->fmap[IDX_EXISTING]));
	ASSERT_EQ(0, fstat(fd, &sa));
	ASSERT_EQ(0, fstat(afd, &sb));
	EXPECT_EQ(sa.st_ino, sb.st_ino);
	EXPECT_EQ(SZ, (unsigned long long)sb.st_size);
	/* the same bytes through both descriptors and the mapping */
	EXPECT_EQ((ssize_t)SZ, pread(afd, got, SZ, 0));
	EXPECT_EQ(SZ, famfs_first_diff(got, want, SZ));
	got[0] = want[0] ^ 0x3c;
	EXPECT_EQ(1, pwrite(afd, got, 1, 0));
	want[0] = got[0];
	EXPECT_EQ((size_t)2, famfs_map_diff(map, want, 2));
	want[SZ - 1] ^= 0xc3;
	EXPECT_EQ(0, famfs_map_poke(map, SZ - 1, want[SZ - 1]));
	EXPECT_EQ(1, pread(afd, got, 1, SZ - 1));
	EXPECT_EQ(want[SZ - 1], got[0]);
	munmap(map, SZ);
	close(afd);
	close(fd);
	free(want);
	free(got);
}

TEST_F(create, mknod_refused_by_the_server_fails_the_open_with_erofs)
{
	char path[PATH_MAX];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/refused", self->dir);
	errno = 0;
	EXPECT_EQ(-1, open(path, O_CREAT | O_RDWR, 0644));
	EXPECT_EQ(EROFS, errno);
	expect_no_create(_metadata, &self->m);
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->ops[FUSE_MKNOD]));
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->mknod_errno));
	EXPECT_EQ(0ULL, famfs_load(&self->m.st->ops[FUSE_OPEN]));
	EXPECT_EQ(-1, stat(path, &sb));
}

TEST_F(create, creat_and_shell_redirect_of_new_names_work)
{
	char path[PATH_MAX], cmd[PATH_MAX + 64], got[16];
	int fd, st;

	/* creat(2): O_CREAT | O_WRONLY | O_TRUNC */
	snprintf(path, sizeof(path), "%s/made", self->dir);
	fd = creat(path, 0644);
	ASSERT_LE(0, fd) TH_LOG("creat: %s", strerror(errno));
	EXPECT_EQ(5, write(fd, "hello", 5));
	EXPECT_EQ(0, close(fd));
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(5, read(fd, got, 5));
	EXPECT_EQ(0, memcmp(got, "hello", 5));
	EXPECT_EQ(0, close(fd));
	/* the existing file is not truncated: O_TRUNC on it is refused */
	errno = 0;
	EXPECT_EQ(-1, creat(path, 0644));
	EXPECT_EQ(EPERM, errno);

	/* the shell's > on a new name */
	snprintf(path, sizeof(path), "%s/shell", self->dir);
	snprintf(cmd, sizeof(cmd), "echo redirected > %s", path);
	st = system(cmd);
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("sh: status %#x", st);
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(11, read(fd, got, 11));
	EXPECT_EQ(0, memcmp(got, "redirected\n", 11));
	EXPECT_EQ(0, close(fd));
	expect_no_create(_metadata, &self->m);
	EXPECT_EQ(2ULL, famfs_load(&self->m.st->ops[FUSE_MKNOD]));
}

TEST_F(create, o_direct_is_dax_io_and_writes_past_the_end_fail_with_enospc)
{
	unsigned char *buf, *want;
	char path[PATH_MAX], cmd[2 * PATH_MAX];
	int fd, st;

	ASSERT_EQ(0, posix_memalign((void **)&buf, 4096, SZ));
	ASSERT_EQ(0, posix_memalign((void **)&want, 4096, SZ));
	snprintf(path, sizeof(path), "%s/existing", self->dir);
	fd = open(path, O_RDWR | O_DIRECT);
	ASSERT_LE(0, fd) TH_LOG("open(O_DIRECT): %s", strerror(errno));
	famfs_pattern(want, SZ, 0, 17);
	EXPECT_EQ((ssize_t)SZ, pwrite(fd, want, SZ, 0));
	EXPECT_EQ((ssize_t)SZ, pread(fd, buf, SZ, 0));
	EXPECT_EQ(SZ, famfs_first_diff(buf, want, SZ));
	/* DAX I/O: no READ or WRITE reaches the server */
	EXPECT_EQ(0ULL, famfs_load(&self->m.st->ops[FUSE_READ]));
	EXPECT_EQ(0ULL, famfs_load(&self->m.st->ops[FUSE_WRITE]));
	/* at the end of the fmap there is no space left */
	errno = 0;
	EXPECT_EQ(-1, pwrite(fd, want, 4096, SZ));
	EXPECT_EQ(ENOSPC, errno);
	EXPECT_EQ(0, close(fd));

	/* dd oflag=direct, as a user would: 1 MiB at 512 KiB */
	snprintf(cmd, sizeof(cmd),
		 "dd if=/dev/zero of=%s bs=4096 count=256 seek=128 oflag=direct conv=notrunc 2>/dev/null",
		 path);
	st = system(cmd);
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("dd: status %#x", st);
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ((ssize_t)SZ, pread(fd, buf, SZ, 0));
	memset(want + 512 * 1024, 0, 1024 * 1024);
	EXPECT_EQ(SZ, famfs_first_diff(buf, want, SZ));
	EXPECT_EQ(0, close(fd));
	/* and dd past the end reports no space */
	snprintf(cmd, sizeof(cmd),
		 "dd if=/dev/zero of=%s bs=4096 count=1 seek=512 oflag=direct conv=notrunc 2>/dev/null",
		 path);
	st = system(cmd);
	EXPECT_FALSE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	free(buf);
	free(want);
}

TEST_F(create, o_tmpfile_fails_with_eopnotsupp_and_sends_nothing)
{
	errno = 0;
	EXPECT_EQ(-1, open(self->dir, O_TMPFILE | O_RDWR, 0600));
	EXPECT_EQ(EOPNOTSUPP, errno);
	expect_no_create(_metadata, &self->m);
	EXPECT_EQ(0ULL, famfs_load(&self->m.st->ops[FUSE_MKNOD]));
}

TEST_HARNESS_MAIN
