// SPDX-License-Identifier: GPL-2.0
/*
 * A service that keeps eventfds in systemd's file descriptor store across
 * a kexec live update.
 *
 * Started without stored fds, it creates eventfds in known states and a
 * memfd as a control, and hands each one to the service manager with
 * sd_pid_notify_with_fds("FDSTORE=1\nFDNAME=<case>"). Started again after
 * the live update, it receives them from the manager (sd_listen_fds) and
 * checks each one by its behaviour: the values read(2) returns, EAGAIN,
 * poll(2) and F_GETFL.
 *
 * Usage: fdstore-eventfd STAMP
 *
 * STAMP is a file that exists once the first start has stored its fds and
 * the live update was requested. A start without stored fds while STAMP
 * exists means the fds were lost, and fails.
 *
 * Exit status: 0 when every check passed, 1 otherwise. Each check prints
 * one line with the expected and the actual value.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#define MEMFD_TEXT "memfd control: these bytes must survive the live update\n"
/* How long to wait for the service manager to take the stored fds. */
#define BARRIER_TIMEOUT_USEC (10 * 1000 * 1000ULL)

/*
 * One eventfd case: its state when it is stored, and what reads must
 * return after the live update, in order, until EAGAIN (or until the
 * count is zero, for a blocking eventfd).
 */
struct eventfd_case {
	const char *name;
	int flags;			/* eventfd2() flags at creation */
	bool set_nonblock_later;	/* O_NONBLOCK set with F_SETFL afterwards */
	uint64_t count;			/* counter when stored */
	uint64_t reads[4];		/* the values read after the live update */
	int n_reads;
};

static const struct eventfd_case cases[] = {
	{ "above-32-bits", 0, false, 0x100000001ULL, { 0x100000001ULL }, 1 },
	{ "semaphore", EFD_SEMAPHORE | EFD_NONBLOCK, false, 3, { 1, 1, 1 }, 3 },
	{ "nonblock-zero", EFD_NONBLOCK, false, 0, { 0 }, 0 },
	{ "setfl-nonblock", 0, true, 7, { 7 }, 1 },
};

#define N_CASES (sizeof(cases) / sizeof(cases[0]))
#define MEMFD_NAME "memfd-control"

static int failures;
static int checks;

static void check(bool ok, const char *name, const char *what,
		  const char *expected, const char *actual)
{
	checks++;
	if (ok) {
		printf("fdstore-eventfd: %s: %s: %s: ok\n", name, what, actual);
		return;
	}
	failures++;
	printf("fdstore-eventfd: %s: %s: expected %s, got %s: FAIL\n",
	       name, what, expected, actual);
}

static bool wants_nonblock(const struct eventfd_case *c)
{
	return c->set_nonblock_later || (c->flags & EFD_NONBLOCK);
}

static const char *mode_name(int fl_nonblock, int semaphore)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "%s%s", fl_nonblock ? "nonblock" : "blocking",
		 semaphore ? ",semaphore" : "");
	return buf;
}

/* Hand one fd to the service manager's file descriptor store. */
static int store_fd(int fd, const char *name)
{
	char state[128];
	int r;

	snprintf(state, sizeof(state), "FDSTORE=1\nFDNAME=%s", name);
	r = sd_pid_notify_with_fds(0, 0, state, &fd, 1);
	if (r <= 0) {
		fprintf(stderr, "fdstore-eventfd: sd_pid_notify_with_fds(%s) failed: %s\n",
			name, r == 0 ? "NOTIFY_SOCKET is not set" : strerror(-r));
		return -1;
	}
	return 0;
}

static int create_and_store(const char *stamp)
{
	size_t i;
	int fd, r;

	for (i = 0; i < N_CASES; i++) {
		const struct eventfd_case *c = &cases[i];

		fd = eventfd(0, c->flags | EFD_CLOEXEC);
		if (fd < 0) {
			perror("fdstore-eventfd: eventfd");
			return 1;
		}
		if (c->count && write(fd, &c->count, sizeof(c->count)) != sizeof(c->count)) {
			perror("fdstore-eventfd: write to eventfd");
			return 1;
		}
		if (c->set_nonblock_later &&
		    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
			perror("fdstore-eventfd: fcntl(F_SETFL)");
			return 1;
		}
		if (store_fd(fd, c->name))
			return 1;
		printf("fdstore-eventfd: stored %s: count 0x%" PRIx64 ", %s\n", c->name,
		       c->count, mode_name(wants_nonblock(c), c->flags & EFD_SEMAPHORE));
		close(fd);
	}

	fd = memfd_create(MEMFD_NAME, MFD_CLOEXEC);
	if (fd < 0 || write(fd, MEMFD_TEXT, strlen(MEMFD_TEXT)) != (ssize_t)strlen(MEMFD_TEXT)) {
		perror("fdstore-eventfd: memfd");
		return 1;
	}
	if (store_fd(fd, MEMFD_NAME))
		return 1;
	printf("fdstore-eventfd: stored %s: %zu bytes\n", MEMFD_NAME, strlen(MEMFD_TEXT));
	close(fd);

	/* Return only once the manager has processed every FDSTORE message. */
	r = sd_notify_barrier(0, BARRIER_TIMEOUT_USEC);
	if (r < 0) {
		fprintf(stderr, "fdstore-eventfd: sd_notify_barrier failed: %s\n", strerror(-r));
		return 1;
	}

	fd = open(stamp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || fsync(fd) < 0) {
		fprintf(stderr, "fdstore-eventfd: failed to create %s: %s\n", stamp, strerror(errno));
		return 1;
	}
	close(fd);
	printf("fdstore-eventfd: stored %zu eventfds and the memfd\n", N_CASES);
	return 0;
}

static int find_fd(int n_fds, char **names, const char *name)
{
	int i;

	for (i = 0; i < n_fds; i++)
		if (names && names[i] && !strcmp(names[i], name))
			return SD_LISTEN_FDS_START + i;
	return -1;
}

/* Describe the outcome of an 8-byte read: the value, or the errno name. */
static const char *read_outcome(int fd, uint64_t *value)
{
	static char buf[64];
	ssize_t n;

	n = read(fd, value, sizeof(*value));
	if (n == sizeof(*value))
		snprintf(buf, sizeof(buf), "0x%" PRIx64, *value);
	else if (n < 0)
		snprintf(buf, sizeof(buf), "%s", strerrorname_np(errno));
	else
		snprintf(buf, sizeof(buf), "a %zd-byte read", n);
	return buf;
}

static void check_eventfd(const struct eventfd_case *c, int fd)
{
	char expected[64], actual[256], path[64];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	const char *got;
	uint64_t value;
	ssize_t n;
	int fl, i;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, actual, sizeof(actual) - 1);
	actual[n < 0 ? 0 : n] = '\0';
	check(!strcmp(actual, "anon_inode:[eventfd]"), c->name, "file type",
	      "anon_inode:[eventfd]", actual);

	fl = fcntl(fd, F_GETFL);
	snprintf(expected, sizeof(expected), "%s", wants_nonblock(c) ? "O_NONBLOCK" : "no O_NONBLOCK");
	check(fl >= 0 && !!(fl & O_NONBLOCK) == wants_nonblock(c), c->name, "F_GETFL",
	      expected, fl < 0 ? strerrorname_np(errno) :
	      (fl & O_NONBLOCK) ? "O_NONBLOCK" : "no O_NONBLOCK");

	for (i = 0; i < c->n_reads; i++) {
		snprintf(expected, sizeof(expected), "0x%" PRIx64, c->reads[i]);
		got = read_outcome(fd, &value);
		snprintf(path, sizeof(path), "read %d", i + 1);
		check(!strcmp(got, expected), c->name, path, expected, got);
	}

	/* The counter must now be zero. */
	if (wants_nonblock(c)) {
		got = read_outcome(fd, &value);
		check(!strcmp(got, "EAGAIN"), c->name, "read at zero", "EAGAIN", got);
	} else {
		n = poll(&pfd, 1, 0);
		snprintf(actual, sizeof(actual), "%s", n == 0 ? "not readable" :
			 n < 0 ? strerrorname_np(errno) : "readable");
		check(n == 0, c->name, "poll at zero", "not readable", actual);
	}

	/* The eventfd still works as one: a write is read back. */
	value = 5;
	n = write(fd, &value, sizeof(value));
	got = n == sizeof(value) ? read_outcome(fd, &value) : strerrorname_np(errno);
	snprintf(expected, sizeof(expected), "0x%x", c->flags & EFD_SEMAPHORE ? 1 : 5);
	check(!strcmp(got, expected), c->name, "write 5, read", expected, got);
}

static void check_memfd(int fd)
{
	char buf[256], expected[64];
	bool same;
	ssize_t n;

	snprintf(expected, sizeof(expected), "the %zu bytes stored", strlen(MEMFD_TEXT));
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	same = n == (ssize_t)strlen(MEMFD_TEXT) && !memcmp(buf, MEMFD_TEXT, n);
	buf[n < 0 ? 0 : n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	check(same, MEMFD_NAME, "contents", expected,
	      n < 0 ? strerrorname_np(errno) : same ? expected : buf);
}

static int check_received(void)
{
	char **names = NULL;
	int n_fds, fd;
	size_t i;

	n_fds = sd_listen_fds_with_names(1, &names);
	if (n_fds < 0) {
		fprintf(stderr, "fdstore-eventfd: sd_listen_fds_with_names failed: %s\n",
			strerror(-n_fds));
		return 1;
	}
	printf("fdstore-eventfd: received %d fds from the service manager\n", n_fds);

	for (i = 0; i < N_CASES; i++) {
		fd = find_fd(n_fds, names, cases[i].name);
		check(fd >= 0, cases[i].name, "handed back", "an fd", fd >= 0 ? "an fd" : "none");
		if (fd >= 0)
			check_eventfd(&cases[i], fd);
	}
	fd = find_fd(n_fds, names, MEMFD_NAME);
	check(fd >= 0, MEMFD_NAME, "handed back", "an fd", fd >= 0 ? "an fd" : "none");
	if (fd >= 0)
		check_memfd(fd);

	if (failures) {
		printf("fdstore-eventfd: FAIL: %d of %d checks failed\n", failures, checks);
		return 1;
	}
	printf("fdstore-eventfd: PASS: %zu eventfds and the memfd came back intact (%d checks)\n",
	       N_CASES, checks);
	return 0;
}

int main(int argc, char **argv)
{
	int ret;

	if (argc != 2) {
		fprintf(stderr, "usage: fdstore-eventfd STAMP\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (sd_listen_fds(0) > 0)
		ret = check_received();
	else if (access(argv[1], F_OK) == 0) {
		printf("fdstore-eventfd: FAIL: %s exists, so the fds were stored before a live update, but none were handed back\n",
		       argv[1]);
		ret = 1;
	} else {
		ret = create_and_store(argv[1]);
	}
	return ret;
}
