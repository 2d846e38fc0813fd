/*
 * Finding or starting the host's ferry-simdevd (programs/ferry-simdevd.c), the process that holds
 * the simulated devices the way the kernel holds real ones.
 *
 * The agent asks the socket first: a live ferry-simdevd answering there is reused, with its
 * devices exactly where they were (a restarted agent re-opens them and reads their state back).
 * Only when none answers does the agent start one, detached (its own session, reparented to init,
 * stdin/stdout on /dev/null, stderr appended to its log file), so that it outlives the agent as
 * kernel devices do. It reads the same config file as the agent.
 */
#ifndef FERRY_SIMDEVD_LAUNCH_H
#define FERRY_SIMDEVD_LAUNCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define FERRY_SIMDEVD_START_TIMEOUT_MS 5000u

/* The socket next to the VM socket: DIR/agent.sock -> DIR/simdevd.sock (the host's one agent);
 * DIR/NAME.sock -> DIR/NAME.simdevd.sock, so that several agents playing several hosts on one
 * machine (tests, the demo) each get their own; any other PATH -> PATH.simdevd.sock. */
void ferry_simdevd_default_socket(const char *vm_socket, char *out, size_t cap);

/* The log file of a ferry-simdevd on `socket_path`: the path with ".sock" replaced by ".log". */
void ferry_simdevd_log_path(const char *socket_path, char *out, size_t cap);

/* "ferry-simdevd" in the directory of the running executable (/proc/self/exe). 0 or -errno. */
int ferry_simdevd_default_binary(char *out, size_t cap);

/* One request to the socket (GET_STATE on no device, which a ferry-simdevd answers -EBADF): 0 and
 * the server's pid (SO_PEERCRED; pid may be NULL) if a ferry-simdevd answers, else -errno. */
int ferry_simdevd_probe(const char *socket_path, pid_t *pid);

struct ferry_simdevd_launch {
	const char *socket_path;
	const char *binary;      /* absolute path */
	const char *config_path; /* absolute path of the agent's config file */
	const char *log_path;    /* its stderr */
	unsigned timeout_ms;     /* how long to wait for a started one to answer */
};

/* Makes sure a ferry-simdevd answers on l->socket_path: reuses a live one (*started = false) or
 * starts l->binary (*started = true) and waits for it. *pid = its pid. 0, or -errno with the
 * reason in err (-ETIMEDOUT when a started one did not answer in time: see its log). */
int ferry_simdevd_ensure(const struct ferry_simdevd_launch *l, pid_t *pid, bool *started, char *err, size_t errlen);

#endif
