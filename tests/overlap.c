// SPDX-License-Identifier: GPL-2.0
/*
 * fs-dax keeps one owner per DAX page, so famfs_rs refuses, at open, an
 * fmap that maps device blocks another live inode of the connection maps
 * (EBUSY) or that maps one block at two file offsets (EINVAL), with
 * tests/manifests/overlap.manifest. A block is free again once its owner
 * is evicted, and 64 racing opens of one inode all succeed and leave the
 * accounting right.
 */
#include <pthread.h>
#include <limits.h>
#include <linux/fuse.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define OVERLAP_MANIFEST "overlap.manifest"
#define RACERS 64

FIXTURE(ov) {
	struct famfs_mount m;
};

FIXTURE_SETUP(ov)
{
	char manifest[PATH_MAX];

	ASSERT_TRUE(module_loaded("famfs_rs"));
	snprintf(manifest, sizeof(manifest), "%s/%s", famfs_manifests(), OVERLAP_MANIFEST);
	ASSERT_EQ(0, famfs_mount_start(&self->m, manifest, NULL, true, NULL));
}

FIXTURE_TEARDOWN(ov)
{
	famfs_mount_stop(&self->m, NULL);
}

TEST_F(ov, second_owner_refused_until_the_first_is_evicted)
{
	int a, b, c;

	a = famfs_open_rw(&self->m, "a");
	ASSERT_GE(a, 0);
	/* b maps a block a maps */
	EXPECT_EQ(-EBUSY, famfs_open_rw(&self->m, "b"));
	/* c shares nothing */
	c = famfs_open_rw(&self->m, "c");
	EXPECT_GE(c, 0);
	if (c >= 0)
		close(c);
	/* still refused while a lives, even with no fd open */
	EXPECT_EQ(0, close(a));
	EXPECT_EQ(-EBUSY, famfs_open_rw(&self->m, "b"));
	/* a evicted: its blocks are free */
	ASSERT_TRUE(famfs_evict_unused(&self->m));
	b = famfs_open_rw(&self->m, "b");
	EXPECT_GE(b, 0) TH_LOG("b after a was evicted: %s", strerror(-b));
	if (b >= 0)
		close(b);
	/* and now a is the one refused */
	EXPECT_EQ(-EBUSY, famfs_open_rw(&self->m, "a"));
}

TEST_F(ov, one_block_at_two_offsets_refused)
{
	EXPECT_EQ(-EINVAL, famfs_open_rw(&self->m, "twice"));
	/* refused with nothing recorded: the block is still free */
	EXPECT_EQ(-EINVAL, famfs_open_rw(&self->m, "twice"));
}

struct racer {
	const struct famfs_mount *m;
	pthread_barrier_t *go;
	int fd;
};

static void *race_open(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->go);
	r->fd = famfs_open_rw(r->m, "race");
	return NULL;
}

TEST_F(ov, racing_opens_of_one_inode_share_its_blocks)
{
	struct racer r[RACERS];
	pthread_t t[RACERS];
	pthread_barrier_t go;
	int i, fd;

	ASSERT_EQ(0, pthread_barrier_init(&go, NULL, RACERS));
	for (i = 0; i < RACERS; i++) {
		r[i] = (struct racer){ .m = &self->m, .go = &go, .fd = -1 };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, race_open, &r[i]));
	}
	for (i = 0; i < RACERS; i++)
		ASSERT_EQ(0, pthread_join(t[i], NULL));
	pthread_barrier_destroy(&go);
	/* every opener of the one inode succeeds, whoever published the fmap */
	for (i = 0; i < RACERS; i++) {
		EXPECT_GE(r[i].fd, 0) TH_LOG("racer %d: %s", i, strerror(-r[i].fd));
		if (r[i].fd >= 0)
			close(r[i].fd);
	}
	/* one GET_FMAP at least, at most one per racer that found no fmap */
	EXPECT_GE(famfs_load(&self->m.st->fmap[4]), 1ULL);
	EXPECT_LE(famfs_load(&self->m.st->fmap[4]), (__u64)RACERS);
	TH_LOG("%d racers, %llu GET_FMAP", RACERS,
	       (unsigned long long)famfs_load(&self->m.st->fmap[4]));
	/* another inode on the same block: refused while race lives */
	EXPECT_EQ(-EBUSY, famfs_open_rw(&self->m, "race2"));
	/* evicted, every fmap of it (winner and losers) has let go */
	ASSERT_TRUE(famfs_evict_unused(&self->m));
	fd = famfs_open_rw(&self->m, "race2");
	EXPECT_GE(fd, 0) TH_LOG("race2 after race was evicted: %s", strerror(-fd));
	if (fd >= 0)
		close(fd);
}

TEST_HARNESS_MAIN
