// SPDX-License-Identifier: GPL-2.0
/*
 * The emulated devices famfs-rs runs on, as scripts/vm.sh set them up:
 * every pmem namespace (legacy memmap= pmem, the two NFIT NVDIMMs and the
 * CXL pmem region's) is a devdax device with 2 MiB alignment bound to
 * fsdev_dax, with the size QEMU was given; the volatile CXL type-3
 * device's RAM region is one committed CXL region whose dax device, of
 * exactly the device's capacity, is bound to fsdev_dax. Sizes are checked
 * against what scripts/vm.sh passed to QEMU (FAMFS_* environment), read
 * from sysfs, never from the setup script's notes (which only name the
 * devices).
 */
#include <glob.h>
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

	/* legacy pmem, the two NVDIMMs and the CXL pmem region */
	ASSERT_EQ(4, n);
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
	unsigned long long want_cxl = env_u64("FAMFS_CXL_BYTES");
	int seen_nfit[2] = { 0, 0 };
	struct daxdev d[8];
	int i, seen_e820 = 0, seen_cxl = 0, n = list_daxdevs(d, 8);

	ASSERT_NE(0ULL, want_e820);
	ASSERT_NE(0ULL, want_nfit[0]);
	ASSERT_NE(0ULL, want_nfit[1]);
	ASSERT_NE(want_nfit[0], want_nfit[1]);
	ASSERT_NE(0ULL, want_cxl);
	ASSERT_EQ(4, n);
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
		} else if (!strcmp(provider, "CXL")) {
			/* the label-backed namespace fills the pmem region */
			EXPECT_EQ(want_cxl, ns_size);
			/* the name the tests' manifests use */
			EXPECT_STREQ("dax0.0", d[i].name);
			seen_cxl++;
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
	EXPECT_EQ(1, seen_cxl);
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

/* A word of a setup note: NOTE_WORD bytes, the terminating NUL included. */
#define NOTE_WORD 64

/*
 * The first "KIND w2 w3 w4 ..." line of the setup notes whose w3 is
 * word3 (any if NULL): its w2 and w4, each into NOTE_WORD bytes (names
 * only; everything checked is read from sysfs).
 */
static int setup_note(const char *kind, const char *word3, char w2[NOTE_WORD],
		      char w4[NOTE_WORD])
{
	char line[256], k[16], x[64], y[64], z[64];
	int found = -ENOENT;
	FILE *f = fopen(FAMFS_DEVICES, "r");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%15s %63s %63s %63s", k, x, y, z) != 4 || strcmp(k, kind))
			continue;
		if (word3 && strcmp(y, word3))
			continue;
		snprintf(w2, NOTE_WORD, "%s", x);
		snprintf(w4, NOTE_WORD, "%s", z);
		found = 0;
		break;
	}
	fclose(f);
	return found;
}

static int sysfs_str(const char *dir, const char *attr, char *out, size_t size)
{
	char path[PATH_MAX];
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, attr);
	rc = read_file(path, out, size);
	if (rc < 0)
		return rc;
	out[strcspn(out, "\n")] = 0;
	return 0;
}

static unsigned long long sysfs_u64(const char *dir, const char *attr)
{
	char path[PATH_MAX];
	unsigned long long v;

	snprintf(path, sizeof(path), "%s/%s", dir, attr);
	return read_u64(path, &v) ? ~0ULL : v;
}

#define CXL_DEVICES "/sys/bus/cxl/devices"

/*
 * Two CXL type-3 memdevs: the persistent one (its capacity all pmem) and
 * the volatile one (all RAM), with the serial numbers QEMU gave them
 * (scripts/vm.sh: sn=0x1, sn=0x2), and the nvdimm bridge a pmem region
 * needs.
 */
TEST(cxl_memdevs_match_qemu)
{
	unsigned long long want_pmem = env_u64("FAMFS_CXL_BYTES");
	unsigned long long want_ram = env_u64("FAMFS_CXL_RAM_BYTES");
	char dir[PATH_MAX];
	int i, seen_pmem = 0, seen_ram = 0;
	struct stat st;

	ASSERT_NE(0ULL, want_pmem);
	/* 0: the QEMU that ran has no volatile CXL (scripts/vm.sh said so) */
	ASSERT_NE(0ULL, want_ram);
	for (i = 0; i < 2; i++) {
		unsigned long long pmem, ram, serial;

		snprintf(dir, sizeof(dir), CXL_DEVICES "/mem%d", i);
		ASSERT_EQ(0, stat(dir, &st));
		pmem = sysfs_u64(dir, "pmem/size");
		ram = sysfs_u64(dir, "ram/size");
		serial = sysfs_u64(dir, "serial");
		if (pmem == want_pmem && ram == 0) {
			EXPECT_EQ(1ULL, serial);
			seen_pmem++;
		} else if (ram == want_ram && pmem == 0) {
			EXPECT_EQ(2ULL, serial);
			seen_ram++;
		} else {
			TH_LOG("mem%d: pmem %llu ram %llu bytes", i, pmem, ram);
		}
	}
	EXPECT_NE(0, stat(CXL_DEVICES "/mem2", &st));
	EXPECT_EQ(1, seen_pmem);
	EXPECT_EQ(1, seen_ram);
	EXPECT_EQ(0, stat(CXL_DEVICES "/nvdimm-bridge0", &st));
}

/* The number of paths pattern matches (0 for none). */
static int count_glob(const char *pattern)
{
	glob_t g;
	int n;

	if (glob(pattern, 0, NULL, &g))
		return 0;
	n = g.gl_pathc;
	globfree(&g);
	return n;
}

/*
 * The region of one kind that the setup notes name: committed, exactly
 * its memdev's capacity, one-way, over one endpoint decoder of that
 * memdev set to the same mode and size, bound to cxl_region. Everything
 * but the names is read from sysfs.
 */
static void check_region(struct __test_metadata *_metadata, const char *kind,
			 unsigned long long want, char region[NOTE_WORD])
{
	char r[PATH_MAX], dec[PATH_MAX], target[64], mode[16], mem[64], memdir[PATH_MAX + 32];
	char real[PATH_MAX], note_mem[NOTE_WORD];
	char *slash;
	ssize_t len;

	ASSERT_EQ(0, setup_note("cxlregion", kind, region, note_mem));
	snprintf(r, sizeof(r), CXL_DEVICES "/%s", region);
	ASSERT_EQ(0, sysfs_str(r, "mode", mode, sizeof(mode)));
	EXPECT_STREQ(kind, mode);
	EXPECT_EQ(want, sysfs_u64(r, "size"));
	EXPECT_EQ(1ULL, sysfs_u64(r, "commit"));
	EXPECT_EQ(1ULL, sysfs_u64(r, "interleave_ways"));
	ASSERT_EQ(0, sysfs_str(r, "target0", target, sizeof(target)));
	snprintf(dec, sizeof(dec), CXL_DEVICES "/%s", target);
	ASSERT_EQ(0, sysfs_str(dec, "mode", mode, sizeof(mode)));
	EXPECT_STREQ(kind, mode);
	EXPECT_EQ(want, sysfs_u64(dec, "dpa_size"));
	/* the decoder's endpoint port is the memdev of that kind */
	ASSERT_NE(NULL, realpath(dec, real));
	slash = strrchr(real, '/');
	ASSERT_NE(NULL, slash);
	*slash = 0;
	snprintf(memdir, sizeof(memdir), "%s/uport", real);
	ASSERT_NE(NULL, realpath(memdir, real));
	snprintf(mem, sizeof(mem), "%s", basename(real));
	EXPECT_STREQ(note_mem, mem);
	snprintf(memdir, sizeof(memdir), CXL_DEVICES "/%s", mem);
	EXPECT_EQ(want, sysfs_u64(memdir, strcmp(kind, "ram") ? "pmem/size" : "ram/size"));
	/* bound to cxl_region */
	snprintf(memdir, sizeof(memdir), "%s/driver", r);
	len = readlink(memdir, real, sizeof(real) - 1);
	ASSERT_GT(len, 0);
	real[len] = 0;
	EXPECT_STREQ("cxl_region", basename(real));
}

TEST(cxl_ram_region_is_one_fsdev_dax_of_qemu_size)
{
	unsigned long long want = env_u64("FAMFS_CXL_RAM_BYTES");
	char region[NOTE_WORD], dax[NOTE_WORD], drv[NOTE_WORD], path[PATH_MAX], link[PATH_MAX];
	char r[PATH_MAX];
	unsigned long long start;
	struct stat st;
	ssize_t len;

	ASSERT_NE(0ULL, want);
	check_region(_metadata, "ram", want, region);
	ASSERT_EQ(0, setup_note("cxlram", NULL, dax, drv));
	/* the name the tests' manifests use (setup-devices.sh: RAM last) */
	EXPECT_STREQ("dax4.0", dax);
	/* two regions in all, one per memdev; one dax device in this one */
	EXPECT_EQ(2, count_glob(CXL_DEVICES "/region*"));
	snprintf(path, sizeof(path), CXL_DEVICES "/%s/dax_region%s/dax*.*", region,
		 region + strlen("region"));
	EXPECT_EQ(1, count_glob(path));
	snprintf(r, sizeof(r), CXL_DEVICES "/%s", region);
	start = sysfs_u64(r, "resource");
	snprintf(path, sizeof(path), "/sys/bus/dax/devices/%s", dax);
	EXPECT_EQ(want, sysfs_u64(path, "size"));
	EXPECT_EQ(start, sysfs_u64(path, "resource"));
	EXPECT_EQ(SZ_2M, sysfs_u64(path, "align"));
	snprintf(path, sizeof(path), "/sys/bus/dax/devices/%s/driver", dax);
	len = readlink(path, link, sizeof(link) - 1);
	ASSERT_GT(len, 0);
	link[len] = 0;
	EXPECT_STREQ("fsdev_dax", basename(link));
	/* the dax device is the region's (its dax_region's child) */
	snprintf(path, sizeof(path), CXL_DEVICES "/%s/dax_region%s/%s", region,
		 region + strlen("region"), dax);
	EXPECT_EQ(0, stat(path, &st));
	/* none of it became system RAM: kmem let go of it */
	snprintf(path, sizeof(path), "/sys/bus/dax/drivers/kmem/%s", dax);
	EXPECT_NE(0, stat(path, &st));
	snprintf(path, sizeof(path), "/dev/%s", dax);
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
}

TEST(cxl_pmem_region_of_qemu_size)
{
	unsigned long long want = env_u64("FAMFS_CXL_BYTES");
	char region[NOTE_WORD];

	ASSERT_NE(0ULL, want);
	check_region(_metadata, "pmem", want, region);
	/* its namespace and devdax device: pmem_sizes_match_qemu */
}

TEST_HARNESS_MAIN
