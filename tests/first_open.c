// SPDX-License-Identifier: GPL-2.0
/*
 * The first open of an inode (the hardening issue, class G). However many
 * opens race for an inode without an fmap, one fetches it (one GET_FMAP
 * exchange, at most one fmap's buffers in memory); the others wait for it,
 * killably, and take its result or its error. So a server that stalls
 * GET_FMAP pins one request's memory, not one per opener, and openers that
 * are killed while they wait go away at once (the one that sent the
 * request waits for the server like any fuse request, until it answers or
 * the connection is aborted). A fetch that ends with EINTR (the fetcher's
 * signal, or the server's word) is the fetcher's alone: its waiters fetch
 * again.
 */
#include <pthread.h>
#include <limits.h>
#include <sys/sysmacros.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define RACERS 64
#define WAITERS 8
#define WAIT_MS 20000

/* file positions in the manifest below (the server's fmap[] counters) */
#define POS_RACE 0
#define POS_STALL 1
#define POS_BIG 2
#define BIG (64ULL << 20)

static int write_manifest(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fprintf(f, "daxdev 0 /dev/dax1.0\n"
		   "file race 2M simple 0:300M:2M\n"
		   "file stall 2M simple 0:302M:2M\n"
		   "fmap-stall stall\n"
		   "file big 2M simple 0:304M:2M\n"
		   "fmap-announce big 64M\n"
		   "fmap-stall-sized big\n");
	return fclose(f) ? -errno : 0;
}

struct racer {
	char path[PATH_MAX];
	pthread_barrier_t *go;
	int err;
};

static void *race_open(void *arg)
{
	struct racer *r = arg;
	int fd;

	pthread_barrier_wait(r->go);
	fd = open(r->path, O_RDWR);
	r->err = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int abort_conn(const char *mnt)
{
	char ctl[128];
	struct stat sb;

	mkdir("/sys/fs/fuse/connections", 0755);
	mount("fusectl", "/sys/fs/fuse/connections", "fusectl", 0, NULL);
	if (stat(mnt, &sb))
		return -errno;
	snprintf(ctl, sizeof(ctl), "/sys/fs/fuse/connections/%u/abort", minor(sb.st_dev));
	return famfs_write_str(ctl, "1");
}

FIXTURE(fo) {
	struct famfs_mount m;
	char manifest[64];
};

FIXTURE_SETUP(fo)
{
	ASSERT_TRUE(module_loaded("famfs_rs"));
	snprintf(self->manifest, sizeof(self->manifest), "/tmp/first_open.manifest");
	ASSERT_EQ(0, write_manifest(self->manifest));
	ASSERT_EQ(0, famfs_mount_start(&self->m, self->manifest, NULL, true, NULL));
}

FIXTURE_TEARDOWN(fo)
{
	famfs_mount_stop(&self->m, NULL);
	umount2("/sys/fs/fuse/connections", 0);
	unlink(self->manifest);
}

TEST_F(fo, racing_first_opens_fetch_once)
{
	static struct racer r[RACERS];
	pthread_t t[RACERS];
	pthread_barrier_t go;
	__u64 forgets;
	int i;

	forgets = famfs_forgets(&self->m);
	ASSERT_EQ(0, pthread_barrier_init(&go, NULL, RACERS));
	for (i = 0; i < RACERS; i++) {
		snprintf(r[i].path, sizeof(r[i].path), "%s/race", self->m.mnt);
		r[i].go = &go;
		r[i].err = -1;
		ASSERT_EQ(0, pthread_create(&t[i], NULL, race_open, &r[i]));
	}
	for (i = 0; i < RACERS; i++)
		ASSERT_EQ(0, pthread_join(t[i], NULL));
	pthread_barrier_destroy(&go);
	for (i = 0; i < RACERS; i++) {
		int e = r[i].err;

		EXPECT_EQ(0, e) TH_LOG("racer %d: %s", i, strerror(e));
	}
	/*
	 * One fetch per inode: the racers close as they go, so an inode the
	 * kernel evicted meanwhile (its FORGET) would be a new inode with a
	 * fetch of its own.
	 */
	EXPECT_EQ(1ULL + famfs_forgets(&self->m) - forgets,
		  famfs_load(&self->m.st->fmap[POS_RACE]))
		TH_LOG("%d racing first opens sent %llu GET_FMAP, %llu FORGET", RACERS,
		       (unsigned long long)famfs_load(&self->m.st->fmap[POS_RACE]),
		       (unsigned long long)(famfs_forgets(&self->m) - forgets));
	for (i = 0; i < (int)famfs_load(&self->m.st->fmap_log_n) && i < 4; i++)
		TH_LOG("GET_FMAP %d: nodeid %llu, %u bytes in, size %u, reply %d", i,
		       (unsigned long long)self->m.st->fmap_log[i].nodeid,
		       self->m.st->fmap_log[i].inlen, self->m.st->fmap_log[i].size,
		       self->m.st->fmap_log[i].reply);
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->daxdev[0]));
}

TEST_F(fo, waiters_share_the_fetchers_error)
{
	static struct racer r[WAITERS];
	pthread_t t[WAITERS];
	pthread_barrier_t go;
	int i;

	ASSERT_EQ(0, pthread_barrier_init(&go, NULL, WAITERS));
	for (i = 0; i < WAITERS; i++) {
		snprintf(r[i].path, sizeof(r[i].path), "%s/stall", self->m.mnt);
		r[i].go = &go;
		r[i].err = -1;
		ASSERT_EQ(0, pthread_create(&t[i], NULL, race_open, &r[i]));
	}
	/* the server holds the one GET_FMAP; every opener is waiting */
	ASSERT_TRUE(famfs_wait_count(&self->m.st->fmap[POS_STALL], 1, WAIT_MS));
	usleep(500000);
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->fmap[POS_STALL]))
		TH_LOG("%d waiting first opens sent %llu GET_FMAP", WAITERS,
		       (unsigned long long)famfs_load(&self->m.st->fmap[POS_STALL]));
	/* the abort ends the fetch; everyone gets its error */
	ASSERT_EQ(0, abort_conn(self->m.mnt));
	for (i = 0; i < WAITERS; i++)
		ASSERT_EQ(0, pthread_join(t[i], NULL));
	pthread_barrier_destroy(&go);
	for (i = 0; i < WAITERS; i++) {
		int e = r[i].err;

		EXPECT_TRUE(e == ECONNABORTED || e == ENOTCONN)
			TH_LOG("waiter %d: %s", i, strerror(e));
	}
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->fmap[POS_STALL]));
}

TEST_F(fo, an_interrupted_fetch_is_retried_by_its_waiters)
{
	static struct racer r[WAITERS];
	pthread_t t[WAITERS];
	pthread_barrier_t go;
	int i, eintr = 0, ok = 0;

	ASSERT_EQ(0, pthread_barrier_init(&go, NULL, WAITERS));
	for (i = 0; i < WAITERS; i++) {
		snprintf(r[i].path, sizeof(r[i].path), "%s/stall", self->m.mnt);
		r[i].go = &go;
		r[i].err = -1;
		ASSERT_EQ(0, pthread_create(&t[i], NULL, race_open, &r[i]));
	}
	ASSERT_TRUE(famfs_wait_count(&self->m.st->fmap[POS_STALL], 1, WAIT_MS));
	usleep(500000);
	/* the fetch ends with EINTR, and the server stalls nothing more */
	ASSERT_EQ(0, famfs_ctl(&self->m, "release-stall EINTR"));
	for (i = 0; i < WAITERS; i++)
		ASSERT_EQ(0, pthread_join(t[i], NULL));
	pthread_barrier_destroy(&go);
	for (i = 0; i < WAITERS; i++) {
		if (r[i].err == EINTR)
			eintr++;
		else if (!r[i].err)
			ok++;
	}
	/* only the opener whose request it was sees EINTR; one more fetch */
	EXPECT_EQ(1, eintr);
	EXPECT_EQ(WAITERS - 1, ok);
	EXPECT_EQ(2ULL, famfs_load(&self->m.st->fmap[POS_STALL]));
}

TEST_F(fo, killed_waiters_go_at_once)
{
	char path[PATH_MAX];
	pid_t pid[WAITERS];
	int i, gone = 0, st;
	long long end;

	snprintf(path, sizeof(path), "%s/stall", self->m.mnt);
	for (i = 0; i < WAITERS; i++) {
		pid[i] = fork();
		ASSERT_GE(pid[i], 0);
		if (!pid[i]) {
			open(path, O_RDWR);
			_exit(1);
		}
	}
	ASSERT_TRUE(famfs_wait_count(&self->m.st->fmap[POS_STALL], 1, WAIT_MS));
	usleep(500000);
	for (i = 0; i < WAITERS; i++)
		kill(pid[i], SIGKILL);
	/* all but the fetcher, whose request the server holds, die now */
	end = famfs_now_ms() + WAIT_MS;
	while (famfs_now_ms() < end && gone < WAITERS - 1) {
		for (i = 0; i < WAITERS; i++) {
			if (pid[i] > 0 && waitpid(pid[i], &st, WNOHANG) == pid[i]) {
				pid[i] = 0;
				gone++;
			}
		}
		usleep(10000);
	}
	EXPECT_EQ(WAITERS - 1, gone) TH_LOG("%d of %d killed openers exited", gone, WAITERS);
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->fmap[POS_STALL]));
	/* the abort frees the last one */
	ASSERT_EQ(0, abort_conn(self->m.mnt));
	for (i = 0; i < WAITERS; i++) {
		if (pid[i] > 0) {
			EXPECT_EQ(0, famfs_wait_exit(pid[i], WAIT_MS, &st));
			EXPECT_TRUE(WIFSIGNALED(st));
		}
	}
}

/* VmallocUsed of /proc/meminfo, in bytes (large fmap buffers are vmalloc'ed). */
static long long vmalloc_used(void)
{
	char line[256];
	long long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmallocUsed: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb << 10;
}

TEST_F(fo, a_stalled_large_fmap_pins_one_buffer)
{
	static struct racer r[WAITERS * 2];
	pthread_t t[WAITERS * 2];
	long long before, during, after;
	pthread_barrier_t go;
	int i, n = WAITERS * 2;

	before = vmalloc_used();
	ASSERT_GE(before, 0);
	ASSERT_EQ(0, pthread_barrier_init(&go, NULL, n));
	for (i = 0; i < n; i++) {
		snprintf(r[i].path, sizeof(r[i].path), "%s/big", self->m.mnt);
		r[i].go = &go;
		r[i].err = -1;
		ASSERT_EQ(0, pthread_create(&t[i], NULL, race_open, &r[i]));
	}
	/* the announcement came back, the 64 MiB round is held by the server */
	ASSERT_TRUE(famfs_wait_count(&self->m.st->fmap_sized[POS_BIG], 1, WAIT_MS));
	usleep(1000000);
	during = vmalloc_used();
	EXPECT_EQ(1ULL, famfs_load(&self->m.st->fmap_sized[POS_BIG]));
	EXPECT_EQ(2ULL, famfs_load(&self->m.st->fmap[POS_BIG]));
	/* one reply buffer, not one per opener */
	EXPECT_LT(during - before, (long long)(BIG + BIG / 2))
		TH_LOG("%d openers of a stalled 64 MiB fmap: VmallocUsed +%lld MiB", n,
		       (during - before) >> 20);
	EXPECT_GE(during - before, (long long)BIG);

	ASSERT_EQ(0, abort_conn(self->m.mnt));
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, pthread_join(t[i], NULL));
	pthread_barrier_destroy(&go);
	for (i = 0; i < n; i++) {
		int e = r[i].err;

		EXPECT_TRUE(e == ECONNABORTED || e == ENOTCONN)
			TH_LOG("opener %d: %s", i, strerror(e));
	}
	/* and it is freed with the failed open */
	after = vmalloc_used();
	EXPECT_LT(after - before, (long long)(BIG / 4))
		TH_LOG("VmallocUsed after the abort: +%lld MiB", (after - before) >> 20);
}

TEST_HARNESS_MAIN
