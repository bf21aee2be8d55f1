// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the eventfd LUO handler: the checks that a handover slot
 * from the previous kernel goes through before it is used, the round trip
 * from a live eventfd to a slot and back, and the slots and blocks of the
 * outgoing handover table. Included at the end of fs/eventfd_luo.c so that
 * the static functions can be tested.
 */

#include <kunit/test.h>
#include <linux/file.h>

static void eventfd_luo_test_decode_valid_flags(struct kunit *test)
{
	static const struct {
		u32 slot;
		unsigned int efd;
	} cases[] = {
		{ EVENTFD_LUO_FLAG_USED, 0 },
		{ EVENTFD_LUO_FLAG_USED | EVENTFD_LUO_FLAG_SEMAPHORE, EFD_SEMAPHORE },
		{ EVENTFD_LUO_FLAG_USED | EVENTFD_LUO_FLAG_NONBLOCK, EFD_NONBLOCK },
		{ EVENTFD_LUO_FLAGS_MASK, EFD_SEMAPHORE | EFD_NONBLOCK },
	};
	struct eventfd_luo_slot_ser slot = {};
	unsigned int flags;
	int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		slot.flags = cases[i].slot;
		flags = ~0U;
		KUNIT_EXPECT_EQ_MSG(test, eventfd_luo_decode(&slot, 0, &flags), 0,
				    "slot flags %#x", cases[i].slot);
		KUNIT_EXPECT_EQ_MSG(test, flags, cases[i].efd,
				    "slot flags %#x", cases[i].slot);
	}
}

static void eventfd_luo_test_decode_unknown_flag(struct kunit *test)
{
	struct eventfd_luo_slot_ser slot = {};
	unsigned int flags;
	int bit;

	for (bit = 0; bit < 32; bit++) {
		if (BIT(bit) & EVENTFD_LUO_FLAGS_MASK)
			continue;
		slot.flags = EVENTFD_LUO_FLAG_USED | BIT(bit);
		KUNIT_EXPECT_EQ_MSG(test, eventfd_luo_decode(&slot, 0, &flags),
				    -EINVAL, "slot flags %#x", slot.flags);
	}
}

/* A free slot, or one already retrieved, is never turned into an eventfd. */
static void eventfd_luo_test_decode_free_slot(struct kunit *test)
{
	static const u32 values[] = {
		0, EVENTFD_LUO_FLAG_SEMAPHORE,
		EVENTFD_LUO_FLAG_SEMAPHORE | EVENTFD_LUO_FLAG_NONBLOCK,
	};
	struct eventfd_luo_slot_ser slot = { .count = 7 };
	unsigned int flags;
	int i;

	for (i = 0; i < ARRAY_SIZE(values); i++) {
		slot.flags = values[i];
		KUNIT_EXPECT_EQ_MSG(test, eventfd_luo_decode(&slot, 0, &flags),
				    -EINVAL, "slot flags %#x", values[i]);
	}
}

/* Slot indices past the end of the incoming table are rejected. */
static void eventfd_luo_test_incoming_index(struct kunit *test)
{
	const u64 last = EVENTFD_LUO_SLOTS_PER_BLOCK - 1;
	struct eventfd_luo_slot_ser *slots;
	struct eventfd_luo_block block;
	struct eventfd_luo_table table = { .blocks = &block, .nblocks = 1 };

	slots = kunit_kcalloc(test, EVENTFD_LUO_SLOTS_PER_BLOCK, sizeof(*slots),
			      GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, slots);
	block.slots = slots;

	KUNIT_EXPECT_PTR_EQ(test, eventfd_luo_incoming_slot(&table, 0), &slots[0]);
	KUNIT_EXPECT_PTR_EQ(test, eventfd_luo_incoming_slot(&table, last),
			    &slots[last]);
	KUNIT_EXPECT_NULL(test, eventfd_luo_incoming_slot(&table, last + 1));
	KUNIT_EXPECT_NULL(test, eventfd_luo_incoming_slot(&table, U64_MAX));
}

/* A table handle that cannot be a block address is rejected before use. */
static void eventfd_luo_test_restore_bad_head(struct kunit *test)
{
	static const u64 heads[] = { 0, 8, PAGE_SIZE + 16 };
	struct eventfd_luo_table *table;
	int i;

	table = eventfd_luo_table_alloc();
	KUNIT_ASSERT_NOT_NULL(test, table);
	for (i = 0; i < ARRAY_SIZE(heads); i++) {
		KUNIT_EXPECT_EQ_MSG(test, eventfd_luo_table_restore(table, heads[i]),
				    -EINVAL, "table handle %#llx", heads[i]);
		KUNIT_EXPECT_EQ(test, table->nblocks, 0);
	}
	eventfd_luo_table_free(table);
}

/*
 * Save a live eventfd into a slot, decode the slot and build a new eventfd
 * from it, as preserve and retrieve do across a kexec.
 */
static void eventfd_luo_test_round_trip(struct kunit *test)
{
	static const struct {
		u64 count;
		unsigned int flags;
	} cases[] = {
		{ 0, 0 },
		{ 0x100000001ULL, EFD_NONBLOCK },
		{ ULLONG_MAX - 1, EFD_SEMAPHORE },
		{ ULLONG_MAX, EFD_SEMAPHORE | EFD_NONBLOCK },
	};
	struct eventfd_luo_slot_ser slot;
	unsigned int flags, restored_flags;
	struct file *file, *restored;
	u64 restored_count;
	int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		file = eventfd_file_create(cases[i].count, cases[i].flags);
		KUNIT_ASSERT_FALSE(test, IS_ERR(file));

		memset(&slot, 0xff, sizeof(slot));
		eventfd_luo_save(file, &slot);
		fput(file);

		KUNIT_EXPECT_EQ(test, slot.count, cases[i].count);
		KUNIT_ASSERT_EQ(test, eventfd_luo_decode(&slot, 0, &flags), 0);
		KUNIT_EXPECT_EQ(test, flags, cases[i].flags);

		restored = eventfd_file_create(slot.count, flags);
		KUNIT_ASSERT_FALSE(test, IS_ERR(restored));
		eventfd_file_state(restored, &restored_count, &restored_flags);
		KUNIT_EXPECT_EQ(test, restored_count, cases[i].count);
		KUNIT_EXPECT_EQ(test, restored_flags, cases[i].flags);
		KUNIT_EXPECT_TRUE(test, is_eventfd_file(restored));
		KUNIT_EXPECT_EQ(test, restored->f_flags & O_ACCMODE, O_RDWR);
		fput(restored);
	}
}

/* O_NONBLOCK comes from the file's status flags, not the creation flags. */
static void eventfd_luo_test_live_nonblock(struct kunit *test)
{
	struct eventfd_luo_slot_ser slot;
	struct file *file;

	file = eventfd_file_create(5, EFD_NONBLOCK);
	KUNIT_ASSERT_FALSE(test, IS_ERR(file));

	spin_lock(&file->f_lock);
	file->f_flags &= ~O_NONBLOCK;
	spin_unlock(&file->f_lock);

	eventfd_luo_save(file, &slot);
	fput(file);
	KUNIT_EXPECT_EQ(test, slot.flags & EVENTFD_LUO_FLAG_NONBLOCK, 0);
	KUNIT_EXPECT_EQ(test, slot.count, 5);
}

#define EVENTFD_LUO_TEST_FILES	10000

/*
 * The outgoing table as preserve and unpreserve use it: 10,000 eventfds fit
 * in at most 16 bytes of table each, every block has the slot count that the
 * next kernel checks, a freed slot is the next one taken, and freeing every
 * slot gives back every block but the first, which the table handle points
 * to.
 */
static void eventfd_luo_test_table(struct kunit *test)
{
	const unsigned long blocks_needed =
		DIV_ROUND_UP(EVENTFD_LUO_TEST_FILES, EVENTFD_LUO_SLOTS_PER_BLOCK);
	struct eventfd_luo_table *table;
	struct file *file;
	int i, index, added;
	u64 head;

	if (!kho_is_enabled())
		kunit_skip(test, "KHO is disabled, no preserved memory to allocate");

	file = eventfd_file_create(3, EFD_SEMAPHORE);
	KUNIT_ASSERT_FALSE(test, IS_ERR(file));
	table = eventfd_luo_table_alloc();
	KUNIT_ASSERT_NOT_NULL(test, table);
	KUNIT_ASSERT_EQ(test, eventfd_luo_table_grow(table), 0);
	head = kho_block_set_head_pa(&table->set);

	mutex_lock(&table->lock);
	for (added = 0; added < EVENTFD_LUO_TEST_FILES; added++) {
		index = eventfd_luo_table_add(table, file);
		if (index != added) {
			KUNIT_FAIL(test, "slot %d: expected index %d, actual %d",
				   added, added, index);
			goto out_remove;
		}
	}
	KUNIT_EXPECT_EQ(test, table->nblocks, blocks_needed);
	KUNIT_EXPECT_EQ(test, table->set.nblocks, blocks_needed);
	KUNIT_EXPECT_LE_MSG(test, table->nblocks * PAGE_SIZE,
			    16UL * EVENTFD_LUO_TEST_FILES,
			    "%lu table pages for %d eventfds", table->nblocks,
			    EVENTFD_LUO_TEST_FILES);
	KUNIT_EXPECT_EQ(test, eventfd_luo_slot(table, 4321)->count, 3);
	KUNIT_EXPECT_EQ(test, eventfd_luo_slot(table, 4321)->flags,
			EVENTFD_LUO_FLAG_USED | EVENTFD_LUO_FLAG_SEMAPHORE);

	/* A freed slot is reused, and the table does not grow. */
	eventfd_luo_table_remove(table, 4321);
	KUNIT_EXPECT_EQ(test, eventfd_luo_slot(table, 4321)->flags, 0);
	KUNIT_EXPECT_EQ(test, eventfd_luo_table_add(table, file), 4321);
	KUNIT_EXPECT_EQ(test, table->nblocks, blocks_needed);

	for (i = 0; i < table->nblocks; i++) {
		struct kho_block_header_ser *header;

		header = (void *)table->blocks[i].slots - sizeof(*header);

		KUNIT_EXPECT_EQ_MSG(test, header->count, EVENTFD_LUO_SLOTS_PER_BLOCK,
				    "block %d", i);
	}

out_remove:
	/* Only the slots added above, so that a failure does not cascade. */
	for (i = added - 1; i >= 0; i--)
		eventfd_luo_table_remove(table, i);
	KUNIT_EXPECT_EQ(test, table->nblocks, 1);
	KUNIT_EXPECT_EQ(test, table->set.nblocks, 1);
	KUNIT_EXPECT_EQ(test, kho_block_set_head_pa(&table->set), head);
	mutex_unlock(&table->lock);

	eventfd_luo_table_free(table);
	fput(file);
}

static struct kunit_case eventfd_luo_test_cases[] = {
	KUNIT_CASE(eventfd_luo_test_decode_valid_flags),
	KUNIT_CASE(eventfd_luo_test_decode_unknown_flag),
	KUNIT_CASE(eventfd_luo_test_decode_free_slot),
	KUNIT_CASE(eventfd_luo_test_incoming_index),
	KUNIT_CASE(eventfd_luo_test_restore_bad_head),
	KUNIT_CASE(eventfd_luo_test_round_trip),
	KUNIT_CASE(eventfd_luo_test_live_nonblock),
	KUNIT_CASE(eventfd_luo_test_table),
	{}
};

static struct kunit_suite eventfd_luo_test_suite = {
	.name = "eventfd_luo",
	.test_cases = eventfd_luo_test_cases,
};

kunit_test_suite(eventfd_luo_test_suite);
