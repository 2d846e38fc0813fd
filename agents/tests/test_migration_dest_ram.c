/* The destination's guest-RAM step: the deadline's scaling, the admission check against
 * MemAvailable and the cgroup (a fake cgroup tree for the reader), and, with real agents, a
 * refused PrepareDestination (MEMORY), STREAM_WELCOME only once the RAM is allocated, and a
 * complete migration for each allocation mode. */
#include "migration_dest_ram.h"
#include "migration_harness.h"
#include "test.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define GIB (1ull << 30)

FERRY_TEST(dest_ram_deadline_scales_with_ram)
{
	EXPECT_EQ_U64(ferry_dest_ram_deadline_ms(0), 10000);
	EXPECT_EQ_U64(ferry_dest_ram_deadline_ms(4096), 10001); /* any part of a millisecond counts */
	EXPECT_EQ_U64(ferry_dest_ram_deadline_ms(GIB), 14000);
	EXPECT_EQ_U64(ferry_dest_ram_deadline_ms(GIB + GIB / 2), 16000);
	EXPECT_EQ_U64(ferry_dest_ram_deadline_ms(4 * GIB), 26000);
	EXPECT_EQ_U64(ferry_dest_ram_deadline_ms(1024 * GIB), 10000 + 1024ull * 4000);
	/* No overflow for the largest RAM a StreamHello can name. */
	EXPECT(ferry_dest_ram_deadline_ms(UINT64_MAX) > ferry_dest_ram_deadline_ms(1024 * GIB));
}

FERRY_TEST(dest_ram_admission)
{
	char msg[256];
	struct ferry_host_memory mem = {.available = 8 * GIB, .cgroup_headroom = UINT64_MAX};
	EXPECT_EQ_INT(ferry_dest_ram_admit(8 * GIB, &mem, msg, sizeof msg), 0);
	EXPECT_EQ_INT(ferry_dest_ram_admit(8 * GIB + 4096, &mem, msg, sizeof msg), -ENOSPC);
	EXPECT(strstr(msg, "8192 MiB") && strstr(msg, "MemAvailable"));
	mem.cgroup_headroom = 2 * GIB;
	EXPECT_EQ_INT(ferry_dest_ram_admit(2 * GIB, &mem, msg, sizeof msg), 0);
	EXPECT_EQ_INT(ferry_dest_ram_admit(3 * GIB, &mem, msg, sizeof msg), -ENOSPC);
	EXPECT(strstr(msg, "cgroup") && strstr(msg, "2048 MiB"));
	struct ferry_host_memory unknown = {UINT64_MAX, UINT64_MAX};
	EXPECT_EQ_INT(ferry_dest_ram_admit(1024 * GIB, &unknown, msg, sizeof msg), 0);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	EXPECT(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* mkdir -p of root + rel, each component. */
static void make_dirs(const char *root, const char *rel, char *out, size_t cap)
{
	snprintf(out, cap, "%s", root);
	mkdir(out, 0700);
	for (const char *p = rel; *p;) {
		const char *q = strchr(p + 1, '/');
		size_t n = q ? (size_t)(q - p) : strlen(p);
		size_t len = strlen(out);
		snprintf(out + len, cap - len, "%.*s", (int)n, p);
		mkdir(out, 0700);
		p += n;
	}
}

/* This process's cgroup path for controller ("" = v2) from /proc/self/cgroup; false if none or "/". */
static bool own_cgroup_path(const char *controller, char *out, size_t cap)
{
	char line[1100];
	bool found = false;
	FILE *f = fopen("/proc/self/cgroup", "r");
	while (f && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		char *c = strchr(line, ':'), *path = c ? strchr(c + 1, ':') : NULL;
		if (path && (*path = '\0', strcmp(c + 1, controller) == 0) && strcmp(path + 1, "/") != 0) {
			snprintf(out, cap, "%s", path + 1);
			found = true;
		}
	}
	if (f)
		fclose(f);
	return found;
}

/* A fake cgroup tree at root/sub/<own path>: the leaf 10 GiB limit with 1 GiB used, its parent
 * 4 GiB with 3 GiB used, so 1 GiB binds; then both unlimited (`unlimited`), so nothing does. */
static void check_fake_tree(const char *controller, const char *sub, const char *limit, const char *usage,
			    const char *unlimited)
{
	char rel[1200], root[] = "/tmp/ferry-test-cgroup-XXXXXX", base[128], leaf[2048], parent[2048];
	if (!own_cgroup_path(controller, rel, sizeof rel) || !strchr(rel + 1, '/')) {
		fprintf(stderr, "  skipped cgroup %s: no nested cgroup of this process\n", controller[0] ? "v1" : "v2");
		return;
	}
	EXPECT(mkdtemp(root) != NULL);
	snprintf(base, sizeof base, "%s%s", root, sub);
	make_dirs(base, rel, leaf, sizeof leaf);
	snprintf(parent, sizeof parent, "%s", leaf);
	*strrchr(parent, '/') = '\0';
	write_file(leaf, limit, "10737418240\n");
	write_file(leaf, usage, "1073741824\n");
	write_file(parent, limit, "4294967296\n");
	write_file(parent, usage, "3221225472\n");
	struct ferry_host_memory mem;
	ferry_host_memory_read(&mem, root);
	EXPECT(mem.available > 0 && mem.available != UINT64_MAX);
	EXPECT_EQ_U64(mem.cgroup_headroom, GIB);
	write_file(leaf, limit, unlimited);
	write_file(parent, limit, unlimited);
	ferry_host_memory_read(&mem, root);
	EXPECT_EQ_U64(mem.cgroup_headroom, UINT64_MAX);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	EXPECT_EQ_INT(system(cmd), 0);
}

FERRY_TEST(dest_ram_host_memory_takes_the_tightest_cgroup)
{
	check_fake_tree("", "", "memory.max", "memory.current", "max\n");
	check_fake_tree("memory", "/memory", "memory.limit_in_bytes", "memory.usage_in_bytes",
			"9223372036854771712\n");
}

static Ferry__V1__CommandResult *prepare_destination(struct mh_cluster *c, const char *id, uint64_t ram_bytes)
{
	Ferry__V1__PrepareDestination pd = FERRY__V1__PREPARE_DESTINATION__INIT;
	pd.vm_id = "vm1";
	pd.source_host_id = "src";
	pd.ram_bytes = ram_bytes;
	pd.vcpus = c->vm.vcpus;
	pd.n_launch_args = c->vm.n_launch_args;
	pd.launch_args = c->vm.launch_args;
	pd.token = (ProtobufCBinaryData){5, (uint8_t *)"token"};
	pd.channels = 1;
	Ferry__V1__Command cmd = FERRY__V1__COMMAND__INIT;
	cmd.migration_id = (char *)id;
	cmd.seq = 1;
	cmd.body_case = FERRY__V1__COMMAND__BODY_PREPARE_DESTINATION;
	cmd.prepare_destination = &pd;
	return mh_command(&c->dst, &cmd);
}

FERRY_TEST(dest_ram_prepare_refuses_ram_that_does_not_fit)
{
	struct mh_cluster c;
	EXPECT_EQ_INT(mh_setup(&c, NULL, NULL, "16MiB", "0"), 0);
	Ferry__V1__CommandResult *r = prepare_destination(&c, "too-big", 1ull << 50); /* 1 PiB */
	EXPECT(r && r->error && r->error->code);
	if (r && r->error) {
		EXPECT_EQ_INT(r->error->code, FERRY__V1__ERROR_CODE__ERROR_CODE_MEMORY);
		EXPECT(strstr(r->error->message, "does not fit") != NULL);
	}
	if (r)
		protobuf_c_message_free_unpacked(&r->base, NULL);
	mh_teardown(&c);
}

/* A source of the previous data-stream protocol (one CRC per batch) is refused by name, before
 * any page moves. */
FERRY_TEST(dest_refuses_a_source_of_another_stream_protocol)
{
	struct mh_cluster c;
	EXPECT_EQ_INT(mh_setup(&c, NULL, NULL, "16MiB", "0"), 0);
	Ferry__V1__CommandResult *r = prepare_destination(&c, "mig-old", c.vm.ram_bytes);
	EXPECT_EQ_INT(mh_result_code(r), 0);
	int code = 0;
	char message[256] = "";
	EXPECT_EQ_INT(mh_stream_hello_as(c.dst.data_address, "mig-old", "token", c.vm.ram_bytes, 1, &code, message,
					 sizeof message),
		      FERRY__V1__FRAME_TYPE__FRAME_TYPE_ERROR);
	EXPECT_EQ_INT(code, FERRY__V1__ERROR_CODE__ERROR_CODE_INCOMPATIBLE_VERSION);
	EXPECT(strstr(message, "data-stream protocol 1, this agent speaks 2") != NULL);
	mh_teardown(&c);
}

FERRY_TEST(dest_ram_welcome_only_after_allocation)
{
	/* The allocation thread pauses 3 s after it finished, before it tells the receivers. */
	const char *dst_env[] = {"FERRY_TEST_PAUSE_AT=dest_ram_allocated", "FERRY_TEST_PAUSE_MS=3000", NULL};
	struct mh_cluster c;
	EXPECT_EQ_INT(mh_setup(&c, NULL, dst_env, "16MiB", "0"), 0);
	EXPECT_EQ_INT(mh_result_code(prepare_destination(&c, "mig-welcome", c.vm.ram_bytes)), 0);
	struct test_peer p = {.listen_fd = -1};
	EXPECT_EQ_INT(test_peer_connect(&p, c.dst.data_address, MH_T_MS), 0);
	Ferry__V1__StreamHello h = FERRY__V1__STREAM_HELLO__INIT;
	h.protocol_version = FERRY_STREAM_PROTOCOL_VERSION;
	h.migration_id = "mig-welcome";
	h.token = (ProtobufCBinaryData){5, (uint8_t *)"token"};
	h.channel_index = 0;
	h.channel_count = 1;
	h.page_size = 4096;
	h.ram_bytes = c.vm.ram_bytes;
	test_peer_send(&p, FERRY__V1__FRAME_TYPE__FRAME_TYPE_STREAM_HELLO, &h.base);
	struct ferry_frame f;
	/* Accepted (no ERROR) but not welcomed while the allocation has not ended... */
	EXPECT_EQ_INT(test_peer_read_frame(&p, &f, 1000), -ETIMEDOUT);
	/* ...and welcomed once it has. */
	int got = test_peer_read_frame(&p, &f, MH_T_MS);
	EXPECT_EQ_INT(got, 1);
	if (got == 1) {
		EXPECT_EQ_INT(f.type, FERRY__V1__FRAME_TYPE__FRAME_TYPE_STREAM_WELCOME);
		ferry_frame_release(&f);
	}
	test_peer_close(&p);
	mh_teardown(&c);
}

/* A whole migration with the destination allocating by `mode`: completes, and the destination
 * workload's memory verifies. */
static void migrate_with(const char *mode)
{
	char env[64], reply[512];
	snprintf(env, sizeof env, "FERRY_DEST_ALLOC=%s", mode);
	const char *dst_env[] = {env, "FERRY_DEST_ALLOC_THREADS=2", NULL};
	struct mh_cluster c;
	EXPECT_EQ_INT(mh_setup(&c, NULL, dst_env, "32MiB", "1000"), 0);
	Ferry__V1__MigrationPolicy pol = FERRY__V1__MIGRATION_POLICY__INIT;
	pol.max_downtime_ms = 50;
	pol.max_rounds = 10;
	EXPECT_EQ_INT(mh_begin(&c, "mig-alloc", "alloc-token", &pol), 0);
	Ferry__V1__Progress *pr = mh_final_progress(&c.src);
	EXPECT(pr && pr->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED);
	if (pr)
		protobuf_c_message_free_unpacked(&pr->base, NULL);
	EXPECT_EQ_INT(mh_workload_says(c.incoming, "verify", reply, sizeof reply), 0);
	EXPECT(strncmp(reply, "ok pages=", 9) == 0);
	mh_teardown(&c);
}

FERRY_TEST(dest_ram_migration_completes_with_each_mode)
{
	const char *modes[] = {"populate", "fallocate", "both", "off"};
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		fprintf(stderr, "  FERRY_DEST_ALLOC=%s\n", modes[i]);
		migrate_with(modes[i]);
	}
}
