// SPDX-License-Identifier: GPL-2.0

/*
 * Check that 10,000 eventfds spread over several sessions come back from a
 * kexec, each with its own count and mode, when they share the handover
 * table of the eventfd handler and some of them reuse the slots of
 * eventfds that were unpreserved.
 *
 * Stage 1 preserves EVENTFD_COUNT eventfds over NR_SESSIONS sessions, then
 * closes one session, which unpreserves its eventfds and frees their slots
 * in the middle of the table, and preserves as many new eventfds with other
 * counts in a new session, which take those slots. Stage 2 retrieves every
 * eventfd of the remaining sessions and checks what userspace sees:
 * eventfd-count and eventfd-semaphore in /proc/self/fdinfo, O_NONBLOCK from
 * F_GETFL, and what one read() returns.
 */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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

#define STATE_SESSION_NAME	"luo_eventfd_many_state"
#define STATE_TOKEN		0x6d616e79

#define EVENTFD_COUNT		10000
#define NR_SESSIONS		4
/* The session closed in stage 1, and the one that reuses its slots. */
#define CLOSED_SESSION		1
#define REUSE_SESSION		NR_SESSIONS
#define TOKEN_BASE		0x10000ULL
#define MAX_REPORTED		5

static int failures;

static void session_name(char *buf, size_t size, int session)
{
	snprintf(buf, size, "luo_eventfd_many_%d", session);
}

/*
 * Eventfd @i of session @session: a count that no other eventfd of the test
 * has, above 32 bits for most, and one of the four modes.
 */
static unsigned long long eventfd_count(int session, int i)
{
	return ((unsigned long long)session << 48) + (i + 1ULL) * 0x100000001ULL;
}

static int eventfd_flags(int i)
{
	return (i & 1 ? EFD_SEMAPHORE : 0) | (i & 2 ? EFD_NONBLOCK : 0);
}

/* Each session contains a quarter of the EVENTFD_COUNT eventfds. */
static int session_size(int session)
{
	if (session == REUSE_SESSION)
		session = CLOSED_SESSION;
	return (EVENTFD_COUNT - session + NR_SESSIONS - 1) / NR_SESSIONS;
}

static int preserve_session(int luo_fd, int session)
{
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	unsigned long long count;
	int session_fd, fd, i;

	session_name(name, sizeof(name), session);
	session_fd = luo_create_session(luo_fd, name);
	if (session_fd < 0)
		fail_exit("create session %s", name);

	for (i = 0; i < session_size(session); i++) {
		count = eventfd_count(session, i);
		fd = syscall(__NR_eventfd2, 0, eventfd_flags(i));
		if (fd < 0)
			fail_exit("eventfd2");
		if (write(fd, &count, sizeof(count)) != sizeof(count))
			fail_exit("write %#llx", count);
		if (luo_session_preserve_fd(session_fd, fd, TOKEN_BASE + i))
			fail_exit("preserve eventfd %d of %s", i, name);
		close(fd);
	}

	return session_fd;
}

static void run_stage_1(int luo_fd)
{
	int session;

	create_state_file(luo_fd, STATE_SESSION_NAME, STATE_TOKEN, 2);
	for (session = 0; session < NR_SESSIONS; session++)
		if (session != CLOSED_SESSION)
			preserve_session(luo_fd, session);

	/*
	 * Preserved between the others, then closed: its slots are free in
	 * the middle of the table when the last session takes them.
	 */
	close(preserve_session(luo_fd, CLOSED_SESSION));
	preserve_session(luo_fd, REUSE_SESSION);

	ksft_print_msg("[STAGE 1] %d eventfds in %d sessions, %d in reused slots\n",
		       EVENTFD_COUNT, NR_SESSIONS, session_size(REUSE_SESSION));
	close(luo_fd);
	daemonize_and_wait();
}

static void report(const char *name, int i, const char *what,
		   unsigned long long expected, unsigned long long actual)
{
	if (++failures <= MAX_REPORTED)
		ksft_print_msg("FAIL %s eventfd %d: %s expected %#llx, actual %#llx\n",
			       name, i, what, expected, actual);
}

/* Read eventfd-count and eventfd-semaphore of @fd from fdinfo. */
static int read_fdinfo(int fd, unsigned long long *count, int *semaphore)
{
	char path[64], buf[512], *p;
	ssize_t len;
	int info;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	info = open(path, O_RDONLY);
	if (info < 0)
		return -1;
	len = read(info, buf, sizeof(buf) - 1);
	close(info);
	if (len <= 0)
		return -1;
	buf[len] = '\0';

	p = strstr(buf, "eventfd-count:");
	if (!p)
		return -1;
	*count = strtoull(p + strlen("eventfd-count:"), NULL, 16);
	p = strstr(buf, "eventfd-semaphore:");
	if (!p)
		return -1;
	*semaphore = strtol(p + strlen("eventfd-semaphore:"), NULL, 10);

	return 0;
}

static void check_eventfd(const char *name, int session, int i, int fd)
{
	unsigned long long expected = eventfd_count(session, i);
	unsigned long long count = 0, value = 0;
	int flags = eventfd_flags(i);
	int semaphore, status;

	if (read_fdinfo(fd, &count, &semaphore)) {
		report(name, i, "fdinfo readable", 1, 0);
		return;
	}
	if (count != expected)
		report(name, i, "eventfd-count", expected, count);
	if (semaphore != !!(flags & EFD_SEMAPHORE))
		report(name, i, "eventfd-semaphore", !!(flags & EFD_SEMAPHORE),
		       semaphore);

	/* nolibc has no fcntl() wrapper. */
	status = syscall(__NR_fcntl, fd, F_GETFL);
	if (!!(status & O_NONBLOCK) != !!(flags & EFD_NONBLOCK))
		report(name, i, "O_NONBLOCK", !!(flags & EFD_NONBLOCK),
		       !!(status & O_NONBLOCK));

	/* The count is never 0, so read() does not block. */
	if (read(fd, &value, sizeof(value)) != sizeof(value))
		report(name, i, "read size", sizeof(value), 0);
	else if (value != (flags & EFD_SEMAPHORE ? 1 : expected))
		report(name, i, "value read", flags & EFD_SEMAPHORE ? 1 : expected,
		       value);
}

static int retrieve_session(int luo_fd, int session)
{
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	int session_fd, fd, i, checked = 0;

	session_name(name, sizeof(name), session);
	session_fd = luo_retrieve_session(luo_fd, name);
	if (session_fd < 0)
		fail_exit("retrieve session %s", name);

	for (i = 0; i < session_size(session); i++) {
		fd = luo_session_retrieve_fd(session_fd, TOKEN_BASE + i);
		if (fd < 0) {
			report(name, i, "retrieve result", 0, fd);
			continue;
		}
		check_eventfd(name, session, i, fd);
		close(fd);
		checked++;
	}

	if (luo_session_finish(session_fd) < 0)
		fail_exit("finish session %s", name);
	close(session_fd);

	return checked;
}

static void run_stage_2(int luo_fd, int state_session_fd)
{
	char name[LIVEUPDATE_SESSION_NAME_LENGTH];
	int session, stage, checked = 0;

	restore_and_read_stage(state_session_fd, STATE_TOKEN, &stage);

	session_name(name, sizeof(name), CLOSED_SESSION);
	if (luo_retrieve_session(luo_fd, name) >= 0)
		report(name, 0, "retrieve of the closed session", 0, 1);

	for (session = 0; session <= REUSE_SESSION; session++)
		if (session != CLOSED_SESSION)
			checked += retrieve_session(luo_fd, session);

	if (luo_session_finish(state_session_fd) < 0)
		fail_exit("finish state session");
	close(state_session_fd);

	if (failures)
		ksft_exit_fail_msg("%d checks failed (first %d shown) over %d retrieved eventfds\n",
				   failures, MAX_REPORTED, checked);
	if (checked != EVENTFD_COUNT)
		ksft_exit_fail_msg("expected %d retrieved eventfds, actual %d\n",
				   EVENTFD_COUNT, checked);
	ksft_print_msg("[STAGE 2] all %d eventfds intact, TEST PASSED\n", checked);
}

int main(int argc, char *argv[])
{
	return luo_test(argc, argv, STATE_SESSION_NAME, run_stage_1, run_stage_2);
}
