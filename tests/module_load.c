// SPDX-License-Identifier: GPL-2.0
/*
 * famfs_rs module lifecycle: it loads, registers its KUnit suite (which
 * must pass completely), shows up in sysfs, unloads cleanly and loads
 * again. The runner has loaded it once before this test; the test leaves
 * it loaded.
 */
#include "famfs_test.h"
#include "kselftest_harness.h"

#define KUNIT_RESULTS "/sys/kernel/debug/kunit/famfs_rs/results"

/* Count the KTAP case lines of the famfs_rs suite; fail on any not-ok/SKIP. */
static int kunit_cases(int *ok, int *bad)
{
	static char buf[16384];
	char *line, *save;
	int rc = read_file(KUNIT_RESULTS, buf, sizeof(buf));

	*ok = 0;
	*bad = 0;
	if (rc < 0)
		return rc;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		while (*line == ' ' || *line == '\t')
			line++;
		if (strstr(line, "# SKIP"))
			(*bad)++;
		else if (!strncmp(line, "not ok ", 7))
			(*bad)++;
		else if (!strncmp(line, "ok ", 3))
			(*ok)++;
	}
	return 0;
}

TEST(kunit_suite_passed_at_load)
{
	int ok, bad;

	ASSERT_TRUE(module_loaded("famfs_rs"));
	ASSERT_EQ(0, kunit_cases(&ok, &bad)) TH_LOG("no %s", KUNIT_RESULTS);
	EXPECT_EQ(0, bad);
	/* the case lines plus the suite's own line */
	EXPECT_GE(ok, 2);
	TH_LOG("KUnit famfs_rs: %d ok lines, %d failed or skipped", ok, bad);
}

TEST(unload_and_reload)
{
	int ok, bad;

	ASSERT_TRUE(module_loaded("famfs_rs"));
	ASSERT_EQ(0, unload_module("famfs_rs"));
	EXPECT_FALSE(module_loaded("famfs_rs"));
	/* the KUnit debugfs entry goes away with the module */
	EXPECT_NE(0, access(KUNIT_RESULTS, F_OK));
	/* unloading twice is refused with ENOENT */
	EXPECT_EQ(-ENOENT, unload_module("famfs_rs"));

	ASSERT_EQ(0, load_module(FAMFS_MODULE_PATH));
	EXPECT_TRUE(module_loaded("famfs_rs"));
	/* loading twice is refused with EEXIST */
	EXPECT_EQ(-EEXIST, load_module(FAMFS_MODULE_PATH));
	ASSERT_EQ(0, kunit_cases(&ok, &bad));
	EXPECT_EQ(0, bad);
	EXPECT_GE(ok, 2);
}

TEST(load_unload_cycles)
{
	int i;

	for (i = 0; i < 10; i++) {
		ASSERT_EQ(0, unload_module("famfs_rs"));
		ASSERT_EQ(0, load_module(FAMFS_MODULE_PATH));
	}
	EXPECT_TRUE(module_loaded("famfs_rs"));
}

TEST_HARNESS_MAIN
