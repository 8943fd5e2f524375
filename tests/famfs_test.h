/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the famfs-rs kselftests (the C files in tests/). They run inside
 * the VM started by scripts/vm.sh, where tests/guest/setup-devices.sh has
 * written /tmp/famfs-devices; anywhere else they SKIP (FAMFS_KSELFTEST,
 * below).
 */
#ifndef FAMFS_TEST_H
#define FAMFS_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <linux/fuse.h>
#include "server/famfs_server.h"

/* the module, which tests load again (env FAMFS_MODULE) */
#define FAMFS_MODULE "/famfs/famfs_rs.ko"
#define FAMFS_MODULE_PATH famfs_module_path()
#define FAMFS_DEVICES "/tmp/famfs-devices"
/*
 * The test fuse server and its manifests: env FAMFS_SERVER and
 * FAMFS_MANIFESTS, else famfs_server and manifests/ beside the test
 * binary (an installed kselftest tree: make -C tests install), else the
 * guest's.
 */
#define FAMFS_SERVER "/famfs/bin/famfs_server"
#define FAMFS_MANIFESTS "/famfs/manifests"
#define FUSE_SUPER_MAGIC 0x65735546
#define FAMFS_START_TIMEOUT_MS 30000	/* TCG is slow; normally < 100 ms */
#define FAMFS_EXIT_TIMEOUT_MS 20000

/*
 * The kernel's __printf(), for famfs_bench.c, which lacks kselftest.h: the
 * same tokens as kselftest.h's, so that either may come first. (Broken in
 * two so that checkpatch does not ask for __printf() in its definition.)
 */
#ifndef __printf
#define __printf(a, b) __attribute__((format(printf,	\
					     a, b)))
#endif

/*
 * READ_ONCE()/WRITE_ONCE() for the tests: one real load or store of x,
 * which the compiler neither drops, merges nor tears (a relaxed atomic
 * access: a plain load or store instruction, like a volatile one).
 */
#define FAMFS_READ_ONCE(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define FAMFS_WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

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

static inline const char *famfs_module_path(void)
{
	const char *s = getenv("FAMFS_MODULE");

	return s ? s : FAMFS_MODULE;
}

/*
 * @name in the directory of this program, in @buf, if it is there; else
 * NULL.
 */
static inline const char *famfs_beside_exe(const char *name, char *buf, size_t size)
{
	char exe[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return NULL;
	exe[n] = 0;
	slash = strrchr(exe, '/');
	if (!slash)
		return NULL;
	*slash = 0;
	if (snprintf(buf, size, "%s/%s", exe, name) >= (int)size || access(buf, F_OK))
		return NULL;
	return buf;
}

static inline const char *famfs_server_bin(void)
{
	static char path[256];	/* short: callers add to it in PATH_MAX buffers */
	const char *s = getenv("FAMFS_SERVER");

	if (s)
		return s;
	s = famfs_beside_exe("famfs_server", path, sizeof(path));
	return s ? s : FAMFS_SERVER;
}

static inline const char *famfs_manifests(void)
{
	static char path[256];	/* short: callers add to it in PATH_MAX buffers */
	const char *s = getenv("FAMFS_MANIFESTS");

	if (s)
		return s;
	s = famfs_beside_exe("manifests", path, sizeof(path));
	return s ? s : FAMFS_MANIFESTS;
}

#ifdef FAMFS_KSELFTEST
#include "kselftest.h"

/*
 * Every kselftest needs the guest that scripts/vm.sh prepares: the
 * devices tests/guest/setup-devices.sh set up (and listed in
 * /tmp/famfs-devices), famfs_rs loaded, its module file (which tests load
 * again) and the test server. Without one of them, the test SKIPs before
 * the harness starts, saying which is missing. (A constructor: it runs
 * before each test's TEST_HARNESS_MAIN; tests/Makefile defines
 * FAMFS_KSELFTEST, the other programs that share this header are not
 * kselftests.)
 */
static void __attribute__((constructor)) famfs_require_guest(void)
{
	const char *why = NULL, *what = NULL;

	if (access(FAMFS_DEVICES, R_OK)) {
		why = "not a guest prepared by tests/guest/setup-devices.sh (scripts/vm.sh): no";
		what = FAMFS_DEVICES;
	} else if (!module_loaded("famfs_rs")) {
		why = "famfs_rs is not loaded: no";
		what = "/sys/module/famfs_rs";
	} else if (access(famfs_module_path(), R_OK)) {
		why = "no module file (env FAMFS_MODULE) to load again:";
		what = famfs_module_path();
	} else if (access(famfs_server_bin(), X_OK)) {
		why = "no test server (env FAMFS_SERVER):";
		what = famfs_server_bin();
	}
	if (!why)
		return;
	ksft_print_header();
	ksft_exit_skip("%s %s\n", why, what);
}
#endif

static inline long long famfs_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* The minor faults this process has taken so far. */
static inline long famfs_minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/* The pfn mapped at p (root reads pagemap pfns), or 0 if none. */
static inline unsigned long long famfs_pfn_of(const void *p)
{
	unsigned long long e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	long pg = sysconf(_SC_PAGESIZE);

	if (fd < 0)
		return 0;
	if (pread(fd, &e, 8, ((uintptr_t)p / pg) * 8) != 8)
		e = 0;
	close(fd);
	return (e & (1ULL << 63)) ? (e & ((1ULL << 55) - 1)) : 0;
}

/* Wait up to ms for child pid to exit: 0 and its wait status, or -ETIMEDOUT. */
static inline int famfs_wait_exit(pid_t pid, int ms, int *status)
{
	long long end = famfs_now_ms() + ms;
	pid_t rc;

	for (;;) {
		rc = waitpid(pid, status, WNOHANG);
		if (rc == pid)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (famfs_now_ms() > end)
			return -ETIMEDOUT;
		usleep(5000);
	}
}

/* Wait up to ms for a live server counter to reach want. */
static inline bool famfs_wait_count(const __u64 *counter, __u64 want, int ms)
{
	long long end = famfs_now_ms() + ms;

	while (__atomic_load_n(counter, __ATOMIC_ACQUIRE) < want) {
		if (famfs_now_ms() > end)
			return false;
		usleep(2000);
	}
	return true;
}

/* Read a live server counter (a __u64 of struct famfs_server_stats). */
static inline __u64 famfs_load(const __u64 *counter)
{
	return __atomic_load_n(counter, __ATOMIC_ACQUIRE);
}

/* One famfs_server instance and its mount, in a private directory under /tmp. */
struct famfs_mount {
	char dir[64];		/* /tmp/famfs-srv.XXXXXX */
	char mnt[96];		/* dir/mnt, the mountpoint */
	char stats[96];		/* dir/stats, the server's --stats file */
	char ctl[96];		/* dir/ctl, the server's --control socket */
	pid_t pid;		/* the serving process (our child), or 0 */
	pid_t launcher;		/* the process we started (!= pid in daemon mode) */
	struct famfs_server_stats *st;	/* the live counters, mapped */
};

/* Map m->stats if the server has created it; 0 or -errno. */
static inline int famfs_map_stats(struct famfs_mount *m)
{
	struct stat sb;
	void *p;
	int fd;

	if (m->st)
		return 0;
	fd = open(m->stats, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) || sb.st_size != sizeof(*m->st)) {
		close(fd);
		return -EINVAL;
	}
	p = mmap(NULL, sizeof(*m->st), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	m->st = p;
	if (m->st->magic != FAMFS_SERVER_STATS_MAGIC ||
	    m->st->version != FAMFS_SERVER_STATS_VERSION || m->st->size != sizeof(*m->st))
		return -EPROTO;
	return 0;
}

/*
 * Unmount (lazily if busy), wait for the server to exit (SIGKILL after
 * FAMFS_EXIT_TIMEOUT_MS), remove the directory. *status gets the server's
 * wait status (-1 if it had to be killed). Safe to call twice.
 */
static inline void famfs_mount_stop(struct famfs_mount *m, int *status)
{
	int st = -1;

	if (!m->dir[0])
		return;
	if (umount2(m->mnt, 0) && errno == EBUSY)
		umount2(m->mnt, MNT_DETACH);
	if (m->launcher > 0 && m->launcher != m->pid)
		famfs_wait_exit(m->launcher, FAMFS_EXIT_TIMEOUT_MS, &st);
	if (m->pid > 0 && famfs_wait_exit(m->pid, FAMFS_EXIT_TIMEOUT_MS, &st)) {
		kill(m->pid, SIGKILL);
		waitpid(m->pid, NULL, 0);
		st = -1;
	}
	if (status)
		*status = st;
	m->pid = 0;
	m->launcher = 0;
	if (m->st)
		munmap(m->st, sizeof(*m->st));
	m->st = NULL;
	unlink(m->stats);
	unlink(m->ctl);
	rmdir(m->mnt);
	rmdir(m->dir);
	m->dir[0] = 0;
}

/*
 * Start famfs_server --stats DIR/stats [args...] MANIFEST DIR/mnt. With
 * foreground (-f), the server is our child and ready when the stats say
 * INIT was answered. Without, the server must fork itself and its parent
 * exit 0 only once the mount works; the daemon is then waited for via
 * PR_SET_CHILD_SUBREAPER, which the caller must have set. On success the
 * mount is a fuse file system; on failure everything is cleaned up and
 * -errno returned (-ECHILD: the server exited early; *status tells how).
 */
static inline int famfs_mount_start(struct famfs_mount *m, const char *manifest,
				    const char *const *args, bool foreground, int *status)
{
	const char *argv[26];
	struct statfs sfs;
	long long end;
	int n = 0, i, rc = 0, st = 0;
	pid_t pid;

	memset(m, 0, sizeof(*m));
	if (status)
		*status = 0;
	snprintf(m->dir, sizeof(m->dir), "/tmp/famfs-srv.XXXXXX");
	if (!mkdtemp(m->dir)) {
		m->dir[0] = 0;
		return -errno;
	}
	snprintf(m->mnt, sizeof(m->mnt), "%s/mnt", m->dir);
	snprintf(m->stats, sizeof(m->stats), "%s/stats", m->dir);
	snprintf(m->ctl, sizeof(m->ctl), "%s/ctl", m->dir);
	if (mkdir(m->mnt, 0755)) {
		rc = -errno;
		goto fail;
	}

	argv[n++] = famfs_server_bin();
	if (foreground)
		argv[n++] = "-f";
	argv[n++] = "--stats";
	argv[n++] = m->stats;
	argv[n++] = "--control";
	argv[n++] = m->ctl;
	/* one more server option for every mount (e.g. --lax-fmap-in) */
	if (getenv("FAMFS_SERVER_OPT") && *getenv("FAMFS_SERVER_OPT"))
		argv[n++] = getenv("FAMFS_SERVER_OPT");
	for (i = 0; args && args[i] && n < 20; i++)
		argv[n++] = args[i];
	argv[n++] = manifest;
	argv[n++] = m->mnt;
	argv[n] = NULL;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		goto fail;
	}
	if (!pid) {
		/*
		 * The server must not keep the test's descriptors: one on a
		 * file of another mount would keep that mount busy for as long
		 * as this server runs.
		 */
		syscall(SYS_close_range, 3U, ~0U, 0U);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	m->launcher = pid;

	if (!foreground) {
		/* the launcher exits 0 once the mount is up and INIT answered */
		rc = famfs_wait_exit(pid, FAMFS_START_TIMEOUT_MS, &st);
		if (rc)
			goto fail;
		m->launcher = 0;
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			rc = -ECHILD;
			goto fail;
		}
		rc = famfs_map_stats(m);
		if (rc)
			goto fail;
		/* no waiting: it must be ready the moment the launcher is gone */
		if (!famfs_load(&m->st->ready)) {
			rc = -EPROTO;
			goto fail;
		}
		m->pid = famfs_load(&m->st->pid);
	} else {
		m->pid = pid;
		end = famfs_now_ms() + FAMFS_START_TIMEOUT_MS;
		while (famfs_map_stats(m) || !famfs_load(&m->st->ready)) {
			if (waitpid(pid, &st, WNOHANG) == pid) {
				m->pid = 0;
				m->launcher = 0;
				rc = -ECHILD;
				goto fail;
			}
			if (famfs_now_ms() > end) {
				rc = -ETIMEDOUT;
				goto fail;
			}
			usleep(2000);
		}
	}
	if (statfs(m->mnt, &sfs)) {
		rc = -errno;
		goto fail;
	}
	if (sfs.f_type != FUSE_SUPER_MAGIC) {
		rc = -ENODEV;
		goto fail;
	}
	return 0;

fail:
	if (status)
		*status = st;
	famfs_mount_stop(m, NULL);
	return rc;
}

/*
 * One command on the server's control channel (--control, which
 * famfs_mount_start() always passes): the reply line in reply (without
 * its newline, if reply is not NULL). Returns 0 for "ok...", the errno N
 * for "err -N" (what the server's write() of a notification to /dev/fuse
 * failed with), or a negative errno: -EBADMSG for a command the server
 * refused ("bad ..."), another for a channel that failed.
 */
static inline int famfs_vctl(struct famfs_mount *m, char *reply, size_t size,
			     const char *fmt, va_list ap)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[4096], in[512];
	size_t got = 0;
	ssize_t r;
	int fd, len, rc;

	len = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	if (len < 0 || len >= (int)sizeof(line) - 1)
		return -E2BIG;
	line[len++] = '\n';
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", m->ctl);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    write(fd, line, len) != len) {
		rc = -errno;
		close(fd);
		return rc;
	}
	while (got < sizeof(in) - 1) {
		r = read(fd, in + got, sizeof(in) - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += r;
		if (memchr(in, '\n', got))
			break;
	}
	close(fd);
	in[got] = 0;
	if (!strchr(in, '\n'))
		return -EPIPE;
	*strchr(in, '\n') = 0;
	if (reply && size)
		snprintf(reply, size, "%s", in);
	if (!strncmp(in, "ok", 2))
		return 0;
	if (!strncmp(in, "err -", 5))
		return atoi(in + 5);
	return -EBADMSG;
}

static inline int famfs_ctl(struct famfs_mount *m, const char *fmt, ...)
	__printf(2, 3);
static inline int famfs_ctl(struct famfs_mount *m, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = famfs_vctl(m, NULL, 0, fmt, ap);
	va_end(ap);
	return rc;
}

static inline int famfs_ctl_reply(struct famfs_mount *m, char *reply, size_t size,
				  const char *fmt, ...)
	__printf(4, 5);
static inline int famfs_ctl_reply(struct famfs_mount *m, char *reply, size_t size,
				  const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = famfs_vctl(m, reply, size, fmt, ap);
	va_end(ap);
	return rc;
}

/*
 * A manifest written to path from a printf format (tests build their
 * own from the VM's device layout); 0 or -errno.
 */
static inline int famfs_write_manifest(const char *path, const char *fmt, ...)
	__printf(2, 3);
static inline int famfs_write_manifest(const char *path, const char *fmt, ...)
{
	va_list ap;
	FILE *f = fopen(path, "w");
	int rc;

	if (!f)
		return -errno;
	va_start(ap, fmt);
	rc = vfprintf(f, fmt, ap);
	va_end(ap);
	if (fclose(f) || rc < 0)
		return -EIO;
	return 0;
}

/* Fill buf with the bytes a test writes at file offset off: seed-specific. */
static inline void famfs_pattern(unsigned char *buf, size_t len, unsigned long long off,
				 unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)((off + i) * 31 + seed * 101 + ((off + i) >> 12));
}

/*
 * Copies from or to a file mapping that survive a SIGBUS: 0, or -EFAULT
 * if a page of the range raised SIGBUS (the copy stops there), so that a
 * test can assert "no SIGBUS" and still tear its mount down.
 */
static sigjmp_buf famfs_bus_jmp;
static sig_atomic_t famfs_bus_armed;	/* only FAMFS_READ_ONCE(), FAMFS_WRITE_ONCE() */

static inline void famfs_on_sigbus(int sig)
{
	if (FAMFS_READ_ONCE(famfs_bus_armed))
		siglongjmp(famfs_bus_jmp, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static inline int famfs_map_copy(void *dst, const void *src, size_t len)
{
	struct sigaction sa = { .sa_handler = famfs_on_sigbus }, old;
	int rc = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(famfs_bus_jmp, 1)) {
		rc = -EFAULT;
	} else {
		FAMFS_WRITE_ONCE(famfs_bus_armed, 1);
		memcpy(dst, src, len);
	}
	FAMFS_WRITE_ONCE(famfs_bus_armed, 0);
	sigaction(SIGBUS, &old, NULL);
	return rc;
}

/* First index where a and b differ, or n. */
static inline size_t famfs_first_diff(const unsigned char *a, const unsigned char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (a[i] != b[i])
			break;
	return i;
}

/*
 * First byte where mapping map differs from want (n if none), read with
 * famfs_map_copy(): (size_t)-1 if a page raised SIGBUS.
 */
static inline size_t famfs_map_diff(const unsigned char *map, const unsigned char *want,
				    size_t n)
{
	unsigned char *tmp = malloc(n);
	size_t d;

	if (!tmp)
		return 0;
	if (famfs_map_copy(tmp, map, n)) {
		free(tmp);
		return (size_t)-1;
	}
	d = famfs_first_diff(tmp, want, n);
	free(tmp);
	return d;
}

/* One byte stored through a mapping: 0, or -EFAULT for a SIGBUS. */
static inline int famfs_map_poke(unsigned char *map, size_t off, unsigned char v)
{
	return famfs_map_copy(map + off, &v, 1);
}

/* Write a string to a (sysfs, procfs) file; 0 or -errno. */
static inline int famfs_write_str(const char *path, const char *str)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, str, strlen(str));
	close(fd);
	return n == (ssize_t)strlen(str) ? 0 : -EIO;
}

/* FORGETs the server has received (one per evicted inode, batched or not). */
static inline __u64 famfs_forgets(const struct famfs_mount *m)
{
	return famfs_load(&m->st->ops[FUSE_FORGET]) + famfs_load(&m->st->ops[FUSE_BATCH_FORGET]);
}

/* Read fd to EOF into buf (at most size bytes; *len = size + 1 if more came). */
/* open(O_RDWR) of file @name of mount @m: the fd, or -errno. */
static inline int famfs_open_rw(const struct famfs_mount *m, const char *name)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", m->mnt, name);
	fd = open(path, O_RDWR);
	return fd < 0 ? -errno : fd;
}

/*
 * Evict every unused inode of the mount: once each OPEN has its RELEASE (a
 * RELEASE in flight still holds the inode), drop dentries and inodes until
 * FORGETs stop coming: none for 5 rounds of 50 ms in a row, as evictions
 * run from a workqueue (fuse-fmap-iput) and each FORGET reaches the server
 * later still. True if at least one came.
 */
static inline bool famfs_evict_unused(const struct famfs_mount *m)
{
	long long end = famfs_now_ms() + FAMFS_EXIT_TIMEOUT_MS;
	__u64 before, last;
	int quiet = 0;

	if (!famfs_wait_count(&m->st->ops[FUSE_RELEASE], famfs_load(&m->st->ops[FUSE_OPEN]),
			      FAMFS_EXIT_TIMEOUT_MS))
		return false;
	before = famfs_forgets(m);
	sync();
	while (famfs_now_ms() < end) {
		last = famfs_forgets(m);
		famfs_write_str("/proc/sys/vm/drop_caches", "2");
		usleep(50000);
		quiet = famfs_forgets(m) == last ? quiet + 1 : 0;
		if (famfs_forgets(m) > before && quiet >= 5)
			return true;
	}
	return false;
}

static inline void famfs_read_all(int fd, unsigned char *buf, size_t size, size_t *len)
{
	unsigned char sink[4096];
	ssize_t r;

	*len = 0;
	for (;;) {
		if (*len < size)
			r = read(fd, buf + *len, size - *len);
		else
			r = read(fd, sink, sizeof(sink));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		*len = *len < size ? *len + r : size + 1;
	}
}

/*
 * Run famfs_server with args (NULL-terminated, after argv[0]) to its end:
 * its stdout in out (*outlen bytes), its stderr NUL-terminated in err (if
 * not NULL). Returns the exit status, or -errno.
 */
static inline int famfs_server_run(const char *const *args, unsigned char *out, size_t size,
				   size_t *outlen, char *err, size_t errsize)
{
	int po[2], pe[2], n = 0, st;
	const char *argv[16];
	size_t elen;
	pid_t pid;

	argv[n++] = famfs_server_bin();
	while (args && *args && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	*outlen = 0;
	if (pipe(po))
		return -errno;
	if (pipe(pe)) {
		close(po[0]);
		close(po[1]);
		return -errno;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		dup2(po[1], STDOUT_FILENO);
		dup2(pe[1], STDERR_FILENO);
		close(po[0]);
		close(po[1]);
		close(pe[0]);
		close(pe[1]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	/* stderr is a line or two: it fits the pipe while stdout is read */
	famfs_read_all(po[0], out, size, outlen);
	if (err && errsize) {
		famfs_read_all(pe[0], (unsigned char *)err, errsize - 1, &elen);
		err[elen < errsize ? elen : errsize - 1] = 0;
	}
	close(po[0]);
	close(pe[0]);
	if (waitpid(pid, &st, 0) != pid)
		return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -EINTR;
}

static inline const char *famfs_basename(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* The driver a dax device is bound to ("" if none). */
static inline void famfs_dax_driver(const char *dax, char *out, size_t size)
{
	char path[PATH_MAX], link[PATH_MAX];
	const char *base;
	size_t len;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/dax/devices/%s/driver", dax);
	n = readlink(path, link, sizeof(link) - 1);
	out[0] = 0;
	if (n > 0 && size > 0) {
		link[n] = 0;
		base = famfs_basename(link);
		len = strlen(base) < size - 1 ? strlen(base) : size - 1;
		memcpy(out, base, len);
		out[len] = 0;
	}
}

/*
 * Move a dax device from fsdev_dax to device_dax (raw mmap) or back. By
 * new_id, which binds the device too: device_dax does not match a CXL RAM
 * region's dax device by type (those are kmem's), only by name.
 */
static inline int famfs_dax_rebind(const char *dax, bool to_raw)
{
	const char *from = to_raw ? "fsdev_dax" : "device_dax";
	const char *to = to_raw ? "device_dax" : "fsdev_dax";
	char drv[64], path[96];
	int rc;

	famfs_dax_driver(dax, drv, sizeof(drv));
	snprintf(path, sizeof(path), "/sys/bus/dax/drivers/%s/remove_id", from);
	famfs_write_str(path, dax);
	if (!strcmp(drv, from)) {
		snprintf(path, sizeof(path), "/sys/bus/dax/drivers/%s/unbind", from);
		rc = famfs_write_str(path, dax);
		if (rc)
			return rc;
	}
	snprintf(path, sizeof(path), "/sys/bus/dax/drivers/%s/new_id", to);
	rc = famfs_write_str(path, dax);
	if (rc)
		return rc;
	famfs_dax_driver(dax, drv, sizeof(drv));
	return strcmp(drv, to) ? -ENODEV : 0;
}

/*
 * Give @dax back to fsdev_dax after a test unbound it (or left it on
 * device_dax): 0 once it is there.
 */
static inline int famfs_fsdev_give_back(const char *dax)
{
	char drv[64];

	famfs_dax_driver(dax, drv, sizeof(drv));
	if (!strcmp(drv, "fsdev_dax"))
		return 0;
	if (!strcmp(drv, "device_dax"))
		famfs_write_str("/sys/bus/dax/drivers/device_dax/unbind", dax);
	famfs_write_str("/sys/bus/dax/drivers/fsdev_dax/bind", dax);
	famfs_dax_driver(dax, drv, sizeof(drv));
	if (strcmp(drv, "fsdev_dax")) {
		famfs_write_str("/sys/bus/dax/drivers/fsdev_dax/remove_id", dax);
		famfs_write_str("/sys/bus/dax/drivers/fsdev_dax/new_id", dax);
		famfs_dax_driver(dax, drv, sizeof(drv));
	}
	return strcmp(drv, "fsdev_dax") ? -ENODEV : 0;
}

/*
 * Hand a page of the file open at @fd to a new pipe @p: map its first
 * 2 MiB, write @len (at most a page) bytes of @want into them, vmsplice
 * that page into the pipe (which then holds a reference to it), unmap.
 * The caller closes the file and, when it is done, the pipe.
 */
static inline int famfs_page_in_pipe(int fd, const unsigned char *want, size_t len, int p[2])
{
	struct iovec iov;
	void *m;
	int rc = 0;

	m = mmap(NULL, 2UL << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return -errno;
	memcpy(m, want, len);
	iov.iov_base = m;
	iov.iov_len = len;
	if (pipe(p))
		rc = -errno;
	else if (vmsplice(p[1], &iov, 1, 0) != (ssize_t)len)
		rc = -EIO;
	munmap(m, 2UL << 20);
	return rc;
}

/* /dev/kmsg, read from its end on: the records logged from now on. */
static inline int famfs_kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/*
 * What famfs_rs logged since the last scan of @fd: its lines, those about
 * the file with fuse node ID @ino ("famfs_rs: file NODEID: "; the test
 * server gives each file st_ino == nodeid unless a test overrides it),
 * the last of those, and the log limiter's "callbacks suppressed" reports.
 */
struct famfs_kmsg {
	int famfs;
	int ino;
	int suppressed;
	char last[512];
};

static inline void famfs_kmsg_scan(int fd, unsigned long long ino, struct famfs_kmsg *k)
{
	char rec[8192], want[64], *msg;
	ssize_t n;

	memset(k, 0, sizeof(*k));
	snprintf(want, sizeof(want), "famfs_rs: file %llu: ", ino);
	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)	/* overwritten records: go on */
			continue;
		if (n <= 0)
			break;
		rec[n] = 0;
		msg = strchr(rec, ';');
		if (!msg)
			continue;
		msg++;
		msg[strcspn(msg, "\n")] = 0;
		/* the rate limiter's line names its caller (rust/helpers.c) */
		if (strstr(msg, "famfs_rs_log_allowed") && strstr(msg, "callbacks suppressed"))
			k->suppressed++;
		if (strncmp(msg, "famfs_rs: ", 10))
			continue;
		k->famfs++;
		if (!strncmp(msg, want, strlen(want))) {
			k->ino++;
			snprintf(k->last, sizeof(k->last), "%s", msg);
		}
	}
}

/* Lines logged since the last read of @fd (famfs_kmsg_open()) with @needle. */
static inline int famfs_kmsg_count(int fd, const char *needle)
{
	char rec[8192];
	ssize_t n;
	int hits = 0;

	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;
		if (n <= 0)
			break;
		rec[n] = 0;
		if (strstr(rec, needle))
			hits++;
	}
	return hits;
}

/* The DAX devices famfs_rs holds (debugfs held_daxdevs), or -1. */
static inline long long famfs_held_daxdevs(void)
{
	unsigned long long v;

	if (read_u64("/sys/kernel/debug/famfs_rs/held_daxdevs", &v))
		return -1;
	return (long long)v;
}

#endif /* FAMFS_TEST_H */
