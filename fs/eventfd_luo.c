// SPDX-License-Identifier: GPL-2.0

/**
 * DOC: eventfd Preservation via LUO
 *
 * Overview
 * ========
 *
 * An eventfd can be preserved over a kexec with the Live Update Orchestrator
 * (LUO). A virtual machine monitor or a service manager that keeps eventfds
 * as interrupt, doorbell or wake-up counters hands them to LUO before the
 * update and retrieves them afterwards, with no event lost.
 *
 * Only the properties listed below survive. Everything else is reset to what
 * a new eventfd has.
 *
 * All preserved eventfds share one handover table in preserved memory, 12
 * bytes per eventfd in pages of 340, created with the first preserved
 * eventfd and freed with the last one, see the ABI below.
 *
 * Preserved Properties
 * ====================
 *
 * Counter
 *   The full 64-bit counter. It is read when the file is preserved and read
 *   again when the reboot into the next kernel freezes the preserved files,
 *   so events signalled in between are kept. ``ULLONG_MAX``, the overflow
 *   state that poll() reports as ``EPOLLERR``, is preserved as itself.
 *
 * Semaphore Mode
 *   An eventfd created with ``EFD_SEMAPHORE`` still returns 1 per read.
 *
 * Non-Blocking Mode
 *   ``O_NONBLOCK`` as the file has it at reboot, including a change made with
 *   ``fcntl(F_SETFL)`` after creation or after preservation.
 *
 * File Status Flags
 *   An eventfd is always open ``O_RDWR``. The retrieved one is too.
 *
 * .. note::
 *    The freeze does not stop other tasks. A write or an in-kernel signal
 *    that reaches the eventfd after the reboot has frozen the preserved
 *    files succeeds but is not carried to the next kernel. Stop the
 *    producers of events before the reboot to keep every event.
 *
 * Non-Preserved Properties
 * ========================
 *
 * File descriptor number
 *   The retrieved file gets the fd that LUO allocates for it.
 *
 * ``FD_CLOEXEC`` flag
 *   LUO installs every retrieved fd with ``FD_CLOEXEC`` set, whatever the
 *   eventfd had before.
 *
 * Waiters, poll and epoll registrations
 *   Userspace must poll again or add the new fd to its epoll sets.
 *
 * eventfd id
 *   The ``eventfd-id`` shown in fdinfo is allocated anew.
 *
 * In-kernel users
 *   Links held by KVM irqfd and ioeventfd, VFIO interrupt triggers, vhost,
 *   io_uring or AIO are not carried over. Those subsystems must be attached
 *   to the retrieved eventfd again.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/eventfd.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/io.h>
#include <linux/kexec_handover.h>
#include <linux/kho/abi/eventfd.h>
#include <linux/kho_block.h>
#include <linux/liveupdate.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/slab.h>

#include "internal.h"

/**
 * struct eventfd_luo_block - One block of the handover table.
 * @slots: The slots of the block, in preserved memory.
 * @used:  How many of them hold a preserved eventfd (outgoing table only).
 */
struct eventfd_luo_block {
	struct eventfd_luo_slot_ser *slots;
	unsigned int used;
};

/**
 * struct eventfd_luo_table - The handover table shared by all eventfds.
 * @lock:    Protects everything below. Files of different sessions share
 *           the table, and each session has a lock of its own.
 * @set:     The blocks, as KHO serialization blocks.
 * @blocks:  The blocks again, indexed by their position in @set.
 * @nblocks: The number of blocks.
 * @ids:     The slot indices in use (outgoing table only).
 */
struct eventfd_luo_table {
	struct mutex lock;	/* shared by the files of all sessions */
	struct kho_block_set set;
	struct eventfd_luo_block *blocks;
	unsigned long nblocks;
	struct ida ids;
};

static struct liveupdate_flb eventfd_luo_flb;

static void eventfd_luo_save(struct file *file,
			     struct eventfd_luo_slot_ser *slot)
{
	unsigned int flags;
	u64 count;

	eventfd_file_state(file, &count, &flags);

	slot->count = count;
	slot->flags = EVENTFD_LUO_FLAG_USED;
	if (flags & EFD_SEMAPHORE)
		slot->flags |= EVENTFD_LUO_FLAG_SEMAPHORE;
	if (flags & EFD_NONBLOCK)
		slot->flags |= EVENTFD_LUO_FLAG_NONBLOCK;
}

/*
 * Check a slot from the previous kernel and convert its flags into the
 * EFD_* flags that eventfd_file_create() takes. Every counter value is
 * valid, ULLONG_MAX included.
 */
static int eventfd_luo_decode(const struct eventfd_luo_slot_ser *slot,
			      u64 index, unsigned int *flags)
{
	if (!(slot->flags & EVENTFD_LUO_FLAG_USED)) {
		pr_err("handover slot %llu is free or was already retrieved\n",
		       index);
		return -EINVAL;
	}

	if (slot->flags & ~EVENTFD_LUO_FLAGS_MASK) {
		pr_err("unknown flags %#x in handover slot %llu\n", slot->flags,
		       index);
		return -EINVAL;
	}

	*flags = 0;
	if (slot->flags & EVENTFD_LUO_FLAG_SEMAPHORE)
		*flags |= EFD_SEMAPHORE;
	if (slot->flags & EVENTFD_LUO_FLAG_NONBLOCK)
		*flags |= EFD_NONBLOCK;

	return 0;
}

static struct eventfd_luo_slot_ser *
eventfd_luo_slot(struct eventfd_luo_table *table, u64 index)
{
	struct eventfd_luo_block *block;

	block = &table->blocks[index / EVENTFD_LUO_SLOTS_PER_BLOCK];
	return &block->slots[index % EVENTFD_LUO_SLOTS_PER_BLOCK];
}

/*
 * Record the blocks of @table->set in @table->blocks, from block
 * @table->nblocks on.
 */
static int eventfd_luo_index_blocks(struct eventfd_luo_table *table)
{
	struct eventfd_luo_block *blocks;
	struct kho_block *block;
	unsigned long i = 0;

	blocks = krealloc_array(table->blocks, table->set.nblocks,
				sizeof(*blocks), GFP_KERNEL);
	if (!blocks)
		return -ENOMEM;
	table->blocks = blocks;

	list_for_each_entry(block, &table->set.blocks, list) {
		if (i >= table->nblocks) {
			blocks[i].slots = (void *)(block->ser + 1);
			blocks[i].used = 0;
		}
		i++;
	}
	table->nblocks = i;

	return 0;
}

/* Add a block to the end of the outgoing table. */
static int eventfd_luo_table_grow(struct eventfd_luo_table *table)
{
	struct kho_block *last;
	int err;

	err = kho_block_set_grow(&table->set, (table->nblocks + 1) *
				 EVENTFD_LUO_SLOTS_PER_BLOCK);
	if (err)
		return err;

	/* Every slot of a block is part of the table, used or free. */
	last = list_last_entry(&table->set.blocks, struct kho_block, list);
	last->ser->count = EVENTFD_LUO_SLOTS_PER_BLOCK;

	err = eventfd_luo_index_blocks(table);
	if (err)
		kho_block_set_shrink(&table->set, table->nblocks *
				     EVENTFD_LUO_SLOTS_PER_BLOCK);

	return err;
}

/*
 * Give back the blocks at the end of the outgoing table that no eventfd
 * uses. The first block stays: its address is the handle of the table.
 */
static void eventfd_luo_table_trim(struct eventfd_luo_table *table)
{
	while (table->nblocks > 1 && !table->blocks[table->nblocks - 1].used)
		table->nblocks--;

	kho_block_set_shrink(&table->set, table->nblocks *
			     EVENTFD_LUO_SLOTS_PER_BLOCK);
}

static void eventfd_luo_table_free(struct eventfd_luo_table *table)
{
	kho_block_set_destroy(&table->set);
	ida_destroy(&table->ids);
	mutex_destroy(&table->lock);
	kfree(table->blocks);
	kfree(table);
}

static struct eventfd_luo_table *eventfd_luo_table_alloc(void)
{
	struct eventfd_luo_table *table;

	table = kzalloc_obj(*table);
	if (!table)
		return NULL;

	mutex_init(&table->lock);
	kho_block_set_init(&table->set, sizeof(struct eventfd_luo_slot_ser));
	ida_init(&table->ids);

	return table;
}

/* Called when the first eventfd is preserved. */
static int eventfd_luo_flb_preserve(struct liveupdate_flb_op_args *args)
{
	struct eventfd_luo_table *table;
	int err;

	table = eventfd_luo_table_alloc();
	if (!table)
		return -ENOMEM;

	err = eventfd_luo_table_grow(table);
	if (err) {
		eventfd_luo_table_free(table);
		return err;
	}

	args->obj = table;
	args->data = kho_block_set_head_pa(&table->set);

	return 0;
}

/* Called when the last eventfd is unpreserved. */
static void eventfd_luo_flb_unpreserve(struct liveupdate_flb_op_args *args)
{
	eventfd_luo_table_free(args->obj);
}

/*
 * Check the blocks of a restored table and index them. On -EINVAL the
 * table is damaged, and the caller empties it.
 */
static int eventfd_luo_table_restore(struct eventfd_luo_table *table,
				     u64 head)
{
	struct kho_block *block;
	int err;

	if (!head || !PAGE_ALIGNED(head)) {
		pr_err("invalid handover table address %#llx\n", head);
		return -EINVAL;
	}

	err = kho_block_set_restore(&table->set, head);
	if (err) {
		pr_err("failed to restore the handover table: %pe\n",
		       ERR_PTR(err));
		return err == -ENOMEM ? err : -EINVAL;
	}

	list_for_each_entry(block, &table->set.blocks, list) {
		if (block->ser->count != EVENTFD_LUO_SLOTS_PER_BLOCK) {
			pr_err("handover table block has %llu slots, expected %zu\n",
			       block->ser->count, EVENTFD_LUO_SLOTS_PER_BLOCK);
			return -EINVAL;
		}
	}

	return eventfd_luo_index_blocks(table);
}

/*
 * Called in the next kernel when the first eventfd requests the table. A
 * damaged table is replaced by an empty one, so that each eventfd fails its
 * retrieve with -EINVAL and is still finished normally.
 */
static int eventfd_luo_flb_retrieve(struct liveupdate_flb_op_args *args)
{
	struct eventfd_luo_table *table;
	int err;

	table = eventfd_luo_table_alloc();
	if (!table)
		return -ENOMEM;

	err = eventfd_luo_table_restore(table, args->data);
	if (err == -ENOMEM) {
		eventfd_luo_table_free(table);
		return err;
	}
	if (err) {
		kho_block_set_destroy(&table->set);
		table->nblocks = 0;
	}

	args->obj = table;

	return 0;
}

/* Called in the next kernel when the last eventfd is finished. */
static void eventfd_luo_flb_finish(struct liveupdate_flb_op_args *args)
{
	eventfd_luo_table_free(args->obj);
}

/*
 * Save @file in a free slot of the outgoing table, and return the index of
 * the slot or a negative errno.
 */
static int eventfd_luo_table_add(struct eventfd_luo_table *table,
				 struct file *file)
{
	int index, err;

	lockdep_assert_held(&table->lock);

	/* The lowest free index, so that the last blocks empty first. */
	index = ida_alloc(&table->ids, GFP_KERNEL);
	if (index < 0)
		return index;

	if (index >= table->nblocks * EVENTFD_LUO_SLOTS_PER_BLOCK) {
		err = eventfd_luo_table_grow(table);
		if (err) {
			ida_free(&table->ids, index);
			return err;
		}
	}

	table->blocks[index / EVENTFD_LUO_SLOTS_PER_BLOCK].used++;
	eventfd_luo_save(file, eventfd_luo_slot(table, index));

	return index;
}

/* Free the slot at @index of the outgoing table. */
static void eventfd_luo_table_remove(struct eventfd_luo_table *table,
				     u64 index)
{
	lockdep_assert_held(&table->lock);

	memset(eventfd_luo_slot(table, index), 0,
	       sizeof(struct eventfd_luo_slot_ser));
	table->blocks[index / EVENTFD_LUO_SLOTS_PER_BLOCK].used--;
	ida_free(&table->ids, index);
	eventfd_luo_table_trim(table);
}

/*
 * Return the slot at @index of the incoming table, or NULL if the table has
 * no such slot.
 */
static struct eventfd_luo_slot_ser *
eventfd_luo_incoming_slot(struct eventfd_luo_table *table, u64 index)
{
	if (index >= table->nblocks * EVENTFD_LUO_SLOTS_PER_BLOCK) {
		pr_err("handover slot %llu is beyond the %lu slots of the table\n",
		       index, table->nblocks * EVENTFD_LUO_SLOTS_PER_BLOCK);
		return NULL;
	}

	return eventfd_luo_slot(table, index);
}

static int eventfd_luo_preserve(struct liveupdate_file_op_args *args)
{
	struct eventfd_luo_table *table;
	int index, err;

	err = liveupdate_flb_get_outgoing(&eventfd_luo_flb, (void **)&table);
	if (err)
		return err;

	mutex_lock(&table->lock);
	index = eventfd_luo_table_add(table, args->file);
	mutex_unlock(&table->lock);
	liveupdate_flb_put_outgoing(&eventfd_luo_flb);

	if (index < 0)
		return index;

	args->serialized_data = index;

	return 0;
}

static int eventfd_luo_freeze(struct liveupdate_file_op_args *args)
{
	struct eventfd_luo_table *table;
	int err;

	err = liveupdate_flb_get_outgoing(&eventfd_luo_flb, (void **)&table);
	if (err)
		return err;

	/*
	 * Userspace could write to the eventfd or change its O_NONBLOCK with
	 * fcntl() after preserve, so both are read again. The next kernel reads
	 * this copy, even if another task still writes to the eventfd before
	 * the CPUs stop.
	 */
	mutex_lock(&table->lock);
	eventfd_luo_save(args->file,
			 eventfd_luo_slot(table, args->serialized_data));
	mutex_unlock(&table->lock);
	liveupdate_flb_put_outgoing(&eventfd_luo_flb);

	return 0;
}

static void eventfd_luo_unpreserve(struct liveupdate_file_op_args *args)
{
	u64 index = args->serialized_data;
	struct eventfd_luo_table *table;

	if (WARN_ON_ONCE(liveupdate_flb_get_outgoing(&eventfd_luo_flb,
						     (void **)&table)))
		return;

	mutex_lock(&table->lock);
	eventfd_luo_table_remove(table, index);
	mutex_unlock(&table->lock);
	liveupdate_flb_put_outgoing(&eventfd_luo_flb);
}

static int eventfd_luo_retrieve(struct liveupdate_file_op_args *args)
{
	u64 index = args->serialized_data;
	struct eventfd_luo_slot_ser *slot;
	struct eventfd_luo_table *table;
	struct file *file;
	unsigned int flags;
	int err;

	err = liveupdate_flb_get_incoming(&eventfd_luo_flb, (void **)&table);
	if (err) {
		pr_err("no handover table for eventfd slot %llu: %pe\n", index,
		       ERR_PTR(err));
		return err == -ENOMEM ? err : -EINVAL;
	}

	mutex_lock(&table->lock);
	slot = eventfd_luo_incoming_slot(table, index);
	if (!slot) {
		err = -EINVAL;
		goto out_unlock;
	}

	err = eventfd_luo_decode(slot, index, &flags);
	if (err)
		goto out_unlock;

	file = eventfd_file_create(slot->count, flags);
	if (IS_ERR(file)) {
		err = PTR_ERR(file);
		pr_err("failed to create eventfd: %pe\n", file);
		goto out_unlock;
	}

	/* A second file that claims the same slot is rejected. */
	slot->flags &= ~EVENTFD_LUO_FLAG_USED;
	args->file = file;

out_unlock:
	mutex_unlock(&table->lock);
	liveupdate_flb_put_incoming(&eventfd_luo_flb);

	return err;
}

/*
 * The slots of a file need no cleanup of their own: the handover table goes
 * back to the page allocator when the last eventfd is finished.
 */
static void eventfd_luo_finish(struct liveupdate_file_op_args *args)
{
}

static bool eventfd_luo_can_preserve(struct liveupdate_file_handler *handler,
				     struct file *file)
{
	return is_eventfd_file(file);
}

/*
 * LUO tracks every preserved file in one xarray, keyed by this id. The
 * default key, the file's address, costs a node of that xarray per file.
 * Eventfd ids are dense and below INT_MAX, so they cost a few bytes per
 * file, and never equal the kernel addresses that the in-tree handlers
 * use. An eventfd that got no id falls back to its address.
 */
static unsigned long eventfd_luo_get_id(struct file *file)
{
	int id = eventfd_file_id(file);

	return id >= 0 ? id : (unsigned long)file;
}

static const struct liveupdate_file_ops eventfd_luo_file_ops = {
	.can_preserve = eventfd_luo_can_preserve,
	.preserve = eventfd_luo_preserve,
	.unpreserve = eventfd_luo_unpreserve,
	.freeze = eventfd_luo_freeze,
	.retrieve = eventfd_luo_retrieve,
	.finish = eventfd_luo_finish,
	.get_id = eventfd_luo_get_id,
	.owner = THIS_MODULE,
};

static struct liveupdate_file_handler eventfd_luo_handler = {
	.ops = &eventfd_luo_file_ops,
	.compatible = EVENTFD_LUO_FH_COMPATIBLE,
};

static const struct liveupdate_flb_ops eventfd_luo_flb_ops = {
	.preserve = eventfd_luo_flb_preserve,
	.unpreserve = eventfd_luo_flb_unpreserve,
	.retrieve = eventfd_luo_flb_retrieve,
	.finish = eventfd_luo_flb_finish,
	.owner = THIS_MODULE,
};

static struct liveupdate_flb eventfd_luo_flb = {
	.ops = &eventfd_luo_flb_ops,
	.compatible = EVENTFD_LUO_FLB_COMPATIBLE,
};

static int __init eventfd_luo_init(void)
{
	int err = liveupdate_register_file_handler(&eventfd_luo_handler);

	if (err == -EOPNOTSUPP)
		return 0;
	if (!err) {
		err = liveupdate_register_flb(&eventfd_luo_handler,
					      &eventfd_luo_flb);
		if (err)
			liveupdate_unregister_file_handler(&eventfd_luo_handler);
	}
	if (err)
		pr_err("could not register the eventfd file handler: %pe\n",
		       ERR_PTR(err));

	return err;
}
late_initcall(eventfd_luo_init);

#if IS_ENABLED(CONFIG_LIVEUPDATE_EVENTFD_KUNIT_TEST)
#include "eventfd_luo_test.c"
#endif
