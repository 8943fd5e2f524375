/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the famfs-rs kselftests (the C files in tests/). They run inside
 * the VM started by scripts/vm.sh, where tests/guest/setup-devices.sh has
 * written /tmp/famfs-devices.
 */
#ifndef FAMFS_TEST_H
#define FAMFS_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define FAMFS_MODULE_PATH "/famfs/famfs_rs.ko"
#define FAMFS_DEVICES "/tmp/famfs-devices"

/* Read a whole small file into buf (NUL-terminated); -errno on failure. */
static inline int read_file(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return n;
}

/* Read an unsigned number (decimal or 0x hex) from a sysfs file. */
static inline int read_u64(const char *path, unsigned long long *v)
{
	char buf[64], *end;
	int rc = read_file(path, buf, sizeof(buf));

	if (rc < 0)
		return rc;
	errno = 0;
	*v = strtoull(buf, &end, 0);
	if (errno || end == buf)
		return -EINVAL;
	return 0;
}

static inline unsigned long long env_u64(const char *name)
{
	const char *s = getenv(name);

	return s ? strtoull(s, NULL, 0) : 0;
}

static inline int module_loaded(const char *name)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/module/%s", name);
	return stat(path, &st) == 0;
}

static inline int load_module(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -errno;
	rc = syscall(SYS_finit_module, fd, "", 0);
	rc = rc ? -errno : 0;
	close(fd);
	return rc;
}

static inline int unload_module(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK) ? -errno : 0;
}

#endif /* FAMFS_TEST_H */
