// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the eventfd LUO handler: the checks that a handover record
 * from the previous kernel goes through before it is used, and the round
 * trip from a live eventfd to a record and back. Included at the end of
 * fs/eventfd_luo.c so that the static functions can be tested.
 */

#include <kunit/test.h>
#include <linux/file.h>

static void eventfd_luo_test_decode_valid_flags(struct kunit *test)
{
	static const struct {
		u32 record;
		unsigned int efd;
	} cases[] = {
		{ 0, 0 },
		{ EVENTFD_LUO_FLAG_SEMAPHORE, EFD_SEMAPHORE },
		{ EVENTFD_LUO_FLAG_NONBLOCK, EFD_NONBLOCK },
		{ EVENTFD_LUO_FLAGS_MASK, EFD_SEMAPHORE | EFD_NONBLOCK },
	};
	struct eventfd_luo_ser ser = {};
	unsigned int flags;
	int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		ser.flags = cases[i].record;
		flags = ~0U;
		KUNIT_EXPECT_EQ_MSG(test, eventfd_luo_decode(&ser, &flags), 0,
				    "record flags %#x", cases[i].record);
		KUNIT_EXPECT_EQ_MSG(test, flags, cases[i].efd,
				    "record flags %#x", cases[i].record);
	}
}

static void eventfd_luo_test_decode_unknown_flag(struct kunit *test)
{
	struct eventfd_luo_ser ser = {};
	unsigned int flags;
	int bit;

	for (bit = 0; bit < 32; bit++) {
		if (BIT(bit) & EVENTFD_LUO_FLAGS_MASK)
			continue;
		ser.flags = EVENTFD_LUO_FLAG_SEMAPHORE | BIT(bit);
		KUNIT_EXPECT_EQ_MSG(test, eventfd_luo_decode(&ser, &flags),
				    -EINVAL, "record flags %#x", ser.flags);
	}
}

static void eventfd_luo_test_decode_reserved(struct kunit *test)
{
	static const u32 values[] = { 1, 0x80000000, U32_MAX };
	struct eventfd_luo_ser ser = {};
	unsigned int flags;
	int i;

	for (i = 0; i < ARRAY_SIZE(values); i++) {
		ser.reserved = values[i];
		KUNIT_EXPECT_EQ_MSG(test, eventfd_luo_decode(&ser, &flags),
				    -EINVAL, "reserved %#x", values[i]);
	}
}

static void eventfd_luo_test_check_handle(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, eventfd_luo_check_handle(0), -EINVAL);
	KUNIT_EXPECT_EQ(test, eventfd_luo_check_handle(PAGE_SIZE + 8), -EINVAL);
	KUNIT_EXPECT_EQ(test, eventfd_luo_check_handle(U64_MAX), -EINVAL);
	KUNIT_EXPECT_EQ(test, eventfd_luo_check_handle(16 * PAGE_SIZE), 0);
}

/*
 * Save a live eventfd into a record, decode the record and build a new
 * eventfd from it, as preserve and retrieve do across a kexec.
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
	struct eventfd_luo_ser ser;
	unsigned int flags, restored_flags;
	struct file *file, *restored;
	u64 restored_count;
	int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		file = eventfd_file_create(cases[i].count, cases[i].flags);
		KUNIT_ASSERT_FALSE(test, IS_ERR(file));

		memset(&ser, 0xff, sizeof(ser));
		eventfd_luo_save(file, &ser);
		fput(file);

		KUNIT_EXPECT_EQ(test, ser.count, cases[i].count);
		KUNIT_EXPECT_EQ(test, ser.reserved, 0);
		KUNIT_ASSERT_EQ(test, eventfd_luo_decode(&ser, &flags), 0);
		KUNIT_EXPECT_EQ(test, flags, cases[i].flags);

		restored = eventfd_file_create(ser.count, flags);
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
	struct eventfd_luo_ser ser;
	struct file *file;

	file = eventfd_file_create(5, EFD_NONBLOCK);
	KUNIT_ASSERT_FALSE(test, IS_ERR(file));

	spin_lock(&file->f_lock);
	file->f_flags &= ~O_NONBLOCK;
	spin_unlock(&file->f_lock);

	eventfd_luo_save(file, &ser);
	fput(file);
	KUNIT_EXPECT_EQ(test, ser.flags & EVENTFD_LUO_FLAG_NONBLOCK, 0);
	KUNIT_EXPECT_EQ(test, ser.count, 5);
}

static struct kunit_case eventfd_luo_test_cases[] = {
	KUNIT_CASE(eventfd_luo_test_decode_valid_flags),
	KUNIT_CASE(eventfd_luo_test_decode_unknown_flag),
	KUNIT_CASE(eventfd_luo_test_decode_reserved),
	KUNIT_CASE(eventfd_luo_test_check_handle),
	KUNIT_CASE(eventfd_luo_test_round_trip),
	KUNIT_CASE(eventfd_luo_test_live_nonblock),
	{}
};

static struct kunit_suite eventfd_luo_test_suite = {
	.name = "eventfd_luo",
	.test_cases = eventfd_luo_test_cases,
};

kunit_test_suite(eventfd_luo_test_suite);
