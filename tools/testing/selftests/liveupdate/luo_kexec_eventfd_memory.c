// SPDX-License-Identifier: GPL-2.0

/*
 * Check that the memory LUO holds for preserved eventfds comes back in the
 * next kernel.
 *
 * The eventfd handler keeps one handover page per preserved eventfd, taken
 * with kho_alloc_preserve() at preserve time. In the next kernel, retrieve
 * gives that page to the page allocator. Stage 1 measures the free memory
 * that preserving EVENTFD_COUNT eventfds takes and hands the figure to
 * stage 2 in the counter of a preserved eventfd. Stage 2 measures the free
 * memory that retrieving them, finishing their session and closing them gives
 * back, and passes when that is at least EVENTFD_COUNT pages less
 * TOLERANCE_PERCENT.
 *
 * Free memory
 * ===========
 *
 * A freed page first goes to a per-CPU free list, which can hold several
 * hundred pages per CPU: as much as the figure measured here. MemFree only
 * counts the pages in the buddy allocator, so this test counts both: the
 * "pages free" lines of /proc/zoneinfo (which MemFree adds up) and the
 * "count:" lines of its per-CPU lists, all from one read of the file.
 * MemFree from /proc/meminfo is printed next to it. Before each reading the
 * test waits for an RCU grace period where membarrier() can (xarray nodes are
 * freed after one), drops the caches and folds the per-CPU vmstat counters
 * with /proc/sys/vm/stat_refresh on SMP kernels, and it reads again until two
 * readings SETTLE_DELAY_US apart agree within SETTLE_SLACK_PAGES.
 *
 * Tolerance
 * =========
 *
 * Between the two readings of stage 2 the kernel:
 *
 * - frees the EVENTFD_COUNT handover pages (retrieve), the serialization
 *   blocks of the session, one page per 63 files (finish), and the
 *   struct luo_file of each file (finish);
 * - allocates and frees again the struct file, dentry, eventfd context and
 *   eventfd id of each retrieved eventfd (retrieve, close), and the xarray
 *   nodes that LUO uses to track retrieved files (retrieve, finish).
 *
 * The second group nets out when the slab caches end the window as large as
 * they began it. Slab pages that retrieve adds to a cache do not all go back
 * when close empties them, since SLUB keeps some empty and partial slabs. So
 * before the first reading, stage 2 creates EVENTFD_COUNT eventfds, preserves
 * them in a scratch session and closes the session and the eventfds: the
 * same allocations and frees, which leave the caches and the fd table as
 * large as the window needs. What can still be missing at the second reading
 * is a few slabs per cache, and frees still waiting for RCU: tens of pages.
 * TOLERANCE_PERCENT of EVENTFD_COUNT pages (100 pages, 400 KiB with 4 KiB
 * pages) covers that, while a handler that does not free its page on
 * retrieve gives back only the block pages and the luo_file slabs, at most
 * about 5% of the figure, and fails.
 *
 * Stage 1 checks the same bound on what preservation takes, which is more
 * than the handover pages because it also counts struct luo_file, the
 * serialization blocks and the xarray nodes: a measurement that cannot see
 * the handover pages go would make the figure of stage 2 meaningless.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/membarrier.h>

#include <libliveupdate.h>

#include "luo_eventfd_free_memory.h"

/*
 * nolibc has no <sys/eventfd.h>. glibc cannot use <linux/eventfd.h>, because
 * the <linux/fcntl.h> it includes redefines struct flock from glibc's
 * <fcntl.h>.
 */
#ifdef NOLIBC
#include <linux/eventfd.h>
#else
#include <sys/eventfd.h>
#endif

#define STATE_SESSION_NAME	"luo_eventfd_memory_state"
#define STATE_MEMFD_TOKEN	0x4d454d
#define TAKEN_SESSION_NAME	"luo_eventfd_memory_taken"
#define TAKEN_TOKEN		0x74616b
#define TEST_SESSION_NAME	"luo_eventfd_memory"
#define WARMUP_SESSION_NAME	"luo_eventfd_memory_warmup"

#define EVENTFD_COUNT		1000
#define EVENTFD_TOKEN_BASE	0x20000ULL
#define TOLERANCE_PERCENT	10
#define MAX_REPORTED		5

#define SETTLE_DELAY_US		50000
#define SETTLE_TRIES		10
#define SETTLE_SLACK_PAGES	8
#define AFTER_RETRIES		10
#define AFTER_RETRY_DELAY_US	100000

static int eventfds[EVENTFD_COUNT];
static long long page_size;

static int create_eventfd(unsigned int initval, int flags)
{
	return syscall(__NR_eventfd2, initval, flags);
}

static int write_counter(int fd, __u64 value)
{
	ssize_t written = write(fd, &value, sizeof(value));

	if (written < 0)
		return -errno;

	return written == sizeof(value) ? 0 : -EIO;
}

static int read_counter(int fd, __u64 *value)
{
	ssize_t bytes = read(fd, value, sizeof(*value));

	if (bytes < 0)
		return -errno;

	return bytes == sizeof(*value) ? 0 : -EIO;
}

/* Count of eventfd @index: distinct per eventfd, never zero. */
static __u64 eventfd_count(int index)
{
	return index + 1;
}

/* Silence the drop_caches message, and say which knobs this kernel lacks. */
static void prepare_measurement(void)
{
	int err;

	err = write_file(DROP_CACHES, "4");
	if (err)
		ksft_print_msg("note: %s not written (%s), caches are not dropped\n",
			       DROP_CACHES, strerror(-err));

	err = write_file(STAT_REFRESH, "1");
	if (err == -ENOENT)
		ksft_print_msg("note: no %s, a uniprocessor kernel has no per-CPU vmstat to fold\n",
			       STAT_REFRESH);
	else if (err)
		ksft_print_msg("note: %s not written (%s)\n", STAT_REFRESH,
			       strerror(-err));
}

/* Read free memory until two readings SETTLE_DELAY_US apart agree. */
static void measure_settled(struct free_memory *mem, const char *when)
{
	struct free_memory previous;
	int err, i;

	settle_memory();
	err = read_free_memory(&previous);

	for (i = 0; !err && i < SETTLE_TRIES; i++) {
		usleep(SETTLE_DELAY_US);
		settle_memory();
		err = read_free_memory(mem);
		if (err)
			break;
		if (llabs(free_pages(mem) - free_pages(&previous)) <= SETTLE_SLACK_PAGES)
			return;
		previous = *mem;
	}

	if (err) {
		errno = -err;
		fail_exit("reading free memory %s", when);
	}

	ksft_print_msg("note: free memory %s still moved by more than %d pages after %d readings\n",
		       when, SETTLE_SLACK_PAGES, SETTLE_TRIES + 1);
}

static void print_free_memory(const char *stage, const char *when,
			      const struct free_memory *mem)
{
	ksft_print_msg("[%s] free %s: %lld KiB (MemFree %lld KiB, per-CPU lists %lld pages)\n",
		       stage, when, free_pages(mem) * page_size / 1024,
		       mem->memfree_kib, mem->pcp_pages);
}

static long long handover_bytes(void)
{
	return EVENTFD_COUNT * page_size;
}

static long long tolerance_bytes(void)
{
	return handover_bytes() * TOLERANCE_PERCENT / 100;
}

/* Stage 1: executed before the kexec reboot. */
static void run_stage_1(int luo_fd)
{
	int taken_session_fd, taken_fd, session_fd, ret, i;
	struct free_memory before, after;
	long long taken;

	page_size = getpagesize();

	ret = luo_ensure_nofile_limit(EVENTFD_COUNT + 1);
	if (ret) {
		errno = -ret;
		fail_exit("luo_ensure_nofile_limit");
	}

	prepare_measurement();

	ksft_print_msg("[STAGE 1] Creating state session '%s' for stage 2...\n",
		       STATE_SESSION_NAME);
	create_state_file(luo_fd, STATE_SESSION_NAME, STATE_MEMFD_TOKEN, 2);

	/* The eventfd that carries the figure, preserved outside the window. */
	taken_session_fd = luo_create_session(luo_fd, TAKEN_SESSION_NAME);
	if (taken_session_fd < 0) {
		errno = -taken_session_fd;
		fail_exit("luo_create_session for '%s'", TAKEN_SESSION_NAME);
	}
	taken_fd = create_eventfd(0, EFD_NONBLOCK);
	if (taken_fd < 0)
		fail_exit("eventfd2 for the figure of stage 1");
	ret = luo_session_preserve_fd(taken_session_fd, taken_fd, TAKEN_TOKEN);
	if (ret) {
		errno = -ret;
		fail_exit("luo_session_preserve_fd for the figure of stage 1");
	}

	session_fd = luo_create_session(luo_fd, TEST_SESSION_NAME);
	if (session_fd < 0) {
		errno = -session_fd;
		fail_exit("luo_create_session for '%s'", TEST_SESSION_NAME);
	}

	ksft_print_msg("[STAGE 1] Creating %d eventfds...\n", EVENTFD_COUNT);
	for (i = 0; i < EVENTFD_COUNT; i++) {
		eventfds[i] = create_eventfd(0, EFD_NONBLOCK);
		if (eventfds[i] < 0)
			fail_exit("eventfd2 for eventfd %d", i);
		ret = write_counter(eventfds[i], eventfd_count(i));
		if (ret) {
			errno = -ret;
			fail_exit("write to eventfd %d", i);
		}
	}

	/* Nothing may be printed between the two readings. */
	measure_settled(&before, "before preserve");
	for (i = 0; i < EVENTFD_COUNT; i++) {
		ret = luo_session_preserve_fd(session_fd, eventfds[i],
					      EVENTFD_TOKEN_BASE + i);
		if (ret) {
			errno = -ret;
			fail_exit("luo_session_preserve_fd for eventfd %d", i);
		}
	}
	measure_settled(&after, "after preserve");

	taken = (free_pages(&before) - free_pages(&after)) * page_size;
	print_free_memory("STAGE 1", "before preserve", &before);
	print_free_memory("STAGE 1", "after preserve", &after);
	ksft_print_msg("[STAGE 1] taken by preserving %d eventfds: %lld KiB (%lld pages)\n",
		       EVENTFD_COUNT, taken / 1024, taken / page_size);

	if (taken < handover_bytes() - tolerance_bytes())
		ksft_exit_fail_msg("taken: expected at least %lld KiB, actual %lld KiB\n",
				   (handover_bytes() - tolerance_bytes()) / 1024,
				   taken / 1024);

	/* Freeze saves the counter at reboot, so a write after preserve counts. */
	ret = write_counter(taken_fd, taken);
	if (ret) {
		errno = -ret;
		fail_exit("write of the figure of stage 1");
	}

	close(luo_fd);
	daemonize_and_wait();
}

/* Take the figure of stage 1 from its eventfd and release its session. */
static long long read_taken(int luo_fd)
{
	int session_fd, fd, ret;
	__u64 value;

	session_fd = luo_retrieve_session(luo_fd, TAKEN_SESSION_NAME);
	if (session_fd < 0) {
		errno = -session_fd;
		fail_exit("luo_retrieve_session for '%s'", TAKEN_SESSION_NAME);
	}

	fd = luo_session_retrieve_fd(session_fd, TAKEN_TOKEN);
	if (fd < 0) {
		errno = -fd;
		fail_exit("retrieving the eventfd with the figure of stage 1");
	}

	ret = read_counter(fd, &value);
	if (ret) {
		errno = -ret;
		fail_exit("reading the figure of stage 1");
	}
	close(fd);

	ret = luo_session_finish(session_fd);
	if (ret) {
		errno = -ret;
		fail_exit("luo_session_finish for '%s'", TAKEN_SESSION_NAME);
	}
	close(session_fd);

	return value;
}

/*
 * Do what stage 2 measures once without measuring it: create, preserve and
 * release EVENTFD_COUNT eventfds, so that the slab caches and the fd table
 * are as large as retrieving and closing that many eventfds needs.
 */
static void warm_up(int luo_fd)
{
	int session_fd, ret, i;

	session_fd = luo_create_session(luo_fd, WARMUP_SESSION_NAME);
	if (session_fd < 0) {
		errno = -session_fd;
		fail_exit("luo_create_session for warm-up session '%s'",
			  WARMUP_SESSION_NAME);
	}

	for (i = 0; i < EVENTFD_COUNT; i++) {
		eventfds[i] = create_eventfd(eventfd_count(i), EFD_NONBLOCK);
		if (eventfds[i] < 0)
			fail_exit("eventfd2 for warm-up eventfd %d", i);

		ret = luo_session_preserve_fd(session_fd, eventfds[i],
					      EVENTFD_TOKEN_BASE + i);
		if (ret) {
			errno = -ret;
			fail_exit("luo_session_preserve_fd for warm-up eventfd %d", i);
		}
	}

	/* Closing the session unpreserves the eventfds. */
	close(session_fd);
	for (i = 0; i < EVENTFD_COUNT; i++)
		close(eventfds[i]);
}

/* Stage 2: executed after the kexec reboot. */
static void run_stage_2(int luo_fd, int state_session_fd)
{
	int reported_index[MAX_REPORTED], reported_ret[MAX_REPORTED];
	__u64 reported_value[MAX_REPORTED];
	long long taken, given, retries = 0;
	struct free_memory before, after;
	int session_fd, stage, ret, i;
	int finish_ret, mismatches = 0;
	__u64 value;

	page_size = getpagesize();

	ret = luo_ensure_nofile_limit(EVENTFD_COUNT + 1);
	if (ret) {
		errno = -ret;
		fail_exit("luo_ensure_nofile_limit");
	}

	prepare_measurement();

	restore_and_read_stage(state_session_fd, STATE_MEMFD_TOKEN, &stage);
	if (stage != 2)
		fail_exit("state session: expected stage 2, actual %d", stage);

	taken = read_taken(luo_fd);

	ksft_print_msg("[STAGE 2] Retrieving session '%s'...\n", TEST_SESSION_NAME);
	session_fd = luo_retrieve_session(luo_fd, TEST_SESSION_NAME);
	if (session_fd < 0) {
		errno = -session_fd;
		fail_exit("luo_retrieve_session for '%s'", TEST_SESSION_NAME);
	}

	ksft_print_msg("[STAGE 2] Warming up with %d eventfds in session '%s'...\n",
		       EVENTFD_COUNT, WARMUP_SESSION_NAME);
	warm_up(luo_fd);

	ksft_print_msg("[STAGE 2] Retrieving, checking and closing %d eventfds...\n",
		       EVENTFD_COUNT);

	/* Nothing may be printed between the two readings. */
	measure_settled(&before, "before retrieve");

	for (i = 0; i < EVENTFD_COUNT; i++)
		eventfds[i] = luo_session_retrieve_fd(session_fd,
						      EVENTFD_TOKEN_BASE + i);

	for (i = 0; i < EVENTFD_COUNT; i++) {
		value = 0;
		ret = eventfds[i] < 0 ? eventfds[i] : read_counter(eventfds[i], &value);
		if (!ret && value == eventfd_count(i))
			continue;

		if (mismatches < MAX_REPORTED) {
			reported_index[mismatches] = i;
			reported_ret[mismatches] = ret;
			reported_value[mismatches] = value;
		}
		mismatches++;
	}

	finish_ret = luo_session_finish(session_fd);
	close(session_fd);
	for (i = 0; i < EVENTFD_COUNT; i++)
		if (eventfds[i] >= 0)
			close(eventfds[i]);

	measure_settled(&after, "after close");
	given = (free_pages(&after) - free_pages(&before)) * page_size;

	/*
	 * Frees that wait for RCU or for a worker can land after the readings
	 * settled. Read again a few times before calling the memory lost; this
	 * can only turn a failure into a pass, by at most what is freed late.
	 */
	while (given < handover_bytes() - tolerance_bytes() && retries < AFTER_RETRIES) {
		usleep(AFTER_RETRY_DELAY_US);
		measure_settled(&after, "after close");
		given = (free_pages(&after) - free_pages(&before)) * page_size;
		retries++;
	}

	for (i = 0; i < mismatches && i < MAX_REPORTED; i++) {
		int index = reported_index[i];

		if (reported_ret[i])
			ksft_print_msg("FAIL token 0x%llx: expected count %llu, actual: %s\n",
				       EVENTFD_TOKEN_BASE + index,
				       (unsigned long long)eventfd_count(index),
				       strerror(-reported_ret[i]));
		else
			ksft_print_msg("FAIL token 0x%llx: expected count %llu, actual %llu\n",
				       EVENTFD_TOKEN_BASE + index,
				       (unsigned long long)eventfd_count(index),
				       (unsigned long long)reported_value[i]);
	}
	if (mismatches > MAX_REPORTED)
		ksft_print_msg("FAIL %d more count mismatches not shown\n",
			       mismatches - MAX_REPORTED);
	ksft_print_msg("[STAGE 2] %d of %d eventfds retrieved with their count\n",
		       EVENTFD_COUNT - mismatches, EVENTFD_COUNT);
	if (finish_ret)
		ksft_print_msg("FAIL finish of '%s': expected success, actual: %s\n",
			       TEST_SESSION_NAME, strerror(-finish_ret));

	print_free_memory("STAGE 2", "before retrieve", &before);
	print_free_memory("STAGE 2", "after close", &after);
	if (retries)
		ksft_print_msg("[STAGE 2] free memory read %lld more times before the verdict\n",
			       retries);
	ksft_print_msg("taken in old kernel: %lld KiB (%lld pages)\n",
		       taken / 1024, taken / page_size);
	ksft_print_msg("given back in new kernel: %lld KiB (%lld pages)\n",
		       given / 1024, given / page_size);
	ksft_print_msg("handover pages expected: %d x %lld bytes = %lld KiB\n",
		       EVENTFD_COUNT, page_size, handover_bytes() / 1024);
	ksft_print_msg("tolerance: %d%% = %lld KiB\n", TOLERANCE_PERCENT,
		       tolerance_bytes() / 1024);

	ret = luo_session_finish(state_session_fd);
	if (ret) {
		errno = -ret;
		fail_exit("luo_session_finish for state session");
	}
	close(state_session_fd);

	if (given < handover_bytes() - tolerance_bytes())
		ksft_exit_fail_msg("given back: expected at least %lld KiB, actual %lld KiB\n",
				   (handover_bytes() - tolerance_bytes()) / 1024,
				   given / 1024);
	if (mismatches || finish_ret)
		ksft_exit_fail_msg("eventfd memory: %d count mismatches, finish %s\n",
				   mismatches, finish_ret ? "failed" : "ok");

	ksft_print_msg("eventfd memory: %d eventfds, %lld KiB given back, TEST PASSED\n",
		       EVENTFD_COUNT, given / 1024);
}

int main(int argc, char *argv[])
{
	return luo_test(argc, argv, STATE_SESSION_NAME, run_stage_1, run_stage_2);
}
