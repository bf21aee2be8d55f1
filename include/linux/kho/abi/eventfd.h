/* SPDX-License-Identifier: GPL-2.0 */

#ifndef _LINUX_KHO_ABI_EVENTFD_H
#define _LINUX_KHO_ABI_EVENTFD_H

#include <linux/bits.h>
#include <linux/types.h>

/**
 * DOC: eventfd Live Update ABI
 *
 * An eventfd preserved by the Live Update Orchestrator (LUO) is handed to the
 * next kernel as one &struct eventfd_luo_ser in memory preserved with KHO.
 * The u64 handle that LUO stores for the file is the physical address of that
 * record.
 *
 * This layout is a contract between the kernel that preserves the eventfd and
 * the kernel that retrieves it. Any change to it, including giving a meaning
 * to a reserved field or to a flag bit outside %EVENTFD_LUO_FLAGS_MASK,
 * requires a new version number in %EVENTFD_LUO_FH_COMPATIBLE. The retrieving
 * kernel rejects a record with unknown flag bits or a non-zero reserved field.
 */

/**
 * EVENTFD_LUO_FLAG_SEMAPHORE - The eventfd was created with ``EFD_SEMAPHORE``.
 *
 * A read returns 1 and decrements the counter by 1, instead of returning the
 * whole counter and resetting it to 0.
 */
#define EVENTFD_LUO_FLAG_SEMAPHORE	BIT(0)

/**
 * EVENTFD_LUO_FLAG_NONBLOCK - The file had ``O_NONBLOCK`` set at reboot.
 *
 * This is the file's status flag as last set by eventfd2() or fcntl(), not
 * the flag the eventfd was created with.
 */
#define EVENTFD_LUO_FLAG_NONBLOCK	BIT(1)

/* The flag bits that this version of the ABI defines. */
#define EVENTFD_LUO_FLAGS_MASK		(EVENTFD_LUO_FLAG_SEMAPHORE | \
					 EVENTFD_LUO_FLAG_NONBLOCK)

/**
 * struct eventfd_luo_ser - Serialized state of one eventfd.
 * @count:    The eventfd counter. Every value from 0 to ``ULLONG_MAX`` is
 *            valid; ``ULLONG_MAX`` is the overflow state that only in-kernel
 *            signalling can reach.
 * @flags:    ``EVENTFD_LUO_FLAG_*`` bits. Bits outside
 *            %EVENTFD_LUO_FLAGS_MASK must be 0.
 * @reserved: Must be 0.
 */
struct eventfd_luo_ser {
	u64 count;
	u32 flags;
	u32 reserved;
};

/* The compatibility string for the eventfd file handler */
#define EVENTFD_LUO_FH_COMPATIBLE	"eventfd-v1"

#endif /* _LINUX_KHO_ABI_EVENTFD_H */
