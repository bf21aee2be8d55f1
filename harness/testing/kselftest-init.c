// SPDX-License-Identifier: GPL-2.0
/*
 * init for the kselftest VM of harness/run-vm-kselftests.sh: mount the
 * pseudo filesystems, run every program listed in /tests/list in order,
 * print each one's exit status on the console and reboot, which ends
 * the VM because QEMU runs with -no-reboot.
 */

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>

static void mount_or_warn(const char *source, const char *target,
			  const char *type)
{
	mkdir(target, 0755);
	if (mount(source, target, type, 0, NULL))
		perror(target);
}

static int run(const char *path)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char *const argv[] = { (char *)path, NULL };

		execv(path, argv);
		perror(path);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

int main(void)
{
	char line[256];
	FILE *list;

	mount_or_warn("proc", "/proc", "proc");
	mount_or_warn("sysfs", "/sys", "sysfs");
	mount_or_warn("devtmpfs", "/dev", "devtmpfs");
	mount_or_warn("debugfs", "/sys/kernel/debug", "debugfs");
	setvbuf(stdout, NULL, _IONBF, 0);

	list = fopen("/tests/list", "r");
	if (!list) {
		perror("/tests/list");
	} else {
		while (fgets(line, sizeof(line), list)) {
			line[strcspn(line, "\n")] = '\0';
			if (!line[0])
				continue;
			printf("KSELFTEST-START %s\n", line);
			printf("KSELFTEST-EXIT %s %d\n", line, run(line));
		}
		fclose(list);
	}
	printf("KSELFTEST-DONE\n");
	sync();
	/* QEMU runs with -no-reboot, so a reboot ends it. */
	reboot(RB_AUTOBOOT);
	return 0;
}
