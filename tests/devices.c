// SPDX-License-Identifier: GPL-2.0
/*
 * The emulated devices famfs-rs runs on, as scripts/vm.sh set them up:
 * every pmem namespace (legacy memmap= pmem and the two NFIT NVDIMMs) is
 * a devdax device with 2 MiB alignment bound to fsdev_dax, with the size
 * QEMU was given; the CXL type-3 memdev is visible with its capacity.
 * Sizes are checked against what scripts/vm.sh passed to QEMU (FAMFS_*
 * environment), read from sysfs, never from the setup script's notes.
 */
#include <libgen.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define SZ_2M (2ULL << 20)

struct daxdev {
	char name[32];		/* daxR.N */
	char ns[32];		/* namespaceR.N */
};

/* The pmem daxdevs the guest setup created, from /tmp/famfs-devices. */
static int list_daxdevs(struct daxdev *d, int max)
{
	char line[256], kind[16], name[32], ns[32];
	int n = 0;
	FILE *f = fopen(FAMFS_DEVICES, "r");

	if (!f)
		return -errno;
	while (n < max && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%15s %31s %*s %*s %31s", kind, name, ns) == 3 &&
		    !strcmp(kind, "pmem")) {
			snprintf(d[n].name, sizeof(d[n].name), "%s", name);
			snprintf(d[n].ns, sizeof(d[n].ns), "%s", ns);
			n++;
		}
	}
	fclose(f);
	return n;
}

/* The provider of the nvdimm bus a namespace sits on ("e820", "ACPI.NFIT"). */
static int ns_provider(const char *ns, char *out, size_t size)
{
	char path[PATH_MAX], real[PATH_MAX];
	unsigned int region, id;
	int rc;

	if (sscanf(ns, "namespace%u.%u", &region, &id) != 2)
		return -EINVAL;
	snprintf(path, sizeof(path), "/sys/bus/nd/devices/region%u", region);
	if (!realpath(path, real))
		return -errno;
	snprintf(path, sizeof(path), "%s/provider", dirname(real));
	rc = read_file(path, out, size);
	if (rc < 0)
		return rc;
	out[strcspn(out, "\n")] = 0;
	return 0;
}

TEST(pmem_devdax_bound_to_fsdev_dax)
{
	struct daxdev d[8];
	char path[PATH_MAX], link[PATH_MAX];
	unsigned long long align;
	struct stat st;
	ssize_t len;
	int i, n = list_daxdevs(d, 8);

	/* legacy pmem and the two NVDIMMs */
	ASSERT_EQ(3, n);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/sys/bus/dax/devices/%s/driver", d[i].name);
		len = readlink(path, link, sizeof(link) - 1);
		ASSERT_GT(len, 0);
		link[len] = 0;
		EXPECT_STREQ("fsdev_dax", basename(link));

		snprintf(path, sizeof(path), "/sys/bus/dax/devices/%s/align", d[i].name);
		ASSERT_EQ(0, read_u64(path, &align));
		EXPECT_EQ(SZ_2M, align);

		snprintf(path, sizeof(path), "/dev/%s", d[i].name);
		ASSERT_EQ(0, stat(path, &st));
		EXPECT_TRUE(S_ISCHR(st.st_mode));
	}
}

TEST(pmem_sizes_match_qemu)
{
	unsigned long long want_e820 = env_u64("FAMFS_PMEM0_BYTES");
	unsigned long long want_nfit[2] = { env_u64("FAMFS_NVDIMM_BYTES"),
					    env_u64("FAMFS_NVDIMM2_BYTES") };
	unsigned long long ns_size, dax_size;
	char path[PATH_MAX], provider[64];
	int seen_nfit[2] = { 0, 0 };
	struct daxdev d[8];
	int i, seen_e820 = 0, n = list_daxdevs(d, 8);

	ASSERT_NE(0ULL, want_e820);
	ASSERT_NE(0ULL, want_nfit[0]);
	ASSERT_NE(0ULL, want_nfit[1]);
	ASSERT_NE(want_nfit[0], want_nfit[1]);
	ASSERT_EQ(3, n);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, ns_provider(d[i].ns, provider, sizeof(provider)));
		snprintf(path, sizeof(path), "/sys/bus/nd/devices/%s/size", d[i].ns);
		ASSERT_EQ(0, read_u64(path, &ns_size));
		if (!strcmp(provider, "e820")) {
			EXPECT_EQ(want_e820, ns_size);
			seen_e820++;
		} else if (!strcmp(provider, "ACPI.NFIT")) {
			/* one NVDIMM of each size */
			if (ns_size == want_nfit[0])
				seen_nfit[0]++;
			else if (ns_size == want_nfit[1])
				seen_nfit[1]++;
			else
				TH_LOG("NVDIMM namespace of %llu bytes", ns_size);
		} else {
			TH_LOG("unexpected nvdimm provider %s", provider);
			EXPECT_TRUE(0);
		}
		/*
		 * devdax with map=ram: the pfn info block at the start of the
		 * namespace, padded to the 2 MiB alignment, is all it takes.
		 */
		snprintf(path, sizeof(path), "/sys/bus/dax/devices/%s/size", d[i].name);
		ASSERT_EQ(0, read_u64(path, &dax_size));
		EXPECT_EQ(ns_size - SZ_2M, dax_size);
	}
	EXPECT_EQ(1, seen_e820);
	EXPECT_EQ(1, seen_nfit[0]);
	EXPECT_EQ(1, seen_nfit[1]);
}

TEST(fsdev_dax_has_no_mmap)
{
	struct daxdev d[8];
	char path[PATH_MAX];
	void *p;
	int fd, n = list_daxdevs(d, 8);

	ASSERT_GT(n, 0);
	snprintf(path, sizeof(path), "/dev/%s", d[0].name);
	fd = open(path, O_RDWR);
	ASSERT_GE(fd, 0);
	/* fs-dax devices are reached through a filesystem, not mapped raw */
	p = mmap(NULL, SZ_2M, PROT_READ, MAP_SHARED, fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(ENODEV, errno);
	close(fd);
}

TEST(cxl_memdev_visible)
{
	unsigned long long pmem, ram, want = env_u64("FAMFS_CXL_BYTES");
	struct stat st;

	ASSERT_NE(0ULL, want);
	ASSERT_EQ(0, stat("/sys/bus/cxl/devices/mem0", &st));
	ASSERT_EQ(0, read_u64("/sys/bus/cxl/devices/mem0/pmem/size", &pmem));
	ASSERT_EQ(0, read_u64("/sys/bus/cxl/devices/mem0/ram/size", &ram));
	/* QEMU 7.2's cxl-type3 memdev= is persistent memory only */
	EXPECT_EQ(want, pmem);
	EXPECT_EQ(0ULL, ram);
	/* and the CXL nvdimm bridge that would carry a pmem region */
	EXPECT_EQ(0, stat("/sys/bus/cxl/devices/nvdimm-bridge0", &st));
}

TEST_HARNESS_MAIN
