/* Tests only: ending a detached ferry-simdevd that an agent under test started. It is not our
 * child (the agent double-forks it), so it is stopped the way a cleaned-up host directory stops
 * it: removing its socket file (sim_server.h), then waiting until the process is gone. */
#ifndef FERRY_TEST_SIMDEVD_HELPER_H
#define FERRY_TEST_SIMDEVD_HELPER_H

#include <stdbool.h>
#include <sys/types.h>

/* True once pid no longer runs (gone, or a zombie nobody reaped). */
bool simdevd_process_gone(pid_t pid);

/* Removes socket_path (and its .log) and waits (bounded, timeout_ms) for the ferry-simdevd that
 * served it to exit. Returns true when it did, or when none was serving. */
bool simdevd_stop_by_socket(const char *socket_path, int timeout_ms);

#endif
