/* Live migration end to end on loopback: two real ferry-agent processes (source, destination),
 * each registered with a scripted ferryd (test_peer.h) that this driver plays; a real source
 * ferry-workload dirtying 64 MiB. Checks: the migration completes with a reported downtime, the
 * destination workload's memory self-check passes and it runs on, the source workload is gone
 * only after the confirm, a repeated command gets its recorded result, a wrong token is refused
 * while the agent keeps serving, and a corrupted batch rolls back with the source still running. */
#include "ferry.pb-c.h"
#include "net.h"
#include "test.h"
#include "test_peer.h"
#include "workload_ipc.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define T_MS 20000
#define RAM "64MiB"
#define RAM_BYTES (64ull << 20)
#define WORKLOAD_SHAPE "--vcpus 2 --pattern uniform --seed 5"

struct host {
	struct test_peer ferryd;
	pid_t agent;
	char data_address[64];
	char vm_socket[108];
};

static char dir[64];

static void bin_path(char *out, size_t cap, const char *name)
{
	char copy[PATH_MAX];
	snprintf(copy, sizeof copy, "%s", getenv("FERRY_AGENT_BIN") ? getenv("FERRY_AGENT_BIN") : "./ferry-agent");
	snprintf(out, cap, "%s/%s", dirname(copy), name);
}

static pid_t spawn(const char *const *argv, const char *env_name, const char *env_value)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (env_name)
			setenv(env_name, env_value, 1);
		setenv("FERRY_INCOMING_WORKLOAD_ARGS", WORKLOAD_SHAPE " --dirty-rate 2000 --log-level warning", 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/* Next frame of `type` from this host's agent, skipping inventories, heartbeats, progress. */
static ProtobufCMessage *next_of(struct host *h, unsigned type)
{
	for (int i = 0; i < 2000; i++) {
		struct ferry_frame f;
		if (test_peer_read_frame(&h->ferryd, &f, T_MS) != 1)
			return NULL;
		if (f.type == type) {
			ProtobufCMessage *m = f.msg;
			f.msg = NULL;
			ferry_frame_release(&f);
			return m;
		}
		ferry_frame_release(&f);
	}
	return NULL;
}

/* Progress frames until one in a final phase; returns it (caller frees). */
static Ferry__V1__Progress *final_progress(struct host *h)
{
	for (;;) {
		Ferry__V1__Progress *p = (Ferry__V1__Progress *)next_of(h, FERRY__V1__FRAME_TYPE__FRAME_TYPE_PROGRESS);
		if (!p)
			return NULL;
		if (p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED ||
		    p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_ROLLED_BACK)
			return p;
		fprintf(stderr, "  progress round=%u phase=%d sent=%llu dirty=%llu bw=%.1fMiB/s expected_us=%llu\n",
			p->round, p->phase, (unsigned long long)p->ram_bytes_sent, (unsigned long long)p->pages_dirtied,
			p->bandwidth_bytes_per_sec / 1048576.0, (unsigned long long)p->expected_downtime_us);
		protobuf_c_message_free_unpacked(&p->base, NULL);
	}
}

static int start_host(struct host *h, const char *name, const char *fault)
{
	char agent[PATH_MAX];
	bin_path(agent, sizeof agent, "ferry-agent");
	if (test_peer_listen(&h->ferryd))
		return -1;
	snprintf(h->vm_socket, sizeof h->vm_socket, "%s/%s.sock", dir, name);
	const char *argv[] = {agent, "--coordinator", h->ferryd.address, "--host-id", name, "--data-listen",
			      "127.0.0.1:0", "--vm-socket", h->vm_socket, "--log-level", "info", NULL};
	h->agent = spawn(argv, fault ? "FERRY_TEST_CORRUPT_BATCH" : NULL, fault);
	if (test_peer_accept(&h->ferryd, T_MS))
		return -1;
	ProtobufCMessage *m = test_peer_expect(&h->ferryd, FERRY__V1__FRAME_TYPE__FRAME_TYPE_HELLO, T_MS);
	if (!m)
		return -1;
	protobuf_c_message_free_unpacked(m, NULL);
	test_peer_send_welcome(&h->ferryd, 1, 60000, 3);
	Ferry__V1__Inventory *inv =
		(Ferry__V1__Inventory *)test_peer_expect(&h->ferryd, FERRY__V1__FRAME_TYPE__FRAME_TYPE_INVENTORY, T_MS);
	if (!inv)
		return -1;
	snprintf(h->data_address, sizeof h->data_address, "%s", inv->data_address);
	protobuf_c_message_free_unpacked(&inv->base, NULL);
	return 0;
}

static void stop_host(struct host *h)
{
	if (h->agent > 0) {
		kill(h->agent, SIGTERM);
		waitpid(h->agent, NULL, 0);
	}
	test_peer_close(&h->ferryd);
}

static pid_t start_source_workload(const char *control, const char *vm_socket, const char *vm_id)
{
	char bin[PATH_MAX];
	bin_path(bin, sizeof bin, "ferry-workload");
	const char *argv[] = {bin, "--control", control, "--ram", RAM, "--vcpus", "2", "--pattern", "uniform", "--seed",
			      "5", "--dirty-rate", "2000", "--agent-socket", vm_socket, "--vm-id", vm_id,
			      "--log-level", "warning", NULL};
	return spawn(argv, NULL, NULL);
}

/* Sends a command and returns its result (caller frees), NULL on timeout. */
static Ferry__V1__CommandResult *command(struct host *h, Ferry__V1__Command *c)
{
	if (test_peer_send(&h->ferryd, FERRY__V1__FRAME_TYPE__FRAME_TYPE_COMMAND, &c->base))
		return NULL;
	return (Ferry__V1__CommandResult *)next_of(h, FERRY__V1__FRAME_TYPE__FRAME_TYPE_COMMAND_RESULT);
}

static int result_code(Ferry__V1__CommandResult *r)
{
	return !r ? -1 : (r->error ? (int)r->error->code : 0);
}

static int workload_says(const char *control, const char *cmd, char *reply, size_t cap)
{
	int fd;
	for (int i = 0; i < 200; i++) {
		if (ferry_workload_ipc_connect(control, &fd) == 0) {
			int rc = ferry_workload_ipc_command(fd, cmd, reply, cap, T_MS);
			close(fd);
			return rc;
		}
		usleep(10000);
	}
	return -ENOENT;
}

/* Prepares both sides of migration `id` and starts pre-copy. Returns 0 when all were accepted. */
static int begin(struct host *src, struct host *dst, const char *id, uint8_t *token, size_t token_len)
{
	Ferry__V1__PrepareDestination pd = FERRY__V1__PREPARE_DESTINATION__INIT;
	pd.vm_id = "vm1";
	pd.source_host_id = "src";
	pd.ram_bytes = RAM_BYTES;
	pd.token = (ProtobufCBinaryData){token_len, token};
	pd.channels = 2;
	Ferry__V1__Command c = FERRY__V1__COMMAND__INIT;
	c.migration_id = (char *)id;
	c.seq = 1;
	c.body_case = FERRY__V1__COMMAND__BODY_PREPARE_DESTINATION;
	c.prepare_destination = &pd;
	Ferry__V1__CommandResult *r = command(dst, &c);
	int code = result_code(r);
	if (r)
		protobuf_c_message_free_unpacked(&r->base, NULL);
	if (code)
		return fprintf(stderr, "  PrepareDestination: %d\n", code), -1;
	Ferry__V1__PrepareSource ps = FERRY__V1__PREPARE_SOURCE__INIT;
	ps.vm_id = "vm1";
	ps.destination_host_id = "dst";
	ps.destination_address = dst->data_address;
	ps.token = (ProtobufCBinaryData){token_len, token};
	ps.channels = 2;
	c.body_case = FERRY__V1__COMMAND__BODY_PREPARE_SOURCE;
	c.prepare_source = &ps;
	r = command(src, &c);
	code = result_code(r);
	if (r) {
		if (r->error)
			fprintf(stderr, "  PrepareSource: %s\n", r->error->message);
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}
	if (code)
		return -1;
	Ferry__V1__MigrationPolicy pol = FERRY__V1__MIGRATION_POLICY__INIT;
	pol.max_downtime_ms = 50;
	pol.max_rounds = 10;
	Ferry__V1__StartPrecopy sp = FERRY__V1__START_PRECOPY__INIT;
	sp.policy = &pol;
	c.seq = 2;
	c.body_case = FERRY__V1__COMMAND__BODY_START_PRECOPY;
	c.start_precopy = &sp;
	r = command(src, &c);
	code = result_code(r);
	if (r)
		protobuf_c_message_free_unpacked(&r->base, NULL);
	return code ? -1 : 0;
}

static int setup(struct host *src, struct host *dst, const char *fault)
{
	snprintf(dir, sizeof dir, "/tmp/ferry-mig-%d", (int)getpid());
	mkdir(dir, 0700);
	if (start_host(src, "src", fault) || start_host(dst, "dst", NULL))
		return -1;
	return 0;
}

FERRY_TEST(migration_live_completes_and_destination_runs)
{
	struct host src = {0}, dst = {0};
	EXPECT_EQ_INT(setup(&src, &dst, NULL), 0);
	char control[128], incoming[128], reply[8192];
	snprintf(control, sizeof control, "%s/src-vm1.ctl", dir);
	snprintf(incoming, sizeof incoming, "%s/incoming-vm1.sock", dir);
	pid_t wl = start_source_workload(control, src.vm_socket, "vm1");
	/* The VM shows up in the source's inventory. */
	Ferry__V1__Inventory *inv = NULL;
	for (int i = 0; i < 20; i++) {
		inv = (Ferry__V1__Inventory *)next_of(&src, FERRY__V1__FRAME_TYPE__FRAME_TYPE_INVENTORY);
		if (!inv || inv->n_vms == 1)
			break;
		protobuf_c_message_free_unpacked(&inv->base, NULL);
	}
	EXPECT(inv && inv->n_vms == 1);
	if (inv)
		protobuf_c_message_free_unpacked(&inv->base, NULL);

	uint8_t token[] = "secret-token-1";
	EXPECT_EQ_INT(begin(&src, &dst, "mig-1", token, sizeof token - 1), 0);

	/* A wrong token on the destination's data listener: BAD_TOKEN, the agent keeps serving. */
	struct test_peer rogue = {.listen_fd = -1};
	EXPECT_EQ_INT(test_peer_connect(&rogue, dst.data_address, T_MS), 0);
	Ferry__V1__StreamHello h = FERRY__V1__STREAM_HELLO__INIT;
	h.protocol_version = 1;
	h.migration_id = "mig-1";
	h.token = (ProtobufCBinaryData){5, (uint8_t *)"wrong"};
	h.channel_count = 2;
	h.page_size = 4096;
	h.ram_bytes = RAM_BYTES;
	test_peer_send(&rogue, FERRY__V1__FRAME_TYPE__FRAME_TYPE_STREAM_HELLO, &h.base);
	Ferry__V1__Error *e = (Ferry__V1__Error *)test_peer_expect(&rogue, FERRY__V1__FRAME_TYPE__FRAME_TYPE_ERROR, T_MS);
	EXPECT(e && e->code == FERRY__V1__ERROR_CODE__ERROR_CODE_BAD_TOKEN);
	if (e)
		protobuf_c_message_free_unpacked(&e->base, NULL);
	test_peer_close(&rogue);

	Ferry__V1__Progress *p = final_progress(&src);
	EXPECT(p && p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED);
	if (p) {
		fprintf(stderr, "  source: rounds=%u ram_bytes_sent=%llu downtime_us=%llu error=%s\n", p->round + 1,
			(unsigned long long)p->ram_bytes_sent, (unsigned long long)p->actual_downtime_us,
			p->error ? p->error->message : "-");
		EXPECT(p->actual_downtime_us > 0);
		protobuf_c_message_free_unpacked(&p->base, NULL);
	}
	Ferry__V1__Progress *q = final_progress(&dst);
	EXPECT(q && q->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED);
	if (q)
		protobuf_c_message_free_unpacked(&q->base, NULL);

	/* The source workload was released (quit, exit 0) after the confirm. */
	int status = -1;
	for (int i = 0; i < 500 && waitpid(wl, &status, WNOHANG) != wl; i++)
		usleep(10000);
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* The destination runs on from the source's state and its memory verifies. */
	EXPECT_EQ_INT(workload_says(incoming, "verify", reply, sizeof reply), 0);
	EXPECT(strncmp(reply, "ok pages=", 9) == 0);
	fprintf(stderr, "  destination verify: %s\n", reply);
	uint64_t w1 = 0, w2 = 0;
	workload_says(incoming, "stats", reply, sizeof reply);
	ferry_workload_ipc_field_u64(reply, "writes", &w1);
	usleep(200000);
	workload_says(incoming, "stats", reply, sizeof reply);
	ferry_workload_ipc_field_u64(reply, "writes", &w2);
	EXPECT(w2 > w1);

	/* A repeated command returns the recorded result (StartPrecopy seq 2 succeeded then). */
	Ferry__V1__StartPrecopy sp = FERRY__V1__START_PRECOPY__INIT;
	Ferry__V1__Command c = FERRY__V1__COMMAND__INIT;
	c.migration_id = "mig-1";
	c.seq = 2;
	c.body_case = FERRY__V1__COMMAND__BODY_START_PRECOPY;
	c.start_precopy = &sp;
	Ferry__V1__CommandResult *r = command(&src, &c);
	EXPECT_EQ_INT(result_code(r), 0);
	if (r)
		protobuf_c_message_free_unpacked(&r->base, NULL);
	c.seq = 3; /* the same command as new: refused, the migration is over */
	r = command(&src, &c);
	EXPECT_EQ_INT(result_code(r), FERRY__V1__ERROR_CODE__ERROR_CODE_UNEXPECTED_MESSAGE);
	if (r)
		protobuf_c_message_free_unpacked(&r->base, NULL);

	workload_says(incoming, "quit", reply, sizeof reply);
	stop_host(&src);
	stop_host(&dst);
}

FERRY_TEST(migration_live_corrupted_batch_rolls_back)
{
	struct host src = {0}, dst = {0};
	EXPECT_EQ_INT(setup(&src, &dst, "3"), 0);
	char control[128], reply[8192];
	snprintf(control, sizeof control, "%s/src-vm1.ctl", dir);
	pid_t wl = start_source_workload(control, src.vm_socket, "vm1");
	for (int i = 0; i < 20; i++) {
		Ferry__V1__Inventory *inv =
			(Ferry__V1__Inventory *)next_of(&src, FERRY__V1__FRAME_TYPE__FRAME_TYPE_INVENTORY);
		int n = inv ? (int)inv->n_vms : 1;
		if (inv)
			protobuf_c_message_free_unpacked(&inv->base, NULL);
		if (n == 1)
			break;
	}
	uint8_t token[] = "secret-token-2";
	EXPECT_EQ_INT(begin(&src, &dst, "mig-2", token, sizeof token - 1), 0);
	Ferry__V1__Progress *p = final_progress(&src);
	EXPECT(p && p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_ROLLED_BACK);
	EXPECT(p && p->error && p->error->code == FERRY__V1__ERROR_CODE__ERROR_CODE_CHECKSUM);
	if (p) {
		fprintf(stderr, "  source rolled back: %s\n", p->error ? p->error->message : "-");
		protobuf_c_message_free_unpacked(&p->base, NULL);
	}
	Ferry__V1__Progress *q = final_progress(&dst);
	EXPECT(q && q->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_ROLLED_BACK);
	if (q)
		protobuf_c_message_free_unpacked(&q->base, NULL);
	/* The source VM still runs here and its memory verifies. */
	EXPECT_EQ_INT(waitpid(wl, NULL, WNOHANG), 0);
	EXPECT_EQ_INT(workload_says(control, "verify", reply, sizeof reply), 0);
	EXPECT(strncmp(reply, "ok pages=", 9) == 0);
	workload_says(control, "stats", reply, sizeof reply);
	EXPECT(strstr(reply, "frozen=0") != NULL);
	workload_says(control, "quit", reply, sizeof reply);
	waitpid(wl, NULL, 0);
	stop_host(&src);
	stop_host(&dst);
}
