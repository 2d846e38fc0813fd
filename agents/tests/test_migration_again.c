/* A VM that arrived by live migration is an ordinary VM of its new host: the new host's Inventory
 * lists it as running, and it migrates on. Two real agents (migration_harness.h) move one real
 * workload A -> B, then B -> A: both migrations complete, each destination's memory self-check
 * passes and its vCPUs run on, and each source workload is gone after its confirm. The second
 * source tracks dirty pages with the userfaultfd the incoming workload handed over when it
 * registered on B, and B's agent, which started that workload, reaps it once it has left. */
#include "migration_harness.h"
#include "migration_source.h"
#include "test.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define RAM "32MiB"

static Ferry__V1__MigrationPolicy converging(void)
{
	Ferry__V1__MigrationPolicy pol = FERRY__V1__MIGRATION_POLICY__INIT;
	pol.max_downtime_ms = 50;
	pol.max_rounds = 10;
	return pol;
}

/* Frames from the destination until its final Progress; whether an Inventory on the way listed
 * vm1 as running. *completed: that Progress said COMPLETED. */
static int dst_reports_vm_running(struct mh_host *dst, int *completed)
{
	int running = 0;
	*completed = 0;
	for (int i = 0; i < 2000; i++) {
		struct ferry_frame f;
		if (test_peer_read_frame(&dst->ferryd, &f, MH_T_MS) != 1)
			break;
		if (f.type == FERRY__V1__FRAME_TYPE__FRAME_TYPE_INVENTORY) {
			const Ferry__V1__Inventory *inv = (const Ferry__V1__Inventory *)f.msg;
			for (size_t k = 0; k < inv->n_vms; k++)
				if (strcmp(inv->vms[k]->vm_id, "vm1") == 0 &&
				    inv->vms[k]->state == FERRY__V1__VM_STATE__VM_STATE_RUNNING)
					running = 1;
		}
		int final = 0;
		if (f.type == FERRY__V1__FRAME_TYPE__FRAME_TYPE_PROGRESS) {
			const Ferry__V1__Progress *p = (const Ferry__V1__Progress *)f.msg;
			*completed = p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED;
			final = *completed || p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_ROLLED_BACK ||
				p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_FAILED;
		}
		ferry_frame_release(&f);
		if (final)
			break;
	}
	return running;
}

/* The workload at `control` passes its memory self-check and its vCPUs keep writing. */
static void expect_runs(const char *control)
{
	char reply[8192];
	EXPECT_EQ_INT(mh_workload_says(control, "verify", reply, sizeof reply), 0);
	EXPECT(strncmp(reply, "ok pages=", 9) == 0);
	uint64_t w1 = 0;
	mh_workload_says(control, "stats", reply, sizeof reply);
	EXPECT(strncmp(reply, "ok frozen=0 ", 12) == 0);
	ferry_workload_ipc_field_u64(reply, "writes", &w1);
	EXPECT(mh_stat_gt(mh_workload_stat_until(control, "writes", mh_stat_gt, &w1), &w1));
}

/* mh_progress_until: stops at the final report; meanwhile the most pages round 0's reports found
 * dirty go to *(uint64_t *)dirtied. */
static bool final_noting_round0_dirt(const Ferry__V1__Progress *p, void *dirtied)
{
	uint64_t *d = dirtied;
	if (!p->mid_round && p->round == 0 && p->pages_dirtied > *d)
		*d = p->pages_dirtied;
	return !p->mid_round && mh_progress_is_final(p);
}

/* One migration of vm1 from c->src to c->dst, both sides completing. */
static void migrate(struct mh_cluster *c, const char *id, const char *token, int *dst_listed_running)
{
	Ferry__V1__MigrationPolicy pol = converging();
	EXPECT_EQ_INT(mh_begin(c, id, token, &pol), 0);
	/* The source's rounds until its final report: the vCPUs write all along, so a working dirty
	 * tracker finds pages dirtied during round 0 (sending all of RAM). */
	uint64_t dirtied = 0;
	Ferry__V1__Progress *p = mh_progress_until(&c->src, final_noting_round0_dirt, &dirtied);
	EXPECT(p && p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED);
	EXPECT(dirtied > 0);
	if (p) {
		fprintf(stderr, "  %s: rounds=%u ram_bytes_sent=%llu round0_dirty_pages=%llu downtime_us=%llu\n", id,
			p->round + 1, (unsigned long long)p->ram_bytes_sent, (unsigned long long)dirtied,
			(unsigned long long)p->actual_downtime_us);
		if (p->error)
			fprintf(stderr, "  %s: source error: %s\n", id, p->error->message);
		protobuf_c_message_free_unpacked(&p->base, NULL);
	}
	int completed = 0;
	*dst_listed_running = dst_reports_vm_running(&c->dst, &completed);
	EXPECT(completed);
}

FERRY_TEST(migration_again_a_migrated_vm_migrates_back)
{
	struct mh_cluster c;
	char reply[256], on_b[128], on_a[128];
	EXPECT_EQ_INT(mh_setup(&c, NULL, NULL, RAM, "2000"), 0);

	/* A -> B. */
	int listed = 0;
	migrate(&c, "mig-a", "token-a", &listed);
	EXPECT(listed); /* B's Inventory: vm1 runs there now */
	int status = -1;
	for (int i = 0; i < 500 && waitpid(c.workload, &status, WNOHANG) != c.workload; i++)
		usleep(10000);
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	c.workload = 0;
	snprintf(on_b, sizeof on_b, "%s", c.incoming);
	expect_runs(on_b);

	/* B -> A: the hosts swap roles; A starts its incoming workload next to its own VM socket. */
	struct mh_host a = c.src;
	c.src = c.dst;
	c.dst = a;
	snprintf(on_a, sizeof on_a, "%s/src/incoming-vm1.sock", c.dir);
	snprintf(c.incoming, sizeof c.incoming, "%s", on_a);
	uint64_t b_pid = 0; /* B's workload: B's agent started it, so B's agent must reap it */
	EXPECT_EQ_INT(mh_workload_says(on_b, "attach", reply, sizeof reply), 0);
	EXPECT_EQ_INT(ferry_workload_ipc_field_u64(reply, "pid", &b_pid), 0);
	migrate(&c, "mig-b", "token-b", &listed);
	EXPECT(listed);
	EXPECT(mh_workload_gone(on_b)); /* B released its copy after A's confirm */
	/* ... and reaped it: a zombie would still answer kill(pid, 0). */
	int alive = b_pid > 0;
	for (int i = 0; i < 500 && alive; i++) {
		alive = kill((pid_t)b_pid, 0) == 0;
		if (alive)
			usleep(10000);
	}
	EXPECT(b_pid > 0 && !alive);
	expect_runs(on_a);

	mh_workload_says(on_a, "quit", reply, sizeof reply);
	EXPECT(mh_workload_gone(on_a));
	mh_teardown(&c);
}

/* PrepareSource's own refusals: a VM still arriving (not started) and one without a userfaultfd. */
FERRY_TEST(migration_again_prepare_source_refuses_an_unstarted_incoming_vm)
{
	struct ferry_vm_entry e = {.used = true, .memfd = -1, .uffd = -1};
	snprintf(e.reg.vm_id, sizeof e.reg.vm_id, "vm-in");
	e.reg.incoming = 1;
	e.reg.ram_bytes = 1u << 20;
	char err[256] = "";
	struct ferry_migration m = {0};
	EXPECT_EQ_INT(ferry_migration_source_prepare(&m, &e, "127.0.0.1:1", err, sizeof err), -EINVAL);
	EXPECT_EQ_STR(err, "VM vm-in is still arriving here (incoming, not started yet)");
	e.started = true; /* started, but (here) nothing to track it with */
	EXPECT_EQ_INT(ferry_migration_source_prepare(&m, &e, "127.0.0.1:1", err, sizeof err), -EINVAL);
	EXPECT_EQ_STR(err, "VM vm-in has no userfaultfd for dirty tracking");
	EXPECT(m.src == NULL);
}

/* A migration that rolled back leaves the VM migratable: the next attempt from the same host
 * tracks dirty pages again and completes. */
FERRY_TEST(migration_again_after_a_rollback)
{
	struct mh_cluster c;
	char reply[256];
	EXPECT_EQ_INT(mh_setup(&c, NULL, NULL, RAM, "2000"), 0);
	Ferry__V1__MigrationPolicy slow = converging();
	slow.bandwidth_bytes_per_sec = 4u << 20; /* round 0 takes ~8 s: the abort lands in it */
	EXPECT_EQ_INT(mh_begin(&c, "mig-1", "token-1", &slow), 0);
	usleep(300000); /* most likely inside round 0 by now; the checks below hold wherever it lands */
	/* As a coordinator does: abort both sides. */
	EXPECT_EQ_INT(mh_abort(&c.src, "mig-1", 3), 0);
	EXPECT_EQ_INT(mh_abort(&c.dst, "mig-1", 2), 0);
	Ferry__V1__Progress *p = mh_final_progress(&c.src);
	EXPECT(p && p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_ROLLED_BACK);
	if (p)
		protobuf_c_message_free_unpacked(&p->base, NULL);
	Ferry__V1__Progress *q = mh_final_progress(&c.dst);
	EXPECT(q && q->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_ROLLED_BACK);
	if (q)
		protobuf_c_message_free_unpacked(&q->base, NULL);
	EXPECT(mh_workload_gone(c.incoming));
	EXPECT_EQ_INT(mh_source_runs_on(&c), 0);

	int listed = 0;
	migrate(&c, "mig-2", "token-2", &listed);
	EXPECT(listed);
	expect_runs(c.incoming);
	mh_workload_says(c.incoming, "quit", reply, sizeof reply);
	mh_teardown(&c);
}
