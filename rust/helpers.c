// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers of famfs_rs.ko. See helpers.h.
 */
#include <linux/cred.h>
#include <linux/dax.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/fuse_dax_fmap.h>
#include <linux/iomap.h>
#include <linux/mount.h>
#include <linux/mm.h>
#include <linux/namei.h>
#include <linux/pfn.h>
#include <linux/printk.h>
#include <linux/ratelimit.h>
#include <linux/stddef.h>
#include "helpers.h"

/**
 * famfs_rs_iomap_layout() - report the layout of struct iomap
 * @l: filled with the size and field offsets the C compiler uses
 *
 * The Rust side compares this with what the module-local bindgen pass
 * generated, so a mismatch between the two is caught by a KUnit case
 * instead of corrupting an iomap on the fault path.
 */
void famfs_rs_iomap_layout(struct famfs_rs_iomap_layout *l)
{
	l->size = sizeof(struct iomap);
	l->addr = offsetof(struct iomap, addr);
	l->offset = offsetof(struct iomap, offset);
	l->length = offsetof(struct iomap, length);
	l->type = offsetof(struct iomap, type);
	l->flags = offsetof(struct iomap, flags);
	l->dax_dev = offsetof(struct iomap, dax_dev);
}

/**
 * famfs_rs_root_get() - a reference to the server's root directory
 * @root: filled with @from, referenced
 * @from: the root of the task that wrote the FUSE_INIT reply, as fuse
 *	passes it to conn_init; NULL for the calling task's (KUnit)
 *
 * famfs_rs resolves the server's daxdev paths from its root, in its mount
 * namespace, with its credentials (famfs_rs_cred_get()), whoever opens a
 * file later. Release with famfs_rs_server_put().
 */
void famfs_rs_root_get(struct path *root, const struct path *from)
{
	if (!from) {
		get_fs_root(current->fs, root);
		return;
	}
	*root = *from;
	path_get(root);
}

/**
 * famfs_rs_cred_get() - a reference to the server's credentials
 * @from: those of the task that wrote the FUSE_INIT reply, as fuse passes
 *	them to conn_init; NULL for the calling task's (KUnit)
 *
 * Return: the credentials, referenced; release with famfs_rs_server_put().
 */
const struct cred *famfs_rs_cred_get(const struct cred *from)
{
	return from ? get_cred(from) : get_current_cred();
}

/**
 * famfs_rs_server_put() - release famfs_rs_root_get() and famfs_rs_cred_get()
 * @root: the root
 * @cred: the credentials
 */
void famfs_rs_server_put(struct path *root, const struct cred *cred)
{
	path_put(root);
	put_cred(cred);
}

/*
 * Find the device node @path names, as the server would open it: from its
 * root (absolute symlinks and ".." stay inside it), with its credentials,
 * following no magic link (/proc/self/... would resolve to whoever opens
 * the file, not the server), and only if the server may open the node for
 * reading and writing: the DAC and LSM checks of inode_permission(), and
 * no nodev mount, as may_open() checks for an open(2) of a device node.
 */
static int famfs_rs_daxdev_lookup(const struct path *root, const struct cred *cred,
				  const char *path, dev_t *devt)
{
	const struct cred *old;
	struct inode *inode;
	struct path p;
	int rc;

	old = override_creds(cred);
	rc = vfs_path_lookup(root->dentry, root->mnt, path,
			     LOOKUP_FOLLOW | LOOKUP_NO_MAGICLINKS, &p);
	if (rc)
		goto out;
	inode = d_backing_inode(p.dentry);
	if (!S_ISCHR(inode->i_mode))
		rc = -ENODEV;
	else if ((p.mnt->mnt_flags & MNT_NODEV) ||
		 (p.mnt->mnt_sb->s_iflags & SB_I_NODEV))	/* may_open_dev() */
		rc = -EACCES;
	else
		rc = inode_permission(mnt_idmap(p.mnt), inode,
				      MAY_OPEN | MAY_READ | MAY_WRITE);
	*devt = inode->i_rdev;
	path_put(&p);
out:
	revert_creds(old);
	return rc;
}

/**
 * famfs_rs_daxdev_open() - take a DAX device by path as its fs-dax holder
 * @root: the directory (and mount namespace) absolute paths start from
 * @cred: the credentials the node is looked up and checked with
 * @path: absolute path of the character device, e.g. /dev/dax1.0
 * @holder: the holder cookie (dax_holder() returns it to @hops)
 * @hops: holder operations (memory failure notification)
 * @out: the device
 *
 * Return: 0 if the device was taken: @out holds it with two references
 * (the lookup's and the holder's), which famfs_rs_daxdev_close() drops;
 * 1 if @holder already holds it (a racing call took it): @out is the
 * device and no reference was taken; -ENOENT, -ELOOP (a magic link), ...
 * from the path lookup; -EACCES if @cred may not open the node for reading
 * and writing, or it is on a nodev mount; -ENODEV if the path is not a
 * character device or not a DAX device; -EOPNOTSUPP if the DAX device is
 * not bound to fsdev_dax; -EBUSY if another holder has it; -ENXIO if it
 * is being removed or was unbound meanwhile; -EINTR if a signal came while
 * it waited for the device's lock (patches/dax/0005).
 */
int famfs_rs_daxdev_open(const struct path *root, const struct cred *cred,
			 const char *path, void *holder,
			 const struct dax_holder_operations *hops,
			 struct dax_device **out)
{
	struct dax_device *dax_dev;
	dev_t devt;
	int rc;

	rc = famfs_rs_daxdev_lookup(root, cred, path, &devt);
	if (rc)
		return rc;

	/*
	 * NULL for any dev_t but a device-dax instance's (patches/dax/0001: in
	 * plain 7.3 this would create a bogus dax_device for /dev/null).
	 */
	dax_dev = dax_dev_get(devt);
	if (!dax_dev)
		return -ENODEV;
	rc = fs_dax_get(dax_dev, holder, hops);
	/* unbound, or being removed, since dax_dev_get() found it */
	if (rc == -ENODEV)
		rc = -ENXIO;
	if (rc == -EBUSY && dax_holder(dax_dev) == holder) {
		/* Ours already: the holding keeps it alive. */
		put_dax(dax_dev);
		*out = dax_dev;
		return 1;
	}
	if (rc) {
		put_dax(dax_dev);
		return rc;
	}
	*out = dax_dev;
	return 0;
}

/**
 * famfs_rs_daxdev_close() - release a device taken by famfs_rs_daxdev_open()
 * @dax_dev: the device
 * @holder: the holder cookie it was taken with
 *
 * Also right after kill_dax() released the holding (the device was
 * unbound, and maybe taken by another holder since): fs_put_dax() then
 * leaves the device's holder alone (patches/dax/0002), and it waits for a
 * notify_failure() still running with @holder.
 */
void famfs_rs_daxdev_close(struct dax_device *dax_dev, void *holder)
{
	fs_put_dax(dax_dev, holder);
	put_dax(dax_dev);
}

/**
 * famfs_rs_daxdev_check_end() - check a DAX device reaches a byte offset
 * @dax_dev: the device
 * @end: an exclusive end offset in bytes, > 0
 *
 * Return: 0 if the byte before @end is backed by the device, else the
 * error dax_direct_access() gives for its page.
 */
int famfs_rs_daxdev_check_end(struct dax_device *dax_dev, u64 end)
{
	unsigned long pfn;
	void *kaddr;
	long avail;
	int id;

	id = dax_read_lock();
	avail = dax_direct_access(dax_dev, PHYS_PFN(end - 1), 1, DAX_ACCESS,
				  &kaddr, &pfn);
	dax_read_unlock(id);
	return avail < 0 ? avail : 0;
}

/**
 * famfs_rs_inode_pin() - pin an inode and keep its super block up
 * @inode: an inode whose memory stays valid during the call
 *
 * Takes @inode->i_sb->s_umount for reading, without waiting, and a
 * reference to @inode: the inode can then be used and put while an
 * unmount waits (an unmount that found the reference would report the
 * inode busy and tear the super block down under it). Does not sleep.
 *
 * Return: 1 if pinned (undo with famfs_rs_inode_unpin()); 0 if the inode
 * is being evicted or its super block is going away (no mapping of it can
 * be left); -EAGAIN if a writer holds s_umount while the super block is
 * active (try again).
 */
int famfs_rs_inode_pin(struct inode *inode)
{
	struct super_block *sb = inode->i_sb;

	if (!down_read_trylock(&sb->s_umount))
		return (READ_ONCE(sb->s_flags) & SB_ACTIVE) ? -EAGAIN : 0;
	if (!(sb->s_flags & SB_ACTIVE) || !igrab(inode)) {
		up_read(&sb->s_umount);
		return 0;
	}
	return 1;
}

/**
 * famfs_rs_inode_unpin() - undo famfs_rs_inode_pin()
 * @inode: the pinned inode
 */
void famfs_rs_inode_unpin(struct inode *inode)
{
	struct super_block *sb = inode->i_sb;

	/*
	 * Maybe the last reference, whose eviction waits for the file's page
	 * references: put by fuse's workqueue, not here in a memory failure or
	 * removal handler (under mf_mutex, or in kill_dax()). Queued while
	 * s_umount is held, so an unmount flushes it before it evicts.
	 */
	fuse_dax_fmap_iput_async(inode);
	up_read(&sb->s_umount);
}

/**
 * famfs_rs_mapping_set_dax_stable() - mapping_set_dax_stable() for Rust
 * @inode: an fmap inode
 *
 * A static inline of pagemap.h (patch dax/0010), which bindgen cannot call.
 */
void famfs_rs_mapping_set_dax_stable(struct inode *inode)
{
	mapping_set_dax_stable(inode->i_mapping);
}

/**
 * famfs_rs_mf_kill() - the fs-dax kill path for a failed file range
 * @inode: a pinned fmap inode
 * @offset: file offset of the range, page aligned
 * @len: bytes in the range
 * @mf_flags: the flags notify_failure() got
 *
 * Signals the processes that map pages of the range (mf_dax_kill_procs():
 * the task that hit the failure and the early-kill ones), which unmaps the
 * pages from every mapping only if it signalled one; then unmaps the range
 * from every mapping in any case, so that a late-kill process's next
 * access faults and fails on the bad range the caller recorded before
 * (SIGBUS, BUS_MCEERR_AR) instead of reading the failed memory.
 * mf_dax_kill_procs() takes the mapping's invalidate_lock (patch dax/0011:
 * read faults of the file do not lock the DAX entry they map), so no fault
 * that started before the range was recorded is still mapping it once it
 * returns: the caller holds no lock of the inode.
 *
 * Return: 0, or mf_dax_kill_procs()'s -EBUSY (not a DAX mapping).
 */
int famfs_rs_mf_kill(struct inode *inode, u64 offset, u64 len, int mf_flags)
{
	int rc = mf_dax_kill_procs(inode->i_mapping, offset >> PAGE_SHIFT,
				   DIV_ROUND_UP(len, PAGE_SIZE), mf_flags);

	unmap_mapping_range(inode->i_mapping, offset, len, 0);
	return rc;
}

/**
 * famfs_rs_cond_resched() - cond_resched() for Rust, which has no binding
 */
void famfs_rs_cond_resched(void)
{
	cond_resched();
}

/**
 * famfs_rs_mf_pre_remove() - whether a memory failure is a device removal
 * @mf_flags: the flags notify_failure() got
 *
 * Return: true for MF_MEM_PRE_REMOVE (kill_dax(): the device goes away).
 */
bool famfs_rs_mf_pre_remove(int mf_flags)
{
	return mf_flags & MF_MEM_PRE_REMOVE;
}

/*
 * One budget for every famfs_rs message about what a server sent: generous
 * enough that each rejected open of a test run gets its line, still bounded
 * against a server that fails opens in a loop.
 */
static DEFINE_RATELIMIT_STATE(famfs_rs_log_rs, 5 * HZ, 100);

/**
 * famfs_rs_log_allowed() - whether the next message may be logged
 *
 * Return: false while the module's messages are being rate-limited.
 */
bool famfs_rs_log_allowed(void)
{
	return __ratelimit(&famfs_rs_log_rs);
}

/*
 * Timing of the module's iomap_begin, for the benchmark (make bench): off
 * unless /sys/kernel/debug/famfs_rs/iomap_timing is 1. The switch is a
 * static key, which the callback tests with static_branch_unlikely!():
 * off, the fault path runs a no-op where the jump to the timing would be.
 */
struct famfs_rs_timing famfs_rs_iomap_timing = { .key = STATIC_KEY_FALSE_INIT };

/**
 * famfs_rs_timing_set() - switch the timing of iomap_begin on or off
 * @on: on
 */
void famfs_rs_timing_set(bool on)
{
	if (on)
		static_branch_enable(&famfs_rs_iomap_timing.key);
	else
		static_branch_disable(&famfs_rs_iomap_timing.key);
}

/**
 * famfs_rs_timing_enabled() - whether iomap_begin times itself
 *
 * Return: the state of the switch.
 */
bool famfs_rs_timing_enabled(void)
{
	return static_key_enabled(&famfs_rs_iomap_timing.key);
}
