// SPDX-License-Identifier: GPL-2.0
/*
 * Whose /dev (the hardening issue, class I). A GET_DAXDEV reply is a path;
 * famfs_rs must resolve it where the server lives (the root and mount
 * namespace of the task that completed FUSE_INIT), not where the first
 * opener of a file happens to live. Here the first opener runs in a mount
 * namespace of its own where another daxdev is bind-mounted over the path
 * the server names: root in a private mount namespace, and an unprivileged
 * user in a user namespace of its own (which may bind-mount what it likes
 * in its own mount namespace). Either way the mount must take the server's
 * device: a second mount that names the opener's device can take it, one
 * that names the server's device finds it held (EBUSY), and the bytes the
 * opener wrote through the file are on the server's device.
 */
#include <limits.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define MIB (1024UL * 1024)
#define SERVER_DEV "/dev/dax1.0"
#define OTHER_DEV "/dev/dax2.0"
#define PATTERN 0x5eedf00dcafe1234ULL

static int write_manifest(const char *path, const char *dev, unsigned long off_mib)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fprintf(f, "daxdev 0 %s\nfile f 2M simple 0:%luM:2M\n", dev, off_mib);
	return fclose(f) ? -errno : 0;
}

/*
 * In a child: enter a private mount namespace (as root, or as uid 65534 in
 * a user namespace of its own, whose root the parent maps to 65534 as
 * newuidmap would), bind OTHER_DEV over SERVER_DEV, open the famfs file
 * (its first open: GET_DAXDEV) and write PATTERN at offset 0.
 * Exit status: 0, the step that failed, or 50 + the bind mount's errno.
 */
static int open_from_elsewhere(const char *file, bool unprivileged)
{
	unsigned long long v = PATTERN;
	int st = 0, fd, rc, go[2], ready[2];
	char path[64], c = 0;
	pid_t pid;

	if (pipe(go) || pipe(ready))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		close(go[1]);
		close(ready[0]);
		if (unprivileged) {
			if (setgid(65534) || setuid(65534))
				_exit(10);
			if (unshare(CLONE_NEWUSER | CLONE_NEWNS))
				_exit(11);
			/* the parent maps root of the new namespace to 65534 */
			if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1 || c != 'y')
				_exit(18);
		} else if (unshare(CLONE_NEWNS)) {
			_exit(12);
		}
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
			_exit(13);
		if (mount(OTHER_DEV, SERVER_DEV, NULL, MS_BIND, NULL))
			_exit(50 + errno);
		fd = open(file, unprivileged ? O_RDONLY : O_RDWR);
		if (fd < 0)
			_exit(errno == EBUSY ? 15 : 16);
		if (!unprivileged && pwrite(fd, &v, sizeof(v), 0) != sizeof(v))
			_exit(17);
		close(fd);
		_exit(0);
	}
	close(go[0]);
	close(ready[1]);
	if (unprivileged) {
		rc = read(ready[0], &c, 1) == 1 ? 0 : -EIO;
		snprintf(path, sizeof(path), "/proc/%d/uid_map", pid);
		if (!rc)
			rc = famfs_write_str(path, "0 65534 1");
		snprintf(path, sizeof(path), "/proc/%d/setgroups", pid);
		if (!rc)
			rc = famfs_write_str(path, "deny");
		snprintf(path, sizeof(path), "/proc/%d/gid_map", pid);
		if (!rc)
			rc = famfs_write_str(path, "0 65534 1");
		c = rc ? 'n' : 'y';
		if (write(go[1], &c, 1) != 1)
			rc = -EIO;
	}
	close(go[1]);
	close(ready[0]);
	if (waitpid(pid, &st, 0) != pid)
		return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

/* Open f of a new mount whose manifest names DEV: 0 or -errno. */
static int try_dev(const char *dev, unsigned long off_mib)
{
	char manifest[] = "/tmp/whose2.manifest", path[PATH_MAX];
	struct famfs_mount m;
	int fd, rc;

	rc = write_manifest(manifest, dev, off_mib);
	if (rc)
		return rc;
	rc = famfs_mount_start(&m, manifest, NULL, true, NULL);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "%s/f", m.mnt);
	fd = open(path, O_RDONLY);
	rc = fd < 0 ? -errno : 0;
	if (fd >= 0)
		close(fd);
	famfs_mount_stop(&m, NULL);
	unlink(manifest);
	return rc;
}

static void check(struct __test_metadata *_metadata, bool unprivileged)
{
	char manifest[] = "/tmp/whose.manifest", path[PATH_MAX];
	unsigned long long v = 0;
	struct famfs_mount m;
	int rc, fd;

	ASSERT_TRUE(module_loaded("famfs_rs"));
	ASSERT_EQ(0, write_manifest(manifest, SERVER_DEV, 240));
	ASSERT_EQ(0, famfs_mount_start(&m, manifest, NULL, true, NULL));
	snprintf(path, sizeof(path), "%s/f", m.mnt);
	/* mkdtemp() made the mount's directory 0700: let the user through */
	ASSERT_EQ(0, chmod(m.dir, 0755));

	rc = open_from_elsewhere(path, unprivileged);
	ASSERT_EQ(0, rc) TH_LOG("the opener in its own namespace failed at step %d", rc);
	EXPECT_EQ(1ULL, famfs_load(&m.st->daxdev[0]));

	/* the opener's device is free; the server's is held by this mount */
	EXPECT_EQ(0, try_dev(OTHER_DEV, 240));
	EXPECT_EQ(-EBUSY, try_dev(SERVER_DEV, 250));

	if (!unprivileged) {
		/* what the opener wrote is in the server's device's file */
		fd = open(path, O_RDONLY);
		ASSERT_GE(fd, 0);
		EXPECT_EQ((ssize_t)sizeof(v), pread(fd, &v, sizeof(v), 0));
		EXPECT_EQ(PATTERN, v);
		close(fd);
	}
	famfs_mount_stop(&m, NULL);
	unlink(manifest);
	/* and with the mount gone, both devices are free */
	EXPECT_EQ(0, try_dev(SERVER_DEV, 250));
	EXPECT_EQ(0, try_dev(OTHER_DEV, 250));
}

TEST(root_opener_in_its_own_mount_namespace)
{
	check(_metadata, false);
}

TEST(unprivileged_opener_in_its_own_user_namespace)
{
	check(_metadata, true);
}

TEST_HARNESS_MAIN
