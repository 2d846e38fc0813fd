/* Launch arguments: the workload's register line carries them (workload_ipc.h, launch=), the
 * registry splits them for the Inventory, and ferry-workload derives them from its own options so
 * that the words re-create the same configuration. */
#include "test.h"
#include "vm_registry.h"
#include "workload_ipc.h"
#include "workload_options.h"

#include <errno.h>

static struct ferry_vm_registration sample(void)
{
	struct ferry_vm_registration r = {.vcpus = 2, .ram_bytes = 1 << 20, .page_size = 4096, .pid = 42,
					  .incoming = 1};
	snprintf(r.vm_id, sizeof r.vm_id, "vm1");
	snprintf(r.control, sizeof r.control, "/tmp/x.ctl");
	snprintf(r.launch, sizeof r.launch, "--dirty-rate,2000,--pattern,hot:4096KiB,--seed,5");
	return r;
}

FERRY_TEST(launch_args_round_trip_through_the_register_line)
{
	struct ferry_vm_registration r = sample(), back;
	char line[FERRY_WORKLOAD_IPC_LINE_MAX], err[256];
	EXPECT_EQ_INT(ferry_workload_ipc_format_register(&r, line, sizeof line), 0);
	EXPECT(strstr(line, " launch=--dirty-rate,2000,--pattern,hot:4096KiB,--seed,5\n") != NULL);
	line[strlen(line) - 1] = '\0';
	EXPECT_EQ_INT(ferry_workload_ipc_parse_register(line, &back, err, sizeof err), 0);
	EXPECT_EQ_STR(back.launch, r.launch);
	/* Without launch= (an older workload): no launch arguments, still a valid registration. */
	r.launch[0] = '\0';
	EXPECT_EQ_INT(ferry_workload_ipc_format_register(&r, line, sizeof line), 0);
	EXPECT(strstr(line, "launch=") == NULL);
	line[strlen(line) - 1] = '\0';
	EXPECT_EQ_INT(ferry_workload_ipc_parse_register(line, &back, err, sizeof err), 0);
	EXPECT_EQ_STR(back.launch, "");
}

FERRY_TEST(launch_args_malformed_are_refused)
{
	static const char *const bad[] = {",a", "a,", "a,,b", "a b", "a;b", "$(x)",
					  "a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a"}; /* 17 words */
	char line[FERRY_WORKLOAD_IPC_LINE_MAX], err[256];
	struct ferry_vm_registration r = sample(), back;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		EXPECT(!ferry_workload_ipc_launch_valid(bad[i]));
		snprintf(r.launch, sizeof r.launch, "%s", bad[i]);
		EXPECT_EQ_INT(ferry_workload_ipc_format_register(&r, line, sizeof line), -EINVAL);
	}
	EXPECT(ferry_workload_ipc_launch_valid("a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a")); /* 16: the maximum */
	snprintf(line, sizeof line, "register vm=v vcpus=1 ram_bytes=4096 page_size=4096 pid=1 control=/c mode=run "
				    "launch=a,,b");
	EXPECT_EQ_INT(ferry_workload_ipc_parse_register(line, &back, err, sizeof err), -EINVAL);
	EXPECT(strstr(err, "launch=") != NULL);
}

FERRY_TEST(launch_args_registry_splits_them_for_the_inventory)
{
	static struct ferry_vm_registry reg;
	char err[256];
	ferry_vm_registry_init(&reg);
	struct ferry_vm_registration r = sample();
	EXPECT_EQ_INT(ferry_vm_registry_add(&reg, &r, -1, -1, 7, err, sizeof err), 0);
	const struct ferry_vm_entry *e = ferry_vm_registry_find(&reg, "vm1");
	EXPECT(e != NULL);
	if (e) {
		EXPECT_EQ_INT((int)e->n_launch_args, 6);
		EXPECT_EQ_STR(e->launch_args[0], "--dirty-rate");
		EXPECT_EQ_STR(e->launch_args[3], "hot:4096KiB");
		EXPECT_EQ_STR(e->launch_args[5], "5");
	}
	ferry_vm_registry_clear(&reg);
}

FERRY_TEST(launch_args_recreate_the_workload_configuration)
{
	char *argv[] = {"ferry-workload", "--control", "/c", "--ram", "8MiB", "--vcpus", "3", "--dirty-rate",
			"20MiB/s", "--pattern", "hot:2", "--seed", "77", "--thp", NULL};
	struct ferry_workload_options a, b;
	char err[256], launch[FERRY_VM_LAUNCH_TEXT_MAX];
	EXPECT_EQ_INT(ferry_workload_options_parse(14, argv, &a, err, sizeof err), 0);
	EXPECT_EQ_INT(ferry_workload_options_launch(&a.config, launch, sizeof launch), 0);
	EXPECT(ferry_workload_ipc_launch_valid(launch));
	/* The destination's command line: its own identity and memory, the source's launch words. */
	char *words[FERRY_VM_LAUNCH_ARGS_MAX];
	size_t n = ferry_workload_ipc_launch_split(launch, words, FERRY_VM_LAUNCH_ARGS_MAX);
	char *argv2[32] = {"ferry-workload", "--control", "/d", "--ram", "8MiB", "--vcpus", "3"};
	int argc2 = 7;
	for (size_t i = 0; i < n; i++)
		argv2[argc2++] = words[i];
	EXPECT_EQ_INT(ferry_workload_options_parse(argc2, argv2, &b, err, sizeof err), 0);
	EXPECT_EQ_U64(b.config.dirty_rate_pages, a.config.dirty_rate_pages);
	EXPECT_EQ_INT((int)b.config.pattern, (int)a.config.pattern);
	EXPECT_EQ_U64(b.config.hot_bytes, a.config.hot_bytes);
	EXPECT_EQ_U64(b.config.seed, 77);
	EXPECT_EQ_INT(b.config.thp, 1);
	/* A tiny buffer is refused rather than cut. */
	EXPECT_EQ_INT(ferry_workload_options_launch(&a.config, launch, 8), -ENOSPC);
}
