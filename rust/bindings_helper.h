/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Headers for the module-local bindgen pass (scripts/module-bindgen.sh):
 * what kernel::bindings does not cover. Only items declared in these files
 * are generated; types they use come from kernel::bindings.
 */
#include <linux/dax.h>
#include <linux/iomap.h>
#include "helpers.h"
