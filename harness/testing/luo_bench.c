// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark of eventfd preservation, run by harness/bench.sh under QEMU.
 *
 * For each file count N given on the command line, stage 1 creates N
 * eventfds, and N empty memfds as the peer, preserves them once in a
 * warm-up session that it closes, then preserves each kind in a session of
 * its own. It prints the time per file of the preserve ioctls
 * and the drop in free memory that preserving them caused. After the kexec,
 * stage 2 retrieves every file of each session, then finishes the session,
 * and prints the time per file of both. It also reads every retrieved
 * eventfd back and fails if a count is wrong, so that the figures are those
 * of a working handover.
 *
 * Every figure is printed on a line of its own that starts with "BENCH",
 * for bench.sh to collect:
 *   BENCH stage=1 kind=eventfd n=1000 preserve_ns=... taken_bytes=...
 *   BENCH stage=2 kind=eventfd n=1000 retrieve_ns=... finish_ns=...
 *
 * Built with nolibc like the LUO selftests; lib/lu_utils.c provides the
 * stage handling. The file counts are passed in the kernel command line as
 * "luo_bench.n=1,100,1000" and read from /proc/cmdline in both stages.
 */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <libliveupdate.h>

#include "luo_eventfd_free_memory.h"

#define STATE_SESSION	"luo_bench_state"
#define STATE_TOKEN	1
#define MAX_COUNTS	8
#define MAX_FILES	200000
#define CMDLINE_KEY	"luo_bench.n="
/* Free memory readings must agree within this many pages to count. */
#define SETTLE_SLACK_PAGES	2
#define SETTLE_TRIES		20
#define SETTLE_DELAY_US		100000

static const char *const kinds[] = { "eventfd", "memfd" };

static long counts[MAX_COUNTS];
static int nr_counts;
static long page_size;

static void read_counts(void)
{
	char buf[1024], *p;
	ssize_t len;
	int fd;

	fd = open("/proc/cmdline", O_RDONLY);
	if (fd < 0)
		fail_exit("open /proc/cmdline");
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		fail_exit("read /proc/cmdline");
	buf[len] = '\0';

	p = strstr(buf, CMDLINE_KEY);
	if (!p)
		ksft_exit_fail_msg("no %s in the kernel command line\n", CMDLINE_KEY);
	p += strlen(CMDLINE_KEY);
	for (;;) {
		long n = strtol(p, &p, 10);

		if (n <= 0 || n > MAX_FILES)
			ksft_exit_fail_msg("invalid file count in %s, expected 1 to %d\n",
					   CMDLINE_KEY, MAX_FILES);
		if (nr_counts == MAX_COUNTS)
			ksft_exit_fail_msg("more than %d file counts in %s\n",
					   MAX_COUNTS, CMDLINE_KEY);
		counts[nr_counts++] = n;
		if (*p != ',')
			break;
		p++;
	}
}

static void session_name(char *buf, size_t size, const char *kind, long n)
{
	snprintf(buf, size, "bench-%s-%ld", kind, n);
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Read free memory, in pages, once two readings in a row agree. */
static long long settled_free_pages(void)
{
	struct free_memory mem;
	long long previous = -1;
	int i;

	for (i = 0; i < SETTLE_TRIES; i++) {
		settle_memory();
		if (read_free_memory(&mem))
			fail_exit("reading free memory");
		if (previous >= 0 &&
		    llabs(free_pages(&mem) - previous) <= SETTLE_SLACK_PAGES)
			break;
		previous = free_pages(&mem);
		usleep(SETTLE_DELAY_US);
	}

	return free_pages(&mem);
}

/* Eventfd @i has the count i + 1, and memfds are empty. */
static int create_file(const char *kind, long i)
{
	unsigned long long value = i + 1;
	int fd;

	if (!strcmp(kind, "memfd"))
		return memfd_create("luo_bench", 0);

	fd = syscall(__NR_eventfd2, 0, 0);
	if (fd >= 0 && write(fd, &value, sizeof(value)) != sizeof(value))
		fail_exit("write to eventfd %ld", i);
	return fd;
}

static void preserve_kind(int luo_fd, const char *kind, long n)
{
	long long free_before, free_after, start, elapsed;
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	int session, *fds;
	long i;

	fds = malloc(n * sizeof(*fds));
	if (!fds)
		fail_exit("malloc");
	for (i = 0; i < n; i++) {
		fds[i] = create_file(kind, i);
		if (fds[i] < 0)
			fail_exit("create %s %ld", kind, i);
	}
	/*
	 * Warm up: preserve the same files in a scratch session and close it,
	 * which unpreserves them, so that the measured run does not pay for
	 * first-time allocations of the slab caches.
	 */
	session = luo_create_session(luo_fd, "bench-warm-up");
	if (session < 0)
		fail_exit("create the warm-up session");
	for (i = 0; i < n; i++) {
		if (luo_session_preserve_fd(session, fds[i], i + 1))
			fail_exit("preserve %s %ld in the warm-up session", kind, i);
	}
	close(session);

	session_name(name, sizeof(name), kind, n);
	session = luo_create_session(luo_fd, name);
	if (session < 0)
		fail_exit("create session %s", name);

	free_before = settled_free_pages();
	start = now_ns();
	for (i = 0; i < n; i++) {
		if (luo_session_preserve_fd(session, fds[i], i + 1))
			fail_exit("preserve %s %ld", kind, i);
	}
	elapsed = now_ns() - start;
	free_after = settled_free_pages();

	for (i = 0; i < n; i++)
		close(fds[i]);
	free(fds);

	printf("BENCH stage=1 kind=%s n=%ld preserve_ns=%lld taken_bytes=%lld\n",
	       kind, n, elapsed / n, (free_before - free_after) * page_size / n);
}

static void run_stage_1(int luo_fd)
{
	int c, k;

	create_state_file(luo_fd, STATE_SESSION, STATE_TOKEN, 2);
	for (c = 0; c < nr_counts; c++)
		for (k = 0; k < 2; k++)
			preserve_kind(luo_fd, kinds[k], counts[c]);
	ksft_print_msg("[STAGE 1] all sessions preserved\n");

	close(luo_fd);
	daemonize_and_wait();
}

static void retrieve_kind(int luo_fd, const char *kind, long n)
{
	long long start, retrieve_ns, finish_ns;
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	unsigned long long value;
	int session, *fds;
	long i;

	fds = malloc(n * sizeof(*fds));
	if (!fds)
		fail_exit("malloc");
	session_name(name, sizeof(name), kind, n);
	session = luo_retrieve_session(luo_fd, name);
	if (session < 0)
		fail_exit("retrieve session %s", name);

	start = now_ns();
	for (i = 0; i < n; i++) {
		fds[i] = luo_session_retrieve_fd(session, i + 1);
		if (fds[i] < 0) {
			errno = -fds[i];
			fail_exit("retrieve %s %ld", kind, i);
		}
	}
	retrieve_ns = now_ns() - start;

	start = now_ns();
	if (luo_session_finish(session) < 0)
		fail_exit("finish session %s", name);
	finish_ns = now_ns() - start;
	close(session);

	for (i = 0; i < n; i++) {
		if (!strcmp(kind, "eventfd")) {
			value = 0;
			if (read(fds[i], &value, sizeof(value)) != sizeof(value) ||
			    value != (unsigned long long)i + 1)
				ksft_exit_fail_msg("eventfd %ld: expected count %ld, actual %llu\n",
						   i, i + 1, value);
		}
		close(fds[i]);
	}
	free(fds);

	printf("BENCH stage=2 kind=%s n=%ld retrieve_ns=%lld finish_ns=%lld\n",
	       kind, n, retrieve_ns / n, finish_ns / n);
}

static void run_stage_2(int luo_fd, int state_session)
{
	int c, k, stage;

	restore_and_read_stage(state_session, STATE_TOKEN, &stage);
	for (c = 0; c < nr_counts; c++)
		for (k = 0; k < 2; k++)
			retrieve_kind(luo_fd, kinds[k], counts[c]);

	if (luo_session_finish(state_session) < 0)
		fail_exit("finish state session");
	close(state_session);
	ksft_print_msg("benchmark complete, every eventfd count verified\n");
}

int main(int argc, char *argv[])
{
	long max = 0;
	int c;

	page_size = getpagesize();
	read_counts();
	for (c = 0; c < nr_counts; c++)
		if (counts[c] > max)
			max = counts[c];
	if (luo_ensure_nofile_limit(max))
		fail_exit("raising RLIMIT_NOFILE to %ld", max);

	return luo_test(argc, argv, STATE_SESSION, run_stage_1, run_stage_2);
}
