// SPDX-License-Identifier: GPL-2.0
/*
 * The test fuse server (tests/server/famfs_server.c): the namespace of
 * tests/manifests/namespace.manifest mounts, lists, stats, opens and
 * statfs's as the manifest says; it is read-only; unmounting ends the
 * server with exit status 0, in the foreground and as a daemon.
 *
 * FUSE_DAX_FMAP: the kernel offers it exactly when it has the fmap
 * provider hook (fuse minor >= 47) and a provider (famfs_rs) is loaded; a
 * server that sets it unoffered (--force-fmap) is ignored. When it was
 * negotiated, each open of a file fetches its fmap once and file data
 * never passes through the server; otherwise no GET_FMAP or GET_DAXDEV is
 * ever sent and reads and writes go to the server.
 * Every case starts its own server on its own mount and checks the
 * server's live counters (--stats) as well as what the syscalls return.
 */
#include <dirent.h>
#include <sys/prctl.h>
#include <linux/fuse.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define NAMESPACE_MANIFEST "namespace.manifest"
#define MODE_MASK 07777

/* The files of tests/manifests/namespace.manifest, in manifest order. */
static const struct {
	const char *name;
	unsigned long long size;
} expected_files[] = {
	{ "alpha", 2ULL << 20 },
	{ "beta", 5ULL << 20 },
	{ "gamma", 24ULL << 20 },
	{ "delta", 1 },
	{ "empty", 0 },
	{ "log.2026-01_final", 3000000 },
};

#define NFILES ((int)ARRAY_SIZE(expected_files))

static void manifest_path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", famfs_manifests(), name);
}

static int expected_index(const char *name)
{
	int i;

	for (i = 0; i < NFILES; i++)
		if (!strcmp(expected_files[i].name, name))
			return i;
	return -1;
}

static void file_path(char *buf, size_t size, const struct famfs_mount *m, const char *name)
{
	snprintf(buf, size, "%s/%s", m->mnt, name);
}

FIXTURE(ns) {
	struct famfs_mount m;
};

FIXTURE_VARIANT(ns) {
	const char *arg;	/* extra server option */
	bool forced;		/* the server sets FUSE_DAX_FMAP unoffered */
	bool declines;		/* the server never sets FUSE_DAX_FMAP */
};

FIXTURE_VARIANT_ADD(ns, plain) {
	.arg = NULL,
	.forced = false,
	.declines = false,
};

FIXTURE_VARIANT_ADD(ns, no_fmap) {
	.arg = "--no-fmap",
	.forced = false,
	.declines = true,
};

FIXTURE_VARIANT_ADD(ns, force_fmap) {
	.arg = "--force-fmap",
	.forced = true,
	.declines = false,
};

/* The kernel has the fmap provider hook and a provider is loaded. */
static bool fmap_provider(const struct famfs_mount *m)
{
	return m->st->init_minor >= 47 && module_loaded("famfs_rs");
}

/* FUSE_DAX_FMAP was offered by the kernel and accepted by the server. */
static bool fmap_negotiated(const struct famfs_mount *m)
{
	return famfs_load(&m->st->init_flags_in) & famfs_load(&m->st->init_flags_out) &
	       FAMFS_INIT_DAX_FMAP;
}

FIXTURE_SETUP(ns)
{
	const char * const args[] = { variant->arg, NULL };
	char manifest[PATH_MAX];
	int rc, status;

	manifest_path(manifest, sizeof(manifest), NAMESPACE_MANIFEST);
	rc = famfs_mount_start(&self->m, manifest, args, true, &status);
	ASSERT_EQ(0, rc) TH_LOG("famfs_server %s %s: %s (wait status %#x)",
				variant->arg ? variant->arg : "", manifest, strerror(-rc),
				status);
}

FIXTURE_TEARDOWN(ns)
{
	famfs_mount_stop(&self->m, NULL);
}

TEST_F(ns, readdir_lists_exactly_the_manifest_files)
{
	int seen[NFILES] = { 0 };
	int i, dots = 0, others = 0;
	char path[PATH_MAX];
	struct dirent *de;
	struct stat sb;
	DIR *d;

	d = opendir(self->m.mnt);
	ASSERT_NE(NULL, d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
			EXPECT_EQ(DT_DIR, de->d_type);
			dots++;
			continue;
		}
		i = expected_index(de->d_name);
		if (i < 0) {
			TH_LOG("unexpected entry '%s'", de->d_name);
			others++;
			continue;
		}
		seen[i]++;
		EXPECT_EQ(DT_REG, de->d_type);
		/* the inode number readdir gives is the one stat gives */
		file_path(path, sizeof(path), &self->m, de->d_name);
		ASSERT_EQ(0, stat(path, &sb));
		EXPECT_EQ(de->d_ino, sb.st_ino);
	}
	closedir(d);
	EXPECT_EQ(2, dots);
	EXPECT_EQ(0, others);
	for (i = 0; i < NFILES; i++) {
		if (seen[i] != 1)
			TH_LOG("%s listed %d times", expected_files[i].name, seen[i]);
		EXPECT_EQ(1, seen[i]);
	}

	EXPECT_GE(famfs_load(&self->m.st->ops[FUSE_OPENDIR]), 1ULL);
	EXPECT_GE(famfs_load(&self->m.st->ops[FUSE_READDIR]), 1ULL);
	/* not advertised, so the kernel used plain READDIR only */
	EXPECT_EQ(0ULL, famfs_load(&self->m.st->ops[FUSE_READDIRPLUS]));
}

TEST_F(ns, stat_gives_manifest_sizes_and_mode)
{
	char path[PATH_MAX];
	struct stat sb;
	int i;

	ASSERT_EQ(0, stat(self->m.mnt, &sb));
	EXPECT_TRUE(S_ISDIR(sb.st_mode));
	EXPECT_EQ(0755U, sb.st_mode & MODE_MASK);
	EXPECT_EQ((ino_t)FUSE_ROOT_ID, sb.st_ino);

	for (i = 0; i < NFILES; i++) {
		file_path(path, sizeof(path), &self->m, expected_files[i].name);
		ASSERT_EQ(0, stat(path, &sb)) TH_LOG("stat %s: %s", path, strerror(errno));
		EXPECT_TRUE(S_ISREG(sb.st_mode));
		EXPECT_EQ(0644U, sb.st_mode & MODE_MASK);
		EXPECT_EQ(expected_files[i].size, (unsigned long long)sb.st_size);
		EXPECT_EQ((nlink_t)1, sb.st_nlink);
		EXPECT_EQ((uid_t)0, sb.st_uid);
		EXPECT_EQ((gid_t)0, sb.st_gid);
		EXPECT_EQ((expected_files[i].size + 511) / 512,
			  (unsigned long long)sb.st_blocks);
		/* nodeids follow manifest order, after the root's */
		EXPECT_EQ((ino_t)(FUSE_ROOT_ID + 1 + i), sb.st_ino);
	}
	file_path(path, sizeof(path), &self->m, "no-such-file");
	EXPECT_EQ(-1, stat(path, &sb));
	EXPECT_EQ(ENOENT, errno);
	/* one LOOKUP per name: the server answers them, not a cache */
	EXPECT_GE(famfs_load(&self->m.st->ops[FUSE_LOOKUP]), (__u64)NFILES + 1);
}

TEST_F(ns, open_fetches_fmaps_iff_negotiated)
{
	__u64 opens = famfs_load(&self->m.st->ops[FUSE_OPEN]);
	__u64 releases = famfs_load(&self->m.st->ops[FUSE_RELEASE]);
	char path[PATH_MAX];
	struct stat sb;
	int i, fd;

	for (i = 0; i < NFILES; i++) {
		file_path(path, sizeof(path), &self->m, expected_files[i].name);
		fd = open(path, i % 2 ? O_RDWR : O_RDONLY);
		ASSERT_GE(fd, 0) TH_LOG("open %s: %s", path, strerror(errno));
		/* one OPEN per open(), answered before open() returned */
		EXPECT_EQ(opens + i + 1, famfs_load(&self->m.st->ops[FUSE_OPEN]));
		ASSERT_EQ(0, fstat(fd, &sb));
		EXPECT_EQ(expected_files[i].size, (unsigned long long)sb.st_size);
		EXPECT_EQ(0, close(fd));
	}
	/* RELEASE is sent in the background after close() */
	EXPECT_TRUE(famfs_wait_count(&self->m.st->ops[FUSE_RELEASE], releases + NFILES,
				     FAMFS_EXIT_TIMEOUT_MS));

	if (fmap_negotiated(&self->m)) {
		/* one GET_FMAP per file; each of the two daxdevs asked for once */
		EXPECT_EQ((__u64)NFILES, famfs_load(&self->m.st->ops[FAMFS_OP_GET_FMAP]));
		EXPECT_EQ(2ULL, famfs_load(&self->m.st->ops[FAMFS_OP_GET_DAXDEV]));
		for (i = 0; i < NFILES; i++)
			EXPECT_EQ(1ULL, famfs_load(&self->m.st->fmap[i]));
	} else {
		/* no fmap connection: the kernel never asks for fmaps or daxdevs */
		EXPECT_EQ(0ULL, famfs_load(&self->m.st->ops[FAMFS_OP_GET_FMAP]));
		EXPECT_EQ(0ULL, famfs_load(&self->m.st->ops[FAMFS_OP_GET_DAXDEV]));
		for (i = 0; i < NFILES; i++)
			EXPECT_EQ(0ULL, famfs_load(&self->m.st->fmap[i]));
	}
	EXPECT_EQ(0ULL, famfs_load(&self->m.st->bad_requests));
	EXPECT_EQ(0ULL, famfs_load(&self->m.st->reply_errors));
}

TEST_F(ns, kernel_offers_fmap_only_with_a_provider)
{
	__u64 in = famfs_load(&self->m.st->init_flags_in);
	__u64 out = famfs_load(&self->m.st->init_flags_out);
	bool provider = fmap_provider(&self->m);

	EXPECT_EQ(1ULL, famfs_load(&self->m.st->ops[FUSE_INIT]));
	EXPECT_EQ(7U, self->m.st->init_major);
	/* Linux 7.3 speaks fuse 7.46 */
	EXPECT_GE(self->m.st->init_minor, 46U);
	/* flags2 was sent (so bit 44 could have been offered) ... */
	EXPECT_NE(0ULL, in & FUSE_INIT_EXT);
	/* ... and bit 44 was, exactly when there is a provider (we are root) */
	EXPECT_EQ(provider, !!(in & FAMFS_INIT_DAX_FMAP));

	EXPECT_NE(0ULL, out & FUSE_INIT_EXT);
	/* the server accepts it when offered, --force-fmap even unoffered */
	EXPECT_EQ(variant->forced || (provider && !variant->declines),
		  !!(out & FAMFS_INIT_DAX_FMAP));
	EXPECT_EQ(provider && !variant->declines, fmap_negotiated(&self->m));
	/* apart from a forced bit 44, the server accepts only what was offered */
	EXPECT_EQ(0ULL, out & ~(in | FAMFS_INIT_DAX_FMAP));
}

TEST_F(ns, statfs_reports_the_namespace)
{
	__u64 before = famfs_load(&self->m.st->ops[FUSE_STATFS]);
	unsigned long long blocks = 0;
	struct statfs sfs;
	int i;

	for (i = 0; i < NFILES; i++)
		blocks += (expected_files[i].size + 4095) / 4096;
	ASSERT_EQ(0, statfs(self->m.mnt, &sfs));
	EXPECT_EQ(FUSE_SUPER_MAGIC, sfs.f_type);
	EXPECT_EQ(4096, sfs.f_bsize);
	EXPECT_EQ(blocks, (unsigned long long)sfs.f_blocks);
	EXPECT_EQ(0ULL, (unsigned long long)sfs.f_bfree);
	EXPECT_EQ(0ULL, (unsigned long long)sfs.f_bavail);
	EXPECT_EQ((unsigned long long)NFILES + 1, (unsigned long long)sfs.f_files);
	EXPECT_EQ(255, sfs.f_namelen);
	/* statfs is not cached: exactly one request */
	EXPECT_EQ(before + 1, famfs_load(&self->m.st->ops[FUSE_STATFS]));
}

TEST_F(ns, namespace_is_read_only)
{
	char path[PATH_MAX], other[PATH_MAX], buf[16];
	struct stat sb;
	int fd;

	bool fmap = fmap_negotiated(&self->m);

	file_path(path, sizeof(path), &self->m, "new-file");
	EXPECT_EQ(-1, open(path, O_CREAT | O_EXCL | O_WRONLY, 0644));
	EXPECT_EQ(EROFS, errno);
	/* an fmap connection creates with MKNOD, then opens (tests/create.c) */
	EXPECT_EQ(fmap ? 0ULL : 1ULL, famfs_load(&self->m.st->ops[FUSE_CREATE]));
	EXPECT_EQ(fmap ? 1ULL : 0ULL, famfs_load(&self->m.st->ops[FUSE_MKNOD]));
	EXPECT_EQ(-1, mkdir(path, 0755));
	EXPECT_EQ(EROFS, errno);
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->ops[FUSE_MKDIR]));

	file_path(path, sizeof(path), &self->m, "alpha");
	file_path(other, sizeof(other), &self->m, "alpha2");
	EXPECT_EQ(-1, unlink(path));
	EXPECT_EQ(EROFS, errno);
	EXPECT_EQ(-1, rename(path, other));
	EXPECT_EQ(EROFS, errno);
	EXPECT_EQ(-1, link(path, other));
	EXPECT_EQ(EROFS, errno);
	EXPECT_EQ(-1, symlink("alpha", other));
	EXPECT_EQ(EROFS, errno);
	/* the size of an fmap file is its fmap's: refused before the server */
	EXPECT_EQ(-1, truncate(path, 0));
	EXPECT_EQ(fmap ? EPERM : EROFS, errno);
	EXPECT_EQ(-1, chmod(path, 0600));
	EXPECT_EQ(EROFS, errno);
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->ops[FUSE_UNLINK]));
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->ops[FUSE_RENAME]));
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->ops[FUSE_LINK]));
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->ops[FUSE_SYMLINK]));
	EXPECT_EQ(fmap ? 1ULL : 2ULL, famfs_load(&self->m.st->ops[FUSE_SETATTR]));

	/* file data lives on DAX, never in the server */
	fd = open(path, O_RDWR);
	ASSERT_GE(fd, 0);
	if (fmap) {
		/* served by DAX in the kernel: the server sees no READ/WRITE */
		EXPECT_EQ((ssize_t)sizeof(buf), read(fd, buf, sizeof(buf)));
		EXPECT_EQ(1, pwrite(fd, "x", 1, 0));
		EXPECT_EQ(0ULL, famfs_load(&self->m.st->ops[FUSE_READ]));
		EXPECT_EQ(0ULL, famfs_load(&self->m.st->ops[FUSE_WRITE]));
	} else {
		/* plain fuse sends them to the server, which refuses */
		EXPECT_EQ(-1, read(fd, buf, sizeof(buf)));
		EXPECT_EQ(EIO, errno);
		EXPECT_GE(famfs_load(&self->m.st->ops[FUSE_READ]), 1ULL);
		EXPECT_EQ(-1, pwrite(fd, "x", 1, 0));
		EXPECT_EQ(EIO, errno);
		EXPECT_GE(famfs_load(&self->m.st->ops[FUSE_WRITE]), 1ULL);
	}
	EXPECT_EQ(0, close(fd));

	/* and nothing changed */
	ASSERT_EQ(0, stat(path, &sb));
	EXPECT_EQ(2ULL << 20, (unsigned long long)sb.st_size);
	EXPECT_EQ(0644U, sb.st_mode & MODE_MASK);
	EXPECT_EQ(-1, stat(other, &sb));
	EXPECT_EQ(ENOENT, errno);
}

TEST_F(ns, unmount_makes_the_server_exit_0)
{
	int status;

	ASSERT_EQ(0, umount2(self->m.mnt, 0));
	ASSERT_EQ(0, famfs_wait_exit(self->m.pid, FAMFS_EXIT_TIMEOUT_MS, &status));
	self->m.pid = 0;
	self->m.launcher = 0;
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* it noticed the end itself (ENODEV), no signal involved */
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->done));
	EXPECT_EQ(0ULL, famfs_load(&self->m.st->reply_errors));
}

TEST_F(ns, sigterm_unmounts_and_exits_0)
{
	struct statfs sfs;
	int status;

	ASSERT_EQ(0, kill(self->m.pid, SIGTERM));
	ASSERT_EQ(0, famfs_wait_exit(self->m.pid, FAMFS_EXIT_TIMEOUT_MS, &status));
	self->m.pid = 0;
	self->m.launcher = 0;
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->done));
	/* the server took its mount with it */
	ASSERT_EQ(0, statfs(self->m.mnt, &sfs));
	EXPECT_NE(FUSE_SUPER_MAGIC, sfs.f_type);
}

/* Without -f: the launcher exits 0 only once the mount works; the daemon serves. */
FIXTURE(daemon) {
	struct famfs_mount m;
};

FIXTURE_SETUP(daemon)
{
	char manifest[PATH_MAX];
	int rc, status;

	/* the daemon's parent exits: become its parent, to wait for it */
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
	manifest_path(manifest, sizeof(manifest), NAMESPACE_MANIFEST);
	rc = famfs_mount_start(&self->m, manifest, NULL, false, &status);
	ASSERT_EQ(0, rc) TH_LOG("famfs_server (daemon) %s: %s (launcher status %#x)",
				manifest, strerror(-rc), status);
}

FIXTURE_TEARDOWN(daemon)
{
	famfs_mount_stop(&self->m, NULL);
}

TEST_F(daemon, serves_in_the_background_and_exits_0_on_unmount)
{
	struct dirent *de;
	int n = 0, status;
	DIR *d;

	/* a different process from the one we started, and still serving */
	ASSERT_GT(self->m.pid, 0);
	EXPECT_EQ(0, kill(self->m.pid, 0));
	d = opendir(self->m.mnt);
	ASSERT_NE(NULL, d);
	while ((de = readdir(d)))
		n++;
	closedir(d);
	EXPECT_EQ(NFILES + 2, n);
	EXPECT_GE(famfs_load(&self->m.st->ops[FUSE_READDIR]), 1ULL);

	ASSERT_EQ(0, umount2(self->m.mnt, 0));
	ASSERT_EQ(0, famfs_wait_exit(self->m.pid, FAMFS_EXIT_TIMEOUT_MS, &status));
	self->m.pid = 0;
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->done));
}

/*
 * 4000 entries of 56 bytes: 219 KiB, more than one READDIR reply holds
 * (the kernel asks for the reader's buffer, glibc's 32 KiB, at most
 * max_pages, 128 KiB), so the listing spans several requests and the
 * offsets the server hands out have to carry over.
 */
#define MANY_FILES 4000
#define MANY_NAME "file-with-a-longer-name-%04d"

FIXTURE(many) {
	struct famfs_mount m;
	char manifest[64];
};

FIXTURE_SETUP(many)
{
	int i, rc, status;
	FILE *f;

	snprintf(self->manifest, sizeof(self->manifest), "/tmp/famfs-many.XXXXXX");
	i = mkstemp(self->manifest);
	ASSERT_GE(i, 0);
	f = fdopen(i, "w");
	ASSERT_NE(NULL, f);
	fprintf(f, "daxdev 0 /dev/dax1.0\n");
	for (i = 0; i < MANY_FILES; i++)
		fprintf(f, "file " MANY_NAME " %d simple 0:0:2M\n", i, i * 4096);
	ASSERT_EQ(0, fclose(f));
	rc = famfs_mount_start(&self->m, self->manifest, NULL, true, &status);
	if (rc)
		unlink(self->manifest);
	ASSERT_EQ(0, rc) TH_LOG("famfs_server %s: %s", self->manifest, strerror(-rc));
}

FIXTURE_TEARDOWN(many)
{
	famfs_mount_stop(&self->m, NULL);
	unlink(self->manifest);
}

TEST_F(many, readdir_spans_several_requests)
{
	static int seen[MANY_FILES];
	int i, n = 0, others = 0;
	struct dirent *de;
	DIR *d;

	d = opendir(self->m.mnt);
	ASSERT_NE(NULL, d);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (sscanf(de->d_name, MANY_NAME, &i) == 1 && i >= 0 && i < MANY_FILES) {
			seen[i]++;
			n++;
		} else {
			others++;
		}
	}
	closedir(d);
	EXPECT_EQ(MANY_FILES, n);
	EXPECT_EQ(0, others);
	for (i = 0; i < MANY_FILES; i++) {
		if (seen[i] != 1)
			TH_LOG(MANY_NAME " listed %d times", i, seen[i]);
		EXPECT_EQ(1, seen[i]);
	}
	/* at least two replies with entries and the empty one at the end */
	EXPECT_GE(famfs_load(&self->m.st->ops[FUSE_READDIR]), 3ULL);
}

/* The manifest names the VM's two pmem daxdevs, as setup-devices.sh made them. */
TEST(namespace_manifest_names_the_vm_daxdevs)
{
	char manifest[PATH_MAX], line[256], a[64], b[64], path[128];
	int ndax = 0, found;
	struct stat sb;
	FILE *f, *devs;

	manifest_path(manifest, sizeof(manifest), NAMESPACE_MANIFEST);
	f = fopen(manifest, "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "daxdev %*u %127s", path) != 1)
			continue;
		ndax++;
		ASSERT_EQ(0, stat(path, &sb)) TH_LOG("%s: %s", path, strerror(errno));
		EXPECT_TRUE(S_ISCHR(sb.st_mode));
		devs = fopen(FAMFS_DEVICES, "r");
		ASSERT_NE(NULL, devs);
		found = 0;
		while (fgets(line, sizeof(line), devs))
			if (sscanf(line, "pmem %63s %*s %63s", a, b) == 2 &&
			    !strcmp(path + strlen("/dev/"), a))
				found = !strcmp(b, "fsdev_dax");
		fclose(devs);
		EXPECT_TRUE(found) TH_LOG("%s is not an fsdev_dax pmem daxdev", path);
	}
	fclose(f);
	EXPECT_EQ(2, ndax);
}

TEST_HARNESS_MAIN
