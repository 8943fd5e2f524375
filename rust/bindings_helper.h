/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Headers for the module-local bindgen pass (scripts/module-bindgen.sh):
 * what kernel::bindings does not cover. linux/fuse_dax_fmap.h comes with
 * the kernel patch series in patches/. Only items declared in these files
 * are generated; types they use come from kernel::bindings.
 */
#include <linux/dax.h>
#include <linux/fuse_dax_fmap.h>
#include <linux/iomap.h>
#include "helpers.h"
