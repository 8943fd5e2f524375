// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers of famfs_rs.ko. See helpers.h.
 */
#include <linux/iomap.h>
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
