// SPDX-License-Identifier: GPL-2.0
/*
 * famfs_server - the famfs-rs test fuse server
 *
 *   famfs_server [options] MANIFEST MOUNTPOINT
 *   famfs_server --dump-fmap NAME | --dump-fmap-sized NAME |
 *                --dump-daxdev INDEX  MANIFEST
 *
 * Speaks the fuse protocol on /dev/fuse directly (include/uapi/linux/fuse.h
 * of the kernel it was built against; no libfuse), one request at a time,
 * no threads. The namespace is one root directory holding the regular
 * files (0644) that MANIFEST lists; it never changes. For each file the
 * server answers famfs's FUSE_GET_FMAP with the fmap built from MANIFEST
 * exactly as include/uapi/linux/famfs_fmap.h describes it (little-endian,
 * written byte by byte), and FUSE_GET_DAXDEV with the daxdev paths MANIFEST
 * names. MANIFEST may override any of those replies with raw bytes or an
 * errno, or leave them unanswered, for tests of a hostile server. See
 * Documentation/build-and-test.rst
 * ("The test fuse server") for the manifest format and the options.
 *
 * Replies, by request:
 *   INIT, LOOKUP, GETATTR, OPEN, OPENDIR, READDIR, STATFS, ACCESS: served;
 *   FLUSH, RELEASE, RELEASEDIR: 0; FORGET, BATCH_FORGET, NOTIFY_REPLY:
 *   no reply; DESTROY: 0, then the server exits;
 *   GET_FMAP (54): every request must carry a struct fuse_get_fmap_in
 *   (size >= 32, flags 0; otherwise -EINVAL); the fmap if it fits size,
 *   else its announcement; GET_DAXDEV (55): every request must carry a
 *   struct fuse_get_daxdev_in whose index is the nodeid (otherwise
 *   -EINVAL); from the manifest;
 *   SETATTR, MKNOD: -EROFS unless the manifest says otherwise ("setattr
 *   ok", "mknod NAME reply=..."); GETLK, SETLK, SETLKW ("locks"), IOCTL
 *   ("ioctl ERRNO"), POLL ("poll MASK"): as the manifest says, else "not
 *   implemented";
 *   MKDIR, SYMLINK, LINK, UNLINK, RMDIR, RENAME, RENAME2,
 *   CREATE, TMPFILE, SETXATTR, REMOVEXATTR: -EROFS (the namespace is
 *   read-only; EROFS rather than "not implemented", because the kernel
 *   would fall back from some of those, e.g. CREATE to MKNOD + OPEN);
 *   READ, WRITE: -EIO (file data lives on the DAX devices, never in the
 *   server: a READ means the kernel is not mapping the file through DAX),
 *   except READ with "read-data";
 *   everything else, READDIRPLUS included (never advertised, so the
 *   kernel does not send it): "not implemented" (see FUSE_NOT_IMPLEMENTED).
 *
 * The server mounts MOUNTPOINT itself (mount(2) of type "fuse" with
 * fd=N,rootmode=40000,user_id=UID,group_id=GID,allow_other,
 * default_permissions), answers INIT, then forks into the background (the
 * parent exits 0) unless -f is given. It serves until the connection goes
 * away (read() fails with ENODEV: the file system was unmounted), DESTROY,
 * or SIGTERM/SIGINT/SIGHUP (which unmount lazily), and then exits 0.
 * Exit status 1: a runtime failure; 2: bad usage or manifest; 3: a dump
 * whose reply is an error.
 *
 * "subdir NAME" (before the files) adds one directory to the root, and
 * files listed as NAME/CHILD are in it (looked up there; it lists
 * nothing).
 *
 * Hostile behaviours for tests of the kernel: manifest directives (attr,
 * lookup-stall, setattr ok, mknod, locks, lock-conflict, atomic-o-trunc, ioctl,
 * poll, open-flags, fmap-stall, ...), and with --control PATH a unix socket polled together
 * with /dev/fuse that takes one command per line (notify-store,
 * notify-retrieve, notify-inval-inode, notify-inval-entry, notify-delete,
 * notify-prune, set-attr, regen, release-stall, release-race, lock-conflict, setattr,
 * fmap-crc, ping; rescan and create with --shared) and answers one line:
 * "ok [N]", "err -ERRNO" (the errno of the notification's write() to
 * /dev/fuse) or "bad MESSAGE". Requests left unanswered (stalls) do not
 * stop the server from reading on.
 *
 * --shared master|client: the namespace lives in shared memory, as
 * famfs's does (famfs_log.h, Documentation/multihost.rst): the files
 * .famfs_sb and .famfs_log map the start of daxdev 0; after INIT a child
 * process reads the log through the mount and the server adds the files
 * it names. The master first creates the log if there is none and appends
 * the manifest's files the log does not have; "create FILE-LINE" appends
 * one more. A client's manifest lists daxdevs only; "rescan" reads the
 * log again and answers "ok ADDED TOTAL" (or "err -ENODATA": no log yet,
 * -EUCLEAN: a corrupt log, -EINVAL: a bad line, -ENOSPC: the log is full).
 */
#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <linux/capability.h>
#include <linux/fuse.h>
#include <linux/famfs_fmap.h>
#include "famfs_server.h"
#include "famfs_log.h"

/*
 * famfs's protocol additions, defined here as long as the kernel's fuse.h
 * does not have them (Linux 7.3 does not). If the header turns them into
 * enum members, these macros shadow them with the same values, which the
 * static_asserts below pin down.
 */
#ifndef FUSE_GET_FMAP
#define FUSE_GET_FMAP		54
#endif
#ifndef FUSE_GET_DAXDEV
#define FUSE_GET_DAXDEV		55
#endif
#ifndef FUSE_DAX_FMAP
#define FUSE_DAX_FMAP		BIT_ULL(44)
#endif

static_assert(FUSE_GET_FMAP == FAMFS_OP_GET_FMAP, "GET_FMAP opcode");
static_assert(FUSE_GET_DAXDEV == FAMFS_OP_GET_DAXDEV, "GET_DAXDEV opcode");
static_assert(FUSE_DAX_FMAP == FAMFS_INIT_DAX_FMAP, "FUSE_DAX_FMAP bit");

/*
 * In the fuse protocol, -ENOSYS is how a server says "this request is not
 * implemented"; the kernel then stops sending it or falls back. checkpatch
 * warns about ENOSYS here (its rule: the errno means a bad syscall number
 * and nothing else); the fuse protocol leaves no choice, so
 * scripts/check.sh runs checkpatch on tests/server/ with --ignore ENOSYS.
 */
#define FUSE_NOT_IMPLEMENTED	(-ENOSYS)

/* Sizes of the fmap wire format, written byte by byte below. */
#define FMAP_HDR_SIZE		32
#define FMAP_EXT_SIZE		24	/* simple and interleaved extents alike */
#define DAXDEV_OUT_SIZE		280

static_assert(sizeof(struct famfs_fmap_header) == FMAP_HDR_SIZE, "header");
static_assert(sizeof(struct famfs_fmap_simple_ext) == FMAP_EXT_SIZE, "ext");
static_assert(sizeof(struct famfs_fmap_interleaved_ext) == FMAP_EXT_SIZE, "iext");
static_assert(sizeof(struct famfs_daxdev_out) == DAXDEV_OUT_SIZE, "daxdev_out");
static_assert(sizeof(struct fuse_get_fmap_in) == 8, "get_fmap_in");
static_assert(sizeof(struct fuse_get_daxdev_in) == 8, "get_daxdev_in");

#define FIRST_FILE_ID		2	/* nodeid of the manifest's first file */
#define SUBDIR_ID		0x10000000000ULL	/* nodeid of the "subdir" directory: 2^40 */
#define MAX_WRITE		(128 * 1024)
/* >= FUSE_MIN_READ_BUFFER and the largest WRITE the kernel may send */
#define BUF_SIZE		(MAX_WRITE + 4096)
#define ENTRY_TIMEOUT		3600	/* seconds: the namespace never changes */
#define BLKSIZE			4096
#define NAME_MAX_LEN		255
/* Cap on one built fmap (the kernel's own cap is FAMFS_FMAP_MAX_SIZE) */
#define MAX_FMAP_BYTES		(256UL << 20)

#define BLANKS			" \t\r\n"
#define CTL_MAX_CLIENTS_	8	/* the control channel's clients at once */
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2, EXIT_DUMP_ERROR = 3 };

struct bytes {
	unsigned char *data;
	size_t len;
};

/* A reply override from the manifest: raw bytes or an errno. */
struct override {
	bool has_reply;
	struct bytes reply;
	bool has_errno;
	int err;		/* positive: the reply is -err; 0: empty reply */
	bool stall;		/* never answer (the kernel waits) */
	bool stall_sized;	/* never answer a request of size > FIRST_SIZE */
};

struct extent {
	__u32 dev;
	__u64 offset;
	__u64 len;
};

/* One interleaved extent and its strips. */
struct group {
	__u64 chunk;
	__u64 nbytes;
	unsigned int nstrips;
	struct extent *strips;
};

struct famfs_file {
	char *name;
	__u64 size;
	__u32 ext_type;			/* enum famfs_ext_type */
	unsigned int nextents;		/* simple extents or groups */
	unsigned int cap;
	struct extent *ext;		/* FAMFS_EXT_SIMPLE */
	struct group *groups;		/* FAMFS_EXT_INTERLEAVE */
	size_t fmap_len;		/* bytes of the fmap, while parsing */
	struct bytes fmap;		/* the fmap built from the above */
	struct override ovr;
	bool has_announce;
	bool announce_again;		/* announce in the second round too */
	__u32 announce;

	/* attribute overrides ("attr" directive, "set-attr" command) */
	bool has_size;
	__u64 attr_size;		/* attr.size in every reply */
	bool has_ino;
	__u64 attr_ino;
	bool has_mode;
	__u32 attr_mode;
	__u64 generation;		/* LOOKUP/MKNOD generation, 1 by default */
	__u64 valid;			/* entry and attr timeout, seconds */
	bool hidden;			/* "mknod NAME reply=new": absent until MKNOD */

	/* --shared: the file's manifest line, as the shared log keeps it */
	char *src;
	bool logged;			/* in the shared log */
	bool meta;			/* the log's own files (.famfs_sb, .famfs_log) */
};

/* "mknod NAME reply=...": what a MKNOD of NAME answers. */
enum mknod_kind { MKNOD_EXISTING, MKNOD_NEW, MKNOD_ERRNO };

struct mknod_rule {
	char *name;
	enum mknod_kind kind;
	unsigned int target;		/* file index (EXISTING, NEW) */
	int err;			/* MKNOD_ERRNO */
	bool created;			/* answered with an entry: LOOKUP finds it */
};

struct daxdev {
	__u64 index;
	char *path;			/* NULL: only overrides were given */
	struct override ovr;
	char *race_path;		/* daxdev-race: the second request's path */
	__u64 race_unique;		/* the first request, held */
	bool race_held;
	bool race_done;
	bool race_hold;			/* "hold": keep the second until release-race */
	bool race_second_held;
	__u64 race_second;		/* the second request, held */
};

/* A reply as the fmap and daxdev logic computes it. */
struct reply {
	int err;			/* negative errno, or 0 */
	const unsigned char *data;
	size_t len;
	unsigned char buf[DAXDEV_OUT_SIZE];	/* >= FMAP_HDR_SIZE */
};

struct server {
	/* options */
	bool foreground;
	bool no_fmap;
	bool force_fmap;
	bool verbose;
	bool lax_fmap_in;		/* --lax-fmap-in: no input = size 4096 */
	const char *chroot_dir;		/* --chroot: serve from there */
	bool sync_init;			/* --sync-init: FUSE_DEV_IOC_SYNC_INIT */
	pid_t mounter;			/* with it: the child whose mount(2) waits */
	char *subdir;			/* "subdir NAME": a directory in the root */
	long drop_uid;			/* --drop-uid: serve as this uid (-1: no) */
	bool keep_rawio;		/* --keep-rawio: and keep CAP_SYS_RAWIO */
	const char *stats_path;
	const char *extra_opts;
	const char *manifest;
	char *manifest_dir;
	char *mnt;

	/* the namespace */
	struct famfs_file *files;
	unsigned int nfiles;
	unsigned int files_cap;
	struct daxdev *devs;
	unsigned int ndevs;
	unsigned int devs_cap;

	/* behaviours the manifest or the control channel switch on */
	bool setattr_ok;		/* answer SETATTR with the attributes */
	bool locks;			/* negotiate and answer POSIX and flock locks */
	bool atomic_o_trunc;		/* negotiate FUSE_ATOMIC_O_TRUNC */
	bool lock_conflict;		/* GETLK: a conflict; SETLK(W): -EAGAIN */
	bool has_ioctl;
	int ioctl_err;			/* IOCTL reply: -ioctl_err, 0: result 0 */
	__u32 open_flags;		/* open_flags of OPEN replies for files */
	bool has_poll;
	__u32 poll_mask;		/* POLL reply revents */
	struct mknod_rule *mknods;
	unsigned int nmknods;
	unsigned int mknods_cap;
	char **lookup_stalls;		/* names whose LOOKUP is never answered */
	unsigned int nlookup_stalls;
	unsigned int lookup_stalls_cap;
	__u64 *stalled;			/* uniques of requests left unanswered */
	unsigned int nstalled;
	unsigned int stalled_cap;
	bool stalls_released;		/* release-stall: stall nothing more */
	bool read_stall;		/* read-stall: never answer READ */
	bool read_data;			/* read-data: answer READ with bytes */

	/* the control channel (--control PATH) */
	const char *control_path;
	int ctl_fd;			/* listening unix socket, or -1 */

	/* --shared master|client: the namespace log in shared memory */
	enum { SHARED_NONE, SHARED_MASTER, SHARED_CLIENT } shared;
	pid_t log_pid;			/* the log child, or 0 */
	int log_fd;			/* its output (a pipe), or -1 */
	char *log_out;			/* what it wrote so far */
	size_t log_len;
	size_t log_cap;
	bool log_started;		/* the first sync after INIT was started */
	bool log_again;			/* a request came while one ran: run again */
	char **creates;			/* "create" lines for the next log child */
	unsigned int ncreates;
	unsigned int creates_cap;
	unsigned int log_creates;	/* of them, handed to the running child */
	/* control clients waiting for it: slot << 32 | that client's generation */
	__u64 log_waiters[CTL_MAX_CLIENTS_];
	unsigned int nlog_waiters;
	__u64 log_wait_next[CTL_MAX_CLIENTS_];	/* those that came while it ran */
	unsigned int nlog_wait_next;
	unsigned long long log_syncs;	/* log children that succeeded */
	bool have_log_uuid;		/* the namespace's uuid, from the first */
	__u8 log_uuid[16];

	/* the connection */
	int fd;
	bool mounted;
	bool initialized;
	bool daemonized;
	bool finished;			/* DESTROY answered or connection gone */
	unsigned char *buf;		/* one request */
	unsigned char *out;		/* READDIR replies */
	struct timespec start;
	uid_t uid;
	gid_t gid;
	sigset_t waitmask;		/* signal mask while waiting in ppoll */
	struct famfs_server_stats *st;
	struct famfs_server_stats local_stats;	/* without --stats */
};

static int stop_signo;		/* set by the signal handler (__atomic) */

/* ---------------------------------------------------------------------- */
/* small helpers */

/*
 * Messages go through fprintf() in macros, so that the compiler checks
 * every format string against its arguments.
 */
#define warn_msg(fmt, ...) \
	fprintf(stderr, "famfs_server: " fmt "\n", ##__VA_ARGS__)

#define die(fmt, ...) \
	do { \
		warn_msg(fmt, ##__VA_ARGS__); \
		exit(EXIT_RUNTIME); \
	} while (0)

static void *xrealloc(void *p, size_t n, size_t size)
{
	size_t bytes;

	if (size && n > SIZE_MAX / size)
		die("out of memory");
	bytes = n * size;
	p = realloc(p, bytes ? bytes : 1);
	if (!p)
		die("out of memory");
	return p;
}

static void *xzalloc(size_t size)
{
	void *p = calloc(1, size ? size : 1);

	if (!p)
		die("out of memory");
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		die("out of memory");
	return p;
}

/* Make room for element n of an array of *cap elements. */
static void *grow(void *p, unsigned int n, unsigned int *cap, size_t size)
{
	if (n < *cap)
		return p;
	*cap = *cap ? *cap * 2 : 8;
	return xrealloc(p, *cap, size);
}

static unsigned char *put_le16(unsigned char *p, __u16 v)
{
	p[0] = v;
	p[1] = v >> 8;
	return p + 2;
}

static unsigned char *put_le32(unsigned char *p, __u32 v)
{
	int i;

	for (i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
	return p + 4;
}

static unsigned char *put_le64(unsigned char *p, __u64 v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
	return p + 8;
}

static __u64 div_round_up(__u64 n, __u64 d)
{
	return n / d + (n % d != 0);
}

/* ---------------------------------------------------------------------- */
/* the manifest */

struct parser {
	const char *path;
	unsigned int line;
};

static void manifest_where(const struct parser *p)
{
	fprintf(stderr, "famfs_server: %s:%u: ", p->path, p->line);
}

#define bad_manifest(p, fmt, ...) \
	do { \
		manifest_where(p); \
		fprintf(stderr, fmt "\n", ##__VA_ARGS__); \
		exit(EXIT_USAGE); \
	} while (0)

/*
 * A number: decimal or 0x hex, with an optional K, M, G or T suffix
 * (powers of 1024). No sign, no octal.
 */
static int parse_u64(const char *s, __u64 *out)
{
	unsigned long long v, mult = 1;
	char *end;
	int base = 10;

	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		if (!isxdigit((unsigned char)s[2]))
			return -EINVAL;
		base = 16;
	}
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno)
		return -errno;
	switch (*end) {
	case 'k':
	case 'K':
		mult = 1ULL << 10;
		break;
	case 'm':
	case 'M':
		mult = 1ULL << 20;
		break;
	case 'g':
	case 'G':
		mult = 1ULL << 30;
		break;
	case 't':
	case 'T':
		mult = 1ULL << 40;
		break;
	case '\0':
		break;
	default:
		return -EINVAL;
	}
	if (*end && end[1])
		return -EINVAL;
	if (v > ULLONG_MAX / mult)
		return -ERANGE;
	*out = v * mult;
	return 0;
}

static __u64 need_u64(const struct parser *p, const char *s, const char *what, __u64 max)
{
	__u64 v = 0;

	if (parse_u64(s, &v))
		bad_manifest(p, "bad %s '%s'", what, s);
	if (v > max)
		bad_manifest(p, "%s '%s' too large (max %llu)", what, s,
			     (unsigned long long)max);
	return v;
}

static const struct {
	const char *name;
	int err;
} errno_names[] = {
	{ "EPERM", EPERM }, { "ENOENT", ENOENT }, { "EIO", EIO },
	{ "ENXIO", ENXIO }, { "E2BIG", E2BIG }, { "EBADF", EBADF },
	{ "EAGAIN", EAGAIN }, { "ENOMEM", ENOMEM }, { "EACCES", EACCES },
	{ "EFAULT", EFAULT }, { "EBUSY", EBUSY }, { "EEXIST", EEXIST },
	{ "ENODEV", ENODEV }, { "ENOTDIR", ENOTDIR }, { "EISDIR", EISDIR },
	{ "EINVAL", EINVAL }, { "ENOSPC", ENOSPC }, { "EROFS", EROFS },
	{ "ERANGE", ERANGE }, { "ENAMETOOLONG", ENAMETOOLONG },
	{ "EPROTO", EPROTO }, { "EOVERFLOW", EOVERFLOW },
	{ "EOPNOTSUPP", EOPNOTSUPP }, { "ETIMEDOUT", ETIMEDOUT },
	{ "EHWPOISON", EHWPOISON }, { "ENOTTY", ENOTTY }, { "ENOLCK", ENOLCK },
	{ "EDEADLK", EDEADLK }, { "EINTR", EINTR }, { "ENOTEMPTY", ENOTEMPTY },
	{ "EMLINK", EMLINK }, { "EXDEV", EXDEV }, { "ESTALE", ESTALE },
};

/* An errno: a number 0..511 (what fuse accepts in a reply) or a name. */
static int parse_errno(const struct parser *p, const char *s)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(errno_names); i++)
		if (!strcmp(s, errno_names[i].name))
			return errno_names[i].err;
	return need_u64(p, s, "errno", 511);
}

/* DEV:OFFSET:LEN, or DEV:OFFSET:LEN*COUNT for COUNT contiguous extents. */
static __u64 parse_extent(const struct parser *p, char *s, struct extent *e)
{
	char *off, *len, *count;
	__u64 n = 1;

	off = strchr(s, ':');
	len = off ? strchr(off + 1, ':') : NULL;
	if (!len)
		bad_manifest(p, "bad extent '%s' (want DEV:OFFSET:LEN)", s);
	*off++ = 0;
	*len++ = 0;
	count = strchr(len, '*');
	if (count) {
		*count++ = 0;
		n = need_u64(p, count, "extent count", MAX_FMAP_BYTES / FMAP_EXT_SIZE);
		if (!n)
			bad_manifest(p, "extent count 0");
	}
	e->dev = need_u64(p, s, "daxdev index", UINT32_MAX);
	e->offset = need_u64(p, off, "extent offset", ULLONG_MAX);
	e->len = need_u64(p, len, "extent length", ULLONG_MAX);
	if (n > 1 && (e->len > ULLONG_MAX / n || e->offset > ULLONG_MAX - e->len * n))
		bad_manifest(p, "extent run past 2^64");
	return n;
}

static void account_fmap(const struct parser *p, struct famfs_file *f, __u64 n)
{
	if (n > (MAX_FMAP_BYTES - f->fmap_len) / FMAP_EXT_SIZE)
		bad_manifest(p, "fmap of '%s' larger than %lu bytes", f->name, MAX_FMAP_BYTES);
	f->fmap_len += n * FMAP_EXT_SIZE;
}

static struct famfs_file *find_file(struct server *s, const char *name)
{
	unsigned int i;

	for (i = 0; i < s->nfiles; i++)
		if (!strcmp(s->files[i].name, name))
			return &s->files[i];
	return NULL;
}

static struct daxdev *find_daxdev(struct server *s, __u64 index)
{
	unsigned int i;

	for (i = 0; i < s->ndevs; i++)
		if (s->devs[i].index == index)
			return &s->devs[i];
	return NULL;
}

static struct daxdev *get_daxdev(struct server *s, __u64 index)
{
	struct daxdev *d = find_daxdev(s, index);

	if (d)
		return d;
	s->devs = grow(s->devs, s->ndevs, &s->devs_cap, sizeof(*s->devs));
	d = &s->devs[s->ndevs++];
	memset(d, 0, sizeof(*d));
	d->index = index;
	return d;
}

static void parse_file(const struct parser *p, struct server *s, char **tok, int ntok)
{
	struct famfs_file *f;
	struct extent e;
	struct group *g;
	const char *name = tok[1];
	int i;

	if (ntok < 3)
		bad_manifest(p, "want: file NAME SIZE [simple|interleave ...]");
	/* "SUBDIR/NAME": a file in the subdir directory */
	if (s->subdir && !strncmp(name, s->subdir, strlen(s->subdir)) &&
	    name[strlen(s->subdir)] == '/')
		name += strlen(s->subdir) + 1;
	if (!strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '/'))
		bad_manifest(p, "bad file name '%s'", tok[1]);
	name = tok[1];
	if (strlen(name) > NAME_MAX_LEN)
		bad_manifest(p, "file name longer than %d bytes", NAME_MAX_LEN);
	if (find_file(s, name))
		bad_manifest(p, "file '%s' listed twice", name);

	s->files = grow(s->files, s->nfiles, &s->files_cap, sizeof(*s->files));
	f = &s->files[s->nfiles++];
	memset(f, 0, sizeof(*f));
	f->name = xstrdup(name);
	f->size = need_u64(p, tok[2], "file size", ULLONG_MAX);
	f->generation = 1;
	f->valid = ENTRY_TIMEOUT;
	/* the line as the shared log keeps it: its words, one blank apart */
	for (i = 0, f->src = xzalloc(1); i < ntok; i++) {
		size_t n = strlen(f->src);

		f->src = xrealloc(f->src, n + strlen(tok[i]) + 2, 1);
		sprintf(f->src + n, "%s%s", i ? " " : "", tok[i]);
	}
	f->fmap_len = FMAP_HDR_SIZE;
	f->ext_type = FAMFS_EXT_SIMPLE;
	if (ntok == 3)
		return;		/* no extents: an invalid fmap, on purpose */

	if (!strcmp(tok[3], "simple")) {
		for (i = 4; i < ntok; i++) {
			__u64 n = parse_extent(p, tok[i], &e);

			account_fmap(p, f, n);
			if (f->nextents + n > UINT32_MAX)
				bad_manifest(p, "too many extents");
			while (n--) {
				f->ext = grow(f->ext, f->nextents, &f->cap, sizeof(*f->ext));
				f->ext[f->nextents++] = e;
				e.offset += e.len;
			}
		}
		return;
	}
	if (strcmp(tok[3], "interleave"))
		bad_manifest(p, "unknown extent type '%s'", tok[3]);

	f->ext_type = FAMFS_EXT_INTERLEAVE;
	i = 4;
	while (i < ntok) {
		unsigned int cap = 0;

		if (i + 2 > ntok)
			bad_manifest(p, "want: interleave CHUNK NBYTES DEV:OFFSET:LEN...");
		f->groups = grow(f->groups, f->nextents, &f->cap, sizeof(*f->groups));
		g = &f->groups[f->nextents++];
		memset(g, 0, sizeof(*g));
		g->chunk = need_u64(p, tok[i], "chunk size", UINT32_MAX);
		g->nbytes = need_u64(p, tok[i + 1], "nbytes", ULLONG_MAX);
		account_fmap(p, f, 1);
		for (i += 2; i < ntok && strcmp(tok[i], "+"); i++) {
			__u64 n = parse_extent(p, tok[i], &e);

			account_fmap(p, f, n);
			while (n--) {
				g->strips = grow(g->strips, g->nstrips, &cap, sizeof(*g->strips));
				g->strips[g->nstrips++] = e;
				e.offset += e.len;
			}
		}
		if (i < ntok) {
			/* "+", optionally followed by the word "interleave" */
			i++;
			if (i < ntok && !strcmp(tok[i], "interleave"))
				i++;
			if (i >= ntok)
				bad_manifest(p, "nothing after '+'");
		}
	}
	if (!f->nextents)
		bad_manifest(p, "interleave without a group");
}

static char *resolve_path(const struct server *s, const char *path)
{
	char *out;
	size_t n;

	if (path[0] == '/')
		return xstrdup(path);
	n = strlen(s->manifest_dir) + strlen(path) + 2;
	out = xzalloc(n);
	snprintf(out, n, "%s/%s", s->manifest_dir, path);
	return out;
}

static int read_all(const char *path, struct bytes *b)
{
	struct stat sb;
	size_t done = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb)) {
		n = -errno;
		close(fd);
		return n;
	}
	b->len = sb.st_size;
	b->data = xzalloc(b->len);
	while (done < b->len) {
		n = read(fd, b->data + done, b->len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += n;
	}
	close(fd);
	b->len = done;
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Hex digits in pairs; blanks and '#' comments (to the end of the line) skipped. */
static int decode_hex(const char *s, size_t n, struct bytes *b)
{
	size_t i;
	int hi = -1, v;

	b->data = xzalloc(n / 2 + 1);
	b->len = 0;
	for (i = 0; i < n; i++) {
		if (s[i] == '#') {
			while (i < n && s[i] != '\n')
				i++;
			continue;
		}
		if (isspace((unsigned char)s[i]))
			continue;
		v = hexval((unsigned char)s[i]);
		if (v < 0)
			return -EINVAL;
		if (hi < 0) {
			hi = v;
		} else {
			b->data[b->len++] = hi << 4 | v;
			hi = -1;
		}
	}
	return hi < 0 ? 0 : -EINVAL;
}

/* @BINFILE: raw bytes; =HEX: inline hex; anything else: a file of hex text. */
static void load_bytes(const struct parser *p, struct server *s, const char *spec,
		       struct bytes *b)
{
	struct bytes text;
	char *path;
	int rc;

	if (spec[0] == '=') {
		if (decode_hex(spec + 1, strlen(spec + 1), b))
			bad_manifest(p, "bad hex '%s'", spec + 1);
		return;
	}
	path = resolve_path(s, spec[0] == '@' ? spec + 1 : spec);
	if (spec[0] == '@') {
		rc = read_all(path, b);
		if (rc)
			bad_manifest(p, "%s: %s", path, strerror(-rc));
	} else {
		rc = read_all(path, &text);
		if (rc)
			bad_manifest(p, "%s: %s", path, strerror(-rc));
		if (decode_hex((const char *)text.data, text.len, b))
			bad_manifest(p, "%s: bad hex", path);
		free(text.data);
	}
	free(path);
}

/*
 * fmap-fields: an fmap written field by field, for replies no valid
 * manifest file produces. Each token is a record with every field at its
 * default unless KEY=VALUE overrides it, raw bytes, or a cut:
 *   hdr[:K=V,...]   struct famfs_fmap_header
 *   ext[:K=V,...]   struct famfs_fmap_simple_ext (an extent or a strip)
 *   ilv[:K=V,...]   struct famfs_fmap_interleaved_ext
 *   raw:HEX         these bytes
 *   cut:N           drop the last N bytes written so far
 * and any record or raw token may end in *COUNT to be written COUNT times.
 */
struct field {
	const char *key;
	unsigned int width;	/* bytes on the wire */
	__u64 def;
};

#define MIB_2 (2ULL << 20)

static const struct field hdr_fields[] = {
	{ "type", 1, FAMFS_FILE_REG }, { "res", 1, 0 },
	{ "ver", 2, FAMFS_FMAP_VERSION }, { "ext", 4, FAMFS_EXT_SIMPLE },
	{ "n", 4, 1 }, { "res0", 4, 0 }, { "size", 8, MIB_2 }, { "res1", 8, 0 },
	{ NULL },
};

static const struct field ext_fields[] = {
	{ "dev", 4, 0 }, { "res", 4, 0 }, { "off", 8, 0 }, { "len", 8, MIB_2 },
	{ NULL },
};

static const struct field ilv_fields[] = {
	{ "strips", 4, 2 }, { "chunk", 4, MIB_2 }, { "nbytes", 8, 2 * MIB_2 },
	{ "res", 8, 0 },
	{ NULL },
};

static void put_bytes(struct bytes *b, const void *p, size_t n)
{
	b->data = xrealloc(b->data, b->len + n, 1);
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

/* One record: the fields of @f at their defaults, then @kv (K=V,...) applied. */
static void put_record(const struct parser *p, struct bytes *b, const struct field *f,
		       char *kv)
{
	unsigned char rec[32], *w = rec;
	__u64 v[8];
	char *save, *t, *eq;
	int i, n;

	for (n = 0; f[n].key; n++)
		v[n] = f[n].def;
	for (t = kv ? strtok_r(kv, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save)) {
		eq = strchr(t, '=');
		if (eq)
			*eq = 0;
		for (i = 0; i < n && strcmp(f[i].key, t); i++)
			;
		if (!eq || i == n)
			bad_manifest(p, "fmap-fields: want KEY=VALUE, a known KEY, not '%s'",
				     t);
		v[i] = need_u64(p, eq + 1, f[i].key,
				f[i].width == 8 ? ULLONG_MAX : (1ULL << (8 * f[i].width)) - 1);
	}
	for (i = 0; i < n; i++) {
		if (f[i].width == 1)
			*w++ = v[i];
		else if (f[i].width == 2)
			w = put_le16(w, v[i]);
		else if (f[i].width == 4)
			w = put_le32(w, v[i]);
		else
			w = put_le64(w, v[i]);
	}
	put_bytes(b, rec, w - rec);
}

static void fmap_fields(const struct parser *p, struct bytes *b, char **tok, int ntok)
{
	struct bytes raw;
	char *star, *arg, *copy;
	__u64 count, cut, k;
	int i;

	b->data = NULL;
	b->len = 0;
	for (i = 0; i < ntok; i++) {
		count = 1;
		star = strrchr(tok[i], '*');
		if (star) {
			*star = 0;
			count = need_u64(p, star + 1, "repeat count", 1 << 24);
			if (!count)
				bad_manifest(p, "fmap-fields: repeat count 0");
		}
		arg = strchr(tok[i], ':');
		if (arg)
			*arg++ = 0;
		if (!strcmp(tok[i], "cut")) {
			if (!arg || star)
				bad_manifest(p, "fmap-fields: want cut:N");
			cut = need_u64(p, arg, "cut (bytes so far)", b->len);
			b->len -= cut;
			continue;
		}
		if (!strcmp(tok[i], "raw")) {
			if (!arg || decode_hex(arg, strlen(arg), &raw))
				bad_manifest(p, "fmap-fields: bad raw:HEX");
			for (k = 0; k < count; k++)
				put_bytes(b, raw.data, raw.len);
			free(raw.data);
			continue;
		}
		for (k = 0; k < count; k++) {
			/* put_record() tokenizes its argument: give it a copy */
			copy = arg ? xstrdup(arg) : NULL;
			if (!strcmp(tok[i], "hdr"))
				put_record(p, b, hdr_fields, copy);
			else if (!strcmp(tok[i], "ext"))
				put_record(p, b, ext_fields, copy);
			else if (!strcmp(tok[i], "ilv"))
				put_record(p, b, ilv_fields, copy);
			else
				bad_manifest(p, "fmap-fields: unknown record '%s'", tok[i]);
			free(copy);
		}
	}
}

static struct famfs_file *need_file(const struct parser *p, struct server *s, const char *name)
{
	struct famfs_file *f = find_file(s, name);

	if (!f)
		bad_manifest(p, "no file '%s' (list it before its overrides)", name);
	return f;
}

static void set_reply(const struct parser *p, struct server *s, struct override *o,
		      const char *spec)
{
	if (o->has_reply)
		bad_manifest(p, "reply given twice");
	load_bytes(p, s, spec, &o->reply);
	o->has_reply = true;
}

static void set_errno(const struct parser *p, struct override *o, const char *spec)
{
	if (o->has_errno)
		bad_manifest(p, "errno given twice");
	o->err = parse_errno(p, spec);
	o->has_errno = true;
}

/*
 * One attribute override KEY=VALUE (size, ino, mode, generation, valid)
 * applied to f: 0, or -EINVAL with *why saying what is wrong.
 */
static int apply_attr(struct famfs_file *f, char *kv, const char **why)
{
	char *eq = strchr(kv, '='), *end;
	unsigned long mode;
	__u64 v = 0;

	*why = "want KEY=VALUE with KEY size, ino, mode, generation or valid";
	if (!eq)
		return -EINVAL;
	*eq++ = 0;
	if (!strcmp(kv, "mode")) {
		/* octal with a leading 0, hex with 0x, else decimal */
		errno = 0;
		mode = strtoul(eq, &end, 0);
		if (errno || end == eq || *end || mode > 0xffff) {
			*why = "bad mode";
			return -EINVAL;
		}
		f->has_mode = true;
		f->attr_mode = mode;
		return 0;
	}
	if (parse_u64(eq, &v)) {
		*why = "bad number";
		return -EINVAL;
	}
	if (!strcmp(kv, "size")) {
		f->has_size = true;
		f->attr_size = v;
	} else if (!strcmp(kv, "ino")) {
		f->has_ino = true;
		f->attr_ino = v;
	} else if (!strcmp(kv, "generation")) {
		f->generation = v;
	} else if (!strcmp(kv, "valid")) {
		f->valid = v;
	} else {
		return -EINVAL;
	}
	return 0;
}

static unsigned int file_index(const struct server *s, const struct famfs_file *f)
{
	return f - s->files;
}

/* The behaviour directives: attr, lookup-stall, setattr, mknod, locks, ... */
static bool parse_behaviour(const struct parser *p, struct server *s, char **tok, int ntok)
{
	const char *d = tok[0], *why;
	struct mknod_rule *r;
	struct famfs_file *f;
	char *v;
	int i;

	if (!strcmp(d, "subdir")) {
		/* one directory in the root; files named NAME/... are in it */
		if (ntok != 2 || s->subdir || s->nfiles || strchr(tok[1], '/'))
			bad_manifest(p, "want: subdir NAME, once, before the files");
		s->subdir = xstrdup(tok[1]);
	} else if (!strcmp(d, "attr")) {
		if (ntok < 3)
			bad_manifest(p, "want: attr NAME KEY=VALUE...");
		f = need_file(p, s, tok[1]);
		for (i = 2; i < ntok; i++)
			if (apply_attr(f, tok[i], &why))
				bad_manifest(p, "attr: %s", why);
	} else if (!strcmp(d, "read-data")) {
		if (ntok != 1)
			bad_manifest(p, "want: read-data");
		s->read_data = true;
	} else if (!strcmp(d, "read-stall")) {
		if (ntok != 1)
			bad_manifest(p, "want: read-stall");
		s->read_stall = true;
	} else if (!strcmp(d, "lookup-stall")) {
		if (ntok != 2)
			bad_manifest(p, "want: lookup-stall NAME");
		s->lookup_stalls = grow(s->lookup_stalls, s->nlookup_stalls,
					&s->lookup_stalls_cap, sizeof(*s->lookup_stalls));
		s->lookup_stalls[s->nlookup_stalls++] = xstrdup(tok[1]);
	} else if (!strcmp(d, "setattr")) {
		if (ntok != 2 || strcmp(tok[1], "ok"))
			bad_manifest(p, "want: setattr ok");
		s->setattr_ok = true;
	} else if (!strcmp(d, "mknod")) {
		if (ntok != 3 || strncmp(tok[2], "reply=", 6) || !tok[2][6])
			bad_manifest(p, "want: mknod NAME reply=EXISTING_NAME|new|ERRNO");
		for (i = 0; i < (int)s->nmknods; i++)
			if (!strcmp(s->mknods[i].name, tok[1]))
				bad_manifest(p, "mknod '%s' given twice", tok[1]);
		s->mknods = grow(s->mknods, s->nmknods, &s->mknods_cap, sizeof(*s->mknods));
		r = &s->mknods[s->nmknods++];
		memset(r, 0, sizeof(*r));
		r->name = xstrdup(tok[1]);
		v = tok[2] + 6;
		if (!strcmp(v, "new")) {
			/* NAME is a file listed above, absent until the MKNOD */
			f = need_file(p, s, tok[1]);
			f->hidden = true;
			r->kind = MKNOD_NEW;
			r->target = file_index(s, f);
		} else if (find_file(s, v)) {
			if (find_file(s, tok[1]))
				bad_manifest(p, "mknod: '%s' exists already", tok[1]);
			r->kind = MKNOD_EXISTING;
			r->target = file_index(s, find_file(s, v));
		} else {
			r->kind = MKNOD_ERRNO;
			r->err = parse_errno(p, v);
		}
	} else if (!strcmp(d, "atomic-o-trunc")) {
		if (ntok != 1)
			bad_manifest(p, "want: atomic-o-trunc");
		s->atomic_o_trunc = true;
	} else if (!strcmp(d, "locks")) {
		if (ntok != 1)
			bad_manifest(p, "want: locks");
		s->locks = true;
	} else if (!strcmp(d, "lock-conflict")) {
		if (ntok != 1)
			bad_manifest(p, "want: lock-conflict");
		s->lock_conflict = true;
	} else if (!strcmp(d, "ioctl")) {
		if (ntok != 2)
			bad_manifest(p, "want: ioctl ERRNO");
		s->has_ioctl = true;
		s->ioctl_err = parse_errno(p, tok[1]);
	} else if (!strcmp(d, "poll")) {
		if (ntok != 2)
			bad_manifest(p, "want: poll MASK");
		s->has_poll = true;
		s->poll_mask = need_u64(p, tok[1], "poll mask", UINT32_MAX);
	} else if (!strcmp(d, "open-flags")) {
		if (ntok != 2)
			bad_manifest(p, "want: open-flags FLAGS");
		s->open_flags = need_u64(p, tok[1], "open flags", UINT32_MAX);
	} else {
		return false;
	}
	return true;
}

static const char * const directives[] = {
	"daxdev", "daxdev-reply", "daxdev-errno", "fmap-reply", "fmap-errno", "fmap-announce",
	"fmap-stall", "daxdev-stall", "fmap-fields", "fmap-stall-sized", "daxdev-race",
};

static void parse_line(const struct parser *p, struct server *s, char **tok, int ntok)
{
	const char *d = tok[0];
	struct famfs_file *f;
	struct daxdev *dev;
	__u64 index;
	int i;

	if (!strcmp(d, "file")) {
		parse_file(p, s, tok, ntok);
		return;
	}
	if (parse_behaviour(p, s, tok, ntok))
		return;
	for (i = 0; i < (int)ARRAY_SIZE(directives); i++)
		if (!strcmp(d, directives[i]))
			break;
	if (i == (int)ARRAY_SIZE(directives))
		bad_manifest(p, "unknown directive '%s'", d);
	/* inline =HEX may contain blanks: glue the rest of the line back on */
	if (ntok > 3 && tok[2][0] == '=' && strstr(d, "-reply")) {
		for (i = 3; i < ntok; i++)
			tok[i - 1][strlen(tok[i - 1])] = ' ';
		ntok = 3;
	}
	if (!strcmp(d, "fmap-fields")) {
		if (ntok < 2)
			bad_manifest(p, "want: fmap-fields NAME TOKEN...");
		f = need_file(p, s, tok[1]);
		if (f->ovr.has_reply)
			bad_manifest(p, "reply given twice");
		fmap_fields(p, &f->ovr.reply, tok + 2, ntok - 2);
		f->ovr.has_reply = true;
		return;
	}
	if (!strcmp(d, "fmap-stall") || !strcmp(d, "daxdev-stall") ||
	    !strcmp(d, "fmap-stall-sized")) {
		if (ntok != 2)
			bad_manifest(p, "want: %s NAME|INDEX", d);
		if (!strcmp(d, "fmap-stall-sized")) {
			need_file(p, s, tok[1])->ovr.stall_sized = true;
		} else if (!strcmp(d, "fmap-stall")) {
			need_file(p, s, tok[1])->ovr.stall = true;
		} else {
			index = need_u64(p, tok[1], "daxdev index", UINT32_MAX);
			get_daxdev(s, index)->ovr.stall = true;
		}
		return;
	}
	if (ntok < 3 || (ntok > 3 && strcmp(d, "fmap-announce") && strcmp(d, "daxdev-race")) ||
	    ntok > 4)
		bad_manifest(p, "wrong number of arguments to '%s'", d);

	if (!strcmp(d, "daxdev")) {
		index = need_u64(p, tok[1], "daxdev index", UINT32_MAX);
		dev = get_daxdev(s, index);
		if (dev->path)
			bad_manifest(p, "daxdev %llu listed twice", (unsigned long long)index);
		if (strlen(tok[2]) >= FAMFS_DAXDEV_NAME_MAX)
			bad_manifest(p, "daxdev path longer than %d bytes",
				     FAMFS_DAXDEV_NAME_MAX - 1);
		dev->path = xstrdup(tok[2]);
	} else if (!strcmp(d, "daxdev-race")) {
		/*
		 * The first GET_DAXDEV for the index waits for a second one;
		 * then the first gets the daxdev line's path, the second this
		 * (with "hold", once the control's release-race comes).
		 */
		dev = get_daxdev(s, need_u64(p, tok[1], "daxdev index", UINT32_MAX));
		if (strlen(tok[2]) >= FAMFS_DAXDEV_NAME_MAX)
			bad_manifest(p, "daxdev path longer than %d bytes",
				     FAMFS_DAXDEV_NAME_MAX - 1);
		if (ntok == 4 && strcmp(tok[3], "hold"))
			bad_manifest(p, "want: daxdev-race INDEX PATH [hold]");
		dev->race_path = xstrdup(tok[2]);
		dev->race_hold = ntok == 4;
	} else if (!strcmp(d, "daxdev-reply")) {
		dev = get_daxdev(s, need_u64(p, tok[1], "daxdev index", UINT32_MAX));
		set_reply(p, s, &dev->ovr, tok[2]);
	} else if (!strcmp(d, "daxdev-errno")) {
		dev = get_daxdev(s, need_u64(p, tok[1], "daxdev index", UINT32_MAX));
		set_errno(p, &dev->ovr, tok[2]);
	} else if (!strcmp(d, "fmap-reply")) {
		set_reply(p, s, &need_file(p, s, tok[1])->ovr, tok[2]);
	} else if (!strcmp(d, "fmap-errno")) {
		set_errno(p, &need_file(p, s, tok[1])->ovr, tok[2]);
	} else {	/* fmap-announce */
		f = need_file(p, s, tok[1]);
		if (f->has_announce)
			bad_manifest(p, "fmap-announce given twice");
		f->announce = need_u64(p, tok[2], "announced size", UINT32_MAX);
		f->has_announce = true;
		if (ntok == 4) {
			if (strcmp(tok[3], "again"))
				bad_manifest(p, "want: fmap-announce NAME SIZE [again]");
			f->announce_again = true;
		}
	}
}

static void build_fmap(struct famfs_file *f);

static void load_manifest(struct server *s)
{
	struct parser p = { .path = s->manifest };
	char *line = NULL, *save, *slash, *t, **tok = NULL;
	unsigned int cap = 0, ntok;
	size_t size = 0;
	FILE *in;
	unsigned int i;

	in = fopen(s->manifest, "r");
	if (!in) {
		fprintf(stderr, "famfs_server: %s: %s\n", s->manifest, strerror(errno));
		exit(EXIT_USAGE);
	}
	/* the directory relative reply files are looked up in */
	t = xstrdup(s->manifest);
	slash = strrchr(t, '/');
	if (!slash) {
		free(t);
		t = xstrdup(".");
	} else if (slash == t) {
		slash[1] = 0;
	} else {
		*slash = 0;
	}
	s->manifest_dir = t;

	while (getline(&line, &size, in) > 0) {
		p.line++;
		t = strchr(line, '#');
		if (t)
			*t = 0;
		ntok = 0;
		for (t = strtok_r(line, BLANKS, &save); t; t = strtok_r(NULL, BLANKS, &save)) {
			tok = grow(tok, ntok, &cap, sizeof(*tok));
			tok[ntok++] = t;
		}
		if (ntok)
			parse_line(&p, s, tok, ntok);
	}
	if (ferror(in))
		die("%s: read error", s->manifest);
	fclose(in);
	free(line);
	free(tok);

	for (i = 0; i < s->nfiles; i++)
		build_fmap(&s->files[i]);
}

static void free_override(struct override *o)
{
	free(o->reply.data);
}

static void free_manifest(struct server *s)
{
	unsigned int i, j;

	for (i = 0; i < s->nfiles; i++) {
		struct famfs_file *f = &s->files[i];

		free(f->name);
		free(f->src);
		free(f->ext);
		for (j = 0; f->groups && j < f->nextents; j++)
			free(f->groups[j].strips);
		free(f->groups);
		free(f->fmap.data);
		free_override(&f->ovr);
	}
	for (i = 0; i < s->ndevs; i++) {
		free(s->devs[i].path);
		free(s->devs[i].race_path);
		free_override(&s->devs[i].ovr);
	}
	for (i = 0; i < s->nmknods; i++)
		free(s->mknods[i].name);
	for (i = 0; i < s->nlookup_stalls; i++)
		free(s->lookup_stalls[i]);
	for (i = 0; i < s->ncreates; i++)
		free(s->creates[i]);
	free(s->creates);
	free(s->log_out);
	free(s->mknods);
	free(s->lookup_stalls);
	free(s->stalled);
	free(s->files);
	free(s->devs);
	free(s->subdir);
	free(s->manifest_dir);
}

/* ---------------------------------------------------------------------- */
/* fmap and daxdev replies (include/uapi/linux/famfs_fmap.h) */

static unsigned char *put_simple_ext(unsigned char *p, const struct extent *e)
{
	p = put_le32(p, e->dev);	/* devindex */
	p = put_le32(p, 0);		/* reserved */
	p = put_le64(p, e->offset);
	return put_le64(p, e->len);
}

static void build_fmap(struct famfs_file *f)
{
	unsigned char *p;
	unsigned int i, j;

	f->fmap.len = f->fmap_len;
	f->fmap.data = xzalloc(f->fmap.len);
	p = f->fmap.data;
	*p++ = FAMFS_FILE_REG;		/* file_type */
	*p++ = 0;			/* reserved */
	p = put_le16(p, FAMFS_FMAP_VERSION);
	p = put_le32(p, f->ext_type);
	p = put_le32(p, f->nextents);
	p = put_le32(p, 0);		/* reserved0: a complete fmap */
	p = put_le64(p, f->size);
	p = put_le64(p, 0);		/* reserved1 */
	for (i = 0; i < f->nextents; i++) {
		if (f->ext_type == FAMFS_EXT_SIMPLE) {
			p = put_simple_ext(p, &f->ext[i]);
			continue;
		}
		p = put_le32(p, f->groups[i].nstrips);
		p = put_le32(p, f->groups[i].chunk);
		p = put_le64(p, f->groups[i].nbytes);
		p = put_le64(p, 0);	/* reserved */
		for (j = 0; j < f->groups[i].nstrips; j++)
			p = put_simple_ext(p, &f->groups[i].strips[j]);
	}
	assert((size_t)(p - f->fmap.data) == f->fmap.len);
}

/* The file's header alone, with reserved0 = size: a large-fmap announcement. */
static void announce(const struct famfs_file *f, __u32 size, struct reply *r)
{
	memcpy(r->buf, f->fmap.data, FMAP_HDR_SIZE);
	put_le32(r->buf + offsetof(struct famfs_fmap_header, reserved0), size);
	r->data = r->buf;
	r->len = FMAP_HDR_SIZE;
}

/*
 * The reply to a (valid) GET_FMAP for file f whose struct fuse_get_fmap_in
 * gives the kernel's buffer @size: the whole fmap if it fits, else its
 * announcement. A request with @size > FAMFS_FMAP_FIRST_SIZE is the
 * second round of a large fmap ("sized"); the overrides see rounds so.
 */
static void fmap_reply(const struct famfs_file *f, __u32 size, struct reply *r)
{
	bool sized = size > FAMFS_FMAP_FIRST_SIZE;

	r->err = 0;
	r->data = NULL;
	r->len = 0;
	if (f->ovr.has_errno) {
		r->err = -f->ovr.err;
		return;
	}
	if (f->has_announce && (!sized || f->announce_again)) {
		announce(f, f->announce, r);
		return;
	}
	if (f->ovr.has_reply) {
		r->data = f->ovr.reply.data;
		r->len = f->ovr.reply.len;
		return;
	}
	if (f->fmap.len > size) {
		/* does not fit the kernel's buffer: announce the size */
		announce(f, f->fmap.len > UINT32_MAX ? UINT32_MAX : f->fmap.len, r);
		return;
	}
	r->data = f->fmap.data;
	r->len = f->fmap.len;
}

static void daxdev_reply(const struct daxdev *d, __u64 index, struct reply *r)
{
	r->err = 0;
	r->data = NULL;
	r->len = 0;
	if (d && d->ovr.has_errno) {
		r->err = -d->ovr.err;
		return;
	}
	if (d && d->ovr.has_reply) {
		r->data = d->ovr.reply.data;
		r->len = d->ovr.reply.len;
		return;
	}
	if (!d || !d->path) {
		r->err = -ENOENT;
		return;
	}
	memset(r->buf, 0, sizeof(r->buf));
	put_le16(r->buf, index);	/* index; the reserved fields stay 0 */
	memcpy(r->buf + offsetof(struct famfs_daxdev_out, name), d->path, strlen(d->path) + 1);
	r->data = r->buf;
	r->len = DAXDEV_OUT_SIZE;
}

/* ---------------------------------------------------------------------- */
/* the fuse connection */

static const char *opname(__u32 op)
{
	static const char * const names[] = {
		[FUSE_LOOKUP] = "LOOKUP", [FUSE_FORGET] = "FORGET",
		[FUSE_GETATTR] = "GETATTR", [FUSE_SETATTR] = "SETATTR",
		[FUSE_READLINK] = "READLINK", [FUSE_SYMLINK] = "SYMLINK",
		[FUSE_MKNOD] = "MKNOD", [FUSE_MKDIR] = "MKDIR",
		[FUSE_UNLINK] = "UNLINK", [FUSE_RMDIR] = "RMDIR",
		[FUSE_RENAME] = "RENAME", [FUSE_LINK] = "LINK", [FUSE_OPEN] = "OPEN",
		[FUSE_READ] = "READ", [FUSE_WRITE] = "WRITE", [FUSE_STATFS] = "STATFS",
		[FUSE_RELEASE] = "RELEASE", [FUSE_FSYNC] = "FSYNC",
		[FUSE_SETXATTR] = "SETXATTR", [FUSE_GETXATTR] = "GETXATTR",
		[FUSE_LISTXATTR] = "LISTXATTR", [FUSE_REMOVEXATTR] = "REMOVEXATTR",
		[FUSE_FLUSH] = "FLUSH", [FUSE_INIT] = "INIT",
		[FUSE_OPENDIR] = "OPENDIR", [FUSE_READDIR] = "READDIR",
		[FUSE_RELEASEDIR] = "RELEASEDIR", [FUSE_FSYNCDIR] = "FSYNCDIR",
		[FUSE_GETLK] = "GETLK", [FUSE_SETLK] = "SETLK", [FUSE_SETLKW] = "SETLKW",
		[FUSE_ACCESS] = "ACCESS", [FUSE_CREATE] = "CREATE",
		[FUSE_INTERRUPT] = "INTERRUPT", [FUSE_BMAP] = "BMAP",
		[FUSE_DESTROY] = "DESTROY", [FUSE_IOCTL] = "IOCTL", [FUSE_POLL] = "POLL",
		[FUSE_NOTIFY_REPLY] = "NOTIFY_REPLY", [FUSE_BATCH_FORGET] = "BATCH_FORGET",
		[FUSE_FALLOCATE] = "FALLOCATE", [FUSE_READDIRPLUS] = "READDIRPLUS",
		[FUSE_RENAME2] = "RENAME2", [FUSE_LSEEK] = "LSEEK",
		[FUSE_COPY_FILE_RANGE] = "COPY_FILE_RANGE",
		[FUSE_SETUPMAPPING] = "SETUPMAPPING",
		[FUSE_REMOVEMAPPING] = "REMOVEMAPPING", [FUSE_SYNCFS] = "SYNCFS",
		[FUSE_TMPFILE] = "TMPFILE", [FUSE_STATX] = "STATX",
		[FUSE_COPY_FILE_RANGE_64] = "COPY_FILE_RANGE_64",
		[FUSE_GET_FMAP] = "GET_FMAP", [FUSE_GET_DAXDEV] = "GET_DAXDEV",
	};

	if (op < ARRAY_SIZE(names) && names[op])
		return names[op];
	return "?";
}

static void count(__u64 *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

static int send_reply(struct server *s, __u64 unique, int err, const void *data, size_t len)
{
	struct fuse_out_header oh = { .unique = unique, .error = err };
	struct iovec iov[2] = {
		{ .iov_base = &oh, .iov_len = sizeof(oh) },
		{ .iov_base = (void *)data, .iov_len = len },
	};
	int niov = err || !len ? 1 : 2;
	ssize_t n;

	oh.len = sizeof(oh) + (niov == 2 ? len : 0);
	if (s->verbose)
		fprintf(stderr, "famfs_server:   -> unique %llu error %d, %zu bytes\n",
			(unsigned long long)unique, err, (size_t)oh.len - sizeof(oh));
	do {
		n = writev(s->fd, iov, niov);
	} while (n < 0 && errno == EINTR);
	if (n >= 0)
		return 0;
	/* ENOENT: the request was interrupted or aborted and is gone */
	if (errno == ENOENT)
		return 0;
	if (errno == ENODEV) {
		s->finished = true;
		return -ENODEV;
	}
	count(&s->st->reply_errors);
	warn_msg("reply to request %llu (error %d, %zu bytes): %s",
		 (unsigned long long)unique, err, len, strerror(errno));
	return -errno;
}

static int reply_err(struct server *s, const struct fuse_in_header *in, int err)
{
	return send_reply(s, in->unique, err, NULL, 0);
}

static struct famfs_file *node_file(struct server *s, __u64 nodeid)
{
	if (nodeid < FIRST_FILE_ID || nodeid - FIRST_FILE_ID >= s->nfiles)
		return NULL;
	return &s->files[nodeid - FIRST_FILE_ID];
}

static bool node_is_dir(struct server *s, __u64 nodeid)
{
	return nodeid == FUSE_ROOT_ID || (s->subdir && nodeid == SUBDIR_ID);
}

static bool node_valid(struct server *s, __u64 nodeid)
{
	return node_is_dir(s, nodeid) || node_file(s, nodeid);
}

static void fill_attr(struct server *s, __u64 nodeid, struct fuse_attr *a)
{
	struct famfs_file *f = node_file(s, nodeid);

	memset(a, 0, sizeof(*a));
	a->ino = nodeid;
	if (f) {
		a->size = f->has_size ? f->attr_size : f->size;
		a->blocks = div_round_up(a->size, 512);
		a->mode = f->has_mode ? f->attr_mode : S_IFREG | 0644;
		a->nlink = 1;
		if (f->has_ino)
			a->ino = f->attr_ino;
	} else {
		a->mode = S_IFDIR | 0755;
		a->nlink = 2;
	}
	a->atime = s->start.tv_sec;
	a->mtime = s->start.tv_sec;
	a->ctime = s->start.tv_sec;
	a->atimensec = s->start.tv_nsec;
	a->mtimensec = s->start.tv_nsec;
	a->ctimensec = s->start.tv_nsec;
	a->uid = s->uid;
	a->gid = s->gid;
	a->blksize = BLKSIZE;
}

/*
 * Leave request @in unanswered (remembered for release-stall); false once
 * release-stall has turned the stalls off: answer it normally then.
 */
static bool stall(struct server *s, const struct fuse_in_header *in)
{
	if (s->stalls_released)
		return false;
	s->stalled = grow(s->stalled, s->nstalled, &s->stalled_cap, sizeof(*s->stalled));
	s->stalled[s->nstalled++] = in->unique;
	count(&s->st->stalled);
	if (s->verbose)
		fprintf(stderr, "famfs_server:   -> unique %llu stalled\n",
			(unsigned long long)in->unique);
	return true;
}

/* The entry of file @idx (LOOKUP, MKNOD), with its overrides. */
static void fill_entry(struct server *s, unsigned int idx, struct fuse_entry_out *out)
{
	const struct famfs_file *f = &s->files[idx];

	memset(out, 0, sizeof(*out));
	out->nodeid = FIRST_FILE_ID + idx;
	out->generation = f->generation;
	out->entry_valid = f->valid;
	out->attr_valid = f->valid;
	fill_attr(s, out->nodeid, &out->attr);
}

static struct mknod_rule *find_mknod(struct server *s, const char *name)
{
	unsigned int i;

	for (i = 0; i < s->nmknods; i++)
		if (!strcmp(s->mknods[i].name, name))
			return &s->mknods[i];
	return NULL;
}

/* The file a name in the root resolves to (hidden files are absent); -1: none. */
static int lookup_name(struct server *s, const char *name)
{
	struct famfs_file *f = find_file(s, name);
	struct mknod_rule *r;

	if (f && !f->hidden)
		return file_index(s, f);
	r = find_mknod(s, name);
	if (r && r->created && r->kind == MKNOD_EXISTING)
		return r->target;
	return -1;
}

static void do_init(struct server *s, const struct fuse_in_header *in,
		    const void *arg, size_t len)
{
	struct fuse_init_in ii = { 0 };
	struct fuse_init_out out = { 0 };
	__u64 offered, want, flags;
	size_t outlen = sizeof(out);

	if (len < offsetof(struct fuse_init_in, max_readahead)) {
		reply_err(s, in, -EINVAL);
		return;
	}
	memcpy(&ii, arg, len < sizeof(ii) ? len : sizeof(ii));
	offered = ii.flags;
	if (ii.flags & FUSE_INIT_EXT)
		offered |= (__u64)ii.flags2 << 32;
	s->st->init_major = ii.major;
	s->st->init_minor = ii.minor;
	__atomic_store_n(&s->st->init_flags_in, offered, __ATOMIC_RELAXED);

	out.major = FUSE_KERNEL_VERSION;
	out.minor = FUSE_KERNEL_MINOR_VERSION;
	if (ii.major < FUSE_KERNEL_VERSION) {
		warn_msg("kernel fuse protocol %u.%u is too old", ii.major, ii.minor);
		reply_err(s, in, -EPROTO);
		s->finished = true;
		return;
	}
	if (ii.major > FUSE_KERNEL_VERSION) {
		/* tell the kernel our major; it sends INIT again */
		send_reply(s, in->unique, 0, &out, FUSE_COMPAT_INIT_OUT_SIZE);
		return;
	}

	/*
	 * Ask for nothing the namespace does not need: no READDIRPLUS, no
	 * writeback cache, no locks unless "locks", O_TRUNC sent with OPEN
	 * only with "atomic-o-trunc". FUSE_INIT_EXT to read
	 * and answer flags2,
	 * and FUSE_DAX_FMAP if the kernel offers it and --no-fmap is not set.
	 * --force-fmap sets FUSE_DAX_FMAP even unoffered (a hostile server).
	 */
	want = FUSE_INIT_EXT;
	if (!s->no_fmap)
		want |= FUSE_DAX_FMAP;
	if (s->locks)
		want |= FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS;
	if (s->atomic_o_trunc)
		want |= FUSE_ATOMIC_O_TRUNC;
	flags = want & offered;
	if (s->force_fmap)
		flags |= FUSE_DAX_FMAP | FUSE_INIT_EXT;
	out.flags = flags;
	out.flags2 = flags >> 32;
	out.max_readahead = ii.max_readahead;
	out.max_write = MAX_WRITE;
	out.time_gran = 1;
	if (ii.minor < 5)
		outlen = FUSE_COMPAT_INIT_OUT_SIZE;
	else if (ii.minor < 23)
		outlen = FUSE_COMPAT_22_INIT_OUT_SIZE;

	if (send_reply(s, in->unique, 0, &out, outlen))
		return;
	__atomic_store_n(&s->st->init_flags_out, flags, __ATOMIC_RELAXED);
	s->initialized = true;
	/* with --sync-init, once the mount is up (reap_mounter()) */
	if (!s->mounter)
		__atomic_store_n(&s->st->ready, 1, __ATOMIC_RELEASE);
	if (s->verbose)
		fprintf(stderr, "famfs_server: INIT %u.%u offered %#llx, replied %#llx\n",
			ii.major, ii.minor, (unsigned long long)offered,
			(unsigned long long)flags);
}

static void do_lookup(struct server *s, const struct fuse_in_header *in,
		      const void *arg, size_t len)
{
	struct fuse_entry_out out = { 0 };
	unsigned int i;
	int idx;

	if (!len || !memchr(arg, 0, len)) {
		reply_err(s, in, -EINVAL);
		return;
	}
	if (!node_is_dir(s, in->nodeid)) {
		reply_err(s, in, node_file(s, in->nodeid) ? -ENOTDIR : -ENOENT);
		return;
	}
	if (in->nodeid == FUSE_ROOT_ID && s->subdir && !strcmp(arg, s->subdir)) {
		out.nodeid = SUBDIR_ID;
		out.entry_valid = ENTRY_TIMEOUT;
		out.attr_valid = ENTRY_TIMEOUT;
		fill_attr(s, SUBDIR_ID, &out.attr);
		send_reply(s, in->unique, 0, &out, sizeof(out));
		return;
	}
	if (in->nodeid == SUBDIR_ID) {
		char full[2 * NAME_MAX_LEN + 2];

		snprintf(full, sizeof(full), "%s/%s", s->subdir, (const char *)arg);
		idx = lookup_name(s, full);
	} else {
		for (i = 0; i < s->nlookup_stalls; i++)
			if (!strcmp(s->lookup_stalls[i], arg) && stall(s, in))
				return;
		idx = strchr(arg, '/') ? -1 : lookup_name(s, arg);
	}
	if (idx < 0) {
		reply_err(s, in, -ENOENT);
		return;
	}
	fill_entry(s, idx, &out);
	send_reply(s, in->unique, 0, &out, sizeof(out));
}

static void do_getattr(struct server *s, const struct fuse_in_header *in)
{
	struct fuse_attr_out out = { 0 };

	if (!node_valid(s, in->nodeid)) {
		reply_err(s, in, -ENOENT);
		return;
	}
	out.attr_valid = node_file(s, in->nodeid) ? node_file(s, in->nodeid)->valid :
		ENTRY_TIMEOUT;
	fill_attr(s, in->nodeid, &out.attr);
	send_reply(s, in->unique, 0, &out, sizeof(out));
}

/* SETATTR: counted by valid bit; -EROFS, or with "setattr ok" the attributes. */
static void do_setattr(struct server *s, const struct fuse_in_header *in,
		       const void *arg, size_t len)
{
	struct fuse_attr_out out = { 0 };
	struct fuse_setattr_in si;
	int i;

	if (len < sizeof(si)) {
		reply_err(s, in, -EINVAL);
		return;
	}
	memcpy(&si, arg, sizeof(si));
	for (i = 0; i < 32; i++)
		if (si.valid & (1U << i))
			count(&s->st->setattr_bits[i]);
	__atomic_store_n(&s->st->setattr_last_valid, si.valid, __ATOMIC_RELAXED);
	if (!s->setattr_ok) {
		count(&s->st->setattr_refused);
		reply_err(s, in, -EROFS);
		return;
	}
	if (!node_valid(s, in->nodeid)) {
		reply_err(s, in, -ENOENT);
		return;
	}
	out.attr_valid = node_file(s, in->nodeid) ? node_file(s, in->nodeid)->valid :
		ENTRY_TIMEOUT;
	fill_attr(s, in->nodeid, &out.attr);
	send_reply(s, in->unique, 0, &out, sizeof(out));
}

/* MKNOD in the root: as the "mknod" rule for the name says, else -EROFS. */
static void do_mknod(struct server *s, const struct fuse_in_header *in,
		     const void *arg, size_t len)
{
	struct fuse_entry_out out;
	struct fuse_mknod_in mi;
	const char *name = (const char *)arg + sizeof(mi);
	struct mknod_rule *r;

	if (len <= sizeof(mi) || !memchr(name, 0, len - sizeof(mi))) {
		reply_err(s, in, -EINVAL);
		return;
	}
	memcpy(&mi, arg, sizeof(mi));
	__atomic_store_n(&s->st->mknod_last_mode, mi.mode, __ATOMIC_RELAXED);
	r = in->nodeid == FUSE_ROOT_ID ? find_mknod(s, name) : NULL;
	if (!r || r->kind == MKNOD_ERRNO) {
		count(&s->st->mknod_errno);
		reply_err(s, in, r ? -r->err : -EROFS);
		return;
	}
	r->created = true;
	s->files[r->target].hidden = false;
	count(&s->st->mknod_entry);
	fill_entry(s, r->target, &out);
	send_reply(s, in->unique, 0, &out, sizeof(out));
}

/* GETLK, SETLK, SETLKW (negotiated with "locks"). */
static void do_lock(struct server *s, const struct fuse_in_header *in,
		    const void *arg, size_t len)
{
	struct fuse_lk_out out = { 0 };
	struct fuse_lk_in li;
	bool flock, unlock;

	if (!s->locks) {
		reply_err(s, in, FUSE_NOT_IMPLEMENTED);
		return;
	}
	if (len < sizeof(li)) {
		reply_err(s, in, -EINVAL);
		return;
	}
	memcpy(&li, arg, sizeof(li));
	flock = li.lk_flags & FUSE_LK_FLOCK;
	unlock = li.lk.type == F_UNLCK;
	__atomic_store_n(&s->st->lk_last_opcode, in->opcode, __ATOMIC_RELAXED);
	__atomic_store_n(&s->st->lk_last_type, li.lk.type, __ATOMIC_RELAXED);
	__atomic_store_n(&s->st->lk_last_flags, li.lk_flags, __ATOMIC_RELAXED);
	__atomic_store_n(&s->st->lk_last_start, li.lk.start, __ATOMIC_RELAXED);
	__atomic_store_n(&s->st->lk_last_end, li.lk.end, __ATOMIC_RELAXED);
	__atomic_store_n(&s->st->lk_last_pid, li.lk.pid, __ATOMIC_RELAXED);
	if (in->opcode == FUSE_GETLK) {
		count(&s->st->lk_getlk);
		out.lk = li.lk;
		if (s->lock_conflict) {
			count(&s->st->lk_conflicts);
			out.lk.type = F_WRLCK;
			out.lk.start = 0;
			out.lk.end = LLONG_MAX;	/* to EOF: OFFSET_MAX */
			out.lk.pid = FAMFS_CONFLICT_PID;
		} else {
			out.lk.type = F_UNLCK;
		}
		send_reply(s, in->unique, 0, &out, sizeof(out));
		return;
	}
	if (flock)
		count(unlock ? &s->st->lk_flock_unlock : &s->st->lk_flock_lock);
	else
		count(unlock ? &s->st->lk_posix_unlock : &s->st->lk_posix_lock);
	if (s->lock_conflict && !unlock) {
		count(&s->st->lk_conflicts);
		reply_err(s, in, -EAGAIN);
		return;
	}
	reply_err(s, in, 0);
}

static void do_ioctl(struct server *s, const struct fuse_in_header *in,
		     const void *arg, size_t len)
{
	struct fuse_ioctl_out out = { 0 };
	struct fuse_ioctl_in ii;

	if (len < sizeof(ii)) {
		reply_err(s, in, -EINVAL);
		return;
	}
	memcpy(&ii, arg, sizeof(ii));
	__atomic_store_n(&s->st->ioctl_last_cmd, ii.cmd, __ATOMIC_RELAXED);
	__atomic_store_n(&s->st->ioctl_last_flags, ii.flags, __ATOMIC_RELAXED);
	if (!s->has_ioctl)
		reply_err(s, in, FUSE_NOT_IMPLEMENTED);
	else if (s->ioctl_err)
		reply_err(s, in, -s->ioctl_err);
	else
		send_reply(s, in->unique, 0, &out, sizeof(out));
}

static void do_poll(struct server *s, const struct fuse_in_header *in,
		    const void *arg, size_t len)
{
	struct fuse_poll_out out = { 0 };
	struct fuse_poll_in pi;

	if (len < sizeof(pi)) {
		reply_err(s, in, -EINVAL);
		return;
	}
	memcpy(&pi, arg, sizeof(pi));
	__atomic_store_n(&s->st->poll_last_events, pi.events, __ATOMIC_RELAXED);
	__atomic_store_n(&s->st->poll_last_flags, pi.flags, __ATOMIC_RELAXED);
	if (!s->has_poll) {
		reply_err(s, in, FUSE_NOT_IMPLEMENTED);
		return;
	}
	out.revents = s->poll_mask;
	send_reply(s, in->unique, 0, &out, sizeof(out));
}

/* The kernel's answer to a NOTIFY_RETRIEVE: no reply. */
static void do_notify_reply(struct server *s, const void *arg, size_t len)
{
	struct fuse_notify_retrieve_in ri;

	if (len < sizeof(ri))
		return;
	memcpy(&ri, arg, sizeof(ri));
	__atomic_fetch_add(&s->st->notify_reply_bytes, ri.size, __ATOMIC_RELAXED);
}

/*
 * read-data: a file's byte at offset OFF is FAMFS_STORE_BYTE(OFF), up to
 * its size (a plain fuse mount whose reads work).
 */
static void do_read(struct server *s, const struct fuse_in_header *in, const void *arg,
		    size_t len)
{
	const struct fuse_read_in *ri = arg;
	struct famfs_file *f = node_file(s, in->nodeid);
	unsigned char *buf;
	__u64 n, i;

	if (len < sizeof(*ri) || !f) {
		reply_err(s, in, -EIO);
		return;
	}
	n = ri->offset < f->size ? f->size - ri->offset : 0;
	if (n > ri->size)
		n = ri->size;
	buf = malloc(n ? n : 1);
	if (!buf) {
		reply_err(s, in, -ENOMEM);
		return;
	}
	for (i = 0; i < n; i++)
		buf[i] = FAMFS_STORE_BYTE(ri->offset + i);
	send_reply(s, in->unique, 0, buf, n);
	free(buf);
}

static void do_open(struct server *s, const struct fuse_in_header *in, bool dir)
{
	struct fuse_open_out out = { 0 };
	bool is_dir = node_is_dir(s, in->nodeid);

	if (!node_valid(s, in->nodeid)) {
		reply_err(s, in, -ENOENT);
		return;
	}
	if (dir != is_dir) {
		reply_err(s, in, dir ? -ENOTDIR : -EISDIR);
		return;
	}
	out.fh = in->nodeid;
	if (!dir)
		out.open_flags = s->open_flags;
	send_reply(s, in->unique, 0, &out, sizeof(out));
}

/* One struct fuse_dirent at p if it fits in room; its size, or 0. */
static size_t add_dirent(unsigned char *p, size_t room, __u64 ino, __u64 off,
			 unsigned int type, const char *name)
{
	struct fuse_dirent d = { .ino = ino, .off = off, .type = type };
	size_t nlen = strlen(name);
	size_t rec = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + nlen);

	if (rec > room)
		return 0;
	d.namelen = nlen;
	memset(p, 0, rec);
	memcpy(p, &d, FUSE_NAME_OFFSET);
	memcpy(p + FUSE_NAME_OFFSET, name, nlen);
	return rec;
}

/* Entries: 0 ".", 1 "..", 2 + i the manifest's file i; off = index + 1. */
static void do_readdir(struct server *s, const struct fuse_in_header *in,
		       const void *arg, size_t len)
{
	struct fuse_read_in ri;
	size_t size, used = 0, rec;
	__u64 i;

	if (len < sizeof(ri)) {
		reply_err(s, in, -EINVAL);
		return;
	}
	memcpy(&ri, arg, sizeof(ri));
	if (in->nodeid != FUSE_ROOT_ID) {
		reply_err(s, in, node_file(s, in->nodeid) ? -ENOTDIR : -ENOENT);
		return;
	}
	size = ri.size < BUF_SIZE ? ri.size : BUF_SIZE;
	for (i = ri.offset; i < (__u64)s->nfiles + 2; i++) {
		if (i < 2)
			rec = add_dirent(s->out + used, size - used, FUSE_ROOT_ID, i + 1,
					 DT_DIR, i ? ".." : ".");
		else if (s->files[i - 2].hidden || strchr(s->files[i - 2].name, '/'))
			continue;	/* before its MKNOD, or in the subdir */
		else
			rec = add_dirent(s->out + used, size - used, FIRST_FILE_ID + i - 2,
					 i + 1, DT_REG, s->files[i - 2].name);
		if (!rec)
			break;
		used += rec;
	}
	send_reply(s, in->unique, 0, s->out, used);
}

static void do_statfs(struct server *s, const struct fuse_in_header *in)
{
	struct fuse_statfs_out out = { 0 };
	unsigned int i;

	for (i = 0; i < s->nfiles; i++)
		out.st.blocks += div_round_up(s->files[i].size, BLKSIZE);
	out.st.files = s->nfiles + 1;
	out.st.bsize = BLKSIZE;
	out.st.frsize = BLKSIZE;
	out.st.namelen = NAME_MAX_LEN;
	send_reply(s, in->unique, 0, &out, sizeof(out));
}

static void do_get_fmap(struct server *s, const struct fuse_in_header *in,
			const void *arg, size_t len)
{
	struct famfs_file *f = node_file(s, in->nodeid);
	struct fuse_get_fmap_in gi = { 0 };
	struct famfs_server_fmap_req *log = NULL;
	unsigned int pos;
	struct reply r;
	bool bad, sized;
	__u64 n;

	memcpy(&gi, arg, len < sizeof(gi) ? len : sizeof(gi));
	/* --lax-fmap-in: a request without input is the old protocol's first */
	if (s->lax_fmap_in && !len)
		gi.size = FAMFS_FMAP_FIRST_SIZE;
	/* every request carries a fuse_get_fmap_in: the kernel's buffer */
	bad = (len != sizeof(gi) && !(s->lax_fmap_in && !len)) || gi.flags ||
	      gi.size < FMAP_HDR_SIZE;
	sized = !bad && gi.size > FAMFS_FMAP_FIRST_SIZE;
	pos = f ? f - s->files : FAMFS_SERVER_MAX_FILES;
	if (pos < FAMFS_SERVER_MAX_FILES) {
		count(&s->st->fmap[pos]);
		if (sized)
			count(&s->st->fmap_sized[pos]);
	} else {
		count(&s->st->fmap_other);
	}
	n = __atomic_load_n(&s->st->fmap_log_n, __ATOMIC_RELAXED);
	if (n < FAMFS_SERVER_FMAP_LOG) {
		log = &s->st->fmap_log[n];
		log->nodeid = in->nodeid;
		log->inlen = len;
		log->size = len >= 4 ? gi.size : 0;
		log->flags = len >= 8 ? gi.flags : 0;
		__atomic_store_n(&s->st->fmap_log_n, n + 1, __ATOMIC_RELEASE);
	}
	if (len >= 4)
		__atomic_store_n(&s->st->fmap_last_size, gi.size, __ATOMIC_RELAXED);
	if (len >= 8)
		__atomic_store_n(&s->st->fmap_last_flags, gi.flags, __ATOMIC_RELAXED);
	if (bad) {
		count(&s->st->fmap_bad_in);
		if (log)
			log->reply = -EINVAL;
		if (s->verbose)
			fprintf(stderr,
				"famfs_server: GET_FMAP nodeid %llu: bad input (%zu bytes)\n",
				(unsigned long long)in->nodeid, len);
		reply_err(s, in, -EINVAL);
		return;
	}
	if (!f) {
		if (log)
			log->reply = -ENOENT;
		reply_err(s, in, -ENOENT);
		return;
	}
	if ((f->ovr.stall || (f->ovr.stall_sized && sized)) && stall(s, in))
		return;
	fmap_reply(f, gi.size, &r);
	if (log)
		log->reply = r.err ? r.err : (__s32)r.len;
	if (s->verbose)
		fprintf(stderr, "famfs_server: GET_FMAP %s size %u: %zu of %zu bytes\n", f->name,
			gi.size, r.len, f->fmap.len);
	send_reply(s, in->unique, r.err, r.data, r.len);
}

/* The daxdev-race path in @r, a reply for @d's index. */
static void race_reply(const struct daxdev *d, struct reply *r)
{
	memset(r->buf + offsetof(struct famfs_daxdev_out, name), 0,
	       DAXDEV_OUT_SIZE - offsetof(struct famfs_daxdev_out, name));
	memcpy(r->buf + offsetof(struct famfs_daxdev_out, name), d->race_path,
	       strlen(d->race_path) + 1);
}

static void do_get_daxdev(struct server *s, const struct fuse_in_header *in,
			  const void *arg, size_t len)
{
	struct fuse_get_daxdev_in di = { 0 };
	struct daxdev *d;
	struct reply r;

	if (in->nodeid < FAMFS_SERVER_NR_DAXDEVS)
		count(&s->st->daxdev[in->nodeid]);
	else
		count(&s->st->daxdev_other);
	memcpy(&di, arg, len < sizeof(di) ? len : sizeof(di));
	__atomic_store_n(&s->st->daxdev_last_inlen, len, __ATOMIC_RELAXED);
	__atomic_store_n(&s->st->daxdev_last_index, di.index, __ATOMIC_RELAXED);
	/* the index twice: in the payload and, for old servers, the nodeid */
	if (!(s->lax_fmap_in && !len) &&
	    (len != sizeof(di) || di.index != in->nodeid || di.padding)) {
		count(&s->st->daxdev_bad_in);
		if (s->verbose)
			fprintf(stderr,
				"famfs_server: GET_DAXDEV nodeid %llu: bad input (%zu bytes)\n",
				(unsigned long long)in->nodeid, len);
		reply_err(s, in, -EINVAL);
		return;
	}
	d = find_daxdev(s, in->nodeid);
	if (d && d->ovr.stall && stall(s, in))
		return;
	daxdev_reply(d, in->nodeid, &r);
	if (d && d->race_path && !d->race_done) {
		if (!d->race_held) {
			d->race_unique = in->unique;
			d->race_held = true;
			return;
		}
		/* both in flight: the first gets the path, this one the other */
		send_reply(s, d->race_unique, r.err, r.data, r.len);
		d->race_done = true;
		if (d->race_hold) {
			d->race_second = in->unique;
			d->race_second_held = true;
			count(&s->st->stalled);
			return;
		}
		race_reply(d, &r);
	}
	send_reply(s, in->unique, r.err, r.data, r.len);
}

/* release-race: answer the second requests that daxdev-race ... hold keeps */
static unsigned int release_races(struct server *s)
{
	unsigned int i, n = 0;
	struct reply r;

	for (i = 0; i < s->ndevs; i++) {
		struct daxdev *d = &s->devs[i];

		if (!d->race_second_held)
			continue;
		daxdev_reply(d, d->index, &r);
		race_reply(d, &r);
		send_reply(s, d->race_second, r.err, r.data, r.len);
		d->race_second_held = false;
		count(&s->st->stall_released);
		n++;
	}
	return n;
}

static void handle(struct server *s, size_t n)
{
	struct fuse_in_header in;
	const unsigned char *arg = s->buf + sizeof(in);
	size_t len;

	if (n < sizeof(in)) {
		count(&s->st->bad_requests);
		warn_msg("short request: %zu bytes", n);
		return;
	}
	memcpy(&in, s->buf, sizeof(in));
	count(in.opcode < FAMFS_SERVER_NR_OPCODES ? &s->st->ops[in.opcode] : &s->st->ops_other);
	if (s->verbose)
		fprintf(stderr, "famfs_server: %s (%u) unique %llu nodeid %llu len %u\n",
			opname(in.opcode), in.opcode, (unsigned long long)in.unique,
			(unsigned long long)in.nodeid, in.len);
	if (in.len != n || (size_t)in.total_extlen * 8 > n - sizeof(in)) {
		count(&s->st->bad_requests);
		warn_msg("request %llu: length %u, read %zu", (unsigned long long)in.unique,
			 in.len, n);
		reply_err(s, &in, -EIO);
		return;
	}
	len = n - sizeof(in) - (size_t)in.total_extlen * 8;
	if (!s->initialized && in.opcode != FUSE_INIT) {
		reply_err(s, &in, -EIO);
		return;
	}

	switch (in.opcode) {
	case FUSE_INIT:
		do_init(s, &in, arg, len);
		break;
	case FUSE_LOOKUP:
		do_lookup(s, &in, arg, len);
		break;
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
		break;		/* no reply; nothing to forget in a fixed namespace */
	case FUSE_NOTIFY_REPLY:
		do_notify_reply(s, arg, len);	/* no reply */
		break;
	case FUSE_SETATTR:
		do_setattr(s, &in, arg, len);
		break;
	case FUSE_MKNOD:
		do_mknod(s, &in, arg, len);
		break;
	case FUSE_GETLK:
	case FUSE_SETLK:
	case FUSE_SETLKW:
		do_lock(s, &in, arg, len);
		break;
	case FUSE_IOCTL:
		do_ioctl(s, &in, arg, len);
		break;
	case FUSE_POLL:
		do_poll(s, &in, arg, len);
		break;
	case FUSE_GETATTR:
		do_getattr(s, &in);
		break;
	case FUSE_OPEN:
		do_open(s, &in, false);
		break;
	case FUSE_OPENDIR:
		do_open(s, &in, true);
		break;
	case FUSE_READDIR:
		do_readdir(s, &in, arg, len);
		break;
	case FUSE_STATFS:
		do_statfs(s, &in);
		break;
	case FUSE_ACCESS:
		reply_err(s, &in, node_valid(s, in.nodeid) ? 0 : -ENOENT);
		break;
	case FUSE_FLUSH:
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR:
		reply_err(s, &in, 0);
		break;
	case FUSE_DESTROY:
		reply_err(s, &in, 0);
		s->finished = true;
		break;
	case FUSE_GET_FMAP:
		do_get_fmap(s, &in, arg, len);
		break;
	case FUSE_GET_DAXDEV:
		do_get_daxdev(s, &in, arg, len);
		break;
	case FUSE_READ:
		/* read-stall: a plain fuse file whose page faults never end */
		if (s->read_stall && stall(s, &in))
			break;
		if (s->read_data) {
			do_read(s, &in, arg, len);
			break;
		}
		reply_err(s, &in, -EIO);
		break;
	case FUSE_WRITE:
		reply_err(s, &in, -EIO);
		break;
	case FUSE_SYMLINK:
	case FUSE_MKDIR:
	case FUSE_UNLINK:
	case FUSE_RMDIR:
	case FUSE_RENAME:
	case FUSE_LINK:
	case FUSE_SETXATTR:
	case FUSE_REMOVEXATTR:
	case FUSE_CREATE:
	case FUSE_RENAME2:
	case FUSE_TMPFILE:
		reply_err(s, &in, -EROFS);
		break;
	default:
		/* READDIRPLUS, INTERRUPT, STATX, GETXATTR, FSYNC, ... */
		reply_err(s, &in, FUSE_NOT_IMPLEMENTED);
		break;
	}
}

static void on_signal(int signo)
{
	__atomic_store_n(&stop_signo, signo, __ATOMIC_RELAXED);
}

/*
 * SIGTERM, SIGINT and SIGHUP stay blocked except inside ppoll(), so one
 * that arrives at any time interrupts the wait and ends the loop.
 */
static void setup_signals(struct server *s)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &block, &s->waitmask))
		die("sigprocmask: %s", strerror(errno));
	sigdelset(&s->waitmask, SIGTERM);
	sigdelset(&s->waitmask, SIGINT);
	sigdelset(&s->waitmask, SIGHUP);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

static void daemonize(struct server *s)
{
	pid_t pid;
	int fd;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		warn_msg("fork: %s; staying in the foreground", strerror(errno));
		s->daemonized = true;
		return;
	}
	if (pid > 0) {
		/* the mount is up and INIT answered; the stats name the daemon */
		__atomic_store_n(&s->st->pid, pid, __ATOMIC_RELEASE);
		_exit(0);
	}
	s->daemonized = true;
	setsid();
	if (chdir("/"))
		warn_msg("chdir /: %s", strerror(errno));
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
}

/* ---------------------------------------------------------------------- */
/* the control channel (--control PATH) */

#define CTL_MAX_CLIENTS		CTL_MAX_CLIENTS_
#define CTL_LINE_MAX		4096
#define CTL_STORE_MAX		(1024U * 1024)	/* notify-store LEN at most */

struct ctl_client {
	int fd;				/* -1: free */
	unsigned int gen;		/* which connection of this slot */
	size_t len;
	char buf[CTL_LINE_MAX];
};

static struct ctl_client ctl_clients[CTL_MAX_CLIENTS];

/* A notification (unique 0, error = code) written to /dev/fuse: 0 or -errno. */
static int send_notify(struct server *s, int code, const void *a, size_t alen,
		       const void *b, size_t blen)
{
	struct fuse_out_header oh = { .unique = 0, .error = code };
	struct iovec iov[3] = {
		{ .iov_base = &oh, .iov_len = sizeof(oh) },
		{ .iov_base = (void *)a, .iov_len = alen },
		{ .iov_base = (void *)b, .iov_len = blen },
	};
	ssize_t n;
	int rc;

	oh.len = sizeof(oh) + alen + blen;
	if (code >= 0 && code < FAMFS_SERVER_NR_NOTIFY)
		count(&s->st->notify_sent[code]);
	do {
		n = writev(s->fd, iov, blen ? 3 : 2);
	} while (n < 0 && errno == EINTR);
	rc = n < 0 ? -errno : 0;
	if (code >= 0 && code < FAMFS_SERVER_NR_NOTIFY)
		count(rc ? &s->st->notify_failed[code] : &s->st->notify_ok[code]);
	__atomic_store_n(&s->st->notify_last_code, code, __ATOMIC_RELAXED);
	__atomic_store_n(&s->st->notify_last_result, rc, __ATOMIC_RELAXED);
	if (s->verbose)
		fprintf(stderr, "famfs_server: notify %d (%zu bytes): %d\n", code,
			alen + blen, rc);
	return rc;
}

/* NAME (a manifest file), "#N" (nodeid N) or "/" (the root): its nodeid. */
static int ctl_node(struct server *s, const char *name, __u64 *nodeid)
{
	struct famfs_file *f;

	if (name[0] == '#')
		return parse_u64(name + 1, nodeid);
	if (!strcmp(name, "/")) {
		*nodeid = FUSE_ROOT_ID;
		return 0;
	}
	f = find_file(s, name);
	if (!f)
		return -ENOENT;
	*nodeid = FIRST_FILE_ID + file_index(s, f);
	return 0;
}

/* A number with an optional leading '-' (notify-inval-inode). */
static int parse_s64(const char *t, __s64 *v)
{
	__u64 u;
	int rc = parse_u64(t[0] == '-' ? t + 1 : t, &u);

	if (rc)
		return rc;
	if (u > LLONG_MAX)
		return -ERANGE;
	*v = t[0] == '-' ? -(__s64)u : (__s64)u;
	return 0;
}

/* "bad ...": the reply to a malformed control command */
#define CTL_BAD(...) snprintf(reply, size, "bad " __VA_ARGS__)

static void ctl_errno_reply(char *reply, size_t size, int rc)
{
	if (rc)
		snprintf(reply, size, "err %d", rc);
	else
		snprintf(reply, size, "ok");
}

static void ctl_notify(struct server *s, char **tok, int ntok, char *reply, size_t size)
{
	const char *cmd = tok[0];
	unsigned char *data;
	__u64 nodeid = 0, off = 0, len = 0, *ids;
	__s64 soff, slen;
	int i, rc;

	if (!strcmp(cmd, "notify-store") || !strcmp(cmd, "notify-retrieve")) {
		if (ntok != 4 || ctl_node(s, tok[1], &nodeid) || parse_u64(tok[2], &off) ||
		    parse_u64(tok[3], &len) || len > UINT32_MAX) {
			CTL_BAD("want: %s NAME|#NODEID OFFSET LEN", cmd);
			return;
		}
		if (!strcmp(cmd, "notify-retrieve")) {
			struct fuse_notify_retrieve_out ro = {
				.notify_unique = 0x4e000000ULL + s->st->ctl_commands,
				.nodeid = nodeid, .offset = off, .size = len,
			};

			rc = send_notify(s, FUSE_NOTIFY_RETRIEVE, &ro, sizeof(ro), NULL, 0);
			ctl_errno_reply(reply, size, rc);
			return;
		}
		if (len > CTL_STORE_MAX) {
			CTL_BAD("notify-store: LEN larger than %u", CTL_STORE_MAX);
			return;
		}
		{
			struct fuse_notify_store_out so = {
				.nodeid = nodeid, .offset = off, .size = len,
			};

			data = xzalloc(len);
			for (i = 0; (__u64)i < len; i++)
				data[i] = FAMFS_STORE_BYTE(off + i);
			rc = send_notify(s, FUSE_NOTIFY_STORE, &so, sizeof(so), data, len);
			free(data);
		}
		ctl_errno_reply(reply, size, rc);
		return;
	}
	if (!strcmp(cmd, "notify-inval-inode")) {
		struct fuse_notify_inval_inode_out io = { 0 };

		if (ntok != 4 || ctl_node(s, tok[1], &nodeid) || parse_s64(tok[2], &soff) ||
		    parse_s64(tok[3], &slen)) {
			CTL_BAD("want: notify-inval-inode NAME|#NODEID OFFSET LEN");
			return;
		}
		io.ino = nodeid;
		io.off = soff;
		io.len = slen;
		rc = send_notify(s, FUSE_NOTIFY_INVAL_INODE, &io, sizeof(io), NULL, 0);
		ctl_errno_reply(reply, size, rc);
		return;
	}
	if (!strcmp(cmd, "notify-inval-entry")) {
		struct fuse_notify_inval_entry_out eo = { .parent = FUSE_ROOT_ID };

		if (ntok < 2 || ntok > 3 || (ntok == 3 && strcmp(tok[2], "expire"))) {
			CTL_BAD("want: notify-inval-entry NAME [expire]");
			return;
		}
		eo.namelen = strlen(tok[1]);
		if (ntok == 3)
			eo.flags = FUSE_EXPIRE_ONLY;
		rc = send_notify(s, FUSE_NOTIFY_INVAL_ENTRY, &eo, sizeof(eo), tok[1],
				 eo.namelen + 1);
		ctl_errno_reply(reply, size, rc);
		return;
	}
	if (!strcmp(cmd, "notify-delete")) {
		struct fuse_notify_delete_out dout = { .parent = FUSE_ROOT_ID };
		int idx;

		if (ntok < 2 || ntok > 3) {
			CTL_BAD("want: notify-delete NAME [#CHILD]");
			return;
		}
		/* the child the name resolves to (0 if none), unless given */
		idx = lookup_name(s, tok[1]);
		dout.child = idx >= 0 ? FIRST_FILE_ID + idx : 0;
		if (ntok == 3 && (tok[2][0] != '#' || parse_u64(tok[2] + 1, &nodeid))) {
			CTL_BAD("want: notify-delete NAME [#CHILD]");
			return;
		}
		if (ntok == 3)
			dout.child = nodeid;
		dout.namelen = strlen(tok[1]);
		rc = send_notify(s, FUSE_NOTIFY_DELETE, &dout, sizeof(dout), tok[1],
				 dout.namelen + 1);
		ctl_errno_reply(reply, size, rc);
		return;
	}
	/* notify-prune NAME... */
	{
		struct fuse_notify_prune_out po = { 0 };

		if (ntok < 2) {
			CTL_BAD("want: notify-prune NAME|#NODEID...");
			return;
		}
		ids = xzalloc(sizeof(*ids) * (ntok - 1));
		for (i = 1; i < ntok; i++) {
			if (ctl_node(s, tok[i], &ids[i - 1])) {
				free(ids);
				CTL_BAD("notify-prune: no node '%s'", tok[i]);
				return;
			}
		}
		po.count = ntok - 1;
		rc = send_notify(s, FUSE_NOTIFY_PRUNE, &po, sizeof(po), ids,
				 sizeof(*ids) * (ntok - 1));
		free(ids);
		ctl_errno_reply(reply, size, rc);
	}
}

/* Answer every stalled request with -err; stall nothing more. */
static unsigned int release_stalls(struct server *s, int err)
{
	unsigned int i, n = s->nstalled;

	for (i = 0; i < n; i++) {
		send_reply(s, s->stalled[i], -err, NULL, 0);
		count(&s->st->stall_released);
	}
	s->nstalled = 0;
	s->stalls_released = true;
	return n;
}

static void ctl_command(struct server *s, char *line, char *reply, size_t size)
{
	struct famfs_file *f;
	char *tok[64], *save, *t;
	const char *why;
	int ntok = 0, i, err;
	__u64 v;

	for (t = strtok_r(line, BLANKS, &save); t && ntok < 64; t = strtok_r(NULL, BLANKS, &save))
		tok[ntok++] = t;
	if (!ntok) {
		CTL_BAD("empty command");
		return;
	}
	count(&s->st->ctl_commands);
	if (s->verbose)
		fprintf(stderr, "famfs_server: control: %s\n", tok[0]);
	if (!strcmp(tok[0], "ping")) {
		snprintf(reply, size, "ok");
	} else if (!strncmp(tok[0], "notify-", 7) &&
		   (!strcmp(tok[0], "notify-store") || !strcmp(tok[0], "notify-retrieve") ||
		    !strcmp(tok[0], "notify-inval-inode") ||
		    !strcmp(tok[0], "notify-inval-entry") || !strcmp(tok[0], "notify-delete") ||
		    !strcmp(tok[0], "notify-prune"))) {
		ctl_notify(s, tok, ntok, reply, size);
	} else if (!strcmp(tok[0], "set-attr")) {
		f = ntok >= 3 ? find_file(s, tok[1]) : NULL;
		if (!f) {
			CTL_BAD("want: set-attr NAME KEY=VALUE...");
			return;
		}
		for (i = 2; i < ntok; i++) {
			if (apply_attr(f, tok[i], &why)) {
				CTL_BAD("set-attr: %s", why);
				return;
			}
		}
		snprintf(reply, size, "ok");
	} else if (!strcmp(tok[0], "fmap-crc")) {
		/* the fmap this server answers for NAME: its CRC-32 and size */
		f = ntok == 2 ? find_file(s, tok[1]) : NULL;
		if (!f) {
			CTL_BAD("want: fmap-crc NAME");
			return;
		}
		snprintf(reply, size, "ok %08x %zu", famfs_crc32(0, f->fmap.data, f->fmap.len),
			 f->fmap.len);
	} else if (!strcmp(tok[0], "regen")) {
		f = ntok == 2 ? find_file(s, tok[1]) : NULL;
		if (!f) {
			CTL_BAD("want: regen NAME");
			return;
		}
		f->generation++;
		snprintf(reply, size, "ok %llu", (unsigned long long)f->generation);
	} else if (!strcmp(tok[0], "release-stall")) {
		err = EIO;
		if (ntok > 2) {
			CTL_BAD("want: release-stall [ERRNO]");
			return;
		}
		if (ntok == 2) {
			for (i = 0; i < (int)ARRAY_SIZE(errno_names); i++)
				if (!strcmp(tok[1], errno_names[i].name))
					break;
			if (i < (int)ARRAY_SIZE(errno_names)) {
				err = errno_names[i].err;
			} else if (!parse_u64(tok[1], &v) && v > 0 && v <= 511) {
				err = v;
			} else {
				CTL_BAD("release-stall: bad errno '%s'", tok[1]);
				return;
			}
		}
		snprintf(reply, size, "ok %u", release_stalls(s, err));
	} else if (!strcmp(tok[0], "release-race")) {
		if (ntok != 1) {
			CTL_BAD("want: release-race");
			return;
		}
		snprintf(reply, size, "ok %u", release_races(s));
	} else if (!strcmp(tok[0], "lock-conflict")) {
		if (ntok != 2 || (strcmp(tok[1], "on") && strcmp(tok[1], "off"))) {
			CTL_BAD("want: lock-conflict on|off");
			return;
		}
		s->lock_conflict = !strcmp(tok[1], "on");
		snprintf(reply, size, "ok");
	} else if (!strcmp(tok[0], "setattr")) {
		if (ntok != 2 || (strcmp(tok[1], "ok") && strcmp(tok[1], "erofs"))) {
			CTL_BAD("want: setattr ok|erofs");
			return;
		}
		s->setattr_ok = !strcmp(tok[1], "ok");
		snprintf(reply, size, "ok");
	} else {
		CTL_BAD("unknown command '%s'", tok[0]);
	}
}

static void ctl_open(struct server *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	unsigned int i;

	for (i = 0; i < CTL_MAX_CLIENTS; i++)
		ctl_clients[i].fd = -1;
	s->ctl_fd = -1;
	if (!s->control_path)
		return;
	if (strlen(s->control_path) >= sizeof(sa.sun_path))
		die("--control %s: path too long", s->control_path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->control_path);
	unlink(s->control_path);
	s->ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->ctl_fd < 0)
		die("socket: %s", strerror(errno));
	if (bind(s->ctl_fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(s->ctl_fd, 8))
		die("--control %s: %s", s->control_path, strerror(errno));
}

static void ctl_close(struct server *s)
{
	unsigned int i;

	for (i = 0; i < CTL_MAX_CLIENTS; i++)
		if (ctl_clients[i].fd >= 0)
			close(ctl_clients[i].fd);
	if (s->ctl_fd >= 0) {
		close(s->ctl_fd);
		unlink(s->control_path);
	}
}

static void ctl_accept(struct server *s)
{
	unsigned int i;
	int fd = accept4(s->ctl_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	for (i = 0; i < CTL_MAX_CLIENTS; i++) {
		if (ctl_clients[i].fd < 0) {
			ctl_clients[i].fd = fd;
			ctl_clients[i].gen++;
			ctl_clients[i].len = 0;
			return;
		}
	}
	close(fd);	/* too many clients at once */
}

static void ctl_write(int fd, const char *msg)
{
	size_t done = 0, n = strlen(msg);
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	ssize_t w;

	while (done < n) {
		w = write(fd, msg + done, n - done);
		if (w < 0 && errno == EAGAIN && poll(&pfd, 1, 5000) > 0)
			continue;
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		done += w;
	}
}

/* ---------------------------------------------------------------------- */
/* --shared: the namespace log in shared memory (famfs_log.h) */

/* Does file f map any of [0, FAMFS_LOG_DATA_START) of daxdev 0? */
static bool maps_log_area(const struct famfs_file *f)
{
	unsigned int i, j;

	for (i = 0; i < f->nextents; i++) {
		if (f->ext_type == FAMFS_EXT_SIMPLE) {
			if (!f->ext[i].dev && f->ext[i].offset < FAMFS_LOG_DATA_START)
				return true;
			continue;
		}
		for (j = 0; j < f->groups[i].nstrips; j++)
			if (!f->groups[i].strips[j].dev &&
			    f->groups[i].strips[j].offset < FAMFS_LOG_DATA_START)
				return true;
	}
	return false;
}

/*
 * A manifest line for the shared namespace: parsed, built, checked. A
 * line from the log must be printable ASCII, without "*COUNT" (a short
 * line must not ask for millions of extents) and canonical (its words one
 * blank apart, as the server writes them), or it is refused.
 */
static struct famfs_file *shared_file(const struct parser *p, struct server *s, char *line)
{
	char *tok[64], *save, *t, copy[FAMFS_LOG_TEXT_MAX];
	struct famfs_file *f;
	int ntok = 0;

	if (strlen(line) >= sizeof(copy))
		bad_manifest(p, "line too long for the log");
	for (t = line; *t; t++)
		if (*t < 0x20 || *t > 0x7e || *t == '*')
			bad_manifest(p, "byte %#x in a shared line", (unsigned char)*t);
	snprintf(copy, sizeof(copy), "%s", line);
	for (t = strtok_r(line, BLANKS, &save); t; t = strtok_r(NULL, BLANKS, &save)) {
		if (ntok == (int)ARRAY_SIZE(tok))
			bad_manifest(p, "more than %zu words", ARRAY_SIZE(tok));
		tok[ntok++] = t;
	}
	if (ntok < 3 || strcmp(tok[0], "file"))
		bad_manifest(p, "not a file line");
	parse_file(p, s, tok, ntok);
	f = &s->files[s->nfiles - 1];
	if (strcmp(f->src, copy))
		bad_manifest(p, "not in canonical form: '%s'", copy);
	build_fmap(f);
	if (maps_log_area(f))
		bad_manifest(p, "file '%s' maps the log's area of daxdev 0", f->name);
	f->logged = true;
	return f;
}

/*
 * After the manifest: the log's two files, which every shared namespace
 * has at the same place of daxdev 0; no manifest file may map that area.
 */
static void shared_setup(struct server *s)
{
	static const char * const meta[] = {
		"file " FAMFS_LOG_SB_NAME " 2M simple 0:0:2M",
		"file " FAMFS_LOG_NAME " 6M simple 0:2M:6M",
	};
	struct parser p = { .path = "the shared log's files" };
	unsigned int i, n = s->nfiles;
	char line[128];

	if (!find_daxdev(s, 0) || !find_daxdev(s, 0)->path)
		die("--shared: the manifest names no daxdev 0");
	if (s->subdir)
		die("--shared: no subdir in a shared namespace");
	for (i = 0; i < n; i++) {
		if (maps_log_area(&s->files[i]))
			die("--shared: file '%s' maps the log's area of daxdev 0 (below %llu)",
			    s->files[i].name, (unsigned long long)FAMFS_LOG_DATA_START);
		if (strlen(s->files[i].src) >= FAMFS_LOG_TEXT_MAX)
			die("--shared: file '%s': line too long for the log", s->files[i].name);
		if (s->shared == SHARED_CLIENT)
			die("--shared client: the manifest lists file '%s' (the log has the files)",
			    s->files[i].name);
	}
	for (i = 0; i < ARRAY_SIZE(meta); i++) {
		struct famfs_file *f;
		char *tok[8], *save, *t;
		int ntok = 0;

		snprintf(line, sizeof(line), "%s", meta[i]);
		for (t = strtok_r(line, BLANKS, &save); t; t = strtok_r(NULL, BLANKS, &save))
			tok[ntok++] = t;
		parse_file(&p, s, tok, ntok);
		f = &s->files[s->nfiles - 1];
		build_fmap(f);
		f->meta = true;
		f->logged = true;
	}
}

static bool log_sb_valid(const struct famfs_log_sb *sb)
{
	return sb->magic == FAMFS_LOG_SB_MAGIC && sb->version == FAMFS_LOG_VERSION &&
	       sb->entry_size == FAMFS_LOG_ENTRY_SIZE && sb->log_offset == FAMFS_LOG_OFFSET &&
	       sb->log_size == FAMFS_LOG_SIZE && sb->data_start == FAMFS_LOG_DATA_START &&
	       sb->crc == famfs_crc32(0, sb, offsetof(struct famfs_log_sb, crc));
}

/* exit statuses of the log child, and the errno a waiter gets for each */
enum { LOG_OK = 0, LOG_BAD_LINE = EXIT_USAGE, LOG_CORRUPT = 4, LOG_FULL = 5, LOG_NONE = 6 };
#define LOG_CHILD_TIMEOUT	60	/* seconds */

static void *log_map(struct server *s, const char *name, size_t len, bool rw)
{
	char path[PATH_MAX];
	void *p;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", s->mnt, name);
	fd = open(path, rw ? O_RDWR : O_RDONLY);
	if (fd < 0)
		die("log: open %s: %s", path, strerror(errno));
	p = mmap(NULL, len, PROT_READ | (rw ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("log: mmap %s: %s", path, strerror(errno));
	close(fd);
	return p;
}

/* Is [p, p + n) all zero bytes? */
static bool all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n--)
		if (*c++)
			return false;
	return true;
}

/*
 * The log child: reads the log through the mount (the parent serves the
 * requests that causes), writes every entry's line to @out; the master
 * first creates the log if the superblock and the log head are all zero
 * (new memory, as after mkfs), and appends its files that the log does not
 * have yet (the manifest's, then "create"s). Every entry is copied out of
 * the shared memory before it is checked, and only the copy is used:
 * another host may write the memory meanwhile. The line written to @out
 * is the server's own canonical form of what it parsed. A child that does
 * not finish in LOG_CHILD_TIMEOUT seconds is killed (SIGALRM). Exits with
 * a LOG_* status.
 */
static void __noreturn log_child(struct server *s, int out)
{
	bool master = s->shared == SHARED_MASTER;
	struct parser p = { .path = "the shared log" };
	struct famfs_log_entry *slots, e;
	struct famfs_log_head *h, head;
	struct famfs_log_sb *sb, sbc;
	unsigned char *log;
	unsigned int i;
	__u64 n;
	FILE *o;

	alarm(LOG_CHILD_TIMEOUT);
	o = fdopen(out, "w");
	if (!o)
		_exit(EXIT_RUNTIME);
	sb = log_map(s, FAMFS_LOG_SB_NAME, sizeof(*sb), master);
	log = log_map(s, FAMFS_LOG_NAME, FAMFS_LOG_SIZE, master);
	h = (struct famfs_log_head *)log;
	slots = (struct famfs_log_entry *)(log + FAMFS_LOG_SLOT0);
	famfs_invalidate(sb, sizeof(*sb));
	famfs_invalidate(h, sizeof(*h));
	memcpy(&sbc, sb, sizeof(sbc));
	if (!log_sb_valid(&sbc)) {
		/*
		 * A client may look while the master creates the log: the
		 * head first, then the superblock, its magic last. No magic
		 * yet: no log yet (a rescan looks again).
		 */
		if (!master && sbc.magic != FAMFS_LOG_SB_MAGIC)
			_exit(LOG_NONE);
		if (!all_zero(&sbc, sizeof(sbc)) || !all_zero(h, sizeof(*h))) {
			warn_msg("log: the superblock is not valid and not new: not touched");
			_exit(LOG_CORRUPT);
		}
		if (!master)
			_exit(LOG_NONE);
		/* a new namespace: an empty log first, then the superblock */
		memset(&head, 0, sizeof(head));
		head.magic = FAMFS_LOG_HEAD_MAGIC;
		if (getrandom(head.uuid, sizeof(head.uuid), 0) != sizeof(head.uuid))
			die("log: getrandom: %s", strerror(errno));
		memcpy(h, &head, sizeof(head));
		famfs_flush(h, sizeof(*h));
		memset(&sbc, 0, sizeof(sbc));
		sbc.magic = FAMFS_LOG_SB_MAGIC;
		sbc.version = FAMFS_LOG_VERSION;
		sbc.entry_size = FAMFS_LOG_ENTRY_SIZE;
		sbc.log_offset = FAMFS_LOG_OFFSET;
		sbc.log_size = FAMFS_LOG_SIZE;
		sbc.data_start = FAMFS_LOG_DATA_START;
		memcpy(sbc.uuid, head.uuid, sizeof(sbc.uuid));
		sbc.crc = famfs_crc32(0, &sbc, offsetof(struct famfs_log_sb, crc));
		/* the magic last: a client seeing none waits for it */
		sbc.magic = 0;
		memcpy(sb, &sbc, sizeof(sbc));
		famfs_flush(sb, sizeof(*sb));
		sbc.magic = FAMFS_LOG_SB_MAGIC;
		__atomic_store_n(&sb->magic, sbc.magic, __ATOMIC_RELEASE);
		famfs_flush(sb, sizeof(*sb));
		fprintf(o, "# created\n");
	}
	if (s->have_log_uuid && memcmp(sbc.uuid, s->log_uuid, sizeof(sbc.uuid))) {
		warn_msg("log: the superblock is another namespace's now (new uuid)");
		_exit(LOG_CORRUPT);
	}
	/* the uuid, for the parent to remember */
	fprintf(o, "# uuid");
	for (i = 0; i < sizeof(sbc.uuid); i++)
		fprintf(o, " %u", sbc.uuid[i]);
	fprintf(o, "\n");
	memcpy(&head, h, sizeof(head));
	n = head.committed;
	if (head.magic != FAMFS_LOG_HEAD_MAGIC || memcmp(head.uuid, sbc.uuid, sizeof(head.uuid))) {
		warn_msg("log: the log's head does not match the superblock");
		_exit(LOG_CORRUPT);
	}
	if (n > FAMFS_LOG_SLOTS) {
		warn_msg("log: %llu entries committed, room for %llu",
			 (unsigned long long)n, (unsigned long long)FAMFS_LOG_SLOTS);
		_exit(LOG_CORRUPT);
	}
	for (i = 0; i < n; i++) {
		char line[FAMFS_LOG_TEXT_MAX], *name, *save;
		struct famfs_file *f;

		famfs_invalidate(&slots[i], sizeof(slots[i]));
		memcpy(&e, &slots[i], sizeof(e));
		if (e.seq != i || e.len >= FAMFS_LOG_TEXT_MAX || e.text[e.len] ||
		    strlen(e.text) != e.len || e.crc != famfs_log_entry_crc(&e)) {
			warn_msg("log: entry %u is not valid", i);
			_exit(LOG_CORRUPT);
		}
		snprintf(line, sizeof(line), "%s", e.text);
		name = strtok_r(line, BLANKS, &save);
		name = name ? strtok_r(NULL, BLANKS, &save) : NULL;
		f = name ? find_file(s, name) : NULL;
		if (f && (f->meta || strcmp(f->src, e.text))) {
			warn_msg("log: entry %u is not this server's file '%s'", i, name);
			_exit(LOG_CORRUPT);
		}
		if (!f) {
			p.line = i + 1;
			snprintf(line, sizeof(line), "%s", e.text);
			f = shared_file(&p, s, line);
		}
		f->logged = true;
		fprintf(o, "%s\n", f->src);
	}
	if (master) {
		/* the "create"s the parent handed over become files first */
		struct parser pc = { .path = "a create command" };

		for (i = 0; i < s->log_creates; i++) {
			struct famfs_file *f;

			pc.line = i + 1;
			f = shared_file(&pc, s, s->creates[i]);
			f->logged = false;
		}
		for (i = 0; i < s->nfiles; i++) {
			struct famfs_file *f = &s->files[i];

			if (f->logged || f->meta)
				continue;
			if (n == FAMFS_LOG_SLOTS)
				_exit(LOG_FULL);
			memset(&e, 0, sizeof(e));
			e.seq = n;
			e.len = strlen(f->src);
			memcpy(e.text, f->src, e.len);
			e.crc = famfs_log_entry_crc(&e);
			memcpy(&slots[n], &e, sizeof(e));
			/* the entry reaches memory before the count that names it */
			famfs_flush(&slots[n], sizeof(e));
			h->committed = ++n;
			famfs_flush(&h->committed, sizeof(h->committed));
			f->logged = true;
			fprintf(o, "%s\n", f->src);
		}
	}
	if (fflush(o))
		_exit(EXIT_RUNTIME);
	_exit(LOG_OK);
}

/* Start a log child (none runs); the waiters in log_wait_next move in. */
static void log_start(struct server *s)
{
	int p[2];
	pid_t pid;

	memcpy(s->log_waiters, s->log_wait_next, s->nlog_wait_next * sizeof(*s->log_waiters));
	s->nlog_waiters = s->nlog_wait_next;
	s->nlog_wait_next = 0;
	s->log_again = false;
	s->log_creates = s->ncreates;
	s->log_len = 0;
	if (pipe2(p, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid) {
		/* the child must not hold the connection or the control channel */
		close(p[0]);
		close(s->fd);
		if (s->ctl_fd >= 0)
			close(s->ctl_fd);
		for (unsigned int i = 0; i < CTL_MAX_CLIENTS; i++)
			if (ctl_clients[i].fd >= 0)
				close(ctl_clients[i].fd);
		log_child(s, p[1]);
	}
	close(p[1]);
	s->log_pid = pid;
	s->log_fd = p[0];
	fcntl(s->log_fd, F_SETFL, O_NONBLOCK);
}

/* The log child's output pipe is readable: take it; at its end, the result. */
static void log_read(struct server *s)
{
	struct parser p = { .path = "the shared log (parent)" };
	unsigned int i, added = 0;
	char reply[64], *line, *next;
	int st, err = 0;
	ssize_t r;

	for (;;) {
		if (s->log_cap - s->log_len < 4096) {
			s->log_cap = s->log_cap * 2 + 8192;
			s->log_out = xrealloc(s->log_out, s->log_cap, 1);
		}
		r = read(s->log_fd, s->log_out + s->log_len, s->log_cap - s->log_len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0)
			break;
		s->log_len += r;
	}
	close(s->log_fd);
	s->log_fd = -1;
	s->log_out[s->log_len] = 0;
	if (waitpid(s->log_pid, &st, 0) != s->log_pid)
		st = EXIT_RUNTIME << 8;
	s->log_pid = 0;
	if (!WIFEXITED(st))
		err = -EIO;
	else if (WEXITSTATUS(st) == LOG_BAD_LINE)
		err = -EINVAL;
	else if (WEXITSTATUS(st) == LOG_CORRUPT)
		err = -EUCLEAN;
	else if (WEXITSTATUS(st) == LOG_FULL)
		err = -ENOSPC;
	else if (WEXITSTATUS(st) == LOG_NONE)
		err = -ENODATA;
	else if (WEXITSTATUS(st))
		err = -EIO;
	if (!err) {
		/*
		 * The child parsed every line, in this order, from the state
		 * this process still has (files change only here), and wrote
		 * its own canonical form of each: the same parse cannot fail.
		 */
		for (line = s->log_out; *line; line = next) {
			struct famfs_file *f;
			char *name, copy[FAMFS_LOG_TEXT_MAX];
			unsigned int u[16];

			next = strchr(line, '\n');
			if (!next)
				break;
			*next++ = 0;
			if (sscanf(line, "# uuid %u %u %u %u %u %u %u %u %u %u %u %u %u %u %u %u",
				   &u[0], &u[1], &u[2], &u[3], &u[4], &u[5], &u[6], &u[7],
				   &u[8], &u[9], &u[10], &u[11], &u[12], &u[13], &u[14],
				   &u[15]) == 16) {
				for (i = 0; i < 16; i++)
					s->log_uuid[i] = u[i];
				s->have_log_uuid = true;
				continue;
			}
			if (line[0] == '#')
				continue;
			snprintf(copy, sizeof(copy), "%s", line);
			name = copy + strcspn(copy, BLANKS);
			name += strspn(name, BLANKS);
			name[strcspn(name, BLANKS)] = 0;
			f = find_file(s, name);
			if (f) {
				f->logged = true;
				continue;
			}
			p.line++;
			shared_file(&p, s, line);
			added++;
		}
		s->log_syncs++;
	}
	/* the creates the child had are done (in the log) or refused */
	for (i = 0; i < s->log_creates; i++)
		free(s->creates[i]);
	memmove(s->creates, s->creates + s->log_creates,
		(s->ncreates - s->log_creates) * sizeof(*s->creates));
	s->ncreates -= s->log_creates;
	s->log_creates = 0;
	if (err)
		snprintf(reply, sizeof(reply), "err %d\n", err);
	else
		snprintf(reply, sizeof(reply), "ok %u %u\n", added, s->nfiles);
	/* no log yet is what a client sees before the master wrote one */
	if (s->verbose || (err && err != -ENODATA))
		warn_msg("log sync: %s", reply);
	for (i = 0; i < s->nlog_waiters; i++) {
		struct ctl_client *c = &ctl_clients[s->log_waiters[i] >> 32];

		/* the client that asked, not a later one in its slot */
		if (c->fd >= 0 && c->gen == (__u32)s->log_waiters[i])
			ctl_write(c->fd, reply);
	}
	s->nlog_waiters = 0;
	/*
	 * A master that cannot read its log at the start (a manifest file
	 * the log has otherwise, a corrupt or foreign log) must not serve a
	 * layout of its own: it unmounts and stops.
	 */
	if (err == -EUCLEAN && s->shared == SHARED_MASTER && !s->log_syncs) {
		warn_msg("the master cannot use the log (%d): unmounting %s", err, s->mnt);
		if (umount2(s->mnt, MNT_DETACH))
			warn_msg("umount %s: %s", s->mnt, strerror(errno));
		s->finished = true;
		return;
	}
	if (s->log_again || s->nlog_wait_next || s->ncreates)
		log_start(s);
}

/*
 * "rescan" and "create FILE-LINE" (the master only): answered when a log
 * child that started after the command has ended. False: not one of them.
 */
static bool log_command(struct server *s, struct ctl_client *c, char *line)
{
	char *word = line + strspn(line, BLANKS);
	size_t n = strcspn(word, BLANKS);

	if (!(n == 6 && !strncmp(word, "rescan", 6)) && !(n == 6 && !strncmp(word, "create", 6)))
		return false;
	count(&s->st->ctl_commands);
	if (!s->shared) {
		ctl_write(c->fd, "bad not a --shared server\n");
		return true;
	}
	if (word[0] == 'c' && s->shared != SHARED_MASTER) {
		ctl_write(c->fd, "bad create: only the master writes the log\n");
		return true;
	}
	if (word[0] == 'r' && word[n + strspn(word + n, BLANKS)]) {
		ctl_write(c->fd, "bad want: rescan\n");
		return true;
	}
	if (s->nlog_wait_next == CTL_MAX_CLIENTS) {
		ctl_write(c->fd, "err -16\n");
		return true;
	}
	if (word[0] == 'c') {
		s->creates = grow(s->creates, s->ncreates, &s->creates_cap, sizeof(*s->creates));
		s->creates[s->ncreates++] = xstrdup(word + n + strspn(word + n, BLANKS));
	}
	s->log_wait_next[s->nlog_wait_next++] = (__u64)(c - ctl_clients) << 32 | c->gen;
	if (s->log_pid)
		s->log_again = true;
	else
		log_start(s);
	return true;
}

/* Client @c is readable: run every complete line, one reply line each. */
static void ctl_read(struct server *s, struct ctl_client *c)
{
	char reply[512], *nl;
	size_t used;
	ssize_t n;

	n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		close(c->fd);
		c->fd = -1;
		return;
	}
	c->len += n;
	c->buf[c->len] = 0;
	while ((nl = strchr(c->buf, '\n'))) {
		*nl = 0;
		reply[0] = 0;
		if (!log_command(s, c, c->buf)) {
			ctl_command(s, c->buf, reply, sizeof(reply) - 1);
			strcat(reply, "\n");
			ctl_write(c->fd, reply);
		}
		used = nl + 1 - c->buf;
		memmove(c->buf, nl + 1, c->len - used + 1);
		c->len -= used;
	}
	if (c->len == sizeof(c->buf) - 1) {
		ctl_write(c->fd, "bad line too long\n");
		close(c->fd);
		c->fd = -1;
	}
}

/* Serve until the connection goes away; 0 on a normal end. */
/*
 * --sync-init: the mount(2) of the child returns once INIT is answered;
 * it sends nothing else, so wait for it (10 s at most) before serving on.
 */
static void reap_mounter(struct server *s)
{
	int st, i;

	for (i = 0; i < 1000; i++) {
		pid_t r = waitpid(s->mounter, &st, WNOHANG);

		if (r == s->mounter) {
			s->mounter = 0;
			if (!WIFEXITED(st) || WEXITSTATUS(st))
				die("the synchronous-INIT mount of %s failed", s->mnt);
			__atomic_store_n(&s->st->ready, 1, __ATOMIC_RELEASE);
			return;
		}
		if (r < 0)
			die("waitpid: %s", strerror(errno));
		usleep(10000);
	}
	die("the synchronous-INIT mount of %s did not return", s->mnt);
}

static int serve(struct server *s)
{
	struct pollfd pfd[3 + CTL_MAX_CLIENTS];
	unsigned int i, npfd;
	ssize_t n;
	int signo;

	while (!s->finished) {
		signo = __atomic_load_n(&stop_signo, __ATOMIC_RELAXED);
		if (signo) {
			warn_msg("signal %d: unmounting %s", signo, s->mnt);
			if (umount2(s->mnt, MNT_DETACH) && errno != EINVAL && errno != ENOENT)
				warn_msg("umount %s: %s", s->mnt, strerror(errno));
			return 0;
		}
		pfd[0].fd = s->fd;
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		npfd = 1;
		if (s->ctl_fd >= 0) {
			pfd[1].fd = s->ctl_fd;
			pfd[1].events = POLLIN;
			pfd[1].revents = 0;
			for (i = 0; i < CTL_MAX_CLIENTS; i++) {
				/* a free slot polls fd -1: ignored */
				pfd[2 + i].fd = ctl_clients[i].fd;
				pfd[2 + i].events = POLLIN;
				pfd[2 + i].revents = 0;
			}
			npfd = 2 + CTL_MAX_CLIENTS;
		}
		/* the log child's output, last (fd -1 when none runs) */
		pfd[npfd].fd = s->log_fd;
		pfd[npfd].events = POLLIN;
		pfd[npfd].revents = 0;
		npfd++;
		if (ppoll(pfd, npfd, NULL, &s->waitmask) < 0) {
			if (errno == EINTR)
				continue;
			warn_msg("poll /dev/fuse: %s", strerror(errno));
			return -1;
		}
		if (s->log_fd >= 0 && pfd[npfd - 1].revents)
			log_read(s);
		if (npfd > 2) {
			for (i = 0; i < CTL_MAX_CLIENTS; i++)
				if (ctl_clients[i].fd >= 0 && pfd[2 + i].revents)
					ctl_read(s, &ctl_clients[i]);
			if (pfd[1].revents & POLLIN)
				ctl_accept(s);
			if (s->finished)
				break;
		}
		if (!(pfd[0].revents & (POLLIN | POLLERR | POLLHUP)))
			continue;
		/* the fd is non-blocking: a request that went away gives EAGAIN */
		n = read(s->fd, s->buf, BUF_SIZE);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == ENOENT)
				continue;
			if (errno == ENODEV)
				break;	/* unmounted: the connection is gone */
			warn_msg("read /dev/fuse: %s", strerror(errno));
			return -1;
		}
		if (!n)
			break;
		handle(s, n);
		if (s->initialized && s->mounter > 0)
			reap_mounter(s);
		if (s->initialized && !s->foreground && !s->daemonized)
			daemonize(s);
		/* a shared namespace: read (the master: write) the log */
		if (s->initialized && s->shared && !s->log_started) {
			s->log_started = true;
			if (!s->log_pid)
				log_start(s);
		}
	}
	return s->initialized ? 0 : -1;
}

static void open_stats(struct server *s)
{
	struct famfs_server_stats *st = &s->local_stats;
	char *tmp = NULL;
	size_t n;
	int fd;

	if (s->stats_path) {
		n = strlen(s->stats_path) + 5;
		tmp = xzalloc(n);
		snprintf(tmp, n, "%s.tmp", s->stats_path);
		fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			die("%s: %s", tmp, strerror(errno));
		if (ftruncate(fd, sizeof(*st)))
			die("%s: %s", tmp, strerror(errno));
		st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (st == MAP_FAILED)
			die("mmap %s: %s", tmp, strerror(errno));
		close(fd);
		memset(st, 0, sizeof(*st));
	}
	st->magic = FAMFS_SERVER_STATS_MAGIC;
	st->version = FAMFS_SERVER_STATS_VERSION;
	st->size = sizeof(*st);
	st->pid = getpid();
	s->st = st;
	if (s->stats_path) {
		if (rename(tmp, s->stats_path))
			die("rename %s: %s", tmp, strerror(errno));
		free(tmp);
	}
}

static void do_mount(struct server *s)
{
	char opts[512];
	int n;

	s->fd = open("/dev/fuse", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (s->fd < 0)
		die("/dev/fuse: %s", strerror(errno));
	n = snprintf(opts, sizeof(opts),
		     "fd=%d,rootmode=40000,user_id=%u,group_id=%u,allow_other,default_permissions%s%s",
		     s->fd, (unsigned int)s->uid, (unsigned int)s->gid,
		     s->extra_opts ? "," : "", s->extra_opts ? s->extra_opts : "");
	if (n < 0 || (size_t)n >= sizeof(opts))
		die("mount options too long");
	if (s->sync_init) {
		/*
		 * A synchronous FUSE_INIT: mount(2) sends INIT and waits for the
		 * reply in the mounting task, as fusermount3 --sync-init does
		 * for the user it hands the device to. A child mounts (as root,
		 * with every capability); this process answers INIT, after
		 * dropping its privileges if told to.
		 */
		if (ioctl(s->fd, FUSE_DEV_IOC_SYNC_INIT))
			die("FUSE_DEV_IOC_SYNC_INIT: %s", strerror(errno));
		s->mounter = fork();
		if (s->mounter < 0)
			die("fork: %s", strerror(errno));
		if (!s->mounter)
			_exit(mount("famfs", s->mnt, "fuse", MS_NOSUID | MS_NODEV, opts) ?
			      EXIT_RUNTIME : 0);
		s->mounted = true;
		return;
	}
	if (mount("famfs", s->mnt, "fuse", MS_NOSUID | MS_NODEV, opts))
		die("mount %s (%s): %s", s->mnt, opts, strerror(errno));
	s->mounted = true;
}

/*
 * --chroot, --drop-uid, --keep-rawio: after mounting (which needs root),
 * serve as a server behind fusermount3 would, or one confined to a root:
 * chroot first, then drop to the uid and gid with no supplementary groups
 * and no capabilities (or CAP_SYS_RAWIO alone).
 */
static void drop_privileges(struct server *s)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};
	uid_t uid = (uid_t)s->drop_uid;

	if (s->chroot_dir && (chroot(s->chroot_dir) || chdir("/")))
		die("chroot %s: %s", s->chroot_dir, strerror(errno));
	if (s->drop_uid < 0)
		return;
	if (s->keep_rawio && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
		die("PR_SET_KEEPCAPS: %s", strerror(errno));
	if (syscall(SYS_setgroups, 0, NULL) || setresgid(uid, uid, uid) ||
	    setresuid(uid, uid, uid))
		die("dropping to uid %u: %s", (unsigned int)uid, strerror(errno));
	if (s->keep_rawio) {
		data[0].effective = 1U << CAP_SYS_RAWIO;
		data[0].permitted = 1U << CAP_SYS_RAWIO;
	}
	if (syscall(SYS_capset, &hdr, data))
		die("capset: %s", strerror(errno));
}

/* --dump-*: print the reply the server would send, raw, on stdout. */
static int dump(struct server *s, int what, const char *arg)
{
	const struct parser p = { .path = "command line" };
	struct famfs_file *f = NULL;
	struct reply r;
	size_t done = 0;
	ssize_t n;
	__u64 index;

	if (what == 'D') {
		index = need_u64(&p, arg, "daxdev index", ULLONG_MAX);
		daxdev_reply(find_daxdev(s, index), index, &r);
	} else {
		f = find_file(s, arg);
		if (!f) {
			fprintf(stderr, "famfs_server: no file '%s' in %s\n", arg, s->manifest);
			return EXIT_USAGE;
		}
		/* the first request's buffer, or one any fmap fits */
		fmap_reply(f, what == 'S' ? UINT32_MAX : FAMFS_FMAP_FIRST_SIZE, &r);
	}
	if (r.err) {
		fprintf(stderr, "famfs_server: reply error %d\n", r.err);
		return EXIT_DUMP_ERROR;
	}
	while (done < r.len) {
		n = write(STDOUT_FILENO, r.data + done, r.len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("write: %s", strerror(errno));
		done += n;
	}
	return 0;
}

static void help(FILE *out, int status)
{
	fputs("usage: famfs_server [options] MANIFEST MOUNTPOINT\n"
	      "       famfs_server --dump-fmap NAME|--dump-fmap-sized NAME|--dump-daxdev INDEX MANIFEST\n"
	      "  -f, --foreground   do not fork into the background after INIT\n"
	      "  --no-fmap          never accept FUSE_DAX_FMAP\n"
	      "  --force-fmap       set FUSE_DAX_FMAP in the INIT reply even unoffered\n"
	      "  --stats PATH       live counters in PATH (struct famfs_server_stats)\n"
	      "  --control PATH     a unix socket at PATH taking control commands\n"
	      "  --lax-fmap-in      take a GET_FMAP without input as size 4096, and a\n"
	      "                     GET_DAXDEV without input (old kernels)\n"
	      "  --chroot DIR       after mounting, chroot to DIR\n"
	      "  --drop-uid UID     after mounting, serve as UID with no capabilities\n"
	      "  --keep-rawio       with --drop-uid: keep CAP_SYS_RAWIO (only)\n"
	      "  --sync-init        a synchronous FUSE_INIT: a root child mounts and\n"
	      "                     waits in mount(2) while this process answers INIT\n"
	      "  --shared master|client  the namespace lives in a log on daxdev 0\n"
	      "                     (famfs_log.h): the master writes the manifest's\n"
	      "                     files there, a client serves what it reads there\n"
	      "  -o OPTS            more mount options, appended\n"
	      "  -v, --verbose      log every request on stderr\n"
	      "  --dump-fmap NAME   print the first GET_FMAP reply for NAME, raw\n"
	      "  --dump-fmap-sized NAME  the reply to a GET_FMAP with fuse_get_fmap_in\n"
	      "  --dump-daxdev INDEX     the GET_DAXDEV reply for INDEX\n", out);
	exit(status);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "no-fmap", no_argument, NULL, 'N' },
		{ "force-fmap", no_argument, NULL, 'F' },
		{ "stats", required_argument, NULL, 's' },
		{ "control", required_argument, NULL, 'C' },
		{ "lax-fmap-in", no_argument, NULL, 'L' },
		{ "chroot", required_argument, NULL, 'R' },
		{ "drop-uid", required_argument, NULL, 'U' },
		{ "keep-rawio", no_argument, NULL, 'K' },
		{ "sync-init", no_argument, NULL, 'I' },
		{ "shared", required_argument, NULL, 'M' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "dump-fmap", required_argument, NULL, 'd' },
		{ "dump-fmap-sized", required_argument, NULL, 'S' },
		{ "dump-daxdev", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct server srv;
	struct server *s = &srv;
	const char *dump_arg = NULL;
	int c, dump_what = 0, rc;

	s->fd = -1;
	s->ctl_fd = -1;
	s->log_fd = -1;
	s->drop_uid = -1;
	while ((c = getopt_long(argc, argv, "fo:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			s->foreground = true;
			break;
		case 'N':
			s->no_fmap = true;
			break;
		case 'F':
			s->force_fmap = true;
			break;
		case 's':
			s->stats_path = optarg;
			break;
		case 'C':
			s->control_path = optarg;
			break;
		case 'L':
			s->lax_fmap_in = true;
			break;
		case 'R':
			s->chroot_dir = optarg;
			break;
		case 'U':
			s->drop_uid = strtol(optarg, NULL, 10);
			break;
		case 'K':
			s->keep_rawio = true;
			break;
		case 'I':
			s->sync_init = true;
			break;
		case 'M':
			if (!strcmp(optarg, "master"))
				s->shared = SHARED_MASTER;
			else if (!strcmp(optarg, "client"))
				s->shared = SHARED_CLIENT;
			else
				help(stderr, EXIT_USAGE);
			break;
		case 'o':
			s->extra_opts = optarg;
			break;
		case 'v':
			s->verbose = true;
			break;
		case 'd':
		case 'S':
		case 'D':
			dump_what = c;
			dump_arg = optarg;
			break;
		case 'h':
			help(stdout, 0);
			break;
		default:
			help(stderr, EXIT_USAGE);
		}
	}
	if (s->no_fmap && s->force_fmap) {
		fputs("famfs_server: --no-fmap and --force-fmap exclude each other\n", stderr);
		return EXIT_USAGE;
	}
	if (argc - optind != (dump_what ? 1 : 2))
		help(stderr, EXIT_USAGE);
	s->manifest = argv[optind];
	load_manifest(s);
	if (s->shared)
		shared_setup(s);
	if (dump_what) {
		rc = dump(s, dump_what, dump_arg);
		free_manifest(s);
		return rc;
	}

	s->mnt = realpath(argv[optind + 1], NULL);
	if (!s->mnt)
		die("%s: %s", argv[optind + 1], strerror(errno));
	s->uid = getuid();
	s->gid = getgid();
	clock_gettime(CLOCK_REALTIME, &s->start);
	s->buf = xzalloc(BUF_SIZE);
	s->out = xzalloc(BUF_SIZE);
	setup_signals(s);
	open_stats(s);
	ctl_open(s);
	do_mount(s);
	drop_privileges(s);

	rc = serve(s);
	if (s->log_pid) {
		/* no one serves its requests any more */
		kill(s->log_pid, SIGKILL);
		waitpid(s->log_pid, NULL, 0);
	}
	if (rc && !s->initialized && s->mounted) {
		/* never became usable: do not leave a dead mount behind */
		umount2(s->mnt, MNT_DETACH);
	}
	__atomic_store_n(&s->st->done, 1, __ATOMIC_RELEASE);
	if (rc)
		warn_msg("%s", s->initialized ? "serving failed" : "no INIT from the kernel");
	close(s->fd);
	ctl_close(s);
	if (s->st != &s->local_stats)
		munmap(s->st, sizeof(*s->st));
	free(s->buf);
	free(s->out);
	free(s->mnt);
	free_manifest(s);
	return rc ? EXIT_RUNTIME : 0;
}
