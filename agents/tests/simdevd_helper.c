/* Ending a detached ferry-simdevd in tests; see simdevd_helper.h. */
#include "simdevd_helper.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "simdevd_launch.h"

bool simdevd_process_gone(pid_t pid)
{
	if (kill(pid, 0) != 0)
		return true;
	char path[64], stat[256] = "";
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return true;
	size_t n = fread(stat, 1, sizeof stat - 1, f);
	fclose(f);
	stat[n] = '\0';
	const char *paren = strrchr(stat, ')'); /* "pid (comm) S ..." */
	return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

bool simdevd_stop_by_socket(const char *socket_path, int timeout_ms)
{
	pid_t pid = 0;
	bool serving = ferry_simdevd_probe(socket_path, &pid) == 0 && pid > 0;
	char log[160];
	ferry_simdevd_log_path(socket_path, log, sizeof log);
	unlink(socket_path);
	unlink(log);
	if (!serving)
		return true;
	uint64_t deadline = ferry_monotonic_ms() + (uint64_t)timeout_ms;
	while (!simdevd_process_gone(pid)) {
		if (ferry_monotonic_ms() >= deadline) {
			kill(pid, SIGKILL); /* do not leave it behind, but report the failure */
			return false;
		}
		usleep(10000);
	}
	return true;
}
