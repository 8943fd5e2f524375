// SPDX-License-Identifier: GPL-2.0
/*
 * fuse notifications a server writes to /dev/fuse about the regular files
 * of a FUSE_DAX_FMAP connection (famfs_server --control, famfs_ctl()).
 * Files: "mapped" opened, written and mapped MAP_SHARED; "opened" opened
 * and written; "never" looked up (stat) but never opened. The data of an
 * fmap file lives on the DAX device, never in a page cache, so:
 *   - NOTIFY_STORE and NOTIFY_RETRIEVE naming any of them, at any offset
 *     (0, past EOF, 1 TiB + 1), are refused: the write() fails with
 *     EOPNOTSUPP, no NOTIFY_REPLY comes back, and nothing changes: st_size,
 *     the bytes read() gives and the bytes the existing mapping shows;
 *   - NOTIFY_INVAL_INODE (0/0, -1/0, past EOF) succeeds and changes nothing
 *     visible (the size stays the fmap's, the data intact);
 *   - NOTIFY_INVAL_ENTRY and NOTIFY_DELETE of the mapped file's name
 *     succeed (its dentry is cached: the test looked it up), those of a
 *     name never looked up fail with ENOENT (fuse finds no dentry), and the
 *     mapped file keeps working;
 *   - NOTIFY_PRUNE of the mapped file's nodeid succeeds, the mapping works.
 * After each case every page of every file faults again (a fresh mapping,
 * no SIGBUS) and the unmount is clean (the server exits 0).
 */
#include "famfs_test.h"
#include "kselftest_harness.h"

#define MANIFEST "/tmp/notify.manifest"
#define SZ_MAPPED (4ULL << 20)
#define SZ_FILE (2ULL << 20)
#define TIB (1024ULL * 1024 * 1024 * 1024)
#define NR_FILES 3
#define NOTIFY_PRUNE 9		/* enum fuse_notify_code: Linux 7.3's fuse.h, not the libc's */

static const char *const names[NR_FILES] = { "mapped", "opened", "never" };
static const unsigned long long sizes[NR_FILES] = { SZ_MAPPED, SZ_FILE, SZ_FILE };

FIXTURE(notify) {
	struct famfs_mount m;
	int fd[NR_FILES];
	unsigned char *map;	/* "mapped", MAP_SHARED */
	unsigned char *want[NR_FILES];	/* what each file holds */
	ino_t ino[NR_FILES];
};

static void path_of(struct famfs_mount *m, const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", m->mnt, name);
}

FIXTURE_SETUP(notify)
{
	char path[PATH_MAX];
	struct stat sb;
	int i;

	ASSERT_TRUE(module_loaded("famfs_rs"));
	ASSERT_EQ(0, famfs_write_manifest(MANIFEST,
					  "daxdev 0 /dev/dax1.0\n"
					  "file mapped 4M simple 0:0:4M\n"
					  "file opened 2M simple 0:4M:2M\n"
					  "file never 2M simple 0:6M:2M\n"));
	ASSERT_EQ(0, famfs_mount_start(&self->m, MANIFEST, NULL, true, NULL));
	ASSERT_EQ(FAMFS_INIT_DAX_FMAP,
		  famfs_load(&self->m.st->init_flags_out) & FAMFS_INIT_DAX_FMAP);
	self->map = MAP_FAILED;
	for (i = 0; i < NR_FILES; i++) {
		self->fd[i] = -1;
		self->want[i] = malloc(sizes[i]);
		ASSERT_NE(NULL, self->want[i]);
		path_of(&self->m, names[i], path, sizeof(path));
		ASSERT_EQ(0, stat(path, &sb));
		ASSERT_EQ(sizes[i], (unsigned long long)sb.st_size);
		self->ino[i] = sb.st_ino;
		if (i == 2)
			continue;	/* "never" stays unopened */
		self->fd[i] = open(path, O_RDWR);
		ASSERT_LE(0, self->fd[i]) TH_LOG("open %s: %s", names[i], strerror(errno));
		famfs_pattern(self->want[i], sizes[i], 0, i + 1);
		ASSERT_EQ((ssize_t)sizes[i], pwrite(self->fd[i], self->want[i], sizes[i], 0));
	}
	self->map = mmap(NULL, SZ_MAPPED, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd[0], 0);
	ASSERT_NE(MAP_FAILED, self->map);
	ASSERT_EQ(SZ_MAPPED, famfs_map_diff(self->map, self->want[0], SZ_MAPPED));
	/* no GET_FMAP for "never": it was only looked up */
	ASSERT_EQ(0ULL, famfs_load(&self->m.st->fmap[2]));
}

FIXTURE_TEARDOWN(notify)
{
	int i, status = -1;

	if (self->map != MAP_FAILED)
		munmap(self->map, SZ_MAPPED);
	for (i = 0; i < NR_FILES; i++) {
		if (self->fd[i] >= 0)
			close(self->fd[i]);
		free(self->want[i]);
	}
	famfs_mount_stop(&self->m, &status);
	/* a clean unmount: umount(2) worked, the server saw it and exited 0 */
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("server wait status %#x", status);
	unlink(MANIFEST);
}

/*
 * Nothing changed: the sizes, the bytes read() gives and the bytes the
 * mapping shows; then every page of each opened file faults in a fresh
 * mapping, and "never" still has the server's size and opens with the
 * fmap's.
 */
static void check_unchanged(struct __test_metadata *_metadata, struct _test_data_notify *self)
{
	unsigned char *buf, *fresh;
	char path[PATH_MAX];
	struct stat sb;
	size_t d;
	int i;

	buf = malloc(SZ_MAPPED);
	ASSERT_NE(NULL, buf);
	for (i = 0; i < NR_FILES; i++) {
		path_of(&self->m, names[i], path, sizeof(path));
		ASSERT_EQ(0, stat(path, &sb)) TH_LOG("stat %s: %s", names[i], strerror(errno));
		EXPECT_EQ(sizes[i], (unsigned long long)sb.st_size) TH_LOG("%s", names[i]);
		EXPECT_EQ(self->ino[i], sb.st_ino) TH_LOG("%s", names[i]);
		if (self->fd[i] < 0)
			continue;
		ASSERT_EQ(0, fstat(self->fd[i], &sb));
		EXPECT_EQ(sizes[i], (unsigned long long)sb.st_size) TH_LOG("%s (fstat)", names[i]);
		memset(buf, 0, sizes[i]);
		EXPECT_EQ((ssize_t)sizes[i], pread(self->fd[i], buf, sizes[i], 0));
		d = famfs_first_diff(buf, self->want[i], sizes[i]);
		EXPECT_EQ(sizes[i], d) TH_LOG("%s: read() differs at byte %zu", names[i], d);
		/* a read past EOF gives nothing */
		EXPECT_EQ(0, pread(self->fd[i], buf, 4096, sizes[i]));
		fresh = mmap(NULL, sizes[i], PROT_READ, MAP_SHARED, self->fd[i], 0);
		ASSERT_NE(MAP_FAILED, fresh);
		d = famfs_map_diff(fresh, self->want[i], sizes[i]);
		EXPECT_EQ(sizes[i], d) TH_LOG("%s: new mapping differs at byte %zu", names[i], d);
		munmap(fresh, sizes[i]);
	}
	d = famfs_map_diff(self->map, self->want[0], SZ_MAPPED);
	EXPECT_EQ(SZ_MAPPED, d) TH_LOG("mapped: the existing mapping differs at byte %zu", d);
	/* the existing mapping still takes writes, read() sees them */
	self->want[0][12345] ^= 0xff;
	EXPECT_EQ(0, famfs_map_poke(self->map, 12345, self->want[0][12345])) TH_LOG("SIGBUS");
	EXPECT_EQ(1, pread(self->fd[0], buf, 1, 12345));
	EXPECT_EQ(self->want[0][12345], buf[0]);
	free(buf);

	/* "never" opens now: the fmap's size, data through read() and mmap agree */
	if (self->fd[2] < 0) {
		path_of(&self->m, "never", path, sizeof(path));
		self->fd[2] = open(path, O_RDWR);
		ASSERT_LE(0, self->fd[2]) TH_LOG("open never: %s", strerror(errno));
		ASSERT_EQ(0, fstat(self->fd[2], &sb));
		EXPECT_EQ(SZ_FILE, (unsigned long long)sb.st_size);
		famfs_pattern(self->want[2], SZ_FILE, 0, 3);
		fresh = mmap(NULL, SZ_FILE, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd[2], 0);
		ASSERT_NE(MAP_FAILED, fresh);
		EXPECT_EQ(0, famfs_map_copy(fresh, self->want[2], SZ_FILE)) TH_LOG("SIGBUS");
		munmap(fresh, SZ_FILE);
		buf = malloc(SZ_FILE);
		ASSERT_NE(NULL, buf);
		EXPECT_EQ((ssize_t)SZ_FILE, pread(self->fd[2], buf, SZ_FILE, 0));
		d = famfs_first_diff(buf, self->want[2], SZ_FILE);
		EXPECT_EQ(SZ_FILE, d) TH_LOG("never: read() after mmap differs at byte %zu", d);
		free(buf);
	}
}

/* A refused notification: EOPNOTSUPP, counted as failed by the server. */
static void expect_refused(struct __test_metadata *_metadata, struct _test_data_notify *self,
			   const char *cmd, int idx, unsigned long long off,
			   unsigned long long len)
{
	int rc = famfs_ctl(&self->m, "%s %s %llu %llu", cmd, names[idx], off, len);

	EXPECT_EQ(EOPNOTSUPP, rc) TH_LOG("%s %s %llu %llu: %d (%s)", cmd, names[idx], off, len,
					 rc, rc > 0 ? strerror(rc) : "not an errno");
}

/* No NOTIFY_REPLY reaches the server (a retrieve the kernel accepted sends one). */
static void expect_no_notify_reply(struct __test_metadata *_metadata,
				   struct _test_data_notify *self)
{
	/* the reply would be queued at once; give the server time to read it */
	EXPECT_EQ(0, famfs_ctl(&self->m, "ping"));
	usleep(200 * 1000);
	EXPECT_EQ(0, famfs_ctl(&self->m, "ping"));
	EXPECT_EQ(0ULL, famfs_load(&self->m.st->ops[FUSE_NOTIFY_REPLY]));
}

TEST_F(notify, store_to_mapped_file_at_0_is_refused)
{
	expect_refused(_metadata, self, "notify-store", 0, 0, 4096);
	check_unchanged(_metadata, self);
}

TEST_F(notify, store_to_mapped_file_across_eof_is_refused)
{
	expect_refused(_metadata, self, "notify-store", 0, SZ_MAPPED - 100, 8192);
	check_unchanged(_metadata, self);
}

TEST_F(notify, store_to_mapped_file_past_eof_is_refused)
{
	expect_refused(_metadata, self, "notify-store", 0, SZ_MAPPED + 4096, 4096);
	check_unchanged(_metadata, self);
}

TEST_F(notify, store_to_mapped_file_at_1tib_plus_1_is_refused)
{
	expect_refused(_metadata, self, "notify-store", 0, TIB + 1, 4096);
	check_unchanged(_metadata, self);
}

TEST_F(notify, store_to_opened_file_is_refused)
{
	expect_refused(_metadata, self, "notify-store", 1, 0, 65536);
	expect_refused(_metadata, self, "notify-store", 1, SZ_FILE, 4096);
	expect_refused(_metadata, self, "notify-store", 1, TIB + 1, 1);
	check_unchanged(_metadata, self);
}

TEST_F(notify, store_to_never_opened_file_is_refused)
{
	expect_refused(_metadata, self, "notify-store", 2, 0, 4096);
	expect_refused(_metadata, self, "notify-store", 2, SZ_FILE + 4096, 4096);
	expect_refused(_metadata, self, "notify-store", 2, TIB + 1, 4096);
	check_unchanged(_metadata, self);
}

TEST_F(notify, retrieve_from_mapped_file_is_refused)
{
	expect_refused(_metadata, self, "notify-retrieve", 0, 0, 4096);
	expect_refused(_metadata, self, "notify-retrieve", 0, SZ_MAPPED + 4096, 4096);
	expect_refused(_metadata, self, "notify-retrieve", 0, TIB + 1, 4096);
	expect_no_notify_reply(_metadata, self);
	check_unchanged(_metadata, self);
}

TEST_F(notify, retrieve_from_opened_file_is_refused)
{
	expect_refused(_metadata, self, "notify-retrieve", 1, 0, 65536);
	expect_refused(_metadata, self, "notify-retrieve", 1, SZ_FILE, 4096);
	expect_no_notify_reply(_metadata, self);
	check_unchanged(_metadata, self);
}

TEST_F(notify, retrieve_from_never_opened_file_is_refused)
{
	expect_refused(_metadata, self, "notify-retrieve", 2, 0, 4096);
	expect_refused(_metadata, self, "notify-retrieve", 2, TIB + 1, 4096);
	expect_no_notify_reply(_metadata, self);
	check_unchanged(_metadata, self);
}

TEST_F(notify, inval_inode_changes_nothing_visible)
{
	int i;

	for (i = 0; i < NR_FILES; i++) {
		EXPECT_EQ(0, famfs_ctl(&self->m, "notify-inval-inode %s 0 0", names[i]));
		EXPECT_EQ(0, famfs_ctl(&self->m, "notify-inval-inode %s -1 0", names[i]));
		EXPECT_EQ(0, famfs_ctl(&self->m, "notify-inval-inode %s %llu 4096", names[i],
				       sizes[i] + 8192));
		EXPECT_EQ(0, famfs_ctl(&self->m, "notify-inval-inode %s %llu 1", names[i],
				       TIB + 1));
	}
	check_unchanged(_metadata, self);
	/* the attributes were invalidated: the stats above asked the server */
	EXPECT_LE(1ULL, famfs_load(&self->m.st->ops[FUSE_GETATTR]));
}

TEST_F(notify, inval_entry_of_mapped_file_keeps_it_working)
{
	/* the name was looked up (its dentry is cached): fuse invalidates it */
	EXPECT_EQ(0, famfs_ctl(&self->m, "notify-inval-entry mapped"));
	EXPECT_EQ(0, famfs_ctl(&self->m, "notify-inval-entry opened expire"));
	/* never looked up: fuse finds no dentry to invalidate */
	EXPECT_EQ(ENOENT, famfs_ctl(&self->m, "notify-inval-entry nosuchname"));
	check_unchanged(_metadata, self);
}

TEST_F(notify, delete_of_mapped_file_keeps_it_working)
{
	struct stat sb;

	EXPECT_EQ(0, famfs_ctl(&self->m, "notify-delete mapped"));
	/* a child nodeid that is not the dentry's: fuse refuses with ENOENT */
	EXPECT_EQ(ENOENT, famfs_ctl(&self->m, "notify-delete opened #999"));
	EXPECT_EQ(ENOENT, famfs_ctl(&self->m, "notify-delete nosuchname"));
	/* the descriptor and the mapping work on; the name is looked up anew */
	ASSERT_EQ(0, fstat(self->fd[0], &sb));
	EXPECT_EQ(SZ_MAPPED, (unsigned long long)sb.st_size);
	check_unchanged(_metadata, self);
}

TEST_F(notify, prune_of_mapped_file_keeps_it_working)
{
	EXPECT_EQ(0, famfs_ctl(&self->m, "notify-prune mapped opened never"));
	/* one notification naming three nodeids */
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->notify_ok[NOTIFY_PRUNE]));
	check_unchanged(_metadata, self);
}

TEST_HARNESS_MAIN
