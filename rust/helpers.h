/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C helpers of famfs_rs.ko: small functions for what Rust cannot reach
 * through bindgen (static inlines, macros, offsetof checks).
 */
#ifndef FAMFS_RS_HELPERS_H
#define FAMFS_RS_HELPERS_H

#include <linux/jump_label.h>
#include <linux/types.h>

/**
 * struct famfs_rs_iomap_layout - the C compiler's view of struct iomap
 * @size: sizeof(struct iomap)
 * @addr: offsetof(struct iomap, addr)
 * @offset: offsetof(struct iomap, offset)
 * @length: offsetof(struct iomap, length)
 * @type: offsetof(struct iomap, type)
 * @flags: offsetof(struct iomap, flags)
 * @dax_dev: offsetof(struct iomap, dax_dev)
 */
struct famfs_rs_iomap_layout {
	size_t size;
	size_t addr;
	size_t offset;
	size_t length;
	size_t type;
	size_t flags;
	size_t dax_dev;
};

void famfs_rs_iomap_layout(struct famfs_rs_iomap_layout *l);

struct dax_device;
struct dax_holder_operations;

struct path;
struct cred;

void famfs_rs_root_get(struct path *root, const struct path *from);
const struct cred *famfs_rs_cred_get(const struct cred *from);
void famfs_rs_server_put(struct path *root, const struct cred *cred);
int famfs_rs_daxdev_open(const struct path *root, const struct cred *cred,
			 const char *path, void *holder,
			 const struct dax_holder_operations *hops,
			 struct dax_device **out);
void famfs_rs_daxdev_close(struct dax_device *dax_dev, void *holder);
int famfs_rs_daxdev_check_end(struct dax_device *dax_dev, u64 end);
bool famfs_rs_log_allowed(void);
bool famfs_rs_mf_pre_remove(int mf_flags);

struct inode;

int famfs_rs_inode_pin(struct inode *inode);
void famfs_rs_inode_unpin(struct inode *inode);
void famfs_rs_mapping_set_dax_stable(struct inode *inode);
int famfs_rs_mf_kill(struct inode *inode, u64 offset, u64 len, int mf_flags);
void famfs_rs_cond_resched(void);

/*
 * On: iomap_begin times itself (debugfs iomap_timing). A struct around the
 * key, which is the shape Rust's static_branch_unlikely!() takes.
 */
struct famfs_rs_timing {
	struct static_key_false key;
};

extern struct famfs_rs_timing famfs_rs_iomap_timing;

void famfs_rs_timing_set(bool on);
bool famfs_rs_timing_enabled(void);

#endif /* FAMFS_RS_HELPERS_H */
