// SPDX-License-Identifier: GPL-2.0

/*
 * Check that LUO preserves eventfds across a kexec reboot: the full 64-bit
 * counter, EFD_SEMAPHORE mode and the O_NONBLOCK flag as it is at reboot time.
 *
 * Stage 1 creates the eventfds, preserves each one under its own token in a
 * single session and changes some of them after preserve. Stage 2 retrieves
 * them and checks what a user can observe: read() values, EAGAIN, F_GETFL,
 * poll() revents and the eventfd fields of /proc/self/fdinfo.
 */

#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/syscall.h>

#include <libliveupdate.h>

/*
 * nolibc has no <sys/eventfd.h>. glibc cannot use <linux/eventfd.h>, because
 * the <linux/fcntl.h> it includes redefines struct flock from glibc's
 * <fcntl.h> (seen with glibc 2.36).
 */
#ifdef NOLIBC
#include <linux/eventfd.h>
#else
#include <sys/eventfd.h>
#endif

#define STATE_SESSION_NAME	"luo_eventfd_state"
#define STATE_MEMFD_TOKEN	0x5747
#define TEST_SESSION_NAME	"luo_eventfd_session"

#define BULK_COUNT		1000
#define BULK_TOKEN_BASE		0x10000ULL
#define BULK_MAX_REPORTED	5

/*
 * Largest count a write can reach: eventfd_write() in fs/eventfd.c (Linux 7.3)
 * accepts a write only while the new count stays below ULLONG_MAX.
 */
#define EVENTFD_MAX_COUNT	0xfffffffffffffffeULL

/* read_counter() result for an empty blocking eventfd that it did not read. */
#define READ_SKIPPED		1

/**
 * struct eventfd_case - one eventfd preserved under its own token
 * @name:		short name printed in the eventfd-before/after lines
 * @behaviour:		behaviour the case proves, printed on failure
 * @token:		LUO token the eventfd is preserved under
 * @initval:		initial count passed to eventfd2()
 * @create_flags:	EFD_* flags passed to eventfd2()
 * @write_before_preserve: value written before preserve, 0 for none
 * @clear_nonblock_before_preserve: clear O_NONBLOCK with F_SETFL before preserve
 * @set_nonblock_after_preserve: set O_NONBLOCK with F_SETFL after preserve
 * @write_after_preserve: value written after preserve, 0 for none
 * @never_retrieved:	leave the eventfd in the session for finish to release
 * @expected_count:	count at reboot. Keep it small in semaphore mode,
 *			because stage 2 reads it back one unit at a time
 * @expect_nonblock:	O_NONBLOCK is set at reboot
 * @expect_semaphore:	EFD_SEMAPHORE is set
 */
struct eventfd_case {
	const char *name;
	const char *behaviour;
	__u64 token;
	unsigned int initval;
	int create_flags;
	__u64 write_before_preserve;
	bool clear_nonblock_before_preserve;
	bool set_nonblock_after_preserve;
	__u64 write_after_preserve;
	bool never_retrieved;
	__u64 expected_count;
	bool expect_nonblock;
	bool expect_semaphore;
};

static const struct eventfd_case cases[] = {
	{
		.name = "zero",
		.behaviour = "zero count survives",
		.token = 0xefd01,
		.expected_count = 0,
	},
	{
		.name = "one",
		.behaviour = "count of one survives",
		.token = 0xefd02,
		.initval = 1,
		.expected_count = 1,
	},
	{
		/* eventfd2() takes an unsigned int initial value, so write() sets it. */
		.name = "above-32-bits",
		.behaviour = "count above 32 bits survives",
		.token = 0xefd03,
		.create_flags = EFD_NONBLOCK,
		.write_before_preserve = 0x100000001ULL,
		.expected_count = 0x100000001ULL,
		.expect_nonblock = true,
	},
	{
		.name = "max-writable",
		.behaviour = "max writable count survives",
		.token = 0xefd04,
		.create_flags = EFD_NONBLOCK,
		.write_before_preserve = EVENTFD_MAX_COUNT,
		.expected_count = EVENTFD_MAX_COUNT,
		.expect_nonblock = true,
	},
	{
		.name = "semaphore",
		.behaviour = "semaphore mode survives",
		.token = 0xefd05,
		.initval = 3,
		.create_flags = EFD_SEMAPHORE | EFD_NONBLOCK,
		.expected_count = 3,
		.expect_nonblock = true,
		.expect_semaphore = true,
	},
	{
		.name = "set-nonblock",
		.behaviour = "O_NONBLOCK set after preserve survives",
		.token = 0xefd06,
		.initval = 6,
		.set_nonblock_after_preserve = true,
		.expected_count = 6,
		.expect_nonblock = true,
	},
	{
		.name = "clear-nonblock",
		.behaviour = "O_NONBLOCK cleared before preserve survives",
		.token = 0xefd07,
		.initval = 4,
		.create_flags = EFD_NONBLOCK,
		.clear_nonblock_before_preserve = true,
		.expected_count = 4,
	},
	{
		.name = "write-after-preserve",
		.behaviour = "write after preserve survives",
		.token = 0xefd08,
		.initval = 5,
		.create_flags = EFD_NONBLOCK,
		.write_after_preserve = 2,
		.expected_count = 7,
		.expect_nonblock = true,
	},
	{
		.name = "never-retrieved",
		.behaviour = "finish releases unretrieved eventfd",
		.token = 0xefd09,
		.initval = 9,
		.create_flags = EFD_NONBLOCK,
		.never_retrieved = true,
		.expected_count = 9,
		.expect_nonblock = true,
	},
};

/* Eventfd fields of /proc/self/fdinfo/<fd>. */
struct eventfd_info {
	__u64 count;
	unsigned long id;
	unsigned long semaphore;
};

/* Eventfd retrieved in stage 2, with its fdinfo from before any read. */
struct restored_eventfd {
	int fd;
	bool have_info;
	struct eventfd_info info;
};

static int bulk_fds[BULK_COUNT];

/* Return the count of bulk eventfd @index: above 32 bits, distinct in both halves. */
static __u64 bulk_count(int index)
{
	return (__u64)(index + 1) * 0x100000001ULL;
}

static int create_eventfd(unsigned int initval, int flags)
{
	return syscall(__NR_eventfd2, initval, flags);
}

static int get_file_flags(int fd)
{
	return syscall(__NR_fcntl, fd, F_GETFL);
}

static int set_file_flags(int fd, int flags)
{
	return syscall(__NR_fcntl, fd, F_SETFL, flags);
}

static const char *mode_name(int file_flags)
{
	return (file_flags & O_NONBLOCK) ? "nonblock" : "blocking";
}

static int write_counter(int fd, __u64 value)
{
	ssize_t written = write(fd, &value, sizeof(value));

	if (written < 0)
		return -errno;

	return written == sizeof(value) ? 0 : -EIO;
}

/* Store the poll() revents of @fd for POLLIN | POLLOUT without waiting. */
static int poll_now(int fd, short *revents)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLOUT };
	int ready = poll(&pfd, 1, 0);

	if (ready < 0)
		return -errno;

	*revents = ready ? pfd.revents : 0;

	return 0;
}

/*
 * Read the counter of @fd into @value without ever blocking. A blocking
 * eventfd is read only when poll() reports POLLIN, so an empty blocking
 * eventfd is left untouched and READ_SKIPPED is returned. Return 0 after a
 * read and -errno when fcntl(), poll() or read() fails.
 */
static int read_counter(int fd, __u64 *value)
{
	int flags = get_file_flags(fd);
	ssize_t bytes;

	if (flags < 0)
		return -errno;

	if (!(flags & O_NONBLOCK)) {
		short revents = 0;
		int ret = poll_now(fd, &revents);

		if (ret)
			return ret;
		if (!(revents & POLLIN))
			return READ_SKIPPED;
	}

	bytes = read(fd, value, sizeof(*value));
	if (bytes < 0)
		return -errno;

	return bytes == sizeof(*value) ? 0 : -EIO;
}

/* Find @key in the fdinfo text @text and parse the number that follows it. */
static bool parse_fdinfo_field(const char *text, const char *key, int base,
			       unsigned long long *value)
{
	const char *start = strstr(text, key);
	char *end;

	if (!start)
		return false;

	start += strlen(key);
	*value = strtoull(start, &end, base);

	return end != start;
}

/*
 * Parse the eventfd fields of /proc/self/fdinfo/<fd>. The kernel prints
 * "eventfd-count:" in hex and the id and semaphore fields in decimal.
 */
static int read_eventfd_info(int fd, struct eventfd_info *info)
{
	unsigned long long count, id, semaphore;
	char path[64], text[1024];
	size_t length = 0;
	ssize_t bytes;
	int info_fd;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	info_fd = open(path, O_RDONLY);
	if (info_fd < 0)
		return -errno;

	do {
		bytes = read(info_fd, text + length, sizeof(text) - 1 - length);
		if (bytes > 0)
			length += bytes;
	} while (bytes > 0 && length < sizeof(text) - 1);

	if (bytes < 0) {
		int err = -errno;

		close(info_fd);
		return err;
	}
	close(info_fd);
	text[length] = '\0';

	if (!parse_fdinfo_field(text, "eventfd-count:", 16, &count) ||
	    !parse_fdinfo_field(text, "eventfd-id:", 10, &id) ||
	    !parse_fdinfo_field(text, "eventfd-semaphore:", 10, &semaphore))
		return -EINVAL;

	info->count = count;
	info->id = id;
	info->semaphore = semaphore;

	return 0;
}

static __printf(2, 3) void report_failure(const struct eventfd_case *c,
					  const char *fmt, ...)
{
	char detail[256];
	va_list args;

	va_start(args, fmt);
	vsnprintf(detail, sizeof(detail), fmt, args);
	va_end(args);

	ksft_print_msg("FAIL [%s] %s: %s\n", c->name, c->behaviour, detail);
}

/* Create, fill and preserve the eventfd of @c, exiting on any error. */
static int preserve_case(int session_fd, const struct eventfd_case *c)
{
	int fd, ret;

	fd = create_eventfd(c->initval, c->create_flags);
	if (fd < 0)
		fail_exit("eventfd2(%u, %#x) for case '%s'", c->initval,
			  c->create_flags, c->name);

	if (c->write_before_preserve) {
		ret = write_counter(fd, c->write_before_preserve);
		if (ret) {
			errno = -ret;
			fail_exit("write of 0x%llx before preserve for case '%s'",
				  (unsigned long long)c->write_before_preserve, c->name);
		}
	}

	if (c->clear_nonblock_before_preserve) {
		int flags = get_file_flags(fd);

		if (flags < 0 || set_file_flags(fd, flags & ~O_NONBLOCK) < 0)
			fail_exit("clearing O_NONBLOCK for case '%s'", c->name);
	}

	ret = luo_session_preserve_fd(session_fd, fd, c->token);
	if (ret) {
		errno = -ret;
		fail_exit("luo_session_preserve_fd for case '%s' (token 0x%llx)",
			  c->name, (unsigned long long)c->token);
	}

	return fd;
}

/* Apply the changes @c makes after preserve, which LUO must save at reboot. */
static void change_after_preserve(int fd, const struct eventfd_case *c)
{
	int ret;

	if (c->set_nonblock_after_preserve) {
		int flags = get_file_flags(fd);

		if (flags < 0 || set_file_flags(fd, flags | O_NONBLOCK) < 0)
			fail_exit("setting O_NONBLOCK for case '%s'", c->name);
	}

	if (c->write_after_preserve) {
		ret = write_counter(fd, c->write_after_preserve);
		if (ret) {
			errno = -ret;
			fail_exit("write of 0x%llx after preserve for case '%s'",
				  (unsigned long long)c->write_after_preserve, c->name);
		}
	}
}

/*
 * Print the eventfd-before line for @c and exit unless the eventfd is in the
 * state that stage 2 expects, because stage 2 results would mean nothing.
 */
static void print_state_before_reboot(int fd, const struct eventfd_case *c)
{
	struct eventfd_info info;
	int flags, ret;

	ret = read_eventfd_info(fd, &info);
	if (ret) {
		errno = -ret;
		fail_exit("reading /proc/self/fdinfo/%d for case '%s'", fd, c->name);
	}

	flags = get_file_flags(fd);
	if (flags < 0)
		fail_exit("F_GETFL for case '%s'", c->name);

	ksft_print_msg("eventfd-before token=0x%llx mode=%s%s count=0x%llx case=%s\n",
		       (unsigned long long)c->token, mode_name(flags),
		       info.semaphore ? ",semaphore" : "",
		       (unsigned long long)info.count, c->name);

	if (info.count != c->expected_count ||
	    !!(flags & O_NONBLOCK) != c->expect_nonblock ||
	    !!info.semaphore != c->expect_semaphore) {
		ksft_print_msg("FAIL [%s] state at reboot: expected mode=%s%s count=0x%llx\n",
			       c->name, c->expect_nonblock ? "nonblock" : "blocking",
			       c->expect_semaphore ? ",semaphore" : "",
			       (unsigned long long)c->expected_count);
		ksft_exit_fail_msg("stage 1 state differs from what stage 2 expects\n");
	}
}

/* Stage 1: executed before the kexec reboot. */
static void run_stage_1(int luo_fd)
{
	int case_fds[ARRAY_SIZE(cases)];
	int session_fd, ret, i;
	size_t n;

	ksft_print_msg("[STAGE 1] Raising the open file limit for %zu eventfds...\n",
		       BULK_COUNT + ARRAY_SIZE(cases));
	ret = luo_ensure_nofile_limit(BULK_COUNT + ARRAY_SIZE(cases));
	if (ret) {
		errno = -ret;
		fail_exit("luo_ensure_nofile_limit");
	}

	ksft_print_msg("[STAGE 1] Creating state session '%s' for stage 2...\n",
		       STATE_SESSION_NAME);
	create_state_file(luo_fd, STATE_SESSION_NAME, STATE_MEMFD_TOKEN, 2);

	ksft_print_msg("[STAGE 1] Creating session '%s'...\n", TEST_SESSION_NAME);
	session_fd = luo_create_session(luo_fd, TEST_SESSION_NAME);
	if (session_fd < 0) {
		errno = -session_fd;
		fail_exit("luo_create_session for '%s'", TEST_SESSION_NAME);
	}

	ksft_print_msg("[STAGE 1] Preserving %zu eventfd cases...\n",
		       ARRAY_SIZE(cases));
	for (n = 0; n < ARRAY_SIZE(cases); n++)
		case_fds[n] = preserve_case(session_fd, &cases[n]);

	ksft_print_msg("[STAGE 1] Preserving %d bulk eventfds with distinct counts...\n",
		       BULK_COUNT);
	for (i = 0; i < BULK_COUNT; i++) {
		bulk_fds[i] = create_eventfd(0, EFD_NONBLOCK);
		if (bulk_fds[i] < 0)
			fail_exit("eventfd2 for bulk eventfd %d", i);

		ret = write_counter(bulk_fds[i], bulk_count(i));
		if (ret) {
			errno = -ret;
			fail_exit("write to bulk eventfd %d", i);
		}

		ret = luo_session_preserve_fd(session_fd, bulk_fds[i],
					      BULK_TOKEN_BASE + i);
		if (ret) {
			errno = -ret;
			fail_exit("luo_session_preserve_fd for bulk eventfd %d (token 0x%llx)",
				  i, BULK_TOKEN_BASE + i);
		}
	}

	ksft_print_msg("[STAGE 1] Changing flags and counts after preserve...\n");
	for (n = 0; n < ARRAY_SIZE(cases); n++)
		change_after_preserve(case_fds[n], &cases[n]);

	ksft_print_msg("[STAGE 1] Eventfd state at reboot:\n");
	for (n = 0; n < ARRAY_SIZE(cases); n++)
		print_state_before_reboot(case_fds[n], &cases[n]);

	/* The child forked by daemonize_and_wait() keeps all fds open until reboot. */
	close(luo_fd);
	daemonize_and_wait();
}

static bool expect_read(const struct eventfd_case *c, int fd, const char *step,
			__u64 expected)
{
	__u64 value;
	int ret = read_counter(fd, &value);

	if (ret == READ_SKIPPED) {
		report_failure(c, "%s: expected 0x%llx, actual: blocking and empty, read() skipped",
			       step, (unsigned long long)expected);
		return false;
	}
	if (ret < 0) {
		report_failure(c, "%s: expected 0x%llx, actual: reading the counter failed: %s",
			       step, (unsigned long long)expected, strerror(-ret));
		return false;
	}
	if (value != expected) {
		report_failure(c, "%s: expected 0x%llx, actual 0x%llx", step,
			       (unsigned long long)expected, (unsigned long long)value);
		return false;
	}

	return true;
}

/*
 * Check that the counter of @fd is empty: a non-blocking eventfd must fail
 * read() with EAGAIN and a blocking one must not report POLLIN.
 */
static bool expect_empty(const struct eventfd_case *c, int fd, const char *step)
{
	__u64 value;
	int ret = read_counter(fd, &value);
	const char *expected;

	if (c->expect_nonblock && ret == -EAGAIN)
		return true;
	if (!c->expect_nonblock && ret == READ_SKIPPED)
		return true;

	if (c->expect_nonblock)
		expected = "read() fails with EAGAIN";
	else
		expected = "poll() reports no POLLIN";

	if (ret == READ_SKIPPED)
		report_failure(c, "%s: expected %s, actual: blocking and empty, read() skipped",
			       step, expected);
	else if (ret == 0)
		report_failure(c, "%s: expected %s, actual: read() returned 0x%llx",
			       step, expected, (unsigned long long)value);
	else
		report_failure(c, "%s: expected %s, actual: reading the counter failed: %s",
			       step, expected, strerror(-ret));

	return false;
}

/*
 * At EVENTFD_MAX_COUNT not even a write of 1 fits, so a non-blocking write must
 * fail with EAGAIN. A blocking write would wait forever, so it is skipped and
 * reported as a failure.
 */
static bool expect_write_eagain(const struct eventfd_case *c, int fd)
{
	int flags = get_file_flags(fd);
	__u64 increment = 1;
	ssize_t written;

	if (flags < 0 || !(flags & O_NONBLOCK)) {
		report_failure(c,
			       "write of 1 at max count: expected EAGAIN, actual: blocking, write() skipped");
		return false;
	}

	written = write(fd, &increment, sizeof(increment));
	if (written < 0 && errno == EAGAIN)
		return true;

	if (written < 0)
		report_failure(c, "write of 1 at max count: expected EAGAIN, actual: %s",
			       strerror(errno));
	else
		report_failure(c,
			       "write of 1 at max count: expected EAGAIN, actual: wrote %ld bytes",
			       (long)written);

	return false;
}

/*
 * Return the revents of an eventfd with @count: eventfd_poll() sets POLLIN
 * above 0 and POLLOUT while a write of 1 still fits.
 */
static short expected_revents(__u64 count)
{
	short revents = 0;

	if (count > 0)
		revents |= POLLIN;
	if (count < EVENTFD_MAX_COUNT)
		revents |= POLLOUT;

	return revents;
}

/* Write the POLLIN and POLLOUT bits of @revents as text, others in hex. */
static void format_revents(short revents, char *text, size_t size)
{
	short others = revents & ~(POLLIN | POLLOUT);

	snprintf(text, size, "%s%s%s", (revents & POLLIN) ? "POLLIN " : "",
		 (revents & POLLOUT) ? "POLLOUT " : "", revents ? "" : "none ");
	if (others)
		snprintf(text + strlen(text), size - strlen(text), "0x%x ", others);
	text[strlen(text) - 1] = '\0';
}

/*
 * Drain the counter with one read, or with one read per unit in semaphore
 * mode, then check that it is empty.
 */
static int check_drain(const struct eventfd_case *c, int fd)
{
	int failures = 0;
	__u64 i;

	if (c->expect_semaphore) {
		for (i = 0; i < c->expected_count; i++)
			if (!expect_read(c, fd, "semaphore read", 1))
				failures++;
	} else if (c->expected_count) {
		if (!expect_read(c, fd, "read of restored count", c->expected_count))
			failures++;
	}

	if (!expect_empty(c, fd, "read after draining"))
		failures++;

	return failures;
}

/* Check that the restored eventfd still counts: write 1, then read it back. */
static int check_still_counts(const struct eventfd_case *c, int fd)
{
	int ret = write_counter(fd, 1);

	if (ret) {
		report_failure(c, "write of 1 after draining: expected success, actual: %s",
			       strerror(-ret));
		return 1;
	}

	return expect_read(c, fd, "read after write of 1", 1) ? 0 : 1;
}

/*
 * Check that the eventfd of case @index got a new fd and is a separate
 * eventfd object from every case retrieved before it.
 */
static int check_distinct(const struct restored_eventfd *restored, size_t index)
{
	const struct restored_eventfd *self = &restored[index];
	int failures = 0;
	size_t i;

	for (i = 0; i < index; i++) {
		const struct restored_eventfd *other = &restored[i];

		if (other->fd < 0)
			continue;

		if (self->fd == other->fd) {
			report_failure(&cases[index],
				       "retrieved fd: expected a new fd, actual: fd %d of case '%s'",
				       self->fd, cases[i].name);
			failures++;
		} else if (self->have_info && other->have_info &&
			   self->info.id == other->info.id) {
			report_failure(&cases[index],
				       "eventfd-id: expected an id of its own, actual: id %lu of case '%s'",
				       self->info.id, cases[i].name);
			failures++;
		}
	}

	return failures;
}

/* Check the fdinfo taken before any read against what @c expects. */
static int check_info(const struct eventfd_case *c, const struct eventfd_info *info)
{
	int failures = 0;

	if (info->count != c->expected_count) {
		report_failure(c, "fdinfo eventfd-count: expected 0x%llx, actual 0x%llx",
			       (unsigned long long)c->expected_count,
			       (unsigned long long)info->count);
		failures++;
	}
	if (!!info->semaphore != c->expect_semaphore) {
		report_failure(c, "fdinfo eventfd-semaphore: expected %d, actual %lu",
			       c->expect_semaphore, info->semaphore);
		failures++;
	}

	return failures;
}

static int check_file_flags(const struct eventfd_case *c, int flags)
{
	int failures = 0;

	if ((flags & O_ACCMODE) != O_RDWR) {
		report_failure(c, "F_GETFL access mode: expected O_RDWR (%#x), actual %#x",
			       O_RDWR, flags & O_ACCMODE);
		failures++;
	}
	if (!!(flags & O_NONBLOCK) != c->expect_nonblock) {
		report_failure(c, "F_GETFL O_NONBLOCK: expected %s, actual %s",
			       c->expect_nonblock ? "set" : "clear",
			       (flags & O_NONBLOCK) ? "set" : "clear");
		failures++;
	}

	return failures;
}

/* Print the eventfd-after line, with "-" for a mode or count not known. */
static void print_state_after_reboot(const struct eventfd_case *c, const char *mode,
				     const char *count, bool passed)
{
	ksft_print_msg("eventfd-after token=0x%llx mode=%s count=%s verdict=%s case=%s\n",
		       (unsigned long long)c->token, mode, count, passed ? "ok" : "FAIL",
		       c->name);
}

/*
 * Retrieve the eventfd of case @index into @restored[@index], check it and
 * print its eventfd-after line. The count in that line comes from fdinfo
 * before the first read(). Return the number of failed checks.
 */
static int verify_case(int session_fd, struct restored_eventfd *restored, size_t index)
{
	const struct eventfd_case *c = &cases[index];
	struct restored_eventfd *self = &restored[index];
	int fd, flags, ret, failures = 0;
	char mode[32], count[32];
	short revents = 0;

	fd = luo_session_retrieve_fd(session_fd, c->token);
	self->fd = fd;
	if (fd < 0) {
		report_failure(c, "retrieve of token 0x%llx: expected a new fd, actual: %s",
			       (unsigned long long)c->token, strerror(-fd));
		print_state_after_reboot(c, "-", "-", false);
		return 1;
	}

	ret = read_eventfd_info(fd, &self->info);
	self->have_info = !ret;
	if (self->have_info) {
		failures += check_info(c, &self->info);
	} else {
		report_failure(c, "eventfd fields in fdinfo of fd %d: expected present, actual: %s",
			       fd, strerror(-ret));
		failures++;
	}

	failures += check_distinct(restored, index);

	flags = get_file_flags(fd);
	if (flags >= 0) {
		failures += check_file_flags(c, flags);
	} else {
		report_failure(c, "F_GETFL: expected success, actual: %s", strerror(errno));
		failures++;
	}

	ret = poll_now(fd, &revents);
	if (ret) {
		report_failure(c, "poll(): expected success, actual: %s", strerror(-ret));
		failures++;
	} else if (revents != expected_revents(c->expected_count)) {
		char expected[32], actual[32];

		format_revents(expected_revents(c->expected_count), expected,
			       sizeof(expected));
		format_revents(revents, actual, sizeof(actual));
		report_failure(c, "poll() revents: expected %s, actual %s",
			       expected, actual);
		failures++;
	}

	if (c->expected_count == EVENTFD_MAX_COUNT && !expect_write_eagain(c, fd))
		failures++;

	failures += check_drain(c, fd);
	failures += check_still_counts(c, fd);

	if (flags < 0 || !self->have_info) {
		print_state_after_reboot(c, "-", "-", false);
		return failures;
	}

	snprintf(mode, sizeof(mode), "%s%s", mode_name(flags),
		 self->info.semaphore ? ",semaphore" : "");
	snprintf(count, sizeof(count), "0x%llx", (unsigned long long)self->info.count);
	print_state_after_reboot(c, mode, count, !failures);

	return failures;
}

static void report_bulk_mismatch(__u64 token, __u64 expected, int fd, int ret,
				 __u64 value)
{
	char actual[96];

	if (fd < 0)
		snprintf(actual, sizeof(actual), "retrieve failed: %s", strerror(-fd));
	else if (ret == READ_SKIPPED)
		snprintf(actual, sizeof(actual), "blocking and empty, read() skipped");
	else if (ret < 0)
		snprintf(actual, sizeof(actual), "reading the counter failed: %s",
			 strerror(-ret));
	else
		snprintf(actual, sizeof(actual), "0x%llx", (unsigned long long)value);

	ksft_print_msg("FAIL [bulk] token 0x%llx: expected 0x%llx, actual: %s\n",
		       (unsigned long long)token, (unsigned long long)expected, actual);
}

/*
 * Retrieve all bulk eventfds, so that they are open at the same time, then
 * read each one back. Return the number of eventfds that failed.
 */
static int verify_bulk(int session_fd)
{
	int mismatches = 0;
	int i, ret;

	for (i = 0; i < BULK_COUNT; i++)
		bulk_fds[i] = luo_session_retrieve_fd(session_fd, BULK_TOKEN_BASE + i);

	for (i = 0; i < BULK_COUNT; i++) {
		__u64 expected = bulk_count(i);
		__u64 value = 0;

		if (bulk_fds[i] < 0) {
			ret = bulk_fds[i];
		} else {
			ret = read_counter(bulk_fds[i], &value);
			close(bulk_fds[i]);
		}

		if (!ret && value == expected)
			continue;

		mismatches++;
		if (mismatches <= BULK_MAX_REPORTED)
			report_bulk_mismatch(BULK_TOKEN_BASE + i, expected,
					     bulk_fds[i], ret, value);
	}

	if (mismatches > BULK_MAX_REPORTED)
		ksft_print_msg("FAIL [bulk] %d more mismatches not shown\n",
			       mismatches - BULK_MAX_REPORTED);

	ksft_print_msg("[STAGE 2] Bulk: %d of %d eventfds restored with their count\n",
		       BULK_COUNT - mismatches, BULK_COUNT);

	return mismatches;
}

/* Stage 2: executed after the kexec reboot. */
static void run_stage_2(int luo_fd, int state_session_fd)
{
	struct restored_eventfd restored[ARRAY_SIZE(cases)];
	int session_fd, stage, ret;
	int failed_checks = 0;
	size_t i;

	ksft_print_msg("[STAGE 2] Starting eventfd verification...\n");

	ret = luo_ensure_nofile_limit(BULK_COUNT + ARRAY_SIZE(cases));
	if (ret) {
		errno = -ret;
		fail_exit("luo_ensure_nofile_limit");
	}

	restore_and_read_stage(state_session_fd, STATE_MEMFD_TOKEN, &stage);
	if (stage != 2)
		fail_exit("state session: expected stage 2, actual %d", stage);

	ksft_print_msg("[STAGE 2] Retrieving session '%s'...\n", TEST_SESSION_NAME);
	session_fd = luo_retrieve_session(luo_fd, TEST_SESSION_NAME);
	if (session_fd < 0) {
		errno = -session_fd;
		fail_exit("luo_retrieve_session for '%s'", TEST_SESSION_NAME);
	}

	ksft_print_msg("[STAGE 2] Retrieving and checking eventfd cases...\n");
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		restored[i].fd = -1;
		restored[i].have_info = false;
		if (!cases[i].never_retrieved)
			failed_checks += verify_case(session_fd, restored, i);
	}

	ksft_print_msg("[STAGE 2] Retrieving and checking %d bulk eventfds...\n",
		       BULK_COUNT);
	failed_checks += verify_bulk(session_fd);

	ksft_print_msg("[STAGE 2] Finishing session '%s', which holds an unretrieved eventfd...\n",
		       TEST_SESSION_NAME);
	ret = luo_session_finish(session_fd);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		if (!cases[i].never_retrieved)
			continue;

		if (ret) {
			report_failure(&cases[i], "session finish: expected success, actual: %s",
				       strerror(-ret));
			failed_checks++;
		}
		print_state_after_reboot(&cases[i], "-", "-", !ret);
	}
	close(session_fd);

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		if (restored[i].fd >= 0)
			close(restored[i].fd);

	ksft_print_msg("[STAGE 2] Finishing state session...\n");
	ret = luo_session_finish(state_session_fd);
	if (ret) {
		errno = -ret;
		fail_exit("luo_session_finish for state session");
	}
	close(state_session_fd);

	if (failed_checks)
		ksft_exit_fail_msg("eventfd preservation: %d failed checks, see FAIL lines\n",
				   failed_checks);

	ksft_print_msg("eventfd preservation: %zu cases and %d bulk eventfds ok, TEST PASSED\n",
		       ARRAY_SIZE(cases), BULK_COUNT);
}

int main(int argc, char *argv[])
{
	return luo_test(argc, argv, STATE_SESSION_NAME, run_stage_1, run_stage_2);
}
