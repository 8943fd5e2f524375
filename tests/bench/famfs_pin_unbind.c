// SPDX-License-Identifier: GPL-2.0
/*
 * famfs_pin_unbind FILE OFFSET UNBIND DEVICE [open]
 *
 * The anchor of a device removal under a pinned page (make anchor,
 * tests/guest/anchor.sh): map 2 MiB of FILE (a famfs file, a file of ext4
 * -o dax, or a raw device_dax node) at OFFSET, write a pattern into its
 * first page, hand that page to a pipe (vmsplice: the pipe holds a
 * reference to it), unmap FILE and close it (with "open": keep it open until the
 * end), then remove the device under it by writing DEVICE to the sysfs
 * file UNBIND, and report:
 *
 *   anchor: unbind returned after N ms            (it did not wait)
 *   anchor: unbind still waiting after N ms       (it waits for the page)
 *   anchor: pipe read N bytes, pattern intact|changed
 *   anchor: pipe closed; unbind returned N ms later
 *
 * What follows the read and the close is the point: if the removal did
 * not wait, the pipe holds a page whose memory and struct page went with
 * the device (memunmap_pages() does not wait for fs-dax or device-dax
 * pages in use), and the guest's kernel reports what touching them did.
 * Not a kselftest: on a kernel with that hole it ends the guest.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>

#define MAP_LEN (2UL << 20)
#define PAGE 4096
#define WAIT_MS 10000

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* 0 once @pid exited (status in *st), 1 if it still runs after @ms. */
static int wait_ms(pid_t pid, int ms, int *st)
{
	long long end = now_ms() + ms;

	do {
		if (waitpid(pid, st, WNOHANG) == pid)
			return 0;
		usleep(10000);
	} while (now_ms() < end);
	return 1;
}

static void pattern(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 7 + 13);
}

int main(int argc, char **argv)
{
	unsigned char want[PAGE], got[PAGE], *m;
	int fd, pfd[2], st = 0, waiting;
	long long t0, t1;
	struct iovec iov;
	off_t off;
	ssize_t n;
	pid_t pid;

	bool keep = argc == 6 && !strcmp(argv[5], "open");

	if (argc != 5 && !keep) {
		fprintf(stderr, "usage: %s FILE OFFSET UNBIND DEVICE [open]\n", argv[0]);
		return 2;
	}
	off = strtoll(argv[2], NULL, 0);
	fd = open(argv[1], O_RDWR);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	m = mmap(NULL, MAP_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
	if (m == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	pattern(want, sizeof(want));
	memcpy(m, want, sizeof(want));
	if (pipe(pfd)) {
		perror("pipe");
		return 1;
	}
	iov.iov_base = m;
	iov.iov_len = PAGE;
	n = vmsplice(pfd[1], &iov, 1, 0);
	if (n != PAGE) {
		fprintf(stderr, "vmsplice: %zd (%s)\n", n, strerror(errno));
		return 1;
	}
	munmap(m, MAP_LEN);
	if (!keep)
		close(fd);
	printf("anchor: %s: one page in a pipe, file unmapped and %s\n", argv[1],
	       keep ? "kept open" : "closed");
	fflush(stdout);

	t0 = now_ms();
	pid = fork();
	if (!pid) {
		int u = open(argv[3], O_WRONLY);

		if (u < 0 || write(u, argv[4], strlen(argv[4])) < 0)
			_exit(1);
		_exit(0);
	}
	waiting = wait_ms(pid, WAIT_MS, &st);
	t1 = now_ms();
	if (waiting)
		printf("anchor: unbind still waiting after %lld ms\n", t1 - t0);
	else
		printf("anchor: unbind returned after %lld ms (%s)\n", t1 - t0,
		       WIFEXITED(st) && !WEXITSTATUS(st) ? "ok" : "failed");
	fflush(stdout);
	sync();

	/* with the device gone, this touches its memory */
	n = read(pfd[0], got, sizeof(got));
	printf("anchor: pipe read %zd bytes, pattern %s\n", n,
	       n == PAGE && !memcmp(got, want, PAGE) ? "intact" : "changed");
	fflush(stdout);
	sync();
	/* and this its struct page, when the pipe puts it */
	close(pfd[0]);
	close(pfd[1]);
	t1 = now_ms();
	if (waiting) {
		waiting = wait_ms(pid, WAIT_MS, &st);
		printf("anchor: pipe closed; unbind %s %lld ms later\n",
		       waiting ? "still waiting" : "returned", now_ms() - t1);
	} else {
		printf("anchor: pipe closed\n");
	}
	fflush(stdout);
	if (keep)
		close(fd);
	return waiting;
}
