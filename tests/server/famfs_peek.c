// SPDX-License-Identifier: GPL-2.0
/*
 * famfs_peek DEVICE OFFSET LENGTH - print LENGTH bytes at OFFSET of a
 * device_dax device (which can only be mmap'ed, not read), as text with
 * dots for bytes that are not printable. Used by the demo (make run).
 */
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define SZ_2M (2UL << 20)

int main(int argc, char **argv)
{
	unsigned long long off, len, base, i;
	unsigned char *p;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: famfs_peek DEVICE OFFSET LENGTH\n");
		return 2;
	}
	off = strtoull(argv[2], NULL, 0);
	len = strtoull(argv[3], NULL, 0);
	base = off & ~(SZ_2M - 1);
	if (!len || off - base + len > SZ_2M) {
		fprintf(stderr, "famfs_peek: the bytes must lie in one 2 MiB page\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	p = mmap(NULL, SZ_2M, PROT_READ, MAP_SHARED, fd, base);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	for (i = 0; i < len; i++)
		putchar(isprint(p[off - base + i]) ? p[off - base + i] : '.');
	putchar('\n');
	munmap(p, SZ_2M);
	close(fd);
	return 0;
}
