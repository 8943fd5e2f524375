// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers of famfs_rs.ko. See helpers.h.
 */
#include <linux/dax.h>
#include <linux/fs.h>
#include <linux/iomap.h>
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
 * famfs_rs_daxdev_open() - take a DAX device by path as its fs-dax holder
 * @path: path of the character device, e.g. /dev/dax1.0
 * @holder: the holder cookie (dax_holder() returns it to @hops)
 * @hops: holder operations (memory failure notification)
 * @out: the device, on success
 *
 * Return: 0; -ENOENT, -ELOOP, ... from the path lookup; -ENODEV if the path
 * is not a character device or not a DAX device; -EOPNOTSUPP if the DAX
 * device is not bound to fsdev_dax; -EBUSY if another holder has it.
 */
int famfs_rs_daxdev_open(const char *path, void *holder,
			 const struct dax_holder_operations *hops,
			 struct dax_device **out)
{
	struct dax_device *dax_dev;
	struct inode *inode;
	struct path p;
	dev_t devt;
	int rc;

	rc = kern_path(path, LOOKUP_FOLLOW, &p);
	if (rc)
		return rc;
	inode = d_backing_inode(p.dentry);
	devt = inode->i_rdev;
	rc = S_ISCHR(inode->i_mode) ? 0 : -ENODEV;
	path_put(&p);
	if (rc)
		return rc;

	/*
	 * NULL for any dev_t but a device-dax instance's (patches/0003: in
	 * plain 7.3 this would create a bogus dax_device for /dev/null).
	 */
	dax_dev = dax_dev_get(devt);
	if (!dax_dev)
		return -ENODEV;
	rc = fs_dax_get(dax_dev, holder, hops);
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

/*
 * One budget for every famfs_rs message about what a server sent: generous
 * enough that each rejected open of a test run gets its line, still bounded
 * against a server that fails opens in a loop.
 */
static DEFINE_RATELIMIT_STATE(famfs_rs_log_rs, 5 * HZ, 100);

/**
 * famfs_rs_log_ratelimited() - log a message about a server, rate-limited
 * @err: log at KERN_ERR instead of KERN_WARNING
 * @msg: the message, without the "famfs_rs: " prefix or a trailing newline
 */
void famfs_rs_log_ratelimited(bool err, const char *msg)
{
	if (!__ratelimit(&famfs_rs_log_rs))
		return;
	if (err)
		pr_err("famfs_rs: %s\n", msg);
	else
		pr_warn("famfs_rs: %s\n", msg);
}
