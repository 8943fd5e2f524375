// SPDX-License-Identifier: GPL-2.0
/*
 * A directory invalidated by the server (NOTIFY_INVAL_ENTRY, or
 * NOTIFY_DELETE of the directory) drops its unused children's dentries
 * under its lock, in the server's write() of the notification. The last
 * reference to a child fmap file goes with its dentry, and that file's
 * eviction waits for its page references, which another process may hold
 * (a page in a pipe). The server's write() must return at once anyway:
 * fuse puts an fmap file's last reference from a dentry on the
 * connection's workqueue. It used to wait there, holding the directory's
 * lock and fc->killsb, for as long as the pipe lived. The file is evicted
 * (FORGET) once the pipe lets its page go.
 */
#include <limits.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define MIB (1024UL * 1024)
#define MANIFEST "/tmp/dir-notify.manifest"
#define SUBDIR_ID 0x10000000000ULL	/* the server's SUBDIR_ID, 2^40 */
/* RELEASE, eviction and FORGET are asynchronous; a blocked call blocks until the test lets go */
#define QUICK_MS 20000

struct ctl_call {
	struct famfs_mount *m;
	char cmd[96];
	int rc;
	int done;
};

static void *ctl_thread(void *arg)
{
	struct ctl_call *c = arg;

	c->rc = famfs_ctl(c->m, "%s", c->cmd);
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

FIXTURE(dir) {
	struct famfs_mount m;
	int pipe[2];
};

FIXTURE_SETUP(dir)
{
	ASSERT_TRUE(module_loaded("famfs_rs"));
	self->pipe[0] = -1;
	self->pipe[1] = -1;
	ASSERT_EQ(0, famfs_write_manifest(MANIFEST,
					  "daxdev 0 /dev/dax1.0\nsubdir d\n"
					  "file d/x 2M simple 0:320M:2M\n"
					  "file d/y 2M simple 0:322M:2M\n"));
	ASSERT_EQ(0, famfs_mount_start(&self->m, MANIFEST, NULL, true, NULL));
}

FIXTURE_TEARDOWN(dir)
{
	if (self->pipe[0] >= 0)
		close(self->pipe[0]);
	if (self->pipe[1] >= 0)
		close(self->pipe[1]);
	famfs_mount_stop(&self->m, NULL);
	unlink(MANIFEST);
}

/*
 * Open d/x, keep a page of it in the pipe, close it; open and close d/y:
 * both are unused children of d now, x with a referenced page.
 */
static void pin_a_child_page(struct __test_metadata *_metadata, struct _test_data_dir *self,
			     unsigned char *want, size_t len)
{
	struct iovec iov;
	unsigned char *x;
	int fx, fy;

	fx = famfs_open_rw(&self->m, "d/x");
	ASSERT_GE(fx, 0) TH_LOG("open d/x: %s", strerror(-fx));
	x = mmap(NULL, 2 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED, fx, 0);
	ASSERT_NE(MAP_FAILED, x);
	memcpy(x, want, len);
	ASSERT_EQ(0, pipe(self->pipe));
	iov.iov_base = x;
	iov.iov_len = len;
	ASSERT_EQ((ssize_t)len, vmsplice(self->pipe[1], &iov, 1, 0));
	EXPECT_EQ(0, munmap(x, 2 * MIB));
	EXPECT_EQ(0, close(fx));
	fy = famfs_open_rw(&self->m, "d/y");
	ASSERT_GE(fy, 0);
	EXPECT_EQ(0, close(fy));
	/* both RELEASEs are in: nothing but the dentries holds the inodes */
	ASSERT_TRUE(famfs_wait_count(&self->m.st->ops[FUSE_RELEASE], 2, QUICK_MS));
}

/* The notification returns at once; the pipe's page is the file's. */
static void notify_returns(struct __test_metadata *_metadata, struct _test_data_dir *self,
			   const char *cmd, const unsigned char *want, size_t len)
{
	struct ctl_call c = { .m = &self->m };
	unsigned char got[4096];
	long long end;
	__u64 forgets;
	pthread_t t;

	forgets = famfs_forgets(&self->m);
	snprintf(c.cmd, sizeof(c.cmd), "%s", cmd);
	ASSERT_EQ(0, pthread_create(&t, NULL, ctl_thread, &c));
	end = famfs_now_ms() + QUICK_MS;
	while (!__atomic_load_n(&c.done, __ATOMIC_ACQUIRE) && famfs_now_ms() < end)
		usleep(10000);
	EXPECT_TRUE(__atomic_load_n(&c.done, __ATOMIC_ACQUIRE))
		TH_LOG("the server's %s waited for the pipe", cmd);
	EXPECT_EQ((ssize_t)len, read(self->pipe[0], got, len));
	EXPECT_EQ(len, famfs_first_diff(got, want, len));
	EXPECT_EQ(0, close(self->pipe[0]));
	EXPECT_EQ(0, close(self->pipe[1]));
	self->pipe[0] = -1;
	self->pipe[1] = -1;
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, c.rc);
	/* the page is free: the children are evicted (FORGETs, maybe batched) */
	end = famfs_now_ms() + QUICK_MS;
	while (famfs_forgets(&self->m) <= forgets && famfs_now_ms() < end)
		usleep(10000);
	EXPECT_LT(forgets, famfs_forgets(&self->m));
}

TEST_F(dir, inval_entry_of_a_directory_returns_while_a_child_page_is_in_a_pipe)
{
	unsigned char want[4096];

	famfs_pattern(want, sizeof(want), 0, 61);
	pin_a_child_page(_metadata, self, want, sizeof(want));
	notify_returns(_metadata, self, "notify-inval-entry d", want, sizeof(want));
}

TEST_F(dir, delete_of_a_directory_returns_while_a_child_page_is_in_a_pipe)
{
	unsigned char want[4096];
	char cmd[64];

	famfs_pattern(want, sizeof(want), 0, 62);
	pin_a_child_page(_metadata, self, want, sizeof(want));
	snprintf(cmd, sizeof(cmd), "notify-delete d #%llu", SUBDIR_ID);
	notify_returns(_metadata, self, cmd, want, sizeof(want));
}

TEST_HARNESS_MAIN
