/* SPDX-License-Identifier: GPL-2.0 */

#ifndef _LINUX_KHO_ABI_EVENTFD_H
#define _LINUX_KHO_ABI_EVENTFD_H

#include <linux/bits.h>
#include <linux/types.h>
#include <linux/kho/abi/block.h>

/**
 * DOC: eventfd Live Update ABI
 *
 * All eventfds preserved by the Live Update Orchestrator (LUO) share one
 * handover table in memory preserved with KHO. The table is a chain of KHO
 * serialization blocks (see ``include/linux/kho/abi/block.h``). Each block is
 * one page: a &struct kho_block_header_ser whose count is always
 * %EVENTFD_LUO_SLOTS_PER_BLOCK, followed by that many slots of
 * &struct eventfd_luo_slot_ser. Slot i of block b has the index
 * b * %EVENTFD_LUO_SLOTS_PER_BLOCK + i.
 *
 * The table is the data of the LUO File-Lifecycle-Bound object
 * %EVENTFD_LUO_FLB_COMPATIBLE, whose u64 handle is the physical address of
 * the first block. The u64 handle that LUO stores for each preserved eventfd
 * is the index of its slot. A slot whose flags lack %EVENTFD_LUO_FLAG_USED is
 * free.
 *
 * This layout is a contract between the kernel that preserves the eventfds
 * and the kernel that retrieves them. Any change to it, including giving a
 * meaning to a flag bit outside %EVENTFD_LUO_FLAGS_MASK, requires new version
 * numbers in %EVENTFD_LUO_FH_COMPATIBLE and %EVENTFD_LUO_FLB_COMPATIBLE. The
 * retrieving kernel rejects a block whose count is not
 * %EVENTFD_LUO_SLOTS_PER_BLOCK, a slot index beyond the table, and a slot
 * that is free or has unknown flag bits.
 *
 * Versions:
 *
 * - ``eventfd-v1``: one page per eventfd, holding a 16-byte record whose
 *   physical address was the file's handle. Not accepted by this kernel.
 * - ``eventfd-v2`` with ``eventfd-table-v1``: the shared table described
 *   here, 12 bytes per eventfd.
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

/**
 * EVENTFD_LUO_FLAG_USED - The slot contains a preserved eventfd.
 */
#define EVENTFD_LUO_FLAG_USED		BIT(2)

/* The flag bits that this version of the ABI defines. */
#define EVENTFD_LUO_FLAGS_MASK		(EVENTFD_LUO_FLAG_SEMAPHORE | \
					 EVENTFD_LUO_FLAG_NONBLOCK | \
					 EVENTFD_LUO_FLAG_USED)

/**
 * struct eventfd_luo_slot_ser - Serialized state of one eventfd.
 * @count: The eventfd counter. Every value from 0 to ``ULLONG_MAX`` is
 *         valid; ``ULLONG_MAX`` is the overflow state that only in-kernel
 *         signalling can reach.
 * @flags: ``EVENTFD_LUO_FLAG_*`` bits. Bits outside %EVENTFD_LUO_FLAGS_MASK
 *         must be 0.
 */
struct eventfd_luo_slot_ser {
	u64 count;
	u32 flags;
} __packed;

/* The number of slots in one block of the handover table. */
#define EVENTFD_LUO_SLOTS_PER_BLOCK					\
	((KHO_BLOCK_SIZE - sizeof(struct kho_block_header_ser)) /	\
	 sizeof(struct eventfd_luo_slot_ser))

/* The compatibility string for the eventfd file handler */
#define EVENTFD_LUO_FH_COMPATIBLE	"eventfd-v2"

/* The compatibility string for the handover table of all eventfds */
#define EVENTFD_LUO_FLB_COMPATIBLE	"eventfd-table-v1"

#endif /* _LINUX_KHO_ABI_EVENTFD_H */
