// SPDX-License-Identifier: GPL-2.0

/*
 * Check the count that LUO carries over for eventfds that are written to
 * while the kexec reboot runs.
 *
 * Stage 1 preserves EVENTFD_COUNT eventfds, each with a base count, and a
 * memfd that holds one struct writer_counters per eventfd. It then starts one
 * writer process per eventfd, which writes 1 to its eventfd in a loop and
 * keeps account of it in the memfd, which it maps MAP_SHARED:
 *
 *	attempts = n;		before the n-th write()
 *	write(fd, 1);
 *	done = n;		after the n-th write() returned 8
 *
 * Once every writer has done MIN_WRITES writes, stage 1 copies each done
 * counter to floor and returns. The writers keep writing until the reboot
 * stops the CPUs, and the memfd pages, which LUO hands over in place, keep
 * every update they make.
 *
 * What stage 2 can assert
 * =======================
 *
 * The eventfd handler reads the count when the reboot() syscall freezes the
 * sessions (liveupdate_reboot(), called by kernel_kexec()). User processes
 * run until machine_shutdown() stops the CPUs, after device shutdown: on
 * another CPU, or on the same one when the reboot path sleeps or is
 * preempted. So writes go on after the freeze. They succeed, and the memfd
 * counts them, but the next kernel never sees them. Let increments be the
 * restored count less the base count. Then, per eventfd:
 *
 * - floor <= increments: stage 1 read floor after those writes had returned,
 *   and init calls reboot() only after stage 1 has exited, so their
 *   increments were made before the freeze. This fails if the handler lost
 *   them, or kept the count it saw at preserve time, when no writer had
 *   started yet (floor is at least MIN_WRITES).
 * - increments <= attempts: every increment comes from a write() that the
 *   writer had counted in attempts before making it. This fails if the
 *   handler made up events or corrupted the count.
 * - attempts - done is 0 or 1, and the writer saw no error: a single writer
 *   per eventfd has at most one write() under way. This checks that the memfd
 *   counters arrived whole, which the two checks above rely on.
 *
 * "increments == done" or "done - 1 <= increments" would fail whenever a
 * writer ran after the freeze, because done also counts the writes made
 * then. Their number, done less increments, tells how far the writers got
 * after the freeze. It is printed but not checked: it may be any number, 0
 * included, and -1 when the CPUs stopped between a write() and the update
 * of done.
 *
 * One writer per eventfd bounds attempts - done, and keeps the account free
 * of atomic read-modify-write operations, which gcc may turn into calls to
 * libgcc on arm64 (-moutline-atomics) that the nolibc build does not link.
 * The writers run at nice WRITER_NICE, so that the reboot does not wait
 * behind them on a uniprocessor kernel.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <libliveupdate.h>

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

#define STATE_SESSION_NAME	"luo_eventfd_writers_state"
#define STATE_MEMFD_TOKEN	0x575354
#define TEST_SESSION_NAME	"luo_eventfd_writers"
#define COUNTERS_TOKEN		0x43544e
#define EVENTFD_TOKEN_BASE	0x30000ULL

#define EVENTFD_COUNT		4
#define MIN_WRITES		1000
#define PROGRESS_POLL_US	10000
#define PROGRESS_TIMEOUT_US	10000000
#define WRITER_NICE		19
#define COUNTERS_MAGIC		0x4c554f4546445752ULL	/* "LUOEFDWR" */

/* setpriority() "which" for a process; nolibc has no <sys/resource.h> names. */
#define WHICH_PROCESS		0

/**
 * struct writer_counters - account of one writer, kept in the memfd
 * @attempts:	writes started, updated before each write()
 * @done:	writes that returned 8, updated after each such write()
 * @floor:	@done as stage 1 read it just before it returned
 * @error:	-errno of the write() that stopped the writer, or -EIO for a
 *		short write; 0 while it runs
 */
struct writer_counters {
	__u64 attempts;
	__u64 done;
	__u64 floor;
	__s64 error;
};

/**
 * struct shared_counters - layout of the memfd
 * @magic:	COUNTERS_MAGIC, set before preserve
 * @count:	EVENTFD_COUNT, set before preserve
 * @floors_set:	1 once stage 1 has set every @floor
 * @writer:	one account per eventfd
 */
struct shared_counters {
	__u64 magic;
	__u64 count;
	__u64 floors_set;
	struct writer_counters writer[EVENTFD_COUNT];
};

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

/* Count of eventfd @index before any writer runs: above 32 bits. */
static __u64 base_count(int index)
{
	return (__u64)(index + 1) << 32;
}

static __u64 load(const __u64 *counter)
{
	return __atomic_load_n(counter, __ATOMIC_ACQUIRE);
}

/* Write 1 to @fd until the reboot, keeping account in @c. Never returns. */
static void __noreturn run_writer(int fd, struct writer_counters *c)
{
	const __u64 one = 1;
	__u64 n = 0;
	ssize_t ret;

	syscall(__NR_setpriority, WHICH_PROCESS, 0, WRITER_NICE);

	for (;;) {
		n++;
		__atomic_store_n(&c->attempts, n, __ATOMIC_SEQ_CST);
		ret = write(fd, &one, sizeof(one));
		if (ret != sizeof(one)) {
			__atomic_store_n(&c->error, ret < 0 ? -errno : -EIO,
					 __ATOMIC_SEQ_CST);
			_exit(EXIT_FAILURE);
		}
		__atomic_store_n(&c->done, n, __ATOMIC_RELEASE);
	}
}

static void stop_writers(const pid_t *pids, int count)
{
	int i;

	for (i = 0; i < count; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
}

/* Wait until every writer has done MIN_WRITES writes. Exit on failure. */
static void wait_for_writers(struct shared_counters *shared, const pid_t *pids)
{
	long waited_us = 0;
	int i, behind;

	for (;;) {
		behind = 0;
		for (i = 0; i < EVENTFD_COUNT; i++) {
			struct writer_counters *c = &shared->writer[i];
			__s64 error = __atomic_load_n(&c->error, __ATOMIC_ACQUIRE);

			if (error) {
				stop_writers(pids, EVENTFD_COUNT);
				errno = -error;
				fail_exit("writer of eventfd %d: write() failed after %llu writes",
					  i, (unsigned long long)load(&c->done));
			}
			if (load(&c->done) < MIN_WRITES)
				behind++;
		}

		if (!behind)
			return;

		if (waited_us >= PROGRESS_TIMEOUT_US) {
			stop_writers(pids, EVENTFD_COUNT);
			ksft_exit_fail_msg("%d writers did fewer than %d writes in %ld ms\n",
					   behind, MIN_WRITES, waited_us / 1000);
		}

		usleep(PROGRESS_POLL_US);
		waited_us += PROGRESS_POLL_US;
	}
}

/* Stage 1: executed before the kexec reboot. */
static void run_stage_1(int luo_fd)
{
	int eventfds[EVENTFD_COUNT], session_fd, mfd, ret, i;
	struct shared_counters *shared;
	pid_t pids[EVENTFD_COUNT];
	long page_size = getpagesize();

	ksft_print_msg("[STAGE 1] Creating state session '%s' for stage 2...\n",
		       STATE_SESSION_NAME);
	create_state_file(luo_fd, STATE_SESSION_NAME, STATE_MEMFD_TOKEN, 2);

	session_fd = luo_create_session(luo_fd, TEST_SESSION_NAME);
	if (session_fd < 0) {
		errno = -session_fd;
		fail_exit("luo_create_session for '%s'", TEST_SESSION_NAME);
	}

	ksft_print_msg("[STAGE 1] Preserving %d eventfds and the counters memfd...\n",
		       EVENTFD_COUNT);
	for (i = 0; i < EVENTFD_COUNT; i++) {
		eventfds[i] = create_eventfd(0, EFD_NONBLOCK);
		if (eventfds[i] < 0)
			fail_exit("eventfd2 for eventfd %d", i);

		ret = write_counter(eventfds[i], base_count(i));
		if (ret) {
			errno = -ret;
			fail_exit("write of the base count to eventfd %d", i);
		}

		ret = luo_session_preserve_fd(session_fd, eventfds[i],
					      EVENTFD_TOKEN_BASE + i);
		if (ret) {
			errno = -ret;
			fail_exit("luo_session_preserve_fd for eventfd %d", i);
		}
	}

	if (sizeof(*shared) > (size_t)page_size)
		ksft_exit_fail_msg("counters: %zu bytes do not fit in a %ld byte page\n",
				   sizeof(*shared), page_size);

	mfd = memfd_create("luo_eventfd_writers", 0);
	if (mfd < 0)
		fail_exit("memfd_create for the counters");
	if (ftruncate(mfd, page_size))
		fail_exit("ftruncate of the counters memfd");
	shared = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (shared == MAP_FAILED)
		fail_exit("mmap of the counters memfd");

	memset(shared, 0, sizeof(*shared));
	shared->magic = COUNTERS_MAGIC;
	shared->count = EVENTFD_COUNT;

	ret = luo_session_preserve_fd(session_fd, mfd, COUNTERS_TOKEN);
	if (ret) {
		errno = -ret;
		fail_exit("luo_session_preserve_fd for the counters memfd");
	}

	/* The writers need neither /dev/liveupdate nor buffered output. */
	close(luo_fd);
	fflush(stdout);

	ksft_print_msg("[STAGE 1] Starting %d writers at nice %d...\n",
		       EVENTFD_COUNT, WRITER_NICE);
	for (i = 0; i < EVENTFD_COUNT; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			stop_writers(pids, i);
			fail_exit("fork of writer %d", i);
		}
		if (!pids[i])
			run_writer(eventfds[i], &shared->writer[i]);
	}

	wait_for_writers(shared, pids);

	/* Each write counted in done has returned, so it precedes the freeze. */
	for (i = 0; i < EVENTFD_COUNT; i++)
		shared->writer[i].floor = load(&shared->writer[i].done);
	__atomic_store_n(&shared->floors_set, 1, __ATOMIC_RELEASE);

	for (i = 0; i < EVENTFD_COUNT; i++)
		ksft_print_msg("[STAGE 1] eventfd %d: base 0x%llx, floor %llu writes\n",
			       i, (unsigned long long)base_count(i),
			       (unsigned long long)shared->writer[i].floor);

	ksft_print_msg("[STAGE 1] Writers keep writing until the reboot.\n");
	daemonize_and_wait();
}

static __printf(2, 3) void report_failure(int index, const char *fmt, ...)
{
	char detail[192];
	va_list args;

	va_start(args, fmt);
	vsnprintf(detail, sizeof(detail), fmt, args);
	va_end(args);

	ksft_print_msg("FAIL eventfd %d: %s\n", index, detail);
}

/* Check eventfd @index against its account. Return the number of failures. */
static int check_eventfd(int session_fd, const struct shared_counters *shared,
			 int index, long long *written_after_freeze)
{
	const struct writer_counters *c = &shared->writer[index];
	__u64 token = EVENTFD_TOKEN_BASE + index;
	__u64 restored, increments;
	int fd, ret, failures = 0;

	fd = luo_session_retrieve_fd(session_fd, token);
	if (fd < 0) {
		report_failure(index, "retrieve of token 0x%llx: expected a new fd, actual: %s",
			       (unsigned long long)token, strerror(-fd));
		return 1;
	}

	ret = read_counter(fd, &restored);
	close(fd);
	if (ret) {
		report_failure(index, "read(): expected a count, actual: %s",
			       strerror(-ret));
		return 1;
	}

	if (restored < base_count(index)) {
		report_failure(index, "count: expected at least base 0x%llx, actual 0x%llx",
			       (unsigned long long)base_count(index),
			       (unsigned long long)restored);
		return 1;
	}
	increments = restored - base_count(index);

	ksft_print_msg("eventfd %d: floor %llu <= increments %llu <= attempts %llu; done %llu\n",
		       index, (unsigned long long)c->floor,
		       (unsigned long long)increments,
		       (unsigned long long)c->attempts,
		       (unsigned long long)c->done);

	if (c->error) {
		report_failure(index, "writer: expected no error, actual: %s",
			       strerror(-c->error));
		failures++;
	}
	if (c->attempts - c->done > 1) {
		report_failure(index, "attempts - done: expected 0 or 1, actual %llu - %llu",
			       (unsigned long long)c->attempts,
			       (unsigned long long)c->done);
		failures++;
	}
	if (c->floor < MIN_WRITES) {
		report_failure(index, "floor: expected at least %d, actual %llu",
			       MIN_WRITES, (unsigned long long)c->floor);
		failures++;
	}
	if (increments < c->floor) {
		report_failure(index, "lost writes: expected >= floor %llu, actual %llu",
			       (unsigned long long)c->floor,
			       (unsigned long long)increments);
		failures++;
	}
	if (increments > c->attempts) {
		report_failure(index, "extra events: expected <= attempts %llu, actual %llu",
			       (unsigned long long)c->attempts,
			       (unsigned long long)increments);
		failures++;
	}

	*written_after_freeze += (long long)(c->done - increments);

	return failures;
}

/* Stage 2: executed after the kexec reboot. */
static void run_stage_2(int luo_fd, int state_session_fd)
{
	long long written_after_freeze = 0;
	const struct shared_counters *shared;
	long page_size = getpagesize();
	int session_fd, mfd, stage, ret, i;
	int failures = 0;

	restore_and_read_stage(state_session_fd, STATE_MEMFD_TOKEN, &stage);
	if (stage != 2)
		fail_exit("state session: expected stage 2, actual %d", stage);

	ksft_print_msg("[STAGE 2] Retrieving session '%s'...\n", TEST_SESSION_NAME);
	session_fd = luo_retrieve_session(luo_fd, TEST_SESSION_NAME);
	if (session_fd < 0) {
		errno = -session_fd;
		fail_exit("luo_retrieve_session for '%s'", TEST_SESSION_NAME);
	}

	mfd = luo_session_retrieve_fd(session_fd, COUNTERS_TOKEN);
	if (mfd < 0) {
		errno = -mfd;
		fail_exit("retrieving the counters memfd");
	}
	shared = mmap(NULL, page_size, PROT_READ, MAP_SHARED, mfd, 0);
	if (shared == MAP_FAILED)
		fail_exit("mmap of the counters memfd");

	if (shared->magic != COUNTERS_MAGIC)
		ksft_exit_fail_msg("counters memfd magic: expected 0x%llx, actual 0x%llx\n",
				   COUNTERS_MAGIC, (unsigned long long)shared->magic);
	if (shared->count != EVENTFD_COUNT)
		ksft_exit_fail_msg("counters memfd eventfds: expected %d, actual %llu\n",
				   EVENTFD_COUNT, (unsigned long long)shared->count);
	if (shared->floors_set != 1)
		ksft_exit_fail_msg("counters memfd floors_set: expected 1, actual %llu\n",
				   (unsigned long long)shared->floors_set);

	ksft_print_msg("[STAGE 2] Checking %d eventfds against their writers...\n",
		       EVENTFD_COUNT);
	for (i = 0; i < EVENTFD_COUNT; i++)
		failures += check_eventfd(session_fd, shared, i,
					  &written_after_freeze);

	ksft_print_msg("writes made after the freeze, not carried over: %lld\n",
		       written_after_freeze);

	munmap((void *)shared, page_size);
	close(mfd);

	ret = luo_session_finish(session_fd);
	if (ret) {
		ksft_print_msg("FAIL finish of '%s': expected success, actual: %s\n",
			       TEST_SESSION_NAME, strerror(-ret));
		failures++;
	}
	close(session_fd);

	ret = luo_session_finish(state_session_fd);
	if (ret) {
		errno = -ret;
		fail_exit("luo_session_finish for state session");
	}
	close(state_session_fd);

	if (failures)
		ksft_exit_fail_msg("eventfd writers: %d failed checks, see FAIL lines\n",
				   failures);

	ksft_print_msg("eventfd writers: %d eventfds within their bounds, TEST PASSED\n",
		       EVENTFD_COUNT);
}

int main(int argc, char *argv[])
{
	return luo_test(argc, argv, STATE_SESSION_NAME, run_stage_1, run_stage_2);
}
