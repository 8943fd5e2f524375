// SPDX-License-Identifier: GPL-2.0
/*
 * The catalogue of malformed GET_FMAP replies (tests/manifests/bad_fmaps.table,
 * in the guest /famfs/manifests) served to the real module: every case is
 * one file of a single mount, its reply written field by field by
 * famfs_server's fmap-fields directive. For every case:
 *
 *   - open() fails with exactly the errno of the table;
 *   - the kernel log gets exactly one famfs_rs line, naming the inode;
 *   - the file keeps the size the server gave it (no fmap was installed);
 *   - the server saw the GET_FMAP, and a retry fetches it again (nothing
 *     about a failed open is cached).
 *
 * No case the fmap core refuses makes the module ask for a daxdev, and
 * after all of them a valid file mapping the device blocks the cases
 * named opens and reads back what it wrote: no failed open left a claim
 * on a block or a device reference behind. A second test floods the log
 * to check the messages are rate-limited. scripts/vm.sh fails the run on
 * any splat in the guest log.
 */
#include <limits.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define TABLE "bad_fmaps.table"
#define MAX_CASES 256
#define LOG_BURST 100		/* famfs_rs_log_rs in rust/helpers.c */
#define LOG_INTERVAL_MS 5000
#define LOG_QUIET_MS (LOG_INTERVAL_MS + 300)

struct bad_case {
	char name[64];
	char stage[8];
	int err;
	char announce[48];	/* "" or "SIZE" or "SIZE again" */
	char *tokens;
};

static const struct {
	const char *name;
	int err;
} errnos[] = {
	{ "EINVAL", EINVAL }, { "ERANGE", ERANGE }, { "EOVERFLOW", EOVERFLOW },
	{ "E2BIG", E2BIG }, { "EPROTO", EPROTO }, { "EIO", EIO },
	{ "ENOENT", ENOENT }, { "EBUSY", EBUSY },
};

static int errno_of(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(errnos); i++)
		if (!strcmp(errnos[i].name, name))
			return errnos[i].err;
	return -1;
}

/* The table's cases; -errno if it cannot be read or a line is malformed. */
static int load_table(struct bad_case *c, int max)
{
	char path[PATH_MAX], *line = NULL, *t, *save, *rest;
	size_t cap = 0;
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", famfs_manifests(), TABLE);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0 && n < max) {
		t = strchr(line, '#');
		if (t)
			*t = 0;
		line[strcspn(line, "\n")] = 0;
		t = strtok_r(line, " \t", &save);
		if (!t)
			continue;
		memset(&c[n], 0, sizeof(c[n]));
		snprintf(c[n].name, sizeof(c[n].name), "%s", t);
		t = strtok_r(NULL, " \t", &save);
		snprintf(c[n].stage, sizeof(c[n].stage), "%s", t ? t : "");
		t = strtok_r(NULL, " \t", &save);
		c[n].err = t ? errno_of(t) : -1;
		if (c[n].err < 0 || !c[n].stage[0])
			goto bad;
		rest = save + strspn(save, " \t");
		if (!strncmp(rest, "announce", 8)) {
			t = strtok_r(NULL, " \t", &save);
			if (!strncmp(t, "announce=", 9))
				snprintf(c[n].announce, sizeof(c[n].announce), "%s", t + 9);
			else if (!strncmp(t, "announce-again=", 15))
				snprintf(c[n].announce, sizeof(c[n].announce), "%s again", t + 15);
			else
				goto bad;
			rest = save + strspn(save, " \t");
		}
		c[n].tokens = strdup(rest);
		n++;
	}
	free(line);
	fclose(f);
	return n;
bad:
	free(line);
	fclose(f);
	return -EINVAL;
}

/* Wait until the log limiter's window is over: a full burst is available. */
static void log_quiet(void)
{
	usleep(LOG_QUIET_MS * 1000);
}

FIXTURE(bad) {
	struct bad_case cases[MAX_CASES];
	int n;
	struct famfs_mount m;
	int kmsg;
};

FIXTURE_SETUP(bad)
{
	char manifest[] = "/tmp/bad_fmaps.manifest";
	FILE *f;
	int i;

	ASSERT_TRUE(module_loaded("famfs_rs"));
	self->n = load_table(self->cases, MAX_CASES);
	ASSERT_GE(self->n, 60) TH_LOG("%s: %d cases", TABLE, self->n);
	ASSERT_LE(self->n, FAMFS_SERVER_MAX_FILES - 1);

	f = fopen(manifest, "w");
	ASSERT_NE(NULL, f);
	fprintf(f, "daxdev 0 /dev/dax1.0\ndaxdev 1 /dev/dax2.0\n");
	for (i = 0; i < self->n; i++) {
		fprintf(f, "file %s 2M simple 0:0:2M\n", self->cases[i].name);
		fprintf(f, "fmap-fields %s %s\n", self->cases[i].name, self->cases[i].tokens);
		if (self->cases[i].announce[0])
			fprintf(f, "fmap-announce %s %s\n", self->cases[i].name,
				self->cases[i].announce);
	}
	/* every block any case names, mapped by one valid file */
	fprintf(f, "file control 8M simple 0:0:4M 1:0:4M\n");
	ASSERT_EQ(0, fclose(f));
	ASSERT_EQ(0, famfs_mount_start(&self->m, manifest, NULL, true, NULL));
	unlink(manifest);
	self->kmsg = famfs_kmsg_open();
	ASSERT_LE(0, self->kmsg);
}

FIXTURE_TEARDOWN(bad)
{
	int i;

	famfs_mount_stop(&self->m, NULL);
	if (self->kmsg >= 0)
		close(self->kmsg);
	for (i = 0; i < self->n; i++)
		free(self->cases[i].tokens);
}

static __u64 daxdev_requests(const struct famfs_server_stats *st)
{
	__u64 sum = famfs_load(&st->daxdev_other);
	int i;

	for (i = 0; i < FAMFS_SERVER_NR_DAXDEVS; i++)
		sum += famfs_load(&st->daxdev[i]);
	return sum;
}

/* Open case @i (an index into the manifest's files), expecting it to fail. */
static int try_case(struct __test_metadata *_metadata, struct _test_data_bad *self, int i,
		    int *logged)
{
	const struct bad_case *c = &self->cases[i];
	char path[PATH_MAX];
	struct famfs_kmsg k;
	struct stat sb;
	__u64 fetched;
	int fd, err, fails = 0;

	snprintf(path, sizeof(path), "%s/%s", self->m.mnt, c->name);
	if (stat(path, &sb)) {
		TH_LOG("%s: stat: %s", c->name, strerror(errno));
		return 1;
	}
	fetched = famfs_load(&self->m.st->fmap[i]);
	famfs_kmsg_scan(self->kmsg, 0, &k);	/* skip what came before */
	fd = open(path, O_RDWR);
	err = errno;
	famfs_kmsg_scan(self->kmsg, sb.st_ino, &k);
	*logged += k.famfs;
	if (fd >= 0) {
		TH_LOG("%s: opened, expected %s", c->name, strerror(c->err));
		close(fd);
		return 1;
	}
	if (err != c->err) {
		TH_LOG("%s: open failed with %s, expected %s", c->name, strerror(err),
		       strerror(c->err));
		fails++;
	}
	if (k.ino != 1 || k.famfs != 1) {
		TH_LOG("%s: %d famfs_rs log lines, %d about inode %llu, expected 1 (%s)",
		       c->name, k.famfs, k.ino, (unsigned long long)sb.st_ino, k.last);
		fails++;
	}
	if (famfs_load(&self->m.st->fmap[i]) <= fetched) {
		TH_LOG("%s: no GET_FMAP reached the server", c->name);
		fails++;
	}
	if (stat(path, &sb) || sb.st_size != 2 << 20) {
		TH_LOG("%s: size %lld after the failed open, expected the server's 2 MiB",
		       c->name, (long long)sb.st_size);
		fails++;
	}
	return fails;
}

TEST_F_TIMEOUT(bad, every_case_fails_the_open_cleanly, 300)
{
	int i, pass, fails = 0, logged = LOG_BURST, tried = 0, by_stage[3] = { 0 };
	const char *stages[3] = { "fmap", "wire", "dev" };
	unsigned char buf[4096], back[4096];
	char path[PATH_MAX];
	int fd;

	/*
	 * fmap and wire cases first: none of them may get as far as asking
	 * for a daxdev. Each case twice, the retry must fail the same way.
	 */
	for (pass = 0; pass < 3; pass++) {
		if (pass == 2)
			ASSERT_EQ(0ULL, daxdev_requests(self->m.st))
				TH_LOG("a rejected fmap made the module ask for a daxdev");
		for (i = 0; i < self->n; i++) {
			if (strcmp(self->cases[i].stage, stages[pass]))
				continue;
			/* keep every line inside one limiter window's burst */
			if (logged + 2 > LOG_BURST - 10) {
				log_quiet();
				logged = 0;
			}
			fails += try_case(_metadata, self, i, &logged);
			fails += try_case(_metadata, self, i, &logged);
			by_stage[pass]++;
			tried++;
		}
	}
	EXPECT_EQ(0, fails);
	EXPECT_EQ(self->n, tried) TH_LOG("a case of an unknown stage");
	TH_LOG("%d cases (%d fmap, %d wire, %d dev), each opened twice", tried,
	       by_stage[0], by_stage[1], by_stage[2]);

	/* nothing claimed: a valid file over the same blocks maps them */
	snprintf(path, sizeof(path), "%s/control", self->m.mnt);
	fd = open(path, O_RDWR);
	ASSERT_LE(0, fd) TH_LOG("control: %s", strerror(errno));
	for (i = 0; i < (int)sizeof(buf); i++)
		buf[i] = i * 7 + 1;
	ASSERT_EQ((ssize_t)sizeof(buf), pwrite(fd, buf, sizeof(buf), 6 << 20));
	ASSERT_EQ((ssize_t)sizeof(back), pread(fd, back, sizeof(back), 6 << 20));
	EXPECT_EQ(0, memcmp(buf, back, sizeof(buf)));
	EXPECT_EQ(0, close(fd));
}

TEST_F_TIMEOUT(bad, log_lines_are_rate_limited, 120)
{
	int i, fd, tries = 3 * LOG_BURST / 2;
	long long start, ms;
	struct famfs_kmsg k;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", self->m.mnt, self->cases[0].name);
	log_quiet();
	famfs_kmsg_scan(self->kmsg, 0, &k);
	start = famfs_now_ms();
	for (i = 0; i < tries; i++) {
		fd = open(path, O_RDONLY);
		ASSERT_EQ(-1, fd);
		ASSERT_EQ(self->cases[0].err, errno);
	}
	ms = famfs_now_ms() - start;
	famfs_kmsg_scan(self->kmsg, 0, &k);
	TH_LOG("%d failed opens in %lld ms logged %d lines", tries, ms, k.famfs);
	/* one window's burst, or one per window the flood spanned */
	EXPECT_LE(k.famfs, LOG_BURST * (1 + ms / LOG_INTERVAL_MS));
	if (ms >= LOG_INTERVAL_MS - 500)
		return;	/* too slow a machine for the exact figures below */
	EXPECT_EQ(LOG_BURST, k.famfs);

	/* the next window reports what was dropped, then logs again */
	log_quiet();
	ASSERT_EQ(-1, open(path, O_RDONLY));
	famfs_kmsg_scan(self->kmsg, 0, &k);
	EXPECT_EQ(1, k.famfs);
	EXPECT_EQ(1, k.suppressed);
}

TEST_HARNESS_MAIN
