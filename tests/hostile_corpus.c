// SPDX-License-Identifier: GPL-2.0
/*
 * The fmap core's fuzz corpus (tests/fuzz/parse_resolve, in the guest
 * /famfs/fuzz) replayed through the real module: every input becomes the
 * GET_FMAP reply of one file of a mount (famfs_server fmap-reply), and
 * each file is opened. An open either fails with one of the errnos the
 * module documents for a bad fmap or an unknown daxdev, or succeeds, and
 * then bytes written at the start and the end of the file read back
 * through read() and through a mapping. The guest log must stay free of
 * splats (scripts/vm.sh fails the run otherwise).
 *
 * All accepted files stay open together: corpus fmaps often map the same
 * device pages, and famfs_rs must refuse the second owner of a page
 * (EBUSY) before fs-dax sees two files on one DAX page (which would trip
 * a WARN in dax_associate_entry()).
 */
#include <dirent.h>
#include <limits.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define CORPUS "/famfs/fuzz"
#define MAX_INPUTS 1024

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The errnos an open of a file with a hostile fmap may fail with. */
static bool documented(int err)
{
	switch (err) {
	case EINVAL:	/* malformed fmap or GET_DAXDEV reply */
	case ERANGE:	/* counts out of range, extent beyond its device */
	case EOVERFLOW:	/* arithmetic past 2^64 */
	case E2BIG:	/* index or announced size too large */
	case EPROTO:	/* large-fmap exchange broken */
	case ENOENT:	/* GET_DAXDEV for an index the server does not know */
	case EBUSY:	/* device pages another open file maps */
		return true;
	}
	return false;
}

static int round_trip(int fd, off_t size)
{
	unsigned long long w = 0x5a5aa5a5f00dcafeULL, r = 0;
	off_t at[2] = { 0, size - 8 };
	unsigned char *map;
	int k;

	/* the second word only when it does not overlap the first */
	for (k = 0; k < (size >= 16 ? 2 : 1); k++) {
		w ^= at[k];
		if (pwrite(fd, &w, 8, at[k]) != 8 || pread(fd, &r, 8, at[k]) != 8 || r != w)
			return -1;
	}
	map = mmap(NULL, 8, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -2;
	memcpy(&r, map, 8);
	munmap(map, 8);
	/* the first word, as written through read()/write() above */
	return r == 0x5a5aa5a5f00dcafeULL ? 0 : -3;
}

TEST(fuzz_corpus_through_the_module)
{
	static char *names[MAX_INPUTS];
	char manifest[] = "/tmp/corpus.manifest", path[PATH_MAX];
	int i, n = 0, fd, accepted = 0, rejected = 0, by_errno[256] = { 0 };
	static int fds[MAX_INPUTS];
	struct famfs_mount m;
	struct dirent *de;
	struct stat sb;
	FILE *f;
	DIR *d;

	ASSERT_TRUE(module_loaded("famfs_rs"));
	d = opendir(CORPUS);
	ASSERT_NE(NULL, d);
	while ((de = readdir(d)) && n < MAX_INPUTS)
		if (de->d_name[0] != '.')
			names[n++] = strdup(de->d_name);
	closedir(d);
	ASSERT_GT(n, 100);
	qsort(names, n, sizeof(names[0]), by_name);

	f = fopen(manifest, "w");
	ASSERT_NE(NULL, f);
	fprintf(f, "daxdev 0 /dev/dax1.0\ndaxdev 1 /dev/dax3.0\ndaxdev 2 /dev/dax2.0\n");
	for (i = 0; i < n; i++)
		fprintf(f, "file c%04d 2M simple 0:0:2M\nfmap-reply c%04d @%s/%s\n", i, i,
			CORPUS, names[i]);
	ASSERT_EQ(0, fclose(f));
	ASSERT_EQ(0, famfs_mount_start(&m, manifest, NULL, true, NULL));

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/c%04d", m.mnt, i);
		fd = open(path, O_RDWR);
		if (fd < 0) {
			rejected++;
			by_errno[errno & 255]++;
			EXPECT_TRUE(documented(errno))
				TH_LOG("%s: open failed with undocumented %s", names[i],
				       strerror(errno));
			continue;
		}
		accepted++;
		ASSERT_EQ(0, fstat(fd, &sb));
		if (sb.st_size >= 8)
			EXPECT_EQ(0, round_trip(fd, sb.st_size))
				TH_LOG("%s (size %lld)", names[i], (long long)sb.st_size);
		fds[accepted - 1] = fd;
	}
	for (i = 0; i < accepted; i++)
		EXPECT_EQ(0, close(fds[i]));
	/*
	 * Each input was fetched once, plus once more with a size for a
	 * large-fmap announcement: none was served from another's fmap.
	 */
	for (i = 0; i < n && i < FAMFS_SERVER_MAX_FILES; i++) {
		__u64 sized = famfs_load(&m.st->fmap_sized[i]);

		EXPECT_LE(sized, 1ULL);
		EXPECT_EQ(1ULL + sized, famfs_load(&m.st->fmap[i])) TH_LOG("%s", names[i]);
	}
	famfs_mount_stop(&m, NULL);
	unlink(manifest);

	TH_LOG("%d inputs: %d accepted, %d rejected", n, accepted, rejected);
	TH_LOG("EINVAL %d, ERANGE %d, EOVERFLOW %d, E2BIG %d, EPROTO %d, ENOENT %d, EBUSY %d",
	       by_errno[EINVAL], by_errno[ERANGE], by_errno[EOVERFLOW], by_errno[E2BIG],
	       by_errno[EPROTO], by_errno[ENOENT], by_errno[EBUSY]);
	/* the corpus holds both: valid seeds and near misses */
	EXPECT_GT(accepted, 0);
	EXPECT_GT(rejected, 0);
	for (i = 0; i < n; i++)
		free(names[i]);
}

TEST_HARNESS_MAIN
