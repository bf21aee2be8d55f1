// SPDX-License-Identifier: GPL-2.0

/*
 * Tests of eventfd preservation with the Live Update Orchestrator that need
 * no kexec: what unpreserve gives back, which files the eventfd handler
 * refuses, and that preserve and unpreserve leave no memory behind.
 *
 * Needs a kernel with CONFIG_LIVEUPDATE_EVENTFD booted with liveupdate=on.
 * The memory test writes /proc/sys/vm/drop_caches, so it should run as root.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <linux/membarrier.h>

#include <libliveupdate.h>

#include "kselftest_harness.h"
#include "luo_eventfd_free_memory.h"

#define CYCLE_EVENTFDS		100
#define CYCLE_ROUNDS		100
#define CYCLE_WARMUP_ROUNDS	3
#define CYCLE_TOLERANCE_KIB	256

#define SETTLE_DELAY_US		50000
#define SETTLE_TRIES		10
#define SETTLE_SLACK_PAGES	8

static int efd_write(int fd, __u64 value)
{
	ssize_t written = write(fd, &value, sizeof(value));

	if (written < 0)
		return -errno;

	return written == sizeof(value) ? 0 : -EIO;
}

static int efd_read(int fd, __u64 *value)
{
	ssize_t bytes = read(fd, value, sizeof(*value));

	if (bytes < 0)
		return -errno;

	return bytes == sizeof(*value) ? 0 : -EIO;
}

static long long free_kib(const struct free_memory *mem)
{
	return free_pages(mem) * (getpagesize() / 1024);
}

/*
 * Read free memory until two readings SETTLE_DELAY_US apart agree within
 * SETTLE_SLACK_PAGES. Return 0, 1 if they never did, or -errno.
 */
static int measure_settled(struct free_memory *mem)
{
	long long slack_kib = SETTLE_SLACK_PAGES * (getpagesize() / 1024);
	struct free_memory previous;
	int err, i;

	settle_memory();
	err = read_free_memory(&previous);
	if (err)
		return err;

	for (i = 0; i < SETTLE_TRIES; i++) {
		usleep(SETTLE_DELAY_US);
		settle_memory();
		err = read_free_memory(mem);
		if (err)
			return err;
		if (llabs(free_kib(mem) - free_kib(&previous)) <= slack_kib)
			return 0;
		previous = *mem;
	}

	return 1;
}

/*
 * Preserve each of @fds in a new session, then close the session, which
 * unpreserves them all. Return 0 or -errno.
 */
static int preserve_round(int luo_fd, const int *fds, int count)
{
	int session_fd, ret = 0, i;

	session_fd = luo_create_session(luo_fd, "eventfd-cycles");
	if (session_fd < 0)
		return session_fd;

	for (i = 0; i < count && !ret; i++)
		ret = luo_session_preserve_fd(session_fd, fds[i], i);

	if (close(session_fd) && !ret)
		ret = -errno;

	return ret;
}

FIXTURE(eventfd) {
	int luo_fd;
};

FIXTURE_SETUP(eventfd)
{
	self->luo_fd = luo_open_device();
	if (self->luo_fd < 0 && errno == ENOENT)
		SKIP(return, "%s does not exist", LUO_DEVICE);

	ASSERT_LE(0, self->luo_fd)
		TH_LOG("open(%s): %s", LUO_DEVICE, strerror(errno));
}

FIXTURE_TEARDOWN(eventfd)
{
	if (self->luo_fd >= 0)
		close(self->luo_fd);
}

/*
 * Closing a session unpreserves its eventfd: the eventfd stays usable, and
 * another session can preserve it, which LUO refuses with EBUSY while the
 * file is still registered as preserved.
 */
TEST_F(eventfd, unpreserve_on_close)
{
	int session_fd, efd;
	__u64 value = 0;

	efd = eventfd(5, EFD_NONBLOCK);
	ASSERT_LE(0, efd);

	session_fd = luo_create_session(self->luo_fd, "eventfd-close-1");
	ASSERT_LE(0, session_fd);
	ASSERT_EQ(0, luo_session_preserve_fd(session_fd, efd, 0x1));
	ASSERT_EQ(0, close(session_fd));

	ASSERT_EQ(0, efd_write(efd, 2))
		TH_LOG("write() to the eventfd after its session closed");
	ASSERT_EQ(0, efd_read(efd, &value));
	ASSERT_EQ(7ULL, value)
		TH_LOG("count after unpreserve: initial 5 plus 2 written");
	ASSERT_EQ(-EAGAIN, efd_read(efd, &value))
		TH_LOG("the read of the count must have emptied it");

	session_fd = luo_create_session(self->luo_fd, "eventfd-close-2");
	ASSERT_LE(0, session_fd);
	ASSERT_EQ(0, luo_session_preserve_fd(session_fd, efd, 0x1))
		TH_LOG("EBUSY means the closed session left the eventfd preserved");
	ASSERT_EQ(0, efd_write(efd, 3));
	ASSERT_EQ(0, efd_read(efd, &value));
	ASSERT_EQ(3ULL, value);

	ASSERT_EQ(0, close(session_fd));
	ASSERT_EQ(0, close(efd));
}

/*
 * A dup()ed fd is the same struct file, so LUO refuses to preserve it a
 * second time with EBUSY, in the same session under another token and in
 * another session. The refusals must leave nothing behind: once the first
 * session closes, the second one can preserve it.
 */
TEST_F(eventfd, dup_ebusy)
{
	int session_fd1, session_fd2, efd, dup_fd;

	efd = eventfd(0, EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	dup_fd = dup(efd);
	ASSERT_LE(0, dup_fd);

	session_fd1 = luo_create_session(self->luo_fd, "eventfd-dup-1");
	ASSERT_LE(0, session_fd1);
	session_fd2 = luo_create_session(self->luo_fd, "eventfd-dup-2");
	ASSERT_LE(0, session_fd2);

	ASSERT_EQ(0, luo_session_preserve_fd(session_fd1, efd, 0x1));
	ASSERT_EQ(-EBUSY, luo_session_preserve_fd(session_fd1, dup_fd, 0x2))
		TH_LOG("dup()ed fd, same session, another token");
	ASSERT_EQ(-EBUSY, luo_session_preserve_fd(session_fd2, dup_fd, 0x1))
		TH_LOG("dup()ed fd, second session");
	ASSERT_EQ(-EBUSY, luo_session_preserve_fd(session_fd2, efd, 0x3))
		TH_LOG("original fd, second session");

	ASSERT_EQ(0, close(session_fd1));
	ASSERT_EQ(0, luo_session_preserve_fd(session_fd2, dup_fd, 0x1))
		TH_LOG("preserve after the first session closed");

	ASSERT_EQ(0, close(session_fd2));
	ASSERT_EQ(0, close(dup_fd));
	ASSERT_EQ(0, close(efd));
}

/*
 * A signalfd and a timerfd are anon-inode files like an eventfd, but the
 * eventfd handler only claims files with the eventfd file operations, and no
 * other LUO handler accepts them: preserve fails with ENOENT, "no handler".
 * An eventfd preserved afterwards under the token the signalfd tried shows
 * that the session works and that the failures kept no token.
 */
TEST_F(eventfd, foreign_enoent)
{
	int session_fd, sfd, tfd, efd;
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	ASSERT_LE(0, sfd);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	ASSERT_LE(0, tfd);
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_LE(0, efd);

	session_fd = luo_create_session(self->luo_fd, "eventfd-foreign");
	ASSERT_LE(0, session_fd);

	ASSERT_EQ(-ENOENT, luo_session_preserve_fd(session_fd, sfd, 0x1))
		TH_LOG("signalfd: no LUO file handler may accept it");
	ASSERT_EQ(-ENOENT, luo_session_preserve_fd(session_fd, tfd, 0x2))
		TH_LOG("timerfd: no LUO file handler may accept it");
	ASSERT_EQ(0, luo_session_preserve_fd(session_fd, efd, 0x1))
		TH_LOG("eventfd under the token the signalfd did not get");

	ASSERT_EQ(0, close(session_fd));
	ASSERT_EQ(0, close(efd));
	ASSERT_EQ(0, close(tfd));
	ASSERT_EQ(0, close(sfd));
}

/*
 * CYCLE_ROUNDS rounds each preserve the same CYCLE_EVENTFDS eventfds in a
 * new session and close it: CYCLE_ROUNDS * CYCLE_EVENTFDS preserve and
 * unpreserve cycles. LUO has no ioctl to unpreserve one file, so closing the
 * session is how a file is unpreserved; doing it for a batch takes the
 * session through two serialization blocks (63 files each), as a real user
 * would. The eventfds are created once, so what the cycles leave behind is
 * LUO's and the handler's.
 *
 * Each round allocates the page of the handover table with its first
 * eventfd and frees it with its last; each cycle takes a slot of that page
 * and a struct luo_file, and inserts the file in the xarray of preserved
 * files and in the session's hash table. A leaked table page per round is
 * 400 KiB over the test, a leaked struct luo_file per cycle 1.2 MiB. The
 * tolerance, CYCLE_TOLERANCE_KIB, covers what legitimately changes:
 *
 * - the KHO radix tree that records preserved pages never frees its nodes,
 *   so it grows by a page whenever a table page lands in a 128 MiB range
 *   it has not covered before: at most 8 leaves, 32 KiB, on a 1 GiB VM;
 * - SLUB keeps some partial or empty slabs per cache and CPU for struct
 *   luo_file, the xarray nodes and the session; after the warm-up rounds
 *   this moves by a few slabs, tens of KiB, without a trend.
 *
 * 256 KiB is about twice that, and a leak of 27 bytes or more per cycle
 * exceeds it. Free memory includes the per-CPU free lists (see free_kib())
 * and is read once the kernel has settled (see measure_settled()).
 */
TEST_F_TIMEOUT(eventfd, cycles_memfree, 120)
{
	long long lost_kib, cycles = (long long)CYCLE_ROUNDS * CYCLE_EVENTFDS;
	struct free_memory before, after;
	int fds[CYCLE_EVENTFDS];
	int round, ret, i;

	for (i = 0; i < CYCLE_EVENTFDS; i++) {
		fds[i] = eventfd(i, EFD_NONBLOCK);
		ASSERT_LE(0, fds[i]);
	}

	/* Silence the message that each write to drop_caches prints. */
	ret = write_file(DROP_CACHES, "4");
	if (ret)
		TH_LOG("%s not written (%s): caches are not dropped",
		       DROP_CACHES, strerror(-ret));

	for (round = 0; round < CYCLE_WARMUP_ROUNDS; round++)
		ASSERT_EQ(0, preserve_round(self->luo_fd, fds, CYCLE_EVENTFDS))
			TH_LOG("warm-up round %d", round);

	ret = measure_settled(&before);
	ASSERT_LE(0, ret)
		TH_LOG("reading free memory: %s", strerror(-ret));
	if (ret)
		TH_LOG("free memory still moved by more than %d pages after %d readings",
		       SETTLE_SLACK_PAGES, SETTLE_TRIES + 1);

	for (round = 0; round < CYCLE_ROUNDS; round++)
		ASSERT_EQ(0, preserve_round(self->luo_fd, fds, CYCLE_EVENTFDS))
			TH_LOG("round %d", round);

	ret = measure_settled(&after);
	ASSERT_LE(0, ret)
		TH_LOG("reading free memory: %s", strerror(-ret));
	if (ret)
		TH_LOG("free memory still moved by more than %d pages after %d readings",
		       SETTLE_SLACK_PAGES, SETTLE_TRIES + 1);

	lost_kib = free_kib(&before) - free_kib(&after);
	ksft_print_msg("cycles: %lld preserve/unpreserve, tolerance %d KiB\n",
		       cycles, CYCLE_TOLERANCE_KIB);
	ksft_print_msg("free before %lld KiB, after %lld KiB, lost %lld KiB\n",
		       free_kib(&before), free_kib(&after), lost_kib);
	ksft_print_msg("MemFree before %lld KiB, after %lld KiB; per-CPU lists %lld, %lld pages\n",
		       before.memfree_kib, after.memfree_kib, before.pcp_pages,
		       after.pcp_pages);

	ASSERT_LE(lost_kib, CYCLE_TOLERANCE_KIB)
		TH_LOG("memory lost over %lld preserve/unpreserve cycles", cycles);

	for (i = 0; i < CYCLE_EVENTFDS; i++)
		ASSERT_EQ(0, close(fds[i]));
}

TEST_HARNESS_MAIN
