/* Live-migration test harness; see migration_harness.h. */
#include "migration_harness.h"

#include "net.h"
#include "simdevd_helper.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void bin_path(char *out, size_t cap, const char *name)
{
	char copy[PATH_MAX];
	snprintf(copy, sizeof copy, "%s", getenv("FERRY_AGENT_BIN") ? getenv("FERRY_AGENT_BIN") : "./ferry-agent");
	snprintf(out, cap, "%s/%s", dirname(copy), name);
}

static pid_t spawn(const char *const *argv, const char *const *env)
{
	pid_t pid = fork();
	if (pid == 0) {
		for (size_t i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static const char *attribute(const Ferry__V1__Event *e, const char *key)
{
	for (size_t i = 0; i < e->n_attributes; i++)
		if (strcmp(e->attributes[i]->key, key) == 0)
			return e->attributes[i]->value;
	return "";
}

static void note_device_step(struct mh_host *h, const Ferry__V1__Event *e)
{
	if (strcmp(e->kind, "throttle_changed") == 0 &&
	    h->n_throttle_steps < sizeof h->throttle_steps / sizeof h->throttle_steps[0])
		snprintf(h->throttle_steps[h->n_throttle_steps++], sizeof h->throttle_steps[0], "%s %s %.100s",
			 attribute(e, "throttle_percent"), attribute(e, "reason"), attribute(e, "result"));
	if (strcmp(e->kind, "device_state_changed") != 0 || strcmp(attribute(e, "result"), "ok") != 0 ||
	    h->n_device_steps == sizeof h->device_steps / sizeof h->device_steps[0])
		return;
	snprintf(h->device_steps[h->n_device_steps++], sizeof h->device_steps[0], "%s %s", attribute(e, "device_id"),
		 attribute(e, "state"));
}

/* Next frame of `type` from this host's agent, skipping inventories, heartbeats, progress. */
static ProtobufCMessage *next_of(struct mh_host *h, unsigned type)
{
	for (int i = 0; i < 2000; i++) {
		struct ferry_frame f;
		if (test_peer_read_frame(&h->ferryd, &f, MH_T_MS) != 1)
			return NULL;
		if (f.type == FERRY__V1__FRAME_TYPE__FRAME_TYPE_EVENT)
			note_device_step(h, (const Ferry__V1__Event *)f.msg);
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

/* Starts h's agent and registers it; its first Inventory goes to *first (caller frees) unless NULL. */
static int start_host_inv(struct mh_cluster *c, struct mh_host *h, const char *name, const char *const *env,
			  Ferry__V1__Inventory **first)
{
	char agent[PATH_MAX];
	bin_path(agent, sizeof agent, "ferry-agent");
	if (test_peer_listen(&h->ferryd))
		return -1;
	/* A directory per host, as on two machines: each agent puts its incoming workloads' control
	 * sockets next to its VM socket, so a VM migrating back must not meet its own old socket. */
	snprintf(h->vm_socket, sizeof h->vm_socket, "%s/%s/%s.sock", c->dir, name, name);
	const char *argv[] = {agent, "--coordinator", h->ferryd.address, "--host-id", name, "--data-listen",
			      "127.0.0.1:0", "--vm-socket", h->vm_socket, "--log-level", "info",
			      h->config[0] ? "--config" : NULL, h->config, NULL};
	h->agent = spawn(argv, env);
	if (test_peer_accept(&h->ferryd, MH_T_MS))
		return -1;
	ProtobufCMessage *m = test_peer_expect(&h->ferryd, FERRY__V1__FRAME_TYPE__FRAME_TYPE_HELLO, MH_T_MS);
	if (!m)
		return -1;
	protobuf_c_message_free_unpacked(m, NULL);
	test_peer_send_welcome(&h->ferryd, 1, 60000, 3);
	Ferry__V1__Inventory *inv =
		(Ferry__V1__Inventory *)test_peer_expect(&h->ferryd, FERRY__V1__FRAME_TYPE__FRAME_TYPE_INVENTORY, MH_T_MS);
	if (!inv)
		return -1;
	snprintf(h->data_address, sizeof h->data_address, "%s", inv->data_address);
	if (first)
		*first = inv;
	else
		protobuf_c_message_free_unpacked(&inv->base, NULL);
	return 0;
}

static int start_host(struct mh_cluster *c, struct mh_host *h, const char *name, const char *const *env)
{
	return start_host_inv(c, h, name, env, NULL);
}

/* Inventories from the source until vm1 shows up; copies what a coordinator would keep of it. */
static int await_vm(struct mh_cluster *c)
{
	for (int i = 0; i < 50; i++) {
		Ferry__V1__Inventory *inv =
			(Ferry__V1__Inventory *)next_of(&c->src, FERRY__V1__FRAME_TYPE__FRAME_TYPE_INVENTORY);
		if (!inv)
			return -1;
		int found = inv->n_vms == 1;
		if (found) {
			c->n_vm_devices = 0;
			for (size_t k = 0; k < inv->n_devices; k++)
				if (strcmp(inv->devices[k]->vm_id, "vm1") == 0 && c->n_vm_devices < 16)
					c->vm_devices[c->n_vm_devices++] = inv->devices[k];
			const Ferry__V1__Vm *vm = inv->vms[0];
			c->vm.ram_bytes = vm->ram_bytes;
			c->vm.vcpus = vm->vcpus;
			c->vm.n_launch_args = 0;
			for (size_t k = 0; k < vm->n_launch_args && k < FERRY_VM_LAUNCH_ARGS_MAX; k++) {
				snprintf(c->vm.words[k], sizeof c->vm.words[k], "%s", vm->launch_args[k]);
				c->vm.launch_args[k] = c->vm.words[k];
				c->vm.n_launch_args++;
			}
		}
		if (found) {
			c->src_inventory = inv;
			return 0;
		}
		protobuf_c_message_free_unpacked(&inv->base, NULL);
	}
	return -1;
}

int mh_setup(struct mh_cluster *c, const char *const *src_env, const char *const *dst_env, const char *ram,
	     const char *rate)
{
	return mh_setup_with(c, src_env, dst_env, ram, rate, NULL);
}

/* Writes h's config: its own ferry-simdevd socket, then `devices`. */
static int write_config(struct mh_cluster *c, struct mh_host *h, const char *name, const char *devices)
{
	snprintf(h->config, sizeof h->config, "%s/%s.conf", c->dir, name);
	snprintf(h->sim_socket, sizeof h->sim_socket, "%s/%s-simdevd.sock", c->dir, name);
	FILE *f = fopen(h->config, "w");
	if (!f)
		return -1;
	fprintf(f, "sim_socket = %s\n%s", h->sim_socket, devices);
	return fclose(f) == 0 ? 0 : -1;
}

static int setup(struct mh_cluster *c, const char *const *src_env, const char *const *dst_env, const char *ram,
		 const char *rate, const char *extra, const char *src_devices, const char *dst_devices)
{
	memset(c, 0, sizeof *c);
	snprintf(c->dir, sizeof c->dir, "/tmp/ferry-mig-%d", (int)getpid());
	mkdir(c->dir, 0700);
	if ((src_devices && write_config(c, &c->src, "src", src_devices)) ||
	    (dst_devices && write_config(c, &c->dst, "dst", dst_devices)))
		return -1;
	if (start_host(c, &c->src, "src", src_env) || start_host(c, &c->dst, "dst", dst_env))
		return -1;
	snprintf(c->control, sizeof c->control, "%s/src-vm1.ctl", c->dir);
	snprintf(c->incoming, sizeof c->incoming, "%s/dst/incoming-vm1.sock", c->dir);
	char bin[PATH_MAX];
	bin_path(bin, sizeof bin, "ferry-workload");
	const char *argv[] = {bin, "--control", c->control, "--ram", ram, "--vcpus", "2", "--pattern", "uniform",
			      "--seed", "5", "--dirty-rate", rate, "--agent-socket", c->src.vm_socket, "--vm-id", "vm1",
			      "--log-level", "warning", extra, NULL};
	c->workload = spawn(argv, NULL);
	return await_vm(c);
}

int mh_setup_with(struct mh_cluster *c, const char *const *src_env, const char *const *dst_env, const char *ram,
		  const char *rate, const char *extra)
{
	return setup(c, src_env, dst_env, ram, rate, extra, NULL, NULL);
}

int mh_setup_devices(struct mh_cluster *c, const char *const *src_env, const char *src_devices,
		     const char *dst_devices, const char *ram, const char *rate)
{
	return setup(c, src_env, NULL, ram, rate, NULL, src_devices, dst_devices);
}

int mh_setup_devices_with(struct mh_cluster *c, const char *const *src_env, const char *src_devices,
			  const char *dst_devices, const char *ram, const char *rate, const char *extra)
{
	return setup(c, src_env, NULL, ram, rate, extra, src_devices, dst_devices);
}

static void stop_agent(struct mh_host *h, int sig)
{
	if (h->agent > 0) {
		kill(h->agent, sig);
		waitpid(h->agent, NULL, 0);
		h->agent = 0;
	}
}

void mh_kill_agent(struct mh_host *h)
{
	stop_agent(h, SIGKILL);
}

Ferry__V1__Inventory *mh_restart_agent(struct mh_cluster *c, struct mh_host *h, const char *name)
{
	stop_agent(h, SIGKILL);
	test_peer_close(&h->ferryd);
	Ferry__V1__Inventory *first = NULL;
	if (start_host_inv(c, h, name, NULL, &first))
		return NULL;
	return first;
}

void mh_teardown(struct mh_cluster *c)
{
	char reply[256];
	if (c->workload > 0 && waitpid(c->workload, NULL, WNOHANG) == 0) {
		if (mh_workload_says(c->control, "quit", reply, sizeof reply))
			kill(c->workload, SIGKILL);
		waitpid(c->workload, NULL, 0);
	}
	stop_agent(&c->src, SIGTERM);
	stop_agent(&c->dst, SIGTERM);
	test_peer_close(&c->src.ferryd);
	test_peer_close(&c->dst.ferryd);
	if (c->src.sim_socket[0])
		simdevd_stop_by_socket(c->src.sim_socket, 5000);
	if (c->dst.sim_socket[0])
		simdevd_stop_by_socket(c->dst.sim_socket, 5000);
	if (c->src_inventory)
		protobuf_c_message_free_unpacked(&c->src_inventory->base, NULL);
	c->src_inventory = NULL;
}

Ferry__V1__CommandResult *mh_command(struct mh_host *h, Ferry__V1__Command *cmd)
{
	if (test_peer_send(&h->ferryd, FERRY__V1__FRAME_TYPE__FRAME_TYPE_COMMAND, &cmd->base))
		return NULL;
	return (Ferry__V1__CommandResult *)next_of(h, FERRY__V1__FRAME_TYPE__FRAME_TYPE_COMMAND_RESULT);
}

int mh_result_code(Ferry__V1__CommandResult *r)
{
	if (!r)
		return -1;
	int code = r->error ? (int)r->error->code : 0;
	if (r->error)
		fprintf(stderr, "  command %llu refused: %s\n", (unsigned long long)r->seq, r->error->message);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	return code;
}

int mh_begin(struct mh_cluster *c, const char *id, const char *token, const Ferry__V1__MigrationPolicy *policy)
{
	ProtobufCBinaryData tok = {strlen(token), (uint8_t *)token};
	Ferry__V1__PrepareDestination pd = FERRY__V1__PREPARE_DESTINATION__INIT;
	pd.vm_id = "vm1";
	pd.source_host_id = "src";
	pd.ram_bytes = c->vm.ram_bytes;
	pd.vcpus = c->vm.vcpus;
	pd.n_launch_args = c->vm.n_launch_args;
	pd.launch_args = c->vm.launch_args;
	pd.token = tok;
	pd.channels = c->channels ? c->channels : 2;
	pd.n_devices = c->n_vm_devices;
	pd.devices = c->vm_devices;
	Ferry__V1__Command cmd = FERRY__V1__COMMAND__INIT;
	cmd.migration_id = (char *)id;
	cmd.seq = 1;
	cmd.body_case = FERRY__V1__COMMAND__BODY_PREPARE_DESTINATION;
	cmd.prepare_destination = &pd;
	if (mh_result_code(mh_command(&c->dst, &cmd)))
		return -1;
	Ferry__V1__PrepareSource ps = FERRY__V1__PREPARE_SOURCE__INIT;
	ps.vm_id = "vm1";
	ps.destination_host_id = "dst";
	ps.destination_address = c->dst.data_address;
	ps.token = tok;
	ps.channels = c->channels ? c->channels : 2;
	cmd.body_case = FERRY__V1__COMMAND__BODY_PREPARE_SOURCE;
	cmd.prepare_source = &ps;
	if (mh_result_code(mh_command(&c->src, &cmd)))
		return -1;
	Ferry__V1__StartPrecopy sp = FERRY__V1__START_PRECOPY__INIT;
	sp.policy = (Ferry__V1__MigrationPolicy *)policy;
	cmd.seq = 2;
	cmd.body_case = FERRY__V1__COMMAND__BODY_START_PRECOPY;
	cmd.start_precopy = &sp;
	return mh_result_code(mh_command(&c->src, &cmd)) ? -1 : 0;
}

int mh_abort(struct mh_host *h, const char *id, uint64_t seq)
{
	Ferry__V1__Abort a = FERRY__V1__ABORT__INIT;
	a.reason = "operator abort (test)";
	Ferry__V1__Command cmd = FERRY__V1__COMMAND__INIT;
	cmd.migration_id = (char *)id;
	cmd.seq = seq;
	cmd.body_case = FERRY__V1__COMMAND__BODY_ABORT;
	cmd.abort = &a;
	return mh_result_code(mh_command(h, &cmd));
}

int mh_force_cutover(struct mh_host *h, const char *id, uint64_t seq)
{
	Ferry__V1__ForceCutover f = FERRY__V1__FORCE_CUTOVER__INIT;
	Ferry__V1__Command cmd = FERRY__V1__COMMAND__INIT;
	cmd.migration_id = (char *)id;
	cmd.seq = seq;
	cmd.body_case = FERRY__V1__COMMAND__BODY_FORCE_CUTOVER;
	cmd.force_cutover = &f;
	return mh_result_code(mh_command(h, &cmd));
}

int mh_adjust(struct mh_host *h, const char *id, uint64_t seq, const Ferry__V1__MigrationPolicy *policy)
{
	Ferry__V1__AdjustPolicy a = FERRY__V1__ADJUST_POLICY__INIT;
	a.policy = (Ferry__V1__MigrationPolicy *)policy;
	Ferry__V1__Command cmd = FERRY__V1__COMMAND__INIT;
	cmd.migration_id = (char *)id;
	cmd.seq = seq;
	cmd.body_case = FERRY__V1__COMMAND__BODY_ADJUST_POLICY;
	cmd.adjust_policy = &a;
	return mh_result_code(mh_command(h, &cmd));
}

Ferry__V1__Progress *mh_next_progress_any(struct mh_host *h)
{
	Ferry__V1__Progress *p = (Ferry__V1__Progress *)next_of(h, FERRY__V1__FRAME_TYPE__FRAME_TYPE_PROGRESS);
	if (p)
		fprintf(stderr, "  progress%s round=%u phase=%d sent=%llu dirty=%llu bw=%.1fMiB/s expected_us=%llu%s%s\n",
			p->mid_round ? " (mid-round)" : "", p->round, p->phase, (unsigned long long)p->ram_bytes_sent,
			(unsigned long long)p->pages_dirtied, p->bandwidth_bytes_per_sec / 1048576.0,
			(unsigned long long)p->expected_downtime_us, p->error ? " error=" : "",
			p->error ? p->error->message : "");
	return p;
}

Ferry__V1__Progress *mh_next_progress(struct mh_host *h)
{
	for (;;) {
		Ferry__V1__Progress *p = mh_next_progress_any(h);
		if (!p || !p->mid_round)
			return p;
		h->mid_round_reports++;
		protobuf_c_message_free_unpacked(&p->base, NULL);
	}
}

Ferry__V1__Progress *mh_progress_until(struct mh_host *h, bool (*stop)(const Ferry__V1__Progress *p, void *ctx),
				       void *ctx)
{
	for (;;) {
		Ferry__V1__Progress *p = mh_next_progress_any(h);
		if (!p)
			return NULL;
		h->mid_round_reports += p->mid_round;
		if (stop(p, ctx))
			return p;
		protobuf_c_message_free_unpacked(&p->base, NULL);
	}
}

bool mh_progress_is_final(const Ferry__V1__Progress *p)
{
	return p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED ||
	       p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_ROLLED_BACK ||
	       p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_FAILED;
}

static bool completed_or_rolled_back(const Ferry__V1__Progress *p, void *ctx)
{
	(void)ctx;
	return !p->mid_round && (p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED ||
				 p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_ROLLED_BACK);
}

Ferry__V1__Progress *mh_final_progress(struct mh_host *h)
{
	return mh_progress_until(h, completed_or_rolled_back, NULL);
}

int mh_workload_says(const char *control, const char *cmd, char *reply, size_t cap)
{
	int fd;
	for (int i = 0; i < 200; i++) {
		if (ferry_workload_ipc_connect(control, &fd) == 0) {
			int rc = ferry_workload_ipc_command(fd, cmd, reply, cap, MH_T_MS);
			close(fd);
			return rc;
		}
		usleep(10000);
	}
	return -ENOENT;
}

uint64_t mh_workload_stat_until(const char *control, const char *field, bool (*done)(uint64_t v, void *ctx),
				void *ctx)
{
	char reply[FERRY_WORKLOAD_IPC_LINE_MAX];
	uint64_t got = UINT64_MAX;
	for (int i = 0; i < 500; i++) {
		int fd;
		if (ferry_workload_ipc_connect(control, &fd) != 0)
			break; /* gone: mh_workload_says would retry for nothing */
		int rc = ferry_workload_ipc_command(fd, "stats", reply, sizeof reply, MH_T_MS);
		close(fd);
		if (rc == 0)
			ferry_workload_ipc_field_u64(reply, field, &got);
		if (rc == 0 && done(got, ctx))
			break;
		usleep(10000);
	}
	return got;
}

bool mh_stat_eq(uint64_t v, void *want)
{
	return v == *(const uint64_t *)want;
}

bool mh_stat_gt(uint64_t v, void *than)
{
	return v != UINT64_MAX && v > *(const uint64_t *)than;
}

int mh_workload_gone(const char *control)
{
	for (int i = 0; i < 1000; i++) {
		int fd;
		if (ferry_workload_ipc_connect(control, &fd) != 0)
			return 1;
		close(fd);
		usleep(10000);
	}
	return 0;
}

int mh_source_runs_on(struct mh_cluster *c)
{
	char reply[FERRY_WORKLOAD_IPC_LINE_MAX];
	int bad = 0;
	if (waitpid(c->workload, NULL, WNOHANG) != 0) {
		fprintf(stderr, "  the source workload exited\n");
		return 1;
	}
	uint64_t w1 = 0, zero = 0;
	/* A thaw follows the rollback report closely; give it a bounded moment. */
	uint64_t frozen = mh_workload_stat_until(c->control, "frozen", mh_stat_eq, &zero);
	if (frozen != 0) {
		fprintf(stderr, "  the source workload stays frozen (frozen=%llu)\n", (unsigned long long)frozen);
		bad++;
	}
	if (mh_workload_says(c->control, "verify", reply, sizeof reply) || strncmp(reply, "ok pages=", 9) != 0) {
		fprintf(stderr, "  the source workload's self-check: %s\n", reply);
		bad++;
	}
	mh_workload_says(c->control, "stats", reply, sizeof reply);
	ferry_workload_ipc_field_u64(reply, "writes", &w1);
	if (!mh_stat_gt(mh_workload_stat_until(c->control, "writes", mh_stat_gt, &w1), &w1)) {
		fprintf(stderr, "  the source vCPUs do not write any more (%llu writes)\n", (unsigned long long)w1);
		bad++;
	}
	return bad;
}

int mh_stream_hello(const char *address, const char *id, const char *token, uint64_t ram_bytes, int *code)
{
	return mh_stream_hello_as(address, id, token, ram_bytes, FERRY_STREAM_PROTOCOL_VERSION, code, NULL, 0);
}

int mh_stream_hello_as(const char *address, const char *id, const char *token, uint64_t ram_bytes, uint32_t version,
		       int *code, char *message, size_t cap)
{
	struct test_peer p = {.listen_fd = -1};
	if (test_peer_connect(&p, address, MH_T_MS))
		return -1;
	Ferry__V1__StreamHello h = FERRY__V1__STREAM_HELLO__INIT;
	h.protocol_version = version;
	h.migration_id = (char *)id;
	h.token = (ProtobufCBinaryData){strlen(token), (uint8_t *)token};
	h.channel_index = 0;
	h.channel_count = 2;
	h.page_size = 4096;
	h.ram_bytes = ram_bytes;
	test_peer_send(&p, FERRY__V1__FRAME_TYPE__FRAME_TYPE_STREAM_HELLO, &h.base);
	struct ferry_frame f;
	int type = -1;
	*code = 0;
	if (test_peer_read_frame(&p, &f, MH_T_MS) == 1) {
		type = (int)f.type;
		if (f.type == FERRY__V1__FRAME_TYPE__FRAME_TYPE_ERROR) {
			const Ferry__V1__Error *e = (const Ferry__V1__Error *)f.msg;
			*code = (int)e->code;
			if (message)
				snprintf(message, cap, "%s", e->message);
		}
		ferry_frame_release(&f);
	}
	test_peer_close(&p);
	return type;
}
