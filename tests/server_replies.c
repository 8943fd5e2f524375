// SPDX-License-Identifier: GPL-2.0
/*
 * The test fuse server's GET_FMAP and GET_DAXDEV replies, byte by byte,
 * before any kernel asks for them: famfs_server --dump-fmap NAME,
 * --dump-fmap-sized NAME and --dump-daxdev INDEX print the exact reply
 * the server would send (the first GET_FMAP, one that carries a struct
 * fuse_get_fmap_in, and GET_DAXDEV) for tests/manifests/replies.manifest.
 * The expected bytes are built here from the structs of
 * include/uapi/linux/famfs_fmap.h, independently of the server's own
 * byte-by-byte encoder. Malformed manifests must be refused (exit 2)
 * with the file and line of the mistake.
 */
#include <endian.h>
#include <linux/famfs_fmap.h>
#include "famfs_test.h"
#include "kselftest_harness.h"

#define SZ_2M (2ULL << 20)
#define REPLY_MAX (1024 * 1024)
#define EXIT_USAGE 2
#define EXIT_DUMP_ERROR 3

static unsigned char got[REPLY_MAX + 1];
static unsigned char want[REPLY_MAX];
static char err[4096];

static const char *replies_manifest(void)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/replies.manifest", famfs_manifests());
	return path;
}

/* famfs_server OPTION ARG MANIFEST: exit status; the reply in got[0..*len) */
static int dump(const char *option, const char *arg, const char *manifest, size_t *len)
{
	const char * const args[] = { option, arg, manifest, NULL };

	return famfs_server_run(args, got, sizeof(got) - 1, len, err, sizeof(err));
}

static size_t put_header(unsigned char *p, __u32 ext_type, __u32 nextents, __u32 reserved0,
			 __u64 file_size)
{
	struct famfs_fmap_header h = {
		.file_type = FAMFS_FILE_REG,
		.fmap_version = htole16(FAMFS_FMAP_VERSION),
		.ext_type = htole32(ext_type),
		.nextents = htole32(nextents),
		.reserved0 = htole32(reserved0),
		.file_size = htole64(file_size),
	};

	memcpy(p, &h, sizeof(h));
	return sizeof(h);
}

static size_t put_ext(unsigned char *p, __u32 dev, __u64 offset, __u64 len)
{
	struct famfs_fmap_simple_ext e = {
		.devindex = htole32(dev),
		.offset = htole64(offset),
		.len = htole64(len),
	};

	memcpy(p, &e, sizeof(e));
	return sizeof(e);
}

static size_t put_iext(unsigned char *p, __u32 nstrips, __u32 chunk, __u64 nbytes)
{
	struct famfs_fmap_interleaved_ext e = {
		.nstrips = htole32(nstrips),
		.chunk_size = htole32(chunk),
		.nbytes = htole64(nbytes),
	};

	memcpy(p, &e, sizeof(e));
	return sizeof(e);
}

/* got[0..len) == want[0..n), with the first differing offset logged */
#define EXPECT_REPLY(len, n) do { \
	size_t __len = (len), __n = (n), __i; \
	EXPECT_EQ(__n, __len); \
	for (__i = 0; __i < __n && __i < __len; __i++) \
		if (got[__i] != want[__i]) \
			break; \
	EXPECT_EQ(__n, __i) TH_LOG("first difference at byte %zu", __i); \
} while (0)

TEST(simple_fmap_has_the_uapi_layout)
{
	size_t len, n = 0;

	ASSERT_EQ(0, dump("--dump-fmap", "simple", replies_manifest(), &len)) TH_LOG("%s", err);
	/* file simple 6M simple 0:2M:4M 3:0:2M */
	n += put_header(want + n, FAMFS_EXT_SIMPLE, 2, 0, 6 << 20);
	n += put_ext(want + n, 0, SZ_2M, 4 << 20);
	n += put_ext(want + n, 3, 0, SZ_2M);
	EXPECT_REPLY(len, n);
	/* an fmap this small is the same in either round */
	ASSERT_EQ(0, dump("--dump-fmap-sized", "simple", replies_manifest(), &len));
	EXPECT_REPLY(len, n);
}

TEST(interleaved_fmap_has_the_uapi_layout)
{
	size_t len, n = 0;

	ASSERT_EQ(0, dump("--dump-fmap", "striped", replies_manifest(), &len)) TH_LOG("%s", err);
	/* striped 10M interleave 2M 8M 0:0:4M 3:0:4M + interleave 4M 2M 0:4M:2M */
	n += put_header(want + n, FAMFS_EXT_INTERLEAVE, 2, 0, 10 << 20);
	n += put_iext(want + n, 2, SZ_2M, 8 << 20);
	n += put_ext(want + n, 0, 0, 4 << 20);
	n += put_ext(want + n, 3, 0, 4 << 20);
	n += put_iext(want + n, 1, 4 << 20, SZ_2M);
	n += put_ext(want + n, 0, 4 << 20, SZ_2M);
	EXPECT_REPLY(len, n);
}

TEST(fmap_that_fits_the_first_buffer_is_sent_whole)
{
	size_t len, n = 0;
	int i;

	ASSERT_EQ(0, dump("--dump-fmap", "fits", replies_manifest(), &len)) TH_LOG("%s", err);
	/* fits 338M simple 0:0:2M*169: 169 contiguous 2 MiB extents */
	n += put_header(want + n, FAMFS_EXT_SIMPLE, 169, 0, 338ULL << 20);
	for (i = 0; i < 169; i++)
		n += put_ext(want + n, 0, i * SZ_2M, SZ_2M);
	ASSERT_EQ(4088UL, n);
	ASSERT_LE(n, (size_t)FAMFS_FMAP_FIRST_SIZE);
	EXPECT_REPLY(len, n);
}

TEST(large_fmap_is_announced_then_sent_whole)
{
	size_t len, n = 0;
	int i;

	/* large 340M simple 0:0:2M*170: 4112 bytes, more than the first buffer */
	n += put_header(want + n, FAMFS_EXT_SIMPLE, 170, 0, 340ULL << 20);
	for (i = 0; i < 170; i++)
		n += put_ext(want + n, 0, i * SZ_2M, SZ_2M);
	ASSERT_EQ(4112UL, n);

	ASSERT_EQ(0, dump("--dump-fmap-sized", "large", replies_manifest(), &len))
		TH_LOG("%s", err);
	EXPECT_REPLY(len, n);

	/* first round: the header alone, reserved0 = the full size */
	put_header(want, FAMFS_EXT_SIMPLE, 170, n, 340ULL << 20);
	ASSERT_EQ(0, dump("--dump-fmap", "large", replies_manifest(), &len)) TH_LOG("%s", err);
	EXPECT_REPLY(len, sizeof(struct famfs_fmap_header));
}

TEST(file_without_extents_gets_a_header_only_fmap)
{
	size_t len, n;

	ASSERT_EQ(0, dump("--dump-fmap", "noext", replies_manifest(), &len)) TH_LOG("%s", err);
	n = put_header(want, FAMFS_EXT_SIMPLE, 0, 0, 4096);
	EXPECT_REPLY(len, n);
}

TEST(fmap_overrides)
{
	static const unsigned char inline_bytes[] = { 0, 0, 1, 0, 0, 0, 0, 0 };
	static const unsigned char bin_bytes[] = "famfs\0\1\2";
	size_t len, n;

	/* fmap-errno failing ERANGE */
	EXPECT_EQ(EXIT_DUMP_ERROR, dump("--dump-fmap", "failing", replies_manifest(), &len));
	EXPECT_EQ(0UL, len);
	EXPECT_NE(NULL, strstr(err, "error -34")) TH_LOG("stderr: %s", err);

	/* fmap-reply inline =0000 0100 0000 0000 */
	ASSERT_EQ(0, dump("--dump-fmap", "inline", replies_manifest(), &len)) TH_LOG("%s", err);
	memcpy(want, inline_bytes, sizeof(inline_bytes));
	EXPECT_REPLY(len, sizeof(inline_bytes));

	/* fmap-reply hexfile replies.hex: a header, nextents 1, 2 MiB */
	ASSERT_EQ(0, dump("--dump-fmap", "hexfile", replies_manifest(), &len)) TH_LOG("%s", err);
	n = put_header(want, FAMFS_EXT_SIMPLE, 1, 0, SZ_2M);
	EXPECT_REPLY(len, n);

	/* fmap-reply binfile @replies.bin, in every round */
	ASSERT_EQ(0, dump("--dump-fmap-sized", "binfile", replies_manifest(), &len))
		TH_LOG("%s", err);
	memcpy(want, bin_bytes, sizeof(bin_bytes) - 1);
	EXPECT_REPLY(len, sizeof(bin_bytes) - 1);
}

TEST(fmap_fields_builds_replies_field_by_field)
{
	static const unsigned char tail[] = { 0xab, 0xcd, 0xab, 0xcd, 0xab };
	struct famfs_fmap_header *h = (void *)want;
	size_t len, n;

	/* hdr:ext=1,n=0x200001,res1=0xff..ff ext:dev=24,len=4K raw:abcd*3 cut:1 */
	ASSERT_EQ(0, dump("--dump-fmap", "fields", replies_manifest(), &len)) TH_LOG("%s", err);
	n = put_header(want, FAMFS_EXT_INTERLEAVE, 0x200001, 0, SZ_2M);
	h->reserved1 = ~0ULL;
	n += put_ext(want + n, 24, 0, 4096);
	memcpy(want + n, tail, sizeof(tail));
	n += sizeof(tail);
	EXPECT_REPLY(len, n);
	/* the same in the second round */
	ASSERT_EQ(0, dump("--dump-fmap-sized", "fields", replies_manifest(), &len));
	EXPECT_REPLY(len, n);
	/* no token: an empty success reply */
	ASSERT_EQ(0, dump("--dump-fmap", "nofields", replies_manifest(), &len)) TH_LOG("%s", err);
	EXPECT_EQ(0UL, len);
}

TEST(fmap_announce_overrides)
{
	size_t len, n = 0;

	/* fmap-announce liar 8192: announces 8192, then sends the real 56 bytes */
	ASSERT_EQ(0, dump("--dump-fmap", "liar", replies_manifest(), &len)) TH_LOG("%s", err);
	n = put_header(want, FAMFS_EXT_SIMPLE, 1, 8192, SZ_2M);
	EXPECT_REPLY(len, n);
	ASSERT_EQ(0, dump("--dump-fmap-sized", "liar", replies_manifest(), &len));
	n = put_header(want, FAMFS_EXT_SIMPLE, 1, 0, SZ_2M);
	n += put_ext(want + n, 0, 0, SZ_2M);
	EXPECT_REPLY(len, n);

	/* fmap-announce repeater 5000 again: announces in both rounds */
	n = put_header(want, FAMFS_EXT_SIMPLE, 1, 5000, SZ_2M);
	ASSERT_EQ(0, dump("--dump-fmap", "repeater", replies_manifest(), &len));
	EXPECT_REPLY(len, n);
	ASSERT_EQ(0, dump("--dump-fmap-sized", "repeater", replies_manifest(), &len));
	EXPECT_REPLY(len, n);
}

static size_t put_daxdev(unsigned char *p, __u16 index, const char *name)
{
	struct famfs_daxdev_out d = { .index = htole16(index) };

	memcpy(d.name, name, strlen(name) + 1);
	memcpy(p, &d, sizeof(d));
	return sizeof(d);
}

TEST(daxdev_replies)
{
	size_t len, n;

	ASSERT_EQ(280UL, sizeof(struct famfs_daxdev_out));
	ASSERT_EQ(0, dump("--dump-daxdev", "0", replies_manifest(), &len)) TH_LOG("%s", err);
	n = put_daxdev(want, 0, "/dev/dax1.0");
	EXPECT_REPLY(len, n);
	ASSERT_EQ(0, dump("--dump-daxdev", "3", replies_manifest(), &len)) TH_LOG("%s", err);
	n = put_daxdev(want, 3, "/dev/dax2.0");
	EXPECT_REPLY(len, n);

	/* no daxdev 5 in the manifest */
	EXPECT_EQ(EXIT_DUMP_ERROR, dump("--dump-daxdev", "5", replies_manifest(), &len));
	EXPECT_NE(NULL, strstr(err, "error -2")) TH_LOG("stderr: %s", err);
	/* daxdev-errno 7 EIO */
	EXPECT_EQ(EXIT_DUMP_ERROR, dump("--dump-daxdev", "7", replies_manifest(), &len));
	EXPECT_NE(NULL, strstr(err, "error -5")) TH_LOG("stderr: %s", err);
	/* daxdev-reply 9 =0900: two bytes */
	ASSERT_EQ(0, dump("--dump-daxdev", "9", replies_manifest(), &len));
	want[0] = 9;
	want[1] = 0;
	EXPECT_REPLY(len, 2);
	/* daxdev-errno 10 0: an empty success reply, despite the path */
	ASSERT_EQ(0, dump("--dump-daxdev", "10", replies_manifest(), &len));
	EXPECT_EQ(0UL, len);
}

/* Write text as a manifest in a fresh file; its path in path. */
static int write_manifest(char *path, size_t size, const char *text)
{
	int fd;

	snprintf(path, size, "/tmp/famfs-manifest.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		close(fd);
		return -EIO;
	}
	return close(fd) ? -errno : 0;
}

TEST(numbers_take_suffixes_and_hex)
{
	char path[64];
	size_t len, n = 0;

	ASSERT_EQ(0, write_manifest(path, sizeof(path),
				    "# comment\n"
				    "  file   n   0x1234 simple 2:0x200000:2M 5:1G:4096K # c\n"
				    "file big 1T simple 23:0:0x10000000000\n"));
	EXPECT_EQ(0, dump("--dump-fmap", "n", path, &len)) TH_LOG("%s", err);
	n += put_header(want + n, FAMFS_EXT_SIMPLE, 2, 0, 0x1234);
	n += put_ext(want + n, 2, SZ_2M, SZ_2M);
	n += put_ext(want + n, 5, 1ULL << 30, 4ULL << 20);
	EXPECT_REPLY(len, n);
	EXPECT_EQ(0, dump("--dump-fmap", "big", path, &len)) TH_LOG("%s", err);
	n = put_header(want, FAMFS_EXT_SIMPLE, 1, 0, 1ULL << 40);
	n += put_ext(want + n, 23, 0, 1ULL << 40);
	EXPECT_REPLY(len, n);
	unlink(path);
}

TEST(bad_manifests_are_refused_with_their_line)
{
	static const struct {
		const char *text;
		const char *why;	/* in the error message */
	} bad[] = {
		{ "file a 2M simple 0:0:2M\nfrobnicate a\n", ":2: unknown directive" },
		{ "file a 2Q simple 0:0:2M\n", ":1: bad file size" },
		{ "file a 2M simple 0:0\n", ":1: bad extent" },
		{ "file a 2M simple 0:-1:2M\n", ":1: bad extent offset" },
		{ "file a 2M simple 0:0:2M\nfile a 4M\n", ":2: file 'a' listed twice" },
		{ "fmap-errno a EIO\nfile a 2M\n", ":1: no file 'a'" },
		{ "file a 2M\nfmap-errno a 512\n", ":2: errno '512' too large" },
		{ "file a 2M\nfmap-errno a ENOTANERRNO\n", ":2: bad errno" },
		{ "file a 2M\nfmap-reply a =123\n", ":2: bad hex" },
		{ "file a 2M\nfmap-reply a @/nonexistent/file\n", ":2: /nonexistent/file" },
		{ "file a/b 2M\n", ":1: bad file name" },
		{ "file .. 2M\n", ":1: bad file name" },
		{ "file a 8M interleave 0x100000000 8M 0:0:8M\n", ":1: chunk size" },
		{ "file a 2M interleave 2M\n", ":1: want: interleave" },
		{ "file a 4M interleave 2M 2M 0:0:2M +\n", ":1: nothing after '+'" },
		{ "file a 2M stripes 0:0:2M\n", ":1: unknown extent type" },
		{ "file a 2M simple 0:0:2M*0\n", ":1: extent count 0" },
		{ "file a 2M simple 0:0xfffffffffff00000:2M*2\n", ":1: extent run past 2^64" },
		{ "daxdev 0 /dev/dax0.0\ndaxdev 0 /dev/dax1.0\n", ":2: daxdev 0 listed twice" },
		{ "daxdev 0x100000000 /dev/dax0.0\n", ":1: daxdev index" },
		{ "daxdev 1\n", ":1: wrong number of arguments" },
		{ "file a 2M\nfmap-announce a 0x100000000\n", ":2: announced size" },
		{ "file a 2M\nfmap-announce a 8K twice\n", ":2: want: fmap-announce" },
		{ "file a 2M\nfmap-fields a hdr:type=256\n", ":2: type '256' too large" },
		{ "file a 2M\nfmap-fields a ext:len=0x1Q\n", ":2: bad len" },
		{ "file a 2M\nfmap-fields a ext:size=2M\n", ":2: fmap-fields: want KEY=VALUE" },
		{ "file a 2M\nfmap-fields a ilv:strips\n", ":2: fmap-fields: want KEY=VALUE" },
		{ "file a 2M\nfmap-fields a hdr cut:33\n",
		  ":2: cut (bytes so far) '33' too large" },
		{ "file a 2M\nfmap-fields a hdr*0\n", ":2: fmap-fields: repeat count 0" },
		{ "file a 2M\nfmap-fields a raw:123\n", ":2: fmap-fields: bad raw:HEX" },
		{ "file a 2M\nfmap-fields a strip\n", ":2: fmap-fields: unknown record" },
		{ "file a 2M\nfmap-fields a hdr\nfmap-reply a =00\n", ":3: reply given twice" },
	};
	char path[64];
	size_t len;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ASSERT_EQ(0, write_manifest(path, sizeof(path), bad[i].text));
		EXPECT_EQ(EXIT_USAGE, dump("--dump-daxdev", "0", path, &len))
			TH_LOG("accepted: %s", bad[i].text);
		EXPECT_NE(NULL, strstr(err, bad[i].why))
			TH_LOG("'%s': want '%s' in: %s", bad[i].text, bad[i].why, err);
		unlink(path);
	}

	/* a daxdev path that would not fit famfs_daxdev_out.name */
	memset(err, 'x', 300);
	memcpy(err, "daxdev 0 /", 10);
	err[300] = '\n';
	err[301] = 0;
	ASSERT_EQ(0, write_manifest(path, sizeof(path), err));
	EXPECT_EQ(EXIT_USAGE, dump("--dump-daxdev", "0", path, &len));
	EXPECT_NE(NULL, strstr(err, ":1: daxdev path longer than 255 bytes")) TH_LOG("%s", err);
	unlink(path);
}

TEST(bad_command_lines_are_refused)
{
	const char * const excl[] = {
		"--no-fmap", "--force-fmap", replies_manifest(), "/tmp", NULL
	};
	const char * const missing[] = { replies_manifest(), NULL };
	const char * const unknown[] = { "--frobnicate", replies_manifest(), "/tmp", NULL };
	const char * const nofile[] = { "--dump-fmap", "nosuchfile", replies_manifest(), NULL };
	size_t len;

	EXPECT_EQ(EXIT_USAGE, famfs_server_run(excl, got, sizeof(got), &len, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "exclude each other"));
	EXPECT_EQ(EXIT_USAGE, famfs_server_run(missing, got, sizeof(got), &len, NULL, 0));
	EXPECT_EQ(EXIT_USAGE, famfs_server_run(unknown, got, sizeof(got), &len, NULL, 0));
	EXPECT_EQ(EXIT_USAGE, famfs_server_run(nofile, got, sizeof(got), &len, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "no file 'nosuchfile'"));
}

TEST_HARNESS_MAIN
