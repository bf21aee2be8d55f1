/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Free memory readings for the eventfd LUO selftests, shared by the tests
 * that compare free memory before and after preserving eventfds. Works with
 * glibc and with nolibc.
 */

#ifndef LUO_EVENTFD_FREE_MEMORY_H
#define LUO_EVENTFD_FREE_MEMORY_H

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/membarrier.h>

#define DROP_CACHES		"/proc/sys/vm/drop_caches"
#define STAT_REFRESH		"/proc/sys/vm/stat_refresh"

/* Free memory as read from /proc/zoneinfo and /proc/meminfo. */
struct free_memory {
	long long buddy_pages;
	long long pcp_pages;
	long long memfree_kib;
};

static int write_file(const char *path, const char *text)
{
	ssize_t len = strlen(text), written;
	int fd, err = 0;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;

	written = write(fd, text, len);
	if (written < 0)
		err = -errno;
	else if (written != len)
		err = -EIO;
	close(fd);

	return err;
}

/* Call @scan_line on each line of @path, without its newline. */
static int scan_file(const char *path,
		     void (*scan_line)(const char *line, struct free_memory *mem),
		     struct free_memory *mem)
{
	char buf[4096], *start, *newline;
	size_t len = 0;
	ssize_t bytes;
	int fd, err = 0;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;

	do {
		bytes = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (bytes < 0) {
			err = -errno;
			break;
		}
		len += bytes;
		buf[len] = '\0';

		start = buf;
		while ((newline = strchr(start, '\n'))) {
			*newline = '\0';
			scan_line(start, mem);
			start = newline + 1;
		}
		len -= start - buf;
		memmove(buf, start, len);

		if (!bytes && len) {
			buf[len] = '\0';
			scan_line(buf, mem);
		} else if (len == sizeof(buf) - 1) {
			err = -E2BIG;
			break;
		}
	} while (bytes);

	close(fd);
	return err;
}

static void scan_zoneinfo_line(const char *line, struct free_memory *mem)
{
	while (*line == ' ')
		line++;

	if (!strncmp(line, "pages free", strlen("pages free")))
		mem->buddy_pages += strtoll(line + strlen("pages free"), NULL, 10);
	else if (!strncmp(line, "count:", strlen("count:")))
		mem->pcp_pages += strtoll(line + strlen("count:"), NULL, 10);
}

static void scan_meminfo_line(const char *line, struct free_memory *mem)
{
	if (!strncmp(line, "MemFree:", strlen("MemFree:")))
		mem->memfree_kib = strtoll(line + strlen("MemFree:"), NULL, 10);
}

/*
 * Free memory in pages: the pages in the buddy allocator ("pages free" in
 * /proc/zoneinfo, which is what MemFree adds up) and the pages on the
 * per-CPU free lists ("count:"), which MemFree leaves out although they can
 * hold several hundred freed pages per CPU.
 */
static long long free_pages(const struct free_memory *mem)
{
	return mem->buddy_pages + mem->pcp_pages;
}

static int read_free_memory(struct free_memory *mem)
{
	int err;

	memset(mem, 0, sizeof(*mem));

	err = scan_file("/proc/zoneinfo", scan_zoneinfo_line, mem);
	if (!err)
		err = scan_file("/proc/meminfo", scan_meminfo_line, mem);
	if (!err && (!mem->buddy_pages || !mem->memfree_kib))
		err = -EINVAL;

	return err;
}

/*
 * Let the kernel finish what it frees late: wait for an RCU grace period
 * (membarrier() waits for one only when more than one CPU is online), drop
 * the caches and fold the per-CPU vmstat counters (SMP kernels only).
 */
static void settle_memory(void)
{
	syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0);
	write_file(DROP_CACHES, "3");
	write_file(STAT_REFRESH, "1");
}

#endif /* LUO_EVENTFD_FREE_MEMORY_H */
