/* The agent's VM socket: one owner per path, stale sockets replaced, every bad registration
 * answered with its reason while the next good one is served, duplicates refused while the first
 * lives, unregistration on close; and the real ferry-agent reporting a registered VM to ferryd. */
#include "clock.h"
#include "config.h"
#include "ferry.pb-c.h"
#include "test.h"
#include "test_peer.h"
#include "simdevd_helper.h"
#include "simdevd_launch.h"
#include "vm_listener.h"
#include "workload_agent.h"
#include "workload_ipc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define TIMEOUT_MS 10000

static int changes;
static void count_change(void *ctx)
{
	(void)ctx;
	changes++;
}

static void socket_path(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "/tmp/ferry-test-%d/%s", (int)getpid(), name);
}

/* Runs the listener's poll loop for `ms` milliseconds. */
static void pump(struct ferry_vm_listener *l, int ms)
{
	uint64_t end = ferry_monotonic_ms() + (uint64_t)ms;
	while (ferry_monotonic_ms() < end) {
		struct pollfd p[FERRY_VM_MAX_CONNS + 1];
		size_t n = ferry_vm_listener_pollfds(l, p, FERRY_VM_MAX_CONNS + 1);
		if (poll(p, n, 10) > 0)
			ferry_vm_listener_on_poll(l, p, n, ferry_monotonic_ms());
	}
}

/* Sends `line` with fds, pumps the listener, and returns the answer line (fds that came with it in
 * *fd_out, -1 if none). */
static int exchange(struct ferry_vm_listener *l, int fd, const char *line, const int *fds, int nfds, char *answer,
		    size_t cap, int *fd_out)
{
	if (fd_out)
		*fd_out = -1;
	int rc = ferry_workload_ipc_send_line(fd, line, fds, nfds);
	if (rc)
		return rc;
	pump(l, 50);
	int got[FERRY_WORKLOAD_IPC_MAX_FDS], ngot = 0;
	rc = ferry_workload_ipc_recv_line(fd, answer, cap, got, &ngot, 2000);
	if (ngot > 0 && fd_out)
		*fd_out = got[0];
	else if (ngot > 0)
		close(got[0]);
	return rc < 0 ? rc : 0;
}

static int connect_to(const char *path)
{
	int fd = -1;
	EXPECT_EQ_INT(ferry_workload_ipc_connect(path, &fd), 0);
	return fd;
}

static int memfd_of(uint64_t bytes)
{
	int fd = memfd_create("test-ram", MFD_CLOEXEC);
	if (fd >= 0 && ftruncate(fd, (off_t)bytes) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void register_line(char *line, size_t cap, const char *vm, uint64_t ram, unsigned page, const char *mode)
{
	snprintf(line, cap, "register vm=%s vcpus=1 ram_bytes=%llu page_size=%u pid=%d control=/tmp/%s.sock mode=%s\n", vm,
		 (unsigned long long)ram, page, (int)getpid(), vm, mode);
}

FERRY_TEST(vm_listener_one_owner_per_path_and_stale_socket_replaced)
{
	char path[108], err[256];
	socket_path(path, sizeof path, "a/agent.sock");
	struct ferry_vm_listener a, b;
	EXPECT_EQ_INT(ferry_vm_listener_open(&a, path, NULL, NULL, err, sizeof err), 0); /* creates the dirs */
	EXPECT_EQ_INT(ferry_vm_listener_open(&b, path, NULL, NULL, err, sizeof err), -EADDRINUSE);
	char want[64];
	snprintf(want, sizeof want, "another agent (pid %d) owns", (int)getpid());
	EXPECT(strstr(err, want) != NULL);
	EXPECT(access(path, F_OK) == 0); /* the refused one left the owner's socket alone */
	ferry_vm_listener_close(&a);
	EXPECT(access(path, F_OK) != 0);

	/* A socket file whose agent died (bound, never unlinked, no lock held): replaced. */
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	EXPECT_EQ_INT(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
	close(s);
	EXPECT_EQ_INT(ferry_vm_listener_open(&b, path, NULL, NULL, err, sizeof err), 0);
	int fd = connect_to(path);
	EXPECT(fd >= 0);
	close(fd);
	ferry_vm_listener_close(&b);
}

FERRY_TEST(vm_listener_answers_each_bad_registration_and_serves_the_next)
{
	char path[108], err[256], line[FERRY_WORKLOAD_IPC_LINE_MAX + 64], answer[1024];
	socket_path(path, sizeof path, "agent.sock");
	struct ferry_vm_listener l;
	changes = 0;
	EXPECT_EQ_INT(ferry_vm_listener_open(&l, path, count_change, NULL, err, sizeof err), 0);
	int ram = memfd_of(1u << 20), uffd = ferry_workload_create_userfaultfd(), pipefd[2];
	EXPECT(ram >= 0 && uffd >= 0 && pipe(pipefd) == 0);

	struct {
		const char *vm, *mode;
		uint64_t ram;
		unsigned page;
		int fds[3], nfds;
		const char *want;
	} bad[] = {
		{"vm-1", "run", 1u << 20, 4096, {pipefd[0], uffd}, 2, "error the guest RAM fd is pipe:"},
		{"vm-1", "run", 1u << 20, 4096, {ram, pipefd[0]}, 2, "error the second fd is pipe:"},
		{"vm-1", "run", 2u << 20, 4096, {ram, uffd}, 2, "error the guest RAM fd holds 1048576 bytes"},
		{"vm-1", "run", 1u << 20, 65536, {ram, uffd}, 2, "error page_size=65536 is not supported"},
		{"vm-1", "run", 1u << 20, 4096, {0}, 0, "error mode=run needs 2 fds"},
		{"vm-1", "run", 1u << 20, 4096, {ram}, 1, "error mode=run needs 2 fds"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int fd = connect_to(path);
		register_line(line, sizeof line, bad[i].vm, bad[i].ram, bad[i].page, bad[i].mode);
		EXPECT_EQ_INT(exchange(&l, fd, line, bad[i].fds, bad[i].nfds, answer, sizeof answer, NULL), 0);
		if (strncmp(answer, bad[i].want, strlen(bad[i].want)) != 0)
			fprintf(stderr, "  case %zu: answer \"%s\"\n", i, answer);
		EXPECT(strncmp(answer, bad[i].want, strlen(bad[i].want)) == 0);
		char c;
		EXPECT_EQ_INT(read(fd, &c, 1), 0); /* closed after the answer */
		close(fd);
	}
	/* Malformed, and oversized (no newline within the line limit). */
	int fd = connect_to(path);
	EXPECT_EQ_INT(exchange(&l, fd, "register vm=x\n", NULL, 0, answer, sizeof answer, NULL), 0);
	EXPECT(strncmp(answer, "error register: control=", 24) == 0);
	close(fd);
	fd = connect_to(path);
	memset(line, 'x', FERRY_WORKLOAD_IPC_LINE_MAX + 10);
	EXPECT_EQ_INT(write(fd, line, FERRY_WORKLOAD_IPC_LINE_MAX + 10), FERRY_WORKLOAD_IPC_LINE_MAX + 10);
	pump(&l, 50);
	EXPECT(ferry_workload_ipc_recv_line(fd, answer, sizeof answer, NULL, NULL, 2000) > 0);
	EXPECT(strncmp(answer, "error message too large", 23) == 0);
	close(fd);
	/* Silent for too long. */
	fd = connect_to(path);
	pump(&l, 20);
	ferry_vm_listener_on_timer(&l, ferry_monotonic_ms() + FERRY_VM_REGISTER_TIMEOUT_MS + 1);
	EXPECT(ferry_workload_ipc_recv_line(fd, answer, sizeof answer, NULL, NULL, 2000) > 0);
	EXPECT(strncmp(answer, "error no register line within", 29) == 0);
	close(fd);
	EXPECT_EQ_U64(l.refused, 9);
	EXPECT_EQ_INT(changes, 0);

	/* The listener still serves: a good registration, then a duplicate while it lives. */
	int good = connect_to(path);
	register_line(line, sizeof line, "vm-1", 1u << 20, 4096, "run");
	int fds[2] = {ram, uffd};
	EXPECT_EQ_INT(exchange(&l, good, line, fds, 2, answer, sizeof answer, NULL), 0);
	EXPECT_EQ_STR(answer, "ok registered vm=vm-1");
	EXPECT_EQ_INT(changes, 1);
	const struct ferry_vm_entry *e = ferry_vm_registry_find(&l.registry, "vm-1");
	EXPECT(e && e->reg.pid == getpid() && e->memfd >= 0 && e->uffd >= 0);
	int dup = connect_to(path);
	EXPECT_EQ_INT(exchange(&l, dup, line, fds, 2, answer, sizeof answer, NULL), 0);
	EXPECT(strncmp(answer, "error VM vm-1 is already registered", 35) == 0);
	close(dup);
	/* Its connection closes: unregistered, and the id is free again. */
	close(good);
	pump(&l, 50);
	EXPECT(ferry_vm_registry_find(&l.registry, "vm-1") == NULL);
	EXPECT_EQ_INT(changes, 2);
	good = connect_to(path);
	EXPECT_EQ_INT(exchange(&l, good, line, fds, 2, answer, sizeof answer, NULL), 0);
	EXPECT_EQ_STR(answer, "ok registered vm=vm-1");

	/* An incoming VM hands over its userfaultfd and gets a memfd of its size from the agent. */
	int in = connect_to(path), memfd = -1;
	register_line(line, sizeof line, "vm-in", 8u << 20, 4096, "incoming");
	EXPECT_EQ_INT(exchange(&l, in, line, &uffd, 1, answer, sizeof answer, &memfd), 0);
	EXPECT_EQ_STR(answer, "ok registered vm=vm-in memfd=1");
	struct stat st;
	EXPECT(memfd >= 0 && fstat(memfd, &st) == 0 && st.st_size == (off_t)(8u << 20));
	const struct ferry_vm_entry *in_e = ferry_vm_registry_find(&l.registry, "vm-in");
	EXPECT(in_e && in_e->uffd >= 0 && in_e->memfd >= 0 && !in_e->started);
	EXPECT_EQ_U64(l.registry.count, 2);
	ferry_vm_listener_close(&l);
	close(in);
	close(good);
	close(memfd);
	close(ram);
	close(uffd);
	close(pipefd[0]);
	close(pipefd[1]);
}

/* An incoming VM's workload is the agent's child: once it ran here (adopted) and exits, the
 * listener reaps it, with no migration record left to do so. The child registers for real
 * (mode=incoming: its own userfaultfd, the agent's memfd back), then exits when told. */
FERRY_TEST(vm_listener_reaps_an_adopted_workload_after_it_exits)
{
	char path[108], err[256];
	socket_path(path, sizeof path, "reap.sock");
	struct ferry_vm_listener l;
	EXPECT_EQ_INT(ferry_vm_listener_open(&l, path, NULL, NULL, err, sizeof err), 0);
	int go[2];
	EXPECT_EQ_INT(pipe(go), 0);
	pid_t pid = fork();
	if (pid == 0) {
		struct ferry_vm_registration reg = {.vcpus = 1, .ram_bytes = 1u << 20, .page_size = 4096, .incoming = 1};
		snprintf(reg.vm_id, sizeof reg.vm_id, "vm-child");
		snprintf(reg.control, sizeof reg.control, "/tmp/unused-control.sock");
		reg.pid = getpid();
		int fd = -1, memfd = -1;
		char cerr[256];
		if (ferry_workload_agent_register_incoming(path, &reg, &fd, &memfd, cerr, sizeof cerr))
			_exit(3);
		char c;
		_exit(read(go[0], &c, 1) == 1 ? 0 : 4);
	}
	EXPECT(pid > 0);
	for (int i = 0; i < 200 && !ferry_vm_registry_find(&l.registry, "vm-child"); i++)
		pump(&l, 10);
	const struct ferry_vm_entry *e = ferry_vm_registry_find(&l.registry, "vm-child");
	EXPECT(e && e->reg.pid == pid && e->uffd >= 0 && e->child == 0);
	EXPECT_EQ_INT(ferry_vm_listener_adopt_child(&l, "vm-nope", pid), -ENOENT);
	EXPECT_EQ_INT(ferry_vm_listener_adopt_child(&l, "vm-child", pid), 0);
	EXPECT_EQ_INT(write(go[1], "x", 1), 1);
	/* Its connection closes as it exits: unregistered, then reaped from on_timer. */
	for (int i = 0; i < 500 && l.reaped == 0; i++) {
		pump(&l, 10);
		ferry_vm_listener_on_timer(&l, ferry_monotonic_ms() + FERRY_VM_REAP_RETRY_MS);
	}
	EXPECT(ferry_vm_registry_find(&l.registry, "vm-child") == NULL);
	EXPECT_EQ_U64(l.reaped, 1);
	EXPECT_EQ_U64(l.n_reap, 0);
	errno = 0;
	EXPECT_EQ_INT(waitpid(pid, NULL, WNOHANG), -1); /* nothing left to wait for: the listener did */
	EXPECT_EQ_INT(errno, ECHILD);
	if (l.reaped == 0) { /* do not leave it behind */
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	ferry_vm_listener_close(&l);
	close(go[0]);
	close(go[1]);
}

static const char *agent_bin(void)
{
	const char *bin = getenv("FERRY_AGENT_BIN");
	EXPECT(bin != NULL);
	return bin;
}

/* The next Inventory from the agent, answering heartbeats on the way. */
static Ferry__V1__Inventory *next_inventory(struct test_peer *ferryd)
{
	for (int i = 0; i < 50; i++) {
		struct ferry_frame f;
		if (test_peer_read_frame(ferryd, &f, TIMEOUT_MS) != 1)
			return NULL;
		if (f.type == FERRY__V1__FRAME_TYPE__FRAME_TYPE_HEARTBEAT)
			test_peer_send(ferryd, f.type, f.msg);
		if (f.type == FERRY__V1__FRAME_TYPE__FRAME_TYPE_INVENTORY)
			return (Ferry__V1__Inventory *)f.msg;
		protobuf_c_message_free_unpacked(f.msg, NULL);
	}
	return NULL;
}

FERRY_TEST(agent_process_reports_registered_vms_in_its_inventory)
{
	const char *bin = agent_bin(), *repo = getenv("FERRY_REPO");
	if (!bin || !repo)
		return;
	char conf[108], path[108];
	/* Two sim devices of vm-1 that DMA-write (the demo's host-a.conf turns DMA off for its
	 * self-checked workloads). */
	static const char vm1_devices[] =
		"[device sim-a0]\nbackend = sim\nvendor_id = 0x1af4\ndevice_id = 0x1041\ndriver = ferry-sim\n"
		"migration = stop_copy,p2p,pre_copy\nmigration_version = ferry-sim/1\nvm = vm-1\n"
		"dma_write_rate = 1MiB/s\n"
		"[device sim-a1]\nbackend = sim\nvendor_id = 0x1af4\ndevice_id = 0x1041\ndriver = ferry-sim\n"
		"migration = stop_copy,p2p,pre_copy\nmigration_version = ferry-sim/1\nvm = vm-1\n"
		"dma_write_rate = 1MiB/s\n";
	socket_path(conf, sizeof conf, "");
	mkdir(conf, 0700);
	socket_path(conf, sizeof conf, "vm-1.conf");
	FILE *cf = fopen(conf, "w");
	EXPECT(cf != NULL);
	if (!cf)
		return;
	fputs(vm1_devices, cf);
	fclose(cf);
	socket_path(path, sizeof path, "agent.sock");
	struct test_peer ferryd;
	EXPECT_EQ_INT(test_peer_listen(&ferryd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		execl(bin, bin, "--coordinator", ferryd.address, "--host-id", "host-a", "--config", conf, "--data-listen",
		      "127.0.0.1:0", "--vm-socket", path, "--log-level", "warning", (char *)NULL);
		_exit(127);
	}
	EXPECT_EQ_INT(test_peer_accept(&ferryd, TIMEOUT_MS), 0);
	ProtobufCMessage *hello = test_peer_expect(&ferryd, FERRY__V1__FRAME_TYPE__FRAME_TYPE_HELLO, TIMEOUT_MS);
	EXPECT(hello != NULL);
	if (hello)
		protobuf_c_message_free_unpacked(hello, NULL);
	EXPECT_EQ_INT(test_peer_send_welcome(&ferryd, 1, 200, 50), 0);
	Ferry__V1__Inventory *inv = next_inventory(&ferryd);
	EXPECT(inv && inv->n_vms == 0);
	if (inv)
		protobuf_c_message_free_unpacked(&inv->base, NULL);

	/* This test process registers itself as vm-1 (the config attaches sim-a0 and sim-a1 to it). */
	int ram = memfd_of(1u << 20), uffd = ferry_workload_create_userfaultfd(), fd = -1;
	for (int i = 0; i < 500 && ferry_workload_ipc_connect(path, &fd) != 0; i++)
		usleep(10000);
	struct ferry_vm_registration reg = {.vm_id = "vm-1", .vcpus = 3, .ram_bytes = 1u << 20, .page_size = 4096,
					    .pid = getpid(), .control = "/tmp/vm-1.sock"};
	char err[256] = "";
	EXPECT_EQ_INT(ferry_workload_ipc_register(fd, &reg, ram, uffd, NULL, TIMEOUT_MS, err, sizeof err), 0);
	inv = next_inventory(&ferryd);
	EXPECT(inv && inv->n_vms == 1);
	if (inv && inv->n_vms == 1) {
		Ferry__V1__Vm *vm = inv->vms[0];
		EXPECT_EQ_STR(vm->vm_id, "vm-1");
		EXPECT_EQ_U64(vm->ram_bytes, 1u << 20);
		EXPECT_EQ_INT(vm->vcpus, 3);
		EXPECT_EQ_INT(vm->pid, getpid());
		EXPECT_EQ_INT(vm->state, FERRY__V1__VM_STATE__VM_STATE_RUNNING);
		EXPECT_EQ_U64(vm->n_device_ids, 2);
		if (vm->n_device_ids == 2) {
			EXPECT_EQ_STR(vm->device_ids[0], "sim-a0");
			EXPECT_EQ_STR(vm->device_ids[1], "sim-a1");
		}
	}
	if (inv)
		protobuf_c_message_free_unpacked(&inv->base, NULL);
	/* The agent attached vm-1's RAM to its sim devices: their DMA writes land in our memfd. */
	uint8_t *mem = mmap(NULL, 1u << 20, PROT_READ, MAP_SHARED, ram, 0);
	EXPECT(mem != MAP_FAILED);
	bool written = false;
	for (uint64_t deadline = ferry_monotonic_ms() + TIMEOUT_MS; mem != MAP_FAILED && !written;) {
		for (size_t i = 0; i < (1u << 20) && !written; i += 8)
			written = *(const volatile uint64_t *)(mem + i) != 0;
		if (written || ferry_monotonic_ms() >= deadline)
			break;
		usleep(20000);
	}
	EXPECT(written);
	if (mem != MAP_FAILED)
		munmap(mem, 1u << 20);
	/* A bad registration is refused and the agent keeps running. */
	int bad = -1;
	EXPECT_EQ_INT(ferry_workload_ipc_connect(path, &bad), 0);
	reg.ram_bytes = 2u << 20;
	snprintf(reg.vm_id, sizeof reg.vm_id, "vm-2");
	EXPECT_EQ_INT(ferry_workload_ipc_register(bad, &reg, ram, uffd, NULL, TIMEOUT_MS, err, sizeof err), -ECONNREFUSED);
	EXPECT(strstr(err, "holds 1048576 bytes") != NULL);
	close(bad);
	/* The workload leaves: the VM is gone from the next Inventory. */
	close(fd);
	inv = next_inventory(&ferryd);
	EXPECT(inv && inv->n_vms == 0);
	if (inv)
		protobuf_c_message_free_unpacked(&inv->base, NULL);
	EXPECT_EQ_INT(kill(pid, 0), 0);
	kill(pid, SIGTERM);
	int status = 0;
	EXPECT_EQ_INT(waitpid(pid, &status, 0), pid);
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT(access(path, F_OK) != 0); /* the agent removed its socket */
	char sim_socket[160];
	ferry_simdevd_default_socket(path, sim_socket, sizeof sim_socket);
	EXPECT(simdevd_stop_by_socket(sim_socket, 5000));
	unlink(conf);
	test_peer_close(&ferryd);
	close(ram);
	close(uffd);
}

FERRY_TEST(config_vm_socket_key_takes_an_absolute_path)
{
	static struct ferry_agent_config cfg;
	char err[256] = "";
	EXPECT_EQ_INT(ferry_config_parse("vm_socket = /run/ferry/a.sock\n", "t.conf", &cfg, err, sizeof err), 0);
	EXPECT_EQ_STR(cfg.vm_socket, "/run/ferry/a.sock");
	EXPECT_EQ_INT(ferry_config_parse("vm_socket = run/a.sock\n", "t.conf", &cfg, err, sizeof err), -1);
	EXPECT_EQ_STR(err, "t.conf:1: vm_socket: must be an absolute path");
	char longer[300];
	snprintf(longer, sizeof longer, "vm_socket = /%0120d\n", 0);
	EXPECT_EQ_INT(ferry_config_parse(longer, "t.conf", &cfg, err, sizeof err), -1);
}
