/* Finding or starting ferry-simdevd; see simdevd_launch.h. */
#include "simdevd_launch.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "errbuf.h"
#include "sim_protocol.h"

#define PROBE_TIMEOUT_MS 1000 /* a live ferry-simdevd answers in microseconds */
#define PROBE_INTERVAL_MS 10

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

void ferry_simdevd_default_socket(const char *vm_socket, char *out, size_t cap)
{
	const char *slash = strrchr(vm_socket, '/');
	const char *base = slash ? slash + 1 : vm_socket;
	int dir_len = (int)(base - vm_socket);
	if (strcmp(base, "agent.sock") == 0)
		snprintf(out, cap, "%.*ssimdevd.sock", dir_len, vm_socket);
	else if (ends_with(vm_socket, ".sock"))
		snprintf(out, cap, "%.*s.simdevd.sock", (int)(strlen(vm_socket) - 5), vm_socket);
	else
		snprintf(out, cap, "%s.simdevd.sock", vm_socket);
}

void ferry_simdevd_log_path(const char *socket_path, char *out, size_t cap)
{
	if (ends_with(socket_path, ".sock"))
		snprintf(out, cap, "%.*s.log", (int)(strlen(socket_path) - 5), socket_path);
	else
		snprintf(out, cap, "%s.log", socket_path);
}

int ferry_simdevd_default_binary(char *out, size_t cap)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n < 0)
		return -errno;
	exe[n] = '\0';
	int w = snprintf(out, cap, "%s/ferry-simdevd", dirname(exe));
	return w < 0 || (size_t)w >= cap ? -ENAMETOOLONG : 0;
}

int ferry_simdevd_probe(const char *socket_path, pid_t *pid)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(socket_path) >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", socket_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int rc = 0;
	/* Bounded: something else listening there must not hang the agent's start. */
	struct timeval tv = {PROBE_TIMEOUT_MS / 1000, (PROBE_TIMEOUT_MS % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		rc = -errno;
		goto out;
	}
	struct ferry_sim_msg req = {.op = FERRY_SIM_OP_GET_STATE}, resp;
	uint8_t why[256];
	if ((rc = ferry_sim_send(fd, &req, NULL, -1)) < 0)
		goto out;
	rc = ferry_sim_recv(fd, false, &resp, why, sizeof why, NULL);
	if (rc == 0 && (resp.op != FERRY_SIM_OP_GET_STATE || resp.result != -EBADF))
		rc = -EPROTO;
	if (rc == 0 && pid) {
		struct ucred cred;
		socklen_t len = sizeof cred;
		*pid = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ? cred.pid : 0;
	}
out:
	close(fd);
	return rc == -EAGAIN ? -ETIMEDOUT : rc;
}

/* In the detached grandchild: a clean signal state, standard fds, then exec. Only async-signal-safe
 * calls; on failure the errno goes up the pipe. */
static void exec_detached(const struct ferry_simdevd_launch *l, int report_fd)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL); /* the agent blocks SIGTERM/SIGINT for its signalfd */
	signal(SIGPIPE, SIG_DFL);
	int null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
	}
	int log = open(l->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	dup2(log >= 0 ? log : null, STDERR_FILENO);
	execl(l->binary, l->binary, "--config", l->config_path, "--socket", l->socket_path, (char *)NULL);
	int e = errno;
	(void)!write(report_fd, &e, sizeof e);
	_exit(127);
}

static int start_detached(const struct ferry_simdevd_launch *l, char *err, size_t errlen)
{
	int report[2];
	if (pipe2(report, O_CLOEXEC) != 0) {
		int e = errno;
		ferry_errbuf_set(err, errlen, "pipe: %s", strerror(e));
		return -e;
	}
	pid_t child = fork();
	if (child == 0) {
		/* Double fork: the grandchild is reparented to init, so it is nobody's zombie and no
		 * signal to the agent's process group or session reaches it. */
		close(report[0]);
		setsid();
		pid_t grandchild = fork();
		if (grandchild == 0)
			exec_detached(l, report[1]);
		_exit(grandchild < 0 ? 1 : 0);
	}
	close(report[1]);
	int rc = 0;
	if (child < 0) {
		rc = -errno;
		ferry_errbuf_set(err, errlen, "fork: %s", strerror(-rc));
	} else {
		int status = 0;
		while (waitpid(child, &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			rc = -ECHILD;
			ferry_errbuf_set(err, errlen, "cannot fork ferry-simdevd");
		}
	}
	int e = 0;
	ssize_t n;
	while ((n = read(report[0], &e, sizeof e)) < 0 && errno == EINTR)
		; /* EOF: the exec succeeded (the pipe's write end closed on exec) */
	close(report[0]);
	if (rc == 0 && n == (ssize_t)sizeof e) {
		rc = -e;
		ferry_errbuf_set(err, errlen, "cannot run %s: %s", l->binary, strerror(e));
	}
	return rc;
}

int ferry_simdevd_ensure(const struct ferry_simdevd_launch *l, pid_t *pid, bool *started, char *err, size_t errlen)
{
	*started = false;
	*pid = 0;
	if (ferry_simdevd_probe(l->socket_path, pid) == 0)
		return 0;
	int rc = start_detached(l, err, errlen);
	if (rc < 0)
		return rc;
	*started = true;
	uint64_t deadline = ferry_monotonic_ms() + l->timeout_ms;
	for (;;) {
		rc = ferry_simdevd_probe(l->socket_path, pid);
		if (rc == 0)
			return 0;
		if (ferry_monotonic_ms() >= deadline)
			break;
		struct timespec ts = {0, PROBE_INTERVAL_MS * 1000000L};
		nanosleep(&ts, NULL);
	}
	ferry_errbuf_set(err, errlen, "ferry-simdevd (%s) did not answer on %s within %u ms (last: %s); see %s", l->binary,
			 l->socket_path, l->timeout_ms, strerror(-rc), l->log_path);
	return -ETIMEDOUT;
}
