/* Incoming mode end to end on one machine: a source workload is frozen and its vCPU state
 * exported; its memory is read (page_reader) into the guest RAM the agent's VM listener created
 * for a destination workload started --incoming; `start` makes the destination verify and run on
 * from the source's state (generations continue). A copy with one corrupted byte is refused,
 * naming the page. Also: both page-reading strategies return the same bytes. */
#include "clock.h"
#include "page_check.h"
#include "page_reader.h"
#include "staged_verify.h"
#include "test.h"
#include "vm_listener.h"
#include "workload_ipc.h"
#include "workload_state.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define TIMEOUT_MS 10000
#define RAM_MIB "16MiB"
#define RAM_BYTES (16u << 20)

static int workload_binary(char *out, size_t cap)
{
	const char *agent = getenv("FERRY_AGENT_BIN");
	if (!agent)
		return -ENOENT;
	char copy[PATH_MAX];
	snprintf(copy, sizeof copy, "%s", agent);
	snprintf(out, cap, "%s/ferry-workload", dirname(copy));
	return access(out, X_OK) == 0 ? 0 : -ENOENT;
}

/* Starts ferry-workload with the common options plus `extra` (NULL-terminated, up to 6). */
static pid_t spawn_workload(const char *control, const char *const *extra)
{
	char bin[PATH_MAX];
	if (workload_binary(bin, sizeof bin)) {
		fprintf(stderr, "  ferry-workload not found (run through make check)\n");
		return -1;
	}
	unlink(control);
	pid_t pid = fork();
	if (pid == 0) {
		const char *argv[24] = {bin, "--control", control, "--ram", RAM_MIB, "--vcpus", "2", "--dirty-rate", "0",
					"--pattern", "sweep", "--seed", "5", "--log-level", "warning"};
		int n = 15;
		for (int i = 0; extra[i] && n < 23; i++)
			argv[n++] = extra[i];
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static int connect_control(const char *path)
{
	int fd = -1;
	for (int i = 0; i < TIMEOUT_MS / 10; i++) {
		if (ferry_workload_ipc_connect(path, &fd) == 0)
			return fd;
		usleep(10000);
	}
	return -1;
}

static int wait_exit(pid_t pid)
{
	int status = 0;
	for (int i = 0; i < TIMEOUT_MS / 10; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

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

/* Pumps until `vm_id` is registered (returns it) or the bound passes. */
static struct ferry_vm_entry *await_registered(struct ferry_vm_listener *l, const char *vm_id)
{
	for (int i = 0; i < TIMEOUT_MS / 20; i++) {
		const struct ferry_vm_entry *e = ferry_vm_registry_find(&l->registry, vm_id);
		if (e)
			return (struct ferry_vm_entry *)e;
		pump(l, 20);
	}
	return NULL;
}

/* The workload's answer to `start` (its entry may be gone already if it refused and exited). */
static const char *await_start_answer(struct ferry_vm_listener *l)
{
	for (int i = 0; i < TIMEOUT_MS / 20 && !l->last_start_answer[0]; i++)
		pump(l, 20);
	EXPECT_EQ_STR(l->last_start_vm, "vm-m");
	return l->last_start_answer;
}

struct source {
	pid_t pid;
	int ctl;
	struct ferry_workload_attach at;
	char blob[FERRY_VCPU_STATE_TEXT_MAX];
	uint64_t generation;
};

/* A running source, then frozen, exported and attached (memfd, pid, base). */
static int start_source(struct source *s, const char *control)
{
	const char *none[] = {NULL};
	char reply[FERRY_WORKLOAD_IPC_LINE_MAX], err[256];
	s->pid = spawn_workload(control, none);
	s->ctl = s->pid > 0 ? connect_control(control) : -1;
	if (s->ctl < 0)
		return -1;
	/* Let every page be rewritten a few times, so generations are well past the fill's 1. */
	for (int i = 0; i < TIMEOUT_MS / 10 && s->generation < 4; i++) {
		usleep(10000);
		EXPECT_EQ_INT(ferry_workload_ipc_command(s->ctl, "stats", reply, sizeof reply, TIMEOUT_MS), 0);
		ferry_workload_ipc_field_u64(reply, "generation", &s->generation);
	}
	EXPECT_EQ_INT(ferry_workload_ipc_command(s->ctl, "freeze", reply, sizeof reply, TIMEOUT_MS), 0);
	EXPECT_EQ_INT(ferry_workload_ipc_command(s->ctl, "stats", reply, sizeof reply, TIMEOUT_MS), 0);
	EXPECT_EQ_INT(ferry_workload_ipc_field_u64(reply, "generation", &s->generation), 0);
	EXPECT_EQ_INT(ferry_workload_ipc_command(s->ctl, "export", reply, sizeof reply, TIMEOUT_MS), 0);
	EXPECT(strncmp(reply, "ok export vcpus=2 state=", 24) == 0);
	EXPECT_EQ_INT(ferry_workload_ipc_field_str(reply, "state", s->blob, sizeof s->blob), 0);
	int rc = ferry_workload_ipc_attach(s->ctl, &s->at, TIMEOUT_MS, err, sizeof err);
	if (rc)
		fprintf(stderr, "  attach: %s\n", err);
	return rc;
}

static void stop_source(struct source *s)
{
	char reply[64];
	if (s->ctl >= 0) {
		ferry_workload_ipc_command(s->ctl, "quit", reply, sizeof reply, TIMEOUT_MS);
		close(s->ctl);
	}
	if (s->at.memfd >= 0)
		close(s->at.memfd);
	if (s->pid > 0)
		EXPECT_EQ_INT(wait_exit(s->pid), 0);
}

/* Copies all of the source's guest RAM into dst_memfd, reading it from the source process. */
static int copy_memory(const struct source *s, int dst_memfd)
{
	struct ferry_page_reader *r = NULL;
	char err[256];
	int rc = ferry_page_reader_open(FERRY_PAGE_READ_PROCESS_VM, -1, s->at.pid, s->at.base, s->at.ram_bytes, &r, err,
					sizeof err);
	uint8_t *dst = mmap(NULL, RAM_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, dst_memfd, 0);
	uint64_t pages[256];
	for (uint64_t first = 0; rc == 0 && first < RAM_BYTES / FERRY_PAGE_BYTES; first += 256) {
		for (unsigned i = 0; i < 256; i++)
			pages[i] = first + i;
		rc = ferry_page_reader_read(r, pages, 256, dst + first * FERRY_PAGE_BYTES, err, sizeof err);
	}
	if (rc)
		fprintf(stderr, "  copy: %s\n", err);
	munmap(dst, RAM_BYTES);
	ferry_page_reader_close(r);
	return rc;
}

FERRY_TEST(incoming_workload_verifies_and_continues_from_the_source_state)
{
	char src_ctl[108], dst_ctl[108], agent[108], err[256], reply[FERRY_WORKLOAD_IPC_LINE_MAX];
	snprintf(src_ctl, sizeof src_ctl, "/tmp/ferry-test-%d-src.sock", (int)getpid());
	snprintf(dst_ctl, sizeof dst_ctl, "/tmp/ferry-test-%d-dst.sock", (int)getpid());
	snprintf(agent, sizeof agent, "/tmp/ferry-test-%d/agent.sock", (int)getpid());
	struct source s = {.ctl = -1, .at.memfd = -1};
	EXPECT_EQ_INT(start_source(&s, src_ctl), 0);
	struct ferry_vm_listener l;
	EXPECT_EQ_INT(ferry_vm_listener_open(&l, agent, NULL, NULL, err, sizeof err), 0);
	const char *incoming[] = {"--agent-socket", agent, "--vm-id", "vm-m", "--incoming", NULL};
	pid_t dst = spawn_workload(dst_ctl, incoming);
	struct ferry_vm_entry *e = await_registered(&l, "vm-m");
	EXPECT(e != NULL);
	if (!e || s.at.memfd < 0) {
		kill(dst, SIGKILL);
		stop_source(&s);
		return;
	}
	EXPECT_EQ_INT(e->reg.pid, dst);
	EXPECT_EQ_INT(copy_memory(&s, e->memfd), 0);
	EXPECT_EQ_INT(ferry_vm_listener_start(&l, "vm-m", 2, s.blob, -1, err, sizeof err), 0);
	char want[64];
	snprintf(want, sizeof want, "ok started generation=%llu pages_verified=%u", (unsigned long long)s.generation,
		 RAM_BYTES / FERRY_PAGE_BYTES); /* no bitmap came with start: all of RAM */
	EXPECT_EQ_STR(await_start_answer(&l), want);
	EXPECT(e->started && strcmp(e->start_answer, want) == 0);

	/* The destination runs on: generations go past the source's, memory stays valid. */
	int ctl = connect_control(dst_ctl);
	uint64_t gen = 0, writes = 0, src_writes = 0;
	for (int i = 0; i < TIMEOUT_MS / 10 && gen <= s.generation; i++) {
		usleep(10000);
		EXPECT_EQ_INT(ferry_workload_ipc_command(ctl, "stats", reply, sizeof reply, TIMEOUT_MS), 0);
		ferry_workload_ipc_field_u64(reply, "generation", &gen);
		ferry_workload_ipc_field_u64(reply, "writes", &writes);
	}
	EXPECT(gen > s.generation);
	EXPECT_EQ_INT(ferry_workload_ipc_command(s.ctl, "stats", reply, sizeof reply, TIMEOUT_MS), 0);
	ferry_workload_ipc_field_u64(reply, "writes", &src_writes);
	EXPECT(writes > src_writes); /* write counts continue too */
	EXPECT_EQ_INT(ferry_workload_ipc_command(ctl, "verify", reply, sizeof reply, TIMEOUT_MS), 0);
	EXPECT_EQ_STR(reply, "ok pages=4096");
	EXPECT_EQ_INT(ferry_workload_ipc_command(ctl, "quit", reply, sizeof reply, TIMEOUT_MS), 0);
	close(ctl);
	EXPECT_EQ_INT(wait_exit(dst), 0);
	pump(&l, 50);
	EXPECT(ferry_vm_registry_find(&l.registry, "vm-m") == NULL); /* unregistered on exit */
	ferry_vm_listener_close(&l);
	stop_source(&s);
}

/* Pages 77 and 78 go bad in the copy; `start` comes with the written-pages bitmap `marks` (NULL:
 * none); the workload's answer must be `want`. */
static void start_corrupted_copy(const char *verify_at_start, const uint64_t *marks, const char *want)
{
	char src_ctl[108], dst_ctl[108], agent[108], err[256];
	snprintf(src_ctl, sizeof src_ctl, "/tmp/ferry-test-%d-src.sock", (int)getpid());
	snprintf(dst_ctl, sizeof dst_ctl, "/tmp/ferry-test-%d-dst.sock", (int)getpid());
	snprintf(agent, sizeof agent, "/tmp/ferry-test-%d/agent.sock", (int)getpid());
	struct source s = {.ctl = -1, .at.memfd = -1};
	EXPECT_EQ_INT(start_source(&s, src_ctl), 0);
	struct ferry_vm_listener l;
	EXPECT_EQ_INT(ferry_vm_listener_open(&l, agent, NULL, NULL, err, sizeof err), 0);
	const char *incoming[] = {"--agent-socket", agent, "--vm-id", "vm-m", "--incoming", "--verify-at-start",
				  verify_at_start, NULL};
	pid_t dst = spawn_workload(dst_ctl, incoming);
	struct ferry_vm_entry *e = await_registered(&l, "vm-m");
	EXPECT(e != NULL);
	if (!e || s.at.memfd < 0) {
		kill(dst, SIGKILL);
		stop_source(&s);
		return;
	}
	EXPECT_EQ_INT(copy_memory(&s, e->memfd), 0);
	/* One byte of pages 77 and 78's payload flips in transit. */
	for (off_t page = 77; page <= 78; page++) {
		uint8_t byte;
		off_t at = page * (off_t)FERRY_PAGE_BYTES + 100;
		EXPECT_EQ_INT(pread(e->memfd, &byte, 1, at), 1);
		byte ^= 0x01;
		EXPECT_EQ_INT(pwrite(e->memfd, &byte, 1, at), 1);
	}
	int written = -1;
	if (marks) {
		size_t bytes = ferry_staged_bitmap_bytes(RAM_BYTES / FERRY_PAGE_BYTES);
		written = memfd_create("test-written", MFD_CLOEXEC);
		EXPECT_EQ_INT(pwrite(written, marks, bytes, 0), (int)bytes);
	}
	EXPECT_EQ_INT(ferry_vm_listener_start(&l, "vm-m", 2, s.blob, written, err, sizeof err), 0);
	if (written >= 0)
		close(written);
	EXPECT_EQ_STR(await_start_answer(&l), want);
	EXPECT_EQ_INT(wait_exit(dst), 1); /* it refused to run */
	pump(&l, 50);
	EXPECT(ferry_vm_registry_find(&l.registry, "vm-m") == NULL);
	ferry_vm_listener_close(&l);
	stop_source(&s);
}

FERRY_TEST(incoming_workload_refuses_a_corrupted_copy_naming_the_page)
{
	start_corrupted_copy("written", NULL, "bad page=77 reason=bad_checksum"); /* no bitmap: all of RAM */
}

/* With the agent's bitmap only the marked pages are checked at start (page 77 is the agent's
 * round checks' business); --verify-at-start full checks all of RAM anyway. */
FERRY_TEST(incoming_workload_checks_the_marked_pages_or_all_with_full)
{
	static uint64_t marks[RAM_BYTES / FERRY_PAGE_BYTES / 64];
	ferry_dirty_words_set_range(marks, 78, 1);
	ferry_dirty_words_set_range(marks, 4000, 96);
	start_corrupted_copy("written", marks, "bad page=78 reason=bad_checksum");
	start_corrupted_copy("full", marks, "bad page=77 reason=bad_checksum");
}

FERRY_TEST(page_reader_strategies_read_the_same_pages)
{
	const uint64_t npages = 64;
	int memfd = memfd_create("test-ram", MFD_CLOEXEC);
	EXPECT_EQ_INT(ftruncate(memfd, (off_t)(npages * FERRY_PAGE_BYTES)), 0);
	uint8_t *ram = mmap(NULL, npages * FERRY_PAGE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	for (uint64_t p = 0; p < npages; p++)
		ferry_page_fill(ram + p * FERRY_PAGE_BYTES, p, 1, 9);
	pid_t child = fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	struct ferry_page_reader *map = NULL, *pvm = NULL;
	char err[256];
	EXPECT_EQ_INT(ferry_page_reader_open(FERRY_PAGE_READ_MAPPING, memfd, 0, 0, npages * FERRY_PAGE_BYTES, &map, err,
					     sizeof err), 0);
	EXPECT_EQ_INT(ferry_page_reader_open(FERRY_PAGE_READ_PROCESS_VM, -1, child, (uint64_t)(uintptr_t)ram,
					     npages * FERRY_PAGE_BYTES, &pvm, err, sizeof err), 0);
	/* Runs and singles, out of order. */
	const uint64_t pages[] = {5, 6, 7, 63, 0, 1, 40, 12, 13};
	const size_t n = sizeof pages / sizeof pages[0];
	uint8_t *a = malloc(n * FERRY_PAGE_BYTES), *b = malloc(n * FERRY_PAGE_BYTES);
	EXPECT_EQ_INT(ferry_page_reader_read(map, pages, n, a, err, sizeof err), 0);
	EXPECT_EQ_INT(ferry_page_reader_read(pvm, pages, n, b, err, sizeof err), 0);
	EXPECT(memcmp(a, b, n * FERRY_PAGE_BYTES) == 0);
	for (size_t i = 0; i < n; i++)
		EXPECT_EQ_INT(ferry_page_verify(a + i * FERRY_PAGE_BYTES, pages[i]), FERRY_PAGE_OK);
	const uint64_t past[] = {3, npages};
	EXPECT_EQ_INT(ferry_page_reader_read(pvm, past, 2, b, err, sizeof err), -ERANGE);
	EXPECT(strstr(err, "page 64 is past guest RAM (64 pages)") != NULL);
	EXPECT_EQ_INT(ferry_page_reader_strategy(map), FERRY_PAGE_READ_DEFAULT);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	/* The workload is gone: a clear error, not a crash. */
	EXPECT_EQ_INT(ferry_page_reader_read(pvm, pages, 1, b, err, sizeof err), -ESRCH);
	EXPECT(strstr(err, "process_vm_readv") != NULL);
	ferry_page_reader_close(map);
	ferry_page_reader_close(pvm);
	free(a);
	free(b);
	munmap(ram, npages * FERRY_PAGE_BYTES);
	close(memfd);
}

FERRY_TEST(vcpu_state_blob_round_trips_and_rejects_garbage)
{
	struct ferry_vcpu_state in[3] = {{1, 2, 3, 4}, {UINT64_MAX, 0, 0xabc, 7}, {0x10, 5, 6, 0}}, out[4];
	char blob[FERRY_VCPU_STATE_TEXT_MAX], err[256];
	EXPECT_EQ_INT(ferry_vcpu_state_format(in, 3, blob, sizeof blob), 0);
	EXPECT_EQ_STR(blob, "1.2.3.4,ffffffffffffffff.0.abc.7,10.5.6.0");
	EXPECT_EQ_INT(ferry_vcpu_state_parse(blob, out, 4, err, sizeof err), 3);
	EXPECT(memcmp(in, out, sizeof in) == 0);
	EXPECT_EQ_INT(ferry_vcpu_state_parse("1.2.3.4 next=x", out, 4, err, sizeof err), 1);
	const char *bad[] = {"", "1.2.3", "1.2.3.4,", "1.2.3.4;5.6.7.8", "1.2.3.G", "11111111111111111.2.3.4"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		EXPECT_EQ_INT(ferry_vcpu_state_parse(bad[i], out, 4, err, sizeof err), -EINVAL);
	EXPECT_EQ_INT(ferry_vcpu_state_parse("1.1.1.1,2.2.2.2", out, 1, err, sizeof err), -EINVAL);
	EXPECT(strstr(err, "more than 1 vCPUs") != NULL);
	EXPECT_EQ_INT(ferry_vcpu_state_format(in, 3, blob, 10), -ENOSPC);
}
