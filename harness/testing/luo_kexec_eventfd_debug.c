// SPDX-License-Identifier: GPL-2.0
/*
 * Kexec test for the debug kernel only, built with the test-only patch
 * corrupt-records.patch: three eventfds whose counters are magic values get
 * a damaged handover slot at freeze (an unknown flag, a slot marked free, a
 * slot index beyond the table). After the kexec, retrieving each of them
 * must fail with EINVAL while the good eventfds of the same session are
 * retrieved intact and the session still finishes. Stage 2 then requests a kmemleak
 * scan and prints its report for the runner to read.
 *
 * Built with nolibc like the LUO selftests; lib/lu_utils.c provides the
 * stage handling.
 */

#include <fcntl.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <libliveupdate.h>

#define STATE_SESSION	"luo_debug_state"
#define STATE_TOKEN	1
#define TEST_SESSION	"luo_debug_session"

static const struct {
	unsigned long long token;
	unsigned long long count;
	int expect_errno;
	const char *name;
} cases[] = {
	{ 0x100, 11, 0, "good before" },
	{ 0x101, 0xbad0000000000001ULL, EINVAL, "unknown flag bit" },
	{ 0x102, 0xbad0000000000002ULL, EINVAL, "slot marked free" },
	{ 0x103, 0xbad0000000000003ULL, EINVAL, "index beyond the table" },
	{ 0x104, 13, 0, "good after" },
};

#define NR_CASES (sizeof(cases) / sizeof(cases[0]))

static int failures;

static void check(int ok, const char *name, const char *what,
		  unsigned long long expected, unsigned long long actual)
{
	if (ok)
		return;
	failures++;
	ksft_print_msg("FAIL [%s] %s: expected %#llx, actual %#llx\n",
		       name, what, expected, actual);
}

/* Create an eventfd holding @count: eventfd2() takes 32 bits, write() adds. */
static int create_eventfd(unsigned long long count)
{
	int fd = syscall(__NR_eventfd2, 0, 0);

	if (fd < 0)
		fail_exit("eventfd2");
	if (count && write(fd, &count, sizeof(count)) != sizeof(count))
		fail_exit("write %#llx", count);
	return fd;
}

static void run_stage_1(int luo_fd)
{
	unsigned int i;
	int session;

	create_state_file(luo_fd, STATE_SESSION, STATE_TOKEN, 2);
	session = luo_create_session(luo_fd, TEST_SESSION);
	if (session < 0)
		fail_exit("luo_create_session");

	for (i = 0; i < NR_CASES; i++) {
		int fd = create_eventfd(cases[i].count);

		if (luo_session_preserve_fd(session, fd, cases[i].token))
			fail_exit("preserve token %#llx", cases[i].token);
		close(fd);
	}
	ksft_print_msg("[STAGE 1] preserved %u eventfds, 3 of them to be damaged at freeze\n",
		       (unsigned int)NR_CASES);

	close(luo_fd);
	daemonize_and_wait();
}

static void dump_kmemleak(void)
{
	char buf[4096];
	ssize_t len;
	int fd;

	/*
	 * kmemleak reports only objects older than about 5 seconds. Stale
	 * pointers left on the kernel stack of this very process would hide
	 * a leak made by its own retrieve calls, so task stacks are not
	 * scanned.
	 */
	sleep(6);
	for (int scan = 0; scan < 3; scan++) {
		static const char *const requests[] = { "stack=off", "scan", "scan" };

		fd = open("/debugfs/kmemleak", O_WRONLY);
		if (fd < 0) {
			ksft_print_msg("kmemleak: cannot open /debugfs/kmemleak\n");
			failures++;
			return;
		}
		if (write(fd, requests[scan], strlen(requests[scan])) < 0) {
			ksft_print_msg("kmemleak: request '%s' failed\n", requests[scan]);
			failures++;
		}
		close(fd);
	}

	fd = open("/debugfs/kmemleak", O_RDONLY);
	if (fd < 0)
		return;
	ksft_print_msg("kmemleak report begins\n");
	while ((len = read(fd, buf, sizeof(buf))) > 0)
		write(STDOUT_FILENO, buf, len);
	close(fd);
	ksft_print_msg("kmemleak report ends\n");
}

static void run_stage_2(int luo_fd, int state_session)
{
	unsigned long long value;
	unsigned int i;
	int session, stage, fd;

	restore_and_read_stage(state_session, STATE_TOKEN, &stage);
	session = luo_retrieve_session(luo_fd, TEST_SESSION);
	if (session < 0)
		fail_exit("luo_retrieve_session");

	for (i = 0; i < NR_CASES; i++) {
		fd = luo_session_retrieve_fd(session, cases[i].token);
		if (cases[i].expect_errno) {
			check(fd == -cases[i].expect_errno, cases[i].name,
			      "retrieve result", -cases[i].expect_errno, fd);
			/* A failed retrieve keeps failing the same way. */
			fd = luo_session_retrieve_fd(session, cases[i].token);
			check(fd == -cases[i].expect_errno, cases[i].name,
			      "second retrieve result", -cases[i].expect_errno, fd);
			continue;
		}

		check(fd >= 0, cases[i].name, "retrieve result", 0, fd);
		if (fd < 0)
			continue;
		value = 0;
		check(read(fd, &value, sizeof(value)) == sizeof(value),
		      cases[i].name, "read size", sizeof(value), 0);
		check(value == cases[i].count, cases[i].name, "count",
		      cases[i].count, value);
		close(fd);
	}

	check(luo_session_finish(session) == 0, "session", "finish", 0, 1);
	close(session);
	if (luo_session_finish(state_session) < 0)
		fail_exit("finish state session");
	close(state_session);

	dump_kmemleak();

	if (failures)
		ksft_exit_fail_msg("%d checks failed\n", failures);
	ksft_print_msg("debug kexec test: damaged slots rejected, good ones intact, TEST PASSED\n");
}

int main(int argc, char *argv[])
{
	return luo_test(argc, argv, STATE_SESSION, run_stage_1, run_stage_2);
}
